//! The engine: refresh real state, plan (diff config against it), and the evaluation helpers that the
//! executor ([`crate::apply`]) shares with planning.
//!
//! Invariants:
//! - the engine sees resources only through [`Resource`]/[`DataSource`] from the [`Registry`];
//! - all diffing is schema-driven: both sides go through `Schema::normalize` and `Resource::normalize`
//!   first, so an unchanged resource plans as a no-op;
//! - refresh reads are batched per type and all types are read concurrently;
//! - tags are kept apart: `tags` is what the user wrote, `tags_all` adds `[aws] default_tags`, and the
//!   tool's own `provisioner:*` tags never appear in either (they are added on create and stripped on read).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use state::{Mode, ResourceRecord, Snapshot};

use crate::aws::{Ctx, ProviderError, TAG_ADDRESS, TAG_LINEAGE, TAG_STACK, TAG_WORKSPACE, TOOL_TAG_PREFIX};
use crate::graph::ConfigGraph;
use crate::lang::{self, Block, Config, Diagnostic, Diagnostics, Ref, Scope};
use crate::plan::{Action, Change, Drift, DriftAttr, OutputChange, Plan, Release, Untracked, PLAN_FORMAT_VERSION};
use crate::resource::{DataSource, Registry, ReplacementOrder, Resource};
use crate::schema::{Presence, Schema, TAGS, TAGS_ALL};
use crate::value::{attrs_from_json, Attrs, Value};

/// Anything that can stop a command, with what the user needs to fix it.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Config(Diagnostics),
    #[error("{0}")]
    State(#[from] state::StateError),
    #[error("{address}: {error}")]
    Provider { address: String, error: ProviderError },
    #[error("{message}")]
    Other { message: String, hint: Option<String> },
}

impl EngineError {
    pub fn other(message: impl Into<String>) -> Self {
        EngineError::Other { message: message.into(), hint: None }
    }
    pub fn with_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        EngineError::Other { message: message.into(), hint: Some(hint.into()) }
    }
    pub fn hint(&self) -> Option<String> {
        match self {
            EngineError::State(e) => e.hint(),
            EngineError::Other { hint, .. } => hint.clone(),
            EngineError::Config(_) | EngineError::Provider { .. } => None,
        }
    }
}

impl From<Diagnostics> for EngineError {
    fn from(d: Diagnostics) -> Self {
        EngineError::Config(d)
    }
}

impl From<Diagnostic> for EngineError {
    fn from(d: Diagnostic) -> Self {
        EngineError::Config(Diagnostics(vec![d]))
    }
}

pub fn state_mode(m: lang::Mode) -> Mode {
    match m {
        lang::Mode::Managed => Mode::Managed,
        lang::Mode::Data => Mode::Data,
    }
}

/// A loaded, validated stack with resolved variables: everything needed to plan and apply.
pub struct Engine {
    pub config: Config,
    pub registry: Registry,
    pub graph: ConfigGraph,
    pub vars: BTreeMap<String, Value>,
    /// The selected workspace (`${workspace}`, and the `provisioner:workspace` tag).
    pub workspace: String,
    /// Block key ("vpc.main") → index in `config.blocks`.
    block_index: HashMap<String, usize>,
    /// What the configuration computes from sensitive variables (redacted wherever it is shown).
    pub taint: crate::redact::Taint,
}

/// Options of `plan` (and of the plan `apply` makes without a saved file).
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    pub destroy: bool,
    pub refresh: bool,
    /// Addresses (`vpc.main`, `subnet.public["a"]`, or a block address covering all its instances).
    pub targets: Vec<String>,
    pub replace: Vec<String>,
    /// Addresses (or block addresses) that may be destroyed although `lifecycle.prevent_destroy`
    /// protects them (`destroy --allow-protected ADDR`).
    pub allow_protected: Vec<String>,
}

/// State after refresh: per address, the record and its attributes as AWS reports them now (None = gone).
pub struct Refreshed {
    pub records: BTreeMap<String, (ResourceRecord, Option<Attrs>)>,
    pub drift: Vec<Drift>,
    pub untracked: Vec<Untracked>,
    /// Address → the tool's tags its object carries, where they differ from what they should be.
    pub retag: BTreeMap<String, BTreeMap<String, String>>,
    /// Objects carrying this stack's, workspace's and lineage's tags that no state entry holds.
    pub leftovers: Vec<Leftover>,
    /// Data sources whose arguments depend on no resource, read together with the refresh: address →
    /// (normalised arguments, result).
    pub data: HashMap<String, (Attrs, Attrs)>,
}

/// An object left by an interrupted run: tagged with this stack, workspace and lineage, in no state entry.
#[derive(Clone, Debug)]
pub struct Leftover {
    pub type_name: String,
    pub id: String,
    /// Its `provisioner:address` tag.
    pub address: Option<String>,
    /// What the type's read returned (full AWS tag set).
    pub raw: Attrs,
}

/// Where the value of each instance comes from while evaluating: block key → instances, address → attrs.
#[derive(Default, Clone)]
pub struct Values {
    pub instances: BTreeMap<String, Vec<(Option<String>, String)>>,
    pub attrs: BTreeMap<String, Attrs>,
}

impl Values {
    pub fn set(&mut self, block: &str, key: Option<String>, address: &str, attrs: Attrs) {
        let list = self.instances.entry(block.to_owned()).or_default();
        if !list.iter().any(|(_, a)| a == address) {
            list.push((key, address.to_owned()));
            list.sort();
        }
        self.attrs.insert(address.to_owned(), attrs);
    }

    /// The value a reference to `block` evaluates to: an object, or a map of instance key → object.
    pub fn block_value(&self, block: &str, for_each: bool) -> Value {
        let Some(list) = self.instances.get(block) else {
            return if for_each { Value::Map(BTreeMap::new()) } else { Value::Unknown };
        };
        let obj = |addr: &str| self.attrs.get(addr).map(|a| Value::Map(a.clone())).unwrap_or(Value::Unknown);
        if for_each {
            Value::Map(list.iter().map(|(k, a)| (k.clone().unwrap_or_default(), obj(a))).collect())
        } else {
            list.first().map(|(_, a)| obj(a)).unwrap_or(Value::Unknown)
        }
    }
}

impl Engine {
    /// Loads and validates the stack in `dir` (no AWS calls), builds the graph and resolves variables.
    pub fn load(
        dir: &std::path::Path,
        registry: Registry,
        var_files: &[std::path::PathBuf],
        cli_vars: &[(String, String)],
        require_all_vars: bool,
        workspace: &str,
    ) -> Result<Engine, EngineError> {
        let config = lang::load(dir, &registry)?;
        let graph = ConfigGraph::build(&config)?;
        let env = |name: &str| std::env::var(name).ok();
        let vars = lang::resolve_variables(&config, var_files, cli_vars, &env, require_all_vars)?;
        let block_index = config.blocks.iter().enumerate().map(|(i, b)| (b.key(), i)).collect();
        for (name, decl) in &config.variables {
            if decl.sensitive {
                if let Some(v) = vars.get(name) {
                    crate::redact::register(v);
                }
            }
        }
        let taint = crate::redact::Taint::of(&config);
        let engine = Engine { config, registry, graph, vars, workspace: workspace.to_owned(), block_index, taint };
        let conflicts: Vec<Diagnostic> = engine
            .config
            .blocks
            .iter()
            .filter(|b| b.mode == lang::Mode::Managed)
            .filter_map(|b| Some((b, engine.registry.resource(&b.type_name)?)))
            .flat_map(|(b, imp)| {
                // Claims depend on literal arguments (a rule's `type`); templates count as unknown.
                let cfg: Attrs = b.attrs.iter().map(|(k, n)| (k.clone(), n.static_value())).collect();
                engine.claim_conflicts(b, imp.claims(&cfg))
            })
            .collect();
        if !conflicts.is_empty() {
            return Err(EngineError::Config(Diagnostics(conflicts)));
        }
        Ok(engine)
    }

    pub fn resource_impl(&self, type_name: &str) -> Result<&Arc<dyn Resource>, EngineError> {
        self.registry
            .resource(type_name)
            .ok_or_else(|| EngineError::other(format!("resource type `{type_name}` is not supported by this build")))
    }

    fn data_impl(&self, type_name: &str) -> Result<&Arc<dyn DataSource>, EngineError> {
        self.registry
            .data_source(type_name)
            .ok_or_else(|| EngineError::other(format!("data source `{type_name}` is not supported by this build")))
    }

    /// The block with key `vpc.main` / `data.x.y`.
    pub fn block(&self, key: &str) -> Option<&Block> {
        self.block_index.get(key).map(|&i| &self.config.blocks[i])
    }

    /// Blocks a node references directly or through locals (locals are transparent here).
    pub fn block_deps(&self, key: &str) -> Vec<String> {
        let mut out = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut stack = self.graph.dependencies(key);
        while let Some(d) = stack.pop() {
            if !seen.insert(d.clone()) {
                continue;
            }
            if d.starts_with("local.") {
                stack.extend(self.graph.dependencies(&d));
            } else {
                out.insert(d);
            }
        }
        out.into_iter().collect()
    }

    /// Locals a node needs, directly or through other locals, in evaluation order.
    fn local_deps(&self, key: &str) -> Vec<String> {
        let mut needed = BTreeSet::new();
        let mut stack = self.graph.dependencies(key);
        while let Some(d) = stack.pop() {
            if d.starts_with("local.") && needed.insert(d.clone()) {
                stack.extend(self.graph.dependencies(&d));
            }
        }
        self.graph.order.iter().filter(|k| needed.contains(*k)).cloned().collect()
    }

    fn has_for_each(&self, block_key: &str) -> bool {
        self.block(block_key).is_some_and(|b| b.for_each.is_some())
    }

    /// Resource values for everything `key` references (directly or through locals).
    fn resource_scope(&self, key: &str, values: &Values) -> BTreeMap<String, Value> {
        let mut deps: BTreeSet<String> = self.block_deps(key).into_iter().collect();
        for l in self.local_deps(key) {
            deps.extend(self.block_deps(&l));
        }
        deps.into_iter()
            .filter(|d| !d.starts_with("local.") && !d.starts_with("output."))
            .map(|d| {
                let v = values.block_value(&d, self.has_for_each(&d));
                (d, v)
            })
            .collect()
    }

    /// Evaluates the locals `key` needs against `resources`.
    fn eval_locals(
        &self,
        key: &str,
        resources: &BTreeMap<String, Value>,
    ) -> Result<BTreeMap<String, Value>, EngineError> {
        let mut locals = BTreeMap::new();
        for l in self.local_deps(key) {
            let name = l.trim_start_matches("local.");
            let node = &self.config.locals[name];
            let v = {
                let scope =
                    Scope { vars: &self.vars, locals: &locals, resources, each: None, workspace: &self.workspace };
                lang::eval(node, &scope)?
            };
            locals.insert(name.to_owned(), v);
        }
        Ok(locals)
    }

    /// The instances of a block with their evaluated configuration (`each` applied), given current values.
    pub fn eval_block(&self, block: &Block, values: &Values) -> Result<Vec<Instance>, EngineError> {
        let key = block.key();
        let resources = self.resource_scope(&key, values);
        let locals = self.eval_locals(&key, &resources)?;
        let schema = self
            .registry
            .schema(block.mode == lang::Mode::Data, &block.type_name)
            .ok_or_else(|| EngineError::other(format!("unknown type `{}`", block.type_name)))?;
        let scope =
            Scope { vars: &self.vars, locals: &locals, resources: &resources, each: None, workspace: &self.workspace };
        let expanded = lang::expand_for_each(block, &scope)?;
        let mut out = Vec::new();
        let items: Vec<(Option<String>, Value)> = match expanded {
            None => vec![(None, Value::Null)],
            Some(list) => list.into_iter().map(|(k, v)| (Some(k), v)).collect(),
        };
        for (k, each_value) in items {
            let key_value = k.clone().map(Value::String).unwrap_or(Value::Null);
            let scope = Scope {
                vars: &self.vars,
                locals: &locals,
                resources: &resources,
                each: k.as_ref().map(|_| (&key_value, &each_value)),
                workspace: &self.workspace,
            };
            let cfg = lang::eval_attrs(block, schema, &scope)?;
            let address = lang::instance_address(block.mode, &block.type_name, &block.name, k.as_deref());
            out.push(Instance { key: k, address, cfg });
        }
        Ok(out)
    }

    /// The instance keys a block produces, evaluated against the state's values: `None` for a block
    /// without `for_each`; `Some(None)` when `for_each` depends on values not known before apply.
    pub fn instance_keys(
        &self,
        block: &Block,
        prior: Option<&Snapshot>,
    ) -> Result<Option<Option<BTreeSet<String>>>, EngineError> {
        if block.for_each.is_none() {
            return Ok(None);
        }
        let mut values = Values::default();
        for (addr, (rec, attrs)) in self.unrefreshed(prior).records {
            values.set(&block_of(&addr), instance_key(&rec.address), &addr, attrs.unwrap_or_default());
        }
        match self.eval_block(block, &values) {
            Ok(instances) => Ok(Some(Some(instances.into_iter().filter_map(|i| i.key).collect()))),
            Err(EngineError::Config(_)) => Ok(Some(None)),
            Err(e) => Err(e),
        }
    }

    /// Evaluates an output against current values.
    pub fn eval_output(&self, decl: &lang::OutputDecl, values: &Values) -> Result<Value, EngineError> {
        let key = format!("output.{}", decl.name);
        let resources = self.resource_scope(&key, values);
        let locals = self.eval_locals(&key, &resources)?;
        let scope =
            Scope { vars: &self.vars, locals: &locals, resources: &resources, each: None, workspace: &self.workspace };
        Ok(lang::eval(&decl.value, &scope)?)
    }

    /// Addresses of the instances `block` depends on (its references and depends_on).
    fn instance_deps(&self, block_key: &str, values: &Values) -> Vec<String> {
        let mut out: Vec<String> = self
            .block_deps(block_key)
            .iter()
            .flat_map(|d| values.instances.get(d).into_iter().flatten().map(|(_, a)| a.clone()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The addresses among `present` (addresses held in state) of the instances block `block_key` depends
    /// on in the configuration: every instance of each block it refers to, since which ones an expression
    /// picks is not known without evaluating it. This orders the deletes of objects whose recorded
    /// dependencies are missing or older than the configuration (an import records none).
    pub fn state_deps<'a>(&self, block_key: &str, present: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        if self.block(block_key).is_none() {
            return vec![];
        }
        let blocks: BTreeSet<String> = self.block_deps(block_key).into_iter().collect();
        present.into_iter().filter(|a| blocks.contains(&block_of(a))).cloned().collect()
    }

    /// Reads every managed resource in `prior` from AWS and reports drift. One read per type serves two
    /// purposes: a filter on the stack's tags returns the tracked objects and the untracked ones together
    /// (plus a by-id read of tracked objects the filter missed), and all types — and the data sources that
    /// depend on no resource — are read at once. Objects the state does not hold are sorted into leftovers
    /// (this state's lineage: the plan adopts or deletes them), other states' objects and objects made
    /// before lineages (reported only); other workspaces' objects and released ones are never looked at.
    pub async fn refresh(
        &self,
        cx: &Ctx,
        prior: Option<&Snapshot>,
        find_untracked: bool,
    ) -> Result<Refreshed, EngineError> {
        let mut ids_by_type: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Some(s) = prior {
            for r in s.resources.iter().filter(|r| r.mode == Mode::Managed) {
                ids_by_type.entry(r.type_name.clone()).or_default().push(r.id.clone());
            }
        }
        if find_untracked {
            for b in self.config.blocks.iter().filter(|b| b.mode == lang::Mode::Managed) {
                ids_by_type.entry(b.type_name.clone()).or_default();
            }
        }
        let reads = ids_by_type.iter().map(|(t, ids)| async move {
            let imp = self.resource_impl(t)?;
            let found = if find_untracked { imp.read_stack(cx, ids).await } else { imp.read(cx, ids).await };
            let found = found.map_err(|error| EngineError::Provider { address: format!("refresh of {t}"), error })?;
            Ok::<_, EngineError>((t.clone(), found))
        });
        let (read_results, data) =
            futures::future::join(futures::future::try_join_all(reads), self.prefetch_data(cx)).await;
        cx.forget_shared();
        let read_results: HashMap<String, HashMap<String, Attrs>> = read_results?.into_iter().collect();

        let lineage = prior.map(|s| s.lineage.to_string());
        let mut records = BTreeMap::new();
        let mut drift = Vec::new();
        let mut retag = BTreeMap::new();
        if let Some(s) = prior {
            for r in &s.resources {
                if r.mode == Mode::Data {
                    records.insert(r.address.clone(), (r.clone(), Some(attrs_from_json(&r.attributes))));
                    continue;
                }
                let imp = self.resource_impl(&r.type_name)?;
                let prior_attrs = canonical(imp.as_ref(), &attrs_from_json(&r.attributes));
                let raw_now = read_results.get(&r.type_name).and_then(|m| m.get(&r.id));
                if let Some(raw) = raw_now.filter(|_| imp.schema().taggable && !r.address.ends_with(" (deposed)")) {
                    let now = tool_tags(raw);
                    let want = ToolTags::new(&self.config.stack_name, &self.workspace, lineage.as_deref())
                        .for_address(&r.address);
                    if now != want {
                        retag.insert(r.address.clone(), now);
                    }
                }
                let now = raw_now.map(|raw| {
                    let user_keys = tag_keys(&prior_attrs);
                    let mut now =
                        absorb(imp.as_ref(), raw.clone(), &prior_attrs, &user_keys, &self.config.default_tags);
                    // What state holds is what was configured: an equivalent spelling AWS reports (a minor
                    // engine upgrade under a configured major version) is no drift.
                    imp.reconcile(&prior_attrs, &mut now);
                    now
                });
                match &now {
                    None => drift.push(Drift { address: r.address.clone(), changed: None }),
                    Some(now) => {
                        let changed = changed_attrs(imp.schema(), &prior_attrs, now);
                        if !changed.is_empty() {
                            drift.push(Drift {
                                address: r.address.clone(),
                                changed: Some(
                                    changed
                                        .into_iter()
                                        .map(|name| DriftAttr {
                                            before: prior_attrs
                                                .get(&name)
                                                .map(Value::to_json_lossy)
                                                .unwrap_or_default(),
                                            after: now.get(&name).map(Value::to_json_lossy).unwrap_or_default(),
                                            name,
                                        })
                                        .collect(),
                                ),
                            });
                        }
                    }
                }
                records.insert(r.address.clone(), (r.clone(), now));
            }
        }

        // Everything else the reads returned.
        let held: BTreeSet<(&str, &str)> = prior
            .map(|s| {
                s.resources
                    .iter()
                    .map(|r| (r.type_name.as_str(), r.id.as_str()))
                    .chain(s.released.iter().map(|r| (r.type_name.as_str(), r.id.as_str())))
                    .collect()
            })
            .unwrap_or_default();
        let mut untracked = Vec::new();
        let mut leftovers = Vec::new();
        for (t, found) in &read_results {
            for (id, raw) in found {
                if held.contains(&(t.as_str(), id.as_str())) {
                    continue;
                }
                let tags = tool_tags(raw);
                if !cx.in_workspace(&tags) {
                    continue;
                }
                let address = tags.get(TAG_ADDRESS).cloned();
                match tags.get(TAG_LINEAGE) {
                    Some(l) if Some(l) == lineage.as_ref() => {
                        leftovers.push(Leftover { type_name: t.clone(), id: id.clone(), address, raw: raw.clone() })
                    }
                    other => untracked.push(Untracked {
                        type_name: t.clone(),
                        id: id.clone(),
                        address,
                        lineage: other.cloned(),
                    }),
                }
            }
        }
        untracked.sort_by(|a, b| (&a.type_name, &a.id).cmp(&(&b.type_name, &b.id)));
        leftovers.sort_by(|a, b| (&a.type_name, &a.id).cmp(&(&b.type_name, &b.id)));
        Ok(Refreshed { records, drift, untracked, retag, leftovers, data: data? })
    }

    /// Reads, concurrently, the data sources whose instances can be evaluated before any resource is known
    /// (they reference only variables and locals), so a plan makes every read at once. Others are read
    /// during the plan walk. Returns address → (normalised arguments, result).
    async fn prefetch_data(&self, cx: &Ctx) -> Result<HashMap<String, (Attrs, Attrs)>, EngineError> {
        let mut todo = Vec::new();
        for b in self.config.blocks.iter().filter(|b| b.mode == lang::Mode::Data) {
            if !self.block_deps(&b.key()).is_empty() {
                continue;
            }
            let (Ok(imp), Ok(instances)) = (self.data_impl(&b.type_name), self.eval_block(b, &Values::default()))
            else {
                continue;
            };
            for inst in instances {
                let args = imp.schema().normalize(&inst.cfg);
                if args.values().all(Value::is_known) {
                    todo.push((imp.clone(), inst.address, args));
                }
            }
        }
        let reads = todo.into_iter().map(|(imp, address, args)| async move {
            let res =
                imp.read(cx, &args).await.map_err(|error| EngineError::Provider { address: address.clone(), error })?;
            Ok::<_, EngineError>((address, (args, res)))
        });
        Ok(futures::future::try_join_all(reads).await?.into_iter().collect())
    }

    /// Records as they stand without asking AWS (`--refresh=false`).
    pub fn unrefreshed(&self, prior: Option<&Snapshot>) -> Refreshed {
        let records = prior
            .map(|s| {
                s.resources
                    .iter()
                    .map(|r| {
                        let attrs = attrs_from_json(&r.attributes);
                        let attrs = match self.registry.resource(&r.type_name) {
                            Some(imp) if r.mode == Mode::Managed => canonical(imp.as_ref(), &attrs),
                            _ => attrs,
                        };
                        (r.address.clone(), (r.clone(), Some(attrs)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Refreshed {
            records,
            drift: Vec::new(),
            untracked: Vec::new(),
            retag: BTreeMap::new(),
            leftovers: Vec::new(),
            data: HashMap::new(),
        }
    }

    /// Makes the plan: walks the graph in order, evaluating each block against planned values of its
    /// dependencies, and diffs each instance against its refreshed state.
    pub async fn plan(
        &self,
        cx: &Ctx,
        prior: Option<&Snapshot>,
        refreshed: Refreshed,
        opts: &PlanOptions,
    ) -> Result<Plan, EngineError> {
        let targeted = self.targeted_blocks(&opts.targets)?;
        let mut values = Values::default();
        let mut changes: Vec<Change> = Vec::new();
        let mut in_config: BTreeSet<String> = BTreeSet::new();
        // Per instance, attributes the configuration does not manage (optional+computed ones it leaves
        // out, ignore_changes): changes to those outside the tool are not drift worth reporting.
        let mut unmanaged: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut diags = Vec::new();
        // Leftovers by (type, tagged address): the plan adopts one where it would create that instance.
        let mut adoptable: HashMap<(String, String), &Leftover> = HashMap::new();
        for l in &refreshed.leftovers {
            if let Some(a) = &l.address {
                adoptable.entry((l.type_name.clone(), a.clone())).or_insert(l);
            }
        }
        // Creates of types that cannot be tagged, looked up by natural key after the walk.
        let mut by_natural_key: Vec<NaturalKeyCreate<'_>> = Vec::new();

        if !opts.destroy {
            for key in &self.graph.order {
                let Some(block) = self.block(key) else { continue };
                let in_target = targeted.as_ref().is_none_or(|t| t.contains(key));
                if !in_target {
                    // Untargeted: keep what state has, so targeted dependents can evaluate.
                    for (addr, (rec, attrs)) in
                        refreshed.records.iter().filter(|(_, (r, _))| block_of(&r.address) == *key)
                    {
                        in_config.insert(addr.clone());
                        values.set(key, instance_key(&rec.address), addr, attrs.clone().unwrap_or_default());
                    }
                    continue;
                }
                let instances = match self.eval_block(block, &values) {
                    Ok(i) => i,
                    Err(EngineError::Config(d)) => {
                        diags.extend(d.0);
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let deps = self.instance_deps(key, &values);
                for inst in instances {
                    in_config.insert(inst.address.clone());
                    if let Some(schema) = self.registry.schema(block.mode == lang::Mode::Data, &block.type_name) {
                        let set: BTreeSet<String> = schema
                            .attributes
                            .iter()
                            .filter(|a| a.presence == Presence::OptionalComputed && !inst.cfg.contains_key(a.name))
                            .map(|a| a.name.to_owned())
                            .chain(block.lifecycle.ignore_changes.iter().cloned())
                            .collect();
                        unmanaged.insert(inst.address.clone(), set);
                    }
                    let prior_entry = refreshed.records.get(&inst.address);
                    let change = match block.mode {
                        lang::Mode::Data => {
                            let pre = refreshed.data.get(&inst.address);
                            self.plan_data(cx, block, &inst, prior_entry, deps.clone(), pre).await?
                        }
                        lang::Mode::Managed => {
                            let live = prior_entry.is_some_and(|(_, a)| a.is_some());
                            let leftover = if live {
                                None
                            } else {
                                adoptable.remove(&(block.type_name.clone(), inst.address.clone()))
                            };
                            let mut c = match leftover {
                                Some(l) => self.plan_adopt(block, &inst, l, deps.clone(), opts)?,
                                None => self.plan_managed(block, &inst, prior_entry, deps.clone(), opts)?,
                            };
                            self.validate_related(block, &inst, &deps, &values)?;
                            if let Some(now) = refreshed.retag.get(&inst.address) {
                                if matches!(c.action, Action::NoOp | Action::Update) {
                                    c.action = Action::Update;
                                    let want = ToolTags::new(
                                        &self.config.stack_name,
                                        &self.workspace,
                                        prior.map(|p| p.lineage.to_string()).as_deref(),
                                    )
                                    .for_address(&inst.address);
                                    c.reason.get_or_insert_with(|| retag_reason(now, &want));
                                    c.retag = Some(now.clone());
                                }
                            }
                            // Natural-key lookups: types that cannot be tagged, and tagged types whose tag search
                            // cannot see every leftover (their `find_existing`; the default finds nothing and
                            // makes no call).
                            if c.action == Action::Create {
                                by_natural_key.push((changes.len(), block, inst.cfg.clone(), inst.key.clone()));
                            }
                            c
                        }
                    };
                    let after = change.after.clone().unwrap_or_default();
                    values.set(key, inst.key.clone(), &inst.address, after);
                    changes.push(change);
                }
            }
        }
        if !diags.is_empty() {
            return Err(EngineError::Config(Diagnostics(diags)));
        }
        self.adopt_by_natural_key(cx, prior, &mut changes, by_natural_key, opts).await?;

        // Leftovers not adopted are duplicates, or their address is gone: delete them (a destroy removes
        // everything this state owns). Not with --target: they are outside any target.
        let adopted: BTreeSet<&str> = changes.iter().filter_map(|c| c.leftover.as_deref()).collect();
        let mut leftover_deletes = Vec::new();
        if opts.targets.is_empty() {
            for l in refreshed.leftovers.iter().filter(|l| !adopted.contains(l.id.as_str())) {
                let imp = self.resource_impl(&l.type_name)?;
                let attrs =
                    absorb(imp.as_ref(), l.raw.clone(), &Attrs::new(), &BTreeSet::new(), &self.config.default_tags);
                let tagged = l.address.clone().unwrap_or_else(|| l.type_name.clone());
                let reason = match refreshed.records.get(&tagged) {
                    Some((rec, Some(_))) => {
                        format!("a duplicate of {tagged} ({}), found by its tags (left by an interrupted run)", rec.id)
                    }
                    _ if in_config.contains(&tagged) && !opts.destroy => {
                        format!("a duplicate of {tagged}, found by its tags (left by an interrupted run)")
                    }
                    _ if opts.destroy => "destroy requested; found by its tags (left by an interrupted run)".to_owned(),
                    _ => format!(
                        "{tagged} is no longer in the configuration; found by its tags (left by an interrupted run)"
                    ),
                };
                leftover_deletes.push(Change {
                    address: format!("{tagged} (leftover {})", l.id),
                    mode: Mode::Managed,
                    type_name: l.type_name.clone(),
                    block: block_of(&tagged),
                    key: None,
                    action: Action::Delete,
                    before: Some(attrs),
                    after: None,
                    forces: vec![],
                    create_before_destroy: false,
                    reason: Some(reason),
                    dependencies: vec![],
                    sensitive: self.sensitive_attrs(Mode::Managed, &l.type_name, &block_of(&tagged)),
                    retag: None,
                    leftover: Some(l.id.clone()),
                    prevent_destroy: None,
                });
            }
        }
        changes.extend(leftover_deletes);

        // A targeted destroy takes the targets and whatever depends on them, never their dependencies.
        let destroy_targeted =
            (opts.destroy && !opts.targets.is_empty()).then(|| self.destroy_set(&opts.targets, &refreshed));
        // Everything in state that the configuration no longer produces (or all of it, for destroy).
        for (addr, (rec, attrs)) in &refreshed.records {
            if in_config.contains(addr) {
                continue;
            }
            let block_key = block_of(addr);
            if let Some(t) = &destroy_targeted {
                if !t.contains(addr) {
                    continue;
                }
            } else if let Some(t) = &targeted {
                if !t.contains(&block_key) && !opts.targets.iter().any(|x| x == addr) {
                    continue;
                }
            }
            // An object already deleted outside is only forgotten: nothing to protect.
            if rec.mode == Mode::Managed && attrs.is_some() {
                self.check_destroy_allowed(
                    addr,
                    self.block(&block_key),
                    Some(rec),
                    attrs.as_ref(),
                    &rec.type_name,
                    opts,
                )?;
            }
            let reason = if opts.destroy { "destroy requested" } else { "no longer in configuration" };
            let gone = attrs.is_none();
            // The configuration's references add to the recorded ones, except where the other object records
            // the opposite (a reference turned around since the last apply): that would be a cycle.
            let mut dependencies = rec.dependencies.clone();
            dependencies.extend(
                self.state_deps(&block_key, refreshed.records.keys())
                    .into_iter()
                    .filter(|d| !refreshed.records.get(d).is_some_and(|(r, _)| r.dependencies.contains(addr))),
            );
            dependencies.sort();
            dependencies.dedup();
            changes.push(Change {
                address: addr.clone(),
                mode: rec.mode,
                type_name: rec.type_name.clone(),
                block: block_key.clone(),
                key: instance_key(addr),
                action: Action::Delete,
                before: attrs.clone(),
                after: None,
                forces: vec![],
                create_before_destroy: false,
                reason: Some(if gone { "already deleted outside provisioner".into() } else { reason.into() }),
                dependencies,
                sensitive: self.sensitive_attrs(rec.mode, &rec.type_name, &block_key),
                retag: None,
                leftover: None,
                prevent_destroy: None,
            });
        }
        changes.sort_by(|a, b| (a.mode, &a.address).cmp(&(b.mode, &b.address)));

        // Outputs.
        let mut outputs = BTreeMap::new();
        let prior_outputs = prior.map(|s| s.outputs.clone()).unwrap_or_default();
        if !opts.destroy {
            for (name, out) in &self.config.outputs {
                let after = self.eval_output(out, &values)?;
                outputs.insert(
                    name.clone(),
                    OutputChange {
                        before: prior_outputs.get(name).map(|o| o.value.clone()),
                        after,
                        sensitive: self.output_sensitive(out),
                    },
                );
            }
        }
        for (name, o) in &prior_outputs {
            if !outputs.contains_key(name) {
                outputs.insert(
                    name.clone(),
                    OutputChange { before: Some(o.value.clone()), after: Value::Null, sensitive: o.sensitive },
                );
            }
        }

        let drift = refreshed
            .drift
            .into_iter()
            .filter(|d| !opts.destroy || d.changed.is_none())
            .filter_map(|mut d| {
                if let (Some(attrs), Some(skip)) = (&mut d.changed, unmanaged.get(&d.address)) {
                    attrs.retain(|a| !skip.contains(&a.name));
                    if attrs.is_empty() {
                        return None;
                    }
                }
                Some(d)
            })
            .collect();
        let release = prior
            .map(|s| {
                s.released
                    .iter()
                    .map(|r| Release { type_name: r.type_name.clone(), id: r.id.clone(), address: r.address.clone() })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Plan {
            format_version: PLAN_FORMAT_VERSION,
            stack: self.config.stack_name.clone(),
            workspace: self.workspace.clone(),
            lineage: prior.map(|s| s.lineage),
            release,
            destroy: opts.destroy,
            state: prior.map(Snapshot::key),
            config_hash: self.config.hash.clone(),
            variables: self.plan_variables(),
            targets: opts.targets.clone(),
            changes,
            outputs,
            drift,
            untracked: refreshed.untracked,
        })
    }

    fn targeted_blocks(&self, targets: &[String]) -> Result<Option<BTreeSet<String>>, EngineError> {
        if targets.is_empty() {
            return Ok(None);
        }
        let mut keys = Vec::new();
        for t in targets {
            let (mode, ty, name, _) = lang::parse_address(t).map_err(|e| {
                EngineError::with_hint(format!("invalid --target `{t}`: {e}"), "e.g. --target vpc.main")
            })?;
            keys.push(lang::instance_address(mode, &ty, &name, None));
        }
        Ok(Some(self.graph.with_dependencies(keys.iter().map(String::as_str))))
    }

    /// Where `block` adds to an attribute another block also sets inline (see [`Resource::claims`]): the two
    /// would undo each other on every apply, so loading the stack fails with both places named.
    fn claim_conflicts(&self, block: &Block, claims: Vec<crate::resource::Claim>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for claim in claims {
            let Some(node) = block.attrs.get(claim.via) else { continue };
            for (r, loc) in node.references() {
                let Ref::Resource { mode: lang::Mode::Managed, type_name, name } = &r else { continue };
                if type_name != claim.type_name {
                    continue;
                }
                let Some(other) = self.block(&r.key()) else { continue };
                let Some(inline) = other.attrs.get(&claim.attribute) else { continue };
                out.push(
                    Diagnostic::at(
                        format!(
                            "{} adds to `{}` of {type_name}.{name}, which sets `{}` inline (at {}); an inline list is \
                             exclusive, so the two would undo each other on every apply",
                            block.key(),
                            claim.attribute,
                            claim.attribute,
                            inline.loc().position()
                        ),
                        &loc,
                    )
                    .with_help(format!(
                        "move {type_name}.{name}'s inline `{}` rules into {} blocks, or this one into its inline list",
                        claim.attribute, block.type_name
                    )),
                );
            }
        }
        out
    }

    /// Addresses in state that a `destroy --target` removes: each target (an instance, or every instance of
    /// a block) and, transitively, every object depending on one, by the state's recorded dependencies or
    /// by the configuration's references.
    /// The targets were validated by `targeted_blocks` at the start of `plan`.
    fn destroy_set(&self, targets: &[String], refreshed: &Refreshed) -> BTreeSet<String> {
        let mut set: BTreeSet<String> = BTreeSet::new();
        let mut blocks: BTreeSet<String> = BTreeSet::new();
        for t in targets {
            if t.contains('[') {
                set.insert(t.clone());
            } else {
                blocks.insert(t.clone());
            }
        }
        blocks = self.graph.with_dependents(blocks.iter().map(String::as_str)).into_iter().chain(blocks).collect();
        loop {
            let before = set.len();
            for (addr, (rec, _)) in &refreshed.records {
                let hit = blocks.contains(&block_of(addr))
                    || rec.dependencies.iter().any(|d| set.contains(d) || blocks.contains(&block_of(d)));
                if hit {
                    set.insert(addr.clone());
                }
            }
            if set.len() == before {
                break;
            }
        }
        set.retain(|a| refreshed.records.contains_key(a));
        set
    }

    /// [`Resource::validate`] on an instance whose configuration is fully known, as a located error.
    fn validate_instance(&self, imp: &dyn Resource, block: &Block, inst: &Instance) -> Result<(), EngineError> {
        if !inst.cfg.values().all(Value::is_known) {
            return Ok(());
        }
        imp.validate(&inst.cfg).map_err(|message| {
            let d = Diagnostic::at(format!("{}: {message}", inst.address), &block.loc)
                .with_help("fix the configuration; nothing was sent to AWS");
            EngineError::Config(Diagnostics(vec![d]))
        })
    }

    /// [`Resource::validate_related`] against the planned attributes of the instances `inst` depends on.
    fn validate_related(
        &self,
        block: &Block,
        inst: &Instance,
        deps: &[String],
        values: &Values,
    ) -> Result<(), EngineError> {
        let imp = self.resource_impl(&block.type_name)?;
        let related: Vec<(&str, &Attrs)> =
            deps.iter().filter_map(|d| values.attrs.get(d).map(|a| (d.as_str(), a))).collect();
        imp.validate_related(&inst.cfg, &related).map_err(|message| {
            let d = Diagnostic::at(format!("{}: {message}", inst.address), &block.loc)
                .with_help("fix the configuration; nothing was sent to AWS");
            EngineError::Config(Diagnostics(vec![d]))
        })
    }

    /// The rules of [`Resource::validate`] for every instance whose configuration is known without any AWS
    /// value (literals, variables, locals), before refresh: a mistake there fails before any AWS call. The
    /// instances that depend on resources are checked by `plan`, once their values are known.
    pub fn prevalidate(&self) -> Result<(), EngineError> {
        let values = Values::default();
        for block in self.config.blocks.iter().filter(|b| b.mode == lang::Mode::Managed) {
            // Only blocks that need no resource or data source, directly or through locals.
            let key = block.key();
            if self.graph.with_dependencies([key.as_str()]).iter().any(|d| *d != key && self.block(d).is_some()) {
                continue;
            }
            let Ok(instances) = self.eval_block(block, &values) else { continue };
            let imp = self.resource_impl(&block.type_name)?;
            for inst in &instances {
                self.validate_instance(imp.as_ref(), block, inst)?;
            }
        }
        Ok(())
    }

    /// Attributes of an instance of `block_key` shown as `(sensitive value)`: sensitive in the schema, or
    /// computed from a sensitive variable.
    fn sensitive_attrs(&self, mode: Mode, type_name: &str, block_key: &str) -> Vec<String> {
        let mut out: BTreeSet<String> = self
            .registry
            .schema(mode == Mode::Data, type_name)
            .map(|s| s.attributes.iter().filter(|a| a.sensitive).map(|a| a.name.to_owned()).collect())
            .unwrap_or_default();
        out.extend(self.taint.attrs.get(block_key).into_iter().flatten().cloned());
        if out.contains(TAGS) {
            // `tags_all` is `tags` merged with the default tags.
            out.insert(TAGS_ALL.to_owned());
        }
        out.into_iter().collect()
    }

    /// Whether an output is shown as `(sensitive value)`: declared so, or computed from a sensitive value.
    pub fn output_sensitive(&self, decl: &lang::OutputDecl) -> bool {
        decl.sensitive || self.taint.outputs.contains(&decl.name)
    }

    /// The variables a plan records, to refuse a saved plan made with other values: a sensitive variable
    /// only as a digest of its value, so plan files do not carry it.
    pub fn plan_variables(&self) -> BTreeMap<String, serde_json::Value> {
        self.vars
            .iter()
            .map(|(k, v)| {
                let json = v.to_json_lossy();
                let sensitive = self.config.variables.get(k).is_some_and(|d| d.sensitive);
                let recorded = if sensitive {
                    use sha2::Digest;
                    let digest = sha2::Sha256::digest(format!("provisioner sensitive variable {k}={json}").as_bytes());
                    serde_json::json!({ "sensitive_sha256": hex::encode(digest) })
                } else {
                    json
                };
                (k.clone(), recorded)
            })
            .collect()
    }

    async fn plan_data(
        &self,
        cx: &Ctx,
        block: &Block,
        inst: &Instance,
        prior: Option<&(ResourceRecord, Option<Attrs>)>,
        deps: Vec<String>,
        prefetched: Option<&(Attrs, Attrs)>,
    ) -> Result<Change, EngineError> {
        let imp = self.data_impl(&block.type_name)?;
        let args = imp.schema().normalize(&inst.cfg);
        let known = args.values().all(Value::is_known);
        let after = if let Some((_, res)) = prefetched.filter(|(a, _)| *a == args) {
            res.clone()
        } else if known {
            imp.read(cx, &args).await.map_err(|error| EngineError::Provider { address: inst.address.clone(), error })?
        } else {
            unknown_computed(imp.schema(), args)
        };
        Ok(Change {
            address: inst.address.clone(),
            mode: Mode::Data,
            type_name: block.type_name.clone(),
            block: block.key(),
            key: inst.key.clone(),
            action: Action::Read,
            before: prior.and_then(|(_, a)| a.clone()),
            after: Some(after),
            forces: vec![],
            create_before_destroy: false,
            reason: (!known).then(|| "its arguments are known only after apply".to_owned()),
            dependencies: deps,
            sensitive: self.sensitive_attrs(Mode::Data, &block.type_name, &block.key()),
            retag: None,
            leftover: None,
            prevent_destroy: None,
        })
    }

    fn plan_managed(
        &self,
        block: &Block,
        inst: &Instance,
        prior: Option<&(ResourceRecord, Option<Attrs>)>,
        deps: Vec<String>,
        opts: &PlanOptions,
    ) -> Result<Change, EngineError> {
        let imp = self.resource_impl(&block.type_name)?;
        let schema = imp.schema();
        self.validate_instance(imp.as_ref(), block, inst)?;
        let desired = desired_attrs(imp.as_ref(), &inst.cfg, &self.config.default_tags);
        let configured_protection = self.prevent_destroy(block)?;
        let mut change = Change {
            address: inst.address.clone(),
            mode: Mode::Managed,
            type_name: block.type_name.clone(),
            block: block.key(),
            key: inst.key.clone(),
            action: Action::Create,
            before: None,
            after: None,
            forces: vec![],
            create_before_destroy: block.lifecycle.create_before_destroy,
            reason: None,
            dependencies: deps,
            sensitive: self.sensitive_attrs(Mode::Managed, &block.type_name, &block.key()),
            retag: None,
            leftover: None,
            prevent_destroy: None,
        };
        let (rec, Some(before)) = (match prior {
            Some((rec, attrs)) => (Some(rec), attrs.clone()),
            None => (None, None),
        }) else {
            if prior.is_some() {
                change.reason = Some("deleted outside provisioner".into());
            }
            let mut planned = planned_new(schema, &inst.cfg, desired);
            imp.plan_computed(&inst.cfg, &mut planned);
            change.after = Some(without_write_only(schema, planned));
            change.prevent_destroy = configured_protection.filter(|p| *p);
            return Ok(change);
        };
        let rec = rec.expect("record present with attrs");
        change.prevent_destroy = configured_protection.filter(|p| *p != rec.prevent_destroy);
        let mut before = before;
        imp.reconcile(&desired, &mut before);
        let mut after = before.clone();
        let mut changed = Vec::new();
        for a in &schema.attributes {
            let name = a.name;
            let ignored = block.lifecycle.ignore_changes.iter().any(|i| i == name);
            let set_by_config = inst.cfg.get(name).is_some_and(|v| !v.is_null());
            let managed = match a.presence {
                Presence::Computed => name == TAGS_ALL && schema.taggable,
                Presence::OptionalComputed => set_by_config,
                Presence::Optional | Presence::Required => true,
            };
            if !managed || ignored || a.write_only {
                continue;
            }
            let d = desired.get(name).cloned().unwrap_or(Value::Null);
            let p = before.get(name).cloned().unwrap_or(Value::Null);
            if !same(&d, &p) {
                changed.push(name.to_owned());
                after.insert(name.to_owned(), d);
            }
        }
        change.forces =
            changed.iter().filter(|n| schema.attribute(n).is_some_and(|a| a.forces_replacement)).cloned().collect();
        let replace_requested = opts.replace.iter().any(|r| r == &inst.address);
        change.before = Some(before.clone());
        if rec.tainted || replace_requested || !change.forces.is_empty() {
            self.check_destroy_allowed(&inst.address, Some(block), Some(rec), Some(&before), &block.type_name, opts)?;
            change.action = Action::Replace;
            change.reason = if rec.tainted {
                Some("tainted: a follow-up call failed after it was created".into())
            } else if replace_requested {
                Some("replacement requested with --replace".into())
            } else {
                None
            };
            let mut planned = planned_new(schema, &inst.cfg, desired);
            imp.plan_computed(&inst.cfg, &mut planned);
            let planned = without_write_only(schema, planned);
            match imp.replacement_order(&before, &planned) {
                ReplacementOrder::AsConfigured => {}
                ReplacementOrder::CreateFirst(why) => {
                    change.create_before_destroy = true;
                    change.reason.get_or_insert_with(|| format!("created before the old one is deleted: {why}"));
                }
                ReplacementOrder::Collides(message) => {
                    // Creating first collides with the old object; deleting first fails while something
                    // uses it. Refuse the plan in both cases rather than fail half-way through the apply.
                    let user = self
                        .graph
                        .with_dependents([block.key().as_str()])
                        .into_iter()
                        .find(|k| self.block(k).is_some_and(|b| b.mode == lang::Mode::Managed));
                    let why = match (&user, change.create_before_destroy) {
                        (_, true) => Some(
                            "lifecycle.create_before_destroy is set, so the new one would be created next to it"
                                .to_owned(),
                        ),
                        (Some(user), false) => {
                            Some(format!("{user} uses it, and AWS refuses to delete it while it is in use"))
                        }
                        (None, false) => None,
                    };
                    if let Some(why) = why {
                        let what = if change.forces.is_empty() {
                            String::new()
                        } else {
                            format!(" ({} changed)", change.forces.join(", "))
                        };
                        let d = Diagnostic::at(
                            format!("{} must be replaced{what}, but {message}", inst.address),
                            &block.loc,
                        )
                        .with_help(format!("{why}; nothing was sent to AWS"));
                        return Err(EngineError::Config(Diagnostics(vec![d])));
                    }
                }
            }
            change.after = Some(planned);
        } else {
            change.action = if changed.is_empty() { Action::NoOp } else { Action::Update };
            // The last apply changed it but did not see it settle: change it again (in place) unless it
            // has settled since.
            if let Some(why) = rec.incomplete.as_ref().filter(|_| !imp.settled(&before)) {
                change.action = Action::Update;
                change.reason = Some(format!("the last apply did not finish: {why}"));
            }
            change.after = Some(after);
        }
        Ok(change)
    }
}

/// A planned create of a type that cannot be tagged: (index of its change, block, configuration, key).
type NaturalKeyCreate<'a> = (usize, &'a Block, Attrs, Option<String>);

impl Engine {
    /// `lifecycle.prevent_destroy` of a block as configured, evaluated against the variables; `None` when
    /// the block does not set it.
    pub fn prevent_destroy(&self, block: &Block) -> Result<Option<bool>, EngineError> {
        let Some(node) = &block.lifecycle.prevent_destroy else { return Ok(None) };
        let none = BTreeMap::new();
        let scope = Scope { vars: &self.vars, locals: &none, resources: &none, each: None, workspace: &self.workspace };
        match lang::eval(node, &scope)? {
            Value::Bool(b) => Ok(Some(b)),
            Value::String(s) if s == "true" || s == "false" => Ok(Some(s == "true")),
            other => {
                let d = Diagnostic::at(
                    format!("`prevent_destroy` of {} must be true or false, not {}", block.key(), other),
                    node.loc(),
                )
                .with_help("give the variable it refers to a value of true or false");
                Err(EngineError::Config(Diagnostics(vec![d])))
            }
        }
    }

    /// Refuses, before any change, a plan that would destroy `address`: when `lifecycle.prevent_destroy`
    /// protects it — as configured, or, when the block no longer sets it (or is gone), as an earlier apply
    /// recorded it in state — unless `--allow-protected` names it; and when AWS itself would refuse
    /// ([`Resource::deletion_refused`], e.g. deletion protection).
    fn check_destroy_allowed(
        &self,
        address: &str,
        block: Option<&Block>,
        rec: Option<&ResourceRecord>,
        before: Option<&Attrs>,
        type_name: &str,
        opts: &PlanOptions,
    ) -> Result<(), EngineError> {
        let configured = match block {
            Some(b) => self.prevent_destroy(b)?,
            None => None,
        };
        let remembered = rec.is_some_and(|r| r.prevent_destroy);
        let allowed = opts.allow_protected.iter().any(|a| a == address || *a == block_of(address));
        if configured.unwrap_or(remembered) && !allowed {
            let message = match configured {
                Some(_) => format!("{address} has lifecycle.prevent_destroy set, but the plan would destroy it"),
                None => format!(
                    "{address} is protected: an earlier apply recorded lifecycle.prevent_destroy = true, and the plan would destroy it"
                ),
            };
            let help = match configured {
                Some(_) => format!(
                    "set `prevent_destroy = false` (or the variable that drives it) if you really mean to destroy it, \
                     or name it with `destroy --allow-protected {address}`; nothing was sent to AWS"
                ),
                None => format!(
                    "removing the setting does not lift the protection: apply once with `lifecycle = {{ prevent_destroy = false }}`, \
                     or name it with `destroy --allow-protected {address}`; nothing was sent to AWS"
                ),
            };
            return Err(match block {
                Some(b) => EngineError::Config(Diagnostics(vec![Diagnostic::at(message, &b.loc).with_help(help)])),
                None => EngineError::with_hint(message, help),
            });
        }
        if let (Some(before), Some(imp)) = (before, self.registry.resource(type_name)) {
            if let Some(refused) = imp.deletion_refused(before) {
                let message = format!("{address} cannot be destroyed: {}", refused.message);
                // Name the variables the blocking argument comes from, with the flag that turns it off.
                let vars: Vec<String> = refused
                    .attribute
                    .and_then(|a| block?.attrs.get(a))
                    .map(|n| {
                        n.references()
                            .into_iter()
                            .filter_map(|(r, _)| match r {
                                Ref::Var(v) => Some(v),
                                _ => None,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let via = match vars.as_slice() {
                    [] => String::new(),
                    vs => format!(
                        " (here it comes from {}: e.g. {})",
                        vs.iter().map(|v| format!("`var.{v}`")).collect::<Vec<_>>().join(", "),
                        vs.iter().map(|v| format!("`--var {v}=false`")).collect::<Vec<_>>().join(" ")
                    ),
                };
                let help = format!("{}{via}; nothing was sent to AWS", refused.hint);
                return Err(match block {
                    Some(b) => EngineError::Config(Diagnostics(vec![Diagnostic::at(message, &b.loc).with_help(help)])),
                    None => EngineError::with_hint(message, help),
                });
            }
        }
        Ok(())
    }

    /// Plans a leftover found by its tags at the address of an instance the plan would otherwise create:
    /// its attributes are the `before` of an update (or of a replacement, if a forcing argument differs).
    fn plan_adopt(
        &self,
        block: &Block,
        inst: &Instance,
        l: &Leftover,
        deps: Vec<String>,
        opts: &PlanOptions,
    ) -> Result<Change, EngineError> {
        let imp = self.resource_impl(&l.type_name)?;
        let user_keys = tag_keys(&inst.cfg);
        let attrs = absorb(imp.as_ref(), l.raw.clone(), &Attrs::new(), &user_keys, &self.config.default_tags);
        let rec = ResourceRecord::new(&inst.address, &l.type_name, &l.id);
        let mut c = self.plan_managed(block, inst, Some(&(rec, Some(attrs))), deps, opts)?;
        if c.action == Action::NoOp {
            c.action = Action::Update;
        }
        c.leftover = Some(l.id.clone());
        Ok(c)
    }

    /// For creates of types that cannot be tagged: the existing object with the same natural key (left by
    /// an interrupted run) that no state entry holds is adopted instead of created. One batched lookup per
    /// type, all types at once; only creates whose arguments are all known take part.
    async fn adopt_by_natural_key(
        &self,
        cx: &Ctx,
        prior: Option<&Snapshot>,
        changes: &mut [Change],
        todo: Vec<NaturalKeyCreate<'_>>,
        opts: &PlanOptions,
    ) -> Result<(), EngineError> {
        let mut by_type: BTreeMap<&str, Vec<NaturalKeyCreate<'_>>> = BTreeMap::new();
        for (i, block, cfg, key) in todo {
            let imp = self.resource_impl(&block.type_name)?;
            let desired = desired_attrs(imp.as_ref(), &cfg, &self.config.default_tags);
            if desired.values().all(Value::is_known) {
                by_type.entry(block.type_name.as_str()).or_default().push((i, block, cfg, key));
            }
        }
        let lookups = by_type.into_iter().map(|(t, items)| async move {
            let imp = self.resource_impl(t)?;
            let desired: Vec<Attrs> = items
                .iter()
                .map(|(_, _, cfg, _)| desired_attrs(imp.as_ref(), cfg, &self.config.default_tags))
                .collect();
            let found = imp
                .find_existing(cx, &desired)
                .await
                .map_err(|error| EngineError::Provider { address: format!("lookup of existing {t}"), error })?;
            Ok::<_, EngineError>(items.into_iter().zip(found).collect::<Vec<_>>())
        });
        let held: BTreeSet<(&str, &str)> = prior
            .map(|s| s.resources.iter().map(|r| (r.type_name.as_str(), r.id.as_str())).collect())
            .unwrap_or_default();
        for ((i, block, cfg, key), found) in futures::future::try_join_all(lookups).await?.into_iter().flatten() {
            let Some(raw) = found else { continue };
            let Some(id) = raw.get(crate::schema::ID).and_then(Value::as_str).map(str::to_owned) else { continue };
            if held.contains(&(block.type_name.as_str(), id.as_str())) {
                continue;
            }
            let c = &changes[i];
            let inst = Instance { key, address: c.address.clone(), cfg };
            let l = Leftover { type_name: block.type_name.clone(), id, address: Some(c.address.clone()), raw };
            let mut adopted = self.plan_adopt(block, &inst, &l, c.dependencies.clone(), opts)?;
            adopted.reason = Some("found by its natural key".into());
            changes[i] = adopted;
        }
        Ok(())
    }
}

/// Why an object's tool tags (`now`) are rewritten to `want`: tags missing (objects made before
/// workspaces), or naming another address, workspace or lineage.
fn retag_reason(now: &BTreeMap<String, String>, want: &BTreeMap<String, String>) -> String {
    let missing: Vec<&str> = want.keys().filter(|k| !now.contains_key(*k)).map(String::as_str).collect();
    let wrong: Vec<String> = want
        .iter()
        .filter_map(|(k, v)| now.get(k).filter(|n| *n != v).map(|n| format!("its {k} tag says `{n}`")))
        .collect();
    let mut parts = wrong;
    if !missing.is_empty() {
        parts.push(format!("add the {} tag{}", missing.join(" and "), if missing.len() == 1 { "" } else { "s" }));
    }
    if parts.is_empty() {
        parts.push("remove tool tags it should not carry".to_owned());
    }
    format!("re-tag: {}", parts.join("; "))
}

/// Planned attributes without the write-only arguments: they are sent at apply (re-evaluated there) but
/// never shown, saved in a plan file or stored.
fn without_write_only(schema: &crate::schema::Schema, mut attrs: Attrs) -> Attrs {
    attrs.retain(|k, _| !schema.attribute(k).is_some_and(|a| a.write_only));
    attrs
}

/// One evaluated instance of a block.
pub struct Instance {
    pub key: Option<String>,
    pub address: String,
    pub cfg: Attrs,
}

/// `subnet.public["a"]` → `subnet.public`; `data.x.y` stays.
pub fn block_of(address: &str) -> String {
    match address.find('[') {
        Some(i) => address[..i].to_owned(),
        None => address.to_owned(),
    }
}

/// `subnet.public["a"]` → `Some("a")`.
pub fn instance_key(address: &str) -> Option<String> {
    let i = address.find('[')?;
    let inner = address[i + 1..].strip_suffix(']')?;
    Some(serde_json::from_str::<String>(inner).unwrap_or_else(|_| inner.to_owned()))
}

/// Values equal for planning: null, empty string, empty list and empty map are all "not set".
pub fn same(a: &Value, b: &Value) -> bool {
    fn empty(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::List(l) => l.is_empty(),
            Value::Map(m) => m.is_empty(),
            _ => false,
        }
    }
    if !a.is_known() || !b.is_known() {
        return false;
    }
    a == b || (empty(a) && empty(b))
}

/// Names of the attributes a configuration can set (and `tags_all`) that differ between two canonical
/// attribute sets: the drift worth reporting. Purely computed attributes changing (an EIP getting an
/// association id because a NAT gateway now uses it) are not drift.
pub fn changed_attrs(schema: &Schema, before: &Attrs, after: &Attrs) -> Vec<String> {
    schema
        .attributes
        .iter()
        .filter(|a| a.settable() || a.name == TAGS_ALL)
        .filter(|a| {
            let b = before.get(a.name).cloned().unwrap_or(Value::Null);
            let n = after.get(a.name).cloned().unwrap_or(Value::Null);
            !same(&b, &n)
        })
        .map(|a| a.name.to_owned())
        .collect()
}

/// Canonical form used on both sides of every diff.
pub fn canonical(imp: &dyn Resource, attrs: &Attrs) -> Attrs {
    let mut out = imp.schema().normalize(attrs);
    imp.normalize(&mut out);
    out
}

fn tag_keys(attrs: &Attrs) -> BTreeSet<String> {
    attrs.get(TAGS).and_then(Value::as_map).map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

/// The desired attributes of a managed instance in canonical form, `tags_all` computed.
pub fn desired_attrs(imp: &dyn Resource, cfg: &Attrs, default_tags: &BTreeMap<String, String>) -> Attrs {
    let mut d = cfg.clone();
    if imp.schema().taggable {
        let tags = d.get(TAGS).cloned().filter(|v| !v.is_null()).unwrap_or(Value::Map(BTreeMap::new()));
        let all = match &tags {
            Value::Map(m) => {
                let mut all: BTreeMap<String, Value> =
                    default_tags.iter().map(|(k, v)| (k.clone(), Value::str(v))).collect();
                all.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
                Value::Map(all)
            }
            _ => Value::Unknown,
        };
        d.insert(TAGS.into(), tags);
        d.insert(TAGS_ALL.into(), all);
    }
    canonical(imp, &d)
}

/// Planned attributes of an instance about to be created: config values, computed ones unknown.
fn planned_new(schema: &Schema, cfg: &Attrs, desired: Attrs) -> Attrs {
    let mut after = desired;
    for a in &schema.attributes {
        let set = cfg.get(a.name).is_some_and(|v| !v.is_null());
        let engine_known = a.name == TAGS_ALL && after.contains_key(TAGS_ALL);
        if (a.presence == Presence::Computed && !engine_known) || (a.presence == Presence::OptionalComputed && !set) {
            after.insert(a.name.to_owned(), Value::Unknown);
        }
    }
    after
}

fn unknown_computed(schema: &Schema, mut args: Attrs) -> Attrs {
    for a in &schema.attributes {
        if a.presence == Presence::Computed || (a.presence == Presence::OptionalComputed && !args.contains_key(a.name))
        {
            args.insert(a.name.to_owned(), Value::Unknown);
        }
    }
    args
}

/// Turns what a resource's read/create/update returned into the attributes kept in state: only schema
/// attributes; ones AWS cannot report carried over from `fallback`; tags split into `tags`/`tags_all`
/// with the tool's tags removed; canonical form.
pub fn absorb(
    imp: &dyn Resource,
    raw: Attrs,
    fallback: &Attrs,
    user_tag_keys: &BTreeSet<String>,
    default_tags: &BTreeMap<String, String>,
) -> Attrs {
    let schema = imp.schema();
    let mut out = Attrs::new();
    for a in &schema.attributes {
        if a.name == TAGS_ALL || a.write_only {
            continue;
        }
        match raw.get(a.name) {
            Some(v) => {
                out.insert(a.name.to_owned(), v.clone());
            }
            None => {
                if let Some(v) = fallback.get(a.name) {
                    out.insert(a.name.to_owned(), v.clone());
                }
            }
        }
    }
    if schema.taggable {
        let mut all: BTreeMap<String, Value> = raw.get(TAGS).and_then(Value::as_map).cloned().unwrap_or_default();
        all.retain(|k, _| !k.starts_with(TOOL_TAG_PREFIX));
        let user: BTreeMap<String, Value> = all
            .iter()
            .filter(|(k, _)| !default_tags.contains_key(*k) || user_tag_keys.contains(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.insert(TAGS.into(), Value::Map(user));
        out.insert(TAGS_ALL.into(), Value::Map(all));
    }
    canonical(imp, &out)
}

/// The tool's own tags of a stack's objects: stack, workspace, the state's lineage (when it exists) and,
/// per object, its address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolTags {
    pub stack: String,
    pub workspace: String,
    pub lineage: Option<String>,
}

impl ToolTags {
    pub fn new(stack: &str, workspace: &str, lineage: Option<&str>) -> Self {
        ToolTags { stack: stack.to_owned(), workspace: workspace.to_owned(), lineage: lineage.map(str::to_owned) }
    }

    /// The tags an object at `address` carries.
    pub fn for_address(&self, address: &str) -> BTreeMap<String, String> {
        let mut m = BTreeMap::from([
            (TAG_STACK.to_owned(), self.stack.clone()),
            (TAG_WORKSPACE.to_owned(), self.workspace.clone()),
            (TAG_ADDRESS.to_owned(), address.to_owned()),
        ]);
        if let Some(l) = &self.lineage {
            m.insert(TAG_LINEAGE.to_owned(), l.clone());
        }
        m
    }
}

/// The tool's own tags (`provisioner:*`) among an object's raw `tags`.
pub fn tool_tags(raw: &Attrs) -> BTreeMap<String, String> {
    raw.get(TAGS)
        .and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.starts_with(TOOL_TAG_PREFIX))
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The full tag set to send to AWS: the given tool tags, then default tags, then the user's.
pub fn full_tags(desired: &Attrs, tool: &BTreeMap<String, String>) -> Value {
    let mut all: BTreeMap<String, Value> = desired.get(TAGS_ALL).and_then(Value::as_map).cloned().unwrap_or_default();
    all.retain(|k, _| !k.starts_with(TOOL_TAG_PREFIX));
    all.extend(tool.iter().map(|(k, v)| (k.clone(), Value::str(v))));
    Value::Map(all)
}

/// The attributes a resource call sees: `tags` is the full AWS tag set (tool, default and user tags).
pub fn with_full_tags(attrs: &Attrs, tool: &BTreeMap<String, String>) -> Attrs {
    let mut out = attrs.clone();
    if out.contains_key(TAGS_ALL) || out.contains_key(TAGS) {
        out.insert(TAGS.into(), full_tags(attrs, tool));
    }
    out
}

/// Whether a reference names a resource/data block (used by validation-independent helpers).
pub fn is_block_ref(r: &Ref) -> bool {
    matches!(r, Ref::Resource { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_into_block_and_key() {
        assert_eq!(block_of("subnet.public[\"a\"]"), "subnet.public");
        assert_eq!(instance_key("subnet.public[\"a\"]"), Some("a".into()));
        assert_eq!(instance_key("vpc.main"), None);
    }

    #[test]
    fn tool_tags_name_stack_workspace_lineage_and_address() {
        let t = ToolTags::new("web", "prod", Some("l-1")).for_address("vpc.main");
        assert_eq!(t.get(TAG_STACK).map(String::as_str), Some("web"));
        assert_eq!(t.get(TAG_WORKSPACE).map(String::as_str), Some("prod"));
        assert_eq!(t.get(TAG_LINEAGE).map(String::as_str), Some("l-1"));
        assert_eq!(t.get(TAG_ADDRESS).map(String::as_str), Some("vpc.main"));
        assert!(!ToolTags::new("web", "prod", None).for_address("vpc.main").contains_key(TAG_LINEAGE));
    }

    #[test]
    fn full_tags_replace_the_tool_tags_and_keep_the_users() {
        let mut attrs = Attrs::new();
        let all =
            BTreeMap::from([("Name".to_owned(), Value::str("x")), (TAG_ADDRESS.to_owned(), Value::str("vpc.old"))]);
        attrs.insert(TAGS_ALL.into(), Value::Map(all));
        let tool = ToolTags::new("web", "dev", Some("l")).for_address("vpc.main");
        let full = with_full_tags(&attrs, &tool);
        let tags = full[TAGS].as_map().unwrap();
        assert_eq!(tags["Name"], Value::str("x"));
        assert_eq!(tags[TAG_ADDRESS], Value::str("vpc.main"));
        assert_eq!(tags.len(), 5);
        let back: BTreeMap<String, String> = tool_tags(&full);
        assert_eq!(back, tool);
    }

    #[test]
    fn retag_reasons_say_what_is_off() {
        let want = ToolTags::new("web", "prod", Some("l")).for_address("subnet.c");
        let mut now = ToolTags::new("web", "prod", Some("l")).for_address("subnet.b");
        assert_eq!(retag_reason(&now, &want), "re-tag: its provisioner:address tag says `subnet.b`");
        let mut old = want.clone();
        old.remove(TAG_LINEAGE);
        old.remove(TAG_WORKSPACE);
        assert_eq!(retag_reason(&old, &want), "re-tag: add the provisioner:lineage and provisioner:workspace tags");
        now.insert(TAG_ADDRESS.into(), "subnet.c".into());
        now.insert(TAG_WORKSPACE.into(), "default".into());
        assert_eq!(retag_reason(&now, &want), "re-tag: its provisioner:workspace tag says `default`");
    }

    #[test]
    fn empty_values_are_the_same_and_unknown_never_is() {
        assert!(same(&Value::Null, &Value::List(vec![])));
        assert!(same(&Value::str(""), &Value::Null));
        assert!(!same(&Value::Unknown, &Value::Unknown));
        assert!(!same(&Value::str("a"), &Value::str("b")));
    }
}
