//! `ecs_task_definition`: one revision of an ECS task definition family, as terraform-provider-aws's
//! `aws_ecs_task_definition`. Id = the revision's ARN (`…:task-definition/FAMILY:REVISION`), which is also
//! what `import` takes.
//!
//! `container_definitions` is an array of tables with the ECS API's camelCase keys, or a JSON string (see
//! `container_definitions.rs` for parsing, the supported keys and the normalisation that keeps re-plans
//! empty). `cpu` and `memory` are task-level sizes as strings (`"256"`, `"0.25 vCPU"`, `"1 GB"`; the unit
//! forms are normalised to CPU units and MiB, as AWS stores them).
//!
//! Checked before any AWS call ([`Resource::validate`], and again at create): the container definitions
//! (supported keys, unique names, `dependsOn` targets); for `FARGATE`, network mode `awsvpc`, both sizes
//! set and a cpu/memory pair Fargate accepts ([`check_fargate_size`]).
//!
//! A revision is immutable: any change but `tags` and `skip_destroy` registers a new revision, which is a
//! replacement *created first* ([`Resource::replacement_order`]): the previous revision stays registered —
//! the services' rollback target — until the services using the new one have deployed (the engine orders
//! that; Terraform deregisters it first). Create is one RegisterTaskDefinition carrying all tags; the
//! checkpoint records its answer, which is complete. Update: TagResource / UntagResource only. Delete:
//! DeregisterTaskDefinition (the revision becomes INACTIVE, which every read counts as gone), nothing when
//! `skip_destroy`.
//!
//! Read: DescribeTaskDefinition (include TAGS) has no batch form: one call per revision, at most 8 in flight.
//! `read_stack` also looks for leftovers (revisions an interrupted run registered but did not record): one
//! ListTaskDefinitions (ACTIVE, 100 a page) per family the tracked revisions belong to, beside the
//! describes, then a describe of each listed revision that is untracked and newer than the oldest tracked
//! one of its family, kept when tagged with this stack. So a no-op refresh of n revisions in f families
//! costs n + f calls in one round trip. Limits: a leftover of a family no tracked revision belongs to (the
//! very first registration crashed before its checkpoint) is not found; it stays ACTIVE, unused, and costs
//! nothing. Revisions others register in a tracked family (a CI pipeline) are described on each refresh
//! while they are ACTIVE and newer than ours.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    Compatibility, CpuArchitecture, NetworkMode, OsFamily, RuntimePlatform, TaskDefinition as AwsTd,
    TaskDefinitionStatus,
};
use futures::{StreamExt, TryStreamExt};

use super::container_definitions as cdefs;
use super::{check_name, client, ecs_tags, sync_tags, tags_map, tags_value};
use crate::aws::{aws_err, tag_map, Ctx, ProviderError, DEFAULT_WORKSPACE, TAG_STACK, TAG_WORKSPACE};
use crate::resource::{Checkpoint, ReplacementOrder, Resource};
use crate::resources::util::*;
use crate::schema::{Attribute, Schema, Type, TAGS};
use crate::value::{Attrs, Value};

pub struct EcsTaskDefinition;

/// DescribeTaskDefinition calls in flight at once.
const PARALLEL: usize = 8;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("ecs_task_definition", "A revision of an ECS task definition.")
        .taggable()
        .attr(
            Attribute::string("family")
                .required()
                .forces_new()
                .describe("Family name: up to 255 letters, digits, hyphens and underscores."),
        )
        .attr(
            Attribute::new("container_definitions", Type::Any)
                .required()
                .forces_new()
                .describe("Containers: an array of tables with the ECS API's camelCase keys (what jsonencode() takes), or a JSON string."),
        )
        .attr(Attribute::string("cpu").forces_new().describe("Task CPU units, e.g. \"256\" or \"0.25 vCPU\" (required for Fargate)."))
        .attr(Attribute::string("memory").forces_new().describe("Task memory in MiB, e.g. \"512\" or \"1 GB\" (required for Fargate)."))
        .attr(
            Attribute::string("network_mode")
                .optional_computed()
                .forces_new()
                .one_of(&["bridge", "host", "awsvpc", "none"])
                .describe("Docker networking mode: awsvpc for Fargate."),
        )
        .attr(
            Attribute::new("requires_compatibilities", Type::set(Type::String))
                .forces_new()
                .one_of(&["EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES"])
                .describe("Launch types the task definition is validated against, e.g. [\"FARGATE\"]."),
        )
        .attr(Attribute::string("execution_role_arn").forces_new().describe("Role ECS uses to pull images and write logs."))
        .attr(Attribute::string("task_role_arn").forces_new().describe("Role the containers' code assumes."))
        .attr(
            Attribute::new(
                "runtime_platform",
                Type::Object(vec![
                    Attribute::string("operating_system_family").describe("e.g. LINUX."),
                    Attribute::string("cpu_architecture").one_of(&["X86_64", "ARM64"]).describe("X86_64 or ARM64."),
                ]),
            )
            .optional_computed()
            .forces_new()
            .describe("`{ operating_system_family = \"LINUX\", cpu_architecture = \"ARM64\" }`."),
        )
        .attr(
            Attribute::bool("skip_destroy")
                .default(false)
                .describe("Keep the revision registered when it is destroyed or replaced."),
        )
        .attr(Attribute::string("arn").computed().describe("ARN of this revision (same as id)."))
        .attr(Attribute::string("arn_without_revision").computed().describe("ARN of the family, without `:REVISION`."))
        .attr(Attribute::number("revision").computed().describe("Revision number within the family."))
});

/// The task sizes Fargate accepts: CPU units and the memory (MiB) allowed with them.
fn fargate_memory(cpu: i64) -> Option<Vec<i64>> {
    let range = |from: i64, to: i64, step: usize| -> Vec<i64> { (from..=to).step_by(step).collect() };
    Some(match cpu {
        256 => vec![512, 1024, 2048],
        512 => range(1024, 4096, 1024),
        1024 => range(2048, 8192, 1024),
        2048 => range(4096, 16384, 1024),
        4096 => range(8192, 30720, 1024),
        8192 => range(16384, 61440, 4096),
        16384 => range(32768, 122880, 8192),
        _ => return None,
    })
}

/// "1,024 or 2,048 … 8,192 (in steps of 1,024)": memory values for a message.
fn describe_memory(m: &[i64]) -> String {
    match m {
        [a, b, c] => format!("{a}, {b} or {c}"),
        [first, second, .., last] => format!("{first} to {last} in steps of {}", second - first),
        _ => String::new(),
    }
}

/// A size as AWS stores it: a whole number as it is, or a number of `unit` (case-insensitive) times 1024
/// when that is whole.
fn size_in(s: &str, unit: &str) -> Option<i64> {
    let t = s.trim();
    if let Ok(n) = t.parse::<i64>() {
        return Some(n);
    }
    let lower = t.to_ascii_lowercase();
    let n: f64 = lower.strip_suffix(unit)?.trim().parse().ok()?;
    let scaled = n * 1024.0;
    (scaled.fract() == 0.0).then_some(scaled as i64)
}

/// Task CPU as AWS stores it (CPU units): `"256"`, or `"0.25 vCPU"` → 256.
fn cpu_units(s: &str) -> Option<i64> {
    size_in(s, "vcpu")
}

/// Task memory as AWS stores it (MiB): `"512"`, or `"1 GB"` → 1024.
fn memory_mib(s: &str) -> Option<i64> {
    size_in(s, "gb")
}

/// Whether the configuration asks for Fargate.
fn is_fargate(attrs: &Attrs) -> bool {
    attrs
        .get("requires_compatibilities")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .any(|c| c.as_str() == Some("FARGATE"))
}

/// Fargate's rules on a task definition: network mode awsvpc, task cpu and memory both set, as a pair it
/// accepts.
pub(crate) fn check_fargate_size(attrs: &Attrs) -> Result<(), String> {
    if !is_fargate(attrs) {
        return Ok(());
    }
    match attrs.get("network_mode").and_then(Value::as_str) {
        Some("awsvpc") => {}
        Some(other) => {
            return Err(format!(
                "network_mode = \"{other}\" cannot run on Fargate; set network_mode = \"awsvpc\" (Fargate's only mode)"
            ))
        }
        None => return Err("Fargate needs network_mode = \"awsvpc\"; add it to the task definition".to_owned()),
    }
    let (Some(cpu), Some(memory)) = (get_str(attrs, "cpu"), get_str(attrs, "memory")) else {
        return Err("Fargate needs the task's `cpu` and `memory`, e.g. cpu = \"256\", memory = \"512\"".to_owned());
    };
    let c = cpu_units(cpu).ok_or_else(|| {
        format!("cpu = \"{cpu}\" is not a CPU size: write CPU units (\"256\") or vCPUs (\"0.25 vCPU\")")
    })?;
    let m = memory_mib(memory)
        .ok_or_else(|| format!("memory = \"{memory}\" is not a memory size: write MiB (\"512\") or GB (\"1 GB\")"))?;
    let Some(allowed) = fargate_memory(c) else {
        return Err(format!(
            "cpu = \"{cpu}\" is not a Fargate task size; use 256, 512, 1024, 2048, 4096, 8192 or 16384"
        ));
    };
    if !allowed.contains(&m) {
        return Err(format!(
            "cpu = \"{cpu}\" with memory = \"{memory}\" is not a combination Fargate accepts; with cpu {c} use memory {}",
            describe_memory(&allowed)
        ));
    }
    Ok(())
}

fn check(cfg: &Attrs) -> Result<(), String> {
    if let Some(f) = cfg.get("family").and_then(Value::as_str) {
        check_name("family", f)?;
    }
    if let Some(v) = cfg.get("container_definitions").filter(|v| v.is_known()) {
        cdefs::check(v)?;
    }
    check_fargate_size(cfg)
}

/// `arn:…:task-definition/FAMILY:REVISION` → (FAMILY, REVISION).
pub(crate) fn family_revision(arn: &str) -> Option<(&str, i64)> {
    let rest = arn.rsplit_once(":task-definition/")?.1;
    let (family, rev) = rest.rsplit_once(':')?;
    Some((family, rev.parse().ok()?))
}

fn td_attrs(td: &AwsTd) -> Option<(String, Attrs)> {
    let arn = td.task_definition_arn()?;
    let mut a = Attrs::new();
    a.insert("id".into(), Value::str(arn));
    a.insert("arn".into(), Value::str(arn));
    let without = arn.rsplit_once(':').map(|(f, _)| f).unwrap_or(arn);
    a.insert("arn_without_revision".into(), Value::str(without));
    a.insert("revision".into(), Value::int(td.revision().into()));
    put_str(&mut a, "family", td.family());
    put_opt(&mut a, "cpu", td.cpu());
    put_opt(&mut a, "memory", td.memory());
    put_opt(&mut a, "network_mode", td.network_mode().map(NetworkMode::as_str));
    if !td.requires_compatibilities().is_empty() {
        let c = td.requires_compatibilities().iter().map(|c| c.as_str().to_owned());
        a.insert("requires_compatibilities".into(), Value::string_list(c));
    }
    put_opt(&mut a, "execution_role_arn", td.execution_role_arn());
    put_opt(&mut a, "task_role_arn", td.task_role_arn());
    if let Some(p) = td.runtime_platform() {
        let mut m = BTreeMap::new();
        if let Some(os) = p.operating_system_family() {
            m.insert("operating_system_family".to_owned(), Value::str(os.as_str()));
        }
        if let Some(arch) = p.cpu_architecture() {
            m.insert("cpu_architecture".to_owned(), Value::str(arch.as_str()));
        }
        a.insert("runtime_platform".into(), Value::Map(m));
    }
    a.insert("container_definitions".into(), cdefs::from_sdk(td.container_definitions()));
    Some((arn.to_owned(), a))
}

/// "Unable to describe task definition." (the revision or family does not exist) and the like.
fn is_gone(e: &ProviderError) -> bool {
    e.is_not_found()
        || (e.code.as_deref() == Some("ClientException")
            && ["Unable to describe", "does not exist", "Revision is missing"].iter().any(|m| e.message.contains(m)))
}

fn is_active(td: &AwsTd) -> bool {
    !matches!(td.status(), Some(TaskDefinitionStatus::Inactive | TaskDefinitionStatus::DeleteInProgress))
}

/// One revision with its tags; `None` when it does not exist or is no longer ACTIVE.
async fn describe(cx: &Ctx, arn: String) -> Result<Option<(String, Attrs, BTreeMap<String, String>)>, ProviderError> {
    let r = client(cx)
        .describe_task_definition()
        .task_definition(&arn)
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(aws_err);
    let out = match r {
        Ok(out) => out,
        Err(e) if is_gone(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(td) = out.task_definition().filter(|td| is_active(td)) else { return Ok(None) };
    let Some((_, mut a)) = td_attrs(td) else { return Ok(None) };
    a.insert(TAGS.into(), tags_value(out.tags()));
    // Keyed by the ARN asked for (the same as the one AWS returns, for a full revision ARN).
    Ok(Some((arn, a, tags_map(out.tags()))))
}

async fn describe_all(
    cx: &Ctx,
    arns: Vec<String>,
) -> Result<Vec<(String, Attrs, BTreeMap<String, String>)>, ProviderError> {
    futures::stream::iter(arns.into_iter().map(|arn| describe(cx, arn)))
        .buffer_unordered(PARALLEL)
        .try_filter_map(|x| async move { Ok(x) })
        .try_collect()
        .await
}

/// The ACTIVE revisions of `family`, by ARN (paged, 100 a page).
async fn list_active(cx: &Ctx, family: String) -> Result<Vec<String>, ProviderError> {
    let mut out = Vec::new();
    let mut pages = client(cx)
        .list_task_definitions()
        .family_prefix(&family)
        .status(TaskDefinitionStatus::Active)
        .max_results(100)
        .into_paginator()
        .items()
        .send();
    while let Some(arn) = pages.next().await {
        let arn = arn.map_err(aws_err)?;
        // `familyPrefix` is the whole family name on AWS; keep exact matches either way.
        if family_revision(&arn).is_some_and(|(f, _)| f == family) {
            out.push(arn);
        }
    }
    Ok(out)
}

/// The `network_mode` the container definitions are normalised under: awsvpc when set so, or for Fargate.
fn awsvpc(attrs: &Attrs) -> bool {
    attrs.get("network_mode").and_then(Value::as_str) == Some("awsvpc") || is_fargate(attrs)
}

#[async_trait]
impl Resource for EcsTaskDefinition {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        check(cfg)
    }

    fn normalize(&self, attrs: &mut Attrs) {
        let vpc = awsvpc(attrs);
        if let Some(v) = attrs.get_mut("container_definitions") {
            *v = cdefs::normalize(v, vpc);
        }
        for (key, parse) in [("cpu", cpu_units as fn(&str) -> Option<i64>), ("memory", memory_mib)] {
            if let Some(n) = attrs.get(key).and_then(Value::as_str).and_then(parse) {
                attrs.insert(key.to_owned(), Value::str(n.to_string()));
            }
        }
    }

    fn replacement_order(&self, _before: &Attrs, _after: &Attrs) -> ReplacementOrder {
        ReplacementOrder::CreateFirst(
            "the previous revision stays registered as the rollback target until the services using the new one have deployed",
        )
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let mut arns: Vec<String> = ids.iter().filter(|s| !s.is_empty()).cloned().collect();
        arns.sort();
        arns.dedup();
        Ok(describe_all(cx, arns).await?.into_iter().map(|(arn, a, _)| (arn, a)).collect())
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        // The oldest tracked revision of each family.
        let mut oldest: BTreeMap<String, i64> = BTreeMap::new();
        for (family, rev) in ids.iter().filter_map(|id| family_revision(id)) {
            let e = oldest.entry(family.to_owned()).or_insert(rev);
            *e = (*e).min(rev);
        }
        let listings = futures::future::try_join_all(oldest.keys().map(|f| list_active(cx, f.clone())));
        let (listed, mut out) = futures::try_join!(listings, self.read(cx, ids))?;
        let candidates: Vec<String> = listed
            .into_iter()
            .flatten()
            .filter(|arn| !ids.contains(arn))
            .filter(|arn| family_revision(arn).is_some_and(|(f, r)| oldest.get(f).is_some_and(|o| r > *o)))
            .collect();
        if !candidates.is_empty() {
            let ours = |tags: &BTreeMap<String, String>| {
                tags.get(TAG_STACK) == Some(&cx.stack)
                    && (cx.workspace == DEFAULT_WORKSPACE || tags.get(TAG_WORKSPACE) == Some(&cx.workspace))
            };
            for (arn, a, tags) in describe_all(cx, candidates).await? {
                if ours(&tags) {
                    out.insert(arn, a);
                }
            }
        }
        Ok(out)
    }

    /// A revision registered by a run killed before it saved it, in a family none of whose revisions the
    /// state tracks (so `read_stack` does not list it): the newest ACTIVE revision of the configured family,
    /// if it carries this stack's and workspace's tags. The engine adopts it instead of registering another
    /// (and skips one the state holds). One ListTaskDefinitions per planned create, a describe when found.
    async fn find_existing(&self, cx: &Ctx, desired: &[Attrs]) -> Result<Vec<Option<Attrs>>, ProviderError> {
        futures::future::try_join_all(desired.iter().map(|d| async move {
            let Some(family) = d.get("family").and_then(Value::as_str) else { return Ok(None) };
            let newest = list_active(cx, family.to_owned())
                .await?
                .into_iter()
                .max_by_key(|arn| family_revision(arn).map(|(_, r)| r).unwrap_or(0));
            let Some(arn) = newest else { return Ok(None) };
            Ok(describe(cx, arn).await?.filter(|(_, _, tags)| cx.in_workspace(tags)).map(|(_, a, _)| a))
        }))
        .await
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        check(desired).map_err(|m| ProviderError::with_code("InvalidParameterException", m))?;
        let containers = cdefs::to_sdk(desired.get("container_definitions").unwrap_or(&Value::Null))
            .map_err(|m| ProviderError::with_code("InvalidParameterException", m))?;
        let compat = desired
            .get("requires_compatibilities")
            .and_then(Value::as_str_list)
            .map(|l| l.iter().map(|c| Compatibility::from(c.as_str())).collect());
        let platform = desired.get("runtime_platform").and_then(Value::as_map).map(|p| {
            RuntimePlatform::builder()
                .set_operating_system_family(
                    p.get("operating_system_family").and_then(Value::as_str).map(OsFamily::from),
                )
                .set_cpu_architecture(p.get("cpu_architecture").and_then(Value::as_str).map(CpuArchitecture::from))
                .build()
        });
        let out = client(cx)
            .register_task_definition()
            .family(req_str(desired, "family")?)
            .set_container_definitions(Some(containers))
            .set_cpu(get_str(desired, "cpu").map(str::to_owned))
            .set_memory(get_str(desired, "memory").map(str::to_owned))
            .set_network_mode(get_str(desired, "network_mode").map(NetworkMode::from))
            .set_requires_compatibilities(compat)
            .set_execution_role_arn(get_str(desired, "execution_role_arn").map(str::to_owned))
            .set_task_role_arn(get_str(desired, "task_role_arn").map(str::to_owned))
            .set_runtime_platform(platform)
            .set_tags(Some(ecs_tags(&tag_map(desired))))
            .send()
            .await
            .map_err(aws_err)?;
        let td = out.task_definition().ok_or_else(|| ProviderError::new("RegisterTaskDefinition returned nothing"))?;
        let (arn, got) = td_attrs(td).ok_or_else(|| ProviderError::new("RegisterTaskDefinition returned no ARN"))?;
        let mut made = with_id(desired, &arn);
        made.extend(got);
        checkpoint.created(&made).await;
        Ok(made)
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let arn = get_id(prior)?;
        sync_tags(cx, arn, prior, desired).await?;
        let mut out = prior.clone();
        out.insert(TAGS.into(), desired.get(TAGS).cloned().unwrap_or(Value::Map(Default::default())));
        out.insert("skip_destroy".into(), Value::Bool(get_bool(desired, "skip_destroy", false)));
        Ok(out)
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let arn = get_id(prior)?;
        if get_bool(prior, "skip_destroy", false) {
            tracing::info!("{arn}: skip_destroy is set, the revision stays registered");
            return Ok(());
        }
        match client(cx).deregister_task_definition().task_definition(arn).send().await.map_err(aws_err) {
            Ok(_) => Ok(()),
            // Already INACTIVE or gone is done; anything else stands.
            Err(e) if e.code.as_deref() == Some("ClientException") => match describe(cx, arn.to_owned()).await? {
                None => Ok(()),
                Some(_) => Err(e),
            },
            Err(e) if is_gone(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(j: serde_json::Value) -> Attrs {
        crate::value::attrs_from_json(&serde_json::from_value(j).unwrap())
    }

    fn fargate(cpu: &str, memory: &str) -> Attrs {
        attrs(json!({"family": "web", "network_mode": "awsvpc", "requires_compatibilities": ["FARGATE"],
            "cpu": cpu, "memory": memory, "container_definitions": [{"name": "web", "image": "nginx"}]}))
    }

    #[test]
    fn fargate_sizes() {
        for (c, m) in [
            ("256", "512"),
            ("256", "2048"),
            ("512", "4096"),
            ("1024", "2048"),
            ("4096", "30720"),
            ("8192", "20480"),
            ("0.25 vCPU", "1 GB"),
            ("1 vCPU", "2GB"),
        ] {
            assert!(check(&fargate(c, m)).is_ok(), "{c}/{m}");
        }
        let e = check(&fargate("256", "4096")).unwrap_err();
        assert!(e.contains("not a combination Fargate accepts") && e.contains("use memory 512, 1024 or 2048"), "{e}");
        let e = check(&fargate("1024", "1024")).unwrap_err();
        assert!(e.contains("2048 to 8192 in steps of 1024"), "{e}");
        assert!(check(&fargate("300", "512")).unwrap_err().contains("not a Fargate task size"));
        assert!(check(&fargate("8192", "18432")).is_err(), "8 vCPU takes memory in steps of 4 GB");
        assert!(check(&fargate("lots", "512")).unwrap_err().contains("not a CPU size"));
        let mut a = fargate("256", "512");
        a.remove("memory");
        assert!(check(&a).unwrap_err().contains("`cpu` and `memory`"));
        let mut a = fargate("256", "512");
        a.insert("network_mode".into(), Value::str("bridge"));
        assert!(check(&a).unwrap_err().contains("awsvpc"));
        // Not Fargate: EC2 sizes are not Fargate's.
        let a = attrs(
            json!({"family": "web", "cpu": "300", "memory": "700", "container_definitions": [{"name": "w", "image": "x"}]}),
        );
        assert!(check(&a).is_ok());
    }

    #[test]
    fn container_rules_are_checked_with_the_rest() {
        let mut a = fargate("256", "512");
        a.insert(
            "container_definitions".into(),
            Value::from_json(&json!([{"name": "a", "image": "x"}, {"name": "a", "image": "y"}])),
        );
        assert!(check(&a).unwrap_err().contains("two containers are named `a`"));
        a.insert("container_definitions".into(), Value::Unknown);
        assert!(check(&a).is_ok(), "unknown definitions are checked at create");
        assert!(check(&attrs(json!({"family": "a b"}))).unwrap_err().contains("family `a b`"));
    }

    #[test]
    fn sizes_normalise_to_units() {
        let mut a = fargate("0.25 vCPU", "1 GB");
        EcsTaskDefinition.normalize(&mut a);
        assert_eq!((a["cpu"].as_str(), a["memory"].as_str()), (Some("256"), Some("1024")));
    }

    #[test]
    fn normalize_uses_awsvpc_for_fargate() {
        let defs = json!([{"name": "web", "image": "nginx", "portMappings": [{"containerPort": 80, "hostPort": 80}]}]);
        let mut a = attrs(json!({"requires_compatibilities": ["FARGATE"], "container_definitions": defs}));
        EcsTaskDefinition.normalize(&mut a);
        let pm = &a["container_definitions"].as_list().unwrap()[0].get("portMappings").unwrap().as_list().unwrap()[0];
        assert_eq!(pm.get("hostPort"), None);
    }

    #[test]
    fn arns() {
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/hello-api:12";
        assert_eq!(family_revision(arn), Some(("hello-api", 12)));
        assert_eq!(family_revision("arn:aws:ecs:us-east-1:1:cluster/x"), None);
    }

    #[test]
    fn replaced_first_and_only_tags_update_in_place() {
        assert!(matches!(
            EcsTaskDefinition.replacement_order(&Attrs::new(), &Attrs::new()),
            ReplacementOrder::CreateFirst(_)
        ));
        for a in &SCHEMA.attributes {
            let in_place = matches!(a.name, "tags" | "skip_destroy") || a.presence == crate::schema::Presence::Computed;
            assert_eq!(a.forces_replacement, !in_place, "{}", a.name);
        }
    }

    #[test]
    fn gone_errors() {
        assert!(is_gone(&ProviderError::with_code("ClientException", "Unable to describe task definition.")));
        assert!(!is_gone(&ProviderError::with_code("ClientException", "Too many revisions")));
    }
}
