//! The stacks the repository ships (`plans/`, `examples/`) against the emulator: each environment applies,
//! re-plans empty and destroys without leaving anything tagged.

mod common;
mod common_cli;

use std::collections::BTreeSet;
use std::path::Path;

use common_cli::*;

/// Ids of the state's managed objects of taggable types (all but associations and standalone rules).
fn taggable_state_ids(cli: &Cli) -> BTreeSet<String> {
    cli.state()["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["mode"] != "data" && !["route_table_association", "security_group_rule"].contains(&r["type"].as_str().unwrap_or("")))
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect()
}

fn nat_gateways(cli: &Cli) -> usize {
    cli.state_addresses().iter().filter(|a| a.starts_with("nat_gateway.")).count()
}

/// validate, apply, `check`, a re-plan that must be empty — in workspace `ws` (env/<ws>.toml is loaded by
/// itself).
fn apply_and_replan(cli: &Cli, check: impl Fn(&Cli)) {
    cli.ok(&["validate"]);
    let out = cli.ok(&["apply", "--auto-approve"]);
    assert!(out.stdout.contains("Apply complete"), "{out}");
    check(cli);
    cli.expect(0, &["plan", "--detailed-exitcode"]);
}

fn hello_checks(nats: usize) -> impl Fn(&Cli) {
    move |cli| {
        assert_eq!(nat_gateways(cli), nats, "{:?}", cli.state_addresses());
        // `output` reads the state only: it needs no variable values.
        let outputs = cli.json(&[0], &["output"]);
        assert_eq!(outputs["private_subnet_ids"]["value"].as_array().map(Vec::len), Some(2), "{outputs:#}");
    }
}

/// The environments of plans/hello side by side in one account, one stack directory and one stack name:
/// each has its own state and sees only its own objects; destroying one leaves the others untouched.
#[test]
fn plans_hello_environments_side_by_side() {
    let base = copy_repo_stack("plans-hello", "plans/hello");
    let staging = base.in_workspace("staging");
    let prod = base.in_workspace("prod");
    let dev = base.in_workspace("dev");
    apply_and_replan(&staging, hello_checks(1));
    apply_and_replan(&prod, hello_checks(2));
    apply_and_replan(&dev, hello_checks(1));
    // Each environment still plans empty with the others present, and names its objects after itself.
    staging.expect(0, &["plan", "--detailed-exitcode"]);
    let prod_objects = prod.tagged_in_workspace();
    let tagged: BTreeSet<String> = prod_objects.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(tagged, taggable_state_ids(&prod), "prod's tagged objects are exactly its state's");
    let vpc = prod.id("vpc.main");
    assert_eq!(tags_of(&prod.ec2(), &vpc).get("Name").map(String::as_str), Some("hello-prod"));
    staging.ok(&["destroy", "--auto-approve"]);
    assert!(staging.tagged_in_workspace().is_empty(), "staging's objects are gone");
    assert_eq!(prod.tagged_in_workspace().len(), prod_objects.len(), "prod untouched");
    prod.expect(0, &["plan", "--detailed-exitcode"]);
    prod.ok(&["destroy", "--auto-approve"]);
    dev.ok(&["destroy", "--auto-approve"]);
    assert_eq!(base.count_tagged(), 0, "nothing tagged with the stack is left");
}

/// plans/shared: the image repositories every environment pulls from, with their lifecycle policies.
#[test]
fn plans_shared_applies_replans_and_destroys() {
    let cli = copy_repo_stack("plans-shared", "plans/shared");
    apply_and_replan(&cli, |cli| {
        let outputs = cli.json(&[0], &["output"]);
        let url = outputs["repository_urls"]["value"]["api"].as_str().unwrap_or_default().to_owned();
        assert!(url.ends_with("/hello/api"), "{outputs:#}");
        assert!(outputs["repository_arns"]["value"]["frontend"].as_str().is_some_and(|a| a.starts_with("arn:")), "{outputs:#}");
        let policy = cli.state_resource("ecr_lifecycle_policy.app[\"api\"]")["attributes"]["policy"].to_string();
        assert!(policy.contains("imageCountMoreThan") && policy.contains("30"), "{policy}");
    });
    cli.ok(&["destroy", "--auto-approve"]);
    assert!(cli.state_addresses().is_empty(), "{:?}", cli.state_addresses());
}

#[test]
fn examples_network_dev_and_prod() {
    let base = copy_repo_stack("ex-net", "examples/network");
    for ws in ["dev", "prod"] {
        let cli = base.in_workspace(ws);
        apply_and_replan(&cli, |_| {});
        cli.ok(&["destroy", "--auto-approve"]);
    }
    assert_eq!(base.count_tagged(), 0, "nothing tagged with the stack is left");
}

/// `examples/library` (built by `cargo test` with the other examples) plans and applies the network stack
/// through the library API, finds nothing to do the second time, and destroys it.
#[test]
fn library_example_applies_replans_and_destroys() {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(Path::parent).unwrap().join("examples").join("library");
    assert!(bin.exists(), "{} missing: run the whole test suite (`cargo test -p provisioner`), which builds the examples", bin.display());
    let cli = copy_repo_stack("ex-lib", "examples/network");
    let run = |extra: &[&str]| {
        let out = cli.command_env(&bin).arg(cli.path()).arg("dev").args(extra).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "library example failed:\n{text}");
        text
    };
    let first = run(&[]);
    assert!(first.contains("Apply complete"), "{first}");
    // 18 resources and the availability_zones data source.
    let dev = cli.in_workspace("dev");
    assert_eq!(dev.state_addresses().len(), 19, "{:?}", dev.state_addresses());
    let second = run(&[]);
    assert!(second.contains("No changes"), "{second}");
    run(&["--destroy"]);
    assert_eq!(cli.count_tagged(), 0);
}
