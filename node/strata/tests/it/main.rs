//! Integration tests of the Strata node (one binary for the crate): a real node
//! on RocksDB in a temp dir, driven through real JSON-RPC over HTTP.

mod cli_contract;
mod cluster;
mod contracts;
mod crash;
mod dev_node;
mod hardening;
mod inproc;
mod rpc;
mod rpc_logs;
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

/// A dev node on an OS-chosen port, storing in `dir`, making blocks every 10 ms.
pub fn dev_config(dir: &std::path::Path) -> strata_node::DevConfig {
    strata_node::DevConfig {
        data_dir: dir.to_path_buf(),
        rpc_addr: "127.0.0.1:0".parse().expect("socket address"),
        block_time: std::time::Duration::from_millis(10),
        ..strata_node::DevConfig::default()
    }
}

/// `n` consecutive free ports on 127.0.0.1, starting at a probed base.
pub fn free_ports(n: u16) -> u16 {
    for _ in 0..100 {
        let base = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if base > 60_000 {
            continue;
        }
        let all: Vec<_> = (0..n).map(|i| std::net::TcpListener::bind(("127.0.0.1", base + i))).collect();
        if all.iter().all(Result::is_ok) {
            return base;
        }
    }
    panic!("no free port range");
}

/// Held by the tests that load the machine (several processes, floods) or measure time
/// under load, so that no two of them overlap: the test binary runs tests in parallel.
pub async fn exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}
