//! Validators over real TCP in one process, against a hostile peer that holds a
//! validator key: it floods sync requests and never reads its socket.

use std::time::{Duration, Instant};

use strata_network::{Network, NetworkConfig, Peer};
use strata_node::{
    Node,
    config::{Genesis, InitOptions, ValidatorConfig, init, read_key},
    wire::{SyncRequest, Wire},
};

/// Three honest validators make blocks; the fourth key is held by a peer that asks
/// validator 0 for the whole chain twenty thousand times and never reads an answer.
/// What validator 0 holds for it stays within the transport's stated per-peer bound,
/// and the chain keeps committing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n4_f1_a_peer_flooding_sync_requests_without_reading_stays_within_its_memory_bound() {
    let _serial = crate::exclusive().await;
    let dir = tempfile::tempdir().unwrap();
    let opts = InitOptions {
        out: dir.path().join("net"),
        validators: 4,
        chain_id: 4545,
        host: "127.0.0.1".parse().unwrap(),
        p2p_port: crate::free_ports(4),
        rpc_port: 0,
        backups: false,
        parent: None,
    };
    let paths = init(&opts).unwrap();
    let mut nodes = Vec::new();
    for path in &paths[..3] {
        let mut config = ValidatorConfig::load(path).unwrap();
        config.rpc_addr = "127.0.0.1:0".parse().unwrap();
        config.block_time_ms = 20;
        config.empty_block_ms = 40;
        // Validator 3 never runs consensus: with the proposer rotating by height, one height
        // in four waits for this timeout before its view changes.
        config.view_timeout_ms = 500;
        nodes.push(Node::start_validator(config).await.unwrap());
    }
    // The hostile peer: validator 3's key and address, a transport whose inbound it never takes.
    let rogue = ValidatorConfig::load(&paths[3]).unwrap();
    let genesis = Genesis::load(&rogue.genesis).unwrap();
    let peers: Vec<Peer> = genesis
        .validators
        .iter()
        .zip(&rogue.peers)
        .enumerate()
        .map(|(i, (v, addr))| Peer { index: i as u32, address: v.address, addr: *addr })
        .collect();
    let (network, _never_read) = Network::start(NetworkConfig {
        chain_id: 4545,
        me: 3,
        key: read_key(&rogue.key_file).unwrap(),
        listen: rogue.p2p_addr,
        validators: peers,
        queue: 1 << 20,
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(500),
        limits: strata_network::Limits { max_inbound_bytes_per_peer: 0, ..Default::default() },
    })
    .await
    .unwrap();
    let height = |i: usize| nodes[i].chain().head().1.number;
    let deadline = Instant::now() + Duration::from_secs(60);
    while height(0) < 40 {
        assert!(Instant::now() < deadline, "no progress: {}", height(0));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let request = Wire::SyncRequest(SyncRequest { from: 1, limit: 32 }).encode(4545);
    let before = height(0);
    let net0 = nodes[0].network().unwrap();
    // Flood until validator 0's queue for the peer is full and it drops (or 40 s pass).
    let started = Instant::now();
    let mut sent = 0u64;
    while net0.stats().dropped.load(std::sync::atomic::Ordering::Relaxed) == 0 && started.elapsed() < Duration::from_secs(40) {
        for _ in 0..200 {
            strata_network::Transport::send(&network, 0, request.clone());
        }
        sent += 200;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let memory = net0.peer_memory(3).unwrap();
    let bound = strata_network::Limits::default().per_peer_bound();
    let dropped = net0.stats().dropped.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "{sent} sync requests in {:?}: validator 0 holds for the peer {memory:?} (bound {bound} bytes), dropped {dropped}; height {before} -> {}",
        started.elapsed(),
        height(0)
    );
    assert!(memory.outbound_peak + memory.inbound_peak <= bound, "{memory:?} over {bound}");
    assert!(memory.outbound_peak >= 8 << 20, "the flood was answered until the queue filled: {memory:?}");
    assert!(height(0) > before + 10, "the chain kept committing");
    network.shutdown();
    for n in nodes {
        n.stop().await;
    }
}
