//! The validator driver: runs the pure PBFT core (`strata-consensus`) against the
//! real world — the chain (propose, re-execute, commit), the transport (TCP between
//! validators), the clock (view-change timers) and the disk (consensus state
//! persisted before any vote leaves) — and keeps lagging validators in step by
//! syncing certified blocks from peers.
//!
//! The core decides; this loop only carries out its effects, in order, and feeds
//! back what happened. `strata dev` runs the same loop with a single validator.
//!
//! Chain work runs on the chain's block thread; a node failure there (storage, the
//! execution host) is logged and the effect retried, never turned into a vote. Peers
//! are not trusted: gossip goes through admission on bounded threads, sync requests
//! are served one per peer at a time and by bytes, and whom to sync from is the
//! [`crate::sync::SyncPlanner`]'s choice.

use std::{
    collections::{BTreeSet, VecDeque},
    sync::Arc,
    time::Duration,
};

use parking_lot::Mutex;
use strata_chain::{Chain, Check, MAX_TX_SIZE, TxOrigin, ValidateError, run_on};
use strata_consensus::{Config as CoreConfig, Core, Effect, Input, Persisted, SignedMessage};
use strata_network::Transport;
use strata_primitives::{B256, Bytes, LocalSigner, ValidatorSets, consensus::CommitCertificate, rlp_item::decode_exact, select_proposer};
use tokio::{
    sync::{mpsc, watch},
    time::Instant,
};

mod catch_up;

pub use crate::clock::{Clock, RuntimeClock, SystemClock};
use crate::{
    sync::SyncPlanner,
    wire::{Envelope, Wire, envelope_hash},
};

/// Meta key of the persisted consensus state.
const CONSENSUS_KEY: &[u8] = b"consensus";
/// How long a node failure (storage, execution host) waits before the work is retried.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// How often a sync node repeats its heartbeat for an unchanged head.
const HEARTBEAT_RESEND: Duration = Duration::from_millis(150);

/// Still-pooled transactions gossiped again per second at most, and their bytes (see
/// [`Chain::regossip`]): well inside a peer link's send budget.
const REGOSSIP_PER_SECOND: (usize, usize) = (512, 1 << 20);

/// Driver settings.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// The validators of each height.
    pub validator_sets: Arc<dyn ValidatorSets>,
    /// The number of validators the transport connects (the genesis set's).
    pub peers: usize,
    /// Our index.
    pub me: u32,
    /// Our key.
    pub key: LocalSigner,
    /// Minimum time between the starts of consecutive blocks.
    pub block_time: Duration,
    /// With an empty pool, propose an empty block after this long (None: never).
    pub empty_block_after: Option<Duration>,
    /// View-change timeout of a view's first round (ms).
    pub view_timeout_ms: u64,
    /// The date block timestamps come from.
    pub clock: Arc<dyn Clock>,
    /// With validator slots (see [`crate::slot_roles`]): the machines behind the slots.
    /// `None`: peers are validators.
    pub slots: Option<SlotMachines>,
    /// Storage certificates: answers peers' requests and takes their signatures.
    pub certifier: Option<Arc<crate::certify::Certifier>>,
}

/// The machines of a chain with validator slots, as the transport numbers them (slot
/// `i`'s primary is machine `i`, its backup `slots + i`). Consensus speaks to slots
/// (the transport the driver is given maps them); catching up speaks to machines, so
/// that a request is answered once, by the machine asked.
#[derive(Clone)]
pub struct SlotMachines {
    /// This machine's index.
    pub me: u32,
    /// How many machines the transport connects.
    pub count: usize,
    /// The transport addressing machines.
    pub transport: Arc<dyn Transport>,
}

impl std::fmt::Debug for SlotMachines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotMachines").field("me", &self.me).field("count", &self.count).finish()
    }
}

/// What the loop waits for besides the network.
enum Event {
    /// The timer of `view` fired; `generation` tells a live timer from a replaced one.
    Timeout { view: u64, generation: u64 },
    /// An effect that failed for a node-side reason, to be carried out again.
    Retry(Box<Effect>),
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
    /// When this node last committed a block.
    last_commit: Instant,
    /// The latest height whose block this node has seen proposed (built here or
    /// received to validate), and when it first saw it: blocks begin a block time apart.
    began: Option<(u64, Instant)>,
    /// Whom to ask for blocks when behind.
    sync: SyncPlanner,
    /// Peers whose sync request is being served (one at a time per peer).
    serving: Arc<Mutex<BTreeSet<u32>>>,
    /// The transport addressing machines (catching up); `net` itself without slots.
    machines: Arc<dyn Transport>,
    /// The head height this node last sent a heartbeat for, and when (validator slots).
    last_heartbeat: (u64, Instant),
    /// Proposals refused at a height for a certified transaction's promise: (height,
    /// count). Bounded ([`MAX_DUTY_REFUSALS`]) so the duty can never stop the chain.
    duty_refusals: (u64, u32),
    /// Where the next round of gossip of still-pooled transactions starts ([`Chain::regossip`]).
    regossip: (u64, u64),
}

/// Proposals a validator refuses per height for breaking a certified transaction's
/// promise: the proposer that suppresses one loses its view, and if the next ones cannot
/// include it either (it is not in their pools), the chain goes on — logged as a broken
/// promise — rather than stop.
const MAX_DUTY_REFUSALS: u32 = 2;

/// Runs a validator until `shutdown` turns true. `inbound`: messages from peers.
/// A failure (the node's: storage, a certified block that does not re-execute) is
/// logged and ends consensus on this node; RPC keeps serving what is committed.
pub async fn run(
    chain: Arc<Chain>,
    net: Arc<dyn Transport>,
    inbound: strata_network::Inbound,
    config: DriverConfig,
    shutdown: watch::Receiver<bool>,
) -> crate::Result<()> {
    // Certification is served on its own task: a vote must not wait for a block.
    let (inbound, certification) = inbound.split(Wire::is_certification);
    let chain_id = chain.spec().chain_id;
    // Aborted however this future ends (an error, a panic, being dropped).
    let _certifying = config.certifier.clone().map(|c| AbortOnDrop(tokio::spawn(c.serve_peers(certification, chain_id))));
    let result = drive(chain, net, inbound, config, shutdown).await;
    if let Err(e) = &result {
        tracing::error!(error = %e, "consensus stopped on this node");
    }
    result
}

/// A task aborted when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn drive(
    chain: Arc<Chain>,
    net: Arc<dyn Transport>,
    mut inbound: strata_network::Inbound,
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
        validators: config.validator_sets.clone(),
        me: config.me,
        key: config.key.clone(),
        checkpoint_interval: 16,
        window: 64,
        base_timeout_ms: config.view_timeout_ms,
        max_timeout_ms: config.view_timeout_ms.saturating_mul(16),
        block_hash: envelope_hash,
        max_early_block_bytes: strata_consensus::DEFAULT_MAX_EARLY_BLOCK_BYTES,
    };
    let core = Core::new(core_config, persisted, (head.number, head_hash));
    let (events, mut event_rx) = mpsc::unbounded_channel();
    let mut txs = chain.subscribe_local_txs();
    // A pooled transaction may be proposed at once (when the block time allows).
    let mut pooled = chain.subscribe_pooled();
    let sync = match &config.slots {
        Some(m) => SyncPlanner::new(m.me, m.count),
        None => SyncPlanner::new(config.me, config.peers),
    };
    let machines = config.slots.as_ref().map_or_else(|| net.clone(), |m| m.transport.clone());
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
        began: None,
        sync,
        serving: Arc::new(Mutex::new(BTreeSet::new())),
        machines,
        last_heartbeat: (0, Instant::now()),
        duty_refusals: (0, 0),
        regossip: (0, 0),
    };
    d.report_status();
    d.step(Input::Start).await?;
    let mut status = tokio::time::interval(Duration::from_secs(1));
    status.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut poll = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            msg = inbound.recv() => match msg {
                // `from` is the sending machine (a validator, or with slots one of a slot's
                // two machines); consensus messages name their signer themselves.
                Some((from, bytes)) => d.on_wire(from, &bytes).await?,
                None => return Ok(()),
            },
            Some(event) = event_rx.recv() => match event {
                Event::Timeout { view, generation } => {
                    if generation == d.timer_generation {
                        d.step(Input::Timeout { view }).await?;
                    }
                }
                Event::Retry(effect) => d.carry_out(VecDeque::from([*effect])).await?,
            },
            tx = txs.recv() => {
                if let Ok(raw) = tx {
                    d.net.broadcast(Wire::Tx(raw).encode(d.chain_id));
                }
            }
            _ = status.tick() => {
                d.report_status();
                d.net.broadcast(Wire::Status(d.chain.head().1.number).encode(d.chain_id));
                for raw in d.chain.regossip(&mut d.regossip, REGOSSIP_PER_SECOND.0, REGOSSIP_PER_SECOND.1) {
                    d.net.broadcast(Wire::Tx(raw).encode(d.chain_id));
                }
                d.sync_poll();
            }
            Ok(_) = pooled.recv() => d.maybe_propose().await?,
            _ = poll.tick() => {
                d.maybe_heartbeat();
                d.maybe_propose().await?
            }
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

impl Driver {
    /// Feeds `input` to the core and carries out every effect, feeding back answers.
    async fn step(&mut self, input: Input) -> crate::Result<()> {
        let effects: VecDeque<Effect> = self.core.handle(input).into();
        self.carry_out(effects).await
    }

    async fn carry_out(&mut self, mut queue: VecDeque<Effect>) -> crate::Result<()> {
        while let Some(effect) = queue.pop_front() {
            if let Some(input) = self.apply(effect).await? {
                queue.extend(self.core.handle(input));
            }
        }
        Ok(())
    }

    /// Runs chain work on the chain's block thread (a stack sized for contracts, in order).
    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(Arc<Chain>) -> T + Send + 'static) -> crate::Result<T> {
        let chain = self.chain.clone();
        run_on(&self.chain.pools().block, move || f(chain)).await.map_err(|e| crate::Error::Config(format!("block thread: {e}")))
    }

    /// Carries out `effect` again after [`RETRY_AFTER`] (it failed for a node-side reason).
    fn retry_later(&self, effect: Effect) {
        let events = self.events.clone();
        tokio::spawn(async move {
            tokio::time::sleep(RETRY_AFTER).await;
            let _ = events.send(Event::Retry(Box::new(effect)));
        });
    }

    /// Carries out one effect; returns the core's answer, if one is due now.
    async fn apply(&mut self, effect: Effect) -> crate::Result<Option<Input>> {
        match effect {
            Effect::Persist(p) => {
                // Durable before anything later in the batch (votes) leaves this node.
                let bytes = p.encode();
                self.blocking(move |c| c.store().put_meta(CONSENSUS_KEY, bytes)).await??;
            }
            Effect::Broadcast(m) => self.net.broadcast(Wire::Consensus(m.encode().into()).encode(self.chain_id)),
            Effect::Send { to, message } => self.net.send(to, Wire::Consensus(message.encode().into()).encode(self.chain_id)),
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
                return self.try_propose().await;
            }
            Effect::Validate { height, view, proposed_view, block, hash } => {
                self.saw_block(height);
                let retry = Effect::Validate { height, view, proposed_view, block: block.clone(), hash };
                // The scheduled proposer is known for a fresh proposal (built in the view it
                // was proposed in); a re-proposal may have been built in a view the core no
                // longer names.
                let built_in = (proposed_view == view).then_some(view);
                return match self.validate(&block, hash, built_in).await? {
                    Some(valid) => Ok(Some(Input::Validated { height, view, hash, valid })),
                    None => {
                        self.retry_later(retry);
                        Ok(None)
                    }
                };
            }
            Effect::Commit { height, block, hash, certificate } => {
                if !self.commit(height, &block, hash, &certificate).await? {
                    self.retry_later(Effect::Commit { height, block, hash, certificate });
                }
            }
            Effect::CertificateExtended { certificate } => {
                let raw = alloy_rlp::encode(&certificate);
                if let Err(e) = self.chain.extend_head_certificate(certificate.height, certificate.block_hash, &raw) {
                    tracing::warn!(error = %e, height = certificate.height, "could not store the extended certificate");
                }
            }
            Effect::ViewChanged { view, primary } => {
                tracing::info!(view, primary, me = self.config.me, "view changed");
                self.report_status();
            }
            Effect::Behind { height, peer } => {
                self.sync.evidence(height, peer);
                self.sync_poll();
            }
        }
        Ok(None)
    }

    /// Publishes the consensus view for RPC and metrics.
    fn report_status(&self) {
        self.chain.set_consensus_status(strata_chain::ConsensusStatus {
            view: self.core.view(),
            primary: self.primary(),
            me: self.config.me,
            validators: self.config.peers as u32,
            peers: self.net.connected().len() as u32,
        });
    }

    /// Re-executes a proposed block on our head: `Some(valid)`, or `None` if this node
    /// failed while checking it (then nothing is known; the check is retried).
    /// The scheduled proposer of the current view at the next height.
    fn primary(&self) -> u32 {
        let height = self.chain.head().1.number.saturating_add(1);
        self.config.validator_sets.validators_at(height).map_or(0, |set| select_proposer(&set, height, self.core.view()))
    }

    /// Re-executes a proposed block, built in `view` if known, on our head (see
    /// [`Check::Proposal`]).
    async fn validate(&mut self, envelope: &[u8], hash: B256, view: Option<u64>) -> crate::Result<Option<bool>> {
        let Ok(env) = decode_exact::<Envelope>(envelope) else { return Ok(Some(false)) };
        if env.block.header.hash_slow() != hash {
            return Ok(Some(false));
        }
        let now = self.config.clock.unix_secs();
        let checked = self
            .blocking(move |c| {
                c.validate(&env.block, &env.parent_certificate, Check::Proposal { now, view }).map(|h| c.omitted_certified(&h))
            })
            .await?;
        match checked {
            Ok(None) => Ok(Some(true)),
            Ok(Some(broken)) => {
                // The chain owes a certified transaction inclusion by its expiry: a
                // proposal that leaves out one due now (still valid, with room for it),
                // or carries another payload for its nonce, is refused, so its proposer
                // loses the view — a bounded number of times per height.
                let height = self.chain.head().1.number.saturating_add(1);
                if self.duty_refusals.0 != height {
                    self.duty_refusals = (height, 0);
                }
                if self.duty_refusals.1 < MAX_DUTY_REFUSALS {
                    self.duty_refusals.1 += 1;
                    tracing::warn!(%hash, reason = %broken, "refusing a proposal that breaks a certified transaction's promise");
                    Ok(Some(false))
                } else {
                    tracing::error!(%hash, reason = %broken, height, "certified transaction's promise broken: accepted after {MAX_DUTY_REFUSALS} refusals at this height");
                    Ok(Some(true))
                }
            }
            Err(ValidateError::Invalid(reason)) => {
                tracing::warn!(%hash, %reason, "refusing a proposal");
                Ok(Some(false))
            }
            Err(ValidateError::Node(e)) => {
                tracing::error!(%hash, error = %e, "cannot check a proposal (node failure); retrying");
                Ok(None)
            }
        }
    }

    /// Commits a block the core decided. `Ok(false)`: a node failure stopped it (retried
    /// later). A certified block that does not re-execute to its header stops consensus
    /// on this node: it disagrees with a quorum about the chain's rules.
    async fn commit(&mut self, height: u64, block: &[u8], hash: B256, certificate: &CommitCertificate) -> crate::Result<bool> {
        let head = self.chain.head().1.number;
        if height <= head {
            return Ok(true);
        }
        if height != head.saturating_add(1) {
            tracing::warn!(height, head, "commit out of order; syncing instead");
            return Ok(true);
        }
        let env = decode_exact::<Envelope>(block).map_err(|e| crate::Error::Config(format!("committed block undecodable: {e}")))?;
        let cert = alloy_rlp::encode(certificate);
        let committed = self
            .blocking(move |c| -> Result<(), ValidateError> {
                // A block we proposed or validated is executed already; one we only saw
                // certified (a quorum decided while we were slow) is executed now, and
                // no clock rule applies to it.
                if c.commit(&hash, Some(&cert)).is_err() {
                    c.validate(&env.block, &env.parent_certificate, Check::Certified)?;
                    c.commit(&hash, Some(&cert))?;
                }
                Ok(())
            })
            .await?;
        match committed {
            Ok(()) => {}
            Err(ValidateError::Invalid(reason)) => {
                return Err(crate::Error::Config(format!("a certified block does not re-execute here: {reason}")));
            }
            Err(ValidateError::Node(e)) => {
                tracing::error!(height, %hash, error = %e, "cannot commit (node failure); retrying");
                return Ok(false);
            }
        }
        self.propose = self.propose.filter(|(h, _)| *h > height);
        self.last_commit = Instant::now();
        Ok(true)
    }

    async fn maybe_propose(&mut self) -> crate::Result<()> {
        if self.propose.is_some()
            && let Some(input) = self.try_propose().await?
        {
            self.step(input).await?;
        }
        Ok(())
    }

    /// Notes that a block of `height` was proposed (the first time this node sees one).
    fn saw_block(&mut self, height: u64) {
        if self.began.is_none_or(|(h, _)| h < height) {
            self.began = Some((height, Instant::now()));
        }
    }

    /// Builds our proposal if the time has come: at least a block time since the
    /// parent's block was proposed (or, if this node did not see it proposed, since the
    /// last commit), and transactions to include (or, after `empty_block_after` since
    /// the last commit, none). A node failure while building is logged and the next
    /// poll tries again. So under load blocks begin a block time apart, not back to
    /// back: a block gathers what arrived meanwhile and its fixed costs (consensus
    /// rounds, commit certificates, the trie paths near the root, system calls) are
    /// shared by more transactions; a block that takes longer than the block time to
    /// agree on is followed at once.
    async fn try_propose(&mut self) -> crate::Result<Option<Input>> {
        let Some((height, view)) = self.propose else { return Ok(None) };
        let head = self.chain.head().1.number;
        if height != head.saturating_add(1) {
            return Ok(None);
        }
        let idle = self.last_commit.elapsed();
        let since_parent = match self.began {
            Some((h, at)) if h.saturating_add(1) == height => at.elapsed(),
            _ => idle,
        };
        if since_parent < self.config.block_time {
            return Ok(None);
        }
        let allow_empty = self.config.empty_block_after.is_some_and(|d| idle >= d);
        let timestamp = self.config.clock.unix_secs();
        let built = self
            .blocking(move |c| -> strata_chain::Result<_> {
                let Some(block) = c.propose(timestamp, allow_empty)? else { return Ok(None) };
                let parent_certificate = c.parent_certificate_of(block.number())?;
                Ok(Some((block, parent_certificate)))
            })
            .await?;
        let (block, parent_certificate) = match built {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(None),
            Err(e) => {
                tracing::error!(height, view, error = %e, "cannot build a proposal (node failure); retrying");
                return Ok(None);
            }
        };
        self.saw_block(height);
        tracing::debug!(height, view, hash = %block.hash, txs = block.block.transactions.len(), "proposing");
        self.propose = None;
        let envelope = Envelope { block: block.block.clone(), parent_certificate: parent_certificate.into() };
        let bytes: Bytes = alloy_rlp::encode(&envelope).into();
        Ok(Some(Input::Proposal { height, view, block: bytes, hash: block.hash }))
    }

    async fn on_wire(&mut self, from: u32, bytes: &[u8]) -> crate::Result<()> {
        let Some(msg) = Wire::decode(bytes, self.chain_id) else {
            tracing::debug!(from, "malformed message dropped");
            return Ok(());
        };
        match msg {
            Wire::Consensus(b) => match SignedMessage::decode(&b) {
                Ok(m) => self.step(Input::Message(m)).await?,
                Err(e) => tracing::debug!(from, error = %e, "undecodable consensus message"),
            },
            Wire::Tx(raw) => self.admit_gossip(from, raw),
            Wire::SyncRequest(r) => self.serve_sync(from, r),
            Wire::SyncResponse(blocks) => self.import(from, blocks).await?,
            Wire::Status(height) => {
                self.sync.claim(from, height);
                self.sync_poll();
            }
            Wire::Heartbeat(beat) => match self.chain.add_heartbeat(beat) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(from, slot = beat.slot, height = beat.height, error = %e, "heartbeat refused"),
                Err(e) => tracing::warn!(error = %e, "heartbeat not checked: node failure"),
            },
            // Served by the certifier's own task (see `run`).
            Wire::Certify(_) | Wire::Stored(_) | Wire::StoredRefused(_) | Wire::Relayed(_) => {}
        }
        Ok(())
    }

    /// As a slot's sync node (not active at the head's height), sends a heartbeat for
    /// its head to the other machines (the next proposer includes it), again every
    /// [`HEARTBEAT_RESEND`] while the head stays: a validator still on the previous block
    /// refuses it, and one missing heartbeat resets the slot's evidence.
    fn maybe_heartbeat(&mut self) {
        let head = self.chain.head().1.number;
        let now = Instant::now();
        if self.config.slots.is_none() || (head == self.last_heartbeat.0 && now < self.last_heartbeat.1 + HEARTBEAT_RESEND) {
            return;
        }
        self.last_heartbeat = (head, now);
        if let Some(beat) = crate::slot_roles::heartbeat_for(&self.chain, &self.config.key, self.config.me) {
            tracing::debug!(slot = beat.slot, height = beat.height, "heartbeat sent");
            self.net.broadcast(Wire::Heartbeat(beat).encode(self.chain_id));
        }
    }

    /// A transaction a peer gossiped: the same size limit and admission as a client's,
    /// on the admission threads, and only while they have room (half their queue is kept
    /// for this node's own clients): gossip beyond that is dropped.
    fn admit_gossip(&self, from: u32, raw: Bytes) {
        if raw.len() > MAX_TX_SIZE {
            tracing::debug!(from, size = raw.len(), "oversized gossiped transaction dropped");
            return;
        }
        // Known already (gossip comes from every peer, and again while it stays pooled):
        // no signature recovered.
        if self.chain.is_pooled(&strata_primitives::keccak256(&raw)) {
            return;
        }
        let pool = &self.chain.pools().admission;
        if pool.queued() >= pool.capacity() / 2 {
            tracing::debug!(from, "admission busy: gossiped transaction dropped");
            return;
        }
        let chain = self.chain.clone();
        let _ = pool.try_spawn(move || {
            if let Err(e) = chain.submit_raw(&raw, TxOrigin::Peer) {
                tracing::trace!(from, error = %e, "gossiped transaction refused");
            }
        });
    }
}
