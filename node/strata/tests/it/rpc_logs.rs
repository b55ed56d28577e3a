//! Logs, filters, subscriptions and the block/receipt lookups dapps use, over HTTP
//! and WebSocket against a dev node.

use std::time::Duration;

use jsonrpsee::{
    core::client::{ClientT, SubscriptionClientT},
    rpc_params,
    ws_client::WsClientBuilder,
};
use serde_json::{Value, json};
use strata_node::{Node, dev_accounts};
use strata_primitives::{Bytes, LocalSigner, TxKind, U256, deploy, hex, transaction::build};

use crate::{Rpc, rpc::hex_u128};

async fn next(s: &mut jsonrpsee::core::client::Subscription<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), s.next()).await.expect("a notification").expect("open").expect("a value")
}

async fn send(rpc: &Rpc, key: &LocalSigner, nonce: u64, to: TxKind, input: Vec<u8>) -> Value {
    let tx = build::eip1559(1337, nonce, to, U256::ZERO, Bytes::from(input), 2_000_000, 2_000_000_000, 0);
    let raw = key.sign_transaction(tx).unwrap().encoded();
    let hash = rpc.call("eth_sendRawTransaction", vec![json!(format!("0x{}", hex::encode(&raw)))]).await;
    rpc.wait_receipt(hash.as_str().unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_filters_subscriptions_and_lookups() {
    let _machine = crate::share().await;
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(crate::dev_config(dir.path())).await.unwrap();
    let rpc = Rpc::new(&node.http_url());
    let key = dev_accounts().unwrap()[0].signer.clone();
    let ws = WsClientBuilder::default().build(node.ws_url()).await.unwrap();
    let mut heads = ws.subscribe::<Value, _>("eth_subscribe", rpc_params!["newHeads"], "eth_unsubscribe").await.unwrap();
    let mut pending_sub =
        ws.subscribe::<Value, _>("eth_subscribe", rpc_params!["newPendingTransactions"], "eth_unsubscribe").await.unwrap();
    assert!(ws.subscribe::<Value, _>("eth_subscribe", rpc_params!["nonsense"], "eth_unsubscribe").await.is_err());

    let block_filter = rpc.call("eth_newBlockFilter", vec![]).await;
    let pending_filter = rpc.call("eth_newPendingTransactionFilter", vec![]).await;
    let code = wat::parse_file(crate::repo("tests/wat/counter.wat")).unwrap();
    let r = send(&rpc, &key, 0, TxKind::Create, deploy::encode(&code, b"owner")).await;
    let counter: strata_primitives::Address = r["contractAddress"].as_str().unwrap().parse().unwrap();
    let log_filter = rpc.call("eth_newFilter", vec![json!({"address": counter})]).await;
    let mut logs_sub =
        ws.subscribe::<Value, _>("eth_subscribe", rpc_params!["logs", json!({"address": [counter]})], "eth_unsubscribe").await.unwrap();
    let mut blocks = Vec::new();
    for nonce in 1..=3 {
        let r = send(&rpc, &key, nonce, TxKind::Call(counter), b"inc".to_vec()).await;
        blocks.push(r["blockNumber"].clone());
    }

    // eth_getLogs: by range, by block hash, by topic position; wide ranges refused.
    let logs = rpc.call("eth_getLogs", vec![json!({"fromBlock": "earliest", "toBlock": "latest", "address": counter})]).await;
    assert_eq!(logs.as_array().unwrap().len(), 3);
    // Every receipt carries Strata's resource log (one topic) and payout logs (two topics).
    let resources = json!(strata_primitives::RESOURCE_LOG_TOPIC);
    let payout = json!(strata_primitives::system::PAYOUT_TOPIC);
    let other = "0x00000000000000000000000000000000000000000000000000000000000000ff";
    let by_topic = rpc.call("eth_getLogs", vec![json!({"fromBlock": "0x0", "topics": [[resources, other]]})]).await;
    assert_eq!(by_topic.as_array().unwrap().len(), 4, "OR-list in position 0: one resource log per transaction");
    let either = rpc.call("eth_getLogs", vec![json!({"fromBlock": "0x0", "topics": [[resources, payout]]})]).await;
    assert_eq!(either.as_array().unwrap().len(), 8, "resource and payout logs");
    let second = rpc.call("eth_getLogs", vec![json!({"fromBlock": "0x0", "topics": [null, null]})]).await;
    assert_eq!(second.as_array().unwrap().len(), 4, "null matches any topic, but the position must exist (as go-ethereum)");
    let none = rpc.call("eth_getLogs", vec![json!({"fromBlock": "0x0", "topics": [null, other]})]).await;
    assert!(none.as_array().unwrap().is_empty());
    let one = rpc.call("eth_getLogs", vec![json!({"blockHash": logs[1]["blockHash"], "address": counter})]).await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["transactionHash"], logs[1]["transactionHash"]);
    let whole = rpc.call("eth_getLogs", vec![json!({"blockHash": logs[1]["blockHash"]})]).await;
    assert_eq!(whole.as_array().unwrap().len(), 3, "the counter's log, the resource log, one payout");
    assert_eq!(whole[2]["logIndex"], json!("0x2"));
    let err = rpc.try_call("eth_getLogs", vec![json!({"fromBlock": "0x0", "toBlock": "0x100000"})]).await.unwrap_err();
    assert!(err.code == -32602 && err.message.contains("exceeds the limit"), "{err:?}");
    assert!(rpc.try_call("eth_getLogs", vec![json!({"fromBlok": "0x0"})]).await.is_err(), "unknown fields are refused");

    // Filters: changes since the last poll, then nothing new.
    assert_eq!(rpc.call("eth_getFilterChanges", vec![log_filter.clone()]).await.as_array().unwrap().len(), 3);
    assert!(rpc.call("eth_getFilterChanges", vec![log_filter.clone()]).await.as_array().unwrap().is_empty());
    // Without fromBlock a filter's range is the latest block, as in go-ethereum.
    assert_eq!(rpc.call("eth_getFilterLogs", vec![log_filter.clone()]).await.as_array().unwrap().len(), 1);
    assert_eq!(rpc.call("eth_getFilterChanges", vec![block_filter.clone()]).await.as_array().unwrap().len(), 4);
    assert_eq!(rpc.call("eth_getFilterChanges", vec![pending_filter.clone()]).await.as_array().unwrap().len(), 4);
    assert_eq!(rpc.call("eth_uninstallFilter", vec![log_filter.clone()]).await, json!(true));
    assert!(rpc.try_call("eth_getFilterChanges", vec![log_filter]).await.is_err());

    // Subscriptions saw the same.
    for _ in 0..4 {
        assert!(next(&mut heads).await["hash"].is_string());
        assert!(next(&mut pending_sub).await.is_string());
    }
    for _ in 0..3 {
        assert_eq!(next(&mut logs_sub).await["address"], json!(counter));
    }

    // Lookups by block.
    let b = blocks[1].clone();
    let receipts = rpc.call("eth_getBlockReceipts", vec![b.clone()]).await;
    assert_eq!(receipts.as_array().unwrap().len(), 1);
    assert_eq!(hex_u128(&rpc.call("eth_getBlockTransactionCountByNumber", vec![b.clone()]).await), 1);
    let tx = rpc.call("eth_getTransactionByBlockNumberAndIndex", vec![b.clone(), json!("0x0")]).await;
    assert_eq!(tx["hash"], receipts[0]["transactionHash"]);
    let by_hash = rpc.call("eth_getTransactionByBlockHashAndIndex", vec![receipts[0]["blockHash"].clone(), json!("0x0")]).await;
    assert_eq!(by_hash["hash"], tx["hash"]);
    assert!(rpc.call("eth_getTransactionByBlockNumberAndIndex", vec![b.clone(), json!("0x5")]).await.is_null());
    assert_eq!(rpc.call("eth_getUncleCountByBlockNumber", vec![b]).await, json!("0x0"));
    let history = rpc.call("eth_feeHistory", vec![json!(3), "latest".into(), json!([25.0, 75.0])]).await;
    assert_eq!(history["baseFeePerGas"].as_array().unwrap().len(), 4);
    assert_eq!(history["gasUsedRatio"].as_array().unwrap().len(), 3);
    assert_eq!(history["reward"][0], json!(["0x0", "0x0"]));

    // Batches: answered as arrays, bounded in size.
    let client = jsonrpsee::http_client::HttpClientBuilder::default().build(node.http_url()).unwrap();
    let mut batch = jsonrpsee::core::params::BatchRequestBuilder::new();
    batch.insert("eth_blockNumber", rpc_params![]).unwrap();
    batch.insert("eth_chainId", rpc_params![]).unwrap();
    let answers = client.batch_request::<Value>(batch).await.unwrap();
    assert_eq!(answers.num_successful_calls(), 2);
    let mut big = jsonrpsee::core::params::BatchRequestBuilder::new();
    for _ in 0..101 {
        big.insert("eth_blockNumber", rpc_params![]).unwrap();
    }
    assert!(client.batch_request::<Value>(big).await.is_err(), "batches over the limit are refused");
    node.stop().await;
}
