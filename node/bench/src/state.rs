//! State benchmark: a large account trie on RocksDB, then blocks of random
//! account and storage updates.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use strata_primitives::{Account, Address, B256, Bytes, EMPTY_ROOT_HASH, U256, keccak256};
use strata_state::{StateChanges, StateDb, StateReader};
use strata_storage::{Column, SharedKv, WriteBatch};

use strata_testdata::Rng;

use crate::median;

/// Sizes of the state benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Accounts in the initial state.
    #[arg(long, default_value_t = 1_000_000)]
    pub accounts: u64,
    /// Updates per measured block (account balances and contract storage).
    #[arg(long, default_value_t = 10_000)]
    pub updates: u64,
    /// Measured blocks.
    #[arg(long, default_value_t = 10)]
    pub blocks: u64,
    /// Random reads for the read-latency figures.
    #[arg(long, default_value_t = 100_000)]
    pub reads: u64,
    /// Workload seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Database directory (default: a temporary directory, removed afterwards).
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
}

impl Default for Args {
    fn default() -> Self {
        Self { accounts: 1_000_000, updates: 10_000, blocks: 10, reads: 100_000, seed: 42, dir: None }
    }
}

const CONTRACTS: u64 = 1_000;

fn address(i: u64) -> Address {
    Address::from_slice(&keccak256(i.to_be_bytes())[12..])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn commit(db: &StateDb, kv: &SharedKv, number: u64, parent: B256, changes: &StateChanges) -> anyhow::Result<B256> {
    let mut batch = WriteBatch::new();
    let root = db.commit(number, parent, changes, &mut batch)?;
    kv.write(batch)?;
    Ok(root)
}

/// Runs the benchmark and prints its figures.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let rocks = Arc::new(strata_db::RocksKv::open(&dir)?);
    let kv: SharedKv = rocks.clone();
    let db = StateDb::new(kv.clone(), strata_state::DEFAULT_RETAIN);
    println!("== state: {} accounts on RocksDB, {} blocks of {} updates (seed {})", args.accounts, args.blocks, args.updates, args.seed);

    // Setup: the initial accounts in chunks (each chunk one block), with progress.
    let started = Instant::now();
    let chunk = 100_000u64.min(args.accounts.max(1));
    let mut root = EMPTY_ROOT_HASH;
    let mut number = 0u64;
    let mut next = 0u64;
    while next < args.accounts {
        let end = (next + chunk).min(args.accounts);
        let mut changes = StateChanges::default();
        for i in next..end {
            changes.accounts.insert(address(i), Some(Account::with_balance(U256::from(i + 1))));
        }
        root = commit(&db, &kv, number, root, &changes)?;
        number += 1;
        next = end;
        eprint!("\r  setup: {next}/{} accounts ({:.0}s)", args.accounts, started.elapsed().as_secs_f64());
    }
    eprintln!();
    println!("setup: {} accounts in {number} blocks, {:.1} s", args.accounts, started.elapsed().as_secs_f64());

    // Measured blocks: 70% balance updates of random accounts, 30% storage writes
    // to random slots of 1,000 contracts.
    let mut rng = Rng::new(args.seed);
    let mut commit_ms = Vec::new();
    let mut compute_ms = Vec::new();
    for b in 0..args.blocks {
        let mut changes = StateChanges::default();
        for _ in 0..args.updates {
            if rng.next() % 10 < 7 {
                let a = address(rng.next() % args.accounts);
                let balance = U256::from(rng.next());
                let mut acct = db.account(&a)?.unwrap_or_default();
                acct.balance = balance;
                changes.accounts.insert(a, Some(acct));
            } else {
                let c = address(u64::MAX - rng.next() % CONTRACTS);
                let key = Bytes::from((rng.next() % 256).to_be_bytes().to_vec());
                let value = Bytes::from(rng.next().to_be_bytes().to_vec());
                changes.storage.entry(c).or_default().insert(key, Some(strata_primitives::Slot::Value(value)));
            }
        }
        let t = Instant::now();
        let mut batch = WriteBatch::new();
        root = db.commit(number, root, &changes, &mut batch)?;
        let computed = t.elapsed();
        kv.write(batch)?;
        commit_ms.push(ms(t.elapsed()));
        compute_ms.push(ms(computed));
        number += 1;
        eprint!("\r  block {}/{}: {:.0} ms ({:.0} ms before the write)", b + 1, args.blocks, ms(t.elapsed()), ms(computed));
    }
    eprintln!();

    // Baseline: the same root from scratch with alloy-trie's HashBuilder, over
    // leaves prepared in memory (reading and sorting are not timed: favours the baseline).
    let mut leaves: Vec<(B256, Vec<u8>)> = Vec::new();
    let mut storage_count = 0usize;
    kv.for_each_prefix(Column::Accounts, &[], &mut |k, v| {
        leaves.push((keccak256(k), v.to_vec()));
        true
    })?;
    kv.for_each_prefix(Column::Storage, &[], &mut |_, _| {
        storage_count += 1;
        true
    })?;
    leaves.sort_unstable_by_key(|leaf| leaf.0);
    let mut scratch_ms = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let mut hb = alloy_trie::HashBuilder::default();
        for (k, v) in &leaves {
            hb.add_leaf(alloy_trie::Nibbles::unpack(k), v);
        }
        let scratch_root = hb.root();
        scratch_ms.push(ms(t.elapsed()));
        anyhow::ensure!(scratch_root == root, "baseline root {scratch_root} differs from the incremental root {root}");
    }
    let (inc, full, compute) = (median(commit_ms), median(scratch_ms), median(compute_ms));
    println!(
        "block commit (apply {} updates + root + RocksDB write), median of {}: {inc:.1} ms ({compute:.1} ms of it before the synced write)",
        args.updates, args.blocks
    );
    println!(
        "  baseline: account root from scratch, alloy-trie HashBuilder over {} sorted leaves (storage roots not even included), median of 3: {full:.1} ms",
        leaves.len()
    );
    println!("  ratio incremental / from-scratch: {:.3}  (roots equal: yes; {storage_count} storage slots)", inc / full);

    // Reads: flat view (one get) against a trie walk, same random accounts, on a
    // compacted database (the steady state background compaction keeps a node in).
    let t = Instant::now();
    rocks.compact()?;
    println!("compaction before the read benchmark: {:.1} s", t.elapsed().as_secs_f64());
    let picks: Vec<Address> = (0..args.reads).map(|_| address(rng.next() % args.accounts)).collect();
    let mut flat_ns = Vec::new();
    let mut trie_ns = Vec::new();
    for round in 0..5 {
        // A fresh StateDb per round: its node cache starts empty, so the walk reads
        // through RocksDB (upper levels get cached within the round, leaves mostly not).
        let at = StateDb::new(kv.clone(), strata_state::DEFAULT_RETAIN).at_root(root);
        let t = Instant::now();
        for a in &picks {
            std::hint::black_box(db.account(a)?);
        }
        flat_ns.push(t.elapsed().as_nanos() as f64 / picks.len() as f64);
        let t = Instant::now();
        for a in &picks {
            std::hint::black_box(at.account(a)?);
        }
        trie_ns.push(t.elapsed().as_nanos() as f64 / picks.len() as f64);
        eprint!("\r  read round {}/5", round + 1);
    }
    eprintln!();
    let (flat, walk) = (median(flat_ns), median(trie_ns));
    println!("random account read, flat view (one RocksDB get), median of 5 rounds x {}: {:.2} us", args.reads, flat / 1e3);
    println!("  baseline: same reads by trie walk from the state root, node cache cold at each round: {:.2} us", walk / 1e3);
    println!("  ratio flat / trie walk: {:.3}", flat / walk);
    Ok(())
}
