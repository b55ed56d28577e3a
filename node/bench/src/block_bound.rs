//! The worst block: how long a block filled to the gas limit with the most expensive
//! work per gas we know of takes to validate (recover senders, execute, compute the
//! state root) on this machine, beside the bound docs/abi.md states.
//!
//! Each mix is a contract that does one kind of work in a loop until its gas runs out
//! (or, where the work leaves effects — storage, logs — until little gas is left, so the
//! transaction succeeds and its effects are committed), sent in transactions that
//! together fill a block to the gas limit. The figure is the median time of
//! `Chain::validate` on that block (what every validator does with a proposal), on
//! RocksDB, compiled code warm (except the deploy mix, whose modules are new). The chain
//! runs at the cheapest prices the fee contract allows (fuel at a tenth of the gas price,
//! network, storage and cold bytes free): the most work a block's gas can buy.

use std::{sync::Arc, time::Instant};

use strata_chain::{Chain, ChainConfig, ChainSpec, Check, TxOrigin};
use strata_db::RocksKv;
use strata_primitives::{Address, Bytes, LocalSigner, TxKind, U256, deploy, keys, transaction::build};

use alloy_sol_types::SolCall;
use strata_primitives::{interfaces::IArchive, system::ARCHIVE_CONTRACT};

use crate::median;

/// The bound docs/abi.md states: a block at the gas limit validates within this on the
/// reference machine (2 cores).
pub const BOUND_MS: f64 = 1_000.0;

/// Sizes of the benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Measured rounds per mix (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub rounds: u32,
    /// Only the mixes whose name contains this.
    #[arg(long)]
    pub only: Option<String>,
}

impl Default for Args {
    fn default() -> Self {
        Self { rounds: 5, only: None }
    }
}

/// A loop body repeated while more than 400,000 gas is left; then the call returns.
fn until_low_gas(imports: &str, setup: &str, body: &str) -> String {
    looping(imports, setup, &format!("{body} (br_if 1 (i64.lt_u (call $gas_left) (i64.const 400000)))"))
        .replace("(loop $l", "(block (loop $l")
        .replace("(br $l))))", "(br $l)))))")
}

/// A loop body repeated until the gas runs out, around a common prelude.
fn looping(imports: &str, setup: &str, body: &str) -> String {
    format!(
        r#"(module
  {imports}
  (memory (export "memory") 256)
  (table 4 funcref)
  (elem (i32.const 0) $tiny $tiny $tiny $tiny)
  (type $t (func (param i64) (result i64)))
  (func $tiny (param i64) (result i64) (i64.add (local.get 0) (i64.const 1)))
  (func (export "call") (local $i i64) (local $x i64)
    {setup}
    (loop $l
      {body}
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br $l))))"#
    )
}

const ENV: &str = r#"(import "env" "block_number" (func $block_number (result i64)))
  (import "env" "keccak256" (func $keccak (param i32 i32 i32)))
  (import "env" "ecrecover" (func $ecrecover (param i32 i32 i32) (result i32)))
  (import "env" "storage_read" (func $sread (param i32 i32 i32 i32) (result i32)))
  (import "env" "storage_write" (func $swrite (param i32 i32 i32 i32)))
  (import "env" "emit_log" (func $log (param i32 i32 i32 i32)))
  (import "env" "call" (func $call (param i32 i32 i32 i32 i64) (result i32)))
  (import "env" "self_address" (func $self (param i32)))
  (import "env" "gas_left" (func $gas_left (result i64)))"#;

/// The mixes: (name, contract, input).
fn mixes() -> Vec<(&'static str, String)> {
    vec![
        ("arithmetic loop (fuel only)", looping(ENV, "", "(local.set $x (i64.mul (i64.add (local.get $x) (local.get $i)) (i64.const 3)))")),
        (
            "bulk memory: fill + copy of 8 MiB per iteration",
            looping(
                ENV,
                "",
                "(memory.fill (i32.const 0) (i32.const 7) (i32.const 8388608)) (memory.copy (i32.const 8388608) (i32.const 0) (i32.const 8388608))",
            ),
        ),
        ("call_indirect to a tiny function", looping(ENV, "", "(local.set $x (call_indirect (type $t) (local.get $x) (i32.const 2)))")),
        ("cheapest host call (block_number)", looping(ENV, "", "(local.set $x (call $block_number))")),
        ("keccak256 of 32 bytes", looping(ENV, "", "(call $keccak (i32.const 0) (i32.const 32) (i32.const 64))")),
        ("keccak256 of 128 KiB", looping(ENV, "", "(call $keccak (i32.const 0) (i32.const 131072) (i32.const 64))")),
        // A valid signature (r, s, v) over hash 0x11…: recovery does the full work.
        (
            "ecrecover",
            looping(ENV, "(call $ecrecover_setup)", "(drop (call $ecrecover (i32.const 0) (i32.const 32) (i32.const 200)))")
                .replace("(func (export \"call\")", &format!("(func $ecrecover_setup {}) (func (export \"call\")", ecrecover_setup())),
        ),
        (
            "storage_read of distinct missing keys",
            looping(
                ENV,
                "",
                "(i64.store (i32.const 0) (local.get $i)) (drop (call $sread (i32.const 0) (i32.const 32) (i32.const 100) (i32.const 32)))",
            ),
        ),
        (
            "storage_write of 16 KiB values to new keys (committed)",
            until_low_gas(
                ENV,
                "",
                "(i64.store (i32.const 0) (i64.add (i64.shl (call $block_number) (i64.const 32)) (local.get $i))) (call $swrite (i32.const 0) (i32.const 32) (i32.const 1024) (i32.const 16384))",
            ),
        ),
        (
            "emit_log: 4 topics, 16 KiB data (committed)",
            until_low_gas(ENV, "", "(call $log (i32.const 0) (i32.const 4) (i32.const 1024) (i32.const 16384))"),
        ),
        (
            "nested call to a plain account (frame entry)",
            looping(ENV, "", "(drop (call $call (i32.const 0) (i32.const 32) (i32.const 0) (i32.const 0) (i64.const 0)))"),
        ),
        (
            "nested call to a contract (instantiate + run)",
            looping(
                ENV,
                "(call $self (i32.const 300))",
                "(drop (call $call (i32.const 300) (i32.const 400) (i32.const 0) (i32.const 0) (i64.const 3000)))",
            ),
        ),
    ]
}

/// Wat statements writing a valid (hash, signature) for `ecrecover` at 0 and 32.
fn ecrecover_setup() -> String {
    let key = LocalSigner::from_bytes(&strata_primitives::keccak256(b"bench")).expect("key");
    let hash = strata_primitives::B256::repeat_byte(0x11);
    let sig = key.sign_hash(&hash).expect("sign").as_bytes();
    let mut out = String::new();
    for (i, b) in hash.iter().chain(sig.iter()).enumerate() {
        out.push_str(&format!("(i32.store8 (i32.const {i}) (i32.const {b}))"));
    }
    out
}

/// Shapes of modules built to be slow to compile, largest first kept under `size`.
const SHAPES: [&str; 4] = ["many tiny functions", "many locals", "one huge function", "deep nesting"];

/// A module of at most `size` bytes of the given shape: thousands of tiny functions (a
/// fixed cost each), functions with many locals each touching all of them (register
/// pressure, large frames), one function of straight-line code over a few hundred
/// values, or deeply nested blocks and branches.
fn compile_heavy(shape: &str, size: usize, variant: u32) -> Vec<u8> {
    let module =
        |funcs: &str| wat::parse_str(format!("(module (memory (export \"memory\") 1) {funcs} (func (export \"call\")))")).expect("wat");
    let mut funcs = String::new();
    let mut last = Vec::new();
    let mut n = 0u32;
    loop {
        match shape {
            "many locals" => {
                funcs.push_str(&format!("(func $f{n} (param i64) (result i64) (local "));
                funcs.push_str(&"i64 ".repeat(400));
                funcs.push(')');
                for j in 0..400u32 {
                    funcs.push_str(&format!("(local.set {} (i64.add (local.get {}) (i64.const {})))", j + 1, (j * 7) % 400, j + variant));
                }
                funcs.push_str("(local.get 17))\n");
            }
            "one huge function" => {
                // Grown in chunks inside one function body.
                if n == 0 {
                    funcs.push_str("(func $big (param i64) (result i64) (local ");
                    funcs.push_str(&"i64 ".repeat(200));
                    funcs.push(')');
                }
                for j in 0..400u32 {
                    let (a, b) = ((j * 13 + n) % 200 + 1, (j * 31 + n * 7) % 200 + 1);
                    funcs.push_str(&format!(
                        "(local.set {a} (i64.mul (local.get {b}) (i64.add (local.get {a}) (i64.const {}))))",
                        j + variant
                    ));
                }
            }
            _ => {
                funcs.push_str(&format!("(func $d{n} (param i32) (result i32)"));
                let depth = if shape == "many tiny functions" { 1 } else { 300 };
                for _ in 0..depth {
                    funcs.push_str("(block (if (local.get 0) (then (local.set 0 (i32.add (local.get 0) (i32.const 1)))))");
                }
                funcs.push_str(&")".repeat(depth));
                funcs.push_str(&format!("(i32.add (local.get 0) (i32.const {variant})))\n"));
            }
        }
        n += 1;
        let closed = if shape == "one huge function" { format!("{funcs} (local.get 1))") } else { funcs.clone() };
        let wasm = module(&closed);
        if wasm.len() > size {
            return last;
        }
        last = wasm;
    }
}

struct Bench {
    chain: Arc<Chain>,
    /// The ten funded dev accounts and their next nonces (the pool holds at most 1,000
    /// transactions per sender).
    keys: Vec<(LocalSigner, u64)>,
    next: usize,
    _dirs: tempfile::TempDir,
}

impl Bench {
    fn new() -> anyhow::Result<Self> {
        let dirs = tempfile::tempdir()?;
        let mut spec = ChainSpec::dev(1337);
        spec.requires_certificates = false; // blocks are committed here without consensus
        // The cheapest prices the fee contract accepts: the most work per gas.
        spec.prices.fuel_price = U256::from(spec.prices.gas_price / strata_vm::gas::FUEL_PER_GAS);
        spec.prices.network_byte_price = U256::ZERO;
        spec.prices.storage_byte_price = U256::ZERO;
        spec.prices.cold_byte_day_price = U256::ZERO;
        let kv = Arc::new(RocksKv::open(dirs.path().join("chain"))?);
        let cold = Arc::new(RocksKv::open(dirs.path().join("cold"))?);
        let chain = Chain::open(kv, cold, spec, strata_chain::dev_proposer(), ChainConfig::default())?;
        let keys = keys::derive_accounts(keys::DEV_MNEMONIC, 10)?.into_iter().map(|k| (k.signer, 0)).collect();
        Ok(Self { chain, keys, next: 0, _dirs: dirs })
    }

    /// Submits a transaction from the next dev account in turn.
    fn submit(&mut self, to: TxKind, data: Vec<u8>, gas: u64) -> anyhow::Result<()> {
        let i = self.next;
        self.next = (self.next + 1) % 10;
        self.submit_from(i, to, data, gas)
    }

    /// Submits a transaction from dev account `i`.
    fn submit_from(&mut self, i: usize, to: TxKind, data: Vec<u8>, gas: u64) -> anyhow::Result<()> {
        let (key, nonce) = &mut self.keys[i];
        let tx = build::eip1559(1337, *nonce, to, U256::ZERO, Bytes::from(data), gas, 2_000_000_000, 0);
        self.chain.submit_raw(&key.sign_transaction(tx)?.encoded(), TxOrigin::Local).map_err(|e| anyhow::anyhow!("{e}"))?;
        *nonce += 1;
        Ok(())
    }

    fn commit_block(&self, timestamp: u64) -> anyhow::Result<Arc<strata_primitives::SealedBlock>> {
        let block = self.chain.propose(timestamp, false)?.ok_or_else(|| anyhow::anyhow!("nothing to include"))?;
        Ok(self.chain.commit(&block.hash, None)?)
    }
}

/// Runs the benchmark and prints its figures (on an execution thread: contracts only
/// run on threads with a stack for the worst case).
pub fn run(args: &Args) -> anyhow::Result<()> {
    let args = args.clone();
    strata_vm::stack::on_vm_stack(256 << 20, move || run_here(&args))
}

fn run_here(args: &Args) -> anyhow::Result<()> {
    let mut b = Bench::new()?;
    let gas_limit = b.chain.spec().gas_limit;
    println!(
        "== worst block: transactions filling one block to the gas limit ({gas_limit} gas), validated; medians of {} rounds",
        args.rounds
    );
    println!("   bound (docs/abi.md): {BOUND_MS:.0} ms on the reference machine (2 cores); ratio = measured / bound");
    let mut timestamp = 1;
    let mut worst = (0.0f64, "");
    for (name, wat) in mixes() {
        if args.only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let code = wat::parse_str(&wat).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        // Account 0 deploys: it owns the contract and may raise its quota below.
        b.submit_from(0, TxKind::Create, deploy::encode(&code, &[]), 10_000_000)?;
        timestamp += 1;
        let deployed = b.commit_block(timestamp)?;
        let receipts = b.chain.store().receipts(deployed.number())?.unwrap_or_default();
        let address = receipts
            .first()
            .filter(|r| r.success)
            .map(|r| Address::from_slice(&r.contract_address))
            .ok_or_else(|| anyhow::anyhow!("{name}: deploy failed"))?;
        // Room for whatever the mix stores (storage is free at these prices).
        let quota = IArchive::setQuotaCall { target: address, quotaBytes: 1 << 30 }.abi_encode();
        b.submit_from(0, TxKind::Call(ARCHIVE_CONTRACT), quota, 1_000_000)?;
        timestamp += 1;
        b.commit_block(timestamp)?;
        // Fill the block: transactions of 3M gas each, looping until their gas runs out.
        for _ in 0..gas_limit / 3_000_000 {
            b.submit(TxKind::Call(address), Vec::new(), 3_000_000)?;
        }
        timestamp += 1;
        let ms = measure(&b, timestamp, args.rounds)?;
        report(name, ms, &mut worst);
    }
    if args.only.as_deref().is_none_or(|o| "plain transfers".contains(o)) {
        // The most transactions a block can hold: each one's signature is recovered.
        // At these prices a transfer's gas is its fixed fuel alone.
        let per_tx = strata_executor::TX_BASE_FUEL / strata_vm::gas::FUEL_PER_GAS;
        for _ in 0..gas_limit / per_tx {
            b.submit(TxKind::Call(Address::repeat_byte(0x55)), Vec::new(), per_tx)?;
        }
        timestamp += 1;
        let ms = measure(&b, timestamp, args.rounds)?;
        report("plain transfers (the most transactions per block)", ms, &mut worst);
    }
    if args.only.as_deref().is_none_or(|o| "compile-heavy deploys".contains(o)) {
        // New modules of the largest size, built to be slow to compile, each new to the
        // validator. Compilation dominates a deploy; the engine charges it per byte and per
        // function (`gas::deploy`) whatever the fee contract's prices, so at most
        // gas_limit / deploy gas fit in a block (fewer at any storage price).
        let size = strata_vm::MAX_CODE_SIZE - 1024;
        let mut worst_block = 0.0f64;
        for shape in SHAPES {
            let mut samples = Vec::new();
            let mut per_block = 0;
            for round in 0..args.rounds {
                let code = compile_heavy(shape, size, round);
                per_block = gas_limit / b.chain.vm().deploy_gas(&code).map_err(|e| anyhow::anyhow!("{e}"))?;
                let vm = strata_vm::Vm::new(strata_vm::VmConfig::default())?;
                let t = Instant::now();
                vm.prepare(&code).map_err(|e| anyhow::anyhow!("compile-heavy module ({shape}) refused: {e}"))?;
                samples.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let ms = median(samples);
            println!("  a {} KiB module of {shape} compiles in {ms:.1} ms; {per_block} fit in a block", size / 1024);
            worst_block = worst_block.max(ms * per_block as f64);
        }
        report("compile-heavy deploys (largest modules, new to the validator)", worst_block, &mut worst);
    }
    println!("worst mix: {} at {:.0} ms = {:.2} of the bound", worst.1, worst.0, worst.0 / BOUND_MS);
    Ok(())
}

fn report<'a>(name: &'a str, ms: f64, worst: &mut (f64, &'a str)) {
    println!("{name}: {ms:.0} ms (bound {BOUND_MS:.0} ms, ratio {:.2})", ms / BOUND_MS);
    if ms > worst.0 {
        *worst = (ms, name);
    }
}

/// Median time to validate the block the pool makes now (then commits it).
fn measure(b: &Bench, timestamp: u64, rounds: u32) -> anyhow::Result<f64> {
    let block = b.chain.propose(timestamp, false)?.ok_or_else(|| anyhow::anyhow!("nothing to include"))?;
    anyhow::ensure!(block.header().gas_used * 100 >= block.header().gas_limit * 85, "block not full: {}", block.header().gas_used);
    let mut samples = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        b.chain.validate(&block.block, &[], Check::Certified).map_err(|e| anyhow::anyhow!("{e}"))?;
        samples.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let committed = b.chain.commit(&block.hash, None)?;
    let receipts = b.chain.store().receipts(committed.number())?.unwrap_or_default();
    let ok = receipts.iter().filter(|r| r.success).count();
    let why = receipts.iter().find(|r| !r.success).map(|r| String::from_utf8_lossy(&r.failure).into_owned()).unwrap_or_default();
    println!(
        "  {} transactions ({ok} succeeded{}), {} gas",
        receipts.len(),
        if why.is_empty() { String::new() } else { format!("; {why}") },
        committed.header().gas_used
    );
    Ok(median(samples))
}
