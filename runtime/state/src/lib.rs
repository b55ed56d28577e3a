//! Strata's world state: accounts and contract storage, with Ethereum's state root.
//!
//! Why a crate of its own: execution only needs "read an account or a slot, then
//! hand back what I changed"; how state is laid out on disk, committed, kept for
//! past blocks and pruned is this crate's business. Execution reads through the
//! [`StateReader`] trait (like reth's `StateProvider`); block import hands a
//! [`StateChanges`] to [`StateDb::commit`], which returns the new state root and
//! adds every write to the block's atomic batch.
//!
//! Layout (see ARCHITECTURE.md):
//! - **flat view** of the latest state — `Column::Accounts` (address → account RLP)
//!   and `Column::Storage` (address ++ key → value): a read during execution is one
//!   key-value get, never a trie walk;
//! - **tries** — Ethereum's secure account trie and one secure storage trie per
//!   account (`keccak256(key)` paths, `RLP(value bytes)` leaves), stored node by node
//!   in `Column::TrieNodes` with reference counts, updated once per block from the
//!   changed keys only;
//! - **history** — the tries of the last `retain` blocks stay readable and provable
//!   ([`HistoricalState`]); older nodes are pruned through `Column::TrieJournal`.

mod db;
mod history;
mod verify;

use std::collections::BTreeMap;

use strata_primitives::{Account, Address, B256, Bytes, Slot};

pub use db::{DEFAULT_RETAIN, StateDb};
pub use history::{AccountProof, HistoricalState, StorageProof};
pub use verify::flat_state_root;

pub use strata_primitives::{MAX_STORAGE_KEY_LEN, MAX_STORAGE_VALUE_LEN};

/// State errors. All are node-side: missing data, corruption, store failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] strata_storage::Error),
    /// A trie node is missing or corrupt.
    #[error(transparent)]
    Trie(#[from] strata_trie::Error),
    /// This view of the state cannot answer the query (e.g. key iteration over a
    /// past block's trie, whose keys are hashed).
    #[error("unsupported by this state view: {0}")]
    Unsupported(&'static str),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Read access to one version of the world state.
pub trait StateReader {
    /// The account at `address`, `None` if it does not exist.
    fn account(&self, address: &Address) -> Result<Option<Account>>;
    /// The slot `key` of `address`'s storage — a value or a tombstone — `None` if unset.
    fn slot(&self, address: &Address, key: &[u8]) -> Result<Option<Slot>>;
    /// Contract code by hash.
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>>;

    /// The live value of `key` in `address`'s storage (`None` if unset or archived).
    fn storage(&self, address: &Address, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(match self.slot(address, key)? {
            Some(Slot::Value(v)) => Some(v.to_vec()),
            _ => None,
        })
    }

    /// Slots of `address` whose key starts with `prefix`, in key order, strictly after
    /// `start_after` (from the start if `None`), at most `limit`. Only views with the
    /// raw keys (the flat state and overlays on it) support this.
    fn storage_scan(&self, address: &Address, prefix: &[u8], start_after: Option<&[u8]>, limit: usize) -> Result<Vec<(Bytes, Slot)>> {
        let _ = (address, prefix, start_after, limit);
        Err(Error::Unsupported("storage key iteration needs the latest state"))
    }
}

/// Merges a sorted page from a base view with sorted pending changes (changes win;
/// `None` hides a base entry): the scan of an overlay.
pub fn merge_scan(
    base: Vec<(Bytes, Slot)>,
    changes: &BTreeMap<Bytes, Option<Slot>>,
    prefix: &[u8],
    start_after: Option<&[u8]>,
    limit: usize,
) -> Vec<(Bytes, Slot)> {
    use std::ops::Bound;
    let lower = match start_after {
        Some(s) if s >= prefix => Bound::Excluded(Bytes::copy_from_slice(s)),
        _ => Bound::Included(Bytes::copy_from_slice(prefix)),
    };
    let mut pending = changes.range((lower, Bound::Unbounded)).take_while(|(k, _)| k.starts_with(prefix)).peekable();
    let mut base = base.into_iter().peekable();
    let mut out = Vec::new();
    while out.len() < limit {
        let take_change = match (base.peek(), pending.peek()) {
            (None, None) => break,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some((bk, _)), Some((ck, _))) => *ck <= bk,
        };
        if take_change {
            let (k, v) = pending.next().expect("peeked");
            if base.peek().is_some_and(|(bk, _)| bk == k) {
                base.next();
            }
            if let Some(slot) = v.as_ref().filter(|s| s.value().is_none_or(|v| !v.is_empty())) {
                out.push((k.clone(), slot.clone()));
            }
        } else {
            out.push(base.next().expect("peeked"));
        }
    }
    out
}

/// Changes produced by executing transactions. `BTreeMap`s, so iteration order —
/// and everything derived from it — is deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateChanges {
    /// Changed accounts; `None` deletes. Their `storage_root` is recomputed on commit.
    pub accounts: BTreeMap<Address, Option<Account>>,
    /// Changed storage per account; `None` (or an empty value) deletes the key.
    pub storage: BTreeMap<Address, BTreeMap<Bytes, Option<Slot>>>,
    /// New contract code by hash.
    pub code: BTreeMap<B256, Bytes>,
}

impl StateChanges {
    /// Merges `later` on top of `self`.
    pub fn extend(&mut self, later: StateChanges) {
        self.accounts.extend(later.accounts);
        for (address, slots) in later.storage {
            self.storage.entry(address).or_default().extend(slots);
        }
        self.code.extend(later.code);
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.storage.is_empty() && self.code.is_empty()
    }
}

/// Reads through pending changes to an underlying state.
pub struct Overlay<'a, R: ?Sized> {
    base: &'a R,
    /// The pending changes.
    pub changes: StateChanges,
}

impl<'a, R: StateReader + ?Sized> Overlay<'a, R> {
    /// An overlay with no changes yet.
    pub fn new(base: &'a R) -> Self {
        Self { base, changes: StateChanges::default() }
    }

    /// Records a new value for an account.
    pub fn set_account(&mut self, address: Address, account: Account) {
        self.changes.accounts.insert(address, Some(account));
    }

    /// Records a storage write (`None` deletes).
    pub fn set_storage(&mut self, address: Address, key: Bytes, value: Option<Bytes>) {
        self.changes.storage.entry(address).or_default().insert(key, value.map(Slot::Value));
    }

    /// The account at `address`, or an empty account.
    pub fn account_or_default(&self, address: &Address) -> Result<Account> {
        Ok(self.account(address)?.unwrap_or_default())
    }
}

impl<R: StateReader + ?Sized> StateReader for Overlay<'_, R> {
    fn account(&self, address: &Address) -> Result<Option<Account>> {
        match self.changes.accounts.get(address) {
            Some(change) => Ok(*change),
            None => self.base.account(address),
        }
    }

    fn slot(&self, address: &Address, key: &[u8]) -> Result<Option<Slot>> {
        match self.changes.storage.get(address).and_then(|slots| slots.get(key)) {
            Some(change) => Ok(live(change.as_ref())),
            None => self.base.slot(address, key),
        }
    }

    fn storage_scan(&self, address: &Address, prefix: &[u8], start_after: Option<&[u8]>, limit: usize) -> Result<Vec<(Bytes, Slot)>> {
        let Some(changes) = self.changes.storage.get(address) else {
            return self.base.storage_scan(address, prefix, start_after, limit);
        };
        // The base may return entries the changes delete: ask for enough to fill the page anyway.
        let base = self.base.storage_scan(address, prefix, start_after, limit.saturating_add(changes.len()))?;
        Ok(merge_scan(base, changes, prefix, start_after, limit))
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>> {
        match self.changes.code.get(code_hash) {
            Some(code) => Ok(Some(code.clone())),
            None => self.base.code(code_hash),
        }
    }
}

/// A pending slot change as the reader sees it: an empty value is a deletion.
pub fn live(change: Option<&Slot>) -> Option<Slot> {
    change.filter(|s| s.value().is_none_or(|v| !v.is_empty())).cloned()
}

/// Key of a slot in `Column::Storage`: `address ++ key`.
pub fn flat_storage_key(address: &Address, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(20 + key.len());
    k.extend_from_slice(address.as_slice());
    k.extend_from_slice(key);
    k
}

#[cfg(test)]
mod tests;
