//! One frame of a contract: the compiled [`Contract`] it runs, the per-frame store
//! data and its resource limiter, running the entry point, and the sorting of how it
//! ended into a deterministic [`Outcome`] or a node [`Error`].
//!
//! The engine ([`crate::Vm`]) decides whether and where a frame runs (stack, gas,
//! deadline); this module runs it.

use strata_primitives::{
    B256,
    abi::{CallStatus, EXPORT_CALL, EXPORT_DEPLOY, EXPORT_MEMORY},
};
use wasmtime::{Engine, InstancePre, Memory, ResourceLimiter, Store, Trap};

use crate::{
    error::{Error, Result},
    gas,
    host::Host,
    limits::Limits,
    validate::ModuleInfo,
};

/// Which export to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// The constructor, at deploy (skipped if the module has none).
    Deploy,
    /// The call entry point.
    Call,
}

/// How a frame ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Returned normally.
    Success,
    /// Called `revert`: changes roll back, unused gas is kept by the caller.
    Revert,
    /// Trapped, ran out of gas, broke a limit or was refused: changes roll back and all
    /// gas handed to the frame is consumed. The text says why.
    Failure(String),
}

impl Status {
    /// The status code a calling contract sees for a frame that ended so.
    pub fn call_status(&self) -> CallStatus {
        match self {
            Status::Success => CallStatus::Success,
            Status::Revert => CallStatus::Revert,
            Status::Failure(_) => CallStatus::Failure,
        }
    }
}

/// The result of running one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// How it ended.
    pub status: Status,
    /// Gas used, including the frame cost (at most the gas given).
    pub gas_used: u64,
    /// Fuel the Wasm code and host calls consumed.
    pub fuel_used: u64,
    /// Return data (success) or revert data (revert).
    pub output: Vec<u8>,
}

/// A deployed contract ready to run: validated, compiled and pre-linked.
pub struct Contract {
    /// Keccak-256 of the code.
    pub code_hash: B256,
    /// What the deploy checks learned.
    pub info: ModuleInfo,
    /// Bytes of compiled machine code (what it costs the memory cache).
    pub compiled_bytes: usize,
    pub(crate) pre: InstancePre<Ctx>,
}

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contract").field("code_hash", &self.code_hash).field("info", &self.info).finish_non_exhaustive()
    }
}

/// Why a frame stopped early (carried through wasmtime as an error).
#[derive(Debug)]
pub(crate) enum Exit {
    Revert(Vec<u8>),
    Refused(String),
    Node(String),
    Interrupted,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Revert(_) => write!(f, "revert"),
            Exit::Refused(m) => write!(f, "{m}"),
            Exit::Node(m) => write!(f, "node failure: {m}"),
            Exit::Interrupted => write!(f, "interrupted"),
        }
    }
}

impl std::error::Error for Exit {}

/// Per-frame store data.
pub(crate) struct Ctx {
    host: Option<Box<dyn Host>>,
    pub(crate) input: Vec<u8>,
    pub(crate) return_data: Vec<u8>,
    pub(crate) last_return: Vec<u8>,
    pub(crate) memory: Option<Memory>,
    pub(crate) limits: Limits,
}

/// The frame's resource limits. Every refusal here is decided from the request and
/// the limits alone (deterministic); a growth the rules allow but the host cannot
/// provide (address space, host memory) is a node failure.
impl ResourceLimiter for Ctx {
    fn memory_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let limit = (self.limits.max_memory_pages as usize).saturating_mul(64 * 1024);
        if desired > limit {
            return Err(wasmtime::Error::new(Exit::Refused(format!(
                "memory limit exceeded ({} pages of 64 KiB max)",
                self.limits.max_memory_pages
            ))));
        }
        // Beyond the module's own declared maximum: `memory.grow` returns -1, as the Wasm
        // specification says.
        Ok(maximum.is_none_or(|max| desired <= max))
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(wasmtime::Error::new(Exit::Node(format!("the host could not grow a contract's memory: {error:#}"))))
    }

    fn table_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limits.max_table_elements as usize {
            return Err(wasmtime::Error::new(Exit::Refused(format!(
                "table limit exceeded ({} elements max)",
                self.limits.max_table_elements
            ))));
        }
        Ok(maximum.is_none_or(|max| desired <= max))
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(wasmtime::Error::new(Exit::Node(format!("the host could not grow a contract's table: {error:#}"))))
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }
}

impl Ctx {
    pub(crate) fn host(&self) -> wasmtime::Result<&dyn Host> {
        self.host.as_deref().ok_or_else(|| wasmtime::Error::new(Exit::Node("host missing".into())))
    }
    pub(crate) fn host_mut(&mut self) -> wasmtime::Result<&mut (dyn Host + 'static)> {
        self.host.as_deref_mut().ok_or_else(|| wasmtime::Error::new(Exit::Node("host missing".into())))
    }
}

/// A store for one frame handing `host` the `input`, under `limits`; execution traps
/// as interrupted after `epochs` epochs of `engine`.
pub(crate) fn store(engine: &Engine, host: Box<dyn Host>, input: Vec<u8>, limits: Limits, epochs: u64) -> Store<Ctx> {
    let ctx = Ctx { host: Some(host), input, return_data: Vec::new(), last_return: Vec::new(), memory: None, limits };
    let mut store = Store::new(engine, ctx);
    store.limiter(|c| c);
    store.set_epoch_deadline(epochs);
    store.epoch_deadline_trap();
    store
}

/// Runs `entry` of `contract` in `store` with `gas` (at least [`gas::FRAME`]), and
/// returns the host with the outcome. Guest failures are outcomes; only host (node)
/// failures are errors.
pub(crate) fn run(mut store: Store<Ctx>, contract: &Contract, entry: Entry, gas: u64) -> (Box<dyn Host>, Result<Outcome>) {
    let fuel = gas::fuel(gas.saturating_sub(gas::FRAME));
    let name = match entry {
        Entry::Deploy => EXPORT_DEPLOY,
        Entry::Call => EXPORT_CALL,
    };
    let run = (|| -> wasmtime::Result<()> {
        store.set_fuel(fuel)?;
        let instance = contract.pre.instantiate(&mut store)?;
        let memory = instance.get_memory(&mut store, EXPORT_MEMORY).ok_or_else(|| Exit::Node("no memory export".into()))?;
        store.data_mut().memory = Some(memory);
        let func = instance.get_typed_func::<(), ()>(&mut store, name)?;
        func.call(&mut store, ())
    })();
    let fuel_used = fuel.saturating_sub(store.get_fuel().unwrap_or(0));
    let mut ctx = store.into_data();
    let host = ctx.host.take().expect("the host is only borrowed during the frame");
    let used = gas::FRAME.saturating_add(gas::gas_of_fuel(fuel_used)).min(gas);
    let outcome = match run {
        Ok(()) => Outcome { status: Status::Success, gas_used: used, fuel_used, output: ctx.return_data },
        Err(e) => match classify(e) {
            Classified::Revert(data) => Outcome { status: Status::Revert, gas_used: used, fuel_used, output: data },
            Classified::Failure(reason) => Outcome { status: Status::Failure(reason), gas_used: gas, fuel_used, output: Vec::new() },
            Classified::Node(e) => return (host, Err(e)),
        },
    };
    (host, Ok(outcome))
}

enum Classified {
    Revert(Vec<u8>),
    Failure(String),
    Node(Error),
}

/// Sorts a frame's error into a deterministic outcome or a node failure, by type only.
///
/// Deterministic (the same on every node, so it may go on chain): our own exits
/// (revert, a refusal by a host function or the resource limiter) and traps raised by
/// the Wasm code itself (out of fuel, stack overflow, unreachable, out-of-bounds
/// access, …). Everything else — instantiation failing for want of address space,
/// memory the host could not provide, a host (storage) failure, the wall-clock
/// deadline — is the node's, and must never become a receipt.
fn classify(e: wasmtime::Error) -> Classified {
    if let Some(exit) = e.downcast_ref::<Exit>() {
        return match exit {
            Exit::Revert(data) => Classified::Revert(data.clone()),
            Exit::Refused(m) => Classified::Failure(m.clone()),
            Exit::Node(m) => Classified::Node(Error::Host(m.clone())),
            Exit::Interrupted => Classified::Node(Error::Interrupted),
        };
    }
    if let Some(trap) = e.downcast_ref::<Trap>() {
        return match trap {
            Trap::Interrupt => Classified::Node(Error::Interrupted),
            Trap::OutOfFuel => Classified::Failure("out of gas".to_string()),
            Trap::StackOverflow => Classified::Failure("stack overflow (call depth or recursion too deep)".to_string()),
            other => Classified::Failure(format!("wasm trap: {other}")),
        };
    }
    Classified::Node(Error::Host(format!("{e:#}")))
}
