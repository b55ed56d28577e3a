;; Hostile: a start function (refused at deploy).
(module (memory (export "memory") 1) (func $s) (start $s) (func (export "call")))
