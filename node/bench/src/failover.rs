//! Failover benchmark: 4 validator slots × 2 machines (`strata init --backups`, real
//! processes), the active machine of a slot killed with SIGKILL; the time, in blocks and
//! seconds, until its backup's signature is in a commit certificate — beside the
//! chain's window `N × block time` (the evidence the switch rule waits for) and the goal
//! `N + 2` blocks. Median of a few rounds.

use std::time::{Duration, Instant};

use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use serde_json::json;
use strata_primitives::{Address, Bytes, CommitCertificate, rlp_item::decode_exact};

use crate::{
    load::{call, quantity, start_cluster, strata_bin, wait_ready},
    median,
};

/// Settings of the failover benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Rounds (a fresh cluster each).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Block time of the cluster (ms).
    #[arg(long, default_value_t = 250)]
    pub block_ms: u64,
    /// `N`, the window of evidence (default: about 10 s of blocks).
    #[arg(long)]
    pub window: Option<u64>,
    /// The `strata` binary (default: beside this one).
    #[arg(long)]
    pub strata: Option<std::path::PathBuf>,
}

impl Default for Args {
    fn default() -> Self {
        Self { rounds: 3, block_ms: 250, window: None, strata: None }
    }
}

async fn height(client: &HttpClient) -> u64 {
    call(client, "eth_blockNumber", vec![]).await.map(|v| quantity(&v)).unwrap_or(0)
}

/// The key that signed the certificate of block `h` as validator `slot` (the slot's
/// active key at `h`), if the slot's signature is in it.
async fn signer(client: &HttpClient, h: u64, slot: u32) -> anyhow::Result<Option<Address>> {
    let slots = call(client, "strata_validatorSlots", vec![json!(format!("{:#x}", h - 1))]).await?;
    let active: Address = slots["slots"][slot as usize]["active"].as_str().unwrap_or_default().parse()?;
    let cert = call(client, "strata_getCommitCertificate", vec![json!(format!("{h:#x}"))]).await?;
    let Some(raw) = cert["raw"].as_str() else { return Ok(None) };
    let cert = decode_exact::<CommitCertificate>(&raw.parse::<Bytes>()?)?;
    Ok(cert.signatures.iter().any(|s| s.validator == slot).then_some(active))
}

/// Runs the benchmark and prints its figures.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let window = args.window.unwrap_or((10_000 / args.block_ms.max(1)).max(3));
    println!("== failover: 4 slots x 2 machines, {} ms blocks, window N = {window}; medians of {} rounds", args.block_ms, args.rounds);
    let bin = strata_bin(&crate::load::Args { strata: args.strata.clone(), ..Default::default() });
    anyhow::ensure!(bin.exists(), "no strata binary at {} (build it with cargo build --release -p strata-node)", bin.display());
    let rt = tokio::runtime::Runtime::new()?;
    let dir = tempfile::tempdir()?;
    let (mut blocks, mut seconds) = (Vec::new(), Vec::new());
    for round in 0..args.rounds {
        // Blocks every `block_ms` even without transactions, and a dead proposer's turn
        // passed after four block times.
        let settings =
            [("block_time_ms", args.block_ms), ("empty_block_ms", args.block_ms), ("view_timeout_ms", (args.block_ms * 4).max(500))];
        let (mut cluster, _) = start_cluster(&bin, dir.path(), &format!("failover-{round}"), 4, true, &settings, |g| {
            g["slot_window"] = window.into();
        })?;
        let (b, s) = rt.block_on(async {
            let observer = HttpClientBuilder::default().request_timeout(Duration::from_secs(10)).build(&cluster.urls[0])?;
            for u in &cluster.urls {
                wait_ready(&HttpClientBuilder::default().build(u)?, 2).await?;
            }
            let slots = call(&observer, "strata_validatorSlots", vec![json!("latest")]).await?;
            let backup: Address = slots["slots"][1]["backup"].as_str().unwrap_or_default().parse()?;
            let killed_at = height(&observer).await;
            let killed = Instant::now();
            let _ = cluster.procs.0[1].kill(); // slot 1's primary: SIGKILL
            let deadline = Instant::now() + Duration::from_secs(300);
            // Blocks are counted from the first one the killed key did not sign (it may
            // still have signed the block in progress when it died).
            let (mut next, mut missed) = (killed_at + 1, None);
            loop {
                anyhow::ensure!(Instant::now() < deadline, "slot 1's backup never signed within 5 minutes");
                if height(&observer).await < next {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                let key = signer(&observer, next, 1).await?;
                if key == Some(backup) {
                    let first_missed = missed.unwrap_or(killed_at + 1);
                    return Ok::<_, anyhow::Error>((next - first_missed, killed.elapsed()));
                }
                if key.is_none() && missed.is_none() {
                    missed = Some(next);
                }
                next += 1;
            }
        })?;
        println!(
            "  round {round}: the backup signs {b} blocks after the first block the killed key missed, {:.1} s after the kill",
            s.as_secs_f64()
        );
        blocks.push(b as f64);
        seconds.push(s.as_secs_f64());
        drop(cluster);
    }
    let (b, s) = (median(blocks), median(seconds));
    let bound = window as f64 * args.block_ms as f64 / 1e3;
    println!(
        "failover (kill -9 of an active machine to its backup's first signature): {b:.0} blocks from the first block it missed, {s:.1} s"
    );
    println!("  baseline: the window N x block time = {window} blocks, {bound:.1} s; ratio {:.2} (seconds)", s / bound);
    println!(
        "  goal N + 2 = {} blocks: ratio {:.2} (one block observes the dead key's absence, N of evidence, 2 to take effect)",
        window + 2,
        b / (window + 2) as f64
    );
    Ok(())
}
