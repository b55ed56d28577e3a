//! The validators of each height (from [`Config::validators`](super::Config::validators)),
//! its proposers ([`select_proposer`]), quorums, and whether we are one of them (see
//! "Validator sets" in the module docs of `core`).

use super::Core;
use crate::message::Message;
use std::sync::Arc;
use strata_primitives::{ValidatorSet, select_proposer};

impl Core {
    /// The validators of `height` (`None`: not known yet). Our height's set is kept, so
    /// the driver is asked once per height for it.
    pub(super) fn set_at(&self, height: u64) -> Option<Arc<ValidatorSet>> {
        match &self.current {
            Some(set) if height == self.height => Some(set.clone()),
            _ => self.sets.validators_at(height),
        }
    }

    /// Moves to `height` (the next to decide) and asks for its set.
    pub(super) fn enter_height(&mut self, height: u64) {
        self.height = height;
        self.current = self.sets.validators_at(height);
    }

    /// Asks again for our height's set if it was not known.
    pub(super) fn refresh_set(&mut self) {
        if self.current.is_none() {
            self.current = self.sets.validators_at(self.height);
        }
    }

    /// The proposer (primary) of `view` at `height`, if the height's set is known.
    pub(super) fn proposer(&self, height: u64, view: u64) -> Option<u32> {
        self.set_at(height).map(|set| select_proposer(&set, height, view))
    }

    /// Whether we are validator `me` of `height`'s set (our key at our index).
    pub(super) fn member_at(&self, height: u64) -> bool {
        self.set_at(height).is_some_and(|set| set.get(self.me) == Some(&self.address))
    }

    /// Whether we may propose or vote at `height` in our view: we are one of its validators
    /// and, in a view entered through a new view, that new view was judged against the
    /// same set (its quorum says nothing of what another set prepared).
    pub(super) fn acts_at(&self, height: u64) -> bool {
        let Some(set) = self.set_at(height) else { return false };
        set.get(self.me) == Some(&self.address) && self.installed.as_ref().is_none_or(|i| same_set(&i.set, &set))
    }

    /// Whether we are the proposer of `view` at `height` and may act there.
    pub(super) fn proposes(&self, height: u64, view: u64) -> bool {
        self.proposer(height, view) == Some(self.me) && self.acts_at(height)
    }

    /// Signatures needed at `height` (unreachable if its set is unknown).
    pub(super) fn quorum_at(&self, height: u64) -> usize {
        self.set_at(height).map_or(usize::MAX, |set| set.quorum())
    }

    /// The faulty validators tolerated at `height` (unreachable if its set is unknown).
    pub(super) fn f_at(&self, height: u64) -> usize {
        self.set_at(height).map_or(usize::MAX, |set| set.f())
    }

    /// The number of validators at `height` (0 if its set is unknown).
    pub(super) fn n_at(&self, height: u64) -> u64 {
        self.set_at(height).map_or(0, |set| u64::try_from(set.len()).unwrap_or(u64::MAX))
    }

    /// The quorum of our height: what our own progress (view changes) counts with.
    pub(super) fn quorum(&self) -> usize {
        self.quorum_at(self.height)
    }

    /// `f` of our height: joining views and catching up count with it.
    pub(super) fn f(&self) -> usize {
        self.f_at(self.height)
    }
}

/// The height whose validators check `message` (and whose validator its signer must be):
/// the height it is about; for a view change, the height its sender decides; for a new
/// view, the first height it decides.
pub(super) fn height_of(message: &Message) -> Option<u64> {
    match message {
        Message::NewView(n) => n.first_height(),
        m => m.height(),
    }
}

/// Whether two sets are the same validators in the same order.
pub(super) fn same_set(a: &Arc<ValidatorSet>, b: &Arc<ValidatorSet>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}
