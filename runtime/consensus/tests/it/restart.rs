//! One core driven by hand: what it signs, what it persists first, and that a core
//! restarted from its `Persisted` never signs something different for the same
//! (view, height, kind).

use crate::sim::{Params, config, genesis, key, make_block};
use strata_consensus::{Core, Effect, Input, Message, Persisted, PrePrepare, SignedMessage, Vote};
use strata_primitives::{B256, Bytes, LocalSigner};

const CHAIN: u64 = crate::sim::CHAIN_ID;

fn keys() -> Vec<LocalSigner> {
    (0..4).map(key).collect()
}

fn core(me: u32, persisted: Option<Persisted>) -> Core {
    Core::new(config(&Params::quiet(4), &keys(), me), persisted, (0, genesis()))
}

fn signed(from: u32, message: Message) -> Input {
    Input::Message(SignedMessage::sign(from, message, &key(from), CHAIN).unwrap())
}

fn pre_prepare(view: u64, height: u64, nonce: u64) -> (Message, B256, Bytes) {
    let (block, hash) = make_block(height, view, 0, nonce, genesis());
    (Message::PrePrepare(PrePrepare { view, height, hash, block: block.clone(), parent: None }), hash, block)
}

fn persisted_of(effects: &[Effect]) -> Option<Persisted> {
    effects.iter().find_map(|e| if let Effect::Persist(p) = e { Some(p.clone()) } else { None })
}

fn broadcasts(effects: &[Effect]) -> Vec<SignedMessage> {
    effects.iter().filter_map(|e| if let Effect::Broadcast(m) = e { Some(m.clone()) } else { None }).collect()
}

fn prepares_of(effects: &[Effect]) -> Vec<Vote> {
    broadcasts(effects).into_iter().filter_map(|m| if let Message::Prepare(v) = m.message { Some(v) } else { None }).collect()
}

fn commits_of(effects: &[Effect]) -> Vec<Vote> {
    broadcasts(effects).into_iter().filter_map(|m| if let Message::Commit(v) = m.message { Some(v) } else { None }).collect()
}

/// Backup 1 accepts the primary's block `nonce` at height 1 and prepares it.
fn prepared_backup(nonce: u64) -> (Core, Vec<Effect>, B256) {
    let mut c = core(1, None);
    c.handle(Input::Start);
    let (pp, hash, block) = pre_prepare(0, 1, nonce);
    let effects = c.handle(signed(0, pp));
    assert_eq!(effects, vec![Effect::Validate { height: 1, view: 0, proposed_view: 0, block, hash }]);
    let effects = c.handle(Input::Validated { height: 1, view: 0, hash, valid: true });
    (c, effects, hash)
}

#[test]
fn a_signed_vote_is_persisted_before_it_is_sent() {
    let (_, effects, hash) = prepared_backup(1);
    assert!(matches!(effects[0], Effect::Persist(_)), "{effects:?}");
    assert_eq!(prepares_of(&effects), vec![Vote { view: 0, height: 1, hash }]);
}

#[test]
fn restarted_backup_never_prepares_a_second_block_in_the_view() {
    let (_, effects, x) = prepared_backup(1);
    let persisted = persisted_of(&effects).unwrap();
    let sent = broadcasts(&effects);

    let mut restarted = core(1, Some(Persisted::decode(&persisted.encode()).unwrap()));
    // The restart re-sends the same prepare, byte for byte.
    let again = restarted.handle(Input::Start);
    assert_eq!(broadcasts(&again), sent);

    // The (equivocating) primary now shows it another block for the same view and height.
    let (pp, y, _) = pre_prepare(0, 1, 2);
    assert_ne!(x, y);
    let effects = restarted.handle(signed(0, pp));
    assert!(matches!(effects.as_slice(), [Effect::Validate { hash, .. }] if *hash == y), "{effects:?}");
    let effects = restarted.handle(Input::Validated { height: 1, view: 0, hash: y, valid: true });
    assert!(prepares_of(&effects).is_empty(), "prepared a second block: {effects:?}");

    // Without what it persisted it would have (the control).
    let mut amnesiac = core(1, None);
    amnesiac.handle(Input::Start);
    let (pp, _, _) = pre_prepare(0, 1, 2);
    amnesiac.handle(signed(0, pp));
    let effects = amnesiac.handle(Input::Validated { height: 1, view: 0, hash: y, valid: true });
    assert_eq!(prepares_of(&effects), vec![Vote { view: 0, height: 1, hash: y }]);
}

#[test]
fn restarted_backup_never_commits_a_second_block_in_the_view() {
    let (mut c, _, x) = prepared_backup(1);
    // The pre-prepare, our prepare and one more make a quorum of three.
    let effects = c.handle(signed(2, Message::Prepare(Vote { view: 0, height: 1, hash: x })));
    assert!(matches!(effects[0], Effect::Persist(_)));
    assert_eq!(commits_of(&effects), vec![Vote { view: 0, height: 1, hash: x }]);
    let persisted = persisted_of(&effects).unwrap();

    let mut restarted = core(1, Some(persisted));
    restarted.handle(Input::Start);
    let (pp, y, _) = pre_prepare(0, 1, 2);
    restarted.handle(signed(0, pp));
    let mut effects = restarted.handle(Input::Validated { height: 1, view: 0, hash: y, valid: true });
    effects.extend(restarted.handle(signed(2, Message::Prepare(Vote { view: 0, height: 1, hash: y }))));
    effects.extend(restarted.handle(signed(3, Message::Prepare(Vote { view: 0, height: 1, hash: y }))));
    assert!(prepares_of(&effects).is_empty() && commits_of(&effects).is_empty(), "{effects:?}");
}

#[test]
fn restarted_primary_resends_its_block_and_proposes_nothing_new() {
    let mut c = core(0, None);
    let effects = c.handle(Input::Start);
    assert!(effects.contains(&Effect::Propose { height: 1, view: 0, parent: genesis() }), "{effects:?}");
    let (block, hash) = make_block(1, 0, 0, 9, genesis());
    let effects = c.handle(Input::Proposal { height: 1, view: 0, block: block.clone(), hash });
    assert!(matches!(effects[0], Effect::Persist(_)));
    let sent = broadcasts(&effects);
    assert!(matches!(&sent[0].message, Message::PrePrepare(p) if p.hash == hash && p.block == block));

    let mut restarted = core(0, persisted_of(&effects));
    let effects = restarted.handle(Input::Start);
    assert!(!effects.iter().any(|e| matches!(e, Effect::Propose { .. })), "{effects:?}");
    assert_eq!(broadcasts(&effects), sent);
    // A late answer to a proposal request for the same view and height is refused.
    let (other, other_hash) = make_block(1, 0, 0, 10, genesis());
    let effects = restarted.handle(Input::Proposal { height: 1, view: 0, block: other, hash: other_hash });
    assert!(broadcasts(&effects).is_empty(), "{effects:?}");
}

#[test]
fn restarted_view_change_is_resent_not_signed_again() {
    let mut c = core(1, None);
    c.handle(Input::Start);
    let effects = c.handle(Input::Timeout { view: 0 });
    assert!(matches!(effects[0], Effect::Persist(_)));
    let sent = broadcasts(&effects);
    assert!(matches!(&sent[..], [m] if matches!(&m.message, Message::ViewChange(v) if v.view == 1)), "{effects:?}");
    assert_eq!((c.view(), c.is_changing_view()), (1, true));

    let mut restarted = core(1, persisted_of(&effects));
    assert_eq!((restarted.view(), restarted.is_changing_view()), (1, true));
    let effects = restarted.handle(Input::Start);
    assert_eq!(broadcasts(&effects), sent);
    // A stale timer of the old view does nothing.
    assert!(restarted.handle(Input::Timeout { view: 0 }).is_empty());
}

#[test]
fn forged_and_replayed_messages_are_ignored() {
    let (mut c, _, x) = prepared_backup(1);
    let vote = Vote { view: 0, height: 1, hash: x };
    // Validator 2's prepare signed by an outsider, and by validator 3.
    let outsider = LocalSigner::from_bytes(&B256::repeat_byte(0x42)).unwrap();
    let forged = SignedMessage::sign(2, Message::Prepare(vote), &outsider, CHAIN).unwrap();
    assert!(c.handle(Input::Message(forged)).is_empty());
    let misattributed = SignedMessage { from: 2, ..SignedMessage::sign(3, Message::Prepare(vote), &key(3), CHAIN).unwrap() };
    assert!(c.handle(Input::Message(misattributed)).is_empty());
    // Another chain's prepare.
    let other_chain = SignedMessage::sign(2, Message::Prepare(vote), &key(2), CHAIN + 1).unwrap();
    assert!(c.handle(Input::Message(other_chain)).is_empty());
    // None of those counted: the genuine prepare is the one that completes the quorum;
    // replayed, it changes nothing.
    let genuine = signed(2, Message::Prepare(vote));
    assert_eq!(commits_of(&c.handle(genuine.clone())), vec![vote]);
    assert!(c.handle(genuine).is_empty());
}

#[test]
fn a_certificate_for_a_height_we_lack_commits_or_reports_behind() {
    let (mut c, _, x) = prepared_backup(1);
    let vote = Vote { view: 0, height: 1, hash: x };
    // Commits from 0, 2, 3 (without prepares reaching us): a certificate; we have the block.
    c.handle(signed(0, Message::Commit(vote)));
    c.handle(signed(2, Message::Commit(vote)));
    let effects = c.handle(signed(3, Message::Commit(vote)));
    let committed: Vec<_> = effects
        .iter()
        .filter_map(|e| {
            if let Effect::Commit { height, hash, certificate, .. } = e { Some((*height, *hash, certificate.clone())) } else { None }
        })
        .collect();
    assert_eq!(committed.len(), 1, "{effects:?}");
    assert_eq!((committed[0].0, committed[0].1), (1, x));
    let set = config(&Params::quiet(4), &keys(), 1).validators.validators_at(1).unwrap();
    assert_eq!(committed[0].2.verify(&set, CHAIN), Ok(()));
    assert_eq!(c.height(), 2);

    // A validator that never saw the block: the same commits make it catch up instead.
    let mut blind = core(2, None);
    blind.handle(Input::Start);
    blind.handle(signed(0, Message::Commit(vote)));
    blind.handle(signed(1, Message::Commit(vote)));
    let effects = blind.handle(signed(3, Message::Commit(vote)));
    assert!(effects.iter().any(|e| matches!(e, Effect::Behind { height: 1, .. })), "{effects:?}");
    assert!(!effects.iter().any(|e| matches!(e, Effect::Commit { .. })));
    // The node caught up: it moves on.
    blind.handle(Input::Synced { height: 1, hash: x });
    assert_eq!(blind.height(), 2);
}

#[test]
fn persisted_state_rejects_garbage() {
    let (_, effects, _) = prepared_backup(1);
    let bytes = persisted_of(&effects).unwrap().encode();
    assert!(Persisted::decode(&bytes[..bytes.len() - 1]).is_err());
    assert!(Persisted::decode(&[0xc0]).is_err());
    let mut longer = bytes.clone();
    longer.push(0x80);
    assert!(Persisted::decode(&longer).is_err());
}
