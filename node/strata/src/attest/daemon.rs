//! The attestor daemon (`strata attest`): watches an attestation contract's requests,
//! re-reads each from its source, signs what it read, and passes the signatures on.
//!
//! **Reading.** A request's source is looked up in `sources.toml` by id. A read that
//! fails ([`ReadError::Unavailable`]) is retried with exponential backoff until the
//! request expires: a failed read is never a vote. A source past the pinned version, or
//! parameters that describe no read, make the attestor abstain (logged).
//!
//! **Passing signatures.** The attestors of a request form a ring: the contract's
//! attestors sorted by address, rotated so the request's leader (`id mod n`) comes
//! first. The leader signs and passes its signature to the next attestor (`attest_pass`
//! over JSON-RPC, on `--listen`); each adds its own — waiting up to `--hold` for its own
//! read — and passes the set on. Whoever holds a deciding set (at least the quorum
//! observing the data hash, or at least the quorum observing something else) submits
//! it in one `attest` transaction; so does the last one, when the set comes back with
//! nothing new. An attestor that does not answer is skipped; when no one answers, the
//! holder submits directly.
//!
//! **Fallback.** `--pass-timeout` after signing, an attestor whose observation the
//! contract has not counted submits it itself while the request is pending (a leader
//! offline, a lost pass), and after it is decided when it disagrees with the outcome or
//! the request expired (kept, flagged late: a dissent on record).
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
    Address, B256, Bytes, LocalSigner, Signature, U256, attestation,
    interfaces::IAttestation::{self, Requested},
    keccak256,
};
use tokio::sync::watch;

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
enum Mine {
    Reading,
    Signed(B256),
    Abstained,
}

/// A request this attestor works on.
struct Req {
    id: u64,
    source: u64,
    params: Vec<u8>,
    data_hash: B256,
    expiry: u64,
    quorum: u32,
    /// The attestors, leader first.
    ring: Vec<Address>,
    /// Signed observations known, by attestor: (observed hash, 65-byte signature).
    sigs: Mutex<BTreeMap<Address, (B256, Bytes)>>,
    mine: watch::Sender<Mine>,
    /// A deciding set was submitted by this attestor, or the chain decided.
    done: AtomicBool,
}

impl Req {
    /// (matching, differing) observations known.
    fn tally(&self) -> (u32, u32) {
        let sigs = self.sigs.lock();
        let matching = sigs.values().filter(|(h, _)| *h == self.data_hash).count();
        (u32::try_from(matching).unwrap_or(u32::MAX), u32::try_from(sigs.len() - matching).unwrap_or(u32::MAX))
    }

    /// The known signatures grouped by observed hash; with `only`, those groups only.
    fn groups(&self, only: impl Fn(&B256) -> bool) -> BTreeMap<B256, Vec<Bytes>> {
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
    node: Node,
    key: LocalSigner,
    chain_id: u64,
    opts: Options,
    sources: Sources,
    peers: BTreeMap<Address, Node>,
    requests: Mutex<BTreeMap<u64, Arc<Req>>>,
    /// The contract's attestors, sorted (refreshed when the scan sees them change).
    attestors: Mutex<Vec<Address>>,
    /// Source kinds as registered (an id's kind never changes).
    kinds: Mutex<BTreeMap<u64, String>>,
    /// Serialises this attestor's transactions (one account, one nonce sequence).
    submitting: tokio::sync::Mutex<()>,
}

/// [`view`], retried for up to ~2 s while the node is busy or unreachable (a node
/// bounds its simulations and refuses the excess with -32005); a revert is final.
async fn ask<C: alloy_sol_types::SolCall>(node: &Node, to: Address, call: &C) -> anyhow::Result<C::Return> {
    let mut delay = Duration::from_millis(20);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match view(node, to, call).await {
            Ok(v) => return Ok(v),
            Err(e) if e.downcast_ref::<Reverted>().is_some() || Instant::now() > deadline => return Err(e),
            Err(_) => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_millis(400));
            }
        }
    }
}

fn status_name(status: u8) -> &'static str {
    match status {
        0 => "pending",
        1 => "attested",
        2 => "rejected",
        3 => "expired",
        _ => "unknown",
    }
}

impl Attestor {
    /// A daemon signing with `key`, reading `sources`.
    pub async fn new(node: Node, key: LocalSigner, sources: Sources, opts: Options) -> anyhow::Result<Arc<Self>> {
        let chain_id = node.chain_id().await?;
        let mut attestors = ask(&node, opts.contract, &IAttestation::attestorsCall {}).await.context("reading the contract's attestors")?;
        attestors.sort();
        if !attestors.contains(&key.address()) {
            tracing::warn!(attestor = %key.address(), "not a registered attestor of the contract (yet): its signatures will be ignored");
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
            attestors: Mutex::new(attestors),
            kinds: Mutex::new(BTreeMap::new()),
            submitting: tokio::sync::Mutex::new(()),
        }))
    }

    /// This attestor's address.
    pub fn address(&self) -> Address {
        self.key.address()
    }

    /// Watches the contract for requests until the process ends.
    pub async fn run(self: Arc<Self>) -> anyhow::Result<()> {
        let start = head(&self.node).await?;
        let mut next = start.saturating_sub(self.opts.lookback);
        tracing::info!(attestor = %self.address(), contract = %self.opts.contract, from_block = next, "watching for requests");
        loop {
            // Requests made before this attestor started may be decided or counted from
            // it already: those are checked on chain before any work.
            match self.scan(next, next <= start).await {
                Ok(n) => next = n,
                Err(e) => tracing::warn!(error = format!("{e:#}"), "scanning for requests failed; retrying"),
            }
            self.requests.lock().retain(|_, r| !r.done.load(Ordering::Relaxed));
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
                let block =
                    log["blockNumber"].as_str().and_then(|b| u64::from_str_radix(b.trim_start_matches("0x"), 16).ok()).unwrap_or(next);
                let topic0 = log["topics"][0].as_str().and_then(|t| t.parse::<B256>().ok());
                if topic0 != Some(Requested::SIGNATURE_HASH) {
                    let mut list = ask(&self.node, self.opts.contract, &IAttestation::attestorsCall {}).await?;
                    list.sort();
                    *self.attestors.lock() = list;
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

    /// Takes up the request of a `Requested` log, unless known, decided, expired or
    /// already counted from this attestor.
    async fn learn(self: &Arc<Self>, log: &Value, head: u64, check: bool) -> anyhow::Result<Option<Arc<Req>>> {
        let topics: Vec<B256> =
            log["topics"].as_array().context("a log without topics")?.iter().filter_map(|t| t.as_str()?.parse().ok()).collect();
        let ev = Requested::decode_raw_log(topics, &hex_field(log, "data")?).context("a Requested log that does not decode")?;
        let id = ev.requestId;
        if let Some(r) = self.requests.lock().get(&id) {
            return Ok(Some(r.clone()));
        }
        if head > ev.expiry {
            return Ok(None);
        }
        if check {
            let info = ask(&self.node, self.opts.contract, &IAttestation::requestInfoCall { requestId: id }).await?;
            let counted =
                ask(&self.node, self.opts.contract, &IAttestation::observedCall { requestId: id, attestor: self.address() }).await?;
            if info.status != 0 || counted {
                return Ok(None);
            }
        }
        let mut ring = self.attestors.lock().clone();
        if !ring.is_empty() {
            let leader = usize::try_from(id % ring.len() as u64).unwrap_or(0);
            ring.rotate_left(leader);
        }
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
            done: AtomicBool::new(false),
        });
        {
            let mut requests = self.requests.lock();
            if let Some(r) = requests.get(&id) {
                return Ok(Some(r.clone()));
            }
            requests.insert(id, req.clone());
        }
        tracing::info!(request = id, source = ev.sourceId, expiry = ev.expiry, quorum = ev.quorum, "new request");
        tokio::spawn(self.clone().work(req.clone()));
        Ok(Some(req))
    }

    /// Finds request `id` on chain (a peer passed signatures for it before this
    /// attestor's scan reached it).
    async fn learn_by_id(self: &Arc<Self>, id: u64) -> anyhow::Result<Option<Arc<Req>>> {
        if let Some(r) = self.requests.lock().get(&id) {
            return Ok(Some(r.clone()));
        }
        let head = head(&self.node).await?;
        let from = head.saturating_sub(9_999);
        let filter = json!({"fromBlock": format!("{from:#x}"), "toBlock": format!("{head:#x}"), "address": self.opts.contract, "topics": [Requested::SIGNATURE_HASH, B256::from(U256::from(id))]});
        let logs = self.node.request("eth_getLogs", vec![filter]).await?;
        match logs.as_array().and_then(|l| l.first()) {
            Some(log) => self.learn(log, head, true).await,
            None => Ok(None),
        }
    }

    /// Reads, signs, starts the pass when leading, then the fallback.
    async fn work(self: Arc<Self>, req: Arc<Req>) {
        let Some(observed) = self.read(&req).await else { return };
        let d = attestation::digest(self.chain_id, self.opts.contract, req.id, observed);
        let sig = match self.key.sign_hash(&d) {
            Ok(s) => Bytes::copy_from_slice(&s.as_bytes()),
            Err(e) => {
                tracing::error!(request = req.id, error = %e, "signing failed");
                return;
            }
        };
        req.sigs.lock().insert(self.address(), (observed, sig));
        req.mine.send_replace(Mine::Signed(observed));
        tracing::info!(request = req.id, observed = %observed, matches = observed == req.data_hash, "read and signed");
        if req.ring.first() == Some(&self.address()) {
            self.advance(&req).await;
        }
        self.fallback(&req, observed).await;
    }

    /// Reads the request's source until it gives bytes (their hash), the attestor
    /// abstains, or the request is over.
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
            if req.done.load(Ordering::Relaxed) {
                return None;
            }
            match source.read(&req.params).await {
                Ok(bytes) => return Some(keccak256(&bytes)),
                Err(ReadError::Unavailable(e)) => {
                    if head(&self.node).await.is_ok_and(|h| h >= req.expiry) {
                        tracing::warn!(request = req.id, error = %e, "the request expired before the source answered");
                        req.done.store(true, Ordering::Relaxed);
                        return None;
                    }
                    tracing::warn!(request = req.id, error = %e, retry_in_ms = delay.as_millis() as u64, "read failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.opts.max_backoff);
                }
                Err(e) => return abstain(e.to_string()),
            }
        }
    }

    /// Signatures a peer passed for request `id`: checked, merged, and acted on (in
    /// the background: the peer is answered at once). The number new.
    pub async fn receive(self: &Arc<Self>, id: u64, entries: Vec<(B256, Bytes)>) -> anyhow::Result<usize> {
        let req = self.learn_by_id(id).await?.with_context(|| format!("request {id} is unknown, decided or expired here"))?;
        let mut new = 0;
        for (observed, sig) in entries {
            let d = attestation::digest(self.chain_id, self.opts.contract, id, observed);
            let signer = Signature::try_from(sig.as_ref()).ok().and_then(|s| s.recover_address_from_prehash(&d).ok());
            match signer {
                Some(a) if req.ring.contains(&a) => {
                    if req.sigs.lock().insert(a, (observed, sig)).is_none() {
                        new += 1;
                    }
                }
                _ => tracing::warn!(request = id, "a passed signature is not an attestor's: dropped"),
            }
        }
        let me = self.clone();
        let r = req.clone();
        tokio::spawn(async move { me.on_set(&r, new > 0).await });
        Ok(new)
    }

    /// A passed set arrived (`grew`: it brought signatures this attestor lacked).
    async fn on_set(&self, req: &Req, grew: bool) {
        let mut grew = grew;
        let mut rx = req.mine.subscribe();
        if *rx.borrow() == Mine::Reading {
            let wait = tokio::time::timeout(self.opts.hold, rx.wait_for(|m| *m != Mine::Reading)).await;
            if matches!(wait, Ok(Ok(m)) if matches!(*m, Mine::Signed(_))) {
                grew = true;
            }
        }
        if !grew {
            // The set came back with nothing new: this is the end of the ring.
            if !req.done.swap(true, Ordering::Relaxed) {
                self.submit(req, req.groups(|_| true), "the end of the ring").await;
            }
            return;
        }
        self.advance(req).await;
    }

    /// Submits a deciding set, or passes the set on (directly submitting when no
    /// peer answers).
    async fn advance(&self, req: &Req) {
        if req.done.load(Ordering::Relaxed) {
            return;
        }
        let (matching, differing) = req.tally();
        if matching >= req.quorum {
            req.done.store(true, Ordering::Relaxed);
            self.submit(req, req.groups(|h| *h == req.data_hash), "a quorum matches").await;
            return;
        }
        if differing >= req.quorum {
            req.done.store(true, Ordering::Relaxed);
            self.submit(req, req.groups(|h| *h != req.data_hash), "a quorum differs").await;
            return;
        }
        let entries: Vec<(B256, Bytes)> = req.sigs.lock().values().cloned().collect();
        let me = self.address();
        let at = req.ring.iter().position(|a| *a == me).unwrap_or(0);
        let n = req.ring.len();
        for step in 1..n {
            let next = req.ring[(at + step) % n];
            let Some(peer) = self.peers.get(&next) else { continue };
            let call = peer.request("attest_pass", vec![json!(req.id), json!(entries)]);
            match tokio::time::timeout(Duration::from_secs(2), call).await {
                Ok(Ok(_)) => {
                    tracing::debug!(request = req.id, to = %next, signatures = entries.len(), "passed");
                    return;
                }
                Ok(Err(e)) => {
                    tracing::warn!(request = req.id, peer = %next, error = format!("{e:#}"), "peer refused the pass; trying the next")
                }
                Err(_) => tracing::warn!(request = req.id, peer = %next, "peer did not answer; trying the next"),
            }
        }
        req.done.store(true, Ordering::Relaxed);
        self.submit(req, req.groups(|_| true), "no peer answered").await;
    }

    /// After `pass_timeout`: submits this attestor's observation if the contract has
    /// not counted it (see the module docs).
    async fn fallback(&self, req: &Req, observed: B256) {
        tokio::time::sleep(self.opts.pass_timeout).await;
        let started = Instant::now();
        let id = req.id;
        loop {
            let counted =
                ask(&self.node, self.opts.contract, &IAttestation::observedCall { requestId: id, attestor: self.address() }).await;
            if matches!(counted, Ok(true)) {
                break;
            }
            let info = ask(&self.node, self.opts.contract, &IAttestation::requestInfoCall { requestId: id }).await;
            let (Ok(counted), Ok(info)) = (counted, info) else {
                if started.elapsed() > Duration::from_secs(60) {
                    return;
                }
                tokio::time::sleep(self.opts.pass_timeout).await;
                continue;
            };
            if counted {
                break;
            }
            let dissent = match info.status {
                0 => true,
                1 => observed != req.data_hash,
                2 => observed == req.data_hash,
                _ => true,
            };
            if dissent {
                let why = if info.status == 0 { "fallback: still pending" } else { "late: disagrees with the outcome or expired" };
                self.submit(req, req.groups(|h| *h == observed), why).await;
            }
            break;
        }
        req.done.store(true, Ordering::Relaxed);
    }

    /// Submits `groups` (observed hash → signatures), one `attest` each.
    async fn submit(&self, req: &Req, groups: BTreeMap<B256, Vec<Bytes>>, why: &str) {
        let _one_at_a_time = self.submitting.lock().await;
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
                    None => tracing::warn!(request = req.id, why, error = format!("{e:#}"), "submitting failed"),
                },
            }
        }
    }
}

/// Serves `attest_pass` on `addr` for `attestor`; the bound address.
pub async fn serve(attestor: Arc<Attestor>, addr: std::net::SocketAddr) -> anyhow::Result<std::net::SocketAddr> {
    let mut module = jsonrpsee::RpcModule::new(attestor);
    module.register_async_method("attest_pass", |params, attestor, _| async move {
        let (id, entries): (u64, Vec<(B256, Bytes)>) =
            params.parse().map_err(|e| jsonrpsee::types::ErrorObject::owned(-32602, format!("bad params: {e}"), None::<()>))?;
        if entries.len() > attestation::MAX_SIGNATURES {
            return Err(jsonrpsee::types::ErrorObject::owned(-32602, "too many signatures", None::<()>));
        }
        attestor.receive(id, entries).await.map_err(|e| jsonrpsee::types::ErrorObject::owned(-32000, format!("{e:#}"), None::<()>))
    })?;
    // A full pass is at most MAX_SIGNATURES entries of ~200 bytes of JSON.
    let config = jsonrpsee::server::ServerConfig::builder().max_request_body_size(64 * 1024).max_connections(256).build();
    let server = jsonrpsee::server::Server::builder().set_config(config).build(addr).await?;
    let bound = server.local_addr()?;
    let handle = server.start(module);
    tokio::spawn(handle.stopped());
    Ok(bound)
}
