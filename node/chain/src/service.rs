//! The [`Chain`] itself: its settings ([`ChainConfig`]), opening a store (genesis or
//! resume), the head, state access, subscriptions and the consensus status.
//! Admission, block production and the execution threads are in the `admission`,
//! `blocks` and `pools` modules.

use std::{collections::BTreeMap, sync::Arc};

use parking_lot::Mutex;
use strata_executor::Payees;
use strata_primitives::{Account, Address, B256, EMPTY_ROOT_HASH, Header, SealedBlock, ValidatorSets};
use strata_state::{HistoricalState, StateDb, StateReader};
use strata_storage::{SharedKv, WriteBatch};
use strata_vm::{Vm, VmConfig};
use tokio::sync::broadcast;

use crate::{BlockStore, ChainSpec, Error, ExecPools, Mempool, MempoolConfig, Result, admission::QuoteMemo, blocks::Pending};

/// Why the state of a block cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateUnavailable {
    /// No such block yet.
    #[error("block {0} not found")]
    UnknownBlock(u64),
    /// The block's state was pruned.
    #[error("state of block {number} is pruned: this node keeps the state of blocks {oldest} and later (see --retain-blocks)")]
    Pruned {
        /// Requested block.
        number: u64,
        /// Oldest block whose state is kept.
        oldest: u64,
    },
    /// The node failed.
    #[error("internal error: {0}")]
    Node(String),
}

/// Chain service settings.
#[derive(Debug, Clone)]
pub struct ChainConfig {
    /// Mempool limits.
    pub pool: MempoolConfig,
    /// How many recent blocks' state stays queryable (older trie nodes are pruned).
    pub retain: u64,
    /// Contract engine settings (limits, compiled-module cache directory), used when no
    /// `engine` is given.
    pub vm: VmConfig,
    /// An engine shared with other chains of this process (one compiled-module cache for
    /// all); `None`: the chain makes its own from `vm`.
    pub engine: Option<Arc<Vm>>,
    /// Threads running RPC simulations (`eth_call`, `eth_estimateGas`, fee quotes).
    pub simulation_workers: usize,
    /// Simulations that may wait for a thread; more are refused as busy (a short queue
    /// keeps the wait of an accepted simulation short).
    pub simulation_queue: usize,
    /// Transactions (from clients and peers) that may wait for admission; more are
    /// refused (clients) or dropped (gossip, which may use only half of it).
    pub admission_queue: usize,
    /// Misbehaviour for fault tests (never set in production).
    pub faults: Faults,
    /// A store for the pool journal of its own; `None`: the chain's store. Apart, a
    /// certification's synced write does not queue behind a block's commit (one write
    /// log each).
    pub journal: Option<JournalStore>,
}

/// The pool journal's own store (see [`ChainConfig::journal`]).
#[derive(Clone)]
pub struct JournalStore(pub SharedKv);

impl std::fmt::Debug for JournalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JournalStore")
    }
}

/// Faults a test may switch on in a node, to check that the others notice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// As proposer, leave certified transactions out of blocks (the other validators
    /// must refuse such a block once one is due, and the view change).
    pub drop_certified: bool,
}

impl Default for ChainConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            pool: MempoolConfig::default(),
            retain: strata_state::DEFAULT_RETAIN,
            vm: VmConfig::default(),
            engine: None,
            simulation_workers: (cores / 2).max(1),
            simulation_queue: (cores / 2).max(1) * 4,
            admission_queue: 1024,
            faults: Faults::default(),
            journal: None,
        }
    }
}

/// What the chain's lock guards: the pool, the head and the blocks executed on it.
pub(crate) struct Inner {
    pub(crate) mempool: Mempool,
    pub(crate) head: (B256, Header),
    /// Executed blocks for the next height, by hash, waiting for their commit.
    pub(crate) pending: BTreeMap<B256, Pending>,
    /// Sync nodes' heartbeats for the head, by slot (for the next block proposed here).
    pub(crate) heartbeats: BTreeMap<u32, strata_primitives::slots::Heartbeat>,
    /// Transactions this node certified as stored, by (sender, nonce): the journal's
    /// index (see `certified`).
    pub(crate) certified: crate::duty::Holds,
}

/// A running chain: store, state, mempool and head. (Its fields are visible to the
/// crate: the `admission` and `blocks` modules implement the rest of its methods.)
pub struct Chain {
    pub(crate) spec: ChainSpec,
    pub(crate) payees: Payees,
    pub(crate) proposer: Address,
    pub(crate) kv: SharedKv,
    pub(crate) cold: SharedKv,
    /// Where the pool journal is (the chain's store unless configured apart).
    pub(crate) journal_kv: SharedKv,
    pub(crate) store: BlockStore,
    pub(crate) state: StateDb,
    pub(crate) vm: Arc<Vm>,
    pub(crate) inner: Mutex<Inner>,
    /// Serialises block production and commit.
    pub(crate) produce: Mutex<()>,
    pub(crate) blocks: broadcast::Sender<Arc<SealedBlock>>,
    /// Transactions pooled from this node's clients (to gossip to the other validators).
    pub(crate) local_txs: broadcast::Sender<strata_primitives::Bytes>,
    /// What the consensus driver last reported (for RPC and metrics).
    consensus: Mutex<ConsensusStatus>,
    /// The fee contract's gas price for the block after the head with this hash: read
    /// once per head, not on every submission and gas-price query.
    pub(crate) gas_price: Mutex<Option<(B256, u64)>>,
    /// Hashes of transactions entering the pool (from clients or peers).
    pub(crate) pooled_txs: broadcast::Sender<B256>,
    pools: ExecPools,
    /// The fee contract's quotes on the head, for admission.
    pub(crate) quotes: QuoteMemo,
    /// With validator slots: the sets of each height, from state.
    pub(crate) sets: Option<Arc<dyn ValidatorSets>>,
    /// Serialises certifications: the check of a (sender, nonce) and the journal write.
    pub(crate) certify: Mutex<()>,
    /// The pool journal's groups on disk (see `journal`).
    pub(crate) journal_index: Mutex<crate::journal::JournalIndex>,
    /// Test-only misbehaviour.
    pub(crate) faults: Faults,
}

/// The consensus view of this node, as its driver reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsensusStatus {
    /// Current view.
    pub view: u64,
    /// Index of the view's primary.
    pub primary: u32,
    /// This node's validator index.
    pub me: u32,
    /// Number of validators.
    pub validators: u32,
    /// Peers connected.
    pub peers: u32,
}

impl Chain {
    /// Opens the chain in `kv`, creating genesis from `spec` in an empty store.
    /// Fails if `kv` holds a different chain.
    ///
    /// `cold` is the cold store (archived contract data), a database of its own.
    pub fn open(kv: SharedKv, cold: SharedKv, spec: ChainSpec, proposer: Address, config: ChainConfig) -> Result<Arc<Self>> {
        let store = BlockStore::new(kv.clone());
        let state = StateDb::new(kv.clone(), config.retain);
        let vm = match &config.engine {
            Some(engine) => engine.clone(),
            None => Arc::new(Vm::new(config.vm.clone())?),
        };
        let genesis = spec.genesis(&vm)?.seal();
        let head = match store.head_number()? {
            None => {
                let mut batch = WriteBatch::new();
                let root = state.commit(0, EMPTY_ROOT_HASH, &spec.genesis_changes(&vm)?, &mut batch)?;
                if root != genesis.header().state_root {
                    return Err(Error::Corrupt(format!(
                        "genesis state root {root} differs from the spec's {}",
                        genesis.header().state_root
                    )));
                }
                store.put_block(&genesis, &[], &[], &mut batch);
                kv.write(batch)?;
                tracing::info!(chain_id = spec.chain_id, genesis = %genesis.hash, "created genesis");
                (genesis.hash, genesis.block.header)
            }
            Some(number) => {
                let stored = store.genesis_hash()?.ok_or_else(|| Error::Corrupt("no genesis hash".into()))?;
                if stored != genesis.hash {
                    return Err(Error::GenesisMismatch { stored, configured: genesis.hash });
                }
                let header = store.header(number)?.ok_or_else(|| Error::Corrupt(format!("head block {number} missing")))?;
                let hash = header.hash_slow();
                tracing::info!(chain_id = spec.chain_id, head = number, hash = %hash, "resumed chain");
                (hash, header)
            }
        };
        let (blocks, _) = broadcast::channel(256);
        let (local_txs, _) = broadcast::channel(4096);
        let pools = ExecPools::new(&config, vm.stack_size()).map_err(|e| Error::Corrupt(format!("cannot start execution threads: {e}")))?;
        let with_slots = spec.slots.is_some();
        let rotation = spec.validators.rotation;
        let journal_kv = config.journal.clone().map_or_else(|| kv.clone(), |j| j.0);
        let journal_index = crate::journal::JournalIndex::load(&*journal_kv)?;
        let chain = Arc::new_cyclic(|chain| Self {
            sets: with_slots.then(|| Arc::new(crate::slots::SlotSets::new(chain.clone(), rotation)) as Arc<dyn ValidatorSets>),
            payees: spec.payees(),
            spec,
            proposer,
            journal_kv,
            kv,
            cold,
            store,
            state,
            vm,
            inner: Mutex::new(Inner {
                mempool: Mempool::new(config.pool),
                head,
                pending: BTreeMap::new(),
                heartbeats: BTreeMap::new(),
                certified: Default::default(),
            }),
            produce: Mutex::new(()),
            blocks,
            local_txs,
            consensus: Mutex::new(ConsensusStatus::default()),
            gas_price: Mutex::new(None),
            pooled_txs: broadcast::channel(4096).0,
            pools,
            quotes: QuoteMemo::default(),
            certify: Mutex::new(()),
            journal_index: Mutex::new(journal_index),
            faults: config.faults,
        });
        if with_slots {
            chain.prove_marked_switches();
        }
        Ok(chain)
    }

    /// The threads contracts run on (see [`ExecPools`]).
    pub fn pools(&self) -> &ExecPools {
        &self.pools
    }

    /// The address this node proposes (and, as a validator, signs) with.
    pub fn local_address(&self) -> Address {
        self.proposer
    }

    /// The chain's configuration.
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// Block storage (read access).
    pub fn store(&self) -> &BlockStore {
        &self.store
    }

    /// The latest state.
    pub fn state(&self) -> &StateDb {
        &self.state
    }

    /// The contract engine.
    pub fn vm(&self) -> &Arc<Vm> {
        &self.vm
    }

    /// The cold store (archived contract data).
    pub fn cold(&self) -> &SharedKv {
        &self.cold
    }

    /// The latest state, shared (what execution and simulations read).
    pub fn latest_state(&self) -> Arc<dyn StateReader + Send + Sync> {
        Arc::new(self.state.clone())
    }

    /// Hash and header of the latest block.
    pub fn head(&self) -> (B256, Header) {
        self.inner.lock().head.clone()
    }

    /// The head's height (without copying its header).
    pub fn head_number(&self) -> u64 {
        self.inner.lock().head.1.number
    }

    /// Subscribes to the hashes of transactions entering the pool.
    pub fn subscribe_pooled(&self) -> broadcast::Receiver<B256> {
        self.pooled_txs.subscribe()
    }

    /// Records the consensus driver's view of things.
    pub fn set_consensus_status(&self, status: ConsensusStatus) {
        *self.consensus.lock() = status;
    }

    /// What the consensus driver last reported.
    pub fn consensus_status(&self) -> ConsensusStatus {
        *self.consensus.lock()
    }

    /// Subscribes to transactions pooled through [`Chain::submit_raw`] (this node's
    /// clients), as EIP-2718 bytes.
    pub fn subscribe_local_txs(&self) -> broadcast::Receiver<strata_primitives::Bytes> {
        self.local_txs.subscribe()
    }

    /// Subscribes to newly committed blocks.
    pub fn subscribe_blocks(&self) -> broadcast::Receiver<Arc<SealedBlock>> {
        self.blocks.subscribe()
    }

    /// The state after block `number`, if it is still retained.
    pub fn state_at(&self, number: u64) -> Result<HistoricalState, StateUnavailable> {
        let (_, head) = self.head();
        if number > head.number {
            return Err(StateUnavailable::UnknownBlock(number));
        }
        let oldest = head.number.saturating_sub(self.state.retain().saturating_sub(1));
        if number < oldest {
            return Err(StateUnavailable::Pruned { number, oldest });
        }
        let header = self.store.header(number).map_err(|e| StateUnavailable::Node(e.to_string()))?;
        let header = header.ok_or(StateUnavailable::UnknownBlock(number))?;
        Ok(self.state.at_root(header.state_root))
    }

    /// The account at `address` in the latest state (empty if absent).
    pub fn account(&self, address: &Address) -> Result<Account> {
        Ok(self.state.account(address)?.unwrap_or_default())
    }

    pub(crate) fn accounts(&self, addresses: impl IntoIterator<Item = Address>) -> Result<BTreeMap<Address, Account>> {
        addresses.into_iter().map(|a| Ok((a, self.account(&a)?))).collect()
    }
}
