//! Compiled modules on disk, keyed by (engine configuration, code hash).
//!
//! A restarted node loads what it compiled before instead of compiling again.
//! Each file is the serialized module followed by the Keccak-256 of it; a file
//! that does not match its checksum (torn write, corruption) is ignored and
//! replaced, never loaded.

use std::path::{Path, PathBuf};

use strata_primitives::{B256, keccak256};
use wasmtime::{Engine, Module};

/// A directory of compiled modules for one engine configuration.
#[derive(Debug, Clone)]
pub struct DiskCache {
    dir: PathBuf,
}

impl DiskCache {
    /// The cache under `root` for the engine whose configuration hashes to `engine_hash`.
    pub fn new(root: &Path, engine_hash: &B256) -> std::io::Result<Self> {
        let dir = root.join(format!("{engine_hash:x}"));
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    fn path(&self, code_hash: &B256) -> PathBuf {
        self.dir.join(format!("{code_hash:x}.cwasm"))
    }

    /// The cached module for `code_hash`, if a valid one is on disk.
    pub fn load(&self, engine: &Engine, code_hash: &B256) -> Option<Module> {
        let bytes = std::fs::read(self.path(code_hash)).ok()?;
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
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!(%code_hash, error = %e, "cannot load cached module; recompiling");
                None
            }
        }
    }

    /// Stores a compiled module (write to a temporary file, then rename: atomic).
    pub fn store(&self, code_hash: &B256, module: &Module) {
        let result = (|| -> std::io::Result<()> {
            let mut bytes = module.serialize().map_err(std::io::Error::other)?;
            let checksum = keccak256(&bytes);
            bytes.extend_from_slice(checksum.as_slice());
            let tmp = self.dir.join(format!("{code_hash:x}.tmp{}", std::process::id()));
            std::fs::write(&tmp, &bytes)?;
            std::fs::rename(&tmp, self.path(code_hash))
        })();
        if let Err(e) = result {
            // The cache is an optimisation: failing to write it only costs a recompile later.
            tracing::warn!(%code_hash, error = %e, "cannot write compiled-module cache");
        }
    }
}
