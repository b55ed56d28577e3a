//! Strata's Ethereum JSON-RPC server.
//!
//! Why: dapps and wallets speak Ethereum JSON-RPC; serving it exactly (method
//! names, JSON shapes, hex quantities, error codes) lets web3.py, ethers and
//! viem work unchanged. One jsonrpsee server answers HTTP and WebSocket on one
//! port. Methods are thin: they parse, ask the [`Chain`](strata_chain::Chain), and
//! shape the answer. Bad parameters get `-32602`, refused transactions `-32000` with
//! the reason, node failures `-32603`; nothing a client sends can crash the node.
//! Methods that execute contracts or walk tries run on the blocking pool, so they
//! never stall the server's event loop.
//!
//! Layout, by namespace (as reth's `rpc-eth-api`): each group of methods is one
//! `#[rpc(server)]` trait, declared and implemented for [`EthRpc`] in its module, and
//! [`start`] merges them into one module:
//! - `eth`: [`EthRpc`] and the `web3_`/`net_`/chain-info methods; `eth::state`
//!   (balances, nonces, code, storage, `eth_getProof`), `eth::call` (`eth_call`,
//!   `eth_estimateGas`, fee quotes, the simulation pool), `eth::block` (blocks, block
//!   receipts, counts, fee history), `eth::transaction` (send, lookups, receipts);
//! - `filter` (polling filters, `eth_getLogs`) over [`logs`], `pubsub` (`eth_subscribe`);
//! - `strata` (`strata_*`: proofs, quotas, fee quotes, certificates, receipt proofs,
//!   consensus status); `ots` (Otterscan's `ots_*`: the address index, block details); `slots` (validator slots, set proofs); `certified`
//!   (`strata_sendRawTransactionCertified`, over the node's [`CertifyService`]);
//! - `server` ([`start`], [`RpcConfig`], limits, CORS and metrics middleware);
//!   `explorer` (the `/explorer` pages on the same port, `strata-explorer`'s files);
//! - `block_id`: the one resolver from a block tag, number or hash to a height;
//!   `error`: the JSON-RPC error of each kind of failure; `types`: the JSON shapes.

pub mod cors;
pub mod explorer;
pub mod logs;
pub mod metrics;

mod block_id;
mod certified;
mod error;
mod eth;
mod filter;
mod ots;
mod pubsub;
mod server;
mod slots;
mod strata;
mod types;

pub use certified::{CertifiedApiServer, CertifyFailure, CertifyService, RpcStorageCertificate};
pub use eth::{
    CallRequest, EthApiServer, EthBlockApiServer, EthCallApiServer, EthRpc, EthStateApiServer, EthTransactionApiServer, QuoteRequest,
};
pub use filter::EthFilterApiServer;
pub use ots::{MAX_OTS_PAGE, OTS_API_LEVEL, OtsApiServer};
pub use pubsub::EthPubSubApiServer;
pub use server::{Error, Result, RpcConfig, start};
pub use slots::{RpcLiveness, RpcSetProof, RpcSlot, RpcSlots, RpcSwitch, SlotsApiServer};
pub use strata::StrataApiServer;
pub use types::{
    BlockId, BlockTag, Eip1186Proof, Eip1186StorageProof, RpcBlock, RpcFeeQuote, RpcReceipt, RpcStorageQuota, RpcTransaction, StorageKey,
    StrataProof, StrataStorageProof,
};

/// Name and version reported by `web3_clientVersion`.
pub const CLIENT_VERSION: &str = concat!("strata/v", env!("CARGO_PKG_VERSION"));

/// Suggested priority fee (wei per gas) returned by `eth_maxPriorityFeePerGas`: zero,
/// because Strata charges the fee contract's gas price and never a tip.
pub const SUGGESTED_PRIORITY_FEE: u64 = 0;

/// `-32005`: the node is at its limit for this kind of request (EIP-1474 "limit exceeded").
pub const LIMIT_EXCEEDED_CODE: i32 = -32005;

/// Most storage keys proven in one request.
pub const MAX_PROOF_KEYS: usize = 256;
