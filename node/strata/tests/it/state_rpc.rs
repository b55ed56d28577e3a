//! State over JSON-RPC: history within the retained window, pruning beyond it,
//! EIP-1186 proofs checked against block state roots, and block roots recomputed
//! from RPC data alone.

use alloy_primitives::{Address, Bytes, U256, hex};
use serde_json::{Value, json};
use strata_node::{DevConfig, Node, dev_accounts};
use strata_primitives::{B256, EMPTY_ROOT_HASH, TxKind, proof, rlp_item::RlpItem, transaction::build};
use strata_trie::{MemNodes, Trie};

use crate::rpc::{Rpc, hex_u128};

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn b256(v: &Value) -> B256 {
    v.as_str().unwrap().parse().unwrap()
}

fn proof_nodes(v: &Value) -> Vec<Bytes> {
    v.as_array().unwrap().iter().map(|n| Bytes::from(bytes(n))).collect()
}

/// Ethereum's ordered-trie root of `items`, built with strata-trie (the node uses
/// alloy-trie's `ordered_trie_root` for these, so this is a second implementation).
fn ordered_root(items: &[Vec<u8>]) -> B256 {
    let mut trie = Trie::empty();
    let store = MemNodes::default();
    for (i, item) in items.iter().enumerate() {
        trie.insert(&store, &alloy_rlp::encode(i), item.clone()).unwrap();
    }
    trie.commit().root
}

/// The EIP-2718 receipt encoding rebuilt from the JSON receipt.
fn receipt_encoding(r: &Value) -> Vec<u8> {
    let quantity = |v: &Value| {
        let n = hex_u128(v);
        let b = n.to_be_bytes();
        RlpItem::Bytes(b[b.iter().position(|x| *x != 0).unwrap_or(16)..].to_vec())
    };
    let logs = r["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            RlpItem::List(vec![
                RlpItem::Bytes(bytes(&l["address"])),
                RlpItem::List(l["topics"].as_array().unwrap().iter().map(|t| RlpItem::Bytes(bytes(t))).collect()),
                RlpItem::Bytes(bytes(&l["data"])),
            ])
        })
        .collect();
    let body = RlpItem::List(vec![
        quantity(&r["status"]),
        quantity(&r["cumulativeGasUsed"]),
        RlpItem::Bytes(bytes(&r["logsBloom"])),
        RlpItem::List(logs),
    ])
    .encoded();
    let ty = hex_u128(&r["type"]) as u8;
    if ty == 0 { body } else { [vec![ty], body].concat() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pruning_proofs_and_block_roots() {
    let _machine = crate::share().await;
    let dir = tempfile::tempdir().unwrap();
    let config = DevConfig { retain_blocks: 3, ..crate::dev_config(dir.path()) };
    let node = Node::start(config).await.unwrap();
    let rpc = Rpc::new(&node.http_url());
    let alice = dev_accounts().unwrap()[0].signer.clone();
    let bob = Address::repeat_byte(0xb0);

    // Five blocks, one transfer each; remember bob's balance after each.
    let mut after = Vec::new();
    for nonce in 0..5u64 {
        let tx = alice
            .sign_transaction(build::eip1559(
                1337,
                nonce,
                TxKind::Call(bob),
                U256::from(1000 + nonce),
                Bytes::new(),
                21_000,
                3_000_000_000,
                1_000_000_000,
            ))
            .unwrap();
        let raw = format!("0x{}", hex::encode(tx.encoded()));
        let hash = rpc.call("eth_sendRawTransaction", vec![raw.into()]).await;
        let r = rpc.wait_receipt(hash.as_str().unwrap()).await;
        after.push((r["blockNumber"].clone(), rpc.quantity("eth_getBalance", vec![json!(bob), "latest".into()]).await));
    }
    let head = rpc.quantity("eth_blockNumber", vec![]).await;
    assert_eq!(head, 5);

    // Within the window: the state as of that block.
    for (block, balance) in after.iter().skip(2) {
        assert_eq!(rpc.quantity("eth_getBalance", vec![json!(bob), block.clone()]).await, *balance, "block {block}");
    }
    let block3 = rpc.call("eth_getBlockByNumber", vec!["0x3".into(), false.into()]).await;
    assert_eq!(rpc.quantity("eth_getBalance", vec![json!(bob), json!({"blockHash": block3["hash"]})]).await, after[2].1);
    assert_eq!(rpc.quantity("eth_getTransactionCount", vec![json!(alice.address()), "0x4".into()]).await, 4);
    // Beyond it: a clear error, not a wrong answer.
    for old in ["0x1", "earliest"] {
        let err = rpc.try_call("eth_getBalance", vec![json!(bob), old.into()]).await.unwrap_err();
        assert_eq!(err.code, -32000);
        assert!(err.message.contains("pruned"), "{}", err.message);
    }
    let err = rpc.try_call("eth_getBalance", vec![json!(bob), "0x99".into()]).await.unwrap_err();
    assert!(err.message.contains("not found"), "{}", err.message);

    // EIP-1186 proofs, latest and historical, present and absent, verified against the header.
    let absent = Address::repeat_byte(0xcd);
    for (who, block) in [(alice.address(), "latest"), (bob, "0x4"), (absent, "latest"), (bob, "0x3")] {
        let header = rpc.call("eth_getBlockByNumber", vec![block.into(), false.into()]).await;
        let root = b256(&header["stateRoot"]);
        let p = rpc.call("eth_getProof", vec![json!(who), json!(["0x0", format!("0x{}", "01".repeat(32))]), block.into()]).await;
        let account = proof::verify_account(root, &who, &proof_nodes(&p["accountProof"])).unwrap();
        match account {
            Some(a) => {
                assert_eq!(U256::from(hex_u128(&p["balance"])), a.balance);
                assert_eq!(hex_u128(&p["nonce"]) as u64, a.nonce);
                assert_eq!(b256(&p["storageHash"]), a.storage_root);
                assert_eq!(b256(&p["codeHash"]), a.code_hash);
                assert_eq!(U256::from(hex_u128(&rpc.call("eth_getBalance", vec![json!(who), block.into()]).await)), a.balance);
            }
            None => {
                assert_eq!(who, absent);
                assert_eq!(hex_u128(&p["balance"]), 0);
                assert_eq!(b256(&p["storageHash"]), EMPTY_ROOT_HASH);
            }
        }
        for sp in p["storageProof"].as_array().unwrap() {
            assert_eq!(hex_u128(&sp["value"]), 0);
            let digits = sp["key"].as_str().unwrap().trim_start_matches("0x");
            let key: B256 = format!("{digits:0>64}").parse().unwrap();
            let leaf =
                proof::verify(b256(&p["storageHash"]), strata_primitives::keccak256(key).as_slice(), &proof_nodes(&sp["proof"])).unwrap();
            assert_eq!(leaf, None);
        }
    }
    assert_eq!(rpc.call("eth_getProof", vec![json!(bob), json!(["0x0"]), "latest".into()]).await["storageProof"][0]["key"], "0x0");
    let err = rpc.try_call("eth_getProof", vec![json!(bob), json!([]), "0x1".into()]).await.unwrap_err();
    assert!(err.message.contains("pruned"), "{}", err.message);
    let err = rpc.try_call("eth_getProof", vec![json!(bob), json!(["0xzz"]), "latest".into()]).await.unwrap_err();
    assert_eq!(err.code, -32602);
    let too_many: Vec<String> = (0..257).map(|i| format!("0x{i:x}")).collect();
    let err = rpc.try_call("eth_getProof", vec![json!(bob), json!(too_many), "latest".into()]).await.unwrap_err();
    assert_eq!(err.code, -32602);
    assert!(err.message.contains("at most 256"), "{}", err.message);
    let sp = rpc.call("strata_getProof", vec![json!(bob), json!(["0x68656c6c6f"]), "latest".into()]).await;
    assert!(sp["storageProof"][0]["value"].is_null());
    assert_eq!(sp["stateRoot"], rpc.call("eth_getBlockByNumber", vec!["latest".into(), false.into()]).await["stateRoot"]);
    assert_eq!(
        rpc.call("eth_getStorageAt", vec![json!(bob), "0x0".into(), "latest".into()]).await,
        json!(format!("0x{}", "00".repeat(32)))
    );
    assert_eq!(rpc.call("eth_getCode", vec![json!(bob), "latest".into()]).await, json!("0x"));

    // transactionsRoot and receiptsRoot recomputed from what RPC serves.
    for n in 1..=head {
        let block = rpc.call("eth_getBlockByNumber", vec![format!("0x{n:x}").into(), false.into()]).await;
        let mut txs = Vec::new();
        let mut receipts = Vec::new();
        for h in block["transactions"].as_array().unwrap() {
            txs.push(bytes(&rpc.call("eth_getRawTransactionByHash", vec![h.clone()]).await));
            receipts.push(receipt_encoding(&rpc.call("eth_getTransactionReceipt", vec![h.clone()]).await));
        }
        assert_eq!(ordered_root(&txs), b256(&block["transactionsRoot"]), "block {n}");
        assert_eq!(ordered_root(&receipts), b256(&block["receiptsRoot"]), "block {n}");
    }
    node.stop().await;
}
