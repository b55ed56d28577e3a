//! Transaction receipts.
//!
//! A receipt is committed in `receiptsRoot` with Ethereum's typed-receipt
//! encoding (EIP-2718: type byte, then `rlp([status, cumulativeGasUsed, logsBloom, logs])`),
//! so any Ethereum tool recomputes the root. Strata stores a few more fields
//! beside it (gas used, effective price, created contract) that JSON-RPC shows
//! but that are not part of the committed encoding, exactly as Ethereum nodes do.

use crate::TxType;
use alloc::vec::Vec;
use alloy_consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom, TxType as AlloyTxType};
use alloy_primitives::{Address, Bloom, Bytes, Log, U256};
use alloy_rlp::{RlpDecodable, RlpEncodable};

/// What executing one transaction produced, as stored by the node.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StoredReceipt {
    /// Envelope type of the transaction (0 legacy, 2 EIP-1559).
    pub tx_type: u8,
    /// True if execution succeeded (EIP-658 status 1).
    pub success: bool,
    /// Gas used by this and all earlier transactions of the block.
    pub cumulative_gas_used: u64,
    /// Gas used by this transaction.
    pub gas_used: u64,
    /// Price per gas actually paid.
    pub effective_gas_price: u128,
    /// Address of the contract created, empty bytes when none.
    pub contract_address: Bytes,
    /// Logs emitted, in order: the contracts' logs, then the resource log (see
    /// [`ResourceUsage::log`]), then one payout log per validator paid (see
    /// [`crate::system::payout_log`]).
    pub logs: Vec<Log>,
    /// Return data (success) or revert data (revert); empty otherwise.
    pub output: Bytes,
    /// Why execution failed (trap, out of gas, limit, refused), empty on success or revert.
    pub failure: Bytes,
    /// Resources the transaction used.
    pub resources: ResourceUsage,
}

pub use strata_protocol::system::{RESOURCE_LOG_ADDRESS, RESOURCE_LOG_TOPIC};

/// The fee of a transaction, by resource (wei), as the fee contract quoted it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct FeeBreakdown {
    /// Compute: fuel × fuel price.
    pub compute: U256,
    /// Network: transaction bytes × validators × byte price.
    pub network: U256,
    /// Hot storage bought: bytes × storage price.
    pub storage: U256,
    /// Cold retention: byte-days × cold price.
    pub cold: U256,
    /// Sum of the four.
    pub total: U256,
    /// What the sender paid: `total` rounded up to a whole gas unit (`gasUsed × effectiveGasPrice`).
    pub charged: U256,
}

/// What a transaction used, per resource, and what it paid for each. Committed in
/// the receipts root as a log (see [`ResourceUsage::log`]), so Ethereum's receipt
/// encoding is unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct ResourceUsage {
    /// Wasm fuel consumed (all frames), plus the fixed fuel of processing a transaction.
    pub fuel: u64,
    /// Bytes of the transaction as sent over the network.
    pub tx_bytes: u64,
    /// Validators the transaction is sent to (network cost is per copy).
    pub replicas: u64,
    /// Bytes added to contract storage (keys and live values).
    pub storage_bytes_added: u64,
    /// Bytes removed from contract storage (deleted or archived).
    pub storage_bytes_removed: u64,
    /// Bytes of hot storage paid for: code deployed and quota bought.
    pub storage_bytes_paid: u64,
    /// Cold retention paid for, in byte-seconds.
    pub cold_byte_seconds: u64,
    /// The fee, by resource.
    pub fee: FeeBreakdown,
}

impl ResourceUsage {
    /// The log carrying this breakdown: seven ABI-encoded `uint64` words then six
    /// `uint256` words (compute, network, storage, cold, total, charged).
    pub fn log(&self) -> Log {
        let mut data = Vec::with_capacity(13 * 32);
        for v in [
            self.fuel,
            self.tx_bytes,
            self.replicas,
            self.storage_bytes_added,
            self.storage_bytes_removed,
            self.storage_bytes_paid,
            self.cold_byte_seconds,
        ] {
            data.extend_from_slice(&U256::from(v).to_be_bytes::<32>());
        }
        let f = &self.fee;
        for v in [f.compute, f.network, f.storage, f.cold, f.total, f.charged] {
            data.extend_from_slice(&v.to_be_bytes::<32>());
        }
        Log::new_unchecked(RESOURCE_LOG_ADDRESS, alloc::vec![RESOURCE_LOG_TOPIC], data.into())
    }

    /// Reads a resource log back (for auditors and clients).
    pub fn from_log(log: &Log) -> Option<Self> {
        let d = &log.data.data;
        if log.address != RESOURCE_LOG_ADDRESS || log.topics() != [RESOURCE_LOG_TOPIC] || d.len() != 13 * 32 {
            return None;
        }
        let word = |i: usize| U256::from_be_slice(&d[i * 32..(i + 1) * 32]);
        let small = |i: usize| u64::try_from(word(i)).ok();
        Some(Self {
            fuel: small(0)?,
            tx_bytes: small(1)?,
            replicas: small(2)?,
            storage_bytes_added: small(3)?,
            storage_bytes_removed: small(4)?,
            storage_bytes_paid: small(5)?,
            cold_byte_seconds: small(6)?,
            fee: FeeBreakdown { compute: word(7), network: word(8), storage: word(9), cold: word(10), total: word(11), charged: word(12) },
        })
    }
}

impl StoredReceipt {
    /// The created contract, if any.
    pub fn contract_address(&self) -> Option<Address> {
        (self.contract_address.len() == 20).then(|| Address::from_slice(&self.contract_address))
    }

    /// Bloom of this receipt's logs.
    pub fn bloom(&self) -> Bloom {
        self.logs.iter().collect()
    }

    /// The EIP-2718 encoding committed in `receiptsRoot` (type byte, then RLP).
    pub fn encoded_2718(&self) -> Vec<u8> {
        use alloy_eips::eip2718::Encodable2718;
        let mut buf = Vec::new();
        self.envelope().encode_2718(&mut buf);
        buf
    }

    /// Ethereum's typed receipt, as committed in `receiptsRoot`.
    pub fn envelope(&self) -> ReceiptEnvelope {
        let receipt =
            Receipt { status: Eip658Value::Eip658(self.success), cumulative_gas_used: self.cumulative_gas_used, logs: self.logs.clone() };
        let with_bloom = ReceiptWithBloom::new(receipt, self.bloom());
        let ty = if self.tx_type == TxType::Eip1559 as u8 { AlloyTxType::Eip1559 } else { AlloyTxType::Legacy };
        ReceiptEnvelope::from_typed(ty, with_bloom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_topic_is_the_event_signature_hash() {
        assert_eq!(
            RESOURCE_LOG_TOPIC,
            alloy_primitives::keccak256(
                "Resources(uint64,uint64,uint64,uint64,uint64,uint64,uint64,uint256,uint256,uint256,uint256,uint256,uint256)"
            )
        );
        let fee = FeeBreakdown {
            compute: U256::from(8u64),
            network: U256::from(9u64),
            storage: U256::from(10u64),
            cold: U256::from(11u64),
            total: U256::from(38u64),
            charged: U256::from(40u64),
        };
        let usage = ResourceUsage {
            fuel: 1,
            tx_bytes: 2,
            replicas: 3,
            storage_bytes_added: 4,
            storage_bytes_removed: 5,
            storage_bytes_paid: 6,
            cold_byte_seconds: 7,
            fee,
        };
        let log = usage.log();
        assert_eq!(log.data.data.len(), 13 * 32);
        assert_eq!(log.data.data[31], 1);
        assert_eq!(ResourceUsage::from_log(&log), Some(usage));
    }
}
