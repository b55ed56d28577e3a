//! Timeouts and their escalation, view changes, and new views: building one as the new
//! primary, checking and installing one, and relaying the blocks it re-proposes.

use super::sets::same_set;
use super::{Core, Effect, Installed};
use crate::message::{
    Message, NewView, PrePrepare, ReProposal, SignedMessage, SignedViewChange, ViewChange, new_view_digest, plan_with_views,
    pre_prepare_digest, view_change_digest,
};
use crate::persist::{InstalledView, VoteKind};
use std::sync::Arc;
use strata_primitives::{B256, Bytes, Signature, ValidatorSet, select_proposer};

/// Most rounds of choosing a new view's view changes for the set of its first height
/// (which depends on the choice): the set changes at few heights.
const CHOOSE_ROUNDS: usize = 3;

impl Core {
    fn timeout_ms(&self) -> u64 {
        let factor = 1u64.checked_shl(self.failed_views).unwrap_or(u64::MAX);
        self.base_timeout_ms.saturating_mul(factor).min(self.max_timeout_ms)
    }

    pub(super) fn arm_timer(&mut self) {
        self.relayed.clear();
        self.effects.push(Effect::SetTimer { view: self.view, after_ms: self.timeout_ms() });
    }

    pub(super) fn on_timeout(&mut self, view: u64) {
        if view != self.view {
            return;
        }
        if !self.member_at(self.height) {
            // Not a validator of our height: we follow the views of those who are.
            self.arm_timer();
        } else if !self.changing || self.support(self.view) >= self.quorum() {
            // In a view, or changing views with a quorum along: on to the next view.
            if let Some(next) = self.view.checked_add(1) {
                self.start_view_change(next);
            }
        } else {
            // Too few have joined to move on: say it again (messages may have been lost).
            if let Some(vc) = self.my_view_change.clone() {
                self.effects.push(Effect::Broadcast(SignedMessage {
                    from: self.me,
                    message: Message::ViewChange(vc.change),
                    signature: Signature::from_raw_array(&vc.signature).unwrap_or_else(|_| Signature::test_signature()),
                }));
            }
            self.arm_timer();
        }
        // Still behind after a whole view: ask again, from another peer if there is one.
        self.behind_reported = None;
        self.check_behind(true);
    }

    /// Validators (us included) known to be in `view` or later.
    fn support(&self, view: u64) -> usize {
        let others = self.peer_views.iter().filter(|&(&p, &v)| p != self.me && v >= view).count();
        others.saturating_add(usize::from(self.view >= view))
    }

    pub(super) fn start_view_change(&mut self, target: u64) {
        if target <= self.view {
            return;
        }
        self.view = target;
        self.changing = true;
        self.escalating = false;
        self.installed = None;
        self.asked = None;
        self.failed_views = self.failed_views.saturating_add(1);
        self.sign_view_change();
        // Votes of older views are of no more use.
        for log in self.logs.values_mut() {
            log.prepares = log.prepares.split_off(&target);
        }
        self.arm_timer();
        if self.support(target) >= self.quorum() {
            self.escalating = true;
        }
        self.try_new_view();
    }

    /// Signs and broadcasts our view change to our view, if we are a validator of our height
    /// (else we change views without one).
    pub(super) fn sign_view_change(&mut self) {
        self.my_view_change = None;
        self.dirty = true;
        let floor = self.floor();
        let change = ViewChange {
            view: self.view,
            height: self.height,
            prepared: self.prepared.range(floor.saturating_add(1)..).map(|(_, c)| c.clone()).collect(),
            checkpoint: self.stable.clone(),
            committed: self.certificate.clone(),
        };
        let Some(signed) = self.broadcast(Message::ViewChange(change.clone())) else { return };
        let vc = SignedViewChange { from: self.me, change, signature: signed.signature.as_bytes() };
        self.my_view_change = Some(vc.clone());
        self.store_view_change(vc);
    }

    fn store_view_change(&mut self, vc: SignedViewChange) {
        let from = vc.from;
        self.view_changes.entry(vc.change.view).or_default().entry(from).or_insert(vc);
        let views: Vec<u64> = self.view_changes.iter().filter(|(_, m)| m.contains_key(&from)).map(|(&v, _)| v).collect();
        if views.len() > 2 {
            for v in &views[..views.len() - 2] {
                if let Some(m) = self.view_changes.get_mut(v) {
                    m.remove(&from);
                }
            }
        }
        self.view_changes.retain(|_, m| !m.is_empty());
    }

    pub(super) fn on_view_change(&mut self, vc: SignedViewChange) {
        // Signed by a validator of the height it decides; its proofs, of theirs.
        let Some(set) = self.set_at(vc.change.height) else { return };
        let max_prepared = self.window.saturating_add(1);
        if vc.verify_with(&set, &|h| self.set_at(h), self.chain_id, max_prepared, &self.cache).is_err() {
            return;
        }
        let from = vc.from;
        if let Some(cert) = vc.change.committed.clone() {
            self.on_certificate(cert, Some(from), true);
        }
        if let Some(cp) = vc.change.checkpoint.clone().filter(|c| c.height > self.stable_height()) {
            self.on_checkpoint_proof(cp, from);
        }
        let view = vc.change.view;
        if view > self.view || (view == self.view && self.changing) {
            self.store_view_change(vc);
        } else if view == self.view && self.installed.as_ref().is_some_and(|i| i.message.from == self.me) && self.relayed.insert(from) {
            // A late joiner: it needs the new view we started and it missed (once per timer
            // period each, so replayed view changes cannot make us send it over and over).
            if let Some(message) = self.installed.as_ref().map(|i| self.with_held_blocks(&i.message)) {
                self.effects.push(Effect::Send { to: from, message });
            }
        }
        if self.changing && !self.escalating && self.support(self.view) >= self.quorum() {
            // A quorum has left the old view: from now on the timer moves us on.
            self.escalating = true;
            self.arm_timer();
        }
        self.try_new_view();
    }

    /// As the new primary, with a quorum of view changes: start the view.
    pub(super) fn try_new_view(&mut self) {
        if !self.changing {
            return;
        }
        let view = self.view;
        let Some((chosen, first, set)) = self.choose_view_changes() else { return };
        if select_proposer(&set, first, view) != self.me || set.get(self.me) != Some(&self.address) {
            return;
        }
        let (_, plan) = plan_with_views(&chosen);
        // Each re-proposal must be signed by the proposer of its height (with a set that
        // does not change over the plan's heights, us).
        if plan.iter().any(|&(height, _, _)| self.proposer(height, view) != Some(self.me)) {
            return;
        }
        let mut pre_prepares = Vec::with_capacity(plan.len());
        for &(height, hash, _) in &plan {
            if !self.may_vote(height, VoteKind::PrePrepare, view, hash) {
                return;
            }
            let Ok(sig) = self.key.sign_hash(&pre_prepare_digest(self.chain_id, view, height, hash)) else { return };
            self.record_vote(height, VoteKind::PrePrepare, view, hash);
            let block = self.logs.get(&height).and_then(|s| s.blocks.get(&hash)).cloned().unwrap_or_default();
            pre_prepares.push(ReProposal { height, hash, signature: sig.as_bytes(), block });
        }
        let new_view = NewView { view, view_changes: chosen, pre_prepares };
        let Some(signed) = self.broadcast(Message::NewView(new_view.clone())) else { return };
        self.install(new_view, signed.signature.as_bytes(), self.me, set);
    }

    /// The view changes our new view would carry, with its first height and that height's
    /// set: ours and the lowest other senders, a quorum exactly, by increasing sender, all
    /// of them validators of that set (which depends on the choice: for another set, we
    /// choose again).
    fn choose_view_changes(&self) -> Option<(Vec<SignedViewChange>, u64, Arc<ValidatorSet>)> {
        let all = self.view_changes.get(&self.view)?;
        let mut set = self.set_at(self.height)?;
        for _ in 0..CHOOSE_ROUNDS {
            // Signed by validator `from` of `set` (checked already if it is the same set).
            let valid = |c: &SignedViewChange| {
                self.set_at(c.change.height).is_some_and(|s| same_set(&s, &set))
                    || self.cache.check(&set, c.from, &view_change_digest(self.chain_id, &c.change), &c.signature).is_ok()
            };
            let quorum = set.quorum();
            if all.len() < quorum {
                return None;
            }
            let mut chosen: Vec<&SignedViewChange> = all.get(&self.me).filter(|c| valid(c)).into_iter().collect();
            chosen.extend(all.values().filter(|c| c.from != self.me && valid(c)).take(quorum.saturating_sub(chosen.len())));
            if chosen.len() < quorum {
                return None;
            }
            chosen.sort_by_key(|c| c.from);
            let first = chosen.iter().map(|c| c.change.floor()).max().unwrap_or(0).checked_add(1)?;
            let first_set = self.set_at(first)?;
            if same_set(&first_set, &set) {
                return Some((chosen.into_iter().cloned().collect(), first, set));
            }
            set = first_set;
        }
        None
    }

    /// `set`: the validators of the new view's first height, its sender checked already.
    pub(super) fn on_new_view(&mut self, from: u32, nv: NewView, signature: [u8; 65], set: &Arc<ValidatorSet>) {
        let Some(first) = nv.first_height() else { return };
        if from != select_proposer(set, first, nv.view) || nv.view < self.view {
            return;
        }
        if nv.view == self.view && !self.changing {
            self.take_re_proposed_blocks(&nv);
            return;
        }
        if self.check_new_view(&nv, set).is_none() {
            return;
        }
        self.install(nv, signature, from, set.clone());
    }

    /// Checks a new view against `set`, the validators of its first height: a quorum of
    /// valid view changes for it from distinct validators of that set, and exactly the
    /// re-proposals they oblige, each signed by the proposer of its height and the view.
    fn check_new_view(&self, nv: &NewView, set: &ValidatorSet) -> Option<()> {
        let n = set.len();
        if nv.view_changes.len() < set.quorum() || nv.view_changes.len() > n {
            return None;
        }
        let mut previous: Option<u32> = None;
        for c in &nv.view_changes {
            if c.change.view != nv.view || previous.is_some_and(|p| p >= c.from) {
                return None;
            }
            previous = Some(c.from);
        }
        let max_prepared = self.window.saturating_add(1);
        for c in &nv.view_changes {
            c.verify_with(set, &|h| self.set_at(h), self.chain_id, max_prepared, &self.cache).ok()?;
        }
        let (_, plan) = plan_with_views(&nv.view_changes);
        if plan.len() != nv.pre_prepares.len() {
            return None;
        }
        for (&(height, hash, _), r) in plan.iter().zip(&nv.pre_prepares) {
            if r.height != height || r.hash != hash {
                return None;
            }
            let set = self.set_at(height)?;
            let proposer = select_proposer(&set, height, nv.view);
            self.cache.check(&set, proposer, &pre_prepare_digest(self.chain_id, nv.view, height, hash), &r.signature).ok()?;
        }
        Some(())
    }

    /// Enters the new view `nv`, sent by `from` and judged against `set`.
    fn install(&mut self, nv: NewView, signature: [u8; 65], from: u32, set: Arc<ValidatorSet>) {
        let view = nv.view;
        let (base, plan) = plan_with_views(&nv.view_changes);
        self.view = view;
        self.changing = false;
        self.escalating = false;
        self.my_view_change = None;
        self.asked = None;
        self.view_changes = self.view_changes.split_off(&view.saturating_add(1));
        for log in self.logs.values_mut() {
            log.prepares = log.prepares.split_off(&view);
            // A new view: blocks found invalid may be re-proposed and checked again, once.
            log.invalid.clear();
        }
        for r in &nv.pre_prepares {
            if r.height > self.high_watermark() {
                continue;
            }
            self.log_at(r.height).pre_prepares.insert(view, (r.hash, r.signature));
        }
        // What the view changes prove: the highest certificate and checkpoint among them.
        for c in &nv.view_changes {
            let e = self.peer_heights.entry(c.from).or_insert(0);
            *e = (*e).max(c.change.height);
        }
        let best_cert =
            nv.view_changes.iter().filter_map(|c| c.change.committed.as_ref().map(|x| (x, c.from))).max_by_key(|(x, _)| x.height);
        if let Some((cert, from)) = best_cert.map(|(c, f)| (c.clone(), f)) {
            self.on_certificate(cert, Some(from), true);
        }
        let best_checkpoint =
            nv.view_changes.iter().filter_map(|c| c.change.checkpoint.as_ref().map(|x| (x, c.from))).max_by_key(|(x, _)| x.height);
        if let Some((cp, from)) = best_checkpoint.map(|(c, f)| (c.clone(), f)).filter(|(c, _)| c.height > self.stable_height()) {
            self.on_checkpoint_proof(cp, from);
        }
        let stripped = NewView {
            view,
            view_changes: nv.view_changes.clone(),
            pre_prepares: nv.pre_prepares.iter().map(|r| ReProposal { block: Bytes::new(), ..r.clone() }).collect(),
        };
        debug_assert_eq!(new_view_digest(self.chain_id, &stripped), new_view_digest(self.chain_id, &nv));
        // The re-proposed blocks it carries, if they hash right (the signature does not
        // cover them). What we keep of the message carries only those: an empty one is a
        // block the new view came without, which we relay if we have it.
        let mut nv = nv;
        for r in &mut nv.pre_prepares {
            if r.height > self.high_watermark() || !self.take_block(r.height, view, r.hash, &r.block, true) {
                r.block = Bytes::new();
            }
        }
        let message = SignedMessage {
            from,
            message: Message::NewView(nv),
            signature: Signature::from_raw_array(&signature).unwrap_or_else(|_| Signature::test_signature()),
        };
        self.installed = Some(Installed {
            base,
            plan: plan.iter().map(|&(height, hash, _)| (height, hash)).collect(),
            plan_views: plan.iter().map(|&(height, _, view)| (height, view)).collect(),
            set,
            message,
            persisted: InstalledView { new_view: stripped, signature },
        });
        self.dirty = true;
        // Pre-prepares of this view that arrived before the new view itself.
        let early: Vec<(u64, B256, [u8; 65])> = self
            .logs
            .iter_mut()
            .filter_map(|(&height, log)| {
                log.early = log.early.split_off(&view);
                log.early.remove(&view).map(|(hash, sig)| (height, hash, sig))
            })
            .collect();
        for (height, hash, sig) in early {
            if height >= self.height {
                self.accept_pre_prepare(view, height, hash, sig);
            }
        }
        self.effects.push(Effect::ViewChanged { view, primary: from });
        self.arm_timer();
        self.relay_missing_blocks();
    }

    /// The new primary did not have a block it re-proposes and we do: hand it on, as the
    /// primary's pre-prepare (its signature covers the hash, not the bytes).
    fn relay_missing_blocks(&mut self) {
        let Some(installed) = &self.installed else { return };
        let Message::NewView(nv) = &installed.message.message else { return };
        let primary = installed.message.from;
        if primary == self.me {
            return;
        }
        let mut relays = Vec::new();
        for r in nv.pre_prepares.iter().filter(|r| r.block.is_empty()) {
            let Some(block) = self.logs.get(&r.height).and_then(|s| s.blocks.get(&r.hash)) else { continue };
            let Ok(signature) = Signature::from_raw_array(&r.signature) else { continue };
            let p = PrePrepare { view: nv.view, height: r.height, hash: r.hash, block: block.clone(), parent: None };
            relays.push(SignedMessage { from: primary, message: Message::PrePrepare(p), signature });
        }
        self.effects.extend(relays.into_iter().map(Effect::Broadcast));
    }

    /// Another copy of the new view we run in (the same, but for block bytes, which its
    /// signature does not cover): it may bring re-proposed blocks we lack, because the
    /// copy we entered came from a relay that altered them.
    fn take_re_proposed_blocks(&mut self, nv: &NewView) {
        let Some(installed) = &self.installed else { return };
        let wanted: Vec<(u64, B256, Bytes)> = nv
            .pre_prepares
            .iter()
            .filter(|r| r.height >= self.height && r.height <= self.high_watermark() && installed.plan.get(&r.height) == Some(&r.hash))
            .map(|r| (r.height, r.hash, r.block.clone()))
            .collect();
        for (height, hash, block) in wanted {
            self.take_block(height, nv.view, hash, &block, true);
        }
    }

    /// Whether our new view re-proposes, at a height we still decide, a block we do not
    /// have (and have not found invalid): then another copy of it is worth checking.
    pub(super) fn lacks_re_proposed_block(&self) -> bool {
        let Some(installed) = &self.installed else { return false };
        installed
            .plan
            .range(self.height..=self.high_watermark())
            .any(|(height, hash)| self.logs.get(height).is_none_or(|s| !s.blocks.contains_key(hash) && !s.invalid.contains(hash)))
    }

    /// `message` (our new view) with the re-proposed blocks we hold filled in.
    fn with_held_blocks(&self, message: &SignedMessage) -> SignedMessage {
        let mut message = message.clone();
        if let Message::NewView(nv) = &mut message.message {
            for r in nv.pre_prepares.iter_mut().filter(|r| r.block.is_empty()) {
                if let Some(block) = self.logs.get(&r.height).and_then(|s| s.blocks.get(&r.hash)) {
                    r.block = block.clone();
                }
            }
        }
        message
    }
}
