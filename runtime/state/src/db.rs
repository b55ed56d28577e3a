//! The latest state (flat) and its commitment (tries), with reference-counted
//! trie nodes and journal-based pruning.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::Arc,
};

use parking_lot::Mutex;

use strata_primitives::{Account, Address, B256, Bytes, EMPTY_ROOT_HASH, Slot, keccak256, rlp_item::decode_exact};
use strata_storage::{Column, SharedKv, WriteBatch};
use strata_trie::{Commit, NodeStore, Trie};

use crate::{HistoricalState, Result, StateChanges, StateReader, flat_storage_key};

/// Blocks whose state stays queryable by default.
pub const DEFAULT_RETAIN: u64 = 128;

/// Entries per generation of the node cache.
const NODE_CACHE_GENERATION: usize = 1 << 18;

type Generation = HashMap<B256, Arc<[u8]>>;

/// Trie nodes recently read or written, by hash. Nodes are content-addressed — a
/// hash always names the same bytes — so a cached node is never stale. Two
/// generations approximate LRU: when the young one fills, it replaces the old one;
/// hits in the old one move to the young one. (A hash map used for lookups only:
/// its order never influences anything.)
#[derive(Default)]
pub(crate) struct NodeCache {
    generations: Mutex<(Generation, Generation)>,
}

impl NodeCache {
    fn get(&self, hash: &B256) -> Option<Arc<[u8]>> {
        let mut g = self.generations.lock();
        if let Some(v) = g.0.get(hash) {
            return Some(v.clone());
        }
        let v = g.1.remove(hash)?;
        Self::put(&mut g, *hash, v.clone());
        Some(v)
    }

    fn insert(&self, hash: B256, rlp: Arc<[u8]>) {
        Self::put(&mut self.generations.lock(), hash, rlp);
    }

    fn put(g: &mut (Generation, Generation), hash: B256, rlp: Arc<[u8]>) {
        g.0.insert(hash, rlp);
        if g.0.len() >= NODE_CACHE_GENERATION {
            g.1 = std::mem::take(&mut g.0);
        }
    }
}

/// Reads trie nodes through the cache from `Column::TrieNodes` (stripping the reference count).
pub(crate) struct KvNodes<'a> {
    pub(crate) kv: &'a SharedKv,
    pub(crate) cache: &'a NodeCache,
}

impl NodeStore for KvNodes<'_> {
    fn node(&self, hash: &B256) -> strata_trie::Result<Option<Vec<u8>>> {
        if let Some(rlp) = self.cache.get(hash) {
            return Ok(Some(rlp.to_vec()));
        }
        let value = self.kv.get(Column::TrieNodes, hash.as_slice()).map_err(|e| strata_trie::Error::Store(e.to_string()))?;
        match value {
            Some(v) if v.len() > 4 => {
                self.cache.insert(*hash, Arc::from(&v[4..]));
                Ok(Some(v[4..].to_vec()))
            }
            Some(_) => Err(strata_trie::Error::CorruptNode { hash: *hash, reason: "stored node shorter than its refcount".into() }),
            None => Ok(None),
        }
    }
}

fn corrupt(column: Column, reason: impl ToString) -> crate::Error {
    strata_storage::Error::Corrupt { column, reason: reason.to_string() }.into()
}

/// The world state: flat latest view, tries, history and pruning.
#[derive(Clone)]
pub struct StateDb {
    kv: SharedKv,
    retain: u64,
    cache: Arc<NodeCache>,
}

impl StateDb {
    /// State over `kv`, keeping the tries of the last `retain` blocks (at least 1).
    pub fn new(kv: SharedKv, retain: u64) -> Self {
        Self { kv, retain: retain.max(1), cache: Arc::default() }
    }

    /// How many recent blocks' state stays queryable.
    pub fn retain(&self) -> u64 {
        self.retain
    }

    /// The state at a committed state root (a trie walk per read). Fails on read
    /// with `MissingNode` if that root was pruned.
    pub fn at_root(&self, root: B256) -> HistoricalState {
        HistoricalState::new(self.kv.clone(), root, self.cache.clone())
    }

    /// Commits `changes` made by block `number` on top of the state with root
    /// `parent_root` (the latest committed state): updates the tries from the
    /// changed keys only, adds the new nodes, reference counts, pruning and the
    /// flat view to `batch`, and returns the new state root. Nothing is written
    /// until the caller writes `batch`, so the state moves with its block.
    pub fn commit(&self, number: u64, parent_root: B256, changes: &StateChanges, batch: &mut WriteBatch) -> Result<B256> {
        let nodes = KvNodes { kv: &self.kv, cache: &self.cache };
        let mut new_nodes = Vec::new();
        let mut removed = Vec::new();
        let mut absorb = |c: Commit| {
            new_nodes.extend(c.new_nodes);
            removed.extend(c.removed);
            c.root
        };
        let mut accounts = Trie::new(parent_root);
        let touched: BTreeSet<&Address> = changes.accounts.keys().chain(changes.storage.keys()).collect();
        for address in touched {
            let before = self.account(address)?;
            let mut account = match changes.accounts.get(address) {
                Some(change) => *change,
                None => before,
            };
            if let Some(slots) = changes.storage.get(address) {
                let mut storage = Trie::new(before.map_or(EMPTY_ROOT_HASH, |a| a.storage_root));
                for (key, value) in slots {
                    let flat_key = flat_storage_key(address, key);
                    let path = keccak256(key);
                    match crate::live(value.as_ref()) {
                        Some(slot) => {
                            let leaf = slot.encode();
                            storage.insert(&nodes, path.as_slice(), leaf.clone())?;
                            batch.put(Column::Storage, flat_key, leaf);
                        }
                        None => {
                            storage.remove(&nodes, path.as_slice())?;
                            batch.delete(Column::Storage, flat_key);
                        }
                    }
                }
                let storage_root = absorb(storage.commit());
                match account.as_mut() {
                    Some(a) => a.storage_root = storage_root,
                    None if storage_root != EMPTY_ROOT_HASH => account = Some(Account { storage_root, ..Account::default() }),
                    None => {}
                }
            } else if let (Some(a), Some(b)) = (account.as_mut(), before) {
                // Storage untouched: the root on disk is authoritative.
                a.storage_root = b.storage_root;
            }
            let path = keccak256(address);
            match account {
                Some(a) => {
                    accounts.insert(&nodes, path.as_slice(), alloy_rlp::encode(a))?;
                    batch.put(Column::Accounts, address.as_slice(), alloy_rlp::encode(a));
                }
                None => {
                    accounts.remove(&nodes, path.as_slice())?;
                    batch.delete(Column::Accounts, address.as_slice());
                }
            }
        }
        let root = absorb(accounts.commit());
        // The next block reads what this one wrote: keep the new nodes at hand.
        for (hash, rlp) in &new_nodes {
            self.cache.insert(*hash, Arc::from(rlp.as_slice()));
        }
        // Code is content-addressed and immutable: stored once, never pruned.
        for (hash, code) in &changes.code {
            batch.put(Column::Code, hash.as_slice(), code.to_vec());
        }
        self.count_references(number, new_nodes, removed, batch)?;
        Ok(root)
    }

    /// Reference counting: +1 for every node a commit stores; the references a
    /// block drops are journaled under its number and only released `retain`
    /// blocks later, so every node reachable from a retained root stays stored.
    /// A node is deleted when its count reaches zero.
    fn count_references(&self, number: u64, new_nodes: Vec<(B256, Vec<u8>)>, removed: Vec<B256>, batch: &mut WriteBatch) -> Result<()> {
        let mut delta: BTreeMap<B256, i64> = BTreeMap::new();
        let mut bodies: BTreeMap<B256, Vec<u8>> = BTreeMap::new();
        for (hash, rlp) in new_nodes {
            *delta.entry(hash).or_default() += 1;
            bodies.insert(hash, rlp);
        }
        if !removed.is_empty() {
            batch.put(Column::TrieJournal, number.to_be_bytes(), alloy_rlp::encode(&removed));
        }
        // Release the references dropped by blocks that just left the window (and any
        // older ones left by a previously larger window).
        if let Some(due) = number.checked_sub(self.retain) {
            let mut journals = Vec::new();
            self.kv.for_each_prefix(Column::TrieJournal, &[], &mut |key, value| {
                let Ok(n) = <[u8; 8]>::try_from(key).map(u64::from_be_bytes) else { return false };
                if n > due {
                    return false;
                }
                journals.push((key.to_vec(), value.to_vec()));
                true
            })?;
            for (key, value) in journals {
                let hashes: Vec<B256> = decode_exact(&value).map_err(|e| corrupt(Column::TrieJournal, e))?;
                for h in hashes {
                    *delta.entry(h).or_default() -= 1;
                }
                batch.delete(Column::TrieJournal, key);
            }
        }
        delta.retain(|_, d| *d != 0);
        // One batched read of every count that changes (keys in ascending order).
        let keys: Vec<&[u8]> = delta.keys().map(|h| h.as_slice()).collect();
        let stored_values = self.kv.multi_get(Column::TrieNodes, &keys)?;
        for ((hash, d), stored) in delta.into_iter().zip(stored_values) {
            let (count, body) = match stored {
                Some(v) if v.len() > 4 => (i64::from(u32::from_be_bytes([v[0], v[1], v[2], v[3]])), v[4..].to_vec()),
                Some(_) => return Err(corrupt(Column::TrieNodes, format!("node {hash} shorter than its refcount"))),
                None => match bodies.remove(&hash) {
                    Some(body) => (0, body),
                    None => {
                        tracing::error!(%hash, delta = d, "reference change for a node that is not stored");
                        continue;
                    }
                },
            };
            let new = count.saturating_add(d);
            if new <= 0 {
                batch.delete(Column::TrieNodes, hash.as_slice());
            } else {
                let new = u32::try_from(new).map_err(|_| corrupt(Column::TrieNodes, format!("refcount of {hash} overflows")))?;
                let mut value = new.to_be_bytes().to_vec();
                value.extend_from_slice(&body);
                batch.put(Column::TrieNodes, hash.as_slice(), value);
            }
        }
        Ok(())
    }
}

fn decode_slot(bytes: &[u8]) -> Result<Slot> {
    Slot::decode(bytes).map_err(|e| corrupt(Column::Storage, e))
}

impl StateReader for StateDb {
    fn account(&self, address: &Address) -> Result<Option<Account>> {
        let Some(bytes) = self.kv.get(Column::Accounts, address.as_slice())? else {
            return Ok(None);
        };
        decode_exact::<Account>(&bytes).map(Some).map_err(|e| corrupt(Column::Accounts, e))
    }

    fn slot(&self, address: &Address, key: &[u8]) -> Result<Option<Slot>> {
        self.kv.get(Column::Storage, &flat_storage_key(address, key))?.map(|b| decode_slot(&b)).transpose()
    }

    fn storage_scan(&self, address: &Address, prefix: &[u8], start_after: Option<&[u8]>, limit: usize) -> Result<Vec<(Bytes, Slot)>> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let full_prefix = flat_storage_key(address, prefix);
        let from = start_after.map(|s| flat_storage_key(address, s));
        let mut bad = None;
        self.kv.for_each_from(Column::Storage, &full_prefix, from.as_deref().unwrap_or(&full_prefix), &mut |k, v| {
            let key = &k[20..];
            if start_after.is_some_and(|s| key <= s) {
                return true;
            }
            match decode_slot(v) {
                Ok(slot) => out.push((Bytes::copy_from_slice(key), slot)),
                Err(e) => {
                    bad = Some(e);
                    return false;
                }
            }
            out.len() < limit
        })?;
        match bad {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>> {
        read_code(&self.kv, code_hash)
    }
}

/// Contract code by hash (code is immutable, so it is not versioned).
pub(crate) fn read_code(kv: &SharedKv, code_hash: &B256) -> Result<Option<Bytes>> {
    Ok(kv.get(Column::Code, code_hash.as_slice())?.map(Bytes::from))
}
