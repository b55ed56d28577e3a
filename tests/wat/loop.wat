;; Hostile: loops forever.
(module (memory (export "memory") 1) (func (export "call") (loop $l (br $l))))
