//! Validator slots in the simulator ([`Params::slots`](super::Params)): every validator
//! is a slot run by two nodes — a primary with [`key`](super::key)`(i)` and a backup with
//! [`joiner_key`](super::joiner_key)`(i)` — and which of them is active at a height is
//! decided by the runtime's switch rule ([`end_of_block`]) from the evidence each block
//! carries, exactly as the chain does it: the proposer's certificate of the parent (whose
//! signers are the live active keys) and the heartbeats of the sync nodes it heard from.
//! A faulty proposer can omit evidence (trim the certificate to a quorum, leave
//! heartbeats out), never forge it.
//!
//! Each node keeps its own [`Book`] — the slot records after every height it committed —
//! and gives its core the validators of each height from it ([`BookSets`]); the world
//! keeps a reference book of the decided chain. Every run checks that every correct node
//! computes the same records after every height as the reference, and that every switch
//! had evidence from at least one correct proposer (so faulty proposers alone cannot
//! force one).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use strata_consensus::{CommitCertificate, ProposerRotation, ValidatorSet, ValidatorSets};
use strata_primitives::slots::{Observation, SlotParams, SlotRecord, SlotSeen, Switch, WindowEntry, end_of_block, validator_set_at};
use strata_primitives::{B256, Bytes};

use super::{CHAIN_ID, Evidence, decode_block, decode_evidence, joiner_key, key, make_block, make_block_with};

/// The slot state after every committed height, as one node computes it.
#[derive(Debug, Clone)]
pub struct Book {
    params: SlotParams,
    rotation: ProposerRotation,
    /// Records after each committed height (0: genesis).
    after: BTreeMap<u64, Vec<SlotRecord>>,
    window: Vec<WindowEntry>,
    sets: BTreeMap<u64, Arc<ValidatorSet>>,
    /// Switches decided, with the proposers of the blocks that were their evidence.
    pub switches: Vec<(Switch, Vec<u32>)>,
}

impl Book {
    /// `n` slots, each with its primary active, switching after `window` blocks of evidence.
    pub fn new(n: usize, window: u64, rotation: ProposerRotation) -> Self {
        let records = (0..n as u32)
            .map(|i| {
                let primary = key(i).address();
                SlotRecord::new(primary, Some(joiner_key(i).address()), primary, 0, primary)
            })
            .collect();
        Book {
            params: SlotParams::new(n as u32, window),
            rotation,
            after: BTreeMap::from([(0, records)]),
            window: Vec::new(),
            sets: BTreeMap::new(),
            switches: Vec::new(),
        }
    }

    /// The records after height `h`, if committed.
    pub fn records_after(&self, h: u64) -> Option<&Vec<SlotRecord>> {
        self.after.get(&h)
    }

    /// The validators of `height`: the active keys in the records after `height - 2`.
    pub fn set_at(&mut self, height: u64) -> Option<Arc<ValidatorSet>> {
        if let Some(set) = self.sets.get(&height) {
            return Some(set.clone());
        }
        let records = self.after.get(&height.saturating_sub(2))?;
        let set = Arc::new(validator_set_at(records, height).with_rotation(self.rotation));
        self.sets.insert(height, set.clone());
        Some(set)
    }

    /// The active key of slot `slot` at `height` and its alternate, from the records after `height`.
    pub fn roles_at(&self, height: u64, slot: u32) -> Option<(strata_primitives::Address, strata_primitives::Address)> {
        let r = self.after.get(&height)?.get(slot as usize)?;
        Some((r.active_at(height), r.alternate_at(height)?))
    }

    /// Block `height` by slot `proposer`, carrying the parent's certificate `cert` (none
    /// for block 1) and heartbeats of the slots in `beats` (a bit per slot): the
    /// observation the chain makes of it, then the switch rule.
    pub fn apply(&mut self, height: u64, proposer: u32, cert: Option<&CommitCertificate>, beats: u64) -> Result<(), String> {
        if self.after.contains_key(&height) {
            return Err(format!("slot state after {height} computed twice"));
        }
        let parent = height.checked_sub(1).ok_or("block 0 is genesis")?;
        let mut records =
            self.after.get(&parent).ok_or_else(|| format!("slot state after {parent} unknown when applying {height}"))?.clone();
        let seen = Observation {
            height,
            proposer,
            slots: records
                .iter()
                .enumerate()
                .map(|(i, r)| SlotSeen {
                    active: r.active_at(parent),
                    active_alive: cert.is_none_or(|c| c.signatures.iter().any(|s| s.validator as usize == i)),
                    alternate_alive: (beats >> i) & 1 == 1,
                })
                .collect(),
        };
        let switches = end_of_block(&self.params, &mut records, &mut self.window, &seen);
        let proposers: Vec<u32> = self.window.iter().map(|w| w.proposer).collect();
        self.switches.extend(switches.into_iter().map(|s| (s, proposers.clone())));
        self.after.insert(height, records);
        Ok(())
    }
}

/// A core's view of the validators of each height: its node's [`Book`].
#[derive(Debug, Clone)]
pub struct BookSets(pub Arc<Mutex<Book>>);

impl ValidatorSets for BookSets {
    fn validators_at(&self, height: u64) -> Option<Arc<ValidatorSet>> {
        self.0.lock().expect("book").set_at(height)
    }
}

impl super::World {
    /// The validators of each height as node `i` knows them.
    pub(super) fn sets_of(&self, i: usize) -> Arc<dyn ValidatorSets> {
        match &self.nodes[i].book {
            Some(book) => Arc::new(BookSets(book.clone())),
            None => self.sets.clone(),
        }
    }

    /// The block node `i` builds at `height` on `parent`: with slots, carrying its
    /// certificate of the parent and the heartbeats of the sync nodes it can reach (a
    /// faulty node omits some of either).
    pub(super) fn build_block(&mut self, i: usize, height: u64, view: u64, nonce: u64, parent: B256) -> (Bytes, B256) {
        let me = self.nodes[i].validator;
        let Some(book) = self.nodes[i].book.clone() else { return make_block(height, view, me, nonce, parent) };
        let tip = self.nodes[i].chain.len() as u64 - 1;
        let on_tip = tip + 1 == height && self.nodes[i].chain[tip as usize].hash == parent;
        let mut certificate = if on_tip { self.nodes[i].chain[tip as usize].certificate.clone() } else { None };
        let faulty = self.nodes[i].byzantine.is_some();
        let forcing = self.nodes[i].byzantine == Some(super::Byzantine::OmitEvidence);
        let mut beats = 0u64;
        for slot in 0..self.p.n as u32 {
            let Some((_, alternate)) = book.lock().expect("book").roles_at(tip, slot) else { continue };
            let heard = (0..self.nodes.len()).any(|j| {
                self.nodes[j].validator == slot && self.nodes[j].key.address() == alternate && self.alive(j) && self.reachable(i, j)
            });
            if heard && (forcing || !(faulty && self.rand(2) == 0)) {
                beats |= 1 << slot;
            }
        }
        if faulty && let Some(cert) = certificate.as_mut() {
            // Any quorum of the signatures is a valid certificate: keep a random one, or
            // one without the target's.
            let quorum = book.lock().expect("book").set_at(tip).map_or(cert.signatures.len(), |s| s.quorum());
            let target = (0..self.p.n as u32).rev().find(|v| *v != me);
            if forcing && cert.signatures.len() > quorum {
                cert.signatures.retain(|s| Some(s.validator) != target);
            }
            while cert.signatures.len() > quorum {
                let k = self.rand(cert.signatures.len() as u64) as usize;
                cert.signatures.remove(k);
            }
        }
        make_block_with(height, view, me, nonce, parent, &Evidence { certificate, beats })
    }

    /// Whether a block's evidence holds for node `i` (which has committed `height - 1`,
    /// `parent`): block 1 carries no certificate, any other the parent's, valid against
    /// the parent height's validators. (Heartbeats are signed in the chain: a proposer
    /// can only leave them out, which is all a simulated one can do.)
    pub(super) fn evidence_valid(&mut self, i: usize, height: u64, parent: B256, block: &[u8]) -> bool {
        let Some(book) = self.nodes[i].book.clone() else { return true };
        let Some(evidence) = decode_evidence(block) else { return false };
        if evidence.beats >> self.p.n != 0 {
            return false;
        }
        match (height, evidence.certificate) {
            (1, None) => true,
            (1, Some(_)) | (_, None) => false,
            (h, Some(c)) => {
                if c.height != h - 1 || c.block_hash != parent {
                    return false;
                }
                // Every node computes the same sets (checked on commit): a certificate
                // verified once is verified for all.
                if self.verified.contains(&c.hash()) {
                    return true;
                }
                let set = book.lock().expect("book").set_at(h - 1);
                let ok = set.is_some_and(|s| c.verify(&s, CHAIN_ID).is_ok());
                if ok {
                    self.verified.insert(c.hash());
                }
                ok
            }
        }
    }

    /// The switch rule on a block node `i` committed at `height`, in its book; a correct
    /// node's result must be the decided chain's.
    pub(super) fn apply_slots(&mut self, i: usize, height: u64, block: &[u8]) -> Result<(), String> {
        let Some(book) = self.nodes[i].book.clone() else { return Ok(()) };
        let (Some((_, _, proposer, _)), Some(evidence)) = (decode_block(block), decode_evidence(block)) else {
            return Err(format!("node {i} commits a block without evidence at {height}"));
        };
        let mut book = book.lock().expect("book");
        book.apply(height, proposer, evidence.certificate.as_ref(), evidence.beats).map_err(|e| format!("node {i}: {e}"))?;
        if self.correct(i) {
            let reference = self.reference.as_ref().and_then(|r| r.records_after(height));
            if reference != book.records_after(height) {
                return Err(format!(
                    "node {i} computes other slot records after {height}: {:?}, the decided chain {reference:?}",
                    book.records_after(height)
                ));
            }
        }
        Ok(())
    }

    /// The decided block at `height` in the reference book; each switch it decides must
    /// rest on evidence from a correct proposer.
    pub(super) fn decide_slots(&mut self, height: u64, block: &[u8]) -> Result<(), String> {
        let Some(reference) = self.reference.as_mut() else { return Ok(()) };
        let (Some((_, _, proposer, _)), Some(evidence)) = (decode_block(block), decode_evidence(block)) else {
            return Err(format!("a block without evidence is decided at {height}"));
        };
        let before = reference.switches.len();
        reference.apply(height, proposer, evidence.certificate.as_ref(), evidence.beats)?;
        let faulty: Vec<u32> = self.p.byzantine.iter().map(|(v, _)| *v).collect();
        for (switch, proposers) in &reference.switches[before..] {
            if !switch.planned && proposers.iter().all(|p| faulty.contains(p)) {
                return Err(format!("slot {} switched at {height} on evidence from faulty proposers only: {proposers:?}", switch.slot));
            }
            if self.trace {
                println!("{:>6} slot {} switches at {height}: {} active from {}", self.now, switch.slot, switch.active, switch.effective);
            }
        }
        self.out.switches += (reference.switches.len() - before) as u64;
        self.out.switch_log.extend(reference.switches[before..].iter().map(|(s, _)| (s.slot, s.decided)));
        Ok(())
    }

    /// The node's sync on peers' announced heights: when `f + 1` other validators have
    /// machines it can reach at least two heights ahead, it fetches from one of them.
    pub(super) fn catch_up(&mut self, i: usize) -> Result<(), String> {
        let me = self.nodes[i].validator;
        let tip = self.nodes[i].chain.len() as u64 - 1;
        let mut best: BTreeMap<u32, u64> = BTreeMap::new();
        for j in 0..self.nodes.len() {
            if self.nodes[j].validator != me && self.alive(j) && self.reachable(i, j) {
                let e = best.entry(self.nodes[j].validator).or_insert(0);
                *e = (*e).max(self.nodes[j].chain.len() as u64 - 1);
            }
        }
        let f = (self.p.n - 1) / 3;
        let mut heights: Vec<(u64, u32)> = best.into_iter().map(|(v, h)| (h, v)).collect();
        heights.sort_unstable_by(|a, b| b.cmp(a));
        match heights.get(f) {
            Some(&(h, _)) if h > tip + 1 => {
                let peer = heights[self.rand(f as u64 + 1) as usize].1;
                self.sync(i, peer)
            }
            _ => Ok(()),
        }
    }
}
