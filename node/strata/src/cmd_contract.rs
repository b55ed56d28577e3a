//! `strata contract …`: scaffold, build, deploy and call contracts, typed by their ABI.

use std::path::PathBuf;

use alloy_dyn_abi::JsonAbiExt;
use alloy_json_abi::JsonAbi;
use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use strata_primitives::{TxKind, hex};

use crate::{
    abi,
    client::{self, Node, TxArgs},
    contract,
};

#[derive(Subcommand)]
pub enum ContractCommand {
    /// Create a new contract crate (a counter with a harness test) in DIR, depending on
    /// the SDK this binary carries (unpacked under the user's data directory).
    New {
        /// Directory to create; its name is the crate's.
        dir: PathBuf,
    },
    /// Build a contract crate for wasm32v1-none (release profile), check its size, and write
    /// `<name>.wasm`, its ABI `<name>.abi.json`, `<name>.bin` (what Ethereum clients deploy)
    /// and `<name>.build.json` (toolchain, flags, code hash).
    Build {
        /// The contract crate's Cargo.toml.
        #[arg(long, default_value = "Cargo.toml")]
        manifest_path: PathBuf,
        /// Output directory (default: `<crate>/target/strata`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Refuse to change Cargo.lock (as `cargo build --locked`).
        #[arg(long)]
        locked: bool,
    },
    /// Empty the functions of a linked module that no call can reach (what `build` does
    /// after linking: `core::fmt` code kept only by the function table), in place or
    /// into OUT. For modules built by other pipelines, and the system contracts' script.
    Shrink {
        /// The linked `.wasm` module.
        wasm: PathBuf,
        /// Where to write the result (default: over WASM).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check that the code deployed at ADDRESS is what a contract crate builds to: rebuild
    /// it (reproducibly; `--locked` by default) and compare the module's hash with the
    /// account's code hash, proven against the state root of the newest certified block
    /// from the trust root (`--genesis …`) — the node is not trusted. The ABI written
    /// beside the build is then the deployed contract's (its code carries the same).
    Verify {
        /// The deployed contract.
        address: String,
        /// The contract crate's Cargo.toml.
        #[arg(long, default_value = "Cargo.toml")]
        manifest_path: PathBuf,
        /// Output directory of the rebuild (default: `<crate>/target/strata`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Allow the rebuild to update Cargo.lock (then it may not be the deployed build).
        #[arg(long)]
        unlocked: bool,
        #[command(flatten)]
        rpc: client::RpcArgs,
        #[command(flatten)]
        trust: crate::audit::TrustArgs,
    },
    /// Print the Solidity ABI JSON embedded in a compiled module (e.g. a system contract's
    /// committed artifact, `runtime/executor/system-contracts/archive.wasm`).
    Abi {
        /// The `.wasm` module.
        wasm: PathBuf,
    },
    /// Deploy a module; constructor arguments are typed by the ABI the module carries.
    Deploy {
        /// The `.wasm` module.
        wasm: PathBuf,
        /// Constructor arguments, typed by the constructor's ABI (`--args "Tok" "TOK" 1000000`);
        /// they run to the next option, and may be negative numbers.
        #[arg(long, num_args = 1.., allow_negative_numbers = true, conflicts_with = "args_hex")]
        args: Vec<String>,
        /// Constructor input as raw hex (ABI-encoded arguments) instead.
        #[arg(long)]
        args_hex: Option<String>,
        /// Ether sent with the deploy (`1ether`, `20gwei`, wei).
        #[arg(long, default_value = "0", value_parser = abi::parse_amount)]
        value: strata_primitives::U256,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Call a contract function: view and pure functions with eth_call (prints the
    /// decoded return value), others as a signed transaction (prints the receipt with its
    /// events decoded).
    Call {
        /// Contract address.
        address: String,
        /// `name` (looked up in the ABI the contract carries, or --abi), or a signature:
        /// `"transfer(address,uint256)"`, `"balanceOf(address)(uint256)"`. Omit with --data.
        function: Option<String>,
        /// Arguments, typed by the function's parameters (negative numbers allowed).
        #[arg(allow_negative_numbers = true)]
        args: Vec<String>,
        /// ABI file (a JSON array, or an artifact with an `abi` field) instead of the one
        /// the contract's code carries.
        #[arg(long)]
        abi: Option<PathBuf>,
        /// Raw calldata (selector ++ arguments) instead of a function and arguments.
        #[arg(long, conflicts_with = "function")]
        data: Option<String>,
        /// Ether sent with the call (`1ether`, `20gwei`, wei).
        #[arg(long, default_value = "0", value_parser = abi::parse_amount)]
        value: strata_primitives::U256,
        /// Simulate with eth_call even if the function changes state.
        #[arg(long, conflicts_with = "send")]
        view: bool,
        /// Send a transaction even if the function is a view.
        #[arg(long)]
        send: bool,
        /// Block a simulation reads (`latest`, `pending`, a number).
        #[arg(long, default_value = "latest")]
        block: String,
        #[command(flatten)]
        tx: TxArgs,
    },
}

/// Runs one `strata contract` command.
pub async fn run(command: ContractCommand) -> anyhow::Result<()> {
    match command {
        ContractCommand::New { dir } => crate::scaffold::new_contract(&dir),
        ContractCommand::Build { manifest_path, out, locked } => {
            let built = contract::build_contract(&manifest_path, out.as_deref(), strata_vm::Limits::default().max_code_size, locked)?;
            println!("{} ({} bytes, code hash {})", built.wasm.display(), built.size, built.code_hash);
            println!("{} ({} entries)", built.abi.display(), built.abi_entries);
            Ok(())
        }
        ContractCommand::Shrink { wasm, out } => {
            let module = std::fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))?;
            let shrunk = strata_harness::shrink::shrink(&module).with_context(|| format!("parsing {}", wasm.display()))?;
            let dest = out.unwrap_or(wasm);
            std::fs::write(&dest, &shrunk).with_context(|| format!("writing {}", dest.display()))?;
            println!("{} ({} bytes, was {})", dest.display(), shrunk.len(), module.len());
            Ok(())
        }
        ContractCommand::Abi { wasm } => {
            let module = std::fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))?;
            println!("{}", serde_json::to_string_pretty(&contract::extract_abi(&module)?)?);
            Ok(())
        }
        ContractCommand::Verify { address, manifest_path, out, unlocked, rpc, trust } => {
            verify(&address, &manifest_path, out.as_deref(), !unlocked, &rpc.rpc, &trust).await
        }
        ContractCommand::Deploy { wasm, args, args_hex, value, tx } => deploy(wasm, args, args_hex, value, tx).await,
        ContractCommand::Call { address, function, args, abi, data, value, view, send, block, tx } => {
            call(Call { address, function, args, abi_file: abi, data, value, view, send, block, tx }).await
        }
    }
}

async fn verify(
    address: &str,
    manifest: &std::path::Path,
    out: Option<&std::path::Path>,
    locked: bool,
    rpc: &str,
    trust: &crate::audit::TrustArgs,
) -> anyhow::Result<()> {
    let target = client::address_arg(address)?;
    let root = trust.root()?;
    let built = contract::build_contract(manifest, out, strata_vm::Limits::default().max_code_size, locked)?;
    println!("built {} ({} bytes, code hash {})", built.wasm.display(), built.size, built.code_hash);
    let node = Node::connect(rpc)?;
    let head = client::quantity(&node.request("eth_blockNumber", vec![]).await?)?;
    // The head's certificate may still be gathering: the newest certified block of the last few.
    let mut at = None;
    for n in (head.saturating_sub(3)..=head).rev() {
        let cert = node.request("strata_getCommitCertificate", vec![json!(format!("{n:#x}"))]).await?;
        if let Some(raw) = cert.get("raw").and_then(|r| r.as_str()) {
            at = Some((n, raw.to_string()));
            break;
        }
    }
    let (n, cert) =
        at.with_context(|| format!("none of blocks {}..={head} has a commit certificate on this node", head.saturating_sub(3)))?;
    let tag = json!(format!("{n:#x}"));
    let proof = node.request("strata_getProof", vec![json!(target), json!([]), tag.clone()]).await?;
    let header = node.request("debug_getRawHeader", vec![tag.clone()]).await?;
    let set = node.request("strata_getValidatorSetProof", vec![tag]).await?;
    let bytes = |v: &serde_json::Value, what: &str| -> anyhow::Result<Vec<u8>> {
        hex::decode(v.as_str().with_context(|| format!("no {what} in the node's answer"))?).with_context(|| format!("{what} is not hex"))
    };
    let trusted = strata_verify::TrustRoot::new(root.chain_id, root.validators.validators.clone())?;
    println!("trusting {} (chain {})", root.source, root.chain_id);
    // The query is ours: an answer for another account or block is refused.
    let query = strata_verify::StateQuery { address: target, keys: Vec::new(), block: Some(n), code: None };
    let proven = strata_verify::verify_state(
        &proof,
        &query,
        &bytes(&header, "header")?,
        &hex::decode(&cert)?,
        &bytes(&set["proof"], "set proof")?,
        &trusted,
    )
    .map_err(|e| anyhow::anyhow!("NOT VERIFIED: the account is not proven: {e}"))?;
    let deployed = proven.code_hash();
    if deployed == strata_primitives::KECCAK_EMPTY {
        anyhow::bail!("NOT VERIFIED: no code at {target} at block {n} (proven)");
    }
    if deployed != built.code_hash {
        anyhow::bail!(
            "NOT VERIFIED: the code at {target} has hash {deployed} (proven at block {n}); {} builds to {}",
            manifest.display(),
            built.code_hash
        );
    }
    println!(
        "VERIFIED: the code at {target} is what {} builds to (code hash {deployed}, proven against block {n}'s state root, finalized by validators {:?})",
        manifest.display(),
        proven.block.signers
    );
    println!("ABI: {} ({} entries)", built.abi.display(), built.abi_entries);
    Ok(())
}

async fn deploy(
    wasm: PathBuf,
    args: Vec<String>,
    args_hex: Option<String>,
    value: strata_primitives::U256,
    tx: TxArgs,
) -> anyhow::Result<()> {
    let module = std::fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))?;
    let abi = abi::from_module(&module)?;
    let ctor_input = match (&args_hex, abi.as_ref().and_then(|a| a.constructor())) {
        (Some(h), _) => client::hex_arg(h)?,
        (None, Some(ctor)) => {
            let values = abi::coerce_args(&ctor.inputs, &args).context("constructor arguments")?;
            ctor.abi_encode_input(&values)?
        }
        (None, None) if args.is_empty() => Vec::new(),
        (None, None) => anyhow::bail!("the module declares no constructor in its ABI: pass raw input with --args-hex"),
    };
    let mut node = Node::connect(&tx.rpc.rpc)?;
    let key = tx.signer.signer(node.chain_id().await?)?;
    let data = strata_primitives::deploy::encode(&module, &ctor_input);
    let receipt = node.transact(&key, TxKind::Create, value, data, tx.gas, abi.as_ref()).await?;
    node.report(&receipt, abi.as_ref(), &tx, "contractAddress").await
}

struct Call {
    address: String,
    function: Option<String>,
    args: Vec<String>,
    abi_file: Option<PathBuf>,
    data: Option<String>,
    value: strata_primitives::U256,
    view: bool,
    send: bool,
    block: String,
    tx: TxArgs,
}

async fn call(c: Call) -> anyhow::Result<()> {
    let to = client::address_arg(&c.address)?;
    let mut node = Node::connect(&c.tx.rpc.rpc)?;
    let abi: Option<JsonAbi> = match &c.abi_file {
        Some(path) => Some(abi::load_file(path)?),
        None => node.abi_at(to).await?,
    };
    let (input, function) = match (&c.data, &c.function) {
        (Some(d), _) => (client::hex_arg(d)?, None),
        (None, Some(spec)) => {
            let f = abi::resolve_function(spec, abi.as_ref(), c.args.len())?;
            let values = abi::coerce_args(&f.inputs, &c.args).with_context(|| format!("arguments of {}", f.signature()))?;
            (f.abi_encode_input(&values)?, Some(f))
        }
        (None, None) => anyhow::bail!("name a function (or a signature), or give --data"),
    };
    let read_only = c.view || (!c.send && function.as_ref().is_some_and(abi::is_read_only));
    if read_only {
        let mut req = json!({"to": to, "data": format!("0x{}", hex::encode(&input)), "value": c.value});
        if c.tx.signer.given() {
            req["from"] = json!(c.tx.signer.signer(node.chain_id().await?)?.address());
        }
        let out = match node.request("eth_call", vec![req, block_param(&c.block)]).await {
            Ok(out) => out,
            Err(e) => match client::revert_data(&e) {
                Some(data) => anyhow::bail!("reverted: {}", abi::format_revert(abi.as_ref(), &data)),
                None => return Err(e),
            },
        };
        let raw = out.as_str().unwrap_or_default();
        if c.tx.json || function.is_none() {
            println!("{raw}");
            return Ok(());
        }
        let bytes = client::hex_arg(raw)?;
        let f = function.as_ref().expect("function is set when not --data");
        println!("{}", abi::format_output(f, &bytes));
        return Ok(());
    }
    let key = c.tx.signer.signer(node.chain_id().await?)?;
    let receipt = node.transact(&key, TxKind::Call(to), c.value, input, c.tx.gas, abi.as_ref()).await?;
    node.report(&receipt, abi.as_ref(), &c.tx, "transactionHash").await
}

/// A block parameter: a tag, or a decimal or hex number.
pub fn block_param(s: &str) -> serde_json::Value {
    match s.parse::<u64>() {
        Ok(n) => json!(format!("0x{n:x}")),
        Err(_) => json!(s),
    }
}
