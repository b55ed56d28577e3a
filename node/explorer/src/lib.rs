//! The explorer's files, embedded in the node binary: a page that needs no database or
//! service besides the node it is served by, because everything it shows it reads over
//! the node's own JSON-RPC — and verifies in the browser with `sdk/js` (the Wasm build of
//! `strata-verify`) against the genesis the reader pins. The server that serves them is
//! `strata-rpc`'s (`/explorer` on the RPC port); this crate only knows the bytes.

/// Where the explorer lives on the RPC port.
pub const PREFIX: &str = "/explorer";

use std::sync::LazyLock;

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
    /// A strong validator of the bytes (for `ETag`): FNV-1a of the body.
    pub etag: u64,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

macro_rules! asset {
    ($path:literal, $type:literal, $file:literal) => {
        ($path, $type, include_bytes!($file))
    };
}

/// Every file by its path under [`PREFIX`]: its `Content-Type` and bytes.
pub const FILES: &[(&str, &str, &[u8])] = &[
    asset!("/", "text/html; charset=utf-8", "../assets/index.html"),
    asset!("/app.js", "text/javascript; charset=utf-8", "../assets/app.js"),
    asset!("/pages.js", "text/javascript; charset=utf-8", "../assets/pages.js"),
    asset!("/view.js", "text/javascript; charset=utf-8", "../assets/view.js"),
    asset!("/style.css", "text/css; charset=utf-8", "../assets/style.css"),
    asset!("/sdk/index.js", "text/javascript; charset=utf-8", "../../../sdk/js/index.js"),
    asset!("/sdk/pkg/strata_verify.js", "text/javascript; charset=utf-8", "../../../sdk/js/pkg/strata_verify.js"),
    asset!("/sdk/pkg/strata_verify_bg.wasm", "application/wasm", "../../../sdk/js/pkg/strata_verify_bg.wasm"),
];

/// [`FILES`] with their ETags (hashed once, on first use).
static ASSETS: LazyLock<Vec<(&'static str, Asset)>> =
    LazyLock::new(|| FILES.iter().map(|&(path, content_type, body)| (path, Asset { content_type, body, etag: fnv1a(body) })).collect());

/// The file at `path` (the request path with [`PREFIX`] removed; `""` and `"/"` are the
/// page), if there is one.
pub fn asset(path: &str) -> Option<&'static Asset> {
    let path = if path.is_empty() { "/" } else { path };
    ASSETS.iter().find(|(p, _)| *p == path).map(|(_, a)| a)
}

/// The `Content-Security-Policy` the pages are served with: their own scripts and Wasm,
/// JSON-RPC to the node that served them, nothing else.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_file_is_there_and_typed() {
        assert!(asset("").is_some() && asset("/").is_some());
        let wasm = asset("/sdk/pkg/strata_verify_bg.wasm").unwrap();
        assert_eq!(&wasm.body[..4], b"\0asm");
        assert!(wasm.body.len() <= 1 << 20, "the verifier's Wasm is over 1 MB");
        assert!(asset("/../Cargo.toml").is_none() && asset("/nope").is_none());
        let html = std::str::from_utf8(asset("/").unwrap().body).unwrap();
        assert!(html.contains("/explorer/app.js") && html.contains("/explorer/style.css"));
    }
}
