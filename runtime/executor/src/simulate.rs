//! Simulation: a message run on a state without a transaction — `eth_call`, gas
//! estimation, fee quotes — paying nothing and committing nothing.

use std::{collections::BTreeMap, sync::Arc};

use strata_primitives::{Address, Bytes, TxKind, U256};
use strata_state::{StateChanges, StateReader};
use strata_storage::SharedKv;
use strata_vm::{CachePolicy, Vm};

use crate::{
    BlockEnv, Error, Result,
    admit::min_gas_quoted,
    fees,
    message::{MessageResult, TxSpec, run_tx},
    session::Session,
};

/// A read-only call (`eth_call`), a gas probe (`eth_estimateGas`) or a fee quote
/// (`strata_quoteFee`): no nonce, no payment.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// Caller (any address; zero if unknown).
    pub from: Address,
    /// Callee, or `None` to simulate a deploy.
    pub to: Option<Address>,
    /// Value.
    pub value: U256,
    /// Input (call data, or deploy data).
    pub input: Bytes,
    /// Gas limit.
    pub gas: u64,
    /// Size of the signed transaction, if known; otherwise estimated from the input.
    pub tx_bytes: Option<u64>,
    /// Wall-clock deadline: past it the simulation ends with [`Error::Interrupted`].
    pub deadline: Option<std::time::Instant>,
}

impl Simulation {
    /// A call of `to` (or a deploy, without `to`) by `from` with `input` and `gas`.
    pub fn new(from: Address, to: Option<Address>, value: U256, input: Bytes, gas: u64) -> Self {
        Self { from, to, value, input, gas, tx_bytes: None, deadline: None }
    }
}

/// Bytes of a signed EIP-1559 transaction besides its input (typical; used when a
/// simulation has no signed transaction to measure).
pub const TX_OVERHEAD_BYTES: u64 = 120;

/// Runs a simulation on `base`. Returns the result with `gas_used` the gas the
/// transaction would be charged, and its resources and fee. Nothing is committed.
pub fn simulate(
    base: Arc<dyn StateReader + Send + Sync>,
    vm: Arc<Vm>,
    cold: SharedKv,
    env: BlockEnv,
    sim: &Simulation,
) -> Result<MessageResult> {
    let schedule = fees::schedule(&base, &vm, env)?;
    let env = BlockEnv { base_fee: schedule.gas_price, ..env };
    let kind = sim.to.map_or(TxKind::Create, TxKind::Call);
    let tx_bytes = sim.tx_bytes.unwrap_or_else(|| (sim.input.len() as u64).saturating_add(TX_OVERHEAD_BYTES));
    let mut quotes = fees::Quotes::default();
    let min_gas = min_gas_quoted(&base, &vm, env, tx_bytes, &mut quotes)?;
    if sim.gas < min_gas {
        return Ok(MessageResult::failed(sim.gas, format!("intrinsic gas too low: have {}, want {min_gas}", sim.gas)));
    }
    let mut sender = base.account(&sim.from)?.unwrap_or_default();
    let mut block = StateChanges::default();
    if kind.is_create() {
        // As in a real deploy, the sender's nonce is bumped before the contract address is derived.
        sender.nonce = sender.nonce.saturating_add(1);
        block.accounts.insert(sim.from, Some(sender));
    }
    let mut session = Session::new(base, vm, env, cold, block, BTreeMap::new(), sim.from);
    session.policy = CachePolicy::Transient;
    session.deadline = sim.deadline;
    let spec = TxSpec { sender: sim.from, kind, value: sim.value, input: &sim.input, gas_limit: sim.gas, tx_bytes, min_gas };
    let (_, run) = run_tx(session, &spec, &schedule, &mut quotes);
    Ok(run?.result)
}

/// The smallest gas limit with which `sim` succeeds (binary search between the gas
/// the unbounded run used and `cap`), or the failing result at `cap`.
pub fn estimate_gas(
    base: Arc<dyn StateReader + Send + Sync>,
    vm: Arc<Vm>,
    cold: SharedKv,
    env: BlockEnv,
    sim: &Simulation,
    cap: u64,
) -> Result<Result<u64, MessageResult>> {
    let run = |gas: u64| {
        if sim.deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return Err(Error::Interrupted);
        }
        simulate(base.clone(), vm.clone(), cold.clone(), env, &Simulation { gas, ..sim.clone() })
    };
    let top = run(cap)?;
    if !top.success {
        return Ok(Err(top));
    }
    let (mut lo, mut hi) = (top.gas_used.saturating_sub(1), cap);
    if run(top.gas_used)?.success {
        return Ok(Ok(top.gas_used));
    }
    lo = lo.max(top.gas_used);
    while hi.saturating_sub(lo) > 1 {
        let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
        if run(mid)?.success { hi = mid } else { lo = mid }
    }
    Ok(Ok(hi))
}
