//! Attestation benchmark, two parts.
//!
//! 1. **The contract.** The attestation contract (compiled Wasm, real runtime: a harness
//!    chain) with 16 attestors: gas of `attest` with 1, 8 and 16 signatures and the gas
//!    per signature; then, for 4, 7 and 16 attestors, the gas of the deciding call (a
//!    quorum of signatures) and how many such decisions a 30M-gas block holds; and the
//!    wall time of a deciding call beside a plain transfer's on the same chain (ratio).
//! 2. **Request-to-attested latency.** One validator (`strata run`, release binary),
//!    `n` attestor processes (`strata attest`) reading an HTTP JSON source served by
//!    this process, for n = 4, 7 and 16: from the request's receipt to `Attested`
//!    observed (p50, p99), in milliseconds and against the chain's measured block time
//!    (goal at 16 attestors on loopback: p50 at most 2 block times).

use std::{
    io::{BufRead, BufReader, Write},
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use alloy_sol_types::{SolCall, SolValue};
use serde_json::{Value, json};
use strata_harness::{TestChain, TxKind};
use strata_primitives::{
    Address, Bytes, LocalSigner, U256,
    attestation::{digest, quorum},
    hex,
    interfaces::{IArchive, IAttestation},
    keccak256, keys,
    system::ARCHIVE_CONTRACT,
    transaction::build,
};

use crate::{
    load::{Procs, call, free_port_base, quantity, spawn, strata_bin, wait_ready},
    median,
};

/// Settings of the attestation benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Requests per attestor count.
    #[arg(long, default_value_t = 20)]
    pub requests: usize,
    /// Block time of the chain (ms).
    #[arg(long, default_value_t = 250)]
    pub block_time_ms: u64,
    /// Attestor counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "4,7,16")]
    pub attestors: Vec<usize>,
    /// Keep the chain's and the attestors' data and logs here (default: a temporary
    /// directory, removed).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The `strata` binary (default: beside this one).
    #[arg(long)]
    pub strata: Option<PathBuf>,
}

impl Default for Args {
    fn default() -> Self {
        Self { requests: 20, block_time_ms: 250, attestors: vec![4, 7, 16], dir: None, strata: None }
    }
}

const DOC: &str = r#"{"record":{"id":7,"name":"Ada Lovelace"}}"#;
const DATA: &[u8] = br#"{"id":7,"name":"Ada Lovelace"}"#;

fn attestor_key(i: usize) -> LocalSigner {
    LocalSigner::from_bytes(&keccak256(format!("strata-bench attestor {i}"))).expect("a valid key")
}

fn wasm() -> anyhow::Result<Vec<u8>> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contracts/attestation");
    Ok(strata_harness::build_contract(manifest.to_str().unwrap_or_default())?)
}

/// Runs the benchmark and prints its figures.
pub fn run(args: &Args) -> anyhow::Result<()> {
    println!("== attest: the attestation contract's gas and decisions per block; request-to-attested latency");
    let module = wasm()?;
    contract(&module)?;
    latency(args, &module)
}

fn ms(d: f64) -> String {
    format!("{:.0} ms", d * 1e3)
}

/// Part 1.
fn contract(module: &[u8]) -> anyhow::Result<()> {
    let mut chain = TestChain::new();
    let owner = chain.address(0);
    let c = chain.deploy(0, module, &owner.abi_encode())?.contract_address.ok_or_else(|| anyhow::anyhow!("no contract"))?;
    chain.call_sol(0, ARCHIVE_CONTRACT, &IArchive::setQuotaCall { target: c, quotaBytes: 128 << 10 })?;
    chain.call_sol(0, c, &IAttestation::addSourceCall { kind: "http".into(), endpoint: "https://example".into() })?;
    let add = |chain: &mut TestChain, n: usize| -> anyhow::Result<()> {
        for i in 0..n {
            chain.call_sol(0, c, &IAttestation::addAttestorCall { attestor: attestor_key(i).address() })?;
        }
        Ok(())
    };
    let h = keccak256(DATA);
    let request = |chain: &mut TestChain| -> anyhow::Result<u64> {
        let call = IAttestation::requestCall { sourceId: 1, readParams: Bytes::new(), data: DATA.into(), dataHash: h, expiryBlocks: 1_000 };
        Ok(chain.call_sol(1, c, &call)?)
    };
    let attest = |chain: &mut TestChain, id: u64, signers: usize| -> anyhow::Result<(u64, f64)> {
        let d = digest(chain.chain_id(), c, id, h);
        let signatures = (0..signers)
            .map(|i| Ok(Bytes::copy_from_slice(&attestor_key(i).sign_hash(&d)?.as_bytes())))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let input = IAttestation::attestCall { requestId: id, observedHash: h, signatures }.abi_encode();
        let start = Instant::now();
        let r = chain.send(2, TxKind::Call(c), U256::ZERO, input, 5_000_000)?;
        let took = start.elapsed().as_secs_f64();
        anyhow::ensure!(r.success, "attest failed: {r}");
        Ok((r.gas_used, took))
    };
    add(&mut chain, 16)?;
    let mut gas = Vec::new();
    for s in [1usize, 8, 16] {
        let id = request(&mut chain)?;
        gas.push(attest(&mut chain, id, s)?.0);
    }
    println!(
        "attest gas with 16 attestors: 1 signature {}, 8 signatures {}, 16 signatures {}: {} gas per signature",
        gas[0],
        gas[1],
        gas[2],
        (gas[2] - gas[1]) / 8
    );
    for n in [4usize, 7, 16] {
        let mut chain = TestChain::new();
        let c2 = chain.deploy(0, module, &owner.abi_encode())?.contract_address.ok_or_else(|| anyhow::anyhow!("no contract"))?;
        anyhow::ensure!(c2 == c, "deterministic address");
        chain.call_sol(0, ARCHIVE_CONTRACT, &IArchive::setQuotaCall { target: c, quotaBytes: 128 << 10 })?;
        chain.call_sol(0, c, &IAttestation::addSourceCall { kind: "http".into(), endpoint: "https://example".into() })?;
        add(&mut chain, n)?;
        let q = usize::try_from(quorum(u32::try_from(n)?))?;
        let (mut gas, mut times, mut transfers) = (0, Vec::new(), Vec::new());
        for _ in 0..15 {
            let id = request(&mut chain)?;
            let (g, t) = attest(&mut chain, id, q)?;
            gas = g;
            times.push(t);
            let start = Instant::now();
            chain.send(3, TxKind::Call(Address::repeat_byte(0x77)), U256::from(1u64), Vec::new(), 21_000)?;
            transfers.push(start.elapsed().as_secs_f64());
        }
        let (t, base) = (median(times), median(transfers));
        println!(
            "  {n} attestors: deciding attest ({q} signatures) {gas} gas -> {} decisions per 30M-gas block; wall {} vs a transfer {} (ratio {:.1})",
            30_000_000 / gas,
            format_args!("{:.2} ms", t * 1e3),
            format_args!("{:.2} ms", base * 1e3),
            t / base
        );
    }
    Ok(())
}

/// The HTTP source: `DOC` at /records/7 with ETag "v1".
fn serve() -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Ok(clone) = stream.try_clone() else { continue };
            let mut reader = BufReader::new(clone);
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line == "\r\n" => break,
                    Ok(_) => {}
                }
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nETag: \"v1\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{DOC}",
                DOC.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    Ok(url)
}

fn strata(bin: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(bin).args(args).env("RUST_LOG", "warn").output()?;
    anyhow::ensure!(out.status.success(), "strata {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Part 2.
fn latency(args: &Args, module: &[u8]) -> anyhow::Result<()> {
    let bin = strata_bin(&crate::load::Args { strata: args.strata.clone(), ..Default::default() });
    anyhow::ensure!(bin.exists(), "no strata binary at {} (build it with cargo build --release -p strata-node)", bin.display());
    let tmp = tempfile::tempdir()?;
    let d = match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.as_path()
        }
        None => tmp.path(),
    };
    let base = free_port_base(2);
    let out = d.join("chain");
    let (p2p, rpc_port) = (base.to_string(), (base + 1).to_string());
    strata(
        &bin,
        &[
            "init",
            "--out",
            out.to_str().unwrap_or_default(),
            "--validators",
            "1",
            "--chain-id",
            "5500",
            "--p2p-port",
            &p2p,
            "--rpc-port",
            &rpc_port,
        ],
    )?;
    let config = out.join("validator-0/config.toml");
    crate::load::set_block_time(&config, args.block_time_ms)?;
    let chain = Procs(vec![spawn(&bin, &["run", "--config", config.to_str().unwrap_or_default()], &d.join("chain.log"))?]);
    let url = format!("http://127.0.0.1:{}", base + 1);
    let rt = tokio::runtime::Runtime::new()?;
    let client = jsonrpsee::http_client::HttpClientBuilder::default().build(&url)?;
    rt.block_on(wait_ready(&client, 1))?;
    let wasm_path = d.join("attestation.wasm");
    std::fs::write(&wasm_path, module)?;
    let source_url = serve()?;
    // Sixteen attestor accounts, funded by dev key 0.
    for i in 0..16 {
        strata(
            &bin,
            &["tx", "send", &attestor_key(i).address().to_string(), "--value", "100ether", "--rpc", &url, "--dev-key", "0", "--quiet"],
        )?;
    }
    let chain_id = 5500u64;
    let requester = keys::derive_accounts(keys::DEV_MNEMONIC, 2)?[1].signer.clone();
    for &n in &args.attestors {
        anyhow::ensure!((1..=16).contains(&n), "1 to 16 attestors");
        let contract =
            strata(&bin, &["attest", "deploy", "--wasm", wasm_path.to_str().unwrap_or_default(), "--rpc", &url, "--dev-key", "0"])?;
        for i in 0..n {
            strata(
                &bin,
                &[
                    "attest",
                    "add-attestor",
                    &attestor_key(i).address().to_string(),
                    "--contract",
                    &contract,
                    "--rpc",
                    &url,
                    "--dev-key",
                    "0",
                ],
            )?;
        }
        strata(
            &bin,
            &[
                "attest",
                "add-source",
                "--kind",
                "http",
                "--endpoint",
                "https://clinic.example",
                "--contract",
                &contract,
                "--rpc",
                &url,
                "--dev-key",
                "1",
            ],
        )?;
        let sources = d.join("sources.toml");
        std::fs::write(&sources, format!("[[source]]\nid = 1\nkind = \"http\"\nurl = \"{source_url}\"\n"))?;
        let ports = free_port_base(u16::try_from(n)?);
        let listen = |i: usize| format!("127.0.0.1:{}", ports + u16::try_from(i).unwrap_or(0));
        let mut attestors = Procs(Vec::new());
        for i in 0..n {
            let secret = keccak256(format!("strata-bench attestor {i}"));
            let mut a: Vec<String> = [
                "attest",
                "--contract",
                &contract,
                "--sources",
                sources.to_str().unwrap_or_default(),
                "--listen",
                &listen(i),
                "--rpc",
                &url,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            a.extend(["--private-key".into(), secret.to_string()]);
            for j in (0..n).filter(|&j| j != i) {
                a.extend(["--peer".into(), format!("{}=http://{}", attestor_key(j).address(), listen(j))]);
            }
            let refs: Vec<&str> = a.iter().map(String::as_str).collect();
            attestors.0.push(spawn(&bin, &refs, &d.join(format!("attestor-{n}-{i}.log")))?);
        }
        let contract: Address = contract.parse()?;
        let figures = rt.block_on(measure(&client, chain_id, contract, &requester, args.requests))?;
        let (lat, block_time) = figures;
        let pct = |p: usize| lat[(lat.len() * p / 100).min(lat.len() - 1)];
        println!(
            "request -> Attested with {n} attestors (quorum {}), {} requests: p50 {} ({:.2} block times), p99 {} ({:.2} block times); block time {}{}",
            quorum(u32::try_from(n)?),
            lat.len(),
            ms(pct(50)),
            pct(50) / block_time,
            ms(pct(99)),
            pct(99) / block_time,
            ms(block_time),
            if n == 16 {
                format!(" (goal: p50 <= 2 block times: {})", if pct(50) <= 2.0 * block_time { "met" } else { "NOT met" })
            } else {
                String::new()
            }
        );
        drop(attestors);
    }
    drop(chain);
    Ok(())
}

/// [`call`], retried while the node refuses it as busy (-32005: it bounds simulations,
/// and the attestors use it too).
async fn ask(client: &jsonrpsee::http_client::HttpClient, method: &str, params: Vec<Value>) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match call(client, method, params.clone()).await {
            Err(e) if e.to_string().contains("-32005") || e.to_string().contains("busy") => {
                anyhow::ensure!(Instant::now() < deadline, "{method}: the node stayed busy: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => return other,
        }
    }
}

/// Sends `requests` requests one after another; the sorted latencies (s) from each
/// receipt to its `Attested`, and the mean block time over the run.
async fn measure(
    client: &jsonrpsee::http_client::HttpClient,
    chain_id: u64,
    contract: Address,
    requester: &LocalSigner,
    requests: usize,
) -> anyhow::Result<(Vec<f64>, f64)> {
    // Let the attestors start and reach the chain.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let head = |v: Value| quantity(&v);
    let (start_head, start) = (head(ask(client, "eth_blockNumber", vec![]).await?), Instant::now());
    let mut lat = Vec::new();
    for _ in 0..requests {
        let nonce = quantity(&ask(client, "eth_getTransactionCount", vec![json!(requester.address()), "pending".into()]).await?);
        let params = Bytes::from_static(br#"{"path":"/records/7","pointer":"/record","etag":"\"v1\""}"#);
        let input =
            IAttestation::requestCall { sourceId: 1, readParams: params, data: DATA.into(), dataHash: keccak256(DATA), expiryBlocks: 200 }
                .abi_encode();
        let tx = build::eip1559(chain_id, nonce, TxKind::Call(contract), U256::ZERO, input.into(), 1_000_000, 20_000_000_000, 0);
        let raw = requester.sign_transaction(tx)?.encoded().to_vec();
        let hash = ask(client, "eth_sendRawTransaction", vec![json!(format!("0x{}", hex::encode(raw)))]).await?;
        let receipt = loop {
            let r = ask(client, "eth_getTransactionReceipt", vec![hash.clone()]).await?;
            if !r.is_null() {
                break r;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let seen = Instant::now();
        anyhow::ensure!(receipt["status"] == "0x1", "the request failed: {receipt}");
        let log = receipt["logs"]
            .as_array()
            .and_then(|logs| logs.iter().find(|l| l["address"].as_str().and_then(|a| a.parse::<Address>().ok()) == Some(contract)))
            .ok_or_else(|| anyhow::anyhow!("no Requested in {receipt}"))?;
        let id = U256::from_be_slice(&hex::decode(log["topics"][1].as_str().unwrap_or_default().trim_start_matches("0x"))?);
        let id = u64::try_from(id)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let q =
                json!({"to": contract, "data": format!("0x{}", hex::encode(IAttestation::requestInfoCall { requestId: id }.abi_encode()))});
            let out = ask(client, "eth_call", vec![q, "latest".into()]).await?;
            let info = IAttestation::requestInfoCall::abi_decode_returns(&hex::decode(
                out.as_str().unwrap_or_default().trim_start_matches("0x"),
            )?)?;
            if info.status == 1 {
                lat.push(seen.elapsed().as_secs_f64());
                break;
            }
            anyhow::ensure!(info.status == 0, "request {id} was decided as {} (not attested)", info.status);
            anyhow::ensure!(Instant::now() < deadline, "request {id} not attested within 30 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let blocks = head(ask(client, "eth_blockNumber", vec![]).await?).saturating_sub(start_head).max(1);
    let block_time = start.elapsed().as_secs_f64() / blocks as f64;
    lat.sort_by(f64::total_cmp);
    Ok((lat, block_time))
}
