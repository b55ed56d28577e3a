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
//! recompile.

mod abi;
mod cache;
pub mod gas;
mod host;
mod validate;

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use parking_lot::Mutex;
use strata_primitives::{B256, keccak256};
use wasmtime::{Config, Engine, InstancePre, Linker, Memory, Module, OptLevel, Store, StoreLimits, StoreLimitsBuilder, Trap, WasmFeatures};

pub use abi::{EXPORT_CALL, EXPORT_DEPLOY, EXPORT_MEMORY, EXPORT_REENTRANT, IMPORTS, MAX_SYSTEM_SCAN, MODULE, SYSTEM_IMPORT};
pub use cache::DiskCache;
#[cfg(any(test, feature = "testing"))]
pub use host::testing;
pub use host::{CallContext, Host, HostError, SubCall, SubCallResult, SystemReply};
pub use validate::ModuleInfo;

/// Limits every contract runs under. Part of consensus: all nodes must agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest module accepted at deploy (bytes).
    pub max_code_size: usize,
    /// Linear-memory pages (64 KiB each) a contract may have.
    pub max_memory_pages: u32,
    /// Table elements a contract may have.
    pub max_table_elements: u32,
    /// Native stack available to Wasm code (bytes); deeper recursion traps.
    pub max_wasm_stack: usize,
    /// Nested contract calls.
    pub max_call_depth: u32,
    /// Input of a call (bytes).
    pub max_input_size: usize,
    /// Return or revert data (bytes).
    pub max_return_size: usize,
    /// Data of one log (bytes).
    pub max_log_data: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_code_size: 256 * 1024,
            max_memory_pages: 256,
            max_table_elements: 10_000,
            max_wasm_stack: 512 * 1024,
            max_call_depth: 64,
            max_input_size: 128 * 1024,
            max_return_size: 128 * 1024,
            max_log_data: 16 * 1024,
        }
    }
}

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

/// Engine failures that are the node's, not the contract's.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine could not be configured.
    #[error("wasm engine: {0}")]
    Engine(String),
    /// The host failed (storage…) while a contract ran.
    #[error("host failure during execution: {0}")]
    Host(String),
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

/// Engine settings.
#[derive(Debug, Clone, Default)]
pub struct VmConfig {
    /// Contract limits.
    pub limits: Limits,
    /// Directory for compiled modules (`None`: memory only).
    pub cache_dir: Option<PathBuf>,
}

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
    pre: InstancePre<Ctx>,
}

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contract").field("code_hash", &self.code_hash).field("info", &self.info).finish_non_exhaustive()
    }
}

/// Why a frame stopped early (carried through wasmtime as an error).
#[derive(Debug)]
enum Exit {
    Revert(Vec<u8>),
    Refused(String),
    Node(String),
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Revert(_) => write!(f, "revert"),
            Exit::Refused(m) => write!(f, "{m}"),
            Exit::Node(m) => write!(f, "node failure: {m}"),
        }
    }
}

impl std::error::Error for Exit {}

/// Per-frame store data.
struct Ctx {
    host: Option<Box<dyn Host>>,
    input: Vec<u8>,
    return_data: Vec<u8>,
    last_return: Vec<u8>,
    memory: Option<Memory>,
    store_limits: StoreLimits,
    limits: Limits,
}

impl Ctx {
    fn host(&self) -> wasmtime::Result<&dyn Host> {
        self.host.as_deref().ok_or_else(|| wasmtime::Error::new(Exit::Node("host missing".into())))
    }
    fn host_mut(&mut self) -> wasmtime::Result<&mut (dyn Host + 'static)> {
        self.host.as_deref_mut().ok_or_else(|| wasmtime::Error::new(Exit::Node("host missing".into())))
    }
}

/// Counters for tests and metrics.
#[derive(Debug, Default)]
pub struct VmStats {
    /// Modules compiled from Wasm.
    pub compiled: AtomicU64,
    /// Modules loaded from the disk cache.
    pub loaded_from_disk: AtomicU64,
}

/// Most contracts kept compiled in memory.
const MEMORY_CACHE_ENTRIES: usize = 512;

/// The engine.
pub struct Vm {
    engine: Engine,
    linker: Linker<Ctx>,
    limits: Limits,
    engine_hash: B256,
    disk: Option<DiskCache>,
    contracts: Mutex<BTreeMap<B256, Arc<Contract>>>,
    /// Counters.
    pub stats: VmStats,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm").field("limits", &self.limits).field("engine_hash", &self.engine_hash).finish_non_exhaustive()
    }
}

/// The deterministic wasmtime configuration (wasmtime's guide to deterministic execution).
fn engine_config(limits: &Limits) -> Config {
    let mut c = Config::new();
    // Everything not listed as allowed in docs/abi.md is switched off explicitly, whatever
    // wasmtime's defaults or compile-time features are.
    let forbidden = WasmFeatures::THREADS
        | WasmFeatures::SHARED_EVERYTHING_THREADS
        | WasmFeatures::SIMD
        | WasmFeatures::RELAXED_SIMD
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::FUNCTION_REFERENCES
        | WasmFeatures::GC
        | WasmFeatures::MULTI_MEMORY
        | WasmFeatures::MEMORY64
        | WasmFeatures::TAIL_CALL
        | WasmFeatures::CUSTOM_PAGE_SIZES
        | WasmFeatures::WIDE_ARITHMETIC
        | WasmFeatures::EXCEPTIONS
        | WasmFeatures::STACK_SWITCHING
        | WasmFeatures::COMPONENT_MODEL;
    c.wasm_features(forbidden, false);
    c.wasm_features(
        WasmFeatures::BULK_MEMORY
            | WasmFeatures::MULTI_VALUE
            | WasmFeatures::EXTENDED_CONST
            | WasmFeatures::SIGN_EXTENSION
            | WasmFeatures::MUTABLE_GLOBAL,
        true,
    );
    c.consume_fuel(true).cranelift_nan_canonicalization(true).cranelift_opt_level(OptLevel::Speed).max_wasm_stack(limits.max_wasm_stack);
    c
}

impl Vm {
    /// An engine with `config`.
    pub fn new(config: VmConfig) -> Result<Self> {
        let engine = Engine::new(&engine_config(&config.limits)).map_err(|e| Error::Engine(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        abi::link(&mut linker).map_err(|e| Error::Engine(e.to_string()))?;
        let engine_hash = {
            use std::hash::{Hash, Hasher};
            // Stable within one build of wasmtime: only used to name cache directories.
            let mut h = std::collections::hash_map::DefaultHasher::new();
            engine.precompile_compatibility_hash().hash(&mut h);
            format!("{:?}", config.limits).hash(&mut h);
            keccak256(h.finish().to_be_bytes())
        };
        let disk = match &config.cache_dir {
            Some(dir) => Some(DiskCache::new(dir, &engine_hash).map_err(|e| Error::Engine(format!("cache dir {}: {e}", dir.display())))?),
            None => None,
        };
        Ok(Self {
            engine,
            linker,
            limits: config.limits,
            engine_hash,
            disk,
            contracts: Mutex::new(BTreeMap::new()),
            stats: VmStats::default(),
        })
    }

    /// The limits contracts run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Hash naming this engine configuration (cache key).
    pub fn engine_hash(&self) -> B256 {
        self.engine_hash
    }

    fn link(&self, code_hash: B256, module: Module, info: ModuleInfo) -> Result<Arc<Contract>, DeployError> {
        let pre = self.linker.instantiate_pre(&module).map_err(|e| DeployError::Link(e.to_string()))?;
        let contract = Arc::new(Contract { code_hash, info, pre });
        let mut map = self.contracts.lock();
        if map.len() >= MEMORY_CACHE_ENTRIES {
            // Evict an arbitrary (lowest-hash) entry; it reloads from disk if needed.
            if let Some(first) = map.keys().next().copied() {
                map.remove(&first);
            }
        }
        map.insert(code_hash, contract.clone());
        Ok(contract)
    }

    /// Validates and compiles new contract code (a deploy). Cached by code hash.
    /// Refuses modules that import the privileged `system` function.
    pub fn prepare(&self, code: &[u8]) -> Result<Arc<Contract>, DeployError> {
        let contract = self.compile(code)?;
        if contract.info.privileged {
            return Err(DeployError::Privileged);
        }
        Ok(contract)
    }

    /// Validates and compiles a system contract for genesis (may import `system`).
    pub fn prepare_system(&self, code: &[u8]) -> Result<Arc<Contract>, DeployError> {
        self.compile(code)
    }

    fn compile(&self, code: &[u8]) -> Result<Arc<Contract>, DeployError> {
        let code_hash = keccak256(code);
        if let Some(c) = self.contracts.lock().get(&code_hash) {
            return Ok(c.clone());
        }
        let info = validate::inspect(code, &self.limits)?;
        if let Some(module) = self.disk.as_ref().and_then(|d| d.load(&self.engine, &code_hash)) {
            self.stats.loaded_from_disk.fetch_add(1, Ordering::Relaxed);
            return self.link(code_hash, module, info);
        }
        let module = Module::new(&self.engine, code).map_err(|e| DeployError::Invalid(format!("{e:#}")))?;
        self.stats.compiled.fetch_add(1, Ordering::Relaxed);
        if let Some(d) = &self.disk {
            d.store(&code_hash, &module);
        }
        self.link(code_hash, module, info)
    }

    /// The compiled contract for `code_hash` if it is in the memory cache: lets a caller
    /// skip reading (and hashing) the code of a contract it runs often.
    pub fn cached(&self, code_hash: &B256) -> Option<Arc<Contract>> {
        self.contracts.lock().get(code_hash).cloned()
    }

    /// The runnable contract for stored code (memory cache, then disk cache, then compile).
    pub fn load(&self, code_hash: B256, code: &[u8]) -> Result<Arc<Contract>> {
        if let Some(c) = self.cached(&code_hash) {
            return Ok(c);
        }
        self.compile(code).map_err(|e| Error::Load { code_hash, reason: e.to_string() })
    }

    /// Runs `entry` of `contract` with `gas`, handing the frame `host`. Returns the
    /// host back with the outcome. Guest failures are outcomes; only host (node)
    /// failures are errors.
    pub fn execute(
        &self,
        contract: &Contract,
        entry: Entry,
        host: Box<dyn Host>,
        input: Vec<u8>,
        gas: u64,
    ) -> (Box<dyn Host>, Result<Outcome>) {
        if gas < gas::FRAME {
            return (host, Ok(Outcome { status: Status::Failure("out of gas".into()), gas_used: gas, fuel_used: 0, output: Vec::new() }));
        }
        if entry == Entry::Deploy && !contract.info.has_deploy {
            return (host, Ok(Outcome { status: Status::Success, gas_used: gas::FRAME, fuel_used: 0, output: Vec::new() }));
        }
        let fuel = gas::fuel(gas.saturating_sub(gas::FRAME));
        let store_limits = StoreLimitsBuilder::new()
            .memory_size((self.limits.max_memory_pages as usize).saturating_mul(64 * 1024))
            .table_elements(self.limits.max_table_elements as usize)
            .instances(1)
            .memories(1)
            .tables(1)
            .trap_on_grow_failure(true)
            .build();
        let ctx = Ctx {
            host: Some(host),
            input,
            return_data: Vec::new(),
            last_return: Vec::new(),
            memory: None,
            store_limits,
            limits: self.limits,
        };
        let mut store = Store::new(&self.engine, ctx);
        store.limiter(|c| &mut c.store_limits);
        let name = match entry {
            Entry::Deploy => EXPORT_DEPLOY,
            Entry::Call => EXPORT_CALL,
        };
        let run = (|| -> wasmtime::Result<()> {
            store.set_fuel(fuel)?;
            let instance = contract.pre.instantiate(&mut store)?;
            let memory = instance.get_memory(&mut store, EXPORT_MEMORY).ok_or_else(|| wasmtime::Error::msg("no memory export"))?;
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
            Err(e) => match classify(e, &self.limits) {
                Classified::Revert(data) => Outcome { status: Status::Revert, gas_used: used, fuel_used, output: data },
                Classified::Failure(reason) => Outcome { status: Status::Failure(reason), gas_used: gas, fuel_used, output: Vec::new() },
                Classified::Node(reason) => return (host, Err(Error::Host(reason))),
            },
        };
        (host, Ok(outcome))
    }
}

enum Classified {
    Revert(Vec<u8>),
    Failure(String),
    Node(String),
}

/// Turns a wasmtime error into a deterministic outcome. Messages come from the
/// trap kind or our own exits, never from host-dependent context.
fn classify(e: wasmtime::Error, limits: &Limits) -> Classified {
    if let Some(exit) = e.downcast_ref::<Exit>() {
        return match exit {
            Exit::Revert(data) => Classified::Revert(data.clone()),
            Exit::Refused(m) => Classified::Failure(m.clone()),
            Exit::Node(m) => Classified::Node(m.clone()),
        };
    }
    if let Some(trap) = e.downcast_ref::<Trap>() {
        return Classified::Failure(match trap {
            Trap::OutOfFuel => "out of gas".to_string(),
            Trap::StackOverflow => "stack overflow (call depth or recursion too deep)".to_string(),
            other => format!("wasm trap: {other}"),
        });
    }
    // Resource-limit and instantiation errors: report the root cause only.
    let root = e.root_cause().to_string();
    if root.contains("memory") && (root.contains("limit") || root.contains("grow")) {
        return Classified::Failure(format!("memory limit exceeded ({} pages of 64 KiB max)", limits.max_memory_pages));
    }
    Classified::Failure(format!("execution failed: {root}"))
}

#[cfg(test)]
mod tests;
