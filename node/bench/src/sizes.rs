//! Contract sizes: the scaffold's counter and the ERC-20 example, built with
//! `strata contract build` (the release `strata` beside this binary), printed beside
//! the previous release's sizes and the size goals.
//!
//! Why a benchmark: a module's size is what deploying it costs (per byte and per
//! function) and what every call compiles; it moves with the SDK, the toolchain and the
//! build profile, so it is measured, not asserted.

use std::{path::Path, process::Command};

use anyhow::Context;

/// Sizes in bytes of release 0.1.0 (commit 6c5b5d8, before the SDK's own ABI coder and
/// the build's unreachable-code pass), built the same way.
const PREVIOUS: [(&str, u64); 2] = [("counter (strata contract new)", 21_469), ("ERC-20 (contracts/examples/erc20)", 44_576)];
/// The goals, in bytes: 8 KiB and 16 KiB.
const GOALS: [u64; 2] = [8 * 1024, 16 * 1024];

#[derive(Debug, Clone, Default, clap::Args)]
pub struct Args {
    /// The `strata` binary (default: beside this one).
    #[arg(long)]
    pub strata: Option<std::path::PathBuf>,
}

fn strata(args: &Args) -> std::path::PathBuf {
    args.strata.clone().unwrap_or_else(|| {
        std::env::current_exe().ok().and_then(|p| p.parent().map(|d| d.join("strata"))).unwrap_or_else(|| "strata".into())
    })
}

/// Builds the crate at `manifest` into `out` and returns the module's size.
fn build(bin: &Path, manifest: &Path, out: &Path) -> anyhow::Result<u64> {
    let status = Command::new(bin)
        .args(["contract", "build", "--manifest-path"])
        .arg(manifest)
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .status()
        .context("running strata contract build")?;
    anyhow::ensure!(status.success(), "strata contract build {} failed", manifest.display());
    let wasm = std::fs::read_dir(out)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "wasm"))
        .context("no module built")?;
    Ok(std::fs::metadata(wasm)?.len())
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    println!("== contract sizes (strata contract build; previous: release 0.1.0)");
    let bin = strata(args);
    let dir = tempfile::tempdir()?;
    let status = Command::new(&bin)
        .current_dir(dir.path())
        .args(["contract", "new", "counter"])
        .stdout(std::process::Stdio::null())
        .status()
        .context("running strata contract new")?;
    anyhow::ensure!(status.success(), "strata contract new failed");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let manifests = [dir.path().join("counter/Cargo.toml"), root.join("contracts/examples/erc20/Cargo.toml")];
    for (i, manifest) in manifests.iter().enumerate() {
        let size = build(&bin, manifest, &dir.path().join(format!("out{i}")))?;
        let (name, previous) = PREVIOUS[i];
        let goal = GOALS[i];
        println!(
            "{name}: {size} bytes; previous release {previous} ({:.2}x); goal {goal} ({:.2}x){}",
            size as f64 / previous as f64,
            size as f64 / goal as f64,
            if size <= goal { "" } else { " -- over the goal" }
        );
    }
    Ok(())
}
