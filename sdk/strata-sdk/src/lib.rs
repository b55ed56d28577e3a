//! The Strata contract SDK: write contracts in Rust, run them as Wasm.
//!
//! Why: the host ABI (`docs/abi.md`) is pointers and lengths; contract authors
//! want addresses, integers, maps and events. This crate is the safe, typed layer
//! over it — `no_std` + `alloc`, built for the pinned `wasm32v1-none` target —
//! and uses `alloy-sol-types`, so calldata, return values, events and errors are
//! Solidity-ABI encoded and any Ethereum client calls the contract through its ABI.
//!
//! A contract exports `call` (and optionally `deploy`), reads its input, dispatches
//! on the Solidity selector, and returns or reverts; [`entry`] does the plumbing.
#![no_std]

extern crate alloc;

pub mod env;
pub mod host;
pub mod storage;

#[cfg(target_arch = "wasm32")]
mod runtime;

pub use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
pub use alloy_sol_types::{self, SolCall, SolError, SolEvent, SolInterface, SolValue, sol};

use alloc::{string::String, vec::Vec};

/// The solidity `Error(string)` revert, as `revert("…")` produces.
pub fn revert_message(message: &str) -> ! {
    let err = alloy_sol_types::Revert { reason: String::from(message) };
    host::revert(&err.abi_encode())
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
        Err(_) => {
            let selector = input.get(..4).map(|s| [s[0], s[1], s[2], s[3]]).unwrap_or_default();
            let mut msg = String::from("unknown selector or bad arguments: 0x");
            for b in selector {
                msg.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
                msg.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
            }
            revert_message(&msg)
        }
    }
}

/// ABI-encodes a function's return value.
pub fn returns<C: SolCall>(value: &C::Return) -> Vec<u8> {
    C::abi_encode_returns(value)
}
