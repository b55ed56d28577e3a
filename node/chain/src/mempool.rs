//! The transaction pool.
//!
//! Per sender, transactions are kept by nonce. Those whose nonces continue the
//! sender's account nonce without a gap are *ready*; the rest wait until the gap
//! fills. Blocks take ready transactions in arrival order (keeping each sender's
//! nonce order). The pool is bounded in total and per sender.

use std::collections::{BTreeMap, BinaryHeap, HashMap};

use strata_primitives::{Address, B256, RecoveredTx};

/// Limits of the pool.
#[derive(Debug, Clone, Copy)]
pub struct MempoolConfig {
    /// Maximum transactions in the pool.
    pub max_txs: usize,
    /// Maximum transactions of one sender.
    pub max_per_sender: usize,
    /// Maximum nonce distance ahead of the account nonce that is accepted.
    pub max_nonce_gap: u64,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        Self { max_txs: 20_000, max_per_sender: 1_000, max_nonce_gap: 1_000 }
    }
}

/// Why the pool refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// The very same transaction is already pooled.
    #[error("already known")]
    AlreadyKnown,
    /// Same sender and nonce as a pooled transaction, without a 10% higher fee.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// The pool is full.
    #[error("txpool is full")]
    Full,
    /// The sender has too many pooled transactions.
    #[error("too many pending transactions from {0}")]
    SenderFull(Address),
    /// The nonce is too far ahead of the account nonce.
    #[error("nonce too high: next nonce {expected}, tx nonce {got} (at most {max_gap} ahead are pooled)")]
    NonceGapTooLarge {
        /// Account nonce.
        expected: u64,
        /// Transaction nonce.
        got: u64,
        /// Allowed distance.
        max_gap: u64,
    },
}

#[derive(Debug, Clone)]
struct PoolTx {
    tx: RecoveredTx,
    seq: u64,
}

/// The transaction pool.
#[derive(Debug, Default)]
pub struct Mempool {
    config: MempoolConfig,
    by_sender: BTreeMap<Address, BTreeMap<u64, PoolTx>>,
    // Lookup only (never iterated), so hash-map order cannot leak into anything.
    by_hash: HashMap<B256, (Address, u64)>,
    next_seq: u64,
}

impl Mempool {
    /// An empty pool.
    pub fn new(config: MempoolConfig) -> Self {
        Self { config, ..Default::default() }
    }

    /// Number of pooled transactions.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// A pooled transaction by hash.
    pub fn get(&self, hash: &B256) -> Option<&RecoveredTx> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.by_sender.get(sender)?.get(nonce).map(|p| &p.tx)
    }

    /// Adds a transaction whose stateless and balance checks already passed;
    /// `account_nonce` is the sender's current nonce (lower nonces must be refused by the caller).
    pub fn add(&mut self, tx: RecoveredTx, account_nonce: u64) -> Result<(), PoolError> {
        let hash = tx.hash();
        if self.by_hash.contains_key(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let nonce = tx.tx.nonce();
        if nonce.saturating_sub(account_nonce) > self.config.max_nonce_gap {
            return Err(PoolError::NonceGapTooLarge { expected: account_nonce, got: nonce, max_gap: self.config.max_nonce_gap });
        }
        let sender = tx.sender;
        let seq = self.next_seq;
        let replaced = match self.by_sender.get(&sender).and_then(|q| q.get(&nonce)) {
            Some(old) => {
                // Replace only for a fee at least 10% higher, like go-ethereum.
                let old_fee = old.tx.tx.max_fee_per_gas();
                let min = old_fee.saturating_add(old_fee / 10).max(old_fee.saturating_add(1));
                if tx.tx.max_fee_per_gas() < min {
                    return Err(PoolError::ReplacementUnderpriced);
                }
                Some(old.tx.hash())
            }
            None => {
                if self.by_hash.len() >= self.config.max_txs {
                    return Err(PoolError::Full);
                }
                if self.by_sender.get(&sender).map_or(0, BTreeMap::len) >= self.config.max_per_sender {
                    return Err(PoolError::SenderFull(sender));
                }
                None
            }
        };
        if let Some(old_hash) = replaced {
            self.by_hash.remove(&old_hash);
        }
        self.by_sender.entry(sender).or_default().insert(nonce, PoolTx { tx, seq });
        self.next_seq = self.next_seq.saturating_add(1);
        self.by_hash.insert(hash, (sender, nonce));
        Ok(())
    }

    /// The highest nonce that continues `account_nonce` without a gap, plus one:
    /// the "pending" nonce of the sender.
    pub fn pending_nonce(&self, sender: &Address, account_nonce: u64) -> u64 {
        let mut next = account_nonce;
        if let Some(queue) = self.by_sender.get(sender) {
            while queue.contains_key(&next) {
                next = next.saturating_add(1);
            }
        }
        next
    }

    /// Senders with pooled transactions, in address order.
    pub fn senders(&self) -> Vec<Address> {
        self.by_sender.keys().copied().collect()
    }

    /// Ready transactions in arrival order, each sender's in nonce order, at most `limit`.
    pub fn ready(&self, limit: usize, account_nonce: &mut dyn FnMut(&Address) -> u64) -> Vec<RecoveredTx> {
        // Heap of (earliest seq first) heads of each sender's ready run.
        let mut heap = BinaryHeap::new();
        for (sender, queue) in &self.by_sender {
            let nonce = account_nonce(sender);
            if let Some(p) = queue.get(&nonce) {
                heap.push(std::cmp::Reverse((p.seq, *sender, nonce)));
            }
        }
        let mut out = Vec::new();
        while let Some(std::cmp::Reverse((_, sender, nonce))) = heap.pop() {
            if out.len() >= limit {
                break;
            }
            let queue = &self.by_sender[&sender];
            out.push(queue[&nonce].tx.clone());
            let next = nonce.saturating_add(1);
            if let Some(p) = queue.get(&next) {
                heap.push(std::cmp::Reverse((p.seq, sender, next)));
            }
        }
        out
    }

    /// Removes a transaction (included, or found invalid).
    pub fn remove(&mut self, hash: &B256) {
        if let Some((sender, nonce)) = self.by_hash.remove(hash)
            && let Some(queue) = self.by_sender.get_mut(&sender)
        {
            queue.remove(&nonce);
            if queue.is_empty() {
                self.by_sender.remove(&sender);
            }
        }
    }

    /// Drops every transaction of `sender` with a nonce below `account_nonce`.
    pub fn prune_sender(&mut self, sender: &Address, account_nonce: u64) {
        let Some(queue) = self.by_sender.get_mut(sender) else {
            return;
        };
        let keep = queue.split_off(&account_nonce);
        for p in queue.values() {
            self.by_hash.remove(&p.tx.hash());
        }
        if keep.is_empty() {
            self.by_sender.remove(sender);
        } else {
            *queue = keep;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_primitives::{Bytes, LocalSigner, TxKind, U256, transaction::build};

    fn tx(key: &LocalSigner, nonce: u64, fee: u128) -> RecoveredTx {
        let t = build::eip1559(1, nonce, TxKind::Call(Address::ZERO), U256::ZERO, Bytes::new(), 21_000, fee, 0);
        RecoveredTx { tx: key.sign_transaction(t).unwrap(), sender: key.address() }
    }

    fn key(n: u8) -> LocalSigner {
        LocalSigner::from_bytes(&B256::repeat_byte(n)).unwrap()
    }

    #[test]
    fn gaps_wait_until_filled() {
        let k = key(1);
        let mut pool = Mempool::new(MempoolConfig::default());
        pool.add(tx(&k, 1, 10), 0).unwrap();
        assert!(pool.ready(10, &mut |_| 0).is_empty());
        assert_eq!(pool.pending_nonce(&k.address(), 0), 0);
        pool.add(tx(&k, 0, 10), 0).unwrap();
        let ready = pool.ready(10, &mut |_| 0);
        assert_eq!(ready.iter().map(|t| t.tx.nonce()).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(pool.pending_nonce(&k.address(), 0), 2);
    }

    #[test]
    fn arrival_order_across_senders_and_pruning() {
        let (a, b) = (key(1), key(2));
        let mut pool = Mempool::new(MempoolConfig::default());
        pool.add(tx(&b, 0, 10), 0).unwrap();
        pool.add(tx(&a, 0, 10), 0).unwrap();
        pool.add(tx(&b, 1, 10), 0).unwrap();
        let order: Vec<_> = pool.ready(10, &mut |_| 0).iter().map(|t| (t.sender, t.tx.nonce())).collect();
        assert_eq!(order, vec![(b.address(), 0), (a.address(), 0), (b.address(), 1)]);
        pool.prune_sender(&b.address(), 2);
        assert_eq!(pool.len(), 1);
    }

    #[test]
    fn duplicates_replacements_and_limits() {
        let k = key(1);
        let mut pool = Mempool::new(MempoolConfig { max_txs: 3, max_per_sender: 2, max_nonce_gap: 5 });
        let t = tx(&k, 0, 100);
        pool.add(t.clone(), 0).unwrap();
        assert_eq!(pool.add(t, 0), Err(PoolError::AlreadyKnown));
        assert_eq!(pool.add(tx(&k, 0, 105), 0), Err(PoolError::ReplacementUnderpriced));
        pool.add(tx(&k, 0, 110), 0).unwrap();
        assert_eq!(pool.len(), 1);
        assert!(matches!(pool.add(tx(&k, 9, 1), 0), Err(PoolError::NonceGapTooLarge { .. })));
        pool.add(tx(&k, 1, 1), 0).unwrap();
        assert_eq!(pool.add(tx(&k, 2, 1), 0), Err(PoolError::SenderFull(k.address())));
    }
}
