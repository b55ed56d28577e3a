//! Block bytes from the network, through one core driven by hand: a copy whose bytes
//! do not hash to the signed hash is ignored (and costs nothing), and block bytes held
//! for views and heights not yet being decided stay within their budget.

use crate::sim::{Params, config, genesis, key, make_block};
use std::collections::VecDeque;
use strata_consensus::{
    Core, Effect, Input, Message, NewView, PrePrepare, PreparedCertificate, ReProposal, SignedMessage, SignedViewChange, ViewChange, Vote,
    pre_prepare_digest, prepare_digest, view_change_digest,
};
use strata_primitives::{B256, Bytes, CertSignature, LocalSigner, keccak256};

const CHAIN: u64 = crate::sim::CHAIN_ID;

fn core_with(p: &Params, me: u32) -> Core {
    let keys: Vec<LocalSigner> = (0..p.n as u32).map(key).collect();
    let mut c = Core::new(config(p, &keys, me), None, (0, genesis()));
    c.handle(Input::Start);
    c
}

fn sign(from: u32, message: Message) -> SignedMessage {
    SignedMessage::sign(from, message, &key(from), CHAIN).unwrap()
}

fn signed(from: u32, message: Message) -> Input {
    Input::Message(sign(from, message))
}

/// Feeds `input`, answering every `Validate` as the node does (valid if the bytes hash
/// to the hash: the simulated blocks all link to genesis or are never committed); all
/// effects, in order.
fn feed(c: &mut Core, input: Input) -> Vec<Effect> {
    let mut all = Vec::new();
    let mut queue = VecDeque::from([input]);
    while let Some(input) = queue.pop_front() {
        let effects = c.handle(input);
        for e in &effects {
            if let Effect::Validate { height, view, block, hash, .. } = e {
                queue.push_back(Input::Validated { height: *height, view: *view, hash: *hash, valid: keccak256(block) == *hash });
            }
        }
        all.extend(effects);
    }
    all
}

fn validated(effects: &[Effect]) -> Vec<(u64, u64, B256, Bytes)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Validate { height, view, block, hash, .. } => Some((*height, *view, *hash, block.clone())),
            _ => None,
        })
        .collect()
}

fn votes(effects: &[Effect], commit: bool) -> Vec<Vote> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Broadcast(SignedMessage { message: Message::Prepare(v), .. }) if !commit => Some(*v),
            Effect::Broadcast(SignedMessage { message: Message::Commit(v), .. }) if commit => Some(*v),
            _ => None,
        })
        .collect()
}

fn committed(effects: &[Effect]) -> Vec<(u64, u64, B256, Bytes)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Commit { height, block, hash, certificate } => Some((*height, certificate.view, *hash, block.clone())),
            _ => None,
        })
        .collect()
}

/// The ways a relay can alter a block: another well-formed block, a flipped bit, a cut,
/// nothing at all.
fn tamperings(block: &Bytes, height: u64, view: u64) -> Vec<Bytes> {
    let mut flipped = block.to_vec();
    flipped[block.len() / 2] ^= 0x10;
    vec![make_block(height, view, 0, 666, genesis()).0, flipped.into(), block.slice(..block.len() - 1), Bytes::from_static(b"\xc0")]
}

#[test]
fn tampered_relay_does_not_cost_the_view() {
    // Backup 1 at height 1 in view 0; the primary (0) proposes X. Relays of its correctly
    // signed pre-prepare with other bytes arrive first, then the pre-prepare itself.
    let mut c = core_with(&Params::quiet(4), 1);
    let (block, x) = make_block(1, 0, 0, 1, genesis());
    let genuine = PrePrepare { view: 0, height: 1, hash: x, block: block.clone(), parent: None };
    let signature = sign(0, Message::PrePrepare(genuine.clone())).signature;
    for bytes in tamperings(&block, 1, 0) {
        let relayed = SignedMessage { from: 0, message: Message::PrePrepare(PrePrepare { block: bytes, ..genuine.clone() }), signature };
        let effects = feed(&mut c, Input::Message(relayed));
        assert!(validated(&effects).is_empty(), "tampered bytes handed on for validation: {effects:?}");
        assert!(votes(&effects, false).is_empty(), "{effects:?}");
    }
    // The genuine block is kept, validated and prepared, in view 0.
    let effects = feed(&mut c, signed(0, Message::PrePrepare(genuine)));
    assert_eq!(validated(&effects), vec![(1, 0, x, block.clone())], "{effects:?}");
    let vote = Vote { view: 0, height: 1, hash: x };
    assert_eq!(votes(&effects, false), vec![vote], "{effects:?}");
    // The view goes on to commit it: our prepare and validator 2's make it prepared.
    let effects = feed(&mut c, signed(2, Message::Prepare(vote)));
    assert_eq!(votes(&effects, true), vec![vote], "{effects:?}");
    feed(&mut c, signed(0, Message::Commit(vote)));
    let effects = feed(&mut c, signed(2, Message::Commit(vote)));
    assert_eq!(committed(&effects), vec![(1, 0, x, block)], "{effects:?}");
    assert_eq!((c.view(), c.height(), c.is_changing_view()), (0, 2, false));
}

/// View 1's new view re-proposes X (prepared in view 0 by 0, 1 and 3), with its bytes.
fn new_view_re_proposing(x: B256, block: &Bytes) -> NewView {
    let pre_prepare = key(0).sign_hash(&pre_prepare_digest(CHAIN, 0, 1, x)).unwrap().as_bytes();
    let prepares = [1, 3]
        .into_iter()
        .map(|v| CertSignature { validator: v, signature: key(v).sign_hash(&prepare_digest(CHAIN, 0, 1, x)).unwrap().as_bytes() })
        .collect();
    let cert = PreparedCertificate { view: 0, height: 1, hash: x, pre_prepare, prepares };
    let change = |from: u32, prepared: Vec<PreparedCertificate>| {
        let change = ViewChange { view: 1, height: 1, prepared, checkpoint: None, committed: None };
        let signature = key(from).sign_hash(&view_change_digest(CHAIN, &change)).unwrap().as_bytes();
        SignedViewChange { from, change, signature }
    };
    let signature = key(1).sign_hash(&pre_prepare_digest(CHAIN, 1, 1, x)).unwrap().as_bytes();
    NewView {
        view: 1,
        view_changes: vec![change(0, vec![cert.clone()]), change(1, vec![cert]), change(3, vec![])],
        pre_prepares: vec![ReProposal { height: 1, hash: x, signature, block: block.clone() }],
    }
}

#[test]
fn tampered_new_view_relay_does_not_cost_the_re_proposal() {
    // Validator 2 never saw X, which the others prepared in view 0; view 1's new view
    // re-proposes it with its bytes. A relay of the new view with other bytes arrives first, then the new view.
    let mut c = core_with(&Params::quiet(4), 2);
    let (block, x) = make_block(1, 0, 0, 1, genesis());
    let genuine = new_view_re_proposing(x, &block);
    let signature = sign(1, Message::NewView(genuine.clone())).signature;
    let mut tampered = genuine.clone();
    tampered.pre_prepares[0].block = tamperings(&block, 1, 0).swap_remove(0);
    let effects = feed(&mut c, Input::Message(SignedMessage { from: 1, message: Message::NewView(tampered), signature }));
    // The new view itself is sound: entered; its bytes are not.
    assert_eq!((c.view(), c.is_changing_view()), (1, false), "{effects:?}");
    assert!(validated(&effects).is_empty(), "tampered bytes handed on for validation: {effects:?}");
    // The same new view with the genuine bytes supplies them.
    let effects = feed(&mut c, signed(1, Message::NewView(genuine)));
    assert_eq!(validated(&effects), vec![(1, 1, x, block)], "{effects:?}");
    assert_eq!(votes(&effects, false), vec![Vote { view: 1, height: 1, hash: x }], "{effects:?}");
}

/// A block of `len` bytes of its own for (`height`, `view`), with its hash.
fn big_block(height: u64, view: u64, len: usize) -> (Bytes, B256) {
    let mut bytes = vec![0x5a; len];
    bytes[..8].copy_from_slice(&height.to_be_bytes());
    bytes[8..16].copy_from_slice(&view.to_be_bytes());
    let hash = keccak256(&bytes);
    (bytes.into(), hash)
}

/// The primary of `view` (of 4) proposes `block` at `height`.
fn proposal(view: u64, height: u64, (block, hash): (Bytes, B256)) -> Input {
    signed((view % 4) as u32, Message::PrePrepare(PrePrepare { view, height, hash, block, parent: None }))
}

#[test]
fn early_block_flood_stays_within_budget_and_the_chain_moves_on() {
    // Validator 1 at height 1 in view 0 holds at most 8 blocks of 64 KiB early.
    const LEN: usize = 64 << 10;
    let budget = 8 * LEN as u64;
    let mut p = Params::quiet(4);
    p.max_early_block_bytes = budget;
    let mut c = core_with(&p, 1);
    // Every primary of views 2 to 4 (as far ahead as blocks are kept) proposes a block at
    // every height of the window (1 to 16), and view 0's primary at every height above 2:
    // 63 blocks, 4 MiB. Farthest first, so that each new one is nearer than those held,
    // then nearest first, then all again.
    let mut flood: Vec<(u64, u64)> = (1..=16).flat_map(|h| [2, 3, 4].map(|v| (h, v))).chain((3..=16).map(|h| (h, 0))).collect();
    flood.sort_by_key(|&(h, v)| std::cmp::Reverse((h, v)));
    let ascending: Vec<(u64, u64)> = flood.iter().rev().copied().collect();
    for &(height, view) in flood.iter().chain(&ascending).chain(&flood) {
        let effects = feed(&mut c, proposal(view, height, big_block(height, view, LEN)));
        assert!(validated(&effects).is_empty(), "none of them is for our height in our view: {effects:?}");
        assert!(c.early_block_bytes() <= budget, "{} early bytes held", c.early_block_bytes());
        assert_eq!(c.held_block_bytes(), c.early_block_bytes());
    }
    // The nearest ones fill the budget.
    assert_eq!(c.held_block_bytes(), budget);
    // Validators 0 and 3 (f + 1) are in view 3 or later: the validator joined view 3.
    assert_eq!((c.view(), c.is_changing_view()), (3, true));

    // View 3 starts, and its primary's blocks at heights 1 and 2, held from the flood, are
    // validated and committed.
    let change = |from: u32| {
        let change = ViewChange { view: 3, height: 1, prepared: vec![], checkpoint: None, committed: None };
        let signature = key(from).sign_hash(&view_change_digest(CHAIN, &change)).unwrap().as_bytes();
        SignedViewChange { from, change, signature }
    };
    let nv = NewView { view: 3, view_changes: vec![change(0), change(2), change(3)], pre_prepares: vec![] };
    let mut effects = feed(&mut c, signed(3, Message::NewView(nv)));
    for height in 1..=2 {
        let hash = big_block(height, 3, LEN).1;
        assert!(validated(&effects).iter().any(|v| (v.0, v.1, v.2) == (height, 3, hash)), "{effects:?}");
        let vote = Vote { view: 3, height, hash };
        assert_eq!(votes(&effects, false), vec![vote], "{effects:?}");
        assert_eq!(votes(&feed(&mut c, signed(0, Message::Prepare(vote))), true), vec![vote]);
        feed(&mut c, signed(0, Message::Commit(vote)));
        effects = feed(&mut c, signed(3, Message::Commit(vote)));
        assert!(committed(&effects).iter().any(|e| (e.0, e.1, e.2) == (height, 3, hash)), "{effects:?}");
        assert!(c.early_block_bytes() <= budget);
    }
    assert_eq!((c.height(), c.view()), (3, 3));
}

#[test]
fn the_block_to_decide_now_is_taken_over_the_budget() {
    // No room at all for early blocks: the block of our height in our view is still taken
    // (and validated and prepared), the next height's is not.
    let mut p = Params::quiet(4);
    p.max_early_block_bytes = 0;
    let mut c = core_with(&p, 1);
    let next = big_block(2, 0, 1000);
    let effects = feed(&mut c, proposal(0, 2, next));
    assert!(validated(&effects).is_empty() && c.held_block_bytes() == 0, "{effects:?}");
    let now = big_block(1, 0, 1000);
    let effects = feed(&mut c, proposal(0, 1, now.clone()));
    assert_eq!(validated(&effects), vec![(1, 0, now.1, now.0)], "{effects:?}");
    assert_eq!(votes(&effects, false), vec![Vote { view: 0, height: 1, hash: now.1 }]);
    assert_eq!((c.held_block_bytes(), c.early_block_bytes()), (1000, 0));
}

#[test]
fn a_late_commit_vote_extends_the_certificate_of_the_height_just_committed() {
    // Validator 1 commits X at height 1 with the commits of 0, 1 (its own) and 2; then 3's
    // commit arrives: the certificate the next block will name gains it, once.
    let mut c = core_with(&Params::quiet(4), 1);
    let (block, x) = make_block(1, 0, 0, 1, genesis());
    feed(&mut c, signed(0, Message::PrePrepare(PrePrepare { view: 0, height: 1, hash: x, block: block.clone(), parent: None })));
    let vote = Vote { view: 0, height: 1, hash: x };
    feed(&mut c, signed(2, Message::Prepare(vote)));
    feed(&mut c, signed(0, Message::Commit(vote)));
    let effects = feed(&mut c, signed(2, Message::Commit(vote)));
    assert_eq!(committed(&effects).len(), 1);
    let extended = |effects: &[Effect]| -> Vec<Vec<u32>> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::CertificateExtended { certificate } => Some(certificate.signatures.iter().map(|s| s.validator).collect()),
                _ => None,
            })
            .collect()
    };
    // A vote for another block, or from a validator already in it: nothing.
    let (_, y) = make_block(1, 0, 0, 2, genesis());
    assert!(extended(&feed(&mut c, signed(3, Message::Commit(Vote { hash: y, ..vote })))).is_empty());
    assert!(extended(&feed(&mut c, signed(2, Message::Commit(vote)))).is_empty());
    // The late vote: in, in validator order, and checked (a forged one is ignored).
    let forged = SignedMessage { signature: sign(2, Message::Commit(vote)).signature, ..sign(3, Message::Commit(vote)) };
    assert!(extended(&feed(&mut c, Input::Message(forged))).is_empty());
    assert_eq!(extended(&feed(&mut c, signed(3, Message::Commit(vote)))), vec![vec![0, 1, 2, 3]]);
    assert!(extended(&feed(&mut c, signed(3, Message::Commit(vote)))).is_empty(), "once");
}
