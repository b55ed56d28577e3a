//! Holding a certified transaction: the chain is handed it (on an admission thread)
//! once a quorum is counted here, or once the receiving validator's certificate
//! (`Wire::Confirmed`) checks out — only the signatures this node did not hear from
//! their signers are recovered, after a grace for them to arrive.

use std::{sync::Arc, time::Duration};

use strata_chain::run_on;
use strata_primitives::{
    Bytes, ValidatorSet,
    consensus::check_signers,
    keccak256,
    storage_cert::{MAX_PATH, StorageCertificate, fold_path, stored_digest},
};

use super::{Certifier, tally, valid};
use crate::wire::Confirmed;

/// How long a gathered certificate waits for this node's own count of its signers
/// before the signatures it has not heard are checked (recovered) instead.
const CONFIRM_GRACE: Duration = Duration::from_millis(300);

impl Certifier {
    /// Hands a certified transaction to the chain to hold (on an admission thread),
    /// after checking the signatures in `unvouched` (those not received from their
    /// signers) against `set`, and queues the journal entry. If it could not be held
    /// (admission busy, a node failure), its tally may try again.
    pub(super) fn hold(self: &Arc<Self>, raw: Bytes, certificate: StorageCertificate, unvouched: Vec<usize>, set: Arc<ValidatorSet>) {
        // The common case (nothing to check, the transaction held here already) is a map
        // update: done here, without a trip to the admission threads.
        if unvouched.is_empty() {
            match self.chain.hold_if_held(&raw, &certificate) {
                Ok(Some(Some(entry))) => {
                    let _ = self.journal.send((entry, None));
                    return;
                }
                Ok(Some(None)) => return,
                Ok(None) => {}
                Err(e) => tracing::warn!(tx = %certificate.claim.tx_hash, error = %e, "certified transaction not held: node failure"),
            }
        }
        let this = self.clone();
        tokio::spawn(async move {
            let claim = certificate.claim;
            let chain = this.chain.clone();
            let held = run_on(&this.chain.pools().admission, move || {
                let digest = stored_digest(&certificate.claim);
                let forged = unvouched.iter().filter_map(|&i| certificate.signatures.get(i).map(|s| (i, s))).find(|(i, s)| {
                    let root = certificate.paths.get(*i).map_or(digest, |p| fold_path(digest, p));
                    !set.get(s.validator).is_some_and(|key| valid(&s.signature, &root, key))
                });
                match forged {
                    Some((_, s)) => Ok(Err(format!("validator {}'s signature does not verify", s.validator))),
                    None => chain.hold_certificate(&raw, &certificate),
                }
            })
            .await;
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

    /// The certificate the receiving validator gathered: held, if this node has not
    /// counted a quorum itself, once the signatures it did not receive from their
    /// signers verify. Those usually arrive a moment later (over their signers' own
    /// links): a certificate whose signatures this node has not all heard gets
    /// [`CONFIRM_GRACE`] to be counted before any signature is checked.
    pub fn on_confirmed(self: &Arc<Self>, from: u32, confirmed: Confirmed) {
        let Ok(certificate) = strata_primitives::rlp_item::decode_exact::<StorageCertificate>(&confirmed.certificate) else {
            tracing::debug!(from, "undecodable storage certificate dropped");
            return;
        };
        let claim = certificate.claim;
        if !self.plausible(&claim) || keccak256(&confirmed.raw) != claim.tx_hash {
            return;
        }
        let Some(set) = self.chain.validator_sets().validators_at(claim.height) else { return };
        let paths_ok = (certificate.paths.is_empty() || certificate.paths.len() == certificate.signatures.len())
            && certificate.paths.iter().all(|p| p.len() <= MAX_PATH);
        if !paths_ok || check_signers(certificate.signatures.iter().map(|s| s.validator), &set).is_err() {
            tracing::debug!(from, tx = %claim.tx_hash, "storage certificate without a quorum of distinct signers dropped");
            return;
        }
        match self.unvouched(&certificate) {
            None => {}
            Some(unvouched) if unvouched.is_empty() => self.confirm_with(confirmed.raw, certificate, set, unvouched),
            Some(_) => {
                let this = self.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(CONFIRM_GRACE).await;
                    if let Some(unvouched) = this.unvouched(&certificate) {
                        this.confirm_with(confirmed.raw, certificate, set, unvouched);
                    }
                });
            }
        }
    }

    /// The signatures of `certificate` this node has not heard from their signers (by
    /// index), `None` if it holds the transaction already.
    fn unvouched(&self, certificate: &StorageCertificate) -> Option<Vec<usize>> {
        let claim = certificate.claim;
        let mut tallies = self.tallies.lock();
        let tally = tallies.by_claim.get_mut(&stored_digest(&claim));
        if tally.as_ref().is_some_and(|t| t.held) {
            return None;
        }
        let no_path = Vec::new();
        Some(
            (0..certificate.signatures.len())
                .filter(|&i| {
                    let s = &certificate.signatures[i];
                    let path = certificate.paths.get(i).unwrap_or(&no_path);
                    let heard = |t: &&mut tally::Tally| {
                        t.votes.get(&s.validator).is_some_and(|v| v.signature == s.signature && v.path == *path && v.height == claim.height)
                    };
                    !tally.as_ref().is_some_and(heard)
                })
                .collect(),
        )
    }

    /// Holds a gathered certificate unless held already, checking what was not heard.
    fn confirm_with(self: &Arc<Self>, raw: Bytes, certificate: StorageCertificate, set: Arc<ValidatorSet>, unvouched: Vec<usize>) {
        // A certificate that fails its checks must not stop the tally from holding on
        // its own count: only one vouched for entirely marks it.
        if unvouched.is_empty()
            && let Some(t) = self.tallies.lock().by_claim.get_mut(&stored_digest(&certificate.claim))
        {
            t.held = true;
        }
        self.hold(raw, certificate, unvouched, set);
    }
}
