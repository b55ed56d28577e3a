//! The certifier on a dev chain: which heights' votes it counts.

use std::sync::Arc;

use strata_chain::{ChainConfig, ChainSpec, TxOrigin, dev_proposer, dev_validator_key};
use strata_network::Transport;
use strata_primitives::{Address, B256, Bytes, TxKind, U256, keccak256, keys, transaction::build};
use strata_storage::MemKv;

use super::*;

#[tokio::test]
async fn votes_are_counted_until_their_claims_expire_not_only_near_the_head() {
    let chain = Chain::open(MemKv::shared(), MemKv::shared(), ChainSpec::dev(1337), dev_proposer(), ChainConfig::default()).unwrap();
    let alice = keys::derive_accounts(keys::DEV_MNEMONIC, 1).unwrap().remove(0).signer;
    for nonce in 0..10u64 {
        let to = TxKind::Call(Address::repeat_byte(9));
        let tx = build::eip1559(1337, nonce, to, U256::from(1u64), Bytes::new(), 21_000, 2_000_000_000, 0);
        chain.submit_raw(&alice.sign_transaction(tx).unwrap().encoded(), TxOrigin::Local).unwrap();
        chain.produce_block(100 + nonce).unwrap().unwrap();
    }
    let head = chain.head().1.number;
    let expiry = chain.spec().certified_expiry;
    assert_eq!((head, expiry), (10, 8));
    let (hub, _inboxes) = strata_network::mem::MemHub::new(1);
    let net: Arc<dyn Transport> = Arc::new(hub.endpoint(0));
    let certifier = Certifier::new(chain.clone(), dev_validator_key(), 0, net.clone(), net);
    let counted = |height: u64, n: u8| {
        let leaf = B256::repeat_byte(n);
        certifier.on_vote(0, StoredVote { height, validator: 0, leaves: vec![leaf], signature: [n; 65] });
        certifier.tallies.lock().by_claim.contains_key(&leaf)
    };
    // Made 6 blocks ago, due 2 blocks from now: a late vote still counts (the head moved
    // on while it travelled).
    assert!(counted(head - 6, 1));
    assert!(counted(head, 2));
    assert!(counted(head + strata_chain::CLAIM_HEIGHT_SLACK, 3));
    // Expired claims, and heights too far ahead, are not looked at.
    assert!(!counted(head - expiry, 4));
    assert!(!counted(head + strata_chain::CLAIM_HEIGHT_SLACK + 1, 5));
}

#[tokio::test(start_paused = true)]
async fn a_relayed_vote_counts_once_its_signature_verifies_and_not_before_its_signer_had_time() {
    use strata_primitives::storage_cert::{BatchTree, StoredClaim, stored_digest};
    let chain = Chain::open(MemKv::shared(), MemKv::shared(), ChainSpec::dev(1337), dev_proposer(), ChainConfig::default()).unwrap();
    let set = chain.validator_sets().validators_at(0).unwrap();
    let (hub, _inboxes) = strata_network::mem::MemHub::new(1);
    let net: Arc<dyn Transport> = Arc::new(hub.endpoint(0));
    let certifier = Certifier::new(chain.clone(), dev_validator_key(), 0, net.clone(), net);
    // Two claims whose requests came (the relayed vote is of use only with them).
    let raws = [Bytes::from_static(b"tx one"), Bytes::from_static(b"tx two")];
    let expiry = chain.spec().certified_expiry;
    let claims: Vec<StoredClaim> = raws
        .iter()
        .enumerate()
        .map(|(n, raw)| StoredClaim {
            chain_id: 1337,
            tx_hash: keccak256(raw),
            sender: Address::repeat_byte(1),
            nonce: n as u64,
            height: 0,
            expiry,
        })
        .collect();
    for (claim, raw) in claims.iter().zip(&raws) {
        certifier.count_request(claim, &set, 1, raw);
    }
    let leaves: Vec<B256> = claims.iter().map(stored_digest).collect();
    let signature = dev_validator_key().sign_hash(&BatchTree::new(&leaves).root()).unwrap().as_bytes();
    let counted = |leaf: B256| certifier.tallies.lock().by_claim.get(&leaf).is_some_and(|t| t.votes.contains_key(&0));
    let relayed = |signature: [u8; 65], height: u64| StoredVote { height, validator: 0, leaves: leaves.clone(), signature };
    // A forged signature is never counted; nor a genuine one relayed as another height's.
    certifier.on_relayed(1, relayed([7; 65], 0));
    certifier.on_relayed(1, relayed(signature, 1));
    tokio::time::sleep(hold::RELAY_GRACE * 2).await;
    assert!(!counted(leaves[0]));
    // A genuine one waits for its signer's own copy, then counts for every claim.
    certifier.on_relayed(1, relayed(signature, 0));
    tokio::time::sleep(hold::RELAY_GRACE / 2).await;
    assert!(!counted(leaves[0]), "not before the grace");
    tokio::time::sleep(hold::RELAY_GRACE).await;
    assert!(counted(leaves[0]) && counted(leaves[1]));
    // Counted (and with one validator, held): no longer wanted.
    assert!(!certifier.wants(&relayed(signature, 0)));
    assert!(certifier.relays.lock().values().all(|n| *n == 0), "nothing left waiting");
}
