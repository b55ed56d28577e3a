//! The `eth_` log and filter methods: `eth_getLogs` and the polling filters
//! (`eth_newFilter`, `eth_newBlockFilter`, `eth_newPendingTransactionFilter`,
//! `eth_getFilterChanges`, `eth_getFilterLogs`, `eth_uninstallFilter`), and the task
//! that feeds pooled transactions to the pending filters. The queries and the filter
//! table themselves are in [`logs`].

use std::sync::Arc;

use alloy_primitives::U64;
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use strata_chain::Chain;

use crate::{
    EthRpc,
    error::{exec_error, log_error},
    logs::{self, FilterChanges, Filters, LogFilter},
    types::RpcLog,
};

/// Logs and polling filters.
#[rpc(server)]
pub trait EthFilterApi {
    /// Logs matching a filter (address and topic OR-lists, `null` wildcards, a block range
    /// of at most `logs::MAX_LOG_RANGE` blocks or one block hash).
    #[method(name = "eth_getLogs", blocking)]
    fn get_logs(&self, filter: LogFilter) -> RpcResult<Vec<RpcLog>>;
    /// Installs a log filter polled with `eth_getFilterChanges` (expires after 5 idle minutes).
    #[method(name = "eth_newFilter")]
    fn new_filter(&self, filter: LogFilter) -> RpcResult<U64>;
    /// Installs a new-block filter.
    #[method(name = "eth_newBlockFilter")]
    fn new_block_filter(&self) -> RpcResult<U64>;
    /// Installs a pending-transaction filter.
    #[method(name = "eth_newPendingTransactionFilter")]
    fn new_pending_filter(&self) -> RpcResult<U64>;
    /// What a filter saw since it was last polled.
    #[method(name = "eth_getFilterChanges", blocking)]
    fn filter_changes(&self, id: U64) -> RpcResult<FilterChanges>;
    /// Every log a log filter matches.
    #[method(name = "eth_getFilterLogs", blocking)]
    fn filter_logs(&self, id: U64) -> RpcResult<Vec<RpcLog>>;
    /// Removes a filter.
    #[method(name = "eth_uninstallFilter")]
    fn uninstall_filter(&self, id: U64) -> RpcResult<bool>;
}

/// Spawns the task that notes each transaction entering `chain`'s pool in the pending
/// filters; it ends when `filters` is dropped. Must run inside a tokio runtime.
pub(crate) fn feed_pending_filters(chain: &Chain, filters: &Arc<Filters>) {
    let mut pooled = chain.subscribe_pooled();
    let weak = Arc::downgrade(filters);
    tokio::spawn(async move {
        loop {
            match pooled.recv().await {
                Ok(hash) => match weak.upgrade() {
                    Some(f) => f.on_pooled(hash),
                    None => return,
                },
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return,
            }
        }
    });
}

impl EthFilterApiServer for EthRpc {
    fn get_logs(&self, filter: LogFilter) -> RpcResult<Vec<RpcLog>> {
        logs::get_logs(&self.chain, &filter).map_err(log_error)
    }

    fn new_filter(&self, filter: LogFilter) -> RpcResult<U64> {
        self.filters.new_log_filter(&self.chain, filter).map_err(log_error)
    }

    fn new_block_filter(&self) -> RpcResult<U64> {
        self.filters.new_block_filter(&self.chain).map_err(log_error)
    }

    fn new_pending_filter(&self) -> RpcResult<U64> {
        self.filters.new_pending_filter().map_err(log_error)
    }

    fn filter_changes(&self, id: U64) -> RpcResult<FilterChanges> {
        self.filters.changes(&self.chain, id).map_err(log_error)?.ok_or_else(|| exec_error("filter not found"))
    }

    fn filter_logs(&self, id: U64) -> RpcResult<Vec<RpcLog>> {
        self.filters.all_logs(&self.chain, id).map_err(log_error)?.ok_or_else(|| exec_error("filter not found"))
    }

    fn uninstall_filter(&self, id: U64) -> RpcResult<bool> {
        Ok(self.filters.uninstall(id))
    }
}
