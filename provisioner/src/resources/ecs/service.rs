//! `ecs_service`: an ECS service, as terraform-provider-aws's `aws_ecs_service`. Id: the service's ARN;
//! `import` also takes Terraform's `cluster-name/service-name` (the state then keeps that id).
//!
//! Arguments as Terraform names them; the blocks Terraform allows once (`network_configuration`,
//! `deployment_circuit_breaker`, `timeouts`) are one table each, the repeatable `load_balancer` an array
//! of tables. `cluster` takes a name or an ARN and is kept as the name; `task_definition` takes an ARN or
//! `family:revision` and is kept as `family:revision`, so neither diffs for its spelling. Changing `name`,
//! `cluster` or `launch_type` replaces the service, as in Terraform; everything else — load balancers
//! included, which AWS now updates in place — is an UpdateService. `desired_count` is compared like any
//! argument (a service scaled by autoscaling shows a change: use `ignore_changes`, as with Terraform).
//!
//! **Deploys tell the truth.** `wait_for_steady_state` defaults to *true* (Terraform: false): create and
//! update watch the deployment they started until it succeeds — the primary deployment runs the revision
//! this apply asked for, its rollout is COMPLETED, running = desired — or fails; see `deploy.rs`. A
//! deployment rolled back by the circuit breaker, a FAILED rollout, the `timeouts` bound (20 minutes) and
//! Ctrl-C end the apply with an error *after* printing the stopped tasks' reasons and the service's failure
//! events (Ctrl-C: how to watch the deployment instead). The service is never tainted — replacing a
//! production service is never the answer to a failed deploy —: the error is
//! [`unsettled`](ProviderError::unsettled), the state keeps the service marked incomplete, and the next
//! plan redeploys it in place (UpdateService with `forceNewDeployment`) unless [`Resource::settled`] sees
//! that the deployment finished meanwhile. To judge that, read reports the primary deployment
//! (`deployment_task_definition`, `deployment_rollout_state`) and `running_count`, and the state keeps
//! `deployed_task_definition`, the revision the last apply deployed (read does not report it, so refresh
//! carries it over). With `wait_for_steady_state = false` nothing is watched and, when the task definition
//! changed, the previous revision is held ([`Ctx::hold`]): its deletion waits for the next apply, so the
//! deployment keeps its rollback target.
//!
//! **Create** is one CreateService carrying all tags and a `clientToken` derived from the stack, workspace,
//! lineage, address and a generation number persisted before the call ([`Checkpoint::attempt`]): a retry
//! after a crash, or the SDK's retry of a lost reply, gets the same service back, never a second one.
//! Eventual consistency is retried within [`PROPAGATION`]: a role just created ("Unable to assume role…",
//! "verify that the ECS service role being passed has the proper permissions"), a target group not yet
//! behind a listener ("does not have an associated load balancer", also on update), a cluster just
//! created; a name whose previous service still drains ("Creation of service was not idempotent") waits
//! until that service is INACTIVE (within the create timeout), then creates.
//!
//! **Delete** is DeleteService with `force` and a wait until the service is INACTIVE (within the delete
//! timeout), as Terraform does. Read treats DRAINING and INACTIVE services as gone.
//!
//! **Reads** are batched per cluster: DescribeServices (include TAGS) of up to 10 services, all clusters
//! and batches at once. `read_stack` also looks for leftovers (services carrying the stack's tags that no
//! state entry holds): one ListServices per cluster the tracked services are in, beside the describes, then
//! a describe of the listed services not tracked. Limits: a leftover in a cluster where the stack tracks no
//! service (the stack's first service crashed before its checkpoint) is not found this way — the client
//! token makes the re-apply adopt it instead —, and other stacks' services in a shared cluster are described
//! on each refresh (10 per call). Ids in the pre-2021 short ARN format (`…:service/NAME`) name no cluster:
//! they are read in the `default` cluster.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration, LaunchType, LoadBalancer,
    NetworkConfiguration, PropagateTags, Service, ServiceField,
};

use super::container_definitions::container_ports;
use super::deploy::{self, task_definition_key, Deployment, Unsettled};
use super::{client, ecs_tags, sync_tags};
use crate::aws::{aws_err, retry_within, tag_map, Ctx, ProviderError, TAG_ADDRESS, TAG_STACK};
use crate::resource::{Checkpoint, Resource};
use crate::resources::util::*;
use crate::schema::{Attribute, Schema, Type, ID};
use crate::value::{Attrs, Value};

pub struct EcsService;

/// DescribeServices takes at most 10 services.
const DESCRIBE_CHUNK: usize = 10;

/// Terraform's default for each of `timeouts`' create, update and delete.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20 * 60);

fn network_configuration_type() -> Type {
    Type::Object(vec![
        Attribute::new("subnets", Type::set(Type::String)).required().describe("Subnets of the tasks' interfaces."),
        Attribute::new("security_groups", Type::set(Type::String))
            .default_value(Value::List(vec![]))
            .describe("Security groups of the tasks' interfaces (default: the VPC's default group)."),
        Attribute::bool("assign_public_ip")
            .default(false)
            .describe("Give the tasks public IPs (Fargate in public subnets)."),
    ])
}

fn load_balancer_type() -> Type {
    Type::Object(vec![
        Attribute::string("target_group_arn").required().describe("Target group the tasks register with."),
        Attribute::string("container_name").required().describe("Container (of the task definition) to route to."),
        Attribute::number("container_port").required().describe("Its port (a containerPort of its portMappings)."),
    ])
}

fn circuit_breaker_type() -> Type {
    Type::Object(vec![
        Attribute::bool("enable").required().describe("Stop a deployment whose tasks keep failing."),
        Attribute::bool("rollback").required().describe("Then roll back to the last completed deployment."),
    ])
}

fn timeouts_type() -> Type {
    Type::Object(vec![
        Attribute::string("create").describe("How long create waits for the deployment, e.g. \"20m\" (default)."),
        Attribute::string("update").describe("How long update waits for the deployment (default \"20m\")."),
        Attribute::string("delete").describe("How long delete waits for the service to drain (default \"20m\")."),
    ])
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new(
        "ecs_service",
        "An ECS service: keeps a number of tasks of a task definition running, deployed with a watch.",
    )
    .taggable()
    .attr(
        Attribute::string("name")
            .required()
            .forces_new()
            .describe("Service name: up to 255 letters, digits, hyphens and underscores, unique in the cluster."),
    )
    .attr(
        Attribute::string("cluster")
            .optional_computed()
            .forces_new()
            .describe("Cluster name or ARN (kept as the name); default: the `default` cluster."),
    )
    .attr(
        Attribute::string("task_definition")
            .required()
            .describe("Revision to run: its ARN or `family:revision` (kept as `family:revision`)."),
    )
    .attr(Attribute::number("desired_count").default(0).describe("Number of tasks to keep running (default 0)."))
    .attr(
        Attribute::string("launch_type")
            .optional_computed()
            .forces_new()
            .one_of(&["EC2", "FARGATE", "EXTERNAL"])
            .describe("EC2, FARGATE or EXTERNAL."),
    )
    .attr(
        Attribute::string("platform_version")
            .optional_computed()
            .describe("Fargate platform version, e.g. `1.4.0` (AWS: `LATEST`)."),
    )
    .attr(
        Attribute::new("network_configuration", Type::list(network_configuration_type()))
            .optional()
            .describe("One table: `{ subnets = [...], security_groups = [...], assign_public_ip = false }` (awsvpc)."),
    )
    .attr(
        Attribute::new("load_balancer", Type::set(load_balancer_type()))
            .optional()
            .describe("Array of tables `{ target_group_arn, container_name, container_port }`."),
    )
    .attr(
        Attribute::new("deployment_circuit_breaker", Type::list(circuit_breaker_type()))
            .optional()
            .describe("One table `{ enable = true, rollback = true }` (default: both false)."),
    )
    .attr(
        Attribute::number("deployment_minimum_healthy_percent")
            .default(100)
            .describe("Lower bound of running tasks during a deployment, % of desired_count (default 100)."),
    )
    .attr(
        Attribute::number("deployment_maximum_percent")
            .default(200)
            .describe("Upper bound of running + pending tasks during a deployment, % (default 200)."),
    )
    .attr(
        Attribute::number("health_check_grace_period_seconds")
            .default(0)
            .describe("Seconds ELB health checks are ignored after a task starts (needs a load_balancer)."),
    )
    .attr(Attribute::bool("enable_execute_command").default(false).describe("Allow ECS Exec into the tasks."))
    .attr(
        Attribute::string("propagate_tags")
            .default("NONE")
            .one_of(&["SERVICE", "TASK_DEFINITION", "NONE"])
            .describe("Copy the service's or task definition's tags to the tasks."),
    )
    .attr(
        Attribute::bool("force_new_deployment")
            .default(false)
            .describe("Redeploy (same revision, new tasks) on every update of the service."),
    )
    .attr(
        Attribute::bool("wait_for_steady_state")
            .default(true)
            .describe("Watch each deployment until it succeeds or fails (default true; Terraform: false)."),
    )
    .attr(
        Attribute::new("timeouts", Type::list(timeouts_type()))
            .optional()
            .describe("One table `{ create = \"20m\", update = \"20m\", delete = \"20m\" }`."),
    )
    .attr(Attribute::string("arn").computed().describe("ARN of the service (same as id)."))
    .attr(Attribute::number("running_count").computed().describe("Tasks running when last read."))
    .attr(
        Attribute::string("deployment_task_definition")
            .computed()
            .describe("`family:revision` the primary deployment runs."),
    )
    .attr(
        Attribute::string("deployment_rollout_state")
            .computed()
            .describe("The primary deployment's rollout: IN_PROGRESS, COMPLETED or FAILED."),
    )
    .attr(
        Attribute::string("deployed_task_definition")
            .computed()
            .describe("`family:revision` the last apply deployed (what a deployment must run to have finished)."),
    )
});

// ---------------------------------------------------------------------------------------------- values

fn int(attrs: &Attrs, name: &str) -> Option<i32> {
    attrs.get(name).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok())
}

/// The one table of a block attribute (`network_configuration`, …), if set.
fn block<'a>(attrs: &'a Attrs, name: &str) -> Option<&'a std::collections::BTreeMap<String, Value>> {
    attrs.get(name)?.as_list()?.first()?.as_map()
}

fn strings(m: &BTreeMap<String, Value>, key: &str) -> Vec<String> {
    m.get(key).and_then(Value::as_str_list).unwrap_or_default()
}

/// `arn:aws:ecs:REGION:ACCOUNT:cluster/NAME` → `NAME`; a name stays as it is.
fn cluster_name(cluster: &str) -> &str {
    match cluster.split_once(":cluster/") {
        Some((_, name)) if cluster.starts_with("arn:") => name,
        _ => cluster,
    }
}

/// The cluster and name an id designates: a service ARN (`…:service/CLUSTER/NAME`; the short format
/// `…:service/NAME` is read in `default`) or an import id `CLUSTER/NAME`.
fn service_ref(id: &str) -> (String, String) {
    let path = match id.split_once(":service/") {
        Some((_, p)) if id.starts_with("arn:") => p,
        _ => id,
    };
    match path.split_once('/') {
        Some((c, n)) => (c.to_owned(), n.to_owned()),
        None => ("default".to_owned(), path.to_owned()),
    }
}

/// The cluster and name of a service in state or configuration.
fn cluster_and_name(attrs: &Attrs) -> Result<(String, String), ProviderError> {
    let name = req_str(attrs, "name")?.to_owned();
    let cluster = get_str(attrs, "cluster").map(cluster_name).unwrap_or("default").to_owned();
    Ok((cluster, name))
}

/// The ARN of task-definition revision `key` (`family:revision`) in the account and region of `service_arn`.
fn task_definition_arn(service_arn: &str, key: &str) -> Option<String> {
    let parts: Vec<&str> = service_arn.splitn(6, ':').collect();
    (parts.len() == 6 && parts[0] == "arn")
        .then(|| format!("{}:{}:{}:{}:{}:task-definition/{key}", parts[0], parts[1], parts[2], parts[3], parts[4]))
}

fn network_configuration(attrs: &Attrs) -> Result<Option<NetworkConfiguration>, ProviderError> {
    let Some(nc) = block(attrs, "network_configuration") else { return Ok(None) };
    let public = nc.get("assign_public_ip").and_then(Value::as_bool).unwrap_or(false);
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(strings(nc, "subnets")))
        .set_security_groups(Some(strings(nc, "security_groups")).filter(|g| !g.is_empty()))
        .assign_public_ip(if public { AssignPublicIp::Enabled } else { AssignPublicIp::Disabled })
        .build()
        .map_err(|e| ProviderError::new(format!("network_configuration: {e}")))?;
    Ok(Some(NetworkConfiguration::builder().awsvpc_configuration(vpc).build()))
}

fn load_balancers(attrs: &Attrs) -> Vec<LoadBalancer> {
    attrs
        .get("load_balancer")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_map)
        .map(|lb| {
            LoadBalancer::builder()
                .set_target_group_arn(lb.get("target_group_arn").and_then(Value::as_str).map(str::to_owned))
                .set_container_name(lb.get("container_name").and_then(Value::as_str).map(str::to_owned))
                .set_container_port(
                    lb.get("container_port").and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok()),
                )
                .build()
        })
        .collect()
}

fn deployment_configuration(attrs: &Attrs) -> DeploymentConfiguration {
    let cb = block(attrs, "deployment_circuit_breaker");
    let flag = |k: &str| cb.and_then(|m| m.get(k)).and_then(Value::as_bool).unwrap_or(false);
    DeploymentConfiguration::builder()
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder().enable(flag("enable")).rollback(flag("rollback")).build(),
        )
        .set_maximum_percent(int(attrs, "deployment_maximum_percent"))
        .set_minimum_healthy_percent(int(attrs, "deployment_minimum_healthy_percent"))
        .build()
}

/// How long `kind` (create, update, delete) may wait: `timeouts.<kind>`, else 20 minutes.
fn timeout(attrs: &Attrs, kind: &str) -> Duration {
    block(attrs, "timeouts")
        .and_then(|t| t.get(kind))
        .and_then(Value::as_str)
        .and_then(deploy::parse_duration)
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// Where progress lines about this service go: its address (from the tool's tags).
fn address(attrs: &Attrs) -> String {
    tag_map(attrs)
        .get(TAG_ADDRESS)
        .cloned()
        .unwrap_or_else(|| format!("ecs_service.{}", get_str(attrs, "name").unwrap_or("?")))
}

/// The attributes of a described service.
fn service_attrs(s: &Service) -> Option<(String, Attrs)> {
    let arn = s.service_arn()?;
    let mut a = Attrs::new();
    a.insert(ID.into(), Value::str(arn));
    a.insert("arn".into(), Value::str(arn));
    put_str(&mut a, "name", s.service_name());
    put_str(&mut a, "cluster", s.cluster_arn().map(cluster_name));
    put_str(&mut a, "task_definition", s.task_definition().map(task_definition_key));
    a.insert("desired_count".into(), Value::int(s.desired_count().into()));
    a.insert("running_count".into(), Value::int(s.running_count().into()));
    put_opt(&mut a, "launch_type", s.launch_type().map(LaunchType::as_str));
    put_opt(&mut a, "platform_version", s.platform_version());
    let nc = s.network_configuration().and_then(|n| n.awsvpc_configuration()).map(|v| {
        Value::Map(BTreeMap::from([
            ("subnets".to_owned(), Value::string_list(v.subnets())),
            ("security_groups".to_owned(), Value::string_list(v.security_groups())),
            ("assign_public_ip".to_owned(), Value::Bool(v.assign_public_ip() == Some(&AssignPublicIp::Enabled))),
        ]))
    });
    a.insert("network_configuration".into(), Value::List(nc.into_iter().collect()));
    let lbs = s
        .load_balancers()
        .iter()
        .map(|lb| {
            Value::Map(BTreeMap::from([
                ("target_group_arn".to_owned(), Value::str(lb.target_group_arn().unwrap_or_default())),
                ("container_name".to_owned(), Value::str(lb.container_name().unwrap_or_default())),
                ("container_port".to_owned(), Value::int(lb.container_port().unwrap_or_default().into())),
            ]))
        })
        .collect();
    a.insert("load_balancer".into(), Value::List(lbs));
    let dc = s.deployment_configuration();
    let cb = dc.and_then(|d| d.deployment_circuit_breaker());
    a.insert(
        "deployment_circuit_breaker".into(),
        Value::List(vec![Value::Map(BTreeMap::from([
            ("enable".to_owned(), Value::Bool(cb.is_some_and(|c| c.enable()))),
            ("rollback".to_owned(), Value::Bool(cb.is_some_and(|c| c.rollback()))),
        ]))]),
    );
    a.insert(
        "deployment_minimum_healthy_percent".into(),
        Value::int(dc.and_then(|d| d.minimum_healthy_percent()).unwrap_or(100).into()),
    );
    a.insert(
        "deployment_maximum_percent".into(),
        Value::int(dc.and_then(|d| d.maximum_percent()).unwrap_or(200).into()),
    );
    a.insert(
        "health_check_grace_period_seconds".into(),
        Value::int(s.health_check_grace_period_seconds().unwrap_or(0).into()),
    );
    a.insert("enable_execute_command".into(), Value::Bool(s.enable_execute_command()));
    a.insert("propagate_tags".into(), Value::str(s.propagate_tags().map(PropagateTags::as_str).unwrap_or("NONE")));
    a.insert(
        "tags".into(),
        Value::Map(
            s.tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), Value::str(t.value().unwrap_or_default()))))
                .collect(),
        ),
    );
    let primary = s.deployments().iter().find(|d| d.status() == Some("PRIMARY"));
    put_str(&mut a, "deployment_task_definition", primary.and_then(|d| d.task_definition()).map(task_definition_key));
    put_str(&mut a, "deployment_rollout_state", primary.and_then(|d| d.rollout_state()).map(|r| r.as_str()));
    Some((arn.to_owned(), a))
}

/// The primary deployment (as read) runs the revision the last apply deployed (`deployed_task_definition`,
/// else `task_definition`) and its rollout is COMPLETED.
fn deployment_finished(attrs: &Attrs) -> bool {
    let target = get_str(attrs, "deployed_task_definition").or_else(|| get_str(attrs, "task_definition"));
    let primary = get_str(attrs, "deployment_task_definition");
    get_str(attrs, "deployment_rollout_state") == Some("COMPLETED")
        && target.is_some()
        && target.map(task_definition_key) == primary.map(task_definition_key)
}

// ---------------------------------------------------------------------------------------------- checks

/// Names: 1–255 letters, digits, hyphens, underscores (CreateService).
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(())
        .ok_or_else(|| format!("service name `{name}`: use 1 to 255 letters, digits, hyphens and underscores"))
}

fn check(cfg: &Attrs) -> Result<(), String> {
    if let Some(name) = cfg.get("name").and_then(Value::as_str) {
        check_name(name)?;
    }
    for b in ["network_configuration", "deployment_circuit_breaker", "timeouts"] {
        if cfg.get(b).and_then(Value::as_list).is_some_and(|l| l.len() > 1) {
            return Err(format!("at most one `{b}` table"));
        }
    }
    if let Some(t) = block(cfg, "timeouts") {
        for (k, v) in t {
            if let Some(s) = v.as_str() {
                if deploy::parse_duration(s).is_none() {
                    return Err(format!(
                        "timeouts.{k} = \"{s}\" is not a duration: write e.g. \"20m\", \"1h30m\" or \"90s\""
                    ));
                }
            }
        }
    }
    if let Some(n) = cfg.get("desired_count").and_then(Value::as_i64) {
        if n < 0 {
            return Err(format!("desired_count {n} is negative"));
        }
    }
    if let Some(p) = cfg.get("deployment_maximum_percent").and_then(Value::as_i64) {
        if p < 100 && cfg.get("deployment_minimum_healthy_percent").and_then(Value::as_i64).is_some_and(|m| m > p) {
            return Err("deployment_minimum_healthy_percent is above deployment_maximum_percent".to_owned());
        }
    }
    let lbs = cfg.get("load_balancer").and_then(Value::as_list).unwrap_or_default();
    if let Some(g) = cfg.get("health_check_grace_period_seconds").and_then(Value::as_i64) {
        if !(0..=2_147_483_647).contains(&g) {
            return Err(format!("health_check_grace_period_seconds {g} is out of range"));
        }
        if g > 0 && lbs.is_empty() && cfg.get("load_balancer").is_some_and(Value::is_known) {
            return Err(
                "health_check_grace_period_seconds needs a `load_balancer` (AWS refuses it without one)".to_owned()
            );
        }
    }
    for lb in lbs {
        if let Some(p) = lb.get("container_port").and_then(Value::as_i64) {
            if !(1..=65535).contains(&p) {
                return Err(format!("load_balancer.container_port {p} is outside 1..65535"));
            }
        }
    }
    if let Some(td) = cfg.get("task_definition").and_then(Value::as_str) {
        let key = task_definition_key(td);
        if key.is_empty() || key.contains('/') {
            return Err(format!("task_definition `{td}`: write its ARN or `family:revision`"));
        }
    }
    Ok(())
}

/// Whether the related task definition `td` (planned attributes) is the one `wanted` names, when both are
/// known: by `family:revision` (from `arn`), or by family.
fn names_task_definition(td: &Attrs, wanted: &str) -> Option<bool> {
    let key = task_definition_key(wanted);
    if let Some(arn) = td.get("arn").and_then(Value::as_str) {
        return Some(task_definition_key(arn) == key);
    }
    let family = td.get("family").and_then(Value::as_str)?;
    let wanted_family = key.split(':').next().unwrap_or(key);
    // The family matches but the revision is not known yet: a new revision of it (the usual case).
    (family != wanted_family).then_some(false)
}

/// `load_balancer` containers and ports that exist in the task definition, where both are known: the
/// related `ecs_task_definition` that `task_definition` names, or, when it is not known yet, any related one.
fn check_load_balancer_containers(cfg: &Attrs, related: &[(&str, &Attrs)]) -> Result<(), String> {
    let lbs: Vec<(String, i64)> = cfg
        .get("load_balancer")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|lb| Some((lb.get("container_name")?.as_str()?.to_owned(), lb.get("container_port")?.as_i64()?)))
        .collect();
    if lbs.is_empty() {
        return Ok(());
    }
    let tds: Vec<(&str, &Attrs)> =
        related.iter().filter(|(a, _)| a.starts_with("ecs_task_definition.")).copied().collect();
    let candidates: Vec<(&str, &Attrs)> = match cfg.get("task_definition").and_then(Value::as_str) {
        Some(wanted) => {
            let named: Vec<_> =
                tds.iter().filter(|(_, td)| names_task_definition(td, wanted) == Some(true)).copied().collect();
            if named.is_empty() {
                tds.iter().filter(|(_, td)| names_task_definition(td, wanted).is_none()).copied().collect()
            } else {
                named
            }
        }
        None => tds,
    };
    let known: Vec<_> = candidates
        .iter()
        .filter_map(|(a, td)| Some((*a, container_ports(td.get("container_definitions")?)?)))
        .collect();
    if known.is_empty() {
        return Ok(());
    }
    for (name, port) in &lbs {
        let found = known.iter().any(|(_, cs)| cs.iter().any(|(n, ps)| n == name && ps.contains(port)));
        if !found {
            let (addr, containers) = &known[0];
            let has: Vec<String> = containers.iter().map(|(n, ps)| format!("{n} {ps:?}")).collect();
            let what = if containers.iter().any(|(n, _)| n == name) {
                format!("container `{name}` has no portMappings entry with containerPort {port}")
            } else {
                format!("there is no container `{name}`")
            };
            return Err(format!(
                "load_balancer: {what} in {addr} (its containers and ports: {})",
                if has.is_empty() { "none".to_owned() } else { has.join(", ") }
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------- calls

/// Whether a CreateService/UpdateService error is eventual consistency worth retrying (see the module doc).
fn propagating(e: &ProviderError) -> bool {
    const TEXTS: [&str; 4] = [
        "verify that the ECS service role being passed has the proper permissions",
        "Unable to assume role",
        "Unable to assume the service linked role",
        "does not have an associated load balancer",
    ];
    match e.code.as_deref() {
        Some("InvalidParameterException") => TEXTS.iter().any(|t| e.message.contains(t)),
        Some("ClusterNotFoundException") => true,
        _ => false,
    }
}

fn not_idempotent(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("InvalidParameterException")
        && e.message.contains("Creation of service was not idempotent")
}

fn gone(e: &ProviderError) -> bool {
    matches!(
        e.code.as_deref(),
        Some("ServiceNotFoundException" | "ServiceNotActiveException" | "ClusterNotFoundException")
    )
}

/// DescribeServices of `names` in `cluster` (≤10), INACTIVE and DRAINING ones left out.
async fn describe(cx: &Ctx, cluster: &str, names: Vec<String>) -> Result<Vec<Service>, ProviderError> {
    let r = client(cx)
        .describe_services()
        .cluster(cluster)
        .set_services(Some(names))
        .include(ServiceField::Tags)
        .send()
        .await
        .map_err(aws_err);
    let out = match r {
        Err(e) if e.code.as_deref() == Some("ClusterNotFoundException") => return Ok(Vec::new()),
        other => other?,
    };
    Ok(out.services().iter().filter(|s| s.status() == Some("ACTIVE")).cloned().collect())
}

/// Reads `ids` (ARNs or `cluster/name`), keyed by the id asked for: per cluster, DescribeServices by 10,
/// all at once.
async fn read_ids(cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
    let mut by_cluster: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for id in ids.iter().filter(|s| !s.is_empty()) {
        let (cluster, name) = service_ref(id);
        by_cluster.entry(cluster).or_default().push((id.clone(), name));
    }
    let calls = by_cluster.iter().flat_map(|(cluster, wanted)| {
        wanted.chunks(DESCRIBE_CHUNK).map(move |chunk| async move {
            let names: Vec<String> = chunk.iter().map(|(_, n)| n.clone()).collect();
            let found = describe(cx, cluster, names).await?;
            Ok::<_, ProviderError>(
                chunk
                    .iter()
                    .filter_map(|(id, name)| {
                        let s = found.iter().find(|s| s.service_name() == Some(name))?;
                        Some((id.clone(), service_attrs(s)?.1))
                    })
                    .collect::<Vec<_>>(),
            )
        })
    });
    Ok(futures::future::try_join_all(calls).await?.into_iter().flatten().collect())
}

/// ListServices of `cluster` (every page), service ARNs; none when the cluster is gone.
async fn list_services(cx: &Ctx, cluster: &str) -> Result<Vec<String>, ProviderError> {
    let mut out = Vec::new();
    let mut pages = client(cx).list_services().cluster(cluster).max_results(100).into_paginator().send();
    while let Some(page) = pages.next().await {
        match page.map_err(aws_err) {
            Ok(p) => out.extend(p.service_arns().iter().cloned()),
            Err(e) if e.code.as_deref() == Some("ClusterNotFoundException") => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The service `name` of `cluster` as described now; an error when it is gone.
async fn describe_one_or_gone(cx: &Ctx, cluster: &str, name: &str) -> Result<Service, ProviderError> {
    deploy::describe_one(cx, cluster, name).await?.ok_or_else(|| {
        ProviderError::with_code("ServiceNotFoundException", format!("service {name} of cluster {cluster} is gone"))
    })
}

/// Waits until the service `name` of `cluster` is INACTIVE or gone, within `bound`; Ctrl-C stops waiting.
async fn wait_inactive(cx: &Ctx, cluster: &str, name: &str, bound: Duration) -> Result<(), ProviderError> {
    let start = tokio::time::Instant::now();
    loop {
        let out = client(cx).describe_services().cluster(cluster).services(name).send().await.map_err(aws_err);
        let status = match out {
            Ok(o) => o.services().first().and_then(|s| s.status()).map(str::to_owned),
            Err(e) if gone(&e) => None,
            Err(e) => return Err(e),
        };
        if status.as_deref().is_none_or(|s| s == "INACTIVE") {
            return Ok(());
        }
        if start.elapsed() >= bound {
            return Err(ProviderError::with_code(
                "WaitTimeout",
                format!(
                    "service {name} of cluster {cluster} is still {} after {}",
                    status.unwrap_or_default(),
                    deploy::elapsed_text(bound)
                ),
            ));
        }
        tokio::select! {
            _ = tokio::time::sleep(cx.waits.poll) => {}
            _ = cx.interrupted() => return Err(ProviderError::new(format!(
                "stopped waiting for service {name} of cluster {cluster} to drain (interrupted); it goes on draining in AWS"
            ))),
        }
    }
}

impl EcsService {
    /// CreateService with the retries of the module doc; the created service.
    async fn create_call(&self, cx: &Ctx, desired: &Attrs, token: &str) -> Result<Service, ProviderError> {
        let (cluster, name) = cluster_and_name(desired)?;
        let lbs = load_balancers(desired);
        let nc = network_configuration(desired)?;
        let grace = int(desired, "health_check_grace_period_seconds").filter(|_| !lbs.is_empty());
        let send = || async {
            client(cx)
                .create_service()
                .cluster(&cluster)
                .service_name(&name)
                .task_definition(req_str(desired, "task_definition")?)
                .set_desired_count(int(desired, "desired_count"))
                .set_launch_type(get_str(desired, "launch_type").map(LaunchType::from))
                .set_platform_version(get_str(desired, "platform_version").map(str::to_owned))
                .set_network_configuration(nc.clone())
                .set_load_balancers(Some(lbs.clone()).filter(|l| !l.is_empty()))
                .deployment_configuration(deployment_configuration(desired))
                .set_health_check_grace_period_seconds(grace)
                .enable_execute_command(get_bool(desired, "enable_execute_command", false))
                .propagate_tags(PropagateTags::from(get_str(desired, "propagate_tags").unwrap_or("NONE")))
                .set_tags(Some(ecs_tags(&tag_map(desired))))
                .client_token(token)
                .send()
                .await
                .map_err(aws_err)
        };
        let bound = timeout(desired, "create");
        for _ in 0..3 {
            match retry_within(cx, "CreateService", PROPAGATION.min(bound), propagating, send).await {
                Ok(out) => {
                    return out
                        .service()
                        .cloned()
                        .ok_or_else(|| ProviderError::new("CreateService returned no service"))
                }
                Err(e) if not_idempotent(&e) => {
                    // The name is taken: by a service still draining (wait for it to go), or by a live one.
                    let live = describe(cx, &cluster, vec![name.clone()]).await?;
                    if let Some(s) = live.first() {
                        return Err(ProviderError::with_code(
                            "InvalidParameterException",
                            format!(
                                "a service named {name} already exists in cluster {cluster} ({}): import it with \
                                 `provisioner import ADDRESS {cluster}/{name}`, or choose another name",
                                s.service_arn().unwrap_or_default()
                            ),
                        ));
                    }
                    tracing::info!("CreateService {name}: the previous service of that name is draining; waiting until it is INACTIVE");
                    wait_inactive(cx, &cluster, &name, bound).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(ProviderError::new(format!("CreateService {name}: the name stayed taken by draining services")))
    }

    /// Watches the deployment of `desired`'s task definition; `Ok(attrs)` when it succeeded, else the
    /// unsettled error (diagnostics printed first). `prior_td`: the revision the service ran before, held
    /// when the deployment does not finish.
    async fn watch(
        &self,
        cx: &Ctx,
        desired: &Attrs,
        kind: &str,
        started: &Service,
        prior_td: Option<String>,
    ) -> Result<Attrs, ProviderError> {
        let (cluster, name) = cluster_and_name(desired)?;
        let addr = address(desired);
        let target = task_definition_key(req_str(desired, "task_definition")?).to_owned();
        let ours = started
            .deployments()
            .iter()
            .find(|d| {
                d.status() == Some("PRIMARY") && d.task_definition().map(task_definition_key) == Some(target.as_str())
            })
            .and_then(|d| d.id())
            .map(str::to_owned);
        let d = Deployment {
            address: &addr,
            cluster: &cluster,
            service: &name,
            target: target.clone(),
            ours,
            timeout: timeout(desired, kind),
        };
        let (last, outcome) = deploy::watch(cx, &d).await;
        let now = last.as_ref().unwrap_or(started);
        let mut attrs = service_attrs(now).map(|(_, a)| a).unwrap_or_else(|| desired.clone());
        attrs.insert("deployed_task_definition".into(), Value::str(&target));
        let why = match outcome {
            Ok(()) => return Ok(attrs),
            Err(u) => u,
        };
        if let Some(td) = prior_td.filter(|td| task_definition_key(td) != target) {
            cx.hold(
                &td,
                format!("the deployment of {addr} did not finish; the previous revision stays as its rollback target"),
            );
        }
        let watch_it = format!(
            "aws ecs describe-services --cluster {cluster} --services {name} --query 'services[0].deployments'"
        );
        let (code, message) = match why {
            Unsettled::Interrupted => (
                "DeploymentInterrupted",
                format!(
                    "stopped watching the deployment of {target} (interrupted): it goes on in AWS. Watch it with \
                     `{watch_it}`, or run `provisioner plan`, which shows whether it finished"
                ),
            ),
            other => {
                let summary = match other {
                    Unsettled::Failed(m) => format!("deployment failed: {m}"),
                    _ => format!(
                        "deployment of {target} did not finish within {} (rollout {}, {}/{} running); it may go on in AWS: `{watch_it}`",
                        deploy::elapsed_text(d.timeout),
                        deploy::ServiceView::of(now).rollout(),
                        now.running_count(),
                        now.desired_count()
                    ),
                };
                let lines = deploy::diagnostics(cx, &d, last.as_ref()).await;
                for l in &lines {
                    cx.report(&addr, l.clone());
                }
                // The first stopped reason, without its task ids (the lines above have them).
                let first = lines
                    .iter()
                    .find(|l| l.starts_with("stopped task: "))
                    .map(|l| format!("; {}", l.rsplit_once(" (").map_or(l.as_str(), |(reason, _)| reason)))
                    .unwrap_or_default();
                (
                    if summary.starts_with("deployment failed") { "DeploymentFailed" } else { "DeploymentTimedOut" },
                    format!("{summary}{first}"),
                )
            }
        };
        Err(ProviderError::with_code(code, message).unsettled(attrs))
    }

    async fn read_one(&self, cx: &Ctx, id: &str) -> Result<Attrs, ProviderError> {
        let ids = [id.to_owned()];
        read_back(cx, "ECS service", id, || read_ids(cx, &ids)).await
    }
}

#[async_trait]
impl Resource for EcsService {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        check(cfg)
    }

    fn validate_related(&self, cfg: &Attrs, related: &[(&str, &Attrs)]) -> Result<(), String> {
        check_load_balancer_containers(cfg, related)
    }

    /// `cluster` as its name, `task_definition` as `family:revision`, an absent circuit breaker as AWS's
    /// disabled one.
    fn normalize(&self, attrs: &mut Attrs) {
        if let Some(Value::String(c)) = attrs.get("cluster") {
            let name = cluster_name(c).to_owned();
            attrs.insert("cluster".into(), Value::str(name));
        }
        if let Some(Value::String(td)) = attrs.get("task_definition") {
            let key = task_definition_key(td).to_owned();
            attrs.insert("task_definition".into(), Value::str(key));
        }
        let absent = match attrs.get("deployment_circuit_breaker") {
            None | Some(Value::Null) => true,
            Some(Value::List(l)) => l.is_empty(),
            _ => false,
        };
        if absent {
            let off = BTreeMap::from([
                ("enable".to_owned(), Value::Bool(false)),
                ("rollback".to_owned(), Value::Bool(false)),
            ]);
            attrs.insert("deployment_circuit_breaker".into(), Value::List(vec![Value::Map(off)]));
        }
    }

    /// The deployment the last apply started has finished: the primary deployment runs the revision it
    /// deployed, its rollout is COMPLETED and running = desired.
    fn settled(&self, attrs: &Attrs) -> bool {
        let counts =
            attrs.get("running_count").and_then(Value::as_i64) == attrs.get("desired_count").and_then(Value::as_i64);
        deployment_finished(attrs) && counts
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        read_ids(cx, ids).await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let tracked: Vec<(String, String)> = ids.iter().filter(|s| !s.is_empty()).map(|id| service_ref(id)).collect();
        let mut clusters: Vec<String> = tracked.iter().map(|(c, _)| c.clone()).collect();
        clusters.sort();
        clusters.dedup();
        let listing = futures::future::try_join_all(
            clusters.iter().map(|c| async move { Ok::<_, ProviderError>((c.clone(), list_services(cx, c).await?)) }),
        );
        let (mut out, listed) = futures::try_join!(read_ids(cx, ids), listing)?;
        let extra: Vec<String> = listed
            .into_iter()
            .flat_map(|(cluster, arns)| arns.into_iter().map(move |a| (cluster.clone(), a)))
            .filter(|(cluster, arn)| {
                let (_, name) = service_ref(arn);
                !tracked.iter().any(|(c, n)| c == cluster && *n == name)
            })
            .map(|(cluster, arn)| {
                // Listed ARNs in the short format name no cluster: read them as `cluster/name`.
                let (_, name) = service_ref(&arn);
                if service_ref(&arn).0 == cluster {
                    arn
                } else {
                    format!("{cluster}/{name}")
                }
            })
            .collect();
        if !extra.is_empty() {
            let found = read_ids(cx, &extra).await?;
            out.extend(
                found
                    .into_iter()
                    .filter(|(_, a)| {
                        let tags = tag_map(a);
                        tags.get(TAG_STACK) == Some(&cx.stack) && cx.in_workspace(&tags)
                    })
                    .map(|(id, a)| {
                        let arn = a.get(ID).and_then(Value::as_str).unwrap_or(&id).to_owned();
                        (arn, a)
                    }),
            );
        }
        Ok(out)
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        check(desired).map_err(ProviderError::new)?;
        let generation = checkpoint.attempt().await;
        let token = deploy::client_token(&tag_map(desired), generation);
        let service = self.create_call(cx, desired, &token).await?;
        let (arn, mut created) =
            service_attrs(&service).ok_or_else(|| ProviderError::new("CreateService returned no ARN"))?;
        let target = task_definition_key(req_str(desired, "task_definition")?).to_owned();
        created.insert("deployed_task_definition".into(), Value::str(&target));
        // The tags sent (an answer without them would read as a tag change).
        if let Some(t) = desired.get("tags") {
            created.insert("tags".into(), t.clone());
        }
        checkpoint.created(&created).await;
        if !get_bool(desired, "wait_for_steady_state", true) {
            return Ok(created);
        }
        // From here on the service exists: whatever happens is reported as unsettled, never as a failed
        // create (which would taint it).
        match self.watch(cx, desired, "create", &service, None).await {
            Ok(attrs) => Ok(attrs),
            Err(e) if e.applied.is_some() => Err(e),
            Err(e) => Err(e.unsettled(with_id(&created, &arn))),
        }
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        check(desired).map_err(ProviderError::new)?;
        let (cluster, name) = cluster_and_name(prior)?;
        let id = get_id(prior)?.to_owned();
        let arn = get_str(prior, "arn").unwrap_or(&id).to_owned();
        let differs = |k: &str| {
            !crate::engine::same(prior.get(k).unwrap_or(&Value::Null), desired.get(k).unwrap_or(&Value::Null))
        };
        let prior_td = get_str(prior, "task_definition").map(task_definition_key).unwrap_or_default().to_owned();
        let target = task_definition_key(req_str(desired, "task_definition")?).to_owned();
        let td_changed = prior_td != target;
        let mut req = client(cx).update_service().cluster(&cluster).service(&name);
        let mut call = false;
        if td_changed {
            req = req.task_definition(&target);
            call = true;
        }
        if differs("desired_count") {
            req = req.set_desired_count(int(desired, "desired_count"));
            call = true;
        }
        if differs("network_configuration") {
            if let Some(nc) = network_configuration(desired)? {
                req = req.network_configuration(nc);
                call = true;
            }
        }
        if differs("load_balancer") {
            req = req.set_load_balancers(Some(load_balancers(desired)));
            call = true;
        }
        if ["deployment_circuit_breaker", "deployment_minimum_healthy_percent", "deployment_maximum_percent"]
            .iter()
            .any(|k| differs(k))
        {
            req = req.deployment_configuration(deployment_configuration(desired));
            call = true;
        }
        if differs("health_check_grace_period_seconds") {
            req = req.set_health_check_grace_period_seconds(int(desired, "health_check_grace_period_seconds"));
            call = true;
        }
        if differs("enable_execute_command") {
            req = req.enable_execute_command(get_bool(desired, "enable_execute_command", false));
            call = true;
        }
        if differs("propagate_tags") {
            req = req.propagate_tags(PropagateTags::from(get_str(desired, "propagate_tags").unwrap_or("NONE")));
            call = true;
        }
        if differs("platform_version") && get_str(desired, "platform_version").is_some() {
            req = req.set_platform_version(get_str(desired, "platform_version").map(str::to_owned));
            call = true;
        }
        // A redeploy: asked for, or the last apply's deployment of this revision did not finish — stuck,
        // failed, interrupted (the engine calls update for an incomplete service even when nothing else
        // changed). A deployment that finished with fewer tasks running than desired is watched again instead.
        let redeploy = get_bool(desired, "force_new_deployment", false) || (!td_changed && !deployment_finished(prior));
        if redeploy {
            req = req.force_new_deployment(true);
            call = true;
        }
        let bound = PROPAGATION.min(timeout(desired, "update"));
        let updated = if call {
            let out = retry_within(cx, "UpdateService", bound, propagating, || {
                let req = req.clone();
                async move { req.send().await.map_err(aws_err) }
            })
            .await?;
            out.service().cloned()
        } else {
            None
        };
        sync_tags(cx, &arn, prior, desired).await?;
        let service = match updated {
            Some(s) => s,
            // Nothing to deploy; but a service the last apply left short of its desired count is watched
            // until it gets there.
            None if self.settled(prior) || !get_bool(desired, "wait_for_steady_state", true) => {
                return self.read_one(cx, &id).await;
            }
            None => describe_one_or_gone(cx, &cluster, &name).await?,
        };
        let prior_arn = task_definition_arn(&arn, &prior_td);
        if !get_bool(desired, "wait_for_steady_state", true) {
            if let Some(td) = prior_arn.filter(|_| td_changed) {
                cx.hold(
                    &td,
                    format!(
                        "the deployment of {} was not watched; the previous revision stays as its rollback target",
                        address(desired)
                    ),
                );
            }
            let mut attrs = self.read_one(cx, &id).await?;
            attrs.insert("deployed_task_definition".into(), Value::str(&target));
            return Ok(attrs);
        }
        self.watch(cx, desired, "update", &service, prior_arn.filter(|_| td_changed)).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let (cluster, name) = cluster_and_name(prior)?;
        let r = client(cx).delete_service().cluster(&cluster).service(&name).force(true).send().await.map_err(aws_err);
        match r {
            Ok(_) => {}
            Err(e) if matches!(e.code.as_deref(), Some("ServiceNotFoundException" | "ClusterNotFoundException")) => {
                return Ok(())
            }
            // Not ACTIVE: already draining (an interrupted delete), wait for it below.
            Err(e) if e.code.as_deref() == Some("ServiceNotActiveException") => {}
            Err(e) => return Err(e),
        }
        wait_inactive(cx, &cluster, &name, timeout(prior, "delete")).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(j: serde_json::Value) -> Attrs {
        crate::value::attrs_from_json(&serde_json::from_value(j).unwrap())
    }

    fn canon(j: serde_json::Value) -> Attrs {
        let mut a = SCHEMA.normalize(&attrs(j));
        EcsService.normalize(&mut a);
        a
    }

    #[test]
    fn replacement_as_terraform_where_aws_refuses_an_update() {
        for n in ["name", "cluster", "launch_type"] {
            assert!(SCHEMA.attribute(n).unwrap().forces_replacement, "{n}");
        }
        for n in [
            "task_definition",
            "desired_count",
            "load_balancer",
            "network_configuration",
            "deployment_circuit_breaker",
            "tags",
        ] {
            assert!(!SCHEMA.attribute(n).unwrap().forces_replacement, "{n}");
        }
        assert_eq!(SCHEMA.attribute("wait_for_steady_state").unwrap().default, Some(Value::Bool(true)));
    }

    #[test]
    fn cluster_and_task_definition_spellings_normalise_equal() {
        let a = canon(json!({"name": "api", "cluster": "arn:aws:ecs:us-east-1:123:cluster/main",
            "task_definition": "arn:aws:ecs:us-east-1:123:task-definition/api:3"}));
        let b = canon(json!({"name": "api", "cluster": "main", "task_definition": "api:3",
            "deployment_circuit_breaker": [{"enable": false, "rollback": false}]}));
        assert_eq!(a, b);
        assert_eq!(a["cluster"], Value::str("main"));
        assert_eq!(a["task_definition"], Value::str("api:3"));
    }

    #[test]
    fn ids_name_cluster_and_service() {
        let r = |s: &str| service_ref(s);
        assert_eq!(r("arn:aws:ecs:us-east-1:123:service/main/api"), ("main".into(), "api".into()));
        assert_eq!(r("arn:aws:ecs:us-east-1:123:service/api"), ("default".into(), "api".into()));
        assert_eq!(r("main/api"), ("main".into(), "api".into()));
        assert_eq!(
            task_definition_arn("arn:aws:ecs:us-east-1:123:service/main/api", "api:3").as_deref(),
            Some("arn:aws:ecs:us-east-1:123:task-definition/api:3")
        );
    }

    #[test]
    fn settled_judges_the_primary_deployment_against_what_was_deployed() {
        let base = json!({"task_definition": "api:1", "deployed_task_definition": "api:2", "deployment_task_definition": "api:1",
            "deployment_rollout_state": "COMPLETED", "running_count": 2, "desired_count": 2});
        assert!(!EcsService.settled(&attrs(base.clone())), "rolled back to api:1");
        let mut done = base.clone();
        done["task_definition"] = json!("api:2");
        done["deployment_task_definition"] = json!("api:2");
        assert!(EcsService.settled(&attrs(done.clone())));
        let mut stuck = done.clone();
        stuck["deployment_rollout_state"] = json!("IN_PROGRESS");
        assert!(!EcsService.settled(&attrs(stuck)));
        let mut short = done;
        short["running_count"] = json!(1);
        assert!(!EcsService.settled(&attrs(short)));
    }

    #[test]
    fn checks() {
        assert!(check(&attrs(json!({"name": "api_v2-x", "task_definition": "api:1"}))).is_ok());
        assert!(check(&attrs(json!({"name": "api.v2"}))).unwrap_err().contains("letters"));
        assert!(check(&attrs(json!({"name": "a", "timeouts": [{"create": "soon"}]})))
            .unwrap_err()
            .contains("not a duration"));
        assert!(
            check(&attrs(json!({"name": "a", "network_configuration": [{"subnets": []}, {"subnets": []}]}))).is_err()
        );
        assert!(check(&attrs(json!({"name": "a", "health_check_grace_period_seconds": 30, "load_balancer": []})))
            .unwrap_err()
            .contains("needs a `load_balancer`"));
        assert!(check(&attrs(json!({"name": "a", "task_definition": "arn:aws:ecs:r:1:task-definition/api:1"}))).is_ok());
    }

    #[test]
    fn eventual_consistency_errors_are_recognised() {
        let e = |c: &str, m: &str| ProviderError::with_code(c, m);
        assert!(propagating(&e("InvalidParameterException", "Unable to assume role and validate the specified targetGroupArn. Please verify that the ECS service role being passed has the proper permissions.")));
        assert!(propagating(&e(
            "InvalidParameterException",
            "The target group with targetGroupArn arn:x does not have an associated load balancer."
        )));
        assert!(!propagating(&e("InvalidParameterException", "Creation of service was not idempotent.")));
        assert!(not_idempotent(&e("InvalidParameterException", "Creation of service was not idempotent.")));
        assert!(!propagating(&e("AccessDeniedException", "Unable to assume role")));
    }

    fn td(arn: Option<&str>, family: &str, defs: serde_json::Value) -> Attrs {
        let mut a = attrs(json!({"family": family, "container_definitions": defs}));
        a.insert("arn".into(), arn.map(Value::str).unwrap_or(Value::Unknown));
        a
    }

    fn lb_cfg(td: Value, name: &str, port: i64) -> Attrs {
        let mut a = attrs(
            json!({"load_balancer": [{"target_group_arn": "tg", "container_name": name, "container_port": port}]}),
        );
        a.insert("task_definition".into(), td);
        a
    }

    #[test]
    fn load_balancer_containers_must_exist_in_the_task_definition() {
        let defs = json!([{"name": "api", "image": "x", "portMappings": [{"containerPort": 8080}]}, {"name": "sidecar", "image": "y"}]);
        let new_rev = td(None, "api", defs.clone());
        let related = [("ecs_task_definition.api", &new_rev)];
        assert!(check_load_balancer_containers(&lb_cfg(Value::Unknown, "api", 8080), &related).is_ok());
        let e = check_load_balancer_containers(&lb_cfg(Value::Unknown, "web", 8080), &related).unwrap_err();
        assert!(
            e.contains("no container `web`") && e.contains("ecs_task_definition.api") && e.contains("api [8080]"),
            "{e}"
        );
        let e = check_load_balancer_containers(&lb_cfg(Value::Unknown, "api", 80), &related).unwrap_err();
        assert!(e.contains("containerPort 80"), "{e}");
        // The JSON-string form, and a known ARN picking among several task definitions.
        let other =
            td(Some("arn:aws:ecs:r:1:task-definition/worker:4"), "worker", json!(r#"[{"name":"worker","image":"z"}]"#));
        let api = td(Some("arn:aws:ecs:r:1:task-definition/api:7"), "api", json!(defs.to_string()));
        let related = [("ecs_task_definition.worker", &other), ("ecs_task_definition.api", &api)];
        assert!(check_load_balancer_containers(&lb_cfg(Value::str("api:7"), "api", 8080), &related).is_ok());
        assert!(check_load_balancer_containers(&lb_cfg(Value::str("worker:4"), "api", 8080), &related).is_err());
        // Unknown definitions, or no task definition among the dependencies: nothing to check.
        let unknown = td(None, "api", json!(null));
        let mut unknown = unknown;
        unknown.insert("container_definitions".into(), Value::Unknown);
        assert!(check_load_balancer_containers(
            &lb_cfg(Value::Unknown, "web", 1),
            &[("ecs_task_definition.api", &unknown)]
        )
        .is_ok());
        assert!(check_load_balancer_containers(&lb_cfg(Value::str("api:1"), "web", 1), &[]).is_ok());
    }
}
