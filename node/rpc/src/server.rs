//! The server: [`start`], its limits ([`RpcConfig`]), the wiring of the CORS (HTTP)
//! and latency-metrics (RPC) middleware, go-ethereum-shaped subscription ids, and the
//! one [`RpcModule`] all namespaces are merged into.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use jsonrpsee::{
    RpcModule,
    server::{BatchRequestConfig, Server, ServerConfig, ServerHandle, middleware::rpc::RpcServiceBuilder},
};
use strata_chain::Chain;

use crate::{
    EthApiServer, EthBlockApiServer, EthCallApiServer, EthFilterApiServer, EthPubSubApiServer, EthRpc, EthStateApiServer,
    EthTransactionApiServer, StrataApiServer, cors, metrics,
};

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
    pub simulation_timeout: Duration,
    /// Instant-mining dev nodes: `eth_sendRawTransaction` answers once its transaction is
    /// in a committed block, waiting at most this long, and only while the transaction can
    /// be included now (a nonce gap or an eviction ends the wait). `None`: answer on
    /// admission, as any node.
    pub await_inclusion: Option<Duration>,
    /// A validator's certified submissions (`strata_sendRawTransactionCertified`);
    /// `None`: refused.
    pub certifier: Option<Arc<dyn crate::CertifyService>>,
    /// Serve the explorer's pages at `/explorer` (GET; JSON-RPC is unaffected).
    pub explorer: bool,
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
            simulation_timeout: Duration::from_secs(5),
            await_inclusion: None,
            certifier: None,
            explorer: true,
        }
    }
}

impl EthRpc {
    /// Every namespace of this crate in one module (each `*ApiServer` trait's own
    /// `into_rpc` gives only its namespace).
    pub fn into_rpc(self) -> RpcModule<EthRpc> {
        let mut module = EthApiServer::into_rpc(self.clone());
        let namespaces: [jsonrpsee::Methods; 10] = [
            EthStateApiServer::into_rpc(self.clone()).into(),
            EthCallApiServer::into_rpc(self.clone()).into(),
            EthBlockApiServer::into_rpc(self.clone()).into(),
            EthTransactionApiServer::into_rpc(self.clone()).into(),
            EthFilterApiServer::into_rpc(self.clone()).into(),
            EthPubSubApiServer::into_rpc(self.clone()).into(),
            crate::slots::SlotsApiServer::into_rpc(self.clone()).into(),
            crate::certified::CertifiedApiServer::into_rpc(self.clone()).into(),
            crate::ots::OtsApiServer::into_rpc(self.clone()).into(),
            StrataApiServer::into_rpc(self).into(),
        ];
        for methods in namespaces {
            // Method names are fixed at compile time: a clash is a bug in this crate.
            module.merge(methods).expect("RPC method names are unique across namespaces");
        }
        module
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
        .set_batch_request_config(BatchRequestConfig::Limit(config.max_batch))
        .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
        .set_id_provider(HexIdProvider)
        .build();
    let metrics = config.metrics.clone().unwrap_or_default();
    let rpc_middleware = RpcServiceBuilder::new().layer_fn(move |inner| metrics::Timed { inner, metrics: metrics.clone() });
    let server = Server::builder()
        .set_config(server_config)
        .set_rpc_middleware(rpc_middleware)
        .set_http_middleware(
            tower::ServiceBuilder::new()
                .option_layer(config.explorer.then_some(crate::explorer::Explorer))
                .option_layer(config.cors.clone().map(cors::Cors::new)),
        )
        .build(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    let local = server.local_addr().map_err(|source| Error::Bind { addr, source })?;
    let handle = server.start(EthRpc::new(chain, &config).into_rpc());
    tracing::info!(addr = %local, "JSON-RPC listening (HTTP and WebSocket)");
    Ok((local, handle))
}
