//! RPC latency by method, measured by a jsonrpsee middleware and rendered in the
//! Prometheus text format by the node's `/metrics` endpoint.

use std::{collections::BTreeMap, future::Future, sync::Arc, time::Instant};

use jsonrpsee::{
    core::middleware::{Batch, Notification},
    server::middleware::rpc::RpcServiceT,
    types::Request,
};
use parking_lot::Mutex;

/// Upper bounds (seconds) of the latency histogram's buckets.
pub const BUCKETS: [f64; 10] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5];

/// Most distinct method names tracked; calls to others (unknown methods, say) count as "other".
const MAX_METHODS: usize = 128;

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Per-method latency histograms of the RPC server.
#[derive(Debug, Default)]
pub struct RpcMetrics {
    methods: Mutex<BTreeMap<String, Histogram>>,
}

impl RpcMetrics {
    /// Records one call.
    pub fn observe(&self, method: &str, seconds: f64) {
        let mut methods = self.methods.lock();
        let key = if methods.contains_key(method) || methods.len() < MAX_METHODS { method } else { "other" };
        let h = methods.entry(key.to_string()).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] = h.counts[i].saturating_add(1);
            }
        }
        h.count = h.count.saturating_add(1);
        h.sum += seconds;
    }

    /// The histograms in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(out, "# HELP strata_rpc_request_duration_seconds JSON-RPC call latency by method.");
        let _ = writeln!(out, "# TYPE strata_rpc_request_duration_seconds histogram");
        for (method, h) in self.methods.lock().iter() {
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(out, "strata_rpc_request_duration_seconds_bucket{{method=\"{method}\",le=\"{bound}\"}} {}", h.counts[i]);
            }
            let _ = writeln!(out, "strata_rpc_request_duration_seconds_bucket{{method=\"{method}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "strata_rpc_request_duration_seconds_sum{{method=\"{method}\"}} {}", h.sum);
            let _ = writeln!(out, "strata_rpc_request_duration_seconds_count{{method=\"{method}\"}} {}", h.count);
        }
    }
}

/// The middleware: times every call (batch members are counted with the batch's
/// own entry, `batch`).
#[derive(Clone)]
pub struct Timed<S> {
    pub(crate) inner: S,
    pub(crate) metrics: Arc<RpcMetrics>,
}

impl<S> RpcServiceT for Timed<S>
where
    S: RpcServiceT + Send + Sync + Clone + 'static,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let (inner, metrics) = (self.inner.clone(), self.metrics.clone());
        let method = request.method_name().to_owned();
        async move {
            let start = Instant::now();
            let response = inner.call(request).await;
            metrics.observe(&method, start.elapsed().as_secs_f64());
            response
        }
    }

    fn batch<'a>(&self, requests: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        let (inner, metrics) = (self.inner.clone(), self.metrics.clone());
        async move {
            let start = Instant::now();
            let response = inner.batch(requests).await;
            metrics.observe("batch", start.elapsed().as_secs_f64());
            response
        }
    }

    fn notification<'a>(&self, n: Notification<'a>) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.inner.notification(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_render_cumulatively_and_cap_method_names() {
        let m = RpcMetrics::default();
        m.observe("eth_call", 0.002);
        m.observe("eth_call", 0.2);
        for i in 0..MAX_METHODS + 10 {
            m.observe(&format!("junk_{i}"), 0.001);
        }
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains("strata_rpc_request_duration_seconds_bucket{method=\"eth_call\",le=\"0.0025\"} 1"));
        assert!(out.contains("strata_rpc_request_duration_seconds_bucket{method=\"eth_call\",le=\"0.5\"} 2"));
        assert!(out.contains("strata_rpc_request_duration_seconds_count{method=\"other\"}"));
        assert!(m.methods.lock().len() <= MAX_METHODS + 1);
    }
}
