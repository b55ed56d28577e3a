//! What a simulation runs with ([`Params`]) and what it reports ([`Outcome`]).

use std::sync::Arc;
use strata_consensus::{DEFAULT_MAX_EARLY_BLOCK_BYTES, ProposerRotation, ValidatorSet, ValidatorSets};
use strata_testdata::Rng;

/// How a faulty validator misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Byzantine {
    /// Never runs (a crashed validator that stays down).
    Crashed,
    /// Runs but sends nothing.
    Silent,
    /// As primary, sends different pre-prepares (different blocks) to different peers.
    Equivocate,
    /// Sends each peer either its vote or a vote for another block.
    ConflictingVotes,
    /// Also sends signed messages with absurd views and heights.
    AbsurdViews,
    /// Also sends random and mangled bytes.
    Garbage,
    /// Two nodes run with its key and index.
    Twins,
    /// Relays every block it receives (pre-prepares, new views) to everyone else at once,
    /// the primary's signature intact, with other bytes: another well-formed block, a
    /// flipped bit, a cut.
    TamperRelay,
    /// Correct, except as a proposer on a chain with slots: every block it builds leaves
    /// the highest other slot's signature out of the parent certificate and carries every
    /// heartbeat it hears — all a proposer can do to force that slot to switch.
    OmitEvidence,
}

/// Events the scenario script can place at fixed times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scripted {
    /// Crash this node (slot index).
    Crash(usize),
    /// Restart this node.
    Restart(usize),
    /// Isolate these validators (bit mask) from the others.
    Partition(u64),
    /// Heal partitions.
    Heal,
}

/// A change of validators at a height.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replace {
    /// The first height decided by the new set.
    pub height: u64,
    /// The validator (index) whose key the new set replaces by a new one
    /// ([`super::joiner_key`]).
    pub validator: u32,
}

/// The validators of a chain whose set changes once: `before` below height `at`, `after`
/// from it.
#[derive(Debug)]
pub struct SwitchAt {
    /// The validators of the heights below `at`.
    pub before: Arc<ValidatorSet>,
    /// The validators from `at` on.
    pub after: Arc<ValidatorSet>,
    /// The first height of `after`.
    pub at: u64,
}

impl ValidatorSets for SwitchAt {
    fn validators_at(&self, height: u64) -> Option<Arc<ValidatorSet>> {
        Some(if height < self.at { self.before.clone() } else { self.after.clone() })
    }
}

/// One run's setting.
#[derive(Debug, Clone)]
pub struct Params {
    /// Validators.
    pub n: usize,
    /// Faulty validators and how (at most `f`).
    pub byzantine: Vec<(u32, Byzantine)>,
    /// Virtual time of the fault phase (ms); then the network heals.
    pub chaos_ms: u64,
    /// Message delay bounds (ms).
    pub delay_ms: (u64, u64),
    /// Loss, duplication and replay rates during the fault phase (per mille).
    pub drop_per_mille: u64,
    /// Duplication rate.
    pub dup_per_mille: u64,
    /// Chance per delivered message that an old message is replayed too.
    pub replay_per_mille: u64,
    /// Random partition episodes during the fault phase.
    pub partitions: u32,
    /// Random crash episodes during the fault phase.
    pub crashes: u32,
    /// Chance that a node crashes in the middle of executing a batch of effects.
    pub torn_per_mille: u64,
    /// Fixed-time events.
    pub script: Vec<(u64, Scripted)>,
    /// Heights every correct validator must add after healing.
    pub heal_heights: u64,
    /// Virtual time allowed for that (ms).
    pub liveness_ms: u64,
    /// Consensus settings.
    pub checkpoint_interval: u64,
    /// Watermark window.
    pub window: u64,
    /// First view timer.
    pub base_timeout_ms: u64,
    /// Timer cap.
    pub max_timeout_ms: u64,
    /// Block building time bounds (ms).
    pub build_ms: (u64, u64),
    /// Budget of block bytes held early (simulated blocks are about 70 bytes).
    pub max_early_block_bytes: u64,
    /// A validator replaced at a height (its new key's node runs as one more node).
    pub replace: Option<Replace>,
    /// How the proposer moves between heights. Hand-written scenarios assume a stable
    /// primary; the sweeps draw either.
    pub rotation: ProposerRotation,
    /// Validator slots: every validator also has a backup node, and the switch rule, with
    /// this window `N`, decides from the evidence in blocks which one is active
    /// ([`super::slots`]).
    pub slots: Option<u64>,
}

impl Params {
    /// A quiet network: no faults at all.
    pub fn quiet(n: usize) -> Self {
        Params {
            n,
            byzantine: Vec::new(),
            chaos_ms: 0,
            delay_ms: (1, 10),
            drop_per_mille: 0,
            dup_per_mille: 0,
            replay_per_mille: 0,
            partitions: 0,
            crashes: 0,
            torn_per_mille: 0,
            script: Vec::new(),
            heal_heights: 10,
            liveness_ms: 20_000,
            checkpoint_interval: 4,
            window: 16,
            base_timeout_ms: 300,
            max_timeout_ms: 2_400,
            build_ms: (1, 20),
            max_early_block_bytes: DEFAULT_MAX_EARLY_BLOCK_BYTES,
            replace: None,
            rotation: ProposerRotation::Stable,
            slots: None,
        }
    }

    /// A random setting for `n` validators drawn from `rng`.
    pub fn random(n: usize, rng: &mut Rng) -> Self {
        let f = (n - 1) / 3;
        let mut p = Params::quiet(n);
        p.chaos_ms = 150 + rng.next() % 500;
        let max_delay = [5, 20, 40][(rng.next() % 3) as usize];
        p.delay_ms = (1, max_delay);
        p.drop_per_mille = [0, 20, 100, 300][(rng.next() % 4) as usize];
        p.dup_per_mille = [0, 50, 200][(rng.next() % 3) as usize];
        p.replay_per_mille = [0, 20, 100][(rng.next() % 3) as usize];
        p.partitions = (rng.next() % 3) as u32;
        p.crashes = (rng.next() % 4) as u32;
        p.torn_per_mille = [0, 0, 5, 20][(rng.next() % 4) as usize];
        p.checkpoint_interval = [2, 4, 8][(rng.next() % 3) as usize];
        p.window = p.checkpoint_interval * 2 + rng.next() % 8;
        p.base_timeout_ms = 150 + rng.next() % 250;
        p.max_timeout_ms = p.base_timeout_ms * 8;
        p.heal_heights = 2;
        // Sometimes room for only a few early blocks (a simulated block is ~50 bytes).
        p.max_early_block_bytes = [DEFAULT_MAX_EARLY_BLOCK_BYTES, DEFAULT_MAX_EARLY_BLOCK_BYTES, 400, 160][(rng.next() % 4) as usize];
        let faulty = (rng.next() % (f as u64 + 1)) as usize;
        let behaviours = [
            Byzantine::Crashed,
            Byzantine::Silent,
            Byzantine::Equivocate,
            Byzantine::ConflictingVotes,
            Byzantine::AbsurdViews,
            Byzantine::Garbage,
            Byzantine::Twins,
            Byzantine::TamperRelay,
            Byzantine::OmitEvidence,
        ];
        let mut who: Vec<u32> = (0..n as u32).collect();
        for _ in 0..faulty {
            let i = (rng.next() % who.len() as u64) as usize;
            let v = who.swap_remove(i);
            p.byzantine.push((v, behaviours[(rng.next() % behaviours.len() as u64) as usize]));
        }
        p.byzantine.sort();
        p.rotation = if rng.next().is_multiple_of(2) { ProposerRotation::ByHeight } else { ProposerRotation::Stable };
        // A third of the runs switch one correct validator's key at a random height, as a
        // validator slot does: its other machine follows from the start and signs from then.
        if rng.next().is_multiple_of(3) {
            let correct: Vec<u32> = (0..n as u32).filter(|v| !p.byzantine.iter().any(|(b, _)| b == v)).collect();
            let validator = correct[(rng.next() % correct.len() as u64) as usize];
            p.replace = Some(Replace { height: 2 + rng.next() % 8, validator });
        } else if rng.next().is_multiple_of(2) {
            // Another third run every validator as a slot with a backup, roles decided by
            // the switch rule with a short window (so crashes and partitions switch them).
            p.slots = Some(2 + rng.next() % 3);
            // Blocks carry a certificate: room for a few.
            p.max_early_block_bytes = p.max_early_block_bytes.max(2_000);
            // Blocks are paced, as the node paces them: late commits reach the next proposer.
            p.build_ms = (10, 30);
            // A longer fault phase: enough heights for windows of evidence to fill.
            p.chaos_ms *= 3;
            // Half of them lose a correct primary for the rest of the fault phase: its
            // backup should take over.
            if rng.next().is_multiple_of(2) {
                let correct: Vec<u32> = (0..n as u32).filter(|v| !p.byzantine.iter().any(|(b, _)| b == v)).collect();
                let v = correct[(rng.next() % correct.len() as u64) as usize];
                // Node index: twins run two nodes each, before it in the list.
                let node = v as usize + p.byzantine.iter().filter(|(b, k)| *b < v && *k == Byzantine::Twins).count();
                p.script.push((rng.next() % (p.chaos_ms / 2), Scripted::Crash(node)));
            }
        }
        p
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The lowest committed height among correct validators at the end.
    pub min_height: u64,
    /// The highest committed height.
    pub max_height: u64,
    /// The highest view any correct validator reached.
    pub max_view: u64,
    /// New views entered, summed over validators.
    pub view_changes: u64,
    /// Successful catch-ups.
    pub syncs: u64,
    /// Crashes (scripted, random and torn batches).
    pub crashes: u64,
    /// Messages sent.
    pub messages: u64,
    /// Virtual time from healing until every correct validator had its new heights (ms).
    pub heal_ms: u64,
    /// The highest height a correct validator had committed when the network healed.
    pub height_at_heal: u64,
    /// Final stable checkpoint per node slot.
    pub stable: Vec<u64>,
    /// Final view per node slot.
    pub views: Vec<u64>,
    /// Role switches decided on the chain (runs with slots).
    pub switches: u64,
    /// Each switch's slot and the height whose end decided it.
    pub switch_log: Vec<(u32, u64)>,
    /// Blocks the cores asked to validate whose builder is not the proposer of the
    /// `proposed_view` they came with (a block re-proposed twice: see `Effect::Validate`).
    pub wrong_proposer: u64,
}
