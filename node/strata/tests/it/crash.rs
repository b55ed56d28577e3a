//! kill -9 of a real `strata dev` process under load, at seeded random moments:
//! the chain reopens at the last complete block, nothing reported as included is
//! lost, and the flat state matches the head block's state root.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

use alloy_primitives::{Address, Bytes, U256, hex};
use serde_json::{Value, json};
use strata_primitives::{TxKind, transaction::build};
use strata_storage::KvStore;

use crate::rpc::{Rpc, hex_u128};

/// A node process, killed (SIGKILL) and reaped when dropped, so a failing test leaves
/// no node behind.
struct NodeProcess(Child);

impl NodeProcess {
    fn kill9(&mut self) {
        self.0.kill().expect("kill -9"); // SIGKILL on unix
        self.0.wait().unwrap();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `strata dev` on an OS-chosen port and returns the child and its RPC URL.
fn spawn_node(dir: &std::path::Path) -> (NodeProcess, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["dev", "--rpc-addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn strata");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("strata exited before listening").unwrap();
        if let Some(rest) = line.strip_prefix("JSON-RPC: ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (NodeProcess(child), url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_under_load_never_loses_or_half_writes_blocks() {
    let _serial = crate::exclusive().await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let (mut rng, seed) = strata_testdata::Rng::from_env(now);
    let dir = tempfile::tempdir().unwrap();
    let alice = strata_node::dev_accounts().unwrap()[0].signer.clone();
    let to = Address::repeat_byte(0x77);
    let mut confirmed: Vec<(Value, Value)> = Vec::new(); // (tx hash, block hash)

    for round in 0..3 {
        let (mut child, url) = spawn_node(dir.path());
        let rpc = Arc::new(Rpc::new(&url));
        // Everything confirmed before earlier kills is still there, in the same block.
        for (hash, block) in &confirmed {
            let r = rpc.call("eth_getTransactionReceipt", vec![hash.clone()]).await;
            assert_eq!(&r["blockHash"], block, "seed {seed} round {round}: lost or moved {hash}");
        }
        let kill_after = Duration::from_millis(150 + rng.next() % 600);
        let start = std::time::Instant::now();
        let mut nonce = rpc.quantity("eth_getTransactionCount", vec![json!(alice.address()), "latest".into()]).await as u64;
        while start.elapsed() < kill_after {
            let mut hashes = Vec::new();
            for _ in 0..4 {
                let tx = build::eip1559(1337, nonce, TxKind::Call(to), U256::from(1u64), Bytes::new(), 21_000, 2_000_000_000, 1);
                let raw = format!("0x{}", hex::encode(alice.sign_transaction(tx).unwrap().encoded()));
                hashes.push(rpc.call("eth_sendRawTransaction", vec![raw.into()]).await);
                nonce += 1;
            }
            for h in hashes {
                let r = rpc.wait_receipt(h.as_str().unwrap()).await;
                confirmed.push((h, r["blockHash"].clone()));
            }
        }
        child.kill9();
    }

    let head = offline_check(dir.path(), seed);
    assert!(!confirmed.is_empty(), "seed {seed}: no transaction was confirmed");

    // A node restarted on it serves the same head, and every transfer is there.
    let (mut child, url) = spawn_node(dir.path());
    let rpc = Rpc::new(&url);
    assert_eq!(rpc.quantity("eth_blockNumber", vec![]).await, u128::from(head));
    let n = confirmed.len() as u128;
    assert!(hex_u128(&rpc.call("eth_getBalance", vec![json!(to), "latest".into()]).await) >= n);
    child.kill9();
}

/// Opens the database directly and checks it block by block: every block present
/// and linked, receipts present, nothing past the head, and the flat state's root
/// equal to the head's state root. Returns the head number.
fn offline_check(dir: &std::path::Path, seed: u64) -> u64 {
    let kv = Arc::new(strata_db::RocksKv::open(dir.join("chain")).unwrap());
    let store = strata_chain::BlockStore::new(kv.clone());
    let head = store.head_number().unwrap().unwrap();
    let mut parent = None;
    for n in 0..=head {
        let block = store.block(n).unwrap().unwrap_or_else(|| panic!("seed {seed}: block {n} missing"));
        if let Some(p) = parent {
            assert_eq!(block.header().parent_hash, p, "seed {seed}: block {n} does not link");
        }
        assert!(store.receipts(n).unwrap().is_some(), "seed {seed}: receipts of {n} missing");
        parent = Some(block.hash);
    }
    let head_header = store.header(head).unwrap().unwrap();
    assert_eq!(
        strata_state::flat_state_root(&(kv.clone() as strata_storage::SharedKv)).unwrap(),
        head_header.state_root,
        "seed {seed}: flat state does not match head root"
    );
    assert!(kv.get(strata_storage::Column::Headers, &(head + 1).to_be_bytes()).unwrap().is_none());
    head
}
