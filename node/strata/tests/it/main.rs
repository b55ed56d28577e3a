//! Integration tests of the Strata node (one binary for the crate): a real node
//! on RocksDB in a temp dir, driven through real JSON-RPC over HTTP.

mod cli_contract;
mod contracts;
mod crash;
mod dev_node;
mod rpc;
mod state_rpc;

pub use rpc::Rpc;
