//! The privileged system ops behind the archive contract, and the storage registry's
//! quota records they (and quota accounting) read and write.
//!
//! The archive contract (Wasm, `contracts/system/archive`) decides *who* may do
//! what; the ops here do the data movement the contract cannot do itself: replace
//! a value in another contract's storage by a tombstone, read the cold store, keep
//! the quota records. Only the contract at [`ARCHIVE_CONTRACT`] may call them.

use alloy_sol_types::{SolError, SolValue};
use strata_primitives::{
    Address, B256, Bytes, MAX_STORAGE_KEY_LEN, MAX_STORAGE_VALUE_LEN, Slot, Tombstone, hex,
    interfaces::ISystemOps::{AlreadyArchived, BadSystemInput, ColdCopyPurged, HashMismatch, NotArchived, NotStored, QuotaBelowUsage},
    keccak256,
    system::{ARCHIVE_CONTRACT, QuotaRecord, STORAGE_REGISTRY, cold_key, is_system, purge_key, quota_key},
};
use strata_vm::{CallContext, HostError, MAX_SYSTEM_SCAN, SystemOp, SystemReply};

use crate::session::{Session, node};

fn ok(output: Vec<u8>) -> Result<SystemReply, HostError> {
    Ok(SystemReply { ok: true, output })
}

fn refuse(error: impl SolError) -> Result<SystemReply, HostError> {
    Ok(SystemReply { ok: false, output: error.abi_encode() })
}

fn bad(op: u32, reason: impl Into<String>) -> Result<SystemReply, HostError> {
    refuse(BadSystemInput { op, reason: reason.into() })
}

/// The quota record of `contract` as the session sees it (zero if none).
pub(crate) fn quota_record(s: &Session, contract: &Address) -> Result<QuotaRecord, HostError> {
    match s.slot(&STORAGE_REGISTRY, &quota_key(contract))? {
        Some(Slot::Value(v)) => QuotaRecord::decode(&v).ok_or_else(|| node(format!("corrupt quota record of {contract}"))),
        _ => Ok(QuotaRecord::default()),
    }
}

pub(crate) fn set_quota_record(s: &mut Session, contract: &Address, record: &QuotaRecord) {
    s.set_slot(STORAGE_REGISTRY, &quota_key(contract), Some(Slot::Value(record.encode().into())));
}

/// Runs system op `op` for the frame `ctx`.
pub(crate) fn op(s: &mut Session, ctx: &CallContext, op: SystemOp, input: &[u8]) -> Result<SystemReply, HostError> {
    let code = op.code();
    if ctx.address != ARCHIVE_CONTRACT {
        return Err(HostError::Refused(format!("system op {code} is reserved for the archive contract {ARCHIVE_CONTRACT}")));
    }
    let mutates = matches!(op, SystemOp::Archive | SystemOp::Restore | SystemOp::SetQuota);
    if mutates && ctx.is_static {
        return Err(HostError::Refused(format!("system op {code} changes state: not allowed in a static call")));
    }
    match op {
        SystemOp::Archive => {
            let Ok((target, key, end, payer)) = <(Address, Bytes, u64, Address)>::abi_decode_params(input) else {
                return bad(code, "expected (address, bytes, uint64, address)");
            };
            if key.len() > MAX_STORAGE_KEY_LEN {
                return bad(code, "key too long");
            }
            if end <= ctx.timestamp {
                return bad(code, format!("retention must end after the current block time {}", ctx.timestamp));
            }
            if is_system(&target) {
                return bad(code, "system contract data cannot be archived");
            }
            let value = match s.slot(&target, &key)? {
                None => return refuse(NotStored { target, key }),
                Some(Slot::Tombstone(_)) => return refuse(AlreadyArchived { target, key }),
                Some(Slot::Value(v)) => v,
            };
            let value_hash = keccak256(&value);
            let size = value.len() as u64;
            let t = Tombstone { value_hash, size, retention_end: end, payer, purged: false };
            s.set_slot(target, &key, Some(Slot::Tombstone(t)));
            s.set_slot(STORAGE_REGISTRY, &purge_key(end, &target, &key), Some(Slot::Value(Bytes::copy_from_slice(value_hash.as_slice()))));
            let seconds = end.saturating_sub(ctx.timestamp);
            let top = s.top();
            top.cold.insert(cold_key(&target, &key, &value_hash, end), Some(value));
            top.cold_byte_seconds = top.cold_byte_seconds.saturating_add(size.saturating_mul(seconds));
            ok((value_hash, size).abi_encode_params())
        }
        SystemOp::Restore => {
            let Ok((target, key, supplied, bytes)) = <(Address, Bytes, bool, Bytes)>::abi_decode_params(input) else {
                return bad(code, "expected (address, bytes, bool, bytes)");
            };
            let t = match s.slot(&target, &key)? {
                Some(Slot::Tombstone(t)) => t,
                _ => return refuse(NotArchived { target, key }),
            };
            let ck = cold_key(&target, &key, &t.value_hash, t.retention_end);
            let value = if supplied {
                let actual = keccak256(&bytes);
                if actual != t.value_hash || bytes.len() > MAX_STORAGE_VALUE_LEN {
                    return refuse(HashMismatch { target, key, expected: t.value_hash, actual });
                }
                bytes
            } else {
                if t.purged {
                    return refuse(ColdCopyPurged { target, key, retentionEnd: t.retention_end });
                }
                match s.cold_value(&ck)? {
                    Some(v) if keccak256(&v) == t.value_hash => v,
                    Some(_) => return Err(node(format!("cold copy of {target} key 0x{} is corrupt", hex::encode(&key)))),
                    None => {
                        return Err(node(format!(
                            "cold store lacks the copy of {target} key 0x{} that the state says it keeps",
                            hex::encode(&key)
                        )));
                    }
                }
            };
            s.set_slot(target, &key, Some(Slot::Value(value)));
            if !t.purged {
                // The entry is hot again: its cold copy is no longer needed.
                s.top().cold.insert(ck, None);
            }
            ok((t.value_hash, t.size, !supplied).abi_encode_params())
        }
        SystemOp::Keys => {
            let Ok((target, prefix, start_after, limit)) = <(Address, Bytes, Bytes, u32)>::abi_decode_params(input) else {
                return bad(code, "expected (address, bytes, bytes, uint32)");
            };
            let limit = limit.min(MAX_SYSTEM_SCAN) as usize;
            let mut keys: Vec<Bytes> = Vec::new();
            let mut cursor = (!start_after.is_empty()).then(|| start_after.clone());
            // Tombstones are skipped; a bounded number of pages keeps the op's work bounded.
            for _ in 0..10 {
                if keys.len() >= limit {
                    break;
                }
                let page = s.storage_scan(&target, &prefix, cursor.as_ref().map(|c| &c[..]), limit)?;
                let full = page.len() == limit;
                for (k, slot) in page {
                    cursor = Some(k.clone());
                    if matches!(slot, Slot::Value(_)) && keys.len() < limit {
                        keys.push(k);
                    }
                }
                if !full {
                    break;
                }
            }
            ok((keys,).abi_encode_params())
        }
        SystemOp::Tombstone => {
            let Ok((target, key)) = <(Address, Bytes)>::abi_decode_params(input) else {
                return bad(code, "expected (address, bytes)");
            };
            let out = match s.slot(&target, &key)? {
                Some(Slot::Tombstone(t)) => (true, t.value_hash, t.size, t.retention_end, t.payer, t.purged),
                _ => (false, B256::ZERO, 0u64, 0u64, Address::ZERO, false),
            };
            ok(out.abi_encode_params())
        }
        SystemOp::Quota => {
            let Ok((target,)) = <(Address,)>::abi_decode_params(input) else {
                return bad(code, "expected (address)");
            };
            let r = quota_record(s, &target)?;
            ok((r.owner, r.quota, r.used).abi_encode_params())
        }
        SystemOp::SetQuota => {
            let Ok((target, quota)) = <(Address, u64)>::abi_decode_params(input) else {
                return bad(code, "expected (address, uint64)");
            };
            if is_system(&target) || s.contract_at(&target)?.is_none() {
                return bad(code, format!("{target} is not a user contract"));
            }
            let mut r = quota_record(s, &target)?;
            if quota < r.used {
                return refuse(QuotaBelowUsage { target, quota, used: r.used });
            }
            let previous = r.quota;
            let bought = quota.saturating_sub(previous);
            r.quota = quota;
            set_quota_record(s, &target, &r);
            let top = s.top();
            top.storage_paid = top.storage_paid.saturating_add(bought);
            ok((previous,).abi_encode_params())
        }
    }
}
