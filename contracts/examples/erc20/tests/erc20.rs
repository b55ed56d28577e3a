//! ERC-20 behaviour, run as the compiled Wasm in the real runtime.

use erc20::IERC20::*;
use strata_harness::{Error, TestChain, build_contract};
use strata_sdk::{Address, SolError, SolEvent, SolValue, U256};

fn deployed() -> (TestChain, Address) {
    let wasm = build_contract(env!("CARGO_MANIFEST_DIR")).expect("the contract builds for wasm32v1-none");
    assert!(wasm.len() <= 64 * 1024, "a token transfer compiles to at most 64 KiB of Wasm, got {}", wasm.len());
    let mut chain = TestChain::new();
    let ctor = (String::from("Strata Token"), String::from("STT"), U256::from(1_000_000u64)).abi_encode_params();
    let r = chain.deploy(0, &wasm, &ctor).expect("deploys");
    // The constructor mints the supply to the deployer, with a Transfer from zero.
    let minted = Transfer::decode_log_data(&r.logs[0].data).expect("Transfer event");
    assert_eq!((minted.from, minted.to, minted.value), (Address::ZERO, chain.address(0), U256::from(1_000_000u64)));
    (chain, r.contract_address.expect("created"))
}

#[test]
fn metadata_and_supply() {
    let (chain, token) = deployed();
    assert_eq!(chain.view(token, &nameCall {}).unwrap(), "Strata Token");
    assert_eq!(chain.view(token, &symbolCall {}).unwrap(), "STT");
    assert_eq!(chain.view(token, &decimalsCall {}).unwrap(), 18);
    assert_eq!(chain.view(token, &totalSupplyCall {}).unwrap(), U256::from(1_000_000u64));
    assert_eq!(chain.view(token, &balanceOfCall { owner: chain.address(0) }).unwrap(), U256::from(1_000_000u64));
}

#[test]
fn transfer_moves_balance_and_emits_transfer() {
    let (mut chain, token) = deployed();
    let (alice, bob) = (chain.address(0), chain.address(1));
    assert!(chain.call_sol(0, token, &transferCall { to: bob, amount: U256::from(250u64) }).unwrap());
    let r = chain.receipts.last().unwrap().clone();
    let event = Transfer::decode_log_data(&r.logs[0].data).unwrap();
    assert_eq!((event.from, event.to, event.value), (alice, bob, U256::from(250u64)));
    assert_eq!(r.logs[0].address, token);
    assert_eq!(chain.view(token, &balanceOfCall { owner: bob }).unwrap(), U256::from(250u64));
    assert_eq!(chain.view(token, &balanceOfCall { owner: alice }).unwrap(), U256::from(999_750u64));
    // Balances are stored as Ethereum stores words: minimal big-endian bytes.
    let mut key = b"b".to_vec();
    key.extend_from_slice(bob.as_slice());
    assert_eq!(chain.storage(token, &key), Some(vec![250]));
    println!("{}", chain.report());
}

#[test]
fn overspending_reverts_with_the_custom_error_and_changes_nothing() {
    let (mut chain, token) = deployed();
    let bob = chain.address(1);
    let Err(Error::Failed(r)) = chain.call_sol(1, token, &transferCall { to: chain.address(2), amount: U256::from(1u64) }) else {
        panic!("must revert")
    };
    let err = InsufficientBalance::abi_decode(&r.output).expect("custom error data");
    assert_eq!((err.available, err.required), (U256::ZERO, U256::from(1u64)));
    assert!(r.logs.is_empty());
    assert_eq!(chain.view(token, &balanceOfCall { owner: bob }).unwrap(), U256::ZERO);
}

#[test]
fn approve_and_transfer_from() {
    let (mut chain, token) = deployed();
    let (alice, bob, carol) = (chain.address(0), chain.address(1), chain.address(2));
    assert!(chain.call_sol(0, token, &approveCall { spender: bob, amount: U256::from(100u64) }).unwrap());
    let approval = Approval::decode_log_data(&chain.receipts.last().unwrap().logs[0].data).unwrap();
    assert_eq!((approval.owner, approval.spender, approval.value), (alice, bob, U256::from(100u64)));
    assert!(chain.call_sol(1, token, &transferFromCall { from: alice, to: carol, amount: U256::from(60u64) }).unwrap());
    assert_eq!(chain.view(token, &allowanceCall { owner: alice, spender: bob }).unwrap(), U256::from(40u64));
    assert_eq!(chain.view(token, &balanceOfCall { owner: carol }).unwrap(), U256::from(60u64));
    let Err(Error::Failed(r)) = chain.call_sol(1, token, &transferFromCall { from: alice, to: carol, amount: U256::from(41u64) }) else {
        panic!("over the allowance")
    };
    let err = InsufficientAllowance::abi_decode(&r.output).unwrap();
    assert_eq!((err.available, err.required), (U256::from(40u64), U256::from(41u64)));
}

#[test]
fn unknown_selectors_revert_with_a_message() {
    let (mut chain, token) = deployed();
    let r = chain.send(0, strata_harness::TxKind::Call(token), U256::ZERO, vec![0xde, 0xad, 0xbe, 0xef], 1_000_000).unwrap();
    assert!(!r.success);
    let reason = strata_sdk::alloy_sol_types::Revert::abi_decode(&r.output).expect("Error(string)").reason;
    assert!(reason.contains("unknown selector or bad arguments: 0xdeadbeef"), "{reason}");
}
