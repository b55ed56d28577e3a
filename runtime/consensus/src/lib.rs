//! Strata's consensus core: PBFT over heights, as a pure state machine.
//!
//! # Shape
//!
//! Each height is decided by a set of `n = 3f + 1` validators, which the driver gives
//! per height ([`Config::validators`], a [`ValidatorSets`]; fixed at genesis today,
//! [`FixedValidators`]). [`Core`] is one validator's consensus: the node feeds it
//! [`Input`]s (messages from peers, timer expiries, answers to its requests) and
//! executes the [`Effect`]s it returns, in order (persist, send, arm the timer, build or
//! re-execute a block, commit, catch up). Like malachite's core or raft-rs's `Ready`, the core does no I/O, reads no
//! clock, draws no random numbers and iterates only ordered maps: its output is a
//! function of its inputs. That is why it can be tested as it is run — the node drives
//! it over TCP and real time, the simulator in this crate's tests over a virtual
//! network and virtual time, with message loss, partitions, crashes and Byzantine
//! validators, every run replayable from a seed.
//!
//! # Protocol
//!
//! PBFT (Castro & Liskov) with one block per height, heights decided in order:
//! - The primary of view `v` at a height ([`select_proposer`] of that height's set, today
//!   validator `v % n`) asks the node for a block
//!   ([`Effect::Propose`]) and broadcasts a `PrePrepare` carrying it and the
//!   certificate of the previous height.
//! - A backup has the node re-execute the block ([`Effect::Validate`]) and, if valid,
//!   broadcasts a `Prepare`. The pre-prepare and `2f` matching prepares make the block
//!   *prepared*; the validator then broadcasts a `Commit`, signed over
//!   [`strata_primitives::commit_digest`]. `2f + 1` matching commits are a
//!   [`CommitCertificate`] and the block is committed ([`Effect::Commit`]).
//! - Every message is signed with a domain-separated digest and checked (signature,
//!   sender, view, height, watermarks) before it is used; a message that fails is
//!   dropped. Replays are harmless: every vote is recorded once per sender and view.
//! - View change: when the timer of a view fires, a validator broadcasts a
//!   `ViewChange` to the next view carrying its proof floor (stable checkpoint and
//!   highest commit certificate) and its prepared certificates above it. The new
//!   primary, with `2f + 1` of them, broadcasts a `NewView` that re-proposes, for each
//!   height above the highest floor, the hash prepared in the highest view (others
//!   recompute and check this), and then proposes fresh blocks. Timers double with
//!   every failed view (capped) and reset on a commit; after a view change has been
//!   joined by a quorum, its timer moves on to the next view, before that it only
//!   repeats the view change. A validator joins a view that `f + 1` others are in.
//!   Why the proof floor and not only the checkpoint (as in PBFT): heights are decided
//!   in order and every commit yields a certificate, so a view change usually carries
//!   one certificate and at most one prepared certificate instead of a window of them.
//!   A re-proposed block the new primary lacks is relayed by a validator that has it
//!   (as the primary's signed pre-prepare: signatures cover hashes, not bytes); a
//!   validator keeps the blocks it voted for in [`Persisted`] so this survives crashes.
//! - Checkpoints: at every multiple of the checkpoint interval a validator signs a
//!   `Checkpoint`; `2f + 1` matching ones are a stable checkpoint, below which the log
//!   is discarded. Messages for heights beyond the window are dropped.
//! - Catching up: a certificate (or `2f + 1` commits) for a height we cannot commit
//!   ourselves, a stable checkpoint above us, or `f + 1` peers working two heights
//!   above us, yield [`Effect::Behind`]; the node fetches the blocks and certificates
//!   and reports [`Input::Synced`].
//! - Durability: before it sends anything it signed, the core hands the node a
//!   [`Persisted`] ([`Effect::Persist`], first in its batch); a validator restarted from
//!   it never signs two different things for one (view, height, kind).
//!
//! Safety needs at most `f` faulty validators; liveness also needs messages to arrive
//! eventually and timers long enough for a view to complete. Which height's validators
//! check which message, and how a view crosses a height where the set changes: see
//! "Validator sets" in the docs of [`Core`]'s module (`src/core/mod.rs`).
//!
//! # Blocks
//!
//! Blocks are opaque bytes; the node supplies their hash function
//! ([`Config::block_hash`]). Signatures cover block hashes, never bytes, so whoever
//! relays a signed pre-prepare or new view can attach other bytes. Block bytes from the
//! network (pre-prepares, re-proposals in new views) are therefore taken only if they
//! hash to the hash that was signed; other bytes are ignored and cost nothing:
//! - the pre-prepare itself still counts: its signature proves that the primary proposed
//!   that hash in that view, which is all the vote logic uses, and a validator prepares
//!   only once the node has validated bytes with that hash;
//! - "one block per view" means the first hash the view's primary signed at a height, not
//!   the first bytes that arrived, so the genuine block is still taken when it comes (in
//!   another copy of the pre-prepare, or of the new view);
//! - a block the node found invalid is not taken again in that view (every copy is the
//!   same bytes), so replays cannot make the node re-execute it over and over.
//!
//! Memory: besides the blocks needed to decide (the current view's block at our height,
//! the block of a certificate for it, the blocks our new view re-proposes, our proposal,
//! and the blocks we voted for), a validator keeps blocks *early*, for heights above ours
//! (the next one usually arrives while the commits of ours are still coming) and for views
//! other than ours (a pre-prepare may overtake its new view): at most one per view and
//! height, and at most [`Config::max_early_block_bytes`] in all
//! ([`Core::early_block_bytes`]). Over the budget the nearest are kept (lower heights
//! first, then views from ours upwards) and the others dropped or refused, the same on
//! every validator given the same inputs.
//!
//! # Driving it
//!
//! - Feed [`Input::Start`] after [`Core::new`], then every decoded [`SignedMessage`]
//!   (whatever connection it came on: validators relay some messages of others, and the
//!   core checks every signature itself).
//! - Execute each batch of effects in order; `Persist` must be durable before anything
//!   after it is sent. There is one timer: `SetTimer` replaces the previous one.
//! - [`Config::block_hash`] must be the node's own block hash, pure and deterministic
//!   (it runs inside [`Core::handle`], once per block taken from the network).
//! - Answer `Propose`, `Validate` and `Behind` (with `Synced`) when done; stale answers
//!   are ignored. A `Commit` for a height the node already has through a catch-up still
//!   in flight carries the same block (safety) and can be skipped.

mod core;
mod crypto;
mod error;
mod message;
mod persist;

pub use crate::core::{Config, Core, DEFAULT_MAX_EARLY_BLOCK_BYTES, Effect, Input};
pub use crate::crypto::SignerCache;
pub use crate::error::{Error, Result};
pub use crate::message::{
    CHECKPOINT_DOMAIN, Checkpoint, CheckpointProof, Message, NEW_VIEW_DOMAIN, NewView, PRE_PREPARE_DOMAIN, PREPARE_DOMAIN, PrePrepare,
    PreparedCertificate, ReProposal, SignedMessage, SignedViewChange, VIEW_CHANGE_DOMAIN, ViewChange, Vote, checkpoint_digest,
    new_view_digest, new_view_plan, pre_prepare_digest, prepare_digest, view_change_digest,
};
pub use crate::persist::Persisted;
pub use strata_primitives::{
    CommitCertificate, FixedValidators, ProposerRotation, ValidatorSet, ValidatorSets, commit_digest, select_proposer,
};
