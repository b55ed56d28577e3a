//! Catching up: where peers are (from their verified messages), joining a view `f + 1`
//! of them are in, reporting [`Effect::Behind`] and taking [`Input::Synced`](super::Input::Synced).

use super::{Core, Effect};
use crate::message::Message;
use strata_primitives::{B256, CommitCertificate};

impl Core {
    pub(super) fn on_synced(&mut self, height: u64, hash: B256) {
        if height < self.height {
            return;
        }
        self.committed.insert(height, hash);
        self.enter_height(height.saturating_add(1));
        self.parent = hash;
        self.after_commit(height, hash);
    }

    /// Learns where a peer is from its verified message.
    pub(super) fn observe(&mut self, from: u32, message: &Message) {
        if let Some(v) = message.view() {
            let e = self.peer_views.entry(from).or_insert(0);
            *e = (*e).max(v);
        }
        let height = match message {
            // A checkpoint says the sender committed that height.
            Message::Checkpoint(c) => c.height.checked_add(1),
            m => m.height(),
        };
        if let Some(h) = height {
            let e = self.peer_heights.entry(from).or_insert(0);
            *e = (*e).max(h);
        }
    }

    /// Join a view that at least `f + 1` others are in (one of them is correct).
    pub(super) fn check_join(&mut self) {
        let mut views: Vec<u64> = self.peer_views.iter().filter(|&(&p, _)| p != self.me).map(|(_, &v)| v).collect();
        if views.len() <= self.f() {
            return;
        }
        views.sort_unstable_by(|a, b| b.cmp(a));
        let target = views[self.f()];
        if target > self.view {
            self.start_view_change(target);
        }
    }

    /// If `f + 1` others work above our height, one of them correctly: catch up from them.
    /// Without `force` only when they are two heights ahead (one ahead is usually the
    /// commits of our height still in flight).
    pub(super) fn check_behind(&mut self, force: bool) {
        let mut ahead: Vec<(u64, u32)> = self.peer_heights.iter().filter(|&(&p, _)| p != self.me).map(|(&p, &h)| (h, p)).collect();
        if ahead.len() <= self.f() {
            return;
        }
        ahead.sort_unstable_by(|a, b| b.cmp(a));
        let working = ahead[self.f()].0;
        let Some(target) = working.checked_sub(1) else { return };
        let enough = if force { target >= self.height } else { target > self.height };
        if !enough {
            return;
        }
        let candidates: Vec<u32> = ahead.iter().filter(|(h, _)| *h >= working).map(|&(_, p)| p).collect();
        if let Some(peer) = self.pick(&candidates) {
            self.report_behind(target, peer);
        }
    }

    pub(super) fn report_behind(&mut self, height: u64, peer: u32) {
        if height < self.height || self.behind_reported.is_some_and(|h| h >= height) || peer == self.me {
            return;
        }
        self.behind_reported = Some(height);
        self.behind_attempts = self.behind_attempts.wrapping_add(1);
        self.effects.push(Effect::Behind { height, peer });
    }

    /// One of `candidates` other than us, a different one on each attempt.
    pub(super) fn pick(&self, candidates: &[u32]) -> Option<u32> {
        let others: Vec<u32> = candidates.iter().copied().filter(|&c| c != self.me).collect();
        let len = u64::try_from(others.len()).ok().filter(|&l| l > 0)?;
        others.get(usize::try_from(self.behind_attempts % len).ok()?).copied()
    }
}

/// The validators whose signatures a certificate carries.
pub(super) fn signers(cert: &CommitCertificate) -> Vec<u32> {
    cert.signatures.iter().map(|s| s.validator).collect()
}
