//! Storage traits of Strata and their in-memory implementation.
//!
//! Why: the state, the block store and the runtime must not know which database
//! they run on. They see a small ordered key-value store split into named
//! [`Column`]s and written only through atomic [`WriteBatch`]es — exactly what
//! RocksDB offers (column families, `WriteBatch`), and what an in-memory map can
//! fake for unit tests. The RocksDB implementation lives in `strata-db`, the only
//! crate that depends on `rocksdb`; [`MemKv`], the fake, lives here beside the trait.

use std::{collections::BTreeMap, ops::Bound, sync::Arc};

use parking_lot::RwLock;

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database engine failed (I/O error, corruption, …).
    #[error("database error: {0}")]
    Backend(String),
    /// A stored value could not be decoded: the database is corrupt or from another version.
    #[error("corrupt value in column {column:?}: {reason}")]
    Corrupt {
        /// The column holding the bad value.
        column: Column,
        /// What was wrong with it.
        reason: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The columns (RocksDB column families) of a Strata database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Column {
    /// Small named values: head pointer, chain spec hash, schema version.
    Meta,
    /// `block number (8 bytes BE) -> header RLP`.
    Headers,
    /// `block number -> RLP list of EIP-2718 transactions`.
    Bodies,
    /// `block hash -> block number`.
    BlockNumbers,
    /// `tx hash -> (block number, index)`.
    TxIndex,
    /// `block number -> RLP list of stored receipts`.
    Receipts,
    /// Flat state: `address -> account RLP` (latest state).
    Accounts,
    /// Flat contract storage: `address (20 bytes) ++ key -> value` (latest state).
    Storage,
    /// `code hash -> code`.
    Code,
    /// Merkle-Patricia trie nodes: `node hash -> refcount (u32 BE) ++ node RLP`.
    TrieNodes,
    /// Pruning journal: `block number -> RLP list of node hashes that block stopped referencing`.
    TrieJournal,
    /// `block number -> RLP commit certificate` (2f+1 validator signatures committing the block).
    Certificates,
    /// Cold backup of archived contract data (used in the cold-store database, not the
    /// chain database): `address ++ keccak(key) ++ value hash ++ retention end (8 BE) -> value`.
    Cold,
    /// The pool journal: transactions this validator certified as stored (a storage
    /// certificate signature), `tx hash -> RLP(raw transaction, claim)`, until included
    /// or expired.
    Journal,
    /// Which transactions touched an address (as sender, recipient or created
    /// contract): `address (20) ++ block number (8 BE) ++ index (4 BE) -> tx hash`.
    AddressTxs,
}

impl Column {
    /// Every column, in a fixed order.
    pub const ALL: [Column; 15] = [
        Column::Meta,
        Column::Headers,
        Column::Bodies,
        Column::BlockNumbers,
        Column::TxIndex,
        Column::Receipts,
        Column::Accounts,
        Column::Storage,
        Column::Code,
        Column::TrieNodes,
        Column::TrieJournal,
        Column::Certificates,
        Column::Cold,
        Column::Journal,
        Column::AddressTxs,
    ];

    /// Stable name (the RocksDB column family name).
    pub const fn name(self) -> &'static str {
        match self {
            Column::Meta => "meta",
            Column::Headers => "headers",
            Column::Bodies => "bodies",
            Column::BlockNumbers => "block_numbers",
            Column::TxIndex => "tx_index",
            Column::Receipts => "receipts",
            Column::Accounts => "accounts",
            Column::Storage => "storage",
            Column::Code => "code",
            Column::TrieNodes => "trie_nodes",
            Column::TrieJournal => "trie_journal",
            Column::Certificates => "certificates",
            Column::Cold => "cold",
            Column::Journal => "journal",
            Column::AddressTxs => "address_txs",
        }
    }
}

/// One write of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// Set `key` to `value`.
    Put(Column, Vec<u8>, Vec<u8>),
    /// Remove `key`.
    Delete(Column, Vec<u8>),
    /// Remove every key `>= from` and `< to` (one range tombstone, whatever the number
    /// of keys: for data kept in key order and dropped by age).
    DeleteRange(Column, Vec<u8>, Vec<u8>),
}

/// Writes applied all together or not at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<WriteOp>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a put.
    pub fn put(&mut self, column: Column, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp::Put(column, key.into(), value.into()));
    }
    /// Adds a delete.
    pub fn delete(&mut self, column: Column, key: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp::Delete(column, key.into()));
    }
    /// Adds the removal of every key in `from..to` (`to` excluded).
    pub fn delete_range(&mut self, column: Column, from: impl Into<Vec<u8>>, to: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp::DeleteRange(column, from.into(), to.into()));
    }
    /// The writes, in order (a later write to a key wins).
    pub fn ops(&self) -> &[WriteOp] {
        &self.ops
    }
    /// Number of writes.
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
    /// Appends another batch's writes after this one's.
    pub fn extend(&mut self, other: WriteBatch) {
        self.ops.extend(other.ops);
    }
}

/// An ordered key-value store with columns and atomic, durable batches.
pub trait KvStore: Send + Sync + 'static {
    /// Reads one value.
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Reads many values of one column; `keys` sorted ascending lets the engine batch
    /// its lookups. The answer is in the order of `keys`.
    fn multi_get(&self, column: Column, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        keys.iter().map(|k| self.get(column, k)).collect()
    }

    /// Applies a batch atomically. When this returns `Ok`, the batch survives a crash
    /// (it is synced to disk); after a crash either all of it or none of it is visible.
    fn write(&self, batch: WriteBatch) -> Result<()>;

    /// Applies a batch atomically without waiting for the disk: when this returns
    /// `Ok`, the batch survives a crash of this process (kill -9: the OS has it) but not
    /// necessarily of the machine; the next [`KvStore::write`] makes it durable too
    /// (writes are logged in order). For what a lost write cannot make wrong.
    fn write_unsynced(&self, batch: WriteBatch) -> Result<()> {
        self.write(batch)
    }

    /// Calls `f` on each entry whose key starts with `prefix`, in key order,
    /// until `f` returns `false`.
    fn for_each_prefix(&self, column: Column, prefix: &[u8], f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        self.for_each_from(column, prefix, prefix, f)
    }

    /// Like [`KvStore::for_each_prefix`], but starting at the first key `>= from`
    /// (a seek, not a scan from the start of the prefix).
    fn for_each_from(&self, column: Column, prefix: &[u8], from: &[u8], f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<()>;

    /// Calls `f` on each entry whose key starts with `prefix` and is `< before`, in
    /// descending key order (the newest first, for keys ending in a height), until `f`
    /// returns `false`. The scan starts at the last key below `before` and stops at the
    /// first key outside `prefix`: give a bound that starts with `prefix`.
    fn for_each_before(&self, column: Column, prefix: &[u8], before: &[u8], f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<()>;
}

/// A shared handle to a store.
pub type SharedKv = Arc<dyn KvStore>;

/// In-memory [`KvStore`] for unit tests and the contract test harness.
/// Not durable: a dropped `MemKv` is gone.
#[derive(Debug, Default)]
pub struct MemKv {
    columns: RwLock<BTreeMap<ColumnKey, Vec<u8>>>,
}

type ColumnKey = (Column, Vec<u8>);

impl MemKv {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
    /// An empty store behind an `Arc<dyn KvStore>`.
    pub fn shared() -> SharedKv {
        Arc::new(Self::new())
    }
}

impl KvStore for MemKv {
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.columns.read().get(&(column, key.to_vec())).cloned())
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        let mut map = self.columns.write();
        for op in batch.ops {
            match op {
                WriteOp::Put(c, k, v) => {
                    map.insert((c, k), v);
                }
                WriteOp::Delete(c, k) => {
                    map.remove(&(c, k));
                }
                WriteOp::DeleteRange(c, from, to) => {
                    if from < to {
                        let doomed: Vec<ColumnKey> = map.range((c, from)..(c, to)).map(|(k, _)| k.clone()).collect();
                        for k in doomed {
                            map.remove(&k);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn for_each_from(&self, column: Column, prefix: &[u8], from: &[u8], f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        let map = self.columns.read();
        let start = (column, prefix.max(from).to_vec());
        for ((c, k), v) in map.range((Bound::Included(start), Bound::Unbounded)) {
            if *c != column || !k.starts_with(prefix) || !f(k, v) {
                break;
            }
        }
        Ok(())
    }

    fn for_each_before(&self, column: Column, prefix: &[u8], before: &[u8], f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        let map = self.columns.read();
        let end = (column, before.to_vec());
        for ((c, k), v) in map.range((Bound::Unbounded, Bound::Excluded(end))).rev() {
            if *c != column || !k.starts_with(prefix) || !f(k, v) {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_apply_in_order_and_prefix_scans_stay_in_column() {
        let kv = MemKv::new();
        let mut b = WriteBatch::new();
        b.put(Column::Accounts, b"a1".to_vec(), b"x".to_vec());
        b.put(Column::Accounts, b"a2".to_vec(), b"y".to_vec());
        b.put(Column::Accounts, b"b1".to_vec(), b"z".to_vec());
        b.put(Column::Code, b"a3".to_vec(), b"w".to_vec());
        b.delete(Column::Accounts, b"a2".to_vec());
        kv.write(b).unwrap();
        let mut seen = Vec::new();
        kv.for_each_prefix(Column::Accounts, b"a", &mut |k, v| {
            seen.push((k.to_vec(), v.to_vec()));
            true
        })
        .unwrap();
        assert_eq!(seen, vec![(b"a1".to_vec(), b"x".to_vec())]);
        let mut from = Vec::new();
        kv.for_each_from(Column::Accounts, b"", b"a2", &mut |k, _| {
            from.push(k.to_vec());
            true
        })
        .unwrap();
        assert_eq!(from, vec![b"b1".to_vec()]);
        assert_eq!(kv.get(Column::Code, b"a3").unwrap(), Some(b"w".to_vec()));
    }

    #[test]
    fn backward_scans_start_below_the_bound_and_stay_in_prefix_and_column() {
        conformance::backward_scans(&MemKv::new());
    }

    #[test]
    fn range_deletes_remove_their_column_s_keys_from_the_start_to_before_the_end() {
        conformance::range_deletes(&MemKv::new());
    }
}

/// Checks any [`KvStore`] implementation runs against what the trait promises (the
/// in-memory fake here and RocksDB in `strata-db` run the same checks).
pub mod conformance {
    use super::{Column, KvStore, WriteBatch};

    /// [`KvStore::for_each_before`]: descending, the bound excluded, within the prefix
    /// and the column. Panics on a broken implementation; `kv` must be empty.
    pub fn backward_scans(kv: &dyn KvStore) {
        let mut b = WriteBatch::new();
        for k in [&b"a1"[..], b"a2", b"a3", b"b1"] {
            b.put(Column::AddressTxs, k.to_vec(), Vec::new());
        }
        b.put(Column::Journal, b"a0".to_vec(), Vec::new());
        kv.write(b).expect("write");
        let scan = |before: &[u8]| {
            let mut seen = Vec::new();
            kv.for_each_before(Column::AddressTxs, b"a", before, &mut |k, _| {
                seen.push(k.to_vec());
                true
            })
            .expect("scan");
            seen
        };
        let all = vec![b"a3".to_vec(), b"a2".to_vec(), b"a1".to_vec()];
        // A key equal to the bound is left out; a bound between keys or past the
        // prefix's last key starts at the key below it.
        assert_eq!(scan(b"a3"), all[1..].to_vec());
        assert_eq!(scan(b"a2x"), all[1..].to_vec());
        assert_eq!(scan(b"a\xff"), all);
        assert_eq!(scan(b"b"), all);
        assert!(scan(b"a1").is_empty());
        // The first key below the bound is outside the prefix: nothing.
        assert!(scan(b"zz").is_empty());
    }

    /// [`WriteOp::DeleteRange`]: removes the keys of its column from `from` (included)
    /// to `to` (excluded), nothing else; an empty or reversed range removes nothing.
    /// `kv` must be empty.
    pub fn range_deletes(kv: &dyn KvStore) {
        let mut b = WriteBatch::new();
        for k in [&b"j1"[..], b"j2", b"j3", b"j4"] {
            b.put(Column::Journal, k.to_vec(), b"v".to_vec());
        }
        b.put(Column::Accounts, b"j2".to_vec(), b"other column".to_vec());
        kv.write(b).expect("write");
        let keys = || {
            let mut seen = Vec::new();
            kv.for_each_prefix(Column::Journal, b"", &mut |k, _| {
                seen.push(k.to_vec());
                true
            })
            .expect("scan");
            seen
        };
        let mut b = WriteBatch::new();
        b.delete_range(Column::Journal, b"j3".to_vec(), b"j2".to_vec());
        b.delete_range(Column::Journal, b"j2".to_vec(), b"j2".to_vec());
        kv.write_unsynced(b).expect("empty ranges");
        assert_eq!(keys().len(), 4);
        let mut b = WriteBatch::new();
        b.delete_range(Column::Journal, b"j".to_vec(), b"j3".to_vec());
        kv.write_unsynced(b).expect("range delete");
        assert_eq!(keys(), vec![b"j3".to_vec(), b"j4".to_vec()]);
        assert_eq!(kv.get(Column::Accounts, b"j2").expect("get"), Some(b"other column".to_vec()));
    }
}
