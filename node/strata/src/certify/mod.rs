//! Storage certificates on the validator's side.
//!
//! The receiving validator admits a client's transaction ([`Chain::admit_certified`]),
//! queues its journal write (one synced write for every certification of the moment)
//! and queues it for the next **batch** (sent to the peers while the write runs; its
//! own vote waits for the write): whatever clients' transactions
//! arrived while the previous batch was certified go together (at most
//! [`storage_cert::MAX_BATCH`](strata_primitives::storage_cert::MAX_BATCH), one height),
//! so one signature, one request and one vote per validator serve many transactions
//! (Aptos' proof-of-store signs batches the same way). The receiving validator signs
//! the batch's root ([`BatchTree`]) and sends every validator the request
//! (`Wire::Certify`) and its vote (`Wire::Stored`). Each validator admits and journals
//! the batch's transactions too, signs the root of those it stored, and sends that vote
//! to **every** validator — so every validator counts the signers of each claim itself,
//! in one round:
//! - the receiving validator checks each vote once (one recovery per batch) and answers
//!   each client once a quorum of the claim height's set has signed its claim (the
//!   certificate carries, per signer, the path from the claim to the root it signed) —
//!   or with an error once a quorum cannot come (too many refusals) or the time allowed
//!   has passed;
//! - every validator, once a quorum of validators have told it they signed a claim,
//!   holds the transaction as certified ([`Chain::hold_certificate`]: from then on it
//!   refuses blocks that break the promise). Counting needs no signature recovery: each
//!   vote arrives from its signer over a link authenticated by that validator's key, and
//!   a validator that lies about its own signature could as well have signed.
//!
//! So if the receiving validator dies the moment it answers, the others still hold the
//! promise from each other's votes. And since a faulty signer may send its vote to the
//! receiving validator alone, that one relays every peer vote it checked and counted
//! for its clients to every validator (`Wire::Relayed`, one message per vote, not per
//! transaction): a validator that did not hear the vote from its signer checks its
//! signature and counts it (every signer has the transaction, so at least `f + 1`
//! honest ones can hold it). A signature is given only after the synced journal write,
//! and at most once per `(sender, nonce)` ([`Chain::admit_certified`] enforces it): no
//! two certificates for one nonce without `f + 1` validators signing twice. A sync node of a validator slot
//! signs nothing (its slot's active machine does).

mod hold;
mod journal;
mod tally;
#[cfg(test)]
mod tests;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use parking_lot::Mutex;
use strata_chain::{CertifyRefusal, Chain, run_on};
use strata_network::Transport;
use strata_primitives::{
    Address, B256, Bytes, CertSignature, LocalSigner, ValidatorSet,
    consensus::{K256, recovers_to},
    keccak256,
    storage_cert::{BatchTree, MAX_BATCH, StorageCertificate, StoredClaim, stored_digest},
};
use strata_rpc::{CertifyFailure, CertifyService};
use tokio::sync::{Notify, mpsc, oneshot};

use self::{
    journal::{JournalJob, journal_writer},
    tally::{OWN, Tallies, Vote},
};
use crate::wire::{CertifyBatch, CertifyRequest, MAX_REASON, StoredRefusal, StoredVote, Wire};

/// How long a client waits for a quorum by default.
pub const CERTIFY_TIMEOUT: Duration = Duration::from_secs(3);

/// Most transaction bytes in one batch (a batch must fit a frame and the peers' budgets).
const MAX_BATCH_BYTES: usize = 4 << 20;

/// Longest a batch waits for the previous one to be settled (every client answered)
/// before it leaves anyway: a slow or failing quorum delays the next batch at most this.
const BATCH_WAIT: Duration = Duration::from_millis(100);

/// Signatures being gathered for one client's transaction (on its receiving validator).
struct Gathering {
    claim: StoredClaim,
    set: Arc<ValidatorSet>,
    signatures: BTreeMap<u32, Vote>,
    refusals: BTreeMap<u32, String>,
    done: Arc<Notify>,
}

impl Gathering {
    /// Whether no quorum can come any more: more validators refused than the set can spare.
    fn hopeless(&self) -> bool {
        let refused = self.refusals.keys().filter(|v| !self.signatures.contains_key(v)).count();
        refused > self.set.len().saturating_sub(self.set.quorum())
    }

    fn complete(&self) -> bool {
        self.signatures.len() >= self.set.quorum()
    }
}

/// The clients' transactions being gathered, by hash and by claim digest.
#[derive(Default)]
struct Gatherings {
    by_tx: BTreeMap<B256, Gathering>,
    by_digest: BTreeMap<B256, B256>,
}

impl Gatherings {
    fn remove(&mut self, tx: &B256) -> Option<Gathering> {
        let g = self.by_tx.remove(tx)?;
        self.by_digest.remove(&stored_digest(&g.claim));
        Some(g)
    }
}

/// A client's transaction for the next batch, and its journal write here.
type Outgoing = (CertifyRequest, Durable);

/// A journal write's outcome, to be awaited.
type Durable = std::pin::Pin<Box<dyn Future<Output = Result<(), CertifyFailure>> + Send>>;

/// A validator's certifier: shared by its RPC server (clients) and the task serving its
/// peers' certification messages ([`Certifier::serve_peers`]).
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
    gathering: Mutex<Gatherings>,
    tallies: Mutex<Tallies>,
    journal: mpsc::UnboundedSender<JournalJob>,
    /// Clients' transactions waiting for the next batch, each with the write that
    /// makes it durable here (our signature waits for it; the peers do not).
    outbox: mpsc::UnboundedSender<Outgoing>,
    /// Told whenever a gathering here is settled (a quorum, no quorum possible, or its
    /// client gone): the batcher waits on it.
    settled: Notify,
    /// Relayed votes waiting for their signer's own copy, by relaying machine.
    relays: Mutex<BTreeMap<u32, usize>>,
}

impl std::fmt::Debug for Certifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certifier").field("me", &self.me).field("gathering", &self.gathering.lock().by_tx.len()).finish()
    }
}

impl Certifier {
    /// The certifier of validator `me` with `key`.
    /// Must be called inside a tokio runtime (it starts the journal writer and the batcher).
    pub fn new(chain: Arc<Chain>, key: LocalSigner, me: u32, net: Arc<dyn Transport>, machines: Arc<dyn Transport>) -> Arc<Self> {
        let (journal, queue) = mpsc::unbounded_channel();
        tokio::spawn(journal_writer(chain.clone(), queue));
        let (outbox, waiting) = mpsc::unbounded_channel();
        let this = Arc::new(Self {
            chain,
            key,
            me,
            net,
            machines,
            timeout: CERTIFY_TIMEOUT,
            gathering: Mutex::new(Gatherings::default()),
            tallies: Mutex::new(Tallies::default()),
            journal,
            outbox,
            settled: Notify::new(),
            relays: Mutex::new(BTreeMap::new()),
        });
        tokio::spawn(batcher(Arc::downgrade(&this), waiting));
        this
    }

    fn chain_id(&self) -> u64 {
        self.chain.spec().chain_id
    }

    /// Our signature over a batch `root`, if our key is validator `me` of `set`.
    fn sign(&self, root: &B256, set: &ValidatorSet) -> Option<[u8; 65]> {
        if set.get(self.me) != Some(&self.key.address()) {
            return None;
        }
        self.key.sign_hash(root).ok().map(|s| s.as_bytes())
    }

    /// Admission checks (on an admission thread), then the journal write queued
    /// (grouped with the other certifications of the moment into one synced write):
    /// the claim, and the write to await before signing it.
    async fn store(&self, raw: Bytes, height: u64) -> Result<Result<(StoredClaim, Durable), CertifyRefusal>, CertifyFailure> {
        let chain = self.chain.clone();
        let admitted = run_on(&self.chain.pools().admission, move || chain.admit_certified(&raw, height, None))
            .await
            .map_err(|e| CertifyFailure::Node(format!("admission threads: {e}")))?
            .map_err(|e| CertifyFailure::Node(e.to_string()))?;
        let entry = match admitted {
            Ok(entry) => entry,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let claim = entry.claim;
        Ok(Ok((claim, Box::pin(self.journal_queue(entry)))))
    }

    /// Queues `entry` for the journal writer at once; the returned future tells when it
    /// is durable (so many entries can be queued for one write before any is awaited).
    fn journal_queue(&self, entry: strata_chain::Certified) -> impl Future<Output = Result<(), CertifyFailure>> + use<> {
        let (durable, written) = oneshot::channel();
        let sent = self.journal.send((entry, Some(durable))).is_ok();
        async move {
            if !sent {
                return Err(CertifyFailure::Node("the journal writer stopped".into()));
            }
            written
                .await
                .map_err(|_| CertifyFailure::Node("the journal writer stopped".into()))?
                .map_err(|e| CertifyFailure::Node(format!("journal write: {e}")))
        }
    }

    /// Sends a batch of clients' transactions (all of one height) to every validator at
    /// once, and our vote for it once our own journal writes are durable (they run
    /// meanwhile, beside the peers').
    fn send_batch(self: &Arc<Self>, height: u64, batch: Vec<Outgoing>) -> Option<(tokio::task::JoinHandle<()>, Vec<B256>)> {
        let Some(set) = self.chain.validator_sets().validators_at(height) else {
            tracing::warn!(height, "no validator set for a batch's height: its transactions time out");
            return None;
        };
        let (items, writes): (Vec<CertifyRequest>, Vec<Durable>) = batch.into_iter().unzip();
        let leaves: Vec<B256> = items.iter().map(|i| stored_digest(&i.claim)).collect();
        for item in &items {
            self.count_request(&item.claim, &set, OWN, &item.raw);
        }
        let txs: Vec<B256> = items.iter().map(|i| i.claim.tx_hash).collect();
        self.net.broadcast(Wire::Certify(CertifyBatch { height, items }).encode(self.chain_id()));
        let sent = txs.clone();
        let this = self.clone();
        let signed = tokio::spawn(async move {
            for write in writes {
                if let Err(e) = write.await {
                    tracing::warn!(error = %e, "batch not signed here: journal write failed");
                    // Our own refusal: the clients learn at once if no quorum can come.
                    for tx in txs {
                        this.refused(this.me, tx, format!("journal write failed: {e}"));
                    }
                    return;
                }
            }
            let tree = BatchTree::new(&leaves);
            if let Some(signature) = this.sign(&tree.root(), &set) {
                this.add_vote(&set, OWN, this.me, signature, &leaves, &tree, false, height);
                this.net.broadcast(Wire::Stored(StoredVote { height, validator: this.me, leaves, signature }).encode(this.chain_id()));
            }
        });
        Some((signed, sent))
    }

    /// Whether any of `txs` is still being gathered here, neither complete nor hopeless.
    fn unsettled(&self, txs: &[B256]) -> bool {
        let gathering = self.gathering.lock();
        txs.iter().any(|tx| gathering.by_tx.get(tx).is_some_and(|g| !g.complete() && !g.hopeless()))
    }

    /// Serves the peers' certification messages (`Wire::is_certification`) until they
    /// end: apart from consensus, so that no request or vote waits for a block.
    pub async fn serve_peers(self: Arc<Self>, mut inbound: strata_network::Inbound, chain_id: u64) {
        while let Some((from, bytes)) = inbound.recv().await {
            match Wire::decode(&bytes, chain_id) {
                Some(Wire::Certify(batch)) => self.on_request(from, batch),
                Some(Wire::Stored(vote)) => self.on_vote(from, vote),
                Some(Wire::StoredRefused(refusal)) => self.on_refusal(from, refusal),
                Some(Wire::Relayed(vote)) => self.on_relayed(from, vote),
                _ => tracing::debug!(from, "malformed certification message dropped"),
            }
        }
    }

    /// A peer asks us to store and sign a batch (`from`: the asking machine).
    pub fn on_request(self: &Arc<Self>, from: u32, batch: CertifyBatch) {
        let height = batch.height;
        let chain_id = self.chain_id();
        if batch.items.is_empty()
            || batch.items.len() > MAX_BATCH
            || batch.items.iter().any(|i| i.claim.height != height || i.claim.chain_id != chain_id)
        {
            tracing::debug!(from, items = batch.items.len(), "malformed certification batch dropped");
            return;
        }
        if !self.near_head(height) {
            // Said, not left to time out: the client learns why no quorum came.
            let head = self.chain.head_number();
            let reason = format!(
                "claim height {height} is more than {} blocks ahead of this validator's head {head}, or leaves fewer than {} blocks before its expiry",
                strata_chain::CLAIM_HEIGHT_SLACK,
                strata_chain::CLAIM_MIN_REMAINING
            );
            tracing::debug!(from, height, head, "certification batch of a far height refused");
            for item in &batch.items {
                self.machines.send(from, refusal(item.claim.tx_hash, self.me, reason.clone()).encode(chain_id));
            }
            return;
        }
        let Some(set) = self.chain.validator_sets().validators_at(height) else { return };
        // Every machine counts the claims' signers (a sync node too: it may be active
        // before the transactions are due).
        for item in &batch.items {
            self.count_request(&item.claim, &set, from, &item.raw);
        }
        // Only an active validator of the claims' height signs.
        if set.get(self.me) != Some(&self.key.address()) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let mut stored = Vec::with_capacity(batch.items.len());
            let mut counted = Vec::with_capacity(batch.items.len());
            let mut writes = Vec::new();
            let chain = this.chain.clone();
            let items = batch.items.clone();
            let admitted = run_on(&this.chain.pools().admission, move || {
                items.iter().map(|i| chain.admit_certified(&i.raw, height, Some(&i.claim))).collect::<Vec<_>>()
            })
            .await;
            let Ok(admitted) = admitted else {
                tracing::warn!(from, "certification batch not served: admission busy");
                return;
            };
            for (item, outcome) in batch.items.iter().zip(admitted) {
                let claim = item.claim;
                match outcome {
                    Ok(Ok(entry)) if entry.claim == claim => {
                        stored.push(stored_digest(&claim));
                        counted.push((claim, item.raw.clone()));
                        writes.push((claim.tx_hash, this.journal_queue(entry)));
                    }
                    Ok(Ok(entry)) => {
                        let reason = format!("this validator certified the transaction as {:?}", entry.claim);
                        this.machines.send(from, refusal(claim.tx_hash, this.me, reason).encode(this.chain_id()));
                    }
                    Ok(Err(e)) => this.machines.send(from, refusal(claim.tx_hash, this.me, e.to_string()).encode(this.chain_id())),
                    Err(e) => tracing::warn!(tx = %claim.tx_hash, error = %e, "certification request not served: node failure"),
                }
            }
            // Signed only once every entry is durable.
            let mut failed = None;
            let mut txs = Vec::with_capacity(writes.len());
            for (tx, write) in writes {
                txs.push(tx);
                if let Err(e) = write.await {
                    failed = Some(e);
                }
            }
            if let Some(e) = failed {
                tracing::warn!(error = %e, "certification batch not signed: journal write failed");
                for tx in txs {
                    this.machines.send(from, refusal(tx, this.me, format!("journal write failed: {e}")).encode(this.chain_id()));
                }
                return;
            }
            if stored.is_empty() {
                return;
            }
            // What we signed we count with its transaction, whatever the asking
            // machine's quota of tallies allowed: a quorum's signers must be able to hold it.
            for (claim, raw) in &counted {
                this.count_request(claim, &set, OWN, raw);
            }
            let tree = BatchTree::new(&stored);
            if let Some(signature) = this.sign(&tree.root(), &set) {
                this.add_vote(&set, OWN, this.me, signature, &stored, &tree, false, height);
                this.net
                    .broadcast(Wire::Stored(StoredVote { height, validator: this.me, leaves: stored, signature }).encode(this.chain_id()));
            }
        });
    }

    /// A validator's vote over claims of a batch, from machine `from`: counted towards
    /// each claim's quorum if `from` is a machine of the validator it names, and kept
    /// for the clients' certificates this node gathers if its signature verifies (one
    /// recovery for the whole batch).
    pub fn on_vote(self: &Arc<Self>, from: u32, vote: StoredVote) {
        if vote.leaves.is_empty() || vote.leaves.len() > MAX_BATCH || !self.countable(vote.height) {
            return;
        }
        let Some(set) = self.chain.validator_sets().validators_at(vote.height) else { return };
        let slots = u32::try_from(set.len()).unwrap_or(u32::MAX).max(1);
        if set.get(vote.validator).is_none() || from % slots != vote.validator {
            return;
        }
        let tree = BatchTree::new(&vote.leaves);
        self.add_vote(&set, from, vote.validator, vote.signature, &vote.leaves, &tree, true, vote.height);
    }

    /// Adds validator `validator`'s signature over `tree` (the batch `leaves`, claims of
    /// `height`) to each claim's tally, and to the certificates being gathered here —
    /// checking it first if `check` (a peer's), outside the lock.
    #[allow(clippy::too_many_arguments)]
    fn add_vote(
        self: &Arc<Self>,
        set: &Arc<ValidatorSet>,
        from: u32,
        validator: u32,
        signature: [u8; 65],
        leaves: &[B256],
        tree: &BatchTree,
        check: bool,
        height: u64,
    ) {
        let vote = |j: usize| Vote { signature, path: tree.path(j), height };
        let mut ready = Vec::new();
        {
            let mut tallies = self.tallies.lock();
            for (j, leaf) in leaves.iter().enumerate() {
                if let Some(t) = tallies.vote(*leaf, set, from, validator, vote(j)) {
                    ready.extend(t.ready());
                }
            }
        }
        for (raw, certificate) in ready {
            self.hold(raw, certificate);
        }
        let wanted = |gathering: &Gatherings| -> Vec<(usize, B256)> {
            leaves
                .iter()
                .enumerate()
                .filter_map(|(j, leaf)| {
                    let tx = *gathering.by_digest.get(leaf)?;
                    let g = gathering.by_tx.get(&tx)?;
                    (g.claim.height == height && !g.complete() && !g.signatures.contains_key(&validator)).then_some((j, tx))
                })
                .collect()
        };
        if wanted(&self.gathering.lock()).is_empty() {
            return;
        }
        if check {
            if !set.get(validator).is_some_and(|key| valid(&signature, &tree.root(), key)) {
                tracing::debug!(validator, "a certification vote whose signature does not verify dropped");
                return;
            }
            // Counted for our clients: every validator gets it (its signer may have sent
            // it to us alone).
            self.net.broadcast(Wire::Relayed(StoredVote { height, validator, leaves: leaves.to_vec(), signature }).encode(self.chain_id()));
        }
        let mut gathering = self.gathering.lock();
        for (j, tx) in wanted(&gathering) {
            if let Some(g) = gathering.by_tx.get_mut(&tx) {
                g.signatures.insert(validator, vote(j));
                if g.complete() {
                    g.done.notify_one();
                    self.settled.notify_one();
                }
            }
        }
    }

    /// Whether claims of `height` may be signed here ([`strata_chain::signable_claim_height`]):
    /// batches of other heights are refused before any state is read.
    fn near_head(&self, height: u64) -> bool {
        strata_chain::signable_claim_height(height, self.chain.head_number(), self.chain.spec().certified_expiry)
    }

    /// Whether claims of `height` may still be counted here: not far ahead of our head,
    /// and not expired. Votes and certificates may come late under load (the head moves
    /// on meanwhile); signing is stricter ([`Certifier::near_head`]).
    fn countable(&self, height: u64) -> bool {
        let head = self.chain.head_number();
        height <= head.saturating_add(strata_chain::CLAIM_HEIGHT_SLACK) && height.saturating_add(self.chain.spec().certified_expiry) > head
    }

    /// Whether `claim` is one this chain would make: its height countable here and its
    /// expiry the chain's (anything else is not counted).
    fn plausible(&self, claim: &StoredClaim) -> bool {
        claim.chain_id == self.chain_id()
            && self.countable(claim.height)
            && claim.expiry == claim.height.saturating_add(self.chain.spec().certified_expiry)
    }

    /// Counts a request's claim and transaction (if its hash is the claim's) in the
    /// claim's tally (`from`: the machine that sent it); holds it if a quorum of votes
    /// came first.
    fn count_request(self: &Arc<Self>, claim: &StoredClaim, set: &Arc<ValidatorSet>, from: u32, raw: &Bytes) {
        if !self.plausible(claim) || raw.len() > strata_chain::MAX_TX_SIZE || keccak256(raw) != claim.tx_hash {
            return;
        }
        let ready = self.tallies.lock().request(stored_digest(claim), set, from, *claim, raw).and_then(|t| t.ready());
        if let Some((raw, certificate)) = ready {
            self.hold(raw, certificate);
        }
    }

    /// A refusal from machine `from`: noted if `from` is a machine of the validator it
    /// names (refusals are not signed: no peer may refuse in another's name); with
    /// enough of them, no quorum can come.
    pub fn on_refusal(&self, from: u32, refusal: StoredRefusal) {
        let slots = {
            let gathering = self.gathering.lock();
            let Some(g) = gathering.by_tx.get(&refusal.tx_hash) else { return };
            u32::try_from(g.set.len()).unwrap_or(u32::MAX).max(1)
        };
        if from % slots == refusal.validator {
            self.refused(refusal.validator, refusal.tx_hash, refusal.reason);
        }
    }

    /// Validator `validator` will not sign for `tx` (being gathered here): noted; with
    /// enough refusals, no quorum can come.
    fn refused(&self, validator: u32, tx: B256, reason: String) {
        let mut gathering = self.gathering.lock();
        let Some(g) = gathering.by_tx.get_mut(&tx) else { return };
        if g.set.get(validator).is_none() {
            return;
        }
        g.refusals.insert(validator, reason);
        if g.hopeless() {
            g.done.notify_one();
            self.settled.notify_one();
        }
    }

    /// A client's transaction, certified through this validator: its storage
    /// certificate, or why none could be made.
    pub async fn certify(self: &Arc<Self>, raw: Bytes) -> Result<StorageCertificate, CertifyFailure> {
        self.gather(raw).await
    }

    async fn gather(self: &Arc<Self>, raw: Bytes) -> Result<StorageCertificate, CertifyFailure> {
        let head = self.chain.head_number();
        let (claim, durable) = match self.store(raw.clone(), head).await? {
            Ok(stored) => stored,
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
            if gathering.by_tx.contains_key(&claim.tx_hash) {
                return Err(CertifyFailure::Refused(format!("transaction {} is being certified already", claim.tx_hash)));
            }
            let g = Gathering { claim, set: set.clone(), signatures: BTreeMap::new(), refusals: BTreeMap::new(), done: done.clone() };
            gathering.by_tx.insert(claim.tx_hash, g);
            gathering.by_digest.insert(stored_digest(&claim), claim.tx_hash);
        }
        // Whatever ends this future (an answer, or the client going away), the entry goes.
        let _forget = Forget { gathering: &self.gathering, settled: &self.settled, tx: claim.tx_hash, done: done.clone() };
        self.outbox
            .send((CertifyRequest { raw: raw.clone(), claim }, durable))
            .map_err(|_| CertifyFailure::Node("the batcher stopped".into()))?;
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            {
                let gathering = self.gathering.lock();
                match gathering.by_tx.get(&claim.tx_hash) {
                    Some(g) if !g.complete() && !g.hopeless() => {}
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
        if g.complete() {
            let signatures = g.signatures.iter().map(|(v, vote)| CertSignature { validator: *v, signature: vote.signature }).collect();
            let paths = g.signatures.values().map(|vote| vote.path.clone()).collect();
            tracing::debug!(tx = %claim.tx_hash, signers = g.signatures.len(), "storage certificate");
            return Ok(StorageCertificate { claim, signatures, paths });
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

/// Sends the clients' transactions in batches: whatever queued while the previous batch
/// was being journaled, signed and counted goes in the next (one height per batch, at most [`MAX_BATCH`] transactions and
/// [`MAX_BATCH_BYTES`]).
async fn batcher(certifier: std::sync::Weak<Certifier>, mut waiting: mpsc::UnboundedReceiver<Outgoing>) {
    let mut carried: Option<Outgoing> = None;
    loop {
        let first = match carried.take() {
            Some(item) => item,
            None => match waiting.recv().await {
                Some(item) => item,
                None => return,
            },
        };
        let height = first.0.claim.height;
        let mut bytes = first.0.raw.len();
        let mut items = vec![first];
        while items.len() < MAX_BATCH {
            match waiting.try_recv() {
                Ok(next) if next.0.claim.height == height && bytes.saturating_add(next.0.raw.len()) <= MAX_BATCH_BYTES => {
                    bytes = bytes.saturating_add(next.0.raw.len());
                    items.push(next);
                }
                Ok(next) => {
                    carried = Some(next);
                    break;
                }
                Err(_) => break,
            }
        }
        let Some(certifier) = certifier.upgrade() else { return };
        let sent = tokio::time::Instant::now();
        let Some((signed, txs)) = certifier.send_batch(height, items) else { continue };
        // The next batch forms while this one is journaled, signed and counted: one
        // batch in flight, so under load batches grow with it, and signatures, votes
        // and their recoveries do not. A batch whose quorum is slow holds the next one
        // back at most `BATCH_WAIT`.
        let deadline = sent + BATCH_WAIT;
        let _ = tokio::time::timeout_at(deadline, signed).await;
        while certifier.unsettled(&txs) {
            if tokio::time::timeout_at(deadline, certifier.settled.notified()).await.is_err() {
                break;
            }
        }
    }
}

/// Removes a gathering when dropped (its own: not a later client's of the same
/// transaction).
struct Forget<'a> {
    gathering: &'a Mutex<Gatherings>,
    settled: &'a Notify,
    tx: B256,
    done: Arc<Notify>,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        let mut gathering = self.gathering.lock();
        if gathering.by_tx.get(&self.tx).is_some_and(|g| Arc::ptr_eq(&g.done, &self.done)) {
            gathering.remove(&self.tx);
            self.settled.notify_one();
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

/// Whether `signature` is `expected`'s over `root`.
fn valid(signature: &[u8; 65], root: &B256, expected: &Address) -> bool {
    recovers_to(&K256, signature, root, expected)
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
