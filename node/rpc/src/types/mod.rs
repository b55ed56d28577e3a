//! Ethereum JSON-RPC shapes: block identifiers, blocks, transactions, receipts, logs,
//! proofs, and the answers of the `strata_*` methods.
//!
//! Quantities are `0x`-prefixed minimal hex (`U64`/`U256` serialise that way),
//! data is `0x`-prefixed hex, field names are camelCase — what web3.py, ethers
//! and viem parse.

mod block;
mod params;
mod proof;
mod receipt;
mod strata;
mod transaction;

pub use block::{FeeHistory, RpcBlock};
pub use params::{BlockId, BlockTag, Quantity, StorageKey};
pub use proof::{Eip1186Proof, Eip1186StorageProof, RpcReceiptProof, StrataProof, StrataStorageProof};
pub use receipt::{RpcLog, RpcReceipt, RpcResources};
pub use strata::{RpcCertificate, RpcConsensusStatus, RpcFeeQuote, RpcStorageQuota};
pub use transaction::{RpcTransaction, TxContext};
