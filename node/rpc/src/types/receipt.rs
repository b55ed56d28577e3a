//! Receipts and logs, with Strata's per-resource usage, fee and payouts.

use alloy_primitives::U64;
use serde::Serialize;
use strata_primitives::{Address, B256, Bloom, Bytes, Header, Log, ResourceUsage, StoredReceipt, TransactionSigned, U256};

use super::TxContext;

/// A log as receipts and `eth_getLogs` return it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcLog {
    pub(crate) address: Address,
    topics: Vec<B256>,
    data: Bytes,
    block_hash: B256,
    block_number: U64,
    block_timestamp: U64,
    transaction_hash: B256,
    transaction_index: U64,
    log_index: U64,
    removed: bool,
}

/// A receipt as `eth_getTransactionReceipt` returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcReceipt {
    transaction_hash: B256,
    transaction_index: U64,
    block_hash: B256,
    block_number: U64,
    from: Address,
    to: Option<Address>,
    cumulative_gas_used: U64,
    gas_used: U64,
    effective_gas_price: U256,
    contract_address: Option<Address>,
    logs: Vec<RpcLog>,
    logs_bloom: Bloom,
    #[serde(rename = "type")]
    tx_type: U64,
    status: U64,
    /// Strata: what the transaction used, per resource (also committed as the last log).
    resources: RpcResources,
    /// Strata: the validators' shares of the fee (also in the receipt's payout logs).
    payouts: Vec<RpcPayout>,
    /// Strata: revert data of a reverted transaction.
    #[serde(skip_serializing_if = "Option::is_none")]
    revert_data: Option<Bytes>,
    /// Strata: why execution failed (trap, out of gas, limit, refused deploy).
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
}

/// Per-resource usage of a transaction, and its fee by resource.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcResources {
    fuel: U64,
    tx_bytes: U64,
    validators: U64,
    storage_bytes_added: U64,
    storage_bytes_removed: U64,
    storage_bytes_paid: U64,
    cold_byte_seconds: U64,
    fee: RpcFee,
}

/// A fee by resource (wei).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcFee {
    compute: U256,
    network: U256,
    storage: U256,
    cold: U256,
    total: U256,
    charged: U256,
}

impl From<&ResourceUsage> for RpcResources {
    fn from(r: &ResourceUsage) -> Self {
        Self {
            fuel: U64::from(r.fuel),
            tx_bytes: U64::from(r.tx_bytes),
            validators: U64::from(r.replicas),
            storage_bytes_added: U64::from(r.storage_bytes_added),
            storage_bytes_removed: U64::from(r.storage_bytes_removed),
            storage_bytes_paid: U64::from(r.storage_bytes_paid),
            cold_byte_seconds: U64::from(r.cold_byte_seconds),
            fee: RpcFee {
                compute: r.fee.compute,
                network: r.fee.network,
                storage: r.fee.storage,
                cold: r.fee.cold,
                total: r.fee.total,
                charged: r.fee.charged,
            },
        }
    }
}

/// A validator's share of a transaction's fee.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcPayout {
    validator: Address,
    amount: U256,
}

impl RpcLog {
    /// A log with its position in the chain.
    pub fn new(log: &Log, block_hash: B256, block_number: u64, timestamp: u64, tx_hash: B256, tx_index: u64, log_index: u64) -> Self {
        Self {
            address: log.address,
            topics: log.data.topics().to_vec(),
            data: log.data.data.clone(),
            block_hash,
            block_number: U64::from(block_number),
            block_timestamp: U64::from(timestamp),
            transaction_hash: tx_hash,
            transaction_index: U64::from(tx_index),
            log_index: U64::from(log_index),
            removed: false,
        }
    }
}

impl RpcReceipt {
    /// Builds the JSON shape. `first_log_index` is the number of logs in earlier receipts of the block.
    pub fn new(
        tx: &TransactionSigned,
        from: Address,
        receipt: &StoredReceipt,
        header: &Header,
        ctx: TxContext,
        first_log_index: u64,
    ) -> Self {
        let logs = receipt
            .logs
            .iter()
            .enumerate()
            .map(|(i, log)| {
                let log_index = first_log_index.saturating_add(i as u64);
                RpcLog::new(log, ctx.block_hash, ctx.block_number, header.timestamp, tx.hash(), ctx.index, log_index)
            })
            .collect();
        Self {
            transaction_hash: tx.hash(),
            transaction_index: U64::from(ctx.index),
            block_hash: ctx.block_hash,
            block_number: U64::from(ctx.block_number),
            from,
            to: tx.to(),
            cumulative_gas_used: U64::from(receipt.cumulative_gas_used),
            gas_used: U64::from(receipt.gas_used),
            effective_gas_price: U256::from(receipt.effective_gas_price),
            contract_address: receipt.contract_address(),
            logs,
            logs_bloom: receipt.bloom(),
            tx_type: U64::from(receipt.tx_type),
            status: U64::from(u8::from(receipt.success)),
            resources: RpcResources::from(&receipt.resources),
            payouts: receipt
                .logs
                .iter()
                .filter_map(strata_primitives::system::parse_payout)
                .map(|(validator, amount)| RpcPayout { validator, amount })
                .collect(),
            revert_data: (!receipt.success && !receipt.output.is_empty()).then(|| receipt.output.clone()),
            failure_reason: (!receipt.failure.is_empty()).then(|| String::from_utf8_lossy(&receipt.failure).into_owned()),
        }
    }
}
