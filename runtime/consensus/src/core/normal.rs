//! The normal case: proposals, pre-prepares, prepares and commits, certificates,
//! validation answers, committing, and our own votes (never two hashes in a view).

use super::sync::signers;
use super::{Core, Effect};
use crate::message::{Message, PrePrepare, PreparedCertificate, Vote, verify_commit_certificate};
use crate::persist::{Proposal, VoteKind};
use strata_primitives::{B256, Bytes, CertSignature, CommitCertificate};

/// Commit views kept per sender and height (older ones are dropped).
const COMMIT_VIEWS_PER_SENDER: usize = 4;

impl Core {
    pub(super) fn on_proposal(&mut self, height: u64, view: u64, block: Bytes, hash: B256) {
        if view != self.view || self.changing || height != self.height || !self.proposes(height, view) {
            return;
        }
        if let Some(i) = &self.installed
            && (height <= i.base || i.plan.contains_key(&height))
        {
            return;
        }
        if self.logs.get(&height).is_some_and(|s| s.pre_prepares.contains_key(&view))
            || !self.may_vote(height, VoteKind::PrePrepare, view, hash)
        {
            return;
        }
        if height > self.high_watermark() {
            return;
        }
        let parent = self.certificate.clone().filter(|c| c.height.checked_add(1) == Some(height));
        let message = Message::PrePrepare(PrePrepare { view, height, hash, block: block.clone(), parent });
        let Some(signed) = self.broadcast(message) else { return };
        self.record_vote(height, VoteKind::PrePrepare, view, hash);
        self.proposal = Some(Proposal { view, height, hash, block: block.clone() });
        self.dirty = true;
        let log = self.log_at(height);
        log.pre_prepares.insert(view, (hash, signed.signature.as_bytes()));
        log.blocks.insert(hash, block);
        log.valid.insert(hash);
    }

    pub(super) fn on_validated(&mut self, height: u64, hash: B256, valid: bool) {
        let Some(log) = self.logs.get_mut(&height) else { return };
        if !log.validating.remove(&hash) {
            return;
        }
        if valid {
            // Unless dropped meanwhile (held early): then validated again if it comes back.
            if log.blocks.contains_key(&hash) {
                log.valid.insert(hash);
            }
        } else {
            // The bytes hash to `hash` (checked when taken), so every copy is as bad.
            log.blocks.remove(&hash);
            log.invalid.insert(hash);
        }
    }

    pub(super) fn on_pre_prepare(&mut self, from: u32, p: PrePrepare, signature: [u8; 65]) {
        if self.proposer(p.height, p.view) != Some(from) {
            return;
        }
        if let Some(cert) = p.parent.clone().filter(|c| c.height >= self.height) {
            self.on_certificate(cert, Some(from), false);
            // Committing the parent may have moved us to `p.height`.
            self.advance();
        }
        if p.height < self.height || p.height > self.high_watermark() {
            return;
        }
        if p.view < self.view || p.view > self.view.saturating_add(self.n_at(p.height)) {
            return;
        }
        // The signature is the primary's, over the hash: the pre-prepare stands whatever
        // bytes came with it (a relay may have altered them; the genuine ones can still
        // come). Its block is taken only if the bytes hash to `p.hash`, and we keep it even
        // if its view is not (yet) ours: a re-proposal relayed by a peer may overtake the
        // new view it belongs to. One block per view (the first hash its primary signed
        // here), unless it is the one our new view re-proposes.
        let offered = *self.log_at(p.height).offered.entry(p.view).or_insert(p.hash);
        let planned = self.installed.as_ref().and_then(|i| i.plan.get(&p.height)).is_some_and(|h| *h == p.hash && p.view == self.view);
        if planned || offered == p.hash {
            let current = p.height == self.height && p.view == self.view && !self.changing;
            self.take_block(p.height, p.view, p.hash, &p.block, planned || current);
        }
        if p.view > self.view || self.changing {
            // Its new view has not reached us yet (messages overtake each other): keep it
            // until the new view says whether this height is open to fresh proposals.
            self.log_at(p.height).early.entry(p.view).or_insert((p.hash, signature));
            return;
        }
        self.accept_pre_prepare(p.view, p.height, p.hash, signature);
    }

    /// Takes the primary's pre-prepare for our (installed) view, unless the new view
    /// decided that height (re-proposed it, or proved it decided before).
    pub(super) fn accept_pre_prepare(&mut self, view: u64, height: u64, hash: B256, signature: [u8; 65]) {
        if let Some(i) = &self.installed
            && (height <= i.base || i.plan.contains_key(&height))
        {
            return;
        }
        let log = self.log_at(height);
        if log.pre_prepares.contains_key(&view) {
            return; // The first pre-prepare of a view stands; a second one is equivocation.
        }
        log.pre_prepares.insert(view, (hash, signature));
    }

    fn vote_height_ok(&self, height: u64) -> bool {
        (height >= self.height && height <= self.high_watermark())
            || (!self.changing && self.installed.as_ref().is_some_and(|i| i.plan.contains_key(&height)))
    }

    pub(super) fn on_prepare(&mut self, from: u32, v: Vote, signature: [u8; 65]) {
        if v.view != self.view || self.proposer(v.height, v.view) == Some(from) || !self.vote_height_ok(v.height) {
            return;
        }
        self.log_at(v.height).prepares.entry(v.view).or_default().entry(from).or_insert((v.hash, signature));
    }

    /// Whether `v` (by `from`) is a commit vote for the certificate of the height just
    /// committed that it lacks.
    pub(super) fn extends_certificate(&self, from: u32, v: &Vote) -> bool {
        self.certificate.as_ref().is_some_and(|c| {
            c.height.checked_add(1) == Some(self.height)
                && (c.height, c.view, c.block_hash) == (v.height, v.view, v.hash)
                && c.signatures.binary_search_by_key(&from, |s| s.validator).is_err()
        })
    }

    pub(super) fn on_commit(&mut self, from: u32, v: Vote, signature: [u8; 65]) {
        if self.extends_certificate(from, &v) {
            // A late vote (its signature checked against its height's set): the certificate
            // the next block names gains it.
            if let Some(cert) = self.certificate.as_mut()
                && let Err(at) = cert.signatures.binary_search_by_key(&from, |s| s.validator)
            {
                cert.signatures.insert(at, CertSignature { validator: from, signature });
                self.dirty = true;
                self.effects.push(Effect::CertificateExtended { certificate: cert.clone() });
            }
            return;
        }
        if v.view > self.view.saturating_add(1) || !self.vote_height_ok(v.height) {
            return;
        }
        let log = self.log_at(v.height);
        let by_view = &mut log.commits;
        if by_view.get(&v.view).is_some_and(|m| m.contains_key(&from)) {
            return;
        }
        by_view.entry(v.view).or_default().insert(from, (v.hash, signature));
        // Bound what one sender can make us keep: its few highest views.
        let views: Vec<u64> = by_view.iter().filter(|(_, m)| m.contains_key(&from)).map(|(&view, _)| view).collect();
        if views.len() > COMMIT_VIEWS_PER_SENDER {
            for view in &views[..views.len() - COMMIT_VIEWS_PER_SENDER] {
                if let Some(m) = by_view.get_mut(view) {
                    m.remove(&from);
                }
            }
        }
        self.collect_commits(v.height, v.view, v.hash);
    }

    /// A quorum of matching commits is a certificate.
    fn collect_commits(&mut self, height: u64, view: u64, hash: B256) {
        let quorum = self.quorum_at(height);
        let Some(log) = self.logs.get(&height) else { return };
        if log.certificate.is_some() {
            return;
        }
        let Some(votes) = log.commits.get(&view) else { return };
        let signatures: Vec<CertSignature> = votes
            .iter()
            .filter(|(_, (h, _))| *h == hash)
            .map(|(&validator, (_, sig))| CertSignature { validator, signature: *sig })
            .collect();
        if signatures.len() < quorum {
            return;
        }
        let cert = CommitCertificate { height, view, block_hash: hash, signatures };
        self.on_certificate(cert, None, true);
    }

    /// A certificate for `cert.height`; `holder` is a peer known to have committed it;
    /// `verified` if its signatures are known good (assembled from verified commits, or
    /// checked inside a view change).
    pub(super) fn on_certificate(&mut self, cert: CommitCertificate, holder: Option<u32>, verified: bool) {
        if cert.height < self.height {
            // We are past it (caught up without it): keep it as our proof floor.
            if verified
                && self.committed.get(&cert.height) == Some(&cert.block_hash)
                && self.certificate.as_ref().is_none_or(|c| c.height < cert.height)
            {
                self.certificate = Some(cert);
                self.dirty = true;
                self.gc_prepared();
            }
            return;
        }
        if !verified {
            // Against the set of its height (unknown: not checkable, dropped).
            let Some(set) = self.set_at(cert.height) else { return };
            if verify_commit_certificate(&cert, &set, self.chain_id, &self.cache).is_err() {
                return;
            }
        }
        if cert.height > self.height {
            let peer = match holder {
                Some(h) => Some(h),
                None => self.pick(&signers(&cert)),
            };
            if let Some(peer) = peer {
                self.report_behind(cert.height, peer);
            }
            return;
        }
        let log = self.log_at(cert.height);
        log.holders.extend(holder);
        if log.certificate.is_none() {
            log.certificate = Some(cert);
        }
    }

    pub(super) fn advance(&mut self) {
        loop {
            let height = self.height;
            self.try_commit();
            if self.height != height {
                continue;
            }
            if !self.changing {
                self.drive(height);
            }
            // Our own vote may have completed a certificate.
            self.try_commit();
            if self.height == height {
                break;
            }
        }
        if !self.changing {
            self.drive_planned_below();
        }
    }

    /// Commits our height if a certificate and its (validated) block are here.
    fn try_commit(&mut self) {
        let height = self.height;
        let Some(log) = self.logs.get(&height) else { return };
        let Some(cert) = log.certificate.clone() else { return };
        let hash = cert.block_hash;
        if log.valid.contains(&hash) {
            let block = log.blocks.get(&hash).cloned().unwrap_or_default();
            self.commit(cert, block);
        } else if let Some(block) = log.blocks.get(&hash).cloned() {
            if !log.validating.contains(&hash) {
                self.log_at(height).validating.insert(hash);
                let proposed_view = self.proposed_view(height, cert.view, hash);
                self.effects.push(Effect::Validate { height, view: cert.view, proposed_view, block, hash });
            }
        } else {
            let candidates: Vec<u32> = if log.holders.is_empty() { signers(&cert) } else { log.holders.iter().copied().collect() };
            if let Some(peer) = self.pick(&candidates) {
                self.report_behind(height, peer);
            }
        }
    }

    fn commit(&mut self, cert: CommitCertificate, block: Bytes) {
        let height = self.height;
        let hash = cert.block_hash;
        self.effects.push(Effect::Commit { height, block, hash, certificate: cert.clone() });
        self.committed.insert(height, hash);
        self.enter_height(height.saturating_add(1));
        self.parent = hash;
        if self.certificate.as_ref().is_none_or(|c| c.height < height) {
            self.certificate = Some(cert);
            self.dirty = true;
        }
        if let Some(log) = self.logs.get_mut(&height) {
            log.blocks.clear();
            log.valid.clear();
            log.validating.clear();
        }
        self.after_commit(height, hash);
    }

    /// After `height` was committed (by us or by the node's catch-up).
    pub(super) fn after_commit(&mut self, height: u64, hash: B256) {
        self.failed_views = 0;
        if self.proposal.as_ref().is_some_and(|p| p.height <= height) {
            self.proposal = None;
            self.dirty = true;
        }
        if height.is_multiple_of(self.interval) {
            self.send_checkpoint(height, hash);
        }
        let pending: Vec<u64> = self.checkpoints.range(..=height).map(|(&h, _)| h).collect();
        for h in pending {
            self.check_checkpoint(h);
        }
        // Drop what is no longer needed: what we know of heights a window below (kept that
        // long for re-proposals of a new view, and in case checkpoints stall), and
        // certificates and blocks below the proof floor.
        let horizon = height.saturating_sub(self.window);
        self.logs = self.logs.split_off(&horizon);
        self.committed = self.committed.split_off(&horizon);
        self.checkpoints = self.checkpoints.split_off(&horizon);
        let votes = self.votes.len();
        self.votes = self.votes.split_off(&(horizon, VoteKind::FIRST));
        if self.votes.len() != votes {
            self.dirty = true;
        }
        self.gc_prepared();
        if !self.changing {
            self.arm_timer();
        } else if self.my_view_change.is_none() && self.member_at(self.height) {
            // We joined the validators at this height while changing views: say so.
            self.sign_view_change();
            self.try_new_view();
        }
    }

    /// Normal-case progress at our height in our view.
    fn drive(&mut self, height: u64) {
        let view = self.view;
        if height > self.high_watermark() {
            return;
        }
        let (base, planned) = self.installed.as_ref().map_or((0, false), |i| (i.base, i.plan.contains_key(&height)));
        let has_pre_prepare = self.logs.get(&height).is_some_and(|s| s.pre_prepares.contains_key(&view));
        if self.proposer(height, view) == Some(self.me) && !planned && height > base && !has_pre_prepare {
            if !self.acts_at(height) {
                return;
            }
            if !self.has_voted(height, VoteKind::PrePrepare, view) && self.asked != Some((view, height)) {
                self.asked = Some((view, height));
                self.effects.push(Effect::Propose { height, view, parent: self.parent });
            }
            return;
        }
        let Some(&(hash, _)) = self.logs.get(&height).and_then(|s| s.pre_prepares.get(&view)) else { return };
        let log = self.logs.get(&height).expect("checked above");
        let valid = log.valid.contains(&hash);
        if !valid {
            if let Some(block) = log.blocks.get(&hash).cloned()
                && !log.validating.contains(&hash)
            {
                self.log_at(height).validating.insert(hash);
                let proposed_view = self.proposed_view(height, view, hash);
                self.effects.push(Effect::Validate { height, view, proposed_view, block, hash });
            }
            return;
        }
        self.vote(height, view, hash);
    }

    /// The view whose proposer built the block `hash` decided at `height` in `view`, as
    /// far as we know: for a block our new view re-proposes, the view of the prepared
    /// certificate it comes from; otherwise `view`.
    fn proposed_view(&self, height: u64, view: u64, hash: B256) -> u64 {
        self.installed
            .as_ref()
            .filter(|i| i.persisted.new_view.view == view && i.plan.get(&height) == Some(&hash))
            .and_then(|i| i.plan_views.get(&height).copied())
            .unwrap_or(view)
    }

    /// Prepare, then commit once prepared, for `hash` at (`view`, `height`), which we know
    /// to be valid (validated, proposed by us, or committed).
    fn vote(&mut self, height: u64, view: u64, hash: B256) {
        let Some(primary) = self.proposer(height, view).filter(|_| self.acts_at(height)) else { return };
        if primary != self.me
            && !self.has_voted(height, VoteKind::Prepare, view)
            && self.may_vote(height, VoteKind::Prepare, view, hash)
            && let Some(signed) = self.broadcast(Message::Prepare(Vote { view, height, hash }))
        {
            self.record_vote(height, VoteKind::Prepare, view, hash);
            self.keep_block(height, hash);
            let sig = signed.signature.as_bytes();
            let me = self.me;
            self.log_at(height).prepares.entry(view).or_default().insert(me, (hash, sig));
        }
        if self.has_voted(height, VoteKind::Commit, view) {
            return;
        }
        let Some(log) = self.logs.get(&height) else { return };
        let Some(&(pp_hash, pp_sig)) = log.pre_prepares.get(&view) else { return };
        if pp_hash != hash {
            return;
        }
        let prepares: Vec<CertSignature> = log
            .prepares
            .get(&view)
            .map(|m| {
                m.iter()
                    .filter(|&(&v, (h, _))| v != primary && *h == hash)
                    .map(|(&validator, (_, sig))| CertSignature { validator, signature: *sig })
                    .collect()
            })
            .unwrap_or_default();
        if prepares.len() < self.quorum_at(height).saturating_sub(1) || !self.may_vote(height, VoteKind::Commit, view, hash) {
            return;
        }
        let cert = PreparedCertificate { view, height, hash, pre_prepare: pp_sig, prepares };
        let Some(signed) = self.broadcast(Message::Commit(Vote { view, height, hash })) else { return };
        self.record_vote(height, VoteKind::Commit, view, hash);
        self.keep_block(height, hash);
        if height > self.floor() && self.prepared.get(&height).is_none_or(|c| c.view < view) {
            self.prepared.insert(height, cert);
            self.dirty = true;
        }
        let sig = signed.signature.as_bytes();
        let me = self.me;
        self.log_at(height).commits.entry(view).or_default().insert(me, (hash, sig));
        self.collect_commits(height, view, hash);
    }

    fn keep_block(&mut self, height: u64, hash: B256) {
        if height <= self.floor() || self.kept.contains_key(&(height, hash)) {
            return;
        }
        if let Some(block) = self.logs.get(&height).and_then(|s| s.blocks.get(&hash)).cloned() {
            self.kept.insert((height, hash), block);
            self.dirty = true;
        }
    }

    /// A new view may re-propose heights we already committed: vote for them (only for the
    /// hash we committed) so validators still at those heights can decide them.
    fn drive_planned_below(&mut self) {
        let Some(installed) = &self.installed else { return };
        let view = self.view;
        let below: Vec<(u64, B256)> = installed.plan.range(..self.height).map(|(&h, &x)| (h, x)).collect();
        for (height, hash) in below {
            if self.committed.get(&height) == Some(&hash) {
                self.vote(height, view, hash);
            }
        }
    }

    /// After a restart: what we signed at our height in our view may not have been sent.
    pub(super) fn resend_votes(&mut self) {
        let (view, height) = (self.view, self.height);
        if let Some(p) = self.proposal.clone().filter(|p| p.view == view && p.height == height) {
            let log = self.log_at(height);
            log.blocks.insert(p.hash, p.block.clone());
            log.valid.insert(p.hash);
            let parent = self.certificate.clone().filter(|c| c.height.checked_add(1) == Some(height));
            if let Some(signed) = self.broadcast(Message::PrePrepare(PrePrepare { view, height, hash: p.hash, block: p.block, parent })) {
                self.log_at(height).pre_prepares.insert(view, (p.hash, signed.signature.as_bytes()));
            }
        }
        for kind in [VoteKind::Prepare, VoteKind::Commit] {
            if let Some(&(v, hash)) = self.votes.get(&(height, kind)).filter(|(v, _)| *v == view) {
                let vote = Vote { view: v, height, hash };
                let message = if kind == VoteKind::Prepare { Message::Prepare(vote) } else { Message::Commit(vote) };
                if let Some(signed) = self.broadcast(message) {
                    let sig = signed.signature.as_bytes();
                    let me = self.me;
                    let log = self.log_at(height);
                    let map = if kind == VoteKind::Prepare { &mut log.prepares } else { &mut log.commits };
                    map.entry(v).or_default().insert(me, (hash, sig));
                }
            }
        }
    }

    /// Whether we may sign `kind` for `hash` at (`view`, `height`): never a second hash in
    /// a view, never an earlier view than one we signed in.
    pub(super) fn may_vote(&self, height: u64, kind: VoteKind, view: u64, hash: B256) -> bool {
        match self.votes.get(&(height, kind)) {
            None => true,
            Some(&(v, h)) => (v == view && h == hash) || v < view,
        }
    }

    fn has_voted(&self, height: u64, kind: VoteKind, view: u64) -> bool {
        self.votes.get(&(height, kind)).is_some_and(|&(v, _)| v >= view)
    }

    pub(super) fn record_vote(&mut self, height: u64, kind: VoteKind, view: u64, hash: B256) {
        if self.votes.get(&(height, kind)) != Some(&(view, hash)) {
            self.votes.insert((height, kind), (view, hash));
            self.dirty = true;
        }
    }
}
