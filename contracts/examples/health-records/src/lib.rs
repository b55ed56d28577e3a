//! A personal health-record registry. Owners store records (a content hash, metadata
//! and optionally a small payload), grant and revoke read access to named accounts,
//! and only the owner may delete. Every access change is an event.
//!
//! Note for users: contract state is public chain data. "Read access" here is what
//! the contract enforces for `getRecord` callers (and what dapps honour); keep the
//! payload encrypted or off-chain (store only its hash) for real confidentiality.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use strata_sdk::{
    Address, B256, Bytes, U256, emit, entry, env, returns, revert_error, sol,
    storage::{IterableMap, StorageMap, StorageValue},
};

sol! {
    #![sol(alloy_sol_types = strata_sdk::alloy_sol_types)]
    /// The registry's interface.
    interface IHealthRecords {
        function storeRecord(bytes32 contentHash, string metadata, bytes payload) external returns (uint256 id);
        function getRecord(uint256 id) external view returns (address owner, bytes32 contentHash, string metadata, bytes payload);
        function grantAccess(uint256 id, address reader) external;
        function revokeAccess(uint256 id, address reader) external;
        function hasAccess(uint256 id, address reader) external view returns (bool);
        function deleteRecord(uint256 id) external;
        function recordCount() external view returns (uint256);
        function records(uint256 start, uint256 limit) external view returns (uint256[] ids);

        event RecordStored(uint256 indexed id, address indexed owner, bytes32 contentHash);
        event AccessGranted(uint256 indexed id, address indexed owner, address indexed reader);
        event AccessRevoked(uint256 indexed id, address indexed owner, address indexed reader);
        event RecordDeleted(uint256 indexed id, address indexed owner);

        error NoSuchRecord(uint256 id);
        error NotOwner(uint256 id, address caller);
        error NotAuthorized(uint256 id, address caller);
        error PayloadTooLarge(uint256 size, uint256 max);
    }
}

use IHealthRecords::{IHealthRecordsCalls as Call, *};

/// Largest payload stored on chain (bytes); larger data belongs off chain, by hash.
pub const MAX_PAYLOAD: usize = 4096;

static NEXT_ID: StorageValue<U256> = StorageValue::new(b"next");
/// id -> owner; the iterable index of live records.
static OWNERS: IterableMap<U256, Address> = IterableMap::new(b"o", b"op", b"ok", b"on");
static HASHES: StorageMap<U256, B256> = StorageMap::new(b"h");
static METADATA: StorageMap<U256, alloc::string::String> = StorageMap::new(b"m");
static PAYLOADS: StorageMap<U256, Vec<u8>> = StorageMap::new(b"p");
static READERS: StorageMap<(U256, Address), bool> = StorageMap::new(b"r");

fn owner_of(id: U256) -> Address {
    if !OWNERS.contains(&id) {
        revert_error(NoSuchRecord { id });
    }
    OWNERS.get(&id)
}

fn only_owner(id: U256) -> Address {
    let owner = owner_of(id);
    let caller = env::caller();
    if caller != owner {
        revert_error(NotOwner { id, caller });
    }
    owner
}

/// Every call.
#[unsafe(no_mangle)]
pub extern "C" fn call() {
    entry::<Call>(|call| -> Vec<u8> {
        match call {
            Call::storeRecord(c) => {
                if c.payload.len() > MAX_PAYLOAD {
                    revert_error(PayloadTooLarge { size: U256::from(c.payload.len()), max: U256::from(MAX_PAYLOAD) });
                }
                let id = NEXT_ID.get();
                NEXT_ID.set(&(id + U256::from(1u8)));
                let owner = env::caller();
                OWNERS.insert(&id, &owner);
                HASHES.set(&id, &c.contentHash);
                METADATA.set(&id, &c.metadata);
                PAYLOADS.set(&id, &c.payload.to_vec());
                emit(&RecordStored { id, owner, contentHash: c.contentHash });
                returns::<storeRecordCall>(&id)
            }
            Call::getRecord(c) => {
                let owner = owner_of(c.id);
                let caller = env::caller();
                if caller != owner && !READERS.get(&(c.id, caller)) {
                    revert_error(NotAuthorized { id: c.id, caller });
                }
                let ret = getRecordReturn {
                    owner,
                    contentHash: HASHES.get(&c.id),
                    metadata: METADATA.get(&c.id),
                    payload: Bytes::from(PAYLOADS.get(&c.id)),
                };
                returns::<getRecordCall>(&ret)
            }
            Call::grantAccess(c) => {
                let owner = only_owner(c.id);
                READERS.set(&(c.id, c.reader), &true);
                emit(&AccessGranted { id: c.id, owner, reader: c.reader });
                returns::<grantAccessCall>(&grantAccessReturn {})
            }
            Call::revokeAccess(c) => {
                let owner = only_owner(c.id);
                READERS.set(&(c.id, c.reader), &false);
                emit(&AccessRevoked { id: c.id, owner, reader: c.reader });
                returns::<revokeAccessCall>(&revokeAccessReturn {})
            }
            Call::hasAccess(c) => {
                let owner = owner_of(c.id);
                returns::<hasAccessCall>(&(c.reader == owner || READERS.get(&(c.id, c.reader))))
            }
            Call::deleteRecord(c) => {
                let owner = only_owner(c.id);
                OWNERS.remove(&c.id);
                HASHES.set(&c.id, &B256::ZERO);
                METADATA.set(&c.id, &alloc::string::String::new());
                PAYLOADS.set(&c.id, &Vec::new());
                emit(&RecordDeleted { id: c.id, owner });
                returns::<deleteRecordCall>(&deleteRecordReturn {})
            }
            Call::recordCount(_) => returns::<recordCountCall>(&U256::from(OWNERS.len())),
            Call::records(c) => {
                let start = u64::try_from(c.start).unwrap_or(u64::MAX);
                let limit = u64::try_from(c.limit).unwrap_or(u64::MAX).min(1000);
                let ids: Vec<U256> = OWNERS.page(start, limit).into_iter().map(|(id, _)| id).collect();
                returns::<recordsCall>(&ids)
            }
        }
    })
}
