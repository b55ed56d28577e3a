//! Catching up: asking peers for the certified blocks this validator lacks (whom to
//! ask is the [`SyncPlanner`](crate::sync::SyncPlanner)'s choice), answering theirs, and importing what comes
//! back — each certificate checked against the validator set, each block re-executed
//! to the same header before it commits.

use std::time::Duration;

use strata_chain::{Check, ValidateError};
use strata_consensus::Input;
use strata_primitives::{Bytes, consensus::CommitCertificate, rlp_item::decode_exact};
use tokio::time::Instant;

use super::Driver;
use crate::wire::{CertifiedBlock, Envelope, SYNC_BATCH, SYNC_MAX_BYTES, SyncRequest, Wire};

impl Driver {
    /// Sends the sync requests the planner wants now.
    pub(super) fn sync_poll(&mut self) {
        let head = self.chain.head().1.number;
        // One block behind is normal for a moment (a peer committed first); only when
        // consensus has not moved us for a while is it worth fetching.
        let eager = self.last_commit.elapsed() > Duration::from_secs(3);
        if !eager && self.sync.target() <= head.saturating_add(1) {
            return;
        }
        for r in self.sync.poll(head, Instant::now().into_std()) {
            tracing::info!(peer = r.peer, from = r.from, target = self.sync.target(), "behind: syncing certified blocks");
            self.machines.send(r.peer, Wire::SyncRequest(SyncRequest { from: r.from, limit: SYNC_BATCH }).encode(self.chain_id));
        }
    }

    /// Answers a peer's sync request off the async threads, one request per peer at a
    /// time (more are dropped), at most [`SYNC_BATCH`] blocks and [`SYNC_MAX_BYTES`].
    pub(super) fn serve_sync(&self, from: u32, r: SyncRequest) {
        if !self.serving.lock().insert(from) {
            tracing::debug!(from, "sync request while one is served: dropped");
            return;
        }
        let (chain, net, serving, chain_id) = (self.chain.clone(), self.machines.clone(), self.serving.clone(), self.chain_id);
        tokio::task::spawn_blocking(move || {
            let limit = r.limit.min(SYNC_BATCH);
            let mut out = Vec::new();
            let mut bytes = 0usize;
            let collected = (|| -> strata_chain::Result<()> {
                for n in r.from..r.from.saturating_add(limit) {
                    let Some((b, Some(cert))) = chain.block_with_certificate(n)? else { break };
                    let envelope = Envelope { block: b.block, parent_certificate: chain.parent_certificate_of(n)?.into() };
                    let block: Bytes = alloy_rlp::encode(&envelope).into();
                    let size = block.len().saturating_add(cert.len());
                    if !out.is_empty() && bytes.saturating_add(size) > SYNC_MAX_BYTES {
                        break;
                    }
                    bytes = bytes.saturating_add(size);
                    out.push(CertifiedBlock { block, certificate: cert.into() });
                }
                Ok(())
            })();
            if let Err(e) = collected {
                tracing::error!(from, error = %e, "cannot read blocks for a peer's sync request");
            }
            // An empty answer tells the peer at once to ask someone else.
            net.send(from, Wire::SyncResponse(out).encode(chain_id));
            serving.lock().remove(&from);
        });
    }

    /// Imports certified blocks from a peer: each certificate is checked against the
    /// validator set, each block re-executed to the same header before it commits. A
    /// peer that serves nothing, or something that does not check out, is asked no more
    /// for a while (see [`SyncPlanner`](crate::sync::SyncPlanner)).
    pub(super) async fn import(&mut self, from: u32, blocks: Vec<CertifiedBlock>) -> crate::Result<()> {
        if !self.sync.asked(from) {
            tracing::debug!(from, "unsolicited sync response dropped");
            return Ok(());
        }
        let mut imported = 0usize;
        // Blocks we already had (another peer answered first): not this peer's fault.
        let mut had = 0usize;
        let mut good = true;
        for cb in blocks {
            let (Ok(Envelope { block, parent_certificate }), Ok(cert)) =
                (decode_exact::<Envelope>(&cb.block), decode_exact::<CommitCertificate>(&cb.certificate))
            else {
                tracing::warn!(from, "undecodable block in a sync response");
                good = false;
                break;
            };
            let hash = block.header.hash_slow();
            let head = self.chain.head().1.number;
            if block.header.number <= head {
                had = had.saturating_add(1);
                continue;
            }
            if block.header.number != head.saturating_add(1) {
                tracing::warn!(from, number = block.header.number, head, "sync: blocks out of order");
                good = false;
                break;
            }
            let Some(set) = self.config.validator_sets.validators_at(cert.height) else {
                tracing::warn!(from, number = block.header.number, "sync: the validators of this height are not known");
                break;
            };
            if let Err(e) = cert.verify(&set, self.chain_id) {
                tracing::warn!(from, number = block.header.number, error = %e, "sync: bad certificate");
                good = false;
                break;
            }
            if cert.height != block.header.number || cert.block_hash != hash {
                tracing::warn!(from, number = block.header.number, "sync: certificate and block disagree");
                good = false;
                break;
            }
            let number = block.header.number;
            let raw = cb.certificate.clone();
            let imported_one = self
                .blocking(move |c| -> Result<(), ValidateError> {
                    let h = c.validate(&block, &parent_certificate, Check::Certified)?;
                    c.commit(&h, Some(&raw))?;
                    Ok(())
                })
                .await?;
            match imported_one {
                Ok(()) => {}
                Err(ValidateError::Invalid(reason)) => {
                    tracing::error!(from, number, %reason, "sync: a certified block does not re-execute to its header");
                    good = false;
                    break;
                }
                Err(ValidateError::Node(e)) => {
                    tracing::error!(from, number, error = %e, "sync: cannot import (node failure); retrying later");
                    break;
                }
            }
            imported = imported.saturating_add(1);
            self.last_commit = Instant::now();
            self.step(Input::Synced { height: number, hash }).await?;
        }
        let now = Instant::now().into_std();
        let caught_up = self.chain.head().1.number >= self.sync.target();
        // An empty answer while we still lack blocks, or a bad one, benches the peer.
        let served = if caught_up { imported.saturating_add(had).max(1) } else { imported.saturating_add(had) };
        self.sync.answered(from, served, good, now);
        self.sync_poll();
        Ok(())
    }
}
