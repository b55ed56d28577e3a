//! `strata_sendRawTransactionCertified`: submit a transaction and get back, before it is
//! in a block, a storage certificate — `2f + 1` validators' signatures that each admitted
//! it and wrote it to its pool journal. Gathering the signatures is the validator's work
//! ([`CertifyService`], implemented by the node, which talks to its peers); this module
//! only shapes the answer.

use alloy_primitives::U64;
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use serde::Serialize;
use strata_primitives::{Address, B256, Bytes, U256, storage_cert::StorageCertificate};

use crate::{
    EthRpc,
    error::{exec_error, internal},
};

/// Why no certificate was made.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CertifyFailure {
    /// This node refused the transaction (the reason: admission, a certified nonce).
    #[error("{0}")]
    Refused(String),
    /// Too few validators signed within the time allowed.
    #[error("no storage certificate: {0}")]
    NoQuorum(String),
    /// The node failed.
    #[error("internal error: {0}")]
    Node(String),
}

/// The validator's side of certified submissions.
#[jsonrpsee::core::async_trait]
pub trait CertifyService: Send + Sync + std::fmt::Debug + 'static {
    /// Admits `raw`, journals it, and gathers a quorum of signatures for it.
    async fn certify(&self, raw: Bytes) -> Result<StorageCertificate, CertifyFailure>;
}

/// `strata_sendRawTransactionCertified`: the certificate, as fields and as one RLP blob.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcStorageCertificate {
    /// The transaction.
    pub transaction_hash: B256,
    /// Its sender.
    pub sender: Address,
    /// Its nonce.
    pub nonce: U64,
    /// The chain.
    pub chain_id: U64,
    /// The height whose validators signed.
    pub height: U64,
    /// The chain includes the transaction in a block no higher than this.
    pub expiry: U64,
    /// The signers' validator indices.
    pub signers: Vec<U64>,
    /// The certificate: RLP `StorageCertificate` (`strata audit certificate`).
    pub certificate: Bytes,
    /// The validator-set switches before `height` (RLP `SetProof`; no links without
    /// validator slots): with it, the genesis set proves the signers' keys.
    pub validator_set_proof: Bytes,
    /// The transaction as submitted (EIP-2718): what an audit of a resolution checks
    /// the block's figures against.
    pub transaction: Bytes,
}

/// One resolution of a certified transaction a block did not include.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcResolution {
    /// The certified transaction.
    pub transaction_hash: B256,
    /// Its sender.
    pub sender: Address,
    /// Its nonce.
    pub nonce: U64,
    /// The reason's code (`docs/header-extensions.md`).
    pub reason: U64,
    /// The reason in words.
    pub reason_text: String,
    /// The transaction's figure the reason compares (cost, fee cap or gas limit).
    pub amount: U256,
}

/// `strata_getCertifiedResolutions`: a block's resolutions with what proves them — the
/// header that carries them and its commit certificate.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcResolutions {
    /// The block's height.
    pub number: U64,
    /// Its hash.
    pub block_hash: B256,
    /// The certified transactions it did not include, and why.
    pub resolutions: Vec<RpcResolution>,
    /// The header (RLP): the resolutions are its extension of kind 1.
    pub header: Bytes,
    /// The block's commit certificate (RLP; empty if none is kept yet).
    pub certificate: Bytes,
    /// The validator-set switches before the block (RLP `SetProof`).
    pub validator_set_proof: Bytes,
}

/// Certified submissions.
#[rpc(server)]
pub trait CertifiedApi {
    /// Strata: submits a signed transaction (EIP-2718 bytes) and returns its storage
    /// certificate once a quorum of validators has stored it durably; an error with the
    /// reason when this node refuses it or no quorum signs in time.
    #[method(name = "strata_sendRawTransactionCertified")]
    async fn send_raw_transaction_certified(&self, raw: Bytes) -> RpcResult<RpcStorageCertificate>;

    /// Strata: the certified transactions block `number` resolved without including
    /// them (the block at a certificate's expiry says so when it cannot carry one), with
    /// the header and commit certificate that prove it; `null` for a block not yet
    /// committed.
    #[method(name = "strata_getCertifiedResolutions", blocking)]
    fn certified_resolutions(&self, number: U64) -> RpcResult<Option<RpcResolutions>>;
}

#[jsonrpsee::core::async_trait]
impl CertifiedApiServer for EthRpc {
    fn certified_resolutions(&self, number: U64) -> RpcResult<Option<RpcResolutions>> {
        let number = number.to::<u64>();
        let Some(block) = self.chain.store().block(number).map_err(internal)? else { return Ok(None) };
        let header = block.header();
        let resolutions = strata_primitives::storage_cert::resolutions(header).map_err(internal)?;
        let certificate = self.chain.store().certificate(number).map_err(internal)?.unwrap_or_default();
        let set_proof = self.chain.set_proof(number).map_err(|e| exec_error(e.to_string()))?;
        Ok(Some(RpcResolutions {
            number: U64::from(number),
            block_hash: block.hash,
            resolutions: resolutions
                .iter()
                .map(|r| RpcResolution {
                    transaction_hash: r.tx_hash,
                    sender: r.sender,
                    nonce: U64::from(r.nonce),
                    reason: U64::from(r.reason),
                    reason_text: r.reason().map_or("unknown", |u| u.describe()).to_string(),
                    amount: r.amount,
                })
                .collect(),
            header: header.encoded().into(),
            certificate: certificate.into(),
            validator_set_proof: strata_primitives::rlp::encode(&set_proof).into(),
        }))
    }

    async fn send_raw_transaction_certified(&self, raw: Bytes) -> RpcResult<RpcStorageCertificate> {
        let Some(service) = self.certifier.clone() else {
            return Err(exec_error("this node does not certify transactions (not a validator)"));
        };
        let cert = service.certify(raw.clone()).await.map_err(|e| match e {
            CertifyFailure::Node(m) => internal(m),
            other => exec_error(other.to_string()),
        })?;
        let chain = self.chain.clone();
        let height = cert.claim.height;
        // The certificate exists once a quorum signed: it is answered even if the set
        // proof cannot be made (an auditor then asks strata_getValidatorSetProof elsewhere).
        let set_proof = match tokio::task::spawn_blocking(move || chain.set_proof(height)).await {
            Ok(Ok(proof)) => proof,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, height, "storage certificate answered without its validator-set proof");
                Default::default()
            }
            Err(e) => return Err(internal(e)),
        };
        let c = &cert.claim;
        Ok(RpcStorageCertificate {
            transaction_hash: c.tx_hash,
            sender: c.sender,
            nonce: U64::from(c.nonce),
            chain_id: U64::from(c.chain_id),
            height: U64::from(c.height),
            expiry: U64::from(c.expiry),
            signers: cert.signatures.iter().map(|s| U64::from(s.validator)).collect(),
            certificate: strata_primitives::rlp::encode(&cert).into(),
            validator_set_proof: strata_primitives::rlp::encode(&set_proof).into(),
            transaction: raw,
        })
    }
}
