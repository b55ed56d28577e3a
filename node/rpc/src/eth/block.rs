//! Blocks: `eth_getBlockByNumber`/`ByHash`, `eth_getBlockReceipts`, transaction and
//! uncle counts, and `eth_feeHistory`.

use alloy_primitives::U64;
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use strata_primitives::{Address, B256, SealedBlock, U256};

use super::EthRpc;
use crate::{
    block_id::BlockIdReader,
    error::{internal, invalid_params},
    types::{BlockId, BlockTag, FeeHistory, Quantity, RpcBlock, RpcReceipt, TxContext},
};

/// Most blocks one `eth_feeHistory` covers.
const MAX_FEE_HISTORY_BLOCKS: u64 = 1024;

/// Blocks and what is counted per block.
#[rpc(server)]
pub trait EthBlockApi {
    /// A block by number or tag.
    #[method(name = "eth_getBlockByNumber", blocking)]
    fn get_block_by_number(&self, tag: BlockTag, full: bool) -> RpcResult<Option<RpcBlock>>;
    /// A block by hash.
    #[method(name = "eth_getBlockByHash", blocking)]
    fn get_block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<RpcBlock>>;
    /// All receipts of a block.
    #[method(name = "eth_getBlockReceipts", blocking)]
    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<RpcReceipt>>>;
    /// Number of transactions in a block.
    #[method(name = "eth_getBlockTransactionCountByNumber")]
    fn tx_count_by_number(&self, tag: BlockTag) -> RpcResult<Option<U64>>;
    /// Number of transactions in a block.
    #[method(name = "eth_getBlockTransactionCountByHash")]
    fn tx_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;
    /// PBFT blocks have no uncles.
    #[method(name = "eth_getUncleCountByBlockNumber")]
    fn uncle_count_by_number(&self, tag: BlockTag) -> RpcResult<U64>;
    /// PBFT blocks have no uncles.
    #[method(name = "eth_getUncleCountByBlockHash")]
    fn uncle_count_by_hash(&self, hash: B256) -> RpcResult<U64>;
    /// Base fees and gas-used ratios of recent blocks (rewards: Strata charges no tip, so 0).
    #[method(name = "eth_feeHistory", blocking)]
    fn fee_history(&self, count: Quantity, newest: BlockTag, percentiles: Option<Vec<f64>>) -> RpcResult<FeeHistory>;
}

/// The recovered senders of a block's transactions.
fn senders(block: &SealedBlock) -> RpcResult<Vec<Address>> {
    block.block.transactions.iter().map(|tx| tx.recover_sender().map_err(internal)).collect()
}

impl EthRpc {
    /// The JSON block `id` names, with full transactions or their hashes.
    fn rpc_block(&self, id: BlockId, full: bool) -> RpcResult<Option<RpcBlock>> {
        let Some(block) = self.block_at(id)? else { return Ok(None) };
        let senders = if full { senders(&block)? } else { Vec::new() };
        Ok(Some(RpcBlock::new(&block, &senders, full)))
    }
}

impl EthBlockApiServer for EthRpc {
    fn get_block_by_number(&self, tag: BlockTag, full: bool) -> RpcResult<Option<RpcBlock>> {
        self.rpc_block(BlockId::Tag(tag), full)
    }

    fn get_block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<RpcBlock>> {
        self.rpc_block(BlockId::Hash(hash), full)
    }

    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<RpcReceipt>>> {
        let Some(block) = self.block_at(block)? else { return Ok(None) };
        let receipts = self.chain.store().receipts(block.number()).map_err(internal)?.ok_or_else(|| internal("receipts missing"))?;
        let senders = senders(&block)?;
        let mut first_log_index = 0u64;
        let mut out = Vec::with_capacity(receipts.len());
        for (i, (r, tx)) in receipts.iter().zip(&block.block.transactions).enumerate() {
            out.push(RpcReceipt::new(tx, senders[i], r, block.header(), TxContext::at(&block, i), first_log_index));
            first_log_index = first_log_index.saturating_add(r.logs.len() as u64);
        }
        Ok(Some(out))
    }

    fn tx_count_by_number(&self, tag: BlockTag) -> RpcResult<Option<U64>> {
        Ok(self.block_at(BlockId::Tag(tag))?.map(|b| U64::from(b.block.transactions.len())))
    }

    fn tx_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        Ok(self.block_at(BlockId::Hash(hash))?.map(|b| U64::from(b.block.transactions.len())))
    }

    fn uncle_count_by_number(&self, _tag: BlockTag) -> RpcResult<U64> {
        Ok(U64::ZERO)
    }

    fn uncle_count_by_hash(&self, _hash: B256) -> RpcResult<U64> {
        Ok(U64::ZERO)
    }

    fn fee_history(&self, count: Quantity, newest: BlockTag, percentiles: Option<Vec<f64>>) -> RpcResult<FeeHistory> {
        let newest = self.chain.block_number_for_tag(Some(newest)).min(self.chain.head().1.number);
        let count = count.0.min(MAX_FEE_HISTORY_BLOCKS).min(newest.saturating_add(1));
        let oldest = newest.saturating_add(1).saturating_sub(count);
        let (mut base, mut ratios, mut rewards) = (Vec::new(), Vec::new(), Vec::new());
        let percentiles = percentiles.unwrap_or_default();
        if percentiles.len() > 100 || percentiles.iter().any(|p| !(0.0..=100.0).contains(p)) {
            return Err(invalid_params("reward percentiles must be at most 100 values in [0, 100]"));
        }
        for n in oldest..=newest {
            if count == 0 {
                break;
            }
            let h = self.chain.store().header(n).map_err(internal)?.ok_or_else(|| internal(format!("header {n} missing")))?;
            base.push(U256::from(h.base_fee_per_gas));
            ratios.push(if h.gas_limit == 0 { 0.0 } else { h.gas_used as f64 / h.gas_limit as f64 });
            rewards.push(vec![U256::ZERO; percentiles.len()]);
        }
        // The next block's base fee: the fee contract's gas price now.
        base.push(U256::from(self.chain.next_env(0).map_err(internal)?.base_fee));
        Ok(FeeHistory {
            oldest_block: U64::from(oldest),
            base_fee_per_gas: base,
            gas_used_ratio: ratios,
            reward: (!percentiles.is_empty()).then_some(rewards),
        })
    }
}
