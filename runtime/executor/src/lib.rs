//! Transaction validation and execution, and block building, for Strata.
//!
//! Why a crate of its own: the same rules must run in three places — mempool
//! admission, block building by the proposer, and block re-execution by every
//! other validator — and must give identical results on every node. So this crate
//! is pure: state in (through [`StateReader`]), changes and receipts out; no
//! clock, no I/O, no hash-map iteration, checked arithmetic only. Contract code
//! runs in `strata-vm`; this crate owns what surrounds it: value, nonces, fees,
//! frames and their rollback, receipts.
#![warn(clippy::arithmetic_side_effects)]

mod session;
mod validate;

use std::sync::Arc;

use session::{Layer, Session, run_frame};
use strata_primitives::{
    Account, Address, B256, Block, Bloom, Bytes, Header, KECCAK_EMPTY, RecoveredTx, ResourceUsage, StoredReceipt, TransactionSigned,
    TxKind, U256, deploy, keccak256, roots,
};
use strata_state::{StateChanges, StateReader};
use strata_vm::{Entry, Status, Vm, gas};

pub use validate::{InvalidTx, validate_stateful, validate_stateless};

/// Node-side failures of execution (never the transaction's fault).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading state failed.
    #[error(transparent)]
    State(#[from] strata_state::Error),
    /// The host failed while a contract ran (storage error, missing code).
    #[error("execution aborted by a node failure: {0}")]
    Host(String),
}

impl From<strata_vm::HostError> for Error {
    fn from(e: strata_vm::HostError) -> Self {
        Error::Host(e.to_string())
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
    /// Proposer, who receives the fees.
    pub proposer: Address,
    /// Gas limit of the block.
    pub gas_limit: u64,
    /// Base fee per gas.
    pub base_fee: u64,
}

/// Outcome of trying to add a transaction to a block.
#[derive(Debug)]
pub enum Applied {
    /// Included, with its receipt.
    Included(StoredReceipt),
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
    let fail = |gas_used: u64, reason: String| MessageResult {
        success: false,
        gas_used,
        output: Vec::new(),
        failure: Some(reason),
        contract_address: None,
    };
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
            let deploy_gas = gas::DEPLOY_PER_BYTE.saturating_mul(code.len() as u64);
            if deploy_gas > gas {
                session.revert_top();
                return (session, Ok(fail(gas, format!("out of gas: storing {} bytes of code costs {deploy_gas} gas", code.len()))));
            }
            let contract = match session.vm.prepare(code) {
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
                    Ok(MessageResult { success: true, gas_used: 0, output: Vec::new(), failure: None, contract_address: None }),
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
            MessageResult { success: true, gas_used, output: outcome.output, failure: None, contract_address: created }
        }
        Status::Revert => {
            session.revert_top();
            MessageResult { success: false, gas_used, output: outcome.output, failure: None, contract_address: None }
        }
        Status::Failure(reason) => {
            session.revert_top();
            MessageResult { success: false, gas_used, output: Vec::new(), failure: Some(reason), contract_address: None }
        }
    };
    (session, Ok(result))
}

/// Bytes a set of storage changes adds and removes, against the state before them.
fn storage_delta(session: &Session, changes: &StateChanges) -> Result<(u64, u64)> {
    let (mut added, mut removed) = (0u64, 0u64);
    for (address, slots) in &changes.storage {
        for (key, new) in slots {
            let old = session.storage_before_tx(address, key)?;
            let size = |v: Option<&[u8]>| v.filter(|v| !v.is_empty()).map_or(0, |v| (key.len() as u64).saturating_add(v.len() as u64));
            let (o, n) = (size(old.as_deref()), size(new.as_ref().map(|v| &v[..])));
            if n > o {
                added = added.saturating_add(n.saturating_sub(o));
            } else {
                removed = removed.saturating_add(o.saturating_sub(n));
            }
        }
    }
    Ok((added, removed))
}

/// Builds (or re-executes) a block transaction by transaction.
pub struct BlockBuilder {
    env: BlockEnv,
    base: Arc<dyn StateReader + Send + Sync>,
    vm: Arc<Vm>,
    block: StateChanges,
    transactions: Vec<TransactionSigned>,
    receipts: Vec<StoredReceipt>,
    gas_used: u64,
}

impl BlockBuilder {
    /// A builder on top of `base` (the parent block's state).
    pub fn new(env: BlockEnv, base: Arc<dyn StateReader + Send + Sync>, vm: Arc<Vm>) -> Self {
        Self { env, base, vm, block: StateChanges::default(), transactions: Vec::new(), receipts: Vec::new(), gas_used: 0 }
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
        let mut sender = self.account(&tx.sender)?;
        if let Err(e) = validate_stateful(&tx.tx, &sender) {
            return Ok(Applied::Rejected(e));
        }
        let price = tx.tx.effective_gas_price(self.env.base_fee).ok_or(Error::Host("fee cap checked by validate_stateless".into()))?;
        let gas_limit = tx.tx.gas_limit();
        // Reserve the most the transaction can cost in fees; the unused part is refunded below.
        let reserve = U256::from(gas_limit).saturating_mul(U256::from(price));
        sender.balance = sender.balance.checked_sub(reserve).ok_or(Error::Host("balance checked by validate_stateful".into()))?;
        sender.nonce = sender.nonce.checked_add(1).ok_or(Error::Host("nonce checked by validate_stateful".into()))?;
        self.block.accounts.insert(tx.sender, Some(sender));

        let intrinsic = tx.tx.intrinsic_gas();
        let session = Box::new(Session {
            base: self.base.clone(),
            block: std::mem::take(&mut self.block),
            layers: vec![Layer::default()],
            vm: self.vm.clone(),
            env: self.env,
            origin: tx.sender,
            stack: Vec::new(),
            fuel: 0,
        });
        let exec_gas = gas_limit.saturating_sub(intrinsic);
        let (mut session, result) = execute_message(session, tx.sender, tx.tx.kind(), tx.tx.value(), tx.tx.input(), exec_gas);
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                self.block = session.block;
                return Err(e);
            }
        };
        let layer = session.layers.pop().expect("message layer");
        let (added, removed) = storage_delta(&session, &layer.changes)?;
        let fuel = session.fuel;
        self.block = std::mem::take(&mut session.block);
        self.block.extend(layer.changes);

        let gas_used = intrinsic.saturating_add(result.gas_used).min(gas_limit);
        let refund = U256::from(gas_limit.saturating_sub(gas_used)).saturating_mul(U256::from(price));
        self.credit(tx.sender, refund)?;
        self.credit(self.env.proposer, U256::from(gas_used).saturating_mul(U256::from(price)))?;
        self.gas_used = self.gas_used.saturating_add(gas_used);

        let resources =
            ResourceUsage { fuel, tx_bytes: tx.tx.encoded().len() as u64, storage_bytes_added: added, storage_bytes_removed: removed };
        let mut logs = layer.logs;
        logs.push(resources.log());
        let receipt = StoredReceipt {
            tx_type: tx.tx.tx_type() as u8,
            success: result.success,
            cumulative_gas_used: self.gas_used,
            gas_used,
            effective_gas_price: price,
            contract_address: result.contract_address.map(|a| Bytes::copy_from_slice(a.as_slice())).unwrap_or_default(),
            logs,
            output: result.output.into(),
            failure: result.failure.map(|f| Bytes::from(f.into_bytes())).unwrap_or_default(),
            resources,
        };
        self.transactions.push(tx.tx.clone());
        self.receipts.push(receipt.clone());
        Ok(Applied::Included(receipt))
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
        ExecutedBlock {
            env: self.env,
            transactions_root: roots::transactions_root(&self.transactions),
            receipts_root: roots::receipts_root(&self.receipts),
            logs_bloom,
            gas_used: self.gas_used,
            transactions: self.transactions,
            receipts: self.receipts,
            changes: self.block,
        }
    }
}

/// A read-only call (`eth_call`) or a gas probe (`eth_estimateGas`): no nonce, no fee.
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
    /// Gas limit, intrinsic gas included.
    pub gas: u64,
}

/// Runs a simulation on `base`. Returns the result with `gas_used` including
/// intrinsic gas. Nothing is committed.
pub fn simulate(base: Arc<dyn StateReader + Send + Sync>, vm: Arc<Vm>, env: BlockEnv, sim: &Simulation) -> Result<MessageResult> {
    let kind = sim.to.map_or(TxKind::Create, TxKind::Call);
    let intrinsic = strata_primitives::transaction::intrinsic_gas(&sim.input, kind.is_create());
    if sim.gas < intrinsic {
        return Ok(MessageResult {
            success: false,
            gas_used: sim.gas,
            output: Vec::new(),
            failure: Some(format!("intrinsic gas too low: have {}, want {intrinsic}", sim.gas)),
            contract_address: None,
        });
    }
    let mut sender = base.account(&sim.from)?.unwrap_or_default();
    let mut block = StateChanges::default();
    if kind.is_create() {
        // As in a real deploy, the sender's nonce is bumped before the contract address is derived.
        sender.nonce = sender.nonce.saturating_add(1);
        block.accounts.insert(sim.from, Some(sender));
    }
    let session = Box::new(Session { base, block, layers: vec![Layer::default()], vm, env, origin: sim.from, stack: Vec::new(), fuel: 0 });
    let (_, result) = execute_message(session, sim.from, kind, sim.value, &sim.input, sim.gas.saturating_sub(intrinsic));
    let mut result = result?;
    result.gas_used = result.gas_used.saturating_add(intrinsic);
    Ok(result)
}

/// The smallest gas limit with which `sim` succeeds (binary search between the gas
/// the unbounded run used and `cap`), or the failing result at `cap`.
pub fn estimate_gas(
    base: Arc<dyn StateReader + Send + Sync>,
    vm: Arc<Vm>,
    env: BlockEnv,
    sim: &Simulation,
    cap: u64,
) -> Result<Result<u64, MessageResult>> {
    let run = |gas: u64| simulate(base.clone(), vm.clone(), env, &Simulation { gas, ..sim.clone() });
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
}

impl ExecutedBlock {
    /// Assembles the block, given its parent and its post-state root.
    pub fn into_block(self, parent_hash: B256, state_root: B256) -> (Block, Vec<StoredReceipt>, StateChanges) {
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
        (Block { header, transactions: self.transactions }, self.receipts, self.changes)
    }
}

/// Hash of code as stored (for callers that build deploys).
pub fn code_hash(code: &[u8]) -> B256 {
    keccak256(code)
}

#[cfg(test)]
mod tests;
