//! Shared harness for the provisioner's integration tests: the repository's local AWS emulator
//! (`scripts/emulator`: moto's server with emulation rules that make it behave like AWS, a test fixture, not
//! product behaviour) on loopback, the environment a child `provisioner` process needs to talk to it, library
//! contexts, an outside-view SDK client, and small helpers (unique stack names, a recording checkpoint,
//! counting a stack's objects).
//!
//! The emulator is run as `$REPO/.venv/bin/python scripts/emulator.py` (install the pinned moto once with
//! `scripts/emulator --help` or `.ci/moto.sh`). `$MOTO_SERVER` overrides the whole command with any drop-in
//! for `moto_server` taking `-H HOST -p PORT` (e.g. `scripts/emulator`, or a plain `moto_server`, which lacks
//! the ECS emulation the ECS tests rely on).
//!
//! Server lifetime: [`Moto::shared`] starts one server per test binary, on first use, and every test in the
//! binary uses it (startup costs ~1–2 s). Moto's state is therefore shared: tests stay isolated by using
//! distinct stack names ([`unique_stack`]) and creating their own VPCs, and must never assert on global
//! counts — only on objects of their own stack ([`count_tagged`]) or ids they created. A test that needs
//! a pristine emulator starts its own with [`Moto::start`]; it is killed when dropped. The server process
//! also exits by itself when the test process dies (`EMULATOR_EXIT_WITH_PARENT=1`, see [`emulator_command`]),
//! so even the shared server, which is never dropped, does not outlive `cargo test`. ECS behaviour rules set
//! with [`Moto::ecs_behaviour`] are server-wide: on the shared server, a test names its own services.
#![allow(dead_code)]

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_ec2::config::{Credentials, Region, SharedCredentialsProvider};
use provisioner::aws::{Ctx, WaitConfig, TAG_STACK};
use provisioner::resource::Checkpoint;
use provisioner::value::Attrs;

pub const REGION: &str = "us-east-1";
pub const ACCESS_KEY: &str = "testing";
pub const SECRET_KEY: &str = "testing";

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// The emulator command, without its `-H HOST -p PORT`: `$MOTO_SERVER`, or the launcher
/// `$REPO/.venv/bin/python $REPO/scripts/emulator.py`; panics with instructions when missing. The emulator
/// is asked to exit when the test process dies (`EMULATOR_EXIT_WITH_PARENT=1`: a watchdog thread polls its
/// parent pid), so even the shared server, which is never dropped, does not outlive `cargo test`.
pub fn emulator_command() -> Command {
    if let Some(server) = std::env::var_os("MOTO_SERVER") {
        let server = PathBuf::from(server);
        if !server.is_file() {
            panic!("MOTO_SERVER={} is not a file: unset it to use scripts/emulator", server.display());
        }
        return Command::new(server);
    }
    let python = repo_root().join(".venv/bin/python");
    if !python.is_file() {
        panic!(
            "{} not found: run `scripts/emulator --help` (or `.ci/moto.sh`) from the repository root to install \
             the local AWS emulator (or set MOTO_SERVER to a moto_server drop-in)",
            python.display()
        );
    }
    let mut cmd = Command::new(python);
    cmd.arg(repo_root().join("scripts/emulator.py"));
    cmd
}

/// A running emulator (moto server with the emulation rules of `scripts/emulator.py`) on 127.0.0.1, killed
/// on drop.
pub struct Moto {
    child: Mutex<Child>,
    pub port: u16,
    /// `http://127.0.0.1:<port>`
    pub endpoint: String,
    pub log: PathBuf,
}

impl Moto {
    /// The server shared by all tests of this test binary (started on first use, never dropped; it exits
    /// with the test process).
    pub fn shared() -> &'static Moto {
        static SHARED: OnceLock<Moto> = OnceLock::new();
        SHARED.get_or_init(Moto::start)
    }

    /// Starts a private server on a free loopback port and waits (bounded) until it accepts connections.
    pub fn start() -> Moto {
        let mut last_err = String::new();
        for _ in 0..3 {
            let port = free_port();
            let log = std::env::temp_dir().join(format!("provisioner-moto-{}-{port}.log", std::process::id()));
            let log_file = std::fs::File::create(&log).expect("create moto log file");
            let mut cmd = emulator_command();
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().expect("clone log handle"))
                .stderr(log_file)
                .env("EMULATOR_EXIT_WITH_PARENT", "1")
                .env_remove("AWS_ENDPOINT_URL");
            let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
            match wait_ready(&mut child, port, Duration::from_secs(30)) {
                Ok(()) => {
                    return Moto { child: Mutex::new(child), port, endpoint: format!("http://127.0.0.1:{port}"), log }
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_err =
                        format!("{e}; log {}:\n{}", log.display(), std::fs::read_to_string(&log).unwrap_or_default());
                }
            }
        }
        panic!("the emulator did not start: {last_err}");
    }

    /// Resets all of moto's state and the emulator's ECS rules (only for a private server: the shared one
    /// serves concurrent tests).
    pub fn reset(&self) {
        self.request("POST", "/moto-api/reset", "");
    }

    /// Sets how the NEXT ECS deployments of matching services behave (the emulator's control endpoint,
    /// `POST /_emulator/ecs`; see scripts/emulator.py), e.g.
    /// `{"service": "web", "mode": "fail", "polls": 2, "stopped_reasons": ["Essential container in task exited"]}`.
    /// Rules are kept until changed, for the whole server: on the shared server, name your own service,
    /// never `"*"`. Returns the endpoint's JSON answer.
    pub fn ecs_behaviour(&self, json: &str) -> String {
        self.request("POST", "/_emulator/ecs", json)
    }

    /// Clears every ECS behaviour rule (`DELETE /_emulator/ecs`): deployments complete after the default polls.
    pub fn clear_ecs_behaviour(&self) {
        self.request("DELETE", "/_emulator/ecs", "");
    }

    /// Sets how the NEXT RDS operations (create, modify, delete) of matching DB instances behave (`POST
    /// /_emulator/rds`; see scripts/emulator.py), e.g. `{"identifier": "api-db", "mode": "stuck"}` (the
    /// instance stays `creating` / `modifying` / `deleting`), `{"identifier": "api-db", "mode": "fail",
    /// "polls": 1, "status": "failed"}`, `{"identifier": "api-db", "mode": "complete", "polls": 5}`. Rules are
    /// kept until changed, for the whole server: on the shared server, name your own instance, never `"*"`.
    /// Returns the endpoint's JSON answer.
    pub fn rds_behaviour(&self, json: &str) -> String {
        self.request("POST", "/_emulator/rds", json)
    }

    /// Clears every RDS behaviour rule (`DELETE /_emulator/rds`).
    pub fn clear_rds_behaviour(&self) {
        self.request("DELETE", "/_emulator/rds", "");
    }

    /// Sets how the NEXT Route 53 changes touching a DNS name behave (`POST /_emulator/route53`; see
    /// scripts/emulator.py): `{"name": "www.example.com", "mode": "stuck"}` (PENDING while the rule stays),
    /// `{"name": "www.example.com", "mode": "complete", "polls": 5}` (INSYNC at the 5th GetChange). On the
    /// shared server, name your own records, never `"*"`. Returns the endpoint's JSON answer.
    pub fn route53_behaviour(&self, json: &str) -> String {
        self.request("POST", "/_emulator/route53", json)
    }

    /// Sets how the NEXT certificates requested for a domain name are validated (`POST /_emulator/acm`):
    /// `{"domain": "example.com", "mode": "fail", "seconds": 1, "pending": ["www.example.com"]}`,
    /// `{"domain": "example.com", "mode": "stuck"}`, `{"domain": "example.com", "seconds": 3, "record_polls": 2}`.
    /// On the shared server, use your own domain names, never `"*"`. Returns the endpoint's JSON answer.
    pub fn acm_behaviour(&self, json: &str) -> String {
        self.request("POST", "/_emulator/acm", json)
    }

    /// One HTTP/1.1 request to the emulator over a raw socket; panics unless it answers 200. Returns the body.
    fn request(&self, method: &str, path: &str, body: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the emulator");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let mut buf = String::new();
        let _ = std::io::Read::read_to_string(&mut s, &mut buf);
        assert!(buf.starts_with("HTTP/1.1 200") || buf.starts_with("HTTP/1.0 200"), "{method} {path}: {buf}");
        buf.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Ok(mut c) = self.child.lock() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("find a free port")
}

fn wait_ready(child: &mut Child, port: u16, timeout: Duration) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("the emulator exited with {status}"));
        }
        if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            // Connected: check it is moto answering HTTP.
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let req = "GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
            if s.write_all(req.as_bytes()).is_ok() {
                let mut buf = [0u8; 16];
                if let Ok(n) = std::io::Read::read(&mut s, &mut buf) {
                    if buf[..n].starts_with(b"HTTP/1.") {
                        return Ok(());
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("the emulator did not answer on port {port} within {timeout:?}"))
}

/// The environment a child `provisioner` process needs to use `moto` (fast polls, short waits).
pub fn env(moto: &Moto) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_REGION", REGION),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("PROVISIONER_POLL_INTERVAL_MS", "50"),
        ("PROVISIONER_WAIT_TIMEOUT_SECS", "30"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Makes this process's AWS default chain resolve to test values without touching the network or the
/// user's profile (no IMDS, no ~/.aws). Idempotent; the endpoint is set per client, not here.
pub fn isolate_process_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let none = std::env::temp_dir().join("provisioner-tests-no-aws-config");
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_REGION", REGION),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", none.to_str().unwrap_or("/nonexistent")),
            ("AWS_SHARED_CREDENTIALS_FILE", none.to_str().unwrap_or("/nonexistent")),
        ] {
            std::env::set_var(k, v);
        }
        for k in ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"] {
            std::env::remove_var(k);
        }
    });
}

/// A library context for `stack` talking to `moto`, with fast polls and a 30 s wait bound.
pub async fn ctx(moto: &Moto, stack: &str) -> Ctx {
    isolate_process_env();
    let mut cx = Ctx::load(stack, "default", Some(REGION)).await.expect("load AWS config");
    cx.sdk = cx
        .sdk
        .to_builder()
        .endpoint_url(&moto.endpoint)
        .region(Region::new(REGION))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "tests",
        )))
        .build();
    cx.region = REGION.to_owned();
    cx.waits = WaitConfig { poll: Duration::from_millis(50), timeout: Duration::from_secs(30) };
    cx
}

/// SDK configuration on `moto` with test credentials: `aws_sdk_X::Client::new(&sdk_config(moto))` gives any
/// service's client for checking from the outside what the provisioner did.
pub fn sdk_config(moto: &Moto) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "tests",
        )))
        .build()
}

/// A plain EC2 client on `moto`, for checking from the outside what the provisioner did.
pub fn ec2_client(moto: &Moto) -> aws_sdk_ec2::Client {
    let conf = aws_sdk_ec2::Config::builder()
        .behavior_version_latest()
        .region(Region::new(REGION))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "tests"))
        .build();
    aws_sdk_ec2::Client::from_conf(conf)
}

/// A stack name no other test (or test run) uses: `<prefix>-<pid>-<counter>-<nanos>`.
pub fn unique_stack(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{prefix}-{}-{}-{nanos:x}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Ids of the live objects tagged `provisioner:stack = stack`, sorted: VPCs, subnets, internet gateways,
/// route tables, security groups, Elastic IPs and NAT gateways (not those in state `deleted`, which EC2
/// keeps listing for a while), plus anything else DescribeTags reports.
///
/// Each known type is listed with its own Describe call and a tag filter, because moto (5.2) keeps the
/// tags of deleted objects in DescribeTags; AWS drops them.
pub async fn tagged_ids(ec2: &aws_sdk_ec2::Client, stack: &str) -> Vec<String> {
    use aws_sdk_ec2::types::{Filter, NatGatewayState};
    let f = || Filter::builder().name(format!("tag:{TAG_STACK}")).values(stack).build();
    let mut ids: Vec<String> = Vec::new();
    let out = ec2.describe_vpcs().filters(f()).send().await.expect("DescribeVpcs");
    ids.extend(out.vpcs().iter().filter_map(|x| x.vpc_id()).map(str::to_owned));
    let out = ec2.describe_subnets().filters(f()).send().await.expect("DescribeSubnets");
    ids.extend(out.subnets().iter().filter_map(|x| x.subnet_id()).map(str::to_owned));
    let out = ec2.describe_internet_gateways().filters(f()).send().await.expect("DescribeInternetGateways");
    ids.extend(out.internet_gateways().iter().filter_map(|x| x.internet_gateway_id()).map(str::to_owned));
    let out = ec2.describe_route_tables().filters(f()).send().await.expect("DescribeRouteTables");
    ids.extend(out.route_tables().iter().filter_map(|x| x.route_table_id()).map(str::to_owned));
    let out = ec2.describe_security_groups().filters(f()).send().await.expect("DescribeSecurityGroups");
    ids.extend(out.security_groups().iter().filter_map(|x| x.group_id()).map(str::to_owned));
    let out = ec2.describe_addresses().filters(f()).send().await.expect("DescribeAddresses");
    ids.extend(out.addresses().iter().filter_map(|x| x.allocation_id()).map(str::to_owned));
    let out = ec2.describe_nat_gateways().filter(f()).send().await.expect("DescribeNatGateways");
    ids.extend(
        out.nat_gateways()
            .iter()
            .filter(|g| g.state() != Some(&NatGatewayState::Deleted))
            // Moto ignores tag filters on DescribeNatGateways.
            .filter(|g| g.tags().iter().any(|t| t.key() == Some(TAG_STACK) && t.value() == Some(stack)))
            .filter_map(|x| x.nat_gateway_id())
            .map(str::to_owned),
    );
    const LISTED: [&str; 7] = ["vpc-", "subnet-", "igw-", "rtb-", "sg-", "eipalloc-", "nat-"];
    let mut pages = ec2
        .describe_tags()
        .filters(Filter::builder().name("key").values(TAG_STACK).build())
        .filters(Filter::builder().name("value").values(stack).build())
        .into_paginator()
        .items()
        .send();
    while let Some(t) = pages.next().await {
        let t = t.expect("DescribeTags");
        if let Some(id) = t.resource_id().filter(|id| !LISTED.iter().any(|p| id.starts_with(p))) {
            ids.push(id.to_owned());
        }
    }
    ids.sort();
    ids.dedup();
    ids
}

/// How many live objects carry `provisioner:stack = stack` (see [`tagged_ids`]).
/// Objects of the services beyond EC2 tagged `provisioner:stack = stack`, with their tags, by the id the
/// state gives them: ELBv2 load balancers, target groups, listeners and rules (ARN), CloudWatch Logs groups,
/// IAM roles and ECR repositories (name), ECS clusters, services and active task-definition revisions (ARN), RDS DB
/// instances (not yet gone: `deleting` ones included), subnet groups and parameter groups (name). Read the long way (list everything, then its tags), so the check
/// does not depend on the Resource Groups Tagging API the provisioner itself uses.
pub async fn tagged_other_services(
    sdk: &aws_config::SdkConfig,
    stack: &str,
) -> Vec<(String, std::collections::BTreeMap<String, String>)> {
    use std::collections::BTreeMap;
    let mut out: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let ours = |tags: &BTreeMap<String, String>| tags.get(TAG_STACK).map(String::as_str) == Some(stack);

    let elb = aws_sdk_elasticloadbalancingv2::Client::new(sdk);
    let mut arns: Vec<String> = Vec::new();
    let lbs = elb.describe_load_balancers().send().await.expect("DescribeLoadBalancers");
    for lb in lbs.load_balancers() {
        let Some(lb_arn) = lb.load_balancer_arn() else { continue };
        arns.push(lb_arn.to_owned());
        // Objects of other tests come and go meanwhile: one gone between the calls is skipped.
        let Ok(ls) = elb.describe_listeners().load_balancer_arn(lb_arn).send().await else { continue };
        for l in ls.listeners() {
            let Some(l_arn) = l.listener_arn() else { continue };
            arns.push(l_arn.to_owned());
            let Ok(rs) = elb.describe_rules().listener_arn(l_arn).send().await else { continue };
            arns.extend(
                rs.rules()
                    .iter()
                    .filter(|r| r.is_default() != Some(true))
                    .filter_map(|r| r.rule_arn().map(str::to_owned)),
            );
        }
    }
    let tgs = elb.describe_target_groups().send().await.expect("DescribeTargetGroups");
    arns.extend(tgs.target_groups().iter().filter_map(|t| t.target_group_arn().map(str::to_owned)));
    // By 20; a batch fails as a whole when one of its objects is gone (another test's): then one at a time.
    let mut descriptions = Vec::new();
    for chunk in arns.chunks(20) {
        match elb.describe_tags().set_resource_arns(Some(chunk.to_vec())).send().await {
            Ok(d) => descriptions.extend(d.tag_descriptions().to_vec()),
            Err(_) => {
                for arn in chunk {
                    if let Ok(d) = elb.describe_tags().resource_arns(arn).send().await {
                        descriptions.extend(d.tag_descriptions().to_vec());
                    }
                }
            }
        }
    }
    {
        for td in &descriptions {
            let tags: BTreeMap<String, String> = td
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or("").to_owned())))
                .collect();
            if ours(&tags) {
                out.push((td.resource_arn().unwrap_or("").to_owned(), tags));
            }
        }
    }

    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let groups = logs.describe_log_groups().send().await.expect("DescribeLogGroups");
    for g in groups.log_groups() {
        let (Some(name), Some(arn)) = (g.log_group_name(), g.arn()) else { continue };
        let Ok(t) = logs.list_tags_for_resource().resource_arn(arn.trim_end_matches(":*")).send().await else {
            continue;
        };
        let tags: BTreeMap<String, String> = t.tags().cloned().unwrap_or_default().into_iter().collect();
        if ours(&tags) {
            out.push((name.to_owned(), tags));
        }
    }

    // Every role with its tags in one call.
    let iam = aws_sdk_iam::Client::new(sdk);
    let details = iam
        .get_account_authorization_details()
        .filter(aws_sdk_iam::types::EntityType::Role)
        .max_items(1000)
        .send()
        .await
        .expect("GetAccountAuthorizationDetails");
    for r in details.role_detail_list() {
        let tags: BTreeMap<String, String> =
            r.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
        if ours(&tags) {
            out.push((r.role_name().unwrap_or("").to_owned(), tags));
        }
    }

    let ecr = aws_sdk_ecr::Client::new(sdk);
    let repos = ecr.describe_repositories().send().await.expect("DescribeRepositories");
    for r in repos.repositories() {
        let (Some(name), Some(arn)) = (r.repository_name(), r.repository_arn()) else { continue };
        let Ok(t) = ecr.list_tags_for_resource().resource_arn(arn).send().await else { continue };
        let tags: BTreeMap<String, String> =
            t.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
        if ours(&tags) {
            out.push((name.to_owned(), tags));
        }
    }
    // ECS: active clusters, their services that are not yet INACTIVE, and ACTIVE task-definition revisions
    // (a deregistered revision is INACTIVE: what Terraform's destroy leaves too), all by ARN.
    let ecs = aws_sdk_ecs::Client::new(sdk);
    let ecs_tags = |tags: &[aws_sdk_ecs::types::Tag]| -> BTreeMap<String, String> {
        tags.iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or("").to_owned()))).collect()
    };
    let clusters = ecs.list_clusters().send().await.expect("ListClusters");
    for chunk in clusters.cluster_arns().chunks(100) {
        let Ok(d) = ecs
            .describe_clusters()
            .set_clusters(Some(chunk.to_vec()))
            .include(aws_sdk_ecs::types::ClusterField::Tags)
            .send()
            .await
        else {
            continue;
        };
        for c in d.clusters().iter().filter(|c| c.status() == Some("ACTIVE")) {
            let Some(arn) = c.cluster_arn() else { continue };
            let tags = ecs_tags(c.tags());
            if ours(&tags) {
                out.push((arn.to_owned(), tags));
            }
            let Ok(list) = ecs.list_services().cluster(arn).send().await else { continue };
            for names in list.service_arns().chunks(10) {
                let Ok(svcs) = ecs
                    .describe_services()
                    .cluster(arn)
                    .set_services(Some(names.to_vec()))
                    .include(aws_sdk_ecs::types::ServiceField::Tags)
                    .send()
                    .await
                else {
                    continue;
                };
                for svc in svcs.services().iter().filter(|s| s.status() != Some("INACTIVE")) {
                    let tags = ecs_tags(svc.tags());
                    if ours(&tags) {
                        out.push((svc.service_arn().unwrap_or("").to_owned(), tags));
                    }
                }
            }
        }
    }
    let mut td_arns: Vec<String> = Vec::new();
    let mut token = None;
    loop {
        let page = ecs
            .list_task_definitions()
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .set_next_token(token)
            .send()
            .await
            .expect("ListTaskDefinitions");
        td_arns.extend(page.task_definition_arns().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    for arn in &td_arns {
        let Ok(d) = ecs
            .describe_task_definition()
            .task_definition(arn)
            .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
            .send()
            .await
        else {
            continue;
        };
        let tags = ecs_tags(d.tags());
        if ours(&tags) {
            out.push((arn.to_owned(), tags));
        }
    }

    // RDS: instances carry their tags; subnet and parameter groups need one tag call each.
    let rds = aws_sdk_rds::Client::new(sdk);
    let rds_tags = |tags: &[aws_sdk_rds::types::Tag]| -> BTreeMap<String, String> {
        tags.iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or("").to_owned()))).collect()
    };
    let mut pages = rds.describe_db_instances().into_paginator().items().send();
    while let Some(db) = pages.next().await {
        let db = db.expect("DescribeDBInstances");
        let tags = rds_tags(db.tag_list());
        if ours(&tags) {
            out.push((db.db_instance_identifier().unwrap_or("").to_owned(), tags));
        }
    }
    let mut named: Vec<(String, String)> = Vec::new();
    let mut pages = rds.describe_db_subnet_groups().into_paginator().items().send();
    while let Some(g) = pages.next().await {
        let g = g.expect("DescribeDBSubnetGroups");
        if let (Some(n), Some(a)) = (g.db_subnet_group_name(), g.db_subnet_group_arn()) {
            named.push((n.to_owned(), a.to_owned()));
        }
    }
    let mut pages = rds.describe_db_parameter_groups().into_paginator().items().send();
    while let Some(g) = pages.next().await {
        let g = g.expect("DescribeDBParameterGroups");
        if let (Some(n), Some(a)) = (g.db_parameter_group_name(), g.db_parameter_group_arn()) {
            named.push((n.to_owned(), a.to_owned()));
        }
    }
    for (name, arn) in named {
        let Ok(t) = rds.list_tags_for_resource().resource_name(&arn).send().await else { continue };
        let tags = rds_tags(t.tag_list());
        if ours(&tags) {
            out.push((name, tags));
        }
    }

    // Route 53: the hosted zones (tags 10 zones a call); ACM: the certificates, with their tags.
    let r53 = aws_sdk_route53::Client::new(sdk);
    let mut zone_ids: Vec<String> = Vec::new();
    let mut marker = None;
    loop {
        let page = r53.list_hosted_zones().set_marker(marker).send().await.expect("ListHostedZones");
        zone_ids.extend(page.hosted_zones().iter().map(|z| z.id().trim_start_matches("/hostedzone/").to_owned()));
        marker = page.next_marker().filter(|_| page.is_truncated()).map(str::to_owned);
        if marker.is_none() {
            break;
        }
    }
    for chunk in zone_ids.chunks(10) {
        let Ok(t) = r53
            .list_tags_for_resources()
            .resource_type(aws_sdk_route53::types::TagResourceType::Hostedzone)
            .set_resource_ids(Some(chunk.to_vec()))
            .send()
            .await
        else {
            continue;
        };
        for set in t.resource_tag_sets() {
            let tags: BTreeMap<String, String> = set
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or("").to_owned())))
                .collect();
            if ours(&tags) {
                out.push((set.resource_id().unwrap_or("").to_owned(), tags));
            }
        }
    }
    let acm = aws_sdk_acm::Client::new(sdk);
    let mut pages = acm.list_certificates().into_paginator().items().send();
    let mut cert_arns = Vec::new();
    while let Some(c) = pages.next().await {
        if let Some(arn) = c.expect("ListCertificates").certificate_arn() {
            cert_arns.push(arn.to_owned());
        }
    }
    for arn in cert_arns {
        let Ok(t) = acm.list_tags_for_certificate().certificate_arn(&arn).send().await else { continue };
        let tags: BTreeMap<String, String> =
            t.tags().iter().map(|t| (t.key().to_owned(), t.value().unwrap_or("").to_owned())).collect();
        if ours(&tags) {
            out.push((arn, tags));
        }
    }

    out.sort();
    out
}

pub async fn count_tagged(ec2: &aws_sdk_ec2::Client, stack: &str) -> usize {
    tagged_ids(ec2, stack).await.len()
}

/// A [`Checkpoint`] that records every call and, when given a client, the tags the object carried at that
/// moment (read from outside with DescribeTags), proving it was created tagged.
#[derive(Default)]
pub struct RecordingCheckpoint {
    ec2: Option<aws_sdk_ec2::Client>,
    pub calls: Mutex<Vec<Attrs>>,
    pub tags_seen: Mutex<Vec<std::collections::BTreeMap<String, String>>>,
}

impl RecordingCheckpoint {
    pub fn new() -> Self {
        Self::default()
    }

    /// Also records the object's tags as EC2 reports them at checkpoint time.
    pub fn with_tags(ec2: aws_sdk_ec2::Client) -> Self {
        RecordingCheckpoint { ec2: Some(ec2), ..Self::default() }
    }

    pub fn calls(&self) -> Vec<Attrs> {
        self.calls.lock().unwrap().clone()
    }

    /// The id recorded by the single checkpoint call (panics unless there was exactly one, with an id).
    pub fn created_id(&self) -> String {
        let calls = self.calls();
        assert_eq!(calls.len(), 1, "expected exactly one checkpoint call, got {calls:?}");
        calls[0].get("id").and_then(|v| v.as_str()).expect("checkpoint without id").to_owned()
    }

    /// Tags the object had when the checkpoint was called.
    pub fn tags_at_checkpoint(&self) -> std::collections::BTreeMap<String, String> {
        self.tags_seen.lock().unwrap().first().cloned().expect("checkpoint not called (or built without a client)")
    }
}

#[async_trait::async_trait]
impl Checkpoint for RecordingCheckpoint {
    async fn created(&self, attrs: &Attrs) {
        self.calls.lock().unwrap().push(attrs.clone());
        if let (Some(ec2), Some(id)) = (&self.ec2, attrs.get("id").and_then(|v| v.as_str())) {
            let out = ec2
                .describe_tags()
                .filters(aws_sdk_ec2::types::Filter::builder().name("resource-id").values(id).build())
                .send()
                .await
                .expect("DescribeTags at checkpoint");
            let tags = out
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
                .collect();
            self.tags_seen.lock().unwrap().push(tags);
        }
    }
}
