//! Checkpoints, the stable checkpoint, garbage collection below it, and the watermarks
//! (the heights we accept messages about).

use super::Core;
use crate::message::{Checkpoint, CheckpointProof, Message};
use crate::persist::VoteKind;
use std::collections::BTreeMap;
use strata_primitives::{B256, CertSignature};

impl Core {
    pub(super) fn stable_height(&self) -> u64 {
        self.stable.as_ref().map_or(0, |s| s.height)
    }

    /// Heights up to here are proven decided by what we hold.
    pub(super) fn floor(&self) -> u64 {
        self.stable_height().max(self.certificate.as_ref().map_or(0, |c| c.height))
    }

    /// The highest height we accept messages about.
    pub(super) fn high_watermark(&self) -> u64 {
        self.stable_height().max(self.height.saturating_sub(1)).saturating_add(self.window)
    }

    pub(super) fn on_checkpoint(&mut self, from: u32, c: Checkpoint, signature: [u8; 65]) {
        if !c.height.is_multiple_of(self.interval) || c.height <= self.stable_height() || c.height > self.high_watermark() {
            return;
        }
        self.checkpoints.entry(c.height).or_default().entry(from).or_insert((c.hash, signature));
        self.check_checkpoint(c.height);
    }

    pub(super) fn check_checkpoint(&mut self, height: u64) {
        let Some(signed) = self.checkpoints.get(&height) else { return };
        let mut by_hash: BTreeMap<B256, Vec<CertSignature>> = BTreeMap::new();
        for (&validator, (hash, sig)) in signed {
            by_hash.entry(*hash).or_default().push(CertSignature { validator, signature: *sig });
        }
        let committed = self.height.saturating_sub(1);
        let (f, quorum) = (self.f_at(height), self.quorum_at(height));
        for (hash, signatures) in by_hash {
            let ours = self.committed.get(&height).copied();
            if ours.is_some_and(|o| o != hash) {
                continue;
            }
            if signatures.len() > f && height <= committed && !signed_by(&signatures, self.me) && self.member_at(height) {
                // f + 1 say so, hence a correct validator: we committed the same (we are past
                // it), so we can say it too and help the checkpoint become stable.
                self.send_checkpoint(height, hash);
                return self.check_checkpoint(height);
            }
            if signatures.len() >= quorum {
                let peer = signatures.iter().map(|s| s.validator).find(|&v| v != self.me).unwrap_or(self.me);
                let proof = CheckpointProof { height, hash, signatures };
                if height <= committed {
                    self.adopt_stable(proof);
                } else {
                    self.report_behind(height, peer);
                }
                return;
            }
        }
    }

    pub(super) fn send_checkpoint(&mut self, height: u64, hash: B256) {
        if self.checkpoints.get(&height).is_some_and(|m| m.contains_key(&self.me)) {
            return;
        }
        if let Some(signed) = self.broadcast(Message::Checkpoint(Checkpoint { height, hash })) {
            self.checkpoints.entry(height).or_default().insert(self.me, (hash, signed.signature.as_bytes()));
        }
    }

    pub(super) fn on_checkpoint_proof(&mut self, proof: CheckpointProof, source: u32) {
        if !proof.height.is_multiple_of(self.interval) || proof.height <= self.stable_height() {
            return;
        }
        if self.committed.get(&proof.height).is_some_and(|h| *h != proof.hash) {
            return;
        }
        if proof.height < self.height {
            self.adopt_stable(proof);
        } else {
            self.report_behind(proof.height, source);
        }
    }

    fn adopt_stable(&mut self, proof: CheckpointProof) {
        if proof.height <= self.stable_height() || proof.height >= self.height {
            return;
        }
        let h = proof.height;
        self.stable = Some(proof);
        self.dirty = true;
        self.checkpoints = self.checkpoints.split_off(&h.saturating_add(1));
        self.votes = self.votes.split_off(&(h.saturating_add(1), VoteKind::FIRST));
        self.committed = self.committed.split_off(&h);
        self.logs = self.logs.split_off(&h.saturating_add(1));
        self.gc_prepared();
    }

    pub(super) fn gc_prepared(&mut self) {
        let floor = self.floor();
        let kept = self.kept.len();
        self.kept = self.kept.split_off(&(floor.saturating_add(1), B256::ZERO));
        if self.kept.len() != kept {
            self.dirty = true;
        }
        let before = self.prepared.len();
        self.prepared = self.prepared.split_off(&floor.saturating_add(1));
        if self.prepared.len() != before {
            self.dirty = true;
        }
    }
}

fn signed_by(signatures: &[CertSignature], who: u32) -> bool {
    signatures.iter().any(|s| s.validator == who)
}
