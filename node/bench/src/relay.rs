//! Hierarchy benchmark, two parts.
//!
//! 1. **Verification in Wasm against native.** A relayed log — receipt proof,
//!    transaction proof, header, a commit certificate of 4 and of 7 validators (2f+1
//!    signatures) — is verified by the chain registry (the committed genesis module, in
//!    the real runtime: harness chains) and by the same `strata_protocol` code natively
//!    (k256). Figures: the registry call's gas, the wall time of each (median), their
//!    ratio; the relayed log's size and a window's proof (`prove` calldata) size.
//! 2. **Relay latency.** A contract chain and a proof chain (one `strata run` each, release
//!    binary), the storage market, the relayers and a provider proving a window every
//!    two blocks: time from each `StorageProved` being seen on the proof chain to its
//!    `WindowPaid` being seen on the contract chain, p50 and p99, beside each chain's
//!    measured block time (goal: within 2 block times plus RPC latency).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use alloy_sol_types::{SolCall, SolEvent, SolValue};
use serde_json::{Value, json};
use strata_harness::TestChain;
use strata_primitives::{
    Address, B256, U256,
    interfaces::{IChainRegistry, IStorageDeal, IStorageProof},
    registry::check_quorum,
    relay::verify_relayed_log,
    segments,
    system::CHAIN_REGISTRY,
};

use crate::{
    load::{Procs, free_port_base, spawn, strata_bin},
    median,
};

/// Settings of the hierarchy benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Repetitions of each verification (medians).
    #[arg(long, default_value_t = 15)]
    pub rounds: usize,
    /// Windows the provider proves for the latency run (one every `--window-blocks`).
    #[arg(long, default_value_t = 24)]
    pub windows: u32,
    /// Proof-chain blocks per window.
    #[arg(long, default_value_t = 2)]
    pub window_blocks: u64,
    /// Block time of both chains (ms).
    #[arg(long, default_value_t = 250)]
    pub block_time_ms: u64,
    /// The `strata` binary (default: beside this one).
    #[arg(long)]
    pub strata: Option<PathBuf>,
}

impl Default for Args {
    fn default() -> Self {
        Self { rounds: 15, windows: 24, window_blocks: 2, block_time_ms: 250, strata: None }
    }
}

/// Runs the benchmark and prints its figures.
pub fn run(args: &Args) -> anyhow::Result<()> {
    println!("== relay: verifying relayed logs in Wasm against natively; relay latency across two chains");
    for n in [4usize, 7] {
        verification(n, args.rounds)?;
    }
    latency(args)
}

fn ms(d: f64) -> String {
    format!("{:.2} ms", d * 1e3)
}

/// Part 1 for an `n`-validator source chain.
fn verification(n: usize, rounds: usize) -> anyhow::Result<()> {
    const CHILD: u64 = 77;
    let mut main = TestChain::new();
    let none = (main.address(0), U256::ZERO, 0u64, Address::ZERO, B256::ZERO, Vec::<Address>::new(), 0u32).abi_encode_params();
    main.install(CHAIN_REGISTRY, strata_executor::system::REGISTRY_WASM, &none)?;
    let mut child = TestChain::with_validators(CHILD, n);
    child.install(CHAIN_REGISTRY, strata_executor::system::REGISTRY_WASM, &none)?;
    let emit = IChainRegistry::setRegistrationFeeCall { fee: U256::from(5u64) };
    let r = child.send(0, strata_harness::TxKind::Call(CHAIN_REGISTRY), U256::ZERO, emit.abi_encode(), 1_000_000)?;
    let (block, log) = (r.block_number, r.logs[0].clone());
    let set = strata_primitives::ValidatorSet::new(child.validators());
    let quorum = set.quorum();
    let signers: Vec<usize> = (0..quorum).collect();
    main.call_sol(
        0,
        CHAIN_REGISTRY,
        &IChainRegistry::registerCall {
            chainId: CHILD,
            genesisHash: child.block_hash(0).unwrap_or_default(),
            validators: child.validators(),
            quorum: quorum as u32,
        },
    )?;
    let checkpoint = IChainRegistry::checkpointCall {
        chainId: CHILD,
        header: alloy_rlp::encode(child.header(block).unwrap_or_default()).into(),
        certificate: child.certificate(block, &signers),
    };
    main.call_sol(0, CHAIN_REGISTRY, &checkpoint)?;
    let relayed = child.relayed_log(block, &log, &signers);
    let encoded = alloy_rlp::encode(&relayed);
    let call = IChainRegistry::verifyLogCall { chainId: CHILD, relayed: encoded.clone().into() };

    // Gas: the call as a transaction, beside a trivial call to the same contract.
    let gas = main.send(0, strata_harness::TxKind::Call(CHAIN_REGISTRY), U256::ZERO, call.abi_encode(), 30_000_000)?;
    anyhow::ensure!(gas.success, "verifyLog failed: {gas}");
    let base =
        main.send(0, strata_harness::TxKind::Call(CHAIN_REGISTRY), U256::ZERO, IChainRegistry::adminCall {}.abi_encode(), 1_000_000)?;

    // Wall time: read-only calls (the runtime's simulation), the trivial one as baseline.
    let mut wasm = Vec::new();
    let mut trivial = Vec::new();
    let mut native = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        main.view(CHAIN_REGISTRY, &call)?;
        wasm.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        main.view(CHAIN_REGISTRY, &IChainRegistry::adminCall {})?;
        trivial.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        check_quorum(&relayed.bundle.certificate, quorum as u32).map_err(anyhow::Error::msg)?;
        verify_relayed_log(&relayed, &set, CHILD)?;
        native.push(t.elapsed().as_secs_f64());
    }
    let (wasm, trivial, native) = (median(wasm), median(trivial), median(native));
    let verify_wasm = (wasm - trivial).max(0.0);
    println!(
        "{n} validators ({quorum} signatures): verifyLog in Wasm {} gas (a trivial call to the registry: {} gas); relayed log {} bytes",
        gas.gas_used,
        base.gas_used,
        encoded.len()
    );
    println!(
        "  wall: Wasm {} (call {} minus a trivial call {}), native {}; ratio Wasm / native {:.1}",
        ms(verify_wasm),
        ms(wasm),
        ms(trivial),
        ms(native),
        verify_wasm / native
    );
    Ok(())
}

/// The size of a window's proof for a file of `size` bytes with `k` challenges.
fn proof_size(size: usize, k: u32) -> usize {
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let indices = segments::challenges(&B256::repeat_byte(1), 1, 0, k, segments::segment_count(size as u64));
    let (segments, paths) = segments::window_proof(&data, &indices);
    IStorageProof::proveCall { dealId: 1, window: 0, segments: segments.into_iter().map(Into::into).collect(), paths }.abi_encode().len()
}

async fn rpc(url: &str, method: &str, params: Vec<Value>) -> anyhow::Result<Value> {
    let client = jsonrpsee::http_client::HttpClientBuilder::default().build(url)?;
    crate::load::call(&client, method, params).await
}

fn strata(bin: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(bin).args(args).env("RUST_LOG", "warn").output()?;
    anyhow::ensure!(out.status.success(), "strata {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Part 2.
fn latency(args: &Args) -> anyhow::Result<()> {
    for (size, k) in [(1 << 20, 4u32), (1 << 20, 16)] {
        println!("a window's proof for a 1 MiB file with {k} challenges: {} bytes of calldata", proof_size(size, k));
    }
    let bin = strata_bin_of(args);
    anyhow::ensure!(bin.exists(), "no strata binary at {} (build it with cargo build --release -p strata-node)", bin.display());
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    let mut procs = Procs(Vec::new());
    let mut urls = Vec::new();
    for (name, id, parent) in [("contract", 2200u64, None), ("proof", 3300, Some("contract"))] {
        let base = free_port_base(2);
        let out = d.join(name);
        let mut init = vec!["init".to_string(), "--out".into(), out.display().to_string(), "--validators".into(), "1".into()];
        init.extend([
            "--chain-id".into(),
            id.to_string(),
            "--p2p-port".into(),
            base.to_string(),
            "--rpc-port".into(),
            (base + 1).to_string(),
        ]);
        if let Some(p) = parent {
            init.extend(["--parent".into(), d.join(p).join("genesis.json").display().to_string()]);
        }
        strata(&bin, &init.iter().map(String::as_str).collect::<Vec<_>>())?;
        let config = out.join("validator-0/config.toml");
        crate::load::set_block_time(&config, args.block_time_ms)?;
        procs.0.push(spawn(&bin, &["run", "--config", config.to_str().unwrap_or_default()], &d.join(format!("{name}.log")))?);
        urls.push(format!("http://127.0.0.1:{}", base + 1));
    }
    let (contract, proof) = (urls[0].clone(), urls[1].clone());
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        for u in &urls {
            let client = jsonrpsee::http_client::HttpClientBuilder::default().build(u)?;
            crate::load::wait_ready(&client, 1).await?;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    let genesis = d.join("proof/genesis.json").display().to_string();
    strata(&bin, &["chain", "register", "--rpc", &contract, "--genesis", &genesis, "--dev-key", "0"])?;
    let build = |rel: &str| -> anyhow::Result<PathBuf> {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel);
        let wasm = strata_harness::build_contract(manifest.to_str().unwrap_or_default())?;
        let path = d.join(format!("{}.wasm", rel.replace('/', "-")));
        std::fs::write(&path, wasm)?;
        Ok(path)
    };
    let (deal_wasm, proof_wasm) = (build("contracts/storage/deal")?, build("contracts/storage/proof")?);
    let out = strata(
        &bin,
        &[
            "deal",
            "deploy",
            "--contract-rpc",
            &contract,
            "--proof-rpc",
            &proof,
            "--deal-wasm",
            deal_wasm.to_str().unwrap_or_default(),
            "--proof-wasm",
            proof_wasm.to_str().unwrap_or_default(),
            "--grace-blocks",
            "1000",
            "--dev-key",
            "0",
        ],
    )?;
    let addr = |label: &str| -> anyhow::Result<Address> {
        let line = out.lines().find(|l| l.starts_with(label)).ok_or_else(|| anyhow::anyhow!("no {label} in {out}"))?;
        Ok(line.split_whitespace().nth(1).unwrap_or_default().parse()?)
    };
    let (deals, proofs) = (addr("deals")?, addr("proofs")?);
    let file = d.join("file.bin");
    let data: Vec<u8> = (0..64 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    std::fs::write(&file, &data)?;
    let store = d.join("provider");
    strata(&bin, &["provider", "store", file.to_str().unwrap_or_default(), "--data", store.to_str().unwrap_or_default()])?;
    let (deals_s, proofs_s) = (deals.to_string(), proofs.to_string());
    let daemon = |name: &str, a: &[&str]| spawn(&bin, a, &d.join(format!("{name}.log")));
    procs.0.push(daemon(
        "provider",
        &[
            "provider",
            "run",
            "--contract-rpc",
            &contract,
            "--proof-rpc",
            &proof,
            "--deals",
            &deals_s,
            "--proofs",
            &proofs_s,
            "--data",
            store.to_str().unwrap_or_default(),
            "--dev-key",
            "2",
            "--poll",
            "100ms",
            "--min-window-blocks",
            "1",
        ],
    )?);
    let down = format!("{deals}:DealOpened={proofs}:announceDeal");
    procs.0.push(daemon("down", &["relay", "--from", &contract, "--to", &proof, "--route", &down, "--dev-key", "3", "--poll", "100ms"])?);
    let up = format!("{proofs}:StorageProved={deals}:settleProof");
    procs.0.push(daemon(
        "up",
        &["relay", "--from", &proof, "--to", &contract, "--route", &up, "--dev-key", "3", "--poll", "100ms", "--checkpoint-every", "1000"],
    )?);

    let start =
        rt.block_on(async { Ok::<_, anyhow::Error>(crate::load::quantity(&rpc(&proof, "eth_blockNumber", vec![]).await?) + 30) })?;
    let price = "1000000000000000";
    strata(
        &bin,
        &[
            "deal",
            "open",
            "--rpc",
            &contract,
            "--deals",
            &deals_s,
            "--file",
            file.to_str().unwrap_or_default(),
            "--provider",
            "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
            "--windows",
            &args.windows.to_string(),
            "--window-blocks",
            &args.window_blocks.to_string(),
            "--start-block",
            &start.to_string(),
            "--price",
            price,
            "--collateral",
            price,
            "--dev-key",
            "1",
        ],
    )?;
    let figures = rt.block_on(follow(&contract, &proof, deals, proofs, args.windows));
    let logs = ["provider", "down", "up"].map(|n| d.join(format!("{n}.log")));
    let (proved, paid, block_times) = figures.map_err(|e| {
        let tails: Vec<String> = logs
            .iter()
            .map(|l| std::fs::read_to_string(l).unwrap_or_default())
            .map(|t| t.lines().rev().take(8).collect::<Vec<_>>().join("\n"))
            .collect();
        anyhow::anyhow!("{e:#}\n{}", tails.join("\n---\n"))
    })?;
    let mut lat: Vec<f64> = proved.iter().filter_map(|(w, t)| paid.get(w).map(|p| p.duration_since(*t).as_secs_f64())).collect();
    anyhow::ensure!(lat.len() == proved.len(), "{} of {} proven windows settled", lat.len(), proved.len());
    lat.sort_by(f64::total_cmp);
    let pct = |p: usize| lat[(lat.len() * p / 100).min(lat.len() - 1)];
    let (contract_bt, proof_bt) = block_times;
    println!(
        "relay latency StorageProved seen on the proof chain -> WindowPaid seen on the contract chain ({} windows): p50 {} p99 {}",
        lat.len(),
        ms(pct(50)),
        ms(pct(99))
    );
    println!("  block time measured: contract chain {}, proof chain {}", ms(contract_bt), ms(proof_bt));
    println!(
        "  ratio p50 / block time (goal <= 2 + RPC latency): {:.2}; p99 / block time {:.2}",
        pct(50) / contract_bt.max(proof_bt),
        pct(99) / contract_bt.max(proof_bt)
    );
    drop(procs);
    Ok(())
}

fn strata_bin_of(args: &Args) -> PathBuf {
    strata_bin(&crate::load::Args { strata: args.strata.clone(), ..Default::default() })
}

type Seen = (BTreeMap<u32, Instant>, BTreeMap<u32, Instant>, (f64, f64));

/// Follows both chains until every window is proven and paid: when each `StorageProved`
/// and `WindowPaid` was first seen, and each chain's median block interval.
async fn follow(contract: &str, proof: &str, deals: Address, proofs: Address, windows: u32) -> anyhow::Result<Seen> {
    let mut proved = BTreeMap::new();
    let mut paid = BTreeMap::new();
    let mut heights: [(u64, Option<Instant>, Vec<f64>); 2] = [(0, None, Vec::new()), (0, None, Vec::new())];
    let deadline = Instant::now() + Duration::from_secs(60 + u64::from(windows) * 10);
    let topic = |e: B256| json!([e]);
    let mut next = [0u64, 0u64];
    // One connection per chain for the whole run: the watcher's own latency is part of
    // what is measured.
    let connect = |u: &str| jsonrpsee::http_client::HttpClientBuilder::default().build(u);
    let clients = [connect(contract)?, connect(proof)?];
    while paid.len() < windows as usize {
        anyhow::ensure!(Instant::now() < deadline, "{} windows proven, {} paid before the deadline", proved.len(), paid.len());
        for (i, client) in clients.iter().enumerate() {
            let h = crate::load::quantity(&crate::load::call(client, "eth_blockNumber", vec![]).await?);
            let (last, at, intervals) = &mut heights[i];
            if h > *last {
                let now = Instant::now();
                if let Some(t) = at {
                    intervals.push(now.duration_since(*t).as_secs_f64() / (h - *last) as f64);
                }
                (*last, *at) = (h, Some(now));
            }
            let (address, sig) = if i == 0 {
                (deals, IStorageDeal::WindowPaid::SIGNATURE_HASH)
            } else {
                (proofs, IStorageProof::StorageProved::SIGNATURE_HASH)
            };
            if h < next[i] {
                continue;
            }
            let filter =
                json!({"fromBlock": format!("{:#x}", next[i]), "toBlock": format!("{h:#x}"), "address": address, "topics": topic(sig)});
            let logs = crate::load::call(client, "eth_getLogs", vec![filter]).await?;
            let now = Instant::now();
            for l in logs.as_array().into_iter().flatten() {
                if i == 0 {
                    let data = strata_primitives::hex::decode(l["data"].as_str().unwrap_or_default().trim_start_matches("0x"))?;
                    let (w, _, _) = <(u32, U256, B256)>::abi_decode_params(&data)?;
                    paid.entry(w).or_insert(now);
                } else {
                    let w = crate::load::quantity(&l["topics"][2]) as u32;
                    proved.entry(w).or_insert(now);
                }
            }
            next[i] = h + 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bt = |v: &Vec<f64>| if v.is_empty() { 0.0 } else { median(v.clone()) };
    Ok((proved, paid, (bt(&heights[0].2), bt(&heights[1].2))))
}
