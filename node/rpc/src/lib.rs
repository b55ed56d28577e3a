//! Strata's Ethereum JSON-RPC server.
//!
//! Why: dapps and wallets speak Ethereum JSON-RPC; serving it exactly (method
//! names, JSON shapes, hex quantities, error codes) lets web3.py, ethers and
//! viem work unchanged. One jsonrpsee server answers HTTP and WebSocket on one
//! port. Methods are thin: they parse, ask the [`Chain`], and shape the answer.
//! Bad parameters get `-32602`, refused transactions `-32000` with the reason,
//! node failures `-32603`; nothing a client sends can crash the node. Methods that
//! execute contracts or walk tries run on the blocking pool, so they never stall
//! the server's event loop.

pub mod cors;
pub mod logs;
pub mod metrics;
mod types;

use std::{net::SocketAddr, sync::Arc};

use alloy_primitives::U64;
use jsonrpsee::{
    core::RpcResult,
    proc_macros::rpc,
    server::{Server, ServerConfig, ServerHandle},
    types::{
        ErrorObjectOwned,
        error::{CALL_EXECUTION_FAILED_CODE, INTERNAL_ERROR_CODE},
    },
};
use strata_chain::{Chain, StateUnavailable, SubmitError, TxOrigin};
use strata_executor::{BlockEnv, Simulation};
use strata_primitives::{Account, Address, B256, Bytes, KECCAK_EMPTY, SealedBlock, TransactionSigned, U256};
use strata_state::{HistoricalState, MAX_STORAGE_KEY_LEN, StateDb, StateReader};

use types::TxContext;
pub use types::{
    BlockId, BlockTag, Eip1186Proof, Eip1186StorageProof, RpcBlock, RpcFeeQuote, RpcReceipt, RpcStorageQuota, RpcTransaction, StorageKey,
    StrataProof, StrataStorageProof,
};

/// Name and version reported by `web3_clientVersion`.
pub const CLIENT_VERSION: &str = concat!("strata/v", env!("CARGO_PKG_VERSION"));

/// Suggested priority fee (wei per gas) returned by `eth_maxPriorityFeePerGas`: zero,
/// because Strata charges the fee contract's gas price and never a tip.
pub const SUGGESTED_PRIORITY_FEE: u64 = 0;

/// Errors of this crate (starting the server).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Server limits and instrumentation.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// Where call latencies are recorded (`/metrics`), if anywhere.
    pub metrics: Option<Arc<metrics::RpcMetrics>>,
    /// Origins browser dapps may call from (`*`: any); none sends no CORS headers.
    pub cors: Option<Vec<String>>,
    /// Largest request body accepted (bytes).
    pub max_request_body: u32,
    /// Largest response body produced (bytes).
    pub max_response_body: u32,
    /// Maximum simultaneous connections.
    pub max_connections: u32,
    /// Most calls in one JSON-RPC batch.
    pub max_batch: u32,
    /// Most subscriptions one WebSocket connection may hold.
    pub max_subscriptions_per_connection: u32,
    /// Most gas one `eth_call`, `eth_estimateGas` or `strata_quoteFee` may use (`None`:
    /// the block gas limit). Larger requests are capped to it, as go-ethereum's `--rpc.gascap`.
    pub gas_cap: Option<u64>,
    /// Wall-clock time a simulation may take, from the request's arrival (queueing
    /// included): later it fails with "execution aborted (timeout = …)".
    pub simulation_timeout: std::time::Duration,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            metrics: None,
            cors: None,
            max_request_body: 5 * 1024 * 1024,
            max_response_body: 20 * 1024 * 1024,
            max_connections: 200,
            max_batch: 100,
            max_subscriptions_per_connection: 64,
            gas_cap: None,
            simulation_timeout: std::time::Duration::from_secs(5),
        }
    }
}

fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    tracing::error!(error = %e, "rpc internal error");
    ErrorObjectOwned::owned(INTERNAL_ERROR_CODE, format!("internal error: {e}"), None::<()>)
}

/// JSON-RPC error of a failed call, as go-ethereum shapes it: a revert is code 3,
/// "execution reverted", with the revert data; other failures are -32000 with the reason.
fn execution_error(result: strata_executor::MessageResult) -> ErrorObjectOwned {
    match result.failure {
        None => {
            let reason = decode_revert_reason(&result.output).map(|r| format!(": {r}")).unwrap_or_default();
            let data = format!("0x{}", strata_primitives::hex::encode(&result.output));
            ErrorObjectOwned::owned(3, format!("execution reverted{reason}"), Some(data))
        }
        Some(reason) => exec_error(reason),
    }
}

/// The root of the ordered trie of `items` (key `rlp(i)`) and the proof of item `index`.
fn ordered_trie_proof(items: &[Vec<u8>], index: usize) -> RpcResult<(B256, Vec<Bytes>)> {
    let mut nodes = strata_trie::MemNodes::default();
    let mut trie = strata_trie::Trie::empty();
    for (i, item) in items.iter().enumerate() {
        trie.insert(&nodes, &strata_primitives::audit::receipt_key(i as u64), item.clone()).map_err(internal)?;
    }
    let commit = trie.commit();
    nodes.apply(&commit);
    let proof = strata_trie::prove(&nodes, commit.root, &strata_primitives::audit::receipt_key(index as u64)).map_err(internal)?;
    Ok((commit.root, proof))
}

/// The message of Solidity's `Error(string)` revert data, if that is what it is.
fn decode_revert_reason(data: &[u8]) -> Option<String> {
    let body = data.strip_prefix(&[0x08, 0xc3, 0x79, 0xa0][..])?;
    let len = usize::try_from(U256::from_be_slice(body.get(32..64)?)).ok()?;
    let bytes = body.get(64..64usize.checked_add(len)?)?;
    String::from_utf8(bytes.to_vec()).ok()
}

/// Most storage keys proven in one request.
pub const MAX_PROOF_KEYS: usize = 256;

fn check_proof_keys(n: usize) -> RpcResult<()> {
    if n > MAX_PROOF_KEYS {
        return Err(ErrorObjectOwned::owned(
            jsonrpsee::types::error::INVALID_PARAMS_CODE,
            format!("{n} storage keys requested; at most {MAX_PROOF_KEYS} per request"),
            None::<()>,
        ));
    }
    Ok(())
}

fn exec_error(msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(CALL_EXECUTION_FAILED_CODE, msg.into(), None::<()>)
}

/// A stored value as a 32-byte word: big-endian, left-padded (Ethereum's view).
fn word_value(value: Option<&[u8]>) -> RpcResult<U256> {
    match value {
        None => Ok(U256::ZERO),
        Some(v) if v.len() <= 32 => Ok(U256::from_be_slice(v)),
        Some(v) => Err(exec_error(format!("slot value is {} bytes, longer than a 32-byte word: use strata_getProof", v.len()))),
    }
}

/// What a query reads: the flat latest view, or a retained block's trie.
enum Resolved {
    Latest { pending: bool },
    At(HistoricalState),
}

impl Resolved {
    fn reader<'a>(&'a self, latest: &'a StateDb) -> &'a dyn StateReader {
        match self {
            Resolved::Latest { .. } => latest,
            Resolved::At(h) => h,
        }
    }
}

fn log_error(e: logs::LogQueryError) -> ErrorObjectOwned {
    match e {
        logs::LogQueryError::Node(m) => internal(m),
        other => ErrorObjectOwned::owned(jsonrpsee::types::error::INVALID_PARAMS_CODE, other.to_string(), None::<()>),
    }
}

fn rejected(e: SubmitError) -> ErrorObjectOwned {
    match e {
        SubmitError::Node(e) => internal(e),
        other => ErrorObjectOwned::owned(CALL_EXECUTION_FAILED_CODE, other.to_string(), None::<()>),
    }
}

/// The `eth_`, `net_` and `web3_` namespaces.
#[rpc(server)]
pub trait EthApi {
    /// Client name and version.
    #[method(name = "web3_clientVersion")]
    fn client_version(&self) -> RpcResult<String>;
    /// Keccak-256 of the given data.
    #[method(name = "web3_sha3")]
    fn sha3(&self, data: Bytes) -> RpcResult<B256>;
    /// Chain id as a decimal string.
    #[method(name = "net_version")]
    fn net_version(&self) -> RpcResult<String>;
    /// Always true: the node serves its RPC.
    #[method(name = "net_listening")]
    fn net_listening(&self) -> RpcResult<bool>;
    /// Chain id.
    #[method(name = "eth_chainId")]
    fn chain_id(&self) -> RpcResult<U64>;
    /// Latest block number.
    #[method(name = "eth_blockNumber")]
    fn block_number(&self) -> RpcResult<U64>;
    /// Gas price for legacy transactions: base fee + suggested tip.
    #[method(name = "eth_gasPrice")]
    fn gas_price(&self) -> RpcResult<U256>;
    /// Suggested priority fee.
    #[method(name = "eth_maxPriorityFeePerGas")]
    fn max_priority_fee(&self) -> RpcResult<U256>;
    /// Balance of an account.
    #[method(name = "eth_getBalance")]
    fn get_balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;
    /// Nonce of an account (`pending` counts pooled transactions).
    #[method(name = "eth_getTransactionCount")]
    fn get_transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64>;
    /// Code of an account.
    #[method(name = "eth_getCode")]
    fn get_code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes>;
    /// A 32-byte storage slot (Ethereum's view of storage; longer values are refused).
    #[method(name = "eth_getStorageAt")]
    fn get_storage_at(&self, address: Address, slot: StorageKey, block: Option<BlockId>) -> RpcResult<B256>;
    /// EIP-1186 account and storage proofs against the block's state root.
    #[method(name = "eth_getProof", blocking)]
    fn get_proof(&self, address: Address, keys: Vec<StorageKey>, block: Option<BlockId>) -> RpcResult<Eip1186Proof>;
    /// Like `eth_getProof`, for storage keys and values of any length (Wasm contracts).
    #[method(name = "strata_getProof", blocking)]
    fn strata_get_proof(&self, address: Address, keys: Vec<Bytes>, block: Option<BlockId>) -> RpcResult<StrataProof>;
    /// Submits a signed transaction.
    #[method(name = "eth_sendRawTransaction")]
    async fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256>;
    /// A transaction by hash (pooled or included).
    #[method(name = "eth_getTransactionByHash")]
    fn get_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<RpcTransaction>>;
    /// The EIP-2718 bytes of a transaction.
    #[method(name = "eth_getRawTransactionByHash")]
    fn get_raw_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Bytes>>;
    /// The receipt of an included transaction.
    #[method(name = "eth_getTransactionReceipt", blocking)]
    fn get_transaction_receipt(&self, hash: B256) -> RpcResult<Option<RpcReceipt>>;
    /// A block by number or tag.
    #[method(name = "eth_getBlockByNumber", blocking)]
    fn get_block_by_number(&self, tag: BlockTag, full: bool) -> RpcResult<Option<RpcBlock>>;
    /// A block by hash.
    #[method(name = "eth_getBlockByHash", blocking)]
    fn get_block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<RpcBlock>>;
    /// Executes a call without a transaction; returns its output.
    #[method(name = "eth_call")]
    async fn call(&self, request: CallRequest, block: Option<BlockId>) -> RpcResult<Bytes>;
    /// The smallest gas limit with which the transaction succeeds.
    #[method(name = "eth_estimateGas")]
    async fn estimate_gas(&self, request: CallRequest, block: Option<BlockId>) -> RpcResult<U64>;
    /// Blocks are final once committed and the node is its own source: never syncing.
    #[method(name = "eth_syncing")]
    fn syncing(&self) -> RpcResult<bool>;
    /// The node holds no keys.
    #[method(name = "eth_accounts")]
    fn accounts(&self) -> RpcResult<Vec<Address>>;
    /// Logs matching a filter (address and topic OR-lists, `null` wildcards, a block range
    /// of at most `logs::MAX_LOG_RANGE` blocks or one block hash).
    #[method(name = "eth_getLogs", blocking)]
    fn get_logs(&self, filter: logs::LogFilter) -> RpcResult<Vec<types::RpcLog>>;
    /// Installs a log filter polled with `eth_getFilterChanges` (expires after 5 idle minutes).
    #[method(name = "eth_newFilter")]
    fn new_filter(&self, filter: logs::LogFilter) -> RpcResult<U64>;
    /// Installs a new-block filter.
    #[method(name = "eth_newBlockFilter")]
    fn new_block_filter(&self) -> RpcResult<U64>;
    /// Installs a pending-transaction filter.
    #[method(name = "eth_newPendingTransactionFilter")]
    fn new_pending_filter(&self) -> RpcResult<U64>;
    /// What a filter saw since it was last polled.
    #[method(name = "eth_getFilterChanges", blocking)]
    fn filter_changes(&self, id: U64) -> RpcResult<logs::FilterChanges>;
    /// Every log a log filter matches.
    #[method(name = "eth_getFilterLogs", blocking)]
    fn filter_logs(&self, id: U64) -> RpcResult<Vec<types::RpcLog>>;
    /// Removes a filter.
    #[method(name = "eth_uninstallFilter")]
    fn uninstall_filter(&self, id: U64) -> RpcResult<bool>;
    /// All receipts of a block.
    #[method(name = "eth_getBlockReceipts", blocking)]
    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<RpcReceipt>>>;
    /// Number of transactions in a block.
    #[method(name = "eth_getBlockTransactionCountByNumber")]
    fn tx_count_by_number(&self, tag: BlockTag) -> RpcResult<Option<U64>>;
    /// Number of transactions in a block.
    #[method(name = "eth_getBlockTransactionCountByHash")]
    fn tx_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;
    /// A transaction by block and position.
    #[method(name = "eth_getTransactionByBlockNumberAndIndex")]
    fn tx_by_number_and_index(&self, tag: BlockTag, index: U64) -> RpcResult<Option<RpcTransaction>>;
    /// A transaction by block and position.
    #[method(name = "eth_getTransactionByBlockHashAndIndex")]
    fn tx_by_hash_and_index(&self, hash: B256, index: U64) -> RpcResult<Option<RpcTransaction>>;
    /// PBFT blocks have no uncles.
    #[method(name = "eth_getUncleCountByBlockNumber")]
    fn uncle_count_by_number(&self, tag: BlockTag) -> RpcResult<U64>;
    /// PBFT blocks have no uncles.
    #[method(name = "eth_getUncleCountByBlockHash")]
    fn uncle_count_by_hash(&self, hash: B256) -> RpcResult<U64>;
    /// Base fees and gas-used ratios of recent blocks (rewards: Strata charges no tip, so 0).
    #[method(name = "eth_feeHistory", blocking)]
    fn fee_history(&self, count: types::Quantity, newest: BlockTag, percentiles: Option<Vec<f64>>) -> RpcResult<types::FeeHistory>;
    /// WebSocket subscriptions: `newHeads`, `logs` (with a filter), `newPendingTransactions`.
    #[subscription(name = "eth_subscribe" => "eth_subscription", unsubscribe = "eth_unsubscribe", item = serde_json::Value)]
    async fn subscribe(&self, kind: String, filter: Option<logs::LogFilter>) -> jsonrpsee::core::SubscriptionResult;
    /// Strata: what a transaction — signed (raw bytes) or unsigned (a call object) —
    /// would use and pay, by resource, as the fee contract prices it now.
    #[method(name = "strata_quoteFee")]
    async fn quote_fee(&self, request: QuoteRequest, block: Option<BlockId>) -> RpcResult<RpcFeeQuote>;
    /// Strata: a contract's hot-storage quota, bytes used and remaining.
    #[method(name = "strata_getStorageQuota")]
    fn storage_quota(&self, address: Address, block: Option<BlockId>) -> RpcResult<RpcStorageQuota>;
    /// Strata: the commit certificate of a block (2f+1 validator signatures), `null`
    /// for genesis or an unknown block.
    #[method(name = "strata_getCommitCertificate")]
    fn commit_certificate(&self, block: BlockId) -> RpcResult<Option<types::RpcCertificate>>;
    /// Strata: an audit bundle for a transaction's receipt — the receipt as committed,
    /// its Merkle proof against the block's `receiptsRoot`, the header and the block's
    /// commit certificate — checkable offline (`strata audit receipt`).
    #[method(name = "strata_getReceiptProof", blocking)]
    fn receipt_proof(&self, hash: B256) -> RpcResult<Option<types::RpcReceiptProof>>;
    /// Strata: this node's consensus view: view, primary, validators, connected peers, height.
    #[method(name = "strata_consensusStatus")]
    fn consensus_status(&self) -> RpcResult<types::RpcConsensusStatus>;
}

/// What `strata_quoteFee` prices: a signed transaction's raw bytes, or a call object.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum QuoteRequest {
    /// EIP-2718 bytes of a signed transaction.
    Raw(Bytes),
    /// An unsigned transaction (its size is estimated).
    Call(CallRequest),
}

/// A transaction request as `eth_estimateGas` and `eth_call` take it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRequest {
    /// Sender.
    pub from: Option<Address>,
    /// Recipient (`None`: contract creation).
    pub to: Option<Address>,
    /// Gas limit.
    pub gas: Option<U64>,
    /// Value.
    pub value: Option<U256>,
    /// Call data.
    pub input: Option<Bytes>,
    /// Call data under its older name (used when `input` is absent).
    pub data: Option<Bytes>,
}

impl CallRequest {
    fn call_data(&self) -> Bytes {
        self.input.clone().or_else(|| self.data.clone()).unwrap_or_default()
    }
}

/// The RPC implementation over a [`Chain`].
#[derive(Clone)]
pub struct EthRpc {
    chain: Arc<Chain>,
    filters: Arc<logs::Filters>,
    gas_cap: Option<u64>,
    simulation_timeout: std::time::Duration,
}

/// `-32005`: the node is at its limit for this kind of request (EIP-1474 "limit exceeded").
pub const LIMIT_EXCEEDED_CODE: i32 = -32005;

fn busy(e: strata_vm::PoolError, what: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(LIMIT_EXCEEDED_CODE, format!("{what}: {e}; retry later"), None::<()>)
}

/// The error of a simulation that failed on the node's side: a timeout is the client's
/// to know about (go-ethereum's wording); anything else is internal.
fn simulation_error(e: strata_executor::Error, timeout: std::time::Duration) -> ErrorObjectOwned {
    match e {
        strata_executor::Error::Interrupted => exec_error(format!("execution aborted (timeout = {timeout:?})")),
        other => internal(other),
    }
}

impl EthRpc {
    /// RPC over `chain`. Must be created inside a tokio runtime (a task feeds the
    /// pending-transaction filters).
    pub fn new(chain: Arc<Chain>, config: &RpcConfig) -> Self {
        let filters = Arc::new(logs::Filters::default());
        let mut pooled = chain.subscribe_pooled();
        let weak = Arc::downgrade(&filters);
        tokio::spawn(async move {
            loop {
                match pooled.recv().await {
                    Ok(hash) => match weak.upgrade() {
                        Some(f) => f.on_pooled(hash),
                        None => return,
                    },
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                }
            }
        });
        Self { chain, filters, gas_cap: config.gas_cap, simulation_timeout: config.simulation_timeout }
    }

    /// The gas a simulation gets: what the request asks (default: all), at most the gas
    /// cap and the block gas limit.
    fn simulation_gas(&self, requested: Option<U64>, env: &BlockEnv) -> u64 {
        let cap = self.gas_cap.unwrap_or(env.gas_limit).min(env.gas_limit);
        requested.map_or(cap, |g| g.to::<u64>().min(cap))
    }

    /// Runs `f` on the chain's simulation threads (bounded, apart from block work),
    /// refusing with `-32005` when they are all busy and their queue is full. `f` gets
    /// the deadline: the request's arrival plus the simulation timeout.
    async fn on_simulation_pool<R: Send + 'static>(
        &self,
        f: impl FnOnce(EthRpc, std::time::Instant) -> RpcResult<R> + Send + 'static,
    ) -> RpcResult<R> {
        let deadline = std::time::Instant::now() + self.simulation_timeout;
        let this = self.clone();
        let timeout = self.simulation_timeout;
        let job = move || {
            // Its time ran out while it waited: no work at all.
            if std::time::Instant::now() >= deadline {
                return Err(simulation_error(strata_executor::Error::Interrupted, timeout));
            }
            f(this, deadline)
        };
        match strata_chain::run_on(&self.chain.pools().simulation, job).await {
            Ok(r) => r,
            Err(e) => Err(busy(e, "too many simulations in progress")),
        }
    }

    fn block_at(&self, id: BlockId) -> RpcResult<Option<SealedBlock>> {
        let number = match id {
            BlockId::Tag(t) => logs::height_of(&self.chain, Some(t)),
            BlockId::Hash(h) => match self.chain.store().number_of(&h).map_err(internal)? {
                Some(n) => n,
                None => return Ok(None),
            },
        };
        self.block_by_number(number)
    }

    /// Which state a query reads: the flat latest view for `latest`/`pending`, else
    /// the retained trie of the named block.
    fn resolve_state(&self, block: Option<BlockId>) -> RpcResult<Resolved> {
        let number = match block.unwrap_or_default() {
            BlockId::Tag(BlockTag::Latest) => return Ok(Resolved::Latest { pending: false }),
            BlockId::Tag(BlockTag::Pending) => return Ok(Resolved::Latest { pending: true }),
            BlockId::Tag(BlockTag::Earliest) => 0,
            BlockId::Tag(BlockTag::Number(n)) => n,
            BlockId::Hash(h) => self.number_of_hash(&h)?,
        };
        self.state_at(number).map(Resolved::At)
    }

    fn number_of_hash(&self, hash: &B256) -> RpcResult<u64> {
        self.chain.store().number_of(hash).map_err(internal)?.ok_or_else(|| exec_error(format!("block {hash} not found")))
    }

    fn state_at(&self, number: u64) -> RpcResult<HistoricalState> {
        self.chain.state_at(number).map_err(|e| match e {
            StateUnavailable::Node(m) => internal(m),
            other => exec_error(other.to_string()),
        })
    }

    /// The retained trie state a proof is taken against (`latest` = the head block).
    fn proof_state(&self, block: Option<BlockId>) -> RpcResult<HistoricalState> {
        match block.unwrap_or_default() {
            BlockId::Tag(BlockTag::Latest | BlockTag::Pending) => self.state_at(self.chain.head().1.number),
            BlockId::Tag(BlockTag::Earliest) => self.state_at(0),
            BlockId::Tag(BlockTag::Number(n)) => self.state_at(n),
            BlockId::Hash(h) => self.state_at(self.number_of_hash(&h)?),
        }
    }

    /// State and block environment to execute a call in: the latest state as the next
    /// block would see it, or a retained block's state with that block's environment.
    fn execution_state(&self, block: Option<BlockId>) -> RpcResult<(Arc<dyn StateReader + Send + Sync>, BlockEnv)> {
        match self.resolve_state(block)? {
            Resolved::Latest { .. } => {
                let env = self.chain.next_env(self.chain.head().1.timestamp).map_err(internal)?;
                Ok((Arc::new(self.chain.state().clone()), env))
            }
            Resolved::At(state) => {
                let number = match block.unwrap_or_default() {
                    BlockId::Tag(BlockTag::Number(n)) => n,
                    BlockId::Tag(BlockTag::Earliest) => 0,
                    BlockId::Hash(h) => self.number_of_hash(&h)?,
                    BlockId::Tag(_) => self.chain.head().1.number,
                };
                let header =
                    self.chain.store().header(number).map_err(internal)?.ok_or_else(|| exec_error(format!("block {number} not found")))?;
                let env = BlockEnv {
                    chain_id: header.chain_id,
                    number: header.number,
                    timestamp: header.timestamp,
                    proposer: header.proposer,
                    gas_limit: header.gas_limit,
                    base_fee: header.base_fee_per_gas,
                    validators: self.chain.spec().validator_count(),
                };
                Ok((Arc::new(state), env))
            }
        }
    }

    fn simulation(&self, request: &CallRequest, gas: u64, deadline: std::time::Instant) -> Simulation {
        Simulation {
            from: request.from.unwrap_or_default(),
            to: request.to,
            value: request.value.unwrap_or_default(),
            input: request.call_data(),
            gas,
            tx_bytes: None,
            deadline: Some(deadline),
        }
    }

    fn account_in(&self, state: &Resolved, address: &Address) -> RpcResult<Account> {
        Ok(state.reader(self.chain.state()).account(address).map_err(internal)?.unwrap_or_default())
    }

    fn block_by_number(&self, number: u64) -> RpcResult<Option<SealedBlock>> {
        self.chain.store().block(number).map_err(internal)
    }

    fn senders(block: &SealedBlock) -> RpcResult<Vec<Address>> {
        block.block.transactions.iter().map(|tx| tx.recover_sender().map_err(internal)).collect()
    }

    fn included(&self, hash: &B256) -> RpcResult<Option<(SealedBlock, usize)>> {
        let Some(loc) = self.chain.store().tx_location(hash).map_err(internal)? else {
            return Ok(None);
        };
        let block =
            self.block_by_number(loc.block_number)?.ok_or_else(|| internal(format!("indexed block {} missing", loc.block_number)))?;
        let index = usize::try_from(loc.index).map_err(internal)?;
        if index >= block.block.transactions.len() {
            return Err(internal(format!("tx index {index} beyond block {}", loc.block_number)));
        }
        Ok(Some((block, index)))
    }

    fn tx_at(&self, block: BlockId, index: U64) -> RpcResult<Option<RpcTransaction>> {
        let Some(block) = self.block_at(block)? else { return Ok(None) };
        let Ok(i) = usize::try_from(index.to::<u64>()) else { return Ok(None) };
        let Some(tx) = block.block.transactions.get(i) else { return Ok(None) };
        let from = tx.recover_sender().map_err(internal)?;
        Ok(Some(RpcTransaction::new(tx, from, Some(ctx(&block, i)))))
    }

    fn rpc_block(block: Option<SealedBlock>, full: bool) -> RpcResult<Option<RpcBlock>> {
        let Some(block) = block else { return Ok(None) };
        let senders = if full { Self::senders(&block)? } else { Vec::new() };
        Ok(Some(RpcBlock::new(&block, &senders, full)))
    }
}

fn ctx(block: &SealedBlock, index: usize) -> TxContext {
    TxContext { block_hash: block.hash, block_number: block.number(), index: index as u64, base_fee: block.header().base_fee_per_gas }
}

#[jsonrpsee::core::async_trait]
impl EthApiServer for EthRpc {
    fn client_version(&self) -> RpcResult<String> {
        Ok(CLIENT_VERSION.to_string())
    }

    fn sha3(&self, data: Bytes) -> RpcResult<B256> {
        Ok(strata_primitives::keccak256(&data))
    }

    fn net_version(&self) -> RpcResult<String> {
        Ok(self.chain.spec().chain_id.to_string())
    }

    fn net_listening(&self) -> RpcResult<bool> {
        Ok(true)
    }

    fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.chain.spec().chain_id))
    }

    fn block_number(&self) -> RpcResult<U64> {
        Ok(U64::from(self.chain.head().1.number))
    }

    fn gas_price(&self) -> RpcResult<U256> {
        let env = self.chain.next_env(0).map_err(internal)?;
        Ok(U256::from(env.base_fee))
    }

    fn max_priority_fee(&self) -> RpcResult<U256> {
        Ok(U256::from(SUGGESTED_PRIORITY_FEE))
    }

    fn get_balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        let state = self.resolve_state(block)?;
        Ok(self.account_in(&state, &address)?.balance)
    }

    fn get_transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64> {
        let state = self.resolve_state(block)?;
        let nonce = match state {
            Resolved::Latest { pending: true } => self.chain.pending_nonce(&address).map_err(internal)?,
            other => self.account_in(&other, &address)?.nonce,
        };
        Ok(U64::from(nonce))
    }

    fn get_code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes> {
        let state = self.resolve_state(block)?;
        let account = self.account_in(&state, &address)?;
        if account.code_hash == KECCAK_EMPTY {
            return Ok(Bytes::new());
        }
        self.chain
            .state()
            .code(&account.code_hash)
            .map_err(internal)?
            .ok_or_else(|| internal(format!("code {} of {address} missing", account.code_hash)))
    }

    fn get_storage_at(&self, address: Address, slot: StorageKey, block: Option<BlockId>) -> RpcResult<B256> {
        let state = self.resolve_state(block)?;
        let value = state.reader(self.chain.state()).storage(&address, slot.word.as_slice()).map_err(internal)?;
        Ok(B256::from(word_value(value.as_deref())?))
    }

    fn get_proof(&self, address: Address, keys: Vec<StorageKey>, block: Option<BlockId>) -> RpcResult<Eip1186Proof> {
        check_proof_keys(keys.len())?;
        let state = self.proof_state(block)?;
        let account = state.account_proof(&address).map_err(internal)?;
        let raw_keys: Vec<Bytes> = keys.iter().map(|k| Bytes::copy_from_slice(k.word.as_slice())).collect();
        let proofs = state.storage_proofs(&address, &raw_keys).map_err(internal)?;
        // An archived slot shows value 0 here; its tombstone is in `strata_getProof`.
        let storage_proof = keys
            .into_iter()
            .zip(proofs)
            .map(|(key, p)| {
                let value = word_value(p.value.as_ref().and_then(|s| s.value()).map(|v| &v[..]))?;
                Ok(Eip1186StorageProof { key: key.original, value, proof: p.proof })
            })
            .collect::<RpcResult<Vec<_>>>()?;
        let a = account.account.unwrap_or_default();
        Ok(Eip1186Proof {
            address,
            account_proof: account.proof,
            balance: a.balance,
            code_hash: a.code_hash,
            nonce: U64::from(a.nonce),
            storage_hash: a.storage_root,
            storage_proof,
        })
    }

    fn strata_get_proof(&self, address: Address, keys: Vec<Bytes>, block: Option<BlockId>) -> RpcResult<StrataProof> {
        check_proof_keys(keys.len())?;
        if let Some(k) = keys.iter().find(|k| k.len() > MAX_STORAGE_KEY_LEN) {
            return Err(exec_error(format!("storage key of {} bytes exceeds the limit of {MAX_STORAGE_KEY_LEN}", k.len())));
        }
        let state = self.proof_state(block)?;
        let account = state.account_proof(&address).map_err(internal)?;
        let proofs = state.storage_proofs(&address, &keys).map_err(internal)?;
        let a = account.account.unwrap_or_default();
        Ok(StrataProof {
            address,
            state_root: state.root(),
            account_proof: account.proof,
            balance: a.balance,
            code_hash: a.code_hash,
            nonce: U64::from(a.nonce),
            storage_hash: a.storage_root,
            storage_proof: proofs
                .into_iter()
                .map(|p| StrataStorageProof {
                    key: p.key,
                    value: p.value.as_ref().and_then(|s| s.value()).cloned(),
                    tombstone: match &p.value {
                        Some(strata_primitives::Slot::Tombstone(t)) => Some(t.into()),
                        _ => None,
                    },
                    proof: p.proof,
                })
                .collect(),
        })
    }

    async fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        // Signature recovery and the fee quote run on the admission threads.
        let chain = self.chain.clone();
        match strata_chain::run_on(&self.chain.pools().admission, move || chain.submit_raw(&raw, TxOrigin::Local)).await {
            Ok(r) => r.map_err(rejected),
            Err(e) => Err(busy(e, "transaction admission is busy")),
        }
    }

    fn get_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<RpcTransaction>> {
        if let Some((block, index)) = self.included(&hash)? {
            let tx = &block.block.transactions[index];
            let from = tx.recover_sender().map_err(internal)?;
            return Ok(Some(RpcTransaction::new(tx, from, Some(ctx(&block, index)))));
        }
        Ok(self.chain.pooled(&hash).map(|p| RpcTransaction::new(&p.tx, p.sender, None)))
    }

    fn get_raw_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Bytes>> {
        if let Some((block, index)) = self.included(&hash)? {
            return Ok(Some(block.block.transactions[index].encoded()));
        }
        Ok(self.chain.pooled(&hash).map(|p| p.tx.encoded()))
    }

    fn get_transaction_receipt(&self, hash: B256) -> RpcResult<Option<RpcReceipt>> {
        let Some((block, index)) = self.included(&hash)? else {
            return Ok(None);
        };
        let receipts = self.chain.store().receipts(block.number()).map_err(internal)?.ok_or_else(|| internal("receipts missing"))?;
        let receipt = receipts.get(index).ok_or_else(|| internal("receipt missing"))?;
        let first_log_index = receipts[..index].iter().map(|r| r.logs.len() as u64).sum();
        let tx: &TransactionSigned = &block.block.transactions[index];
        let from = tx.recover_sender().map_err(internal)?;
        Ok(Some(RpcReceipt::new(tx, from, receipt, block.header(), ctx(&block, index), first_log_index)))
    }

    fn get_block_by_number(&self, tag: BlockTag, full: bool) -> RpcResult<Option<RpcBlock>> {
        let number = match tag {
            BlockTag::Latest | BlockTag::Pending => self.chain.head().1.number,
            BlockTag::Earliest => 0,
            BlockTag::Number(n) => n,
        };
        Self::rpc_block(self.block_by_number(number)?, full)
    }

    fn get_block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<RpcBlock>> {
        let Some(number) = self.chain.store().number_of(&hash).map_err(internal)? else {
            return Ok(None);
        };
        Self::rpc_block(self.block_by_number(number)?, full)
    }

    async fn estimate_gas(&self, request: CallRequest, block: Option<BlockId>) -> RpcResult<U64> {
        self.on_simulation_pool(move |this, deadline| {
            let (base, env) = this.execution_state(block)?;
            let cap = this.simulation_gas(request.gas, &env);
            let sim = this.simulation(&request, cap, deadline);
            if let (Some(from), Some(value)) = (request.from, request.value) {
                let balance = base.account(&from).map_err(internal)?.unwrap_or_default().balance;
                if balance < value {
                    return Err(exec_error(format!("insufficient funds for transfer: have {balance} want {value}")));
                }
            }
            let estimated = strata_executor::estimate_gas(base, this.chain.vm().clone(), this.chain.cold().clone(), env, &sim, cap)
                .map_err(|e| simulation_error(e, this.simulation_timeout))?;
            match estimated {
                Ok(gas) => Ok(U64::from(gas)),
                Err(failed) => Err(execution_error(failed)),
            }
        })
        .await
    }

    async fn call(&self, request: CallRequest, block: Option<BlockId>) -> RpcResult<Bytes> {
        self.on_simulation_pool(move |this, deadline| {
            let (base, env) = this.execution_state(block)?;
            let sim = this.simulation(&request, this.simulation_gas(request.gas, &env), deadline);
            let result = strata_executor::simulate(base, this.chain.vm().clone(), this.chain.cold().clone(), env, &sim)
                .map_err(|e| simulation_error(e, this.simulation_timeout))?;
            if result.success { Ok(result.output.into()) } else { Err(execution_error(result)) }
        })
        .await
    }

    fn syncing(&self) -> RpcResult<bool> {
        Ok(false)
    }

    fn accounts(&self) -> RpcResult<Vec<Address>> {
        Ok(Vec::new())
    }

    fn get_logs(&self, filter: logs::LogFilter) -> RpcResult<Vec<types::RpcLog>> {
        logs::get_logs(&self.chain, &filter).map_err(log_error)
    }

    fn new_filter(&self, filter: logs::LogFilter) -> RpcResult<U64> {
        self.filters.new_log_filter(&self.chain, filter).map_err(log_error)
    }

    fn new_block_filter(&self) -> RpcResult<U64> {
        self.filters.new_block_filter(&self.chain).map_err(log_error)
    }

    fn new_pending_filter(&self) -> RpcResult<U64> {
        self.filters.new_pending_filter().map_err(log_error)
    }

    fn filter_changes(&self, id: U64) -> RpcResult<logs::FilterChanges> {
        self.filters.changes(&self.chain, id).map_err(log_error)?.ok_or_else(|| exec_error("filter not found"))
    }

    fn filter_logs(&self, id: U64) -> RpcResult<Vec<types::RpcLog>> {
        self.filters.all_logs(&self.chain, id).map_err(log_error)?.ok_or_else(|| exec_error("filter not found"))
    }

    fn uninstall_filter(&self, id: U64) -> RpcResult<bool> {
        Ok(self.filters.uninstall(id))
    }

    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<RpcReceipt>>> {
        let Some(block) = self.block_at(block)? else { return Ok(None) };
        let receipts = self.chain.store().receipts(block.number()).map_err(internal)?.ok_or_else(|| internal("receipts missing"))?;
        let senders = Self::senders(&block)?;
        let mut first_log_index = 0u64;
        let mut out = Vec::with_capacity(receipts.len());
        for (i, (r, tx)) in receipts.iter().zip(&block.block.transactions).enumerate() {
            out.push(RpcReceipt::new(tx, senders[i], r, block.header(), ctx(&block, i), first_log_index));
            first_log_index = first_log_index.saturating_add(r.logs.len() as u64);
        }
        Ok(Some(out))
    }

    fn tx_count_by_number(&self, tag: BlockTag) -> RpcResult<Option<U64>> {
        Ok(self.block_at(BlockId::Tag(tag))?.map(|b| U64::from(b.block.transactions.len())))
    }

    fn tx_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        Ok(self.block_at(BlockId::Hash(hash))?.map(|b| U64::from(b.block.transactions.len())))
    }

    fn tx_by_number_and_index(&self, tag: BlockTag, index: U64) -> RpcResult<Option<RpcTransaction>> {
        self.tx_at(BlockId::Tag(tag), index)
    }

    fn tx_by_hash_and_index(&self, hash: B256, index: U64) -> RpcResult<Option<RpcTransaction>> {
        self.tx_at(BlockId::Hash(hash), index)
    }

    fn uncle_count_by_number(&self, _tag: BlockTag) -> RpcResult<U64> {
        Ok(U64::ZERO)
    }

    fn uncle_count_by_hash(&self, _hash: B256) -> RpcResult<U64> {
        Ok(U64::ZERO)
    }

    fn fee_history(&self, count: types::Quantity, newest: BlockTag, percentiles: Option<Vec<f64>>) -> RpcResult<types::FeeHistory> {
        const MAX_BLOCKS: u64 = 1024;
        let newest = logs::height_of(&self.chain, Some(newest)).min(self.chain.head().1.number);
        let count = count.0.min(MAX_BLOCKS).min(newest.saturating_add(1));
        let oldest = newest.saturating_add(1).saturating_sub(count);
        let (mut base, mut ratios, mut rewards) = (Vec::new(), Vec::new(), Vec::new());
        let percentiles = percentiles.unwrap_or_default();
        if percentiles.len() > 100 || percentiles.iter().any(|p| !(0.0..=100.0).contains(p)) {
            return Err(ErrorObjectOwned::owned(
                jsonrpsee::types::error::INVALID_PARAMS_CODE,
                "reward percentiles must be at most 100 values in [0, 100]",
                None::<()>,
            ));
        }
        for n in oldest..=newest {
            if count == 0 {
                break;
            }
            let h = self.chain.store().header(n).map_err(internal)?.ok_or_else(|| internal(format!("header {n} missing")))?;
            base.push(U256::from(h.base_fee_per_gas));
            ratios.push(if h.gas_limit == 0 { 0.0 } else { h.gas_used as f64 / h.gas_limit as f64 });
            rewards.push(vec![U256::ZERO; percentiles.len()]);
        }
        // The next block's base fee: the fee contract's gas price now.
        base.push(U256::from(self.chain.next_env(0).map_err(internal)?.base_fee));
        Ok(types::FeeHistory {
            oldest_block: U64::from(oldest),
            base_fee_per_gas: base,
            gas_used_ratio: ratios,
            reward: (!percentiles.is_empty()).then_some(rewards),
        })
    }

    async fn subscribe(
        &self,
        pending: jsonrpsee::PendingSubscriptionSink,
        kind: String,
        filter: Option<logs::LogFilter>,
    ) -> jsonrpsee::core::SubscriptionResult {
        let chain = self.chain.clone();
        match kind.as_str() {
            "newHeads" | "logs" => {
                let filter = filter.unwrap_or_default();
                let mut blocks = chain.subscribe_blocks();
                let sink = pending.accept().await?;
                tokio::spawn(async move {
                    loop {
                        let block = tokio::select! {
                            b = blocks.recv() => b,
                            _ = sink.closed() => return,
                        };
                        let block = match block {
                            Ok(b) => b,
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(_) => return,
                        };
                        let items: Vec<serde_json::Value> = if kind == "newHeads" {
                            vec![serde_json::to_value(RpcBlock::new(&block, &[], false)).unwrap_or_default()]
                        } else {
                            let mut logs = Vec::new();
                            let c = chain.clone();
                            let f = filter.clone();
                            let b = block.clone();
                            let found = tokio::task::spawn_blocking(move || logs::block_logs(&c, &b, &f, &mut logs).map(|_| logs)).await;
                            match found {
                                Ok(Ok(logs)) => logs.iter().filter_map(|l| serde_json::to_value(l).ok()).collect(),
                                _ => Vec::new(),
                            }
                        };
                        for item in items {
                            let Ok(raw) = serde_json::value::to_raw_value(&item) else { continue };
                            if sink.send(raw).await.is_err() {
                                return;
                            }
                        }
                    }
                });
                Ok(())
            }
            "newPendingTransactions" => {
                let mut pooled = chain.subscribe_pooled();
                let sink = pending.accept().await?;
                tokio::spawn(async move {
                    loop {
                        let hash = tokio::select! {
                            h = pooled.recv() => h,
                            _ = sink.closed() => return,
                        };
                        match hash {
                            Ok(h) => {
                                let Ok(raw) = serde_json::value::to_raw_value(&h) else { continue };
                                if sink.send(raw).await.is_err() {
                                    return;
                                }
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(_) => return,
                        }
                    }
                });
                Ok(())
            }
            other => {
                pending
                    .reject(ErrorObjectOwned::owned(
                        jsonrpsee::types::error::INVALID_PARAMS_CODE,
                        format!("unknown subscription {other:?}: newHeads, logs or newPendingTransactions"),
                        None::<()>,
                    ))
                    .await;
                Ok(())
            }
        }
    }

    async fn quote_fee(&self, request: QuoteRequest, block: Option<BlockId>) -> RpcResult<RpcFeeQuote> {
        self.on_simulation_pool(move |this, deadline| {
            let (base, env) = this.execution_state(block)?;
            let sim = match request {
                QuoteRequest::Raw(raw) => {
                    if raw.len() > strata_chain::MAX_TX_SIZE {
                        let max = strata_chain::MAX_TX_SIZE;
                        return Err(exec_error(format!("oversized data: transaction of {} bytes, limit {max}", raw.len())));
                    }
                    let tx = TransactionSigned::decode_recovered(&raw).map_err(|e| exec_error(format!("invalid transaction: {e}")))?;
                    Simulation {
                        from: tx.sender,
                        to: tx.tx.to(),
                        value: tx.tx.value(),
                        input: Bytes::copy_from_slice(tx.tx.input()),
                        gas: this.simulation_gas(Some(U64::from(tx.tx.gas_limit())), &env),
                        tx_bytes: Some(raw.len() as u64),
                        deadline: Some(deadline),
                    }
                }
                QuoteRequest::Call(call) => this.simulation(&call, this.simulation_gas(call.gas, &env), deadline),
            };
            let result = strata_executor::simulate(base, this.chain.vm().clone(), this.chain.cold().clone(), env, &sim)
                .map_err(|e| simulation_error(e, this.simulation_timeout))?;
            let gas_price = U256::from(env.base_fee);
            Ok(RpcFeeQuote {
                success: result.success,
                gas_used: U64::from(result.gas_used),
                gas_price,
                resources: types::RpcResources::from(&result.resources),
                revert_data: (!result.success && result.failure.is_none() && !result.output.is_empty())
                    .then(|| result.output.clone().into()),
                failure_reason: result.failure,
            })
        })
        .await
    }

    fn commit_certificate(&self, block: BlockId) -> RpcResult<Option<types::RpcCertificate>> {
        let number = match block {
            BlockId::Tag(BlockTag::Latest | BlockTag::Pending) => self.chain.head().1.number,
            BlockId::Tag(BlockTag::Earliest) => 0,
            BlockId::Tag(BlockTag::Number(n)) => n,
            BlockId::Hash(h) => match self.chain.store().number_of(&h).map_err(internal)? {
                Some(n) => n,
                None => return Ok(None),
            },
        };
        let Some(raw) = self.chain.store().certificate(number).map_err(internal)? else { return Ok(None) };
        let cert = strata_primitives::rlp_item::decode_exact::<strata_primitives::CommitCertificate>(&raw).map_err(internal)?;
        Ok(Some(types::RpcCertificate::new(&cert, raw.into())))
    }

    fn receipt_proof(&self, hash: B256) -> RpcResult<Option<types::RpcReceiptProof>> {
        let Some((block, index)) = self.included(&hash)? else { return Ok(None) };
        let number = block.number();
        let receipts = self.chain.store().receipts(number).map_err(internal)?.ok_or_else(|| internal("receipts missing"))?;
        // Both ordered tries, rebuilt from the stored block: key rlp(i), value the EIP-2718 item.
        let receipts: Vec<Vec<u8>> = receipts.iter().map(|r| r.encoded_2718()).collect();
        let (receipts_root, proof) = ordered_trie_proof(&receipts, index)?;
        if receipts_root != block.header().receipts_root {
            return Err(internal(format!("rebuilt receipts root {receipts_root} differs from block {number}'s")));
        }
        let transactions: Vec<Vec<u8>> = block.block.transactions.iter().map(|t| t.encoded().to_vec()).collect();
        let (transactions_root, transaction_proof) = ordered_trie_proof(&transactions, index)?;
        if transactions_root != block.header().transactions_root {
            return Err(internal(format!("rebuilt transactions root {transactions_root} differs from block {number}'s")));
        }
        let certificate = self.chain.store().certificate(number).map_err(internal)?.unwrap_or_default();
        let bundle = strata_primitives::audit::ReceiptBundle {
            index: index as u64,
            receipt: receipts[index].clone().into(),
            proof,
            transaction: transactions[index].clone().into(),
            transaction_proof,
            header: block.header().clone(),
            certificate: certificate.into(),
        };
        Ok(Some(types::RpcReceiptProof::new(hash, block.hash, self.chain.spec().chain_id, &bundle)))
    }

    fn consensus_status(&self) -> RpcResult<types::RpcConsensusStatus> {
        let s = self.chain.consensus_status();
        let (hash, head) = self.chain.head();
        Ok(types::RpcConsensusStatus {
            view: U64::from(s.view),
            primary: U64::from(s.primary),
            me: U64::from(s.me),
            validators: U64::from(s.validators),
            peers: U64::from(s.peers),
            height: U64::from(head.number),
            head: hash,
        })
    }

    fn storage_quota(&self, address: Address, block: Option<BlockId>) -> RpcResult<RpcStorageQuota> {
        let state = self.resolve_state(block)?;
        let reader = state.reader(self.chain.state());
        let key = strata_primitives::system::quota_key(&address);
        let record = match reader.storage(&strata_primitives::system::STORAGE_REGISTRY, &key).map_err(internal)? {
            Some(bytes) => strata_primitives::system::QuotaRecord::decode(&bytes)
                .ok_or_else(|| internal(format!("corrupt quota record of {address}")))?,
            None => {
                let account = reader.account(&address).map_err(internal)?.unwrap_or_default();
                if account.code_hash == strata_primitives::KECCAK_EMPTY || strata_primitives::system::is_system(&address) {
                    return Err(exec_error(format!("{address} is not a user contract: only contracts have storage quotas")));
                }
                return Err(internal(format!("contract {address} has no quota record")));
            }
        };
        Ok(RpcStorageQuota {
            address,
            owner: record.owner,
            quota: U64::from(record.quota),
            used: U64::from(record.used),
            remaining: U64::from(record.remaining()),
        })
    }
}

/// Subscription ids as go-ethereum shapes them (`0x` + 32 hex digits, random), which
/// clients such as web3.py expect.
#[derive(Debug, Clone, Copy)]
struct HexIdProvider;

impl jsonrpsee::core::traits::IdProvider for HexIdProvider {
    fn next_id(&self) -> jsonrpsee::types::SubscriptionId<'static> {
        let mut b = [0u8; 16];
        if getrandom::fill(&mut b).is_err() {
            // No OS randomness: ids stay unique (time and a counter), only guessable.
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
            b[..8].copy_from_slice(&n.to_be_bytes());
            b[8..].copy_from_slice(&t.to_be_bytes());
        }
        jsonrpsee::types::SubscriptionId::Str(format!("0x{}", strata_primitives::hex::encode(b)).into())
    }
}

/// Starts the JSON-RPC server (HTTP and WebSocket) on `addr`.
pub async fn start(chain: Arc<Chain>, addr: SocketAddr, config: RpcConfig) -> Result<(SocketAddr, ServerHandle)> {
    let server_config = ServerConfig::builder()
        .max_request_body_size(config.max_request_body)
        .max_response_body_size(config.max_response_body)
        .max_connections(config.max_connections)
        .set_batch_request_config(jsonrpsee::server::BatchRequestConfig::Limit(config.max_batch))
        .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
        .set_id_provider(HexIdProvider)
        .build();
    let metrics = config.metrics.clone().unwrap_or_default();
    let rpc_middleware = jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new()
        .layer_fn(move |inner| metrics::Timed { inner, metrics: metrics.clone() });
    let server = Server::builder()
        .set_config(server_config)
        .set_rpc_middleware(rpc_middleware)
        .set_http_middleware(tower::ServiceBuilder::new().option_layer(config.cors.clone().map(cors::Cors::new)))
        .build(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    let local = server.local_addr().map_err(|source| Error::Bind { addr, source })?;
    let handle = server.start(EthRpc::new(chain, &config).into_rpc());
    tracing::info!(addr = %local, "JSON-RPC listening (HTTP and WebSocket)");
    Ok((local, handle))
}
