//! `strata provider`: keeps files and proves storage windows.
//!
//! `store` puts a file in the provider's data directory under its Merkle root (what a
//! client's deal names). `run` watches the contract chain's deal contract for deals
//! naming this provider: a proposal for a file it holds (root and size match) is
//! accepted with its collateral; for every deal the proof chain knows, each window is
//! proven as soon as it opens — the challenge read from the proof contract, the
//! segments and Merkle paths cut from the stored file. Everything it decides is read
//! back from the chains, so a restart loses nothing: a proven window is not proven
//! twice, an accepted deal not accepted twice.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    time::Duration,
};

use strata_primitives::LocalSigner;

use anyhow::Context;
use strata_primitives::{
    Address, B256, Bytes, U256, hex,
    interfaces::{IStorageDeal, IStorageProof},
    segments,
};

use super::{Reverted, head, send, view};
use crate::client::{Node, SignerArgs, parse_duration};

/// `strata provider`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum ProviderCommand {
    /// Keep a file for deals: copies it into the data directory under its Merkle root
    /// and prints the root and size a client's deal must name.
    Store {
        /// The file.
        file: PathBuf,
        /// The provider's data directory.
        #[arg(long)]
        data: PathBuf,
    },
    /// Accept deals for stored files and prove their windows.
    Run(Box<ProviderArgs>),
}

/// `strata provider run`.
#[derive(clap::Args, Debug, Clone)]
pub struct ProviderArgs {
    /// The contract chain's JSON-RPC URL (deals).
    #[arg(long)]
    pub contract_rpc: String,
    /// The proof chain's JSON-RPC URL (proofs).
    #[arg(long)]
    pub proof_rpc: String,
    /// The deal contract on the contract chain.
    #[arg(long)]
    pub deals: Address,
    /// The proof contract on the proof chain.
    #[arg(long)]
    pub proofs: Address,
    /// The provider's data directory (see `strata provider store`).
    #[arg(long)]
    pub data: PathBuf,
    /// The provider's key (signs on both chains).
    #[command(flatten)]
    pub signer: SignerArgs,
    /// How often to look at the chains.
    #[arg(long, default_value = "300ms", value_parser = parse_duration)]
    pub poll: Duration,
    /// Accept a deal only if its first window starts at least this many proof-chain
    /// blocks ahead (the deal must reach the proof chain, relayed, before it starts).
    #[arg(long, default_value_t = 20)]
    pub min_lead_blocks: u64,
    /// Accept a deal only if its windows are at least this many blocks long (a proof
    /// must be sent and included inside its window).
    #[arg(long, default_value_t = 4)]
    pub min_window_blocks: u64,
    /// Accept a deal only if its collateral is at most this (`5ether`, wei); no limit if unset.
    #[arg(long, value_parser = crate::abi::parse_amount)]
    pub max_collateral: Option<U256>,
    /// Accept a deal only if it pays at least this per window.
    #[arg(long, default_value = "0", value_parser = crate::abi::parse_amount)]
    pub min_price: U256,
    /// Fault injection, for demonstrations and tests: never prove window `W` of deal `D`
    /// (`D:W`, repeatable), to see it slashed.
    #[arg(long = "skip", value_parser = parse_skip)]
    pub skip: Vec<(u64, u32)>,
}

fn parse_skip(s: &str) -> Result<(u64, u32), String> {
    let (d, w) = s.split_once(':').ok_or_else(|| format!("{s:?}: expected DEAL:WINDOW"))?;
    Ok((d.parse().map_err(|e| format!("{s:?}: {e}"))?, w.parse().map_err(|e| format!("{s:?}: {e}"))?))
}

/// Where the file of `root` lives.
fn file_path(data: &Path, root: &B256) -> PathBuf {
    data.join("files").join(hex::encode(root))
}

/// Copies `file` into `data` under its root (durably: written, synced, then renamed).
/// Returns the root and the size.
pub fn store(file: &Path, data: &Path) -> anyhow::Result<(B256, u64)> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    anyhow::ensure!(!bytes.is_empty(), "{} is empty: a deal needs at least one byte", file.display());
    let root = segments::merkle_root(&bytes);
    let dest = file_path(data, &root);
    std::fs::create_dir_all(dest.parent().expect("under files/")).with_context(|| format!("creating {}", data.display()))?;
    let tmp = dest.with_extension("tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &dest)?;
    Ok((root, bytes.len() as u64))
}

/// Runs the provider until it is killed.
pub async fn run(args: ProviderArgs) -> anyhow::Result<()> {
    let contract = Node::connect(&args.contract_rpc)?;
    let proof = Node::connect(&args.proof_rpc)?;
    let key = args.signer.signer(contract.chain_id().await?)?;
    let mut state = Provider { mine: BTreeMap::new(), undecided: BTreeSet::new(), seen: 0 };
    tracing::info!(provider = %key.address(), deals = %args.deals, proofs = %args.proofs, data = %args.data.display(), "providing storage");
    loop {
        if let Err(e) = state.round(&args, &contract, &proof, &key).await {
            tracing::warn!(error = format!("{e:#}"), "provider round failed; retrying");
        }
        tokio::time::sleep(args.poll).await;
    }
}

/// What the provider tracks between rounds (all of it re-read from the chains after a
/// restart).
struct Provider {
    /// Deals of this provider it serves: id -> the stored file.
    mine: BTreeMap<u64, Vec<u8>>,
    /// Deals naming this provider not decided yet (file not stored yet, an accept that
    /// failed): looked at again every round.
    undecided: BTreeSet<u64>,
    /// The last deal id read.
    seen: u64,
}

/// Why a proposal is declined, if it is (the provider's policy).
fn decline(args: &ProviderArgs, d: &IStorageDeal::dealReturn, proof_head: u64) -> Option<String> {
    if d.startBlock < proof_head.saturating_add(args.min_lead_blocks) {
        return Some(format!(
            "starts at proof-chain block {}, less than {} blocks ahead of {proof_head}",
            d.startBlock, args.min_lead_blocks
        ));
    }
    if d.windowBlocks < args.min_window_blocks {
        return Some(format!("windows of {} blocks, below {}", d.windowBlocks, args.min_window_blocks));
    }
    if args.max_collateral.is_some_and(|max| d.collateral > max) {
        return Some(format!("collateral {} above the limit", d.collateral));
    }
    if d.pricePerWindow < args.min_price {
        return Some(format!("price {} per window below {}", d.pricePerWindow, args.min_price));
    }
    None
}

impl Provider {
    async fn round(&mut self, args: &ProviderArgs, contract: &Node, proof: &Node, key: &LocalSigner) -> anyhow::Result<()> {
        let me = key.address();
        let next = head(proof).await?.saturating_add(1);
        // New deals join the undecided ones; each is looked at until decided.
        let count = view(contract, args.deals, &IStorageDeal::dealCountCall {}).await?;
        self.undecided.extend((self.seen + 1)..=count);
        self.seen = self.seen.max(count);
        for id in self.undecided.clone() {
            let d = view(contract, args.deals, &IStorageDeal::dealCall { dealId: id }).await?;
            if d.provider != me || d.state == 3 {
                self.undecided.remove(&id);
                continue;
            }
            let Ok(bytes) = std::fs::read(file_path(&args.data, &d.root)) else {
                tracing::debug!(deal = id, root = %d.root, "a deal names this provider for a file it does not hold (yet)");
                continue;
            };
            if bytes.len() as u64 != d.size {
                tracing::warn!(deal = id, size = d.size, held = bytes.len(), "the deal's size is not the file's: declined");
                self.undecided.remove(&id);
                continue;
            }
            if d.state == 0 {
                if let Some(why) = decline(args, &d, next.saturating_sub(1)) {
                    tracing::warn!(deal = id, why, "deal declined");
                    self.undecided.remove(&id);
                    continue;
                }
                match send(contract, key, args.deals, d.collateral, &IStorageDeal::acceptDealCall { dealId: id }).await {
                    Ok(_) => tracing::info!(deal = id, collateral = %d.collateral, "deal accepted"),
                    Err(e) => {
                        tracing::warn!(deal = id, error = format!("{e:#}"), "deal not accepted (tried again next round)");
                        continue;
                    }
                }
            }
            self.undecided.remove(&id);
            self.mine.insert(id, bytes);
        }
        // Windows open on the proof chain now.
        let mut finished = Vec::new();
        for (&id, bytes) in &self.mine {
            let d = view(proof, args.proofs, &IStorageProof::dealCall { dealId: id }).await?;
            if !d.known {
                continue; // not announced yet
            }
            let end = d.startBlock.saturating_add(u64::from(d.windows).saturating_mul(d.windowBlocks));
            if next >= end {
                finished.push(id);
                continue;
            }
            if next < d.startBlock {
                continue;
            }
            let window = u32::try_from((next - d.startBlock) / d.windowBlocks).unwrap_or(u32::MAX);
            if args.skip.contains(&(id, window)) || view(proof, args.proofs, &IStorageProof::provenCall { dealId: id, window }).await? {
                continue;
            }
            // A window the client cancelled (an early end) earns nothing: not proven.
            if view(contract, args.deals, &IStorageDeal::windowStateCall { dealId: id, window }).await? == 3 {
                continue;
            }
            let indices = view(proof, args.proofs, &IStorageProof::challengeCall { dealId: id, window }).await?;
            let call = answer(id, window, &indices, bytes);
            match send(proof, key, args.proofs, U256::ZERO, &call).await {
                Ok(r) => tracing::info!(deal = id, window, tx = %r["transactionHash"], "window proven"),
                Err(e) => match e.downcast_ref::<Reverted>() {
                    Some(r) => tracing::warn!(deal = id, window, reason = r.reason, "proof refused"),
                    None => return Err(e),
                },
            }
        }
        for id in finished {
            self.mine.remove(&id);
            tracing::info!(deal = id, "all windows past");
        }
        Ok(())
    }
}

/// The proof of window `window` of deal `id`: each challenged segment of `data` with its path.
pub fn answer(id: u64, window: u32, indices: &[u64], data: &[u8]) -> IStorageProof::proveCall {
    let (segments, paths) = segments::window_proof(data, indices);
    IStorageProof::proveCall { dealId: id, window, segments: segments.into_iter().map(Bytes::from).collect(), paths }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_file_is_found_by_its_root_and_answers_verify() {
        let dir = std::env::temp_dir().join(format!("strata-provider-{}", std::process::id()));
        let file = dir.join("record.bin");
        std::fs::create_dir_all(&dir).unwrap();
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&file, &data).unwrap();
        let (root, size) = store(&file, &dir.join("data")).unwrap();
        assert_eq!((root, size), (segments::merkle_root(&data), 5000));
        assert_eq!(std::fs::read(file_path(&dir.join("data"), &root)).unwrap(), data);
        let call = answer(3, 1, &[0, 4, 4], &data);
        for (j, &i) in [0u64, 4, 4].iter().enumerate() {
            assert!(segments::verify_segment(&root, size, i, &call.segments[j], &call.paths[j]));
        }
        assert_eq!(parse_skip("3:1"), Ok((3, 1)));
        assert!(parse_skip("3").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
