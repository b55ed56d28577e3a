//! Transactions as `eth_getTransactionBy*` and full blocks return them.

use alloy_primitives::U64;
use serde::Serialize;
use strata_primitives::{Address, B256, Bytes, SealedBlock, TransactionSigned, TxType, U256};

/// Where a transaction sits in a block.
#[derive(Debug, Clone, Copy)]
pub struct TxContext {
    /// Block hash.
    pub block_hash: B256,
    /// Block number.
    pub block_number: u64,
    /// Index in the block.
    pub index: u64,
    /// Base fee of the block.
    pub base_fee: u64,
}

impl TxContext {
    /// Where transaction `index` of `block` sits.
    pub fn at(block: &SealedBlock, index: usize) -> Self {
        Self { block_hash: block.hash, block_number: block.number(), index: index as u64, base_fee: block.header().base_fee_per_gas }
    }
}

/// A transaction as `eth_getTransactionByHash` returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcTransaction {
    hash: B256,
    nonce: U64,
    block_hash: Option<B256>,
    block_number: Option<U64>,
    transaction_index: Option<U64>,
    from: Address,
    to: Option<Address>,
    value: U256,
    gas: U64,
    gas_price: U256,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_fee_per_gas: Option<U256>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_priority_fee_per_gas: Option<U256>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_list: Option<Vec<()>>,
    input: Bytes,
    #[serde(rename = "type")]
    tx_type: U64,
    #[serde(skip_serializing_if = "Option::is_none")]
    chain_id: Option<U64>,
    v: U64,
    #[serde(skip_serializing_if = "Option::is_none")]
    y_parity: Option<U64>,
    r: U256,
    s: U256,
}

impl RpcTransaction {
    /// Builds the JSON shape; `ctx` is `None` for a pending transaction.
    pub fn new(tx: &TransactionSigned, from: Address, ctx: Option<TxContext>) -> Self {
        let sig = tx.signature();
        let parity = u64::from(sig.v());
        let is_1559 = tx.tx_type() == TxType::Eip1559;
        let v = match (is_1559, tx.chain_id()) {
            (true, _) => parity,
            (false, Some(id)) => id.saturating_mul(2).saturating_add(35).saturating_add(parity),
            (false, None) => 27 + parity,
        };
        let gas_price = match ctx {
            // Strata charges the base fee per gas, never a tip.
            Some(c) => u128::from(c.base_fee),
            None => tx.max_fee_per_gas(),
        };
        Self {
            hash: tx.hash(),
            nonce: U64::from(tx.nonce()),
            block_hash: ctx.map(|c| c.block_hash),
            block_number: ctx.map(|c| U64::from(c.block_number)),
            transaction_index: ctx.map(|c| U64::from(c.index)),
            from,
            to: tx.to(),
            value: tx.value(),
            gas: U64::from(tx.gas_limit()),
            gas_price: U256::from(gas_price),
            max_fee_per_gas: is_1559.then(|| U256::from(tx.max_fee_per_gas())),
            max_priority_fee_per_gas: tx.max_priority_fee_per_gas().map(U256::from),
            access_list: is_1559.then(Vec::new),
            input: tx.input().clone(),
            tx_type: U64::from(tx.tx_type() as u8),
            chain_id: tx.chain_id().map(U64::from),
            v: U64::from(v),
            y_parity: is_1559.then(|| U64::from(parity)),
            r: sig.r(),
            s: sig.s(),
        }
    }
}
