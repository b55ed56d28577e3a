//! Certified transactions on the chain service's side: what a validator checks before it
//! signs a storage claim ([`Chain::certify`]), the durable pool journal it writes first
//! (`Column::Journal`, a synced write: the signature is given only once the transaction
//! survives kill -9), the rule of one certified transaction per `(sender, nonce)`, the
//! reload of the journal into the pool at start ([`Chain::reload_journal`]) and its
//! pruning as transactions are included or expire.
//!
//! The signature itself is the node's (it holds the key); the claim format and its
//! verification are [`strata_primitives::storage_cert`].

use alloy_rlp::{RlpDecodable, RlpEncodable};
use strata_primitives::{
    Address, B256, Bytes, TransactionSigned,
    storage_cert::{StorageCertificate, StoredClaim},
};

use crate::{Chain, Result, SubmitError, admission::MAX_TX_SIZE};

/// Heights a claim may lie above this node's head (validators' heads differ by a block
/// or two while a block commits).
pub const CLAIM_HEIGHT_SLACK: u64 = 3;

/// Blocks a claim must leave before its expiry for this node to sign it: time for the
/// transaction to be proposed and included.
pub const CLAIM_MIN_REMAINING: u64 = 3;

/// Whether this node signs a claim of `height` at head `head` on a chain whose claims
/// expire `expiry` blocks after their height: not more than [`CLAIM_HEIGHT_SLACK`] ahead,
/// and at least [`CLAIM_MIN_REMAINING`] blocks (or `expiry`, if fewer) before its expiry. A receiving validator
/// a few blocks behind (it happens under load) still gets its claims signed; the
/// promise is the same, with less time left to keep it.
pub fn signable_claim_height(height: u64, head: u64, expiry: u64) -> bool {
    // A chain whose claims expire sooner than that signs claims of its head, as ever.
    let remaining = CLAIM_MIN_REMAINING.min(expiry);
    height <= head.saturating_add(CLAIM_HEIGHT_SLACK) && height.saturating_add(expiry) >= head.saturating_add(remaining)
}

/// One journal entry: the transaction as submitted and the claim this node signed for it.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Certified {
    /// The EIP-2718 bytes.
    pub raw: Bytes,
    /// What this node signed (or, confirmed from a peer, what the quorum signed).
    pub claim: StoredClaim,
    /// The storage certificate (RLP), once seen: only then is the chain bound to the
    /// promise (empty: this node signed, but no quorum is known to have).
    pub certificate: Bytes,
}

impl Certified {
    /// Whether a quorum is known to have signed it (the promise binds the chain).
    pub fn confirmed(&self) -> bool {
        !self.certificate.is_empty()
    }
}

/// Why this validator does not sign a claim. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum CertifyRefusal {
    /// The transaction fails admission (signature, chain id, nonce, balance, fee, pool).
    #[error(transparent)]
    Admission(SubmitError),
    /// This node already certified another transaction with the same sender and nonce.
    #[error("nonce {nonce} of {sender} is already certified for transaction {certified}")]
    NonceCertified {
        /// Sender.
        sender: Address,
        /// Nonce.
        nonce: u64,
        /// The transaction certified for it.
        certified: B256,
    },
    /// The claim does not describe this transaction, or not as this chain would.
    #[error("claim mismatch: {0}")]
    Claim(String),
    /// What this node holds certified already fills the share of the blocks before the
    /// expiry that certification may reserve (half their gas and transactions; at most
    /// a block's gas per sender, and what one block can resolve per expiry): a promise
    /// the chain could not keep is not made.
    #[error(
        "certification capacity reached: {held} transactions holding {gas} gas are due within {blocks} blocks (at most {max_gas} gas, {max_txs} transactions, a block's gas per sender); retry in a block or submit it uncertified"
    )]
    Capacity {
        /// Transactions held.
        held: usize,
        /// Their gas.
        gas: u64,
        /// Blocks until the expiry.
        blocks: u64,
        /// The gas certification may reserve.
        max_gas: u64,
        /// The transactions certification may reserve.
        max_txs: u64,
    },
}

impl Chain {
    /// The claim a validator signs for `raw` as of `height` (a head near this node's),
    /// once the transaction is admitted to the pool and written to the journal with a
    /// synced write: [`Chain::admit_certified`] then [`Chain::journal`]. `expiry`, if
    /// given, must be what this chain says. Runs contracts (admission): call it on an
    /// admission thread.
    pub fn certify(&self, raw: &[u8], height: u64, expiry: Option<u64>) -> Result<Result<StoredClaim, CertifyRefusal>> {
        let entry = match self.admit(raw, height, expiry, None)? {
            Ok(entry) => entry,
            Err(refusal) => return Ok(Err(refusal)),
        };
        self.journal(std::slice::from_ref(&entry))?;
        Ok(Ok(entry.claim))
    }

    /// The checks before a validator signs for `raw` as of `height`: `expected` (a
    /// peer's claim, if any) describes this transaction, `height` is near this node's
    /// head and the expiry is what this chain says, no other transaction of its sender
    /// and nonce is certified here, and it passes admission to the pool. The transaction
    /// is then held for its `(sender, nonce)` — no other payload for the nonce enters
    /// the pool from then on — and the caller writes the returned entry with
    /// [`Chain::journal`] before it signs. A transaction held before gets its entry back
    /// (one claim per transaction, whatever `height` now says). Runs contracts
    /// (admission): call it on an admission thread.
    pub fn admit_certified(&self, raw: &[u8], height: u64, expected: Option<&StoredClaim>) -> Result<Result<Certified, CertifyRefusal>> {
        self.admit(raw, height, expected.map(|c| c.expiry), expected)
    }

    fn admit(
        &self,
        raw: &[u8],
        height: u64,
        expiry: Option<u64>,
        expected: Option<&StoredClaim>,
    ) -> Result<Result<Certified, CertifyRefusal>> {
        if raw.len() > MAX_TX_SIZE {
            return Ok(Err(CertifyRefusal::Admission(SubmitError::Oversized { size: raw.len(), max: MAX_TX_SIZE })));
        }
        let tx = match TransactionSigned::decode_recovered(raw) {
            Ok(tx) => tx,
            Err(e) => return Ok(Err(CertifyRefusal::Admission(e.into()))),
        };
        let (hash, sender, nonce) = (tx.hash(), tx.sender, tx.tx.nonce());
        if let Some(c) = expected
            && (c.tx_hash, c.sender, c.nonce, c.chain_id) != (hash, sender, nonce, self.spec.chain_id)
        {
            return Ok(Err(CertifyRefusal::Claim("the claim does not describe this transaction".into())));
        }
        let _guard = self.certify.lock();
        if let Some(held) = self.inner.lock().certified.get(&(sender, nonce)) {
            return Ok(if held.claim.tx_hash == hash {
                Ok(held.clone())
            } else {
                Err(CertifyRefusal::NonceCertified { sender, nonce, certified: held.claim.tx_hash })
            });
        }
        let head = self.head().1.number;
        if !signable_claim_height(height, head, self.spec.certified_expiry) {
            return Ok(Err(CertifyRefusal::Claim(format!("height {height} is too far from this node's head {head}"))));
        }
        let due = height.saturating_add(self.spec.certified_expiry);
        if expiry.is_some_and(|e| e != due) {
            return Ok(Err(CertifyRefusal::Claim(format!("expiry {expiry:?} is not height + {}", self.spec.certified_expiry))));
        }
        let claim = StoredClaim { chain_id: self.spec.chain_id, tx_hash: hash, sender, nonce, height, expiry: due };
        let entry = Certified { raw: Bytes::copy_from_slice(raw), claim, certificate: Bytes::new() };
        // Already in a committed block (the receiving validator's pool was quicker than
        // this request): stored for good, nothing to hold. Looked up only when admission
        // fails (an included transaction's nonce is used): a transaction still pooled
        // after it was held here is not in a committed block, or the commit's pruning,
        // which follows its removal from the pool, lets it go.
        let included = || -> Result<bool> { Ok(self.store.tx_location(&hash)?.is_some()) };
        // Held first: a plain submission of another payload for the nonce, racing this
        // one, is refused from here on (the pool checks under the same lock).
        {
            let mut inner = self.inner.lock();
            if let Some(full) =
                inner.certified.over_capacity(&sender, tx.tx.gas_limit(), due, self.spec.certified_expiry, self.spec.gas_limit)
            {
                drop(inner);
                return if included()? { Ok(Ok(entry)) } else { Ok(Err(full)) };
            }
            inner.certified.insert((sender, nonce), entry.clone());
        }
        if self.pooled(&hash).is_none()
            && let Err(e) = self.submit(tx)
        {
            self.inner.lock().certified.remove(&(sender, nonce));
            return match e {
                SubmitError::Node(e) => Err(e),
                _ if included()? => Ok(Ok(entry)),
                e => Ok(Err(CertifyRefusal::Admission(e))),
            };
        }
        Ok(Ok(entry))
    }

    /// A storage certificate for `raw` (from a client or a peer): checked against the
    /// validators of its height, then held as confirmed ([`Chain::hold_certificate`])
    /// and written to the journal.
    pub fn confirm(&self, raw: &[u8], certificate: &StorageCertificate) -> Result<Result<(), String>> {
        let claim = certificate.claim;
        let Some(set) = self.validator_sets().validators_at(claim.height) else {
            return Ok(Err(format!("no validator set known for height {}", claim.height)));
        };
        if let Err(e) = certificate.verify(&set, self.spec.chain_id) {
            return Ok(Err(format!("certificate does not verify: {e}")));
        }
        match self.hold_certificate(raw, certificate)? {
            Ok(Some(entry)) => self.journal(std::slice::from_ref(&entry)).map(Ok),
            Ok(None) => Ok(Ok(())),
            Err(e) => Ok(Err(e)),
        }
    }

    /// Holds transaction `raw` as certified by `certificate` — from now on this node
    /// refuses blocks that break its promise — without checking the signatures: the
    /// caller knows a quorum signed (it checked them, or it counted the signers' own
    /// messages on links authenticated by their keys). A payload this node held for
    /// the same nonce without a certificate gives way (a quorum signed this one, so
    /// none can sign that one). Returns the journal entry to write ([`Chain::journal_held`];
    /// `None`: held as confirmed already). Runs contracts when the transaction was not
    /// pooled here (its admission): call it on an admission thread.
    pub fn hold_certificate(&self, raw: &[u8], certificate: &StorageCertificate) -> Result<Result<Option<Certified>, String>> {
        let claim = certificate.claim;
        let key = (claim.sender, claim.nonce);
        let _guard = self.certify.lock();
        if let Some(done) = self.hold_held(raw, certificate)? {
            return Ok(Ok(done));
        }
        let tx = match TransactionSigned::decode_recovered(raw) {
            Ok(tx) if tx.hash() == claim.tx_hash && tx.sender == claim.sender && tx.tx.nonce() == claim.nonce => tx,
            _ => return Ok(Err("the transaction is not the certificate's".into())),
        };
        let entry = Certified { raw: Bytes::copy_from_slice(raw), claim, certificate: alloy_rlp::encode(certificate).into() };
        let displaced = {
            let mut inner = self.inner.lock();
            match inner.certified.get(&key) {
                Some(held) if held.claim.tx_hash != claim.tx_hash && held.confirmed() => {
                    return Ok(Err(format!("nonce {} of {} is certified for {} already", claim.nonce, claim.sender, held.claim.tx_hash)));
                }
                Some(held) if held.claim.tx_hash != claim.tx_hash => {
                    let other = held.claim.tx_hash;
                    inner.mempool.remove(&other);
                    Some(other)
                }
                _ => None,
            }
        };
        if let Some(other) = displaced {
            // Its journal entry stays until its expiry: the reload keeps this one (a
            // certificate outranks a signature of this node alone).
            tracing::info!(%other, certified = %claim.tx_hash, "an uncertified payload gives way to the certified one for its nonce");
        }
        // Held (confirmed) before it is pooled, as in admission.
        self.inner.lock().certified.insert(key, entry.clone());
        if self.pooled(&claim.tx_hash).is_none()
            && let Err(e) = self.submit(tx)
        {
            tracing::debug!(hash = %claim.tx_hash, error = %e, "a confirmed certified transaction is not admitted here");
        }
        Ok(Ok(Some(entry)))
    }

    /// [`Chain::hold_certificate`]'s common case, which runs no contract (call it from
    /// anywhere): the transaction is included already or past its expiry (nothing to
    /// hold), or this node holds the same bytes (now bound to the certificate).
    /// `Some(entry to write)`, or `None` when the transaction must be admitted first
    /// ([`Chain::hold_certificate`] on an admission thread) — or when an admission holds
    /// the certification lock (it may be running contracts: the caller does not wait).
    pub fn hold_if_held(&self, raw: &[u8], certificate: &StorageCertificate) -> Result<Option<Option<Certified>>> {
        let Some(_guard) = self.certify.try_lock() else { return Ok(None) };
        self.hold_held(raw, certificate)
    }

    /// The common case, under the certification lock.
    fn hold_held(&self, raw: &[u8], certificate: &StorageCertificate) -> Result<Option<Option<Certified>>> {
        let claim = certificate.claim;
        // Past its expiry: nothing left to hold.
        if claim.expiry <= self.head_number() {
            return Ok(Some(None));
        }
        let key = (claim.sender, claim.nonce);
        {
            // Held here: not in a committed block yet, or that commit's pruning (which
            // takes this lock after the block is stored) lets it go.
            let mut inner = self.inner.lock();
            match inner.certified.get(&key) {
                Some(held) if held.claim.tx_hash == claim.tx_hash && held.confirmed() => return Ok(Some(None)),
                Some(held) if held.claim.tx_hash == claim.tx_hash && held.raw.as_ref() == raw => {
                    let entry = Certified { raw: held.raw.clone(), claim, certificate: alloy_rlp::encode(certificate).into() };
                    inner.certified.insert(key, entry.clone());
                    return Ok(Some(Some(entry)));
                }
                _ => {}
            }
        }
        // Kept already (in a block): nothing left to hold.
        Ok(self.store.tx_location(&claim.tx_hash)?.is_some().then_some(None))
    }

    /// The transaction certified here for `(sender, nonce)`, if any.
    pub fn certified_for(&self, sender: &Address, nonce: u64) -> Option<B256> {
        self.inner.lock().certified.get(&(*sender, nonce)).map(|c| c.claim.tx_hash)
    }

    /// Every transaction this node certified and still holds (not yet included, not
    /// expired), by sender and nonce.
    pub fn certified(&self) -> Vec<Certified> {
        self.inner.lock().certified.values().cloned().collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{ChainConfig, ChainSpec, TxOrigin};
    use std::sync::Arc;
    use strata_primitives::{
        LocalSigner, TxKind, U256, keccak256, keys,
        storage_cert::{Unincludable, resolutions, resolutions_extension},
        transaction::build,
    };
    use strata_storage::{MemKv, SharedKv};

    pub(crate) fn chain(kv: SharedKv) -> Arc<Chain> {
        Chain::open(kv, MemKv::shared(), ChainSpec::dev(1337), crate::spec::dev_proposer(), ChainConfig::default()).unwrap()
    }

    pub(crate) fn key() -> LocalSigner {
        keys::derive_accounts(keys::DEV_MNEMONIC, 1).unwrap().remove(0).signer
    }

    /// The dev validator's certificate of `claim` (the dev chain's one-validator set).
    pub(crate) fn certificate(claim: StoredClaim) -> StorageCertificate {
        let digest = strata_primitives::storage_cert::stored_digest(&claim);
        let signature = crate::dev_validator_key().sign_hash(&digest).unwrap();
        StorageCertificate { claim, signatures: vec![strata_primitives::CertSignature::new(0, &signature)], paths: Vec::new() }
    }

    pub(crate) fn transfer(nonce: u64, value: u64) -> Vec<u8> {
        let tx =
            build::eip1559(1337, nonce, TxKind::Call(Address::repeat_byte(9)), U256::from(value), Bytes::new(), 21_000, 2_000_000_000, 0);
        key().sign_transaction(tx).unwrap().encoded().to_vec()
    }

    #[test]
    fn claims_are_signed_a_little_ahead_or_behind_while_they_leave_time_to_include() {
        let expiry = 8;
        // At head 20: up to 3 ahead; behind, as long as 3 blocks remain before expiry.
        assert!(signable_claim_height(23, 20, expiry));
        assert!(!signable_claim_height(24, 20, expiry));
        assert!(signable_claim_height(20, 20, expiry));
        assert!(signable_claim_height(15, 20, expiry), "a receiver 5 blocks behind: due at 23");
        assert!(!signable_claim_height(14, 20, expiry), "due at 22: too little time left");
        assert!(signable_claim_height(0, 0, expiry));
        assert!(!signable_claim_height(u64::MAX, 0, expiry));
        // Claims expiring in 2 blocks: those of the head (and above) only.
        assert!(signable_claim_height(20, 20, 2) && signable_claim_height(22, 20, 2) && !signable_claim_height(19, 20, 2));
    }

    #[test]
    fn one_transaction_per_sender_and_nonce_is_certified_journaled_and_reloaded() {
        let kv = MemKv::shared();
        let c = chain(kv.clone());
        let claim = c.certify(&transfer(0, 5), 0, Some(8)).unwrap().unwrap();
        assert_eq!((claim.sender, claim.nonce, claim.height, claim.expiry, claim.chain_id), (key().address(), 0, 0, 8, 1337));
        assert!(c.pooled(&claim.tx_hash).is_some(), "certified transactions are pooled");
        // Asked again (another validator's request, a retry): the same claim.
        assert_eq!(c.certify(&transfer(0, 5), 1, None).unwrap().unwrap(), claim);
        // Another payload for the nonce: never certified, nor let into the pool.
        assert!(matches!(c.certify(&transfer(0, 6), 0, Some(8)).unwrap(), Err(CertifyRefusal::NonceCertified { nonce: 0, .. })));
        let other = transfer(0, 6);
        assert!(matches!(c.submit_raw(&other, TxOrigin::Local), Err(SubmitError::Certified { nonce: 0, .. })));
        // Refusals: a wrong expiry, a height far from the head, an invalid transaction.
        assert!(matches!(c.certify(&transfer(1, 5), 0, Some(9)).unwrap(), Err(CertifyRefusal::Claim(_))));
        assert!(matches!(c.certify(&transfer(1, 5), 50, None).unwrap(), Err(CertifyRefusal::Claim(_))));
        assert!(matches!(c.certify(&[0x02, 0x01], 0, None).unwrap(), Err(CertifyRefusal::Admission(_))));
        let stale = c.certify(&transfer(1, 5), 0, None).unwrap().unwrap();
        // Restart (kill -9 is the same: the journal write was synced): both come back,
        // pooled and still refusing a second payload.
        drop(c);
        let c = chain(kv.clone());
        assert!(c.pooled(&claim.tx_hash).is_none());
        assert_eq!(c.reload_journal().unwrap(), 2);
        assert!(c.pooled(&claim.tx_hash).is_some() && c.pooled(&stale.tx_hash).is_some());
        assert!(matches!(c.certify(&transfer(0, 6), 0, None).unwrap(), Err(CertifyRefusal::NonceCertified { .. })));
        // Included: the journal lets them go.
        let block = c.produce_block(100).unwrap().unwrap();
        assert_eq!(block.block.transactions.len(), 2);
        assert!(c.certified().is_empty());
        drop(c);
        let c = chain(kv);
        assert_eq!(c.reload_journal().unwrap(), 0);
    }

    #[test]
    fn a_proposal_that_omits_a_certified_transaction_due_at_its_height_is_named() {
        let config = ChainConfig { faults: crate::Faults { drop_certified: true }, ..ChainConfig::default() };
        let c = Chain::open(MemKv::shared(), MemKv::shared(), ChainSpec::dev(1337), crate::spec::dev_proposer(), config).unwrap();
        let owed = c.certify(&transfer(0, 5), 0, None).unwrap().unwrap();
        // Signed here, but no quorum known: nothing binds the chain yet.
        assert!(!c.certified()[0].confirmed());
        let mut forged = certificate(owed);
        forged.claim.expiry += 1;
        assert!(c.confirm(&transfer(0, 5), &forged).unwrap().is_err(), "a certificate that does not verify");
        assert!(c.confirm(&transfer(0, 6), &certificate(owed)).unwrap().is_err(), "another transaction");
        c.confirm(&transfer(0, 5), &certificate(owed)).unwrap().unwrap();
        // Nonce 5 of another account, whose nonces 0-4 never come: not includable, not owed.
        let other = keys::derive_accounts(keys::DEV_MNEMONIC, 2).unwrap().remove(1).signer;
        let gap = build::eip1559(1337, 5, TxKind::Call(Address::repeat_byte(9)), U256::from(1u64), Bytes::new(), 21_000, 2_000_000_000, 0);
        c.certify(&other.sign_transaction(gap).unwrap().encoded(), 0, None).unwrap().unwrap();
        for t in 1..owed.expiry {
            let block = c.propose(100 + t, true).unwrap().unwrap();
            assert!(block.block.transactions.is_empty(), "the faulty proposer leaves it out");
            assert_eq!(c.omitted_certified(&block.hash), None, "not due before its expiry (block {t})");
            c.commit(&block.hash, None).unwrap();
        }
        let due = c.propose(200, true).unwrap().unwrap();
        assert_eq!(due.number(), owed.expiry);
        let reason = c.omitted_certified(&due.hash).expect("owed, valid, left out");
        assert!(reason.contains(&owed.tx_hash.to_string()) && reason.contains("could carry"), "{reason}");
        // The one behind a gap is resolved in the header (signed here, never includable).
        let record = resolutions(due.header()).unwrap();
        assert_eq!(record.len(), 1);
        assert_eq!((record[0].sender, record[0].nonce, record[0].reason()), (other.address(), 5, Some(Unincludable::NonceGap)));
    }

    #[test]
    fn a_certified_transaction_the_chain_made_invalid_is_resolved_in_the_header_of_its_expiry_block() {
        use crate::blocks::tests::certificate as commit_cert;
        let holder = chain(MemKv::shared());
        let other = chain(MemKv::shared());
        let x = holder.certify(&transfer(0, 5), 0, None).unwrap().unwrap();
        // A validator that never saw it puts another payload for its nonce in block 1.
        other.submit_raw(&transfer(0, 6), TxOrigin::Local).unwrap();
        // `other` proposes and commits; the holder validates and commits the same block.
        let step = |timestamp: u64| {
            let parent = other.head_certificate().unwrap();
            let block = other.propose(timestamp, true).unwrap().unwrap();
            other.commit(&block.hash, Some(&commit_cert(block.number(), block.hash))).unwrap();
            let hash = holder.validate(&block.block, &parent, crate::Check::Certified).unwrap();
            let broken = holder.omitted_certified(&hash);
            holder.commit(&hash, Some(&commit_cert(block.number(), hash))).unwrap();
            broken
        };
        assert_eq!(step(101), None, "only signed here when block 1 came");
        // Then the certificate: the chain is bound, but the nonce is gone.
        holder.confirm(&transfer(0, 5), &certificate(x)).unwrap().unwrap();
        for t in 2..x.expiry {
            assert_eq!(step(100 + t), None, "not due before block {}", x.expiry);
        }
        // The expiry block from a proposer that does not hold it says nothing: only a
        // holder can state its figures, so it is logged, not refused.
        let parent = other.head_certificate().unwrap();
        let silent = other.propose(200, true).unwrap().unwrap();
        assert!(resolutions(silent.header()).unwrap().is_empty());
        let hash = holder.validate(&silent.block, &parent, crate::Check::Certified).unwrap();
        assert_eq!(holder.omitted_certified(&hash), None);
        // The holder's own block resolves it; a validator without it checks the reason
        // against its own state and accepts it.
        let own = holder.propose(200, true).unwrap().unwrap();
        assert_eq!(holder.omitted_certified(&own.hash), None);
        let record = resolutions(own.header()).unwrap();
        assert_eq!(
            (record.len(), record[0].tx_hash, record[0].nonce, record[0].reason()),
            (1, x.tx_hash, 0, Some(Unincludable::NonceUsed))
        );
        assert_eq!(other.validate(&own.block, &parent, crate::Check::Certified).unwrap(), own.hash);
        // A resolution that does not hold (the reason changed) is refused by everyone.
        let mut forged = own.block.clone();
        let mut lie = record[0];
        lie.reason = Unincludable::NonceGap as u8;
        forged.header.extensions = vec![resolutions_extension(vec![lie]).unwrap()];
        let refused = other.validate(&forged, &parent, crate::Check::Certified).unwrap_err().to_string();
        assert!(refused.contains("does not hold"), "{refused}");
    }

    #[test]
    fn a_block_with_another_payload_for_a_certified_nonce_is_named() {
        let holder = chain(MemKv::shared());
        let certified = holder.certify(&transfer(0, 5), 0, None).unwrap().unwrap();
        // A validator that did not certify it pools and proposes another payload.
        let other = chain(MemKv::shared());
        other.submit_raw(&transfer(0, 6), TxOrigin::Local).unwrap();
        let block = other.propose(100, false).unwrap().unwrap();
        let hash = holder.validate(&block.block, &[], crate::Check::Certified).unwrap();
        // Only a signature of its own: the holder does not bind the chain to it (two
        // validators may hold two payloads of one nonce when no quorum formed).
        assert_eq!(holder.omitted_certified(&hash), None);
        holder.confirm(&transfer(0, 5), &certificate(certified)).unwrap().unwrap();
        let reason = holder.omitted_certified(&hash).expect("another payload for the nonce");
        assert!(reason.contains("another payload") && reason.contains(&certified.tx_hash.to_string()), "{reason}");
        // The certified one itself is fine.
        let own = holder.propose(100, false).unwrap().unwrap();
        assert_eq!(holder.omitted_certified(&own.hash), None);
    }

    #[test]
    fn a_certificate_makes_an_uncertified_payload_of_its_nonce_give_way() {
        let c = chain(MemKv::shared());
        // This node signed payload 6 (no quorum formed); the quorum signed payload 5.
        c.certify(&transfer(0, 6), 0, None).unwrap().unwrap();
        let five =
            StoredClaim { chain_id: 1337, tx_hash: keccak256(transfer(0, 5)), sender: key().address(), nonce: 0, height: 0, expiry: 8 };
        c.confirm(&transfer(0, 5), &certificate(five)).unwrap().unwrap();
        let held = c.certified();
        assert_eq!((held.len(), held[0].claim.tx_hash, held[0].confirmed()), (1, five.tx_hash, true));
        assert!(c.pooled(&five.tx_hash).is_some() && c.pooled(&keccak256(transfer(0, 6))).is_none());
        let block = c.produce_block(100).unwrap().unwrap();
        assert_eq!(block.block.transactions[0].hash(), five.tx_hash);
    }

    #[test]
    fn certification_reserves_at_most_half_the_blocks_before_the_expiry() {
        let mut spec = ChainSpec::dev(1337);
        (spec.certified_expiry, spec.gas_limit) = (2, 50_000);
        let c = Chain::open(MemKv::shared(), MemKv::shared(), spec, crate::spec::dev_proposer(), ChainConfig::default()).unwrap();
        c.certify(&transfer(0, 5), 0, None).unwrap().unwrap();
        c.certify(&transfer(1, 5), 0, None).unwrap().unwrap();
        let refused = c.certify(&transfer(2, 5), 0, None).unwrap().unwrap_err();
        assert!(matches!(refused, CertifyRefusal::Capacity { held: 2, gas: 42_000, max_gas: 50_000, .. }), "{refused}");
        // Included: the reservation is freed.
        c.produce_block(100).unwrap().unwrap();
        c.certify(&transfer(2, 5), 1, None).unwrap().unwrap();
    }

    #[test]
    fn an_entry_that_reaches_its_expiry_unincluded_is_dropped() {
        let c = chain(MemKv::shared());
        // Nonce 1 with nonce 0 never sent: never includable.
        let claim = c.certify(&transfer(1, 5), 0, None).unwrap().unwrap();
        for t in 0..claim.expiry {
            let block = c.propose(100 + t, true).unwrap().unwrap();
            c.commit(&block.hash, None).unwrap();
        }
        assert!(c.certified().is_empty(), "dropped at its expiry");
        let expiry = c.store().block(claim.expiry).unwrap().unwrap();
        let record = resolutions(expiry.header()).unwrap();
        assert_eq!((record.len(), record[0].tx_hash, record[0].reason()), (1, claim.tx_hash, Some(Unincludable::NonceGap)));
    }
}
