//! The smaller commands and flags: `graph`, `state list|show|mv|rm`, `import`, untracked objects,
//! `--target`, `--replace`, `--refresh=false`, Terraform's single-dash spellings, `NO_COLOR`, `show`.

mod common;
mod common_cli;

use common_cli::*;

#[test]
fn graph_prints_dot_with_the_edges() {
    let cli = Cli::offline("misc-graph");
    cli.fixture("lifecycle");
    let out = cli.ok(&["graph"]);
    let dot = &out.stdout;
    assert!(dot.trim_start().starts_with("digraph"), "{out}");
    for edge in [
        "\"subnet.public\" -> \"vpc.main\"",
        "\"subnet.public\" -> \"data.availability_zones.all\"",
        "\"nat_gateway.main\" -> \"internet_gateway.main\"",
        "\"nat_gateway.main\" -> \"eip.nat\"",
        "\"route_table.public\" -> \"internet_gateway.main\"",
        "\"route_table_association.public\" -> \"subnet.public\"",
    ] {
        assert!(dot.contains(edge), "missing edge {edge}:\n{dot}");
    }
    let vpc_deps: Vec<&str> = dot.lines().filter(|l| l.trim_start().starts_with("\"vpc.main\" -> ")).collect();
    assert_eq!(vpc_deps, ["  \"vpc.main\" -> \"local.name\""], "vpc.main depends only on a local:\n{dot}");
}

#[test]
fn state_list_show_mv_rm_and_import() {
    let cli = Cli::new("misc-state");
    cli.fixture("small");
    cli.apply();

    let out = cli.ok(&["state", "list"]);
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["internet_gateway.main", "security_group.web", "subnet.a", "subnet.b", "vpc.main"]
    );
    let b_id = cli.id("subnet.b");
    let out = cli.ok(&["state", "show", "subnet.b"]);
    assert!(out.stdout.contains("10.7.2.0/24") && out.stdout.contains(&b_id), "{out}");
    let out = cli.expect(1, &["state", "show", "subnet.nope"]);
    assert!(out.stderr.contains("not in the state"), "{out}");

    // Rename the block: without `state mv` that is a destroy + create…
    let text = cli.read("main.toml").replace("[resource.subnet.b]", "[resource.subnet.c]");
    std::fs::write(cli.path().join("main.toml"), text).unwrap();
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    assert_eq!(pairs(&actions(&plan)), [("subnet.b", "delete"), ("subnet.c", "create")], "{plan:#}");
    // …with it, nothing to do.
    cli.ok(&["state", "mv", "subnet.b", "subnet.c"]);
    assert_eq!(cli.id("subnet.c"), b_id);
    let plan = cli.json(&[0, 2], &["plan", "--detailed-exitcode"]);
    assert_eq!(actions(&plan), vec![], "moved address is a no-op: {plan:#}");
    assert_eq!(change(&plan, "subnet.c")["action"], "no_op");
    let out = cli.expect(1, &["state", "mv", "subnet.c", "vpc.other"]);
    assert!(out.stderr.contains("cannot move"), "{out}");

    // `state rm` forgets and lets go: the object still exists, without the tool's tags, so no later run of
    // this state adopts or deletes it; the plan wants to create subnet.c anew and mentions nothing else.
    let out = cli.ok(&["state", "rm", "subnet.c"]);
    assert!(out.stdout.contains("still exist"), "{out}");
    assert!(!cli.state_addresses().contains(&"subnet.c".to_owned()));
    assert!(!cli.tagged_ids().contains(&b_id), "rm removes the tool's tags");
    let tags = tags_of(&cli.ec2(), &b_id);
    assert!(tags.keys().all(|k| !k.starts_with("provisioner:")), "{tags:?}");
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    assert_eq!(pairs(&actions(&plan)), [("subnet.c", "create")], "{plan:#}");
    assert!(plan.get("untracked").is_none_or(|u| u.as_array().is_some_and(Vec::is_empty)), "{plan:#}");

    // Import adopts it back, and tags it as this stack's again.
    let out = cli.ok(&["import", "subnet.c", &b_id]);
    assert!(out.stdout.contains("Import successful"), "{out}");
    assert_eq!(cli.id("subnet.c"), b_id);
    assert_eq!(tags_of(&cli.ec2(), &b_id).get("provisioner:address").map(String::as_str), Some("subnet.c"));
    let plan = cli.json(&[0, 2], &["plan", "--detailed-exitcode"]);
    assert_eq!(actions(&plan), vec![], "imported = clean: {plan:#}");
    assert!(plan.get("untracked").is_none_or(|u| u.as_array().is_some_and(Vec::is_empty)), "{plan:#}");
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    let out = cli.expect(1, &["import", "subnet.c", &b_id]);
    assert!(out.stderr.contains("already in the state"), "{out}");
    let out = cli.expect(1, &["import", "subnet.zzz", &b_id]);
    assert!(out.stderr.contains("not in the configuration"), "{out}");

    // `show` prints the state; `show --json` is the state file's content.
    let out = cli.ok(&["show"]);
    assert!(out.stdout.contains("# subnet.c:"), "{out}");
    let out = cli.ok(&["show", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["lineage"], cli.state()["lineage"]);

    cli.destroy();
    assert_eq!(cli.count_tagged(), 0, "{:?}", cli.tagged_ids());
}

#[test]
fn target_replace_refresh_and_single_dash_flags() {
    let cli = Cli::new("misc-flags");
    cli.fixture("small");

    // --target: the target and what it depends on.
    let plan = cli.plan_json(&["--target", "subnet.a"]);
    assert_eq!(pairs(&actions(&plan)), [("subnet.a", "create"), ("vpc.main", "create")], "{plan:#}");
    let plan = cli.plan_json(&["-target=security_group.web"]);
    assert_eq!(pairs(&actions(&plan)), [("security_group.web", "create"), ("vpc.main", "create")], "{plan:#}");

    // Terraform spellings: -var, -out=FILE, -auto-approve, -detailed-exitcode.
    let pf = cli.path().join("p.json");
    let out = cli.ok(&["plan", "-var", "env=x", &format!("-out={}", pf.display())]);
    assert!(out.stdout.contains("5 to add"), "{out}");
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&pf).unwrap()).unwrap();
    assert_eq!(saved["variables"]["env"], "x");
    let out = cli.ok(&["apply", "-auto-approve", "-var", "env=x"]);
    assert!(out.stdout.contains("Apply complete!"), "{out}");
    assert!(!out.stdout.contains('\x1b') && !out.stderr.contains('\x1b'), "NO_COLOR: no escape codes:\n{out}");
    cli.expect(0, &["plan", "-detailed-exitcode", "-var", "env=x"]);
    let out = cli.expect(2, &["plan", "-detailed-exitcode"]);
    assert!(out.stdout.contains("-x") && out.stdout.contains("-dev"), "env default differs from x: {out}");

    // --refresh=false reads nothing from AWS.
    let plan = cli.json(&[0], &["plan", "--refresh=false", "--var", "env=x"]);
    let describes: Vec<&String> =
        plan["api_calls"].as_object().unwrap().keys().filter(|k| k.contains("Describe")).collect();
    assert!(describes.is_empty(), "no Describe calls with --refresh=false: {:#}", plan["api_calls"]);
    assert_eq!(actions(&plan), vec![]);
    let plan = cli.json(&[0], &["plan", "--var", "env=x"]);
    assert!(api_count(&plan, "DescribeVpcs") >= 1, "a normal plan refreshes: {:#}", plan["api_calls"]);

    // --replace plans a replacement of exactly that resource.
    let plan = cli.json(&[2], &["plan", "--replace", "subnet.a", "--var", "env=x", "--detailed-exitcode"]);
    assert_eq!(pairs(&actions(&plan)), [("subnet.a", "replace")], "{plan:#}");
    let old = cli.id("subnet.a");
    cli.ok(&["apply", "--auto-approve", "--replace", "subnet.a", "--var", "env=x"]);
    assert_ne!(cli.id("subnet.a"), old);
    cli.expect(0, &["plan", "--detailed-exitcode", "--var", "env=x"]);
    assert_eq!(cli.count_tagged(), 5, "{:?}", cli.tagged_ids());

    // --no-color and NO_COLOR: no escape codes anywhere.
    let out = cli.ok(&["--no-color", "plan", "--var", "env=x"]);
    assert!(!out.all().contains('\x1b'));

    cli.ok(&["destroy", "-auto-approve", "-var", "env=x"]);
    assert_eq!(cli.count_tagged(), 0);
}

/// `destroy --target X` (and `plan --destroy --target X`) destroys X and everything that depends on X —
/// never X's dependencies, which other resources still use (Terraform's semantics).
#[test]
fn targeted_destroy_takes_dependents_not_dependencies() {
    let cli = Cli::new("misc-tdestroy");
    cli.fixture("small");
    cli.apply();
    let vpc = cli.id("vpc.main");

    let plan = cli.json(&[0], &["plan", "--destroy", "--target", "subnet.a"]);
    assert_eq!(pairs(&actions(&plan)), [("subnet.a", "delete")], "only the target (nothing depends on it): {plan:#}");

    let plan = cli.json(&[0], &["plan", "--destroy", "--target", "vpc.main"]);
    assert_eq!(
        pairs(&actions(&plan)),
        [
            ("internet_gateway.main", "delete"),
            ("security_group.web", "delete"),
            ("subnet.a", "delete"),
            ("subnet.b", "delete"),
            ("vpc.main", "delete"),
        ],
        "the target and all its dependents: {plan:#}"
    );

    cli.ok(&["destroy", "--auto-approve", "--target", "subnet.a"]);
    assert_eq!(cli.state_addresses(), ["internet_gateway.main", "security_group.web", "subnet.b", "vpc.main"]);
    assert!(cli.tagged_ids().contains(&vpc), "the VPC others use survives");
    cli.expect(2, &["plan", "--detailed-exitcode"]);
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0);
}

/// After `state mv`, the object's `provisioner:address` tag still names the old address. The tags are how
/// the tool recognises objects it lost track of, so the next apply must bring the tag up to date; otherwise
/// a later `plan` suggests importing the object at an address that no longer exists.
#[test]
fn state_mv_then_apply_updates_the_address_tag() {
    let cli = Cli::new("misc-mvtag");
    cli.fixture("small");
    cli.apply();
    let b_id = cli.id("subnet.b");
    let text = cli.read("main.toml").replace("[resource.subnet.b]", "[resource.subnet.c]");
    std::fs::write(cli.path().join("main.toml"), text).unwrap();
    cli.ok(&["state", "mv", "subnet.b", "subnet.c"]);
    cli.apply();
    let tag = tags_of(&cli.ec2(), &b_id).get("provisioner:address").cloned();
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
    assert_eq!(tag.as_deref(), Some("subnet.c"), "stale provisioner:address tag after state mv + apply");
}

/// When `state mv` cannot reach AWS, it still moves the record, warns, and the next plan shows the re-tag as
/// an in-place update that apply carries out; after it the plan is empty again.
#[test]
fn state_mv_offline_leaves_a_retag_for_the_next_apply() {
    let mut cli = Cli::new("misc-mvoff");
    cli.fixture("small");
    cli.apply();
    let b_id = cli.id("subnet.b");
    cli.edit("main.toml", "[resource.subnet.b]", "[resource.subnet.c]");
    cli.set_env("AWS_ENDPOINT_URL", &closed_port_url());
    cli.set_env("PROVISIONER_MAX_ATTEMPTS", "1");
    let out = cli.ok(&["state", "mv", "subnet.b", "subnet.c"]);
    assert!(out.stderr.contains("warning") && out.stderr.contains("next apply"), "{out}");
    assert!(!cli.lock_path().exists(), "lock released");
    let mut cli = cli.env("PROVISIONER_MAX_ATTEMPTS", "5");
    cli.extra_env_remove("AWS_ENDPOINT_URL");
    assert_eq!(tags_of(&cli.ec2(), &b_id).get("provisioner:address").map(String::as_str), Some("subnet.b"));
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    assert_eq!(pairs(&actions(&plan)), [("subnet.c", "update")], "{plan:#}");
    assert_eq!(change(&plan, "subnet.c")["retag"]["provisioner:address"], "subnet.b", "{plan:#}");
    let human = cli.ok(&["plan"]);
    assert!(human.stdout.contains("re-tag"), "{human}");
    cli.apply();
    assert_eq!(tags_of(&cli.ec2(), &b_id).get("provisioner:address").map(String::as_str), Some("subnet.c"));
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0);
}

/// `import` must refuse an address the configuration does not produce: a key that `for_each` does not
/// yield, a missing key on a `for_each` block, a key on a block without `for_each`. Otherwise the import
/// "succeeds" and the next apply destroys the object the user meant to adopt ("no longer in configuration").
#[test]
fn import_refuses_instance_keys_the_configuration_does_not_produce() {
    let cli = Cli::new("misc-importkey");
    cli.write(
        "main.toml",
        r#"[stack]
name = "__STACK__"

[backend]
type = "local"
path = ".provisioner/state.json"

[resource.vpc.main]
cidr_block = "10.9.0.0/16"

[resource.subnet.s]
for_each = { a = 1 }
vpc_id = "${vpc.main.id}"
cidr_block = "${cidrsubnet(vpc.main.cidr_block, 8, each.value)}"
"#,
    );
    cli.apply();
    let ec2 = cli.ec2();
    let vpc = cli.id("vpc.main");
    let extra = block_on(ec2.create_subnet().vpc_id(&vpc).cidr_block("10.9.77.0/24").send())
        .unwrap()
        .subnet()
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_owned();
    let before = std::fs::read(cli.state_path()).unwrap();
    let mut failures = Vec::new();
    for (addr, id) in
        [("subnet.s[\"zz\"]", extra.as_str()), ("subnet.s", extra.as_str()), ("vpc.main[\"x\"]", vpc.as_str())]
    {
        let out = cli.run(&["import", addr, id]);
        if out.code != 1 || std::fs::read(cli.state_path()).unwrap() != before {
            failures.push(format!("import {addr} {id} should be refused and leave state alone:\n{out}"));
            let _ = cli.run(&["state", "rm", addr]);
        }
    }
    let plan = cli.json(&[0], &["plan"]);
    let _ = block_on(ec2.delete_subnet().subnet_id(&extra).send());
    cli.destroy();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(actions(&plan), vec![], "{plan:#}");
}
