//! Validator-set proofs across slot switches: which keys a certificate of height `H`
//! must be signed by, proven from the genesis set alone.
//!
//! On a chain with validator slots the set changes whenever a slot switches roles
//! ([`crate::slots`]). An auditor who trusts only the genesis validators follows the
//! switches as a chain of [`SwitchLink`]s, one per block whose end decided a switch, in
//! height order: the block's header, its commit certificate — signed by the set of that
//! height, which the auditor already knows from the links before — and the slot records
//! in the state after it, proven against the header's state root ([`SlotsProof`]). The
//! records name the keys active from then on ([`crate::slots::validator_set_at`]), and
//! so the set that signs the next link, and finally the set of `H` ([`verify_set_with`]).
//!
//! Why this is enough: the set only changes at the end of a block that decides a
//! switch, and that block is certified by the set before the change. The trust
//! assumption is every light client's across set changes: keys that were a quorum of
//! an earlier set do not collude later to sign a history that never was. A node that
//! leaves a link out cannot make a certificate verify that the true set would not: the
//! new keys' signatures then fail against the older set it makes the auditor use.
//!
//! Shared by the node (which stores a [`SlotsProof`] at every switch and serves the
//! links), `strata audit` and the browser verifier; `no_std`, recovery passed in.

use alloc::{format, string::String, vec::Vec};

use alloy_primitives::{B256, Bytes, keccak256};
use alloy_rlp::{RlpDecodable, RlpEncodable};

use crate::{
    CommitCertificate, Header, ValidatorSet,
    consensus::Recover,
    proof,
    rlp_item::decode_exact,
    slots::{SlotRecord, VALIDATOR_SLOTS, slot_key, validator_set_at},
    system::Slot,
};

/// The slot records in the state after one block, with their proofs against its state
/// root: the account proof of [`VALIDATOR_SLOTS`], then per slot (in slot order) the
/// record's storage value and its proof against the account's storage root.
#[derive(Debug, Clone, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct SlotsProof {
    /// Trie nodes from the state root to the `0x…1004` account.
    pub account_proof: Vec<Bytes>,
    /// Per slot, its storage proof (trie nodes from the storage root to `slot_key(i)`).
    pub storage_proofs: Vec<Vec<Bytes>>,
}

/// A block whose end decided a switch, with what proves the keys active after it.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct SwitchLink {
    /// The block's header.
    pub header: Header,
    /// Its commit certificate (RLP), signed by the set of its height.
    pub certificate: Bytes,
    /// The slot records in the state after it.
    pub slots: SlotsProof,
}

/// The switches from genesis up to a height: what [`verify_set_with`] checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct SetProof {
    /// The links, in strictly increasing height order.
    pub links: Vec<SwitchLink>,
}

/// Why a [`SetProof`] does not prove a validator set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetProofError {
    /// Links out of order, or past the height asked about.
    #[error("link {link} (block {number}) is out of order: {reason}")]
    Order {
        /// The link's position.
        link: usize,
        /// Its block.
        number: u64,
        /// What is wrong.
        reason: String,
    },
    /// A link's certificate does not finalize its header with the set of its height.
    #[error("link {link} (block {number}) is not finalized by the set of its height: {reason}")]
    Certificate {
        /// The link's position.
        link: usize,
        /// Its block.
        number: u64,
        /// What is wrong.
        reason: String,
    },
    /// A link's slot records are not proven against its state root.
    #[error("link {link} (block {number}): slot records not proven: {reason}")]
    Records {
        /// The link's position.
        link: usize,
        /// Its block.
        number: u64,
        /// What is wrong.
        reason: String,
    },
    /// A link whose block decided no switch: the node serving it is confused or lying.
    #[error("link {link} (block {number}) decided no switch")]
    NoSwitch {
        /// The link's position.
        link: usize,
        /// Its block.
        number: u64,
    },
}

impl SlotsProof {
    /// The `slots` records proven against `state_root`, in slot order.
    pub fn verify(&self, state_root: B256, slots: usize) -> Result<Vec<SlotRecord>, String> {
        let account = proof::verify_account(state_root, &VALIDATOR_SLOTS, &self.account_proof)
            .map_err(|e| format!("account proof: {e:?}"))?
            .ok_or_else(|| String::from("the state has no validator slots account"))?;
        if self.storage_proofs.len() != slots {
            return Err(format!("{} storage proofs for {slots} slots", self.storage_proofs.len()));
        }
        let mut records = Vec::with_capacity(slots);
        for (i, nodes) in self.storage_proofs.iter().enumerate() {
            let index = u32::try_from(i).map_err(|_| String::from("too many slots"))?;
            let leaf = proof::verify(account.storage_root, keccak256(slot_key(index)).as_slice(), nodes)
                .map_err(|e| format!("slot {i}: {e:?}"))?
                .ok_or_else(|| format!("slot {i}: proven absent"))?;
            let value = match Slot::decode(&leaf) {
                Ok(Slot::Value(v)) => v,
                _ => return Err(format!("slot {i}: not a record value")),
            };
            records.push(decode_exact::<SlotRecord>(&value).map_err(|e| format!("slot {i}: {e}"))?);
        }
        Ok(records)
    }
}

/// [`verify_set_with`] with k256 recovery.
#[cfg(feature = "k256")]
pub fn verify_set(genesis: &ValidatorSet, chain_id: u64, proof: &SetProof, height: u64) -> Result<ValidatorSet, SetProofError> {
    verify_set_with(genesis, chain_id, proof, height, &crate::consensus::K256)
}

/// The validator set of `height` on chain `chain_id`, from the genesis set (the
/// auditor's trust root; validator `i` is slot `i`'s primary) and the switch links
/// before `height`: each link's certificate is checked against the set of its height as
/// known from the links before it, then its slot records against its header's state
/// root; they give the keys from then on. With no links, the genesis set.
pub fn verify_set_with(
    genesis: &ValidatorSet,
    chain_id: u64,
    proof: &SetProof,
    height: u64,
    recover: &impl Recover,
) -> Result<ValidatorSet, SetProofError> {
    let mut records: Option<Vec<SlotRecord>> = None;
    let mut previous = 0u64;
    let set_of = |records: &Option<Vec<SlotRecord>>, at: u64| match records {
        Some(r) => validator_set_at(r, at),
        None => ValidatorSet::new(genesis.validators.clone()),
    };
    for (link, l) in proof.links.iter().enumerate() {
        let number = l.header.number;
        let order = |reason: String| SetProofError::Order { link, number, reason };
        if number <= previous {
            return Err(order(format!("after block {previous}")));
        }
        if number >= height {
            return Err(order(format!("not before height {height}")));
        }
        let next = verify_link_with(l, &set_of(&records, number), chain_id, recover).map_err(|e| match e {
            LinkError::Certificate(reason) => SetProofError::Certificate { link, number, reason },
            LinkError::Records(reason) => SetProofError::Records { link, number, reason },
            LinkError::NoSwitch => SetProofError::NoSwitch { link, number },
        })?;
        records = Some(next);
        previous = number;
    }
    Ok(set_of(&records, height))
}

/// Why one [`SwitchLink`] does not prove the set after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Its certificate does not finalize its header on the chain with the set given.
    #[error("not finalized by the set of its height: {0}")]
    Certificate(String),
    /// Its slot records are not proven against its state root.
    #[error("slot records not proven: {0}")]
    Records(String),
    /// Its block decided no switch.
    #[error("its block decided no switch")]
    NoSwitch,
}

/// Verifies one link of chain `chain_id` against `set` (the set of its height) and
/// returns the slot records it proves, which name the keys from its height + 1 on.
pub fn verify_link_with(
    link: &SwitchLink,
    set: &ValidatorSet,
    chain_id: u64,
    recover: &impl Recover,
) -> Result<Vec<SlotRecord>, LinkError> {
    let number = link.header.number;
    if link.header.chain_id != chain_id {
        return Err(LinkError::Certificate(format!("the header is of chain {}, not {chain_id}", link.header.chain_id)));
    }
    let cert = decode_exact::<CommitCertificate>(&link.certificate).map_err(|e| LinkError::Certificate(format!("{e}")))?;
    let hash = link.header.hash_slow();
    if cert.block_hash != hash || cert.height != number {
        return Err(LinkError::Certificate(format!("it certifies block {} {}, the header is {hash}", cert.height, cert.block_hash)));
    }
    cert.verify_with(set, chain_id, recover).map_err(|e| LinkError::Certificate(format!("{e}")))?;
    let records = link.slots.verify(link.header.state_root, set.len()).map_err(LinkError::Records)?;
    if !records.iter().any(|r| r.last_switch == number) {
        return Err(LinkError::NoSwitch);
    }
    Ok(records)
}

#[cfg(test)]
mod tests;
