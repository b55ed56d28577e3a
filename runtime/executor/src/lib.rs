//! Transaction validation and execution, and block building, for Strata.
//!
//! Why a crate of its own: the same rules must run in three places — mempool
//! admission, block building by the proposer, and block re-execution by every
//! other validator — and must give identical results on every node. So this crate
//! is pure: state in (through [`StateReader`](strata_state::StateReader)), changes and receipts out; no
//! clock, no I/O, no hash-map iteration, checked arithmetic only. Contract code
//! runs in `strata-vm`; this crate owns what surrounds it: value, nonces, fees,
//! frames and their rollback, receipts — and the block validity rules ([`rules`]),
//! typed functions the node calls for every proposal, commit and synced block.
//!
//! Where things are: [`BlockBuilder`] and [`ExecutedBlock`] build (or re-execute) a
//! block; [`simulate`] and [`estimate_gas`] run messages for RPC; [`admit`] is the
//! mempool's check; the block rules are in [`rules`], transaction validity in
//! `validate.rs`, fees in [`fees`] and the storage market's genesis and bookkeeping in
//! [`system`]. Under them, a message runs (`message.rs`) in a `Session`
//! (`session.rs`: layered state) through call frames (`frame.rs`), whose system ops
//! (`ops.rs`) the archive contract calls.
#![warn(clippy::arithmetic_side_effects)]

mod admit;
mod block;
pub mod fees;
mod frame;
mod message;
mod ops;
pub mod rules;
mod session;
mod simulate;
mod slot_ops;
pub mod slots;
pub mod system;
mod validate;

use strata_primitives::{Address, B256};

pub use admit::{admit, min_gas};
pub use block::{Applied, BlockBuilder, ColdWrites, ExecutedBlock, Payees};
pub use fees::{Schedule, TX_BASE_FUEL};
pub use message::MessageResult;
pub use simulate::{Simulation, TX_OVERHEAD_BYTES, estimate_gas, simulate};
pub use validate::{InvalidTx, MAX_BLOCK_BYTES, MAX_TX_SIZE, validate_stateful, validate_stateless};

/// Node-side failures of execution (never the transaction's fault).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading state failed.
    #[error(transparent)]
    State(#[from] strata_state::Error),
    /// The host failed while a contract ran (storage error, missing code, address
    /// space or native stack exhausted): the transaction is not the cause, and the
    /// block is not produced or validated.
    #[error("execution aborted by a node failure: {0}")]
    Host(String),
    /// A simulation passed its wall-clock deadline.
    #[error("execution timed out")]
    Interrupted,
    /// The fee contract could not answer (missing, or failed): the chain's genesis or
    /// price table is broken; no block can be built.
    #[error("fee contract: {0}")]
    FeeContract(String),
    /// The block's base fee is not the fee contract's gas price.
    #[error("base fee {got} does not match the fee contract's gas price {expected}")]
    BaseFee {
        /// In the block environment.
        got: u64,
        /// From the fee contract.
        expected: u64,
    },
}

impl From<strata_vm::HostError> for Error {
    fn from(e: strata_vm::HostError) -> Self {
        match e {
            strata_vm::HostError::Interrupted => Error::Interrupted,
            other => Error::Host(other.to_string()),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a block executes in: fixed by the block header, the same on every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockEnv {
    /// Chain id transactions must be signed for.
    pub chain_id: u64,
    /// Block height.
    pub number: u64,
    /// The parent block's hash (what `block_hash(number - 1)` answers; the runtime
    /// records it in the block-hash history at the block's start).
    pub parent_hash: B256,
    /// Block timestamp (seconds).
    pub timestamp: u64,
    /// Proposer (receives the rounding remainder of fee splits).
    pub proposer: Address,
    /// Gas limit of the block.
    pub gas_limit: u64,
    /// Base fee per gas: the fee contract's gas price on the parent state. The only
    /// price a transaction pays per gas (Strata has no priority fee).
    pub base_fee: u64,
    /// Copies of each transaction the network carries: one per validator, and its
    /// network fee is per copy.
    pub replicas: u64,
}

#[cfg(test)]
mod tests;
