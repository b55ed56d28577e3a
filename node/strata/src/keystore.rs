//! Encrypted JSON keystores (Web3 Secret Storage v3), as geth, foundry (`cast wallet`)
//! and web3.py write them: a scrypt or PBKDF2 key derivation, AES-128-CTR, a Keccak MAC.
//!
//! Why here: `--keystore` lets an operator sign with the key file they already have
//! without writing the private key to disk in the clear.

use anyhow::{Context, bail, ensure};
use ctr::cipher::{KeyIvInit, StreamCipher};
use serde_json::Value;
use strata_primitives::{B256, LocalSigner, hex, keccak256};

/// Largest scrypt cost accepted (`n`, memory 128·r·n bytes): a hostile file cannot
/// make the CLI allocate gigabytes. geth's "standard" is 2^18.
const MAX_SCRYPT_LOG_N: u32 = 20;
/// Largest scrypt `r · p` accepted.
const MAX_SCRYPT_RP: u64 = 64;
/// Most PBKDF2 rounds accepted.
const MAX_PBKDF2_ROUNDS: u32 = 10_000_000;

fn hex_field(v: &Value, what: &str) -> anyhow::Result<Vec<u8>> {
    let s = v.as_str().with_context(|| format!("keystore: {what} missing"))?;
    hex::decode(s.trim_start_matches("0x")).with_context(|| format!("keystore: {what} is not hex"))
}

fn u64_field(v: &Value, what: &str) -> anyhow::Result<u64> {
    v.as_u64().with_context(|| format!("keystore: {what} missing or not a number"))
}

/// The derived key of a keystore's `crypto` object.
fn derive(crypto: &Value, password: &[u8]) -> anyhow::Result<[u8; 32]> {
    let params = &crypto["kdfparams"];
    ensure!(u64_field(&params["dklen"], "kdfparams.dklen")? == 32, "keystore: only 32-byte derived keys are supported");
    let salt = hex_field(&params["salt"], "kdfparams.salt")?;
    let mut key = [0u8; 32];
    match crypto["kdf"].as_str() {
        Some("scrypt") => {
            let n = u64_field(&params["n"], "kdfparams.n")?;
            let r = u32::try_from(u64_field(&params["r"], "kdfparams.r")?).context("keystore: scrypt r too large")?;
            let p = u32::try_from(u64_field(&params["p"], "kdfparams.p")?).context("keystore: scrypt p too large")?;
            ensure!(n.is_power_of_two() && n > 1, "keystore: scrypt n must be a power of two");
            let log_n = n.trailing_zeros();
            ensure!(log_n <= MAX_SCRYPT_LOG_N, "keystore: scrypt n = 2^{log_n} is above the supported 2^{MAX_SCRYPT_LOG_N}");
            ensure!(u64::from(r) * u64::from(p) <= MAX_SCRYPT_RP, "keystore: scrypt r·p above {MAX_SCRYPT_RP}");
            let params = scrypt::Params::new(log_n as u8, r, p, 32).map_err(|e| anyhow::anyhow!("keystore: scrypt parameters: {e}"))?;
            scrypt::scrypt(password, &salt, &params, &mut key).map_err(|e| anyhow::anyhow!("keystore: scrypt: {e}"))?;
        }
        Some("pbkdf2") => {
            ensure!(params["prf"].as_str() == Some("hmac-sha256"), "keystore: only the hmac-sha256 PBKDF2 is supported");
            let c = u32::try_from(u64_field(&params["c"], "kdfparams.c")?).context("keystore: PBKDF2 rounds too large")?;
            ensure!((1..=MAX_PBKDF2_ROUNDS).contains(&c), "keystore: PBKDF2 rounds must be 1 to {MAX_PBKDF2_ROUNDS}");
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, &salt, c, &mut key);
        }
        other => bail!("keystore: unsupported key derivation {other:?} (scrypt or pbkdf2)"),
    }
    Ok(key)
}

/// Decrypts a v3 keystore's JSON with `password`.
pub fn decrypt(json: &str, password: &[u8]) -> anyhow::Result<LocalSigner> {
    let v: Value = serde_json::from_str(json).context("the keystore is not JSON")?;
    ensure!(v["version"].as_u64() == Some(3), "keystore: only version 3 keystores are supported");
    // geth once wrote `Crypto`.
    let crypto = if v["crypto"].is_object() { &v["crypto"] } else { &v["Crypto"] };
    ensure!(crypto.is_object(), "keystore: no crypto section");
    ensure!(crypto["cipher"].as_str() == Some("aes-128-ctr"), "keystore: only the aes-128-ctr cipher is supported");
    let iv = hex_field(&crypto["cipherparams"]["iv"], "cipherparams.iv")?;
    ensure!(iv.len() == 16, "keystore: the IV must be 16 bytes");
    let mut secret = hex_field(&crypto["ciphertext"], "ciphertext")?;
    ensure!(secret.len() == 32, "keystore: the ciphertext must be 32 bytes (a secp256k1 key)");
    let mac = hex_field(&crypto["mac"], "mac")?;
    let key = derive(crypto, password)?;
    let mut preimage = key[16..].to_vec();
    preimage.extend_from_slice(&secret);
    ensure!(keccak256(&preimage).as_slice() == mac.as_slice(), "wrong keystore password (MAC mismatch)");
    let mut cipher = ctr::Ctr128BE::<aes::Aes128>::new(key[..16].into(), iv.as_slice().into());
    cipher.apply_keystream(&mut secret);
    let signer = LocalSigner::from_bytes(&B256::from_slice(&secret)).context("keystore: the decrypted key is not a valid secp256k1 key")?;
    if let Some(address) = v["address"].as_str() {
        let stated = address.trim_start_matches("0x").to_ascii_lowercase();
        let actual = hex::encode(signer.address());
        ensure!(stated == actual, "keystore: it says address 0x{stated} but holds the key of 0x{actual}");
    }
    Ok(signer)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The PBKDF2 test vector of the Web3 Secret Storage definition (password "testpassword").
    const KEY: &str = "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";
    const PBKDF2: &str = r#"{"crypto":{"cipher":"aes-128-ctr","cipherparams":{"iv":"6087dab2f9fdbbfaddc31a909735c1e6"},"ciphertext":"5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46","kdf":"pbkdf2","kdfparams":{"c":262144,"dklen":32,"prf":"hmac-sha256","salt":"ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd"},"mac":"517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"},"id":"3198bc9c-6672-5ab3-d995-4942343ae5b6","version":3}"#;
    // eth_account's `Account.encrypt(KEY, "testpassword", kdf="scrypt", iterations=4096)`.
    const SCRYPT: &str = r#"{"address":"008AeEda4D805471dF9b2A5B0f38A0C3bCBA786b","crypto":{"cipher":"aes-128-ctr","cipherparams":{"iv":"e590f4a07e4d0bf34cb86a000fcd5bc2"},"ciphertext":"6d4bcc95d314a2d01b4b046659cd5b953ba494589f24a21e9c9552fca3689afe","kdf":"scrypt","kdfparams":{"dklen":32,"n":4096,"r":8,"p":1,"salt":"e50bae2818c3bc937c7628c519cb2c17"},"mac":"93a6a7a5a41c332ee28950bf24492b71fe844663cda45db11f30598fbcd8d17d"},"id":"b556979d-d789-48a3-aff6-c58d7ba7ff5b","version":3}"#;

    #[test]
    fn decrypts_the_specification_vectors() {
        for json in [PBKDF2, SCRYPT] {
            let signer = decrypt(json, b"testpassword").unwrap();
            assert_eq!(hex::encode(signer.secret_bytes()), KEY);
        }
    }

    #[test]
    fn a_wrong_password_or_tampered_file_is_refused() {
        let err = decrypt(PBKDF2, b"wrong").unwrap_err().to_string();
        assert!(err.contains("wrong keystore password"), "{err}");
        let tampered = PBKDF2.replace("5318b4d5", "5318b4d6");
        assert!(decrypt(&tampered, b"testpassword").is_err());
        let hostile = SCRYPT.replace("\"n\":4096", "\"n\":1073741824");
        assert!(decrypt(&hostile, b"testpassword").unwrap_err().to_string().contains("above the supported"));
        let wrong_address = PBKDF2.replace("\"id\"", "\"address\":\"0000000000000000000000000000000000000001\",\"id\"");
        assert!(decrypt(&wrong_address, b"testpassword").unwrap_err().to_string().contains("holds the key of"));
    }
}
