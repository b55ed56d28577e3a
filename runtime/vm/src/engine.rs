//! The engine: the deterministic wasmtime configuration, the [`Vm`] that compiles,
//! validates and caches contracts (memory, then disk), and the entry point that runs a
//! frame on a thread with stack enough for it, under an optional wall-clock deadline.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use strata_primitives::{B256, keccak256};
use wasmtime::{Config, Engine, Linker, Module, OptLevel, WasmFeatures};

use crate::{
    abi,
    cache::DiskCache,
    error::{DeployError, Error, Result},
    frame::{self, Contract, Ctx, Entry, Outcome, Status},
    gas,
    host::Host,
    limits::{CachePolicy, Limits, MAX_STORED_CODE_SIZE, VmConfig},
    memo, stack,
    validate::{self, ModuleInfo},
};

/// Counters for tests and metrics.
#[derive(Debug, Default)]
pub struct VmStats {
    /// Modules compiled from Wasm.
    pub compiled: AtomicU64,
    /// Modules loaded from the disk cache.
    pub loaded_from_disk: AtomicU64,
    /// Top-level frames that had to move to a thread with a larger stack (callers
    /// should run contracts on [`ExecPool`](crate::ExecPool) threads instead).
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
    /// (what [`ExecPool`](crate::ExecPool)s for it must be given).
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
        // Checked before the cache: a module stored by the genesis may be larger.
        if code.len() > self.limits.max_code_size {
            return Err(DeployError::TooLarge { size: code.len(), max: self.limits.max_code_size });
        }
        let contract = self.compile(code, policy, self.limits.max_code_size)?;
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

    /// Validates and compiles a system contract for genesis (may import `system`, may be
    /// up to [`MAX_STORED_CODE_SIZE`]: the genesis is trusted code, not a transaction).
    pub fn prepare_system(&self, code: &[u8]) -> Result<Arc<Contract>, DeployError> {
        self.compile(code, CachePolicy::Keep, self.stored_code_limit())
    }

    /// The size bound of code already in state: what a deploy accepted, or the genesis
    /// installed.
    fn stored_code_limit(&self) -> usize {
        MAX_STORED_CODE_SIZE.max(self.limits.max_code_size)
    }

    fn compile(&self, code: &[u8], policy: CachePolicy, max_code_size: usize) -> Result<Arc<Contract>, DeployError> {
        let code_hash = keccak256(code);
        if let Some(c) = self.contracts.lock().get(&code_hash) {
            return Ok(c);
        }
        let info = validate::inspect(code, &Limits { max_code_size, ..self.limits })?;
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
        self.compile(code, policy, self.stored_code_limit()).map_err(|e| Error::Load { code_hash, reason: e.to_string() })
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
    /// Runs on the calling thread if it is an [`ExecPool`](crate::ExecPool) thread (or otherwise made by
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
        let store = frame::store(&self.engine, host, input, self.limits, epochs);
        frame::run(store, contract, entry, gas)
    }
}
