//! Storage certificates on the validator's side: the receiving validator admits and
//! journals a client's transaction ([`Chain::certify`]), signs the claim, asks every
//! other validator to do the same (`Wire::Certify`), and gathers their signatures
//! (`Wire::Stored`) until a quorum of the claim height's set has signed — or answers
//! with an error once a quorum cannot come (too many refusals) or the time allowed has
//! passed. A validator asked by a peer runs the same checks and journal write before it
//! signs, on the admission threads; a sync node of a validator slot does not answer.
//!
//! A signature is given only after the synced journal write, and at most once per
//! `(sender, nonce)` ([`Chain::certify`] enforces it): no two certificates for one nonce
//! without `f + 1` validators signing twice.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use parking_lot::Mutex;
use strata_chain::{Certified, CertifyRefusal, Chain, run_on};
use strata_network::Transport;
use strata_primitives::{
    Address, B256, Bytes, CertSignature, LocalSigner, ValidatorSet,
    consensus::{K256, recovers_to},
    storage_cert::{StorageCertificate, StoredClaim, stored_digest},
};
use strata_rpc::{CertifyFailure, CertifyService};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::wire::{CertifyRequest, Confirmed, Held, MAX_REASON, StoredRefusal, StoredVote, Wire};

/// How long a client waits for a quorum by default.
pub const CERTIFY_TIMEOUT: Duration = Duration::from_secs(3);

/// Signatures being gathered for one transaction.
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

/// A certificate this node gathered, waiting for validators to hold it as binding.
struct Binding {
    /// The size of the claim height's set.
    slots: usize,
    /// The validators that said they hold it.
    holders: std::collections::BTreeSet<u32>,
    done: Arc<Notify>,
}

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
    /// Certificates this node gathered, waiting for a quorum to hold them as binding:
    /// the validators that said so, and whom to wake.
    held: Mutex<BTreeMap<B256, Binding>>,
    /// Entries to write to the journal, each with whom to tell when it is durable.
    journal: mpsc::UnboundedSender<(Certified, oneshot::Sender<Result<(), String>>)>,
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
            held: Mutex::new(BTreeMap::new()),
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
        self.journal.send((entry, durable)).map_err(|_| CertifyFailure::Node("the journal writer stopped".into()))?;
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
        // Only an active validator of the claim's height signs; a sync node stays silent
        // (its slot's active machine answers).
        let Some(set) = self.chain.validator_sets().validators_at(claim.height) else { return };
        if set.get(self.me) != Some(&self.key.address()) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let answer = match this.store(request.raw, claim.height, Some(claim)).await {
                Ok(Ok(ours)) if ours == claim => match this.sign(&claim, &set) {
                    Some(signature) => Wire::Stored(StoredVote { tx_hash: claim.tx_hash, validator: this.me, signature }),
                    None => return,
                },
                Ok(Ok(ours)) => refusal(claim.tx_hash, this.me, format!("this validator certified the transaction as {ours:?}")),
                Ok(Err(e)) => refusal(claim.tx_hash, this.me, e.to_string()),
                Err(e) => {
                    tracing::warn!(tx = %claim.tx_hash, error = %e, "certification request not served: node failure");
                    return;
                }
            };
            this.machines.send(from, answer.encode(this.chain_id()));
        });
    }

    /// A certificate another validator gathered: checked and held as confirmed (the
    /// chain is bound to it from then on), on the admission threads.
    /// Answered with `Wire::Held` once held, if this node is an active validator of the
    /// certificate's height.
    pub fn on_confirmed(self: &Arc<Self>, from: u32, confirmed: Confirmed) {
        let Ok(certificate) = strata_primitives::rlp_item::decode_exact::<StorageCertificate>(&confirmed.certificate) else {
            tracing::debug!(from, "undecodable storage certificate dropped");
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
            let tx_hash = certificate.claim.tx_hash;
            let height = certificate.claim.height;
            if this.confirm(confirmed.raw, certificate).await
                && this.chain.validator_sets().validators_at(height).is_some_and(|set| set.get(this.me) == Some(&this.key.address()))
            {
                this.machines.send(from, Wire::Held(Held { tx_hash, validator: this.me }).encode(this.chain_id()));
            }
        });
    }

    /// A validator holds a certificate this node gathered (counted if `from` is a
    /// machine of the validator it names).
    pub fn on_held(&self, from: u32, held: Held) {
        let mut waiting = self.held.lock();
        let Some(b) = waiting.get_mut(&held.tx_hash) else { return };
        let slots = u32::try_from(b.slots).unwrap_or(u32::MAX).max(1);
        if held.validator < slots && from % slots == held.validator {
            b.holders.insert(held.validator);
            b.done.notify_one();
        }
    }

    /// Holds `certificate` as confirmed in the chain (on an admission thread); whether it is.
    async fn confirm(&self, raw: Bytes, certificate: StorageCertificate) -> bool {
        let chain = self.chain.clone();
        let tx = certificate.claim.tx_hash;
        match run_on(&self.chain.pools().admission, move || chain.confirm(&raw, &certificate)).await {
            Ok(Ok(Ok(()))) => true,
            Ok(Ok(Err(e))) => {
                tracing::debug!(%tx, error = %e, "storage certificate refused");
                false
            }
            Ok(Err(e)) => {
                tracing::warn!(%tx, error = %e, "storage certificate not held: node failure");
                false
            }
            Err(e) => {
                tracing::warn!(%tx, error = %e, "storage certificate not held: admission busy");
                false
            }
        }
    }

    /// A peer's signature: kept if it is the signature of the validator it names.
    pub fn on_vote(&self, vote: StoredVote) {
        let mut gathering = self.gathering.lock();
        let Some(g) = gathering.get_mut(&vote.tx_hash) else { return };
        let Some(expected) = g.set.get(vote.validator).copied() else { return };
        if g.signatures.contains_key(&vote.validator) || !valid(&vote.signature, &g.claim, &expected) {
            return;
        }
        g.signatures.insert(vote.validator, vote.signature);
        if g.signatures.len() >= g.set.quorum() {
            g.done.notify_one();
        }
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

    async fn gather(&self, raw: Bytes) -> Result<StorageCertificate, CertifyFailure> {
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
        {
            let mut gathering = self.gathering.lock();
            if gathering.contains_key(&claim.tx_hash) {
                return Err(CertifyFailure::Refused(format!("transaction {} is being certified already", claim.tx_hash)));
            }
            let mut signatures = BTreeMap::new();
            if let Some(own) = self.sign(&claim, &set) {
                signatures.insert(self.me, own);
            }
            gathering
                .insert(claim.tx_hash, Gathering { claim, set: set.clone(), signatures, refusals: BTreeMap::new(), done: done.clone() });
        }
        // Whatever ends this future (an answer, or the client going away), the entry goes.
        let _forget = Forget { gathering: &self.gathering, tx: claim.tx_hash };
        self.net.broadcast(Wire::Certify(CertifyRequest { raw: raw.clone(), claim }).encode(self.chain_id()));
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
            self.bind(raw, &certificate, &set, deadline).await;
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

impl Certifier {
    /// Before the client gets the certificate, a quorum of validators hold it as binding
    /// (so at least `f + 1` correct ones refuse a block that breaks its promise, and
    /// none that does can commit — also if this node dies the moment it answers): the
    /// certificate goes to every validator (`Wire::Confirmed`), and their `Wire::Held`
    /// are counted until a quorum, or until `deadline` (at least a second from now).
    async fn bind(&self, raw: Bytes, certificate: &StorageCertificate, set: &ValidatorSet, deadline: tokio::time::Instant) {
        let tx = certificate.claim.tx_hash;
        let done = Arc::new(Notify::new());
        self.held.lock().insert(tx, Binding { slots: set.len(), holders: std::collections::BTreeSet::new(), done: done.clone() });
        let encoded: Bytes = strata_primitives::rlp::encode(certificate).into();
        self.net.broadcast(Wire::Confirmed(Confirmed { raw: raw.clone(), certificate: encoded }).encode(self.chain_id()));
        let own = self.confirm(raw, certificate.clone()).await && set.get(self.me) == Some(&self.key.address());
        let deadline = deadline.max(tokio::time::Instant::now() + Duration::from_secs(1));
        loop {
            let holders = self.held.lock().get(&tx).map_or(0, |b| b.holders.len()) + usize::from(own);
            if holders >= set.quorum() {
                break;
            }
            if tokio::time::timeout_at(deadline, done.notified()).await.is_err() {
                tracing::warn!(%tx, holders, quorum = set.quorum(), "storage certificate answered before a quorum held it");
                break;
            }
        }
        self.held.lock().remove(&tx);
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
async fn journal_writer(chain: Arc<Chain>, mut queue: mpsc::UnboundedReceiver<(Certified, oneshot::Sender<Result<(), String>>)>) {
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
            let _ = waiter.send(outcome.clone());
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

#[jsonrpsee::core::async_trait]
impl CertifyService for Certifier {
    async fn certify(&self, raw: Bytes) -> Result<StorageCertificate, CertifyFailure> {
        self.gather(raw).await
    }
}
