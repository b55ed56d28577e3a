//! Call frames: [`run_frame`] lends the session to the engine for one frame of a
//! contract, [`FrameHost`] is the [`Host`] that frame calls back into, and nested
//! calls (`sub_call`) push a layer, move value and run the callee's frame.
//!
//! Every frame pushes a layer; a frame that succeeds merges its layer into its
//! caller's, one that reverts or fails drops it — nested frames included — so a
//! failed call leaves no trace but the gas it used.

use std::any::Any;

use strata_primitives::{
    Address, B256, Bytes, Log, Slot, U256,
    system::{BLOCK_HASHES, block_hash_available, block_hash_key},
};
use strata_vm::{
    CallContext, CallStatus, Contract, Entry, Host, HostError, Outcome, Status, SubCall, SubCallResult, SystemOp, SystemReply,
};

use crate::{
    ops,
    session::{Session, vm_error},
};

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

    fn block_hash(&mut self, number: u64) -> Result<Option<B256>, HostError> {
        let env = self.s().env;
        if !block_hash_available(env.number, number) {
            return Ok(None);
        }
        if number.checked_add(1) == Some(env.number) {
            return Ok(Some(env.parent_hash));
        }
        // A chain older than the history has no entry for its early blocks: none.
        let value = self.s().storage(&BLOCK_HASHES, &block_hash_key(number))?;
        Ok(value.filter(|v| v.len() == 32).map(|v| B256::from_slice(&v)))
    }

    fn system(&mut self, op: SystemOp, input: &[u8]) -> Result<SystemReply, HostError> {
        let ctx = self.ctx;
        ops::op(self.s(), &ctx, op, input)
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}
