//! One transaction's execution: call frames as change layers over the block's
//! state, and the [`Host`] the engine calls back into.
//!
//! Every frame pushes a layer; a frame that succeeds merges its layer into its
//! caller's, one that reverts or fails drops it — nested frames included — so a
//! failed call leaves no trace but the gas it used.

use std::{any::Any, collections::BTreeMap, sync::Arc, time::Instant};

use strata_primitives::{Account, Address, B256, Bytes, KECCAK_EMPTY, Log, Slot, U256};
use strata_state::{StateChanges, StateReader};
use strata_storage::SharedKv;
use strata_vm::{
    CachePolicy, CallContext, CallStatus, Contract, Entry, Host, HostError, Outcome, Status, SubCall, SubCallResult, SystemOp, SystemReply,
    Vm,
};

use crate::BlockEnv;

/// Changes, logs and storage-market effects of one frame: all kept or all dropped.
#[derive(Debug, Default)]
pub(crate) struct Layer {
    pub(crate) changes: StateChanges,
    pub(crate) logs: Vec<Log>,
    /// Values to write to the cold store (`None` deletes), by cold key.
    pub(crate) cold: BTreeMap<Vec<u8>, Option<Bytes>>,
    /// Hot storage bought (quota raised), bytes.
    pub(crate) storage_paid: u64,
    /// Cold retention bought, byte-seconds.
    pub(crate) cold_byte_seconds: u64,
}

impl Layer {
    /// Merges a later layer into this one.
    pub(crate) fn absorb(&mut self, later: Layer) {
        self.changes.extend(later.changes);
        self.logs.extend(later.logs);
        self.cold.extend(later.cold);
        self.storage_paid = self.storage_paid.saturating_add(later.storage_paid);
        self.cold_byte_seconds = self.cold_byte_seconds.saturating_add(later.cold_byte_seconds);
    }
}

/// The state a transaction runs on: frame layers (newest last) over the changes of
/// earlier transactions of the block over the base state.
pub(crate) struct Session {
    pub(crate) base: Arc<dyn StateReader + Send + Sync>,
    pub(crate) block: StateChanges,
    /// Cold-store writes of earlier transactions of the block.
    pub(crate) block_cold: BTreeMap<Vec<u8>, Option<Bytes>>,
    /// The cold store as of the parent block.
    pub(crate) cold: SharedKv,
    pub(crate) layers: Vec<Layer>,
    pub(crate) vm: Arc<Vm>,
    pub(crate) env: BlockEnv,
    pub(crate) origin: Address,
    /// Contracts currently executing (for the re-entrancy rule).
    pub(crate) stack: Vec<Address>,
    /// Whether code compiled here may be cached: [`CachePolicy::Transient`] in RPC
    /// simulations, for code that is not on chain.
    pub(crate) policy: CachePolicy,
    /// Wall-clock deadline (RPC simulations only).
    pub(crate) deadline: Option<Instant>,
}

fn node(e: impl std::fmt::Display) -> HostError {
    HostError::Node(e.to_string())
}

/// An engine failure as the host reports it to the frame above (keeping a deadline
/// interruption distinguishable from other node failures).
fn vm_error(e: strata_vm::Error) -> HostError {
    match e {
        strata_vm::Error::Interrupted => HostError::Interrupted,
        other => HostError::Node(other.to_string()),
    }
}

impl Session {
    /// A session over `base` with the block's earlier changes `block` (and their cold
    /// writes), one empty layer for the message, for a transaction sent by `origin`.
    pub(crate) fn new(
        base: Arc<dyn StateReader + Send + Sync>,
        vm: Arc<Vm>,
        env: BlockEnv,
        cold: SharedKv,
        block: StateChanges,
        block_cold: BTreeMap<Vec<u8>, Option<Bytes>>,
        origin: Address,
    ) -> Box<Self> {
        Box::new(Self {
            base,
            block,
            block_cold,
            cold,
            layers: vec![Layer::default()],
            vm,
            env,
            origin,
            stack: Vec::new(),
            policy: CachePolicy::Keep,
            deadline: None,
        })
    }

    /// The account at `address` (empty if absent).
    pub(crate) fn account(&self, address: &Address) -> Result<Account, HostError> {
        for layer in self.layers.iter().rev() {
            if let Some(a) = layer.changes.accounts.get(address) {
                return Ok(a.unwrap_or_default());
            }
        }
        if let Some(a) = self.block.accounts.get(address) {
            return Ok(a.unwrap_or_default());
        }
        Ok(self.base.account(address).map_err(node)?.unwrap_or_default())
    }

    /// The slot `key` of `address`'s storage, as of before this transaction.
    pub(crate) fn slot_before_tx(&self, address: &Address, key: &[u8]) -> Result<Option<Slot>, HostError> {
        if let Some(v) = self.block.storage.get(address).and_then(|s| s.get(key)) {
            return Ok(strata_state::live(v.as_ref()));
        }
        self.base.slot(address, key).map_err(node)
    }

    /// The slot `key` of `address`'s storage, as the running frame sees it.
    pub(crate) fn slot(&self, address: &Address, key: &[u8]) -> Result<Option<Slot>, HostError> {
        for layer in self.layers.iter().rev() {
            if let Some(v) = layer.changes.storage.get(address).and_then(|s| s.get(key)) {
                return Ok(strata_state::live(v.as_ref()));
            }
        }
        self.slot_before_tx(address, key)
    }

    /// The live value of `key`; reading an archived key is refused, naming the key
    /// and how to bring it back.
    pub(crate) fn storage(&self, address: &Address, key: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        match self.slot(address, key)? {
            None => Ok(None),
            Some(Slot::Value(v)) => Ok(Some(v.to_vec())),
            Some(Slot::Tombstone(t)) => Err(crate::system::archived_error(address, key, &t)),
        }
    }

    /// Slots of `address` starting with `prefix`, after `start_after`, as the frame sees them.
    pub(crate) fn storage_scan(
        &self,
        address: &Address,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Bytes, Slot)>, HostError> {
        let mut pending: BTreeMap<Bytes, Option<Slot>> = BTreeMap::new();
        for changes in std::iter::once(&self.block).chain(self.layers.iter().map(|l| &l.changes)) {
            if let Some(slots) = changes.storage.get(address) {
                pending.extend(slots.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        let base = self.base.storage_scan(address, prefix, start_after, limit.saturating_add(pending.len())).map_err(node)?;
        Ok(strata_state::merge_scan(base, &pending, prefix, start_after, limit))
    }

    /// A cold-store value: pending writes of this transaction and block first.
    pub(crate) fn cold_value(&self, key: &[u8]) -> Result<Option<Bytes>, HostError> {
        for layer in self.layers.iter().rev() {
            if let Some(v) = layer.cold.get(key) {
                return Ok(v.clone());
            }
        }
        if let Some(v) = self.block_cold.get(key) {
            return Ok(v.clone());
        }
        Ok(self.cold.get(strata_storage::Column::Cold, key).map_err(node)?.map(Bytes::from))
    }

    pub(crate) fn code(&self, hash: &B256) -> Result<Option<Bytes>, HostError> {
        for layer in self.layers.iter().rev() {
            if let Some(c) = layer.changes.code.get(hash) {
                return Ok(Some(c.clone()));
            }
        }
        if let Some(c) = self.block.code.get(hash) {
            return Ok(Some(c.clone()));
        }
        self.base.code(hash).map_err(node)
    }

    pub(crate) fn top(&mut self) -> &mut Layer {
        self.layers.last_mut().expect("a transaction always has its own layer")
    }

    pub(crate) fn set_account(&mut self, address: Address, account: Account) {
        self.top().changes.accounts.insert(address, Some(account));
    }

    pub(crate) fn set_slot(&mut self, address: Address, key: &[u8], slot: Option<Slot>) {
        self.top().changes.storage.entry(address).or_default().insert(Bytes::copy_from_slice(key), slot);
    }

    pub(crate) fn push(&mut self) {
        self.layers.push(Layer::default());
    }

    /// Merges the newest layer into the one below.
    pub(crate) fn commit_top(&mut self) {
        let layer = self.layers.pop().expect("layer to commit");
        self.top().absorb(layer);
    }

    pub(crate) fn revert_top(&mut self) {
        self.layers.pop().expect("layer to revert");
    }

    /// Moves `value` from `from` to `to` in the newest layer; false if `from` lacks it.
    pub(crate) fn transfer(&mut self, from: Address, to: Address, value: U256) -> Result<bool, HostError> {
        if value.is_zero() {
            return Ok(true);
        }
        let mut a = self.account(&from)?;
        let Some(rest) = a.balance.checked_sub(value) else { return Ok(false) };
        a.balance = rest;
        self.set_account(from, a);
        let mut b = self.account(&to)?;
        // Total supply is fixed far below 2^256: cannot overflow.
        b.balance = b.balance.saturating_add(value);
        self.set_account(to, b);
        Ok(true)
    }

    /// The runnable contract at `address`, if it has code.
    pub(crate) fn contract_at(&self, address: &Address) -> Result<Option<Arc<Contract>>, HostError> {
        let account = self.account(address)?;
        if account.code_hash == KECCAK_EMPTY {
            return Ok(None);
        }
        // Code is immutable and content-addressed: a compiled copy is as good as the bytes.
        if let Some(c) = self.vm.cached(&account.code_hash) {
            return Ok(Some(c));
        }
        let code = self.code(&account.code_hash)?.ok_or_else(|| node(format!("code {} of {address} missing", account.code_hash)))?;
        // A simulation may call code it deployed itself: compile that for this run only.
        let policy = match self.policy {
            CachePolicy::Transient if self.base.code(&account.code_hash).map_err(node)?.is_none() => CachePolicy::Transient,
            _ => CachePolicy::Keep,
        };
        self.vm.load_with(account.code_hash, &code, policy).map(Some).map_err(vm_error)
    }

    pub(crate) fn context(&self, address: Address, caller: Address, value: U256, is_static: bool, depth: u32) -> CallContext {
        CallContext {
            address,
            caller,
            origin: self.origin,
            value,
            block_number: self.env.number,
            timestamp: self.env.timestamp,
            chain_id: self.env.chain_id,
            is_static,
            depth,
        }
    }
}

/// Runs one frame of `contract`, lending the session to the engine.
pub(crate) fn run_frame(
    session: Box<Session>,
    ctx: CallContext,
    contract: &Contract,
    entry: Entry,
    input: Vec<u8>,
    gas: u64,
) -> (Box<Session>, Result<Outcome, HostError>) {
    let vm = session.vm.clone();
    let mut session = session;
    session.stack.push(ctx.address);
    let deadline = session.deadline;
    let host = Box::new(FrameHost { session: Some(session), ctx });
    let (host, outcome) = vm.execute_until(contract, entry, host, input, gas, deadline);
    let mut host = host.into_any().downcast::<FrameHost>().expect("the executor only hands the engine FrameHosts");
    let mut session = host.session.take().expect("the session returns with its host");
    session.stack.pop();
    (session, outcome.map_err(vm_error))
}

/// A nested call from a running contract (value transfer, then the callee's frame).
fn sub_call(mut session: Box<Session>, parent: CallContext, call: SubCall) -> (Box<Session>, Result<SubCallResult, HostError>) {
    let fail = |output: &[u8]| SubCallResult { status: CallStatus::Failure, gas_used: 0, output: output.to_vec() };
    session.push();
    match session.transfer(parent.address, call.to, call.value) {
        Ok(true) => {}
        Ok(false) => {
            session.revert_top();
            return (session, Ok(fail(b"insufficient balance for the call's value")));
        }
        Err(e) => return (session, Err(e)),
    }
    let contract = match session.contract_at(&call.to) {
        Ok(Some(c)) => c,
        Ok(None) => {
            // A plain account: the value moved, nothing runs.
            session.commit_top();
            return (session, Ok(SubCallResult { status: CallStatus::Success, gas_used: 0, output: Vec::new() }));
        }
        Err(e) => return (session, Err(e)),
    };
    if session.stack.contains(&call.to) && !contract.info.reentrant {
        session.revert_top();
        let msg = format!("re-entrant call to {} refused: it is already executing and does not export `strata_reentrant`", call.to);
        return (session, Ok(fail(msg.as_bytes())));
    }
    let depth = parent.depth.saturating_add(1);
    let ctx = session.context(call.to, parent.address, call.value, call.is_static, depth);
    let (mut session, outcome) = run_frame(session, ctx, &contract, Entry::Call, call.input, call.gas);
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => return (session, Err(e)),
    };
    let status = match &outcome.status {
        Status::Success => {
            session.commit_top();
            CallStatus::Success
        }
        Status::Revert => {
            session.revert_top();
            CallStatus::Revert
        }
        Status::Failure(_) => {
            session.revert_top();
            CallStatus::Failure
        }
    };
    let output = match outcome.status {
        Status::Failure(reason) => reason.into_bytes(),
        _ => outcome.output,
    };
    (session, Ok(SubCallResult { status, gas_used: outcome.gas_used, output }))
}

/// The [`Host`] of one frame.
pub(crate) struct FrameHost {
    session: Option<Box<Session>>,
    ctx: CallContext,
}

impl FrameHost {
    fn s(&mut self) -> &mut Session {
        self.session.as_mut().expect("session present while the frame runs")
    }
}

impl Host for FrameHost {
    fn context(&self) -> &CallContext {
        &self.ctx
    }

    fn storage_read(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        let address = self.ctx.address;
        self.s().storage(&address, key)
    }

    fn storage_write(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<bool, HostError> {
        let address = self.ctx.address;
        // Overwriting an archived key is refused like reading it: the archived value
        // must be restored (or stay archived), never silently lost.
        let existed = self.s().storage(&address, key)?.is_some();
        self.s().set_slot(address, key, value.map(|v| Slot::Value(Bytes::copy_from_slice(v))));
        Ok(existed)
    }

    fn balance(&mut self, address: &Address) -> Result<U256, HostError> {
        Ok(self.s().account(address)?.balance)
    }

    fn emit_log(&mut self, topics: Vec<B256>, data: Vec<u8>) -> Result<(), HostError> {
        let log = Log::new_unchecked(self.ctx.address, topics, data.into());
        self.s().top().logs.push(log);
        Ok(())
    }

    fn call(&mut self, call: SubCall) -> Result<SubCallResult, HostError> {
        let session = self.session.take().expect("session present while the frame runs");
        let (session, result) = sub_call(session, self.ctx, call);
        self.session = Some(session);
        result
    }

    fn system(&mut self, op: SystemOp, input: &[u8]) -> Result<SystemReply, HostError> {
        let ctx = self.ctx;
        crate::system::op(self.s(), &ctx, op, input)
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}
