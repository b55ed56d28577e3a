//! A personal health-record registry, written with `strata-sdk`'s `#[contract]`.
//! Owners store records (a content hash, metadata and optionally a small payload),
//! grant and revoke read access to named accounts, and only the owner may delete.
//! Every access change is an event; records can be listed page by page.
//!
//! Note for users: contract state is public chain data. "Read access" here is what
//! the contract enforces for `getRecord` callers (and what dapps honour); keep the
//! payload encrypted or off-chain (store only its hash) for real confidentiality.
#![no_std]

extern crate alloc;

use alloc::{string::String, vec::Vec};
use strata_sdk::{
    Address, B256, Bytes, ContractError, U256, contract, env, error, event,
    storage::{IterableMap, StorageMap, StorageValue},
};

/// Largest payload stored on chain (bytes); larger data belongs off chain, by hash.
pub const MAX_PAYLOAD: usize = 4096;

/// A record was stored.
#[event]
pub struct RecordStored {
    #[indexed]
    pub id: U256,
    #[indexed]
    pub owner: Address,
    pub content_hash: B256,
}

/// The owner let `reader` read a record.
#[event]
pub struct AccessGranted {
    #[indexed]
    pub id: U256,
    #[indexed]
    pub owner: Address,
    #[indexed]
    pub reader: Address,
}

/// The owner withdrew `reader`'s access.
#[event]
pub struct AccessRevoked {
    #[indexed]
    pub id: U256,
    #[indexed]
    pub owner: Address,
    #[indexed]
    pub reader: Address,
}

/// The owner deleted a record.
#[event]
pub struct RecordDeleted {
    #[indexed]
    pub id: U256,
    #[indexed]
    pub owner: Address,
}

/// No live record has this id.
#[error]
pub struct NoSuchRecord {
    pub id: U256,
}

/// Only the record's owner may do this.
#[error]
pub struct NotOwner {
    pub id: U256,
    pub caller: Address,
}

/// The caller has no read access.
#[error]
pub struct NotAuthorized {
    pub id: U256,
    pub caller: Address,
}

/// The payload exceeds [`MAX_PAYLOAD`].
#[error]
pub struct PayloadTooLarge {
    pub size: U256,
    pub max: U256,
}

/// Any registry failure.
pub enum RegistryError {
    /// See [`NoSuchRecord`].
    Missing(NoSuchRecord),
    /// See [`NotOwner`].
    Owner(NotOwner),
    /// See [`NotAuthorized`].
    Unauthorized(NotAuthorized),
    /// See [`PayloadTooLarge`].
    TooLarge(PayloadTooLarge),
}

impl ContractError for RegistryError {
    fn revert_data(&self) -> Vec<u8> {
        match self {
            RegistryError::Missing(e) => e.revert_data(),
            RegistryError::Owner(e) => e.revert_data(),
            RegistryError::Unauthorized(e) => e.revert_data(),
            RegistryError::TooLarge(e) => e.revert_data(),
        }
    }
}

static NEXT_ID: StorageValue<U256> = StorageValue::new(b"next");
/// id -> owner; the iterable index of live records.
static OWNERS: IterableMap<U256, Address> = IterableMap::new(b"o", b"op", b"ok", b"on");
static HASHES: StorageMap<U256, B256> = StorageMap::new(b"h");
static METADATA: StorageMap<U256, String> = StorageMap::new(b"m");
static PAYLOADS: StorageMap<U256, Vec<u8>> = StorageMap::new(b"p");
static READERS: StorageMap<(U256, Address), bool> = StorageMap::new(b"r");

fn owner_of(id: U256) -> Result<Address, RegistryError> {
    if !OWNERS.contains(&id) {
        return Err(RegistryError::Missing(NoSuchRecord { id }));
    }
    Ok(OWNERS.get(&id))
}

fn only_owner(id: U256) -> Result<Address, RegistryError> {
    let owner = owner_of(id)?;
    let caller = env::caller();
    if caller != owner {
        return Err(RegistryError::Owner(NotOwner { id, caller }));
    }
    Ok(owner)
}

/// The registry.
pub struct HealthRecords;

#[contract]
impl HealthRecords {
    /// Stores a record owned by the caller; returns its id.
    pub fn store_record(content_hash: B256, metadata: String, payload: Bytes) -> Result<U256, RegistryError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(RegistryError::TooLarge(PayloadTooLarge { size: U256::from(payload.len()), max: U256::from(MAX_PAYLOAD) }));
        }
        let id = NEXT_ID.get();
        NEXT_ID.set(&(id + U256::from(1u8)));
        let owner = env::caller();
        OWNERS.insert(&id, &owner);
        HASHES.set(&id, &content_hash);
        METADATA.set(&id, &metadata);
        PAYLOADS.set(&id, &payload.to_vec());
        RecordStored { id, owner, content_hash }.emit();
        Ok(id)
    }

    /// A record, for its owner and the readers it granted: (owner, content hash, metadata, payload).
    #[view]
    pub fn get_record(id: U256) -> Result<(Address, B256, String, Bytes), RegistryError> {
        let owner = owner_of(id)?;
        let caller = env::caller();
        if caller != owner && !READERS.get(&(id, caller)) {
            return Err(RegistryError::Unauthorized(NotAuthorized { id, caller }));
        }
        Ok((owner, HASHES.get(&id), METADATA.get(&id), Bytes::from(PAYLOADS.get(&id))))
    }

    /// Lets `reader` read record `id` (owner only).
    pub fn grant_access(id: U256, reader: Address) -> Result<(), RegistryError> {
        let owner = only_owner(id)?;
        READERS.set(&(id, reader), &true);
        AccessGranted { id, owner, reader }.emit();
        Ok(())
    }

    /// Withdraws `reader`'s access to record `id` (owner only).
    pub fn revoke_access(id: U256, reader: Address) -> Result<(), RegistryError> {
        let owner = only_owner(id)?;
        READERS.set(&(id, reader), &false);
        AccessRevoked { id, owner, reader }.emit();
        Ok(())
    }

    /// Whether `reader` may read record `id`.
    #[view]
    pub fn has_access(id: U256, reader: Address) -> Result<bool, RegistryError> {
        let owner = owner_of(id)?;
        Ok(reader == owner || READERS.get(&(id, reader)))
    }

    /// Deletes record `id` and frees its storage (owner only).
    pub fn delete_record(id: U256) -> Result<(), RegistryError> {
        let owner = only_owner(id)?;
        OWNERS.remove(&id);
        HASHES.set(&id, &B256::ZERO);
        METADATA.set(&id, &String::new());
        PAYLOADS.set(&id, &Vec::new());
        RecordDeleted { id, owner }.emit();
        Ok(())
    }

    /// Number of live records.
    #[view]
    pub fn record_count() -> U256 {
        U256::from(OWNERS.len())
    }

    /// Ids of live records, `limit` (at most 1000) from position `start`.
    #[view]
    pub fn records(start: U256, limit: U256) -> Vec<U256> {
        let start = u64::try_from(start).unwrap_or(u64::MAX);
        let limit = u64::try_from(limit).unwrap_or(u64::MAX).min(1000);
        OWNERS.page(start, limit).into_iter().map(|(id, _)| id).collect()
    }
}
