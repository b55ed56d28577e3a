//! Framing of a contract deployment's transaction data.
//!
//! A deploy is an Ethereum transaction with no `to`. Its data is:
//!
//! ```text
//! 0xEF 'W' 'A' 'S' 'M'   magic (0xEF: never valid EVM init code, EIP-3541)
//! 0x01                   framing version
//! u32 big-endian         length N of the module
//! N bytes                the Wasm module
//! rest                   constructor input (passed to the `deploy` export)
//! ```

use crate::{Error, Result};
use alloc::vec::Vec;

/// Magic prefix of deploy data.
pub const MAGIC: [u8; 5] = [0xEF, b'W', b'A', b'S', b'M'];
/// Current framing version.
pub const VERSION: u8 = 1;

/// Frames `module` and constructor `input` as deploy data.
pub fn encode(module: &[u8], input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 5 + module.len() + input.len());
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&(module.len() as u32).to_be_bytes());
    out.extend_from_slice(module);
    out.extend_from_slice(input);
    out
}

/// Splits deploy data into `(module, constructor input)`.
pub fn decode(data: &[u8]) -> Result<(&[u8], &[u8])> {
    let bad = |m: &str| Error::Deploy(alloc::string::String::from(m));
    let rest = data.strip_prefix(&MAGIC[..]).ok_or_else(|| bad("missing 0xEF5741534D magic"))?;
    let (&version, rest) = rest.split_first().ok_or_else(|| bad("missing version"))?;
    if version != VERSION {
        return Err(bad("unknown framing version"));
    }
    if rest.len() < 4 {
        return Err(bad("missing module length"));
    }
    let (len, rest) = rest.split_at(4);
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if rest.len() < len {
        return Err(bad("module shorter than its declared length"));
    }
    Ok(rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_rejections() {
        let data = encode(b"\0asm\x01\0\0\0", b"ctor");
        assert_eq!(decode(&data).unwrap(), (&b"\0asm\x01\0\0\0"[..], &b"ctor"[..]));
        assert!(decode(b"\0asm").is_err());
        assert!(decode(&data[..data.len() - 6]).is_err());
        let mut v2 = data.clone();
        v2[5] = 2;
        assert!(decode(&v2).is_err());
    }
}
