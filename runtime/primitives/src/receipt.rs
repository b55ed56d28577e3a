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
use alloy_primitives::{Address, Bloom, Bytes, Log};
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
    /// Logs emitted, in order (the last is the resource log, see [`ResourceUsage::log`]).
    pub logs: Vec<Log>,
    /// Return data (success) or revert data (revert); empty otherwise.
    pub output: Bytes,
    /// Why execution failed (trap, out of gas, limit, refused), empty on success or revert.
    pub failure: Bytes,
    /// Resources the transaction used.
    pub resources: ResourceUsage,
}

/// Address the resource log is emitted from: `0x…535452415441` ("STRATA"). No account
/// can have it as a key, so no contract can forge the log.
pub const RESOURCE_LOG_ADDRESS: Address = alloy_primitives::address!("0000000000000000000000000000535452415441");

/// Topic of the resource log: `keccak256("Resources(uint64,uint64,uint64,uint64)")`.
pub const RESOURCE_LOG_TOPIC: alloy_primitives::B256 =
    alloy_primitives::b256!("3b7d0ddb1081d73ad6f2aa8a80062b7940b0630b384e4821d69999529f9bbb23");

/// What a transaction used, per resource. Committed in the receipts root as the
/// receipt's last log, so Ethereum's receipt encoding is unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct ResourceUsage {
    /// Wasm fuel consumed (all frames).
    pub fuel: u64,
    /// Bytes of the transaction as sent over the network.
    pub tx_bytes: u64,
    /// Bytes added to contract storage (keys and values).
    pub storage_bytes_added: u64,
    /// Bytes removed from contract storage.
    pub storage_bytes_removed: u64,
}

impl ResourceUsage {
    /// The log carrying this breakdown: four ABI-encoded `uint64` words.
    pub fn log(&self) -> Log {
        let mut data = Vec::with_capacity(128);
        for v in [self.fuel, self.tx_bytes, self.storage_bytes_added, self.storage_bytes_removed] {
            let mut word = [0u8; 32];
            word[24..].copy_from_slice(&v.to_be_bytes());
            data.extend_from_slice(&word);
        }
        Log::new_unchecked(RESOURCE_LOG_ADDRESS, alloc::vec![RESOURCE_LOG_TOPIC], data.into())
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
        assert_eq!(RESOURCE_LOG_TOPIC, alloy_primitives::keccak256("Resources(uint64,uint64,uint64,uint64)"));
        let log = ResourceUsage { fuel: 1, tx_bytes: 2, storage_bytes_added: 3, storage_bytes_removed: 4 }.log();
        assert_eq!(log.data.data.len(), 128);
        assert_eq!(log.data.data[31], 1);
        assert_eq!(log.data.data[127], 4);
    }
}
