//! What travels between simulated nodes: sending (as a faulty validator would), the
//! lossy network, and a faulty validator's unsolicited traffic.

use super::{Byzantine, CHAIN_ID, Event, World, make_block, read_block};
use strata_consensus::{Checkpoint, Message, PrePrepare, SignedMessage, ViewChange, Vote};
use strata_primitives::{B256, Bytes, keccak256};

impl World {
    pub(super) fn send(&mut self, from: usize, to: Option<u32>, m: SignedMessage) {
        let byz = self.nodes[from].byzantine;
        if byz == Some(Byzantine::Silent) {
            return;
        }
        let me = self.nodes[from].validator;
        let recipients: Vec<usize> =
            (0..self.nodes.len()).filter(|&j| self.nodes[j].validator != me && to.is_none_or(|t| self.nodes[j].validator == t)).collect();
        // An equivocating primary's two blocks for a view, so that a peer can get both.
        let mut pair: Option<(SignedMessage, SignedMessage)> = None;
        for j in recipients {
            if let (Some(Byzantine::Equivocate), Message::PrePrepare(p)) = (byz, &m.message) {
                let other = match &pair {
                    Some((_, o)) => o.clone(),
                    None => {
                        let o = self.alternative(from, p);
                        pair = Some((m.clone(), o.clone()));
                        o
                    }
                };
                let (first, second) = if self.rand(2) == 0 { (m.clone(), other) } else { (other, m.clone()) };
                self.transmit(from, j, first.encode(), 0);
                if self.rand(2) == 0 {
                    // The other one too, later: a correct peer must never vote for both,
                    // even across a restart.
                    let later = 20 + self.rand(300);
                    self.transmit(from, j, second.encode(), later);
                }
                continue;
            }
            if let (Some(Byzantine::Equivocate), Message::NewView(nv)) = (byz, &m.message)
                && !nv.pre_prepares.is_empty()
                && self.rand(2) == 0
            {
                // A new view that drops what it must re-propose, and fresh blocks for those
                // heights instead: correct nodes refuse the new view, hence the blocks.
                let mut bad = nv.clone();
                let dropped = std::mem::take(&mut bad.pre_prepares);
                let key = self.nodes[from].key.clone();
                self.transmit(from, j, SignedMessage::sign(me, Message::NewView(bad), &key, CHAIN_ID).expect("sign").encode(), 0);
                for r in dropped {
                    let parent = self.nodes[from].chain.get(r.height as usize - 1).map_or(B256::ZERO, |c| c.hash);
                    let nonce = self.rng.next();
                    let (block, hash) = self.build_block(from, r.height, nv.view, nonce, parent);
                    self.proposed.insert(hash);
                    let fresh = PrePrepare { view: nv.view, height: r.height, hash, block, parent: None };
                    self.transmit(from, j, SignedMessage::sign(me, Message::PrePrepare(fresh), &key, CHAIN_ID).expect("sign").encode(), 1);
                }
                continue;
            }
            let message = match (byz, &m.message) {
                (Some(Byzantine::ConflictingVotes), Message::Prepare(v) | Message::Commit(v)) if self.rand(2) == 0 => {
                    let other = Vote { hash: self.random_hash(), ..*v };
                    let message = if matches!(m.message, Message::Prepare(_)) { Message::Prepare(other) } else { Message::Commit(other) };
                    SignedMessage::sign(me, message, &self.nodes[from].key, CHAIN_ID).expect("sign")
                }
                (Some(Byzantine::ConflictingVotes), Message::ViewChange(vc)) if self.rand(2) == 0 => {
                    // A view change that hides what it prepared and committed.
                    let lie = ViewChange { prepared: Vec::new(), committed: None, ..vc.clone() };
                    SignedMessage::sign(me, Message::ViewChange(lie), &self.nodes[from].key, CHAIN_ID).expect("sign")
                }
                (Some(Byzantine::ConflictingVotes), Message::Checkpoint(c)) if self.rand(2) == 0 => {
                    let lie = Checkpoint { hash: self.random_hash(), ..*c };
                    SignedMessage::sign(me, Message::Checkpoint(lie), &self.nodes[from].key, CHAIN_ID).expect("sign")
                }
                _ => m.clone(),
            };
            self.transmit(from, j, message.encode(), 0);
        }
    }

    /// Another pre-prepare for the same view and height, signed by the (faulty) primary:
    /// a valid block, or a malformed one every correct node finds invalid.
    fn alternative(&mut self, from: usize, p: &PrePrepare) -> SignedMessage {
        let me = self.nodes[from].validator;
        let (block, hash) = if self.rand(3) == 0 {
            let junk: Vec<u8> = (0..1 + self.rand(40)).map(|_| self.rng.next() as u8).collect();
            let hash = keccak256(&junk);
            (Bytes::from(junk), hash)
        } else {
            let nonce = self.rng.next();
            let parent = read_block(&p.block).map_or(B256::ZERO, |(_, parent)| parent);
            let (block, hash) = self.build_block(from, p.height, p.view, nonce, parent);
            self.proposed.insert(hash);
            (block, hash)
        };
        let alt = PrePrepare { hash, block, ..p.clone() };
        SignedMessage::sign(me, Message::PrePrepare(alt), &self.nodes[from].key, CHAIN_ID).expect("sign")
    }

    /// A faulty relay hands a block it received on to everyone else at once, with other
    /// bytes (the signature covers the hash, not the bytes, so it still verifies).
    pub(super) fn tamper_relay(&mut self, i: usize, m: &SignedMessage) {
        let me = self.nodes[i].validator;
        if m.from == me {
            return;
        }
        let mut m = m.clone();
        match &mut m.message {
            Message::PrePrepare(p) if !p.block.is_empty() => p.block = self.tamper(&p.block),
            Message::NewView(nv) if nv.pre_prepares.iter().any(|r| !r.block.is_empty()) => {
                for r in nv.pre_prepares.iter_mut().filter(|r| !r.block.is_empty()) {
                    r.block = self.tamper(&r.block);
                }
            }
            _ => return,
        }
        let bytes = m.encode();
        for j in 0..self.nodes.len() {
            if self.nodes[j].validator != me && self.nodes[j].validator != m.from {
                self.transmit(i, j, bytes.clone(), 0);
            }
        }
    }

    /// Other bytes for `block`: another well-formed block at its height on its parent
    /// (which no node proposed: committing it fails the validity check), a flipped bit,
    /// or a cut.
    fn tamper(&mut self, block: &Bytes) -> Bytes {
        match (self.rand(3), read_block(block)) {
            (0, Some((height, parent))) => {
                let nonce = self.rng.next();
                make_block(height, self.rand(8), self.rand(8) as u32, nonce, parent).0
            }
            (1, _) | (0, None) => {
                let mut b = block.to_vec();
                let k = self.rand(b.len() as u64) as usize;
                b[k] ^= 1 << self.rand(8);
                b.into()
            }
            _ => block.slice(..self.rand(block.len() as u64) as usize),
        }
    }

    fn transmit(&mut self, from: usize, to: usize, bytes: Vec<u8>, extra_delay: u64) {
        self.out.messages += 1;
        if !self.reachable(from, to) {
            return;
        }
        if !self.healed && self.chance(self.p.drop_per_mille) {
            return;
        }
        let copies = if !self.healed && self.chance(self.p.dup_per_mille) { 2 } else { 1 };
        for _ in 0..copies {
            let d = self.between(self.p.delay_ms) + extra_delay;
            self.after(d, Event::Deliver { to, bytes: bytes.clone() });
        }
        if !self.healed && self.chance(self.p.replay_per_mille) && !self.history.is_empty() {
            let k = self.rand(self.history.len() as u64) as usize;
            let old = self.history[k].clone();
            let target = self.rand(self.nodes.len() as u64) as usize;
            let d = self.between(self.p.delay_ms);
            self.after(d, Event::Deliver { to: target, bytes: old });
        }
        if self.history.len() < 512 {
            self.history.push(bytes);
        } else {
            let k = self.rand(512) as usize;
            self.history[k] = bytes;
        }
    }

    /// Unsolicited traffic from a faulty validator.
    pub(super) fn noise(&mut self, i: usize) {
        if !self.alive(i) {
            return;
        }
        let me = self.nodes[i].validator;
        let key = self.nodes[i].key.clone();
        let (height, view) = self.nodes[i].core.as_ref().map_or((1, 0), |c| (c.height(), c.view()));
        let to = self.rand(self.nodes.len() as u64) as usize;
        if self.nodes[to].validator == me {
            return;
        }
        let bytes = match self.nodes[i].byzantine {
            Some(Byzantine::AbsurdViews) => {
                let absurd = [u64::MAX, u64::MAX - 1, view + 1_000_000_000, 1 << 63][self.rand(4) as usize];
                let hash = B256::repeat_byte(self.rand(256) as u8);
                let message = match self.rand(5) {
                    0 => Message::Prepare(Vote { view: absurd, height, hash }),
                    1 => Message::Commit(Vote { view: absurd, height: height + self.rand(3), hash }),
                    2 => Message::Prepare(Vote { view, height: absurd, hash }),
                    3 => Message::ViewChange(ViewChange {
                        view: absurd,
                        height: absurd,
                        prepared: Vec::new(),
                        checkpoint: None,
                        committed: None,
                    }),
                    _ => Message::PrePrepare(PrePrepare { view: absurd, height, hash, block: Bytes::new(), parent: None }),
                };
                SignedMessage::sign(me, message, &key, CHAIN_ID).expect("sign").encode()
            }
            _ => {
                if !self.history.is_empty() && self.rand(2) == 0 {
                    let k = self.rand(self.history.len() as u64) as usize;
                    let mut b = self.history[k].clone();
                    if !b.is_empty() {
                        let k = self.rand(b.len() as u64) as usize;
                        b[k] ^= 1 << self.rand(8);
                    }
                    b
                } else {
                    let len = self.rand(300) as usize;
                    (0..len).map(|_| self.rng.next() as u8).collect()
                }
            }
        };
        self.transmit(i, to, bytes, 0);
    }
}
