//! A key-value store that can archive its own entries, written with `strata-sdk`'s
//! `#[contract]`. Why it exists: it shows how a contract works with the archive system
//! contract (`strata_sdk::system`) — the owner lets an account archive the store's
//! data (`setArchiver` → `IArchive.authorise`), or archives entries itself
//! (`archiveOwn` → `IArchive.archive(self, raw keys, retention)`), naming entries by
//! their raw storage keys (`storageKey`, from `StorageMap::raw_key`).
//!
//! Anyone may `set` and `remove` entries; the deployer is the owner. Entry `key` lives
//! at the raw storage key `"v" ++ key`, so all entries share the prefix `"v"` and
//! `IArchive.archivePrefix(store, "v" ++ p, …)` archives the entries whose keys start
//! with `p`. An archived entry reads as empty until it is restored (anyone may call
//! `IArchive.restore`).
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use strata_sdk::{
    Address, Bytes, CallError, ContractError, contract, env, error, event,
    storage::{MapKey, StorageMap, StorageValue},
    system,
};

/// Largest storage key the host accepts (bytes).
pub const MAX_STORAGE_KEY: usize = 256;
/// Largest user key: the storage key minus the one-byte prefix.
pub const MAX_KEY: usize = MAX_STORAGE_KEY - 1;
/// Largest storage value the host accepts (bytes).
pub const MAX_VALUE: usize = 16 * 1024;

/// An entry was written (`size` 0: removed).
#[event]
pub struct Stored {
    pub key: Bytes,
    pub size: u64,
}

/// Only the owner may do this.
#[error]
pub struct NotOwner {
    pub caller: Address,
}

/// The key is longer than [`MAX_KEY`].
#[error]
pub struct KeyTooLong {
    pub length: u64,
    pub max: u64,
}

/// The value is larger than [`MAX_VALUE`].
#[error]
pub struct ValueTooLarge {
    pub length: u64,
    pub max: u64,
}

/// What a store function can fail with.
pub enum StoreError {
    /// See [`NotOwner`].
    NotOwner(NotOwner),
    /// See [`KeyTooLong`].
    KeyTooLong(KeyTooLong),
    /// See [`ValueTooLarge`].
    ValueTooLarge(ValueTooLarge),
    /// The archive contract's call failed; its revert data is passed on.
    Archive(CallError),
}

impl ContractError for StoreError {
    fn revert_data(&self) -> Vec<u8> {
        match self {
            StoreError::NotOwner(e) => e.revert_data(),
            StoreError::KeyTooLong(e) => e.revert_data(),
            StoreError::ValueTooLarge(e) => e.revert_data(),
            StoreError::Archive(e) => e.revert_data(),
        }
    }
}

/// A user key, stored as its raw bytes. Safe as a map key here only because it is the
/// whole key after the prefix, and no other map or value shares the prefix `"v"`.
struct Key(Bytes);

impl MapKey for Key {
    fn key_len(&self) -> usize {
        self.0.len()
    }
    fn write_key(&self, out: &mut [u8]) {
        out.copy_from_slice(&self.0)
    }
}

static OWNER: StorageValue<Address> = StorageValue::new(b"owner");
static ENTRIES: StorageMap<Key, Vec<u8>> = StorageMap::new(b"v");

fn len(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn check_key(key: &[u8]) -> Result<(), StoreError> {
    if key.len() > MAX_KEY {
        return Err(StoreError::KeyTooLong(KeyTooLong { length: len(key.len()), max: len(MAX_KEY) }));
    }
    Ok(())
}

fn only_owner() -> Result<(), StoreError> {
    let caller = env::caller();
    if caller != OWNER.get() {
        return Err(StoreError::NotOwner(NotOwner { caller }));
    }
    Ok(())
}

fn raw_key(key: &Bytes) -> Vec<u8> {
    ENTRIES.raw_key(&Key(key.clone()))
}

/// The store.
pub struct KvStore;

#[contract]
impl KvStore {
    /// The deployer becomes the owner.
    #[constructor]
    pub fn constructor() {
        OWNER.set(&env::caller());
    }

    /// Stores `value` under `key` (an empty value removes the entry). Anyone may.
    pub fn set(key: Bytes, value: Bytes) -> Result<(), StoreError> {
        check_key(&key)?;
        if value.len() > MAX_VALUE {
            return Err(StoreError::ValueTooLarge(ValueTooLarge { length: len(value.len()), max: len(MAX_VALUE) }));
        }
        ENTRIES.set(&Key(key.clone()), &value.to_vec());
        Stored { size: len(value.len()), key }.emit();
        Ok(())
    }

    /// The value under `key` (empty: none, or archived).
    #[view]
    pub fn get(key: Bytes) -> Result<Bytes, StoreError> {
        check_key(&key)?;
        Ok(Bytes::from(ENTRIES.get(&Key(key))))
    }

    /// Removes the entry under `key`. Anyone may.
    pub fn remove(key: Bytes) -> Result<(), StoreError> {
        check_key(&key)?;
        ENTRIES.remove(&Key(key.clone()));
        Stored { key, size: 0 }.emit();
        Ok(())
    }

    /// The raw storage key of the entry under `key` (what the archive contract takes).
    #[view]
    pub fn storage_key(key: Bytes) -> Result<Bytes, StoreError> {
        check_key(&key)?;
        Ok(Bytes::from(raw_key(&key)))
    }

    /// The deployer.
    #[view]
    pub fn owner() -> Address {
        OWNER.get()
    }

    /// Lets (`allowed`) or stops letting `account` archive this store's entries, through
    /// the archive contract. Owner only.
    pub fn set_archiver(account: Address, allowed: bool) -> Result<(), StoreError> {
        only_owner()?;
        system::archive_authorise(account, allowed).map_err(StoreError::Archive)
    }

    /// Archives the entries under `keys` (user keys) for `retention_seconds` (0: the fee
    /// contract's default); the transaction's sender pays. Owner only. Returns (entries, bytes).
    pub fn archive_own(keys: Vec<Bytes>, retention_seconds: u64) -> Result<(u64, u64), StoreError> {
        only_owner()?;
        let mut raw = Vec::with_capacity(keys.len());
        for key in &keys {
            check_key(key)?;
            raw.push(Bytes::from(raw_key(key)));
        }
        system::archive_own(raw, retention_seconds).map_err(StoreError::Archive)
    }
}
