//! The `eth_` namespace: [`EthRpc`], the value every namespace of this crate is
//! implemented on, with the block lookups all of them share (through the one
//! resolver, [`BlockIdReader`]), and the chain-info methods (`web3_*`, `net_*`,
//! `eth_chainId`, `eth_blockNumber`, gas price and tip, `eth_syncing`,
//! `eth_accounts`). The rest of `eth_` is split as reth's `rpc-eth-api` helpers:
//! [`state`], [`call`], [`block`], [`transaction`].

mod block;
mod call;
mod state;
mod transaction;

use std::{sync::Arc, time::Duration};

use alloy_primitives::U64;
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use strata_chain::Chain;
use strata_primitives::{Address, B256, Bytes, SealedBlock, U256};

pub use block::EthBlockApiServer;
pub use call::{CallRequest, EthCallApiServer, QuoteRequest};
pub use state::EthStateApiServer;
pub(crate) use state::{StateView, check_proof_keys};
pub use transaction::EthTransactionApiServer;

use crate::{
    CLIENT_VERSION, RpcConfig, SUGGESTED_PRIORITY_FEE,
    block_id::BlockIdReader,
    error::{exec_error, internal},
    logs,
    types::BlockId,
};

/// The RPC implementation over a [`Chain`].
#[derive(Clone)]
pub struct EthRpc {
    pub(crate) chain: Arc<Chain>,
    pub(crate) filters: Arc<logs::Filters>,
    pub(crate) gas_cap: Option<u64>,
    pub(crate) simulation_timeout: Duration,
    pub(crate) await_inclusion: Option<Duration>,
    pub(crate) certifier: Option<Arc<dyn crate::CertifyService>>,
}

impl EthRpc {
    /// RPC over `chain`. Must be created inside a tokio runtime (a task feeds the
    /// pending-transaction filters).
    pub fn new(chain: Arc<Chain>, config: &RpcConfig) -> Self {
        let filters = Arc::new(logs::Filters::default());
        crate::filter::feed_pending_filters(&chain, &filters);
        Self {
            chain,
            filters,
            gas_cap: config.gas_cap,
            simulation_timeout: config.simulation_timeout,
            await_inclusion: config.await_inclusion,
            certifier: config.certifier.clone(),
        }
    }

    /// The height `id` names (`None`: latest), as [`BlockIdReader::block_number_for_id`];
    /// `None`: an unknown hash.
    pub(crate) fn number_for_id(&self, id: Option<BlockId>) -> RpcResult<Option<u64>> {
        self.chain.block_number_for_id(id).map_err(internal)
    }

    /// The height `id` names (`None`: latest), an unknown hash being an error (`-32000`, "block … not
    /// found"): for queries that read a block's state.
    pub(crate) fn required_number_for_id(&self, id: Option<BlockId>) -> RpcResult<u64> {
        let id = id.unwrap_or_default();
        self.number_for_id(Some(id))?.ok_or_else(|| exec_error(format!("block {id} not found")))
    }

    /// The stored block `id` names; `None` for an unknown hash or a number past the head.
    pub(crate) fn block_at(&self, id: BlockId) -> RpcResult<Option<SealedBlock>> {
        match self.number_for_id(Some(id))? {
            Some(number) => self.block_by_number(number),
            None => Ok(None),
        }
    }

    pub(crate) fn block_by_number(&self, number: u64) -> RpcResult<Option<SealedBlock>> {
        self.chain.store().block(number).map_err(internal)
    }
}

/// Chain information: the `web3_` and `net_` namespaces and the `eth_` methods that
/// read no state.
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
    /// Blocks are final once committed and the node is its own source: never syncing.
    #[method(name = "eth_syncing")]
    fn syncing(&self) -> RpcResult<bool>;
    /// The node holds no keys.
    #[method(name = "eth_accounts")]
    fn accounts(&self) -> RpcResult<Vec<Address>>;
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
        let env = self.chain.next_env(0).map_err(internal)?;
        Ok(U256::from(env.base_fee))
    }

    fn max_priority_fee(&self) -> RpcResult<U256> {
        Ok(U256::from(SUGGESTED_PRIORITY_FEE))
    }

    fn syncing(&self) -> RpcResult<bool> {
        Ok(false)
    }

    fn accounts(&self) -> RpcResult<Vec<Address>> {
        Ok(Vec::new())
    }
}
