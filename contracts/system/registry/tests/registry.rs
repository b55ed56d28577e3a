//! The chain registry, run as its compiled Wasm in the real runtime, following a second
//! harness chain whose blocks are real (headers with real roots, certificates signed by
//! its validators). Called through `strata_sdk::system::IChainRegistry`, the interface
//! other contracts and clients use, which cross-checks the selectors `#[contract]` made.

use strata_harness::{Receipt, TestChain, blocks::validator_key, build_contract, error_of, failed};
use strata_sdk::{
    Address, B256, Bytes, SolEvent, SolValue, U256,
    protocol::relay::{EventKey, RelayedLog},
    system::IChainRegistry::{self, ChainRegistered, Checkpointed},
};

const CHILD: u64 = 77;
/// Where the tests install it (its genesis address).
const REGISTRY: Address = strata_sdk::system::CHAIN_REGISTRY;

fn wasm() -> Vec<u8> {
    build_contract(env!("CARGO_MANIFEST_DIR")).expect("the registry builds for wasm32v1-none")
}

fn ctor(admin: Address, fee: U256) -> Vec<u8> {
    (admin, fee, 0u64, Address::ZERO, B256::ZERO, Vec::<Address>::new(), 0u32).abi_encode_params()
}

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// A main chain with the registry deployed by account 0 (admin: account 1, fee 1 ether),
/// and a child chain whose registry (admin account 0) emitted one log.
struct World {
    main: TestChain,
    registry: Address,
    child: TestChain,
    /// The child's log to relay: its block and the log.
    event: (u64, strata_sdk::protocol::Log),
}

fn world() -> World {
    // Installed as the genesis does (the module is larger than a deploy transaction).
    let mut main = TestChain::new();
    let registry = REGISTRY;
    main.install(registry, &wasm(), &ctor(main.address(1), ether(1))).unwrap();
    let mut child = TestChain::with_chain_id(CHILD);
    let on_child = REGISTRY;
    child.install(on_child, &wasm(), &ctor(child.address(0), U256::ZERO)).unwrap();
    // A first block whose log a test can use as "another block's receipt".
    child.send(0, strata_harness::TxKind::Call(Address::repeat_byte(0x55)), U256::from(1u64), Vec::new(), 100_000).unwrap();
    let r = child.send(0, strata_harness::TxKind::Call(on_child), U256::ZERO, fee_call(5), 1_000_000).unwrap();
    assert!(r.success, "{r}");
    let event = (r.block_number, r.logs[0].clone());
    World { main, registry, child, event }
}

fn fee_call(fee: u64) -> Vec<u8> {
    strata_sdk::SolCall::abi_encode(&IChainRegistry::setRegistrationFeeCall { fee: U256::from(fee) })
}

fn register(w: &mut World, quorum: u32) -> Receipt {
    let call = IChainRegistry::registerCall {
        chainId: CHILD,
        genesisHash: w.child.block_hash(0).unwrap(),
        validators: w.child.validators(),
        quorum,
    };
    let r =
        w.main.send(1, strata_harness::TxKind::Call(w.registry), U256::ZERO, strata_sdk::SolCall::abi_encode(&call), 2_000_000).unwrap();
    assert!(r.success, "{r}");
    r
}

fn checkpoint(w: &mut World, number: u64, signers: &[usize]) -> strata_harness::Result<()> {
    let call = IChainRegistry::checkpointCall {
        chainId: CHILD,
        header: alloy_rlp::encode(w.child.header(number).unwrap()).into(),
        certificate: w.child.certificate(number, signers),
    };
    w.main.call_sol(5, w.registry, &call).map(|_| ())
}

fn verify(w: &World, chain: u64, relayed: &RelayedLog) -> strata_harness::Result<IChainRegistry::verifyLogReturn> {
    w.main.view(w.registry, &IChainRegistry::verifyLogCall { chainId: chain, relayed: alloy_rlp::encode(relayed).into() })
}

#[test]
fn registration_by_the_admin_or_for_the_fee_and_its_rules() {
    let mut w = world();
    let r = register(&mut w, 3);
    let log = r.logs.iter().find(|l| l.topics()[0] == ChainRegistered::SIGNATURE_HASH).expect("ChainRegistered");
    let e = ChainRegistered::decode_log_data(&log.data).unwrap();
    assert_eq!((e.chainId, e.quorum, e.isParent, e.by, e.validators.clone()), (CHILD, 3, false, w.main.address(1), w.child.validators()));
    let info = w.main.view(w.registry, &IChainRegistry::chainInfoCall { chainId: CHILD }).unwrap();
    assert!(info.known && !info.isParent);
    assert_eq!((info.genesisHash, info.quorum, info.epochs, info.checkpointHeight), (w.child.block_hash(0).unwrap(), 3, 1, 0));
    let set = w.main.view(w.registry, &IChainRegistry::validatorsAtCall { chainId: CHILD, height: 1_000 }).unwrap();
    assert_eq!(set, w.child.validators());

    // Twice, or this chain itself: refused.
    let again = IChainRegistry::registerCall { chainId: CHILD, genesisHash: B256::ZERO, validators: w.child.validators(), quorum: 3 };
    let r = failed(w.main.call_sol(1, w.registry, &again));
    assert_eq!(error_of::<IChainRegistry::AlreadyKnown>(&r).chainId, CHILD);
    let own = IChainRegistry::registerCall { chainId: w.main.chain_id(), ..again.clone() };
    failed(w.main.call_sol(1, w.registry, &own));

    // Anyone else pays the fee, which goes to the admin.
    let other = IChainRegistry::registerCall { chainId: 78, ..again.clone() };
    let r = failed(w.main.call_sol(2, w.registry, &other));
    assert_eq!(error_of::<IChainRegistry::FeeTooLow>(&r).fee, ether(1));
    let admin_before = w.main.balance(w.main.address(1));
    let r = w.main.send(2, strata_harness::TxKind::Call(w.registry), ether(1), strata_sdk::SolCall::abi_encode(&other), 2_000_000).unwrap();
    assert!(r.success, "{r}");
    assert_eq!(w.main.balance(w.main.address(1)) - admin_before, ether(1));

    // A quorum below 2f+1, above n, a repeated or zero member: refused with the reason.
    for (validators, quorum, why) in [
        (w.child.validators(), 2, "quorum 2"),
        (w.child.validators(), 5, "quorum 5"),
        (vec![w.child.validators()[0]; 4], 3, "twice"),
        (vec![Address::ZERO], 1, "zero"),
        (Vec::new(), 0, "0 validators"),
    ] {
        let call = IChainRegistry::registerCall { chainId: 90, genesisHash: B256::ZERO, validators, quorum };
        let r = failed(w.main.call_sol(1, w.registry, &call));
        let reason = error_of::<IChainRegistry::InvalidSet>(&r).reason;
        assert!(reason.contains(why), "{reason}");
    }

    // Only the admin changes the fee or the admin.
    failed(w.main.call_sol(2, w.registry, &IChainRegistry::setAdminCall { admin: w.main.address(2) }));
    w.main.call_sol(1, w.registry, &IChainRegistry::setAdminCall { admin: w.main.address(2) }).unwrap();
    assert_eq!(w.main.view(w.registry, &IChainRegistry::adminCall {}).unwrap(), w.main.address(2));
}

#[test]
fn checkpoints_need_a_quorum_of_the_registered_set_and_move_forward() {
    let mut w = world();
    register(&mut w, 3);
    let (block, _) = w.event;
    // Too few signers, or signed by keys the registry does not know.
    let r = failed(checkpoint(&mut w, block, &[0, 1]));
    assert!(error_of::<IChainRegistry::BadCertificate>(&r).reason.contains("2 signatures"));
    let strangers: Vec<(u32, _)> = (0..3).map(|i| (i as u32, validator_key(999, i))).collect();
    let call = IChainRegistry::checkpointCall {
        chainId: CHILD,
        header: alloy_rlp::encode(w.child.header(block).unwrap()).into(),
        certificate: w.child.certificate_by(block, &strangers),
    };
    let r = failed(w.main.call_sol(5, w.registry, &call));
    assert_eq!(error_of::<IChainRegistry::BadCertificate>(&r).height, block);
    // A quorum: recorded, announced.
    checkpoint(&mut w, block, &[1, 2, 3]).unwrap();
    let r = w.main.receipts.last().unwrap().clone();
    let e = Checkpointed::decode_log_data(&r.logs[0].data).unwrap();
    let header = w.child.header(block).unwrap();
    assert_eq!((e.height, e.blockHash, e.stateRoot, e.receiptsRoot), (block, header.hash_slow(), header.state_root, header.receipts_root));
    // Not backwards, not twice.
    let r = failed(checkpoint(&mut w, block, &[0, 1, 2]));
    assert_eq!(error_of::<IChainRegistry::StaleCheckpoint>(&r).last, block);
    // An unknown chain.
    let call = IChainRegistry::checkpointCall { chainId: 5, header: Bytes::new(), certificate: Bytes::new() };
    let r = failed(w.main.call_sol(5, w.registry, &call));
    assert_eq!(error_of::<IChainRegistry::UnknownChain>(&r).chainId, 5);
}

#[test]
fn a_relayed_log_is_verified_in_wasm_and_every_forgery_is_refused() {
    let mut w = world();
    register(&mut w, 3);
    let (block, log) = w.event.clone();
    let relayed = w.child.relayed_log(block, &log, &[0, 1, 2]);
    // Above the last checkpoint: checkpoint first.
    let r = failed(verify(&w, CHILD, &relayed));
    assert_eq!(error_of::<IChainRegistry::AboveCheckpoint>(&r).checkpoint, 0);
    w.child.advance_blocks(2);
    let head = w.child.head();
    checkpoint(&mut w, head, &[0, 1, 3]).unwrap();

    let out = verify(&w, CHILD, &relayed).unwrap();
    let key = EventKey { source_chain: CHILD, block_number: block, tx_index: 0, log_index: relayed.log_index };
    assert_eq!(out.eventKey, key.hash());
    assert_eq!(
        (out.emitter, out.topics.clone(), out.data.clone(), out.blockNumber),
        (log.address, log.topics().to_vec(), log.data.data.clone(), block)
    );

    // Certificate by non-members.
    let mut forged = relayed.clone();
    let strangers: Vec<(u32, _)> = (0..3).map(|i| (i as u32, validator_key(999, i))).collect();
    forged.bundle.certificate = w.child.certificate_by(block, &strangers);
    failed(verify(&w, CHILD, &forged));
    // Too few signers.
    let thin = w.child.relayed_log(block, &log, &[0, 1]);
    assert!(error_of::<IChainRegistry::BadCertificate>(&failed(verify(&w, CHILD, &thin))).reason.contains("2 signatures"));
    // An unregistered chain.
    let r = failed(verify(&w, CHILD + 1, &relayed));
    assert_eq!(error_of::<IChainRegistry::UnknownChain>(&r).chainId, CHILD + 1);
    // The child's event claimed as another registered chain's (same validators, so only
    // the chain id in the header and the certificate's digest tell them apart).
    let call = IChainRegistry::registerCall { chainId: CHILD + 1, genesisHash: B256::ZERO, validators: w.child.validators(), quorum: 3 };
    w.main.call_sol(1, w.registry, &call).unwrap();
    let call = IChainRegistry::checkpointCall {
        chainId: CHILD + 1,
        header: alloy_rlp::encode(w.child.header(head).unwrap()).into(),
        certificate: w.child.certificate(head, &[0, 1, 2]),
    };
    let r = failed(w.main.call_sol(5, w.registry, &call));
    assert!(error_of::<IChainRegistry::BadCertificate>(&r).reason.contains("chain 77"), "{r}");
    let r = failed(verify(&w, CHILD + 1, &relayed));
    assert_eq!(error_of::<IChainRegistry::AboveCheckpoint>(&r).checkpoint, 0);
    // A receipt proof for another log: the receipt swapped for another block's.
    let mut swapped = relayed.clone();
    let transfer = w.child.receipts[0].clone();
    swapped.bundle.receipt = w.child.raw_receipt(transfer.block_number, 0).into();
    let r = failed(verify(&w, CHILD, &swapped));
    assert!(error_of::<IChainRegistry::BadProof>(&r).reason.contains("receipt"), "{r}");
    // A log index past the receipt's logs.
    let mut past = relayed.clone();
    past.log_index = 40;
    assert!(error_of::<IChainRegistry::BadProof>(&failed(verify(&w, CHILD, &past))).reason.contains("index 40"));
    // Garbage.
    let call = IChainRegistry::verifyLogCall { chainId: CHILD, relayed: Bytes::from_static(b"\xc3abc") };
    failed(w.main.view(w.registry, &call));
}

#[test]
fn a_registered_quorum_above_2f_plus_1_is_enforced() {
    let mut w = world();
    register(&mut w, 4);
    let head = w.child.head();
    let r = failed(checkpoint(&mut w, head, &[0, 1, 2]));
    assert!(error_of::<IChainRegistry::BadCertificate>(&r).reason.contains("quorum is 4"));
    checkpoint(&mut w, head, &[0, 1, 2, 3]).unwrap();
    let (block, log) = w.event.clone();
    let three = w.child.relayed_log(block, &log, &[0, 1, 2]);
    failed(verify(&w, CHILD, &three));
    let four = w.child.relayed_log(block, &log, &[0, 1, 2, 3]);
    verify(&w, CHILD, &four).unwrap();
}

#[test]
fn slot_switches_move_the_registered_set_in_order_and_a_stale_certificate_is_refused() {
    use strata_sdk::protocol::{
        set_proof::{SlotsProof, SwitchLink},
        slots::{SlotRecord, VALIDATOR_SLOTS, slot_key},
    };
    let mut w = world();
    register(&mut w, 3);
    let old = w.child.validators();
    let keys: Vec<Vec<u8>> = (0..4u32).map(|i| slot_key(i).to_vec()).collect();
    // Slot 0 switches to a backup machine at the end of block `n`, slot 1 at the end of `m`.
    let (backup0, backup1) = (validator_key(CHILD, 10), validator_key(CHILD, 11));
    let mut records: Vec<SlotRecord> = old.iter().map(|a| SlotRecord::new(*a, None, *a, 0, *a)).collect();
    let write = |w: &mut World, records: &[SlotRecord]| {
        let entries: Vec<(Vec<u8>, Vec<u8>)> = keys.iter().zip(records).map(|(k, r)| (k.clone(), alloy_rlp::encode(r))).collect();
        let number = w.child.write_storage(VALIDATOR_SLOTS, &entries);
        let (account_proof, storage_proofs) = w.child.proofs(number, VALIDATOR_SLOTS, &keys);
        (number, SlotsProof { account_proof, storage_proofs })
    };
    let n = w.child.head() + 1;
    records[0] = SlotRecord { backup: backup0.address(), backup_active: true, last_switch: n, ..records[0] };
    let (n_, slots_n) = write(&mut w, &records);
    let m = n + 1;
    records[1] = SlotRecord { backup: backup1.address(), backup_active: true, last_switch: m, ..records[1] };
    let (m_, slots_m) = write(&mut w, &records);
    assert_eq!((n_, m_), (n, m));
    let link = |w: &World, number: u64, certificate: Bytes, slots: &SlotsProof| SwitchLink {
        header: w.child.header(number).unwrap(),
        certificate,
        slots: slots.clone(),
    };
    let update = |l: &SwitchLink| IChainRegistry::updateValidatorsCall { chainId: CHILD, link: alloy_rlp::encode(l).into() };

    // Certified by strangers, or records proven against another block's root: refused.
    let strangers: Vec<(u32, _)> = (0..3).map(|i| (i as u32, validator_key(999, i))).collect();
    let r = failed(w.main.call_sol(5, w.registry, &update(&link(&w, n, w.child.certificate_by(n, &strangers), &slots_n))));
    assert_eq!(error_of::<IChainRegistry::BadCertificate>(&r).height, n);
    let r = failed(w.main.call_sol(5, w.registry, &update(&link(&w, n - 1, w.child.certificate(n - 1, &[0, 1, 2]), &slots_n))));
    assert!(error_of::<IChainRegistry::BadCertificate>(&r).reason.contains("slot records"), "{r}");
    // The later switch first: refused, naming the earlier one to follow first.
    let r = failed(w.main.call_sol(5, w.registry, &update(&link(&w, m, w.child.certificate(m, &[0, 1, 2]), &slots_m))));
    let stale = error_of::<IChainRegistry::StaleLink>(&r);
    assert_eq!((stale.height, stale.last), (n, 0));

    // In order, each certified by the set of its height: two new epochs, announced.
    let r = w
        .main
        .send(
            5,
            strata_harness::TxKind::Call(w.registry),
            U256::ZERO,
            strata_sdk::SolCall::abi_encode(&update(&link(&w, n, w.child.certificate(n, &[0, 1, 2]), &slots_n))),
            5_000_000,
        )
        .unwrap();
    assert!(r.success, "{r}");
    let e = IChainRegistry::ValidatorsUpdated::decode_log_data(&r.logs[0].data).unwrap();
    let after_n: Vec<Address> = vec![backup0.address(), old[1], old[2], old[3]];
    assert_eq!((e.fromHeight, e.validators), (n + 2, after_n.clone()), "the switched key signs two blocks later");
    // Replayed: refused.
    let r = failed(w.main.call_sol(5, w.registry, &update(&link(&w, n, w.child.certificate(n, &[0, 1, 2]), &slots_n))));
    assert_eq!(error_of::<IChainRegistry::StaleLink>(&r).last, n);
    w.main.call_sol(5, w.registry, &update(&link(&w, m, w.child.certificate(m, &[0, 1, 2]), &slots_m))).unwrap();
    let after_m: Vec<Address> = vec![backup0.address(), backup1.address(), old[2], old[3]];
    let at = |w: &World, h: u64| w.main.view(w.registry, &IChainRegistry::validatorsAtCall { chainId: CHILD, height: h }).unwrap();
    assert_eq!((at(&w, n), at(&w, n + 1), at(&w, n + 2), at(&w, m + 2)), (old.clone(), old.clone(), after_n, after_m));
    assert_eq!(w.main.view(w.registry, &IChainRegistry::chainInfoCall { chainId: CHILD }).unwrap().epochs, 3);

    // Once both switches took effect, the new set signs: with the backups' keys a
    // checkpoint passes; with a switched-out key (a stale set) it is refused.
    w.child.advance_blocks(3);
    let h = w.child.head();
    let stale: Vec<(u32, _)> = (0..3).map(|i| (i as u32, validator_key(CHILD, i))).collect();
    let call = |cert: Bytes| IChainRegistry::checkpointCall {
        chainId: CHILD,
        header: alloy_rlp::encode(w.child.header(h).unwrap()).into(),
        certificate: cert,
    };
    let r = failed(w.main.call_sol(5, w.registry, &call(w.child.certificate_by(h, &stale))));
    assert!(error_of::<IChainRegistry::BadCertificate>(&r).reason.contains("validator 0"), "{r}");
    let fresh = vec![(0u32, backup0), (1, backup1), (2, validator_key(CHILD, 2))];
    w.main.call_sol(5, w.registry, &call(w.child.certificate_by(h, &fresh))).unwrap();
}

#[test]
fn the_admin_removes_a_squatted_registration_but_not_the_parent() {
    let mut w = world();
    // Someone paid the fee and registered the child's id with keys of their own.
    let squatter: Vec<Address> = (0..4).map(|i| validator_key(999, i).address()).collect();
    let call = IChainRegistry::registerCall { chainId: CHILD, genesisHash: B256::ZERO, validators: squatter, quorum: 3 };
    let r = w.main.send(2, strata_harness::TxKind::Call(w.registry), ether(1), strata_sdk::SolCall::abi_encode(&call), 2_000_000).unwrap();
    assert!(r.success, "{r}");
    // Only the admin removes it; then the real chain registers.
    let remove = IChainRegistry::deregisterCall { chainId: CHILD };
    assert_eq!(error_of::<IChainRegistry::NotAdmin>(&failed(w.main.call_sol(2, w.registry, &remove))).caller, w.main.address(2));
    let r =
        w.main.send(1, strata_harness::TxKind::Call(w.registry), U256::ZERO, strata_sdk::SolCall::abi_encode(&remove), 2_000_000).unwrap();
    assert!(r.success, "{r}");
    assert_eq!(IChainRegistry::ChainDeregistered::decode_log_data(&r.logs[0].data).unwrap().chainId, CHILD);
    assert!(!w.main.view(w.registry, &IChainRegistry::chainInfoCall { chainId: CHILD }).unwrap().known);
    register(&mut w, 3);
    assert_eq!(w.main.view(w.registry, &IChainRegistry::validatorsAtCall { chainId: CHILD, height: 5 }).unwrap(), w.child.validators());
    // A registry whose genesis names a parent: the parent stays.
    let mut child = TestChain::with_chain_id(CHILD);
    let parent = (child.address(0), U256::ZERO, 1337u64, REGISTRY, B256::repeat_byte(1), w.main.validators(), 3u32).abi_encode_params();
    child.install(REGISTRY, &wasm(), &parent).unwrap();
    let r = failed(child.call_sol(0, REGISTRY, &IChainRegistry::deregisterCall { chainId: 1337 }));
    assert_eq!(error_of::<IChainRegistry::AlreadyKnown>(&r).chainId, 1337);
    assert!(child.view(REGISTRY, &IChainRegistry::chainInfoCall { chainId: 1337 }).unwrap().isParent);
}

#[test]
fn verifying_and_checkpointing_in_one_call_checks_the_relayed_block_as_a_checkpoint() {
    let mut w = world();
    register(&mut w, 3);
    let (block, log) = w.event.clone();
    let call = |r: &RelayedLog| IChainRegistry::verifyLogAndCheckpointCall { chainId: CHILD, relayed: alloy_rlp::encode(r).into() };
    // A certificate by strangers: refused, and nothing recorded.
    let mut forged = w.child.relayed_log(block, &log, &[0, 1, 2]);
    let strangers: Vec<(u32, _)> = (0..3).map(|i| (i as u32, validator_key(999, i))).collect();
    forged.bundle.certificate = w.child.certificate_by(block, &strangers);
    let r = failed(w.main.call_sol(5, w.registry, &call(&forged)));
    assert_eq!(error_of::<IChainRegistry::BadCertificate>(&r).height, block);
    assert_eq!(w.main.view(w.registry, &IChainRegistry::chainInfoCall { chainId: CHILD }).unwrap().checkpointHeight, 0);
    // The real one: its block becomes the checkpoint and the log comes back, in one call.
    let relayed = w.child.relayed_log(block, &log, &[0, 1, 2]);
    let out = w.main.call_sol(5, w.registry, &call(&relayed)).unwrap();
    assert_eq!((out.emitter, out.blockNumber), (log.address, block));
    let info = w.main.view(w.registry, &IChainRegistry::chainInfoCall { chainId: CHILD }).unwrap();
    assert_eq!((info.checkpointHeight, info.checkpointHash), (block, w.child.block_hash(block).unwrap()));
    // Below the checkpoint now: verified without moving it.
    w.main.call_sol(5, w.registry, &call(&relayed)).unwrap();
    assert_eq!(w.main.view(w.registry, &IChainRegistry::chainInfoCall { chainId: CHILD }).unwrap().checkpointHeight, block);
}
