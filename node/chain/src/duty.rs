//! What the chain owes certified transactions, block by block: a proposer's
//! resolutions of those due by its block that it cannot carry ([`Chain::resolve_due`],
//! the header extension every validator checks with
//! `strata_executor::rules::validate_resolutions`), and a holder's check that a
//! proposal keeps the promises it knows of ([`Chain::omitted_certified`]). Also the
//! [`Holds`] themselves, with what they reserve of the blocks before their expiry.

use std::collections::{BTreeMap, BTreeSet};

use strata_executor::ExecutedBlock;
use strata_primitives::{
    Address, B256, HeaderExtension, TransactionSigned,
    storage_cert::{AfterBlock, MAX_RESOLUTIONS, Resolution, resolutions, resolutions_extension},
};

use crate::{Certified, CertifyRefusal, Chain, Result};

/// The certified transactions a node holds (signed here, or confirmed), by sender and
/// nonce, with the gas they reserve of the blocks before their expiry.
#[derive(Debug, Default)]
pub(crate) struct Holds {
    entries: BTreeMap<(Address, u64), (Certified, u64)>,
    gas: u64,
    /// Gas held per sender.
    by_sender: BTreeMap<Address, u64>,
    /// Transactions held per expiry height.
    by_expiry: BTreeMap<u64, usize>,
}

impl Holds {
    pub(crate) fn get(&self, key: &(Address, u64)) -> Option<&Certified> {
        self.entries.get(key).map(|(c, _)| c)
    }

    /// Holds `entry` for `key` (replacing what was held for it; the same transaction
    /// again — now with its certificate — is not decoded again for its gas).
    pub(crate) fn insert(&mut self, key: (Address, u64), entry: Certified) {
        let same = self.entries.get(&key).filter(|(held, _)| held.claim.tx_hash == entry.claim.tx_hash).map(|(_, gas)| *gas);
        self.remove(&key);
        let gas = same.unwrap_or_else(|| TransactionSigned::decode(&entry.raw).map_or(0, |tx| tx.gas_limit()));
        self.gas = self.gas.saturating_add(gas);
        *self.by_sender.entry(key.0).or_default() += gas;
        *self.by_expiry.entry(entry.claim.expiry).or_default() += 1;
        self.entries.insert(key, (entry, gas));
    }

    pub(crate) fn remove(&mut self, key: &(Address, u64)) -> Option<Certified> {
        let (entry, gas) = self.entries.remove(key)?;
        self.gas = self.gas.saturating_sub(gas);
        if let Some(held) = self.by_sender.get_mut(&key.0) {
            *held = held.saturating_sub(gas);
            if *held == 0 {
                self.by_sender.remove(&key.0);
            }
        }
        if let Some(n) = self.by_expiry.get_mut(&entry.claim.expiry) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.by_expiry.remove(&entry.claim.expiry);
            }
        }
        Some(entry)
    }

    /// Why one more transaction of `sender` with `gas`, due at `expiry`, would hold more
    /// than certification may reserve, if it would (`blocks` until the expiry, each of
    /// `gas_limit`): half the gas and transactions of those blocks; no sender more than
    /// one block's gas (a few unincludable transactions must not shut certification
    /// out for everyone); no expiry more transactions than its block can resolve.
    pub(crate) fn over_capacity(&self, sender: &Address, gas: u64, expiry: u64, blocks: u64, gas_limit: u64) -> Option<CertifyRefusal> {
        let (max_gas, max_txs) = (blocks.saturating_mul(gas_limit) / 2, blocks.saturating_mul(crate::blocks::MAX_BLOCK_TXS as u64) / 2);
        let full = self.gas.saturating_add(gas) > max_gas
            || self.entries.len() as u64 >= max_txs
            || self.by_sender.get(sender).copied().unwrap_or(0).saturating_add(gas) > gas_limit
            || self.by_expiry.get(&expiry).copied().unwrap_or(0) >= MAX_RESOLUTIONS;
        full.then_some(CertifyRefusal::Capacity { held: self.entries.len(), gas: self.gas, blocks, max_gas, max_txs })
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Certified> {
        self.entries.values().map(|(c, _)| c)
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &(Address, u64)> {
        self.entries.keys()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&(Address, u64), &Certified)> {
        self.entries.iter().map(|(k, (c, _))| (k, c))
    }
}

impl Chain {
    /// The resolutions a block this node proposes (`executed`, its transactions `keys`)
    /// carries: every transaction held here — certified, or signed by this node — due
    /// by its height, not in it, for which a reason holds in the state after it
    /// ([`Resolution::decide`]). An includable one left out gets none (validators
    /// holding its certificate refuse such a block).
    pub(crate) fn resolve_due(&self, executed: &ExecutedBlock, keys: &[(Address, u64, B256)]) -> Result<Option<HeaderExtension>> {
        let number = executed.env.number;
        let included: BTreeSet<B256> = keys.iter().map(|(_, _, hash)| *hash).collect();
        let due: Vec<Certified> = self
            .inner
            .lock()
            .certified
            .values()
            .filter(|c| c.claim.expiry <= number && !included.contains(&c.claim.tx_hash))
            .cloned()
            .collect();
        let gas_left = executed.env.gas_limit.saturating_sub(executed.gas_used);
        let mut list = Vec::new();
        for c in due {
            let Some(facts) = TransactionSigned::decode(&c.raw).ok().and_then(|tx| tx.resolution_facts()) else { continue };
            let account = self.account_after(executed, &c.claim.sender)?;
            let after = AfterBlock { nonce: account.nonce, balance: account.balance, base_fee: executed.env.base_fee, gas_left };
            if let Some(r) = Resolution::decide(c.claim.tx_hash, c.claim.sender, &facts, &after) {
                tracing::info!(
                    tx = %r.tx_hash,
                    block = number,
                    reason = r.reason().map_or("?", |u| u.describe()),
                    "certified transaction resolved without inclusion"
                );
                list.push(r);
            }
        }
        Ok(resolutions_extension(list))
    }

    /// Why the executed block `hash` (a proposal for the next height) breaks a promise of
    /// a certified transaction this node holds with its certificate (a signature of its
    /// own binds nothing: without a quorum, two validators may hold two payloads of one
    /// nonce, and enforcing both would split them), if it does: it carries another payload
    /// for a certified nonce; it misstates a held transaction's figures in its
    /// resolutions; or it leaves out a certified transaction due by its height that it
    /// could have carried (valid after the block, with room left). One the chain made
    /// invalid and the block does not resolve is logged, not refused: a proposer that
    /// never received the transaction cannot state its figures.
    /// `None` also for a block not executed here.
    pub fn omitted_certified(&self, hash: &B256) -> Option<String> {
        let inner = self.inner.lock();
        let pending = inner.pending.get(hash)?;
        let header = pending.block.header();
        for (sender, nonce, tx) in &pending.keys {
            if let Some(c) = inner.certified.get(&(*sender, *nonce))
                && c.confirmed()
                && c.claim.tx_hash != *tx
            {
                return Some(format!("it carries {tx}, another payload for nonce {nonce} of {sender}, certified as {}", c.claim.tx_hash));
            }
        }
        // Validated already: well formed, and every reason holds after the block.
        let record = resolutions(header).unwrap_or_default();
        // By hash: an entry naming a held transaction with another sender or nonce must
        // be caught too. (Most blocks carry no record: no index then.)
        let held: BTreeMap<B256, &Certified> =
            if record.is_empty() { BTreeMap::new() } else { inner.certified.values().map(|c| (c.claim.tx_hash, c)).collect() };
        for r in &record {
            let Some(c) = held.get(&r.tx_hash) else { continue };
            let facts = TransactionSigned::decode(&c.raw).ok().and_then(|tx| tx.resolution_facts());
            if !facts.is_some_and(|f| r.matches(&c.claim.sender, &f)) {
                return Some(format!("it misstates certified transaction {} in its resolutions: {r:?}", r.tx_hash));
            }
        }
        let resolved: BTreeSet<B256> = record.iter().map(|r| r.tx_hash).collect();
        let included: BTreeSet<B256> = pending.keys.iter().map(|(_, _, h)| *h).collect();
        let gas_left = header.gas_limit.saturating_sub(header.gas_used);
        let owed = |c: &&Certified| {
            c.confirmed() && c.claim.expiry <= header.number && !included.contains(&c.claim.tx_hash) && !resolved.contains(&c.claim.tx_hash)
        };
        inner.certified.values().filter(owed).find_map(|c| {
            let account = pending.due_accounts.get(&c.claim.sender)?;
            let facts = TransactionSigned::decode(&c.raw).ok()?.resolution_facts()?;
            let after = AfterBlock { nonce: account.nonce, balance: account.balance, base_fee: header.base_fee_per_gas, gas_left };
            match Resolution::decide(c.claim.tx_hash, c.claim.sender, &facts, &after).and_then(|r| r.reason()) {
                None if pending.keys.len() >= crate::blocks::MAX_BLOCK_TXS => None,
                None => Some(format!("it leaves out certified transaction {}, due by block {}, which it could carry", c.claim.tx_hash, c.claim.expiry)),
                // Only a proposer holding the transaction can state the figures; one that
                // never received it is not refused for it (only a holder could be blamed).
                Some(reason) => {
                    tracing::warn!(tx = %c.claim.tx_hash, block = header.number, reason = reason.describe(), "a certified transaction the chain made invalid is not resolved in the block due for it");
                    None
                }
            }
        })
    }
}
