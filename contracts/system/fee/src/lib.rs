//! Strata's fee system contract, installed at genesis at
//! `strata_sdk::system::FEE_CONTRACT` (`0x…1001`).
//!
//! Why a contract: prices are chain policy, not node code. Keeping the price table in
//! state means changing it is a transaction by the admin — visible, ordered, and an
//! event (`PricesChanged`, `AdminChanged`) — instead of a node release. The runtime
//! reads `schedule()` (gas price, default storage quota, default cold retention);
//! clients and contracts call `quote()` to price a resource bundle.
//!
//! Rules, checked by the constructor and `setPrices`: `1 <= gasPrice <= 2^64-1` (the
//! block header carries it as a u64), every other price `<= 2^128` (so no quote of
//! u64 quantities can overflow), `defaultRetentionSeconds >= 1`. The contract uses no
//! privileged host function: it is an ordinary contract at a fixed address.
#![no_std]

extern crate alloc;

use alloc::string::String;
use strata_sdk::{
    Address, ContractError, U256, contract, env, error, event,
    storage::{StorageMap, StorageValue},
};

/// The price table changed (the constructor emits it too).
#[event]
pub struct PricesChanged {
    #[indexed]
    pub by: Address,
    pub gas_price: U256,
    pub fuel_price: U256,
    pub network_byte_price: U256,
    pub storage_byte_price: U256,
    pub cold_byte_day_price: U256,
    pub default_retention_seconds: u64,
    pub default_quota_bytes: u64,
}

/// The admin changed (the constructor emits it from the zero address).
#[event]
pub struct AdminChanged {
    #[indexed]
    pub previous: Address,
    #[indexed]
    pub admin: Address,
}

/// Only the admin may do this.
#[error]
pub struct NotAdmin {
    pub caller: Address,
}

/// The prices break a rule; `reason` says which.
#[error]
pub struct InvalidPrices {
    pub reason: String,
}

/// What a fee function can fail with.
pub enum FeeError {
    /// See [`NotAdmin`].
    NotAdmin(NotAdmin),
    /// See [`InvalidPrices`].
    InvalidPrices(InvalidPrices),
}

impl ContractError for FeeError {
    fn revert_data(&self) -> alloc::vec::Vec<u8> {
        match self {
            FeeError::NotAdmin(e) => e.revert_data(),
            FeeError::InvalidPrices(e) => e.revert_data(),
        }
    }
}

/// Seconds per day: cold storage is priced per byte-day.
pub const DAY: u64 = 86_400;

static ADMIN: StorageValue<Address> = StorageValue::new(b"admin");
/// Prices by slot: gas, fuel, network byte, storage byte, cold byte-day (the constants below).
static PRICES: StorageMap<u64, U256> = StorageMap::new(b"p");
static DEFAULT_RETENTION: StorageValue<u64> = StorageValue::new(b"retention");
static DEFAULT_QUOTA: StorageValue<u64> = StorageValue::new(b"quota");

/// Fuel units per gas unit (the runtime's `strata_vm::gas::FUEL_PER_GAS`).
const FUEL_PER_GAS: u64 = 10;

const GAS: u64 = 0;
const FUEL: u64 = 1;
const NETWORK_BYTE: u64 = 2;
const STORAGE_BYTE: u64 = 3;
const COLD_BYTE_DAY: u64 = 4;

/// Names of the prices capped at 2^128 (all but the gas price), by slot.
const CAPPED: [(u64, &str); 4] = [
    (FUEL, "fuelPrice exceeds 2^128"),
    (NETWORK_BYTE, "networkBytePrice exceeds 2^128"),
    (STORAGE_BYTE, "storageBytePrice exceeds 2^128"),
    (COLD_BYTE_DAY, "coldByteDayPrice exceeds 2^128"),
];

/// The whole table, as the constructor and `setPrices` take it.
struct Table {
    prices: [U256; 5],
    default_retention_seconds: u64,
    default_quota_bytes: u64,
}

impl Table {
    fn validate(&self) -> Result<(), FeeError> {
        let invalid = |reason: &str| Err(FeeError::InvalidPrices(InvalidPrices { reason: String::from(reason) }));
        let gas = self.prices[GAS as usize];
        if gas.is_zero() {
            return invalid("gasPrice must be at least 1");
        }
        if gas > U256::from(u64::MAX) {
            return invalid("gasPrice exceeds 2^64-1");
        }
        // The block gas limit bounds a block's work only if every gas of execution is
        // charged at least one gas: a cheaper fuel (0 above all) would let a block hold
        // unbounded execution.
        if self.prices[FUEL as usize].saturating_mul(U256::from(FUEL_PER_GAS)) < gas {
            return invalid("fuelPrice × 10 must be at least gasPrice (execution must cost at least its gas)");
        }
        let cap = U256::from(1u8) << 128;
        for (slot, reason) in CAPPED {
            if self.prices[slot as usize] > cap {
                return invalid(reason);
            }
        }
        if self.default_retention_seconds == 0 {
            return invalid("defaultRetentionSeconds must be at least 1");
        }
        Ok(())
    }

    /// Validates, stores and announces the table.
    fn store(self) -> Result<(), FeeError> {
        self.validate()?;
        for (slot, price) in (0u64..).zip(self.prices) {
            PRICES.set(&slot, &price);
        }
        DEFAULT_RETENTION.set(&self.default_retention_seconds);
        DEFAULT_QUOTA.set(&self.default_quota_bytes);
        let [gas_price, fuel_price, network_byte_price, storage_byte_price, cold_byte_day_price] = self.prices;
        PricesChanged {
            by: env::caller(),
            gas_price,
            fuel_price,
            network_byte_price,
            storage_byte_price,
            cold_byte_day_price,
            default_retention_seconds: self.default_retention_seconds,
            default_quota_bytes: self.default_quota_bytes,
        }
        .emit();
        Ok(())
    }
}

fn only_admin() -> Result<(), FeeError> {
    let caller = env::caller();
    if caller != ADMIN.get() {
        return Err(FeeError::NotAdmin(NotAdmin { caller }));
    }
    Ok(())
}

fn price(slot: u64) -> U256 {
    PRICES.get(&slot)
}

/// `a * b`, or the `Error(string)` a quote that overflows reverts with.
fn mul(a: U256, b: U256) -> Result<U256, String> {
    a.checked_mul(b).ok_or_else(|| String::from("quote overflows"))
}

fn add(a: U256, b: U256) -> Result<U256, String> {
    a.checked_add(b).ok_or_else(|| String::from("quote overflows"))
}

/// The fee contract.
pub struct Fee;

#[contract]
impl Fee {
    /// Sets the admin and the price table (see the crate docs for the rules).
    #[constructor]
    #[allow(clippy::too_many_arguments)]
    pub fn constructor(
        admin: Address,
        gas_price: U256,
        fuel_price: U256,
        network_byte_price: U256,
        storage_byte_price: U256,
        cold_byte_day_price: U256,
        default_retention_seconds: u64,
        default_quota_bytes: u64,
    ) -> Result<(), FeeError> {
        ADMIN.set(&admin);
        AdminChanged { previous: Address::ZERO, admin }.emit();
        Table {
            prices: [gas_price, fuel_price, network_byte_price, storage_byte_price, cold_byte_day_price],
            default_retention_seconds,
            default_quota_bytes,
        }
        .store()
    }

    /// Who may change the prices and the admin.
    #[view]
    pub fn admin() -> Address {
        ADMIN.get()
    }

    /// The whole table: gas, fuel, network-byte, storage-byte and cold byte-day prices,
    /// default retention (seconds) and default storage quota (bytes).
    #[view]
    pub fn prices() -> (U256, U256, U256, U256, U256, u64, u64) {
        (
            price(GAS),
            price(FUEL),
            price(NETWORK_BYTE),
            price(STORAGE_BYTE),
            price(COLD_BYTE_DAY),
            DEFAULT_RETENTION.get(),
            DEFAULT_QUOTA.get(),
        )
    }

    /// What the runtime reads: gas price, default quota (bytes), default retention (seconds).
    #[view]
    pub fn schedule() -> (U256, u64, u64) {
        (price(GAS), DEFAULT_QUOTA.get(), DEFAULT_RETENTION.get())
    }

    /// The price of a resource bundle: (compute, network, storage, cold, total).
    /// compute = fuel × fuelPrice; network = txBytes × validators × networkBytePrice
    /// (`validators` 0 counts as 1); storage = storageBytes × storageBytePrice;
    /// cold = ⌈coldByteSeconds × coldByteDayPrice / 86400⌉.
    #[view]
    pub fn quote(
        fuel: u64,
        tx_bytes: u64,
        validators: u32,
        storage_bytes: u64,
        cold_byte_seconds: u64,
    ) -> Result<(U256, U256, U256, U256, U256), String> {
        let compute = mul(U256::from(fuel), price(FUEL))?;
        let copies = mul(U256::from(tx_bytes), U256::from(validators.max(1)))?;
        let network = mul(copies, price(NETWORK_BYTE))?;
        let storage = mul(U256::from(storage_bytes), price(STORAGE_BYTE))?;
        let cold_total = mul(U256::from(cold_byte_seconds), price(COLD_BYTE_DAY))?;
        let day = U256::from(DAY);
        let cold = cold_total / day + U256::from(u8::from(!(cold_total % day).is_zero()));
        let total = add(add(add(compute, network)?, storage)?, cold)?;
        Ok((compute, network, storage, cold, total))
    }

    /// Replaces the price table. Admin only; emits `PricesChanged`.
    #[allow(clippy::too_many_arguments)]
    pub fn set_prices(
        gas_price: U256,
        fuel_price: U256,
        network_byte_price: U256,
        storage_byte_price: U256,
        cold_byte_day_price: U256,
        default_retention_seconds: u64,
        default_quota_bytes: u64,
    ) -> Result<(), FeeError> {
        only_admin()?;
        Table {
            prices: [gas_price, fuel_price, network_byte_price, storage_byte_price, cold_byte_day_price],
            default_retention_seconds,
            default_quota_bytes,
        }
        .store()
    }

    /// Hands the admin role to `admin` (the zero address: nobody, for good). Admin only;
    /// emits `AdminChanged`.
    pub fn set_admin(admin: Address) -> Result<(), FeeError> {
        only_admin()?;
        let previous = ADMIN.get();
        ADMIN.set(&admin);
        AdminChanged { previous, admin }.emit();
        Ok(())
    }
}
