//! Consensus messages, the proofs they carry, their digests and their wire encoding.
//!
//! Every message is signed by its sender over a digest that starts with a domain tag
//! of its own (`"strata/prepare/v1"`, …) and the chain id, so no signature can be
//! replayed as another kind of message or on another chain. A commit is signed over
//! [`strata_primitives::commit_digest`], so the commits a validator collects are
//! directly a [`CommitCertificate`].
//!
//! Digests are computed from the decoded value's canonical RLP, never from the bytes
//! received, so a non-canonical encoding of a message cannot carry a signature of
//! another. What a digest does not cover is said at the field: the block bytes of a
//! pre-prepare or re-proposal (the hash is signed; the core takes the bytes only if they
//! hash to it, see [`crate::Config::block_hash`]) and the certificate attached to a
//! pre-prepare (it proves itself).

use crate::crypto::SignerCache;
use crate::{Error, Result};
use alloy_rlp::{Decodable, Encodable, Header, RlpDecodable, RlpEncodable};
use std::sync::Arc;
use strata_primitives::consensus::check_signers;
use strata_primitives::{
    B256, Bytes, CertSignature, CommitCertificate, LocalSigner, Signature, ValidatorSet, commit_digest, keccak256, select_proposer,
};

/// Domain tag of pre-prepare digests.
pub const PRE_PREPARE_DOMAIN: &str = "strata/pre-prepare/v1";
/// Domain tag of prepare digests.
pub const PREPARE_DOMAIN: &str = "strata/prepare/v1";
/// Domain tag of checkpoint digests.
pub const CHECKPOINT_DOMAIN: &str = "strata/checkpoint/v1";
/// Domain tag of view-change digests.
pub const VIEW_CHANGE_DOMAIN: &str = "strata/view-change/v1";
/// Domain tag of new-view digests.
pub const NEW_VIEW_DOMAIN: &str = "strata/new-view/v1";

fn tagged(tag: &str, chain_id: u64, fields: &[&dyn Encodable]) -> B256 {
    let mut all: Vec<&dyn Encodable> = Vec::with_capacity(fields.len().saturating_add(2));
    all.push(&tag);
    all.push(&chain_id);
    all.extend_from_slice(fields);
    let mut out = Vec::new();
    alloy_rlp::encode_list::<_, dyn Encodable>(&all, &mut out);
    keccak256(out)
}

/// What the primary of `view` signs to propose `hash` at `height`.
pub fn pre_prepare_digest(chain_id: u64, view: u64, height: u64, hash: B256) -> B256 {
    tagged(PRE_PREPARE_DOMAIN, chain_id, &[&view, &height, &hash])
}

/// What a backup signs to accept the pre-prepare of `hash` at (`view`, `height`).
pub fn prepare_digest(chain_id: u64, view: u64, height: u64, hash: B256) -> B256 {
    tagged(PREPARE_DOMAIN, chain_id, &[&view, &height, &hash])
}

/// What a validator signs to say it committed `hash` at checkpoint height `height`.
pub fn checkpoint_digest(chain_id: u64, height: u64, hash: B256) -> B256 {
    tagged(CHECKPOINT_DOMAIN, chain_id, &[&height, &hash])
}

/// What a validator signs to leave its view for `change.view`.
pub fn view_change_digest(chain_id: u64, change: &ViewChange) -> B256 {
    tagged(VIEW_CHANGE_DOMAIN, chain_id, &[change])
}

/// What the new primary signs to start `new_view.view`: the view, each view change
/// (sender and digest) and each re-proposal (height, hash, pre-prepare signature). The
/// block bytes attached to re-proposals are not covered.
pub fn new_view_digest(chain_id: u64, new_view: &NewView) -> B256 {
    let changes: Vec<ChangeRef> =
        new_view.view_changes.iter().map(|c| ChangeRef { from: c.from, digest: view_change_digest(chain_id, &c.change) }).collect();
    let proposals: Vec<ProposalRef> =
        new_view.pre_prepares.iter().map(|p| ProposalRef { height: p.height, hash: p.hash, signature: p.signature }).collect();
    tagged(NEW_VIEW_DOMAIN, chain_id, &[&new_view.view, &changes, &proposals])
}

#[derive(RlpEncodable)]
struct ChangeRef {
    from: u32,
    digest: B256,
}

#[derive(RlpEncodable)]
struct ProposalRef {
    height: u64,
    hash: B256,
    signature: [u8; 65],
}

/// The primary's proposal of a block for a height in a view.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
#[rlp(trailing)]
pub struct PrePrepare {
    /// The view; the sender must be its primary.
    pub view: u64,
    /// The height proposed.
    pub height: u64,
    /// The block hash (signed).
    pub hash: B256,
    /// The block (not signed: taken only if it hashes to `hash`; a relay may have
    /// altered it, and then the pre-prepare counts without it).
    pub block: Bytes,
    /// The primary's certificate of `height - 1`, so a validator that missed the commits
    /// of the previous height can commit it (not signed: it proves itself).
    pub parent: Option<CommitCertificate>,
}

/// A prepare or a commit: a vote for `hash` at (`view`, `height`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Vote {
    /// The view.
    pub view: u64,
    /// The height.
    pub height: u64,
    /// The block hash voted for.
    pub hash: B256,
}

/// "I committed `hash` at `height`", sent at every multiple of the checkpoint interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Checkpoint {
    /// The height, a multiple of the checkpoint interval.
    pub height: u64,
    /// The hash committed there.
    pub hash: B256,
}

/// A stable checkpoint: a quorum of matching checkpoint signatures, by increasing signer.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct CheckpointProof {
    /// The checkpoint height.
    pub height: u64,
    /// The hash committed there.
    pub hash: B256,
    /// Signatures over [`checkpoint_digest`].
    pub signatures: Vec<CertSignature>,
}

/// Proof that `hash` was prepared at (`view`, `height`): the primary's pre-prepare
/// signature and prepares of at least `quorum - 1` other validators, by increasing signer.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct PreparedCertificate {
    /// The view.
    pub view: u64,
    /// The height.
    pub height: u64,
    /// The prepared block hash.
    pub hash: B256,
    /// The primary's signature over [`pre_prepare_digest`].
    pub pre_prepare: [u8; 65],
    /// Backups' signatures over [`prepare_digest`] (never the primary's).
    pub prepares: Vec<CertSignature>,
}

/// "I leave my view for `view`": the sender's evidence of what may have been decided.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
#[rlp(trailing)]
pub struct ViewChange {
    /// The view the sender moves to.
    pub view: u64,
    /// The sender's next height to decide (information: who is behind).
    pub height: u64,
    /// The sender's highest prepared certificate per height above its proof floor (the
    /// higher of `checkpoint` and `committed`), by increasing height.
    pub prepared: Vec<PreparedCertificate>,
    /// The sender's stable checkpoint (none at genesis).
    pub checkpoint: Option<CheckpointProof>,
    /// The highest commit certificate the sender holds.
    pub committed: Option<CommitCertificate>,
}

impl ViewChange {
    /// The height below which this view change proves everything decided: the higher of
    /// its checkpoint and its commit certificate (0 if neither).
    pub fn floor(&self) -> u64 {
        let checkpoint = self.checkpoint.as_ref().map_or(0, |c| c.height);
        let committed = self.committed.as_ref().map_or(0, |c| c.height);
        checkpoint.max(committed)
    }
}

/// A view change with its sender and signature, as carried inside a [`NewView`].
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct SignedViewChange {
    /// The sender's index.
    pub from: u32,
    /// The view change.
    pub change: ViewChange,
    /// The sender's signature over [`view_change_digest`].
    pub signature: [u8; 65],
}

/// A block the new primary proposes again in its view.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct ReProposal {
    /// The height.
    pub height: u64,
    /// The block hash: the highest-view prepared hash at this height in the view changes.
    pub hash: B256,
    /// The new primary's signature over [`pre_prepare_digest`] in the new view.
    pub signature: [u8; 65],
    /// The block if the new primary has it, else empty (not signed: taken only if it
    /// hashes to `hash`).
    pub block: Bytes,
}

/// The new primary's start of `view`: a quorum of view changes for it and the blocks
/// they oblige it to propose again (anyone can recompute these from the view changes).
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct NewView {
    /// The view started.
    pub view: u64,
    /// At least a quorum of view changes for `view`, by increasing sender.
    pub view_changes: Vec<SignedViewChange>,
    /// Re-proposals for consecutive heights above the highest floor of the view changes.
    pub pre_prepares: Vec<ReProposal>,
}

impl NewView {
    /// The first height the new view decides: one above the highest floor of its view
    /// changes (`None` past `u64::MAX`). The new view is judged against the validators of
    /// this height (see the core's docs, "Validator sets").
    pub fn first_height(&self) -> Option<u64> {
        self.view_changes.iter().map(|c| c.change.floor()).max().unwrap_or(0).checked_add(1)
    }
}

/// A consensus message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// The primary proposes a block.
    PrePrepare(PrePrepare),
    /// A backup accepts the pre-prepare.
    Prepare(Vote),
    /// A validator saw the block prepared by a quorum.
    Commit(Vote),
    /// A validator committed a checkpoint height.
    Checkpoint(Checkpoint),
    /// A validator leaves its view.
    ViewChange(ViewChange),
    /// The new primary starts its view.
    NewView(NewView),
}

const KIND_PRE_PREPARE: u8 = 1;
const KIND_PREPARE: u8 = 2;
const KIND_COMMIT: u8 = 3;
const KIND_CHECKPOINT: u8 = 4;
const KIND_VIEW_CHANGE: u8 = 5;
const KIND_NEW_VIEW: u8 = 6;

impl Message {
    /// The digest the sender signs.
    pub fn digest(&self, chain_id: u64) -> B256 {
        match self {
            Self::PrePrepare(p) => pre_prepare_digest(chain_id, p.view, p.height, p.hash),
            Self::Prepare(v) => prepare_digest(chain_id, v.view, v.height, v.hash),
            Self::Commit(v) => commit_digest(chain_id, v.height, v.view, v.hash),
            Self::Checkpoint(c) => checkpoint_digest(chain_id, c.height, c.hash),
            Self::ViewChange(c) => view_change_digest(chain_id, c),
            Self::NewView(n) => new_view_digest(chain_id, n),
        }
    }

    /// The view the message belongs to (none for checkpoints).
    pub fn view(&self) -> Option<u64> {
        match self {
            Self::PrePrepare(p) => Some(p.view),
            Self::Prepare(v) | Self::Commit(v) => Some(v.view),
            Self::Checkpoint(_) => None,
            Self::ViewChange(c) => Some(c.view),
            Self::NewView(n) => Some(n.view),
        }
    }

    /// The height the message is about (none for new views).
    pub fn height(&self) -> Option<u64> {
        match self {
            Self::PrePrepare(p) => Some(p.height),
            Self::Prepare(v) | Self::Commit(v) => Some(v.height),
            Self::Checkpoint(c) => Some(c.height),
            Self::ViewChange(c) => Some(c.height),
            Self::NewView(_) => None,
        }
    }

    /// A short name of the kind, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::PrePrepare(_) => "pre-prepare",
            Self::Prepare(_) => "prepare",
            Self::Commit(_) => "commit",
            Self::Checkpoint(_) => "checkpoint",
            Self::ViewChange(_) => "view-change",
            Self::NewView(_) => "new-view",
        }
    }

    fn kind_byte(&self) -> u8 {
        match self {
            Self::PrePrepare(_) => KIND_PRE_PREPARE,
            Self::Prepare(_) => KIND_PREPARE,
            Self::Commit(_) => KIND_COMMIT,
            Self::Checkpoint(_) => KIND_CHECKPOINT,
            Self::ViewChange(_) => KIND_VIEW_CHANGE,
            Self::NewView(_) => KIND_NEW_VIEW,
        }
    }

    fn body(&self) -> &dyn Encodable {
        match self {
            Self::PrePrepare(p) => p,
            Self::Prepare(v) | Self::Commit(v) => v,
            Self::Checkpoint(c) => c,
            Self::ViewChange(c) => c,
            Self::NewView(n) => n,
        }
    }

    fn decode_body(kind: u8, buf: &mut &[u8]) -> Result<Self> {
        Ok(match kind {
            KIND_PRE_PREPARE => Self::PrePrepare(PrePrepare::decode(buf)?),
            KIND_PREPARE => Self::Prepare(Vote::decode(buf)?),
            KIND_COMMIT => Self::Commit(Vote::decode(buf)?),
            KIND_CHECKPOINT => Self::Checkpoint(Checkpoint::decode(buf)?),
            KIND_VIEW_CHANGE => Self::ViewChange(ViewChange::decode(buf)?),
            KIND_NEW_VIEW => Self::NewView(NewView::decode(buf)?),
            other => return Err(Error::UnknownKind(other)),
        })
    }
}

/// A message with its sender's index and signature: what travels between validators.
///
/// Wire form: `rlp([from, kind, body, signature])` with the 65-byte `r ‖ s ‖ v` signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedMessage {
    /// The sender's validator index.
    pub from: u32,
    /// The message.
    pub message: Message,
    /// The sender's signature over [`Message::digest`].
    pub signature: Signature,
}

impl SignedMessage {
    /// Signs `message` as validator `from` with `key` for chain `chain_id`.
    pub fn sign(from: u32, message: Message, key: &LocalSigner, chain_id: u64) -> Result<Self> {
        let signature = key.sign_hash(&message.digest(chain_id)).map_err(|_| Error::Signing)?;
        Ok(Self { from, message, signature })
    }

    /// Checks the outer signature: it recovers to validator `from` of `set` (for the core,
    /// the validators of the height the message is about). (The proofs inside view changes
    /// and new views are checked by the core.)
    pub fn verify(&self, set: &ValidatorSet, chain_id: u64) -> Result<()> {
        SignerCache::new().check(set, self.from, &self.message.digest(chain_id), &self.signature.as_bytes())
    }

    /// The wire encoding.
    pub fn encode(&self) -> Vec<u8> {
        let signature = self.signature.as_bytes();
        let body = self.message.body();
        let fields: [&dyn Encodable; 4] = [&self.from, &self.message.kind_byte(), body, &signature];
        let mut out = Vec::new();
        alloy_rlp::encode_list::<_, dyn Encodable>(&fields, &mut out);
        out
    }

    /// Decodes the wire encoding. Never panics: anything malformed, of an unknown kind,
    /// with trailing bytes or an invalid signature recovery byte is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut buf = bytes;
        let header = Header::decode(&mut buf)?;
        if !header.list {
            return Err(Error::Rlp(alloy_rlp::Error::UnexpectedString));
        }
        let (mut payload, rest) = buf.split_at(header.payload_length);
        if !rest.is_empty() {
            return Err(Error::TrailingBytes(rest.len()));
        }
        let from = u32::decode(&mut payload)?;
        let kind = u8::decode(&mut payload)?;
        let message = Message::decode_body(kind, &mut payload)?;
        let raw = <[u8; 65]>::decode(&mut payload)?;
        if !payload.is_empty() {
            return Err(Error::TrailingBytes(payload.len()));
        }
        let signature = Signature::from_raw_array(&raw).map_err(|_| Error::BadSignature(from))?;
        Ok(Self { from, message, signature })
    }
}

/// Decodes a `T` that must span all of `bytes`.
pub(crate) fn decode_exact<T: Decodable>(bytes: &[u8]) -> Result<T> {
    let mut buf = bytes;
    let value = T::decode(&mut buf)?;
    if !buf.is_empty() {
        return Err(Error::TrailingBytes(buf.len()));
    }
    Ok(value)
}

/// Checks a commit certificate like [`CommitCertificate::verify`], recovering through `cache`.
pub(crate) fn verify_commit_certificate(cert: &CommitCertificate, set: &ValidatorSet, chain_id: u64, cache: &SignerCache) -> Result<()> {
    check_signers(cert.signatures.iter().map(|s| s.validator), set)?;
    let digest = cert.digest(chain_id);
    for s in &cert.signatures {
        cache.check(set, s.validator, &digest, &s.signature)?;
    }
    Ok(())
}

impl CheckpointProof {
    /// Checks the proof against `set`, the validators of its height: a quorum of distinct
    /// validators, in order, each signing the checkpoint.
    pub fn verify(&self, set: &ValidatorSet, chain_id: u64) -> Result<()> {
        self.verify_with(set, chain_id, &SignerCache::new())
    }

    pub(crate) fn verify_with(&self, set: &ValidatorSet, chain_id: u64, cache: &SignerCache) -> Result<()> {
        check_signers(self.signatures.iter().map(|s| s.validator), set)?;
        let digest = checkpoint_digest(chain_id, self.height, self.hash);
        for s in &self.signatures {
            cache.check(set, s.validator, &digest, &s.signature)?;
        }
        Ok(())
    }
}

impl PreparedCertificate {
    /// Checks the certificate against `set`, the validators of its height: the pre-prepare
    /// signed by the proposer of its (height, view) ([`select_proposer`]), and prepares by
    /// at least `quorum - 1` distinct other validators, in order, over the same block.
    pub fn verify(&self, set: &ValidatorSet, chain_id: u64) -> Result<()> {
        self.verify_with(set, chain_id, &SignerCache::new())
    }

    pub(crate) fn verify_with(&self, set: &ValidatorSet, chain_id: u64, cache: &SignerCache) -> Result<()> {
        let primary = select_proposer(set, self.height, self.view);
        let mut previous: Option<u32> = None;
        for s in &self.prepares {
            if s.validator == primary {
                return Err(Error::Invalid("the primary's prepare in a prepared certificate"));
            }
            if set.get(s.validator).is_none() {
                return Err(Error::UnknownValidator(s.validator));
            }
            if previous.is_some_and(|p| p >= s.validator) {
                return Err(Error::Invalid("prepared certificate signers not strictly increasing"));
            }
            previous = Some(s.validator);
        }
        if self.prepares.len() < set.quorum().saturating_sub(1) || set.is_empty() {
            return Err(Error::Invalid("too few prepares in a prepared certificate"));
        }
        cache.check(set, primary, &pre_prepare_digest(chain_id, self.view, self.height, self.hash), &self.pre_prepare)?;
        let digest = prepare_digest(chain_id, self.view, self.height, self.hash);
        for s in &self.prepares {
            cache.check(set, s.validator, &digest, &s.signature)?;
        }
        Ok(())
    }
}

impl SignedViewChange {
    /// Checks the signature, as validator `from` of `set`, and every proof inside, each
    /// against the validators of its own height as `sets` gives them (an unknown set fails
    /// the check): the checkpoint, the commit certificate, and the prepared certificates
    /// (each from an earlier view, above the floor, by increasing height, at most
    /// `max_prepared` of them).
    pub(crate) fn verify_with(
        &self,
        set: &ValidatorSet,
        sets: &dyn Fn(u64) -> Option<Arc<ValidatorSet>>,
        chain_id: u64,
        max_prepared: u64,
        cache: &SignerCache,
    ) -> Result<()> {
        let change = &self.change;
        if change.view == 0 {
            return Err(Error::Invalid("a view change to view 0"));
        }
        if u64::try_from(change.prepared.len()).unwrap_or(u64::MAX) > max_prepared {
            return Err(Error::Invalid("too many prepared certificates"));
        }
        let floor = change.floor();
        let mut previous: Option<u64> = None;
        for p in &change.prepared {
            if p.view >= change.view {
                return Err(Error::Invalid("a prepared certificate from the view being entered"));
            }
            if p.height <= floor || previous.is_some_and(|h| h >= p.height) {
                return Err(Error::Invalid("prepared certificates not above the floor and increasing"));
            }
            previous = Some(p.height);
        }
        cache.check(set, self.from, &view_change_digest(chain_id, change), &self.signature)?;
        let set_at = |height: u64| sets(height).ok_or(Error::UnknownValidators(height));
        if let Some(c) = &change.checkpoint {
            c.verify_with(&*set_at(c.height)?, chain_id, cache)?;
        }
        if let Some(c) = &change.committed {
            verify_commit_certificate(c, &*set_at(c.height)?, chain_id, cache)?;
        }
        for p in &change.prepared {
            p.verify_with(&*set_at(p.height)?, chain_id, cache)?;
        }
        Ok(())
    }
}

/// What a new view must re-propose, computed from its view changes: the highest floor
/// (`base`), then for each consecutive height above it that has a prepared certificate,
/// the hash prepared in the highest view (ties broken by the smaller hash, which two
/// honest quorums can never produce).
pub fn new_view_plan(changes: &[SignedViewChange]) -> (u64, Vec<(u64, B256)>) {
    let (base, plan) = plan_with_views(changes);
    (base, plan.into_iter().map(|(height, hash, _)| (height, hash)).collect())
}

/// [`new_view_plan`] with, for each re-proposed height, the view of the prepared
/// certificate its hash is taken from: `(height, hash, view)`.
pub(crate) fn plan_with_views(changes: &[SignedViewChange]) -> (u64, Vec<(u64, B256, u64)>) {
    let base = changes.iter().map(|c| c.change.floor()).max().unwrap_or(0);
    let mut best: std::collections::BTreeMap<u64, (u64, B256)> = std::collections::BTreeMap::new();
    for p in changes.iter().flat_map(|c| &c.change.prepared).filter(|p| p.height > base) {
        let entry = best.entry(p.height).or_insert((p.view, p.hash));
        if p.view > entry.0 || (p.view == entry.0 && p.hash < entry.1) {
            *entry = (p.view, p.hash);
        }
    }
    let mut plan = Vec::new();
    let mut height = base;
    while let Some(next) = height.checked_add(1) {
        let Some(&(view, hash)) = best.get(&next) else { break };
        plan.push((next, hash, view));
        height = next;
    }
    (base, plan)
}

#[cfg(test)]
mod tests;
