//! Transactions to the validator-slots account ([`VALIDATOR_SLOTS`], no code): the
//! runtime answers them natively. Today one call, `scheduleSwitch(slot, atHeight)`
//! ([`IValidatorSlots`]), by which a slot's operator plans a swap of its machines'
//! roles (maintenance without waiting for a failure); the switch rule carries it out at
//! the end of the block two before `atHeight`.

use alloy_sol_types::{SolCall, SolError};
use strata_primitives::{
    Address, Bytes, Slot, U256,
    interfaces::IValidatorSlots,
    rlp_item::decode_exact,
    slots::{SlotRecord, VALIDATOR_SLOTS, schedule, slot_key},
};

use crate::{
    Result,
    message::MessageResult,
    session::{Session, node},
};

/// Gas of a `scheduleSwitch` call (charged whatever its outcome).
pub const SCHEDULE_GAS: u64 = 30_000;

/// A call from `sender` to [`VALIDATOR_SLOTS`] with `input` and `value`, in `session`
/// (whose newest layer is the message's).
pub(crate) fn call(session: &mut Session, sender: Address, value: U256, input: &[u8], gas: u64) -> Result<MessageResult> {
    if gas < SCHEDULE_GAS {
        return Ok(MessageResult::failed(gas, format!("out of gas: a validator-slots call costs {SCHEDULE_GAS} gas")));
    }
    let revert = |slot: u32, reason: String| MessageResult {
        success: false,
        gas_used: SCHEDULE_GAS,
        output: IValidatorSlots::SwitchRefused { slot, reason }.abi_encode(),
        failure: None,
        contract_address: None,
        resources: Default::default(),
    };
    if !value.is_zero() {
        return Ok(revert(0, "the validator-slots account takes no value".into()));
    }
    let Ok(request) = IValidatorSlots::scheduleSwitchCall::abi_decode(input) else {
        return Ok(revert(0, "not a scheduleSwitch(uint32,uint64) call".into()));
    };
    let key = slot_key(request.slot);
    let record = match session.slot(&VALIDATOR_SLOTS, &key)? {
        Some(Slot::Value(bytes)) => {
            decode_exact::<SlotRecord>(&bytes).map_err(|e| node(format!("validator slot {}: {e}", request.slot)))?
        }
        _ => return Ok(revert(request.slot, format!("no slot {}", request.slot))),
    };
    let mut one = [record];
    // `schedule` indexes from 0: the one record stands in for its slot.
    let checked = schedule(&mut one, 0, sender, request.atHeight, session.env.number).map_err(|e| match e {
        strata_primitives::slots::PlanError::UnknownSlot(_) => strata_primitives::slots::PlanError::UnknownSlot(request.slot),
        strata_primitives::slots::PlanError::NotOperator { sender, .. } => {
            strata_primitives::slots::PlanError::NotOperator { slot: request.slot, sender }
        }
        strata_primitives::slots::PlanError::NoBackup(_) => strata_primitives::slots::PlanError::NoBackup(request.slot),
        other => other,
    });
    if let Err(e) = checked {
        return Ok(revert(request.slot, e.to_string()));
    }
    session.set_slot(VALIDATOR_SLOTS, &key, Some(Slot::Value(Bytes::from(strata_primitives::rlp::encode(one[0])))));
    tracing::info!(slot = request.slot, at = request.atHeight, operator = %sender, "validator slot switch planned");
    Ok(MessageResult {
        success: true,
        gas_used: SCHEDULE_GAS,
        output: Vec::new(),
        failure: None,
        contract_address: None,
        resources: Default::default(),
    })
}
