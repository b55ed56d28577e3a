//! CORS for browser dapps: an HTTP middleware that answers preflight requests and
//! marks responses to allowed origins (`*`, or a list), as configured.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{HeaderValue, Method, StatusCode, header};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The layer: allowed origins (`*` allows any).
#[derive(Debug, Clone)]
pub struct Cors {
    allowed: Arc<Vec<String>>,
}

impl Cors {
    /// Allows `origins` (`["*"]` for any).
    pub fn new(origins: Vec<String>) -> Self {
        Self { allowed: Arc::new(origins) }
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if allowed.
    fn allow(&self, origin: Option<&str>) -> Option<HeaderValue> {
        if self.allowed.iter().any(|a| a == "*") {
            return Some(HeaderValue::from_static("*"));
        }
        let origin = origin?;
        self.allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)).then(|| HeaderValue::from_str(origin).ok()).flatten()
    }
}

impl<S> tower::Layer<S> for Cors {
    type Service = CorsService<S>;
    fn layer(&self, inner: S) -> CorsService<S> {
        CorsService { inner, cors: self.clone() }
    }
}

/// The service [`Cors`] wraps around the server.
#[derive(Debug, Clone)]
pub struct CorsService<S> {
    inner: S,
    cors: Cors,
}

impl<S, B> tower::Service<HttpRequest<B>> for CorsService<S>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest<B>) -> Self::Future {
        let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let allow = self.cors.allow(origin.as_deref());
        if req.method() == Method::OPTIONS {
            // A preflight: allowed origins get the methods and headers a JSON-RPC call uses.
            let mut resp = HttpResponse::new(HttpBody::empty());
            *resp.status_mut() = if allow.is_some() { StatusCode::NO_CONTENT } else { StatusCode::FORBIDDEN };
            if let Some(a) = allow {
                let h = resp.headers_mut();
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, a);
                h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, GET, OPTIONS"));
                h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("content-type"));
                h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
                h.insert(header::VARY, HeaderValue::from_static("origin"));
            }
            return Box::pin(async move { Ok(resp) });
        }
        let fut = self.inner.call(req);
        Box::pin(async move {
            let mut resp = fut.await?;
            if let Some(a) = allow {
                resp.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, a);
                resp.headers_mut().insert(header::VARY, HeaderValue::from_static("origin"));
            }
            Ok(resp)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_matched_exactly_or_by_wildcard() {
        let list = Cors::new(vec!["https://app.example".into()]);
        assert_eq!(list.allow(Some("https://app.example")), Some(HeaderValue::from_static("https://app.example")));
        assert_eq!(list.allow(Some("https://evil.example")), None);
        assert_eq!(list.allow(None), None);
        assert_eq!(Cors::new(vec!["*".into()]).allow(Some("https://any")), Some(HeaderValue::from_static("*")));
    }
}
