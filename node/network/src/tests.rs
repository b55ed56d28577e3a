use std::time::Duration;

use super::*;

fn key(i: u32) -> LocalSigner {
    LocalSigner::from_bytes(&keccak256(format!("strata/test/net/{i}"))).expect("valid key")
}

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
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
        })
        .collect()
}

async fn recv(rx: &mut mpsc::Receiver<(u32, Vec<u8>)>) -> (u32, Vec<u8>) {
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
    assert!(rx0.try_recv().is_err(), "nothing from an unauthenticated peer");
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
