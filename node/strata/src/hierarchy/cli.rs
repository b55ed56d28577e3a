//! `strata chain register|status` and `strata deal deploy|open|status|slash|end|withdraw`.

use std::path::PathBuf;

use alloy_sol_types::{SolEvent, SolValue};
use anyhow::{Context, bail};
use serde_json::json;
use strata_primitives::{
    Address, B256, TxKind, U256,
    interfaces::{IChainRegistry, IStorageDeal},
    segments,
    system::CHAIN_REGISTRY,
};

use super::{head, send, view};
use crate::{
    abi::parse_amount,
    client::{Node, RpcArgs, SignerArgs, quantity},
    config::{Genesis, GenesisParent},
};

/// `strata chain`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum ChainCommand {
    /// Register a child chain with this chain's registry (by its admin, or paying the
    /// registration fee): its id, genesis hash and validators come from its genesis file.
    Register {
        /// The child chain's genesis.json.
        #[arg(long)]
        genesis: PathBuf,
        /// Signatures the child's certificates need (default: 2f+1).
        #[arg(long)]
        quorum: Option<u32>,
        /// The registry (default: the system address).
        #[arg(long, default_value_t = CHAIN_REGISTRY)]
        registry: Address,
        /// The node.
        #[command(flatten)]
        rpc: RpcArgs,
        /// Who signs.
        #[command(flatten)]
        signer: SignerArgs,
    },
    /// What this chain's registry follows: its parent, the registered chains, their sets
    /// and checkpoints.
    Status {
        /// Only this chain id.
        #[arg(long)]
        chain: Option<u64>,
        /// The registry (default: the system address).
        #[arg(long, default_value_t = CHAIN_REGISTRY)]
        registry: Address,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The node.
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

/// `strata deal`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum DealCommand {
    /// Deploy a storage market: the proof contract on the proof chain and the deal
    /// contract on the contract chain, each naming the other.
    Deploy {
        /// The contract chain's JSON-RPC URL.
        #[arg(long)]
        contract_rpc: String,
        /// The proof chain's JSON-RPC URL.
        #[arg(long)]
        proof_rpc: String,
        /// The deal contract's module (`strata contract build` in contracts/storage/deal).
        #[arg(long)]
        deal_wasm: PathBuf,
        /// The proof contract's module.
        #[arg(long)]
        proof_wasm: PathBuf,
        /// Proof-chain blocks after a window's end before it may be slashed (covers relay latency).
        #[arg(long, default_value_t = 10)]
        grace_blocks: u64,
        /// Who signs.
        #[command(flatten)]
        signer: SignerArgs,
    },
    /// Open a deal for a file: escrows `windows × price`; prints the deal id.
    Open {
        /// The deal contract.
        #[arg(long)]
        deals: Address,
        /// The file (its root and size are computed).
        #[arg(long)]
        file: PathBuf,
        /// The provider.
        #[arg(long)]
        provider: Address,
        /// Proving windows.
        #[arg(long)]
        windows: u32,
        /// Proof-chain blocks per window.
        #[arg(long)]
        window_blocks: u64,
        /// The proof-chain block the first window starts at.
        #[arg(long)]
        start_block: u64,
        /// Segments each proof must show.
        #[arg(long, default_value_t = 4)]
        challenges: u32,
        /// Paid per proven window (`1ether`, `20gwei`, wei).
        #[arg(long, value_parser = parse_amount)]
        price: U256,
        /// The provider's collateral (slashed per missed window).
        #[arg(long, value_parser = parse_amount)]
        collateral: U256,
        /// The node.
        #[command(flatten)]
        rpc: RpcArgs,
        /// Who signs.
        #[command(flatten)]
        signer: SignerArgs,
    },
    /// A deal's terms, state, and each window's state.
    Status {
        /// The deal contract.
        #[arg(long)]
        deals: Address,
        /// The deal.
        id: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The node.
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Compensate the client for a window left unproven past its grace (anyone may).
    Slash {
        /// The deal contract.
        #[arg(long)]
        deals: Address,
        /// The deal.
        id: u64,
        /// The window.
        window: u32,
        /// The node.
        #[command(flatten)]
        rpc: RpcArgs,
        /// Who signs.
        #[command(flatten)]
        signer: SignerArgs,
    },
    /// End a deal early (the client): windows that start above the proof chain's last
    /// checkpoint here are refunded (price to the client, collateral share to the provider).
    End {
        /// The deal contract.
        #[arg(long)]
        deals: Address,
        /// The deal.
        id: u64,
        /// The node.
        #[command(flatten)]
        rpc: RpcArgs,
        /// Who signs.
        #[command(flatten)]
        signer: SignerArgs,
    },
    /// Withdraw what the deal contract owes the signer.
    Withdraw {
        /// The deal contract.
        #[arg(long)]
        deals: Address,
        /// The node.
        #[command(flatten)]
        rpc: RpcArgs,
        /// Who signs.
        #[command(flatten)]
        signer: SignerArgs,
    },
}

/// Runs a `strata chain` command.
pub async fn chain(cmd: ChainCommand) -> anyhow::Result<()> {
    match cmd {
        ChainCommand::Register { genesis, quorum, registry, rpc, signer } => {
            let child = GenesisParent::of(&Genesis::load(&genesis)?)?;
            let node = Node::connect(&rpc.rpc)?;
            let key = signer.signer(node.chain_id().await?)?;
            let admin = view(&node, registry, &IChainRegistry::adminCall {}).await?;
            let fee =
                if key.address() == admin { U256::ZERO } else { view(&node, registry, &IChainRegistry::registrationFeeCall {}).await? };
            let quorum = quorum.unwrap_or_else(|| strata_primitives::ValidatorSet::new(child.validators.clone()).quorum() as u32);
            let call = IChainRegistry::registerCall {
                chainId: child.chain_id,
                genesisHash: child.genesis_hash,
                validators: child.validators,
                quorum,
            };
            let r = send(&node, &key, registry, fee, &call).await?;
            println!(
                "registered chain {} (genesis {}) in block {} (fee {fee} wei)",
                child.chain_id,
                child.genesis_hash,
                quantity(&r["blockNumber"])?
            );
        }
        ChainCommand::Status { chain, registry, json, rpc } => {
            let node = Node::connect(&rpc.rpc)?;
            let own = node.chain_id().await?;
            let (parent, parent_registry) = {
                let p = view(&node, registry, &IChainRegistry::parentCall {}).await?;
                (p.chainId, p.registry)
            };
            let ids: Vec<u64> = match chain {
                Some(id) => vec![id],
                // The parent is followed from the genesis, whose constructor's event no
                // receipt keeps.
                None => std::iter::once(parent).filter(|p| *p != 0).chain(registered(&node, registry).await?).collect(),
            };
            let height = head(&node).await?;
            let mut chains = Vec::new();
            for id in ids {
                let info = view(&node, registry, &IChainRegistry::chainInfoCall { chainId: id }).await?;
                if !info.known {
                    bail!("the registry of chain {own} does not follow chain {id}");
                }
                let set =
                    view(&node, registry, &IChainRegistry::validatorsAtCall { chainId: id, height: info.checkpointHeight.max(1) }).await?;
                chains.push(json!({
                    "chainId": id,
                    "role": if info.isParent { "parent" } else { "child" },
                    "genesisHash": info.genesisHash,
                    "quorum": info.quorum,
                    "validatorSets": info.epochs,
                    "validators": set,
                    "checkpoint": {"height": info.checkpointHeight, "blockHash": info.checkpointHash, "stateRoot": info.stateRoot, "receiptsRoot": info.receiptsRoot},
                }));
            }
            let out = json!({"chainId": own, "height": height, "registry": registry, "parent": if parent == 0 { json!(null) } else { json!({"chainId": parent, "registry": parent_registry}) }, "chains": chains});
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("chain {own} at height {height}; registry {registry}");
                match parent {
                    0 => println!("  parent: none (a main chain)"),
                    p => println!("  parent: chain {p} (registry {parent_registry})"),
                }
                for c in &chains {
                    println!(
                        "  {} chain {}: genesis {}, {} validators (quorum {}, {} set(s)), checkpoint {} {}",
                        c["role"].as_str().unwrap_or_default(),
                        c["chainId"],
                        c["genesisHash"].as_str().unwrap_or_default(),
                        c["validators"].as_array().map_or(0, Vec::len),
                        c["quorum"],
                        c["validatorSets"],
                        c["checkpoint"]["height"],
                        c["checkpoint"]["blockHash"].as_str().unwrap_or_default(),
                    );
                }
            }
        }
    }
    Ok(())
}

/// The chains the registry follows, from its `ChainRegistered` events.
async fn registered(node: &Node, registry: Address) -> anyhow::Result<Vec<u64>> {
    let filter =
        json!({"fromBlock": "0x0", "toBlock": "latest", "address": registry, "topics": [IChainRegistry::ChainRegistered::SIGNATURE_HASH]});
    let logs = node.request("eth_getLogs", vec![filter]).await?;
    let mut ids: Vec<u64> = logs.as_array().into_iter().flatten().filter_map(|l| quantity(&l["topics"][1]).ok()).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Runs a `strata deal` command.
pub async fn deal(cmd: DealCommand) -> anyhow::Result<()> {
    match cmd {
        DealCommand::Deploy { contract_rpc, proof_rpc, deal_wasm, proof_wasm, grace_blocks, signer } => {
            let contract = Node::connect(&contract_rpc)?;
            let proof = Node::connect(&proof_rpc)?;
            let (contract_chain, proof_chain) = (contract.chain_id().await?, proof.chain_id().await?);
            let key = signer.signer(contract_chain)?;
            let nonce = quantity(&contract.request("eth_getTransactionCount", vec![json!(key.address()), "pending".into()]).await?)?;
            let deals = key.address().create(nonce);
            let read = |p: &PathBuf| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
            let ctor = (CHAIN_REGISTRY, contract_chain, deals).abi_encode_params();
            let proofs = deploy(&proof, &key, &read(&proof_wasm)?, &ctor).await?;
            let ctor = (CHAIN_REGISTRY, proof_chain, proofs, grace_blocks).abi_encode_params();
            let deployed = deploy(&contract, &key, &read(&deal_wasm)?, &ctor).await?;
            if deployed != deals {
                bail!(
                    "the deal contract landed at {deployed}, not {deals} as the proof contract names it (another transaction of {} came between)",
                    key.address()
                );
            }
            println!("deals  {deals} (chain {contract_chain})");
            println!("proofs {proofs} (chain {proof_chain})");
        }
        DealCommand::Open { deals, file, provider, windows, window_blocks, start_block, challenges, price, collateral, rpc, signer } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let root = segments::merkle_root(&bytes);
            let node = Node::connect(&rpc.rpc)?;
            let key = signer.signer(node.chain_id().await?)?;
            let call = IStorageDeal::openDealCall {
                root,
                size: bytes.len() as u64,
                windows,
                startBlock: start_block,
                windowBlocks: window_blocks,
                challenges,
                pricePerWindow: price,
                provider,
                collateral,
            };
            let escrow = price.checked_mul(U256::from(windows)).context("the price overflows")?;
            let r = send(&node, &key, deals, escrow, &call).await?;
            let id = r["logs"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|l| l["topics"][0].as_str().and_then(|t| t.parse::<B256>().ok()) == Some(IStorageDeal::DealProposed::SIGNATURE_HASH))
                .map(|l| quantity(&l["topics"][1]))
                .context("no DealProposed in the receipt")??;
            println!("deal {id}: root {root}, {} bytes, {windows} windows of {window_blocks} blocks from block {start_block}", bytes.len());
        }
        DealCommand::Status { deals, id, json, rpc } => {
            let node = Node::connect(&rpc.rpc)?;
            let d = view(&node, deals, &IStorageDeal::dealCall { dealId: id }).await?;
            let mut windows = Vec::new();
            for w in 0..d.windows {
                let s = view(&node, deals, &IStorageDeal::windowStateCall { dealId: id, window: w }).await?;
                windows.push(["open", "paid", "slashed", "cancelled"].get(usize::from(s)).copied().unwrap_or("?"));
            }
            let state = ["proposed", "active", "ended", "cancelled"].get(usize::from(d.state)).copied().unwrap_or("?");
            let out = json!({
                "id": id, "client": d.client, "provider": d.provider, "root": d.root, "size": d.size,
                "startBlock": d.startBlock, "windowBlocks": d.windowBlocks, "challenges": d.challenges,
                "pricePerWindow": d.pricePerWindow.to_string(), "collateral": d.collateral.to_string(),
                "state": state, "windows": windows,
            });
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("deal {id}: {state}; client {} provider {}", d.client, d.provider);
                println!("  file {} ({} bytes), {} challenges per proof", d.root, d.size, d.challenges);
                println!("  {} wei per window, collateral {} wei", d.pricePerWindow, d.collateral);
                for (w, s) in windows.iter().enumerate() {
                    let from = d.startBlock + w as u64 * d.windowBlocks;
                    println!("  window {w} (proof-chain blocks {from}..{}): {s}", from + d.windowBlocks);
                }
            }
        }
        DealCommand::Slash { deals, id, window, rpc, signer } => {
            let node = Node::connect(&rpc.rpc)?;
            let key = signer.signer(node.chain_id().await?)?;
            send(&node, &key, deals, U256::ZERO, &IStorageDeal::slashWindowCall { dealId: id, window }).await?;
            println!("window {window} of deal {id} slashed");
        }
        DealCommand::End { deals, id, rpc, signer } => {
            let node = Node::connect(&rpc.rpc)?;
            let key = signer.signer(node.chain_id().await?)?;
            send(&node, &key, deals, U256::ZERO, &IStorageDeal::endDealCall { dealId: id }).await?;
            println!("deal {id} ended");
        }
        DealCommand::Withdraw { deals, rpc, signer } => {
            let node = Node::connect(&rpc.rpc)?;
            let key = signer.signer(node.chain_id().await?)?;
            let owed = view(&node, deals, &IStorageDeal::owedCall { account: key.address() }).await?;
            send(&node, &key, deals, U256::ZERO, &IStorageDeal::withdrawCall {}).await?;
            println!("withdrew {owed} wei");
        }
    }
    Ok(())
}

pub(crate) async fn deploy(node: &Node, key: &strata_primitives::LocalSigner, wasm: &[u8], ctor: &[u8]) -> anyhow::Result<Address> {
    let data = strata_primitives::deploy::encode(wasm, ctor);
    let r = node.transact(key, TxKind::Create, U256::ZERO, data, None, None).await?;
    if r["status"] != "0x1" {
        bail!("the deploy failed: {r}");
    }
    r["contractAddress"].as_str().context("no contract address")?.parse().context("a contract address")
}
