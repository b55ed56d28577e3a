//! Ethereum transaction envelopes as Strata accepts them.
//!
//! Strata accepts two of Ethereum's envelopes: legacy transactions with EIP-155
//! replay protection, and EIP-1559 (type 2) transactions. Both are decoded,
//! hashed and re-encoded by `alloy-consensus`, so bytes signed by any Ethereum
//! wallet round-trip exactly; typed envelopes Strata has no use for (2930, 4844,
//! 7702) are refused when decoded.

use crate::{Error, Result};
use alloy_consensus::{SignableTransaction, Signed, Transaction as _, TxEip1559, TxEnvelope, TxLegacy};
use alloy_eips::{
    Typed2718,
    eip2718::{Decodable2718, Encodable2718},
};
use alloy_primitives::{Address, B256, Bytes, Signature, U256};

pub use alloy_primitives::TxKind;

/// Gas every transaction pays before it does anything.
pub const TX_BASE_GAS: u64 = 21_000;
/// Extra intrinsic gas of a contract-creation transaction.
pub const TX_CREATE_GAS: u64 = 32_000;
/// Intrinsic gas per zero byte of calldata.
pub const TX_DATA_ZERO_GAS: u64 = 4;
/// Intrinsic gas per non-zero byte of calldata.
pub const TX_DATA_NON_ZERO_GAS: u64 = 16;

/// The envelope types Strata accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxType {
    /// Legacy (untyped) transaction, EIP-155 protected.
    Legacy = 0,
    /// EIP-1559 dynamic-fee transaction.
    Eip1559 = 2,
}

/// A signed transaction in one of the accepted envelopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionSigned {
    envelope: TxEnvelope,
}

impl TransactionSigned {
    /// Decodes the bytes of `eth_sendRawTransaction` (EIP-2718: legacy RLP, or
    /// type byte followed by the RLP payload). The whole input must be one transaction.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.is_empty() {
            return Err(Error::TxDecode("empty input".into()));
        }
        // A typed envelope starts with its type byte (< 0x7f); legacy starts with an RLP list header.
        if bytes[0] < 0x7f && bytes[0] != TxType::Eip1559 as u8 {
            return Err(Error::UnsupportedTxType(bytes[0]));
        }
        let mut buf = bytes;
        let envelope = TxEnvelope::decode_2718(&mut buf).map_err(|e| Error::TxDecode(alloc::format!("{e}")))?;
        if !buf.is_empty() {
            return Err(Error::TrailingBytes(buf.len()));
        }
        Self::from_envelope(envelope)
    }

    /// Wraps an alloy envelope, refusing the types Strata does not accept.
    pub fn from_envelope(envelope: TxEnvelope) -> Result<Self> {
        match &envelope {
            TxEnvelope::Legacy(_) | TxEnvelope::Eip1559(_) => Ok(Self { envelope }),
            other => Err(Error::UnsupportedTxType(other.ty())),
        }
    }

    /// The underlying alloy envelope.
    pub fn envelope(&self) -> &TxEnvelope {
        &self.envelope
    }

    /// The EIP-2718 encoding (what `eth_getRawTransactionByHash` returns).
    pub fn encoded(&self) -> Bytes {
        self.envelope.encoded_2718().into()
    }

    /// Length of [`TransactionSigned::encoded`], without encoding.
    pub fn encoded_len(&self) -> usize {
        self.envelope.encode_2718_len()
    }

    /// The transaction hash: keccak256 of the EIP-2718 encoding.
    pub fn hash(&self) -> B256 {
        *self.envelope.tx_hash()
    }

    /// Envelope type.
    pub fn tx_type(&self) -> TxType {
        match self.envelope {
            TxEnvelope::Eip1559(_) => TxType::Eip1559,
            _ => TxType::Legacy,
        }
    }

    /// The sender, recovered from the signature. Signatures with a high `s` value
    /// (EIP-2 malleability) are refused.
    pub fn recover_sender(&self) -> Result<Address> {
        let signature = self.envelope.signature();
        if signature.s() > alloy_consensus::crypto::SECP256K1N_HALF {
            return Err(Error::InvalidSignature);
        }
        crate::recover::recover_address(&self.envelope.signature_hash(), signature).ok_or(Error::InvalidSignature)
    }

    /// Decodes, then recovers the sender.
    pub fn decode_recovered(bytes: &[u8]) -> Result<RecoveredTx> {
        let tx = Self::decode(bytes)?;
        let sender = tx.recover_sender()?;
        Ok(RecoveredTx { tx, sender })
    }

    /// Chain id, `None` for a legacy transaction without EIP-155 protection.
    pub fn chain_id(&self) -> Option<u64> {
        self.envelope.chain_id()
    }
    /// Sender nonce.
    pub fn nonce(&self) -> u64 {
        self.envelope.nonce()
    }
    /// Gas limit.
    pub fn gas_limit(&self) -> u64 {
        self.envelope.gas_limit()
    }
    /// Recipient, or create.
    pub fn kind(&self) -> TxKind {
        self.envelope.kind()
    }
    /// Recipient address (`None` for contract creation).
    pub fn to(&self) -> Option<Address> {
        self.envelope.to()
    }
    /// Value transferred in wei.
    pub fn value(&self) -> U256 {
        self.envelope.value()
    }
    /// Call data (or init code for a create).
    pub fn input(&self) -> &Bytes {
        self.envelope.input()
    }
    /// Legacy gas price, or EIP-1559 `maxFeePerGas`.
    pub fn max_fee_per_gas(&self) -> u128 {
        self.envelope.max_fee_per_gas()
    }
    /// EIP-1559 `maxPriorityFeePerGas` (`None` for legacy).
    pub fn max_priority_fee_per_gas(&self) -> Option<u128> {
        self.envelope.max_priority_fee_per_gas()
    }
    /// The signature.
    pub fn signature(&self) -> &Signature {
        self.envelope.signature()
    }

    /// Price actually paid per gas under `base_fee`:
    /// legacy: `gasPrice`; EIP-1559: `min(maxFee, baseFee + maxPriorityFee)`.
    /// `None` when the transaction cannot pay the base fee at all.
    pub fn effective_gas_price(&self, base_fee: u64) -> Option<u128> {
        let max_fee = self.max_fee_per_gas();
        if max_fee < u128::from(base_fee) {
            return None;
        }
        match self.max_priority_fee_per_gas() {
            None => Some(max_fee),
            Some(tip) => Some(max_fee.min(u128::from(base_fee).saturating_add(tip))),
        }
    }

    /// Gas charged before execution: 21000, +32000 for a create, +4/16 per zero/non-zero calldata byte.
    pub fn intrinsic_gas(&self) -> u64 {
        intrinsic_gas(self.input(), self.kind().is_create())
    }

    /// Upper bound of what the sender can be charged: `value + gasLimit * maxFeePerGas`.
    /// `None` on overflow (such a transaction can never be paid).
    pub fn max_cost(&self) -> Option<U256> {
        U256::from(self.gas_limit()).checked_mul(U256::from(self.max_fee_per_gas()))?.checked_add(self.value())
    }

    /// What a certified transaction's resolution depends on
    /// ([`strata_protocol::storage_cert::Resolution`]); `None` if its cost overflows.
    pub fn resolution_facts(&self) -> Option<strata_protocol::storage_cert::TxFacts> {
        Some(strata_protocol::storage_cert::TxFacts {
            nonce: self.nonce(),
            cost: self.max_cost()?,
            max_fee: self.max_fee_per_gas(),
            gas: self.gas_limit(),
        })
    }
}

/// Ethereum's intrinsic gas of a transaction's calldata (no access lists: Strata does not accept them).
pub fn intrinsic_gas(input: &[u8], is_create: bool) -> u64 {
    let zeros = input.iter().filter(|b| **b == 0).count() as u64;
    let non_zeros = (input.len() as u64).saturating_sub(zeros);
    let create = if is_create { TX_CREATE_GAS } else { 0 };
    TX_BASE_GAS
        .saturating_add(create)
        .saturating_add(zeros.saturating_mul(TX_DATA_ZERO_GAS))
        .saturating_add(non_zeros.saturating_mul(TX_DATA_NON_ZERO_GAS))
}

/// A transaction together with its recovered sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredTx {
    /// The transaction.
    pub tx: TransactionSigned,
    /// Its sender, recovered from the signature.
    pub sender: Address,
}

impl RecoveredTx {
    /// Transaction hash.
    pub fn hash(&self) -> B256 {
        self.tx.hash()
    }
}

impl alloy_rlp::Encodable for TransactionSigned {
    /// Inside a block body a transaction is stored as its EIP-2718 bytes in an RLP string,
    /// so every envelope has one uniform RLP shape.
    fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        self.encoded().encode(out)
    }
    fn length(&self) -> usize {
        let len = self.envelope.encode_2718_len();
        alloy_rlp::Header { list: false, payload_length: len }.length_with_payload()
    }
}

impl alloy_rlp::Decodable for TransactionSigned {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let bytes = alloy_rlp::Header::decode_bytes(buf, false)?;
        Self::decode(bytes).map_err(|_| alloy_rlp::Error::Custom("invalid transaction in block body"))
    }
}

/// Builders used by wallets, tests and the CLI to make unsigned transactions.
pub mod build {
    use super::*;

    /// An unsigned EIP-1559 transfer/call (one argument per transaction field).
    #[allow(clippy::too_many_arguments)]
    pub fn eip1559(
        chain_id: u64,
        nonce: u64,
        to: TxKind,
        value: U256,
        input: Bytes,
        gas_limit: u64,
        max_fee: u128,
        max_priority_fee: u128,
    ) -> TxEip1559 {
        TxEip1559 {
            chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: max_priority_fee,
            to,
            value,
            access_list: Default::default(),
            input,
        }
    }

    /// An unsigned legacy (EIP-155) transfer/call.
    pub fn legacy(chain_id: u64, nonce: u64, to: TxKind, value: U256, input: Bytes, gas_limit: u64, gas_price: u128) -> TxLegacy {
        TxLegacy { chain_id: Some(chain_id), nonce, gas_price, gas_limit, to, value, input }
    }

    /// Attaches a signature to an unsigned transaction.
    pub fn into_signed<T>(tx: T, sig: Signature) -> TransactionSigned
    where
        T: SignableTransaction<Signature>,
        TxEnvelope: From<Signed<T>>,
    {
        TransactionSigned { envelope: tx.into_signed(sig).into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intrinsic_gas_counts_bytes() {
        assert_eq!(intrinsic_gas(&[], false), 21_000);
        assert_eq!(intrinsic_gas(&[0, 1, 0], false), 21_000 + 4 + 16 + 4);
        assert_eq!(intrinsic_gas(&[], true), 53_000);
    }

    #[test]
    fn refuses_unsupported_types_and_garbage() {
        assert_eq!(TransactionSigned::decode(&[0x01, 0xc0]), Err(Error::UnsupportedTxType(1)));
        assert_eq!(TransactionSigned::decode(&[0x03]), Err(Error::UnsupportedTxType(3)));
        assert!(matches!(TransactionSigned::decode(&[0xde, 0xad, 0xbe, 0xef]), Err(Error::TxDecode(_))));
        assert!(matches!(TransactionSigned::decode(&[]), Err(Error::TxDecode(_))));
    }
}
