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
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;

use crate::metrics::Metrics;

/// Header carrying the request id (taken from the client or generated).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A JSON error response: `{"error": message}`.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

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
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// Times the request, records metrics and writes the access log line
/// (debug level; warn for 5xx) inside a span carrying the request id.
async fn observe(metrics: Arc<Metrics>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().clone();
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let span = tracing::info_span!("request", request_id = %request_id);
    let path = req.uri().path().to_owned();
    let res = next.run(req).instrument(span.clone()).await;
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    metrics.observe(method.as_str(), &route, status, elapsed);
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    let _g = span.enter();
    if status >= 500 {
        tracing::warn!(%method, %path, %route, status, latency_ms, "request failed");
    } else {
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
