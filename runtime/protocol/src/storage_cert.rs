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

use alloy_primitives::{Address, B256, U256, keccak256};
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

/// Domain tag of the inner nodes of a batch tree ([`batch_root`]).
pub const STORED_NODE_DOMAIN: &str = "strata/stored-node/v1";

/// Most claims one signature covers.
pub const MAX_BATCH: usize = 256;

/// The longest path from a claim to its batch's root (`MAX_BATCH` leaves: 8 levels).
pub const MAX_PATH: usize = 8;

/// One step from a claim's digest up to the root a validator signed: the sibling, and
/// whether it is the left one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct PathStep {
    /// Whether the sibling is on the left.
    pub left: bool,
    /// The sibling's hash.
    pub sibling: B256,
}

/// An inner node of a batch tree: `keccak256(node domain ‖ left ‖ right)` (its own
/// domain: never a claim's digest, a vote or a transaction).
pub fn node_hash(left: &B256, right: &B256) -> B256 {
    let mut buf = Vec::with_capacity(STORED_NODE_DOMAIN.len() + 64);
    buf.extend_from_slice(STORED_NODE_DOMAIN.as_bytes());
    buf.extend_from_slice(left.as_slice());
    buf.extend_from_slice(right.as_slice());
    keccak256(buf)
}

/// A batch tree: the levels from the claims' digests (leaves, in the batch's order) up
/// to the root a validator signs. Pairs are hashed level by level ([`node_hash`]), an
/// odd last node is carried up unchanged; one claim's root is its digest (a batch of
/// one is signed exactly as a lone claim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchTree {
    levels: Vec<Vec<B256>>,
}

impl BatchTree {
    /// The tree over `leaves`.
    pub fn new(leaves: &[B256]) -> Self {
        let mut levels = alloc::vec![leaves.to_vec()];
        while let Some(level) = levels.last().filter(|l| l.len() > 1) {
            let up = level
                .chunks(2)
                .map(|pair| if let [l, r] = pair { node_hash(l, r) } else { pair.first().copied().unwrap_or_default() })
                .collect();
            levels.push(up);
        }
        Self { levels }
    }

    /// The root (zero for no leaves).
    pub fn root(&self) -> B256 {
        self.levels.last().and_then(|l| l.first()).copied().unwrap_or(B256::ZERO)
    }

    /// The path from leaf `index` to the root (empty for a batch of one, or an index
    /// out of range).
    pub fn path(&self, mut index: usize) -> Vec<PathStep> {
        let mut path = Vec::new();
        if self.levels.first().is_none_or(|leaves| index >= leaves.len()) {
            return path;
        }
        for level in self.levels.iter().take(self.levels.len().saturating_sub(1)) {
            let sibling = index ^ 1;
            if let Some(s) = level.get(sibling) {
                path.push(PathStep { left: sibling < index, sibling: *s });
            }
            index /= 2;
        }
        path
    }
}

/// The root of the batch `leaves` ([`BatchTree::root`]).
pub fn batch_root(leaves: &[B256]) -> B256 {
    BatchTree::new(leaves).root()
}

/// The path of leaf `index` of `leaves` ([`BatchTree::path`]).
pub fn batch_path(leaves: &[B256], index: usize) -> Vec<PathStep> {
    BatchTree::new(leaves).path(index)
}

/// The root `path` leads to from `leaf`.
pub fn fold_path(leaf: B256, path: &[PathStep]) -> B256 {
    path.iter().fold(leaf, |node, step| if step.left { node_hash(&step.sibling, &node) } else { node_hash(&node, &step.sibling) })
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
    /// A path longer than any batch of [`MAX_BATCH`] claims has.
    #[error("a batch path of {0} steps (at most {MAX_PATH})")]
    PathTooLong(usize),
    /// Paths given, but not one per signature.
    #[error("{paths} batch paths for {signatures} signatures")]
    Paths {
        /// Paths.
        paths: usize,
        /// Signatures.
        signatures: usize,
    },
}

/// A claim with the signatures of a quorum of the validators of its height, in strictly
/// increasing validator order. A validator signs the [`batch_root`] of the claims it
/// stored together; `paths[i]` leads from this claim's digest to the root signer `i`
/// signed (no paths at all: every signer signed the claim's digest itself).
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StorageCertificate {
    /// What the signers state.
    pub claim: StoredClaim,
    /// Their signatures over the roots of their batches.
    pub signatures: Vec<CertSignature>,
    /// Per signature, the path from [`stored_digest`]`(claim)` to the root it signed.
    pub paths: Vec<Vec<PathStep>>,
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
        if !self.paths.is_empty() && self.paths.len() != self.signatures.len() {
            return Err(StoredError::Paths { paths: self.paths.len(), signatures: self.signatures.len() });
        }
        if let Some(long) = self.paths.iter().map(Vec::len).find(|len| *len > MAX_PATH) {
            return Err(StoredError::PathTooLong(long));
        }
        let digest = stored_digest(&self.claim);
        for (i, s) in self.signatures.iter().enumerate() {
            let expected = set.get(s.validator).ok_or(CertificateError::UnknownValidator { validator: s.validator, len: set.len() })?;
            let root = self.paths.get(i).map_or(digest, |path| fold_path(digest, path));
            if !recovers_to(recover, &s.signature, &root, expected) {
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

/// The header extension kind ([`crate::header::HeaderExtension`]) of a block's
/// [`Resolution`]s.
pub const RESOLUTIONS_KIND: u64 = 1;

/// Most [`Resolution`]s one block carries.
pub const MAX_RESOLUTIONS: usize = 1024;

/// Why a certified transaction due by a block cannot go in it — a fact of the state
/// after the block that every validator checks, never the proposer's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Unincludable {
    /// The sender's nonce is past the transaction's: another transaction took it.
    NonceUsed = 1,
    /// The sender's nonce is below the transaction's: an earlier nonce never came.
    NonceGap = 2,
    /// The sender's balance is below the transaction's cost (`amount`:
    /// `value + gasLimit × maxFeePerGas`).
    Unaffordable = 3,
    /// The block's base fee is above the transaction's fee cap (`amount`:
    /// `maxFeePerGas`).
    Underpriced = 4,
    /// The block has no gas left for it (`amount`: its gas limit) — only after every
    /// certified transaction that fits, which proposers put first.
    NoRoom = 5,
}

impl Unincludable {
    /// The reason of a record's byte.
    pub fn from_u8(byte: u8) -> Option<Self> {
        Some(match byte {
            1 => Self::NonceUsed,
            2 => Self::NonceGap,
            3 => Self::Unaffordable,
            4 => Self::Underpriced,
            5 => Self::NoRoom,
            _ => return None,
        })
    }

    /// Words for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::NonceUsed => "another transaction of the sender took its nonce",
            Self::NonceGap => "an earlier nonce of the sender never came",
            Self::Unaffordable => "the sender's balance no longer covers it",
            Self::Underpriced => "the base fee rose above its fee cap",
            Self::NoRoom => "the block had no gas left for it",
        }
    }
}

/// What a transaction's resolution depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxFacts {
    /// Its nonce.
    pub nonce: u64,
    /// `value + gasLimit × maxFeePerGas`.
    pub cost: U256,
    /// `maxFeePerGas`.
    pub max_fee: u128,
    /// Its gas limit.
    pub gas: u64,
}

/// What a block's end says about its sender (the state after the block) and itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfterBlock {
    /// The sender's nonce.
    pub nonce: u64,
    /// The sender's balance.
    pub balance: U256,
    /// The block's base fee.
    pub base_fee: u64,
    /// Gas the block leaves unused.
    pub gas_left: u64,
}

/// A block's statement that a certified transaction due by it is not in it, and why:
/// kept in the header ([`RESOLUTIONS_KIND`]), so a certificate's holder proves the
/// outcome with the header and its commit certificate as an included transaction's
/// holder does with a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Resolution {
    /// The certified transaction.
    pub tx_hash: B256,
    /// Its sender.
    pub sender: Address,
    /// Its nonce.
    pub nonce: u64,
    /// An [`Unincludable`] reason.
    pub reason: u8,
    /// The transaction's figure the reason compares (see [`Unincludable`]; zero for the
    /// nonce reasons).
    pub amount: U256,
}

impl Resolution {
    /// The resolution of transaction `tx_hash` of `sender` (`facts`) at the end of a
    /// block (`after`), if it cannot go in: the first reason that holds, in the order
    /// of [`Unincludable`]'s variants.
    pub fn decide(tx_hash: B256, sender: Address, facts: &TxFacts, after: &AfterBlock) -> Option<Self> {
        let (reason, amount) = if after.nonce > facts.nonce {
            (Unincludable::NonceUsed, U256::ZERO)
        } else if after.nonce < facts.nonce {
            (Unincludable::NonceGap, U256::ZERO)
        } else if after.balance < facts.cost {
            (Unincludable::Unaffordable, facts.cost)
        } else if facts.max_fee < u128::from(after.base_fee) {
            (Unincludable::Underpriced, U256::from(facts.max_fee))
        } else if facts.gas > after.gas_left {
            (Unincludable::NoRoom, U256::from(facts.gas))
        } else {
            return None;
        };
        Some(Self { tx_hash, sender, nonce: facts.nonce, reason: reason as u8, amount })
    }

    /// Whether the stated reason holds at the end of the block (`after`): what every
    /// validator checks. (That `amount` is the transaction's own figure only a holder
    /// of the transaction can check: [`Resolution::matches`].)
    pub fn holds(&self, after: &AfterBlock) -> bool {
        match Unincludable::from_u8(self.reason) {
            Some(Unincludable::NonceUsed) => after.nonce > self.nonce && self.amount.is_zero(),
            Some(Unincludable::NonceGap) => after.nonce < self.nonce && self.amount.is_zero(),
            Some(Unincludable::Unaffordable) => after.nonce == self.nonce && after.balance < self.amount,
            Some(Unincludable::Underpriced) => after.nonce == self.nonce && self.amount < U256::from(after.base_fee),
            Some(Unincludable::NoRoom) => after.nonce == self.nonce && self.amount > U256::from(after.gas_left),
            None => false,
        }
    }

    /// Whether the entry describes the transaction `facts` of `sender` (its nonce, and
    /// the figure its reason compares).
    pub fn matches(&self, sender: &Address, facts: &TxFacts) -> bool {
        let amount = match Unincludable::from_u8(self.reason) {
            Some(Unincludable::NonceUsed | Unincludable::NonceGap) => U256::ZERO,
            Some(Unincludable::Unaffordable) => facts.cost,
            Some(Unincludable::Underpriced) => U256::from(facts.max_fee),
            Some(Unincludable::NoRoom) => U256::from(facts.gas),
            None => return false,
        };
        self.sender == *sender && self.nonce == facts.nonce && self.amount == amount
    }

    /// The reason, if the byte names one.
    pub fn reason(&self) -> Option<Unincludable> {
        Unincludable::from_u8(self.reason)
    }
}

/// Why a header's resolution record is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolutionsError {
    /// The extension does not decode as a list of resolutions.
    #[error("the resolutions do not decode: {0}")]
    Decode(alloc::string::String),
    /// More entries than [`MAX_RESOLUTIONS`].
    #[error("{0} resolutions, more than {MAX_RESOLUTIONS}")]
    TooMany(usize),
    /// Not in strictly increasing transaction-hash order (or a transaction twice).
    #[error("the resolutions are not in strictly increasing transaction order")]
    Unordered,
    /// An empty list (a block without resolutions carries no extension).
    #[error("an empty resolution record")]
    Empty,
}

/// The resolutions `header` carries (none without the extension), checked for shape:
/// a non-empty list within [`MAX_RESOLUTIONS`], strictly increasing by transaction.
pub fn resolutions(header: &crate::header::Header) -> Result<Vec<Resolution>, ResolutionsError> {
    let Some(ext) = header.extensions.iter().find(|e| e.kind == RESOLUTIONS_KIND) else { return Ok(Vec::new()) };
    let list = crate::rlp_item::decode_exact::<Vec<Resolution>>(&ext.data).map_err(|e| ResolutionsError::Decode(alloc::format!("{e}")))?;
    if list.is_empty() {
        return Err(ResolutionsError::Empty);
    }
    if list.len() > MAX_RESOLUTIONS {
        return Err(ResolutionsError::TooMany(list.len()));
    }
    if list.windows(2).any(|w| w[0].tx_hash >= w[1].tx_hash) {
        return Err(ResolutionsError::Unordered);
    }
    Ok(list)
}

/// The header extension carrying `list` (sorted here), `None` when it is empty.
pub fn resolutions_extension(mut list: Vec<Resolution>) -> Option<crate::header::HeaderExtension> {
    if list.is_empty() {
        return None;
    }
    list.sort_by_key(|r| r.tx_hash);
    list.dedup_by_key(|r| r.tx_hash);
    list.truncate(MAX_RESOLUTIONS);
    Some(crate::header::HeaderExtension { kind: RESOLUTIONS_KIND, data: alloy_rlp::encode(&list).into() })
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
        StorageCertificate { claim: claim(), signatures, paths: Vec::new() }
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
    fn a_claim_signed_in_a_batch_verifies_through_its_path_and_nowhere_else() {
        let set = ValidatorSet::new(keys());
        let mut claims: Vec<StoredClaim> = (0..5u64).map(|n| StoredClaim { nonce: n, ..claim() }).collect();
        claims[3] = claim();
        let leaves: Vec<B256> = claims.iter().map(stored_digest).collect();
        let root = batch_root(&leaves);
        for (i, leaf) in leaves.iter().enumerate() {
            assert_eq!(fold_path(*leaf, &batch_path(&leaves, i)), root, "leaf {i}");
        }
        assert_eq!(batch_root(&leaves[..1]), leaves[0], "a batch of one is its claim");
        assert!(batch_path(&leaves[..1], 0).is_empty() && batch_path(&leaves, 9).is_empty());
        // Validators 0 and 3 signed the whole batch, validator 1 only a part with it.
        let part = [leaves[3], leaves[4]];
        let roots = [root, batch_root(&part), B256::ZERO, root];
        let paths = [batch_path(&leaves, 3), batch_path(&part, 0), Vec::new(), batch_path(&leaves, 3)];
        let cert = |signers: &[u32]| StorageCertificate {
            claim: claim(),
            signatures: signers
                .iter()
                .map(|&i| CertSignature { validator: i, signature: sign(keys()[i as usize], &roots[i as usize]) })
                .collect(),
            paths: signers.iter().map(|&i| paths[i as usize].clone()).collect(),
        };
        cert(&[0, 1, 3]).verify_with(&set, 7, &Fake).unwrap();
        // Another claim of the batch cannot borrow the signatures, nor a path another's.
        let mut other = cert(&[0, 1, 3]);
        other.claim = claims[0];
        assert!(other.verify_with(&set, 7, &Fake).is_err());
        let mut swapped = cert(&[0, 1, 3]);
        swapped.paths.swap(0, 1);
        assert!(swapped.verify_with(&set, 7, &Fake).is_err());
        let mut long = cert(&[0, 1, 3]);
        long.paths[0] = alloc::vec![PathStep { left: false, sibling: B256::ZERO }; MAX_PATH + 1];
        assert_eq!(long.verify_with(&set, 7, &Fake), Err(StoredError::PathTooLong(MAX_PATH + 1)));
        let mut short = cert(&[0, 1, 3]);
        short.paths.pop();
        assert!(matches!(short.verify_with(&set, 7, &Fake), Err(StoredError::Paths { paths: 2, signatures: 3 })));
        // An inner node is never a claim's digest: the domains differ.
        assert_ne!(node_hash(&leaves[0], &leaves[1]), keccak256([leaves[0].as_slice(), leaves[1].as_slice()].concat()));
    }

    fn after(nonce: u64, balance: u64) -> AfterBlock {
        AfterBlock { nonce, balance: U256::from(balance), base_fee: 7, gas_left: 30_000 }
    }

    #[test]
    fn a_resolution_is_decided_from_the_state_after_the_block_and_checked_against_it() {
        let facts = TxFacts { nonce: 3, cost: U256::from(1_000u64), max_fee: 10, gas: 21_000 };
        let (hash, sender) = (B256::repeat_byte(1), Address::repeat_byte(2));
        let decide = |a: &AfterBlock| Resolution::decide(hash, sender, &facts, a).map(|r| (r.reason(), r.amount));
        assert_eq!(decide(&after(3, 1_000)), None, "includable: no resolution");
        assert_eq!(decide(&after(4, 1_000)), Some((Some(Unincludable::NonceUsed), U256::ZERO)));
        assert_eq!(decide(&after(2, 1_000)), Some((Some(Unincludable::NonceGap), U256::ZERO)));
        assert_eq!(decide(&after(3, 999)), Some((Some(Unincludable::Unaffordable), U256::from(1_000u64))));
        let pricey = AfterBlock { base_fee: 11, ..after(3, 1_000) };
        assert_eq!(decide(&pricey), Some((Some(Unincludable::Underpriced), U256::from(10u64))));
        let full = AfterBlock { gas_left: 20_999, ..after(3, 1_000) };
        assert_eq!(decide(&full), Some((Some(Unincludable::NoRoom), U256::from(21_000u64))));
        // Every decided resolution holds where it was decided, describes the transaction,
        // and fails where its reason does not hold.
        for a in [after(4, 1_000), after(2, 1_000), after(3, 999), pricey, full] {
            let r = Resolution::decide(hash, sender, &facts, &a).unwrap();
            assert!(r.holds(&a) && r.matches(&sender, &facts));
            assert!(!r.holds(&after(3, 1_000)), "{r:?} does not hold for an includable transaction");
            assert!(!r.matches(&Address::ZERO, &facts));
        }
        // A proposer's made-up figure: holds against the state, but is not the transaction's.
        let inflated = Resolution { amount: U256::from(5_000u64), ..Resolution::decide(hash, sender, &facts, &after(3, 999)).unwrap() };
        assert!(inflated.holds(&after(3, 4_000)) && !inflated.matches(&sender, &facts));
        assert!(!Resolution { reason: 9, ..inflated }.holds(&after(3, 0)));
    }

    #[test]
    fn a_header_carries_resolutions_sorted_in_its_extension() {
        use crate::header::{Header, HeaderExtension};
        let entry = |b: u8| Resolution { tx_hash: B256::repeat_byte(b), sender: Address::ZERO, nonce: 0, reason: 2, amount: U256::ZERO };
        let mut header = Header::default();
        assert_eq!(resolutions(&header), Ok(Vec::new()));
        assert!(resolutions_extension(Vec::new()).is_none());
        header.extensions.push(resolutions_extension(vec![entry(3), entry(1), entry(3)]).unwrap());
        assert_eq!(resolutions(&header), Ok(vec![entry(1), entry(3)]));
        header.extensions[0] = HeaderExtension { kind: RESOLUTIONS_KIND, data: alloy_rlp::encode(vec![entry(3), entry(1)]).into() };
        assert_eq!(resolutions(&header), Err(ResolutionsError::Unordered));
        header.extensions[0].data = alloy_rlp::encode(Vec::<Resolution>::new()).into();
        assert_eq!(resolutions(&header), Err(ResolutionsError::Empty));
        header.extensions[0].data = alloc::vec![0xff].into();
        assert!(matches!(resolutions(&header), Err(ResolutionsError::Decode(_))));
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
