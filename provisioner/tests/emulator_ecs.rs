//! The local AWS emulator's ECS rules (`scripts/emulator.py`), checked through the AWS SDK as the product
//! sees them: deployments that progress per DescribeServices poll as on AWS, a new deployment per
//! UpdateService, the control endpoint's fail (circuit breaker + rollback), stuck and stopped-task modes,
//! DRAINING → INACTIVE and "not idempotent", client tokens, and the container-definition defaults AWS adds.
//!
//! These test the test fixture, not the product. The tests of this binary share one emulator (the
//! default of 2 polls per deployment); each uses its own cluster and service names, and behaviour rules name
//! their own service, never `"*"` (except on the private server of `control_endpoint_rules`).

mod common;

use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::types::{
    AwsVpcConfiguration, Compatibility, ContainerDefinition, DeploymentCircuitBreaker, DeploymentConfiguration,
    DeploymentRolloutState, DesiredStatus, HealthCheck, LaunchType, NetworkConfiguration, NetworkMode, PortMapping,
    Service, ServiceField, Tag, TransportProtocol,
};
use common::*;

/// A cluster, two revisions of a FARGATE task family and a network for awsvpc services, all named after `name`.
struct Fixture {
    ecs: aws_sdk_ecs::Client,
    cluster: String,
    rev1: String,
    rev2: String,
    network: NetworkConfiguration,
}

async fn fixture(moto: &Moto, name: &str) -> Fixture {
    let ec2 = ec2_client(moto);
    let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await.unwrap().vpc.unwrap().vpc_id.unwrap();
    let subnet = ec2.create_subnet().vpc_id(&vpc).cidr_block("10.0.1.0/24").send().await.unwrap();
    let subnet = subnet.subnet.unwrap().subnet_id.unwrap();
    let sg = ec2.create_security_group().group_name(name).description("emulator test").vpc_id(&vpc).send().await;
    let sg = sg.unwrap().group_id.unwrap();
    let ecs = aws_sdk_ecs::Client::new(&sdk_config(moto));
    ecs.create_cluster().cluster_name(name).send().await.unwrap();
    let mut revisions = Vec::new();
    for image in ["nginx:1", "nginx:2"] {
        let td = ecs
            .register_task_definition()
            .family(name)
            .requires_compatibilities(Compatibility::Fargate)
            .network_mode(NetworkMode::Awsvpc)
            .cpu("256")
            .memory("512")
            .container_definitions(ContainerDefinition::builder().name("app").image(image).build())
            .send()
            .await
            .unwrap();
        revisions.push(td.task_definition.unwrap().task_definition_arn.unwrap());
    }
    let network = NetworkConfiguration::builder()
        .awsvpc_configuration(AwsVpcConfiguration::builder().subnets(subnet).security_groups(sg).build().unwrap())
        .build();
    Fixture { ecs, cluster: name.to_owned(), rev2: revisions.pop().unwrap(), rev1: revisions.pop().unwrap(), network }
}

impl Fixture {
    async fn create(&self, service: &str, desired: i32, token: Option<&str>) -> Result<Service, String> {
        self.ecs
            .create_service()
            .cluster(&self.cluster)
            .service_name(service)
            .task_definition(&self.rev1)
            .desired_count(desired)
            .launch_type(LaunchType::Fargate)
            .network_configuration(self.network.clone())
            .tags(Tag::builder().key("team").value("core").build())
            .set_client_token(token.map(str::to_owned))
            .send()
            .await
            .map(|o| o.service.unwrap())
            .map_err(|e| format!("{}: {}", e.code().unwrap_or("?"), e.message().unwrap_or("?")))
    }

    /// One poll: DescribeServices of `service` (with its tags).
    async fn describe(&self, service: &str) -> Service {
        let out = self
            .ecs
            .describe_services()
            .cluster(&self.cluster)
            .services(service)
            .include(ServiceField::Tags)
            .send()
            .await
            .unwrap();
        assert!(out.failures().is_empty(), "{:?}", out.failures());
        out.services().first().cloned().expect("the service is described")
    }

    /// The service's tasks with this desired status, described.
    async fn tasks(&self, service: &str, status: DesiredStatus) -> Vec<aws_sdk_ecs::types::Task> {
        let list = self
            .ecs
            .list_tasks()
            .cluster(&self.cluster)
            .service_name(service)
            .desired_status(status)
            .send()
            .await
            .unwrap();
        if list.task_arns().is_empty() {
            return Vec::new();
        }
        let tasks = self.ecs.describe_tasks().cluster(&self.cluster).set_tasks(Some(list.task_arns().to_vec()));
        tasks.send().await.unwrap().tasks().to_vec()
    }
}

fn rollout(d: &aws_sdk_ecs::types::Deployment) -> DeploymentRolloutState {
    d.rollout_state().cloned().expect("a rollout state")
}

fn messages(s: &Service) -> Vec<&str> {
    s.events().iter().map(|e| e.message().unwrap_or_default()).collect()
}

/// `(id, status, taskDefinition, rolloutState, runningCount)` of every deployment, PRIMARY first.
fn deployments(s: &Service) -> Vec<(String, String, String, DeploymentRolloutState, i32)> {
    s.deployments()
        .iter()
        .map(|d| {
            let id = d.id().unwrap().to_owned();
            (id, d.status().unwrap().to_owned(), d.task_definition().unwrap().to_owned(), rollout(d), d.running_count())
        })
        .collect()
}

#[tokio::test]
async fn task_definitions_get_the_defaults_aws_adds() {
    let moto = Moto::shared();
    let ecs = aws_sdk_ecs::Client::new(&sdk_config(moto));
    let container = ContainerDefinition::builder()
        .name("app")
        .image("nginx")
        .port_mappings(PortMapping::builder().container_port(8080).build())
        .health_check(HealthCheck::builder().command("CMD").command("true").build().unwrap())
        .build();
    let td = ecs
        .register_task_definition()
        .family("emu-defaults")
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .container_definitions(container)
        .send()
        .await
        .unwrap()
        .task_definition
        .unwrap();
    let c = &td.container_definitions()[0];
    assert_eq!(c.cpu(), 0);
    assert_eq!(c.essential(), Some(true));
    let pm = &c.port_mappings()[0];
    assert_eq!(
        (pm.container_port(), pm.host_port(), pm.protocol()),
        (Some(8080), Some(8080), Some(&TransportProtocol::Tcp))
    );
    for (field, list) in [
        ("environment", c.environment.as_ref().map(Vec::len)),
        ("mountPoints", c.mount_points.as_ref().map(Vec::len)),
        ("volumesFrom", c.volumes_from.as_ref().map(Vec::len)),
        ("systemControls", c.system_controls.as_ref().map(Vec::len)),
    ] {
        assert_eq!(list, Some(0), "{field} is returned as an empty list");
    }
    let hc = c.health_check().unwrap();
    assert_eq!((hc.interval(), hc.timeout(), hc.retries()), (Some(30), Some(5), Some(3)));
}

#[tokio::test]
async fn a_service_deploys_completes_and_redeploys_as_on_aws() {
    let moto = Moto::shared();
    let f = fixture(moto, "emu-deploy").await;

    let created = f.create("web", 2, None).await.unwrap();
    let d = deployments(&created);
    assert_eq!(d.len(), 1);
    let first = d[0].0.clone();
    assert!(first.starts_with("ecs-svc/"), "{first}");
    assert_eq!(
        (d[0].1.as_str(), d[0].2.as_str(), &d[0].3, d[0].4),
        ("PRIMARY", f.rev1.as_str(), &DeploymentRolloutState::InProgress, 0)
    );
    assert_eq!((created.running_count(), created.pending_count()), (0, 2));
    // AWS's defaults for what CreateService left out.
    let dc = created.deployment_configuration().unwrap();
    assert_eq!((dc.maximum_percent(), dc.minimum_healthy_percent()), (Some(200), Some(100)));
    let cb = dc.deployment_circuit_breaker().unwrap();
    assert_eq!((cb.enable(), cb.rollback()), (false, false));
    assert_eq!(created.platform_version(), Some("LATEST"));
    assert_eq!(created.health_check_grace_period_seconds(), Some(0));
    assert!(!created.enable_execute_command());

    // Poll 1: still in progress; poll 2: completed with running == desired.
    let s = f.describe("web").await;
    assert_eq!((rollout(&s.deployments()[0]), s.running_count()), (DeploymentRolloutState::InProgress, 0));
    assert_eq!(s.tags().len(), 1);
    let s = f.describe("web").await;
    let p = &s.deployments()[0];
    assert_eq!(
        (rollout(p), p.running_count(), s.running_count(), s.pending_count()),
        (DeploymentRolloutState::Completed, 2, 2, 0)
    );
    assert_eq!(p.rollout_state_reason(), Some(format!("ECS deployment {first} completed.").as_str()));
    let ev = messages(&s);
    assert_eq!(ev[0], "(service web) has reached a steady state.");
    assert_eq!(ev[1], format!("(service web) (deployment {first}) deployment completed."));
    assert!(ev[2].starts_with("(service web) has started 2 tasks: (task "), "{ev:?}");
    let running = f.tasks("web", DesiredStatus::Running).await;
    assert_eq!(running.len(), 2);
    for t in &running {
        assert_eq!(
            (t.last_status(), t.started_by(), t.group()),
            (Some("RUNNING"), Some(first.as_str()), Some("service:web"))
        );
        assert_eq!(t.task_definition_arn(), Some(f.rev1.as_str()));
    }

    // A new revision: a new PRIMARY deployment, the previous one ACTIVE, then completed alone.
    let updated = f.ecs.update_service().cluster(&f.cluster).service("web").task_definition(&f.rev2).send().await;
    let d = deployments(&updated.unwrap().service.unwrap());
    assert_eq!(d.len(), 2);
    let second = d[0].0.clone();
    assert_ne!(second, first);
    assert_eq!(
        (d[0].1.as_str(), d[0].2.as_str(), &d[0].3),
        ("PRIMARY", f.rev2.as_str(), &DeploymentRolloutState::InProgress)
    );
    assert_eq!(
        (d[1].0.as_str(), d[1].1.as_str(), d[1].2.as_str(), d[1].4),
        (first.as_str(), "ACTIVE", f.rev1.as_str(), 2)
    );
    f.describe("web").await;
    let s = f.describe("web").await;
    let d = deployments(&s);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].0.as_str(), &d[0].3, d[0].4), (second.as_str(), &DeploymentRolloutState::Completed, 2));
    assert_eq!(s.task_definition(), Some(f.rev2.as_str()));
    let running = f.tasks("web", DesiredStatus::Running).await;
    assert_eq!(running.iter().filter(|t| t.started_by() == Some(second.as_str())).count(), 2);
    assert_eq!(running.len(), 2, "the old revision's tasks are stopped");

    // forceNewDeployment: a new deployment of the same revision.
    let forced = f.ecs.update_service().cluster(&f.cluster).service("web").force_new_deployment(true).send().await;
    let d = deployments(&forced.unwrap().service.unwrap());
    assert_eq!((d.len(), d[0].2.as_str()), (2, f.rev2.as_str()));
    f.describe("web").await;
    f.describe("web").await;

    // desiredCount alone: no new deployment; running catches up after the polls.
    let scaled = f.ecs.update_service().cluster(&f.cluster).service("web").desired_count(3).send().await;
    let scaled = scaled.unwrap().service.unwrap();
    let d = deployments(&scaled);
    assert_eq!((d.len(), scaled.desired_count(), scaled.running_count()), (1, 3, 2));
    let third = d[0].0.clone();
    f.describe("web").await;
    let s = f.describe("web").await;
    assert_eq!((s.deployments()[0].id(), s.running_count()), (Some(third.as_str()), 3));

    // Every updatable field is applied.
    let dc = DeploymentConfiguration::builder()
        .maximum_percent(150)
        .minimum_healthy_percent(50)
        .deployment_circuit_breaker(DeploymentCircuitBreaker::builder().enable(true).rollback(true).build())
        .build();
    let u = f
        .ecs
        .update_service()
        .cluster(&f.cluster)
        .service("web")
        .deployment_configuration(dc)
        .health_check_grace_period_seconds(45)
        .enable_execute_command(true)
        .propagate_tags(aws_sdk_ecs::types::PropagateTags::Service)
        .platform_version("1.4.0")
        .send()
        .await
        .unwrap()
        .service
        .unwrap();
    let dc = u.deployment_configuration().unwrap();
    let cb = dc.deployment_circuit_breaker().unwrap();
    assert_eq!(
        (dc.maximum_percent(), dc.minimum_healthy_percent(), cb.enable(), cb.rollback()),
        (Some(150), Some(50), true, true)
    );
    assert_eq!((u.health_check_grace_period_seconds(), u.enable_execute_command()), (Some(45), true));
    assert_eq!(u.propagate_tags(), Some(&aws_sdk_ecs::types::PropagateTags::Service));
    assert_eq!(u.platform_version(), Some("1.4.0"));
    assert_eq!(u.deployments().len(), 2, "a new platform version is a new deployment");
}

#[tokio::test]
async fn a_failed_deployment_rolls_back_to_the_previous_revision() {
    let moto = Moto::shared();
    let f = fixture(moto, "emu-fail").await;
    f.create("api", 2, None).await.unwrap();
    f.describe("api").await;
    let good = f.describe("api").await.deployments()[0].id().unwrap().to_owned();

    moto.ecs_behaviour(
        r#"{"service": "api", "mode": "fail", "polls": 2, "stopped_reasons": ["Essential container in task exited"]}"#,
    );
    let dc = DeploymentConfiguration::builder()
        .deployment_circuit_breaker(DeploymentCircuitBreaker::builder().enable(true).rollback(true).build())
        .build();
    let u =
        f.ecs.update_service().cluster(&f.cluster).service("api").task_definition(&f.rev2).deployment_configuration(dc);
    let bad = u.send().await.unwrap().service.unwrap().deployments()[0].id().unwrap().to_owned();
    // (The rollback deployment itself completes with the default behaviour, whatever the rule says.)

    let s = f.describe("api").await;
    assert_eq!(rollout(&s.deployments()[0]), DeploymentRolloutState::InProgress);
    let s = f.describe("api").await;
    let d = deployments(&s);
    // FAILED, then a new PRIMARY deployment of the previous revision.
    assert_eq!(d.len(), 3, "{d:?}");
    assert_eq!(
        (d[0].1.as_str(), d[0].2.as_str(), &d[0].3),
        ("PRIMARY", f.rev1.as_str(), &DeploymentRolloutState::InProgress)
    );
    assert_eq!(
        (d[1].0.as_str(), d[1].2.as_str(), &d[1].3, d[1].4),
        (bad.as_str(), f.rev2.as_str(), &DeploymentRolloutState::Failed, 0)
    );
    let failed = &s.deployments()[1];
    assert!(failed.failed_tasks() >= 3, "{}", failed.failed_tasks());
    assert_eq!(failed.rollout_state_reason(), Some("ECS deployment circuit breaker: tasks failed to start."));
    assert_eq!(s.task_definition(), Some(f.rev1.as_str()), "the service is back on the previous revision");
    let ev = messages(&s);
    assert_eq!(ev[0], format!("(service api) rolling back to deployment {good}."));
    assert_eq!(ev[1], format!("(service api) (deployment {bad}) deployment failed: tasks failed to start."));
    let stopped = f.tasks("api", DesiredStatus::Stopped).await;
    let failed_tasks: Vec<_> = stopped.iter().filter(|t| t.started_by() == Some(bad.as_str())).collect();
    assert!(failed_tasks.len() >= 3, "{stopped:?}");
    for t in failed_tasks {
        assert_eq!(
            (t.last_status(), t.stopped_reason()),
            (Some("STOPPED"), Some("Essential container in task exited"))
        );
        assert!(t.stopped_at().is_some());
    }

    // The rollback completes; the failed deployment is gone.
    f.describe("api").await;
    let s = f.describe("api").await;
    let d = deployments(&s);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].2.as_str(), &d[0].3, d[0].4), (f.rev1.as_str(), &DeploymentRolloutState::Completed, 2));
}

#[tokio::test]
async fn a_failed_first_deployment_stays_failed() {
    let moto = Moto::shared();
    let f = fixture(moto, "emu-fail-first").await;
    moto.ecs_behaviour(r#"{"service": "once", "mode": "fail", "polls": 1}"#);
    f.create("once", 2, None).await.unwrap();
    for _ in 0..3 {
        let s = f.describe("once").await;
        let d = deployments(&s);
        assert_eq!(d.len(), 1);
        assert_eq!((&d[0].3, d[0].4, s.running_count()), (&DeploymentRolloutState::Failed, 0, 0));
    }
    let stopped = f.tasks("once", DesiredStatus::Stopped).await;
    assert!(stopped.len() >= 3);
    assert!(stopped.iter().all(|t| t.stopped_reason() == Some("Essential container in task exited")));
}

#[tokio::test]
async fn a_stuck_deployment_never_completes_and_stops_tasks_with_reasons() {
    let moto = Moto::shared();
    let f = fixture(moto, "emu-stuck").await;
    moto.ecs_behaviour(
        r#"{"service": "slow", "mode": "stuck", "stopped_reasons": ["CannotPullContainerError: pull access denied"]}"#,
    );
    f.create("slow", 2, None).await.unwrap();
    for _ in 0..6 {
        let s = f.describe("slow").await;
        assert_eq!(
            (rollout(&s.deployments()[0]), s.running_count(), s.desired_count()),
            (DeploymentRolloutState::InProgress, 0, 2)
        );
    }
    let stopped = f.tasks("slow", DesiredStatus::Stopped).await;
    assert_eq!(stopped.len(), 6, "one stopped task per poll");
    assert!(stopped.iter().all(|t| t.stopped_reason() == Some("CannotPullContainerError: pull access denied")));
    assert!(f.tasks("slow", DesiredStatus::Running).await.is_empty());

    // complete with reasons: stopped tasks along the way, then COMPLETED.
    moto.ecs_behaviour(
        r#"{"service": "flaky", "mode": "complete", "polls": 3, "stopped_reasons": ["Task failed ELB health checks"]}"#,
    );
    f.create("flaky", 1, None).await.unwrap();
    f.describe("flaky").await;
    f.describe("flaky").await;
    let s = f.describe("flaky").await;
    assert_eq!((rollout(&s.deployments()[0]), s.running_count()), (DeploymentRolloutState::Completed, 1));
    let stopped = f.tasks("flaky", DesiredStatus::Stopped).await;
    assert_eq!(stopped.len(), 2);
    assert!(stopped.iter().all(|t| t.stopped_reason() == Some("Task failed ELB health checks")));
}

#[tokio::test]
async fn a_deleted_service_drains_then_its_name_is_free() {
    let moto = Moto::shared();
    let f = fixture(moto, "emu-drain").await;
    f.create("gone", 1, None).await.unwrap();
    let err = f.ecs.delete_service().cluster(&f.cluster).service("gone").send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterException"));
    let deleted = f.ecs.delete_service().cluster(&f.cluster).service("gone").force(true).send().await.unwrap();
    assert_eq!(deleted.service.unwrap().status(), Some("DRAINING"));

    assert_eq!(f.describe("gone").await.status(), Some("DRAINING"));
    let err = f.create("gone", 1, None).await.unwrap_err();
    assert_eq!(err, "InvalidParameterException: Creation of service was not idempotent.");
    let s = f.describe("gone").await;
    assert_eq!((s.status(), s.running_count()), (Some("INACTIVE"), 0));
    assert_eq!(f.describe("gone").await.status(), Some("INACTIVE"), "INACTIVE services are still described");
    let listed = f.ecs.list_services().cluster(&f.cluster).send().await.unwrap();
    assert!(listed.service_arns().is_empty(), "INACTIVE services are not listed");
    assert!(f.tasks("gone", DesiredStatus::Running).await.is_empty());

    let again = f.create("gone", 1, None).await.unwrap();
    assert_eq!((again.status(), deployments(&again).len()), (Some("ACTIVE"), 1));
}

#[tokio::test]
async fn a_client_token_makes_create_service_idempotent() {
    let moto = Moto::shared();
    let f = fixture(moto, "emu-token").await;
    let first = f.create("tok", 1, Some("token-1")).await.unwrap();
    let again = f.create("tok", 1, Some("token-1")).await.unwrap();
    assert_eq!(again.service_arn(), first.service_arn());
    assert_eq!(again.deployments()[0].id(), first.deployments()[0].id(), "the same service, not a second one");
    let err = f.create("tok", 1, Some("token-2")).await.unwrap_err();
    assert_eq!(err, "InvalidParameterException: Creation of service was not idempotent.");
    let err = f.create("tok", 1, None).await.unwrap_err();
    assert_eq!(err, "InvalidParameterException: Creation of service was not idempotent.");
    let listed = f.ecs.list_services().cluster(&f.cluster).send().await.unwrap();
    assert_eq!(listed.service_arns().len(), 1);
}

#[tokio::test]
async fn list_service_deployments_answers() {
    let moto = Moto::shared();
    let f = fixture(moto, "emu-history").await;
    f.create("hist", 1, None).await.unwrap();
    f.describe("hist").await;
    f.describe("hist").await;
    let out = f.ecs.list_service_deployments().cluster(&f.cluster).service("hist").send().await.unwrap();
    let statuses: Vec<_> = out.service_deployments().iter().map(|d| d.status().unwrap().as_str().to_owned()).collect();
    assert_eq!(statuses, ["SUCCESSFUL"]);
}

/// The control endpoint on a private server: rules are listed, replaced per service, and cleared by a reset.
#[tokio::test]
async fn control_endpoint_rules() {
    let moto = Moto::start();
    let answer: serde_json::Value =
        serde_json::from_str(&moto.ecs_behaviour(r#"{"service": "*", "mode": "stuck"}"#)).unwrap();
    assert_eq!(answer["rules"], serde_json::json!([{"service": "*", "mode": "stuck"}]));
    moto.ecs_behaviour(r#"{"service": "a", "mode": "fail", "polls": 1}"#);
    let answer: serde_json::Value =
        serde_json::from_str(&moto.ecs_behaviour(r#"{"service": "a", "mode": "complete", "polls": 5}"#)).unwrap();
    assert_eq!(
        answer["rules"],
        serde_json::json!([{"service": "*", "mode": "stuck"}, {"service": "a", "mode": "complete", "polls": 5}])
    );

    // "*" applies to any service without a rule of its own.
    let f = fixture(&moto, "emu-rules").await;
    f.create("other", 1, None).await.unwrap();
    for _ in 0..4 {
        assert_eq!(rollout(&f.describe("other").await.deployments()[0]), DeploymentRolloutState::InProgress);
    }

    moto.reset();
    let answer: serde_json::Value = serde_json::from_str(&moto.ecs_behaviour(r#"{"service": "b"}"#)).unwrap();
    assert_eq!(answer["rules"], serde_json::json!([{"service": "b", "mode": "complete"}]), "reset cleared the rules");
    moto.clear_ecs_behaviour();
}
