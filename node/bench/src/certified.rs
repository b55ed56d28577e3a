//! Storage-certificate benchmark: a 4-validator cluster (release `strata` processes)
//! takes the same load of signed transfers through `eth_sendRawTransaction` and through
//! `strata_sendRawTransactionCertified`, from the same number of concurrent clients,
//! twice each (plain, certified, certified, plain: the growing chain favours neither).
//! Figures: certificate latency (send → certificate) beside finality latency (send →
//! the block seen committed) of the same run, p50 and p99; committed throughput
//! certified against plain; and how many certified transactions were
//! included by their expiry height, or resolved in its header.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use serde_json::{Value, json};
use strata_primitives::B256;
use tokio::sync::Semaphore;

use crate::load::{call, cpu_of, quantity, sign_transfers, start_cluster, strata_bin, wait_ready};

/// Settings of the certificate benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Transfers per run.
    #[arg(long, default_value_t = 1_000)]
    pub txs: usize,
    /// Requests in flight at once (the first set of runs).
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Requests in flight for a second set of runs (three times the transfers) that
    /// measures capacity: a closed loop of few clients measures their latency, not how
    /// much the cluster can take. 0: no second set.
    #[arg(long, default_value_t = 128)]
    pub saturate: usize,
    /// The `strata` binary (default: beside this one).
    #[arg(long)]
    pub strata: Option<std::path::PathBuf>,
    /// Keep the cluster's directory (configs, databases, each validator's log) and
    /// print where it is.
    #[arg(long)]
    pub keep: bool,
}

impl Default for Args {
    fn default() -> Self {
        Self { txs: 1_000, concurrency: 32, saturate: 128, strata: None, keep: false }
    }
}

/// What one run measured.
struct Run {
    /// Transactions accepted (and waited for until committed, five minutes at most), and
    /// the time from the first send to the last commit seen.
    accepted: usize,
    elapsed: Duration,
    /// Send → committed block seen, sorted.
    finality: Vec<Duration>,
    /// Send → certificate, sorted (certified runs).
    certificate: Vec<Duration>,
    /// Certified transactions included or resolved by their expiry / certified.
    by_expiry: (usize, usize),
    /// Blocks that carried the run's transactions.
    blocks: usize,
    /// CPU time the validators spent from the first send to the last commit seen (all
    /// together), if `/proc` tells.
    cpu: Option<Duration>,
}

fn pct(v: &[Duration], p: usize) -> Duration {
    v.get((v.len() * p / 100).min(v.len().saturating_sub(1))).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Sends `n` transfers from the ten dev accounts over `urls` (each account's in nonce
/// order, `concurrency` requests in flight), certified or not, while following the
/// blocks of `urls[0]`; `pids`: the validators' processes (their CPU time is read).
async fn drive(urls: &[String], pids: &[u32], chain_id: u64, n: usize, concurrency: usize, certified: bool) -> anyhow::Result<Run> {
    let clients: Vec<HttpClient> =
        urls.iter().map(|u| HttpClientBuilder::default().request_timeout(Duration::from_secs(30)).build(u)).collect::<Result<_, _>>()?;
    let transfers = sign_transfers(&clients[0], chain_id, n, 1_000_000).await?;
    // Each transaction's account and nonce: a refused one leaves its account's later
    // nonces waiting for ever (this client does not resend), so they are not waited for.
    let order: BTreeMap<B256, (usize, u64)> = transfers.iter().map(|t| (t.hash, (t.account, t.nonce))).collect();
    let raws: Vec<(B256, String)> = transfers.into_iter().map(|t| (t.hash, t.raw)).collect();
    // Follow the blocks from before the first send.
    let start_height = quantity(&call(&clients[0], "eth_blockNumber", vec![]).await?);
    let committed: Arc<Mutex<BTreeMap<B256, (Instant, u64)>>> = Arc::new(Mutex::new(BTreeMap::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (client, committed, stop) = (clients[0].clone(), committed.clone(), stop.clone());
        tokio::spawn(async move {
            let mut next = start_height + 1;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(block) = call(&client, "eth_getBlockByNumber", vec![json!(format!("{next:#x}")), false.into()]).await else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                if block.is_null() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                let seen = Instant::now();
                let mut c = committed.lock().expect("watcher");
                for h in block["transactions"].as_array().map(Vec::as_slice).unwrap_or_default() {
                    if let Some(h) = h.as_str().and_then(|s| s.parse::<B256>().ok()) {
                        c.insert(h, (seen, next));
                    }
                }
                next += 1;
            }
        })
    };
    let start = Instant::now();
    let cpu_before = cpu_of(pids);
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let method = if certified { "strata_sendRawTransactionCertified" } else { "eth_sendRawTransaction" };
    let mut tasks = Vec::with_capacity(n);
    for (i, (hash, raw)) in raws.into_iter().enumerate() {
        // Each account's transactions leave in nonce order (a permit per send, taken in order).
        let permit = gate.clone().acquire_owned().await?;
        let client = clients[i % clients.len()].clone();
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let answer: anyhow::Result<Value> = call(&client, method, vec![raw.into()]).await;
            drop(permit);
            (hash, sent, Instant::now(), answer)
        }));
    }
    let mut sent_at = BTreeMap::new();
    let mut certificate = Vec::new();
    let mut expiries = BTreeMap::new();
    let mut refused = 0usize;
    let mut first_refusal = None;
    let mut gaps: BTreeMap<usize, u64> = BTreeMap::new();
    for t in tasks {
        let (hash, sent, answered, answer) = t.await?;
        sent_at.insert(hash, sent);
        match answer {
            Ok(v) if certified => {
                certificate.push(answered.duration_since(sent));
                expiries
                    .insert(hash, v["expiry"].as_str().and_then(|e| u64::from_str_radix(e.trim_start_matches("0x"), 16).ok()).unwrap_or(0));
            }
            Ok(_) => {}
            Err(e) => {
                refused += 1;
                first_refusal.get_or_insert(e.to_string());
                if let Some(&(k, nonce)) = order.get(&hash) {
                    let gap = gaps.entry(k).or_insert(nonce);
                    *gap = (*gap).min(nonce);
                }
            }
        }
    }
    if let Some(first) = &first_refusal {
        println!("  {refused} of {n} {method} refused (overload: the time allowed ran out), the first: {first}");
    }
    // Wait for every accepted transaction (a refused certification may still have
    // pooled its transaction somewhere: not waited for), five minutes at most.
    let behind_gap = |h: &B256| order.get(h).is_some_and(|(k, nonce)| gaps.get(k).is_some_and(|g| nonce > g));
    let accepted: Vec<B256> = if certified { expiries.keys().copied().collect() } else { sent_at.keys().copied().collect() };
    let stuck = accepted.iter().filter(|h| behind_gap(h)).count();
    if stuck > 0 {
        println!("  {stuck} accepted transactions wait behind a refused nonce of their account (not resent): not counted");
    }
    let accepted: Vec<B256> = accepted.into_iter().filter(|h| !behind_gap(h)).collect();
    let expiries: BTreeMap<B256, u64> = expiries.into_iter().filter(|(h, _)| !behind_gap(h)).collect();
    let deadline = Instant::now() + Duration::from_secs(300);
    while !accepted.iter().all(|h| committed.lock().expect("watcher").contains_key(h)) {
        if Instant::now() >= deadline {
            let missing = accepted.iter().filter(|h| !committed.lock().expect("watcher").contains_key(*h)).count();
            println!("  {missing} of {} accepted transactions not committed within 5 minutes", accepted.len());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cpu = cpu_before.zip(cpu_of(pids)).map(|(before, after)| after.saturating_sub(before));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    watcher.await?;
    let committed = committed.lock().expect("watcher").clone();
    let mut finality: Vec<Duration> = accepted.iter().filter_map(|h| Some(committed.get(h)?.0.duration_since(*sent_at.get(h)?))).collect();
    let last = accepted.iter().filter_map(|h| committed.get(h).map(|(seen, _)| *seen)).max().unwrap_or(start);
    finality.sort();
    certificate.sort();
    let mut met = expiries.iter().filter(|(h, e)| committed.get(*h).is_some_and(|(_, block)| block <= *e)).count();
    // The others: resolved (and why) in the header of their expiry block?
    for (hash, expiry) in expiries.iter().filter(|(h, e)| committed.get(*h).is_none_or(|(_, block)| block > *e)) {
        let answer = call(&clients[0], "strata_getCertifiedResolutions", vec![json!(format!("{expiry:#x}"))]).await?;
        let resolved =
            answer["resolutions"].as_array().and_then(|l| l.iter().find(|r| r["transactionHash"].as_str() == Some(&hash.to_string())));
        match resolved {
            Some(r) => {
                println!("  {hash} resolved in block {expiry}: {}", r["reasonText"]);
                met += 1;
            }
            None => println!("  {hash} neither included nor resolved by block {expiry}"),
        }
    }
    let blocks: std::collections::BTreeSet<u64> = accepted.iter().filter_map(|h| committed.get(h).map(|(_, block)| *block)).collect();
    Ok(Run {
        accepted: accepted.len(),
        elapsed: last.duration_since(start),
        finality,
        certificate,
        by_expiry: (met, expiries.len()),
        blocks: blocks.len(),
        cpu,
    })
}

/// Plain and certified runs of `n` transfers at `concurrency` in flight, in the order
/// plain, certified, certified, plain (the chain grows as the runs go: neither kind
/// gets all the early or all the late runs), each kind's two runs merged.
async fn pair(urls: &[String], pids: &[u32], n: usize, concurrency: usize) -> anyhow::Result<(Run, Run)> {
    let plain = drive(urls, pids, 4242, n, concurrency, false).await?;
    let certified = drive(urls, pids, 4242, n, concurrency, true).await?;
    let certified = certified.merge(drive(urls, pids, 4242, n, concurrency, true).await?);
    let plain = plain.merge(drive(urls, pids, 4242, n, concurrency, false).await?);
    Ok((plain, certified))
}

impl Run {
    /// Committed transactions per second.
    fn tps(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Two runs as one: transactions and times added, latencies and counts pooled.
    fn merge(mut self, other: Run) -> Run {
        self.accepted += other.accepted;
        self.elapsed += other.elapsed;
        self.finality.extend(other.finality);
        self.finality.sort();
        self.certificate.extend(other.certificate);
        self.certificate.sort();
        self.by_expiry = (self.by_expiry.0 + other.by_expiry.0, self.by_expiry.1 + other.by_expiry.1);
        self.blocks += other.blocks;
        self.cpu = self.cpu.zip(other.cpu).map(|(a, b)| a + b);
        self
    }

    /// The validators' CPU time per committed transaction (all of them together).
    fn cpu_per_tx(&self) -> Option<Duration> {
        self.cpu.map(|c| c / u32::try_from(self.accepted.max(1)).unwrap_or(u32::MAX))
    }

    /// Transactions per block that carried them.
    fn per_block(&self) -> f64 {
        self.accepted as f64 / self.blocks.max(1) as f64
    }
}

/// Runs the benchmark and prints its figures.
pub fn run(args: &Args) -> anyhow::Result<()> {
    println!("== certified: {} transfers per run, {} in flight, 4-validator cluster (release processes)", args.txs, args.concurrency);
    let bin = strata_bin(&crate::load::Args { strata: args.strata.clone(), ..Default::default() });
    anyhow::ensure!(bin.exists(), "no strata binary at {} (build it with cargo build --release -p strata-node)", bin.display());
    let rt = tokio::runtime::Runtime::new()?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().to_path_buf();
    // Kept from the start: a failed run's logs are what one wants to read.
    let _dir = if args.keep {
        println!("  cluster directory kept: {}", dir.keep().display());
        None
    } else {
        Some(dir)
    };
    let (cluster, _) = start_cluster(&bin, &path, "certified", 4, false, &[("block_time_ms", 200)], |_| {})?;
    let (plain, certified, saturated) = rt.block_on(async {
        for u in &cluster.urls {
            wait_ready(&HttpClientBuilder::default().build(u)?, 1).await?;
        }
        let pids: Vec<u32> = cluster.procs.0.iter().map(|c| c.id()).collect();
        let (plain, certified) = pair(&cluster.urls, &pids, args.txs, args.concurrency).await?;
        let saturated =
            if args.saturate > 0 { Some(pair(&cluster.urls, &pids, args.txs.saturating_mul(3), args.saturate).await?) } else { None };
        Ok::<_, anyhow::Error>((plain, certified, saturated))
    })?;
    drop(cluster);
    let (c50, c99) = (pct(&certified.certificate, 50), pct(&certified.certificate, 99));
    let (f50, f99) = (pct(&certified.finality, 50), pct(&certified.finality, 99));
    println!(
        "certificate latency: p50 {:.0} ms, p99 {:.0} ms; finality of the same transactions: p50 {:.0} ms, p99 {:.0} ms",
        ms(c50),
        ms(c99),
        ms(f50),
        ms(f99)
    );
    println!(
        "  ratio certificate / finality: p50 {:.2} (goal <= 0.25), p99 {:.2} (goal <= 0.5)",
        c50.as_secs_f64() / f50.as_secs_f64(),
        c99.as_secs_f64() / f99.as_secs_f64()
    );
    println!(
        "  baseline, plain submissions: {:.0} tx/s, finality p50 {:.0} ms, p99 {:.0} ms",
        plain.tps(),
        ms(pct(&plain.finality, 50)),
        ms(pct(&plain.finality, 99))
    );
    println!(
        "  throughput at {} in flight (latency-bound: each client waits for its answer): certified {:.0} tx/s ({:.0} per block), plain {:.0} tx/s ({:.0} per block), ratio {:.2}",
        args.concurrency,
        certified.tps(),
        certified.per_block(),
        plain.tps(),
        plain.per_block(),
        certified.tps() / plain.tps()
    );
    if let Some((plain, certified)) = &saturated {
        println!(
            "  capacity, {} in flight: certified {:.0} tx/s ({:.0} per block), plain {:.0} tx/s ({:.0} per block): ratio certified / plain {:.2} (goal >= 0.8); certified included or resolved by expiry {} of {}",
            args.saturate,
            certified.tps(),
            certified.per_block(),
            plain.tps(),
            plain.per_block(),
            certified.tps() / plain.tps(),
            certified.by_expiry.0,
            certified.by_expiry.1
        );
    }
    // CPU per transaction: what capacity comes to when the validators are CPU-bound
    // (they share two cores here), steadier than a short run's throughput.
    let (p, c) = match &saturated {
        Some((p, c)) => (p.cpu_per_tx(), c.cpu_per_tx()),
        None => (plain.cpu_per_tx(), certified.cpu_per_tx()),
    };
    if let (Some(p), Some(c)) = (p, c) {
        println!(
            "  validators' CPU per committed transaction{}: certified {:.2} ms, plain {:.2} ms: ratio plain / certified {:.2} (the capacity ratio where CPU is the bound)",
            if saturated.is_some() { " at capacity" } else { "" },
            ms(c),
            ms(p),
            p.as_secs_f64() / c.as_secs_f64().max(1e-12)
        );
    }
    println!(
        "  certified transactions included or resolved by their expiry: {} of {} ({:.1}%)",
        certified.by_expiry.0,
        certified.by_expiry.1,
        100.0 * certified.by_expiry.0 as f64 / certified.by_expiry.1.max(1) as f64
    );
    Ok(())
}
