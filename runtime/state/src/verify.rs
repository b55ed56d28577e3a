//! Independent recomputation of the state root from the flat view.

use strata_primitives::{Account, Address, B256, EMPTY_ROOT_HASH, keccak256, rlp_item::decode_exact};
use strata_storage::{Column, SharedKv};

use crate::Result;

fn hash_builder_root(mut leaves: Vec<(B256, Vec<u8>)>) -> B256 {
    if leaves.is_empty() {
        return EMPTY_ROOT_HASH;
    }
    leaves.sort_unstable_by_key(|leaf| leaf.0);
    let mut hb = alloy_trie::HashBuilder::default();
    for (k, v) in &leaves {
        hb.add_leaf(alloy_trie::Nibbles::unpack(k), v);
    }
    hb.root()
}

/// Recomputes the state root from the flat columns alone with `alloy-trie`'s
/// `HashBuilder` — an implementation independent of `strata-trie` — checking every
/// account's storage root on the way. `O(state)`: a verification tool (crash tests,
/// audits, benchmarks), never on the block path.
pub fn flat_state_root(kv: &SharedKv) -> Result<B256> {
    let mut accounts: Vec<(Address, Account)> = Vec::new();
    let mut bad = None;
    kv.for_each_prefix(Column::Accounts, &[], &mut |k, v| match (k.len(), decode_exact::<Account>(v)) {
        (20, Ok(a)) => {
            accounts.push((Address::from_slice(k), a));
            true
        }
        _ => {
            bad = Some(format!("bad flat account entry {k:02x?}"));
            false
        }
    })?;
    if let Some(reason) = bad {
        return Err(strata_storage::Error::Corrupt { column: Column::Accounts, reason }.into());
    }
    let mut leaves = Vec::with_capacity(accounts.len());
    for (address, account) in accounts {
        let mut slots = Vec::new();
        kv.for_each_prefix(Column::Storage, address.as_slice(), &mut |k, v| {
            slots.push((keccak256(&k[20..]), v.to_vec()));
            true
        })?;
        let storage_root = hash_builder_root(slots);
        if storage_root != account.storage_root {
            let reason = format!("account {address}: storage root {} but flat storage gives {storage_root}", account.storage_root);
            return Err(strata_storage::Error::Corrupt { column: Column::Storage, reason }.into());
        }
        leaves.push((keccak256(address), alloy_rlp::encode(account)));
    }
    Ok(hash_builder_root(leaves))
}
