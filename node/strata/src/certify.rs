//! Storage certificates on the validator's side.
//!
//! The receiving validator admits and journals a client's transaction
//! ([`Chain::admit_certified`], then one synced journal write for every certification
//! of the moment), signs the claim, and sends every validator the request
//! (`Wire::Certify`) and its signature (`Wire::Stored`). Each validator that admits and
//! journals the transaction too signs and sends its signature to **every** validator,
//! not only to the receiving one — so every validator counts the signers of a claim
//! itself, in one round:
//! - the receiving validator checks the signatures it puts in the client's
//!   certificate and answers once a quorum of the claim height's set has signed — or
//!   with an error once a quorum cannot come (too many refusals) or the time allowed
//!   has passed;
//! - every validator, once a quorum of validators have told it they signed, holds the
//!   transaction as certified ([`Chain::hold_certificate`]: from then on it refuses
//!   blocks that break the promise). Counting needs no signature recovery: each
//!   signature arrives from its signer over a link authenticated by that validator's
//!   key, and a validator that lies about its own signature could as well have signed.
//!
//! So if the receiving validator dies the moment it answers, the others still hold the
//! promise from each other's signatures. And since a faulty signer may send its vote to
//! the receiving validator alone, that one also sends the finished certificate to every
//! validator (`Wire::Confirmed`) before it answers: a validator that has not counted a
//! quorum itself checks the signatures it did not receive from their signers, and holds
//! it. A signature is given only after the synced
//! journal write, and at most once per `(sender, nonce)` ([`Chain::admit_certified`]
//! enforces it): no two certificates for one nonce without `f + 1` validators signing
//! twice. A sync node of a validator slot signs nothing (its slot's active machine does).

use std::{
    collections::{BTreeMap, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use strata_chain::{Certified, CertifyRefusal, Chain, run_on};
use strata_network::Transport;
use strata_primitives::{
    Address, B256, Bytes, CertSignature, LocalSigner, ValidatorSet,
    consensus::{K256, check_signers, recovers_to},
    keccak256,
    storage_cert::{StorageCertificate, StoredClaim, stored_digest},
};
use strata_rpc::{CertifyFailure, CertifyService};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::wire::{CertifyRequest, Confirmed, MAX_REASON, StoredRefusal, StoredVote, Wire};

/// How long a client waits for a quorum by default.
pub const CERTIFY_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a claim's signers are counted after its first message.
const TALLY_TTL: Duration = Duration::from_secs(30);

/// Most claims counted at once (beyond, the oldest are forgotten).
const MAX_TALLIES: usize = 65_536;

/// Signatures being gathered for one client's transaction (on its receiving validator).
struct Gathering {
    claim: StoredClaim,
    set: Arc<ValidatorSet>,
    signatures: BTreeMap<u32, [u8; 65]>,
    refusals: BTreeMap<u32, String>,
    done: Arc<Notify>,
}

impl Gathering {
    /// Whether no quorum can come any more: more validators refused than the set can spare.
    fn hopeless(&self) -> bool {
        let refused = self.refusals.keys().filter(|v| !self.signatures.contains_key(v)).count();
        refused > self.set.len().saturating_sub(self.set.quorum())
    }
}

/// The signers of one claim as this validator has heard them (every validator keeps
/// one per claim it is told about).
struct Tally {
    /// The transaction, once a request brought it (checked against the claim's hash).
    raw: Option<Bytes>,
    quorum: usize,
    /// Signatures by validator, as their signers sent them (not checked).
    votes: BTreeMap<u32, [u8; 65]>,
    /// Whether the transaction was handed to the chain to hold.
    held: bool,
    /// The machine whose message opened it (quota).
    origin: u32,
}

/// Every claim being counted, keyed by its digest (so a false claim about a
/// transaction cannot shut out the true one), oldest first for expiry. Bounded: claims
/// live [`TALLY_TTL`], at most [`MAX_TALLIES`] of them, [`MAX_TALLY_BYTES`] of
/// transactions, and [`MAX_TALLIES_PER_ORIGIN`] opened by any one machine.
#[derive(Default)]
struct Tallies {
    by_claim: BTreeMap<B256, Tally>,
    order: VecDeque<(Instant, B256)>,
    bytes: usize,
    opened: BTreeMap<u32, usize>,
}

/// Transaction bytes kept in tallies at most.
const MAX_TALLY_BYTES: usize = 64 << 20;

/// Tallies one machine may have open.
const MAX_TALLIES_PER_ORIGIN: usize = MAX_TALLIES / 8;

/// The machine index standing for this node in [`Tally::origin`].
const OWN: u32 = u32::MAX;

impl Tallies {
    fn forget(&mut self, digest: &B256) {
        if let Some(t) = self.by_claim.remove(digest) {
            self.bytes = self.bytes.saturating_sub(t.raw.map_or(0, |r| r.len()));
            if let Some(n) = self.opened.get_mut(&t.origin) {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// The tally of the claim whose [`stored_digest`] is `digest`; a new one, opened by
    /// machine `origin`, if there is none and the bounds allow it.
    fn of(&mut self, digest: B256, set: &ValidatorSet, origin: u32) -> Option<&mut Tally> {
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
            let tally = Tally { raw: None, quorum: set.quorum(), votes: BTreeMap::new(), held: false, origin };
            self.by_claim.insert(digest, tally);
        }
        self.by_claim.get_mut(&digest)
    }
}

/// Writes to the pool journal: a signed entry (synced before the signature is given:
/// the waiter is told), or a transaction now held as certified.
type JournalJob = (Certified, Option<oneshot::Sender<Result<(), String>>>);

/// A validator's certifier: shared by its RPC server (clients) and its driver (peers).
pub struct Certifier {
    chain: Arc<Chain>,
    key: LocalSigner,
    /// Our validator (slot) index.
    me: u32,
    /// Reaches every other validator (both machines of a slot).
    net: Arc<dyn Transport>,
    /// Reaches one machine (answers go back to the asking machine).
    machines: Arc<dyn Transport>,
    timeout: Duration,
    gathering: Mutex<BTreeMap<B256, Gathering>>,
    tallies: Mutex<Tallies>,
    journal: mpsc::UnboundedSender<JournalJob>,
}

impl std::fmt::Debug for Certifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certifier").field("me", &self.me).field("gathering", &self.gathering.lock().len()).finish()
    }
}

impl Certifier {
    /// The certifier of validator `me` with `key`.
    /// Must be called inside a tokio runtime (it starts the journal writer).
    pub fn new(chain: Arc<Chain>, key: LocalSigner, me: u32, net: Arc<dyn Transport>, machines: Arc<dyn Transport>) -> Arc<Self> {
        let (journal, queue) = mpsc::unbounded_channel();
        tokio::spawn(journal_writer(chain.clone(), queue));
        Arc::new(Self {
            chain,
            key,
            me,
            net,
            machines,
            timeout: CERTIFY_TIMEOUT,
            gathering: Mutex::new(BTreeMap::new()),
            tallies: Mutex::new(Tallies::default()),
            journal,
        })
    }

    fn chain_id(&self) -> u64 {
        self.chain.spec().chain_id
    }

    /// Our signature of `claim`, if our key is validator `me` of its height's set.
    fn sign(&self, claim: &StoredClaim, set: &ValidatorSet) -> Option<[u8; 65]> {
        if set.get(self.me) != Some(&self.key.address()) {
            return None;
        }
        self.key.sign_hash(&stored_digest(claim)).ok().map(|s| s.as_bytes())
    }

    /// The checks (on an admission thread), then the journal write (grouped with the
    /// other certifications of the moment into one synced write).
    async fn store(
        &self,
        raw: Bytes,
        height: u64,
        expected: Option<StoredClaim>,
    ) -> Result<Result<StoredClaim, CertifyRefusal>, CertifyFailure> {
        let chain = self.chain.clone();
        let admitted = run_on(&self.chain.pools().admission, move || chain.admit_certified(&raw, height, expected.as_ref()))
            .await
            .map_err(|e| CertifyFailure::Node(format!("admission threads: {e}")))?
            .map_err(|e| CertifyFailure::Node(e.to_string()))?;
        let entry = match admitted {
            Ok(entry) => entry,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let (durable, written) = oneshot::channel();
        let claim = entry.claim;
        self.journal.send((entry, Some(durable))).map_err(|_| CertifyFailure::Node("the journal writer stopped".into()))?;
        written
            .await
            .map_err(|_| CertifyFailure::Node("the journal writer stopped".into()))?
            .map_err(|e| CertifyFailure::Node(format!("journal write: {e}")))?;
        Ok(Ok(claim))
    }

    /// A peer asks us to store and sign (`from`: the asking machine).
    pub fn on_request(self: &Arc<Self>, from: u32, request: CertifyRequest) {
        let claim = request.claim;
        if claim.chain_id != self.chain_id() {
            return;
        }
        let Some(set) = self.chain.validator_sets().validators_at(claim.height) else { return };
        // Every machine counts the claim's signers (a sync node too: it may be active
        // before the transaction is due).
        self.count(&claim, &set, from, None, Some(&request.raw));
        // Only an active validator of the claim's height signs.
        if set.get(self.me) != Some(&self.key.address()) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            match this.store(request.raw, claim.height, Some(claim)).await {
                Ok(Ok(ours)) if ours == claim => {
                    if let Some(signature) = this.sign(&claim, &set) {
                        this.count(&claim, &set, OWN, Some((this.me, signature)), None);
                        this.net.broadcast(Wire::Stored(StoredVote { claim, validator: this.me, signature }).encode(this.chain_id()));
                    }
                }
                Ok(Ok(ours)) => {
                    let reason = format!("this validator certified the transaction as {ours:?}");
                    this.machines.send(from, refusal(claim.tx_hash, this.me, reason).encode(this.chain_id()));
                }
                Ok(Err(e)) => this.machines.send(from, refusal(claim.tx_hash, this.me, e.to_string()).encode(this.chain_id())),
                Err(e) => tracing::warn!(tx = %claim.tx_hash, error = %e, "certification request not served: node failure"),
            }
        });
    }

    /// A validator's signature of a claim, from machine `from`: counted towards the
    /// claim's quorum if `from` is a machine of the validator it names, and kept for a
    /// client's certificate (this node gathering it) if it verifies.
    pub fn on_vote(self: &Arc<Self>, from: u32, vote: StoredVote) {
        let claim = vote.claim;
        if claim.chain_id != self.chain_id() {
            return;
        }
        let Some(set) = self.chain.validator_sets().validators_at(claim.height) else { return };
        let slots = u32::try_from(set.len()).unwrap_or(u32::MAX).max(1);
        if set.get(vote.validator).is_some() && from % slots == vote.validator {
            self.count(&claim, &set, from, Some((vote.validator, vote.signature)), None);
        }
        let mut gathering = self.gathering.lock();
        let Some(g) = gathering.get_mut(&claim.tx_hash) else { return };
        let Some(expected) = g.set.get(vote.validator).copied() else { return };
        // Checked only while the certificate still needs it (a quorum is enough).
        let needed = g.signatures.len() < g.set.quorum();
        if !needed || g.claim != claim || g.signatures.contains_key(&vote.validator) || !valid(&vote.signature, &g.claim, &expected) {
            return;
        }
        g.signatures.insert(vote.validator, vote.signature);
        if g.signatures.len() >= g.set.quorum() {
            g.done.notify_one();
        }
    }

    /// Whether `claim` is one this chain would make now: its height near our head and
    /// its expiry the chain's (anything else is not counted).
    fn plausible(&self, claim: &StoredClaim) -> bool {
        let head = self.chain.head().1.number;
        claim.chain_id == self.chain_id()
            && claim.height.abs_diff(head) <= strata_chain::CLAIM_HEIGHT_SLACK
            && claim.expiry == claim.height.saturating_add(self.chain.spec().certified_expiry)
    }

    /// Counts a signer (`vote`) and/or the request's transaction (`raw`, if its hash is
    /// the claim's) in the tally of `claim` (`from`: the machine that told us); at a
    /// quorum with the transaction known, hands it to the chain to hold as certified.
    fn count(
        self: &Arc<Self>,
        claim: &StoredClaim,
        set: &Arc<ValidatorSet>,
        from: u32,
        vote: Option<(u32, [u8; 65])>,
        raw: Option<&Bytes>,
    ) {
        if !self.plausible(claim) {
            return;
        }
        let raw = raw.filter(|r| r.len() <= strata_chain::MAX_TX_SIZE && keccak256(r) == claim.tx_hash);
        let digest = stored_digest(claim);
        let ready = {
            let mut tallies = self.tallies.lock();
            let mut added = 0;
            let Some(tally) = tallies.of(digest, set, from) else { return };
            if let Some((validator, signature)) = vote {
                tally.votes.entry(validator).or_insert(signature);
            }
            if let Some(raw) = raw
                && tally.raw.is_none()
            {
                added = raw.len();
                tally.raw = Some(raw.clone());
            }
            let ready = if tally.held || tally.votes.len() < tally.quorum {
                None
            } else {
                tally.raw.clone().map(|raw| {
                    tally.held = true;
                    let signatures = tally.votes.iter().map(|(v, s)| CertSignature { validator: *v, signature: *s }).collect();
                    (raw, StorageCertificate { claim: *claim, signatures })
                })
            };
            tallies.bytes = tallies.bytes.saturating_add(added);
            ready
        };
        if let Some((raw, certificate)) = ready {
            self.hold(raw, certificate, Vec::new(), set.clone());
        }
    }

    /// Hands a certified transaction to the chain to hold (on an admission thread),
    /// after checking the signatures in `unvouched` (those not received from their
    /// signers) against `set`, and queues the journal entry. If it could not be held
    /// (admission busy, a node failure), its tally may try again.
    fn hold(self: &Arc<Self>, raw: Bytes, certificate: StorageCertificate, unvouched: Vec<CertSignature>, set: Arc<ValidatorSet>) {
        let this = self.clone();
        tokio::spawn(async move {
            let claim = certificate.claim;
            let chain = this.chain.clone();
            let held = run_on(&this.chain.pools().admission, move || {
                let forged = unvouched.iter().find(|s| !set.get(s.validator).is_some_and(|key| valid(&s.signature, &claim, key)));
                match forged {
                    Some(s) => Ok(Err(format!("validator {}'s signature does not verify", s.validator))),
                    None => chain.hold_certificate(&raw, &certificate),
                }
            })
            .await;
            let tx = claim.tx_hash;
            let retry = match held {
                Ok(Ok(Ok(Some(entry)))) => {
                    let _ = this.journal.send((entry, None));
                    false
                }
                Ok(Ok(Ok(None))) => false,
                Ok(Ok(Err(e))) => {
                    tracing::debug!(%tx, error = %e, "certified transaction not held");
                    false
                }
                Ok(Err(e)) => {
                    tracing::warn!(%tx, error = %e, "certified transaction not held: node failure");
                    true
                }
                Err(e) => {
                    tracing::warn!(%tx, error = %e, "certified transaction not held: admission busy");
                    true
                }
            };
            if retry && let Some(t) = this.tallies.lock().by_claim.get_mut(&stored_digest(&claim)) {
                t.held = false;
            }
        });
    }

    /// The certificate the receiving validator gathered: held, if this node has not
    /// counted a quorum itself, once the signatures it did not receive from their
    /// signers verify.
    pub fn on_confirmed(self: &Arc<Self>, from: u32, confirmed: Confirmed) {
        let Ok(certificate) = strata_primitives::rlp_item::decode_exact::<StorageCertificate>(&confirmed.certificate) else {
            tracing::debug!(from, "undecodable storage certificate dropped");
            return;
        };
        let claim = certificate.claim;
        if !self.plausible(&claim) || keccak256(&confirmed.raw) != claim.tx_hash {
            return;
        }
        let Some(set) = self.chain.validator_sets().validators_at(claim.height) else { return };
        if check_signers(certificate.signatures.iter().map(|s| s.validator), &set).is_err() {
            tracing::debug!(from, tx = %claim.tx_hash, "storage certificate without a quorum of distinct signers dropped");
            return;
        }
        let unvouched = {
            let mut tallies = self.tallies.lock();
            let tally = tallies.by_claim.get_mut(&stored_digest(&claim));
            if tally.as_ref().is_some_and(|t| t.held) {
                return;
            }
            let unvouched: Vec<CertSignature> = certificate
                .signatures
                .iter()
                .filter(|s| tally.as_ref().is_none_or(|t| t.votes.get(&s.validator) != Some(&s.signature)))
                .copied()
                .collect();
            // A certificate that fails its checks must not stop the tally from holding
            // on its own count: only one vouched for entirely marks it.
            if let Some(t) = tally
                && unvouched.is_empty()
            {
                t.held = true;
            }
            unvouched
        };
        self.hold(confirmed.raw, certificate, unvouched, set);
    }

    /// A refusal from machine `from`: noted if `from` is a machine of the validator it
    /// names (refusals are not signed: no peer may refuse in another's name); with
    /// enough of them, no quorum can come.
    pub fn on_refusal(&self, from: u32, refusal: StoredRefusal) {
        let mut gathering = self.gathering.lock();
        let Some(g) = gathering.get_mut(&refusal.tx_hash) else { return };
        let slots = u32::try_from(g.set.len()).unwrap_or(u32::MAX).max(1);
        if g.set.get(refusal.validator).is_none() || from % slots != refusal.validator {
            return;
        }
        g.refusals.insert(refusal.validator, refusal.reason);
        if g.hopeless() {
            g.done.notify_one();
        }
    }

    /// A client's transaction, certified through this validator: its storage
    /// certificate, or why none could be made.
    pub async fn certify(self: &Arc<Self>, raw: Bytes) -> Result<StorageCertificate, CertifyFailure> {
        self.gather(raw).await
    }

    async fn gather(self: &Arc<Self>, raw: Bytes) -> Result<StorageCertificate, CertifyFailure> {
        let head = self.chain.head().1.number;
        let claim = match self.store(raw.clone(), head, None).await? {
            Ok(claim) => claim,
            Err(e) => return Err(CertifyFailure::Refused(e.to_string())),
        };
        let set = self
            .chain
            .validator_sets()
            .validators_at(claim.height)
            .ok_or_else(|| CertifyFailure::Node(format!("no validator set known for height {}", claim.height)))?;
        let done = Arc::new(Notify::new());
        let own = self.sign(&claim, &set);
        {
            let mut gathering = self.gathering.lock();
            if gathering.contains_key(&claim.tx_hash) {
                return Err(CertifyFailure::Refused(format!("transaction {} is being certified already", claim.tx_hash)));
            }
            let signatures = own.map(|s| BTreeMap::from([(self.me, s)])).unwrap_or_default();
            gathering
                .insert(claim.tx_hash, Gathering { claim, set: set.clone(), signatures, refusals: BTreeMap::new(), done: done.clone() });
        }
        // Whatever ends this future (an answer, or the client going away), the entry goes.
        let _forget = Forget { gathering: &self.gathering, tx: claim.tx_hash };
        self.count(&claim, &set, OWN, own.map(|s| (self.me, s)), Some(&raw));
        self.net.broadcast(Wire::Certify(CertifyRequest { raw: raw.clone(), claim }).encode(self.chain_id()));
        if let Some(signature) = own {
            self.net.broadcast(Wire::Stored(StoredVote { claim, validator: self.me, signature }).encode(self.chain_id()));
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            {
                let gathering = self.gathering.lock();
                match gathering.get(&claim.tx_hash) {
                    Some(g) if g.signatures.len() < set.quorum() && !g.hopeless() => {}
                    _ => break,
                }
            }
            if tokio::time::timeout_at(deadline, done.notified()).await.is_err() {
                break;
            }
        }
        let Some(g) = self.gathering.lock().remove(&claim.tx_hash) else {
            return Err(CertifyFailure::Node("certification state lost".into()));
        };
        if g.signatures.len() >= set.quorum() {
            let signatures = g.signatures.iter().map(|(v, s)| CertSignature { validator: *v, signature: *s }).collect();
            tracing::info!(tx = %claim.tx_hash, signers = g.signatures.len(), "storage certificate");
            let certificate = StorageCertificate { claim, signatures };
            let encoded = strata_primitives::rlp::encode(&certificate).into();
            self.net.broadcast(Wire::Confirmed(Confirmed { raw, certificate: encoded }).encode(self.chain_id()));
            return Ok(certificate);
        }
        let reasons: Vec<String> = g.refusals.iter().map(|(v, r)| format!("validator {v}: {r}")).collect();
        Err(CertifyFailure::NoQuorum(format!(
            "{} of {} validators signed within {:?}, {} needed{}{}",
            g.signatures.len(),
            set.len(),
            self.timeout,
            set.quorum(),
            if reasons.is_empty() { "" } else { "; refused by " },
            reasons.join("; ")
        )))
    }
}

/// Removes a gathering when dropped.
struct Forget<'a> {
    gathering: &'a Mutex<BTreeMap<B256, Gathering>>,
    tx: B256,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.gathering.lock().remove(&self.tx);
    }
}

/// Writes queued journal entries: whatever has queued while the previous write ran goes
/// into the next one (one fsync for many certifications), then each waiter is told.
async fn journal_writer(chain: Arc<Chain>, mut queue: mpsc::UnboundedReceiver<JournalJob>) {
    while let Some(first) = queue.recv().await {
        let mut group = vec![first];
        while group.len() < 4096 {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let entries: Vec<Certified> = group.iter().map(|(e, _)| e.clone()).collect();
        let c = chain.clone();
        let outcome = match tokio::task::spawn_blocking(move || c.journal(&entries)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = &outcome {
            tracing::error!(error = %e, entries = group.len(), "pool journal write failed: nothing signed");
        }
        for (_, waiter) in group {
            if let Some(waiter) = waiter {
                let _ = waiter.send(outcome.clone());
            }
        }
    }
}

fn refusal(tx_hash: B256, validator: u32, mut reason: String) -> Wire {
    if reason.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    Wire::StoredRefused(StoredRefusal { tx_hash, validator, reason })
}

/// Whether `signature` is `expected`'s over `claim`.
fn valid(signature: &[u8; 65], claim: &StoredClaim, expected: &Address) -> bool {
    recovers_to(&K256, signature, &stored_digest(claim), expected)
}

/// The RPC's side: a client's transaction, certified through this validator.
#[derive(Debug, Clone)]
pub struct CertifyHandle(pub Arc<Certifier>);

#[jsonrpsee::core::async_trait]
impl CertifyService for CertifyHandle {
    async fn certify(&self, raw: Bytes) -> Result<StorageCertificate, CertifyFailure> {
        self.0.gather(raw).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(height: u64) -> StoredClaim {
        StoredClaim { chain_id: 1, tx_hash: B256::repeat_byte(1), sender: Address::ZERO, nonce: 0, height, expiry: height + 8 }
    }

    #[test]
    fn tallies_are_per_claim_bounded_per_origin_and_forgotten_once_old() {
        let set = ValidatorSet::new((1..=4u8).map(Address::repeat_byte).collect());
        let mut tallies = Tallies::default();
        let (five, six) = (claim(5), claim(6));
        let t = tallies.of(stored_digest(&five), &set, 1).unwrap();
        assert_eq!(t.quorum, 3);
        t.votes.entry(0).or_insert([1; 65]);
        // A false claim about the same transaction (another height) has a tally of its
        // own: it cannot shut the true one out.
        tallies.of(stored_digest(&six), &set, 2).unwrap().votes.entry(0).or_insert([2; 65]);
        assert_eq!(tallies.of(stored_digest(&five), &set, 1).unwrap().votes[&0], [1; 65]);
        assert_eq!(tallies.by_claim.len(), 2);
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
        // Forgotten once old (the first two, then everything opened before now).
        for entry in tallies.order.iter_mut() {
            entry.0 = entry.0.checked_sub(TALLY_TTL).unwrap();
        }
        let fresh = claim(7);
        tallies.of(stored_digest(&fresh), &set, 3).unwrap();
        assert_eq!((tallies.by_claim.len(), tallies.order.len(), tallies.opened[&3]), (1, 1, 1));
    }
}
