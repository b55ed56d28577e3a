//! Another Strata chain's state as an attestation source.
//!
//! Read parameters pin a block (the version): `{"block": 120, "address": "0x…", "key":
//! "0x…"}` reads a contract's storage entry (raw key bytes, as Strata contracts use them)
//! with `strata_getProof` and checks the proof against the block's state root: the
//! canonical bytes are the entry's value (empty when absent or archived). `{"block":
//! 120, "to": "0x…", "data": "0x…"}` is an `eth_call` at that block: its return data
//! (not provable; the node is trusted for it). A block the node does not have yet is
//! retried; a block whose state it no longer keeps is [`ReadError::Moved`].

use serde::Deserialize;
use serde_json::{Value, json};
use strata_primitives::{Address, B256, Bytes, Slot, hex, keccak256, proof};

use super::{ReadError, ReadFuture, Source, parse_params};
use crate::client::Node;

/// A Strata node's JSON-RPC.
pub struct ChainSource {
    node: Node,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    block: u64,
    #[serde(default)]
    address: Option<Address>,
    #[serde(default)]
    key: Option<Bytes>,
    #[serde(default)]
    to: Option<Address>,
    #[serde(default)]
    data: Option<Bytes>,
}

fn unavailable(e: anyhow::Error) -> ReadError {
    ReadError::Unavailable(format!("{e:#}"))
}

fn nodes(v: &Value) -> Result<Vec<Bytes>, ReadError> {
    let items = v.as_array().ok_or_else(|| ReadError::Unavailable(format!("not a proof: {v}")))?;
    items
        .iter()
        .map(|n| n.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| ReadError::Unavailable(format!("not a proof node: {n}"))))
        .collect()
}

impl ChainSource {
    /// A source read through the node at `url`.
    pub fn new(url: &str) -> anyhow::Result<Self> {
        Ok(Self { node: Node::connect(url)? })
    }

    async fn state_root(&self, number: u64) -> Result<B256, ReadError> {
        let block =
            self.node.request("eth_getBlockByNumber", vec![json!(format!("{number:#x}")), false.into()]).await.map_err(unavailable)?;
        if block.is_null() {
            return Err(ReadError::Unavailable(format!("block {number} does not exist yet")));
        }
        block["stateRoot"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ReadError::Unavailable(format!("block {number} has no stateRoot")))
    }

    async fn get(&self, params: &[u8]) -> Result<Vec<u8>, ReadError> {
        let p: Params = parse_params(params)?;
        let tag = json!(format!("{:#x}", p.block));
        match (p.address, p.key, p.to, p.data) {
            (Some(address), Some(key), None, None) => {
                let root = self.state_root(p.block).await?;
                let answer = self.node.request("strata_getProof", vec![json!(address), json!([key]), tag]).await.map_err(|e| {
                    let text = format!("{e:#}");
                    if text.contains("not available") || text.contains("pruned") {
                        ReadError::Moved(text)
                    } else {
                        ReadError::Unavailable(text)
                    }
                })?;
                let account = proof::verify_account(root, &address, &nodes(&answer["accountProof"])?)
                    .map_err(|e| ReadError::Unavailable(format!("the account proof does not verify: {e}")))?;
                let Some(account) = account else { return Ok(Vec::new()) };
                let leaf = proof::verify(account.storage_root, keccak256(&key).as_slice(), &nodes(&answer["storageProof"][0]["proof"])?)
                    .map_err(|e| ReadError::Unavailable(format!("the storage proof does not verify: {e}")))?;
                match leaf.map(|l| Slot::decode(&l)) {
                    None => Ok(Vec::new()),
                    Some(Ok(Slot::Value(value))) => Ok(value.to_vec()),
                    Some(Ok(Slot::Tombstone(_))) => {
                        Err(ReadError::Moved("the entry is archived at that block: its bytes are in the cold store, not the state".into()))
                    }
                    Some(Err(e)) => Err(ReadError::Unavailable(format!("the proven leaf does not decode: {e}"))),
                }
            }
            (None, None, Some(to), Some(data)) => {
                self.state_root(p.block).await?;
                let call = json!({"to": to, "data": data});
                // A revert at a fixed block is for good: nothing to compare.
                let out = self.node.request("eth_call", vec![call, tag]).await.map_err(|e| match crate::client::revert_data(&e) {
                    Some(data) => ReadError::BadParams(format!("the call reverts at block {}: 0x{}", p.block, hex::encode(data))),
                    None => unavailable(e),
                })?;
                let text = out.as_str().ok_or_else(|| ReadError::Unavailable(format!("eth_call returned {out}")))?;
                hex::decode(text.trim_start_matches("0x")).map_err(|e| ReadError::Unavailable(format!("eth_call returned bad hex: {e}")))
            }
            _ => Err(ReadError::BadParams("give `address` and `key` (a storage entry) or `to` and `data` (a call)".into())),
        }
    }
}

impl Source for ChainSource {
    fn kind(&self) -> &'static str {
        "strata"
    }

    fn read<'a>(&'a self, params: &'a [u8]) -> ReadFuture<'a> {
        Box::pin(self.get(params))
    }
}
