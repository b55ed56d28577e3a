//! Files of a multi-validator chain: the genesis (JSON, shared by every validator)
//! and a validator's configuration (TOML, its own), and `strata init`, which writes
//! a local testnet of both with fresh validator keys.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use strata_chain::{ChainSpec, FeeRecipient, FeeSplit, SlotGenesis, StorageClass};
use strata_executor::system::ParentChain;
use strata_primitives::{Address, B256, LocalSigner, U256, hex, keys};

use strata_primitives::{
    ProposerRotation,
    slots::{SlotParams, SlotRecord},
};

use crate::{Error, Result};

/// A validator in the genesis file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisValidator {
    /// Its address (the key its consensus messages and handshakes must prove).
    pub address: Address,
    /// Declared storage: `nvme`, `ssd` or `hdd`.
    pub storage_class: String,
    /// The seat's backup machine's key (its own key: the two machines never share one).
    /// Any validator with a backup makes the chain's validator set a list of slots whose
    /// active keys switch by the chain's rule (see `strata_primitives::slots`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<Address>,
    /// Who may schedule planned switches of the slot (default: the primary's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Address>,
}

/// The parent chain a genesis names (a chain of a hierarchy): its registry follows the
/// parent, so events relayed from it can be verified here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisParent {
    /// The parent's chain id.
    pub chain_id: u64,
    /// The parent's chain registry, where this chain registers (default: the system
    /// address `0x…1005`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<Address>,
    /// The hash of the parent's genesis block.
    pub genesis_hash: B256,
    /// The parent's validators at its genesis.
    pub validators: Vec<Address>,
    /// Signatures the parent's certificates need (default: 2f+1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<u32>,
}

/// The genesis of a chain, as shared between validators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// Chain id.
    pub chain_id: u64,
    /// Block gas limit.
    pub gas_limit: u64,
    /// Genesis timestamp (seconds).
    pub timestamp: u64,
    /// The admin key of the fee contract.
    pub admin: Address,
    /// Balances at genesis (wei, decimal strings).
    pub alloc: BTreeMap<Address, String>,
    /// The validators, in index order.
    pub validators: Vec<GenesisValidator>,
    /// Split fees by storage class (NVMe 3 : SSD 2 : HDD 1) rather than equally.
    #[serde(default)]
    pub split_by_storage_class: bool,
    /// How the proposer moves: `by-height` (round-robin by height, the default) or
    /// `stable` (a PBFT primary that stays until a view change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposer_rotation: Option<String>,
    /// With validator slots: `N`, the blocks of evidence a switch needs (default: 20,
    /// about 10 s of 500 ms blocks); the cooldown is `2N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_window: Option<u64>,
    /// Blocks within which a certified transaction must be included (a storage
    /// certificate signed as of height `h` promises inclusion by `h + certified_expiry`;
    /// default 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certified_expiry: Option<u64>,
    /// What registering a child chain with this chain's registry costs anyone but the
    /// admin (wei, decimal string; default 0: the admin alone registers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_fee: Option<String>,
    /// The parent chain, for a chain of a hierarchy (none: a main chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<GenesisParent>,
}

impl Genesis {
    /// Reads a genesis file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        serde_json::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    /// The chain spec it describes.
    pub fn spec(&self) -> Result<ChainSpec> {
        let mut spec = ChainSpec::dev(self.chain_id);
        spec.gas_limit = self.gas_limit;
        spec.genesis_timestamp = self.timestamp;
        spec.admin = self.admin;
        spec.alloc = self
            .alloc
            .iter()
            .map(|(a, v)| v.parse::<U256>().map(|v| (*a, v)).map_err(|e| Error::Config(format!("balance of {a}: {e}"))))
            .collect::<Result<_>>()?;
        spec.fee_recipients = self
            .validators
            .iter()
            .map(|v| {
                Ok(FeeRecipient { address: v.address, storage_class: v.storage_class.parse::<StorageClass>().map_err(Error::Config)? })
            })
            .collect::<Result<_>>()?;
        if spec.fee_recipients.is_empty() {
            return Err(Error::Config("the genesis names no validator".into()));
        }
        // One key, one seat: a duplicate would count one signature twice towards a quorum
        // and give one validator two indices.
        let mut seen = std::collections::BTreeSet::new();
        for v in &spec.fee_recipients {
            if !seen.insert(v.address) {
                return Err(Error::Config(format!("the genesis names validator {} more than once", v.address)));
            }
        }
        let rotation = match self.proposer_rotation.as_deref() {
            None | Some("by-height") => ProposerRotation::ByHeight,
            Some("stable") => ProposerRotation::Stable,
            Some(other) => return Err(Error::Config(format!("unknown proposer rotation `{other}` (by-height or stable)"))),
        };
        spec.validators =
            strata_primitives::ValidatorSet::new(spec.fee_recipients.iter().map(|v| v.address).collect()).with_rotation(rotation);
        spec.requires_certificates = true;
        spec.certified_expiry = match self.certified_expiry {
            Some(0) => return Err(Error::Config("certified_expiry must be at least 1 block".into())),
            Some(blocks) => blocks,
            None => strata_chain::DEFAULT_CERTIFIED_EXPIRY,
        };
        if let Some(fee) = &self.registration_fee {
            spec.registry.registration_fee = fee.parse::<U256>().map_err(|e| Error::Config(format!("registration_fee: {e}")))?;
        }
        if let Some(p) = &self.parent {
            let quorum = p.quorum.unwrap_or_else(|| strata_primitives::ValidatorSet::new(p.validators.clone()).quorum() as u32);
            strata_primitives::registry::check_set(&p.validators, quorum).map_err(|e| Error::Config(format!("parent validators: {e}")))?;
            if p.chain_id == self.chain_id || p.chain_id == 0 {
                return Err(Error::Config(format!("parent chain id {} must be another chain's (not 0, not this one)", p.chain_id)));
            }
            spec.registry.parent = Some(ParentChain {
                chain_id: p.chain_id,
                registry: p.registry.unwrap_or(strata_primitives::system::CHAIN_REGISTRY),
                genesis_hash: p.genesis_hash,
                validators: p.validators.clone(),
                quorum,
            });
        }
        spec.fee_split = if self.split_by_storage_class { FeeSplit::BY_STORAGE_CLASS } else { FeeSplit::Equal };
        if self.validators.iter().any(|v| v.backup.is_some()) {
            // The switch rule needs its evidence from f + 1 distinct proposers: a stable
            // primary would never give it.
            if rotation == ProposerRotation::Stable && spec.validators.len() > 1 {
                return Err(Error::Config("validator slots with backups need the proposer to rotate by height (proposer_rotation)".into()));
            }
            for v in &self.validators {
                if let Some(b) = v.backup
                    && (!seen.insert(b) || b == Address::ZERO)
                {
                    return Err(Error::Config(format!("backup key {b} is another machine's key (each machine has its own)")));
                }
            }
            let window = self.slot_window.unwrap_or_else(|| SlotParams::window_for_block_time(500));
            let slots = self
                .validators
                .iter()
                .zip(&spec.fee_recipients)
                .map(|(v, r)| {
                    let class = match r.storage_class {
                        StorageClass::Nvme => 0,
                        StorageClass::Ssd => 1,
                        StorageClass::Hdd => 2,
                    };
                    SlotRecord::new(v.address, v.backup, v.address, class, v.operator.unwrap_or(v.address))
                })
                .collect::<Vec<_>>();
            let params = SlotParams::new(slots.len() as u32, window);
            spec.slots = Some(SlotGenesis { params, slots });
        }
        Ok(spec)
    }
}

/// A validator's configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorConfig {
    /// The genesis file (relative paths are relative to this file).
    pub genesis: PathBuf,
    /// File holding this validator's private key (hex).
    pub key_file: PathBuf,
    /// Database directory.
    pub data_dir: PathBuf,
    /// Cold-store directory (default `<data_dir>/cold`).
    #[serde(default)]
    pub cold_dir: Option<PathBuf>,
    /// JSON-RPC address (HTTP and WebSocket).
    pub rpc_addr: SocketAddr,
    /// Where this validator listens for its peers.
    pub p2p_addr: SocketAddr,
    /// Every validator's p2p address, in index order (this one's included).
    pub peers: Vec<SocketAddr>,
    /// Minimum time between the starts of consecutive blocks (milliseconds): under load
    /// a block is proposed this long after its parent was, not at once.
    #[serde(default = "default_block_time")]
    pub block_time_ms: u64,
    /// With no transactions, the primary proposes an empty block after this long
    /// (milliseconds), so the view-change timers of the others do not fire.
    #[serde(default = "default_empty_block")]
    pub empty_block_ms: u64,
    /// View-change timeout of a view's first round (milliseconds); doubles per failed view.
    #[serde(default = "default_timeout")]
    pub view_timeout_ms: u64,
    /// How many recent blocks' state stays queryable.
    #[serde(default = "default_retain")]
    pub retain_blocks: u64,
    /// Where `/metrics` (Prometheus) and `/health` are served (none if unset).
    #[serde(default)]
    pub metrics_addr: Option<SocketAddr>,
    /// Origins browser dapps may call the RPC from (`["*"]`: any; unset: no CORS headers).
    #[serde(default)]
    pub cors: Option<Vec<String>>,
    /// Serve the explorer at `/explorer` on the RPC port (default: yes).
    #[serde(default = "default_true")]
    pub explorer: bool,
    /// Most gas one RPC simulation (`eth_call`, `eth_estimateGas`, `strata_quoteFee`)
    /// may use (unset: the block gas limit).
    #[serde(default)]
    pub rpc_gas_cap: Option<u64>,
    /// Wall-clock time an RPC simulation may take (milliseconds).
    #[serde(default = "default_rpc_timeout")]
    pub rpc_timeout_ms: u64,
    /// TEST ONLY: as proposer, leave certified transactions out of blocks (the fault
    /// tests check that the other validators refuse such blocks and change the view).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub test_drop_certified: bool,
}

/// Default of [`ValidatorConfig::rpc_timeout_ms`].
pub fn default_rpc_timeout() -> u64 {
    5_000
}

fn default_block_time() -> u64 {
    500
}
fn default_empty_block() -> u64 {
    2_000
}
fn default_timeout() -> u64 {
    6_000
}
fn default_true() -> bool {
    true
}

fn default_retain() -> u64 {
    strata_state::DEFAULT_RETAIN
}

impl ValidatorConfig {
    /// Reads a configuration file; relative paths in it become relative to its directory.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        let mut c: Self = toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [&mut c.genesis, &mut c.key_file, &mut c.data_dir] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        if let Some(p) = c.cold_dir.as_mut().filter(|p| p.is_relative()) {
            *p = base.join(&*p);
        }
        Ok(c)
    }

    /// Minimum time between the starts of consecutive blocks.
    pub fn block_time(&self) -> Duration {
        Duration::from_millis(self.block_time_ms)
    }
}

/// Reads a private key file (hex, optional `0x`).
pub fn read_key(path: &Path) -> Result<LocalSigner> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    let bytes = hex::decode(text.trim()).map_err(|e| Error::Config(format!("{}: not hex: {e}", path.display())))?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| Error::Config(format!("{}: a key is 32 bytes", path.display())))?;
    LocalSigner::from_bytes(&B256::from(bytes)).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

/// What `strata init` writes.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Output directory.
    pub out: PathBuf,
    /// Number of validators.
    pub validators: u32,
    /// Chain id.
    pub chain_id: u64,
    /// Host the validators listen on.
    pub host: std::net::IpAddr,
    /// First p2p port (validator i uses `p2p_port + i`).
    pub p2p_port: u16,
    /// First RPC port (validator i uses `rpc_port + i`).
    pub rpc_port: u16,
    /// Give every seat a backup machine with its own key (validator slots): slot `i`'s
    /// backup is machine `validators + i` (its ports follow the primaries') in
    /// `validator-<i>-backup/`.
    pub backups: bool,
    /// The parent chain, for a chain of a hierarchy ([`GenesisParent::of`]).
    pub parent: Option<GenesisParent>,
}

impl GenesisParent {
    /// The parent described by its own genesis file: its id, its validators and the hash
    /// of its genesis block (computed, as every node of it computes it).
    pub fn of(parent: &Genesis) -> Result<Self> {
        let spec = parent.spec()?;
        let vm = std::sync::Arc::new(strata_vm::Vm::new(strata_vm::VmConfig::default()).map_err(|e| Error::Config(e.to_string()))?);
        let genesis = spec.genesis(&vm).map_err(|e| Error::Config(format!("the parent's genesis: {e}")))?;
        Ok(Self {
            chain_id: spec.chain_id,
            registry: None,
            genesis_hash: genesis.header.hash_slow(),
            validators: spec.validators.validators.clone(),
            quorum: None,
        })
    }
}

/// Writes a testnet: `genesis.json` and, per validator, `validator-<i>/{config.toml,validator.key}`.
/// Keys are fresh (OS randomness); the ten public test accounts are funded and
/// account 0 is the admin, as on `strata dev`.
pub fn init(opts: &InitOptions) -> Result<Vec<PathBuf>> {
    if opts.validators == 0 {
        return Err(Error::Config("at least one validator".into()));
    }
    if opts.out.join("genesis.json").exists() {
        return Err(Error::Config(format!("{} already holds a genesis; choose another --out", opts.out.display())));
    }
    std::fs::create_dir_all(&opts.out).map_err(|e| Error::Config(format!("{}: {e}", opts.out.display())))?;
    let machines = if opts.backups { opts.validators.saturating_mul(2) } else { opts.validators };
    let mut keys_out = Vec::new();
    for _ in 0..machines {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| Error::Config(format!("no OS randomness: {e}")))?;
        let key = LocalSigner::from_bytes(&B256::from(secret)).map_err(|e| Error::Config(e.to_string()))?;
        keys_out.push((secret, key));
    }
    let dev = keys::derive_accounts(keys::DEV_MNEMONIC, 10)?;
    let ether = U256::from(10u64).pow(U256::from(18));
    let classes = ["nvme", "ssd", "hdd"];
    let genesis = Genesis {
        chain_id: opts.chain_id,
        gas_limit: 30_000_000,
        timestamp: 0,
        admin: dev[0].signer.address(),
        alloc: dev.iter().map(|k| (k.signer.address(), (ether * U256::from(10_000u64)).to_string())).collect(),
        validators: keys_out[..opts.validators as usize]
            .iter()
            .enumerate()
            .map(|(i, (_, k))| GenesisValidator {
                address: k.address(),
                storage_class: classes[i % classes.len()].to_string(),
                backup: opts.backups.then(|| keys_out[opts.validators as usize + i].1.address()),
                operator: None,
            })
            .collect(),
        split_by_storage_class: false,
        proposer_rotation: None,
        slot_window: None,
        certified_expiry: None,
        registration_fee: None,
        parent: opts.parent.clone(),
    };
    let write = |p: PathBuf, text: String| std::fs::write(&p, text).map_err(|e| Error::Config(format!("{}: {e}", p.display())));
    write(opts.out.join("genesis.json"), serde_json::to_string_pretty(&genesis).map_err(|e| Error::Config(e.to_string()))?)?;
    let port = |base: u16, i: u32| base.checked_add(i as u16).ok_or_else(|| Error::Config("port out of range".into()));
    let peers = (0..machines).map(|i| Ok(SocketAddr::new(opts.host, port(opts.p2p_port, i)?))).collect::<Result<Vec<_>>>()?;
    let mut configs = Vec::new();
    for (i, (secret, _)) in keys_out.iter().enumerate() {
        let dir = match i.checked_sub(opts.validators as usize) {
            Some(slot) => opts.out.join(format!("validator-{slot}-backup")),
            None => opts.out.join(format!("validator-{i}")),
        };
        std::fs::create_dir_all(&dir).map_err(|e| Error::Config(format!("{}: {e}", dir.display())))?;
        write(dir.join("validator.key"), hex::encode(secret))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir.join("validator.key"), std::fs::Permissions::from_mode(0o600));
        }
        let config = ValidatorConfig {
            genesis: PathBuf::from("../genesis.json"),
            key_file: PathBuf::from("validator.key"),
            data_dir: PathBuf::from("data"),
            cold_dir: None,
            rpc_addr: SocketAddr::new(opts.host, port(opts.rpc_port, i as u32)?),
            p2p_addr: peers[i],
            peers: peers.clone(),
            block_time_ms: default_block_time(),
            empty_block_ms: default_empty_block(),
            view_timeout_ms: default_timeout(),
            retain_blocks: default_retain(),
            metrics_addr: None,
            cors: None,
            explorer: true,
            rpc_gas_cap: None,
            rpc_timeout_ms: default_rpc_timeout(),
            test_drop_certified: false,
        };
        let path = dir.join("config.toml");
        write(path.clone(), toml::to_string_pretty(&config).map_err(|e| Error::Config(e.to_string()))?)?;
        configs.push(path);
    }
    Ok(configs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_writes_a_testnet_that_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("net");
        let opts = InitOptions {
            out: out.clone(),
            validators: 4,
            chain_id: 4242,
            host: "127.0.0.1".parse().unwrap(),
            p2p_port: 31000,
            rpc_port: 9000,
            backups: false,
            parent: None,
        };
        let configs = init(&opts).unwrap();
        assert_eq!(configs.len(), 4);
        let c = ValidatorConfig::load(&configs[2]).unwrap();
        assert_eq!(c.rpc_addr.port(), 9002);
        assert_eq!(c.peers.len(), 4);
        let genesis = Genesis::load(&c.genesis).unwrap();
        let spec = genesis.spec().unwrap();
        assert_eq!(spec.chain_id, 4242);
        assert_eq!(spec.fee_recipients[2].address, read_key(&c.key_file).unwrap().address());
        assert!(init(&opts).is_err(), "never overwrites a genesis");
        assert_eq!(spec.validators.len(), 4, "the genesis validators sign the chain's certificates");
    }

    #[test]
    fn a_genesis_naming_a_validator_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let opts = InitOptions {
            out: dir.path().join("net"),
            validators: 4,
            chain_id: 4242,
            host: "127.0.0.1".parse().unwrap(),
            p2p_port: 31100,
            rpc_port: 9100,
            backups: false,
            parent: None,
        };
        let configs = init(&opts).unwrap();
        let c = ValidatorConfig::load(&configs[0]).unwrap();
        let mut genesis = Genesis::load(&c.genesis).unwrap();
        genesis.validators[3].address = genesis.validators[1].address;
        let e = genesis.spec().unwrap_err();
        assert!(e.to_string().contains("more than once"), "{e}");
    }

    #[test]
    fn init_with_backups_writes_two_machines_per_slot_each_with_its_own_key() {
        let dir = tempfile::tempdir().unwrap();
        let opts = InitOptions {
            out: dir.path().join("net"),
            validators: 4,
            chain_id: 4243,
            host: "127.0.0.1".parse().unwrap(),
            p2p_port: 31200,
            rpc_port: 9200,
            backups: true,
            parent: None,
        };
        let configs = init(&opts).unwrap();
        assert_eq!(configs.len(), 8);
        assert!(configs[5].parent().unwrap().ends_with("validator-1-backup"));
        let backup = ValidatorConfig::load(&configs[5]).unwrap();
        assert_eq!((backup.rpc_addr.port(), backup.p2p_addr.port(), backup.peers.len()), (9205, 31205, 8));
        let mut genesis = Genesis::load(&backup.genesis).unwrap();
        let spec = genesis.spec().unwrap();
        let slots = spec.slots.as_ref().expect("validator slots");
        assert_eq!(slots.slots.len(), 4);
        assert_eq!(slots.slots[1].backup, read_key(&backup.key_file).unwrap().address());
        assert_eq!(slots.slots[1].primary, read_key(&ValidatorConfig::load(&configs[1]).unwrap().key_file).unwrap().address());
        assert_eq!((slots.params.window, slots.params.cooldown), (20, 40));
        // The set of every height names the primaries at genesis.
        assert_eq!(spec.validators.validators, slots.slots.iter().map(|s| s.primary).collect::<Vec<_>>());
        // The switch rule needs rotating proposers: a stable primary is refused with slots.
        genesis.proposer_rotation = Some("stable".into());
        assert!(genesis.spec().unwrap_err().to_string().contains("rotate by height"));
        genesis.proposer_rotation = None;
        // One machine, one key: a backup reusing another machine's key is refused.
        genesis.validators[2].backup = Some(genesis.validators[0].address);
        assert!(genesis.spec().unwrap_err().to_string().contains("another machine's key"));
    }
}
