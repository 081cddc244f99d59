//! The one trait through which the engine sees AWS resources, and the registry of implementations.
//!
//! The engine never names a resource type: it looks a type up in the [`Registry`], validates and diffs with
//! its [`Schema`], and calls [`Resource`]'s batched `read`, `create`, `update` and `delete`. Adding a
//! resource type is one file under `resources/` plus one line in [`Registry::builtin`]. Waiting (a NAT
//! gateway becoming available, …) happens inside those calls, with bounded, logged polling.
//!
//! Conventions every implementation follows:
//! - attributes are keyed by the schema's names; `id` holds the provider id;
//! - `tags` in `desired`/`prior` is the *full* AWS tag set (the engine merges the user's tags, default tags
//!   and the tool's own `provisioner:*` tags before calling, and splits them again after reading);
//! - `create` calls [`Checkpoint::created`] right after the call that makes the object exist, before any
//!   follow-up call or wait, so a crash or failure later cannot lose it;
//! - `read` is batched: it returns only the instances that still exist.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;

use crate::aws::{Ctx, ProviderError};
use crate::schema::Schema;
use crate::value::Attrs;

/// Receives the attributes of an object as soon as AWS has created it.
#[async_trait]
pub trait Checkpoint: Send + Sync {
    /// Persists `attrs` (which must contain `id`) to state before returning.
    async fn created(&self, attrs: &Attrs);

    /// Begins the create call at this address and returns its generation number, persisted before this
    /// returns: the same number again when a previous run began a create here and died before recording
    /// it, a new one otherwise. With the stack, workspace, lineage and address it makes an idempotency
    /// token (ECS `clientToken`) that a retry after a crash reuses, so AWS never makes a second object.
    /// Default (checkpoints that persist nothing): 1.
    async fn attempt(&self) -> u64 {
        1
    }
}

/// Why AWS would refuse a delete ([`Resource::deletion_refused`]).
#[derive(Clone, Debug, PartialEq)]
pub struct DeletionRefused {
    /// What stops it: "DB instance x has deletion_protection enabled; AWS refuses to delete it".
    pub message: String,
    /// What to do: "set `deletion_protection = false`, apply, then destroy".
    pub hint: String,
    /// The argument that stops it, when one does: the engine names the variables it comes from.
    pub attribute: Option<&'static str>,
}

/// See [`Resource::replacement_order`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplacementOrder {
    /// As the block's `lifecycle.create_before_destroy` says (default: delete the old object first).
    AsConfigured,
    /// Create the new object first, move dependents onto it, then delete the old one: AWS refuses to delete
    /// the old one while others use it. The reason is shown in the plan.
    CreateFirst(&'static str),
    /// Creating first is needed (same reason) but impossible: the new object would collide with the old one
    /// (its name is fixed and unchanged). The message says how to fix the configuration; the engine refuses
    /// the plan when something in the configuration uses this object.
    Collides(String),
}

/// See [`Resource::claims`]: the configuration attribute `via` names (by reference) a `type_name` resource,
/// whose `attribute` this instance adds to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub via: &'static str,
    pub type_name: &'static str,
    pub attribute: String,
}

#[async_trait]
pub trait Resource: Send + Sync + 'static {
    fn schema(&self) -> &Schema;

    fn type_name(&self) -> &'static str {
        self.schema().type_name
    }

    /// Brings attributes into a canonical form before diffing, beyond what the schema does generically
    /// (e.g. security-group rules merged the way AWS merges them). Applied to both the desired attributes
    /// and what `read` returned, so an unchanged resource diffs empty. Default: nothing.
    fn normalize(&self, _attrs: &mut Attrs) {}

    /// Reads the given instances in as few calls as the API allows (filters, pagination — never an id
    /// list that fails as a whole when one id is gone). Absent from the result = deleted outside the tool.
    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError>;

    /// Creates the object, reports it through `checkpoint` as soon as it exists, then makes any follow-up
    /// calls and waits. Returns the final attributes (including computed ones and `id`).
    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError>;

    /// Changes `prior` (refreshed) into `desired` in place. Only attributes without `forces_replacement`
    /// differ. Returns the final attributes.
    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError>;

    /// Deletes the object and waits until AWS no longer reports it as in use (bounded).
    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError>;

    /// Checks the configuration of an instance beyond what the schema expresses (name rules, ranges, "a
    /// forward action needs a target group"), before any AWS call. The engine calls it at plan time on the
    /// evaluated configuration when every value of it is known, and reports a failure located at the block;
    /// implementations call it again at create/update, where everything is known. Default: nothing to check.
    fn validate(&self, _cfg: &Attrs) -> Result<(), String> {
        Ok(())
    }

    /// Whether an object whose last change did not settle (see [`ProviderError::applied`]) has settled
    /// since, judging from what `read` returned. When it has, the next plan no longer changes it for that
    /// reason. Default: yes (types that never report unsettled changes).
    fn settled(&self, _attrs: &Attrs) -> bool {
        true
    }

    /// Checks this instance's configuration against the planned attributes of the instances it depends on
    /// (`related`: address → attributes, unknowns included), at plan time, before any AWS call: a service's
    /// load-balancer container must exist in its task definition. Called even when `cfg` holds unknowns;
    /// an implementation checks only what is known on both sides. Default: nothing to check.
    fn validate_related(&self, _cfg: &Attrs, _related: &[(&str, &Attrs)]) -> Result<(), String> {
        Ok(())
    }

    /// Fills in, at plan time, what is already known of computed attributes of an instance about to be
    /// created (or replaced): `cfg` is the evaluated configuration (unknowns included), `planned` the planned
    /// attributes, where every computed attribute is `Unknown`. A type whose computed attribute has a shape
    /// that follows from the configuration puts that shape there, leaving unknown only what AWS decides:
    /// `acm_certificate.domain_validation_options` is a map whose keys are the configured domain names, so
    /// `for_each` over it plans before the certificate exists. What `create` returns must then agree with it.
    /// Default: nothing is known before apply.
    fn plan_computed(&self, _cfg: &Attrs, _planned: &mut Attrs) {}

    /// Lets a type keep a configured value where what AWS reports is equivalent to it but spelled
    /// differently, before the engine diffs: `actual` holds the attributes read (or returned by
    /// create/update), `cfg` the evaluated configuration. An RDS instance configured with
    /// `engine_version = "16"` that runs 16.4 keeps "16" (AWS's minor upgrades are no drift) and reports
    /// the running version in a computed attribute. The engine calls it at plan on refreshed attributes and
    /// at apply on what create/update return. Default: nothing is equivalent.
    fn reconcile(&self, _cfg: &Attrs, _actual: &mut Attrs) {}

    /// Why AWS would refuse to delete this object as it stands (`prior`: its attributes in state), e.g.
    /// an RDS instance with `deletion_protection = true`, which the engine turns into a plan-time error
    /// naming the instance, before any change is made. Default: nothing stops it.
    fn deletion_refused(&self, _prior: &Attrs) -> Option<DeletionRefused> {
        None
    }

    /// The order a replacement of `before` by `after` (planned attributes, unknowns included) must take,
    /// whatever the configuration's `lifecycle` says. Default: as configured.
    fn replacement_order(&self, _before: &Attrs, _after: &Attrs) -> ReplacementOrder {
        ReplacementOrder::AsConfigured
    }

    /// Attributes of *another* resource that this instance's configuration adds to, which that resource
    /// must then leave out of its own configuration (an exclusive inline list would undo this instance on
    /// every apply, and this instance would put it back). Checked statically by the engine at plan time.
    /// Default: none.
    fn claims(&self, _cfg: &Attrs) -> Vec<Claim> {
        Vec::new()
    }

    /// One read serving both refresh and the search for leftovers: every object of this type carrying the
    /// stack's tags (filtered by [`Ctx::stack_filters`]), plus the objects in `ids` the tag filter did not
    /// return (tracked objects whose tags are missing: imported, stripped by hand), read by id in the same
    /// batched way. Attributes as `read` returns them, with the full AWS tag set. An implementation may skip
    /// costly per-object follow-up calls for objects outside the workspace ([`Ctx::in_workspace`]) that are
    /// not in `ids`, returning at least `id` and `tags` for them. Default (types that cannot be tagged):
    /// `read(ids)`.
    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read(cx, ids).await
    }

    /// For types that cannot be tagged (and tagged types whose tag search cannot see every leftover): the
    /// existing object that creating each of `desired` would duplicate,
    /// matched by its natural key (a route table association by subnet and route table, a security group
    /// rule by group, direction, protocol, ports and sources), so a re-apply after an interrupted run adopts
    /// it instead of failing. Batched; the result has `desired`'s length. Default: none found.
    async fn find_existing(&self, _cx: &Ctx, desired: &[Attrs]) -> Result<Vec<Option<Attrs>>, ProviderError> {
        Ok(vec![None; desired.len()])
    }
}

/// A data source: reads something that exists independently of the stack.
#[async_trait]
pub trait DataSource: Send + Sync + 'static {
    fn schema(&self) -> &Schema;

    fn type_name(&self) -> &'static str {
        self.schema().type_name
    }

    /// Given the configured arguments, returns all attributes (arguments and computed results).
    async fn read(&self, cx: &Ctx, args: &Attrs) -> Result<Attrs, ProviderError>;
}

/// Resource and data-source implementations by type name.
#[derive(Clone, Default)]
pub struct Registry {
    resources: BTreeMap<&'static str, Arc<dyn Resource>>,
    data_sources: BTreeMap<&'static str, Arc<dyn DataSource>>,
}

impl Registry {
    /// Every type this build knows.
    pub fn builtin() -> Self {
        let mut r = Registry::default();
        crate::resources::register(&mut r);
        r
    }

    pub fn add_resource(&mut self, imp: impl Resource) {
        self.resources.insert(imp.type_name(), Arc::new(imp));
    }

    pub fn add_data_source(&mut self, imp: impl DataSource) {
        self.data_sources.insert(imp.type_name(), Arc::new(imp));
    }

    pub fn resource(&self, type_name: &str) -> Option<&Arc<dyn Resource>> {
        self.resources.get(type_name)
    }

    pub fn data_source(&self, type_name: &str) -> Option<&Arc<dyn DataSource>> {
        self.data_sources.get(type_name)
    }

    pub fn resource_types(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.resources.keys().copied()
    }

    pub fn data_source_types(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.data_sources.keys().copied()
    }

    /// The schema of a managed resource (`data == false`) or data source type.
    pub fn schema(&self, data: bool, type_name: &str) -> Option<&Schema> {
        if data {
            self.data_source(type_name).map(|d| d.schema())
        } else {
            self.resource(type_name).map(|r| r.schema())
        }
    }
}
