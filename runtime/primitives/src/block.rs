//! Strata blocks: a header (`strata_protocol::header`) and the transactions.

use crate::TransactionSigned;
use alloc::vec::Vec;
use alloy_primitives::B256;
use alloy_rlp::{RlpDecodable, RlpEncodable};
pub use strata_protocol::header::{Header, HeaderExtension};
use strata_protocol::slots::LivenessRecord;

/// A block: its header, its transactions and its liveness record.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// Transactions, in execution order.
    pub transactions: Vec<TransactionSigned>,
    /// The sync nodes' heartbeats for the parent block (chains with validator slots;
    /// empty otherwise), committed to by the header's `liveness_root`.
    pub liveness: LivenessRecord,
}

impl Block {
    /// Computes the hash once and keeps it with the block.
    pub fn seal(self) -> SealedBlock {
        SealedBlock { hash: self.header.hash_slow(), block: self }
    }
}

/// A block with its hash computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBlock {
    /// `keccak256(rlp(header))`.
    pub hash: B256,
    /// The block.
    pub block: Block,
}

impl SealedBlock {
    /// The header.
    pub fn header(&self) -> &Header {
        &self.block.header
    }
    /// Height.
    pub fn number(&self) -> u64 {
        self.block.header.number
    }
    /// Size of the block's RLP encoding in bytes.
    pub fn size(&self) -> usize {
        alloy_rlp::Encodable::length(&self.block)
    }
}
