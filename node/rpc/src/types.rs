//! Ethereum JSON-RPC shapes: block identifiers, blocks, transactions, receipts, logs.
//!
//! Quantities are `0x`-prefixed minimal hex (`U64`/`U256` serialise that way),
//! data is `0x`-prefixed hex, field names are camelCase — what web3.py, ethers
//! and viem parse.

use alloy_primitives::U64;
use serde::{Deserialize, Deserializer, Serialize};
use strata_primitives::{
    Address, B256, Bloom, Bytes, Header, Log, ResourceUsage, SealedBlock, StoredReceipt, Tombstone, TransactionSigned, TxType, U256, b256,
};

/// `keccak256(rlp([]))`: the ommers hash of a block without uncles.
pub const EMPTY_OMMERS_HASH: B256 = b256!("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347");

/// A block tag or number, as the `block` parameter of state queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockTag {
    /// `latest`, `safe`, `finalized`: PBFT blocks are final when committed.
    Latest,
    /// `earliest`: genesis.
    Earliest,
    /// `pending`: latest state plus the pool (nonces).
    Pending,
    /// A block number.
    Number(u64),
}

/// `BlockTag` or an EIP-1898 block hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockId {
    /// By tag or number.
    Tag(BlockTag),
    /// By hash.
    Hash(B256),
}

impl Default for BlockId {
    fn default() -> Self {
        BlockId::Tag(BlockTag::Latest)
    }
}

fn parse_tag(s: &str) -> Result<BlockTag, String> {
    match s {
        "latest" | "safe" | "finalized" => Ok(BlockTag::Latest),
        "earliest" => Ok(BlockTag::Earliest),
        "pending" => Ok(BlockTag::Pending),
        hex => {
            let digits = hex.strip_prefix("0x").ok_or_else(|| {
                format!("invalid block tag {hex:?}: expected latest, earliest, pending, safe, finalized or a 0x-prefixed number")
            })?;
            if digits.is_empty() || digits.len() > 16 {
                return Err(format!("invalid block number {hex:?}"));
            }
            u64::from_str_radix(digits, 16).map(BlockTag::Number).map_err(|_| format!("invalid block number {hex:?}"))
        }
    }
}

impl<'de> Deserialize<'de> for BlockTag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_tag(&s).map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for BlockId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Str(String),
            #[serde(rename_all = "camelCase")]
            Obj {
                block_hash: Option<B256>,
                block_number: Option<String>,
                #[allow(dead_code)]
                require_canonical: Option<bool>,
            },
        }
        match Raw::deserialize(d)? {
            Raw::Str(s) if s.len() == 66 => s.parse::<B256>().map(BlockId::Hash).map_err(serde::de::Error::custom),
            Raw::Str(s) => parse_tag(&s).map(BlockId::Tag).map_err(serde::de::Error::custom),
            Raw::Obj { block_hash: Some(h), block_number: None, .. } => Ok(BlockId::Hash(h)),
            Raw::Obj { block_hash: None, block_number: Some(n), .. } => parse_tag(&n).map(BlockId::Tag).map_err(serde::de::Error::custom),
            Raw::Obj { .. } => Err(serde::de::Error::custom("block object needs exactly one of blockHash and blockNumber")),
        }
    }
}

/// Where a transaction sits in a block.
#[derive(Debug, Clone, Copy)]
pub struct TxContext {
    /// Block hash.
    pub block_hash: B256,
    /// Block number.
    pub block_number: u64,
    /// Index in the block.
    pub index: u64,
    /// Base fee of the block.
    pub base_fee: u64,
}

/// A transaction as `eth_getTransactionByHash` returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcTransaction {
    hash: B256,
    nonce: U64,
    block_hash: Option<B256>,
    block_number: Option<U64>,
    transaction_index: Option<U64>,
    from: Address,
    to: Option<Address>,
    value: U256,
    gas: U64,
    gas_price: U256,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_fee_per_gas: Option<U256>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_priority_fee_per_gas: Option<U256>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_list: Option<Vec<()>>,
    input: Bytes,
    #[serde(rename = "type")]
    tx_type: U64,
    #[serde(skip_serializing_if = "Option::is_none")]
    chain_id: Option<U64>,
    v: U64,
    #[serde(skip_serializing_if = "Option::is_none")]
    y_parity: Option<U64>,
    r: U256,
    s: U256,
}

impl RpcTransaction {
    /// Builds the JSON shape; `ctx` is `None` for a pending transaction.
    pub fn new(tx: &TransactionSigned, from: Address, ctx: Option<TxContext>) -> Self {
        let sig = tx.signature();
        let parity = u64::from(sig.v());
        let is_1559 = tx.tx_type() == TxType::Eip1559;
        let v = match (is_1559, tx.chain_id()) {
            (true, _) => parity,
            (false, Some(id)) => id.saturating_mul(2).saturating_add(35).saturating_add(parity),
            (false, None) => 27 + parity,
        };
        let gas_price = match ctx {
            // Strata charges the base fee per gas, never a tip.
            Some(c) => u128::from(c.base_fee),
            None => tx.max_fee_per_gas(),
        };
        Self {
            hash: tx.hash(),
            nonce: U64::from(tx.nonce()),
            block_hash: ctx.map(|c| c.block_hash),
            block_number: ctx.map(|c| U64::from(c.block_number)),
            transaction_index: ctx.map(|c| U64::from(c.index)),
            from,
            to: tx.to(),
            value: tx.value(),
            gas: U64::from(tx.gas_limit()),
            gas_price: U256::from(gas_price),
            max_fee_per_gas: is_1559.then(|| U256::from(tx.max_fee_per_gas())),
            max_priority_fee_per_gas: tx.max_priority_fee_per_gas().map(U256::from),
            access_list: is_1559.then(Vec::new),
            input: tx.input().clone(),
            tx_type: U64::from(tx.tx_type() as u8),
            chain_id: tx.chain_id().map(U64::from),
            v: U64::from(v),
            y_parity: is_1559.then(|| U64::from(parity)),
            r: sig.r(),
            s: sig.s(),
        }
    }
}

/// A log as receipts and `eth_getLogs` return it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcLog {
    pub(crate) address: Address,
    topics: Vec<B256>,
    data: Bytes,
    block_hash: B256,
    block_number: U64,
    block_timestamp: U64,
    transaction_hash: B256,
    transaction_index: U64,
    log_index: U64,
    removed: bool,
}

/// A receipt as `eth_getTransactionReceipt` returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcReceipt {
    transaction_hash: B256,
    transaction_index: U64,
    block_hash: B256,
    block_number: U64,
    from: Address,
    to: Option<Address>,
    cumulative_gas_used: U64,
    gas_used: U64,
    effective_gas_price: U256,
    contract_address: Option<Address>,
    logs: Vec<RpcLog>,
    logs_bloom: Bloom,
    #[serde(rename = "type")]
    tx_type: U64,
    status: U64,
    /// Strata: what the transaction used, per resource (also committed as the last log).
    resources: RpcResources,
    /// Strata: the validators' shares of the fee (also in the receipt's payout logs).
    payouts: Vec<RpcPayout>,
    /// Strata: revert data of a reverted transaction.
    #[serde(skip_serializing_if = "Option::is_none")]
    revert_data: Option<Bytes>,
    /// Strata: why execution failed (trap, out of gas, limit, refused deploy).
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
}

/// Per-resource usage of a transaction, and its fee by resource.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcResources {
    fuel: U64,
    tx_bytes: U64,
    validators: U64,
    storage_bytes_added: U64,
    storage_bytes_removed: U64,
    storage_bytes_paid: U64,
    cold_byte_seconds: U64,
    fee: RpcFee,
}

/// A fee by resource (wei).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcFee {
    compute: U256,
    network: U256,
    storage: U256,
    cold: U256,
    total: U256,
    charged: U256,
}

impl From<&ResourceUsage> for RpcResources {
    fn from(r: &ResourceUsage) -> Self {
        Self {
            fuel: U64::from(r.fuel),
            tx_bytes: U64::from(r.tx_bytes),
            validators: U64::from(r.validators),
            storage_bytes_added: U64::from(r.storage_bytes_added),
            storage_bytes_removed: U64::from(r.storage_bytes_removed),
            storage_bytes_paid: U64::from(r.storage_bytes_paid),
            cold_byte_seconds: U64::from(r.cold_byte_seconds),
            fee: RpcFee {
                compute: r.fee.compute,
                network: r.fee.network,
                storage: r.fee.storage,
                cold: r.fee.cold,
                total: r.fee.total,
                charged: r.fee.charged,
            },
        }
    }
}

/// A validator's share of a transaction's fee.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcPayout {
    validator: Address,
    amount: U256,
}

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

/// A quantity given as a hex string or a plain number (clients send both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(pub u64);

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Q {
            Hex(U64),
            Num(u64),
        }
        Ok(Quantity(match Q::deserialize(d)? {
            Q::Hex(h) => h.to::<u64>(),
            Q::Num(n) => n,
        }))
    }
}

/// `eth_feeHistory`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeHistory {
    /// First block of the range.
    pub oldest_block: U64,
    /// Base fee of each block, and of the next one.
    pub base_fee_per_gas: Vec<U256>,
    /// Gas used over gas limit, per block.
    pub gas_used_ratio: Vec<f64>,
    /// Priority fees at the requested percentiles (always 0: no tips on Strata).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reward: Option<Vec<Vec<U256>>>,
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
}

impl RpcReceiptProof {
    /// The JSON shape of a bundle.
    pub fn new(transaction_hash: B256, block_hash: B256, chain_id: u64, b: &strata_primitives::audit::ReceiptBundle) -> Self {
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

impl RpcLog {
    /// A log with its position in the chain.
    pub fn new(log: &Log, block_hash: B256, block_number: u64, timestamp: u64, tx_hash: B256, tx_index: u64, log_index: u64) -> Self {
        Self {
            address: log.address,
            topics: log.data.topics().to_vec(),
            data: log.data.data.clone(),
            block_hash,
            block_number: U64::from(block_number),
            block_timestamp: U64::from(timestamp),
            transaction_hash: tx_hash,
            transaction_index: U64::from(tx_index),
            log_index: U64::from(log_index),
            removed: false,
        }
    }
}

impl RpcReceipt {
    /// Builds the JSON shape. `first_log_index` is the number of logs in earlier receipts of the block.
    pub fn new(
        tx: &TransactionSigned,
        from: Address,
        receipt: &StoredReceipt,
        header: &Header,
        ctx: TxContext,
        first_log_index: u64,
    ) -> Self {
        let logs = receipt
            .logs
            .iter()
            .enumerate()
            .map(|(i, log): (usize, &Log)| RpcLog {
                address: log.address,
                topics: log.data.topics().to_vec(),
                data: log.data.data.clone(),
                block_hash: ctx.block_hash,
                block_number: U64::from(ctx.block_number),
                block_timestamp: U64::from(header.timestamp),
                transaction_hash: tx.hash(),
                transaction_index: U64::from(ctx.index),
                log_index: U64::from(first_log_index.saturating_add(i as u64)),
                removed: false,
            })
            .collect();
        Self {
            transaction_hash: tx.hash(),
            transaction_index: U64::from(ctx.index),
            block_hash: ctx.block_hash,
            block_number: U64::from(ctx.block_number),
            from,
            to: tx.to(),
            cumulative_gas_used: U64::from(receipt.cumulative_gas_used),
            gas_used: U64::from(receipt.gas_used),
            effective_gas_price: U256::from(receipt.effective_gas_price),
            contract_address: receipt.contract_address(),
            logs,
            logs_bloom: receipt.bloom(),
            tx_type: U64::from(receipt.tx_type),
            status: U64::from(u8::from(receipt.success)),
            resources: RpcResources::from(&receipt.resources),
            payouts: receipt
                .logs
                .iter()
                .filter_map(strata_primitives::system::parse_payout)
                .map(|(validator, amount)| RpcPayout { validator, amount })
                .collect(),
            revert_data: (!receipt.success && !receipt.output.is_empty()).then(|| receipt.output.clone()),
            failure_reason: (!receipt.failure.is_empty()).then(|| String::from_utf8_lossy(&receipt.failure).into_owned()),
        }
    }
}

/// Transactions of a block: hashes or full objects.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum BlockTransactions {
    /// Hashes only.
    Hashes(Vec<B256>),
    /// Full transactions.
    Full(Vec<RpcTransaction>),
}

/// A block as `eth_getBlockBy*` returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcBlock {
    hash: B256,
    parent_hash: B256,
    number: U64,
    timestamp: U64,
    miner: Address,
    state_root: B256,
    transactions_root: B256,
    receipts_root: B256,
    logs_bloom: Bloom,
    gas_limit: U64,
    gas_used: U64,
    base_fee_per_gas: U64,
    size: U64,
    extra_data: Bytes,
    sha3_uncles: B256,
    uncles: Vec<B256>,
    difficulty: U64,
    total_difficulty: U64,
    nonce: alloy_primitives::B64,
    mix_hash: B256,
    /// Strata: hash of the parent's commit certificate.
    parent_commit_hash: B256,
    /// Strata: commitment to the liveness records in this block.
    liveness_root: B256,
    transactions: BlockTransactions,
}

impl RpcBlock {
    /// Builds the JSON shape; `senders` are the recovered senders of the block's transactions.
    pub fn new(block: &SealedBlock, senders: &[Address], full: bool) -> Self {
        let h = block.header();
        let txs = &block.block.transactions;
        let transactions = if full {
            BlockTransactions::Full(
                txs.iter()
                    .zip(senders)
                    .enumerate()
                    .map(|(i, (tx, from))| {
                        let ctx =
                            TxContext { block_hash: block.hash, block_number: h.number, index: i as u64, base_fee: h.base_fee_per_gas };
                        RpcTransaction::new(tx, *from, Some(ctx))
                    })
                    .collect(),
            )
        } else {
            BlockTransactions::Hashes(txs.iter().map(TransactionSigned::hash).collect())
        };
        Self {
            hash: block.hash,
            parent_hash: h.parent_hash,
            number: U64::from(h.number),
            timestamp: U64::from(h.timestamp),
            miner: h.proposer,
            state_root: h.state_root,
            transactions_root: h.transactions_root,
            receipts_root: h.receipts_root,
            logs_bloom: h.logs_bloom,
            gas_limit: U64::from(h.gas_limit),
            gas_used: U64::from(h.gas_used),
            base_fee_per_gas: U64::from(h.base_fee_per_gas),
            size: U64::from(block.size()),
            extra_data: Bytes::new(),
            sha3_uncles: EMPTY_OMMERS_HASH,
            uncles: Vec::new(),
            difficulty: U64::ZERO,
            total_difficulty: U64::ZERO,
            nonce: Default::default(),
            mix_hash: B256::ZERO,
            parent_commit_hash: h.parent_commit_hash,
            liveness_root: h.liveness_root,
            transactions,
        }
    }
}

/// A storage slot as Ethereum clients send it: hex of at most 32 bytes (a quantity
/// like `0x0` or a full word), read as a big-endian 32-byte word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageKey {
    /// The slot as a 32-byte word.
    pub word: B256,
    /// The string the client sent (echoed back in proofs, as go-ethereum does).
    pub original: String,
}

impl<'de> Deserialize<'de> for StorageKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let original = String::deserialize(d)?;
        let digits = original.strip_prefix("0x").ok_or_else(|| serde::de::Error::custom("storage key must be 0x-prefixed hex"))?;
        if digits.is_empty() || digits.len() > 64 {
            return Err(serde::de::Error::custom(format!("storage key {original:?} is not 1 to 32 bytes of hex")));
        }
        let padded = format!("{digits:0>64}");
        let word = padded.parse::<B256>().map_err(|_| serde::de::Error::custom(format!("storage key {original:?} is not hex")))?;
        Ok(Self { word, original })
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ids_parse_like_ethereum_clients_send_them() {
        let p = |s: &str| serde_json::from_str::<BlockId>(s);
        assert_eq!(p("\"latest\"").unwrap(), BlockId::Tag(BlockTag::Latest));
        assert_eq!(p("\"finalized\"").unwrap(), BlockId::Tag(BlockTag::Latest));
        assert_eq!(p("\"0x1a\"").unwrap(), BlockId::Tag(BlockTag::Number(26)));
        assert_eq!(p("{\"blockNumber\":\"0x2\"}").unwrap(), BlockId::Tag(BlockTag::Number(2)));
        let h = format!("\"0x{}\"", "ab".repeat(32));
        assert!(matches!(p(&h).unwrap(), BlockId::Hash(_)));
        for bad in ["\"0x\"", "\"12\"", "\"latestt\"", "\"0x10000000000000000\"", "{}", "5"] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }
}
