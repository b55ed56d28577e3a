//! One transaction's state: call frames as change layers over the block's state
//! ([`Layer`], [`Session`]), and what reading it may refuse (an archived key).
//!
//! The frames themselves, and the [`strata_vm::Host`] the engine calls back into, are
//! in `frame.rs`; a frame's layer is pushed, merged or dropped here.

use std::{collections::BTreeMap, sync::Arc, time::Instant};

use strata_primitives::{Account, Address, B256, Bytes, KECCAK_EMPTY, Log, Slot, Tombstone, U256, hex, system::ARCHIVE_CONTRACT};
use strata_state::{StateChanges, StateReader};
use strata_storage::SharedKv;
use strata_vm::{CachePolicy, CallContext, Contract, HostError, Vm};

use crate::BlockEnv;

/// Changes, logs and storage-market effects of one frame: all kept or all dropped.
#[derive(Debug, Default)]
pub(crate) struct Layer {
    pub(crate) changes: StateChanges,
    pub(crate) logs: Vec<Log>,
    /// Values to write to the cold store (`None` deletes), by cold key.
    pub(crate) cold: BTreeMap<Vec<u8>, Option<Bytes>>,
    /// Hot storage bought (quota raised), bytes.
    pub(crate) storage_paid: u64,
    /// Cold retention bought, byte-seconds.
    pub(crate) cold_byte_seconds: u64,
}

impl Layer {
    /// Merges a later layer into this one.
    pub(crate) fn absorb(&mut self, later: Layer) {
        self.changes.extend(later.changes);
        self.logs.extend(later.logs);
        self.cold.extend(later.cold);
        self.storage_paid = self.storage_paid.saturating_add(later.storage_paid);
        self.cold_byte_seconds = self.cold_byte_seconds.saturating_add(later.cold_byte_seconds);
    }
}

/// The state a transaction runs on: frame layers (newest last) over the changes of
/// earlier transactions of the block over the base state.
pub(crate) struct Session {
    pub(crate) base: Arc<dyn StateReader + Send + Sync>,
    pub(crate) block: StateChanges,
    /// Cold-store writes of earlier transactions of the block.
    pub(crate) block_cold: BTreeMap<Vec<u8>, Option<Bytes>>,
    /// The cold store as of the parent block.
    pub(crate) cold: SharedKv,
    pub(crate) layers: Vec<Layer>,
    pub(crate) vm: Arc<Vm>,
    pub(crate) env: BlockEnv,
    pub(crate) origin: Address,
    /// Contracts currently executing (for the re-entrancy rule).
    pub(crate) stack: Vec<Address>,
    /// Whether code compiled here may be cached: [`CachePolicy::Transient`] in RPC
    /// simulations, for code that is not on chain.
    pub(crate) policy: CachePolicy,
    /// Wall-clock deadline (RPC simulations only).
    pub(crate) deadline: Option<Instant>,
}

/// A node-side failure (storage, missing code) as the host reports it.
pub(crate) fn node(e: impl std::fmt::Display) -> HostError {
    HostError::Node(e.to_string())
}

/// An engine failure as the host reports it to the frame above (keeping a deadline
/// interruption distinguishable from other node failures).
pub(crate) fn vm_error(e: strata_vm::Error) -> HostError {
    match e {
        strata_vm::Error::Interrupted => HostError::Interrupted,
        other => HostError::Node(other.to_string()),
    }
}

impl Session {
    /// A session over `base` with the block's earlier changes `block` (and their cold
    /// writes), one empty layer for the message, for a transaction sent by `origin`.
    pub(crate) fn new(
        base: Arc<dyn StateReader + Send + Sync>,
        vm: Arc<Vm>,
        env: BlockEnv,
        cold: SharedKv,
        block: StateChanges,
        block_cold: BTreeMap<Vec<u8>, Option<Bytes>>,
        origin: Address,
    ) -> Box<Self> {
        Box::new(Self {
            base,
            block,
            block_cold,
            cold,
            layers: vec![Layer::default()],
            vm,
            env,
            origin,
            stack: Vec::new(),
            policy: CachePolicy::Keep,
            deadline: None,
        })
    }

    /// The account at `address` (empty if absent).
    pub(crate) fn account(&self, address: &Address) -> Result<Account, HostError> {
        for layer in self.layers.iter().rev() {
            if let Some(a) = layer.changes.accounts.get(address) {
                return Ok(a.unwrap_or_default());
            }
        }
        if let Some(a) = self.block.accounts.get(address) {
            return Ok(a.unwrap_or_default());
        }
        Ok(self.base.account(address).map_err(node)?.unwrap_or_default())
    }

    /// The slot `key` of `address`'s storage, as of before this transaction.
    pub(crate) fn slot_before_tx(&self, address: &Address, key: &[u8]) -> Result<Option<Slot>, HostError> {
        if let Some(v) = self.block.storage.get(address).and_then(|s| s.get(key)) {
            return Ok(strata_state::live(v.as_ref()));
        }
        self.base.slot(address, key).map_err(node)
    }

    /// The slot `key` of `address`'s storage, as the running frame sees it.
    pub(crate) fn slot(&self, address: &Address, key: &[u8]) -> Result<Option<Slot>, HostError> {
        for layer in self.layers.iter().rev() {
            if let Some(v) = layer.changes.storage.get(address).and_then(|s| s.get(key)) {
                return Ok(strata_state::live(v.as_ref()));
            }
        }
        self.slot_before_tx(address, key)
    }

    /// The live value of `key`; reading an archived key is refused, naming the key
    /// and how to bring it back.
    pub(crate) fn storage(&self, address: &Address, key: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        match self.slot(address, key)? {
            None => Ok(None),
            Some(Slot::Value(v)) => Ok(Some(v.to_vec())),
            Some(Slot::Tombstone(t)) => Err(archived_error(address, key, &t)),
        }
    }

    /// Slots of `address` starting with `prefix`, after `start_after`, as the frame sees them.
    pub(crate) fn storage_scan(
        &self,
        address: &Address,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Bytes, Slot)>, HostError> {
        let mut pending: BTreeMap<Bytes, Option<Slot>> = BTreeMap::new();
        for changes in std::iter::once(&self.block).chain(self.layers.iter().map(|l| &l.changes)) {
            if let Some(slots) = changes.storage.get(address) {
                pending.extend(slots.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        let base = self.base.storage_scan(address, prefix, start_after, limit.saturating_add(pending.len())).map_err(node)?;
        Ok(strata_state::merge_scan(base, &pending, prefix, start_after, limit))
    }

    /// A cold-store value: pending writes of this transaction and block first.
    pub(crate) fn cold_value(&self, key: &[u8]) -> Result<Option<Bytes>, HostError> {
        for layer in self.layers.iter().rev() {
            if let Some(v) = layer.cold.get(key) {
                return Ok(v.clone());
            }
        }
        if let Some(v) = self.block_cold.get(key) {
            return Ok(v.clone());
        }
        Ok(self.cold.get(strata_storage::Column::Cold, key).map_err(node)?.map(Bytes::from))
    }

    pub(crate) fn code(&self, hash: &B256) -> Result<Option<Bytes>, HostError> {
        for layer in self.layers.iter().rev() {
            if let Some(c) = layer.changes.code.get(hash) {
                return Ok(Some(c.clone()));
            }
        }
        if let Some(c) = self.block.code.get(hash) {
            return Ok(Some(c.clone()));
        }
        self.base.code(hash).map_err(node)
    }

    pub(crate) fn top(&mut self) -> &mut Layer {
        self.layers.last_mut().expect("a transaction always has its own layer")
    }

    pub(crate) fn set_account(&mut self, address: Address, account: Account) {
        self.top().changes.accounts.insert(address, Some(account));
    }

    pub(crate) fn set_slot(&mut self, address: Address, key: &[u8], slot: Option<Slot>) {
        self.top().changes.storage.entry(address).or_default().insert(Bytes::copy_from_slice(key), slot);
    }

    pub(crate) fn push(&mut self) {
        self.layers.push(Layer::default());
    }

    /// Merges the newest layer into the one below.
    pub(crate) fn commit_top(&mut self) {
        let layer = self.layers.pop().expect("layer to commit");
        self.top().absorb(layer);
    }

    pub(crate) fn revert_top(&mut self) {
        self.layers.pop().expect("layer to revert");
    }

    /// Moves `value` from `from` to `to` in the newest layer; false if `from` lacks it.
    pub(crate) fn transfer(&mut self, from: Address, to: Address, value: U256) -> Result<bool, HostError> {
        if value.is_zero() {
            return Ok(true);
        }
        let mut a = self.account(&from)?;
        let Some(rest) = a.balance.checked_sub(value) else { return Ok(false) };
        a.balance = rest;
        self.set_account(from, a);
        let mut b = self.account(&to)?;
        // Total supply is fixed far below 2^256: cannot overflow.
        b.balance = b.balance.saturating_add(value);
        self.set_account(to, b);
        Ok(true)
    }

    /// The runnable contract at `address`, if it has code.
    pub(crate) fn contract_at(&self, address: &Address) -> Result<Option<Arc<Contract>>, HostError> {
        let account = self.account(address)?;
        if account.code_hash == KECCAK_EMPTY {
            return Ok(None);
        }
        // Code is immutable and content-addressed: a compiled copy is as good as the bytes.
        if let Some(c) = self.vm.cached(&account.code_hash) {
            return Ok(Some(c));
        }
        let code = self.code(&account.code_hash)?.ok_or_else(|| node(format!("code {} of {address} missing", account.code_hash)))?;
        // A simulation may call code it deployed itself: compile that for this run only.
        let policy = match self.policy {
            CachePolicy::Transient if self.base.code(&account.code_hash).map_err(node)?.is_none() => CachePolicy::Transient,
            _ => CachePolicy::Keep,
        };
        self.vm.load_with(account.code_hash, &code, policy).map(Some).map_err(vm_error)
    }

    pub(crate) fn context(&self, address: Address, caller: Address, value: U256, is_static: bool, depth: u32) -> CallContext {
        CallContext {
            address,
            caller,
            origin: self.origin,
            value,
            block_number: self.env.number,
            timestamp: self.env.timestamp,
            chain_id: self.env.chain_id,
            is_static,
            depth,
        }
    }
}

/// The failure of a frame that touches an archived key: names the key and the way back.
pub(crate) fn archived_error(address: &Address, key: &[u8], t: &Tombstone) -> HostError {
    let key = hex::encode(key);
    let how = if t.purged {
        format!(
            "its cold copy was purged at retention end {}: restore it with restoreWithData({address}, [0x{key}], [<the original bytes>])",
            t.retention_end
        )
    } else {
        format!("restore it with restore({address}, [0x{key}])")
    };
    HostError::Refused(format!(
        "storage key 0x{key} of {address} is archived ({} bytes, value hash {}); {how} on the archive contract {ARCHIVE_CONTRACT}",
        t.size, t.value_hash
    ))
}

/// A cold store with nothing in it, for reads outside block execution.
pub(crate) fn no_cold() -> SharedKv {
    strata_storage::MemKv::shared()
}
