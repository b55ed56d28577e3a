//! Strata's chain registry system contract, installed at genesis at
//! `strata_sdk::system::CHAIN_REGISTRY` (`0x…1005`).
//!
//! Why a contract: in a hierarchy of chains (main → contract chains → proof chains) a
//! chain acts on what happened on another without trusting whoever carries the news.
//! This is its light client (IBC's client module, with Strata's PBFT commit
//! certificates): it follows its children (registered by the admin, or by anyone for a
//! fee) and its parent (named in the genesis), their validator sets across slot
//! switches, and their checkpoints; and it verifies a log relayed from one of them —
//! receipt proof, transaction proof, certificate against the set of that height — with
//! `strata_protocol`'s code, recovering signatures through the `ecrecover` host
//! function. Contracts that act on relayed events call `verifyLog` and record the
//! event key it returns to act once (see `contracts/storage`).
//!
//! It uses no privileged host function. At about 160 KB it is larger than a deploy
//! transaction may carry: the genesis installs it, and tests install it in the harness
//! the same way (`TestChain::install`).
#![no_std]

extern crate alloc;

use alloc::{format, string::String, vec::Vec};

use strata_sdk::{
    Address, B256, Bytes, ContractError, Revert, U256, contract, env, error, event,
    host::{self, HostRecover},
    protocol::{
        Header,
        registry::{Epoch, TrackedChain, check_quorum, check_set},
        relay::{Checkpoint, RelayedLog, verify_checkpoint_with, verify_relayed_log_with},
        rlp_item::decode_exact,
        set_proof::{SwitchLink, verify_link_with},
    },
    storage::{StorageMap, StorageValue},
};

/// A chain is followed from now on (the constructor emits it for the parent).
#[event]
pub struct ChainRegistered {
    #[indexed]
    pub chain_id: u64,
    pub genesis_hash: B256,
    pub validators: Vec<Address>,
    pub quorum: u32,
    pub is_parent: bool,
    pub by: Address,
}

/// A followed chain's set changed from `from_height` on.
#[event]
pub struct ValidatorsUpdated {
    #[indexed]
    pub chain_id: u64,
    pub from_height: u64,
    pub validators: Vec<Address>,
}

/// A followed chain's checkpoint moved.
#[event]
pub struct Checkpointed {
    #[indexed]
    pub chain_id: u64,
    pub height: u64,
    pub block_hash: B256,
    pub state_root: B256,
    pub receipts_root: B256,
}

/// A registered child chain is no longer followed (the admin removed it).
#[event]
pub struct ChainDeregistered {
    #[indexed]
    pub chain_id: u64,
    pub by: Address,
}

/// The admin changed.
#[event]
pub struct AdminChanged {
    #[indexed]
    pub previous: Address,
    #[indexed]
    pub admin: Address,
}

/// The registration fee changed.
#[event]
pub struct FeeChanged {
    pub previous: U256,
    pub fee: U256,
}

/// Only the admin may do this.
#[error]
pub struct NotAdmin {
    pub caller: Address,
}

/// Registration costs `fee`; `paid` came with the call.
#[error]
pub struct FeeTooLow {
    pub paid: U256,
    pub fee: U256,
}

/// The chain is followed already (or is this chain).
#[error]
pub struct AlreadyKnown {
    pub chain_id: u64,
}

/// The registry follows no such chain.
#[error]
pub struct UnknownChain {
    pub chain_id: u64,
}

/// The set or quorum breaks a rule.
#[error]
pub struct InvalidSet {
    pub reason: String,
}

/// Input that does not decode.
#[error]
pub struct Malformed {
    pub reason: String,
}

/// A certificate does not finalize what it should with the registered set.
#[error]
pub struct BadCertificate {
    pub chain_id: u64,
    pub height: u64,
    pub reason: String,
}

/// A relayed log's proofs do not check out.
#[error]
pub struct BadProof {
    pub chain_id: u64,
    pub height: u64,
    pub reason: String,
}

/// A checkpoint at or below the last one.
#[error]
pub struct StaleCheckpoint {
    pub chain_id: u64,
    pub height: u64,
    pub last: u64,
}

/// A relayed log above the last checkpoint.
#[error]
pub struct AboveCheckpoint {
    pub chain_id: u64,
    pub height: u64,
    pub checkpoint: u64,
}

/// A switch link at or below the last one.
#[error]
pub struct StaleLink {
    pub chain_id: u64,
    pub height: u64,
    pub last: u64,
}

/// Any refusal: revert data of an error above, or a callee's, unchanged.
type Refusal = Revert;

fn refuse<E: ContractError>(e: E) -> Refusal {
    Revert::of(&e)
}

static ADMIN: StorageValue<Address> = StorageValue::new(b"admin");
static FEE: StorageValue<U256> = StorageValue::new(b"fee");
static PARENT_ID: StorageValue<u64> = StorageValue::new(b"parent");
static PARENT_REGISTRY: StorageValue<Address> = StorageValue::new(b"parentreg");
/// chain id -> RLP `TrackedChain` (empty: not followed).
static CHAINS: StorageMap<u64, Vec<u8>> = StorageMap::new(b"c/");
/// (chain id, epoch index) -> RLP `Epoch`.
static EPOCHS: StorageMap<(u64, u64), Vec<u8>> = StorageMap::new(b"e/");
/// chain id -> height of the last switch link accepted (0: none).
static LAST_LINK: StorageMap<u64, u64> = StorageMap::new(b"l/");

fn tracked(chain_id: u64) -> Result<TrackedChain, Refusal> {
    let raw = CHAINS.get(&chain_id);
    if raw.is_empty() {
        return Err(refuse(UnknownChain { chain_id }));
    }
    decode_exact::<TrackedChain>(&raw).map_err(|e| refuse(Malformed { reason: format!("stored record of chain {chain_id}: {e}") }))
}

fn store(chain_id: u64, chain: &TrackedChain) {
    CHAINS.set(&chain_id, &alloy_rlp::encode(chain));
}

fn epoch(chain_id: u64, index: u32) -> Result<Epoch, Refusal> {
    decode_exact::<Epoch>(&EPOCHS.get(&(chain_id, u64::from(index))))
        .map_err(|e| refuse(Malformed { reason: format!("stored epoch {index} of chain {chain_id}: {e}") }))
}

/// The epoch that signs `height`: the last one starting at or below it.
fn epoch_at(chain_id: u64, chain: &TrackedChain, height: u64) -> Result<Epoch, Refusal> {
    let mut index = chain.epochs;
    while index > 0 {
        index -= 1;
        let e = epoch(chain_id, index)?;
        if e.from <= height {
            return Ok(e);
        }
    }
    Err(refuse(Malformed { reason: format!("chain {chain_id} has no epoch for height {height}") }))
}

fn only_admin() -> Result<Address, Refusal> {
    let caller = env::caller();
    if caller != ADMIN.get() || caller.is_zero() {
        return Err(refuse(NotAdmin { caller }));
    }
    Ok(caller)
}

/// Follows `chain_id` with its first epoch: `validators` from height 0.
fn follow(chain_id: u64, genesis_hash: B256, validators: Vec<Address>, quorum: u32, is_parent: bool, by: Address) -> Result<(), Refusal> {
    if chain_id == 0 || chain_id == env::chain_id() || !CHAINS.get(&chain_id).is_empty() {
        return Err(refuse(AlreadyKnown { chain_id }));
    }
    check_set(&validators, quorum).map_err(|reason| refuse(InvalidSet { reason }))?;
    let first = Epoch { from: 0, validators: validators.clone(), records: Vec::new() };
    EPOCHS.set(&(chain_id, 0), &alloy_rlp::encode(&first));
    let checkpoint = Checkpoint { height: 0, block_hash: B256::ZERO, state_root: B256::ZERO, receipts_root: B256::ZERO };
    store(chain_id, &TrackedChain { genesis_hash, quorum, is_parent, registered_by: by, epochs: 1, checkpoint });
    ChainRegistered { chain_id, genesis_hash, validators, quorum, is_parent, by }.emit();
    Ok(())
}

/// Makes `header`, finalized by `certificate` (RLP) of the set of its height, the
/// checkpoint of `chain_id` (above the last one).
fn record_checkpoint(chain_id: u64, chain: &mut TrackedChain, header: &Header, certificate: &[u8]) -> Result<(), Refusal> {
    let (height, last) = (header.number, chain.checkpoint.height);
    if height <= last {
        return Err(refuse(StaleCheckpoint { chain_id, height, last }));
    }
    let set = epoch_at(chain_id, chain, height)?.set_at(height);
    let bad = |reason: String| refuse(BadCertificate { chain_id, height, reason });
    check_quorum(certificate, chain.quorum).map_err(bad)?;
    let point = verify_checkpoint_with(header, certificate, &set, chain_id, &HostRecover).map_err(|e| bad(format!("{e}")))?;
    chain.checkpoint = point;
    store(chain_id, chain);
    Checkpointed { chain_id, height, block_hash: point.block_hash, state_root: point.state_root, receipts_root: point.receipts_root }
        .emit();
    Ok(())
}

/// Verifies `relayed` as a log of `chain_id` at or below its last checkpoint.
fn verify(chain_id: u64, chain: &TrackedChain, relayed: &RelayedLog) -> Result<(B256, Address, Vec<B256>, Bytes, u64), Refusal> {
    let height = relayed.bundle.header.number;
    let checkpoint = chain.checkpoint;
    if height > checkpoint.height {
        return Err(refuse(AboveCheckpoint { chain_id, height, checkpoint: checkpoint.height }));
    }
    let set = epoch_at(chain_id, chain, height)?.set_at(height);
    check_quorum(&relayed.bundle.certificate, chain.quorum).map_err(|reason| refuse(BadCertificate { chain_id, height, reason }))?;
    let proven = verify_relayed_log_with(relayed, &set, chain_id, &HostRecover).map_err(|e| match e {
        strata_sdk::protocol::relay::RelayError::Audit(strata_sdk::protocol::audit::AuditError::Certificate(reason)) => {
            refuse(BadCertificate { chain_id, height, reason })
        }
        other => refuse(BadProof { chain_id, height, reason: format!("{other}") }),
    })?;
    if height == checkpoint.height && proven.block_hash != checkpoint.block_hash {
        let reason = format!("block {} is not the checkpointed block {}", proven.block_hash, checkpoint.block_hash);
        return Err(refuse(BadCertificate { chain_id, height, reason }));
    }
    let log = proven.log;
    Ok((proven.key.hash(), log.address, log.data.topics().to_vec(), log.data.data, height))
}

/// The chain registry.
pub struct Registry;

#[contract]
impl Registry {
    /// `parent_chain_id` 0: this chain has no parent (the main chain).
    #[constructor]
    pub fn constructor(
        admin: Address,
        registration_fee: U256,
        parent_chain_id: u64,
        parent_registry: Address,
        parent_genesis_hash: B256,
        parent_validators: Vec<Address>,
        parent_quorum: u32,
    ) -> Result<(), Refusal> {
        ADMIN.set(&admin);
        FEE.set(&registration_fee);
        AdminChanged { previous: Address::ZERO, admin }.emit();
        if parent_chain_id != 0 {
            PARENT_ID.set(&parent_chain_id);
            PARENT_REGISTRY.set(&parent_registry);
            follow(parent_chain_id, parent_genesis_hash, parent_validators, parent_quorum, true, Address::ZERO)?;
        }
        Ok(())
    }

    /// Who may register without a fee, change the fee and the admin.
    #[view]
    pub fn admin() -> Address {
        ADMIN.get()
    }

    /// What anyone but the admin pays to register (0: the admin only).
    #[view]
    pub fn registration_fee() -> U256 {
        FEE.get()
    }

    /// The parent chain (0: none) and its registry.
    #[view]
    pub fn parent() -> (u64, Address) {
        (PARENT_ID.get(), PARENT_REGISTRY.get())
    }

    /// Registers child chain `chain_id` run by `validators`, whose certificates need
    /// `quorum` signatures: by the admin, or by anyone paying the fee (which goes to the
    /// admin; with no admin it stays here).
    #[payable]
    pub fn register(chain_id: u64, genesis_hash: B256, validators: Vec<Address>, quorum: u32) -> Result<(), Refusal> {
        let caller = env::caller();
        let (admin, fee, paid) = (ADMIN.get(), FEE.get(), env::call_value());
        let by_admin = caller == admin && !admin.is_zero();
        if !by_admin && (fee.is_zero() || paid < fee) {
            if fee.is_zero() {
                return Err(refuse(NotAdmin { caller }));
            }
            return Err(refuse(FeeTooLow { paid, fee }));
        }
        follow(chain_id, genesis_hash, validators, quorum, false, caller)?;
        if !paid.is_zero() && !admin.is_zero() && admin != caller {
            match host::call(admin, paid, &[], 0) {
                host::CallResult::Success(_) => {}
                host::CallResult::Revert(data) | host::CallResult::Failure(data) => return Err(Revert(data)),
            }
        }
        Ok(())
    }

    /// What the registry knows of `chain_id`: known, parent, genesis hash, quorum,
    /// epochs, last checkpoint (height, block hash, state root, receipts root).
    #[view]
    pub fn chain_info(chain_id: u64) -> (bool, bool, B256, u32, u32, u64, B256, B256, B256) {
        match tracked(chain_id) {
            Ok(c) => (
                true,
                c.is_parent,
                c.genesis_hash,
                c.quorum,
                c.epochs,
                c.checkpoint.height,
                c.checkpoint.block_hash,
                c.checkpoint.state_root,
                c.checkpoint.receipts_root,
            ),
            Err(_) => (false, false, B256::ZERO, 0, 0, 0, B256::ZERO, B256::ZERO, B256::ZERO),
        }
    }

    /// The set that signs `height` of `chain_id`.
    #[view]
    pub fn validators_at(chain_id: u64, height: u64) -> Result<Vec<Address>, Refusal> {
        let chain = tracked(chain_id)?;
        Ok(epoch_at(chain_id, &chain, height)?.set_at(height).validators)
    }

    /// Follows a slot switch of `chain_id`: `link` is an RLP `SwitchLink` above the last
    /// one, certified by the set of its height. Anyone may submit it.
    pub fn update_validators(chain_id: u64, link: Bytes) -> Result<(), Refusal> {
        let mut chain = tracked(chain_id)?;
        let link = decode_exact::<SwitchLink>(&link).map_err(|e| refuse(Malformed { reason: format!("switch link: {e}") }))?;
        let height = link.header.number;
        let last = LAST_LINK.get(&chain_id);
        if height <= last {
            return Err(refuse(StaleLink { chain_id, height, last }));
        }
        let set = epoch_at(chain_id, &chain, height)?.set_at(height);
        check_quorum(&link.certificate, chain.quorum).map_err(|reason| refuse(BadCertificate { chain_id, height, reason }))?;
        let records = verify_link_with(&link, &set, chain_id, &HostRecover)
            .map_err(|e| refuse(BadCertificate { chain_id, height, reason: format!("{e}") }))?;
        // Links are followed in order: one that skips an earlier switch (which its own
        // records show) would leave heights verified with keys already replaced.
        if let Some(earlier) = records.iter().map(|r| r.last_switch).filter(|s| *s > last && *s < height).min() {
            return Err(refuse(StaleLink { chain_id, height: earlier, last }));
        }
        let from = height.saturating_add(1);
        let next = Epoch { from, validators: Vec::new(), records };
        // The switched keys sign from two blocks after the deciding one (the slot rule);
        // the epoch answers every height, the event names when the new set starts.
        let effective = height.saturating_add(2);
        let validators = next.set_at(effective).validators;
        EPOCHS.set(&(chain_id, u64::from(chain.epochs)), &alloy_rlp::encode(&next));
        chain.epochs = chain.epochs.saturating_add(1);
        store(chain_id, &chain);
        LAST_LINK.set(&chain_id, &height);
        ValidatorsUpdated { chain_id, from_height: effective, validators }.emit();
        Ok(())
    }

    /// Records a checkpoint of `chain_id`: `header` (RLP) finalized by `certificate` (RLP)
    /// of the set of its height, above the last checkpoint.
    pub fn checkpoint(chain_id: u64, header: Bytes, certificate: Bytes) -> Result<(), Refusal> {
        let mut chain = tracked(chain_id)?;
        let header = decode_exact::<Header>(&header).map_err(|e| refuse(Malformed { reason: format!("header: {e}") }))?;
        record_checkpoint(chain_id, &mut chain, &header, &certificate)
    }

    /// Verifies `relayed` (RLP `RelayedLog`) as a log of `chain_id` at or below its last
    /// checkpoint; returns its event key, emitter, topics, data and block number.
    #[view]
    pub fn verify_log(chain_id: u64, relayed: Bytes) -> Result<(B256, Address, Vec<B256>, Bytes, u64), Refusal> {
        let chain = tracked(chain_id)?;
        let relayed = decode_exact::<RelayedLog>(&relayed).map_err(|e| refuse(Malformed { reason: format!("relayed log: {e}") }))?;
        verify(chain_id, &chain, &relayed)
    }

    /// [`Registry::verify_log`], the relayed block first becoming the checkpoint if it is
    /// above the last one (its header and certificate, as relayed, checked as
    /// `checkpoint` checks them): one transaction settles a fresh event.
    pub fn verify_log_and_checkpoint(chain_id: u64, relayed: Bytes) -> Result<(B256, Address, Vec<B256>, Bytes, u64), Refusal> {
        let mut chain = tracked(chain_id)?;
        let relayed = decode_exact::<RelayedLog>(&relayed).map_err(|e| refuse(Malformed { reason: format!("relayed log: {e}") }))?;
        if relayed.bundle.header.number > chain.checkpoint.height {
            record_checkpoint(chain_id, &mut chain, &relayed.bundle.header, &relayed.bundle.certificate)?;
        }
        verify(chain_id, &chain, &relayed)
    }

    /// Admin only: stops following registered child `chain_id` (a squatted or wrong
    /// registration), which may then be registered again. The parent cannot be removed.
    pub fn deregister(chain_id: u64) -> Result<(), Refusal> {
        let by = only_admin()?;
        let chain = tracked(chain_id)?;
        if chain.is_parent {
            return Err(refuse(AlreadyKnown { chain_id }));
        }
        CHAINS.remove(&chain_id);
        for index in 0..chain.epochs {
            EPOCHS.remove(&(chain_id, u64::from(index)));
        }
        LAST_LINK.remove(&chain_id);
        ChainDeregistered { chain_id, by }.emit();
        Ok(())
    }

    /// Admin only.
    pub fn set_registration_fee(fee: U256) -> Result<(), Refusal> {
        only_admin()?;
        let previous = FEE.get();
        FEE.set(&fee);
        FeeChanged { previous, fee }.emit();
        Ok(())
    }

    /// Admin only; `Address::ZERO` gives the role up for good.
    pub fn set_admin(admin: Address) -> Result<(), Refusal> {
        let previous = only_admin()?;
        ADMIN.set(&admin);
        AdminChanged { previous, admin }.emit();
        Ok(())
    }
}
