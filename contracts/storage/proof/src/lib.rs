//! The proof contract of a proof chain (`IStorageProof` in `strata_sdk::protocol::interfaces`).
//!
//! Why a chain of its own: storage proofs are a constant stream (every deal, every
//! window); a proof chain absorbs it and the contract chain only settles one relayed
//! event per window. Deals arrive here as `DealOpened` events of the contract chain's
//! deal contract, relayed and checked by this chain's registry (the contract chain is
//! its parent); each proven window leaves a `StorageProved` event that a relayer
//! carries back.
//!
//! A window's challenge is drawn from the hash of the block just before the window
//! starts (`block_hash`), mixed with the deal id and window
//! (`strata_sdk::protocol::segments`): the provider learns it only when the window
//! opens, and must then hold the named segments to answer within the window. See
//! `contracts/storage/README.md` for what a grinding proposer can and cannot do.
#![no_std]

extern crate alloc;

use alloc::{format, vec::Vec};

use strata_sdk::{
    Address, B256, Bytes, ContractError, Revert, SolEvent, SolValue, U256, call_contract, contract, env, error, event,
    protocol::{
        interfaces::{IChainRegistry, IStorageDeal::DealOpened},
        segments,
    },
    storage::{StorageMap, StorageValue},
};

/// A deal was announced.
#[event]
pub struct DealAnnounced {
    #[indexed]
    pub deal_id: u64,
    #[indexed]
    pub provider: Address,
    pub event_key: B256,
}

/// A window was proven: what the contract chain settles on (relayed).
#[event]
pub struct StorageProved {
    #[indexed]
    pub deal_id: u64,
    #[indexed]
    pub window: u32,
    #[indexed]
    pub provider: Address,
}

/// A relayed log that is not a `DealOpened` of the registered deal contract.
#[error]
pub struct NotADeal {
    pub reason: alloc::string::String,
}

/// The deal was announced already.
#[error]
pub struct AlreadyAnnounced {
    pub deal_id: u64,
}

/// No such deal here.
#[error]
pub struct UnknownDeal {
    pub deal_id: u64,
}

/// Only the deal's provider proves it.
#[error]
pub struct NotProvider {
    pub deal_id: u64,
    pub caller: Address,
}

/// Not inside the window (blocks `from..to`), or the window does not exist.
#[error]
pub struct OutsideWindow {
    pub deal_id: u64,
    pub window: u32,
    pub from: u64,
    pub to: u64,
    pub now: u64,
}

/// Proven already.
#[error]
pub struct AlreadyProven {
    pub deal_id: u64,
    pub window: u32,
}

/// Challenge `index` (segment `segment`) does not match the deal's root.
#[error]
pub struct BadSegment {
    pub deal_id: u64,
    pub window: u32,
    pub index: u32,
    pub segment: u64,
}

/// Not one segment and path per challenge.
#[error]
pub struct WrongChallengeCount {
    pub given: u32,
    pub expected: u32,
}

/// Any refusal: revert data of an error above, or a callee's, unchanged.
type Refusal = Revert;

fn refuse<E: ContractError>(e: E) -> Refusal {
    Revert::of(&e)
}

static REGISTRY: StorageValue<Address> = StorageValue::new(b"registry");
static CONTRACT_CHAIN: StorageValue<u64> = StorageValue::new(b"chain");
static DEAL_CONTRACT: StorageValue<Address> = StorageValue::new(b"deals");
/// deal id -> ABI `(provider, root, size, windows, startBlock, windowBlocks, challenges)`.
static DEALS: StorageMap<u64, Vec<u8>> = StorageMap::new(b"d/");
/// (deal id, window) -> proven.
static PROVEN: StorageMap<(u64, u64), bool> = StorageMap::new(b"p/");

type Terms = (Address, B256, u64, u32, u64, u64, u32);

struct Deal {
    provider: Address,
    root: B256,
    size: u64,
    windows: u32,
    start: u64,
    window_blocks: u64,
    challenges: u32,
}

impl Deal {
    fn load(deal_id: u64) -> Option<Deal> {
        let raw = DEALS.get(&deal_id);
        let (provider, root, size, windows, start, window_blocks, challenges) = Terms::abi_decode(&raw).ok()?;
        Some(Deal { provider, root, size, windows, start, window_blocks, challenges })
    }

    /// Blocks `[from, to)` of window `window`, if the deal has it.
    fn window(&self, window: u32) -> Option<(u64, u64)> {
        if window >= self.windows {
            return None;
        }
        let from = self.start.checked_add(u64::from(window).checked_mul(self.window_blocks)?)?;
        Some((from, from.checked_add(self.window_blocks)?))
    }
}

/// The challenge of a window that has opened, from the hash of the block before it.
fn challenge_of(deal_id: u64, deal: &Deal, window: u32) -> Result<Vec<u64>, Refusal> {
    let now = env::block_number();
    let (from, to) = deal.window(window).unwrap_or((0, 0));
    let outside = || refuse(OutsideWindow { deal_id, window, from, to, now });
    if to == 0 || now < from {
        return Err(outside());
    }
    let seed = from.checked_sub(1).and_then(env::block_hash).ok_or_else(outside)?;
    Ok(segments::challenges(&seed, deal_id, window, deal.challenges, segments::segment_count(deal.size)))
}

/// The proof contract.
pub struct Proofs;

#[contract]
impl Proofs {
    /// Deals come from `deal_contract` on chain `contract_chain_id`, relayed logs are
    /// checked by `registry` (this chain's chain registry).
    #[constructor]
    pub fn constructor(registry: Address, contract_chain_id: u64, deal_contract: Address) {
        REGISTRY.set(&registry);
        CONTRACT_CHAIN.set(&contract_chain_id);
        DEAL_CONTRACT.set(&deal_contract);
    }

    /// Registry, contract chain, deal contract.
    #[view]
    pub fn settings() -> (Address, u64, Address) {
        (REGISTRY.get(), CONTRACT_CHAIN.get(), DEAL_CONTRACT.get())
    }

    /// Learns a deal from a relayed `DealOpened` (RLP `RelayedLog`). Anyone may relay.
    pub fn announce_deal(relayed: Bytes) -> Result<(), Refusal> {
        let call = IChainRegistry::verifyLogAndCheckpointCall { chainId: CONTRACT_CHAIN.get(), relayed };
        let log = call_contract(REGISTRY.get(), &call, U256::ZERO).map_err(Revert::from)?;
        let expected = DEAL_CONTRACT.get();
        if log.emitter != expected {
            return Err(refuse(NotADeal { reason: format!("emitted by {}, not the deal contract {expected}", log.emitter) }));
        }
        if log.topics.first() != Some(&DealOpened::SIGNATURE_HASH) {
            return Err(refuse(NotADeal { reason: "not a DealOpened event".into() }));
        }
        let opened = DealOpened::decode_raw_log(log.topics.iter().copied(), &log.data)
            .map_err(|e| refuse(NotADeal { reason: format!("DealOpened does not decode: {e}") }))?;
        if !DEALS.get(&opened.dealId).is_empty() {
            return Err(refuse(AlreadyAnnounced { deal_id: opened.dealId }));
        }
        let terms: Terms =
            (opened.provider, opened.root, opened.size, opened.windows, opened.startBlock, opened.windowBlocks, opened.challenges);
        DEALS.set(&opened.dealId, &terms.abi_encode());
        DealAnnounced { deal_id: opened.dealId, provider: opened.provider, event_key: log.eventKey }.emit();
        Ok(())
    }

    /// The provider proves window `window`: the challenged segments in challenge order,
    /// each with its Merkle path (`strata_sdk::protocol::segments::merkle_path`).
    pub fn prove(deal_id: u64, window: u32, segments: Vec<Bytes>, paths: Vec<Vec<B256>>) -> Result<(), Refusal> {
        let deal = Deal::load(deal_id).ok_or_else(|| refuse(UnknownDeal { deal_id }))?;
        let caller = env::caller();
        if caller != deal.provider {
            return Err(refuse(NotProvider { deal_id, caller }));
        }
        let now = env::block_number();
        let (from, to) = deal.window(window).unwrap_or((0, 0));
        if now >= to {
            return Err(refuse(OutsideWindow { deal_id, window, from, to, now }));
        }
        if PROVEN.get(&(deal_id, u64::from(window))) {
            return Err(refuse(AlreadyProven { deal_id, window }));
        }
        let challenge = challenge_of(deal_id, &deal, window)?;
        if segments.len() != challenge.len() || paths.len() != challenge.len() {
            let given = u32::try_from(segments.len().min(paths.len())).unwrap_or(u32::MAX);
            return Err(refuse(WrongChallengeCount { given, expected: deal.challenges }));
        }
        for (j, ((index, segment), path)) in challenge.iter().zip(&segments).zip(&paths).enumerate() {
            if !segments::verify_segment(&deal.root, deal.size, *index, segment, path) {
                let index_in_challenge = u32::try_from(j).unwrap_or(u32::MAX);
                return Err(refuse(BadSegment { deal_id, window, index: index_in_challenge, segment: *index }));
            }
        }
        PROVEN.set(&(deal_id, u64::from(window)), &true);
        StorageProved { deal_id, window, provider: caller }.emit();
        Ok(())
    }

    /// The segments window `window` of deal `deal_id` challenges (once it has opened).
    #[view]
    pub fn challenge(deal_id: u64, window: u32) -> Result<Vec<u64>, Refusal> {
        let deal = Deal::load(deal_id).ok_or_else(|| refuse(UnknownDeal { deal_id }))?;
        challenge_of(deal_id, &deal, window)
    }

    /// A deal as announced (`known` false: not here).
    #[view]
    pub fn deal(deal_id: u64) -> (bool, Address, B256, u64, u32, u64, u64, u32) {
        match Deal::load(deal_id) {
            Some(d) => (true, d.provider, d.root, d.size, d.windows, d.start, d.window_blocks, d.challenges),
            None => (false, Address::ZERO, B256::ZERO, 0, 0, 0, 0, 0),
        }
    }

    /// Whether window `window` of deal `deal_id` was proven here.
    #[view]
    pub fn proven(deal_id: u64, window: u32) -> bool {
        PROVEN.get(&(deal_id, u64::from(window)))
    }
}
