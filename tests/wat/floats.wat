;; Floats are allowed: returns the bits of 0/0 as f32, which must be the canonical NaN.
(module (import "env" "return_data" (func $r (param i32 i32))) (memory (export "memory") 1)
  (func (export "call") (i32.store (i32.const 0) (i32.reinterpret_f32 (f32.div (f32.const 0) (f32.const 0))))
    (call $r (i32.const 0) (i32.const 4))))
