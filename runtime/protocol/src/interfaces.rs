//! The system contracts' public interfaces, as Solidity ABI (`alloy-sol-types`), and
//! the errors the runtime's system ops refuse with: what the runtime calls (the fee
//! quote), what contracts call (the SDK re-exports these), what clients and tests
//! encode.

#![allow(clippy::too_many_arguments)] // the generated bindings of setPrices and PricesChanged

use alloy_sol_types::sol;

sol! {
    /// The fee contract's public ABI (at [`crate::system::FEE_CONTRACT`]). Constructor:
    /// `(address admin, uint256 gasPrice, uint256 fuelPrice, uint256 networkBytePrice,
    /// uint256 storageBytePrice, uint256 coldByteDayPrice, uint64 defaultRetentionSeconds,
    /// uint64 defaultQuotaBytes)`.
    #[derive(Debug, PartialEq, Eq)]
    interface IFee {
        /// Who may change the prices and the admin.
        function admin() external view returns (address);
        /// The whole price table.
        function prices() external view returns (uint256 gasPrice, uint256 fuelPrice, uint256 networkBytePrice, uint256 storageBytePrice, uint256 coldByteDayPrice, uint64 defaultRetentionSeconds, uint64 defaultQuotaBytes);
        /// What the runtime reads every block.
        function schedule() external view returns (uint256 gasPrice, uint64 defaultQuotaBytes, uint64 defaultRetentionSeconds);
        /// The price of a resource bundle (`validators` 0 counts as 1; cold storage is
        /// charged per byte-day, rounded up). `storageCost` is the ABI's third output,
        /// `storage` (a Solidity keyword, so `sol!` cannot name a field after it).
        function quote(uint64 fuel, uint64 txBytes, uint32 validators, uint64 storageBytes, uint64 coldByteSeconds) external view returns (uint256 compute, uint256 network, uint256 storageCost, uint256 cold, uint256 total);
        /// Admin only; emits `PricesChanged`.
        function setPrices(uint256 gasPrice, uint256 fuelPrice, uint256 networkBytePrice, uint256 storageBytePrice, uint256 coldByteDayPrice, uint64 defaultRetentionSeconds, uint64 defaultQuotaBytes) external;
        /// Admin only; emits `AdminChanged`.
        function setAdmin(address admin) external;
        /// The price table changed (also emitted by the constructor).
        event PricesChanged(address indexed by, uint256 gasPrice, uint256 fuelPrice, uint256 networkBytePrice, uint256 storageBytePrice, uint256 coldByteDayPrice, uint64 defaultRetentionSeconds, uint64 defaultQuotaBytes);
        /// The admin changed (also emitted by the constructor, from the zero address).
        event AdminChanged(address indexed previous, address indexed admin);
        /// Only the admin may do this.
        error NotAdmin(address caller);
        /// The prices break a rule; the reason says which.
        error InvalidPrices(string reason);
    }

    /// The archive contract's public ABI (at [`crate::system::ARCHIVE_CONTRACT`]).
    #[derive(Debug, PartialEq, Eq)]
    interface IArchive {
        /// Moves `target`'s entries at `keys` (raw storage keys) to the cold store for
        /// `retentionSeconds` (0: the fee contract's default). Caller: `target` or an
        /// account it authorised. The transaction's origin pays.
        function archive(address target, bytes[] keys, uint64 retentionSeconds) external returns (uint64 archived, uint64 bytes);
        /// Archives up to `limit` live keys of `target` starting with `prefix`, strictly
        /// after `startAfter`; `lastKey` (empty: none) is where the next page starts.
        function archivePrefix(address target, bytes prefix, bytes startAfter, uint32 limit, uint64 retentionSeconds) external returns (uint64 archived, bytes lastKey);
        /// Brings entries back from the cold store. Caller: `target`, an account it
        /// authorised, or its owner.
        function restore(address target, bytes[] keys) external returns (uint64 restored);
        /// Brings entries back from values the caller supplies (checked against the
        /// tombstones' hashes). Caller: as for `restore`.
        function restoreWithData(address target, bytes[] keys, bytes[] values) external returns (uint64 restored);
        /// The calling contract lets (or stops letting) `account` archive its data.
        function authorise(address account, bool allowed) external;
        /// Whether `account` may archive `target`'s data.
        function isAuthorised(address target, address account) external view returns (bool);
        /// Sets `target`'s storage quota. Caller: `target` or its owner.
        function setQuota(address target, uint64 quotaBytes) external;
        /// `target`'s owner, storage quota and bytes used.
        function quota(address target) external view returns (address owner, uint64 quota, uint64 used);
        /// What the tombstone at `target`'s `key` says (`archived` false: none).
        function tombstone(address target, bytes key) external view returns (bool archived, bytes32 valueHash, uint64 size, uint64 retentionEnd, address payer, bool purged);
        /// An entry went to the cold store.
        event Archived(address indexed target, bytes key, bytes32 valueHash, uint64 size, uint64 retentionEnd, address indexed payer);
        /// An entry came back.
        event Restored(address indexed target, bytes key, bytes32 valueHash, bool fromCold);
        /// `target` changed `account`'s right to archive its data.
        event Authorised(address indexed target, address indexed account, bool allowed);
        /// `target`'s quota changed.
        event QuotaChanged(address indexed target, uint64 previous, uint64 quota);
        /// The caller may not archive (or restore) `target`'s data.
        error NotAuthorised(address target, address caller);
        /// `restoreWithData` got a different number of keys and values.
        error LengthMismatch(uint64 keys, uint64 values);
        /// Only `target` or its owner may do this.
        error NotOwner(address target, address caller);
        /// No keys given.
        error EmptyKeys();
    }
}

sol! {
    /// What a transaction to the validator-slots account ([`crate::slots::VALIDATOR_SLOTS`])
    /// may ask: the runtime answers it natively (the account has no code).
    #[derive(Debug, PartialEq, Eq)]
    interface IValidatorSlots {
        /// Schedules slot `slot`'s roles to swap from height `atHeight` (at least three
        /// blocks after the transaction's): only the slot's operator may.
        function scheduleSwitch(uint32 slot, uint64 atHeight) external;
        /// Refused: the reason says why (not the operator, no backup, too soon, no slot).
        error SwitchRefused(uint32 slot, string reason);
    }
}

sol! {
    /// Refusals of the runtime's system ops (the archive contract passes them on).
    #[derive(Debug, PartialEq, Eq)]
    interface ISystemOps {
        /// The key holds no live value to archive.
        error NotStored(address target, bytes key);
        /// The key is archived already.
        error AlreadyArchived(address target, bytes key);
        /// The key is not archived: nothing to restore.
        error NotArchived(address target, bytes key);
        /// The supplied bytes are not the archived value.
        error HashMismatch(address target, bytes key, bytes32 expected, bytes32 actual);
        /// The cold copy was purged when retention ended: supply the bytes (restoreWithData).
        error ColdCopyPurged(address target, bytes key, uint64 retentionEnd);
        /// A quota below what the contract already uses.
        error QuotaBelowUsage(address target, uint64 quota, uint64 used);
        /// The op's input is malformed or breaks a rule; the reason says which.
        error BadSystemInput(uint32 op, string reason);
    }
}

sol! {
    /// The chain registry's public ABI (at [`crate::system::CHAIN_REGISTRY`]): the chains
    /// this chain follows — children registered here, and the parent named in its genesis
    /// — and the verification of what is relayed from them. Constructor: `(address admin,
    /// uint256 registrationFee, uint64 parentChainId, address parentRegistry, bytes32
    /// parentGenesisHash, address[] parentValidators, uint32 parentQuorum)`
    /// (`parentChainId` 0: no parent).
    #[derive(Debug, PartialEq, Eq)]
    interface IChainRegistry {
        /// Who may register chains without a fee and change the fee and the admin.
        function admin() external view returns (address);
        /// What registering costs anyone but the admin (0: only the admin registers).
        function registrationFee() external view returns (uint256);
        /// The parent chain named in this chain's genesis (0: none) and its registry.
        function parent() external view returns (uint64 chainId, address registry);
        /// Registers child chain `chainId`: by the admin, or by anyone paying the fee
        /// (passed on to the admin). `quorum` is at least the set's BFT quorum, n − f
        /// (2f+1 when n = 3f+1), and at most n.
        function register(uint64 chainId, bytes32 genesisHash, address[] validators, uint32 quorum) external payable;
        /// What the registry knows of `chainId` (`known` false: nothing).
        function chainInfo(uint64 chainId) external view returns (bool known, bool isParent, bytes32 genesisHash, uint32 quorum, uint32 epochs, uint64 checkpointHeight, bytes32 checkpointHash, bytes32 stateRoot, bytes32 receiptsRoot);
        /// The set that signs `height` of `chainId`.
        function validatorsAt(uint64 chainId, uint64 height) external view returns (address[] validators);
        /// Follows a validator-set change of `chainId`: `link` is an RLP `SwitchLink`
        /// (a block that decided a slot switch, its certificate by the set of its height,
        /// the slot records proven against its state root). Anyone may submit one.
        function updateValidators(uint64 chainId, bytes link) external;
        /// Records a checkpoint of `chainId`: `header` (RLP) finalized by `certificate`
        /// (RLP commit certificate) of the set of its height, above the last one.
        function checkpoint(uint64 chainId, bytes header, bytes certificate) external;
        /// Verifies `relayed` (an RLP `RelayedLog`) as a log of `chainId` in a block at or
        /// below its last checkpoint, and returns it with its event key
        /// (`strata_protocol::relay::EventKey::hash`), which a caller records to act once.
        function verifyLog(uint64 chainId, bytes relayed) external view returns (bytes32 eventKey, address emitter, bytes32[] topics, bytes data, uint64 blockNumber);
        /// `verifyLog`, the relayed block first becoming the checkpoint if it is above the
        /// last one (its header and certificate checked as `checkpoint` checks them): one
        /// transaction settles a fresh event. What the storage contracts call.
        function verifyLogAndCheckpoint(uint64 chainId, bytes relayed) external returns (bytes32 eventKey, address emitter, bytes32[] topics, bytes data, uint64 blockNumber);
        /// Admin only: stops following registered child `chainId` (a squatted or wrong
        /// registration), which may then be registered again. Not the parent.
        function deregister(uint64 chainId) external;
        /// Admin only.
        function setRegistrationFee(uint256 fee) external;
        /// Admin only (0 gives the role up: registration by fee only, if there is one).
        function setAdmin(address admin) external;
        /// A chain is followed from now on.
        event ChainRegistered(uint64 indexed chainId, bytes32 genesisHash, address[] validators, uint32 quorum, bool isParent, address by);
        /// A registered child is no longer followed.
        event ChainDeregistered(uint64 indexed chainId, address by);
        /// A followed chain's set changed: `validators` sign from `fromHeight` on (two
        /// blocks after the block that decided the switch, as the slot rule says).
        event ValidatorsUpdated(uint64 indexed chainId, uint64 fromHeight, address[] validators);
        /// A followed chain's checkpoint moved.
        event Checkpointed(uint64 indexed chainId, uint64 height, bytes32 blockHash, bytes32 stateRoot, bytes32 receiptsRoot);
        /// The admin changed.
        event AdminChanged(address indexed previous, address indexed admin);
        /// The registration fee changed.
        event FeeChanged(uint256 previous, uint256 fee);
        /// Only the admin may do this.
        error NotAdmin(address caller);
        /// Registration costs `fee`; `paid` came with the call.
        error FeeTooLow(uint256 paid, uint256 fee);
        /// The chain is followed already (or is this chain).
        error AlreadyKnown(uint64 chainId);
        /// The registry follows no chain `chainId`.
        error UnknownChain(uint64 chainId);
        /// The validator set or quorum breaks a rule; the reason says which.
        error InvalidSet(string reason);
        /// A header, link or relayed log does not decode.
        error Malformed(string reason);
        /// A certificate does not finalize what it should with the registered set.
        error BadCertificate(uint64 chainId, uint64 height, string reason);
        /// A relayed log's receipt or transaction proof does not check out.
        error BadProof(uint64 chainId, uint64 height, string reason);
        /// A checkpoint at or below the last one.
        error StaleCheckpoint(uint64 chainId, uint64 height, uint64 last);
        /// A relayed log from a block above the last checkpoint: checkpoint first.
        error AboveCheckpoint(uint64 chainId, uint64 height, uint64 checkpoint);
        /// A switch link at or below the last one, or one above an earlier switch not
        /// followed yet (`height` is then that switch's block).
        error StaleLink(uint64 chainId, uint64 height, uint64 last);
    }
}

sol! {
    /// The storage-deal contract of a contract chain (`contracts/storage/deal`): clients
    /// pay providers per proving window, settled by `StorageProved` events relayed from
    /// the proof chain. Constructor: `(address registry, uint64 proofChainId, address
    /// proofContract, uint64 graceBlocks)`. Windows are counted in proof-chain blocks:
    /// window `w` is `[startBlock + w × windowBlocks, startBlock + (w + 1) × windowBlocks)`.
    #[derive(Debug, PartialEq, Eq)]
    interface IStorageDeal {
        /// Proposes a deal, escrowing `windows × pricePerWindow` (the value sent, exactly).
        function openDeal(bytes32 root, uint64 size, uint32 windows, uint64 startBlock, uint64 windowBlocks, uint32 challenges, uint256 pricePerWindow, address provider, uint256 collateral) external payable returns (uint64 dealId);
        /// The provider accepts, escrowing `collateral` (exactly); emits `DealOpened`.
        function acceptDeal(uint64 dealId) external payable;
        /// The client withdraws a proposal nobody accepted; the escrow comes back.
        function cancelProposal(uint64 dealId) external;
        /// Settles a window on a relayed `StorageProved` (an RLP `RelayedLog` of the proof
        /// chain, checked by the registry): the provider earns the window's price and its
        /// collateral share. Anyone may submit; each event settles once.
        function settleProof(bytes relayed) external;
        /// A window whose end plus the grace period the proof chain's checkpoint has
        /// passed, unproven: its price and collateral share go to the client.
        function slashWindow(uint64 dealId, uint32 window) external;
        /// The client ends the deal: windows starting above the proof chain's last
        /// checkpoint are cancelled (price back to the client, collateral share back to
        /// the provider); the others run their course.
        function endDeal(uint64 dealId) external;
        /// Pays out what the caller is owed.
        function withdraw() external returns (uint256 amount);
        /// What `account` may withdraw.
        function owed(address account) external view returns (uint256);
        /// A deal's terms and state (0 proposed, 1 active, 2 ended, 3 cancelled).
        function deal(uint64 dealId) external view returns (address client, address provider, bytes32 root, uint64 size, uint32 windows, uint64 startBlock, uint64 windowBlocks, uint32 challenges, uint256 pricePerWindow, uint256 collateral, uint8 state, uint32 resolved);
        /// A window's state: 0 open, 1 paid, 2 slashed, 3 cancelled.
        function windowState(uint64 dealId, uint32 window) external view returns (uint8);
        /// Deals opened so far (ids are 1..=count).
        function dealCount() external view returns (uint64);
        /// The settings: registry, proof chain, proof contract, grace blocks.
        function settings() external view returns (address registry, uint64 proofChainId, address proofContract, uint64 graceBlocks);
        /// A deal was proposed.
        event DealProposed(uint64 indexed dealId, address indexed client, address indexed provider);
        /// A deal is active: what the proof chain learns (relayed).
        event DealOpened(uint64 indexed dealId, address indexed client, address indexed provider, bytes32 root, uint64 size, uint32 windows, uint64 startBlock, uint64 windowBlocks, uint32 challenges);
        /// A proposal was withdrawn.
        event DealCancelled(uint64 indexed dealId);
        /// A window was proven and paid.
        event WindowPaid(uint64 indexed dealId, uint32 window, uint256 amount, bytes32 eventKey);
        /// A window went unproven past its grace: the client was compensated.
        event WindowSlashed(uint64 indexed dealId, uint32 window, uint256 amount);
        /// The client ended the deal; `cancelled` windows from `firstCancelled` on.
        event DealEnded(uint64 indexed dealId, uint32 firstCancelled, uint32 cancelled);
        /// Terms that break a rule; the reason says which.
        error InvalidTerms(string reason);
        /// No such deal, or not in a state that allows this.
        error BadDealState(uint64 dealId, uint8 state);
        /// Only the deal's client (or provider) may do this.
        error NotParty(uint64 dealId, address caller);
        /// The value sent is not what the terms ask.
        error WrongValue(uint256 sent, uint256 expected);
        /// The proof chain's checkpoint is past the deal's start: too late to accept.
        error TooLate(uint64 startBlock, uint64 checkpoint);
        /// A relayed log that is not a `StorageProved` of the registered proof contract.
        error NotAProof(string reason);
        /// The event was settled already.
        error AlreadySettled(bytes32 eventKey);
        /// The window is resolved already (state) or does not exist.
        error WindowClosed(uint64 dealId, uint32 window, uint8 state);
        /// Too early to slash: the proof chain's checkpoint must reach `due`.
        error NotDue(uint64 dealId, uint32 window, uint64 due, uint64 checkpoint);
    }

    /// The proof contract of a proof chain (`contracts/storage/proof`): providers prove
    /// they hold the segments a window's challenge names. Constructor: `(address registry,
    /// uint64 contractChainId, address dealContract)`.
    #[derive(Debug, PartialEq, Eq)]
    interface IStorageProof {
        /// Learns a deal from a relayed `DealOpened` of the contract chain's deal contract.
        function announceDeal(bytes relayed) external;
        /// The provider proves window `window` of deal `dealId`: the challenged segments in
        /// challenge order, each with its Merkle path.
        function prove(uint64 dealId, uint32 window, bytes[] segments, bytes32[][] paths) external;
        /// The segments window `window` challenges, once its seed block exists.
        function challenge(uint64 dealId, uint32 window) external view returns (uint64[] indices);
        /// A deal as announced: provider, root, size, windows, start, window length, challenges.
        function deal(uint64 dealId) external view returns (bool known, address provider, bytes32 root, uint64 size, uint32 windows, uint64 startBlock, uint64 windowBlocks, uint32 challenges);
        /// Whether window `window` of deal `dealId` was proven here.
        function proven(uint64 dealId, uint32 window) external view returns (bool);
        /// The settings: registry, contract chain, deal contract.
        function settings() external view returns (address registry, uint64 contractChainId, address dealContract);
        /// A deal was announced.
        event DealAnnounced(uint64 indexed dealId, address indexed provider, bytes32 eventKey);
        /// A window was proven: what the contract chain settles on (relayed).
        event StorageProved(uint64 indexed dealId, uint32 indexed window, address indexed provider);
        /// A relayed log that is not a `DealOpened` of the registered deal contract.
        error NotADeal(string reason);
        /// The deal was announced already.
        error AlreadyAnnounced(uint64 dealId);
        /// No such deal here.
        error UnknownDeal(uint64 dealId);
        /// Only the deal's provider proves it.
        error NotProvider(uint64 dealId, address caller);
        /// Not inside the window (blocks `from..to`), or the window does not exist.
        error OutsideWindow(uint64 dealId, uint32 window, uint64 from, uint64 to, uint64 now);
        /// Proven already.
        error AlreadyProven(uint64 dealId, uint32 window);
        /// A segment or path does not match the deal's root; `index` is the challenge.
        error BadSegment(uint64 dealId, uint32 window, uint32 index, uint64 segment);
        /// Not one segment and path per challenge.
        error WrongChallengeCount(uint32 given, uint32 expected);
    }

}

pub use crate::attestation::IAttestation;
