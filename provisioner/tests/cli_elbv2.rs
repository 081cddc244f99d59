//! Replacing a target group that a listener forwards to, through the CLI against the emulator. AWS refuses
//! to delete such a target group (`ResourceInUse`), so the plan creates the new one first (`+/-`), the
//! listener moves to it, and the old one goes last; with a fixed `name` that cannot work (the two would share
//! a name), and the plan says so, located, before any AWS call.

mod common;
mod common_cli;

use common_cli::*;

/// A short name no other test uses: load balancer and target group names are account-wide, ≤ 32 characters.
fn short_name(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!("{prefix}{}x{}", std::process::id() % 100_000, N.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// A load balancer with a listener forwarding to one target group, named by `target_group_naming`.
fn write_stack(cli: &Cli, lb_name: &str, target_group_naming: &str, port: u16) {
    let text = format!(
        r#"
[stack]
name = "__STACK__"

[backend]
type = "local"
path = ".provisioner/state.json"

[data.availability_zones.all]

[resource.vpc.main]
cidr_block = "10.41.0.0/16"

[resource.subnet.public]
for_each = {{ a = 0, b = 1 }}
vpc_id = "${{vpc.main.id}}"
cidr_block = '${{cidrsubnet("10.41.0.0/16", 8, each.value)}}'
availability_zone = "${{element(data.availability_zones.all.names, each.value)}}"

[resource.lb.web]
name = "{lb_name}"
subnets = "${{subnet.public[*].id}}"

[resource.lb_target_group.app]
{target_group_naming}
port = {port}
protocol = "HTTP"
target_type = "ip"
vpc_id = "${{vpc.main.id}}"

[resource.lb_listener.http]
load_balancer_arn = "${{lb.web.arn}}"
port = 80
protocol = "HTTP"
default_action = {{ type = "forward", target_group_arn = "${{lb_target_group.app.arn}}" }}
"#
    );
    cli.write("main.toml", &text);
}

fn listener_target(cli: &Cli) -> String {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&common::sdk_config(cli.moto));
    let out = block_on(elb.describe_listeners().listener_arns(cli.id("lb_listener.http")).send()).unwrap();
    out.listeners()[0].default_actions()[0].target_group_arn().unwrap_or_default().to_owned()
}

fn target_group_exists(cli: &Cli, arn: &str) -> bool {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&common::sdk_config(cli.moto));
    block_on(elb.describe_target_groups().target_group_arns(arn).send()).is_ok_and(|o| !o.target_groups().is_empty())
}

#[test]
fn a_target_group_in_use_is_replaced_by_creating_the_new_one_first() {
    let cli = Cli::new("tg-cbd");
    let lb = short_name("cbd");
    write_stack(&cli, &lb, r#"name_prefix = "app-""#, 8080);
    cli.apply();
    let old = cli.id("lb_target_group.app");
    assert_eq!(listener_target(&cli), old);

    // The port forces a replacement: created first, then the listener moves, then the old one is deleted.
    cli.edit("main.toml", "port = 8080", "port = 9090");
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    let c = change(&plan, "lb_target_group.app");
    assert_eq!(c["action"], "replace", "{c:#}");
    assert_eq!(c["create_before_destroy"], true, "{c:#}");
    assert!(c["reason"].as_str().is_some_and(|r| r.contains("created before the old one is deleted")), "{c:#}");
    assert_eq!(change(&plan, "lb_listener.http")["action"], "update", "{plan:#}");
    let text = cli.ok(&["plan"]).stdout;
    assert!(text.contains("+/- resource \"lb_target_group\" \"app\" {"), "create-before-destroy symbol:\n{text}");
    assert!(text.contains("(created before the old one is deleted: listeners and rules may forward to it)"), "{text}");

    let out = cli.apply();
    assert!(out.stdout.contains("1 added, 1 changed, 1 destroyed"), "{out}");
    let new = cli.id("lb_target_group.app");
    assert_ne!(new, old);
    assert_eq!(listener_target(&cli), new, "the listener forwards to the new target group");
    assert!(!target_group_exists(&cli, &old), "the old target group is deleted");
    assert!(target_group_exists(&cli, &new));
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0, "{:?}", cli.tagged_ids());
}

#[test]
fn a_fixed_name_target_group_in_use_cannot_be_replaced_and_the_plan_says_so() {
    let cli = Cli::new("tg-fixed");
    let lb = short_name("fix");
    let tg = short_name("tg");
    write_stack(&cli, &lb, &format!(r#"name = "{tg}""#), 8080);
    cli.apply();
    let before = cli.state()["serial"].clone();
    cli.edit("main.toml", "port = 8080", "port = 9090");
    let out = cli.run(&["plan"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("main.toml:"), "located: {out}");
    assert!(out.stderr.contains("lb_target_group.app must be replaced (port changed)"), "{out}");
    assert!(out.stderr.contains(&format!("its name `{tg}` does not change")), "{out}");
    assert!(out.stderr.contains("name_prefix"), "the hint names the fix: {out}");
    assert!(out.stderr.contains("lb_listener.http uses it"), "{out}");
    assert_eq!(cli.state()["serial"], before, "nothing applied");

    // A new name in the same apply works, created first like a prefix.
    cli.edit("main.toml", &format!(r#"name = "{tg}""#), &format!(r#"name = "{tg}b""#));
    let out = cli.apply();
    assert!(out.stdout.contains("1 added, 1 changed, 1 destroyed"), "{out}");
    assert_eq!(listener_target(&cli), cli.id("lb_target_group.app"));
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
}

/// Deleting a load balancer waits until its network interfaces are released before the security groups
/// and subnets it used are deleted (AWS releases them asynchronously; the emulator creates none). The fault
/// proxy makes the first three DescribeNetworkInterfaces answers carry one interface described as the load
/// balancer's, as AWS would while releasing them.
#[test]
fn destroy_waits_for_the_load_balancers_network_interfaces_before_its_security_group() {
    use faultproxy::{Fault, Proxy, Rule};
    let mut cli = Cli::new("lb-enis");
    let proxy = Proxy::start(&cli.moto.endpoint);
    cli.endpoint = proxy.url();
    let lb = short_name("eni");
    write_stack(&cli, &lb, r#"name_prefix = "app-""#, 8080);
    let text = cli.read("main.toml");
    cli.write(
        "main.toml",
        &text.replace(
            "subnets = \"${subnet.public[*].id}\"",
            "subnets = \"${subnet.public[*].id}\"\nsecurity_groups = [\"${security_group.lb.id}\"]\n\n[resource.security_group.lb]\nname = \"__STACK__-lb\"\ndescription = \"load balancer\"\nvpc_id = \"${vpc.main.id}\"",
        ),
    );
    cli.apply();
    let eni = "<networkInterfaceSet><item><networkInterfaceId>eni-0released</networkInterfaceId>\
               <description>ELB app/releasing</description><status>in-use</status></item></networkInterfaceSet>";
    proxy.reset_calls();
    proxy.set_rules(vec![Rule::new(
        "DescribeNetworkInterfaces",
        Fault::Rewrite { from: "<networkInterfaceSet/>".into(), to: eni.into() },
    )
    .times(3)]);
    let out = cli.destroy();
    assert_eq!(
        proxy.calls().get("DescribeNetworkInterfaces").copied(),
        Some(4),
        "three polls saw the interface, the fourth none: {:?}",
        proxy.calls()
    );
    assert_eq!(proxy.faults().iter().filter(|f| f.kind == "rewrite").count(), 3, "{:?}", proxy.faults());
    let pos = |needle: &str| out.stderr.find(needle).unwrap_or_else(|| panic!("`{needle}` not in:\n{out}"));
    assert!(
        pos("lb.web: Destruction complete") < pos("security_group.lb: Destroying"),
        "the security group is deleted only after the load balancer (and its interfaces) are gone:\n{out}"
    );
    assert_eq!(cli.count_tagged(), 0, "{:?}", cli.tagged_ids());
}
