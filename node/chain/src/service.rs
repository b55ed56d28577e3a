//! The chain service: admits transactions, produces blocks, commits them.

use std::{collections::BTreeMap, sync::Arc};

use parking_lot::Mutex;
use strata_executor::{
    Applied, BlockBuilder, BlockEnv, ColdWrites, ExecutedBlock, InvalidTx, Payees, admit,
    rules::{self, BlockError, Check},
};
use strata_primitives::{Account, Address, B256, Block, EMPTY_ROOT_HASH, Header, RecoveredTx, SealedBlock, TransactionSigned};
use strata_state::{HistoricalState, StateDb, StateReader};
use strata_storage::{SharedKv, WriteBatch};
use strata_vm::{ExecPool, Vm, VmConfig};
use tokio::sync::broadcast;

use crate::{BlockStore, ChainSpec, Error, Mempool, MempoolConfig, PoolError, Result, ValidateError};

pub use strata_executor::MAX_TX_SIZE;
/// Most transactions taken into one block.
pub const MAX_BLOCK_TXS: usize = 5_000;

/// Where a submitted transaction comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxOrigin {
    /// This node's RPC clients: pooled transactions are gossiped to the other validators.
    Local,
    /// Another validator's gossip: pooled, not gossiped again.
    Peer,
}

/// Why a submitted transaction was refused. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The bytes are not a transaction Strata accepts, or the signature is bad.
    #[error("invalid transaction: {0}")]
    Decode(#[from] strata_primitives::Error),
    /// The raw transaction is too large.
    #[error("oversized data: transaction of {size} bytes, limit {max}")]
    Oversized {
        /// Size received.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// The transaction breaks a validity rule.
    #[error("{0}")]
    Invalid(#[from] InvalidTx),
    /// The pool refused it.
    #[error("{0}")]
    Pool(#[from] PoolError),
    /// The node failed (not the transaction's fault).
    #[error("internal error: {0}")]
    Node(#[from] Error),
}

impl From<strata_state::Error> for SubmitError {
    fn from(e: strata_state::Error) -> Self {
        Self::Node(e.into())
    }
}

impl From<strata_executor::Error> for SubmitError {
    fn from(e: strata_executor::Error) -> Self {
        Self::Node(e.into())
    }
}

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
        }
    }
}

/// The threads contracts run on (each with a stack for the worst-case transaction; see
/// `strata_vm::stack`), one pool per kind of work so that none can starve another:
/// RPC simulations can never delay block validation.
#[derive(Debug)]
pub struct ExecPools {
    /// Block production, validation, commit and sync: one thread, in order.
    pub block: ExecPool,
    /// Admission of transactions from clients and peers (signature recovery, fee quote).
    pub admission: ExecPool,
    /// RPC simulations.
    pub simulation: ExecPool,
}

impl ExecPools {
    fn new(config: &ChainConfig, stack: usize) -> std::io::Result<Self> {
        Ok(Self {
            block: ExecPool::new("strata-block", 1, usize::MAX, stack)?,
            admission: ExecPool::new("strata-admit", 1, config.admission_queue, stack)?,
            simulation: ExecPool::new("strata-sim", config.simulation_workers, config.simulation_queue, stack)?,
        })
    }
}

/// Runs `f` on `pool` and awaits its result without blocking the async runtime; refused
/// with [`strata_vm::PoolError::Busy`] when the pool's queue is full. A panic in `f` is
/// resumed here.
pub async fn run_on<R: Send + 'static>(pool: &ExecPool, f: impl FnOnce() -> R + Send + 'static) -> Result<R, strata_vm::PoolError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool.try_spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    })?;
    match rx.await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => Err(strata_vm::PoolError::Closed),
    }
}

struct Inner {
    mempool: Mempool,
    head: (B256, Header),
    /// Executed blocks for the next height, by hash, waiting for their commit.
    pending: BTreeMap<B256, Pending>,
}

/// A block executed on the head: everything its commit writes.
struct Pending {
    block: Arc<SealedBlock>,
    /// Accounts it changes: their pooled transactions are re-checked on commit.
    touched: Vec<Address>,
    cold: ColdWrites,
    batch: WriteBatch,
    /// Pooled transactions found invalid while building it.
    dropped: Vec<B256>,
}

pub use strata_executor::rules::MAX_FUTURE_SECS;

/// A running chain: store, state, mempool and head.
pub struct Chain {
    spec: ChainSpec,
    payees: Payees,
    proposer: Address,
    kv: SharedKv,
    cold: SharedKv,
    store: BlockStore,
    state: StateDb,
    vm: Arc<Vm>,
    inner: Mutex<Inner>,
    /// Serialises block production and commit.
    produce: Mutex<()>,
    blocks: broadcast::Sender<Arc<SealedBlock>>,
    /// Transactions pooled from this node's clients (to gossip to the other validators).
    local_txs: broadcast::Sender<strata_primitives::Bytes>,
    /// What the consensus driver last reported (for RPC and metrics).
    consensus: Mutex<ConsensusStatus>,
    /// The fee contract's gas price for the block after the head with this hash: read
    /// once per head, not on every submission and gas-price query.
    gas_price: Mutex<Option<(B256, u64)>>,
    /// Hashes of transactions entering the pool (from clients or peers).
    pooled_txs: broadcast::Sender<B256>,
    pools: ExecPools,
    /// The fee contract's quotes on the head with this hash, for admission.
    quotes: Mutex<(B256, strata_executor::fees::Quotes)>,
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
                store.put_block(&genesis, &[], &mut batch);
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
        Ok(Arc::new(Self {
            payees: spec.payees(),
            spec,
            proposer,
            kv,
            cold,
            store,
            state,
            vm,
            inner: Mutex::new(Inner { mempool: Mempool::new(config.pool), head, pending: BTreeMap::new() }),
            produce: Mutex::new(()),
            blocks,
            local_txs,
            consensus: Mutex::new(ConsensusStatus::default()),
            gas_price: Mutex::new(None),
            pooled_txs: broadcast::channel(4096).0,
            pools,
            quotes: Mutex::new((B256::ZERO, Default::default())),
        }))
    }

    /// The threads contracts run on (see [`ExecPools`]).
    pub fn pools(&self) -> &ExecPools {
        &self.pools
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

    /// The next nonce of `address` counting pooled transactions without gaps.
    pub fn pending_nonce(&self, address: &Address) -> Result<u64> {
        let nonce = self.account(address)?.nonce;
        Ok(self.inner.lock().mempool.pending_nonce(address, nonce))
    }

    /// A pooled (not yet included) transaction.
    pub fn pooled(&self, hash: &B256) -> Option<RecoveredTx> {
        self.inner.lock().mempool.get(hash).cloned()
    }

    /// Number of pooled transactions.
    pub fn pool_len(&self) -> usize {
        self.inner.lock().mempool.len()
    }

    /// The environment the next block will execute in: its base fee is the fee
    /// contract's gas price in the latest state.
    pub fn next_env(&self, timestamp: u64) -> Result<BlockEnv> {
        let (head_hash, head) = self.head();
        let mut env = BlockEnv {
            chain_id: self.spec.chain_id,
            number: head.number.saturating_add(1),
            timestamp: timestamp.max(head.timestamp),
            proposer: self.proposer,
            gas_limit: self.spec.gas_limit,
            base_fee: head.base_fee_per_gas,
            replicas: self.spec.replicas(),
        };
        let cached = *self.gas_price.lock();
        env.base_fee = match cached {
            Some((hash, price)) if hash == head_hash => price,
            _ => {
                let price = strata_executor::fees::schedule(&self.latest_state(), &self.vm, env)?.gas_price;
                *self.gas_price.lock() = Some((head_hash, price));
                price
            }
        };
        Ok(env)
    }

    /// Validates a raw transaction (`eth_sendRawTransaction` bytes, or a peer's gossip)
    /// and pools it. Clients' transactions are then gossiped to the other validators.
    /// Runs contracts (the fee quote): call it on an [`ExecPools::admission`] thread.
    pub fn submit_raw(&self, raw: &[u8], origin: TxOrigin) -> Result<B256, SubmitError> {
        if raw.len() > MAX_TX_SIZE {
            return Err(SubmitError::Oversized { size: raw.len(), max: MAX_TX_SIZE });
        }
        let tx = TransactionSigned::decode_recovered(raw)?;
        let hash = self.submit(tx)?;
        if origin == TxOrigin::Local {
            let _ = self.local_txs.send(strata_primitives::Bytes::copy_from_slice(raw));
        }
        Ok(hash)
    }

    /// Validates a decoded transaction and pools it. Refused: wrong chain or fees,
    /// a gas limit below the transaction's quoted minimum fee, a stale nonce, or a
    /// balance that cannot cover its maximum cost together with the sender's pooled
    /// transactions before it (the error names the shortfall).
    pub fn submit(&self, tx: RecoveredTx) -> Result<B256, SubmitError> {
        let env = self.next_env(0)?;
        let head = self.head().0;
        {
            let mut quotes = self.quotes.lock();
            if quotes.0 != head {
                *quotes = (head, Default::default());
            }
            admit(&self.latest_state(), &self.vm, env, &tx.tx, &mut quotes.1)??;
        }
        let account = self.account(&tx.sender)?;
        if tx.tx.nonce() < account.nonce {
            return Err(InvalidTx::NonceTooLow { expected: account.nonce, got: tx.tx.nonce() }.into());
        }
        let want = tx.tx.max_cost().ok_or(InvalidTx::CostOverflow)?;
        if account.balance < want {
            return Err(InvalidTx::InsufficientFunds { have: account.balance, want }.into());
        }
        let hash = tx.hash();
        let evicted = self.inner.lock().mempool.add(tx, account.nonce, account.balance)?;
        if !evicted.is_empty() {
            tracing::debug!(%hash, evicted = evicted.len(), "replacement left later transactions of its sender unaffordable: evicted");
        }
        tracing::debug!(%hash, "transaction pooled");
        let _ = self.pooled_txs.send(hash);
        Ok(hash)
    }

    fn accounts(&self, addresses: impl IntoIterator<Item = Address>) -> Result<BTreeMap<Address, Account>> {
        addresses.into_iter().map(|a| Ok((a, self.account(&a)?))).collect()
    }

    fn ready_transactions(&self) -> Result<Vec<RecoveredTx>> {
        let senders = self.inner.lock().mempool.senders();
        let nonces: BTreeMap<Address, u64> = self.accounts(senders)?.into_iter().map(|(a, acc)| (a, acc.nonce)).collect();
        let inner = self.inner.lock();
        Ok(inner.mempool.ready(MAX_BLOCK_TXS, &mut |a| nonces.get(a).copied().unwrap_or(u64::MAX)))
    }

    /// Builds a block from the pool's ready transactions and commits it without
    /// consensus (tests and tools). Returns `None` (and commits nothing) when no
    /// transaction could be included.
    pub fn produce_block(&self, timestamp: u64) -> Result<Option<Arc<SealedBlock>>> {
        let Some(block) = self.propose(timestamp, false)? else { return Ok(None) };
        self.commit(&block.hash, None).map(Some)
    }

    /// Builds the next block on the head from the pool's ready transactions (the
    /// proposer's part) and keeps it executed, waiting for [`Chain::commit`]. With
    /// `allow_empty` false, returns `None` when no transaction could be included.
    pub fn propose(&self, timestamp: u64, allow_empty: bool) -> Result<Option<Arc<SealedBlock>>> {
        let _guard = self.produce.lock();
        let ready = self.ready_transactions()?;
        if ready.is_empty() && !allow_empty {
            return Ok(None);
        }
        let env = self.next_env(timestamp)?;
        let mut builder = BlockBuilder::new(env, self.latest_state(), self.vm.clone(), self.cold.clone(), self.payees.clone())?;
        let mut dropped = Vec::new();
        // A sender whose transaction could not go in is skipped for the rest of the
        // block: its later nonces cannot execute before that one.
        let mut skipped = std::collections::BTreeSet::new();
        for tx in &ready {
            if skipped.contains(&tx.sender) {
                continue;
            }
            match builder.apply(tx)? {
                Applied::Included(_) => {}
                Applied::Rejected(e) => {
                    skipped.insert(tx.sender);
                    if matches!(e, InvalidTx::BlockGasExhausted { .. } | InvalidTx::BlockFull { .. } | InvalidTx::NonceTooHigh { .. }) {
                        tracing::debug!(hash = %tx.hash(), reason = %e, "transaction deferred");
                    } else {
                        // It cannot execute on this state (nor, being before the sender's later
                        // nonces, can they): out of the pool; its sender may resubmit.
                        tracing::debug!(hash = %tx.hash(), reason = %e, "dropping pooled transaction");
                        dropped.push(tx.hash());
                    }
                }
            }
        }
        if builder.is_empty() && !allow_empty {
            self.remove_from_pool(&dropped);
            return Ok(None);
        }
        let pending = self.seal(builder.finish(), dropped, self.head_certificate()?)?;
        let block = pending.block.clone();
        self.inner.lock().pending.insert(block.hash, pending);
        Ok(Some(block))
    }

    /// Computes the block an execution result makes on the head: header with state
    /// root and the parent's certificate hash, and the batch that would commit it.
    fn seal(&self, executed: ExecutedBlock, dropped: Vec<B256>, parent_certificate: Vec<u8>) -> Result<Pending> {
        let (parent_hash, parent) = self.head();
        let number = executed.env.number;
        let touched = executed.changes.accounts.keys().copied().collect();
        let mut batch = WriteBatch::new();
        let state_root = self.state.commit(number, parent.state_root, &executed.changes, &mut batch)?;
        let parent_commit_hash = if parent_certificate.is_empty() { B256::ZERO } else { strata_primitives::keccak256(&parent_certificate) };
        let (mut block, receipts, _, cold) = executed.into_block(parent_hash, state_root);
        block.header.parent_commit_hash = parent_commit_hash;
        let block = Arc::new(block.seal());
        self.store.put_block(&block, &receipts, &mut batch);
        // Validators may hold different quorums for the parent; the one this block names
        // becomes the parent's canonical certificate everywhere.
        if !parent_certificate.is_empty() {
            self.store.put_certificate(parent.number, &parent_certificate, &mut batch);
        }
        Ok(Pending { block, touched, cold, batch, dropped })
    }

    /// The head's certificate as this node holds it (empty for genesis or a block
    /// committed without consensus): what a block built now commits to.
    pub fn head_certificate(&self) -> Result<Vec<u8>> {
        Ok(self.store.certificate(self.head().1.number)?.unwrap_or_default())
    }

    /// Checks a block for the next height by re-executing it on the head: its header
    /// against the head ([`rules::validate_header_against_parent`]), the parent
    /// certificate it comes with (`parent_certificate`, named by `parentCommitHash`;
    /// required above height 1 when the chain says so), then every transaction, and
    /// every header field against what this node computes. `check`: a proposal (held to
    /// this node's clock and to the proposer scheduled for its view) or a block that
    /// already carries a valid certificate (commit, sync). A valid block waits, executed,
    /// for [`Chain::commit`]; its hash is returned.
    pub fn validate(&self, block: &Block, parent_certificate: &[u8], check: Check) -> Result<B256, ValidateError> {
        let _guard = self.produce.lock();
        let (head_hash, head) = self.head();
        let h = &block.header;
        let rules = self.spec.rules();
        rules::validate_header_against_parent(h, head_hash, &head, &rules, check)?;
        rules::validate_parent_certificate(h, head_hash, &head, parent_certificate, &rules)?;
        let mut env = self.next_env(h.timestamp)?;
        env.timestamp = h.timestamp;
        env.proposer = h.proposer;
        if h.base_fee_per_gas != env.base_fee {
            return Err(BlockError::BaseFee { got: h.base_fee_per_gas, expected: env.base_fee }.into());
        }
        let senders = recover_senders(&block.transactions)?;
        let mut builder = BlockBuilder::new(env, self.latest_state(), self.vm.clone(), self.cold.clone(), self.payees.clone())?;
        for (index, (tx, sender)) in block.transactions.iter().zip(senders).enumerate() {
            if let Applied::Rejected(reason) = builder.apply(&RecoveredTx { sender, tx: tx.clone() })? {
                return Err(BlockError::Transaction { index, hash: tx.hash(), reason: Box::new(reason) }.into());
            }
        }
        let pending = self.seal(builder.finish(), Vec::new(), parent_certificate.to_vec())?;
        let hash = pending.block.hash;
        if hash != block.header.hash_slow() {
            return Err(BlockError::ExecutionMismatch(rules::header_mismatch(pending.block.header(), h)).into());
        }
        self.inner.lock().pending.insert(hash, pending);
        Ok(hash)
    }

    /// Commits the executed block `hash` (from [`Chain::propose`] or [`Chain::validate`])
    /// with its encoded commit certificate: state, cold store, block, receipts,
    /// certificate, indexes and head, in one synced write.
    pub fn commit(&self, hash: &B256, certificate: Option<&[u8]>) -> Result<Arc<SealedBlock>> {
        let _guard = self.produce.lock();
        let (head_hash, head) = self.head();
        let pending = self.inner.lock().pending.remove(hash).ok_or(Error::NotPending(*hash))?;
        let block = pending.block;
        if block.number() != head.number.saturating_add(1) || block.header().parent_hash != head_hash {
            return Err(Error::NotPending(*hash));
        }
        let mut batch = pending.batch;
        if let Some(cert) = certificate {
            self.store.put_certificate(block.number(), cert, &mut batch);
        }
        // Archived values first: once the block is durable, its tombstones must find them.
        // (A crash in between leaves unreferenced cold entries, which are harmless.)
        if !pending.cold.puts.is_empty() {
            self.cold.write(pending.cold.puts)?;
        }
        // One synced, atomic write: state, block, receipts, certificate, indexes and head move together.
        self.kv.write(batch)?;
        // Restored and purged values last (a crash before this leaves harmless leftovers).
        if !pending.cold.deletes.is_empty() {
            self.cold.write(pending.cold.deletes)?;
        }
        let touched: Vec<Address> = {
            let inner = self.inner.lock();
            pending.touched.iter().copied().filter(|a| inner.mempool.has_sender(a)).collect()
        };
        let accounts = self.accounts(touched)?;
        let mut evicted = 0usize;
        {
            let mut inner = self.inner.lock();
            inner.head = (block.hash, block.header().clone());
            // Other candidates for this height can never commit now.
            inner.pending.clear();
            for h in &pending.dropped {
                inner.mempool.remove(h);
            }
            // Senders whose accounts the block changed: included nonces leave, and what
            // the new balance no longer covers is evicted.
            for (sender, account) in accounts {
                evicted = evicted.saturating_add(inner.mempool.revalidate(&sender, account.nonce, account.balance).len());
            }
        }
        if evicted > 0 {
            tracing::debug!(number = block.number(), evicted, "pooled transactions no longer affordable: evicted");
        }
        tracing::info!(number = block.number(), hash = %block.hash, txs = block.block.transactions.len(), gas_used = block.header().gas_used, "block committed");
        let _ = self.blocks.send(block.clone());
        Ok(block)
    }

    /// The certificate block `number` commits to (its parent's, as named in its header).
    pub fn parent_certificate_of(&self, number: u64) -> Result<Vec<u8>> {
        Ok(match number.checked_sub(1) {
            Some(parent) => self.store.certificate(parent)?.unwrap_or_default(),
            None => Vec::new(),
        })
    }

    /// Block `number` with its encoded commit certificate (for peers catching up).
    pub fn block_with_certificate(&self, number: u64) -> Result<Option<(SealedBlock, Option<Vec<u8>>)>> {
        let Some(block) = self.store.block(number)? else { return Ok(None) };
        Ok(Some((block, self.store.certificate(number)?)))
    }

    fn remove_from_pool(&self, hashes: &[B256]) {
        let mut inner = self.inner.lock();
        for h in hashes {
            inner.mempool.remove(h);
        }
    }
}

/// The senders of `transactions`, recovered on every core (signature recovery is most
/// of the work of a block of transfers); the first bad signature by index is the error.
fn recover_senders(transactions: &[TransactionSigned]) -> Result<Vec<Address>, BlockError> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from).min(transactions.len() / 64).max(1);
    let recover = |offset: usize, chunk: &[TransactionSigned]| -> Result<Vec<Address>, BlockError> {
        chunk
            .iter()
            .enumerate()
            .map(|(i, tx)| tx.recover_sender().map_err(|e| BlockError::BadSignature { index: offset + i, reason: e.to_string() }))
            .collect()
    };
    if workers == 1 {
        return recover(0, transactions);
    }
    let size = transactions.len().div_ceil(workers);
    let parts: Vec<Result<Vec<Address>, BlockError>> = std::thread::scope(|s| {
        let handles: Vec<_> = transactions.chunks(size).enumerate().map(|(k, chunk)| s.spawn(move || recover(k * size, chunk))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    });
    let mut senders = Vec::with_capacity(transactions.len());
    for part in parts {
        senders.extend(part?);
    }
    Ok(senders)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BlockError, ValidateError};
    use strata_primitives::{Bytes, TxKind, U256, keys, transaction::build};
    use strata_storage::MemKv;

    /// A commit certificate of the dev validator for block `height` / `hash`.
    pub(crate) fn certificate(height: u64, hash: B256) -> Vec<u8> {
        let digest = strata_primitives::commit_digest(1337, height, 0, hash);
        let signature = crate::dev_validator_key().sign_hash(&digest).unwrap();
        let cert = strata_primitives::CommitCertificate {
            height,
            view: 0,
            block_hash: hash,
            signatures: vec![strata_primitives::CertSignature::new(0, &signature)],
        };
        strata_primitives::rlp::encode(cert)
    }

    fn chain(kv: SharedKv) -> Arc<Chain> {
        Chain::open(kv, MemKv::shared(), ChainSpec::dev(1337), crate::spec::dev_proposer(), ChainConfig::default()).unwrap()
    }

    #[test]
    fn produce_commits_and_reopen_resumes() {
        let kv = MemKv::shared();
        let c = chain(kv.clone());
        let key = keys::derive_accounts(keys::DEV_MNEMONIC, 1).unwrap().remove(0).signer;
        for nonce in [1u64, 0] {
            let tx = build::eip1559(
                1337,
                nonce,
                TxKind::Call(Address::repeat_byte(9)),
                U256::from(5u64),
                Bytes::new(),
                21_000,
                2_000_000_000,
                0,
            );
            c.submit_raw(&key.sign_transaction(tx).unwrap().encoded(), TxOrigin::Local).unwrap();
        }
        assert_eq!(c.pending_nonce(&key.address()).unwrap(), 2);
        let block = c.produce_block(100).unwrap().unwrap();
        assert_eq!(block.block.transactions.len(), 2);
        assert_eq!(c.pool_len(), 0);
        assert!(c.produce_block(101).unwrap().is_none());
        assert_eq!(c.account(&Address::repeat_byte(9)).unwrap().balance, U256::from(10u64));
        drop(c);
        let c = chain(kv.clone());
        assert_eq!(c.head().0, block.hash);
        assert_eq!(c.account(&key.address()).unwrap().nonce, 2);
        assert_eq!(strata_state::flat_state_root(&kv).unwrap(), block.header().state_root);
        assert_eq!(c.state_at(0).unwrap().account(&key.address()).unwrap().unwrap().nonce, 0);
        assert_eq!(c.state_at(1).unwrap().account(&key.address()).unwrap().unwrap().nonce, 2);
        assert_eq!(c.state_at(2).unwrap_err(), StateUnavailable::UnknownBlock(2));
        // Another chain id on the same store is refused.
        assert!(matches!(
            Chain::open(kv, MemKv::shared(), ChainSpec::dev(1), Address::ZERO, ChainConfig::default()),
            Err(Error::GenesisMismatch { .. })
        ));
    }

    #[test]
    fn a_validator_re_executes_a_proposal_and_commits_the_same_block() {
        let (proposer, validator) = (chain(MemKv::shared()), chain(MemKv::shared()));
        let key = keys::derive_accounts(keys::DEV_MNEMONIC, 1).unwrap().remove(0).signer;
        let tx = build::eip1559(1337, 0, TxKind::Call(Address::repeat_byte(9)), U256::from(5u64), Bytes::new(), 30_000, 2_000_000_000, 0);
        proposer.submit_raw(&key.sign_transaction(tx).unwrap().encoded(), TxOrigin::Local).unwrap();
        let block = proposer.propose(100, false).unwrap().unwrap();
        assert!(proposer.propose(100, false).unwrap().is_none() || proposer.pool_len() == 1, "the pool keeps it until commit");

        // A tampered copy is refused with the reason; the real one validates to the same hash.
        let mut forged = block.block.clone();
        forged.header.state_root = B256::repeat_byte(1);
        let refused = validator.validate(&forged, &[], Check::Certified).unwrap_err();
        assert!(matches!(&refused, ValidateError::Invalid(BlockError::ExecutionMismatch(f)) if f.contains(&"state root")), "{refused}");
        let mut early = block.block.clone();
        early.header.number = 5;
        assert!(matches!(validator.validate(&early, &[], Check::Certified), Err(ValidateError::Invalid(BlockError::NotChild { .. }))));
        assert_eq!(validator.validate(&block.block, &[], Check::Certified).unwrap(), block.hash);

        let cert = certificate(1, block.hash);
        let a = proposer.commit(&block.hash, Some(&cert)).unwrap();
        let b = validator.commit(&block.hash, Some(&cert)).unwrap();
        assert_eq!((a.hash, a.header().state_root), (b.hash, b.header().state_root));
        assert!(matches!(validator.commit(&block.hash, None), Err(Error::NotPending(_))), "committed once");
        // The next block commits to this one's certificate.
        let next = proposer.propose(101, true).unwrap().unwrap();
        assert_eq!(next.header().parent_commit_hash, strata_primitives::keccak256(&cert));
        assert!(
            matches!(
                validator.validate(&next.block, &certificate(1, B256::ZERO), Check::Certified),
                Err(ValidateError::Invalid(BlockError::ParentCommitHash))
            ),
            "the named certificate must match"
        );
        assert!(
            matches!(validator.validate(&next.block, &[], Check::Certified), Err(ValidateError::Invalid(_))),
            "a chain run by validators refuses a block above height 1 without its parent's certificate"
        );
        assert_eq!(validator.validate(&next.block, &cert, Check::Certified).unwrap(), next.hash, "an empty block validates too");
        assert_eq!(validator.block_with_certificate(1).unwrap().unwrap().1, Some(cert));
    }
}
