//! An ERC-20 token written with `strata-sdk`'s `#[contract]`: the standard interface,
//! `Transfer`/`Approval` events and custom errors, all in Rust; the ABI JSON is
//! generated from these signatures. Constructor: `(string name, string symbol,
//! uint256 supply)`; the whole supply goes to the deployer.
#![no_std]

extern crate alloc;

use alloc::string::String;
use strata_sdk::{
    Address, U256, contract, env, error, event,
    storage::{StorageMap, StorageValue},
};

/// Tokens moved (`from` zero: minted).
#[event]
pub struct Transfer {
    #[indexed]
    pub from: Address,
    #[indexed]
    pub to: Address,
    pub value: U256,
}

/// An allowance was set.
#[event]
pub struct Approval {
    #[indexed]
    pub owner: Address,
    #[indexed]
    pub spender: Address,
    pub value: U256,
}

/// The sender's balance is too low.
#[error]
pub struct InsufficientBalance {
    pub available: U256,
    pub required: U256,
}

/// The spender's allowance is too low.
#[error]
pub struct InsufficientAllowance {
    pub available: U256,
    pub required: U256,
}

/// What a token function can fail with.
pub enum TokenError {
    /// See [`InsufficientBalance`].
    Balance(InsufficientBalance),
    /// See [`InsufficientAllowance`].
    Allowance(InsufficientAllowance),
}

impl strata_sdk::ContractError for TokenError {
    fn revert_data(&self) -> alloc::vec::Vec<u8> {
        match self {
            TokenError::Balance(e) => e.revert_data(),
            TokenError::Allowance(e) => e.revert_data(),
        }
    }
}

static NAME: StorageValue<String> = StorageValue::new(b"name");
static SYMBOL: StorageValue<String> = StorageValue::new(b"symbol");
static SUPPLY: StorageValue<U256> = StorageValue::new(b"supply");
static BALANCES: StorageMap<Address, U256> = StorageMap::new(b"b");
static ALLOWANCES: StorageMap<(Address, Address), U256> = StorageMap::new(b"a");

fn move_tokens(from: Address, to: Address, amount: U256) -> Result<(), TokenError> {
    let available = BALANCES.get(&from);
    if available < amount {
        return Err(TokenError::Balance(InsufficientBalance { available, required: amount }));
    }
    BALANCES.set(&from, &(available - amount));
    BALANCES.set(&to, &(BALANCES.get(&to) + amount));
    Transfer { from, to, value: amount }.emit();
    Ok(())
}

/// The token.
pub struct Token;

#[contract]
impl Token {
    /// Mints `supply` to the deployer.
    #[constructor]
    pub fn constructor(name: String, symbol: String, supply: U256) {
        NAME.set(&name);
        SYMBOL.set(&symbol);
        SUPPLY.set(&supply);
        let owner = env::caller();
        BALANCES.set(&owner, &supply);
        Transfer { from: Address::ZERO, to: owner, value: supply }.emit();
    }

    /// Token name.
    #[view]
    pub fn name() -> String {
        NAME.get()
    }

    /// Token symbol.
    #[view]
    pub fn symbol() -> String {
        SYMBOL.get()
    }

    /// Decimals (18).
    #[view]
    pub fn decimals() -> u8 {
        18
    }

    /// Total supply.
    #[view]
    pub fn total_supply() -> U256 {
        SUPPLY.get()
    }

    /// Balance of `owner`.
    #[view]
    pub fn balance_of(owner: Address) -> U256 {
        BALANCES.get(&owner)
    }

    /// What `spender` may still move from `owner`.
    #[view]
    pub fn allowance(owner: Address, spender: Address) -> U256 {
        ALLOWANCES.get(&(owner, spender))
    }

    /// Moves `amount` from the caller to `to`.
    pub fn transfer(to: Address, amount: U256) -> Result<bool, TokenError> {
        move_tokens(env::caller(), to, amount)?;
        Ok(true)
    }

    /// Lets `spender` move up to `amount` of the caller's tokens.
    pub fn approve(spender: Address, amount: U256) -> bool {
        let owner = env::caller();
        ALLOWANCES.set(&(owner, spender), &amount);
        Approval { owner, spender, value: amount }.emit();
        true
    }

    /// Moves `amount` from `from` to `to` within the caller's allowance.
    pub fn transfer_from(from: Address, to: Address, amount: U256) -> Result<bool, TokenError> {
        let spender = env::caller();
        let available = ALLOWANCES.get(&(from, spender));
        if available < amount {
            return Err(TokenError::Allowance(InsufficientAllowance { available, required: amount }));
        }
        ALLOWANCES.set(&(from, spender), &(available - amount));
        move_tokens(from, to, amount)?;
        Ok(true)
    }
}
