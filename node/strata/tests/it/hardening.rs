//! Hostile clients against a real dev node: call chains that use every frame's whole
//! stack, and floods of expensive simulations. The node must answer, keep committing
//! and never crash.

use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256, hex};
use serde_json::{Value, json};
use strata_node::{Node, dev_accounts};
use strata_primitives::{LocalSigner, TxKind, deploy, transaction::build};

use crate::rpc::{Rpc, hex_u128};

const CHAIN_ID: u64 = 1337;
const GWEI: u128 = 1_000_000_000;

fn raw(key: &LocalSigner, nonce: u64, to: TxKind, data: Vec<u8>, gas: u64) -> Value {
    let tx = key.sign_transaction(build::eip1559(CHAIN_ID, nonce, to, U256::ZERO, data.into(), gas, 3 * GWEI, 0)).unwrap();
    Value::String(format!("0x{}", hex::encode(tx.encoded())))
}

fn deep_chain_input(n: u32, chain: &[Address]) -> Vec<u8> {
    let mut input = Vec::new();
    for a in chain {
        input.extend_from_slice(&n.to_le_bytes());
        input.extend_from_slice(a.as_slice());
    }
    input.extend_from_slice(&n.to_le_bytes());
    input
}

fn call_object(to: Address, data: &[u8]) -> Value {
    json!({ "to": to, "data": format!("0x{}", hex::encode(data)) })
}

/// 66 contracts, each recursing to the edge of its Wasm stack before calling the next:
/// through `eth_call`, `eth_estimateGas` and a real transaction, the node answers and
/// keeps going (before the fix, the first `eth_call` overflowed a tokio worker's stack
/// and aborted the process).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_chain_using_every_frames_whole_stack_cannot_crash_the_dev_node() {
    let _machine = crate::share().await;
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(crate::dev_config(dir.path())).await.unwrap();
    let rpc = Rpc::new(&node.http_url());
    let alice = dev_accounts().unwrap()[0].signer.clone();
    let code = wat::parse_str(include_str!("../../../../tests/wat/deep_chain.wat")).unwrap();
    let levels = 66u64;
    let mut hashes = Vec::new();
    for nonce in 0..levels {
        let h = rpc.call("eth_sendRawTransaction", vec![raw(&alice, nonce, TxKind::Create, deploy::encode(&code, &[]), 3_000_000)]).await;
        hashes.push(h.as_str().unwrap().to_string());
    }
    let mut chain = Vec::new();
    for h in &hashes {
        let r = rpc.wait_receipt(h).await;
        assert_eq!(r["status"], json!("0x1"), "{r}");
        chain.push(r["contractAddress"].as_str().unwrap().parse::<Address>().unwrap());
    }
    // The deepest recursion one frame survives, found by eth_call.
    let (mut lo, mut hi) = (0u32, 100_000u32);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let ok = rpc.try_call("eth_call", vec![call_object(chain[0], &deep_chain_input(mid, &[])), "latest".into()]).await.is_ok();
        if ok { lo = mid } else { hi = mid }
    }
    let input = deep_chain_input(lo, &chain[1..]);
    let out = rpc.call("eth_call", vec![call_object(chain[0], &input), "latest".into()]).await;
    assert_eq!(out, json!("0x00"), "the first nested call succeeded; the depth limit stopped the chain below");
    let estimate = rpc.quantity("eth_estimateGas", vec![call_object(chain[0], &input)]).await;
    assert!(estimate > 100_000, "{estimate}");
    let h = rpc.call("eth_sendRawTransaction", vec![raw(&alice, levels, TxKind::Call(chain[0]), input, 30_000_000)]).await;
    let r = rpc.wait_receipt(h.as_str().unwrap()).await;
    assert_eq!(r["status"], json!("0x1"), "{r}");
    // Still alive and committing.
    let h =
        rpc.call("eth_sendRawTransaction", vec![raw(&alice, levels + 1, TxKind::Call(Address::repeat_byte(1)), Vec::new(), 50_000)]).await;
    rpc.wait_receipt(h.as_str().unwrap()).await;
    node.stop().await;
}

/// Submit-to-receipt time of a transfer.
async fn commit_latency(rpc: &Rpc, key: &LocalSigner, nonce: u64) -> Duration {
    let started = Instant::now();
    let h = rpc.call("eth_sendRawTransaction", vec![raw(key, nonce, TxKind::Call(Address::repeat_byte(2)), Vec::new(), 50_000)]).await;
    let h = h.as_str().unwrap().to_string();
    loop {
        if !rpc.call("eth_getTransactionReceipt", vec![h.clone().into()]).await.is_null() {
            return started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no receipt within 30 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// 50 clients each sending batches of the most expensive simulations the gas cap
/// allows (an infinite loop, 20 calls a batch) do not stall block production: the
/// commit latency of a transfer stays within twice its unloaded value plus 20 ms (the
/// ~4,000 refused calls a second share the machine's 2 cores; a starved pipeline shows
/// hundreds of milliseconds, not a few). Simulations run
/// on their own threads at background priority, a bounded number at once; the rest are
/// refused with -32005. Nothing else in this binary runs meanwhile (`alone`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_batches_of_expensive_simulations_do_not_stall_commits() {
    let _alone = crate::alone().await;
    let dir = tempfile::tempdir().unwrap();
    // The node runs on a runtime of its own, as in its own process; the clients on this one.
    let (node, node_runtime) = {
        let config = crate::dev_config(dir.path());
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let node = rt.spawn(async move { Node::start(config).await.unwrap() }).await.unwrap();
        (node, rt)
    };
    let url = node.http_url();
    let rpc = Rpc::new(&url);
    let keys = dev_accounts().unwrap();
    let (alice, bob) = (keys[0].signer.clone(), keys[1].signer.clone());
    let code = wat::parse_str(include_str!("../../../../tests/wat/loop.wat")).unwrap();
    let h = rpc.call("eth_sendRawTransaction", vec![raw(&alice, 0, TxKind::Create, deploy::encode(&code, &[]), 3_000_000)]).await;
    let r = rpc.wait_receipt(h.as_str().unwrap()).await;
    let burner: Address = r["contractAddress"].as_str().unwrap().parse().unwrap();

    let mut nonce = 0;
    let mut unloaded = Vec::new();
    for _ in 0..9 {
        unloaded.push(commit_latency(&rpc, &bob, nonce).await);
        nonce += 1;
    }
    let unloaded = median(unloaded);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let counts = std::sync::Arc::new(parking_lot::Mutex::new((0u64, 0u64, 0u64)));
    let mut clients = Vec::new();
    for _ in 0..50 {
        let (url, stop, counts) = (url.clone(), stop.clone(), counts.clone());
        clients.push(tokio::spawn(async move {
            use jsonrpsee::core::{client::ClientT, params::BatchRequestBuilder};
            let http = jsonrpsee::http_client::HttpClientBuilder::default().request_timeout(Duration::from_secs(120)).build(&url).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut batch = BatchRequestBuilder::new();
                for _ in 0..20 {
                    batch.insert("eth_call", jsonrpsee::rpc_params![json!({ "to": burner, "data": "0x" }), "latest"]).unwrap();
                }
                let Ok(answers) = http.batch_request::<Value>(batch).await else { continue };
                let mut all_busy = true;
                {
                    let mut c = counts.lock();
                    for a in answers.into_iter() {
                        match a {
                            Err(e) if e.code() == strata_rpc::LIMIT_EXCEEDED_CODE => c.1 += 1,
                            Err(_) => {
                                c.0 += 1;
                                all_busy = false;
                            }
                            Ok(_) => {
                                c.2 += 1;
                                all_busy = false;
                            }
                        }
                    }
                }
                // -32005 means "retry later": a client that honours it backs off (250 ms,
                // a usual first retry delay), still ~4,000 refused calls a second in all;
                // one that does not is an HTTP flood, which connection limits handle.
                if all_busy {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Samples over five seconds of load.
    let mut loaded = Vec::new();
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        loaded.push(commit_latency(&rpc, &bob, nonce).await);
        nonce += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let loaded = median(loaded);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in &clients {
        c.abort();
    }
    let (ran, refused) = node.chain().pools().simulation.counts();
    let (errors, busy, succeeded) = *counts.lock();
    println!(
        "commit latency: unloaded {unloaded:?}, under load {loaded:?}; simulations run {ran}, refused as busy {refused} \
         (answers seen: {errors} errors, {busy} busy, {succeeded} results)"
    );
    assert!(ran > 0 && refused > 100, "the load ran simulations and overflowed the pool");
    assert!(loaded < unloaded * 2 + Duration::from_millis(20), "commit latency {loaded:?} under load, {unloaded:?} unloaded");
    node_runtime.spawn(node.stop()).await.unwrap();
    node_runtime.shutdown_background();
}

fn loop_code() -> Vec<u8> {
    wat::parse_str(include_str!("../../../../tests/wat/loop.wat")).unwrap()
}

/// `eth_call`, `eth_estimateGas` and `strata_quoteFee` get at most the gas cap, and stop
/// at the wall-clock timeout with go-ethereum's "execution aborted (timeout = …)".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulations_are_capped_in_gas_and_in_wall_time() {
    let _machine = crate::share().await;
    let dir = tempfile::tempdir().unwrap();
    let capped = strata_node::DevConfig { rpc_gas_cap: Some(200_000), ..crate::dev_config(&dir.path().join("capped")) };
    let node = Node::start(capped).await.unwrap();
    let rpc = Rpc::new(&node.http_url());
    let alice = dev_accounts().unwrap()[0].signer.clone();
    let h = rpc.call("eth_sendRawTransaction", vec![raw(&alice, 0, TxKind::Create, deploy::encode(&loop_code(), &[]), 3_000_000)]).await;
    let burner: Address = rpc.wait_receipt(h.as_str().unwrap()).await["contractAddress"].as_str().unwrap().parse().unwrap();
    let huge = json!({ "to": burner, "data": "0x", "gas": "0x3b9aca00" });
    let e = rpc.try_call("eth_call", vec![huge.clone(), "latest".into()]).await.unwrap_err();
    assert_eq!(e.message, "out of gas");
    let quote = rpc.call("strata_quoteFee", vec![huge.clone()]).await;
    assert!(hex_u128(&quote["gasUsed"]) <= 200_000, "{quote}");
    node.stop().await;

    let slow = strata_node::DevConfig { rpc_timeout: Duration::from_millis(50), ..crate::dev_config(&dir.path().join("slow")) };
    let node = Node::start(slow).await.unwrap();
    let rpc = Rpc::new(&node.http_url());
    let h = rpc.call("eth_sendRawTransaction", vec![raw(&alice, 0, TxKind::Create, deploy::encode(&loop_code(), &[]), 3_000_000)]).await;
    let burner: Address = rpc.wait_receipt(h.as_str().unwrap()).await["contractAddress"].as_str().unwrap().parse().unwrap();
    let started = Instant::now();
    for method in ["eth_call", "eth_estimateGas"] {
        let e = rpc.try_call(method, vec![json!({ "to": burner, "data": "0x" })]).await.unwrap_err();
        assert!(e.message.starts_with("execution aborted (timeout"), "{method}: {}", e.message);
    }
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    node.stop().await;
}

/// An audit bundle proves the receipt is its transaction's (the transaction at the same
/// index, against `transactionsRoot`) and is checked against the chain id the auditor
/// trusts, not the one the bundle's header claims.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_binds_the_receipt_to_its_transaction_and_to_the_trusted_chain() {
    let _machine = crate::share().await;
    use strata_primitives::audit::{AuditError, ReceiptBundle, verify_receipt};
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(crate::dev_config(dir.path())).await.unwrap();
    let rpc = Rpc::new(&node.http_url());
    let alice = dev_accounts().unwrap()[0].signer.clone();
    let mut hashes = Vec::new();
    for nonce in 0..3 {
        let h =
            rpc.call("eth_sendRawTransaction", vec![raw(&alice, nonce, TxKind::Call(Address::repeat_byte(7)), Vec::new(), 50_000)]).await;
        hashes.push(h.as_str().unwrap().parse::<strata_primitives::B256>().unwrap());
    }
    for h in &hashes {
        rpc.wait_receipt(&h.to_string()).await;
    }
    // A block after theirs, so each block has its certificate.
    let h = rpc.call("eth_sendRawTransaction", vec![raw(&alice, 3, TxKind::Call(Address::repeat_byte(7)), Vec::new(), 50_000)]).await;
    rpc.wait_receipt(h.as_str().unwrap()).await;
    let set = strata_primitives::ValidatorSet::new(vec![strata_chain::dev_proposer()]);
    let bundle = |h: &strata_primitives::B256| {
        let rpc = &rpc;
        let h = *h;
        async move {
            let answer = rpc.call("strata_getReceiptProof", vec![json!(h)]).await;
            strata_primitives::rlp_item::decode_exact::<ReceiptBundle>(&hex::decode(answer["bundle"].as_str().unwrap()).unwrap()).unwrap()
        }
    };
    let (b0, b1) = (bundle(&hashes[0]).await, bundle(&hashes[1]).await);
    let v = verify_receipt(&b0, &set, CHAIN_ID, Some(hashes[0])).unwrap();
    assert_eq!(v.transaction_hash, hashes[0]);
    // Asked about another transaction: refused.
    assert!(matches!(verify_receipt(&b0, &set, CHAIN_ID, Some(hashes[1])), Err(AuditError::Transaction(_))));
    // Another transaction swapped in (with its own proof) under this receipt: refused.
    let swapped = ReceiptBundle { transaction: b1.transaction.clone(), transaction_proof: b1.transaction_proof.clone(), ..b0.clone() };
    assert!(verify_receipt(&swapped, &set, CHAIN_ID, None).is_err());
    // The trusted chain id decides, not the header's.
    assert!(matches!(verify_receipt(&b0, &set, 1, None), Err(AuditError::Certificate(_))));
    // The same bundle relays the receipt's logs (a transfer's: its resource log) to
    // another chain, each with its own event key; no log past the last.
    use strata_primitives::relay::{RelayError, RelayedLog, verify_relayed_log};
    let proven = verify_relayed_log(&RelayedLog { bundle: b0.clone(), log_index: 0 }, &set, CHAIN_ID).unwrap();
    assert_eq!(proven.log.address, strata_primitives::receipt::RESOURCE_LOG_ADDRESS);
    assert_eq!((proven.key.source_chain, proven.key.block_number, proven.key.tx_index), (CHAIN_ID, v.block_number, v.index));
    assert_eq!(proven.transaction_hash, hashes[0]);
    assert_eq!(
        verify_relayed_log(&RelayedLog { bundle: b0.clone(), log_index: v.logs as u64 }, &set, CHAIN_ID),
        Err(RelayError::NoSuchLog { index: v.logs as u64, logs: v.logs })
    );
    node.stop().await;
}

/// Two chains in one process: own databases, RPC ports and chain ids, one Wasm engine.
/// A contract deployed on both is compiled once; each chain sees only its own
/// transactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_chains_in_one_process_share_one_engine() {
    let _machine = crate::share().await;
    use strata_node::{ChainRole, MultiNode};
    let dir = tempfile::tempdir().unwrap();
    let chain = |id: u64, name: &str| ChainRole::Dev(strata_node::DevConfig { chain_id: id, ..crate::dev_config(&dir.path().join(name)) });
    let multi = MultiNode::start(dir.path().join("wasm-cache"), vec![chain(1337, "a"), chain(1338, "b")]).await.unwrap();
    let (a, b) = (Rpc::new(&multi.nodes()[0].http_url()), Rpc::new(&multi.nodes()[1].http_url()));
    assert_eq!(a.quantity("eth_chainId", vec![]).await, 1337);
    assert_eq!(b.quantity("eth_chainId", vec![]).await, 1338);
    let alice = dev_accounts().unwrap()[0].signer.clone();
    let code = wat::parse_str(include_str!("../../../../tests/wat/counter.wat")).unwrap();
    let compiled = multi.engine().stats.compiled.load(std::sync::atomic::Ordering::Relaxed);
    for (rpc, id) in [(&a, 1337u64), (&b, 1338)] {
        let tx = build::eip1559(id, 0, TxKind::Create, U256::ZERO, deploy::encode(&code, b"x").into(), 3_000_000, 3 * GWEI, 0);
        let raw = Value::String(format!("0x{}", hex::encode(alice.sign_transaction(tx).unwrap().encoded())));
        let h = rpc.call("eth_sendRawTransaction", vec![raw]).await;
        assert_eq!(rpc.wait_receipt(h.as_str().unwrap()).await["status"], json!("0x1"));
    }
    assert_eq!(
        multi.engine().stats.compiled.load(std::sync::atomic::Ordering::Relaxed),
        compiled + 1,
        "the same code, deployed on two chains, compiled once"
    );
    // Each chain has only its own transaction.
    assert_eq!(a.quantity("eth_getTransactionCount", vec![json!(alice.address()), "latest".into()]).await, 1);
    assert_eq!(b.quantity("eth_getTransactionCount", vec![json!(alice.address()), "latest".into()]).await, 1);
    multi.stop().await;
}
