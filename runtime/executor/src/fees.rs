//! Fees: the runtime asks the fee contract, and splits what it collects among the
//! validators.
//!
//! The price table and the pricing function are chain data — the Wasm fee contract
//! at [`FEE_CONTRACT`] — not node code. The runtime measures the resources a
//! transaction used and calls the contract's `quote`, always on the block's parent
//! state, so a price change by the admin applies from the next block, identically
//! on every node.

use std::sync::Arc;

use alloy_sol_types::SolCall;
use strata_primitives::{Address, FeeBreakdown, ResourceUsage, U256, system::FEE_CONTRACT};
use strata_state::{StateChanges, StateReader};
use strata_vm::{Entry, Status, Vm};

use crate::{
    BlockEnv, Error, Result,
    frame::run_frame,
    session::{Session, no_cold},
};

use strata_primitives::interfaces::IFee;

/// Gas a system view (a fee quote) may use; it is the runtime's, not charged to anyone.
const SYSTEM_VIEW_GAS: u64 = 5_000_000;

/// Fuel every transaction uses besides its execution: signature recovery, nonce and
/// balance updates, receipt. Priced like any fuel.
pub const TX_BASE_FUEL: u64 = 100_000;

/// What the runtime reads from the fee contract once per block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Wei per gas unit: the block's base fee.
    pub gas_price: u64,
    /// Quota a new contract gets (and its deployer buys).
    pub default_quota: u64,
    /// Retention when an archive request names none (seconds).
    pub default_retention: u64,
}

/// Runs a read-only call of a system contract on `base`, outside any transaction.
fn system_view(base: &Arc<dyn StateReader + Send + Sync>, vm: &Arc<Vm>, env: BlockEnv, to: Address, input: Vec<u8>) -> Result<Vec<u8>> {
    let session = Session::new(base.clone(), vm.clone(), env, no_cold(), StateChanges::default(), Default::default(), Address::ZERO);
    let contract =
        session.contract_at(&to)?.ok_or_else(|| Error::FeeContract(format!("no contract at {to}: genesis lacks system contracts")))?;
    let mut ctx = session.context(to, Address::ZERO, U256::ZERO, true, 0);
    ctx.is_static = true;
    let (_, outcome) = run_frame(session, ctx, &contract, Entry::Call, input, SYSTEM_VIEW_GAS);
    let outcome = outcome?;
    match outcome.status {
        Status::Success => Ok(outcome.output),
        Status::Revert => Err(Error::FeeContract(format!("{to} reverted: 0x{}", strata_primitives::hex::encode(&outcome.output)))),
        Status::Failure(reason) => Err(Error::FeeContract(format!("{to} failed: {reason}"))),
    }
}

/// The fee contract's schedule on `base` (the parent state of the block `env` describes).
pub fn schedule(base: &Arc<dyn StateReader + Send + Sync>, vm: &Arc<Vm>, env: BlockEnv) -> Result<Schedule> {
    let out = system_view(base, vm, env, FEE_CONTRACT, IFee::scheduleCall {}.abi_encode())?;
    let r = IFee::scheduleCall::abi_decode_returns(&out).map_err(|e| Error::FeeContract(format!("schedule(): {e}")))?;
    let gas_price = u64::try_from(r.gasPrice).ok().filter(|p| *p > 0);
    let gas_price = gas_price.ok_or_else(|| Error::FeeContract(format!("gas price {} is not in 1..=2^64-1", r.gasPrice)))?;
    Ok(Schedule { gas_price, default_quota: r.defaultQuotaBytes, default_retention: r.defaultRetentionSeconds })
}

/// The fee contract's quote for `usage` (its `fee` field is ignored), on `base`.
pub fn quote(base: &Arc<dyn StateReader + Send + Sync>, vm: &Arc<Vm>, env: BlockEnv, usage: &ResourceUsage) -> Result<FeeBreakdown> {
    let call = IFee::quoteCall {
        fuel: usage.fuel,
        txBytes: usage.tx_bytes,
        validators: u32::try_from(usage.replicas).unwrap_or(u32::MAX),
        storageBytes: usage.storage_bytes_paid,
        coldByteSeconds: usage.cold_byte_seconds,
    };
    let out = system_view(base, vm, env, FEE_CONTRACT, call.abi_encode())?;
    let r = IFee::quoteCall::abi_decode_returns(&out).map_err(|e| Error::FeeContract(format!("quote(): {e}")))?;
    Ok(FeeBreakdown { compute: r.compute, network: r.network, storage: r.storageCost, cold: r.cold, total: r.total, charged: U256::ZERO })
}

/// Most quotes a [`Quotes`] memo remembers.
const MAX_MEMO: usize = 4096;

/// Quotes already asked of the fee contract on one state. A quote is a pure function
/// of that state and the resource figures, so within a block (one parent state) the
/// same figures get the same answer without running the contract again.
#[derive(Debug, Default)]
pub struct Quotes {
    memo: std::collections::BTreeMap<(u64, u64, u64, u64, u64), FeeBreakdown>,
    disabled: bool,
}

impl Quotes {
    /// A memo that never remembers (every quote runs the contract): for benchmarks.
    pub fn uncached() -> Self {
        Self { memo: Default::default(), disabled: true }
    }

    /// [`quote`], remembered.
    pub fn quote(
        &mut self,
        base: &Arc<dyn StateReader + Send + Sync>,
        vm: &Arc<Vm>,
        env: BlockEnv,
        usage: &ResourceUsage,
    ) -> Result<FeeBreakdown> {
        let key = (usage.fuel, usage.tx_bytes, usage.replicas, usage.storage_bytes_paid, usage.cold_byte_seconds);
        if let Some(f) = self.memo.get(&key) {
            return Ok(*f);
        }
        let f = quote(base, vm, env, usage)?;
        if !self.disabled {
            // Bounded: a memo that outlives a block (admission's, per head) cannot grow
            // with every distinct transaction size it is asked about.
            if self.memo.len() >= MAX_MEMO {
                self.memo.clear();
            }
            self.memo.insert(key, f);
        }
        Ok(f)
    }
}

/// Gas units covering `fee` at `price` wei each (rounded up: a started unit is paid).
pub fn gas_for(fee: U256, price: u64) -> u64 {
    let price = U256::from(price.max(1));
    let gas = fee.div_ceil(price);
    u64::try_from(gas).unwrap_or(u64::MAX)
}

/// Splits `amount` among `payees` by weight: each gets `amount × weight / total`,
/// rounded down; the rounding remainder goes to `proposer` if it is a payee, else
/// to the first payee. With no payees (or no weight) the proposer gets it all.
/// Zero shares are left out. Sums exactly to `amount`.
pub fn split(amount: U256, payees: &[(Address, u64)], proposer: Address) -> Vec<(Address, U256)> {
    let total: u128 = payees.iter().map(|(_, w)| u128::from(*w)).sum();
    if payees.is_empty() || total == 0 {
        return if amount.is_zero() { Vec::new() } else { vec![(proposer, amount)] };
    }
    let total = U256::from(total);
    let mut shares: Vec<(Address, U256)> = payees
        .iter()
        .map(|(a, w)| {
            // Fees are far below 2^190, so amount × weight fits; if it ever did not, divide first.
            let weight = U256::from(*w);
            let share = match amount.checked_mul(weight) {
                Some(p) => p.checked_div(total),
                None => amount.checked_div(total).map(|q| q.saturating_mul(weight)),
            }
            .unwrap_or_default();
            (*a, share)
        })
        .collect();
    let paid = shares.iter().fold(U256::ZERO, |acc, (_, s)| acc.saturating_add(*s));
    let remainder = amount.saturating_sub(paid);
    let idx = shares.iter().position(|(a, _)| *a == proposer).unwrap_or(0);
    shares[idx].1 = shares[idx].1.saturating_add(remainder);
    shares.retain(|(_, s)| !s.is_zero());
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_exact_and_weighted() {
        let (a, b, c) = (Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3));
        let s = split(U256::from(100u64), &[(a, 3), (b, 2), (c, 1)], b);
        assert_eq!(s, vec![(a, U256::from(50u64)), (b, U256::from(34u64)), (c, U256::from(16u64))]);
        let equal = split(U256::from(10u64), &[(a, 1), (b, 1), (c, 1)], c);
        assert_eq!(equal, vec![(a, U256::from(3u64)), (b, U256::from(3u64)), (c, U256::from(4u64))]);
        assert_eq!(split(U256::from(7u64), &[], a), vec![(a, U256::from(7u64))]);
        assert_eq!(split(U256::from(1u64), &[(a, 1), (b, 1)], c), vec![(a, U256::from(1u64))], "remainder to the first payee");
        for amount in [0u64, 1, 999, 1_000_000_007] {
            let total = split(U256::from(amount), &[(a, 5), (b, 3), (c, 2)], a).iter().fold(U256::ZERO, |x, (_, s)| x + *s);
            assert_eq!(total, U256::from(amount));
        }
    }

    #[test]
    fn gas_rounds_up() {
        assert_eq!(gas_for(U256::from(10u64), 3), 4);
        assert_eq!(gas_for(U256::from(9u64), 3), 3);
        assert_eq!(gas_for(U256::ZERO, 3), 0);
    }
}
