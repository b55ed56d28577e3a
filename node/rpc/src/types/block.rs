//! Blocks as `eth_getBlockBy*` and `newHeads` return them, and `eth_feeHistory`.

use alloy_primitives::U64;
use serde::Serialize;
use strata_primitives::{Address, B256, Bloom, Bytes, SealedBlock, TransactionSigned, U256, b256};

use super::{RpcTransaction, TxContext};

/// `keccak256(rlp([]))`: the ommers hash of a block without uncles.
pub const EMPTY_OMMERS_HASH: B256 = b256!("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347");

/// Transactions of a block: hashes or full objects.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum BlockTransactions {
    /// Hashes only.
    Hashes(Vec<B256>),
    /// Full transactions.
    Full(Vec<RpcTransaction>),
}

/// A block as `eth_getBlockBy*` returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcBlock {
    hash: B256,
    parent_hash: B256,
    number: U64,
    timestamp: U64,
    miner: Address,
    state_root: B256,
    transactions_root: B256,
    receipts_root: B256,
    logs_bloom: Bloom,
    gas_limit: U64,
    gas_used: U64,
    base_fee_per_gas: U64,
    size: U64,
    extra_data: Bytes,
    sha3_uncles: B256,
    uncles: Vec<B256>,
    difficulty: U64,
    total_difficulty: U64,
    nonce: alloy_primitives::B64,
    mix_hash: B256,
    /// Strata: hash of the parent's commit certificate.
    parent_commit_hash: B256,
    /// Strata: commitment to the liveness records in this block.
    liveness_root: B256,
    transactions: BlockTransactions,
}

impl RpcBlock {
    /// Builds the JSON shape; `senders` are the recovered senders of the block's transactions.
    pub fn new(block: &SealedBlock, senders: &[Address], full: bool) -> Self {
        let h = block.header();
        let txs = &block.block.transactions;
        let transactions = if full {
            BlockTransactions::Full(
                txs.iter()
                    .zip(senders)
                    .enumerate()
                    .map(|(i, (tx, from))| RpcTransaction::new(tx, *from, Some(TxContext::at(block, i))))
                    .collect(),
            )
        } else {
            BlockTransactions::Hashes(txs.iter().map(TransactionSigned::hash).collect())
        };
        Self {
            hash: block.hash,
            parent_hash: h.parent_hash,
            number: U64::from(h.number),
            timestamp: U64::from(h.timestamp),
            miner: h.proposer,
            state_root: h.state_root,
            transactions_root: h.transactions_root,
            receipts_root: h.receipts_root,
            logs_bloom: h.logs_bloom,
            gas_limit: U64::from(h.gas_limit),
            gas_used: U64::from(h.gas_used),
            base_fee_per_gas: U64::from(h.base_fee_per_gas),
            size: U64::from(block.size()),
            extra_data: Bytes::new(),
            sha3_uncles: EMPTY_OMMERS_HASH,
            uncles: Vec::new(),
            difficulty: U64::ZERO,
            total_difficulty: U64::ZERO,
            nonce: Default::default(),
            mix_hash: B256::ZERO,
            parent_commit_hash: h.parent_commit_hash,
            liveness_root: h.liveness_root,
            transactions,
        }
    }
}

/// `eth_feeHistory`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeHistory {
    /// First block of the range.
    pub oldest_block: U64,
    /// Base fee of each block, and of the next one.
    pub base_fee_per_gas: Vec<U256>,
    /// Gas used over gas limit, per block.
    pub gas_used_ratio: Vec<f64>,
    /// Priority fees at the requested percentiles (always 0: no tips on Strata).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reward: Option<Vec<Vec<U256>>>,
}
