//! Strata's protocol facts, written once and shared by the node, the VM, the contract
//! SDK, contracts and the browser verifier.
//!
//! Why a crate of its own: these are the things every side must agree on byte for
//! byte — the host functions a contract imports and what their status codes mean, the
//! system ops and the addresses of the system contracts, the fee and archive contracts'
//! interfaces, how a tombstone is laid out in a storage slot, how a block header hashes,
//! what a commit certificate signs and how a Merkle proof, a receipt audit, a log relayed
//! from another chain or a validator set carried across slot switches is checked.
//! Written twice, they drift; here they are `no_std + alloc` with few dependencies, so a
//! Wasm contract (verifying a child chain's certificates through the `ecrecover` host
//! function), the node (k256, feature `k256`) and a browser (wasm-bindgen) run the same
//! code. Signature recovery is the one thing each brings itself: [`consensus::Recover`].
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod abi;
pub mod account;
pub mod attestation;
pub mod audit;
pub mod consensus;
pub mod deploy;
pub mod error;
pub mod header;
pub mod interfaces;
pub mod nibbles;
pub mod proof;
#[cfg(feature = "k256")]
pub mod recover;
pub mod registry;
pub mod relay;
pub mod rlp_item;
pub mod segments;
pub mod set_proof;
pub mod slots;
pub mod storage_cert;
pub mod system;
#[cfg(test)]
mod test_recover;

pub use account::{Account, EMPTY_ROOT_HASH, KECCAK_EMPTY};
pub use consensus::{
    CertSignature, CertificateError, CommitCertificate, FixedValidators, ProposerRotation, Recover, ValidatorSet, ValidatorSets,
    commit_digest, select_proposer,
};
pub use error::{Error, Result};
pub use header::{Header, HeaderExtension};
pub use system::{Slot, Tombstone};

pub use alloy_primitives::{Address, B256, Bloom, Bytes, Log, U256, keccak256};
