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
//! Invariants: every state-changing operation holds the backend lock; a saved plan is applied only if the
//! state (lineage and serial, or its absence), the configuration hash and the variables are exactly what
//! the plan was made against.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use state::{Backend, LocalBackend, LockInfo, Snapshot};

use crate::apply::{ApplyOptions, ApplyReport, StateWriter};
use crate::aws::Ctx;
use crate::engine::{Engine, EngineError, PlanOptions};
use crate::plan::Plan;
use crate::resource::Registry;

#[derive(Clone, Debug, Default)]
pub struct StackOptions {
    pub dir: PathBuf,
    pub var_files: Vec<PathBuf>,
    pub vars: Vec<(String, String)>,
    pub lock_timeout: Duration,
    /// For commands that only read or edit the state (`output`, `show`, `state …`, `graph`,
    /// `force-unlock`): variables without a value are left unknown instead of being an error.
    pub state_only: bool,
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
    pub backend: Arc<dyn Backend>,
    pub lock_timeout: Duration,
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
        let engine = Engine::load(&opts.dir, Registry::builtin(), &opts.var_files, &opts.vars, !opts.state_only)?;
        let backend: Arc<dyn Backend> = match engine.config.backend.kind.as_str() {
            "local" => Arc::new(LocalBackend::new(engine.config.backend.path.clone())),
            other => {
                return Err(EngineError::with_hint(
                    format!("backend type `{other}` is not supported yet"),
                    "use [backend] type = \"local\"",
                ))
            }
        };
        Ok(Stack { engine, backend, lock_timeout: opts.lock_timeout })
    }

    /// AWS context from the default credential chain, with `[aws] region` as the fallback region.
    pub async fn connect(&self) -> Result<Ctx, EngineError> {
        Ctx::load(&self.engine.config.stack_name, self.engine.config.region.as_deref())
            .await
            .map_err(|e| EngineError::other(format!("AWS configuration: {e}")))
    }

    pub async fn lock(&self, operation: &str) -> Result<LockHandle, EngineError> {
        let info = LockInfo::new(operation, &self.backend.describe());
        state::lock_with_timeout(self.backend.as_ref(), &info, self.lock_timeout).await?;
        Ok(LockHandle { backend: self.backend.clone(), info, released: false })
    }

    pub async fn load_state(&self) -> Result<Option<Snapshot>, EngineError> {
        Ok(self.backend.load().await?)
    }

    /// Refreshes (unless `opts.refresh` is false) and plans. Returns the plan and the state it was made
    /// against.
    pub async fn plan(&self, cx: &Ctx, opts: &PlanOptions) -> Result<(Plan, Option<Snapshot>), EngineError> {
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
        let vars: std::collections::BTreeMap<String, serde_json::Value> =
            self.engine.vars.iter().map(|(k, v)| (k.clone(), v.to_json_lossy())).collect();
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

    /// Makes the `provisioner:address` tag of `rec`'s object name `rec.address` again after it moved from
    /// `old_address` (`state mv`). Types without tags are left alone.
    pub async fn retag(&self, cx: &Ctx, rec: &state::ResourceRecord, old_address: &str) -> Result<(), EngineError> {
        let imp = self.engine.resource_impl(&rec.type_name)?;
        if !imp.schema().taggable {
            return Ok(());
        }
        let attrs = crate::engine::canonical(imp.as_ref(), &crate::value::attrs_from_json(&rec.attributes));
        let stack = &self.engine.config.stack_name;
        let prior = crate::engine::with_full_tags(&attrs, stack, old_address);
        let desired = crate::engine::with_full_tags(&attrs, stack, &rec.address);
        imp.update(cx, &prior, &desired)
            .await
            .map(drop)
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
