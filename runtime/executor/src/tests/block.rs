//! Blocks: transfers and fees, invalid transactions, deploys, calls, reverts and
//! nested rollback, re-entrancy, and determinism across independent builders.

use strata_primitives::{
    Slot,
    system::{BLOCK_HASHES, block_hash_key},
};

use super::*;

#[test]
fn transfer_moves_value_and_pays_the_quoted_fee_to_the_validators() {
    let mut b = builder(10u128.pow(18));
    let t = transfer(0, 1000, 1337);
    let r = included(&mut b, &t);
    assert!(r.success);
    assert_eq!(r.gas_used, base_gas(&t), "fixed fuel + network bytes, priced by the fee contract");
    assert_eq!(r.effective_gas_price, GWEI, "the base fee; no tip is charged");
    let fee = U256::from(u128::from(r.gas_used) * GWEI);
    assert_eq!(r.resources.fee.charged, fee);
    assert_eq!(r.resources.fee.total, fee, "dev prices are whole gas units");
    assert_eq!(r.resources.fee.compute + r.resources.fee.network, fee);
    assert_eq!(ResourceUsage::from_log(&r.logs[0]), Some(r.resources));
    let payouts: Vec<_> = r.logs.iter().filter_map(strata_primitives::system::parse_payout).collect();
    assert_eq!(payouts.len(), 2);
    assert_eq!(payouts.iter().map(|(_, a)| *a).fold(U256::ZERO, |x, y| x + y), fee, "payouts add up to the fee");
    let done = b.finish();
    let sender = done.changes.accounts[&key().address()].unwrap();
    assert_eq!(sender.nonce, 1);
    assert_eq!(sender.balance, U256::from(10u128.pow(18)) - U256::from(1000u64) - fee);
    assert_eq!(done.changes.accounts[&Address::repeat_byte(0xaa)].unwrap().balance, U256::from(1000u64));
    let paid = |a: u8| done.changes.accounts[&Address::repeat_byte(a)].unwrap().balance;
    assert_eq!(paid(0xee) + paid(0xef), fee);
    assert_eq!(paid(0xee), payouts[0].1);
}

#[test]
fn a_gas_limit_below_the_quoted_minimum_is_refused_and_a_fee_above_the_allowance_fails() {
    let mut b = builder(10u128.pow(20));
    let low = build::eip1559(1337, 0, TxKind::Call(Address::repeat_byte(0xaa)), U256::from(1u64), Bytes::new(), 9_000, 3 * GWEI, 0);
    let low = RecoveredTx { sender: key().address(), tx: key().sign_transaction(low).unwrap() };
    let Applied::Rejected(InvalidTx::IntrinsicGasTooLow { have, want }) = b.apply(&low).unwrap() else { panic!("accepted") };
    assert_eq!((have, want), (9_000, base_gas(&low)));
    // A deploy buys its code and default quota: enough gas to run, not to pay for that.
    let r = included(&mut b, &tx(0, TxKind::Create, 0, deploy_data(COUNTER, b"alice"), 150_000));
    assert!(!r.success);
    let reason = String::from_utf8_lossy(&r.failure);
    assert!(reason.contains("exceeds the sender's allowance"), "{reason}");
    assert!(r.gas_used <= 150_000 && r.resources.storage_bytes_paid == 0 && r.resources.fee.storage.is_zero());
    let done = b.finish();
    assert!(done.changes.code.is_empty(), "nothing the failed deploy did was kept");
    assert_eq!(done.changes.accounts[&key().address()].unwrap().nonce, 1);
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
    // Nothing but the block-hash history (written at every block's start) changed.
    let changes = b.finish().changes;
    assert_eq!(changes.accounts.keys().collect::<Vec<_>>(), vec![&BLOCK_HASHES]);
    assert_eq!(changes.storage.keys().collect::<Vec<_>>(), vec![&BLOCK_HASHES]);
}

#[test]
fn every_block_records_its_parents_hash_in_the_history() {
    let b = builder(10u128.pow(18));
    let changes = b.finish().changes;
    let parent = env().number - 1;
    let slot = &changes.storage[&BLOCK_HASHES][&Bytes::copy_from_slice(&block_hash_key(parent))];
    assert_eq!(slot, &Some(Slot::Value(Bytes::copy_from_slice(env().parent_hash.as_slice()))));
    assert_eq!(changes.accounts[&BLOCK_HASHES].unwrap().nonce, 1, "created on the first block");
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
    assert_eq!(r.logs.len(), 4, "the contract's log, the resource log and two payouts");
    assert_eq!(r.logs[0].address, c);
    assert!(r.resources.storage_bytes_added > 0 && r.resources.fuel > 0);
    // A revert rolls back its increment, keeps the sender's payment.
    let r = included(&mut b, &tx(2, TxKind::Call(c), 0, b"boom".to_vec(), 200_000));
    assert!(!r.success);
    assert_eq!(&r.output[..], b"boom");
    assert_eq!(r.logs.len(), 3, "only the resource and payout logs survive a revert");
    // A contract calling itself is refused (re-entrancy), and its own increment stays.
    let mut input = b"callme".to_vec();
    input.extend_from_slice(c.as_slice());
    input.extend_from_slice(b"inc");
    let r = included(&mut b, &tx(3, TxKind::Call(c), 0, input, 500_000));
    assert!(r.success);
    assert_eq!(&r.output[..], &2u32.to_le_bytes(), "nested status 2: refused");
    // An out-of-gas call fails, charged its whole gas limit.
    let probe = tx(4, TxKind::Call(c), 0, b"inc".to_vec(), 0);
    let limit = base_gas(&probe) + 2_100;
    let r = included(&mut b, &tx(4, TxKind::Call(c), 0, b"inc".to_vec(), limit));
    assert!(!r.success);
    assert_eq!(r.gas_used, limit);
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
fn reentrancy_is_refused_unless_the_contract_opts_in() {
    let mut b = builder(10u128.pow(20));
    let refused =
        included(&mut b, &tx(0, TxKind::Create, 0, deploy_data(include_str!("../../../../tests/wat/reenter.wat"), b""), 2_000_000));
    let allowed =
        included(&mut b, &tx(1, TxKind::Create, 0, deploy_data(include_str!("../../../../tests/wat/reenter_allowed.wat"), b""), 2_000_000));
    let r = included(&mut b, &tx(2, TxKind::Call(refused.contract_address().unwrap()), 0, vec![], 5_000_000));
    assert_eq!(&r.output[..], &2u32.to_le_bytes(), "nested self-call refused");
    let r = included(&mut b, &tx(3, TxKind::Call(allowed.contract_address().unwrap()), 0, vec![], 5_000_000));
    assert!(r.success);
    assert_eq!(&r.output[..], &0u32.to_le_bytes(), "nested self-call ran (the depth limit ends the recursion)");
}
