//! Consensus evidence: the validator set, the commit digest and commit certificates.
//!
//! Why here: a commit certificate is what makes a block final, and the next block's
//! header commits to it (`parent_commit_hash` is [`CommitCertificate::hash`]). The node,
//! the consensus core (`strata-consensus`) and an offline auditor must encode, hash and
//! verify it byte for byte alike, so it lives in this `no_std` crate with the header.
//!
//! A chain is run by a fixed set of `n = 3f + 1` validators; a certificate holds at
//! least `n - f` (= `2f + 1`) signatures, by distinct validators, over
//! [`commit_digest`] of one block. Any two such sets share at least `f + 1`
//! validators, so two certificates for different blocks at one height would need
//! more than `f` validators to have signed twice.

use alloc::vec::Vec;
use alloy_primitives::{Address, B256, Signature, keccak256};
use alloy_rlp::{Encodable, RlpDecodable, RlpEncodable};

/// Domain tag of [`commit_digest`]: a commit signature can never be mistaken for any
/// other signed message (transactions, other consensus messages, other versions).
pub const COMMIT_DOMAIN: &str = "strata/commit/v1";

/// The validators of a chain, in index order: a validator is named by its index
/// (`u32`) in consensus messages and certificates.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct ValidatorSet {
    /// The validators' addresses; index `i` is validator `i`.
    pub validators: Vec<Address>,
}

impl ValidatorSet {
    /// A set of these validators, in this order.
    pub fn new(validators: Vec<Address>) -> Self {
        Self { validators }
    }

    /// Number of validators `n`.
    pub fn len(&self) -> usize {
        self.validators.len()
    }

    /// Whether the set has no validators (such a set can certify nothing).
    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }

    /// The number of faulty validators tolerated: `f = (n - 1) / 3` (0 for an empty set).
    pub fn f(&self) -> usize {
        self.len().saturating_sub(1) / 3
    }

    /// Signatures needed for a certificate: `n - f`, which is `2f + 1` when `n = 3f + 1`
    /// (and 1 for a single validator).
    pub fn quorum(&self) -> usize {
        self.len().saturating_sub(self.f())
    }

    /// The index of `address` in the set, if it is a validator.
    pub fn index_of(&self, address: &Address) -> Option<u32> {
        self.validators.iter().position(|a| a == address).and_then(|i| u32::try_from(i).ok())
    }

    /// The address of validator `index`, if the index is in range.
    pub fn get(&self, index: u32) -> Option<&Address> {
        self.validators.get(usize::try_from(index).ok()?)
    }

    /// The primary (proposer) of `view`: validator `view % n` (0 for an empty set).
    pub fn primary(&self, view: u64) -> u32 {
        let n = u64::try_from(self.len()).unwrap_or(u64::MAX);
        view.checked_rem(n).and_then(|i| u32::try_from(i).ok()).unwrap_or(0)
    }
}

/// The digest a validator signs to commit `block_hash` at `height` in `view` on chain
/// `chain_id`: `keccak256(rlp(["strata/commit/v1", chain_id, height, view, block_hash]))`.
pub fn commit_digest(chain_id: u64, height: u64, view: u64, block_hash: B256) -> B256 {
    let fields: [&dyn Encodable; 5] = [&COMMIT_DOMAIN, &chain_id, &height, &view, &block_hash];
    let mut out = Vec::new();
    alloy_rlp::encode_list::<_, dyn Encodable>(&fields, &mut out);
    keccak256(out)
}

/// One validator's commit signature in a [`CommitCertificate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct CertSignature {
    /// The signer's index in the [`ValidatorSet`].
    pub validator: u32,
    /// The recoverable signature over [`commit_digest`]: `r ‖ s ‖ v` (`v` = 27 or 28).
    pub signature: [u8; 65],
}

impl CertSignature {
    /// Validator `validator`'s `signature`.
    pub fn new(validator: u32, signature: &Signature) -> Self {
        Self { validator, signature: signature.as_bytes() }
    }

    /// The signature, if its recovery byte is valid.
    pub fn signature(&self) -> Option<Signature> {
        Signature::from_raw_array(&self.signature).ok()
    }
}

/// Proof that `block_hash` was committed at `height`: commit signatures of at least
/// [`ValidatorSet::quorum`] distinct validators, sorted by validator index.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct CommitCertificate {
    /// The height (block number) decided.
    pub height: u64,
    /// The consensus view in which the signatures were cast.
    pub view: u64,
    /// The hash of the committed block.
    pub block_hash: B256,
    /// The signatures, in strictly increasing validator order.
    pub signatures: Vec<CertSignature>,
}

/// Why a [`CommitCertificate`] (or another quorum of consensus signatures) does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// The validator set is empty.
    #[error("the validator set is empty")]
    EmptyValidatorSet,
    /// Fewer distinct signers than the quorum.
    #[error("{have} signatures, a quorum is {need}")]
    TooFewSignatures {
        /// Signatures present.
        have: usize,
        /// The quorum of the validator set.
        need: usize,
    },
    /// A signer index beyond the validator set.
    #[error("signer index {validator} is not in the validator set of {len}")]
    UnknownValidator {
        /// The index.
        validator: u32,
        /// The size of the validator set.
        len: usize,
    },
    /// The same validator signs twice.
    #[error("validator {validator} signs more than once")]
    DuplicateSigner {
        /// The index.
        validator: u32,
    },
    /// Signers are not in increasing index order.
    #[error("signers are not in increasing order at validator {validator}")]
    UnorderedSigners {
        /// The first index out of order.
        validator: u32,
    },
    /// A signature that is malformed, has a high `s`, or recovers to someone other than
    /// the validator it is attributed to (which is also what a certificate of another
    /// chain, height, view or block looks like).
    #[error("the signature of validator {validator} does not verify")]
    BadSignature {
        /// The index the signature is attributed to.
        validator: u32,
    },
}

impl CommitCertificate {
    /// `keccak256(rlp(certificate))`: what the next block's `parent_commit_hash` holds.
    pub fn hash(&self) -> B256 {
        keccak256(alloy_rlp::encode(self))
    }

    /// The digest every signature of the certificate signs.
    pub fn digest(&self, chain_id: u64) -> B256 {
        commit_digest(chain_id, self.height, self.view, self.block_hash)
    }

    /// Checks the certificate against `set` for chain `chain_id`: signer indices in range,
    /// strictly increasing (so distinct), at least a quorum of them, and every signature
    /// recovering to the validator at its index. Structure is checked before any
    /// signature is recovered.
    pub fn verify(&self, set: &ValidatorSet, chain_id: u64) -> Result<(), CertificateError> {
        if set.is_empty() {
            return Err(CertificateError::EmptyValidatorSet);
        }
        check_signers(self.signatures.iter().map(|s| s.validator), set)?;
        let digest = self.digest(chain_id);
        for s in &self.signatures {
            let expected = set.get(s.validator).ok_or(CertificateError::UnknownValidator { validator: s.validator, len: set.len() })?;
            let ok = s.signature().is_some_and(|sig| recovers_to(&sig, &digest, expected));
            if !ok {
                return Err(CertificateError::BadSignature { validator: s.validator });
            }
        }
        Ok(())
    }
}

/// Checks a list of signer indices: each in range, strictly increasing, at least a quorum.
pub fn check_signers(signers: impl IntoIterator<Item = u32>, set: &ValidatorSet) -> Result<(), CertificateError> {
    let mut previous: Option<u32> = None;
    let mut count = 0usize;
    for validator in signers {
        if set.get(validator).is_none() {
            return Err(CertificateError::UnknownValidator { validator, len: set.len() });
        }
        match previous {
            Some(p) if p == validator => return Err(CertificateError::DuplicateSigner { validator }),
            Some(p) if p > validator => return Err(CertificateError::UnorderedSigners { validator }),
            _ => {}
        }
        previous = Some(validator);
        count = count.saturating_add(1);
    }
    if count < set.quorum() {
        return Err(CertificateError::TooFewSignatures { have: count, need: set.quorum() });
    }
    Ok(())
}

/// Whether `signature` over `digest` is a low-`s` signature by `expected`.
pub fn recovers_to(signature: &Signature, digest: &B256, expected: &Address) -> bool {
    // `recover_address_from_prehash` accepts a high `s` (it normalises); we do not, so each
    // signed message has exactly one valid signature encoding.
    signature.normalize_s().is_none() && signature.recover_address_from_prehash(digest).is_ok_and(|a| &a == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalSigner;
    use alloc::vec;

    fn signers(n: u8) -> Vec<LocalSigner> {
        (1..=n).map(|i| LocalSigner::from_bytes(&B256::repeat_byte(i)).unwrap()).collect()
    }

    fn set_of(keys: &[LocalSigner]) -> ValidatorSet {
        ValidatorSet::new(keys.iter().map(LocalSigner::address).collect())
    }

    fn certificate(keys: &[LocalSigner], who: &[u32], chain_id: u64) -> CommitCertificate {
        let (height, view, block_hash) = (7, 2, B256::repeat_byte(0xab));
        let digest = commit_digest(chain_id, height, view, block_hash);
        let signatures = who.iter().map(|&i| CertSignature::new(i, &keys[i as usize].sign_hash(&digest).unwrap())).collect();
        CommitCertificate { height, view, block_hash, signatures }
    }

    #[test]
    fn quorum_sizes() {
        let sizes: Vec<(usize, usize)> = (0..=10)
            .map(|n| {
                let set = ValidatorSet::new(vec![Address::ZERO; n]);
                (set.f(), set.quorum())
            })
            .collect();
        assert_eq!(sizes, [(0, 0), (0, 1), (0, 2), (0, 3), (1, 3), (1, 4), (1, 5), (2, 5), (2, 6), (2, 7), (3, 7)]);
        let set = ValidatorSet::new(vec![Address::ZERO; 4]);
        assert_eq!((set.primary(0), set.primary(5), set.primary(u64::MAX)), (0, 1, 3));
        assert_eq!(ValidatorSet::new(Vec::new()).primary(3), 0);
    }

    #[test]
    fn index_of_and_get() {
        let keys = signers(4);
        let set = set_of(&keys);
        assert_eq!(set.index_of(&keys[2].address()), Some(2));
        assert_eq!(set.index_of(&Address::repeat_byte(9)), None);
        assert_eq!(set.get(3), Some(&keys[3].address()));
        assert_eq!(set.get(4), None);
    }

    #[test]
    fn commit_digest_separates_every_field() {
        let base = commit_digest(1, 2, 3, B256::ZERO);
        assert_ne!(base, commit_digest(9, 2, 3, B256::ZERO));
        assert_ne!(base, commit_digest(1, 9, 3, B256::ZERO));
        assert_ne!(base, commit_digest(1, 2, 9, B256::ZERO));
        assert_ne!(base, commit_digest(1, 2, 3, B256::repeat_byte(1)));
        // Height and view are not interchangeable.
        assert_ne!(commit_digest(1, 2, 3, B256::ZERO), commit_digest(1, 3, 2, B256::ZERO));
    }

    #[test]
    fn a_quorum_verifies_and_round_trips() {
        let keys = signers(4);
        let set = set_of(&keys);
        let cert = certificate(&keys, &[0, 2, 3], 1337);
        assert_eq!(cert.verify(&set, 1337), Ok(()));
        let enc = alloy_rlp::encode(&cert);
        let back: CommitCertificate = crate::rlp_item::decode_exact(&enc).unwrap();
        assert_eq!(back, cert);
        assert_eq!(back.hash(), keccak256(&enc));
        // All four signers is fine too; a different subset is a different certificate.
        let all = certificate(&keys, &[0, 1, 2, 3], 1337);
        assert_eq!(all.verify(&set, 1337), Ok(()));
        assert_ne!(all.hash(), cert.hash());
    }

    #[test]
    fn single_validator_certifies_alone() {
        let keys = signers(1);
        let set = set_of(&keys);
        assert_eq!(certificate(&keys, &[0], 5).verify(&set, 5), Ok(()));
        assert_eq!(
            CommitCertificate { height: 1, view: 0, block_hash: B256::ZERO, signatures: Vec::new() }.verify(&set, 5),
            Err(CertificateError::TooFewSignatures { have: 0, need: 1 })
        );
    }

    #[test]
    fn too_few_signatures_are_refused() {
        let keys = signers(7);
        let set = set_of(&keys);
        assert_eq!(certificate(&keys, &[1, 4, 6], 1).verify(&set, 1), Err(CertificateError::TooFewSignatures { have: 3, need: 5 }));
        assert_eq!(certificate(&keys, &[0, 1, 2, 4, 6], 1).verify(&set, 1), Ok(()));
    }

    #[test]
    fn duplicate_and_unordered_signers_are_refused() {
        let keys = signers(4);
        let set = set_of(&keys);
        let mut cert = certificate(&keys, &[0, 1, 2], 1);
        // The same valid signature twice must not count twice.
        cert.signatures[2] = cert.signatures[1];
        assert_eq!(cert.verify(&set, 1), Err(CertificateError::DuplicateSigner { validator: 1 }));
        let unordered = certificate(&keys, &[2, 0, 1], 1);
        assert_eq!(unordered.verify(&set, 1), Err(CertificateError::UnorderedSigners { validator: 0 }));
        let out_of_range = certificate(&keys, &[0, 1, 2], 1);
        let mut out_of_range = out_of_range.clone();
        out_of_range.signatures[2].validator = 4;
        assert_eq!(out_of_range.verify(&set, 1), Err(CertificateError::UnknownValidator { validator: 4, len: 4 }));
    }

    #[test]
    fn forged_signatures_are_refused() {
        let keys = signers(4);
        let set = set_of(&keys);
        // Validator 3's signature attributed to validator 1.
        let mut cert = certificate(&keys, &[0, 1, 2], 1);
        let by_three = certificate(&keys, &[3, 0, 0], 1).signatures[0].signature;
        cert.signatures[1].signature = by_three;
        assert_eq!(cert.verify(&set, 1), Err(CertificateError::BadSignature { validator: 1 }));
        // An outsider's key in a validator's slot.
        let outsider = LocalSigner::from_bytes(&B256::repeat_byte(0x77)).unwrap();
        let mut cert = certificate(&keys, &[0, 1, 2], 1);
        cert.signatures[0].signature = outsider.sign_hash(&cert.digest(1)).unwrap().as_bytes();
        assert_eq!(cert.verify(&set, 1), Err(CertificateError::BadSignature { validator: 0 }));
        // A changed block hash, height or view invalidates every signature.
        let mut cert = certificate(&keys, &[0, 1, 2], 1);
        cert.block_hash = B256::repeat_byte(0xcd);
        assert_eq!(cert.verify(&set, 1), Err(CertificateError::BadSignature { validator: 0 }));
        let mut cert = certificate(&keys, &[0, 1, 2], 1);
        cert.view += 1;
        assert_eq!(cert.verify(&set, 1), Err(CertificateError::BadSignature { validator: 0 }));
        // A bad recovery byte.
        let mut cert = certificate(&keys, &[0, 1, 2], 1);
        cert.signatures[2].signature[64] = 5;
        assert_eq!(cert.verify(&set, 1), Err(CertificateError::BadSignature { validator: 2 }));
    }

    #[test]
    fn high_s_signatures_are_refused() {
        let keys = signers(4);
        let set = set_of(&keys);
        let mut cert = certificate(&keys, &[0, 1, 2], 1);
        let sig = cert.signatures[1].signature().unwrap();
        // (r, n - s, !v) recovers the same key; only the low-s form is accepted.
        let n = alloy_primitives::U256::from_be_slice(&alloy_primitives::hex!(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
        ));
        let high = Signature::new(sig.r(), n - sig.s(), !sig.v());
        assert_eq!(high.recover_address_from_prehash(&cert.digest(1)).unwrap(), keys[1].address());
        cert.signatures[1] = CertSignature::new(1, &high);
        assert_eq!(cert.verify(&set, 1), Err(CertificateError::BadSignature { validator: 1 }));
    }

    #[test]
    fn wrong_chain_id_is_refused() {
        let keys = signers(4);
        let set = set_of(&keys);
        let cert = certificate(&keys, &[0, 1, 3], 1);
        assert_eq!(cert.verify(&set, 2), Err(CertificateError::BadSignature { validator: 0 }));
    }

    #[test]
    fn garbage_does_not_decode() {
        for bytes in [&[][..], &[0xc0], &[0xc1, 0x80], &[0xff, 0xff], &[0xc4, 0x01, 0x02, 0x80, 0xc0]] {
            assert!(crate::rlp_item::decode_exact::<CommitCertificate>(bytes).is_err());
        }
    }
}
