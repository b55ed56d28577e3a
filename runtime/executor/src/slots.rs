//! The validator slots in chain state (the storage of [`VALIDATOR_SLOTS`]): written at
//! genesis, read for every block, and updated at the end of every block by the switch
//! rule ([`strata_primitives::slots::end_of_block`]) — the runtime's part of primary/backup
//! slots. What a block observed (its parent certificate, its heartbeats) is checked by
//! [`crate::rules::observe_liveness`] first.

use strata_primitives::{
    Account, Bytes, Slot,
    rlp_item::decode_exact,
    slots::{PARAMS_KEY, SlotParams, SlotRecord, VALIDATOR_SLOTS, WINDOW_KEY, WindowEntry, slot_key},
};
use strata_state::{StateChanges, StateReader};

use crate::{Error, Result};

/// The slot state of a chain: parameters, records in slot order, the proposer window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotState {
    /// The chain's parameters.
    pub params: SlotParams,
    /// Slot `i` at index `i`.
    pub slots: Vec<SlotRecord>,
    /// The proposers of the last `params.window` blocks.
    pub window: Vec<WindowEntry>,
}

fn value(state: &(dyn StateReader + Send + Sync), key: &[u8]) -> Result<Option<Vec<u8>>> {
    Ok(match state.slot(&VALIDATOR_SLOTS, key)? {
        Some(Slot::Value(v)) => Some(v.to_vec()),
        Some(Slot::Tombstone(_)) => return Err(Error::Host(format!("validator slots: key {key:?} is archived"))),
        None => None,
    })
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Host(format!("validator slots: corrupt {what}: {e}"))
}

/// The chain's slot state in `state`, `None` for a chain without slots (its validator
/// set is the genesis one at every height).
pub fn read(state: &(dyn StateReader + Send + Sync)) -> Result<Option<SlotState>> {
    let Some(params) = value(state, PARAMS_KEY)? else { return Ok(None) };
    let params = decode_exact::<SlotParams>(&params).map_err(|e| corrupt("parameters", e))?;
    let mut slots = Vec::with_capacity(params.slots as usize);
    for i in 0..params.slots {
        let bytes = value(state, &slot_key(i))?.ok_or_else(|| corrupt("slot", format!("slot {i} is missing")))?;
        slots.push(decode_exact::<SlotRecord>(&bytes).map_err(|e| corrupt("slot", e))?);
    }
    let window = match value(state, WINDOW_KEY)? {
        Some(bytes) => decode_exact::<Vec<WindowEntry>>(&bytes).map_err(|e| corrupt("window", e))?,
        None => Vec::new(),
    };
    Ok(Some(SlotState { params, slots, window }))
}

/// Where the block of `proposer` pays its fee share's rounding remainder: its slot's
/// payee (whichever of the slot's keys proposed), or the proposer itself without slots.
pub fn payee_of(state: Option<&SlotState>, proposer: strata_primitives::Address) -> strata_primitives::Address {
    state.and_then(|s| s.slots.iter().find(|r| r.holds(&proposer))).map_or(proposer, |r| r.payee)
}

/// Adds the writes that store `state` (only what differs from `before`, if given).
pub fn write(state: &SlotState, before: Option<&SlotState>, changes: &mut StateChanges) {
    let storage = changes.storage.entry(VALIDATOR_SLOTS).or_default();
    let mut put = |key: &[u8], bytes: Vec<u8>| {
        storage.insert(Bytes::copy_from_slice(key), Some(Slot::Value(Bytes::from(bytes))));
    };
    if before.is_none_or(|b| b.params != state.params) {
        put(PARAMS_KEY, strata_primitives::rlp::encode(state.params));
    }
    for (i, slot) in state.slots.iter().enumerate() {
        if before.and_then(|b| b.slots.get(i)) != Some(slot) {
            put(&slot_key(i as u32), strata_primitives::rlp::encode(slot));
        }
    }
    if before.is_none_or(|b| b.window != state.window) {
        let mut encoded = Vec::new();
        strata_primitives::rlp::encode_list::<_, WindowEntry>(&state.window, &mut encoded);
        put(WINDOW_KEY, encoded);
    }
}

/// The genesis writes of a chain with slots: the codeless account and its storage.
pub fn genesis(params: SlotParams, slots: Vec<SlotRecord>) -> StateChanges {
    let mut changes = StateChanges::default();
    changes.accounts.insert(VALIDATOR_SLOTS, Some(Account { nonce: 1, ..Account::default() }));
    write(&SlotState { params, slots, window: Vec::new() }, None, &mut changes);
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_primitives::{Address, B256};
    use strata_state::Overlay;

    /// No accounts, no storage.
    struct Empty;
    impl StateReader for Empty {
        fn account(&self, _: &Address) -> strata_state::Result<Option<Account>> {
            Ok(None)
        }
        fn slot(&self, _: &Address, _: &[u8]) -> strata_state::Result<Option<Slot>> {
            Ok(None)
        }
        fn code(&self, _: &B256) -> strata_state::Result<Option<Bytes>> {
            Ok(None)
        }
    }

    fn over_empty(changes: StateChanges) -> Overlay<'static, Empty> {
        let mut o = Overlay::new(&Empty);
        o.changes = changes;
        o
    }

    #[test]
    fn genesis_state_reads_back_and_only_changes_are_rewritten() {
        let params = SlotParams::new(2, 4);
        let slots = vec![
            SlotRecord::new(Address::repeat_byte(1), Some(Address::repeat_byte(2)), Address::repeat_byte(3), 0, Address::repeat_byte(4)),
            SlotRecord::new(Address::repeat_byte(5), None, Address::repeat_byte(6), 2, Address::repeat_byte(7)),
        ];
        let changes = genesis(params, slots.clone());
        let state = over_empty(changes);
        let read_back = read(&state).unwrap().unwrap();
        assert_eq!(read_back, SlotState { params, slots, window: Vec::new() });

        let mut next = read_back.clone();
        next.slots[1].streak = 3;
        next.window.push(WindowEntry { height: 1, proposer: 0 });
        let mut delta = StateChanges::default();
        write(&next, Some(&read_back), &mut delta);
        let keys: Vec<&[u8]> = delta.storage[&VALIDATOR_SLOTS].keys().map(|k| &k[..]).collect();
        assert_eq!(keys, [&slot_key(1)[..], WINDOW_KEY]);

        // A chain without slots reads none.
        assert_eq!(read(&over_empty(StateChanges::default())).unwrap(), None);
    }

    #[test]
    fn a_backup_proposing_pays_its_slots_payee() {
        let (primary, backup, payee) = (Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3));
        let state = SlotState {
            params: SlotParams::new(1, 4),
            slots: vec![SlotRecord::new(primary, Some(backup), payee, 0, primary)],
            window: Vec::new(),
        };
        assert_eq!(payee_of(Some(&state), backup), payee);
        assert_eq!(payee_of(Some(&state), primary), payee);
        let stranger = Address::repeat_byte(9);
        assert_eq!(payee_of(Some(&state), stranger), stranger);
        assert_eq!(payee_of(None, backup), backup);
    }
}
