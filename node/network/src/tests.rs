//! Tests of the TCP transport over real sockets: authentication, reconnects, refused
//! strangers and frames, and the byte budgets and handshake cap under floods.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use strata_primitives::{LocalSigner, keccak256};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    Inbound, Limits, MAX_FRAME, MESSAGE_OVERHEAD, Network, NetworkConfig, Peer, Transport,
    frame::{read_frame, write_frame},
    handshake::{Auth, Hello, VERSION, decode, handshake_digest, random_nonce},
};

fn key(i: u32) -> LocalSigner {
    LocalSigner::from_bytes(&keccak256(format!("strata/test/net/{i}"))).expect("valid key")
}

/// A free port below the kernel's ephemeral range: a port the kernel handed out (port 0)
/// and this test binds later can meanwhile become the local port of any outgoing
/// connection (the tests' own dials among them); these never do. Never the same port
/// twice in this process.
fn free_addr() -> SocketAddr {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(32_768);
    let span = ephemeral.saturating_sub(10_000).max(1);
    let start = u64::from(std::process::id()).wrapping_mul(7_919);
    for _ in 0..1_000 {
        let port = 10_000 + (start.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed)) % span);
        let addr = SocketAddr::from(([127, 0, 0, 1], u16::try_from(port).unwrap_or(10_000)));
        if std::net::TcpListener::bind(addr).is_ok() {
            return addr;
        }
    }
    panic!("no free port below {ephemeral}")
}

fn configs(n: u32) -> Vec<NetworkConfig> {
    let validators: Vec<Peer> = (0..n).map(|i| Peer { index: i, address: key(i).address(), addr: free_addr() }).collect();
    (0..n)
        .map(|i| NetworkConfig {
            chain_id: 7,
            me: i,
            key: key(i),
            listen: validators[i as usize].addr,
            validators: validators.clone(),
            queue: 64,
            min_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            limits: Limits::default(),
        })
        .collect()
}

async fn recv(rx: &mut Inbound) -> (u32, Vec<u8>) {
    tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("a message within 10 s").expect("open")
}

async fn wait_connected(net: &Network, n: usize) {
    for _ in 0..500 {
        if net.connected().len() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "validator {} not connected: {:?} (refused {}, connections {})",
        net.shared.config.me,
        net.connected(),
        net.stats().refused.load(Ordering::Relaxed),
        net.stats().connections.load(Ordering::Relaxed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validators_connect_authenticate_and_exchange_frames() {
    let cfgs = configs(3);
    let mut nets = Vec::new();
    for c in cfgs.clone() {
        nets.push(Network::start(c).await.unwrap());
    }
    for (net, _) in &nets {
        wait_connected(net, 2).await;
    }
    nets[2].0.broadcast(b"hello from 2".to_vec());
    nets[0].0.send(1, vec![7; 100_000]);
    assert!(recv(&mut nets[0].1).await == (2, b"hello from 2".to_vec()));
    // Messages from different peers may arrive in either order.
    let mut got = [recv(&mut nets[1].1).await, recv(&mut nets[1].1).await];
    got.sort();
    assert!(got[0] == (0, vec![7; 100_000]), "the large frame from 0 arrived intact");
    assert!(got[1] == (2, b"hello from 2".to_vec()));

    // Validator 1 restarts: 2 redials it, messages flow again.
    nets[1].0.shutdown();
    let (_, _) = nets.remove(1);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (net1, mut rx1) = Network::start(cfgs[1].clone()).await.unwrap();
    wait_connected(&net1, 2).await;
    nets[1].0.send(1, b"after restart".to_vec());
    loop {
        let (from, msg) = recv(&mut rx1).await;
        if from == 2 && msg == b"after restart" {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_and_oversized_frames_are_refused() {
    let cfgs = configs(2);
    let (net0, mut rx0) = Network::start(cfgs[0].clone()).await.unwrap();
    // An impostor claiming to be validator 1 with the wrong key.
    let mut impostor = cfgs[1].clone();
    impostor.key = key(99);
    impostor.validators[1].address = key(99).address();
    impostor.listen = free_addr();
    let (imp, _rx) = Network::start(impostor).await.unwrap();
    imp.send(0, b"forged".to_vec());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(net0.connected().is_empty());
    assert!(net0.stats().refused.load(Ordering::Relaxed) > 0);
    assert!(rx0.try_recv().is_none(), "nothing from an unauthenticated peer");
    imp.shutdown();

    // A raw socket sending a huge length prefix is dropped without allocating it.
    let mut raw = TcpStream::connect(cfgs[0].listen).await.unwrap();
    let _ = read_frame(&mut raw).await.unwrap(); // their hello
    raw.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
    let mut buf = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(5), raw.read(&mut buf)).await.expect("closed in time");
    assert!(matches!(closed, Ok(0) | Err(_)), "connection closed");
    net0.shutdown();
}

#[test]
fn full_queues_drop_instead_of_growing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut cfgs = configs(2);
        cfgs[1].queue = 4;
        let (net1, _rx) = Network::start(cfgs[1].clone()).await.unwrap();
        // Validator 0 is not running: messages to it queue up to 4, then drop.
        for i in 0..10u8 {
            net1.send(0, vec![i]);
        }
        assert_eq!(net1.stats().dropped.load(Ordering::Relaxed), 6);
        net1.shutdown();
    });
}

/// Authenticates a raw socket to validator `to`'s node as validator `me` (a higher
/// index: it dials), so that a test can then misbehave on the connection.
async fn raw_validator(cfg: &NetworkConfig, me: u32) -> TcpStream {
    let to = cfg.me;
    let mut s = TcpStream::connect(cfg.listen).await.unwrap();
    let hello = Hello { version: VERSION, chain_id: cfg.chain_id, index: me, nonce: random_nonce() };
    write_frame(&mut s, &alloy_rlp::encode(&hello)).await.unwrap();
    let theirs: Hello = decode(&read_frame(&mut s).await.unwrap()).unwrap();
    let sig = key(me).sign_hash(&handshake_digest(cfg.chain_id, &theirs.nonce, me, to)).unwrap();
    write_frame(&mut s, &alloy_rlp::encode(Auth { signature: sig.as_bytes().to_vec().into() })).await.unwrap();
    let _: Auth = decode(&read_frame(&mut s).await.unwrap()).unwrap();
    s
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Whether the peer closed `s` within `within` (reading and discarding what it sent).
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_bytes_for_a_peer_that_never_reads_stay_within_its_budget() {
    let mut cfgs = configs(3);
    for c in &mut cfgs {
        c.queue = 4096; // as the node: the byte budget, not the count, must bind
    }
    let budget = Limits::default().max_queued_bytes_per_peer;
    assert_eq!(budget, 32 << 20, "the documented default");
    let (net0, mut rx0) = Network::start(cfgs[0].clone()).await.unwrap();
    let (net2, mut rx2) = Network::start(cfgs[2].clone()).await.unwrap();
    // Validator 1 authenticates and then never reads its socket.
    let _deaf = raw_validator(&cfgs[0], 1).await;
    wait_for("0 connected to 1 and 2", || net0.connected() == vec![1, 2]).await;

    // 2048 messages of 1 MiB: 2 GiB offered, 64 times the budget.
    let message = 1 << 20;
    for i in 0..2048u32 {
        net0.send(1, vec![i as u8; message]);
        if i % 64 == 0 {
            let held = net0.peer_memory(1).unwrap().outbound;
            assert!(held <= budget, "{held} bytes queued for the deaf peer after {i} messages");
            tokio::task::yield_now().await;
        }
    }
    let mem = net0.peer_memory(1).unwrap();
    assert!(mem.outbound_peak <= budget, "peak {} bytes queued for the deaf peer, budget {budget}", mem.outbound_peak);
    assert!(mem.outbound_peak >= budget - message - MESSAGE_OVERHEAD, "the budget was used up: {mem:?}");
    let dropped = net0.stats().dropped.load(Ordering::Relaxed);
    assert!(dropped >= 1024, "messages over the budget are dropped and counted: {dropped}");

    // The node keeps serving its other peer, both ways.
    net0.send(2, b"to 2".to_vec());
    assert!(recv(&mut rx2).await == (0, b"to 2".to_vec()));
    net2.send(0, b"to 0".to_vec());
    assert!(recv(&mut rx0).await == (2, b"to 0".to_vec()));
    assert!(net0.peer_memory(1).unwrap().outbound <= budget);
    net0.shutdown();
    net2.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_peer_is_not_read_while_its_undelivered_bytes_fill_its_budget() {
    let cfgs = configs(2);
    let budget = Limits::default().max_inbound_bytes_per_peer;
    let (net0, mut rx0) = Network::start(cfgs[0].clone()).await.unwrap();
    let mut flooder = raw_validator(&cfgs[0], 1).await;
    wait_for("0 connected to 1", || net0.connected() == vec![1]).await;

    // Validator 1 writes 160 frames of 1 MiB (5 times the budget) while the node
    // does not consume its inbound receiver.
    let (frames, message) = (160u32, 1usize << 20);
    let written = Arc::new(AtomicU64::new(0));
    let counter = written.clone();
    let writer = tokio::spawn(async move {
        for i in 0..frames {
            write_frame(&mut flooder, &vec![i as u8; message]).await.unwrap();
            counter.fetch_add(1, Ordering::Relaxed);
        }
        flooder
    });
    // Wait until the budget is full and the flooder stalled by TCP flow control.
    let full = budget - 2 * (message + MESSAGE_OVERHEAD);
    wait_for("the inbound budget to fill", || net0.peer_memory(1).unwrap().inbound >= full).await;
    let mut last = u64::MAX;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = written.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        last = now;
    }
    let mem = net0.peer_memory(1).unwrap();
    assert!(mem.inbound_peak <= budget, "peak {} inbound bytes held, budget {budget}", mem.inbound_peak);
    assert!(mem.inbound >= full, "the budget stays used while nothing is consumed: {mem:?}");
    assert!(last < u64::from(frames) / 2, "the sender is stalled ({last} of {frames} frames written): the node stopped reading");
    assert!(!writer.is_finished());

    // Consuming resumes reading: every frame arrives, in order, intact.
    for i in 0..frames {
        let (from, msg) = recv(&mut rx0).await;
        assert!(from == 1 && msg.len() == message && msg.iter().all(|b| *b == i as u8), "frame {i}");
    }
    let _flooder = tokio::time::timeout(Duration::from_secs(10), writer).await.expect("the flooder finished").unwrap();
    let mem = net0.peer_memory(1).unwrap();
    assert!(mem.inbound_peak <= budget, "peak {} inbound bytes held, budget {budget}", mem.inbound_peak);
    assert_eq!(mem.inbound, 0, "delivered messages released their bytes");
    net0.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_connections_are_capped_and_a_huge_frame_header_closes_them_at_once() {
    let cfgs = configs(2);
    let cap = Limits::default().max_pending_handshakes;
    assert_eq!(cap, 16, "the documented default");
    let (net0, _rx0) = Network::start(cfgs[0].clone()).await.unwrap();

    // 64 strangers connect and say nothing: 16 are handshaking, the rest are closed at once.
    let mut silent = Vec::new();
    for _ in 0..64 {
        silent.push(TcpStream::connect(cfgs[0].listen).await.unwrap());
    }
    wait_for("the strangers accepted", || net0.stats().turned_away.load(Ordering::Relaxed) >= 48).await;
    assert_eq!(net0.pending_handshakes(), cap);
    assert_eq!(net0.stats().turned_away.load(Ordering::Relaxed), 48);
    // A pending one got our Hello and stays open; a turned-away one is closed.
    let mut checks = tokio::task::JoinSet::new();
    for mut s in silent {
        checks.spawn(async move { (closed_within(&mut s, Duration::from_millis(500)).await, s) });
    }
    let (mut closed, mut open) = (0, Vec::new());
    while let Some(r) = checks.join_next().await {
        let (was_closed, s) = r.unwrap();
        closed += usize::from(was_closed);
        open.push(s);
    }
    assert_eq!(closed, 48, "connections over the cap are closed at once");
    drop(open);
    wait_for("the pending handshakes to end", || net0.pending_handshakes() == 0).await;

    // 200 strangers each announce a 16 MiB frame (accepted after authentication) in
    // place of their Hello: each is closed at once, without waiting for the 16 MiB or
    // for the 5 s handshake timeout.
    let refused = net0.stats().refused.load(Ordering::Relaxed);
    for _round in 0..25 {
        let mut batch = Vec::new();
        for _ in 0..8 {
            let mut s = TcpStream::connect(cfgs[0].listen).await.unwrap();
            let _ = read_frame(&mut s).await.unwrap(); // their hello
            s.write_all(&(MAX_FRAME as u32).to_be_bytes()).await.unwrap();
            batch.push(s);
        }
        for s in &mut batch {
            assert!(closed_within(s, Duration::from_secs(2)).await, "a huge handshake frame closes the connection at once");
        }
        assert!(net0.pending_handshakes() <= cap);
    }
    assert_eq!(net0.stats().refused.load(Ordering::Relaxed), refused + 200);

    // While 16 strangers hold every handshake slot, validator 1 is turned away; once
    // they are gone it connects by redialling.
    let mut holders = Vec::new();
    for _ in 0..cap {
        holders.push(TcpStream::connect(cfgs[0].listen).await.unwrap());
    }
    wait_for("the slots taken", || net0.pending_handshakes() == cap).await;
    let (net1, _rx1) = Network::start(cfgs[1].clone()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(net0.connected().is_empty(), "no slot for validator 1 yet");
    drop(holders);
    wait_connected(&net0, 1).await;
    wait_connected(&net1, 1).await;
    net0.shutdown();
    net1.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_validator_replaces_its_previous_connection_without_leaking_tasks() {
    let cfgs = configs(2);
    let (net0, _rx0) = Network::start(cfgs[0].clone()).await.unwrap();
    let tasks = || tokio::runtime::Handle::current().metrics().num_alive_tasks();
    let mut first = raw_validator(&cfgs[0], 1).await;
    wait_for("0 connected to 1", || net0.connected() == vec![1]).await;
    let baseline = tasks();

    // Validator 1 connects 50 more times without closing anything.
    let mut sockets = Vec::new();
    for i in 1..=50 {
        sockets.push(raw_validator(&cfgs[0], 1).await);
        // Paced by the node's verification, so as to stay under the pending-handshake cap.
        wait_for("the older connection replaced", || net0.stats().replaced.load(Ordering::Relaxed) == i).await;
    }
    assert!(closed_within(&mut first, Duration::from_secs(2)).await, "the first connection was closed");
    let mut newest = sockets.pop().unwrap();
    for s in &mut sockets {
        assert!(closed_within(s, Duration::from_secs(2)).await, "an older connection was closed");
    }
    assert!(tasks() <= baseline, "{} tasks alive after 50 reconnects, {baseline} before", tasks());
    assert_eq!(net0.connected(), vec![1]);

    // The newest connection carries the traffic.
    net0.send(1, b"to the newest".to_vec());
    let msg = tokio::time::timeout(Duration::from_secs(5), read_frame(&mut newest)).await.expect("in time").unwrap();
    assert_eq!(msg, b"to the newest");
    net0.shutdown();
}
