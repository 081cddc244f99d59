//! The dashboard frontend: serves the embedded page and assets, and forwards
//! the API paths (`/api/*`, `/stats`, `/hello/*`) to `API_URL`, streaming
//! bodies both ways and passing status codes through.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::http::error;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const STYLE_CSS: &str = include_str!("../assets/style.css");
const APP_JS: &str = include_str!("../assets/app.js");

/// Shared state of the frontend handlers.
#[derive(Clone)]
pub struct FrontendState {
    api_url: Arc<str>,
    client: Client<HttpConnector, Body>,
}

impl FrontendState {
    /// A proxy to `api_url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(api_url: &str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(3)));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector);
        Self { api_url: api_url.trim_end_matches('/').into(), client }
    }
}

/// The frontend router (without middleware).
pub fn router(state: FrontendState) -> Router {
    Router::new()
        .route("/", get(|| async { page(INDEX_HTML, "text/html; charset=utf-8") }))
        .route("/static/style.css", get(|| async { page(STYLE_CSS, "text/css; charset=utf-8") }))
        .route("/static/app.js", get(|| async { page(APP_JS, "text/javascript; charset=utf-8") }))
        .route("/health", get(|| async { "OK" }))
        .route("/ready", get(ready))
        .route("/api/{*rest}", any(proxy))
        .route("/stats", any(proxy))
        .route("/hello", any(proxy))
        .route("/hello/", any(proxy))
        .route("/hello/{*rest}", any(proxy))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not found") })
        .with_state(state)
}

fn page(body: &'static str, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// Ready when the API answers its liveness check.
async fn ready(State(st): State<FrontendState>) -> Response {
    let Ok(uri) = format!("{}/health", st.api_url).parse::<Uri>() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "bad API_URL");
    };
    let Ok(req) = Request::get(uri).body(Body::empty()) else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "bad API_URL");
    };
    match tokio::time::timeout(Duration::from_secs(2), st.client.request(req)).await {
        Ok(Ok(res)) if res.status().is_success() => (StatusCode::OK, "READY").into_response(),
        _ => error(StatusCode::SERVICE_UNAVAILABLE, "api unavailable"),
    }
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::try_from(n.trim()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        HeaderName::from_static("keep-alive"),
    ] {
        headers.remove(name);
    }
}

/// Forwards the request to the API and streams the answer back.
async fn proxy(State(st): State<FrontendState>, req: Request) -> Response {
    let path_and_query = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let uri: Uri = match format!("{}{}", st.api_url, path_and_query).parse() {
        Ok(u) => u,
        Err(_) => return error(StatusCode::BAD_REQUEST, "invalid request path"),
    };
    let (mut parts, body) = req.into_parts();
    parts.uri = uri;
    parts.version = axum::http::Version::HTTP_11;
    parts.headers.remove(header::HOST);
    strip_hop_by_hop(&mut parts.headers);
    match st.client.request(Request::from_parts(parts, body)).await {
        Ok(res) => {
            let (mut parts, body) = res.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, Body::new(body))
        }
        Err(e) => {
            tracing::warn!(error = %e, "api request failed");
            error(StatusCode::BAD_GATEWAY, "api unreachable")
        }
    }
}
