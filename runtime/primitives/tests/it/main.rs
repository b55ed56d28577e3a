//! Integration tests of strata-primitives (one binary for the crate).

mod rlp_vectors;
mod transactions;

use std::path::PathBuf;

/// Locates Ethereum's test vectors (`shared/testdata/`, next to the repository in CI
/// and in development; `STRATA_TESTDATA` overrides). Missing data fails the test:
/// vectors that were not read prove nothing.
pub fn testdata(rel: &str) -> PathBuf {
    if let Ok(dir) = std::env::var("STRATA_TESTDATA") {
        return PathBuf::from(dir).join(rel);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for ancestor in manifest.ancestors() {
        for candidate in [ancestor.join("shared/testdata"), ancestor.join("../shared/testdata")] {
            if candidate.is_dir() {
                return candidate.join(rel);
            }
        }
    }
    panic!("Ethereum test vectors not found: put shared/testdata beside the repository or set STRATA_TESTDATA");
}
