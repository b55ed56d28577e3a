//! Relayed events: a log emitted on one chain, proven to another.
//!
//! Why here: in a hierarchy of chains (main → contract chain → proof chain), a chain
//! acts on what happened on another — a storage deal settles on a `StorageProved` event
//! of a proof chain — without trusting whoever carries the news. The carrier (a
//! relayer; anyone may relay) brings a [`RelayedLog`]: the receipt audit bundle of the
//! transaction that emitted the log ([`ReceiptBundle`]: receipt and transaction with
//! their proofs, the block header, its commit certificate) and the log's index. The
//! receiving side checks it with [`verify_relayed_log_with`] against the validator set
//! **it** registered for the source chain — never one the relayer brings — recovering
//! signatures its own way ([`Recover`]: the `ecrecover` host function inside a Wasm
//! contract, k256 in the node, the browser's own). The IBC light-client idea, with
//! Strata's PBFT commit certificates and Ethereum receipt proofs.
//!
//! Each event has one [`EventKey`] — source chain, block, transaction index, log index —
//! whose [`EventKey::hash`] the receiving side records to act on each event exactly once
//! (IBC's packet receipts): a replayed event is the same key.

use alloc::{format, string::String, vec::Vec};

use alloy_primitives::{B256, Log, keccak256};
use alloy_rlp::{Decodable, RlpDecodable, RlpEncodable};

use crate::{
    CommitCertificate, Header, ValidatorSet,
    audit::{AuditError, ReceiptBundle, verify_receipt_with},
    consensus::Recover,
    rlp_item::decode_exact,
};

/// Domain tag of [`EventKey::hash`].
pub const EVENT_KEY_DOMAIN: &str = "strata/relay/event/v1";

/// A log of a source chain as a relayer carries it.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct RelayedLog {
    /// The receipt of the transaction that emitted the log, proven to a certified block.
    pub bundle: ReceiptBundle,
    /// The log's position among the receipt's logs.
    pub log_index: u64,
}

/// Names one event of one chain: what is settled at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, RlpEncodable, RlpDecodable)]
pub struct EventKey {
    /// The chain the event happened on.
    pub source_chain: u64,
    /// Its block.
    pub block_number: u64,
    /// The transaction's index in the block.
    pub tx_index: u64,
    /// The log's index in the transaction's receipt.
    pub log_index: u64,
}

impl EventKey {
    /// `keccak256(domain ‖ rlp(key))`: one word to record an event as settled.
    pub fn hash(&self) -> B256 {
        let mut buf = Vec::from(EVENT_KEY_DOMAIN.as_bytes());
        alloy_rlp::Encodable::encode(self, &mut buf);
        keccak256(buf)
    }
}

/// What a verified [`RelayedLog`] establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenLog {
    /// Which event it is.
    pub key: EventKey,
    /// The hash of the certified block that holds it.
    pub block_hash: B256,
    /// The hash of the transaction that emitted it.
    pub transaction_hash: B256,
    /// The log: emitting contract, topics, data.
    pub log: Log,
}

/// Why a relayed log is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// The receipt is not proven to a block certified by the registered set.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The receipt does not decode into logs.
    #[error("the receipt's logs do not decode: {0}")]
    Receipt(String),
    /// The receipt has no log at the index named.
    #[error("the receipt has {logs} logs, none at index {index}")]
    NoSuchLog {
        /// The index asked for.
        index: u64,
        /// How many logs the receipt has.
        logs: usize,
    },
}

/// Verifies `relayed` as a log of chain `source_chain`, whose validators at the block's
/// height are `validators` (the receiving side's record, never the relayer's word),
/// recovering signatures with `recover`.
pub fn verify_relayed_log_with(
    relayed: &RelayedLog,
    validators: &ValidatorSet,
    source_chain: u64,
    recover: &impl Recover,
) -> Result<ProvenLog, RelayError> {
    let verdict = verify_receipt_with(&relayed.bundle, validators, source_chain, None, recover)?;
    let mut logs = receipt_logs(&relayed.bundle.receipt).map_err(|e| RelayError::Receipt(format!("{e}")))?;
    let count = logs.len();
    let index = usize::try_from(relayed.log_index)
        .ok()
        .filter(|i| *i < count)
        .ok_or(RelayError::NoSuchLog { index: relayed.log_index, logs: count })?;
    Ok(ProvenLog {
        key: EventKey { source_chain, block_number: verdict.block_number, tx_index: verdict.index, log_index: relayed.log_index },
        block_hash: verdict.block_hash,
        transaction_hash: verdict.transaction_hash,
        log: logs.swap_remove(index),
    })
}

/// [`verify_relayed_log_with`] with k256 recovery.
#[cfg(feature = "k256")]
pub fn verify_relayed_log(relayed: &RelayedLog, validators: &ValidatorSet, source_chain: u64) -> Result<ProvenLog, RelayError> {
    verify_relayed_log_with(relayed, validators, source_chain, &crate::consensus::K256)
}

/// The logs of an EIP-2718 receipt (`type ‖ rlp([status, cumulativeGasUsed, bloom,
/// logs])`, or the bare list for a legacy one); the whole input must be that receipt.
pub fn receipt_logs(bytes: &[u8]) -> Result<Vec<Log>, alloy_rlp::Error> {
    let (_, _, mut buf) = crate::audit::receipt_fields(bytes)?;
    let logs = Vec::<Log>::decode(&mut buf)?;
    if !buf.is_empty() {
        return Err(alloy_rlp::Error::UnexpectedLength);
    }
    Ok(logs)
}

/// A certified point of a child chain its parent records: later proofs and set changes
/// are checked against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Checkpoint {
    /// The block's height.
    pub height: u64,
    /// Its hash.
    pub block_hash: B256,
    /// The state root after it (account and storage proofs of the child check against it).
    pub state_root: B256,
    /// Its receipts root.
    pub receipts_root: B256,
}

/// The checkpoint of `header` once `certificate` (RLP [`CommitCertificate`]) proves it
/// final on chain `chain_id` run by `validators`.
pub fn verify_checkpoint_with(
    header: &Header,
    certificate: &[u8],
    validators: &ValidatorSet,
    chain_id: u64,
    recover: &impl Recover,
) -> Result<Checkpoint, AuditError> {
    let cert = decode_exact::<CommitCertificate>(certificate).map_err(|e| AuditError::Certificate(format!("{e}")))?;
    let block_hash = header.hash_slow();
    if cert.block_hash != block_hash || cert.height != header.number {
        return Err(AuditError::Certificate(format!(
            "it certifies block {} {}, the header is block {} {block_hash}",
            cert.height, cert.block_hash, header.number
        )));
    }
    if header.chain_id != chain_id {
        return Err(AuditError::Certificate(format!("the header is of chain {}, not {chain_id}", header.chain_id)));
    }
    cert.verify_with(validators, chain_id, recover).map_err(|e| AuditError::Certificate(format!("{e}")))?;
    Ok(Checkpoint { height: header.number, block_hash, state_root: header.state_root, receipts_root: header.receipts_root })
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use alloy_primitives::{Address, Bytes};
    use alloy_rlp::RlpEncodable;

    use super::*;
    use crate::{
        CertSignature, commit_digest,
        test_recover::{Fake, sign},
    };

    const CHAIN: u64 = 77;

    #[derive(RlpEncodable)]
    struct ReceiptBody {
        status: bool,
        cumulative_gas_used: u64,
        bloom: [u8; 256],
        logs: Vec<Log>,
    }

    /// A receipt whose "logs" are byte strings.
    #[derive(RlpEncodable)]
    struct RawReceiptBody {
        status: bool,
        cumulative_gas_used: u64,
        bloom: [u8; 256],
        logs: Vec<Bytes>,
    }

    fn receipt(logs: Vec<Log>) -> Bytes {
        let mut out = vec![2u8];
        alloy_rlp::Encodable::encode(&ReceiptBody { status: true, cumulative_gas_used: 21_000, bloom: [0; 256], logs }, &mut out);
        out.into()
    }

    /// A one-entry ordered trie (key `rlp(0)`): its root and the proof of the entry.
    fn single_leaf(value: &[u8]) -> (B256, Vec<Bytes>) {
        // Path nibbles 8, 0 (key 0x80), even length, leaf: hex prefix 0x20.
        let mut node = Vec::new();
        let payload = alloy_rlp::Encodable::length(&[0x20u8, 0x80][..]) + alloy_rlp::Encodable::length(value);
        alloy_rlp::Header { list: true, payload_length: payload }.encode(&mut node);
        alloy_rlp::Encodable::encode(&[0x20u8, 0x80][..], &mut node);
        alloy_rlp::Encodable::encode(value, &mut node);
        (keccak256(&node), vec![node.into()])
    }

    fn members() -> Vec<Address> {
        (1..=4u8).map(Address::repeat_byte).collect()
    }

    fn relayed(logs: Vec<Log>, log_index: u64, signers: &[usize], chain: u64) -> RelayedLog {
        let receipt = receipt(logs);
        let transaction = Bytes::from_static(&[
            2, 0xc0, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ]);
        let (receipts_root, proof) = single_leaf(&receipt);
        let (transactions_root, transaction_proof) = single_leaf(&transaction);
        let header = Header {
            chain_id: chain,
            number: 12,
            receipts_root,
            transactions_root,
            state_root: B256::repeat_byte(5),
            ..Default::default()
        };
        let certificate = certificate(&header, signers);
        RelayedLog { bundle: ReceiptBundle { index: 0, receipt, proof, transaction, transaction_proof, header, certificate }, log_index }
    }

    fn certificate(header: &Header, signers: &[usize]) -> Bytes {
        let digest = commit_digest(header.chain_id, header.number, 0, header.hash_slow());
        let signatures = signers.iter().map(|&i| CertSignature { validator: i as u32, signature: sign(members()[i], &digest) }).collect();
        alloy_rlp::encode(CommitCertificate { height: header.number, view: 0, block_hash: header.hash_slow(), signatures }).into()
    }

    fn log(n: u8) -> Log {
        Log::new_unchecked(Address::repeat_byte(0xee), vec![B256::repeat_byte(n)], Bytes::from(vec![n; 3]))
    }

    #[test]
    fn a_certified_receipts_log_is_proven_with_its_key() {
        let set = ValidatorSet::new(members());
        let r = relayed(vec![log(1), log(2)], 1, &[0, 1, 2], CHAIN);
        let proven = verify_relayed_log_with(&r, &set, CHAIN, &Fake).unwrap();
        assert_eq!(proven.log, log(2));
        assert_eq!(proven.key, EventKey { source_chain: CHAIN, block_number: 12, tx_index: 0, log_index: 1 });
        assert_eq!(proven.block_hash, r.bundle.header.hash_slow());
        assert_eq!(proven.transaction_hash, keccak256(&r.bundle.transaction));
        // Round trip of what a relayer sends.
        assert_eq!(decode_exact::<RelayedLog>(&alloy_rlp::encode(&r)).unwrap(), r);
    }

    #[test]
    fn every_forgery_is_refused_with_its_reason() {
        let set = ValidatorSet::new(members());
        let good = relayed(vec![log(1)], 0, &[0, 1, 2], CHAIN);
        // No log at that index.
        let r = RelayedLog { log_index: 1, ..good.clone() };
        assert_eq!(verify_relayed_log_with(&r, &set, CHAIN, &Fake), Err(RelayError::NoSuchLog { index: 1, logs: 1 }));
        // Too few signers.
        let r = relayed(vec![log(1)], 0, &[0, 1], CHAIN);
        assert!(matches!(verify_relayed_log_with(&r, &set, CHAIN, &Fake), Err(RelayError::Audit(AuditError::Certificate(_)))));
        // Signed by non-members (another set).
        let strangers = ValidatorSet::new((5..=8u8).map(Address::repeat_byte).collect());
        assert!(matches!(verify_relayed_log_with(&good, &strangers, CHAIN, &Fake), Err(RelayError::Audit(AuditError::Certificate(_)))));
        // Another chain's block.
        let r = relayed(vec![log(1)], 0, &[0, 1, 2], CHAIN + 1);
        assert!(matches!(verify_relayed_log_with(&r, &set, CHAIN, &Fake), Err(RelayError::Audit(AuditError::Certificate(_)))));
        // A receipt swapped for another (its proof no longer leads to it).
        let mut r = good.clone();
        r.bundle.receipt = receipt(vec![log(9)]);
        assert!(matches!(verify_relayed_log_with(&r, &set, CHAIN, &Fake), Err(RelayError::Audit(AuditError::Proof(_)))));
        // A header changed under its certificate.
        let mut r = good.clone();
        r.bundle.header.state_root = B256::repeat_byte(6);
        assert!(verify_relayed_log_with(&r, &set, CHAIN, &Fake).is_err());
        // Logs that are not logs, though proven: refused, not a panic.
        let mut bad = vec![2u8];
        let body = RawReceiptBody { status: true, cumulative_gas_used: 1, bloom: [0; 256], logs: vec![Bytes::from_static(b"xyz")] };
        alloy_rlp::Encodable::encode(&body, &mut bad);
        let bad = Bytes::from(bad);
        let (receipts_root, proof) = single_leaf(&bad);
        let mut r = good.clone();
        r.bundle.header.receipts_root = receipts_root;
        r.bundle.receipt = bad;
        r.bundle.proof = proof;
        r.bundle.certificate = certificate(&r.bundle.header, &[0, 1, 2]);
        assert!(matches!(verify_relayed_log_with(&r, &set, CHAIN, &Fake), Err(RelayError::Receipt(_))));
    }

    #[test]
    fn event_keys_differ_in_every_field_and_checkpoints_need_the_certificate() {
        let k = EventKey { source_chain: 1, block_number: 2, tx_index: 3, log_index: 4 };
        let others = [
            EventKey { source_chain: 9, ..k },
            EventKey { block_number: 9, ..k },
            EventKey { tx_index: 9, ..k },
            EventKey { log_index: 9, ..k },
        ];
        for o in others {
            assert_ne!(o.hash(), k.hash());
        }
        let set = ValidatorSet::new(members());
        let r = relayed(vec![log(1)], 0, &[1, 2, 3], CHAIN);
        let h = &r.bundle.header;
        let c = verify_checkpoint_with(h, &r.bundle.certificate, &set, CHAIN, &Fake).unwrap();
        assert_eq!(c, Checkpoint { height: 12, block_hash: h.hash_slow(), state_root: h.state_root, receipts_root: h.receipts_root });
        assert!(verify_checkpoint_with(h, &r.bundle.certificate, &set, CHAIN + 1, &Fake).is_err());
        let other = Header { number: 13, ..h.clone() };
        assert!(verify_checkpoint_with(&other, &r.bundle.certificate, &set, CHAIN, &Fake).is_err());
    }
}
