//! The Strata node: wiring of storage, chain, block production and JSON-RPC.
//!
//! Why a library beside the `strata` binary: tests and tools start a real node
//! in-process (RocksDB on disk, RPC on a real socket) through the same
//! [`Node::start`] the binary calls, so what is tested is what ships.

pub mod abi;
pub mod attest;
pub mod certify;
pub mod client;
pub mod clock;
pub mod config;
pub mod contract;
pub mod hierarchy;
pub mod keystore;
pub mod metrics;
pub mod multi;
pub mod slot_roles;
pub mod sync;
pub mod validator;
pub mod wire;

pub use multi::{ChainRole, MultiNode};

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use strata_chain::{Chain, ChainConfig, ChainSpec, FeeRecipient, FeeSplit};
use strata_db::RocksKv;
use strata_network::{Network, NetworkConfig, Peer, Transport};
use strata_primitives::{
    consensus::ValidatorSet,
    keys::{self, DevKey},
};
use tokio::{sync::watch, task::JoinHandle};

/// Node failures at start-up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be opened.
    #[error("cannot open the database: {0}")]
    Storage(#[from] strata_storage::Error),
    /// The chain could not be opened.
    #[error(transparent)]
    Chain(#[from] strata_chain::Error),
    /// The RPC server could not start.
    #[error(transparent)]
    Rpc(#[from] strata_rpc::Error),
    /// Key derivation failed.
    #[error(transparent)]
    Keys(#[from] strata_primitives::Error),
    /// The validator transport failed.
    #[error(transparent)]
    Network(#[from] strata_network::Error),
    /// A configuration or genesis file is wrong.
    #[error("configuration: {0}")]
    Config(String),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How the dev node makes blocks, as anvil does: clients see the same chain behaviour
/// they see there (and on a real chain, which never stops making blocks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mining {
    /// A block as soon as transactions are pending, never an empty one; and
    /// `eth_sendRawTransaction` answers once its transaction is in a committed block
    /// (if it can be included now: at most [`INSTANT_INCLUSION_WAIT`]), so a client's
    /// first receipt query finds it.
    Instant,
    /// A block every interval, empty or not, so clients waiting for the next block get one.
    Interval(Duration),
}

/// How long `eth_sendRawTransaction` waits for inclusion under [`Mining::Instant`].
pub const INSTANT_INCLUSION_WAIT: Duration = Duration::from_secs(10);

impl std::fmt::Display for Mining {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Instant => f.write_str("instant (a block per batch of pending transactions)"),
            Self::Interval(d) => write!(f, "every {} ms, empty blocks included", d.as_millis()),
        }
    }
}

/// Configuration of `strata dev`.
#[derive(Debug, Clone)]
pub struct DevConfig {
    /// Node data: RocksDB in `chain/`, compiled contracts in `wasm-cache/`.
    pub data_dir: PathBuf,
    /// JSON-RPC listen address (HTTP and WebSocket).
    pub rpc_addr: SocketAddr,
    /// Chain id.
    pub chain_id: u64,
    /// How blocks are made: on demand (the default) or on an interval.
    pub mining: Mining,
    /// How many recent blocks' state stays queryable.
    pub retain_blocks: u64,
    /// The cold store's directory (archived contract data; may be on a slower disk).
    /// Default: `<data_dir>/cold`.
    pub cold_dir: Option<PathBuf>,
    /// Validators that share the fees (default: the dev validator alone, NVMe).
    pub validators: Vec<FeeRecipient>,
    /// How fees are split among them.
    pub fee_split: FeeSplit,
    /// Where `/metrics` and `/health` are served (none if unset).
    pub metrics_addr: Option<SocketAddr>,
    /// Origins browser dapps may call the RPC from (`*`: any, the dev default; none: no CORS).
    pub cors: Option<Vec<String>>,
    /// Serve the explorer at `/explorer` on the RPC port.
    pub explorer: bool,
    /// Most gas one RPC simulation may use (`None`: the block gas limit).
    pub rpc_gas_cap: Option<u64>,
    /// Wall-clock time an RPC simulation may take.
    pub rpc_timeout: Duration,
}

impl DevConfig {
    /// The cold store's directory.
    pub fn cold_dir(&self) -> PathBuf {
        self.cold_dir.clone().unwrap_or_else(|| self.data_dir.join("cold"))
    }

    /// The chain this configuration runs.
    pub fn spec(&self) -> ChainSpec {
        let mut spec = ChainSpec::dev(self.chain_id);
        if !self.validators.is_empty() {
            spec.fee_recipients = self.validators.clone();
        }
        spec.fee_split = self.fee_split;
        spec
    }
}

impl Default for DevConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(".strata/dev"),
            rpc_addr: SocketAddr::from(([127, 0, 0, 1], 8545)),
            chain_id: strata_chain::DEV_CHAIN_ID,
            mining: Mining::Instant,
            retain_blocks: strata_state::DEFAULT_RETAIN,
            cold_dir: None,
            validators: Vec::new(),
            fee_split: FeeSplit::Equal,
            metrics_addr: None,
            cors: Some(vec!["*".to_string()]),
            explorer: true,
            rpc_gas_cap: None,
            rpc_timeout: Duration::from_millis(config::default_rpc_timeout()),
        }
    }
}

/// The accounts `strata dev` funds at genesis (public test keys).
pub fn dev_accounts() -> Result<Vec<DevKey>> {
    Ok(keys::derive_accounts(keys::DEV_MNEMONIC, 10)?)
}

/// A running node: a single-validator dev chain, or one validator of a network.
pub struct Node {
    chain: Arc<Chain>,
    rpc_addr: SocketAddr,
    rpc: jsonrpsee::server::ServerHandle,
    driver: JoinHandle<Result<()>>,
    shutdown: watch::Sender<bool>,
    network: Option<Network>,
    /// The `/metrics` and `/health` server: its address and task.
    metrics: Option<(SocketAddr, JoinHandle<()>)>,
}

/// Opens a node's databases — RocksDB in `<data_dir>/chain`, the cold store in
/// `cold_dir`, compiled contracts in `<data_dir>/wasm-cache` — and its chain.
/// With `engine`, the chain runs contracts on that (shared) engine and its caches.
fn open_chain(
    data_dir: &std::path::Path,
    cold_dir: PathBuf,
    spec: ChainSpec,
    me: strata_primitives::Address,
    retain: u64,
    engine: Option<Arc<strata_vm::Vm>>,
    faults: strata_chain::Faults,
) -> Result<Arc<Chain>> {
    let kv = Arc::new(RocksKv::open(data_dir.join("chain"))?);
    let cold = Arc::new(RocksKv::open(cold_dir)?);
    // The pool journal in a database of its own: a certification's synced write does
    // not wait behind a block's commit.
    let journal = Some(strata_chain::JournalStore(Arc::new(RocksKv::open(data_dir.join("journal"))?)));
    let vm = strata_vm::VmConfig { cache_dir: Some(data_dir.join("wasm-cache")), ..Default::default() };
    Ok(Chain::open(kv, cold, spec, me, ChainConfig { retain, vm, engine, faults, journal, ..ChainConfig::default() })?)
}

/// One Wasm engine for several chains of a process: one compiled-module cache (in
/// memory and under `cache_dir`) and one set of limits for all.
pub fn shared_engine(cache_dir: PathBuf) -> Result<Arc<strata_vm::Vm>> {
    let config = strata_vm::VmConfig { cache_dir: Some(cache_dir), ..Default::default() };
    Ok(Arc::new(strata_vm::Vm::new(config).map_err(strata_chain::Error::from)?))
}

/// Puts the transactions this validator certified, and has not seen included, back
/// into its pool (see [`strata_chain::Chain::reload_journal`]).
async fn reload_journal(chain: &Arc<Chain>) -> Result<()> {
    let c = chain.clone();
    strata_chain::run_on(&chain.pools().admission, move || c.reload_journal())
        .await
        .map_err(|e| Error::Config(format!("admission threads: {e}")))??;
    Ok(())
}

/// What [`serve`] starts: the RPC address and server, and the metrics server if any.
type Served = (SocketAddr, jsonrpsee::server::ServerHandle, Option<(SocketAddr, JoinHandle<()>)>);

/// What a node's RPC server is told: where, CORS, simulation limits, metrics.
struct Serve {
    certifier: Option<Arc<certify::Certifier>>,
    rpc_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    cors: Option<Vec<String>>,
    explorer: bool,
    gas_cap: Option<u64>,
    timeout: Duration,
    await_inclusion: Option<Duration>,
}

/// Starts JSON-RPC on `rpc_addr` and, if asked, `/metrics` and `/health` on `metrics_addr`.
async fn serve(chain: &Arc<Chain>, s: Serve) -> Result<Served> {
    let Serve { certifier, rpc_addr, metrics_addr, cors, explorer, gas_cap, timeout, await_inclusion } = s;
    let rpc_metrics = Arc::new(strata_rpc::metrics::RpcMetrics::default());
    let rpc_config = strata_rpc::RpcConfig {
        metrics: Some(rpc_metrics.clone()),
        cors,
        explorer,
        gas_cap,
        simulation_timeout: timeout,
        await_inclusion,
        certifier: certifier.map(|c| Arc::new(certify::CertifyHandle(c)) as Arc<dyn strata_rpc::CertifyService>),
        ..Default::default()
    };
    let (addr, handle) = strata_rpc::start(chain.clone(), rpc_addr, rpc_config).await?;
    let metrics = match metrics_addr {
        Some(at) => Some(metrics::serve(at, chain.clone(), rpc_metrics).await.map_err(|e| Error::Config(format!("metrics on {at}: {e}")))?),
        None => None,
    };
    Ok((addr, handle, metrics))
}

impl Node {
    /// Opens (or creates) the dev chain under `config.data_dir` and starts consensus
    /// (one validator: the same driver as a network, deciding alone) and the RPC
    /// server. Must be called inside a tokio runtime.
    pub async fn start(config: DevConfig) -> Result<Self> {
        Self::start_on(config, None).await
    }

    /// [`Node::start`] on a Wasm engine shared with other chains of this process (see
    /// [`shared_engine`]); `None`: an engine of its own.
    pub async fn start_on(config: DevConfig, engine: Option<Arc<strata_vm::Vm>>) -> Result<Self> {
        let key = strata_chain::dev_validator_key();
        let chain = open_chain(
            &config.data_dir,
            config.cold_dir(),
            config.spec(),
            key.address(),
            config.retain_blocks,
            engine,
            Default::default(),
        )?;
        reload_journal(&chain).await?;
        let (hub, mut inboxes) = strata_network::mem::MemHub::new(1);
        let inbound = inboxes.remove(0);
        let transport: Arc<dyn Transport> = Arc::new(hub.endpoint(0));
        let certifier = certify::Certifier::new(chain.clone(), key.clone(), 0, transport.clone(), transport.clone());
        let served = Serve {
            certifier: Some(certifier.clone()),
            rpc_addr: config.rpc_addr,
            metrics_addr: config.metrics_addr,
            cors: config.cors.clone(),
            explorer: config.explorer,
            gas_cap: config.rpc_gas_cap,
            timeout: config.rpc_timeout,
            await_inclusion: (config.mining == Mining::Instant).then_some(INSTANT_INCLUSION_WAIT),
        };
        let (rpc_addr, rpc, metrics) = serve(&chain, served).await?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        // One validator signs; `--validator` entries only share the fees.
        let (block_time, empty_block_after) = match config.mining {
            Mining::Instant => (Duration::ZERO, None),
            Mining::Interval(every) => (every, Some(every)),
        };
        let driver_config = validator::DriverConfig {
            validator_sets: Arc::new(strata_primitives::FixedValidators::new(ValidatorSet::new(vec![key.address()]))),
            peers: 1,
            me: 0,
            key,
            block_time,
            empty_block_after,
            view_timeout_ms: 30_000,
            clock: Arc::new(validator::SystemClock),
            slots: None,
            certifier: Some(certifier),
        };
        let driver = tokio::spawn(validator::run(chain.clone(), transport, inbound, driver_config, shutdown_rx));
        Ok(Self { chain, rpc_addr, rpc, driver, shutdown, network: None, metrics })
    }

    /// Starts one validator of a network from its configuration file's contents:
    /// opens its databases, connects to its peers over TCP and runs consensus and
    /// the RPC server.
    pub async fn start_validator(config: config::ValidatorConfig) -> Result<Self> {
        Self::start_validator_on(config, None).await
    }

    /// [`Node::start_validator`] on a Wasm engine shared with other chains of this
    /// process; `None`: an engine of its own.
    pub async fn start_validator_on(config: config::ValidatorConfig, engine: Option<Arc<strata_vm::Vm>>) -> Result<Self> {
        let genesis = config::Genesis::load(&config.genesis)?;
        let spec = genesis.spec()?;
        let key = config::read_key(&config.key_file)?;
        // The machines the transport connects: validator (slot) `i`'s primary is peer `i`;
        // with validator slots, slot `i`'s backup is peer `n + i`. `config.peers` lists
        // their addresses in that order (backups of the slots that have one).
        let n = spec.validators.len() as u32;
        let mut machines: Vec<(u32, strata_primitives::Address)> =
            spec.fee_recipients.iter().enumerate().map(|(i, v)| (i as u32, v.address)).collect();
        if spec.slots.is_some() {
            machines.extend(genesis.validators.iter().enumerate().filter_map(|(i, v)| v.backup.map(|b| (n + i as u32, b))));
        }
        let machine = machines.iter().find(|(_, a)| *a == key.address()).map(|(i, _)| *i);
        let machine = machine.ok_or_else(|| Error::Config(format!("{} is not a validator (or backup) of this genesis", key.address())))?;
        let me = machine % n.max(1);
        if config.peers.len() != machines.len() {
            return Err(Error::Config(format!("{} peer addresses for {} machines", config.peers.len(), machines.len())));
        }
        let peers: Vec<Peer> = machines
            .iter()
            .zip(&config.peers)
            .map(|((index, address), addr)| Peer { index: *index, address: *address, addr: *addr })
            .collect();
        let backups: Option<Vec<bool>> = spec.slots.as_ref().map(|_| genesis.validators.iter().map(|v| v.backup.is_some()).collect());
        let cold_dir = config.cold_dir.clone().unwrap_or_else(|| config.data_dir.join("cold"));
        let faults = strata_chain::Faults { drop_certified: config.test_drop_certified };
        if faults.drop_certified {
            tracing::warn!("test fault on: this validator leaves certified transactions out of its blocks");
        }
        let chain = open_chain(&config.data_dir, cold_dir, spec.clone(), key.address(), config.retain_blocks, engine, faults)?;
        reload_journal(&chain).await?;
        let (network, inbound) = Network::start(NetworkConfig {
            chain_id: spec.chain_id,
            me: machine,
            key: key.clone(),
            listen: config.p2p_addr,
            validators: peers,
            queue: 4096,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            limits: strata_network::Limits::default(),
        })
        .await?;
        let transport: Arc<dyn Transport> = match &backups {
            Some(backups) => Arc::new(slot_roles::SlotTransport::new(Arc::new(network.clone()), backups.clone())),
            None => Arc::new(network.clone()),
        };
        let certifier = certify::Certifier::new(chain.clone(), key.clone(), me, transport.clone(), Arc::new(network.clone()));
        let served = Serve {
            certifier: Some(certifier.clone()),
            rpc_addr: config.rpc_addr,
            metrics_addr: config.metrics_addr,
            cors: config.cors.clone(),
            explorer: config.explorer,
            gas_cap: config.rpc_gas_cap,
            timeout: Duration::from_millis(config.rpc_timeout_ms),
            await_inclusion: None,
        };
        let (rpc_addr, rpc, metrics) = serve(&chain, served).await?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let driver_config = validator::DriverConfig {
            validator_sets: chain.validator_sets(),
            peers: spec.validators.len(),
            me,
            key,
            block_time: config.block_time(),
            empty_block_after: Some(Duration::from_millis(config.empty_block_ms)),
            view_timeout_ms: config.view_timeout_ms,
            clock: Arc::new(validator::SystemClock),
            slots: backups.as_ref().map(|_| validator::SlotMachines {
                me: machine,
                count: machines.len(),
                transport: Arc::new(network.clone()),
            }),
            certifier: Some(certifier),
        };
        let driver = tokio::spawn(validator::run(chain.clone(), transport, inbound, driver_config, shutdown_rx));
        tracing::info!(me, rpc = %rpc_addr, p2p = %config.p2p_addr, "validator started");
        Ok(Self { chain, rpc_addr, rpc, driver, shutdown, network: Some(network), metrics })
    }

    /// The chain.
    pub fn chain(&self) -> &Arc<Chain> {
        &self.chain
    }

    /// The validator transport (none for a dev node): its memory per peer, counters.
    pub fn network(&self) -> Option<&Network> {
        self.network.as_ref()
    }

    /// The address `/metrics` and `/health` are served on, if any.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(a, _)| *a)
    }

    /// The address the RPC server listens on.
    pub fn rpc_addr(&self) -> SocketAddr {
        self.rpc_addr
    }

    /// `http://` URL of the RPC server.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.rpc_addr)
    }

    /// `ws://` URL of the RPC server.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.rpc_addr)
    }

    /// Stops RPC, consensus and the transport and waits for them, so the database is
    /// closed when this returns (if no other handle to the chain is held).
    pub async fn stop(self) {
        let _ = self.rpc.stop();
        self.rpc.stopped().await;
        let _ = self.shutdown.send(true);
        match self.driver.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "consensus driver failed"),
            Err(e) => tracing::error!(error = %e, "consensus driver ended abnormally"),
        }
        if let Some(n) = &self.network {
            n.shutdown();
        }
        if let Some((_, task)) = &self.metrics {
            task.abort();
        }
        // Connection tasks of the RPC server may hold the chain a moment longer; the
        // database closes when the last handle drops, so wait for them (bounded).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&self.chain) > 1 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if Arc::strong_count(&self.chain) > 1 {
            tracing::warn!("the chain is still referenced after stop; the database closes when the last user ends");
        }
        tracing::info!("node stopped");
    }
}
