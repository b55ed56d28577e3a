//! The validator driver: runs the pure PBFT core (`strata-consensus`) against the
//! real world — the chain (propose, re-execute, commit), the transport (TCP between
//! validators), the clock (view-change timers) and the disk (consensus state
//! persisted before any vote leaves) — and keeps lagging validators in step by
//! syncing certified blocks from peers.
//!
//! The core decides; this loop only carries out its effects, in order, and feeds
//! back what happened. `strata dev` runs the same loop with a single validator.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use alloy_rlp::{RlpDecodable, RlpEncodable};
use strata_chain::Chain;
use strata_consensus::{Config as CoreConfig, Core, Effect, Input, Persisted, SignedMessage};
use strata_network::Transport;
use strata_primitives::{
    B256, Block, Bytes, LocalSigner, TransactionSigned,
    consensus::{CommitCertificate, ValidatorSet},
    rlp_item::decode_exact,
};
use tokio::{
    sync::{mpsc, watch},
    time::Instant,
};

/// Meta key of the persisted consensus state.
const CONSENSUS_KEY: &[u8] = b"consensus";
/// Blocks per sync response.
const SYNC_BATCH: u64 = 32;

/// Driver settings.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// The validators.
    pub validators: ValidatorSet,
    /// Our index.
    pub me: u32,
    /// Our key.
    pub key: LocalSigner,
    /// Minimum time between blocks.
    pub block_time: Duration,
    /// With an empty pool, propose an empty block after this long (None: never).
    pub empty_block_after: Option<Duration>,
    /// View-change timeout of a view's first round (ms).
    pub view_timeout_ms: u64,
}

/// Node-to-node messages (a tag byte, then RLP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// A signed consensus message.
    Consensus(Bytes),
    /// A transaction pooled by the sender (EIP-2718 bytes).
    Tx(Bytes),
    /// Asks for certified blocks from `from`, at most `limit`.
    SyncRequest(SyncRequest),
    /// Certified blocks, in order.
    SyncResponse(Vec<CertifiedBlock>),
    /// The sender's committed height (announced periodically).
    Status(u64),
}

/// A block as proposed and synced: the block and the parent certificate its header
/// names (`parentCommitHash`), so every validator can check it and store that one
/// as the parent's canonical certificate.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Envelope {
    /// The block.
    pub block: Block,
    /// The certificate of its parent (empty above genesis).
    pub parent_certificate: Bytes,
}

/// A sync request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct SyncRequest {
    /// First height wanted.
    pub from: u64,
    /// Most blocks wanted.
    pub limit: u64,
}

/// A block with its commit certificate.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct CertifiedBlock {
    /// The block's [`Envelope`] (RLP).
    pub block: Bytes,
    /// Its certificate (RLP).
    pub certificate: Bytes,
}

impl Wire {
    /// Tag byte ++ RLP.
    pub fn encode(&self) -> Vec<u8> {
        let (tag, body) = match self {
            Wire::Consensus(b) => (0u8, alloy_rlp::encode(b)),
            Wire::Tx(b) => (1, alloy_rlp::encode(b)),
            Wire::SyncRequest(r) => (2, alloy_rlp::encode(r)),
            Wire::SyncResponse(v) => (3, alloy_rlp::encode(v)),
            Wire::Status(h) => (4, alloy_rlp::encode(h)),
        };
        let mut out = Vec::with_capacity(body.len() + 1);
        out.push(tag);
        out.extend(body);
        out
    }

    /// Decodes a message; `None` for anything malformed (the sender gets nothing back).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let (tag, body) = bytes.split_first()?;
        Some(match tag {
            0 => Wire::Consensus(decode_exact(body).ok()?),
            1 => Wire::Tx(decode_exact(body).ok()?),
            2 => Wire::SyncRequest(decode_exact(body).ok()?),
            3 => Wire::SyncResponse(decode_exact(body).ok()?),
            4 => Wire::Status(decode_exact(body).ok()?),
            _ => return None,
        })
    }
}

/// What the loop waits for besides the network.
enum Event {
    /// The timer of `view` fired; `generation` tells a live timer from a replaced one.
    Timeout { view: u64, generation: u64 },
}

/// The running driver's state.
struct Driver {
    chain: Arc<Chain>,
    net: Arc<dyn Transport>,
    core: Core,
    config: DriverConfig,
    chain_id: u64,
    events: mpsc::UnboundedSender<Event>,
    /// Bumped by every SetTimer: only the newest timer may fire.
    timer_generation: u64,
    /// The core asked us to propose: (height, view).
    propose: Option<(u64, u64)>,
    last_commit: Instant,
    /// When we last asked a peer for blocks (one request in flight at a time).
    syncing: Option<Instant>,
}

/// Runs a validator until `shutdown` turns true. `inbound`: messages from peers.
/// A failure (the node's: storage, a certified block that does not re-execute) is
/// logged and ends consensus on this node; RPC keeps serving what is committed.
pub async fn run(
    chain: Arc<Chain>,
    net: Arc<dyn Transport>,
    inbound: mpsc::Receiver<(u32, Vec<u8>)>,
    config: DriverConfig,
    shutdown: watch::Receiver<bool>,
) -> crate::Result<()> {
    let result = drive(chain, net, inbound, config, shutdown).await;
    if let Err(e) = &result {
        tracing::error!(error = %e, "consensus stopped on this node");
    }
    result
}

async fn drive(
    chain: Arc<Chain>,
    net: Arc<dyn Transport>,
    mut inbound: mpsc::Receiver<(u32, Vec<u8>)>,
    config: DriverConfig,
    mut shutdown: watch::Receiver<bool>,
) -> crate::Result<()> {
    let chain_id = chain.spec().chain_id;
    let persisted = match chain.store().meta(CONSENSUS_KEY)? {
        Some(bytes) => Some(Persisted::decode(&bytes).map_err(|e| crate::Error::Config(format!("stored consensus state: {e}")))?),
        None => None,
    };
    let (head_hash, head) = chain.head();
    let core_config = CoreConfig {
        chain_id,
        validators: config.validators.clone(),
        me: config.me,
        key: config.key.clone(),
        checkpoint_interval: 16,
        window: 64,
        base_timeout_ms: config.view_timeout_ms,
        max_timeout_ms: config.view_timeout_ms.saturating_mul(16),
    };
    let core = Core::new(core_config, persisted, (head.number, head_hash));
    let (events, mut event_rx) = mpsc::unbounded_channel();
    let mut txs = chain.subscribe_local_txs();
    let mut d = Driver {
        chain,
        net,
        core,
        config,
        chain_id,
        events,
        timer_generation: 0,
        propose: None,
        last_commit: Instant::now(),
        syncing: None,
    };
    d.report_status();
    d.step(Input::Start).await?;
    let mut status = tokio::time::interval(Duration::from_secs(1));
    let mut poll = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            msg = inbound.recv() => match msg {
                Some((from, bytes)) => d.on_wire(from, &bytes).await?,
                None => return Ok(()),
            },
            Some(Event::Timeout { view, generation }) = event_rx.recv() => {
                if generation == d.timer_generation {
                    d.step(Input::Timeout { view }).await?;
                }
            }
            tx = txs.recv() => {
                if let Ok(raw) = tx {
                    d.net.broadcast(Wire::Tx(raw).encode());
                }
            }
            _ = status.tick() => {
                d.report_status();
                d.net.broadcast(Wire::Status(d.chain.head().1.number).encode());
            }
            _ = poll.tick() => d.maybe_propose().await?,
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

impl Driver {
    /// Feeds `input` to the core and carries out every effect, feeding back answers.
    async fn step(&mut self, input: Input) -> crate::Result<()> {
        let mut queue: VecDeque<Effect> = self.core.handle(input).into();
        while let Some(effect) = queue.pop_front() {
            if let Some(input) = self.apply(effect).await? {
                queue.extend(self.core.handle(input));
            }
        }
        Ok(())
    }

    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(Arc<Chain>) -> T + Send + 'static) -> T {
        let chain = self.chain.clone();
        tokio::task::spawn_blocking(move || f(chain)).await.expect("chain task panicked")
    }

    /// Carries out one effect; returns the core's answer, if one is due now.
    async fn apply(&mut self, effect: Effect) -> crate::Result<Option<Input>> {
        match effect {
            Effect::Persist(p) => {
                // Durable before anything later in the batch (votes) leaves this node.
                let bytes = p.encode();
                self.blocking(move |c| c.store().put_meta(CONSENSUS_KEY, bytes)).await?;
            }
            Effect::Broadcast(m) => self.net.broadcast(Wire::Consensus(m.encode().into()).encode()),
            Effect::Send { to, message } => self.net.send(to, Wire::Consensus(message.encode().into()).encode()),
            Effect::SetTimer { view, after_ms } => {
                // The core has one timer: a new one replaces the old, whose expiry is ignored.
                self.timer_generation = self.timer_generation.wrapping_add(1);
                let (events, generation) = (self.events.clone(), self.timer_generation);
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(after_ms)).await;
                    let _ = events.send(Event::Timeout { view, generation });
                });
            }
            Effect::Propose { height, view, .. } => {
                tracing::debug!(height, view, "asked to propose");
                self.propose = Some((height, view));
                return self.try_propose(false).await;
            }
            Effect::Validate { height, view, block, hash } => {
                let valid = self.validate(&block, hash).await?;
                return Ok(Some(Input::Validated { height, view, hash, valid }));
            }
            Effect::Commit { height, block, hash, certificate } => {
                self.commit(height, &block, hash, &certificate).await?;
            }
            Effect::ViewChanged { view, primary } => {
                tracing::info!(view, primary, me = self.config.me, "view changed");
                self.report_status();
            }
            Effect::Behind { height, peer } => self.request_sync(peer, height),
        }
        Ok(None)
    }

    /// Publishes the consensus view for RPC and metrics.
    fn report_status(&self) {
        self.chain.set_consensus_status(strata_chain::ConsensusStatus {
            view: self.core.view(),
            primary: (self.core.view() % self.config.validators.len() as u64) as u32,
            me: self.config.me,
            validators: self.config.validators.len() as u32,
            peers: self.net.connected().len() as u32,
        });
    }

    /// Re-executes a proposed block on our head.
    async fn validate(&self, envelope: &[u8], hash: B256) -> crate::Result<bool> {
        let Ok(env) = decode_exact::<Envelope>(envelope) else { return Ok(false) };
        if env.block.header.hash_slow() != hash {
            return Ok(false);
        }
        let set = self.config.validators.clone();
        match self.blocking(move |c| c.validate(&env.block, &env.parent_certificate, Some(&set))).await? {
            Ok(_) => Ok(true),
            Err(reason) => {
                tracing::warn!(%hash, %reason, "refusing a proposal");
                Ok(false)
            }
        }
    }

    async fn commit(&mut self, height: u64, block: &[u8], hash: B256, certificate: &CommitCertificate) -> crate::Result<()> {
        let head = self.chain.head().1.number;
        if height <= head {
            return Ok(());
        }
        if height != head.saturating_add(1) {
            tracing::warn!(height, head, "commit out of order; syncing instead");
            return Ok(());
        }
        let env = decode_exact::<Envelope>(block).map_err(|e| crate::Error::Config(format!("committed block undecodable: {e}")))?;
        let cert = alloy_rlp::encode(certificate);
        let set = self.config.validators.clone();
        let committed = self
            .blocking(move |c| -> crate::Result<()> {
                // A block we proposed or validated is executed already; one we only saw
                // certified (a quorum decided while we were slow) is executed now.
                if c.commit(&hash, Some(&cert)).is_err() {
                    match c.validate(&env.block, &env.parent_certificate, Some(&set))? {
                        Ok(_) => {
                            c.commit(&hash, Some(&cert))?;
                        }
                        Err(reason) => {
                            return Err(crate::Error::Config(format!("a certified block does not re-execute here: {reason}")));
                        }
                    }
                }
                Ok(())
            })
            .await;
        committed?;
        self.propose = self.propose.filter(|(h, _)| *h > height);
        self.last_commit = Instant::now();
        Ok(())
    }

    async fn maybe_propose(&mut self) -> crate::Result<()> {
        if self.propose.is_some()
            && let Some(input) = self.try_propose(true).await?
        {
            self.step(input).await?;
        }
        Ok(())
    }

    /// Builds our proposal if the time has come: at least a block time since the last
    /// commit, and transactions to include (or, after `empty_block_after`, none).
    async fn try_propose(&mut self, from_poll: bool) -> crate::Result<Option<Input>> {
        let Some((height, view)) = self.propose else { return Ok(None) };
        let head = self.chain.head().1.number;
        if height != head.saturating_add(1) {
            return Ok(None);
        }
        let idle = self.last_commit.elapsed();
        if idle < self.config.block_time && from_poll {
            return Ok(None);
        }
        let allow_empty = self.config.empty_block_after.is_some_and(|d| idle >= d);
        let timestamp = unix_now();
        let block = self.blocking(move |c| c.propose(timestamp, allow_empty)).await?;
        let Some(block) = block else { return Ok(None) };
        tracing::debug!(height, view, hash = %block.hash, txs = block.block.transactions.len(), "proposing");
        self.propose = None;
        let number = block.number();
        let parent_certificate = self.blocking(move |c| c.parent_certificate_of(number)).await?;
        let envelope = Envelope { block: block.block.clone(), parent_certificate: parent_certificate.into() };
        let bytes: Bytes = alloy_rlp::encode(&envelope).into();
        Ok(Some(Input::Proposal { height, view, block: bytes, hash: block.hash }))
    }

    fn request_sync(&mut self, peer: u32, height: u64) {
        if self.syncing.is_some_and(|t| t.elapsed() < Duration::from_secs(2)) {
            return;
        }
        let from = self.chain.head().1.number.saturating_add(1);
        tracing::info!(peer, from, their_height = height, "behind: syncing certified blocks");
        self.syncing = Some(Instant::now());
        self.net.send(peer, Wire::SyncRequest(SyncRequest { from, limit: SYNC_BATCH }).encode());
    }

    async fn on_wire(&mut self, from: u32, bytes: &[u8]) -> crate::Result<()> {
        let Some(msg) = Wire::decode(bytes) else {
            tracing::debug!(from, "malformed message dropped");
            return Ok(());
        };
        match msg {
            Wire::Consensus(b) => match SignedMessage::decode(&b) {
                Ok(m) => self.step(Input::Message(m)).await?,
                Err(e) => tracing::debug!(from, error = %e, "undecodable consensus message"),
            },
            Wire::Tx(raw) => {
                let chain = self.chain.clone();
                tokio::task::spawn_blocking(move || {
                    if let Ok(tx) = TransactionSigned::decode_recovered(&raw) {
                        let _ = chain.submit(tx);
                    }
                });
            }
            Wire::SyncRequest(r) => {
                let limit = r.limit.min(SYNC_BATCH);
                let blocks = self
                    .blocking(move |c| -> crate::Result<Vec<CertifiedBlock>> {
                        let mut out = Vec::new();
                        for n in r.from..r.from.saturating_add(limit) {
                            match c.block_with_certificate(n)? {
                                Some((b, Some(cert))) => {
                                    let envelope = Envelope { block: b.block, parent_certificate: c.parent_certificate_of(n)?.into() };
                                    out.push(CertifiedBlock { block: alloy_rlp::encode(&envelope).into(), certificate: cert.into() })
                                }
                                _ => break,
                            }
                        }
                        Ok(out)
                    })
                    .await?;
                if !blocks.is_empty() {
                    self.net.send(from, Wire::SyncResponse(blocks).encode());
                }
            }
            Wire::SyncResponse(blocks) => self.import(from, blocks).await?,
            Wire::Status(height) => {
                let ours = self.chain.head().1.number;
                if height > ours.saturating_add(1) || (height > ours && self.last_commit.elapsed() > Duration::from_secs(3)) {
                    self.request_sync(from, height);
                }
            }
        }
        Ok(())
    }

    /// Imports certified blocks from a peer: each certificate is checked against the
    /// validator set, each block re-executed to the same header before it commits.
    async fn import(&mut self, from: u32, blocks: Vec<CertifiedBlock>) -> crate::Result<()> {
        self.syncing = None;
        let full = blocks.len() as u64 >= SYNC_BATCH;
        for cb in blocks {
            let (Ok(Envelope { block, parent_certificate }), Ok(cert)) =
                (decode_exact::<Envelope>(&cb.block), decode_exact::<CommitCertificate>(&cb.certificate))
            else {
                tracing::warn!(from, "undecodable block in a sync response");
                return Ok(());
            };
            let hash = block.header.hash_slow();
            let head = self.chain.head().1.number;
            if block.header.number <= head {
                continue;
            }
            if let Err(e) = cert.verify(&self.config.validators, self.chain_id) {
                tracing::warn!(from, number = block.header.number, error = %e, "sync: bad certificate");
                return Ok(());
            }
            if cert.height != block.header.number || cert.block_hash != hash || block.header.number != head.saturating_add(1) {
                tracing::warn!(from, number = block.header.number, "sync: certificate and block disagree");
                return Ok(());
            }
            let number = block.header.number;
            let raw = cb.certificate.clone();
            let set = self.config.validators.clone();
            let imported = self
                .blocking(move |c| -> crate::Result<Result<(), String>> {
                    match c.validate(&block, &parent_certificate, Some(&set))? {
                        Ok(h) => {
                            c.commit(&h, Some(&raw))?;
                            Ok(Ok(()))
                        }
                        Err(reason) => Ok(Err(reason)),
                    }
                })
                .await?;
            if let Err(reason) = imported {
                tracing::error!(from, number, %reason, "sync: a certified block does not re-execute to its header");
                return Ok(());
            }
            self.last_commit = Instant::now();
            self.step(Input::Synced { height: number, hash }).await?;
        }
        if full {
            self.request_sync(from, 0);
        }
        Ok(())
    }
}

/// Wall-clock seconds: only the proposer's timestamp proposal.
fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_messages_round_trip_and_garbage_is_refused() {
        let msgs = [
            Wire::Consensus(Bytes::from_static(b"c")),
            Wire::Tx(Bytes::from_static(b"t")),
            Wire::SyncRequest(SyncRequest { from: 5, limit: 32 }),
            Wire::SyncResponse(vec![CertifiedBlock { block: Bytes::from_static(b"b"), certificate: Bytes::from_static(b"x") }]),
            Wire::Status(42),
        ];
        for m in msgs {
            assert_eq!(Wire::decode(&m.encode()), Some(m));
        }
        for garbage in [&[][..], &[9, 1, 2], &[0], &[4, 0xff, 0xff]] {
            assert_eq!(Wire::decode(garbage), None);
        }
    }
}
