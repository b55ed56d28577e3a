//! The consensus crate's error type.

use strata_primitives::CertificateError;

/// Why bytes do not decode, or why a consensus message (or a proof inside one) is refused.
///
/// [`crate::Core::handle`] never fails: a refused message is dropped. These errors
/// say why, for the decoders, for [`crate::SignedMessage::verify`] and for tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Bytes are not valid RLP of the expected shape.
    #[error("invalid RLP: {0}")]
    Rlp(alloy_rlp::Error),
    /// Bytes decoded but more bytes follow the value.
    #[error("{0} trailing bytes after the encoded value")]
    TrailingBytes(usize),
    /// A message kind byte that names no message.
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    /// A sender index outside the validator set.
    #[error("validator {0} is not in the validator set")]
    UnknownValidator(u32),
    /// A proof about a height whose validator set is not known (yet).
    #[error("the validators of height {0} are not known")]
    UnknownValidators(u64),
    /// A signature that does not recover to the claimed signer (or has a high `s`).
    #[error("bad signature by validator {0}")]
    BadSignature(u32),
    /// A certificate or quorum proof that does not verify.
    #[error("invalid certificate: {0}")]
    Certificate(#[from] CertificateError),
    /// A message that is well signed but breaks a protocol rule.
    #[error("invalid message: {0}")]
    Invalid(&'static str),
    /// The local key could not sign (not a valid secp256k1 key).
    #[error("signing failed")]
    Signing,
}

impl From<alloy_rlp::Error> for Error {
    fn from(e: alloy_rlp::Error) -> Self {
        Self::Rlp(e)
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;
