//! Block building: [`BlockBuilder`] applies transactions one by one on the parent
//! state — validation, the sender's reserve and refund, execution, the fee split among
//! the payees, the receipt — and [`ExecutedBlock`] is the result, everything but the
//! state root. Proposers build with it; every other validator re-executes with it.

use std::{collections::BTreeMap, sync::Arc};

use strata_primitives::{
    Account, Address, B256, Block, Bloom, Bytes, Header, RecoveredTx, StoredReceipt, TransactionSigned, U256, roots,
    slots::{LivenessRecord, Observation, Switch, VALIDATOR_SLOTS, end_of_block},
    system::payout_log,
};
use strata_state::{StateChanges, StateReader};
use strata_storage::{Column, SharedKv, WriteBatch};
use strata_vm::Vm;

use crate::{
    BlockEnv, Error, Result,
    admit::min_gas_quoted,
    fees::{self, Schedule},
    message::{TxSpec, run_tx},
    session::Session,
    slots, system,
    validate::{InvalidTx, MAX_BLOCK_BYTES, validate_stateful, validate_stateless},
};

/// Outcome of trying to add a transaction to a block.
#[derive(Debug)]
pub enum Applied {
    /// Included, with its receipt.
    Included(Box<StoredReceipt>),
    /// Not included: the transaction is invalid against this block's state.
    Rejected(InvalidTx),
}

/// Validators that receive fees, with their weights (see [`fees::split`]).
pub type Payees = Arc<[(Address, u64)]>;

/// Writes to the cold store a block makes: `puts` must be durable before the block
/// (its tombstones point at them), `deletes` are applied after it.
#[derive(Debug, Clone, Default)]
pub struct ColdWrites {
    /// Archived values.
    pub puts: WriteBatch,
    /// Restored or purged values.
    pub deletes: WriteBatch,
}

/// Builds (or re-executes) a block transaction by transaction.
pub struct BlockBuilder {
    env: BlockEnv,
    base: Arc<dyn StateReader + Send + Sync>,
    vm: Arc<Vm>,
    cold_store: SharedKv,
    payees: Payees,
    /// Who gets the rounding remainder of fee splits: the proposer, or with validator
    /// slots its slot's payee (a backup's key is not a payee).
    fee_proposer: Address,
    schedule: Schedule,
    quotes: fees::Quotes,
    block: StateChanges,
    cold: BTreeMap<Vec<u8>, Option<Bytes>>,
    transactions: Vec<TransactionSigned>,
    receipts: Vec<StoredReceipt>,
    gas_used: u64,
    /// Bytes of the transactions included so far.
    bytes: usize,
    /// The heartbeats the block carries (see [`BlockBuilder::end_block`]).
    liveness: LivenessRecord,
}

impl BlockBuilder {
    /// A builder on top of `base` (the parent block's state) and `cold_store` (the cold
    /// backup as of the parent block). Reads the fee schedule, checks the base fee
    /// against it, and purges cold copies whose retention ended.
    pub fn new(env: BlockEnv, base: Arc<dyn StateReader + Send + Sync>, vm: Arc<Vm>, cold_store: SharedKv, payees: Payees) -> Result<Self> {
        let schedule = fees::schedule(&base, &vm, env)?;
        if env.base_fee != schedule.gas_price {
            return Err(Error::BaseFee { got: env.base_fee, expected: schedule.gas_price });
        }
        let fee_proposer = slots::payee_of(slots::read(&*base)?.as_ref(), env.proposer);
        let mut block = StateChanges::default();
        let mut cold = BTreeMap::new();
        system::record_parent_hash(&*base, env, &mut block)?;
        let purged = system::purge_expired(&*base, env.timestamp, &mut block, &mut cold)?;
        if purged > 0 {
            tracing::debug!(number = env.number, purged, "purged expired cold copies");
        }
        Ok(Self {
            env,
            base,
            vm,
            cold_store,
            payees,
            fee_proposer,
            schedule,
            quotes: fees::Quotes::default(),
            block,
            cold,
            transactions: Vec::new(),
            receipts: Vec::new(),
            gas_used: 0,
            bytes: 0,
            liveness: LivenessRecord::default(),
        })
    }

    /// Runs the fee contract for every quote, even repeated ones (for benchmarks).
    pub fn without_quote_memo(mut self) -> Self {
        self.quotes = fees::Quotes::uncached();
        self
    }

    /// Gas still available in the block.
    pub fn gas_left(&self) -> u64 {
        self.env.gas_limit.saturating_sub(self.gas_used)
    }

    fn account(&self, address: &Address) -> Result<Account> {
        if let Some(a) = self.block.accounts.get(address) {
            return Ok(a.unwrap_or_default());
        }
        Ok(self.base.account(address)?.unwrap_or_default())
    }

    fn credit(&mut self, address: Address, amount: U256) -> Result<()> {
        let mut account = self.account(&address)?;
        // Total supply is fixed at genesis and far below 2^256: cannot overflow.
        account.balance = account.balance.saturating_add(amount);
        self.block.accounts.insert(address, Some(account));
        Ok(())
    }

    /// Validates `tx` against the block so far and, if valid, executes and includes it.
    /// A valid transaction is always included, even if its execution fails.
    pub fn apply(&mut self, tx: &RecoveredTx) -> Result<Applied> {
        if let Err(e) = validate_stateless(&tx.tx, &self.env) {
            return Ok(Applied::Rejected(e));
        }
        if tx.tx.gas_limit() > self.gas_left() {
            return Ok(Applied::Rejected(InvalidTx::BlockGasExhausted { gas_limit: tx.tx.gas_limit(), gas_left: self.gas_left() }));
        }
        let size = tx.tx.encoded_len();
        let left = MAX_BLOCK_BYTES.saturating_sub(self.bytes);
        if size > left {
            return Ok(Applied::Rejected(InvalidTx::BlockFull { size, left }));
        }
        let mut sender = self.account(&tx.sender)?;
        if let Err(e) = validate_stateful(&tx.tx, &sender) {
            return Ok(Applied::Rejected(e));
        }
        let price = self.env.base_fee;
        let gas_limit = tx.tx.gas_limit();
        let tx_bytes = size as u64;
        let min_gas = min_gas_quoted(&self.base, &self.vm, self.env, tx_bytes, &mut self.quotes)?;
        if gas_limit < min_gas {
            return Ok(Applied::Rejected(InvalidTx::IntrinsicGasTooLow { have: gas_limit, want: min_gas }));
        }
        // Reserve the most the transaction may cost; what is not charged is refunded below.
        let reserve = U256::from(gas_limit).saturating_mul(U256::from(price));
        sender.balance = sender.balance.checked_sub(reserve).ok_or(Error::Host("balance checked by validate_stateful".into()))?;
        sender.nonce = sender.nonce.checked_add(1).ok_or(Error::Host("nonce checked by validate_stateful".into()))?;
        self.block.accounts.insert(tx.sender, Some(sender));

        let session = Session::new(
            self.base.clone(),
            self.vm.clone(),
            self.env,
            self.cold_store.clone(),
            std::mem::take(&mut self.block),
            std::mem::take(&mut self.cold),
            tx.sender,
        );
        let spec =
            TxSpec { sender: tx.sender, kind: tx.tx.kind(), value: tx.tx.value(), input: tx.tx.input(), gas_limit, tx_bytes, min_gas };
        let (mut session, run) = run_tx(session, &spec, &self.schedule, &mut self.quotes);
        self.block = std::mem::take(&mut session.block);
        self.cold = std::mem::take(&mut session.block_cold);
        let run = run?;
        let mut logs = Vec::new();
        if let Some(layer) = run.layer {
            self.block.extend(layer.changes);
            self.cold.extend(layer.cold);
            logs = layer.logs;
        }
        let charged = run.usage.fee.charged;
        self.credit(tx.sender, reserve.saturating_sub(charged))?;
        logs.push(run.usage.log());
        for (validator, amount) in fees::split(charged, &self.payees, self.fee_proposer) {
            self.credit(validator, amount)?;
            logs.push(payout_log(&validator, amount));
        }
        let gas_used = run.result.gas_used;
        self.gas_used = self.gas_used.saturating_add(gas_used);
        let receipt = StoredReceipt {
            tx_type: tx.tx.tx_type() as u8,
            success: run.result.success,
            cumulative_gas_used: self.gas_used,
            gas_used,
            effective_gas_price: u128::from(price),
            contract_address: run.result.contract_address.map(|a| Bytes::copy_from_slice(a.as_slice())).unwrap_or_default(),
            logs,
            output: run.result.output.into(),
            failure: run.result.failure.map(|f| Bytes::from(f.into_bytes())).unwrap_or_default(),
            resources: run.usage,
        };
        self.bytes = self.bytes.saturating_add(size);
        self.transactions.push(tx.tx.clone());
        self.receipts.push(receipt.clone());
        Ok(Applied::Included(Box::new(receipt)))
    }

    /// Number of transactions included so far.
    pub fn len(&self) -> usize {
        self.transactions.len()
    }

    /// True when no transaction was included.
    pub fn is_empty(&self) -> bool {
        self.transactions.is_empty()
    }

    /// The end of a block on a chain with validator slots, after its transactions: keeps
    /// the liveness record the block carries and runs the switch rule
    /// ([`strata_primitives::slots::end_of_block`]) on the slot state with what the block
    /// observed (`seen`, from [`crate::rules::observe_liveness`]), writing the result.
    /// Returns the switches decided (each in effect two blocks later). Without slots
    /// (`seen` `None`) it only keeps the record, which must then be empty.
    pub fn end_block(&mut self, record: LivenessRecord, seen: Option<&Observation>) -> Result<Vec<Switch>> {
        self.liveness = record;
        let Some(seen) = seen else { return Ok(Vec::new()) };
        // The slot state as the block's transactions left it (a planned switch may have
        // been scheduled in this very block).
        let mut view = strata_state::Overlay::new(&*self.base);
        if let Some(written) = self.block.storage.get(&VALIDATOR_SLOTS) {
            view.changes.storage.insert(VALIDATOR_SLOTS, written.clone());
        }
        let Some(before) = slots::read(&view)? else {
            return Err(Error::Host("a liveness observation on a chain without validator slots".into()));
        };
        let mut after = before.clone();
        let switches = end_of_block(&after.params, &mut after.slots, &mut after.window, seen);
        slots::write(&after, Some(&before), &mut self.block);
        for s in &switches {
            tracing::info!(
                slot = s.slot,
                decided = s.decided,
                effective = s.effective,
                active = %s.active,
                demoted = %s.demoted,
                planned = s.planned,
                "validator slot switch"
            );
        }
        Ok(switches)
    }

    /// Finishes the block. `state_root` is computed by the caller from the
    /// returned changes (it owns the state store).
    pub fn finish(self) -> ExecutedBlock {
        let logs_bloom = self.receipts.iter().fold(Bloom::default(), |mut acc, r| {
            acc.accrue_bloom(&r.bloom());
            acc
        });
        let mut cold = ColdWrites::default();
        for (key, value) in self.cold {
            match value {
                Some(v) => cold.puts.put(Column::Cold, key, v.to_vec()),
                None => cold.deletes.delete(Column::Cold, key),
            }
        }
        ExecutedBlock {
            env: self.env,
            transactions_root: roots::transactions_root(&self.transactions),
            receipts_root: roots::receipts_root(&self.receipts),
            logs_bloom,
            gas_used: self.gas_used,
            transactions: self.transactions,
            receipts: self.receipts,
            changes: self.block,
            cold,
            liveness: self.liveness,
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
    /// Cold-store writes.
    pub cold: ColdWrites,
    /// The heartbeats the block carries.
    pub liveness: LivenessRecord,
}

impl ExecutedBlock {
    /// Assembles the block, given its parent and its post-state root.
    pub fn into_block(self, parent_hash: B256, state_root: B256) -> (Block, Vec<StoredReceipt>, StateChanges, ColdWrites) {
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
            liveness_root: self.liveness.root(),
            extensions: Vec::new(),
        };
        (Block { header, transactions: self.transactions, liveness: self.liveness }, self.receipts, self.changes, self.cold)
    }
}
