//! The harness's blocks as another chain sees them: headers with real roots, commit
//! certificates signed by the test chain's validators, and logs proven for relay.
//!
//! Why: contracts that act on events of another chain (the chain registry, storage
//! deals) verify receipt proofs and certificates inside Wasm. Testing them needs a
//! source chain whose blocks are real: each [`TestChain`] block has a header (its
//! transactions and receipts roots as the node computes them, its state root), and
//! deterministic validator keys (four unless the test asks for more) sign what the test asks — a quorum, too few, or a
//! certificate by keys the registry does not know.

use strata_executor::ExecutedBlock;
use strata_primitives::{
    Address, B256, Bytes, CertSignature, CommitCertificate, Header, LocalSigner, Log, StoredReceipt, audit::ReceiptBundle, commit_digest,
    relay::RelayedLog, rlp as alloy_rlp,
};

use crate::TestChain;

/// Validators a test chain has unless made with [`TestChain::with_validators`].
pub const VALIDATORS: usize = 4;

/// One block of a test chain.
#[derive(Debug, Clone)]
pub(crate) struct BlockRecord {
    pub(crate) header: Header,
    pub(crate) hash: B256,
    /// EIP-2718 encodings of its transactions.
    pub(crate) transactions: Vec<Vec<u8>>,
    pub(crate) receipts: Vec<StoredReceipt>,
}

impl BlockRecord {
    /// The genesis block of a chain whose state root is `state_root`.
    pub(crate) fn genesis(chain_id: u64, timestamp: u64, gas_limit: u64, base_fee: u64, state_root: B256) -> Self {
        let header = Header {
            chain_id,
            number: 0,
            timestamp,
            state_root,
            transactions_root: strata_primitives::roots::transactions_root(&[]),
            receipts_root: strata_primitives::roots::receipts_root(&[]),
            gas_limit,
            base_fee_per_gas: base_fee,
            ..Header::default()
        };
        Self { hash: header.hash_slow(), header, transactions: Vec::new(), receipts: Vec::new() }
    }

    /// The block `executed` made, on top of `parent`, with state root `state_root`.
    pub(crate) fn sealed(parent: B256, executed: &ExecutedBlock, state_root: B256) -> Self {
        let env = executed.env;
        let header = Header {
            chain_id: env.chain_id,
            parent_hash: parent,
            number: env.number,
            timestamp: env.timestamp,
            proposer: env.proposer,
            state_root,
            transactions_root: executed.transactions_root,
            receipts_root: executed.receipts_root,
            logs_bloom: executed.logs_bloom,
            gas_limit: env.gas_limit,
            gas_used: executed.gas_used,
            base_fee_per_gas: env.base_fee,
            ..Header::default()
        };
        Self {
            hash: header.hash_slow(),
            header,
            transactions: executed.transactions.iter().map(|t| t.encoded().to_vec()).collect(),
            receipts: executed.receipts.clone(),
        }
    }
}

/// The test chain's validator `i` of chain `chain_id` (a fixed, public key).
pub fn validator_key(chain_id: u64, i: usize) -> LocalSigner {
    let secret = strata_primitives::keccak256(format!("strata/harness/validator/{chain_id}/{i}"));
    LocalSigner::from_bytes(&secret).expect("a keccak output is a valid key with overwhelming probability")
}

/// The root of the ordered trie of `items` and the proof of item `index`.
fn ordered_proof(items: &[Vec<u8>], index: usize) -> (B256, Vec<Bytes>) {
    strata_trie::ordered_proof(items, index).expect("a memory trie")
}

impl TestChain {
    /// This chain's id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Its validators' addresses (who sign [`TestChain::certificate`]s).
    pub fn validators(&self) -> Vec<Address> {
        (0..self.validators).map(|i| validator_key(self.chain_id, i).address()).collect()
    }

    /// The header of block `number`, if the chain has it.
    pub fn header(&self, number: u64) -> Option<Header> {
        self.blocks.get(usize::try_from(number).ok()?).map(|b| b.header.clone())
    }

    /// The hash of block `number` (what a contract's `block_hash` answers while it is in
    /// the window).
    pub fn block_hash(&self, number: u64) -> Option<B256> {
        self.blocks.get(usize::try_from(number).ok()?).map(|b| b.hash)
    }

    /// The last block's number.
    pub fn head(&self) -> u64 {
        self.number
    }

    /// A commit certificate (RLP) of block `number` signed by `keys` at the validator
    /// indices given (`(index, key)`): any keys, to test forgeries.
    pub fn certificate_by(&self, number: u64, signers: &[(u32, LocalSigner)]) -> Bytes {
        let hash = self.block_hash(number).expect("the chain has the block");
        let digest = commit_digest(self.chain_id, number, 0, hash);
        let signatures = signers.iter().map(|(i, k)| CertSignature::new(*i, &k.sign_hash(&digest).expect("signing a digest"))).collect();
        alloy_rlp::encode(CommitCertificate { height: number, view: 0, block_hash: hash, signatures }).into()
    }

    /// A commit certificate (RLP) of block `number` signed by this chain's validators
    /// `signers` (indices, increasing).
    pub fn certificate(&self, number: u64, signers: &[usize]) -> Bytes {
        let keys: Vec<(u32, LocalSigner)> = signers.iter().map(|&i| (i as u32, validator_key(self.chain_id, i))).collect();
        self.certificate_by(number, &keys)
    }

    /// Adds a block whose state also holds `entries` of `address`'s storage, written as the
    /// runtime writes its own accounts (validator-slot records, say), the account created
    /// if missing. Returns the block's number.
    pub fn write_storage(&mut self, address: Address, entries: &[(Vec<u8>, Vec<u8>)]) -> u64 {
        let mut writes = strata_state::StateChanges::default();
        let exists = strata_state::StateReader::account(&self.state, &address).ok().flatten().is_some();
        if !exists {
            writes.accounts.insert(address, Some(strata_primitives::Account { nonce: 1, ..Default::default() }));
        }
        let storage = writes.storage.entry(address).or_default();
        for (k, v) in entries {
            storage.insert(Bytes::copy_from_slice(k), Some(strata_primitives::Slot::Value(Bytes::copy_from_slice(v))));
        }
        self.advance_block_with(writes).expect("a block of direct writes commits");
        self.number
    }

    /// The proof of `address`'s account and of its storage at `keys` in the state after
    /// block `number` (one of the last 16): what `eth_getProof` answers.
    pub fn proofs(&self, number: u64, address: Address, keys: &[Vec<u8>]) -> (Vec<Bytes>, Vec<Vec<Bytes>>) {
        let root = self.header(number).expect("the chain has the block").state_root;
        let state = self.state.at_root(root);
        let account = state.account_proof(&address).expect("a retained state").proof;
        let keys: Vec<Bytes> = keys.iter().map(|k| Bytes::copy_from_slice(k)).collect();
        let storage = state.storage_proofs(&address, &keys).expect("a retained state").into_iter().map(|p| p.proof).collect();
        (account, storage)
    }

    /// The EIP-2718 receipt of transaction `index` of block `number`, as committed in its
    /// receipts root.
    pub fn raw_receipt(&self, number: u64, index: usize) -> Vec<u8> {
        self.blocks[usize::try_from(number).expect("a block number")].receipts[index].encoded_2718()
    }

    /// `log` of block `number` (as a [`crate::Receipt`] lists it), proven for relay:
    /// receipt and transaction proofs, the header, and a certificate by `signers`.
    pub fn relayed_log(&self, number: u64, log: &Log, signers: &[usize]) -> RelayedLog {
        let block = &self.blocks[usize::try_from(number).expect("a block number")];
        let (index, log_index) = block
            .receipts
            .iter()
            .enumerate()
            .find_map(|(i, r)| r.logs.iter().position(|l| l == log).map(|j| (i, j)))
            .unwrap_or_else(|| panic!("block {number} has no such log: {log:?}"));
        let receipts: Vec<Vec<u8>> = block.receipts.iter().map(|r| r.encoded_2718()).collect();
        let (root, proof) = ordered_proof(&receipts, index);
        debug_assert_eq!(root, block.header.receipts_root);
        let (_, transaction_proof) = ordered_proof(&block.transactions, index);
        RelayedLog {
            bundle: ReceiptBundle {
                index: index as u64,
                receipt: receipts[index].clone().into(),
                proof,
                transaction: block.transactions[index].clone().into(),
                transaction_proof,
                header: block.header.clone(),
                certificate: self.certificate(number, signers),
            },
            log_index: log_index as u64,
        }
    }
}
