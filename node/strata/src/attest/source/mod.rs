//! Where an attestor re-reads what a requester anchored: one [`Source`] trait, three
//! adapters (PostgreSQL, HTTP JSON, another Strata chain's state), and the canonical
//! bytes they hash.
//!
//! **Canonical bytes.** Every attestor must hash exactly the bytes the requester hashed,
//! or honest parties disagree. JSON values (a database row, an HTTP document) are
//! written by [`canonical_json`]: object keys sorted by their bytes, no whitespace,
//! strings escaped as `serde_json` escapes them, numbers as `serde_json` prints them.
//! A database row is an object of its columns' text forms (PostgreSQL's own output
//! functions, so every reader of one server gets the same text); chain state is the raw
//! value bytes. The requester makes its data file the same way: `strata attest read`.
//!
//! **Read outcomes.** A read gives the canonical bytes; or [`ReadError::Unavailable`]
//! (the source did not answer: retried with backoff until the request expires, never a
//! "no"); or [`ReadError::Moved`] (the read parameters pin a version — a row version
//! column, an ETag, a block number — and the source is past it: what the requester
//! read can no longer be checked, which is not a lie, so the attestor abstains); or
//! [`ReadError::BadParams`] (the parameters do not describe a read: abstain too).

mod chain;
mod http;
mod postgres;

use std::{collections::BTreeMap, future::Future, path::Path, pin::Pin};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::Value;

pub use self::{chain::ChainSource, http::HttpSource, postgres::PostgresSource};

/// Why a read gave no bytes.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The source did not answer or failed: retry later.
    #[error("source unavailable: {0}")]
    Unavailable(String),
    /// The source moved past the version the parameters pin: abstain.
    #[error("source moved past the pinned version: {0}")]
    Moved(String),
    /// The parameters do not describe a read of this source: abstain.
    #[error("bad read parameters: {0}")]
    BadParams(String),
}

/// A boxed read.
pub type ReadFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, ReadError>> + Send + 'a>>;

/// Something an attestor can re-read.
pub trait Source: Send + Sync {
    /// The kind the attestation contract registers (`postgres`, `http`, `strata`).
    fn kind(&self) -> &'static str;
    /// Reads what `params` (the request's read parameters, JSON) describe, as canonical bytes.
    fn read<'a>(&'a self, params: &'a [u8]) -> ReadFuture<'a>;
}

/// The read parameters as a JSON object of type `T`.
pub fn parse_params<T: serde::de::DeserializeOwned>(params: &[u8]) -> Result<T, ReadError> {
    serde_json::from_slice(params).map_err(|e| ReadError::BadParams(format!("not the expected JSON: {e}")))
}

/// `value` in canonical JSON (see the module docs). Refused: an integer beyond 2^53
/// that does not fit 64 bits (parsed as a double, it may already have lost digits, and
/// two different source values would read the same; such a value belongs in a string).
pub fn canonical_json(value: &Value) -> Result<Vec<u8>, ReadError> {
    let mut out = Vec::new();
    write_canonical(value, &mut out)?;
    Ok(out)
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), ReadError> {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&[u8], &Value> = map.iter().map(|(k, v)| (k.as_bytes(), v)).collect();
            out.push(b'{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let key = std::str::from_utf8(k).unwrap_or_default();
                out.extend_from_slice(Value::String(key.to_string()).to_string().as_bytes());
                out.push(b':');
                write_canonical(v, out)?;
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out)?;
            }
            out.push(b']');
        }
        Value::Number(n) if n.as_f64().is_some_and(|f| n.is_f64() && f.fract() == 0.0 && f.abs() >= 9_007_199_254_740_992.0) => {
            return Err(ReadError::BadParams(format!("the number {n} is too large to read exactly: it must be a string in the source")));
        }
        scalar => out.extend_from_slice(scalar.to_string().as_bytes()),
    }
    Ok(())
}

/// One source an attestor reads, as its `sources.toml` names it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The source's id in the attestation contract.
    pub id: u64,
    /// `postgres`, `http` or `strata`.
    pub kind: String,
    /// How this attestor reaches it: a PostgreSQL connection string, an HTTP base URL, a
    /// Strata node's JSON-RPC URL. Each attestor may use its own (replica, credentials).
    pub url: String,
    /// PostgreSQL only: the tables requests may read (default: any the credentials can).
    /// Requesters choose what is read, so an attestor with broad credentials lets anyone
    /// test guesses of values through outcomes: list the tables meant to be attested.
    #[serde(default)]
    pub tables: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourcesFile {
    #[serde(default)]
    source: Vec<SourceConfig>,
}

/// The sources an attestor reads, by id.
pub type Sources = BTreeMap<u64, Box<dyn Source>>;

/// Reads `sources.toml`: `[[source]]` tables of `id`, `kind`, `url`.
pub fn load(path: &Path) -> anyhow::Result<Sources> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: SourcesFile = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut out = Sources::new();
    for s in file.source {
        let id = s.id;
        if out.insert(id, open(&s)?).is_some() {
            bail!("{}: source {id} is listed twice", path.display());
        }
    }
    Ok(out)
}

/// The adapter for one configured source.
pub fn open(config: &SourceConfig) -> anyhow::Result<Box<dyn Source>> {
    Ok(match config.kind.as_str() {
        "postgres" => Box::new(PostgresSource::new(&config.url, config.tables.clone())?),
        "http" | "strata" if config.tables.is_some() => bail!("source {}: `tables` is for postgres sources", config.id),
        "http" => Box::new(HttpSource::new(&config.url)?),
        "strata" => Box::new(ChainSource::new(&config.url)?),
        other => bail!("source {}: unknown kind `{other}` (known: postgres, http, strata)", config.id),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let v: Value = serde_json::from_str(r#"{ "b": [1, {"z": null, "a": "x\"y"}], "a": true, "é": 1.5 }"#).unwrap();
        assert_eq!(canonical_json(&v).unwrap(), r#"{"a":true,"b":[1,{"a":"x\"y","z":null}],"é":1.5}"#.as_bytes());
        // Insertion order does not matter.
        assert_eq!(canonical_json(&json!({"x": 1, "y": 2})).unwrap(), canonical_json(&json!({"y": 2, "x": 1})).unwrap());
        // 64-bit integers are exact; larger ones are refused (they would collapse).
        assert_eq!(canonical_json(&json!(u64::MAX)).unwrap(), b"18446744073709551615");
        let big: Value = serde_json::from_str("100000000000000000001").unwrap();
        assert!(matches!(canonical_json(&big), Err(ReadError::BadParams(_))));
    }

    #[test]
    fn sources_file_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sources.toml");
        std::fs::write(&path, "[[source]]\nid = 1\nkind = \"http\"\nurl = \"http://127.0.0.1:9\"\n").unwrap();
        let sources = load(&path).unwrap();
        assert_eq!(sources[&1].kind(), "http");
        std::fs::write(&path, "[[source]]\nid = 1\nkind = \"ftp\"\nurl = \"x\"\n").unwrap();
        assert!(load(&path).err().unwrap().to_string().contains("unknown kind `ftp`"));
        std::fs::write(
            &path,
            "[[source]]\nid = 1\nkind = \"http\"\nurl = \"http://a\"\n[[source]]\nid = 1\nkind = \"http\"\nurl = \"http://b\"\n",
        )
        .unwrap();
        assert!(load(&path).err().unwrap().to_string().contains("listed twice"));
    }
}
