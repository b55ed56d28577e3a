use std::collections::BTreeMap;

use strata_primitives::{Account, Address, B256, Bytes, EMPTY_ROOT_HASH, Slot, Tombstone, U256, keccak256, proof};
use strata_storage::{Column, MemKv, SharedKv, WriteBatch};

use crate::{StateChanges, StateDb, StateReader, flat_state_root};

use strata_testdata::Rng;

fn commit(db: &StateDb, kv: &SharedKv, number: u64, parent: B256, changes: &StateChanges) -> B256 {
    let mut batch = WriteBatch::new();
    let root = db.commit(number, parent, changes, &mut batch).unwrap();
    kv.write(batch).unwrap();
    root
}

fn addr(i: u64) -> Address {
    Address::from_slice(&keccak256(i.to_be_bytes())[12..])
}

#[test]
fn empty_state_has_empty_root() {
    let kv = MemKv::shared();
    assert_eq!(flat_state_root(&kv).unwrap(), EMPTY_ROOT_HASH);
    let db = StateDb::new(kv.clone(), 4);
    assert_eq!(commit(&db, &kv, 0, EMPTY_ROOT_HASH, &StateChanges::default()), EMPTY_ROOT_HASH);
}

#[test]
fn accounts_and_storage_commit_read_and_prove() {
    let kv = MemKv::shared();
    let db = StateDb::new(kv.clone(), 8);
    let mut changes = StateChanges::default();
    for i in 0..50 {
        changes.accounts.insert(addr(i), Some(Account::with_balance(U256::from(i + 1))));
    }
    let contract = addr(7);
    let slots = changes.storage.entry(contract).or_default();
    slots.insert(Bytes::from_static(b"counter"), Some(Slot::Value(Bytes::from_static(&[5]))));
    slots.insert(Bytes::from(vec![0u8; 32]), Some(Slot::Value(Bytes::from(vec![0xab; 100]))));
    let root = commit(&db, &kv, 0, EMPTY_ROOT_HASH, &changes);
    assert_eq!(flat_state_root(&kv).unwrap(), root, "independent recomputation");
    let stored = db.account(&contract).unwrap().unwrap();
    assert_ne!(stored.storage_root, EMPTY_ROOT_HASH);
    assert_eq!(db.storage(&contract, b"counter").unwrap(), Some(vec![5]));

    let at = db.at_root(root);
    assert_eq!(at.account(&contract).unwrap(), Some(stored));
    assert_eq!(at.storage(&contract, b"counter").unwrap(), Some(vec![5]));
    let ap = at.account_proof(&contract).unwrap();
    assert_eq!(proof::verify_account(root, &contract, &ap.proof).unwrap(), Some(stored));
    let absent = addr(1_000);
    let ap = at.account_proof(&absent).unwrap();
    assert_eq!(ap.account, None);
    assert_eq!(proof::verify_account(root, &absent, &ap.proof).unwrap(), None);
    let keys = [Bytes::from_static(b"counter"), Bytes::from_static(b"nope")];
    for sp in at.storage_proofs(&contract, &keys).unwrap() {
        let leaf = proof::verify(stored.storage_root, keccak256(&sp.key).as_slice(), &sp.proof).unwrap();
        assert_eq!(leaf, sp.value.as_ref().map(Slot::encode));
    }

    // Delete a slot and change a balance: new root, old root still readable.
    let mut next = StateChanges::default();
    next.storage.entry(contract).or_default().insert(Bytes::from_static(b"counter"), None);
    next.accounts.insert(addr(3), Some(Account::with_balance(U256::from(999u64))));
    let root2 = commit(&db, &kv, 1, root, &next);
    assert_ne!(root2, root);
    assert_eq!(flat_state_root(&kv).unwrap(), root2);
    assert_eq!(db.storage(&contract, b"counter").unwrap(), None);
    assert_eq!(db.at_root(root).storage(&contract, b"counter").unwrap(), Some(vec![5]));
    assert_eq!(db.at_root(root2).storage(&contract, b"counter").unwrap(), None);
    assert_eq!(db.at_root(root).account(&addr(3)).unwrap().unwrap().balance, U256::from(4u64));
    let page = db.storage_scan(&contract, &[], None, 10).unwrap();
    assert_eq!(page.len(), 1);
}

#[test]
fn tombstones_are_committed_proven_and_scanned() {
    let kv = MemKv::shared();
    let db = StateDb::new(kv.clone(), 8);
    let contract = addr(1);
    let mut changes = StateChanges::default();
    changes.accounts.insert(contract, Some(Account::default()));
    let slots = changes.storage.entry(contract).or_default();
    for k in [&b"a1"[..], b"a2", b"a3", b"b1"] {
        slots.insert(Bytes::copy_from_slice(k), Some(Slot::Value(Bytes::copy_from_slice(k))));
    }
    let root = commit(&db, &kv, 0, EMPTY_ROOT_HASH, &changes);
    let t = Tombstone { value_hash: keccak256(b"a2"), size: 2, retention_end: 50, payer: addr(2), purged: false };
    let mut next = StateChanges::default();
    next.storage.entry(contract).or_default().insert(Bytes::from_static(b"a2"), Some(Slot::Tombstone(t)));
    let root2 = commit(&db, &kv, 1, root, &next);
    assert_eq!(flat_state_root(&kv).unwrap(), root2, "tombstone leaves match an independent root");
    assert_eq!(db.storage(&contract, b"a2").unwrap(), None, "an archived key has no live value");
    assert_eq!(db.slot(&contract, b"a2").unwrap(), Some(Slot::Tombstone(t)));
    let at = db.at_root(root2);
    let storage_root = at.account(&contract).unwrap().unwrap().storage_root;
    let sp = &at.storage_proofs(&contract, &[Bytes::from_static(b"a2")]).unwrap()[0];
    let leaf = proof::verify(storage_root, keccak256(b"a2").as_slice(), &sp.proof).unwrap().unwrap();
    assert_eq!(Slot::decode(&leaf).unwrap(), Slot::Tombstone(t));

    let keys = |page: Vec<(Bytes, Slot)>| page.into_iter().map(|(k, _)| k.to_vec()).collect::<Vec<_>>();
    assert_eq!(keys(db.storage_scan(&contract, b"a", None, 10).unwrap()), vec![b"a1".to_vec(), b"a2".to_vec(), b"a3".to_vec()]);
    assert_eq!(keys(db.storage_scan(&contract, b"a", Some(b"a1"), 1).unwrap()), vec![b"a2".to_vec()]);
    // Through an overlay: a deletion hides, an insertion appears in order.
    let mut overlay = crate::Overlay::new(&db);
    overlay.set_storage(contract, Bytes::from_static(b"a1"), None);
    overlay.set_storage(contract, Bytes::from_static(b"a25"), Some(Bytes::from_static(b"x")));
    assert_eq!(keys(overlay.storage_scan(&contract, b"a", None, 10).unwrap()), vec![b"a2".to_vec(), b"a25".to_vec(), b"a3".to_vec()]);
    assert_eq!(keys(overlay.storage_scan(&contract, b"a", Some(b"a2"), 1).unwrap()), vec![b"a25".to_vec()]);
    assert!(at.storage_scan(&contract, b"", None, 1).is_err(), "a past trie has no raw keys");
}

/// Per account: balance and storage.
type Model = BTreeMap<Address, (u64, BTreeMap<Vec<u8>, Vec<u8>>)>;

fn trie_node_count(kv: &SharedKv) -> usize {
    let mut n = 0;
    kv.for_each_prefix(Column::TrieNodes, &[], &mut |_, _| {
        n += 1;
        true
    })
    .unwrap();
    n
}

/// Random blocks of account and storage changes with a small window: every root
/// in the window reads back exactly its block's state, roots behind it are pruned,
/// and the node count stays bounded instead of growing with history.
#[test]
fn pruning_keeps_the_window_and_drops_the_rest() {
    let (mut rng, seed) = Rng::from_env(0x5eed_1234);
    let retain = 4u64;
    let kv = MemKv::shared();
    let db = StateDb::new(kv.clone(), retain);
    let archive_kv = MemKv::shared();
    let archive = StateDb::new(archive_kv.clone(), u64::MAX);
    let mut model: Model = BTreeMap::new();
    let mut history: Vec<(B256, Model)> = Vec::new();
    let mut root = EMPTY_ROOT_HASH;
    for number in 0..60u64 {
        let mut changes = StateChanges::default();
        for _ in 0..(1 + rng.next() % 20) {
            let a = addr(rng.next() % 30);
            let entry = model.entry(a).or_default();
            if rng.next().is_multiple_of(3) {
                let key = (rng.next() % 8).to_be_bytes().to_vec();
                if rng.next().is_multiple_of(4) {
                    entry.1.remove(&key);
                    changes.storage.entry(a).or_default().insert(key.into(), None);
                } else {
                    let value = vec![(rng.next() % 255 + 1) as u8; 1 + (rng.next() % 40) as usize];
                    entry.1.insert(key.clone(), value.clone());
                    changes.storage.entry(a).or_default().insert(key.into(), Some(Slot::Value(value.into())));
                }
            }
            entry.0 = rng.next() % 1_000;
            changes.accounts.insert(a, Some(Account::with_balance(U256::from(entry.0))));
        }
        let parent = root;
        root = commit(&db, &kv, number, parent, &changes);
        assert_eq!(commit(&archive, &archive_kv, number, parent, &changes), root);
        history.push((root, model.clone()));
        assert_eq!(flat_state_root(&kv).unwrap(), root, "seed {seed} block {number}");
        // Everything in the window reads back exactly.
        for (age, (r, snapshot)) in history.iter().rev().take(retain as usize).enumerate() {
            let at = db.at_root(*r);
            for (a, (balance, slots)) in snapshot {
                let acct = at.account(a).unwrap().unwrap_or_else(|| panic!("seed {seed}: {a} missing {age} blocks back"));
                assert_eq!(acct.balance, U256::from(*balance));
                for (k, v) in slots {
                    assert_eq!(at.storage(a, k).unwrap().as_ref(), Some(v), "seed {seed}");
                }
            }
        }
    }
    // Roots behind the window are gone from the store (read through a fresh StateDb:
    // the node cache may still hold them, and content-addressed nodes are never wrong).
    let (old, _) = &history[0];
    let fresh = StateDb::new(kv.clone(), retain);
    assert!(matches!(fresh.at_root(*old).account(&addr(0)), Err(crate::Error::Trie(strata_trie::Error::MissingNode(_)))));
    let (recent, _) = history.last().unwrap();
    assert!(fresh.at_root(*recent).account(&addr(0)).is_ok());
    // The archive keeps them, and holds far more nodes than the window needs.
    assert!(archive.at_root(*old).account(&addr(0)).is_ok());
    let (kept, archived) = (trie_node_count(&kv), trie_node_count(&archive_kv));
    println!("trie nodes: pruned {kept}, archive {archived}");
    assert!(kept * 2 < archived, "pruned {kept} vs archive {archived}");
}
