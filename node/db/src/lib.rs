//! RocksDB implementation of Strata's storage traits.
//!
//! Why: this is the only crate that links `rocksdb`, so the rest of the node is
//! tested against the in-memory store and the on-disk engine can be tuned or
//! replaced in one place. Every [`strata_storage::Column`] is a RocksDB column
//! family; every batch is one RocksDB `WriteBatch`, and `write` syncs it,
//! so a batch that returned `Ok` survives `kill -9` and power loss, and a batch
//! cut short by a crash is not visible at all (RocksDB's WAL replays whole batches).
//! `write_unsynced` skips the fsync: its batch survives `kill -9` (the log write has
//! reached the OS) and is made durable by the next synced write.

use std::path::{Path, PathBuf};

use rocksdb::{BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, WriteOptions};
use strata_storage::{Column, Error, KvStore, Result, WriteBatch, WriteOp};

/// A Strata database on disk.
pub struct RocksKv {
    db: DB,
    path: PathBuf,
}

impl std::fmt::Debug for RocksKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksKv").field("path", &self.path).finish()
    }
}

fn backend(e: rocksdb::Error) -> Error {
    Error::Backend(e.into_string())
}

impl RocksKv {
    /// Opens (creating if needed) the database at `path`. Fails if another process has it open.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        std::fs::create_dir_all(&path).map_err(|e| Error::Backend(format!("create {}: {e}", path.display())))?;
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        // Bound open files and background work: a node shares the machine with its peers.
        opts.set_max_open_files(512);
        opts.increase_parallelism(2);
        // Point lookups dominate (flat state, trie nodes): bloom filters skip SST files that
        // cannot hold a key, and a shared block cache keeps hot blocks in memory.
        let cache = Cache::new_lru_cache(256 * 1024 * 1024);
        let cfs = Column::ALL.iter().map(|c| {
            let mut table = BlockBasedOptions::default();
            table.set_bloom_filter(10.0, false);
            table.set_block_cache(&cache);
            table.set_cache_index_and_filter_blocks(true);
            let mut cf = Options::default();
            cf.set_block_based_table_factory(&table);
            ColumnFamilyDescriptor::new(c.name(), cf)
        });
        let db = DB::open_cf_descriptors(&opts, &path, cfs).map_err(backend)?;
        tracing::debug!(path = %path.display(), "opened rocksdb");
        Ok(Self { db, path })
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Compacts every column fully (flushes memtables, merges SST files): the steady
    /// state a long-running node reaches in the background. For benchmarks and tools.
    pub fn compact(&self) -> Result<()> {
        for c in Column::ALL {
            let cf = self.cf(c);
            self.db.flush_cf(cf).map_err(backend)?;
            self.db.compact_range_cf(cf, None::<&[u8]>, None::<&[u8]>);
        }
        Ok(())
    }

    fn cf(&self, column: Column) -> &ColumnFamily {
        self.db.cf_handle(column.name()).expect("every column family is created at open")
    }

    /// One RocksDB batch of `batch`, written with `sync` (fsync of the log) or not.
    fn write_with(&self, batch: WriteBatch, sync: bool) -> Result<()> {
        let mut wb = rocksdb::WriteBatch::default();
        for op in batch.ops() {
            match op {
                WriteOp::Put(c, k, v) => wb.put_cf(self.cf(*c), k, v),
                WriteOp::Delete(c, k) => wb.delete_cf(self.cf(*c), k),
                // RocksDB wants `from < to`; an empty range removes nothing.
                WriteOp::DeleteRange(c, from, to) if from < to => wb.delete_range_cf(self.cf(*c), from, to),
                WriteOp::DeleteRange(..) => {}
            }
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        self.db.write_opt(wb, &wo).map_err(backend)
    }
}

impl KvStore for RocksKv {
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.get_cf(self.cf(column), key).map_err(backend)
    }

    fn multi_get(&self, column: Column, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        let sorted = keys.windows(2).all(|w| w[0] <= w[1]);
        self.db
            .batched_multi_get_cf(self.cf(column), keys.iter().copied(), sorted)
            .into_iter()
            .map(|r| r.map(|v| v.map(|slice| slice.to_vec())).map_err(backend))
            .collect()
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        self.write_with(batch, true)
    }

    fn write_unsynced(&self, batch: WriteBatch) -> Result<()> {
        self.write_with(batch, false)
    }

    fn for_each_from(&self, column: Column, prefix: &[u8], from: &[u8], f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        for item in self.db.iterator_cf(self.cf(column), IteratorMode::From(prefix.max(from), Direction::Forward)) {
            let (k, v) = item.map_err(backend)?;
            if !k.starts_with(prefix) || !f(&k, &v) {
                break;
            }
        }
        Ok(())
    }

    fn for_each_before(&self, column: Column, prefix: &[u8], before: &[u8], f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        // `From(before, Reverse)` starts at the last key <= `before`: skip `before` itself.
        for item in self.db.iterator_cf(self.cf(column), IteratorMode::From(before, Direction::Reverse)) {
            let (k, v) = item.map_err(backend)?;
            if k.as_ref() >= before {
                continue;
            }
            if !k.starts_with(prefix) || !f(&k, &v) {
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
    fn an_unsynced_write_is_in_the_log_file_when_it_returns() {
        // What kill -9 cannot take: the write has reached the OS (the log file's bytes),
        // with no fsync and no flush of the memtable.
        let dir = tempfile::tempdir().unwrap();
        let kv = RocksKv::open(dir.path()).unwrap();
        let marker = b"unsynced-marker-5f0c2e".to_vec();
        let mut b = WriteBatch::new();
        b.put(Column::Journal, b"k".to_vec(), marker.clone());
        kv.write_unsynced(b).unwrap();
        let logged = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .any(|p| std::fs::read(p).unwrap().windows(marker.len()).any(|w| w == marker.as_slice()));
        assert!(logged, "the unsynced batch is not in the write-ahead log");
        assert_eq!(kv.get(Column::Journal, b"k").unwrap(), Some(marker));
    }

    #[test]
    fn survives_reopen_and_scans_by_prefix() {
        let dir = tempfile::tempdir().unwrap();
        {
            let kv = RocksKv::open(dir.path()).unwrap();
            let mut b = WriteBatch::new();
            b.put(Column::Accounts, b"k1".to_vec(), b"v1".to_vec());
            b.put(Column::Accounts, b"k2".to_vec(), b"v2".to_vec());
            b.put(Column::Meta, b"k1".to_vec(), b"other".to_vec());
            kv.write(b).unwrap();
            let mut b = WriteBatch::new();
            b.delete(Column::Accounts, b"k2".to_vec());
            kv.write(b).unwrap();
        }
        let kv = RocksKv::open(dir.path()).unwrap();
        assert_eq!(kv.get(Column::Accounts, b"k1").unwrap(), Some(b"v1".to_vec()));
        assert_eq!(kv.get(Column::Accounts, b"k2").unwrap(), None);
        assert_eq!(kv.multi_get(Column::Accounts, &[b"k1", b"k2", b"k3"]).unwrap(), vec![Some(b"v1".to_vec()), None, None]);
        let mut n = 0;
        kv.for_each_prefix(Column::Accounts, b"k", &mut |_, _| {
            n += 1;
            true
        })
        .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn second_open_of_same_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = RocksKv::open(dir.path()).unwrap();
        let err = RocksKv::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("lock"), "{err}");
    }

    #[test]
    fn backward_scans_exclude_the_bound_and_stay_in_prefix_and_column() {
        let dir = tempfile::tempdir().unwrap();
        strata_storage::conformance::backward_scans(&RocksKv::open(dir.path()).unwrap());
    }

    #[test]
    fn range_deletes_remove_their_column_s_keys_from_the_start_to_before_the_end() {
        let dir = tempfile::tempdir().unwrap();
        strata_storage::conformance::range_deletes(&RocksKv::open(dir.path()).unwrap());
    }
}
