//! Holding a certified transaction: the chain is handed it once a quorum of signers is
//! counted here — from their own votes, or from votes the receiving validator relayed
//! (`Wire::Relayed`), whose signatures are checked if, after a grace for the signer's
//! own copy, they would still count.

use std::{sync::Arc, time::Duration};

use strata_chain::run_on;
use strata_primitives::{
    Bytes,
    storage_cert::{BatchTree, MAX_BATCH, StorageCertificate, stored_digest},
};

use super::{Certifier, valid};
use crate::wire::StoredVote;

/// How long a relayed vote waits for its signer's own copy (usually a moment behind:
/// one hop against two) before its signature is checked instead.
pub(super) const RELAY_GRACE: Duration = Duration::from_millis(300);

/// Relayed votes that may wait for their grace at once, per relaying machine.
const MAX_PENDING_RELAYS: usize = 64;

impl Certifier {
    /// Hands a certified transaction to the chain to hold, and queues the journal entry.
    /// If it could not be held (admission busy, a node failure), its tally may try again.
    pub(super) fn hold(self: &Arc<Self>, raw: Bytes, certificate: StorageCertificate) {
        // The common case (the transaction held here already) is a map update: done
        // here, without a trip to the admission threads.
        match self.chain.hold_if_held(&raw, &certificate) {
            Ok(Some(Some(entry))) => {
                let _ = self.journal.send((entry, None));
                return;
            }
            Ok(Some(None)) => return,
            Ok(None) => {}
            Err(e) => tracing::warn!(tx = %certificate.claim.tx_hash, error = %e, "certified transaction not held: node failure"),
        }
        let this = self.clone();
        tokio::spawn(async move {
            let claim = certificate.claim;
            let chain = this.chain.clone();
            let held = run_on(&this.chain.pools().admission, move || chain.hold_certificate(&raw, &certificate)).await;
            let tx = claim.tx_hash;
            let retry = match held {
                Ok(Ok(Ok(Some(entry)))) => {
                    let _ = this.journal.send((entry, None));
                    false
                }
                Ok(Ok(Ok(None))) => false,
                Ok(Ok(Err(e))) => {
                    tracing::debug!(%tx, error = %e, "certified transaction not held");
                    false
                }
                Ok(Err(e)) => {
                    tracing::warn!(%tx, error = %e, "certified transaction not held: node failure");
                    true
                }
                Err(e) => {
                    tracing::warn!(%tx, error = %e, "certified transaction not held: admission busy");
                    true
                }
            };
            if retry && let Some(t) = this.tallies.lock().by_claim.get_mut(&stored_digest(&claim)) {
                t.held = false;
            }
        });
    }

    /// A vote relayed by the validator that gathered with it (machine `from`): counted
    /// once its signature verifies if, after [`RELAY_GRACE`] for its signer's own copy,
    /// this node still [`wants`](Certifier::wants) it. At most [`MAX_PENDING_RELAYS`]
    /// wait per relaying machine (an honest one's are rarely unheard).
    pub fn on_relayed(self: &Arc<Self>, from: u32, vote: StoredVote) {
        if vote.leaves.is_empty() || vote.leaves.len() > MAX_BATCH || !self.countable(vote.height) || !self.wants(&vote) {
            return;
        }
        let Some(set) = self.chain.validator_sets().validators_at(vote.height) else { return };
        let Some(key) = set.get(vote.validator).copied() else { return };
        {
            let mut pending = self.relays.lock();
            let waiting = pending.entry(from).or_default();
            if *waiting >= MAX_PENDING_RELAYS {
                tracing::debug!(from, "relayed vote dropped: too many waiting from this machine");
                return;
            }
            *waiting += 1;
        }
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(RELAY_GRACE).await;
            if this.countable(vote.height) && this.wants(&vote) {
                let tree = BatchTree::new(&vote.leaves);
                if valid(&vote.signature, &tree.root(), &key) {
                    this.add_vote(&set, from, vote.validator, vote.signature, &vote.leaves, &tree, false, vote.height);
                } else {
                    tracing::debug!(from, validator = vote.validator, "a relayed vote whose signature does not verify dropped");
                }
            }
            if let Some(waiting) = this.relays.lock().get_mut(&from) {
                *waiting = waiting.saturating_sub(1);
            }
        });
    }

    /// Whether `vote` would count here: for some claim it covers this node has the
    /// request (claim and transaction), the claim is of the vote's height (a relayer
    /// cannot change what height a signature counts for), is not held yet, and lacks
    /// this validator's vote.
    pub(super) fn wants(&self, vote: &StoredVote) -> bool {
        let tallies = self.tallies.lock();
        vote.leaves.iter().any(|leaf| {
            tallies.by_claim.get(leaf).is_some_and(|t| {
                !t.held && t.raw.is_some() && t.claim.is_some_and(|c| c.height == vote.height) && !t.votes.contains_key(&vote.validator)
            })
        })
    }
}
