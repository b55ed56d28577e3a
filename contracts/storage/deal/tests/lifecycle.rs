//! A storage deal's whole life over two chains, each a harness chain with real headers
//! and certificates: the contract chain runs the deal contract, the proof chain the
//! proof contract, and each chain's registry follows the other (the proof chain is the
//! contract chain's child). The test plays the relayer: it checkpoints one chain on the
//! other and carries `DealOpened` down and `StorageProved` up, as `strata relay` does.
//!
//! Every contract is the compiled Wasm, called through the `sol!` interfaces of
//! `strata_sdk::protocol::interfaces` that clients use.

use strata_harness::{Error, Receipt, TestChain, TxKind, build_contract, error_of, failed};
use strata_sdk::{
    Address, B256, Bytes, SolCall, SolEvent, SolValue, U256,
    protocol::{
        Log,
        interfaces::{
            IChainRegistry,
            IStorageDeal::{self, DealOpened, WindowPaid},
            IStorageProof::{self, StorageProved},
        },
        relay::RelayedLog,
        segments,
    },
    system::CHAIN_REGISTRY,
};

const CONTRACT_CHAIN: u64 = 100;
const PROOF_CHAIN: u64 = 200;
const WINDOWS: u32 = 4;
const WINDOW_BLOCKS: u64 = 10;
const CHALLENGES: u32 = 4;
const GRACE: u64 = 5;
const CLIENT: usize = 1;
const PROVIDER: usize = 2;
const RELAYER: usize = 3;

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

fn manifest(rel: &str) -> String {
    format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"))
}

fn event<E: SolEvent>(r: &Receipt) -> (Log, E) {
    let log =
        r.logs.iter().find(|l| l.topics().first() == Some(&E::SIGNATURE_HASH)).unwrap_or_else(|| panic!("no {} in {r}", E::SIGNATURE));
    (log.clone(), E::decode_log_data(&log.data).unwrap())
}

/// A file of `len` bytes no provider can guess.
fn file(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut h = B256::repeat_byte(7);
    while out.len() < len {
        h = strata_sdk::keccak256(h);
        out.extend_from_slice(h.as_slice());
    }
    out.truncate(len);
    out
}

struct World {
    contract: TestChain,
    proof: TestChain,
    deals: Address,
    proofs: Address,
    data: Vec<u8>,
    /// Fees each account paid on the contract chain.
    fees: [U256; 10],
}

impl World {
    fn new() -> World {
        let registry = build_contract(&manifest("../../system/registry")).expect("the registry builds");
        let deal_wasm = build_contract(env!("CARGO_MANIFEST_DIR")).expect("the deal contract builds");
        let proof_wasm = build_contract(&manifest("../proof")).expect("the proof contract builds");
        let mut contract = TestChain::with_chain_id(CONTRACT_CHAIN);
        let mut proof = TestChain::with_chain_id(PROOF_CHAIN);
        // The contract chain's registry (no parent) and the proof chain's, whose parent is
        // the contract chain.
        let none: (Address, U256, u64, Address, B256, Vec<Address>, u32) =
            (contract.address(0), U256::ZERO, 0, Address::ZERO, B256::ZERO, Vec::new(), 0);
        contract.install(CHAIN_REGISTRY, &registry, &none.abi_encode_params()).unwrap();
        let parent =
            (proof.address(0), U256::ZERO, CONTRACT_CHAIN, CHAIN_REGISTRY, contract.block_hash(0).unwrap(), contract.validators(), 3u32);
        proof.install(CHAIN_REGISTRY, &registry, &parent.abi_encode_params()).unwrap();
        let register = IChainRegistry::registerCall {
            chainId: PROOF_CHAIN,
            genesisHash: proof.block_hash(0).unwrap(),
            validators: proof.validators(),
            quorum: 3,
        };
        contract.call_sol(0, CHAIN_REGISTRY, &register).unwrap();
        // Each side names the other's contract: the proof contract's address is known
        // before it exists (account 0's first deploy on the proof chain).
        let proofs = proof.address(0).create(0);
        let ctor = (CHAIN_REGISTRY, PROOF_CHAIN, proofs, GRACE).abi_encode_params();
        let deals = contract.deploy(0, &deal_wasm, &ctor).unwrap().contract_address.unwrap();
        let ctor = (CHAIN_REGISTRY, CONTRACT_CHAIN, deals).abi_encode_params();
        assert_eq!(proof.deploy(0, &proof_wasm, &ctor).unwrap().contract_address, Some(proofs));
        World { contract, proof, deals, proofs, data: file(10 * 1024 + 100), fees: [U256::ZERO; 10] }
    }

    /// Sends on the contract chain, keeping account of the fee.
    fn on_contract(&mut self, from: usize, value: U256, call: &impl SolCall) -> Receipt {
        let r = self.contract.send(from, TxKind::Call(self.deals), value, call.abi_encode(), 10_000_000).unwrap();
        self.fees[from] += r.resources.fee.charged;
        r
    }

    /// Checkpoints the contract chain's head on the proof chain and relays `log` of block `number`.
    fn relay_down(&mut self, number: u64, log: &Log) -> RelayedLog {
        let head = self.contract.head();
        let call = IChainRegistry::checkpointCall {
            chainId: CONTRACT_CHAIN,
            header: alloy_rlp_header(&self.contract, head),
            certificate: self.contract.certificate(head, &[0, 1, 2]),
        };
        self.proof.call_sol(RELAYER, CHAIN_REGISTRY, &call).unwrap();
        self.contract.relayed_log(number, log, &[0, 1, 3])
    }

    /// Checkpoints the proof chain's head on the contract chain.
    fn checkpoint_up(&mut self) {
        let head = self.proof.head();
        let call = IChainRegistry::checkpointCall {
            chainId: PROOF_CHAIN,
            header: alloy_rlp_header(&self.proof, head),
            certificate: self.proof.certificate(head, &[1, 2, 3]),
        };
        let r = self.contract.send(RELAYER, TxKind::Call(CHAIN_REGISTRY), U256::ZERO, call.abi_encode(), 10_000_000).unwrap();
        assert!(r.success, "{r}");
    }

    /// Moves the proof chain so that its next block is `number`.
    fn proof_chain_to(&mut self, number: u64) {
        let head = self.proof.head();
        assert!(number > head, "the proof chain is at {head} already");
        self.proof.advance_blocks(number - head - 1);
    }

    /// The provider's answer to window `w` of deal `id` from `data`.
    fn answer(&self, id: u64, w: u32, data: &[u8]) -> IStorageProof::proveCall {
        let indices = self.proof.view(self.proofs, &IStorageProof::challengeCall { dealId: id, window: w }).unwrap();
        assert_eq!(indices.len(), CHALLENGES as usize);
        let (segments, paths) = segments::window_proof(data, &indices);
        let segments = segments.into_iter().map(Bytes::from).collect();
        IStorageProof::proveCall { dealId: id, window: w, segments, paths }
    }
}

fn alloy_rlp_header(chain: &TestChain, number: u64) -> Bytes {
    alloy_rlp::encode(chain.header(number).unwrap()).into()
}

/// Opens a deal of the world's file starting at proof-chain block `start`; returns its id
/// and the block of the contract chain that holds `DealOpened` with the log.
fn open(w: &mut World, start: u64) -> (u64, u64, Log) {
    let open = IStorageDeal::openDealCall {
        root: segments::merkle_root(&w.data),
        size: w.data.len() as u64,
        windows: WINDOWS,
        startBlock: start,
        windowBlocks: WINDOW_BLOCKS,
        challenges: CHALLENGES,
        pricePerWindow: ether(1),
        provider: w.contract.address(PROVIDER),
        collateral: ether(2),
    };
    let r = w.on_contract(CLIENT, ether(u64::from(WINDOWS)), &open);
    assert!(r.success, "{r}");
    let id = IStorageDeal::openDealCall::abi_decode_returns(&r.output).unwrap();
    let r = w.on_contract(PROVIDER, ether(2), &IStorageDeal::acceptDealCall { dealId: id });
    assert!(r.success, "{r}");
    let (log, opened) = event::<DealOpened>(&r);
    assert_eq!((opened.dealId, opened.startBlock, opened.windows), (id, start, WINDOWS));
    (id, r.block_number, log)
}

#[test]
fn three_windows_proven_and_settled_one_skipped_and_slashed_balances_to_the_wei() {
    let mut w = World::new();
    let client_before = w.contract.balance(w.contract.address(CLIENT));
    let provider_before = w.contract.balance(w.contract.address(PROVIDER));
    let start = w.proof.head() + 20;
    let (id, block, log) = open(&mut w, start);

    // DealOpened down to the proof chain (anyone relays; once).
    let relayed = w.relay_down(block, &log);
    let announce = IStorageProof::announceDealCall { relayed: alloy_rlp::encode(&relayed).into() };
    w.proof.call_sol(RELAYER, w.proofs, &announce).unwrap();
    let r = failed(w.proof.call_sol(RELAYER, w.proofs, &announce));
    assert!(r.output.starts_with(&strata_sdk::keccak256("AlreadyAnnounced(uint64)")[..4]), "{r}");
    let known = w.proof.view(w.proofs, &IStorageProof::dealCall { dealId: id }).unwrap();
    assert!(known.known && known.root == segments::merkle_root(&w.data) && known.provider == w.proof.address(PROVIDER));

    // Before the window opens there is no challenge; a proof in it is refused.
    failed(w.proof.view(w.proofs, &IStorageProof::challengeCall { dealId: id, window: 0 }));

    // Windows 0, 1, 2 proven inside their windows; 3 skipped.
    let mut proofs = Vec::new();
    for window in 0..3u32 {
        w.proof_chain_to(start + u64::from(window) * WINDOW_BLOCKS + 3);
        let answer = w.answer(id, window, &w.data.clone());
        // Someone else cannot prove for the provider.
        let r = failed(w.proof.call_sol(CLIENT, w.proofs, &answer));
        assert!(r.output.starts_with(&strata_sdk::keccak256("NotProvider(uint64,address)")[..4]), "{r}");
        let r = w.proof.send(PROVIDER, TxKind::Call(w.proofs), U256::ZERO, answer.abi_encode(), 10_000_000).unwrap();
        assert!(r.success, "{r}");
        let (log, proved) = event::<StorageProved>(&r);
        assert_eq!((proved.dealId, proved.window, proved.provider), (id, window, w.proof.address(PROVIDER)));
        println!(
            "prove (window {window}, {CHALLENGES} segments of 1 KiB): {} gas, calldata {} bytes",
            r.gas_used,
            answer.abi_encode().len()
        );
        proofs.push((r.block_number, log));
    }

    // StorageProved up to the contract chain: checkpoint, then settle each once.
    w.checkpoint_up();
    for (window, (number, log)) in proofs.iter().enumerate() {
        let relayed = w.proof.relayed_log(*number, log, &[0, 2, 3]);
        let settle = IStorageDeal::settleProofCall { relayed: alloy_rlp::encode(&relayed).into() };
        let r = w.contract.send(RELAYER, TxKind::Call(w.deals), U256::ZERO, settle.abi_encode(), 10_000_000).unwrap();
        assert!(r.success, "{r}");
        println!("settleProof (4 validators, 3 signatures): {} gas, relayed {} bytes", r.gas_used, settle.relayed.len());
        let (_, paid) = event::<WindowPaid>(&r);
        assert_eq!((paid.window, paid.amount), (window as u32, ether(1) + ether(2) / U256::from(WINDOWS)));
        // Replayed: refused.
        let r = failed(w.contract.call_sol(RELAYER, w.deals, &settle));
        assert!(r.output.starts_with(&strata_sdk::keccak256("AlreadySettled(bytes32)")[..4]), "{r}");
    }

    // Window 3: not slashable until the proof chain's checkpoint passes its end + grace.
    let due = start + u64::from(WINDOWS) * WINDOW_BLOCKS + GRACE;
    let slash = IStorageDeal::slashWindowCall { dealId: id, window: 3 };
    let r = failed(w.contract.call_sol(RELAYER, w.deals, &slash));
    assert!(r.output.starts_with(&strata_sdk::keccak256("NotDue(uint64,uint32,uint64,uint64)")[..4]), "{r}");
    w.proof_chain_to(due + 1);
    w.checkpoint_up();
    let r = w.contract.send(RELAYER, TxKind::Call(w.deals), U256::ZERO, slash.abi_encode(), 10_000_000).unwrap();
    assert!(r.success, "{r}");
    // A paid window cannot be slashed.
    failed(w.contract.call_sol(RELAYER, w.deals, &IStorageDeal::slashWindowCall { dealId: id, window: 0 }));
    let d = w.contract.view(w.deals, &IStorageDeal::dealCall { dealId: id }).unwrap();
    assert_eq!(d.resolved, WINDOWS);

    // Withdrawals, and the balances to the wei: the client paid 4 windows and got one back
    // with its collateral share; the provider put 2 ether of collateral and earned 3
    // windows and 3 shares.
    let share = ether(2) / U256::from(WINDOWS);
    let last_share = ether(2) - share * U256::from(WINDOWS - 1);
    assert_eq!(w.contract.view(w.deals, &IStorageDeal::owedCall { account: w.contract.address(CLIENT) }).unwrap(), ether(1) + last_share);
    for who in [CLIENT, PROVIDER] {
        let r = w.on_contract(who, U256::ZERO, &IStorageDeal::withdrawCall {});
        assert!(r.success, "{r}");
    }
    assert_eq!(w.contract.balance(w.deals), U256::ZERO, "everything escrowed was paid out");
    let client_after = w.contract.balance(w.contract.address(CLIENT));
    let provider_after = w.contract.balance(w.contract.address(PROVIDER));
    assert_eq!(client_before - client_after - w.fees[CLIENT], ether(u64::from(WINDOWS)) - ether(1) - last_share);
    assert_eq!(provider_after + w.fees[PROVIDER] - provider_before, ether(3) + share * U256::from(3u64) - ether(2));
}

#[test]
fn a_provider_that_lost_the_data_cannot_answer_and_forged_events_are_refused() {
    let mut w = World::new();
    let start = w.proof.head() + 20;
    let (id, block, log) = open(&mut w, start);
    let relayed = w.relay_down(block, &log);
    let call = IStorageProof::announceDealCall { relayed: alloy_rlp::encode(&relayed).into() };
    let announced = w.proof.send(RELAYER, TxKind::Call(w.proofs), U256::ZERO, call.abi_encode(), 10_000_000).unwrap();
    assert!(announced.success, "{announced}");

    // Too early, then inside the window with a copy that lost one byte per segment.
    w.proof_chain_to(start + 2);
    let mut lost = w.data.clone();
    for i in (0..lost.len()).step_by(segments::SEGMENT_SIZE as usize) {
        lost[i] ^= 0xff;
    }
    let answer = w.answer(id, 0, &lost);
    let r = failed(w.proof.call_sol(PROVIDER, w.proofs, &answer));
    assert!(r.output.starts_with(&strata_sdk::keccak256("BadSegment(uint64,uint32,uint32,uint64)")[..4]), "{r}");
    // A window that has not opened yet cannot be proven (its seed block does not exist).
    let mut early = w.answer(id, 0, &w.data.clone());
    early.window = 1;
    let r = failed(w.proof.call_sol(PROVIDER, w.proofs, &early));
    assert!(r.output.starts_with(&strata_sdk::keccak256("OutsideWindow(uint64,uint32,uint64,uint64,uint64)")[..4]), "{r}");

    let proved = w.answer(id, 0, &w.data.clone());
    let proved = w.proof.send(PROVIDER, TxKind::Call(w.proofs), U256::ZERO, proved.abi_encode(), 10_000_000).unwrap();
    let (proof_log, _) = event::<StorageProved>(&proved);
    w.checkpoint_up();
    // A certificate signed by non-members.
    let mut forged = w.proof.relayed_log(proved.block_number, &proof_log, &[0, 1, 2]);
    let strangers: Vec<(u32, _)> = (0..3).map(|i| (i as u32, strata_harness::blocks::validator_key(999, i))).collect();
    forged.bundle.certificate = w.proof.certificate_by(proved.block_number, &strangers);
    let r2 = failed(w.contract.call_sol(RELAYER, w.deals, &IStorageDeal::settleProofCall { relayed: alloy_rlp::encode(&forged).into() }));
    assert!(r2.output.starts_with(&strata_sdk::keccak256("BadCertificate(uint64,uint64,string)")[..4]), "{r2}");
    // The proof contract's other event (DealAnnounced), and the proof chain registry's
    // Checkpointed: proven logs, but not StorageProved of the proof contract.
    let relayed = w.proof.relayed_log(announced.block_number, &announced.logs[0], &[0, 1, 2]);
    let r = failed(w.contract.call_sol(RELAYER, w.deals, &IStorageDeal::settleProofCall { relayed: alloy_rlp::encode(&relayed).into() }));
    let reason = error_of::<IStorageDeal::NotAProof>(&r).reason;
    assert!(reason.contains("not a StorageProved"), "{reason}");
    let parent_checkpoint = w.proof.receipts.iter().find(|r| r.logs.iter().any(|l| l.address == CHAIN_REGISTRY)).cloned().unwrap();
    let relayed = w.proof.relayed_log(parent_checkpoint.block_number, &parent_checkpoint.logs[0], &[0, 1, 2]);
    let r = failed(w.contract.call_sol(RELAYER, w.deals, &IStorageDeal::settleProofCall { relayed: alloy_rlp::encode(&relayed).into() }));
    assert!(error_of::<IStorageDeal::NotAProof>(&r).reason.contains("not the proof contract"));
    // The honest one settles.
    let honest = w.proof.relayed_log(proved.block_number, &proof_log, &[0, 1, 2]);
    w.contract.call_sol(RELAYER, w.deals, &IStorageDeal::settleProofCall { relayed: alloy_rlp::encode(&honest).into() }).unwrap();
}

#[test]
fn ending_a_deal_refunds_the_windows_not_begun_and_proposals_can_be_withdrawn() {
    let mut w = World::new();
    let start = w.proof.head() + 20;
    let (id, _, _) = open(&mut w, start);
    // Only the client ends it; the proof chain (as checkpointed) is inside window 1.
    w.proof_chain_to(start + WINDOW_BLOCKS + 2);
    w.checkpoint_up();
    let r = failed(w.contract.call_sol(PROVIDER, w.deals, &IStorageDeal::endDealCall { dealId: id }));
    assert!(r.output.starts_with(&strata_sdk::keccak256("NotParty(uint64,address)")[..4]), "{r}");
    let r = w.on_contract(CLIENT, U256::ZERO, &IStorageDeal::endDealCall { dealId: id });
    assert!(r.success, "{r}");
    let ended = IStorageDeal::DealEnded::decode_log_data(&r.logs[0].data).unwrap();
    assert_eq!((ended.firstCancelled, ended.cancelled), (2, 2), "windows 2 and 3 had not begun");
    let share = ether(2) / U256::from(WINDOWS);
    let owed = |w: &World, who: usize| w.contract.view(w.deals, &IStorageDeal::owedCall { account: w.contract.address(who) }).unwrap();
    assert_eq!(owed(&w, CLIENT), ether(2));
    assert_eq!(owed(&w, PROVIDER), share + (ether(2) - share * U256::from(WINDOWS - 1)));
    for window in [2u32, 3] {
        assert_eq!(w.contract.view(w.deals, &IStorageDeal::windowStateCall { dealId: id, window }).unwrap(), 3);
    }
    // Ended once; windows 0 and 1 still run their course (slashable after their grace).
    failed(w.contract.call_sol(CLIENT, w.deals, &IStorageDeal::endDealCall { dealId: id }));
    w.proof_chain_to(start + 2 * WINDOW_BLOCKS + GRACE + 1);
    w.checkpoint_up();
    for window in [0u32, 1] {
        w.contract.call_sol(RELAYER, w.deals, &IStorageDeal::slashWindowCall { dealId: id, window }).unwrap();
    }
    assert_eq!(owed(&w, CLIENT), ether(2) + (ether(1) + share) * U256::from(2u64));

    // A proposal nobody accepted comes back whole; an accepted one cannot be withdrawn.
    let open = IStorageDeal::openDealCall {
        root: B256::repeat_byte(1),
        size: 5000,
        windows: 2,
        startBlock: w.proof.head() + 50,
        windowBlocks: WINDOW_BLOCKS,
        challenges: 2,
        pricePerWindow: ether(1),
        provider: w.contract.address(PROVIDER),
        collateral: ether(1),
    };
    let r = w.on_contract(CLIENT, ether(2), &open);
    let second = IStorageDeal::openDealCall::abi_decode_returns(&r.output).unwrap();
    let r = w.on_contract(CLIENT, U256::ZERO, &IStorageDeal::cancelProposalCall { dealId: second });
    assert!(r.success, "{r}");
    assert_eq!(owed(&w, CLIENT), ether(4) + (ether(1) + share) * U256::from(2u64));
    failed(w.contract.call_sol(CLIENT, w.deals, &IStorageDeal::cancelProposalCall { dealId: id }));

    // Terms that break a rule, and a wrong escrow, are refused with the reason.
    let r = failed(
        w.contract
            .send(
                CLIENT,
                TxKind::Call(w.deals),
                ether(1),
                IStorageDeal::openDealCall { windows: 0, ..open.clone() }.abi_encode(),
                1_000_000,
            )
            .and_then(|r| if r.success { Ok(r) } else { Err(Error::Failed(Box::new(r))) }),
    );
    assert!(error_of::<IStorageDeal::InvalidTerms>(&r).reason.contains("windows"));
    let r = failed(
        w.contract
            .send(CLIENT, TxKind::Call(w.deals), ether(1), open.abi_encode(), 1_000_000)
            .and_then(|r| if r.success { Ok(r) } else { Err(Error::Failed(Box::new(r))) }),
    );
    assert_eq!(error_of::<IStorageDeal::WrongValue>(&r).expected, ether(2));
}
