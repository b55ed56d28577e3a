//! `strata dev` end to end: transfers, fee arithmetic, rejections, restart.

use std::time::Duration;

use alloy_primitives::{Address, Bytes, U256, hex};
use serde_json::{Value, json};
use strata_node::{DevConfig, Node, dev_accounts};
use strata_primitives::{LocalSigner, TxKind, transaction::build};

use crate::rpc::{Rpc, hex_u128};

const CHAIN_ID: u64 = 1337;
const GWEI: u128 = 1_000_000_000;
const ETHER: u128 = 1_000_000_000_000_000_000;

fn config(dir: &std::path::Path) -> DevConfig {
    DevConfig { chain_id: CHAIN_ID, ..crate::dev_config(dir) }
}

fn raw_hex(tx: &strata_primitives::TransactionSigned) -> Value {
    Value::String(format!("0x{}", hex::encode(tx.encoded())))
}

fn eip1559(key: &LocalSigner, chain_id: u64, nonce: u64, to: Address, value: u128) -> strata_primitives::TransactionSigned {
    key.sign_transaction(build::eip1559(chain_id, nonce, TxKind::Call(to), U256::from(value), Bytes::new(), 21_000, 3 * GWEI, GWEI))
        .unwrap()
}

struct Snapshot {
    block: u128,
    balance: u128,
    nonce: u128,
    pending: u128,
}

async fn snapshot(rpc: &Rpc, who: Address) -> Snapshot {
    Snapshot {
        block: rpc.quantity("eth_blockNumber", vec![]).await,
        balance: rpc.quantity("eth_getBalance", vec![json!(who), "latest".into()]).await,
        nonce: rpc.quantity("eth_getTransactionCount", vec![json!(who), "latest".into()]).await,
        pending: rpc.quantity("eth_getTransactionCount", vec![json!(who), "pending".into()]).await,
    }
}

async fn expect_rejected(rpc: &Rpc, raw: Value, needle: &str, sender: Address) {
    let before = snapshot(rpc, sender).await;
    let err = rpc.try_call("eth_sendRawTransaction", vec![raw]).await.expect_err("must be rejected");
    assert_eq!(err.code, -32000, "{err:?}");
    assert!(err.message.contains(needle), "expected {needle:?} in {:?}", err.message);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = snapshot(rpc, sender).await;
    assert_eq!(
        (before.block, before.balance, before.nonce, before.pending),
        (after.block, after.balance, after.nonce, after.pending),
        "rejected tx changed state"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_fees_rejections_and_restart() {
    let _machine = crate::share().await;
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(config(dir.path())).await.unwrap();
    let rpc = Rpc::new(&node.http_url());
    let keys = dev_accounts().unwrap();
    let alice = keys[0].signer.clone();
    let recipient = Address::repeat_byte(0x42);

    assert_eq!(rpc.call("eth_chainId", vec![]).await, json!("0x539"));
    assert_eq!(rpc.call("net_version", vec![]).await, json!("1337"));
    assert!(rpc.call("web3_clientVersion", vec![]).await.as_str().unwrap().starts_with("strata/"));
    assert_eq!(rpc.quantity("eth_blockNumber", vec![]).await, 0);
    let start_balance = rpc.quantity("eth_getBalance", vec![json!(alice.address()), "latest".into()]).await;
    assert_eq!(start_balance, 10_000 * ETHER);
    let base_fee = hex_u128(&rpc.call("eth_getBlockByNumber", vec!["latest".into(), false.into()]).await["baseFeePerGas"]);
    let tip = rpc.quantity("eth_maxPriorityFeePerGas", vec![]).await;
    assert_eq!(rpc.quantity("eth_gasPrice", vec![]).await, base_fee + tip);
    assert_eq!(base_fee, GWEI, "the dev fee contract's gas price");

    // An EIP-1559 transfer: Strata charges the base fee (the fee contract's gas price),
    // never a tip; gas used is the quoted fee over that price.
    let tx1 = eip1559(&alice, CHAIN_ID, 0, recipient, ETHER);
    let hash1 = rpc.call("eth_sendRawTransaction", vec![raw_hex(&tx1)]).await;
    assert_eq!(hash1, json!(tx1.hash()));
    let r1 = rpc.wait_receipt(hash1.as_str().unwrap()).await;
    let price1 = base_fee;
    assert_eq!(tip, 0);
    assert_eq!(r1["status"], "0x1");
    assert_eq!(r1["type"], "0x2");
    let gas1 = hex_u128(&r1["gasUsed"]);
    assert_eq!(gas1, 10_000 + 16 * tx1.encoded().len() as u128, "fixed fuel + network bytes at the dev prices");
    assert_eq!(hex_u128(&r1["effectiveGasPrice"]), price1);
    assert_eq!(hex_u128(&r1["resources"]["fee"]["charged"]), gas1 * price1);
    let paid: u128 = r1["payouts"].as_array().unwrap().iter().map(|p| hex_u128(&p["amount"])).sum();
    assert_eq!(paid, gas1 * price1, "the validators' payouts add up to the fee");
    assert_eq!(r1["from"], json!(alice.address()));
    assert_eq!(r1["to"], json!(recipient));
    assert!(r1["contractAddress"].is_null());

    // A legacy (EIP-155) transfer.
    let gas_price = 3 * GWEI / 2;
    let tx2 = alice
        .sign_transaction(build::legacy(CHAIN_ID, 1, TxKind::Call(recipient), U256::from(2 * ETHER), Bytes::new(), 21_000, gas_price))
        .unwrap();
    let hash2 = rpc.call("eth_sendRawTransaction", vec![raw_hex(&tx2)]).await;
    let r2 = rpc.wait_receipt(hash2.as_str().unwrap()).await;
    assert_eq!(r2["type"], "0x0");
    assert_eq!(hex_u128(&r2["effectiveGasPrice"]), base_fee, "a legacy gas price above the base fee is not charged either");
    let gas2 = hex_u128(&r2["gasUsed"]);

    // Fee arithmetic: the sender paid value + gasUsed × effectiveGasPrice, exactly.
    let expected = start_balance - 3 * ETHER - gas1 * price1 - gas2 * base_fee;
    assert_eq!(rpc.quantity("eth_getBalance", vec![json!(alice.address()), "latest".into()]).await, expected);
    assert_eq!(rpc.quantity("eth_getBalance", vec![json!(recipient), "latest".into()]).await, 3 * ETHER);
    assert_eq!(rpc.quantity("eth_getTransactionCount", vec![json!(alice.address()), "latest".into()]).await, 2);

    // Lookups by hash and block.
    let t1 = rpc.call("eth_getTransactionByHash", vec![hash1.clone()]).await;
    assert_eq!(t1["blockHash"], r1["blockHash"]);
    assert_eq!(t1["from"], json!(alice.address()));
    assert_eq!(hex_u128(&t1["value"]), ETHER);
    assert_eq!(rpc.call("eth_getRawTransactionByHash", vec![hash2.clone()]).await, raw_hex(&tx2));
    let block = rpc.call("eth_getBlockByHash", vec![r2["blockHash"].clone(), true.into()]).await;
    assert_eq!(block["transactions"][0]["hash"], hash2);
    assert_eq!(block["number"], r2["blockNumber"]);
    let by_number = rpc.call("eth_getBlockByNumber", vec![r2["blockNumber"].clone(), false.into()]).await;
    assert_eq!(by_number["hash"], r2["blockHash"]);
    assert_eq!(by_number["transactions"][0], hash2);
    assert!(rpc.call("eth_getBlockByNumber", vec!["0xffff".into(), false.into()]).await.is_null());
    assert!(rpc.call("eth_getTransactionReceipt", vec![json!(format!("0x{}", "00".repeat(32)))]).await.is_null());

    // A nonce gap waits in the pool; filling it releases both.
    let tx4 = eip1559(&alice, CHAIN_ID, 3, recipient, 1);
    let hash4 = rpc.call("eth_sendRawTransaction", vec![raw_hex(&tx4)]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(rpc.call("eth_getTransactionReceipt", vec![hash4.clone()]).await.is_null());
    assert_eq!(rpc.quantity("eth_getTransactionCount", vec![json!(alice.address()), "pending".into()]).await, 2);
    assert!(rpc.call("eth_getTransactionByHash", vec![hash4.clone()]).await["blockHash"].is_null());
    let hash3 = rpc.call("eth_sendRawTransaction", vec![raw_hex(&eip1559(&alice, CHAIN_ID, 2, recipient, 1))]).await;
    rpc.wait_receipt(hash3.as_str().unwrap()).await;
    rpc.wait_receipt(hash4.as_str().unwrap()).await;
    assert_eq!(rpc.quantity("eth_getTransactionCount", vec![json!(alice.address()), "latest".into()]).await, 4);

    // Rejections: an error that names the reason, and nothing changes.
    let a = alice.address();
    expect_rejected(&rpc, raw_hex(&eip1559(&alice, 1, 4, recipient, 1)), "invalid chain id", a).await;
    expect_rejected(&rpc, raw_hex(&eip1559(&alice, CHAIN_ID, 0, recipient, 7)), "nonce too low", a).await;
    expect_rejected(&rpc, raw_hex(&eip1559(&alice, CHAIN_ID, 4, recipient, 20_000 * ETHER)), "insufficient funds", a).await;
    expect_rejected(&rpc, json!("0xdeadbeef"), "invalid transaction", a).await;
    expect_rejected(&rpc, json!("0x"), "invalid transaction", a).await;
    // A corrupted signature: either no key recovers, or a key that owns nothing does.
    let mut bad = eip1559(&alice, CHAIN_ID, 4, recipient, 1).encoded().to_vec();
    let n = bad.len();
    bad[n - 5] ^= 0xff;
    let err = rpc.try_call("eth_sendRawTransaction", vec![json!(format!("0x{}", hex::encode(&bad)))]).await.expect_err("bad signature");
    assert!(err.message.contains("invalid transaction signature") || err.message.contains("insufficient funds"), "{err:?}");
    // Malformed parameters are invalid params, not crashes.
    let err = rpc.try_call("eth_getBalance", vec!["0x1234".into(), "latest".into()]).await.unwrap_err();
    assert_eq!(err.code, -32602);
    let err = rpc.try_call("eth_getBlockByNumber", vec!["lastest".into(), false.into()]).await.unwrap_err();
    assert_eq!(err.code, -32602);
    let err = rpc.try_call("eth_sendRawTransaction", vec!["0xzz".into()]).await.unwrap_err();
    assert_eq!(err.code, -32602);
    let err = rpc.try_call("eth_noSuchMethod", vec![]).await.unwrap_err();
    assert_eq!(err.code, -32601);

    // Restart on the same directory: the same chain, balances, nonces and receipts.
    let before = snapshot(&rpc, a).await;
    let head_before = rpc.call("eth_getBlockByNumber", vec!["latest".into(), false.into()]).await;
    let receipt_before = rpc.call("eth_getTransactionReceipt", vec![hash1.clone()]).await;
    node.stop().await;
    let node = Node::start(config(dir.path())).await.unwrap();
    let rpc = Rpc::new(&node.http_url());
    let after = snapshot(&rpc, a).await;
    assert_eq!((before.block, before.balance, before.nonce), (after.block, after.balance, after.nonce));
    assert_eq!(rpc.call("eth_getBlockByNumber", vec!["latest".into(), false.into()]).await, head_before);
    assert_eq!(rpc.call("eth_getTransactionReceipt", vec![hash1.clone()]).await, receipt_before);
    assert_eq!(rpc.quantity("eth_getBalance", vec![json!(recipient), "latest".into()]).await, 3 * ETHER + 2);
    // And it keeps going.
    let hash5 = rpc.call("eth_sendRawTransaction", vec![raw_hex(&eip1559(&alice, CHAIN_ID, 4, recipient, 1))]).await;
    rpc.wait_receipt(hash5.as_str().unwrap()).await;
    node.stop().await;
}

/// One HTTP GET over a raw socket: (status code, body).
pub(crate) async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let code = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health_endpoints() {
    let _machine = crate::share().await;
    let dir = tempfile::tempdir().unwrap();
    let config = DevConfig { metrics_addr: Some("127.0.0.1:0".parse().unwrap()), ..config(dir.path()) };
    let node = Node::start(config).await.unwrap();
    let rpc = Rpc::new(&node.http_url());
    let alice = dev_accounts().unwrap()[0].signer.clone();
    let tx = eip1559(&alice, CHAIN_ID, 0, Address::repeat_byte(0x42), 1);
    let hash = rpc.call("eth_sendRawTransaction", vec![raw_hex(&tx)]).await;
    rpc.wait_receipt(hash.as_str().unwrap()).await;
    let addr = node.metrics_addr().unwrap();
    let (code, body) = http_get(addr, "/metrics").await;
    assert_eq!(code, 200);
    assert!(body.contains("strata_block_height 1"), "{body}");
    assert!(body.contains("strata_block_transactions 1"));
    assert!(body.contains("strata_mempool_transactions 0"));
    assert!(body.contains("strata_consensus_view 0"));
    assert!(body.contains("strata_rpc_request_duration_seconds_count{method=\"eth_sendRawTransaction\"} 1"), "{body}");
    let (code, body) = http_get(addr, "/health").await;
    assert_eq!(code, 200, "a lone validator is healthy");
    assert!(body.contains("\"height\":1"), "{body}");
    assert_eq!(http_get(addr, "/nope").await.0, 404);
    node.stop().await;
}

/// Raw HTTP request; the whole response as text.
async fn http_raw(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 8192];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await.unwrap().unwrap();
    String::from_utf8_lossy(&buf[..n]).to_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_for_browser_dapps_is_configurable() {
    let _machine = crate::share().await;
    let dir = tempfile::tempdir().unwrap();
    let config = DevConfig { cors: Some(vec!["https://app.example".into()]), ..config(dir.path()) };
    let node = Node::start(config).await.unwrap();
    let addr = node.rpc_addr();
    let preflight = |origin: &str| {
        format!(
            "OPTIONS / HTTP/1.1\r\nhost: x\r\norigin: {origin}\r\naccess-control-request-method: POST\r\naccess-control-request-headers: content-type\r\ncontent-length: 0\r\n\r\n"
        )
    };
    let ok = http_raw(addr, &preflight("https://app.example")).await;
    assert!(ok.starts_with("http/1.1 204") && ok.contains("access-control-allow-origin: https://app.example"), "{ok}");
    assert!(ok.contains("access-control-allow-headers: content-type"));
    let refused = http_raw(addr, &preflight("https://evil.example")).await;
    assert!(refused.starts_with("http/1.1 403") && !refused.contains("access-control-allow-origin"), "{refused}");
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
    let post = format!(
        "POST / HTTP/1.1\r\nhost: x\r\norigin: https://app.example\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let answer = http_raw(addr, &post).await;
    assert!(answer.contains("access-control-allow-origin: https://app.example") && answer.contains("0x539"), "{answer}");
    node.stop().await;
}

/// The explorer is served beside JSON-RPC on the same port (GET, with its security
/// headers and ETag revalidation), and not at all when switched off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_is_served_on_the_rpc_port_unless_switched_off() {
    let _machine = crate::share().await;
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(config(&dir.path().join("on"))).await.unwrap();
    let addr = node.rpc_addr();
    let page = http_raw(addr, "GET /explorer/ HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(page.starts_with("http/1.1 200") && page.contains("content-type: text/html"), "{page}");
    assert!(page.contains("content-security-policy: default-src 'none'") && page.contains("x-content-type-options: nosniff"), "{page}");
    let etag = page.lines().find_map(|l| l.strip_prefix("etag: ")).expect("an etag").trim().to_string();
    let again = http_raw(addr, &format!("GET /explorer/ HTTP/1.1\r\nhost: x\r\nif-none-match: W/{etag}\r\n\r\n")).await;
    assert!(again.starts_with("http/1.1 304"), "{again}");
    let wasm = http_raw(addr, "HEAD /explorer/sdk/pkg/strata_verify_bg.wasm HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(wasm.starts_with("http/1.1 200") && wasm.contains("content-type: application/wasm"), "{wasm}");
    assert!(http_raw(addr, "GET /explorer/nope HTTP/1.1\r\nhost: x\r\n\r\n").await.starts_with("http/1.1 404"));
    // JSON-RPC on the same port is untouched.
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
    let post = format!("POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
    assert!(http_raw(addr, &post).await.contains(&format!("{CHAIN_ID:#x}")));
    node.stop().await;

    let off = DevConfig { explorer: false, ..config(&dir.path().join("off")) };
    let node = Node::start(off).await.unwrap();
    let page = http_raw(node.rpc_addr(), "GET /explorer/ HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(!page.starts_with("http/1.1 200") && !page.contains("text/html"), "{page}");
    node.stop().await;
}
