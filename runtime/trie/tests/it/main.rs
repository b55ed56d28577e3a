//! Integration tests of strata-trie: Ethereum's trie vectors, all of them.

use std::collections::BTreeMap;

use serde_json::Value;
use strata_primitives::{B256, keccak256};
use strata_testdata::{bytes_of, cases};
use strata_trie::{MemNodes, Trie, prove};

fn run(file: &str, secure: bool) -> usize {
    let all = cases(&format!("ethereum-trie/{file}"));
    assert!(!all.is_empty(), "{file}: no cases");
    for (name, case) in &all {
        let hex_encoded = case.get("hexEncoded").and_then(Value::as_bool).unwrap_or(false);
        let decode = |s: &str| {
            if hex_encoded { strata_testdata::decode_hex(s.trim_start_matches("0x")) } else { bytes_of(s) }
        };
        let pairs: Vec<(Vec<u8>, Option<Vec<u8>>)> = match &case["in"] {
            Value::Array(items) => items.iter().map(|kv| (decode(kv[0].as_str().unwrap()), kv[1].as_str().map(decode))).collect(),
            Value::Object(map) => map.iter().map(|(k, v)| (decode(k), v.as_str().map(decode))).collect(),
            other => panic!("{file}/{name}: unexpected input {other}"),
        };
        let expected: B256 = case["root"].as_str().unwrap().parse().unwrap();
        // Apply in order, committing after every step, so stored-node paths are exercised too.
        let mut store = MemNodes::default();
        let mut trie = Trie::empty();
        let mut model = BTreeMap::new();
        for (k, v) in &pairs {
            let key = if secure { keccak256(k).to_vec() } else { k.clone() };
            match v {
                Some(v) if !v.is_empty() => {
                    trie.insert(&store, &key, v.clone()).unwrap();
                    model.insert(key, v.clone());
                }
                _ => {
                    trie.remove(&store, &key).unwrap();
                    model.remove(&key);
                }
            }
            let c = trie.commit();
            store.apply(&c);
        }
        let root = trie.commit().root;
        assert_eq!(root, expected, "{file}/{name}");
        // Any order gives the same root (the any-order files promise it; it must hold for all).
        let mut reversed = Trie::empty();
        for (k, v) in model.iter().rev() {
            reversed.insert(&MemNodes::default(), k, v.clone()).unwrap();
        }
        assert_eq!(reversed.root_hash(), expected, "{file}/{name} reversed");
        for (k, v) in &model {
            assert_eq!(trie.get(&store, k).unwrap().as_ref(), Some(v), "{file}/{name}: read back");
            let proof = prove(&store, root, k).unwrap();
            assert_eq!(strata_primitives::proof::verify(root, k, &proof).unwrap().as_ref(), Some(v), "{file}/{name}: proof");
        }
    }
    all.len()
}

#[test]
fn trietest_plain() {
    assert!(run("trietest.json", false) == 5);
}

#[test]
fn trietest_secure() {
    assert!(run("trietest_secureTrie.json", true) == 3);
}

#[test]
fn trieanyorder_plain() {
    assert!(run("trieanyorder.json", false) == 7);
}

#[test]
fn trieanyorder_secure() {
    assert!(run("trieanyorder_secureTrie.json", true) == 7);
}

#[test]
fn hex_encoded_secure() {
    assert!(run("hex_encoded_securetrie_test.json", true) == 3);
}
