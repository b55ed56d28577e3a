//! The protocol crate's error type: decoding what the protocol defines.

use alloc::string::String;

/// Errors from decoding protocol data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Bytes are not valid RLP (or not the expected RLP shape).
    #[error("invalid RLP: {0}")]
    Rlp(alloy_rlp::Error),
    /// Bytes decoded but more bytes follow the value.
    #[error("{0} trailing bytes after the encoded value")]
    TrailingBytes(usize),
    /// Deploy data that does not follow the framing (`deploy`); the message says how.
    #[error("invalid transaction encoding: deploy data: {0}")]
    Deploy(String),
}

impl From<alloy_rlp::Error> for Error {
    fn from(e: alloy_rlp::Error) -> Self {
        Self::Rlp(e)
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;
