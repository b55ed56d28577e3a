//! The runtime side of the storage market, besides the archive contract's ops
//! (`ops.rs`): quota accounting after each transaction, the purge of expired cold
//! copies at the start of each block, and the installation of the system contracts
//! (the fee contract at [`FEE_CONTRACT`], the archive contract at
//! [`ARCHIVE_CONTRACT`]) at genesis.

use std::sync::Arc;

use alloy_sol_types::SolValue;
use strata_primitives::{
    Account, Address, B256, Bytes, Slot, U256, hex,
    system::{
        ARCHIVE_CONTRACT, BLOCK_HASHES, CHAIN_REGISTRY, FEE_CONTRACT, PURGE_PREFIX, QuotaRecord, STORAGE_REGISTRY, block_hash_key,
        cold_key, is_system, parse_purge_key,
    },
};
use strata_state::{StateChanges, StateReader};
use strata_vm::{Entry, HostError, Status, Vm};

use crate::{
    BlockEnv, Error, Result,
    frame::run_frame,
    ops::{quota_record, set_quota_record},
    session::{Session, no_cold},
};

/// Purge-queue entries handled per block at most (the rest wait for the next block).
pub const MAX_PURGES_PER_BLOCK: usize = 1_000;

/// Storage bytes a transaction added and removed, for its receipt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StorageUse {
    pub(crate) added: u64,
    pub(crate) removed: u64,
    /// Hot storage bought by the deploy (code + initial quota).
    pub(crate) paid: u64,
}

/// After a successful message: counts each contract's storage change against its
/// quota and updates the records (in the message's layer, the newest). A deploy
/// creates the new contract's record — owner, the default quota (or what the
/// constructor used, if more) — and buys it together with the code. `Err(reason)`:
/// a quota would be exceeded; the caller discards the message.
pub(crate) fn account_storage(
    s: &mut Session,
    deployed: Option<(Address, Address, u64)>,
    default_quota: u64,
) -> Result<Result<StorageUse, String>, HostError> {
    type Touched = Vec<(Address, Vec<(Bytes, Option<Slot>)>)>;
    let touched: Touched = s
        .layers
        .last()
        .expect("message layer")
        .changes
        .storage
        .iter()
        .map(|(a, slots)| (*a, slots.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
        .collect();
    let mut out = StorageUse::default();
    let mut deploy_seen = false;
    for (address, slots) in touched {
        if is_system(&address) {
            continue;
        }
        let (mut add, mut rem) = (0u64, 0u64);
        for (key, new) in slots {
            let old = s.slot_before_tx(&address, &key)?.map_or(0, |o| o.hot_bytes(&key));
            let new = strata_state::live(new.as_ref()).map_or(0, |n| n.hot_bytes(&key));
            if new > old {
                add = add.saturating_add(new.saturating_sub(old));
            } else {
                rem = rem.saturating_add(old.saturating_sub(new));
            }
        }
        out.added = out.added.saturating_add(add);
        out.removed = out.removed.saturating_add(rem);
        let mut record = quota_record(s, &address)?;
        match deployed {
            Some((contract, owner, code_len)) if contract == address => {
                deploy_seen = true;
                let used = add.saturating_sub(rem);
                record = QuotaRecord { owner, quota: default_quota.max(used), used };
                out.paid = out.paid.saturating_add(record.quota).saturating_add(code_len);
            }
            _ => {
                let used = record.used.saturating_add(add).saturating_sub(rem);
                if add > rem && used > record.quota {
                    return Ok(Err(format!(
                        "storage quota exceeded: contract {address} would use {used} bytes of its {}-byte quota; its owner can raise it \
                         with setQuota on the archive contract {ARCHIVE_CONTRACT}, or archive entries",
                        record.quota
                    )));
                }
                record.used = used;
            }
        }
        set_quota_record(s, &address, &record);
    }
    if let Some((contract, owner, code_len)) = deployed
        && !deploy_seen
    {
        let record = QuotaRecord { owner, quota: default_quota, used: 0 };
        set_quota_record(s, &contract, &record);
        out.paid = out.paid.saturating_add(default_quota).saturating_add(code_len);
    }
    Ok(Ok(out))
}

/// Purges cold copies whose retention ended by `timestamp`: marks their tombstones
/// purged and removes their purge-queue entries (in `block`), and lists the cold
/// keys to delete. Runs first in every block, on the parent state, so every node
/// purges the same entries at the same block.
pub(crate) fn purge_expired(
    base: &(dyn StateReader + Send + Sync),
    timestamp: u64,
    block: &mut StateChanges,
    cold: &mut std::collections::BTreeMap<Vec<u8>, Option<Bytes>>,
) -> Result<usize> {
    let page = base.storage_scan(&STORAGE_REGISTRY, &[PURGE_PREFIX], None, MAX_PURGES_PER_BLOCK)?;
    let mut purged = 0usize;
    for (qkey, entry) in page {
        let Some((end, target, key)) = parse_purge_key(&qkey) else {
            return Err(Error::Host(format!("corrupt purge-queue key 0x{}", hex::encode(&qkey))));
        };
        if end > timestamp {
            break;
        }
        block.storage.entry(STORAGE_REGISTRY).or_default().insert(qkey.clone(), None);
        let expected = entry.value().map(|v| &v[..]);
        // A queue entry is stale if the key was restored (and maybe archived again) since.
        if let Some(Slot::Tombstone(mut t)) = base.slot(&target, key)?
            && t.retention_end == end
            && !t.purged
            && expected == Some(t.value_hash.as_slice())
        {
            cold.insert(cold_key(&target, key, &t.value_hash, end), None);
            t.purged = true;
            block.storage.entry(target).or_default().insert(Bytes::copy_from_slice(key), Some(Slot::Tombstone(t)));
            purged = purged.saturating_add(1);
        }
    }
    Ok(purged)
}

/// Records the parent's hash in the block-hash history ([`BLOCK_HASHES`]) at the start
/// of block `env.number`, creating the codeless account on a chain's first block.
pub fn record_parent_hash(base: &(dyn StateReader + Send + Sync), env: BlockEnv, block: &mut StateChanges) -> Result<()> {
    let Some(parent) = env.number.checked_sub(1) else { return Ok(()) };
    if base.account(&BLOCK_HASHES)?.is_none() && !block.accounts.contains_key(&BLOCK_HASHES) {
        block.accounts.insert(BLOCK_HASHES, Some(Account { nonce: 1, ..Account::default() }));
    }
    let value = Slot::Value(Bytes::copy_from_slice(env.parent_hash.as_slice()));
    block.storage.entry(BLOCK_HASHES).or_default().insert(Bytes::copy_from_slice(&block_hash_key(parent)), Some(value));
    Ok(())
}

/// The compiled fee contract installed at genesis (`runtime/executor/system-contracts`,
/// rebuilt by `scripts/build-system-contracts.sh`). Committed bytes, so a new
/// compiler cannot change a chain's genesis.
pub const FEE_WASM: &[u8] = include_bytes!("../system-contracts/fee.wasm");
/// The compiled archive contract installed at genesis.
pub const ARCHIVE_WASM: &[u8] = include_bytes!("../system-contracts/archive.wasm");
/// The compiled chain registry installed at genesis.
pub const REGISTRY_WASM: &[u8] = include_bytes!("../system-contracts/registry.wasm");

/// The chain registry's genesis settings (its constructor arguments besides the admin).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryGenesis {
    /// What registering a child chain costs anyone but the admin (0: the admin only).
    pub registration_fee: U256,
    /// The parent chain this chain follows (`None`: a main chain).
    pub parent: Option<ParentChain>,
}

/// A chain's parent, as its genesis names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentChain {
    /// Its chain id.
    pub chain_id: u64,
    /// Its registry (where this chain registers), normally the system address.
    pub registry: Address,
    /// Its genesis block's hash.
    pub genesis_hash: B256,
    /// Its validators at genesis.
    pub validators: Vec<Address>,
    /// Signatures its certificates need (at least 2f+1 of `validators`).
    pub quorum: u32,
}

/// The fee contract's initial price table (its constructor arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prices {
    /// Wei per gas unit (the base fee).
    pub gas_price: u64,
    /// Wei per unit of fuel.
    pub fuel_price: U256,
    /// Wei per transaction byte per validator.
    pub network_byte_price: U256,
    /// Wei per byte of hot storage bought.
    pub storage_byte_price: U256,
    /// Wei per byte-day of cold retention.
    pub cold_byte_day_price: U256,
    /// Retention when an archive request names none (seconds).
    pub default_retention_seconds: u64,
    /// Quota of a newly deployed contract (bytes).
    pub default_quota_bytes: u64,
}

impl Prices {
    /// The development chain's prices: 1 gwei per gas, and resources priced so that a
    /// gas of compute costs what a gas costs (fuel is a tenth of a gas).
    pub fn dev() -> Self {
        const GWEI: u64 = 1_000_000_000;
        Self {
            gas_price: GWEI,
            fuel_price: U256::from(GWEI / strata_vm::gas::FUEL_PER_GAS),
            network_byte_price: U256::from(16 * GWEI),
            storage_byte_price: U256::from(50 * GWEI),
            cold_byte_day_price: U256::from(GWEI / 10),
            default_retention_seconds: 30 * 24 * 3600,
            default_quota_bytes: 4 * 1024,
        }
    }
}

/// Installs `code` at `address` as genesis does a system contract: no deploy
/// transaction (so no size limit of one), the constructor run with `ctor` on `base` plus
/// `changes`, into which the result goes. Fails if the constructor does.
pub fn install_contract(
    vm: &Arc<Vm>,
    base: Arc<dyn StateReader + Send + Sync>,
    env: BlockEnv,
    changes: &mut StateChanges,
    address: Address,
    code: &[u8],
    ctor: Vec<u8>,
) -> Result<()> {
    let contract = vm.prepare_system(code).map_err(|e| Error::Host(format!("genesis: system contract {address}: {e}")))?;
    let mut session = Session::new(base, vm.clone(), env, no_cold(), std::mem::take(changes), Default::default(), Address::ZERO);
    session.set_account(address, Account { nonce: 1, code_hash: contract.code_hash, ..Account::default() });
    session.top().changes.code.insert(contract.code_hash, Bytes::copy_from_slice(code));
    let ctx = session.context(address, Address::ZERO, U256::ZERO, false, 0);
    let (mut session, outcome) = run_frame(session, ctx, &contract, Entry::Deploy, ctor, 100_000_000);
    let outcome = outcome?;
    if outcome.status != Status::Success {
        return Err(Error::Host(format!(
            "genesis: constructor of {address} failed: {:?} 0x{}",
            outcome.status,
            hex::encode(&outcome.output)
        )));
    }
    let layer = session.layers.pop().expect("genesis layer");
    *changes = std::mem::take(&mut session.block);
    changes.extend(layer.changes);
    Ok(())
}

/// Installs the system contracts on top of `base` (the genesis allocation): runs
/// their constructors and creates the registry account. Fails if a constructor does.
pub fn install(
    vm: &Arc<Vm>,
    base: Arc<dyn StateReader + Send + Sync>,
    env: BlockEnv,
    admin: Address,
    prices: &Prices,
    registry: &RegistryGenesis,
) -> Result<StateChanges> {
    let fee_ctor = (
        admin,
        U256::from(prices.gas_price),
        prices.fuel_price,
        prices.network_byte_price,
        prices.storage_byte_price,
        prices.cold_byte_day_price,
        prices.default_retention_seconds,
        prices.default_quota_bytes,
    )
        .abi_encode_params();
    let parent = registry.parent.clone().unwrap_or(ParentChain {
        chain_id: 0,
        registry: Address::ZERO,
        genesis_hash: B256::ZERO,
        validators: Vec::new(),
        quorum: 0,
    });
    let registry_ctor =
        (admin, registry.registration_fee, parent.chain_id, parent.registry, parent.genesis_hash, parent.validators, parent.quorum)
            .abi_encode_params();
    let mut changes = StateChanges::default();
    for (address, code, ctor) in
        [(FEE_CONTRACT, FEE_WASM, fee_ctor), (ARCHIVE_CONTRACT, ARCHIVE_WASM, Vec::new()), (CHAIN_REGISTRY, REGISTRY_WASM, registry_ctor)]
    {
        install_contract(vm, base.clone(), env, &mut changes, address, code, ctor)?;
    }
    changes.accounts.insert(STORAGE_REGISTRY, Some(Account { nonce: 1, ..Account::default() }));
    Ok(changes)
}
