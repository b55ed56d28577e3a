//! System contracts: their fixed addresses, their public ABIs, and the privileged
//! `system` host import they are built on.
//!
//! Why: some policy is chain-wide — what each resource costs, when contract data may
//! leave live state for a cold backup — and it lives in contracts at fixed addresses
//! installed at genesis (`contracts/system`), so changing it is a transaction with an
//! event rather than a node release. Ordinary contracts talk to them with typed calls:
//! [`IFee`] and [`IArchive`] (or the helpers [`fee_schedule`], [`archive_authorise`],
//! [`archive_own`]).
//!
//! Moving data between live state and the cold store is done by the runtime through
//! [`system_op`]. **Only the runtime's own system contracts may use it**: the runtime
//! refuses a user deploy whose module imports `env::system`. The import is linked only
//! into modules that call it, so using the rest of this module (or the SDK) adds
//! nothing privileged to a contract.
//!
//! The op protocol: `system(op, input_p, input_n) -> status`. The input is the ABI
//! encoding of the op's argument tuple as function parameters
//! ([`SolValue::abi_encode_params`]); on status 0 the return-data buffer (read like a
//! nested call's, `return_data_size`/`return_data_copy`) holds the output tuple, encoded
//! the same way; on status 1 the runtime refused by rule and the buffer holds revert
//! data (a Solidity custom error) that the contract should revert with unchanged.

use alloc::vec::Vec;

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::{SolType, SolValue, abi::TokenSeq};

use crate::{CallError, ContractError, call_contract, host, view_contract};

/// The system contracts' addresses (`contracts/system/fee`, `contracts/system/archive`,
/// and the runtime's own registry account), as `strata_protocol` defines them.
pub use strata_protocol::system::{ARCHIVE_CONTRACT, BLOCK_HASHES, CHAIN_REGISTRY, FEE_CONTRACT, STORAGE_REGISTRY};

/// The fee and archive contracts' public ABIs, as `strata_protocol` defines them.
pub use strata_protocol::interfaces::{IArchive, IChainRegistry, IFee};

/// Reads the fee contract's schedule (gas price, default quota, default retention).
pub fn fee_schedule() -> Result<IFee::scheduleReturn, CallError> {
    view_contract(FEE_CONTRACT, &IFee::scheduleCall {})
}

/// Lets (`allowed`) or stops letting `account` archive this contract's data.
pub fn archive_authorise(account: Address, allowed: bool) -> Result<(), CallError> {
    call_contract(ARCHIVE_CONTRACT, &IArchive::authoriseCall { account, allowed }, U256::ZERO).map(|_| ())
}

/// Archives this contract's own entries at `keys` (raw storage keys, e.g. from
/// [`StorageMap::raw_key`](crate::storage::StorageMap::raw_key)) for
/// `retention_seconds` (0: the fee contract's default). Returns (entries, bytes) archived.
pub fn archive_own(keys: Vec<Bytes>, retention_seconds: u64) -> Result<(u64, u64), CallError> {
    let call = IArchive::archiveCall { target: crate::env::self_address(), keys, retentionSeconds: retention_seconds };
    let r = call_contract(ARCHIVE_CONTRACT, &call, U256::ZERO)?;
    Ok((r.archived, r.bytes))
}

/// The privileged operations (the value is the `op` argument of the import), as
/// `strata_protocol::abi::SystemOp` defines them. Their argument and result tuples:
/// - `Archive`: (address target, bytes key, uint64 retentionEnd, address payer) →
///   (bytes32 valueHash, uint64 size): replaces the value by a tombstone and moves it
///   to the cold store;
/// - `Restore`: (address target, bytes key, bool supplied, bytes value) → (bytes32
///   valueHash, uint64 size, bool fromCold): from the cold store, or `value` if it hashes
///   to the tombstone's hash;
/// - `Keys`: (address target, bytes prefix, bytes startAfter, uint32 limit) → (bytes[]
///   keys): live keys with `prefix`, strictly after `startAfter`, sorted, at most `limit`;
/// - `Tombstone`: (address target, bytes key) → (bool archived, bytes32 valueHash,
///   uint64 size, uint64 retentionEnd, address payer, bool purged);
/// - `Quota`: (address target) → (address owner, uint64 quota, uint64 used);
/// - `SetQuota`: (address target, uint64 quota) → (uint64 previous).
pub use strata_protocol::abi::SystemOp as Op;

/// Revert data of a system op: propagate it unchanged (`host::revert`, or return it as
/// the error of a `#[contract]` function).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub Vec<u8>);

impl ContractError for Refused {
    fn revert_data(&self) -> Vec<u8> {
        self.0.clone()
    }
}

/// Runs `op` with its ABI-encoded argument tuple: `Ok(output)` (the encoded result
/// tuple), or `Err(revert data)` to propagate unchanged. Privileged: see the module docs.
pub fn system_op(op: Op, input: &[u8]) -> Result<Vec<u8>, Vec<u8>> {
    match host::system(op.code() as i32, input) {
        (0, out) => Ok(out),
        (1, revert) => Err(revert),
        _ => Err("system op: unknown status".revert_data()),
    }
}

/// Runs `op` and decodes its output tuple.
fn run<T>(op: Op, input: &[u8]) -> Result<T, Refused>
where
    T: SolValue + From<<T::SolType as SolType>::RustType>,
    for<'de> <T::SolType as SolType>::Token<'de>: TokenSeq<'de>,
{
    let out = system_op(op, input).map_err(Refused)?;
    T::abi_decode_params(&out).map_err(|_| Refused("system op: undecodable output".revert_data()))
}

/// What [`archive`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedEntry {
    /// keccak256 of the archived value.
    pub value_hash: B256,
    /// Its length in bytes.
    pub size: u64,
}

/// What [`restore`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredEntry {
    /// keccak256 of the restored value.
    pub value_hash: B256,
    /// Its length in bytes.
    pub size: u64,
    /// Whether it came from the cold store (false: from supplied data).
    pub from_cold: bool,
}

/// A storage entry's tombstone, as [`tombstone`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    /// Whether the entry is archived (false: the other fields are zero).
    pub archived: bool,
    /// keccak256 of the archived value.
    pub value_hash: B256,
    /// Its length in bytes.
    pub size: u64,
    /// Until when (Unix seconds) the cold store keeps it.
    pub retention_end: u64,
    /// Who paid for the retention.
    pub payer: Address,
    /// Whether the cold copy is gone (restoring then needs the value supplied).
    pub purged: bool,
}

/// A contract's storage quota, as [`quota`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// Who may change it besides the contract itself (its deployer).
    pub owner: Address,
    /// The quota in bytes.
    pub quota: u64,
    /// Bytes used.
    pub used: u64,
}

/// [`Op::Archive`]: moves `target`'s value at `key` to the cold store until `retention_end`, paid by `payer`.
pub fn archive(target: Address, key: &[u8], retention_end: u64, payer: Address) -> Result<ArchivedEntry, Refused> {
    let input = (target, Bytes::copy_from_slice(key), retention_end, payer).abi_encode_params();
    let (value_hash, size) = run::<(B256, u64)>(Op::Archive, &input)?;
    Ok(ArchivedEntry { value_hash, size })
}

/// [`Op::Restore`]: restores `target`'s entry at `key` from the cold store (`supplied` None)
/// or from the supplied value.
pub fn restore(target: Address, key: &[u8], supplied: Option<&[u8]>) -> Result<RestoredEntry, Refused> {
    let value = Bytes::copy_from_slice(supplied.unwrap_or_default());
    let input = (target, Bytes::copy_from_slice(key), supplied.is_some(), value).abi_encode_params();
    let (value_hash, size, from_cold) = run::<(B256, u64, bool)>(Op::Restore, &input)?;
    Ok(RestoredEntry { value_hash, size, from_cold })
}

/// [`Op::Keys`]: up to `limit` live keys of `target` with `prefix`, sorted, strictly after `start_after`.
pub fn keys(target: Address, prefix: &[u8], start_after: &[u8], limit: u32) -> Result<Vec<Bytes>, Refused> {
    let input = (target, Bytes::copy_from_slice(prefix), Bytes::copy_from_slice(start_after), limit).abi_encode_params();
    let (keys,) = run::<(Vec<Bytes>,)>(Op::Keys, &input)?;
    Ok(keys)
}

/// [`Op::Tombstone`]: the tombstone at `target`'s `key`.
pub fn tombstone(target: Address, key: &[u8]) -> Result<Tombstone, Refused> {
    let input = (target, Bytes::copy_from_slice(key)).abi_encode_params();
    let (archived, value_hash, size, retention_end, payer, purged) = run::<(bool, B256, u64, u64, Address, bool)>(Op::Tombstone, &input)?;
    Ok(Tombstone { archived, value_hash, size, retention_end, payer, purged })
}

/// [`Op::Quota`]: `target`'s owner, quota and usage.
pub fn quota(target: Address) -> Result<Quota, Refused> {
    let (owner, quota, used) = run::<(Address, u64, u64)>(Op::Quota, &(target,).abi_encode_params())?;
    Ok(Quota { owner, quota, used })
}

/// [`Op::SetQuota`]: sets `target`'s quota; returns the previous one.
pub fn set_quota(target: Address, quota: u64) -> Result<u64, Refused> {
    let (previous,) = run::<(u64,)>(Op::SetQuota, &(target, quota).abi_encode_params())?;
    Ok(previous)
}
