use super::*;
use std::collections::BTreeMap;
use strata_primitives::{LocalSigner, b256, transaction::build};
use strata_vm::VmConfig;

#[derive(Default)]
struct MapState(BTreeMap<Address, Account>);
impl StateReader for MapState {
    fn account(&self, a: &Address) -> strata_state::Result<Option<Account>> {
        Ok(self.0.get(a).copied())
    }
    fn storage(&self, _: &Address, _: &[u8]) -> strata_state::Result<Option<Vec<u8>>> {
        Ok(None)
    }
    fn code(&self, _: &B256) -> strata_state::Result<Option<Bytes>> {
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

fn funded(balance: u128) -> Arc<dyn StateReader + Send + Sync> {
    Arc::new(MapState(BTreeMap::from([(key().address(), Account::with_balance(U256::from(balance)))])))
}

fn vm() -> Arc<Vm> {
    Arc::new(Vm::new(VmConfig::default()).unwrap())
}

fn builder(balance: u128) -> BlockBuilder {
    BlockBuilder::new(env(), funded(balance), vm())
}

fn included(b: &mut BlockBuilder, t: &RecoveredTx) -> StoredReceipt {
    match b.apply(t).unwrap() {
        Applied::Included(r) => r,
        Applied::Rejected(e) => panic!("rejected: {e}"),
    }
}

#[test]
fn transfer_moves_value_and_pays_fee_to_proposer() {
    let mut b = builder(10u128.pow(18));
    let r = included(&mut b, &transfer(0, 1000, 1337));
    assert!(r.success);
    assert_eq!(r.gas_used, 21_000);
    assert_eq!(r.effective_gas_price, 3 * GWEI);
    assert_eq!(r.logs.last().unwrap().address, strata_primitives::RESOURCE_LOG_ADDRESS);
    let done = b.finish();
    let fee = U256::from(21_000u128 * 3 * GWEI);
    let sender = done.changes.accounts[&key().address()].unwrap();
    assert_eq!(sender.nonce, 1);
    assert_eq!(sender.balance, U256::from(10u128.pow(18)) - U256::from(1000u64) - fee);
    assert_eq!(done.changes.accounts[&Address::repeat_byte(0xaa)].unwrap().balance, U256::from(1000u64));
    assert_eq!(done.changes.accounts[&Address::repeat_byte(0xee)].unwrap().balance, fee);
}

#[test]
fn invalid_transactions_change_nothing() {
    let mut b = builder(10u128.pow(18));
    assert!(matches!(b.apply(&transfer(0, 1, 1)).unwrap(), Applied::Rejected(InvalidTx::WrongChainId { got: 1, expected: 1337 })));
    assert!(matches!(b.apply(&transfer(1, 1, 1337)).unwrap(), Applied::Rejected(InvalidTx::NonceTooHigh { .. })));
    included(&mut b, &transfer(0, 1, 1337));
    assert!(matches!(b.apply(&transfer(0, 1, 1337)).unwrap(), Applied::Rejected(InvalidTx::NonceTooLow { expected: 1, got: 0 })));
    assert_eq!(b.len(), 1);
}

#[test]
fn insufficient_funds_counts_the_fee_cap() {
    let mut b = builder(21_000 * 3 * GWEI - 1);
    let Applied::Rejected(InvalidTx::InsufficientFunds { want, .. }) = b.apply(&transfer(0, 0, 1337)).unwrap() else { panic!() };
    assert_eq!(want, U256::from(21_000 * 3 * GWEI));
    assert!(b.finish().changes.accounts.is_empty());
}

/// A counter: `call` with input "inc" adds one to storage key "n" and logs it;
/// input "boom" increments then reverts; "get" returns the value; "callme" calls
/// the address in bytes 6..26 of the input with the rest as input and returns its
/// status; the constructor stores its input under "owner".
pub(crate) const COUNTER: &str = include_str!("../../../tests/wat/counter.wat");

fn deploy_data(wat: &str, ctor: &[u8]) -> Vec<u8> {
    deploy::encode(&wat::parse_str(wat).unwrap(), ctor)
}

fn storage_of(changes: &StateChanges, a: &Address, key: &[u8]) -> Option<Vec<u8>> {
    changes.storage.get(a).and_then(|s| s.get(key)).cloned().flatten().map(|v| v.to_vec())
}

#[test]
fn deploy_call_revert_and_nested_rollback() {
    let mut b = builder(10u128.pow(20));
    let r = included(&mut b, &tx(0, TxKind::Create, 5, deploy_data(COUNTER, b"alice"), 2_000_000));
    assert!(r.success, "{:?}", String::from_utf8_lossy(&r.failure));
    let c = r.contract_address().unwrap();
    assert_eq!(c, key().address().create(0));
    let r = included(&mut b, &tx(1, TxKind::Call(c), 0, b"inc".to_vec(), 200_000));
    assert!(r.success);
    assert_eq!(r.logs.len(), 2, "the contract's log and the resource log");
    assert_eq!(r.logs[0].address, c);
    assert!(r.resources.storage_bytes_added > 0 && r.resources.fuel > 0);
    // A revert rolls back its increment, keeps the sender's payment.
    let r = included(&mut b, &tx(2, TxKind::Call(c), 0, b"boom".to_vec(), 200_000));
    assert!(!r.success);
    assert_eq!(&r.output[..], b"boom");
    assert_eq!(r.logs.len(), 1, "only the resource log survives a revert");
    // A contract calling itself is refused (re-entrancy), and its own increment stays.
    let mut input = b"callme".to_vec();
    input.extend_from_slice(c.as_slice());
    input.extend_from_slice(b"inc");
    let r = included(&mut b, &tx(3, TxKind::Call(c), 0, input, 500_000));
    assert!(r.success);
    assert_eq!(&r.output[..], &2u32.to_le_bytes(), "nested status 2: refused");
    // An out-of-gas call fails, charged its whole gas limit.
    let r = included(&mut b, &tx(4, TxKind::Call(c), 0, b"inc".to_vec(), 21_000 + 2_100));
    assert!(!r.success);
    assert_eq!(r.gas_used, 21_000 + 2_100);
    assert!(String::from_utf8_lossy(&r.failure).contains("out of gas"));
    let done = b.finish();
    assert_eq!(storage_of(&done.changes, &c, b"n"), Some(2u64.to_le_bytes().to_vec()), "inc + callme's inc");
    assert_eq!(storage_of(&done.changes, &c, b"owner"), Some(b"alice".to_vec()));
    assert_eq!(done.changes.accounts[&c].unwrap().balance, U256::from(5u64));
}

#[test]
fn bad_deploys_fail_in_a_receipt_and_charge_the_sender() {
    let mut b = builder(10u128.pow(20));
    let hostile = deploy::encode(
        &wat::parse_str(r#"(module (memory (export "memory") 1) (func $s) (start $s) (func (export "call")))"#).unwrap(),
        b"",
    );
    let r = included(&mut b, &tx(0, TxKind::Create, 0, hostile, 1_000_000));
    assert!(!r.success);
    assert!(String::from_utf8_lossy(&r.failure).contains("start"), "{}", String::from_utf8_lossy(&r.failure));
    assert_eq!(r.gas_used, 1_000_000);
    let r = included(&mut b, &tx(1, TxKind::Create, 0, b"\0asm-but-not-framed".to_vec(), 1_000_000));
    assert!(!r.success);
    let done = b.finish();
    assert_eq!(done.changes.accounts[&key().address()].unwrap().nonce, 2);
    assert!(done.changes.code.is_empty());
}

#[test]
fn identical_blocks_on_independent_states_agree() {
    let run = || {
        let mut b = builder(10u128.pow(20));
        let r = included(&mut b, &tx(0, TxKind::Create, 0, deploy_data(COUNTER, b"x"), 2_000_000));
        let c = r.contract_address().unwrap();
        for n in 1..6 {
            let input = if n % 2 == 0 { b"boom".to_vec() } else { b"inc".to_vec() };
            included(&mut b, &tx(n, TxKind::Call(c), 1, input, 300_000));
        }
        included(&mut b, &transfer(6, 9, 1337));
        let done = b.finish();
        (done.transactions_root, done.receipts_root, done.changes, done.gas_used, done.receipts)
    };
    assert_eq!(run(), run());
}

#[test]
fn simulation_and_estimation() {
    let state = funded(10u128.pow(20));
    let v = vm();
    let sim = Simulation { from: key().address(), to: None, value: U256::ZERO, input: deploy_data(COUNTER, b"o").into(), gas: 5_000_000 };
    let out = simulate(state.clone(), v.clone(), env(), &sim).unwrap();
    assert!(out.success && out.contract_address == Some(key().address().create(0)));
    let estimate = estimate_gas(state.clone(), v.clone(), env(), &sim, 30_000_000).unwrap().unwrap();
    assert!(estimate <= out.gas_used + 1 && estimate > 53_000);
    assert!(simulate(state.clone(), v.clone(), env(), &Simulation { gas: estimate, ..sim.clone() }).unwrap().success);
    assert!(!simulate(state, v, env(), &Simulation { gas: estimate - 1, ..sim }).unwrap().success);
}

#[test]
fn reentrancy_is_refused_unless_the_contract_opts_in() {
    let mut b = builder(10u128.pow(20));
    let refused = included(&mut b, &tx(0, TxKind::Create, 0, deploy_data(include_str!("../../../tests/wat/reenter.wat"), b""), 2_000_000));
    let allowed =
        included(&mut b, &tx(1, TxKind::Create, 0, deploy_data(include_str!("../../../tests/wat/reenter_allowed.wat"), b""), 2_000_000));
    let r = included(&mut b, &tx(2, TxKind::Call(refused.contract_address().unwrap()), 0, vec![], 5_000_000));
    assert_eq!(&r.output[..], &2u32.to_le_bytes(), "nested self-call refused");
    let r = included(&mut b, &tx(3, TxKind::Call(allowed.contract_address().unwrap()), 0, vec![], 5_000_000));
    assert!(r.success);
    assert_eq!(&r.output[..], &0u32.to_le_bytes(), "nested self-call ran (the depth limit ends the recursion)");
}
