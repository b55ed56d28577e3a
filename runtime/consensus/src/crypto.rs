//! Signer recovery with a memo.
//!
//! Every consensus message is checked by recovering its signer (secp256k1 public-key
//! recovery, ~0.1–0.5 ms). The same signature often arrives more than once: a prepare
//! is checked as a message and again inside a prepared certificate, a view change
//! again inside the new view, a commit again inside a certificate. [`SignerCache`]
//! memoises `(digest, signature) -> signer`, a pure function, so a repeat costs a map
//! lookup. Cores in one process (the simulator's validators) may share one cache; a
//! node keeps its core's own.

use crate::{Error, Result};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use strata_primitives::{Address, B256, Signature, ValidatorSet};

/// Entries kept before the memo is emptied and starts over (bounds its memory).
const CAPACITY: usize = 1 << 16;

type Memo = BTreeMap<(B256, [u8; 65]), Option<Address>>;

/// A memo of recovered signers, shareable between cores (cloning shares it).
#[derive(Debug, Clone, Default)]
pub struct SignerCache {
    memo: Arc<Mutex<Memo>>,
}

impl SignerCache {
    /// An empty memo.
    pub fn new() -> Self {
        Self::default()
    }

    /// The signer of `signature` over `digest`, or `None` if the signature is malformed,
    /// has a high `s`, or recovers nothing.
    pub fn recover(&self, digest: &B256, signature: &[u8; 65]) -> Option<Address> {
        let key = (*digest, *signature);
        if let Some(hit) = self.lock().get(&key) {
            return *hit;
        }
        let signer = Signature::from_raw_array(signature).ok().and_then(|sig| {
            // A high-`s` twin of a valid signature recovers the same key; only the low-`s`
            // form is accepted, so each signed message has one valid encoding.
            if sig.normalize_s().is_some() { None } else { sig.recover_address_from_prehash(digest).ok() }
        });
        let mut memo = self.lock();
        if memo.len() >= CAPACITY {
            memo.clear();
        }
        memo.insert(key, signer);
        signer
    }

    /// Checks that `signature` over `digest` is validator `index`'s.
    pub fn check(&self, set: &ValidatorSet, index: u32, digest: &B256, signature: &[u8; 65]) -> Result<()> {
        let expected = set.get(index).ok_or(Error::UnknownValidator(index))?;
        match self.recover(digest, signature) {
            Some(signer) if &signer == expected => Ok(()),
            _ => Err(Error::BadSignature(index)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memo> {
        // The memo holds no invariant a panic could break: a poisoned lock is still usable.
        self.memo.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
