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
