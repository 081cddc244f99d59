//! `faultproxy`: a fault-injecting HTTP proxy to put between the AWS SDK and an
//! AWS emulator (moto), so tests can see throttling, lag, transient errors,
//! stalls and rewritten responses that the emulator never produces.
//!
//! Every request is forwarded unchanged (method, path, query, headers including
//! `Host`) and counted by API action (see [`action`]). [`Rule`]s inject faults.
//! Errors the proxy answers itself (throttling, 5xx, any AWS error code) are written
//! in the protocol of the service the request went to — EC2's query format, the
//! `<ErrorResponse>` format of the other query services (IAM, STS, ELBv2…), or the
//! JSON format (`__type`, CloudWatch Logs, ECR, ECS…) — so the SDK sees the injected
//! code as it would AWS's (see [`rules`] and [`Protocol`]).
//! The same state is reachable over HTTP under `/__faultproxy/`:
//!
//! | endpoint | effect |
//! |---|---|
//! | `GET /__faultproxy/calls` | JSON map action → count |
//! | `GET /__faultproxy/signed_by` | JSON map action → access key id of the signature → count |
//! | `POST /__faultproxy/reset` | clear call counts and the fault log |
//! | `POST /__faultproxy/rules` | JSON array of rules, replaces all rules (and their counters) |
//! | `GET /__faultproxy/rules` | current rules with `seen` counters |
//! | `GET /__faultproxy/faults` | injected faults in order: `[{"action","kind"}]` |
//! | `GET /__faultproxy/stalled` | number of requests currently held by `stall` |
//!
//! ```no_run
//! use faultproxy::{Fault, Proxy, Rule};
//! let proxy = Proxy::start("http://127.0.0.1:5000");
//! proxy.set_rules(vec![Rule::new("CreateVpc", Fault::Throttle {}).times(2)]);
//! // point the SDK at proxy.url() (AWS_ENDPOINT_URL) ...
//! let calls = proxy.calls();
//! # let _ = calls;
//! ```

pub mod action;
pub mod rules;
mod server;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

pub use action::Protocol;
pub use rules::{
    ec2_error_body, error_document, json_error_body, query_error_body, ErrorDocument, Fault, InjectedFault, Rule,
};
pub use server::ADMIN_PREFIX;

/// A running proxy on a background thread with its own tokio runtime.
/// Usable from sync and async code alike; dropping it stops the proxy.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy on `127.0.0.1:0` forwarding to `upstream` (`http://host:port`).
    /// Panics if it cannot bind or start; see [`Proxy::try_start`].
    pub fn start(upstream: &str) -> Proxy {
        Proxy::try_start(upstream, "127.0.0.1:0").expect("faultproxy: failed to start")
    }

    /// Starts a proxy listening on `listen` forwarding to `upstream`.
    pub fn try_start(upstream: &str, listen: &str) -> std::io::Result<Proxy> {
        check_upstream(upstream)?;
        let std_listener = std::net::TcpListener::bind(listen)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let shared = Arc::new(server::Shared::default());
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (sh, up) = (shared.clone(), upstream.to_string());
        let thread = std::thread::Builder::new().name(format!("faultproxy-{}", addr.port())).spawn(move || {
            rt.block_on(async move {
                match tokio::net::TcpListener::from_std(std_listener) {
                    Ok(l) => {
                        server::serve(l, up, sh, async {
                            let _ = rx.await;
                        })
                        .await
                    }
                    Err(e) => eprintln!("faultproxy: {e}"),
                }
            });
            // Dropping the runtime cancels in-flight connections (including stalls).
            rt.shutdown_background();
        })?;
        Ok(Proxy { addr, shared, shutdown: Some(tx), thread: Some(thread) })
    }

    /// Base URL of the proxy, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces all rules (their skip/times counters start from zero).
    pub fn set_rules(&self, rules: Vec<Rule>) {
        self.shared.set_rules(rules);
    }

    /// Requests counted per action since start or the last reset.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.shared.lock().calls.clone()
    }

    /// Requests per action and per access key id they were signed with (`""` for unsigned ones), since
    /// start or the last reset: which credentials the client really used.
    pub fn signed_by(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        self.shared.lock().signed_by.clone()
    }

    /// Total number of requests counted (sum of [`Proxy::calls`]).
    pub fn total_calls(&self) -> u64 {
        self.shared.lock().calls.values().sum()
    }

    /// Clears call counts and the fault log (rules are kept).
    pub fn reset_calls(&self) {
        self.shared.reset();
    }

    /// Faults injected so far, in order.
    pub fn faults(&self) -> Vec<InjectedFault> {
        self.shared.lock().faults.clone()
    }

    /// Number of requests currently held open by a `stall` fault.
    pub fn stalled(&self) -> u64 {
        self.shared.stalled.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn check_upstream(upstream: &str) -> std::io::Result<()> {
    let ok = upstream
        .parse::<hyper::Uri>()
        .map(|u| u.scheme_str() == Some("http") && u.authority().is_some())
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("upstream must be an http://host:port URL, got {upstream:?}"),
        ))
    }
}

/// Runs a proxy with initial `rules` on an existing listener until `shutdown` completes (for use
/// inside an existing runtime, e.g. the `faultproxy` binary).
pub async fn serve(
    listener: tokio::net::TcpListener,
    upstream: &str,
    rules: Vec<Rule>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    check_upstream(upstream)?;
    let shared = Arc::new(server::Shared::default());
    shared.set_rules(rules);
    server::serve(listener, upstream.to_string(), shared, shutdown).await;
    Ok(())
}
