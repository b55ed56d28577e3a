//! The transaction pool under abuse: senders that park transactions they can never pay
//! for must not keep honest transactions out of blocks.

use std::sync::Arc;

use strata_chain::{Chain, ChainConfig, ChainSpec, Check, TxOrigin};
use strata_primitives::{
    Address, B256, Bytes, CertSignature, CommitCertificate, LocalSigner, TxKind, U256, commit_digest, transaction::build,
};
use strata_storage::MemKv;

const CHAIN_ID: u64 = 1337;
const GWEI: u128 = 1_000_000_000;
const GAS: u64 = 30_000;

fn key(i: u64) -> LocalSigner {
    LocalSigner::from_bytes(&strata_primitives::keccak256(format!("pool-test-{i}"))).unwrap()
}

fn transfer(key: &LocalSigner, nonce: u64, value: U256, fee: u128) -> Vec<u8> {
    let tx = build::eip1559(CHAIN_ID, nonce, TxKind::Call(Address::repeat_byte(0x77)), value, Bytes::new(), GAS, fee, 0);
    key.sign_transaction(tx).unwrap().encoded().to_vec()
}

fn cost(value: U256, fee: u128) -> U256 {
    value + U256::from(GAS) * U256::from(fee)
}

/// The dev validator's certificate of block `height` / `hash`.
fn certificate(height: u64, hash: B256) -> Vec<u8> {
    let signature = strata_chain::dev_validator_key().sign_hash(&commit_digest(CHAIN_ID, height, 0, hash)).unwrap();
    strata_primitives::rlp::encode(CommitCertificate {
        height,
        view: 0,
        block_hash: hash,
        signatures: vec![CertSignature::new(0, &signature)],
    })
}

fn chain(spec: &ChainSpec) -> Arc<Chain> {
    Chain::open(MemKv::shared(), MemKv::shared(), spec.clone(), strata_chain::dev_proposer(), ChainConfig::default()).unwrap()
}

/// 20 senders pool 999 transfers each, then (through another validator's block) spend
/// their whole balance with nonce 0: the 19,960 transactions left can never execute.
/// An honest transfer must still be included within 2 blocks.
#[test]
fn drained_senders_with_999_pooled_each_cannot_starve_an_honest_transfer() {
    strata_vm::stack::on_vm_stack(256 << 20, || {
        const SENDERS: u64 = 20;
        const POOLED: u64 = 999;
        let value = U256::from(1u64);
        let fee = 2 * GWEI;
        let balance = cost(value, fee) * U256::from(POOLED);
        let mut spec = ChainSpec::dev(CHAIN_ID);
        for i in 0..=SENDERS {
            spec.alloc.insert(key(i).address(), balance);
        }
        let (a, b) = (chain(&spec), chain(&spec));
        for i in 0..SENDERS {
            for nonce in 0..POOLED {
                a.submit_raw(&transfer(&key(i), nonce, value, fee), TxOrigin::Local).unwrap();
            }
        }
        assert_eq!(a.pool_len(), (SENDERS * POOLED) as usize);
        // One more than the balance covers together is refused at admission.
        let refused = a.submit_raw(&transfer(&key(0), POOLED, value, fee), TxOrigin::Local).unwrap_err();
        assert!(refused.to_string().contains("insufficient funds"), "{refused}");

        // Validator B makes block 1 from other transactions: each sender's nonce 0 drains it.
        for i in 0..SENDERS {
            let drain = balance - cost(U256::ZERO, fee);
            b.submit_raw(&transfer(&key(i), 0, drain, fee), TxOrigin::Local).unwrap();
        }
        let block = b.propose(100, false).unwrap().unwrap();
        let hash = a.validate(&block.block, &[], Check::Certified).unwrap();
        assert_eq!(hash, block.hash);
        a.commit(&hash, Some(&certificate(1, hash))).unwrap();
        b.commit(&hash, Some(&certificate(1, hash))).unwrap();
        assert!(a.pool_len() < (SENDERS * POOLED) as usize / 10, "unaffordable transactions evicted: {} left", a.pool_len());

        // The honest sender's transfer is in one of the next two blocks.
        let honest = key(SENDERS);
        let hash = a.submit_raw(&transfer(&honest, 0, value, fee), TxOrigin::Local).unwrap();
        let mut included = false;
        for n in 2..=3u64 {
            let Some(block) = a.propose(100 + n, true).unwrap() else { continue };
            included |= block.block.transactions.iter().any(|t| t.hash() == hash);
            a.commit(&block.hash, Some(&certificate(n, block.hash))).unwrap();
            if included {
                break;
            }
        }
        assert!(included, "the honest transfer was kept out of two blocks");
    });
}

/// A replacement that spends more evicts the later nonces it no longer leaves funds for.
#[test]
fn a_replacement_that_spends_everything_evicts_what_it_no_longer_covers() {
    let mut spec = ChainSpec::dev(CHAIN_ID);
    let k = key(100);
    let fee = 2 * GWEI;
    let balance = cost(U256::from(1u64), fee) * U256::from(10u64);
    spec.alloc.insert(k.address(), balance);
    let a = chain(&spec);
    for nonce in 0..10 {
        a.submit_raw(&transfer(&k, nonce, U256::from(1u64), fee), TxOrigin::Local).unwrap();
    }
    assert_eq!(a.pool_len(), 10);
    let all_in = balance - cost(U256::ZERO, 3 * GWEI);
    a.submit_raw(&transfer(&k, 0, all_in, 3 * GWEI), TxOrigin::Local).unwrap();
    assert_eq!(a.pool_len(), 1, "nonces 1..9 can no longer be paid for");
    assert_eq!(a.pending_nonce(&k.address()).unwrap(), 1);
}
