//! HTTP plumbing shared by both binaries: request ids, the access-log and
//! metrics middleware, request timeout, body-size limit, JSON error bodies
//! and serving with graceful shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;

use crate::metrics::Metrics;

/// Header carrying the request id (taken from the client or generated).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A JSON error response: `{"error": message}`.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

/// Makes UUID-shaped request ids: a random per-process prefix and a counter.
/// Cheaper than a v4 UUID per request and needs no `/dev/urandom` (the
/// random seed comes from std's hasher keys, drawn with the getrandom syscall).
#[derive(Clone)]
pub struct MakeId {
    prefix: u64,
    counter: Arc<std::sync::atomic::AtomicU64>,
}

impl MakeId {
    pub fn new() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
        Self { prefix: h.finish(), counter: Arc::new(std::sync::atomic::AtomicU64::new(1)) }
    }

    /// The next id, formatted like a UUID (8-4-4-4-12 hex digits).
    pub fn next_id(&self) -> String {
        let n = self.counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = self.prefix;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            p >> 32,
            (p >> 16) & 0xffff,
            p & 0xffff,
            (n >> 48) & 0xffff,
            n & 0xffff_ffff_ffff
        )
    }
}

impl Default for MakeId {
    fn default() -> Self {
        Self::new()
    }
}

impl MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        axum::http::HeaderValue::from_str(&self.next_id()).ok().map(RequestId::new)
    }
}

/// Cause of a server-side failure, attached to a response's extensions by a
/// handler; the access-log middleware writes it on the request's `warn` line
/// together with the request id.
#[derive(Clone, Debug)]
pub struct ErrorDetail(pub String);

/// Wraps `router` with the production middleware stack.
pub fn with_middleware(router: Router, metrics: Arc<Metrics>, timeout: Duration, body_limit: usize) -> Router {
    router
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let metrics = metrics.clone();
            observe(metrics, req, next)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeId::new()))
}

/// Times the request, records metrics and writes the access log line
/// (debug level; warn for 5xx, with the request id and any [`ErrorDetail`]).
/// The per-request span is at debug level too: creating an info span for
/// every request costs about 10% of throughput on `/api/time`.
async fn observe(metrics: Arc<Metrics>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let request_id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let span = tracing::debug_span!("request", request_id = %request_id);
    let uri = req.uri().clone();
    let res = next.run(req).instrument(span.clone()).await;
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    let route = route.as_ref().map(MatchedPath::as_str).unwrap_or("unmatched");
    metrics.observe(method.as_str(), route, status, elapsed);
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    let path = uri.path();
    if status >= 500 {
        let error = res.extensions().get::<ErrorDetail>().map(|d| d.0.as_str());
        tracing::warn!(%request_id, %method, %path, %route, status, latency_ms, error, "request failed");
    } else {
        let _g = span.enter();
        tracing::debug!(%method, %path, %route, status, latency_ms, "request");
    }
    res
}

/// Serves `app` on `addr` until SIGTERM/SIGINT, then drains in-flight requests.
pub async fn serve(app: Router, addr: std::net::SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "listening");
    axum::serve(listener, app).with_graceful_shutdown(crate::shutdown::signal()).await
}

/// `<binary> healthcheck`: exits 0 when `GET /health` on the local port
/// (`PORT`, else `default_port`) answers 200. Lets a `FROM scratch` image
/// declare a container health check without a shell or curl.
pub fn healthcheck(default_port: u16) -> std::process::ExitCode {
    use std::io::{Read, Write};
    let port = std::env::var("PORT").ok().and_then(|p| p.parse::<u16>().ok()).unwrap_or(default_port);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let ok = (|| -> std::io::Result<bool> {
        let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
        let mut buf = [0u8; 12];
        s.read_exact(&mut buf)?;
        Ok(buf.starts_with(b"HTTP/1.1 200"))
    })()
    .unwrap_or(false);
    if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
