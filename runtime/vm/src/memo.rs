//! The in-memory cache of compiled contracts: least recently *used* entries leave
//! first, bounded by count and by bytes of compiled code.

use std::{collections::BTreeMap, sync::Arc};

use strata_primitives::B256;

use crate::frame::Contract;

/// An LRU map from code hash to compiled contract.
pub(crate) struct Lru {
    entries: BTreeMap<B256, (Arc<Contract>, u64)>,
    /// Use tick → code hash: the oldest first.
    order: BTreeMap<u64, B256>,
    tick: u64,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl Lru {
    pub(crate) fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self { entries: BTreeMap::new(), order: BTreeMap::new(), tick: 0, bytes: 0, max_entries: max_entries.max(1), max_bytes }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    fn next_tick(&mut self) -> u64 {
        self.tick = self.tick.wrapping_add(1);
        self.tick
    }

    /// The contract for `hash`, marking it used.
    pub(crate) fn get(&mut self, hash: &B256) -> Option<Arc<Contract>> {
        let tick = self.next_tick();
        let (contract, used) = self.entries.get_mut(hash)?;
        self.order.remove(used);
        *used = tick;
        self.order.insert(tick, *hash);
        Some(contract.clone())
    }

    /// Adds (or refreshes) `hash`, then evicts the least recently used entries until
    /// both bounds hold (the new entry stays even if it alone is over the byte bound).
    pub(crate) fn insert(&mut self, hash: B256, contract: Arc<Contract>) {
        let tick = self.next_tick();
        let size = contract.compiled_bytes;
        if let Some((old, used)) = self.entries.insert(hash, (contract, tick)) {
            self.order.remove(&used);
            self.bytes = self.bytes.saturating_sub(old.compiled_bytes);
        }
        self.order.insert(tick, hash);
        self.bytes = self.bytes.saturating_add(size);
        while self.entries.len() > 1 && (self.entries.len() > self.max_entries || self.bytes > self.max_bytes) {
            let Some((_, oldest)) = self.order.pop_first() else { break };
            if let Some((old, _)) = self.entries.remove(&oldest) {
                self.bytes = self.bytes.saturating_sub(old.compiled_bytes);
            }
        }
    }
}
