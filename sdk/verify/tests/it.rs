//! The verifier against real answers of a `strata dev` node (recorded in `tests/data/`)
//! and against storage certificates signed here with real keys: what is true verifies,
//! and every tampering is caught with its reason. Runs on the host (`cargo test`) and
//! in wasm32 (`wasm-bindgen-test-runner`, scripts/test.sh), so the bytes the browser
//! runs are tested, not only their source.

use alloy_primitives::{Address, B256, keccak256};
use k256::ecdsa::SigningKey;
use serde_json::{Value, json};
use strata_protocol::{
    consensus::CertSignature,
    storage_cert::{StorageCertificate, StoredClaim, batch_path, batch_root, stored_digest},
};
use strata_verify::bindings;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const RECEIPT: &str = include_str!("data/dev_receipt.json");
const STATE: &str = include_str!("data/dev_state.json");

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn verdict(s: String) -> Value {
    serde_json::from_str(&s).unwrap()
}

/// Flips one hex digit of `hex` at character `at` (past the `0x`).
fn flip(hex: &str, at: usize) -> String {
    let mut chars: Vec<char> = hex.chars().collect();
    chars[at] = if chars[at] == '0' { '1' } else { '0' };
    chars.into_iter().collect()
}

fn not_verified(v: &Value, reason: &str) {
    assert_eq!(v["verified"], false, "{v}");
    let got = v["reason"].as_str().unwrap();
    assert!(got.contains(reason), "reason {got:?} does not mention {reason:?}");
}

#[test]
fn a_real_receipt_verifies_against_the_pinned_genesis() {
    let f = fixture(RECEIPT);
    let genesis = f["genesis"].to_string();
    let answer = f["answer"].to_string();
    let tx = f["answer"]["transactionHash"].as_str().unwrap().to_string();
    let v = verdict(bindings::verify_receipt(&answer, &genesis, Some(tx.clone()), None));
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["transactionHash"], tx.as_str());
    assert_eq!(json!(format!("{:#x}", v["blockNumber"].as_u64().unwrap())), f["answer"]["blockNumber"]);
    assert_eq!(v["success"], true);
    assert_eq!(v["signers"], json!([0]));
    assert_eq!(v["logs"][0]["topics"].as_array().unwrap().len(), 3, "the token's Transfer, proven");

    // What a page shows (the node's JSON receipt) must be the proven receipt.
    let shown = f["shown"].to_string();
    let v = verdict(bindings::verify_receipt(&answer, &genesis, Some(tx.clone()), Some(shown)));
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["shownChecked"], true);
    let mut lie = f["shown"].clone();
    lie["logs"][0]["data"] = json!(format!("0x{}", "00".repeat(31) + "07"));
    not_verified(&verdict(bindings::verify_receipt(&answer, &genesis, Some(tx.clone()), Some(lie.to_string()))), "log 0");
    let mut lie = f["shown"].clone();
    lie["status"] = json!("0x0");
    not_verified(&verdict(bindings::verify_receipt(&answer, &genesis, Some(tx.clone()), Some(lie.to_string()))), "status");

    let other = format!("0x{}", "ab".repeat(32));
    not_verified(&verdict(bindings::verify_receipt(&answer, &genesis, Some(other), None)), "not 0xabab");
}

#[test]
fn a_tampered_receipt_or_a_foreign_genesis_is_not_verified() {
    let f = fixture(RECEIPT);
    let genesis = f["genesis"].to_string();
    let bundle = f["answer"]["bundle"].as_str().unwrap().to_string();
    // A byte deep in the bundle (the receipt's bloom), then one near its end (the
    // certificate's signature).
    for (at, reason) in [(200, "receiptsRoot"), (bundle.len() - 10, "not finalized")] {
        let mut answer = f["answer"].clone();
        answer["bundle"] = Value::String(flip(&bundle, at));
        let v = verdict(bindings::verify_receipt(&answer.to_string(), &genesis, None, None));
        assert_eq!(v["verified"], false, "tampering at {at} went unnoticed: {v}");
        let r = v["reason"].as_str().unwrap();
        assert!(r.contains(reason) || r.contains("malformed") || r.contains("not"), "{at}: {r}");
    }
    let stranger = json!({"chainId": 1337, "validators": ["0x00000000000000000000000000000000000000aa"]}).to_string();
    not_verified(&verdict(bindings::verify_receipt(&f["answer"].to_string(), &stranger, None, None)), "not finalized");
    let other_chain = json!({"chainId": 1, "validators": f["genesis"]["validators"]}).to_string();
    not_verified(&verdict(bindings::verify_receipt(&f["answer"].to_string(), &other_chain, None, None)), "chain");
    not_verified(&verdict(bindings::verify_receipt("{}", &genesis, None, None)), "bundle");
    not_verified(&verdict(bindings::verify_receipt("[", &genesis, None, None)), "JSON");
}

#[test]
fn an_account_proof_at_a_certified_block_verifies() {
    let f = fixture(STATE);
    let (genesis, header, cert, set) =
        (f["genesis"].to_string(), f["header"].as_str().unwrap(), f["certificate"].as_str().unwrap(), f["setProof"].as_str().unwrap());
    // The account the fixture's node was asked about (recorded when it was made), not its answer's.
    let address = f["account"].as_str().unwrap();
    let query = |extra: Value| {
        let mut q = json!({"address": address, "keys": ["0x01"], "block": f["block"], "code": f["code"]});
        q.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        q.to_string()
    };
    let check = |answer: &Value, q: String, h: &str| verdict(bindings::verify_state(&answer.to_string(), &q, h, cert, set, &genesis));
    let v = check(&f["proof"], query(json!({})), header);
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["exists"], true);
    assert_eq!(v["blockNumber"], f["block"]);
    assert_eq!(v["codeChecked"], true);
    assert_eq!(v["storage"][0]["absent"], true);

    // Lies about the account, a key, the block or the code asked about are caught.
    let mut lie = f["proof"].clone();
    lie["balance"] = json!("0x1");
    not_verified(&check(&lie, query(json!({})), header), "balance");
    let mut lie = f["proof"].clone();
    lie["storageProof"][0]["value"] = json!("0x05");
    not_verified(&check(&lie, query(json!({})), header), "storage key 0x01");
    not_verified(
        &check(&f["proof"], query(json!({"address": "0x00000000000000000000000000000000000000aa"})), header),
        "answered for account",
    );
    not_verified(&check(&f["proof"], query(json!({"keys": ["0x02"]})), header), "the node answered for 0x01");
    not_verified(&check(&f["proof"], query(json!({"keys": []})), header), "0 storage keys were asked for, the node answered 1");
    not_verified(&check(&f["proof"], query(json!({"block": 99})), header), "block 99 was asked for");
    not_verified(&check(&f["proof"], query(json!({"code": "0x00"})), header), "the code shown");
    // Another header (its state root changed) is not the certified block.
    not_verified(&check(&f["proof"], query(json!({})), &flip(header, 150)), "not finalized");
}

fn key(i: u8) -> SigningKey {
    SigningKey::from_bytes(&[i; 32].into()).unwrap()
}

fn address(k: &SigningKey) -> Address {
    let point = k.verifying_key().to_encoded_point(false);
    Address::from_slice(&keccak256(&point.as_bytes()[1..])[12..])
}

fn sign(k: &SigningKey, digest: &B256) -> [u8; 65] {
    let (sig, recid) = k.sign_prehash_recoverable(digest.as_slice()).unwrap();
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&sig.to_bytes());
    out[64] = 27 + recid.to_byte();
    out
}

/// A certificate by validators `signers` of four, for a claim batched with another.
fn certificate(signers: &[u32]) -> (StorageCertificate, String) {
    let keys: Vec<SigningKey> = (1..=4).map(key).collect();
    let genesis = json!({"chainId": 7, "validators": keys.iter().map(|k| address(k).to_string()).collect::<Vec<_>>()}).to_string();
    let claim = StoredClaim { chain_id: 7, tx_hash: keccak256(b"tx"), sender: Address::repeat_byte(5), nonce: 3, height: 10, expiry: 14 };
    let leaves = [keccak256(b"other"), stored_digest(&claim)];
    let root = batch_root(&leaves);
    let signatures = signers.iter().map(|&v| CertSignature { validator: v, signature: sign(&keys[v as usize], &root) }).collect();
    let paths = signers.iter().map(|_| batch_path(&leaves, 1)).collect();
    (StorageCertificate { claim, signatures, paths }, genesis)
}

fn as_answer(cert: &StorageCertificate) -> String {
    json!({"certificate": alloy_primitives::hex::encode_prefixed(alloy_rlp::encode(cert))}).to_string()
}

#[test]
fn storage_certificates_verify_and_forgeries_do_not() {
    let (cert, genesis) = certificate(&[0, 1, 3]);
    let v = verdict(bindings::verify_storage_certificate(&as_answer(&cert), &genesis));
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["signers"], json!([0, 1, 3]));
    assert_eq!(v["batched"], true);
    // The bare RLP, as a JSON string, verifies as well.
    let bare = json!(alloy_primitives::hex::encode_prefixed(alloy_rlp::encode(&cert))).to_string();
    assert_eq!(verdict(bindings::verify_storage_certificate(&bare, &genesis))["verified"], true);

    let (short, _) = certificate(&[0, 1]);
    not_verified(&verdict(bindings::verify_storage_certificate(&as_answer(&short), &genesis)), "");
    let mut duplicated = cert.clone();
    duplicated.signatures[1] = duplicated.signatures[0];
    not_verified(&verdict(bindings::verify_storage_certificate(&as_answer(&duplicated), &genesis)), "");
    let mut forged = cert.clone();
    forged.signatures[2].signature = sign(&key(9), &B256::repeat_byte(1));
    not_verified(&verdict(bindings::verify_storage_certificate(&as_answer(&forged), &genesis)), "");
    let mut moved = cert;
    moved.claim.nonce = 4;
    not_verified(&verdict(bindings::verify_storage_certificate(&as_answer(&moved), &genesis)), "");
}

#[test]
fn a_module_describes_itself_and_bad_code_is_an_error() {
    assert_eq!(bindings::module_abi("0x"), "[]");
    assert!(bindings::module_abi("0x1234").contains("error"));
    assert_eq!(bindings::decode_call("[]", "0x12345678"), "null");
    assert_eq!(bindings::decode_revert("[]", "0x"), "no revert data");
}
