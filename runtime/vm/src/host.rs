//! The boundary between the engine and the chain: the [`Host`] trait.
//!
//! The engine knows Wasm, fuel and guest memory; it knows nothing of state.
//! Everything a contract can observe or change goes through a `Host`, which the
//! executor implements over its state overlay (CosmWasm's `Backend`, in spirit).

use std::any::Any;

use strata_primitives::{
    Address, B256, U256,
    abi::{CallStatus, SystemOp},
};

/// Who and what a frame runs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallContext {
    /// The contract running.
    pub address: Address,
    /// The account that called it.
    pub caller: Address,
    /// The transaction's sender.
    pub origin: Address,
    /// Value transferred with the call.
    pub value: U256,
    /// Block number.
    pub block_number: u64,
    /// Block timestamp (seconds).
    pub timestamp: u64,
    /// Chain id.
    pub chain_id: u64,
    /// True in a static (view) call: no state changes, logs or value.
    pub is_static: bool,
    /// Nesting depth (0 for the transaction's own frame).
    pub depth: u32,
}

/// A nested call a contract asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubCall {
    /// Callee.
    pub to: Address,
    /// Value to transfer (must be zero in a static call).
    pub value: U256,
    /// Input.
    pub input: Vec<u8>,
    /// Gas handed to the callee.
    pub gas: u64,
    /// View call: the callee may not change state.
    pub is_static: bool,
}

/// How a nested call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubCallResult {
    /// Success, revert, or failure (trap, out of gas, limit, refused).
    pub status: CallStatus,
    /// Gas the callee used (at most the gas handed to it).
    pub gas_used: u64,
    /// Return or revert data.
    pub output: Vec<u8>,
}

/// Answer of a privileged system op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemReply {
    /// True: `output` is the op's result; false: the rules refused it and `output` is
    /// revert data (a Solidity error) for the contract to pass on.
    pub ok: bool,
    /// Result or revert data.
    pub output: Vec<u8>,
}

/// Host failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The contract asked for something the rules refuse (deterministic: it fails the frame).
    #[error("{0}")]
    Refused(String),
    /// The node failed (storage error…): not the contract's fault; aborts the block.
    #[error("node failure: {0}")]
    Node(String),
    /// A nested frame passed the execution's wall-clock deadline (simulations only).
    #[error("execution interrupted: wall-clock deadline passed")]
    Interrupted,
}

/// What contracts can see and do. Implemented by the executor.
pub trait Host: Send + 'static {
    /// The frame's context.
    fn context(&self) -> &CallContext;
    /// Reads the running contract's storage.
    fn storage_read(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, HostError>;
    /// Writes (`Some`) or removes (`None`) a key of the running contract's storage.
    /// Returns whether the key existed before (new keys cost more: state growth).
    fn storage_write(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<bool, HostError>;
    /// Balance of any account.
    fn balance(&mut self, address: &Address) -> Result<U256, HostError>;
    /// Appends a log to the frame.
    fn emit_log(&mut self, topics: Vec<B256>, data: Vec<u8>) -> Result<(), HostError>;
    /// Runs a nested call to completion.
    fn call(&mut self, call: SubCall) -> Result<SubCallResult, HostError>;
    /// The hash of block `number`, if the current block can read it (one of the
    /// `strata_protocol::system::BLOCK_HASH_WINDOW` blocks before it), else `None`.
    fn block_hash(&mut self, number: u64) -> Result<Option<B256>, HostError>;
    /// A privileged op of the runtime's system contracts (archive, restore, quotas).
    /// Hosts that have none refuse.
    fn system(&mut self, op: SystemOp, input: &[u8]) -> Result<SystemReply, HostError> {
        let _ = input;
        Err(HostError::Refused(format!("system op {} is reserved for the runtime's system contracts", op.code())))
    }
    /// For the executor to take its concrete host back after a frame.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

/// In-memory [`Host`] for tests and benchmarks of the engine alone: one contract's
/// storage, its logs, a fixed balance, and nested calls answered with a set result.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use std::collections::BTreeMap;

    use super::*;

    /// The fake host.
    #[derive(Debug, Clone)]
    pub struct FakeHost {
        /// The frame's context.
        pub ctx: CallContext,
        /// The contract's storage.
        pub storage: BTreeMap<Vec<u8>, Vec<u8>>,
        /// Logs emitted.
        pub logs: Vec<(Vec<B256>, Vec<u8>)>,
        /// Nested calls requested.
        pub calls: Vec<SubCall>,
        /// What every nested call answers.
        pub call_result: SubCallResult,
        /// Block hashes by number (what `block_hash` answers, unchecked against the window).
        pub block_hashes: BTreeMap<u64, B256>,
    }

    impl Default for FakeHost {
        fn default() -> Self {
            Self::new()
        }
    }

    impl FakeHost {
        /// A host with an empty storage and a fixed context.
        pub fn new() -> Self {
            let ctx = CallContext {
                address: Address::repeat_byte(0xc0),
                caller: Address::repeat_byte(0xca),
                origin: Address::repeat_byte(0x0a),
                value: U256::from(7u64),
                block_number: 42,
                timestamp: 1_700_000_000,
                chain_id: 1337,
                is_static: false,
                depth: 0,
            };
            let call_result = SubCallResult { status: CallStatus::Success, gas_used: 1_000, output: b"pong".to_vec() };
            Self { ctx, storage: BTreeMap::new(), logs: Vec::new(), calls: Vec::new(), call_result, block_hashes: BTreeMap::new() }
        }
    }

    impl Host for FakeHost {
        fn context(&self) -> &CallContext {
            &self.ctx
        }
        fn storage_read(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
            Ok(self.storage.get(key).cloned())
        }
        fn storage_write(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<bool, HostError> {
            Ok(match value {
                Some(v) => self.storage.insert(key.to_vec(), v.to_vec()).is_some(),
                None => self.storage.remove(key).is_some(),
            })
        }
        fn balance(&mut self, _: &Address) -> Result<U256, HostError> {
            Ok(U256::from(123u64))
        }
        fn emit_log(&mut self, topics: Vec<B256>, data: Vec<u8>) -> Result<(), HostError> {
            self.logs.push((topics, data));
            Ok(())
        }
        fn call(&mut self, call: SubCall) -> Result<SubCallResult, HostError> {
            self.calls.push(call);
            Ok(self.call_result.clone())
        }
        fn block_hash(&mut self, number: u64) -> Result<Option<B256>, HostError> {
            Ok(self.block_hashes.get(&number).copied())
        }
        fn into_any(self: Box<Self>) -> Box<dyn Any> {
            self
        }
    }
}
