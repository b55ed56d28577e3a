//! Signatures passed from attestor to attestor (`attest_pass`), and the submission of
//! what the ring gathered.
//!
//! The attestors of a request form a ring: its attestors sorted by address, rotated so
//! the request's leader (`id mod n`) comes first. The leader signs and passes its
//! signature to the next attestor; each adds its own — waiting up to `--hold` for its own
//! read — and passes the set on. Whoever holds a deciding set (at least the quorum
//! observing the data hash, or at least the quorum observing something else) submits it
//! in one `attest` transaction; so does the last one, when the set comes back with
//! nothing new. An attestor that does not answer is skipped; when no one answers, the
//! holder submits directly.
//!
//! A pass is answered at once (the work happens after), and only if it carries at least
//! one signature of a current attestor for the request; at most 64 are handled at once,
//! batches are refused, and the body is at most 64 KiB.

use std::{sync::Arc, time::Duration};

use serde_json::json;
use strata_primitives::{Address, B256, Bytes, Signature, attestation};

use super::daemon::{Attestor, Mine, Req};

impl Attestor {
    /// Signatures a peer passed for request `id`: a first check (each must recover to a
    /// current attestor), then, in the background, the request learned if need be, the
    /// signatures merged and acted on. How many passed the first check.
    pub async fn receive(self: &Arc<Self>, id: u64, entries: Vec<(B256, Bytes)>) -> anyhow::Result<usize> {
        anyhow::ensure!(
            !entries.is_empty() && entries.len() <= attestation::MAX_SIGNATURES,
            "1..={} signatures",
            attestation::MAX_SIGNATURES
        );
        let attestors = self.attestors.lock().clone();
        let mut checked = Vec::new();
        for (observed, sig) in entries {
            let d = attestation::digest(self.chain_id, self.opts.contract, id, observed);
            let signer = Signature::try_from(sig.as_ref()).ok().and_then(|s| s.recover_address_from_prehash(&d).ok());
            if let Some(a) = signer.filter(|a| attestors.binary_search(a).is_ok()) {
                checked.push((a, observed, sig));
            }
        }
        anyhow::ensure!(!checked.is_empty(), "no signature of an attestor of this contract for request {id}");
        let permit = self.passes.clone().try_acquire_owned().map_err(|_| anyhow::anyhow!("busy: too many passes in progress"))?;
        let n = checked.len();
        let me = self.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let req = match me.learn_by_id(id).await {
                Ok(Some(r)) => r,
                Ok(None) => {
                    return tracing::debug!(request = id, "a pass for a request not worked here (decided, expired, counted or not ours)");
                }
                Err(e) => return tracing::warn!(request = id, error = format!("{e:#}"), "a passed request could not be taken up"),
            };
            let mut new = 0;
            for (a, observed, sig) in checked {
                if req.ring.contains(&a) && req.sigs.lock().insert(a, (observed, sig)).is_none() {
                    new += 1;
                }
            }
            me.on_set(&req, new > 0).await;
        });
        Ok(n)
    }

    /// A passed set arrived (`grew`: it brought signatures this attestor lacked).
    async fn on_set(&self, req: &Req, grew: bool) {
        let _one = req.advancing.lock().await;
        let mut grew = grew;
        let mut rx = req.mine.subscribe();
        if *rx.borrow() == Mine::Reading {
            let wait = tokio::time::timeout(self.opts.hold, rx.wait_for(|m| *m != Mine::Reading)).await;
            if matches!(wait, Ok(Ok(m)) if matches!(*m, Mine::Signed(_))) {
                grew = true;
            }
        }
        if !grew {
            // The set came back with nothing new: this is the end of the ring.
            if !req.closed.swap(true, std::sync::atomic::Ordering::Relaxed) {
                self.submit(req, req.groups(|_| true), "the end of the ring").await;
            }
            return;
        }
        self.advance(req).await;
    }

    /// Submits a deciding set, or passes the set on (directly submitting when no peer
    /// answers). The caller holds `req.advancing`.
    pub(super) async fn advance(&self, req: &Req) {
        use std::sync::atomic::Ordering::Relaxed;
        if req.closed.load(Relaxed) {
            return;
        }
        let (matching, differing) = req.tally();
        if matching >= req.quorum {
            if !req.closed.swap(true, Relaxed) {
                self.submit(req, req.groups(|h| *h == req.data_hash), "a quorum matches").await;
            }
            return;
        }
        if differing >= req.quorum {
            if !req.closed.swap(true, Relaxed) {
                self.submit(req, req.groups(|h| *h != req.data_hash), "a quorum differs").await;
            }
            return;
        }
        let entries: Vec<(B256, Bytes)> = req.sigs.lock().values().cloned().collect();
        let me = self.address();
        let at = req.ring.iter().position(|a| *a == me).unwrap_or(0);
        let n = req.ring.len();
        for step in 1..n {
            let next: Address = req.ring[(at + step) % n];
            let Some(peer) = self.peers.get(&next) else { continue };
            let call = peer.request("attest_pass", vec![json!(req.id), json!(entries)]);
            match tokio::time::timeout(Duration::from_secs(2), call).await {
                Ok(Ok(_)) => {
                    tracing::debug!(request = req.id, to = %next, signatures = entries.len(), "passed");
                    return;
                }
                Ok(Err(e)) => {
                    tracing::warn!(request = req.id, peer = %next, error = format!("{e:#}"), "peer refused the pass; trying the next")
                }
                Err(_) => tracing::warn!(request = req.id, peer = %next, "peer did not answer; trying the next"),
            }
        }
        if !req.closed.swap(true, Relaxed) {
            self.submit(req, req.groups(|_| true), "no peer answered").await;
        }
    }
}

/// Serves `attest_pass` on `addr` for `attestor`; the bound address.
pub async fn serve(attestor: Arc<Attestor>, addr: std::net::SocketAddr) -> anyhow::Result<std::net::SocketAddr> {
    use jsonrpsee::{
        server::{BatchRequestConfig, Server, ServerConfig},
        types::ErrorObject,
    };
    let mut module = jsonrpsee::RpcModule::new(attestor);
    module.register_async_method("attest_pass", |params, attestor, _| async move {
        let (id, entries): (u64, Vec<(B256, Bytes)>) =
            params.parse().map_err(|e| ErrorObject::owned(-32602, format!("bad params: {e}"), None::<()>))?;
        attestor.receive(id, entries).await.map_err(|e| ErrorObject::owned(-32000, format!("{e:#}"), None::<()>))
    })?;
    // A full pass is at most MAX_SIGNATURES entries of ~200 bytes of JSON.
    let config = ServerConfig::builder()
        .max_request_body_size(64 * 1024)
        .max_connections(256)
        .set_batch_request_config(BatchRequestConfig::Disabled)
        .build();
    let server = Server::builder().set_config(config).build(addr).await?;
    let bound = server.local_addr()?;
    let handle = server.start(module);
    tokio::spawn(handle.stopped());
    Ok(bound)
}
