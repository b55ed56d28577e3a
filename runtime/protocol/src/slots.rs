//! Validator slots: each seat of the validator set is a slot run by two machines, each
//! with its own key — a primary and a backup — of which exactly one is **active** (it
//! votes) at any height, the other a **sync node** that follows the chain and sends
//! heartbeats. Which one is active is chain state, changed only by [`end_of_block`], the
//! switch rule every node runs identically at the end of every block.
//!
//! Why here: the rule decides the validator set, so the executor (which applies it), the
//! node (which reads the set of each height from state), the consensus simulator and an
//! auditor (who checks a certificate against the keys active at its height) must agree
//! on it byte for byte.
//!
//! **State.** The slots live in the storage of the codeless system account
//! [`VALIDATOR_SLOTS`] (`0x…1004`): [`PARAMS_KEY`] holds [`SlotParams`], [`slot_key`]`(i)`
//! slot `i`'s [`SlotRecord`], [`WINDOW_KEY`] the proposers of the last `window` blocks
//! ([`WindowEntry`]) — all RLP, all provable with `eth_getProof`.
//!
//! **Heights.** A switch decided at the end of block `h` takes effect at `h + 2`, so every
//! node knows the set of a height before it starts it: the set of height `H` is the
//! active keys in the state after block `H - 2`. [`SlotRecord::active_at`] recovers the
//! keys of heights `B..=B + 2` from the state after block `B` (two switches of one slot
//! are always at least [`MIN_SWITCH_SPACING`] blocks apart, so at most one is pending).
//!
//! **Liveness.** Block `h` observes block `h - 1`: an active key was alive iff its
//! signature is in the commit certificate of `h - 1` (the parent certificate block `h`
//! carries); a sync node was alive iff block `h` carries its signed [`Heartbeat`] for
//! `h - 1`. A proposer can omit evidence, never forge it: heartbeats are signed, and
//! certificates are verified.
//!
//! **The rule** ([`end_of_block`]): a slot's roles swap when, for each of the last
//! `window` blocks, its active key was dead and its alternate alive, provided those
//! blocks came from at least `f + 1` distinct proposers (so `f` Byzantine proposers
//! omitting evidence cannot force it) and the slot did not switch within `cooldown`
//! blocks. A revived former primary is the alternate, and takes over only when the
//! active one in turn fails. A planned switch (scheduled by the slot's operator) swaps
//! at the height it names.

use alloc::vec::Vec;
use alloy_primitives::{Address, B256, address, keccak256};
use alloy_rlp::{Encodable, RlpDecodable, RlpEncodable};

use crate::consensus::{Recover, ValidatorSet, recovers_to};

/// The codeless system account whose storage holds the validator slots.
pub const VALIDATOR_SLOTS: Address = address!("0000000000000000000000000000000000001004");

/// Storage key of [`SlotParams`].
pub const PARAMS_KEY: &[u8] = b"params";
/// Storage key of the proposer window (an RLP list of [`WindowEntry`]).
pub const WINDOW_KEY: &[u8] = b"window";

/// Storage key of slot `index`'s [`SlotRecord`]: `"slot" ‖ index` (4 bytes, big-endian).
pub fn slot_key(index: u32) -> [u8; 8] {
    let mut key = *b"slot\0\0\0\0";
    key[4..].copy_from_slice(&index.to_be_bytes());
    key
}

/// Two switches of one slot (automatic or planned) are at least this many blocks apart:
/// a switch decided at `h` takes effect at `h + 2`, and the state after any block must
/// tell the keys of the next two heights.
pub const MIN_SWITCH_SPACING: u64 = 3;

/// Domain tag of [`heartbeat_digest`].
pub const HEARTBEAT_DOMAIN: &str = "strata/heartbeat/v1";

/// The chain's slot parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct SlotParams {
    /// Number of slots (the size of every height's validator set).
    pub slots: u32,
    /// `N`: consecutive blocks of evidence a switch needs (default: about 10 s of blocks).
    pub window: u64,
    /// Blocks after a switch during which the slot cannot switch again (default `2N`).
    pub cooldown: u64,
}

impl SlotParams {
    /// `N = window` (at least 1), cooldown `2N` (at least [`MIN_SWITCH_SPACING`]).
    pub fn new(slots: u32, window: u64) -> Self {
        let window = window.max(1);
        Self { slots, window, cooldown: window.saturating_mul(2).max(MIN_SWITCH_SPACING) }
    }

    /// The window for a block time: `N × block time ≈ 10 s` (at least 3 blocks).
    pub fn window_for_block_time(block_time_ms: u64) -> u64 {
        (10_000 / block_time_ms.max(1)).max(3)
    }

    /// Faulty slots tolerated: `f = (slots - 1) / 3`.
    pub fn f(&self) -> usize {
        (self.slots as usize).saturating_sub(1) / 3
    }
}

/// One seat of the validator set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct SlotRecord {
    /// The primary machine's key.
    pub primary: Address,
    /// The backup machine's key (zero: the slot has no backup).
    pub backup: Address,
    /// Whether the backup is the active key (as of the state this record is read from).
    pub backup_active: bool,
    /// Where the slot's share of fees goes (whichever machine is active).
    pub payee: Address,
    /// Declared storage class (0 NVMe, 1 SSD, 2 HDD).
    pub storage_class: u8,
    /// Who may schedule a planned switch.
    pub operator: Address,
    /// Height of the block whose end decided the last switch (0: never).
    pub last_switch: u64,
    /// Consecutive recent blocks in which the active key was dead and the alternate alive.
    pub streak: u64,
    /// Height from which a planned switch takes effect (0: none).
    pub planned: u64,
}

impl SlotRecord {
    /// A slot whose primary is active.
    pub fn new(primary: Address, backup: Option<Address>, payee: Address, storage_class: u8, operator: Address) -> Self {
        Self {
            primary,
            backup: backup.unwrap_or(Address::ZERO),
            backup_active: false,
            payee,
            storage_class,
            operator,
            last_switch: 0,
            streak: 0,
            planned: 0,
        }
    }

    /// Whether the slot has a backup machine.
    pub fn has_backup(&self) -> bool {
        self.backup != Address::ZERO
    }

    /// The active key (as of this record's state).
    pub fn active(&self) -> Address {
        if self.backup_active { self.backup } else { self.primary }
    }

    /// The alternate (sync node) key, if the slot has two.
    pub fn alternate(&self) -> Option<Address> {
        self.has_backup().then_some(if self.backup_active { self.primary } else { self.backup })
    }

    /// Whether the last switch, decided at the end of `last_switch`, is not yet in effect
    /// at `height` (it takes effect at `last_switch + 2`).
    fn pending_at(&self, height: u64) -> bool {
        self.last_switch != 0 && self.last_switch.saturating_add(2) > height
    }

    /// The active key at `height`, from the record in the state after block `B` with
    /// `height - 2 <= B <= height` (see the module docs).
    pub fn active_at(&self, height: u64) -> Address {
        if self.pending_at(height) && self.has_backup() {
            if self.backup_active { self.primary } else { self.backup }
        } else {
            self.active()
        }
    }

    /// The alternate key at `height` (same condition as [`SlotRecord::active_at`]).
    pub fn alternate_at(&self, height: u64) -> Option<Address> {
        let active = self.active_at(height);
        self.has_backup().then_some(if active == self.primary { self.backup } else { self.primary })
    }

    /// Whether `key` is one of the slot's two keys.
    pub fn holds(&self, key: &Address) -> bool {
        *key != Address::ZERO && (self.primary == *key || self.backup == *key)
    }

    /// Swaps the roles, decided at the end of block `at`. A pending plan goes too: it
    /// asked to swap the roles as they were, which this switch has done (carrying it out
    /// later would hand the seat back to the machine just replaced).
    fn swap(&mut self, at: u64) {
        self.backup_active = !self.backup_active;
        self.last_switch = at;
        self.streak = 0;
        self.planned = 0;
    }
}

/// One block of the proposer window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct WindowEntry {
    /// The block's height.
    pub height: u64,
    /// The slot that proposed it.
    pub proposer: u32,
}

/// The validator set of a height: the slots' active keys in slot order (validator `i`
/// is slot `i`), from records read in the state after block `B`, `height - 2 <= B <= height`.
pub fn validator_set_at(slots: &[SlotRecord], height: u64) -> ValidatorSet {
    ValidatorSet::new(slots.iter().map(|s| s.active_at(height)).collect())
}

/// What a sync node signs every block: it is alive, following `block_hash` at `height`.
/// `keccak256(rlp(["strata/heartbeat/v1", chain_id, slot, key, height, block_hash]))`.
pub fn heartbeat_digest(chain_id: u64, slot: u32, key: Address, height: u64, block_hash: B256) -> B256 {
    let fields: [&dyn Encodable; 6] = [&HEARTBEAT_DOMAIN, &chain_id, &slot, &key, &height, &block_hash];
    let mut out = Vec::new();
    alloy_rlp::encode_list::<_, dyn Encodable>(&fields, &mut out);
    keccak256(out)
}

/// A sync node's signed heartbeat for block `height` (`block_hash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Heartbeat {
    /// The slot the node belongs to.
    pub slot: u32,
    /// The node's key (the slot's alternate at `height`).
    pub key: Address,
    /// The height of the block it follows.
    pub height: u64,
    /// That block's hash.
    pub block_hash: B256,
    /// Recoverable signature over [`heartbeat_digest`]: `r ‖ s ‖ v`.
    pub signature: [u8; 65],
}

impl Heartbeat {
    /// The digest the signature signs on chain `chain_id`.
    pub fn digest(&self, chain_id: u64) -> B256 {
        heartbeat_digest(chain_id, self.slot, self.key, self.height, self.block_hash)
    }

    /// Whether the signature is `key`'s (low `s`) over this heartbeat on chain `chain_id`.
    pub fn verify_with(&self, chain_id: u64, recover: &impl Recover) -> bool {
        recovers_to(recover, &self.signature, &self.digest(chain_id), &self.key)
    }
}

/// What a block carries besides its transactions about its parent's liveness: the
/// heartbeats of sync nodes for the parent, sorted by slot, at most one per slot.
/// (The active keys' liveness is the parent certificate the block already carries.)
#[derive(Debug, Clone, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct LivenessRecord {
    /// The heartbeats, in strictly increasing slot order.
    pub heartbeats: Vec<Heartbeat>,
}

impl LivenessRecord {
    /// The header's `liveness_root`: zero for an empty record, else `keccak256(rlp(record))`.
    pub fn root(&self) -> B256 {
        if self.heartbeats.is_empty() { B256::ZERO } else { keccak256(alloy_rlp::encode(self)) }
    }
}

/// What block `height` observed of its parent, per slot: the input of [`end_of_block`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The block's height.
    pub height: u64,
    /// The slot that proposed it.
    pub proposer: u32,
    /// Per slot, in slot order.
    pub slots: Vec<SlotSeen>,
}

/// One slot in an [`Observation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotSeen {
    /// The slot's active key at the parent's height.
    pub active: Address,
    /// Whether that key signed the parent's commit certificate.
    pub active_alive: bool,
    /// Whether the block carries the alternate's heartbeat for the parent.
    pub alternate_alive: bool,
}

/// A role switch decided at the end of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switch {
    /// The slot.
    pub slot: u32,
    /// The block whose end decided it.
    pub decided: u64,
    /// The first height the new key is active.
    pub effective: u64,
    /// The key active from then on.
    pub active: Address,
    /// The key that becomes the alternate.
    pub demoted: Address,
    /// Whether it was a planned switch (else: the liveness rule).
    pub planned: bool,
}

/// The switch rule, run at the end of every block on the slot state (the records and the
/// proposer window, as read from the block's parent state and written back after): see
/// the module docs. Returns the switches decided, in slot order. Deterministic: no clock,
/// no randomness, checked arithmetic.
pub fn end_of_block(params: &SlotParams, slots: &mut [SlotRecord], window: &mut Vec<WindowEntry>, seen: &Observation) -> Vec<Switch> {
    let h = seen.height;
    window.push(WindowEntry { height: h, proposer: seen.proposer });
    let keep = usize::try_from(params.window).unwrap_or(usize::MAX);
    if window.len() > keep {
        let excess = window.len() - keep;
        window.drain(..excess);
    }
    let mut proposers: Vec<u32> = window.iter().map(|w| w.proposer).collect();
    proposers.sort_unstable();
    proposers.dedup();
    let enough_proposers = proposers.len() > params.f();

    let mut switches = Vec::new();
    for (i, slot) in slots.iter_mut().enumerate() {
        if !slot.has_backup() {
            slot.streak = 0;
            continue;
        }
        // Evidence counts only about the roles the record has now: in the two blocks after
        // a switch, the observed height still had the old roles.
        match seen.slots.get(i) {
            Some(s) if s.active == slot.active() && !slot.pending_at(h.saturating_sub(1)) && !s.active_alive && s.alternate_alive => {
                slot.streak = slot.streak.saturating_add(1);
            }
            _ => slot.streak = 0,
        }
        let spaced = |slot: &SlotRecord, gap: u64| slot.last_switch == 0 || h.saturating_sub(slot.last_switch) >= gap;
        let planned_due = slot.planned != 0 && slot.planned <= h.saturating_add(2);
        // A due plan first (it waits out only the minimal spacing), else the liveness rule.
        let planned = if planned_due && spaced(slot, MIN_SWITCH_SPACING) {
            true
        } else if slot.streak >= params.window && enough_proposers && spaced(slot, params.cooldown.max(MIN_SWITCH_SPACING)) {
            false
        } else {
            continue;
        };
        let demoted = slot.active();
        slot.swap(h);
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        switches.push(Switch { slot: index, decided: h, effective: h.saturating_add(2), active: slot.active(), demoted, planned });
    }
    switches
}

/// Why a planned switch cannot be scheduled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// No such slot.
    #[error("no slot {0}")]
    UnknownSlot(u32),
    /// The sender is not the slot's operator.
    #[error("{sender} is not the operator of slot {slot}")]
    NotOperator {
        /// The slot.
        slot: u32,
        /// Who asked.
        sender: Address,
    },
    /// The slot has no backup to switch to.
    #[error("slot {0} has no backup")]
    NoBackup(u32),
    /// Too soon: the switch must take effect at least three blocks after the block that
    /// schedules it (so it is decided at the end of a later block).
    #[error("a planned switch at height {at} is too soon (the earliest is {earliest})")]
    TooSoon {
        /// Requested.
        at: u64,
        /// The earliest possible.
        earliest: u64,
    },
}

/// Schedules a planned switch of `slot` taking effect at height `at`, asked by `sender` in
/// block `height`. Replaces an earlier plan of the slot.
pub fn schedule(slots: &mut [SlotRecord], slot: u32, sender: Address, at: u64, height: u64) -> Result<(), PlanError> {
    let record = slots.get_mut(usize::try_from(slot).unwrap_or(usize::MAX)).ok_or(PlanError::UnknownSlot(slot))?;
    if record.operator != sender {
        return Err(PlanError::NotOperator { slot, sender });
    }
    if !record.has_backup() {
        return Err(PlanError::NoBackup(slot));
    }
    let earliest = height.saturating_add(MIN_SWITCH_SPACING);
    if at < earliest {
        return Err(PlanError::TooSoon { at, earliest });
    }
    record.planned = at;
    Ok(())
}

#[cfg(test)]
mod tests;
