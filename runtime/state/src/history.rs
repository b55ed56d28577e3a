//! State at a past root: reads by trie walk, and EIP-1186 proofs.

use strata_primitives::{Account, Address, B256, Bytes, EMPTY_ROOT_HASH, Slot, keccak256, rlp_item::decode_exact};
use strata_storage::SharedKv;
use strata_trie::Trie;

use std::sync::Arc;

use crate::{
    Result, StateReader,
    db::{KvNodes, NodeCache},
};

/// The state under one committed root. Reads walk the tries (slower than the
/// flat view, but available for every retained block).
#[derive(Clone)]
pub struct HistoricalState {
    kv: SharedKv,
    root: B256,
    cache: Arc<NodeCache>,
}

impl std::fmt::Debug for HistoricalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoricalState").field("root", &self.root).finish_non_exhaustive()
    }
}

/// An account with its proof against the state root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProof {
    /// The account (`None`: proven absent).
    pub account: Option<Account>,
    /// Trie nodes from the state root to the account's leaf (or to where its path ends).
    pub proof: Vec<Bytes>,
}

/// A storage slot with its proof against the account's storage root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageProof {
    /// The key, as given.
    pub key: Bytes,
    /// The slot: a value or a tombstone (`None`: proven absent).
    pub value: Option<Slot>,
    /// Trie nodes from the storage root to the slot's leaf (or to where its path ends).
    pub proof: Vec<Bytes>,
}

fn corrupt_account(e: impl ToString) -> crate::Error {
    strata_storage::Error::Corrupt { column: strata_storage::Column::TrieNodes, reason: format!("account leaf: {}", e.to_string()) }.into()
}

fn corrupt_slot(e: impl ToString) -> crate::Error {
    strata_storage::Error::Corrupt { column: strata_storage::Column::TrieNodes, reason: format!("storage leaf: {}", e.to_string()) }.into()
}

impl HistoricalState {
    pub(crate) fn new(kv: SharedKv, root: B256, cache: Arc<NodeCache>) -> Self {
        Self { kv, root, cache }
    }

    fn nodes(&self) -> KvNodes<'_> {
        KvNodes { kv: &self.kv, cache: &self.cache }
    }

    /// The state root.
    pub fn root(&self) -> B256 {
        self.root
    }

    /// The account at `address` and its proof.
    pub fn account_proof(&self, address: &Address) -> Result<AccountProof> {
        let nodes = self.nodes();
        let proof = strata_trie::prove(&nodes, self.root, keccak256(address).as_slice())?;
        Ok(AccountProof { account: self.account(address)?, proof })
    }

    /// Storage values of `address` with proofs against its storage root.
    pub fn storage_proofs(&self, address: &Address, keys: &[Bytes]) -> Result<Vec<StorageProof>> {
        let nodes = self.nodes();
        let storage_root = self.account(address)?.map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
        keys.iter()
            .map(|key| {
                let path = keccak256(key);
                let proof = strata_trie::prove(&nodes, storage_root, path.as_slice())?;
                let value = read_slot(&Trie::new(storage_root), &nodes, path)?;
                Ok(StorageProof { key: key.clone(), value, proof })
            })
            .collect()
    }
}

fn read_slot(trie: &Trie, nodes: &KvNodes<'_>, path: B256) -> Result<Option<Slot>> {
    match trie.get(nodes, path.as_slice())? {
        None => Ok(None),
        Some(rlp) => Slot::decode(&rlp).map(Some).map_err(corrupt_slot),
    }
}

impl StateReader for HistoricalState {
    fn account(&self, address: &Address) -> Result<Option<Account>> {
        let nodes = self.nodes();
        match Trie::new(self.root).get(&nodes, keccak256(address).as_slice())? {
            None => Ok(None),
            Some(rlp) => decode_exact::<Account>(&rlp).map(Some).map_err(corrupt_account),
        }
    }

    fn slot(&self, address: &Address, key: &[u8]) -> Result<Option<Slot>> {
        let Some(account) = self.account(address)? else { return Ok(None) };
        read_slot(&Trie::new(account.storage_root), &self.nodes(), keccak256(key))
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>> {
        crate::db::read_code(&self.kv, code_hash)
    }
}
