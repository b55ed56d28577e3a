//! An ERC-20 token: the standard interface, `Transfer`/`Approval` events, and
//! custom errors, written with `strata-sdk`. Deploy input: ABI-encoded
//! `(string name, string symbol, uint256 supply)`; the whole supply goes to the deployer.
#![no_std]

extern crate alloc;

use alloc::{string::String, vec::Vec};
use strata_sdk::{
    Address, SolValue, U256, emit, entry, env, returns, revert_error, revert_message, sol,
    storage::{StorageMap, StorageValue},
};

sol! {
    #![sol(alloy_sol_types = strata_sdk::alloy_sol_types)]
    /// The ERC-20 interface.
    interface IERC20 {
        function name() external view returns (string);
        function symbol() external view returns (string);
        function decimals() external view returns (uint8);
        function totalSupply() external view returns (uint256);
        function balanceOf(address owner) external view returns (uint256);
        function allowance(address owner, address spender) external view returns (uint256);
        function transfer(address to, uint256 amount) external returns (bool);
        function approve(address spender, uint256 amount) external returns (bool);
        function transferFrom(address from, address to, uint256 amount) external returns (bool);

        event Transfer(address indexed from, address indexed to, uint256 value);
        event Approval(address indexed owner, address indexed spender, uint256 value);

        error InsufficientBalance(uint256 available, uint256 required);
        error InsufficientAllowance(uint256 available, uint256 required);
    }
}

use IERC20::{IERC20Calls as Call, *};

static NAME: StorageValue<String> = StorageValue::new(b"name");
static SYMBOL: StorageValue<String> = StorageValue::new(b"symbol");
static SUPPLY: StorageValue<U256> = StorageValue::new(b"supply");
static BALANCES: StorageMap<Address, U256> = StorageMap::new(b"b");
static ALLOWANCES: StorageMap<(Address, Address), U256> = StorageMap::new(b"a");

fn move_tokens(from: Address, to: Address, amount: U256) {
    let available = BALANCES.get(&from);
    if available < amount {
        revert_error(InsufficientBalance { available, required: amount });
    }
    BALANCES.set(&from, &(available - amount));
    BALANCES.set(&to, &(BALANCES.get(&to) + amount));
    emit(&Transfer { from, to, value: amount });
}

/// Constructor.
#[unsafe(no_mangle)]
pub extern "C" fn deploy() {
    let input = strata_sdk::host::input();
    let Ok((name, symbol, supply)) = <(String, String, U256)>::abi_decode_params(&input) else {
        revert_message("constructor input: (string name, string symbol, uint256 supply)")
    };
    NAME.set(&name);
    SYMBOL.set(&symbol);
    SUPPLY.set(&supply);
    let owner = env::caller();
    BALANCES.set(&owner, &supply);
    emit(&Transfer { from: Address::ZERO, to: owner, value: supply });
}

/// Every call.
#[unsafe(no_mangle)]
pub extern "C" fn call() {
    entry::<Call>(|call| -> Vec<u8> {
        match call {
            Call::name(_) => returns::<nameCall>(&NAME.get()),
            Call::symbol(_) => returns::<symbolCall>(&SYMBOL.get()),
            Call::decimals(_) => returns::<decimalsCall>(&18u8),
            Call::totalSupply(_) => returns::<totalSupplyCall>(&SUPPLY.get()),
            Call::balanceOf(c) => returns::<balanceOfCall>(&BALANCES.get(&c.owner)),
            Call::allowance(c) => returns::<allowanceCall>(&ALLOWANCES.get(&(c.owner, c.spender))),
            Call::transfer(c) => {
                move_tokens(env::caller(), c.to, c.amount);
                returns::<transferCall>(&true)
            }
            Call::approve(c) => {
                let owner = env::caller();
                ALLOWANCES.set(&(owner, c.spender), &c.amount);
                emit(&Approval { owner, spender: c.spender, value: c.amount });
                returns::<approveCall>(&true)
            }
            Call::transferFrom(c) => {
                let spender = env::caller();
                let available = ALLOWANCES.get(&(c.from, spender));
                if available < c.amount {
                    revert_error(InsufficientAllowance { available, required: c.amount });
                }
                ALLOWANCES.set(&(c.from, spender), &(available - c.amount));
                move_tokens(c.from, c.to, c.amount);
                returns::<transferFromCall>(&true)
            }
        }
    })
}
