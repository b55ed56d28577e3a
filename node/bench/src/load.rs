//! Load benchmark: signed transfers sent through JSON-RPC to a local 4-validator
//! cluster and to `strata dev` (real `strata` processes, release build): committed
//! transactions per second and commit latency p50/p99, the cluster once with the
//! proposer rotating by height (the default) and once with a stable primary. Beside them, measured in the
//! same run, how many secp256k1 signature recoveries per second this machine does —
//! the bound on one machine that hosts four validators, each of which checks every
//! transaction's and every vote's signature.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use jsonrpsee::{
    core::{client::ClientT, params::ArrayParams},
    http_client::{HttpClient, HttpClientBuilder},
};
use serde_json::{Value, json};
use strata_primitives::{Address, B256, Bytes, LocalSigner, TxKind, U256, hex, keccak256, keys, transaction::build};

use crate::median;

/// Sizes of the load benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Transactions per run.
    #[arg(long, default_value_t = 2_000)]
    pub txs: usize,
    /// The `strata` binary (default: beside this one).
    #[arg(long)]
    pub strata: Option<PathBuf>,
}

impl Default for Args {
    fn default() -> Self {
        Self { txs: 2_000, strata: None }
    }
}

/// Child processes, killed when dropped.
pub struct Procs(pub Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub(crate) fn free_port_base(n: u16) -> u16 {
    for _ in 0..100 {
        let base = std::net::TcpListener::bind("127.0.0.1:0").map(|l| l.local_addr().map(|a| a.port()).unwrap_or(0)).unwrap_or(0);
        if base == 0 || base > 60_000 {
            continue;
        }
        let all: Vec<_> = (0..n).map(|i| std::net::TcpListener::bind(("127.0.0.1", base + i))).collect();
        if all.iter().all(Result::is_ok) {
            return base;
        }
    }
    30_500
}

pub(crate) async fn call(client: &HttpClient, method: &str, params: Vec<Value>) -> anyhow::Result<Value> {
    let mut p = ArrayParams::new();
    for v in params {
        p.insert(v)?;
    }
    Ok(client.request::<Value, _>(method, p).await?)
}

pub(crate) fn quantity(v: &Value) -> u64 {
    v.as_str().and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()).unwrap_or(0)
}

pub(crate) async fn wait_ready(client: &HttpClient, min_height: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(h) = call(client, "eth_blockNumber", vec![]).await
            && quantity(&h) >= min_height
        {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "the node did not start within 2 minutes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Figures of one run.
struct Figures {
    tps: f64,
    p50: Duration,
    p99: Duration,
    /// CPU time the active machines spent per committed transaction (all four together).
    active_cpu_per_tx: Option<Duration>,
}

/// CPU time (user + system) process `pid` has used so far, from `/proc/<pid>/stat`
/// (clock ticks of `USER_HZ` = 100 per second).
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Total CPU time of processes `pids`.
pub(crate) fn cpu_of(pids: &[u32]) -> Option<Duration> {
    pids.iter().map(|p| cpu_time(*p)).sum()
}

impl Figures {
    fn show(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        format!("{:.0} committed tx/s, commit latency p50 {:.0} ms, p99 {:.0} ms", self.tps, ms(self.p50), ms(self.p99))
    }

    /// This run against `base`: throughput and latency ratios.
    fn ratio(&self, base: &Figures) -> String {
        let r = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
        format!("throughput {:.2}, latency p50 {:.2}, p99 {:.2}", self.tps / base.tps, r(self.p50, base.p50), r(self.p99, base.p99))
    }
}

/// Accounts the load comes from (the dev mnemonic's first ones, funded at genesis).
pub(crate) const DEV_ACCOUNTS: usize = 10;

/// One signed transfer of a load.
pub(crate) struct Transfer {
    pub hash: B256,
    /// EIP-2718 bytes, hex.
    pub raw: String,
    /// Index of the dev account that signed it.
    pub account: usize,
    pub nonce: u64,
}

/// `n` transfers of 1 wei from the dev accounts round-robin, from their pending nonces
/// on, to addresses drawn from `salt`: signed before anything is sent (the figure is the
/// chain's, not the signer's).
pub(crate) async fn sign_transfers(client: &HttpClient, chain_id: u64, n: usize, salt: u64) -> anyhow::Result<Vec<Transfer>> {
    let keys: Vec<LocalSigner> = keys::derive_accounts(keys::DEV_MNEMONIC, DEV_ACCOUNTS as u32)?.into_iter().map(|k| k.signer).collect();
    let mut nonces = Vec::new();
    for k in &keys {
        nonces.push(quantity(&call(client, "eth_getTransactionCount", vec![json!(k.address()), "pending".into()]).await?));
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let account = i % keys.len();
        let to = Address::from_slice(&keccak256((i as u64).wrapping_add(salt).to_be_bytes())[12..]);
        let nonce = nonces[account];
        let tx = build::eip1559(chain_id, nonce, TxKind::Call(to), U256::from(1u64), Bytes::new(), 30_000, 3_000_000_000, 0);
        nonces[account] += 1;
        let signed = keys[account].sign_transaction(tx)?;
        out.push(Transfer { hash: signed.hash(), raw: format!("0x{}", hex::encode(signed.encoded())), account, nonce });
    }
    Ok(out)
}

/// Sends `n` transfers from the ten dev accounts round-robin over `urls`, then
/// follows the blocks of `urls[0]` until all are committed.
async fn drive(urls: &[String], chain_id: u64, n: usize) -> anyhow::Result<Figures> {
    let clients: Vec<HttpClient> =
        urls.iter().map(|u| HttpClientBuilder::default().request_timeout(Duration::from_secs(30)).build(u)).collect::<Result<_, _>>()?;
    let raws: Vec<(B256, String)> = sign_transfers(&clients[0], chain_id, n, 0).await?.into_iter().map(|t| (t.hash, t.raw)).collect();
    let accounts = DEV_ACCOUNTS;
    let start_height = quantity(&call(&clients[0], "eth_blockNumber", vec![]).await?);
    let start = Instant::now();
    let mut sent_at: BTreeMap<B256, Instant> = BTreeMap::new();
    // Eight concurrent senders, each on its own slice (per-sender nonce order kept by
    // sending each account's transactions from one task in order).
    let mut tasks = Vec::new();
    for lane in 0..accounts {
        let lane_txs: Vec<(B256, String)> = raws.iter().skip(lane).step_by(accounts).cloned().collect();
        let client = clients[lane % clients.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(lane_txs.len());
            for (hash, raw) in lane_txs {
                let t = Instant::now();
                let _ = call(&client, "eth_sendRawTransaction", vec![raw.into()]).await;
                times.push((hash, t));
            }
            times
        }));
    }
    for t in tasks {
        sent_at.extend(t.await?);
    }
    let mut latencies = Vec::with_capacity(n);
    let mut next = start_height + 1;
    let mut last_commit = start;
    let deadline = Instant::now() + Duration::from_secs(300);
    while latencies.len() < n {
        anyhow::ensure!(Instant::now() < deadline, "only {} of {n} transactions committed within 5 minutes", latencies.len());
        let block = call(&clients[0], "eth_getBlockByNumber", vec![json!(format!("{next:#x}")), false.into()]).await?;
        if block.is_null() {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        let seen = Instant::now();
        for h in block["transactions"].as_array().map(Vec::as_slice).unwrap_or_default() {
            if let Some(t) = h.as_str().and_then(|s| s.parse::<B256>().ok()).and_then(|h| sent_at.get(&h)) {
                latencies.push(seen.duration_since(*t));
                last_commit = seen;
            }
        }
        next += 1;
    }
    latencies.sort();
    let pct = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    Ok(Figures { tps: n as f64 / last_commit.duration_since(start).as_secs_f64(), p50: pct(50), p99: pct(99), active_cpu_per_tx: None })
}

pub(crate) fn strata_bin(args: &Args) -> PathBuf {
    args.strata.clone().unwrap_or_else(|| {
        std::env::current_exe().ok().and_then(|p| p.parent().map(|d| d.join("strata"))).unwrap_or_else(|| PathBuf::from("strata"))
    })
}

/// Sets a validator config's block time (and empty-block interval) to `ms`.
pub(crate) fn set_block_time(config: &Path, ms: u64) -> anyhow::Result<()> {
    let text: String = std::fs::read_to_string(config)?
        .lines()
        .map(|l| match l.split(" = ").next() {
            Some("block_time_ms") => format!("block_time_ms = {ms}"),
            Some("empty_block_ms") => format!("empty_block_ms = {ms}"),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    Ok(std::fs::write(config, text)?)
}

/// Starts `bin` with `args`, its output (the log: warnings, or what `STRATA_BENCH_LOG`
/// asks for, e.g. `debug`) in `log`.
pub(crate) fn spawn(bin: &Path, args: &[&str], log: &Path) -> anyhow::Result<Child> {
    let log = std::fs::File::create(log)?;
    let level = std::env::var("STRATA_BENCH_LOG").unwrap_or_else(|_| "warn".into());
    Ok(Command::new(bin).args(args).env("RUST_LOG", level).stdout(log.try_clone()?).stderr(log).spawn()?)
}

/// Starts a 4-validator cluster (`strata init` + `strata run` processes) whose genesis
/// rotates the proposer as `rotation` says — each seat a slot of two machines with
/// `backups` — drives `txs` transfers through it (the active machines), stops it.
fn cluster_run(bin: &Path, dir: &Path, rt: &tokio::runtime::Runtime, rotation: &str, backups: bool, txs: usize) -> anyhow::Result<Figures> {
    let name = format!("{rotation}{}", if backups { "-backups" } else { "" });
    let (machines, _) =
        start_cluster(bin, dir, &name, 4, backups, &[("block_time_ms", 200)], |genesis| genesis["proposer_rotation"] = rotation.into())?;
    let active: Vec<u32> = machines.procs.0[..4].iter().map(Child::id).collect();
    let figures = rt.block_on(async {
        for u in &machines.urls {
            wait_ready(&HttpClientBuilder::default().build(u)?, 1).await?;
        }
        let before = cpu_of(&active);
        let mut figures = drive(&machines.urls[..4], 4242, txs).await?;
        figures.active_cpu_per_tx = before.zip(cpu_of(&active)).map(|(b, a)| a.saturating_sub(b) / txs.max(1) as u32);
        Ok::<_, anyhow::Error>(figures)
    })?;
    drop(machines);
    Ok(figures)
}

/// Running machines of a local cluster (killed when dropped).
pub struct Cluster {
    /// The processes, by machine index (slot `i`'s backup is `slots + i`).
    pub procs: Procs,
    /// Their JSON-RPC URLs.
    pub urls: Vec<String>,
}

/// `strata init` (`--backups` if asked) of `slots` seats in `dir/name`, `edit` applied to
/// the genesis, `settings` (`key = value` lines) replacing those of every machine's
/// config, every machine started. Returns the cluster and the output directory.
pub fn start_cluster(
    bin: &Path,
    dir: &Path,
    name: &str,
    slots: u16,
    backups: bool,
    settings: &[(&str, u64)],
    edit: impl FnOnce(&mut Value),
) -> anyhow::Result<(Cluster, PathBuf)> {
    let out = dir.join(format!("net-{name}"));
    let machines = if backups { slots * 2 } else { slots };
    let (p2p, rpc) = (free_port_base(machines), free_port_base(machines));
    let mut init = Command::new(bin);
    init.args(["init", "--out", out.to_str().unwrap_or("net"), "--validators", &slots.to_string(), "--chain-id", "4242"]).args([
        "--p2p-port",
        &p2p.to_string(),
        "--rpc-port",
        &rpc.to_string(),
    ]);
    if backups {
        init.arg("--backups");
    }
    anyhow::ensure!(init.stdout(Stdio::null()).status()?.success(), "strata init failed");
    let genesis_path = out.join("genesis.json");
    let mut genesis: Value = serde_json::from_str(&std::fs::read_to_string(&genesis_path)?)?;
    edit(&mut genesis);
    std::fs::write(&genesis_path, serde_json::to_string_pretty(&genesis)?)?;
    let mut procs = Procs(Vec::new());
    let mut urls = Vec::new();
    for m in 0..machines {
        let sub = if m < slots { format!("validator-{m}") } else { format!("validator-{}-backup", m - slots) };
        let config = out.join(&sub).join("config.toml");
        let text: String = std::fs::read_to_string(&config)?
            .lines()
            .map(|l| match settings.iter().find(|(k, _)| l.split(" = ").next() == Some(*k)) {
                Some((k, v)) => format!("{k} = {v}"),
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&config, text)?;
        procs.0.push(spawn(bin, &["run", "--config", config.to_str().unwrap_or("")], &dir.join(format!("{name}-{sub}.log")))?);
        urls.push(format!("http://127.0.0.1:{}", rpc + m));
    }
    Ok((Cluster { procs, urls }, out))
}

/// Signature recoveries per second on one core (median of 5 rounds).
fn recoveries_per_second() -> anyhow::Result<f64> {
    let key = LocalSigner::from_bytes(&keccak256(b"strata/bench/ecrecover"))?;
    let digests: Vec<B256> = (0..256u64).map(|i| keccak256(i.to_be_bytes())).collect();
    let sigs: Vec<_> = digests.iter().map(|d| key.sign_hash(d)).collect::<Result<_, _>>()?;
    let mut rounds = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut ok = 0usize;
        for _ in 0..8 {
            for (d, s) in digests.iter().zip(&sigs) {
                ok += usize::from(s.recover_address_from_prehash(d).map(|a| a == key.address()).unwrap_or(false));
            }
        }
        anyhow::ensure!(ok == 8 * digests.len(), "recovery failed");
        rounds.push(ok as f64 / t.elapsed().as_secs_f64());
    }
    Ok(median(rounds))
}

/// Runs the benchmark and prints its figures.
pub fn run(args: &Args) -> anyhow::Result<()> {
    println!("== load: {} signed transfers through JSON-RPC per run (release `strata` processes)", args.txs);
    let bin = strata_bin(args);
    anyhow::ensure!(bin.exists(), "no strata binary at {} (build it with cargo build --release -p strata-node)", bin.display());
    let rt = tokio::runtime::Runtime::new()?;
    let dir = tempfile::tempdir()?;

    let recover = recoveries_per_second()?;
    println!("secp256k1 signature recovery on this machine: {recover:.0} per second per core");

    // strata dev: one validator.
    let port = free_port_base(1).to_string();
    let dev_dir = dir.path().join("dev");
    let rpc_addr = format!("127.0.0.1:{port}");
    let dev = Procs(vec![spawn(
        &bin,
        &["dev", "--data-dir", dev_dir.to_str().unwrap_or("dev"), "--rpc-addr", &rpc_addr, "--block-time", "200ms"],
        &dir.path().join("dev.log"),
    )?]);
    let url = format!("http://{rpc_addr}");
    let dev_figures = rt.block_on(async {
        let client = HttpClientBuilder::default().build(&url)?;
        wait_ready(&client, 0).await?;
        drive(std::slice::from_ref(&url), 1337, args.txs).await
    })?;
    drop(dev);
    println!("strata dev (1 validator): {}", dev_figures.show());

    // A 4-validator cluster, the proposer rotating by height (the default), and the same
    // cluster with a stable PBFT primary: what rotation costs.
    let cluster = cluster_run(&bin, dir.path(), &rt, "by-height", false, args.txs)?;
    println!("4-validator cluster on this machine: {}", cluster.show());
    let stable = cluster_run(&bin, dir.path(), &rt, "stable", false, args.txs)?;
    println!("  baseline, the same cluster with a stable primary: {}", stable.show());
    println!("  ratio rotation by height / stable primary: {}", cluster.ratio(&stable));
    let backups = cluster_run(&bin, dir.path(), &rt, "by-height", true, args.txs)?;
    println!("4 validator slots with backups (8 machines): {}", backups.show());
    println!("  ratio with backups / without (goal: throughput >= 0.9): {}", backups.ratio(&cluster));
    // Eight processes share this machine's cores, so the throughput above mostly measures
    // the doubled total work. What the backups cost the active machines themselves —
    // what limits throughput when each machine has its own cores — is their CPU per
    // committed transaction.
    if let (Some(with), Some(without)) = (backups.active_cpu_per_tx, cluster.active_cpu_per_tx) {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "  CPU of the 4 active machines per committed tx: with backups {:.2} ms, without {:.2} ms; ratio {:.2} \
             (throughput on machines of their own would be about 1/ratio = {:.2} of without)",
            ms(with),
            ms(without),
            with.as_secs_f64() / without.as_secs_f64(),
            without.as_secs_f64() / with.as_secs_f64()
        );
    }
    println!("  ratio cluster / dev throughput: {:.2}", cluster.tps / dev_figures.tps);
    println!(
        "  ratio cluster throughput / signature recoveries per core: {:.4} (each transaction is recovered by 4 validators at admission and execution)",
        cluster.tps / recover
    );
    Ok(())
}
