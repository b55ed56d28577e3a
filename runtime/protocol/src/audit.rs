//! Receipt audits: prove, offline, that a receipt is part of a finalized block.
//!
//! A [`ReceiptBundle`] carries a receipt as committed (its EIP-2718 encoding), its
//! Merkle proof against the block's `receiptsRoot`, the transaction at the same index
//! with its proof against `transactionsRoot` (so the receipt is bound to *that*
//! transaction), the block header and the block's commit certificate.
//! [`verify_receipt`] checks all of it with nothing but the validator set and the chain
//! id the auditor trusts: both proofs against the header, the certificate against the
//! header's hash and the set. No node needs to be trusted — or even reachable.

use alloc::{string::String, vec::Vec};

use alloy_primitives::{B256, Bytes};
use alloy_rlp::{Decodable, RlpDecodable, RlpEncodable};

use crate::{CommitCertificate, Header, ValidatorSet, consensus::Recover, proof, rlp_item::decode_exact};

/// Everything needed to check one receipt offline.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct ReceiptBundle {
    /// Position of the transaction in its block.
    pub index: u64,
    /// The receipt exactly as committed in `receiptsRoot` (EIP-2718 encoding).
    pub receipt: Bytes,
    /// Trie nodes from `receiptsRoot` to the receipt's leaf (key `rlp(index)`).
    pub proof: Vec<Bytes>,
    /// The transaction at `index`, exactly as committed in `transactionsRoot` (EIP-2718).
    pub transaction: Bytes,
    /// Trie nodes from `transactionsRoot` to the transaction's leaf (key `rlp(index)`).
    pub transaction_proof: Vec<Bytes>,
    /// The block header.
    pub header: Header,
    /// The block's commit certificate (RLP).
    pub certificate: Bytes,
}

/// What a verified bundle establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The block's hash (of the verified header).
    pub block_hash: B256,
    /// Its height.
    pub block_number: u64,
    /// The transaction's index in it.
    pub index: u64,
    /// The hash of the transaction the receipt belongs to (proven).
    pub transaction_hash: B256,
    /// The receipt's status (true: success).
    pub success: bool,
    /// Gas used by the block up to and including this transaction.
    pub cumulative_gas_used: u64,
    /// Logs in the receipt.
    pub logs: usize,
    /// Validators whose signatures finalized the block.
    pub signers: Vec<u32>,
}

/// Why a bundle does not prove its receipt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// The Merkle proof does not lead from `receiptsRoot` to this receipt.
    #[error("the receipt is not proven against the header's receiptsRoot: {0}")]
    Proof(String),
    /// The receipt bytes are not a receipt.
    #[error("the receipt does not decode: {0}")]
    Receipt(String),
    /// The transaction is not proven at the receipt's index, or is not the one asked about.
    #[error("the receipt is not bound to the transaction: {0}")]
    Transaction(String),
    /// The certificate is missing, malformed, for another block, or not a quorum.
    #[error("the block is not finalized by the validator set: {0}")]
    Certificate(String),
}

/// The trie key of receipt `index` in `receiptsRoot`: `rlp(index)`.
pub fn receipt_key(index: u64) -> Vec<u8> {
    alloy_rlp::encode(index)
}

/// What an EIP-2718 receipt says that a verdict reports.
struct ReceiptSummary {
    success: bool,
    cumulative_gas_used: u64,
    logs: usize,
}

/// Splits an EIP-2718 receipt (`type ‖ rlp([status, cumulativeGasUsed, bloom, logs])`,
/// or the bare list for a legacy one) into its status, its cumulative gas and the bytes
/// of its logs list (the last field: the whole input must be that one receipt).
pub(crate) fn receipt_fields(bytes: &[u8]) -> Result<(bool, u64, &[u8]), alloy_rlp::Error> {
    let mut buf = match bytes.first() {
        Some(&t) if t < 0x7f => &bytes[1..],
        _ => bytes,
    };
    let header = alloy_rlp::Header::decode(&mut buf)?;
    if !header.list || header.payload_length != buf.len() {
        return Err(alloy_rlp::Error::UnexpectedLength);
    }
    let success = bool::decode(&mut buf)?;
    let cumulative_gas_used = u64::decode(&mut buf)?;
    let _bloom = <[u8; 256]>::decode(&mut buf)?;
    Ok((success, cumulative_gas_used, buf))
}

/// Decodes an EIP-2718 receipt far enough for a verdict.
fn summarise_receipt(bytes: &[u8]) -> Result<ReceiptSummary, alloy_rlp::Error> {
    let (success, cumulative_gas_used, mut buf) = receipt_fields(bytes)?;
    let logs = alloy_rlp::Header::decode(&mut buf)?;
    if !logs.list || logs.payload_length != buf.len() {
        return Err(alloy_rlp::Error::UnexpectedLength);
    }
    let mut count = 0usize;
    while !buf.is_empty() {
        let log = alloy_rlp::Header::decode(&mut buf)?;
        buf = buf.get(log.payload_length..).ok_or(alloy_rlp::Error::InputTooShort)?;
        count = count.saturating_add(1);
    }
    Ok(ReceiptSummary { success, cumulative_gas_used, logs: count })
}

/// [`verify_receipt_with`] k256 recovery.
#[cfg(feature = "k256")]
pub fn verify_receipt(
    bundle: &ReceiptBundle,
    validators: &ValidatorSet,
    chain_id: u64,
    transaction: Option<B256>,
) -> Result<Verdict, AuditError> {
    verify_receipt_with(bundle, validators, chain_id, transaction, &crate::consensus::K256)
}

/// Verifies a bundle against the validator set of chain `chain_id` — both from the
/// auditor's trust root, never from the bundle — recovering signatures with `recover`.
/// With `transaction`, the receipt must belong to that transaction hash.
pub fn verify_receipt_with(
    bundle: &ReceiptBundle,
    validators: &ValidatorSet,
    chain_id: u64,
    transaction: Option<B256>,
    recover: &impl Recover,
) -> Result<Verdict, AuditError> {
    let leaf = proof::verify(bundle.header.receipts_root, &receipt_key(bundle.index), &bundle.proof)
        .map_err(|e| AuditError::Proof(alloc::format!("{e:?}")))?
        .ok_or_else(|| AuditError::Proof("the proof shows no receipt at this index".into()))?;
    if leaf != bundle.receipt.as_ref() {
        return Err(AuditError::Proof("the proven leaf is a different receipt".into()));
    }
    let tx_leaf = proof::verify(bundle.header.transactions_root, &receipt_key(bundle.index), &bundle.transaction_proof)
        .map_err(|e| AuditError::Transaction(alloc::format!("{e:?}")))?
        .ok_or_else(|| AuditError::Transaction("the proof shows no transaction at this index".into()))?;
    if tx_leaf != bundle.transaction.as_ref() {
        return Err(AuditError::Transaction("the proven leaf is a different transaction".into()));
    }
    let transaction_hash = alloy_primitives::keccak256(&bundle.transaction);
    if let Some(expected) = transaction
        && expected != transaction_hash
    {
        return Err(AuditError::Transaction(alloc::format!(
            "the transaction at index {} is {transaction_hash}, not {expected}",
            bundle.index
        )));
    }
    let receipt = summarise_receipt(&bundle.receipt).map_err(|e| AuditError::Receipt(alloc::format!("{e}")))?;
    if bundle.certificate.is_empty() {
        return Err(AuditError::Certificate("no certificate".into()));
    }
    let cert = decode_exact::<CommitCertificate>(&bundle.certificate).map_err(|e| AuditError::Certificate(alloc::format!("{e}")))?;
    let block_hash = bundle.header.hash_slow();
    if cert.block_hash != block_hash || cert.height != bundle.header.number {
        return Err(AuditError::Certificate(alloc::format!(
            "it certifies block {} {}, the header is block {} {block_hash}",
            cert.height,
            cert.block_hash,
            bundle.header.number
        )));
    }
    if bundle.header.chain_id != chain_id {
        return Err(AuditError::Certificate(alloc::format!("the header is of chain {}, not {chain_id}", bundle.header.chain_id)));
    }
    cert.verify_with(validators, chain_id, recover).map_err(|e| AuditError::Certificate(alloc::format!("{e}")))?;
    Ok(Verdict {
        block_hash,
        block_number: bundle.header.number,
        index: bundle.index,
        transaction_hash,
        success: receipt.success,
        cumulative_gas_used: receipt.cumulative_gas_used,
        logs: receipt.logs,
        signers: cert.signatures.iter().map(|s| s.validator).collect(),
    })
}
