//! The key-value store, run as its compiled Wasm in the real runtime. The archive calls
//! themselves need the system contracts installed at genesis, which the harness chain
//! has not; here: storing, reading, removing, raw storage keys and the owner checks
//! that guard the archive calls.

use strata_harness::{TestChain, build_contract, failed};
use strata_sdk::{Address, Bytes, SolError, SolEvent, U256, sol};

sol! {
    #![sol(alloy_sol_types = strata_sdk::alloy_sol_types)]
    #[derive(Debug)]
    interface IKvStore {
        function set(bytes key, bytes value) external;
        function get(bytes key) external view returns (bytes);
        function remove(bytes key) external;
        function storageKey(bytes key) external view returns (bytes);
        function owner() external view returns (address);
        function setArchiver(address account, bool allowed) external;
        function archiveOwn(bytes[] keys, uint64 retentionSeconds) external returns (uint64 archived, uint64 bytes);
        event Stored(bytes key, uint64 size);
        error NotOwner(address caller);
        error KeyTooLong(uint64 length, uint64 max);
        error ValueTooLarge(uint64 length, uint64 max);
    }
}

use IKvStore::*;

fn deployed() -> (TestChain, Address) {
    let wasm = build_contract(env!("CARGO_MANIFEST_DIR")).expect("the store builds for wasm32v1-none");
    let mut chain = TestChain::new();
    let r = chain.deploy(0, &wasm, &[]).expect("deploys: the store imports no privileged host function");
    (chain, r.contract_address.expect("created"))
}

fn b(s: &[u8]) -> Bytes {
    Bytes::copy_from_slice(s)
}

fn last_stored(chain: &TestChain) -> Stored {
    Stored::decode_log_data(&chain.receipts.last().unwrap().logs[0].data).expect("Stored")
}

#[test]
fn anyone_stores_reads_and_removes_entries() {
    let (mut chain, kv) = deployed();
    assert_eq!(chain.view(kv, &getCall { key: b(b"colour") }).unwrap(), Bytes::new(), "absent reads as empty");

    chain.call_sol(3, kv, &setCall { key: b(b"colour"), value: b(b"blue") }).unwrap();
    let e = last_stored(&chain);
    assert_eq!((e.key, e.size), (b(b"colour"), 4));
    assert_eq!(chain.view(kv, &getCall { key: b(b"colour") }).unwrap(), b(b"blue"));

    // Overwrite, by someone else.
    chain.call_sol(4, kv, &setCall { key: b(b"colour"), value: b(b"green!") }).unwrap();
    assert_eq!(chain.view(kv, &getCall { key: b(b"colour") }).unwrap(), b(b"green!"));

    chain.call_sol(5, kv, &removeCall { key: b(b"colour") }).unwrap();
    let e = last_stored(&chain);
    assert_eq!((e.key, e.size), (b(b"colour"), 0));
    assert_eq!(chain.view(kv, &getCall { key: b(b"colour") }).unwrap(), Bytes::new());
    println!("{}", chain.report());
}

#[test]
fn storage_key_names_the_raw_entry() {
    let (mut chain, kv) = deployed();
    chain.call_sol(0, kv, &setCall { key: b(b"k1"), value: b(b"v1") }).unwrap();
    let raw = chain.view(kv, &storageKeyCall { key: b(b"k1") }).unwrap();
    assert_eq!(raw, b(b"vk1"), "entries live under the prefix \"v\"");
    assert_eq!(chain.storage(kv, &raw), Some(b"v1".to_vec()));
    chain.call_sol(0, kv, &removeCall { key: b(b"k1") }).unwrap();
    assert_eq!(chain.storage(kv, &raw), None, "removing deletes the storage key");
}

#[test]
fn an_empty_value_removes_and_empty_keys_work() {
    let (mut chain, kv) = deployed();
    chain.call_sol(0, kv, &setCall { key: Bytes::new(), value: b(b"root") }).unwrap();
    assert_eq!(chain.view(kv, &getCall { key: Bytes::new() }).unwrap(), b(b"root"));
    chain.call_sol(0, kv, &setCall { key: Bytes::new(), value: Bytes::new() }).unwrap();
    assert_eq!(chain.storage(kv, b"v"), None);
}

#[test]
fn oversized_keys_and_values_are_refused_with_the_limit() {
    let (mut chain, kv) = deployed();
    // The longest key works. (A full 16 KiB value would also pass this check, but could
    // exceed the contract's default storage quota, which is the runtime's business.)
    let longest = Bytes::from(vec![7u8; 255]);
    chain.call_sol(0, kv, &setCall { key: longest.clone(), value: Bytes::from(vec![1u8; 1024]) }).unwrap();
    assert_eq!(chain.view(kv, &getCall { key: longest }).unwrap().len(), 1024);

    let r = failed(chain.call_sol(0, kv, &setCall { key: Bytes::from(vec![7u8; 256]), value: b(b"x") }));
    let e = KeyTooLong::abi_decode(&r.output).unwrap();
    assert_eq!((e.length, e.max), (256, 255));
    let r = failed(chain.call_sol(0, kv, &setCall { key: b(b"k"), value: Bytes::from(vec![1u8; 16 * 1024 + 1]) }));
    let e = ValueTooLarge::abi_decode(&r.output).unwrap();
    assert_eq!((e.length, e.max), (16 * 1024 + 1, 16 * 1024));
    let r = failed(chain.view(kv, &storageKeyCall { key: Bytes::from(vec![0u8; 300]) }));
    assert!(KeyTooLong::abi_decode(&r.output).is_ok());
}

#[test]
fn the_deployer_owns_the_store_and_only_the_owner_archives() {
    let (mut chain, kv) = deployed();
    assert_eq!(chain.view(kv, &ownerCall {}).unwrap(), chain.address(0));
    let stranger = chain.address(1);

    let r = failed(chain.call_sol(1, kv, &setArchiverCall { account: stranger, allowed: true }));
    assert_eq!(NotOwner::abi_decode(&r.output).unwrap().caller, stranger);
    assert!(r.logs.is_empty());

    chain.call_sol(1, kv, &setCall { key: b(b"mine"), value: b(b"data") }).unwrap();
    let r = failed(chain.call_sol(1, kv, &archiveOwnCall { keys: vec![b(b"mine")], retentionSeconds: 0 }));
    assert_eq!(NotOwner::abi_decode(&r.output).unwrap().caller, stranger);
    assert_eq!(chain.view(kv, &getCall { key: b(b"mine") }).unwrap(), b(b"data"), "nothing archived");
}

#[test]
fn functions_refuse_value() {
    let (mut chain, kv) = deployed();
    let call = strata_sdk::SolCall::abi_encode(&setCall { key: b(b"k"), value: b(b"v") });
    let r = chain.send(0, strata_harness::TxKind::Call(kv), U256::from(1u8), call, 1_000_000).unwrap();
    assert!(!r.success);
    assert_eq!(chain.storage(kv, b"vk"), None);
}
