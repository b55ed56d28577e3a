//! `strata tx …`: plain transfers and queries (`send`, `receipt`, `balance`, `nonce`).

use clap::Subcommand;
use serde_json::json;
use strata_primitives::{B256, TxKind};

use crate::{
    abi,
    client::{self, Node, RpcArgs, TxArgs},
    cmd_contract::block_param,
};

#[derive(Subcommand)]
pub enum TxCommand {
    /// Send ether (and optionally calldata) to an address; prints the receipt.
    Send {
        /// Recipient.
        to: String,
        /// Amount (`1ether`, `1.5eth`, `20gwei`, wei).
        #[arg(long, default_value = "0", value_parser = abi::parse_amount)]
        value: strata_primitives::U256,
        /// Calldata, hex.
        #[arg(long, default_value = "0x")]
        data: String,
        /// Ask for a storage certificate (strata_sendRawTransactionCertified): printed as
        /// soon as a quorum of validators has stored the transaction, before the receipt.
        #[arg(long)]
        certified: bool,
        /// With --certified: save the certificate (for `strata audit certificate`).
        #[arg(long, requires = "certified")]
        save: Option<std::path::PathBuf>,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// A transaction's receipt, events decoded with the ABIs the emitting contracts carry.
    Receipt {
        /// Transaction hash.
        hash: String,
        #[command(flatten)]
        rpc: RpcArgs,
        /// Print the raw JSON receipt.
        #[arg(long)]
        json: bool,
    },
    /// An account's balance, in ether (or wei with --wei).
    Balance {
        /// Account address.
        address: String,
        /// Block (`latest`, `pending`, a number).
        #[arg(long, default_value = "latest")]
        block: String,
        /// Print wei.
        #[arg(long)]
        wei: bool,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// An account's next nonce (counting its pooled transactions).
    Nonce {
        /// Account address.
        address: String,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

/// Runs one `strata tx` command.
pub async fn run(command: TxCommand) -> anyhow::Result<()> {
    match command {
        TxCommand::Send { to, value, data, certified, save, tx } => {
            let to = client::address_arg(&to)?;
            let mut node = Node::connect(&tx.rpc.rpc)?;
            let abi = node.abi_at(to).await?;
            let key = tx.signer.signer(node.chain_id().await?)?;
            let receipt = if certified {
                let raw = node.sign(&key, TxKind::Call(to), value, client::hex_arg(&data)?, tx.gas, abi.as_ref()).await?;
                let asked = std::time::Instant::now();
                let cert = node.request("strata_sendRawTransactionCertified", vec![json!(raw)]).await?;
                let field = |k: &str| cert[k].as_str().unwrap_or_default().to_string();
                if !tx.quiet {
                    println!(
                        "stored: transaction {} certified by validators {} of height {} in {} ms; included by block {}",
                        field("transactionHash"),
                        cert["signers"],
                        u64::from_str_radix(field("height").trim_start_matches("0x"), 16).unwrap_or(0),
                        asked.elapsed().as_millis(),
                        u64::from_str_radix(field("expiry").trim_start_matches("0x"), 16).unwrap_or(0),
                    );
                }
                if let Some(path) = save {
                    std::fs::write(&path, serde_json::to_string_pretty(&cert)?)?;
                    if !tx.quiet {
                        println!(
                            "certificate saved to {} (check it: strata audit certificate {} --rpc URL --genesis genesis.json)",
                            path.display(),
                            path.display()
                        );
                    }
                }
                node.wait_for_receipt(&cert["transactionHash"]).await?
            } else {
                node.transact(&key, TxKind::Call(to), value, client::hex_arg(&data)?, tx.gas, abi.as_ref()).await?
            };
            node.report(&receipt, abi.as_ref(), &tx, "transactionHash").await
        }
        TxCommand::Receipt { hash, rpc, json } => {
            let hash: B256 = hash.parse().map_err(|e| anyhow::anyhow!("{hash:?} is not a transaction hash: {e}"))?;
            let mut node = Node::connect(&rpc.rpc)?;
            let receipt = node.request("eth_getTransactionReceipt", vec![json!(hash)]).await?;
            anyhow::ensure!(!receipt.is_null(), "no receipt for {hash}: unknown, or not yet included");
            let to = receipt["to"].as_str().and_then(|s| s.parse().ok());
            let abi = match to {
                Some(to) => node.abi_at(to).await?,
                None => None,
            };
            node.print_receipt(&receipt, abi.as_ref(), json).await
        }
        TxCommand::Balance { address, block, wei, rpc } => {
            let address = client::address_arg(&address)?;
            let node = Node::connect(&rpc.rpc)?;
            let balance = client::big_quantity(&node.request("eth_getBalance", vec![json!(address), block_param(&block)]).await?)?;
            if wei {
                println!("{balance}");
            } else {
                println!("{} ETH", abi::format_ether(balance));
            }
            Ok(())
        }
        TxCommand::Nonce { address, rpc } => {
            let address = client::address_arg(&address)?;
            let node = Node::connect(&rpc.rpc)?;
            println!("{}", client::quantity(&node.request("eth_getTransactionCount", vec![json!(address), "pending".into()]).await?)?);
            Ok(())
        }
    }
}
