//! An HTTP(S) JSON endpoint as an attestation source.
//!
//! Read parameters: `{"path": "/records/7", "pointer": "/record", "etag": "\"v3\""}`. The
//! attestor GETs its configured base URL followed by `path`, parses the body as JSON and
//! takes the value at the JSON pointer `pointer` (RFC 6901; empty: the whole document);
//! the canonical bytes are that value ([`super::canonical_json`]), or `null` when the
//! pointer finds nothing. `etag`, when given, pins the document's version: a response
//! with another `ETag`, or a document gone (404/410), is [`ReadError::Moved`]. Server
//! errors, 429 and network failures are retried; other client errors are bad parameters.
//! An integer too large to read exactly is refused (see [`super::canonical_json`]).
//! Bodies above 1 MiB are refused; a read gives up after 10 seconds.

use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::{Request, StatusCode, body::Bytes, header};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use rustls_platform_verifier::ConfigVerifierExt;
use serde::Deserialize;
use serde_json::Value;

use super::{ReadError, ReadFuture, Source, canonical_json, parse_params};

const MAX_BODY: usize = 1 << 20;
const TIMEOUT: Duration = Duration::from_secs(10);

/// A JSON HTTP(S) service (TLS verified with the platform's roots).
pub struct HttpSource {
    base: String,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    path: String,
    #[serde(default)]
    pointer: String,
    #[serde(default)]
    etag: Option<String>,
}

impl HttpSource {
    /// A source under the base URL `base` (`http://host:port/prefix`).
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let uri: hyper::Uri = base.parse().map_err(|e| anyhow::anyhow!("`{base}` is not a URL: {e}"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            anyhow::bail!("`{base}` is not an http(s) URL");
        }
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(rustls::ClientConfig::with_platform_verifier())
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
        Ok(Self { base: base.trim_end_matches('/').to_string(), client })
    }

    async fn get(&self, params: &[u8]) -> Result<Vec<u8>, ReadError> {
        let p: Params = parse_params(params)?;
        if !p.pointer.is_empty() && !p.pointer.starts_with('/') {
            return Err(ReadError::BadParams(format!("pointer `{}` must be empty or start with /", p.pointer)));
        }
        if !p.path.starts_with('/') || p.path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ReadError::BadParams(format!("path `{}` must start with / and hold no spaces", p.path)));
        }
        let url = format!("{}{}", self.base, p.path);
        let request = Request::get(&url)
            .header(header::ACCEPT, "application/json")
            .body(Empty::new())
            .map_err(|e| ReadError::BadParams(format!("`{url}`: {e}")))?;
        let response = tokio::time::timeout(TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| ReadError::Unavailable(format!("GET {url} timed out")))?
            .map_err(|e| ReadError::Unavailable(format!("GET {url}: {e}")))?;
        let status = response.status();
        let etag = response.headers().get(header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_string);
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            return match &p.etag {
                Some(pinned) => Err(ReadError::Moved(format!("GET {url}: {status} (pinned at ETag {pinned})"))),
                None => canonical_json(&Value::Null),
            };
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(ReadError::Unavailable(format!("GET {url}: {status}")));
        }
        if !status.is_success() {
            return Err(ReadError::BadParams(format!("GET {url}: {status}")));
        }
        if let Some(pinned) = &p.etag
            && etag.as_deref() != Some(pinned.as_str())
        {
            return Err(ReadError::Moved(format!("GET {url}: ETag is {etag:?}, the request pins {pinned}")));
        }
        let body = tokio::time::timeout(TIMEOUT, Limited::new(response.into_body(), MAX_BODY).collect())
            .await
            .map_err(|_| ReadError::Unavailable(format!("reading {url} timed out")))?
            .map_err(|e| {
                // Too long is for good; anything else may pass.
                if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                    ReadError::BadParams(format!("{url} answers more than {MAX_BODY} bytes"))
                } else {
                    ReadError::Unavailable(format!("reading {url}: {e}"))
                }
            })?
            .to_bytes();
        let doc: Value = serde_json::from_slice(&body).map_err(|e| ReadError::BadParams(format!("{url} did not return JSON: {e}")))?;
        canonical_json(doc.pointer(&p.pointer).unwrap_or(&Value::Null))
    }
}

impl Source for HttpSource {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn read<'a>(&'a self, params: &'a [u8]) -> ReadFuture<'a> {
        Box::pin(self.get(params))
    }
}
