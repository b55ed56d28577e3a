//! Strata's block header: its fields and its hash.
//!
//! The header is Strata's own (it is not an Ethereum header: there is no
//! proof of work, and consensus evidence must fit in it), but every commitment
//! in it is Ethereum's: `stateRoot`, `transactionsRoot` and `receiptsRoot` are
//! the roots Ethereum would compute for the same data, and `logsBloom` is
//! Ethereum's bloom, so Ethereum tooling can check them. Here, rather than with the
//! block body, because a header is what light clients — a parent chain's contract, a
//! browser, an auditor — check certificates and proofs against.

use alloc::vec::Vec;
use alloy_primitives::{Address, B256, Bloom, Bytes, keccak256};
use alloy_rlp::{RlpDecodable, RlpEncodable};

/// A tagged extra header field. Later features (chain anchors, attestation
/// roots) add fields here without changing the layout of the fixed ones.
/// Extensions are kept sorted by `kind`, each kind at most once.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct HeaderExtension {
    /// What the data means; numbers are assigned in `docs/header-extensions.md`
    /// as features add them.
    pub kind: u64,
    /// The field's value.
    pub data: Bytes,
}

/// A block header. Its hash is `keccak256(rlp(header))`.
#[derive(Debug, Clone, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Header {
    /// The chain this block belongs to (Strata runs several chains with distinct ids).
    pub chain_id: u64,
    /// Hash of the parent header (zero for genesis).
    pub parent_hash: B256,
    /// Height, genesis is 0.
    pub number: u64,
    /// Seconds since the Unix epoch, as proposed; never less than the parent's.
    pub timestamp: u64,
    /// The validator that proposed the block (the one scheduled for its view; it gets the
    /// rounding remainder of fee splits).
    pub proposer: Address,
    /// Root of the account trie after the block.
    pub state_root: B256,
    /// Ethereum ordered-trie root of the transactions.
    pub transactions_root: B256,
    /// Ethereum ordered-trie root of the receipts.
    pub receipts_root: B256,
    /// Bloom of all logs of the block.
    pub logs_bloom: Bloom,
    /// Maximum gas the block may use.
    pub gas_limit: u64,
    /// Gas used by all transactions.
    pub gas_used: u64,
    /// Base fee per gas of this block.
    pub base_fee_per_gas: u64,
    /// Hash of the commit certificate of the parent block: required above height 1 on a
    /// chain run by validators (`strata dev` included); zero for block 1 (genesis is not
    /// certified) and on chains committed without consensus (tools, tests).
    pub parent_commit_hash: B256,
    /// Commitment to the validator liveness records carried by this block (zero when none).
    pub liveness_root: B256,
    /// Tagged extra fields.
    pub extensions: Vec<HeaderExtension>,
}

impl Header {
    /// The block hash.
    pub fn hash_slow(&self) -> B256 {
        keccak256(alloy_rlp::encode(self))
    }

    /// The header's RLP encoding (what the hash is taken over).
    pub fn encoded(&self) -> Vec<u8> {
        alloy_rlp::encode(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip_and_hash_changes_with_extensions() {
        let mut h = Header {
            chain_id: 1337,
            parent_hash: B256::repeat_byte(1),
            number: 5,
            timestamp: 1_700_000_000,
            proposer: Address::repeat_byte(2),
            state_root: B256::repeat_byte(3),
            transactions_root: B256::repeat_byte(4),
            receipts_root: B256::repeat_byte(5),
            logs_bloom: Bloom::default(),
            gas_limit: 30_000_000,
            gas_used: 21_000,
            base_fee_per_gas: 1_000_000_000,
            parent_commit_hash: B256::ZERO,
            liveness_root: B256::ZERO,
            extensions: Vec::new(),
        };
        let enc = h.encoded();
        assert_eq!(crate::rlp_item::decode_exact::<Header>(&enc).unwrap(), h);
        let before = h.hash_slow();
        h.extensions.push(HeaderExtension { kind: 1, data: Bytes::from_static(b"x") });
        assert_ne!(before, h.hash_slow());
    }
}
