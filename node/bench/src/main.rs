//! `strata-bench`: Strata's benchmarks, run by `scripts/bench.sh`.
//!
//! Why a bench binary rather than timed tests: figures come from a release build
//! on real RocksDB, are printed as medians of repeated runs (the machine is small
//! and noisy), and every figure stands beside a baseline measured in the same run,
//! as a ratio, so a change of machine changes both sides.

mod attest;
mod block_bound;
mod certified;
mod failover;
mod fees;
mod load;
mod relay;
mod sizes;
mod state;
mod vm;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "strata-bench", about = "Strata benchmarks (medians, with same-run baselines)")]
struct Cli {
    #[command(subcommand)]
    bench: Option<Bench>,
}

#[derive(Subcommand)]
enum Bench {
    /// Merkle-Patricia state on RocksDB: per-block commit and flat reads.
    State(state::Args),
    /// Contract engine: per-call overhead, token-transfer throughput, and the worst block
    /// at the gas limit against the stated bound.
    Vm(vm::Args),
    /// Only the worst block at the gas limit, by mix.
    Block(block_bound::Args),
    /// Resource pricing: fee-contract quotes and transfers applied per second.
    Fees(fees::Args),
    /// Consensus under load: committed tx/s and latency of strata dev and a 4-validator cluster.
    Load(load::Args),
    /// Contract sizes (counter, ERC-20) beside the previous release's and the goals.
    Sizes(sizes::Args),
    /// Validator-slot failover: blocks and seconds from killing an active machine to its
    /// backup's first signature, beside the switch rule's window.
    Failover(failover::Args),
    /// Storage certificates: certificate latency beside finality, certified throughput
    /// beside plain, inclusion by the expiry.
    Certified(certified::Args),
    /// A hierarchy of chains: relayed-log verification in Wasm beside native, proof
    /// sizes, and relay latency across two chains beside their block times.
    Relay(relay::Args),
    /// Multi-party attestation: the contract's gas per signature and decisions per block,
    /// and request-to-attested latency with 4, 7 and 16 attestors beside the block time.
    Attest(attest::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.bench {
        Some(Bench::State(args)) => state::run(&args),
        Some(Bench::Vm(args)) => {
            vm::run(&args)?;
            block_bound::run(&block_bound::Args::default())
        }
        Some(Bench::Block(args)) => block_bound::run(&args),
        Some(Bench::Fees(args)) => fees::run(&args),
        Some(Bench::Load(args)) => load::run(&args),
        Some(Bench::Sizes(args)) => sizes::run(&args),
        Some(Bench::Failover(args)) => failover::run(&args),
        Some(Bench::Certified(args)) => certified::run(&args),
        Some(Bench::Relay(args)) => relay::run(&args),
        Some(Bench::Attest(args)) => attest::run(&args),
        None => {
            sizes::run(&sizes::Args::default())?;
            state::run(&state::Args::default())?;
            vm::run(&vm::Args::default())?;
            block_bound::run(&block_bound::Args::default())?;
            fees::run(&fees::Args::default())?;
            load::run(&load::Args::default())?;
            certified::run(&certified::Args::default())?;
            relay::run(&relay::Args::default())?;
            attest::run(&attest::Args::default())?;
            failover::run(&failover::Args::default())
        }
    }
}

/// Median of samples (upper median for even counts).
pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
