;; Hostile: grows memory until it cannot.
(module (memory (export "memory") 1)
  (func (export "call") (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))))
