//! Wasm contracts through JSON-RPC: deploy, call, eth_call, estimates, hostile
//! modules as real transactions, and determinism across independent nodes with
//! cold and warm compiled-module caches.

use std::sync::Arc;

use alloy_primitives::{Address, Bytes, U256, hex};
use serde_json::{Value, json};
use strata_chain::{Chain, ChainConfig, ChainSpec};
use strata_node::{Node, dev_accounts};
use strata_primitives::{LocalSigner, RecoveredTx, TxKind, deploy, transaction::build};

use crate::rpc::{Rpc, hex_u128};

fn wat(name: &str) -> Vec<u8> {
    let path = crate::repo(&format!("tests/wat/{name}.wat"));
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Client {
    rpc: Rpc,
    key: LocalSigner,
    nonce: u64,
}

impl Client {
    fn sign(&mut self, to: TxKind, value: u64, input: Vec<u8>, gas: u64) -> strata_primitives::TransactionSigned {
        let tx = build::eip1559(1337, self.nonce, to, U256::from(value), input.into(), gas, 3_000_000_000, 1_000_000_000);
        self.nonce += 1;
        self.key.sign_transaction(tx).unwrap()
    }

    async fn send(&mut self, to: TxKind, value: u64, input: Vec<u8>, gas: u64) -> Value {
        let tx = self.sign(to, value, input, gas);
        let hash = self.rpc.call("eth_sendRawTransaction", vec![json!(format!("0x{}", hex::encode(tx.encoded())))]).await;
        self.rpc.wait_receipt(hash.as_str().unwrap()).await
    }

    async fn deploy(&mut self, module: &[u8], ctor: &[u8]) -> Value {
        self.send(TxKind::Create, 0, deploy::encode(module, ctor), 3_000_000).await
    }
}

fn address(receipt: &Value) -> Address {
    receipt["contractAddress"].as_str().unwrap_or_else(|| panic!("no contract: {receipt}")).parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_call_hostile_modules_and_estimates() {
    let _machine = crate::share().await;
    let dir = tempfile::tempdir().unwrap();
    let config = crate::dev_config(dir.path());
    let node = Node::start(config).await.unwrap();
    let mut c = Client { rpc: Rpc::new(&node.http_url()), key: dev_accounts().unwrap()[0].signer.clone(), nonce: 0 };

    // Deploy the counter with a constructor argument; its code is served back.
    let counter = wat("counter");
    let r = c.deploy(&counter, b"alice").await;
    assert_eq!(r["status"], "0x1", "{r}");
    let addr = address(&r);
    assert_eq!(c.rpc.call("eth_getCode", vec![json!(addr), "latest".into()]).await, json!(format!("0x{}", hex::encode(&counter))));
    assert!(hex_u128(&r["resources"]["storageBytesAdded"]) >= 10);

    // Calls: a log per increment, storage readable by eth_call.
    let r = c.send(TxKind::Call(addr), 0, b"inc".to_vec(), 200_000).await;
    assert_eq!(r["status"], "0x1");
    assert_eq!(r["logs"][0]["address"], json!(addr));
    assert_eq!(r["logs"][1]["address"], json!(strata_primitives::RESOURCE_LOG_ADDRESS), "resource log last");
    assert!(hex_u128(&r["resources"]["fuel"]) > 0);
    let get = json!({"to": addr, "data": format!("0x{}", hex::encode(b"get"))});
    assert_eq!(c.rpc.call("eth_call", vec![get.clone(), "latest".into()]).await, json!(format!("0x{}", hex::encode(1u64.to_le_bytes()))));
    // A reverting call: eth_call answers code 3 with the data; a transaction gets status 0 and revertData.
    let boom = json!({"from": c.key.address(), "to": addr, "data": format!("0x{}", hex::encode(b"boom"))});
    let err = c.rpc.try_call("eth_call", vec![boom.clone(), "latest".into()]).await.unwrap_err();
    assert_eq!(err.code, 3);
    assert!(err.message.contains("execution reverted"), "{}", err.message);
    let r = c.send(TxKind::Call(addr), 0, b"boom".to_vec(), 200_000).await;
    assert_eq!(r["status"], "0x0");
    assert_eq!(r["revertData"], json!(format!("0x{}", hex::encode(b"boom"))));
    assert_eq!(
        c.rpc.call("eth_call", vec![get.clone(), "latest".into()]).await,
        json!(format!("0x{}", hex::encode(1u64.to_le_bytes()))),
        "revert rolled back"
    );
    // Estimates are upper bounds that make the transaction succeed.
    let inc = json!({"from": c.key.address(), "to": addr, "data": format!("0x{}", hex::encode(b"inc"))});
    let estimate = c.rpc.quantity("eth_estimateGas", vec![inc]).await as u64;
    let r = c.send(TxKind::Call(addr), 0, b"inc".to_vec(), estimate).await;
    assert_eq!(r["status"], "0x1", "estimate {estimate} was not enough: {r}");
    let deploy_estimate = c
        .rpc
        .quantity(
            "eth_estimateGas",
            vec![json!({"from": c.key.address(), "data": format!("0x{}", hex::encode(deploy::encode(&counter, b"b")))})],
        )
        .await as u64;
    let r = c.send(TxKind::Create, 0, deploy::encode(&counter, b"b"), deploy_estimate).await;
    assert_eq!(r["status"], "0x1", "deploy estimate {deploy_estimate}: {r}");
    let err = c.rpc.try_call("eth_estimateGas", vec![boom]).await.unwrap_err();
    assert_eq!(err.code, 3);

    // Hostile modules, deployed and called as real transactions: clean failed receipts.
    for (name, needle) in [
        ("loop", "out of gas"),
        ("memory_bomb", "memory"),
        ("recursion", "stack overflow"),
        ("huge_return", "exceeds the limit"),
        ("bad_pointer", "out-of-bounds"),
    ] {
        let r = c.deploy(&wat(name), b"").await;
        assert_eq!(r["status"], "0x1", "{name} deploys: {r}");
        let r = c.send(TxKind::Call(address(&r)), 0, vec![], 1_000_000).await;
        assert_eq!(r["status"], "0x0", "{name}");
        assert_eq!(hex_u128(&r["gasUsed"]), 1_000_000, "{name}: a failure consumes its gas");
        let reason = r["failureReason"].as_str().unwrap_or_default();
        assert!(reason.contains(needle), "{name}: {reason}");
    }
    for (name, needle) in [("no_call_export", "missing export `call`"), ("start_function", "start functions are not allowed")] {
        let r = c.deploy(&wat(name), b"").await;
        assert_eq!(r["status"], "0x0", "{name}");
        assert!(r["contractAddress"].is_null());
        assert!(r["failureReason"].as_str().unwrap().contains(needle), "{name}: {r}");
    }
    let simd = wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "call") (drop (v128.const i32x4 0 0 0 0))))"#).unwrap();
    let r = c.deploy(&simd, b"").await;
    assert!(r["failureReason"].as_str().unwrap().to_lowercase().contains("simd"), "{r}");
    let r = c.deploy(&wat("reenter"), b"").await;
    let r = c.send(TxKind::Call(address(&r)), 0, vec![], 1_000_000).await;
    assert_eq!(r["status"], "0x1");
    let floats = address(&c.deploy(&wat("floats"), b"").await);
    let out = c.rpc.call("eth_call", vec![json!({"to": floats}), "latest".into()]).await;
    assert_eq!(out, json!("0x0000c07f"), "canonical NaN, little-endian");
    // Value to a contract, and the chain keeps going.
    let r = c.send(TxKind::Call(addr), 12345, b"inc".to_vec(), 200_000).await;
    assert_eq!(r["status"], "0x1");
    assert_eq!(c.rpc.quantity("eth_getBalance", vec![json!(addr), "latest".into()]).await, 12345);
    let r = c.send(TxKind::Call(Address::repeat_byte(9)), 1, vec![], 21_000).await;
    assert_eq!(r["status"], "0x1");
    node.stop().await;
}

/// The same block of mixed contract transactions on independent chains — one with
/// an empty compiled-module cache, one reusing that cache warm, one in memory with
/// no cache — gives the same header (state root, receipts root) and receipts.
#[test]
fn identical_blocks_on_independent_nodes_cold_and_warm_caches() {
    let _machine = crate::share_blocking();
    let key = dev_accounts().unwrap()[0].signer.clone();
    let counter = wat("counter");
    let sign = |nonce: u64, to: TxKind, input: Vec<u8>| {
        let tx = build::eip1559(1337, nonce, to, U256::from(nonce), Bytes::from(input), 2_000_000, 3_000_000_000, 1_000_000_000);
        RecoveredTx { sender: key.address(), tx: key.sign_transaction(tx).unwrap() }
    };
    let created = key.address().create(0);
    let mut txs = vec![sign(0, TxKind::Create, deploy::encode(&counter, b"o")), sign(1, TxKind::Create, deploy::encode(&wat("loop"), b""))];
    for n in 2..12 {
        let input = if n % 3 == 0 { b"boom".to_vec() } else { b"inc".to_vec() };
        txs.push(sign(n, TxKind::Call(created), input));
    }
    txs.push(sign(12, TxKind::Call(key.address().create(1)), vec![]));
    let cache = tempfile::tempdir().unwrap();
    let run = |with_cache: bool| {
        let db = tempfile::tempdir().unwrap();
        let kv: strata_storage::SharedKv = Arc::new(strata_db::RocksKv::open(db.path()).unwrap());
        let vm = strata_vm::VmConfig { cache_dir: with_cache.then(|| cache.path().to_path_buf()), ..Default::default() };
        let chain = Chain::open(
            kv,
            strata_storage::MemKv::shared(),
            ChainSpec::dev(1337),
            strata_chain::dev_proposer(),
            ChainConfig { vm, ..ChainConfig::default() },
        )
        .unwrap();
        for tx in &txs {
            chain.submit(tx.clone()).unwrap();
        }
        let block = chain.produce_block(1_000).unwrap().unwrap();
        let receipts = chain.store().receipts(1).unwrap().unwrap();
        let stats = (
            chain.vm().stats.compiled.load(std::sync::atomic::Ordering::Relaxed),
            chain.vm().stats.loaded_from_disk.load(std::sync::atomic::Ordering::Relaxed),
        );
        (block.header().clone(), receipts, stats)
    };
    let (cold, cold_receipts, cold_stats) = run(true);
    let (warm, warm_receipts, warm_stats) = run(true);
    let (mem, mem_receipts, _) = run(false);
    assert_eq!(cold_stats, (5, 0), "cold cache compiles both modules and the three system contracts");
    assert_eq!(warm_stats, (0, 5), "warm cache compiles nothing");
    assert_eq!(cold.transactions_root, warm.transactions_root);
    assert_eq!(cold, warm);
    assert_eq!(cold, mem);
    assert_eq!(cold_receipts, warm_receipts);
    assert_eq!(cold_receipts, mem_receipts);
    assert_eq!(cold_receipts.len(), 13);
    assert!(cold_receipts.iter().any(|r| !r.success) && cold_receipts.iter().filter(|r| r.success).count() > 5);
}
