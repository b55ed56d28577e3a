//! The storage market: archiving, reading an archived key, restoring from the cold
//! store or with supplied bytes, purging at retention end, who may restore, and quotas.

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
        let system =
            system::install(&vm(), Arc::new(db.clone()), env(), key().address(), &system::Prices::dev(), &Default::default()).unwrap();
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
    let archive = |secs: u64| IArchive::archiveCall { target: c, keys: vec![n_key.clone().into()], retentionSeconds: secs }.abi_encode();
    let r =
        chain.block(vec![(TxKind::Call(c), b"inc".to_vec()), (TxKind::Call(ARCHIVE_CONTRACT), archive(100)), (TxKind::Call(c), authorise)]);
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
    let r = chain.block(vec![(TxKind::Call(c), b"inc".to_vec()), (TxKind::Call(c), authorise), (TxKind::Call(ARCHIVE_CONTRACT), archive)]);
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
