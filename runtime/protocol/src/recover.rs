//! Sender recovery at half the cost.
//!
//! k256's `VerifyingKey::recover_from_prehash` computes the public key
//! `Q = r⁻¹(s·R − z·G)` with one double-scalar multiplication, then verifies the signature
//! against `Q` with a second one. That check cannot fail for the key it just computed
//! (`z/s·G + r/s·Q = R`, whose x coordinate is `r` by construction), so every
//! transaction's sender recovery — at admission on every validator and again when a
//! block is validated — and every consensus or certification signature check
//! ([`crate::consensus::K256`]) paid twice. [`recover_address`] computes `Q` once, with the
//! signature parsed and normalized exactly as alloy does it; a differential test
//! against alloy's recovery (in `strata-primitives`: valid, high-`s`, corrupted and out-of-range signatures, every
//! `v`) keeps the two equal.

use alloy_primitives::{Address, B256, Signature};
use k256::{
    AffinePoint, FieldBytes, ProjectivePoint, Scalar, U256 as K256Uint,
    elliptic_curve::{
        group::Group,
        ops::{Invert, LinearCombination, Reduce},
        point::DecompressPoint,
        sec1::ToEncodedPoint,
        subtle::Choice,
    },
};

/// The address whose key signed `prehash` with `signature` (`s` normalized to the
/// lower half as alloy's recovery does; callers that must refuse a high `s` check it
/// first). `None` where alloy's recovery fails: `r` or `s` zero or not below the group
/// order, no curve point with x = `r`, or the identity as the key.
pub fn recover_address(prehash: &B256, signature: &Signature) -> Option<Address> {
    let normalized = signature.normalized_s();
    let k = normalized.to_k256().ok()?;
    let (r, s) = k.split_scalars();
    let big_r = Option::<AffinePoint>::from(AffinePoint::decompress(&r.to_bytes(), Choice::from(u8::from(normalized.v()))))?;
    let z = <Scalar as Reduce<K256Uint>>::reduce_bytes(&FieldBytes::from(prehash.0));
    let r_inv: Scalar = *r.invert();
    let u1 = -(r_inv * z);
    let u2 = r_inv * *s;
    let key = ProjectivePoint::lincomb(&ProjectivePoint::GENERATOR, &u1, &ProjectivePoint::from(big_r), &u2);
    if bool::from(key.is_identity()) {
        return None;
    }
    let encoded = key.to_affine().to_encoded_point(false);
    Some(Address::from_raw_public_key(encoded.as_bytes().get(1..)?))
}
