//! Blocks: the environment of the next one, building it from the pool
//! ([`Chain::propose`]), checking another validator's by re-executing it
//! ([`Chain::validate`]), and committing either ([`Chain::commit`]); the executed blocks
//! waiting for their commit, and parallel sender recovery.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use strata_executor::{
    Applied, BlockBuilder, BlockEnv, ColdWrites, ExecutedBlock, InvalidTx,
    rules::{self, BlockError, Check},
};
use strata_primitives::{
    Address, B256, Block, CommitCertificate, HeaderExtension, RecoveredTx, SealedBlock, TransactionSigned, rlp_item::decode_exact,
    storage_cert::resolutions,
};
use strata_storage::WriteBatch;

use crate::{Chain, Error, Result, ValidateError};

/// Most transactions taken into one block.
pub const MAX_BLOCK_TXS: usize = 5_000;

pub use strata_executor::rules::MAX_FUTURE_SECS;

/// A block executed on the head: everything its commit writes.
pub(crate) struct Pending {
    pub(crate) block: Arc<SealedBlock>,
    /// Accounts it changes: their pooled transactions are re-checked on commit.
    touched: Vec<Address>,
    cold: ColdWrites,
    batch: WriteBatch,
    /// Pooled transactions found invalid while building it.
    dropped: Vec<B256>,
    /// Whether its end decided a slot switch (its slot records are then proven and kept).
    switched: bool,
    /// After it, the accounts of the senders of certified transactions due by its height
    /// (what tells an omission from a transaction the chain made invalid).
    pub(crate) due_accounts: BTreeMap<Address, strata_primitives::Account>,
    /// Sender, nonce and hash of each of its transactions.
    pub(crate) keys: Vec<(Address, u64, B256)>,
}

impl Chain {
    /// The environment the next block will execute in: its base fee is the fee
    /// contract's gas price in the latest state.
    pub fn next_env(&self, timestamp: u64) -> Result<BlockEnv> {
        let (head_hash, head) = self.head();
        let mut env = BlockEnv {
            chain_id: self.spec.chain_id,
            number: head.number.saturating_add(1),
            parent_hash: head_hash,
            timestamp: timestamp.max(head.timestamp),
            proposer: self.proposer,
            gas_limit: self.spec.gas_limit,
            base_fee: head.base_fee_per_gas,
            replicas: self.spec.replicas(),
        };
        let cached = *self.gas_price.lock();
        env.base_fee = match cached {
            Some((hash, price)) if hash == head_hash => price,
            _ => {
                let price = strata_executor::fees::schedule(&self.latest_state(), &self.vm, env)?.gas_price;
                *self.gas_price.lock() = Some((head_hash, price));
                price
            }
        };
        Ok(env)
    }

    fn ready_transactions(&self) -> Result<Vec<RecoveredTx>> {
        let senders = self.inner.lock().mempool.senders();
        let nonces: BTreeMap<Address, u64> = self.accounts(senders)?.into_iter().map(|(a, acc)| (a, acc.nonce)).collect();
        let inner = self.inner.lock();
        let mut ready = inner.mempool.ready(MAX_BLOCK_TXS, &mut |a| nonces.get(a).copied().unwrap_or(u64::MAX));
        // Senders of certified transactions first (their order kept): the chain owes
        // those an inclusion by their expiry.
        let certified: BTreeSet<Address> = inner.certified.keys().map(|(sender, _)| *sender).collect();
        if self.faults.drop_certified {
            let held: BTreeSet<B256> = inner.certified.values().map(|c| c.claim.tx_hash).collect();
            ready.retain(|tx| !held.contains(&tx.hash()));
        }
        ready.sort_by_key(|tx| !certified.contains(&tx.sender));
        Ok(ready)
    }

    /// Builds a block from the pool's ready transactions and commits it without
    /// consensus (tests and tools). Returns `None` (and commits nothing) when no
    /// transaction could be included.
    pub fn produce_block(&self, timestamp: u64) -> Result<Option<Arc<SealedBlock>>> {
        let Some(block) = self.propose(timestamp, false)? else { return Ok(None) };
        self.commit(&block.hash, None).map(Some)
    }

    /// Builds the next block on the head from the pool's ready transactions (the
    /// proposer's part) and keeps it executed, waiting for [`Chain::commit`]. With
    /// `allow_empty` false, returns `None` when no transaction could be included.
    pub fn propose(&self, timestamp: u64, allow_empty: bool) -> Result<Option<Arc<SealedBlock>>> {
        let _guard = self.produce.lock();
        let ready = self.ready_transactions()?;
        if ready.is_empty() && !allow_empty {
            return Ok(None);
        }
        let env = self.next_env(timestamp)?;
        let mut builder = BlockBuilder::new(env, self.latest_state(), self.vm.clone(), self.cold.clone(), self.payees.clone())?;
        let mut dropped = Vec::new();
        // A sender whose transaction could not go in is skipped for the rest of the
        // block: its later nonces cannot execute before that one.
        let mut skipped = std::collections::BTreeSet::new();
        let mut keys = Vec::new();
        for tx in &ready {
            if skipped.contains(&tx.sender) {
                continue;
            }
            match builder.apply(tx)? {
                Applied::Included(_) => keys.push((tx.sender, tx.tx.nonce(), tx.hash())),
                Applied::Rejected(e) => {
                    skipped.insert(tx.sender);
                    if matches!(e, InvalidTx::BlockGasExhausted { .. } | InvalidTx::BlockFull { .. } | InvalidTx::NonceTooHigh { .. }) {
                        tracing::debug!(hash = %tx.hash(), reason = %e, "transaction deferred");
                    } else {
                        // It cannot execute on this state (nor, being before the sender's later
                        // nonces, can they): out of the pool; its sender may resubmit.
                        tracing::debug!(hash = %tx.hash(), reason = %e, "dropping pooled transaction");
                        dropped.push(tx.hash());
                    }
                }
            }
        }
        if builder.is_empty() && !allow_empty {
            self.remove_from_pool(&dropped);
            return Ok(None);
        }
        let parent_certificate = self.head_certificate()?;
        // With validator slots: the heartbeats this node holds for the head, and the switch
        // rule on what the block observes.
        let record = if self.spec.slots.is_some() { self.heartbeats_for(self.head().0) } else { Default::default() };
        let head_cert = if parent_certificate.is_empty() {
            None
        } else {
            Some(decode_exact::<CommitCertificate>(&parent_certificate).map_err(|e| Error::Corrupt(format!("head certificate: {e}")))?)
        };
        let seen = match self.observe(env.number, env.proposer, head_cert.as_ref(), &record) {
            Ok(seen) => seen,
            Err(ValidateError::Node(e)) => return Err(e),
            Err(ValidateError::Invalid(e)) => return Err(Error::Corrupt(format!("own liveness evidence refused: {e}"))),
        };
        let switched = !builder.end_block(record, seen.as_ref())?.is_empty();
        let executed = builder.finish();
        // What it owes and cannot carry, it says (the header's certified resolutions).
        let extensions = self.resolve_due(&executed, &keys)?.into_iter().collect();
        let pending = self.seal(executed, dropped, parent_certificate, switched, keys, extensions)?;
        let block = pending.block.clone();
        self.inner.lock().pending.insert(block.hash, pending);
        Ok(Some(block))
    }

    /// Computes the block an execution result makes on the head: header with state
    /// root and the parent's certificate hash, and the batch that would commit it.
    fn seal(
        &self,
        executed: ExecutedBlock,
        dropped: Vec<B256>,
        parent_certificate: Vec<u8>,
        switched: bool,
        keys: Vec<(Address, u64, B256)>,
        extensions: Vec<HeaderExtension>,
    ) -> Result<Pending> {
        let (parent_hash, parent) = self.head();
        let number = executed.env.number;
        let touched = executed.changes.accounts.keys().copied().collect();
        let due: BTreeSet<Address> =
            self.inner.lock().certified.values().filter(|c| c.claim.expiry <= number).map(|c| c.claim.sender).collect();
        let mut due_accounts = BTreeMap::new();
        for sender in due {
            due_accounts.insert(sender, self.account_after(&executed, &sender)?);
        }
        let mut batch = WriteBatch::new();
        let state_root = self.state.commit(number, parent.state_root, &executed.changes, &mut batch)?;
        let parent_commit_hash = if parent_certificate.is_empty() { B256::ZERO } else { strata_primitives::keccak256(&parent_certificate) };
        let (mut block, receipts, _, cold) = executed.into_block(parent_hash, state_root);
        block.header.parent_commit_hash = parent_commit_hash;
        block.header.extensions = extensions;
        let block = Arc::new(block.seal());
        let senders: Vec<Address> = keys.iter().map(|(sender, _, _)| *sender).collect();
        self.store.put_block(&block, &receipts, &senders, &mut batch);
        if switched {
            self.store.mark_switch(number, &mut batch);
        }
        // Validators may hold different quorums for the parent; the one this block names
        // becomes the parent's canonical certificate everywhere.
        if !parent_certificate.is_empty() {
            self.store.put_certificate(parent.number, &parent_certificate, &mut batch);
        }
        Ok(Pending { block, touched, cold, batch, dropped, switched, due_accounts, keys })
    }

    /// `address`'s account after `executed` (a block on the head).
    pub(crate) fn account_after(&self, executed: &ExecutedBlock, address: &Address) -> Result<strata_primitives::Account> {
        match executed.changes.accounts.get(address) {
            Some(after) => Ok(after.unwrap_or_default()),
            None => self.account(address),
        }
    }

    /// The head's certificate as this node holds it (empty for genesis or a block
    /// committed without consensus): what a block built now commits to.
    pub fn head_certificate(&self) -> Result<Vec<u8>> {
        Ok(self.store.certificate(self.head().1.number)?.unwrap_or_default())
    }

    /// Checks a block for the next height by re-executing it on the head: its header
    /// against the head ([`rules::validate_header_against_parent`]), the parent
    /// certificate it comes with (`parent_certificate`, named by `parentCommitHash`;
    /// required above height 1 when the chain says so), then every transaction, and
    /// every header field against what this node computes. `check`: a proposal (held to
    /// this node's clock and to the proposer scheduled for its view) or a block that
    /// already carries a valid certificate (commit, sync). A valid block waits, executed,
    /// for [`Chain::commit`]; its hash is returned.
    pub fn validate(&self, block: &Block, parent_certificate: &[u8], check: Check) -> Result<B256, ValidateError> {
        let _guard = self.produce.lock();
        let (head_hash, head) = self.head();
        let h = &block.header;
        let rules = self.rules();
        rules::validate_header_against_parent(h, head_hash, &head, &rules, check)?;
        let cert = rules::validate_parent_certificate(h, head_hash, &head, parent_certificate, &rules)?;
        rules::validate_liveness_root(h, &block.liveness)?;
        let mut env = self.next_env(h.timestamp)?;
        env.timestamp = h.timestamp;
        env.proposer = h.proposer;
        if h.base_fee_per_gas != env.base_fee {
            return Err(BlockError::BaseFee { got: h.base_fee_per_gas, expected: env.base_fee }.into());
        }
        let seen = self.observe(h.number, h.proposer, cert.as_ref(), &block.liveness)?;
        // Senders this node recovered already when it pooled the same signed bytes (the
        // hash covers the signature) are not recovered again.
        let known: Vec<Option<Address>> = {
            let inner = self.inner.lock();
            block.transactions.iter().map(|tx| inner.mempool.get(&tx.hash()).map(|p| p.sender)).collect()
        };
        let senders = recover_senders(&block.transactions, &known)?;
        let keys: Vec<(Address, u64, B256)> = block.transactions.iter().zip(&senders).map(|(tx, s)| (*s, tx.nonce(), tx.hash())).collect();
        let mut builder = BlockBuilder::new(env, self.latest_state(), self.vm.clone(), self.cold.clone(), self.payees.clone())?;
        for (index, (tx, sender)) in block.transactions.iter().zip(senders).enumerate() {
            if let Applied::Rejected(reason) = builder.apply(&RecoveredTx { sender, tx: tx.clone() })? {
                return Err(BlockError::Transaction { index, hash: tx.hash(), reason: Box::new(reason) }.into());
            }
        }
        let switched = !builder.end_block(block.liveness.clone(), seen.as_ref())?.is_empty();
        let executed = builder.finish();
        // Its certified resolutions must hold in the state it leaves.
        let included: BTreeSet<B256> = keys.iter().map(|(_, _, hash)| *hash).collect();
        let mut accounts = BTreeMap::new();
        for sender in resolutions(h).unwrap_or_default().iter().map(|r| r.sender) {
            accounts.insert(sender, self.account_after(&executed, &sender)?);
        }
        rules::validate_resolutions(h, &included, &accounts)?;
        let pending = self.seal(executed, Vec::new(), parent_certificate.to_vec(), switched, keys, h.extensions.clone())?;
        let hash = pending.block.hash;
        if hash != block.header.hash_slow() {
            return Err(BlockError::ExecutionMismatch(rules::header_mismatch(pending.block.header(), h)).into());
        }
        self.inner.lock().pending.insert(hash, pending);
        Ok(hash)
    }

    /// Commits the executed block `hash` (from [`Chain::propose`] or [`Chain::validate`])
    /// with its encoded commit certificate: state, cold store, block, receipts,
    /// certificate, indexes and head, in one synced write.
    pub fn commit(&self, hash: &B256, certificate: Option<&[u8]>) -> Result<Arc<SealedBlock>> {
        let _guard = self.produce.lock();
        let (head_hash, head) = self.head();
        let pending = self.inner.lock().pending.remove(hash).ok_or(Error::NotPending(*hash))?;
        let block = pending.block;
        if block.number() != head.number.saturating_add(1) || block.header().parent_hash != head_hash {
            return Err(Error::NotPending(*hash));
        }
        let mut batch = pending.batch;
        if let Some(cert) = certificate {
            self.store.put_certificate(block.number(), cert, &mut batch);
        }
        // Archived values first: once the block is durable, its tombstones must find them.
        // (A crash in between leaves unreferenced cold entries, which are harmless.)
        if !pending.cold.puts.is_empty() {
            self.cold.write(pending.cold.puts)?;
        }
        // One synced, atomic write: state, block, receipts, certificate, indexes and head move together.
        self.kv.write(batch)?;
        // Restored and purged values last (a crash before this leaves harmless leftovers).
        if !pending.cold.deletes.is_empty() {
            self.cold.write(pending.cold.deletes)?;
        }
        let touched: Vec<Address> = {
            let inner = self.inner.lock();
            pending.touched.iter().copied().filter(|a| inner.mempool.has_sender(a)).collect()
        };
        let accounts = self.accounts(touched)?;
        let mut evicted = 0usize;
        {
            let mut inner = self.inner.lock();
            inner.head = (block.hash, block.header().clone());
            // Other candidates for this height can never commit now, and heartbeats were
            // for the old head.
            inner.pending.clear();
            inner.heartbeats.clear();
            for h in &pending.dropped {
                inner.mempool.remove(h);
            }
            // Senders whose accounts the block changed: included nonces leave, and what
            // the new balance no longer covers is evicted.
            for (sender, account) in accounts {
                evicted = evicted.saturating_add(inner.mempool.revalidate(&sender, account.nonce, account.balance).len());
            }
        }
        // A switch: prove the new slot records now, while the block's state is at hand (a
        // crash in between leaves the mark, and the proof is made on demand).
        if pending.switched
            && let Err(e) = self.prove_switch(block.number())
        {
            tracing::warn!(number = block.number(), error = %e, "switch block committed, its slot records not yet proven");
        }
        if evicted > 0 {
            tracing::debug!(number = block.number(), evicted, "pooled transactions no longer affordable: evicted");
        }
        if let Err(e) = self.prune_journal(&block) {
            tracing::warn!(number = block.number(), error = %e, "pool journal not pruned (retried at the next block)");
        }
        tracing::info!(number = block.number(), hash = %block.hash, txs = block.block.transactions.len(), gas_used = block.header().gas_used, "block committed");
        let _ = self.blocks.send(block.clone());
        Ok(block)
    }

    /// Replaces the head's stored certificate by `certificate` (its RLP), one with more
    /// signatures (late commit votes) for the same block: the next block this node
    /// proposes names it. Ignored unless the head is block `height` with hash `hash`.
    pub fn extend_head_certificate(&self, height: u64, hash: B256, certificate: &[u8]) -> Result<bool> {
        let _guard = self.produce.lock();
        let (head_hash, head) = self.head();
        if head.number != height || head_hash != hash {
            return Ok(false);
        }
        let mut batch = WriteBatch::new();
        self.store.put_certificate(height, certificate, &mut batch);
        self.kv.write(batch)?;
        Ok(true)
    }

    /// The certificate block `number` commits to (its parent's, as named in its header).
    pub fn parent_certificate_of(&self, number: u64) -> Result<Vec<u8>> {
        Ok(match number.checked_sub(1) {
            Some(parent) => self.store.certificate(parent)?.unwrap_or_default(),
            None => Vec::new(),
        })
    }

    /// Block `number` with its encoded commit certificate (for peers catching up).
    pub fn block_with_certificate(&self, number: u64) -> Result<Option<(SealedBlock, Option<Vec<u8>>)>> {
        let Some(block) = self.store.block(number)? else { return Ok(None) };
        Ok(Some((block, self.store.certificate(number)?)))
    }

    fn remove_from_pool(&self, hashes: &[B256]) {
        let mut inner = self.inner.lock();
        for h in hashes {
            inner.mempool.remove(h);
        }
    }
}

/// The senders of `transactions`, recovered on every core (signature recovery is most
/// of the work of a block of transfers); the first bad signature by index is the error.
fn recover_senders(transactions: &[TransactionSigned], known: &[Option<Address>]) -> Result<Vec<Address>, BlockError> {
    let to_recover = known.iter().filter(|k| k.is_none()).count();
    let workers = std::thread::available_parallelism().map_or(1, usize::from).min(to_recover / 64).max(1);
    let recover = |offset: usize, chunk: &[TransactionSigned]| -> Result<Vec<Address>, BlockError> {
        chunk
            .iter()
            .enumerate()
            .map(|(i, tx)| match known.get(offset + i).copied().flatten() {
                Some(sender) => Ok(sender),
                None => tx.recover_sender().map_err(|e| BlockError::BadSignature { index: offset + i, reason: e.to_string() }),
            })
            .collect()
    };
    if workers == 1 {
        return recover(0, transactions);
    }
    let size = transactions.len().div_ceil(workers);
    let parts: Vec<Result<Vec<Address>, BlockError>> = std::thread::scope(|s| {
        let handles: Vec<_> = transactions.chunks(size).enumerate().map(|(k, chunk)| s.spawn(move || recover(k * size, chunk))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    });
    let mut senders = Vec::with_capacity(transactions.len());
    for part in parts {
        senders.extend(part?);
    }
    Ok(senders)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{ChainConfig, ChainSpec, StateUnavailable, TxOrigin};
    use strata_primitives::{Bytes, TxKind, U256, keys, transaction::build};
    use strata_state::StateReader;
    use strata_storage::MemKv;
    use strata_storage::SharedKv;

    /// A commit certificate of the dev validator for block `height` / `hash`.
    pub(crate) fn certificate(height: u64, hash: B256) -> Vec<u8> {
        let digest = strata_primitives::commit_digest(1337, height, 0, hash);
        let signature = crate::dev_validator_key().sign_hash(&digest).unwrap();
        let cert = strata_primitives::CommitCertificate {
            height,
            view: 0,
            block_hash: hash,
            signatures: vec![strata_primitives::CertSignature::new(0, &signature)],
        };
        strata_primitives::rlp::encode(cert)
    }

    fn chain(kv: SharedKv) -> Arc<Chain> {
        Chain::open(kv, MemKv::shared(), ChainSpec::dev(1337), crate::spec::dev_proposer(), ChainConfig::default()).unwrap()
    }

    #[test]
    fn produce_commits_and_reopen_resumes() {
        let kv = MemKv::shared();
        let c = chain(kv.clone());
        let key = keys::derive_accounts(keys::DEV_MNEMONIC, 1).unwrap().remove(0).signer;
        for nonce in [1u64, 0] {
            let tx = build::eip1559(
                1337,
                nonce,
                TxKind::Call(Address::repeat_byte(9)),
                U256::from(5u64),
                Bytes::new(),
                21_000,
                2_000_000_000,
                0,
            );
            c.submit_raw(&key.sign_transaction(tx).unwrap().encoded(), TxOrigin::Local).unwrap();
        }
        assert_eq!(c.pending_nonce(&key.address()).unwrap(), 2);
        let block = c.produce_block(100).unwrap().unwrap();
        assert_eq!(block.block.transactions.len(), 2);
        assert_eq!(c.pool_len(), 0);
        assert!(c.produce_block(101).unwrap().is_none());
        assert_eq!(c.account(&Address::repeat_byte(9)).unwrap().balance, U256::from(10u64));
        drop(c);
        let c = chain(kv.clone());
        assert_eq!(c.head().0, block.hash);
        assert_eq!(c.account(&key.address()).unwrap().nonce, 2);
        assert_eq!(strata_state::flat_state_root(&kv).unwrap(), block.header().state_root);
        assert_eq!(c.state_at(0).unwrap().account(&key.address()).unwrap().unwrap().nonce, 0);
        assert_eq!(c.state_at(1).unwrap().account(&key.address()).unwrap().unwrap().nonce, 2);
        assert_eq!(c.state_at(2).unwrap_err(), StateUnavailable::UnknownBlock(2));
        // Another chain id on the same store is refused.
        assert!(matches!(
            Chain::open(kv, MemKv::shared(), ChainSpec::dev(1), Address::ZERO, ChainConfig::default()),
            Err(Error::GenesisMismatch { .. })
        ));
    }

    #[test]
    fn a_validator_re_executes_a_proposal_and_commits_the_same_block() {
        let (proposer, validator) = (chain(MemKv::shared()), chain(MemKv::shared()));
        let key = keys::derive_accounts(keys::DEV_MNEMONIC, 1).unwrap().remove(0).signer;
        let tx = build::eip1559(1337, 0, TxKind::Call(Address::repeat_byte(9)), U256::from(5u64), Bytes::new(), 30_000, 2_000_000_000, 0);
        proposer.submit_raw(&key.sign_transaction(tx).unwrap().encoded(), TxOrigin::Local).unwrap();
        let block = proposer.propose(100, false).unwrap().unwrap();
        assert!(proposer.propose(100, false).unwrap().is_none() || proposer.pool_len() == 1, "the pool keeps it until commit");

        // A tampered copy is refused with the reason; the real one validates to the same hash.
        let mut forged = block.block.clone();
        forged.header.state_root = B256::repeat_byte(1);
        let refused = validator.validate(&forged, &[], Check::Certified).unwrap_err();
        assert!(matches!(&refused, ValidateError::Invalid(BlockError::ExecutionMismatch(f)) if f.contains(&"state root")), "{refused}");
        let mut early = block.block.clone();
        early.header.number = 5;
        assert!(matches!(validator.validate(&early, &[], Check::Certified), Err(ValidateError::Invalid(BlockError::NotChild { .. }))));
        assert_eq!(validator.validate(&block.block, &[], Check::Certified).unwrap(), block.hash);

        let cert = certificate(1, block.hash);
        let a = proposer.commit(&block.hash, Some(&cert)).unwrap();
        let b = validator.commit(&block.hash, Some(&cert)).unwrap();
        assert_eq!((a.hash, a.header().state_root), (b.hash, b.header().state_root));
        assert!(matches!(validator.commit(&block.hash, None), Err(Error::NotPending(_))), "committed once");
        // The next block commits to this one's certificate.
        let next = proposer.propose(101, true).unwrap().unwrap();
        assert_eq!(next.header().parent_commit_hash, strata_primitives::keccak256(&cert));
        assert!(
            matches!(
                validator.validate(&next.block, &certificate(1, B256::ZERO), Check::Certified),
                Err(ValidateError::Invalid(BlockError::ParentCommitHash))
            ),
            "the named certificate must match"
        );
        assert!(
            matches!(validator.validate(&next.block, &[], Check::Certified), Err(ValidateError::Invalid(_))),
            "a chain run by validators refuses a block above height 1 without its parent's certificate"
        );
        assert_eq!(validator.validate(&next.block, &cert, Check::Certified).unwrap(), next.hash, "an empty block validates too");
        assert_eq!(validator.block_with_certificate(1).unwrap().unwrap().1, Some(cert));
    }
}
