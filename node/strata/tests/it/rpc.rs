//! A small JSON-RPC test client over jsonrpsee's HTTP client.

use jsonrpsee::{
    core::{ClientError, client::ClientT, params::ArrayParams},
    http_client::{HttpClient, HttpClientBuilder},
};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Test client.
pub struct Rpc {
    client: HttpClient,
}

/// A JSON-RPC error answer: code and message.
#[derive(Debug)]
pub struct RpcError {
    /// Error code.
    pub code: i32,
    /// Error message.
    pub message: String,
}

impl Rpc {
    /// A client for `url`.
    pub fn new(url: &str) -> Self {
        Self { client: HttpClientBuilder::default().request_timeout(Duration::from_secs(30)).build(url).unwrap() }
    }

    /// Calls `method`; a JSON-RPC error answer is returned as `Err`.
    pub async fn try_call(&self, method: &str, params: Vec<Value>) -> Result<Value, RpcError> {
        let mut p = ArrayParams::new();
        for v in params {
            p.insert(v).unwrap();
        }
        match self.client.request::<Value, _>(method, p).await {
            Ok(v) => Ok(v),
            Err(ClientError::Call(e)) => Err(RpcError { code: e.code(), message: e.message().to_string() }),
            Err(other) => panic!("{method}: transport error {other}"),
        }
    }

    /// Calls `method`; `None` on any failure, the node being down included.
    pub async fn maybe(&self, method: &str, params: Vec<Value>) -> Option<Value> {
        let mut p = ArrayParams::new();
        for v in params {
            p.insert(v).ok()?;
        }
        self.client.request::<Value, _>(method, p).await.ok()
    }

    /// Calls `method`, panicking on an error answer.
    pub async fn call(&self, method: &str, params: Vec<Value>) -> Value {
        self.try_call(method, params).await.unwrap_or_else(|e| panic!("{method} failed: {e:?}"))
    }

    /// Calls `method` and parses the answer as a hex quantity.
    pub async fn quantity(&self, method: &str, params: Vec<Value>) -> u128 {
        hex_u128(&self.call(method, params).await)
    }

    /// Polls for a receipt (blocks are produced asynchronously).
    pub async fn wait_receipt(&self, hash: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = self.call("eth_getTransactionReceipt", vec![hash.into()]).await;
            if !r.is_null() {
                return r;
            }
            assert!(Instant::now() < deadline, "no receipt for {hash} within 30s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Parses a hex quantity.
pub fn hex_u128(v: &Value) -> u128 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a quantity: {v}"));
    u128::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("bad quantity {s}"))
}
