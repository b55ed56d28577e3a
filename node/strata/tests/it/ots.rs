//! Otterscan's `ots_` methods against a dev node: the address index paged both ways in
//! whole blocks, a sender's transaction by nonce, a contract's creator, block details
//! and a block's transactions by page.

use serde_json::{Value, json};
use strata_node::{Node, dev_accounts};
use strata_primitives::{Address, Bytes, LocalSigner, TxKind, U256, deploy, hex, transaction::build};

use crate::Rpc;

async fn send(rpc: &Rpc, key: &LocalSigner, nonce: u64, to: TxKind, value: u64, input: Vec<u8>) -> Value {
    let tx = build::eip1559(1337, nonce, to, U256::from(value), Bytes::from(input), 2_000_000, 2_000_000_000, 0);
    let raw = key.sign_transaction(tx).unwrap().encoded();
    let hash = rpc.call("eth_sendRawTransaction", vec![json!(format!("0x{}", hex::encode(&raw)))]).await;
    rpc.wait_receipt(hash.as_str().unwrap()).await
}

fn blocks_of(page: &Value) -> Vec<u64> {
    page["txs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| u64::from_str_radix(t["blockNumber"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ots_address_index_and_block_pages() {
    let _machine = crate::share().await;
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(crate::dev_config(dir.path())).await.unwrap();
    let rpc = Rpc::new(&node.http_url());
    let keys = dev_accounts().unwrap();
    let (a, c) = (keys[0].signer.clone(), keys[1].signer.clone());
    let b = Address::repeat_byte(0xb0);

    // Block 1: a deploys a contract; blocks 2-6: a pays b; blocks 7-8: c pays b.
    let code = wat::parse_file(crate::repo("tests/wat/counter.wat")).unwrap();
    let number = |r: &Value| u64::from_str_radix(r["blockNumber"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    let r = send(&rpc, &a, 0, TxKind::Create, 0, deploy::encode(&code, b"owner")).await;
    let counter: Address = r["contractAddress"].as_str().unwrap().parse().unwrap();
    let deploy_hash = r["transactionHash"].clone();
    // The dev node mines each transaction in its own block: blk[0] the deploy, blk[1..=5]
    // a's transfers, blk[6..=7] c's.
    let mut blk = vec![number(&r)];
    let mut hashes = Vec::new();
    for n in 1..=5 {
        let r = send(&rpc, &a, n, TxKind::Call(b), 1, Vec::new()).await;
        blk.push(number(&r));
        hashes.push(r["transactionHash"].clone());
    }
    for n in 0..2 {
        blk.push(number(&send(&rpc, &c, n, TxKind::Call(b), 1, Vec::new()).await));
    }
    assert!(blk.windows(2).all(|w| w[0] < w[1]), "one block each: {blk:?}");

    assert_eq!(rpc.call("ots_getApiLevel", vec![]).await, json!(8));
    // Otterscan names blocks with plain JSON numbers.
    let header = rpc.call("erigon_getHeaderByNumber", vec![json!(blk[0])]).await;
    assert_eq!(header["transactionCount"], 1, "{header}");
    // Newest first, three at a time, down to the oldest.
    let p1 = rpc.call("ots_searchTransactionsBefore", vec![json!(b), json!(0), json!(3)]).await;
    assert_eq!(
        (blocks_of(&p1), p1["firstPage"].clone(), p1["lastPage"].clone()),
        (vec![blk[7], blk[6], blk[5]], json!(true), json!(false))
    );
    assert_eq!(p1["receipts"].as_array().unwrap().len(), 3);
    assert!(p1["receipts"][0]["timestamp"].is_number(), "{p1}");
    let p2 = rpc.call("ots_searchTransactionsBefore", vec![json!(b), json!(blk[5]), json!(3)]).await;
    assert_eq!((blocks_of(&p2), p2["lastPage"].clone()), (vec![blk[4], blk[3], blk[2]], json!(false)));
    let p3 = rpc.call("ots_searchTransactionsBefore", vec![json!(b), json!(blk[2]), json!(3)]).await;
    assert_eq!((blocks_of(&p3), p3["lastPage"].clone()), (vec![blk[1]], json!(true)));
    // Oldest first (each page shown newest first, as Otterscan does).
    let q1 = rpc.call("ots_searchTransactionsAfter", vec![json!(b), json!(0), json!(3)]).await;
    assert_eq!(
        (blocks_of(&q1), q1["firstPage"].clone(), q1["lastPage"].clone()),
        (vec![blk[3], blk[2], blk[1]], json!(false), json!(true))
    );
    let q2 = rpc.call("ots_searchTransactionsAfter", vec![json!(b), json!(blk[5]), json!(3)]).await;
    assert_eq!((blocks_of(&q2), q2["firstPage"].clone()), (vec![blk[7], blk[6]], json!(true)));
    // The sender's side: a's deploy and five transfers.
    let mine = rpc.call("ots_searchTransactionsBefore", vec![json!(a.address()), json!(0), json!(25)]).await;
    assert_eq!(blocks_of(&mine), blk[..6].iter().rev().copied().collect::<Vec<_>>());

    assert_eq!(rpc.call("ots_getTransactionBySenderAndNonce", vec![json!(a.address()), json!("0x3")]).await, hashes[2]);
    assert_eq!(rpc.call("ots_getTransactionBySenderAndNonce", vec![json!(a.address()), json!("0x9")]).await, Value::Null);
    let creator = rpc.call("ots_getContractCreator", vec![json!(counter)]).await;
    assert_eq!((creator["hash"].clone(), creator["creator"].clone()), (deploy_hash, json!(a.address())));
    assert_eq!(rpc.call("ots_getContractCreator", vec![json!(b)]).await, Value::Null);
    assert_eq!(rpc.call("ots_hasCode", vec![json!(counter), json!("latest")]).await, json!(true));
    assert_eq!(rpc.call("ots_hasCode", vec![json!(b), json!("latest")]).await, json!(false));
    assert_eq!(rpc.call("ots_getTransactionError", vec![hashes[0].clone()]).await, json!("0x"));

    let first = json!(format!("{:#x}", blk[0]));
    let details = rpc.call("ots_getBlockDetails", vec![json!(blk[0])]).await;
    assert_eq!(details["block"]["transactionCount"], 1, "{details}");
    assert!(details["block"].get("transactions").is_none());
    let r1 = rpc.call("eth_getBlockReceipts", vec![first.clone()]).await;
    let fee = u128::from_str_radix(r1[0]["gasUsed"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
        * u128::from_str_radix(r1[0]["effectiveGasPrice"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    assert_eq!(details["totalFees"], json!(format!("{fee:#x}")));
    let page = rpc.call("ots_getBlockTransactions", vec![first, json!(0), json!(10)]).await;
    assert_eq!(page["fullblock"]["transactions"].as_array().unwrap().len(), 1);
    assert_eq!(page["receipts"][0]["logs"], Value::Null);
    let err = rpc.try_call("ots_searchTransactionsBefore", vec![json!(b), json!(0), json!(0)]).await;
    assert!(err.is_err(), "a page of 0 is refused");
    node.stop().await;
}
