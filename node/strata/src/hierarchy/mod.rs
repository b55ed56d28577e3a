//! The operators' side of a hierarchy of chains: `strata relay` carries events between
//! two chains, `strata provider` keeps files and proves storage windows, and `strata
//! chain` / `strata deal` register chains and open deals.
//!
//! Why in the node binary: these are long-running processes next to the validators,
//! speaking JSON-RPC to them like any client. Nothing they do is trusted: every relayed
//! event is checked on chain by the destination's registry (`contracts/system/registry`)
//! and every storage proof by the proof contract, so anyone may run them.

pub mod cli;
pub mod provider;
pub mod relay;

use alloy_sol_types::{SolCall, SolInterface};
use anyhow::{Context, bail};
use serde_json::{Value, json};
use strata_primitives::{Address, LocalSigner, TxKind, U256, hex};

use crate::client::{Node, quantity, revert_data};

/// Why a call reverted, decoded with the interfaces the hierarchy's contracts use.
pub fn revert_reason(data: &[u8]) -> String {
    use strata_primitives::interfaces::{
        IAttestation::IAttestationErrors, IChainRegistry::IChainRegistryErrors, IStorageDeal::IStorageDealErrors,
        IStorageProof::IStorageProofErrors,
    };
    if let Ok(e) = IChainRegistryErrors::abi_decode(data) {
        return format!("{e:?}");
    }
    if let Ok(e) = IStorageDealErrors::abi_decode(data) {
        return format!("{e:?}");
    }
    if let Ok(e) = IStorageProofErrors::abi_decode(data) {
        return format!("{e:?}");
    }
    if let Ok(e) = IAttestationErrors::abi_decode(data) {
        return format!("{e:?}");
    }
    crate::abi::format_revert(None, data)
}

/// A refused call: the contract's own reason.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct Reverted {
    /// The revert data.
    pub data: Vec<u8>,
    /// It, decoded.
    pub reason: String,
}

/// Calls `call` on `to` read-only (`eth_call` at the latest block).
pub async fn view<C: SolCall>(node: &Node, to: Address, call: &C) -> anyhow::Result<C::Return> {
    let req = json!({"to": to, "data": format!("0x{}", hex::encode(call.abi_encode()))});
    let out = match node.request("eth_call", vec![req, "latest".into()]).await {
        Ok(out) => out,
        Err(e) => match revert_data(&e) {
            Some(data) => return Err(Reverted { reason: revert_reason(&data), data }.into()),
            None => return Err(e),
        },
    };
    let bytes = hex::decode(out.as_str().unwrap_or_default().trim_start_matches("0x")).context("eth_call returned no hex")?;
    C::abi_decode_returns(&bytes).with_context(|| format!("{} returned undecodable data", C::SIGNATURE))
}

/// Sends `call` to `to` with `value` from `key` and waits for its receipt; an estimate
/// that reverts sends nothing and is a [`Reverted`] error, a failed receipt an error.
pub async fn send<C: SolCall>(node: &Node, key: &LocalSigner, to: Address, value: U256, call: &C) -> anyhow::Result<Value> {
    let input = call.abi_encode();
    let gas = estimate(node, key.address(), to, value, &input).await?;
    // A margin over the estimate: state may move between estimate and inclusion.
    let receipt = node.transact(key, TxKind::Call(to), value, input, Some(gas + gas / 4), None).await?;
    if receipt["status"] != "0x1" {
        bail!("{} to {to} failed in block {}: {}", C::SIGNATURE, receipt["blockNumber"], receipt["transactionHash"]);
    }
    Ok(receipt)
}

/// `eth_estimateGas`, a revert being a [`Reverted`] error.
pub async fn estimate(node: &Node, from: Address, to: Address, value: U256, input: &[u8]) -> anyhow::Result<u64> {
    let req = json!({"from": from, "to": to, "value": value, "data": format!("0x{}", hex::encode(input))});
    match node.request("eth_estimateGas", vec![req]).await {
        Ok(g) => quantity(&g),
        Err(e) => match revert_data(&e) {
            Some(data) => Err(Reverted { reason: revert_reason(&data), data }.into()),
            None => Err(e),
        },
    }
}

/// The latest block number.
pub async fn head(node: &Node) -> anyhow::Result<u64> {
    quantity(&node.request("eth_blockNumber", vec![]).await?)
}

/// The hash of block `number`.
pub async fn block_hash(node: &Node, number: u64) -> anyhow::Result<strata_primitives::B256> {
    let block = node.request("eth_getBlockByNumber", vec![json!(format!("{number:#x}")), false.into()]).await?;
    block["hash"].as_str().with_context(|| format!("no block {number}"))?.parse().context("a block hash")
}

/// Hex bytes of a JSON string field.
pub fn hex_field(v: &Value, field: &str) -> anyhow::Result<Vec<u8>> {
    hex_value(&v[field]).with_context(|| format!("no hex `{field}` in {v}"))
}

/// Hex bytes of a JSON string.
pub fn hex_value(v: &Value) -> anyhow::Result<Vec<u8>> {
    let s = v.as_str().with_context(|| format!("expected a hex string, got {v}"))?;
    Ok(hex::decode(s.trim_start_matches("0x"))?)
}
