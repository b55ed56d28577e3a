//! Admission of transactions into the pool: [`Chain::submit_raw`] and
//! [`Chain::submit`], where a transaction comes from ([`TxOrigin`]), why one is refused
//! ([`SubmitError`]), the fee contract's quotes memoised per head, and the queries on
//! pooled transactions.

use parking_lot::Mutex;
use strata_executor::{InvalidTx, admit, fees::Quotes};
use strata_primitives::{Address, B256, RecoveredTx, TransactionSigned};

use crate::{Chain, Error, PoolError, Result};

pub use strata_executor::MAX_TX_SIZE;

/// Where a submitted transaction comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxOrigin {
    /// This node's RPC clients: pooled transactions are gossiped to the other validators.
    Local,
    /// Another validator's gossip: pooled, gossiped again only if it stays pooled
    /// ([`Chain::regossip`]).
    Peer,
}

/// Why a submitted transaction was refused. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The bytes are not a transaction Strata accepts, or the signature is bad.
    #[error("invalid transaction: {0}")]
    Decode(#[from] strata_primitives::Error),
    /// The raw transaction is too large.
    #[error("oversized data: transaction of {size} bytes, limit {max}")]
    Oversized {
        /// Size received.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// The transaction breaks a validity rule.
    #[error("{0}")]
    Invalid(#[from] InvalidTx),
    /// The pool refused it.
    #[error("{0}")]
    Pool(#[from] PoolError),
    /// Its sender and nonce belong to another transaction this node certified as stored.
    #[error("nonce {nonce} of {sender} is certified for another transaction ({certified}): it cannot be replaced")]
    Certified {
        /// Sender.
        sender: Address,
        /// Nonce.
        nonce: u64,
        /// The certified transaction.
        certified: B256,
    },
    /// The node failed (not the transaction's fault).
    #[error("internal error: {0}")]
    Node(#[from] Error),
}

impl From<strata_state::Error> for SubmitError {
    fn from(e: strata_state::Error) -> Self {
        Self::Node(e.into())
    }
}

impl From<strata_executor::Error> for SubmitError {
    fn from(e: strata_executor::Error) -> Self {
        Self::Node(e.into())
    }
}

/// The fee contract's quotes on the head with this hash, kept for the admissions on
/// that head (a new head starts an empty memo).
#[derive(Default)]
pub(crate) struct QuoteMemo(Mutex<(B256, Quotes)>);

impl QuoteMemo {
    /// Runs `f` on the memo of head `head`, holding it locked meanwhile.
    fn on_head<R>(&self, head: B256, f: impl FnOnce(&mut Quotes) -> R) -> R {
        let mut memo = self.0.lock();
        if memo.0 != head {
            *memo = (head, Quotes::default());
        }
        f(&mut memo.1)
    }
}

impl Chain {
    /// Validates a raw transaction (`eth_sendRawTransaction` bytes, or a peer's gossip)
    /// and pools it. Clients' transactions are then gossiped to the other validators.
    /// Runs contracts (the fee quote): call it on an
    /// [`ExecPools::admission`](crate::ExecPools::admission) thread.
    pub fn submit_raw(&self, raw: &[u8], origin: TxOrigin) -> Result<B256, SubmitError> {
        if raw.len() > MAX_TX_SIZE {
            return Err(SubmitError::Oversized { size: raw.len(), max: MAX_TX_SIZE });
        }
        let tx = TransactionSigned::decode_recovered(raw)?;
        let hash = self.submit(tx)?;
        if origin == TxOrigin::Local {
            let _ = self.local_txs.send(strata_primitives::Bytes::copy_from_slice(raw));
        }
        Ok(hash)
    }

    /// Validates a decoded transaction and pools it. Refused: wrong chain or fees,
    /// a gas limit below the transaction's quoted minimum fee, a stale nonce, or a
    /// balance that cannot cover its maximum cost together with the sender's pooled
    /// transactions before it (the error names the shortfall).
    pub fn submit(&self, tx: RecoveredTx) -> Result<B256, SubmitError> {
        let env = self.next_env(0)?;
        let head = self.head().0;
        self.quotes.on_head(head, |quotes| admit(&self.latest_state(), &self.vm, env, &tx.tx, quotes))??;
        let account = self.account(&tx.sender)?;
        if tx.tx.nonce() < account.nonce {
            return Err(InvalidTx::NonceTooLow { expected: account.nonce, got: tx.tx.nonce() }.into());
        }
        let want = tx.tx.max_cost().ok_or(InvalidTx::CostOverflow)?;
        if account.balance < want {
            return Err(InvalidTx::InsufficientFunds { have: account.balance, want }.into());
        }
        let hash = tx.hash();
        let evicted = {
            // Under the pool's lock: a certification holding this nonce (taken under the
            // same lock) and this insertion cannot interleave.
            let mut inner = self.inner.lock();
            if let Some(c) = inner.certified.get(&(tx.sender, tx.tx.nonce()))
                && c.claim.tx_hash != hash
            {
                return Err(SubmitError::Certified { sender: tx.sender, nonce: tx.tx.nonce(), certified: c.claim.tx_hash });
            }
            inner.mempool.add(tx, account.nonce, account.balance)?
        };
        if !evicted.is_empty() {
            tracing::debug!(%hash, evicted = evicted.len(), "replacement left later transactions of its sender unaffordable: evicted");
        }
        tracing::debug!(%hash, "transaction pooled");
        let _ = self.pooled_txs.send(hash);
        Ok(hash)
    }

    /// Pooled transactions to gossip again, encoded ([`Mempool::regossip`](crate::Mempool::regossip)
    /// says which). Gossip is best effort — a busy peer drops it, a lagging subscriber
    /// misses some — and a transaction the primary never got would wait for a view
    /// change: resending what stays pooled gets it there.
    pub fn regossip(&self, cursor: &mut (u64, u64), limit: usize, max_bytes: usize) -> Vec<strata_primitives::Bytes> {
        let txs = self.inner.lock().mempool.regossip(cursor, limit, max_bytes);
        txs.into_iter().map(|tx| tx.tx.encoded()).collect()
    }

    /// Whether transaction `hash` is pooled here (no copy made).
    pub fn is_pooled(&self, hash: &B256) -> bool {
        self.inner.lock().mempool.get(hash).is_some()
    }

    /// The next nonce of `address` counting pooled transactions without gaps.
    pub fn pending_nonce(&self, address: &Address) -> Result<u64> {
        let nonce = self.account(address)?.nonce;
        Ok(self.inner.lock().mempool.pending_nonce(address, nonce))
    }

    /// A pooled (not yet included) transaction.
    pub fn pooled(&self, hash: &B256) -> Option<RecoveredTx> {
        self.inner.lock().mempool.get(hash).cloned()
    }

    /// Whether pooled transaction `hash` can go into the next block: its sender's earlier
    /// nonces are all included or pooled (no gap). `None`: it is not pooled.
    pub fn includable_now(&self, hash: &B256) -> Result<Option<bool>> {
        let Some(tx) = self.pooled(hash) else { return Ok(None) };
        Ok(Some(tx.tx.nonce() < self.pending_nonce(&tx.sender)?))
    }

    /// Number of pooled transactions.
    pub fn pool_len(&self) -> usize {
        self.inner.lock().mempool.len()
    }
}
