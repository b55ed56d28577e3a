//! Transactions: `eth_sendRawTransaction` (admitted on the chain's admission threads),
//! lookups by hash or by block and position (included or pooled), and receipts.

use alloy_primitives::U64;
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use strata_chain::TxOrigin;
use strata_primitives::{B256, Bytes, SealedBlock};

use super::EthRpc;
use crate::{
    error::{busy, internal, rejected},
    types::{BlockId, BlockTag, RpcReceipt, RpcTransaction, TxContext},
};

/// How long an instant-mining `eth_sendRawTransaction` waits for a nonce gap before it
/// answers a transaction queued behind it.
const GAP_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Sending transactions and finding them again.
#[rpc(server)]
pub trait EthTransactionApi {
    /// Submits a signed transaction.
    #[method(name = "eth_sendRawTransaction")]
    async fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256>;
    /// A transaction by hash (pooled or included).
    #[method(name = "eth_getTransactionByHash")]
    fn get_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<RpcTransaction>>;
    /// The EIP-2718 bytes of a transaction.
    #[method(name = "eth_getRawTransactionByHash")]
    fn get_raw_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Bytes>>;
    /// The receipt of an included transaction.
    #[method(name = "eth_getTransactionReceipt", blocking)]
    fn get_transaction_receipt(&self, hash: B256) -> RpcResult<Option<RpcReceipt>>;
    /// A transaction by block and position.
    #[method(name = "eth_getTransactionByBlockNumberAndIndex")]
    fn tx_by_number_and_index(&self, tag: BlockTag, index: U64) -> RpcResult<Option<RpcTransaction>>;
    /// A transaction by block and position.
    #[method(name = "eth_getTransactionByBlockHashAndIndex")]
    fn tx_by_hash_and_index(&self, hash: B256, index: U64) -> RpcResult<Option<RpcTransaction>>;
}

impl EthRpc {
    /// The block that includes transaction `hash`, and its index there; `None`: not included.
    pub(crate) fn included(&self, hash: &B256) -> RpcResult<Option<(SealedBlock, usize)>> {
        let Some(loc) = self.chain.store().tx_location(hash).map_err(internal)? else {
            return Ok(None);
        };
        let block =
            self.block_by_number(loc.block_number)?.ok_or_else(|| internal(format!("indexed block {} missing", loc.block_number)))?;
        let index = usize::try_from(loc.index).map_err(internal)?;
        if index >= block.block.transactions.len() {
            return Err(internal(format!("tx index {index} beyond block {}", loc.block_number)));
        }
        Ok(Some((block, index)))
    }

    /// Waits until `hash` is in a committed block, at most `limit` (see
    /// [`crate::RpcConfig::await_inclusion`]). A transaction behind a nonce gap waits
    /// [`GAP_WAIT`] for the gap to fill (a burst's transactions may arrive out of
    /// order), then is answered pooled; one that leaves the pool unincluded, at once.
    async fn until_included(
        &self,
        hash: B256,
        limit: std::time::Duration,
        mut blocks: tokio::sync::broadcast::Receiver<std::sync::Arc<SealedBlock>>,
    ) -> RpcResult<()> {
        let start = tokio::time::Instant::now();
        let deadline = start + limit;
        loop {
            if self.chain.store().tx_location(&hash).map_err(internal)?.is_some() {
                return Ok(());
            }
            let wait_until = match self.chain.includable_now(&hash).map_err(internal)? {
                Some(true) => deadline,
                Some(false) if start.elapsed() < GAP_WAIT => deadline.min(start + GAP_WAIT),
                // Not pooled any more (included meanwhile, replaced or evicted), or a gap
                // that did not fill.
                _ => return Ok(()),
            };
            match tokio::time::timeout_at(wait_until, blocks.recv()).await {
                Err(_) if wait_until < deadline => {}
                Err(_) | Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return Ok(()),
                // A block, or blocks missed: look again.
                Ok(_) => {}
            }
        }
    }

    fn tx_at(&self, block: BlockId, index: U64) -> RpcResult<Option<RpcTransaction>> {
        let Some(block) = self.block_at(block)? else { return Ok(None) };
        let Ok(i) = usize::try_from(index.to::<u64>()) else { return Ok(None) };
        let Some(tx) = block.block.transactions.get(i) else { return Ok(None) };
        let from = tx.recover_sender().map_err(internal)?;
        Ok(Some(RpcTransaction::new(tx, from, Some(TxContext::at(&block, i)))))
    }
}

#[jsonrpsee::core::async_trait]
impl EthTransactionApiServer for EthRpc {
    async fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        // Subscribed before admission: the block including it cannot be missed.
        let blocks = self.await_inclusion.map(|_| self.chain.subscribe_blocks());
        // Signature recovery and the fee quote run on the admission threads.
        let chain = self.chain.clone();
        let hash = match strata_chain::run_on(&self.chain.pools().admission, move || chain.submit_raw(&raw, TxOrigin::Local)).await {
            Ok(r) => r.map_err(rejected)?,
            Err(e) => return Err(busy(e, "transaction admission is busy")),
        };
        if let (Some(limit), Some(blocks)) = (self.await_inclusion, blocks) {
            self.until_included(hash, limit, blocks).await?;
        }
        Ok(hash)
    }

    fn get_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<RpcTransaction>> {
        if let Some((block, index)) = self.included(&hash)? {
            let tx = &block.block.transactions[index];
            let from = tx.recover_sender().map_err(internal)?;
            return Ok(Some(RpcTransaction::new(tx, from, Some(TxContext::at(&block, index)))));
        }
        Ok(self.chain.pooled(&hash).map(|p| RpcTransaction::new(&p.tx, p.sender, None)))
    }

    fn get_raw_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Bytes>> {
        if let Some((block, index)) = self.included(&hash)? {
            return Ok(Some(block.block.transactions[index].encoded()));
        }
        Ok(self.chain.pooled(&hash).map(|p| p.tx.encoded()))
    }

    fn get_transaction_receipt(&self, hash: B256) -> RpcResult<Option<RpcReceipt>> {
        let Some((block, index)) = self.included(&hash)? else {
            return Ok(None);
        };
        let receipts = self.chain.store().receipts(block.number()).map_err(internal)?.ok_or_else(|| internal("receipts missing"))?;
        let receipt = receipts.get(index).ok_or_else(|| internal("receipt missing"))?;
        let first_log_index = receipts[..index].iter().map(|r| r.logs.len() as u64).sum();
        let tx = &block.block.transactions[index];
        let from = tx.recover_sender().map_err(internal)?;
        Ok(Some(RpcReceipt::new(tx, from, receipt, block.header(), TxContext::at(&block, index), first_log_index)))
    }

    fn tx_by_number_and_index(&self, tag: BlockTag, index: U64) -> RpcResult<Option<RpcTransaction>> {
        self.tx_at(BlockId::Tag(tag), index)
    }

    fn tx_by_hash_and_index(&self, hash: B256, index: U64) -> RpcResult<Option<RpcTransaction>> {
        self.tx_at(BlockId::Hash(hash), index)
    }
}
