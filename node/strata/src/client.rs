//! The CLI's side of a node: a JSON-RPC client, who signs, sending a transaction and
//! waiting for its receipt, and printing receipts readably (events and errors decoded
//! with the ABIs the contracts carry).

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use alloy_json_abi::JsonAbi;
use anyhow::{Context, bail};
use jsonrpsee::{
    core::{client::ClientT, params::ArrayParams},
    http_client::{HttpClient, HttpClientBuilder},
};
use serde_json::{Value, json};
use strata_primitives::{Address, B256, Bytes, LocalSigner, TxKind, U256, hex, system::RESOURCE_LOG_ADDRESS, transaction::build};

use crate::abi;

/// Where the node is.
#[derive(clap::Args, Debug, Clone)]
pub struct RpcArgs {
    /// Node JSON-RPC URL.
    #[arg(long, env = "STRATA_RPC_URL", default_value = "http://127.0.0.1:8545")]
    pub rpc: String,
}

/// Who signs: one of a private key, a keystore, a key file or a public dev key. With
/// none on a dev chain (chain id 1337), dev key 0 signs.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SignerArgs {
    /// Private key, 32-byte hex.
    #[arg(long, env = "STRATA_PRIVATE_KEY", hide_env_values = true)]
    pub private_key: Option<String>,
    /// Encrypted JSON keystore (Web3 Secret Storage v3: geth, `cast wallet`, web3.py).
    #[arg(long, conflicts_with = "private_key")]
    pub keystore: Option<PathBuf>,
    /// File holding the keystore's password (else STRATA_KEYSTORE_PASSWORD, else asked).
    #[arg(long, requires = "keystore")]
    pub password_file: Option<PathBuf>,
    /// File holding a 32-byte hex private key (`--key` for short).
    #[arg(long, visible_alias = "key", conflicts_with_all = ["private_key", "keystore"])]
    pub key_file: Option<PathBuf>,
    /// Public dev key N (0-9) of `strata dev`. Never on a real network.
    #[arg(long, conflicts_with_all = ["private_key", "keystore", "key_file"])]
    pub dev_key: Option<usize>,
}

impl SignerArgs {
    /// Whether a signer was named.
    pub fn given(&self) -> bool {
        self.private_key.is_some() || self.keystore.is_some() || self.key_file.is_some() || self.dev_key.is_some()
    }

    /// The signer named; with none, dev key 0 on a dev chain (said on stderr).
    pub fn signer(&self, chain_id: u64) -> anyhow::Result<LocalSigner> {
        if let Some(k) = &self.private_key {
            let secret: B256 = k.trim().parse().context("--private-key must be a 32-byte hex private key")?;
            return Ok(LocalSigner::from_bytes(&secret)?);
        }
        if let Some(path) = &self.keystore {
            let json = std::fs::read_to_string(path).with_context(|| format!("reading keystore {}", path.display()))?;
            let password = match (&self.password_file, std::env::var("STRATA_KEYSTORE_PASSWORD")) {
                (Some(file), _) => {
                    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
                    text.trim_end_matches(['\r', '\n']).to_string()
                }
                (None, Ok(p)) => p,
                (None, Err(_)) => rpassword::prompt_password(format!("password of {}: ", path.display()))
                    .context("reading the keystore password (or give --password-file)")?,
            };
            return crate::keystore::decrypt(&json, password.as_bytes());
        }
        if let Some(path) = &self.key_file {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading key file {}", path.display()))?;
            let secret: B256 = text.trim().parse().context("the key file must hold a 32-byte hex private key")?;
            return Ok(LocalSigner::from_bytes(&secret)?);
        }
        let index = match self.dev_key {
            Some(i) => i,
            None if chain_id == strata_chain::DEV_CHAIN_ID => {
                eprintln!("(no signer given on a dev chain: signing with public dev key 0)");
                0
            }
            None => bail!("say who signs: --private-key, --keystore FILE, --key-file FILE, or --dev-key N (dev chains only)"),
        };
        let keys = strata_primitives::keys::derive_accounts(strata_primitives::keys::DEV_MNEMONIC, 10)?;
        Ok(keys.get(index).context("dev keys are numbered 0 to 9")?.signer.clone())
    }
}

/// Options of every command that sends a transaction.
#[derive(clap::Args, Debug, Clone)]
pub struct TxArgs {
    /// The node.
    #[command(flatten)]
    pub rpc: RpcArgs,
    /// Who signs.
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Gas limit (default: eth_estimateGas).
    #[arg(long)]
    pub gas: Option<u64>,
    /// Print the raw JSON receipt (or call result) instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Print only the essential result: a deployed address, a return value, a hash.
    #[arg(long, short)]
    pub quiet: bool,
}

/// A JSON-RPC connection to a node.
pub struct Node {
    client: HttpClient,
    /// ABIs read from the code at addresses (`None`: that code carries none).
    abis: BTreeMap<Address, Option<JsonAbi>>,
}

/// The revert data of an RPC error (code 3, `data`), if it carries some.
pub fn revert_data(e: &anyhow::Error) -> Option<Vec<u8>> {
    let jsonrpsee::core::client::Error::Call(obj) = e.downcast_ref::<jsonrpsee::core::client::Error>()? else { return None };
    let data: String = serde_json::from_str(obj.data()?.get()).ok()?;
    hex::decode(data.trim_start_matches("0x")).ok()
}

/// A hex quantity.
pub fn quantity(v: &Value) -> anyhow::Result<u64> {
    let s = v.as_str().with_context(|| format!("expected a hex quantity, got {v}"))?;
    Ok(u64::from_str_radix(s.trim_start_matches("0x"), 16)?)
}

/// A hex quantity of up to 256 bits.
pub fn big_quantity(v: &Value) -> anyhow::Result<U256> {
    let s = v.as_str().with_context(|| format!("expected a hex quantity, got {v}"))?;
    Ok(U256::from_str_radix(s.trim_start_matches("0x"), 16)?)
}

impl Node {
    /// Connects to `url`.
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        let client = HttpClientBuilder::default().request_timeout(Duration::from_secs(60)).build(url)?;
        Ok(Self { client, abis: BTreeMap::new() })
    }

    /// One call. A node that answers -32005 ("busy, retry later": its simulation pool or
    /// its admission queue is full) is asked again with backoff, for up to about 15 s;
    /// nothing it refuses that way was done.
    pub async fn request(&self, method: &str, params: Vec<Value>) -> anyhow::Result<Value> {
        let mut delay = Duration::from_millis(50);
        let mut waited = Duration::ZERO;
        loop {
            let mut p = ArrayParams::new();
            for v in &params {
                p.insert(v)?;
            }
            match self.client.request(method, p).await {
                Err(jsonrpsee::core::client::Error::Call(obj))
                    if obj.code() == strata_rpc::LIMIT_EXCEEDED_CODE && waited < Duration::from_secs(15) =>
                {
                    tokio::time::sleep(delay).await;
                    waited += delay;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
                answer => return answer.with_context(|| format!("{method} failed")),
            }
        }
    }

    /// The chain id.
    pub async fn chain_id(&self) -> anyhow::Result<u64> {
        quantity(&self.request("eth_chainId", vec![]).await?)
    }

    /// The ABI the code at `address` carries (cached), `None` for an account without
    /// code or code without an ABI section.
    pub async fn abi_at(&mut self, address: Address) -> anyhow::Result<Option<JsonAbi>> {
        if let Some(abi) = self.abis.get(&address) {
            return Ok(abi.clone());
        }
        let code = self.request("eth_getCode", vec![json!(address), "latest".into()]).await?;
        let code = hex::decode(code.as_str().unwrap_or_default().trim_start_matches("0x")).context("eth_getCode returned no hex")?;
        let abi = if code.is_empty() { None } else { abi::from_module(&code).ok().flatten() };
        self.abis.insert(address, abi.clone());
        Ok(abi)
    }

    /// Signs and sends a transaction (gas estimated unless given) and waits for its
    /// receipt. A transaction the estimate says reverts is not sent: its error, decoded
    /// with `abi`, is the answer.
    pub async fn transact(
        &self,
        key: &LocalSigner,
        to: TxKind,
        value: U256,
        input: Vec<u8>,
        gas: Option<u64>,
        abi: Option<&JsonAbi>,
    ) -> anyhow::Result<Value> {
        let raw = self.sign(key, to, value, input, gas, abi).await?;
        let hash = self.request("eth_sendRawTransaction", vec![json!(format!("0x{}", hex::encode(&raw)))]).await?;
        self.wait_for_receipt(&hash).await
    }

    /// The transaction [`Node::transact`] would send, signed (EIP-2718 bytes): the
    /// account's pending nonce, the gas estimated unless given, twice the base fee.
    pub async fn sign(
        &self,
        key: &LocalSigner,
        to: TxKind,
        value: U256,
        input: Vec<u8>,
        gas: Option<u64>,
        abi: Option<&JsonAbi>,
    ) -> anyhow::Result<Bytes> {
        let chain_id = self.chain_id().await?;
        let nonce = quantity(&self.request("eth_getTransactionCount", vec![json!(key.address()), "pending".into()]).await?)?;
        let gas = match gas {
            Some(g) => g,
            None => {
                let mut req = json!({"from": key.address(), "value": value, "data": format!("0x{}", hex::encode(&input))});
                if let TxKind::Call(a) = to {
                    req["to"] = json!(a);
                }
                match self.request("eth_estimateGas", vec![req]).await {
                    Ok(g) => quantity(&g)?,
                    Err(e) => match revert_data(&e) {
                        Some(data) => bail!("the transaction would revert: {}", abi::format_revert(abi, &data)),
                        None => return Err(e),
                    },
                }
            }
        };
        let tip = u128::from(quantity(&self.request("eth_maxPriorityFeePerGas", vec![]).await?)?);
        let head = self.request("eth_getBlockByNumber", vec!["latest".into(), false.into()]).await?;
        let base = u128::from(quantity(&head["baseFeePerGas"])?);
        let tx = build::eip1559(chain_id, nonce, to, value, Bytes::from(input), gas, base * 2 + tip, tip);
        Ok(key.sign_transaction(tx)?.encoded())
    }

    /// Polls for the receipt of `hash` (60 s at most): every 20 ms for the first two
    /// seconds (a transaction usually lands in the next block, and a relayer's latency
    /// is two of these waits), every 100 ms after.
    pub async fn wait_for_receipt(&self, hash: &Value) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let started = tokio::time::Instant::now();
        while tokio::time::Instant::now() < deadline {
            let receipt = self.request("eth_getTransactionReceipt", vec![hash.clone()]).await?;
            if !receipt.is_null() {
                return Ok(receipt);
            }
            let pause = if started.elapsed() < Duration::from_secs(2) { 20 } else { 100 };
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        bail!("no receipt for {hash} after 60 s")
    }

    /// Reports a sent transaction as `tx` asks: with `-q` only the receipt's `field`
    /// (`transactionHash`, or `contractAddress` for a deploy), and the decoded receipt
    /// too if it failed; otherwise the receipt (`--json`: raw).
    pub async fn report(&mut self, receipt: &Value, abi: Option<&JsonAbi>, tx: &TxArgs, field: &str) -> anyhow::Result<()> {
        if tx.quiet {
            println!("{}", receipt[field].as_str().unwrap_or_default());
            if receipt["status"] == "0x1" {
                return Ok(());
            }
            return self.print_receipt(receipt, abi, false).await;
        }
        self.print_receipt(receipt, abi, tx.json).await
    }

    /// Prints a receipt: raw JSON, or a summary with events and errors decoded by the
    /// ABIs of the emitting contracts (`abi` first for `to`'s). A failed transaction is
    /// an error, after printing.
    pub async fn print_receipt(&mut self, receipt: &Value, abi: Option<&JsonAbi>, json: bool) -> anyhow::Result<()> {
        if json {
            println!("{}", serde_json::to_string_pretty(receipt)?);
        } else {
            self.summarise(receipt, abi).await?;
        }
        if receipt["status"] != "0x1" {
            bail!("transaction {} failed: {}", receipt["transactionHash"].as_str().unwrap_or("?"), failure(receipt, abi));
        }
        Ok(())
    }

    async fn summarise(&mut self, receipt: &Value, abi: Option<&JsonAbi>) -> anyhow::Result<()> {
        let ok = receipt["status"] == "0x1";
        println!("transaction  {}", receipt["transactionHash"].as_str().unwrap_or("?"));
        println!("block        {}", quantity(&receipt["blockNumber"]).map(|n| n.to_string()).unwrap_or_else(|_| "?".into()));
        println!("status       {}", if ok { "success".to_string() } else { format!("failed: {}", failure(receipt, abi)) });
        if let Some(addr) = receipt["contractAddress"].as_str() {
            println!("contract     {addr}");
        }
        let gas_used = quantity(&receipt["gasUsed"]).unwrap_or(0);
        let charged = big_quantity(&receipt["resources"]["fee"]["charged"]).unwrap_or(U256::ZERO);
        println!("gas used     {gas_used}, fee {} ETH", abi::format_ether(charged));
        let to: Option<Address> = receipt["to"].as_str().and_then(|s| s.parse().ok());
        for log in receipt["logs"].as_array().into_iter().flatten() {
            let Some(address) = log["address"].as_str().and_then(|s| s.parse::<Address>().ok()) else { continue };
            // Resource and payout logs are summarised by the fee line.
            if address == RESOURCE_LOG_ADDRESS {
                continue;
            }
            let topics: Vec<B256> = log["topics"].as_array().into_iter().flatten().filter_map(|t| t.as_str()?.parse().ok()).collect();
            let data = hex::decode(log["data"].as_str().unwrap_or_default().trim_start_matches("0x")).unwrap_or_default();
            let own = if Some(address) == to { abi.cloned() } else { None };
            let known = match own {
                Some(a) => Some(a),
                None => self.abi_at(address).await.ok().flatten(),
            };
            let shown = known.as_ref().and_then(|a| abi::format_log(a, &topics, &data)).unwrap_or_else(|| {
                let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
                format!("topics [{}] data 0x{}", topics.join(", "), hex::encode(&data))
            });
            println!("event        {shown}  (from {address})");
        }
        Ok(())
    }
}

/// Why a failed receipt failed: its revert data decoded, or the node's reason.
fn failure(receipt: &Value, abi: Option<&JsonAbi>) -> String {
    if let Some(data) = receipt["revertData"].as_str() {
        let bytes = hex::decode(data.trim_start_matches("0x")).unwrap_or_default();
        return format!("reverted: {}", abi::format_revert(abi, &bytes));
    }
    receipt["failureReason"].as_str().unwrap_or("reverted").to_string()
}

/// Parses an address argument.
pub fn address_arg(s: &str) -> anyhow::Result<Address> {
    s.parse().with_context(|| format!("{s:?} is not an address"))
}

/// Parses `0x…` hex (empty allowed).
pub fn hex_arg(s: &str) -> anyhow::Result<Vec<u8>> {
    hex::decode(s.trim_start_matches("0x")).with_context(|| format!("{s:?} is not hex"))
}

/// A duration argument: `250ms`, `2s`, or `2` (seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.find(|c: char| !c.is_ascii_digit()).map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: u64 = num.parse().map_err(|_| format!("invalid duration {s:?}: use e.g. 1s or 250ms"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        _ => Err(format!("invalid duration unit in {s:?}: use ms or s")),
    }
}
