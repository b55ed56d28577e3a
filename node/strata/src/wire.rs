//! What validators say to each other: the messages of the driver (consensus messages,
//! gossiped transactions, sync requests and answers, height announcements, heartbeats,
//! storage-certificate requests and signatures), each
//! naming the chain it belongs to, and the block envelope the consensus core carries.

use alloy_rlp::{RlpDecodable, RlpEncodable};
use strata_primitives::{B256, Block, Bytes, rlp_item::decode_exact, slots::Heartbeat, storage_cert::StoredClaim};

/// Most blocks per sync response.
pub const SYNC_BATCH: u64 = 32;
/// Most bytes of blocks per sync response (one block alone may be larger, up to the
/// block size limit): far below the transport's frame limit.
pub const SYNC_MAX_BYTES: usize = 8 * 1024 * 1024;

/// The hash of a block as the core carries it (an RLP [`Envelope`]): its header's hash.
/// `None` for bytes that are not an envelope.
pub fn envelope_hash(bytes: &[u8]) -> Option<B256> {
    decode_exact::<Envelope>(bytes).ok().map(|e| e.block.header.hash_slow())
}

/// Node-to-node messages (the chain id, a tag byte, then RLP).
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
    /// A sync node's heartbeat for its head (validator slots).
    Heartbeat(Heartbeat),
    /// Asks a validator to store a batch of transactions and sign their claims
    /// (storage certificates).
    Certify(CertifyBatch),
    /// A validator's signature of the claims of a batch it stored: those transactions
    /// are in its journal.
    Stored(StoredVote),
    /// A validator's refusal to sign a claim, with the reason.
    StoredRefused(StoredRefusal),
    /// Another validator's vote, relayed by the validator that gathered with it (its
    /// signer may have sent it to that one alone): counted, if not heard from its
    /// signer, once its signature verifies.
    Relayed(StoredVote),
}

/// A request to certify a transaction as stored.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct CertifyRequest {
    /// The transaction (EIP-2718).
    pub raw: Bytes,
    /// The claim to sign.
    pub claim: StoredClaim,
}

/// Claims to sign, all of one height (whose validators sign), in the batch's order.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct CertifyBatch {
    /// The height of every claim.
    pub height: u64,
    /// The transactions and their claims.
    pub items: Vec<CertifyRequest>,
}

/// One signature over the claims a validator stored from a batch (sent by its signer to
/// every validator): over the `BatchTree` root of their digests.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StoredVote {
    /// The height of the claims (whose set the signer belongs to).
    pub height: u64,
    /// The signer's validator index.
    pub validator: u32,
    /// The digests of the claims it signs, in the batch's order.
    pub leaves: Vec<B256>,
    /// Its signature over their root.
    pub signature: [u8; 65],
}

/// A refusal to sign a claim.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StoredRefusal {
    /// The transaction.
    pub tx_hash: B256,
    /// The refusing validator's index.
    pub validator: u32,
    /// Why (at most [`MAX_REASON`] bytes).
    pub reason: String,
}

/// Longest refusal reason carried.
pub const MAX_REASON: usize = 256;

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
    /// The chain id (8 bytes, big-endian), a tag byte, then the RLP body: a message
    /// names the chain it belongs to, so chains of one process never mix.
    pub fn encode(&self, chain_id: u64) -> Vec<u8> {
        let (tag, body) = match self {
            Wire::Consensus(b) => (0u8, alloy_rlp::encode(b)),
            Wire::Tx(b) => (1, alloy_rlp::encode(b)),
            Wire::SyncRequest(r) => (2, alloy_rlp::encode(r)),
            Wire::SyncResponse(v) => (3, alloy_rlp::encode(v)),
            Wire::Status(h) => (4, alloy_rlp::encode(h)),
            Wire::Heartbeat(b) => (5, alloy_rlp::encode(b)),
            Wire::Certify(r) => (6, alloy_rlp::encode(r)),
            Wire::Stored(v) => (7, alloy_rlp::encode(v)),
            Wire::StoredRefused(r) => (8, alloy_rlp::encode(r)),
            Wire::Relayed(v) => (9, alloy_rlp::encode(v)),
        };
        let mut out = Vec::with_capacity(body.len() + 9);
        out.extend_from_slice(&chain_id.to_be_bytes());
        out.push(tag);
        out.extend(body);
        out
    }

    /// Whether encoded message `bytes` is one of storage certification (`Certify`,
    /// `Stored`, `StoredRefused`, `Relayed`), by its tag: those are served apart from
    /// consensus, which may be busy with a block.
    pub fn is_certification(bytes: &[u8]) -> bool {
        matches!(bytes.get(8), Some(6..=9))
    }

    /// Decodes a message of chain `chain_id`; `None` for anything malformed or of
    /// another chain (the sender gets nothing back).
    pub fn decode(bytes: &[u8], chain_id: u64) -> Option<Self> {
        let (chain, rest) = bytes.split_first_chunk::<8>()?;
        if u64::from_be_bytes(*chain) != chain_id {
            return None;
        }
        let (tag, body) = rest.split_first()?;
        Some(match tag {
            0 => Wire::Consensus(decode_exact(body).ok()?),
            1 => Wire::Tx(decode_exact(body).ok()?),
            2 => Wire::SyncRequest(decode_exact(body).ok()?),
            3 => Wire::SyncResponse(decode_exact(body).ok()?),
            4 => Wire::Status(decode_exact(body).ok()?),
            5 => Wire::Heartbeat(decode_exact(body).ok()?),
            6 => Wire::Certify(decode_exact(body).ok()?),
            7 => Wire::Stored(decode_exact(body).ok()?),
            8 => Wire::StoredRefused(decode_exact(body).ok()?),
            9 => Wire::Relayed(decode_exact(body).ok()?),
            _ => return None,
        })
    }
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
            Wire::Heartbeat(Heartbeat {
                slot: 1,
                key: Default::default(),
                height: 9,
                block_hash: B256::repeat_byte(3),
                signature: [7; 65],
            }),
            Wire::Certify(CertifyBatch {
                height: 3,
                items: vec![CertifyRequest {
                    raw: Bytes::from_static(b"tx"),
                    claim: StoredClaim {
                        chain_id: 7,
                        tx_hash: B256::repeat_byte(1),
                        sender: Default::default(),
                        nonce: 2,
                        height: 3,
                        expiry: 11,
                    },
                }],
            }),
            Wire::Stored(StoredVote {
                height: 3,
                validator: 2,
                leaves: vec![B256::repeat_byte(4), B256::repeat_byte(5)],
                signature: [5; 65],
            }),
            Wire::StoredRefused(StoredRefusal { tx_hash: B256::repeat_byte(1), validator: 1, reason: "nonce too low".into() }),
            Wire::Relayed(StoredVote { height: 4, validator: 3, leaves: vec![B256::repeat_byte(6)], signature: [6; 65] }),
        ];
        for m in msgs {
            assert_eq!(Wire::decode(&m.encode(7), 7), Some(m.clone()));
            assert_eq!(Wire::decode(&m.encode(8), 7), None, "another chain's message");
            let certification = matches!(m, Wire::Certify(_) | Wire::Stored(_) | Wire::StoredRefused(_) | Wire::Relayed(_));
            assert_eq!(Wire::is_certification(&m.encode(7)), certification, "{m:?}");
        }
        for garbage in [&[][..], &[9, 1, 2], &[0], &[4, 0xff, 0xff]] {
            assert_eq!(Wire::decode(garbage, 7), None);
            let mut framed = 7u64.to_be_bytes().to_vec();
            framed.extend_from_slice(garbage);
            assert_eq!(Wire::decode(&framed, 7), None);
        }
    }
}
