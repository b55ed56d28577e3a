//! Locks ERC-20 tokens until a time. Shows typed calls to another contract
//! (`call_contract` with an interface declared by `sol!`) and block time.
#![no_std]

extern crate alloc;

use strata_sdk::{
    Address, CallError, ContractError, U256, call_contract, contract, env, error, event, sol,
    storage::{StorageMap, StorageValue},
};

sol! {
    #![sol(alloy_sol_types = strata_sdk::alloy_sol_types)]
    /// The token calls this contract makes.
    interface IERC20 {
        function transfer(address to, uint256 amount) external returns (bool);
        function transferFrom(address from, address to, uint256 amount) external returns (bool);
    }
}

/// Tokens were locked.
#[event]
pub struct Locked {
    #[indexed]
    pub owner: Address,
    pub amount: U256,
    pub unlock_at: u64,
}

/// Tokens were released.
#[event]
pub struct Released {
    #[indexed]
    pub owner: Address,
    pub amount: U256,
}

/// Not yet.
#[error]
pub struct StillLocked {
    pub unlock_at: u64,
    pub now: u64,
}

/// Nothing to release.
#[error]
pub struct NothingLocked {
    pub owner: Address,
}

/// Any timelock failure, including the token's.
pub enum LockError {
    /// See [`StillLocked`].
    Early(StillLocked),
    /// See [`NothingLocked`].
    Empty(NothingLocked),
    /// The token call failed; its revert data is passed on.
    Token(CallError),
}

impl ContractError for LockError {
    fn revert_data(&self) -> alloc::vec::Vec<u8> {
        match self {
            LockError::Early(e) => e.revert_data(),
            LockError::Empty(e) => e.revert_data(),
            LockError::Token(e) => e.revert_data(),
        }
    }
}

static TOKEN: StorageValue<Address> = StorageValue::new(b"token");
static AMOUNTS: StorageMap<Address, U256> = StorageMap::new(b"a");
static UNLOCK: StorageMap<Address, u64> = StorageMap::new(b"u");

/// The timelock.
pub struct Timelock;

#[contract]
impl Timelock {
    /// Locks tokens of `token`.
    #[constructor]
    pub fn constructor(token: Address) {
        TOKEN.set(&token);
    }

    /// Takes `amount` tokens from the caller (who approved this contract) until `unlock_at`
    /// (a Unix time; a later lock of the same owner keeps the later time).
    pub fn lock(amount: U256, unlock_at: u64) -> Result<(), LockError> {
        let owner = env::caller();
        let transfer = IERC20::transferFromCall { from: owner, to: env::self_address(), amount };
        call_contract(TOKEN.get(), &transfer, U256::ZERO).map_err(LockError::Token)?;
        AMOUNTS.set(&owner, &(AMOUNTS.get(&owner) + amount));
        UNLOCK.set(&owner, &UNLOCK.get(&owner).max(unlock_at));
        Locked { owner, amount, unlock_at }.emit();
        Ok(())
    }

    /// Returns the caller's tokens once their time has come.
    pub fn release() -> Result<U256, LockError> {
        let owner = env::caller();
        let amount = AMOUNTS.get(&owner);
        if amount.is_zero() {
            return Err(LockError::Empty(NothingLocked { owner }));
        }
        let (unlock_at, now) = (UNLOCK.get(&owner), env::block_timestamp());
        if now < unlock_at {
            return Err(LockError::Early(StillLocked { unlock_at, now }));
        }
        AMOUNTS.set(&owner, &U256::ZERO);
        UNLOCK.set(&owner, &0);
        call_contract(TOKEN.get(), &IERC20::transferCall { to: owner, amount }, U256::ZERO).map_err(LockError::Token)?;
        Released { owner, amount }.emit();
        Ok(amount)
    }

    /// Locked amount and unlock time of `owner`.
    #[view]
    pub fn locked_of(owner: Address) -> (U256, u64) {
        (AMOUNTS.get(&owner), UNLOCK.get(&owner))
    }
}
