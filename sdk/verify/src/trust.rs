//! The trust root: the chain id and the validator set of genesis, as the reader pins
//! them — a `genesis.json` as validators share it, or `{chainId, validators}` — and the
//! set of a later block, proven from it across the switches of a `SetProof`.

use alloy_primitives::Address;
use serde_json::Value;
use strata_protocol::{
    ValidatorSet,
    consensus::K256,
    rlp_item::decode_exact,
    set_proof::{SetProof, verify_set_with},
};

use crate::{Error, Result, json};

/// What the reader trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRoot {
    /// The chain.
    pub chain_id: u64,
    /// Its validators at genesis (slot `i`'s primary is validator `i`).
    pub validators: ValidatorSet,
}

impl TrustRoot {
    /// A trust root of `validators` (in index order) on chain `chain_id`: none twice, and
    /// not the zero address (one key counted twice would lower the quorum it takes to
    /// fool the reader).
    pub fn new(chain_id: u64, validators: Vec<Address>) -> Result<Self> {
        if validators.is_empty() {
            return Err(Error::Trust("the validator list is empty".into()));
        }
        for (i, v) in validators.iter().enumerate() {
            if v.is_zero() {
                return Err(Error::Trust("the zero address is not a validator".into()));
            }
            if validators[..i].contains(v) {
                return Err(Error::Trust(format!("validator {v} is listed twice")));
            }
        }
        Ok(Self { chain_id, validators: ValidatorSet::new(validators) })
    }

    /// Reads a genesis file's JSON (`chain_id`, `validators: [{address, …}]`) or the short
    /// form `{"chainId": …, "validators": ["0x…", …]}`.
    pub fn from_json(text: &str) -> Result<Self> {
        let v = json::parse(text).map_err(|e| Error::Trust(e.to_string()))?;
        let chain_id = v
            .get("chain_id")
            .or_else(|| v.get("chainId"))
            .ok_or_else(|| Error::Trust("no chain id (`chain_id` or `chainId`)".into()))
            .and_then(|c| json::u64_of(c).map_err(|e| Error::Trust(e.to_string())))?;
        let list = v.get("validators").and_then(Value::as_array).ok_or_else(|| Error::Trust("no `validators` list".into()))?;
        let validators = list
            .iter()
            .map(|item| {
                let s = item.as_str().or_else(|| item.get("address").and_then(Value::as_str));
                s.ok_or_else(|| Error::Trust("a validator is neither an address nor {address}".into()))
                    .and_then(|s| json::address(s).map_err(|e| Error::Trust(e.to_string())))
            })
            .collect::<Result<Vec<Address>>>()?;
        Self::new(chain_id, validators)
    }

    /// The validator set of block `height`, proven from genesis by `set_proof` (RLP
    /// `SetProof`; empty or without links on a chain whose set never switched).
    pub fn set_at(&self, height: u64, set_proof: &[u8]) -> Result<ValidatorSet> {
        if set_proof.is_empty() {
            return Ok(self.validators.clone());
        }
        let proof = decode_exact::<SetProof>(set_proof).map_err(|e| Error::Malformed(format!("validator-set proof: {e}")))?;
        verify_set_with(&self.validators, self.chain_id, &proof, height, &K256)
            .map_err(|e| Error::ValidatorSet { height, reason: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_genesis_file_and_the_short_form() {
        let genesis = r#"{"chain_id": 7, "gas_limit": 1, "validators": [
            {"address": "0x00000000000000000000000000000000000000aa", "storage_class": "ssd"}]}"#;
        let t = TrustRoot::from_json(genesis).unwrap();
        assert_eq!(t.chain_id, 7);
        assert_eq!(t.validators.len(), 1);
        let short = r#"{"chainId": "0x10", "validators": ["0x00000000000000000000000000000000000000aa", "0x00000000000000000000000000000000000000bb"]}"#;
        let t = TrustRoot::from_json(short).unwrap();
        assert_eq!((t.chain_id, t.validators.len()), (16, 2));
    }

    #[test]
    fn refuses_what_names_no_set() {
        let twice =
            r#"{"chainId": 1, "validators": ["0x00000000000000000000000000000000000000aa", "0x00000000000000000000000000000000000000AA"]}"#;
        let zero = r#"{"chainId": 1, "validators": ["0x0000000000000000000000000000000000000000"]}"#;
        for bad in [
            "{}",
            r#"{"chainId": 1}"#,
            r#"{"chainId": 1, "validators": []}"#,
            r#"{"chainId": 1, "validators": ["0x12"]}"#,
            "nope",
            twice,
            zero,
        ] {
            assert!(matches!(TrustRoot::from_json(bad), Err(Error::Trust(_))), "{bad}");
        }
    }

    #[test]
    fn no_set_proof_is_the_genesis_set() {
        let t = TrustRoot::from_json(r#"{"chainId": 1, "validators": ["0x00000000000000000000000000000000000000aa"]}"#).unwrap();
        assert_eq!(t.set_at(99, &[]).unwrap(), t.validators);
        assert!(matches!(t.set_at(99, &[0x01, 0x02]), Err(Error::Malformed(_))));
    }
}
