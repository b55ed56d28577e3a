//! The PBFT state machine: [`Core`], what it takes ([`Input`]) and what it asks
//! ([`Effect`]).
//!
//! [`Core::handle`] dispatches each input to the file handling its part of the protocol
//! (the shape of malachite's `core-consensus/src/handle/*.rs`), all of them `impl Core`
//! blocks over the one state defined here:
//! - `normal`: the normal case: proposals, pre-prepares, prepares, commits, certificates,
//!   validation answers, committing, and our own votes;
//! - `checkpoint`: checkpoints, the stable checkpoint, garbage collection and watermarks;
//! - `view_change`: timeouts and their escalation, view changes, new views (checking,
//!   installing, relaying the blocks they re-propose);
//! - `sync`: catching up ([`Effect::Behind`], [`Input::Synced`]), joining the view of
//!   `f + 1` peers, and where peers are;
//! - `blocks`: which block bytes are taken from the network and kept within
//!   [`Config::max_early_block_bytes`];
//! - `sets`: the validators of each height, its proposers and quorums, and whether we are
//!   one of them;
//! - `durable`: the state handed out to be persisted, and how a restarted core takes it
//!   back.
//!
//! # Validator sets
//!
//! The validators deciding each height come from the driver ([`Config::validators`]); the
//! proposer (primary) of a view at a height is
//! [`select_proposer`](strata_primitives::select_proposer) of that height's set.
//! Which height's set checks what:
//! - a message or proof about one height — a pre-prepare (whose sender must be the
//!   proposer of its height and view), a prepare, a commit, a checkpoint, a commit
//!   certificate, a stable checkpoint, a prepared certificate — is checked against the set
//!   of that height, and the quorums and `f` at a height are that set's;
//! - a view change is signed by a validator of the height its sender decides
//!   ([`ViewChange::height`](crate::ViewChange::height)); each proof it carries is checked
//!   against the set of its own height;
//! - a new view is judged as a whole against the set of the first height it decides
//!   ([`NewView::first_height`](crate::NewView::first_height), one above the highest floor
//!   its view changes prove), so that every validator judges it alike whatever its own
//!   height: its sender must be that height's proposer of the view, its view changes (a
//!   quorum at least) must all be signed by validators of that set (the new primary
//!   leaves out those that are not), and each re-proposal must be signed by the proposer
//!   of its own height and the view;
//! - what concerns our own progress — the quorum that escalates a view change, joining a
//!   view `f + 1` peers are in, catching up from `f + 1` peers ahead — counts with the set
//!   of our height.
//!
//! A message about a height whose set is `None` (not known yet) cannot be checked: it is
//! dropped like a message beyond the window, before its signature is checked (so, unlike
//! those, without learning that its sender is ahead: catching up to heights whose sets are
//! known is the node's own sync). A proof about such a height fails its check.
//!
//! We sign only at heights whose set lists our key at our index ([`Config::me`]). At other
//! heights (before we join, after we leave) we follow: we take certificates, commit, catch
//! up and join the views peers are in, but we neither propose, vote, checkpoint nor sign
//! view changes, and our timer starts no view change. Reaching a height where we join
//! while changing views, we sign our view change then.
//!
//! A new view's quorum says what the validators of its first height prepared, nothing of
//! what another set prepared. In a view entered through a new view we therefore propose and
//! vote only at heights whose set is the one that new view was judged against; where the
//! set changes, the view's timer runs out, and a later new view, whose first height is at
//! or past the change, is judged against the new set. View 0 needs no new view: nothing
//! was prepared before it.

mod blocks;
mod checkpoint;
mod durable;
mod normal;
mod sets;
mod sync;
mod view_change;

use self::blocks::len_u64;
use crate::crypto::SignerCache;
use crate::message::{CheckpointProof, Message, PreparedCertificate, SignedMessage, SignedViewChange};
use crate::persist::{InstalledView, Persisted, Proposal, VoteKind};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use strata_primitives::{Address, B256, Bytes, CommitCertificate, LocalSigner, Signature, ValidatorSet, ValidatorSets};

/// The default of [`Config::max_early_block_bytes`]: 64 MiB, four blocks of 16 MiB.
pub const DEFAULT_MAX_EARLY_BLOCK_BYTES: u64 = 64 << 20;

/// How a validator runs consensus on one chain.
#[derive(Debug, Clone)]
pub struct Config {
    /// The chain id, part of every signed digest.
    pub chain_id: u64,
    /// The set deciding each height: the core asks it for the set of every height it
    /// handles (messages, proofs, its own height; see "Validator sets" above). A height it
    /// answers `None` for is treated like one beyond the window.
    pub validators: Arc<dyn ValidatorSets>,
    /// Our index, the same in every set we are a validator of.
    pub me: u32,
    /// Our key: it signs our messages. At heights whose set does not have its address at
    /// index `me` we sign nothing (we are not one of their validators).
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
        /// The view it is to be decided in (of its pre-prepare, or of its certificate).
        view: u64,
        /// The view whose proposer built the block, as far as the core knows: its
        /// proposer should be `select_proposer(set, height, proposed_view)` of the height's
        /// set. For a fresh pre-prepare, `view`; for a block a new view re-proposes, the
        /// view of the prepared certificate its plan takes it from (if that one was a
        /// re-proposal too, the block was built in an earlier view still, which the core
        /// does not see); for a certified block the core got otherwise, the certificate's
        /// view.
        proposed_view: u64,
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
    /// A commit vote for the height just committed came after its certificate was
    /// formed: here is the certificate with it (the next block names it, so the chain
    /// records every key that voted in time — the liveness evidence of validator slots).
    CertificateExtended {
        /// The certificate, one signature more.
        certificate: CommitCertificate,
    },
    /// We entered a new view (information).
    ViewChanged {
        /// The view.
        view: u64,
        /// Its primary: the sender of its new view, the view's proposer at the first height
        /// the new view decides.
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

/// One height's log.
#[derive(Debug, Default)]
struct HeightLog {
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
    /// The view of the prepared certificate each re-proposal comes from, by height.
    plan_views: BTreeMap<u64, u64>,
    /// The set the new view was judged against (of its first height): we propose and vote
    /// in this view only at heights with this set.
    set: Arc<ValidatorSet>,
    /// The new view message, for late joiners.
    message: SignedMessage,
    /// Its durable form.
    persisted: InstalledView,
}

/// The consensus core of one validator: a pure state machine. See the crate docs.
#[derive(Debug)]
pub struct Core {
    chain_id: u64,
    sets: Arc<dyn ValidatorSets>,
    /// The set of `height`, kept (`None`: not known yet, asked again on every input).
    current: Option<Arc<ValidatorSet>>,
    me: u32,
    key: LocalSigner,
    address: Address,
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
    logs: BTreeMap<u64, HeightLog>,
    /// Our highest-view prepared certificate per height above the proof floor.
    prepared: BTreeMap<u64, PreparedCertificate>,
    /// The highest commit certificate we hold.
    certificate: Option<CommitCertificate>,
    /// Our latest signed (view, hash) per (height, kind).
    votes: BTreeMap<(u64, VoteKind), (u64, B256)>,
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
        let address = config.key.address();
        let mut core = Core {
            chain_id: config.chain_id,
            sets: config.validators,
            current: None,
            me: config.me,
            key: config.key,
            address,
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
            logs: BTreeMap::new(),
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
        core.enter_height(committed.0.saturating_add(1));
        if let Some(p) = persisted {
            core.restore(p);
        }
        core
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
        self.logs.values().flat_map(|s| s.blocks.values()).fold(0, |sum, b| sum.saturating_add(len_u64(b)))
    }

    /// Bytes of the blocks held early, the part of [`Core::held_block_bytes`] bounded by
    /// [`Config::max_early_block_bytes`] after every input: blocks not needed to decide
    /// our height in our view, nor re-proposed by it, nor voted for or proposed by us.
    pub fn early_block_bytes(&self) -> u64 {
        self.early_blocks().fold(0, |sum, e| sum.saturating_add(e.len))
    }

    /// Handles one input; returns the effects to execute in order.
    pub fn handle(&mut self, input: Input) -> Vec<Effect> {
        self.effects.clear();
        self.dirty = false;
        self.refresh_set();
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

    fn on_message(&mut self, m: SignedMessage) {
        let from = m.from;
        // Checked against the set of the height it is about; unknown: dropped, like a
        // message beyond the window.
        let Some(set) = sets::height_of(&m.message).and_then(|h| self.set_at(h)) else { return };
        // Our own messages come back to nobody; but validator `me` may be another machine
        // of our slot (validator slots: the other key of the seat, active where we are
        // not), whose messages a following machine needs.
        if from == self.me && set.get(from) == Some(&self.address) {
            return;
        }
        if set.get(from).is_none() || !self.worth_checking(&set, from, &m.message) {
            return;
        }
        let digest = m.message.digest(self.chain_id);
        let signature = m.signature.as_bytes();
        if self.cache.check(&set, from, &digest, &signature).is_err() {
            return;
        }
        self.observe(from, &m.message);
        match m.message {
            Message::PrePrepare(p) => self.on_pre_prepare(from, p, signature),
            Message::Prepare(v) => self.on_prepare(from, v, signature),
            Message::Commit(v) => self.on_commit(from, v, signature),
            Message::Checkpoint(c) => self.on_checkpoint(from, c, signature),
            Message::ViewChange(change) => self.on_view_change(SignedViewChange { from, change, signature }),
            Message::NewView(n) => self.on_new_view(from, n, signature, &set),
        }
        self.check_join();
        self.check_behind(false);
    }

    /// Cheap checks before any signature is recovered: is the message of any use? `set`:
    /// the validators of the height it is about.
    fn worth_checking(&self, set: &ValidatorSet, from: u32, message: &Message) -> bool {
        let news = |this: &Self| {
            message.height().is_some_and(|h| this.peer_heights.get(&from).is_none_or(|&p| h > p))
                || message.view().is_some_and(|v| this.peer_views.get(&from).is_none_or(|&p| v > p))
        };
        let in_window = |h: u64| h >= self.height && h <= self.high_watermark();
        let planned = |h: u64| !self.changing && self.installed.as_ref().is_some_and(|i| i.plan.contains_key(&h));
        match message {
            Message::PrePrepare(p) => {
                let n = u64::try_from(set.len()).unwrap_or(u64::MAX);
                (p.view >= self.view && p.view <= self.view.saturating_add(n) && in_window(p.height))
                    || p.parent.as_ref().is_some_and(|c| c.height >= self.height)
                    || news(self)
            }
            Message::Prepare(v) => (v.view == self.view && (in_window(v.height) || planned(v.height))) || news(self),
            Message::Commit(v) => {
                (v.view <= self.view.saturating_add(1) && (in_window(v.height) || planned(v.height)))
                    || self.extends_certificate(from, v)
                    || news(self)
            }
            Message::Checkpoint(c) => {
                (c.height.is_multiple_of(self.interval) && c.height > self.stable_height() && c.height <= self.high_watermark())
                    || news(self)
            }
            Message::ViewChange(c) => c.view >= self.view,
            Message::NewView(n) => n.view > self.view || (n.view == self.view && (self.changing || self.lacks_re_proposed_block())),
        }
    }

    // ---- helpers -------------------------------------------------------------------

    /// The log of `height`, started if there is none yet.
    fn log_at(&mut self, height: u64) -> &mut HeightLog {
        self.logs.entry(height).or_default()
    }

    /// Signs `message`, unless we are not a validator of the height it is about.
    fn sign(&self, message: Message) -> Option<SignedMessage> {
        if !sets::height_of(&message).is_some_and(|h| self.member_at(h)) {
            return None;
        }
        SignedMessage::sign(self.me, message, &self.key, self.chain_id).ok()
    }

    fn broadcast(&mut self, message: Message) -> Option<SignedMessage> {
        let signed = self.sign(message)?;
        self.effects.push(Effect::Broadcast(signed.clone()));
        Some(signed)
    }
}
