//! Strata's archive system contract, installed at genesis at
//! `strata_sdk::system::ARCHIVE_CONTRACT` (`0x…1002`).
//!
//! Why: live contract state is paid for by every node forever; data nobody reads any
//! more should be able to leave it without being lost. Archiving replaces a storage
//! value by a tombstone (its hash and size) and moves the value to a cold store for a
//! paid retention period; restoring brings it back, from the cold store or from a copy
//! anyone supplies that matches the hash. The runtime moves the data (the privileged
//! `system` ops of `strata_sdk::system`); this contract is the **policy**: who may
//! archive whose data (the contract itself, or accounts it authorised), for how long
//! (`retentionSeconds`, 0 = the fee contract's default), who pays (the transaction's
//! origin), who may restore it (the contract, accounts it authorised, or its owner: a
//! restored value takes the contract's hot-storage quota and ends the retention it
//! paid for, so a stranger may do neither), who may change a storage quota (the
//! contract or its owner), and the events that make every change visible. A refusal of the runtime (status 1) is re-raised
//! with its revert data unchanged.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use strata_sdk::{
    Address, B256, Bytes, CallError, ContractError, contract, env, error, event,
    storage::StorageMap,
    system::{self, Refused},
};

/// An entry went to the cold store.
#[event]
pub struct Archived {
    #[indexed]
    pub target: Address,
    pub key: Bytes,
    pub value_hash: B256,
    pub size: u64,
    pub retention_end: u64,
    #[indexed]
    pub payer: Address,
}

/// An entry came back (`from_cold` false: from data the caller supplied).
#[event]
pub struct Restored {
    #[indexed]
    pub target: Address,
    pub key: Bytes,
    pub value_hash: B256,
    pub from_cold: bool,
}

/// `target` granted (or withdrew) `account`'s right to archive its data.
#[event]
pub struct Authorised {
    #[indexed]
    pub target: Address,
    #[indexed]
    pub account: Address,
    pub allowed: bool,
}

/// `target`'s storage quota changed.
#[event]
pub struct QuotaChanged {
    #[indexed]
    pub target: Address,
    pub previous: u64,
    pub quota: u64,
}

/// The caller may not archive (or restore) `target`'s data.
#[error]
pub struct NotAuthorised {
    pub target: Address,
    pub caller: Address,
}

/// `restoreWithData` got a different number of keys and values.
#[error]
pub struct LengthMismatch {
    pub keys: u64,
    pub values: u64,
}

/// Only `target` or its owner may do this.
#[error]
pub struct NotOwner {
    pub target: Address,
    pub caller: Address,
}

/// No keys given.
#[error]
pub struct EmptyKeys {}

/// What an archive function can fail with.
pub enum ArchiveError {
    /// See [`NotAuthorised`].
    NotAuthorised(NotAuthorised),
    /// See [`LengthMismatch`].
    LengthMismatch(LengthMismatch),
    /// See [`NotOwner`].
    NotOwner(NotOwner),
    /// See [`EmptyKeys`].
    EmptyKeys(EmptyKeys),
    /// The runtime refused a system op; its revert data is passed on unchanged.
    Refused(Refused),
    /// Reading the fee contract's schedule failed.
    Fee(CallError),
    /// `Error(string)` with this reason.
    Message(&'static str),
}

impl ContractError for ArchiveError {
    fn revert_data(&self) -> Vec<u8> {
        match self {
            ArchiveError::NotAuthorised(e) => e.revert_data(),
            ArchiveError::LengthMismatch(e) => e.revert_data(),
            ArchiveError::NotOwner(e) => e.revert_data(),
            ArchiveError::EmptyKeys(e) => e.revert_data(),
            ArchiveError::Refused(e) => e.revert_data(),
            ArchiveError::Fee(e) => e.revert_data(),
            ArchiveError::Message(m) => m.revert_data(),
        }
    }
}

impl From<Refused> for ArchiveError {
    fn from(e: Refused) -> Self {
        ArchiveError::Refused(e)
    }
}

/// (target, account) -> whether `account` may archive `target`'s data.
static AUTHORISED: StorageMap<(Address, Address), bool> = StorageMap::new(b"auth");

/// The caller may archive `target`'s data: it is `target`, or `target` authorised it.
fn check_archiver(target: Address) -> Result<(), ArchiveError> {
    let caller = env::caller();
    if caller != target && !AUTHORISED.get(&(target, caller)) {
        return Err(ArchiveError::NotAuthorised(NotAuthorised { target, caller }));
    }
    Ok(())
}

/// The caller may restore `target`'s data: it is `target`, an account `target`
/// authorised, or `target`'s owner (who buys its quota). A restore takes quota and ends
/// a paid retention, so nobody else may.
fn check_restorer(target: Address) -> Result<(), ArchiveError> {
    let caller = env::caller();
    if caller == target || AUTHORISED.get(&(target, caller)) {
        return Ok(());
    }
    let owner = system::quota(target)?.owner;
    if !owner.is_zero() && caller == owner {
        return Ok(());
    }
    Err(ArchiveError::NotAuthorised(NotAuthorised { target, caller }))
}

/// When a retention of `retention_seconds` (0: the fee contract's default) started now ends.
fn retention_end(retention_seconds: u64) -> Result<u64, ArchiveError> {
    let seconds = match retention_seconds {
        0 => system::fee_schedule().map_err(ArchiveError::Fee)?.defaultRetentionSeconds,
        s => s,
    };
    env::block_timestamp().checked_add(seconds).ok_or(ArchiveError::Message("retention end overflows"))
}

/// Archives one entry and announces it; returns its size.
fn archive_one(target: Address, key: Bytes, end: u64, payer: Address) -> Result<u64, ArchiveError> {
    let entry = system::archive(target, &key, end, payer)?;
    Archived { target, key, value_hash: entry.value_hash, size: entry.size, retention_end: end, payer }.emit();
    Ok(entry.size)
}

/// Restores one entry (from the cold store, or `value`) and announces it.
fn restore_one(target: Address, key: Bytes, value: Option<&[u8]>) -> Result<(), ArchiveError> {
    let entry = system::restore(target, &key, value)?;
    Restored { target, key, value_hash: entry.value_hash, from_cold: entry.from_cold }.emit();
    Ok(())
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The archive contract.
pub struct Archive;

#[contract]
impl Archive {
    /// Moves `target`'s entries at `keys` (raw storage keys) to the cold store for
    /// `retention_seconds` (0: the fee contract's default), paid by the transaction's
    /// origin. Caller: `target`, or an account it authorised. Returns (entries, bytes).
    pub fn archive(target: Address, keys: Vec<Bytes>, retention_seconds: u64) -> Result<(u64, u64), ArchiveError> {
        check_archiver(target)?;
        if keys.is_empty() {
            return Err(ArchiveError::EmptyKeys(EmptyKeys {}));
        }
        let (end, payer) = (retention_end(retention_seconds)?, env::origin());
        let archived = count(keys.len());
        let mut bytes = 0u64;
        for key in keys {
            bytes = bytes.saturating_add(archive_one(target, key, end, payer)?);
        }
        Ok((archived, bytes))
    }

    /// Archives up to `limit` live keys of `target` that start with `prefix`, in key
    /// order, strictly after `start_after` (empty: from the first). Returns how many and
    /// the last one archived (empty: none), where the next page starts.
    pub fn archive_prefix(
        target: Address,
        prefix: Bytes,
        start_after: Bytes,
        limit: u32,
        retention_seconds: u64,
    ) -> Result<(u64, Bytes), ArchiveError> {
        check_archiver(target)?;
        let keys = system::keys(target, &prefix, &start_after, limit)?;
        let Some(last) = keys.last().cloned() else { return Ok((0, Bytes::new())) };
        let (end, payer) = (retention_end(retention_seconds)?, env::origin());
        let archived = count(keys.len());
        for key in keys {
            archive_one(target, key, end, payer)?;
        }
        Ok((archived, last))
    }

    /// Restores `target`'s entries at `keys` from the cold store. Caller: `target`, an
    /// account it authorised, or its owner.
    pub fn restore(target: Address, keys: Vec<Bytes>) -> Result<u64, ArchiveError> {
        if keys.is_empty() {
            return Err(ArchiveError::EmptyKeys(EmptyKeys {}));
        }
        check_restorer(target)?;
        let restored = count(keys.len());
        for key in keys {
            restore_one(target, key, None)?;
        }
        Ok(restored)
    }

    /// Restores `target`'s entries at `keys` from `values` (each must hash to its
    /// tombstone's hash), e.g. after the cold copy was purged. Caller: as for `restore`.
    pub fn restore_with_data(target: Address, keys: Vec<Bytes>, values: Vec<Bytes>) -> Result<u64, ArchiveError> {
        if keys.len() != values.len() {
            return Err(ArchiveError::LengthMismatch(LengthMismatch { keys: count(keys.len()), values: count(values.len()) }));
        }
        if keys.is_empty() {
            return Err(ArchiveError::EmptyKeys(EmptyKeys {}));
        }
        check_restorer(target)?;
        let restored = count(keys.len());
        for (key, value) in keys.into_iter().zip(values) {
            restore_one(target, key, Some(&value))?;
        }
        Ok(restored)
    }

    /// The calling contract lets (`allowed`) or stops letting `account` archive its data.
    pub fn authorise(account: Address, allowed: bool) {
        let target = env::caller();
        AUTHORISED.set(&(target, account), &allowed);
        Authorised { target, account, allowed }.emit();
    }

    /// Whether `account` may archive `target`'s data on its behalf.
    #[view]
    pub fn is_authorised(target: Address, account: Address) -> bool {
        AUTHORISED.get(&(target, account))
    }

    /// Sets `target`'s storage quota (bytes). Caller: `target` or its owner.
    pub fn set_quota(target: Address, quota_bytes: u64) -> Result<(), ArchiveError> {
        let caller = env::caller();
        let owner = system::quota(target)?.owner;
        if caller != target && (owner.is_zero() || caller != owner) {
            return Err(ArchiveError::NotOwner(NotOwner { target, caller }));
        }
        let previous = system::set_quota(target, quota_bytes)?;
        QuotaChanged { target, previous, quota: quota_bytes }.emit();
        Ok(())
    }

    /// `target`'s owner, storage quota and bytes used.
    #[view]
    pub fn quota(target: Address) -> Result<(Address, u64, u64), ArchiveError> {
        let q = system::quota(target)?;
        Ok((q.owner, q.quota, q.used))
    }

    /// The tombstone at `target`'s `key`: (archived, value hash, size, retention end,
    /// payer, purged); `archived` false when there is none.
    #[view]
    pub fn tombstone(target: Address, key: Bytes) -> Result<(bool, B256, u64, u64, Address, bool), ArchiveError> {
        let t = system::tombstone(target, &key)?;
        Ok((t.archived, t.value_hash, t.size, t.retention_end, t.payer, t.purged))
    }
}
