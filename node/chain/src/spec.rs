//! Chain configuration and genesis.

use std::{collections::BTreeMap, sync::Arc};

use strata_executor::{
    BlockEnv, Payees,
    rules::ChainRules,
    system::{Prices, RegistryGenesis},
};
use strata_primitives::{
    Account, Address, B256, Block, EMPTY_ROOT_HASH, FixedValidators, Header, U256, ValidatorSet, ValidatorSets, keccak256, keys, roots,
    slots::{SlotParams, SlotRecord},
};
use strata_state::{StateChanges, StateDb};
use strata_storage::{MemKv, WriteBatch};
use strata_vm::Vm;

/// Default chain id of `strata dev` (the id local Ethereum tooling expects).
pub const DEV_CHAIN_ID: u64 = 1337;

/// The kind of disk a validator declares it keeps state on; fee splits may weigh by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StorageClass {
    /// NVMe solid-state.
    Nvme,
    /// SATA solid-state.
    Ssd,
    /// Spinning disk.
    Hdd,
}

impl std::str::FromStr for StorageClass {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "nvme" => Ok(Self::Nvme),
            "ssd" => Ok(Self::Ssd),
            "hdd" => Ok(Self::Hdd),
            other => Err(format!("unknown storage class `{other}` (nvme, ssd or hdd)")),
        }
    }
}

/// A validator, as the chain's fee split sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeRecipient {
    /// Where its share of fees goes.
    pub address: Address,
    /// The storage it declares.
    pub storage_class: StorageClass,
}

/// How the fees of each transaction are split among the validators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeeSplit {
    /// Equal shares.
    Equal,
    /// Shares weighted by each validator's declared storage class.
    ByStorageClass {
        /// Weight of an NVMe validator.
        nvme: u64,
        /// Weight of an SSD validator.
        ssd: u64,
        /// Weight of an HDD validator.
        hdd: u64,
    },
}

impl FeeSplit {
    /// The default weighting by storage class: NVMe 3, SSD 2, HDD 1.
    pub const BY_STORAGE_CLASS: FeeSplit = FeeSplit::ByStorageClass { nvme: 3, ssd: 2, hdd: 1 };
}

/// Everything that defines a chain's genesis and rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSpec {
    /// Chain id transactions must be signed for.
    pub chain_id: u64,
    /// Gas limit of every block.
    pub gas_limit: u64,
    /// Genesis timestamp.
    pub genesis_timestamp: u64,
    /// Prefunded balances.
    pub alloc: BTreeMap<Address, U256>,
    /// The chain's admin key: the only account that may change the fee contract's prices.
    pub admin: Address,
    /// The fee contract's initial price table.
    pub prices: Prices,
    /// Who fees are paid to (on a validator network, the validators, with their declared
    /// storage; a dev chain may pay others than its one signer).
    pub fee_recipients: Vec<FeeRecipient>,
    /// How fees are split among them.
    pub fee_split: FeeSplit,
    /// The validators that run consensus at genesis: they sign commit certificates and
    /// propose. Which validators decide a given height is [`ChainSpec::validator_sets`]'s
    /// answer.
    pub validators: ValidatorSet,
    /// Whether every block above height 1 must carry its parent's commit certificate:
    /// true for every chain run by validators (dev included), so that a node syncing
    /// later can check each block. See [`ChainRules::requires_certificates`].
    pub requires_certificates: bool,
    /// Validator slots with primary and backup machines (`None`: one machine per seat,
    /// the genesis set at every height). Slot `i`'s primary is validator `i` of
    /// [`ChainSpec::validators`]; the active keys then come from state
    /// (see [`strata_primitives::slots`]).
    pub slots: Option<SlotGenesis>,
    /// Blocks a certified transaction has to be included: a storage certificate signed
    /// as of height `h` promises inclusion by `h + certified_expiry`.
    pub certified_expiry: u64,
    /// The chain registry's settings: the registration fee and the parent chain.
    pub registry: RegistryGenesis,
}

/// The default of [`ChainSpec::certified_expiry`].
pub const DEFAULT_CERTIFIED_EXPIRY: u64 = 8;

/// The validator slots a genesis declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotGenesis {
    /// Window, cooldown, number of slots.
    pub params: SlotParams,
    /// The slots, primaries active.
    pub slots: Vec<SlotRecord>,
}

impl ChainSpec {
    /// The dev chain: the ten public test accounts of the `test … junk` mnemonic,
    /// 10,000 ETH each.
    pub fn dev(chain_id: u64) -> Self {
        let ether = U256::from(10u64).pow(U256::from(18));
        let alloc = keys::derive_accounts(keys::DEV_MNEMONIC, 10)
            .expect("the dev mnemonic derives")
            .into_iter()
            .map(|k| (k.signer.address(), ether * U256::from(10_000u64)))
            .collect();
        let admin = keys::derive_accounts(keys::DEV_MNEMONIC, 1).expect("the dev mnemonic derives")[0].signer.address();
        Self {
            chain_id,
            gas_limit: 30_000_000,
            genesis_timestamp: 0,
            alloc,
            admin,
            prices: Prices::dev(),
            fee_recipients: vec![FeeRecipient { address: dev_proposer(), storage_class: StorageClass::Nvme }],
            fee_split: FeeSplit::Equal,
            validators: ValidatorSet::new(vec![dev_proposer()]),
            requires_certificates: true,
            slots: None,
            certified_expiry: DEFAULT_CERTIFIED_EXPIRY,
            registry: RegistryGenesis::default(),
        }
    }

    /// The header rules blocks of this chain are checked against.
    pub fn rules(&self) -> ChainRules {
        ChainRules {
            chain_id: self.chain_id,
            gas_limit: self.gas_limit,
            validators: self.validator_sets(),
            requires_certificates: self.requires_certificates,
        }
    }

    /// The validators of every height: the genesis set (a chain whose set changes with
    /// its state implements [`ValidatorSets`] over its state instead).
    pub fn validator_sets(&self) -> Arc<dyn ValidatorSets> {
        Arc::new(FixedValidators::new(self.validators.clone()))
    }

    /// The fee recipients' weights, in order.
    pub fn payees(&self) -> Payees {
        let weight = |c: StorageClass| match self.fee_split {
            FeeSplit::Equal => 1,
            FeeSplit::ByStorageClass { nvme, ssd, hdd } => match c {
                StorageClass::Nvme => nvme,
                StorageClass::Ssd => ssd,
                StorageClass::Hdd => hdd,
            },
        };
        self.fee_recipients.iter().map(|v| (v.address, weight(v.storage_class))).collect::<Vec<_>>().into()
    }

    /// Copies of each transaction the network carries (one per fee-receiving validator,
    /// at least 1): a transaction's network fee is per copy.
    pub fn replicas(&self) -> u64 {
        (self.fee_recipients.len() as u64).max(1)
    }

    /// Genesis state changes: the allocation, then the system contracts (whose
    /// constructors run in `vm`).
    pub fn genesis_changes(&self, vm: &Arc<Vm>) -> crate::Result<StateChanges> {
        let mut changes = StateChanges {
            accounts: self.alloc.iter().map(|(a, b)| (*a, Some(Account::with_balance(*b)))).collect(),
            storage: Default::default(),
            code: Default::default(),
        };
        // The constructors run on the allocation (a scratch copy of it).
        let kv = MemKv::shared();
        let scratch = StateDb::new(kv.clone(), 1);
        let mut batch = WriteBatch::new();
        scratch.commit(0, EMPTY_ROOT_HASH, &changes, &mut batch)?;
        kv.write(batch)?;
        let env = BlockEnv {
            chain_id: self.chain_id,
            number: 0,
            parent_hash: B256::ZERO,
            timestamp: self.genesis_timestamp,
            proposer: Address::ZERO,
            gas_limit: self.gas_limit,
            base_fee: self.prices.gas_price,
            replicas: self.replicas(),
        };
        changes.extend(strata_executor::system::install(vm, Arc::new(scratch), env, self.admin, &self.prices, &self.registry)?);
        if let Some(slots) = &self.slots {
            changes.extend(strata_executor::slots::genesis(slots.params, slots.slots.clone()));
        }
        Ok(changes)
    }

    /// The genesis block: a pure function of the spec, whatever a store holds.
    pub fn genesis(&self, vm: &Arc<Vm>) -> crate::Result<Block> {
        let scratch = StateDb::new(MemKv::shared(), 1);
        let state_root = scratch.commit(0, EMPTY_ROOT_HASH, &self.genesis_changes(vm)?, &mut WriteBatch::new())?;
        let header = Header {
            chain_id: self.chain_id,
            parent_hash: B256::ZERO,
            number: 0,
            timestamp: self.genesis_timestamp,
            proposer: Address::ZERO,
            state_root,
            transactions_root: roots::transactions_root(&[]),
            receipts_root: roots::receipts_root(&[]),
            logs_bloom: Default::default(),
            gas_limit: self.gas_limit,
            gas_used: 0,
            base_fee_per_gas: self.prices.gas_price,
            parent_commit_hash: B256::ZERO,
            liveness_root: B256::ZERO,
            extensions: Vec::new(),
        };
        Ok(Block { header, transactions: Vec::new(), liveness: Default::default() })
    }
}

/// The single dev validator's key (a fixed, public key: dev chains only).
pub fn dev_validator_key() -> strata_primitives::LocalSigner {
    let secret = keccak256(b"strata/dev/validator/0");
    strata_primitives::LocalSigner::from_bytes(&secret).expect("a keccak output is a valid key with overwhelming probability")
}

/// The single dev validator's address: fees of `strata dev` blocks go here.
/// Derived from a fixed label, so it is none of the funded test accounts and
/// balances of those accounts only change by what their transactions do.
pub fn dev_proposer() -> Address {
    dev_validator_key().address()
}
