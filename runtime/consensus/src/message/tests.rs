//! Round trips, domain separation, garbage and the new-view plan.

use super::*;

fn key(i: u8) -> LocalSigner {
    LocalSigner::from_bytes(&B256::repeat_byte(i)).unwrap()
}

fn samples() -> Vec<Message> {
    let cert = CommitCertificate {
        height: 4,
        view: 1,
        block_hash: B256::repeat_byte(4),
        signatures: vec![CertSignature { validator: 0, signature: [7; 65] }],
    };
    let prepared = PreparedCertificate {
        view: 0,
        height: 5,
        hash: B256::repeat_byte(5),
        pre_prepare: [1; 65],
        prepares: vec![CertSignature { validator: 2, signature: [2; 65] }],
    };
    let change = ViewChange {
        view: 3,
        height: 5,
        prepared: vec![prepared],
        checkpoint: Some(CheckpointProof { height: 0, hash: B256::ZERO, signatures: vec![] }),
        committed: Some(cert.clone()),
    };
    vec![
        Message::PrePrepare(PrePrepare {
            view: 1,
            height: 5,
            hash: B256::repeat_byte(9),
            block: Bytes::from_static(b"block"),
            parent: None,
        }),
        Message::PrePrepare(PrePrepare { view: 1, height: 5, hash: B256::repeat_byte(9), block: Bytes::new(), parent: Some(cert) }),
        Message::Prepare(Vote { view: 2, height: 3, hash: B256::repeat_byte(1) }),
        Message::Commit(Vote { view: 2, height: 3, hash: B256::repeat_byte(1) }),
        Message::Checkpoint(Checkpoint { height: 16, hash: B256::repeat_byte(3) }),
        Message::ViewChange(change.clone()),
        Message::ViewChange(ViewChange { view: 1, height: 1, prepared: vec![], checkpoint: None, committed: None }),
        Message::ViewChange(ViewChange { committed: None, ..change.clone() }),
        Message::NewView(NewView {
            view: 3,
            view_changes: vec![SignedViewChange { from: 1, change, signature: [3; 65] }],
            pre_prepares: vec![ReProposal { height: 5, hash: B256::repeat_byte(5), signature: [4; 65], block: Bytes::from_static(b"b") }],
        }),
    ]
}

#[test]
fn every_kind_round_trips_and_verifies() {
    let k = key(1);
    let set = ValidatorSet::new(vec![key(9).address(), k.address()]);
    for message in samples() {
        let signed = SignedMessage::sign(1, message, &k, 77).unwrap();
        let bytes = signed.encode();
        let back = SignedMessage::decode(&bytes).unwrap();
        assert_eq!(back, signed);
        assert_eq!(back.verify(&set, 77), Ok(()));
        assert_eq!(back.verify(&set, 78), Err(Error::BadSignature(1)));
        let mut wrong_sender = back.clone();
        wrong_sender.from = 0;
        assert_eq!(wrong_sender.verify(&set, 77), Err(Error::BadSignature(0)));
        wrong_sender.from = 2;
        assert_eq!(wrong_sender.verify(&set, 77), Err(Error::UnknownValidator(2)));
    }
}

#[test]
fn digests_are_domain_separated() {
    let v = Vote { view: 1, height: 2, hash: B256::repeat_byte(3) };
    let digests = [
        Message::Prepare(v).digest(1),
        Message::Commit(v).digest(1),
        Message::PrePrepare(PrePrepare { view: 1, height: 2, hash: v.hash, block: Bytes::new(), parent: None }).digest(1),
        Message::Prepare(v).digest(2),
    ];
    for (i, a) in digests.iter().enumerate() {
        for b in &digests[i + 1..] {
            assert_ne!(a, b);
        }
    }
    // The unsigned parts of a pre-prepare do not change its digest.
    let with_block = PrePrepare { view: 1, height: 2, hash: v.hash, block: Bytes::from_static(b"x"), parent: None };
    assert_eq!(Message::PrePrepare(with_block).digest(1), digests[2]);
}

#[test]
fn garbage_never_panics() {
    let k = key(1);
    let mut rng = strata_testdata::Rng::new(0xdead_beef);
    let valid: Vec<Vec<u8>> = samples().into_iter().map(|m| SignedMessage::sign(1, m, &k, 1).unwrap().encode()).collect();
    for round in 0..20_000u32 {
        let mut bytes = valid[round as usize % valid.len()].clone();
        match rng.next() % 4 {
            0 => {
                let len = (rng.next() % 200) as usize;
                bytes = (0..len).map(|_| rng.next() as u8).collect();
            }
            1 => {
                let cut = (rng.next() as usize) % bytes.len().max(1);
                bytes.truncate(cut);
            }
            _ => {
                for _ in 0..1 + rng.next() % 4 {
                    let i = (rng.next() as usize) % bytes.len();
                    bytes[i] = rng.next() as u8;
                }
            }
        }
        let _ = SignedMessage::decode(&bytes);
    }
    assert!(SignedMessage::decode(&[]).is_err());
    let mut trailing = valid[0].clone();
    trailing.push(0);
    assert_eq!(SignedMessage::decode(&trailing), Err(Error::TrailingBytes(1)));
    let mut bad_kind = valid[2].clone();
    // [from, kind, ...]: `from` is the single byte 0x01, then the kind byte.
    let kind_at = Header::decode(&mut &bad_kind[..]).map(|h| bad_kind.len() - h.payload_length).unwrap() + 1;
    bad_kind[kind_at] = 0x09;
    assert_eq!(SignedMessage::decode(&bad_kind), Err(Error::UnknownKind(9)));
}

#[test]
fn new_view_plan_takes_the_highest_view_above_the_highest_floor() {
    let prepared =
        |view, height, byte| PreparedCertificate { view, height, hash: B256::repeat_byte(byte), pre_prepare: [0; 65], prepares: vec![] };
    let change = |floor: u64, prepared: Vec<PreparedCertificate>| SignedViewChange {
        from: 0,
        change: ViewChange {
            view: 9,
            height: floor + 1,
            prepared,
            checkpoint: None,
            committed: Some(CommitCertificate { height: floor, view: 0, block_hash: B256::ZERO, signatures: vec![] }),
        },
        signature: [0; 65],
    };
    let changes = [
        change(3, vec![prepared(1, 4, 0xa), prepared(2, 5, 0xb)]),
        change(4, vec![prepared(3, 5, 0xc)]),
        change(2, vec![prepared(0, 3, 0xd), prepared(5, 4, 0xe), prepared(5, 7, 0xf)]),
    ];
    // Base 4 (the highest floor); height 5 from view 3; 6 has nothing, so 7 is not reached.
    assert_eq!(new_view_plan(&changes), (4, vec![(5, B256::repeat_byte(0xc))]));
    assert_eq!(new_view_plan(&[]), (0, vec![]));
}
