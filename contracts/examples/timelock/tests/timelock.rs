//! A contract calling another: the timelock moves ERC-20 tokens, and block-time
//! travel decides when they come back. Both run as compiled Wasm.

use strata_harness::{Error, TestChain, build_contract};
use strata_sdk::{Address, SolError, SolValue, U256, sol};

sol! {
    #![sol(alloy_sol_types = strata_sdk::alloy_sol_types)]
    interface IERC20 {
        function balanceOf(address owner) external view returns (uint256);
        function approve(address spender, uint256 amount) external returns (bool);
        error InsufficientAllowance(uint256 available, uint256 required);
    }
    interface ITimelock {
        function lock(uint256 amount, uint64 unlockAt) external;
        function release() external returns (uint256);
        function lockedOf(address owner) external view returns (uint256, uint64);
        error StillLocked(uint64 unlockAt, uint64 now);
        error NothingLocked(address owner);
    }
}

fn setup() -> (TestChain, Address, Address) {
    let token_wasm = build_contract(concat!(env!("CARGO_MANIFEST_DIR"), "/../erc20")).expect("erc20 builds");
    let lock_wasm = build_contract(env!("CARGO_MANIFEST_DIR")).expect("timelock builds");
    let mut chain = TestChain::new();
    let ctor = (String::from("T"), String::from("T"), U256::from(1000u64)).abi_encode_params();
    let token = chain.deploy(0, &token_wasm, &ctor).unwrap().contract_address.unwrap();
    let timelock = chain.deploy(0, &lock_wasm, &token.abi_encode()).unwrap().contract_address.unwrap();
    (chain, token, timelock)
}

#[test]
fn locks_until_the_time_then_releases() {
    let (mut chain, token, timelock) = setup();
    let owner = chain.address(0);
    let unlock_at = chain.timestamp() + 3600;
    chain.call_sol(0, token, &IERC20::approveCall { spender: timelock, amount: U256::from(400u64) }).unwrap();
    chain.call_sol(0, timelock, &ITimelock::lockCall { amount: U256::from(300u64), unlockAt: unlock_at }).unwrap();
    assert_eq!(chain.view(token, &IERC20::balanceOfCall { owner: timelock }).unwrap(), U256::from(300u64));
    assert_eq!(chain.view(token, &IERC20::balanceOfCall { owner }).unwrap(), U256::from(700u64));
    let locked = chain.view(timelock, &ITimelock::lockedOfCall { owner }).unwrap();
    assert_eq!((locked._0, locked._1), (U256::from(300u64), unlock_at));

    // Too early: the custom error says until when.
    let Err(Error::Failed(r)) = chain.call_sol(0, timelock, &ITimelock::releaseCall {}) else { panic!("must be locked") };
    let early = ITimelock::StillLocked::abi_decode(&r.output).unwrap();
    assert_eq!(early.unlockAt, unlock_at);

    // An hour later it releases, through the token's transfer.
    chain.advance_time(3600);
    assert_eq!(chain.call_sol(0, timelock, &ITimelock::releaseCall {}).unwrap(), U256::from(300u64));
    let release = chain.receipts.last().unwrap();
    assert_eq!(release.logs.len(), 2, "the token's Transfer, then the timelock's Released");
    assert_eq!((release.logs[0].address, release.logs[1].address), (token, timelock));
    assert_eq!(chain.view(token, &IERC20::balanceOfCall { owner }).unwrap(), U256::from(1000u64));
    println!("{}", chain.report());
}

#[test]
fn a_failing_token_call_reverts_everything_with_the_tokens_error() {
    let (mut chain, token, timelock) = setup();
    chain.call_sol(0, token, &IERC20::approveCall { spender: timelock, amount: U256::from(10u64) }).unwrap();
    let Err(Error::Failed(r)) = chain.call_sol(0, timelock, &ITimelock::lockCall { amount: U256::from(11u64), unlockAt: 0 }) else {
        panic!("allowance too small")
    };
    // The token's revert data comes back unchanged, and nothing was recorded.
    let err = IERC20::InsufficientAllowance::abi_decode(&r.output).unwrap();
    assert_eq!((err.available, err.required), (U256::from(10u64), U256::from(11u64)));
    let locked = chain.view(timelock, &ITimelock::lockedOfCall { owner: chain.address(0) }).unwrap();
    assert_eq!(locked._0, U256::ZERO);
    let Err(Error::Failed(r)) = chain.call_sol(1, timelock, &ITimelock::releaseCall {}) else { panic!("nothing locked") };
    assert_eq!(ITimelock::NothingLocked::abi_decode(&r.output).unwrap().owner, chain.address(1));
}
