//! `eth_subscribe` over WebSocket: `newHeads`, `logs` (with a filter, matched as
//! [`logs::block_logs`] does) and `newPendingTransactions`, each fed by a task that
//! ends when the subscriber goes away.

use jsonrpsee::{PendingSubscriptionSink, core::SubscriptionResult, proc_macros::rpc};

use crate::{
    EthRpc,
    error::invalid_params,
    logs::{self, LogFilter},
    types::RpcBlock,
};

/// WebSocket subscriptions.
#[rpc(server)]
pub trait EthPubSubApi {
    /// WebSocket subscriptions: `newHeads`, `logs` (with a filter), `newPendingTransactions`.
    #[subscription(name = "eth_subscribe" => "eth_subscription", unsubscribe = "eth_unsubscribe", item = serde_json::Value)]
    async fn subscribe(&self, kind: String, filter: Option<LogFilter>) -> SubscriptionResult;
}

#[jsonrpsee::core::async_trait]
impl EthPubSubApiServer for EthRpc {
    async fn subscribe(&self, pending: PendingSubscriptionSink, kind: String, filter: Option<LogFilter>) -> SubscriptionResult {
        let chain = self.chain.clone();
        match kind.as_str() {
            "newHeads" | "logs" => {
                let filter = filter.unwrap_or_default();
                let mut blocks = chain.subscribe_blocks();
                let sink = pending.accept().await?;
                tokio::spawn(async move {
                    loop {
                        let block = tokio::select! {
                            b = blocks.recv() => b,
                            _ = sink.closed() => return,
                        };
                        let block = match block {
                            Ok(b) => b,
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(_) => return,
                        };
                        let items: Vec<serde_json::Value> = if kind == "newHeads" {
                            vec![serde_json::to_value(RpcBlock::new(&block, &[], false)).unwrap_or_default()]
                        } else {
                            let mut logs = Vec::new();
                            let c = chain.clone();
                            let f = filter.clone();
                            let b = block.clone();
                            let found = tokio::task::spawn_blocking(move || logs::block_logs(&c, &b, &f, &mut logs).map(|_| logs)).await;
                            match found {
                                Ok(Ok(logs)) => logs.iter().filter_map(|l| serde_json::to_value(l).ok()).collect(),
                                _ => Vec::new(),
                            }
                        };
                        for item in items {
                            let Ok(raw) = serde_json::value::to_raw_value(&item) else { continue };
                            if sink.send(raw).await.is_err() {
                                return;
                            }
                        }
                    }
                });
                Ok(())
            }
            "newPendingTransactions" => {
                let mut pooled = chain.subscribe_pooled();
                let sink = pending.accept().await?;
                tokio::spawn(async move {
                    loop {
                        let hash = tokio::select! {
                            h = pooled.recv() => h,
                            _ = sink.closed() => return,
                        };
                        match hash {
                            Ok(h) => {
                                let Ok(raw) = serde_json::value::to_raw_value(&h) else { continue };
                                if sink.send(raw).await.is_err() {
                                    return;
                                }
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(_) => return,
                        }
                    }
                });
                Ok(())
            }
            other => {
                pending.reject(invalid_params(format!("unknown subscription {other:?}: newHeads, logs or newPendingTransactions"))).await;
                Ok(())
            }
        }
    }
}
