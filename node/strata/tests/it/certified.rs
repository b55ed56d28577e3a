//! Storage certificates with real processes: 4 validators (`strata run`, RocksDB, TCP on
//! 127.0.0.1) whose stable primary is faulty — it leaves certified transactions out of
//! its blocks (the test-only `test_drop_certified`). A certificate comes back before the
//! block; the receiving validator is killed with SIGKILL at once; the others refuse the
//! primary's block at the expiry height, change the view, and the next primary includes
//! the transaction by its expiry. Then every validator is killed with SIGKILL and
//! restarted: a transaction certified just before is reloaded from the journals and
//! included. Two payloads for one nonce sent to two validators at once: at most one is
//! certified. `strata audit certificate` verifies a saved certificate and its inclusion,
//! and refuses one with a duplicated signature. A certified transaction that can never
//! go in (a nonce gap) is resolved in the header of its expiry block, which the audit
//! proves.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use strata_primitives::{Address, Bytes, TxKind, U256, hex, rlp_item::decode_exact, storage_cert::StorageCertificate, transaction::build};

use crate::{
    procs::{Procs, set_config},
    rpc::{RpcError, hex_u128},
};

const CHAIN_ID: u64 = 4646;
/// The test chain's `certified_expiry`.
const EXPIRY: u64 = 20;

struct Net {
    procs: Procs,
    genesis: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Net {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("net");
        let p2p = crate::free_ports(4).to_string();
        let rpc = crate::free_ports(4).to_string();
        let status = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(["init", "--out", out.to_str().unwrap(), "--validators", "4", "--chain-id", &CHAIN_ID.to_string()])
            .args(["--p2p-port", &p2p, "--rpc-port", &rpc])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let genesis = out.join("genesis.json");
        let mut g: Value = serde_json::from_str(&std::fs::read_to_string(&genesis).unwrap()).unwrap();
        g["proposer_rotation"] = "stable".into();
        g["certified_expiry"] = EXPIRY.into();
        std::fs::write(&genesis, serde_json::to_string_pretty(&g).unwrap()).unwrap();
        let (mut configs, mut urls) = (Vec::new(), Vec::new());
        for i in 0..4 {
            let path = out.join(format!("validator-{i}/config.toml"));
            set_config(&path, &[("block_time_ms", "200"), ("empty_block_ms", "300"), ("view_timeout_ms", "1500")]);
            if i == 0 {
                let text = std::fs::read_to_string(&path).unwrap();
                std::fs::write(&path, format!("{text}\ntest_drop_certified = true\n")).unwrap();
            }
            urls.push(format!("http://{}", strata_node::config::ValidatorConfig::load(&path).unwrap().rpc_addr));
            configs.push(path);
        }
        let mut net = Self { procs: Procs::new(configs, urls), genesis, _dir: dir };
        for i in 0..4 {
            net.procs.start(i);
        }
        net
    }

    async fn height(&self, i: usize) -> u64 {
        self.procs.rpc(i).maybe("eth_blockNumber", vec![]).await.map_or(0, |v| hex_u128(&v) as u64)
    }

    async fn certify(&self, i: usize, raw: &Bytes) -> Result<Value, RpcError> {
        self.procs.rpc(i).try_call("strata_sendRawTransactionCertified", vec![json!(raw)]).await
    }

    /// Waits until validator `i` has a receipt for `hash`; returns its block number.
    async fn included(&self, i: usize, hash: &str, within: Duration) -> u64 {
        let deadline = Instant::now() + within;
        loop {
            if let Some(r) = self.procs.rpc(i).maybe("eth_getTransactionReceipt", vec![hash.into()]).await
                && !r.is_null()
            {
                return hex_u128(&r["blockNumber"]) as u64;
            }
            if Instant::now() >= deadline {
                let logs: Vec<String> = (0..4).map(|j| format!("--- validator {j}:\n{}", self.procs.tail(j))).collect();
                panic!("{hash} not included on validator {i} within {within:?}\n{}", logs.join("\n"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn audit(&self, file: &std::path::Path, rpc: Option<&str>) -> (bool, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_strata"));
        cmd.args(["audit", "certificate", file.to_str().unwrap(), "--genesis", self.genesis.to_str().unwrap()]);
        if let Some(url) = rpc {
            cmd.args(["--rpc", url]);
        }
        let out = cmd.output().unwrap();
        (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

/// A transfer from dev account `account`, signed for the test chain.
fn transfer(account: usize, nonce: u64, value: u64) -> Bytes {
    crate::dev_transfer(CHAIN_ID, account, nonce, value)
}

fn certificate_of(answer: &Value) -> StorageCertificate {
    decode_exact::<StorageCertificate>(&hex::decode(answer["certificate"].as_str().unwrap()).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n4_f1_certificates_outlive_kill9_and_a_primary_that_drops_them() {
    let _serial = crate::exclusive().await;
    let mut net = Net::new();
    for i in 0..4 {
        net.procs.wait_height(i, 2, Duration::from_secs(60)).await;
    }

    // A certificate through validator 2, before any block has the transaction.
    let asked = Instant::now();
    let answer = net.certify(2, &transfer(0, 0, 11)).await.unwrap();
    let took = asked.elapsed();
    let cert = certificate_of(&answer);
    let hash = answer["transactionHash"].as_str().unwrap().to_string();
    assert!(cert.signatures.len() >= 3, "{answer}");
    assert_eq!(cert.claim.expiry, cert.claim.height + EXPIRY);
    let saved = net.genesis.with_file_name("certificate.json");
    std::fs::write(&saved, serde_json::to_string_pretty(&answer).unwrap()).unwrap();
    // The receiving validator dies at once.
    net.procs.kill(2);
    println!("certificate in {} ms (signers {:?}); validator 2 killed", took.as_millis(), answer["signers"]);

    // The stable primary (validator 0) drops it; at its expiry the others refuse its
    // block and the next primary includes it.
    let block = net.included(1, &hash, Duration::from_secs(60)).await;
    assert!(block <= cert.claim.expiry, "included at {block}, expiry {}", cert.claim.expiry);
    let view = hex_u128(&net.procs.rpc(1).call("strata_consensusStatus", vec![]).await["view"]);
    assert!(view >= 1, "the dropping primary lost its view");
    let (ok, text) = net.audit(&saved, Some(&net.procs.urls[1]));
    assert!(ok && text.contains("VERIFIED:") && text.contains("INCLUDED in block"), "{text}");

    // A duplicated signature, or a signature moved to another signer: refused.
    let mut forged = cert.clone();
    forged.signatures[1] = forged.signatures[0];
    let mut bad = answer.clone();
    bad["certificate"] = json!(format!("0x{}", hex::encode(strata_primitives::rlp::encode(&forged))));
    std::fs::write(&saved, bad.to_string()).unwrap();
    let (ok, text) = net.audit(&saved, None);
    assert!(!ok && text.contains("NOT VERIFIED"), "{text}");
    let mut moved = cert.clone();
    moved.signatures[0].validator = 3 - moved.signatures[0].validator.min(3);
    moved.signatures.sort_by_key(|s| s.validator);
    bad["certificate"] = json!(format!("0x{}", hex::encode(strata_primitives::rlp::encode(&moved))));
    std::fs::write(&saved, bad.to_string()).unwrap();
    assert!(!net.audit(&saved, None).0);

    // Back to four; an invalid transaction gets no certificate and a clear error.
    net.procs.start(2);
    net.procs.wait_height(2, net.height(1).await, Duration::from_secs(60)).await;
    let unfunded = {
        let key = strata_primitives::LocalSigner::from_bytes(&strata_primitives::keccak256("nobody")).unwrap();
        let tx =
            build::eip1559(CHAIN_ID, 0, TxKind::Call(Address::repeat_byte(1)), U256::from(1u64), Bytes::new(), 30_000, 2_000_000_000, 0);
        key.sign_transaction(tx).unwrap().encoded()
    };
    let e = net.certify(3, &unfunded).await.unwrap_err();
    assert!(e.message.contains("insufficient"), "{e:?}");

    // Two payloads for one nonce at two validators at once: at most one certificate.
    let (one, two) = (transfer(1, 0, 1), transfer(1, 0, 2));
    let (a, b) = tokio::join!(net.certify(1, &one), net.certify(3, &two));
    assert!(!(a.is_ok() && b.is_ok()), "one nonce, two certificates: {a:?} {b:?}");

    // Certified while it cannot be included yet (nonce 1, nonce 0 not sent), then every
    // validator killed with SIGKILL and restarted: only the journals remember it. Once
    // nonce 0 arrives it is included, by its expiry.
    let answer = net.certify(3, &transfer(2, 1, 5)).await.unwrap();
    let cert = certificate_of(&answer);
    let hash = answer["transactionHash"].as_str().unwrap().to_string();
    for i in 0..4 {
        net.procs.kill(i);
    }
    for i in 0..4 {
        net.procs.start(i);
    }
    for i in 0..4 {
        net.procs.wait_height(i, cert.claim.height, Duration::from_secs(60)).await;
    }
    assert!(net.procs.rpc(1).call("eth_getTransactionReceipt", vec![hash.clone().into()]).await.is_null());
    net.procs.rpc(0).call("eth_sendRawTransaction", vec![json!(transfer(2, 0, 5))]).await;
    let block = net.included(1, &hash, Duration::from_secs(60)).await;
    println!("after kill -9 of all four: included at {block} (expiry {})", cert.claim.expiry);
    assert!(block <= cert.claim.expiry, "included at {block}, expiry {}", cert.claim.expiry);

    // Certified behind a gap that never fills (nonce 1 of account 3, whose nonce 0 is
    // never sent): the block at its expiry says why it does not carry it, and the audit
    // proves that from the header and its commit certificate.
    let answer = net.certify(1, &transfer(3, 1, 5)).await.unwrap();
    let cert = certificate_of(&answer);
    std::fs::write(&saved, serde_json::to_string_pretty(&answer).unwrap()).unwrap();
    net.procs.wait_height(1, cert.claim.expiry + 1, Duration::from_secs(60)).await;
    let expiry = json!(format!("{:#x}", cert.claim.expiry));
    let record = net.procs.rpc(1).call("strata_getCertifiedResolutions", vec![expiry]).await;
    assert_eq!(record["resolutions"][0]["transactionHash"], answer["transactionHash"], "{record}");
    assert_eq!(record["resolutions"][0]["reason"], "0x2", "a nonce gap: {record}");
    let (ok, text) = net.audit(&saved, Some(&net.procs.urls[1]));
    assert!(ok && text.contains("RESOLVED in block"), "{text}");
}
