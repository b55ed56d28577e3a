//! Simulation: `eth_call`, `eth_estimateGas` and the fee quote behind
//! `strata_quoteFee`, run on the chain's bounded simulation threads
//! ([`EthRpc::on_simulation_pool`]) against the state a block id names, with the gas
//! cap and the wall-clock timeout of [`RpcConfig`](crate::RpcConfig).

use std::{sync::Arc, time::Instant};

use alloy_primitives::U64;
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use strata_executor::{BlockEnv, Simulation};
use strata_primitives::{Address, Bytes, TransactionSigned, U256};
use strata_state::StateReader;

use super::{EthRpc, StateView};
use crate::{
    error::{busy, exec_error, execution_error, internal, simulation_error},
    types::{BlockId, RpcFeeQuote, RpcResources},
};

/// Calls executed without a transaction.
#[rpc(server)]
pub trait EthCallApi {
    /// Executes a call without a transaction; returns its output.
    #[method(name = "eth_call")]
    async fn call(&self, request: CallRequest, block: Option<BlockId>) -> RpcResult<Bytes>;
    /// The smallest gas limit with which the transaction succeeds.
    #[method(name = "eth_estimateGas")]
    async fn estimate_gas(&self, request: CallRequest, block: Option<BlockId>) -> RpcResult<U64>;
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

impl EthRpc {
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
        f: impl FnOnce(EthRpc, Instant) -> RpcResult<R> + Send + 'static,
    ) -> RpcResult<R> {
        let deadline = Instant::now() + self.simulation_timeout;
        let this = self.clone();
        let timeout = self.simulation_timeout;
        let job = move || {
            // Its time ran out while it waited: no work at all.
            if Instant::now() >= deadline {
                return Err(simulation_error(strata_executor::Error::Interrupted, timeout));
            }
            f(this, deadline)
        };
        match strata_chain::run_on(&self.chain.pools().simulation, job).await {
            Ok(r) => r,
            Err(e) => Err(busy(e, "too many simulations in progress")),
        }
    }

    /// State and block environment to execute a call in: the latest state as the next
    /// block would see it, or a retained block's state with that block's environment.
    fn execution_state(&self, block: Option<BlockId>) -> RpcResult<(Arc<dyn StateReader + Send + Sync>, BlockEnv)> {
        match self.state_view(block)? {
            StateView::Latest { .. } => {
                let env = self.chain.next_env(self.chain.head().1.timestamp).map_err(internal)?;
                Ok((Arc::new(self.chain.state().clone()), env))
            }
            StateView::At { number, state } => {
                let header =
                    self.chain.store().header(number).map_err(internal)?.ok_or_else(|| exec_error(format!("block {number} not found")))?;
                let env = BlockEnv {
                    chain_id: header.chain_id,
                    number: header.number,
                    parent_hash: header.parent_hash,
                    timestamp: header.timestamp,
                    proposer: header.proposer,
                    gas_limit: header.gas_limit,
                    base_fee: header.base_fee_per_gas,
                    replicas: self.chain.spec().replicas(),
                };
                Ok((Arc::new(state), env))
            }
        }
    }

    fn simulation(&self, request: &CallRequest, gas: u64, deadline: Instant) -> Simulation {
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

    /// `strata_quoteFee`: what a transaction — signed (raw bytes) or unsigned (a call
    /// object) — would use and pay, by resource, executed in the state `block` names.
    pub(crate) async fn fee_quote(&self, request: QuoteRequest, block: Option<BlockId>) -> RpcResult<RpcFeeQuote> {
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
                resources: RpcResources::from(&result.resources),
                revert_data: (!result.success && result.failure.is_none() && !result.output.is_empty())
                    .then(|| result.output.clone().into()),
                failure_reason: result.failure,
            })
        })
        .await
    }
}

#[jsonrpsee::core::async_trait]
impl EthCallApiServer for EthRpc {
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
}
