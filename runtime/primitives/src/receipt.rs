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
    /// Logs emitted, in order.
    pub logs: Vec<Log>,
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

/// The result of executing a transaction, before it is placed in a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionOutcome {
    /// Whether execution succeeded.
    pub success: bool,
    /// Gas charged.
    pub gas_used: u64,
    /// Logs emitted.
    pub logs: Vec<Log>,
    /// Created contract, if any.
    pub contract_address: Option<Address>,
}
