//! The gas schedule: what each resource costs. Documented in `docs/abi.md`.
//!
//! Execution is metered in wasmtime *fuel* (about one unit per Wasm instruction);
//! Ethereum clients see *gas*. One gas is [`FUEL_PER_GAS`] fuel. Host functions
//! charge their gas (converted to fuel) before they do any work.

use strata_primitives::abi::{MAX_SYSTEM_SCAN, SystemOp};

/// Fuel units per unit of gas.
pub const FUEL_PER_GAS: u64 = 10;

/// Flat cost of entering a contract frame (instantiation, dispatch).
pub const FRAME: u64 = 2_000;
/// Per byte of Wasm code deployed: validation and compilation (storing the code is
/// paid separately, as hot storage bought at the fee contract's price). Priced for the
/// worst code per byte we know (dense control flow compiles at about 1.3 µs per byte;
/// `scripts/bench.sh block`), so no block of deploys passes the wall-time bound.
pub const DEPLOY_PER_BYTE: u64 = 50;
/// Per function a deployed module defines: compilation has a fixed cost per function
/// (about 100 µs on the reference machine, measured by `scripts/bench.sh block`), which
/// a module of thousands of tiny functions would otherwise get almost free.
pub const DEPLOY_PER_FUNCTION: u64 = 5_000;

/// Gas of deploying a module of `code_len` bytes defining `functions` functions, charged
/// before it is compiled.
pub fn deploy(code_len: usize, functions: u32) -> u64 {
    DEPLOY_PER_BYTE.saturating_mul(code_len as u64).saturating_add(DEPLOY_PER_FUNCTION.saturating_mul(u64::from(functions)))
}
/// Per byte copied between guest memory and the host (input, return data, hashing input…), rounded up to 32-byte words.
pub const COPY_PER_WORD: u64 = 3;
/// Reading an environment value (caller, origin, value, block number, …).
pub const ENV: u64 = 20;
/// Reading another account's balance.
pub const BALANCE: u64 = 700;
/// Reading a storage key.
pub const STORAGE_READ: u64 = 800;
/// Per byte of key and value read from storage.
pub const STORAGE_READ_PER_BYTE: u64 = 3;
/// Reading a recent block's hash (a storage read of the block-hash history).
pub const BLOCK_HASH: u64 = 800;
/// Writing or removing a storage key.
pub const STORAGE_WRITE: u64 = 2_900;
/// Per byte of key and value written.
pub const STORAGE_WRITE_PER_BYTE: u64 = 16;
/// Creating a key that did not exist: a new trie leaf. (The bytes themselves count
/// against the contract's storage quota, which its owner bought.)
pub const STORAGE_NEW_KEY: u64 = 2_000;
/// Emitting a log.
pub const LOG: u64 = 375;
/// Per log topic.
pub const LOG_TOPIC: u64 = 375;
/// Per byte of log data.
pub const LOG_PER_BYTE: u64 = 8;
/// Keccak-256, plus [`KECCAK_PER_WORD`] per 32-byte word.
pub const KECCAK: u64 = 30;
/// Per 32-byte word hashed.
pub const KECCAK_PER_WORD: u64 = 6;
/// Public-key recovery: priced at what it costs (about 200 µs with k256 on the
/// reference machine; `scripts/bench.sh block`), not at Ethereum's 3,000 gas, which
/// would let a block of recoveries run for two seconds.
pub const ECRECOVER: u64 = 10_000;
/// Calling another contract (before the gas handed to the callee).
pub const CALL: u64 = 2_600;
/// Extra cost of a call that transfers value.
pub const CALL_VALUE: u64 = 9_000;

/// A system op moving one entry between hot state and the cold store (reads or
/// writes a value of up to 16 KiB, a tombstone and a purge-queue entry).
pub const SYSTEM_MOVE: u64 = 25_000;
/// A system op reading or writing one small record.
pub const SYSTEM_RECORD: u64 = 2_000;
/// Per key a system key scan may return (charged for the maximum up front).
pub const SYSTEM_SCAN_PER_KEY: u64 = 1_000;

/// Gas of the privileged `system` import for `op` with `input_len` bytes of input,
/// charged before the op runs: the op's work is bounded by its kind and input.
pub fn system(op: SystemOp, input_len: usize) -> u64 {
    let base = match op {
        SystemOp::Archive | SystemOp::Restore => SYSTEM_MOVE,
        SystemOp::Keys => SYSTEM_RECORD.saturating_add(SYSTEM_SCAN_PER_KEY.saturating_mul(u64::from(MAX_SYSTEM_SCAN))),
        SystemOp::Tombstone | SystemOp::Quota | SystemOp::SetQuota => SYSTEM_RECORD,
    };
    base.saturating_add(copy(input_len))
}

/// Gas of copying `len` bytes.
pub fn copy(len: usize) -> u64 {
    words(len).saturating_mul(COPY_PER_WORD)
}

/// Number of 32-byte words covering `len` bytes.
pub fn words(len: usize) -> u64 {
    (len as u64).div_ceil(32)
}

/// Fuel for `gas`, saturating.
pub fn fuel(gas: u64) -> u64 {
    gas.saturating_mul(FUEL_PER_GAS)
}

/// Gas for `fuel`, rounded up (a partly used gas unit is charged).
pub fn gas_of_fuel(fuel: u64) -> u64 {
    fuel.div_ceil(FUEL_PER_GAS)
}
