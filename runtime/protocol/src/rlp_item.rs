//! A schema-less RLP value: the tree of byte strings and lists any RLP encodes.
//!
//! Typed structures use `alloy-rlp` derives; this type exists for tools that
//! must handle arbitrary RLP (the Ethereum RLP test vectors, debugging, proof
//! nodes) and for strict whole-input decoding.

use crate::{Error, Result};
use alloc::vec::Vec;
use alloy_rlp::{BufMut, Decodable, Encodable, Header};

/// An RLP item: a byte string or a list of items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RlpItem {
    /// A byte string.
    Bytes(Vec<u8>),
    /// A list of items.
    List(Vec<RlpItem>),
}

impl RlpItem {
    /// Decodes exactly one item that spans all of `bytes` (trailing bytes are an error).
    pub fn decode_exact(bytes: &[u8]) -> Result<Self> {
        decode_exact(bytes)
    }

    /// The RLP encoding of this item.
    pub fn encoded(&self) -> Vec<u8> {
        alloy_rlp::encode(self)
    }

    fn payload_length(&self) -> usize {
        match self {
            Self::Bytes(b) => b.as_slice().length(),
            Self::List(items) => items.iter().map(Encodable::length).sum(),
        }
    }
}

impl Encodable for RlpItem {
    fn encode(&self, out: &mut dyn BufMut) {
        match self {
            Self::Bytes(b) => b.as_slice().encode(out),
            Self::List(items) => {
                Header { list: true, payload_length: self.payload_length() }.encode(out);
                for item in items {
                    item.encode(out);
                }
            }
        }
    }

    fn length(&self) -> usize {
        match self {
            Self::Bytes(b) => b.as_slice().length(),
            Self::List(_) => {
                let payload_length = self.payload_length();
                alloy_rlp::length_of_length(payload_length).saturating_add(payload_length)
            }
        }
    }
}

impl Decodable for RlpItem {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let header = Header::decode(buf)?;
        // `Header::decode` guarantees `payload_length <= buf.len()`.
        let (mut payload, rest) = buf.split_at(header.payload_length);
        *buf = rest;
        if !header.list {
            return Ok(Self::Bytes(payload.to_vec()));
        }
        let mut items = Vec::new();
        while !payload.is_empty() {
            items.push(Self::decode(&mut payload)?);
        }
        Ok(Self::List(items))
    }
}

/// Decodes a `T` that must span all of `bytes`.
pub fn decode_exact<T: Decodable>(bytes: &[u8]) -> Result<T> {
    let mut buf = bytes;
    let value = T::decode(&mut buf)?;
    if !buf.is_empty() {
        return Err(Error::TrailingBytes(buf.len()));
    }
    Ok(value)
}
