;; Calls itself and opts in to re-entrancy (exports strata_reentrant); the depth limit ends the recursion.
(module
  (import "env" "call" (func $call (param i32 i32 i32 i32 i64) (result i32)))
  (import "env" "self_address" (func $me (param i32)))
  (import "env" "return_data" (func $r (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "strata_reentrant"))
  (func (export "call")
    (call $me (i32.const 0))
    (i32.store (i32.const 100) (call $call (i32.const 0) (i32.const 200) (i32.const 300) (i32.const 0) (i64.const 0)))
    (call $r (i32.const 100) (i32.const 4))))
