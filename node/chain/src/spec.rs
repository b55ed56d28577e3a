//! Chain configuration and genesis.

use std::collections::BTreeMap;

use strata_primitives::{Account, Address, B256, Block, EMPTY_ROOT_HASH, Header, U256, keccak256, keys, roots};
use strata_state::{StateChanges, StateDb};
use strata_storage::{MemKv, WriteBatch};

/// Default chain id of `strata dev` (the id local Ethereum tooling expects).
pub const DEV_CHAIN_ID: u64 = 1337;

/// Everything that defines a chain's genesis and rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSpec {
    /// Chain id transactions must be signed for.
    pub chain_id: u64,
    /// Gas limit of every block.
    pub gas_limit: u64,
    /// Base fee per gas (constant; resource pricing replaces it with the fee contract).
    pub base_fee: u64,
    /// Genesis timestamp.
    pub genesis_timestamp: u64,
    /// Prefunded balances.
    pub alloc: BTreeMap<Address, U256>,
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
        Self { chain_id, gas_limit: 30_000_000, base_fee: 1_000_000_000, genesis_timestamp: 0, alloc }
    }

    /// Genesis state changes.
    pub fn genesis_changes(&self) -> StateChanges {
        StateChanges {
            accounts: self.alloc.iter().map(|(a, b)| (*a, Some(Account::with_balance(*b)))).collect(),
            storage: Default::default(),
            code: Default::default(),
        }
    }

    /// The genesis block: a pure function of the spec, whatever a store holds.
    pub fn genesis(&self) -> crate::Result<Block> {
        let scratch = StateDb::new(MemKv::shared(), 1);
        let state_root = scratch.commit(0, EMPTY_ROOT_HASH, &self.genesis_changes(), &mut WriteBatch::new())?;
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
            base_fee_per_gas: self.base_fee,
            parent_commit_hash: B256::ZERO,
            liveness_root: B256::ZERO,
            extensions: Vec::new(),
        };
        Ok(Block { header, transactions: Vec::new() })
    }
}

/// The single dev validator's address: fees of `strata dev` blocks go here.
/// Derived from a fixed label, so it is none of the funded test accounts and
/// balances of those accounts only change by what their transactions do.
pub fn dev_proposer() -> Address {
    let secret = keccak256(b"strata/dev/validator/0");
    strata_primitives::LocalSigner::from_bytes(&secret).expect("a keccak output is a valid key with overwhelming probability").address()
}
