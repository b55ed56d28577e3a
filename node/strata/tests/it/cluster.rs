//! Fault tests with real processes: 4 validators (`strata run`), each with its own
//! RocksDB, talking TCP on 127.0.0.1, under a steady transaction load — the primary
//! killed with SIGKILL, a validator cut off (SIGSTOP) and brought back, all four
//! restarted. Every committed block's certificate is verified against the validator
//! set, and no transaction whose receipt was reported is ever lost.

use std::{
    collections::BTreeMap,
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use parking_lot::Mutex;
use serde_json::json;
use strata_node::dev_accounts;
use strata_primitives::{
    Address, B256, Bytes, CommitCertificate, TxKind, U256, ValidatorSet, hex, rlp_item::decode_exact, transaction::build,
};

use crate::{
    Rpc,
    procs::{Procs, set_config},
    rpc::hex_u128,
};

const CHAIN_ID: u64 = 4242;

/// A local cluster of validator processes.
struct Cluster {
    procs: Procs,
    validators: ValidatorSet,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Cluster {
    type Target = Procs;
    fn deref(&self) -> &Procs {
        &self.procs
    }
}

impl std::ops::DerefMut for Cluster {
    fn deref_mut(&mut self) -> &mut Procs {
        &mut self.procs
    }
}

fn strata(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_strata")).args(args).output().expect("run strata");
    assert!(out.status.success(), "strata {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Cluster {
    fn new(n: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("net");
        let p2p = crate::free_ports(n as u16).to_string();
        let rpc = crate::free_ports(n as u16).to_string();
        let n_s = n.to_string();
        let cid = CHAIN_ID.to_string();
        strata(&["init", "--out", out.to_str().unwrap(), "--validators", &n_s, "--chain-id", &cid, "--p2p-port", &p2p, "--rpc-port", &rpc]);
        let mut configs = Vec::new();
        let mut urls = Vec::new();
        for i in 0..n {
            let path = out.join(format!("validator-{i}/config.toml"));
            // Fast blocks and short timeouts, so faults resolve within the test's bounds.
            set_config(&path, &[("block_time_ms", "200"), ("empty_block_ms", "700"), ("view_timeout_ms", "2500")]);
            let config = strata_node::config::ValidatorConfig::load(&path).unwrap();
            urls.push(format!("http://{}", config.rpc_addr));
            configs.push(path);
        }
        let genesis = strata_node::config::Genesis::load(&out.join("genesis.json")).unwrap();
        let validators = ValidatorSet::new(genesis.validators.iter().map(|v| v.address).collect());
        let mut c = Self { procs: Procs::new(configs, urls), validators, _dir: dir };
        for i in 0..n as usize {
            c.start(i);
        }
        c
    }

    async fn primary(&self, i: usize) -> usize {
        hex_u128(&self.rpc(i).call("strata_consensusStatus", vec![]).await["primary"]) as usize
    }

    async fn view(&self, i: usize) -> u64 {
        hex_u128(&self.rpc(i).call("strata_consensusStatus", vec![]).await["view"]) as u64
    }

    /// Checks every block up to `height` on validator `i`: linked, certified by a
    /// quorum of the validator set, the certificate's hash in the child's header.
    async fn verify_chain(&self, i: usize, height: u64) -> Vec<B256> {
        let rpc = self.rpc(i);
        let mut hashes = Vec::new();
        let mut parent_commit = B256::ZERO;
        for n in 1..=height {
            let block = rpc.call("eth_getBlockByNumber", vec![json!(format!("{n:#x}")), false.into()]).await;
            let hash: B256 = block["hash"].as_str().unwrap().parse().unwrap();
            if n > 1 {
                assert_eq!(
                    block["parentCommitHash"].as_str().unwrap().parse::<B256>().unwrap(),
                    parent_commit,
                    "block {n} links its parent's certificate"
                );
            }
            let cert = rpc.call("strata_getCommitCertificate", vec![json!(format!("{n:#x}"))]).await;
            let raw: Bytes = cert["raw"].as_str().unwrap().parse().unwrap();
            let cert = decode_exact::<CommitCertificate>(&raw).unwrap();
            cert.verify(&self.validators, CHAIN_ID).unwrap_or_else(|e| panic!("certificate of block {n}: {e}"));
            assert_eq!((cert.height, cert.block_hash), (n, hash));
            parent_commit = strata_primitives::keccak256(&raw);
            hashes.push(hash);
        }
        hashes
    }
}

/// Sends transfers round-robin through the live validators; remembers every
/// transaction whose receipt was reported.
struct Load {
    stop: Arc<AtomicBool>,
    included: Arc<Mutex<BTreeMap<B256, u64>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Load {
    fn start(urls: Vec<String>, live: Arc<Mutex<Vec<bool>>>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let included = Arc::new(Mutex::new(BTreeMap::new()));
        let (s, inc) = (stop.clone(), included.clone());
        let task = tokio::spawn(async move {
            let keys: Vec<_> = dev_accounts().unwrap().into_iter().map(|k| k.signer).collect();
            let mut nonces = vec![0u64; keys.len()];
            let mut pending: Vec<(B256, usize)> = Vec::new();
            let mut round = 0usize;
            while !s.load(Ordering::Relaxed) {
                round += 1;
                let targets: Vec<usize> = live.lock().iter().enumerate().filter(|(_, l)| **l).map(|(i, _)| i).collect();
                let Some(&target) = targets.get(round % targets.len().max(1)) else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let rpc = Rpc::new(&urls[target]);
                let k = round % keys.len();
                let tx = build::eip1559(
                    CHAIN_ID,
                    nonces[k],
                    TxKind::Call(Address::repeat_byte(0x42)),
                    U256::from(1u64),
                    Bytes::new(),
                    30_000,
                    2_000_000_000,
                    0,
                );
                let raw = keys[k].sign_transaction(tx).unwrap().encoded();
                if let Some(h) = rpc.maybe("eth_sendRawTransaction", vec![json!(format!("0x{}", hex::encode(&raw)))]).await {
                    nonces[k] += 1;
                    pending.push((h.as_str().unwrap().parse().unwrap(), target));
                } else if let Some(n) = rpc.maybe("eth_getTransactionCount", vec![json!(keys[k].address()), "pending".into()]).await {
                    // Refused (e.g. a nonce already used through another validator): resync.
                    nonces[k] = hex_u128(&n) as u64;
                }
                // Record receipts as they are reported.
                let mut still = Vec::new();
                for (hash, at) in pending.drain(..) {
                    match Rpc::new(&urls[at]).maybe("eth_getTransactionReceipt", vec![json!(hash)]).await {
                        Some(r) if !r.is_null() => {
                            inc.lock().insert(hash, hex_u128(&r["blockNumber"]) as u64);
                        }
                        _ => still.push((hash, at)),
                    }
                }
                pending = still;
                // A transaction sent to a validator that then died may be lost before
                // inclusion (never reported): resend with the same nonce eventually.
                if pending.len() > 200 {
                    pending.drain(..100);
                }
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        });
        Self { stop, included, task }
    }

    async fn stop(self) -> BTreeMap<B256, u64> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.included.lock().clone()
    }
}

/// Every reported transaction is in the same block on validator `i` (once it has
/// caught up to the highest of those blocks).
async fn check_included(c: &Cluster, i: usize, included: &BTreeMap<B256, u64>) {
    if let Some(top) = included.values().max() {
        c.wait_height(i, *top, Duration::from_secs(60)).await;
    }
    let rpc = c.rpc(i);
    for (hash, block) in included {
        let r = rpc.call("eth_getTransactionReceipt", vec![json!(hash)]).await;
        assert!(!r.is_null(), "validator {i} lost reported transaction {hash}");
        assert_eq!(hex_u128(&r["blockNumber"]) as u64, *block, "transaction {hash} moved");
    }
}

async fn same_head(c: &Cluster, nodes: &[usize], height: u64) {
    let mut hashes = Vec::new();
    for &i in nodes {
        let b = c.rpc(i).call("eth_getBlockByNumber", vec![json!(format!("{height:#x}")), false.into()]).await;
        hashes.push((b["hash"].clone(), b["stateRoot"].clone()));
    }
    assert!(hashes.windows(2).all(|w| w[0] == w[1]), "validators disagree at height {height}: {hashes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n4_f1_primary_crash_cut_off_and_catch_up() {
    let _serial = crate::exclusive().await;
    let mut c = Cluster::new(4);
    for i in 0..4 {
        c.wait_height(i, 2, Duration::from_secs(60)).await;
    }
    let live = Arc::new(Mutex::new(vec![true; 4]));
    let load = Load::start(c.urls.clone(), live.clone());
    c.wait_height(0, 6, Duration::from_secs(30)).await;

    // Kill the primary: blocks keep committing on the other three, with a view change
    // whenever the dead validator's turn to propose comes (the proposer rotates by
    // height: within four heights it comes).
    let primary = c.primary(0).await;
    let others: Vec<usize> = (0..4).filter(|i| *i != primary).collect();
    let view_before = c.view(others[0]).await;
    live.lock()[primary] = false;
    c.kill(primary);
    let h = c.try_height(others[0]).await.unwrap();
    for &i in &others {
        c.wait_height(i, h + 5, Duration::from_secs(60)).await;
    }
    assert!(c.view(others[0]).await > view_before, "the dead proposer's turn was passed by a view change");

    // Restart it: it catches up to the same head and state root.
    c.start(primary);
    live.lock()[primary] = true;
    let h = c.try_height(others[0]).await.unwrap();
    c.wait_height(primary, h, Duration::from_secs(60)).await;
    same_head(&c, &[0, 1, 2, 3], h).await;

    // Cut a backup off (frozen: its peers see silence), keep going with three, bring it back.
    let backup = others[1];
    live.lock()[backup] = false;
    c.signal(backup, "-STOP");
    let alive: Vec<usize> = (0..4).filter(|i| *i != backup).collect();
    let h = c.try_height(alive[0]).await.unwrap();
    for &i in &alive {
        c.wait_height(i, h + 3, Duration::from_secs(60)).await;
    }
    c.signal(backup, "-CONT");
    live.lock()[backup] = true;
    let h = c.try_height(alive[0]).await.unwrap();
    c.wait_height(backup, h, Duration::from_secs(60)).await;
    same_head(&c, &[0, 1, 2, 3], h).await;

    let included = load.stop().await;
    assert!(included.len() > 10, "the load got transactions in: {}", included.len());
    for i in 0..4 {
        check_included(&c, i, &included).await;
    }
    let hashes = c.verify_chain(0, h).await;
    assert_eq!(c.verify_chain(backup, h).await, hashes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n4_restart_all_resumes_where_it_stopped() {
    let _serial = crate::exclusive().await;
    let mut c = Cluster::new(4);
    for i in 0..4 {
        c.wait_height(i, 3, Duration::from_secs(60)).await;
    }
    let live = Arc::new(Mutex::new(vec![true; 4]));
    let load = Load::start(c.urls.clone(), live.clone());
    c.wait_height(0, 6, Duration::from_secs(30)).await;
    let included = load.stop().await;
    let mut heights = Vec::new();
    for i in 0..4 {
        heights.push(c.try_height(i).await.unwrap());
        c.kill(i);
    }
    for i in 0..4 {
        c.start(i);
    }
    let top = *heights.iter().max().unwrap();
    for i in 0..4 {
        c.wait_height(i, top + 2, Duration::from_secs(90)).await;
    }
    same_head(&c, &[0, 1, 2, 3], top + 2).await;
    for i in 0..4 {
        check_included(&c, i, &included).await;
    }
    c.verify_chain(0, top + 2).await;

    // Auditors: receipts picked across the run verify offline with `strata audit`,
    // against the validator set of genesis.json only; a tampered bundle does not.
    let genesis = c.configs[0].parent().unwrap().parent().unwrap().join("genesis.json");
    let picks: Vec<&B256> = included.keys().step_by((included.len() / 3).max(1)).take(3).collect();
    assert!(!picks.is_empty());
    for (n, tx) in picks.into_iter().enumerate() {
        let save = c.configs[0].parent().unwrap().join(format!("bundle-{n}.json"));
        let out = strata(&[
            "audit",
            "receipt",
            &tx.to_string(),
            "--rpc",
            &c.urls[n % 4],
            "--genesis",
            genesis.to_str().unwrap(),
            "--save",
            save.to_str().unwrap(),
        ]);
        assert!(out.contains("VERIFIED:") && out.contains("finalized by"), "{out}");
        let out = strata(&["audit", "receipt", "--offline", save.to_str().unwrap(), "--genesis", genesis.to_str().unwrap()]);
        assert!(out.contains("VERIFIED:"), "{out}");
        // Tamper with the receipt inside the bundle: the verdict must flip.
        let mut bundle: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&save).unwrap()).unwrap();
        let blob = bundle["bundle"].as_str().unwrap().to_string();
        let i = blob.len() / 3;
        let flipped = if &blob[i..i + 1] == "0" { "1" } else { "0" };
        bundle["bundle"] = json!(format!("{}{}{}", &blob[..i], flipped, &blob[i + 1..]));
        std::fs::write(&save, bundle.to_string()).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(["audit", "receipt", "--offline", save.to_str().unwrap(), "--genesis", genesis.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!out.status.success(), "a tampered bundle must not verify: {}", String::from_utf8_lossy(&out.stdout));
    }
}
