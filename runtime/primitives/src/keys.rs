//! Keys and signing: a local secp256k1 signer and BIP-39/BIP-32 derivation.
//!
//! The dev chain prefunds the accounts of the public test mnemonic
//! `test test … junk` (the same ones anvil and hardhat fund). They are derived
//! here from the mnemonic, not copied from a list, and a unit test pins the first
//! one to its well-known address, which checks the derivation end to end.

use crate::{Error, Result, TransactionSigned, transaction::build};
use alloc::{string::String, vec::Vec};
use alloy_consensus::{SignableTransaction, Signed, TxEnvelope};
use alloy_primitives::{Address, B256, Signature};
use hmac::{Hmac, Mac};
use k256::{Scalar, ecdsa::SigningKey, elliptic_curve::PrimeField};
use sha2::Sha512;

/// The public test mnemonic whose accounts the dev chain funds. Its keys are public:
/// never use them for anything of value.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// A private key that signs transactions and messages.
#[derive(Clone)]
pub struct LocalSigner {
    key: SigningKey,
    address: Address,
}

impl core::fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LocalSigner").field("address", &self.address).finish_non_exhaustive()
    }
}

impl LocalSigner {
    /// A signer from a 32-byte secret key.
    pub fn from_bytes(secret: &B256) -> Result<Self> {
        let key = SigningKey::from_bytes(&secret.0.into()).map_err(|_| Error::InvalidKey)?;
        let address = Address::from_private_key(&key);
        Ok(Self { key, address })
    }

    /// The account address of this key.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The secret key bytes.
    pub fn secret_bytes(&self) -> B256 {
        B256::from_slice(&self.key.to_bytes())
    }

    /// The 64-byte uncompressed public key (without the 0x04 prefix).
    pub fn public_key(&self) -> [u8; 64] {
        let point = self.key.verifying_key().to_encoded_point(false);
        let mut out = [0u8; 64];
        out.copy_from_slice(&point.as_bytes()[1..]);
        out
    }

    /// Signs a 32-byte digest; the signature has a low `s` (EIP-2).
    pub fn sign_hash(&self, hash: &B256) -> Result<Signature> {
        let (sig, recid) = self.key.sign_prehash_recoverable(hash.as_slice()).map_err(|_| Error::InvalidKey)?;
        Ok(Signature::from((sig, recid)))
    }

    /// Signs an unsigned transaction (built with [`crate::transaction::build`]).
    pub fn sign_transaction<T>(&self, tx: T) -> Result<TransactionSigned>
    where
        T: SignableTransaction<Signature>,
        TxEnvelope: From<Signed<T>>,
    {
        let sig = self.sign_hash(&tx.signature_hash())?;
        Ok(build::into_signed(tx, sig))
    }
}

/// A key derived from a mnemonic, with the path it came from.
#[derive(Debug, Clone)]
pub struct DevKey {
    /// Derivation path, e.g. `m/44'/60'/0'/0/0`.
    pub path: String,
    /// The signer.
    pub signer: LocalSigner,
}

/// The first `count` accounts of `mnemonic` on Ethereum's default path `m/44'/60'/0'/0/i`.
pub fn derive_accounts(mnemonic: &str, count: u32) -> Result<Vec<DevKey>> {
    let seed = bip39_seed(mnemonic, "");
    (0..count)
        .map(|i| {
            let path = alloc::format!("m/44'/60'/0'/0/{i}");
            let secret = bip32_derive(&seed, &path)?;
            Ok(DevKey { path, signer: LocalSigner::from_bytes(&secret)? })
        })
        .collect()
}

/// BIP-39 seed: PBKDF2-HMAC-SHA512(mnemonic, "mnemonic" + passphrase, 2048 rounds).
/// The mnemonic must already be NFKD-normalised (ASCII English word lists are).
pub fn bip39_seed(mnemonic: &str, passphrase: &str) -> [u8; 64] {
    let mut salt = String::from("mnemonic");
    salt.push_str(passphrase);
    let mut seed = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<Sha512>(mnemonic.as_bytes(), salt.as_bytes(), 2048, &mut seed);
    seed
}

const HARDENED: u32 = 0x8000_0000;

/// BIP-32 private derivation of `path` (e.g. `m/44'/60'/0'/0/0`) from a seed.
pub fn bip32_derive(seed: &[u8], path: &str) -> Result<B256> {
    let (mut key, mut chain_code) = hmac_split(b"Bitcoin seed", &[seed]);
    let mut parts = path.split('/');
    if parts.next() != Some("m") {
        return Err(Error::InvalidPath(path.into()));
    }
    let mut k = scalar(&key).ok_or(Error::InvalidKey)?;
    for part in parts {
        let (digits, hardened) = match part.strip_suffix('\'') {
            Some(d) => (d, true),
            None => (part, false),
        };
        let index: u32 = digits.parse().map_err(|_| Error::InvalidPath(path.into()))?;
        if index >= HARDENED {
            return Err(Error::InvalidPath(path.into()));
        }
        let index = if hardened { index | HARDENED } else { index };
        let (il, ir) = if hardened {
            hmac_split(&chain_code, &[&[0u8], &key, &index.to_be_bytes()])
        } else {
            let secret = SigningKey::from_bytes(&key.into()).map_err(|_| Error::InvalidKey)?;
            let public = secret.verifying_key().to_encoded_point(true);
            hmac_split(&chain_code, &[public.as_bytes(), &index.to_be_bytes()])
        };
        // A child key is invalid (probability < 2^-127) if IL >= n or the sum is zero; BIP-32
        // says to skip to the next index, which a fixed path cannot do, so report it.
        let child = scalar(&il).ok_or(Error::InvalidKey)?.add(&k);
        if bool::from(child.is_zero()) {
            return Err(Error::InvalidKey);
        }
        k = child;
        key = k.to_bytes().into();
        chain_code = ir;
    }
    Ok(B256::from(key))
}

fn scalar(bytes: &[u8; 32]) -> Option<Scalar> {
    Option::from(Scalar::from_repr((*bytes).into()))
}

fn hmac_split(key: &[u8], parts: &[&[u8]]) -> ([u8; 32], [u8; 32]) {
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for p in parts {
        mac.update(p);
    }
    let out = mac.finalize().into_bytes();
    let mut left = [0u8; 32];
    let mut right = [0u8; 32];
    left.copy_from_slice(&out[..32]);
    right.copy_from_slice(&out[32..]);
    (left, right)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256};

    #[test]
    fn dev_mnemonic_derives_the_well_known_accounts() {
        // These are the published anvil/hardhat accounts #0, #1 and #9 of the test mnemonic.
        let keys = derive_accounts(DEV_MNEMONIC, 10).unwrap();
        assert_eq!(keys[0].signer.address(), address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266"));
        assert_eq!(keys[0].signer.secret_bytes(), b256!("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"));
        assert_eq!(keys[1].signer.address(), address!("70997970C51812dc3A010C7d01b50e0d17dc79C8"));
        assert_eq!(keys[9].signer.address(), address!("a0Ee7A142d267C1f36714E4a8F75612F20a79720"));
    }

    #[test]
    fn bip32_rejects_bad_paths() {
        let seed = bip39_seed(DEV_MNEMONIC, "");
        assert!(bip32_derive(&seed, "44'/60'").is_err());
        assert!(bip32_derive(&seed, "m/x").is_err());
        assert!(bip32_derive(&seed, "m/2147483648").is_err());
    }

    #[test]
    fn signatures_recover_to_the_signer() {
        let signer = LocalSigner::from_bytes(&b256!("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")).unwrap();
        let hash = alloy_primitives::keccak256(b"strata");
        let sig = signer.sign_hash(&hash).unwrap();
        assert_eq!(sig.recover_address_from_prehash(&hash).unwrap(), signer.address());
    }
}
