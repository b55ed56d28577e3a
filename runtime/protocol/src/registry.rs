//! The chain registry's records and rules: which chains a Strata chain follows (its
//! children, registered; its parent, named in its genesis), the validator sets each
//! had over time, and the last checkpoint of each.
//!
//! Why here: the registry system contract (`contracts/system/registry`, at
//! [`crate::system::CHAIN_REGISTRY`]) keeps these records in its storage and applies
//! these rules inside Wasm; the relayer and `strata chain status` decode the same
//! records from outside. One definition, so both read the bytes the same way.
//!
//! A followed chain's validator set changes only by a [`crate::set_proof::SwitchLink`] (a block whose end
//! decided a slot switch, certified by the set of its height, with the slot records
//! proven against its state root; [`crate::set_proof::verify_link_with`]): each accepted
//! link starts an [`Epoch`]. The set that
//! signs height `h` is the one of the last epoch starting at or below `h`.

use alloc::{format, string::String, vec::Vec};

use alloy_primitives::{Address, B256};
use alloy_rlp::{RlpDecodable, RlpEncodable};

use crate::{
    CommitCertificate, ValidatorSet,
    relay::Checkpoint,
    rlp_item::decode_exact,
    slots::{SlotRecord, validator_set_at},
};

/// Most validators a registered set may have (bounds the gas of every check).
pub const MAX_VALIDATORS: usize = 64;

/// What the registry keeps of one followed chain.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct TrackedChain {
    /// The hash of its genesis block (what a relayer checks it is talking to).
    pub genesis_hash: B256,
    /// Signatures a certificate of it needs (at least its BFT quorum).
    pub quorum: u32,
    /// True for the parent named in this chain's genesis; false for a registered child.
    pub is_parent: bool,
    /// Who registered it (zero for the parent).
    pub registered_by: Address,
    /// How many [`Epoch`]s it has had (the first is its registered set).
    pub epochs: u32,
    /// Its last checkpoint (height 0: none yet).
    pub checkpoint: Checkpoint,
}

/// A stretch of heights signed by one validator set.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Epoch {
    /// The first height it signs.
    pub from: u64,
    /// The set as registered (first epoch only; empty after a switch).
    pub validators: Vec<Address>,
    /// The slot records proven by the switch that started it (empty for the first).
    pub records: Vec<SlotRecord>,
}

impl Epoch {
    /// The set that signs `height` (at or above [`Epoch::from`]).
    pub fn set_at(&self, height: u64) -> ValidatorSet {
        if self.records.is_empty() { ValidatorSet::new(self.validators.clone()) } else { validator_set_at(&self.records, height) }
    }
}

/// Why a registration's set is refused.
pub fn check_set(validators: &[Address], quorum: u32) -> Result<(), String> {
    if validators.is_empty() || validators.len() > MAX_VALIDATORS {
        return Err(format!("{} validators; 1 to {MAX_VALIDATORS} are allowed", validators.len()));
    }
    if let Some(i) = validators.iter().position(|a| a.is_zero()) {
        return Err(format!("validator {i} is the zero address"));
    }
    for (i, a) in validators.iter().enumerate() {
        if validators[..i].contains(a) {
            return Err(format!("validator {a} is named twice"));
        }
    }
    let bft = ValidatorSet::new(validators.to_vec()).quorum();
    let q = usize::try_from(quorum).unwrap_or(usize::MAX);
    if q < bft || q > validators.len() {
        return Err(format!(
            "quorum {quorum} is outside {bft}..={} (n - f of {} validators up to all)",
            validators.len(),
            validators.len()
        ));
    }
    Ok(())
}

/// Checks that `certificate` (RLP) holds at least `quorum` signers (the set's own
/// quorum is checked by [`CommitCertificate::verify_with`]).
pub fn check_quorum(certificate: &[u8], quorum: u32) -> Result<(), String> {
    let cert = decode_exact::<CommitCertificate>(certificate).map_err(|e| format!("{e}"))?;
    let have = cert.signatures.len();
    if have < usize::try_from(quorum).unwrap_or(usize::MAX) {
        return Err(format!("{have} signatures; the registered quorum is {quorum}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_need_distinct_nonzero_members_and_a_bft_quorum() {
        let four: Vec<Address> = (1..=4u8).map(Address::repeat_byte).collect();
        assert!(check_set(&four, 3).is_ok());
        assert!(check_set(&four, 4).is_ok());
        assert!(check_set(&four, 2).unwrap_err().contains("quorum 2"));
        assert!(check_set(&four, 5).is_err());
        assert!(check_set(&[], 0).is_err());
        let twice = [four[0], four[1], four[0], four[2]];
        assert!(check_set(&twice, 3).unwrap_err().contains("twice"));
        assert!(check_set(&[four[0], Address::ZERO, four[1], four[2]], 3).unwrap_err().contains("zero"));
        let many: Vec<Address> = (0..65u32).map(|i| Address::left_padding_from(&i.saturating_add(1).to_be_bytes())).collect();
        assert!(check_set(&many, 60).is_err());
    }

    #[test]
    fn an_epoch_without_records_is_its_registered_set() {
        let four: Vec<Address> = (1..=4u8).map(Address::repeat_byte).collect();
        let e = Epoch { from: 0, validators: four.clone(), records: Vec::new() };
        assert_eq!(e.set_at(99).validators, four);
        let records: Vec<SlotRecord> = four.iter().map(|a| SlotRecord::new(*a, Some(Address::repeat_byte(0xb0)), *a, 0, *a)).collect();
        let e = Epoch { from: 5, validators: Vec::new(), records };
        assert_eq!(e.set_at(6).validators, four);
    }
}
