//! The attestor daemon (`strata attest`): watches an attestation contract's requests,
//! re-reads each from its source, signs what it read, and passes the signatures on
//! (`super::ring`).
//!
//! **Taking a request up.** The scan follows `Requested` (and the attestors' changes) in
//! order; a request it fails to take up is scanned again. Its attestors are those the
//! contract held at the request's block, as the contract judges it: the list fetched at
//! start and followed through the `AttestorAdded`/`AttestorRemoved` logs in order (an
//! `eth_call` at the request's block for requests from before the start). Requests from before the daemon started (`--lookback`, by default the
//! longest expiry) are checked on chain first: decided, or counted from this attestor
//! already, they are skipped. A request worked once is remembered until it expires, so
//! nothing is read, signed or submitted twice.
//!
//! **Reading.** A request's source is looked up in `sources.toml` by id. A read that
//! fails ([`ReadError::Unavailable`]) is retried with exponential backoff until the
//! request expires or is decided: a failed read is never a vote. A source past the
//! pinned version, or parameters that describe no read, make the attestor abstain
//! (logged).
//!
//! **Fallback.** `--pass-timeout` after signing, an attestor whose observation the
//! contract has not counted submits it itself while the request is pending (a leader
//! offline, a lost pass) — again after each timeout until it lands or the request is
//! over — and once after it is decided when it disagrees with the outcome or the request
//! expired (kept, flagged late: a dissent on record).
//!
//! Nothing here is trusted: the contract checks every signature with `ecrecover` and
//! counts each attestor once, so a peer passing garbage costs only its own message.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use alloy_sol_types::SolEvent;
use anyhow::Context;
use parking_lot::Mutex;
use serde_json::{Value, json};
use strata_primitives::{
    Address, B256, Bytes, LocalSigner, U256,
    attestation::{self, MAX_EXPIRY_BLOCKS},
    interfaces::IAttestation::{self, Requested},
    keccak256,
};
use tokio::sync::{Semaphore, watch};

use super::source::{ReadError, Sources};
use crate::{
    client::Node,
    hierarchy::{Reverted, head, hex_field, send, view},
};

/// How the daemon behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// The attestation contract.
    pub contract: Address,
    /// The other attestors' `attest_pass` URLs, by address.
    pub peers: BTreeMap<Address, String>,
    /// How often the chain is polled for requests.
    pub poll: Duration,
    /// How long a passed set waits for this attestor's own read.
    pub hold: Duration,
    /// After signing, how long before submitting an uncounted observation directly.
    pub pass_timeout: Duration,
    /// Longest wait between two reads of an unavailable source.
    pub max_backoff: Duration,
    /// Blocks scanned back for requests at start.
    pub lookback: u64,
}

/// This attestor's own read of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Mine {
    Reading,
    Signed(B256),
    Abstained,
}

/// A request this attestor works on.
pub(super) struct Req {
    pub(super) id: u64,
    source: u64,
    params: Vec<u8>,
    pub(super) data_hash: B256,
    pub(super) expiry: u64,
    pub(super) quorum: u32,
    /// Its attestors (as the contract held them at its block), leader first.
    pub(super) ring: Vec<Address>,
    /// Signed observations known, by attestor: (observed hash, 65-byte signature).
    pub(super) sigs: Mutex<BTreeMap<Address, (B256, Bytes)>>,
    pub(super) mine: watch::Sender<Mine>,
    /// This attestor submitted a set from the ring (deciding, or the ring's end): it
    /// passes and submits no more from the ring; its own read and fallback go on.
    pub(super) closed: AtomicBool,
    /// Passing and ring submissions, one at a time.
    pub(super) advancing: tokio::sync::Mutex<()>,
    /// Its work is over (signed and followed up, abstained, expired): evicted.
    over: AtomicBool,
}

impl Req {
    /// (matching, differing) observations known.
    pub(super) fn tally(&self) -> (u32, u32) {
        let sigs = self.sigs.lock();
        let matching = sigs.values().filter(|(h, _)| *h == self.data_hash).count();
        (u32::try_from(matching).unwrap_or(u32::MAX), u32::try_from(sigs.len() - matching).unwrap_or(u32::MAX))
    }

    /// The known signatures grouped by observed hash; only groups `only` keeps.
    pub(super) fn groups(&self, only: impl Fn(&B256) -> bool) -> BTreeMap<B256, Vec<Bytes>> {
        let mut out: BTreeMap<B256, Vec<Bytes>> = BTreeMap::new();
        for (h, sig) in self.sigs.lock().values() {
            if only(h) {
                out.entry(*h).or_default().push(sig.clone());
            }
        }
        out
    }
}

/// The daemon.
pub struct Attestor {
    pub(super) node: Node,
    key: LocalSigner,
    pub(super) chain_id: u64,
    pub(super) opts: Options,
    sources: Sources,
    pub(super) peers: BTreeMap<Address, Node>,
    requests: Mutex<BTreeMap<u64, Arc<Req>>>,
    /// Requests worked already, with their expiry (forgotten once expired).
    finished: Mutex<BTreeMap<u64, u64>>,
    /// The contract's attestors as of the scan's position, sorted: fetched at start and
    /// followed from the `AttestorAdded`/`AttestorRemoved` logs after it, so a request
    /// met in the scan gets the attestors of its moment without asking the node.
    pub(super) attestors: Mutex<Vec<Address>>,
    /// The head when the daemon started: requests at or below it get their attestors
    /// from the node (`eth_call` at their block).
    started_at: std::sync::atomic::AtomicU64,
    /// Source kinds as registered (an id's kind never changes).
    kinds: Mutex<BTreeMap<u64, String>>,
    /// Serialises this attestor's transactions (one account, one nonce sequence).
    submitting: tokio::sync::Mutex<()>,
    /// Bounds the passes being handled at once.
    pub(super) passes: Arc<Semaphore>,
}

/// [`view`] at `block`, retried for up to ~2 s while the node is busy or unreachable (a
/// node bounds its simulations and refuses the excess with -32005); a revert is final.
pub(super) async fn ask_at<C: alloy_sol_types::SolCall>(
    node: &Node,
    to: Address,
    call: &C,
    block: Option<u64>,
) -> anyhow::Result<C::Return> {
    let mut delay = Duration::from_millis(20);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let answer = match block {
            None => view(node, to, call).await,
            Some(b) => view_at(node, to, call, b).await,
        };
        match answer {
            Ok(v) => return Ok(v),
            Err(e) if e.downcast_ref::<Reverted>().is_some() || Instant::now() > deadline => return Err(e),
            Err(_) => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_millis(400));
            }
        }
    }
}

/// [`ask_at`] the latest block.
pub(super) async fn ask<C: alloy_sol_types::SolCall>(node: &Node, to: Address, call: &C) -> anyhow::Result<C::Return> {
    ask_at(node, to, call, None).await
}

async fn view_at<C: alloy_sol_types::SolCall>(node: &Node, to: Address, call: &C, block: u64) -> anyhow::Result<C::Return> {
    let req = json!({"to": to, "data": format!("0x{}", strata_primitives::hex::encode(call.abi_encode()))});
    let out = node.request("eth_call", vec![req, json!(format!("{block:#x}"))]).await?;
    let bytes = crate::hierarchy::hex_value(&out)?;
    C::abi_decode_returns(&bytes).with_context(|| format!("{} returned undecodable data", C::SIGNATURE))
}

fn status_name(status: u8) -> &'static str {
    ["pending", "attested", "rejected", "expired"].get(usize::from(status)).copied().unwrap_or("unknown")
}

fn block_of(log: &Value) -> Option<u64> {
    u64::from_str_radix(log["blockNumber"].as_str()?.trim_start_matches("0x"), 16).ok()
}

impl Attestor {
    /// A daemon signing with `key`, reading `sources`.
    pub async fn new(node: Node, key: LocalSigner, sources: Sources, opts: Options) -> anyhow::Result<Arc<Self>> {
        let chain_id = node.chain_id().await?;
        let mut attestors = ask(&node, opts.contract, &IAttestation::attestorsCall {}).await.context("reading the contract's attestors")?;
        attestors.sort();
        if !attestors.contains(&key.address()) {
            tracing::warn!(attestor = %key.address(), "not a registered attestor of the contract (yet): it works only on requests made while it is");
        }
        let mut peers = BTreeMap::new();
        for (address, url) in &opts.peers {
            peers.insert(*address, Node::connect(url).with_context(|| format!("peer {address} at {url}"))?);
        }
        Ok(Arc::new(Self {
            node,
            key,
            chain_id,
            opts,
            sources,
            peers,
            requests: Mutex::new(BTreeMap::new()),
            finished: Mutex::new(BTreeMap::new()),
            attestors: Mutex::new(attestors),
            started_at: std::sync::atomic::AtomicU64::new(u64::MAX),
            kinds: Mutex::new(BTreeMap::new()),
            submitting: tokio::sync::Mutex::new(()),
            passes: Arc::new(Semaphore::new(64)),
        }))
    }

    /// This attestor's address.
    pub fn address(&self) -> Address {
        self.key.address()
    }

    /// Watches the contract for requests until the process ends.
    pub async fn run(self: Arc<Self>) -> anyhow::Result<()> {
        let start = head(&self.node).await?;
        let mut list = ask_at(&self.node, self.opts.contract, &IAttestation::attestorsCall {}, Some(start)).await?;
        list.sort();
        *self.attestors.lock() = list;
        self.started_at.store(start, Ordering::Relaxed);
        let mut next = start.saturating_sub(self.opts.lookback);
        tracing::info!(attestor = %self.address(), contract = %self.opts.contract, from_block = next, "watching for requests");
        loop {
            match self.scan(next, next <= start).await {
                Ok(n) => next = n,
                Err(e) => tracing::warn!(error = format!("{e:#}"), "scanning for requests failed; retrying"),
            }
            self.requests.lock().retain(|_, r| !r.over.load(Ordering::Relaxed));
            self.finished.lock().retain(|_, expiry| *expiry >= next);
            tokio::time::sleep(self.opts.poll).await;
        }
    }

    /// Takes up the requests in blocks `from..=head` (checking each on chain first when
    /// `check`) and follows changes of the attestors; the next block to scan. A request
    /// that could not be taken up is scanned again next time.
    async fn scan(self: &Arc<Self>, from: u64, check: bool) -> anyhow::Result<u64> {
        let head = head(&self.node).await?;
        let mut next = from;
        let watched =
            [Requested::SIGNATURE_HASH, IAttestation::AttestorAdded::SIGNATURE_HASH, IAttestation::AttestorRemoved::SIGNATURE_HASH];
        while next <= head {
            let to = head.min(next.saturating_add(9_999));
            let filter = json!({"fromBlock": format!("{next:#x}"), "toBlock": format!("{to:#x}"), "address": self.opts.contract, "topics": [watched]});
            let logs = self.node.request("eth_getLogs", vec![filter]).await?;
            for log in logs.as_array().map(Vec::as_slice).unwrap_or_default() {
                let block = block_of(log).unwrap_or(next);
                let topic0 = log["topics"][0].as_str().and_then(|t| t.parse::<B256>().ok());
                if topic0 != Some(Requested::SIGNATURE_HASH) {
                    // A change after the list was fetched: applied in log order.
                    if block > self.started_at.load(Ordering::Relaxed) {
                        let who = log["topics"][1].as_str().and_then(|t| t.parse::<B256>().ok()).map(Address::from_word);
                        let mut list = self.attestors.lock();
                        match (who, topic0 == Some(IAttestation::AttestorAdded::SIGNATURE_HASH)) {
                            (Some(a), true) => {
                                if let Err(at) = list.binary_search(&a) {
                                    list.insert(at, a);
                                }
                            }
                            (Some(a), false) => list.retain(|x| *x != a),
                            (None, _) => {}
                        }
                    }
                    continue;
                }
                if let Err(e) = self.learn(log, head, check).await {
                    tracing::warn!(error = format!("{e:#}"), block, "a request could not be taken up; scanning again");
                    return Ok(block);
                }
            }
            next = to + 1;
        }
        Ok(next)
    }

    /// Takes up the request of a `Requested` log, unless known, worked already, expired,
    /// not this attestor's, or (with `check`) decided or counted from it already.
    pub(super) async fn learn(self: &Arc<Self>, log: &Value, head: u64, check: bool) -> anyhow::Result<Option<Arc<Req>>> {
        let topics: Vec<B256> =
            log["topics"].as_array().context("a log without topics")?.iter().filter_map(|t| t.as_str()?.parse().ok()).collect();
        let ev = Requested::decode_raw_log(topics, &hex_field(log, "data")?).context("a Requested log that does not decode")?;
        let id = ev.requestId;
        if let Some(r) = self.requests.lock().get(&id) {
            return Ok(Some(r.clone()));
        }
        if head > ev.expiry || self.finished.lock().contains_key(&id) {
            return Ok(None);
        }
        if check {
            let info = ask(&self.node, self.opts.contract, &IAttestation::requestInfoCall { requestId: id }).await?;
            let counted =
                ask(&self.node, self.opts.contract, &IAttestation::observedCall { requestId: id, attestor: self.address() }).await?;
            if info.status != 0 || counted {
                self.finished.lock().insert(id, ev.expiry);
                return Ok(None);
            }
        }
        // The request's attestors: the followed list for a request after the start; the
        // contract's at its block before it (state kept for recent blocks; past that,
        // the current list, which the contract's own check corrects).
        let at = block_of(log).context("a log without a block number")?;
        let mut ring = if at > self.started_at.load(Ordering::Relaxed) {
            self.attestors.lock().clone()
        } else {
            let mut list = match ask_at(&self.node, self.opts.contract, &IAttestation::attestorsCall {}, Some(at)).await {
                Ok(list) => list,
                Err(_) => self.attestors.lock().clone(),
            };
            list.sort();
            list
        };
        if !ring.contains(&self.address()) {
            tracing::info!(request = id, "not an attestor of this request");
            self.finished.lock().insert(id, ev.expiry);
            return Ok(None);
        }
        let leader = usize::try_from(id % ring.len() as u64).unwrap_or(0);
        ring.rotate_left(leader);
        let req = Arc::new(Req {
            id,
            source: ev.sourceId,
            params: ev.readParams.to_vec(),
            data_hash: ev.dataHash,
            expiry: ev.expiry,
            quorum: ev.quorum,
            ring,
            sigs: Mutex::new(BTreeMap::new()),
            mine: watch::Sender::new(Mine::Reading),
            closed: AtomicBool::new(false),
            advancing: tokio::sync::Mutex::new(()),
            over: AtomicBool::new(false),
        });
        {
            let mut requests = self.requests.lock();
            if let Some(r) = requests.get(&id) {
                return Ok(Some(r.clone()));
            }
            requests.insert(id, req.clone());
            self.finished.lock().insert(id, ev.expiry);
        }
        tracing::info!(request = id, source = ev.sourceId, expiry = ev.expiry, quorum = ev.quorum, "new request");
        tokio::spawn(self.clone().work(req.clone()));
        Ok(Some(req))
    }

    /// Finds request `id` on chain (a peer passed signatures for it before this
    /// attestor's scan reached it): its `Requested` log lies at most the longest expiry
    /// before its expiry.
    pub(super) async fn learn_by_id(self: &Arc<Self>, id: u64) -> anyhow::Result<Option<Arc<Req>>> {
        if let Some(r) = self.requests.lock().get(&id) {
            return Ok(Some(r.clone()));
        }
        if self.finished.lock().contains_key(&id) {
            return Ok(None);
        }
        let info = ask(&self.node, self.opts.contract, &IAttestation::requestInfoCall { requestId: id }).await?;
        let head = head(&self.node).await?;
        let mut to = head.min(info.expiry);
        let from = info.expiry.saturating_sub(MAX_EXPIRY_BLOCKS);
        let id_topic = B256::from(U256::from(id));
        loop {
            let start = from.max(to.saturating_sub(9_999));
            let filter = json!({"fromBlock": format!("{start:#x}"), "toBlock": format!("{to:#x}"), "address": self.opts.contract, "topics": [Requested::SIGNATURE_HASH, id_topic]});
            let logs = self.node.request("eth_getLogs", vec![filter]).await?;
            if let Some(log) = logs.as_array().and_then(|l| l.first()) {
                return self.learn(log, head, true).await;
            }
            if start <= from {
                return Ok(None);
            }
            to = start - 1;
        }
    }

    /// Reads, signs, starts the pass when leading, then the fallback; over at the end.
    async fn work(self: Arc<Self>, req: Arc<Req>) {
        if let Some(observed) = self.read(&req).await {
            match self.key.sign_hash(&attestation::digest(self.chain_id, self.opts.contract, req.id, observed)) {
                Ok(s) => {
                    req.sigs.lock().insert(self.address(), (observed, Bytes::copy_from_slice(&s.as_bytes())));
                    req.mine.send_replace(Mine::Signed(observed));
                    tracing::info!(request = req.id, observed = %observed, matches = observed == req.data_hash, "read and signed");
                    if req.ring.first() == Some(&self.address()) {
                        let _one = req.advancing.lock().await;
                        self.advance(&req).await;
                    }
                    self.fallback(&req, observed).await;
                }
                Err(e) => tracing::error!(request = req.id, error = %e, "signing failed"),
            }
        }
        req.over.store(true, Ordering::Relaxed);
    }

    /// Reads the request's source until it gives bytes (their hash), the attestor
    /// abstains, or the request is decided or expired.
    async fn read(&self, req: &Req) -> Option<B256> {
        let abstain = |why: String| {
            tracing::warn!(request = req.id, reason = %why, "abstaining (not a vote)");
            req.mine.send_replace(Mine::Abstained);
            None
        };
        let Some(source) = self.sources.get(&req.source) else {
            return abstain(format!("source {} is not in this attestor's sources file", req.source));
        };
        let known = self.kinds.lock().get(&req.source).cloned();
        let kind = match known {
            Some(k) => Some(k),
            None => ask(&self.node, self.opts.contract, &IAttestation::sourceCall { sourceId: req.source }).await.ok().map(|s| {
                self.kinds.lock().insert(req.source, s.kind.clone());
                s.kind
            }),
        };
        if let Some(kind) = kind
            && kind != source.kind()
        {
            return abstain(format!("source {} is registered as `{kind}`, configured here as `{}`", req.source, source.kind()));
        }
        let mut delay = Duration::from_millis(200);
        loop {
            match source.read(&req.params).await {
                Ok(bytes) => return Some(keccak256(&bytes)),
                Err(ReadError::Unavailable(e)) => {
                    if head(&self.node).await.is_ok_and(|h| h >= req.expiry) {
                        tracing::warn!(request = req.id, error = %e, "the request expired before the source answered");
                        return abstain("expired".into());
                    }
                    let info = ask(&self.node, self.opts.contract, &IAttestation::requestInfoCall { requestId: req.id }).await;
                    if let Ok(info) = info
                        && info.status != 0
                    {
                        tracing::info!(request = req.id, status = status_name(info.status), "decided while the source was unavailable");
                        return abstain("decided".into());
                    }
                    tracing::warn!(request = req.id, error = %e, retry_in_ms = delay.as_millis() as u64, "read failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.opts.max_backoff);
                }
                Err(e) => return abstain(e.to_string()),
            }
        }
    }

    /// After `pass_timeout`: submits this attestor's observation if the contract has
    /// not counted it (see the module docs).
    async fn fallback(&self, req: &Req, observed: B256) {
        let id = req.id;
        loop {
            tokio::time::sleep(self.opts.pass_timeout).await;
            let counted =
                ask(&self.node, self.opts.contract, &IAttestation::observedCall { requestId: id, attestor: self.address() }).await;
            if matches!(counted, Ok(true)) {
                return;
            }
            let Ok(info) = ask(&self.node, self.opts.contract, &IAttestation::requestInfoCall { requestId: id }).await else {
                if head(&self.node).await.is_ok_and(|h| h > req.expiry) {
                    return;
                }
                continue;
            };
            if info.status == 0 {
                // Still pending: this observation (with any matching ones known).
                if self.submit(req, req.groups(|h| *h == observed), "fallback: still pending").await {
                    return;
                }
                continue;
            }
            let dissent = match info.status {
                1 => observed != req.data_hash,
                2 => observed == req.data_hash,
                _ => true,
            };
            if dissent {
                self.submit(req, req.groups(|h| *h == observed), "late: disagrees with the outcome or expired").await;
            }
            return;
        }
    }

    /// Submits `groups` (observed hash → signatures), one `attest` each; whether every
    /// one was sent or refused for good (a revert: nothing left to count).
    pub(super) async fn submit(&self, req: &Req, groups: BTreeMap<B256, Vec<Bytes>>, why: &str) -> bool {
        let _one_at_a_time = self.submitting.lock().await;
        let mut all = true;
        for (observed, signatures) in groups {
            let n = signatures.len();
            let call = IAttestation::attestCall { requestId: req.id, observedHash: observed, signatures };
            let mut tries = 0;
            let sent = loop {
                tries += 1;
                match send(&self.node, &self.key, self.opts.contract, U256::ZERO, &call).await {
                    Err(e) if e.downcast_ref::<Reverted>().is_none() && tries < 5 => {
                        tracing::debug!(request = req.id, error = format!("{e:#}"), "submitting failed; retrying");
                        tokio::time::sleep(Duration::from_millis(100 * tries)).await;
                    }
                    other => break other,
                }
            };
            match sent {
                Ok(receipt) => {
                    let decided = receipt["logs"].as_array().into_iter().flatten().find_map(|l| {
                        let t0 = l["topics"][0].as_str()?.parse::<B256>().ok()?;
                        [
                            (IAttestation::Attested::SIGNATURE_HASH, 1u8),
                            (IAttestation::Rejected::SIGNATURE_HASH, 2),
                            (IAttestation::Expired::SIGNATURE_HASH, 3),
                        ]
                        .into_iter()
                        .find(|(h, _)| *h == t0)
                        .map(|(_, s)| s)
                    });
                    tracing::info!(request = req.id, observed = %observed, signatures = n, why, block = %receipt["blockNumber"], decided = decided.map(status_name), "submitted");
                }
                Err(e) => match e.downcast_ref::<Reverted>() {
                    Some(r) => tracing::info!(request = req.id, why, reason = %r.reason, "nothing to submit"),
                    None => {
                        tracing::warn!(request = req.id, why, error = format!("{e:#}"), "submitting failed");
                        all = false;
                    }
                },
            }
        }
        all
    }
}
