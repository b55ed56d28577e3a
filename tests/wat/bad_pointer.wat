;; Hostile: hands the host a pointer outside its memory.
(module (import "env" "storage_write" (func $w (param i32 i32 i32 i32))) (memory (export "memory") 1)
  (func (export "call") (call $w (i32.const 65535) (i32.const 64) (i32.const -16) (i32.const 32))))
