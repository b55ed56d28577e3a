//! A stand-in signature recovery for unit tests: a "signature" names its signer in `r`
//! and binds the digest in `s` (top byte zero, so it is low-`s`), so tests can make
//! signatures by any address without keys, and every check can be made to fail.

use alloy_primitives::{Address, B256, keccak256};

use crate::consensus::Recover;

/// A "signature" by `who` over `digest`.
pub(crate) fn sign(who: Address, digest: &B256) -> [u8; 65] {
    let mut sig = [0u8; 65];
    sig[12..32].copy_from_slice(who.as_slice());
    let mut tag = keccak256([digest.as_slice(), who.as_slice()].concat());
    tag[0] = 0;
    sig[32..64].copy_from_slice(tag.as_slice());
    sig[64] = 27;
    sig
}

/// Recovers what [`sign`] made (and nothing else).
pub(crate) struct Fake;

impl Recover for Fake {
    fn recover(&self, digest: &B256, signature: &[u8; 65]) -> Option<Address> {
        let who = Address::from_slice(&signature[12..32]);
        (sign(who, digest) == *signature).then_some(who)
    }
}
