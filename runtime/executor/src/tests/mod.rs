//! The executor's tests, by topic: blocks (`block`), simulation (`simulate`), the
//! storage market (`archive`) and the bounds of a block and a call chain (`limits`).
//! Here: the shared fixtures — a funded state with the system contracts, signed
//! transactions, the test contracts.
#![allow(clippy::arithmetic_side_effects)] // test arithmetic on small known values

mod archive;
mod block;
mod limits;
mod simulate;

use std::sync::Arc;

use strata_primitives::{
    Account, Address, B256, Bytes, EMPTY_ROOT_HASH, LocalSigner, RecoveredTx, ResourceUsage, StoredReceipt, TxKind, U256, b256, deploy,
    keccak256, transaction::build,
};
use strata_state::{StateChanges, StateDb, StateReader};
use strata_storage::{Column, MemKv, WriteBatch};
use strata_vm::{Vm, VmConfig, gas};

use super::*;

const GWEI: u128 = 1_000_000_000;

fn env() -> BlockEnv {
    BlockEnv {
        chain_id: 1337,
        number: 1,
        parent_hash: B256::repeat_byte(0xbb),
        timestamp: 10,
        proposer: Address::repeat_byte(0xee),
        gas_limit: 30_000_000,
        base_fee: GWEI as u64,
        replicas: 1,
    }
}

/// The fee recipients of the test blocks: the proposer and one more validator.
fn payees() -> Payees {
    Arc::new([(Address::repeat_byte(0xee), 1), (Address::repeat_byte(0xef), 1)])
}

fn key() -> LocalSigner {
    LocalSigner::from_bytes(&b256!("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")).unwrap()
}

fn tx(nonce: u64, to: TxKind, value: u64, input: Vec<u8>, gas: u64) -> RecoveredTx {
    let t = build::eip1559(1337, nonce, to, U256::from(value), input.into(), gas, 3 * GWEI, 2 * GWEI);
    RecoveredTx { sender: key().address(), tx: key().sign_transaction(t).unwrap() }
}

fn transfer(nonce: u64, value: u64, chain_id: u64) -> RecoveredTx {
    let t = build::eip1559(
        chain_id,
        nonce,
        TxKind::Call(Address::repeat_byte(0xaa)),
        U256::from(value),
        Bytes::new(),
        21_000,
        3 * GWEI,
        2 * GWEI,
    );
    RecoveredTx { sender: key().address(), tx: key().sign_transaction(t).unwrap() }
}

/// A committed state: `key()` holds `balance`, and the system contracts are installed.
fn funded(balance: u128) -> Arc<dyn StateReader + Send + Sync> {
    funded_db(balance).0
}

/// [`funded`], with the database and its root (to commit more blocks on it).
fn funded_db(balance: u128) -> (Arc<dyn StateReader + Send + Sync>, StateDb, B256, strata_storage::SharedKv) {
    funded_with(balance, &system::Prices::dev())
}

/// [`funded_db`] with other prices.
fn funded_with(balance: u128, prices: &system::Prices) -> (Arc<dyn StateReader + Send + Sync>, StateDb, B256, strata_storage::SharedKv) {
    let kv = MemKv::shared();
    let db = StateDb::new(kv.clone(), 4);
    let mut alloc = StateChanges::default();
    alloc.accounts.insert(key().address(), Some(Account::with_balance(U256::from(balance))));
    let mut batch = WriteBatch::new();
    let root = db.commit(0, EMPTY_ROOT_HASH, &alloc, &mut batch).unwrap();
    kv.write(batch).unwrap();
    let system = system::install(&vm(), Arc::new(db.clone()), env(), key().address(), prices, &Default::default()).unwrap();
    let mut batch = WriteBatch::new();
    let root = db.commit(0, root, &system, &mut batch).unwrap();
    kv.write(batch).unwrap();
    (Arc::new(db.clone()), db, root, kv)
}

fn vm() -> Arc<Vm> {
    Arc::new(Vm::new(VmConfig::default()).unwrap())
}

fn builder(balance: u128) -> BlockBuilder {
    BlockBuilder::new(env(), funded(balance), vm(), MemKv::shared(), payees()).unwrap()
}

/// Gas of a transaction that runs nothing, at the dev prices with one validator:
/// its fixed fuel plus 16 gas per byte.
fn base_gas(t: &RecoveredTx) -> u64 {
    TX_BASE_FUEL / gas::FUEL_PER_GAS + 16 * t.tx.encoded().len() as u64
}

fn included(b: &mut BlockBuilder, t: &RecoveredTx) -> StoredReceipt {
    match b.apply(t).unwrap() {
        Applied::Included(r) => *r,
        Applied::Rejected(e) => panic!("rejected: {e}"),
    }
}

/// A counter: `call` with input "inc" adds one to storage key "n" and logs it;
/// input "boom" increments then reverts; "get" returns the value; "callme" calls
/// the address in bytes 6..26 of the input with the rest as input and returns its
/// status; the constructor stores its input under "owner".
pub(crate) const COUNTER: &str = include_str!("../../../../tests/wat/counter.wat");

fn deploy_data(wat: &str, ctor: &[u8]) -> Vec<u8> {
    deploy::encode(&wat::parse_str(wat).unwrap(), ctor)
}

fn storage_of(changes: &StateChanges, a: &Address, key: &[u8]) -> Option<Vec<u8>> {
    changes.storage.get(a).and_then(|s| s.get(key)).cloned().flatten().and_then(|s| s.value().map(|v| v.to_vec()))
}
