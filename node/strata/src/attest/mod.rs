//! Multi-party attestation of off-chain data, the operators' and requesters' side:
//! `strata attest` (the attestor daemon) and `strata attest deploy|add-attestor|
//! add-source|read|request|status`.
//!
//! Why in the node binary: an attestor is a long-running process beside a node, speaking
//! JSON-RPC to it like any client, and reading sources (PostgreSQL, HTTP, another
//! Strata chain) no validator should touch. Nothing it does is trusted: the attestation
//! contract (`contracts/attestation`) checks every signature with `ecrecover` against
//! the digest of `strata_primitives::attestation`, counts each attestor once and decides
//! by at least half of the attestors registered at request time.

pub mod cli;
pub mod daemon;
pub mod ring;
pub mod source;

pub use daemon::{Attestor, Options};
pub use ring::serve;
