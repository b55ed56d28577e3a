//! What contracts run under and how the engine is set up: the consensus [`Limits`],
//! the node-local [`VmConfig`] (caches) and the [`CachePolicy`] of a compilation.

use std::path::PathBuf;

use crate::cache::DEFAULT_DISK_CACHE_BYTES;

/// Largest module accepted at deploy (bytes): with its framing, constructor input and
/// signature it must fit in the largest transaction (128 KiB).
pub const MAX_CODE_SIZE: usize = 124 * 1024;

/// Largest module the genesis may install as a system contract (bytes), and so the bound
/// on any code loaded from state. Deploys stay bound by [`MAX_CODE_SIZE`].
pub const MAX_STORED_CODE_SIZE: usize = 512 * 1024;

/// Limits every contract runs under. Part of consensus: all nodes must agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest module accepted at deploy (bytes).
    pub max_code_size: usize,
    /// Linear-memory pages (64 KiB each) a contract may have.
    pub max_memory_pages: u32,
    /// Table elements a contract may have.
    pub max_table_elements: u32,
    /// Native stack available to Wasm code (bytes); deeper recursion traps.
    pub max_wasm_stack: usize,
    /// Nested contract calls.
    pub max_call_depth: u32,
    /// Input of a call (bytes).
    pub max_input_size: usize,
    /// Return or revert data (bytes).
    pub max_return_size: usize,
    /// Data of one log (bytes).
    pub max_log_data: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_code_size: MAX_CODE_SIZE,
            max_memory_pages: 256,
            max_table_elements: 10_000,
            max_wasm_stack: 512 * 1024,
            max_call_depth: 64,
            max_input_size: 128 * 1024,
            max_return_size: 128 * 1024,
            max_log_data: 16 * 1024,
        }
    }
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// Contract limits.
    pub limits: Limits,
    /// Directory for compiled modules (`None`: memory only).
    pub cache_dir: Option<PathBuf>,
    /// Most bytes of compiled modules kept on disk (least recently used leave first).
    pub disk_cache_bytes: u64,
    /// Most compiled contracts kept in memory.
    pub memory_cache_entries: usize,
    /// Most bytes of compiled code kept in memory (least recently used leave first).
    pub memory_cache_bytes: usize,
}

impl Default for VmConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            cache_dir: None,
            disk_cache_bytes: DEFAULT_DISK_CACHE_BYTES,
            memory_cache_entries: 512,
            memory_cache_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Whether a compiled module may be kept for later: code on chain was paid for; code
/// that only an RPC simulation deployed was not, and is compiled for that run only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachePolicy {
    /// Keep it in the memory and disk caches.
    Keep,
    /// Use a cached copy if there is one, but do not add to the caches.
    Transient,
}
