//! The block store: headers, bodies, receipts and indexes, over [`KvStore`](strata_storage::KvStore).

use strata_primitives::{
    Address, B256, Block, Header, SealedBlock, StoredReceipt, TransactionSigned, rlp_item::decode_exact, set_proof::SlotsProof,
    slots::LivenessRecord,
};
use strata_storage::{Column, SharedKv, WriteBatch};

use crate::{Error, Result};

const HEAD_KEY: &[u8] = b"head";
const GENESIS_KEY: &[u8] = b"genesis";
/// Prefix of the meta keys of blocks whose end decided a slot switch (`switch ‖ number`).
const SWITCH_PREFIX: &[u8] = b"switch";

fn switch_key(number: u64) -> Vec<u8> {
    [SWITCH_PREFIX, &number.to_be_bytes()].concat()
}

/// An address index entry: block, index in the block, transaction hash.
pub type AddressEntry = (u64, u32, B256);

/// A page of the address index, and whether entries remain beyond it.
pub type AddressPage = (Vec<AddressEntry>, bool);

/// Where a transaction was included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, alloy_rlp::RlpEncodable, alloy_rlp::RlpDecodable)]
pub struct TxLocation {
    /// Block number.
    pub block_number: u64,
    /// Index in the block.
    pub index: u64,
}

/// Typed access to the chain columns.
#[derive(Clone)]
pub struct BlockStore {
    kv: SharedKv,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!("{what}: {e}"))
}

/// Key of block `number`'s liveness record in the bodies column: the number, then `L`
/// (nine bytes: never a body's key).
fn liveness_key(number: u64) -> [u8; 9] {
    let mut key = [b'L'; 9];
    key[..8].copy_from_slice(&number.to_be_bytes());
    key
}

impl BlockStore {
    /// A store over `kv`.
    pub fn new(kv: SharedKv) -> Self {
        Self { kv }
    }

    /// The number of the latest committed block, `None` for an empty database.
    pub fn head_number(&self) -> Result<Option<u64>> {
        self.kv
            .get(Column::Meta, HEAD_KEY)?
            .map(|v| <[u8; 8]>::try_from(v.as_slice()).map(u64::from_be_bytes).map_err(|_| corrupt("head pointer", "not 8 bytes")))
            .transpose()
    }

    /// The genesis hash recorded when the database was created.
    pub fn genesis_hash(&self) -> Result<Option<B256>> {
        Ok(self.kv.get(Column::Meta, GENESIS_KEY)?.filter(|v| v.len() == 32).map(|v| B256::from_slice(&v)))
    }

    /// Header at `number`.
    pub fn header(&self, number: u64) -> Result<Option<Header>> {
        self.kv
            .get(Column::Headers, &number.to_be_bytes())?
            .map(|v| decode_exact::<Header>(&v).map_err(|e| corrupt("header", e)))
            .transpose()
    }

    /// Number of the block with `hash`.
    pub fn number_of(&self, hash: &B256) -> Result<Option<u64>> {
        Ok(self.kv.get(Column::BlockNumbers, hash.as_slice())?.and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok()).map(u64::from_be_bytes))
    }

    /// Transactions of block `number`.
    pub fn body(&self, number: u64) -> Result<Option<Vec<TransactionSigned>>> {
        self.kv
            .get(Column::Bodies, &number.to_be_bytes())?
            .map(|v| decode_exact::<Vec<TransactionSigned>>(&v).map_err(|e| corrupt("body", e)))
            .transpose()
    }

    /// The liveness record block `number` carries (empty if none).
    pub fn liveness(&self, number: u64) -> Result<LivenessRecord> {
        Ok(self
            .kv
            .get(Column::Bodies, &liveness_key(number))?
            .map(|v| decode_exact::<LivenessRecord>(&v).map_err(|e| corrupt("liveness record", e)))
            .transpose()?
            .unwrap_or_default())
    }

    /// The whole block at `number`, sealed.
    pub fn block(&self, number: u64) -> Result<Option<SealedBlock>> {
        let (Some(header), Some(transactions)) = (self.header(number)?, self.body(number)?) else {
            return Ok(None);
        };
        let liveness = if header.liveness_root == B256::ZERO { LivenessRecord::default() } else { self.liveness(number)? };
        Ok(Some(Block { header, transactions, liveness }.seal()))
    }

    /// Receipts of block `number`.
    pub fn receipts(&self, number: u64) -> Result<Option<Vec<StoredReceipt>>> {
        self.kv
            .get(Column::Receipts, &number.to_be_bytes())?
            .map(|v| decode_exact::<Vec<StoredReceipt>>(&v).map_err(|e| corrupt("receipts", e)))
            .transpose()
    }

    /// Where transaction `hash` was included.
    pub fn tx_location(&self, hash: &B256) -> Result<Option<TxLocation>> {
        self.kv
            .get(Column::TxIndex, hash.as_slice())?
            .map(|v| decode_exact::<TxLocation>(&v).map_err(|e| corrupt("tx index", e)))
            .transpose()
    }

    /// The encoded commit certificate of block `number` (none for genesis, or for a
    /// block committed without consensus).
    pub fn certificate(&self, number: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.kv.get(Column::Certificates, &number.to_be_bytes())?)
    }

    /// Adds block `number`'s encoded commit certificate to `batch`.
    pub fn put_certificate(&self, number: u64, certificate: &[u8], batch: &mut WriteBatch) {
        batch.put(Column::Certificates, number.to_be_bytes(), certificate.to_vec());
    }

    /// A small named value (consensus state, …) from the meta column.
    pub fn meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.kv.get(Column::Meta, key)?)
    }

    /// Writes a small named value durably (synced) on its own.
    pub fn put_meta(&self, key: &[u8], value: Vec<u8>) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.put(Column::Meta, key.to_vec(), value);
        Ok(self.kv.write(batch)?)
    }

    /// Marks block `number` as one whose end decided a slot switch (its [`SlotsProof`]
    /// follows once the block is on disk: [`BlockStore::put_switch_proof`]).
    pub fn mark_switch(&self, number: u64, batch: &mut WriteBatch) {
        batch.put(Column::Meta, switch_key(number), Vec::new());
    }

    /// Stores the slot records after switch block `number`, with their proofs.
    pub fn put_switch_proof(&self, number: u64, proof: &SlotsProof) -> Result<()> {
        self.put_meta(&switch_key(number), alloy_rlp::encode(proof))
    }

    /// The blocks below `below` whose end decided a switch, in height order, each with
    /// its stored proof (`None`: marked, proof not written yet).
    pub fn switches_below(&self, below: u64) -> Result<Vec<(u64, Option<SlotsProof>)>> {
        let mut found = Vec::new();
        let mut bad = None;
        self.kv.for_each_prefix(Column::Meta, SWITCH_PREFIX, &mut |k, v| {
            let Some(number) = k.get(SWITCH_PREFIX.len()..).and_then(|n| <[u8; 8]>::try_from(n).ok()).map(u64::from_be_bytes) else {
                bad = Some(format!("switch key {k:02x?}"));
                return false;
            };
            if number >= below {
                return false;
            }
            let proof = if v.is_empty() {
                None
            } else {
                match decode_exact::<SlotsProof>(v) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        bad = Some(format!("switch proof {number}: {e}"));
                        return false;
                    }
                }
            };
            found.push((number, proof));
            true
        })?;
        match bad {
            Some(reason) => Err(corrupt("meta", reason)),
            None => Ok(found),
        }
    }

    /// The transactions that touched `address` (sender, recipient or created contract),
    /// newest first, in blocks below `before` (all: `u64::MAX`), whole blocks only, until
    /// at least `limit` are found: `(block, index, tx hash)`, and whether older ones remain.
    pub fn address_txs_before(&self, address: &Address, before: u64, limit: usize) -> Result<AddressPage> {
        let end = [address.as_slice(), &before.to_be_bytes()].concat();
        self.address_scan(address, limit, |kv, f| kv.for_each_before(Column::AddressTxs, address.as_slice(), &end, f))
    }

    /// Like [`BlockStore::address_txs_before`], oldest first, in blocks above `after`.
    pub fn address_txs_after(&self, address: &Address, after: u64, limit: usize) -> Result<AddressPage> {
        let Some(from_block) = after.checked_add(1) else { return Ok((Vec::new(), false)) };
        let start = [address.as_slice(), &from_block.to_be_bytes()].concat();
        self.address_scan(address, limit, |kv, f| kv.for_each_from(Column::AddressTxs, address.as_slice(), &start, f))
    }

    /// Collects index entries in the scan's order until `limit` is reached and the block
    /// changes; whether entries remain beyond.
    fn address_scan(
        &self,
        address: &Address,
        limit: usize,
        scan: impl FnOnce(&SharedKv, &mut dyn FnMut(&[u8], &[u8]) -> bool) -> strata_storage::Result<()>,
    ) -> Result<AddressPage> {
        let mut out: Vec<AddressEntry> = Vec::new();
        let (mut more, mut bad) = (false, None);
        scan(&self.kv, &mut |k, v| {
            let rest = &k[address.len().min(k.len())..];
            let (Some(block), Some(index), Ok(hash)) = (
                rest.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes),
                rest.get(8..12).and_then(|b| <[u8; 4]>::try_from(b).ok()).map(u32::from_be_bytes),
                B256::try_from(v),
            ) else {
                bad = Some(format!("address index entry {k:02x?}"));
                return false;
            };
            if out.len() >= limit && out.last().is_some_and(|l| l.0 != block) {
                more = true;
                return false;
            }
            out.push((block, index, hash));
            true
        })?;
        match bad {
            Some(reason) => Err(corrupt("address index", reason)),
            None => Ok((out, more)),
        }
    }

    /// Adds the writes that store `block` as the new head to `batch`; `senders` are its
    /// transactions' senders, in order (for the address index).
    pub fn put_block(&self, block: &SealedBlock, receipts: &[StoredReceipt], senders: &[Address], batch: &mut WriteBatch) {
        let number = block.number().to_be_bytes();
        batch.put(Column::Headers, number, block.header().encoded());
        batch.put(Column::Bodies, number, alloy_rlp::encode(&block.block.transactions));
        if !block.block.liveness.heartbeats.is_empty() {
            batch.put(Column::Bodies, liveness_key(block.number()), alloy_rlp::encode(&block.block.liveness));
        }
        let mut encoded_receipts = Vec::new();
        alloy_rlp::encode_list::<_, StoredReceipt>(receipts, &mut encoded_receipts);
        batch.put(Column::Receipts, number, encoded_receipts);
        batch.put(Column::BlockNumbers, block.hash.as_slice(), number);
        debug_assert!(senders.is_empty() || senders.len() == block.block.transactions.len(), "one sender per transaction");
        for (i, tx) in block.block.transactions.iter().enumerate() {
            let loc = TxLocation { block_number: block.number(), index: i as u64 };
            batch.put(Column::TxIndex, tx.hash().as_slice(), alloy_rlp::encode(loc));
            // The address index: sender, recipient, created contract (each once).
            let created = receipts.get(i).and_then(|r| Address::try_from(r.contract_address.as_ref()).ok());
            let to = match tx.kind() {
                strata_primitives::TxKind::Call(to) => Some(to),
                strata_primitives::TxKind::Create => None,
            };
            let touched = [senders.get(i).copied(), to, created];
            let index = u32::try_from(i).unwrap_or(u32::MAX).to_be_bytes();
            for (k, a) in touched.iter().enumerate() {
                if let Some(a) = a
                    && !touched[..k].contains(&Some(*a))
                {
                    batch.put(Column::AddressTxs, [a.as_slice(), &number, &index].concat(), tx.hash().as_slice());
                }
            }
        }
        if block.number() == 0 {
            batch.put(Column::Meta, GENESIS_KEY, block.hash.as_slice());
        }
        batch.put(Column::Meta, HEAD_KEY, number);
    }
}

#[cfg(test)]
mod tests {
    use strata_storage::MemKv;

    use super::*;

    /// Index entries of `a` at (block, index), as `put_block` writes them.
    fn index(kv: &SharedKv, a: Address, entries: &[(u64, u32)]) {
        let mut batch = WriteBatch::new();
        for &(block, i) in entries {
            let hash = B256::from(strata_primitives::U256::from(block * 100 + u64::from(i)));
            batch.put(Column::AddressTxs, [a.as_slice(), &block.to_be_bytes(), &i.to_be_bytes()].concat(), hash.as_slice());
        }
        kv.write(batch).unwrap();
    }

    #[test]
    fn address_pages_hold_whole_blocks_both_ways() {
        let kv = MemKv::shared();
        let store = BlockStore::new(kv.clone());
        let (a, other) = (Address::repeat_byte(1), Address::repeat_byte(2));
        // Blocks 3 (three entries), 5 (one), 9 (two); another address in between.
        index(&kv, a, &[(3, 0), (3, 4), (3, 7), (5, 1), (9, 0), (9, 2)]);
        index(&kv, other, &[(4, 0), (6, 0)]);
        let blocks = |v: &[AddressEntry]| v.iter().map(|e| (e.0, e.1)).collect::<Vec<_>>();
        // Newest first: a limit of 1 still takes block 9 whole.
        let (page, more) = store.address_txs_before(&a, u64::MAX, 1).unwrap();
        assert_eq!((blocks(&page), more), (vec![(9, 2), (9, 0)], true));
        let (page, more) = store.address_txs_before(&a, 9, 2).unwrap();
        assert_eq!((blocks(&page), more), (vec![(5, 1), (3, 7), (3, 4), (3, 0)], false));
        // Oldest first.
        let (page, more) = store.address_txs_after(&a, 0, 2).unwrap();
        assert_eq!((blocks(&page), more), (vec![(3, 0), (3, 4), (3, 7)], true));
        let (page, more) = store.address_txs_after(&a, 3, 5).unwrap();
        assert_eq!((blocks(&page), more), (vec![(5, 1), (9, 0), (9, 2)], false));
        assert_eq!(store.address_txs_after(&a, u64::MAX, 5).unwrap(), (Vec::new(), false));
        assert_eq!(store.address_txs_before(&other, 4, 5).unwrap(), (Vec::new(), false));
        assert_eq!(page[0].2, B256::from(strata_primitives::U256::from(501u64)));
    }
}
