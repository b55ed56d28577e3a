//! Multi-party attestation of off-chain data: what an attestor signs and how many
//! attestors make a result.
//!
//! Why here: the attestation contract (`contracts/attestation`) checks attestors'
//! signatures with `ecrecover`, the attestor daemon (`strata attest`) produces them and
//! `strata attest status` or a browser re-checks them. One definition of the digest and
//! of the quorum, or an honest attestor's signature could be refused.
//!
//! **Digest.** An attestor that re-read request `id`'s source and hashed what it read
//! (`observed`, keccak-256 of the canonical bytes) signs, with its secp256k1 key and no
//! message prefix, `keccak256("strata/attest/v1" ‖ chain id ‖ contract ‖ id ‖ observed)`
//! (chain id and id as 8-byte big-endian integers, the contract's 20 bytes). The chain
//! and the contract are in it so a signature cannot be replayed on another chain or at
//! another deployment; the observed hash is in it so one signature says exactly one
//! thing — "I read this" — whether or not it matches what the requester put on chain.
//!
//! **Quorum.** A request is decided by at least half of the attestors registered when it
//! was made: `⌈n / 2⌉` matching observations attest it, `⌈n / 2⌉` differing ones reject
//! it. With an even `n` both can be reached (2 against 2 of 4): the first to be counted
//! on chain decides, and what comes after is kept as a late attestation.

use alloy_primitives::{Address, B256, keccak256};
use alloy_sol_types::sol;

/// Domain tag of [`digest`].
pub const ATTEST_DOMAIN: &[u8] = b"strata/attest/v1";

/// Most attestors one contract registers (each request's check is bounded by it).
pub const MAX_ATTESTORS: u32 = 64;

/// Most signatures one `attest` call carries.
pub const MAX_SIGNATURES: usize = 64;

/// Longest expiry a request may ask for, in blocks.
pub const MAX_EXPIRY_BLOCKS: u64 = 100_000;

/// Largest read parameters and data a request may carry, in bytes.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// The digest an attestor signs: it read `observed` for request `request_id` of the
/// attestation contract `contract` on chain `chain_id`.
pub fn digest(chain_id: u64, contract: Address, request_id: u64, observed: B256) -> B256 {
    let mut buf = [0u8; ATTEST_DOMAIN.len() + 8 + 20 + 8 + 32];
    let (domain, rest) = buf.split_at_mut(ATTEST_DOMAIN.len());
    domain.copy_from_slice(ATTEST_DOMAIN);
    rest[..8].copy_from_slice(&chain_id.to_be_bytes());
    rest[8..28].copy_from_slice(contract.as_slice());
    rest[28..36].copy_from_slice(&request_id.to_be_bytes());
    rest[36..].copy_from_slice(observed.as_slice());
    keccak256(buf)
}

/// Observations that decide a request made when `attestors` were registered: at least
/// half of them (`⌈n / 2⌉`), and at least one.
pub fn quorum(attestors: u32) -> u32 {
    attestors.div_ceil(2).max(1)
}

sol! {
    /// The attestation contract's public ABI (`contracts/attestation`; the digest and
    /// quorum in [`crate::attestation`]). Constructor: `(address owner)` (zero: the
    /// deployer). Request states: 0 pending, 1 attested, 2 rejected, 3 expired.
    #[derive(Debug, PartialEq, Eq)]
    interface IAttestation {
        /// Who manages the attestors (besides the chain's admin, the fee contract's).
        function owner() external view returns (address);
        /// Owner or chain admin; emits `OwnerChanged`.
        function setOwner(address owner) external;
        /// Owner or chain admin; emits `AttestorAdded`. Re-adding a removed attestor
        /// forgets its earlier membership (requests made while it was first registered
        /// no longer count it).
        function addAttestor(address attestor) external;
        /// Owner or chain admin; emits `AttestorRemoved`. Requests made before keep
        /// counting it (their attestors are those registered when they were made).
        function removeAttestor(address attestor) external;
        /// The attestors registered now.
        function attestors() external view returns (address[]);
        /// Registers a source (kind `postgres`, `http` or `strata`; the endpoint says
        /// where it is, publicly); the caller owns it. Emits `SourceAdded`.
        function addSource(string kind, string endpoint) external returns (uint64 sourceId);
        /// The source's owner or the contract's owner; no new requests name it.
        function removeSource(uint64 sourceId) external;
        /// A source.
        function source(uint64 sourceId) external view returns (bool active, string kind, string endpoint, address owner);
        /// Sources registered so far (ids are 1..=count).
        function sourceCount() external view returns (uint64);
        /// Anchors `data` (whose keccak-256 must be `dataHash`) read from `sourceId` with
        /// `readParams`; attestors have `expiryBlocks` blocks to re-read it. Emits `Requested`.
        function request(uint64 sourceId, bytes readParams, bytes data, bytes32 dataHash, uint64 expiryBlocks) external returns (uint64 requestId);
        /// Counts attestors' signatures that they read `observedHash` for the request;
        /// each attestor once. Ignored signatures are logged (`SignatureIgnored`) with
        /// their reason; none accepted reverts (`NothingAccepted`).
        function attest(uint64 requestId, bytes32 observedHash, bytes[] signatures) external returns (uint32 accepted);
        /// Anyone, once a pending request's expiry has passed: emits `Expired`.
        function expire(uint64 requestId) external;
        /// A request and its tally.
        function requestInfo(uint64 requestId) external view returns (address requester, uint64 sourceId, bytes32 dataHash, uint64 expiry, uint32 attestorCount, uint32 quorum, uint8 status, uint32 confirmations, uint32 mismatches, uint32 late);
        /// Whether `attestor`'s observation of the request was counted (what it observed
        /// is in its `Observed` event).
        function observed(uint64 requestId, address attestor) external view returns (bool);
        /// Requests made so far (ids are 1..=count).
        function requestCount() external view returns (uint64);
        /// The owner changed (also emitted by the constructor, from zero).
        event OwnerChanged(address indexed previous, address indexed owner);
        /// An attestor was registered.
        event AttestorAdded(address indexed attestor);
        /// An attestor was removed.
        event AttestorRemoved(address indexed attestor);
        /// A source was registered.
        event SourceAdded(uint64 indexed sourceId, address indexed owner, string kind, string endpoint);
        /// A source was removed.
        event SourceRemoved(uint64 indexed sourceId);
        /// Data was anchored; attestors re-read `sourceId` with `readParams`.
        event Requested(uint64 indexed requestId, address indexed requester, uint64 indexed sourceId, bytes32 dataHash, uint64 expiry, uint32 quorum, bytes readParams);
        /// An attestor's signed observation was counted (`late`: after the request was decided).
        event Observed(uint64 indexed requestId, address indexed attestor, bytes32 observedHash, bool matches, bool late);
        /// A signature was not counted; `signer` is zero when none could be recovered.
        event SignatureIgnored(uint64 indexed requestId, address signer, string reason);
        /// At least half the attestors read `dataHash`: the data is attested.
        event Attested(uint64 indexed requestId, bytes32 dataHash, uint32 confirmations);
        /// At least half the attestors read something else.
        event Rejected(uint64 indexed requestId, bytes32 dataHash, uint32 mismatches);
        /// Neither before the expiry.
        event Expired(uint64 indexed requestId, uint32 confirmations, uint32 mismatches);
        /// Only the owner (or the chain's admin) may do this.
        error NotOwner(address caller);
        /// Only the source's owner (or the contract's) may do this.
        error NotSourceOwner(uint64 sourceId, address caller);
        /// No such active source.
        error UnknownSource(uint64 sourceId);
        /// No such request.
        error UnknownRequest(uint64 requestId);
        /// The arguments break a rule; the reason says which.
        error InvalidArgument(string reason);
        /// `dataHash` is not the keccak-256 of `data`.
        error DataHashMismatch(bytes32 given, bytes32 computed);
        /// No signature was counted; the reason is the first one's.
        error NothingAccepted(uint64 requestId, string reason);
        /// The request is not pending.
        error NotPending(uint64 requestId, uint8 status);
        /// The request's expiry has not passed.
        error NotExpired(uint64 requestId, uint64 expiry, uint64 now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_is_at_least_half() {
        assert_eq!([0, 1, 2, 3, 4, 5, 7, 16, 64].map(quorum), [1, 1, 1, 2, 2, 3, 4, 8, 32]);
        for n in 1..=MAX_ATTESTORS {
            let q = quorum(n);
            assert!(2 * q >= n && 2 * (q - 1) < n, "n {n} q {q}");
        }
    }

    #[test]
    fn digest_binds_every_field() {
        let (c, a, id, h) = (7, Address::repeat_byte(1), 3, B256::repeat_byte(2));
        let d = digest(c, a, id, h);
        assert_ne!(d, digest(c + 1, a, id, h));
        assert_ne!(d, digest(c, Address::repeat_byte(3), id, h));
        assert_ne!(d, digest(c, a, id + 1, h));
        assert_ne!(d, digest(c, a, id, B256::repeat_byte(4)));
        // The layout, spelled out: domain ‖ be64 chain ‖ contract ‖ be64 id ‖ observed.
        let mut manual = ATTEST_DOMAIN.to_vec();
        manual.extend_from_slice(&c.to_be_bytes());
        manual.extend_from_slice(a.as_slice());
        manual.extend_from_slice(&id.to_be_bytes());
        manual.extend_from_slice(h.as_slice());
        assert_eq!(d, keccak256(manual));
    }
}
