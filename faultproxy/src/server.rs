//! The HTTP server: forwarding, counting, fault injection and the admin API.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::action;
use crate::rules::{self, Fault, InjectedFault, Rule, RuleState};

/// Prefix of the admin API; requests under it are never forwarded or counted.
pub const ADMIN_PREFIX: &str = "/__faultproxy/";

type Body = Full<Bytes>;

/// Mutable proxy state shared by the server and the [`crate::Proxy`] handle.
#[derive(Default)]
pub(crate) struct State {
    pub calls: BTreeMap<String, u64>,
    /// Requests per (action, access key id of their SigV4 signature); unsigned ones under "".
    pub signed_by: BTreeMap<String, BTreeMap<String, u64>>,
    pub rules: Vec<RuleState>,
    pub faults: Vec<InjectedFault>,
}

/// State plus counters, shared between connections.
#[derive(Default)]
pub(crate) struct Shared {
    state: Mutex<State>,
    request_ids: AtomicU64,
    /// Requests currently held by a `stall` fault.
    pub stalled: AtomicU64,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
    pub fn set_rules(&self, rules: Vec<Rule>) {
        self.lock().rules = rules.into_iter().map(|rule| RuleState { rule, seen: 0 }).collect();
    }
    pub fn reset(&self) {
        let mut st = self.lock();
        st.calls.clear();
        st.signed_by.clear();
        st.faults.clear();
    }
    fn request_id(&self) -> String {
        let n = self.request_ids.fetch_add(1, Ordering::Relaxed) + 1;
        format!("fa017000-0000-4000-8000-{n:012x}")
    }
}

struct Ctx {
    shared: Arc<Shared>,
    upstream: String,
    client: Client<HttpConnector, Body>,
}

/// Serves connections from `listener` until `shutdown` completes.
pub(crate) async fn serve(
    listener: TcpListener,
    upstream: String,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
) {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector);
    let ctx = Arc::new(Ctx { shared, upstream: upstream.trim_end_matches('/').to_string(), client });
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => return,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(_) => {
                    // e.g. EMFILE: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let ctx = ctx.clone();
                // An Err makes hyper close the connection without an answer (`drop_reply`).
                async move { handle(&ctx, req).await }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}

/// The reply deliberately dropped by a `drop_reply` fault.
#[derive(Debug)]
struct ReplyDropped;

impl std::fmt::Display for ReplyDropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reply dropped by faultproxy")
    }
}

impl std::error::Error for ReplyDropped {}

async fn handle(ctx: &Ctx, req: Request<Incoming>) -> Result<Response<Body>, ReplyDropped> {
    if req.uri().path().starts_with(ADMIN_PREFIX) {
        return Ok(admin(ctx, req).await);
    }

    let (mut parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Ok(plain(StatusCode::BAD_REQUEST, format!("faultproxy: reading request body: {e}"))),
    };
    let action = action::identify(&parts.method, parts.uri.path(), parts.uri.query(), &parts.headers, &body);
    let protocol = action::protocol(&parts.headers);

    let fault = {
        let mut st = ctx.shared.lock();
        *st.calls.entry(action.clone()).or_insert(0) += 1;
        let key = access_key_id(&parts.headers).unwrap_or_default();
        *st.signed_by.entry(action.clone()).or_default().entry(key).or_insert(0) += 1;
        let fault = rules::decide(&mut st.rules, &action);
        if let Some(f) = &fault {
            st.faults.push(InjectedFault { action: action.clone(), kind: f.kind().to_string() });
        }
        fault
    };

    match &fault {
        Some(f) if f.synthetic_error(protocol).is_some() => {
            let (status, code, message) = f.synthetic_error(protocol).unwrap();
            return Ok(aws_error(protocol, status, code, message, &ctx.shared.request_id()));
        }
        Some(Fault::Stall {}) => {
            // Held until hyper drops this future: when the client goes away or the proxy stops.
            let _guard = StallGuard::new(&ctx.shared);
            std::future::pending::<()>().await;
            unreachable!();
        }
        Some(Fault::DelayMs(ms)) => tokio::time::sleep(Duration::from_millis(*ms)).await,
        Some(Fault::Rewrite { .. }) => {
            // Keep the upstream body plain so the text replacement can see it.
            parts.headers.remove(header::ACCEPT_ENCODING);
        }
        _ => {}
    }

    let mut resp = match forward(ctx, parts, body).await {
        Ok(r) => r,
        Err(msg) => return Ok(plain(StatusCode::BAD_GATEWAY, format!("faultproxy: upstream {}: {msg}", ctx.upstream))),
    };
    match &fault {
        Some(Fault::Rewrite { from, to }) => {
            let new = rules::replace_bytes(resp.body_bytes(), from.as_bytes(), to.as_bytes());
            resp.set_body(Bytes::from(new));
        }
        Some(Fault::DropReply {}) => return Err(ReplyDropped),
        _ => {}
    }
    Ok(resp.into_response())
}

/// A buffered upstream response.
struct Buffered {
    parts: hyper::http::response::Parts,
    body: Bytes,
}

impl Buffered {
    fn body_bytes(&self) -> &[u8] {
        &self.body
    }
    fn set_body(&mut self, body: Bytes) {
        self.body = body;
    }
    fn into_response(mut self) -> Response<Body> {
        strip_hop_by_hop(&mut self.parts.headers);
        self.parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(self.body.len()));
        Response::from_parts(self.parts, Full::new(self.body))
    }
}

async fn forward(ctx: &Ctx, mut parts: hyper::http::request::Parts, body: Bytes) -> Result<Buffered, String> {
    let pq = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    parts.uri = format!("{}{}", ctx.upstream, pq).parse::<Uri>().map_err(|e| e.to_string())?;
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(header::EXPECT);
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    // Host is forwarded unchanged (it is part of the SigV4 signature).
    let resp = ctx.client.request(Request::from_parts(parts, Full::new(body))).await.map_err(|e| format!("{e:?}"))?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Buffered { parts, body })
}

fn strip_hop_by_hop(h: &mut hyper::HeaderMap) {
    for name in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
    ] {
        h.remove(name);
    }
    h.remove("keep-alive");
}

struct StallGuard<'a>(&'a Shared);
impl<'a> StallGuard<'a> {
    fn new(s: &'a Shared) -> Self {
        s.stalled.fetch_add(1, Ordering::SeqCst);
        StallGuard(s)
    }
}
impl Drop for StallGuard<'_> {
    fn drop(&mut self) {
        self.0.stalled.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An error answered by the proxy, in the format of the request's `protocol`.
fn aws_error(protocol: action::Protocol, status: u16, code: &str, message: &str, request_id: &str) -> Response<Body> {
    let doc = rules::error_document(protocol, status, code, message, request_id);
    let mut b = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, doc.content_type)
        .header("x-amzn-requestid", request_id)
        .header(header::CONTENT_LENGTH, doc.body.len());
    for (k, v) in doc.headers {
        b = b.header(k, v);
    }
    b.body(Full::new(Bytes::from(doc.body))).unwrap()
}

fn plain(status: StatusCode, msg: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(msg + "\n")))
        .unwrap()
}

fn json(status: StatusCode, v: &impl serde::Serialize) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(v).unwrap())))
        .unwrap()
}

async fn admin(ctx: &Ctx, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path()[ADMIN_PREFIX.len()..].trim_end_matches('/').to_string();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return plain(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let sh = &ctx.shared;
    match (method, path.as_str()) {
        (Method::GET, "calls") => json(StatusCode::OK, &sh.lock().calls),
        (Method::GET, "signed_by") => json(StatusCode::OK, &sh.lock().signed_by),
        (Method::GET, "faults") => json(StatusCode::OK, &sh.lock().faults),
        (Method::GET, "rules") => json(StatusCode::OK, &sh.lock().rules),
        (Method::GET, "stalled") => json(StatusCode::OK, &sh.stalled.load(Ordering::SeqCst)),
        (Method::POST, "reset") => {
            sh.reset();
            json(StatusCode::OK, &serde_json::json!({"ok": true}))
        }
        (Method::POST | Method::PUT, "rules") => match serde_json::from_slice::<Vec<Rule>>(&body) {
            Ok(rules) => {
                let n = rules.len();
                sh.set_rules(rules);
                json(StatusCode::OK, &serde_json::json!({"ok": true, "rules": n}))
            }
            Err(e) => json(StatusCode::BAD_REQUEST, &serde_json::json!({"error": format!("invalid rules: {e}")})),
        },
        (m, p) => json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": format!("unknown admin endpoint {m} {ADMIN_PREFIX}{p}; try GET calls|signed_by|faults|rules|stalled, POST reset|rules")}),
        ),
    }
}

/// The access key id a request was signed with: the `Credential=AKID/…` of a SigV4
/// `Authorization` header.
pub(crate) fn access_key_id(headers: &hyper::HeaderMap) -> Option<String> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let cred = auth.split("Credential=").nth(1)?;
    let akid = cred.split('/').next()?.trim();
    (!akid.is_empty()).then(|| akid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_key_id_from_a_sigv4_header() {
        let mut h = hyper::HeaderMap::new();
        assert_eq!(access_key_id(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261126/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=ab"),
        );
        assert_eq!(access_key_id(&h).as_deref(), Some("ASIAEXAMPLE"));
    }
}
