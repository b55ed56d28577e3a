//! Storage certificates: `2f + 1` validators' signatures that each of them admitted a
//! transaction and wrote it durably to its pool journal, given to the client before the
//! transaction is in a block.
//!
//! Each validator signs a [`StoredClaim`] — chain, transaction hash, sender, nonce, the
//! height whose validator set it signs as, and the expiry height by which the chain must
//! include the transaction — over [`stored_digest`] (its own domain, so a claim can never
//! be taken for a vote or a transaction). An honest validator signs at most one claim per
//! `(sender, nonce)`: two certificates for one nonce would need `f + 1` validators to
//! sign twice. [`StorageCertificate::verify_with`] checks one against the set of its
//! height, exactly as a commit certificate is checked. Shared by the node, `strata audit`
//! and the browser; `no_std`, recovery passed in.

use alloc::vec::Vec;

use alloy_primitives::{Address, B256, keccak256};
use alloy_rlp::{Encodable, RlpDecodable, RlpEncodable};

use crate::consensus::{CertSignature, CertificateError, Recover, ValidatorSet, check_signers, recovers_to};

/// Domain tag of [`stored_digest`].
pub const STORED_DOMAIN: &str = "strata/stored/v1";

/// What a validator states when it signs for a transaction it holds durably.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StoredClaim {
    /// The chain.
    pub chain_id: u64,
    /// The transaction's hash.
    pub tx_hash: B256,
    /// Its sender (recovered from its signature).
    pub sender: Address,
    /// Its nonce.
    pub nonce: u64,
    /// The height whose validators sign (the receiving validator's head when asked).
    pub height: u64,
    /// The chain must include the transaction in a block no higher than this.
    pub expiry: u64,
}

/// The digest a validator signs for `claim`: `keccak256(domain ‖ rlp(claim))`.
pub fn stored_digest(claim: &StoredClaim) -> B256 {
    let mut buf = Vec::with_capacity(STORED_DOMAIN.len() + 128);
    buf.extend_from_slice(STORED_DOMAIN.as_bytes());
    claim.encode(&mut buf);
    keccak256(buf)
}

/// Why a [`StorageCertificate`] does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoredError {
    /// The claim is another chain's.
    #[error("the certificate is for chain {got}, not {expected}")]
    WrongChain {
        /// The claim's chain.
        got: u64,
        /// The chain asked about.
        expected: u64,
    },
    /// The signatures are not a quorum of the set's.
    #[error(transparent)]
    Signatures(#[from] CertificateError),
}

/// A claim with the signatures of a quorum of the validators of its height, in strictly
/// increasing validator order.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StorageCertificate {
    /// What the signers state.
    pub claim: StoredClaim,
    /// Their signatures over [`stored_digest`]`(claim)`.
    pub signatures: Vec<CertSignature>,
}

impl StorageCertificate {
    /// Checks the certificate against `set` (the validators of `claim.height`) for chain
    /// `chain_id`: signers in range, strictly increasing, a quorum, and every signature a
    /// low-`s` signature of the validator at its index. Structure before recovery.
    pub fn verify_with(&self, set: &ValidatorSet, chain_id: u64, recover: &impl Recover) -> Result<(), StoredError> {
        if self.claim.chain_id != chain_id {
            return Err(StoredError::WrongChain { got: self.claim.chain_id, expected: chain_id });
        }
        if set.is_empty() {
            return Err(CertificateError::EmptyValidatorSet.into());
        }
        check_signers(self.signatures.iter().map(|s| s.validator), set)?;
        let digest = stored_digest(&self.claim);
        for s in &self.signatures {
            let expected = set.get(s.validator).ok_or(CertificateError::UnknownValidator { validator: s.validator, len: set.len() })?;
            if !recovers_to(recover, &s.signature, &digest, expected) {
                return Err(CertificateError::BadSignature { validator: s.validator }.into());
            }
        }
        Ok(())
    }

    /// [`StorageCertificate::verify_with`] with k256 recovery.
    #[cfg(feature = "k256")]
    pub fn verify(&self, set: &ValidatorSet, chain_id: u64) -> Result<(), StoredError> {
        self.verify_with(set, chain_id, &crate::consensus::K256)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    use crate::test_recover::{Fake, sign};

    fn keys() -> Vec<Address> {
        (1..=4u8).map(Address::repeat_byte).collect()
    }

    fn claim() -> StoredClaim {
        StoredClaim { chain_id: 7, tx_hash: B256::repeat_byte(9), sender: Address::repeat_byte(0x55), nonce: 3, height: 10, expiry: 14 }
    }

    fn certificate(signers: &[u32]) -> StorageCertificate {
        let digest = stored_digest(&claim());
        let signatures = signers.iter().map(|&i| CertSignature { validator: i, signature: sign(keys()[i as usize], &digest) }).collect();
        StorageCertificate { claim: claim(), signatures }
    }

    #[test]
    fn a_quorum_of_the_set_verifies_and_anything_less_or_else_does_not() {
        let set = ValidatorSet::new(keys());
        certificate(&[0, 1, 3]).verify_with(&set, 7, &Fake).unwrap();
        let encoded = alloy_rlp::encode(certificate(&[0, 1, 3]));
        assert_eq!(crate::rlp_item::decode_exact::<StorageCertificate>(&encoded).unwrap(), certificate(&[0, 1, 3]));
        assert!(matches!(
            certificate(&[0, 1]).verify_with(&set, 7, &Fake),
            Err(StoredError::Signatures(CertificateError::TooFewSignatures { .. }))
        ));
        assert!(matches!(
            certificate(&[0, 1, 1]).verify_with(&set, 7, &Fake),
            Err(StoredError::Signatures(CertificateError::DuplicateSigner { .. }))
        ));
        assert!(matches!(certificate(&[0, 1, 3]).verify_with(&set, 8, &Fake), Err(StoredError::WrongChain { got: 7, expected: 8 })));
        // A signature moved to another index, or a claim changed after signing.
        let mut moved = certificate(&[0, 1, 3]);
        moved.signatures[2].validator = 2;
        assert!(matches!(moved.verify_with(&set, 7, &Fake), Err(StoredError::Signatures(CertificateError::BadSignature { validator: 2 }))));
        let mut changed = certificate(&[0, 1, 3]);
        changed.claim.expiry += 1;
        assert!(matches!(
            changed.verify_with(&set, 7, &Fake),
            Err(StoredError::Signatures(CertificateError::BadSignature { validator: 0 }))
        ));
        // Against another set (another height's keys).
        let other = ValidatorSet::new(vec![keys()[0], keys()[1], Address::repeat_byte(0x77), keys()[3]]);
        certificate(&[0, 1, 3]).verify_with(&other, 7, &Fake).unwrap();
        assert!(certificate(&[0, 2, 3]).verify_with(&other, 7, &Fake).is_err());
    }

    #[test]
    fn the_digest_binds_every_field_and_the_domain() {
        let base = stored_digest(&claim());
        let fields: [fn(&mut StoredClaim); 6] = [
            |c| c.chain_id += 1,
            |c| c.tx_hash = B256::ZERO,
            |c| c.sender = Address::ZERO,
            |c| c.nonce += 1,
            |c| c.height += 1,
            |c| c.expiry += 1,
        ];
        for change in fields {
            let mut c = claim();
            change(&mut c);
            assert_ne!(stored_digest(&c), base);
        }
        assert_ne!(base, keccak256(alloy_rlp::encode(claim())));
    }
}
