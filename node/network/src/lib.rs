//! Validator-to-validator transport for Strata: TCP connections authenticated by
//! validator keys, length-framed messages, bounded queues, reconnect with backoff.
//!
//! Why a crate of its own, behind the small [`Transport`] trait: consensus and block
//! sync only need "send these bytes to validator `i`" and "bytes arrived from `i`";
//! how peers are dialled, authenticated and kept connected is this crate's business,
//! and [`mem::MemHub`], the in-memory fake beside the trait, lets the node's driver be
//! tested without sockets.
//!
//! **Connections.** Every pair of validators shares one TCP connection: the one with
//! the higher index dials, the other accepts, so a restarted validator is found again
//! by redialling with exponential backoff. A connection is used only after a
//! challenge-response handshake: each side sends `Hello { chain id, index, nonce }`,
//! answers the other's nonce with a signature by its validator key, and checks that
//! the other's signature recovers to the validator address at the claimed index. A
//! stranger, a validator of another chain or a replayed handshake is refused.
//!
//! **Framing and queues.** A frame is a 4-byte big-endian length and the payload, at
//! most [`MAX_FRAME`] bytes (a peer sending more is disconnected). Outgoing messages
//! wait in a bounded queue per peer ([`NetworkConfig::queue`]); when it is full the
//! message is dropped and counted — consensus recovers lost messages by its own
//! timeouts, and a slow peer can never exhaust this node's memory.

pub mod mem;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use alloy_rlp::{RlpDecodable, RlpEncodable};
use parking_lot::Mutex;
use strata_primitives::{Address, B256, Bytes, LocalSigner, Signature, keccak256};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};

/// Largest frame accepted (bytes).
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

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
    /// Queues `payload` for validator `to` (dropped if its queue is full).
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
    /// Outgoing queue capacity per peer (messages).
    pub queue: usize,
    /// First redial delay; doubles per failure up to `max_backoff`.
    pub min_backoff: Duration,
    /// Largest redial delay.
    pub max_backoff: Duration,
}

/// Counters for metrics and tests.
#[derive(Debug, Default)]
pub struct NetStats {
    /// Messages dropped because a peer's queue was full.
    pub dropped: AtomicU64,
    /// Handshakes refused.
    pub refused: AtomicU64,
    /// Connections established.
    pub connections: AtomicU64,
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

/// Reads one frame.
pub async fn read_frame(stream: &mut (impl AsyncReadExt + Unpin)) -> Result<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await.map_err(|e| Error::Connection(format!("read: {e}")))?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(Error::Connection(format!("frame of {len} bytes exceeds {MAX_FRAME}")));
    }
    let mut buf = vec![0u8; len];
    stream.read_exact(&mut buf).await.map_err(|e| Error::Connection(format!("read: {e}")))?;
    Ok(buf)
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

/// A peer's outgoing queue, held by its live connection.
type Outbox = Arc<tokio::sync::Mutex<mpsc::Receiver<Vec<u8>>>>;

struct Shared {
    config: NetworkConfig,
    /// Outgoing queues, one per peer, created at start and kept across reconnects.
    queues: BTreeMap<u32, mpsc::Sender<Vec<u8>>>,
    /// The receiving ends, taken by whichever connection to the peer is live.
    outboxes: Mutex<BTreeMap<u32, Outbox>>,
    /// Peers with a live connection, and that connection's generation.
    live: Mutex<BTreeMap<u32, u64>>,
    generation: AtomicU64,
    inbound: mpsc::Sender<(u32, Vec<u8>)>,
    stats: NetStats,
    /// Turns true on shutdown: every connection ends.
    stop: tokio::sync::watch::Sender<bool>,
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
    pub async fn start(config: NetworkConfig) -> Result<(Network, mpsc::Receiver<(u32, Vec<u8>)>)> {
        let me = config.validators.iter().find(|p| p.index == config.me).ok_or_else(|| Error::Config("`me` is not a validator".into()))?;
        if me.address != config.key.address() {
            return Err(Error::Config(format!(
                "the key's address {} is not validator {}'s ({})",
                config.key.address(),
                config.me,
                me.address
            )));
        }
        let listener = TcpListener::bind(config.listen).await.map_err(|source| Error::Bind { addr: config.listen, source })?;
        let (inbound, rx) = mpsc::channel(config.queue.max(16).saturating_mul(4));
        let mut queues = BTreeMap::new();
        let mut outboxes = BTreeMap::new();
        for p in config.validators.iter().filter(|p| p.index != config.me) {
            let (tx, rx) = mpsc::channel(config.queue.max(1));
            queues.insert(p.index, tx);
            outboxes.insert(p.index, Arc::new(tokio::sync::Mutex::new(rx)));
        }
        let shared = Arc::new(Shared {
            config,
            queues,
            outboxes: Mutex::new(outboxes),
            live: Mutex::new(BTreeMap::new()),
            generation: AtomicU64::new(0),
            inbound,
            stats: NetStats::default(),
            stop: tokio::sync::watch::channel(false).0,
        });
        let mut tasks = vec![tokio::spawn(accept_loop(shared.clone(), listener))];
        let me = shared.config.me;
        for p in shared.config.validators.iter().filter(|p| p.index < me) {
            tasks.push(tokio::spawn(dial_loop(shared.clone(), p.clone())));
        }
        tracing::info!(me, listen = %shared.config.listen, peers = shared.queues.len(), "validator transport started");
        Ok((Network { shared, tasks: Arc::new(Mutex::new(tasks)) }, rx))
    }

    /// Counters.
    pub fn stats(&self) -> &NetStats {
        &self.shared.stats
    }

    /// Stops listening, dialling and every connection.
    pub fn shutdown(&self) {
        let _ = self.shared.stop.send(true);
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
    }
}

impl Transport for Network {
    fn send(&self, to: u32, payload: Vec<u8>) {
        let Some(q) = self.shared.queues.get(&to) else { return };
        if q.try_send(payload).is_err() {
            self.shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(to, "peer queue full: message dropped");
        }
    }

    fn broadcast(&self, payload: Vec<u8>) {
        for to in self.shared.queues.keys() {
            self.send(*to, payload.clone());
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
                let shared = shared.clone();
                tokio::spawn(async move {
                    if let Err(e) = connection(shared.clone(), stream, None).await {
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
                if let Err(e) = connection(shared.clone(), stream, Some(peer.index)).await {
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

/// Authenticates `stream` and, if the peer proves its key, runs it until it breaks.
/// `expected`: the peer dialled (None for an inbound connection).
async fn connection(shared: Arc<Shared>, mut stream: TcpStream, expected: Option<u32>) -> Result<()> {
    let _ = stream.set_nodelay(true);
    let cfg = &shared.config;
    let nonce = random_nonce();
    let hello = Hello { version: VERSION, chain_id: cfg.chain_id, index: cfg.me, nonce };
    let handshake = async {
        write_frame(&mut stream, &alloy_rlp::encode(&hello)).await?;
        let theirs: Hello = decode(&read_frame(&mut stream).await?)?;
        let refuse = |why: String| Err::<(u32, Address), _>(Error::Connection(format!("handshake refused: {why}")));
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
        write_frame(&mut stream, &alloy_rlp::encode(Auth { signature: sig.as_bytes().to_vec().into() })).await?;
        let auth: Auth = decode(&read_frame(&mut stream).await?)?;
        let sig = Signature::try_from(&auth.signature[..]).map_err(|e| Error::Connection(format!("bad signature: {e}")))?;
        let digest = handshake_digest(cfg.chain_id, &nonce, theirs.index, cfg.me);
        match sig.recover_address_from_prehash(&digest) {
            Ok(a) if a == peer.address => Ok((theirs.index, peer.address)),
            _ => refuse(format!("validator {} did not prove its key", theirs.index)),
        }
    };
    let (peer, _) = match tokio::time::timeout(Duration::from_secs(5), handshake).await {
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
    let generation = shared.generation.fetch_add(1, Ordering::Relaxed);
    shared.live.lock().insert(peer, generation);
    shared.stats.connections.fetch_add(1, Ordering::Relaxed);
    tracing::info!(peer, "validator connected");
    let outbox = shared.outboxes.lock().get(&peer).cloned().ok_or_else(|| Error::Connection("no queue".into()))?;
    let (mut reader, mut writer) = stream.into_split();
    let inbound = shared.inbound.clone();
    let read = async move {
        loop {
            let frame = read_frame(&mut reader).await?;
            if inbound.send((peer, frame)).await.is_err() {
                return Err(Error::Connection("node stopped".into()));
            }
        }
    };
    let write = async move {
        // A newer connection to the same peer takes the outbox over: this one then ends.
        let mut rx = outbox.lock().await;
        while let Some(msg) = rx.recv().await {
            write_frame(&mut writer, &msg).await?;
        }
        Err::<(), _>(Error::Connection("queue closed".into()))
    };
    let mut stop = shared.stop.subscribe();
    let result = tokio::select! {
        r = read => r,
        r = write => r,
        _ = stop.wait_for(|s| *s) => Err(Error::Connection("shut down".into())),
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
