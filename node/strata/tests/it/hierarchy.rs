//! `n1x3`: a hierarchy of three chains — main → contract chain → proof chain — each one
//! validator (`strata run`), with relayers each way and a storage provider, all real
//! processes on loopback, driven through the `strata` CLI and JSON-RPC.
//!
//! The storage deal's whole life: chains registered, the market deployed, a deal opened
//! and accepted, three windows proven on the proof chain and settled on the contract
//! chain by the relayer (killed -9 and restarted in the middle: nothing settled twice,
//! nothing lost), a skipped window slashed after its grace, the balances to the wei, and
//! a forged relay (a certificate by non-members) refused on chain with its reason.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command},
    time::{Duration, Instant},
};

use alloy_sol_types::{SolCall, SolEvent};
use serde_json::{Value, json};
use strata_node::{
    client::{Node, quantity},
    hierarchy::{Reverted, estimate, send, view},
};
use strata_primitives::{
    Address, B256, CertSignature, CommitCertificate, LocalSigner, U256,
    interfaces::{IChainRegistry, IStorageDeal, IStorageProof},
    keys,
    relay::RelayedLog,
    rlp_item::decode_exact,
    system::CHAIN_REGISTRY,
};

use crate::procs::{Procs, set_config};

const WINDOWS: u32 = 4;
const WINDOW_BLOCKS: u64 = 8;
const GRACE: u64 = 6;

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

pub(crate) fn dev(i: usize) -> LocalSigner {
    keys::derive_accounts(keys::DEV_MNEMONIC, 10).unwrap()[i].signer.clone()
}

/// Runs the `strata` binary to completion; its stdout, or a panic with its output.
pub(crate) fn strata(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_strata")).args(args).env("RUST_LOG", "warn").output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(out.status.success(), "strata {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

pub(crate) async fn strata_async(args: Vec<String>) -> String {
    tokio::task::spawn_blocking(move || strata(&args.iter().map(String::as_str).collect::<Vec<_>>())).await.unwrap()
}

/// A long-running `strata` process (relayer, provider), killed with SIGKILL on drop.
pub(crate) struct Daemon {
    child: Option<Child>,
    args: Vec<String>,
    log: PathBuf,
}

impl Daemon {
    pub(crate) fn start(args: &[String], log: PathBuf) -> Daemon {
        let mut d = Daemon { child: None, args: args.to_vec(), log };
        d.restart();
        d
    }

    pub(crate) fn restart(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(&self.args)
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown path runs.
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(25)..].join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Writes chain `id` (one validator) under `dir`, a child of the chain of `parent` if given.
pub(crate) fn init_chain(dir: &Path, id: u64, parent: Option<&Path>) -> (PathBuf, String) {
    let base = crate::free_ports(2);
    let (p2p, rpc) = (base.to_string(), (base + 1).to_string());
    let out = dir.to_str().unwrap();
    let mut args = vec!["init", "--out", out, "--validators", "1", "--chain-id"];
    let id = id.to_string();
    args.extend([id.as_str(), "--p2p-port", &p2p, "--rpc-port", &rpc]);
    let parent_path;
    if let Some(p) = parent {
        parent_path = p.join("genesis.json").to_str().unwrap().to_string();
        args.extend(["--parent", &parent_path]);
    }
    strata(&args);
    let config = dir.join("validator-0/config.toml");
    set_config(&config, &[("block_time_ms", "250"), ("empty_block_ms", "300"), ("view_timeout_ms", "2000")]);
    (config, format!("http://127.0.0.1:{rpc}"))
}

pub(crate) async fn wait_for<T>(what: &str, within: Duration, logs: &[&Daemon], mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        if Instant::now() > deadline {
            let tails: Vec<String> = logs.iter().map(|d| format!("--- {}\n{}", d.log.display(), d.tail())).collect();
            panic!("{what}: not within {within:?}\n{}", tails.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The fee a receipt paid.
fn fee(receipt: &Value) -> U256 {
    U256::from(quantity(&receipt["gasUsed"]).unwrap()) * U256::from(quantity(&receipt["effectiveGasPrice"]).unwrap())
}

async fn balance(node: &Node, who: Address) -> U256 {
    let v = node.request("eth_getBalance", vec![json!(who), "latest".into()]).await.unwrap();
    strata_node::client::big_quantity(&v).unwrap()
}

/// Logs of `event` emitted by `address`.
async fn events<E: SolEvent>(node: &Node, address: Address) -> Vec<(Value, E)> {
    let filter = json!({"fromBlock": "0x0", "toBlock": "latest", "address": address, "topics": [E::SIGNATURE_HASH]});
    let logs = node.request("eth_getLogs", vec![filter]).await.unwrap();
    logs.as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let topics: Vec<B256> = l["topics"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().parse().unwrap()).collect();
            let data = strata_primitives::hex::decode(l["data"].as_str().unwrap().trim_start_matches("0x")).unwrap();
            (l.clone(), E::decode_raw_log(topics, &data).unwrap())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n1x3_storage_deal_lifecycle_over_three_chains() {
    let _machine = crate::share().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Three chains, each the child of the one before.
    let (main_cfg, main_url) = init_chain(&dir.join("main"), 1100, None);
    let (contract_cfg, contract_url) = init_chain(&dir.join("contract"), 2200, Some(&dir.join("main")));
    let (proof_cfg, proof_url) = init_chain(&dir.join("proof"), 3300, Some(&dir.join("contract")));
    let mut chains = Procs::new(vec![main_cfg, contract_cfg, proof_cfg], vec![main_url.clone(), contract_url.clone(), proof_url.clone()]);
    for i in 0..3 {
        chains.start(i);
    }
    for i in 0..3 {
        chains.wait_height(i, 1, Duration::from_secs(60)).await;
    }
    let (contract, proof) = (Node::connect(&contract_url).unwrap(), Node::connect(&proof_url).unwrap());

    // Registration: the contract chain with main, the proof chain with the contract chain.
    let genesis = |c: &str| dir.join(c).join("genesis.json").to_str().unwrap().to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    strata_async(s(&["chain", "register", "--rpc", &main_url, "--genesis", &genesis("contract"), "--dev-key", "0"])).await;
    strata_async(s(&["chain", "register", "--rpc", &contract_url, "--genesis", &genesis("proof"), "--dev-key", "0"])).await;
    let status: Value = serde_json::from_str(&strata_async(s(&["chain", "status", "--rpc", &proof_url, "--json"])).await).unwrap();
    assert_eq!(status["parent"]["chainId"], 2200, "{status}");
    assert_eq!(status["chains"][0]["role"], "parent", "{status}");
    let status: Value = serde_json::from_str(&strata_async(s(&["chain", "status", "--rpc", &main_url, "--json"])).await).unwrap();
    assert_eq!((status["chains"][0]["chainId"].clone(), status["chains"][0]["role"].clone()), (json!(2200), json!("child")), "{status}");

    // The market: the proof contract on the proof chain, the deal contract on the contract chain.
    let wasm = |rel: &'static str| async move {
        let manifest = crate::repo(rel);
        tokio::task::spawn_blocking(move || strata_harness::build_contract(manifest.to_str().unwrap())).await.unwrap().unwrap()
    };
    let (deal_wasm, proof_wasm) = (dir.join("deal.wasm"), dir.join("proof.wasm"));
    std::fs::write(&deal_wasm, wasm("contracts/storage/deal").await).unwrap();
    std::fs::write(&proof_wasm, wasm("contracts/storage/proof").await).unwrap();
    let out = strata_async(s(&[
        "deal",
        "deploy",
        "--contract-rpc",
        &contract_url,
        "--proof-rpc",
        &proof_url,
        "--deal-wasm",
        deal_wasm.to_str().unwrap(),
        "--proof-wasm",
        proof_wasm.to_str().unwrap(),
        "--grace-blocks",
        &GRACE.to_string(),
        "--dev-key",
        "0",
    ]))
    .await;
    let addr = |label: &str| -> Address {
        out.lines().find(|l| l.starts_with(label)).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let (deals, proofs) = (addr("deals"), addr("proofs"));

    // The provider keeps the file; the relayers carry DealOpened down, StorageProved up,
    // and the contract chain's checkpoints to main.
    let file = dir.join("record.bin");
    let data: Vec<u8> = (0..20 * 1024 + 37u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    let provider_dir = dir.join("provider");
    strata_async(s(&["provider", "store", file.to_str().unwrap(), "--data", provider_dir.to_str().unwrap()])).await;
    let provider = Daemon::start(
        &s(&[
            "provider",
            "run",
            "--contract-rpc",
            &contract_url,
            "--proof-rpc",
            &proof_url,
            "--deals",
            &deals.to_string(),
            "--proofs",
            &proofs.to_string(),
            "--data",
            provider_dir.to_str().unwrap(),
            "--dev-key",
            "2",
            "--skip",
            "1:3",
            "--poll",
            "200ms",
        ]),
        dir.join("provider.log"),
    );
    let down = Daemon::start(
        &s(&[
            "relay",
            "--from",
            &contract_url,
            "--to",
            &proof_url,
            "--route",
            &format!("{deals}:DealOpened={proofs}:announceDeal"),
            "--dev-key",
            "3",
            "--state",
            dir.join("down.json").to_str().unwrap(),
            "--poll",
            "200ms",
        ]),
        dir.join("down.log"),
    );
    let up_args = s(&[
        "relay",
        "--from",
        &proof_url,
        "--to",
        &contract_url,
        "--route",
        &format!("{proofs}:StorageProved={deals}:settleProof"),
        "--dev-key",
        "3",
        "--state",
        dir.join("up.json").to_str().unwrap(),
        "--checkpoint-every",
        "2",
        "--poll",
        "200ms",
    ]);
    let mut up = Daemon::start(&up_args, dir.join("up.log"));
    let to_main = Daemon::start(&s(&["relay", "--from", &contract_url, "--to", &main_url, "--dev-key", "3"]), dir.join("main.log"));

    // The client opens the deal, starting 40 proof-chain blocks from now (the provider
    // accepts deals starting at least 20 ahead).
    let (client, provider_key) = (dev(1), dev(2));
    let client_before = balance(&contract, client.address()).await;
    let provider_before = balance(&contract, provider_key.address()).await;
    let start = strata_node::hierarchy::head(&proof).await.unwrap() + 40;
    let open = IStorageDeal::openDealCall {
        root: strata_primitives::segments::merkle_root(&data),
        size: data.len() as u64,
        windows: WINDOWS,
        startBlock: start,
        windowBlocks: WINDOW_BLOCKS,
        challenges: 4,
        pricePerWindow: ether(1),
        provider: provider_key.address(),
        collateral: ether(2),
    };
    let opened = send(&contract, &client, deals, ether(u64::from(WINDOWS)), &open).await.unwrap();
    let daemons = [&provider, &down, &up, &to_main];
    let state = async || view(&contract, deals, &IStorageDeal::dealCall { dealId: 1 }).await.unwrap().state;
    wait_for("the provider accepts", Duration::from_secs(30), &daemons, async || (state().await == 1).then_some(())).await;
    wait_for("the deal reaches the proof chain", Duration::from_secs(30), &daemons, async || {
        view(&proof, proofs, &IStorageProof::dealCall { dealId: 1 }).await.unwrap().known.then_some(())
    })
    .await;

    // Window 0 paid; then the relayer that settles is killed -9 and restarted while
    // window 1 is proven.
    let window = async |w: u32| view(&contract, deals, &IStorageDeal::windowStateCall { dealId: 1, window: w }).await.unwrap();
    wait_for("window 0 paid", Duration::from_secs(60), &daemons, async || (window(0).await == 1).then_some(())).await;
    // Window 3, to be skipped, is far from due: slashing it now is refused.
    let slasher = dev(4);
    let slash = IStorageDeal::slashWindowCall { dealId: 1, window: 3 };
    let early = estimate(&contract, slasher.address(), deals, U256::ZERO, &slash.abi_encode()).await.unwrap_err();
    assert!(early.downcast_ref::<Reverted>().is_some_and(|r| r.reason.contains("NotDue")), "{early:#}");
    up.kill();
    let others = [&provider, &down, &to_main];
    wait_for("window 1 proven", Duration::from_secs(60), &others, async || {
        view(&proof, proofs, &IStorageProof::provenCall { dealId: 1, window: 1 }).await.unwrap().then_some(())
    })
    .await;
    up.restart();
    let daemons = [&provider, &down, &up, &to_main];
    for w in [1, 2] {
        wait_for(&format!("window {w} paid"), Duration::from_secs(60), &daemons, async || (window(w).await == 1).then_some(())).await;
    }

    // Window 3 was skipped: slashable once the proof chain's checkpoint passes its end + grace.
    let due = start + u64::from(WINDOWS) * WINDOW_BLOCKS + GRACE;
    wait_for("the checkpoint passes window 3's grace", Duration::from_secs(60), &daemons, async || {
        let info = view(&contract, CHAIN_REGISTRY, &IChainRegistry::chainInfoCall { chainId: 3300 }).await.unwrap();
        (info.checkpointHeight >= due).then_some(())
    })
    .await;
    send(&contract, &slasher, deals, U256::ZERO, &slash).await.unwrap();
    assert_eq!(window(3).await, 2);

    // Each window settled exactly once, and the relayer sent nothing that failed.
    let paid = events::<IStorageDeal::WindowPaid>(&contract, deals).await;
    let mut windows: Vec<u32> = paid.iter().map(|(_, e)| e.window).collect();
    windows.sort_unstable();
    assert_eq!(windows, vec![0, 1, 2], "each proven window paid once");
    let relayer = dev(3).address();
    let head = strata_node::hierarchy::head(&contract).await.unwrap();
    for n in 1..=head {
        let receipts = contract.request("eth_getBlockReceipts", vec![json!(format!("{n:#x}"))]).await.unwrap();
        for r in receipts.as_array().unwrap() {
            if r["from"].as_str().unwrap().parse::<Address>().unwrap() == relayer {
                assert_eq!(r["status"], "0x1", "the relayer sent a transaction that failed: {r}");
            }
        }
    }

    // A forged relay: window 0's event with a certificate by keys that are not the proof
    // chain's validators. Refused on chain with the reason.
    let tx = paid[0].0["transactionHash"].clone();
    let settled = contract.request("eth_getTransactionByHash", vec![tx]).await.unwrap();
    let input = strata_primitives::hex::decode(settled["input"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    let mut relayed = decode_exact::<RelayedLog>(&IStorageDeal::settleProofCall::abi_decode(&input).unwrap().relayed).unwrap();
    let header = &relayed.bundle.header;
    let digest = strata_primitives::commit_digest(3300, header.number, 0, header.hash_slow());
    let stranger = LocalSigner::from_bytes(&B256::repeat_byte(0x42)).unwrap();
    relayed.bundle.certificate = alloy_rlp::encode(CommitCertificate {
        height: header.number,
        view: 0,
        block_hash: header.hash_slow(),
        signatures: vec![CertSignature::new(0, &stranger.sign_hash(&digest).unwrap())],
    })
    .into();
    let forged = IStorageDeal::settleProofCall { relayed: alloy_rlp::encode(&relayed).into() };
    let refused = estimate(&contract, slasher.address(), deals, U256::ZERO, &forged.abi_encode()).await.unwrap_err();
    assert!(refused.downcast_ref::<Reverted>().is_some_and(|r| r.reason.contains("BadCertificate")), "{refused:#}");

    // Withdrawals, and the balances to the wei.
    let share = ether(2) / U256::from(WINDOWS);
    let last_share = ether(2) - share * U256::from(WINDOWS - 1);
    let w_client = send(&contract, &client, deals, U256::ZERO, &IStorageDeal::withdrawCall {}).await.unwrap();
    let w_provider = send(&contract, &provider_key, deals, U256::ZERO, &IStorageDeal::withdrawCall {}).await.unwrap();
    let accepted = events::<IStorageDeal::DealOpened>(&contract, deals).await;
    let accept_tx = contract.request("eth_getTransactionReceipt", vec![accepted[0].0["transactionHash"].clone()]).await.unwrap();
    assert_eq!(balance(&contract, deals).await, U256::ZERO, "everything escrowed was paid out");
    let client_after = balance(&contract, client.address()).await;
    let provider_after = balance(&contract, provider_key.address()).await;
    assert_eq!(client_before - client_after, ether(u64::from(WINDOWS)) - (ether(1) + last_share) + fee(&opened) + fee(&w_client));
    assert_eq!(provider_after + fee(&accept_tx) + fee(&w_provider) + ether(2), provider_before + (ether(1) + share) * U256::from(3u64));
    drop((provider, down, up, to_main));
}
