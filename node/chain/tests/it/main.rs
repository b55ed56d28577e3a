//! Integration tests of the chain service: a real `Chain` on in-memory storage.

mod pool;
