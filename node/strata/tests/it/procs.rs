//! Real `strata run` processes for the multi-process tests: started with their log
//! beside their config, killed with SIGKILL (and on drop), signalled, followed over
//! JSON-RPC.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command},
    time::{Duration, Instant},
};

use crate::{Rpc, rpc::hex_u128};

/// The processes of one test, by index, each with its config file and RPC URL.
pub struct Procs {
    pub configs: Vec<PathBuf>,
    pub urls: Vec<String>,
    procs: Vec<Option<Child>>,
}

impl Procs {
    /// Processes for these configs (none started yet).
    pub fn new(configs: Vec<PathBuf>, urls: Vec<String>) -> Self {
        let procs = configs.iter().map(|_| None).collect();
        Self { configs, urls, procs }
    }

    /// Process `i`'s log file.
    pub fn log(&self, i: usize) -> PathBuf {
        self.configs[i].parent().unwrap().join("log")
    }

    /// Starts process `i` (`strata run --config …`), appending to its log.
    pub fn start(&mut self, i: usize) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log(i)).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(["run", "--config", self.configs[i].to_str().unwrap()])
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn a validator");
        self.procs[i] = Some(child);
    }

    /// SIGKILL: no shutdown path runs.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.procs[i].take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// Sends `sig` (`-STOP`, `-CONT`, …) to process `i`.
    pub fn signal(&self, i: usize, sig: &str) {
        let pid = self.procs[i].as_ref().expect("running").id().to_string();
        assert!(Command::new("kill").args([sig, &pid]).status().unwrap().success());
    }

    pub fn rpc(&self, i: usize) -> Rpc {
        Rpc::new(&self.urls[i])
    }

    pub async fn try_height(&self, i: usize) -> Option<u64> {
        self.rpc(i).maybe("eth_blockNumber", vec![]).await.map(|v| hex_u128(&v) as u64)
    }

    /// Waits until process `i` has committed `height`.
    pub async fn wait_height(&self, i: usize, height: u64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if self.try_height(i).await.is_some_and(|h| h >= height) {
                return;
            }
            assert!(Instant::now() < deadline, "process {i} did not reach height {height} within {within:?}; log:\n{}", self.tail(i));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last lines of process `i`'s log, without backtrace frames (a panic's message
    /// stays in view).
    pub fn tail(&self, i: usize) -> String {
        let text = std::fs::read_to_string(self.log(i)).unwrap_or_default();
        let frame = |l: &&str| {
            let t = l.trim_start();
            t.starts_with("at ") || t.split_once(": ").is_some_and(|(n, _)| n.parse::<u32>().is_ok())
        };
        let lines: Vec<&str> = text.lines().filter(|l| !frame(l)).collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for i in 0..self.procs.len() {
            if let Some(c) = self.procs[i].as_ref() {
                let _ = Command::new("kill").args(["-CONT", &c.id().to_string()]).status();
            }
            self.kill(i);
        }
    }
}

/// Rewrites the `key = value` lines of a config file named in `settings`.
pub fn set_config(path: &Path, settings: &[(&str, &str)]) {
    let text: String = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| match settings.iter().find(|(k, _)| l.split(" = ").next() == Some(*k)) {
            Some((k, v)) => format!("{k} = {v}"),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(path, text).unwrap();
}
