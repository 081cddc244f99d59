//! `ecs_service` through the real binary against the local emulator (`scripts/emulator`), whose deployments
//! progress like AWS's and whose control endpoint ([`common::Moto::ecs_behaviour`]) makes the next
//! deployments of a service complete, fail (circuit breaker, rollback to the previous revision, stopped tasks
//! with reasons, events) or get stuck.
//!
//! Covered: create + wait + empty re-plan + an update deploying a new revision with progress lines; a
//! rolled-back deployment (non-zero exit, stopped reasons and events printed, the service saved incomplete —
//! never tainted —, the next plan an in-place redeploy with a note, which then succeeds); a failed first
//! deployment; a stuck deployment that times out (short `timeouts`); Ctrl-C while waiting; the
//! eventual-consistency errors of CreateService/UpdateService injected through the fault proxy; a crash
//! between CreateService and the state write, and a dropped CreateService reply, each making one service.
//!
//! Each test has its own cluster and task-definition family (registered from outside with the SDK), both
//! named after its stack, and its own service name (the emulator's behaviour rules are per service name,
//! server-wide).

mod common;
mod common_cli;

use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{ContainerDefinition, PortMapping};
use common_cli::*;
use faultproxy::{Fault, Rule};
use serde_json::Value as Json;

const STACK: &str = r#"
[stack]
name = "__STACK__"

[backend]
type = "local"
path = ".provisioner/state.json"

[resource.ecs_service.app]
name = "__STACK__"
cluster = "__CLUSTER__"
task_definition = "__TD__"
desired_count = 2
launch_type = "EC2"
deployment_circuit_breaker = { enable = true, rollback = true }
tags = { team = "platform" }
"#;

/// A test's stack, cluster and task-definition revisions.
struct Svc {
    cli: Cli,
    ecs: aws_sdk_ecs::Client,
    /// ARNs of revisions 1, 2 and 3 of the family.
    revisions: Vec<String>,
}

impl Svc {
    fn new(prefix: &str) -> Svc {
        Svc::with(Cli::new(prefix))
    }

    fn with(cli: Cli) -> Svc {
        let ecs = aws_sdk_ecs::Client::new(&common::sdk_config(cli.moto));
        block_on(ecs.create_cluster().cluster_name(&cli.stack).send()).expect("CreateCluster");
        let revisions = (1..=3)
            .map(|i| {
                let c = ContainerDefinition::builder()
                    .name("app")
                    .image(format!("app:{i}"))
                    .memory(128)
                    .port_mappings(PortMapping::builder().container_port(8080).build())
                    .build();
                let out = block_on(ecs.register_task_definition().family(&cli.stack).container_definitions(c).send())
                    .expect("RegisterTaskDefinition");
                out.task_definition().and_then(|t| t.task_definition_arn()).unwrap().to_owned()
            })
            .collect();
        let svc = Svc { cli, ecs, revisions };
        svc.write(1, "");
        svc
    }

    /// Writes the stack with revision `rev` and `extra` lines in the service block.
    fn write(&self, rev: usize, extra: &str) {
        let text = STACK.replace("__CLUSTER__", &self.cli.stack).replace("__TD__", &self.revisions[rev - 1]);
        self.cli.write("stack.toml", &format!("{text}{extra}\n"));
    }

    /// `family:revision` of revision `rev`.
    fn key(&self, rev: usize) -> String {
        format!("{}:{rev}", self.cli.stack)
    }

    fn behaviour(&self, mode: &str, extra: &str) {
        self.cli.moto.ecs_behaviour(&format!(r#"{{"service": "{}", "mode": "{mode}"{extra}}}"#, self.cli.stack));
    }

    /// The service as ECS describes it (outside view).
    fn describe(&self) -> aws_sdk_ecs::types::Service {
        let out = block_on(
            self.ecs
                .describe_services()
                .cluster(&self.cli.stack)
                .services(&self.cli.stack)
                .include(aws_sdk_ecs::types::ServiceField::Tags)
                .send(),
        )
        .expect("DescribeServices");
        out.services().first().cloned().expect("service described")
    }

    /// ARNs of the cluster's services (INACTIVE ones are not listed).
    fn services(&self) -> Vec<String> {
        block_on(self.ecs.list_services().cluster(&self.cli.stack).send())
            .expect("ListServices")
            .service_arns()
            .to_vec()
    }

    fn attrs(&self) -> Json {
        self.cli.state_resource("ecs_service.app")["attributes"].clone()
    }
}

/// The primary deployment's (task definition key, rollout state).
fn primary(s: &aws_sdk_ecs::types::Service) -> (String, String) {
    let d = s.deployments().iter().find(|d| d.status() == Some("PRIMARY")).expect("a primary deployment");
    let td = d.task_definition().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned();
    (td, d.rollout_state().map(|r| r.as_str().to_owned()).unwrap_or_default())
}

/// The change planned for `address` (panics if there is none).
fn change<'a>(plan: &'a Json, address: &str) -> &'a Json {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == address)
        .unwrap_or_else(|| panic!("{address} in {plan:#}"))
}

/// Asserts the state keeps the service, marked incomplete (never tainted), and the next plan redeploys it in
/// place with a note saying the last apply did not finish.
fn assert_incomplete_and_redeploy_planned(s: &Svc, why: &str) {
    let rec = s.cli.state_resource("ecs_service.app");
    let note = rec["incomplete"].as_str().unwrap_or_else(|| panic!("not marked incomplete: {rec:#}"));
    assert!(note.contains(why), "{note}");
    assert_ne!(rec["tainted"], true, "{rec:#}");
    let plan = s.cli.plan_json(&[]);
    let c = change(&plan, "ecs_service.app");
    assert_eq!(c["action"], "update", "{plan:#}");
    let reason = c["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("the last apply did not finish: ") && reason.contains(why), "{reason}");
    let text = s.cli.ok(&["plan"]);
    assert!(text.stdout.contains("the last apply did not finish"), "{text}");
    assert!(!text.stdout.contains("must be replaced") && !text.stdout.contains("forces replacement"), "{text}");
}

#[test]
fn create_waits_for_the_deployment_replans_empty_and_an_update_deploys_the_new_revision() {
    let s = Svc::new("esvc-ok");
    let out = s.cli.apply();
    assert!(out.stdout.contains("Apply complete! 1 added"), "{out}");
    let (td, rollout) = primary(&s.describe());
    assert_eq!((td, rollout.as_str()), (s.key(1), "COMPLETED"));
    assert_eq!(s.describe().running_count(), 2);
    let a = s.attrs();
    assert_eq!(a["deployment_rollout_state"], "COMPLETED", "{a:#}");
    assert_eq!(a["deployed_task_definition"], s.key(1));
    assert_eq!(a["task_definition"], s.key(1));
    assert_eq!(a["cluster"], s.cli.stack.as_str());
    assert_eq!(a["running_count"], 2);
    assert!(s.cli.id("ecs_service.app").starts_with("arn:aws:ecs:"), "the id is the ARN");
    let tags = s
        .describe()
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
        .collect::<Vec<_>>();
    assert!(
        tags.contains(&("team".into(), "platform".into())) && tags.iter().any(|(k, _)| k == "provisioner:address"),
        "{tags:?}"
    );
    s.cli.expect(0, &["plan", "--detailed-exitcode"]);

    // A new revision: the update deploys it and waits, printing progress lines while the rollout runs.
    s.behaviour("complete", r#", "polls": 12"#);
    s.write(2, "");
    let out = s.cli.in_workspace("default").env("PROVISIONER_PROGRESS_SECS", "0.1").ok(&["apply", "--auto-approve"]);
    assert!(out.stderr.contains("ecs_service.app: Still deploying… ["), "{out}");
    assert!(out.stderr.contains(" elapsed, ") && out.stderr.contains("rollout IN_PROGRESS]"), "{out}");
    let (td, rollout) = primary(&s.describe());
    assert_eq!((td, rollout.as_str()), (s.key(2), "COMPLETED"));
    assert_eq!(s.attrs()["deployed_task_definition"], s.key(2));
    s.cli.expect(0, &["plan", "--detailed-exitcode"]);

    // Scaling is an in-place update, watched until running = desired.
    s.cli.edit("stack.toml", "desired_count = 2", "desired_count = 3");
    s.cli.apply();
    assert_eq!(s.describe().running_count(), 3);
    s.cli.expect(0, &["plan", "--detailed-exitcode"]);

    s.cli.destroy();
    assert!(s.services().is_empty(), "{:?}", s.services());
    assert_eq!(s.describe().status(), Some("INACTIVE"), "destroy waits until the service is INACTIVE");
}

#[test]
fn a_rolled_back_deployment_fails_the_apply_and_the_next_plan_redeploys_in_place() {
    let s = Svc::new("esvc-rb");
    s.cli.apply();
    let pull = "CannotPullContainerError: pull image manifest has been retried 5 time(s): app:2 not found";
    s.behaviour("fail", &format!(r#", "stopped_reasons": ["{pull}"]"#));
    s.write(2, "");
    let out = s.cli.expect(1, &["apply", "--auto-approve"]);
    let all = out.all();
    assert!(all.contains("deployment failed:") && all.contains("rolled back"), "{out}");
    assert!(all.contains(&format!("the service runs {} again", s.key(1))), "{out}");
    assert!(all.contains(&format!("ecs_service.app: stopped task: {pull} (")), "stopped reason printed: {out}");
    assert!(
        all.contains("ecs_service.app: event: ") && all.contains("deployment failed: tasks failed to start"),
        "{out}"
    );
    assert!(all.contains("rolling back to deployment"), "{out}");
    assert!(all.contains("saved as incomplete"), "{out}");
    // The circuit breaker put revision 1 back.
    assert_eq!(primary(&s.describe()).0, s.key(1));
    assert_incomplete_and_redeploy_planned(&s, "rolled back");

    // Fixed (the image exists now): the redeploy of revision 2 succeeds and the record is complete again.
    s.behaviour("complete", "");
    s.cli.apply();
    assert_eq!(primary(&s.describe()), (s.key(2), "COMPLETED".to_owned()));
    assert!(s.cli.state_resource("ecs_service.app")["incomplete"].is_null());
    s.cli.expect(0, &["plan", "--detailed-exitcode"]);
    s.cli.destroy();
}

#[test]
fn a_failed_first_deployment_saves_the_service_incomplete_with_its_stopped_tasks_printed() {
    let s = Svc::new("esvc-first");
    s.behaviour("fail", r#", "stopped_reasons": ["Essential container in task exited", "OutOfMemoryError: Container killed due to memory usage"]"#);
    let out = s.cli.expect(1, &["apply", "--auto-approve"]);
    let all = out.all();
    assert!(all.contains("deployment failed:"), "{out}");
    let stopped: Vec<&str> = all.lines().filter(|l| l.starts_with("ecs_service.app: stopped task: ")).collect();
    assert!(!stopped.is_empty() && stopped.len() <= 2, "the two latest stopped tasks, grouped by reason: {out}");
    assert!(
        stopped.iter().all(|l| l.contains("Essential container in task exited") || l.contains("OutOfMemoryError")),
        "{out}"
    );
    assert_eq!(s.services().len(), 1);
    assert_incomplete_and_redeploy_planned(&s, "deployment failed");
    s.behaviour("complete", "");
    s.cli.apply();
    assert_eq!(s.services().len(), 1, "redeployed in place, never replaced");
    s.cli.expect(0, &["plan", "--detailed-exitcode"]);
    s.cli.destroy();
}

#[test]
fn a_stuck_deployment_times_out_with_diagnostics_and_is_redeployed_next_time() {
    let s = Svc::new("esvc-stuck");
    s.cli.apply();
    let health = "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/1)";
    s.behaviour("stuck", &format!(r#", "stopped_reasons": ["{health}"]"#));
    s.write(2, "timeouts = { update = \"2s\" }");
    let started = Instant::now();
    let out = s.cli.expect(1, &["apply", "--auto-approve"]);
    assert!(started.elapsed() < Duration::from_secs(60), "bounded by the timeout");
    let all = out.all();
    assert!(all.contains(&format!("deployment of {} did not finish within 2s", s.key(2))), "{out}");
    assert!(all.contains("rollout IN_PROGRESS") && all.contains("aws ecs describe-services"), "{out}");
    assert!(all.contains(&format!("ecs_service.app: stopped task: {health}")), "{out}");
    assert_incomplete_and_redeploy_planned(&s, "did not finish within 2s");
    // The stuck deployment is replaced by a forced new one, which completes.
    s.behaviour("complete", "");
    s.cli.apply();
    assert_eq!(primary(&s.describe()), (s.key(2), "COMPLETED".to_owned()));
    s.cli.expect(0, &["plan", "--detailed-exitcode"]);
    s.cli.destroy();
}

#[test]
fn ctrl_c_while_waiting_stops_watching_saves_and_says_how_to_watch() {
    let s = Svc::new("esvc-int");
    s.cli.apply();
    s.behaviour("stuck", "");
    s.write(2, "");
    let (out, stderr) = apply_interrupted_at(&s.cli, "Still deploying");
    let all = format!("{}\n{stderr}", String::from_utf8_lossy(&out.stdout));
    assert_ne!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("goes on in AWS"), "{all}");
    assert!(
        all.contains(&format!("aws ecs describe-services --cluster {} --services {}", s.cli.stack, s.cli.stack)),
        "{all}"
    );
    assert!(!s.cli.lock_path().exists(), "lock released");
    assert_eq!(s.attrs()["deployed_task_definition"], s.key(2), "state saved");
    assert!(s.cli.state_resource("ecs_service.app")["incomplete"].as_str().unwrap().contains("interrupted"));
    // The deployment went on: it is still the primary one.
    assert_eq!(primary(&s.describe()).0, s.key(2));
    s.behaviour("complete", "");
    s.cli.apply();
    s.cli.expect(0, &["plan", "--detailed-exitcode"]);
    s.cli.destroy();
}

#[test]
fn eventual_consistency_errors_are_retried() {
    let (cli, proxy) = behind_proxy(Cli::new("esvc-ec"));
    let s = Svc::with(cli);
    let role = "Unable to assume role and validate the specified targetGroupArn. Please verify that the ECS service role being passed has the proper permissions.";
    let no_lb = "The target group with targetGroupArn arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/1 does not have an associated load balancer.";
    let draining = "Creation of service was not idempotent.";
    proxy.set_rules(vec![
        Rule::new("CreateService", Fault::error(400, "InvalidParameterException", role)).times(1),
        Rule::new("CreateService", Fault::error(400, "InvalidParameterException", no_lb)).skip(1).times(1),
        Rule::new("CreateService", Fault::error(400, "InvalidParameterException", draining)).skip(2).times(1),
        Rule::new("UpdateService", Fault::error(400, "InvalidParameterException", no_lb)).times(1),
    ]);
    let out = s.cli.apply();
    assert!(out.stdout.contains("Apply complete! 1 added"), "{out}");
    assert_eq!(proxy_calls(&proxy, "CreateService"), 4, "{:?}", proxy.calls());
    assert_eq!(s.services().len(), 1);
    s.write(2, "");
    s.cli.apply();
    assert_eq!(proxy_calls(&proxy, "UpdateService"), 2, "{:?}", proxy.calls());
    assert_eq!(proxy.faults().len(), 4, "{:?}", proxy.faults());
    assert_eq!(primary(&s.describe()), (s.key(2), "COMPLETED".to_owned()));
    s.cli.destroy();
}

#[test]
fn a_crash_between_create_service_and_the_state_write_then_a_reapply_makes_one_service() {
    let s = Svc::new("esvc-crash");
    let crashing = s.cli.in_workspace("default").env("PROVISIONER_CRASH_AT", "1");
    let out = crashing.expect(137, &["apply", "--auto-approve", "--parallelism", "1"]);
    assert!(out.stderr.contains("crash point 1 reached (ecs_service.app created, not yet saved)"), "{out}");
    assert_eq!(s.services().len(), 1);
    let lock: Json =
        serde_json::from_str(&std::fs::read_to_string(s.cli.lock_path()).expect("the killed run left its lock"))
            .unwrap();
    s.cli.ok(&["force-unlock", lock["id"].as_str().unwrap()]);
    let out = s.cli.apply();
    assert!(out.stdout.contains("Apply complete!"), "{out}");
    let services = s.services();
    assert_eq!(services.len(), 1, "the same client token got the same service back: {services:?}");
    assert_eq!(s.cli.id("ecs_service.app"), services[0]);
    s.cli.expect(0, &["plan", "--detailed-exitcode"]);
    s.cli.destroy();
}

#[test]
fn a_dropped_create_service_reply_retried_by_the_sdk_makes_one_service() {
    let (cli, proxy) = behind_proxy(Cli::new("esvc-drop"));
    let s = Svc::with(cli);
    proxy.set_rules(vec![Rule::new("CreateService", Fault::DropReply {}).times(1)]);
    let out = s.cli.apply();
    assert!(out.stdout.contains("Apply complete! 1 added"), "{out}");
    assert_eq!(proxy_calls(&proxy, "CreateService"), 2, "{:?}", proxy.calls());
    assert_eq!(s.services().len(), 1, "{:?}", s.services());
    s.cli.expect(0, &["plan", "--detailed-exitcode"]);
    s.cli.destroy();
}

/// The stack with the cluster and task definition as resources, `image` in the container and `extra` lines
/// in the service block.
fn write_managed(cli: &Cli, image: &str, extra: &str) {
    cli.write(
        "stack.toml",
        &format!(
            r#"
[stack]
name = "__STACK__"

[backend]
type = "local"
path = ".provisioner/state.json"

[resource.ecs_cluster.main]
name = "__STACK__"

[resource.ecs_task_definition.app]
family = "__STACK__"
network_mode = "bridge"
container_definitions = [{{ name = "app", image = "{image}", memory = 128, portMappings = [{{ containerPort = 8080 }}] }}]

[resource.ecs_service.app]
name = "__STACK__"
cluster = "${{ecs_cluster.main.arn}}"
task_definition = "${{ecs_task_definition.app.arn}}"
desired_count = 1
launch_type = "EC2"
{extra}
"#
        ),
    );
}

fn td_status(ecs: &aws_sdk_ecs::Client, arn: &str) -> String {
    let out = block_on(ecs.describe_task_definition().task_definition(arn).send()).expect("DescribeTaskDefinition");
    out.task_definition().and_then(|t| t.status()).map(|s| s.as_str().to_owned()).unwrap_or_default()
}

#[test]
fn a_new_revision_deploys_and_the_old_one_goes_after_the_deploy_or_at_the_next_apply_when_not_watched() {
    let cli = Cli::new("esvc-td");
    let ecs = aws_sdk_ecs::Client::new(&common::sdk_config(cli.moto));
    write_managed(&cli, "app:1", "");
    cli.apply();
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    let r1 = cli.id("ecs_task_definition.app");

    // A new image: revision 2 is registered first, the service deploys it, then revision 1 is deregistered.
    write_managed(&cli, "app:2", "");
    let out = cli.apply();
    assert!(out.stdout.contains("Apply complete!"), "{out}");
    let r2 = cli.id("ecs_task_definition.app");
    assert_ne!(r1, r2);
    assert_eq!(td_status(&ecs, &r1), "INACTIVE", "the old revision is deregistered in the same apply");
    assert_eq!(td_status(&ecs, &r2), "ACTIVE");
    let svc = block_on(ecs.describe_services().cluster(&cli.stack).services(&cli.stack).send()).unwrap();
    assert_eq!(primary(&svc.services()[0]), (r2.rsplit('/').next().unwrap().to_owned(), "COMPLETED".to_owned()));
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    // Not watched: the previous revision stays (the deployment's rollback target) until the next apply.
    write_managed(&cli, "app:3", "wait_for_steady_state = false");
    let out = cli.apply();
    assert!(out.all().contains("was not watched; the previous revision stays as its rollback target"), "{out}");
    let r3 = cli.id("ecs_task_definition.app");
    assert_eq!(td_status(&ecs, &r2), "ACTIVE", "kept: {out}");
    assert!(
        cli.state_addresses().contains(&"ecs_task_definition.app (deposed)".to_owned()),
        "{:?}",
        cli.state_addresses()
    );
    cli.apply();
    assert_eq!(td_status(&ecs, &r2), "INACTIVE", "deleted by the next apply");
    assert_eq!(td_status(&ecs, &r3), "ACTIVE");
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
}

#[test]
fn a_load_balancer_container_missing_from_the_task_definition_fails_at_plan() {
    let cli = Cli::new("esvc-lbc");
    let tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/1";
    write_managed(
        &cli,
        "app:1",
        &format!(
            "load_balancer = [{{ target_group_arn = \"{tg}\", container_name = \"web\", container_port = 8080 }}]"
        ),
    );
    let out = cli.expect(1, &["plan"]);
    assert!(out.all().contains("load_balancer: there is no container `web` in ecs_task_definition.app"), "{out}");
    write_managed(
        &cli,
        "app:1",
        &format!("load_balancer = [{{ target_group_arn = \"{tg}\", container_name = \"app\", container_port = 80 }}]"),
    );
    let out = cli.expect(1, &["plan"]);
    assert!(out.all().contains("container `app` has no portMappings entry with containerPort 80"), "{out}");
    assert!(!cli.state_path().exists() || cli.state_addresses().is_empty(), "nothing applied");
}
