//! `strata`: the Strata node binary.

mod audit;
mod cmd_contract;
mod cmd_tx;
mod scaffold;

use strata_node::{abi, client, contract};

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
use strata_node::{DevConfig, Mining, Node, dev_accounts};
use strata_primitives::B256;

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
        /// Interval mining: a block every T (`2s`, `250ms`, `2` = seconds), empty or not. Without
        /// it, instant mining: a block as soon as transactions are pending, and
        /// eth_sendRawTransaction answers once its transaction is included (anvil's default).
        #[arg(long, short = 'b', value_parser = parse_duration)]
        block_time: Option<Duration>,
        /// How many recent blocks' state stays queryable (eth_getBalance, eth_getProof, … at a
        /// block number); older trie nodes are pruned.
        #[arg(long, default_value_t = strata_state::DEFAULT_RETAIN, value_parser = clap::value_parser!(u64).range(1..))]
        retain_blocks: u64,
        /// Directory of the cold store, where archived contract data goes (its own RocksDB;
        /// may be on a slower disk). Default: `<data-dir>/cold`.
        #[arg(long)]
        cold_dir: Option<PathBuf>,
        /// A validator that shares the fees, `ADDRESS[:nvme|ssd|hdd]`; repeat for several
        /// (default: the dev validator alone). Part of genesis: changing it makes another chain.
        #[arg(long = "validator", value_parser = parse_validator)]
        validators: Vec<strata_chain::FeeRecipient>,
        /// Split fees by the validators' storage class (NVMe 3 : SSD 2 : HDD 1) instead of equally.
        #[arg(long)]
        split_by_storage_class: bool,
        /// Serve Prometheus `/metrics` and `/health` on this address (e.g. 127.0.0.1:9100).
        #[arg(long)]
        metrics_addr: Option<SocketAddr>,
        /// Origins browser dapps may call the RPC from, comma-separated; `*` any (default), `none` off.
        #[arg(long, default_value = "*")]
        cors: String,
        /// Do not serve the explorer at `/explorer` on the RPC port.
        #[arg(long)]
        no_explorer: bool,
        /// Most gas one eth_call, eth_estimateGas or strata_quoteFee may use (default: the block gas limit).
        #[arg(long)]
        rpc_gas_cap: Option<u64>,
        /// Wall-clock time one of them may take (e.g. `5s`, `500ms`).
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        rpc_timeout: Duration,
    },
    /// Write a local testnet: genesis.json and, per validator, a fresh key and config.toml.
    Init {
        /// Output directory.
        #[arg(long, default_value = ".strata/testnet")]
        out: PathBuf,
        /// Number of validators (3f+1 tolerates f faults).
        #[arg(long, default_value_t = 4)]
        validators: u32,
        /// Chain id.
        #[arg(long, default_value_t = 4242)]
        chain_id: u64,
        /// Host the validators listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
        /// First p2p port (validator i listens on this + i).
        #[arg(long, default_value_t = 30300)]
        p2p_port: u16,
        /// First JSON-RPC port (validator i serves on this + i).
        #[arg(long, default_value_t = 8545)]
        rpc_port: u16,
        /// Run every seat as a validator slot of two machines, each with its own key: a
        /// primary and a backup (in validator-<i>-backup/, ports after the primaries'),
        /// whose roles the chain switches when the active one stops signing.
        #[arg(long)]
        backups: bool,
        /// The parent chain's genesis.json: this chain becomes its child in a hierarchy
        /// (its registry follows the parent, so the parent's events can be relayed here).
        #[arg(long)]
        parent: Option<PathBuf>,
    },
    /// Run one validator of a network from its config.toml (see `strata init`).
    Run {
        /// The validator's configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Create, build, deploy and call Wasm contracts (typed by their ABI).
    #[command(subcommand)]
    Contract(cmd_contract::ContractCommand),
    /// Send ether and read transactions and accounts.
    #[command(subcommand)]
    Tx(cmd_tx::TxCommand),
    /// Verify, offline, that something is part of a finalized block.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// A hierarchy of chains: register a child chain with this chain's registry, or show
    /// what the registry follows.
    #[command(subcommand)]
    Chain(strata_node::hierarchy::cli::ChainCommand),
    /// Storage deals: deploy the market, open a deal, see its windows, slash, end, withdraw.
    #[command(subcommand)]
    Deal(strata_node::hierarchy::cli::DealCommand),
    /// Carry events of one chain (with receipt proofs and certificates) to contracts of
    /// another, keeping the destination's registry checkpointed.
    Relay(strata_node::hierarchy::relay::RelayArgs),
    /// A storage provider: keep files, accept deals for them, prove their windows.
    #[command(subcommand)]
    Provider(strata_node::hierarchy::provider::ProviderCommand),
    /// Multi-party attestation: run an attestor (no subcommand), or deploy, register
    /// attestors and sources, request an attestation, see a request's status.
    Attest(strata_node::attest::cli::AttestArgs),
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Fetch a receipt's proof bundle (strata_getReceiptProof) and verify it: Merkle proof
    /// against receiptsRoot, header hash, commit certificate against the validator set.
    Receipt {
        /// Transaction hash: the receipt must be proven to be this transaction's (optional
        /// with --offline, where the proven hash is printed).
        tx: Option<String>,
        /// Node JSON-RPC URL to fetch the bundle from.
        #[arg(long, default_value = "http://127.0.0.1:8545")]
        rpc: String,
        /// Verify a saved bundle (a strata_getReceiptProof answer, e.g. from --save) with no node at all.
        #[arg(long)]
        offline: Option<PathBuf>,
        /// Save the fetched bundle to this file.
        #[arg(long)]
        save: Option<PathBuf>,
        #[command(flatten)]
        trust: audit::TrustArgs,
    },
    /// Verify a saved storage certificate (a strata_sendRawTransactionCertified answer)
    /// offline: its signers against the validator set of its height; with --rpc, then its
    /// inclusion (receipt proof and commit certificate) by the expiry.
    Certificate {
        /// The saved answer (JSON).
        file: PathBuf,
        /// Node JSON-RPC URL: also check that the transaction is in a finalized block by its expiry.
        #[arg(long)]
        rpc: Option<String>,
        #[command(flatten)]
        trust: audit::TrustArgs,
    },
}

fn parse_validator(s: &str) -> Result<strata_chain::FeeRecipient, String> {
    let (address, class) = s.split_once(':').unwrap_or((s, "nvme"));
    let address = address.parse().map_err(|e| format!("bad validator address `{address}`: {e}"))?;
    Ok(strata_chain::FeeRecipient { address, storage_class: class.parse()? })
}

use strata_node::client::parse_duration;

/// Prints the fee contract's price table (what every transaction is charged by).
async fn print_fee_settings(node: &strata_node::Node) {
    use alloy_sol_types::SolCall;
    use strata_primitives::interfaces::IFee;
    let Ok(rpc) = client::Node::connect(&node.http_url()) else { return };
    let req = serde_json::json!({"to": strata_primitives::system::FEE_CONTRACT, "data": format!("0x{}", strata_primitives::hex::encode(IFee::pricesCall {}.abi_encode()))});
    let prices = match rpc.request("eth_call", vec![req, "latest".into()]).await {
        Ok(out) => client::hex_arg(out.as_str().unwrap_or_default()).ok().and_then(|b| IFee::pricesCall::abi_decode_returns(&b).ok()),
        Err(_) => None,
    };
    let Some(p) = prices else {
        println!("Fees: could not read the fee contract's prices");
        return;
    };
    println!(
        "Fees (fee contract {}): gas {} wei, fuel {} wei, network byte {} wei (x validators), storage byte {} wei, cold byte-day {} wei; default retention {} s, default quota {} bytes",
        strata_primitives::system::FEE_CONTRACT,
        p.gasPrice,
        p.fuelPrice,
        p.networkBytePrice,
        p.storageBytePrice,
        p.coldByteDayPrice,
        p.defaultRetentionSeconds,
        p.defaultQuotaBytes
    );
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

/// Prints where the node listens, then runs it until SIGINT/SIGTERM and stops it cleanly.
async fn serve_until_signal(node: strata_node::Node, explorer: bool) {
    println!("JSON-RPC: {} (WebSocket: {})", node.http_url(), node.ws_url());
    if explorer {
        println!("explorer: {}/explorer/", node.http_url());
    }
    if let Some(m) = node.metrics_addr() {
        println!("Metrics: http://{m}/metrics, health: http://{m}/health");
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    node.stop().await;
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();
    let cli = Cli::parse();
    match cli.command {
        Command::Contract(command) => cmd_contract::run(command).await?,
        Command::Tx(command) => cmd_tx::run(command).await?,
        Command::Chain(command) => strata_node::hierarchy::cli::chain(command).await?,
        Command::Deal(command) => strata_node::hierarchy::cli::deal(command).await?,
        Command::Relay(args) => strata_node::hierarchy::relay::run(args).await?,
        Command::Attest(args) => strata_node::attest::cli::run(args).await?,
        Command::Provider(strata_node::hierarchy::provider::ProviderCommand::Store { file, data }) => {
            let (root, size) = strata_node::hierarchy::provider::store(&file, &data)?;
            println!("stored {}: root {root}, {size} bytes, {} segments", file.display(), strata_primitives::segments::segment_count(size));
        }
        Command::Provider(strata_node::hierarchy::provider::ProviderCommand::Run(args)) => {
            strata_node::hierarchy::provider::run(*args).await?
        }
        Command::Audit(AuditCommand::Receipt { tx, rpc, offline, save, trust }) => {
            let root = trust.root()?;
            let expected: Option<B256> =
                tx.as_deref().map(|t| t.parse().with_context(|| format!("{t} is not a transaction hash"))).transpose()?;
            let answer = match (offline, tx) {
                (Some(file), _) => {
                    let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
                    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?
                }
                (None, Some(tx)) => {
                    let node = client::Node::connect(&rpc)?;
                    let answer = node.request("strata_getReceiptProof", vec![serde_json::json!(tx)]).await?;
                    anyhow::ensure!(!answer.is_null(), "the node knows no included transaction {tx}");
                    if let Some(path) = save {
                        std::fs::write(&path, serde_json::to_string_pretty(&answer)?)
                            .with_context(|| format!("writing {}", path.display()))?;
                        println!("bundle saved to {}", path.display());
                    }
                    answer
                }
                (None, None) => anyhow::bail!("give a transaction hash, or --offline FILE"),
            };
            audit::verify_and_print(&answer, &root, expected)?;
        }
        Command::Audit(AuditCommand::Certificate { file, rpc, trust }) => {
            let root = trust.root()?;
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let answer: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
            let cert = audit::verify_certificate(&answer, &root)?;
            if let Some(url) = rpc {
                let node = client::Node::connect(&url)?;
                let receipt = node.request("strata_getReceiptProof", vec![serde_json::json!(cert.claim.tx_hash)]).await?;
                let head = node.request("eth_blockNumber", vec![]).await?;
                let head = u64::from_str_radix(head.as_str().unwrap_or("0x0").trim_start_matches("0x"), 16).unwrap_or(0);
                let resolutions = if receipt.is_null() && head >= cert.claim.expiry {
                    Some(
                        node.request("strata_getCertifiedResolutions", vec![serde_json::json!(format!("{:#x}", cert.claim.expiry))])
                            .await?,
                    )
                } else {
                    None
                };
                audit::verify_inclusion(&cert, &answer, &receipt, resolutions.as_ref(), head, &root)?;
            }
        }
        Command::Init { out, validators, chain_id, host, p2p_port, rpc_port, backups, parent } => {
            let parent = match parent {
                Some(path) => Some(strata_node::config::GenesisParent::of(&strata_node::config::Genesis::load(&path)?)?),
                None => None,
            };
            let opts =
                strata_node::config::InitOptions { out: out.clone(), validators, chain_id, host, p2p_port, rpc_port, backups, parent };
            let configs = strata_node::config::init(&opts)?;
            println!("Wrote {} (chain id {chain_id}) and {} validators:", out.join("genesis.json").display(), configs.len());
            for c in &configs {
                let v = strata_node::config::ValidatorConfig::load(c)?;
                println!("  strata run --config {}    # RPC http://{} p2p {}", c.display(), v.rpc_addr, v.p2p_addr);
            }
        }
        Command::Run { config } => {
            let cfg = strata_node::config::ValidatorConfig::load(&config)?;
            let explorer = cfg.explorer;
            let node =
                strata_node::Node::start_validator(cfg).await.with_context(|| format!("starting the validator of {}", config.display()))?;
            println!("JSON-RPC: {} (WebSocket: {})", node.http_url(), node.ws_url());
            if explorer {
                println!("explorer: {}/explorer/", node.http_url());
            }
            shutdown_signal().await;
            tracing::info!("shutting down");
            node.stop().await;
        }
        Command::Dev {
            data_dir,
            rpc_addr,
            chain_id,
            block_time,
            retain_blocks,
            cold_dir,
            validators,
            split_by_storage_class,
            metrics_addr,
            cors,
            no_explorer,
            rpc_gas_cap,
            rpc_timeout,
        } => {
            let cors = (cors != "none").then(|| cors.split(',').map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect());
            let fee_split = if split_by_storage_class { strata_chain::FeeSplit::BY_STORAGE_CLASS } else { strata_chain::FeeSplit::Equal };
            let config = DevConfig {
                data_dir: data_dir.clone(),
                rpc_addr,
                chain_id,
                mining: block_time.map_or(Mining::Instant, Mining::Interval),
                retain_blocks,
                cold_dir,
                validators,
                fee_split,
                metrics_addr,
                cors,
                explorer: !no_explorer,
                rpc_gas_cap,
                rpc_timeout,
            };
            let mining = config.mining;
            let node = Node::start(config).await.with_context(|| format!("starting the dev node in {}", data_dir.display()))?;
            print_dev_accounts()?;
            println!("Chain id {chain_id}, data in {}", data_dir.display());
            println!("Mining: {mining}");
            print_fee_settings(&node).await;
            serve_until_signal(node, !no_explorer).await;
        }
    }
    Ok(())
}
