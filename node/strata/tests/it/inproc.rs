//! Validator networks in one process: real drivers and chains (in-memory storage) over
//! the in-memory transport, with Byzantine behaviour injected in a validator's
//! transport. Seconds, not minutes, and no ports.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use strata_chain::{Chain, ChainConfig, ChainSpec, FeeRecipient, StorageClass};
use strata_network::{Transport, mem::MemHub};
use strata_node::{
    certify::Certifier,
    validator::{self, Clock, DriverConfig, RuntimeClock, SystemClock},
    wire::Wire,
};
use strata_primitives::{FixedValidators, LocalSigner, ValidatorSet, keccak256};
use strata_storage::MemKv;
use tokio::sync::watch;

const CHAIN_ID: u64 = 4343;

fn key(i: u32) -> LocalSigner {
    LocalSigner::from_bytes(&keccak256(format!("strata/inproc/validator/{i}"))).unwrap()
}

fn spec(n: u32) -> ChainSpec {
    let mut spec = ChainSpec::dev(CHAIN_ID);
    spec.fee_recipients = (0..n).map(|i| FeeRecipient { address: key(i).address(), storage_class: StorageClass::Nvme }).collect();
    spec.validators = ValidatorSet::new((0..n).map(|i| key(i).address()).collect());
    spec
}

/// A transport that lies about its height and never answers sync requests: it drops
/// every sync response its validator sends, and (from a task) announces
/// `Status(u64::MAX)` to everyone every 20 ms.
struct Liar {
    inner: Arc<dyn Transport>,
}

impl Transport for Liar {
    fn send(&self, to: u32, payload: Vec<u8>) {
        if !matches!(Wire::decode(&payload, CHAIN_ID), Some(Wire::SyncResponse(_))) {
            self.inner.send(to, payload);
        }
    }
    fn broadcast(&self, payload: Vec<u8>) {
        if !matches!(Wire::decode(&payload, CHAIN_ID), Some(Wire::SyncResponse(_))) {
            self.inner.broadcast(payload);
        }
    }
    fn connected(&self) -> Vec<u32> {
        self.inner.connected()
    }
}

/// A transport that loses and delays messages, deterministically for a seed: each
/// message is dropped with probability `drop_per_mille`/1000, else delivered after
/// 0..`max_delay_ms` (so messages overtake each other).
struct Noisy {
    inner: Arc<dyn Transport>,
    rng: parking_lot::Mutex<strata_testdata::Rng>,
    drop_per_mille: u64,
    max_delay_ms: u64,
}

impl Noisy {
    fn deliver(&self, to: Option<u32>, payload: Vec<u8>) {
        let (drop, delay) = {
            let mut rng = self.rng.lock();
            (rng.next() % 1000 < self.drop_per_mille, rng.next() % self.max_delay_ms.max(1))
        };
        if drop {
            return;
        }
        let inner = self.inner.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            match to {
                Some(to) => inner.send(to, payload),
                None => inner.broadcast(payload),
            }
        });
    }
}

impl Transport for Noisy {
    fn send(&self, to: u32, payload: Vec<u8>) {
        self.deliver(Some(to), payload);
    }
    fn broadcast(&self, payload: Vec<u8>) {
        self.deliver(None, payload);
    }
    fn connected(&self) -> Vec<u32> {
        self.inner.connected()
    }
}

struct Net {
    hub: MemHub,
    chains: Vec<Arc<Chain>>,
    certifiers: Vec<Arc<Certifier>>,
    shutdown: watch::Sender<bool>,
}

impl Net {
    fn height(&self, i: usize) -> u64 {
        self.chains[i].head().1.number
    }

    async fn wait(&self, what: &str, within: Duration, mut done: impl FnMut(&Net) -> bool) {
        let deadline = Instant::now() + within;
        while !done(self) {
            let heights: Vec<u64> = (0..self.chains.len()).map(|i| self.height(i)).collect();
            assert!(Instant::now() < deadline, "{what} not within {within:?}; heights {heights:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `n` validators; `liar` (if any) runs behind a [`Liar`] transport; validators in
/// `late` start cut off from the network.
fn start(n: u32, liar: Option<u32>, late: &[u32]) -> Net {
    start_with(n, liar, late, None, Arc::new(SystemClock))
}

/// [`start`], every validator's transport made [`Noisy`] with `noise` = (seed,
/// drop per mille, max delay ms) if given, blocks stamped by `clock`.
fn start_with(n: u32, liar: Option<u32>, late: &[u32], noise: Option<(u64, u64, u64)>, clock: Arc<dyn Clock>) -> Net {
    let (hub, inboxes) = MemHub::new(n);
    let (shutdown, rx) = watch::channel(false);
    let set = ValidatorSet::new((0..n).map(|i| key(i).address()).collect());
    let mut chains = Vec::new();
    let mut certifiers = Vec::new();
    for (i, inbox) in inboxes.into_iter().enumerate() {
        let i = i as u32;
        if late.contains(&i) {
            hub.set_cut(i, true);
        }
        let chain = Chain::open(MemKv::shared(), MemKv::shared(), spec(n), key(i).address(), ChainConfig::default()).unwrap();
        let endpoint: Arc<dyn Transport> = Arc::new(hub.endpoint(i));
        let transport: Arc<dyn Transport> = if liar == Some(i) {
            let spam = endpoint.clone();
            let mut stop = rx.clone();
            tokio::spawn(async move {
                loop {
                    spam.broadcast(Wire::Status(u64::MAX).encode(CHAIN_ID));
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                        _ = stop.changed() => return,
                    }
                }
            });
            Arc::new(Liar { inner: endpoint })
        } else {
            endpoint
        };
        let transport: Arc<dyn Transport> = match noise {
            Some((seed, drop_per_mille, max_delay_ms)) => Arc::new(Noisy {
                inner: transport,
                rng: parking_lot::Mutex::new(strata_testdata::Rng::new(seed.wrapping_add(u64::from(i)))),
                drop_per_mille,
                max_delay_ms,
            }),
            None => transport,
        };
        let certifier = Certifier::new(chain.clone(), key(i), i, transport.clone(), transport.clone());
        let config = DriverConfig {
            validator_sets: Arc::new(FixedValidators::new(set.clone())),
            peers: n as usize,
            me: i,
            key: key(i),
            block_time: Duration::from_millis(20),
            empty_block_after: Some(Duration::from_millis(40)),
            view_timeout_ms: 1_000,
            clock: clock.clone(),
            slots: None,
            certifier: Some(certifier.clone()),
        };
        tokio::spawn(validator::run(chain.clone(), transport, inbox, config, rx.clone()));
        chains.push(chain);
        certifiers.push(certifier);
    }
    Net { hub, chains, certifiers, shutdown }
}

/// Moves a paused tokio clock on, 1 ms at a time, once every ready task has run and no
/// chain has work queued or running on its execution threads: virtual time never passes
/// while a block executes, so every timer (block time, view change, the network's
/// delays) fires at the same virtual moment whatever the machine's speed.
fn drive_the_clock(chains: Vec<Arc<Chain>>, stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        while !*stop.borrow() {
            for _ in 0..16 {
                tokio::task::yield_now().await;
            }
            if chains.iter().all(|c| c.pools().is_idle()) {
                tokio::time::advance(Duration::from_millis(1)).await;
            }
        }
    });
}

/// Four real drivers (chains, execution threads, consensus core) over an in-memory
/// network that loses 5% of messages and reorders the rest by up to 30 ms, chosen by a
/// seed (printed; replay with `STRATA_SEED`), on a paused clock that moves only when
/// all are idle (virtual time; blocks stamped from it): they commit the same chain.
#[test]
fn n4_real_drivers_over_a_lossy_reordering_network_commit_the_same_chain() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    runtime.block_on(async {
        let _serial = crate::exclusive().await;
        let (_, seed) = strata_testdata::Rng::from_env(0x5eed_0001);
        let clock = Arc::new(RuntimeClock::new(1_700_000_000));
        let net = start_with(4, None, &[], Some((seed, 50, 30)), clock.clone());
        drive_the_clock(net.chains.clone(), net.shutdown.subscribe());
        let started = tokio::time::Instant::now();
        net.wait(&format!("all four reach height 15 (seed {seed})"), Duration::from_secs(60), |n| (0..4).all(|i| n.height(i) >= 15)).await;
        println!("seed {seed}: height 15 after {:?} of virtual time", started.elapsed());
        for h in 1..=15 {
            let headers: Vec<_> = net.chains.iter().map(|c| c.store().header(h).unwrap()).collect();
            let hashes: Vec<_> = headers.iter().map(|x| x.as_ref().map(|x| x.hash_slow())).collect();
            assert!(hashes.windows(2).all(|w| w[0] == w[1]), "seed {seed}, height {h}: {hashes:?}");
            // Stamped from the virtual clock, not the machine's.
            let stamp = headers[0].as_ref().unwrap().timestamp;
            assert!((1_700_000_000..1_700_000_000 + 600).contains(&stamp), "seed {seed}, height {h}: timestamp {stamp}");
        }
        let _ = net.shutdown.send(true);
    });
}

/// A validator that was away catches up by sync although one peer announces
/// `u64::MAX` every 20 ms and never answers a sync request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n4_f1_liar_spamming_status_cannot_keep_a_lagging_node_from_catching_up() {
    let _serial = crate::exclusive().await;
    let net = start(4, Some(3), &[2]);
    // 0, 1 and the liar (an honest voter) make progress without 2.
    net.wait("validators 0, 1, 3 reach height 30", Duration::from_secs(60), |n| n.height(0) >= 30).await;
    assert_eq!(net.height(2), 0);
    net.hub.set_cut(2, false);
    let started = Instant::now();
    net.wait("validator 2 catches up", Duration::from_secs(30), |n| n.height(2) >= 30).await;
    println!("validator 2 synced 30 blocks in {:?} despite the liar", started.elapsed());
    // And takes part afterwards: the chain moves on with everyone at the same blocks.
    let target = net.height(0) + 5;
    net.wait("the chain moves on", Duration::from_secs(30), |n| (0..4).all(|i| n.height(i) >= target)).await;
    for h in 1..=target {
        let hashes: Vec<_> = net.chains.iter().map(|c| c.store().header(h).unwrap().map(|x| x.hash_slow())).collect();
        assert!(hashes.windows(2).all(|w| w[0] == w[1]), "height {h}: {hashes:?}");
    }
    let _ = net.shutdown.send(true);
}

/// A peer's gossip goes through the same limits as a client's transaction: an oversized
/// one is dropped, a flood of garbage waits in a bounded queue (half of admission's, the
/// other half kept for this node's clients) and is dropped beyond it, and a valid
/// transaction afterwards is pooled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n2_gossiped_transactions_meet_the_size_limit_and_bounded_admission() {
    let _machine = crate::share().await;
    let (hub, mut inboxes) = MemHub::new(2);
    let (shutdown, rx) = watch::channel(false);
    let chain = Chain::open(MemKv::shared(), MemKv::shared(), spec(2), key(0).address(), ChainConfig::default()).unwrap();
    let config = DriverConfig {
        validator_sets: Arc::new(FixedValidators::new(ValidatorSet::new(vec![key(0).address(), key(1).address()]))),
        peers: 2,
        me: 0,
        key: key(0),
        block_time: Duration::from_millis(20),
        empty_block_after: None,
        view_timeout_ms: 60_000,
        clock: Arc::new(SystemClock),
        slots: None,
        certifier: None,
    };
    let inbox = inboxes.remove(0);
    tokio::spawn(validator::run(chain.clone(), Arc::new(hub.endpoint(0)), inbox, config, rx));
    let peer = hub.endpoint(1);
    let alice = strata_node::dev_accounts().unwrap()[0].signer.clone();
    let tx = |nonce: u64, data: Vec<u8>| {
        let t = strata_primitives::transaction::build::eip1559(
            CHAIN_ID,
            nonce,
            strata_primitives::TxKind::Call(strata_primitives::Address::repeat_byte(3)),
            strata_primitives::U256::ZERO,
            data.into(),
            3_000_000,
            3_000_000_000,
            0,
        );
        alice.sign_transaction(t).unwrap().encoded()
    };
    // Oversized (a valid signature, 200 KiB of data): dropped, never pooled.
    peer.send(0, Wire::Tx(tx(0, vec![0; 200 * 1024])).encode(CHAIN_ID));
    // A flood of garbage: the admission queue stays within its half.
    let admission = &chain.pools().admission;
    let mut peak = 0;
    for i in 0..20_000u32 {
        peer.send(0, Wire::Tx(i.to_be_bytes().repeat(100).into()).encode(CHAIN_ID));
        if i % 100 == 0 {
            peak = peak.max(admission.queued());
            tokio::task::yield_now().await;
        }
    }
    // A valid one is pooled once the flood has drained.
    let deadline = Instant::now() + Duration::from_secs(30);
    let good = tx(0, Vec::new());
    let hash = strata_primitives::keccak256(&good);
    while chain.pooled(&hash).is_none() {
        peer.send(0, Wire::Tx(good.clone()).encode(CHAIN_ID));
        peak = peak.max(admission.queued());
        assert!(Instant::now() < deadline, "the valid gossiped transaction was never pooled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("admission queue peak {peak} of {}", admission.capacity());
    assert!(peak <= admission.capacity() / 2, "peak {peak}");
    assert_eq!(chain.pool_len(), 1, "only the valid transaction is pooled");
    let _ = shutdown.send(true);
}

/// A transfer from dev account `account`, signed for the test chain.
fn transfer(account: usize, nonce: u64, value: u64) -> strata_primitives::Bytes {
    crate::dev_transfer(CHAIN_ID, account, nonce, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n4_storage_certificate_from_any_validator_then_inclusion_and_one_per_nonce() {
    use strata_rpc::CertifyFailure;
    let _machine = crate::share().await;
    let net = start(4, None, &[]);
    net.wait("first blocks", Duration::from_secs(30), |n| (0..4).all(|i| n.height(i) >= 2)).await;
    let set = ValidatorSet::new((0..4).map(|i| key(i).address()).collect());

    // Certified through validator 2: a quorum of signatures over the claim, each
    // validator having journaled it; then the chain includes it.
    let cert = net.certifiers[2].certify(transfer(0, 0, 7)).await.unwrap();
    cert.verify(&set, CHAIN_ID).unwrap();
    assert!(cert.signatures.len() >= 3 && cert.signatures.iter().any(|s| s.validator == 2));
    assert_eq!(cert.claim.expiry, cert.claim.height + strata_chain::DEFAULT_CERTIFIED_EXPIRY);
    let hash = cert.claim.tx_hash;
    net.wait("inclusion everywhere", Duration::from_secs(30), |n| n.chains.iter().all(|c| c.store().tx_location(&hash).unwrap().is_some()))
        .await;
    let included = net.chains[0].store().tx_location(&hash).unwrap().unwrap();
    assert!(included.block_number <= cert.claim.expiry, "included by its expiry");
    net.wait("journals pruned", Duration::from_secs(10), |n| n.chains.iter().all(|c| c.certified().is_empty())).await;

    // Two payloads for one nonce, sent to two validators at once: at most one certified.
    let (a, b) = tokio::join!(net.certifiers[0].certify(transfer(1, 0, 1)), net.certifiers[3].certify(transfer(1, 0, 2)));
    assert!(!(a.is_ok() && b.is_ok()), "both payloads of one nonce were certified");
    for r in [&a, &b] {
        if let Err(e) = r {
            assert!(matches!(e, CertifyFailure::NoQuorum(_) | CertifyFailure::Refused(_)), "{e}");
        }
    }

    // A burst at one validator: its transactions are signed in batches (one signature
    // over many claims), and every client's certificate verifies on its own.
    let burst: Vec<_> = (4..10).flat_map(|account| (0..2).map(move |nonce| transfer(account, nonce, 3))).collect();
    let tasks: Vec<_> = burst
        .into_iter()
        .map(|raw| {
            let c = net.certifiers[1].clone();
            tokio::spawn(async move { c.certify(raw).await })
        })
        .collect();
    let mut certs = Vec::new();
    for t in tasks {
        certs.push(t.await.unwrap().unwrap());
    }
    for c in &certs {
        c.verify(&set, CHAIN_ID).unwrap();
    }
    assert!(certs.iter().any(|c| c.paths.iter().any(|p| !p.is_empty())), "some signer signed a batch of several claims");
    let hashes: Vec<_> = certs.iter().map(|c| c.claim.tx_hash).collect();
    net.wait("the burst included everywhere", Duration::from_secs(30), |n| {
        n.chains.iter().all(|c| hashes.iter().all(|h| c.store().tx_location(h).unwrap().is_some()))
    })
    .await;

    // An invalid transaction: refused with the reason, nothing journaled.
    let broke = {
        use strata_primitives::{Address, Bytes, TxKind, U256, transaction::build};
        let tx =
            build::eip1559(CHAIN_ID, 0, TxKind::Call(Address::repeat_byte(1)), U256::from(1u64), Bytes::new(), 30_000, 2_000_000_000, 0);
        key(99).sign_transaction(tx).unwrap().encoded() // an account with nothing
    };
    let e = net.certifiers[1].certify(broke).await.unwrap_err();
    assert!(matches!(&e, CertifyFailure::Refused(m) if m.contains("insufficient")), "{e}");

    // Two validators cut off: no quorum, and the answer comes within the time allowed.
    net.hub.set_cut(2, true);
    net.hub.set_cut(3, true);
    let asked = Instant::now();
    let e = net.certifiers[0].certify(transfer(2, 0, 1)).await.unwrap_err();
    assert!(matches!(&e, CertifyFailure::NoQuorum(m) if m.contains("2 of 4 validators signed")), "{e}");
    assert!(asked.elapsed() < strata_node::certify::CERTIFY_TIMEOUT + Duration::from_secs(2));
    let _ = net.shutdown.send(true);
}
