//! One message — a transaction's execution, or a simulated call — from its frame to
//! its fee: [`execute_message`] runs the call or deploy, `run_tx` adds quota
//! accounting and the fee contract's quote, and fails the message if the sender's
//! allowance does not cover the fee. Shared by block building and simulation.

use strata_primitives::{Account, Address, Bytes, FeeBreakdown, KECCAK_EMPTY, ResourceUsage, TxKind, U256, deploy};
use strata_vm::{Entry, Status, gas};

use crate::{
    Result,
    fees::{self, Schedule, TX_BASE_FUEL},
    frame::run_frame,
    session::{Layer, Session},
    system::{StorageUse, account_storage},
};

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
        TxKind::Call(to) if to == strata_primitives::slots::VALIDATOR_SLOTS => {
            let result = crate::slot_ops::call(&mut session, sender, value, input, gas);
            match &result {
                Ok(r) if r.success => session.commit_top(),
                _ => session.revert_top(),
            }
            return (session, result);
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
pub(crate) struct TxSpec<'a> {
    pub(crate) sender: Address,
    pub(crate) kind: TxKind,
    pub(crate) value: U256,
    pub(crate) input: &'a [u8],
    pub(crate) gas_limit: u64,
    pub(crate) tx_bytes: u64,
    pub(crate) min_gas: u64,
}

/// How a transaction (or a simulation of one) ran, before the sender is charged.
pub(crate) struct TxRun {
    /// The outcome; `gas_used` is the gas charged (the fee over the gas price, rounded up).
    pub(crate) result: MessageResult,
    /// The message's effects, if they stand.
    pub(crate) layer: Option<Layer>,
    /// Resources used and the fee (with `charged` set).
    pub(crate) usage: ResourceUsage,
}

/// Shared by block execution and simulation: runs the message, counts its storage
/// against quotas, asks the fee contract for the fee, and fails the message —
/// discarding its effects — if the fee exceeds what the sender allowed
/// (`gas_limit × gas price`). The session's newest layer is the message's.
pub(crate) fn run_tx(
    session: Box<Session>,
    spec: &TxSpec<'_>,
    schedule: &Schedule,
    quotes: &mut fees::Quotes,
) -> (Box<Session>, Result<TxRun>) {
    let exec_gas = spec.gas_limit.saturating_sub(spec.min_gas);
    let (mut session, result) = execute_message(session, spec.sender, spec.kind, spec.value, spec.input, exec_gas);
    let mut result = match result {
        Ok(r) => r,
        Err(e) => return (session, Err(e)),
    };
    let mut storage = StorageUse::default();
    if result.success {
        let code_len = deploy::decode(spec.input).map_or(0, |(code, _)| code.len() as u64);
        let deployed = result.contract_address.map(|c| (c, spec.sender, code_len));
        match account_storage(&mut session, deployed, schedule.default_quota) {
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
