//! Integration tests of the Strata node (one binary for the crate): a real node
//! on RocksDB in a temp dir, driven through real JSON-RPC over HTTP.

mod attestation;
mod certified;
mod cli_contract;
mod cluster;
mod contracts;
mod crash;
mod dev_node;
mod hardening;
mod hierarchy;
mod inproc;
mod ots;
mod procs;
mod rpc;
mod rpc_logs;
mod slots;
mod state_rpc;
mod storage_market;
mod tcp_peers;

pub use rpc::Rpc;

/// A path in this repository. From the run-time `CARGO_MANIFEST_DIR` (cargo sets it
/// when running tests): a build cache shared between checkouts may hold this binary
/// compiled elsewhere, with another checkout's path baked into `env!`.
pub fn repo(rel: &str) -> std::path::PathBuf {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")), Into::into);
    dir.join("../..").join(rel)
}

/// A dev node on an OS-chosen port, storing in `dir`, mining instantly (the default).
pub fn dev_config(dir: &std::path::Path) -> strata_node::DevConfig {
    strata_node::DevConfig {
        data_dir: dir.to_path_buf(),
        rpc_addr: "127.0.0.1:0".parse().expect("socket address"),
        ..strata_node::DevConfig::default()
    }
}

/// `n` consecutive free ports on 127.0.0.1, starting at a probed base.
pub fn free_ports(n: u16) -> u16 {
    use std::sync::atomic::{AtomicU64, Ordering};
    // Below the kernel's ephemeral range: client sockets (and their TIME_WAIT, of which
    // the tests' many short RPC connections leave thousands) never take these ports, so
    // a range found free stays free for the validators about to bind it.
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let (low, high) = (10_000u16, ephemeral.saturating_sub(n).max(10_001));
    static DRAWS: AtomicU64 = AtomicU64::new(0);
    static GIVEN: std::sync::Mutex<Vec<(u16, u16)>> = std::sync::Mutex::new(Vec::new());
    let seed = u64::from(std::process::id())
        ^ std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    for _ in 0..500 {
        let mut z = seed.wrapping_add(DRAWS.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 31)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let base = low + (z % u64::from(high - low)) as u16;
        // Never the same ports twice in this process (a test asks for several ranges
        // before its processes bind them).
        let mut given = GIVEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if given.iter().any(|&(b, m)| base < b + m && b < base + n) {
            continue;
        }
        let all: Vec<_> = (0..n).map(|i| std::net::TcpListener::bind(("127.0.0.1", base + i))).collect();
        if all.iter().all(Result::is_ok) {
            given.push((base, n));
            return base;
        }
    }
    panic!("no free port range");
}

/// The machine the tests share: every test holds it shared ([`share`]), except one
/// that measures time, which holds it alone ([`alone`]) so that no contract build or
/// node of another test runs beside it (the test binary runs tests in parallel). The
/// lock is fair: a waiting [`alone`] holds new sharers back, so it is not starved.
static MACHINE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Held by every async test that does not measure time.
pub async fn share() -> tokio::sync::RwLockReadGuard<'static, ()> {
    MACHINE.read().await
}

/// [`share`] for a test that is not async.
pub fn share_blocking() -> tokio::sync::RwLockReadGuard<'static, ()> {
    MACHINE.blocking_read()
}

/// Held by a test that measures time: nothing else runs beside it.
pub async fn alone() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    MACHINE.write().await
}

/// Held by the tests that load the machine (several processes, floods), so that no two
/// of them overlap; the machine is held shared as well.
pub async fn exclusive() -> (tokio::sync::RwLockReadGuard<'static, ()>, tokio::sync::MutexGuard<'static, ()>) {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let machine = share().await;
    (machine, LOCK.lock().await)
}

/// A transfer of `value` wei to `0x4242…` from dev account `account` with `nonce`,
/// signed for chain `chain_id` (EIP-2718 bytes).
pub fn dev_transfer(chain_id: u64, account: usize, nonce: u64, value: u64) -> strata_primitives::Bytes {
    use strata_primitives::{Address, Bytes, TxKind, U256, transaction::build};
    let key = &strata_node::dev_accounts().unwrap()[account].signer;
    let tx = build::eip1559(
        chain_id,
        nonce,
        TxKind::Call(Address::repeat_byte(0x42)),
        U256::from(value),
        Bytes::new(),
        30_000,
        2_000_000_000,
        0,
    );
    key.sign_transaction(tx).unwrap().encoded()
}
