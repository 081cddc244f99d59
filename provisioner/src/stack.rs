//! The library's front door: open a stack directory, then plan and apply it the way the CLI does.
//!
//! ```no_run
//! # async fn demo() -> Result<(), provisioner::EngineError> {
//! use provisioner::{Stack, StackOptions, PlanOptions};
//! let stack = Stack::open(&StackOptions::new("examples/network"))?;
//! let cx = stack.connect().await?;
//! let lock = stack.lock("apply").await?;
//! let (plan, prior) = stack.plan(&cx, &PlanOptions { refresh: true, ..Default::default() }).await?;
//! let report = stack.apply(&cx, &plan, prior, provisioner::apply::ApplyOptions {
//!     parallelism: 10,
//!     cancel: tokio::sync::watch::channel(false).1,
//!     progress: &provisioner::apply::NoProgress,
//! }).await?;
//! lock.release().await?;
//! # Ok(()) }
//! ```
//!
//! Workspaces: a stack has one state per workspace (`default` unless chosen). In a stack with an `env/`
//! folder the workspaces are exactly its `env/*.toml` files, each loaded as the first variable file of its
//! workspace, so state and variables of different environments cannot be mixed; `default` is refused there
//! unless its state already holds resources. Elsewhere a workspace other than `default` must have been
//! created (`workspace new`).
//!
//! Invariants: every state-changing operation holds the backend lock; a saved plan is applied only if the
//! state (lineage and serial, or its absence), the workspace, the configuration hash and the variables are
//! exactly what the plan was made against.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use state::{Backend, LocalWorkspaces, LockInfo, Snapshot, Workspaces, DEFAULT_WORKSPACE};

use crate::apply::{ApplyOptions, ApplyReport, StateWriter};
use crate::aws::{Ctx, ProviderError, TOOL_TAG_PREFIX};
use crate::credentials::{RoleCredentials, RoleSettings};
use crate::engine::{Engine, EngineError, PlanOptions, ToolTags};
use crate::lang::S3BackendConfig;
use crate::plan::Plan;
use crate::resource::{Registry, Resource};
use crate::schema::TAGS;
use crate::value::{Attrs, Value};

#[derive(Clone, Debug, Default)]
pub struct StackOptions {
    pub dir: PathBuf,
    pub var_files: Vec<PathBuf>,
    pub vars: Vec<(String, String)>,
    pub lock_timeout: Duration,
    /// For commands that only read or edit the state (`output`, `show`, `state …`, `graph`,
    /// `force-unlock`): variables without a value are left unknown instead of being an error.
    pub state_only: bool,
    /// The workspace; `None` is `default`.
    pub workspace: Option<String>,
    /// For `validate`: variables without a value are unknown and the workspace need not exist.
    pub validate_only: bool,
    /// The role to work as (`--role-arn`); overrides `[aws] role_arn` (see [`crate::credentials`]).
    pub role_arn: Option<String>,
    /// A role already resolved by the caller, shared rather than assumed again (`data.stack` passes its
    /// run's); takes precedence over `role_arn`.
    pub role: Option<Arc<RoleCredentials>>,
}

impl StackOptions {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StackOptions { dir: dir.into(), ..Default::default() }
    }

    /// Options for a command that needs no variable values (see [`StackOptions::state_only`]).
    pub fn state_only(dir: impl Into<PathBuf>) -> Self {
        StackOptions { dir: dir.into(), state_only: true, ..Default::default() }
    }
}

pub struct Stack {
    pub engine: Engine,
    /// The selected workspace's state.
    pub backend: Arc<dyn Backend>,
    /// Every workspace's state, for `workspace list|new|delete`.
    pub workspaces: Arc<dyn Workspaces>,
    pub lock_timeout: Duration,
    /// The names of `env/*.toml` when the stack has an `env/` folder: then these are its workspaces.
    pub environments: Option<Vec<String>>,
    /// The role the AWS calls and the S3 backend work as, if any (see [`crate::credentials`]).
    pub role: Option<Arc<RoleCredentials>>,
    /// Whether the workspace passed the checks that need its state (once per `Stack`).
    checked: tokio::sync::OnceCell<()>,
}

/// The names of the `env/*.toml` files of a stack directory, sorted; `None` without an `env/` folder.
pub fn environments(dir: &Path) -> Option<Vec<String>> {
    let entries = std::fs::read_dir(dir.join("env")).ok()?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .filter_map(|p| Some(p.file_stem()?.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    Some(names)
}

/// The refusal of `default` in a stack whose workspaces are its env/*.toml files.
fn choose_workspace(envs: &[String]) -> EngineError {
    EngineError::with_hint(
        format!("this stack keeps its environments in env/ ({}), so a workspace must be chosen", env_list(envs)),
        format!(
            "use -w NAME (or PROVISIONER_WORKSPACE), e.g. provisioner -w {} plan",
            envs.first().map_or("NAME", String::as_str)
        ),
    )
}

fn env_list(envs: &[String]) -> String {
    if envs.is_empty() {
        "none yet: add env/NAME.toml".to_owned()
    } else {
        envs.join(", ")
    }
}

/// The S3 backend of `[backend] type = "s3"`. The client is built on first use from the default credential
/// chain; the region is the backend's `region`, else the chain's, else `[aws] region`; the endpoint is the
/// backend's `endpoint`, else `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` (the SDK reads them), with path-style
/// addressing and checksums only when required whenever an endpoint is set (emulators and most S3-compatible
/// stores need it).
/// `PROVISIONER_LOCK_LEASE_SECS` overrides the lock lease (tests use a short one).
/// With `role`, the backend works as that role (see [`crate::credentials`]).
fn s3_workspaces(
    cfg: &S3BackendConfig,
    aws_region: Option<&str>,
    role: Option<Arc<RoleCredentials>>,
) -> state::S3Workspaces {
    let mut settings = state::S3Settings::new(&cfg.bucket, &cfg.key);
    settings.workspace_key_prefix = cfg.workspace_key_prefix.clone();
    settings.kms_key_id = cfg.kms_key_id.clone();
    if let Some(secs) = std::env::var("PROVISIONER_LOCK_LEASE_SECS").ok().and_then(|v| v.parse::<u64>().ok()) {
        settings.lease = std::time::Duration::from_secs(secs.max(1));
    }
    let region = cfg.region.clone();
    let fallback = aws_region.unwrap_or("us-east-1").to_owned();
    let endpoint = cfg.endpoint.clone();
    let factory: state::s3::ClientFactory = Arc::new(move || {
        let (region, fallback, endpoint, role) = (region.clone(), fallback.clone(), endpoint.clone(), role.clone());
        Box::pin(async move {
            use aws_config::meta::region::RegionProviderChain;
            use aws_types::region::Region;
            let chain = match region {
                Some(r) => RegionProviderChain::first_try(Region::new(r)),
                None => RegionProviderChain::default_provider().or_else(Region::new(fallback)),
            };
            let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).region(chain).load().await;
            let sdk = match role {
                Some(role) => role.apply(sdk).await.map_err(|e| format!("{}; {}", e.message, e.hint))?,
                None => sdk,
            };
            let mut conf = aws_sdk_s3::config::Builder::from(&sdk);
            let env_endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
                .iter()
                .any(|k| std::env::var(k).is_ok_and(|v| !v.is_empty()));
            if let Some(url) = &endpoint {
                conf = conf.endpoint_url(url);
            }
            if endpoint.is_some() || env_endpoint {
                // Emulators and S3-compatible stores: path-style addressing, and checksums only where S3
                // requires them (several stores reject the SDK's default CRC headers; terraform#36742).
                conf = conf
                    .force_path_style(true)
                    .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
                    .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired);
            }
            Ok(aws_sdk_s3::Client::from_conf(conf.build()))
        })
    });
    state::S3Workspaces::new(settings, factory)
}

/// The states named by a `state migrate --from` argument: `local:PATH` (relative to `dir`; the default
/// workspace's file, others beside it as for `[backend] type = "local"`) or `s3://BUCKET/KEY` (the default
/// workspace's key, others under `env:/`, with the credentials and endpoint of the environment).
/// `role`: as for the stack's own backend.
pub fn source_workspaces(
    spec: &str,
    dir: &Path,
    role: Option<Arc<RoleCredentials>>,
) -> Result<Arc<dyn Workspaces>, EngineError> {
    if let Some(path) = spec.strip_prefix("local:").filter(|p| !p.is_empty()) {
        return Ok(Arc::new(LocalWorkspaces::new(dir.join(path))));
    }
    if let Some((bucket, key)) = spec.strip_prefix("s3://").and_then(|r| r.split_once('/')) {
        if !bucket.is_empty() && !key.is_empty() && !key.ends_with('/') {
            let cfg = S3BackendConfig {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                region: None,
                workspace_key_prefix: state::s3::DEFAULT_WORKSPACE_KEY_PREFIX.to_owned(),
                kms_key_id: None,
                endpoint: None,
            };
            return Ok(Arc::new(s3_workspaces(&cfg, None, role)));
        }
    }
    Err(EngineError::with_hint(
        format!("invalid state source `{spec}`"),
        "use --from local:PATH (e.g. local:.provisioner/state.json) or --from s3://BUCKET/KEY",
    ))
}

/// What `state migrate` did with one workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Migrated {
    /// Copied (lineage and serial kept).
    Copied { lineage: uuid::Uuid, serial: u64 },
    /// The target already holds this lineage at this serial or a newer one.
    AlreadyThere { serial: u64 },
    /// The source has no state for the workspace.
    NoSource,
}

/// A held state lock; release it explicitly (an async call for remote backends).
pub struct LockHandle {
    backend: Arc<dyn Backend>,
    info: LockInfo,
    released: bool,
}

impl LockHandle {
    pub fn id(&self) -> &str {
        &self.info.id
    }

    pub async fn release(mut self) -> Result<(), EngineError> {
        self.released = true;
        Ok(self.backend.unlock(&self.info.id).await?)
    }
}

impl Drop for LockHandle {
    fn drop(&mut self) {
        if !self.released {
            tracing::warn!(lock = %self.info.id, "state lock dropped without release");
        }
    }
}

impl Stack {
    /// Loads and validates the stack (no AWS calls) and opens its state backend.
    pub fn open(opts: &StackOptions) -> Result<Stack, EngineError> {
        let workspace = opts.workspace.clone().unwrap_or_else(|| DEFAULT_WORKSPACE.to_owned());
        state::validate_workspace_name(&workspace)?;
        let envs = environments(&opts.dir);
        if let Some(envs) = envs.as_ref().filter(|_| !opts.validate_only) {
            if workspace != DEFAULT_WORKSPACE && !envs.contains(&workspace) {
                return Err(EngineError::with_hint(
                    format!(
                        "workspace `{workspace}` has no environment file: this stack's environments are its env/*.toml \
                         files ({})",
                        env_list(envs)
                    ),
                    format!(
                        "choose one with -w NAME, or create {}",
                        opts.dir.join("env").join(format!("{workspace}.toml")).display()
                    ),
                ));
            }
        }
        // The workspace's own variable file comes first; --var-file and --var add to it.
        let env_file = opts.dir.join("env").join(format!("{workspace}.toml"));
        let mut var_files = opts.var_files.clone();
        if env_file.is_file() && !var_files.contains(&env_file) {
            var_files.insert(0, env_file);
        }
        let require_all = !opts.state_only && !opts.validate_only;
        let engine = match Engine::load(&opts.dir, Registry::builtin(), &var_files, &opts.vars, require_all, &workspace)
        {
            // Without a workspace, an env/ stack usually lacks its variables: say what is really missing.
            Err(EngineError::Config(_)) if workspace == DEFAULT_WORKSPACE && require_all && envs.is_some() => {
                return Err(choose_workspace(envs.as_deref().unwrap_or_default()));
            }
            other => other?,
        };
        let role = match &opts.role {
            Some(shared) => Some(shared.clone()),
            None => RoleSettings::from_env(opts.role_arn.as_deref().or(engine.config.role_arn.as_deref()))
                .map_err(|e| EngineError::with_hint(e.message, e.hint))?
                .map(RoleCredentials::new),
        };
        let workspaces: Arc<dyn Workspaces> = match engine.config.backend.kind.as_str() {
            "local" => Arc::new(LocalWorkspaces::new(engine.config.backend.path.clone())),
            "s3" => match &engine.config.backend.s3 {
                Some(s3) => Arc::new(s3_workspaces(s3, engine.config.region.as_deref(), role.clone())),
                None => return Err(EngineError::other("`[backend] type = \"s3\"` without its settings")),
            },
            other => {
                return Err(EngineError::with_hint(
                    format!("backend type `{other}` is not supported yet"),
                    "use [backend] type = \"local\"",
                ))
            }
        };
        let backend = workspaces.backend(&workspace)?;
        Ok(Stack {
            engine,
            backend,
            workspaces,
            lock_timeout: opts.lock_timeout,
            environments: envs,
            role,
            checked: tokio::sync::OnceCell::new(),
        })
    }

    /// The selected workspace.
    pub fn workspace(&self) -> &str {
        &self.engine.workspace
    }

    /// The checks that need the workspace's state: in a stack with `env/`, `default` is refused unless its
    /// state already holds resources (then a warning says how to move them); elsewhere, a workspace other
    /// than `default` must exist.
    async fn check_workspace(&self, state: Option<&Snapshot>) -> Result<(), EngineError> {
        let ws = self.workspace();
        match &self.environments {
            Some(envs) if ws == DEFAULT_WORKSPACE => {
                let held = state.map_or(0, |s| s.resources.len());
                if held == 0 {
                    return Err(choose_workspace(envs));
                }
                tracing::warn!(
                    "the default workspace of this stack holds {held} resource(s) from before environments had \
                     their own state; move them into one: `provisioner workspace new NAME --from default` \
                     (NAME one of: {}), then use -w NAME",
                    env_list(envs)
                );
            }
            None if ws != DEFAULT_WORKSPACE && state.is_none() => {
                let known = self.workspaces.list().await?;
                if !known.iter().any(|w| w == ws) {
                    return Err(EngineError::with_hint(
                        format!("workspace `{ws}` does not exist (workspaces: {})", known.join(", ")),
                        format!("create it with `provisioner workspace new {ws}`"),
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// AWS context from the default credential chain, with `[aws] region` as the fallback region.
    pub async fn connect(&self) -> Result<Ctx, EngineError> {
        let mut cx = Ctx::load_as(
            &self.engine.config.stack_name,
            &self.engine.workspace,
            self.engine.config.region.as_deref(),
            self.role.clone(),
        )
        .await
        .map_err(|e| EngineError::other(format!("AWS configuration: {e}")))?;
        cx.stack_dir = self.engine.config.dir.clone();
        Ok(cx)
    }

    pub async fn lock(&self, operation: &str) -> Result<LockHandle, EngineError> {
        self.lock_backend(self.backend.clone(), operation).await
    }

    async fn lock_backend(&self, backend: Arc<dyn Backend>, operation: &str) -> Result<LockHandle, EngineError> {
        let info = LockInfo::new(operation, &backend.describe());
        state::lock_with_timeout(backend.as_ref(), &info, self.lock_timeout).await?;
        Ok(LockHandle { backend, info, released: false })
    }

    /// Copies workspace `ws`'s state from `source` into this stack's backend, keeping lineage and serial, under
    /// both locks. Refuses to overwrite a target state of another lineage that still tracks objects; a target
    /// of the same lineage is only moved forward. The source is left as it was.
    pub async fn migrate_workspace(&self, source: &dyn Workspaces, ws: &str) -> Result<Migrated, EngineError> {
        let from = source.backend(ws)?;
        let to = self.workspaces.backend(ws)?;
        if from.describe() == to.describe() {
            return Err(EngineError::other(format!(
                "the source and the target of workspace `{ws}` are the same: {}",
                to.describe()
            )));
        }
        let from_lock = self.lock_backend(from.clone(), "state migrate (source)").await?;
        let to_lock = match self.lock_backend(to.clone(), "state migrate").await {
            Ok(l) => l,
            Err(e) => {
                let _ = from_lock.release().await;
                return Err(e);
            }
        };
        let result = async {
            let Some(snap) = from.load().await? else { return Ok(Migrated::NoSource) };
            let copied = Migrated::Copied { lineage: snap.lineage, serial: snap.serial };
            match to.load().await? {
                None => to.replace(&snap, None).await?,
                Some(t) if t.lineage == snap.lineage && t.serial >= snap.serial => {
                    return Ok(Migrated::AlreadyThere { serial: t.serial })
                }
                Some(t) if t.lineage == snap.lineage => to.save(&snap, Some(t.key())).await?,
                Some(t) if t.resources.is_empty() && t.released.is_empty() => to.replace(&snap, Some(t.key())).await?,
                Some(t) => {
                    return Err(EngineError::with_hint(
                        format!(
                            "refusing to migrate workspace `{ws}`: {} holds another state (lineage {}, {} resource(s))",
                            to.describe(),
                            t.lineage,
                            t.resources.len()
                        ),
                        "destroy or move that state first, or migrate into another key or workspace",
                    ))
                }
            }
            Ok(copied)
        }
        .await;
        let unlocked_to = to_lock.release().await;
        let unlocked_from = from_lock.release().await;
        let migrated = result?;
        unlocked_to?;
        unlocked_from?;
        Ok(migrated)
    }

    /// The workspace's state (None when it has none yet). The first call also checks the workspace may
    /// be used (see [`Stack`]'s module docs).
    pub async fn load_state(&self) -> Result<Option<Snapshot>, EngineError> {
        let snap = self.backend.load().await?;
        self.checked.get_or_try_init(|| self.check_workspace(snap.as_ref())).await?;
        Ok(snap)
    }

    /// The tool's tags every object of this workspace's state carries, given the state's lineage.
    pub fn tool_tags(&self, lineage: Option<&uuid::Uuid>) -> ToolTags {
        ToolTags::new(&self.engine.config.stack_name, &self.engine.workspace, lineage.map(|l| l.to_string()).as_deref())
    }

    /// Refreshes (unless `opts.refresh` is false) and plans. Returns the plan and the state it was made
    /// against.
    pub async fn plan(&self, cx: &Ctx, opts: &PlanOptions) -> Result<(Plan, Option<Snapshot>), EngineError> {
        if !opts.destroy {
            self.engine.prevalidate()?;
        }
        let prior = self.load_state().await?;
        let refreshed = if opts.refresh {
            self.engine.refresh(cx, prior.as_ref(), true).await?
        } else {
            self.engine.unrefreshed(prior.as_ref())
        };
        let plan = self.engine.plan(cx, prior.as_ref(), refreshed, opts).await?;
        Ok((plan, prior))
    }

    /// Refuses a saved plan that no longer matches the state, configuration or variables.
    pub fn check_plan_current(&self, plan: &Plan, prior: Option<&Snapshot>) -> Result<(), EngineError> {
        if plan.workspace != self.engine.workspace {
            return Err(EngineError::with_hint(
                format!("saved plan is for workspace `{}`, not `{}`", plan.workspace, self.engine.workspace),
                format!("apply it with -w {}", plan.workspace),
            ));
        }
        let now = prior.map(Snapshot::key);
        if plan.state != now {
            let describe = |k: Option<(uuid::Uuid, u64)>| match k {
                None => "no state".to_owned(),
                Some((l, s)) => format!("lineage {l} serial {s}"),
            };
            return Err(EngineError::with_hint(
                format!(
                    "saved plan is stale: it was made against {}, but the state is now {}",
                    describe(plan.state),
                    describe(now)
                ),
                "run `provisioner plan -out FILE` again",
            ));
        }
        if plan.config_hash != self.engine.config.hash {
            return Err(EngineError::with_hint(
                "saved plan is stale: the configuration files changed since it was made",
                "run `provisioner plan -out FILE` again",
            ));
        }
        let vars = self.engine.plan_variables();
        if plan.variables != vars {
            let changed: Vec<&String> = vars
                .iter()
                .filter(|(k, v)| plan.variables.get(*k) != Some(v))
                .map(|(k, _)| k)
                .chain(plan.variables.keys().filter(|k| !vars.contains_key(*k)))
                .collect();
            return Err(EngineError::with_hint(
                format!(
                    "saved plan is stale: variable(s) {} differ from when it was made",
                    changed.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                ),
                "apply a saved plan with the same --var/--var-file values, or plan again",
            ));
        }
        if plan.stack != self.engine.config.stack_name {
            return Err(EngineError::other(format!(
                "saved plan is for stack `{}`, not `{}`",
                plan.stack, self.engine.config.stack_name
            )));
        }
        Ok(())
    }

    /// Sets the tool's tags of `rec`'s object to those of its address in this state (after `state mv`, or
    /// `import`), or removes them (`None`: `state rm` lets the object go). Types without tags are left
    /// alone; an object already gone is not an error.
    pub async fn set_tool_tags(
        &self,
        cx: &Ctx,
        rec: &state::ResourceRecord,
        tags: Option<&BTreeMap<String, String>>,
    ) -> Result<(), EngineError> {
        let imp = self.engine.resource_impl(&rec.type_name)?;
        set_tool_tags(cx, imp.as_ref(), &rec.id, tags)
            .await
            .map_err(|error| EngineError::Provider { address: rec.address.clone(), error })
    }

    /// Applies a plan made against `prior` (callers hold the lock).
    pub async fn apply(
        &self,
        cx: &Ctx,
        plan: &Plan,
        prior: Option<Snapshot>,
        opts: ApplyOptions<'_>,
    ) -> Result<ApplyReport, EngineError> {
        let persisted = prior.as_ref().map(Snapshot::key);
        let snapshot = prior.unwrap_or_else(|| Snapshot::new(Some(self.engine.config.stack_name.clone())));
        let errored = self.engine.config.dir.join("provisioner.errored.state.json");
        let writer = StateWriter::new(self.backend.clone(), snapshot, persisted).with_errored_path(errored);
        crate::apply::apply(&self.engine, cx, &writer, plan, opts).await
    }
}

/// Reads object `id` and rewrites its `provisioner:*` tags to `tags` (all removed when `None`), through the
/// type's own update. Nothing for types without tags or objects already gone.
pub async fn set_tool_tags(
    cx: &Ctx,
    imp: &dyn Resource,
    id: &str,
    tags: Option<&BTreeMap<String, String>>,
) -> Result<(), ProviderError> {
    if !imp.schema().taggable {
        return Ok(());
    }
    let Some(raw) = imp.read(cx, &[id.to_owned()]).await?.remove(id) else {
        return Ok(());
    };
    let mut all: BTreeMap<String, Value> = raw.get(TAGS).and_then(Value::as_map).cloned().unwrap_or_default();
    all.retain(|k, _| !k.starts_with(TOOL_TAG_PREFIX));
    all.extend(tags.into_iter().flatten().map(|(k, v)| (k.clone(), Value::str(v))));
    let mut desired: Attrs = raw.clone();
    desired.insert(TAGS.to_owned(), Value::Map(all));
    if desired.get(TAGS) == raw.get(TAGS) {
        return Ok(());
    }
    imp.update(cx, &raw, &desired).await.map(drop)
}

/// Removes the tool's tags from object `id` (see [`set_tool_tags`]).
pub async fn strip_tool_tags(cx: &Ctx, imp: &dyn Resource, id: &str) -> Result<(), ProviderError> {
    set_tool_tags(cx, imp, id, None).await
}
