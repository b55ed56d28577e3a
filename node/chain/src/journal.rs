//! The pool journal on disk (`Column::Journal`): what a validator signed or holds as
//! certified, so that it survives kill -9 and comes back into the pool at start.
//!
//! Entries are written in **groups**: each write of the journal (one synced write for
//! every certification of the moment, see [`Chain::journal`]) is one value, a list of
//! [`Certified`] entries, under the key `max expiry ‖ sequence` (big-endian). So a
//! write costs one insert however many transactions it carries, keys arrive in
//! (nearly) ascending order, and dropping what expired at block `n` is one range
//! deletion of every key below `n + 1` ([`Chain::prune_journal`]) instead of a
//! deletion per transaction. A transaction included before its expiry stays in its
//! group until then; the reload ([`Chain::reload_journal`]) drops it, and of two
//! entries for one `(sender, nonce)` keeps the one with a certificate (a quorum's
//! promise outranks a signature of this node alone).
//!
//! Journals of earlier versions (one entry per transaction, keyed by its hash) are
//! read too and rewritten as a group at the reload.

use std::collections::BTreeMap;

use strata_primitives::{Address, B256, TransactionSigned, rlp_item::decode_exact};
use strata_storage::{Column, KvStore, WriteBatch};

use crate::{Certified, Chain, Error, Result};

/// Most bytes of entries in one journal value (a write of more is split).
const MAX_GROUP_BYTES: usize = 8 << 20;

/// The journal's groups still on disk, by expiry, and the next group's sequence.
#[derive(Debug, Default)]
pub(crate) struct JournalIndex {
    next_seq: u64,
    /// Groups written and not yet deleted, by their (greatest) expiry.
    live: BTreeMap<u64, usize>,
}

impl JournalIndex {
    /// The index of the groups in `kv` (read at open: no write may reuse a sequence).
    pub(crate) fn load(kv: &dyn KvStore) -> Result<Self> {
        let mut index = Self::default();
        kv.for_each_prefix(Column::Journal, &[], &mut |k, _| {
            if let Some((expiry, seq)) = parse_group_key(k) {
                index.note(expiry, seq);
            }
            true
        })?;
        Ok(index)
    }

    fn note(&mut self, expiry: u64, seq: u64) {
        *self.live.entry(expiry).or_default() += 1;
        self.next_seq = self.next_seq.max(seq.saturating_add(1));
    }

    /// A new group's sequence, its expiry noted.
    fn take(&mut self, expiry: u64) -> u64 {
        let seq = self.next_seq;
        self.next_seq = seq.saturating_add(1);
        *self.live.entry(expiry).or_default() += 1;
        seq
    }
}

/// A group's key: its greatest expiry, then its sequence number.
fn group_key(expiry: u64, seq: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&expiry.to_be_bytes());
    key[8..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// A group key's expiry and sequence.
fn parse_group_key(key: &[u8]) -> Option<(u64, u64)> {
    let key: &[u8; 16] = key.try_into().ok()?;
    let (expiry, seq) = key.split_at(8);
    Some((u64::from_be_bytes(expiry.try_into().ok()?), u64::from_be_bytes(seq.try_into().ok()?)))
}

/// Whether `new` should replace `old`, both held for one `(sender, nonce)`: a
/// certificate outranks a signature of this node alone; otherwise the first stays.
fn outranks(new: &Certified, old: &Certified) -> bool {
    new.confirmed() && !old.confirmed()
}

impl Chain {
    /// Writes admitted entries to the journal in one synced write (a group commit: many
    /// certifications, one fsync). Only then may their claims be signed.
    pub fn journal(&self, entries: &[Certified]) -> Result<()> {
        self.journal_with(entries, true)
    }

    /// Writes entries now held as certified (their certificates) to the journal without
    /// waiting for the disk: each survives kill -9, and the journal's next synced write
    /// (the next claim this node signs) makes it durable. If every validator lost power
    /// before that, the transaction would still come back from the journals the quorum
    /// synced before signing, but unbound (no certificate held): pooled, not enforced.
    pub fn journal_held(&self, entries: &[Certified]) -> Result<()> {
        self.journal_with(entries, false)
    }

    fn journal_with(&self, entries: &[Certified], synced: bool) -> Result<()> {
        let mut batch = WriteBatch::new();
        let mut rest = entries;
        while !rest.is_empty() {
            // At least one entry per group, then as many as fit.
            let mut bytes = 0usize;
            let n = rest
                .iter()
                .position(|e| {
                    bytes = bytes.saturating_add(e.raw.len()).saturating_add(e.certificate.len());
                    bytes > MAX_GROUP_BYTES
                })
                .unwrap_or(rest.len())
                .max(1);
            let (group, tail) = rest.split_at(n);
            rest = tail;
            let expiry = group.iter().map(|e| e.claim.expiry).max().unwrap_or(0);
            let seq = self.journal_index.lock().take(expiry);
            let mut value = Vec::new();
            alloy_rlp::encode_list(group, &mut value);
            batch.put(Column::Journal, group_key(expiry, seq).to_vec(), value);
        }
        if synced {
            // Durable before the caller signs.
            self.journal_kv.write(batch)?;
        } else {
            self.journal_kv.write_unsynced(batch)?;
        }
        for entry in entries {
            let c = &entry.claim;
            tracing::debug!(hash = %c.tx_hash, sender = %c.sender, nonce = c.nonce, expiry = c.expiry, "transaction certified as stored");
        }
        Ok(())
    }

    /// Reads the journal after a start: entries whose transaction is included, or whose
    /// expiry has passed, are dropped; the others go back into the pool (admitted again:
    /// one the chain has made invalid stays journaled, uncertifiable twice, until its
    /// expiry). Returns how many are held. Runs contracts: call it on an admission thread.
    pub fn reload_journal(&self) -> Result<usize> {
        self.move_journal()?;
        let mut entries = Vec::new();
        let mut legacy = Vec::new();
        let mut bad = None;
        self.journal_kv.for_each_prefix(Column::Journal, &[], &mut |k, v| {
            if parse_group_key(k).is_some() {
                match decode_exact::<Vec<Certified>>(v) {
                    Ok(group) => entries.extend(group),
                    Err(_) => bad = Some(format!("journal group {k:02x?}")),
                }
            } else {
                // An earlier version's entry: one transaction, keyed by its hash.
                match decode_exact::<Certified>(v) {
                    Ok(entry) if entry.claim.tx_hash.as_slice() == k => {
                        legacy.push(k.to_vec());
                        entries.push(entry);
                    }
                    _ => bad = Some(format!("journal entry {k:02x?}")),
                }
            }
            bad.is_none()
        })?;
        if let Some(reason) = bad {
            return Err(Error::Corrupt(reason));
        }
        // One entry per (sender, nonce): a certificate outranks this node's signature.
        // Expired entries go first (a group outlives its earlier expiries): an old claim
        // for a nonce must not shut out a live one.
        let head = self.head().1.number;
        let mut held: BTreeMap<(Address, u64), Certified> = BTreeMap::new();
        for entry in entries.into_iter().filter(|e| e.claim.expiry > head) {
            let key = (entry.claim.sender, entry.claim.nonce);
            match held.get(&key) {
                Some(old) if !outranks(&entry, old) => {}
                _ => {
                    held.insert(key, entry);
                }
            }
        }
        let mut kept = Vec::new();
        for (key, entry) in held {
            let hash: B256 = entry.claim.tx_hash;
            if self.store.tx_location(&hash)?.is_some() {
                continue;
            }
            if let Ok(tx) = TransactionSigned::decode_recovered(&entry.raw)
                && self.pooled(&hash).is_none()
                && let Err(e) = self.submit(tx)
            {
                tracing::warn!(%hash, error = %e, "certified transaction not admitted again after restart");
            }
            self.inner.lock().certified.insert(key, entry.clone());
            kept.push(entry);
        }
        // Expired groups go, and an earlier version's entries are rewritten as a group.
        let mut batch = WriteBatch::new();
        batch.delete_range(Column::Journal, group_key(0, 0).to_vec(), group_key(head.saturating_add(1), 0).to_vec());
        {
            let mut index = self.journal_index.lock();
            index.live = index.live.split_off(&head.saturating_add(1));
        }
        if !legacy.is_empty() {
            let old: std::collections::BTreeSet<&[u8]> = legacy.iter().map(Vec::as_slice).collect();
            let rewrite: Vec<Certified> = kept.iter().filter(|e| old.contains(e.claim.tx_hash.as_slice())).cloned().collect();
            if !rewrite.is_empty() {
                self.journal(&rewrite)?;
            }
            for key in legacy {
                batch.delete(Column::Journal, key);
            }
        }
        self.journal_kv.write(batch)?;
        if !kept.is_empty() {
            tracing::info!(held = kept.len(), "certified transactions reloaded from the journal");
        }
        Ok(kept.len())
    }

    /// With the journal in a store of its own: entries a previous run left in the
    /// chain's store move there first (written there synced, then removed here).
    fn move_journal(&self) -> Result<()> {
        if std::sync::Arc::ptr_eq(&self.kv, &self.journal_kv) {
            return Ok(());
        }
        let (mut moved, mut removed) = (WriteBatch::new(), WriteBatch::new());
        let mut count = 0usize;
        let index = &self.journal_index;
        self.kv.for_each_prefix(Column::Journal, &[], &mut |k, v| {
            // A group gets a sequence of this journal's (the two stores' may overlap);
            // an earlier version's entry keeps its key (its transaction's hash).
            let key = match parse_group_key(k) {
                Some((expiry, _)) => group_key(expiry, index.lock().take(expiry)).to_vec(),
                None => k.to_vec(),
            };
            moved.put(Column::Journal, key, v.to_vec());
            removed.delete(Column::Journal, k.to_vec());
            count = count.saturating_add(1);
            true
        })?;
        if count > 0 {
            self.journal_kv.write(moved)?;
            self.kv.write(removed)?;
            tracing::info!(entries = count, "pool journal moved to its own store");
        }
        Ok(())
    }

    /// After `block` is committed: transactions it includes, or whose expiry it
    /// reaches, are no longer held; journal groups whose expiry it reaches are deleted
    /// (one range deletion).
    pub(crate) fn prune_journal(&self, block: &strata_primitives::SealedBlock) -> Result<()> {
        let number = block.number();
        {
            let included: std::collections::BTreeSet<B256> = block.block.transactions.iter().map(|t| t.hash()).collect();
            let mut inner = self.inner.lock();
            let done: Vec<(Address, u64)> = inner
                .certified
                .iter()
                .filter(|(_, c)| c.claim.expiry <= number || included.contains(&c.claim.tx_hash))
                .map(|(k, _)| *k)
                .collect();
            for key in done {
                inner.certified.remove(&key);
            }
        }
        let expired = self.journal_index.lock().live.first_key_value().is_some_and(|(expiry, _)| *expiry <= number);
        if expired {
            let mut batch = WriteBatch::new();
            batch.delete_range(Column::Journal, group_key(0, 0).to_vec(), group_key(number.saturating_add(1), 0).to_vec());
            // Unsynced: a deletion lost to a crash is made again at the reload (the
            // groups' expiry has passed). Forgotten once written (a failed write is
            // made again at the next block).
            self.journal_kv.write_unsynced(batch)?;
            let mut index = self.journal_index.lock();
            index.live = index.live.split_off(&number.saturating_add(1));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use strata_primitives::{keccak256, storage_cert::StoredClaim};
    use strata_storage::{KvStore, MemKv, SharedKv};

    use super::*;
    use crate::{
        ChainConfig, ChainSpec,
        certified::tests::{certificate, chain, transfer},
    };

    /// The transactions of the journal in `kv`, with whether each has its certificate.
    fn journaled(kv: &dyn KvStore) -> Vec<(B256, bool)> {
        let mut out = Vec::new();
        kv.for_each_prefix(Column::Journal, &[], &mut |k, v| {
            let group = if parse_group_key(k).is_some() { decode_exact::<Vec<Certified>>(v) } else { decode_exact(v).map(|e| vec![e]) };
            out.extend(group.unwrap().iter().map(|e| (e.claim.tx_hash, e.confirmed())));
            true
        })
        .unwrap();
        out
    }

    #[test]
    fn group_keys_sort_by_expiry_then_sequence_and_parse_back() {
        let keys = [group_key(1, 9), group_key(2, 0), group_key(2, 1), group_key(256, 0)];
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(parse_group_key(&group_key(7, 3)), Some((7, 3)));
        assert_eq!(parse_group_key(&[0u8; 32]), None, "an earlier version's key (a hash)");
        assert!(group_key(5, u64::MAX) < group_key(6, 0), "the range below expiry 6 holds every group of 5");
    }

    #[test]
    fn one_write_is_one_group_and_groups_go_once_their_expiry_is_committed() {
        let kv = MemKv::shared();
        let c = chain(kv.clone());
        let entries: Vec<Certified> = (0..3).map(|n| c.admit_certified(&transfer(n, 5), 0, None).unwrap().unwrap()).collect();
        c.journal(&entries).unwrap();
        let mut groups = 0;
        kv.for_each_prefix(Column::Journal, &[], &mut |_, _| {
            groups += 1;
            true
        })
        .unwrap();
        assert_eq!((groups, journaled(&*kv).len()), (1, 3));
        // Included in block 1: no longer held, but the group stays until its expiry
        // (and a reload meanwhile drops what is included).
        c.produce_block(100).unwrap().unwrap();
        assert!(c.certified().is_empty());
        assert_eq!(journaled(&*kv).len(), 3);
        let expiry = entries[0].claim.expiry;
        for t in 1..expiry {
            c.propose(100 + t, true).unwrap().map(|b| c.commit(&b.hash, None).unwrap());
        }
        assert_eq!(c.head_number(), expiry);
        assert!(journaled(&*kv).is_empty(), "deleted at block {expiry}");
    }

    #[test]
    fn a_reload_keeps_a_certificate_over_this_node_s_own_signature_for_one_nonce() {
        let kv = MemKv::shared();
        let c = chain(kv.clone());
        // This node signed payload 6; the quorum signed payload 5 for the same nonce.
        let six = c.certify(&transfer(0, 6), 0, None).unwrap().unwrap();
        let five = StoredClaim { tx_hash: keccak256(transfer(0, 5)), ..six };
        c.confirm(&transfer(0, 5), &certificate(five)).unwrap().unwrap();
        assert_eq!(journaled(&*kv), vec![(six.tx_hash, false), (five.tx_hash, true)], "both on disk until their expiry");
        drop(c);
        let c = chain(kv);
        assert_eq!(c.reload_journal().unwrap(), 1);
        let held = c.certified();
        assert_eq!((held[0].claim.tx_hash, held[0].confirmed()), (five.tx_hash, true));
        assert!(c.pooled(&five.tx_hash).is_some() && c.pooled(&six.tx_hash).is_none());
    }

    #[test]
    fn an_expired_claim_left_in_a_live_group_does_not_shut_out_a_live_claim_for_its_nonce() {
        let kv = MemKv::shared();
        let c = chain(kv.clone());
        // A: nonce 3 (nonces 0-2 never come: never includable) certified at height 0,
        // due at 8, written in one group with a claim due at 12: the group outlives A.
        let a = c.admit_certified(&transfer(3, 5), 0, None).unwrap().unwrap();
        let mut later = c.admit_certified(&transfer(5, 5), 0, None).unwrap().unwrap();
        later.claim.expiry = 12;
        c.journal(&[a.clone(), later]).unwrap();
        for t in 0..a.claim.expiry {
            c.propose(100 + t, true).unwrap().map(|b| c.commit(&b.hash, None).unwrap());
        }
        assert!(c.certified_for(&a.claim.sender, 3).is_none(), "A let go at its expiry");
        // The same transaction certified again, now due at 16.
        let again = c.certify(&transfer(3, 5), c.head_number(), None).unwrap().unwrap();
        assert_eq!((again.tx_hash, again.expiry), (a.claim.tx_hash, 16));
        drop(c);
        let c = chain(kv);
        c.reload_journal().unwrap();
        let held: Vec<Certified> = c.certified().into_iter().filter(|e| e.claim.nonce == 3).collect();
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].claim, again, "the live claim is held, not the expired one");
    }

    #[test]
    fn an_earlier_version_s_entries_are_reloaded_and_rewritten_as_a_group() {
        let kv = MemKv::shared();
        let c = chain(kv.clone());
        let entry = c.admit_certified(&transfer(0, 5), 0, None).unwrap().unwrap();
        drop(c);
        let mut batch = WriteBatch::new();
        batch.put(Column::Journal, entry.claim.tx_hash.to_vec(), alloy_rlp::encode(&entry));
        kv.write(batch).unwrap();
        let c = chain(kv.clone());
        assert_eq!(c.reload_journal().unwrap(), 1);
        assert!(c.pooled(&entry.claim.tx_hash).is_some());
        assert_eq!(kv.get(Column::Journal, entry.claim.tx_hash.as_slice()).unwrap(), None, "the old key is gone");
        assert_eq!(journaled(&*kv), vec![(entry.claim.tx_hash, false)]);
        drop(c);
        assert_eq!(chain(kv).reload_journal().unwrap(), 1);
    }

    #[test]
    fn a_journal_of_its_own_takes_the_entries_a_previous_run_left_in_the_chains_store() {
        let (kv, journal) = (MemKv::shared(), MemKv::shared());
        let c = chain(kv.clone());
        let claim = c.certify(&transfer(0, 5), 0, None).unwrap().unwrap();
        drop(c);
        let apart = |kv: &SharedKv| {
            let config = ChainConfig { journal: Some(crate::JournalStore(journal.clone())), ..ChainConfig::default() };
            Chain::open(kv.clone(), MemKv::shared(), ChainSpec::dev(1337), crate::spec::dev_proposer(), config).unwrap()
        };
        let c = apart(&kv);
        assert_eq!(c.reload_journal().unwrap(), 1);
        assert!(c.pooled(&claim.tx_hash).is_some());
        assert!(journaled(&*kv).is_empty(), "moved out of the chain's store");
        assert_eq!(journaled(&*journal), vec![(claim.tx_hash, false)]);
        // New certifications go to the journal's store only.
        let next = c.certify(&transfer(1, 5), 0, None).unwrap().unwrap();
        assert_eq!(journaled(&*journal), vec![(claim.tx_hash, false), (next.tx_hash, false)]);
        assert!(journaled(&*kv).is_empty());
        drop(c);
        assert_eq!(apart(&kv).reload_journal().unwrap(), 2);
    }
}
