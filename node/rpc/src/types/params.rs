//! Request parameters as clients send them: block tags and ids (EIP-1898), quantities
//! given as hex or plain numbers, and storage slots of up to 32 bytes.

use std::fmt;

use alloy_primitives::U64;
use serde::{Deserialize, Deserializer};
use strata_primitives::B256;

/// A block tag or number, as the `block` parameter of state queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockTag {
    /// `latest`, `safe`, `finalized`: PBFT blocks are final when committed.
    Latest,
    /// `earliest`: genesis.
    Earliest,
    /// `pending`: latest state plus the pool (nonces).
    Pending,
    /// A block number.
    Number(u64),
}

/// `BlockTag` or an EIP-1898 block hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockId {
    /// By tag or number.
    Tag(BlockTag),
    /// By hash.
    Hash(B256),
}

impl Default for BlockId {
    fn default() -> Self {
        BlockId::Tag(BlockTag::Latest)
    }
}

impl fmt::Display for BlockTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockTag::Latest => f.write_str("latest"),
            BlockTag::Earliest => f.write_str("earliest"),
            BlockTag::Pending => f.write_str("pending"),
            BlockTag::Number(n) => write!(f, "{n:#x}"),
        }
    }
}

/// As clients write it: a tag, a `0x` number, or the `0x` hash.
impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockId::Tag(t) => t.fmt(f),
            BlockId::Hash(h) => write!(f, "{h}"),
        }
    }
}

fn parse_tag(s: &str) -> Result<BlockTag, String> {
    match s {
        "latest" | "safe" | "finalized" => Ok(BlockTag::Latest),
        "earliest" => Ok(BlockTag::Earliest),
        "pending" => Ok(BlockTag::Pending),
        hex => {
            let digits = hex.strip_prefix("0x").ok_or_else(|| {
                format!("invalid block tag {hex:?}: expected latest, earliest, pending, safe, finalized or a 0x-prefixed number")
            })?;
            if digits.is_empty() || digits.len() > 16 {
                return Err(format!("invalid block number {hex:?}"));
            }
            u64::from_str_radix(digits, 16).map(BlockTag::Number).map_err(|_| format!("invalid block number {hex:?}"))
        }
    }
}

impl<'de> Deserialize<'de> for BlockTag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_tag(&s).map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for BlockId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Str(String),
            #[serde(rename_all = "camelCase")]
            Obj {
                block_hash: Option<B256>,
                block_number: Option<String>,
                #[allow(dead_code)]
                require_canonical: Option<bool>,
            },
        }
        match Raw::deserialize(d)? {
            Raw::Str(s) if s.len() == 66 => s.parse::<B256>().map(BlockId::Hash).map_err(serde::de::Error::custom),
            Raw::Str(s) => parse_tag(&s).map(BlockId::Tag).map_err(serde::de::Error::custom),
            Raw::Obj { block_hash: Some(h), block_number: None, .. } => Ok(BlockId::Hash(h)),
            Raw::Obj { block_hash: None, block_number: Some(n), .. } => parse_tag(&n).map(BlockId::Tag).map_err(serde::de::Error::custom),
            Raw::Obj { .. } => Err(serde::de::Error::custom("block object needs exactly one of blockHash and blockNumber")),
        }
    }
}

/// A quantity given as a hex string or a plain number (clients send both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(pub u64);

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Q {
            Hex(U64),
            Num(u64),
        }
        Ok(Quantity(match Q::deserialize(d)? {
            Q::Hex(h) => h.to::<u64>(),
            Q::Num(n) => n,
        }))
    }
}

/// A storage slot as Ethereum clients send it: hex of at most 32 bytes (a quantity
/// like `0x0` or a full word), read as a big-endian 32-byte word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageKey {
    /// The slot as a 32-byte word.
    pub word: B256,
    /// The string the client sent (echoed back in proofs, as go-ethereum does).
    pub original: String,
}

impl<'de> Deserialize<'de> for StorageKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let original = String::deserialize(d)?;
        let digits = original.strip_prefix("0x").ok_or_else(|| serde::de::Error::custom("storage key must be 0x-prefixed hex"))?;
        if digits.is_empty() || digits.len() > 64 {
            return Err(serde::de::Error::custom(format!("storage key {original:?} is not 1 to 32 bytes of hex")));
        }
        let padded = format!("{digits:0>64}");
        let word = padded.parse::<B256>().map_err(|_| serde::de::Error::custom(format!("storage key {original:?} is not hex")))?;
        Ok(Self { word, original })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ids_parse_like_ethereum_clients_send_them() {
        let p = |s: &str| serde_json::from_str::<BlockId>(s);
        assert_eq!(p("\"latest\"").unwrap(), BlockId::Tag(BlockTag::Latest));
        assert_eq!(p("\"finalized\"").unwrap(), BlockId::Tag(BlockTag::Latest));
        assert_eq!(p("\"0x1a\"").unwrap(), BlockId::Tag(BlockTag::Number(26)));
        assert_eq!(p("{\"blockNumber\":\"0x2\"}").unwrap(), BlockId::Tag(BlockTag::Number(2)));
        let h = format!("\"0x{}\"", "ab".repeat(32));
        assert!(matches!(p(&h).unwrap(), BlockId::Hash(_)));
        for bad in ["\"0x\"", "\"12\"", "\"latestt\"", "\"0x10000000000000000\"", "{}", "5"] {
            assert!(p(bad).is_err(), "{bad}");
        }
        for id in ["latest", "earliest", "pending", "0x1a", &format!("0x{}", "ab".repeat(32))] {
            assert_eq!(p(&format!("\"{id}\"")).unwrap().to_string(), id, "ids display as clients write them");
        }
    }
}
