//! Strata's contract engine: WebAssembly on wasmtime, deterministic and metered.
//!
//! Why a crate of its own: the engine is the part most exposed to hostile input
//! and the part that must behave identically on every node. It owns the wasmtime
//! configuration (fuel metering, NaN canonicalisation, no threads, no SIMD, no
//! host-dependent features, bounded memory, tables, stack and call depth), the
//! deploy-time checks, the compiled-module caches and the host ABI — and nothing
//! else: state, value transfers and nested-call bookkeeping belong to the
//! executor, behind the [`Host`] trait.
//!
//! Contracts are compiled once, at deploy, and cached by code hash in memory (as
//! pre-linked `InstancePre`s) and on disk (by engine configuration and code hash),
//! so a call costs an instantiation and a dispatch, and a restarted node does not
//! recompile. Both caches are bounded and evict the least recently used; code only an
//! RPC simulation deployed is compiled for that run alone ([`CachePolicy`]).
//!
//! What the node can rely on: a contract never crashes the process. Contracts run only
//! on threads with a native stack for the worst call chain ([`stack`]); a guest failure
//! is a deterministic [`Status::Failure`]; anything the host could not provide is an
//! [`Error`], sorted by type, never by message; a wall-clock deadline (simulations only)
//! interrupts execution through wasmtime's epochs.
//!
//! Where things are: [`Limits`] and [`VmConfig`] in `limits.rs`, the errors in
//! `error.rs`, the engine and its caches in `engine.rs` (with `cache.rs` on disk and
//! `memo.rs` in memory), one frame's run in `frame.rs`, the host ABI in `abi.rs`,
//! the [`Host`] trait in `host.rs`, deploy-time checks in `validate.rs`, the gas
//! schedule in [`gas`] and native stacks in [`stack`].

mod abi;
mod cache;
mod engine;
mod error;
mod frame;
pub mod gas;
mod host;
mod limits;
mod memo;
pub mod stack;
mod validate;

pub use abi::{EXPORT_CALL, EXPORT_DEPLOY, EXPORT_MEMORY, EXPORT_REENTRANT, IMPORTS, MAX_SYSTEM_SCAN, MODULE, SYSTEM_IMPORT};
pub use cache::{DEFAULT_DISK_CACHE_BYTES, DiskCache};
pub use engine::{EPOCH_TICK, Vm, VmStats};
pub use error::{DeployError, Error, Result};
pub use frame::{Contract, Entry, Outcome, Status};
#[cfg(any(test, feature = "testing"))]
pub use host::testing;
pub use host::{CallContext, Host, HostError, SubCall, SubCallResult, SystemReply};
pub use limits::{CachePolicy, Limits, MAX_CODE_SIZE, MAX_STORED_CODE_SIZE, VmConfig};
pub use stack::{ExecPool, PoolError, Priority};
pub use strata_primitives::abi::{CallStatus, SystemOp};
pub use validate::ModuleInfo;

#[cfg(test)]
mod tests;
