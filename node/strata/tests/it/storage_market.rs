//! The storage market end to end through JSON-RPC on a real dev node: resource-priced
//! fees and their payouts, quotas, archive to the cold store, tombstone proofs, restore
//! from cold and from supplied bytes, purge at retention end — and all of it again
//! after a restart.

use std::time::Duration;

use alloy_sol_types::{SolCall, SolError, SolEvent, sol};
use serde_json::{Value, json};
use strata_chain::{FeeRecipient, FeeSplit, StorageClass};
use strata_node::{DevConfig, Node, dev_accounts};
use strata_primitives::{
    Address, B256, Bytes, LocalSigner, Slot, Tombstone, TxKind, U256, deploy, hex, keccak256, proof,
    system::{ARCHIVE_CONTRACT, FEE_CONTRACT},
    transaction::build,
};

use crate::{Rpc, rpc::hex_u128};

sol! {
    interface IKv {
        function set(bytes key, bytes value) external;
        function get(bytes key) external view returns (bytes);
        function storageKey(bytes key) external view returns (bytes);
        function setArchiver(address account, bool allowed) external;
        function archiveOwn(bytes[] keys, uint64 retentionSeconds) external returns (uint64, uint64);
    }
}

use strata_primitives::interfaces::{
    IArchive, IFee,
    ISystemOps::{ColdCopyPurged, HashMismatch},
};

const CHAIN_ID: u64 = 1337;
const GWEI: u128 = 1_000_000_000;

/// A client of the dev node: signs with the dev keys, remembers every receipt.
struct Client {
    rpc: Rpc,
    receipts: Vec<Value>,
}

impl Client {
    async fn send_raw(&mut self, raw: Vec<u8>) -> Value {
        let hash = self.rpc.call("eth_sendRawTransaction", vec![json!(format!("0x{}", hex::encode(raw)))]).await;
        let receipt = self.rpc.wait_receipt(hash.as_str().unwrap()).await;
        self.receipts.push(receipt.clone());
        receipt
    }

    async fn sign(&self, key: &LocalSigner, to: TxKind, input: Vec<u8>, gas: Option<u64>) -> Vec<u8> {
        let from = json!(key.address());
        let nonce = self.rpc.quantity("eth_getTransactionCount", vec![from.clone(), "pending".into()]).await as u64;
        let gas = match gas {
            Some(g) => g,
            None => {
                let mut req = json!({ "from": from, "data": format!("0x{}", hex::encode(&input)) });
                if let TxKind::Call(to) = to {
                    req["to"] = json!(to);
                }
                self.rpc.quantity("eth_estimateGas", vec![req]).await as u64
            }
        };
        let tx = build::eip1559(CHAIN_ID, nonce, to, U256::ZERO, input.into(), gas, 2 * GWEI, 0);
        key.sign_transaction(tx).unwrap().encoded().to_vec()
    }

    /// Sends a transaction with an estimated gas limit; it must succeed.
    async fn send(&mut self, key: &LocalSigner, to: TxKind, input: Vec<u8>) -> Value {
        let raw = self.sign(key, to, input, None).await;
        let r = self.send_raw(raw).await;
        assert_eq!(r["status"], "0x1", "{r}");
        r
    }

    /// Sends a transaction expected to fail; returns its receipt.
    async fn send_failing(&mut self, key: &LocalSigner, to: Address, input: Vec<u8>) -> Value {
        let raw = self.sign(key, TxKind::Call(to), input, Some(3_000_000)).await;
        let r = self.send_raw(raw).await;
        assert_eq!(r["status"], "0x0", "{r}");
        r
    }

    async fn view(&self, to: Address, input: Vec<u8>) -> Result<Vec<u8>, String> {
        let req = json!({ "to": to, "data": format!("0x{}", hex::encode(input)) });
        match self.rpc.try_call("eth_call", vec![req, "latest".into()]).await {
            Ok(v) => Ok(hex::decode(v.as_str().unwrap()).unwrap()),
            Err(e) => Err(e.message),
        }
    }

    async fn get(&self, kv: Address, key: &[u8]) -> Result<Vec<u8>, String> {
        let out = self.view(kv, IKv::getCall { key: key.to_vec().into() }.abi_encode()).await?;
        Ok(IKv::getCall::abi_decode_returns(&out).unwrap().to_vec())
    }

    async fn raw_key(&self, kv: Address, key: &[u8]) -> Bytes {
        let out = self.view(kv, IKv::storageKeyCall { key: key.to_vec().into() }.abi_encode()).await.unwrap();
        IKv::storageKeyCall::abi_decode_returns(&out).unwrap()
    }

    /// The tombstone at `raw` in `kv`'s storage, proven against the latest block's
    /// state root with the proof nodes alone.
    async fn proven_tombstone(&self, kv: Address, raw: &Bytes) -> Tombstone {
        let block = self.rpc.call("eth_getBlockByNumber", vec!["latest".into(), false.into()]).await;
        let state_root: B256 = block["stateRoot"].as_str().unwrap().parse().unwrap();
        let p = self.rpc.call("strata_getProof", vec![json!(kv), json!([raw]), block["number"].clone()]).await;
        let nodes = |v: &Value| v.as_array().unwrap().iter().map(|n| n.as_str().unwrap().parse::<Bytes>().unwrap()).collect::<Vec<_>>();
        let account = proof::verify_account(state_root, &kv, &nodes(&p["accountProof"])).unwrap().expect("contract account proven");
        let sp = &p["storageProof"][0];
        let leaf = proof::verify(account.storage_root, keccak256(raw).as_slice(), &nodes(&sp["proof"])).unwrap().expect("leaf proven");
        let Ok(Slot::Tombstone(t)) = Slot::decode(&leaf) else { panic!("leaf is not a tombstone: {sp}") };
        assert!(sp["value"].is_null(), "no live value: {sp}");
        assert_eq!(sp["tombstone"]["valueHash"], json!(t.value_hash));
        assert_eq!(sp["tombstone"]["purged"], json!(t.purged));
        t
    }

    async fn quota(&self, kv: Address) -> (u128, u128) {
        let q = self.rpc.call("strata_getStorageQuota", vec![json!(kv)]).await;
        assert_eq!(hex_u128(&q["quota"]) - hex_u128(&q["used"]), hex_u128(&q["remaining"]));
        (hex_u128(&q["quota"]), hex_u128(&q["used"]))
    }

    /// Sends a cheap transfer so the producer makes a block (purges run at block start).
    async fn tick(&mut self, key: &LocalSigner) {
        let nonce = self.rpc.quantity("eth_getTransactionCount", vec![json!(key.address()), "pending".into()]).await as u64;
        let tx =
            build::eip1559(CHAIN_ID, nonce, TxKind::Call(Address::repeat_byte(0x77)), U256::from(1u64), Bytes::new(), 30_000, 2 * GWEI, 0);
        let raw = key.sign_transaction(tx).unwrap().encoded().to_vec();
        self.send_raw(raw).await;
    }
}

fn selector_of(receipt: &Value) -> [u8; 4] {
    let data = hex::decode(receipt["revertData"].as_str().unwrap_or_else(|| panic!("no revert data: {receipt}"))).unwrap();
    data[..4].try_into().unwrap()
}

fn validators() -> Vec<FeeRecipient> {
    [(0xa1, StorageClass::Nvme), (0xa2, StorageClass::Ssd), (0xa3, StorageClass::Hdd)]
        .into_iter()
        .map(|(b, storage_class)| FeeRecipient { address: Address::repeat_byte(b), storage_class })
        .collect()
}

fn config(dir: &std::path::Path, cold: &std::path::Path) -> DevConfig {
    DevConfig {
        cold_dir: Some(cold.to_path_buf()),
        validators: validators(),
        fee_split: FeeSplit::BY_STORAGE_CLASS,
        ..crate::dev_config(dir)
    }
}

/// Every payout in `receipts` adds up to the fee charged, per receipt and in total,
/// and the validators' balances are exactly their payouts, weighted 3 : 2 : 1.
async fn check_payouts(c: &Client) {
    let mut charged_total = 0u128;
    let mut per_validator = std::collections::BTreeMap::<Address, u128>::new();
    for r in &c.receipts {
        let charged = hex_u128(&r["resources"]["fee"]["charged"]);
        assert_eq!(charged, hex_u128(&r["gasUsed"]) * hex_u128(&r["effectiveGasPrice"]), "{r}");
        let fee = &r["resources"]["fee"];
        let parts: u128 = ["compute", "network", "storage", "cold"].iter().map(|k| hex_u128(&fee[*k])).sum();
        assert_eq!(parts, hex_u128(&fee["total"]));
        assert!(charged >= parts && charged - parts < hex_u128(&r["effectiveGasPrice"]), "charged rounds the total up to a gas unit");
        let mut paid = 0u128;
        for p in r["payouts"].as_array().unwrap() {
            paid += hex_u128(&p["amount"]);
            *per_validator.entry(p["validator"].as_str().unwrap().parse().unwrap()).or_default() += hex_u128(&p["amount"]);
        }
        assert_eq!(paid, charged, "payouts of {} add up", r["transactionHash"]);
        charged_total += charged;
    }
    let mut balances = 0u128;
    for v in validators() {
        let balance = c.rpc.quantity("eth_getBalance", vec![json!(v.address), "latest".into()]).await;
        assert_eq!(Some(&balance), per_validator.get(&v.address), "validator {} balance = its payouts", v.address);
        balances += balance;
    }
    assert_eq!(balances, charged_total, "all fees charged went to the validators");
    // Per transaction NVMe gets ⌊3C/6⌋ plus the rounding remainder (< 3 wei), HDD ⌊C/6⌋.
    let nvme = per_validator[&Address::repeat_byte(0xa1)];
    let hdd = per_validator[&Address::repeat_byte(0xa3)];
    assert!(nvme >= 3 * hdd && nvme <= 3 * hdd + 5 * c.receipts.len() as u128, "NVMe earns 3× HDD: {nvme} vs {hdd}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_restore_quota_and_fees_through_rpc_and_after_restart() {
    let _machine = crate::share().await;
    let manifest = crate::repo("contracts/examples/kvstore");
    let wasm = tokio::task::spawn_blocking(move || strata_harness::build_contract(manifest.to_str().unwrap())).await.unwrap().unwrap();
    let (dir, cold) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let node = Node::start(config(dir.path(), cold.path())).await.unwrap();
    let mut c = Client { rpc: Rpc::new(&node.http_url()), receipts: Vec::new() };
    let keys = dev_accounts().unwrap();
    let (owner, stranger) = (keys[0].signer.clone(), keys[1].signer.clone());

    // Deploy: the deployer buys the code and the default quota.
    let r = c.send(&owner, TxKind::Create, deploy::encode(&wasm, &[])).await;
    let kv: Address = r["contractAddress"].as_str().unwrap().parse().unwrap();
    assert_eq!(hex_u128(&r["resources"]["storageBytesPaid"]), 4096 + wasm.len() as u128);
    assert!(hex_u128(&r["resources"]["fee"]["storage"]) > 0);
    let q = c.rpc.call("strata_getStorageQuota", vec![json!(kv)]).await;
    assert_eq!(q["owner"], json!(owner.address()));
    let (quota_bytes, owner_entry) = c.quota(kv).await;
    assert_eq!(quota_bytes, 4096);
    assert!(owner_entry > 20, "the constructor stored the owner: {owner_entry} bytes");

    // A quote for an unsigned call and for the signed transaction, then the real thing.
    let alpha = vec![0xaa; 1000];
    let set = |k: &[u8], v: &[u8]| IKv::setCall { key: k.to_vec().into(), value: v.to_vec().into() }.abi_encode();
    let unsigned = json!({ "from": owner.address(), "to": kv, "data": format!("0x{}", hex::encode(set(b"alpha", &alpha))) });
    let quote = c.rpc.call("strata_quoteFee", vec![unsigned]).await;
    assert_eq!(quote["success"], json!(true), "{quote}");
    let raw = c.sign(&owner, TxKind::Call(kv), set(b"alpha", &alpha), None).await;
    let signed_quote = c.rpc.call("strata_quoteFee", vec![json!(format!("0x{}", hex::encode(&raw)))]).await;
    let r = c.send_raw(raw).await;
    assert_eq!(r["status"], "0x1");
    assert_eq!(signed_quote["gasUsed"], r["gasUsed"], "the quote of a signed transaction is what it pays");
    assert_eq!(signed_quote["resources"]["fee"], r["resources"]["fee"]);
    assert!(hex_u128(&quote["resources"]["fee"]["compute"]) > 0 && hex_u128(&quote["resources"]["fee"]["network"]) > 0);
    let beta = b"beta value".to_vec();
    let gamma = b"gamma value, archived across a restart".to_vec();
    c.send(&owner, TxKind::Call(kv), set(b"beta", &beta)).await;
    c.send(&owner, TxKind::Call(kv), set(b"gamma", &gamma)).await;
    assert_eq!(c.get(kv, b"alpha").await.unwrap(), alpha);
    let (_, used_before) = c.quota(kv).await;
    let raw_alpha = c.raw_key(kv, b"alpha").await;
    assert_eq!(used_before, owner_entry + (raw_alpha.len() + alpha.len() + 5 + beta.len() + 6 + gamma.len()) as u128);

    // Nobody else may archive the contract's data.
    let archive = |keys: Vec<Bytes>, secs: u64| IArchive::archiveCall { target: kv, keys, retentionSeconds: secs }.abi_encode();
    let r = c.send_failing(&stranger, ARCHIVE_CONTRACT, archive(vec![raw_alpha.clone()], 3600)).await;
    assert_eq!(selector_of(&r), IArchive::NotAuthorised::SELECTOR);
    assert_eq!(c.get(kv, b"alpha").await.unwrap(), alpha);

    // Once the contract authorises it, the stranger archives: the receipt records it.
    c.send(&owner, TxKind::Call(kv), IKv::setArchiverCall { account: stranger.address(), allowed: true }.abi_encode()).await;
    let r = c.send(&stranger, TxKind::Call(ARCHIVE_CONTRACT), archive(vec![raw_alpha.clone()], 3600)).await;
    let log = r["logs"].as_array().unwrap().iter().find(|l| l["address"] == json!(ARCHIVE_CONTRACT)).expect("Archived event");
    let data = hex::decode(log["data"].as_str().unwrap()).unwrap();
    let topics: Vec<B256> = log["topics"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().parse().unwrap()).collect();
    let event = IArchive::Archived::decode_raw_log(topics, &data).unwrap();
    assert_eq!(
        (event.key.clone(), event.valueHash, event.size, event.payer),
        (raw_alpha.clone(), keccak256(&alpha), 1000, stranger.address())
    );
    assert!(hex_u128(&r["resources"]["coldByteSeconds"]) >= 1000 * 3600);
    assert!(hex_u128(&r["resources"]["fee"]["cold"]) > 0);
    assert_eq!(c.quota(kv).await.1, used_before - (raw_alpha.len() + alpha.len()) as u128, "archiving frees quota");

    // Reading it fails, naming the key and how to restore it; the tombstone is proven.
    let err = c.get(kv, b"alpha").await.unwrap_err();
    assert!(err.contains("is archived") && err.contains(&hex::encode(&raw_alpha)) && err.contains("restore("), "{err}");
    let t = c.proven_tombstone(kv, &raw_alpha).await;
    assert_eq!(
        (t.value_hash, t.size, t.retention_end, t.payer, t.purged),
        (event.valueHash, 1000, event.retentionEnd, stranger.address(), false)
    );

    // A third account may not restore (it would take the contract's quota and end the
    // retention it paid for); the owner may: the original value is back.
    let restore = |keys: Vec<Bytes>| IArchive::restoreCall { target: kv, keys }.abi_encode();
    let r = c.send_failing(&keys[2].signer, ARCHIVE_CONTRACT, restore(vec![raw_alpha.clone()])).await;
    assert_eq!(selector_of(&r), IArchive::NotAuthorised::SELECTOR);
    c.send(&owner, TxKind::Call(ARCHIVE_CONTRACT), restore(vec![raw_alpha.clone()])).await;
    assert_eq!(c.get(kv, b"alpha").await.unwrap(), alpha);
    assert_eq!(c.quota(kv).await.1, used_before);

    // The contract archives its own entry for 2 s; after that the cold copy is purged,
    // only the right bytes bring it back.
    let raw_beta = c.raw_key(kv, b"beta").await;
    c.send(&owner, TxKind::Call(kv), IKv::archiveOwnCall { keys: vec![b"beta".to_vec().into()], retentionSeconds: 2 }.abi_encode()).await;
    let t = c.proven_tombstone(kv, &raw_beta).await;
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    c.tick(&owner).await;
    while c.rpc.call("eth_getBlockByNumber", vec!["latest".into(), false.into()]).await["timestamp"]
        .as_str()
        .map(|s| u64::from_str_radix(&s[2..], 16).unwrap())
        .unwrap()
        < t.retention_end
    {
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.tick(&owner).await;
    }
    let purged = c.proven_tombstone(kv, &raw_beta).await;
    assert!(purged.purged, "the tombstone says the cold copy is gone");
    let r = c.send_failing(&stranger, ARCHIVE_CONTRACT, restore(vec![raw_beta.clone()])).await;
    assert_eq!(selector_of(&r), ColdCopyPurged::SELECTOR);
    let with =
        |v: &[u8]| IArchive::restoreWithDataCall { target: kv, keys: vec![raw_beta.clone()], values: vec![v.to_vec().into()] }.abi_encode();
    let r = c.send_failing(&stranger, ARCHIVE_CONTRACT, with(b"not the value")).await;
    assert_eq!(selector_of(&r), HashMismatch::SELECTOR);
    c.send(&stranger, TxKind::Call(ARCHIVE_CONTRACT), with(&beta)).await;
    assert_eq!(c.get(kv, b"beta").await.unwrap(), beta);

    // The price table is the admin's alone.
    let prices = IFee::setPricesCall {
        gasPrice: U256::from(GWEI),
        fuelPrice: U256::from(GWEI / 10),
        networkBytePrice: U256::from(16 * GWEI),
        storageBytePrice: U256::from(50 * GWEI),
        coldByteDayPrice: U256::from(GWEI / 10),
        defaultRetentionSeconds: 30 * 24 * 3600,
        defaultQuotaBytes: 4096,
    };
    let r = c.send_failing(&stranger, FEE_CONTRACT, prices.abi_encode()).await;
    assert_eq!(selector_of(&r), IFee::NotAdmin::SELECTOR);

    // A sender who cannot cover the fee is refused at admission, and nothing changes.
    let poor = LocalSigner::from_bytes(&keccak256(b"strata/test/poor")).unwrap();
    let block_before = c.rpc.quantity("eth_blockNumber", vec![]).await;
    let tx = build::eip1559(CHAIN_ID, 0, TxKind::Call(kv), U256::ZERO, set(b"x", b"y").into(), 200_000, 2 * GWEI, 0);
    let raw = poor.sign_transaction(tx).unwrap().encoded();
    let err = c.rpc.try_call("eth_sendRawTransaction", vec![json!(format!("0x{}", hex::encode(&raw)))]).await.unwrap_err();
    assert!(err.message.contains("insufficient funds") && err.message.contains("short by"), "{}", err.message);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(c.rpc.quantity("eth_getTransactionCount", vec![json!(poor.address()), "pending".into()]).await, 0);
    assert_eq!(c.rpc.quantity("eth_blockNumber", vec![]).await, block_before);
    assert!(c.rpc.call("eth_getTransactionByHash", vec![json!(keccak256(&raw))]).await.is_null());

    // Archive gamma, then restart: the tombstone, the cold copy and the quota survive.
    let raw_gamma = c.raw_key(kv, b"gamma").await;
    c.send(&stranger, TxKind::Call(ARCHIVE_CONTRACT), archive(vec![raw_gamma.clone()], 0)).await;
    let quota = c.quota(kv).await;
    check_payouts(&c).await;
    node.stop().await;

    let node = Node::start(config(dir.path(), cold.path())).await.unwrap();
    c.rpc = Rpc::new(&node.http_url());
    let t = c.proven_tombstone(kv, &raw_gamma).await;
    assert!(t.retention_end > 30 * 24 * 3600, "default retention from the fee contract");
    assert_eq!(c.quota(kv).await, quota);
    assert!(c.get(kv, b"gamma").await.unwrap_err().contains("is archived"));
    c.send(&stranger, TxKind::Call(ARCHIVE_CONTRACT), restore(vec![raw_gamma.clone()])).await;
    assert_eq!(c.get(kv, b"gamma").await.unwrap(), gamma, "restored from the cold store after a restart");
    assert_eq!(c.get(kv, b"alpha").await.unwrap(), alpha);
    // A prefix page: everything under "v" except what is archived already.
    let page =
        IArchive::archivePrefixCall { target: kv, prefix: b"v".to_vec().into(), startAfter: Bytes::new(), limit: 10, retentionSeconds: 60 };
    let r = c.send(&stranger, TxKind::Call(ARCHIVE_CONTRACT), page.abi_encode()).await;
    assert_eq!(r["logs"].as_array().unwrap().iter().filter(|l| l["address"] == json!(ARCHIVE_CONTRACT)).count(), 3);
    assert_eq!(c.quota(kv).await.1, owner_entry, "all entries archived");
    for k in [&b"alpha"[..], b"beta", b"gamma"] {
        assert!(c.get(kv, k).await.unwrap_err().contains("is archived"));
    }
    check_payouts(&c).await;
    node.stop().await;
}
