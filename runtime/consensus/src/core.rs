//! The PBFT state machine.

use crate::crypto::SignerCache;
use crate::message::{
    Checkpoint, CheckpointProof, Message, NewView, PrePrepare, PreparedCertificate, ReProposal, SignedMessage, SignedViewChange,
    ViewChange, Vote, new_view_digest, new_view_plan, pre_prepare_digest, verify_commit_certificate,
};
use crate::persist::{InstalledView, KeptBlock, Persisted, Proposal, VoteRecord};
use std::collections::{BTreeMap, BTreeSet};
use strata_primitives::{B256, Bytes, CertSignature, CommitCertificate, LocalSigner, Signature, ValidatorSet};

/// The default of [`Config::max_early_block_bytes`]: 64 MiB, four blocks of 16 MiB.
pub const DEFAULT_MAX_EARLY_BLOCK_BYTES: u64 = 64 << 20;

/// How a validator runs consensus on one chain.
#[derive(Debug, Clone)]
pub struct Config {
    /// The chain id, part of every signed digest.
    pub chain_id: u64,
    /// The validators, in index order.
    pub validators: ValidatorSet,
    /// Our index in `validators`.
    pub me: u32,
    /// Our key: it signs our messages; its address must be `validators[me]`.
    pub key: LocalSigner,
    /// Every height that is a multiple of this is checkpointed (signed `Checkpoint`s; a
    /// quorum of matching ones makes it stable). 0 is taken as 1.
    pub checkpoint_interval: u64,
    /// Messages about heights above `max(stable checkpoint, last committed) + window` are
    /// dropped (after their signature is checked, to learn that the sender is ahead), and
    /// heights at or below the stable checkpoint are ignored. At least twice the
    /// checkpoint interval is used.
    pub window: u64,
    /// The view-change timer of the first view at a height (ms).
    pub base_timeout_ms: u64,
    /// The timer doubles with every view that fails at a height, up to this (ms).
    pub max_timeout_ms: u64,
    /// The hash of a block, from its bytes: the node's hash function (for the node, the
    /// hash of the header its block bytes decode to), pure and deterministic; `None` for
    /// bytes that are no block. Signatures cover block hashes, not bytes, so whoever
    /// relays a signed pre-prepare or new view can attach other bytes: block bytes from
    /// the network are taken only if they hash to the hash they come with.
    pub block_hash: fn(&[u8]) -> Option<B256>,
    /// The most bytes of blocks held *early*: for heights above ours, for views other than
    /// ours, or not needed any more (see [`Core::early_block_bytes`]). Over it, the blocks
    /// nearest to being decided are kept (lower height first, then views from ours up) and
    /// the others dropped or refused. Blocks needed for safety or liveness are never
    /// dropped and not counted: the current view's block at our height, the block of a
    /// certificate for our height, the blocks our new view re-proposes, our proposal and
    /// the blocks we voted for. At least the largest block the chain allows, better a few
    /// of them: a primary of the current view usually proposes the next height while we
    /// still collect the commits of ours. See [`DEFAULT_MAX_EARLY_BLOCK_BYTES`].
    pub max_early_block_bytes: u64,
}

/// What the node hands the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Start (or restart): arms the timer, re-sends what a restart may have lost, and the
    /// primary asks for a proposal.
    Start,
    /// A message from the network, untrusted: it is verified before any use.
    Message(SignedMessage),
    /// A [`Effect::SetTimer`] fired; a timer of another view is ignored.
    Timeout {
        /// The view the timer was set for.
        view: u64,
    },
    /// The answer to [`Effect::Propose`].
    Proposal {
        /// The height asked for.
        height: u64,
        /// The view asked for.
        view: u64,
        /// The block.
        block: Bytes,
        /// Its hash.
        hash: B256,
    },
    /// The answer to [`Effect::Validate`]: the node re-executed the block.
    Validated {
        /// The height.
        height: u64,
        /// The view of the request.
        view: u64,
        /// The block hash.
        hash: B256,
        /// Whether the block is valid on our chain.
        valid: bool,
    },
    /// The node committed up to `height` (block `hash`) by catching up from peers.
    Synced {
        /// The new last committed height.
        height: u64,
        /// Its block hash.
        hash: B256,
    },
}

/// What the core asks the node to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Write this durably (replacing the previous one) before executing any later effect
    /// of the same batch. Always first in its batch.
    Persist(Persisted),
    /// Send to every other validator.
    Broadcast(SignedMessage),
    /// Send to one validator.
    Send {
        /// The recipient's index.
        to: u32,
        /// The message.
        message: SignedMessage,
    },
    /// (Re)arm the single timer: fire `Input::Timeout { view }` after `after_ms`. Replaces
    /// any timer set before.
    SetTimer {
        /// The view to report when it fires.
        view: u64,
        /// Delay in milliseconds.
        after_ms: u64,
    },
    /// We are the primary: build a block on `parent` at `height` and answer with
    /// [`Input::Proposal`]. Empty blocks are fine; an answer later than the view's timer
    /// loses the view.
    Propose {
        /// The height to build.
        height: u64,
        /// The view.
        view: u64,
        /// The hash of the block at `height - 1`.
        parent: B256,
    },
    /// Re-execute this block on our chain and answer with [`Input::Validated`].
    Validate {
        /// The height (our next).
        height: u64,
        /// The view it was proposed in.
        view: u64,
        /// The block bytes as received (they hash to `hash` by [`Config::block_hash`]).
        block: Bytes,
        /// The hash it must have.
        hash: B256,
    },
    /// The block is final: execute and store it with its certificate. Exactly once per
    /// height, in height order (heights reached by [`Input::Synced`] are never committed).
    Commit {
        /// The height.
        height: u64,
        /// The block bytes (as validated).
        block: Bytes,
        /// The block hash.
        hash: B256,
        /// A quorum of commit signatures for it.
        certificate: CommitCertificate,
    },
    /// We entered a new view (information).
    ViewChanged {
        /// The view.
        view: u64,
        /// Its primary.
        primary: u32,
    },
    /// Verified evidence (a commit certificate, a stable checkpoint, or `f + 1` peers
    /// working above us) shows that `height` (at least our [`Core::height`]) is decided
    /// and that `peer` has committed it (or, for a certificate nobody is known to hold
    /// yet, signed it), and we cannot commit it ourselves: fetch the blocks up to `height`
    /// with their certificates from `peer`, then report [`Input::Synced`]. Repeated on
    /// view timeouts while still behind, with another peer when there is one.
    Behind {
        /// A height the peer has committed.
        height: u64,
        /// The peer to catch up from.
        peer: u32,
    },
}

const PRE_PREPARE: u8 = 0;
const PREPARE: u8 = 1;
const COMMIT: u8 = 2;

/// Commit views kept per sender and height (older ones are dropped).
const COMMIT_VIEWS_PER_SENDER: usize = 4;

/// One height's log.
#[derive(Debug, Default)]
struct Slot {
    /// Block bytes by hash, from pre-prepares, new views and our proposals.
    blocks: BTreeMap<B256, Bytes>,
    /// Hashes the node validated (or we proposed).
    valid: BTreeSet<B256>,
    /// Hashes the node is validating.
    validating: BTreeSet<B256>,
    /// The accepted pre-prepare per view: hash and the primary's signature.
    pre_prepares: BTreeMap<u64, (B256, [u8; 65])>,
    /// Prepares per view and sender.
    prepares: BTreeMap<u64, BTreeMap<u32, (B256, [u8; 65])>>,
    /// Commits per view and sender.
    commits: BTreeMap<u64, BTreeMap<u32, (B256, [u8; 65])>>,
    /// A verified certificate for this height.
    certificate: Option<CommitCertificate>,
    /// Peers known to have committed this height.
    holders: BTreeSet<u32>,
    /// The hash each view's primary signed here first (in a verified pre-prepare, whatever
    /// bytes came with it): the one block kept for that view; another is equivocation.
    offered: BTreeMap<u64, B256>,
    /// Hashes the node found invalid in our view: their bytes are not taken again until
    /// the next new view (so replays cannot make the node re-execute a block over and over).
    invalid: BTreeSet<B256>,
    /// Pre-prepares of views we have not entered yet, by view.
    early: BTreeMap<u64, (B256, [u8; 65])>,
}

/// The new view we run in, with what it obliges.
#[derive(Debug, Clone)]
struct Installed {
    /// Heights up to here were decided before the view; nothing is proposed there.
    base: u64,
    /// Re-proposed hashes by height.
    plan: BTreeMap<u64, B256>,
    /// The new view message, for late joiners.
    message: SignedMessage,
    /// Its durable form.
    persisted: InstalledView,
}

/// The consensus core of one validator: a pure state machine. See the crate docs.
#[derive(Debug)]
pub struct Core {
    chain_id: u64,
    set: ValidatorSet,
    me: u32,
    key: LocalSigner,
    interval: u64,
    window: u64,
    base_timeout_ms: u64,
    max_timeout_ms: u64,
    block_hash: fn(&[u8]) -> Option<B256>,
    max_early_block_bytes: u64,
    cache: SignerCache,

    /// Our view: the one we run in, or the one we are changing to.
    view: u64,
    /// Whether we left `view - …` and wait for the new view of `view`.
    changing: bool,
    /// The new view of `view` (none for view 0 or while changing).
    installed: Option<Installed>,
    /// Views since the last commit: the timer is `base × 2^failed_views`.
    failed_views: u32,
    /// Whether the escalation timer of the view change to `view` runs (a quorum joined).
    escalating: bool,
    /// Our signed view change to `view`, while changing.
    my_view_change: Option<SignedViewChange>,
    /// Verified view changes by view and sender (each sender's two highest kept).
    view_changes: BTreeMap<u64, BTreeMap<u32, SignedViewChange>>,

    /// The next height to decide.
    height: u64,
    /// The hash of `height - 1`.
    parent: B256,
    /// Hashes we know committed (ours and synced), above the stable checkpoint.
    committed: BTreeMap<u64, B256>,
    /// Per-height logs.
    log: BTreeMap<u64, Slot>,
    /// Our highest-view prepared certificate per height above the proof floor.
    prepared: BTreeMap<u64, PreparedCertificate>,
    /// The highest commit certificate we hold.
    certificate: Option<CommitCertificate>,
    /// Our latest signed (view, hash) per (height, kind).
    votes: BTreeMap<(u64, u8), (u64, B256)>,
    /// Our outstanding proposal as primary.
    proposal: Option<Proposal>,
    /// Blocks we voted for above the proof floor, so a restart can still hand them on.
    kept: BTreeMap<(u64, B256), Bytes>,
    /// The (view, height) we last asked the node to propose for.
    asked: Option<(u64, u64)>,

    /// The stable checkpoint.
    stable: Option<CheckpointProof>,
    /// Checkpoint signatures by height and sender.
    checkpoints: BTreeMap<u64, BTreeMap<u32, (B256, [u8; 65])>>,

    /// The highest view and height seen in each peer's verified messages.
    peer_views: BTreeMap<u32, u64>,
    peer_heights: BTreeMap<u32, u64>,
    /// The highest height reported in `Effect::Behind`, and how many times we asked.
    behind_reported: Option<u64>,
    behind_attempts: u64,

    /// Peers we sent our new view to since the timer was last armed.
    relayed: BTreeSet<u32>,

    /// Effects of the input being handled, and whether the durable state changed.
    effects: Vec<Effect>,
    dirty: bool,
}

impl Core {
    /// A core for `config`. `persisted`: what [`Effect::Persist`] last handed out (none on
    /// the first start); `committed`: the node's last committed (height, block hash), the
    /// genesis being `(0, genesis hash)`. Feed [`Input::Start`] next.
    pub fn new(config: Config, persisted: Option<Persisted>, committed: (u64, B256)) -> Core {
        let interval = config.checkpoint_interval.max(1);
        let window = config.window.max(interval.saturating_mul(2));
        let mut core = Core {
            chain_id: config.chain_id,
            set: config.validators,
            me: config.me,
            key: config.key,
            interval,
            window,
            base_timeout_ms: config.base_timeout_ms.max(1),
            max_timeout_ms: config.max_timeout_ms.max(1),
            block_hash: config.block_hash,
            max_early_block_bytes: config.max_early_block_bytes,
            cache: SignerCache::new(),
            view: 0,
            changing: false,
            installed: None,
            failed_views: 0,
            escalating: false,
            my_view_change: None,
            view_changes: BTreeMap::new(),
            height: committed.0.saturating_add(1),
            parent: committed.1,
            committed: BTreeMap::from([(committed.0, committed.1)]),
            log: BTreeMap::new(),
            prepared: BTreeMap::new(),
            certificate: None,
            votes: BTreeMap::new(),
            proposal: None,
            kept: BTreeMap::new(),
            asked: None,
            stable: None,
            checkpoints: BTreeMap::new(),
            peer_views: BTreeMap::new(),
            peer_heights: BTreeMap::new(),
            behind_reported: None,
            behind_attempts: 0,
            relayed: BTreeSet::new(),
            effects: Vec::new(),
            dirty: false,
        };
        if let Some(p) = persisted {
            core.restore(p);
        }
        core
    }

    fn restore(&mut self, p: Persisted) {
        let p = p.into_state();
        self.view = p.view;
        self.changing = p.changing;
        self.votes = p.votes.iter().map(|v| ((v.height, v.kind), (v.view, v.hash))).collect();
        self.prepared = p.prepared.into_iter().map(|c| (c.height, c)).collect();
        self.stable = p.stable;
        self.certificate = p.certificate;
        self.proposal = p.proposal;
        for b in p.blocks {
            let slot = self.slot(b.height);
            slot.blocks.insert(b.hash, b.block.clone());
            // We validated it before voting for it.
            slot.valid.insert(b.hash);
            self.kept.insert((b.height, b.hash), b.block);
        }
        if self.changing {
            self.my_view_change = p.view_change;
            if let Some(vc) = &self.my_view_change {
                self.view_changes.entry(vc.change.view).or_default().insert(self.me, vc.clone());
            }
        } else if let Some(installed) = p.installed.filter(|i| i.new_view.view == p.view) {
            let (base, plan) = new_view_plan(&installed.new_view.view_changes);
            let from = self.set.primary(installed.new_view.view);
            let message = SignedMessage {
                from,
                message: Message::NewView(installed.new_view.clone()),
                signature: Signature::from_raw_array(&installed.signature).unwrap_or_else(|_| Signature::test_signature()),
            };
            for r in &installed.new_view.pre_prepares {
                self.slot(r.height).pre_prepares.insert(installed.new_view.view, (r.hash, r.signature));
            }
            self.installed = Some(Installed { base, plan: plan.into_iter().collect(), message, persisted: installed });
        } else if p.view > 0 {
            // In a view without its new view we could not check pre-prepares against it:
            // change to it again instead (`Start` signs the view change).
            self.changing = true;
        }
    }

    /// Shares a signer-recovery memo with other cores of this process (the simulator's).
    pub fn set_signer_cache(&mut self, cache: SignerCache) {
        self.cache = cache;
    }

    /// Our view: the one we run in, or the one we are changing to.
    pub fn view(&self) -> u64 {
        self.view
    }

    /// The next height to decide.
    pub fn height(&self) -> u64 {
        self.height
    }

    /// Whether we are the primary of [`Core::view`].
    pub fn is_primary(&self) -> bool {
        self.set.primary(self.view) == self.me
    }

    /// Whether we left our previous view and wait for the new view of [`Core::view`].
    pub fn is_changing_view(&self) -> bool {
        self.changing
    }

    /// The height of the stable checkpoint (0 before the first).
    pub fn stable_checkpoint(&self) -> u64 {
        self.stable_height()
    }

    /// Bytes of all blocks held in the log (each block once; the blocks we voted for, also
    /// kept for [`Persisted`], share their buffers).
    pub fn held_block_bytes(&self) -> u64 {
        self.log.values().flat_map(|s| s.blocks.values()).fold(0, |sum, b| sum.saturating_add(len_u64(b)))
    }

    /// Bytes of the blocks held early, the part of [`Core::held_block_bytes`] bounded by
    /// [`Config::max_early_block_bytes`] after every input: blocks not needed to decide
    /// our height in our view, nor re-proposed by it, nor voted for or proposed by us.
    pub fn early_block_bytes(&self) -> u64 {
        self.early_blocks().fold(0, |sum, e| sum.saturating_add(e.len))
    }

    /// The durable state now (what the next [`Effect::Persist`] would hold).
    pub fn persisted(&self) -> Persisted {
        let installed = if self.changing { None } else { self.installed.as_ref().map(|i| i.persisted.clone()) };
        Persisted::new(crate::persist::State {
            view: self.view,
            changing: self.changing,
            votes: self.votes.iter().map(|(&(height, kind), &(view, hash))| VoteRecord { height, kind, view, hash }).collect(),
            prepared: self.prepared.values().cloned().collect(),
            blocks: self.kept.iter().map(|(&(height, hash), block)| KeptBlock { height, hash, block: block.clone() }).collect(),
            view_change: if self.changing { self.my_view_change.clone() } else { None },
            installed,
            stable: self.stable.clone(),
            certificate: self.certificate.clone(),
            proposal: self.proposal.clone(),
        })
    }

    /// Handles one input; returns the effects to execute in order.
    pub fn handle(&mut self, input: Input) -> Vec<Effect> {
        self.effects.clear();
        self.dirty = false;
        match input {
            Input::Start => self.on_start(),
            Input::Message(m) => self.on_message(m),
            Input::Timeout { view } => self.on_timeout(view),
            Input::Proposal { height, view, block, hash } => self.on_proposal(height, view, block, hash),
            Input::Validated { height, view: _, hash, valid } => self.on_validated(height, hash, valid),
            Input::Synced { height, hash } => self.on_synced(height, hash),
        }
        self.advance();
        self.bound_early_blocks();
        let mut effects = std::mem::take(&mut self.effects);
        // One timer: only the last setting of the batch matters.
        if let Some(last) = effects.iter().rposition(|e| matches!(e, Effect::SetTimer { .. })) {
            let mut i = 0;
            effects.retain(|e| {
                let keep = !matches!(e, Effect::SetTimer { .. }) || i == last;
                i += 1;
                keep
            });
        }
        if self.dirty {
            effects.insert(0, Effect::Persist(self.persisted()));
            self.dirty = false;
        }
        effects
    }

    // ---- helpers -------------------------------------------------------------------

    fn f(&self) -> usize {
        self.set.f()
    }

    fn quorum(&self) -> usize {
        self.set.quorum()
    }

    fn n(&self) -> u64 {
        u64::try_from(self.set.len()).unwrap_or(u64::MAX)
    }

    fn primary(&self, view: u64) -> u32 {
        self.set.primary(view)
    }

    fn stable_height(&self) -> u64 {
        self.stable.as_ref().map_or(0, |s| s.height)
    }

    /// Heights up to here are proven decided by what we hold.
    fn floor(&self) -> u64 {
        self.stable_height().max(self.certificate.as_ref().map_or(0, |c| c.height))
    }

    /// The highest height we accept messages about.
    fn high_watermark(&self) -> u64 {
        self.stable_height().max(self.height.saturating_sub(1)).saturating_add(self.window)
    }

    fn slot(&mut self, height: u64) -> &mut Slot {
        self.log.entry(height).or_default()
    }

    fn timeout_ms(&self) -> u64 {
        let factor = 1u64.checked_shl(self.failed_views).unwrap_or(u64::MAX);
        self.base_timeout_ms.saturating_mul(factor).min(self.max_timeout_ms)
    }

    fn arm_timer(&mut self) {
        self.relayed.clear();
        self.effects.push(Effect::SetTimer { view: self.view, after_ms: self.timeout_ms() });
    }

    fn sign(&self, message: Message) -> Option<SignedMessage> {
        SignedMessage::sign(self.me, message, &self.key, self.chain_id).ok()
    }

    fn broadcast(&mut self, message: Message) -> Option<SignedMessage> {
        let signed = self.sign(message)?;
        self.effects.push(Effect::Broadcast(signed.clone()));
        Some(signed)
    }

    /// Whether we may sign `kind` for `hash` at (`view`, `height`): never a second hash in
    /// a view, never an earlier view than one we signed in.
    fn may_vote(&self, height: u64, kind: u8, view: u64, hash: B256) -> bool {
        match self.votes.get(&(height, kind)) {
            None => true,
            Some(&(v, h)) => (v == view && h == hash) || v < view,
        }
    }

    fn has_voted(&self, height: u64, kind: u8, view: u64) -> bool {
        self.votes.get(&(height, kind)).is_some_and(|&(v, _)| v >= view)
    }

    fn record_vote(&mut self, height: u64, kind: u8, view: u64, hash: B256) {
        if self.votes.get(&(height, kind)) != Some(&(view, hash)) {
            self.votes.insert((height, kind), (view, hash));
            self.dirty = true;
        }
    }

    fn report_behind(&mut self, height: u64, peer: u32) {
        if height < self.height || self.behind_reported.is_some_and(|h| h >= height) || peer == self.me {
            return;
        }
        self.behind_reported = Some(height);
        self.behind_attempts = self.behind_attempts.wrapping_add(1);
        self.effects.push(Effect::Behind { height, peer });
    }

    // ---- inputs --------------------------------------------------------------------

    fn on_start(&mut self) {
        self.arm_timer();
        if self.changing {
            if let Some(vc) = self.my_view_change.clone() {
                self.effects.push(Effect::Broadcast(SignedMessage {
                    from: self.me,
                    message: Message::ViewChange(vc.change),
                    signature: Signature::from_raw_array(&vc.signature).unwrap_or_else(|_| Signature::test_signature()),
                }));
            } else {
                // Changing without our view change cannot be restored; sign it now (we never
                // signed one for this view: it would have been persisted).
                self.changing = false;
                let target = self.view;
                self.view = self.view.saturating_sub(1);
                self.start_view_change(target);
            }
            self.try_new_view();
        } else {
            self.resend_votes();
        }
        if let Some(cert) = self.certificate.clone().filter(|c| c.height >= self.height) {
            self.on_certificate(cert, None, true);
        }
    }

    /// After a restart: what we signed at our height in our view may not have been sent.
    fn resend_votes(&mut self) {
        let (view, height) = (self.view, self.height);
        if let Some(p) = self.proposal.clone().filter(|p| p.view == view && p.height == height) {
            let slot = self.slot(height);
            slot.blocks.insert(p.hash, p.block.clone());
            slot.valid.insert(p.hash);
            let parent = self.certificate.clone().filter(|c| c.height.checked_add(1) == Some(height));
            if let Some(signed) = self.broadcast(Message::PrePrepare(PrePrepare { view, height, hash: p.hash, block: p.block, parent })) {
                self.slot(height).pre_prepares.insert(view, (p.hash, signed.signature.as_bytes()));
            }
        }
        for kind in [PREPARE, COMMIT] {
            if let Some(&(v, hash)) = self.votes.get(&(height, kind)).filter(|(v, _)| *v == view) {
                let vote = Vote { view: v, height, hash };
                let message = if kind == PREPARE { Message::Prepare(vote) } else { Message::Commit(vote) };
                if let Some(signed) = self.broadcast(message) {
                    let sig = signed.signature.as_bytes();
                    let me = self.me;
                    let slot = self.slot(height);
                    let map = if kind == PREPARE { &mut slot.prepares } else { &mut slot.commits };
                    map.entry(v).or_default().insert(me, (hash, sig));
                }
            }
        }
    }

    fn on_timeout(&mut self, view: u64) {
        if view != self.view {
            return;
        }
        // In a view, or changing views with a quorum along: on to the next view.
        if !self.changing || self.support(self.view) >= self.quorum() {
            if let Some(next) = self.view.checked_add(1) {
                self.start_view_change(next);
            }
        } else {
            // Too few have joined to move on: say it again (messages may have been lost).
            if let Some(vc) = self.my_view_change.clone() {
                self.effects.push(Effect::Broadcast(SignedMessage {
                    from: self.me,
                    message: Message::ViewChange(vc.change),
                    signature: Signature::from_raw_array(&vc.signature).unwrap_or_else(|_| Signature::test_signature()),
                }));
            }
            self.arm_timer();
        }
        // Still behind after a whole view: ask again, from another peer if there is one.
        self.behind_reported = None;
        self.check_behind(true);
    }

    fn on_proposal(&mut self, height: u64, view: u64, block: Bytes, hash: B256) {
        if view != self.view || self.changing || height != self.height || self.primary(view) != self.me {
            return;
        }
        if let Some(i) = &self.installed
            && (height <= i.base || i.plan.contains_key(&height))
        {
            return;
        }
        if self.log.get(&height).is_some_and(|s| s.pre_prepares.contains_key(&view)) || !self.may_vote(height, PRE_PREPARE, view, hash) {
            return;
        }
        if height > self.high_watermark() {
            return;
        }
        let parent = self.certificate.clone().filter(|c| c.height.checked_add(1) == Some(height));
        let message = Message::PrePrepare(PrePrepare { view, height, hash, block: block.clone(), parent });
        let Some(signed) = self.broadcast(message) else { return };
        self.record_vote(height, PRE_PREPARE, view, hash);
        self.proposal = Some(Proposal { view, height, hash, block: block.clone() });
        self.dirty = true;
        let slot = self.slot(height);
        slot.pre_prepares.insert(view, (hash, signed.signature.as_bytes()));
        slot.blocks.insert(hash, block);
        slot.valid.insert(hash);
    }

    fn on_validated(&mut self, height: u64, hash: B256, valid: bool) {
        let Some(slot) = self.log.get_mut(&height) else { return };
        if !slot.validating.remove(&hash) {
            return;
        }
        if valid {
            // Unless dropped meanwhile (held early): then validated again if it comes back.
            if slot.blocks.contains_key(&hash) {
                slot.valid.insert(hash);
            }
        } else {
            // The bytes hash to `hash` (checked when taken), so every copy is as bad.
            slot.blocks.remove(&hash);
            slot.invalid.insert(hash);
        }
    }

    fn on_synced(&mut self, height: u64, hash: B256) {
        if height < self.height {
            return;
        }
        self.committed.insert(height, hash);
        self.height = height.saturating_add(1);
        self.parent = hash;
        self.after_commit(height, hash);
    }

    // ---- messages ------------------------------------------------------------------

    fn on_message(&mut self, m: SignedMessage) {
        let from = m.from;
        if from == self.me || self.set.get(from).is_none() || !self.worth_checking(from, &m.message) {
            return;
        }
        let digest = m.message.digest(self.chain_id);
        let signature = m.signature.as_bytes();
        if self.cache.check(&self.set, from, &digest, &signature).is_err() {
            return;
        }
        self.observe(from, &m.message);
        match m.message {
            Message::PrePrepare(p) => self.on_pre_prepare(from, p, signature),
            Message::Prepare(v) => self.on_prepare(from, v, signature),
            Message::Commit(v) => self.on_commit(from, v, signature),
            Message::Checkpoint(c) => self.on_checkpoint(from, c, signature),
            Message::ViewChange(change) => self.on_view_change(SignedViewChange { from, change, signature }),
            Message::NewView(n) => self.on_new_view(from, n, signature),
        }
        self.check_join();
        self.check_behind(false);
    }

    /// Cheap checks before any signature is recovered: is the message of any use?
    fn worth_checking(&self, from: u32, message: &Message) -> bool {
        let news = |this: &Self| {
            message.height().is_some_and(|h| this.peer_heights.get(&from).is_none_or(|&p| h > p))
                || message.view().is_some_and(|v| this.peer_views.get(&from).is_none_or(|&p| v > p))
        };
        let in_window = |h: u64| h >= self.height && h <= self.high_watermark();
        let planned = |h: u64| !self.changing && self.installed.as_ref().is_some_and(|i| i.plan.contains_key(&h));
        match message {
            Message::PrePrepare(p) => {
                (p.view >= self.view && p.view <= self.view.saturating_add(self.n()) && in_window(p.height))
                    || p.parent.as_ref().is_some_and(|c| c.height >= self.height)
                    || news(self)
            }
            Message::Prepare(v) => (v.view == self.view && (in_window(v.height) || planned(v.height))) || news(self),
            Message::Commit(v) => (v.view <= self.view.saturating_add(1) && (in_window(v.height) || planned(v.height))) || news(self),
            Message::Checkpoint(c) => {
                (c.height.is_multiple_of(self.interval) && c.height > self.stable_height() && c.height <= self.high_watermark())
                    || news(self)
            }
            Message::ViewChange(c) => c.view >= self.view,
            Message::NewView(n) => n.view > self.view || (n.view == self.view && (self.changing || self.lacks_re_proposed_block())),
        }
    }

    /// Learns where a peer is from its verified message.
    fn observe(&mut self, from: u32, message: &Message) {
        if let Some(v) = message.view() {
            let e = self.peer_views.entry(from).or_insert(0);
            *e = (*e).max(v);
        }
        let height = match message {
            // A checkpoint says the sender committed that height.
            Message::Checkpoint(c) => c.height.checked_add(1),
            m => m.height(),
        };
        if let Some(h) = height {
            let e = self.peer_heights.entry(from).or_insert(0);
            *e = (*e).max(h);
        }
    }

    fn on_pre_prepare(&mut self, from: u32, p: PrePrepare, signature: [u8; 65]) {
        if from != self.primary(p.view) {
            return;
        }
        if let Some(cert) = p.parent.clone().filter(|c| c.height >= self.height) {
            self.on_certificate(cert, Some(from), false);
            // Committing the parent may have moved us to `p.height`.
            self.advance();
        }
        if p.height < self.height || p.height > self.high_watermark() {
            return;
        }
        if p.view < self.view || p.view > self.view.saturating_add(self.n()) {
            return;
        }
        // The signature is the primary's, over the hash: the pre-prepare stands whatever
        // bytes came with it (a relay may have altered them; the genuine ones can still
        // come). Its block is taken only if the bytes hash to `p.hash`, and we keep it even
        // if its view is not (yet) ours: a re-proposal relayed by a peer may overtake the
        // new view it belongs to. One block per view (the first hash its primary signed
        // here), unless it is the one our new view re-proposes.
        let offered = *self.slot(p.height).offered.entry(p.view).or_insert(p.hash);
        let planned = self.installed.as_ref().and_then(|i| i.plan.get(&p.height)).is_some_and(|h| *h == p.hash && p.view == self.view);
        if planned || offered == p.hash {
            let current = p.height == self.height && p.view == self.view && !self.changing;
            self.take_block(p.height, p.view, p.hash, &p.block, planned || current);
        }
        if p.view > self.view || self.changing {
            // Its new view has not reached us yet (messages overtake each other): keep it
            // until the new view says whether this height is open to fresh proposals.
            self.slot(p.height).early.entry(p.view).or_insert((p.hash, signature));
            return;
        }
        self.accept_pre_prepare(p.view, p.height, p.hash, signature);
    }

    /// Takes the primary's pre-prepare for our (installed) view, unless the new view
    /// decided that height (re-proposed it, or proved it decided before).
    fn accept_pre_prepare(&mut self, view: u64, height: u64, hash: B256, signature: [u8; 65]) {
        if let Some(i) = &self.installed
            && (height <= i.base || i.plan.contains_key(&height))
        {
            return;
        }
        let slot = self.slot(height);
        if slot.pre_prepares.contains_key(&view) {
            return; // The first pre-prepare of a view stands; a second one is equivocation.
        }
        slot.pre_prepares.insert(view, (hash, signature));
    }

    fn vote_height_ok(&self, height: u64) -> bool {
        (height >= self.height && height <= self.high_watermark())
            || (!self.changing && self.installed.as_ref().is_some_and(|i| i.plan.contains_key(&height)))
    }

    fn on_prepare(&mut self, from: u32, v: Vote, signature: [u8; 65]) {
        if v.view != self.view || from == self.primary(v.view) || !self.vote_height_ok(v.height) {
            return;
        }
        self.slot(v.height).prepares.entry(v.view).or_default().entry(from).or_insert((v.hash, signature));
    }

    fn on_commit(&mut self, from: u32, v: Vote, signature: [u8; 65]) {
        if v.view > self.view.saturating_add(1) || !self.vote_height_ok(v.height) {
            return;
        }
        let slot = self.slot(v.height);
        let by_view = &mut slot.commits;
        if by_view.get(&v.view).is_some_and(|m| m.contains_key(&from)) {
            return;
        }
        by_view.entry(v.view).or_default().insert(from, (v.hash, signature));
        // Bound what one sender can make us keep: its few highest views.
        let views: Vec<u64> = by_view.iter().filter(|(_, m)| m.contains_key(&from)).map(|(&view, _)| view).collect();
        if views.len() > COMMIT_VIEWS_PER_SENDER {
            for view in &views[..views.len() - COMMIT_VIEWS_PER_SENDER] {
                if let Some(m) = by_view.get_mut(view) {
                    m.remove(&from);
                }
            }
        }
        self.collect_commits(v.height, v.view, v.hash);
    }

    /// A quorum of matching commits is a certificate.
    fn collect_commits(&mut self, height: u64, view: u64, hash: B256) {
        let quorum = self.quorum();
        let Some(slot) = self.log.get(&height) else { return };
        if slot.certificate.is_some() {
            return;
        }
        let Some(votes) = slot.commits.get(&view) else { return };
        let signatures: Vec<CertSignature> = votes
            .iter()
            .filter(|(_, (h, _))| *h == hash)
            .map(|(&validator, (_, sig))| CertSignature { validator, signature: *sig })
            .collect();
        if signatures.len() < quorum {
            return;
        }
        let cert = CommitCertificate { height, view, block_hash: hash, signatures };
        self.on_certificate(cert, None, true);
    }

    /// A certificate for `cert.height`; `holder` is a peer known to have committed it;
    /// `verified` if its signatures are known good (assembled from verified commits, or
    /// checked inside a view change).
    fn on_certificate(&mut self, cert: CommitCertificate, holder: Option<u32>, verified: bool) {
        if cert.height < self.height {
            // We are past it (caught up without it): keep it as our proof floor.
            if verified
                && self.committed.get(&cert.height) == Some(&cert.block_hash)
                && self.certificate.as_ref().is_none_or(|c| c.height < cert.height)
            {
                self.certificate = Some(cert);
                self.dirty = true;
                self.gc_prepared();
            }
            return;
        }
        if !verified && verify_commit_certificate(&cert, &self.set, self.chain_id, &self.cache).is_err() {
            return;
        }
        if cert.height > self.height {
            let peer = match holder {
                Some(h) => Some(h),
                None => self.pick(&signers(&cert)),
            };
            if let Some(peer) = peer {
                self.report_behind(cert.height, peer);
            }
            return;
        }
        let slot = self.slot(cert.height);
        slot.holders.extend(holder);
        if slot.certificate.is_none() {
            slot.certificate = Some(cert);
        }
    }

    /// One of `candidates` other than us, a different one on each attempt.
    fn pick(&self, candidates: &[u32]) -> Option<u32> {
        let others: Vec<u32> = candidates.iter().copied().filter(|&c| c != self.me).collect();
        let len = u64::try_from(others.len()).ok().filter(|&l| l > 0)?;
        others.get(usize::try_from(self.behind_attempts % len).ok()?).copied()
    }

    fn on_checkpoint(&mut self, from: u32, c: Checkpoint, signature: [u8; 65]) {
        if !c.height.is_multiple_of(self.interval) || c.height <= self.stable_height() || c.height > self.high_watermark() {
            return;
        }
        self.checkpoints.entry(c.height).or_default().entry(from).or_insert((c.hash, signature));
        self.check_checkpoint(c.height);
    }

    fn check_checkpoint(&mut self, height: u64) {
        let Some(signed) = self.checkpoints.get(&height) else { return };
        let mut by_hash: BTreeMap<B256, Vec<CertSignature>> = BTreeMap::new();
        for (&validator, (hash, sig)) in signed {
            by_hash.entry(*hash).or_default().push(CertSignature { validator, signature: *sig });
        }
        let committed = self.height.saturating_sub(1);
        for (hash, signatures) in by_hash {
            let ours = self.committed.get(&height).copied();
            if ours.is_some_and(|o| o != hash) {
                continue;
            }
            if signatures.len() > self.f() && height <= committed && !signed_by(&signatures, self.me) {
                // f + 1 say so, hence a correct validator: we committed the same (we are past
                // it), so we can say it too and help the checkpoint become stable.
                self.send_checkpoint(height, hash);
                return self.check_checkpoint(height);
            }
            if signatures.len() >= self.quorum() {
                let peer = signatures.iter().map(|s| s.validator).find(|&v| v != self.me).unwrap_or(self.me);
                let proof = CheckpointProof { height, hash, signatures };
                if height <= committed {
                    self.adopt_stable(proof);
                } else {
                    self.report_behind(height, peer);
                }
                return;
            }
        }
    }

    fn send_checkpoint(&mut self, height: u64, hash: B256) {
        if self.checkpoints.get(&height).is_some_and(|m| m.contains_key(&self.me)) {
            return;
        }
        if let Some(signed) = self.broadcast(Message::Checkpoint(Checkpoint { height, hash })) {
            self.checkpoints.entry(height).or_default().insert(self.me, (hash, signed.signature.as_bytes()));
        }
    }

    fn adopt_stable(&mut self, proof: CheckpointProof) {
        if proof.height <= self.stable_height() || proof.height >= self.height {
            return;
        }
        let h = proof.height;
        self.stable = Some(proof);
        self.dirty = true;
        self.checkpoints = self.checkpoints.split_off(&h.saturating_add(1));
        self.votes = self.votes.split_off(&(h.saturating_add(1), 0));
        self.committed = self.committed.split_off(&h);
        self.log = self.log.split_off(&h.saturating_add(1));
        self.gc_prepared();
    }

    fn gc_prepared(&mut self) {
        let floor = self.floor();
        let kept = self.kept.len();
        self.kept = self.kept.split_off(&(floor.saturating_add(1), B256::ZERO));
        if self.kept.len() != kept {
            self.dirty = true;
        }
        let before = self.prepared.len();
        self.prepared = self.prepared.split_off(&floor.saturating_add(1));
        if self.prepared.len() != before {
            self.dirty = true;
        }
    }

    // ---- view changes --------------------------------------------------------------

    /// Validators (us included) known to be in `view` or later.
    fn support(&self, view: u64) -> usize {
        let others = self.peer_views.iter().filter(|&(&p, &v)| p != self.me && v >= view).count();
        others.saturating_add(usize::from(self.view >= view))
    }

    fn start_view_change(&mut self, target: u64) {
        if target <= self.view {
            return;
        }
        self.view = target;
        self.changing = true;
        self.escalating = false;
        self.installed = None;
        self.asked = None;
        self.failed_views = self.failed_views.saturating_add(1);
        let floor = self.floor();
        let change = ViewChange {
            view: target,
            height: self.height,
            prepared: self.prepared.range(floor.saturating_add(1)..).map(|(_, c)| c.clone()).collect(),
            checkpoint: self.stable.clone(),
            committed: self.certificate.clone(),
        };
        let Some(signed) = self.broadcast(Message::ViewChange(change.clone())) else { return };
        let vc = SignedViewChange { from: self.me, change, signature: signed.signature.as_bytes() };
        self.my_view_change = Some(vc.clone());
        self.store_view_change(vc);
        self.dirty = true;
        // Votes of older views are of no more use.
        for slot in self.log.values_mut() {
            slot.prepares = slot.prepares.split_off(&target);
        }
        self.arm_timer();
        if self.support(target) >= self.quorum() {
            self.escalating = true;
        }
        self.try_new_view();
    }

    fn store_view_change(&mut self, vc: SignedViewChange) {
        let from = vc.from;
        self.view_changes.entry(vc.change.view).or_default().entry(from).or_insert(vc);
        let views: Vec<u64> = self.view_changes.iter().filter(|(_, m)| m.contains_key(&from)).map(|(&v, _)| v).collect();
        if views.len() > 2 {
            for v in &views[..views.len() - 2] {
                if let Some(m) = self.view_changes.get_mut(v) {
                    m.remove(&from);
                }
            }
        }
        self.view_changes.retain(|_, m| !m.is_empty());
    }

    fn on_view_change(&mut self, vc: SignedViewChange) {
        let max_prepared = self.window.saturating_add(1);
        if vc.verify_with(&self.set, self.chain_id, max_prepared, &self.cache).is_err() {
            return;
        }
        let from = vc.from;
        if let Some(cert) = vc.change.committed.clone() {
            self.on_certificate(cert, Some(from), true);
        }
        if let Some(cp) = vc.change.checkpoint.clone().filter(|c| c.height > self.stable_height()) {
            self.on_checkpoint_proof(cp, from);
        }
        let view = vc.change.view;
        if view > self.view || (view == self.view && self.changing) {
            self.store_view_change(vc);
        } else if view == self.view && self.primary(view) == self.me && self.relayed.insert(from) {
            // A late joiner: it needs the new view it missed (once per timer period each,
            // so replayed view changes cannot make us send it over and over).
            if let Some(message) = self.installed.as_ref().map(|i| self.with_held_blocks(&i.message)) {
                self.effects.push(Effect::Send { to: from, message });
            }
        }
        if self.changing && !self.escalating && self.support(self.view) >= self.quorum() {
            // A quorum has left the old view: from now on the timer moves us on.
            self.escalating = true;
            self.arm_timer();
        }
        self.try_new_view();
    }

    fn on_checkpoint_proof(&mut self, proof: CheckpointProof, source: u32) {
        if !proof.height.is_multiple_of(self.interval) || proof.height <= self.stable_height() {
            return;
        }
        if self.committed.get(&proof.height).is_some_and(|h| *h != proof.hash) {
            return;
        }
        if proof.height < self.height {
            self.adopt_stable(proof);
        } else {
            self.report_behind(proof.height, source);
        }
    }

    /// As the new primary, with a quorum of view changes: start the view.
    fn try_new_view(&mut self) {
        if !self.changing || self.primary(self.view) != self.me {
            return;
        }
        let view = self.view;
        let Some(all) = self.view_changes.get(&view) else { return };
        if all.len() < self.quorum() {
            return;
        }
        // Ours and the lowest other indices, a quorum exactly, by increasing sender.
        let mut chosen: Vec<SignedViewChange> = all.get(&self.me).into_iter().cloned().collect();
        chosen.extend(all.values().filter(|c| c.from != self.me).take(self.quorum().saturating_sub(chosen.len())).cloned());
        chosen.sort_by_key(|c| c.from);
        let (_, plan) = new_view_plan(&chosen);
        let mut pre_prepares = Vec::with_capacity(plan.len());
        for &(height, hash) in &plan {
            if !self.may_vote(height, PRE_PREPARE, view, hash) {
                return;
            }
            let Ok(sig) = self.key.sign_hash(&pre_prepare_digest(self.chain_id, view, height, hash)) else { return };
            self.record_vote(height, PRE_PREPARE, view, hash);
            let block = self.log.get(&height).and_then(|s| s.blocks.get(&hash)).cloned().unwrap_or_default();
            pre_prepares.push(ReProposal { height, hash, signature: sig.as_bytes(), block });
        }
        let new_view = NewView { view, view_changes: chosen, pre_prepares };
        let Some(signed) = self.broadcast(Message::NewView(new_view.clone())) else { return };
        self.install(new_view, signed.signature.as_bytes());
    }

    fn on_new_view(&mut self, from: u32, nv: NewView, signature: [u8; 65]) {
        if from != self.primary(nv.view) || nv.view < self.view {
            return;
        }
        if nv.view == self.view && !self.changing {
            self.take_re_proposed_blocks(&nv);
            return;
        }
        if self.check_new_view(&nv).is_none() {
            return;
        }
        self.install(nv, signature);
    }

    /// Checks a new view: a quorum of valid view changes for it from distinct validators,
    /// and exactly the re-proposals they oblige, each signed by the primary.
    fn check_new_view(&self, nv: &NewView) -> Option<()> {
        let n = self.set.len();
        if nv.view_changes.len() < self.quorum() || nv.view_changes.len() > n {
            return None;
        }
        let mut previous: Option<u32> = None;
        for c in &nv.view_changes {
            if c.change.view != nv.view || previous.is_some_and(|p| p >= c.from) {
                return None;
            }
            previous = Some(c.from);
        }
        let max_prepared = self.window.saturating_add(1);
        for c in &nv.view_changes {
            c.verify_with(&self.set, self.chain_id, max_prepared, &self.cache).ok()?;
        }
        let (_, plan) = new_view_plan(&nv.view_changes);
        if plan.len() != nv.pre_prepares.len() {
            return None;
        }
        let primary = self.primary(nv.view);
        for (&(height, hash), r) in plan.iter().zip(&nv.pre_prepares) {
            if r.height != height || r.hash != hash {
                return None;
            }
            self.cache.check(&self.set, primary, &pre_prepare_digest(self.chain_id, nv.view, height, hash), &r.signature).ok()?;
        }
        Some(())
    }

    fn install(&mut self, nv: NewView, signature: [u8; 65]) {
        let view = nv.view;
        let (base, plan) = new_view_plan(&nv.view_changes);
        self.view = view;
        self.changing = false;
        self.escalating = false;
        self.my_view_change = None;
        self.asked = None;
        self.view_changes = self.view_changes.split_off(&view.saturating_add(1));
        for slot in self.log.values_mut() {
            slot.prepares = slot.prepares.split_off(&view);
            // A new view: blocks found invalid may be re-proposed and checked again, once.
            slot.invalid.clear();
        }
        for r in &nv.pre_prepares {
            if r.height > self.high_watermark() {
                continue;
            }
            self.slot(r.height).pre_prepares.insert(view, (r.hash, r.signature));
        }
        // What the view changes prove: the highest certificate and checkpoint among them.
        for c in &nv.view_changes {
            let e = self.peer_heights.entry(c.from).or_insert(0);
            *e = (*e).max(c.change.height);
        }
        let best_cert =
            nv.view_changes.iter().filter_map(|c| c.change.committed.as_ref().map(|x| (x, c.from))).max_by_key(|(x, _)| x.height);
        if let Some((cert, from)) = best_cert.map(|(c, f)| (c.clone(), f)) {
            self.on_certificate(cert, Some(from), true);
        }
        let best_checkpoint =
            nv.view_changes.iter().filter_map(|c| c.change.checkpoint.as_ref().map(|x| (x, c.from))).max_by_key(|(x, _)| x.height);
        if let Some((cp, from)) = best_checkpoint.map(|(c, f)| (c.clone(), f)).filter(|(c, _)| c.height > self.stable_height()) {
            self.on_checkpoint_proof(cp, from);
        }
        let stripped = NewView {
            view,
            view_changes: nv.view_changes.clone(),
            pre_prepares: nv.pre_prepares.iter().map(|r| ReProposal { block: Bytes::new(), ..r.clone() }).collect(),
        };
        debug_assert_eq!(new_view_digest(self.chain_id, &stripped), new_view_digest(self.chain_id, &nv));
        // The re-proposed blocks it carries, if they hash right (the signature does not
        // cover them). What we keep of the message carries only those: an empty one is a
        // block the new view came without, which we relay if we have it.
        let mut nv = nv;
        for r in &mut nv.pre_prepares {
            if r.height > self.high_watermark() || !self.take_block(r.height, view, r.hash, &r.block, true) {
                r.block = Bytes::new();
            }
        }
        let message = SignedMessage {
            from: self.primary(view),
            message: Message::NewView(nv),
            signature: Signature::from_raw_array(&signature).unwrap_or_else(|_| Signature::test_signature()),
        };
        self.installed =
            Some(Installed { base, plan: plan.into_iter().collect(), message, persisted: InstalledView { new_view: stripped, signature } });
        self.dirty = true;
        // Pre-prepares of this view that arrived before the new view itself.
        let early: Vec<(u64, B256, [u8; 65])> = self
            .log
            .iter_mut()
            .filter_map(|(&height, slot)| {
                slot.early = slot.early.split_off(&view);
                slot.early.remove(&view).map(|(hash, sig)| (height, hash, sig))
            })
            .collect();
        for (height, hash, sig) in early {
            if height >= self.height {
                self.accept_pre_prepare(view, height, hash, sig);
            }
        }
        self.effects.push(Effect::ViewChanged { view, primary: self.primary(view) });
        self.arm_timer();
        self.relay_missing_blocks();
    }

    /// The new primary did not have a block it re-proposes and we do: hand it on, as the
    /// primary's pre-prepare (its signature covers the hash, not the bytes).
    fn relay_missing_blocks(&mut self) {
        let Some(installed) = &self.installed else { return };
        let Message::NewView(nv) = &installed.message.message else { return };
        let primary = installed.message.from;
        if primary == self.me {
            return;
        }
        let mut relays = Vec::new();
        for r in nv.pre_prepares.iter().filter(|r| r.block.is_empty()) {
            let Some(block) = self.log.get(&r.height).and_then(|s| s.blocks.get(&r.hash)) else { continue };
            let Ok(signature) = Signature::from_raw_array(&r.signature) else { continue };
            let p = PrePrepare { view: nv.view, height: r.height, hash: r.hash, block: block.clone(), parent: None };
            relays.push(SignedMessage { from: primary, message: Message::PrePrepare(p), signature });
        }
        self.effects.extend(relays.into_iter().map(Effect::Broadcast));
    }

    /// Join a view that at least `f + 1` others are in (one of them is correct).
    fn check_join(&mut self) {
        let mut views: Vec<u64> = self.peer_views.iter().filter(|&(&p, _)| p != self.me).map(|(_, &v)| v).collect();
        if views.len() <= self.f() {
            return;
        }
        views.sort_unstable_by(|a, b| b.cmp(a));
        let target = views[self.f()];
        if target > self.view {
            self.start_view_change(target);
        }
    }

    /// If `f + 1` others work above our height, one of them correctly: catch up from them.
    /// Without `force` only when they are two heights ahead (one ahead is usually the
    /// commits of our height still in flight).
    fn check_behind(&mut self, force: bool) {
        let mut ahead: Vec<(u64, u32)> = self.peer_heights.iter().filter(|&(&p, _)| p != self.me).map(|(&p, &h)| (h, p)).collect();
        if ahead.len() <= self.f() {
            return;
        }
        ahead.sort_unstable_by(|a, b| b.cmp(a));
        let working = ahead[self.f()].0;
        let Some(target) = working.checked_sub(1) else { return };
        let enough = if force { target >= self.height } else { target > self.height };
        if !enough {
            return;
        }
        let candidates: Vec<u32> = ahead.iter().filter(|(h, _)| *h >= working).map(|&(_, p)| p).collect();
        if let Some(peer) = self.pick(&candidates) {
            self.report_behind(target, peer);
        }
    }

    // ---- block bytes ---------------------------------------------------------------

    /// Takes `block`, from the network, as the block `hash` at `height` (offered in
    /// `view`): only if its bytes hash to `hash` and, unless `needed` (the caller knows it
    /// is the block to decide now or a re-proposal of our view), if it fits among the
    /// blocks held early. Whether we hold exactly these bytes for `hash` now.
    fn take_block(&mut self, height: u64, view: u64, hash: B256, block: &Bytes, needed: bool) -> bool {
        if block.is_empty() {
            return false;
        }
        let Some(slot) = self.log.get(&height) else { return false };
        if let Some(held) = slot.blocks.get(&hash) {
            return held == block;
        }
        if slot.invalid.contains(&hash) {
            return false;
        }
        // The cheap checks first: hashing is the costly part.
        if !needed && !self.needed(height, hash) && !self.early_room(height, view, hash, len_u64(block)) {
            return false;
        }
        if (self.block_hash)(block) != Some(hash) {
            return false;
        }
        self.slot(height).blocks.insert(hash, block.clone());
        true
    }

    /// Another copy of the new view we run in (the same, but for block bytes, which its
    /// signature does not cover): it may bring re-proposed blocks we lack, because the
    /// copy we entered came from a relay that altered them.
    fn take_re_proposed_blocks(&mut self, nv: &NewView) {
        let Some(installed) = &self.installed else { return };
        let wanted: Vec<(u64, B256, Bytes)> = nv
            .pre_prepares
            .iter()
            .filter(|r| r.height >= self.height && r.height <= self.high_watermark() && installed.plan.get(&r.height) == Some(&r.hash))
            .map(|r| (r.height, r.hash, r.block.clone()))
            .collect();
        for (height, hash, block) in wanted {
            self.take_block(height, nv.view, hash, &block, true);
        }
    }

    /// Whether our new view re-proposes, at a height we still decide, a block we do not
    /// have (and have not found invalid): then another copy of it is worth checking.
    fn lacks_re_proposed_block(&self) -> bool {
        let Some(installed) = &self.installed else { return false };
        installed
            .plan
            .range(self.height..=self.high_watermark())
            .any(|(height, hash)| self.log.get(height).is_none_or(|s| !s.blocks.contains_key(hash) && !s.invalid.contains(hash)))
    }

    /// `message` (our new view) with the re-proposed blocks we hold filled in.
    fn with_held_blocks(&self, message: &SignedMessage) -> SignedMessage {
        let mut message = message.clone();
        if let Message::NewView(nv) = &mut message.message {
            for r in nv.pre_prepares.iter_mut().filter(|r| r.block.is_empty()) {
                if let Some(block) = self.log.get(&r.height).and_then(|s| s.blocks.get(&r.hash)) {
                    r.block = block.clone();
                }
            }
        }
        message
    }

    /// Whether the block `hash` at `height` is needed for safety or liveness, hence never
    /// dropped: the one to decide at our height in our view (or that a certificate for our
    /// height names), one our new view re-proposes, our proposal, one we voted for.
    fn needed(&self, height: u64, hash: B256) -> bool {
        self.kept.contains_key(&(height, hash))
            || self.proposal.as_ref().is_some_and(|p| p.height == height && p.hash == hash)
            || (!self.changing && self.installed.as_ref().is_some_and(|i| i.plan.get(&height) == Some(&hash)))
            || (height == self.height
                && self.log.get(&height).is_some_and(|s| {
                    s.certificate.as_ref().is_some_and(|c| c.block_hash == hash)
                        || (!self.changing && s.pre_prepares.get(&self.view).is_some_and(|(h, _)| *h == hash))
                }))
    }

    /// Where a block held early stands in line to be kept, nearest to being decided
    /// first: our height, then the heights above it in order (heights we are past last);
    /// at one height, views from ours upwards, then earlier ones; the hash breaks ties.
    fn rank(&self, height: u64, view: u64, hash: B256) -> Rank {
        (height < self.height, height, view < self.view, view.abs_diff(self.view), hash)
    }

    /// The blocks held early (not `Core::needed`), with their rank and size.
    fn early_blocks(&self) -> impl Iterator<Item = Early> + '_ {
        self.log.iter().flat_map(move |(&height, slot)| {
            slot.blocks.iter().filter(move |(hash, _)| !self.needed(height, **hash)).map(move |(&hash, block)| {
                // The view whose primary offered it; a block that came otherwise (our
                // proposal, a re-proposal) is needed, or last at its height once it is not.
                let view = slot.offered.iter().find(|&(_, h)| *h == hash).map_or(u64::MAX, |(&v, _)| v);
                Early { rank: self.rank(height, view, hash), height, hash, len: len_u64(block) }
            })
        })
    }

    /// Whether a block of `len` bytes, ranked by (`height`, `view`, `hash`), is kept among
    /// the blocks held early: those ranked before it and it fit in the budget.
    fn early_room(&self, height: u64, view: u64, hash: B256, len: u64) -> bool {
        let rank = self.rank(height, view, hash);
        let before = self.early_blocks().filter(|e| e.rank < rank).fold(0u64, |sum, e| sum.saturating_add(e.len));
        before.saturating_add(len) <= self.max_early_block_bytes
    }

    /// Drops blocks held early, farthest first, until they fit in the budget (after every
    /// input: what is needed changes with our height and view).
    fn bound_early_blocks(&mut self) {
        let budget = self.max_early_block_bytes;
        if self.early_block_bytes() <= budget {
            return;
        }
        let mut early: Vec<Early> = self.early_blocks().collect();
        early.sort_unstable_by_key(|e| e.rank);
        let mut kept = 0u64;
        let mut full = false;
        for e in early {
            full = full || kept.saturating_add(e.len) > budget;
            if full {
                // The line stops here: a block ranked after it never takes its place.
                if let Some(slot) = self.log.get_mut(&e.height) {
                    slot.blocks.remove(&e.hash);
                    slot.valid.remove(&e.hash);
                }
            } else {
                kept = kept.saturating_add(e.len);
            }
        }
    }

    // ---- progress ------------------------------------------------------------------

    fn advance(&mut self) {
        loop {
            let height = self.height;
            self.try_commit();
            if self.height != height {
                continue;
            }
            if !self.changing {
                self.drive(height);
            }
            // Our own vote may have completed a certificate.
            self.try_commit();
            if self.height == height {
                break;
            }
        }
        if !self.changing {
            self.drive_planned_below();
        }
    }

    /// Commits our height if a certificate and its (validated) block are here.
    fn try_commit(&mut self) {
        let height = self.height;
        let Some(slot) = self.log.get(&height) else { return };
        let Some(cert) = slot.certificate.clone() else { return };
        let hash = cert.block_hash;
        if slot.valid.contains(&hash) {
            let block = slot.blocks.get(&hash).cloned().unwrap_or_default();
            self.commit(cert, block);
        } else if let Some(block) = slot.blocks.get(&hash).cloned() {
            if !slot.validating.contains(&hash) {
                self.slot(height).validating.insert(hash);
                self.effects.push(Effect::Validate { height, view: cert.view, block, hash });
            }
        } else {
            let candidates: Vec<u32> = if slot.holders.is_empty() { signers(&cert) } else { slot.holders.iter().copied().collect() };
            if let Some(peer) = self.pick(&candidates) {
                self.report_behind(height, peer);
            }
        }
    }

    fn commit(&mut self, cert: CommitCertificate, block: Bytes) {
        let height = self.height;
        let hash = cert.block_hash;
        self.effects.push(Effect::Commit { height, block, hash, certificate: cert.clone() });
        self.committed.insert(height, hash);
        self.height = height.saturating_add(1);
        self.parent = hash;
        if self.certificate.as_ref().is_none_or(|c| c.height < height) {
            self.certificate = Some(cert);
            self.dirty = true;
        }
        if let Some(slot) = self.log.get_mut(&height) {
            slot.blocks.clear();
            slot.valid.clear();
            slot.validating.clear();
        }
        self.after_commit(height, hash);
    }

    /// After `height` was committed (by us or by the node's catch-up).
    fn after_commit(&mut self, height: u64, hash: B256) {
        self.failed_views = 0;
        if self.proposal.as_ref().is_some_and(|p| p.height <= height) {
            self.proposal = None;
            self.dirty = true;
        }
        if height.is_multiple_of(self.interval) {
            self.send_checkpoint(height, hash);
        }
        let pending: Vec<u64> = self.checkpoints.range(..=height).map(|(&h, _)| h).collect();
        for h in pending {
            self.check_checkpoint(h);
        }
        // Drop what is no longer needed: what we know of heights a window below (kept that
        // long for re-proposals of a new view, and in case checkpoints stall), and
        // certificates and blocks below the proof floor.
        let horizon = height.saturating_sub(self.window);
        self.log = self.log.split_off(&horizon);
        self.committed = self.committed.split_off(&horizon);
        self.checkpoints = self.checkpoints.split_off(&horizon);
        let votes = self.votes.len();
        self.votes = self.votes.split_off(&(horizon, 0));
        if self.votes.len() != votes {
            self.dirty = true;
        }
        self.gc_prepared();
        if !self.changing {
            self.arm_timer();
        }
    }

    /// Normal-case progress at our height in our view.
    fn drive(&mut self, height: u64) {
        let view = self.view;
        let primary = self.primary(view);
        if height > self.high_watermark() {
            return;
        }
        let (base, planned) = self.installed.as_ref().map_or((0, false), |i| (i.base, i.plan.contains_key(&height)));
        let has_pre_prepare = self.log.get(&height).is_some_and(|s| s.pre_prepares.contains_key(&view));
        if primary == self.me && !planned && height > base && !has_pre_prepare {
            if !self.has_voted(height, PRE_PREPARE, view) && self.asked != Some((view, height)) {
                self.asked = Some((view, height));
                self.effects.push(Effect::Propose { height, view, parent: self.parent });
            }
            return;
        }
        let Some(&(hash, _)) = self.log.get(&height).and_then(|s| s.pre_prepares.get(&view)) else { return };
        let slot = self.log.get(&height).expect("checked above");
        let valid = slot.valid.contains(&hash);
        if !valid {
            if let Some(block) = slot.blocks.get(&hash).cloned()
                && !slot.validating.contains(&hash)
            {
                self.slot(height).validating.insert(hash);
                self.effects.push(Effect::Validate { height, view, block, hash });
            }
            return;
        }
        self.vote(height, view, hash);
    }

    /// Prepare, then commit once prepared, for `hash` at (`view`, `height`), which we know
    /// to be valid (validated, proposed by us, or committed).
    fn vote(&mut self, height: u64, view: u64, hash: B256) {
        let primary = self.primary(view);
        if primary != self.me
            && !self.has_voted(height, PREPARE, view)
            && self.may_vote(height, PREPARE, view, hash)
            && let Some(signed) = self.broadcast(Message::Prepare(Vote { view, height, hash }))
        {
            self.record_vote(height, PREPARE, view, hash);
            self.keep_block(height, hash);
            let sig = signed.signature.as_bytes();
            let me = self.me;
            self.slot(height).prepares.entry(view).or_default().insert(me, (hash, sig));
        }
        if self.has_voted(height, COMMIT, view) {
            return;
        }
        let Some(slot) = self.log.get(&height) else { return };
        let Some(&(pp_hash, pp_sig)) = slot.pre_prepares.get(&view) else { return };
        if pp_hash != hash {
            return;
        }
        let prepares: Vec<CertSignature> = slot
            .prepares
            .get(&view)
            .map(|m| {
                m.iter()
                    .filter(|&(&v, (h, _))| v != primary && *h == hash)
                    .map(|(&validator, (_, sig))| CertSignature { validator, signature: *sig })
                    .collect()
            })
            .unwrap_or_default();
        if prepares.len() < self.quorum().saturating_sub(1) || !self.may_vote(height, COMMIT, view, hash) {
            return;
        }
        let cert = PreparedCertificate { view, height, hash, pre_prepare: pp_sig, prepares };
        let Some(signed) = self.broadcast(Message::Commit(Vote { view, height, hash })) else { return };
        self.record_vote(height, COMMIT, view, hash);
        self.keep_block(height, hash);
        if height > self.floor() && self.prepared.get(&height).is_none_or(|c| c.view < view) {
            self.prepared.insert(height, cert);
            self.dirty = true;
        }
        let sig = signed.signature.as_bytes();
        let me = self.me;
        self.slot(height).commits.entry(view).or_default().insert(me, (hash, sig));
        self.collect_commits(height, view, hash);
    }

    fn keep_block(&mut self, height: u64, hash: B256) {
        if height <= self.floor() || self.kept.contains_key(&(height, hash)) {
            return;
        }
        if let Some(block) = self.log.get(&height).and_then(|s| s.blocks.get(&hash)).cloned() {
            self.kept.insert((height, hash), block);
            self.dirty = true;
        }
    }

    /// A new view may re-propose heights we already committed: vote for them (only for the
    /// hash we committed) so validators still at those heights can decide them.
    fn drive_planned_below(&mut self) {
        let Some(installed) = &self.installed else { return };
        let view = self.view;
        let below: Vec<(u64, B256)> = installed.plan.range(..self.height).map(|(&h, &x)| (h, x)).collect();
        for (height, hash) in below {
            if self.committed.get(&height) == Some(&hash) {
                self.vote(height, view, hash);
            }
        }
    }
}

/// The rank of a block held early (see `Core::rank`): lower is kept first.
type Rank = (bool, u64, bool, u64, B256);

/// A block held early.
struct Early {
    rank: Rank,
    height: u64,
    hash: B256,
    len: u64,
}

fn len_u64(block: &Bytes) -> u64 {
    u64::try_from(block.len()).unwrap_or(u64::MAX)
}

fn signers(cert: &CommitCertificate) -> Vec<u32> {
    cert.signatures.iter().map(|s| s.validator).collect()
}

fn signed_by(signatures: &[CertSignature], who: u32) -> bool {
    signatures.iter().any(|s| s.validator == who)
}
