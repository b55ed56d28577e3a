//! Transaction validation and execution, and block building, for Strata.
//!
//! Why a crate of its own: the same rules must run in three places — mempool
//! admission, block building by the proposer, and block re-execution by every
//! other validator — and must give identical results on every node. So this crate
//! is pure: state in (through [`StateReader`]), changes and receipts out; no
//! clock, no I/O, no hash-map iteration, checked arithmetic only. Contract code
//! runs in `strata-vm`; this crate owns what surrounds it: value, nonces, fees,
//! frames and their rollback, receipts — and the block validity rules ([`rules`]),
//! typed functions the node calls for every proposal, commit and synced block.
#![warn(clippy::arithmetic_side_effects)]

pub mod fees;
pub mod rules;
mod session;
pub mod system;
mod validate;

use std::{collections::BTreeMap, sync::Arc};

use session::{Layer, Session, run_frame};
use strata_primitives::{
    Account, Address, B256, Block, Bloom, Bytes, FeeBreakdown, Header, KECCAK_EMPTY, RecoveredTx, ResourceUsage, StoredReceipt,
    TransactionSigned, TxKind, U256, deploy, keccak256, roots, system::payout_log,
};
use strata_state::{StateChanges, StateReader};
use strata_storage::{Column, SharedKv, WriteBatch};
use strata_vm::{CachePolicy, Entry, Status, Vm, gas};

pub use fees::{Schedule, TX_BASE_FUEL};
pub use validate::{InvalidTx, MAX_BLOCK_BYTES, MAX_TX_SIZE, validate_stateful, validate_stateless};

/// Node-side failures of execution (never the transaction's fault).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading state failed.
    #[error(transparent)]
    State(#[from] strata_state::Error),
    /// The host failed while a contract ran (storage error, missing code, address
    /// space or native stack exhausted): the transaction is not the cause, and the
    /// block is not produced or validated.
    #[error("execution aborted by a node failure: {0}")]
    Host(String),
    /// A simulation passed its wall-clock deadline.
    #[error("execution timed out")]
    Interrupted,
    /// The fee contract could not answer (missing, or failed): the chain's genesis or
    /// price table is broken; no block can be built.
    #[error("fee contract: {0}")]
    FeeContract(String),
    /// The block's base fee is not the fee contract's gas price.
    #[error("base fee {got} does not match the fee contract's gas price {expected}")]
    BaseFee {
        /// In the block environment.
        got: u64,
        /// From the fee contract.
        expected: u64,
    },
}

impl From<strata_vm::HostError> for Error {
    fn from(e: strata_vm::HostError) -> Self {
        match e {
            strata_vm::HostError::Interrupted => Error::Interrupted,
            other => Error::Host(other.to_string()),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a block executes in: fixed by the block header, the same on every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockEnv {
    /// Chain id transactions must be signed for.
    pub chain_id: u64,
    /// Block height.
    pub number: u64,
    /// Block timestamp (seconds).
    pub timestamp: u64,
    /// Proposer (receives the rounding remainder of fee splits).
    pub proposer: Address,
    /// Gas limit of the block.
    pub gas_limit: u64,
    /// Base fee per gas: the fee contract's gas price on the parent state. The only
    /// price a transaction pays per gas (Strata has no priority fee).
    pub base_fee: u64,
    /// Copies of each transaction the network carries: one per validator, and its
    /// network fee is per copy.
    pub replicas: u64,
}

/// Outcome of trying to add a transaction to a block.
#[derive(Debug)]
pub enum Applied {
    /// Included, with its receipt.
    Included(Box<StoredReceipt>),
    /// Not included: the transaction is invalid against this block's state.
    Rejected(InvalidTx),
}

/// How a message (a transaction's execution, or a simulated call) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageResult {
    /// Whether it succeeded.
    pub success: bool,
    /// Gas used by execution, excluding intrinsic gas.
    pub gas_used: u64,
    /// Return data, or revert data.
    pub output: Vec<u8>,
    /// Why it failed, if it did (not for a revert).
    pub failure: Option<String>,
    /// A created contract.
    pub contract_address: Option<Address>,
    /// Resources used and the fee (set once the fee is known; default inside execution).
    pub resources: ResourceUsage,
}

impl MessageResult {
    /// A failure (not a revert): no output, nothing created.
    pub fn failed(gas_used: u64, reason: String) -> Self {
        Self {
            success: false,
            gas_used,
            output: Vec::new(),
            failure: Some(reason),
            contract_address: None,
            resources: ResourceUsage::default(),
        }
    }
}

/// Runs a message in a session whose newest layer belongs to it; on return that layer
/// holds the message's changes only if it succeeded (it is emptied otherwise).
fn execute_message(
    mut session: Box<Session>,
    sender: Address,
    kind: TxKind,
    value: U256,
    input: &[u8],
    gas: u64,
) -> (Box<Session>, Result<MessageResult>) {
    let fail = MessageResult::failed;
    // Frame layer on top of the message layer, so failure drops exactly the frame.
    session.push();
    let (contract, ctx, entry, frame_input, frame_gas, created) = match kind {
        TxKind::Create => {
            let (code, ctor) = match deploy::decode(input) {
                Ok(parts) => parts,
                Err(e) => {
                    session.revert_top();
                    return (session, Ok(fail(gas, e.to_string())));
                }
            };
            // Charged before compiling: size, and functions (a parse of the sections).
            let deploy_gas = match session.vm.deploy_gas(code) {
                Ok(g) => g,
                Err(e) => {
                    session.revert_top();
                    return (session, Ok(fail(gas, format!("deploy refused: {e}"))));
                }
            };
            if deploy_gas > gas {
                session.revert_top();
                return (session, Ok(fail(gas, format!("out of gas: compiling {} bytes of code costs {deploy_gas} gas", code.len()))));
            }
            let contract = match session.vm.prepare_with(code, session.policy) {
                Ok(c) => c,
                Err(e) => {
                    session.revert_top();
                    return (session, Ok(fail(gas, format!("deploy refused: {e}"))));
                }
            };
            let nonce = match session.account(&sender) {
                Ok(a) => a.nonce.saturating_sub(1), // the sender's nonce was already bumped for this transaction
                Err(e) => return (session, Err(e.into())),
            };
            let address = sender.create(nonce);
            let existing = match session.account(&address) {
                Ok(a) => a,
                Err(e) => return (session, Err(e.into())),
            };
            if existing.nonce != 0 || existing.code_hash != KECCAK_EMPTY {
                session.revert_top();
                return (session, Ok(fail(gas, format!("contract address {address} is already in use"))));
            }
            session.set_account(address, Account { nonce: 1, code_hash: contract.code_hash, ..existing });
            session.layers.last_mut().expect("frame layer").changes.code.insert(contract.code_hash, Bytes::copy_from_slice(code));
            let ctx = session.context(address, sender, value, false, 0);
            (contract, ctx, Entry::Deploy, ctor.to_vec(), gas.saturating_sub(deploy_gas), Some(address))
        }
        TxKind::Call(to) => {
            let contract = match session.contract_at(&to) {
                Ok(c) => c,
                Err(e) => return (session, Err(e.into())),
            };
            match session.transfer(sender, to, value) {
                Ok(true) => {}
                Ok(false) => {
                    session.revert_top();
                    return (session, Ok(fail(gas, "insufficient balance for value".into())));
                }
                Err(e) => return (session, Err(e.into())),
            }
            let Some(contract) = contract else {
                session.commit_top();
                return (
                    session,
                    Ok(MessageResult {
                        success: true,
                        gas_used: 0,
                        output: Vec::new(),
                        failure: None,
                        contract_address: None,
                        resources: ResourceUsage::default(),
                    }),
                );
            };
            let ctx = session.context(to, sender, value, false, 0);
            (contract, ctx, Entry::Call, input.to_vec(), gas, None)
        }
    };
    if let Some(address) = created {
        match session.transfer(sender, address, value) {
            Ok(true) => {}
            Ok(false) => {
                session.revert_top();
                return (session, Ok(fail(gas, "insufficient balance for value".into())));
            }
            Err(e) => return (session, Err(e.into())),
        }
    }
    let deploy_cost = gas.saturating_sub(frame_gas);
    let (mut session, outcome) = run_frame(session, ctx, &contract, entry, frame_input, frame_gas);
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => return (session, Err(e.into())),
    };
    let gas_used = outcome.gas_used.saturating_add(deploy_cost);
    let result = match outcome.status {
        Status::Success => {
            session.commit_top();
            MessageResult {
                success: true,
                gas_used,
                output: outcome.output,
                failure: None,
                contract_address: created,
                resources: ResourceUsage::default(),
            }
        }
        Status::Revert => {
            session.revert_top();
            MessageResult {
                success: false,
                gas_used,
                output: outcome.output,
                failure: None,
                contract_address: None,
                resources: ResourceUsage::default(),
            }
        }
        Status::Failure(reason) => {
            session.revert_top();
            MessageResult::failed(gas_used, reason)
        }
    };
    (session, Ok(result))
}

/// What a transaction is, for [`run_tx`].
struct TxSpec<'a> {
    sender: Address,
    kind: TxKind,
    value: U256,
    input: &'a [u8],
    gas_limit: u64,
    tx_bytes: u64,
    min_gas: u64,
}

/// How a transaction (or a simulation of one) ran, before the sender is charged.
struct TxRun {
    /// The outcome; `gas_used` is the gas charged (the fee over the gas price, rounded up).
    result: MessageResult,
    /// The message's effects, if they stand.
    layer: Option<Layer>,
    /// Resources used and the fee (with `charged` set).
    usage: ResourceUsage,
}

/// Shared by block execution and simulation: runs the message, counts its storage
/// against quotas, asks the fee contract for the fee, and fails the message —
/// discarding its effects — if the fee exceeds what the sender allowed
/// (`gas_limit × gas price`). The session's newest layer is the message's.
fn run_tx(session: Box<Session>, spec: &TxSpec<'_>, schedule: &Schedule, quotes: &mut fees::Quotes) -> (Box<Session>, Result<TxRun>) {
    let exec_gas = spec.gas_limit.saturating_sub(spec.min_gas);
    let (mut session, result) = execute_message(session, spec.sender, spec.kind, spec.value, spec.input, exec_gas);
    let mut result = match result {
        Ok(r) => r,
        Err(e) => return (session, Err(e)),
    };
    let mut storage = system::StorageUse::default();
    if result.success {
        let code_len = deploy::decode(spec.input).map_or(0, |(code, _)| code.len() as u64);
        let deployed = result.contract_address.map(|c| (c, spec.sender, code_len));
        match system::account_storage(&mut session, deployed, schedule.default_quota) {
            Err(e) => return (session, Err(e.into())),
            Ok(Ok(used)) => storage = used,
            Ok(Err(reason)) => {
                *session.layers.last_mut().expect("message layer") = Layer::default();
                result = MessageResult { success: false, output: Vec::new(), failure: Some(reason), contract_address: None, ..result };
            }
        }
    }
    let layer = session.layers.pop().expect("message layer");
    let price = session.env.base_fee;
    // Compute is the execution's gas in fuel units: Wasm fuel, host charges, frame
    // entries and nested calls, each counted once (a failure counts all it was given).
    let exec_fuel = result.gas_used.saturating_mul(gas::FUEL_PER_GAS);
    let mut usage = ResourceUsage {
        fuel: TX_BASE_FUEL.saturating_add(exec_fuel),
        tx_bytes: spec.tx_bytes,
        replicas: session.env.replicas,
        storage_bytes_added: storage.added,
        storage_bytes_removed: storage.removed,
        storage_bytes_paid: storage.paid.saturating_add(layer.storage_paid),
        cold_byte_seconds: layer.cold_byte_seconds,
        fee: FeeBreakdown::default(),
    };
    let (base, vm, env) = (session.base.clone(), session.vm.clone(), session.env);
    let mut fee = match quotes.quote(&base, &vm, env, &usage) {
        Ok(f) => f,
        Err(e) => return (session, Err(e)),
    };
    let mut gas_used = fees::gas_for(fee.total, price);
    let mut layer = result.success.then_some(layer);
    if gas_used > spec.gas_limit {
        let allowance = U256::from(spec.gas_limit).saturating_mul(U256::from(price));
        let reason = format!(
            "fee of {} wei (compute {}, network {}, storage {}, cold {}) exceeds the sender's allowance of {} gas × {price} wei = {allowance} \
             wei; nothing it did was kept",
            fee.total, fee.compute, fee.network, fee.storage, fee.cold, spec.gas_limit
        );
        layer = None;
        usage = ResourceUsage { storage_bytes_added: 0, storage_bytes_removed: 0, storage_bytes_paid: 0, cold_byte_seconds: 0, ..usage };
        fee = match quotes.quote(&base, &vm, env, &usage) {
            Ok(f) => f,
            Err(e) => return (session, Err(e)),
        };
        gas_used = fees::gas_for(fee.total, price).min(spec.gas_limit);
        result = MessageResult { success: false, output: Vec::new(), failure: Some(reason), contract_address: None, ..result };
    }
    fee.charged = U256::from(gas_used).saturating_mul(U256::from(price));
    usage.fee = fee;
    result.gas_used = gas_used;
    result.resources = usage;
    (session, Ok(TxRun { result, layer, usage }))
}

/// Gas a transaction of `tx_bytes` bytes costs before it runs anything: its fixed
/// fuel and its network bytes, priced by the fee contract on `base`.
pub fn min_gas(base: &Arc<dyn StateReader + Send + Sync>, vm: &Arc<Vm>, env: BlockEnv, tx_bytes: u64) -> Result<u64> {
    min_gas_quoted(base, vm, env, tx_bytes, &mut fees::Quotes::default())
}

fn min_gas_quoted(
    base: &Arc<dyn StateReader + Send + Sync>,
    vm: &Arc<Vm>,
    env: BlockEnv,
    tx_bytes: u64,
    quotes: &mut fees::Quotes,
) -> Result<u64> {
    let usage = ResourceUsage { fuel: TX_BASE_FUEL, tx_bytes, replicas: env.replicas, ..ResourceUsage::default() };
    Ok(fees::gas_for(quotes.quote(base, vm, env, &usage)?.total, env.base_fee))
}

/// The admission checks that need no nonce order: stateless rules and a gas limit
/// covering the transaction's minimum fee. (The mempool checks nonce and balance.)
/// `quotes` remembers the fee contract's answers on `base` (one memo per state).
pub fn admit(
    base: &Arc<dyn StateReader + Send + Sync>,
    vm: &Arc<Vm>,
    env: BlockEnv,
    tx: &TransactionSigned,
    quotes: &mut fees::Quotes,
) -> Result<Result<(), InvalidTx>> {
    if let Err(e) = validate_stateless(tx, &env) {
        return Ok(Err(e));
    }
    let want = min_gas_quoted(base, vm, env, tx.encoded_len() as u64, quotes)?;
    if tx.gas_limit() < want {
        return Ok(Err(InvalidTx::IntrinsicGasTooLow { have: tx.gas_limit(), want }));
    }
    Ok(Ok(()))
}

/// Validators that receive fees, with their weights (see [`fees::split`]).
pub type Payees = Arc<[(Address, u64)]>;

/// Writes to the cold store a block makes: `puts` must be durable before the block
/// (its tombstones point at them), `deletes` are applied after it.
#[derive(Debug, Clone, Default)]
pub struct ColdWrites {
    /// Archived values.
    pub puts: WriteBatch,
    /// Restored or purged values.
    pub deletes: WriteBatch,
}

/// Builds (or re-executes) a block transaction by transaction.
pub struct BlockBuilder {
    env: BlockEnv,
    base: Arc<dyn StateReader + Send + Sync>,
    vm: Arc<Vm>,
    cold_store: SharedKv,
    payees: Payees,
    schedule: Schedule,
    quotes: fees::Quotes,
    block: StateChanges,
    cold: BTreeMap<Vec<u8>, Option<Bytes>>,
    transactions: Vec<TransactionSigned>,
    receipts: Vec<StoredReceipt>,
    gas_used: u64,
    /// Bytes of the transactions included so far.
    bytes: usize,
}

impl BlockBuilder {
    /// A builder on top of `base` (the parent block's state) and `cold_store` (the cold
    /// backup as of the parent block). Reads the fee schedule, checks the base fee
    /// against it, and purges cold copies whose retention ended.
    pub fn new(env: BlockEnv, base: Arc<dyn StateReader + Send + Sync>, vm: Arc<Vm>, cold_store: SharedKv, payees: Payees) -> Result<Self> {
        let schedule = fees::schedule(&base, &vm, env)?;
        if env.base_fee != schedule.gas_price {
            return Err(Error::BaseFee { got: env.base_fee, expected: schedule.gas_price });
        }
        let mut block = StateChanges::default();
        let mut cold = BTreeMap::new();
        let purged = system::purge_expired(&*base, env.timestamp, &mut block, &mut cold)?;
        if purged > 0 {
            tracing::debug!(number = env.number, purged, "purged expired cold copies");
        }
        Ok(Self {
            env,
            base,
            vm,
            cold_store,
            payees,
            schedule,
            quotes: fees::Quotes::default(),
            block,
            cold,
            transactions: Vec::new(),
            receipts: Vec::new(),
            gas_used: 0,
            bytes: 0,
        })
    }

    /// Runs the fee contract for every quote, even repeated ones (for benchmarks).
    pub fn without_quote_memo(mut self) -> Self {
        self.quotes = fees::Quotes::uncached();
        self
    }

    /// Gas still available in the block.
    pub fn gas_left(&self) -> u64 {
        self.env.gas_limit.saturating_sub(self.gas_used)
    }

    fn account(&self, address: &Address) -> Result<Account> {
        if let Some(a) = self.block.accounts.get(address) {
            return Ok(a.unwrap_or_default());
        }
        Ok(self.base.account(address)?.unwrap_or_default())
    }

    fn credit(&mut self, address: Address, amount: U256) -> Result<()> {
        let mut account = self.account(&address)?;
        // Total supply is fixed at genesis and far below 2^256: cannot overflow.
        account.balance = account.balance.saturating_add(amount);
        self.block.accounts.insert(address, Some(account));
        Ok(())
    }

    /// Validates `tx` against the block so far and, if valid, executes and includes it.
    /// A valid transaction is always included, even if its execution fails.
    pub fn apply(&mut self, tx: &RecoveredTx) -> Result<Applied> {
        if let Err(e) = validate_stateless(&tx.tx, &self.env) {
            return Ok(Applied::Rejected(e));
        }
        if tx.tx.gas_limit() > self.gas_left() {
            return Ok(Applied::Rejected(InvalidTx::BlockGasExhausted { gas_limit: tx.tx.gas_limit(), gas_left: self.gas_left() }));
        }
        let size = tx.tx.encoded_len();
        let left = MAX_BLOCK_BYTES.saturating_sub(self.bytes);
        if size > left {
            return Ok(Applied::Rejected(InvalidTx::BlockFull { size, left }));
        }
        let mut sender = self.account(&tx.sender)?;
        if let Err(e) = validate_stateful(&tx.tx, &sender) {
            return Ok(Applied::Rejected(e));
        }
        let price = self.env.base_fee;
        let gas_limit = tx.tx.gas_limit();
        let tx_bytes = size as u64;
        let min_gas = min_gas_quoted(&self.base, &self.vm, self.env, tx_bytes, &mut self.quotes)?;
        if gas_limit < min_gas {
            return Ok(Applied::Rejected(InvalidTx::IntrinsicGasTooLow { have: gas_limit, want: min_gas }));
        }
        // Reserve the most the transaction may cost; what is not charged is refunded below.
        let reserve = U256::from(gas_limit).saturating_mul(U256::from(price));
        sender.balance = sender.balance.checked_sub(reserve).ok_or(Error::Host("balance checked by validate_stateful".into()))?;
        sender.nonce = sender.nonce.checked_add(1).ok_or(Error::Host("nonce checked by validate_stateful".into()))?;
        self.block.accounts.insert(tx.sender, Some(sender));

        let session = Session::new(
            self.base.clone(),
            self.vm.clone(),
            self.env,
            self.cold_store.clone(),
            std::mem::take(&mut self.block),
            std::mem::take(&mut self.cold),
            tx.sender,
        );
        let spec =
            TxSpec { sender: tx.sender, kind: tx.tx.kind(), value: tx.tx.value(), input: tx.tx.input(), gas_limit, tx_bytes, min_gas };
        let (mut session, run) = run_tx(session, &spec, &self.schedule, &mut self.quotes);
        self.block = std::mem::take(&mut session.block);
        self.cold = std::mem::take(&mut session.block_cold);
        let run = run?;
        let mut logs = Vec::new();
        if let Some(layer) = run.layer {
            self.block.extend(layer.changes);
            self.cold.extend(layer.cold);
            logs = layer.logs;
        }
        let charged = run.usage.fee.charged;
        self.credit(tx.sender, reserve.saturating_sub(charged))?;
        logs.push(run.usage.log());
        for (validator, amount) in fees::split(charged, &self.payees, self.env.proposer) {
            self.credit(validator, amount)?;
            logs.push(payout_log(&validator, amount));
        }
        let gas_used = run.result.gas_used;
        self.gas_used = self.gas_used.saturating_add(gas_used);
        let receipt = StoredReceipt {
            tx_type: tx.tx.tx_type() as u8,
            success: run.result.success,
            cumulative_gas_used: self.gas_used,
            gas_used,
            effective_gas_price: u128::from(price),
            contract_address: run.result.contract_address.map(|a| Bytes::copy_from_slice(a.as_slice())).unwrap_or_default(),
            logs,
            output: run.result.output.into(),
            failure: run.result.failure.map(|f| Bytes::from(f.into_bytes())).unwrap_or_default(),
            resources: run.usage,
        };
        self.bytes = self.bytes.saturating_add(size);
        self.transactions.push(tx.tx.clone());
        self.receipts.push(receipt.clone());
        Ok(Applied::Included(Box::new(receipt)))
    }

    /// Number of transactions included so far.
    pub fn len(&self) -> usize {
        self.transactions.len()
    }

    /// True when no transaction was included.
    pub fn is_empty(&self) -> bool {
        self.transactions.is_empty()
    }

    /// Finishes the block. `state_root` is computed by the caller from the
    /// returned changes (it owns the state store).
    pub fn finish(self) -> ExecutedBlock {
        let logs_bloom = self.receipts.iter().fold(Bloom::default(), |mut acc, r| {
            acc.accrue_bloom(&r.bloom());
            acc
        });
        let mut cold = ColdWrites::default();
        for (key, value) in self.cold {
            match value {
                Some(v) => cold.puts.put(Column::Cold, key, v.to_vec()),
                None => cold.deletes.delete(Column::Cold, key),
            }
        }
        ExecutedBlock {
            env: self.env,
            transactions_root: roots::transactions_root(&self.transactions),
            receipts_root: roots::receipts_root(&self.receipts),
            logs_bloom,
            gas_used: self.gas_used,
            transactions: self.transactions,
            receipts: self.receipts,
            changes: self.block,
            cold,
        }
    }
}

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

/// A block's transactions after execution: everything but the state root.
#[derive(Debug, Clone)]
pub struct ExecutedBlock {
    /// The environment it ran in.
    pub env: BlockEnv,
    /// Included transactions.
    pub transactions: Vec<TransactionSigned>,
    /// Their receipts.
    pub receipts: Vec<StoredReceipt>,
    /// State changes.
    pub changes: StateChanges,
    /// Ordered-trie root of the transactions.
    pub transactions_root: B256,
    /// Ordered-trie root of the receipts.
    pub receipts_root: B256,
    /// Bloom of all logs.
    pub logs_bloom: Bloom,
    /// Gas used by all transactions.
    pub gas_used: u64,
    /// Cold-store writes.
    pub cold: ColdWrites,
}

impl ExecutedBlock {
    /// Assembles the block, given its parent and its post-state root.
    pub fn into_block(self, parent_hash: B256, state_root: B256) -> (Block, Vec<StoredReceipt>, StateChanges, ColdWrites) {
        let header = Header {
            chain_id: self.env.chain_id,
            parent_hash,
            number: self.env.number,
            timestamp: self.env.timestamp,
            proposer: self.env.proposer,
            state_root,
            transactions_root: self.transactions_root,
            receipts_root: self.receipts_root,
            logs_bloom: self.logs_bloom,
            gas_limit: self.env.gas_limit,
            gas_used: self.gas_used,
            base_fee_per_gas: self.env.base_fee,
            parent_commit_hash: B256::ZERO,
            liveness_root: B256::ZERO,
            extensions: Vec::new(),
        };
        (Block { header, transactions: self.transactions }, self.receipts, self.changes, self.cold)
    }
}

/// Hash of code as stored (for callers that build deploys).
pub fn code_hash(code: &[u8]) -> B256 {
    keccak256(code)
}

#[cfg(test)]
mod tests;
