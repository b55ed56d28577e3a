//! Verification of what a Strata node shows, by whoever looks at it: a receipt's audit
//! bundle, a storage certificate, an account or a storage entry (live or archived) —
//! each checked against the validator set the *reader* pins (a genesis file), never
//! against the node that served it.
//!
//! The checks themselves are `strata-protocol`'s, written once for the node, the
//! contracts and this crate; what this crate adds is reading the node's JSON-RPC
//! answers, carrying the genesis set across validator-set switches
//! ([`strata_protocol::set_proof`]), and decoding calldata, events and reverts with the
//! ABI a Strata module carries in its `strata_abi` section.
//!
//! Compiled with `wasm-bindgen` (`scripts/build-verifier.sh`) it is `sdk/js`'s engine and
//! the explorer's: every function of [`bindings`] takes and returns JSON text, so the
//! JavaScript side is a thin typed wrapper. On the host the same functions are plain
//! Rust ([`verify_receipt`], [`verify_storage_certificate`], [`verify_state`]).

pub mod abi;
pub mod bindings;
mod json;
pub mod receipt;
pub mod state;
pub mod trust;

pub use receipt::{verify_receipt, verify_storage_certificate};
pub use state::{CertifiedHeader, ProvenEntry, ProvenState, StateQuery, certified_header, verify_state};
pub use trust::TrustRoot;

/// Why something could not be verified (or not even read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input is not what it claims to be (bad JSON, hex or RLP, a missing field).
    #[error("malformed input: {0}")]
    Malformed(String),
    /// The trust root (genesis) is unusable.
    #[error("bad trust root: {0}")]
    Trust(String),
    /// The validator set of the block is not proven from the trust root.
    #[error("the validator set of block {height} is not proven from the pinned genesis: {reason}")]
    ValidatorSet {
        /// The block.
        height: u64,
        /// Why.
        reason: String,
    },
    /// The evidence does not prove the claim.
    #[error("{0}")]
    NotProven(String),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
