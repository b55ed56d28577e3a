//! Block bytes from the network: taken only if they hash to the signed hash, and the ones
//! held early kept within [`Config::max_early_block_bytes`](super::Config::max_early_block_bytes),
//! nearest to being decided first (see the crate docs, "Blocks").

use super::Core;
use strata_primitives::{B256, Bytes};

impl Core {
    /// Takes `block`, from the network, as the block `hash` at `height` (offered in
    /// `view`): only if its bytes hash to `hash` and, unless `needed` (the caller knows it
    /// is the block to decide now or a re-proposal of our view), if it fits among the
    /// blocks held early. Whether we hold exactly these bytes for `hash` now.
    pub(super) fn take_block(&mut self, height: u64, view: u64, hash: B256, block: &Bytes, needed: bool) -> bool {
        if block.is_empty() {
            return false;
        }
        let Some(log) = self.logs.get(&height) else { return false };
        if let Some(held) = log.blocks.get(&hash) {
            return held == block;
        }
        if log.invalid.contains(&hash) {
            return false;
        }
        // The cheap checks first: hashing is the costly part.
        if !needed && !self.needed(height, hash) && !self.early_room(height, view, hash, len_u64(block)) {
            return false;
        }
        if (self.block_hash)(block) != Some(hash) {
            return false;
        }
        self.log_at(height).blocks.insert(hash, block.clone());
        true
    }

    /// Whether the block `hash` at `height` is needed for safety or liveness, hence never
    /// dropped: the one to decide at our height in our view (or that a certificate for our
    /// height names), one our new view re-proposes, our proposal, one we voted for.
    fn needed(&self, height: u64, hash: B256) -> bool {
        self.kept.contains_key(&(height, hash))
            || self.proposal.as_ref().is_some_and(|p| p.height == height && p.hash == hash)
            || (!self.changing && self.installed.as_ref().is_some_and(|i| i.plan.get(&height) == Some(&hash)))
            || (height == self.height
                && self.logs.get(&height).is_some_and(|s| {
                    s.certificate.as_ref().is_some_and(|c| c.block_hash == hash)
                        || (!self.changing && s.pre_prepares.get(&self.view).is_some_and(|(h, _)| *h == hash))
                }))
    }

    /// Where a block held early stands in line to be kept, nearest to being decided
    /// first: our height, then the heights above it in order (heights we are past last);
    /// at one height, views from ours upwards, then earlier ones; the hash breaks ties.
    fn rank(&self, height: u64, view: u64, hash: B256) -> Rank {
        (height < self.height, height, view < self.view, view.abs_diff(self.view), hash)
    }

    /// The blocks held early (not `Core::needed`), with their rank and size.
    pub(super) fn early_blocks(&self) -> impl Iterator<Item = Early> + '_ {
        self.logs.iter().flat_map(move |(&height, log)| {
            log.blocks.iter().filter(move |(hash, _)| !self.needed(height, **hash)).map(move |(&hash, block)| {
                // The view whose primary offered it; a block that came otherwise (our
                // proposal, a re-proposal) is needed, or last at its height once it is not.
                let view = log.offered.iter().find(|&(_, h)| *h == hash).map_or(u64::MAX, |(&v, _)| v);
                Early { rank: self.rank(height, view, hash), height, hash, len: len_u64(block) }
            })
        })
    }

    /// Whether a block of `len` bytes, ranked by (`height`, `view`, `hash`), is kept among
    /// the blocks held early: those ranked before it and it fit in the budget.
    fn early_room(&self, height: u64, view: u64, hash: B256, len: u64) -> bool {
        let rank = self.rank(height, view, hash);
        let before = self.early_blocks().filter(|e| e.rank < rank).fold(0u64, |sum, e| sum.saturating_add(e.len));
        before.saturating_add(len) <= self.max_early_block_bytes
    }

    /// Drops blocks held early, farthest first, until they fit in the budget (after every
    /// input: what is needed changes with our height and view).
    pub(super) fn bound_early_blocks(&mut self) {
        let budget = self.max_early_block_bytes;
        if self.early_block_bytes() <= budget {
            return;
        }
        let mut early: Vec<Early> = self.early_blocks().collect();
        early.sort_unstable_by_key(|e| e.rank);
        let mut kept = 0u64;
        let mut full = false;
        for e in early {
            full = full || kept.saturating_add(e.len) > budget;
            if full {
                // The line stops here: a block ranked after it never takes its place.
                if let Some(log) = self.logs.get_mut(&e.height) {
                    log.blocks.remove(&e.hash);
                    log.valid.remove(&e.hash);
                }
            } else {
                kept = kept.saturating_add(e.len);
            }
        }
    }
}

/// The rank of a block held early (see `Core::rank`): lower is kept first.
type Rank = (bool, u64, bool, u64, B256);

/// A block held early.
pub(super) struct Early {
    rank: Rank,
    height: u64,
    hash: B256,
    pub(super) len: u64,
}

pub(super) fn len_u64(block: &Bytes) -> u64 {
    u64::try_from(block.len()).unwrap_or(u64::MAX)
}
