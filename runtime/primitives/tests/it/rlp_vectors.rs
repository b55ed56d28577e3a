//! Ethereum's RLP test vectors, both directions, and every invalid case.

use alloy_primitives::U512;
use serde_json::Value;
use strata_primitives::rlp_item::RlpItem;

fn load(name: &str) -> serde_json::Map<String, Value> {
    strata_testdata::cases(&format!("ethereum-rlp/{name}"))
}

fn to_item(v: &Value) -> RlpItem {
    match v {
        Value::String(s) if s.starts_with('#') => {
            let n = U512::from_str_radix(&s[1..], 10).expect("big integer");
            RlpItem::Bytes(n.to_be_bytes_trimmed_vec())
        }
        Value::String(s) => RlpItem::Bytes(s.as_bytes().to_vec()),
        Value::Number(n) => {
            let n = n.as_u64().expect("unsigned integer");
            let bytes = n.to_be_bytes();
            let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
            RlpItem::Bytes(bytes[first..].to_vec())
        }
        Value::Array(items) => RlpItem::List(items.iter().map(to_item).collect()),
        other => panic!("unexpected vector input {other}"),
    }
}

fn unhex(s: &str) -> Vec<u8> {
    strata_testdata::decode_hex(s.trim_start_matches("0x").trim_start_matches("0X"))
}

#[test]
fn valid_vectors_encode_and_decode() {
    let cases = load("rlptest.json");
    assert!(cases.len() > 20, "too few vectors read: {}", cases.len());
    for (name, case) in &cases {
        let expected = unhex(case["out"].as_str().unwrap());
        let item = to_item(&case["in"]);
        assert_eq!(item.encoded(), expected, "{name}: encoding");
        assert_eq!(RlpItem::decode_exact(&expected).unwrap_or_else(|e| panic!("{name}: {e}")), item, "{name}: decoding");
    }
}

#[test]
fn invalid_vectors_are_rejected() {
    let cases = load("invalidRLPTest.json");
    assert!(cases.len() > 20, "too few vectors read: {}", cases.len());
    for (name, case) in &cases {
        assert_eq!(case["in"], "INVALID", "{name}");
        let bytes = unhex(case["out"].as_str().unwrap());
        assert!(RlpItem::decode_exact(&bytes).is_err(), "{name}: {bytes:02x?} must be rejected");
    }
}
