//! Receipts (`strata_getReceiptProof`) and storage certificates
//! (`strata_sendRawTransactionCertified`), checked against the pinned genesis.

use alloy_primitives::{B256, keccak256};
use serde_json::{Value, json};
use strata_protocol::{
    audit::{ReceiptBundle, verify_receipt_with},
    consensus::K256,
    rlp_item::decode_exact,
    storage_cert::StorageCertificate,
};

use crate::{Error, Result, TrustRoot, json as j};

/// Verifies a `strata_getReceiptProof` answer: the validator set of its block from the
/// pinned genesis (across the answer's `validatorSetProof`), then the receipt and the
/// transaction proofs against the header and the header against the commit certificate.
/// With `transaction`, the receipt must be that transaction's. Only the RLP `bundle` and
/// the set proof are read: the answer's other fields are conveniences and are not trusted.
pub fn verify_receipt(answer: &Value, trust: &TrustRoot, transaction: Option<B256>) -> Result<Value> {
    let bundle = decode_exact::<ReceiptBundle>(&j::bytes_field(answer, "bundle")?).map_err(|e| Error::Malformed(format!("bundle: {e}")))?;
    let set_proof = match answer.get("validatorSetProof").and_then(Value::as_str) {
        Some(s) => j::hex_bytes(s)?,
        None => Vec::new(),
    };
    let number = bundle.header.number;
    let set = trust.set_at(number, &set_proof)?;
    let v = verify_receipt_with(&bundle, &set, trust.chain_id, transaction, &K256).map_err(|e| Error::NotProven(e.to_string()))?;
    Ok(json!({
        "kind": "receipt",
        "chainId": trust.chain_id,
        "blockNumber": v.block_number,
        "blockHash": v.block_hash,
        "transactionIndex": v.index,
        "transactionHash": v.transaction_hash,
        "success": v.success,
        "cumulativeGasUsed": v.cumulative_gas_used,
        "logs": v.logs,
        "signers": v.signers,
        "validators": set.len(),
        "quorum": set.quorum(),
        "receiptsRoot": bundle.header.receipts_root,
        "transactionsRoot": bundle.header.transactions_root,
        "receiptProofNodes": bundle.proof.len(),
        "transactionProofNodes": bundle.transaction_proof.len(),
    }))
}

/// Verifies a storage certificate — a `strata_sendRawTransactionCertified` answer (its
/// RLP `certificate`, `validatorSetProof` and, if present, `transaction`), or the RLP
/// certificate alone as a hex string — against the validators of its height.
pub fn verify_storage_certificate(answer: &Value, trust: &TrustRoot) -> Result<Value> {
    let (raw, set_proof, transaction) = match answer {
        Value::String(s) => (j::hex_bytes(s)?, Vec::new(), None),
        _ => (
            j::bytes_field(answer, "certificate")?,
            match answer.get("validatorSetProof").and_then(Value::as_str) {
                Some(s) => j::hex_bytes(s)?,
                None => Vec::new(),
            },
            answer.get("transaction").and_then(Value::as_str).map(j::hex_bytes).transpose()?,
        ),
    };
    let cert = decode_exact::<StorageCertificate>(&raw).map_err(|e| Error::Malformed(format!("certificate: {e}")))?;
    let claim = cert.claim;
    if let Some(tx) = &transaction
        && keccak256(tx) != claim.tx_hash
    {
        return Err(Error::NotProven(format!(
            "the transaction given hashes to {}, the certificate is for {}",
            keccak256(tx),
            claim.tx_hash
        )));
    }
    let set = trust.set_at(claim.height, &set_proof)?;
    cert.verify_with(&set, trust.chain_id, &K256).map_err(|e| Error::NotProven(e.to_string()))?;
    Ok(json!({
        "kind": "storageCertificate",
        "chainId": claim.chain_id,
        "transactionHash": claim.tx_hash,
        "sender": claim.sender,
        "nonce": claim.nonce,
        "height": claim.height,
        "expiry": claim.expiry,
        "signers": cert.signatures.iter().map(|s| s.validator).collect::<Vec<_>>(),
        "validators": set.len(),
        "quorum": set.quorum(),
        "batched": !cert.paths.is_empty(),
    }))
}
