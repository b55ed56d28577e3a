//! The fee contract, run as its compiled Wasm in the real runtime. It imports no
//! privileged host function, so the harness deploys it like any contract. The tests
//! talk to it through `strata_sdk::system::IFee` — the interface other contracts use —
//! which cross-checks the selectors and encodings `#[contract]` generated.

use strata_harness::{Receipt, TestChain, build_contract, failed};
use strata_sdk::{
    Address, SolCall, SolError, SolEvent, SolValue, U256,
    system::IFee::{self, AdminChanged, InvalidPrices, NotAdmin, PricesChanged},
};

const DAY: u64 = 86_400;

/// gas, fuel, network byte, storage byte, cold byte-day prices; default retention; default quota.
type Table = (U256, U256, U256, U256, U256, u64, u64);

fn table() -> Table {
    (U256::from(7u64), U256::from(2u64), U256::from(3u64), U256::from(5u64), U256::from(11u64), 30 * DAY, 1 << 20)
}

fn ctor(admin: Address, t: Table) -> Vec<u8> {
    (admin, t.0, t.1, t.2, t.3, t.4, t.5, t.6).abi_encode_params()
}

fn set_prices(t: Table) -> IFee::setPricesCall {
    IFee::setPricesCall {
        gasPrice: t.0,
        fuelPrice: t.1,
        networkBytePrice: t.2,
        storageBytePrice: t.3,
        coldByteDayPrice: t.4,
        defaultRetentionSeconds: t.5,
        defaultQuotaBytes: t.6,
    }
}

fn wasm() -> Vec<u8> {
    build_contract(env!("CARGO_MANIFEST_DIR")).expect("the fee contract builds for wasm32v1-none")
}

/// A chain with the fee contract deployed by account 0, administered by account 1.
fn deployed() -> (TestChain, Address, Receipt) {
    let mut chain = TestChain::new();
    let admin = chain.address(1);
    let r = chain.deploy(0, &wasm(), &ctor(admin, table())).expect("deploys");
    (chain, r.contract_address.expect("created"), r)
}

fn prices_changed(r: &Receipt) -> PricesChanged {
    let log = r.logs.iter().find(|l| l.topics().first() == Some(&PricesChanged::SIGNATURE_HASH)).expect("a PricesChanged log");
    PricesChanged::decode_log_data(&log.data).expect("decodes")
}

#[test]
fn constructor_sets_the_table_and_announces_it() {
    let (chain, fee, r) = deployed();
    let (deployer, admin) = (chain.address(0), chain.address(1));
    let t = table();
    assert_eq!(chain.view(fee, &IFee::adminCall {}).unwrap(), admin);
    let p = chain.view(fee, &IFee::pricesCall {}).unwrap();
    assert_eq!(
        (
            p.gasPrice,
            p.fuelPrice,
            p.networkBytePrice,
            p.storageBytePrice,
            p.coldByteDayPrice,
            p.defaultRetentionSeconds,
            p.defaultQuotaBytes
        ),
        t
    );
    let s = chain.view(fee, &IFee::scheduleCall {}).unwrap();
    assert_eq!((s.gasPrice, s.defaultQuotaBytes, s.defaultRetentionSeconds), (t.0, t.6, t.5));

    // AdminChanged from zero, then PricesChanged by the deployer.
    assert_eq!(r.logs.len(), 2);
    let changed = AdminChanged::decode_log_data(&r.logs[0].data).expect("AdminChanged");
    assert_eq!((changed.previous, changed.admin), (Address::ZERO, admin));
    let e = prices_changed(&r);
    assert_eq!(e.by, deployer);
    assert_eq!(
        (
            e.gasPrice,
            e.fuelPrice,
            e.networkBytePrice,
            e.storageBytePrice,
            e.coldByteDayPrice,
            e.defaultRetentionSeconds,
            e.defaultQuotaBytes
        ),
        t
    );
    // `by` is indexed: a topic.
    assert_eq!(r.logs[1].topics()[1].as_slice()[12..], deployer.as_slice()[..]);
}

#[test]
fn quote_prices_each_resource() {
    let (chain, fee, _) = deployed();
    let q = chain.view(fee, &IFee::quoteCall { fuel: 1000, txBytes: 200, validators: 4, storageBytes: 50, coldByteSeconds: DAY }).unwrap();
    // fuel 2, network byte 3, storage byte 5, cold byte-day 11.
    assert_eq!(q.compute, U256::from(2000u64));
    assert_eq!(q.network, U256::from(200u64 * 4 * 3));
    assert_eq!(q.storageCost, U256::from(250u64));
    assert_eq!(q.cold, U256::from(11u64));
    assert_eq!(q.total, U256::from(2000u64 + 2400 + 250 + 11));
}

#[test]
fn quote_counts_zero_validators_as_one() {
    let (chain, fee, _) = deployed();
    let zero = chain.view(fee, &IFee::quoteCall { fuel: 0, txBytes: 100, validators: 0, storageBytes: 0, coldByteSeconds: 0 }).unwrap();
    let one = chain.view(fee, &IFee::quoteCall { fuel: 0, txBytes: 100, validators: 1, storageBytes: 0, coldByteSeconds: 0 }).unwrap();
    assert_eq!(zero.network, U256::from(300u64));
    assert_eq!((zero.network, zero.total), (one.network, one.total));
}

#[test]
fn cold_storage_rounds_up_to_whole_price_units() {
    let (chain, fee, _) = deployed();
    let cold = |byte_seconds: u64| {
        chain
            .view(fee, &IFee::quoteCall { fuel: 0, txBytes: 0, validators: 1, storageBytes: 0, coldByteSeconds: byte_seconds })
            .unwrap()
            .cold
    };
    // 11 per byte-day: ⌈s × 11 / 86400⌉.
    assert_eq!(cold(0), U256::ZERO);
    assert_eq!(cold(1), U256::from(1u64));
    assert_eq!(cold(DAY), U256::from(11u64));
    assert_eq!(cold(DAY + 1), U256::from(12u64));
    assert_eq!(cold(7 * DAY), U256::from(77u64));
    // Half a byte-day: 5.5 rounds up to 6; an exact result is not rounded.
    assert_eq!(cold(DAY / 2), U256::from(6u64));
    assert_eq!(cold(DAY / 2 * 2), U256::from(11u64));
}

#[test]
fn quote_of_the_largest_inputs_at_the_highest_prices_does_not_overflow() {
    let (mut chain, fee, _) = deployed();
    let cap = U256::from(1u8) << 128;
    chain.call_sol(1, fee, &set_prices((U256::from(u64::MAX), cap, cap, cap, cap, 1, 0))).unwrap();
    let m = U256::from(u64::MAX);
    let q = chain
        .view(
            fee,
            &IFee::quoteCall { fuel: u64::MAX, txBytes: u64::MAX, validators: u32::MAX, storageBytes: u64::MAX, coldByteSeconds: u64::MAX },
        )
        .unwrap();
    assert_eq!(q.compute, m * cap);
    assert_eq!(q.network, m * U256::from(u32::MAX) * cap);
    assert_eq!(q.storageCost, m * cap);
    assert_eq!(q.cold, (m * cap).div_ceil(U256::from(DAY)));
    assert_eq!(q.total, q.compute + q.network + q.storageCost + q.cold);
}

#[test]
fn only_the_admin_sets_prices_and_every_change_is_an_event() {
    let (mut chain, fee, _) = deployed();
    let new = (U256::from(9u64), U256::from(1u64), U256::ZERO, U256::from(4u64), U256::from(100u64), DAY, 0);

    // The deployer is not the admin.
    let r = failed(chain.call_sol(0, fee, &set_prices(new)));
    assert_eq!(NotAdmin::abi_decode(&r.output).unwrap().caller, chain.address(0));
    assert!(r.logs.is_empty());
    assert_eq!(chain.view(fee, &IFee::pricesCall {}).unwrap().gasPrice, table().0);

    chain.call_sol(1, fee, &set_prices(new)).unwrap();
    let r = chain.receipts.last().unwrap().clone();
    assert_eq!(r.logs.len(), 1);
    let e = prices_changed(&r);
    assert_eq!(e.by, chain.address(1));
    assert_eq!(
        (
            e.gasPrice,
            e.fuelPrice,
            e.networkBytePrice,
            e.storageBytePrice,
            e.coldByteDayPrice,
            e.defaultRetentionSeconds,
            e.defaultQuotaBytes
        ),
        new
    );
    let s = chain.view(fee, &IFee::scheduleCall {}).unwrap();
    assert_eq!((s.gasPrice, s.defaultQuotaBytes, s.defaultRetentionSeconds), (new.0, new.6, new.5));
}

#[test]
fn only_the_admin_hands_over_the_role() {
    let (mut chain, fee, _) = deployed();
    let (old, new) = (chain.address(1), chain.address(2));

    let r = failed(chain.call_sol(2, fee, &IFee::setAdminCall { admin: new }));
    assert_eq!(NotAdmin::abi_decode(&r.output).unwrap().caller, new);

    chain.call_sol(1, fee, &IFee::setAdminCall { admin: new }).unwrap();
    let log = &chain.receipts.last().unwrap().logs[0];
    let e = AdminChanged::decode_log_data(&log.data).expect("AdminChanged");
    assert_eq!((e.previous, e.admin), (old, new));
    assert_eq!(chain.view(fee, &IFee::adminCall {}).unwrap(), new);

    // The old admin lost the role; the new one has it.
    let r = failed(chain.call_sol(1, fee, &set_prices(table())));
    assert_eq!(NotAdmin::abi_decode(&r.output).unwrap().caller, old);
    chain.call_sol(2, fee, &set_prices(table())).unwrap();
}

#[test]
fn invalid_prices_are_refused_with_the_reason() {
    let (mut chain, fee, _) = deployed();
    let t = table();
    let cap = U256::from(1u8) << 128;
    let cases: [(Table, &str); 10] = [
        ((t.0, U256::ZERO, t.2, t.3, t.4, t.5, t.6), "fuelPrice × 10 must be at least gasPrice (execution must cost at least its gas)"),
        (
            (U256::from(101u64), U256::from(10u64), t.2, t.3, t.4, t.5, t.6),
            "fuelPrice × 10 must be at least gasPrice (execution must cost at least its gas)",
        ),
        ((U256::ZERO, t.1, t.2, t.3, t.4, t.5, t.6), "gasPrice must be at least 1"),
        ((U256::from(u64::MAX) + U256::from(1u8), t.1, t.2, t.3, t.4, t.5, t.6), "gasPrice exceeds 2^64-1"),
        ((t.0, cap + U256::from(1u8), t.2, t.3, t.4, t.5, t.6), "fuelPrice exceeds 2^128"),
        ((t.0, t.1, cap + U256::from(1u8), t.3, t.4, t.5, t.6), "networkBytePrice exceeds 2^128"),
        ((t.0, t.1, t.2, U256::MAX, t.4, t.5, t.6), "storageBytePrice exceeds 2^128"),
        ((t.0, t.1, t.2, t.3, cap + U256::from(1u8), t.5, t.6), "coldByteDayPrice exceeds 2^128"),
        ((t.0, t.1, t.2, t.3, t.4, 0, t.6), "defaultRetentionSeconds must be at least 1"),
        ((U256::ZERO, t.1, t.2, t.3, t.4, 0, t.6), "gasPrice must be at least 1"),
    ];
    for (bad, reason) in cases {
        let r = failed(chain.call_sol(1, fee, &set_prices(bad)));
        assert_eq!(InvalidPrices::abi_decode(&r.output).expect("InvalidPrices").reason, reason);
        assert!(r.logs.is_empty());
    }
    assert_eq!(chain.view(fee, &IFee::pricesCall {}).unwrap().gasPrice, t.0, "nothing changed");

    // The limits themselves are allowed: gas price 1 and 2^64-1, fuel at a tenth of the gas
    // price, other prices 0 and 2^128.
    chain.call_sol(1, fee, &set_prices((U256::from(1u8), U256::from(1u8), cap, U256::ZERO, cap, 1, 0))).unwrap();
    chain.call_sol(1, fee, &set_prices((U256::from(100u8), U256::from(10u8), cap, U256::ZERO, cap, 1, 0))).unwrap();
    chain.call_sol(1, fee, &set_prices((U256::from(u64::MAX), cap, U256::ZERO, cap, U256::ZERO, u64::MAX, u64::MAX))).unwrap();
}

#[test]
fn the_constructor_refuses_invalid_prices() {
    let mut chain = TestChain::new();
    let t = table();
    let r = failed(chain.deploy(0, &wasm(), &ctor(chain.address(1), (U256::ZERO, t.1, t.2, t.3, t.4, t.5, t.6))));
    assert_eq!(InvalidPrices::abi_decode(&r.output).unwrap().reason, "gasPrice must be at least 1");
}

#[test]
fn views_refuse_value_and_unknown_selectors_revert() {
    let (mut chain, fee, _) = deployed();
    let r = chain.send(0, strata_harness::TxKind::Call(fee), U256::from(1u8), IFee::adminCall {}.abi_encode(), 1_000_000).unwrap();
    assert!(!r.success, "admin() is not payable");
    let r = chain.send(0, strata_harness::TxKind::Call(fee), U256::ZERO, vec![1, 2, 3, 4], 1_000_000).unwrap();
    assert!(!r.success);
    println!("{}", chain.report());
}
