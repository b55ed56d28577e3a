//! The attestation contract (`IAttestation` in `strata_sdk::protocol::interfaces`; the
//! signed digest and the quorum in `strata_sdk::protocol::attestation`).
//!
//! Why: organisations that share records want others to trust that what is on chain is
//! what is in the source, without trusting whoever wrote it. A requester anchors data
//! together with how to read it again (a registered source and read parameters);
//! registered attestors re-read the source themselves, hash what they read and sign it;
//! the signatures are counted here with `ecrecover`, each attestor once. When at least
//! half of the attestors registered at request time read the requester's data the
//! request is `Attested`; when at least half read something else it is `Rejected`; past
//! its expiry, neither, it is `Expired`. Each outcome is an event, so anyone proves it
//! with a receipt proof (`strata audit receipt`). Signatures counted after the outcome
//! are kept and flagged late.
//!
//! Attestors are managed by the owner or the chain's admin (the fee contract's);
//! membership is by generation, so a request is judged by the attestors registered when
//! it was made, whatever changes afterwards. See `contracts/attestation/README.md`.
#![no_std]

extern crate alloc;

use alloc::{format, string::String, vec::Vec};

use strata_sdk::{
    Address, B256, Bytes, Revert, SolError, SolValue, contract, emit, env, host,
    protocol::{
        attestation::{MAX_ATTESTORS, MAX_EXPIRY_BLOCKS, MAX_REQUEST_BYTES, MAX_SIGNATURES, digest, quorum},
        interfaces::{
            IAttestation::{
                Attested, AttestorAdded, AttestorRemoved, DataHashMismatch, Expired, InvalidArgument, NotExpired, NotOwner, NotPending,
                NotSourceOwner, NothingAccepted, Observed, OwnerChanged, Rejected, Requested, SignatureIgnored, SourceAdded, SourceRemoved,
                UnknownRequest, UnknownSource,
            },
            IFee,
        },
        system::FEE_CONTRACT,
    },
    storage::{IterableMap, StorageMap, StorageValue},
    view_contract,
};

/// Request states.
pub const PENDING: u8 = 0;
/// At least half the attestors read the requester's data.
pub const ATTESTED: u8 = 1;
/// At least half read something else.
pub const REJECTED: u8 = 2;
/// Neither before the expiry.
pub const EXPIRED: u8 = 3;

/// The source kinds an attestor knows how to read.
pub const SOURCE_KINDS: [&str; 3] = ["postgres", "http", "strata"];
const MAX_ENDPOINT: usize = 512;

static OWNER: StorageValue<Address> = StorageValue::new(b"owner");
/// The attestors registered now (value unused: their history is in ADDED / REMOVED).
static ATTESTORS: IterableMap<Address, bool> = IterableMap::new(b"a/", b"ap/", b"ak/", b"an");
/// attestor -> generation it was last added in.
static ADDED: StorageMap<Address, u64> = StorageMap::new(b"aa/");
/// attestor -> generation it was removed in (0: not since it was last added).
static REMOVED: StorageMap<Address, u64> = StorageMap::new(b"ar/");
/// Bumped by every change of the attestors.
static GENERATION: StorageValue<u64> = StorageValue::new(b"gen");
static SOURCE_COUNT: StorageValue<u64> = StorageValue::new(b"sc");
/// source id -> ABI (active, kind, endpoint, owner).
static SOURCES: StorageMap<u64, Vec<u8>> = StorageMap::new(b"s/");
static REQUEST_COUNT: StorageValue<u64> = StorageValue::new(b"rc");
/// request id -> ABI [`RequestFields`]: the request and its tally, one fixed-size record
/// written whole by `request` and rewritten in place by `attest`, so deciding a request
/// never needs more storage than making it did (a full quota blocks new requests, never
/// the decision of pending ones).
static REQUESTS: StorageMap<u64, Vec<u8>> = StorageMap::new(b"r/");
/// attestor -> its index + 1 (kept after removal: its votes on earlier requests).
static INDEX: StorageMap<Address, u64> = StorageMap::new(b"ai/");
/// index -> the attestor holding it now (zero: free). An index is reused only by an
/// attestor added after its previous holder left, so no request has both as members.
static HOLDER: StorageMap<u64, Address> = StorageMap::new(b"ah/");
/// requester, source, data hash, expiry block, generation, attestors at request time;
/// status, confirmations, mismatches, late; the vote bits (bit `index` for each attestor
/// counted: the observed hashes are in the `Observed` events).
type RequestFields = (Address, u64, B256, u64, u64, u32, u32, u32, u32, u32, u64);

struct Request {
    requester: Address,
    source: u64,
    data_hash: B256,
    expiry: u64,
    generation: u64,
    attestors: u32,
    tally: Tally,
    voted: u64,
}

#[derive(Clone, Copy)]
struct Tally {
    status: u8,
    confirmations: u32,
    mismatches: u32,
    late: u32,
}

impl Request {
    fn load(id: u64) -> Result<Request, Revert> {
        let raw = REQUESTS.get(&id);
        let (requester, source, data_hash, expiry, generation, attestors, status, confirmations, mismatches, late, voted) =
            RequestFields::abi_decode(&raw).map_err(|_| err(UnknownRequest { requestId: id }))?;
        let tally = Tally { status: u8::try_from(status).unwrap_or(u8::MAX), confirmations, mismatches, late };
        Ok(Request { requester, source, data_hash, expiry, generation, attestors, tally, voted })
    }

    fn store(&self, id: u64) {
        let t = self.tally;
        let fields: RequestFields = (
            self.requester,
            self.source,
            self.data_hash,
            self.expiry,
            self.generation,
            self.attestors,
            u32::from(t.status),
            t.confirmations,
            t.mismatches,
            t.late,
            self.voted,
        );
        REQUESTS.set(&id, &fields.abi_encode());
    }

    /// Whether `who`'s observation was counted (it was an attestor of the request's
    /// generation and its bit is set).
    fn counted(&self, who: Address) -> bool {
        attestor_at(who, self.generation) && self.voted & vote_bit(who) != 0
    }
}

fn err<E: SolError>(e: E) -> Revert {
    Revert(e.abi_encode())
}

fn invalid(reason: impl Into<String>) -> Revert {
    err(InvalidArgument { reason: reason.into() })
}

/// Refused unless the caller is the owner or the chain's admin.
fn only_owner() -> Result<(), Revert> {
    let caller = env::caller();
    if caller == OWNER.get() {
        return Ok(());
    }
    match view_contract(FEE_CONTRACT, &IFee::adminCall {}) {
        Ok(admin) if admin == caller => Ok(()),
        _ => Err(err(NotOwner { caller })),
    }
}

/// Whether `who` was a registered attestor at generation `generation`.
fn attestor_at(who: Address, generation: u64) -> bool {
    let added = ADDED.get(&who);
    let removed = REMOVED.get(&who);
    added != 0 && added <= generation && (removed == 0 || removed > generation)
}

/// The vote bit of a registered (or formerly registered) attestor.
fn vote_bit(attestor: Address) -> u64 {
    let index = INDEX.get(&attestor).saturating_sub(1);
    1u64.checked_shl(u32::try_from(index).unwrap_or(u32::MAX)).unwrap_or(0)
}

fn bump_generation() -> u64 {
    let g = GENERATION.get().saturating_add(1);
    GENERATION.set(&g);
    g
}

fn load_source(id: u64) -> Option<(bool, String, String, Address)> {
    <(bool, String, String, Address)>::abi_decode(&SOURCES.get(&id)).ok()
}

/// Decides a pending request whose expiry has passed.
fn expire_if_due(id: u64, req: &mut Request) -> bool {
    let t = &mut req.tally;
    if t.status == PENDING && env::block_number() > req.expiry {
        t.status = EXPIRED;
        emit(&Expired { requestId: id, confirmations: t.confirmations, mismatches: t.mismatches });
        return true;
    }
    false
}

/// Why the signature `sig` over `d` is not counted for request `id`, or its signer.
fn check_signature(id: u64, req: &Request, d: &B256, sig: &[u8]) -> Result<Address, (Address, String)> {
    let sig: &[u8; 65] = sig.try_into().map_err(|_| (Address::ZERO, format!("a signature is 65 bytes, not {}", sig.len())))?;
    let signer = host::ecrecover(d, sig).ok_or_else(|| (Address::ZERO, String::from("no signer recovers from the signature")))?;
    if !attestor_at(signer, req.generation) {
        return Err((signer, format!("{signer} was not a registered attestor when request {id} was made")));
    }
    if req.voted & vote_bit(signer) != 0 {
        return Err((signer, format!("{signer} already reported for request {id}")));
    }
    Ok(signer)
}

/// The attestation contract.
pub struct Attestation;

#[contract]
impl Attestation {
    /// `owner` manages the attestors (zero: the deployer).
    #[constructor]
    pub fn constructor(owner: Address) {
        let owner = if owner.is_zero() { env::caller() } else { owner };
        OWNER.set(&owner);
        emit(&OwnerChanged { previous: Address::ZERO, owner });
    }

    /// Who manages the attestors (besides the chain's admin).
    #[view]
    pub fn owner() -> Address {
        OWNER.get()
    }

    /// Hands the contract to `owner`.
    pub fn set_owner(owner: Address) -> Result<(), Revert> {
        only_owner()?;
        if owner.is_zero() {
            return Err(invalid("the owner cannot be the zero address"));
        }
        let previous = OWNER.get();
        OWNER.set(&owner);
        emit(&OwnerChanged { previous, owner });
        Ok(())
    }

    /// Registers an attestor.
    pub fn add_attestor(attestor: Address) -> Result<(), Revert> {
        only_owner()?;
        if attestor.is_zero() {
            return Err(invalid("the zero address cannot attest"));
        }
        if ATTESTORS.contains(&attestor) {
            return Err(invalid(format!("{attestor} is an attestor already")));
        }
        if ATTESTORS.len() >= u64::from(MAX_ATTESTORS) {
            return Err(invalid(format!("at most {MAX_ATTESTORS} attestors")));
        }
        // Re-adding a removed attestor forgets its earlier membership: requests made
        // while it was first registered no longer count it.
        let free = (0..u64::from(MAX_ATTESTORS)).find(|i| HOLDER.get(i).is_zero()).unwrap_or(0);
        HOLDER.set(&free, &attestor);
        INDEX.set(&attestor, &(free + 1));
        let g = bump_generation();
        ATTESTORS.insert(&attestor, &true);
        ADDED.set(&attestor, &g);
        REMOVED.remove(&attestor);
        emit(&AttestorAdded { attestor });
        Ok(())
    }

    /// Removes an attestor; requests made before still count its signatures.
    pub fn remove_attestor(attestor: Address) -> Result<(), Revert> {
        only_owner()?;
        if !ATTESTORS.remove(&attestor) {
            return Err(invalid(format!("{attestor} is not an attestor")));
        }
        HOLDER.remove(&INDEX.get(&attestor).saturating_sub(1));
        let g = bump_generation();
        REMOVED.set(&attestor, &g);
        emit(&AttestorRemoved { attestor });
        Ok(())
    }

    /// The attestors registered now.
    #[view]
    pub fn attestors() -> Vec<Address> {
        ATTESTORS.page(0, u64::from(MAX_ATTESTORS)).into_iter().map(|(a, _)| a).collect()
    }

    /// Registers a source; the caller owns it.
    pub fn add_source(kind: String, endpoint: String) -> Result<u64, Revert> {
        if !SOURCE_KINDS.contains(&kind.as_str()) {
            return Err(invalid(format!("unknown source kind `{kind}` (known: postgres, http, strata)")));
        }
        if endpoint.is_empty() || endpoint.len() > MAX_ENDPOINT {
            return Err(invalid(format!("the endpoint must be 1..={MAX_ENDPOINT} bytes")));
        }
        let id = SOURCE_COUNT.get().saturating_add(1);
        SOURCE_COUNT.set(&id);
        let owner = env::caller();
        SOURCES.set(&id, &(true, kind.clone(), endpoint.clone(), owner).abi_encode());
        emit(&SourceAdded { sourceId: id, owner, kind, endpoint });
        Ok(id)
    }

    /// Retires a source: no new request may name it.
    pub fn remove_source(source_id: u64) -> Result<(), Revert> {
        let Some((true, kind, endpoint, owner)) = load_source(source_id) else {
            return Err(err(UnknownSource { sourceId: source_id }));
        };
        let caller = env::caller();
        if caller != owner && only_owner().is_err() {
            return Err(err(NotSourceOwner { sourceId: source_id, caller }));
        }
        SOURCES.set(&source_id, &(false, kind, endpoint, owner).abi_encode());
        emit(&SourceRemoved { sourceId: source_id });
        Ok(())
    }

    /// A source (all zero if none).
    #[view]
    pub fn source(source_id: u64) -> (bool, String, String, Address) {
        load_source(source_id).unwrap_or_default()
    }

    /// Sources registered so far.
    #[view]
    pub fn source_count() -> u64 {
        SOURCE_COUNT.get()
    }

    /// Anchors `data`, read from `source_id` with `read_params`, for attestation.
    pub fn request(source_id: u64, read_params: Bytes, data: Bytes, data_hash: B256, expiry_blocks: u64) -> Result<u64, Revert> {
        if !matches!(load_source(source_id), Some((true, ..))) {
            return Err(err(UnknownSource { sourceId: source_id }));
        }
        if read_params.len() > MAX_REQUEST_BYTES || data.len() > MAX_REQUEST_BYTES {
            return Err(invalid(format!("read parameters and data are at most {MAX_REQUEST_BYTES} bytes each")));
        }
        if expiry_blocks == 0 || expiry_blocks > MAX_EXPIRY_BLOCKS {
            return Err(invalid(format!("expiryBlocks must be 1..={MAX_EXPIRY_BLOCKS}")));
        }
        let computed = host::keccak(&data);
        if computed != data_hash {
            return Err(err(DataHashMismatch { given: data_hash, computed }));
        }
        let attestors = u32::try_from(ATTESTORS.len()).unwrap_or(u32::MAX);
        if attestors == 0 {
            return Err(invalid("no attestor is registered"));
        }
        let id = REQUEST_COUNT.get().saturating_add(1);
        REQUEST_COUNT.set(&id);
        let requester = env::caller();
        let expiry = env::block_number().saturating_add(expiry_blocks);
        let tally = Tally { status: PENDING, confirmations: 0, mismatches: 0, late: 0 };
        let req = Request { requester, source: source_id, data_hash, expiry, generation: GENERATION.get(), attestors, tally, voted: 0 };
        req.store(id);
        emit(&Requested {
            requestId: id,
            requester,
            sourceId: source_id,
            dataHash: data_hash,
            expiry,
            quorum: quorum(attestors),
            readParams: read_params,
        });
        Ok(id)
    }

    /// Counts attestors' signatures that they read `observed_hash` for the request.
    pub fn attest(request_id: u64, observed_hash: B256, signatures: Vec<Bytes>) -> Result<u32, Revert> {
        if signatures.is_empty() || signatures.len() > MAX_SIGNATURES {
            return Err(invalid(format!("1..={MAX_SIGNATURES} signatures per call")));
        }
        if observed_hash == B256::ZERO {
            return Err(invalid("the observed hash cannot be zero"));
        }
        let mut req = Request::load(request_id)?;
        expire_if_due(request_id, &mut req);
        let d = digest(env::chain_id(), env::self_address(), request_id, observed_hash);
        let matches = observed_hash == req.data_hash;
        let need = quorum(req.attestors);
        let (mut accepted, mut first_reason) = (0u32, None);
        for sig in &signatures {
            let signer = match check_signature(request_id, &req, &d, sig) {
                Ok(s) => s,
                Err((signer, reason)) => {
                    emit(&SignatureIgnored { requestId: request_id, signer, reason: reason.clone() });
                    first_reason.get_or_insert(reason);
                    continue;
                }
            };
            req.voted |= vote_bit(signer);
            accepted += 1;
            let t = &mut req.tally;
            let late = t.status != PENDING;
            if late {
                t.late = t.late.saturating_add(1);
            } else if matches {
                t.confirmations = t.confirmations.saturating_add(1);
            } else {
                t.mismatches = t.mismatches.saturating_add(1);
            }
            emit(&Observed { requestId: request_id, attestor: signer, observedHash: observed_hash, matches, late });
            if t.status == PENDING && t.confirmations >= need {
                t.status = ATTESTED;
                emit(&Attested { requestId: request_id, dataHash: req.data_hash, confirmations: t.confirmations });
            } else if t.status == PENDING && t.mismatches >= need {
                t.status = REJECTED;
                emit(&Rejected { requestId: request_id, dataHash: req.data_hash, mismatches: t.mismatches });
            }
        }
        if accepted == 0 {
            return Err(err(NothingAccepted { requestId: request_id, reason: first_reason.unwrap_or_default() }));
        }
        req.store(request_id);
        Ok(accepted)
    }

    /// Decides a pending request whose expiry has passed as `Expired`.
    pub fn expire(request_id: u64) -> Result<(), Revert> {
        let mut req = Request::load(request_id)?;
        if req.tally.status != PENDING {
            return Err(err(NotPending { requestId: request_id, status: req.tally.status }));
        }
        if !expire_if_due(request_id, &mut req) {
            return Err(err(NotExpired { requestId: request_id, expiry: req.expiry, now: env::block_number() }));
        }
        req.store(request_id);
        Ok(())
    }

    /// A request and its tally.
    #[view]
    #[allow(clippy::type_complexity)]
    pub fn request_info(request_id: u64) -> Result<(Address, u64, B256, u64, u32, u32, u8, u32, u32, u32), Revert> {
        let req = Request::load(request_id)?;
        let t = req.tally;
        Ok((
            req.requester,
            req.source,
            req.data_hash,
            req.expiry,
            req.attestors,
            quorum(req.attestors),
            t.status,
            t.confirmations,
            t.mismatches,
            t.late,
        ))
    }

    /// Whether `attestor`'s observation of the request was counted (what it observed is
    /// in its `Observed` event).
    #[view]
    pub fn observed(request_id: u64, attestor: Address) -> bool {
        Request::load(request_id).is_ok_and(|r| r.counted(attestor))
    }

    /// Requests made so far.
    #[view]
    pub fn request_count() -> u64 {
        REQUEST_COUNT.get()
    }
}
