;; Hostile: recurses `n` times with large frames (n: the first 4 input bytes, little
;; endian), then calls the contract whose address follows (bytes 4..24) with the rest
;; of the input, so a chain of such contracts uses nearly the whole Wasm stack of
;; every frame of a deep call chain. Returns the callee's status as a byte.
(module
  (import "env" "input_size" (func $input_size (result i32)))
  (import "env" "input_read" (func $input_read (param i32)))
  (import "env" "call" (func $call (param i32 i32 i32 i32 i64) (result i32)))
  (import "env" "return_data" (func $return_data (param i32 i32)))
  (memory (export "memory") 2)
  ;; 0..32: zero value; 64..: input
  (func $next (result i32)
    (local $len i32)
    (local.set $len (call $input_size))
    (if (result i32) (i32.lt_u (local.get $len) (i32.const 24))
      (then (i32.const 0))
      (else (call $call (i32.const 68) (i32.const 0) (i32.const 88) (i32.sub (local.get $len) (i32.const 24)) (i64.const 0)))))
  (func $burn (param $n i32) (result i32)
    (local $a i64) (local $b i64) (local $c i64) (local $d i64) (local $e i64) (local $f i64) (local $g i64) (local $h i64)
    (local.set $a (i64.extend_i32_u (local.get $n)))
    (local.set $b (i64.mul (local.get $a) (i64.const 3)))
    (local.set $c (i64.add (local.get $b) (local.get $a)))
    (local.set $d (i64.xor (local.get $c) (local.get $b)))
    (local.set $e (i64.add (local.get $d) (local.get $c)))
    (local.set $f (i64.mul (local.get $e) (local.get $d)))
    (local.set $g (i64.sub (local.get $f) (local.get $e)))
    (local.set $h (i64.add (local.get $g) (local.get $f)))
    (if (result i32) (i32.eqz (local.get $n))
      (then (call $next))
      (else
        (i32.add
          (call $burn (i32.sub (local.get $n) (i32.const 1)))
          (i32.wrap_i64 (i64.and (i64.add (local.get $h) (local.get $a)) (i64.const 0)))))))
  (func (export "call")
    (call $input_read (i32.const 64))
    (i32.store8 (i32.const 1000) (call $burn (i32.load (i32.const 64))))
    (call $return_data (i32.const 1000) (i32.const 1))))
