//! The ELBv2 resource implementations (`lb`, `lb_target_group`, `lb_listener`, `lb_listener_rule`) against
//! moto, through the real SDK: create (checkpointed, tagged in the create call), batched read (ARNs that
//! are gone are omitted, the call succeeds), update, delete, read-after-delete, convergence (what read
//! returns diffs empty against the configuration), validation refusals before any AWS call, and the load
//! balancer's delete waiting for its network interfaces.
//!
//! Dual stack through the real CLI against the emulator, the SDK to verify: an ALB with
//! `ip_address_type = "dualstack"` in a VPC with an Amazon-provided IPv6 block, subnets carved from it and a
//! route table sending `0.0.0.0/0` and `::/0` to the internet gateway; `ipv4` again in place.
//!
//! All tests share one moto server (see `common`); each uses its own stack name, VPC and object names.

mod common;
mod common_cli;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::Client as ElbClient;
use common::*;
use provisioner::aws::{Ctx, TAG_ADDRESS, TAG_STACK};
use provisioner::engine::canonical;
use provisioner::resource::{Checkpoint, Resource};
use provisioner::resources::elbv2::{
    lb::Lb, listener::LbListener, listener_rule::LbListenerRule, target_group::LbTargetGroup,
};
use provisioner::schema::Presence;
use provisioner::value::{attrs_from_json, Attrs, Value};
use serde_json::json;

fn elb_client(moto: &Moto) -> ElbClient {
    ElbClient::new(&common::sdk_config(moto))
}

/// A name no other test uses, ≤ 32 characters.
fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// Desired attributes as the engine hands them over: canonical, with the full tag set (user tags plus the
/// tool's own `provisioner:*` tags).
fn desired(res: &dyn Resource, stack: &str, address: &str, args: serde_json::Value) -> Attrs {
    let mut a = attrs_from_json(&serde_json::from_value(args).unwrap());
    let mut tags: BTreeMap<String, Value> = a.get("tags").and_then(Value::as_map).cloned().unwrap_or_default();
    tags.insert(TAG_STACK.into(), Value::str(stack));
    tags.insert(TAG_ADDRESS.into(), Value::str(address));
    a.insert("tags".into(), Value::Map(tags));
    canonical(res, &a)
}

/// What a re-plan would compare: every settable attribute the config sets (or defaults) is equal after
/// normalisation on both sides.
fn assert_converged(res: &dyn Resource, want: &Attrs, got: &Attrs) {
    let (want, got) = (canonical(res, want), canonical(res, got));
    for a in &res.schema().attributes {
        if a.presence == Presence::Computed {
            continue;
        }
        if a.presence == Presence::OptionalComputed && !want.contains_key(a.name) {
            continue;
        }
        assert_eq!(want.get(a.name), got.get(a.name), "{}.{} differs after normalisation", res.type_name(), a.name);
    }
}

trait IntoValue {
    fn into_value(self) -> Value;
}

impl IntoValue for serde_json::Value {
    fn into_value(self) -> Value {
        Value::from_json(&self)
    }
}

fn s<'a>(a: &'a Attrs, k: &str) -> &'a str {
    a.get(k).and_then(Value::as_str).unwrap_or_else(|| panic!("no string `{k}` in {a:?}"))
}

/// Records checkpoint calls and the ELBv2 tags of the object at that moment (read from outside).
struct ElbCheckpoint {
    elb: ElbClient,
    calls: std::sync::Mutex<Vec<(Attrs, BTreeMap<String, String>)>>,
}

impl ElbCheckpoint {
    fn new() -> Self {
        ElbCheckpoint { elb: elb_client(Moto::shared()), calls: Default::default() }
    }
}

#[async_trait::async_trait]
impl Checkpoint for ElbCheckpoint {
    async fn created(&self, attrs: &Attrs) {
        let arn = s(attrs, "id").to_owned();
        let out = self.elb.describe_tags().resource_arns(&arn).send().await.expect("DescribeTags at checkpoint");
        let tags = out
            .tag_descriptions()
            .iter()
            .flat_map(|d| d.tags())
            .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
            .collect();
        self.calls.lock().unwrap().push((attrs.clone(), tags));
    }
}

/// Creates through `res`; checks the checkpoint ran once with the returned id and that the object carried
/// the stack's tags (and the user's) at that moment.
async fn create_checked(cx: &Ctx, res: &dyn Resource, want: &Attrs) -> Attrs {
    let cp = ElbCheckpoint::new();
    let got = res.create(cx, want, &cp).await.unwrap_or_else(|e| panic!("create {}: {e}", res.type_name()));
    let calls = cp.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "one checkpoint call");
    let (attrs, tags) = &calls[0];
    assert_eq!(s(attrs, "id"), s(&got, "id"), "create returned another id than it checkpointed");
    let want_tags: BTreeMap<String, String> =
        want["tags"].as_map().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect();
    assert_eq!(tags, &want_tags, "tags at checkpoint time");
    assert_eq!(got.get("tags"), want.get("tags"));
    got
}

async fn read(cx: &Ctx, res: &dyn Resource, ids: &[&str]) -> HashMap<String, Attrs> {
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    res.read(cx, &ids).await.unwrap_or_else(|e| panic!("read {}: {e}", res.type_name()))
}

struct Net {
    vpc: String,
    subnets: Vec<String>,
    sgs: Vec<String>,
}

/// A VPC with two subnets in two zones and two security groups, made with the SDK.
async fn network(ec2: &aws_sdk_ec2::Client, cidr_second_octet: u8) -> Net {
    let vpc = ec2.create_vpc().cidr_block(format!("10.{cidr_second_octet}.0.0/16")).send().await.unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    let mut subnets = Vec::new();
    for (i, az) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        let out = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.{cidr_second_octet}.{i}.0/24"))
            .availability_zone(*az)
            .send()
            .await
            .unwrap();
        subnets.push(out.subnet().unwrap().subnet_id().unwrap().to_owned());
    }
    let mut sgs = Vec::new();
    for n in ["a", "b"] {
        let out = ec2
            .create_security_group()
            .group_name(unique_name(n))
            .description("test")
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        sgs.push(out.group_id().unwrap().to_owned());
    }
    Net { vpc, subnets, sgs }
}

async fn setup(prefix: &str, octet: u8) -> (Ctx, aws_sdk_ec2::Client, ElbClient, Net) {
    let moto = Moto::shared();
    let stack = unique_stack(prefix);
    let ec2 = ec2_client(moto);
    let net = network(&ec2, octet).await;
    (ctx(moto, &stack).await, ec2, elb_client(moto), net)
}

fn lb_args(name: &str, net: &Net, extra: serde_json::Value) -> serde_json::Value {
    let mut a = json!({"name": name, "subnets": net.subnets, "security_groups": [net.sgs[0]]});
    for (k, v) in extra.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

async fn make_lb(cx: &Ctx, net: &Net) -> Attrs {
    let d = desired(&Lb, &cx.stack, "lb.main", lb_args(&unique_name("lb"), net, json!({})));
    Lb.create(cx, &d, &ElbCheckpoint::new()).await.expect("create lb")
}

async fn make_tg(cx: &Ctx, net: &Net) -> Attrs {
    let d = desired(
        &LbTargetGroup,
        &cx.stack,
        "lb_target_group.api",
        json!({"name": unique_name("tg"), "port": 8080, "protocol": "HTTP", "target_type": "ip", "vpc_id": net.vpc}),
    );
    LbTargetGroup.create(cx, &d, &ElbCheckpoint::new()).await.expect("create target group")
}

#[tokio::test(flavor = "multi_thread")]
async fn lb_lifecycle() {
    let (cx, _ec2, elb, net) = setup("lb", 101).await;
    let name = unique_name("web");
    let want = desired(
        &Lb,
        &cx.stack,
        "lb.web",
        lb_args(&name, &net, json!({"idle_timeout": 120, "drop_invalid_header_fields": true, "tags": {"Name": "web"}})),
    );
    let got = create_checked(&cx, &Lb, &want).await;
    assert_converged(&Lb, &want, &got);
    let arn = s(&got, "id").to_owned();
    assert_eq!(s(&got, "arn"), arn);
    assert_eq!(s(&got, "name"), name);
    assert!(s(&got, "arn_suffix").starts_with(&format!("app/{name}/")), "{got:?}");
    assert!(!s(&got, "dns_name").is_empty());
    assert!(!s(&got, "zone_id").is_empty());
    assert_eq!(s(&got, "vpc_id"), net.vpc);
    let state = elb.describe_load_balancers().load_balancer_arns(&arn).send().await.unwrap();
    assert_eq!(state.load_balancers()[0].state().and_then(|s| s.code()).map(|c| c.as_str()), Some("active"));

    // A second one from a prefix, with defaults; then deleted: a batched read omits it and a made-up ARN.
    let prefixed = desired(&Lb, &cx.stack, "lb.other", json!({"name_prefix": "tmp-", "subnets": net.subnets}));
    let other = create_checked(&cx, &Lb, &prefixed).await;
    assert_converged(&Lb, &prefixed, &other);
    assert!(s(&other, "name").starts_with("tmp-") && s(&other, "name").len() == 30, "{other:?}");
    assert_eq!(s(&other, "name_prefix"), "tmp-");
    let other_arn = s(&other, "id").to_owned();
    // An update (here: the tool's tags changing, as `state rm` does) gets the state, with the generated
    // `name` next to `name_prefix`.
    let mut retag = canonical(&Lb, &other);
    retag.insert("tags".into(), json!({(TAG_STACK): cx.stack, (TAG_ADDRESS): "lb.moved"}).into_value());
    let other = Lb.update(&cx, &other, &retag).await.expect("update of a load balancer named from a prefix");
    assert_eq!(other["tags"], retag["tags"]);
    assert_eq!(other["tags"].get(TAG_ADDRESS), Some(&Value::str("lb.moved")));
    let both = read(&cx, &Lb, &[&arn, &other_arn]).await;
    assert_eq!(both.len(), 2);
    Lb.delete(&cx, &other).await.unwrap();
    let fake = format!("{}dead00", &arn[..arn.len() - 6]);
    let after = read(&cx, &Lb, &[&arn, &other_arn, &fake, ""]).await;
    assert_eq!(after.keys().collect::<Vec<_>>(), [&arn]);
    assert_eq!(canonical(&Lb, &after[&arn]), canonical(&Lb, &got));

    // Update: security groups, attributes, tags.
    let want2 = desired(
        &Lb,
        &cx.stack,
        "lb.web",
        json!({"name": name, "subnets": net.subnets, "security_groups": [net.sgs[1]], "idle_timeout": 30,
               "enable_deletion_protection": true, "tags": {"Name": "web2", "env": "test"}}),
    );
    let got2 = Lb.update(&cx, &got, &want2).await.unwrap();
    assert_converged(&Lb, &want2, &got2);
    let attrs = elb.describe_load_balancer_attributes().load_balancer_arn(&arn).send().await.unwrap();
    let get =
        |k: &str| attrs.attributes().iter().find(|a| a.key() == Some(k)).and_then(|a| a.value()).map(str::to_owned);
    assert_eq!(get("deletion_protection.enabled").as_deref(), Some("true"));
    assert_eq!(get("idle_timeout.timeout_seconds").as_deref(), Some("30"));
    let back = Lb.update(&cx, &got2, &want).await.unwrap();
    assert_converged(&Lb, &want, &back);

    Lb.delete(&cx, &back).await.unwrap();
    assert!(read(&cx, &Lb, &[&arn]).await.is_empty());
    // Deleting again is fine.
    Lb.delete(&cx, &back).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn lb_delete_waits_for_its_network_interfaces() {
    let (cx, ec2, _elb, net) = setup("lbeni", 102).await;
    let lb = make_lb(&cx, &net).await;
    let description = format!("ELB {}", s(&lb, "arn_suffix"));
    let eni = ec2
        .create_network_interface()
        .subnet_id(&net.subnets[0])
        .description(&description)
        .groups(&net.sgs[0])
        .send()
        .await
        .unwrap();
    let eni = eni.network_interface().unwrap().network_interface_id().unwrap().to_owned();
    let cx = std::sync::Arc::new(cx);
    let task = {
        let (cx, lb) = (cx.clone(), lb.clone());
        tokio::spawn(async move { Lb.delete(&cx, &lb).await })
    };
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!task.is_finished(), "delete returned while an ENI described `{description}` remained");
    ec2.delete_network_interface().network_interface_id(&eni).send().await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), task).await.expect("delete finishes").unwrap().unwrap();
    // The security group is now free.
    ec2.delete_security_group().group_id(&net.sgs[0]).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn target_group_lifecycle_with_health_check_defaults() {
    let (cx, _ec2, elb, net) = setup("tg", 103).await;
    let name = unique_name("api");
    // No health_check block: AWS's defaults, and a re-plan is empty.
    let want = desired(
        &LbTargetGroup,
        &cx.stack,
        "lb_target_group.api",
        json!({"name": name, "port": 8080, "protocol": "HTTP", "target_type": "ip", "vpc_id": net.vpc, "tags": {"Name": "api"}}),
    );
    let got = create_checked(&cx, &LbTargetGroup, &want).await;
    assert_converged(&LbTargetGroup, &want, &got);
    let arn = s(&got, "id").to_owned();
    assert!(s(&got, "arn_suffix").starts_with(&format!("targetgroup/{name}/")), "{got:?}");
    // The defaults spelled out (or partly) diff the same as left out.
    for hc in [
        json!([{"path": "/"}]),
        json!([{"enabled": true, "path": "/", "matcher": "200", "interval": 30, "timeout": 6, "healthy_threshold": 5,
                "unhealthy_threshold": 2, "protocol": "HTTP", "port": "traffic-port"}]),
    ] {
        let spelled = desired(
            &LbTargetGroup,
            &cx.stack,
            "lb_target_group.api",
            json!({"name": name, "port": 8080, "protocol": "HTTP", "target_type": "ip", "vpc_id": net.vpc,
                   "tags": {"Name": "api"}, "health_check": hc}),
        );
        assert_converged(&LbTargetGroup, &spelled, &got);
    }
    let seen = elb.describe_target_groups().target_group_arns(&arn).send().await.unwrap();
    let tg = &seen.target_groups()[0];
    assert_eq!((tg.health_check_timeout_seconds(), tg.health_check_path()), (Some(6), Some("/")));

    // Update the health check and the deregistration delay.
    let want2 = desired(
        &LbTargetGroup,
        &cx.stack,
        "lb_target_group.api",
        json!({"name": name, "port": 8080, "protocol": "HTTP", "target_type": "ip", "vpc_id": net.vpc,
               "deregistration_delay": 30, "health_check": [{"path": "/health", "matcher": "200-299", "interval": 10, "timeout": 5}]}),
    );
    let got2 = LbTargetGroup.update(&cx, &got, &want2).await.unwrap();
    assert_converged(&LbTargetGroup, &want2, &got2);
    assert_eq!(got2["deregistration_delay"], Value::int(30));

    // Created with a custom delay straight away; batched read with a gone one.
    let other = desired(
        &LbTargetGroup,
        &cx.stack,
        "lb_target_group.other",
        json!({"name_prefix": "o-", "port": 443, "protocol": "HTTPS", "vpc_id": net.vpc, "deregistration_delay": 10}),
    );
    let other = create_checked(&cx, &LbTargetGroup, &other).await;
    let other_arn = s(&other, "id").to_owned();
    assert_eq!(other["deregistration_delay"], Value::int(10));
    assert_eq!(other["target_type"], Value::str("instance"));
    LbTargetGroup.delete(&cx, &other).await.unwrap();
    let after = read(&cx, &LbTargetGroup, &[&arn, &other_arn]).await;
    assert_eq!(after.keys().collect::<Vec<_>>(), [&arn]);

    LbTargetGroup.delete(&cx, &got2).await.unwrap();
    assert!(read(&cx, &LbTargetGroup, &[&arn]).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn listener_forwarding_to_a_target_group_and_a_path_rule() {
    let (cx, _ec2, elb, net) = setup("lsn", 104).await;
    let lb = make_lb(&cx, &net).await;
    let lb_arn = s(&lb, "id").to_owned();
    let tg = make_tg(&cx, &net).await;
    let tg_arn = s(&tg, "id").to_owned();
    let tg2 = make_tg(&cx, &net).await;
    let tg2_arn = s(&tg2, "id").to_owned();

    let want = desired(
        &LbListener,
        &cx.stack,
        "lb_listener.http",
        json!({"load_balancer_arn": lb_arn, "port": 80, "default_action": [{"type": "forward", "target_group_arn": tg_arn}],
               "tags": {"Name": "http"}}),
    );
    let listener = create_checked(&cx, &LbListener, &want).await;
    assert_converged(&LbListener, &want, &listener);
    let l_arn = s(&listener, "id").to_owned();
    assert_eq!(listener["protocol"], Value::str("HTTP"));

    // Update: a fixed response written after a redirect but ordered first.
    let want2 = desired(
        &LbListener,
        &cx.stack,
        "lb_listener.http",
        json!({"load_balancer_arn": lb_arn, "port": 8080, "default_action": [
            {"type": "fixed-response", "fixed_response": [{"content_type": "text/plain", "message_body": "nope", "status_code": "404"}]}
        ]}),
    );
    let l2 = LbListener.update(&cx, &listener, &want2).await.unwrap();
    assert_converged(&LbListener, &want2, &l2);
    let l3 = LbListener.update(&cx, &l2, &want).await.unwrap();
    assert_converged(&LbListener, &want, &l3);

    // A rule with path patterns, forwarding to the second group.
    let rule_args = |priority: i64, paths: serde_json::Value, tg: &str| {
        json!({"listener_arn": l_arn, "priority": priority,
               "action": [{"type": "forward", "target_group_arn": tg}],
               "condition": [{"path_pattern": [{"values": paths}]}], "tags": {"Name": "api"}})
    };
    let rwant = desired(
        &LbListenerRule,
        &cx.stack,
        "lb_listener_rule.api",
        rule_args(10, json!(["/api/*", "/v1/*"]), &tg2_arn),
    );
    let rule = create_checked(&cx, &LbListenerRule, &rwant).await;
    assert_converged(&LbListenerRule, &rwant, &rule);
    let r_arn = s(&rule, "id").to_owned();
    let seen = elb.describe_rules().rule_arns(&r_arn).send().await.unwrap();
    assert_eq!(seen.rules()[0].priority(), Some("10"));

    // Update: priority and conditions (and the forward target).
    let rwant2 = desired(
        &LbListenerRule,
        &cx.stack,
        "lb_listener_rule.api",
        json!({"listener_arn": l_arn, "priority": 20,
               "action": [{"type": "forward", "target_group_arn": tg_arn}],
               "condition": [{"path_pattern": [{"values": ["/api/*"]}]}, {"host_header": [{"values": ["api.example.com"]}]}]}),
    );
    let rule2 = LbListenerRule.update(&cx, &rule, &rwant2).await.unwrap();
    assert_converged(&LbListenerRule, &rwant2, &rule2);

    // Batched reads: a second listener and rule; gone ones omitted.
    let other_l = desired(
        &LbListener,
        &cx.stack,
        "lb_listener.other",
        json!({"load_balancer_arn": lb_arn, "port": 81, "default_action": [{"type": "redirect", "redirect": [{"status_code": "HTTP_301", "port": "443", "protocol": "HTTPS"}]}]}),
    );
    let other_l = create_checked(&cx, &LbListener, &other_l).await;
    assert_converged(
        &LbListener,
        &desired(
            &LbListener,
            &cx.stack,
            "lb_listener.other",
            json!({"load_balancer_arn": lb_arn, "port": 81, "default_action": [{"type": "redirect", "redirect": [{"status_code": "HTTP_301", "port": "443", "protocol": "HTTPS"}]}]}),
        ),
        &other_l,
    );
    let other_l_arn = s(&other_l, "id").to_owned();
    let ls = read(&cx, &LbListener, &[&l_arn, &other_l_arn]).await;
    assert_eq!(ls.len(), 2);
    LbListener.delete(&cx, &other_l).await.unwrap();
    let ls = read(&cx, &LbListener, &[&l_arn, &other_l_arn]).await;
    assert_eq!(ls.keys().collect::<Vec<_>>(), [&l_arn]);
    let rs = read(&cx, &LbListenerRule, &[&r_arn]).await;
    assert_eq!(canonical(&LbListenerRule, &rs[&r_arn]), canonical(&LbListenerRule, &rule2));

    // Teardown in dependency order; a target group in use is refused until its listener and rule are gone.
    LbListenerRule.delete(&cx, &rule2).await.unwrap();
    assert!(read(&cx, &LbListenerRule, &[&r_arn]).await.is_empty());
    LbListener.delete(&cx, &l3).await.unwrap();
    assert!(read(&cx, &LbListener, &[&l_arn]).await.is_empty());
    // Rules of a gone listener, listeners of a gone load balancer: absent, no error.
    assert!(read(&cx, &LbListenerRule, &[&r_arn]).await.is_empty());
    LbTargetGroup.delete(&cx, &tg).await.unwrap();
    LbTargetGroup.delete(&cx, &tg2).await.unwrap();
    Lb.delete(&cx, &lb).await.unwrap();
    assert!(read(&cx, &LbListener, &[&l_arn]).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn validation_refuses_before_any_aws_call() {
    let (cx, _ec2, _elb, net) = setup("val", 105).await;
    let arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/0123456789abcdef";
    let listener =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/x/0123456789abcdef/0123456789abcdef";
    let fwd = json!([{"type": "forward", "target_group_arn": "arn:tg"}]);
    let cond = json!([{"path_pattern": [{"values": ["/x"]}]}]);
    let cases: Vec<(&dyn Resource, serde_json::Value, &str)> = vec![
        (&Lb, json!({"name": "a".repeat(33), "subnets": net.subnets}), "1 to 32"),
        (&Lb, json!({"name": "web_1", "subnets": net.subnets}), "alphanumeric"),
        (&Lb, json!({"name": "-web", "subnets": net.subnets}), "hyphen"),
        (&Lb, json!({"name": "web-", "subnets": net.subnets}), "hyphen"),
        (&Lb, json!({"name": "internal-web", "subnets": net.subnets}), "internal-"),
        (&Lb, json!({"name_prefix": "toolong", "subnets": net.subnets}), "longer than 6"),
        (&LbTargetGroup, json!({"name": "tg-", "port": 80, "protocol": "HTTP", "vpc_id": net.vpc}), "hyphen"),
        (&LbTargetGroup, json!({"name": "b".repeat(33), "port": 80, "protocol": "HTTP", "vpc_id": net.vpc}), "1 to 32"),
        (
            &LbListener,
            json!({"load_balancer_arn": arn, "port": 443, "protocol": "HTTPS", "default_action": fwd}),
            "certificate_arn",
        ),
        (
            &LbListener,
            json!({"load_balancer_arn": arn, "port": 80, "default_action": [{"type": "forward"}]}),
            "target_group_arn",
        ),
        (
            &LbListenerRule,
            json!({"listener_arn": listener, "priority": 0, "action": fwd, "condition": cond}),
            "1..50000",
        ),
        (
            &LbListenerRule,
            json!({"listener_arn": listener, "priority": 50001, "action": fwd, "condition": cond}),
            "1..50000",
        ),
        (
            &LbListenerRule,
            json!({"listener_arn": listener, "priority": 5, "action": [{"type": "forward"}], "condition": cond}),
            "target_group_arn",
        ),
    ];
    for (res, args, why) in cases {
        let d = desired(res, &cx.stack, "x.y", args.clone());
        let before = cx.calls.total();
        let cp = ElbCheckpoint::new();
        let e = res.create(&cx, &d, &cp).await.expect_err(&format!("{} {args} must be refused", res.type_name()));
        assert!(e.message.contains(why), "{}: `{e}` should mention `{why}`", res.type_name());
        assert_eq!(e.code.as_deref(), Some("Provisioner.InvalidConfiguration"));
        assert_eq!(cx.calls.total(), before, "{} {args}: an AWS call was made", res.type_name());
        assert!(cp.calls.lock().unwrap().is_empty());
    }
}

/// A dual-stack network and an ALB in it (`ip_address_type` as given), through the CLI.
fn write_dual_stack(cli: &common_cli::Cli, lb_name: &str, ip_address_type: &str) {
    let text = format!(
        r#"
[stack]
name = "__STACK__"

[backend]
type = "local"
path = ".provisioner/state.json"

[data.availability_zones.all]

[resource.vpc.main]
cidr_block = "10.43.0.0/16"
assign_generated_ipv6_cidr_block = true

[resource.internet_gateway.main]
vpc_id = "${{vpc.main.id}}"

[resource.subnet.public]
for_each = {{ a = 1, b = 2 }}
vpc_id = "${{vpc.main.id}}"
cidr_block = '${{cidrsubnet("10.43.0.0/16", 8, each.value)}}'
ipv6_cidr_block = "${{cidrsubnet(vpc.main.ipv6_cidr_block, 8, each.value)}}"
assign_ipv6_address_on_creation = true
availability_zone = "${{element(data.availability_zones.all.names, each.value)}}"

[resource.route_table.public]
vpc_id = "${{vpc.main.id}}"
route = [
  {{ cidr_block = "0.0.0.0/0", gateway_id = "${{internet_gateway.main.id}}" }},
  {{ ipv6_cidr_block = "::/0", gateway_id = "${{internet_gateway.main.id}}" }},
]

[resource.route_table_association.public]
for_each = "${{subnet.public}}"
subnet_id = "${{each.value.id}}"
route_table_id = "${{route_table.public.id}}"

[resource.lb.web]
name = "{lb_name}"
subnets = "${{subnet.public[*].id}}"
ip_address_type = "{ip_address_type}"

[output.lb_ipv6_subnets]
value = "${{subnet.public[*].ipv6_cidr_block}}"
"#
    );
    cli.write("main.toml", &text);
}

#[test]
fn a_dualstack_alb_in_a_dual_stack_vpc_applies_replans_empty_goes_back_to_ipv4_in_place_and_destroys() {
    use common_cli::block_on;
    let cli = common_cli::Cli::new("dualstack");
    let lb_name = unique_name("ds");
    write_dual_stack(&cli, &lb_name, "dualstack");
    let out = cli.apply();
    assert!(out.stdout.contains("8 added"), "{out}");

    // The VPC's Amazon-provided /56, as the SDK sees it and as state records it.
    let ec2 = cli.ec2();
    let vpc_id = cli.id("vpc.main");
    let vpc = block_on(ec2.describe_vpcs().vpc_ids(&vpc_id).send()).unwrap().vpcs()[0].clone();
    let assoc = vpc.ipv6_cidr_block_association_set().first().expect("an IPv6 block").clone();
    let block = assoc.ipv6_cidr_block().unwrap().to_owned();
    assert!(block.ends_with("/56"), "{block}");
    let v = &cli.state_resource("vpc.main")["attributes"];
    assert_eq!(v["assign_generated_ipv6_cidr_block"], true);
    assert_eq!(v["ipv6_cidr_block"], block.as_str());
    assert_eq!(v["ipv6_association_id"], assoc.association_id().unwrap());
    let net: ipnet::Ipv6Net = block.parse().unwrap();

    // Two /64s carved from it, addresses assigned on creation.
    let mut subnet_blocks = Vec::new();
    for k in ["a", "b"] {
        let id = cli.id(&format!("subnet.public[\"{k}\"]"));
        let s = block_on(ec2.describe_subnets().subnet_ids(&id).send()).unwrap().subnets()[0].clone();
        assert_eq!(s.assign_ipv6_address_on_creation(), Some(true));
        let a = s.ipv6_cidr_block_association_set().first().expect("a subnet IPv6 block").clone();
        let sb: ipnet::Ipv6Net = a.ipv6_cidr_block().unwrap().parse().unwrap();
        assert_eq!(sb.prefix_len(), 64);
        assert!(net.contains(&sb), "{sb} in {net}");
        let st = &cli.state_resource(&format!("subnet.public[\"{k}\"]"))["attributes"];
        assert_eq!(st["ipv6_cidr_block"], sb.to_string());
        assert_eq!(st["ipv6_cidr_block_association_id"], a.association_id().unwrap());
        subnet_blocks.push(sb.to_string());
    }
    assert_eq!(
        subnet_blocks,
        [net.subnets(64).unwrap().nth(1).unwrap().to_string(), net.subnets(64).unwrap().nth(2).unwrap().to_string()]
    );
    assert_eq!(cli.state()["outputs"]["lb_ipv6_subnets"]["value"], serde_json::json!(subnet_blocks));

    // Both default routes to the internet gateway.
    let igw = cli.id("internet_gateway.main");
    let rt_id = cli.id("route_table.public");
    let rt = block_on(ec2.describe_route_tables().route_table_ids(&rt_id).send()).unwrap().route_tables()[0].clone();
    let to_igw = |r: &&aws_sdk_ec2::types::Route| r.gateway_id() == Some(igw.as_str());
    assert!(rt.routes().iter().filter(to_igw).any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")), "{rt:?}");
    assert!(rt.routes().iter().filter(to_igw).any(|r| r.destination_ipv6_cidr_block() == Some("::/0")), "{rt:?}");
    assert_eq!(rt.associations().iter().filter(|a| a.subnet_id().is_some()).count(), 2);

    // The load balancer is dual-stack.
    let elb = elb_client(cli.moto);
    let arn = cli.id("lb.web");
    let ip_type = |elb: &ElbClient| {
        block_on(elb.describe_load_balancers().load_balancer_arns(&arn).send()).unwrap().load_balancers()[0]
            .ip_address_type()
            .map(|t| t.as_str().to_owned())
    };
    assert_eq!(ip_type(&elb).as_deref(), Some("dualstack"));
    assert_eq!(cli.state_resource("lb.web")["attributes"]["ip_address_type"], "dualstack");

    // Nothing to do: every IPv6 attribute reads back as configured.
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    // Back to IPv4, in place.
    write_dual_stack(&cli, &lb_name, "ipv4");
    let plan = cli.plan_json(&[]);
    assert_eq!(common_cli::actions(&plan), [("lb.web".to_owned(), "update".to_owned())], "{plan:#}");
    assert_eq!(common_cli::changed_attrs(common_cli::change(&plan, "lb.web")), ["ip_address_type"]);
    let out = cli.apply();
    assert!(out.stdout.contains("0 added, 1 changed, 0 destroyed"), "{out}");
    assert_eq!(cli.id("lb.web"), arn, "same load balancer");
    assert_eq!(ip_type(&elb).as_deref(), Some("ipv4"));
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    cli.destroy();
    assert_eq!(cli.count_tagged(), 0, "{:?}", cli.tagged_ids());
    assert!(block_on(ec2.describe_vpcs().vpc_ids(&vpc_id).send()).is_err_and(|e| format!("{e:?}").contains("NotFound")));
}

#[test]
fn a_dualstack_alb_in_subnets_without_ipv6_blocks_is_refused_as_on_aws() {
    let cli = common_cli::Cli::new("dualstack-v4only");
    let lb_name = unique_name("dsn");
    write_dual_stack(&cli, &lb_name, "dualstack");
    cli.edit("main.toml", "assign_generated_ipv6_cidr_block = true", "assign_generated_ipv6_cidr_block = false");
    cli.edit("main.toml", "ipv6_cidr_block = \"${cidrsubnet(vpc.main.ipv6_cidr_block, 8, each.value)}\"\n", "");
    cli.edit("main.toml", "assign_ipv6_address_on_creation = true\n", "");
    let out = cli.run(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("You must specify subnets with an associated IPv6 CIDR block"), "{out}");
    assert!(!cli.state_addresses().iter().any(|a| a == "lb.web"), "no load balancer");
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0, "{:?}", cli.tagged_ids());
}
