//! Differential tests of [`crate::recover::recover_address`] (in `strata-protocol`)
//! against alloy's recovery, and transaction senders through it.

use alloy_primitives::{Address, B256, Signature, U256, keccak256};

use crate::{LocalSigner, TxKind, recover::recover_address, transaction::build};

/// secp256k1's group order.
const N: U256 = U256::from_be_bytes(alloy_primitives::hex!("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"));

fn alloy(prehash: &B256, signature: &Signature) -> Option<Address> {
    signature.recover_address_from_prehash(prehash).ok()
}

#[test]
fn recovery_equals_alloys_on_valid_high_s_corrupted_and_out_of_range_signatures() {
    let (mut rng, seed) = strata_testdata::Rng::from_env(0x5ec9_2561);
    let mut checked = 0usize;
    for i in 0..300u64 {
        let key = LocalSigner::from_bytes(&keccak256(i.to_be_bytes())).unwrap();
        let prehash = keccak256(rng.next().to_be_bytes());
        let sig = key.sign_hash(&prehash).unwrap();
        assert_eq!(recover_address(&prehash, &sig), Some(key.address()), "seed {seed}, key {i}");
        // The same signature with a high s (and the other parity): both normalize it.
        let high = Signature::new(sig.r(), N - sig.s(), !sig.v());
        // Another message, the other parity, corrupted r or s, zero and out-of-range
        // scalars: whatever alloy says, this says.
        let (bit_r, bit_s) = ((rng.next() % 256) as usize, (rng.next() % 256) as usize);
        let flip = |v: U256, bit: usize| v ^ (U256::from(1u64) << bit);
        let variants = [
            sig,
            high,
            Signature::new(sig.r(), sig.s(), !sig.v()),
            Signature::new(flip(sig.r(), bit_r), sig.s(), sig.v()),
            Signature::new(sig.r(), flip(sig.s(), bit_s), sig.v()),
            Signature::new(U256::ZERO, sig.s(), sig.v()),
            Signature::new(sig.r(), U256::ZERO, sig.v()),
            Signature::new(N, sig.s(), sig.v()),
            Signature::new(sig.r(), N, sig.v()),
            Signature::new(N + U256::from(rng.next()), sig.s(), sig.v()),
            Signature::new(U256::from(rng.next()), U256::from(rng.next()), rng.next() % 2 == 0),
        ];
        for (k, v) in variants.iter().enumerate() {
            for digest in [prehash, keccak256(prehash)] {
                assert_eq!(recover_address(&digest, v), alloy(&digest, v), "seed {seed}, key {i}, variant {k}");
                checked += 1;
            }
        }
    }
    // Every `v` byte of a raw signature, parsed as alloy parses it.
    let key = LocalSigner::from_bytes(&keccak256(b"v")).unwrap();
    let prehash = keccak256(b"every v");
    let mut raw = key.sign_hash(&prehash).unwrap().as_bytes();
    for v in 0..=255u8 {
        raw[64] = v;
        if let Ok(sig) = Signature::from_raw_array(&raw) {
            assert_eq!(recover_address(&prehash, &sig), alloy(&prehash, &sig), "v {v}");
            checked += 1;
        }
    }
    assert!(checked > 6_000);
}

#[test]
fn a_transactions_sender_is_alloys_and_a_high_s_is_refused() {
    use alloy_consensus::transaction::SignerRecoverable;
    let key = LocalSigner::from_bytes(&keccak256(b"sender")).unwrap();
    for nonce in 0..20u64 {
        let to = TxKind::Call(Address::repeat_byte(7));
        let txs = [
            key.sign_transaction(build::eip1559(9, nonce, to, U256::from(nonce), Default::default(), 21_000, 7, 1)).unwrap(),
            key.sign_transaction(build::legacy(9, nonce, to, U256::from(nonce), Default::default(), 21_000, 7)).unwrap(),
        ];
        for tx in txs {
            assert_eq!(tx.recover_sender().unwrap(), key.address());
            assert_eq!(tx.envelope().recover_signer().unwrap(), key.address());
        }
    }
    // The same transaction with s replaced by n - s (and the parity flipped): EIP-2
    // malleability, refused by both.
    let tx = key.sign_transaction(build::eip1559(9, 0, TxKind::Call(Address::ZERO), U256::ZERO, Default::default(), 21_000, 7, 1)).unwrap();
    let sig = *tx.envelope().signature();
    let high = Signature::new(sig.r(), N - sig.s(), !sig.v());
    let alloy_consensus::TxEnvelope::Eip1559(signed) = tx.envelope().clone() else { panic!("1559") };
    let malleated =
        crate::TransactionSigned::from_envelope(alloy_consensus::Signed::new_unhashed(signed.strip_signature(), high).into()).unwrap();
    assert!(malleated.recover_sender().is_err());
    assert!(malleated.envelope().recover_signer().is_err());
}
