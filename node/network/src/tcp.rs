//! [`Network`], the TCP transport: the state kept per peer across its connections
//! (outgoing queue, byte budgets, newest connection), start-up, shutdown and the
//! [`Transport`] side (queueing a message for a peer within its budget).

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use parking_lot::Mutex;
use tokio::{
    net::TcpListener,
    sync::{Semaphore, mpsc, watch},
};

use crate::{
    Delivery, Error, Inbound, MAX_FRAME, MESSAGE_OVERHEAD, NetStats, NetworkConfig, PeerMemory, Result, Transport,
    budget::{Budget, Charge},
    conn::{accept_loop, dial_loop},
};

/// A message waiting for a peer, holding its bytes of the peer's outbound budget. A
/// broadcast shares one buffer between peers (each is charged in full).
pub(crate) struct Outgoing {
    pub(crate) payload: Arc<Vec<u8>>,
    _charge: Charge,
}

/// Everything kept per peer across its connections.
pub(crate) struct Link {
    /// Sending end of its outgoing queue.
    pub(crate) queue: mpsc::Sender<Outgoing>,
    /// Receiving end, taken by whichever connection to the peer is live.
    pub(crate) outbox: tokio::sync::Mutex<mpsc::Receiver<Outgoing>>,
    pub(crate) outbound: Arc<Budget>,
    pub(crate) inbound: Arc<Budget>,
    /// Generation of its newest authenticated connection: an older one ends when it changes.
    pub(crate) current: watch::Sender<u64>,
}

/// What the transport's tasks share.
pub(crate) struct Shared {
    pub(crate) config: NetworkConfig,
    /// One per peer, created at start and kept across reconnects.
    pub(crate) links: BTreeMap<u32, Link>,
    /// Peers with a live connection, and that connection's generation.
    pub(crate) live: Mutex<BTreeMap<u32, u64>>,
    pub(crate) generation: AtomicU64,
    pub(crate) inbound: mpsc::UnboundedSender<Delivery>,
    /// One permit per accepted connection still handshaking.
    pub(crate) handshakes: Arc<Semaphore>,
    pub(crate) stats: NetStats,
    /// Turns true on shutdown: every connection ends.
    pub(crate) stop: watch::Sender<bool>,
}

/// A running transport. Dropping it does not stop its tasks; call [`Network::shutdown`].
#[derive(Clone)]
pub struct Network {
    pub(crate) shared: Arc<Shared>,
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
        Some(PeerMemory::of(&link.outbound, &link.inbound))
    }

    /// Accepted connections currently handshaking (at most
    /// [`Limits::max_pending_handshakes`](crate::Limits::max_pending_handshakes)).
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
