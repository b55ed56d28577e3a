//! State at a certified block: an account and any of its storage entries — live values
//! and archived entries' tombstones alike — from a `strata_getProof` answer, proven
//! against the state root of a header the block's commit certificate finalizes.

use alloy_primitives::{B256, U256, keccak256};
use serde_json::{Value, json};
use strata_protocol::{CommitCertificate, EMPTY_ROOT_HASH, Header, KECCAK_EMPTY, Slot, consensus::K256, proof, rlp_item::decode_exact};

use crate::{Error, Result, TrustRoot, json as j};

/// A block header proven final: its RLP hashes to the block hash `certificate` commits,
/// and the certificate is a quorum of the set of its height (from the pinned genesis
/// across `set_proof`).
pub fn certified_header(header_rlp: &[u8], certificate: &[u8], set_proof: &[u8], trust: &TrustRoot) -> Result<(Header, Vec<u32>)> {
    let header = decode_exact::<Header>(header_rlp).map_err(|e| Error::Malformed(format!("header: {e}")))?;
    let cert = decode_exact::<CommitCertificate>(certificate).map_err(|e| Error::Malformed(format!("commit certificate: {e}")))?;
    let hash = header.hash_slow();
    if cert.block_hash != hash || cert.height != header.number {
        return Err(Error::NotProven(format!(
            "the certificate finalizes block {} {}, the header is block {} {hash}",
            cert.height, cert.block_hash, header.number
        )));
    }
    if header.chain_id != trust.chain_id {
        return Err(Error::NotProven(format!(
            "the header is of chain {}, the pinned genesis of chain {}",
            header.chain_id, trust.chain_id
        )));
    }
    let set = trust.set_at(header.number, set_proof)?;
    cert.verify_with(&set, trust.chain_id, &K256)
        .map_err(|e| Error::NotProven(format!("block {} is not finalized: {e}", header.number)))?;
    Ok((header, cert.signatures.iter().map(|s| s.validator).collect()))
}

/// Verifies a `strata_getProof` answer at a block against that block's header, commit
/// certificate and validator-set proof (`debug_getRawHeader`, `strata_getCommitCertificate`,
/// `strata_getValidatorSetProof`). What the answer claims (balance, nonce, code hash,
/// storage root, each entry's value or tombstone) must be what the proofs show; the
/// verdict reports the proven values.
pub fn verify_state(answer: &Value, header_rlp: &[u8], certificate: &[u8], set_proof: &[u8], trust: &TrustRoot) -> Result<Value> {
    let (header, signers) = certified_header(header_rlp, certificate, set_proof, trust)?;
    let address = j::address(j::str_field(answer, "address")?)?;
    let account_proof = j::bytes_list(answer, "accountProof")?;
    let account = proof::verify_account(header.state_root, &address, &account_proof)
        .map_err(|e| Error::NotProven(format!("the account is not proven against stateRoot {}: {e}", header.state_root)))?;
    let a = account.unwrap_or_default();
    let (code_hash, storage_root) = match account {
        Some(a) => (a.code_hash, a.storage_root),
        None => (KECCAK_EMPTY, EMPTY_ROOT_HASH),
    };
    let claimed = |name: &str| answer.get(name).filter(|v| !v.is_null());
    let mismatch =
        |what: &str, claimed: &Value, proven: String| Error::NotProven(format!("the node says {what} {claimed}, the proof shows {proven}"));
    if let Some(c) = claimed("balance")
        && j::u256(c)? != a.balance
    {
        return Err(mismatch("balance", c, a.balance.to_string()));
    }
    if let Some(c) = claimed("nonce")
        && j::u256(c)? != U256::from(a.nonce)
    {
        return Err(mismatch("nonce", c, a.nonce.to_string()));
    }
    if let Some(c) = claimed("codeHash")
        && account.is_some()
        && j::b256(c.as_str().unwrap_or_default())? != code_hash
    {
        return Err(mismatch("code hash", c, code_hash.to_string()));
    }
    if let Some(c) = claimed("storageHash")
        && account.is_some()
        && j::b256(c.as_str().unwrap_or_default())? != storage_root
    {
        return Err(mismatch("storage root", c, storage_root.to_string()));
    }
    let mut entries = Vec::new();
    if let Some(list) = answer.get("storageProof").and_then(Value::as_array) {
        for entry in list {
            entries.push(storage_entry(entry, storage_root)?);
        }
    }
    Ok(json!({
        "kind": "state",
        "chainId": trust.chain_id,
        "blockNumber": header.number,
        "blockHash": header.hash_slow(),
        "stateRoot": header.state_root,
        "signers": signers,
        "address": address,
        "exists": account.is_some(),
        "balance": a.balance.to_string(),
        "nonce": a.nonce,
        "codeHash": code_hash,
        "storageHash": storage_root,
        "storage": entries,
    }))
}

/// One storage entry: its proof against `storage_root`, and what the node said of it.
fn storage_entry(entry: &Value, storage_root: B256) -> Result<Value> {
    let key = j::bytes_field(entry, "key")?;
    let nodes = j::bytes_list(entry, "proof")?;
    let leaf = proof::verify(storage_root, keccak256(&key).as_slice(), &nodes)
        .map_err(|e| Error::NotProven(format!("storage key {} is not proven: {e}", j::hex(&key))))?;
    let slot = leaf
        .map(|bytes| {
            Slot::decode(&bytes).map_err(|e| Error::NotProven(format!("storage key {}: the proven leaf is not a slot: {e}", j::hex(&key))))
        })
        .transpose()?;
    let said_value = entry.get("value").and_then(Value::as_str).map(j::hex_bytes).transpose()?;
    let said_tombstone = entry.get("tombstone").is_some_and(|t| !t.is_null());
    let proven_value = slot.as_ref().and_then(|s| s.value()).map(|v| v.to_vec());
    let proven_tombstone = matches!(slot, Some(Slot::Tombstone(_)));
    // An absent value may be shown as null or as empty bytes.
    let same_value = said_value.as_deref().filter(|v| !v.is_empty()) == proven_value.as_deref();
    if !same_value || said_tombstone != proven_tombstone {
        return Err(Error::NotProven(format!("storage key {}: the node's answer is not what the proof shows", j::hex(&key))));
    }
    Ok(match slot {
        None => json!({"key": j::hex(&key), "absent": true}),
        Some(Slot::Value(v)) => json!({"key": j::hex(&key), "value": j::hex(&v)}),
        Some(Slot::Tombstone(t)) => json!({
            "key": j::hex(&key),
            "tombstone": {
                "valueHash": t.value_hash,
                "size": t.size,
                "retentionEnd": t.retention_end,
                "payer": t.payer,
                "purged": t.purged,
            }
        }),
    })
}
