//! `strata_sendRawTransactionCertified`: submit a transaction and get back, before it is
//! in a block, a storage certificate — `2f + 1` validators' signatures that each admitted
//! it and wrote it to its pool journal. Gathering the signatures is the validator's work
//! ([`CertifyService`], implemented by the node, which talks to its peers); this module
//! only shapes the answer.

use alloy_primitives::U64;
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use serde::Serialize;
use strata_primitives::{Address, B256, Bytes, storage_cert::StorageCertificate};

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
}

/// Certified submissions.
#[rpc(server)]
pub trait CertifiedApi {
    /// Strata: submits a signed transaction (EIP-2718 bytes) and returns its storage
    /// certificate once a quorum of validators has stored it durably; an error with the
    /// reason when this node refuses it or no quorum signs in time.
    #[method(name = "strata_sendRawTransactionCertified")]
    async fn send_raw_transaction_certified(&self, raw: Bytes) -> RpcResult<RpcStorageCertificate>;
}

#[jsonrpsee::core::async_trait]
impl CertifiedApiServer for EthRpc {
    async fn send_raw_transaction_certified(&self, raw: Bytes) -> RpcResult<RpcStorageCertificate> {
        let Some(service) = self.certifier.clone() else {
            return Err(exec_error("this node does not certify transactions (not a validator)"));
        };
        let cert = service.certify(raw).await.map_err(|e| match e {
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
        })
    }
}
