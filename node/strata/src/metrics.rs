//! `/metrics` (Prometheus text format) and `/health` on their own address
//! (`--metrics-addr`), as operators scrape them: block height, transactions in the
//! last block, mempool size, consensus view, connected peers, and JSON-RPC latency
//! by method.

use std::{fmt::Write, net::SocketAddr, sync::Arc, time::Duration};

use strata_chain::Chain;
use strata_rpc::metrics::RpcMetrics;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

/// The exposition of the node's state.
pub fn render(chain: &Chain, rpc: &RpcMetrics) -> String {
    let (_, head) = chain.head();
    let status = chain.consensus_status();
    let txs = chain.store().body(head.number).ok().flatten().map_or(0, |b| b.len());
    let mut out = String::new();
    for (name, help, value) in [
        ("strata_block_height", "Height of the latest committed block.", head.number),
        ("strata_block_transactions", "Transactions in the latest committed block.", txs as u64),
        ("strata_block_gas_used", "Gas used by the latest committed block.", head.gas_used),
        ("strata_mempool_transactions", "Transactions waiting in the pool.", chain.pool_len() as u64),
        ("strata_consensus_view", "Current PBFT view.", status.view),
        ("strata_consensus_primary", "Validator index of the current view's primary.", u64::from(status.primary)),
        ("strata_validators", "Validators in the set.", u64::from(status.validators)),
        ("strata_peers", "Validators connected to this one.", u64::from(status.peers)),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
    }
    if let Ok(Some(slots)) = chain.slot_state() {
        render_slots(&mut out, chain, &slots, head.number);
    }
    rpc.render(&mut out);
    out
}

/// Validator-slot gauges: this machine's role, and per slot which key is active and
/// when it last switched.
fn render_slots(out: &mut String, chain: &Chain, slots: &strata_chain::SlotStateView, head: u64) {
    let me = chain.local_address();
    let next = head.saturating_add(1);
    let role = slots.slots.iter().find(|s| s.holds(&me)).map(|s| u64::from(s.active_at(next) == me));
    if let Some(role) = role {
        let _ = writeln!(
            out,
            "# HELP strata_slot_role 1 if this machine's key is its slot's active key at the next height, 0 if it runs as the sync node.\n\
             # TYPE strata_slot_role gauge\nstrata_slot_role {role}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP strata_slot_backup_active 1 if the slot's backup machine is the active one.\n# TYPE strata_slot_backup_active gauge"
    );
    for (i, s) in slots.slots.iter().enumerate() {
        let _ = writeln!(out, "strata_slot_backup_active{{slot=\"{i}\"}} {}", u64::from(s.active_at(next) == s.backup && s.has_backup()));
    }
    let _ = writeln!(
        out,
        "# HELP strata_slot_last_switch Height of the block that decided the slot's last switch (0: never).\n# TYPE strata_slot_last_switch gauge"
    );
    for (i, s) in slots.slots.iter().enumerate() {
        let _ = writeln!(out, "strata_slot_last_switch{{slot=\"{i}\"}} {}", s.last_switch);
    }
}

/// Health: `200` with the head and peers when the node can make progress (a lone
/// validator, or connected to enough peers for a quorum), `503` otherwise.
pub fn health(chain: &Chain) -> (u16, String) {
    let (hash, head) = chain.head();
    let s = chain.consensus_status();
    let n = s.validators.max(1);
    let quorum = n - (n - 1) / 3;
    let ok = s.peers.saturating_add(1) >= quorum;
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "degraded" },
        "height": head.number,
        "head": hash,
        "view": s.view,
        "peers": s.peers,
        "validators": s.validators,
    });
    (if ok { 200 } else { 503 }, body.to_string())
}

/// Serves `/metrics` and `/health` on `addr` until the task is aborted.
pub async fn serve(
    addr: SocketAddr,
    chain: Arc<Chain>,
    rpc: Arc<RpcMetrics>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, "metrics and health listening");
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { continue };
            let (chain, rpc) = (chain.clone(), rpc.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                let n = match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
                    Ok(Ok(n)) => n,
                    _ => return,
                };
                let request = String::from_utf8_lossy(&buf[..n]);
                let path = request.lines().next().and_then(|l| l.split_whitespace().nth(1)).unwrap_or("");
                let (code, kind, body) = match path {
                    "/metrics" => (200, "text/plain; version=0.0.4", render(&chain, &rpc)),
                    "/health" => {
                        let (code, body) = health(&chain);
                        (code, "application/json", body)
                    }
                    _ => (404, "text/plain", "not found: try /metrics or /health\n".to_string()),
                };
                let reason = match code {
                    200 => "OK",
                    503 => "Service Unavailable",
                    _ => "Not Found",
                };
                let response = format!(
                    "HTTP/1.1 {code} {reason}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok((local, task))
}
