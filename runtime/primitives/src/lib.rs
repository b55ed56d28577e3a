//! Strata's core data types, shared by the node, the runtime, contracts and clients.
//!
//! Why a separate crate: everything that must agree byte-for-byte across nodes and
//! clients — Ethereum transaction envelopes, receipts, keys and signing, ordered-trie
//! roots — lives here, in one `no_std + alloc` crate. The protocol facts a contract or a
//! browser needs too (the header, certificates, proofs, audits, the storage market's
//! layouts, the host ABI's names) are in the lighter `strata-protocol` and re-exported
//! here under the same paths, with k256 signature recovery switched on.
//!
//! The Ethereum wire formats come from the `alloy` crates (the same ones reth
//! uses); this crate fixes which subset Strata accepts (legacy with EIP-155 and
//! EIP-1559 transactions) and adds Strata's own header.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod block;
pub mod error;
pub mod keys;
pub mod receipt;
pub mod transaction;

#[cfg(test)]
mod consensus_tests;
#[cfg(test)]
mod recover_tests;

pub use strata_protocol::{
    abi, account, attestation, audit, consensus, deploy, interfaces, nibbles, proof, recover, registry, relay, rlp_item, segments,
    set_proof, slots, storage_cert, system,
};

pub use account::{Account, EMPTY_ROOT_HASH, KECCAK_EMPTY};
pub use alloy_primitives::{Address, B256, Bloom, Bytes, Log, LogData, Signature, U256, address, b256, hex, keccak256};
pub use block::{Block, Header, HeaderExtension, SealedBlock};
pub use consensus::{
    CertSignature, CertificateError, CommitCertificate, FixedValidators, ProposerRotation, ValidatorSet, ValidatorSets, commit_digest,
    select_proposer,
};
pub use error::{Error, Result};
pub use keys::{DevKey, LocalSigner};
pub use receipt::{FeeBreakdown, RESOURCE_LOG_ADDRESS, RESOURCE_LOG_TOPIC, ResourceUsage, StoredReceipt};
pub use system::{Slot, Tombstone};
pub use transaction::{RecoveredTx, TransactionSigned, TxKind, TxType};

/// Largest contract storage key (bytes).
pub const MAX_STORAGE_KEY_LEN: usize = 256;
/// Largest contract storage value under one key (bytes).
pub const MAX_STORAGE_VALUE_LEN: usize = 16 * 1024;

/// Re-export of the RLP codec so dependants use the exact same version.
pub use alloy_rlp as rlp;

/// Ordered-trie roots (transactions, receipts) as Ethereum computes them.
pub mod roots {
    use crate::{B256, StoredReceipt, TransactionSigned};
    use alloy_eips::eip2718::Encodable2718;

    /// `transactionsRoot`: the trie of `rlp(index) -> tx.encoded_2718()`.
    pub fn transactions_root(txs: &[TransactionSigned]) -> B256 {
        alloy_trie::root::ordered_trie_root_with_encoder(txs, |tx, buf| tx.envelope().encode_2718(buf))
    }

    /// `receiptsRoot`: the trie of `rlp(index) -> receipt.encoded_2718()`.
    pub fn receipts_root(receipts: &[StoredReceipt]) -> B256 {
        alloy_trie::root::ordered_trie_root_with_encoder(receipts, |r, buf| r.envelope().encode_2718(buf))
    }
}
