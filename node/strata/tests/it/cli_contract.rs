//! The contract CLI end to end: the README's walkthrough run by a copied binary outside
//! the checkout; `strata contract build` an example, `deploy` it with typed constructor
//! arguments, `call` it by name and by signature, decode its events and custom errors,
//! `verify` the deployed code against its source;
//! `strata tx` transfers and queries, signed by every kind of key.

use std::process::Command;

use serde_json::Value;
use strata_node::{Node, dev_accounts};
use strata_primitives::{Address, B256, U256, hex, keccak256};

fn strata(args: &[&str]) -> (bool, String, String) {
    strata_env(args, &[])
}

/// Runs the binary off the async threads (it talks to a node in this process).
async fn strata_async(args: &[&str]) -> (bool, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || strata(&args.iter().map(String::as_str).collect::<Vec<_>>())).await.unwrap()
}

fn strata_env(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("STRATA_RPC_URL")
        .env_remove("STRATA_PRIVATE_KEY")
        .envs(env.iter().copied())
        .output()
        .expect("run strata");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn selector(signature: &str) -> Vec<u8> {
    keccak256(signature.as_bytes())[..4].to_vec()
}

fn word(bytes: &[u8]) -> Vec<u8> {
    B256::left_padding_from(bytes).to_vec()
}

/// The committed ABI JSON of each system contract is what its committed Wasm carries,
/// so Ethereum clients calling `0x…1001`/`0x…1002` use the real interface.
#[test]
fn system_contract_abis_match_their_artifacts() {
    let _machine = crate::share_blocking();
    let dir = crate::repo("runtime/executor/system-contracts");
    for name in ["fee", "archive", "registry"] {
        let wasm = dir.join(format!("{name}.wasm"));
        let (ok, stdout, stderr) = strata(&["contract", "abi", wasm.to_str().unwrap()]);
        assert!(ok, "{stderr}");
        let printed: Value = serde_json::from_str(&stdout).unwrap();
        let committed: Value = serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.abi.json"))).unwrap()).unwrap();
        assert_eq!(
            printed, committed,
            "runtime/executor/system-contracts/{name}.abi.json is stale: regenerate it with `strata contract abi`"
        );
        assert!(printed.as_array().unwrap().len() > 5);
    }
}

/// The README's contract walkthrough, run as written by the `strata` binary copied
/// outside the checkout, with a fresh HOME and cargo offline: the new crate depends on
/// the SDK the binary unpacks (never on this checkout), builds from the shipped lock and
/// cargo's cache, and every command works against a dev node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_walkthrough_runs_outside_the_checkout() {
    let _machine = crate::share().await;
    let readme = std::fs::read_to_string(crate::repo("README.md")).unwrap();
    let block = readme
        .split("<!-- walkthrough:start -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- walkthrough:end -->").next())
        .expect("the README marks its walkthrough");
    let script = block.trim().strip_prefix("```sh").and_then(|b| b.strip_suffix("```")).expect("the walkthrough is one sh block");
    let root = tempfile::tempdir().unwrap();
    let (bin_dir, home, work) = (root.path().join("bin"), root.path().join("home"), root.path().join("work"));
    for d in [&bin_dir, &home, &work] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::copy(env!("CARGO_BIN_EXE_strata"), bin_dir.join("strata")).unwrap();
    let node = Node::start(crate::dev_config(&root.path().join("chain"))).await.unwrap();
    let real_home = std::env::var("HOME").unwrap_or_default();
    let cargo_home = std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{real_home}/.cargo"));
    let rustup_home = std::env::var("RUSTUP_HOME").unwrap_or_else(|_| format!("{real_home}/.rustup"));
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut command = std::process::Command::new("bash");
    command
        .args(["-euo", "pipefail", "-x", "-c", script])
        .current_dir(&work)
        .env("HOME", &home)
        .env("PATH", path)
        .env("CARGO_HOME", cargo_home)
        .env("RUSTUP_HOME", rustup_home)
        .env("CARGO_NET_OFFLINE", "true")
        .env("STRATA_RPC_URL", node.http_url())
        .env("RUST_LOG", "warn")
        .env_remove("STRATA_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("RUSTFLAGS");
    let out = tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(
        out.status.success(),
        "the README walkthrough failed (offline: cargo's cache must hold the contracts' crates; any build of contracts/ fills it)\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    // The scaffold names the unpacked SDK under the fresh HOME, nothing in this checkout.
    let manifest = std::fs::read_to_string(work.join("my-counter/Cargo.toml")).unwrap();
    let checkout = crate::repo("").canonicalize().unwrap();
    assert!(!manifest.contains(checkout.to_str().unwrap()), "{manifest}");
    let sdk_root = home.join(".local/share/strata/sdk");
    assert!(manifest.contains(sdk_root.to_str().unwrap()), "{manifest}");
    assert!(std::fs::read_dir(&sdk_root).unwrap().flatten().any(|d| d.path().join("sdk/strata-sdk/Cargo.toml").is_file()));
    // What each command printed.
    let dev0 = dev_accounts().unwrap()[0].signer.address().to_checksum(None);
    assert!(stdout.contains(&format!("Counted(by: {dev0}, value: 1)")), "{stdout}");
    assert!(stdout.lines().any(|l| l.trim() == "2"), "count() printed 2:\n{stdout}");
    assert!(stderr.contains("TooHigh(max: 2)") && stdout.contains("refused as expected"), "{stderr}");
    assert!(stdout.contains(" ETH"), "{stdout}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_deploy_call_with_the_typed_cli() {
    let _machine = crate::share().await;
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
    let abi_file = out.path().join("erc20.abi.json");
    let abi: Value = serde_json::from_str(&std::fs::read_to_string(&abi_file).unwrap()).unwrap();
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
    let node = Node::start(crate::dev_config(dir.path())).await.unwrap();
    let rpc = node.http_url();
    let accounts = dev_accounts().unwrap();
    let (alice, bob) = (accounts[0].signer.address(), accounts[1].signer.address());
    let (alice_s, bob_s) = (alice.to_string(), bob.to_string());

    // Typed constructor arguments; --json gives the raw receipt.
    let w = wasm.to_str().unwrap();
    let (ok, stdout, stderr) =
        strata_async(&["contract", "deploy", w, "--args", "Token", "TOK", "1000", "--dev-key", "0", "--rpc", &rpc, "--json"]).await;
    assert!(ok, "deploy failed: {stderr}\n{stdout}");
    let receipt: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(receipt["status"], "0x1");
    let token: Address = receipt["contractAddress"].as_str().unwrap().parse().unwrap();
    let t = token.to_string();
    let transfer_topic = keccak256("Transfer(address,address,uint256)");
    assert_eq!(receipt["logs"][0]["topics"][0], serde_json::json!(transfer_topic), "mint emits Transfer");
    // A constructor argument of the wrong type is refused before anything is sent.
    let (ok, _, stderr) = strata_async(&["contract", "deploy", w, "--args", "Token", "TOK", "lots", "--dev-key", "0", "--rpc", &rpc]).await;
    assert!(!ok && stderr.contains("not a valid uint256"), "{stderr}");

    // transfer(bob, 250) by name, types from the ABI the contract's code carries: the
    // summary decodes the event.
    let (ok, stdout, stderr) = strata_async(&["contract", "call", &t, "transfer", &bob_s, "250", "--dev-key", "0", "--rpc", &rpc]).await;
    assert!(ok, "call failed: {stderr}\n{stdout}");
    assert!(stdout.contains("status       success"), "{stdout}");
    assert!(
        stdout.contains(&format!("Transfer(from: {}, to: {}, value: 250)", alice.to_checksum(None), bob.to_checksum(None))),
        "{stdout}"
    );
    // The same through raw calldata and --json: an Ethereum Transfer log.
    let mut call = selector("transfer(address,uint256)");
    call.extend(word(bob.as_slice()));
    call.extend(word(&U256::from(250u64).to_be_bytes::<32>()));
    let data = format!("0x{}", hex::encode(&call));
    let (ok, stdout, stderr) = strata_async(&["contract", "call", &t, "--data", &data, "--dev-key", "0", "--rpc", &rpc, "--json"]).await;
    assert!(ok, "call failed: {stderr}\n{stdout}");
    let receipt: Value = serde_json::from_str(&stdout).unwrap();
    let log = &receipt["logs"][0];
    assert_eq!(log["address"], serde_json::json!(token));
    assert_eq!(log["topics"][1], serde_json::json!(B256::left_padding_from(alice.as_slice())));
    assert_eq!(log["topics"][2], serde_json::json!(B256::left_padding_from(bob.as_slice())));
    // The tx subcommand finds and decodes the same receipt.
    let hash = receipt["transactionHash"].as_str().unwrap().to_string();
    let (ok, stdout, _) = strata_async(&["tx", "receipt", &hash, "--rpc", &rpc]).await;
    assert!(ok && stdout.contains("value: 250)"), "{stdout}");

    // Views print decoded values: by name, by signature with return types and an ABI file,
    // and raw with --data.
    let (ok, stdout, stderr) = strata_async(&["contract", "call", &t, "balanceOf", &bob_s, "--rpc", &rpc]).await;
    assert!(ok && stdout.trim() == "500", "{stdout}{stderr}");
    let abi_path = abi_file.to_str().unwrap();
    let (ok, stdout, _) = strata_async(&["contract", "call", &t, "name()(string)", "--abi", abi_path, "--rpc", &rpc]).await;
    assert!(ok && stdout.trim() == "\"Token\"", "{stdout}");
    let (ok, stdout, _) = strata_async(&["contract", "call", &t, "decimals", "--rpc", &rpc, "-q"]).await;
    assert!(ok && stdout.trim() == "18", "{stdout}");
    let mut query = selector("balanceOf(address)");
    query.extend(word(bob.as_slice()));
    let (ok, stdout, _) =
        strata_async(&["contract", "call", &t, "--view", "--data", &format!("0x{}", hex::encode(&query)), "--rpc", &rpc]).await;
    assert!(ok);
    assert_eq!(stdout.trim(), format!("0x{}", hex::encode(U256::from(500u64).to_be_bytes::<32>())));
    // A name the ABI lacks is refused with what it has.
    let (ok, _, stderr) = strata_async(&["contract", "call", &t, "mint", "--rpc", &rpc]).await;
    assert!(!ok && stderr.contains("has no function `mint`") && stderr.contains("transfer(address,uint256)"), "{stderr}");

    // Overspending: the estimate refuses it with the decoded custom error; forced through
    // with --gas, the transaction fails on chain and the receipt says why.
    let (ok, _, stderr) = strata_async(&["contract", "call", &t, "transfer", &alice_s, "1", "--dev-key", "2", "--rpc", &rpc]).await;
    assert!(!ok && stderr.contains("would revert: InsufficientBalance("), "{stderr}");
    let (ok, stdout, stderr) =
        strata_async(&["contract", "call", &t, "transfer", &alice_s, "1", "--dev-key", "2", "--gas", "200000", "--rpc", &rpc]).await;
    assert!(!ok, "{stdout}");
    assert!(stdout.contains("status       failed: reverted: InsufficientBalance("), "{stdout}");
    assert!(stderr.contains("failed: reverted: InsufficientBalance("), "{stderr}");

    // `contract verify`: the source rebuilds to the deployed code, whose hash is proven
    // against a certified block from the trust root; anything else is refused.
    let (m, again) = (manifest.to_str().unwrap(), tempfile::tempdir().unwrap());
    let verify = |address: String, extra: &'static [&'static str]| {
        let again = again.path().to_str().unwrap().to_string();
        let rpc = rpc.clone();
        async move {
            let mut args = vec!["contract", "verify", &address, "--manifest-path", m, "--out", &again, "--rpc", &rpc];
            args.extend_from_slice(extra);
            strata_async(&args).await
        }
    };
    let (ok, stdout, stderr) = verify(t.clone(), &[]).await;
    assert!(ok, "{stderr}\n{stdout}");
    assert!(stdout.contains(&format!("VERIFIED: the code at {t} is what")) && stdout.contains("finalized by validators [0]"), "{stdout}");
    let (ok, _, stderr) = verify(bob_s.clone(), &[]).await;
    assert!(!ok && stderr.contains("NOT VERIFIED: no code at"), "{stderr}");
    let (ok, _, stderr) = verify(t.clone(), &["--validators", "0x00000000000000000000000000000000000000aa", "--chain-id", "1337"]).await;
    assert!(!ok && stderr.contains("NOT VERIFIED: the account is not proven"), "{stderr}");
    node.stop().await;
}

/// `strata tx`: transfers with amounts in units, balances, nonces; signing with a
/// private key, a key file and an encrypted keystore (the Web3 Secret Storage test
/// vector, whose address is funded first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tx_commands_and_every_kind_of_signer() {
    let _machine = crate::share().await;
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(crate::dev_config(&dir.path().join("chain"))).await.unwrap();
    let rpc = node.http_url();
    let keystore_address = "0x008AeEda4D805471dF9b2A5B0f38A0C3bCBA786b";
    let (ok, stdout, stderr) =
        strata_async(&["tx", "send", keystore_address, "--value", "1.5ether", "--dev-key", "0", "--rpc", &rpc]).await;
    assert!(ok && stdout.contains("status       success"), "{stdout}{stderr}");
    let (ok, stdout, _) = strata_async(&["tx", "balance", keystore_address, "--rpc", &rpc]).await;
    assert!(ok && stdout.trim() == "1.5 ETH", "{stdout}");
    let (ok, stdout, _) = strata_async(&["tx", "balance", keystore_address, "--wei", "--rpc", &rpc]).await;
    assert!(ok && stdout.trim() == "1500000000000000000", "{stdout}");

    // Back from the keystore's account (password from a file), then its nonce is 1.
    let keystore = dir.path().join("keystore.json");
    std::fs::write(&keystore, KEYSTORE).unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "testpassword\n").unwrap();
    let dev9 = dev_accounts().unwrap()[9].signer.address().to_string();
    let (ok, stdout, stderr) = strata_async(&[
        "tx",
        "send",
        &dev9,
        "--value",
        "0.5eth",
        "--keystore",
        keystore.to_str().unwrap(),
        "--password-file",
        password.to_str().unwrap(),
        "--rpc",
        &rpc,
        "-q",
    ])
    .await;
    assert!(ok && stdout.trim().starts_with("0x") && stdout.trim().len() == 66, "{stdout}{stderr}");
    let (ok, stdout, _) = strata_async(&["tx", "nonce", keystore_address, "--rpc", &rpc]).await;
    assert!(ok && stdout.trim() == "1", "{stdout}");
    std::fs::write(&password, "wrong\n").unwrap();
    let (ok, _, stderr) = strata_async(&[
        "tx",
        "send",
        &dev9,
        "--keystore",
        keystore.to_str().unwrap(),
        "--password-file",
        password.to_str().unwrap(),
        "--rpc",
        &rpc,
    ])
    .await;
    assert!(!ok && stderr.contains("wrong keystore password"), "{stderr}");

    // A private key (as an argument, and from the environment) and a key file.
    let key1 = format!("0x{}", hex::encode(dev_accounts().unwrap()[1].signer.secret_bytes()));
    let (ok, _, stderr) = strata_async(&["tx", "send", keystore_address, "--value", "1gwei", "--private-key", &key1, "--rpc", &rpc]).await;
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = tokio::task::spawn_blocking({
        let (rpc, key1) = (rpc.clone(), key1.clone());
        move || {
            strata_env(&["tx", "send", keystore_address, "--value", "1gwei"], &[("STRATA_PRIVATE_KEY", &key1), ("STRATA_RPC_URL", &rpc)])
        }
    })
    .await
    .unwrap();
    assert!(ok, "{stderr}");
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, &key1).unwrap();
    let (ok, _, stderr) =
        strata_async(&["tx", "send", keystore_address, "--value", "1gwei", "--key-file", key_file.to_str().unwrap(), "--rpc", &rpc]).await;
    assert!(ok, "{stderr}");
    let (ok, stdout, _) = strata_async(&["tx", "balance", keystore_address, "--wei", "--rpc", &rpc]).await;
    assert!(ok, "{stdout}");
    let left: U256 = stdout.trim().parse().unwrap();
    assert!(left < U256::from(1_000_000_000_000_000_003u128) && left > U256::from(900_000_000_000_000_000u128), "{left}");
    // Bad input is refused with a reason.
    let (ok, _, stderr) = strata_async(&["tx", "send", keystore_address, "--value", "1.5", "--dev-key", "0", "--rpc", &rpc]).await;
    assert!(!ok && stderr.contains("more decimals"), "{stderr}");
    let (ok, _, stderr) = strata_async(&["tx", "receipt", "0x1234", "--rpc", &rpc]).await;
    assert!(!ok && stderr.contains("not a transaction hash"), "{stderr}");
    node.stop().await;
}

/// The Web3 Secret Storage definition's PBKDF2 test vector (password "testpassword").
const KEYSTORE: &str = r#"{"crypto":{"cipher":"aes-128-ctr","cipherparams":{"iv":"6087dab2f9fdbbfaddc31a909735c1e6"},"ciphertext":"5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46","kdf":"pbkdf2","kdfparams":{"c":262144,"dklen":32,"prf":"hmac-sha256","salt":"ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd"},"mac":"517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"},"id":"3198bc9c-6672-5ab3-d995-4942343ae5b6","version":3}"#;
