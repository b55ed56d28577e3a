//! The JavaScript face (wasm-bindgen): JSON text in, JSON text out, so the typed wrapper
//! in `sdk/js` stays thin and nothing here depends on how the page holds its data. A
//! verification answers `{"verified": true, …what is proven}` or
//! `{"verified": false, "reason": "…"}`; it never throws.

use serde_json::{Value, json};
use wasm_bindgen::prelude::wasm_bindgen;

use crate::{Error, Result, TrustRoot, abi, json as j};

fn verdict(result: Result<Value>) -> String {
    match result {
        Ok(mut v) => {
            v["verified"] = Value::Bool(true);
            v.to_string()
        }
        Err(e) => json!({"verified": false, "reason": e.to_string()}).to_string(),
    }
}

/// Verifies a `strata_getReceiptProof` answer (JSON) against the pinned genesis (JSON);
/// with `transaction_hash`, the receipt must be that transaction's; with `shown` (the
/// node's `eth_getTransactionReceipt` JSON), what it says must be the proven receipt.
#[wasm_bindgen(js_name = verifyReceipt)]
pub fn verify_receipt(answer: &str, genesis: &str, transaction_hash: Option<String>, shown: Option<String>) -> String {
    verdict((|| {
        let trust = TrustRoot::from_json(genesis)?;
        let tx = transaction_hash.as_deref().map(j::b256).transpose()?;
        let shown = shown.as_deref().map(j::parse).transpose()?;
        crate::verify_receipt(&j::parse(answer)?, &trust, tx, shown.as_ref())
    })())
}

/// Verifies a storage certificate: a `strata_sendRawTransactionCertified` answer (JSON),
/// or its RLP certificate as a JSON string of hex.
#[wasm_bindgen(js_name = verifyStorageCertificate)]
pub fn verify_storage_certificate(answer: &str, genesis: &str) -> String {
    verdict((|| {
        let trust = TrustRoot::from_json(genesis)?;
        let parsed = j::parse(answer).or_else(|_| Ok::<_, Error>(Value::String(answer.trim().to_string())))?;
        crate::verify_storage_certificate(&parsed, &trust)
    })())
}

/// Verifies a `strata_getProof` answer (JSON) to `query` (JSON: `{address, keys?, block?,
/// code?}`, what was asked) at a block, given that block's RLP header
/// (`debug_getRawHeader`), commit certificate (`strata_getCommitCertificate`'s `raw`) and
/// validator-set proof (`strata_getValidatorSetProof`'s `proof`), hex.
#[wasm_bindgen(js_name = verifyState)]
pub fn verify_state(answer: &str, query: &str, header: &str, certificate: &str, set_proof: &str, genesis: &str) -> String {
    verdict((|| {
        let trust = TrustRoot::from_json(genesis)?;
        let query = crate::StateQuery::from_json(&j::parse(query)?)?;
        let proven = crate::verify_state(
            &j::parse(answer)?,
            &query,
            &j::hex_bytes(header)?,
            &j::hex_bytes(certificate)?,
            &j::hex_bytes(set_proof)?,
            &trust,
        )?;
        Ok(proven.to_json())
    })())
}

/// The ABI (a JSON array) a module carries; `{"error": …}` if the code is not a module.
#[wasm_bindgen(js_name = moduleAbi)]
pub fn module_abi(code: &str) -> String {
    match j::hex_bytes(code).and_then(|c| if c.is_empty() { Ok(Vec::new()) } else { abi::module_abi(&c) }) {
        Ok(entries) => Value::Array(entries).to_string(),
        Err(e) => json!({"error": e.to_string()}).to_string(),
    }
}

/// Calldata decoded by `abi_json`: `{name, signature, args}`, or `null`.
#[wasm_bindgen(js_name = decodeCall)]
pub fn decode_call(abi_json: &str, input: &str) -> String {
    let decoded = (|| abi::decode_call(&abi::parse_abi(abi_json).ok()?, &j::hex_bytes(input).ok()?))();
    decoded.unwrap_or(Value::Null).to_string()
}

/// A log (topics as a JSON array of hex) decoded by `abi_json`, or `null`.
#[wasm_bindgen(js_name = decodeLog)]
pub fn decode_log(abi_json: &str, topics: &str, data: &str) -> String {
    let decoded = (|| {
        let topics: Vec<String> = serde_json::from_str(topics).ok()?;
        let topics = topics.iter().map(|t| j::b256(t)).collect::<Result<Vec<_>>>().ok()?;
        abi::decode_log(&abi::parse_abi(abi_json).ok()?, &topics, &j::hex_bytes(data).ok()?)
    })();
    decoded.unwrap_or(Value::Null).to_string()
}

/// Revert data as people read it (`Error("…")`, `Panic(…)`, a custom error of `abi_json`).
#[wasm_bindgen(js_name = decodeRevert)]
pub fn decode_revert(abi_json: &str, data: &str) -> String {
    let abi = abi::parse_abi(abi_json).ok();
    match j::hex_bytes(data) {
        Ok(bytes) => abi::format_revert(abi.as_ref(), &bytes),
        Err(e) => e.to_string(),
    }
}

/// This crate's version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
