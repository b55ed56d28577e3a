//! The host ABI's names and codes: what a contract imports from module `env`, what it
//! must export, what a nested call's status and a system op's number mean.
//!
//! The engine (`strata-vm`) links these imports and checks these exports; the SDK
//! (`strata-sdk`) declares them; `docs/abi.md` documents them. Signatures and gas are
//! the engine's (`strata_vm::gas`).

/// Import module name.
pub const MODULE: &str = "env";
/// Required export: the call entry point, `() -> ()`.
pub const EXPORT_CALL: &str = "call";
/// Optional export: the constructor, `() -> ()`, run once at deploy.
pub const EXPORT_DEPLOY: &str = "deploy";
/// Required export: the linear memory.
pub const EXPORT_MEMORY: &str = "memory";
/// Optional marker export: the contract accepts re-entrant calls.
pub const EXPORT_REENTRANT: &str = "strata_reentrant";

/// The privileged import only genesis system contracts may use:
/// `system(op, in_ptr, in_len) -> status`, result or revert data in the return buffer.
pub const SYSTEM_IMPORT: &str = "system";

/// Most keys one `system` key scan returns (its gas is charged for this many up front).
pub const MAX_SYSTEM_SCAN: u32 = 100;

/// Every function of the ABI a user contract may import, by name.
pub const IMPORTS: &[&str] = &[
    "input_size",
    "input_read",
    "return_data",
    "revert",
    "storage_read",
    "storage_write",
    "storage_remove",
    "caller",
    "origin",
    "self_address",
    "call_value",
    "balance",
    "block_number",
    "block_timestamp",
    "block_hash",
    "chain_id",
    "emit_log",
    "call",
    "static_call",
    "return_data_size",
    "return_data_copy",
    "keccak256",
    "ecrecover",
    "gas_left",
];

/// How a nested call ended, as `call`/`static_call` return it to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum CallStatus {
    /// Returned normally; its changes stand.
    Success = 0,
    /// Called `revert`: its changes roll back; its revert data is the return data.
    Revert = 1,
    /// Trapped, ran out of gas, broke a limit or was refused: its changes roll back and
    /// it used all the gas it was given; the reason is the return data.
    Failure = 2,
}

impl CallStatus {
    /// The status code a contract sees.
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// The status of `code`, if it is one.
    pub const fn from_code(code: u32) -> Option<Self> {
        match code {
            0 => Some(Self::Success),
            1 => Some(Self::Revert),
            2 => Some(Self::Failure),
            _ => None,
        }
    }
}

/// The privileged ops of the `system` import (archive contract only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum SystemOp {
    /// Move an entry to the cold store, leaving a tombstone.
    Archive = 1,
    /// Bring an archived entry back (from the cold store or supplied bytes).
    Restore = 2,
    /// List a contract's keys under a prefix (at most [`MAX_SYSTEM_SCAN`]).
    Keys = 3,
    /// Read a slot's tombstone.
    Tombstone = 4,
    /// Read a contract's storage quota record.
    Quota = 5,
    /// Set a contract's storage quota.
    SetQuota = 6,
}

impl SystemOp {
    /// The op number a contract passes.
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// The op of `code`, if it is one.
    pub const fn from_code(code: u32) -> Option<Self> {
        match code {
            1 => Some(Self::Archive),
            2 => Some(Self::Restore),
            3 => Some(Self::Keys),
            4 => Some(Self::Tombstone),
            5 => Some(Self::Quota),
            6 => Some(Self::SetQuota),
            _ => None,
        }
    }
}
