//! Transaction validation and execution, and block building, for Strata.
//!
//! Why a crate of its own: the same rules must run in three places — mempool
//! admission, block building by the proposer, and block re-execution by every
//! other validator — and must give identical results on every node. So this crate
//! is pure: state in (through [`StateReader`]), changes and receipts out; no
//! clock, no I/O, no hash-map iteration, checked arithmetic only.

#![warn(clippy::arithmetic_side_effects)]

mod validate;

use strata_primitives::{Address, B256, Block, Bloom, Header, RecoveredTx, StoredReceipt, TransactionSigned, U256, roots};
use strata_state::{Overlay, StateChanges, StateReader};

pub use validate::{InvalidTx, validate_stateful, validate_stateless};

/// Node-side failures of execution (never the transaction's fault).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading state failed.
    #[error(transparent)]
    State(#[from] strata_state::Error),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a block executes in: fixed by the block header, the same on every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockEnv {
    /// Chain id transactions must be signed for.
    pub chain_id: u64,
    /// Block height.
    pub number: u64,
    /// Block timestamp (seconds).
    pub timestamp: u64,
    /// Proposer, who receives the fees.
    pub proposer: Address,
    /// Gas limit of the block.
    pub gas_limit: u64,
    /// Base fee per gas.
    pub base_fee: u64,
}

/// Outcome of trying to add a transaction to a block.
#[derive(Debug)]
pub enum Applied {
    /// Included, with its receipt.
    Included(StoredReceipt),
    /// Not included: the transaction is invalid against this block's state.
    Rejected(InvalidTx),
}

/// Builds (or re-executes) a block transaction by transaction.
pub struct BlockBuilder<'a, R: StateReader + ?Sized> {
    env: BlockEnv,
    state: Overlay<'a, R>,
    transactions: Vec<TransactionSigned>,
    receipts: Vec<StoredReceipt>,
    gas_used: u64,
}

impl<'a, R: StateReader + ?Sized> BlockBuilder<'a, R> {
    /// A builder on top of `state`.
    pub fn new(env: BlockEnv, state: &'a R) -> Self {
        Self { env, state: Overlay::new(state), transactions: Vec::new(), receipts: Vec::new(), gas_used: 0 }
    }

    /// Gas still available in the block.
    pub fn gas_left(&self) -> u64 {
        self.env.gas_limit.saturating_sub(self.gas_used)
    }

    /// Validates `tx` against the block so far and, if valid, executes and includes it.
    pub fn apply(&mut self, tx: &RecoveredTx) -> Result<Applied> {
        if let Err(e) = validate_stateless(&tx.tx, &self.env) {
            return Ok(Applied::Rejected(e));
        }
        if tx.tx.gas_limit() > self.gas_left() {
            return Ok(Applied::Rejected(InvalidTx::BlockGasExhausted { gas_limit: tx.tx.gas_limit(), gas_left: self.gas_left() }));
        }
        let sender = self.state.account_or_default(&tx.sender)?;
        if let Err(e) = validate_stateful(&tx.tx, &sender) {
            return Ok(Applied::Rejected(e));
        }
        let receipt = match self.execute(tx, sender)? {
            Ok(r) => r,
            Err(e) => return Ok(Applied::Rejected(e)),
        };
        self.transactions.push(tx.tx.clone());
        self.receipts.push(receipt.clone());
        Ok(Applied::Included(receipt))
    }

    /// Executes a validated transaction: a value transfer. Fees (gasUsed ×
    /// effectiveGasPrice) go to the proposer.
    fn execute(&mut self, rtx: &RecoveredTx, mut sender: strata_primitives::Account) -> Result<Result<StoredReceipt, InvalidTx>> {
        let tx = &rtx.tx;
        let Some(price) = tx.effective_gas_price(self.env.base_fee) else {
            return Ok(Err(InvalidTx::FeeCapTooLow { max_fee: tx.max_fee_per_gas(), base_fee: self.env.base_fee }));
        };
        let gas_used = tx.intrinsic_gas();
        let fee = U256::from(gas_used).checked_mul(U256::from(price));
        let total = fee.and_then(|f| f.checked_add(tx.value()));
        let (Some(fee), Some(total)) = (fee, total) else {
            return Ok(Err(InvalidTx::CostOverflow));
        };
        let Some(balance) = sender.balance.checked_sub(total) else {
            return Ok(Err(InvalidTx::InsufficientFunds { have: sender.balance, want: total }));
        };
        let Some(nonce) = sender.nonce.checked_add(1) else {
            return Ok(Err(InvalidTx::NonceMax));
        };
        sender.balance = balance;
        sender.nonce = nonce;
        self.state.set_account(rtx.sender, sender);

        let to = tx.to().expect("contract creation is refused by validate_stateless");
        self.credit(to, tx.value())?;
        self.credit(self.env.proposer, fee)?;

        // Cannot overflow: gas_used <= gas_limit <= gas_left (checked in `apply`).
        self.gas_used = self.gas_used.saturating_add(gas_used);
        Ok(Ok(StoredReceipt {
            tx_type: tx.tx_type() as u8,
            success: true,
            cumulative_gas_used: self.gas_used,
            gas_used,
            effective_gas_price: price,
            contract_address: Default::default(),
            logs: Vec::new(),
        }))
    }

    fn credit(&mut self, address: Address, amount: U256) -> Result<()> {
        let mut account = self.state.account_or_default(&address)?;
        // Total supply is fixed at genesis and far below 2^256, so this cannot overflow;
        // saturate rather than panic if a corrupted state ever claims otherwise.
        account.balance = account.balance.saturating_add(amount);
        self.state.set_account(address, account);
        Ok(())
    }

    /// Number of transactions included so far.
    pub fn len(&self) -> usize {
        self.transactions.len()
    }

    /// True when no transaction was included.
    pub fn is_empty(&self) -> bool {
        self.transactions.is_empty()
    }

    /// Finishes the block. `state_root` is computed by the caller from the
    /// returned changes (it owns the state store).
    pub fn finish(self) -> ExecutedBlock {
        let logs_bloom = self.receipts.iter().fold(Bloom::default(), |mut acc, r| {
            acc.accrue_bloom(&r.bloom());
            acc
        });
        ExecutedBlock {
            env: self.env,
            transactions_root: roots::transactions_root(&self.transactions),
            receipts_root: roots::receipts_root(&self.receipts),
            logs_bloom,
            gas_used: self.gas_used,
            transactions: self.transactions,
            receipts: self.receipts,
            changes: self.state.changes,
        }
    }
}

/// A block's transactions after execution: everything but the state root.
#[derive(Debug, Clone)]
pub struct ExecutedBlock {
    /// The environment it ran in.
    pub env: BlockEnv,
    /// Included transactions.
    pub transactions: Vec<TransactionSigned>,
    /// Their receipts.
    pub receipts: Vec<StoredReceipt>,
    /// State changes.
    pub changes: StateChanges,
    /// Ordered-trie root of the transactions.
    pub transactions_root: B256,
    /// Ordered-trie root of the receipts.
    pub receipts_root: B256,
    /// Bloom of all logs.
    pub logs_bloom: Bloom,
    /// Gas used by all transactions.
    pub gas_used: u64,
}

impl ExecutedBlock {
    /// Assembles the block, given its parent and its post-state root.
    pub fn into_block(self, parent_hash: B256, state_root: B256) -> (Block, Vec<StoredReceipt>, StateChanges) {
        let header = Header {
            chain_id: self.env.chain_id,
            parent_hash,
            number: self.env.number,
            timestamp: self.env.timestamp,
            proposer: self.env.proposer,
            state_root,
            transactions_root: self.transactions_root,
            receipts_root: self.receipts_root,
            logs_bloom: self.logs_bloom,
            gas_limit: self.env.gas_limit,
            gas_used: self.gas_used,
            base_fee_per_gas: self.env.base_fee,
            parent_commit_hash: B256::ZERO,
            liveness_root: B256::ZERO,
            extensions: Vec::new(),
        };
        (Block { header, transactions: self.transactions }, self.receipts, self.changes)
    }
}

#[cfg(test)]
mod tests;
