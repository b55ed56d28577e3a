//! What every validator counts per claim: the signers it heard of (each vote from its
//! signer's own machine, over a link authenticated by the validator's key) and the
//! transaction from the request, until a quorum makes it hold the transaction as
//! certified. Keyed by the claim's digest (a false claim about a transaction cannot
//! shut the true one out) and bounded in time, count, bytes and per machine.

use std::{
    collections::{BTreeMap, VecDeque},
    time::{Duration, Instant},
};

use strata_primitives::{
    B256, Bytes, CertSignature, ValidatorSet,
    storage_cert::{PathStep, StorageCertificate, StoredClaim},
};

/// How long a claim's signers are counted after its first message.
pub(super) const TALLY_TTL: Duration = Duration::from_secs(30);

/// Most claims counted at once (beyond, the oldest are forgotten).
pub(super) const MAX_TALLIES: usize = 65_536;

/// Transaction bytes kept in tallies at most.
const MAX_TALLY_BYTES: usize = 64 << 20;

/// Tallies one machine may have open.
pub(super) const MAX_TALLIES_PER_ORIGIN: usize = MAX_TALLIES / 8;

/// The machine index standing for this node in [`Tally::origin`].
pub(super) const OWN: u32 = u32::MAX;

/// A signer's vote for a claim: its signature over its batch's root, the path from the
/// claim's digest to that root, and the height whose set it signed as (it counts only
/// for a claim of that height).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Vote {
    pub(super) signature: [u8; 65],
    pub(super) path: Vec<PathStep>,
    pub(super) height: u64,
}

impl Vote {
    /// What it takes in memory, roughly.
    fn size(&self) -> usize {
        96usize.saturating_add(self.path.len().saturating_mul(40))
    }
}

/// The signers of one claim as this validator has heard them.
pub(super) struct Tally {
    /// The claim, once a request brought it (checked as plausible).
    pub(super) claim: Option<StoredClaim>,
    /// The transaction, with the claim (checked against its hash).
    pub(super) raw: Option<Bytes>,
    pub(super) quorum: usize,
    /// Votes by validator, as their signers sent them (not checked).
    pub(super) votes: BTreeMap<u32, Vote>,
    /// Whether the transaction was handed to the chain to hold.
    pub(super) held: bool,
    /// The machine whose message opened it (quota).
    origin: u32,
    /// Bytes it keeps (transaction and votes).
    bytes: usize,
}

impl Tally {
    /// At a quorum, with the request known and not yet held: marks it held and returns
    /// the transaction and the certificate the votes make.
    pub(super) fn ready(&mut self) -> Option<(Bytes, StorageCertificate)> {
        let claim = self.claim?;
        if self.held || self.votes.len() < self.quorum {
            return None;
        }
        let votes: Vec<(&u32, &Vote)> = self.votes.iter().filter(|(_, v)| v.height == claim.height).collect();
        if votes.len() < self.quorum {
            return None;
        }
        let raw = self.raw.clone()?;
        let signatures = votes.iter().map(|(v, vote)| CertSignature { validator: **v, signature: vote.signature }).collect();
        let paths = votes.iter().map(|(_, vote)| vote.path.clone()).collect();
        self.held = true;
        Some((raw, StorageCertificate { claim, signatures, paths }))
    }
}

/// Every claim being counted, oldest first for expiry.
#[derive(Default)]
pub(super) struct Tallies {
    pub(super) by_claim: BTreeMap<B256, Tally>,
    pub(super) order: VecDeque<(Instant, B256)>,
    pub(super) bytes: usize,
    pub(super) opened: BTreeMap<u32, usize>,
}

impl Tallies {
    fn forget(&mut self, digest: &B256) {
        if let Some(t) = self.by_claim.remove(digest) {
            self.bytes = self.bytes.saturating_sub(t.bytes);
            if let Some(n) = self.opened.get_mut(&t.origin) {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// The tally of the claim whose digest is `digest`; a new one, opened by machine
    /// `origin`, if there is none and the bounds allow it.
    pub(super) fn of(&mut self, digest: B256, set: &ValidatorSet, origin: u32) -> Option<&mut Tally> {
        let now = Instant::now();
        while let Some((since, oldest)) = self.order.front().copied() {
            if now.duration_since(since) < TALLY_TTL && self.order.len() < MAX_TALLIES && self.bytes <= MAX_TALLY_BYTES {
                break;
            }
            self.order.pop_front();
            self.forget(&oldest);
        }
        if !self.by_claim.contains_key(&digest) {
            let opened = self.opened.entry(origin).or_default();
            if origin != OWN && *opened >= MAX_TALLIES_PER_ORIGIN {
                return None;
            }
            *opened += 1;
            self.order.push_back((now, digest));
            let tally = Tally { claim: None, raw: None, quorum: set.quorum(), votes: BTreeMap::new(), held: false, origin, bytes: 0 };
            self.by_claim.insert(digest, tally);
        }
        self.by_claim.get_mut(&digest)
    }

    /// Adds a request's claim and transaction to its tally.
    pub(super) fn request(&mut self, digest: B256, set: &ValidatorSet, origin: u32, claim: StoredClaim, raw: &Bytes) -> Option<&mut Tally> {
        let tally = self.of(digest, set, origin)?;
        let added = if tally.raw.is_none() {
            tally.claim = Some(claim);
            tally.raw = Some(raw.clone());
            raw.len()
        } else {
            0
        };
        tally.bytes = tally.bytes.saturating_add(added);
        self.bytes = self.bytes.saturating_add(added);
        self.by_claim.get_mut(&digest)
    }

    /// Adds validator `validator`'s vote to the tally of claim `digest` (opened by
    /// machine `origin` if new; its first vote kept).
    pub(super) fn vote(&mut self, digest: B256, set: &ValidatorSet, origin: u32, validator: u32, vote: Vote) -> Option<&mut Tally> {
        let tally = self.of(digest, set, origin)?;
        let mut added = 0;
        tally.votes.entry(validator).or_insert_with(|| {
            added = vote.size();
            vote
        });
        tally.bytes = tally.bytes.saturating_add(added);
        self.bytes = self.bytes.saturating_add(added);
        self.by_claim.get_mut(&digest)
    }
}

#[cfg(test)]
mod tests {
    use strata_primitives::{Address, storage_cert::stored_digest};

    use super::*;

    fn claim(height: u64) -> StoredClaim {
        StoredClaim { chain_id: 1, tx_hash: B256::repeat_byte(1), sender: Address::ZERO, nonce: 0, height, expiry: height + 8 }
    }

    #[test]
    fn tallies_are_per_claim_bounded_per_origin_and_forgotten_once_old() {
        let set = ValidatorSet::new((1..=4u8).map(Address::repeat_byte).collect());
        let mut tallies = Tallies::default();
        let (five, six) = (claim(5), claim(6));
        let vote = |b: u8, height: u64| Vote { signature: [b; 65], path: Vec::new(), height };
        assert_eq!(tallies.vote(stored_digest(&five), &set, 1, 0, vote(1, 5)).unwrap().quorum, 3);
        tallies.vote(stored_digest(&five), &set, 1, 0, vote(9, 5));
        // A false claim about the same transaction (another height) has a tally of its
        // own: it cannot shut the true one out.
        tallies.vote(stored_digest(&six), &set, 2, 0, vote(2, 6));
        assert_eq!(tallies.of(stored_digest(&five), &set, 1).unwrap().votes[&0].signature, [1; 65], "the first vote kept");
        assert_eq!(tallies.by_claim.len(), 2);
        // A quorum is ready only with the request's transaction, only from votes of the
        // claim's height, and only once.
        tallies.vote(stored_digest(&five), &set, 1, 1, vote(3, 5));
        let t = tallies.vote(stored_digest(&five), &set, 1, 3, vote(4, 4)).unwrap();
        assert!(t.ready().is_none(), "no transaction yet");
        let t = tallies.request(stored_digest(&five), &set, 1, five, &Bytes::from_static(b"tx")).unwrap();
        assert!(t.ready().is_none(), "validator 3 signed as another height's");
        let t = tallies.vote(stored_digest(&five), &set, 1, 2, vote(5, 5)).unwrap();
        let (raw, cert) = t.ready().unwrap();
        assert_eq!((raw.as_ref(), cert.claim, cert.signatures.len(), cert.paths.len()), (&b"tx"[..], five, 3, 3));
        assert_eq!(cert.signatures.iter().map(|s| s.validator).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert!(t.ready().is_none(), "held once");
        assert_eq!(tallies.bytes, 2 + 5 * 96);
        // One machine cannot open more than its share.
        for i in 0..MAX_TALLIES_PER_ORIGIN as u64 {
            let mut c = claim(5);
            c.nonce = i + 1;
            let _ = tallies.of(stored_digest(&c), &set, 3);
        }
        assert_eq!(tallies.opened[&3], MAX_TALLIES_PER_ORIGIN);
        let mut more = claim(5);
        more.nonce = u64::MAX;
        assert!(tallies.of(stored_digest(&more), &set, 3).is_none());
        assert!(tallies.of(stored_digest(&more), &set, OWN).is_some(), "this node's own claims are not held back");
        // Forgotten once old.
        for entry in tallies.order.iter_mut() {
            entry.0 = entry.0.checked_sub(TALLY_TTL).unwrap();
        }
        let fresh = claim(7);
        tallies.of(stored_digest(&fresh), &set, 3).unwrap();
        assert_eq!((tallies.by_claim.len(), tallies.order.len(), tallies.opened[&3], tallies.bytes), (1, 1, 1, 0));
        assert_eq!(tallies.opened[&1], 0);
    }
}
