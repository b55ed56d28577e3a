//! What the core writes durably ([`Persisted`], handed out in [`Effect::Persist`](super::Effect::Persist))
//! and how a restarted core takes it back.

use super::{Core, Installed};
use crate::message::{Message, SignedMessage, plan_with_views};
use crate::persist::{KeptBlock, Persisted, VoteRecord};
use strata_primitives::{Signature, select_proposer};

impl Core {
    /// The durable state now (what the next [`Effect::Persist`](super::Effect::Persist) would hold).
    pub fn persisted(&self) -> Persisted {
        let installed = if self.changing { None } else { self.installed.as_ref().map(|i| i.persisted.clone()) };
        Persisted::new(crate::persist::State {
            view: self.view,
            changing: self.changing,
            votes: self.votes.iter().map(|(&(height, kind), &(view, hash))| VoteRecord { height, kind, view, hash }).collect(),
            prepared: self.prepared.values().cloned().collect(),
            blocks: self.kept.iter().map(|(&(height, hash), block)| KeptBlock { height, hash, block: block.clone() }).collect(),
            view_change: if self.changing { self.my_view_change.clone() } else { None },
            installed,
            stable: self.stable.clone(),
            certificate: self.certificate.clone(),
            proposal: self.proposal.clone(),
        })
    }

    pub(super) fn restore(&mut self, p: Persisted) {
        let p = p.into_state();
        self.view = p.view;
        self.changing = p.changing;
        self.votes = p.votes.iter().map(|v| ((v.height, v.kind), (v.view, v.hash))).collect();
        self.prepared = p.prepared.into_iter().map(|c| (c.height, c)).collect();
        self.stable = p.stable;
        self.certificate = p.certificate;
        self.proposal = p.proposal;
        for b in p.blocks {
            let log = self.log_at(b.height);
            log.blocks.insert(b.hash, b.block.clone());
            // We validated it before voting for it.
            log.valid.insert(b.hash);
            self.kept.insert((b.height, b.hash), b.block);
        }
        if self.changing {
            self.my_view_change = p.view_change;
            if let Some(vc) = &self.my_view_change {
                self.view_changes.entry(vc.change.view).or_default().insert(self.me, vc.clone());
            }
        } else if let Some((installed, set, from)) = p.installed.filter(|i| i.new_view.view == p.view).and_then(|i| {
            // The set it was judged against (known then; if not now, it cannot be restored).
            let first = i.new_view.first_height()?;
            let set = self.set_at(first)?;
            let from = select_proposer(&set, first, i.new_view.view);
            Some((i, set, from))
        }) {
            let (base, plan) = plan_with_views(&installed.new_view.view_changes);
            let message = SignedMessage {
                from,
                message: Message::NewView(installed.new_view.clone()),
                signature: Signature::from_raw_array(&installed.signature).unwrap_or_else(|_| Signature::test_signature()),
            };
            for r in &installed.new_view.pre_prepares {
                self.log_at(r.height).pre_prepares.insert(installed.new_view.view, (r.hash, r.signature));
            }
            self.installed = Some(Installed {
                base,
                plan: plan.iter().map(|&(height, hash, _)| (height, hash)).collect(),
                plan_views: plan.iter().map(|&(height, _, view)| (height, view)).collect(),
                set,
                message,
                persisted: installed,
            });
        } else if p.view > 0 {
            // In a view without its new view we could not check pre-prepares against it:
            // change to it again instead (`Start` signs the view change).
            self.changing = true;
        }
    }
}
