//! A deterministic discrete-event simulation of validators running [`Core`].
//!
//! Virtual time, a virtual network (per-message delay within bounds, loss, duplication,
//! reordering, partitions that heal, replays of old messages), crashes that lose
//! everything but the last `Persist` and the committed chain (also in the middle of a
//! batch of effects), and Byzantine validators (at most `f`): an equivocating primary,
//! conflicting votes, absurd views, garbage bytes, silence, twins (two nodes with one
//! key and index), and relays that hand on others' signed blocks with other bytes. Each simulated node plays the node's part: it builds blocks
//! when asked, re-executes them (valid unless malformed or not on its chain), commits,
//! and catches up from a peer when told it is behind.
//!
//! Everything is drawn from one seeded generator and all maps are ordered, so a seed
//! replays exactly. Every run checks:
//! - safety: no two correct validators commit different blocks at one height;
//! - validity: every committed block was built by some node's `Propose`, links to its
//!   parent, and comes with a certificate that passes `CommitCertificate::verify`;
//! - memory: no core holds more bytes of early blocks than its budget;
//! - liveness: once the network heals and crashed nodes restart, every correct
//!   validator commits `heal_heights` more heights within `liveness_ms` of virtual time.

use std::collections::{BTreeMap, BTreeSet};
use strata_consensus::{
    Checkpoint, Config, Core, DEFAULT_MAX_EARLY_BLOCK_BYTES, Effect, Input, Message, Persisted, PrePrepare, SignedMessage, SignerCache,
    ViewChange, Vote,
};
use strata_primitives::rlp::{Decodable, Encodable, Header};
use strata_primitives::{B256, Bytes, CommitCertificate, LocalSigner, ValidatorSet, keccak256};
use strata_testdata::Rng;

/// Chain id of simulated chains.
pub const CHAIN_ID: u64 = 0x5157_0001;

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
        ];
        let mut who: Vec<u32> = (0..n as u32).collect();
        for _ in 0..faulty {
            let i = (rng.next() % who.len() as u64) as usize;
            let v = who.swap_remove(i);
            p.byzantine.push((v, behaviours[(rng.next() % behaviours.len() as u64) as usize]));
        }
        p.byzantine.sort();
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
}

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
}

enum Event {
    Deliver { to: usize, bytes: Vec<u8> },
    Timer { node: usize, generation: u64, view: u64 },
    Answer { node: usize, incarnation: u64, input: Input },
    Validate { node: usize, incarnation: u64, height: u64, view: u64, block: Bytes, hash: B256 },
    Sync { node: usize, incarnation: u64, peer: u32 },
    Crash { node: usize, restart_after: Option<u64> },
    Restart { node: usize },
    Partition { mask: u64 },
    HealPartition,
    Heal,
    Noise { node: usize },
}

struct World {
    p: Params,
    rng: Rng,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Event>,
    nodes: Vec<Node>,
    set: ValidatorSet,
    cache: SignerCache,
    decided: BTreeMap<u64, B256>,
    proposed: BTreeSet<B256>,
    verified: BTreeSet<B256>,
    keys: Vec<LocalSigner>,
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

/// Decodes a simulated block's height and parent.
pub fn read_block(bytes: &[u8]) -> Option<(u64, B256)> {
    let mut buf = bytes;
    let header = Header::decode(&mut buf).ok()?;
    if !header.list || header.payload_length != buf.len() {
        return None;
    }
    let height = u64::decode(&mut buf).ok()?;
    let _view = u64::decode(&mut buf).ok()?;
    let _proposer = u32::decode(&mut buf).ok()?;
    let _nonce = u64::decode(&mut buf).ok()?;
    let parent = B256::decode(&mut buf).ok()?;
    buf.is_empty().then_some((height, parent))
}

/// A core config for validator `me` under `p`, given the validators' keys.
pub fn config(p: &Params, keys: &[LocalSigner], me: u32) -> Config {
    Config {
        chain_id: CHAIN_ID,
        validators: ValidatorSet::new(keys.iter().map(LocalSigner::address).collect()),
        me,
        key: keys[me as usize].clone(),
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
        let set = ValidatorSet::new(keys.iter().map(LocalSigner::address).collect());
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
                });
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
            set,
            cache: SignerCache::new(),
            decided: BTreeMap::new(),
            proposed: BTreeSet::new(),
            verified: BTreeSet::new(),
            keys,
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
        let mut core = Core::new(config(&self.p, &self.keys, node.validator), node.persisted.clone(), committed);
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
            Event::Answer { node, incarnation, input } => {
                if self.alive(node) && self.nodes[node].incarnation == incarnation {
                    self.input(node, input);
                }
            }
            Event::Validate { node, incarnation, height, view, block, hash } => {
                if self.alive(node) && self.nodes[node].incarnation == incarnation {
                    let chain = &self.nodes[node].chain;
                    let tip = chain.len() as u64 - 1;
                    let valid = keccak256(&block) == hash
                        && read_block(&block)
                            .is_some_and(|(h, parent)| h == height && tip + 1 == height && parent == chain[tip as usize].hash);
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

    fn execute(&mut self, i: usize, effects: Vec<Effect>) {
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
                    let nonce = self.rng.next();
                    let (block, hash) = make_block(height, view, self.nodes[i].validator, nonce, parent);
                    self.proposed.insert(hash);
                    let incarnation = self.nodes[i].incarnation;
                    let d = self.between(self.p.build_ms);
                    self.after(d, Event::Answer { node: i, incarnation, input: Input::Proposal { height, view, block, hash } });
                }
                Effect::Validate { height, view, block, hash } => {
                    let incarnation = self.nodes[i].incarnation;
                    let d = 1 + self.rand(10);
                    self.after(d, Event::Validate { node: i, incarnation, height, view, block, hash });
                }
                Effect::Commit { height, block, hash, certificate } => {
                    if let Err(e) = self.commit(i, height, block, hash, certificate) {
                        self.failure.get_or_insert(e);
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
            certificate.verify(&self.set, CHAIN_ID).map_err(|e| format!("node {i}: certificate at {height} does not verify: {e}"))?;
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
                }
            }
        }
        Ok(())
    }

    fn commit(&mut self, i: usize, height: u64, block: Bytes, hash: B256, certificate: CommitCertificate) -> Result<(), String> {
        self.check_block(i, height, &block, hash, &certificate)?;
        self.nodes[i].chain.push(Committed { hash, block, certificate: Some(certificate) });
        Ok(())
    }

    fn reachable(&self, a: usize, b: usize) -> bool {
        !self.partitioned || self.nodes[a].group == self.nodes[b].group
    }

    fn sync(&mut self, i: usize, peer: u32) -> Result<(), String> {
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
            self.nodes[i].chain.push(entry);
        }
        self.out.syncs += 1;
        let tip = self.nodes[i].chain.len() as u64 - 1;
        let hash = self.nodes[i].chain[tip as usize].hash;
        self.input(i, Input::Synced { height: tip, hash });
        Ok(())
    }

    fn send(&mut self, from: usize, to: Option<u32>, m: SignedMessage) {
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
                    let (block, hash) = make_block(r.height, nv.view, me, nonce, parent);
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
            let (block, hash) = make_block(p.height, p.view, me, nonce, parent);
            self.proposed.insert(hash);
            (block, hash)
        };
        let alt = PrePrepare { hash, block, ..p.clone() };
        SignedMessage::sign(me, Message::PrePrepare(alt), &self.nodes[from].key, CHAIN_ID).expect("sign")
    }

    /// A faulty relay hands a block it received on to everyone else at once, with other
    /// bytes (the signature covers the hash, not the bytes, so it still verifies).
    fn tamper_relay(&mut self, i: usize, m: &SignedMessage) {
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
    fn noise(&mut self, i: usize) {
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

fn describe_input(input: &Input) -> String {
    match input {
        Input::Message(m) => format!("{} from {} {:?}/{:?}", m.message.kind(), m.from, m.message.view(), m.message.height()),
        Input::Proposal { height, view, hash, .. } => format!("proposal h{height} v{view} {hash:.8}"),
        Input::Validated { height, view, hash, valid } => format!("validated h{height} v{view} {hash:.8} {valid}"),
        other => format!("{other:?}"),
    }
}

fn describe_effect(effect: &Effect) -> String {
    match effect {
        Effect::Persist(p) => format!("persist (view {})", p.view()),
        Effect::Broadcast(m) => format!("broadcast {} {:?}/{:?}", m.message.kind(), m.message.view(), m.message.height()),
        Effect::Send { to, message } => format!("send {to} {} {:?}", message.message.kind(), message.message.view()),
        Effect::Commit { height, hash, certificate, .. } => format!("COMMIT h{height} {hash:.8} (view {})", certificate.view),
        Effect::Validate { height, view, hash, .. } => format!("validate h{height} v{view} {hash:.8}"),
        other => format!("{other:?}"),
    }
}
