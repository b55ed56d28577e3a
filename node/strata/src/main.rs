//! `strata`: the Strata node binary.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
use strata_node::{DevConfig, DevNode, dev_accounts};

#[derive(Parser)]
#[command(name = "strata", version, about = "Strata: a blockchain node whose smart contracts are WebAssembly")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a single-validator development chain with prefunded public test accounts.
    Dev {
        /// Database directory (created if missing; reopened to resume the chain).
        #[arg(long, default_value = ".strata/dev")]
        data_dir: PathBuf,
        /// JSON-RPC address, HTTP and WebSocket on one port.
        #[arg(long, default_value = "127.0.0.1:8545")]
        rpc_addr: SocketAddr,
        /// Chain id.
        #[arg(long, default_value_t = strata_chain::DEV_CHAIN_ID)]
        chain_id: u64,
        /// Minimum time between blocks (e.g. `1s`, `250ms`); blocks are made only when transactions are pending.
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        block_time: Duration,
        /// How many recent blocks' state stays queryable (eth_getBalance, eth_getProof, … at a
        /// block number); older trie nodes are pruned.
        #[arg(long, default_value_t = strata_state::DEFAULT_RETAIN, value_parser = clap::value_parser!(u64).range(1..))]
        retain_blocks: u64,
    },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.find(|c: char| !c.is_ascii_digit()).map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: u64 = num.parse().map_err(|_| format!("invalid duration {s:?}: use e.g. 1s or 250ms"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        _ => Err(format!("invalid duration unit in {s:?}: use ms or s")),
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).init();
}

fn print_dev_accounts() -> anyhow::Result<()> {
    println!();
    println!("Prefunded accounts (10,000 ETH each) of the mnemonic");
    println!("  \"{}\"", strata_primitives::keys::DEV_MNEMONIC);
    println!("WARNING: these keys are PUBLIC test keys, known to everyone. Never use them on a real network.");
    println!();
    for (i, key) in dev_accounts()?.iter().enumerate() {
        println!("({i}) {}  key 0x{}", key.signer.address(), strata_primitives::hex::encode(key.signer.secret_bytes()));
    }
    println!();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();
    let cli = Cli::parse();
    match cli.command {
        Command::Dev { data_dir, rpc_addr, chain_id, block_time, retain_blocks } => {
            let config = DevConfig { data_dir: data_dir.clone(), rpc_addr, chain_id, block_time, retain_blocks };
            let node = DevNode::start(config).await.with_context(|| format!("starting the dev node in {}", data_dir.display()))?;
            print_dev_accounts()?;
            println!("Chain id {chain_id}, data in {}", data_dir.display());
            println!("JSON-RPC: {} (WebSocket: {})", node.http_url(), node.ws_url());
            shutdown_signal().await;
            tracing::info!("shutting down");
            node.stop().await;
        }
    }
    Ok(())
}
