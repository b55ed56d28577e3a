//! Fee benchmark: what pricing every transaction with the Wasm fee contract costs.
//! (a) one quote (a view call of the fee contract) against an empty contract call;
//! (b) a block of signed transfers applied through the real `BlockBuilder` —
//! validation, fee reservation, quotes, payouts, receipts — with the per-block quote
//! memo against the same block quoting every transaction afresh.

use std::{sync::Arc, time::Instant};

use strata_executor::{Applied, BlockBuilder, BlockEnv, Payees, system};
use strata_primitives::{
    Account, Address, EMPTY_ROOT_HASH, LocalSigner, RecoveredTx, ResourceUsage, TxKind, U256, keccak256, transaction::build,
};
use strata_state::{StateChanges, StateDb, StateReader};
use strata_storage::{MemKv, WriteBatch};
use strata_vm::{Entry, Status, Vm, VmConfig, testing::FakeHost};

use crate::median;

/// Sizes of the fee benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Transfers per block.
    #[arg(long, default_value_t = 2_000)]
    pub txs: usize,
    /// Measured rounds (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub rounds: u32,
}

impl Default for Args {
    fn default() -> Self {
        Self { txs: 2_000, rounds: 5 }
    }
}

fn env() -> BlockEnv {
    BlockEnv {
        chain_id: 1337,
        number: 1,
        parent_hash: Default::default(),
        timestamp: 1_700_000_000,
        proposer: Address::repeat_byte(0xee),
        gas_limit: u64::MAX / 4,
        base_fee: system::Prices::dev().gas_price,
        replicas: 4,
    }
}

/// Runs the benchmark and prints its figures.
pub fn run(args: &Args) -> anyhow::Result<()> {
    println!("== fees: {} transfers per block x {} rounds, medians", args.txs, args.rounds);
    let vm = Arc::new(Vm::new(VmConfig::default())?);
    let senders: Vec<LocalSigner> =
        (0..100u64).map(|i| LocalSigner::from_bytes(&keccak256(i.to_be_bytes())).expect("a valid key")).collect();
    let kv = MemKv::shared();
    let db = StateDb::new(kv.clone(), 4);
    let mut alloc = StateChanges::default();
    for s in &senders {
        alloc.accounts.insert(s.address(), Some(Account::with_balance(U256::from(10u128.pow(24)))));
    }
    let mut batch = WriteBatch::new();
    let root = db.commit(0, EMPTY_ROOT_HASH, &alloc, &mut batch)?;
    kv.write(batch)?;
    let genesis = system::install(&vm, Arc::new(db.clone()), env(), Address::ZERO, &system::Prices::dev(), &Default::default())?;
    let mut batch = WriteBatch::new();
    db.commit(0, root, &genesis, &mut batch)?;
    kv.write(batch)?;
    let state: Arc<dyn StateReader + Send + Sync> = Arc::new(db);

    // (a) A quote against an empty contract call.
    let calls = 2_000u32;
    let usage = ResourceUsage { fuel: 123_456, tx_bytes: 110, replicas: 4, ..ResourceUsage::default() };
    let empty = wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "call")))"#)?;
    let contract = vm.prepare(&empty).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (mut quotes, mut empties) = (Vec::new(), Vec::new());
    for _ in 0..args.rounds {
        let t = Instant::now();
        for _ in 0..calls {
            strata_executor::fees::quote(&state, &vm, env(), &usage)?;
        }
        quotes.push(t.elapsed().as_nanos() as f64 / f64::from(calls));
        let t = Instant::now();
        for _ in 0..calls {
            let (_, out) = vm.execute(&contract, Entry::Call, Box::new(FakeHost::new()), Vec::new(), 100_000);
            assert_eq!(out?.status, Status::Success);
        }
        empties.push(t.elapsed().as_nanos() as f64 / f64::from(calls));
    }
    let (q, e) = (median(quotes), median(empties));
    println!("fee quote (a view call of the Wasm fee contract, ABI in and out): {:.2} us", q / 1e3);
    println!("  baseline: an empty contract call: {:.2} us", e / 1e3);
    println!("  ratio quote / empty call: {:.2}", q / e);

    // (b) A block of transfers (senders recovered beforehand, as the mempool does).
    let txs: Vec<RecoveredTx> = (0..args.txs)
        .map(|i| {
            let s = &senders[i % senders.len()];
            let nonce = (i / senders.len()) as u64;
            let to = Address::from_slice(&keccak256((i as u64).to_be_bytes())[12..]);
            let tx = build::eip1559(1337, nonce, TxKind::Call(to), U256::from(1u64), Default::default(), 50_000, 2_000_000_000, 0);
            RecoveredTx { sender: s.address(), tx: s.sign_transaction(tx).expect("signs") }
        })
        .collect();
    let payees: Payees = (0..4u8).map(|i| (Address::repeat_byte(0xa0 + i), 1)).collect::<Vec<_>>().into();
    let apply = |memo: bool| -> anyhow::Result<f64> {
        let t = Instant::now();
        let mut b = BlockBuilder::new(env(), state.clone(), vm.clone(), MemKv::shared(), payees.clone())?;
        if !memo {
            b = b.without_quote_memo();
        }
        for tx in &txs {
            match b.apply(tx)? {
                Applied::Included(r) => assert!(r.success),
                Applied::Rejected(e) => anyhow::bail!("rejected: {e}"),
            }
        }
        let done = b.finish();
        assert_eq!(done.receipts.len(), txs.len());
        Ok(t.elapsed().as_nanos() as f64 / txs.len() as f64)
    };
    let (mut memo, mut fresh) = (Vec::new(), Vec::new());
    for _ in 0..args.rounds {
        memo.push(apply(true)?);
        fresh.push(apply(false)?);
    }
    let (m, f) = (median(memo), median(fresh));
    println!(
        "transfer applied in a block (validate, reserve, quote, 4 payouts, receipt), quote memo: {:.2} us/tx = {:.0} tx/s",
        m / 1e3,
        1e9 / m
    );
    println!("  baseline: the same block quoting every transaction afresh: {:.2} us/tx = {:.0} tx/s", f / 1e3, 1e9 / f);
    println!("  ratio memo / afresh: {:.2}", m / f);
    Ok(())
}
