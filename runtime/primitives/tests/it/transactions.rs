//! Transaction envelopes: signing, hashing, recovery and round-trips.

use alloy_primitives::{Address, Bytes, U256, address, b256};
use strata_primitives::{LocalSigner, TransactionSigned, TxKind, TxType, transaction::build};

fn signer() -> LocalSigner {
    LocalSigner::from_bytes(&b256!("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")).unwrap()
}

#[test]
fn eip1559_roundtrip_and_recovery() {
    let to = Address::repeat_byte(0x11);
    let tx = build::eip1559(1337, 3, TxKind::Call(to), U256::from(5u64), Bytes::new(), 21_000, 2_000_000_000, 1_000_000_000);
    let signed = signer().sign_transaction(tx).unwrap();
    let raw = signed.encoded();
    assert_eq!(raw[0], 2, "typed envelope");
    let decoded = TransactionSigned::decode(&raw).unwrap();
    assert_eq!(decoded, signed);
    assert_eq!(decoded.hash(), alloy_primitives::keccak256(&raw));
    assert_eq!(decoded.recover_sender().unwrap(), signer().address());
    assert_eq!(decoded.tx_type(), TxType::Eip1559);
    assert_eq!(decoded.effective_gas_price(1_500_000_000), Some(2_000_000_000));
    assert_eq!(decoded.effective_gas_price(500_000_000), Some(1_500_000_000));
    assert_eq!(decoded.effective_gas_price(3_000_000_000), None);
}

#[test]
fn legacy_eip155_roundtrip_and_recovery() {
    let tx = build::legacy(1337, 0, TxKind::Call(Address::ZERO), U256::from(1u64), Bytes::new(), 21_000, 7);
    let signed = signer().sign_transaction(tx).unwrap();
    let raw = signed.encoded();
    assert!(raw[0] >= 0xc0, "legacy is a bare RLP list");
    let decoded = TransactionSigned::decode(&raw).unwrap();
    assert_eq!(decoded.chain_id(), Some(1337));
    assert_eq!(decoded.recover_sender().unwrap(), signer().address());
    assert_eq!(decoded.effective_gas_price(1), Some(7));
}

/// A transaction signed by an independent wallet (ethers/web3.py), taken from
/// EIP-155's own example: chain id 1, nonce 9, 20 gwei, to 0x3535…, 1 ether.
#[test]
fn decodes_the_eip155_example() {
    let raw = alloy_primitives::hex!(
        "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
    );
    let tx = TransactionSigned::decode(&raw).unwrap();
    assert_eq!(tx.chain_id(), Some(1));
    assert_eq!(tx.nonce(), 9);
    assert_eq!(tx.to(), Some(address!("3535353535353535353535353535353535353535")));
    assert_eq!(tx.recover_sender().unwrap(), address!("9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F"));
}

#[test]
fn tampered_signature_does_not_recover_the_signer() {
    let tx = build::eip1559(1337, 0, TxKind::Call(Address::ZERO), U256::ZERO, Bytes::new(), 21_000, 1, 1);
    let mut raw = signer().sign_transaction(tx).unwrap().encoded().to_vec();
    let last = raw.len() - 1;
    raw[last] ^= 0x01; // flip a bit of `s`
    match TransactionSigned::decode_recovered(&raw) {
        Ok(rec) => assert_ne!(rec.sender, signer().address()),
        Err(e) => assert_eq!(e, strata_primitives::Error::InvalidSignature),
    }
}

#[test]
fn trailing_bytes_are_rejected() {
    let tx = build::eip1559(1337, 0, TxKind::Call(Address::ZERO), U256::ZERO, Bytes::new(), 21_000, 1, 1);
    let mut raw = signer().sign_transaction(tx).unwrap().encoded().to_vec();
    raw.push(0);
    assert!(TransactionSigned::decode(&raw).is_err());
}
