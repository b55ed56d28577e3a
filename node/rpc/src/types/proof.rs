//! Proofs: EIP-1186 (`eth_getProof`), its byte-string variant (`strata_getProof`) with
//! tombstones of archived keys, and the receipt audit bundle (`strata_getReceiptProof`).

use alloy_primitives::U64;
use serde::Serialize;
use strata_primitives::{Address, B256, Bytes, Tombstone, U256};

/// EIP-1186 `eth_getProof` answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Eip1186Proof {
    /// The account.
    pub address: Address,
    /// Nodes from the state root to the account.
    pub account_proof: Vec<Bytes>,
    /// Balance.
    pub balance: U256,
    /// Code hash.
    pub code_hash: B256,
    /// Nonce.
    pub nonce: U64,
    /// Storage root.
    pub storage_hash: B256,
    /// One proof per requested slot.
    pub storage_proof: Vec<Eip1186StorageProof>,
}

/// One slot of an EIP-1186 proof.
#[derive(Debug, Clone, Serialize)]
pub struct Eip1186StorageProof {
    /// The slot, as requested.
    pub key: String,
    /// The value as a quantity (0 when absent).
    pub value: U256,
    /// Nodes from the storage root to the slot (path `keccak256(slot word)`).
    pub proof: Vec<Bytes>,
}

/// `strata_getProof` answer: EIP-1186 with byte-string keys and values.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StrataProof {
    /// The account.
    pub address: Address,
    /// The state root the proofs are against.
    pub state_root: B256,
    /// Nodes from the state root to the account.
    pub account_proof: Vec<Bytes>,
    /// Balance.
    pub balance: U256,
    /// Code hash.
    pub code_hash: B256,
    /// Nonce.
    pub nonce: U64,
    /// Storage root.
    pub storage_hash: B256,
    /// One proof per requested key.
    pub storage_proof: Vec<StrataStorageProof>,
}

/// One key of a `strata_getProof` answer.
#[derive(Debug, Clone, Serialize)]
pub struct StrataStorageProof {
    /// The key bytes (its trie path is `keccak256(key)`).
    pub key: Bytes,
    /// The live value bytes (`null` when absent or archived); its leaf holds `rlp(value)`.
    pub value: Option<Bytes>,
    /// The tombstone of an archived key (its leaf holds
    /// `rlp([valueHash, size, retentionEnd, payer, purged])`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tombstone: Option<RpcTombstone>,
    /// Nodes from the storage root to the key.
    pub proof: Vec<Bytes>,
}

/// A tombstone, as `strata_getProof` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcTombstone {
    /// `keccak256` of the archived value.
    pub value_hash: B256,
    /// Length of the archived value.
    pub size: U64,
    /// Unix time until which the cold store keeps it.
    pub retention_end: U64,
    /// Who paid for the retention.
    pub payer: Address,
    /// True once the cold copy was purged.
    pub purged: bool,
}

impl From<&Tombstone> for RpcTombstone {
    fn from(t: &Tombstone) -> Self {
        Self {
            value_hash: t.value_hash,
            size: U64::from(t.size),
            retention_end: U64::from(t.retention_end),
            payer: t.payer,
            purged: t.purged,
        }
    }
}

/// `strata_getReceiptProof`: an audit bundle, as fields and as one RLP blob.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcReceiptProof {
    /// The transaction.
    pub transaction_hash: B256,
    /// Its block.
    pub block_hash: B256,
    /// Its block's height.
    pub block_number: U64,
    /// Its index in the block.
    pub transaction_index: U64,
    /// The chain.
    pub chain_id: U64,
    /// The receipt as committed (EIP-2718 encoding).
    pub receipt: Bytes,
    /// Trie nodes from `receiptsRoot` to the receipt (key `rlp(transactionIndex)`).
    pub proof: Vec<Bytes>,
    /// The block header (RLP; its keccak is the block hash).
    pub header: Bytes,
    /// The block's commit certificate (RLP).
    pub certificate: Bytes,
    /// All of the above as one RLP `ReceiptBundle` (`strata audit receipt --offline`).
    pub bundle: Bytes,
    /// The switches of the validator set before the block (RLP `SetProof`, no links on a
    /// chain without slots): with it, the genesis set proves the set that certified it.
    pub validator_set_proof: Bytes,
}

impl RpcReceiptProof {
    /// The JSON shape of a bundle.
    pub fn new(
        transaction_hash: B256,
        block_hash: B256,
        chain_id: u64,
        b: &strata_primitives::audit::ReceiptBundle,
        set_proof: &strata_primitives::set_proof::SetProof,
    ) -> Self {
        Self {
            transaction_hash,
            block_hash,
            block_number: U64::from(b.header.number),
            transaction_index: U64::from(b.index),
            chain_id: U64::from(chain_id),
            receipt: b.receipt.clone(),
            proof: b.proof.clone(),
            header: b.header.encoded().into(),
            certificate: b.certificate.clone(),
            bundle: strata_primitives::rlp::encode(b).into(),
            validator_set_proof: strata_primitives::rlp::encode(set_proof).into(),
        }
    }
}
