//! Strata's world state: accounts keyed by address, with Ethereum's state root.
//!
//! Why a crate of its own: execution only needs "read an account, then hand back
//! the accounts I changed"; how state is laid out on disk and how the root is
//! committed is this crate's business. Execution reads through the
//! [`StateReader`] trait (like reth's `StateProvider`); block import hands a
//! [`StateChanges`] to [`StateDb::commit`], which returns the new state root and
//! the writes to apply atomically with the block.
//!
//! Layout: the latest state is kept flat (`Column::Accounts`: address → account
//! RLP), so a read is one key-value get. The root is Ethereum's secure account
//! trie root (`keccak256(address)` paths, RLP account leaves).

use std::collections::BTreeMap;

use alloy_trie::{HashBuilder, Nibbles};
use strata_primitives::{Account, Address, B256, EMPTY_ROOT_HASH, keccak256};
use strata_storage::{Column, SharedKv, WriteBatch};

/// State errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] strata_storage::Error),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Read access to one version of the world state.
pub trait StateReader {
    /// The account at `address`, `None` if it does not exist.
    fn account(&self, address: &Address) -> Result<Option<Account>>;
}

/// Account changes produced by executing transactions; `None` deletes the account.
/// A `BTreeMap`, so iteration order — and everything derived from it — is deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateChanges {
    /// Changed accounts.
    pub accounts: BTreeMap<Address, Option<Account>>,
}

impl StateChanges {
    /// Merges `later` on top of `self`.
    pub fn extend(&mut self, later: StateChanges) {
        self.accounts.extend(later.accounts);
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
        Self {
            base,
            changes: StateChanges::default(),
        }
    }

    /// Records a new value for an account.
    pub fn set_account(&mut self, address: Address, account: Account) {
        self.changes.accounts.insert(address, Some(account));
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
}

/// The latest world state, stored flat in a [`KvStore`].
#[derive(Clone)]
pub struct StateDb {
    kv: SharedKv,
}

impl StateDb {
    /// State over `kv`.
    pub fn new(kv: SharedKv) -> Self {
        Self { kv }
    }

    /// Computes the state root after `changes` and adds the writes that make
    /// `changes` the latest state to `batch`. Nothing is written until the caller
    /// writes `batch`, so the state moves together with the block that caused it.
    pub fn commit(&self, changes: &StateChanges, batch: &mut WriteBatch) -> Result<B256> {
        let root = self.root_with(changes)?;
        for (address, account) in &changes.accounts {
            match account {
                Some(a) => batch.put(Column::Accounts, address.as_slice(), alloy_rlp::encode(a)),
                None => batch.delete(Column::Accounts, address.as_slice()),
            }
        }
        Ok(root)
    }

    /// The state root the state would have after `changes`.
    ///
    /// Computed from all accounts; `O(accounts)` per block. Acceptable for the
    /// walking skeleton, replaced by the incremental trie of issue 3.
    pub fn root_with(&self, changes: &StateChanges) -> Result<B256> {
        let mut leaves: BTreeMap<B256, Vec<u8>> = BTreeMap::new();
        let mut corrupt = None;
        self.kv
            .for_each_prefix(Column::Accounts, &[], &mut |key, value| {
                if key.len() != 20 {
                    corrupt = Some(format!("account key of {} bytes", key.len()));
                    return false;
                }
                let address = Address::from_slice(key);
                if !changes.accounts.contains_key(&address) {
                    leaves.insert(keccak256(address), value.to_vec());
                }
                true
            })?;
        if let Some(reason) = corrupt {
            return Err(strata_storage::Error::Corrupt {
                column: Column::Accounts,
                reason,
            }
            .into());
        }
        for (address, account) in &changes.accounts {
            if let Some(a) = account {
                leaves.insert(keccak256(address), alloy_rlp::encode(a));
            }
        }
        Ok(trie_root(
            leaves.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
        ))
    }
}

impl StateReader for StateDb {
    fn account(&self, address: &Address) -> Result<Option<Account>> {
        let Some(bytes) = self.kv.get(Column::Accounts, address.as_slice())? else {
            return Ok(None);
        };
        let account = alloy_rlp::decode_exact::<Account>(&bytes).map_err(|e| {
            strata_storage::Error::Corrupt {
                column: Column::Accounts,
                reason: e.to_string(),
            }
        })?;
        Ok(Some(account))
    }
}

/// Root of the trie holding `leaves`, which must be sorted by key.
pub fn trie_root<'a>(leaves: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> B256 {
    let mut hb = HashBuilder::default();
    let mut any = false;
    for (key, value) in leaves {
        hb.add_leaf(Nibbles::unpack(key), value);
        any = true;
    }
    if any { hb.root() } else { EMPTY_ROOT_HASH }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_primitives::U256;
    use strata_storage::MemKv;

    #[test]
    fn empty_state_has_empty_root() {
        let db = StateDb::new(MemKv::shared());
        assert_eq!(
            db.root_with(&StateChanges::default()).unwrap(),
            EMPTY_ROOT_HASH
        );
    }

    #[test]
    fn commit_then_read_back_and_root_is_order_independent() {
        let kv = MemKv::shared();
        let db = StateDb::new(kv.clone());
        let mut changes = StateChanges::default();
        for i in 1..=5u8 {
            changes.accounts.insert(
                Address::repeat_byte(i),
                Some(Account::with_balance(U256::from(i))),
            );
        }
        let mut batch = WriteBatch::new();
        let root = db.commit(&changes, &mut batch).unwrap();
        kv.write(batch).unwrap();
        assert_eq!(
            db.account(&Address::repeat_byte(3))
                .unwrap()
                .unwrap()
                .balance,
            U256::from(3u8)
        );
        // The same accounts written in two steps give the same root.
        let kv2 = MemKv::shared();
        let db2 = StateDb::new(kv2.clone());
        let (first, second): (BTreeMap<_, _>, BTreeMap<_, _>) = changes
            .accounts
            .clone()
            .into_iter()
            .partition(|(a, _)| a.0[0] % 2 == 0);
        let mut b = WriteBatch::new();
        db2.commit(&StateChanges { accounts: first }, &mut b)
            .unwrap();
        kv2.write(b).unwrap();
        let mut b = WriteBatch::new();
        assert_eq!(
            db2.commit(&StateChanges { accounts: second }, &mut b)
                .unwrap(),
            root
        );
    }

    /// The realistic account trie of Ethereum's `hex_encoded_securetrie_test.json`
    /// (full vector suite runs in the state crate's tests from issue 3 on); here one
    /// known root: a single account at 0x00…01 with nonce 0, balance 1, empty storage and code.
    #[test]
    fn single_account_root_matches_independent_computation() {
        let a = Account::with_balance(U256::from(1u8));
        let addr = Address::with_last_byte(1);
        let leaf = alloy_rlp::encode(a);
        // One leaf: root = keccak(rlp([hex_prefix(path, leaf), value])).
        let path = keccak256(addr);
        let mut hp = vec![0x20u8];
        hp.extend_from_slice(path.as_slice());
        let node = strata_primitives::rlp_item::RlpItem::List(vec![
            strata_primitives::rlp_item::RlpItem::Bytes(hp),
            strata_primitives::rlp_item::RlpItem::Bytes(leaf.clone()),
        ]);
        let expected = keccak256(node.encoded());
        assert_eq!(trie_root([(path.as_slice(), leaf.as_slice())]), expected);
    }
}
