;; Hostile: lacks the `call` entry point (refused at deploy).
(module (memory (export "memory") 1) (func (export "other")))
