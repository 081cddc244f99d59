//! The whole lifecycle through the `provisioner` binary against moto: apply, verify from outside with the
//! SDK, no-op re-plan, outputs, in-place update, replacement, drift (changed + deleted outside the tool),
//! destroy; plus the non-TTY approval refusal and `plan -out` + `apply FILE`.

mod common;
mod common_cli;

use aws_sdk_ec2::types::{AttributeBooleanValue, Filter};
use common_cli::*;
use serde_json::Value as Json;

fn vpc_of_stack(ec2: &aws_sdk_ec2::Client, stack: &str) -> aws_sdk_ec2::types::Vpc {
    let out = block_on(
        ec2.describe_vpcs().filters(Filter::builder().name("tag:provisioner:stack").values(stack).build()).send(),
    )
    .unwrap();
    assert_eq!(out.vpcs().len(), 1, "exactly one VPC tagged with the stack: {:?}", out.vpcs());
    out.vpcs()[0].clone()
}

fn subnet(ec2: &aws_sdk_ec2::Client, id: &str) -> aws_sdk_ec2::types::Subnet {
    block_on(ec2.describe_subnets().subnet_ids(id).send()).unwrap().subnets()[0].clone()
}

#[test]
fn lifecycle_apply_verify_update_replace_drift_destroy() {
    let cli = Cli::new("life");
    cli.fixture("lifecycle");
    let ec2 = cli.ec2();

    // validate, then a fresh plan wants to create everything.
    cli.ok(&["validate"]);
    let plan = cli.plan_json(&[]);
    let acts = actions(&plan);
    let expected_addrs = [
        "eip.nat",
        "internet_gateway.main",
        "nat_gateway.main",
        "route_table.public",
        "route_table_association.public[\"a\"]",
        "route_table_association.public[\"b\"]",
        "security_group.web",
        "subnet.public[\"a\"]",
        "subnet.public[\"b\"]",
        "vpc.main",
    ];
    assert_eq!(acts.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(), expected_addrs, "{plan:#}");
    assert!(acts.iter().all(|(_, a)| a == "create"), "{acts:?}");
    assert_eq!(plan["summary"]["add"], 10);
    assert!(!cli.state_path().exists(), "plan must not write state");

    // apply
    let out = cli.apply();
    assert!(out.stdout.contains("Apply complete!"), "{out}");

    // --- verify from outside
    let vpc = vpc_of_stack(&ec2, &cli.stack);
    assert_eq!(vpc.cidr_block(), Some("10.42.0.0/16"));
    let vpc_id = vpc.vpc_id().unwrap().to_owned();
    assert_eq!(cli.id("vpc.main"), vpc_id);
    let vt = tags_of(&ec2, &vpc_id);
    assert_eq!(vt.get("provisioner:stack").map(String::as_str), Some(cli.stack.as_str()), "{vt:?}");
    assert_eq!(vt.get("provisioner:address").map(String::as_str), Some("vpc.main"), "{vt:?}");
    assert_eq!(vt.get("Team").map(String::as_str), Some("platform"), "default_tags: {vt:?}");
    assert_eq!(vt.get("Name"), Some(&format!("{}-dev", cli.stack)), "{vt:?}");

    let zones: Vec<String> =
        serde_json::from_value(cli.state_resource("data.availability_zones.all")["attributes"]["names"].clone())
            .unwrap();
    assert!(zones.len() >= 2, "{zones:?}");
    for (key, n) in [("a", 0usize), ("b", 1)] {
        let addr = format!("subnet.public[\"{key}\"]");
        let s = subnet(&ec2, &cli.id(&addr));
        assert_eq!(s.vpc_id(), Some(vpc_id.as_str()));
        assert_eq!(s.cidr_block(), Some(format!("10.42.{n}.0/24").as_str()));
        assert_eq!(s.availability_zone(), Some(zones[n].as_str()));
        assert_eq!(s.map_public_ip_on_launch(), Some(true));
        let t = tags_of(&ec2, s.subnet_id().unwrap());
        assert_eq!(t.get("provisioner:address"), Some(&addr), "{t:?}");
        assert_eq!(t.get("Team").map(String::as_str), Some("platform"));
        assert_eq!(t.get("Name"), Some(&format!("{}-dev-{key}", cli.stack)));
    }

    let igw_id = cli.id("internet_gateway.main");
    let rt_id = cli.id("route_table.public");
    let rt = block_on(ec2.describe_route_tables().route_table_ids(&rt_id).send()).unwrap().route_tables()[0].clone();
    assert_eq!(rt.vpc_id(), Some(vpc_id.as_str()));
    assert!(
        rt.routes()
            .iter()
            .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0") && r.gateway_id() == Some(igw_id.as_str())),
        "route to the igw: {:?}",
        rt.routes()
    );
    let mut assoc: Vec<String> = rt.associations().iter().filter_map(|a| a.subnet_id().map(str::to_owned)).collect();
    assoc.sort();
    let mut want = vec![cli.id("subnet.public[\"a\"]"), cli.id("subnet.public[\"b\"]")];
    want.sort();
    assert_eq!(assoc, want, "both subnets associated");

    let sg_id = cli.id("security_group.web");
    let sg = block_on(ec2.describe_security_groups().group_ids(&sg_id).send()).unwrap().security_groups()[0].clone();
    assert_eq!(sg.group_name(), Some(format!("{}-dev-web", cli.stack).as_str()));
    assert_eq!(sg.ip_permissions().len(), 1, "{:?}", sg.ip_permissions());
    let p = &sg.ip_permissions()[0];
    assert_eq!((p.from_port(), p.to_port(), p.ip_protocol()), (Some(443), Some(443), Some("tcp")));
    assert_eq!(p.ip_ranges().iter().map(|r| r.cidr_ip().unwrap()).collect::<Vec<_>>(), ["0.0.0.0/0"]);
    assert!(
        sg.ip_permissions_egress().is_empty(),
        "default allow-all egress must be revoked: {:?}",
        sg.ip_permissions_egress()
    );

    let nat_id = cli.id("nat_gateway.main");
    let nat = block_on(ec2.describe_nat_gateways().nat_gateway_ids(&nat_id).send()).unwrap().nat_gateways()[0].clone();
    assert_eq!(nat.subnet_id(), Some(cli.id("subnet.public[\"a\"]").as_str()));
    assert_eq!(nat.state().map(|s| s.as_str()), Some("available"));
    let eip_id = cli.id("eip.nat");
    assert_eq!(nat.nat_gateway_addresses()[0].allocation_id(), Some(eip_id.as_str()));

    // Every tagged object is in state: 10 resources, of which associations are not taggable.
    assert_eq!(cli.count_tagged(), 8, "{:?}", cli.tagged_ids());

    // The state file is private and its previous version is kept.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(cli.state_path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "state file mode {mode:o}");
        assert!(cli.path().join(".provisioner/state.json.backup").exists());
        assert!(!cli.lock_path().exists());
    }
    // State parses and lists every address (plus the data source).
    let st = cli.state();
    assert!(st["serial"].as_u64().unwrap() >= 10, "one write per operation: serial {}", st["serial"]);
    let mut addrs = cli.state_addresses();
    addrs.sort();
    let mut want: Vec<String> = expected_addrs.iter().map(|s| s.to_string()).collect();
    want.push("data.availability_zones.all".into());
    want.sort();
    assert_eq!(addrs, want);

    // No changes now, and nothing reported as changed outside the tool.
    let out = cli.expect(0, &["plan", "--detailed-exitcode"]);
    assert!(out.stdout.contains("No changes."), "{out}");
    assert!(!out.stdout.contains("changed outside"), "{out}");
    let plan = cli.plan_json(&[]);
    assert!(plan.get("drift").is_none_or(|d| d.as_array().is_some_and(Vec::is_empty)), "{plan:#}");
    assert!(plan.get("untracked").is_none_or(|d| d.as_array().is_some_and(Vec::is_empty)), "{plan:#}");

    // Outputs match reality.
    let outs = cli.json(&[0], &["output"]);
    assert_eq!(outs["vpc_id"]["value"], vpc_id.as_str());
    assert_eq!(
        outs["subnet_ids"]["value"],
        serde_json::json!([cli.id("subnet.public[\"a\"]"), cli.id("subnet.public[\"b\"]")])
    );
    assert_eq!(outs["zones"]["value"], serde_json::json!(zones));
    let eip = block_on(ec2.describe_addresses().allocation_ids(&eip_id).send()).unwrap().addresses()[0].clone();
    assert_eq!(outs["nat_public_ip"]["value"], eip.public_ip().unwrap());
    let raw = cli.ok(&["output", "vpc_id", "--raw"]);
    assert_eq!(raw.stdout.trim(), vpc_id);

    // --- in-place update: one attribute of one resource (a tag) and a bool on both subnets.
    cli.edit(
        "main.toml",
        "tags = { Name = \"${local.name}-web\" }",
        "tags = { Name = \"${local.name}-web\", Tier = \"front\" }",
    );
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    assert_eq!(pairs(&actions(&plan)), [("security_group.web", "update")], "{plan:#}");
    assert_eq!(changed_attrs(change(&plan, "security_group.web")), ["tags", "tags_all"], "{plan:#}");
    assert_eq!(change(&plan, "security_group.web")["after"]["tags"]["Tier"], "front");
    assert_eq!(plan["summary"], serde_json::json!({"add": 0, "change": 1, "destroy": 0}));
    cli.apply();
    assert_eq!(tags_of(&ec2, &sg_id).get("Tier").map(String::as_str), Some("front"));
    assert_eq!(cli.id("security_group.web"), sg_id, "updated in place");
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    cli.edit("main.toml", "map_public_ip_on_launch = true", "map_public_ip_on_launch = false");
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    assert_eq!(
        pairs(&actions(&plan)),
        [("subnet.public[\"a\"]", "update"), ("subnet.public[\"b\"]", "update")],
        "{plan:#}"
    );
    for k in ["a", "b"] {
        let c = change(&plan, &format!("subnet.public[\"{k}\"]"));
        assert_eq!(changed_attrs(c), ["map_public_ip_on_launch"], "{c:#}");
    }
    cli.apply();
    assert_eq!(subnet(&ec2, &cli.id("subnet.public[\"b\"]")).map_public_ip_on_launch(), Some(false));
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    // --- forcing change: subnet b's CIDR → replace it (and its association, whose subnet_id changes).
    let old_b = cli.id("subnet.public[\"b\"]");
    cli.edit("main.toml", "netnum = { a = 0, b = 1 }", "netnum = { a = 0, b = 5 }");
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    let acts = actions(&plan);
    assert_eq!(
        pairs(&acts),
        [("route_table_association.public[\"b\"]", "replace"), ("subnet.public[\"b\"]", "replace")],
        "{plan:#}"
    );
    let c = change(&plan, "subnet.public[\"b\"]");
    assert_eq!(c["forces"], serde_json::json!(["cidr_block"]), "{c:#}");
    assert_eq!(c["after"]["cidr_block"], "10.42.5.0/24");
    let out = cli.apply();
    assert!(out.stdout.contains("Apply complete!"), "{out}");
    let new_b = cli.id("subnet.public[\"b\"]");
    assert_ne!(new_b, old_b);
    assert_eq!(subnet(&ec2, &new_b).cidr_block(), Some("10.42.5.0/24"));
    assert!(
        block_on(ec2.describe_subnets().subnet_ids(&old_b).send()).map(|o| o.subnets().is_empty()).unwrap_or(true),
        "old subnet deleted"
    );
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    assert_eq!(cli.count_tagged(), 8, "{:?}", cli.tagged_ids());

    // --- drift: change an attribute outside the tool and delete an object outside the tool.
    let sub_a = cli.id("subnet.public[\"a\"]");
    block_on(
        ec2.modify_subnet_attribute()
            .subnet_id(&sub_a)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(true).build())
            .send(),
    )
    .unwrap();
    block_on(ec2.delete_security_group().group_id(&sg_id).send()).unwrap();
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    assert_eq!(
        pairs(&actions(&plan)),
        [("security_group.web", "create"), ("subnet.public[\"a\"]", "update")],
        "{plan:#}"
    );
    assert_eq!(changed_attrs(change(&plan, "subnet.public[\"a\"]")), ["map_public_ip_on_launch"]);
    let drift = plan["drift"].as_array().expect("drift listed");
    assert_eq!(drift.len(), 2, "{drift:#?}");
    let deleted: Vec<&Json> = drift.iter().filter(|d| d.get("changed").is_none_or(Json::is_null)).collect();
    assert_eq!(deleted.len(), 1, "{drift:#?}");
    assert_eq!(deleted[0]["address"], "security_group.web");
    let changed = drift.iter().find(|d| d["address"] == "subnet.public[\"a\"]").expect("subnet drift");
    assert_eq!(changed["changed"][0]["name"], "map_public_ip_on_launch", "{changed:#}");
    let human = cli.ok(&["plan"]);
    assert!(human.stdout.contains("has been deleted") && human.stdout.contains("has changed"), "{human}");

    cli.apply();
    assert_eq!(subnet(&ec2, &sub_a).map_public_ip_on_launch(), Some(false));
    let new_sg = cli.id("security_group.web");
    assert_ne!(new_sg, sg_id);
    let sg = block_on(ec2.describe_security_groups().group_ids(&new_sg).send()).unwrap().security_groups()[0].clone();
    assert_eq!(sg.ip_permissions().len(), 1);
    assert!(sg.ip_permissions_egress().is_empty());
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    assert_eq!(cli.count_tagged(), 8, "{:?}", cli.tagged_ids());

    // --- destroy
    let out = cli.destroy();
    assert!(out.stdout.contains("Destroy complete!"), "{out}");
    assert_eq!(cli.count_tagged(), 0, "{:?}", cli.tagged_ids());
    let st = cli.state();
    let managed: Vec<&Json> = st["resources"].as_array().unwrap().iter().filter(|r| r["mode"] != "data").collect();
    assert!(managed.is_empty(), "no managed resources left in state: {st:#}");
    let plan = cli.plan_json(&[]);
    assert_eq!(plan["summary"]["add"], 10, "after destroy, everything is to be created again");
}

/// Runs `provisioner -C DIR ARGS` on a pseudo-terminal (util-linux `script`), typing `answer` at the prompt.
fn on_a_tty(cli: &Cli, args: &[&str], answer: &str) -> (i32, String) {
    use std::io::Write;
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let mut line = vec![quote(env!("CARGO_BIN_EXE_provisioner")), "-C".into(), quote(&cli.path().to_string_lossy())];
    line.extend(args.iter().map(|a| quote(a)));
    let mut child = cli
        .command_env(std::path::Path::new("script"))
        .args(["-qefc", &line.join(" "), "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script`");
    // Typed ahead: the terminal keeps the line until the prompt reads it. stdin stays open until the end,
    // since `script` hangs up the terminal when its input closes.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
    let out = wait_output(&mut child, std::time::Duration::from_secs(120));
    drop(stdin);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// On a terminal, `apply` and `destroy` show the plan and ask; anything but `yes` changes nothing.
#[test]
fn apply_and_destroy_ask_on_a_terminal() {
    let cli = Cli::new("tty");
    cli.fixture("small");
    let (code, text) = on_a_tty(&cli, &["apply"], "no");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Only 'yes' will be accepted") && text.contains("Apply cancelled"), "{text}");
    assert_eq!(cli.count_tagged(), 0, "nothing created after `no`");

    let (code, text) = on_a_tty(&cli, &["apply"], "yes");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Apply complete!"), "{text}");
    assert!(cli.count_tagged() > 0);

    let (code, text) = on_a_tty(&cli, &["destroy"], "yes");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("Do you really want to destroy all resources?") && text.contains("Destroy complete!"),
        "{text}"
    );
    assert_eq!(cli.count_tagged(), 0);
}

#[test]
fn apply_without_auto_approve_and_no_tty_refuses() {
    let cli = Cli::new("notty");
    cli.fixture("small");
    let out = cli.expect(1, &["apply"]);
    assert!(out.stderr.contains("--auto-approve"), "{out}");
    assert!(!cli.state_path().exists());
    assert_eq!(cli.count_tagged(), 0);
    let out = cli.expect(1, &["destroy"]);
    assert!(out.stderr.contains("--auto-approve"), "{out}");
}

#[test]
fn saved_plan_is_applied_exactly() {
    let cli = Cli::new("saved");
    cli.fixture("small");
    let plan_file = cli.path().join("plan.json");
    let pf = plan_file.to_str().unwrap();
    let out = cli.ok(&["plan", "-out", pf]);
    assert!(out.stdout.contains("5 to add"), "{out}");
    let saved: Json = serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    let planned = actions(&saved);
    assert_eq!(planned.len(), 5);

    // `show FILE` renders the saved plan.
    let shown = cli.ok(&["show", pf]);
    assert!(shown.stdout.contains("vpc.main will be created"), "{shown}");

    // Applying the file needs no approval (stdin is not a TTY here) and applies exactly it.
    let out = cli.json(&[0], &["apply", pf]);
    let results = out["report"]["results"].as_array().unwrap();
    let mut done: Vec<(String, String)> = results
        .iter()
        .map(|r| {
            assert_eq!(r["status"], "done", "{r}");
            (r["address"].as_str().unwrap().to_owned(), r["op"].as_str().unwrap().to_owned())
        })
        .collect();
    done.sort();
    let planned_ops: Vec<(String, String)> = planned.iter().map(|(a, _)| (a.clone(), "create".to_owned())).collect();
    assert_eq!(done, planned_ops);
    assert_eq!(out["summary"]["add"], 5);
    assert!(out["api_calls"].as_object().is_some_and(|m| !m.is_empty()), "{out:#}");
    assert_eq!(cli.count_tagged(), 5);
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    // The same file again is now stale.
    let out = cli.expect(1, &["apply", pf]);
    assert!(out.stderr.contains("stale"), "{out}");
    assert_eq!(cli.count_tagged(), 5);
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0);
}

/// Right after an apply, nothing has changed outside the tool: the plan must report no drift. (The EIP a
/// NAT gateway of the same stack uses gets associated after the EIP's own create; that association is the
/// tool's own doing, and must be recorded rather than reported as a change made outside.)
#[test]
fn no_drift_reported_right_after_apply() {
    let cli = Cli::new("nodrift");
    cli.fixture("nat");
    cli.apply();
    let plan = cli.plan_json(&[]);
    assert_eq!(actions(&plan), vec![]);
    let drift = plan.get("drift").cloned().unwrap_or(Json::Null);
    let human = cli.ok(&["plan"]);
    cli.destroy();
    assert!(drift.as_array().is_none_or(Vec::is_empty), "spurious drift right after apply: {drift:#}");
    assert!(!human.stdout.contains("changed outside"), "{human}");
}
