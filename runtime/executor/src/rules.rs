//! Block validity rules: what a header must satisfy against its parent before its
//! transactions are re-executed (reth's `validate_header_against_parent`), as pure
//! functions with a typed error. The node's chain service calls them for proposals,
//! for certified blocks it commits and for blocks it syncs; they are the same on
//! every node.

use std::sync::Arc;

use std::collections::{BTreeMap, BTreeSet};

use strata_primitives::{
    Account, Address, B256, CertificateError, CommitCertificate, Header, ValidatorSet, ValidatorSets,
    consensus::K256,
    keccak256, rlp_item, select_proposer,
    slots::{Heartbeat, LivenessRecord, Observation, SlotRecord, SlotSeen, validator_set_at},
    storage_cert::{AfterBlock, RESOLUTIONS_KIND, Resolution, ResolutionsError, resolutions},
};

use crate::{slots::SlotState, validate::InvalidTx};

/// How far ahead of a validator's clock a *proposal*'s timestamp may be (seconds).
/// Blocks that already carry a valid certificate are not held to it: a validator whose
/// clock is behind must still follow the chain.
pub const MAX_FUTURE_SECS: u64 = 15;

/// The rules of one chain that headers are checked against.
#[derive(Debug, Clone)]
pub struct ChainRules {
    /// Chain id.
    pub chain_id: u64,
    /// Gas limit of every block.
    pub gas_limit: u64,
    /// The validators of each height: they propose its block and sign its certificate.
    pub validators: Arc<dyn ValidatorSets>,
    /// Whether every block above height 1 must carry its parent's commit certificate
    /// (chains run by validators: without it, a node syncing later could not check the
    /// parent). Only chains committed without consensus (tools, tests) set this false.
    pub requires_certificates: bool,
}

/// What a block is being checked as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// A proposal, before any vote: its timestamp at most [`MAX_FUTURE_SECS`] ahead of
    /// this node's clock `now`, and its proposer the one scheduled for `view` — the view
    /// it was built in — when that is known. A block a new view re-proposes was built in
    /// an earlier view, which a twice re-proposed block no longer names; for it (`view`
    /// `None`) the proposer need only be a validator of its height: a quorum already
    /// prepared it.
    Proposal {
        /// This node's clock (seconds).
        now: u64,
        /// The view the block was built in, if known.
        view: Option<u64>,
    },
    /// A block that already carries a valid certificate (commit, sync): no clock rule
    /// applies, and its proposer need only be one of its height's validators (it may have
    /// been re-proposed in a later view than its own).
    Certified,
}

impl ChainRules {
    /// The validators deciding `height`.
    pub fn validators_at(&self, height: u64) -> Result<Arc<ValidatorSet>, BlockError> {
        self.validators.validators_at(height).ok_or(BlockError::UnknownValidators { height })
    }
}

/// Why a block is not valid on its parent. Every variant is the block's fault (or its
/// proposer's); node failures are never one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The block does not extend the parent it is checked against.
    #[error("block {number} on {parent_hash} does not extend the head {head} ({head_hash})")]
    NotChild {
        /// Block number.
        number: u64,
        /// Its parent hash.
        parent_hash: B256,
        /// The head's number.
        head: u64,
        /// The head's hash.
        head_hash: B256,
    },
    /// Another chain's block.
    #[error("chain id {got} is not this chain's ({expected})")]
    ChainId {
        /// In the header.
        got: u64,
        /// This chain's.
        expected: u64,
    },
    /// Not the chain's gas limit.
    #[error("gas limit {got} is not this chain's ({expected})")]
    GasLimit {
        /// In the header.
        got: u64,
        /// This chain's.
        expected: u64,
    },
    /// More gas used than the limit.
    #[error("gas used {used} exceeds the gas limit {limit}")]
    GasUsed {
        /// In the header.
        used: u64,
        /// The limit.
        limit: u64,
    },
    /// Earlier than its parent.
    #[error("timestamp {timestamp} is before its parent's {parent}")]
    TimestampBeforeParent {
        /// In the header.
        timestamp: u64,
        /// The parent's.
        parent: u64,
    },
    /// A proposal from too far in the future.
    #[error("timestamp {timestamp} is more than {MAX_FUTURE_SECS} s ahead of this node's clock ({now})")]
    TimestampInFuture {
        /// In the header.
        timestamp: u64,
        /// This node's clock.
        now: u64,
    },
    /// The proposer is not a validator.
    #[error("proposer {0} is not a validator")]
    UnknownProposer(Address),
    /// The proposer is a validator, but not the one scheduled for the view.
    #[error("proposer {proposer} is not the one scheduled for view {view} ({expected})")]
    WrongProposer {
        /// In the header.
        proposer: Address,
        /// The view it was proposed in.
        view: u64,
        /// The scheduled one.
        expected: Address,
    },
    /// The validators of this height are not known (yet).
    #[error("the validators of height {height} are not known")]
    UnknownValidators {
        /// The height.
        height: u64,
    },
    /// The base fee is not the fee contract's gas price on the parent state.
    #[error("base fee {got} is not the fee contract's gas price {expected}")]
    BaseFee {
        /// In the header.
        got: u64,
        /// The fee contract's.
        expected: u64,
    },
    /// A block that must name its parent's certificate names none.
    #[error("block {number} carries no certificate of its parent; this chain requires one above height 1")]
    MissingParentCertificate {
        /// Block number.
        number: u64,
    },
    /// A certificate where none can be (on genesis), or a hash without a certificate.
    #[error("block {number} names a parent certificate its parent cannot have")]
    UnexpectedParentCertificate {
        /// Block number.
        number: u64,
    },
    /// `parentCommitHash` is not the hash of the certificate the block comes with.
    #[error("parentCommitHash is not the hash of the parent certificate it comes with")]
    ParentCommitHash,
    /// The parent certificate does not decode.
    #[error("parent certificate undecodable: {0}")]
    CertificateUndecodable(String),
    /// The parent certificate is not a quorum of the validators' signatures.
    #[error("parent certificate: {0}")]
    Certificate(#[from] CertificateError),
    /// The parent certificate certifies another block.
    #[error("parent certificate is for block {height} {hash}, not the parent")]
    CertificateForOtherBlock {
        /// Its height.
        height: u64,
        /// Its block hash.
        hash: B256,
    },
    /// A transaction's signature does not recover.
    #[error("transaction {index}: {reason}")]
    BadSignature {
        /// Its index.
        index: usize,
        /// Why.
        reason: String,
    },
    /// A transaction is not valid at its place in the block.
    #[error("transaction {index} ({hash}) is not valid here: {reason}")]
    Transaction {
        /// Its index.
        index: usize,
        /// Its hash.
        hash: B256,
        /// Why.
        reason: Box<InvalidTx>,
    },
    /// Re-executing the block gives other header fields.
    #[error("re-execution disagrees with the proposal: {}", .0.join(", "))]
    ExecutionMismatch(Vec<&'static str>),
    /// `livenessRoot` is not the root of the liveness record the block comes with.
    #[error("livenessRoot {got} is not the root {expected} of the block's liveness record")]
    LivenessRoot {
        /// In the header.
        got: B256,
        /// Of the record.
        expected: B256,
    },
    /// A heartbeat in the block's liveness record is not valid evidence.
    #[error("heartbeat of slot {slot}: {reason}")]
    Heartbeat {
        /// The slot it names.
        slot: u32,
        /// Why it is refused.
        reason: HeartbeatError,
    },
    /// A chain without validator slots has no liveness records.
    #[error("this chain has no validator slots, but the block carries heartbeats")]
    UnexpectedLiveness,
    /// A header extension of a kind this chain does not know, or out of order.
    #[error("header extensions: {0}")]
    Extensions(String),
    /// The certified-resolution record is malformed.
    #[error(transparent)]
    Resolutions(#[from] ResolutionsError),
    /// A resolution that does not hold in the state after the block.
    #[error("resolution of certified transaction {tx}: {reason}")]
    Resolution {
        /// The transaction it names.
        tx: B256,
        /// Why it is refused.
        reason: String,
    },
}

/// Why a heartbeat is refused (in a block, or when a sync node sends it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeartbeatError {
    /// Not in strictly increasing slot order (a second heartbeat of one slot included).
    #[error("heartbeats are not in strictly increasing slot order")]
    Unordered,
    /// No such slot.
    #[error("no such slot")]
    UnknownSlot,
    /// The slot has no backup: nobody sends its heartbeats.
    #[error("the slot has no backup machine")]
    NoBackup,
    /// Signed by another key than the slot's alternate (sync node) at that height.
    #[error("key {got} is not the slot's sync node at this height ({expected})")]
    WrongKey {
        /// In the heartbeat.
        got: Address,
        /// The slot's alternate.
        expected: Address,
    },
    /// For another height or block than the parent.
    #[error("for block {height} {hash}, not the parent {parent_height} {parent_hash}")]
    WrongBlock {
        /// In the heartbeat.
        height: u64,
        /// In the heartbeat.
        hash: B256,
        /// The parent's height.
        parent_height: u64,
        /// The parent's hash.
        parent_hash: B256,
    },
    /// The signature is not the key's over this heartbeat on this chain (forged, or for
    /// another chain).
    #[error("the signature does not verify")]
    BadSignature,
}

/// Checks `beat` as evidence that slot `beat.slot`'s sync node followed block `height`
/// (`hash`) on chain `chain_id`, with `slots` read from the state after a block within
/// two heights of it (see [`strata_primitives::slots`]).
pub fn validate_heartbeat(beat: &Heartbeat, slots: &[SlotRecord], chain_id: u64, height: u64, hash: B256) -> Result<(), HeartbeatError> {
    let record = slots.get(usize::try_from(beat.slot).unwrap_or(usize::MAX)).ok_or(HeartbeatError::UnknownSlot)?;
    let expected = record.alternate_at(height).ok_or(HeartbeatError::NoBackup)?;
    if beat.key != expected {
        return Err(HeartbeatError::WrongKey { got: beat.key, expected });
    }
    if beat.height != height || beat.block_hash != hash {
        return Err(HeartbeatError::WrongBlock { height: beat.height, hash: beat.block_hash, parent_height: height, parent_hash: hash });
    }
    if !beat.verify_with(chain_id, &K256) {
        return Err(HeartbeatError::BadSignature);
    }
    Ok(())
}

/// Checks that `header`'s `livenessRoot` commits to the liveness record the block comes
/// with (what that record proves is [`observe_liveness`]'s part).
pub fn validate_liveness_root(header: &Header, record: &LivenessRecord) -> Result<(), BlockError> {
    let expected = record.root();
    if header.liveness_root != expected {
        return Err(BlockError::LivenessRoot { got: header.liveness_root, expected });
    }
    Ok(())
}

/// What block `number` by `proposer`, carrying `record`, observes of its parent
/// (`parent_hash`, `parent`): checked against the parent certificate it carries (already
/// checked by [`validate_parent_certificate`]) and the slot state after the parent
/// (`slots`; `None` for a chain without slots). The input of the switch rule. Evidence can
/// be omitted by a proposer, never forged: every heartbeat must verify, and the active
/// keys' liveness is read from the certificate.
#[allow(clippy::too_many_arguments)]
pub fn observe_liveness(
    number: u64,
    proposer: Address,
    parent_hash: B256,
    parent: &Header,
    parent_certificate: Option<&CommitCertificate>,
    record: &LivenessRecord,
    slots: Option<&SlotState>,
    chain_id: u64,
) -> Result<Option<Observation>, BlockError> {
    let Some(state) = slots else {
        return if record.heartbeats.is_empty() { Ok(None) } else { Err(BlockError::UnexpectedLiveness) };
    };
    let mut previous: Option<u32> = None;
    for beat in &record.heartbeats {
        if previous.is_some_and(|p| p >= beat.slot) {
            return Err(BlockError::Heartbeat { slot: beat.slot, reason: HeartbeatError::Unordered });
        }
        previous = Some(beat.slot);
        validate_heartbeat(beat, &state.slots, chain_id, parent.number, parent_hash)
            .map_err(|reason| BlockError::Heartbeat { slot: beat.slot, reason })?;
    }
    let set = validator_set_at(&state.slots, number);
    let proposer_slot = set.index_of(&proposer).ok_or(BlockError::UnknownProposer(proposer))?;
    let seen = state
        .slots
        .iter()
        .enumerate()
        .map(|(i, slot)| {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            SlotSeen {
                active: slot.active_at(parent.number),
                // Genesis is not certified: nothing is known of block 0's signers.
                active_alive: parent_certificate.is_none_or(|c| c.signatures.iter().any(|s| s.validator == index)),
                alternate_alive: record.heartbeats.iter().any(|b| b.slot == index),
            }
        })
        .collect();
    Ok(Some(Observation { height: number, proposer: proposer_slot, slots: seen }))
}

/// Checks `header` against its parent (`parent_hash`, `parent`): lineage, chain id,
/// gas, timestamps and proposer, as `check` says (see [`Check`]).
pub fn validate_header_against_parent(
    header: &Header,
    parent_hash: B256,
    parent: &Header,
    rules: &ChainRules,
    check: Check,
) -> Result<(), BlockError> {
    if header.number != parent.number.saturating_add(1) || header.parent_hash != parent_hash {
        return Err(BlockError::NotChild {
            number: header.number,
            parent_hash: header.parent_hash,
            head: parent.number,
            head_hash: parent_hash,
        });
    }
    if header.chain_id != rules.chain_id {
        return Err(BlockError::ChainId { got: header.chain_id, expected: rules.chain_id });
    }
    if header.gas_limit != rules.gas_limit {
        return Err(BlockError::GasLimit { got: header.gas_limit, expected: rules.gas_limit });
    }
    if header.gas_used > header.gas_limit {
        return Err(BlockError::GasUsed { used: header.gas_used, limit: header.gas_limit });
    }
    if header.timestamp < parent.timestamp {
        return Err(BlockError::TimestampBeforeParent { timestamp: header.timestamp, parent: parent.timestamp });
    }
    if let Check::Proposal { now, .. } = check
        && header.timestamp > now.saturating_add(MAX_FUTURE_SECS)
    {
        return Err(BlockError::TimestampInFuture { timestamp: header.timestamp, now });
    }
    let set = rules.validators_at(header.number)?;
    if set.index_of(&header.proposer).is_none() {
        return Err(BlockError::UnknownProposer(header.proposer));
    }
    if let Check::Proposal { view: Some(view), .. } = check {
        let expected = set.get(select_proposer(&set, header.number, view)).copied().unwrap_or_default();
        if header.proposer != expected {
            return Err(BlockError::WrongProposer { proposer: header.proposer, view, expected });
        }
    }
    Ok(())
}

/// Checks the parent certificate a block comes with (`certificate`: its RLP, empty for
/// none) against the header's `parentCommitHash` and the parent it must certify.
/// Returns the decoded certificate, if there is one.
pub fn validate_parent_certificate(
    header: &Header,
    parent_hash: B256,
    parent: &Header,
    certificate: &[u8],
    rules: &ChainRules,
) -> Result<Option<CommitCertificate>, BlockError> {
    if certificate.is_empty() {
        if header.parent_commit_hash != B256::ZERO {
            return Err(BlockError::UnexpectedParentCertificate { number: header.number });
        }
        // Genesis is not certified: block 1 has nothing to carry.
        if rules.requires_certificates && parent.number > 0 {
            return Err(BlockError::MissingParentCertificate { number: header.number });
        }
        return Ok(None);
    }
    if parent.number == 0 {
        return Err(BlockError::UnexpectedParentCertificate { number: header.number });
    }
    if keccak256(certificate) != header.parent_commit_hash {
        return Err(BlockError::ParentCommitHash);
    }
    let cert = rlp_item::decode_exact::<CommitCertificate>(certificate).map_err(|e| BlockError::CertificateUndecodable(e.to_string()))?;
    // A certificate is checked against the validators of its own height.
    cert.verify(&*rules.validators_at(parent.number)?, rules.chain_id)?;
    if cert.height != parent.number || cert.block_hash != parent_hash {
        return Err(BlockError::CertificateForOtherBlock { height: cert.height, hash: cert.block_hash });
    }
    Ok(Some(cert))
}

/// Checks `header`'s extensions — only kinds this chain knows (see
/// `docs/header-extensions.md`), each once — and its certified resolutions against the
/// state after the block: no resolved transaction is among the block's (`included`),
/// and each stated reason holds for its sender's account after the block (`accounts`;
/// a sender missing there has an empty account). Returns the resolutions.
pub fn validate_resolutions(
    header: &Header,
    included: &BTreeSet<B256>,
    accounts: &BTreeMap<Address, Account>,
) -> Result<Vec<Resolution>, BlockError> {
    if let Some(e) = header.extensions.iter().find(|e| e.kind != RESOLUTIONS_KIND) {
        return Err(BlockError::Extensions(format!("unknown kind {}", e.kind)));
    }
    if header.extensions.len() > 1 {
        return Err(BlockError::Extensions("a kind more than once".into()));
    }
    let list = resolutions(header)?;
    let gas_left = header.gas_limit.saturating_sub(header.gas_used);
    for r in &list {
        if included.contains(&r.tx_hash) {
            return Err(BlockError::Resolution { tx: r.tx_hash, reason: "the block includes it".into() });
        }
        let account = accounts.get(&r.sender).copied().unwrap_or_default();
        let after = AfterBlock { nonce: account.nonce, balance: account.balance, base_fee: header.base_fee_per_gas, gas_left };
        if !r.holds(&after) {
            let stated = r.reason().map_or("no such reason", |u| u.describe());
            return Err(BlockError::Resolution {
                tx: r.tx_hash,
                reason: format!(
                    "\"{stated}\" (amount {}) does not hold after the block (sender nonce {}, balance {})",
                    r.amount, account.nonce, account.balance
                ),
            });
        }
    }
    Ok(list)
}

/// Names the header fields in which `ours` (re-executed) and `theirs` (proposed) differ.
pub fn header_mismatch(ours: &Header, theirs: &Header) -> Vec<&'static str> {
    let mut diff = Vec::new();
    for (name, same) in [
        ("state root", ours.state_root == theirs.state_root),
        ("transactions root", ours.transactions_root == theirs.transactions_root),
        ("receipts root", ours.receipts_root == theirs.receipts_root),
        ("logs bloom", ours.logs_bloom == theirs.logs_bloom),
        ("gas used", ours.gas_used == theirs.gas_used),
        ("base fee", ours.base_fee_per_gas == theirs.base_fee_per_gas),
        ("parent commit hash", ours.parent_commit_hash == theirs.parent_commit_hash),
        ("liveness root / extensions", ours.liveness_root == theirs.liveness_root && ours.extensions == theirs.extensions),
    ] {
        if !same {
            diff.push(name);
        }
    }
    if diff.is_empty() {
        diff.push("header encoding");
    }
    diff
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // test arithmetic on small known values
mod tests {
    use super::*;
    use strata_primitives::{CertSignature, LocalSigner, commit_digest};

    fn key(i: u8) -> LocalSigner {
        LocalSigner::from_bytes(&B256::repeat_byte(i + 1)).unwrap()
    }

    fn rules(required: bool) -> ChainRules {
        ChainRules {
            chain_id: 7,
            gas_limit: 1_000,
            validators: Arc::new(strata_primitives::FixedValidators::new(ValidatorSet::new((0..4).map(|i| key(i).address()).collect()))),
            requires_certificates: required,
        }
    }

    fn header(number: u64, parent_hash: B256, timestamp: u64) -> Header {
        Header {
            chain_id: 7,
            parent_hash,
            number,
            timestamp,
            proposer: key(0).address(),
            state_root: B256::ZERO,
            transactions_root: B256::ZERO,
            receipts_root: B256::ZERO,
            logs_bloom: Default::default(),
            gas_limit: 1_000,
            gas_used: 0,
            base_fee_per_gas: 1,
            parent_commit_hash: B256::ZERO,
            liveness_root: B256::ZERO,
            extensions: Vec::new(),
        }
    }

    fn certificate(height: u64, hash: B256) -> Vec<u8> {
        let digest = commit_digest(7, height, 0, hash);
        let signatures = (0..3).map(|i| CertSignature::new(i, &key(i as u8).sign_hash(&digest).unwrap())).collect();
        strata_primitives::rlp::encode(CommitCertificate { height, view: 0, block_hash: hash, signatures })
    }

    #[test]
    fn a_chain_that_requires_certificates_refuses_a_block_without_one() {
        let parent = header(5, B256::repeat_byte(4), 100);
        let parent_hash = parent.hash_slow();
        let child = header(6, parent_hash, 101);
        assert_eq!(
            validate_parent_certificate(&child, parent_hash, &parent, &[], &rules(true)),
            Err(BlockError::MissingParentCertificate { number: 6 })
        );
        assert_eq!(validate_parent_certificate(&child, parent_hash, &parent, &[], &rules(false)), Ok(None));
        // Block 1 has no certificate to carry: genesis is not certified.
        let genesis = header(0, B256::ZERO, 0);
        let first = header(1, genesis.hash_slow(), 1);
        assert_eq!(validate_parent_certificate(&first, genesis.hash_slow(), &genesis, &[], &rules(true)), Ok(None));
        // With a quorum certificate of the parent it is valid; of another block it is not.
        let cert = certificate(5, parent_hash);
        let named = Header { parent_commit_hash: keccak256(&cert), ..child.clone() };
        assert!(validate_parent_certificate(&named, parent_hash, &parent, &cert, &rules(true)).unwrap().is_some());
        let other = certificate(5, B256::repeat_byte(9));
        let named = Header { parent_commit_hash: keccak256(&other), ..child };
        assert!(matches!(
            validate_parent_certificate(&named, parent_hash, &parent, &other, &rules(true)),
            Err(BlockError::CertificateForOtherBlock { .. })
        ));
    }

    #[test]
    fn a_proposal_must_come_from_the_validator_scheduled_for_its_view() {
        let parent = header(5, B256::repeat_byte(4), 100);
        let child = header(6, parent.hash_slow(), 100); // proposed by key(0)
        let r = rules(true);
        let check =
            |view| validate_header_against_parent(&child, parent.hash_slow(), &parent, &r, Check::Proposal { now: 100, view: Some(view) });
        // The proposer rotates by height: validator (6 + view) mod 4.
        assert_eq!(check(2), Ok(()));
        assert_eq!(check(6), Ok(()), "view 6 is validator 0's again at height 6 (of 4)");
        assert_eq!(check(3), Err(BlockError::WrongProposer { proposer: key(0).address(), view: 3, expected: key(1).address() }));
        assert_eq!(check(0), Err(BlockError::WrongProposer { proposer: key(0).address(), view: 0, expected: key(2).address() }));
        // A certified block, or one re-proposed by a later view's primary, may come from
        // any validator of its height.
        assert_eq!(validate_header_against_parent(&child, parent.hash_slow(), &parent, &r, Check::Certified), Ok(()));
        let reproposed = Check::Proposal { now: 100, view: None };
        assert_eq!(validate_header_against_parent(&child, parent.hash_slow(), &parent, &r, reproposed), Ok(()));
    }

    #[test]
    fn the_future_timestamp_rule_binds_proposals_only() {
        let parent = header(5, B256::repeat_byte(4), 100);
        let child = header(6, parent.hash_slow(), 1_000);
        let r = rules(true);
        assert_eq!(
            validate_header_against_parent(&child, parent.hash_slow(), &parent, &r, Check::Proposal { now: 500, view: Some(0) }),
            Err(BlockError::TimestampInFuture { timestamp: 1_000, now: 500 })
        );
        assert_eq!(validate_header_against_parent(&child, parent.hash_slow(), &parent, &r, Check::Certified), Ok(()));
        let early = header(6, parent.hash_slow(), 99);
        assert!(matches!(
            validate_header_against_parent(&early, parent.hash_slow(), &parent, &r, Check::Certified),
            Err(BlockError::TimestampBeforeParent { .. })
        ));
    }

    #[test]
    fn resolutions_must_hold_after_the_block_and_only_known_extensions_are_accepted() {
        use strata_primitives::{HeaderExtension, U256, storage_cert::resolutions_extension};
        let sender = Address::repeat_byte(0x51);
        let gap = Resolution { tx_hash: B256::repeat_byte(1), sender, nonce: 5, reason: 2, amount: U256::ZERO };
        let poor = Resolution { tx_hash: B256::repeat_byte(2), sender, nonce: 3, reason: 3, amount: U256::from(900u64) };
        let mut h = header(6, B256::ZERO, 100);
        let accounts = BTreeMap::from([(sender, Account { nonce: 3, balance: U256::from(800u64), ..Default::default() })]);
        let none = BTreeSet::new();
        assert_eq!(validate_resolutions(&h, &none, &accounts), Ok(Vec::new()));
        h.extensions = vec![resolutions_extension(vec![poor, gap]).unwrap()];
        assert_eq!(validate_resolutions(&h, &none, &accounts), Ok(vec![gap, poor]));
        // Included after all, or a reason the state does not bear out.
        assert!(matches!(validate_resolutions(&h, &BTreeSet::from([poor.tx_hash]), &accounts), Err(BlockError::Resolution { .. })));
        let rich = BTreeMap::from([(sender, Account { nonce: 3, balance: U256::from(900u64), ..Default::default() })]);
        assert!(matches!(validate_resolutions(&h, &none, &rich), Err(BlockError::Resolution { tx, .. }) if tx == poor.tx_hash));
        assert!(matches!(validate_resolutions(&h, &none, &BTreeMap::new()), Err(BlockError::Resolution { .. })), "an empty account");
        // Malformed records and unknown kinds.
        h.extensions = vec![HeaderExtension { kind: RESOLUTIONS_KIND, data: strata_primitives::rlp::encode(vec![poor, gap]).into() }];
        assert_eq!(validate_resolutions(&h, &none, &accounts), Err(BlockError::Resolutions(ResolutionsError::Unordered)));
        h.extensions = vec![HeaderExtension { kind: 2, data: Default::default() }];
        assert!(matches!(validate_resolutions(&h, &none, &accounts), Err(BlockError::Extensions(_))));
    }
}
