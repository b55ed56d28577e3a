use super::*;
use std::collections::BTreeMap;
use strata_primitives::{Account, Bytes, LocalSigner, TxKind, b256, transaction::build};
use strata_state::StateReader;

struct MapState(BTreeMap<Address, Account>);
impl StateReader for MapState {
    fn account(&self, a: &Address) -> strata_state::Result<Option<Account>> {
        Ok(self.0.get(a).copied())
    }
    fn storage(&self, _: &Address, _: &[u8]) -> strata_state::Result<Option<Vec<u8>>> {
        Ok(None)
    }
}

const GWEI: u128 = 1_000_000_000;

fn env() -> BlockEnv {
    BlockEnv {
        chain_id: 1337,
        number: 1,
        timestamp: 10,
        proposer: Address::repeat_byte(0xee),
        gas_limit: 30_000_000,
        base_fee: GWEI as u64,
    }
}

fn key() -> LocalSigner {
    LocalSigner::from_bytes(&b256!("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")).unwrap()
}

fn transfer(nonce: u64, value: u64, chain_id: u64) -> RecoveredTx {
    let tx = build::eip1559(
        chain_id,
        nonce,
        TxKind::Call(Address::repeat_byte(0xaa)),
        U256::from(value),
        Bytes::new(),
        21_000,
        3 * GWEI,
        2 * GWEI,
    );
    let tx = key().sign_transaction(tx).unwrap();
    RecoveredTx { sender: key().address(), tx }
}

fn funded(balance: u128) -> MapState {
    MapState(BTreeMap::from([(key().address(), Account::with_balance(U256::from(balance)))]))
}

#[test]
fn transfer_moves_value_and_pays_fee_to_proposer() {
    let state = funded(10u128.pow(18));
    let mut b = BlockBuilder::new(env(), &state);
    let Applied::Included(r) = b.apply(&transfer(0, 1000, 1337)).unwrap() else { panic!("rejected") };
    assert!(r.success);
    assert_eq!(r.gas_used, 21_000);
    // min(maxFee 3 gwei, base 1 + tip 2) = 3 gwei
    assert_eq!(r.effective_gas_price, 3 * GWEI);
    let done = b.finish();
    let fee = U256::from(21_000u128 * 3 * GWEI);
    let sender = done.changes.accounts[&key().address()].unwrap();
    assert_eq!(sender.nonce, 1);
    assert_eq!(sender.balance, U256::from(10u128.pow(18)) - U256::from(1000u64) - fee);
    assert_eq!(done.changes.accounts[&Address::repeat_byte(0xaa)].unwrap().balance, U256::from(1000u64));
    assert_eq!(done.changes.accounts[&Address::repeat_byte(0xee)].unwrap().balance, fee);
    assert_eq!(done.gas_used, 21_000);
}

#[test]
fn invalid_transactions_change_nothing() {
    let state = funded(10u128.pow(18));
    let mut b = BlockBuilder::new(env(), &state);
    assert!(matches!(b.apply(&transfer(0, 1, 1)).unwrap(), Applied::Rejected(InvalidTx::WrongChainId { got: 1, expected: 1337 })));
    assert!(matches!(b.apply(&transfer(1, 1, 1337)).unwrap(), Applied::Rejected(InvalidTx::NonceTooHigh { .. })));
    let Applied::Included(_) = b.apply(&transfer(0, 1, 1337)).unwrap() else { panic!() };
    assert!(matches!(b.apply(&transfer(0, 1, 1337)).unwrap(), Applied::Rejected(InvalidTx::NonceTooLow { expected: 1, got: 0 })));
    assert_eq!(b.len(), 1);
}

#[test]
fn insufficient_funds_counts_the_fee_cap() {
    // Enough for value + gas at the effective price, not at the fee cap: refused like Ethereum.
    let state = funded(21_000 * 3 * GWEI - 1);
    let mut b = BlockBuilder::new(env(), &state);
    let Applied::Rejected(InvalidTx::InsufficientFunds { want, .. }) = b.apply(&transfer(0, 0, 1337)).unwrap() else { panic!() };
    assert_eq!(want, U256::from(21_000 * 3 * GWEI));
    assert!(b.finish().changes.accounts.is_empty());
}

#[test]
fn identical_input_gives_identical_roots() {
    let run = || {
        let state = funded(10u128.pow(18));
        let mut b = BlockBuilder::new(env(), &state);
        for n in 0..5 {
            b.apply(&transfer(n, n * 7, 1337)).unwrap();
        }
        let done = b.finish();
        (done.transactions_root, done.receipts_root, done.changes)
    };
    assert_eq!(run(), run());
}
