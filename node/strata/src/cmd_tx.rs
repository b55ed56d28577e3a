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
        TxCommand::Send { to, value, data, tx } => {
            let to = client::address_arg(&to)?;
            let mut node = Node::connect(&tx.rpc.rpc)?;
            let abi = node.abi_at(to).await?;
            let key = tx.signer.signer(node.chain_id().await?)?;
            let receipt = node.transact(&key, TxKind::Call(to), value, client::hex_arg(&data)?, tx.gas, abi.as_ref()).await?;
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
