//! Receipts (`strata_getReceiptProof`) and storage certificates
//! (`strata_sendRawTransactionCertified`), checked against the pinned genesis.

use alloy_primitives::{B256, Log, keccak256};
use serde_json::{Value, json};
use strata_protocol::{
    audit::{ReceiptBundle, verify_receipt_with},
    consensus::K256,
    relay::receipt_logs,
    rlp_item::decode_exact,
    storage_cert::StorageCertificate,
};

use crate::{Error, Result, TrustRoot, json as j};

/// The answer's `validatorSetProof` (none: empty, the genesis set).
fn set_proof_of(answer: &Value) -> Result<Vec<u8>> {
    match answer.get("validatorSetProof").and_then(Value::as_str) {
        Some(s) => j::hex_bytes(s),
        None => Ok(Vec::new()),
    }
}

/// Verifies a `strata_getReceiptProof` answer: the validator set of its block from the
/// pinned genesis (across the answer's `validatorSetProof`), then the receipt and the
/// transaction proofs against the header and the header against the commit certificate.
/// With `transaction`, the receipt must be that transaction's. Only the RLP `bundle` and
/// the set proof are read: the answer's other fields are conveniences and are not trusted.
/// With `shown` (the node's `eth_getTransactionReceipt` answer, as a page displays it),
/// its status, block, index, cumulative gas and logs must be the proven receipt's. The verdict carries
/// the proven status and logs.
pub fn verify_receipt(answer: &Value, trust: &TrustRoot, transaction: Option<B256>, shown: Option<&Value>) -> Result<Value> {
    let bundle = decode_exact::<ReceiptBundle>(&j::bytes_field(answer, "bundle")?).map_err(|e| Error::Malformed(format!("bundle: {e}")))?;
    let set = trust.set_at(bundle.header.number, &set_proof_of(answer)?)?;
    let v = verify_receipt_with(&bundle, &set, trust.chain_id, transaction, &K256).map_err(|e| Error::NotProven(e.to_string()))?;
    let logs = receipt_logs(&bundle.receipt).map_err(|e| Error::NotProven(format!("the proven receipt's logs do not decode: {e}")))?;
    if let Some(shown) = shown {
        check_shown(shown, &v, &logs)?;
    }
    Ok(json!({
        "kind": "receipt",
        "chainId": trust.chain_id,
        "blockNumber": v.block_number,
        "blockHash": v.block_hash,
        "timestamp": bundle.header.timestamp,
        "transactionIndex": v.index,
        "transactionHash": v.transaction_hash,
        "success": v.success,
        "cumulativeGasUsed": v.cumulative_gas_used,
        "logs": logs.iter().map(|l| json!({"address": l.address, "topics": l.data.topics(), "data": l.data.data})).collect::<Vec<_>>(),
        "signers": v.signers,
        "validators": set.len(),
        "quorum": set.quorum(),
        "receiptsRoot": bundle.header.receipts_root,
        "transactionsRoot": bundle.header.transactions_root,
        "receiptProofNodes": bundle.proof.len(),
        "transactionProofNodes": bundle.transaction_proof.len(),
        "shownChecked": shown.is_some(),
    }))
}

/// A node's JSON receipt against the proven one: what a page shows must be what is proven.
fn check_shown(shown: &Value, v: &strata_protocol::audit::Verdict, logs: &[Log]) -> Result<()> {
    let differs = |what: &str| Error::NotProven(format!("the receipt the node shows differs from the proven one: {what}"));
    if j::b256(j::str_field(shown, "transactionHash")?)? != v.transaction_hash {
        return Err(differs("transaction hash"));
    }
    if j::b256(j::str_field(shown, "blockHash")?)? != v.block_hash || j::u64_of(j::field(shown, "blockNumber")?)? != v.block_number {
        return Err(differs("block"));
    }
    if j::u64_of(j::field(shown, "transactionIndex")?)? != v.index {
        return Err(differs("index in the block"));
    }
    if (j::u64_of(j::field(shown, "status")?)? == 1) != v.success {
        return Err(differs("status"));
    }
    if j::u64_of(j::field(shown, "cumulativeGasUsed")?)? != v.cumulative_gas_used {
        return Err(differs("cumulative gas used"));
    }
    let list = j::field(shown, "logs")?.as_array().ok_or_else(|| Error::Malformed("`logs` is not a list".into()))?;
    if list.len() != logs.len() {
        return Err(differs(&format!("{} logs shown, {} proven", list.len(), logs.len())));
    }
    for (i, (said, log)) in list.iter().zip(logs).enumerate() {
        let topics = j::field(said, "topics")?.as_array().ok_or_else(|| Error::Malformed("`topics` is not a list".into()))?;
        let same = j::address(j::str_field(said, "address")?)? == log.address
            && topics.len() == log.data.topics().len()
            && topics.iter().zip(log.data.topics()).all(|(t, p)| t.as_str().and_then(|t| j::b256(t).ok()) == Some(*p))
            && j::bytes_field(said, "data")? == log.data.data.as_ref();
        if !same {
            return Err(differs(&format!("log {i}")));
        }
    }
    Ok(())
}

/// Verifies a storage certificate — a `strata_sendRawTransactionCertified` answer (its
/// RLP `certificate`, `validatorSetProof` and, if present, `transaction`), or the RLP
/// certificate alone as a hex string — against the validators of its height.
pub fn verify_storage_certificate(answer: &Value, trust: &TrustRoot) -> Result<Value> {
    let (raw, set_proof, transaction) = match answer {
        Value::String(s) => (j::hex_bytes(s)?, Vec::new(), None),
        _ => (
            j::bytes_field(answer, "certificate")?,
            set_proof_of(answer)?,
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
