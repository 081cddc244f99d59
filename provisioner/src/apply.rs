//! The executor: applies a [`Plan`] as a DAG of operations with bounded concurrency, persisting state
//! after every operation that completes.
//!
//! Invariants:
//! - an operation starts only when every operation it depends on succeeded; a failure marks its
//!   dependents skipped while independent branches go on;
//! - creates/updates run in dependency order, deletes in reverse; a replacement deletes first unless
//!   `create_before_destroy`, in which case the old object is kept in state as `ADDRESS (deposed)` until
//!   it is deleted, so a crash in between never loses it;
//! - every completed operation is written to state (serial + 1) by the single [`StateWriter`] before the
//!   executor moves on, so a crash loses at most the operations in flight; a resource is saved right after
//!   its create call (through [`Checkpoint`]) and marked tainted if a later step of its create fails;
//! - each resource's expressions are evaluated again just before its own operation, against the real
//!   attributes of its dependencies; a value still unknown then is an error, never a placeholder;
//! - cancellation (Ctrl-C/SIGTERM) stops starting operations, lets in-flight ones finish and saves; it is
//!   also passed to them ([`Ctx::interrupted`]), so a long wait (a deployment) stops watching and saves;
//! - a change that took effect but did not settle ([`ProviderError::applied`]) is saved with the object
//!   marked `incomplete` — never tainted: the next plan changes it again in place;
//! - the deposed object of a create-first replacement is deleted after the objects that depend on its
//!   address were applied, and not at all in this run when one of them still relies on it ([`Ctx::hold`]):
//!   it stays in state as `ADDRESS (deposed)` and the next apply deletes it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::{FuturesUnordered, StreamExt};
use state::{Backend, Mode, OutputRecord, ResourceRecord, Snapshot, StateKey};
use tokio::sync::watch;

use crate::aws::{Ctx, ProviderError};
use crate::engine::{absorb, block_of, desired_attrs, with_full_tags, Engine, EngineError, ToolTags, Values};
use crate::lang;
use crate::plan::{Action, Plan};
use crate::resource::Checkpoint;
use crate::schema::TAGS;
use crate::value::{attrs_from_json, attrs_to_json, Attrs, Value};

/// Serialises every state change: mutate the snapshot, bump the serial, compare-and-swap save.
pub struct StateWriter {
    backend: Arc<dyn Backend>,
    inner: tokio::sync::Mutex<(Snapshot, Option<StateKey>)>,
    errored_path: Option<std::path::PathBuf>,
}

impl StateWriter {
    pub fn new(backend: Arc<dyn Backend>, snapshot: Snapshot, persisted: Option<StateKey>) -> Self {
        StateWriter { backend, inner: tokio::sync::Mutex::new((snapshot, persisted)), errored_path: None }
    }

    /// Where to dump the state if the backend refuses a write, so it is never lost.
    pub fn with_errored_path(mut self, p: std::path::PathBuf) -> Self {
        self.errored_path = Some(p);
        self
    }

    /// Applies `f` and persists the result before returning.
    pub async fn mutate(&self, f: impl FnOnce(&mut Snapshot)) -> Result<(), EngineError> {
        let mut guard = self.inner.lock().await;
        let (snap, persisted) = &mut *guard;
        f(snap);
        if let Err(e) = state::save_next(self.backend.as_ref(), snap, persisted).await {
            if let Some(p) = &self.errored_path {
                if std::fs::write(p, snap.to_pretty_json()).is_ok() {
                    return Err(EngineError::with_hint(
                        format!("failed to save state: {e}"),
                        format!("the state was written to {} instead; restore it once the backend works", p.display()),
                    ));
                }
            }
            return Err(e.into());
        }
        Ok(())
    }

    pub async fn snapshot(&self) -> Snapshot {
        self.inner.lock().await.0.clone()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Create,
    Update,
    Delete,
    Read,
}

#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Outcome {
    Done,
    /// Not done in this run, on purpose (a deposed object something still relies on): the next apply does
    /// it. Counts as success.
    Deferred {
        reason: String,
    },
    Failed {
        error: String,
    },
    Skipped {
        because: String,
    },
    NotStarted,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct OpResult {
    pub address: String,
    pub op: OpKind,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub seconds: f64,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ApplyReport {
    pub results: Vec<OpResult>,
    pub interrupted: bool,
    pub outputs: BTreeMap<String, OutputRecord>,
}

impl ApplyReport {
    pub fn failed(&self) -> impl Iterator<Item = &OpResult> {
        self.results.iter().filter(|r| matches!(r.outcome, Outcome::Failed { .. }))
    }
    pub fn ok(&self) -> bool {
        !self.interrupted && self.results.iter().all(|r| matches!(r.outcome, Outcome::Done | Outcome::Deferred { .. }))
    }
    pub fn count(&self, kind: OpKind) -> usize {
        self.results.iter().filter(|r| r.op == kind && matches!(r.outcome, Outcome::Done)).count()
    }
}

/// Progress reporting hook (the CLI prints lines or a progress bar; libraries may ignore it).
pub trait Progress: Send + Sync {
    fn started(&self, _address: &str, _op: OpKind) {}
    fn finished(&self, _result: &OpResult) {}
    /// A progress line from inside an operation (a deployment being watched: `Still deploying… […]`).
    fn note(&self, _address: &str, _text: &str) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}

pub struct ApplyOptions<'a> {
    pub parallelism: usize,
    /// Becomes true when the user asked to stop.
    pub cancel: watch::Receiver<bool>,
    pub progress: &'a dyn Progress,
}

#[derive(Clone, Debug)]
struct Op {
    change: usize,
    kind: OpKind,
    /// Delete of the deposed object of a create_before_destroy replacement.
    deposed: bool,
}

fn deposed_address(address: &str) -> String {
    format!("{address} (deposed)")
}

/// Builds the operation DAG: (ops, dependencies of each op by index).
fn build_ops(plan: &Plan) -> (Vec<Op>, Vec<Vec<usize>>) {
    let mut ops = Vec::new();
    let mut apply_of: HashMap<&str, usize> = HashMap::new();
    let mut delete_of: HashMap<&str, usize> = HashMap::new();
    for (i, c) in plan.changes.iter().enumerate() {
        match c.action {
            Action::Create | Action::Update => {
                apply_of.insert(&c.address, ops.len());
                ops.push(Op {
                    change: i,
                    kind: if c.action == Action::Create { OpKind::Create } else { OpKind::Update },
                    deposed: false,
                });
            }
            Action::Read if !c.after.as_ref().is_some_and(|a| a.values().all(Value::is_known)) => {
                apply_of.insert(&c.address, ops.len());
                ops.push(Op { change: i, kind: OpKind::Read, deposed: false });
            }
            Action::Replace => {
                delete_of.insert(&c.address, ops.len());
                ops.push(Op { change: i, kind: OpKind::Delete, deposed: c.create_before_destroy });
                apply_of.insert(&c.address, ops.len());
                ops.push(Op { change: i, kind: OpKind::Create, deposed: false });
            }
            Action::Delete if c.before.is_some() && c.mode == Mode::Managed => {
                delete_of.insert(&c.address, ops.len());
                ops.push(Op { change: i, kind: OpKind::Delete, deposed: false });
            }
            _ => {}
        }
    }
    // Dependents of each address, from the plan (new config) and the state (old dependencies).
    let mut dependents: HashMap<&str, Vec<&str>> = HashMap::new();
    for c in &plan.changes {
        for d in &c.dependencies {
            dependents.entry(d.as_str()).or_default().push(&c.address);
        }
    }
    let mut deps: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); ops.len()];
    for (idx, op) in ops.iter().enumerate() {
        let c = &plan.changes[op.change];
        match op.kind {
            OpKind::Create | OpKind::Update | OpKind::Read => {
                for d in &c.dependencies {
                    if let Some(&a) = apply_of.get(d.as_str()) {
                        deps[idx].insert(a);
                    }
                }
                // Destroy-before-create: the old object goes first.
                if c.action == Action::Replace && !c.create_before_destroy {
                    deps[idx].insert(delete_of[c.address.as_str()]);
                }
            }
            OpKind::Delete => {
                // A deposed object left by an earlier run (still relied on then): whatever depends on its
                // address is applied first, as in the run that replaced it.
                if let Some(base) = c.address.strip_suffix(" (deposed)") {
                    for dependent in dependents.get(base).into_iter().flatten() {
                        if let Some(&a) = apply_of.get(dependent) {
                            deps[idx].insert(a);
                        }
                    }
                }
                // Whatever depends on this object is deleted (or moved off it) first.
                for dependent in dependents.get(c.address.as_str()).into_iter().flatten() {
                    if let Some(&d) = delete_of.get(dependent) {
                        if d != idx {
                            deps[idx].insert(d);
                        }
                    }
                    if op.deposed {
                        if let Some(&a) = apply_of.get(dependent) {
                            deps[idx].insert(a);
                        }
                    }
                }
                if op.deposed {
                    deps[idx].insert(apply_of[c.address.as_str()]);
                }
            }
        }
    }
    // A deposed delete waits for its own create; a plain replace's create waits for its delete. Guard
    // against cycles from contradictory orders (can't happen with the rules above, but never hang).
    (ops, deps.into_iter().map(|s| s.into_iter().collect()).collect())
}

struct NodeCheckpoint<'a> {
    writer: &'a StateWriter,
    record: ResourceRecord,
    imp: &'a dyn crate::resource::Resource,
    desired: &'a Attrs,
    cfg_tag_keys: BTreeSet<String>,
    default_tags: &'a BTreeMap<String, String>,
    called: Mutex<Option<Result<(), String>>>,
}

#[async_trait]
impl Checkpoint for NodeCheckpoint<'_> {
    async fn created(&self, attrs: &Attrs) {
        let mut kept = absorb(self.imp, attrs.clone(), self.desired, &self.cfg_tag_keys, self.default_tags);
        self.imp.reconcile(self.desired, &mut kept);
        let mut rec = self.record.clone();
        rec.id = attrs.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        rec.attributes = attrs_to_json(&kept).unwrap_or_default();
        crash_point(&format!("{} created, not yet saved", self.record.address));
        let address = self.record.address.clone();
        let res = self
            .writer
            .mutate(|s| {
                s.upsert(rec);
                s.end_create(&address);
            })
            .await
            .map_err(|e| e.to_string());
        crash_point(&format!("{} created and saved", self.record.address));
        *self.called.lock().expect("checkpoint lock") = Some(res);
    }

    async fn attempt(&self) -> u64 {
        let mut generation = 1;
        if let Err(e) = self.writer.mutate(|s| generation = s.begin_create(&self.record.address)).await {
            // Not saved: a retry after a crash may get a new token; the leftover search still finds the
            // object by its tags.
            tracing::warn!("{}: could not save the create attempt: {e}", self.record.address);
        }
        generation
    }
}

/// Test hook for crash safety: with `PROVISIONER_CRASH_AT=N`, the process exits at once (as if killed: no
/// state write, no unlock) at the N-th operation boundary it reaches — right after an AWS call returned and
/// before its result is saved, and right after the save. Boundaries are numbered from 1 in the order they
/// are reached (deterministic with `--parallelism 1`). Unset in normal use; costs one atomic increment.
fn crash_point(what: &str) {
    static AT: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    static REACHED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let Some(at) = *AT.get_or_init(|| std::env::var("PROVISIONER_CRASH_AT").ok().and_then(|v| v.parse().ok())) else {
        return;
    };
    let n = REACHED.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    if n == at {
        eprintln!("provisioner: crash point {n} reached ({what}): exiting as if killed (PROVISIONER_CRASH_AT)");
        std::process::exit(137);
    }
}

/// Removes the tool's tags from objects `state rm` released while AWS could not be reached, then drops
/// them from the state's `released` list. An object already gone counts as done; a failure leaves it listed
/// for the next run.
async fn release_objects(engine: &Engine, cx: &Ctx, writer: &StateWriter, plan: &Plan) -> Result<(), EngineError> {
    for r in &plan.release {
        let res = async {
            let imp = engine.resource_impl(&r.type_name)?;
            crate::stack::strip_tool_tags(cx, imp.as_ref(), &r.id)
                .await
                .map_err(|error| EngineError::Provider { address: r.address.clone(), error })
        }
        .await;
        match res {
            Ok(()) => {
                writer.mutate(|s| s.released.retain(|x| !(x.type_name == r.type_name && x.id == r.id))).await?;
            }
            Err(e) => tracing::warn!(
                "could not remove the tool's tags from {} {} (was {}): {e}",
                r.type_name,
                r.id,
                r.address
            ),
        }
    }
    Ok(())
}

/// Applies `plan`. `prior` is the state as loaded (the plan must have been made against it: callers
/// check lineage/serial first).
pub async fn apply(
    engine: &Engine,
    cx: &Ctx,
    writer: &StateWriter,
    plan: &Plan,
    opts: ApplyOptions<'_>,
) -> Result<ApplyReport, EngineError> {
    // 1. Bring state in line with what refresh saw: refreshed attributes, objects deleted outside,
    //    data sources read during plan.
    writer
        .mutate(|s| {
            if s.stack.is_none() {
                s.stack = Some(plan.stack.clone());
            }
            for c in &plan.changes {
                let exists = s.resource(&c.address).is_some();
                if c.adopts() {
                    // A leftover found by its tags or natural key: tracked from now on (replacing a record
                    // whose object was deleted outside, if any).
                    if let (Some(before), Some(id)) = (&c.before, &c.leftover) {
                        let mut rec = ResourceRecord::new(&c.address, &c.type_name, id);
                        rec.attributes = attrs_to_json(before).unwrap_or_default();
                        rec.dependencies = c.dependencies.clone();
                        rec.prevent_destroy = c.prevent_destroy.unwrap_or(false);
                        s.upsert(rec);
                    }
                    continue;
                }
                match (&c.before, c.action) {
                    (None, _) if exists && c.mode == Mode::Managed => {
                        s.remove(&c.address);
                    }
                    (Some(before), Action::NoOp | Action::Update | Action::Replace | Action::Delete) if exists => {
                        if let (Some(rec), Some(json)) = (s.resource_mut(&c.address), attrs_to_json(before)) {
                            rec.attributes = json;
                            if c.action == Action::NoOp {
                                // Settled since the run that left it incomplete (see plan).
                                rec.incomplete = None;
                            }
                            if let Some(p) = c.prevent_destroy {
                                rec.prevent_destroy = p;
                            }
                            if c.action != Action::Delete {
                                rec.sensitive_attributes = c.sensitive.clone();
                            }
                        }
                    }
                    _ => {}
                }
                if c.action == Action::Delete && c.mode == Mode::Data {
                    s.remove(&c.address);
                }
                if c.action == Action::Read {
                    if let Some(json) = c.after.as_ref().and_then(attrs_to_json) {
                        let mut rec = ResourceRecord::new(&c.address, &c.type_name, "data");
                        rec.mode = Mode::Data;
                        rec.attributes = json;
                        rec.dependencies = c.dependencies.clone();
                        s.upsert(rec);
                    }
                }
            }
        })
        .await?;
    release_objects(engine, cx, writer, plan).await?;
    let lineage = writer.snapshot().await.lineage.to_string();
    let tool = ToolTags::new(&plan.stack, &plan.workspace, Some(&lineage));
    let tool = &tool;

    // 2. The operation DAG.
    let (ops, deps) = build_ops(plan);
    let mut remaining: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(i);
        }
    }
    let mut values = Values::default();
    for c in &plan.changes {
        if let Some(a) = c.after.as_ref().or(c.before.as_ref()) {
            if c.action != Action::Delete {
                values.set(&c.block, c.key.clone(), &c.address, a.clone());
            }
        }
    }
    let values = Mutex::new(values);
    let mut results: Vec<Option<OpResult>> = vec![None; ops.len()];
    let mut ready: BTreeSet<usize> = (0..ops.len()).filter(|i| remaining[*i] == 0).collect();
    let mut in_flight = FuturesUnordered::new();
    let mut cancel = opts.cancel.clone();
    let mut interrupted = *cancel.borrow();
    if interrupted {
        cx.interrupt();
    }
    let parallelism = opts.parallelism.max(1);
    let (report_tx, mut reports) = tokio::sync::mpsc::unbounded_channel();
    cx.set_reports(Some(report_tx));

    loop {
        while !interrupted && in_flight.len() < parallelism {
            let Some(i) = ready.pop_first() else { break };
            let op = ops[i].clone();
            let change = &plan.changes[op.change];
            opts.progress.started(&change.address, op.kind);
            let values = &values;
            in_flight.push(async move {
                let start = std::time::Instant::now();
                let res = run_op(engine, cx, writer, plan, &op, values, tool).await;
                (i, res, start.elapsed().as_secs_f64())
            });
        }
        if in_flight.is_empty() {
            break;
        }
        tokio::select! {
            Some((i, res, seconds)) = in_flight.next() => {
                let op = &ops[i];
                let address = plan.changes[op.change].address.clone();
                let outcome = match res {
                    Ok(done) => {
                        for &d in &dependents[i] {
                            remaining[d] -= 1;
                            if remaining[d] == 0 && results[d].is_none() {
                                ready.insert(d);
                            }
                        }
                        match done {
                            Done::Done => Outcome::Done,
                            Done::Deferred(reason) => Outcome::Deferred { reason },
                        }
                    }
                    Err(e) => {
                        // Everything downstream is skipped.
                        let mut stack = dependents[i].clone();
                        while let Some(d) = stack.pop() {
                            if results[d].is_none() {
                                ready.remove(&d);
                                results[d] = Some(OpResult {
                                    address: plan.changes[ops[d].change].address.clone(),
                                    op: ops[d].kind,
                                    outcome: Outcome::Skipped { because: format!("{address} failed") },
                                    seconds: 0.0,
                                });
                                stack.extend(dependents[d].iter().copied());
                            }
                        }
                        Outcome::Failed { error: error_text(&e) }
                    }
                };
                let r = OpResult { address, op: op.kind, outcome, seconds };
                opts.progress.finished(&r);
                results[i] = Some(r);
            }
            Some((address, text)) = reports.recv() => opts.progress.note(&address, &text),
            changed = cancel.changed(), if !interrupted => {
                if changed.is_err() || *cancel.borrow() {
                    interrupted = true;
                    cx.interrupt();
                    tracing::warn!("interrupt received: no new operations will start; waiting for those in flight");
                }
            }
        }
    }

    cx.set_reports(None);
    while let Ok((address, text)) = reports.try_recv() {
        opts.progress.note(&address, &text);
    }
    let results: Vec<OpResult> = results
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.unwrap_or_else(|| OpResult {
                address: plan.changes[ops[i].change].address.clone(),
                op: ops[i].kind,
                outcome: Outcome::NotStarted,
                seconds: 0.0,
            })
        })
        .collect();

    // 3. Outputs, from whatever is now real.
    let outputs = if plan.destroy { BTreeMap::new() } else { eval_outputs(engine, &values.lock().expect("values")) };
    writer
        .mutate(|s| {
            s.outputs = outputs.clone();
        })
        .await?;
    Ok(ApplyReport { results, interrupted, outputs })
}

fn error_text(e: &EngineError) -> String {
    match e.hint() {
        Some(h) => format!("{e} (hint: {h})"),
        None => e.to_string(),
    }
}

fn eval_outputs(engine: &Engine, values: &Values) -> BTreeMap<String, OutputRecord> {
    let mut out = BTreeMap::new();
    for (name, decl) in &engine.config.outputs {
        if let Some(json) = engine.eval_output(decl, values).ok().and_then(|v| v.to_json()) {
            out.insert(name.clone(), OutputRecord { value: json, sensitive: engine.output_sensitive(decl) });
        }
    }
    out
}

/// How an operation that did not fail ended.
enum Done {
    Done,
    /// Not done on purpose; the next apply does it (see [`Outcome::Deferred`]).
    Deferred(String),
}

async fn run_op(
    engine: &Engine,
    cx: &Ctx,
    writer: &StateWriter,
    plan: &Plan,
    op: &Op,
    values: &Mutex<Values>,
    tool: &ToolTags,
) -> Result<Done, EngineError> {
    let c = &plan.changes[op.change];
    let provider_err = |error: ProviderError| EngineError::Provider { address: c.address.clone(), error };
    match op.kind {
        OpKind::Delete => {
            let imp = engine
                .registry
                .resource(&c.type_name)
                .ok_or_else(|| EngineError::other(format!("unknown type {}", c.type_name)))?;
            let state_address = if op.deposed { deposed_address(&c.address) } else { c.address.clone() };
            let before = match op.deposed {
                true => writer
                    .snapshot()
                    .await
                    .resource(&state_address)
                    .map(|r| attrs_from_json(&r.attributes))
                    .or_else(|| c.before.clone()),
                false => c.before.clone(),
            }
            .unwrap_or_default();
            let deposed = op.deposed || c.address.ends_with(" (deposed)");
            let id = before.get("id").and_then(Value::as_str).unwrap_or_default();
            if let Some(reason) = cx.held(id).filter(|_| deposed) {
                return Ok(Done::Deferred(format!("kept until a later apply: {reason}")));
            }
            let prior_full = with_full_tags(&before, &tool.for_address(&block_of_leftover(&c.address)));
            imp.delete(cx, &prior_full).await.map_err(provider_err)?;
            crash_point(&format!("{state_address} deleted, not yet saved"));
            writer
                .mutate(|s| {
                    s.remove(&state_address);
                })
                .await?;
            crash_point(&format!("{state_address} deleted and saved"));
            Ok(Done::Done)
        }
        OpKind::Read => {
            let block = find_block(engine, &c.block)?;
            let cfg = instance_cfg(engine, block, &c.address, values)?;
            let imp = engine
                .registry
                .data_source(&c.type_name)
                .ok_or_else(|| EngineError::other(format!("unknown data source {}", c.type_name)))?;
            let args = imp.schema().normalize(&cfg);
            let attrs = imp.read(cx, &args).await.map_err(provider_err)?;
            let mut rec = ResourceRecord::new(&c.address, &c.type_name, "data");
            rec.mode = Mode::Data;
            rec.attributes = attrs_to_json(&attrs).unwrap_or_default();
            rec.dependencies = c.dependencies.clone();
            writer.mutate(|s| s.upsert(rec)).await?;
            values.lock().expect("values").set(&c.block, c.key.clone(), &c.address, attrs);
            Ok(Done::Done)
        }
        OpKind::Create | OpKind::Update => {
            let block = find_block(engine, &c.block)?;
            let imp = engine
                .registry
                .resource(&c.type_name)
                .ok_or_else(|| EngineError::other(format!("unknown type {}", c.type_name)))?;
            let cfg = instance_cfg(engine, block, &c.address, values)?;
            let desired = desired_attrs(imp.as_ref(), &cfg, &engine.config.default_tags);
            if let Some((name, _)) = desired.iter().find(|(_, v)| !v.is_known()) {
                return Err(EngineError::other(format!(
                    "{}: `{name}` is still unknown after its dependencies were applied",
                    c.address
                )));
            }
            let cfg_tag_keys: BTreeSet<String> =
                cfg.get(TAGS).and_then(Value::as_map).map(|m| m.keys().cloned().collect()).unwrap_or_default();
            let full = with_full_tags(&desired, &tool.for_address(&c.address));
            let record_of = |attrs: Attrs| {
                let mut kept = absorb(imp.as_ref(), attrs, &desired, &cfg_tag_keys, &engine.config.default_tags);
                imp.reconcile(&desired, &mut kept);
                let mut rec = ResourceRecord::new(&c.address, &c.type_name, "");
                rec.id = kept.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
                rec.attributes = attrs_to_json(&kept)
                    .ok_or_else(|| EngineError::other(format!("{}: provider returned unknown values", c.address)))?;
                rec.dependencies = c.dependencies.clone();
                Ok::<_, EngineError>((rec, kept))
            };
            // A change that took effect but did not settle: saved as it is now, marked incomplete.
            let save_unsettled = |e: ProviderError| async {
                let Some(applied) = e.applied.clone() else { return Err(provider_err(e)) };
                let (mut rec, _) = record_of(*applied)?;
                rec.incomplete = Some(e.message.clone());
                writer.mutate(|s| upsert_protected(s, rec, c)).await?;
                Err(EngineError::Provider {
                    address: c.address.clone(),
                    error: ProviderError {
                        code: e.code,
                        message: format!(
                            "{} (saved as incomplete: the next plan changes it again in place)",
                            e.message
                        ),
                        applied: None,
                    },
                })
            };
            let final_attrs = if op.kind == OpKind::Create {
                if c.action == Action::Replace && c.create_before_destroy {
                    let deposed = deposed_address(&c.address);
                    writer
                        .mutate(|s| {
                            if let Some(mut old) = s.remove(&c.address) {
                                old.address = deposed;
                                s.upsert(old);
                            }
                        })
                        .await?;
                }
                let mut record = ResourceRecord::new(&c.address, &c.type_name, "");
                record.dependencies = c.dependencies.clone();
                record.prevent_destroy = c.prevent_destroy.unwrap_or(false);
                record.sensitive_attributes = c.sensitive.clone();
                let cp = NodeCheckpoint {
                    writer,
                    record: record.clone(),
                    imp: imp.as_ref(),
                    desired: &desired,
                    cfg_tag_keys: cfg_tag_keys.clone(),
                    default_tags: &engine.config.default_tags,
                    called: Mutex::new(None),
                };
                let res = imp.create(cx, &full, &cp).await;
                let checkpointed = cp.called.lock().expect("checkpoint lock").take();
                match (res, checkpointed) {
                    (Ok(raw), _) => raw,
                    (Err(e), Some(Ok(()))) if e.applied.is_some() => return save_unsettled(e).await,
                    (Err(e), Some(Ok(()))) => {
                        writer
                            .mutate(|s| {
                                if let Some(r) = s.resource_mut(&c.address) {
                                    r.tainted = true;
                                }
                            })
                            .await?;
                        return Err(EngineError::Provider {
                            address: c.address.clone(),
                            error: ProviderError {
                                code: e.code,
                                message: format!(
                                    "{} (the object was created and is saved as tainted: the next apply replaces it)",
                                    e.message
                                ),
                                applied: None,
                            },
                        });
                    }
                    (Err(e), Some(Err(save))) => {
                        return Err(EngineError::other(format!("{}: {e}; saving state also failed: {save}", c.address)))
                    }
                    (Err(e), None) => return Err(provider_err(e)),
                }
            } else {
                let before = c.before.clone().unwrap_or_default();
                let tags_now = c.retag.clone().unwrap_or_else(|| tool.for_address(&c.address));
                let prior_full = with_full_tags(&before, &tags_now);
                match imp.update(cx, &prior_full, &full).await {
                    Ok(a) => a,
                    Err(e) => return save_unsettled(e).await,
                }
            };
            let (rec, kept) = record_of(final_attrs)?;
            crash_point(&format!(
                "{} {}, not yet saved",
                c.address,
                if op.kind == OpKind::Create { "created" } else { "updated" }
            ));
            writer.mutate(|s| upsert_protected(s, rec, c)).await?;
            crash_point(&format!("{} saved", c.address));
            values.lock().expect("values").set(&c.block, c.key.clone(), &c.address, kept);
            Ok(Done::Done)
        }
    }
}

/// Saves the record of a create or update, keeping the `prevent_destroy` flag state remembers for its
/// address unless the plan sets it, and which attributes are sensitive.
fn upsert_protected(s: &mut Snapshot, mut rec: ResourceRecord, c: &crate::plan::Change) {
    rec.prevent_destroy =
        c.prevent_destroy.unwrap_or_else(|| s.resource(&c.address).is_some_and(|r| r.prevent_destroy));
    rec.sensitive_attributes = c.sensitive.clone();
    s.upsert(rec);
}

/// `vpc.main (leftover vpc-1)` → `vpc.main`: the address a leftover's tags name.
fn block_of_leftover(address: &str) -> String {
    address.split(" (leftover ").next().unwrap_or(address).to_owned()
}

fn find_block<'a>(engine: &'a Engine, key: &str) -> Result<&'a lang::Block, EngineError> {
    engine
        .block(key)
        .or_else(|| engine.block(&block_of(key)))
        .ok_or_else(|| EngineError::with_hint(format!("`{key}` is no longer in the configuration"), "make a new plan"))
}

/// Re-evaluates the configuration of one instance against current values.
fn instance_cfg(
    engine: &Engine,
    block: &lang::Block,
    address: &str,
    values: &Mutex<Values>,
) -> Result<Attrs, EngineError> {
    let instances = engine.eval_block(block, &values.lock().expect("values"))?;
    instances.into_iter().find(|i| i.address == address).map(|i| i.cfg).ok_or_else(|| {
        EngineError::with_hint(format!("{address} is no longer produced by its for_each"), "make a new plan")
    })
}
