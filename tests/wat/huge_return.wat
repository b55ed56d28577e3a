;; Hostile: returns more data than allowed.
(module (import "env" "return_data" (func $r (param i32 i32))) (memory (export "memory") 1)
  (func (export "call") (call $r (i32.const 0) (i32.const 200000))))
