//! Building contracts: `cargo build` for the pinned Wasm target, the size check, and
//! the artifacts Ethereum tools and auditors read (ABI, `.bin`, build record).

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use strata_primitives::{B256, deploy, hex, keccak256};

/// The pinned contract target: MVP Wasm + mutable globals, stable across Rust releases.
pub const TARGET: &str = "wasm32v1-none";

/// What `build` produced.
#[derive(Debug)]
pub struct Built {
    /// The module.
    pub wasm: PathBuf,
    /// Its size in bytes.
    pub size: usize,
    /// `keccak256(module)`: the code hash the chain will record.
    pub code_hash: B256,
    /// The Solidity-ABI JSON file written beside the module.
    pub abi: PathBuf,
    /// Entries in the ABI.
    pub abi_entries: usize,
}

/// The Solidity ABI entries a module carries in its `strata_abi` section (sorted,
/// deduplicated; empty if none), read as the explorer reads them.
pub fn extract_abi(wasm: &[u8]) -> anyhow::Result<Vec<Value>> {
    Ok(strata_verify::abi::module_abi(wasm)?)
}

/// Builds a contract crate for [`TARGET`] with the release profile, checks its size and
/// writes `<out>/<name>.wasm`, its Solidity ABI `<name>.abi.json` (from the module's
/// `strata_abi` section), `<name>.bin` (the deploy bytecode Ethereum clients take: they
/// append constructor arguments) and `<name>.build.json` (toolchain, target, flags, code hash)
/// so the build can be reproduced and checked.
pub fn build_contract(manifest: &Path, out: Option<&Path>, max_size: usize, locked: bool) -> anyhow::Result<Built> {
    let manifest = manifest.canonicalize().with_context(|| format!("no contract manifest at {}", manifest.display()))?;
    let dir = manifest.parent().context("manifest has no directory")?.to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Reproducible: the lock file pins every dependency (a new crate's comes with the SDK,
    // the versions this node was built and tested with), and no host-specific flags
    // apply: same source and toolchain, same bytes.
    let mut command = Command::new(&cargo);
    command.args(["build", "--release", "--target", TARGET, "--manifest-path"]).arg(&manifest);
    if locked {
        command.arg("--locked");
    }
    let status = command.env_remove("RUSTFLAGS").env("CARGO_ENCODED_RUSTFLAGS", "").status().context("running cargo")?;
    if !status.success() {
        bail!("cargo build for {TARGET} failed");
    }
    let built = strata_harness::module_path(&manifest)?;
    let name = built.file_stem().and_then(|s| s.to_str()).context("module name")?.to_string();
    let linked = std::fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
    // What the tests run too (`strata_harness::build_contract`): code no call can reach emptied.
    let wasm = strata_harness::shrink::shrink(&linked).with_context(|| format!("reading {}", built.display()))?;
    if wasm.len() > max_size {
        bail!("{name}.wasm is {} bytes, over the chain's code-size limit of {max_size}", wasm.len());
    }
    let out = out.map_or_else(|| dir.join("target").join("strata"), Path::to_path_buf);
    std::fs::create_dir_all(&out)?;
    let dest = out.join(format!("{name}.wasm"));
    std::fs::write(&dest, &wasm)?;
    // The "bytecode" Ethereum clients deploy with: they append the ABI-encoded
    // constructor arguments, which is exactly Strata's deploy framing.
    std::fs::write(out.join(format!("{name}.bin")), format!("0x{}", hex::encode(deploy::encode(&wasm, &[]))))?;
    let abi_entries = extract_abi(&wasm)?;
    let abi = out.join(format!("{name}.abi.json"));
    std::fs::write(&abi, serde_json::to_string_pretty(&abi_entries)?)?;
    let rustc =
        Command::new("rustc").arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    let record = json!({
        "contract": name,
        "codeHash": keccak256(&wasm),
        "size": wasm.len(),
        "toolchain": rustc,
        "target": TARGET,
        "profile": "release (opt-level s, lto, codegen-units 1, panic abort; see the workspace Cargo.toml)",
        "command": format!("cargo build --locked --release --target {TARGET} --manifest-path {}", manifest.display()),
        "postLink": "strata_harness::shrink::shrink",
    });
    std::fs::write(out.join(format!("{name}.build.json")), serde_json::to_string_pretty(&record)?)?;
    Ok(Built { wasm: dest, size: wasm.len(), code_hash: keccak256(&wasm), abi, abi_entries: abi_entries.len() })
}

#[cfg(test)]
mod tests {
    use strata_verify::abi::abi_entry;

    use super::*;

    #[test]
    fn human_readable_abi_lines_become_the_json_entries_they_stand_for() {
        let cases = [
            (
                "function transfer(address to,uint256 amount) returns (bool)",
                r#"{"type":"function","name":"transfer","inputs":[{"name":"to","type":"address"},{"name":"amount","type":"uint256"}],"outputs":[{"name":"","type":"bool"}],"stateMutability":"nonpayable"}"#,
            ),
            (
                "function count() view returns (uint256)",
                r#"{"type":"function","name":"count","inputs":[],"outputs":[{"name":"","type":"uint256"}],"stateMutability":"view"}"#,
            ),
            ("function deposit() payable", r#"{"type":"function","name":"deposit","inputs":[],"outputs":[],"stateMutability":"payable"}"#),
            (
                "constructor(string name,uint256 supply)",
                r#"{"type":"constructor","inputs":[{"name":"name","type":"string"},{"name":"supply","type":"uint256"}],"stateMutability":"nonpayable"}"#,
            ),
            (
                "event Transfer(address indexed from,address indexed to,uint256 value)",
                r#"{"type":"event","name":"Transfer","inputs":[{"name":"from","type":"address","indexed":true},{"name":"to","type":"address","indexed":true},{"name":"value","type":"uint256","indexed":false}],"anonymous":false}"#,
            ),
            ("error TooHigh(uint256 max)", r#"{"type":"error","name":"TooHigh","inputs":[{"name":"max","type":"uint256"}]}"#),
        ];
        for (line, json) in cases {
            let want: Value = serde_json::from_str(json).unwrap();
            assert_eq!(abi_entry(line).unwrap(), want, "{line}");
            // JSON lines (older SDKs) pass through as they are.
            assert_eq!(abi_entry(json).unwrap(), want);
        }
        assert!(abi_entry("fallback() external").is_err());
        assert!(abi_entry("function (").is_err());
    }
}
