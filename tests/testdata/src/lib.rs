//! Test support shared by Strata's crates: Ethereum's test vectors (`shared/testdata/`)
//! and a seeded random generator.
//!
//! Why a crate: several crates check themselves against the same vectors; one
//! place knows where they are. Missing data fails loudly — vectors that were not
//! read prove nothing. Randomised tests print their seed and replay it exactly.

use std::path::PathBuf;

/// Path of `rel` under the vector directory: `$STRATA_TESTDATA`, or `shared/testdata`
/// found beside or above the tested package (cargo sets `CARGO_MANIFEST_DIR` when it
/// runs a test), the current directory, or this crate's source.
///
/// The run-time directories come first: a build cache shared between checkouts may
/// hold this crate compiled in another checkout, with that checkout's path baked in.
pub fn path(rel: &str) -> PathBuf {
    if let Ok(dir) = std::env::var("STRATA_TESTDATA") {
        return PathBuf::from(dir).join(rel);
    }
    let starts = [
        std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
        std::env::current_dir().ok(),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
    ];
    for start in starts.into_iter().flatten() {
        for ancestor in start.ancestors() {
            for candidate in [ancestor.join("shared/testdata"), ancestor.join("../shared/testdata")] {
                if candidate.is_dir() {
                    return candidate.join(rel);
                }
            }
        }
    }
    panic!("Ethereum test vectors not found: put shared/testdata beside the repository or set STRATA_TESTDATA");
}

/// Loads a vector file as a JSON object of named cases.
pub fn cases(rel: &str) -> serde_json::Map<String, serde_json::Value> {
    let p = path(rel);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    match serde_json::from_str(&text) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => panic!("{}: not a JSON object of test cases", p.display()),
    }
}

/// Vector strings: `0x…` is hex, anything else its UTF-8 bytes.
pub fn bytes_of(s: &str) -> Vec<u8> {
    match s.strip_prefix("0x") {
        Some(h) => decode_hex(h),
        None => s.as_bytes().to_vec(),
    }
}

/// Decodes hex (either case, no prefix).
pub fn decode_hex(h: &str) -> Vec<u8> {
    assert!(h.len().is_multiple_of(2), "odd-length hex {h:?}");
    (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap_or_else(|_| panic!("bad hex {h:?}"))).collect()
}

/// xorshift64*: a tiny deterministic generator, so a failing seed replays exactly.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value; zero is mapped to a valid state).
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// The seed from `STRATA_SEED`, or `default`; printed so a failure can be replayed.
    pub fn from_env(default: u64) -> (Self, u64) {
        let seed = std::env::var("STRATA_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(default);
        println!("seed {seed} (replay with STRATA_SEED={seed})");
        (Self::new(seed), seed)
    }

    /// Next pseudo-random number.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}
