//! Answers of the other `strata_*` methods: fee quotes, storage quotas, commit
//! certificates and the consensus status.

use alloy_primitives::U64;
use serde::Serialize;
use strata_primitives::{Address, B256, Bytes, U256};

use super::RpcResources;

/// `strata_quoteFee`: what a transaction would use and pay, by resource.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcFeeQuote {
    /// Whether it would succeed (with the gas limit quoted for).
    pub success: bool,
    /// Gas it would be charged: the fee over the gas price, rounded up.
    pub gas_used: U64,
    /// Wei per gas.
    pub gas_price: U256,
    /// Resources and fee.
    pub resources: RpcResources,
    /// Why it would fail (not for a revert).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Revert data, if it would revert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revert_data: Option<Bytes>,
}

/// `strata_getStorageQuota`: a contract's hot-storage allowance.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcStorageQuota {
    /// The contract.
    pub address: Address,
    /// Its owner (the deployer), who may change the quota.
    pub owner: Address,
    /// Bytes of keys and live values it may keep.
    pub quota: U64,
    /// Bytes in use.
    pub used: U64,
    /// Bytes left.
    pub remaining: U64,
}

/// `strata_getCommitCertificate`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcCertificate {
    /// Block height.
    pub height: U64,
    /// View it was decided in.
    pub view: U64,
    /// The block's hash.
    pub block_hash: B256,
    /// The signers: validator index and 65-byte signature over the commit digest.
    pub signatures: Vec<RpcCertSignature>,
    /// The certificate's RLP (what the next header's `parentCommitHash` hashes).
    pub raw: Bytes,
}

/// One validator's commit signature.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcCertSignature {
    /// Validator index.
    pub validator: U64,
    /// Signature (r ‖ s ‖ v).
    pub signature: Bytes,
}

impl RpcCertificate {
    /// The JSON shape of a certificate and its encoding.
    pub fn new(c: &strata_primitives::CommitCertificate, raw: Bytes) -> Self {
        Self {
            height: U64::from(c.height),
            view: U64::from(c.view),
            block_hash: c.block_hash,
            signatures: c
                .signatures
                .iter()
                .map(|s| RpcCertSignature { validator: U64::from(s.validator), signature: Bytes::copy_from_slice(&s.signature) })
                .collect(),
            raw,
        }
    }
}

/// `strata_consensusStatus`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcConsensusStatus {
    /// Current view.
    pub view: U64,
    /// Index of its primary.
    pub primary: U64,
    /// This node's index.
    pub me: U64,
    /// Number of validators.
    pub validators: U64,
    /// Peers connected.
    pub peers: U64,
    /// Committed height.
    pub height: U64,
    /// Hash of the head block.
    pub head: B256,
}
