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
//!
//! **Layout.** This file holds the [`Transport`] trait, the settings, limits, counters
//! and errors; [`Network`] (the TCP transport) is in `tcp`, its accept and dial loops
//! and connections in `conn`, the handshake in `handshake`, framing in `frame`, the
//! byte budgets, [`PeerMemory`] and the [`Inbound`] receiver in `budget`, and the
//! in-memory hub in [`mem`].

mod budget;
mod conn;
mod frame;
mod handshake;
pub mod mem;
mod tcp;

use std::{net::SocketAddr, sync::atomic::AtomicU64, time::Duration};

use strata_primitives::{Address, LocalSigner};

pub(crate) use budget::Delivery;
pub use budget::{Inbound, PeerMemory};
pub use frame::{read_frame, write_frame};
pub use tcp::Network;

/// Largest frame accepted from an authenticated peer (bytes).
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// Largest frame accepted during the handshake (bytes); `Hello` and `Auth` are ~100 bytes.
pub const MAX_HANDSHAKE_FRAME: usize = 1024;

/// How long a connection may take to authenticate before it is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes charged for every message held for a peer on top of its payload: its queue
/// slot and allocation, so that a flood of empty messages is bounded by bytes too.
pub const MESSAGE_OVERHEAD: usize = 64;

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
        budget::effective_budget(self.max_queued_bytes_per_peer).saturating_add(budget::effective_budget(self.max_inbound_bytes_per_peer))
    }
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

#[cfg(test)]
mod tests;
