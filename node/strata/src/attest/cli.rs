//! `strata attest …`: the daemon's flags, and the commands of owners and requesters.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, time::Duration};

use alloy_sol_types::{SolEvent, SolValue};
use anyhow::{Context, bail};
use serde_json::{Value, json};
use strata_primitives::{
    Address, B256, U256, hex,
    interfaces::{IArchive, IAttestation},
    keccak256,
    relay::receipt_logs,
    rlp_item::decode_exact,
    system::ARCHIVE_CONTRACT,
};

use super::{Attestor, Options, serve, source};
use crate::{
    client::{Node, RpcArgs, SignerArgs, parse_duration, quantity},
    hierarchy::{send, view},
};

/// `strata attest`: with no subcommand, run an attestor.
#[derive(clap::Args, Debug, Clone)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AttestArgs {
    /// What to do (none: run the attestor daemon).
    #[command(subcommand)]
    pub command: Option<AttestCommand>,
    /// The daemon's settings.
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

/// The attestor daemon's flags.
#[derive(clap::Args, Debug, Clone)]
pub struct DaemonArgs {
    /// The attestation contract.
    #[arg(long)]
    pub contract: Option<Address>,
    /// The sources this attestor reads (`[[source]]` tables: id, kind, url).
    #[arg(long)]
    pub sources: Option<PathBuf>,
    /// Where to serve `attest_pass` for the other attestors.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Another attestor: `ADDRESS=URL` of its `--listen` (repeat for each).
    #[arg(long = "peer", value_parser = parse_peer)]
    pub peers: Vec<(Address, String)>,
    /// How often the chain is polled for requests.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub poll: Duration,
    /// How long a passed set waits for this attestor's own read.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub hold: Duration,
    /// After signing, how long before an uncounted observation is submitted directly.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub pass_timeout: Duration,
    /// Longest wait between two reads of an unavailable source.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub max_backoff: Duration,
    /// Blocks scanned back for pending requests at start (default: the longest expiry).
    #[arg(long, default_value_t = strata_primitives::attestation::MAX_EXPIRY_BLOCKS)]
    pub lookback: u64,
    /// The node.
    #[command(flatten)]
    pub rpc: RpcArgs,
    /// The attestor's key (signs observations and its transactions).
    #[command(flatten)]
    pub signer: SignerArgs,
}

fn parse_peer(s: &str) -> Result<(Address, String), String> {
    let (a, url) = s.split_once('=').ok_or("expected ADDRESS=URL")?;
    Ok((a.trim().parse().map_err(|e| format!("{a}: {e}"))?, url.trim().to_string()))
}

/// A transaction to an attestation contract: which, through which node, signed by whom.
#[derive(clap::Args, Debug, Clone)]
pub struct ContractTx {
    /// The attestation contract.
    #[arg(long)]
    contract: Address,
    /// The node.
    #[command(flatten)]
    rpc: RpcArgs,
    /// Who signs.
    #[command(flatten)]
    signer: SignerArgs,
}

impl ContractTx {
    /// The node and the signer's key.
    async fn connect(&self) -> anyhow::Result<(Node, strata_primitives::LocalSigner)> {
        let node = Node::connect(&self.rpc.rpc)?;
        let key = self.signer.signer(node.chain_id().await?)?;
        Ok((node, key))
    }
}

/// Who is added or removed, where, by whom.
#[derive(clap::Args, Debug, Clone)]
pub struct AttestorArgs {
    /// The attestor's address.
    attestor: Address,
    /// The contract, the node and the owner's key.
    #[command(flatten)]
    tx: ContractTx,
}

/// `strata attest <command>`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum AttestCommand {
    /// Deploy an attestation contract (its module from `strata contract build` in
    /// contracts/attestation) and give it a storage quota; prints its address.
    Deploy {
        /// The contract's module.
        #[arg(long)]
        wasm: PathBuf,
        /// Who manages the attestors (default: the deployer).
        #[arg(long)]
        owner: Option<Address>,
        /// Hot-storage quota to buy for it, in bytes (a request keeps ~300 bytes; the
        /// quota's storage is paid up front, within one transaction's gas allowance).
        #[arg(long, default_value_t = 256 << 10)]
        quota: u64,
        /// The node.
        #[command(flatten)]
        rpc: RpcArgs,
        /// Who signs.
        #[command(flatten)]
        signer: SignerArgs,
    },
    /// Register an attestor (the owner or the chain's admin).
    AddAttestor(AttestorArgs),
    /// Remove an attestor (requests made before keep counting it).
    RemoveAttestor(AttestorArgs),
    /// Register a source (the signer owns it); prints its id.
    AddSource {
        /// `postgres`, `http` or `strata`.
        #[arg(long)]
        kind: String,
        /// Where it is, publicly (attestors configure how they reach it).
        #[arg(long)]
        endpoint: String,
        /// The contract, the node and the source owner's key.
        #[command(flatten)]
        tx: ContractTx,
    },
    /// Read a source as an attestor would: the canonical bytes (to --out, else stdout)
    /// and their keccak-256 (stderr). The requester's data file is made this way.
    Read {
        /// The sources file.
        #[arg(long)]
        sources: PathBuf,
        /// The source's id.
        #[arg(long)]
        source: u64,
        /// Read parameters: JSON, or @FILE.
        #[arg(long)]
        params: String,
        /// Write the bytes here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Anchor data for attestation; prints the request id.
    Request {
        /// The source's id.
        #[arg(long)]
        source: u64,
        /// Read parameters: JSON, or @FILE.
        #[arg(long)]
        params: String,
        /// The data (the canonical bytes of the read; see `strata attest read`).
        #[arg(long)]
        data_file: PathBuf,
        /// Blocks the attestors have.
        #[arg(long, default_value_t = 100)]
        expiry_blocks: u64,
        /// The contract, the node and the requester's key.
        #[command(flatten)]
        tx: ContractTx,
    },
    /// A request: its tally, each attestor's observation, and the deciding event with the
    /// receipt proof of its transaction.
    Status {
        /// The request id.
        id: u64,
        /// The attestation contract.
        #[arg(long)]
        contract: Address,
        /// Save the deciding transaction's receipt proof here (`strata audit receipt
        /// --offline FILE` verifies it).
        #[arg(long)]
        save: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The node.
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

fn params_arg(p: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = match p.strip_prefix('@') {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {path}"))?,
        None => p.as_bytes().to_vec(),
    };
    serde_json::from_slice::<Value>(&bytes).context("the read parameters must be JSON")?;
    Ok(bytes)
}

/// Runs `strata attest …`.
pub async fn run(args: AttestArgs) -> anyhow::Result<()> {
    match args.command {
        None => daemon(args.daemon).await,
        Some(command) => command_(command).await,
    }
}

async fn daemon(a: DaemonArgs) -> anyhow::Result<()> {
    let contract = a.contract.context("--contract is required")?;
    let sources = source::load(&a.sources.context("--sources is required")?)?;
    let node = Node::connect(&a.rpc.rpc)?;
    let key = a.signer.signer(node.chain_id().await?)?;
    let opts = Options {
        contract,
        peers: a.peers.into_iter().collect::<BTreeMap<_, _>>(),
        poll: a.poll,
        hold: a.hold,
        pass_timeout: a.pass_timeout,
        max_backoff: a.max_backoff,
        lookback: a.lookback,
    };
    let attestor = Attestor::new(node, key, sources, opts).await?;
    let bound = serve(attestor.clone(), a.listen).await?;
    println!("attestor {} serving attest_pass on http://{bound}", attestor.address());
    tokio::select! {
        r = attestor.run() => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

async fn command_(command: AttestCommand) -> anyhow::Result<()> {
    match command {
        AttestCommand::Deploy { wasm, owner, quota, rpc, signer } => {
            let node = Node::connect(&rpc.rpc)?;
            let key = signer.signer(node.chain_id().await?)?;
            let module = std::fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))?;
            let address = crate::hierarchy::cli::deploy(&node, &key, &module, &owner.unwrap_or_default().abi_encode()).await?;
            send(&node, &key, ARCHIVE_CONTRACT, U256::ZERO, &IArchive::setQuotaCall { target: address, quotaBytes: quota }).await?;
            println!("{address}");
        }
        AttestCommand::AddAttestor(a) => membership(a, true).await?,
        AttestCommand::RemoveAttestor(a) => membership(a, false).await?,
        AttestCommand::AddSource { kind, endpoint, tx } => {
            let (node, key) = tx.connect().await?;
            let receipt = send(&node, &key, tx.contract, U256::ZERO, &IAttestation::addSourceCall { kind, endpoint }).await?;
            let added = decoded::<IAttestation::SourceAdded>(&receipt).context("no SourceAdded in the receipt")?;
            println!("{}", added.sourceId);
        }
        AttestCommand::Read { sources, source, params, out } => {
            let sources = source::load(&sources)?;
            let s = sources.get(&source).with_context(|| format!("source {source} is not in the sources file"))?;
            let bytes = s.read(&params_arg(&params)?).await?;
            eprintln!("keccak256 {}", keccak256(&bytes));
            match out {
                Some(path) => std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?,
                None => {
                    use std::io::Write;
                    std::io::stdout().write_all(&bytes)?;
                }
            }
        }
        AttestCommand::Request { source, params, data_file, expiry_blocks, tx } => {
            let (node, key) = tx.connect().await?;
            let data = std::fs::read(&data_file).with_context(|| format!("reading {}", data_file.display()))?;
            let call = IAttestation::requestCall {
                sourceId: source,
                readParams: params_arg(&params)?.into(),
                dataHash: keccak256(&data),
                data: data.into(),
                expiryBlocks: expiry_blocks,
            };
            let receipt = send(&node, &key, tx.contract, U256::ZERO, &call).await?;
            let r = decoded::<IAttestation::Requested>(&receipt).context("no Requested in the receipt")?;
            println!("{}", r.requestId);
        }
        AttestCommand::Status { id, contract, save, json, rpc } => status(id, contract, save, json, &rpc.rpc).await?,
    }
    Ok(())
}

/// Adds (or removes) an attestor.
async fn membership(a: AttestorArgs, add: bool) -> anyhow::Result<()> {
    let (node, key) = a.tx.connect().await?;
    let (attestor, contract) = (a.attestor, a.tx.contract);
    if add {
        send(&node, &key, contract, U256::ZERO, &IAttestation::addAttestorCall { attestor }).await?;
    } else {
        send(&node, &key, contract, U256::ZERO, &IAttestation::removeAttestorCall { attestor }).await?;
    }
    println!("attestor {attestor} {}", if add { "added" } else { "removed" });
    Ok(())
}

/// The first `E` in a receipt's logs.
fn decoded<E: SolEvent>(receipt: &Value) -> Option<E> {
    receipt["logs"].as_array()?.iter().find_map(|l| decode_log::<E>(l))
}

fn decode_log<E: SolEvent>(log: &Value) -> Option<E> {
    let topics: Vec<B256> = log["topics"].as_array()?.iter().filter_map(|t| t.as_str()?.parse().ok()).collect();
    if topics.first() != Some(&E::SIGNATURE_HASH) {
        return None;
    }
    let data = hex::decode(log["data"].as_str()?.trim_start_matches("0x")).ok()?;
    E::decode_raw_log(topics, &data).ok()
}

fn status_name(status: u8) -> &'static str {
    ["pending", "attested", "rejected", "expired"].get(usize::from(status)).copied().unwrap_or("unknown")
}

/// Logs of the contract whose first topic is one of `events` and second is `id`.
async fn request_logs(node: &Node, contract: Address, id: u64, events: &[B256], expiry: u64) -> anyhow::Result<Vec<Value>> {
    let head = quantity(&node.request("eth_blockNumber", vec![]).await?)?;
    let to = head;
    // The request's own block is at most MAX_EXPIRY_BLOCKS before its expiry; outcomes
    // come after. Scanned in windows the node accepts.
    let mut from = expiry.saturating_sub(strata_primitives::attestation::MAX_EXPIRY_BLOCKS);
    let mut out = Vec::new();
    while from <= to {
        let end = to.min(from + 9_999);
        let filter = json!({"fromBlock": format!("{from:#x}"), "toBlock": format!("{end:#x}"), "address": contract, "topics": [events, B256::from(U256::from(id))]});
        out.extend(node.request("eth_getLogs", vec![filter]).await?.as_array().cloned().unwrap_or_default());
        from = end + 1;
    }
    Ok(out)
}

async fn status(id: u64, contract: Address, save: Option<PathBuf>, as_json: bool, url: &str) -> anyhow::Result<()> {
    let node = Node::connect(url)?;
    let info = view(&node, contract, &IAttestation::requestInfoCall { requestId: id }).await?;
    let events = [
        IAttestation::Observed::SIGNATURE_HASH,
        IAttestation::SignatureIgnored::SIGNATURE_HASH,
        IAttestation::Attested::SIGNATURE_HASH,
        IAttestation::Rejected::SIGNATURE_HASH,
        IAttestation::Expired::SIGNATURE_HASH,
    ];
    let logs = request_logs(&node, contract, id, &events, info.expiry).await?;
    let mut observations = Vec::new();
    let mut ignored = Vec::new();
    let mut outcome = None;
    for log in &logs {
        if let Some(o) = decode_log::<IAttestation::Observed>(log) {
            observations.push(json!({"attestor": o.attestor, "observedHash": o.observedHash, "matches": o.matches, "late": o.late, "transactionHash": log["transactionHash"]}));
        } else if let Some(i) = decode_log::<IAttestation::SignatureIgnored>(log) {
            ignored.push(json!({"signer": i.signer, "reason": i.reason, "transactionHash": log["transactionHash"]}));
        } else if outcome.is_none() {
            outcome = Some(log.clone());
        }
    }
    let mut out = json!({
        "requestId": id, "requester": info.requester, "sourceId": info.sourceId, "dataHash": info.dataHash,
        "expiry": info.expiry, "attestors": info.attestorCount, "quorum": info.quorum, "status": status_name(info.status),
        "confirmations": info.confirmations, "mismatches": info.mismatches, "late": info.late,
        "observations": observations, "ignored": ignored,
    });
    if let Some(log) = outcome {
        let tx = log["transactionHash"].clone();
        let answer = node.request("strata_getReceiptProof", vec![tx.clone()]).await?;
        let bundle_hex = answer["bundle"].as_str().context("the node gave no receipt proof")?;
        let bundle: strata_primitives::audit::ReceiptBundle = decode_exact(&hex::decode(bundle_hex.trim_start_matches("0x"))?)
            .map_err(|e| anyhow::anyhow!("the receipt proof does not decode: {e}"))?;
        // The deciding event as the proven receipt holds it (not as eth_getLogs says).
        let proven = receipt_logs(&bundle.receipt).map_err(|e| anyhow::anyhow!("the proven receipt does not decode: {e}"))?;
        let event = proven
            .iter()
            .filter(|l| l.address == contract)
            .find_map(|l| {
                if let Ok(e) = IAttestation::Attested::decode_log_data(&l.data) {
                    return (e.requestId == id)
                        .then(|| json!({"event": "Attested", "dataHash": e.dataHash, "confirmations": e.confirmations}));
                }
                if let Ok(e) = IAttestation::Rejected::decode_log_data(&l.data) {
                    return (e.requestId == id).then(|| json!({"event": "Rejected", "dataHash": e.dataHash, "mismatches": e.mismatches}));
                }
                if let Ok(e) = IAttestation::Expired::decode_log_data(&l.data) {
                    return (e.requestId == id)
                        .then(|| json!({"event": "Expired", "confirmations": e.confirmations, "mismatches": e.mismatches}));
                }
                None
            })
            .context("the proven receipt holds no outcome of this request")?;
        out["outcome"] = json!({
            "event": event, "transactionHash": tx, "blockNumber": bundle.header.number,
            "receiptsRoot": bundle.header.receipts_root, "proofNodes": bundle.proof.len(),
            "audit": format!("strata audit receipt {} --rpc {url}", tx.as_str().unwrap_or_default()),
        });
        if let Some(path) = save {
            std::fs::write(&path, serde_json::to_string_pretty(&answer)?).with_context(|| format!("writing {}", path.display()))?;
            out["outcome"]["saved"] = json!(path);
        }
    } else if save.is_some() {
        bail!("request {id} has no outcome yet: nothing to save");
    }
    if as_json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "request {id}: {} ({} of {} confirmations needed, {} confirmed, {} differing, {} late; expiry block {})",
        out["status"].as_str().unwrap_or_default(),
        info.quorum,
        info.attestorCount,
        info.confirmations,
        info.mismatches,
        info.late,
        info.expiry
    );
    println!("  data hash {} from source {} by {}", info.dataHash, info.sourceId, info.requester);
    for o in out["observations"].as_array().into_iter().flatten() {
        println!(
            "  {} observed {}{}{}",
            o["attestor"],
            o["observedHash"],
            if o["matches"] == true { " (matches)" } else { " (differs)" },
            if o["late"] == true { " late" } else { "" }
        );
    }
    for i in out["ignored"].as_array().into_iter().flatten() {
        println!("  ignored {}: {}", i["signer"], i["reason"]);
    }
    if let Some(o) = out.get("outcome") {
        println!("  outcome {} in block {} by transaction {}", o["event"], o["blockNumber"], o["transactionHash"]);
        println!(
            "  receipt proven against receiptsRoot {} ({} nodes); verify: {}",
            o["receiptsRoot"],
            o["proofNodes"],
            o["audit"].as_str().unwrap_or_default()
        );
    }
    Ok(())
}
