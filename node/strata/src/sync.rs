//! Whom a lagging validator asks for certified blocks, and when.
//!
//! Peers announce their committed height (`Status`); a Byzantine peer can announce
//! anything and then answer slowly or never. So:
//! - a claimed height is trusted only when `f + 1` peers claim at least that much (one
//!   of them is honest), or when the consensus core saw verified evidence of it
//!   (a certificate, a stable checkpoint: [`SyncPlanner::evidence`]);
//! - requests go to up to [`PARALLEL`] peers at once, each chosen among those that claim
//!   the blocks we need, in turn;
//! - a request unanswered after [`REQUEST_TIMEOUT`], or answered with nothing or with
//!   blocks that do not check out, benches that peer for [`PENALTY`] and the next one
//!   is asked.
//!
//! Everything imported is checked anyway (certificate against the validator set, block
//! re-executed to its header), so a lying peer costs time, never safety. This is a pure
//! planner: the driver feeds it what it hears and the time, and sends what it says.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

/// How long a sync request may stay unanswered.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a peer that did not answer, or answered badly, is not asked.
pub const PENALTY: Duration = Duration::from_secs(20);
/// Requests in flight at once (to different peers).
pub const PARALLEL: usize = 2;

/// A request to send: blocks from `from` on, to `peer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// The peer to ask.
    pub peer: u32,
    /// First height wanted.
    pub from: u64,
}

/// The sync planner of one validator.
#[derive(Debug)]
pub struct SyncPlanner {
    me: u32,
    /// `f` of the validator set: `f + 1` claims make a height trusted.
    f: usize,
    /// Each peer's highest claimed height.
    claims: BTreeMap<u32, u64>,
    /// The highest height verified evidence shows decided (and a peer holding it).
    evidence: Option<(u64, u32)>,
    /// Requests in flight: peer → (first height asked, when).
    in_flight: BTreeMap<u32, (u64, Instant)>,
    /// Peers benched until then.
    benched: BTreeMap<u32, Instant>,
    /// The peer after which the next choice starts (round robin).
    last: u32,
}

impl SyncPlanner {
    /// A planner for validator `me` of a set of `n` validators.
    pub fn new(me: u32, n: usize) -> Self {
        Self {
            me,
            f: n.saturating_sub(1) / 3,
            claims: BTreeMap::new(),
            evidence: None,
            in_flight: BTreeMap::new(),
            benched: BTreeMap::new(),
            last: me,
        }
    }

    /// `peer` says it has committed up to `height`.
    pub fn claim(&mut self, peer: u32, height: u64) {
        if peer != self.me {
            let c = self.claims.entry(peer).or_insert(0);
            *c = (*c).max(height);
        }
    }

    /// The consensus core verified that `height` is decided and that `peer` holds it.
    pub fn evidence(&mut self, height: u64, peer: u32) {
        if self.evidence.is_none_or(|(h, _)| height > h) {
            self.evidence = Some((height, peer));
        }
        self.claim(peer, height);
    }

    /// The highest height we have reason to believe is committed: claimed by `f + 1`
    /// peers, or shown by verified evidence.
    pub fn target(&self) -> u64 {
        let mut heights: Vec<u64> = self.claims.values().copied().collect();
        heights.sort_unstable_by(|a, b| b.cmp(a));
        let trusted = heights.get(self.f).copied().unwrap_or(0);
        trusted.max(self.evidence.map_or(0, |(h, _)| h))
    }

    /// Whether a request is in flight to `peer`.
    pub fn asked(&self, peer: u32) -> bool {
        self.in_flight.contains_key(&peer)
    }

    /// `peer` answered with `blocks` blocks, `good` if every one checked out (or it
    /// had nothing we lacked because we moved on meanwhile).
    pub fn answered(&mut self, peer: u32, blocks: usize, good: bool, now: Instant) {
        self.in_flight.remove(&peer);
        if !good || blocks == 0 {
            self.bench(peer, now);
        }
    }

    /// Stops asking `peer` for a while.
    pub fn bench(&mut self, peer: u32, now: Instant) {
        self.in_flight.remove(&peer);
        self.benched.insert(peer, now + PENALTY);
    }

    /// What to send now, given our committed `head`: nothing if we are not behind;
    /// otherwise new requests (up to [`PARALLEL`] in flight) to peers that claim the
    /// next block, after benching those whose requests timed out.
    pub fn poll(&mut self, head: u64, now: Instant) -> Vec<Request> {
        let timed_out: Vec<u32> =
            self.in_flight.iter().filter(|(_, (_, at))| now.duration_since(*at) >= REQUEST_TIMEOUT).map(|(p, _)| *p).collect();
        for p in timed_out {
            tracing::debug!(peer = p, "sync request timed out: asking another peer");
            self.bench(p, now);
        }
        self.benched.retain(|_, until| *until > now);
        let from = head.saturating_add(1);
        // Requests for heights we already have are over.
        self.in_flight.retain(|_, (asked, _)| *asked >= from);
        if self.target() < from {
            return Vec::new();
        }
        let mut candidates: Vec<u32> = self
            .claims
            .iter()
            .filter(|(p, h)| **h >= from && !self.benched.contains_key(p) && !self.in_flight.contains_key(p))
            .map(|(p, _)| *p)
            .collect();
        if candidates.is_empty() {
            // Everyone claiming the blocks is benched: try the evidence's holder, else the
            // least recently benched, rather than stall.
            if let Some((h, p)) = self.evidence
                && h >= from
                && !self.in_flight.contains_key(&p)
            {
                candidates.push(p);
            } else if self.in_flight.is_empty()
                && let Some((p, _)) =
                    self.benched.iter().filter(|(p, _)| self.claims.get(p).is_some_and(|h| *h >= from)).min_by_key(|(_, until)| **until)
            {
                candidates.push(*p);
            }
        }
        // Round robin: start after the last peer chosen.
        candidates.sort_by_key(|p| (*p <= self.last, *p));
        let mut out = Vec::new();
        for p in candidates {
            if self.in_flight.len() >= PARALLEL {
                break;
            }
            self.in_flight.insert(p, (from, now));
            self.last = p;
            out.push(Request { peer: p, from });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_peer_claiming_the_moon_is_not_believed() {
        let mut s = SyncPlanner::new(0, 4);
        let now = Instant::now();
        s.claim(3, u64::MAX);
        assert_eq!(s.target(), 0, "f + 1 = 2 claims are needed");
        assert!(s.poll(10, now).is_empty());
        s.claim(1, 20);
        assert_eq!(s.target(), 20);
        let asked: Vec<u32> = s.poll(10, now).iter().map(|r| r.peer).collect();
        assert_eq!(asked.len(), 2, "two peers at once");
        assert!(asked.contains(&1));
    }

    #[test]
    fn a_silent_peer_is_benched_and_another_is_asked() {
        let mut s = SyncPlanner::new(0, 4);
        let t0 = Instant::now();
        s.claim(3, u64::MAX);
        s.claim(1, 50);
        s.claim(2, 50);
        assert_eq!(s.poll(10, t0).iter().map(|r| r.peer).collect::<Vec<_>>(), vec![1, 2]);
        s.answered(1, 32, true, t0);
        s.answered(2, 32, true, t0);
        // Round robin: the Byzantine peer's turn comes, with peer 1's.
        assert_eq!(s.poll(42, t0).iter().map(|r| r.peer).collect::<Vec<_>>(), vec![3, 1]);
        // Neither answers in time: both are benched, and peer 2 is asked.
        let later = t0 + REQUEST_TIMEOUT;
        assert_eq!(s.poll(42, later), vec![Request { peer: 2, from: 43 }]);
        // An empty answer benches too; once everyone is benched the least recently
        // benched claimant is tried rather than stalling.
        s.answered(2, 0, true, later);
        assert_eq!(s.poll(42, later).len(), 1);
        // Caught up with what f + 1 peers claim: the lone claim of u64::MAX keeps nothing going.
        assert!(s.poll(50, later + PENALTY).is_empty());
    }

    #[test]
    fn evidence_is_trusted_alone() {
        let mut s = SyncPlanner::new(0, 7);
        s.evidence(30, 5);
        assert_eq!(s.target(), 30);
        assert_eq!(s.poll(3, Instant::now()), vec![Request { peer: 5, from: 4 }]);
    }
}
