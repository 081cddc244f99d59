//! AWS plumbing shared by every resource: the [`Ctx`] handed to resource calls, SDK configuration, the
//! API-call counter, provider errors, and bounded retry/wait helpers.
//!
//! Invariants:
//! - credentials and region come from aws-config's default chain (env, profile, web identity, IMDS);
//!   `[aws] region` only fills in when nothing else sets one; `AWS_ENDPOINT_URL` is honoured by the SDK;
//! - throttling and 5xx are retried by the SDK's standard retry strategy (its attempts are counted);
//! - eventual consistency (NotFound right after create) and `DependencyViolation` on delete are retried
//!   here with bounded, logged backoff ([`retry_on`]), and every wait is bounded by [`WaitConfig`].

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::value::{Attrs, Value};

/// Tag naming the stack that owns an object.
pub const TAG_STACK: &str = "provisioner:stack";
/// Tag naming the resource address that owns an object.
pub const TAG_ADDRESS: &str = "provisioner:address";
/// Tag naming the workspace whose state owns an object (absent on objects made before workspaces: `default`).
pub const TAG_WORKSPACE: &str = "provisioner:workspace";
/// Tag naming the lineage of the state that owns an object (absent on objects made before: the state that
/// holds them).
pub const TAG_LINEAGE: &str = "provisioner:lineage";
/// Prefix of every tag the tool manages itself (never shown in plans).
pub const TOOL_TAG_PREFIX: &str = "provisioner:";
/// The workspace an object belongs to when it carries no workspace tag.
pub const DEFAULT_WORKSPACE: &str = "default";

/// An error from AWS (or from waiting on it), with the AWS error code when there is one.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{}{message}", code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default())]
pub struct ProviderError {
    pub code: Option<String>,
    pub message: String,
    /// Set when the call took effect but the object did not settle (a deployment that failed, timed out
    /// or was interrupted while being watched): the object's attributes now. The engine saves them and
    /// marks the object incomplete — never tainted —, so the next plan changes it again in place.
    pub applied: Option<Box<Attrs>>,
}

impl ProviderError {
    pub fn new(message: impl Into<String>) -> Self {
        ProviderError { code: None, message: message.into(), applied: None }
    }

    pub fn with_code(code: impl Into<String>, message: impl Into<String>) -> Self {
        ProviderError { code: Some(code.into()), message: message.into(), applied: None }
    }

    /// See [`ProviderError::applied`]: the change was made (the object is now `attrs`, in the form
    /// `create`/`update` return), but did not settle, for the reason `self` gives.
    pub fn unsettled(mut self, attrs: Attrs) -> Self {
        self.applied = Some(Box::new(attrs));
        self
    }

    /// `InvalidVpcID.NotFound`, `InvalidSubnetID.NotFound`, … (eventual consistency after create).
    pub fn is_not_found(&self) -> bool {
        self.code.as_deref().is_some_and(|c| c.ends_with(".NotFound") || c.ends_with("NotFound"))
    }

    pub fn is_dependency_violation(&self) -> bool {
        self.code.as_deref() == Some("DependencyViolation")
    }

    /// Converts any SDK error, keeping the AWS error code.
    pub fn from_sdk<E, R>(err: aws_sdk_ec2::error::SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let code = err.code().map(str::to_owned);
        let message = match err.message() {
            Some(m) => m.to_owned(),
            None => {
                let mut s = err.to_string();
                let mut src = std::error::Error::source(&err);
                while let Some(e) = src {
                    s.push_str(": ");
                    s.push_str(&e.to_string());
                    src = e.source();
                }
                s
            }
        };
        ProviderError { code, message, applied: None }
    }
}

/// Lets resource code write `client.op().send().await.map_err(aws_err)?`.
pub fn aws_err<E, R>(err: aws_sdk_ec2::error::SdkError<E, R>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    ProviderError::from_sdk(err)
}

/// Bounds for polling waits and consistency retries.
#[derive(Clone, Copy, Debug)]
pub struct WaitConfig {
    /// Delay between two polls (and the first retry backoff).
    pub poll: Duration,
    /// Give up waiting after this long.
    pub timeout: Duration,
}

impl WaitConfig {
    /// Defaults match AWS's documented waiters (15 s polls, 10 min); `PROVISIONER_POLL_INTERVAL_MS` and
    /// `PROVISIONER_WAIT_TIMEOUT_SECS` override them (used by tests against the emulator).
    pub fn from_env() -> Self {
        let poll = std::env::var("PROVISIONER_POLL_INTERVAL_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis)
            .unwrap_or(Duration::from_secs(5));
        let timeout = std::env::var("PROVISIONER_WAIT_TIMEOUT_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(600));
        WaitConfig { poll, timeout }
    }
}

/// Counts API attempts by `Service.Operation` (retries included), through an SDK interceptor.
#[derive(Clone, Debug, Default)]
pub struct CallCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl CallCounter {
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }

    fn record(&self, key: String) {
        if let Ok(mut m) = self.counts.lock() {
            *m.entry(key).or_default() += 1;
        }
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "provisioner-call-counter"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let key = match cfg.load::<Metadata>() {
            Some(m) => format!("{}.{}", m.service(), m.name()),
            None => "unknown".to_owned(),
        };
        self.record(key);
        Ok(())
    }
}

/// Everything a resource call needs: the stack and workspace, configured SDK clients, the call counter, wait
/// bounds.
pub struct Ctx {
    pub stack: String,
    /// The selected workspace: reads by tag see only its objects.
    pub workspace: String,
    /// The stack's directory: what relative paths in data sources (`data.stack`'s `dir`) start from.
    pub stack_dir: std::path::PathBuf,
    /// The role this run works as, if any (what `data.stack` reads other states as).
    pub role: Option<Arc<crate::credentials::RoleCredentials>>,
    pub region: String,
    pub sdk: aws_types::SdkConfig,
    pub calls: CallCounter,
    pub waits: WaitConfig,
    ec2: OnceLock<aws_sdk_ec2::Client>,
    /// Reads several types share during one refresh (see [`Ctx::shared`]).
    shared: Mutex<BTreeMap<String, SharedCell>>,
    /// Other services' clients, built on first use (see [`Ctx::client`]).
    clients: Mutex<BTreeMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>>,
    /// Becomes true when the user asks to stop (see [`Ctx::interrupted`]).
    interrupt: tokio::sync::watch::Sender<bool>,
    /// Where [`Ctx::report`] sends progress lines while an apply runs.
    reports: Mutex<Option<tokio::sync::mpsc::UnboundedSender<(String, String)>>>,
    /// Objects still relied on by a change this run did not see settle (see [`Ctx::hold`]).
    held: Mutex<BTreeMap<String, String>>,
}

type SharedCell = Arc<tokio::sync::OnceCell<Arc<dyn std::any::Any + Send + Sync>>>;

impl Ctx {
    /// Loads the SDK configuration from the default chain. `region` (from `[aws] region`) is used only
    /// when the environment/profile sets none.
    pub async fn load(stack: &str, workspace: &str, region: Option<&str>) -> Result<Ctx, ProviderError> {
        Self::load_as(stack, workspace, region, None).await
    }

    /// [`Ctx::load`], working as the role of `role` when given (see [`crate::credentials`]).
    pub async fn load_as(
        stack: &str,
        workspace: &str,
        region: Option<&str>,
        role: Option<Arc<crate::credentials::RoleCredentials>>,
    ) -> Result<Ctx, ProviderError> {
        use aws_config::meta::region::RegionProviderChain;
        let fallback = region.map(|r| aws_types::region::Region::new(r.to_owned()));
        let chain = RegionProviderChain::default_provider()
            .or_else(fallback.unwrap_or_else(|| aws_types::region::Region::from_static("us-east-1")));
        let max_attempts = std::env::var("PROVISIONER_MAX_ATTEMPTS").ok().and_then(|v| v.parse().ok()).unwrap_or(8);
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(chain)
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(max_attempts)
                    .with_initial_backoff(Duration::from_millis(200)),
            )
            .load()
            .await;
        let sdk = match &role {
            Some(role) => {
                role.apply(sdk).await.map_err(|e| ProviderError::new(format!("{}; {}", e.message, e.hint)))?
            }
            None => sdk,
        };
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        Ok(Ctx {
            stack: stack.to_owned(),
            workspace: workspace.to_owned(),
            stack_dir: std::path::PathBuf::from("."),
            role,
            region,
            sdk,
            calls: CallCounter::default(),
            waits: WaitConfig::from_env(),
            ec2: OnceLock::new(),
            shared: Mutex::new(BTreeMap::new()),
            clients: Mutex::new(BTreeMap::new()),
            interrupt: tokio::sync::watch::channel(false).0,
            reports: Mutex::new(None),
            held: Mutex::new(BTreeMap::new()),
        })
    }

    /// Tells resource calls that the user asked to stop: long waits return early (see
    /// [`Ctx::interrupted`]). Called by apply on Ctrl-C/SIGTERM.
    pub fn interrupt(&self) {
        self.interrupt.send_replace(true);
    }

    /// Whether the user asked to stop.
    pub fn is_interrupted(&self) -> bool {
        *self.interrupt.borrow()
    }

    /// Completes when the user asks to stop (at once if they already have). A resource watching a long
    /// operation (a deployment) selects on it, stops watching and returns an
    /// [`unsettled`](ProviderError::unsettled) error saying the operation goes on in AWS and how to follow it.
    pub async fn interrupted(&self) {
        let mut rx = self.interrupt.subscribe();
        let _ = rx.wait_for(|v| *v).await;
    }

    /// Sends a progress line about `address` to the user (the CLI prints it under the apply's own lines:
    /// `ADDRESS: TEXT`); logged when no apply is listening.
    pub fn report(&self, address: &str, text: impl Into<String>) {
        let text = text.into();
        let sent = match self.reports.lock() {
            Ok(g) => g.as_ref().is_some_and(|tx| tx.send((address.to_owned(), text.clone())).is_ok()),
            Err(_) => false,
        };
        if !sent {
            tracing::info!("{address}: {text}");
        }
    }

    /// Installs the receiver side of [`Ctx::report`] (apply does, for its duration); `None` removes it.
    pub fn set_reports(&self, tx: Option<tokio::sync::mpsc::UnboundedSender<(String, String)>>) {
        if let Ok(mut g) = self.reports.lock() {
            *g = tx;
        }
    }

    /// Records that the object `id` is still relied on by a change this run made but did not see settle
    /// (the task-definition revision a service deployment may roll back to, when the service did not wait):
    /// deleting it is deferred to a later apply, with `reason` shown.
    pub fn hold(&self, id: &str, reason: impl Into<String>) {
        if let Ok(mut m) = self.held.lock() {
            m.insert(id.to_owned(), reason.into());
        }
    }

    /// Why the object `id` must not be deleted in this run, if it is held (see [`Ctx::hold`]).
    pub fn held(&self, id: &str) -> Option<String> {
        self.held.lock().ok().and_then(|m| m.get(id).cloned())
    }

    pub fn ec2(&self) -> &aws_sdk_ec2::Client {
        self.ec2.get_or_init(|| {
            let conf = aws_sdk_ec2::config::Builder::from(&self.sdk).interceptor(self.calls.clone()).build();
            aws_sdk_ec2::Client::from_conf(conf)
        })
    }

    /// The client of a service, built once on first use by `build` from the shared SDK configuration and the
    /// API-call counter (which `build` installs as an interceptor). Each service's module asks for its own,
    /// so a stack that uses only EC2 never builds another client:
    /// `cx.client(|sdk, calls| aws_sdk_iam::Client::from_conf(aws_sdk_iam::config::Builder::from(sdk).interceptor(calls).build()))`.
    pub fn client<C: Clone + Send + Sync + 'static>(
        &self,
        build: impl FnOnce(&aws_types::SdkConfig, CallCounter) -> C,
    ) -> C {
        let id = std::any::TypeId::of::<C>();
        let mut m = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let any = m.entry(id).or_insert_with(|| Arc::new(build(&self.sdk, self.calls.clone())));
        any.downcast_ref::<C>().cloned().expect("a client is stored under its own type")
    }

    /// A read that several resource types make the same way during one refresh (the stack's route tables
    /// carry both the tables and their associations; its security groups both the groups and their
    /// standalone rules), made once: the first caller runs `read`, concurrent and later callers get its
    /// result. Only for the stack-wide reads of a refresh: [`Ctx::forget_shared`] drops them when it ends,
    /// so nothing after it sees a stale answer.
    pub async fn shared<T, F, Fut>(&self, key: &str, read: F) -> Result<Arc<T>, ProviderError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let cell = {
            let mut m = self.shared.lock().map_err(|_| ProviderError::new("shared read cache poisoned"))?;
            m.entry(key.to_owned()).or_default().clone()
        };
        let v = cell
            .get_or_try_init(|| async { read().await.map(|t| Arc::new(t) as Arc<dyn std::any::Any + Send + Sync>) })
            .await?;
        v.clone().downcast::<T>().map_err(|_| ProviderError::new(format!("shared read `{key}` holds another type")))
    }

    /// Drops the results of [`Ctx::shared`] reads.
    pub fn forget_shared(&self) {
        if let Ok(mut m) = self.shared.lock() {
            m.clear();
        }
    }

    /// EC2 filters selecting objects tagged with this stack and, in a named workspace, with the workspace (in
    /// `default` the workspace cannot be filtered on server-side: objects made before workspaces carry no
    /// workspace tag; see [`Ctx::in_workspace`]).
    pub fn stack_filters(&self) -> Vec<Filter> {
        let mut f = vec![Filter::builder().name(format!("tag:{TAG_STACK}")).values(&self.stack).build()];
        if self.workspace != DEFAULT_WORKSPACE {
            f.push(Filter::builder().name(format!("tag:{TAG_WORKSPACE}")).values(&self.workspace).build());
        }
        f
    }

    /// Whether an object with these tags belongs to this stack and workspace (no workspace tag = `default`).
    pub fn in_workspace(&self, tags: &BTreeMap<String, String>) -> bool {
        tags.get(TAG_STACK) == Some(&self.stack)
            && tags.get(TAG_WORKSPACE).map(String::as_str).unwrap_or(DEFAULT_WORKSPACE) == self.workspace
    }
}

/// Retries `op` while `retryable(err)` holds, with exponential backoff bounded by `cx.waits`.
pub async fn retry_on<T, F, Fut>(
    cx: &Ctx,
    what: &str,
    retryable: impl Fn(&ProviderError) -> bool,
    op: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    retry_within(cx, what, cx.waits.timeout, retryable, op).await
}

/// [`retry_on`], giving up after `bound` (also within `cx.waits.timeout`).
pub async fn retry_within<T, F, Fut>(
    cx: &Ctx,
    what: &str,
    bound: Duration,
    retryable: impl Fn(&ProviderError) -> bool,
    mut op: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let bound = bound.min(cx.waits.timeout);
    let start = tokio::time::Instant::now();
    let mut delay = cx.waits.poll.min(Duration::from_secs(2)).max(Duration::from_millis(10));
    let mut attempt = 1u32;
    loop {
        match op().await {
            Err(e) if retryable(&e) && start.elapsed() + delay < bound => {
                tracing::info!(attempt, error = %e, ?delay, "{what}: retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(20));
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Polls `check` every `cx.waits.poll` until it returns `Some`, failing after `cx.waits.timeout`.
pub async fn wait_for<T, F, Fut>(cx: &Ctx, what: &str, mut check: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ProviderError>>,
{
    let start = tokio::time::Instant::now();
    let mut polls = 0u32;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        polls += 1;
        if start.elapsed() >= cx.waits.timeout {
            return Err(ProviderError::with_code(
                "WaitTimeout",
                format!("timed out after {:?} waiting for {what}", cx.waits.timeout),
            ));
        }
        tracing::info!(polls, elapsed = ?start.elapsed(), "still waiting for {what}");
        tokio::time::sleep(cx.waits.poll).await;
    }
}

/// The tag map held in `attrs["tags"]` (the full set the engine computed), as EC2 tags.
pub fn ec2_tags(attrs: &Attrs) -> Vec<Tag> {
    tag_map(attrs).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// `attrs["tags"]` as a string map.
pub fn tag_map(attrs: &Attrs) -> BTreeMap<String, String> {
    attrs
        .get(crate::schema::TAGS)
        .and_then(Value::as_map)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default()
}

/// A TagSpecification for a create call, so the object never exists untagged.
pub fn tag_spec(resource_type: ResourceType, attrs: &Attrs) -> TagSpecification {
    TagSpecification::builder().resource_type(resource_type).set_tags(Some(ec2_tags(attrs))).build()
}

/// EC2 tags as the `tags` attribute value.
pub fn tags_value(tags: &[Tag]) -> Value {
    Value::Map(
        tags.iter().filter_map(|t| Some((t.key()?.to_owned(), Value::str(t.value().unwrap_or_default())))).collect(),
    )
}

/// Makes the tags of EC2 object `id` go from `prior["tags"]` to `desired["tags"]` (CreateTags/DeleteTags),
/// retrying NotFound for eventual consistency.
pub async fn sync_ec2_tags(cx: &Ctx, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), ProviderError> {
    let old = tag_map(prior);
    let new = tag_map(desired);
    let removed: Vec<Tag> =
        old.keys().filter(|k| !new.contains_key(*k)).map(|k| Tag::builder().key(k).build()).collect();
    let changed: Vec<Tag> = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(v))
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    if !removed.is_empty() {
        retry_on(cx, "DeleteTags", ProviderError::is_not_found, || async {
            cx.ec2().delete_tags().resources(id).set_tags(Some(removed.clone())).send().await.map_err(aws_err)
        })
        .await?;
    }
    if !changed.is_empty() {
        retry_on(cx, "CreateTags", ProviderError::is_not_found, || async {
            cx.ec2().create_tags().resources(id).set_tags(Some(changed.clone())).send().await.map_err(aws_err)
        })
        .await?;
    }
    Ok(())
}

/// Reads the `provisioner:address` tag out of EC2 tags.
pub fn address_tag(tags: &[Tag]) -> Option<String> {
    tags.iter().find(|t| t.key() == Some(TAG_ADDRESS)).and_then(|t| t.value()).map(str::to_owned)
}
