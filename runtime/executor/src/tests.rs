#![allow(clippy::arithmetic_side_effects)] // test arithmetic on small known values
use super::*;
use strata_primitives::{EMPTY_ROOT_HASH, LocalSigner, b256, transaction::build};
use strata_state::StateDb;
use strata_storage::MemKv;
use strata_vm::VmConfig;

const GWEI: u128 = 1_000_000_000;

fn env() -> BlockEnv {
    BlockEnv {
        chain_id: 1337,
        number: 1,
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
    let system = system::install(&vm(), Arc::new(db.clone()), env(), key().address(), prices).unwrap();
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
    changes.storage.get(a).and_then(|s| s.get(key)).cloned().flatten().and_then(|s| s.value().map(|v| v.to_vec()))
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
fn simulation_and_estimation() {
    let state = funded(10u128.pow(20));
    let v = vm();
    let cold = MemKv::shared();
    let sim = Simulation::new(key().address(), None, U256::ZERO, deploy_data(COUNTER, b"o").into(), 5_000_000);
    let out = simulate(state.clone(), v.clone(), cold.clone(), env(), &sim).unwrap();
    assert!(out.success && out.contract_address == Some(key().address().create(0)));
    assert!(out.resources.storage_bytes_paid > 4096, "code + default quota: {:?}", out.resources);
    let estimate = estimate_gas(state.clone(), v.clone(), cold.clone(), env(), &sim, 30_000_000).unwrap().unwrap();
    assert!(estimate <= out.gas_used + 1 && estimate > 53_000);
    assert!(simulate(state.clone(), v.clone(), cold.clone(), env(), &Simulation { gas: estimate, ..sim.clone() }).unwrap().success);
    assert!(!simulate(state, v, cold, env(), &Simulation { gas: estimate - 1, ..sim }).unwrap().success);
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

mod archive {
    use super::*;
    use alloy_sol_types::{SolCall, SolError};

    use strata_primitives::interfaces::{
        IArchive,
        ISystemOps::{ColdCopyPurged, HashMismatch},
    };

    use strata_primitives::{
        Slot,
        system::{ARCHIVE_CONTRACT, QuotaRecord, STORAGE_REGISTRY, quota_key},
    };

    /// A chain of blocks over one committed state and cold store.
    struct Chain {
        kv: strata_storage::SharedKv,
        db: StateDb,
        cold: strata_storage::SharedKv,
        root: B256,
        env: BlockEnv,
        nonce: u64,
        stranger_nonce: u64,
    }

    impl Chain {
        fn new() -> Self {
            let kv = MemKv::shared();
            let db = StateDb::new(kv.clone(), 4);
            let mut alloc = StateChanges::default();
            alloc.accounts.insert(key().address(), Some(Account::with_balance(U256::from(10u128.pow(21)))));
            alloc.accounts.insert(stranger().address(), Some(Account::with_balance(U256::from(10u128.pow(21)))));
            let mut batch = WriteBatch::new();
            let root = db.commit(0, EMPTY_ROOT_HASH, &alloc, &mut batch).unwrap();
            kv.write(batch).unwrap();
            let system = system::install(&vm(), Arc::new(db.clone()), env(), key().address(), &system::Prices::dev()).unwrap();
            let mut batch = WriteBatch::new();
            let root = db.commit(0, root, &system, &mut batch).unwrap();
            kv.write(batch).unwrap();
            Self { kv, db, cold: MemKv::shared(), root, env: env(), nonce: 0, stranger_nonce: 0 }
        }

        /// One block of transactions from `key()`; returns their receipts.
        fn block(&mut self, calls: Vec<(TxKind, Vec<u8>)>) -> Vec<StoredReceipt> {
            let txs = calls
                .into_iter()
                .map(|(to, input)| {
                    self.nonce += 1;
                    tx(self.nonce - 1, to, 0, input, 5_000_000)
                })
                .collect();
            self.apply_block(txs)
        }

        /// One transaction from `stranger()` in a block of its own.
        fn stranger_block(&mut self, to: TxKind, input: Vec<u8>) -> StoredReceipt {
            let t = build::eip1559(1337, self.stranger_nonce, to, U256::ZERO, input.into(), 5_000_000, 3 * GWEI, 2 * GWEI);
            self.stranger_nonce += 1;
            let t = RecoveredTx { sender: stranger().address(), tx: stranger().sign_transaction(t).unwrap() };
            self.apply_block(vec![t]).remove(0)
        }

        /// Executes and commits a block of `txs`; returns their receipts.
        fn apply_block(&mut self, txs: Vec<RecoveredTx>) -> Vec<StoredReceipt> {
            let mut b = BlockBuilder::new(self.env, Arc::new(self.db.clone()), vm(), self.cold.clone(), payees()).unwrap();
            let out = txs.iter().map(|t| included(&mut b, t)).collect();
            let done = b.finish();
            let mut batch = WriteBatch::new();
            self.root = self.db.commit(self.env.number, self.root, &done.changes, &mut batch).unwrap();
            self.cold.write(done.cold.puts).unwrap();
            self.kv.write(batch).unwrap();
            self.cold.write(done.cold.deletes).unwrap();
            self.env.number += 1;
            self.env.timestamp += 1;
            out
        }

        fn slot(&self, c: &Address, k: &[u8]) -> Option<Slot> {
            self.db.slot(c, k).unwrap()
        }
    }

    fn stranger() -> LocalSigner {
        LocalSigner::from_bytes(&keccak256(b"strata/test/stranger")).unwrap()
    }

    fn failure(r: &StoredReceipt) -> String {
        String::from_utf8_lossy(&r.failure).into_owned()
    }

    #[test]
    fn archive_read_restore_purge_and_supplied_bytes() {
        let mut chain = Chain::new();
        let r = chain.block(vec![(TxKind::Create, deploy_data(COUNTER, b"alice"))]);
        let c = r[0].contract_address().unwrap();
        let n_key = b"n".to_vec();
        // The counter lets our key archive its data (through its "callme" forwarder); an
        // unauthorised archive is refused.
        let mut authorise = b"callme".to_vec();
        authorise.extend_from_slice(ARCHIVE_CONTRACT.as_slice());
        authorise.extend_from_slice(&IArchive::authoriseCall { account: key().address(), allowed: true }.abi_encode());
        let archive =
            |secs: u64| IArchive::archiveCall { target: c, keys: vec![n_key.clone().into()], retentionSeconds: secs }.abi_encode();
        let r = chain.block(vec![
            (TxKind::Call(c), b"inc".to_vec()),
            (TxKind::Call(ARCHIVE_CONTRACT), archive(100)),
            (TxKind::Call(c), authorise),
        ]);
        assert!(r[0].success);
        assert!(!r[1].success);
        assert_eq!(&r[1].output[..4], &IArchive::NotAuthorised::SELECTOR);
        assert_eq!(&r[2].output[..], &0u32.to_le_bytes(), "authorise call succeeded");
        let quota_before = QuotaRecord::decode(&chain.db.storage(&STORAGE_REGISTRY, &quota_key(&c)).unwrap().unwrap()).unwrap();

        // Archive: the value leaves hot state, a tombstone stays, the cold store has it.
        let r = chain.block(vec![(TxKind::Call(ARCHIVE_CONTRACT), archive(100)), (TxKind::Call(c), b"inc".to_vec())]);
        assert!(r[0].success, "{}", failure(&r[0]));
        assert!(r[0].resources.cold_byte_seconds == 8 * 100 && !r[0].resources.fee.cold.is_zero(), "{:?}", r[0].resources);
        assert!(!r[1].success);
        assert!(failure(&r[1]).contains("is archived") && failure(&r[1]).contains("restore("), "{}", failure(&r[1]));
        let Some(Slot::Tombstone(t)) = chain.slot(&c, &n_key) else { panic!("no tombstone") };
        let original = 2u64.to_le_bytes().to_vec(); // "inc", then "callme" increments too
        assert_eq!((t.value_hash, t.size, t.payer, t.purged), (keccak256(&original), 8, key().address(), false));
        let quota = QuotaRecord::decode(&chain.db.storage(&STORAGE_REGISTRY, &quota_key(&c)).unwrap().unwrap()).unwrap();
        assert_eq!(quota.used, quota_before.used - 9, "archiving frees the key and value bytes");
        let ck = strata_primitives::system::cold_key(&c, &n_key, &t.value_hash, t.retention_end);
        assert_eq!(chain.cold.get(Column::Cold, &ck).unwrap(), Some(original.clone()));

        // Restore from cold: readable again, the cold copy is gone.
        let restore = IArchive::restoreCall { target: c, keys: vec![n_key.clone().into()] }.abi_encode();
        let r = chain.block(vec![(TxKind::Call(ARCHIVE_CONTRACT), restore.clone()), (TxKind::Call(c), b"inc".to_vec())]);
        assert!(r[0].success && r[1].success, "{} / {}", failure(&r[0]), failure(&r[1]));
        assert_eq!(chain.slot(&c, &n_key), Some(Slot::Value(3u64.to_le_bytes().to_vec().into())));
        assert_eq!(chain.cold.get(Column::Cold, &ck).unwrap(), None);

        // Archive for 2 s; two blocks later the cold copy is purged and the tombstone says so.
        let r = chain.block(vec![(TxKind::Call(ARCHIVE_CONTRACT), archive(2))]);
        assert!(r[0].success);
        let Some(Slot::Tombstone(t)) = chain.slot(&c, &n_key) else { panic!("no tombstone") };
        let ck = strata_primitives::system::cold_key(&c, &n_key, &t.value_hash, t.retention_end);
        assert!(chain.cold.get(Column::Cold, &ck).unwrap().is_some());
        chain.env.timestamp = t.retention_end;
        let r = chain.block(vec![(TxKind::Call(ARCHIVE_CONTRACT), restore)]);
        assert_eq!(&r[0].output[..4], &ColdCopyPurged::SELECTOR, "{}", failure(&r[0]));
        let Some(Slot::Tombstone(purged)) = chain.slot(&c, &n_key) else { panic!("no tombstone") };
        assert!(purged.purged && purged.value_hash == t.value_hash);
        assert_eq!(chain.cold.get(Column::Cold, &ck).unwrap(), None, "purged at the first block past retention");

        // Only the matching bytes bring it back.
        let with =
            |v: Vec<u8>| IArchive::restoreWithDataCall { target: c, keys: vec![n_key.clone().into()], values: vec![v.into()] }.abi_encode();
        let r = chain.block(vec![
            (TxKind::Call(ARCHIVE_CONTRACT), with(vec![9; 8])),
            (TxKind::Call(ARCHIVE_CONTRACT), with(3u64.to_le_bytes().to_vec())),
        ]);
        assert_eq!(&r[0].output[..4], &HashMismatch::SELECTOR);
        assert!(r[1].success, "{}", failure(&r[1]));
        assert_eq!(chain.slot(&c, &n_key), Some(Slot::Value(3u64.to_le_bytes().to_vec().into())));
    }

    #[test]
    fn a_stranger_may_not_restore_another_contracts_archived_data() {
        let mut chain = Chain::new();
        let r = chain.block(vec![(TxKind::Create, deploy_data(COUNTER, b"alice"))]);
        let c = r[0].contract_address().unwrap();
        let n_key = b"n".to_vec();
        let mut authorise = b"callme".to_vec();
        authorise.extend_from_slice(ARCHIVE_CONTRACT.as_slice());
        authorise.extend_from_slice(&IArchive::authoriseCall { account: key().address(), allowed: true }.abi_encode());
        let archive = IArchive::archiveCall { target: c, keys: vec![n_key.clone().into()], retentionSeconds: 1_000 }.abi_encode();
        let r =
            chain.block(vec![(TxKind::Call(c), b"inc".to_vec()), (TxKind::Call(c), authorise), (TxKind::Call(ARCHIVE_CONTRACT), archive)]);
        assert!(r.iter().all(|r| r.success), "{}", failure(&r[2]));
        let Some(Slot::Tombstone(t)) = chain.slot(&c, &n_key) else { panic!("no tombstone") };
        let quota = |chain: &Chain| QuotaRecord::decode(&chain.db.storage(&STORAGE_REGISTRY, &quota_key(&c)).unwrap().unwrap()).unwrap();
        let used = quota(&chain).used;

        // Neither from the cold store nor with the right bytes: the entry stays archived,
        // its retention and the contract's quota untouched.
        let restore = IArchive::restoreCall { target: c, keys: vec![n_key.clone().into()] }.abi_encode();
        let r = chain.stranger_block(TxKind::Call(ARCHIVE_CONTRACT), restore.clone());
        assert!(!r.success);
        assert_eq!(&r.output[..4], &IArchive::NotAuthorised::SELECTOR);
        let with =
            IArchive::restoreWithDataCall { target: c, keys: vec![n_key.clone().into()], values: vec![2u64.to_le_bytes().to_vec().into()] };
        let r = chain.stranger_block(TxKind::Call(ARCHIVE_CONTRACT), with.abi_encode());
        assert_eq!(&r.output[..4], &IArchive::NotAuthorised::SELECTOR);
        assert_eq!(chain.slot(&c, &n_key), Some(Slot::Tombstone(t)));
        assert_eq!(quota(&chain).used, used);

        // The owner (the deployer) may.
        let r = chain.block(vec![(TxKind::Call(ARCHIVE_CONTRACT), restore)]);
        assert!(r[0].success, "{}", failure(&r[0]));
        assert!(matches!(chain.slot(&c, &n_key), Some(Slot::Value(_))));
    }

    #[test]
    fn storage_beyond_the_quota_fails_until_the_owner_buys_more() {
        let mut chain = Chain::new();
        let r = chain.block(vec![(TxKind::Create, deploy_data(COUNTER, b""))]);
        let c = r[0].contract_address().unwrap();
        assert_eq!(r[0].resources.storage_bytes_paid, 4096 + wat::parse_str(COUNTER).unwrap().len() as u64);
        let record = QuotaRecord::decode(&chain.db.storage(&STORAGE_REGISTRY, &quota_key(&c)).unwrap().unwrap()).unwrap();
        assert_eq!((record.owner, record.quota), (key().address(), 4096));
        // Shrink the quota to what is used: the next new key fails, with its effects discarded.
        let set = |q: u64| IArchive::setQuotaCall { target: c, quotaBytes: q }.abi_encode();
        let r = chain.block(vec![(TxKind::Call(ARCHIVE_CONTRACT), set(record.used)), (TxKind::Call(c), b"inc".to_vec())]);
        assert!(r[0].success, "{}", failure(&r[0]));
        assert!(!r[1].success && failure(&r[1]).contains("storage quota exceeded"), "{}", failure(&r[1]));
        assert_eq!(chain.slot(&c, b"n"), None);
        // Buying more is paid as storage bytes.
        let r = chain.block(vec![(TxKind::Call(ARCHIVE_CONTRACT), set(record.used + 100)), (TxKind::Call(c), b"inc".to_vec())]);
        assert!(r[0].success && r[1].success);
        assert_eq!(r[0].resources.storage_bytes_paid, 100);
        assert_eq!(r[0].resources.fee.storage, U256::from(100u64 * 50 * 1_000_000_000));
    }
}

/// Deploy data of `tests/wat/deep_chain.wat`: it recurses `n` times with large frames,
/// then calls the next address of its input (see the file).
fn deep_chain_input(n: u32, chain: &[Address]) -> Vec<u8> {
    let mut input = Vec::new();
    for a in chain {
        input.extend_from_slice(&n.to_le_bytes());
        input.extend_from_slice(a.as_slice());
    }
    input.extend_from_slice(&n.to_le_bytes());
    input
}

#[test]
fn a_chain_of_contracts_each_near_its_stack_limit_fails_deterministically_from_any_thread() {
    let (_, db, root, kv) = funded_db(10u128.pow(24));
    let v = vm();
    let levels = v.limits().max_call_depth as usize + 4;
    // Deploy the contracts in block 1.
    let mut b = BlockBuilder::new(env(), Arc::new(db.clone()), v.clone(), MemKv::shared(), payees()).unwrap();
    let code = wat::parse_str(include_str!("../../../tests/wat/deep_chain.wat")).unwrap();
    let addresses: Vec<Address> = (0..levels as u64)
        .map(|nonce| {
            let r = included(&mut b, &tx(nonce, TxKind::Create, 0, deploy::encode(&code, &[]), 5_000_000));
            assert!(r.success, "{}", String::from_utf8_lossy(&r.failure));
            Address::from_slice(&r.contract_address)
        })
        .collect();
    let mut batch = WriteBatch::new();
    db.commit(1, root, &b.finish().changes, &mut batch).unwrap();
    kv.write(batch).unwrap();
    let state: Arc<dyn StateReader + Send + Sync> = Arc::new(db.clone());
    let env2 = BlockEnv { number: 2, ..env() };
    let call = |input: Vec<u8>| {
        let sim = Simulation::new(key().address(), Some(addresses[0]), U256::ZERO, input.into(), 30_000_000);
        simulate(state.clone(), v.clone(), MemKv::shared(), env2, &sim).unwrap()
    };
    // The deepest recursion one frame survives.
    let (mut lo, mut hi) = (0u32, 100_000u32);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if call(deep_chain_input(mid, &[])).success { lo = mid } else { hi = mid }
    }
    let input = deep_chain_input(lo, &addresses[1..]);
    // From a thread with a tokio worker's 2 MiB stack: before the fix, the process died here.
    let (state2, v2, input2, to) = (state.clone(), v.clone(), input.clone(), addresses[0]);
    let simulated = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let sim = Simulation::new(key().address(), Some(to), U256::ZERO, input2.into(), 30_000_000);
            simulate(state2, v2, MemKv::shared(), env2, &sim).unwrap()
        })
        .unwrap()
        .join()
        .expect("the process survives");
    assert!(simulated.success, "{simulated:?}");
    assert_eq!(simulated.output, vec![0], "the first nested call succeeded: the depth limit stopped the chain deterministically below");
    // The same as a transaction in a block, twice on independent builders: identical receipts.
    let receipts: Vec<StoredReceipt> = (0..2)
        .map(|_| {
            let mut b = BlockBuilder::new(env2, state.clone(), vm(), MemKv::shared(), payees()).unwrap();
            included(&mut b, &tx(levels as u64, TxKind::Call(addresses[0]), 0, input.clone(), 30_000_000))
        })
        .collect();
    assert!(receipts[0].success);
    assert_eq!(receipts[0], receipts[1]);
}

#[test]
fn simulated_deploys_fill_no_module_cache() {
    let dir = tempfile::tempdir().unwrap();
    let state = funded(10u128.pow(20));
    let v = Arc::new(Vm::new(VmConfig { cache_dir: Some(dir.path().to_path_buf()), ..VmConfig::default() }).unwrap());
    // A module no one deployed on chain, with a constructor that writes storage.
    let wat = COUNTER.replace("(memory (export \"memory\") 1)", "(memory (export \"memory\") 1) (global i32 (i32.const 424242))");
    let code = wat::parse_str(&wat).unwrap();
    let hash = keccak256(&code);
    let sim = Simulation::new(key().address(), None, U256::ZERO, deploy::encode(&code, b"o").into(), 5_000_000);
    assert!(simulate(state, v.clone(), MemKv::shared(), env(), &sim).unwrap().success);
    assert!(v.stats.compiled.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    assert!(v.cached(&hash).is_none(), "nothing added to the memory cache");
    assert!(!v.disk_cache().unwrap().contains(&hash), "nothing written to disk");
    // The same deploy in a block is paid for: its module is kept.
    let mut b = BlockBuilder::new(env(), funded(10u128.pow(20)), v.clone(), MemKv::shared(), payees()).unwrap();
    assert!(included(&mut b, &tx(0, TxKind::Create, 0, deploy::encode(&code, b"o"), 5_000_000)).success);
    assert!(v.cached(&hash).is_some() && v.disk_cache().unwrap().contains(&hash));
}

/// `module` padded with a custom section to exactly `size` bytes.
fn padded(module: &[u8], size: usize) -> Vec<u8> {
    let leb = |mut n: usize| {
        let mut out = Vec::new();
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    };
    let name = b"pad";
    for payload in (0..size).rev() {
        let body_len = 1 + name.len() + payload;
        let mut out = module.to_vec();
        out.push(0);
        out.extend(leb(body_len));
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        out.extend(std::iter::repeat_n(0u8, payload));
        if out.len() == size {
            return out;
        }
    }
    panic!("cannot pad to {size}");
}

#[test]
fn the_largest_module_is_deployable_in_the_largest_transaction() {
    let base = wat::parse_str(COUNTER).unwrap();
    let largest = padded(&base, strata_vm::MAX_CODE_SIZE);
    let mut b = BlockBuilder::new(env(), funded(10u128.pow(24)), vm(), MemKv::shared(), payees()).unwrap();
    let t = tx(0, TxKind::Create, 0, deploy::encode(&largest, &[7; 100]), 30_000_000);
    assert!(t.tx.encoded_len() <= MAX_TX_SIZE, "{} bytes", t.tx.encoded_len());
    let r = included(&mut b, &t);
    assert!(r.success, "{}", String::from_utf8_lossy(&r.failure));
    // One byte more is refused at deploy, naming the limit.
    println!("the largest deploy used {} gas", r.gas_used);
    let mut b = BlockBuilder::new(env(), funded(10u128.pow(24)), vm(), MemKv::shared(), payees()).unwrap();
    let too_large = padded(&base, strata_vm::MAX_CODE_SIZE + 1);
    let r = included(&mut b, &tx(0, TxKind::Create, 0, deploy::encode(&too_large, &[]), 20_000_000));
    assert!(!r.success && String::from_utf8_lossy(&r.failure).contains("exceeds the limit"), "{}", String::from_utf8_lossy(&r.failure));
    // And a transaction over the size limit is not valid anywhere.
    let oversized = tx(1, TxKind::Call(Address::repeat_byte(1)), 0, vec![1; MAX_TX_SIZE], 5_000_000);
    assert!(matches!(b.apply(&oversized).unwrap(), Applied::Rejected(InvalidTx::Oversized { .. })));
}

#[test]
fn a_block_holds_at_most_max_block_bytes_of_transactions() {
    // With network bytes free, gas no longer bounds a block's size: the byte limit does.
    let prices = system::Prices { network_byte_price: U256::ZERO, ..system::Prices::dev() };
    let (state, ..) = funded_with(10u128.pow(24), &prices);
    let mut b = BlockBuilder::new(env(), state, vm(), MemKv::shared(), payees()).unwrap();
    let mut bytes = 0;
    for nonce in 0.. {
        let t = tx(nonce, TxKind::Call(Address::repeat_byte(1)), 0, vec![1; 100 * 1024], 20_000);
        match b.apply(&t).unwrap() {
            Applied::Included(_) => bytes += t.tx.encoded_len(),
            Applied::Rejected(e) => {
                assert!(matches!(e, InvalidTx::BlockFull { .. }), "{e}");
                assert!(e.is_transient());
                break;
            }
        }
    }
    assert!(bytes <= MAX_BLOCK_BYTES && bytes > MAX_BLOCK_BYTES - 101 * 1024, "{bytes}");
}
