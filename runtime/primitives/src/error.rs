//! The primitives crate's error type.

use alloc::string::String;

/// Errors from decoding and validating Strata primitives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Bytes are not valid RLP (or not the expected RLP shape).
    #[error("invalid RLP: {0}")]
    Rlp(alloy_rlp::Error),
    /// Bytes decoded but more bytes follow the value.
    #[error("{0} trailing bytes after the encoded value")]
    TrailingBytes(usize),
    /// A transaction of a type Strata does not accept.
    #[error("transaction type {0} not supported (Strata accepts legacy (0) and EIP-1559 (2))")]
    UnsupportedTxType(u8),
    /// A transaction envelope that cannot be decoded.
    #[error("invalid transaction encoding: {0}")]
    TxDecode(String),
    /// The signature does not recover to a public key, or has a high `s` (EIP-2).
    #[error("invalid transaction signature")]
    InvalidSignature,
    /// A private key that is not a valid secp256k1 scalar.
    #[error("invalid private key")]
    InvalidKey,
    /// A mnemonic derivation path that cannot be parsed.
    #[error("invalid derivation path: {0}")]
    InvalidPath(String),
}

impl From<strata_protocol::Error> for Error {
    fn from(e: strata_protocol::Error) -> Self {
        match e {
            strata_protocol::Error::Rlp(e) => Self::Rlp(e),
            strata_protocol::Error::TrailingBytes(n) => Self::TrailingBytes(n),
            strata_protocol::Error::Deploy(m) => Self::TxDecode(alloc::format!("deploy data: {m}")),
        }
    }
}

impl From<alloy_rlp::Error> for Error {
    fn from(e: alloy_rlp::Error) -> Self {
        Self::Rlp(e)
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;
