//! The transaction pool.
//!
//! Per sender, transactions are kept by nonce. Those whose nonces continue the
//! sender's account nonce without a gap are *ready*; the rest wait until the gap
//! fills. Blocks take ready transactions in arrival order (keeping each sender's
//! nonce order). The pool is bounded in total and per sender.
//!
//! **Only executable transactions stay.** A sender's pooled transactions must be
//! affordable *together*: a transaction is admitted only if the sender's balance
//! covers its maximum cost plus that of every pooled transaction of the sender with a
//! lower nonce. When the balance falls (a replacement spending more, or a block
//! moving the sender's funds), the transactions it no longer covers — from the first
//! unaffordable nonce on — are evicted, so a sender cannot park thousands of
//! transactions that will never execute and are retried at every block.

use std::collections::{BTreeMap, BinaryHeap, HashMap};

use strata_primitives::{Address, B256, RecoveredTx, U256};

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
    /// The balance does not cover this transaction together with the sender's pooled
    /// transactions before it.
    #[error(
        "insufficient funds for gas * price + value: have {have} want {want} (this transaction and {pooled} pooled before it; short by {} wei)",
        want.saturating_sub(*have)
    )]
    InsufficientFunds {
        /// The sender's balance.
        have: U256,
        /// Maximum cost of this transaction plus the pooled ones before it.
        want: U256,
        /// Pooled transactions of the sender with a lower nonce.
        pooled: usize,
    },
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
    /// Times gossiped again ([`Mempool::regossip`]), and the call from which it may be again.
    resent: u8,
    resend_at: u64,
    /// `value + gasLimit × maxFeePerGas`.
    cost: U256,
}

/// Times a pooled transaction is gossiped again at most ([`Mempool::regossip`]): with a
/// call a second, about a second, 3, 7, 15, 31 and 63 seconds after it was pooled.
pub const MAX_RESENDS: u8 = 6;

/// The transaction pool.
#[derive(Debug, Default)]
pub struct Mempool {
    config: MempoolConfig,
    by_sender: BTreeMap<Address, BTreeMap<u64, PoolTx>>,
    // Lookup only (never iterated), so hash-map order cannot leak into anything.
    by_hash: HashMap<B256, (Address, u64)>,
    next_seq: u64,
    /// Calls of [`Mempool::regossip`] so far.
    regossip_calls: u64,
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

    /// Pooled transactions to gossip again, in rounds: those that entered at or after
    /// `cursor.0` and before `cursor.1` (the pool's next sequence number at the
    /// previous call, so each has waited a call at least), in order of entry, at most
    /// `limit` of them and `max_bytes` of encoding, each ever further apart (after its
    /// k-th time, 2^k calls pass) and at most [`MAX_RESENDS`] times: one the chain
    /// cannot take — behind a nonce gap, refused by the peers — is not sent for ever,
    /// and one whose way was blocked for a while is sent again after it. The cursor
    /// moves past them, and back to the start once a call reached the end of its range.
    pub fn regossip(&mut self, cursor: &mut (u64, u64), limit: usize, max_bytes: usize) -> Vec<RecoveredTx> {
        self.regossip_calls = self.regossip_calls.saturating_add(1);
        let call = self.regossip_calls;
        let range = cursor.0..cursor.1;
        let mut due: Vec<&mut PoolTx> = self
            .by_sender
            .values_mut()
            .flat_map(|q| q.values_mut())
            .filter(|p| range.contains(&p.seq) && p.resent < MAX_RESENDS && p.resend_at <= call)
            .collect();
        due.sort_unstable_by_key(|p| p.seq);
        let (mut out, mut bytes, mut stopped) = (Vec::new(), 0usize, false);
        for p in due {
            let size = p.tx.tx.encoded_len();
            if out.len() >= limit || (!out.is_empty() && bytes.saturating_add(size) > max_bytes) {
                cursor.0 = p.seq;
                stopped = true;
                break;
            }
            bytes = bytes.saturating_add(size);
            p.resent = p.resent.saturating_add(1);
            p.resend_at = call.saturating_add(1u64 << p.resent);
            out.push(p.tx.clone());
        }
        if !stopped {
            cursor.0 = 0;
        }
        cursor.1 = self.next_seq;
        out
    }

    /// A pooled transaction by hash.
    pub fn get(&self, hash: &B256) -> Option<&RecoveredTx> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.by_sender.get(sender)?.get(nonce).map(|p| &p.tx)
    }

    /// Adds a transaction whose stateless checks already passed; `account_nonce` and
    /// `balance` are the sender's (lower nonces must be refused by the caller). Returns
    /// the hashes of the sender's transactions evicted because, after a replacement,
    /// the balance no longer covers them.
    pub fn add(&mut self, tx: RecoveredTx, account_nonce: u64, balance: U256) -> Result<Vec<B256>, PoolError> {
        let hash = tx.hash();
        let cost = tx.tx.max_cost().unwrap_or(U256::MAX);
        if self.by_hash.contains_key(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let nonce = tx.tx.nonce();
        if nonce.saturating_sub(account_nonce) > self.config.max_nonce_gap {
            return Err(PoolError::NonceGapTooLarge { expected: account_nonce, got: nonce, max_gap: self.config.max_nonce_gap });
        }
        let sender = tx.sender;
        let (before, pooled) = self.by_sender.get(&sender).map_or((U256::ZERO, 0), |q| {
            q.range(account_nonce..nonce).fold((U256::ZERO, 0), |(sum, n), (_, p)| (sum.saturating_add(p.cost), n + 1))
        });
        let want = before.saturating_add(cost);
        if want > balance {
            return Err(PoolError::InsufficientFunds { have: balance, want, pooled });
        }
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
        self.by_sender.entry(sender).or_default().insert(nonce, PoolTx { tx, seq, resent: 0, resend_at: 0, cost });
        self.next_seq = self.next_seq.saturating_add(1);
        self.by_hash.insert(hash, (sender, nonce));
        Ok(match replaced {
            Some(_) => self.evict_unaffordable(&sender, account_nonce, balance),
            None => Vec::new(),
        })
    }

    /// Brings `sender`'s transactions in line with its account: drops nonces below
    /// `account_nonce` (included) and evicts, from the first nonce `balance` no longer
    /// covers (counting the costs of all lower pooled nonces), every later one.
    /// Returns the evicted hashes (not those pruned as included).
    pub fn revalidate(&mut self, sender: &Address, account_nonce: u64, balance: U256) -> Vec<B256> {
        self.prune_sender(sender, account_nonce);
        self.evict_unaffordable(sender, account_nonce, balance)
    }

    fn evict_unaffordable(&mut self, sender: &Address, account_nonce: u64, balance: U256) -> Vec<B256> {
        let Some(queue) = self.by_sender.get_mut(sender) else { return Vec::new() };
        let mut sum = U256::ZERO;
        let mut cut = None;
        for (nonce, p) in queue.range(account_nonce..) {
            sum = sum.saturating_add(p.cost);
            if sum > balance {
                cut = Some(*nonce);
                break;
            }
        }
        let Some(cut) = cut else { return Vec::new() };
        let evicted = queue.split_off(&cut);
        let hashes: Vec<B256> = evicted.values().map(|p| p.tx.hash()).collect();
        for h in &hashes {
            self.by_hash.remove(h);
        }
        if queue.is_empty() {
            self.by_sender.remove(sender);
        }
        hashes
    }

    /// Whether `sender` has pooled transactions.
    pub fn has_sender(&self, sender: &Address) -> bool {
        self.by_sender.contains_key(sender)
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

    const RICH: U256 = U256::MAX;

    fn key(n: u8) -> LocalSigner {
        LocalSigner::from_bytes(&B256::repeat_byte(n)).unwrap()
    }

    #[test]
    fn transactions_left_pooled_are_gossiped_again_in_rounds() {
        let (a, b) = (key(1), key(2));
        let mut pool = Mempool::new(MempoolConfig::default());
        let mut cursor = (0, 0);
        let nonces = |txs: Vec<RecoveredTx>| txs.iter().map(|t| (t.sender == a.address(), t.tx.nonce())).collect::<Vec<_>>();
        for n in 0..3 {
            pool.add(tx(&a, n, 10), 0, RICH).unwrap();
            pool.add(tx(&b, n, 10), 0, RICH).unwrap();
        }
        // Nothing has waited a call yet.
        assert!(pool.regossip(&mut cursor, 4, usize::MAX).is_empty());
        pool.add(tx(&a, 3, 10), 0, RICH).unwrap();
        // In order of entry, across senders, `limit` a call; the newest waits its call.
        assert_eq!(nonces(pool.regossip(&mut cursor, 4, usize::MAX)), vec![(true, 0), (false, 0), (true, 1), (false, 1)]);
        assert_eq!(nonces(pool.regossip(&mut cursor, 4, usize::MAX)), vec![(true, 2), (false, 2), (true, 3)]);
        // The end was reached: the next call starts again from the start. Included
        // transactions are gone; each sent once waits two calls before its second time.
        pool.prune_sender(&a.address(), 2);
        assert_eq!(nonces(pool.regossip(&mut cursor, 4, usize::MAX)), vec![(false, 0), (false, 1)]);
        assert_eq!(nonces(pool.regossip(&mut cursor, 4, usize::MAX)), vec![(true, 2), (false, 2), (true, 3)]);
        // Sent twice: four calls pass before the third time.
        assert!(pool.regossip(&mut cursor, 4, usize::MAX).is_empty());
        assert!(pool.regossip(&mut cursor, 4, usize::MAX).is_empty());
        // A byte budget: at least one a call, no more than it allows.
        let one = pool.get(&tx(&b, 0, 10).hash()).unwrap().tx.encoded_len();
        assert_eq!(nonces(pool.regossip(&mut cursor, 4, one + one / 2)), vec![(false, 0)]);
        assert_eq!(nonces(pool.regossip(&mut cursor, 4, 1)), vec![(false, 1)]);
        // Each at most MAX_RESENDS times, ever further apart: then never again.
        let mut later = 0;
        for _ in 0..200 {
            later += pool.regossip(&mut cursor, 4, usize::MAX).len();
        }
        assert_eq!(later, 5 * usize::from(MAX_RESENDS) - 2 * 3 - 3 * 2, "every send left is made");
        assert!(pool.by_sender.values().flat_map(|q| q.values()).all(|p| p.resent == MAX_RESENDS));
        assert!(pool.regossip(&mut cursor, 4, usize::MAX).is_empty());
    }

    #[test]
    fn gaps_wait_until_filled() {
        let k = key(1);
        let mut pool = Mempool::new(MempoolConfig::default());
        pool.add(tx(&k, 1, 10), 0, RICH).unwrap();
        assert!(pool.ready(10, &mut |_| 0).is_empty());
        assert_eq!(pool.pending_nonce(&k.address(), 0), 0);
        pool.add(tx(&k, 0, 10), 0, RICH).unwrap();
        let ready = pool.ready(10, &mut |_| 0);
        assert_eq!(ready.iter().map(|t| t.tx.nonce()).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(pool.pending_nonce(&k.address(), 0), 2);
    }

    #[test]
    fn arrival_order_across_senders_and_pruning() {
        let (a, b) = (key(1), key(2));
        let mut pool = Mempool::new(MempoolConfig::default());
        pool.add(tx(&b, 0, 10), 0, RICH).unwrap();
        pool.add(tx(&a, 0, 10), 0, RICH).unwrap();
        pool.add(tx(&b, 1, 10), 0, RICH).unwrap();
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
        pool.add(t.clone(), 0, RICH).unwrap();
        assert_eq!(pool.add(t, 0, RICH), Err(PoolError::AlreadyKnown));
        assert_eq!(pool.add(tx(&k, 0, 105), 0, RICH), Err(PoolError::ReplacementUnderpriced));
        pool.add(tx(&k, 0, 110), 0, RICH).unwrap();
        assert_eq!(pool.len(), 1);
        assert!(matches!(pool.add(tx(&k, 9, 1), 0, RICH), Err(PoolError::NonceGapTooLarge { .. })));
        pool.add(tx(&k, 1, 1), 0, RICH).unwrap();
        assert_eq!(pool.add(tx(&k, 2, 1), 0, RICH), Err(PoolError::SenderFull(k.address())));
    }

    #[test]
    fn pooled_costs_count_together_and_unaffordable_nonces_are_evicted() {
        let k = key(1);
        let cost = |t: &RecoveredTx| t.tx.max_cost().unwrap();
        let (t0, t1, t2) = (tx(&k, 0, 100), tx(&k, 1, 100), tx(&k, 2, 100));
        let balance = cost(&t0) + cost(&t1) + cost(&t2) - U256::from(1u64);
        let mut pool = Mempool::new(MempoolConfig::default());
        pool.add(t0.clone(), 0, balance).unwrap();
        pool.add(t1.clone(), 0, balance).unwrap();
        let Err(PoolError::InsufficientFunds { pooled: 2, .. }) = pool.add(t2, 0, balance) else { panic!("the third is not covered") };
        // A replacement of nonce 0 that spends (nearly) everything evicts nonce 1.
        let drain = tx(&k, 0, 200);
        let evicted = pool.add(drain.clone(), 0, cost(&drain)).unwrap();
        assert_eq!(evicted, vec![t1.hash()]);
        assert_eq!(pool.len(), 1);
        // A block that moves the sender's funds evicts what is no longer covered.
        let mut pool = Mempool::new(MempoolConfig::default());
        pool.add(t0.clone(), 0, RICH).unwrap();
        pool.add(t1.clone(), 0, RICH).unwrap();
        assert_eq!(pool.revalidate(&k.address(), 0, cost(&t0)), vec![t1.hash()]);
        assert_eq!(pool.revalidate(&k.address(), 1, RICH), Vec::<B256>::new());
        assert!(pool.is_empty(), "nonce 0 was included");
    }
}
