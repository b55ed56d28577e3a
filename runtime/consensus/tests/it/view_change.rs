//! A backup's view change, and the new views it must refuse: each is checked against
//! the view changes it carries before the backup enters it.

use crate::sim::{Params, config, genesis, key, make_block};
use strata_consensus::{
    Core, Effect, Input, Message, NewView, PrePrepare, ReProposal, SignedMessage, SignedViewChange, ViewChange, Vote, pre_prepare_digest,
    view_change_digest,
};
use strata_primitives::{B256, Bytes, LocalSigner};

const CHAIN: u64 = crate::sim::CHAIN_ID;

fn signed(from: u32, message: Message) -> Input {
    Input::Message(SignedMessage::sign(from, message, &key(from), CHAIN).unwrap())
}

fn view_change(from: u32, change: ViewChange) -> SignedViewChange {
    let signature = key(from).sign_hash(&view_change_digest(CHAIN, &change)).unwrap().as_bytes();
    SignedViewChange { from, change, signature }
}

fn re_proposal(view: u64, height: u64, hash: B256) -> ReProposal {
    ReProposal {
        height,
        hash,
        signature: key(1).sign_hash(&pre_prepare_digest(CHAIN, view, height, hash)).unwrap().as_bytes(),
        block: Bytes::new(),
    }
}

/// Validator 2 prepares block X at height 1 in view 0, then times out: its view change
/// to view 1 carries the prepared certificate.
fn backup_with_a_prepared_block() -> (Core, SignedViewChange, B256) {
    let keys: Vec<LocalSigner> = (0..4).map(key).collect();
    let mut c = Core::new(config(&Params::quiet(4), &keys, 2), None, (0, genesis()));
    c.handle(Input::Start);
    let (block, x) = make_block(1, 0, 0, 1, genesis());
    c.handle(signed(0, Message::PrePrepare(PrePrepare { view: 0, height: 1, hash: x, block, parent: None })));
    c.handle(Input::Validated { height: 1, view: 0, hash: x, valid: true });
    let effects = c.handle(signed(3, Message::Prepare(Vote { view: 0, height: 1, hash: x })));
    assert!(effects.iter().any(|e| matches!(e, Effect::Broadcast(m) if matches!(m.message, Message::Commit(_)))), "prepared: {effects:?}");
    let effects = c.handle(Input::Timeout { view: 0 });
    let vc = effects
        .iter()
        .find_map(|e| match e {
            Effect::Broadcast(SignedMessage { from, message: Message::ViewChange(change), signature }) => {
                Some(SignedViewChange { from: *from, change: change.clone(), signature: signature.as_bytes() })
            }
            _ => None,
        })
        .expect("a view change");
    assert_eq!(vc.change.prepared.len(), 1);
    assert_eq!(vc.change.prepared[0].hash, x);
    (c, vc, x)
}

fn empty_change(view: u64) -> ViewChange {
    ViewChange { view, height: 1, prepared: Vec::new(), checkpoint: None, committed: None }
}

fn entered(effects: &[Effect]) -> bool {
    effects.iter().any(|e| matches!(e, Effect::ViewChanged { .. }))
}

#[test]
fn new_views_that_break_the_rules_are_refused() {
    let (mut c, ours, x) = backup_with_a_prepared_block();
    let (vc0, vc3) = (view_change(0, empty_change(1)), view_change(3, empty_change(1)));
    let changes = vec![vc0.clone(), ours.clone(), vc3.clone()];
    let y = make_block(1, 1, 1, 7, genesis()).1;
    let mut forged = vc0.clone();
    forged.signature = key(1).sign_hash(&view_change_digest(CHAIN, &forged.change)).unwrap().as_bytes();
    let mut lying = ours.clone();
    lying.change.prepared.clear(); // validator 2's view change without its certificate (signature no longer matches)
    let bad: Vec<(&str, u32, NewView)> = vec![
        ("drops the prepared block", 1, NewView { view: 1, view_changes: changes.clone(), pre_prepares: vec![] }),
        ("re-proposes another block", 1, NewView { view: 1, view_changes: changes.clone(), pre_prepares: vec![re_proposal(1, 1, y)] }),
        ("too few view changes", 1, NewView { view: 1, view_changes: vec![vc0.clone(), vc3.clone()], pre_prepares: vec![] }),
        ("a sender twice", 1, NewView { view: 1, view_changes: vec![vc0.clone(), vc0.clone(), vc3.clone()], pre_prepares: vec![] }),
        (
            "a forged view change",
            1,
            NewView { view: 1, view_changes: vec![forged, ours.clone(), vc3.clone()], pre_prepares: vec![re_proposal(1, 1, x)] },
        ),
        ("an altered view change", 1, NewView { view: 1, view_changes: vec![vc0.clone(), lying, vc3.clone()], pre_prepares: vec![] }),
        ("not from the primary", 3, NewView { view: 1, view_changes: changes.clone(), pre_prepares: vec![re_proposal(1, 1, x)] }),
    ];
    for (why, from, nv) in bad {
        let effects = c.handle(signed(from, Message::NewView(nv)));
        assert!(!entered(&effects) && c.is_changing_view(), "entered a new view that {why}: {effects:?}");
    }
    // A fresh block at the height the new view must re-propose is not even validated.
    let (block, y) = make_block(1, 1, 1, 8, genesis());
    let effects = c.handle(signed(1, Message::PrePrepare(PrePrepare { view: 1, height: 1, hash: y, block, parent: None })));
    assert!(!effects.iter().any(|e| matches!(e, Effect::Validate { .. })), "{effects:?}");

    // The correct new view: entered, and the prepared block is prepared again in view 1.
    let good = NewView { view: 1, view_changes: changes, pre_prepares: vec![re_proposal(1, 1, x)] };
    let effects = c.handle(signed(1, Message::NewView(good)));
    assert!(entered(&effects) && !c.is_changing_view() && c.view() == 1, "{effects:?}");
    let prepares: Vec<Vote> = effects
        .iter()
        .filter_map(|e| if let Effect::Broadcast(m) = e { if let Message::Prepare(v) = m.message { Some(v) } else { None } } else { None })
        .collect();
    assert_eq!(prepares, vec![Vote { view: 1, height: 1, hash: x }]);
    assert!(!effects.iter().any(|e| matches!(e, Effect::Validate { hash, .. } if *hash == y)), "{effects:?}");
}

#[test]
fn a_view_change_needs_f_plus_one_to_be_joined_and_a_quorum_to_move_on() {
    let (mut c, _, _) = backup_with_a_prepared_block();
    assert_eq!((c.view(), c.is_changing_view()), (1, true));
    // Alone in view 1: the timer only repeats the view change.
    let effects = c.handle(Input::Timeout { view: 1 });
    assert_eq!(c.view(), 1, "{effects:?}");
    assert!(effects.iter().any(|e| matches!(e, Effect::Broadcast(m) if m.message.view() == Some(1))));
    // One absurd view from one validator does not move us.
    let absurd = view_change(3, empty_change(u64::MAX));
    c.handle(signed(3, Message::ViewChange(absurd.change)));
    assert_eq!(c.view(), 1);
    // With validator 0 in view 1 too, a quorum has left view 0: the timer moves on.
    c.handle(signed(0, Message::ViewChange(empty_change(1))));
    c.handle(Input::Timeout { view: 1 });
    assert_eq!((c.view(), c.is_changing_view()), (2, true));
    // Validator 0 in view 7 as well: with validator 3's absurd view, f + 1 others are at 7
    // or above, so one of them correctly: joined at once (at 7, not at 3's view).
    c.handle(signed(0, Message::ViewChange(empty_change(7))));
    assert_eq!(c.view(), 7);
}

#[test]
fn a_re_proposed_block_is_validated_as_proposed_in_the_view_it_was_prepared_in() {
    let (_, ours, x) = backup_with_a_prepared_block();
    let (block, _) = make_block(1, 0, 0, 1, genesis());
    let changes = vec![view_change(0, empty_change(1)), ours, view_change(3, empty_change(1))];
    let nv = NewView { view: 1, view_changes: changes, pre_prepares: vec![ReProposal { block, ..re_proposal(1, 1, x) }] };
    // Validator 3 never saw the block in view 0: it validates the re-proposal in view 1,
    // as built by the proposer of view 0 (where it was prepared).
    let keys: Vec<LocalSigner> = (0..4).map(key).collect();
    let mut c = Core::new(config(&Params::quiet(4), &keys, 3), None, (0, genesis()));
    c.handle(Input::Start);
    let effects = c.handle(signed(1, Message::NewView(nv)));
    assert!(entered(&effects), "{effects:?}");
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Validate { height: 1, view: 1, proposed_view: 0, hash, .. } if *hash == x)),
        "{effects:?}"
    );
}
