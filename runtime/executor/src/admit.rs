//! Admission: the checks a transaction must pass before it may wait in the mempool
//! (stateless rules, a gas limit covering its minimum fee), and that minimum.

use std::sync::Arc;

use strata_primitives::{ResourceUsage, TransactionSigned};
use strata_state::StateReader;
use strata_vm::Vm;

use crate::{
    BlockEnv, Result,
    fees::{self, TX_BASE_FUEL},
    validate::{InvalidTx, validate_stateless},
};

/// Gas a transaction of `tx_bytes` bytes costs before it runs anything: its fixed
/// fuel and its network bytes, priced by the fee contract on `base`.
pub fn min_gas(base: &Arc<dyn StateReader + Send + Sync>, vm: &Arc<Vm>, env: BlockEnv, tx_bytes: u64) -> Result<u64> {
    min_gas_quoted(base, vm, env, tx_bytes, &mut fees::Quotes::default())
}

pub(crate) fn min_gas_quoted(
    base: &Arc<dyn StateReader + Send + Sync>,
    vm: &Arc<Vm>,
    env: BlockEnv,
    tx_bytes: u64,
    quotes: &mut fees::Quotes,
) -> Result<u64> {
    let usage = ResourceUsage { fuel: TX_BASE_FUEL, tx_bytes, replicas: env.replicas, ..ResourceUsage::default() };
    Ok(fees::gas_for(quotes.quote(base, vm, env, &usage)?.total, env.base_fee))
}

/// The admission checks that need no nonce order: stateless rules and a gas limit
/// covering the transaction's minimum fee. (The mempool checks nonce and balance.)
/// `quotes` remembers the fee contract's answers on `base` (one memo per state).
pub fn admit(
    base: &Arc<dyn StateReader + Send + Sync>,
    vm: &Arc<Vm>,
    env: BlockEnv,
    tx: &TransactionSigned,
    quotes: &mut fees::Quotes,
) -> Result<Result<(), InvalidTx>> {
    if let Err(e) = validate_stateless(tx, &env) {
        return Ok(Err(e));
    }
    let want = min_gas_quoted(base, vm, env, tx.encoded_len() as u64, quotes)?;
    if tx.gas_limit() < want {
        return Ok(Err(InvalidTx::IntrinsicGasTooLow { have: tx.gas_limit(), want }));
    }
    Ok(Ok(()))
}
