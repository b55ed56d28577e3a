//! The storage-deal contract of a contract chain (`IStorageDeal` in
//! `strata_sdk::protocol::interfaces`).
//!
//! Why: a client pays a provider to keep a file for a number of proving windows, and
//! neither trusts the other. The client's payment and the provider's collateral are
//! escrowed here; each window is paid to the provider when a `StorageProved` event of
//! the proof chain's proof contract is relayed and checked by the chain registry
//! (anyone may relay; each event settles once), and a window that ends unproven —
//! after a grace period covering relay latency, judged by the proof chain's last
//! checkpoint — pays its price and its collateral share to the client instead.
//!
//! Windows are counted in proof-chain blocks (the proof chain is where proofs land and
//! challenges are drawn); this chain knows the proof chain's height only through the
//! registry's checkpoints. Money leaves by `withdraw` (pull payments: a party that
//! cannot receive blocks no one else). See `contracts/storage/README.md`.
#![no_std]

extern crate alloc;

use alloc::{format, string::String, vec::Vec};

use strata_sdk::{
    Address, B256, Bytes, ContractError, Revert, SolEvent, SolValue, U256, call_contract, contract, env, error, event, host,
    protocol::{
        interfaces::{IChainRegistry, IStorageProof::StorageProved},
        segments::MAX_CHALLENGES,
        system::BLOCK_HASH_WINDOW,
    },
    storage::{StorageMap, StorageValue},
    view_contract,
};

/// Most windows a deal may have (`endDeal` visits each).
pub const MAX_WINDOWS: u32 = 1_000;
/// Longest window (proof-chain blocks): the seed block of a window's challenge must
/// stay readable (`block_hash`) until the window ends.
pub const MAX_WINDOW_BLOCKS: u64 = BLOCK_HASH_WINDOW / 2;

const PROPOSED: u8 = 0;
const ACTIVE: u8 = 1;
const ENDED: u8 = 2;
const CANCELLED: u8 = 3;

const OPEN: u8 = 0;
const PAID: u8 = 1;
const SLASHED: u8 = 2;
const CANCELLED_WINDOW: u8 = 3;

/// A deal was proposed.
#[event]
pub struct DealProposed {
    #[indexed]
    pub deal_id: u64,
    #[indexed]
    pub client: Address,
    #[indexed]
    pub provider: Address,
}

/// A deal is active: what the proof chain learns (relayed).
#[event]
pub struct DealOpened {
    #[indexed]
    pub deal_id: u64,
    #[indexed]
    pub client: Address,
    #[indexed]
    pub provider: Address,
    pub root: B256,
    pub size: u64,
    pub windows: u32,
    pub start_block: u64,
    pub window_blocks: u64,
    pub challenges: u32,
}

/// A proposal was withdrawn.
#[event]
pub struct DealCancelled {
    #[indexed]
    pub deal_id: u64,
}

/// A window was proven and paid.
#[event]
pub struct WindowPaid {
    #[indexed]
    pub deal_id: u64,
    pub window: u32,
    pub amount: U256,
    pub event_key: B256,
}

/// A window went unproven past its grace: the client was compensated.
#[event]
pub struct WindowSlashed {
    #[indexed]
    pub deal_id: u64,
    pub window: u32,
    pub amount: U256,
}

/// The client ended the deal.
#[event]
pub struct DealEnded {
    #[indexed]
    pub deal_id: u64,
    pub first_cancelled: u32,
    pub cancelled: u32,
}

/// Terms that break a rule.
#[error]
pub struct InvalidTerms {
    pub reason: String,
}

/// No such deal, or not in a state that allows this.
#[error]
pub struct BadDealState {
    pub deal_id: u64,
    pub state: u8,
}

/// Only the deal's client (or provider) may do this.
#[error]
pub struct NotParty {
    pub deal_id: u64,
    pub caller: Address,
}

/// The value sent is not what the terms ask.
#[error]
pub struct WrongValue {
    pub sent: U256,
    pub expected: U256,
}

/// The proof chain's checkpoint is past the deal's start.
#[error]
pub struct TooLate {
    pub start_block: u64,
    pub checkpoint: u64,
}

/// Not a `StorageProved` of the registered proof contract, or not for this window.
#[error]
pub struct NotAProof {
    pub reason: String,
}

/// The event was settled already.
#[error]
pub struct AlreadySettled {
    pub event_key: B256,
}

/// The window is resolved already, or does not exist.
#[error]
pub struct WindowClosed {
    pub deal_id: u64,
    pub window: u32,
    pub state: u8,
}

/// Too early to slash.
#[error]
pub struct NotDue {
    pub deal_id: u64,
    pub window: u32,
    pub due: u64,
    pub checkpoint: u64,
}

/// Any refusal: revert data of an error above, or a callee's, unchanged.
type Refusal = Revert;

fn refuse<E: ContractError>(e: E) -> Refusal {
    Revert::of(&e)
}

static REGISTRY: StorageValue<Address> = StorageValue::new(b"registry");
static PROOF_CHAIN: StorageValue<u64> = StorageValue::new(b"chain");
static PROOF_CONTRACT: StorageValue<Address> = StorageValue::new(b"proofs");
static GRACE: StorageValue<u64> = StorageValue::new(b"grace");
static COUNT: StorageValue<u64> = StorageValue::new(b"count");
/// deal id -> ABI [`Terms`].
static DEALS: StorageMap<u64, Vec<u8>> = StorageMap::new(b"d/");
static STATE: StorageMap<u64, u64> = StorageMap::new(b"s/");
static RESOLVED: StorageMap<u64, u64> = StorageMap::new(b"r/");
static WINDOWS: StorageMap<(u64, u64), u64> = StorageMap::new(b"w/");
static SETTLED: StorageMap<B256, bool> = StorageMap::new(b"k/");
static OWED: StorageMap<Address, U256> = StorageMap::new(b"o/");

/// client, provider, root, size, windows, start block, window blocks, challenges, price per window, collateral.
type Terms = (Address, Address, B256, u64, u32, u64, u64, u32, U256, U256);

struct Deal {
    client: Address,
    provider: Address,
    root: B256,
    size: u64,
    windows: u32,
    start: u64,
    window_blocks: u64,
    challenges: u32,
    price: U256,
    collateral: U256,
}

impl Deal {
    fn load(id: u64) -> Result<Deal, Refusal> {
        let raw = DEALS.get(&id);
        let (client, provider, root, size, windows, start, window_blocks, challenges, price, collateral) =
            Terms::abi_decode(&raw).map_err(|_| refuse(BadDealState { deal_id: id, state: u8::MAX }))?;
        Ok(Deal { client, provider, root, size, windows, start, window_blocks, challenges, price, collateral })
    }

    fn terms(&self) -> Terms {
        (
            self.client,
            self.provider,
            self.root,
            self.size,
            self.windows,
            self.start,
            self.window_blocks,
            self.challenges,
            self.price,
            self.collateral,
        )
    }

    /// Blocks `[from, to)` of window `w` (checked when the deal was opened not to overflow).
    fn window(&self, w: u32) -> (u64, u64) {
        let from = self.start.saturating_add(u64::from(w).saturating_mul(self.window_blocks));
        (from, from.saturating_add(self.window_blocks))
    }

    /// The collateral that backs window `w`: an equal share, the remainder on the last.
    fn share(&self, w: u32) -> U256 {
        let n = U256::from(self.windows);
        let base = self.collateral / n;
        if w.saturating_add(1) == self.windows { base + self.collateral % n } else { base }
    }
}

fn state(id: u64) -> u8 {
    u8::try_from(STATE.get(&id)).unwrap_or(u8::MAX)
}

fn window_state(id: u64, w: u32) -> u8 {
    u8::try_from(WINDOWS.get(&(id, u64::from(w)))).unwrap_or(u8::MAX)
}

fn credit(who: Address, amount: U256) {
    OWED.set(&who, &(OWED.get(&who) + amount));
}

/// Resolves open window `w` of deal `id` as `to`.
fn resolve(id: u64, w: u32, to: u8) {
    WINDOWS.set(&(id, u64::from(w)), &u64::from(to));
    RESOLVED.set(&id, &RESOLVED.get(&id).saturating_add(1));
}

/// Deal `deal_id`, refused unless it is in one of `states`.
fn deal_in(deal_id: u64, states: &[u8]) -> Result<Deal, Refusal> {
    let deal = Deal::load(deal_id)?;
    let s = state(deal_id);
    if !states.contains(&s) {
        return Err(refuse(BadDealState { deal_id, state: s }));
    }
    Ok(deal)
}

/// Refused unless the caller is `party` of deal `deal_id`.
fn only(deal_id: u64, party: Address) -> Result<(), Refusal> {
    let caller = env::caller();
    if caller != party {
        return Err(refuse(NotParty { deal_id, caller }));
    }
    Ok(())
}

/// Refused unless window `w` of `deal` exists and is open.
fn check_open(deal_id: u64, deal: &Deal, w: u32) -> Result<(), Refusal> {
    if w >= deal.windows {
        return Err(refuse(WindowClosed { deal_id, window: w, state: u8::MAX }));
    }
    let ws = window_state(deal_id, w);
    if ws != OPEN {
        return Err(refuse(WindowClosed { deal_id, window: w, state: ws }));
    }
    Ok(())
}

/// The proof chain's last checkpointed height, as the registry knows it (refused if the
/// registry does not follow the proof chain).
fn proof_chain_height() -> Result<u64, Refusal> {
    let chain = PROOF_CHAIN.get();
    let info = view_contract(REGISTRY.get(), &IChainRegistry::chainInfoCall { chainId: chain }).map_err(Revert::from)?;
    if !info.known {
        return Err(Revert(strata_sdk::SolError::abi_encode(&IChainRegistry::UnknownChain { chainId: chain })));
    }
    Ok(info.checkpointHeight)
}

fn check_terms(size: u64, windows: u32, start: u64, window_blocks: u64, challenges: u32, provider: Address) -> Result<(), String> {
    if size == 0 {
        return Err("size must be at least 1 byte".into());
    }
    if windows == 0 || windows > MAX_WINDOWS {
        return Err(format!("windows must be 1..={MAX_WINDOWS}"));
    }
    if window_blocks == 0 || window_blocks > MAX_WINDOW_BLOCKS {
        return Err(format!("windowBlocks must be 1..={MAX_WINDOW_BLOCKS}"));
    }
    if challenges == 0 || challenges > MAX_CHALLENGES {
        return Err(format!("challenges must be 1..={MAX_CHALLENGES}"));
    }
    if start == 0 {
        return Err("startBlock must be at least 1 (a window's seed is the block before it)".into());
    }
    if u64::from(windows).checked_mul(window_blocks).and_then(|b| b.checked_add(start)).is_none() {
        return Err("the windows overflow the block numbers".into());
    }
    if provider.is_zero() {
        return Err("no provider".into());
    }
    Ok(())
}

/// The storage-deal contract.
pub struct Deals;

#[contract]
impl Deals {
    /// Proofs come from `proof_contract` on chain `proof_chain_id`, checked by
    /// `registry` (this chain's chain registry); a window may be slashed
    /// `grace_blocks` proof-chain blocks after it ends.
    #[constructor]
    pub fn constructor(registry: Address, proof_chain_id: u64, proof_contract: Address, grace_blocks: u64) {
        REGISTRY.set(&registry);
        PROOF_CHAIN.set(&proof_chain_id);
        PROOF_CONTRACT.set(&proof_contract);
        GRACE.set(&grace_blocks);
    }

    /// Registry, proof chain, proof contract, grace blocks.
    #[view]
    pub fn settings() -> (Address, u64, Address, u64) {
        (REGISTRY.get(), PROOF_CHAIN.get(), PROOF_CONTRACT.get(), GRACE.get())
    }

    /// Proposes a deal; the value sent must be `windows × price_per_window`.
    #[payable]
    #[allow(clippy::too_many_arguments)]
    pub fn open_deal(
        root: B256,
        size: u64,
        windows: u32,
        start_block: u64,
        window_blocks: u64,
        challenges: u32,
        price_per_window: U256,
        provider: Address,
        collateral: U256,
    ) -> Result<u64, Refusal> {
        check_terms(size, windows, start_block, window_blocks, challenges, provider).map_err(|reason| refuse(InvalidTerms { reason }))?;
        let expected = price_per_window
            .checked_mul(U256::from(windows))
            .ok_or_else(|| refuse(InvalidTerms { reason: "the price overflows".into() }))?;
        let sent = env::call_value();
        if sent != expected {
            return Err(refuse(WrongValue { sent, expected }));
        }
        let id = COUNT.get().saturating_add(1);
        COUNT.set(&id);
        let client = env::caller();
        let deal = Deal {
            client,
            provider,
            root,
            size,
            windows,
            start: start_block,
            window_blocks,
            challenges,
            price: price_per_window,
            collateral,
        };
        DEALS.set(&id, &deal.terms().abi_encode());
        STATE.set(&id, &u64::from(PROPOSED));
        DealProposed { deal_id: id, client, provider }.emit();
        Ok(id)
    }

    /// The provider accepts, escrowing the collateral (exactly); the deal opens if the
    /// proof chain (as checkpointed) has not reached its start.
    #[payable]
    pub fn accept_deal(deal_id: u64) -> Result<(), Refusal> {
        let deal = deal_in(deal_id, &[PROPOSED])?;
        only(deal_id, deal.provider)?;
        let sent = env::call_value();
        if sent != deal.collateral {
            return Err(refuse(WrongValue { sent, expected: deal.collateral }));
        }
        let checkpoint = proof_chain_height()?;
        if checkpoint >= deal.start {
            return Err(refuse(TooLate { start_block: deal.start, checkpoint }));
        }
        STATE.set(&deal_id, &u64::from(ACTIVE));
        DealOpened {
            deal_id,
            client: deal.client,
            provider: deal.provider,
            root: deal.root,
            size: deal.size,
            windows: deal.windows,
            start_block: deal.start,
            window_blocks: deal.window_blocks,
            challenges: deal.challenges,
        }
        .emit();
        Ok(())
    }

    /// The client withdraws a proposal nobody accepted; its escrow becomes withdrawable.
    pub fn cancel_proposal(deal_id: u64) -> Result<(), Refusal> {
        let deal = deal_in(deal_id, &[PROPOSED])?;
        only(deal_id, deal.client)?;
        STATE.set(&deal_id, &u64::from(CANCELLED));
        credit(deal.client, deal.price * U256::from(deal.windows));
        DealCancelled { deal_id }.emit();
        Ok(())
    }

    /// Settles a window on a relayed `StorageProved` (RLP `RelayedLog`). Anyone may relay.
    pub fn settle_proof(relayed: Bytes) -> Result<(), Refusal> {
        let call = IChainRegistry::verifyLogAndCheckpointCall { chainId: PROOF_CHAIN.get(), relayed };
        let log = call_contract(REGISTRY.get(), &call, U256::ZERO).map_err(Revert::from)?;
        let expected = PROOF_CONTRACT.get();
        if log.emitter != expected {
            return Err(refuse(NotAProof { reason: format!("emitted by {}, not the proof contract {expected}", log.emitter) }));
        }
        if log.topics.first() != Some(&StorageProved::SIGNATURE_HASH) {
            return Err(refuse(NotAProof { reason: "not a StorageProved event".into() }));
        }
        let proved = StorageProved::decode_raw_log(log.topics.iter().copied(), &log.data)
            .map_err(|e| refuse(NotAProof { reason: format!("StorageProved does not decode: {e}") }))?;
        if SETTLED.get(&log.eventKey) {
            return Err(refuse(AlreadySettled { event_key: log.eventKey }));
        }
        let (deal_id, w) = (proved.dealId, proved.window);
        let deal = deal_in(deal_id, &[ACTIVE, ENDED])?;
        if proved.provider != deal.provider {
            return Err(refuse(NotAProof { reason: format!("proven by {}, the deal's provider is {}", proved.provider, deal.provider) }));
        }
        check_open(deal_id, &deal, w)?;
        let (from, to) = deal.window(w);
        if log.blockNumber < from || log.blockNumber >= to {
            return Err(refuse(NotAProof { reason: format!("proven at block {}, window {w} is blocks {from}..{to}", log.blockNumber) }));
        }
        SETTLED.set(&log.eventKey, &true);
        resolve(deal_id, w, PAID);
        let amount = deal.price + deal.share(w);
        credit(deal.provider, amount);
        WindowPaid { deal_id, window: w, amount, event_key: log.eventKey }.emit();
        Ok(())
    }

    /// Compensates the client for window `window`, unproven although the proof chain's
    /// checkpoint passed its end plus the grace period. Anyone may call.
    pub fn slash_window(deal_id: u64, window: u32) -> Result<(), Refusal> {
        let deal = deal_in(deal_id, &[ACTIVE, ENDED])?;
        check_open(deal_id, &deal, window)?;
        let due = deal.window(window).1.saturating_add(GRACE.get());
        let checkpoint = proof_chain_height()?;
        if checkpoint < due {
            return Err(refuse(NotDue { deal_id, window, due, checkpoint }));
        }
        resolve(deal_id, window, SLASHED);
        let amount = deal.price + deal.share(window);
        credit(deal.client, amount);
        WindowSlashed { deal_id, window, amount }.emit();
        Ok(())
    }

    /// The client ends the deal: every open window starting above the proof chain's last
    /// checkpoint is cancelled — its price back to the client, its collateral share
    /// back to the provider; windows already begun run their course.
    pub fn end_deal(deal_id: u64) -> Result<(), Refusal> {
        let deal = deal_in(deal_id, &[ACTIVE])?;
        only(deal_id, deal.client)?;
        let checkpoint = proof_chain_height()?;
        let first = if checkpoint < deal.start {
            0
        } else {
            u32::try_from((checkpoint - deal.start) / deal.window_blocks + 1).unwrap_or(u32::MAX).min(deal.windows)
        };
        let (mut cancelled, mut refund, mut returned) = (0u32, U256::ZERO, U256::ZERO);
        for w in first..deal.windows {
            if window_state(deal_id, w) == OPEN {
                WINDOWS.set(&(deal_id, u64::from(w)), &u64::from(CANCELLED_WINDOW));
                refund += deal.price;
                returned += deal.share(w);
                cancelled += 1;
            }
        }
        // Credited once: up to 1,000 windows cost one write per window, not three.
        RESOLVED.set(&deal_id, &RESOLVED.get(&deal_id).saturating_add(u64::from(cancelled)));
        credit(deal.client, refund);
        credit(deal.provider, returned);
        STATE.set(&deal_id, &u64::from(ENDED));
        DealEnded { deal_id, first_cancelled: first, cancelled }.emit();
        Ok(())
    }

    /// Pays the caller what it is owed.
    pub fn withdraw() -> Result<U256, Refusal> {
        let who = env::caller();
        let amount = OWED.get(&who);
        if amount.is_zero() {
            return Ok(amount);
        }
        OWED.set(&who, &U256::ZERO);
        match host::call(who, amount, &[], 0) {
            host::CallResult::Success(_) => Ok(amount),
            host::CallResult::Revert(data) | host::CallResult::Failure(data) => Err(Revert(data)),
        }
    }

    /// What `account` may withdraw.
    #[view]
    pub fn owed(account: Address) -> U256 {
        OWED.get(&account)
    }

    /// Deals opened so far (ids 1..=count).
    #[view]
    pub fn deal_count() -> u64 {
        COUNT.get()
    }

    /// A deal's terms, state and resolved windows.
    #[view]
    #[allow(clippy::type_complexity)] // the ABI's tuple, spelled out for #[contract]
    pub fn deal(deal_id: u64) -> Result<(Address, Address, B256, u64, u32, u64, u64, u32, U256, U256, u8, u32), Refusal> {
        let d = Deal::load(deal_id)?;
        let resolved = u32::try_from(RESOLVED.get(&deal_id)).unwrap_or(u32::MAX);
        Ok((
            d.client,
            d.provider,
            d.root,
            d.size,
            d.windows,
            d.start,
            d.window_blocks,
            d.challenges,
            d.price,
            d.collateral,
            state(deal_id),
            resolved,
        ))
    }

    /// A window's state: 0 open, 1 paid, 2 slashed, 3 cancelled.
    #[view]
    pub fn window_state(deal_id: u64, window: u32) -> u8 {
        window_state(deal_id, window)
    }
}
