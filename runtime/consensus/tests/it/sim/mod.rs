//! A deterministic discrete-event simulation of validators running [`Core`].
//!
//! Virtual time, a virtual network (per-message delay within bounds, loss, duplication,
//! reordering, partitions that heal, replays of old messages), crashes that lose
//! everything but the last `Persist` and the committed chain (also in the middle of a
//! batch of effects), and Byzantine validators (at most `f`): an equivocating primary,
//! conflicting votes, absurd views, garbage bytes, silence, twins (two nodes with one
//! key and index), and relays that hand on others' signed blocks with other bytes. Each
//! simulated node plays the node's part: it builds blocks when asked, re-executes them
//! (valid unless malformed or not on its chain), commits, and catches up from a peer when
//! told it is behind. The validators may change at a height ([`Params::replace`]): one is
//! replaced by a new key, whose node follows the chain from the start and joins there. Or
//! every validator is a slot with a backup node, and the runtime's switch rule decides
//! from the evidence in blocks which one is active at each height ([`Params::slots`],
//! [`slots`]).
//!
//! Everything is drawn from one seeded generator and all maps are ordered, so a seed
//! replays exactly. Every run checks:
//! - safety: no two correct validators commit different blocks at one height;
//! - validity: every committed block was built by some node's `Propose`, links to its
//!   parent, and comes with a certificate that passes `CommitCertificate::verify` against
//!   the validators of its height;
//! - memory: no core holds more bytes of early blocks than its budget;
//! - with slots: every correct node computes the same slot records after every height,
//!   and every switch had evidence from a correct proposer;
//! - liveness: once the network heals and crashed nodes restart, every correct
//!   validator commits `heal_heights` more heights within `liveness_ms` of virtual time.

mod network;
mod node;
mod params;
mod slots;

pub use params::{Byzantine, Outcome, Params, Replace, Scripted, SwitchAt};
pub use slots::{Book, BookSets};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use strata_consensus::{Config, Core, FixedValidators, Input, Persisted, SignedMessage, SignerCache, ValidatorSets};
use strata_primitives::rlp::{Decodable, Encodable, Header};
use strata_primitives::{B256, Bytes, CommitCertificate, LocalSigner, ValidatorSet, keccak256};
use strata_testdata::Rng;

/// Chain id of simulated chains.
pub const CHAIN_ID: u64 = 0x5157_0001;

#[derive(Debug, Clone)]
struct Committed {
    hash: B256,
    block: Bytes,
    certificate: Option<CommitCertificate>,
}

struct Node {
    validator: u32,
    key: LocalSigner,
    byzantine: Option<Byzantine>,
    core: Option<Core>,
    incarnation: u64,
    chain: Vec<Committed>,
    persisted: Option<Persisted>,
    timer: u64,
    group: u64,
    /// With slots: the slot state this node computes from its chain.
    book: Option<Arc<Mutex<Book>>>,
}

enum Event {
    Deliver {
        to: usize,
        bytes: Vec<u8>,
    },
    Timer {
        node: usize,
        generation: u64,
        view: u64,
    },
    Build {
        node: usize,
        incarnation: u64,
        height: u64,
        view: u64,
        parent: B256,
    },
    Validate {
        node: usize,
        incarnation: u64,
        height: u64,
        view: u64,
        block: Bytes,
        hash: B256,
    },
    Sync {
        node: usize,
        incarnation: u64,
        peer: u32,
    },
    Crash {
        node: usize,
        restart_after: Option<u64>,
    },
    Restart {
        node: usize,
    },
    Partition {
        mask: u64,
    },
    HealPartition,
    Heal,
    Noise {
        node: usize,
    },
    /// With slots: the node compares its height with what its peers announce.
    Status {
        node: usize,
    },
}

struct World {
    p: Params,
    rng: Rng,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Event>,
    nodes: Vec<Node>,
    sets: Arc<dyn ValidatorSets>,
    /// With slots: the slot state of the decided chain.
    reference: Option<Book>,
    cache: SignerCache,
    decided: BTreeMap<u64, B256>,
    proposed: BTreeSet<B256>,
    verified: BTreeSet<B256>,
    history: Vec<Vec<u8>>,
    healed: bool,
    target: Option<u64>,
    partitioned: bool,
    out: Outcome,
    trace: bool,
    failure: Option<String>,
}

/// Mixes a seed so that neighbouring seeds give unrelated streams (`Rng::new` maps `2k`
/// and `2k + 1` to one state).
pub fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The key of validator `i` in simulated chains.
pub fn key(i: u32) -> LocalSigner {
    let mut secret = [0u8; 32];
    secret[0] = 0x5e;
    secret[28..].copy_from_slice(&(i + 1).to_be_bytes());
    LocalSigner::from_bytes(&B256::from(secret)).expect("valid key")
}

/// The key that replaces validator `i`'s in [`Params::replace`].
pub fn joiner_key(i: u32) -> LocalSigner {
    key(1000 + i)
}

/// The simulated genesis hash.
pub fn genesis() -> B256 {
    keccak256(b"strata sim genesis")
}

/// A simulated block: `rlp([height, view, proposer, nonce, parent])`.
pub fn make_block(height: u64, view: u64, proposer: u32, nonce: u64, parent: B256) -> (Bytes, B256) {
    let fields: [&dyn Encodable; 5] = [&height, &view, &proposer, &nonce, &parent];
    let mut out = Vec::new();
    strata_primitives::rlp::encode_list::<_, dyn Encodable>(&fields, &mut out);
    let hash = keccak256(&out);
    (out.into(), hash)
}

/// Liveness evidence a block carries on a chain with slots: the parent's certificate
/// (none for block 1) and a bit per slot whose sync node's heartbeat is included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The parent's commit certificate.
    pub certificate: Option<CommitCertificate>,
    /// Heartbeats, a bit per slot.
    pub beats: u64,
}

/// A simulated block with evidence: `rlp([height, view, proposer, nonce, parent,
/// rlp(certificate) or empty, beats])`.
pub fn make_block_with(height: u64, view: u64, proposer: u32, nonce: u64, parent: B256, evidence: &Evidence) -> (Bytes, B256) {
    let cert: Bytes = evidence.certificate.as_ref().map(|c| strata_primitives::rlp::encode(c).into()).unwrap_or_default();
    let fields: [&dyn Encodable; 7] = [&height, &view, &proposer, &nonce, &parent, &cert, &evidence.beats];
    let mut out = Vec::new();
    strata_primitives::rlp::encode_list::<_, dyn Encodable>(&fields, &mut out);
    let hash = keccak256(&out);
    (out.into(), hash)
}

/// The evidence of a block made by [`make_block_with`] (`None`: none, or malformed).
pub fn decode_evidence(bytes: &[u8]) -> Option<Evidence> {
    let mut buf = bytes;
    let header = Header::decode(&mut buf).ok()?;
    if !header.list || header.payload_length != buf.len() {
        return None;
    }
    let _ = (u64::decode(&mut buf).ok()?, u64::decode(&mut buf).ok()?, u32::decode(&mut buf).ok()?, u64::decode(&mut buf).ok()?);
    let _parent = B256::decode(&mut buf).ok()?;
    let cert = Bytes::decode(&mut buf).ok()?;
    let beats = u64::decode(&mut buf).ok()?;
    if !buf.is_empty() {
        return None;
    }
    let certificate =
        if cert.is_empty() { None } else { Some(strata_primitives::rlp_item::decode_exact::<CommitCertificate>(&cert).ok()?) };
    Some(Evidence { certificate, beats })
}

/// Decodes a simulated block's height and parent.
pub fn read_block(bytes: &[u8]) -> Option<(u64, B256)> {
    decode_block(bytes).map(|(height, _, _, parent)| (height, parent))
}

/// Decodes a simulated block: its height, the view and proposer it was built by, and its
/// parent.
pub fn decode_block(bytes: &[u8]) -> Option<(u64, u64, u32, B256)> {
    let mut buf = bytes;
    let header = Header::decode(&mut buf).ok()?;
    if !header.list || header.payload_length != buf.len() {
        return None;
    }
    let height = u64::decode(&mut buf).ok()?;
    let view = u64::decode(&mut buf).ok()?;
    let proposer = u32::decode(&mut buf).ok()?;
    let _nonce = u64::decode(&mut buf).ok()?;
    let parent = B256::decode(&mut buf).ok()?;
    if !buf.is_empty() {
        // Evidence (a chain with slots).
        Bytes::decode(&mut buf).ok()?;
        u64::decode(&mut buf).ok()?;
    }
    buf.is_empty().then_some((height, view, proposer, parent))
}

/// The validator set of these keys, in order, with a stable primary (what the
/// hand-written scenarios assume; the sweeps also run round-robin by height).
pub fn set_of(keys: &[LocalSigner]) -> ValidatorSet {
    ValidatorSet::new(keys.iter().map(LocalSigner::address).collect()).with_rotation(strata_consensus::ProposerRotation::Stable)
}

/// A core config for validator `me` under `p`, given the validators' keys (the same at
/// every height).
pub fn config(p: &Params, keys: &[LocalSigner], me: u32) -> Config {
    config_with(p, Arc::new(FixedValidators::new(set_of(keys))), keys[me as usize].clone(), me)
}

/// A core config for validator `me` with `key` under `p`, with the validators of each
/// height from `sets`.
pub fn config_with(p: &Params, sets: Arc<dyn ValidatorSets>, key: LocalSigner, me: u32) -> Config {
    Config {
        chain_id: CHAIN_ID,
        validators: sets,
        me,
        key,
        checkpoint_interval: p.checkpoint_interval,
        window: p.window,
        base_timeout_ms: p.base_timeout_ms,
        max_timeout_ms: p.max_timeout_ms,
        block_hash,
        max_early_block_bytes: p.max_early_block_bytes,
    }
}

/// The simulated node's block hash: `keccak256` of the bytes (any bytes: malformed ones
/// are refused when validated, as the node refuses blocks that do not execute).
pub fn block_hash(bytes: &[u8]) -> Option<B256> {
    Some(keccak256(bytes))
}

/// Runs one simulation.
pub fn run(p: &Params, seed: u64) -> Result<Outcome, String> {
    let mut world = World::new(p.clone(), seed);
    world.main()
}

impl World {
    fn new(p: Params, seed: u64) -> Self {
        let keys: Vec<LocalSigner> = (0..p.n as u32).map(key).collect();
        let set = set_of(&keys).with_rotation(p.rotation);
        let byz: BTreeMap<u32, Byzantine> = p.byzantine.iter().copied().collect();
        let mut nodes = Vec::new();
        for v in 0..p.n as u32 {
            let copies = if byz.get(&v) == Some(&Byzantine::Twins) { 2 } else { 1 };
            for _ in 0..copies {
                nodes.push(Node {
                    validator: v,
                    key: keys[v as usize].clone(),
                    byzantine: byz.get(&v).copied(),
                    core: None,
                    incarnation: 0,
                    chain: vec![Committed { hash: genesis(), block: Bytes::new(), certificate: None }],
                    persisted: None,
                    timer: 0,
                    group: 0,
                    book: None,
                });
            }
        }
        let sets: Arc<dyn ValidatorSets> = match p.replace {
            None => Arc::new(FixedValidators::new(set)),
            Some(Replace { height, validator }) => {
                // The new key's node runs from the start: it follows the chain until it is a
                // validator (the old one's keeps running, and follows from then on).
                let mut after = keys.clone();
                after[validator as usize] = joiner_key(validator);
                nodes.push(Node {
                    validator,
                    key: joiner_key(validator),
                    byzantine: None,
                    core: None,
                    incarnation: 0,
                    chain: vec![Committed { hash: genesis(), block: Bytes::new(), certificate: None }],
                    persisted: None,
                    timer: 0,
                    group: 0,
                    book: None,
                });
                Arc::new(SwitchAt { before: Arc::new(set), after: Arc::new(set_of(&after).with_rotation(p.rotation)), at: height })
            }
        };
        // Validator slots: a backup node per validator, and a slot book per node.
        let reference = p.slots.map(|window| Book::new(p.n, window, p.rotation));
        if let Some(book) = &reference {
            for v in 0..p.n as u32 {
                nodes.push(Node {
                    validator: v,
                    key: joiner_key(v),
                    byzantine: None,
                    core: None,
                    incarnation: 0,
                    chain: vec![Committed { hash: genesis(), block: Bytes::new(), certificate: None }],
                    persisted: None,
                    timer: 0,
                    group: 0,
                    book: None,
                });
            }
            for node in &mut nodes {
                node.book = Some(Arc::new(Mutex::new(book.clone())));
            }
        }
        let trace = std::env::var_os("STRATA_SIM_TRACE").is_some();
        World {
            p,
            rng: Rng::new(mix(seed)),
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            nodes,
            sets,
            reference,
            cache: SignerCache::new(),
            decided: BTreeMap::new(),
            proposed: BTreeSet::new(),
            verified: BTreeSet::new(),
            history: Vec::new(),
            healed: false,
            target: None,
            partitioned: false,
            out: Outcome::default(),
            trace,
            failure: None,
        }
    }

    fn rand(&mut self, below: u64) -> u64 {
        if below == 0 { 0 } else { self.rng.next() % below }
    }

    fn random_hash(&mut self) -> B256 {
        let mut b = [0u8; 32];
        for chunk in b.chunks_mut(8) {
            chunk.copy_from_slice(&self.rng.next().to_be_bytes());
        }
        B256::from(b)
    }

    fn chance(&mut self, per_mille: u64) -> bool {
        per_mille > 0 && self.rand(1000) < per_mille
    }

    fn between(&mut self, (lo, hi): (u64, u64)) -> u64 {
        lo + self.rand(hi.saturating_sub(lo) + 1)
    }

    fn at(&mut self, time: u64, event: Event) {
        self.seq += 1;
        self.queue.insert((time, self.seq), event);
    }

    fn after(&mut self, delay: u64, event: Event) {
        let t = self.now + delay;
        self.at(t, event);
    }

    fn correct(&self, node: usize) -> bool {
        self.nodes[node].byzantine.is_none()
    }

    fn alive(&self, node: usize) -> bool {
        self.nodes[node].core.is_some()
    }

    fn main(&mut self) -> Result<Outcome, String> {
        // Start every node that runs.
        for i in 0..self.nodes.len() {
            if self.nodes[i].byzantine != Some(Byzantine::Crashed) {
                self.start(i);
            }
        }
        // With slots, nodes announce their heights, as the node's sync does: a machine far
        // behind (it misses messages about heights whose validators it cannot know yet)
        // catches up from peers.
        if self.p.slots.is_some() {
            for i in 0..self.nodes.len() {
                let t = self.rand(100);
                self.at(t, Event::Status { node: i });
            }
        }
        // The fault phase.
        let chaos = self.p.chaos_ms;
        for _ in 0..self.p.partitions {
            let t = self.rand(chaos.max(1));
            let mask = self.rng.next() & ((1u64 << self.p.n) - 1);
            self.at(t, Event::Partition { mask });
            let heal = t + 50 + self.rand(chaos.max(1));
            self.at(heal.min(chaos), Event::HealPartition);
        }
        for _ in 0..self.p.crashes {
            let t = self.rand(chaos.max(1));
            let node = self.rand(self.nodes.len() as u64) as usize;
            let down = 10 + self.rand(500);
            self.at(t, Event::Crash { node, restart_after: Some(down) });
        }
        for (t, s) in self.p.script.clone() {
            let event = match s {
                Scripted::Crash(node) => Event::Crash { node, restart_after: None },
                Scripted::Restart(node) => Event::Restart { node },
                Scripted::Partition(mask) => Event::Partition { mask },
                Scripted::Heal => Event::HealPartition,
            };
            self.at(t, event);
        }
        for i in 0..self.nodes.len() {
            if matches!(self.nodes[i].byzantine, Some(Byzantine::AbsurdViews | Byzantine::Garbage)) {
                let t = self.rand(50);
                self.at(t, Event::Noise { node: i });
            }
        }
        self.at(chaos, Event::Heal);
        let deadline = chaos + self.p.liveness_ms;
        while let Some(((time, _), event)) = self.queue.pop_first() {
            if time > deadline {
                break;
            }
            self.now = time;
            self.event(event)?;
            if let Some(failure) = self.failure.take() {
                return Err(failure);
            }
            if let Some(target) = self.target
                && self.done(target)
            {
                self.out.heal_ms = self.now - chaos;
                return Ok(self.finish());
            }
        }
        Err(format!(
            "liveness: correct validators did not reach height {:?} within {} ms after healing; {}",
            self.target,
            self.p.liveness_ms,
            self.describe()
        ))
    }

    fn done(&self, target: u64) -> bool {
        (0..self.nodes.len()).filter(|&i| self.correct(i)).all(|i| self.nodes[i].chain.len() as u64 > target)
    }

    fn describe(&self) -> String {
        let mut s = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let state = match &n.core {
                Some(c) => {
                    format!("h{} v{}{} stable {}", c.height(), c.view(), if c.is_changing_view() { "*" } else { "" }, c.stable_checkpoint())
                }
                None => "down".into(),
            };
            s.push_str(&format!("[node {i} validator {} {:?}: tip {} {state}] ", n.validator, n.byzantine, n.chain.len() - 1));
        }
        s
    }

    fn finish(&mut self) -> Outcome {
        let tips: Vec<u64> = (0..self.nodes.len()).filter(|&i| self.correct(i)).map(|i| self.nodes[i].chain.len() as u64 - 1).collect();
        self.out.min_height = tips.iter().copied().min().unwrap_or(0);
        self.out.max_height = tips.iter().copied().max().unwrap_or(0);
        self.out.stable = self.nodes.iter().map(|n| n.core.as_ref().map_or(0, |c| c.stable_checkpoint())).collect();
        self.out.views = self.nodes.iter().map(|n| n.core.as_ref().map_or(0, |c| c.view())).collect();
        self.out.max_view = (0..self.nodes.len())
            .filter(|&i| self.correct(i))
            .filter_map(|i| self.nodes[i].core.as_ref().map(|c| c.view()))
            .max()
            .unwrap_or(0);
        std::mem::take(&mut self.out)
    }

    fn start(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let tip = node.chain.len() as u64 - 1;
        let committed = (tip, node.chain.last().expect("genesis").hash);
        let sets: Arc<dyn ValidatorSets> = match &node.book {
            Some(book) => Arc::new(BookSets(book.clone())),
            None => self.sets.clone(),
        };
        let config = config_with(&self.p, sets, node.key.clone(), node.validator);
        let mut core = Core::new(config, node.persisted.clone(), committed);
        core.set_signer_cache(self.cache.clone());
        node.core = Some(core);
        node.incarnation += 1;
        self.input(i, Input::Start);
    }

    fn crash(&mut self, i: usize) {
        if self.nodes[i].core.take().is_some() {
            self.nodes[i].incarnation += 1;
            self.nodes[i].timer += 1;
            self.out.crashes += 1;
            if self.trace {
                println!("{:>6} node {i} crashes", self.now);
            }
        }
    }

    fn input(&mut self, i: usize, input: Input) {
        let Some(core) = self.nodes[i].core.as_mut() else { return };
        if self.trace {
            println!("{:>6} node {i} (h{} v{}) <- {}", self.now, core.height(), core.view(), describe_input(&input));
        }
        let effects = core.handle(input);
        let early = core.early_block_bytes();
        if early > self.p.max_early_block_bytes {
            self.failure.get_or_insert(format!("node {i} holds {early} bytes of early blocks, over the budget"));
        }
        self.execute(i, effects);
    }

    fn event(&mut self, event: Event) -> Result<(), String> {
        match event {
            Event::Deliver { to, bytes } => {
                if !self.alive(to) {
                    return Ok(());
                }
                // Garbage is dropped by the node's decoder.
                if let Ok(m) = SignedMessage::decode(&bytes) {
                    if self.nodes[to].byzantine == Some(Byzantine::TamperRelay) {
                        self.tamper_relay(to, &m);
                    }
                    self.input(to, Input::Message(m));
                }
            }
            Event::Timer { node, generation, view } => {
                if self.alive(node) && self.nodes[node].timer == generation {
                    self.input(node, Input::Timeout { view });
                }
            }
            Event::Build { node, incarnation, height, view, parent } => {
                if self.alive(node) && self.nodes[node].incarnation == incarnation {
                    let nonce = self.rng.next();
                    let (block, hash) = self.build_block(node, height, view, nonce, parent);
                    self.proposed.insert(hash);
                    self.input(node, Input::Proposal { height, view, block, hash });
                }
            }
            Event::Validate { node, incarnation, height, view, block, hash } => {
                if self.alive(node) && self.nodes[node].incarnation == incarnation {
                    let chain = &self.nodes[node].chain;
                    let tip = chain.len() as u64 - 1;
                    let parent = chain[tip as usize].hash;
                    let valid = keccak256(&block) == hash
                        && read_block(&block).is_some_and(|(h, p)| h == height && tip + 1 == height && p == parent)
                        && self.evidence_valid(node, height, parent, &block);
                    self.input(node, Input::Validated { height, view, hash, valid });
                }
            }
            Event::Sync { node, incarnation, peer } => {
                if self.alive(node) && self.nodes[node].incarnation == incarnation {
                    self.sync(node, peer)?;
                }
            }
            Event::Crash { node, restart_after } => {
                if node < self.nodes.len() && !self.healed {
                    self.crash(node);
                    if let Some(d) = restart_after {
                        self.after(d, Event::Restart { node });
                    }
                }
            }
            Event::Restart { node } => {
                if node < self.nodes.len() && !self.alive(node) && self.nodes[node].byzantine != Some(Byzantine::Crashed) {
                    self.start(node);
                }
            }
            Event::Partition { mask } => {
                if !self.healed {
                    self.partitioned = true;
                    for n in &mut self.nodes {
                        n.group = (mask >> n.validator) & 1;
                    }
                    // Twins may be split across the partition.
                    for i in 0..self.nodes.len() {
                        if self.nodes[i].byzantine == Some(Byzantine::Twins) && self.rand(2) == 0 {
                            self.nodes[i].group ^= 1;
                        }
                    }
                }
            }
            Event::HealPartition => self.partitioned = false,
            Event::Status { node } => {
                if self.alive(node) {
                    self.catch_up(node)?;
                }
                let d = 100 + self.rand(100);
                self.after(d, Event::Status { node });
            }
            Event::Heal => self.heal(),
            Event::Noise { node } => {
                self.noise(node);
                if !self.healed || self.nodes[node].byzantine.is_some() {
                    let d = 20 + self.rand(80);
                    self.after(d, Event::Noise { node });
                }
            }
        }
        Ok(())
    }

    fn heal(&mut self) {
        self.healed = true;
        self.partitioned = false;
        for i in 0..self.nodes.len() {
            if !self.alive(i) && self.nodes[i].byzantine != Some(Byzantine::Crashed) {
                self.start(i);
            }
        }
        let top = (0..self.nodes.len()).filter(|&i| self.correct(i)).map(|i| self.nodes[i].chain.len() as u64 - 1).max().unwrap_or(0);
        self.target = Some(top + self.p.heal_heights);
        self.out.height_at_heal = top;
        if self.trace {
            println!("{:>6} healed; target height {}", self.now, top + self.p.heal_heights);
        }
    }

    fn reachable(&self, a: usize, b: usize) -> bool {
        !self.partitioned || self.nodes[a].group == self.nodes[b].group
    }
}

fn describe_input(input: &Input) -> String {
    match input {
        Input::Message(m) => format!("{} from {} {:?}/{:?}", m.message.kind(), m.from, m.message.view(), m.message.height()),
        Input::Proposal { height, view, hash, .. } => format!("proposal h{height} v{view} {hash:.8}"),
        Input::Validated { height, view, hash, valid } => format!("validated h{height} v{view} {hash:.8} {valid}"),
        other => format!("{other:?}"),
    }
}
