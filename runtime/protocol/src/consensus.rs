//! Consensus evidence: the validator set, the commit digest and commit certificates.
//!
//! Why here: a commit certificate is what makes a block final, and the next block's
//! header commits to it (`parent_commit_hash` is [`CommitCertificate::hash`]). The node,
//! the consensus core (`strata-consensus`), an offline auditor, a parent chain's
//! contract and a browser must encode, hash and verify it byte for byte alike, so it
//! lives in this `no_std` crate with the header. Each brings its own signature recovery
//! ([`Recover`]): k256 in the node (feature `k256`: [`K256`]), the `ecrecover` host
//! function in a contract.
//!
//! A chain is run by a fixed set of `n = 3f + 1` validators; a certificate holds at
//! least `n - f` (= `2f + 1`) signatures, by distinct validators, over
//! [`commit_digest`] of one block. Any two such sets share at least `f + 1`
//! validators, so two certificates for different blocks at one height would need
//! more than `f` validators to have signed twice.

use alloc::vec::Vec;
use alloy_primitives::{Address, B256, Signature, U256, keccak256};
use alloy_rlp::{Encodable, RlpDecodable, RlpEncodable};

/// Recovers the signer of a 65-byte `r ‖ s ‖ v` signature (`v` = 27, 28, 0 or 1) over a
/// 32-byte digest. Implementations need not check `s`: [`recovers_to`] does.
pub trait Recover {
    /// The address whose key made `signature` over `digest`, if it recovers at all.
    fn recover(&self, digest: &B256, signature: &[u8; 65]) -> Option<Address>;
}

/// Recovery with k256, as the node does it.
#[cfg(feature = "k256")]
#[derive(Debug, Clone, Copy, Default)]
pub struct K256;

#[cfg(feature = "k256")]
impl Recover for K256 {
    fn recover(&self, digest: &B256, signature: &[u8; 65]) -> Option<Address> {
        crate::recover::recover_address(digest, &Signature::from_raw_array(signature).ok()?)
    }
}

/// Half the secp256k1 group order: a signature's `s` must not exceed it (EIP-2), so each
/// signed message has exactly one valid signature encoding.
const SECP256K1N_HALF: U256 =
    U256::from_be_bytes(alloy_primitives::hex!("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0"));

/// Whether `signature`'s `s` is non-zero and in the lower half of the group order.
pub fn is_low_s(signature: &[u8; 65]) -> bool {
    let s = U256::from_be_slice(&signature[32..64]);
    !s.is_zero() && s <= SECP256K1N_HALF
}

/// Whether `signature` over `digest` is a low-`s` signature by `expected`.
pub fn recovers_to(recover: &impl Recover, signature: &[u8; 65], digest: &B256, expected: &Address) -> bool {
    is_low_s(signature) && recover.recover(digest, signature).is_some_and(|a| &a == expected)
}

/// Domain tag of [`commit_digest`]: a commit signature can never be mistaken for any
/// other signed message (transactions, other consensus messages, other versions).
pub const COMMIT_DOMAIN: &str = "strata/commit/v1";

/// The validators of a chain, in index order: a validator is named by its index
/// (`u32`) in consensus messages and certificates.
///
/// Its RLP encoding is the address list only: the proposer rotation is a chain
/// parameter, not part of what certificates and audits name.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct ValidatorSet {
    /// The validators' addresses; index `i` is validator `i`.
    pub validators: Vec<Address>,
    /// How the proposer moves from height to height (see [`select_proposer`]).
    #[rlp(skip)]
    #[rlp(default)]
    pub rotation: ProposerRotation,
}

/// How the proposer of a height is chosen among a [`ValidatorSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProposerRotation {
    /// Round-robin by height, as CometBFT does: the proposer of `(height, view)` is
    /// validator `(height + view) mod n`. Consecutive blocks come from different
    /// proposers, so no one proposer decides for long which transactions and which
    /// liveness evidence the chain records (the validator-slot switch rule counts on it).
    #[default]
    ByHeight,
    /// The classic PBFT primary: validator `view mod n`, the same for every height until
    /// a view change replaces it (kept as the baseline rotation is measured against).
    Stable,
}

impl ValidatorSet {
    /// A set of these validators, in this order, with the default rotation.
    pub fn new(validators: Vec<Address>) -> Self {
        Self { validators, rotation: ProposerRotation::default() }
    }

    /// This set with the proposer rotation `rotation`.
    pub fn with_rotation(mut self, rotation: ProposerRotation) -> Self {
        self.rotation = rotation;
        self
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

/// The proposer (PBFT primary) of `view` at `height` among `set`: the one
/// proposer-selection rule, used by the consensus core, the driver and block validation.
/// By [`ValidatorSet::rotation`]: validator `(height + view) mod n` (round-robin by
/// height), or `view mod n` (a stable primary). A validator set that changes by height
/// changes who that is.
pub fn select_proposer(set: &ValidatorSet, height: u64, view: u64) -> u32 {
    match set.rotation {
        ProposerRotation::ByHeight => set.primary(height.wrapping_add(view)),
        ProposerRotation::Stable => set.primary(view),
    }
}

/// Where the validators of each height come from: the node implements it (today a
/// fixed set from genesis; with validator slots, the chain's state), and the consensus
/// core, the driver and block validation ask it for every height they handle.
pub trait ValidatorSets: Send + Sync + core::fmt::Debug {
    /// The validators deciding `height` (`None`: not known yet, e.g. a height whose set
    /// depends on blocks not yet committed).
    fn validators_at(&self, height: u64) -> Option<alloc::sync::Arc<ValidatorSet>>;
}

/// The same validators at every height (a chain whose set is fixed at genesis).
#[derive(Debug, Clone)]
pub struct FixedValidators(pub alloc::sync::Arc<ValidatorSet>);

impl FixedValidators {
    /// `set` at every height.
    pub fn new(set: ValidatorSet) -> Self {
        Self(alloc::sync::Arc::new(set))
    }
}

impl ValidatorSets for FixedValidators {
    fn validators_at(&self, _height: u64) -> Option<alloc::sync::Arc<ValidatorSet>> {
        Some(self.0.clone())
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
    /// a low-`s` signature recovering (with `recover`) to the validator at its index.
    /// Structure is checked before any signature is recovered.
    pub fn verify_with(&self, set: &ValidatorSet, chain_id: u64, recover: &impl Recover) -> Result<(), CertificateError> {
        if set.is_empty() {
            return Err(CertificateError::EmptyValidatorSet);
        }
        check_signers(self.signatures.iter().map(|s| s.validator), set)?;
        let digest = self.digest(chain_id);
        for s in &self.signatures {
            let expected = set.get(s.validator).ok_or(CertificateError::UnknownValidator { validator: s.validator, len: set.len() })?;
            if !recovers_to(recover, &s.signature, &digest, expected) {
                return Err(CertificateError::BadSignature { validator: s.validator });
            }
        }
        Ok(())
    }

    /// [`CommitCertificate::verify_with`] k256 recovery.
    #[cfg(feature = "k256")]
    pub fn verify(&self, set: &ValidatorSet, chain_id: u64) -> Result<(), CertificateError> {
        self.verify_with(set, chain_id, &K256)
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
