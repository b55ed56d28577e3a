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

mod abi;
mod cache;
pub mod gas;
mod host;
mod memo;
pub mod stack;
mod validate;

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use parking_lot::Mutex;
pub use strata_primitives::abi::{CallStatus, SystemOp};
use strata_primitives::{B256, keccak256};
use wasmtime::{Config, Engine, InstancePre, Linker, Memory, Module, OptLevel, ResourceLimiter, Store, Trap, WasmFeatures};

pub use abi::{EXPORT_CALL, EXPORT_DEPLOY, EXPORT_MEMORY, EXPORT_REENTRANT, IMPORTS, MAX_SYSTEM_SCAN, MODULE, SYSTEM_IMPORT};
pub use cache::{DEFAULT_DISK_CACHE_BYTES, DiskCache};
#[cfg(any(test, feature = "testing"))]
pub use host::testing;
pub use host::{CallContext, Host, HostError, SubCall, SubCallResult, SystemReply};
pub use stack::{ExecPool, PoolError};
pub use validate::ModuleInfo;

/// Largest module accepted at deploy (bytes): with its framing, constructor input and
/// signature it must fit in the largest transaction (128 KiB).
pub const MAX_CODE_SIZE: usize = 124 * 1024;

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
            max_code_size: MAX_CODE_SIZE,
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

/// Engine failures that are the node's, not the contract's: none of them may become a
/// transaction's result, because another node would not see the same failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine could not be configured.
    #[error("wasm engine: {0}")]
    Engine(String),
    /// The host failed while a contract ran: storage, instantiation (address space),
    /// host memory, native stack.
    #[error("host failure during execution: {0}")]
    Host(String),
    /// The execution passed its wall-clock deadline (RPC simulations only; block
    /// execution has none).
    #[error("execution interrupted: wall-clock deadline passed")]
    Interrupted,
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
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// Contract limits.
    pub limits: Limits,
    /// Directory for compiled modules (`None`: memory only).
    pub cache_dir: Option<PathBuf>,
    /// Most bytes of compiled modules kept on disk (least recently used leave first).
    pub disk_cache_bytes: u64,
    /// Most compiled contracts kept in memory.
    pub memory_cache_entries: usize,
    /// Most bytes of compiled code kept in memory (least recently used leave first).
    pub memory_cache_bytes: usize,
}

impl Default for VmConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            cache_dir: None,
            disk_cache_bytes: DEFAULT_DISK_CACHE_BYTES,
            memory_cache_entries: 512,
            memory_cache_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Whether a compiled module may be kept for later: code on chain was paid for; code
/// that only an RPC simulation deployed was not, and is compiled for that run only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachePolicy {
    /// Keep it in the memory and disk caches.
    Keep,
    /// Use a cached copy if there is one, but do not add to the caches.
    Transient,
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
struct Ctx {
    host: Option<Box<dyn Host>>,
    input: Vec<u8>,
    return_data: Vec<u8>,
    last_return: Vec<u8>,
    memory: Option<Memory>,
    limits: Limits,
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
    /// Top-level frames that had to move to a thread with a larger stack (callers
    /// should run contracts on [`ExecPool`] threads instead).
    pub stack_hops: AtomicU64,
}

/// How often the engine's epoch advances: the granularity of wall-clock deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Advances the engine's epoch every [`EPOCH_TICK`] while the [`Vm`] lives (started
/// the first time a deadline is asked for).
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The engine.
pub struct Vm {
    engine: Engine,
    linker: Linker<Ctx>,
    limits: Limits,
    engine_hash: B256,
    disk: Option<DiskCache>,
    contracts: Mutex<memo::Lru>,
    /// Native stack a thread needs to run any transaction.
    stack_size: usize,
    ticker: std::sync::OnceLock<Ticker>,
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
    // Wall-clock deadlines for RPC simulations. Block execution runs without one (its
    // deadline is never reached), so this cannot make two nodes disagree.
    c.epoch_interruption(true);
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
            Some(dir) => Some(
                DiskCache::new(dir, &engine_hash, config.disk_cache_bytes)
                    .map_err(|e| Error::Engine(format!("cache dir {}: {e}", dir.display())))?,
            ),
            None => None,
        };
        Ok(Self {
            engine,
            linker,
            limits: config.limits,
            engine_hash,
            disk,
            contracts: Mutex::new(memo::Lru::new(config.memory_cache_entries, config.memory_cache_bytes)),
            stack_size: stack::required_stack(&config.limits),
            ticker: std::sync::OnceLock::new(),
            stats: VmStats::default(),
        })
    }

    /// Native stack a thread needs to run any transaction under this engine's limits
    /// (what [`ExecPool`]s for it must be given).
    pub fn stack_size(&self) -> usize {
        self.stack_size
    }

    /// Compiled contracts in the memory cache and the bytes of their code.
    pub fn memory_cache_usage(&self) -> (usize, usize) {
        let c = self.contracts.lock();
        (c.len(), c.bytes())
    }

    /// The disk cache of compiled modules, if the engine has one.
    pub fn disk_cache(&self) -> Option<&DiskCache> {
        self.disk.as_ref()
    }

    fn start_ticker(&self) {
        self.ticker.get_or_init(|| {
            let stop = Arc::new(AtomicBool::new(false));
            let (engine, flag) = (self.engine.clone(), stop.clone());
            let spawned = std::thread::Builder::new().name("strata-vm-epoch".into()).spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start the epoch ticker: deadlines will not interrupt execution");
            }
            Ticker { stop }
        });
    }

    /// The limits contracts run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Hash naming this engine configuration (cache key).
    pub fn engine_hash(&self) -> B256 {
        self.engine_hash
    }

    fn link(&self, code_hash: B256, module: Module, info: ModuleInfo, policy: CachePolicy) -> Result<Arc<Contract>, DeployError> {
        let pre = self.linker.instantiate_pre(&module).map_err(|e| DeployError::Link(e.to_string()))?;
        let range = module.image_range();
        let compiled_bytes = (range.end as usize).saturating_sub(range.start as usize);
        let contract = Arc::new(Contract { code_hash, info, compiled_bytes, pre });
        if policy == CachePolicy::Keep {
            self.contracts.lock().insert(code_hash, contract.clone());
        }
        Ok(contract)
    }

    /// Validates and compiles new contract code (a deploy). Cached by code hash.
    /// Refuses modules that import the privileged `system` function.
    pub fn prepare(&self, code: &[u8]) -> Result<Arc<Contract>, DeployError> {
        self.prepare_with(code, CachePolicy::Keep)
    }

    /// [`Vm::prepare`] with a cache policy: a simulated deploy compiles
    /// [`CachePolicy::Transient`]ly, so RPC calls nobody pays for cannot fill the caches.
    pub fn prepare_with(&self, code: &[u8], policy: CachePolicy) -> Result<Arc<Contract>, DeployError> {
        let contract = self.compile(code, policy)?;
        if contract.info.privileged {
            return Err(DeployError::Privileged);
        }
        Ok(contract)
    }

    /// Gas of deploying `code` ([`gas::deploy`]): its size and the functions it defines,
    /// found by a parse of its sections, before anything is compiled.
    pub fn deploy_gas(&self, code: &[u8]) -> Result<u64, DeployError> {
        let info = validate::inspect(code, &self.limits)?;
        Ok(gas::deploy(code.len(), info.functions))
    }

    /// Validates and compiles a system contract for genesis (may import `system`).
    pub fn prepare_system(&self, code: &[u8]) -> Result<Arc<Contract>, DeployError> {
        self.compile(code, CachePolicy::Keep)
    }

    fn compile(&self, code: &[u8], policy: CachePolicy) -> Result<Arc<Contract>, DeployError> {
        let code_hash = keccak256(code);
        if let Some(c) = self.contracts.lock().get(&code_hash) {
            return Ok(c);
        }
        let info = validate::inspect(code, &self.limits)?;
        if let Some(module) = self.disk.as_ref().and_then(|d| d.load(&self.engine, &code_hash)) {
            self.stats.loaded_from_disk.fetch_add(1, Ordering::Relaxed);
            return self.link(code_hash, module, info, policy);
        }
        let module = Module::new(&self.engine, code).map_err(|e| DeployError::Invalid(format!("{e:#}")))?;
        self.stats.compiled.fetch_add(1, Ordering::Relaxed);
        if let (Some(d), CachePolicy::Keep) = (&self.disk, policy) {
            d.store(&code_hash, &module);
        }
        self.link(code_hash, module, info, policy)
    }

    /// The compiled contract for `code_hash` if it is in the memory cache: lets a caller
    /// skip reading (and hashing) the code of a contract it runs often.
    pub fn cached(&self, code_hash: &B256) -> Option<Arc<Contract>> {
        self.contracts.lock().get(code_hash)
    }

    /// The runnable contract for stored code (memory cache, then disk cache, then compile).
    pub fn load(&self, code_hash: B256, code: &[u8]) -> Result<Arc<Contract>> {
        self.load_with(code_hash, code, CachePolicy::Keep)
    }

    /// [`Vm::load`] with a cache policy (see [`CachePolicy`]).
    pub fn load_with(&self, code_hash: B256, code: &[u8], policy: CachePolicy) -> Result<Arc<Contract>> {
        if let Some(c) = self.cached(&code_hash) {
            return Ok(c);
        }
        self.compile(code, policy).map_err(|e| Error::Load { code_hash, reason: e.to_string() })
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
        self.execute_until(contract, entry, host, input, gas, None)
    }

    /// [`Vm::execute`] with a wall-clock `deadline` (RPC simulations): past it, the
    /// frame stops with [`Error::Interrupted`] — a node-side error, never an outcome.
    ///
    /// Runs on the calling thread if it is an [`ExecPool`] thread (or otherwise made by
    /// [`stack::on_vm_stack`]) with room for the frame; a top-level frame called from any
    /// other thread moves to a scoped thread with [`Vm::stack_size`] of stack for its
    /// duration (see [`stack`]).
    pub fn execute_until(
        &self,
        contract: &Contract,
        entry: Entry,
        host: Box<dyn Host>,
        input: Vec<u8>,
        gas: u64,
        deadline: Option<Instant>,
    ) -> (Box<dyn Host>, Result<Outcome>) {
        let frame_stack = self.limits.max_wasm_stack.saturating_add(stack::HOST_STACK_PER_FRAME);
        match stack::remaining() {
            None => {
                self.stats.stack_hops.fetch_add(1, Ordering::Relaxed);
                return stack::on_vm_stack(self.stack_size, move || self.execute_until(contract, entry, host, input, gas, deadline));
            }
            Some(left) if left < frame_stack => {
                let e = Error::Host(format!("native stack exhausted: {left} bytes left, a frame needs {frame_stack}"));
                return (host, Err(e));
            }
            Some(_) => {}
        }
        if gas < gas::FRAME {
            return (host, Ok(Outcome { status: Status::Failure("out of gas".into()), gas_used: gas, fuel_used: 0, output: Vec::new() }));
        }
        if entry == Entry::Deploy && !contract.info.has_deploy {
            return (host, Ok(Outcome { status: Status::Success, gas_used: gas::FRAME, fuel_used: 0, output: Vec::new() }));
        }
        let epochs = match deadline {
            None => u64::MAX / 2,
            Some(at) => {
                let Some(left) = at.checked_duration_since(Instant::now()) else { return (host, Err(Error::Interrupted)) };
                self.start_ticker();
                (left.as_nanos() / EPOCH_TICK.as_nanos()).try_into().unwrap_or(u64::MAX / 2).saturating_add(1)
            }
        };
        let fuel = gas::fuel(gas.saturating_sub(gas::FRAME));
        let ctx = Ctx { host: Some(host), input, return_data: Vec::new(), last_return: Vec::new(), memory: None, limits: self.limits };
        let mut store = Store::new(&self.engine, ctx);
        store.limiter(|c| c);
        store.set_epoch_deadline(epochs);
        store.epoch_deadline_trap();
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

#[cfg(test)]
mod tests;
