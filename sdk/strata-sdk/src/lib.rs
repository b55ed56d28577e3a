//! The Strata contract SDK: write contracts in Rust, run them as Wasm.
//!
//! Why: the host ABI (`docs/abi.md`) is pointers and lengths; contract authors
//! want addresses, integers, maps and events. This crate is the safe, typed layer
//! over it — `no_std` + `alloc`, built for the pinned `wasm32v1-none` target —
//! and uses `alloy-sol-types`, so calldata, return values, events and errors are
//! Solidity-ABI encoded and any Ethereum client calls the contract through its ABI.
//!
//! The usual way to write a contract is `#[contract]` on an `impl` block, with
//! `#[event]` and `#[error]` structs (see the macros' docs and `contracts/examples`):
//! dispatch, argument decoding, return encoding and the ABI JSON are generated from
//! the Rust signatures. Interfaces declared in Solidity syntax with [`sol!`] work too
//! (typed calls to other contracts, or [`entry`] for hand-written dispatch).
#![no_std]

extern crate alloc;

pub mod abi;
pub mod env;
pub mod host;
pub mod storage;
pub mod system;

#[cfg(target_arch = "wasm32")]
mod runtime;

pub use alloy_primitives::{Address, B256, Bytes, I256, U256, address, keccak256};
/// The protocol facts the node uses too (certificates, receipt audits, proofs, the header,
/// system addresses and interfaces): verify with [`host::HostRecover`].
pub use strata_protocol as protocol;
pub use strata_sdk_macros::{contract, error, event};

/// Something a contract function can fail with: it becomes the call's revert data.
pub trait ContractError {
    /// The revert data (selector ++ ABI-encoded fields).
    fn revert_data(&self) -> Vec<u8>;
}

impl ContractError for String {
    fn revert_data(&self) -> Vec<u8> {
        abi::error_string(self)
    }
}

impl ContractError for &str {
    fn revert_data(&self) -> Vec<u8> {
        abi::error_string(self)
    }
}

/// Revert data carried as it is: the error of a contract with several error types (its
/// own `#[error]`s, a callee's revert passed on unchanged). `Revert::of(&e)` takes any
/// [`ContractError`]; [`CallError`] and SolError values convert with `From`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revert(pub Vec<u8>);

impl Revert {
    /// The revert data of `error`.
    pub fn of(error: &impl ContractError) -> Self {
        Self(error.revert_data())
    }
}

impl ContractError for Revert {
    fn revert_data(&self) -> Vec<u8> {
        self.0.clone()
    }
}

impl From<CallError> for Revert {
    fn from(e: CallError) -> Self {
        Self(e.revert_data())
    }
}

/// What the macros' expansions use. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use alloc::{vec, vec::Vec};

    /// A 32-byte topic from a static value's ABI encoding.
    pub fn word(encoded: &[u8]) -> [u8; 32] {
        let mut w = [0u8; 32];
        let n = encoded.len().min(32);
        w[..n].copy_from_slice(&encoded[..n]);
        w
    }

    /// Emits a log with raw topics and data.
    pub fn emit_raw(topics: &[[u8; 32]], data: &[u8]) {
        let flat: Vec<u8> = topics.iter().flatten().copied().collect();
        crate::host::emit_log(&flat, topics.len(), data);
    }

    /// Emits a log with `N` topics and data.
    pub fn emit_topics<const N: usize>(topics: [[u8; 32]; N], data: &[u8]) {
        crate::host::emit_log(topics.as_flattened(), N, data);
    }

    /// Reverts for arguments that do not decode as the function's parameters.
    pub fn bad_arguments(signature: &str) -> ! {
        revert_joined(b"bad arguments for ", signature.as_bytes())
    }

    /// Reverts when the call carries value: the function is not payable.
    #[inline(never)]
    pub fn nonpayable(signature: &str) {
        if crate::host::call_value_word() != [0u8; 32] {
            revert_joined(signature.as_bytes(), b" is not payable")
        }
    }

    /// Reverts with `Error(a ++ b)`.
    #[inline(never)]
    fn revert_joined(a: &[u8], b: &[u8]) -> ! {
        crate::host::revert(&crate::abi::error_bytes(&crate::abi::concat(a, b)))
    }

    /// Reverts with an error's data.
    pub fn revert_with<E: crate::ContractError>(e: &E) -> ! {
        crate::host::revert(&e.revert_data())
    }

    /// Reverts for a selector no function has.
    pub fn unknown_selector(selector: [u8; 4]) -> ! {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut msg = *b"unknown selector or bad arguments: 0x00000000";
        let digits = msg.len() - 8;
        for (i, b) in selector.iter().enumerate() {
            msg[digits + 2 * i] = HEX[usize::from(b >> 4)];
            msg[digits + 2 * i + 1] = HEX[usize::from(b & 15)];
        }
        crate::host::revert(&crate::abi::error_bytes(&msg))
    }
}
pub use alloy_sol_types::{self, SolCall, SolError, SolEvent, SolInterface, SolValue, sol};

use alloc::{string::String, vec::Vec};

/// The solidity `Error(string)` revert, as `revert("…")` produces.
pub fn revert_message(message: &str) -> ! {
    host::revert(&abi::error_string(message))
}

/// Reverts with a custom Solidity error.
pub fn revert_error<E: SolError>(error: E) -> ! {
    host::revert(&error.abi_encode())
}

/// Emits a Solidity event as an Ethereum log (indexed fields become topics).
pub fn emit<E: SolEvent>(event: &E) {
    let log = event.encode_log_data();
    let topics: Vec<u8> = log.topics().iter().flat_map(|t| t.0).collect();
    host::emit_log(&topics, log.topics().len(), &log.data);
}

/// Runs a contract's `call` entry: decodes the input as one of the interface's
/// calls, hands it to `handler`, and returns the ABI-encoded result it gives.
/// Input that matches no function reverts with `Error("unknown selector …")`.
pub fn entry<I: SolInterface>(handler: impl FnOnce(I) -> Vec<u8>) {
    let input = host::input();
    match I::abi_decode(&input) {
        Ok(call) => {
            let out = handler(call);
            host::return_data(&out);
        }
        Err(_) => __private::unknown_selector(input.get(..4).map(|s| [s[0], s[1], s[2], s[3]]).unwrap_or_default()),
    }
}

/// Why a call to another contract did not return a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The callee reverted with this data (re-raise it with [`host::revert`]).
    Revert(Vec<u8>),
    /// The callee failed (trap, out of gas, refused re-entrancy…); the text says why.
    Failure(Vec<u8>),
    /// The callee returned data that does not decode as the function's return type.
    BadReturn,
}

impl ContractError for CallError {
    fn revert_data(&self) -> Vec<u8> {
        match self {
            CallError::Revert(data) => data.clone(),
            CallError::Failure(reason) => String::from_utf8_lossy(reason).into_owned().revert_data(),
            CallError::BadReturn => "callee returned undecodable data".revert_data(),
        }
    }
}

fn decode_result<C: SolCall>(result: host::CallResult) -> Result<C::Return, CallError> {
    match result {
        host::CallResult::Success(data) => C::abi_decode_returns(&data).map_err(|_| CallError::BadReturn),
        host::CallResult::Revert(data) => Err(CallError::Revert(data)),
        host::CallResult::Failure(data) => Err(CallError::Failure(data)),
    }
}

/// Calls `to` with a typed Solidity call (from a `sol!` interface), sending `value`,
/// handing over all the gas it may (63/64 of what is left).
pub fn call_contract<C: SolCall>(to: Address, call: &C, value: U256) -> Result<C::Return, CallError> {
    decode_result::<C>(host::call(to, value, &call.abi_encode(), 0))
}

/// Calls `to` read-only with a typed Solidity call.
pub fn view_contract<C: SolCall>(to: Address, call: &C) -> Result<C::Return, CallError> {
    decode_result::<C>(host::static_call(to, &call.abi_encode(), 0))
}

/// ABI-encodes a function's return value.
pub fn returns<C: SolCall>(value: &C::Return) -> Vec<u8> {
    C::abi_encode_returns(value)
}
