//! The `ots_` namespace: what Otterscan (the block explorer Erigon serves) asks a node,
//! so Otterscan itself works against Strata, and what Strata's own explorer uses.
//!
//! Why a namespace of its own: an explorer's address page needs "the transactions of
//! this address", which Ethereum's JSON-RPC cannot answer without scanning every block.
//! The node keeps an address index (`Column::AddressTxs`: sender, recipient and created
//! contract of every transaction, written with the block) and pages through it here, as
//! Erigon's `ots_searchTransactionsBefore/After` do: whole blocks, at least a page.
//!
//! Internal operations and call traces (`ots_getInternalOperations`,
//! `ots_traceTransaction`) need a tracer of Wasm calls, which Strata does not have: those
//! methods are not served, so a client sees "method not found" rather than a wrong
//! empty answer.

use alloy_primitives::U64;
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use serde_json::{Value, json};
use strata_primitives::{Address, B256, Bytes, KECCAK_EMPTY, SealedBlock, StoredReceipt, U256};

use crate::{
    EthRpc,
    error::{internal, invalid_params},
    types::{BlockId, BlockTag, RpcBlock, RpcReceipt, RpcTransaction, TxContext},
};

/// A block as Otterscan names it: a JSON number, or a tag or hex number string.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum OtsBlock {
    /// A plain number.
    Number(u64),
    /// `latest`, `0x1a`, …
    Tag(BlockTag),
}

impl OtsBlock {
    fn id(self) -> BlockId {
        match self {
            OtsBlock::Number(n) => BlockId::Tag(BlockTag::Number(n)),
            OtsBlock::Tag(t) => BlockId::Tag(t),
        }
    }
}

/// Index entries a nonce or creator lookup walks at most (then it answers `null`).
const MAX_LOOKUP_ENTRIES: usize = 10_000;

/// The Otterscan API level served (Erigon's `ots_getApiLevel`).
pub const OTS_API_LEVEL: u64 = 8;

/// Largest page of `ots_searchTransactions*` and `ots_getBlockTransactions`.
pub const MAX_OTS_PAGE: usize = 100;

/// Otterscan's methods.
#[rpc(server)]
pub trait OtsApi {
    /// The API level (8).
    #[method(name = "ots_getApiLevel")]
    fn api_level(&self) -> RpcResult<u64>;
    /// Whether `address` has code at `block`.
    #[method(name = "ots_hasCode", blocking)]
    fn has_code(&self, address: Address, block: Option<BlockId>) -> RpcResult<bool>;
    /// A block without its transactions, with its transaction count, issuance (Strata
    /// mints nothing: zero) and the fees its transactions paid.
    #[method(name = "ots_getBlockDetails", blocking)]
    fn block_details(&self, number: OtsBlock) -> RpcResult<Option<Value>>;
    /// [`OtsApiServer::block_details`] by hash.
    #[method(name = "ots_getBlockDetailsByHash", blocking)]
    fn block_details_by_hash(&self, hash: B256) -> RpcResult<Option<Value>>;
    /// One page of a block's transactions with their receipts (logs left out), pages
    /// counted from the block's end as Erigon counts them.
    #[method(name = "ots_getBlockTransactions", blocking)]
    fn block_transactions(&self, number: OtsBlock, page: u64, page_size: u64) -> RpcResult<Option<Value>>;
    /// `address`'s transactions in blocks below `block` (0: from the newest), newest
    /// first, whole blocks, at least `page_size` when there are that many.
    #[method(name = "ots_searchTransactionsBefore", blocking)]
    fn search_before(&self, address: Address, block: u64, page_size: u64) -> RpcResult<Value>;
    /// `address`'s transactions in blocks above `block`, newest first (as Otterscan shows
    /// them), whole blocks, at least `page_size` when there are that many.
    #[method(name = "ots_searchTransactionsAfter", blocking)]
    fn search_after(&self, address: Address, block: u64, page_size: u64) -> RpcResult<Value>;
    /// The hash of `sender`'s transaction with `nonce`, if included.
    #[method(name = "ots_getTransactionBySenderAndNonce", blocking)]
    fn by_sender_and_nonce(&self, sender: Address, nonce: U64) -> RpcResult<Option<B256>>;
    /// Who created contract `address` (directly, by a transaction), and in which
    /// transaction; `null` for an account without code or a contract another created.
    #[method(name = "ots_getContractCreator", blocking)]
    fn contract_creator(&self, address: Address) -> RpcResult<Option<Value>>;
    /// The revert data of a failed transaction (`0x` when none).
    #[method(name = "ots_getTransactionError", blocking)]
    fn transaction_error(&self, hash: B256) -> RpcResult<Bytes>;
    /// A block's header (what Otterscan asks first to recognise an Erigon-like node).
    #[method(name = "erigon_getHeaderByNumber", blocking)]
    fn header_by_number(&self, number: OtsBlock) -> RpcResult<Option<Value>>;
}

fn page_size(n: u64) -> RpcResult<usize> {
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n == 0 || n > MAX_OTS_PAGE {
        return Err(invalid_params(format!("page size must be 1..={MAX_OTS_PAGE}")));
    }
    Ok(n)
}

/// A block with what its transactions' JSON needs: receipts (decoded once), senders and
/// the index of each transaction's first log.
struct Loaded {
    block: SealedBlock,
    receipts: Vec<StoredReceipt>,
    first_log: Vec<u64>,
}

/// What a walk of the index does at an entry.
enum Step<T> {
    Found(T),
    Next,
    Stop,
}

impl EthRpc {
    fn load(&self, id: BlockId) -> RpcResult<Option<Loaded>> {
        let Some(block) = self.block_at(id)? else { return Ok(None) };
        let receipts = self.chain.store().receipts(block.number()).map_err(internal)?.ok_or_else(|| internal("receipts missing"))?;
        let mut first_log = Vec::with_capacity(receipts.len());
        let mut next = 0u64;
        for r in &receipts {
            first_log.push(next);
            next = next.saturating_add(r.logs.len() as u64);
        }
        Ok(Some(Loaded { block, receipts, first_log }))
    }

    fn load_number(&self, number: u64) -> RpcResult<Loaded> {
        self.load(BlockId::Tag(BlockTag::Number(number)))?.ok_or_else(|| internal(format!("indexed block {number} missing")))
    }

    /// Transaction `index` of a loaded block and its receipt (with the block's
    /// timestamp, as Otterscan expects).
    fn tx_and_receipt(&self, l: &Loaded, index: usize) -> RpcResult<(Value, Value)> {
        let tx = l.block.block.transactions.get(index).ok_or_else(|| internal("transaction missing"))?;
        let receipt = l.receipts.get(index).ok_or_else(|| internal("receipt missing"))?;
        let from = tx.recover_sender().map_err(internal)?;
        let ctx = TxContext::at(&l.block, index);
        let rpc_tx = serde_json::to_value(RpcTransaction::new(tx, from, Some(ctx))).map_err(internal)?;
        let first_log = l.first_log.get(index).copied().unwrap_or_default();
        let mut rpc_receipt =
            serde_json::to_value(RpcReceipt::new(tx, from, receipt, l.block.header(), TxContext::at(&l.block, index), first_log))
                .map_err(internal)?;
        rpc_receipt["timestamp"] = json!(l.block.header().timestamp);
        Ok((rpc_tx, rpc_receipt))
    }

    /// Transactions and receipts of index entries, as a search page.
    fn search_page(&self, entries: &[strata_chain::AddressEntry], first: bool, last: bool) -> RpcResult<Value> {
        let (mut txs, mut receipts) = (Vec::with_capacity(entries.len()), Vec::with_capacity(entries.len()));
        let mut loaded: Option<Loaded> = None;
        for &(number, index, _) in entries {
            if loaded.as_ref().is_none_or(|l| l.block.number() != number) {
                loaded = Some(self.load_number(number)?);
            }
            let l = loaded.as_ref().ok_or_else(|| internal("block"))?;
            let (t, r) = self.tx_and_receipt(l, usize::try_from(index).map_err(internal)?)?;
            txs.push(t);
            receipts.push(r);
        }
        Ok(json!({"txs": txs, "receipts": receipts, "firstPage": first, "lastPage": last}))
    }

    /// The JSON of a block without its transactions, with their count.
    fn bare_block(block: &SealedBlock) -> RpcResult<Value> {
        let mut b = serde_json::to_value(RpcBlock::new(block, &[], false)).map_err(internal)?;
        if let Some(o) = b.as_object_mut() {
            o.remove("transactions");
            o.insert("transactionCount".into(), json!(block.block.transactions.len()));
        }
        Ok(b)
    }

    fn details(&self, id: BlockId) -> RpcResult<Option<Value>> {
        let Some(l) = self.load(id)? else { return Ok(None) };
        let fees = l
            .receipts
            .iter()
            .fold(U256::ZERO, |acc, r| acc.saturating_add(U256::from(r.gas_used).saturating_mul(U256::from(r.effective_gas_price))));
        let mut b = Self::bare_block(&l.block)?;
        b["logsBloom"] = Value::Null;
        Ok(Some(json!({
            "block": b,
            "issuance": {"blockReward": "0x0", "uncleReward": "0x0", "issuance": "0x0"},
            "totalFees": format!("{fees:#x}"),
        })))
    }

    /// Walks `address`'s index entries oldest first, at most [`MAX_LOOKUP_ENTRIES`], until
    /// `step` (block, index) finds or stops.
    fn walk_index<T>(&self, address: &Address, mut step: impl FnMut(&Loaded, usize) -> RpcResult<Step<T>>) -> RpcResult<Option<T>> {
        // Genesis holds no transactions: "after block 0" misses nothing.
        let (mut after, mut walked) = (0u64, 0usize);
        loop {
            let (entries, more) = self.chain.store().address_txs_after(address, after, MAX_OTS_PAGE).map_err(internal)?;
            let mut loaded: Option<Loaded> = None;
            for &(number, index, _) in &entries {
                walked += 1;
                if walked > MAX_LOOKUP_ENTRIES {
                    return Ok(None);
                }
                if loaded.as_ref().is_none_or(|l| l.block.number() != number) {
                    loaded = Some(self.load_number(number)?);
                }
                let l = loaded.as_ref().ok_or_else(|| internal("block"))?;
                let i = usize::try_from(index).map_err(internal)?;
                if i >= l.block.block.transactions.len() {
                    return Err(internal(format!("address index names transaction {i} of block {number}, which has fewer")));
                }
                match step(l, i)? {
                    Step::Found(t) => return Ok(Some(t)),
                    Step::Stop => return Ok(None),
                    Step::Next => {}
                }
            }
            match entries.last() {
                Some(&(number, _, _)) if more => after = number,
                _ => return Ok(None),
            }
        }
    }
}

impl OtsApiServer for EthRpc {
    fn api_level(&self) -> RpcResult<u64> {
        Ok(OTS_API_LEVEL)
    }

    fn has_code(&self, address: Address, block: Option<BlockId>) -> RpcResult<bool> {
        let state = self.state_view(block)?;
        Ok(self.account_in(&state, &address)?.code_hash != KECCAK_EMPTY)
    }

    fn block_details(&self, number: OtsBlock) -> RpcResult<Option<Value>> {
        self.details(number.id())
    }

    fn block_details_by_hash(&self, hash: B256) -> RpcResult<Option<Value>> {
        self.details(BlockId::Hash(hash))
    }

    fn block_transactions(&self, number: OtsBlock, page: u64, size: u64) -> RpcResult<Option<Value>> {
        let size = page_size(size)?;
        let Some(l) = self.load(number.id())? else { return Ok(None) };
        let count = l.block.block.transactions.len();
        // Erigon's pages run from the block's end: page 0 holds its last transactions.
        let end = count.saturating_sub(usize::try_from(page).unwrap_or(usize::MAX).saturating_mul(size));
        let start = end.saturating_sub(size);
        let (mut txs, mut receipts) = (Vec::new(), Vec::new());
        for i in start..end {
            let (t, mut r) = self.tx_and_receipt(&l, i)?;
            r["logs"] = Value::Null;
            r["logsBloom"] = Value::Null;
            txs.push(t);
            receipts.push(r);
        }
        let mut full = Self::bare_block(&l.block)?;
        full["transactions"] = json!(txs);
        Ok(Some(json!({"fullblock": full, "receipts": receipts})))
    }

    fn search_before(&self, address: Address, block: u64, size: u64) -> RpcResult<Value> {
        let size = page_size(size)?;
        let before = if block == 0 { u64::MAX } else { block };
        let (entries, more) = self.chain.store().address_txs_before(&address, before, size).map_err(internal)?;
        self.search_page(&entries, block == 0, !more)
    }

    fn search_after(&self, address: Address, block: u64, size: u64) -> RpcResult<Value> {
        let size = page_size(size)?;
        let (mut entries, more) = self.chain.store().address_txs_after(&address, block, size).map_err(internal)?;
        entries.reverse();
        self.search_page(&entries, !more, block == 0)
    }

    fn by_sender_and_nonce(&self, sender: Address, nonce: U64) -> RpcResult<Option<B256>> {
        let wanted = nonce.to::<u64>();
        // Nothing sent with a nonce the account has not reached.
        if wanted >= self.account_in(&self.state_view(None)?, &sender)?.nonce {
            return Ok(None);
        }
        self.walk_index(&sender, |l, i| {
            let tx = &l.block.block.transactions[i];
            if tx.recover_sender().map_err(internal)? != sender {
                return Ok(Step::Next);
            }
            // A sender's transactions come in nonce order: past it, it is not there.
            Ok(match tx.nonce().cmp(&wanted) {
                std::cmp::Ordering::Equal => Step::Found(tx.hash()),
                std::cmp::Ordering::Less => Step::Next,
                std::cmp::Ordering::Greater => Step::Stop,
            })
        })
    }

    fn contract_creator(&self, address: Address) -> RpcResult<Option<Value>> {
        if !self.has_code(address, None)? {
            return Ok(None);
        }
        // Its creating transaction comes before any that calls it (a transfer to the
        // address before its creation aside): the walk is bounded all the same.
        self.walk_index(&address, |l, i| {
            if l.receipts.get(i).is_none_or(|r| r.contract_address.as_ref() != address.as_slice()) {
                return Ok(Step::Next);
            }
            let tx = &l.block.block.transactions[i];
            Ok(Step::Found(json!({"hash": tx.hash(), "creator": tx.recover_sender().map_err(internal)?})))
        })
    }

    fn transaction_error(&self, hash: B256) -> RpcResult<Bytes> {
        let Some((block, index)) = self.included(&hash)? else {
            return Err(invalid_params(format!("no included transaction {hash}")));
        };
        let receipts = self.chain.store().receipts(block.number()).map_err(internal)?.ok_or_else(|| internal("receipts missing"))?;
        let r = receipts.get(index).ok_or_else(|| internal("receipt missing"))?;
        Ok(if r.success { Bytes::new() } else { r.output.clone() })
    }

    fn header_by_number(&self, number: OtsBlock) -> RpcResult<Option<Value>> {
        let Some(block) = self.block_at(number.id())? else { return Ok(None) };
        Ok(Some(Self::bare_block(&block)?))
    }
}
