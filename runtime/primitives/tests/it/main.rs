//! Integration tests of strata-primitives (one binary for the crate).

mod rlp_vectors;
mod transactions;
