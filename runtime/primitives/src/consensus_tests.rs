//! Tests of `strata_protocol::consensus` that sign with this crate's keys.

#[cfg(test)]
mod tests {
    use crate::LocalSigner;
    use crate::consensus::*;
    use alloc::vec;
    use alloy_primitives::{Address, B256, Signature, keccak256};

    fn signers(n: u8) -> Vec<LocalSigner> {
        (1..=n).map(|i| LocalSigner::from_bytes(&B256::repeat_byte(i)).unwrap()).collect()
    }

    fn set_of(keys: &[LocalSigner]) -> ValidatorSet {
        ValidatorSet::new(keys.iter().map(LocalSigner::address).collect())
    }

    fn certificate(keys: &[LocalSigner], who: &[u32], chain_id: u64) -> CommitCertificate {
        let (height, view, block_hash) = (7, 2, B256::repeat_byte(0xab));
        let digest = commit_digest(chain_id, height, view, block_hash);
        let signatures = who.iter().map(|&i| CertSignature::new(i, &keys[i as usize].sign_hash(&digest).unwrap())).collect();
        CommitCertificate { height, view, block_hash, signatures }
    }

    #[test]
    fn quorum_sizes() {
        let sizes: Vec<(usize, usize)> = (0..=10)
            .map(|n| {
                let set = ValidatorSet::new(vec![Address::ZERO; n]);
                (set.f(), set.quorum())
            })
            .collect();
        assert_eq!(sizes, [(0, 0), (0, 1), (0, 2), (0, 3), (1, 3), (1, 4), (1, 5), (2, 5), (2, 6), (2, 7), (3, 7)]);
        let set = ValidatorSet::new(vec![Address::ZERO; 4]);
        assert_eq!((set.primary(0), set.primary(5), set.primary(u64::MAX)), (0, 1, 3));
        assert_eq!(ValidatorSet::new(Vec::new()).primary(3), 0);
    }

    #[test]
    fn the_proposer_rotates_by_height_or_stays_with_the_view() {
        let set = ValidatorSet::new(vec![Address::ZERO; 4]);
        assert_eq!(set.rotation, ProposerRotation::ByHeight);
        // By height: consecutive heights of one view have different proposers, and a view
        // change at a height moves to the next one.
        let by_height: Vec<u32> = (1..=5).map(|h| select_proposer(&set, h, 0)).collect();
        assert_eq!(by_height, [1, 2, 3, 0, 1]);
        assert_eq!(select_proposer(&set, 6, 1), 3);
        assert_eq!(select_proposer(&set, u64::MAX, 1), 0);
        // Stable: the view's primary at every height.
        let stable = set.clone().with_rotation(ProposerRotation::Stable);
        assert!((1..=5).all(|h| select_proposer(&stable, h, 2) == 2));
        // The rotation is a chain parameter, not part of the set's encoding.
        assert_eq!(alloy_rlp::encode(&set), alloy_rlp::encode(&stable));
    }

    #[test]
    fn heartbeats_verify_only_for_their_key_chain_height_and_block() {
        use crate::slots::{Heartbeat, LivenessRecord, heartbeat_digest};
        let keys = signers(2);
        let (chain_id, slot, height, block_hash) = (9, 3, 41, B256::repeat_byte(7));
        let digest = heartbeat_digest(chain_id, slot, keys[0].address(), height, block_hash);
        let signature = keys[0].sign_hash(&digest).unwrap().as_bytes();
        let beat = Heartbeat { slot, key: keys[0].address(), height, block_hash, signature };
        assert!(beat.verify_with(chain_id, &K256));
        // Another chain, height, block, slot or claimed key: refused.
        assert!(!beat.verify_with(chain_id + 1, &K256));
        assert!(!Heartbeat { height: height + 1, ..beat }.verify_with(chain_id, &K256));
        assert!(!Heartbeat { block_hash: B256::ZERO, ..beat }.verify_with(chain_id, &K256));
        assert!(!Heartbeat { slot: 2, ..beat }.verify_with(chain_id, &K256));
        assert!(!Heartbeat { key: keys[1].address(), ..beat }.verify_with(chain_id, &K256));
        // A heartbeat is never a commit vote and vice versa (domain tags).
        assert_ne!(digest, commit_digest(chain_id, height, 0, block_hash));
        // The record's root commits to its heartbeats; an empty record is the zero root.
        assert_eq!(LivenessRecord::default().root(), B256::ZERO);
        let record = LivenessRecord { heartbeats: vec![beat] };
        assert_eq!(record.root(), keccak256(alloy_rlp::encode(&record)));
    }

    #[test]
    fn index_of_and_get() {
        let keys = signers(4);
        let set = set_of(&keys);
        assert_eq!(set.index_of(&keys[2].address()), Some(2));
        assert_eq!(set.index_of(&Address::repeat_byte(9)), None);
        assert_eq!(set.get(3), Some(&keys[3].address()));
        assert_eq!(set.get(4), None);
    }

    #[test]
    fn commit_digest_separates_every_field() {
        let base = commit_digest(1, 2, 3, B256::ZERO);
        assert_ne!(base, commit_digest(9, 2, 3, B256::ZERO));
        assert_ne!(base, commit_digest(1, 9, 3, B256::ZERO));
        assert_ne!(base, commit_digest(1, 2, 9, B256::ZERO));
        assert_ne!(base, commit_digest(1, 2, 3, B256::repeat_byte(1)));
        // Height and view are not interchangeable.
        assert_ne!(commit_digest(1, 2, 3, B256::ZERO), commit_digest(1, 3, 2, B256::ZERO));
    }

    #[test]
    fn a_quorum_verifies_and_round_trips() {
        let keys = signers(4);
        let set = set_of(&keys);
        let cert = certificate(&keys, &[0, 2, 3], 1337);
        assert_eq!(cert.verify(&set, 1337), Ok(()));
        let enc = alloy_rlp::encode(&cert);
        let back: CommitCertificate = crate::rlp_item::decode_exact(&enc).unwrap();
        assert_eq!(back, cert);
        assert_eq!(back.hash(), keccak256(&enc));
        // All four signers is fine too; a different subset is a different certificate.
        let all = certificate(&keys, &[0, 1, 2, 3], 1337);
        assert_eq!(all.verify(&set, 1337), Ok(()));
        assert_ne!(all.hash(), cert.hash());
    }

    #[test]
    fn single_validator_certifies_alone() {
        let keys = signers(1);
        let set = set_of(&keys);
        assert_eq!(certificate(&keys, &[0], 5).verify(&set, 5), Ok(()));
        assert_eq!(
            CommitCertificate { height: 1, view: 0, block_hash: B256::ZERO, signatures: Vec::new() }.verify(&set, 5),
            Err(CertificateError::TooFewSignatures { have: 0, need: 1 })
        );
    }

    #[test]
    fn too_few_signatures_are_refused() {
        let keys = signers(7);
        let set = set_of(&keys);
        assert_eq!(certificate(&keys, &[1, 4, 6], 1).verify(&set, 1), Err(CertificateError::TooFewSignatures { have: 3, need: 5 }));
        assert_eq!(certificate(&keys, &[0, 1, 2, 4, 6], 1).verify(&set, 1), Ok(()));
    }

    #[test]
    fn duplicate_and_unordered_signers_are_refused() {
        let keys = signers(4);
        let set = set_of(&keys);
        let mut cert = certificate(&keys, &[0, 1, 2], 1);
        // The same valid signature twice must not count twice.
        cert.signatures[2] = cert.signatures[1];
        assert_eq!(cert.verify(&set, 1), Err(CertificateError::DuplicateSigner { validator: 1 }));
        let unordered = certificate(&keys, &[2, 0, 1], 1);
        assert_eq!(unordered.verify(&set, 1), Err(CertificateError::UnorderedSigners { validator: 0 }));
        let out_of_range = certificate(&keys, &[0, 1, 2], 1);
        let mut out_of_range = out_of_range.clone();
        out_of_range.signatures[2].validator = 4;
        assert_eq!(out_of_range.verify(&set, 1), Err(CertificateError::UnknownValidator { validator: 4, len: 4 }));
    }

    #[test]
    fn forged_signatures_are_refused() {
        let keys = signers(4);
        let set = set_of(&keys);
        // Validator 3's signature attributed to validator 1.
        let mut cert = certificate(&keys, &[0, 1, 2], 1);
        let by_three = certificate(&keys, &[3, 0, 0], 1).signatures[0].signature;
        cert.signatures[1].signature = by_three;
        assert_eq!(cert.verify(&set, 1), Err(CertificateError::BadSignature { validator: 1 }));
        // An outsider's key in a validator's slot.
        let outsider = LocalSigner::from_bytes(&B256::repeat_byte(0x77)).unwrap();
        let mut cert = certificate(&keys, &[0, 1, 2], 1);
        cert.signatures[0].signature = outsider.sign_hash(&cert.digest(1)).unwrap().as_bytes();
        assert_eq!(cert.verify(&set, 1), Err(CertificateError::BadSignature { validator: 0 }));
        // A changed block hash, height or view invalidates every signature.
        let mut cert = certificate(&keys, &[0, 1, 2], 1);
        cert.block_hash = B256::repeat_byte(0xcd);
        assert_eq!(cert.verify(&set, 1), Err(CertificateError::BadSignature { validator: 0 }));
        let mut cert = certificate(&keys, &[0, 1, 2], 1);
        cert.view += 1;
        assert_eq!(cert.verify(&set, 1), Err(CertificateError::BadSignature { validator: 0 }));
        // A bad recovery byte.
        let mut cert = certificate(&keys, &[0, 1, 2], 1);
        cert.signatures[2].signature[64] = 5;
        assert_eq!(cert.verify(&set, 1), Err(CertificateError::BadSignature { validator: 2 }));
    }

    #[test]
    fn high_s_signatures_are_refused() {
        let keys = signers(4);
        let set = set_of(&keys);
        let mut cert = certificate(&keys, &[0, 1, 2], 1);
        let sig = cert.signatures[1].signature().unwrap();
        // (r, n - s, !v) recovers the same key; only the low-s form is accepted.
        let n = alloy_primitives::U256::from_be_slice(&alloy_primitives::hex!(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
        ));
        let high = Signature::new(sig.r(), n - sig.s(), !sig.v());
        assert_eq!(high.recover_address_from_prehash(&cert.digest(1)).unwrap(), keys[1].address());
        cert.signatures[1] = CertSignature::new(1, &high);
        assert_eq!(cert.verify(&set, 1), Err(CertificateError::BadSignature { validator: 1 }));
    }

    #[test]
    fn wrong_chain_id_is_refused() {
        let keys = signers(4);
        let set = set_of(&keys);
        let cert = certificate(&keys, &[0, 1, 3], 1);
        assert_eq!(cert.verify(&set, 2), Err(CertificateError::BadSignature { validator: 0 }));
    }

    #[test]
    fn garbage_does_not_decode() {
        for bytes in [&[][..], &[0xc0], &[0xc1, 0x80], &[0xff, 0xff], &[0xc4, 0x01, 0x02, 0x80, 0xc0]] {
            assert!(crate::rlp_item::decode_exact::<CommitCertificate>(bytes).is_err());
        }
    }
}
