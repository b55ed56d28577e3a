//! `strata contract new`: a new contract crate, on the SDK this binary carries.
//!
//! The SDK's sources (and the runtime crates its test harness runs) are bundled into the
//! binary by `build.rs` and unpacked once per SDK version under the user's data
//! directory (`$STRATA_HOME`, else `$XDG_DATA_HOME/strata`, else `~/.local/share/strata`),
//! so a contract depends on neither the checkout Strata was built from nor the network:
//! its manifest names `version` and that `path`, and a published release only drops the
//! `path`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The bundle `build.rs` wrote: (path len u32 LE, path, len u64 LE, bytes)*.
static BUNDLE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/sdk.bundle"));

/// Marks a completely unpacked SDK directory.
const COMPLETE: &str = ".strata-sdk-complete";

/// Where Strata keeps per-user data.
pub fn data_dir() -> anyhow::Result<PathBuf> {
    if let Some(d) = std::env::var_os("STRATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("strata"));
    }
    let home = std::env::var_os("HOME").filter(|d| !d.is_empty()).context("no HOME (or STRATA_HOME) to keep the SDK in")?;
    Ok(PathBuf::from(home).join(".local/share/strata"))
}

/// The bundled files.
fn bundle() -> anyhow::Result<Vec<(&'static str, &'static [u8])>> {
    let mut files = Vec::new();
    let mut rest = BUNDLE;
    while !rest.is_empty() {
        let take = |rest: &mut &'static [u8], n: usize| -> anyhow::Result<&'static [u8]> {
            anyhow::ensure!(rest.len() >= n, "the SDK bundle in this binary is truncated");
            let (head, tail) = rest.split_at(n);
            *rest = tail;
            Ok(head)
        };
        let len = u32::from_le_bytes(take(&mut rest, 4)?.try_into()?) as usize;
        let path = std::str::from_utf8(take(&mut rest, len)?)?;
        let size = usize::try_from(u64::from_le_bytes(take(&mut rest, 8)?.try_into()?))?;
        files.push((path, take(&mut rest, size)?));
    }
    Ok(files)
}

/// The SDK directory of this binary, unpacked if it is not yet (atomically: a
/// half-written directory is never used).
pub fn unpack_sdk() -> anyhow::Result<PathBuf> {
    let dir = data_dir()?.join("sdk").join(format!("{}-{}", env!("CARGO_PKG_VERSION"), &env!("STRATA_SDK_HASH")[..12]));
    if dir.join(COMPLETE).is_file() {
        return Ok(dir);
    }
    let parent = dir.parent().context("the SDK directory has a parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let partial = parent.join(format!(".partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    for (path, bytes) in bundle()? {
        anyhow::ensure!(!path.split('/').any(|c| c == ".." || c.is_empty()), "bad path {path:?} in the SDK bundle");
        let file = partial.join(path);
        if let Some(p) = file.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::write(&file, bytes).with_context(|| format!("writing {}", file.display()))?;
    }
    std::fs::write(partial.join(COMPLETE), env!("STRATA_SDK_HASH"))?;
    if dir.exists() && !dir.join(COMPLETE).is_file() {
        // Damaged (its marker deleted): replace it.
        std::fs::remove_dir_all(&dir).with_context(|| format!("replacing the damaged SDK in {}", dir.display()))?;
    }
    if let Err(e) = std::fs::rename(&partial, &dir) {
        let _ = std::fs::remove_dir_all(&partial);
        // Another `strata` unpacked it meanwhile.
        if !dir.join(COMPLETE).is_file() {
            return Err(e).with_context(|| format!("unpacking the SDK into {}", dir.display()));
        }
    }
    tracing::info!(dir = %dir.display(), "SDK unpacked");
    Ok(dir)
}

/// Creates a new contract crate at `dir` (named after its last component): a token-like
/// counter using `#[contract]`, and a test that runs its compiled Wasm with the harness.
pub fn new_contract(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    let name = dir.file_name().and_then(|n| n.to_str()).context("the contract directory needs a name")?.to_string();
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') || name.starts_with(|c: char| c.is_ascii_digit()) {
        bail!("{name:?} is not a valid crate name");
    }
    let sdk = unpack_sdk()?;
    let crate_ident = name.replace('-', "_");
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::create_dir_all(dir.join("tests"))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
strata-sdk = {{ version = "{version}", path = "{sdk}/sdk/strata-sdk" }}

[dev-dependencies]
strata-harness = {{ version = "{version}", path = "{sdk}/sdk/harness" }}

# Its own workspace; the release profile makes small, reproducible Wasm.
[workspace]

# Tests run the runtime (wasmtime) natively: optimise dependencies, and share
# builds with the Strata workspace when CARGO_TARGET_DIR points at the same cache.
[profile.dev]
debug = "line-tables-only"

[profile.dev.package."*"]
opt-level = 2
debug = false
debug-assertions = false
overflow-checks = false

[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
strip = true
overflow-checks = true
"#,
            sdk = sdk.display(),
            version = env!("CARGO_PKG_VERSION"),
        ),
    )?;
    // The versions this node was built and tested with: builds offline from cargo's cache.
    std::fs::write(dir.join("Cargo.lock"), std::fs::read(sdk.join("Cargo.lock"))?)?;
    std::fs::write(dir.join(".gitignore"), "/target\n")?;
    std::fs::write(
        dir.join("src/lib.rs"),
        r#"//! A counter contract. Build: `strata contract build`; test: `cargo test`.
#![no_std]

extern crate alloc;

use strata_sdk::{contract, env, error, event, storage::StorageValue, Address, U256};

/// The counter changed.
#[event]
pub struct Counted {
    #[indexed]
    pub by: Address,
    pub value: U256,
}

/// The counter would pass its maximum.
#[error]
pub struct TooHigh {
    pub max: U256,
}

static COUNT: StorageValue<U256> = StorageValue::new(b"count");
static MAX: StorageValue<U256> = StorageValue::new(b"max");

/// The contract.
pub struct Counter;

#[contract]
impl Counter {
    /// Sets the maximum.
    #[constructor]
    pub fn constructor(max: U256) {
        MAX.set(&max);
    }

    /// Adds one.
    pub fn increment() -> Result<U256, TooHigh> {
        let value = COUNT.get() + U256::from(1u8);
        if value > MAX.get() {
            return Err(TooHigh { max: MAX.get() });
        }
        COUNT.set(&value);
        Counted { by: env::caller(), value }.emit();
        Ok(value)
    }

    /// The current value.
    #[view]
    pub fn count() -> U256 {
        COUNT.get()
    }
}
"#,
    )?;
    std::fs::write(
        dir.join("tests/counter.rs"),
        r#"//! Runs the compiled contract in the real Strata runtime.

use strata_harness::{Error, TestChain, build_contract};
use strata_sdk::{sol, SolValue, U256};

sol! {
    #![sol(alloy_sol_types = strata_sdk::alloy_sol_types)]
    interface ICounter {
        function increment() external returns (uint256);
        function count() external view returns (uint256);
    }
}

#[test]
fn counts_up_to_the_maximum() {
    let wasm = build_contract(env!("CARGO_MANIFEST_DIR")).expect("builds");
    let mut chain = TestChain::new();
    let counter = chain.deploy(0, &wasm, &U256::from(2u8).abi_encode()).unwrap().contract_address.unwrap();
    assert_eq!(chain.call_sol(0, counter, &ICounter::incrementCall {}).unwrap(), U256::from(1u8));
    assert_eq!(chain.call_sol(1, counter, &ICounter::incrementCall {}).unwrap(), U256::from(2u8));
    assert!(matches!(chain.call_sol(0, counter, &ICounter::incrementCall {}), Err(Error::Failed(_))));
    assert_eq!(chain.view(counter, &ICounter::countCall {}).unwrap(), U256::from(2u8));
    println!("{}", chain.report());
}
"#,
    )?;
    println!("created contract crate `{crate_ident}` in {} (SDK {})", dir.display(), sdk.display());
    println!("  test:  cargo test --manifest-path {}/Cargo.toml", dir.display());
    println!("  build: strata contract build --manifest-path {}/Cargo.toml", dir.display());
    Ok(())
}
