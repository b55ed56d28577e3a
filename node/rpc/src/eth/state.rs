//! State reads: `eth_getBalance`, `eth_getTransactionCount`, `eth_getCode`,
//! `eth_getStorageAt` and `eth_getProof`, and which state a query reads
//! ([`StateView`]: the flat latest view, or a retained block's trie).

use alloy_primitives::U64;
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use strata_chain::StateUnavailable;
use strata_primitives::{Account, Address, B256, Bytes, KECCAK_EMPTY, U256};
use strata_state::{HistoricalState, StateDb, StateReader};

use super::EthRpc;
use crate::{
    MAX_PROOF_KEYS,
    error::{exec_error, internal, invalid_params},
    types::{BlockId, BlockTag, Eip1186Proof, Eip1186StorageProof, StorageKey},
};

/// Account state: balances, nonces, code, storage slots and their proofs.
#[rpc(server)]
pub trait EthStateApi {
    /// Balance of an account.
    #[method(name = "eth_getBalance")]
    fn get_balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;
    /// Nonce of an account (`pending` counts pooled transactions).
    #[method(name = "eth_getTransactionCount")]
    fn get_transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64>;
    /// Code of an account.
    #[method(name = "eth_getCode")]
    fn get_code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes>;
    /// A 32-byte storage slot (Ethereum's view of storage; longer values are refused).
    #[method(name = "eth_getStorageAt")]
    fn get_storage_at(&self, address: Address, slot: StorageKey, block: Option<BlockId>) -> RpcResult<B256>;
    /// EIP-1186 account and storage proofs against the block's state root.
    #[method(name = "eth_getProof", blocking)]
    fn get_proof(&self, address: Address, keys: Vec<StorageKey>, block: Option<BlockId>) -> RpcResult<Eip1186Proof>;
}

/// What a state query reads: the flat latest view (`latest`, `pending`), or a retained
/// block's trie (a number, `earliest` or a hash — even the head's number).
pub(crate) enum StateView {
    /// The flat latest state; `pending`: the caller asked for `pending`.
    Latest { pending: bool },
    /// Block `number`'s state.
    At { number: u64, state: HistoricalState },
}

impl StateView {
    /// The reader of this view; `latest` is the chain's flat state.
    pub(crate) fn reader<'a>(&'a self, latest: &'a StateDb) -> &'a dyn StateReader {
        match self {
            StateView::Latest { .. } => latest,
            StateView::At { state, .. } => state,
        }
    }
}

impl EthRpc {
    /// Which state a query reads: the flat latest view for `latest`/`pending` (the
    /// default), else the retained trie of the named block.
    pub(crate) fn state_view(&self, block: Option<BlockId>) -> RpcResult<StateView> {
        match block.unwrap_or_default() {
            BlockId::Tag(BlockTag::Latest) => Ok(StateView::Latest { pending: false }),
            BlockId::Tag(BlockTag::Pending) => Ok(StateView::Latest { pending: true }),
            id => {
                let number = self.required_number_for_id(Some(id))?;
                Ok(StateView::At { number, state: self.state_at(number)? })
            }
        }
    }

    /// The retained trie state a proof is taken against (`latest` = the head block).
    pub(crate) fn proof_state(&self, block: Option<BlockId>) -> RpcResult<HistoricalState> {
        self.state_at(self.required_number_for_id(block)?)
    }

    /// Block `number`'s state: `-32000` if the block is past the head or its state pruned.
    fn state_at(&self, number: u64) -> RpcResult<HistoricalState> {
        self.chain.state_at(number).map_err(|e| match e {
            StateUnavailable::Node(m) => internal(m),
            other => exec_error(other.to_string()),
        })
    }

    pub(crate) fn account_in(&self, state: &StateView, address: &Address) -> RpcResult<Account> {
        Ok(state.reader(self.chain.state()).account(address).map_err(internal)?.unwrap_or_default())
    }
}

/// Refuses a proof of more than [`MAX_PROOF_KEYS`] keys (`-32602`).
pub(crate) fn check_proof_keys(n: usize) -> RpcResult<()> {
    if n > MAX_PROOF_KEYS {
        return Err(invalid_params(format!("{n} storage keys requested; at most {MAX_PROOF_KEYS} per request")));
    }
    Ok(())
}

/// A stored value as a 32-byte word: big-endian, left-padded (Ethereum's view).
fn word_value(value: Option<&[u8]>) -> RpcResult<U256> {
    match value {
        None => Ok(U256::ZERO),
        Some(v) if v.len() <= 32 => Ok(U256::from_be_slice(v)),
        Some(v) => Err(exec_error(format!("slot value is {} bytes, longer than a 32-byte word: use strata_getProof", v.len()))),
    }
}

impl EthStateApiServer for EthRpc {
    fn get_balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        let state = self.state_view(block)?;
        Ok(self.account_in(&state, &address)?.balance)
    }

    fn get_transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64> {
        let state = self.state_view(block)?;
        let nonce = match state {
            StateView::Latest { pending: true } => self.chain.pending_nonce(&address).map_err(internal)?,
            other => self.account_in(&other, &address)?.nonce,
        };
        Ok(U64::from(nonce))
    }

    fn get_code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes> {
        let state = self.state_view(block)?;
        let account = self.account_in(&state, &address)?;
        if account.code_hash == KECCAK_EMPTY {
            return Ok(Bytes::new());
        }
        self.chain
            .state()
            .code(&account.code_hash)
            .map_err(internal)?
            .ok_or_else(|| internal(format!("code {} of {address} missing", account.code_hash)))
    }

    fn get_storage_at(&self, address: Address, slot: StorageKey, block: Option<BlockId>) -> RpcResult<B256> {
        let state = self.state_view(block)?;
        let value = state.reader(self.chain.state()).storage(&address, slot.word.as_slice()).map_err(internal)?;
        Ok(B256::from(word_value(value.as_deref())?))
    }

    fn get_proof(&self, address: Address, keys: Vec<StorageKey>, block: Option<BlockId>) -> RpcResult<Eip1186Proof> {
        check_proof_keys(keys.len())?;
        let state = self.proof_state(block)?;
        let account = state.account_proof(&address).map_err(internal)?;
        let raw_keys: Vec<Bytes> = keys.iter().map(|k| Bytes::copy_from_slice(k.word.as_slice())).collect();
        let proofs = state.storage_proofs(&address, &raw_keys).map_err(internal)?;
        // An archived slot shows value 0 here; its tombstone is in `strata_getProof`.
        let storage_proof = keys
            .into_iter()
            .zip(proofs)
            .map(|(key, p)| {
                let value = word_value(p.value.as_ref().and_then(|s| s.value()).map(|v| &v[..]))?;
                Ok(Eip1186StorageProof { key: key.original, value, proof: p.proof })
            })
            .collect::<RpcResult<Vec<_>>>()?;
        let a = account.account.unwrap_or_default();
        Ok(Eip1186Proof {
            address,
            account_proof: account.proof,
            balance: a.balance,
            code_hash: a.code_hash,
            nonce: U64::from(a.nonce),
            storage_hash: a.storage_root,
            storage_proof,
        })
    }
}
