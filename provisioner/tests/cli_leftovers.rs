//! Object identity after interrupted runs: an apply of plans/hello killed at every operation boundary
//! converges on re-apply without a leaked duplicate; leftovers found by their tags are adopted or deleted;
//! what the tool must never touch (objects of another lineage, objects `state rm` let go of) is left alone.
//!
//! The kill is deterministic: `PROVISIONER_CRASH_AT=N` makes the binary exit as if killed at its N-th
//! operation boundary (right after an AWS call returned and before its result is saved, and right after the
//! save), with `--parallelism 1` so the boundaries come in a fixed order. The randomised variant (SIGKILL at
//! a random moment through a slow proxy) is `make soak`.

mod common;
mod common_cli;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use common_cli::*;

/// The state's lock id, from the lock file a killed run left behind.
fn lock_id(cli: &Cli) -> String {
    let text = std::fs::read_to_string(cli.lock_path()).expect("a killed run leaves its lock");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["id"].as_str().unwrap().to_owned()
}

/// Every object carrying the stack's and workspace's tags is in the state, no address has two objects, and
/// the re-plan is empty.
fn assert_converged(cli: &Cli, context: &str) {
    let held: BTreeSet<String> = cli.state_ids().into_iter().collect();
    let mut by_address: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (id, tags) in cli.tagged_in_workspace() {
        assert!(held.contains(&id), "{context}: {id} carries the stack's tags but is not in state ({tags:?})");
        by_address.entry(tags.get("provisioner:address").cloned().unwrap_or_default()).or_default().push(id);
    }
    for (address, ids) in &by_address {
        assert_eq!(ids.len(), 1, "{context}: {address} has several objects: {ids:?}");
    }
    let out = cli.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.code, 0, "{context}: re-plan not empty\n{out}");
}

/// One trial: an apply from nothing killed at boundary `n`. Returns false when the apply got past its last
/// boundary (nothing left to kill).
fn trial(cli: &Cli, n: u32) -> bool {
    let crashing = cli.in_workspace(&cli.workspace()).env("PROVISIONER_CRASH_AT", &n.to_string());
    let out = crashing.run(&["apply", "--auto-approve", "--parallelism", "1"]);
    if out.code == 0 && !out.stderr.contains("crash point") {
        cli.ok(&["destroy", "--auto-approve"]);
        return false;
    }
    assert!(out.stderr.contains(&format!("crash point {n} reached")), "boundary {n}:\n{out}");
    let context =
        format!("killed at boundary {n} ({})", out.stderr.lines().find(|l| l.contains("crash point")).unwrap_or(""));
    // The dead run's lock is reported as such, never removed silently.
    let id = lock_id(cli);
    let refused = cli.run(&["plan"]);
    assert_eq!(refused.code, 1, "{context}: the stale lock must stop the next run\n{refused}");
    assert!(
        refused.stderr.contains("no longer running") && refused.stderr.contains(&format!("force-unlock {id}")),
        "{context}\n{refused}"
    );
    cli.ok(&["force-unlock", &id]);
    let again = cli.run(&["apply", "--auto-approve"]);
    assert_eq!(again.code, 0, "{context}: re-apply failed\n{again}");
    assert_converged(cli, &context);
    cli.ok(&["destroy", "--auto-approve"]);
    assert!(cli.tagged_in_workspace().is_empty(), "{context}: destroy left objects behind");
    true
}

/// Kills an apply of plans/hello (staging: everything prod has — NAT, the database with its groups and its
/// secret's policy — without the protection that makes destroying prod a deliberate two-step) at each of its
/// operation boundaries in turn; after each, a re-apply
/// must adopt what the killed run created and did not save (by tags, or by natural key for associations and
/// rules) and create nothing twice. Three copies of the stack share the boundaries to use both cores, each
/// on its own emulator, reset before every trial: moto's EC2 tag lookups scan every tag it ever stored, so
/// a shared, ever-growing emulator made each trial slower than the last.
#[test]
fn killed_at_every_operation_boundary_the_reapply_converges() {
    const WORKERS: u32 = 3;
    let covered: Vec<u32> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                s.spawn(move || {
                    let moto: &'static common::Moto = Box::leak(Box::new(common::Moto::start()));
                    let copy = copy_hello_on(&format!("crash{w}"), moto);
                    let cli = copy.hello.in_workspace("staging");
                    let mut n = w + 1;
                    let mut done = Vec::new();
                    while {
                        moto.reset();
                        copy.shared.ok(&["apply", "--auto-approve"]);
                        trial(&cli, n)
                    } {
                        done.push(n);
                        n += WORKERS;
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().flat_map(|h| h.join().expect("worker")).collect()
    });
    let last = covered.iter().max().copied().unwrap_or(0);
    eprintln!("crashed and recovered at each of {last} operation boundaries");
    // plans/hello staging has 40 resources: at least two boundaries each (the create's checkpoint and its
    // final save, each before and after).
    assert!(last >= 80, "only {last} boundaries reached");
    let all: BTreeSet<u32> = covered.into_iter().collect();
    assert_eq!(all.len() as u32, last, "every boundary up to {last} was tried");
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

/// A VPC created from outside, carrying the given tool tags.
fn outside_vpc(cli: &Cli, cidr: &str, tags: &[(&str, &str)]) -> String {
    let spec = TagSpecification::builder()
        .resource_type(ResourceType::Vpc)
        .set_tags(Some(tags.iter().map(|(k, v)| tag(k, v)).collect()))
        .build();
    let out = block_on(cli.ec2().create_vpc().cidr_block(cidr).tag_specifications(spec).send()).unwrap();
    out.vpc().and_then(|v| v.vpc_id()).unwrap().to_owned()
}

/// A duplicate found by its tags (this stack, workspace and lineage; an address the state holds with
/// another id) is deleted; an object of another lineage is only reported; neither makes the plan lie.
#[test]
fn duplicates_are_deleted_and_other_lineages_left_alone() {
    let cli = Cli::new("dup");
    cli.fixture("small");
    cli.apply();
    let lineage = cli.state()["lineage"].as_str().unwrap().to_owned();
    let stack = cli.stack.clone();
    let dup = outside_vpc(
        &cli,
        "10.9.0.0/16",
        &[
            ("provisioner:stack", &stack),
            ("provisioner:workspace", "default"),
            ("provisioner:lineage", &lineage),
            ("provisioner:address", "vpc.main"),
        ],
    );
    let other_lineage = "00000000-0000-4000-8000-000000000001";
    let foreign = outside_vpc(
        &cli,
        "10.8.0.0/16",
        &[
            ("provisioner:stack", &stack),
            ("provisioner:workspace", "default"),
            ("provisioner:lineage", other_lineage),
            ("provisioner:address", "vpc.main"),
        ],
    );
    let other_ws = outside_vpc(
        &cli,
        "10.6.0.0/16",
        &[
            ("provisioner:stack", &stack),
            ("provisioner:workspace", "elsewhere"),
            ("provisioner:lineage", &lineage),
            ("provisioner:address", "vpc.main"),
        ],
    );

    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    let leftover = format!("vpc.main (leftover {dup})");
    assert_eq!(pairs(&actions(&plan)), [(leftover.as_str(), "delete")], "{plan:#}");
    assert!(change(&plan, &leftover)["reason"].as_str().unwrap().contains("duplicate of vpc.main"), "{plan:#}");
    let untracked = plan["untracked"].as_array().cloned().unwrap_or_default();
    assert_eq!(untracked.len(), 1, "only the other lineage's VPC is reported: {plan:#}");
    assert_eq!(untracked[0]["id"], foreign.as_str());
    assert_eq!(untracked[0]["lineage"], other_lineage);
    let human = cli.ok(&["plan"]);
    assert!(human.stdout.contains("belong to another state") && human.stdout.contains(other_lineage), "{human}");
    assert!(human.stdout.contains(&format!("# {leftover} will be destroyed")), "{human}");

    cli.apply();
    let live = |id: &str| block_on(cli.ec2().describe_vpcs().vpc_ids(id).send()).is_ok_and(|o| !o.vpcs().is_empty());
    assert!(!live(&dup), "the duplicate is deleted");
    assert!(live(&foreign) && live(&other_ws), "objects of another lineage or workspace are never touched");
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
    assert!(live(&foreign) && live(&other_ws), "not even by destroy");
    for id in [foreign, other_ws] {
        block_on(cli.ec2().delete_vpc().vpc_id(id).send()).unwrap();
    }
}

/// A leftover at an address the plan would create is adopted (shown as such, and counted as a change);
/// one at an address the configuration no longer has is deleted.
#[test]
fn leftovers_are_adopted_where_the_plan_creates() {
    let cli = Cli::new("adopt");
    cli.fixture("small");
    cli.apply();
    let lineage = cli.state()["lineage"].as_str().unwrap().to_owned();
    let stack = cli.stack.clone();
    // Forget the VPC's state entry the way a crash between create and save would: the object stays tagged.
    let vpc = cli.id("vpc.main");
    let mut st = cli.state();
    st["resources"].as_array_mut().unwrap().retain(|r| r["address"] != "vpc.main");
    std::fs::write(cli.state_path(), serde_json::to_string_pretty(&st).unwrap()).unwrap();
    let gone = outside_vpc(
        &cli,
        "10.5.0.0/16",
        &[
            ("provisioner:stack", &stack),
            ("provisioner:workspace", "default"),
            ("provisioner:lineage", &lineage),
            ("provisioner:address", "vpc.removed"),
        ],
    );

    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    let removed = format!("vpc.removed (leftover {gone})");
    assert_eq!(pairs(&actions(&plan)), [("vpc.main", "update"), (removed.as_str(), "delete")], "{plan:#}");
    assert_eq!(change(&plan, "vpc.main")["leftover"], vpc.as_str(), "{plan:#}");
    assert_eq!(plan["summary"]["adopt"], 1, "{plan:#}");
    let human = cli.ok(&["plan"]);
    assert!(
        human
            .stdout
            .contains(&format!("# vpc.main will be adopted: {vpc}, found by its tags (left by an interrupted run)")),
        "{human}"
    );
    assert!(human.stdout.contains("no longer in the configuration"), "{human}");
    cli.apply();
    assert_eq!(cli.id("vpc.main"), vpc, "adopted, not created anew");
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0);
}

/// `state rm` while AWS cannot be reached records the object as released; the next apply removes the
/// tool's tags from it, and from then on the object is not the stack's.
#[test]
fn state_rm_offline_releases_on_the_next_apply() {
    let mut cli = Cli::new("release");
    cli.fixture("small");
    cli.apply();
    let b = cli.id("subnet.b");
    cli.set_env("AWS_ENDPOINT_URL", &closed_port_url());
    cli.set_env("PROVISIONER_MAX_ATTEMPTS", "1");
    let out = cli.ok(&["state", "rm", "subnet.b"]);
    assert!(out.stderr.contains("next apply removes them"), "{out}");
    assert_eq!(cli.state()["released"][0]["id"], b.as_str(), "{}", cli.state());
    cli.extra_env_remove("AWS_ENDPOINT_URL");
    assert!(tags_of(&cli.ec2(), &b).contains_key("provisioner:stack"), "still tagged");
    // The released object is neither adopted nor deleted; the plan says its tags will come off.
    cli.edit("main.toml", "[resource.subnet.b]", "[resource.subnet.b2]");
    cli.edit("main.toml", "10.7.2.0/24", "10.7.3.0/24");
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    assert_eq!(pairs(&actions(&plan)), [("subnet.b2", "create")], "{plan:#}");
    assert_eq!(plan["release"][0]["id"], b.as_str(), "{plan:#}");
    cli.apply();
    assert!(tags_of(&cli.ec2(), &b).keys().all(|k| !k.starts_with("provisioner:")), "tags removed");
    assert!(cli.state().get("released").is_none_or(|r| r.as_array().is_some_and(Vec::is_empty)), "{}", cli.state());
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    block_on(cli.ec2().delete_subnet().subnet_id(&b).send()).unwrap();
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0);
}
