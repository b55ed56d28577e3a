//! The `strata_` namespace: byte-string storage proofs (`strata_getProof`), fee quotes
//! (`strata_quoteFee`, simulated as `eth::call` does), storage quotas, commit
//! certificates, receipt audit bundles, raw headers and the node's consensus status.

use alloy_primitives::U64;
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use strata_primitives::{Address, B256, Bytes, CommitCertificate, Slot, audit, rlp_item, system};
use strata_state::MAX_STORAGE_KEY_LEN;

use crate::{
    EthRpc, QuoteRequest,
    error::{exec_error, internal},
    eth::check_proof_keys,
    types::{BlockId, RpcCertificate, RpcConsensusStatus, RpcFeeQuote, RpcReceiptProof, RpcStorageQuota, StrataProof, StrataStorageProof},
};

/// Strata's own methods.
#[rpc(server)]
pub trait StrataApi {
    /// Like `eth_getProof`, for storage keys and values of any length (Wasm contracts).
    #[method(name = "strata_getProof", blocking)]
    fn strata_get_proof(&self, address: Address, keys: Vec<Bytes>, block: Option<BlockId>) -> RpcResult<StrataProof>;
    /// Strata: what a transaction — signed (raw bytes) or unsigned (a call object) —
    /// would use and pay, by resource, as the fee contract prices it now.
    #[method(name = "strata_quoteFee")]
    async fn quote_fee(&self, request: QuoteRequest, block: Option<BlockId>) -> RpcResult<RpcFeeQuote>;
    /// Strata: a contract's hot-storage quota, bytes used and remaining.
    #[method(name = "strata_getStorageQuota")]
    fn storage_quota(&self, address: Address, block: Option<BlockId>) -> RpcResult<RpcStorageQuota>;
    /// Strata: the commit certificate of a block (2f+1 validator signatures), `null`
    /// for genesis or an unknown block.
    #[method(name = "strata_getCommitCertificate")]
    fn commit_certificate(&self, block: BlockId) -> RpcResult<Option<RpcCertificate>>;
    /// Strata: an audit bundle for a transaction's receipt — the receipt as committed,
    /// its Merkle proof against the block's `receiptsRoot`, the header and the block's
    /// commit certificate — checkable offline (`strata audit receipt`).
    #[method(name = "strata_getReceiptProof", blocking)]
    fn receipt_proof(&self, hash: B256) -> RpcResult<Option<RpcReceiptProof>>;
    /// Strata: this node's consensus view: view, primary, validators, connected peers, height.
    #[method(name = "strata_consensusStatus")]
    fn consensus_status(&self) -> RpcResult<RpcConsensusStatus>;
    /// geth's `debug_getRawHeader`: a block's header as RLP (its keccak is the block
    /// hash), `null` for an unknown block. With `strata_getCommitCertificate`, what a
    /// relayer posts to another chain's registry as a checkpoint.
    #[method(name = "debug_getRawHeader", blocking)]
    fn raw_header(&self, block: BlockId) -> RpcResult<Option<Bytes>>;
}

/// The root of the ordered trie of `items` (key `rlp(i)`) and the proof of item `index`.
fn ordered_trie_proof(items: &[Vec<u8>], index: usize) -> RpcResult<(B256, Vec<Bytes>)> {
    strata_trie::ordered_proof(items, index).map_err(internal)
}

#[jsonrpsee::core::async_trait]
impl StrataApiServer for EthRpc {
    fn strata_get_proof(&self, address: Address, keys: Vec<Bytes>, block: Option<BlockId>) -> RpcResult<StrataProof> {
        check_proof_keys(keys.len())?;
        if let Some(k) = keys.iter().find(|k| k.len() > MAX_STORAGE_KEY_LEN) {
            return Err(exec_error(format!("storage key of {} bytes exceeds the limit of {MAX_STORAGE_KEY_LEN}", k.len())));
        }
        let state = self.proof_state(block)?;
        let account = state.account_proof(&address).map_err(internal)?;
        let proofs = state.storage_proofs(&address, &keys).map_err(internal)?;
        let a = account.account.unwrap_or_default();
        Ok(StrataProof {
            address,
            state_root: state.root(),
            account_proof: account.proof,
            balance: a.balance,
            code_hash: a.code_hash,
            nonce: U64::from(a.nonce),
            storage_hash: a.storage_root,
            storage_proof: proofs
                .into_iter()
                .map(|p| StrataStorageProof {
                    key: p.key,
                    value: p.value.as_ref().and_then(|s| s.value()).cloned(),
                    tombstone: match &p.value {
                        Some(Slot::Tombstone(t)) => Some(t.into()),
                        _ => None,
                    },
                    proof: p.proof,
                })
                .collect(),
        })
    }

    async fn quote_fee(&self, request: QuoteRequest, block: Option<BlockId>) -> RpcResult<RpcFeeQuote> {
        self.fee_quote(request, block).await
    }

    fn storage_quota(&self, address: Address, block: Option<BlockId>) -> RpcResult<RpcStorageQuota> {
        let state = self.state_view(block)?;
        let reader = state.reader(self.chain.state());
        let key = system::quota_key(&address);
        let record = match reader.storage(&system::STORAGE_REGISTRY, &key).map_err(internal)? {
            Some(bytes) => system::QuotaRecord::decode(&bytes).ok_or_else(|| internal(format!("corrupt quota record of {address}")))?,
            None => {
                let account = reader.account(&address).map_err(internal)?.unwrap_or_default();
                if account.code_hash == strata_primitives::KECCAK_EMPTY || system::is_system(&address) {
                    return Err(exec_error(format!("{address} is not a user contract: only contracts have storage quotas")));
                }
                return Err(internal(format!("contract {address} has no quota record")));
            }
        };
        Ok(RpcStorageQuota {
            address,
            owner: record.owner,
            quota: U64::from(record.quota),
            used: U64::from(record.used),
            remaining: U64::from(record.remaining()),
        })
    }

    fn raw_header(&self, block: BlockId) -> RpcResult<Option<Bytes>> {
        let Some(number) = self.number_for_id(Some(block))? else { return Ok(None) };
        let header = self.chain.store().header(number).map_err(internal)?;
        Ok(header.map(|h| strata_primitives::rlp::encode(&h).into()))
    }

    fn commit_certificate(&self, block: BlockId) -> RpcResult<Option<RpcCertificate>> {
        let Some(number) = self.number_for_id(Some(block))? else { return Ok(None) };
        let Some(raw) = self.chain.store().certificate(number).map_err(internal)? else { return Ok(None) };
        let cert = rlp_item::decode_exact::<CommitCertificate>(&raw).map_err(internal)?;
        Ok(Some(RpcCertificate::new(&cert, raw.into())))
    }

    fn receipt_proof(&self, hash: B256) -> RpcResult<Option<RpcReceiptProof>> {
        let Some((block, index)) = self.included(&hash)? else { return Ok(None) };
        let number = block.number();
        let receipts = self.chain.store().receipts(number).map_err(internal)?.ok_or_else(|| internal("receipts missing"))?;
        // Both ordered tries, rebuilt from the stored block: key rlp(i), value the EIP-2718 item.
        let receipts: Vec<Vec<u8>> = receipts.iter().map(|r| r.encoded_2718()).collect();
        let (receipts_root, proof) = ordered_trie_proof(&receipts, index)?;
        if receipts_root != block.header().receipts_root {
            return Err(internal(format!("rebuilt receipts root {receipts_root} differs from block {number}'s")));
        }
        let transactions: Vec<Vec<u8>> = block.block.transactions.iter().map(|t| t.encoded().to_vec()).collect();
        let (transactions_root, transaction_proof) = ordered_trie_proof(&transactions, index)?;
        if transactions_root != block.header().transactions_root {
            return Err(internal(format!("rebuilt transactions root {transactions_root} differs from block {number}'s")));
        }
        let certificate = self.chain.store().certificate(number).map_err(internal)?.unwrap_or_default();
        let bundle = audit::ReceiptBundle {
            index: index as u64,
            receipt: receipts[index].clone().into(),
            proof,
            transaction: transactions[index].clone().into(),
            transaction_proof,
            header: block.header().clone(),
            certificate: certificate.into(),
        };
        let set_proof = self.chain.set_proof(number).map_err(|e| exec_error(e.to_string()))?;
        Ok(Some(RpcReceiptProof::new(hash, block.hash, self.chain.spec().chain_id, &bundle, &set_proof)))
    }

    fn consensus_status(&self) -> RpcResult<RpcConsensusStatus> {
        let s = self.chain.consensus_status();
        let (hash, head) = self.chain.head();
        Ok(RpcConsensusStatus {
            view: U64::from(s.view),
            primary: U64::from(s.primary),
            me: U64::from(s.me),
            validators: U64::from(s.validators),
            peers: U64::from(s.peers),
            height: U64::from(head.number),
            head: hash,
        })
    }
}
