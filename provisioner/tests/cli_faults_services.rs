//! Fault paths of the non-EC2 services through `faultproxy` between the CLI and moto, on one stack with a
//! VPC, two subnets and a security group, a load balancer with a target group (ip), a listener and a
//! listener rule, an IAM role with an inline policy and an attached customer-managed policy, a log group and
//! an ECR repository with its lifecycle policy.
//!
//! The proxy writes each injected error in the protocol of the service (`<ErrorResponse>` for IAM and
//! ELBv2, `__type` JSON for CloudWatch Logs and ECR), so these tests also prove the SDK sees the injected
//! codes. Covered (the eventual-consistency and ordering errors of `shared/design/aws-behaviour.md` 1b/1c
//! that apply to these types):
//!
//! - IAM `NoSuchEntity` on PutRolePolicy / AttachRolePolicy right after CreateRole;
//! - ELBv2 `LoadBalancerNotFound` on the DescribeLoadBalancers poll after CreateLoadBalancer,
//!   `TargetGroupNotFound` on CreateListener, `ListenerNotFound` on CreateRule, and `ResourceInUse`
//!   ("Target group '…' is currently in use by a listener or a rule") on DeleteTargetGroup during destroy;
//! - CloudWatch Logs `ResourceNotFoundException` on PutRetentionPolicy right after CreateLogGroup and
//!   `OperationAbortedException` on CreateLogGroup and DeleteLogGroup;
//! - ECR `RepositoryNotFoundException` on PutLifecyclePolicy right after CreateRepository;
//! - throttling of query services (IAM, ELBv2: `Throttling`, HTTP 400) and JSON services (Logs, ECR:
//!   `ThrottlingException`, HTTP 400), retried by the SDK — a 400 is retried only when its code was parsed.
//!
//! Each test checks that apply and destroy succeed, that the proxy injected the faults and saw the retries,
//! that the re-plan is empty, and that destroy leaves nothing (checked from outside on moto).

mod common;
mod common_cli;

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_types::SdkConfig;
use common_cli::*;
use faultproxy::{Fault, Proxy, Rule};

const STACK: &str = r#"
[stack]
name = "__STACK__"

[backend]
type = "local"
path = ".provisioner/state.json"

[resource.vpc.main]
cidr_block = "10.42.0.0/16"

[resource.subnet.a]
vpc_id = "${vpc.main.id}"
cidr_block = "10.42.1.0/24"
availability_zone = "us-east-1a"

[resource.subnet.b]
vpc_id = "${vpc.main.id}"
cidr_block = "10.42.2.0/24"
availability_zone = "us-east-1b"

[resource.security_group.lb]
name = "__STACK__-lb"
vpc_id = "${vpc.main.id}"
ingress = [{ from_port = 80, to_port = 80, protocol = "tcp", cidr_blocks = ["10.0.0.0/8"] }]

[resource.lb.main]
name_prefix = "fs-"
internal = true
subnets = ["${subnet.a.id}", "${subnet.b.id}"]
security_groups = ["${security_group.lb.id}"]

[resource.lb_target_group.api]
name_prefix = "fs-"
port = 8080
protocol = "HTTP"
target_type = "ip"
vpc_id = "${vpc.main.id}"
health_check = [{ path = "/health" }]

[resource.lb_listener.http]
load_balancer_arn = "${lb.main.arn}"
port = 80
default_action = [{ type = "fixed-response", fixed_response = [{ content_type = "text/plain", message_body = "not here", status_code = "404" }] }]

[resource.lb_listener_rule.api]
listener_arn = "${lb_listener.http.arn}"
priority = 10
action = [{ type = "forward", target_group_arn = "${lb_target_group.api.arn}" }]
condition = [{ path_pattern = [{ values = ["/api/*"] }] }]

[resource.iam_role.task]
name_prefix = "__STACK__-"

[resource.iam_role.task.assume_role_policy]
Version = "2012-10-17"
Statement = [{ Effect = "Allow", Principal = { Service = "ecs-tasks.amazonaws.com" }, Action = "sts:AssumeRole" }]

[resource.iam_role_policy.logs]
role = "${iam_role.task.name}"
name = "write-logs"
policy = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = "${cloudwatch_log_group.app.arn}:*" }] }

[resource.iam_role_policy_attachment.pull]
role = "${iam_role.task.name}"
policy_arn = "__POLICY__"

[resource.cloudwatch_log_group.app]
name = "/__STACK__/app"
retention_in_days = 7

[resource.ecr_repository.app]
name = "__STACK__/app"
force_delete = true

[resource.ecr_lifecycle_policy.app]
repository = "${ecr_repository.app.name}"
policy = { rules = [{ rulePriority = 1, description = "keep 10", selection = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 10 }, action = { type = "expire" } }] }
"#;

/// Addresses of the stack (14 objects).
const ADDRESSES: [&str; 14] = [
    "cloudwatch_log_group.app",
    "ecr_lifecycle_policy.app",
    "ecr_repository.app",
    "iam_role.task",
    "iam_role_policy.logs",
    "iam_role_policy_attachment.pull",
    "lb.main",
    "lb_listener.http",
    "lb_listener_rule.api",
    "lb_target_group.api",
    "security_group.lb",
    "subnet.a",
    "subnet.b",
    "vpc.main",
];

/// SDK configuration talking to moto directly (the outside view, never through the proxy).
fn sdk(cli: &Cli) -> SdkConfig {
    let creds = Credentials::new(common::ACCESS_KEY, common::SECRET_KEY, None, None, "tests");
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(common::REGION))
        .endpoint_url(&cli.moto.endpoint)
        .credentials_provider(SharedCredentialsProvider::new(creds))
        .build()
}

/// A stack dir behind a fault proxy, with the stack written and a customer-managed policy to attach
/// (created on moto directly; its ARN is returned for the cleanup).
fn setup(prefix: &str) -> (Cli, Proxy, String) {
    let (cli, proxy) = behind_proxy(Cli::new(prefix));
    // A retry that is missing fails the apply at once; one that never ends fails within 15 s.
    let cli = cli.env("PROVISIONER_WAIT_TIMEOUT_SECS", "15");
    let iam = aws_sdk_iam::Client::new(&sdk(&cli));
    let doc =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:BatchGetImage","Resource":"*"}]}"#;
    let out = block_on(iam.create_policy().policy_name(format!("{}-pull", cli.stack)).policy_document(doc).send())
        .expect("CreatePolicy");
    let policy_arn = out.policy().and_then(|p| p.arn()).unwrap().to_owned();
    cli.write("stack.toml", &STACK.replace("__POLICY__", &policy_arn));
    (cli, proxy, policy_arn)
}

/// Faults injected for `action` so far.
fn faults_on(p: &Proxy, action: &str) -> u64 {
    p.faults().iter().filter(|f| f.action == action).count() as u64
}

/// Asserts that every address of the stack is in state and the re-plan is empty.
fn assert_applied(cli: &Cli) {
    let mut addrs = cli.state_addresses();
    addrs.sort();
    assert_eq!(addrs, ADDRESSES, "state after apply");
    cli.expect(0, &["plan", "--detailed-exitcode"]);
}

/// What destroy must remove, from the state of an applied stack.
struct Objects {
    lb: String,
    target_group: String,
    role: String,
    log_group: String,
    repository: String,
}

impl Objects {
    fn of(cli: &Cli) -> Objects {
        Objects {
            lb: cli.id("lb.main"),
            target_group: cli.id("lb_target_group.api"),
            role: cli.id("iam_role.task"),
            log_group: cli.id("cloudwatch_log_group.app"),
            repository: cli.id("ecr_repository.app"),
        }
    }

    /// Asserts, from outside on moto, that none of the objects (nor any EC2 object of the stack) is left.
    fn assert_gone(&self, cli: &Cli) {
        let sdk = sdk(cli);
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
        let lbs = block_on(elb.describe_load_balancers().load_balancer_arns(&self.lb).send());
        absent(lbs, |o| o.load_balancers().is_empty(), &self.lb);
        let tgs = block_on(elb.describe_target_groups().target_group_arns(&self.target_group).send());
        absent(tgs, |o| o.target_groups().is_empty(), &self.target_group);
        let iam = aws_sdk_iam::Client::new(&sdk);
        absent(block_on(iam.get_role().role_name(&self.role).send()), |_| false, &self.role);
        let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
        let groups = block_on(logs.describe_log_groups().log_group_name_prefix(&self.log_group).send());
        absent(groups, |o| o.log_groups().iter().all(|g| g.log_group_name() != Some(&self.log_group)), &self.log_group);
        let ecr = aws_sdk_ecr::Client::new(&sdk);
        let repos = block_on(ecr.describe_repositories().repository_names(&self.repository).send());
        absent(repos, |o| o.repositories().is_empty(), &self.repository);
        assert_eq!(cli.count_tagged(), 0, "{:?}", cli.tagged_ids());
        assert!(cli.state_addresses().is_empty(), "{:?}", cli.state_addresses());
    }
}

/// Asserts that a read of `what` found nothing: an answer `empty` accepts, or a not-found error.
fn absent<T, E: ProvideErrorMetadata + std::fmt::Debug>(r: Result<T, E>, empty: impl FnOnce(&T) -> bool, what: &str) {
    match r {
        Ok(v) => assert!(empty(&v), "{what} is left after destroy"),
        Err(e) => {
            let gone = e.code().is_some_and(|c| c.contains("NotFound") || c == "NoSuchEntity");
            assert!(gone, "reading {what}: {e:?}");
        }
    }
}

fn delete_policy(cli: &Cli, arn: &str) {
    let iam = aws_sdk_iam::Client::new(&sdk(cli));
    block_on(iam.delete_policy().policy_arn(arn).send()).expect("DeletePolicy");
}

/// Each eventual-consistency error right after a create, injected twice (once for OperationAborted), is
/// retried by the resource code: apply succeeds, with one more call per injected fault.
#[test]
fn eventual_consistency_after_create_and_ordering_on_destroy_are_retried() {
    let (cli, proxy, policy_arn) = setup("fsvc-ec");
    let aborted = "A conflicting operation is currently in progress against this resource. Please try again.";
    let injected = [
        ("PutRolePolicy", 404, "NoSuchEntity", "The role with name X cannot be found.", 2),
        ("AttachRolePolicy", 404, "NoSuchEntity", "The role with name X cannot be found.", 2),
        ("DescribeLoadBalancers", 400, "LoadBalancerNotFound", "One or more load balancers not found", 2),
        ("CreateListener", 400, "TargetGroupNotFound", "One or more target groups not found", 2),
        ("CreateRule", 400, "ListenerNotFound", "One or more listeners not found", 2),
        ("PutRetentionPolicy", 400, "ResourceNotFoundException", "The specified log group does not exist.", 2),
        ("CreateLogGroup", 400, "OperationAbortedException", aborted, 1),
        ("PutLifecyclePolicy", 400, "RepositoryNotFoundException", "The repository with name 'x' does not exist", 2),
    ];
    let rules: Vec<Rule> = injected
        .iter()
        .map(|(action, status, code, msg, n)| Rule::new(*action, Fault::error(*status, *code, *msg)).times(*n))
        .collect();
    proxy.set_rules(rules);
    let out = cli.apply();
    assert!(out.stdout.contains("Apply complete!"), "{out}");
    for (action, _, code, _, n) in injected {
        assert_eq!(faults_on(&proxy, action), n, "{code} on {action}: {:?}", proxy.faults());
        assert!(calls(&proxy, action) > n, "{action} was not retried after {code}: {:?}", proxy.calls());
    }
    assert_eq!(proxy.faults().len() as u64, injected.iter().map(|i| i.4).sum::<u64>(), "{:?}", proxy.faults());
    assert_applied(&cli);
    let objects = Objects::of(&cli);

    // Destroy: the target group is still "in use" for a moment after the rule and listener are deleted;
    // the log group delete meets a conflicting operation.
    proxy.reset_calls();
    let in_use = format!("Target group '{}' is currently in use by a listener or a rule", objects.target_group);
    proxy.set_rules(vec![
        Rule::new("DeleteTargetGroup", Fault::error(400, "ResourceInUse", in_use)).times(2),
        Rule::new("DeleteLogGroup", Fault::error(400, "OperationAbortedException", aborted)).times(1),
    ]);
    let out = cli.destroy();
    assert!(out.stdout.contains("Destroy complete!"), "{out}");
    assert_eq!(faults_on(&proxy, "DeleteTargetGroup"), 2, "{:?}", proxy.faults());
    assert_eq!(calls(&proxy, "DeleteTargetGroup"), 3, "{:?}", proxy.calls());
    assert_eq!(faults_on(&proxy, "DeleteLogGroup"), 1, "{:?}", proxy.faults());
    assert_eq!(calls(&proxy, "DeleteLogGroup"), 2, "{:?}", proxy.calls());
    objects.assert_gone(&cli);
    delete_policy(&cli, &policy_arn);
}

/// Throttling of query services (IAM, ELBv2) and JSON services (Logs, ECR) is retried by the SDK's
/// standard retry strategy: every attempt is counted by the CLI's interceptor as by the proxy.
#[test]
fn throttling_of_query_and_json_services_is_retried_by_the_sdk() {
    let (cli, proxy, policy_arn) = setup("fsvc-thr");
    let throttled = [
        ("CreateRole", 2),         // IAM (query)
        ("CreateLoadBalancer", 1), // ELBv2 (query)
        ("CreateTargetGroup", 1),  // ELBv2 (query)
        ("CreateLogGroup", 2),     // CloudWatch Logs (JSON)
        ("CreateRepository", 2),   // ECR (JSON)
        ("PutLifecyclePolicy", 1), // ECR (JSON)
    ];
    proxy.set_rules(throttled.iter().map(|(a, n)| Rule::new(*a, Fault::Throttle {}).times(*n)).collect());
    let out = cli.json(&[0], &["apply", "--auto-approve"]);
    assert_eq!(out["report"]["interrupted"], false, "{out:#}");
    for (action, n) in throttled {
        assert_eq!(faults_on(&proxy, action), n, "{action}: {:?}", proxy.faults());
        assert_eq!(calls(&proxy, action), n + 1, "{action}: {:?}", proxy.calls());
        assert_eq!(api_count(&out, action), n + 1, "every attempt of {action} is counted: {out:#}");
    }
    assert!(proxy.faults().iter().all(|f| f.kind == "throttle"));
    assert_applied(&cli);
    let objects = Objects::of(&cli);

    proxy.reset_calls();
    proxy.set_rules(vec![
        Rule::new("DeleteRole", Fault::Throttle {}).times(1),
        Rule::new("DeleteLoadBalancer", Fault::Throttle {}).times(1),
        Rule::new("DeleteRepository", Fault::Throttle {}).times(1),
    ]);
    cli.destroy();
    for action in ["DeleteRole", "DeleteLoadBalancer", "DeleteRepository"] {
        assert_eq!(calls(&proxy, action), 2, "{action}: {:?}", proxy.calls());
    }
    objects.assert_gone(&cli);
    delete_policy(&cli, &policy_arn);
}

use common_cli::proxy_calls as calls;
