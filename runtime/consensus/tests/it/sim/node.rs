//! Playing the node's part for a core: executing its effects (building and re-executing
//! blocks, committing with the checks every run makes, catching up from a peer).

use super::{CHAIN_ID, Committed, Event, World, decode_block, read_block};
use strata_consensus::{CommitCertificate, Effect, Input, Persisted, select_proposer};
use strata_primitives::{B256, Bytes, keccak256};

impl World {
    pub(super) fn execute(&mut self, i: usize, effects: Vec<Effect>) {
        let torn =
            if !self.healed && self.chance(self.p.torn_per_mille) { Some(self.rand(effects.len() as u64 + 1) as usize) } else { None };
        for (k, effect) in effects.into_iter().enumerate() {
            if torn == Some(k) {
                self.crash(i);
                let d = 10 + self.rand(300);
                self.after(d, Event::Restart { node: i });
                return;
            }
            if self.trace {
                println!("{:>6} node {i} -> {}", self.now, describe_effect(&effect));
            }
            match effect {
                Effect::Persist(p) => {
                    let bytes = p.encode();
                    let back = Persisted::decode(&bytes).expect("Persisted round-trips");
                    assert_eq!(back, p, "Persisted round-trips");
                    self.nodes[i].persisted = Some(back);
                }
                Effect::Broadcast(m) => self.send(i, None, m),
                Effect::Send { to, message } => self.send(i, Some(to), message),
                Effect::SetTimer { view, after_ms } => {
                    self.nodes[i].timer += 1;
                    let generation = self.nodes[i].timer;
                    self.after(after_ms, Event::Timer { node: i, generation, view });
                }
                Effect::Propose { height, view, parent } => {
                    // Built when the building time is over (with what the node holds then:
                    // a certificate grown by late commits, heartbeats).
                    let incarnation = self.nodes[i].incarnation;
                    let d = self.between(self.p.build_ms);
                    self.after(d, Event::Build { node: i, incarnation, height, view, parent });
                }
                Effect::Validate { height, view, proposed_view, block, hash } => {
                    // What the node checks of a proposal: built by the proposer of the view
                    // the core says it was proposed in (counted, not enforced).
                    if let (Some((h, _, proposer, _)), Some(set)) = (decode_block(&block), self.sets_of(i).validators_at(height))
                        && h == height
                        && proposer != select_proposer(&set, height, proposed_view)
                    {
                        self.out.wrong_proposer += 1;
                    }
                    let incarnation = self.nodes[i].incarnation;
                    let d = 1 + self.rand(10);
                    self.after(d, Event::Validate { node: i, incarnation, height, view, block, hash });
                }
                Effect::Commit { height, block, hash, certificate } => {
                    if let Err(e) = self.commit(i, height, block, hash, certificate) {
                        self.failure.get_or_insert(e);
                    }
                }
                Effect::CertificateExtended { certificate } => {
                    // Only ever for a block this node committed, and still a valid certificate.
                    let committed = self.nodes[i].chain.get(certificate.height as usize).map(|c| c.hash);
                    let set = self.sets_of(i).validators_at(certificate.height);
                    let valid = set.is_some_and(|s| certificate.verify(&s, crate::sim::CHAIN_ID).is_ok());
                    if committed != Some(certificate.block_hash) || !valid {
                        self.failure.get_or_insert(format!("node {i}: bad extended certificate {certificate:?}"));
                    } else if certificate.height as usize + 1 == self.nodes[i].chain.len() {
                        // As the node does: the head's certificate grows, and the next block
                        // it builds carries the larger one.
                        let h = certificate.height as usize;
                        self.nodes[i].chain[h].certificate = Some(certificate);
                    }
                }
                Effect::ViewChanged { .. } => self.out.view_changes += 1,
                Effect::Behind { height: _, peer } => {
                    let incarnation = self.nodes[i].incarnation;
                    let d = 5 + self.rand(30);
                    self.after(d, Event::Sync { node: i, incarnation, peer });
                }
            }
        }
    }

    fn check_block(&mut self, i: usize, height: u64, block: &Bytes, hash: B256, certificate: &CommitCertificate) -> Result<(), String> {
        let node = &self.nodes[i];
        if height != node.chain.len() as u64 {
            return Err(format!("node {i} commits height {height} with tip {}", node.chain.len() - 1));
        }
        if keccak256(block) != hash {
            return Err(format!("node {i} commits bytes that do not hash to {hash} at {height}"));
        }
        if certificate.height != height || certificate.block_hash != hash {
            return Err(format!(
                "node {i}: certificate for ({}, {}) with block ({height}, {hash})",
                certificate.height, certificate.block_hash
            ));
        }
        // Each distinct certificate is checked once (many nodes hold the same one).
        if self.verified.insert(certificate.hash()) {
            let set = self.sets_of(i).validators_at(height).ok_or_else(|| format!("node {i} knows no validators at {height}"))?;
            certificate.verify(&set, CHAIN_ID).map_err(|e| format!("node {i}: certificate at {height} does not verify: {e}"))?;
        }
        let parent = node.chain.last().expect("genesis").hash;
        match read_block(block) {
            Some((h, p)) if h == height && p == parent => {}
            _ => return Err(format!("node {i} commits a block at {height} that does not link to its parent")),
        }
        if !self.proposed.contains(&hash) {
            return Err(format!("validity: node {i} commits {hash} at {height}, which no node proposed"));
        }
        if self.correct(i) {
            match self.decided.get(&height) {
                Some(d) if *d != hash => {
                    return Err(format!("SAFETY: node {i} commits {hash} at {height}, another correct node committed {d}"));
                }
                Some(_) => {}
                None => {
                    self.decided.insert(height, hash);
                    self.decide_slots(height, block)?;
                }
            }
        }
        Ok(())
    }

    fn commit(&mut self, i: usize, height: u64, block: Bytes, hash: B256, certificate: CommitCertificate) -> Result<(), String> {
        self.check_block(i, height, &block, hash, &certificate)?;
        self.nodes[i].chain.push(Committed { hash, block: block.clone(), certificate: Some(certificate) });
        self.apply_slots(i, height, &block)
    }

    pub(super) fn sync(&mut self, i: usize, peer: u32) -> Result<(), String> {
        let candidates: Vec<usize> =
            (0..self.nodes.len()).filter(|&j| j != i && self.nodes[j].validator == peer && self.alive(j) && self.reachable(i, j)).collect();
        if candidates.is_empty() {
            return Ok(());
        }
        let j = candidates[self.rand(candidates.len() as u64) as usize];
        let from = self.nodes[i].chain.len();
        let upto = self.nodes[j].chain.len();
        if upto <= from {
            return Ok(());
        }
        for h in from..upto {
            let entry = self.nodes[j].chain[h].clone();
            let Some(cert) = entry.certificate.clone() else { return Ok(()) };
            // The node checks what it fetches like any commit.
            self.check_block(i, h as u64, &entry.block, entry.hash, &cert)?;
            let block = entry.block.clone();
            self.nodes[i].chain.push(entry);
            self.apply_slots(i, h as u64, &block)?;
        }
        self.out.syncs += 1;
        let tip = self.nodes[i].chain.len() as u64 - 1;
        let hash = self.nodes[i].chain[tip as usize].hash;
        self.input(i, Input::Synced { height: tip, hash });
        Ok(())
    }
}

fn describe_effect(effect: &Effect) -> String {
    match effect {
        Effect::Persist(p) => format!("persist (view {})", p.view()),
        Effect::Broadcast(m) => format!("broadcast {} {:?}/{:?}", m.message.kind(), m.message.view(), m.message.height()),
        Effect::Send { to, message } => format!("send {to} {} {:?}", message.message.kind(), message.message.view()),
        Effect::Commit { height, hash, certificate, .. } => format!("COMMIT h{height} {hash:.8} (view {})", certificate.view),
        Effect::Validate { height, view, proposed_view, hash, .. } => {
            format!("validate h{height} v{view} (proposed in {proposed_view}) {hash:.8}")
        }
        other => format!("{other:?}"),
    }
}
