//! Validator sets per height, through one core driven by hand: from height 3 on,
//! validator 3's key is replaced by a new one ([`joiner_key`]). Certificates, votes and new
//! views are checked against the set of the height they are about, and a core signs only
//! at heights whose set lists its key.

use crate::sim::{Params, SwitchAt, config_with, genesis, joiner_key, key, make_block, set_of};
use std::sync::Arc;
use strata_consensus::{
    CommitCertificate, Core, Effect, Input, Message, NewView, PrePrepare, SignedMessage, SignedViewChange, ViewChange, Vote, commit_digest,
    view_change_digest,
};
use strata_primitives::{B256, Bytes, CertSignature, LocalSigner};

const CHAIN: u64 = crate::sim::CHAIN_ID;
/// The first height of the new set.
const SWITCH: u64 = 3;

/// The signing key of validator `i` at `height`.
fn key_at(i: u32, height: u64) -> LocalSigner {
    if i == 3 && height >= SWITCH { joiner_key(3) } else { key(i) }
}

fn sets() -> Arc<SwitchAt> {
    let before: Vec<LocalSigner> = (0..4).map(key).collect();
    let after: Vec<LocalSigner> = (0..4).map(|i| key_at(i, SWITCH)).collect();
    Arc::new(SwitchAt { before: Arc::new(set_of(&before)), after: Arc::new(set_of(&after)), at: SWITCH })
}

/// Validator `me` with `key`, its last committed height `committed`, started.
fn core(me: u32, key: LocalSigner, committed: u64) -> Core {
    let parent = if committed == 0 { genesis() } else { B256::repeat_byte(committed as u8) };
    let mut c = Core::new(config_with(&Params::quiet(4), sets(), key, me), None, (committed, parent));
    c.handle(Input::Start);
    c
}

fn signed_by(from: u32, key: &LocalSigner, message: Message) -> Input {
    Input::Message(SignedMessage::sign(from, message, key, CHAIN).unwrap())
}

/// A certificate for `hash` at `height` by validators 0, 2 and 3, validator 3 signing with
/// `key3`.
fn certificate(height: u64, hash: B256, key3: &LocalSigner) -> CommitCertificate {
    let digest = commit_digest(CHAIN, height, 0, hash);
    let signatures = [(0, key(0)), (2, key(2)), (3, key3.clone())]
        .into_iter()
        .map(|(validator, k)| CertSignature::new(validator, &k.sign_hash(&digest).unwrap()))
        .collect();
    CommitCertificate { height, view: 0, block_hash: hash, signatures }
}

fn behind(effects: &[Effect]) -> Option<u64> {
    effects.iter().find_map(|e| if let Effect::Behind { height, .. } = e { Some(*height) } else { None })
}

fn broadcasts(effects: &[Effect]) -> Vec<&'static str> {
    effects.iter().filter_map(|e| if let Effect::Broadcast(m) = e { Some(m.message.kind()) } else { None }).collect()
}

#[test]
fn a_certificate_is_checked_against_the_set_of_its_height() {
    let hash = B256::repeat_byte(0xc1);
    for (height, key3, valid) in [
        (5, joiner_key(3), true),
        (5, key(3), false), // the old key, no longer validator 3 at 5
        (2, key(3), true),
        (2, joiner_key(3), false), // the new key, not yet validator 3 at 2
    ] {
        // Validator 1 at height 1 gets it as the parent certificate of a pre-prepare by the
        // primary (validator 0, the same key in both sets).
        let mut c = core(1, key(1), 0);
        let cert = certificate(height, hash, &key3);
        let p = PrePrepare { view: 0, height: height + 1, hash: B256::repeat_byte(0xc2), block: Bytes::new(), parent: Some(cert) };
        let effects = c.handle(signed_by(0, &key(0), Message::PrePrepare(p)));
        assert_eq!(behind(&effects), valid.then_some(height), "certificate at {height} (valid: {valid}): {effects:?}");
    }
}

#[test]
fn commits_count_only_from_the_validators_of_their_height() {
    for (height, good, bad) in [(1, key(3), joiner_key(3)), (SWITCH, joiner_key(3), key(3))] {
        let vote = Vote { view: 0, height, hash: B256::repeat_byte(0xc3) };
        let mut c = core(1, key(1), height - 1);
        c.handle(signed_by(0, &key(0), Message::Commit(vote)));
        c.handle(signed_by(2, &key(2), Message::Commit(vote)));
        // Validator 3's commit signed with the key it does not have at this height: no quorum.
        let effects = c.handle(signed_by(3, &bad, Message::Commit(vote)));
        assert_eq!(behind(&effects), None, "{effects:?}");
        // With the key it has: a certificate, for a block we lack, so we catch up.
        let effects = c.handle(signed_by(3, &good, Message::Commit(vote)));
        assert_eq!(behind(&effects), Some(height), "{effects:?}");
    }
}

/// The primary's pre-prepare of a block at `height` (on `parent`), validated: what we sign.
fn validate_and_vote(c: &mut Core, height: u64, parent: B256) -> Vec<&'static str> {
    let (block, hash) = make_block(height, 0, 0, 1, parent);
    let effects = c.handle(signed_by(0, &key(0), Message::PrePrepare(PrePrepare { view: 0, height, hash, block, parent: None })));
    assert!(effects.iter().any(|e| matches!(e, Effect::Validate { .. })), "a follower validates too: {effects:?}");
    broadcasts(&c.handle(Input::Validated { height, view: 0, hash, valid: true }))
}

#[test]
fn a_core_signs_only_where_its_key_is_a_validator() {
    // The new key's node before the switch, and the old key's from the switch on, follow:
    // they validate, but prepare nothing, and their timers start no view change.
    for (key3, committed) in [(joiner_key(3), 0), (key(3), SWITCH - 1)] {
        let mut c = core(3, key3, committed);
        let parent = if committed == 0 { genesis() } else { B256::repeat_byte(committed as u8) };
        assert!(validate_and_vote(&mut c, committed + 1, parent).is_empty());
        let effects = c.handle(Input::Timeout { view: 0 });
        assert!(broadcasts(&effects).is_empty() && c.view() == 0 && !c.is_changing_view(), "{effects:?}");
    }
    // Each at the heights where it is validator 3 prepares.
    for (key3, committed) in [(key(3), 0), (joiner_key(3), SWITCH - 1)] {
        let mut c = core(3, key3, committed);
        let parent = if committed == 0 { genesis() } else { B256::repeat_byte(committed as u8) };
        assert_eq!(validate_and_vote(&mut c, committed + 1, parent), vec!["prepare"]);
    }
}

/// Validator `from`'s view change to `view`, signed with `key`, proving height `floor`
/// committed (by a certificate valid at that height).
fn view_change(view: u64, from: u32, key: &LocalSigner, floor: u64) -> SignedViewChange {
    let committed = (floor > 0).then(|| {
        let hash = B256::repeat_byte(floor as u8);
        certificate(floor, hash, &key_at(3, floor))
    });
    let change = ViewChange { view, height: floor + 1, prepared: Vec::new(), checkpoint: None, committed };
    let signature = key.sign_hash(&view_change_digest(CHAIN, &change)).unwrap().as_bytes();
    SignedViewChange { from, change, signature }
}

#[test]
fn a_new_view_is_judged_against_the_set_of_its_first_height() {
    // Floors 0 (first height 1, the old set) and 2 (first height 3, the new set): validator
    // 3's view change counts only signed with the key it has at the first height.
    for floor in [0, SWITCH - 1] {
        let first = floor + 1;
        let other = if first >= SWITCH { key(3) } else { joiner_key(3) };
        for (key3, valid) in [(key_at(3, first), true), (other, false)] {
            let mut c = core(2, key(2), SWITCH - 1);
            let changes = vec![view_change(1, 0, &key(0), floor), view_change(1, 1, &key(1), floor), view_change(1, 3, &key3, floor)];
            let nv = NewView { view: 1, view_changes: changes, pre_prepares: Vec::new() };
            assert_eq!(nv.first_height(), Some(floor + 1));
            let effects = c.handle(signed_by(1, &key(1), Message::NewView(nv)));
            let entered = effects.iter().any(|e| matches!(e, Effect::ViewChanged { view: 1, primary: 1 }));
            assert_eq!(entered, valid, "floor {floor}, validator 3 signing as {}: {effects:?}", key3.address());
        }
    }
}

#[test]
fn a_view_entered_under_one_set_decides_no_height_of_another() {
    // Validator 0 at the first height of the new set. View 1's new view proves nothing
    // decided (first height 1, the old set): entered, but its quorum says nothing of what
    // the new set prepared, so no vote at height 3 in view 1.
    let mut c = core(0, key(0), SWITCH - 1);
    let parent = B256::repeat_byte((SWITCH - 1) as u8);
    let old = NewView { view: 1, view_changes: (1..4).map(|i| view_change(1, i, &key(i), 0)).collect(), pre_prepares: Vec::new() };
    assert!(c.handle(signed_by(1, &key(1), Message::NewView(old))).iter().any(|e| matches!(e, Effect::ViewChanged { view: 1, .. })));
    let (block, hash) = make_block(SWITCH, 1, 1, 1, parent);
    c.handle(signed_by(1, &key(1), Message::PrePrepare(PrePrepare { view: 1, height: SWITCH, hash, block, parent: None })));
    let effects = c.handle(Input::Validated { height: SWITCH, view: 1, hash, valid: true });
    assert!(broadcasts(&effects).is_empty(), "voted in a view of the old set at a height of the new: {effects:?}");
    // View 2's new view proves height 2 decided: judged against the new set, it decides 3.
    let changes = (1..4).map(|i| view_change(2, i, &key_at(i, SWITCH), SWITCH - 1)).collect();
    let new = NewView { view: 2, view_changes: changes, pre_prepares: Vec::new() };
    let effects = c.handle(signed_by(2, &key(2), Message::NewView(new)));
    assert!(effects.iter().any(|e| matches!(e, Effect::ViewChanged { view: 2, .. })), "{effects:?}");
    let (block, hash) = make_block(SWITCH, 2, 2, 1, parent);
    c.handle(signed_by(2, &key(2), Message::PrePrepare(PrePrepare { view: 2, height: SWITCH, hash, block, parent: None })));
    let effects = c.handle(Input::Validated { height: SWITCH, view: 2, hash, valid: true });
    assert_eq!(broadcasts(&effects), vec!["prepare"]);
}
