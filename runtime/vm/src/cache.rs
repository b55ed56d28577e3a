//! Compiled modules on disk, keyed by (engine configuration, code hash).
//!
//! A restarted node loads what it compiled before instead of compiling again.
//! Each file is the serialized module followed by the Keccak-256 of it; a file
//! that does not match its checksum (torn write, corruption) is ignored and
//! replaced, never loaded.
//!
//! The directory is bounded in bytes: when a new module would pass the bound, the
//! least recently *used* modules are deleted first (a load counts as a use, and
//! touches the file's modification time so the order survives a restart). Only
//! code that was paid for on chain is stored here (see [`crate::CachePolicy`]).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::SystemTime,
};

use parking_lot::Mutex;
use strata_primitives::{B256, keccak256};
use wasmtime::{Engine, Module};

/// Default bound of the disk cache: 1 GiB.
pub const DEFAULT_DISK_CACHE_BYTES: u64 = 1 << 30;

#[derive(Debug, Default)]
struct Index {
    /// Code hash → (file size, use tick).
    files: BTreeMap<B256, (u64, u64)>,
    /// Use tick → code hash, oldest first.
    order: BTreeMap<u64, B256>,
    tick: u64,
    bytes: u64,
}

impl Index {
    fn touch(&mut self, hash: B256, size: u64) {
        self.tick = self.tick.wrapping_add(1);
        if let Some((old_size, used)) = self.files.insert(hash, (size, self.tick)) {
            self.order.remove(&used);
            self.bytes = self.bytes.saturating_sub(old_size);
        }
        self.order.insert(self.tick, hash);
        self.bytes = self.bytes.saturating_add(size);
    }

    fn forget(&mut self, hash: &B256) {
        if let Some((size, used)) = self.files.remove(hash) {
            self.order.remove(&used);
            self.bytes = self.bytes.saturating_sub(size);
        }
    }
}

/// A directory of compiled modules for one engine configuration.
#[derive(Debug)]
pub struct DiskCache {
    dir: PathBuf,
    max_bytes: u64,
    index: Mutex<Index>,
}

impl DiskCache {
    /// The cache under `root` for the engine whose configuration hashes to
    /// `engine_hash`, holding at most `max_bytes`. Indexes what is there (oldest
    /// modification first) and removes leftovers of interrupted writes.
    pub fn new(root: &Path, engine_hash: &B256, max_bytes: u64) -> std::io::Result<Self> {
        let dir = root.join(format!("{engine_hash:x}"));
        std::fs::create_dir_all(&dir)?;
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let path = entry.path();
            match name.strip_suffix(".cwasm").and_then(|h| h.parse::<B256>().ok()) {
                Some(hash) => {
                    let meta = entry.metadata()?;
                    found.push((meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), hash, meta.len()));
                }
                None if name.contains(".tmp") => {
                    let _ = std::fs::remove_file(&path);
                }
                None => {}
            }
        }
        found.sort();
        let mut index = Index::default();
        for (_, hash, size) in found {
            index.touch(hash, size);
        }
        let cache = Self { dir, max_bytes, index: Mutex::new(index) };
        cache.evict(&mut cache.index.lock());
        Ok(cache)
    }

    fn path(&self, code_hash: &B256) -> PathBuf {
        self.dir.join(format!("{code_hash:x}.cwasm"))
    }

    /// Modules on disk and their total size in bytes.
    pub fn usage(&self) -> (usize, u64) {
        let index = self.index.lock();
        (index.files.len(), index.bytes)
    }

    /// Whether the module for `code_hash` is on disk.
    pub fn contains(&self, code_hash: &B256) -> bool {
        self.index.lock().files.contains_key(code_hash)
    }

    /// The cached module for `code_hash`, if a valid one is on disk.
    pub fn load(&self, engine: &Engine, code_hash: &B256) -> Option<Module> {
        if !self.contains(code_hash) {
            return None;
        }
        let path = self.path(code_hash);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(_) => {
                self.index.lock().forget(code_hash);
                return None;
            }
        };
        let split = bytes.len().checked_sub(32)?;
        let (artifact, checksum) = bytes.split_at(split);
        if keccak256(artifact).as_slice() != checksum {
            tracing::warn!(%code_hash, "compiled-module cache entry fails its checksum; recompiling");
            return None;
        }
        // SAFETY: `Module::deserialize` requires bytes produced by `Module::serialize` of a
        // compatible engine. The file name carries the engine's compatibility hash, the
        // checksum proves the bytes are exactly what this node wrote after `serialize`,
        // and wasmtime itself re-checks the engine compatibility header.
        #[allow(unsafe_code)]
        let module = unsafe { Module::deserialize(engine, artifact) };
        match module {
            Ok(m) => {
                self.index.lock().touch(*code_hash, bytes.len() as u64);
                // Best effort: the use order survives a restart through the file times.
                if let Ok(f) = std::fs::File::options().write(true).open(&path) {
                    let _ = f.set_modified(SystemTime::now());
                }
                Some(m)
            }
            Err(e) => {
                tracing::warn!(%code_hash, error = %e, "cannot load cached module; recompiling");
                None
            }
        }
    }

    /// Stores a compiled module (write to a temporary file, then rename: atomic), then
    /// deletes the least recently used modules until the cache is within its bound.
    pub fn store(&self, code_hash: &B256, module: &Module) {
        let result = (|| -> std::io::Result<u64> {
            let mut bytes = module.serialize().map_err(std::io::Error::other)?;
            let checksum = keccak256(&bytes);
            bytes.extend_from_slice(checksum.as_slice());
            let tmp = self.dir.join(format!("{code_hash:x}.tmp{}", std::process::id()));
            std::fs::write(&tmp, &bytes)?;
            std::fs::rename(&tmp, self.path(code_hash))?;
            Ok(bytes.len() as u64)
        })();
        match result {
            Ok(size) => {
                let mut index = self.index.lock();
                index.touch(*code_hash, size);
                self.evict(&mut index);
            }
            // The cache is an optimisation: failing to write it only costs a recompile later.
            Err(e) => tracing::warn!(%code_hash, error = %e, "cannot write compiled-module cache"),
        }
    }

    fn evict(&self, index: &mut Index) {
        while index.bytes > self.max_bytes && index.files.len() > 1 {
            let Some((_, oldest)) = index.order.pop_first() else { break };
            if let Some((size, _)) = index.files.remove(&oldest) {
                index.bytes = index.bytes.saturating_sub(size);
            }
            if let Err(e) = std::fs::remove_file(self.path(&oldest)) {
                tracing::debug!(code_hash = %oldest, error = %e, "cannot delete an evicted compiled module");
            }
        }
    }
}
