//! State at a certified block: an account and any of its storage entries — live values
//! and archived entries' tombstones alike — from a `strata_getProof` answer, proven
//! against the state root of a header the block's commit certificate finalizes.
//!
//! What was *asked* (the address, the keys, the block, the code shown) is the caller's
//! [`StateQuery`], never read from the answer: a node that answers for another account,
//! other keys or another block is caught, not believed.

use alloy_primitives::{Address, B256, Bytes, keccak256};
use serde_json::{Value, json};
use strata_protocol::{
    Account, CommitCertificate, EMPTY_ROOT_HASH, Header, KECCAK_EMPTY, Slot, Tombstone, consensus::K256, proof,
    relay::verify_checkpoint_with, rlp_item::decode_exact,
};

use crate::{Error, Result, TrustRoot, json as j};

/// What the reader asked the node for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateQuery {
    /// The account.
    pub address: Address,
    /// Its storage keys, in the order asked.
    pub keys: Vec<Bytes>,
    /// The block asked about (`None`: whichever block the header is; its number and time
    /// are in the verdict).
    pub block: Option<u64>,
    /// Code the reader was shown for the account (`eth_getCode` at that block): it must
    /// hash to the proven code hash, so what it carries (its ABI) is the account's.
    pub code: Option<Bytes>,
}

impl StateQuery {
    /// Reads `{"address", "keys"?: [hex], "block"?: number, "code"?: hex}`.
    pub fn from_json(v: &Value) -> Result<Self> {
        let keys = match v.get("keys") {
            None | Some(Value::Null) => Vec::new(),
            Some(_) => j::bytes_list(v, "keys")?,
        };
        let block = match v.get("block") {
            None | Some(Value::Null) => None,
            Some(b) => Some(j::u64_of(b)?),
        };
        let code = v.get("code").and_then(Value::as_str).map(j::hex_bytes).transpose()?.map(Bytes::from);
        Ok(Self { address: j::address(j::str_field(v, "address")?)?, keys, block, code })
    }
}

/// A block proven final: its header, hash and the signers of its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedHeader {
    /// The header.
    pub header: Header,
    /// Its hash (the block hash the certificate commits).
    pub hash: B256,
    /// The validators whose signatures finalized it.
    pub signers: Vec<u32>,
}

/// A header proven final: its RLP hashes to the block hash `certificate` commits, and the
/// certificate is a quorum of the set of its height (from the pinned genesis across
/// `set_proof`).
pub fn certified_header(header_rlp: &[u8], certificate: &[u8], set_proof: &[u8], trust: &TrustRoot) -> Result<CertifiedHeader> {
    let header = decode_exact::<Header>(header_rlp).map_err(|e| Error::Malformed(format!("header: {e}")))?;
    let set = trust.set_at(header.number, set_proof)?;
    let checkpoint = verify_checkpoint_with(&header, certificate, &set, trust.chain_id, &K256)
        .map_err(|e| Error::NotProven(format!("block {} is not finalized by the pinned genesis' validators: {e}", header.number)))?;
    // Verified above: only its signers are read from it now.
    let cert = decode_exact::<CommitCertificate>(certificate).map_err(|e| Error::Malformed(format!("commit certificate: {e}")))?;
    Ok(CertifiedHeader { header, hash: checkpoint.block_hash, signers: cert.signatures.iter().map(|s| s.validator).collect() })
}

/// One proven storage entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenEntry {
    /// The key asked for.
    pub key: Bytes,
    /// What the trie holds there: nothing, a live value or an archived entry's tombstone.
    pub slot: Option<Slot>,
}

/// What a verified state answer establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenState {
    /// The chain.
    pub chain_id: u64,
    /// The certified block.
    pub block: CertifiedHeader,
    /// The account asked about.
    pub address: Address,
    /// Its record (`None`: it does not exist at that block).
    pub account: Option<Account>,
    /// Whether the code shown (if any) is the account's.
    pub code_checked: bool,
    /// The keys asked about, in order.
    pub storage: Vec<ProvenEntry>,
}

impl ProvenState {
    /// The account's code hash (the empty code's for an absent account).
    pub fn code_hash(&self) -> B256 {
        self.account.map_or(KECCAK_EMPTY, |a| a.code_hash)
    }

    /// The verdict's JSON (numbers that may pass 2^53 as decimal strings).
    pub fn to_json(&self) -> Value {
        let a = self.account.unwrap_or_default();
        let storage: Vec<Value> = self
            .storage
            .iter()
            .map(|e| match &e.slot {
                None => json!({"key": j::hex(&e.key), "absent": true}),
                Some(Slot::Value(v)) => json!({"key": j::hex(&e.key), "value": j::hex(v)}),
                Some(Slot::Tombstone(t)) => json!({"key": j::hex(&e.key), "tombstone": tombstone_json(t)}),
            })
            .collect();
        json!({
            "kind": "state",
            "chainId": self.chain_id,
            "blockNumber": self.block.header.number,
            "blockHash": self.block.hash,
            "timestamp": self.block.header.timestamp,
            "stateRoot": self.block.header.state_root,
            "signers": self.block.signers,
            "address": self.address,
            "exists": self.account.is_some(),
            "balance": a.balance.to_string(),
            "nonce": a.nonce,
            "codeHash": self.code_hash(),
            "codeChecked": self.code_checked,
            "storageHash": self.account.map_or(EMPTY_ROOT_HASH, |a| a.storage_root),
            "storage": storage,
        })
    }
}

fn tombstone_json(t: &Tombstone) -> Value {
    json!({"valueHash": t.value_hash, "size": t.size, "retentionEnd": t.retention_end, "payer": t.payer, "purged": t.purged})
}

/// Verifies a `strata_getProof` answer to `query` against a block's header, commit
/// certificate and validator-set proof (`debug_getRawHeader`,
/// `strata_getCommitCertificate`, `strata_getValidatorSetProof`). The answer must be for
/// the address, the keys (all of them, in order) and the block asked; every figure it
/// states (balance, nonce, code and storage hashes, each entry's value or tombstone)
/// must be what the proofs show, and the code shown, if any, must hash to the proven
/// code hash. The verdict holds only proven values.
pub fn verify_state(
    answer: &Value,
    query: &StateQuery,
    header_rlp: &[u8],
    certificate: &[u8],
    set_proof: &[u8],
    trust: &TrustRoot,
) -> Result<ProvenState> {
    let block = certified_header(header_rlp, certificate, set_proof, trust)?;
    if let Some(asked) = query.block
        && asked != block.header.number
    {
        return Err(Error::NotProven(format!("block {asked} was asked for, the header is block {}", block.header.number)));
    }
    let said = j::address(j::str_field(answer, "address")?)?;
    if said != query.address {
        return Err(Error::NotProven(format!("the node answered for account {said}, not {}", query.address)));
    }
    let account_proof = j::bytes_list(answer, "accountProof")?;
    let account = proof::verify_account(block.header.state_root, &query.address, &account_proof)
        .map_err(|e| Error::NotProven(format!("the account is not proven against stateRoot {}: {e}", block.header.state_root)))?;
    check_account_claims(answer, account)?;
    let storage_root = account.map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
    let entries = match answer.get("storageProof") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(list)) => list.as_slice(),
        Some(_) => return Err(Error::Malformed("`storageProof` is not a list".into())),
    };
    if entries.len() != query.keys.len() {
        return Err(Error::NotProven(format!("{} storage keys were asked for, the node answered {}", query.keys.len(), entries.len())));
    }
    let storage = query.keys.iter().zip(entries).map(|(key, entry)| storage_entry(key, entry, storage_root)).collect::<Result<_>>()?;
    let code_hash = account.map_or(KECCAK_EMPTY, |a| a.code_hash);
    if let Some(code) = &query.code
        && keccak256(code) != code_hash
    {
        return Err(Error::NotProven(format!(
            "the code shown ({} bytes) hashes to {}, the account's proven code hash is {code_hash}",
            code.len(),
            keccak256(code)
        )));
    }
    Ok(ProvenState { chain_id: trust.chain_id, block, address: query.address, account, code_checked: query.code.is_some(), storage })
}

/// The answer's figures about the account (each optional) against the proven record.
fn check_account_claims(answer: &Value, account: Option<Account>) -> Result<()> {
    let a = account.unwrap_or_default();
    let claimed = |name: &str| answer.get(name).filter(|v| !v.is_null());
    let mismatch =
        |what: &str, claimed: &Value, proven: String| Error::NotProven(format!("the node says {what} {claimed}, the proof shows {proven}"));
    if let Some(c) = claimed("balance")
        && j::u256(c)? != a.balance
    {
        return Err(mismatch("balance", c, a.balance.to_string()));
    }
    if let Some(c) = claimed("nonce")
        && j::u64_of(c)? != a.nonce
    {
        return Err(mismatch("nonce", c, a.nonce.to_string()));
    }
    // An absent account is shown with the empty code and storage (or zero hashes).
    let hashes = [
        ("codeHash", "code hash", account.map_or(KECCAK_EMPTY, |a| a.code_hash)),
        ("storageHash", "storage root", account.map_or(EMPTY_ROOT_HASH, |a| a.storage_root)),
    ];
    for (field, what, proven) in hashes {
        if let Some(c) = claimed(field) {
            let said = j::b256(c.as_str().ok_or_else(|| Error::Malformed(format!("`{field}` is not a string")))?)?;
            if said != proven && !(account.is_none() && said == B256::ZERO) {
                return Err(mismatch(what, c, proven.to_string()));
            }
        }
    }
    Ok(())
}

/// One storage entry: the node's entry for `key` (same key), its proof against
/// `storage_root`, and what the node said of it (value and tombstone, field by field).
fn storage_entry(key: &Bytes, entry: &Value, storage_root: B256) -> Result<ProvenEntry> {
    let said_key = j::bytes_field(entry, "key")?;
    if said_key != key.as_ref() {
        return Err(Error::NotProven(format!("storage key {} was asked for, the node answered for {}", j::hex(key), j::hex(&said_key))));
    }
    let nodes = j::bytes_list(entry, "proof")?;
    let leaf = proof::verify(storage_root, keccak256(key).as_slice(), &nodes)
        .map_err(|e| Error::NotProven(format!("storage key {} is not proven: {e}", j::hex(key))))?;
    let slot = leaf
        .map(|bytes| {
            Slot::decode(&bytes).map_err(|e| Error::NotProven(format!("storage key {}: the proven leaf is not a slot: {e}", j::hex(key))))
        })
        .transpose()?;
    let said_value = entry.get("value").and_then(Value::as_str).map(j::hex_bytes).transpose()?;
    let proven_value = slot.as_ref().and_then(|s| s.value()).map(|v| v.to_vec());
    // An absent value may be shown as null or as empty bytes.
    let same_value = said_value.as_deref().filter(|v| !v.is_empty()) == proven_value.as_deref();
    let same_tombstone = match (entry.get("tombstone").filter(|t| !t.is_null()), &slot) {
        (None, Some(Slot::Tombstone(_))) => false,
        (None, _) => true,
        (Some(said), Some(Slot::Tombstone(t))) => same_tombstone(said, t)?,
        (Some(_), _) => false,
    };
    if !same_value || !same_tombstone {
        return Err(Error::NotProven(format!("storage key {}: the node's answer is not what the proof shows", j::hex(key))));
    }
    Ok(ProvenEntry { key: key.clone(), slot })
}

/// A tombstone as the node shows it (`valueHash`, `size`, `retentionEnd`, `payer`,
/// `purged`; each field optional) against the proven one.
fn same_tombstone(said: &Value, t: &Tombstone) -> Result<bool> {
    let field = |name: &str| said.get(name).filter(|v| !v.is_null());
    let mut same = true;
    if let Some(v) = field("valueHash") {
        same &= j::b256(v.as_str().unwrap_or_default())? == t.value_hash;
    }
    if let Some(v) = field("size") {
        same &= j::u64_of(v)? == t.size;
    }
    if let Some(v) = field("retentionEnd") {
        same &= j::u64_of(v)? == t.retention_end;
    }
    if let Some(v) = field("payer") {
        same &= j::address(v.as_str().unwrap_or_default())? == t.payer;
    }
    if let Some(v) = field("purged") {
        same &= v.as_bool() == Some(t.purged);
    }
    Ok(same)
}
