//! A test chain for contract authors, usable from a contract crate's `cargo test`.
//!
//! Why: tests that run a contract as native Rust prove little about the Wasm that
//! will be deployed. [`TestChain`] runs the **compiled module** in the **real
//! runtime** — the same executor, engine, metering and limits as the chain — over
//! in-memory state, one block per transaction, with ten funded accounts, block-time
//! travel, and a per-resource usage report for every call.
//!
//! ```ignore
//! let wasm = strata_harness::build_contract(env!("CARGO_MANIFEST_DIR"))?;
//! let mut chain = TestChain::new();
//! let token = chain.deploy(0, &wasm, &ctor_args)?.contract_address.unwrap();
//! let ok = chain.call_sol(0, token, &transferCall { to, amount })?;
//! ```

use std::{path::Path, process::Command, sync::Arc};

use alloy_sol_types::{SolCall, SolError};
use strata_executor::{Applied, BlockBuilder, BlockEnv, Simulation, system::Prices};
use strata_primitives::{
    Address, B256, Bytes, EMPTY_ROOT_HASH, LocalSigner, Log, RecoveredTx, ResourceUsage, U256, deploy, keys, transaction::build,
};
use strata_state::{StateChanges, StateDb, StateReader};
use strata_storage::{MemKv, WriteBatch};
use strata_vm::{Vm, VmConfig};

pub use strata_primitives::TxKind;

pub mod blocks;
pub mod shrink;

/// Harness errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Building the contract failed.
    #[error("building the contract failed: {0}")]
    Build(String),
    /// The transaction was not valid (nonce, funds…).
    #[error("transaction refused: {0}")]
    Refused(String),
    /// The call reverted or failed.
    #[error("call failed: {0}")]
    Failed(Box<Receipt>),
    /// The runtime failed.
    #[error("runtime failure: {0}")]
    Runtime(String),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The chain id of [`TestChain::new`].
pub const CHAIN_ID: u64 = 1337;
/// Gas limit of every block.
const GAS_LIMIT: u64 = 30_000_000;
/// Receives the fees of the harness's blocks.
const PROPOSER: Address = Address::repeat_byte(0xfe);

/// What one transaction did.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// Whether it succeeded.
    pub success: bool,
    /// Gas used (as Ethereum clients see it).
    pub gas_used: u64,
    /// Return or revert data.
    pub output: Vec<u8>,
    /// Failure reason (trap, out of gas, limit, refused deploy).
    pub failure: Option<String>,
    /// Logs of the contract(s), without Strata's resource log.
    pub logs: Vec<Log>,
    /// Resources used.
    pub resources: ResourceUsage,
    /// A created contract.
    pub contract_address: Option<Address>,
    /// The block that holds it (0 for a read-only call).
    pub block_number: u64,
}

impl std::fmt::Display for Receipt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} gas={} fuel={} tx_bytes={} storage+={} storage-={} logs={}",
            if self.success { "ok" } else { "FAILED" },
            self.gas_used,
            self.resources.fuel,
            self.resources.tx_bytes,
            self.resources.storage_bytes_added,
            self.resources.storage_bytes_removed,
            self.logs.len()
        )?;
        if let Some(r) = &self.failure {
            write!(f, " reason={r}")?;
        }
        if !self.success && !self.output.is_empty() {
            write!(f, " revert=0x{}", strata_primitives::hex::encode(&self.output))?;
        }
        Ok(())
    }
}

/// The revert data of `r` decoded as the custom error `E` (panics, saying what came
/// instead, if it is not one).
pub fn error_of<E: SolError>(r: &Receipt) -> E {
    E::abi_decode(&r.output).unwrap_or_else(|_| panic!("expected {}, got {r}", E::SIGNATURE))
}

/// The receipt of a call that must have failed on chain (panics on a success or on any
/// other error).
pub fn failed<T: std::fmt::Debug>(result: Result<T>) -> Box<Receipt> {
    match result {
        Err(Error::Failed(r)) => r,
        other => panic!("expected a failed call, got {other:?}"),
    }
}

/// A single-node chain in memory.
pub struct TestChain {
    kv: strata_storage::SharedKv,
    cold: strata_storage::SharedKv,
    state: StateDb,
    vm: Arc<Vm>,
    accounts: Vec<LocalSigner>,
    root: B256,
    number: u64,
    timestamp: u64,
    chain_id: u64,
    /// How many validators sign its certificates.
    validators: usize,
    /// Every block from genesis, by number.
    blocks: Vec<blocks::BlockRecord>,
    /// Receipts of every transaction, in order.
    pub receipts: Vec<Receipt>,
}

impl Default for TestChain {
    fn default() -> Self {
        Self::new()
    }
}

/// Something that names a sender: an account index or one of the chain's keys.
pub trait Sender {
    /// The index among the chain's accounts.
    fn index(&self) -> usize;
}

impl Sender for usize {
    fn index(&self) -> usize {
        *self
    }
}

impl TestChain {
    /// A chain whose ten accounts (the dev mnemonic's) hold 10,000 ETH each.
    pub fn new() -> Self {
        Self::with_chain_id(CHAIN_ID)
    }

    /// [`TestChain::with_chain_id`] whose certificates are signed by `validators` keys.
    pub fn with_validators(chain_id: u64, validators: usize) -> Self {
        Self { validators, ..Self::with_chain_id(chain_id) }
    }

    /// [`TestChain::new`] with another chain id (two chains relaying to each other).
    pub fn with_chain_id(chain_id: u64) -> Self {
        let kv = MemKv::shared();
        let state = StateDb::new(kv.clone(), 16);
        let vm = Arc::new(Vm::new(VmConfig::default()).expect("the engine starts"));
        let accounts: Vec<LocalSigner> =
            keys::derive_accounts(keys::DEV_MNEMONIC, 10).expect("dev keys").into_iter().map(|k| k.signer).collect();
        let ether = U256::from(10u64).pow(U256::from(18));
        let mut genesis = StateChanges::default();
        for a in &accounts {
            genesis.accounts.insert(a.address(), Some(strata_primitives::Account::with_balance(ether * U256::from(10_000u64))));
        }
        let mut batch = WriteBatch::new();
        let alloc_root = state.commit(0, EMPTY_ROOT_HASH, &genesis, &mut batch).expect("genesis commits");
        kv.write(batch).expect("memory write");
        // The system contracts (fees, archive) as on every Strata chain; account 0 is the admin.
        let timestamp = 1_700_000_000;
        let env = BlockEnv {
            chain_id,
            number: 0,
            parent_hash: B256::ZERO,
            timestamp,
            proposer: PROPOSER,
            gas_limit: GAS_LIMIT,
            base_fee: Prices::dev().gas_price,
            replicas: 1,
        };
        let system =
            strata_executor::system::install(&vm, Arc::new(state.clone()), env, accounts[0].address(), &Prices::dev(), &Default::default())
                .expect("the system contracts install");
        let mut batch = WriteBatch::new();
        let root = state.commit(0, alloc_root, &system, &mut batch).expect("genesis commits");
        kv.write(batch).expect("memory write");
        let genesis = blocks::BlockRecord::genesis(chain_id, timestamp, GAS_LIMIT, Prices::dev().gas_price, root);
        Self {
            kv,
            cold: MemKv::shared(),
            state,
            vm,
            accounts,
            root,
            number: 0,
            timestamp,
            chain_id,
            validators: blocks::VALIDATORS,
            blocks: vec![genesis],
            receipts: Vec::new(),
        }
    }

    /// Address of account `i`.
    pub fn address(&self, i: usize) -> Address {
        self.accounts[i].address()
    }

    /// Balance of any account.
    pub fn balance(&self, who: Address) -> U256 {
        self.state.account(&who).ok().flatten().unwrap_or_default().balance
    }

    /// The block number the next transaction runs in.
    pub fn block_number(&self) -> u64 {
        self.number + 1
    }

    /// The timestamp the next transaction sees.
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// Moves time forward.
    pub fn advance_time(&mut self, seconds: u64) {
        self.timestamp += seconds;
    }

    /// Adds `n` empty blocks.
    pub fn advance_blocks(&mut self, n: u64) {
        for _ in 0..n {
            self.advance_block_with(StateChanges::default()).expect("an empty block commits");
        }
    }

    /// Adds a block without transactions whose state changes also hold `writes`.
    fn advance_block_with(&mut self, writes: StateChanges) -> Result<()> {
        let payees: strata_executor::Payees = Arc::new([(PROPOSER, 1)]);
        let env = self.env()?;
        let builder = BlockBuilder::new(env, Arc::new(self.state.clone()), self.vm.clone(), self.cold.clone(), payees)
            .map_err(|e| Error::Runtime(e.to_string()))?;
        let mut executed = builder.finish();
        executed.changes.extend(writes);
        self.seal(executed)
    }

    /// Commits `executed` as the next block and records its header.
    fn seal(&mut self, executed: strata_executor::ExecutedBlock) -> Result<()> {
        let mut batch = WriteBatch::new();
        self.number += 1;
        self.root = self.state.commit(self.number, self.root, &executed.changes, &mut batch).map_err(|e| Error::Runtime(e.to_string()))?;
        self.cold.write(executed.cold.puts.clone()).map_err(|e| Error::Runtime(e.to_string()))?;
        self.kv.write(batch).map_err(|e| Error::Runtime(e.to_string()))?;
        self.cold.write(executed.cold.deletes.clone()).map_err(|e| Error::Runtime(e.to_string()))?;
        let parent = self.blocks.last().map_or(B256::ZERO, |b| b.hash);
        self.blocks.push(blocks::BlockRecord::sealed(parent, &executed, self.root));
        Ok(())
    }

    /// A raw storage value of a contract (as `strata_getProof` would show it).
    pub fn storage(&self, contract: Address, key: &[u8]) -> Option<Vec<u8>> {
        self.state.storage(&contract, key).ok().flatten()
    }

    /// The next block's environment before its base fee is read.
    fn env_fixed(&self) -> BlockEnv {
        BlockEnv {
            chain_id: self.chain_id,
            number: self.number + 1,
            parent_hash: self.blocks.last().map_or(B256::ZERO, |b| b.hash),
            timestamp: self.timestamp,
            proposer: PROPOSER,
            gas_limit: GAS_LIMIT,
            base_fee: 0,
            replicas: 1,
        }
    }

    fn env(&self) -> Result<BlockEnv> {
        let mut env = self.env_fixed();
        let state: Arc<dyn StateReader + Send + Sync> = Arc::new(self.state.clone());
        env.base_fee = strata_executor::fees::schedule(&state, &self.vm, env).map_err(|e| Error::Runtime(e.to_string()))?.gas_price;
        Ok(env)
    }

    /// The gas price (wei) the fee contract sets now.
    pub fn gas_price(&self) -> u64 {
        self.env().map_or(0, |e| e.base_fee)
    }

    /// Sends a transaction from account `from` in a block of its own.
    pub fn send(&mut self, from: impl Sender, to: TxKind, value: U256, input: Vec<u8>, gas: u64) -> Result<Receipt> {
        let key = self.accounts[from.index()].clone();
        let nonce = self.state.account(&key.address()).map_err(|e| Error::Runtime(e.to_string()))?.unwrap_or_default().nonce;
        let env = self.env()?;
        let tx = build::eip1559(self.chain_id, nonce, to, value, Bytes::from(input), gas, u128::from(env.base_fee), 0);
        let tx = RecoveredTx { sender: key.address(), tx: key.sign_transaction(tx).map_err(|e| Error::Runtime(e.to_string()))? };
        let payees: strata_executor::Payees = Arc::new([(PROPOSER, 1)]);
        let mut builder = BlockBuilder::new(env, Arc::new(self.state.clone()), self.vm.clone(), self.cold.clone(), payees)
            .map_err(|e| Error::Runtime(e.to_string()))?;
        let stored = match builder.apply(&tx).map_err(|e| Error::Runtime(e.to_string()))? {
            Applied::Included(r) => *r,
            Applied::Rejected(e) => return Err(Error::Refused(e.to_string())),
        };
        self.seal(builder.finish())?;
        // Strata's resource and payout logs are reported as `resources`.
        let logs = stored.logs.iter().filter(|l| l.address != strata_primitives::RESOURCE_LOG_ADDRESS).cloned().collect();
        let receipt = Receipt {
            success: stored.success,
            gas_used: stored.gas_used,
            output: stored.output.to_vec(),
            failure: (!stored.failure.is_empty()).then(|| String::from_utf8_lossy(&stored.failure).into_owned()),
            logs,
            resources: stored.resources,
            contract_address: stored.contract_address(),
            block_number: self.number,
        };
        self.receipts.push(receipt.clone());
        Ok(receipt)
    }

    /// Installs `wasm` at `address` as a genesis installs a system contract, in a block of
    /// its own: no deploy transaction (so no transaction size limit), privileged imports
    /// allowed, the constructor run with `ctor` from the zero address. For testing system
    /// contracts and modules larger than a transaction may carry.
    pub fn install(&mut self, address: Address, wasm: &[u8], ctor: &[u8]) -> Result<()> {
        let mut changes = StateChanges::default();
        let env = self.env()?;
        strata_executor::system::install_contract(&self.vm, Arc::new(self.state.clone()), env, &mut changes, address, wasm, ctor.to_vec())
            .map_err(|e| Error::Runtime(e.to_string()))?;
        // In a block of its own, so every header's state root is its state's.
        self.advance_block_with(changes)
    }

    /// Deploys `wasm` with constructor input `ctor` from account `from`.
    pub fn deploy(&mut self, from: impl Sender, wasm: &[u8], ctor: &[u8]) -> Result<Receipt> {
        let r = self.send(from, TxKind::Create, U256::ZERO, deploy::encode(wasm, ctor), 20_000_000)?;
        if r.success { Ok(r) } else { Err(Error::Failed(Box::new(r))) }
    }

    /// Calls a contract function in a transaction; its decoded return, or the failed receipt.
    pub fn call_sol<C: SolCall>(&mut self, from: impl Sender, to: Address, call: &C) -> Result<C::Return> {
        let r = self.send(from, TxKind::Call(to), U256::ZERO, call.abi_encode(), 10_000_000)?;
        if !r.success {
            return Err(Error::Failed(Box::new(r)));
        }
        C::abi_decode_returns(&r.output).map_err(|e| Error::Runtime(format!("undecodable return: {e}")))
    }

    /// A read-only view of this chain whose calls come from account `i`.
    pub fn view_as(&self, i: usize) -> Viewer<'_> {
        Viewer { chain: self, from: self.address(i) }
    }

    /// Calls a contract function read-only (`eth_call`), from account 0.
    pub fn view<C: SolCall>(&self, to: Address, call: &C) -> Result<C::Return> {
        self.view_from(self.address(0), to, call)
    }

    fn view_from<C: SolCall>(&self, from: Address, to: Address, call: &C) -> Result<C::Return> {
        let sim = Simulation::new(from, Some(to), U256::ZERO, call.abi_encode().into(), 10_000_000);
        let r = strata_executor::simulate(Arc::new(self.state.clone()), self.vm.clone(), self.cold.clone(), self.env()?, &sim)
            .map_err(|e| Error::Runtime(e.to_string()))?;
        if !r.success {
            let receipt = Receipt {
                success: false,
                gas_used: r.gas_used,
                output: r.output,
                failure: r.failure,
                logs: Vec::new(),
                resources: ResourceUsage::default(),
                contract_address: None,
                block_number: 0,
            };
            return Err(Error::Failed(Box::new(receipt)));
        }
        C::abi_decode_returns(&r.output).map_err(|e| Error::Runtime(format!("undecodable return: {e}")))
    }

    /// A per-resource usage table of every transaction so far.
    pub fn report(&self) -> String {
        self.receipts.iter().enumerate().map(|(i, r)| format!("tx {i}: {r}\n")).collect()
    }
}

/// Read-only calls from a chosen account (see [`TestChain::view_as`]).
pub struct Viewer<'a> {
    chain: &'a TestChain,
    from: Address,
}

impl Viewer<'_> {
    /// Calls a contract function read-only from this viewer's account.
    pub fn view<C: SolCall>(&self, to: Address, call: &C) -> Result<C::Return> {
        self.chain.view_from(self.from, to, call)
    }
}

/// Builds the contract crate at `manifest_dir` for `wasm32v1-none` (release profile)
/// and returns the module bytes. Uses `$CARGO_TARGET_DIR` when set.
pub fn build_contract(manifest_dir: &str) -> Result<Vec<u8>> {
    let manifest = Path::new(manifest_dir).join("Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--release", "--target", "wasm32v1-none", "--manifest-path"])
        .arg(&manifest)
        .output()
        .map_err(|e| Error::Build(e.to_string()))?;
    if !output.status.success() {
        return Err(Error::Build(String::from_utf8_lossy(&output.stderr).into_owned()));
    }
    let wasm = module_path(&manifest)?;
    let module = std::fs::read(&wasm).map_err(|e| Error::Build(format!("{}: {e}", wasm.display())))?;
    shrink::shrink(&module).map_err(|e| Error::Build(format!("{}: {e}", wasm.display())))
}

/// Where cargo puts the release module of the contract crate whose manifest is
/// `manifest`: `$CARGO_TARGET_DIR` (or the `target/` of the nearest enclosing
/// `[workspace]`), `wasm32v1-none/release/<package name>.wasm`.
pub fn module_path(manifest: &Path) -> Result<std::path::PathBuf> {
    let text = std::fs::read_to_string(manifest).map_err(|e| Error::Build(format!("{}: {e}", manifest.display())))?;
    let mut in_package = false;
    let mut name = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(rest) = line.strip_prefix("name") {
            name = Some(rest.trim_start_matches([' ', '=']).trim().trim_matches('"').replace('-', "_"));
            break;
        }
    }
    let name = name.ok_or_else(|| Error::Build(format!("{} has no [package] name", manifest.display())))?;
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let target = match std::env::var("CARGO_TARGET_DIR") {
        Ok(target) => target.into(),
        Err(_) => dir
            .ancestors()
            .find(|a| std::fs::read_to_string(a.join("Cargo.toml")).is_ok_and(|s| s.contains("[workspace]")))
            .unwrap_or(dir)
            .join("target"),
    };
    Ok(target.join("wasm32v1-none/release").join(format!("{name}.wasm")))
}
