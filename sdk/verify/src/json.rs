//! Reading JSON-RPC answers: fields as hex bytes, quantities, hashes.

use alloy_primitives::{Address, B256, Bytes, U256};
use serde_json::Value;

use crate::{Error, Result};

/// Parses JSON text.
pub fn parse(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::Malformed(format!("not JSON: {e}")))
}

/// Hex (`0x` optional) to bytes.
pub fn hex_bytes(s: &str) -> Result<Vec<u8>> {
    alloy_primitives::hex::decode(s.trim()).map_err(|e| Error::Malformed(format!("not hex: {e}")))
}

/// Field `name` of `v`, which must be there.
pub fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value> {
    v.get(name).filter(|f| !f.is_null()).ok_or_else(|| Error::Malformed(format!("no `{name}` field")))
}

/// Field `name` as a string.
pub fn str_field<'a>(v: &'a Value, name: &str) -> Result<&'a str> {
    field(v, name)?.as_str().ok_or_else(|| Error::Malformed(format!("`{name}` is not a string")))
}

/// Field `name` as hex bytes.
pub fn bytes_field(v: &Value, name: &str) -> Result<Vec<u8>> {
    hex_bytes(str_field(v, name)?).map_err(|e| Error::Malformed(format!("`{name}`: {e}")))
}

/// Field `name` as a list of hex byte strings.
pub fn bytes_list(v: &Value, name: &str) -> Result<Vec<Bytes>> {
    field(v, name)?
        .as_array()
        .ok_or_else(|| Error::Malformed(format!("`{name}` is not a list")))?
        .iter()
        .map(|item| {
            item.as_str().ok_or_else(|| Error::Malformed(format!("`{name}` holds a non-string"))).and_then(hex_bytes).map(Bytes::from)
        })
        .collect()
}

/// A hash.
pub fn b256(s: &str) -> Result<B256> {
    s.trim().parse().map_err(|e| Error::Malformed(format!("{s:?} is not a 32-byte hash: {e}")))
}

/// An address.
pub fn address(s: &str) -> Result<Address> {
    s.trim().parse().map_err(|e| Error::Malformed(format!("{s:?} is not an address: {e}")))
}

/// A quantity: a JSON number or a hex (`0x…`) or decimal string.
pub fn u256(v: &Value) -> Result<U256> {
    match v {
        Value::Number(n) => n.as_u64().map(U256::from).ok_or_else(|| Error::Malformed(format!("{n} is not a whole number"))),
        Value::String(s) => {
            let s = s.trim();
            match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(h) => U256::from_str_radix(h, 16),
                None => U256::from_str_radix(s, 10),
            }
            .map_err(|e| Error::Malformed(format!("{s:?} is not a quantity: {e}")))
        }
        other => Err(Error::Malformed(format!("{other} is not a quantity"))),
    }
}

/// A quantity that fits 64 bits.
pub fn u64_of(v: &Value) -> Result<u64> {
    u256(v)?.try_into().map_err(|_| Error::Malformed(format!("{v} does not fit 64 bits")))
}

/// `0x`-prefixed lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    alloy_primitives::hex::encode_prefixed(bytes)
}
