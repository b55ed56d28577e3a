//! `strata contract …`: build, deploy and call contracts from the command line.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::{Context, bail};
use jsonrpsee::{
    core::{client::ClientT, params::ArrayParams},
    http_client::HttpClientBuilder,
};
use serde_json::{Value, json};
use strata_primitives::{Address, B256, Bytes, LocalSigner, TxKind, U256, deploy, hex, keccak256, transaction::build};

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

/// Custom section where `#[contract]`, `#[event]` and `#[error]` put their ABI fragments.
pub const ABI_SECTION: &str = "strata_abi";

/// The contract's ABI, assembled from the fragments in its `strata_abi` section:
/// constructor, functions, events, errors, each group by name.
pub fn extract_abi(wasm: &[u8]) -> anyhow::Result<Vec<Value>> {
    let mut entries = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::CustomSection(section) = payload.context("parsing the module")?
            && section.name() == ABI_SECTION
        {
            let text = std::str::from_utf8(section.data()).context("ABI section is not UTF-8")?;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                entries.push(serde_json::from_str::<Value>(line).with_context(|| format!("bad ABI fragment {line:?}"))?);
            }
        }
    }
    let rank = |v: &Value| match v["type"].as_str() {
        Some("constructor") => 0,
        Some("function") => 1,
        Some("event") => 2,
        _ => 3,
    };
    entries.sort_by(|a, b| (rank(a), a["name"].as_str()).cmp(&(rank(b), b["name"].as_str())));
    entries.dedup();
    Ok(entries)
}

fn package_name(manifest: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(name) = line.strip_prefix("name") {
            return Ok(name.trim_start_matches([' ', '=']).trim().trim_matches('"').replace('-', "_"));
        }
    }
    bail!("{} has no [package] name", manifest.display())
}

fn target_dir(manifest_dir: &Path) -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    for a in manifest_dir.ancestors() {
        if std::fs::read_to_string(a.join("Cargo.toml")).is_ok_and(|s| s.contains("[workspace]")) {
            return a.join("target");
        }
    }
    manifest_dir.join("target")
}

/// Builds a contract crate for [`TARGET`] with the release profile, checks its size and
/// writes `<out>/<name>.wasm`, its Solidity ABI `<name>.abi.json` (from the module's
/// `strata_abi` section), `<name>.bin` (the deploy bytecode Ethereum clients take: they
/// append constructor arguments) and `<name>.build.json` (toolchain, target, flags, code hash)
/// so the build can be reproduced and checked.
pub fn build_contract(manifest: &Path, out: Option<&Path>, max_size: usize) -> anyhow::Result<Built> {
    let manifest = manifest.canonicalize().with_context(|| format!("no contract manifest at {}", manifest.display()))?;
    let dir = manifest.parent().context("manifest has no directory")?.to_path_buf();
    let name = package_name(&manifest)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Reproducible: the lock file pins every dependency (created on the first build of a new
    // crate), and no host-specific flags apply: same source and toolchain, same bytes.
    let locked = dir.ancestors().any(|a| a.join("Cargo.lock").is_file());
    let mut command = Command::new(&cargo);
    command.args(["build", "--release", "--target", TARGET, "--manifest-path"]).arg(&manifest);
    if locked {
        command.arg("--locked");
    }
    let status = command.env_remove("RUSTFLAGS").env("CARGO_ENCODED_RUSTFLAGS", "").status().context("running cargo")?;
    if !status.success() {
        bail!("cargo build for {TARGET} failed");
    }
    let built = target_dir(&dir).join(TARGET).join("release").join(format!("{name}.wasm"));
    let wasm = std::fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
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
        "profile": "release (opt-level z, lto, codegen-units 1, panic abort; see the workspace Cargo.toml)",
        "command": format!("cargo build --locked --release --target {TARGET} --manifest-path {}", manifest.display()),
    });
    std::fs::write(out.join(format!("{name}.build.json")), serde_json::to_string_pretty(&record)?)?;
    Ok(Built { wasm: dest, size: wasm.len(), code_hash: keccak256(&wasm), abi, abi_entries: abi_entries.len() })
}

/// Who signs: a key file (hex private key) or one of the public dev keys.
pub fn signer(key_file: Option<&Path>, dev_key: Option<usize>) -> anyhow::Result<LocalSigner> {
    match (key_file, dev_key) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading key file {}", path.display()))?;
            let secret: B256 = text.trim().parse().context("the key file must hold a 32-byte hex private key")?;
            Ok(LocalSigner::from_bytes(&secret)?)
        }
        (None, Some(i)) => {
            let keys = strata_primitives::keys::derive_accounts(strata_primitives::keys::DEV_MNEMONIC, 10)?;
            Ok(keys.get(i).context("dev keys are numbered 0 to 9")?.signer.clone())
        }
        (None, None) => bail!("say who signs: --key-file FILE or --dev-key N (public test keys, dev chains only)"),
    }
}

/// A JSON-RPC connection to a node.
pub struct Node {
    client: jsonrpsee::http_client::HttpClient,
}

impl Node {
    /// Connects to `url`.
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        Ok(Self { client: HttpClientBuilder::default().request_timeout(Duration::from_secs(60)).build(url)? })
    }

    /// One call.
    pub async fn request(&self, method: &str, params: Vec<Value>) -> anyhow::Result<Value> {
        let mut p = ArrayParams::new();
        for v in params {
            p.insert(v)?;
        }
        self.client.request(method, p).await.with_context(|| format!("{method} failed"))
    }

    fn quantity(v: &Value) -> anyhow::Result<u64> {
        let s = v.as_str().context("expected a hex quantity")?;
        Ok(u64::from_str_radix(s.trim_start_matches("0x"), 16)?)
    }

    /// Signs and sends a transaction (gas estimated unless given) and waits for its receipt.
    pub async fn transact(&self, key: &LocalSigner, to: TxKind, value: U256, input: Vec<u8>, gas: Option<u64>) -> anyhow::Result<Value> {
        let chain_id = Self::quantity(&self.request("eth_chainId", vec![]).await?)?;
        let nonce = Self::quantity(&self.request("eth_getTransactionCount", vec![json!(key.address()), "pending".into()]).await?)?;
        let gas = match gas {
            Some(g) => g,
            None => {
                let mut req = json!({"from": key.address(), "value": value, "data": format!("0x{}", hex::encode(&input))});
                if let TxKind::Call(a) = to {
                    req["to"] = json!(a);
                }
                Self::quantity(&self.request("eth_estimateGas", vec![req]).await?)?
            }
        };
        let tip = u128::from(Self::quantity(&self.request("eth_maxPriorityFeePerGas", vec![]).await?)?);
        let head = self.request("eth_getBlockByNumber", vec!["latest".into(), false.into()]).await?;
        let base = u128::from(Self::quantity(&head["baseFeePerGas"])?);
        let tx = build::eip1559(chain_id, nonce, to, value, Bytes::from(input), gas, base * 2 + tip, tip);
        let raw = key.sign_transaction(tx)?.encoded();
        let hash = self.request("eth_sendRawTransaction", vec![json!(format!("0x{}", hex::encode(&raw)))]).await?;
        for _ in 0..600 {
            let receipt = self.request("eth_getTransactionReceipt", vec![hash.clone()]).await?;
            if !receipt.is_null() {
                return Ok(receipt);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("no receipt for {hash} after 60 s")
    }
}

/// Parses `0x…` hex (empty allowed).
pub fn hex_arg(s: &str) -> anyhow::Result<Vec<u8>> {
    hex::decode(s.trim_start_matches("0x")).with_context(|| format!("{s:?} is not hex"))
}

/// Deploy data for a module file and constructor input.
pub fn deploy_data(wasm: &Path, ctor: &[u8]) -> anyhow::Result<Vec<u8>> {
    let module = std::fs::read(wasm).with_context(|| format!("reading {}", wasm.display()))?;
    Ok(deploy::encode(&module, ctor))
}

/// Parses an address argument.
pub fn address_arg(s: &str) -> anyhow::Result<Address> {
    s.parse().with_context(|| format!("{s:?} is not an address"))
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
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk").canonicalize().context("locating the SDK")?;
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
strata-sdk = {{ path = "{sdk}/strata-sdk" }}

[dev-dependencies]
strata-harness = {{ path = "{sdk}/harness" }}

# Its own workspace; the release profile makes small, reproducible Wasm.
[workspace]

# Tests run the runtime (wasmtime) natively: optimise dependencies, and share
# builds with the Strata workspace when CARGO_TARGET_DIR points at the same cache.
[profile.dev]
debug = "line-tables-only"

[profile.dev.package."*"]
opt-level = 2
debug = false

[profile.release]
opt-level = "z"
lto = true
codegen-units = 1
panic = "abort"
strip = true
overflow-checks = true
"#,
            sdk = sdk.display()
        ),
    )?;
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
    println!("created contract crate `{crate_ident}` in {}", dir.display());
    println!("  test:  cargo test --manifest-path {}/Cargo.toml", dir.display());
    println!("  build: strata contract build --manifest-path {}/Cargo.toml", dir.display());
    Ok(())
}
