//! Validator-to-validator transport for Strata: TCP connections authenticated by
//! validator keys, length-framed messages, queues bounded by count and by bytes,
//! reconnect with backoff.
//!
//! Why a crate of its own, behind the small [`Transport`] trait: consensus and block
//! sync only need "send these bytes to validator `i`" and "bytes arrived from `i`";
//! how peers are dialled, authenticated and kept connected is this crate's business,
//! and [`mem::MemHub`], the in-memory fake beside the trait, lets the node's driver be
//! tested without sockets. Both hand received messages to the node through the same
//! [`Inbound`] receiver.
//!
//! **Connections.** Every pair of validators shares one TCP connection: the one with
//! the higher index dials, the other accepts, so a restarted validator is found again
//! by redialling with exponential backoff. A connection is used only after a
//! challenge-response handshake: each side sends `Hello { chain id, index, nonce }`,
//! answers the other's nonce with a signature by its validator key, and checks that
//! the other's signature recovers to the validator address at the claimed index. A
//! stranger, a validator of another chain or a replayed handshake is refused. A new
//! authenticated connection of a validator replaces its previous one, which ends at
//! once (its tasks, socket and in-flight frame are released).
//!
//! **Framing.** A frame is a 4-byte big-endian length and the payload, at most
//! [`MAX_FRAME`] bytes (16 MiB) once the peer is authenticated and at most
//! [`MAX_HANDSHAKE_FRAME`] bytes (1 KiB) before; a peer announcing more is
//! disconnected before anything is allocated. A message larger than [`MAX_FRAME`]
//! handed to [`Transport::send`] is dropped and counted.
//!
//! **Memory bounds.** Every message held for a peer is charged its payload plus
//! [`MESSAGE_OVERHEAD`] (64) bytes, so that floods of tiny messages are bounded too.
//! With the default [`Limits`]:
//!
//! - *Outbound*, per peer: at most [`NetworkConfig::queue`] messages and at most
//!   [`Limits::max_queued_bytes_per_peer`] (32 MiB) bytes wait for it, the frame being
//!   written included. A message that would exceed either is dropped and counted in
//!   [`NetStats::dropped`] — consensus recovers lost messages by its own timeouts, so a
//!   peer that never reads its socket costs at most its budget.
//! - *Inbound*, per peer: a frame's bytes are reserved against
//!   [`Limits::max_inbound_bytes_per_peer`] (32 MiB) after its length is read and before
//!   its buffer is allocated, and released when the node takes the message from
//!   [`Inbound::recv`]. While a peer's undelivered bytes would exceed the budget, its
//!   connection is not read at all: TCP flow control then stalls the sender, and
//!   nothing is buffered here. The budget belongs to the validator, not to a
//!   connection, so reconnecting does not reset it.
//! - When nothing is held for a peer, one message of up to [`MAX_FRAME`] is always
//!   admitted, so a budget below `MAX_FRAME + MESSAGE_OVERHEAD` behaves as that much.
//! - *Before authentication*: at most [`Limits::max_pending_handshakes`] (16) accepted
//!   connections handshake at once (further sockets are closed at once and counted in
//!   [`NetStats::turned_away`]); each reads at most two frames of
//!   [`MAX_HANDSHAKE_FRAME`] bytes and is dropped after [`HANDSHAKE_TIMEOUT`] (5 s):
//!   about 16 × 2 KiB in total. Connections this node dials (one per lower-index
//!   validator at a time) are not counted but obey the same frame limit and timeout.
//!
//! The memory this crate holds for one peer is therefore at most outbound budget +
//! inbound budget, the frame in flight in each direction included
//! ([`Limits::per_peer_bound`]): **64 MiB per peer** with the defaults, so
//! `(validators − 1) × 64 MiB` plus ~32 KiB for pending handshakes for a whole node
//! (192 MiB in a 4-validator network), however the peers behave. Kernel socket
//! buffers come on top and are bounded by the operating system.
//! [`Network::peer_memory`] reports the current and peak figures per peer.

pub mod mem;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use alloy_rlp::{RlpDecodable, RlpEncodable};
use parking_lot::Mutex;
use strata_primitives::{Address, B256, Bytes, LocalSigner, Signature, keccak256};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch},
};

/// Largest frame accepted from an authenticated peer (bytes).
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// Largest frame accepted during the handshake (bytes); `Hello` and `Auth` are ~100 bytes.
pub const MAX_HANDSHAKE_FRAME: usize = 1024;

/// How long a connection may take to authenticate before it is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes charged for every message held for a peer on top of its payload: its queue
/// slot and allocation, so that a flood of empty messages is bounded by bytes too.
pub const MESSAGE_OVERHEAD: usize = 64;

/// Handshake protocol version.
const VERSION: u8 = 1;

/// Transport failures (start-up; per-connection failures are logged and retried).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// A connection failed or broke a rule (closed, oversized frame, bad handshake).
    #[error("connection: {0}")]
    Connection(String),
    /// The configuration is inconsistent.
    #[error("network configuration: {0}")]
    Config(String),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the node needs from a transport.
pub trait Transport: Send + Sync {
    /// Queues `payload` for validator `to` (dropped and counted if its queue is full, by
    /// count or by bytes, or if it exceeds [`MAX_FRAME`]).
    fn send(&self, to: u32, payload: Vec<u8>);
    /// Queues `payload` for every other validator.
    fn broadcast(&self, payload: Vec<u8>);
    /// Validators currently connected.
    fn connected(&self) -> Vec<u32>;
}

/// A validator as the transport sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Index in the validator set.
    pub index: u32,
    /// Validator address (the key its handshake must prove).
    pub address: Address,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// Memory limits of the transport; see the crate documentation for the resulting bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes (payload + [`MESSAGE_OVERHEAD`] per message) that may wait to be sent to one
    /// peer, the frame being written included; a message that would exceed it is
    /// dropped and counted. Default 32 MiB.
    pub max_queued_bytes_per_peer: usize,
    /// Bytes (payload + [`MESSAGE_OVERHEAD`] per message) received from one peer and not
    /// yet taken through [`Inbound::recv`], the frame being read included; while a frame
    /// would exceed it, that peer's connection is not read. Default 32 MiB.
    pub max_inbound_bytes_per_peer: usize,
    /// Accepted connections that may be handshaking at once; further ones are closed
    /// at once and counted in [`NetStats::turned_away`]. Default 16.
    pub max_pending_handshakes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_queued_bytes_per_peer: 32 << 20, max_inbound_bytes_per_peer: 32 << 20, max_pending_handshakes: 16 }
    }
}

impl Limits {
    /// The most memory held for one peer's messages (bytes): outbound plus inbound
    /// budget, each at least one largest frame. 64 MiB with the defaults.
    pub fn per_peer_bound(&self) -> usize {
        effective_budget(self.max_queued_bytes_per_peer).saturating_add(effective_budget(self.max_inbound_bytes_per_peer))
    }
}

/// A budget admits one largest frame when empty, so it is never less than that.
fn effective_budget(limit: usize) -> usize {
    limit.max(MAX_FRAME + MESSAGE_OVERHEAD)
}

/// Transport settings.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// Chain id (a handshake for another chain is refused).
    pub chain_id: u64,
    /// This validator's index.
    pub me: u32,
    /// This validator's key.
    pub key: LocalSigner,
    /// Where to listen.
    pub listen: SocketAddr,
    /// Every validator, this one included.
    pub validators: Vec<Peer>,
    /// Outgoing queue capacity per peer (messages); see also
    /// [`Limits::max_queued_bytes_per_peer`].
    pub queue: usize,
    /// First redial delay; doubles per failure up to `max_backoff`.
    pub min_backoff: Duration,
    /// Largest redial delay.
    pub max_backoff: Duration,
    /// Memory limits ([`Limits::default`] suits a validator).
    pub limits: Limits,
}

/// Counters for metrics and tests.
#[derive(Debug, Default)]
pub struct NetStats {
    /// Messages dropped: a peer's queue was full (by count or by bytes) or the message
    /// exceeded [`MAX_FRAME`].
    pub dropped: AtomicU64,
    /// Handshakes refused (bad proof, wrong chain or direction, oversized frame, timeout).
    pub refused: AtomicU64,
    /// Connections established.
    pub connections: AtomicU64,
    /// Accepted sockets closed at once because [`Limits::max_pending_handshakes`]
    /// connections were already handshaking.
    pub turned_away: AtomicU64,
    /// Authenticated connections ended because the same validator connected again.
    pub replaced: AtomicU64,
}

/// Memory the transport holds for one peer, in bytes charged (payload +
/// [`MESSAGE_OVERHEAD`] per message).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerMemory {
    /// Waiting to be sent to the peer, the frame being written included.
    pub outbound: usize,
    /// Highest `outbound` since start.
    pub outbound_peak: usize,
    /// Received from the peer and not yet taken through [`Inbound::recv`], the frame
    /// being read included.
    pub inbound: usize,
    /// Highest `inbound` since start.
    pub inbound_peak: usize,
}

/// Bytes held for one peer in one direction, and the wake-up of whoever waits for room.
#[derive(Debug)]
struct Budget {
    limit: usize,
    used: AtomicUsize,
    peak: AtomicUsize,
    released: Notify,
}

impl Budget {
    fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self { limit, used: AtomicUsize::new(0), peak: AtomicUsize::new(0), released: Notify::new() })
    }

    /// Reserves `bytes` if they fit (always when nothing is held).
    fn try_charge(self: &Arc<Self>, bytes: usize) -> Option<Charge> {
        let mut used = self.used.load(Ordering::Acquire);
        loop {
            let after = used.saturating_add(bytes);
            if used != 0 && after > self.limit {
                return None;
            }
            match self.used.compare_exchange_weak(used, after, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    self.peak.fetch_max(after, Ordering::Relaxed);
                    return Some(Charge { budget: self.clone(), bytes });
                }
                Err(now) => used = now,
            }
        }
    }

    /// Reserves `bytes`, waiting until enough is released.
    async fn charge(self: &Arc<Self>, bytes: usize) -> Charge {
        loop {
            // Registered before the check, so a release in between is not missed.
            let released = self.released.notified();
            if let Some(charge) = self.try_charge(bytes) {
                return charge;
            }
            released.await;
        }
    }
}

/// Bytes reserved in a [`Budget`], released when dropped (sent, delivered or discarded).
#[derive(Debug)]
struct Charge {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
        self.budget.released.notify_waiters();
    }
}

/// A received message on its way to the node, holding its sender's inbound bytes.
#[derive(Debug)]
pub(crate) struct Delivery {
    from: u32,
    payload: Vec<u8>,
    charge: Option<Charge>,
}

impl Delivery {
    /// A message not charged to any budget (the in-memory hub).
    pub(crate) fn unmetered(from: u32, payload: Vec<u8>) -> Self {
        Self { from, payload, charge: None }
    }

    fn open(self) -> (u32, Vec<u8>) {
        let Delivery { from, payload, charge } = self;
        drop(charge);
        (from, payload)
    }
}

/// The messages received from peers, `(sender index, payload)`, as handed to the node
/// by [`Network::start`] and [`mem::MemHub::new`]. Taking a message releases its bytes
/// from the sender's inbound budget, which lets that peer's connection be read again.
#[derive(Debug)]
pub struct Inbound {
    rx: mpsc::UnboundedReceiver<Delivery>,
}

impl Inbound {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<Delivery>) -> Self {
        Self { rx }
    }

    /// The next message; `None` once the transport is gone. Cancel-safe: usable in
    /// `tokio::select!` without losing messages.
    pub async fn recv(&mut self) -> Option<(u32, Vec<u8>)> {
        self.rx.recv().await.map(Delivery::open)
    }

    /// The next message if one is waiting.
    pub fn try_recv(&mut self) -> Option<(u32, Vec<u8>)> {
        self.rx.try_recv().ok().map(Delivery::open)
    }
}

#[derive(Debug, RlpEncodable, RlpDecodable)]
struct Hello {
    version: u8,
    chain_id: u64,
    index: u32,
    nonce: B256,
}

#[derive(Debug, RlpEncodable, RlpDecodable)]
struct Auth {
    signature: Bytes,
}

/// What a validator signs to prove its key: the peer's nonce, bound to the chain and
/// to both indices, under a domain tag no other Strata signature uses.
fn handshake_digest(chain_id: u64, peer_nonce: &B256, signer: u32, peer: u32) -> B256 {
    let mut buf = Vec::with_capacity(64);
    buf.extend_from_slice(b"strata/p2p/handshake/v1");
    buf.extend_from_slice(&chain_id.to_be_bytes());
    buf.extend_from_slice(peer_nonce.as_slice());
    buf.extend_from_slice(&signer.to_be_bytes());
    buf.extend_from_slice(&peer.to_be_bytes());
    keccak256(buf)
}

/// Reads a frame's length, refusing more than `max` (nothing is allocated).
async fn read_len(stream: &mut (impl AsyncReadExt + Unpin), max: usize) -> Result<usize> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await.map_err(|e| Error::Connection(format!("read: {e}")))?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(Error::Connection(format!("frame of {len} bytes exceeds {max}")));
    }
    Ok(len)
}

async fn read_body(stream: &mut (impl AsyncReadExt + Unpin), len: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    stream.read_exact(&mut buf).await.map_err(|e| Error::Connection(format!("read: {e}")))?;
    Ok(buf)
}

/// Reads one frame of at most `max` bytes.
async fn read_frame_within(stream: &mut (impl AsyncReadExt + Unpin), max: usize) -> Result<Vec<u8>> {
    let len = read_len(stream, max).await?;
    read_body(stream, len).await
}

/// Reads one frame (at most [`MAX_FRAME`] bytes).
pub async fn read_frame(stream: &mut (impl AsyncReadExt + Unpin)) -> Result<Vec<u8>> {
    read_frame_within(stream, MAX_FRAME).await
}

/// Writes one frame.
pub async fn write_frame(stream: &mut (impl AsyncWriteExt + Unpin), payload: &[u8]) -> Result<()> {
    let len = u32::try_from(payload.len()).ok().filter(|l| (*l as usize) <= MAX_FRAME);
    let len = len.ok_or_else(|| Error::Connection(format!("frame of {} bytes exceeds {MAX_FRAME}", payload.len())))?;
    stream.write_all(&len.to_be_bytes()).await.map_err(|e| Error::Connection(format!("write: {e}")))?;
    stream.write_all(payload).await.map_err(|e| Error::Connection(format!("write: {e}")))?;
    Ok(())
}

fn random_nonce() -> B256 {
    let mut b = [0u8; 32];
    // The OS RNG only fails on broken systems; a fixed nonce then still authenticates
    // (signatures bind both indices and the chain), it only loses replay protection.
    if let Err(e) = getrandom::fill(&mut b) {
        tracing::error!(error = %e, "no OS randomness for the handshake nonce");
    }
    B256::from(b)
}

/// A message waiting for a peer, holding its bytes of the peer's outbound budget. A
/// broadcast shares one buffer between peers (each is charged in full).
struct Outgoing {
    payload: Arc<Vec<u8>>,
    _charge: Charge,
}

/// Everything kept per peer across its connections.
struct Link {
    /// Sending end of its outgoing queue.
    queue: mpsc::Sender<Outgoing>,
    /// Receiving end, taken by whichever connection to the peer is live.
    outbox: tokio::sync::Mutex<mpsc::Receiver<Outgoing>>,
    outbound: Arc<Budget>,
    inbound: Arc<Budget>,
    /// Generation of its newest authenticated connection: an older one ends when it changes.
    current: watch::Sender<u64>,
}

struct Shared {
    config: NetworkConfig,
    /// One per peer, created at start and kept across reconnects.
    links: BTreeMap<u32, Link>,
    /// Peers with a live connection, and that connection's generation.
    live: Mutex<BTreeMap<u32, u64>>,
    generation: AtomicU64,
    inbound: mpsc::UnboundedSender<Delivery>,
    /// One permit per accepted connection still handshaking.
    handshakes: Arc<Semaphore>,
    stats: NetStats,
    /// Turns true on shutdown: every connection ends.
    stop: watch::Sender<bool>,
}

/// A running transport. Dropping it does not stop its tasks; call [`Network::shutdown`].
#[derive(Clone)]
pub struct Network {
    shared: Arc<Shared>,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Network {
    /// Starts listening and dialling. Returns the transport and the stream of
    /// messages received (sender index, payload). Must run inside a tokio runtime.
    pub async fn start(config: NetworkConfig) -> Result<(Network, Inbound)> {
        let me = config.validators.iter().find(|p| p.index == config.me).ok_or_else(|| Error::Config("`me` is not a validator".into()))?;
        if me.address != config.key.address() {
            return Err(Error::Config(format!(
                "the key's address {} is not validator {}'s ({})",
                config.key.address(),
                config.me,
                me.address
            )));
        }
        if config.limits.max_pending_handshakes == 0 {
            return Err(Error::Config("max_pending_handshakes must be at least 1".into()));
        }
        let listener = TcpListener::bind(config.listen).await.map_err(|source| Error::Bind { addr: config.listen, source })?;
        let (inbound, rx) = mpsc::unbounded_channel();
        let mut links = BTreeMap::new();
        for p in config.validators.iter().filter(|p| p.index != config.me) {
            let (queue, outbox) = mpsc::channel(config.queue.max(1));
            links.insert(
                p.index,
                Link {
                    queue,
                    outbox: tokio::sync::Mutex::new(outbox),
                    outbound: Budget::new(config.limits.max_queued_bytes_per_peer),
                    inbound: Budget::new(config.limits.max_inbound_bytes_per_peer),
                    current: watch::channel(0).0,
                },
            );
        }
        let shared = Arc::new(Shared {
            handshakes: Arc::new(Semaphore::new(config.limits.max_pending_handshakes)),
            config,
            links,
            live: Mutex::new(BTreeMap::new()),
            generation: AtomicU64::new(0),
            inbound,
            stats: NetStats::default(),
            stop: watch::channel(false).0,
        });
        let mut tasks = vec![tokio::spawn(accept_loop(shared.clone(), listener))];
        let me = shared.config.me;
        for p in shared.config.validators.iter().filter(|p| p.index < me) {
            tasks.push(tokio::spawn(dial_loop(shared.clone(), p.clone())));
        }
        tracing::info!(me, listen = %shared.config.listen, peers = shared.links.len(), "validator transport started");
        Ok((Network { shared, tasks: Arc::new(Mutex::new(tasks)) }, Inbound::new(rx)))
    }

    /// Counters.
    pub fn stats(&self) -> &NetStats {
        &self.shared.stats
    }

    /// Memory held for validator `peer`'s messages (`None` if it is not a peer).
    pub fn peer_memory(&self, peer: u32) -> Option<PeerMemory> {
        let link = self.shared.links.get(&peer)?;
        Some(PeerMemory {
            outbound: link.outbound.used.load(Ordering::Relaxed),
            outbound_peak: link.outbound.peak.load(Ordering::Relaxed),
            inbound: link.inbound.used.load(Ordering::Relaxed),
            inbound_peak: link.inbound.peak.load(Ordering::Relaxed),
        })
    }

    /// Accepted connections currently handshaking (at most
    /// [`Limits::max_pending_handshakes`]).
    pub fn pending_handshakes(&self) -> usize {
        self.shared.config.limits.max_pending_handshakes - self.shared.handshakes.available_permits()
    }

    /// Stops listening, dialling and every connection.
    pub fn shutdown(&self) {
        self.shared.stop.send_replace(true);
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
    }

    /// Queues a shared payload for `to`, charging its outbound budget.
    fn enqueue(&self, to: u32, payload: &Arc<Vec<u8>>) {
        let Some(link) = self.shared.links.get(&to) else { return };
        let len = payload.len();
        if len > MAX_FRAME {
            self.shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(to, len, "message exceeds the frame limit: dropped");
            return;
        }
        let Some(charge) = link.outbound.try_charge(len + MESSAGE_OVERHEAD) else {
            self.shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(to, len, "peer queue over its byte budget: message dropped");
            return;
        };
        if link.queue.try_send(Outgoing { payload: payload.clone(), _charge: charge }).is_err() {
            self.shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(to, "peer queue full: message dropped");
        }
    }
}

impl Transport for Network {
    fn send(&self, to: u32, payload: Vec<u8>) {
        self.enqueue(to, &Arc::new(payload));
    }

    fn broadcast(&self, payload: Vec<u8>) {
        let payload = Arc::new(payload);
        for to in self.shared.links.keys() {
            self.enqueue(*to, &payload);
        }
    }

    fn connected(&self) -> Vec<u32> {
        self.shared.live.lock().keys().copied().collect()
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, from)) => {
                // Closed at once, before reading anything, when too many are pending.
                let Ok(permit) = shared.handshakes.clone().try_acquire_owned() else {
                    shared.stats.turned_away.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%from, "too many pending handshakes: connection closed");
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    if let Err(e) = connection(shared, stream, None, Some(permit)).await {
                        tracing::debug!(%from, error = %e, "inbound connection ended");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn dial_loop(shared: Arc<Shared>, peer: Peer) {
    let mut backoff = shared.config.min_backoff;
    loop {
        match TcpStream::connect(peer.addr).await {
            Ok(stream) => {
                let started = tokio::time::Instant::now();
                if let Err(e) = connection(shared.clone(), stream, Some(peer.index), None).await {
                    tracing::debug!(peer = peer.index, error = %e, "connection ended");
                }
                // A connection that lived a while resets the backoff.
                if started.elapsed() > shared.config.max_backoff {
                    backoff = shared.config.min_backoff;
                }
            }
            Err(e) => tracing::trace!(peer = peer.index, error = %e, "dial failed"),
        }
        tokio::time::sleep(backoff).await;
        backoff = backoff.saturating_mul(2).min(shared.config.max_backoff);
    }
}

/// Proves our key to the peer on `stream` and checks its proof; returns its index.
/// `expected`: the peer dialled (None for an inbound connection).
async fn handshake(cfg: &NetworkConfig, stream: &mut TcpStream, expected: Option<u32>) -> Result<u32> {
    let nonce = random_nonce();
    let hello = Hello { version: VERSION, chain_id: cfg.chain_id, index: cfg.me, nonce };
    write_frame(stream, &alloy_rlp::encode(&hello)).await?;
    let theirs: Hello = decode(&read_frame_within(stream, MAX_HANDSHAKE_FRAME).await?)?;
    let refuse = |why: String| Err::<u32, _>(Error::Connection(format!("handshake refused: {why}")));
    if theirs.version != VERSION || theirs.chain_id != cfg.chain_id {
        return refuse(format!("version {} chain {} (want {VERSION}, {})", theirs.version, theirs.chain_id, cfg.chain_id));
    }
    let Some(peer) = cfg.validators.iter().find(|p| p.index == theirs.index && p.index != cfg.me) else {
        return refuse(format!("unknown validator index {}", theirs.index));
    };
    if expected.is_some_and(|e| e != theirs.index) || (expected.is_none() && theirs.index < cfg.me) {
        return refuse(format!("validator {} connected in the wrong direction", theirs.index));
    }
    let sig = cfg
        .key
        .sign_hash(&handshake_digest(cfg.chain_id, &theirs.nonce, cfg.me, theirs.index))
        .map_err(|e| Error::Connection(format!("signing: {e}")))?;
    write_frame(stream, &alloy_rlp::encode(Auth { signature: sig.as_bytes().to_vec().into() })).await?;
    let auth: Auth = decode(&read_frame_within(stream, MAX_HANDSHAKE_FRAME).await?)?;
    let sig = Signature::try_from(&auth.signature[..]).map_err(|e| Error::Connection(format!("bad signature: {e}")))?;
    let digest = handshake_digest(cfg.chain_id, &nonce, theirs.index, cfg.me);
    match sig.recover_address_from_prehash(&digest) {
        Ok(a) if a == peer.address => Ok(theirs.index),
        _ => refuse(format!("validator {} did not prove its key", theirs.index)),
    }
}

/// Authenticates `stream` and, if the peer proves its key, runs it until it breaks, is
/// replaced by a newer connection of the same peer, or the transport stops.
/// `expected`: the peer dialled (None for an inbound connection); `pending`: the
/// inbound connection's handshake slot, freed once authenticated.
async fn connection(
    shared: Arc<Shared>,
    mut stream: TcpStream,
    expected: Option<u32>,
    pending: Option<OwnedSemaphorePermit>,
) -> Result<()> {
    let _ = stream.set_nodelay(true);
    let mut stop = shared.stop.subscribe();
    let shut_down = || Error::Connection("shut down".into());
    if *stop.borrow_and_update() {
        return Err(shut_down());
    }
    let authenticated = tokio::select! {
        r = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&shared.config, &mut stream, expected)) => r,
        _ = stop.wait_for(|s| *s) => return Err(shut_down()),
    };
    drop(pending);
    let peer = match authenticated {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            shared.stats.refused.fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
        Err(_) => {
            shared.stats.refused.fetch_add(1, Ordering::Relaxed);
            return Err(Error::Connection("handshake timed out".into()));
        }
    };
    let link = shared.links.get(&peer).ok_or_else(|| Error::Connection("no queue".into()))?;
    // The newest connection of a validator wins: the previous one sees `current` change and ends.
    let generation = {
        let mut live = shared.live.lock();
        let generation = shared.generation.fetch_add(1, Ordering::Relaxed) + 1;
        live.insert(peer, generation);
        link.current.send_replace(generation);
        generation
    };
    let mut current = link.current.subscribe();
    shared.stats.connections.fetch_add(1, Ordering::Relaxed);
    tracing::info!(peer, "validator connected");
    let (mut reader, mut writer) = stream.into_split();
    let read = async {
        loop {
            let len = read_len(&mut reader, MAX_FRAME).await?;
            // Backpressure: while this peer's undelivered bytes leave no room, the
            // socket is not read, so TCP stalls the sender instead of us buffering.
            let charge = link.inbound.charge(len + MESSAGE_OVERHEAD).await;
            let payload = read_body(&mut reader, len).await?;
            if shared.inbound.send(Delivery { from: peer, payload, charge: Some(charge) }).is_err() {
                return Err(Error::Connection("node stopped".into()));
            }
        }
    };
    let write = async {
        // Waits for the previous connection to the peer to release the outbox.
        let mut rx = link.outbox.lock().await;
        while let Some(msg) = rx.recv().await {
            // The message keeps its bytes charged until it is written.
            write_frame(&mut writer, &msg.payload).await?;
        }
        Err::<(), _>(Error::Connection("queue closed".into()))
    };
    let result = tokio::select! {
        r = read => r,
        r = write => r,
        _ = current.wait_for(|g| *g != generation) => {
            shared.stats.replaced.fetch_add(1, Ordering::Relaxed);
            Err(Error::Connection("replaced by a newer connection".into()))
        }
        _ = stop.wait_for(|s| *s) => Err(shut_down()),
    };
    {
        let mut live = shared.live.lock();
        if live.get(&peer) == Some(&generation) {
            live.remove(&peer);
        }
    }
    tracing::info!(peer, "validator disconnected");
    result
}

fn decode<T: alloy_rlp::Decodable>(bytes: &[u8]) -> Result<T> {
    strata_primitives::rlp_item::decode_exact(bytes).map_err(|e| Error::Connection(format!("malformed handshake: {e}")))
}

#[cfg(test)]
mod tests;
