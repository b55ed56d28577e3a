//! The chain service of a Strata node: genesis, the block store, the mempool and
//! block production.
//!
//! Why: the JSON-RPC server, the dev node and the consensus driver all need one
//! owner of "what is the chain": it admits transactions, turns them into blocks
//! with `strata-executor`, checks others' blocks against the runtime's rules, and
//! commits each block — state, block, receipts, indexes and head pointer — in one
//! atomic, synced write, so a crash at any moment leaves the last complete block and
//! nothing half-written. It also owns the threads contracts run on ([`ExecPools`]),
//! one pool per kind of work, so that no kind can starve another.
//!
//! Layout: [`Chain`] itself (opening, head, state access) is in `service`, admission
//! of transactions in `admission`, building, validating and committing blocks in
//! `blocks`, the execution threads in `pools`, and the [`Mempool`], [`ChainSpec`]
//! (genesis) and [`BlockStore`] in modules of their own.

mod admission;
mod blocks;
mod certified;
mod duty;
mod journal;
mod mempool;
mod pools;
mod service;
mod set_proof;
mod slots;
mod spec;
mod store;

pub use admission::{MAX_TX_SIZE, SubmitError, TxOrigin};
pub use blocks::{MAX_BLOCK_TXS, MAX_FUTURE_SECS};
pub use certified::{CLAIM_HEIGHT_SLACK, CLAIM_MIN_REMAINING, Certified, CertifyRefusal, signable_claim_height};
pub use mempool::{Mempool, MempoolConfig, PoolError};
pub use pools::{ExecPools, run_on};
pub use service::{Chain, ChainConfig, ConsensusStatus, Faults, JournalStore, StateUnavailable};
pub use slots::SlotSets;
pub use spec::{
    ChainSpec, DEFAULT_CERTIFIED_EXPIRY, DEV_CHAIN_ID, FeeRecipient, FeeSplit, SlotGenesis, StorageClass, dev_proposer, dev_validator_key,
};
pub use store::{AddressEntry, AddressPage, BlockStore, TxLocation};
pub use strata_executor::rules::{BlockError, Check, HeartbeatError};
/// The slot state a chain keeps (see [`Chain::slot_state`]).
pub use strata_executor::slots::SlotState as SlotStateView;

/// Node-side failures (storage, corruption, misconfiguration). Invalid user input
/// is never one of these: it is a [`SubmitError`] returned to the caller.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] strata_storage::Error),
    /// State access failed.
    #[error(transparent)]
    State(#[from] strata_state::Error),
    /// Execution failed for a node-side reason.
    #[error(transparent)]
    Executor(#[from] strata_executor::Error),
    /// The contract engine could not start.
    #[error(transparent)]
    Vm(#[from] strata_vm::Error),
    /// The data directory holds a different chain than the one configured.
    #[error(
        "the data directory holds another chain (genesis {stored}), not the configured one (genesis {configured}); use another --data-dir or the matching --chain-id"
    )]
    GenesisMismatch {
        /// Genesis hash found on disk.
        stored: strata_primitives::B256,
        /// Genesis hash of the configuration.
        configured: strata_primitives::B256,
    },
    /// A stored block does not decode or does not link to its parent.
    #[error("corrupt chain data: {0}")]
    Corrupt(String),
    /// A switch of the validator set cannot be proven: its block's state was pruned
    /// before its slot records were proven, or its certificate is missing.
    #[error("the validator-set switch at block {number} cannot be proven: {reason}")]
    SwitchUnproven {
        /// The block whose end decided the switch.
        number: u64,
        /// Why.
        reason: String,
    },
    /// Asked to commit a block that was not executed on the current head.
    #[error("block {0} is not an executed candidate for the next height")]
    NotPending(strata_primitives::B256),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why [`Chain::validate`] did not accept a block: the block's fault, or the node's.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The block breaks a rule: refuse it (and, as a validator, do not vote for it).
    #[error(transparent)]
    Invalid(#[from] BlockError),
    /// This node failed while checking it (storage, execution host): nothing is known
    /// about the block; retry later.
    #[error(transparent)]
    Node(#[from] Error),
}

impl From<strata_executor::Error> for ValidateError {
    fn from(e: strata_executor::Error) -> Self {
        Self::Node(e.into())
    }
}

impl From<strata_state::Error> for ValidateError {
    fn from(e: strata_state::Error) -> Self {
        Self::Node(e.into())
    }
}

impl From<strata_storage::Error> for ValidateError {
    fn from(e: strata_storage::Error) -> Self {
        Self::Node(e.into())
    }
}
