//! `/explorer` on the RPC port: an HTTP middleware that answers `GET`/`HEAD` for the
//! explorer's embedded files (`strata-explorer`) and passes everything else — JSON-RPC
//! over HTTP and WebSocket upgrades — to the server. The pages then call JSON-RPC on the
//! same origin, so no CORS is needed and their Content-Security-Policy can forbid every
//! other connection.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use http::{HeaderValue, Method, StatusCode, header};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use strata_explorer::{CONTENT_SECURITY_POLICY, PREFIX, asset};

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The layer (no configuration: the files are compiled in).
#[derive(Debug, Clone, Copy, Default)]
pub struct Explorer;

impl<S> tower::Layer<S> for Explorer {
    type Service = ExplorerService<S>;
    fn layer(&self, inner: S) -> ExplorerService<S> {
        ExplorerService { inner }
    }
}

/// The service [`Explorer`] wraps around the server.
#[derive(Debug, Clone)]
pub struct ExplorerService<S> {
    inner: S,
}

/// The answer for `method path` with `if_none_match`, if the explorer owns the path.
fn respond(method: &Method, path: &str, if_none_match: Option<&[u8]>) -> Option<HttpResponse> {
    let rest = path.strip_prefix(PREFIX)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let mut resp = HttpResponse::new(HttpBody::empty());
    if *method != Method::GET && *method != Method::HEAD {
        *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Some(resp);
    }
    if rest.is_empty() {
        // Relative links in the page resolve against `/explorer/`.
        *resp.status_mut() = StatusCode::PERMANENT_REDIRECT;
        resp.headers_mut().insert(header::LOCATION, HeaderValue::from_static("/explorer/"));
        return Some(resp);
    }
    let Some(file) = asset(rest) else {
        *resp.status_mut() = StatusCode::NOT_FOUND;
        *resp.body_mut() = HttpBody::from("not found\n");
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        return Some(resp);
    };
    let etag = format!("\"{:016x}\"", file.etag);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(file.content_type));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // Revalidated on every load (a node upgrade changes them), cheaply: 304 by ETag.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    // Weak comparison (RFC 9110 §13.1.2): a proxy that compressed the file marks the tag `W/`.
    let matches = |t: &[u8]| {
        let t = t.trim_ascii();
        t == b"*" || t.strip_prefix(b"W/").unwrap_or(t) == etag.as_bytes()
    };
    if if_none_match.is_some_and(|tags| tags.split(|b| *b == b',').any(matches)) {
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        return Some(resp);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(file.body.len()));
    if *method == Method::GET {
        *resp.body_mut() = HttpBody::new(http_body_util::Full::new(bytes::Bytes::from_static(file.body)));
    }
    Some(resp)
}

impl<S, B> tower::Service<HttpRequest<B>> for ExplorerService<S>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    // Readiness is the server's: the files need none. (Answering a file without calling
    // the inner service leaves the readiness it reported unused; jsonrpsee's services hold
    // nothing for it. A layer that reserves capacity on readiness belongs outside this one.)
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest<B>) -> Self::Future {
        let inm = req.headers().get(header::IF_NONE_MATCH).map(|v| v.as_bytes());
        if let Some(resp) = respond(req.method(), req.uri().path(), inm) {
            return Box::pin(async move { Ok(resp) });
        }
        Box::pin(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_its_files_and_nothing_else() {
        assert!(respond(&Method::POST, "/", None).is_none(), "JSON-RPC passes through");
        assert!(respond(&Method::GET, "/explorerx", None).is_none());
        let page = respond(&Method::GET, "/explorer/", None).unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
        assert_eq!(respond(&Method::GET, "/explorer", None).unwrap().status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(respond(&Method::GET, "/explorer/../secret", None).unwrap().status(), StatusCode::NOT_FOUND);
        assert_eq!(respond(&Method::POST, "/explorer/", None).unwrap().status(), StatusCode::METHOD_NOT_ALLOWED);
        let wasm = respond(&Method::HEAD, "/explorer/sdk/pkg/strata_verify_bg.wasm", None).unwrap();
        assert_eq!(wasm.headers()[header::CONTENT_TYPE], "application/wasm");
        let etag = wasm.headers()[header::ETAG].as_bytes().to_vec();
        let again = respond(&Method::GET, "/explorer/sdk/pkg/strata_verify_bg.wasm", Some(&etag)).unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }
}
