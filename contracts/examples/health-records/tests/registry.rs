//! Health-record registry behaviour, run as the compiled Wasm in the real runtime,
//! called through the interface a client would derive from its ABI.

use strata_harness::{Error, TestChain, build_contract};
use strata_sdk::{Address, B256, Bytes, SolError, SolEvent, U256, sol};

sol! {
    #![sol(alloy_sol_types = strata_sdk::alloy_sol_types)]
    interface IHealthRecords {
        function storeRecord(bytes32 contentHash, string metadata, bytes payload) external returns (uint256 id);
        function getRecord(uint256 id) external view returns (address owner, bytes32 contentHash, string metadata, bytes payload);
        function grantAccess(uint256 id, address reader) external;
        function revokeAccess(uint256 id, address reader) external;
        function hasAccess(uint256 id, address reader) external view returns (bool);
        function deleteRecord(uint256 id) external;
        function recordCount() external view returns (uint256);
        function records(uint256 start, uint256 limit) external view returns (uint256[] ids);
        event RecordStored(uint256 indexed id, address indexed owner, bytes32 contentHash);
        event AccessGranted(uint256 indexed id, address indexed owner, address indexed reader);
        event AccessRevoked(uint256 indexed id, address indexed owner, address indexed reader);
        event RecordDeleted(uint256 indexed id, address indexed owner);
        error NoSuchRecord(uint256 id);
        error NotOwner(uint256 id, address caller);
        error NotAuthorized(uint256 id, address caller);
        error PayloadTooLarge(uint256 size, uint256 max);
    }
}

use IHealthRecords::*;

fn deployed() -> (TestChain, Address) {
    let wasm = build_contract(env!("CARGO_MANIFEST_DIR")).expect("builds for wasm32v1-none");
    let mut chain = TestChain::new();
    let r = chain.deploy(0, &wasm, &[]).expect("deploys");
    (chain, r.contract_address.unwrap())
}

fn store(chain: &mut TestChain, who: usize, registry: Address, tag: u8) -> U256 {
    let call = storeRecordCall {
        contentHash: B256::repeat_byte(tag),
        metadata: format!("lab result {tag}"),
        payload: Bytes::from(vec![tag; 100]),
    };
    chain.call_sol(who, registry, &call).expect("stores")
}

fn failed<T>(r: Result<T, Error>) -> Vec<u8> {
    match r {
        Err(Error::Failed(receipt)) => receipt.output,
        Err(other) => panic!("expected a revert, got {other}"),
        Ok(_) => panic!("expected a revert, the call succeeded"),
    }
}

#[test]
fn owners_store_grant_revoke_and_delete_with_events() {
    let (mut chain, registry) = deployed();
    let (owner, doctor, stranger) = (chain.address(0), chain.address(1), chain.address(2));
    let id = store(&mut chain, 0, registry, 7);
    let stored = RecordStored::decode_log_data(&chain.receipts.last().unwrap().logs[0].data).unwrap();
    assert_eq!((stored.id, stored.owner, stored.contentHash), (id, owner, B256::repeat_byte(7)));

    // Nobody but the owner reads it until access is granted.
    let as_doctor = chain.view_as(1);
    let err = NotAuthorized::abi_decode(&failed(as_doctor.view(registry, &getRecordCall { id }))).unwrap();
    assert_eq!((err.id, err.caller), (id, doctor));
    chain.call_sol(0, registry, &grantAccessCall { id, reader: doctor }).unwrap();
    let granted = AccessGranted::decode_log_data(&chain.receipts.last().unwrap().logs[0].data).unwrap();
    assert_eq!((granted.id, granted.owner, granted.reader), (id, owner, doctor));
    let as_doctor = chain.view_as(1);
    let record = as_doctor.view(registry, &getRecordCall { id }).unwrap();
    assert_eq!((record.owner, record.contentHash, record.metadata.as_str()), (owner, B256::repeat_byte(7), "lab result 7"));
    assert_eq!(record.payload.len(), 100);
    assert!(chain.view(registry, &hasAccessCall { id, reader: doctor }).unwrap());

    // Only the owner changes access or deletes.
    let err = NotOwner::abi_decode(&failed(chain.call_sol(2, registry, &grantAccessCall { id, reader: stranger }))).unwrap();
    assert_eq!(err.caller, stranger);
    failed(chain.call_sol(1, registry, &deleteRecordCall { id }));
    chain.call_sol(0, registry, &revokeAccessCall { id, reader: doctor }).unwrap();
    AccessRevoked::decode_log_data(&chain.receipts.last().unwrap().logs[0].data).unwrap();
    assert!(!chain.view(registry, &hasAccessCall { id, reader: doctor }).unwrap());
    chain.call_sol(0, registry, &deleteRecordCall { id }).unwrap();
    RecordDeleted::decode_log_data(&chain.receipts.last().unwrap().logs[0].data).unwrap();
    let err = NoSuchRecord::abi_decode(&failed(chain.view(registry, &getRecordCall { id }))).unwrap();
    assert_eq!(err.id, id);
    // Deleting freed the storage it used.
    assert!(chain.receipts.last().unwrap().resources.storage_bytes_removed > 100);
}

#[test]
fn records_page_in_order_and_payloads_are_bounded() {
    let (mut chain, registry) = deployed();
    let ids: Vec<U256> = (0..5).map(|i| store(&mut chain, i % 2, registry, i as u8 + 1)).collect();
    assert_eq!(chain.view(registry, &recordCountCall {}).unwrap(), U256::from(5u8));
    assert_eq!(chain.view(registry, &recordsCall { start: U256::ZERO, limit: U256::from(2u8) }).unwrap(), ids[..2].to_vec());
    assert_eq!(chain.view(registry, &recordsCall { start: U256::from(2u8), limit: U256::from(10u8) }).unwrap(), ids[2..].to_vec());
    // Deleting moves the last record into the hole; every live record is still listed once.
    chain.call_sol(1, registry, &deleteRecordCall { id: ids[1] }).unwrap();
    let mut listed = chain.view(registry, &recordsCall { start: U256::ZERO, limit: U256::from(10u8) }).unwrap();
    listed.sort();
    assert_eq!(listed, vec![ids[0], ids[2], ids[3], ids[4]]);
    let big = storeRecordCall { contentHash: B256::ZERO, metadata: String::new(), payload: Bytes::from(vec![0u8; 5000]) };
    let err = PayloadTooLarge::abi_decode(&failed(chain.call_sol(0, registry, &big))).unwrap();
    assert_eq!(err.size, U256::from(5000u16));
}
