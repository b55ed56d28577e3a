//! Validator slots on the chain service's side: the validator set of each height read
//! from state ([`SlotSets`]), the heartbeats sync nodes send (kept per head for the next
//! block this node proposes), and what a block observed of its parent.
//!
//! The rules themselves are the runtime's: [`strata_primitives::slots`] (the switch
//! rule, keys per height) and [`strata_executor::rules::observe_liveness`] (evidence).

use std::{
    collections::BTreeMap,
    sync::{Arc, Weak},
};

use parking_lot::Mutex;
use strata_executor::{
    rules::{ChainRules, HeartbeatError, observe_liveness, validate_heartbeat},
    slots::{self, SlotState},
};
use strata_primitives::{
    Address, B256, CommitCertificate, ProposerRotation, ValidatorSet, ValidatorSets,
    slots::{Heartbeat, LivenessRecord, Observation, validator_set_at},
};

use crate::{Chain, Result};

/// Sets kept in memory (older heights are read from retained state again).
const CACHED_SETS: usize = 4096;

/// The validators of each height of a chain with slots: the active keys in the state
/// after block `height - 2` (the genesis state for heights 1 and 2). A set is final once
/// that block is committed, so it is cached.
pub struct SlotSets {
    chain: Weak<Chain>,
    rotation: ProposerRotation,
    cache: Mutex<BTreeMap<u64, Arc<ValidatorSet>>>,
}

impl std::fmt::Debug for SlotSets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotSets").field("cached", &self.cache.lock().len()).finish()
    }
}

impl SlotSets {
    pub(crate) fn new(chain: Weak<Chain>, rotation: ProposerRotation) -> Self {
        Self { chain, rotation, cache: Mutex::new(BTreeMap::new()) }
    }

    fn compute(&self, height: u64) -> Option<ValidatorSet> {
        let chain = self.chain.upgrade()?;
        let head = chain.head().1.number;
        // Any state after a block B with height - 2 <= B <= height tells the keys.
        let from = height.saturating_sub(2);
        if from > head {
            return None;
        }
        let at = height.min(head);
        let records = if at == head {
            slots::read(&*chain.latest_state()).ok()??.slots
        } else {
            match chain.state_at(at) {
                Ok(state) => slots::read(&state).ok()??.slots,
                // Pruned: the oldest state within reach of `height`.
                Err(_) => slots::read(&chain.state_at(from).ok()?).ok()??.slots,
            }
        };
        Some(validator_set_at(&records, height).with_rotation(self.rotation))
    }
}

impl ValidatorSets for SlotSets {
    fn validators_at(&self, height: u64) -> Option<Arc<ValidatorSet>> {
        if let Some(set) = self.cache.lock().get(&height) {
            return Some(set.clone());
        }
        let set = Arc::new(self.compute(height)?);
        let mut cache = self.cache.lock();
        cache.insert(height, set.clone());
        while cache.len() > CACHED_SETS {
            cache.pop_first();
        }
        Some(set)
    }
}

impl Chain {
    /// The validators of every height: the genesis set, or with validator slots, the
    /// active keys read from state.
    pub fn validator_sets(&self) -> Arc<dyn ValidatorSets> {
        self.sets.clone().unwrap_or_else(|| self.spec.validator_sets())
    }

    /// The header rules of this chain, with its validator sets.
    pub fn rules(&self) -> ChainRules {
        ChainRules { validators: self.validator_sets(), ..self.spec.rules() }
    }

    /// The slot state after the head (`None` on a chain without slots).
    pub fn slot_state(&self) -> Result<Option<SlotState>> {
        Ok(slots::read(&*self.latest_state())?)
    }

    /// A sync node's heartbeat for the head block: checked (the slot's alternate key at
    /// the head's height, the head's hash, a valid signature), then kept for the next
    /// block this node proposes. A later heartbeat of the same slot replaces it.
    pub fn add_heartbeat(&self, beat: Heartbeat) -> Result<Result<(), HeartbeatError>> {
        let (hash, head) = self.head();
        // Cheap refusals first: only the head's heartbeats are of use, and one per slot
        // (a repeat of the one kept costs no signature recovery).
        if beat.height != head.number || beat.block_hash != hash {
            return Ok(Err(HeartbeatError::WrongBlock {
                height: beat.height,
                hash: beat.block_hash,
                parent_height: head.number,
                parent_hash: hash,
            }));
        }
        if self.inner.lock().heartbeats.get(&beat.slot) == Some(&beat) {
            return Ok(Ok(()));
        }
        let Some(state) = self.slot_state()? else { return Ok(Err(HeartbeatError::UnknownSlot)) };
        if let Err(e) = validate_heartbeat(&beat, &state.slots, self.spec.chain_id, head.number, hash) {
            return Ok(Err(e));
        }
        let mut inner = self.inner.lock();
        // The head may have moved while checking: keep only heartbeats for the head.
        if inner.head.0 == hash {
            inner.heartbeats.insert(beat.slot, beat);
        }
        Ok(Ok(()))
    }

    /// The heartbeats kept for the head `head_hash`, in slot order.
    pub(crate) fn heartbeats_for(&self, head_hash: B256) -> LivenessRecord {
        let inner = self.inner.lock();
        LivenessRecord { heartbeats: inner.heartbeats.values().filter(|b| b.block_hash == head_hash).copied().collect() }
    }

    /// What block `number` by `proposer` (on the head), carrying `record` and naming the
    /// head's certificate `parent_certificate`, observes of the head: checked evidence for
    /// the switch rule (`None` on a chain without slots).
    pub(crate) fn observe(
        &self,
        number: u64,
        proposer: Address,
        parent_certificate: Option<&CommitCertificate>,
        record: &LivenessRecord,
    ) -> Result<Option<Observation>, crate::ValidateError> {
        let (head_hash, head) = self.head();
        let state = self.slot_state()?;
        Ok(observe_liveness(number, proposer, head_hash, &head, parent_certificate, record, state.as_ref(), self.spec.chain_id)?)
    }
}

#[cfg(test)]
mod tests {
    //! A chain with four slots, every machine's view replayed in one process: blocks
    //! proposed by the scheduled active key, validated and committed by all, certificates
    //! signed by the live active keys, heartbeats sent by the sync nodes.
    use super::*;
    use crate::{BlockError, ChainConfig, ChainSpec, Check, FeeRecipient, SlotGenesis, StorageClass, ValidateError};
    use strata_primitives::{
        CertSignature, LocalSigner, SealedBlock, commit_digest, keccak256, rlp,
        slots::{SlotParams, SlotRecord, heartbeat_digest},
    };
    use strata_storage::MemKv;

    const CHAIN: u64 = 1337;

    fn signer(label: &str) -> LocalSigner {
        LocalSigner::from_bytes(&keccak256(label.as_bytes())).unwrap()
    }

    struct Net {
        primaries: Vec<LocalSigner>,
        backups: Vec<LocalSigner>,
        /// One chain per machine (its key proposes from it): primaries, then backups.
        chains: Vec<Arc<Chain>>,
    }

    impl Net {
        fn new(window: u64) -> Self {
            let primaries: Vec<LocalSigner> = (0..4).map(|i| signer(&format!("primary {i}"))).collect();
            let backups: Vec<LocalSigner> = (0..4).map(|i| signer(&format!("backup {i}"))).collect();
            let mut spec = ChainSpec::dev(CHAIN);
            spec.validators = ValidatorSet::new(primaries.iter().map(LocalSigner::address).collect());
            spec.fee_recipients =
                primaries.iter().map(|k| FeeRecipient { address: k.address(), storage_class: StorageClass::Nvme }).collect();
            let records = primaries
                .iter()
                .zip(&backups)
                .map(|(p, b)| SlotRecord::new(p.address(), Some(b.address()), p.address(), 0, p.address()))
                .collect();
            spec.slots = Some(SlotGenesis { params: SlotParams::new(4, window), slots: records });
            // The primaries operate their slots: funded, to send planned switches.
            for p in &primaries {
                spec.alloc.insert(p.address(), strata_primitives::U256::from(10u64).pow(strata_primitives::U256::from(21u64)));
            }
            let chains = primaries
                .iter()
                .chain(&backups)
                .map(|k| Chain::open(MemKv::shared(), MemKv::shared(), spec.clone(), k.address(), ChainConfig::default()).unwrap())
                .collect();
            Self { primaries, backups, chains }
        }

        fn key_of(&self, address: Address) -> &LocalSigner {
            self.primaries.iter().chain(&self.backups).find(|k| k.address() == address).unwrap()
        }

        fn chain_of(&self, address: Address) -> &Arc<Chain> {
            let i = self.primaries.iter().chain(&self.backups).position(|k| k.address() == address).unwrap();
            &self.chains[i]
        }

        fn set_at(&self, height: u64) -> Arc<ValidatorSet> {
            self.chains[0].validator_sets().validators_at(height).unwrap()
        }

        /// The next block: proposed by the scheduled active key (view 0) with the heartbeats
        /// of the sync nodes in `beating`, validated and committed everywhere with a
        /// certificate signed by the active keys of the slots not in `dead`.
        fn step(&self, dead: &[u32], beating: &[u32]) -> Arc<SealedBlock> {
            let (head_hash, head) = self.chains[0].head();
            let height = head.number + 1;
            // Sync nodes send heartbeats for the head to the proposer.
            let set = self.set_at(height);
            let proposer = set.validators[strata_primitives::select_proposer(&set, height, 0) as usize];
            let state = self.chains[0].slot_state().unwrap().unwrap();
            for &slot in beating {
                let key = self.key_of(state.slots[slot as usize].alternate_at(head.number).unwrap());
                let digest = heartbeat_digest(CHAIN, slot, key.address(), head.number, head_hash);
                let beat = Heartbeat {
                    slot,
                    key: key.address(),
                    height: head.number,
                    block_hash: head_hash,
                    signature: key.sign_hash(&digest).unwrap().as_bytes(),
                };
                self.chain_of(proposer).add_heartbeat(beat).unwrap().unwrap();
            }
            let block = self.chain_of(proposer).propose(100 + height, true).unwrap().unwrap();
            let parent_cert = self.chain_of(proposer).head_certificate().unwrap();
            for chain in &self.chains {
                if chain.head().0 == head_hash && !Arc::ptr_eq(chain, self.chain_of(proposer)) {
                    assert_eq!(chain.validate(&block.block, &parent_cert, Check::Certified).unwrap(), block.hash);
                }
            }
            let digest = commit_digest(CHAIN, height, 0, block.hash);
            let signatures = (0..4u32)
                .filter(|i| !dead.contains(i))
                .map(|i| CertSignature::new(i, &self.key_of(set.validators[i as usize]).sign_hash(&digest).unwrap()))
                .collect();
            let cert = rlp::encode(CommitCertificate { height, view: 0, block_hash: block.hash, signatures });
            for chain in &self.chains {
                chain.commit(&block.hash, Some(&cert)).unwrap();
            }
            block
        }
    }

    #[test]
    fn n4_the_set_of_every_height_is_proven_from_genesis_across_two_switches() {
        use strata_primitives::set_proof::{SetProofError, verify_set};
        let net = Net::new(3);
        let genesis = ValidatorSet::new(net.primaries.iter().map(LocalSigner::address).collect());
        net.step(&[], &[0, 1, 2, 3]);
        net.step(&[], &[0, 1, 2, 3]);
        // Slot 2 switches (decided at 6), then slot 1 (while slot 2's backup signs).
        for _ in 0..6 {
            net.step(&[2], &[0, 1, 2, 3]);
        }
        for _ in 0..7 {
            net.step(&[1], &[0, 1, 2, 3]);
        }
        // Slot 1's backup signs from then on.
        net.step(&[], &[0, 1, 2, 3]);
        net.step(&[], &[0, 1, 2, 3]);
        let head = net.chains[0].head().1.number;
        assert_eq!(net.set_at(head).validators[1], net.backups[1].address());
        assert_eq!(net.set_at(head).validators[2], net.backups[2].address());
        // Every machine proved the switches at commit.
        let marks = net.chains[5].store().switches_below(u64::MAX).unwrap();
        assert_eq!(marks.iter().map(|(n, p)| (*n, p.is_some())).collect::<Vec<_>>(), vec![(6, true), (12, true)]);
        for h in 1..=head {
            let proof = net.chains[5].set_proof(h).unwrap();
            assert_eq!(proof.links.len(), usize::from(h > 6) + usize::from(h > 12), "height {h}");
            let set = verify_set(&genesis, CHAIN, &proof, h).unwrap_or_else(|e| panic!("height {h}: {e}"));
            assert_eq!(set.validators, net.set_at(h).validators, "height {h}");
            // The certificate of every height verifies against the proven set.
            let cert = net.chains[5].store().certificate(h).unwrap().unwrap();
            strata_primitives::rlp_item::decode_exact::<CommitCertificate>(&cert).unwrap().verify(&set, CHAIN).unwrap();
        }
        // Leaving the last switch out gives the set before it, which a later certificate
        // signed by the new key does not verify against.
        let mut short = net.chains[5].set_proof(head).unwrap();
        short.links.pop();
        let stale = verify_set(&genesis, CHAIN, &short, head).unwrap();
        let cert = net.chains[5].store().certificate(head).unwrap().unwrap();
        assert!(strata_primitives::rlp_item::decode_exact::<CommitCertificate>(&cert).unwrap().verify(&stale, CHAIN).is_err());
        // Records that are not the certified state's.
        let mut forged = net.chains[5].set_proof(head).unwrap();
        forged.links[1].slots = forged.links[0].slots.clone();
        assert!(matches!(verify_set(&genesis, CHAIN, &forged, head), Err(SetProofError::Records { link: 1, number: 12, .. })));
        // The first link's certificate is the old set's: against another trust root it fails.
        let other = ValidatorSet::new(net.backups.iter().map(LocalSigner::address).collect());
        assert!(matches!(
            verify_set(&other, CHAIN, &net.chains[5].set_proof(head).unwrap(), head),
            Err(SetProofError::Certificate { link: 0, .. })
        ));
    }

    #[test]
    fn n4_backup_takes_over_a_dead_active_key_two_blocks_after_the_rule_decides() {
        let net = Net::new(3);
        let (p2, b2) = (net.primaries[2].address(), net.backups[2].address());
        // Block 1 (genesis is not certified) and 2: everyone alive.
        net.step(&[], &[0, 1, 2, 3]);
        net.step(&[], &[0, 1, 2, 3]);
        // Slot 2's primary dies: blocks 3.. observe its absence from the certificates of
        // 2.., while its backup's heartbeats keep coming. Evidence: blocks 4, 5, 6 (each
        // observes the previous block's certificate).
        let mut switched_at = None;
        for _ in 0..6 {
            let block = net.step(&[2], &[0, 1, 2, 3]);
            let height = block.number();
            if switched_at.is_none() && net.set_at(height + 2).validators[2] == b2 {
                switched_at = Some(height);
            }
            assert!(!block.block.liveness.heartbeats.is_empty());
            assert_eq!(block.header().liveness_root, block.block.liveness.root());
        }
        let decided = switched_at.expect("the backup took over");
        assert_eq!(decided, 6, "three blocks of evidence: 4, 5, 6");
        assert_eq!(net.set_at(decided + 1).validators[2], p2, "not before the height after next");
        assert_eq!(net.set_at(decided + 2).validators[2], b2);
        // Never both keys of the slot in one height's set.
        for h in 1..=net.chains[0].head().1.number + 2 {
            let set = net.set_at(h);
            assert!(!(set.validators.contains(&p2) && set.validators.contains(&b2)), "height {h}");
        }
        // The stored record and state agree on every machine, including the sync nodes'.
        let state = net.chains[0].slot_state().unwrap().unwrap();
        assert!(state.slots[2].backup_active);
        assert!(net.chains.iter().all(|c| c.slot_state().unwrap().unwrap() == state && c.head() == net.chains[0].head()));
        let n = net.chains[0].head().1.number;
        assert_eq!(
            net.chains[0].store().block(n).unwrap().unwrap().block.liveness,
            net.chains[3].store().block(n).unwrap().unwrap().block.liveness
        );
    }

    #[test]
    fn without_heartbeats_of_the_backup_nothing_switches() {
        let net = Net::new(3);
        for _ in 0..10 {
            net.step(&[1], &[0, 2, 3]);
        }
        let n = net.chains[0].head().1.number;
        assert_eq!(net.set_at(n + 2).validators[1], net.primaries[1].address());
    }

    #[test]
    fn forged_and_misdirected_heartbeats_and_false_records_are_refused() {
        let net = Net::new(3);
        net.step(&[], &[]);
        let (head_hash, head) = net.chains[0].head();
        let beat = |slot: u32, key: &LocalSigner, height: u64, hash: B256, chain: u64| {
            let digest = heartbeat_digest(chain, slot, key.address(), height, hash);
            Heartbeat { slot, key: key.address(), height, block_hash: hash, signature: key.sign_hash(&digest).unwrap().as_bytes() }
        };
        let c = &net.chains[0];
        let good = beat(1, &net.backups[1], head.number, head_hash, CHAIN);
        // Signed by another key than it claims: the signature does not verify.
        let forged = Heartbeat { signature: beat(1, &net.backups[2], head.number, head_hash, CHAIN).signature, ..good };
        assert_eq!(c.add_heartbeat(forged).unwrap(), Err(HeartbeatError::BadSignature));
        // The active key's, not the sync node's.
        let active = beat(1, &net.primaries[1], head.number, head_hash, CHAIN);
        assert!(matches!(c.add_heartbeat(active).unwrap(), Err(HeartbeatError::WrongKey { .. })));
        // Another chain, another height, a slot that does not exist.
        assert_eq!(c.add_heartbeat(beat(1, &net.backups[1], head.number, head_hash, 1)).unwrap(), Err(HeartbeatError::BadSignature));
        assert!(matches!(
            c.add_heartbeat(beat(1, &net.backups[1], head.number - 1, head_hash, CHAIN)).unwrap(),
            Err(HeartbeatError::WrongBlock { .. })
        ));
        assert_eq!(c.add_heartbeat(beat(9, &net.backups[1], head.number, head_hash, CHAIN)).unwrap(), Err(HeartbeatError::UnknownSlot));
        assert_eq!(c.slot_state().unwrap().unwrap().window.len(), 1, "refused heartbeats changed nothing");

        // A proposal whose record claims a heartbeat that is not there (a bad signature,
        // the root recomputed to match) or whose root does not match its record.
        let set = net.set_at(head.number + 1);
        let proposer = set.validators[strata_primitives::select_proposer(&set, head.number + 1, 0) as usize];
        net.chain_of(proposer).add_heartbeat(good).unwrap().unwrap();
        let block = net.chain_of(proposer).propose(200, true).unwrap().unwrap();
        let cert = net.chain_of(proposer).head_certificate().unwrap();
        let validator = net.chains.iter().find(|c| !Arc::ptr_eq(c, net.chain_of(proposer))).unwrap();
        let mut tampered = block.block.clone();
        tampered.liveness.heartbeats[0].signature[10] ^= 1;
        tampered.header.liveness_root = tampered.liveness.root();
        assert!(matches!(
            validator.validate(&tampered, &cert, Check::Certified),
            Err(ValidateError::Invalid(BlockError::Heartbeat { slot: 1, reason: HeartbeatError::BadSignature }))
        ));
        let mut dropped = block.block.clone();
        dropped.liveness.heartbeats.clear();
        assert!(matches!(
            validator.validate(&dropped, &cert, Check::Certified),
            Err(ValidateError::Invalid(BlockError::LivenessRoot { .. }))
        ));
        let mut twice = block.block.clone();
        twice.liveness.heartbeats.push(good);
        twice.header.liveness_root = twice.liveness.root();
        assert!(matches!(
            validator.validate(&twice, &cert, Check::Certified),
            Err(ValidateError::Invalid(BlockError::Heartbeat { reason: HeartbeatError::Unordered, .. }))
        ));
        assert_eq!(validator.validate(&block.block, &cert, Check::Certified).unwrap(), block.hash);
    }

    /// A transaction to the validator-slots account from `key` (submitted to every
    /// machine's pool: whoever proposes includes it).
    fn schedule_tx(net: &Net, key: &LocalSigner, nonce: u64, slot: u32, at: u64) -> B256 {
        use alloy_sol_types::SolCall;
        use strata_primitives::{TxKind, U256, interfaces::IValidatorSlots, slots::VALIDATOR_SLOTS, transaction::build};
        let data = IValidatorSlots::scheduleSwitchCall { slot, atHeight: at }.abi_encode();
        let tx = build::eip1559(CHAIN, nonce, TxKind::Call(VALIDATOR_SLOTS), U256::ZERO, data.into(), 100_000, 1_000_000_000_000, 0);
        let raw = key.sign_transaction(tx).unwrap().encoded();
        let mut hash = B256::ZERO;
        for c in &net.chains {
            hash = c.submit_raw(&raw, crate::TxOrigin::Local).unwrap();
        }
        hash
    }

    fn receipt_of(net: &Net, hash: B256) -> strata_primitives::StoredReceipt {
        let c = &net.chains[0];
        let at = c.store().tx_location(&hash).unwrap().expect("included");
        c.store().receipts(at.block_number).unwrap().unwrap()[at.index as usize].clone()
    }

    #[test]
    fn a_planned_switch_by_the_operator_happens_at_its_height_and_a_strangers_is_refused() {
        let net = Net::new(3);
        net.step(&[], &[0, 1, 2, 3]);
        // A stranger (slot 1's backup key) and slot 0's operator asking for slot 1: refused
        // on chain (reverted receipts), nothing planned.
        let (funded, stranger) = (&net.primaries[0], &net.backups[1]);
        let refused = schedule_tx(&net, funded, 0, 1, 10);
        net.step(&[], &[0, 1, 2, 3]);
        assert!(!receipt_of(&net, refused).success);
        assert_eq!(net.chains[0].slot_state().unwrap().unwrap().slots[1].planned, 0);
        let err = net.chains[0].submit_raw(
            &stranger
                .sign_transaction(strata_primitives::transaction::build::eip1559(
                    CHAIN,
                    0,
                    strata_primitives::TxKind::Call(strata_primitives::slots::VALIDATOR_SLOTS),
                    strata_primitives::U256::ZERO,
                    Default::default(),
                    100_000,
                    1_000_000_000_000,
                    0,
                ))
                .unwrap()
                .encoded(),
            crate::TxOrigin::Local,
        );
        assert!(err.is_err(), "an unfunded stranger cannot even pay for the request");

        // Slot 1's operator plans a swap, in a block whose end also counts evidence against
        // slot 1's active key (absent from the previous certificate): its record changes
        // twice in one block, and both changes stay.
        net.step(&[1], &[0, 1, 2, 3]);
        let head = net.chains[0].head().1.number;
        let planned = schedule_tx(&net, &net.primaries[1], 0, 1, head + 5);
        net.step(&[], &[0, 1, 2, 3]);
        assert_eq!(net.chains[0].slot_state().unwrap().unwrap().slots[1].streak, 1, "evidence counted in the plan's block");
        assert!(receipt_of(&net, planned).success);
        assert_eq!(net.chains[0].slot_state().unwrap().unwrap().slots[1].planned, head + 5);
        while net.chains[0].head().1.number < head + 6 {
            net.step(&[], &[0, 1, 2, 3]);
        }
        assert_eq!(net.set_at(head + 4).validators[1], net.primaries[1].address());
        assert_eq!(net.set_at(head + 5).validators[1], net.backups[1].address(), "in effect at the planned height");
        let s = net.chains[0].slot_state().unwrap().unwrap();
        assert_eq!((s.slots[1].planned, s.slots[1].last_switch), (0, head + 3));
    }
}
