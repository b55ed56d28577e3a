//! The attestation contract, compiled to Wasm and run by the real runtime
//! (`strata-harness`), called through the `IAttestation` interface clients use.

use strata_harness::{Receipt, TestChain, TxKind, blocks::validator_key, build_contract, error_of, failed};
use strata_sdk::{
    Address, B256, Bytes, SolCall, SolEvent, SolValue, U256, keccak256,
    protocol::{
        attestation::digest,
        interfaces::IArchive,
        interfaces::IAttestation::{self, Attested, Expired, Observed, Rejected, SignatureIgnored},
        system::ARCHIVE_CONTRACT,
    },
};

const OWNER: usize = 0;
const REQUESTER: usize = 1;
const SUBMITTER: usize = 2;
/// Attestor keys: deterministic, never funded (they only sign).
const KEYS: u64 = 4242;

fn events<E: SolEvent>(r: &Receipt) -> Vec<E> {
    r.logs.iter().filter(|l| l.topics().first() == Some(&E::SIGNATURE_HASH)).map(|l| E::decode_log_data(&l.data).unwrap()).collect()
}

struct World {
    chain: TestChain,
    contract: Address,
    source: u64,
}

impl World {
    fn new(attestors: usize) -> World {
        let mut chain = TestChain::new();
        let wasm = build_contract(env!("CARGO_MANIFEST_DIR")).unwrap();
        let owner = chain.address(OWNER);
        let r = chain.deploy(OWNER, &wasm, &owner.abi_encode()).unwrap();
        let contract = r.contract_address.unwrap();
        // Requests are stored: the deployer raises the contract's storage quota.
        let quota = IArchive::setQuotaCall { target: contract, quotaBytes: 64 << 10 };
        chain.call_sol(OWNER, ARCHIVE_CONTRACT, &quota).unwrap();
        let mut w = World { chain, contract, source: 0 };
        for i in 0..attestors {
            w.call(OWNER, &IAttestation::addAttestorCall { attestor: attestor(i) });
        }
        let add = IAttestation::addSourceCall { kind: "postgres".into(), endpoint: "postgres://records.example/clinic".into() };
        w.source = w.call_sol(REQUESTER, &add).unwrap();
        w
    }

    fn call_sol<C: SolCall>(&mut self, from: usize, call: &C) -> strata_harness::Result<C::Return> {
        self.chain.call_sol(from, self.contract, call)
    }

    fn call<C: SolCall>(&mut self, from: usize, call: &C) -> Receipt {
        let r = self.chain.send(from, TxKind::Call(self.contract), U256::ZERO, call.abi_encode(), 3_000_000).unwrap();
        assert!(r.success, "{} failed: {r}", C::SIGNATURE);
        r
    }

    fn request(&mut self, data: &[u8], expiry: u64) -> u64 {
        let call = IAttestation::requestCall {
            sourceId: self.source,
            readParams: Bytes::from_static(br#"{"table":"records","key":{"id":"7"},"columns":["name"],"version":{"rev":"3"}}"#),
            data: Bytes::copy_from_slice(data),
            dataHash: keccak256(data),
            expiryBlocks: expiry,
        };
        self.call_sol(REQUESTER, &call).unwrap()
    }

    fn sign(&self, i: usize, id: u64, observed: B256) -> Bytes {
        let d = digest(self.chain.chain_id(), self.contract, id, observed);
        Bytes::copy_from_slice(&validator_key(KEYS, i).sign_hash(&d).unwrap().as_bytes())
    }

    fn attest(&mut self, id: u64, observed: B256, signers: &[usize]) -> Receipt {
        let signatures = signers.iter().map(|&i| self.sign(i, id, observed)).collect();
        self.call(SUBMITTER, &IAttestation::attestCall { requestId: id, observedHash: observed, signatures })
    }

    fn info(&self, id: u64) -> IAttestation::requestInfoReturn {
        self.chain.view(self.contract, &IAttestation::requestInfoCall { requestId: id }).unwrap()
    }
}

fn attestor(i: usize) -> Address {
    validator_key(KEYS, i).address()
}

#[test]
fn half_the_attestors_attest_and_later_signatures_are_kept_late() {
    let mut w = World::new(4);
    let data = br#"{"name":"Ada"}"#;
    let id = w.request(data, 50);
    let info = w.info(id);
    assert_eq!((info.attestorCount, info.quorum, info.status), (4, 2, 0));
    let h = keccak256(data);

    let r = w.attest(id, h, &[0]);
    assert!(events::<Attested>(&r).is_empty());
    // A different observation by another attestor does not block the matching ones.
    w.attest(id, B256::repeat_byte(9), &[3]);
    let r = w.attest(id, h, &[1]);
    let attested = events::<Attested>(&r);
    assert_eq!(attested.len(), 1, "{r}");
    assert_eq!((attested[0].requestId, attested[0].dataHash, attested[0].confirmations), (id, h, 2));
    let info = w.info(id);
    assert_eq!((info.status, info.confirmations, info.mismatches, info.late), (1, 2, 1, 0));

    // The fourth attestor, after the outcome: counted as late, the outcome unchanged.
    let r = w.attest(id, h, &[2]);
    let observed = events::<Observed>(&r);
    assert!(observed[0].late && observed[0].matches, "{r}");
    let info = w.info(id);
    assert_eq!((info.status, info.confirmations, info.late), (1, 2, 1));
    let seen = |w: &World, i| w.chain.view(w.contract, &IAttestation::observedCall { requestId: id, attestor: attestor(i) }).unwrap();
    assert!(seen(&w, 0) && seen(&w, 2) && seen(&w, 3));
    let other = w.request(data, 50);
    assert!(!w.chain.view(w.contract, &IAttestation::observedCall { requestId: other, attestor: attestor(0) }).unwrap());
}

#[test]
fn half_reading_something_else_rejects() {
    let mut w = World::new(4);
    let id = w.request(b"the requester's version", 50);
    // Two attestors read two different things: both count as mismatches.
    w.attest(id, B256::repeat_byte(1), &[0]);
    let r = w.attest(id, B256::repeat_byte(2), &[1]);
    let rejected = events::<Rejected>(&r);
    assert_eq!((rejected.len(), rejected[0].mismatches), (1, 2), "{r}");
    assert_eq!(w.info(id).status, 2);
}

#[test]
fn bad_signatures_are_ignored_with_their_reason() {
    let mut w = World::new(4);
    let data = b"row";
    let id = w.request(data, 50);
    let h = keccak256(data);
    w.attest(id, h, &[0]);

    // In one call: a duplicate of a counted attestor, a stranger, a short signature and a
    // valid one. The valid one counts; the others are logged with their reason.
    let stranger = validator_key(KEYS, 9);
    let foreign = Bytes::copy_from_slice(&stranger.sign_hash(&digest(w.chain.chain_id(), w.contract, id, h)).unwrap().as_bytes());
    let signatures = vec![w.sign(0, id, h), foreign, Bytes::from_static(&[1, 2, 3]), w.sign(1, id, h)];
    let r = w.call(SUBMITTER, &IAttestation::attestCall { requestId: id, observedHash: h, signatures });
    let ignored = events::<SignatureIgnored>(&r);
    let reasons: Vec<&str> = ignored.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(ignored.len(), 3, "{reasons:?}");
    assert!(reasons[0].contains("already reported"), "{reasons:?}");
    assert_eq!(ignored[0].signer, attestor(0));
    assert!(reasons[1].contains("was not a registered attestor"), "{reasons:?}");
    assert_eq!(ignored[1].signer, stranger.address());
    assert!(reasons[2].contains("65 bytes"), "{reasons:?}");
    assert_eq!(events::<Attested>(&r).len(), 1);

    // A signature over another chain's digest recovers to someone else: ignored.
    let id2 = w.request(data, 50);
    let other_chain = digest(w.chain.chain_id() + 1, w.contract, id2, h);
    let replayed = Bytes::copy_from_slice(&validator_key(KEYS, 2).sign_hash(&other_chain).unwrap().as_bytes());
    let r = failed(w.call_sol(SUBMITTER, &IAttestation::attestCall { requestId: id2, observedHash: h, signatures: vec![replayed] }));
    let e = error_of::<IAttestation::NothingAccepted>(&r);
    assert!(e.reason.contains("was not a registered attestor"), "{}", e.reason);
    // Only duplicates: refused as a whole, the chain unchanged.
    let dup = vec![w.sign(0, id, h), w.sign(0, id, h)];
    let r = failed(w.call_sol(SUBMITTER, &IAttestation::attestCall { requestId: id, observedHash: h, signatures: dup }));
    assert!(error_of::<IAttestation::NothingAccepted>(&r).reason.contains("already reported"));
    assert_eq!(w.info(id).late, 0);
}

#[test]
fn undecided_requests_expire() {
    let mut w = World::new(4);
    let data = b"slow source";
    let id = w.request(data, 5);
    let h = keccak256(data);
    w.attest(id, h, &[0]);
    let r = failed(w.call_sol(SUBMITTER, &IAttestation::expireCall { requestId: id }));
    let e = error_of::<IAttestation::NotExpired>(&r);
    assert_eq!(e.requestId, id);
    w.chain.advance_blocks(6);
    // A signature after the expiry first expires the request, then is kept as late.
    let r = w.attest(id, h, &[1]);
    let expired = events::<Expired>(&r);
    assert_eq!((expired.len(), expired[0].confirmations), (1, 1), "{r}");
    assert!(events::<Observed>(&r)[0].late);
    assert!(events::<Attested>(&r).is_empty());
    assert_eq!(w.info(id).status, 3);
    let r = failed(w.call_sol(SUBMITTER, &IAttestation::expireCall { requestId: id }));
    assert_eq!(error_of::<IAttestation::NotPending>(&r).status, 3);

    // The plain path: `expire` by anyone once due.
    let id = w.request(data, 2);
    w.chain.advance_blocks(3);
    let r = w.call(SUBMITTER, &IAttestation::expireCall { requestId: id });
    assert_eq!(events::<Expired>(&r).len(), 1);
}

#[test]
fn a_request_is_judged_by_the_attestors_of_its_time() {
    let mut w = World::new(3);
    let data = b"v1";
    let h = keccak256(data);
    let id = w.request(data, 50);
    assert_eq!(w.info(id).quorum, 2);
    // Attestor 3 joins after the request: it does not count for it.
    w.call(OWNER, &IAttestation::addAttestorCall { attestor: attestor(3) });
    let r = failed(w.call_sol(SUBMITTER, &IAttestation::attestCall { requestId: id, observedHash: h, signatures: vec![w.sign(3, id, h)] }));
    assert!(error_of::<IAttestation::NothingAccepted>(&r).reason.contains("not a registered attestor"));
    // Attestor 0 leaves after the request: it still counts for it, not for new ones.
    w.call(OWNER, &IAttestation::removeAttestorCall { attestor: attestor(0) });
    let later = w.request(data, 50);
    assert_eq!((w.info(later).attestorCount, w.info(later).quorum), (3, 2));
    w.attest(id, h, &[0]);
    let r = w.attest(id, h, &[1]);
    assert_eq!(events::<Attested>(&r).len(), 1);
    let r = failed(
        w.call_sol(SUBMITTER, &IAttestation::attestCall { requestId: later, observedHash: h, signatures: vec![w.sign(0, later, h)] }),
    );
    assert!(error_of::<IAttestation::NothingAccepted>(&r).reason.contains("not a registered attestor"));
    let now = w.chain.view(w.contract, &IAttestation::attestorsCall {}).unwrap();
    assert_eq!(now.len(), 3);
    assert!(!now.contains(&attestor(0)) && now.contains(&attestor(3)));
}

#[test]
fn only_the_owner_manages_attestors_and_requests_are_checked() {
    let mut w = World::new(1);
    let r = failed(w.call_sol(REQUESTER, &IAttestation::addAttestorCall { attestor: attestor(5) }));
    assert_eq!(error_of::<IAttestation::NotOwner>(&r).caller, w.chain.address(REQUESTER));
    let r = failed(w.call_sol(OWNER, &IAttestation::addAttestorCall { attestor: attestor(0) }));
    assert!(error_of::<IAttestation::InvalidArgument>(&r).reason.contains("already"));

    let data = Bytes::from_static(b"x");
    let lie = IAttestation::requestCall {
        sourceId: w.source,
        readParams: Bytes::new(),
        data: data.clone(),
        dataHash: B256::repeat_byte(3),
        expiryBlocks: 10,
    };
    let r = failed(w.call_sol(REQUESTER, &lie));
    assert_eq!(error_of::<IAttestation::DataHashMismatch>(&r).computed, keccak256(&data));
    let unknown = IAttestation::requestCall { sourceId: 99, dataHash: keccak256(&data), ..lie.clone() };
    assert_eq!(error_of::<IAttestation::UnknownSource>(&failed(w.call_sol(REQUESTER, &unknown))).sourceId, 99);
    let forever = IAttestation::requestCall { dataHash: keccak256(&data), expiryBlocks: 0, ..lie.clone() };
    failed(w.call_sol(REQUESTER, &forever));
    let bad_kind = IAttestation::addSourceCall { kind: "ftp".into(), endpoint: "ftp://x".into() };
    assert!(error_of::<IAttestation::InvalidArgument>(&failed(w.call_sol(REQUESTER, &bad_kind))).reason.contains("ftp"));

    // A source is retired by its owner only; then no request may name it.
    let r = failed(w.call_sol(SUBMITTER, &IAttestation::removeSourceCall { sourceId: w.source }));
    assert_eq!(error_of::<IAttestation::NotSourceOwner>(&r).sourceId, w.source);
    w.call(REQUESTER, &IAttestation::removeSourceCall { sourceId: w.source });
    let ok = IAttestation::requestCall { dataHash: keccak256(&data), ..lie };
    error_of::<IAttestation::UnknownSource>(&failed(w.call_sol(REQUESTER, &ok)));
    let s = w.chain.view(w.contract, &IAttestation::sourceCall { sourceId: w.source }).unwrap();
    assert!(!s.active && s.kind == "postgres" && s.owner == w.chain.address(REQUESTER));
}

#[test]
fn a_freed_index_is_reused_without_mixing_votes() {
    let mut w = World::new(2);
    let data = b"index";
    let h = keccak256(data);
    let old = w.request(data, 50);
    w.attest(old, h, &[0]);
    // Attestor 0 leaves; attestor 2 takes its index for later requests.
    w.call(OWNER, &IAttestation::removeAttestorCall { attestor: attestor(0) });
    w.call(OWNER, &IAttestation::addAttestorCall { attestor: attestor(2) });
    let seen = |w: &World, id, i| w.chain.view(w.contract, &IAttestation::observedCall { requestId: id, attestor: attestor(i) }).unwrap();
    // On the old request, 0 is counted and 2 (same index, not a member then) is not.
    assert!(seen(&w, old, 0) && !seen(&w, old, 2));
    let new = w.request(data, 50);
    assert!(!seen(&w, new, 2) && !seen(&w, new, 0));
    let r = w.attest(new, h, &[2]);
    assert_eq!(events::<Observed>(&r).len(), 1);
    assert!(seen(&w, new, 2) && !seen(&w, new, 0));
    // Attestor 0's signature on the new request: not a member then.
    let r =
        failed(w.call_sol(SUBMITTER, &IAttestation::attestCall { requestId: new, observedHash: h, signatures: vec![w.sign(0, new, h)] }));
    assert!(error_of::<IAttestation::NothingAccepted>(&r).reason.contains("not a registered attestor"));
    // Re-adding 0 forgets its earlier membership: the old request no longer counts it
    // as a member (its counted vote stays in the tally).
    w.call(OWNER, &IAttestation::addAttestorCall { attestor: attestor(0) });
    assert!(!seen(&w, old, 0));
    assert_eq!(w.info(old).confirmations, 1);
}

#[test]
fn with_an_even_count_the_first_half_counted_decides() {
    let mut w = World::new(4);
    let data = b"tie";
    let h = keccak256(data);
    let id = w.request(data, 50);
    w.attest(id, B256::repeat_byte(5), &[0]);
    w.attest(id, h, &[1]);
    // 2 of 4 differ first: rejected; the matching one after it is late.
    let r = w.attest(id, B256::repeat_byte(6), &[2]);
    assert_eq!(events::<Rejected>(&r).len(), 1);
    let r = w.attest(id, h, &[3]);
    assert!(events::<Attested>(&r).is_empty() && events::<Observed>(&r)[0].late);
    let info = w.info(id);
    assert_eq!((info.status, info.confirmations, info.mismatches, info.late), (2, 1, 2, 1));
}

/// Gas of `attest` by number of signatures (printed with `--nocapture`; the bench reports it).
#[test]
fn attest_gas_grows_linearly_with_signatures() {
    let mut w = World::new(16);
    let data = b"gas";
    let h = keccak256(data);
    let (mut gas, mut stored) = (Vec::new(), Vec::new());
    for n in [1usize, 8, 16] {
        let id = w.request(data, 50);
        let signers: Vec<usize> = (0..n).collect();
        let r = w.attest(id, h, &signers);
        gas.push(r.gas_used);
        stored.push(r.resources.storage_bytes_added);
    }
    // Deciding takes no storage beyond what the request took: its record is rewritten in
    // place, whatever the number of signatures.
    assert_eq!(stored, [0, 0, 0]);
    let per_sig = (gas[2] - gas[1]) / 8;
    println!("attest gas: 1 sig {}, 8 sigs {}, 16 sigs {} ({per_sig} per signature)", gas[0], gas[1], gas[2]);
    assert!(gas[0] < gas[1] && gas[1] < gas[2]);
    assert!(per_sig < 60_000, "{per_sig} gas per signature");
}
