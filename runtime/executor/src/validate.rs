//! Transaction validity rules, shared by the mempool and block execution.

use crate::BlockEnv;
use strata_primitives::{Account, TransactionSigned, U256};

/// Largest signed transaction (EIP-2718 bytes), in the pool and in a block.
pub const MAX_TX_SIZE: usize = 128 * 1024;

/// Most bytes of transactions in one block: far below the validator transport's
/// frame limit, so a proposal (block + parent certificate) always fits one frame.
pub const MAX_BLOCK_BYTES: usize = 8 * 1024 * 1024;

/// A deploy carries its code, its framing (10 bytes), its constructor input and the
/// envelope (signature, fees, ~120 bytes): the largest module must leave room for
/// them in the largest transaction, or it could pass validation and never be deployed.
const _: () = assert!(strata_vm::MAX_CODE_SIZE + 4 * 1024 <= MAX_TX_SIZE);

/// Why a transaction is not valid. Messages follow go-ethereum's wording where
/// one exists, so Ethereum tooling and users recognise them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTx {
    /// Signed for another chain.
    #[error("invalid chain id: transaction is for chain {got}, this chain is {expected}")]
    WrongChainId {
        /// Chain id in the transaction.
        got: u64,
        /// This chain's id.
        expected: u64,
    },
    /// Legacy transaction without EIP-155 replay protection.
    #[error("only replay-protected (EIP-155) transactions allowed")]
    ReplayUnprotected,
    /// Nonce below the account's.
    #[error("nonce too low: next nonce {expected}, tx nonce {got}")]
    NonceTooLow {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// Nonce above the account's (only inside a block; the mempool holds such transactions).
    #[error("nonce too high: next nonce {expected}, tx nonce {got}")]
    NonceTooHigh {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// The account's nonce cannot grow further.
    #[error("nonce has max value")]
    NonceMax,
    /// Balance below `value + gasLimit * maxFeePerGas`.
    #[error("insufficient funds for gas * price + value: have {have} want {want} (short by {} wei)", want.saturating_sub(*have))]
    InsufficientFunds {
        /// Balance.
        have: U256,
        /// Maximum cost of the transaction.
        want: U256,
    },
    /// `value + gas * price` does not fit in 256 bits.
    #[error("transaction cost overflows")]
    CostOverflow,
    /// Gas limit below the transaction's minimum fee (its fixed fuel and network bytes,
    /// as the fee contract prices them) over the gas price.
    #[error("intrinsic gas too low: have {have}, want {want}")]
    IntrinsicGasTooLow {
        /// Gas limit.
        have: u64,
        /// Intrinsic gas.
        want: u64,
    },
    /// Gas limit above the block's.
    #[error("exceeds block gas limit: tx gas {gas_limit}, block gas limit {block_gas_limit}")]
    GasLimitTooHigh {
        /// Transaction gas limit.
        gas_limit: u64,
        /// Block gas limit.
        block_gas_limit: u64,
    },
    /// Not enough gas left in this block (the transaction may fit in a later one).
    #[error("not enough gas left in block: tx gas {gas_limit}, left {gas_left}")]
    BlockGasExhausted {
        /// Transaction gas limit.
        gas_limit: u64,
        /// Gas left in the block.
        gas_left: u64,
    },
    /// `maxFeePerGas` (or legacy gas price) below the base fee.
    #[error("max fee per gas less than block base fee: maxFeePerGas: {max_fee}, baseFee: {base_fee}")]
    FeeCapTooLow {
        /// The transaction's fee cap.
        max_fee: u128,
        /// The block's base fee.
        base_fee: u64,
    },
    /// The signed transaction is larger than [`MAX_TX_SIZE`].
    #[error("oversized data: transaction of {size} bytes, limit {max}")]
    Oversized {
        /// Size of the signed transaction.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// The block has no room left for the transaction's bytes (it may fit in a later one).
    #[error("not enough room left in block: tx of {size} bytes, {left} bytes left")]
    BlockFull {
        /// Size of the signed transaction.
        size: usize,
        /// Bytes left in the block.
        left: usize,
    },
    /// `maxPriorityFeePerGas` above `maxFeePerGas`.
    #[error("max priority fee per gas higher than max fee per gas: tip {tip}, max fee {max_fee}")]
    TipAboveFeeCap {
        /// Priority fee.
        tip: u128,
        /// Fee cap.
        max_fee: u128,
    },
}

impl InvalidTx {
    /// True when the transaction may become valid later (the pool keeps it).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            InvalidTx::NonceTooHigh { .. }
                | InvalidTx::BlockGasExhausted { .. }
                | InvalidTx::BlockFull { .. }
                | InvalidTx::InsufficientFunds { .. }
        )
    }
}

/// Checks that need no state: size, chain id, gas and fee fields.
pub fn validate_stateless(tx: &TransactionSigned, env: &BlockEnv) -> Result<(), InvalidTx> {
    let size = tx.encoded_len();
    if size > MAX_TX_SIZE {
        return Err(InvalidTx::Oversized { size, max: MAX_TX_SIZE });
    }
    match tx.chain_id() {
        None => return Err(InvalidTx::ReplayUnprotected),
        Some(id) if id != env.chain_id => {
            return Err(InvalidTx::WrongChainId { got: id, expected: env.chain_id });
        }
        Some(_) => {}
    }
    if tx.gas_limit() > env.gas_limit {
        return Err(InvalidTx::GasLimitTooHigh { gas_limit: tx.gas_limit(), block_gas_limit: env.gas_limit });
    }
    if let Some(tip) = tx.max_priority_fee_per_gas()
        && tip > tx.max_fee_per_gas()
    {
        return Err(InvalidTx::TipAboveFeeCap { tip, max_fee: tx.max_fee_per_gas() });
    }
    if tx.max_fee_per_gas() < u128::from(env.base_fee) {
        return Err(InvalidTx::FeeCapTooLow { max_fee: tx.max_fee_per_gas(), base_fee: env.base_fee });
    }
    if tx.max_cost().is_none() {
        return Err(InvalidTx::CostOverflow);
    }
    Ok(())
}

/// Checks against the sender's account for inclusion as the next transaction:
/// exact nonce and enough balance for the maximum cost.
pub fn validate_stateful(tx: &TransactionSigned, sender: &Account) -> Result<(), InvalidTx> {
    if tx.nonce() < sender.nonce {
        return Err(InvalidTx::NonceTooLow { expected: sender.nonce, got: tx.nonce() });
    }
    if tx.nonce() > sender.nonce {
        return Err(InvalidTx::NonceTooHigh { expected: sender.nonce, got: tx.nonce() });
    }
    let want = tx.max_cost().ok_or(InvalidTx::CostOverflow)?;
    if sender.balance < want {
        return Err(InvalidTx::InsufficientFunds { have: sender.balance, want });
    }
    Ok(())
}
