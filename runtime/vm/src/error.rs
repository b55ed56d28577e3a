//! The engine's errors: why a module cannot be deployed ([`DeployError`], the
//! contract's fault) and what the node could not provide ([`Error`], never a
//! transaction's result).

use strata_primitives::B256;

/// Why a module cannot be deployed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    /// Over the code-size limit.
    #[error("contract code of {size} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Size.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// Not valid Wasm, or uses a feature Strata forbids (the message names it).
    #[error("invalid or forbidden Wasm: {0}")]
    Invalid(String),
    /// Has a start function (would run code at instantiation, outside metering rules).
    #[error("start functions are not allowed: use the `deploy` export as constructor")]
    StartFunction,
    /// Imports something outside the host ABI.
    #[error("import {module}::{name} is not part of the host ABI")]
    ForbiddenImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
    },
    /// Imports the privileged `system` function, which only the chain's genesis system
    /// contracts may use.
    #[error("import env::system is reserved for system contracts installed at genesis")]
    Privileged,
    /// Lacks a required export.
    #[error("missing export `{0}`")]
    MissingExport(&'static str),
    /// Declares more initial memory than allowed.
    #[error("initial memory of {pages} pages exceeds the limit of {max}")]
    MemoryTooLarge {
        /// Pages declared.
        pages: u64,
        /// Limit.
        max: u32,
    },
    /// Declares a larger table than allowed.
    #[error("table of {elements} elements exceeds the limit of {max}")]
    TableTooLarge {
        /// Elements declared.
        elements: u64,
        /// Limit.
        max: u32,
    },
    /// An import has the wrong signature, or linking failed.
    #[error("cannot link against the host ABI: {0}")]
    Link(String),
}

/// Engine failures that are the node's, not the contract's: none of them may become a
/// transaction's result, because another node would not see the same failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine could not be configured.
    #[error("wasm engine: {0}")]
    Engine(String),
    /// The host failed while a contract ran: storage, instantiation (address space),
    /// host memory, native stack.
    #[error("host failure during execution: {0}")]
    Host(String),
    /// The execution passed its wall-clock deadline (RPC simulations only; block
    /// execution has none).
    #[error("execution interrupted: wall-clock deadline passed")]
    Interrupted,
    /// A stored contract cannot be loaded (its code no longer validates under this engine).
    #[error("stored contract {code_hash} cannot be loaded: {reason}")]
    Load {
        /// Code hash.
        code_hash: B256,
        /// Why.
        reason: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
