//! `strata relay`: carries events of one chain to contracts of another.
//!
//! Each `--route SOURCE:Event=DEST:function` names a contract's event on the source
//! chain and a function `function(bytes relayed)` on the destination that takes it as
//! an RLP `RelayedLog` (receipt, proofs, header, commit certificate, log index). The
//! relayer keeps the destination's registry current: the source's validator-set
//! switches (`updateValidators`, from `strata_getValidatorSetProof`), a checkpoint every
//! `--checkpoint-every` blocks so that time passes on the destination (a deal contract
//! slashes by it), and one at or above an event whose destination needs it first
//! (`checkpoint`, from `debug_getRawHeader` and `strata_getCommitCertificate`). The
//! storage contracts do not: they call the registry's `verifyLogAndCheckpoint`, which
//! checkpoints the relayed block itself, so a fresh event settles in one transaction.
//!
//! **Exactly once, across crashes.** Nothing is sent that the destination would refuse:
//! every delivery is estimated first, and an event already settled (or any other
//! refusal) is logged and skipped, never sent. At start the relayer waits until its own
//! transactions of a previous run are mined, so a restart cannot race them. A state file
//! (`--state`) remembers how far it got; without it (or if it is lost) the relayer scans
//! from `--start-block` again and skips what the destination already settled.
//!
//! **Backlog and live.** Blocks behind the source's head at start are the backlog; newer
//! ones are live. Each round delivers the live blocks first, then at most
//! `--backlog-events` events of backlog, so a long backlog holds new events up by at
//! most that many deliveries.
//!
//! **Refusals.** A delivery the destination refuses for good (settled already, not
//! acceptable) is skipped; one that time may cure (the checkpoint not there yet) is
//! retried, as is one that failed on chain but would pass now. A checkpoint refused for
//! any reason but being stale stops the round with the reason. After a failed round the
//! relayer waits until its sent transactions are mined before it estimates again.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use alloy_sol_types::SolValue;
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use strata_primitives::{
    Address, B256, Bytes, LocalSigner, Log, LogData, TxKind, U256,
    audit::ReceiptBundle,
    interfaces::IChainRegistry,
    keccak256,
    relay::{RelayedLog, receipt_logs},
    rlp_item::decode_exact,
    set_proof::SetProof,
    system::CHAIN_REGISTRY,
};

use super::{Reverted, block_hash, estimate, head, hex_field, hex_value, send, view};
use crate::client::{Node, SignerArgs, parse_duration, quantity};

/// `strata relay`.
#[derive(clap::Args, Debug, Clone)]
pub struct RelayArgs {
    /// The source chain's JSON-RPC URL.
    #[arg(long)]
    pub from: String,
    /// The destination chain's JSON-RPC URL.
    #[arg(long)]
    pub to: String,
    /// Who signs the destination's transactions.
    #[command(flatten)]
    pub signer: SignerArgs,
    /// `SOURCE_CONTRACT:Event=DEST_CONTRACT:function` (repeatable): each `Event` of
    /// `SOURCE_CONTRACT` (a name the contract's ABI knows, or a full signature) goes to
    /// `function(bytes)` of `DEST_CONTRACT`. None: the relayer only keeps the
    /// destination's checkpoint of the source current.
    #[arg(long = "route")]
    pub routes: Vec<String>,
    /// The destination's chain registry.
    #[arg(long, default_value_t = CHAIN_REGISTRY)]
    pub registry: Address,
    /// Where the relayer remembers how far it got (JSON; written after each range).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// The first source block to scan when there is no state.
    #[arg(long, default_value_t = 1)]
    pub start_block: u64,
    /// Checkpoint the source at least every this many of its blocks.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_every: u64,
    /// Blocks per `eth_getLogs` request.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    pub chunk: u64,
    /// Most backlog events delivered per round (live events go first every round).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..))]
    pub backlog_events: u64,
    /// How often to look for new blocks when idle.
    #[arg(long, default_value = "300ms", value_parser = parse_duration)]
    pub poll: Duration,
}

/// One parsed `--route`.
#[derive(Debug, Clone)]
struct Route {
    source: Address,
    topic: B256,
    event: String,
    dest: Address,
    selector: [u8; 4],
    function: String,
}

/// How far the relayer got: blocks below `backlog_next` (up to `backlog_end`) and below
/// `live_next` are delivered.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
struct Progress {
    backlog_next: u64,
    backlog_end: u64,
    live_next: u64,
}

fn load_state(path: &Path) -> anyhow::Result<Option<Progress>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| format!("{} is not a relay state", path.display()))?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes the state atomically (a crash leaves the old or the new file, never half).
fn save_state(path: &Path, p: &Progress) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(&serde_json::to_vec(p)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {}", tmp.display()))?;
    Ok(())
}

/// What the destination says to a delivery ([`Relayer::estimate_delivery`]).
enum Estimate {
    Gas(u64),
    Refused,
    NotYet(String),
}

struct Relayer {
    args: RelayArgs,
    src: Node,
    dst: Node,
    key: LocalSigner,
    routes: Vec<Route>,
    source_chain: u64,
    /// The destination registry's last checkpoint of the source, as last seen.
    checkpointed: u64,
}

/// Runs the relayer until it is killed (or a configuration error stops it).
pub async fn run(args: RelayArgs) -> anyhow::Result<()> {
    let mut src = Node::connect(&args.from)?;
    let mut dst = Node::connect(&args.to)?;
    let dest_chain = dst.chain_id().await?;
    let key = args.signer.signer(dest_chain)?;
    let source_chain = src.chain_id().await?;
    let mut routes = Vec::new();
    for r in &args.routes {
        routes.push(parse_route(r, &mut src, &mut dst).await?);
    }
    // The destination must follow this very chain (same id and genesis).
    let info = view(&dst, args.registry, &IChainRegistry::chainInfoCall { chainId: source_chain }).await?;
    if !info.known {
        bail!(
            "the registry {} of chain {dest_chain} does not follow chain {source_chain}: register it first (strata chain register)",
            args.registry
        );
    }
    let genesis = block_hash(&src, 0).await?;
    if info.genesisHash != genesis {
        bail!("chain {source_chain} at {} has genesis {genesis}, the registry follows one with genesis {}", args.from, info.genesisHash);
    }
    let mut relayer = Relayer { args, src, dst, key, routes, source_chain, checkpointed: info.checkpointHeight };
    relayer.wait_for_own_transactions().await?;
    let head_now = head(&relayer.src).await?;
    let state_path = relayer.args.state.clone();
    let saved = state_path.as_deref().map(load_state).transpose()?.flatten();
    let mut progress = Progress::resume(saved, relayer.args.start_block, head_now);
    let mut written: Option<Progress> = None;
    tracing::info!(
        from = relayer.source_chain,
        to = dest_chain,
        routes = relayer.routes.len(),
        backlog = ?(progress.backlog_next..=progress.backlog_end),
        live_from = progress.live_next,
        checkpoint = relayer.checkpointed,
        relayer = %relayer.key.address(),
        "relaying"
    );
    loop {
        let worked = match relayer.round(&mut progress).await {
            Ok(worked) => worked,
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "relay round failed; retrying");
                // A send whose receipt was not seen may still land: wait it out before
                // anything is estimated again, or the same event could go twice.
                if let Err(e) = relayer.wait_for_own_transactions().await {
                    tracing::warn!(error = format!("{e:#}"), "still waiting for this relayer's transactions");
                }
                false
            }
        };
        // Written (and synced) only when it moved: idle rounds cost no disk.
        if let Some(path) = &state_path
            && written != Some(progress)
        {
            save_state(path, &progress)?;
            written = Some(progress);
        }
        if !worked {
            tokio::time::sleep(relayer.args.poll).await;
        }
    }
}

impl Progress {
    /// Where a run starting at source head `head` begins: after `saved`'s work (its
    /// unfinished backlog, else its live cursor; rescanning done blocks is harmless, the
    /// destination refuses what it settled), or at `start` with no state. Everything up
    /// to `head` is backlog; live starts after it.
    fn resume(saved: Option<Progress>, start: u64, head: u64) -> Progress {
        let next = match saved {
            Some(old) if old.backlog_next <= old.backlog_end => old.backlog_next,
            Some(old) => old.live_next,
            None => start,
        };
        Progress { backlog_next: next, backlog_end: head, live_next: head.saturating_add(1) }
    }
}

async fn parse_route(spec: &str, src: &mut Node, dst: &mut Node) -> anyhow::Result<Route> {
    let (from, to) = spec.split_once('=').with_context(|| format!("route {spec:?}: expected SOURCE:Event=DEST:function"))?;
    let (source, event) = from.split_once(':').with_context(|| format!("route {spec:?}: expected SOURCE:Event"))?;
    let (dest, function) = to.split_once(':').with_context(|| format!("route {spec:?}: expected DEST:function"))?;
    let source: Address = source.parse().with_context(|| format!("route {spec:?}: source address"))?;
    let dest: Address = dest.parse().with_context(|| format!("route {spec:?}: destination address"))?;
    let signature = if event.contains('(') {
        event.to_string()
    } else {
        let abi = src
            .abi_at(source)
            .await?
            .with_context(|| format!("route {spec:?}: {source} carries no ABI; give the event's full signature"))?;
        let e = abi.events.get(event).and_then(|v| v.first()).with_context(|| format!("route {spec:?}: {source} has no event {event}"))?;
        e.signature()
    };
    if dst.abi_at(dest).await?.is_some_and(|abi| !abi.functions.contains_key(function)) {
        bail!("route {spec:?}: {dest} has no function {function}");
    }
    let selector = keccak256(format!("{function}(bytes)"));
    Ok(Route {
        source,
        topic: keccak256(&signature),
        event: signature,
        dest,
        selector: [selector[0], selector[1], selector[2], selector[3]],
        function: function.to_string(),
    })
}

impl Relayer {
    /// Waits (60 s at most) until no transaction of this relayer is pending on the
    /// destination: a previous run's delivery is either mined (and then refused as
    /// settled) or gone.
    async fn wait_for_own_transactions(&self) -> anyhow::Result<()> {
        let me = json!(self.key.address());
        for _ in 0..600 {
            let pending = quantity(&self.dst.request("eth_getTransactionCount", vec![me.clone(), "pending".into()]).await?)?;
            let mined = quantity(&self.dst.request("eth_getTransactionCount", vec![me.clone(), "latest".into()]).await?)?;
            if pending == mined {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("transactions of {} are still pending on the destination after 60 s", self.key.address())
    }

    /// One round: live blocks, then some backlog, then a checkpoint if one is due.
    /// Returns whether it got anywhere (else the caller sleeps).
    async fn round(&mut self, p: &mut Progress) -> anyhow::Result<bool> {
        let mut worked = false;
        let top = head(&self.src).await?;
        if p.live_next <= top {
            let to = top.min(p.live_next.saturating_add(self.args.chunk - 1));
            // Live blocks are delivered whole: they are few.
            self.deliver_range(p.live_next, to, top, u64::MAX).await?;
            p.live_next = to + 1;
            worked = true;
        }
        if p.backlog_next <= p.backlog_end {
            let to = p.backlog_end.min(p.backlog_next.saturating_add(self.args.chunk - 1));
            // A bounded number of backlog events per round, so live ones wait at most that.
            p.backlog_next = match self.deliver_range(p.backlog_next, to, top, self.args.backlog_events).await? {
                Some(resume) => resume,
                None => to + 1,
            };
            tracing::info!(done = p.backlog_next - 1, of = p.backlog_end, "backlog");
            worked = true;
        }
        if top >= self.checkpointed.saturating_add(self.args.checkpoint_every) {
            let before = self.checkpointed;
            self.checkpoint(top).await?;
            worked |= self.checkpointed > before;
        }
        Ok(worked)
    }

    /// Delivers the routed events of blocks `from..=to`, at most `budget` of them.
    /// `Some(b)`: the budget ran out, block `b` is where to go on (its events already
    /// delivered are refused as settled when it is scanned again).
    async fn deliver_range(&mut self, from: u64, to: u64, top: u64, budget: u64) -> anyhow::Result<Option<u64>> {
        if self.routes.is_empty() {
            return Ok(None);
        }
        let mut addresses: Vec<Address> = self.routes.iter().map(|r| r.source).collect();
        addresses.sort_unstable();
        addresses.dedup();
        let topics: Vec<B256> = self.routes.iter().map(|r| r.topic).collect();
        let filter = json!({"fromBlock": format!("{from:#x}"), "toBlock": format!("{to:#x}"), "address": addresses, "topics": [topics]});
        let logs = self.src.request("eth_getLogs", vec![filter]).await?;
        let mut logs: Vec<Value> = logs.as_array().cloned().unwrap_or_default();
        logs.sort_by_key(|l| (quantity(&l["blockNumber"]).unwrap_or(0), quantity(&l["logIndex"]).unwrap_or(0)));
        let mut delivered = 0u64;
        for (i, log) in logs.iter().enumerate() {
            let address: Address = log["address"].as_str().unwrap_or_default().parse()?;
            let topic0: B256 = log["topics"][0].as_str().unwrap_or_default().parse()?;
            let Some(route) = self.routes.iter().find(|r| r.source == address && r.topic == topic0).cloned() else { continue };
            let block = quantity(&log["blockNumber"])?;
            if delivered >= budget {
                return Ok(Some(block));
            }
            // Identical logs earlier in the same transaction: which occurrence this is.
            let tx = log["transactionHash"].clone();
            let twins = logs[..i]
                .iter()
                .filter(|l| {
                    l["transactionHash"] == tx && l["topics"] == log["topics"] && l["data"] == log["data"] && l["address"] == log["address"]
                })
                .count();
            let relayed = self.relayed(&tx, log, twins).await?;
            self.deliver(&route, block, top, &relayed).await?;
            delivered += 1;
        }
        Ok(None)
    }

    /// The RLP `RelayedLog` of `log` (the `nth` identical one of its transaction).
    async fn relayed(&self, tx: &Value, log: &Value, nth: usize) -> anyhow::Result<RelayedLog> {
        let answer = self.src.request("strata_getReceiptProof", vec![tx.clone()]).await?;
        let bundle = decode_exact::<ReceiptBundle>(&hex_field(&answer, "bundle")?).context("strata_getReceiptProof's bundle")?;
        let topics: Vec<B256> = log["topics"].as_array().into_iter().flatten().filter_map(|t| t.as_str()?.parse().ok()).collect();
        let data = Bytes::from(hex_field(log, "data")?);
        let want = Log { address: log["address"].as_str().unwrap_or_default().parse()?, data: LogData::new_unchecked(topics, data) };
        let logs = receipt_logs(&bundle.receipt).map_err(|e| anyhow::anyhow!("the receipt's logs: {e}"))?;
        let index =
            logs.iter().enumerate().filter(|(_, l)| **l == want).nth(nth).map(|(i, _)| i).context("the receipt does not hold the log")?;
        Ok(RelayedLog { bundle, log_index: index as u64 })
    }

    async fn deliver(&mut self, route: &Route, block: u64, top: u64, relayed: &RelayedLog) -> anyhow::Result<()> {
        let mut input = route.selector.to_vec();
        input.extend((Bytes::from(alloy_rlp::encode(relayed)),).abi_encode_params());
        let what = format!("{} of block {block} -> {}.{}", route.event, route.dest, route.function);
        // A destination that checkpoints the relayed block itself (the storage contracts
        // call `verifyLogAndCheckpoint`) takes a fresh event in one transaction; one that
        // does not is checkpointed first.
        let gas = match self.estimate_delivery(route, &input, &what).await? {
            Estimate::Gas(gas) => gas,
            Estimate::Refused => return Ok(()),
            Estimate::NotYet(_) => {
                self.checkpoint(top.max(block)).await?;
                match self.estimate_delivery(route, &input, &what).await? {
                    Estimate::Gas(gas) => gas,
                    Estimate::Refused => return Ok(()),
                    Estimate::NotYet(reason) => bail!("{what}: not yet deliverable ({reason}); retrying"),
                }
            }
        };
        let receipt = self.dst.transact(&self.key, TxKind::Call(route.dest), U256::ZERO, input.clone(), Some(gas + gas / 4), None).await?;
        if receipt["status"] == "0x1" {
            tracing::info!(event = what, tx = %receipt["transactionHash"], gas = %receipt["gasUsed"], "delivered");
            return Ok(());
        }
        // Refused on chain although the estimate passed (the state moved in between):
        // skipped only if the destination now refuses it for good, else retried.
        tracing::warn!(event = what, tx = %receipt["transactionHash"], "delivery failed on chain");
        match self.estimate_delivery(route, &input, &what).await? {
            Estimate::Refused => Ok(()),
            _ => bail!("{what}: the delivery failed on chain and would not be refused now; retrying"),
        }
    }

    /// What the destination says to a delivery: its gas; a refusal for good (settled
    /// before — by this relayer before a crash, or by another — or not acceptable: the
    /// event is skipped); or a refusal more time can cure (no checkpoint that high yet,
    /// the source not registered yet).
    async fn estimate_delivery(&self, route: &Route, input: &[u8], what: &str) -> anyhow::Result<Estimate> {
        use IChainRegistry::IChainRegistryErrors as E;
        let e = match estimate(&self.dst, self.key.address(), route.dest, U256::ZERO, input).await {
            Ok(gas) => return Ok(Estimate::Gas(gas)),
            Err(e) => e,
        };
        let Some(r) = e.downcast_ref::<Reverted>() else { return Err(e) };
        match alloy_sol_types::SolInterface::abi_decode(&r.data) {
            Ok(E::AboveCheckpoint(_) | E::UnknownChain(_)) => Ok(Estimate::NotYet(r.reason.clone())),
            // The registry does not accept what the source chain certified: its record
            // of the source (set, quorum) disagrees with the chain. Said loudly.
            Ok(E::BadCertificate(_) | E::BadProof(_) | E::Malformed(_)) => {
                tracing::error!(event = what, reason = r.reason, "the destination's registry refuses this event's proof; skipped");
                Ok(Estimate::Refused)
            }
            _ => {
                tracing::info!(event = what, reason = r.reason, "not delivered: the destination refuses it");
                Ok(Estimate::Refused)
            }
        }
    }

    /// Brings the destination registry to a checkpoint at `height` (or the highest
    /// certified block below it), following the source's set switches first.
    async fn checkpoint(&mut self, height: u64) -> anyhow::Result<()> {
        self.follow_switches(height).await?;
        let mut at = height;
        let (header, certificate) = loop {
            let header = self.src.request("debug_getRawHeader", vec![json!(format!("{at:#x}"))]).await?;
            let cert = self.src.request("strata_getCommitCertificate", vec![json!(format!("{at:#x}"))]).await?;
            if !header.is_null() && !cert.is_null() {
                break (hex_value(&header)?, hex_field(&cert, "raw")?);
            }
            at = at.checked_sub(1).filter(|a| *a > self.checkpointed).context("no certified block above the last checkpoint")?;
        };
        let call = IChainRegistry::checkpointCall { chainId: self.source_chain, header: header.into(), certificate: certificate.into() };
        match send(&self.dst, &self.key, self.args.registry, U256::ZERO, &call).await {
            Ok(_) => tracing::info!(chain = self.source_chain, height = at, "checkpointed"),
            Err(e) => match e.downcast_ref::<Reverted>() {
                // Another relayer got there first.
                Some(r) if r.data.starts_with(&<IChainRegistry::StaleCheckpoint as alloy_sol_types::SolError>::SELECTOR) => {
                    tracing::info!(chain = self.source_chain, height = at, "checkpoint not needed: the registry is further")
                }
                Some(r) => bail!("the registry refuses the checkpoint of block {at} of chain {}: {}", self.source_chain, r.reason),
                None => return Err(e),
            },
        }
        let info = view(&self.dst, self.args.registry, &IChainRegistry::chainInfoCall { chainId: self.source_chain }).await?;
        self.checkpointed = info.checkpointHeight;
        Ok(())
    }

    /// Submits the source's set switches below `height` the registry has not seen.
    async fn follow_switches(&self, height: u64) -> anyhow::Result<()> {
        let answer = self.src.request("strata_getValidatorSetProof", vec![json!(format!("{height:#x}"))]).await?;
        let proof = decode_exact::<SetProof>(&hex_field(&answer, "proof")?).context("strata_getValidatorSetProof's proof")?;
        if proof.links.is_empty() {
            return Ok(());
        }
        let info = view(&self.dst, self.args.registry, &IChainRegistry::chainInfoCall { chainId: self.source_chain }).await?;
        let accepted = usize::try_from(info.epochs.saturating_sub(1)).unwrap_or(usize::MAX);
        for link in proof.links.iter().skip(accepted) {
            let call = IChainRegistry::updateValidatorsCall { chainId: self.source_chain, link: alloy_rlp::encode(link).into() };
            send(&self.dst, &self.key, self.args.registry, U256::ZERO, &call).await?;
            tracing::info!(chain = self.source_chain, switch = link.header.number, "validator set followed");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_a_restart_keeps_what_was_not_done() {
        let dir = std::env::temp_dir().join(format!("strata-relay-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        assert_eq!(load_state(&path).unwrap(), None);
        let p = Progress { backlog_next: 40, backlog_end: 100, live_next: 130 };
        save_state(&path, &p).unwrap();
        assert_eq!(load_state(&path).unwrap(), Some(p));
        // Restarted at head 200: the old backlog from 40 on is still to do, live from 201.
        assert_eq!(Progress::resume(Some(p), 1, 200), Progress { backlog_next: 40, backlog_end: 200, live_next: 201 });
        // A run that had finished its backlog resumes from its live cursor; none from the start.
        let done = Progress { backlog_next: 101, backlog_end: 100, live_next: 130 };
        assert_eq!(Progress::resume(Some(done), 1, 200).backlog_next, 130);
        assert_eq!(Progress::resume(None, 7, 200), Progress { backlog_next: 7, backlog_end: 200, live_next: 201 });
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
