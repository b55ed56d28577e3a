//! What a validator writes durably so that, restarted, it never contradicts itself.

use crate::Result;
use crate::message::{CheckpointProof, NewView, PreparedCertificate, SignedViewChange, decode_exact};
use alloy_rlp::{BufMut, Decodable, Encodable, RlpDecodable, RlpEncodable};
use strata_primitives::{B256, Bytes, CommitCertificate};

/// The kinds of vote a validator signs at a height, in this order (the order of the
/// core's vote keys). Each is persisted as its byte in [`VoteRecord`]: 0, 1 and 2 (not
/// the wire's message kind bytes, which are 1, 2 and 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum VoteKind {
    /// The primary's proposal of a block.
    PrePrepare = 0,
    /// A backup's acceptance of the pre-prepare.
    Prepare = 1,
    /// A validator saw the block prepared by a quorum.
    Commit = 2,
}

impl VoteKind {
    /// The lowest kind: `(height, VoteKind::FIRST)` is the first vote key at `height`.
    pub(crate) const FIRST: Self = Self::PrePrepare;
}

impl From<VoteKind> for u8 {
    fn from(kind: VoteKind) -> Self {
        kind as Self
    }
}

impl TryFrom<u8> for VoteKind {
    type Error = u8;

    fn try_from(byte: u8) -> core::result::Result<Self, u8> {
        match byte {
            0 => Ok(Self::PrePrepare),
            1 => Ok(Self::Prepare),
            2 => Ok(Self::Commit),
            other => Err(other),
        }
    }
}

impl Encodable for VoteKind {
    fn encode(&self, out: &mut dyn BufMut) {
        u8::from(*self).encode(out);
    }

    fn length(&self) -> usize {
        u8::from(*self).length()
    }
}

impl Decodable for VoteKind {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Self::try_from(u8::decode(buf)?).map_err(|_| alloy_rlp::Error::Custom("unknown vote kind"))
    }
}

/// One signed vote of ours: the latest (`view`, `hash`) we signed of `kind` at `height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub(crate) struct VoteRecord {
    pub(crate) height: u64,
    pub(crate) kind: VoteKind,
    pub(crate) view: u64,
    pub(crate) hash: B256,
}

/// A block we voted for (or proposed), kept until it is below our proof floor.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub(crate) struct KeptBlock {
    pub(crate) height: u64,
    pub(crate) hash: B256,
    pub(crate) block: Bytes,
}

/// The new view we run in (as received, or as we sent it when primary), without block bytes.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub(crate) struct InstalledView {
    pub(crate) new_view: NewView,
    pub(crate) signature: [u8; 65],
}

/// Our outstanding proposal as primary, so a restart re-sends the same block.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub(crate) struct Proposal {
    pub(crate) view: u64,
    pub(crate) height: u64,
    pub(crate) hash: B256,
    pub(crate) block: Bytes,
}

/// The durable state of a [`crate::Core`], handed out in [`crate::Effect::Persist`].
///
/// It holds what a restarted validator needs to never sign two different things for
/// the same (view, height, kind), and to keep the evidence later views depend on:
/// - the view, and whether we are changing to it (then our signed view change, re-sent
///   as is), or the new view we run in (as received; as sent, if we were its primary);
/// - our latest pre-prepare, prepare and commit per height above the stable checkpoint;
/// - our prepared certificates above our proof floor (stable checkpoint or commit
///   certificate), which every view change must carry;
/// - the stable checkpoint with its proof and the highest commit certificate we hold;
/// - the blocks we voted for above that floor: a new view may re-propose one of them, and
///   then a correct validator that voted for it must still be able to hand it on;
/// - our outstanding proposal as primary (with its block), re-sent after a restart.
///
/// Everything else (messages received, peers' votes, blocks of others) is rebuilt from
/// the network. The committed chain itself is the node's: [`crate::Core::new`] takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persisted(Box<State>);

/// The fields of [`Persisted`] (boxed: it is large and travels inside `Effect`).
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
#[rlp(trailing)]
pub(crate) struct State {
    pub(crate) view: u64,
    pub(crate) changing: bool,
    pub(crate) votes: Vec<VoteRecord>,
    pub(crate) prepared: Vec<PreparedCertificate>,
    pub(crate) blocks: Vec<KeptBlock>,
    pub(crate) view_change: Option<SignedViewChange>,
    pub(crate) installed: Option<InstalledView>,
    pub(crate) stable: Option<CheckpointProof>,
    pub(crate) certificate: Option<CommitCertificate>,
    pub(crate) proposal: Option<Proposal>,
}

impl Persisted {
    pub(crate) fn new(state: State) -> Self {
        Self(Box::new(state))
    }

    pub(crate) fn into_state(self) -> State {
        *self.0
    }

    /// The view the validator was in (or changing to).
    pub fn view(&self) -> u64 {
        self.0.view
    }

    /// The RLP encoding to write.
    pub fn encode(&self) -> Vec<u8> {
        alloy_rlp::encode(&*self.0)
    }

    /// Decodes what [`Persisted::encode`] wrote; an error for anything else (never panics).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        decode_exact::<State>(bytes).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`VoteRecord`] as it was encoded before [`VoteKind`]: the kind as a plain byte.
    #[derive(Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
    struct ByteRecord {
        height: u64,
        kind: u8,
        view: u64,
        hash: B256,
    }

    #[test]
    fn vote_kinds_keep_their_persisted_bytes() {
        let hash = B256::repeat_byte(7);
        for (kind, byte) in [(VoteKind::PrePrepare, 0u8), (VoteKind::Prepare, 1), (VoteKind::Commit, 2)] {
            assert_eq!(u8::from(kind), byte);
            assert_eq!(VoteKind::try_from(byte), Ok(kind));
            let record = VoteRecord { height: 9, kind, view: 3, hash };
            let bytes = alloy_rlp::encode(record);
            assert_eq!(bytes, alloy_rlp::encode(ByteRecord { height: 9, kind: byte, view: 3, hash }));
            assert_eq!(decode_exact::<VoteRecord>(&bytes), Ok(record));
        }
        assert!(VoteKind::FIRST < VoteKind::Prepare && VoteKind::Prepare < VoteKind::Commit);
        assert_eq!(VoteKind::try_from(3), Err(3));
        let unknown = alloy_rlp::encode(ByteRecord { height: 9, kind: 3, view: 3, hash });
        assert!(decode_exact::<VoteRecord>(&unknown).is_err());
    }
}
