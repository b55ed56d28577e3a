//! Strata's Ethereum JSON-RPC server.
//!
//! Why: dapps and wallets speak Ethereum JSON-RPC; serving it exactly (method
//! names, JSON shapes, hex quantities, error codes) lets web3.py, ethers and
//! viem work unchanged. One jsonrpsee server answers HTTP and WebSocket on one
//! port. Methods are thin: they parse, ask the [`Chain`], and shape the answer.
//! Bad parameters get `-32602`, refused transactions `-32000` with the reason,
//! node failures `-32603`; nothing a client sends can crash the node.

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
use strata_chain::{Chain, SubmitError};
use strata_primitives::{Address, B256, Bytes, SealedBlock, TransactionSigned, U256};

use types::TxContext;
pub use types::{BlockId, BlockTag, RpcBlock, RpcReceipt, RpcTransaction};

/// Name and version reported by `web3_clientVersion`.
pub const CLIENT_VERSION: &str = concat!("strata/v", env!("CARGO_PKG_VERSION"));

/// Suggested priority fee (wei per gas) returned by `eth_maxPriorityFeePerGas`.
pub const SUGGESTED_PRIORITY_FEE: u64 = 1_000_000_000;

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

/// Server limits.
#[derive(Debug, Clone, Copy)]
pub struct RpcConfig {
    /// Largest request body accepted (bytes).
    pub max_request_body: u32,
    /// Largest response body produced (bytes).
    pub max_response_body: u32,
    /// Maximum simultaneous connections.
    pub max_connections: u32,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            max_request_body: 5 * 1024 * 1024,
            max_response_body: 20 * 1024 * 1024,
            max_connections: 200,
        }
    }
}

fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    tracing::error!(error = %e, "rpc internal error");
    ErrorObjectOwned::owned(
        INTERNAL_ERROR_CODE,
        format!("internal error: {e}"),
        None::<()>,
    )
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
    /// Submits a signed transaction.
    #[method(name = "eth_sendRawTransaction")]
    fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256>;
    /// A transaction by hash (pooled or included).
    #[method(name = "eth_getTransactionByHash")]
    fn get_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<RpcTransaction>>;
    /// The EIP-2718 bytes of a transaction.
    #[method(name = "eth_getRawTransactionByHash")]
    fn get_raw_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Bytes>>;
    /// The receipt of an included transaction.
    #[method(name = "eth_getTransactionReceipt")]
    fn get_transaction_receipt(&self, hash: B256) -> RpcResult<Option<RpcReceipt>>;
    /// A block by number or tag.
    #[method(name = "eth_getBlockByNumber")]
    fn get_block_by_number(&self, tag: BlockTag, full: bool) -> RpcResult<Option<RpcBlock>>;
    /// A block by hash.
    #[method(name = "eth_getBlockByHash")]
    fn get_block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<RpcBlock>>;
    /// Gas a transaction needs (value transfers: their intrinsic gas).
    #[method(name = "eth_estimateGas")]
    fn estimate_gas(&self, request: CallRequest, block: Option<BlockId>) -> RpcResult<U64>;
    /// Blocks are final once committed and the node is its own source: never syncing.
    #[method(name = "eth_syncing")]
    fn syncing(&self) -> RpcResult<bool>;
    /// The node holds no keys.
    #[method(name = "eth_accounts")]
    fn accounts(&self) -> RpcResult<Vec<Address>>;
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
    /// Call data (`input` or its older name `data`).
    #[serde(alias = "data")]
    pub input: Option<Bytes>,
}

/// The RPC implementation over a [`Chain`].
pub struct EthRpc {
    chain: Arc<Chain>,
}

impl EthRpc {
    /// RPC over `chain`.
    pub fn new(chain: Arc<Chain>) -> Self {
        Self { chain }
    }

    /// Resolves a state-query block to "the latest state" or refuses it. Only the
    /// latest state is kept by this version of the node.
    fn latest_state_only(&self, block: Option<BlockId>) -> RpcResult<bool> {
        let (head_hash, head) = self.chain.head();
        let pending = matches!(block, Some(BlockId::Tag(BlockTag::Pending)));
        let ok = match block.unwrap_or_default() {
            BlockId::Tag(BlockTag::Latest | BlockTag::Pending) => true,
            BlockId::Tag(BlockTag::Earliest) => head.number == 0,
            BlockId::Tag(BlockTag::Number(n)) => n == head.number,
            BlockId::Hash(h) => h == head_hash,
        };
        if !ok {
            return Err(ErrorObjectOwned::owned(
                CALL_EXECUTION_FAILED_CODE,
                format!(
                    "state of block {block:?} is not available: this node serves the state of the latest block ({})",
                    head.number
                ),
                None::<()>,
            ));
        }
        Ok(pending)
    }

    fn block_by_number(&self, number: u64) -> RpcResult<Option<SealedBlock>> {
        self.chain.store().block(number).map_err(internal)
    }

    fn senders(block: &SealedBlock) -> RpcResult<Vec<Address>> {
        block
            .block
            .transactions
            .iter()
            .map(|tx| tx.recover_sender().map_err(internal))
            .collect()
    }

    fn included(&self, hash: &B256) -> RpcResult<Option<(SealedBlock, usize)>> {
        let Some(loc) = self.chain.store().tx_location(hash).map_err(internal)? else {
            return Ok(None);
        };
        let block = self
            .block_by_number(loc.block_number)?
            .ok_or_else(|| internal(format!("indexed block {} missing", loc.block_number)))?;
        let index = usize::try_from(loc.index).map_err(internal)?;
        if index >= block.block.transactions.len() {
            return Err(internal(format!(
                "tx index {index} beyond block {}",
                loc.block_number
            )));
        }
        Ok(Some((block, index)))
    }

    fn rpc_block(block: Option<SealedBlock>, full: bool) -> RpcResult<Option<RpcBlock>> {
        let Some(block) = block else { return Ok(None) };
        let senders = if full {
            Self::senders(&block)?
        } else {
            Vec::new()
        };
        Ok(Some(RpcBlock::new(&block, &senders, full)))
    }
}

fn ctx(block: &SealedBlock, index: usize) -> TxContext {
    TxContext {
        block_hash: block.hash,
        block_number: block.number(),
        index: index as u64,
        base_fee: block.header().base_fee_per_gas,
    }
}

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
        Ok(U256::from(self.chain.head().1.base_fee_per_gas) + U256::from(SUGGESTED_PRIORITY_FEE))
    }

    fn max_priority_fee(&self) -> RpcResult<U256> {
        Ok(U256::from(SUGGESTED_PRIORITY_FEE))
    }

    fn get_balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        self.latest_state_only(block)?;
        Ok(self.chain.account(&address).map_err(internal)?.balance)
    }

    fn get_transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64> {
        let nonce = if self.latest_state_only(block)? {
            self.chain.pending_nonce(&address)
        } else {
            self.chain.account(&address).map(|a| a.nonce)
        };
        Ok(U64::from(nonce.map_err(internal)?))
    }

    fn get_code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes> {
        self.latest_state_only(block)?;
        let account = self.chain.account(&address).map_err(internal)?;
        // No code can exist before the contract runtime lands; an account with a
        // code hash but no code store would be corruption.
        if account.code_hash != strata_primitives::KECCAK_EMPTY {
            return Err(internal(format!(
                "account {address} has code but this node has no code store"
            )));
        }
        Ok(Bytes::new())
    }

    fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        self.chain.submit_raw(&raw).map_err(rejected)
    }

    fn get_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<RpcTransaction>> {
        if let Some((block, index)) = self.included(&hash)? {
            let tx = &block.block.transactions[index];
            let from = tx.recover_sender().map_err(internal)?;
            return Ok(Some(RpcTransaction::new(
                tx,
                from,
                Some(ctx(&block, index)),
            )));
        }
        Ok(self
            .chain
            .pooled(&hash)
            .map(|p| RpcTransaction::new(&p.tx, p.sender, None)))
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
        let receipts = self
            .chain
            .store()
            .receipts(block.number())
            .map_err(internal)?
            .ok_or_else(|| internal("receipts missing"))?;
        let receipt = receipts
            .get(index)
            .ok_or_else(|| internal("receipt missing"))?;
        let first_log_index = receipts[..index].iter().map(|r| r.logs.len() as u64).sum();
        let tx: &TransactionSigned = &block.block.transactions[index];
        let from = tx.recover_sender().map_err(internal)?;
        Ok(Some(RpcReceipt::new(
            tx,
            from,
            receipt,
            block.header(),
            ctx(&block, index),
            first_log_index,
        )))
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

    fn estimate_gas(&self, request: CallRequest, block: Option<BlockId>) -> RpcResult<U64> {
        self.latest_state_only(block)?;
        if request.to.is_none() {
            return Err(ErrorObjectOwned::owned(
                CALL_EXECUTION_FAILED_CODE,
                "contract creation is not supported by this node yet",
                None::<()>,
            ));
        }
        let input = request.input.unwrap_or_default();
        let gas = strata_primitives::transaction::intrinsic_gas(&input, false);
        if let (Some(from), Some(value)) = (request.from, request.value) {
            let balance = self.chain.account(&from).map_err(internal)?.balance;
            if balance < value {
                return Err(ErrorObjectOwned::owned(
                    CALL_EXECUTION_FAILED_CODE,
                    format!("insufficient funds for transfer: have {balance} want {value}"),
                    None::<()>,
                ));
            }
        }
        if let Some(cap) = request.gas
            && cap.to::<u64>() < gas
        {
            return Err(ErrorObjectOwned::owned(
                CALL_EXECUTION_FAILED_CODE,
                format!("gas required exceeds allowance ({cap})"),
                None::<()>,
            ));
        }
        Ok(U64::from(gas))
    }

    fn syncing(&self) -> RpcResult<bool> {
        Ok(false)
    }

    fn accounts(&self) -> RpcResult<Vec<Address>> {
        Ok(Vec::new())
    }
}

/// Starts the JSON-RPC server (HTTP and WebSocket) on `addr`.
pub async fn start(
    chain: Arc<Chain>,
    addr: SocketAddr,
    config: RpcConfig,
) -> Result<(SocketAddr, ServerHandle)> {
    let server_config = ServerConfig::builder()
        .max_request_body_size(config.max_request_body)
        .max_response_body_size(config.max_response_body)
        .max_connections(config.max_connections)
        .build();
    let server = Server::builder()
        .set_config(server_config)
        .build(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    let local = server
        .local_addr()
        .map_err(|source| Error::Bind { addr, source })?;
    let handle = server.start(EthRpc::new(chain).into_rpc());
    tracing::info!(addr = %local, "JSON-RPC listening (HTTP and WebSocket)");
    Ok((local, handle))
}
