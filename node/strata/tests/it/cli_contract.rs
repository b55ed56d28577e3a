//! The contract CLI end to end: `strata contract build` an example, `deploy` it to a
//! dev node, `call` it, and read its events from the receipts over JSON-RPC.

use std::process::Command;

use serde_json::Value;
use strata_node::{Node, dev_accounts};
use strata_primitives::{Address, B256, U256, hex, keccak256};

fn strata(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_strata")).args(args).env("RUST_LOG", "warn").output().expect("run strata");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn selector(signature: &str) -> Vec<u8> {
    keccak256(signature.as_bytes())[..4].to_vec()
}

fn word(bytes: &[u8]) -> Vec<u8> {
    B256::left_padding_from(bytes).to_vec()
}

fn string_word(s: &str) -> Vec<u8> {
    let mut out = word(&U256::from(s.len()).to_be_bytes::<32>());
    let mut data = s.as_bytes().to_vec();
    data.resize(s.len().div_ceil(32) * 32, 0);
    out.extend(data);
    out
}

/// The committed ABI JSON of each system contract is what its committed Wasm carries,
/// so Ethereum clients calling `0x…1001`/`0x…1002` use the real interface.
#[test]
fn system_contract_abis_match_their_artifacts() {
    let dir = crate::repo("contracts/system/artifacts");
    for name in ["fee", "archive"] {
        let wasm = dir.join(format!("{name}.wasm"));
        let (ok, stdout, stderr) = strata(&["contract", "abi", wasm.to_str().unwrap()]);
        assert!(ok, "{stderr}");
        let printed: Value = serde_json::from_str(&stdout).unwrap();
        let committed: Value = serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.abi.json"))).unwrap()).unwrap();
        assert_eq!(printed, committed, "contracts/system/artifacts/{name}.abi.json is stale: regenerate it with `strata contract abi`");
        assert!(printed.as_array().unwrap().len() > 5);
    }
}

/// `strata contract new` makes a crate whose own harness test passes and which builds.
#[test]
fn new_contract_scaffold_tests_and_builds() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("my-counter");
    let (ok, stdout, stderr) = strata(&["contract", "new", dir.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("created contract crate"), "{stdout}");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let test = Command::new(cargo).args(["test", "--manifest-path"]).arg(dir.join("Cargo.toml")).output().unwrap();
    assert!(test.status.success(), "scaffold tests: {}", String::from_utf8_lossy(&test.stderr));
    let (ok, stdout, stderr) = strata(&["contract", "build", "--manifest-path", dir.join("Cargo.toml").to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("my_counter.abi.json"), "{stdout}");
    let abi: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("target/strata/my_counter.abi.json")).unwrap()).unwrap();
    assert!(abi.as_array().unwrap().iter().any(|e| e["name"] == "increment"));
    let (ok, _, stderr) = strata(&["contract", "new", dir.to_str().unwrap()]);
    assert!(!ok && stderr.contains("already exists"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_deploy_call_with_the_cli() {
    let out = tempfile::tempdir().unwrap();
    let manifest = crate::repo("contracts/examples/erc20/Cargo.toml");
    let (ok, stdout, stderr) =
        strata(&["contract", "build", "--manifest-path", manifest.to_str().unwrap(), "--out", out.path().to_str().unwrap()]);
    assert!(ok, "build failed: {stderr}");
    assert!(stdout.contains("erc20.wasm"), "{stdout}");
    let wasm = out.path().join("erc20.wasm");
    let record: Value = serde_json::from_str(&std::fs::read_to_string(out.path().join("erc20.build.json")).unwrap()).unwrap();
    let module = std::fs::read(&wasm).unwrap();
    assert_eq!(record["codeHash"], serde_json::json!(keccak256(&module)));
    assert_eq!(record["target"], "wasm32v1-none");
    // The deploy "bytecode" for Ethereum clients: framing + module; they append constructor args.
    let bin = std::fs::read_to_string(out.path().join("erc20.bin")).unwrap();
    assert_eq!(bin.trim(), format!("0x{}", hex::encode(strata_primitives::deploy::encode(&module, &[]))));
    // The ABI JSON, generated from the Rust signatures, is what Ethereum clients load.
    let abi: Value = serde_json::from_str(&std::fs::read_to_string(out.path().join("erc20.abi.json")).unwrap()).unwrap();
    let entry = |kind: &str, name: &str| abi.as_array().unwrap().iter().find(|e| e["type"] == kind && e["name"] == name).cloned();
    let transfer = entry("function", "transfer").expect("transfer in the ABI");
    assert_eq!(transfer["inputs"][0]["type"], "address");
    assert_eq!(transfer["outputs"][0]["type"], "bool");
    assert_eq!(entry("function", "balanceOf").unwrap()["stateMutability"], "view");
    assert_eq!(entry("function", "decimals").unwrap()["outputs"][0]["type"], "uint8");
    assert_eq!(entry("event", "Transfer").unwrap()["inputs"][0]["indexed"], true);
    assert!(entry("error", "InsufficientBalance").is_some());
    assert!(abi.as_array().unwrap().iter().any(|e| e["type"] == "constructor"));

    let dir = tempfile::tempdir().unwrap();
    let config = crate::dev_config(dir.path());
    let node = Node::start(config).await.unwrap();
    let rpc = node.http_url();
    let (alice, bob) = (dev_accounts().unwrap()[0].signer.address(), dev_accounts().unwrap()[1].signer.address());

    // Constructor: (string "Token", string "TOK", uint256 1000), ABI-encoded.
    let mut ctor = Vec::new();
    ctor.extend(word(&U256::from(96u64).to_be_bytes::<32>()));
    ctor.extend(word(&U256::from(160u64).to_be_bytes::<32>()));
    ctor.extend(word(&U256::from(1000u64).to_be_bytes::<32>()));
    ctor.extend(string_word("Token"));
    ctor.extend(string_word("TOK"));
    let args = format!("0x{}", hex::encode(&ctor));
    let (ok, stdout, stderr) = strata(&["contract", "deploy", wasm.to_str().unwrap(), "--args", &args, "--dev-key", "0", "--rpc", &rpc]);
    assert!(ok, "deploy failed: {stderr}\n{stdout}");
    let receipt: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(receipt["status"], "0x1");
    let token: Address = receipt["contractAddress"].as_str().unwrap().parse().unwrap();
    let transfer_topic = keccak256("Transfer(address,address,uint256)");
    assert_eq!(receipt["logs"][0]["topics"][0], serde_json::json!(transfer_topic), "mint emits Transfer");

    // transfer(bob, 250): the receipt's log is an Ethereum Transfer event.
    let mut call = selector("transfer(address,uint256)");
    call.extend(word(bob.as_slice()));
    call.extend(word(&U256::from(250u64).to_be_bytes::<32>()));
    let data = format!("0x{}", hex::encode(&call));
    let (ok, stdout, stderr) = strata(&["contract", "call", &token.to_string(), "--data", &data, "--dev-key", "0", "--rpc", &rpc]);
    assert!(ok, "call failed: {stderr}\n{stdout}");
    let receipt: Value = serde_json::from_str(&stdout).unwrap();
    let log = &receipt["logs"][0];
    assert_eq!(log["address"], serde_json::json!(token));
    assert_eq!(log["topics"][0], serde_json::json!(transfer_topic));
    assert_eq!(log["topics"][1], serde_json::json!(B256::left_padding_from(alice.as_slice())));
    assert_eq!(log["topics"][2], serde_json::json!(B256::left_padding_from(bob.as_slice())));
    assert_eq!(log["data"], serde_json::json!(format!("0x{}", hex::encode(U256::from(250u64).to_be_bytes::<32>()))));

    // balanceOf(bob) through --view (eth_call).
    let mut query = selector("balanceOf(address)");
    query.extend(word(bob.as_slice()));
    let (ok, stdout, _) =
        strata(&["contract", "call", &token.to_string(), "--view", "--data", &format!("0x{}", hex::encode(&query)), "--rpc", &rpc]);
    assert!(ok);
    assert_eq!(stdout.trim(), format!("0x{}", hex::encode(U256::from(250u64).to_be_bytes::<32>())));

    // Overspending fails with a non-zero exit and the revert data.
    let mut call = selector("transfer(address,uint256)");
    call.extend(word(alice.as_slice()));
    call.extend(word(&U256::from(1u64).to_be_bytes::<32>()));
    let (ok, stdout, stderr) = strata(&[
        "contract",
        "call",
        &token.to_string(),
        "--data",
        &format!("0x{}", hex::encode(&call)),
        "--dev-key",
        "2",
        "--gas",
        "200000",
        "--rpc",
        &rpc,
    ]);
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("transaction failed"), "{stderr}");
    node.stop().await;
}
