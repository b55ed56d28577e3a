//! What a contract's calldata, events and reverts mean, from the Solidity ABI a Strata
//! module carries in its `strata_abi` custom section (one human-readable fragment, or
//! one JSON entry, per line): the code at an address describes itself, so a reader who
//! has the code (proven by its hash in the account) needs no uploaded ABI to trust.
//!
//! The CLI's output and the explorer's are made by these same functions.

use alloy_dyn_abi::{DynSolType, DynSolValue, EventExt, JsonAbiExt};
use alloy_json_abi::{Constructor, Event, Function, JsonAbi, Param};
use alloy_primitives::{B256, U256, hex};
use serde_json::{Value, json};

use crate::{Error, Result};

/// The custom section a Strata module's ABI is in.
pub const ABI_SECTION: &str = "strata_abi";

/// Reads a LEB128 `u32` at `*pos`.
fn leb_u32(bytes: &[u8], pos: &mut usize) -> Result<u32> {
    let mut value: u32 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*pos).ok_or_else(|| Error::Malformed("the module ends inside a number".into()))?;
        *pos += 1;
        // The fifth byte holds the top 4 bits: more is not a u32 (as the spec says).
        if shift == 28 && byte & 0x70 != 0 {
            return Err(Error::Malformed("a number in the module does not fit 32 bits".into()));
        }
        value |= u32::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Error::Malformed("a number in the module is too long".into()))
}

/// The payloads of every custom section called `name` in a Wasm module, in order.
pub fn custom_sections<'a>(wasm: &'a [u8], name: &str) -> Result<Vec<&'a [u8]>> {
    if wasm.get(..8) != Some(b"\0asm\x01\0\0\0".as_slice()) {
        return Err(Error::Malformed("not a WebAssembly module (version 1)".into()));
    }
    let mut pos = 8;
    let mut found = Vec::new();
    while pos < wasm.len() {
        let id = wasm[pos];
        pos += 1;
        let size = leb_u32(wasm, &mut pos)? as usize;
        let end =
            pos.checked_add(size).filter(|&e| e <= wasm.len()).ok_or_else(|| Error::Malformed("a section runs past the end".into()))?;
        if id == 0 {
            let mut p = pos;
            let len = leb_u32(wasm, &mut p)? as usize;
            let name_end =
                p.checked_add(len).filter(|&e| e <= end).ok_or_else(|| Error::Malformed("a custom section's name runs past it".into()))?;
            if &wasm[p..name_end] == name.as_bytes() {
                found.push(&wasm[name_end..end]);
            }
        }
        pos = end;
    }
    Ok(found)
}

/// One `strata_abi` line as a JSON ABI entry: human-readable
/// (`function transfer(address to,uint256 amount) returns (bool)`, what the SDK writes)
/// or a JSON object (what SDKs before 0.1 wrote).
pub fn abi_entry(line: &str) -> Result<Value> {
    let bad = |e: &dyn std::fmt::Display| Error::Malformed(format!("bad ABI fragment {line:?}: {e}"));
    if line.starts_with('{') {
        return serde_json::from_str(line).map_err(|e| bad(&e));
    }
    let (kind, _) = line.split_once([' ', '(']).unwrap_or((line, ""));
    let to_value = |v: std::result::Result<Value, serde_json::Error>| v.map_err(|e| bad(&e));
    match kind {
        "function" => to_value(serde_json::to_value(Function::parse(line).map_err(|e| bad(&e))?)),
        "constructor" => to_value(serde_json::to_value(Constructor::parse(line).map_err(|e| bad(&e))?)),
        "event" => to_value(serde_json::to_value(Event::parse(line).map_err(|e| bad(&e))?)),
        "error" => to_value(serde_json::to_value(alloy_json_abi::Error::parse(line).map_err(|e| bad(&e))?)),
        other => Err(Error::Malformed(format!("unknown ABI entry kind {other:?}"))),
    }
}

/// The ABI entries a module carries (constructor, functions, events, errors; sorted,
/// without duplicates); empty if it carries none.
pub fn module_abi(wasm: &[u8]) -> Result<Vec<Value>> {
    let mut entries = Vec::new();
    for section in custom_sections(wasm, ABI_SECTION)? {
        let text = std::str::from_utf8(section).map_err(|_| Error::Malformed("the ABI section is not UTF-8".into()))?;
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            entries.push(abi_entry(line)?);
        }
    }
    let rank = |v: &Value| match v["type"].as_str() {
        Some("constructor") => 0,
        Some("function") => 1,
        Some("event") => 2,
        _ => 3,
    };
    // By kind, name, then the whole entry: identical entries end up adjacent for dedup
    // even among overloads.
    entries.sort_by_cached_key(|e| (rank(e), e["name"].as_str().unwrap_or_default().to_string(), e.to_string()));
    entries.dedup();
    Ok(entries)
}

/// A value as people read it: integers in decimal, addresses checksummed, strings quoted.
pub fn format_value(v: &DynSolValue) -> String {
    match v {
        DynSolValue::Bool(b) => b.to_string(),
        DynSolValue::Int(i, _) => i.to_string(),
        DynSolValue::Uint(u, _) => u.to_string(),
        DynSolValue::FixedBytes(w, size) => format!("0x{}", hex::encode(&w[..(*size).min(32)])),
        DynSolValue::Address(a) => a.to_checksum(None),
        DynSolValue::Bytes(b) => format!("0x{}", hex::encode(b)),
        DynSolValue::String(s) => serde_json::to_string(s).unwrap_or_else(|_| s.clone()),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) => {
            format!("[{}]", items.iter().map(format_value).collect::<Vec<_>>().join(", "))
        }
        DynSolValue::Tuple(items) => format!("({})", items.iter().map(format_value).collect::<Vec<_>>().join(", ")),
        other => format!("{other:?}"),
    }
}

/// `name: value, …` for named values, `value, …` otherwise.
fn format_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a DynSolValue)>) -> String {
    pairs
        .map(|(name, v)| if name.is_empty() { format_value(v) } else { format!("{name}: {}", format_value(v)) })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `name: value, …` for named parameters, `value, …` otherwise.
pub fn format_named(params: &[Param], values: &[DynSolValue]) -> String {
    format_pairs(params.iter().map(|p| p.name.as_str()).zip(values))
}

/// `Panic(uint256)` codes, as Solidity defines them.
pub fn panic_reason(code: U256) -> &'static str {
    match code.saturating_to::<u64>() {
        0x01 => "assertion failed",
        0x11 => "arithmetic overflow or underflow",
        0x12 => "division or modulo by zero",
        0x21 => "invalid enum value",
        0x22 => "invalid storage byte array",
        0x31 => "pop from an empty array",
        0x32 => "array index out of bounds",
        0x41 => "out of memory",
        0x51 => "call to an uninitialised function",
        _ => "unknown panic code",
    }
}

/// Revert data as people read it: `Error(string)`, `Panic(uint256)`, a custom error of
/// `abi` (`TooHigh(max: 2)`), or the raw bytes.
pub fn format_revert(abi: Option<&JsonAbi>, data: &[u8]) -> String {
    if data.len() < 4 {
        return if data.is_empty() { "no revert data".into() } else { format!("0x{}", hex::encode(data)) };
    }
    let (selector, body) = data.split_at(4);
    if selector == [0x08, 0xc3, 0x79, 0xa0]
        && let Ok(v) = DynSolType::String.abi_decode(body)
    {
        return format!("Error({})", format_value(&v));
    }
    if selector == [0x4e, 0x48, 0x7b, 0x71]
        && let Ok(DynSolValue::Uint(code, _)) = DynSolType::Uint(256).abi_decode(body)
    {
        return format!("Panic(0x{code:x}: {})", panic_reason(code));
    }
    if let Some(abi) = abi {
        for e in abi.errors() {
            if e.selector().as_slice() == selector
                && let Ok(values) = e.abi_decode_input(body)
            {
                return format!("{}({})", e.name, format_named(&e.inputs, &values));
            }
        }
    }
    format!("0x{} (an error this ABI does not declare)", hex::encode(data))
}

/// The event of `abi` a log is, with its values in declaration order.
fn match_log<'a>(abi: &'a JsonAbi, topics: &[B256], data: &[u8]) -> Option<(&'a Event, Vec<DynSolValue>)> {
    let topic0 = topics.first()?;
    let event = abi.events().find(|e| !e.anonymous && e.selector() == *topic0)?;
    let decoded = event.decode_log_parts(topics.iter().copied(), data).ok()?;
    let (mut indexed, mut body) = (decoded.indexed.into_iter(), decoded.body.into_iter());
    let values = event.inputs.iter().filter_map(|p| if p.indexed { indexed.next() } else { body.next() }).collect();
    Some((event, values))
}

/// A log decoded by an event of `abi` (`Counted(by: 0x…, value: 1)`); `None` if no
/// event of `abi` matches it.
pub fn format_log(abi: &JsonAbi, topics: &[B256], data: &[u8]) -> Option<String> {
    let (event, values) = match_log(abi, topics, data)?;
    Some(format!("{}({})", event.name, format_pairs(event.inputs.iter().map(|p| p.name.as_str()).zip(&values))))
}

fn args(names_types: impl Iterator<Item = (String, String)>, values: &[DynSolValue]) -> Value {
    Value::Array(names_types.zip(values).map(|((name, ty), v)| json!({"name": name, "type": ty, "value": format_value(v)})).collect())
}

/// Calldata decoded by the function of `abi` its selector names:
/// `{name, signature, args: [{name, type, value}]}`; `None` if none matches or it does
/// not decode.
pub fn decode_call(abi: &JsonAbi, input: &[u8]) -> Option<Value> {
    let (selector, body) = input.split_at_checked(4)?;
    let f = abi.functions().find(|f| f.selector().as_slice() == selector)?;
    let values = f.abi_decode_input(body).ok()?;
    Some(json!({
        "name": f.name,
        "signature": f.signature(),
        "args": args(f.inputs.iter().map(|p| (p.name.clone(), p.ty.clone())), &values),
    }))
}

/// A log decoded by the event of `abi` its first topic names, as [`decode_call`] shapes it.
pub fn decode_log(abi: &JsonAbi, topics: &[B256], data: &[u8]) -> Option<Value> {
    let (event, values) = match_log(abi, topics, data)?;
    Some(json!({
        "name": event.name,
        "signature": event.signature(),
        "args": args(event.inputs.iter().map(|p| (p.name.clone(), p.ty.clone())), &values),
    }))
}

/// An ABI from JSON: an array of entries, or an object with an `abi` array.
pub fn parse_abi(text: &str) -> Result<JsonAbi> {
    let v: Value = serde_json::from_str(text).map_err(|e| Error::Malformed(format!("ABI is not JSON: {e}")))?;
    let entries = if v.is_array() { v } else { v["abi"].clone() };
    if !entries.is_array() {
        return Err(Error::Malformed("no ABI here (a JSON array, or an object with an `abi` array)".into()));
    }
    serde_json::from_value(entries).map_err(|e| Error::Malformed(format!("not a Solidity ABI: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module with one function and a custom section holding `abi`.
    fn module(abi: &str) -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        // A type section with one type `() -> ()`, before the custom one.
        m.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]);
        let mut payload = vec![ABI_SECTION.len() as u8];
        payload.extend_from_slice(ABI_SECTION.as_bytes());
        payload.extend_from_slice(abi.as_bytes());
        m.push(0);
        // LEB128 of the payload's length (two bytes for any test here).
        m.extend_from_slice(&[(payload.len() as u8 & 0x7f) | 0x80, (payload.len() >> 7) as u8]);
        m.extend_from_slice(&payload);
        m
    }

    #[test]
    fn reads_the_abi_a_module_carries() {
        let m = module("function transfer(address to,uint256 amount) returns (bool)\nevent Moved(address indexed by, uint256 value)\n");
        let entries = module_abi(&m).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["name"], "transfer");
        assert_eq!(entries[1]["type"], "event");
        assert!(module_abi(&m[..m.len() - 3]).is_err(), "a truncated section is refused");
        assert!(module_abi(b"not wasm").is_err());
        assert!(module_abi(b"\0asm\x01\0\0\0").unwrap().is_empty());
    }

    #[test]
    fn decodes_calls_logs_and_reverts() {
        let abi: JsonAbi = serde_json::from_value(Value::Array(
            module_abi(&module("function transfer(address to,uint256 amount) returns (bool)\nevent Moved(address indexed by, uint256 value)\nerror TooHigh(uint256 max)"))
                .unwrap(),
        ))
        .unwrap();
        let f = abi.function("transfer").unwrap()[0].clone();
        let to = alloy_primitives::Address::repeat_byte(0x11);
        let input = f.abi_encode_input(&[DynSolValue::Address(to), DynSolValue::Uint(U256::from(5), 256)]).unwrap();
        let call = decode_call(&abi, &input).unwrap();
        assert_eq!(call["signature"], "transfer(address,uint256)");
        assert_eq!(call["args"][1]["value"], "5");
        assert!(decode_call(&abi, &input[..10]).is_none(), "truncated arguments do not decode");
        assert!(decode_call(&abi, &[1, 2, 3, 4]).is_none());

        let e = abi.event("Moved").unwrap()[0].clone();
        let topics = [e.selector(), B256::left_padding_from(to.as_slice())];
        let data = DynSolValue::Uint(U256::from(9), 256).abi_encode();
        let log = decode_log(&abi, &topics, &data).unwrap();
        assert_eq!(log["args"][0]["value"], to.to_checksum(None));
        assert_eq!(format_log(&abi, &topics, &data).unwrap(), format!("Moved(by: {}, value: 9)", to.to_checksum(None)));

        let err = abi.error("TooHigh").unwrap()[0].clone();
        let mut revert = err.selector().to_vec();
        revert.extend(DynSolValue::Uint(U256::from(2), 256).abi_encode());
        assert_eq!(format_revert(Some(&abi), &revert), "TooHigh(max: 2)");
        let mut message = vec![0x08, 0xc3, 0x79, 0xa0];
        message.extend(DynSolValue::String("no".into()).abi_encode_params());
        assert_eq!(format_revert(None, &message), "Error(\"no\")");
    }
}
