//! Set proofs over hand-built one-leaf tries, with a stand-in recovery (a "signature"
//! names its signer and is bound to the digest), so every check can be made to fail.

use super::*;
use crate::{Account, CertSignature, KECCAK_EMPTY, commit_digest};
use alloc::vec;
use alloy_primitives::{Address, Bloom, U256};
use alloy_rlp::Encodable;

use crate::test_recover::{Fake, sign};

/// A one-leaf trie holding `value` at `path`: its root and the proof (the leaf node).
fn one_leaf(path: B256, value: &[u8]) -> (B256, Vec<Bytes>) {
    let mut hp = vec![0x20u8];
    hp.extend_from_slice(path.as_slice());
    let mut payload = Vec::new();
    hp.as_slice().encode(&mut payload);
    value.encode(&mut payload);
    let mut node = Vec::new();
    alloy_rlp::Header { list: true, payload_length: payload.len() }.encode(&mut node);
    node.extend_from_slice(&payload);
    (keccak256(&node), vec![Bytes::from(node)])
}

/// The state of a one-slot chain holding `record`: state root and its [`SlotsProof`].
fn state_with(record: &SlotRecord) -> (B256, SlotsProof) {
    let leaf = Slot::Value(alloy_rlp::encode(record).into()).encode();
    let (storage_root, storage_proof) = one_leaf(keccak256(slot_key(0)), &leaf);
    let account = Account { nonce: 0, balance: U256::ZERO, storage_root, code_hash: KECCAK_EMPTY };
    let (state_root, account_proof) = one_leaf(keccak256(VALIDATOR_SLOTS), &alloy_rlp::encode(account));
    (state_root, SlotsProof { account_proof, storage_proofs: vec![storage_proof] })
}

fn header(number: u64, state_root: B256) -> Header {
    Header {
        chain_id: 7,
        parent_hash: B256::repeat_byte(9),
        number,
        timestamp: number,
        proposer: Address::ZERO,
        state_root,
        transactions_root: B256::ZERO,
        receipts_root: B256::ZERO,
        logs_bloom: Bloom::default(),
        gas_limit: 1,
        gas_used: 0,
        base_fee_per_gas: 0,
        parent_commit_hash: B256::ZERO,
        liveness_root: B256::ZERO,
        extensions: Vec::new(),
    }
}

/// Block `number`, after which `record` holds, certified by `signer`.
fn link(number: u64, record: &SlotRecord, signer: Address) -> SwitchLink {
    let (root, slots) = state_with(record);
    let header = header(number, root);
    let hash = header.hash_slow();
    let signature = sign(signer, &commit_digest(7, number, 0, hash));
    let cert = CommitCertificate { height: number, view: 0, block_hash: hash, signatures: vec![CertSignature { validator: 0, signature }] };
    SwitchLink { header, certificate: alloy_rlp::encode(&cert).into(), slots }
}

const A: Address = Address::repeat_byte(0xa);
const B: Address = Address::repeat_byte(0xb);

/// A's slot with B as backup, after switches decided at `decided` (an odd count: B active).
fn switched(backup_active: bool, decided: u64) -> SlotRecord {
    SlotRecord { backup_active, last_switch: decided, ..SlotRecord::new(A, Some(B), A, 0, A) }
}

fn genesis() -> ValidatorSet {
    ValidatorSet::new(vec![A])
}

#[test]
fn links_carry_the_set_from_genesis_across_switches() {
    let none = SetProof::default();
    assert_eq!(verify_set_with(&genesis(), 7, &none, 100, &Fake).unwrap().validators, vec![A]);
    // Switched to B at the end of 10 (A still certifies 10), back to A at the end of 40.
    let proof = SetProof { links: vec![link(10, &switched(true, 10), A), link(40, &switched(false, 40), B)] };
    let first = SetProof { links: proof.links[..1].to_vec() };
    // Effective two blocks after the deciding block.
    assert_eq!(verify_set_with(&genesis(), 7, &first, 11, &Fake).unwrap().validators, vec![A]);
    assert_eq!(verify_set_with(&genesis(), 7, &first, 12, &Fake).unwrap().validators, vec![B]);
    assert_eq!(verify_set_with(&genesis(), 7, &first, 40, &Fake).unwrap().validators, vec![B]);
    assert_eq!(verify_set_with(&genesis(), 7, &proof, 42, &Fake).unwrap().validators, vec![A]);
    let encoded = alloy_rlp::encode(&proof);
    assert_eq!(decode_exact::<SetProof>(&encoded).unwrap(), proof);
}

#[test]
fn a_link_certified_by_a_key_not_active_at_its_height_is_refused() {
    // The second switch, at 40, must be certified by B (active since 12), not A.
    let proof = SetProof { links: vec![link(10, &switched(true, 10), A), link(40, &switched(false, 40), A)] };
    let err = verify_set_with(&genesis(), 7, &proof, 50, &Fake).unwrap_err();
    assert!(matches!(err, SetProofError::Certificate { link: 1, number: 40, .. }), "{err}");
    // Nor can a stranger start the history.
    let proof = SetProof { links: vec![link(10, &switched(true, 10), B)] };
    assert!(matches!(verify_set_with(&genesis(), 7, &proof, 50, &Fake), Err(SetProofError::Certificate { link: 0, .. })));
    // Another chain's header.
    let mut other = link(10, &switched(true, 10), A);
    other.header.chain_id = 8;
    assert!(matches!(verify_set_with(&genesis(), 7, &SetProof { links: vec![other] }, 50, &Fake), Err(SetProofError::Certificate { .. })));
}

#[test]
fn records_that_are_not_in_the_certified_state_are_refused() {
    let mut l = link(10, &switched(true, 10), A);
    // Records of another state (the proof does not lead from this header's root).
    l.slots = state_with(&switched(true, 9)).1;
    let err = verify_set_with(&genesis(), 7, &SetProof { links: vec![l.clone()] }, 50, &Fake).unwrap_err();
    assert!(matches!(err, SetProofError::Records { link: 0, number: 10, .. }), "{err}");
    l.slots.storage_proofs.clear();
    assert!(matches!(verify_set_with(&genesis(), 7, &SetProof { links: vec![l] }, 50, &Fake), Err(SetProofError::Records { .. })));
}

#[test]
fn links_out_of_order_past_the_height_or_without_a_switch_are_refused() {
    let a = link(10, &switched(true, 10), A);
    let b = link(40, &switched(false, 40), B);
    let twice = SetProof { links: vec![a.clone(), a.clone()] };
    assert!(matches!(verify_set_with(&genesis(), 7, &twice, 50, &Fake), Err(SetProofError::Order { link: 1, .. })));
    let backwards = SetProof { links: vec![b.clone(), a.clone()] };
    assert!(matches!(
        verify_set_with(&genesis(), 7, &backwards, 50, &Fake),
        Err(SetProofError::Order { .. }) | Err(SetProofError::Certificate { .. })
    ));
    let late = SetProof { links: vec![a, b] };
    assert!(matches!(verify_set_with(&genesis(), 7, &late, 40, &Fake), Err(SetProofError::Order { link: 1, number: 40, .. })));
    // A certified block that decided nothing is not a link.
    let quiet = SetProof { links: vec![link(10, &SlotRecord::new(A, Some(B), A, 0, A), A)] };
    assert!(matches!(verify_set_with(&genesis(), 7, &quiet, 50, &Fake), Err(SetProofError::NoSwitch { link: 0, number: 10 })));
}
