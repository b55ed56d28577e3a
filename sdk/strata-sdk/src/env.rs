//! The call's environment.

pub use crate::host::{balance, block_hash, block_number, block_timestamp, call_value, caller, chain_id, gas_left, origin, self_address};
