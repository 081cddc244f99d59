//! The RDS types through the real CLI against the emulator (which makes DB instances take time as AWS
//! does: `creating` → `backing-up` → `available`, `modifying` with pending values, `deleting`), the SDK to
//! verify from outside: a subnet group, a parameter group (`rds.force_ssl = 1`) and a PostgreSQL 16 instance
//! with a managed master password apply, re-plan empty and destroy leaving nothing; a modify goes through the
//! pending path and waits; configuration mistakes fail at plan, located, before any AWS call; slow, stuck
//! and failed waits of create, modify and delete end bounded, naming the instance and its status, with the
//! instance saved incomplete (not tainted) when the change took effect; import by identifier and name.
//! A major-only `engine_version` is no drift (the engine calls `Resource::reconcile`), and
//! `deletion_protection` makes destroy fail at plan with a hint (`Resource::deletion_refused`).

mod common;
mod common_cli;

use common_cli::*;

/// A unique lower-case name (RDS identifiers and group names are lower case).
fn unique(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

const HEADER: &str =
    "[stack]\nname = \"__STACK__\"\n\n[backend]\ntype = \"local\"\npath = \".provisioner/state.json\"\n\n";

fn rds(cli: &Cli) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(&common::sdk_config(cli.moto))
}

fn describe(cli: &Cli, id: &str) -> Option<aws_sdk_rds::types::DbInstance> {
    block_on(rds(cli).describe_db_instances().db_instance_identifier(id).send())
        .ok()
        .map(|o| o.db_instances()[0].clone())
}

/// The full stack: network, subnet group, parameter group, instance. `extra`: appended to the instance block.
fn write_full(cli: &Cli, names: &Names, engine_version: &str, retention: u32, extra: &str) {
    cli.write(
        "main.toml",
        &format!(
            r#"{HEADER}
[resource.vpc.main]
cidr_block = "10.40.0.0/16"

[resource.subnet.a]
vpc_id = "${{vpc.main.id}}"
cidr_block = "10.40.1.0/24"
availability_zone = "us-east-1a"

[resource.subnet.b]
vpc_id = "${{vpc.main.id}}"
cidr_block = "10.40.2.0/24"
availability_zone = "us-east-1b"

[resource.db_subnet_group.main]
name = "{subnets}"
subnet_ids = ["${{subnet.a.id}}", "${{subnet.b.id}}"]
tags = {{ Team = "data" }}

[resource.db_parameter_group.main]
name = "{params}"
family = "postgres16"
parameter = [{{ name = "rds.force_ssl", value = "1" }}]

[resource.db_instance.main]
identifier = "{db}"
engine = "postgres"
engine_version = "{engine_version}"
instance_class = "db.t4g.micro"
allocated_storage = 20
db_name = "app"
username = "app"
manage_master_user_password = true
db_subnet_group_name = "${{db_subnet_group.main.name}}"
parameter_group_name = "${{db_parameter_group.main.name}}"
backup_retention_period = {retention}
apply_immediately = true
skip_final_snapshot = true
tags = {{ Team = "data" }}
{extra}

[output.secret_arn]
value = "${{db_instance.main.master_user_secret[0].secret_arn}}"

[output.endpoint]
value = "${{db_instance.main.endpoint}}"
"#,
            subnets = names.subnets,
            params = names.params,
            db = names.db,
        ),
    );
}

struct Names {
    subnets: String,
    params: String,
    db: String,
}

impl Names {
    fn new(prefix: &str) -> Names {
        Names {
            subnets: unique(&format!("{prefix}-subnets")),
            params: unique(&format!("{prefix}-pg")),
            db: unique(&format!("{prefix}-db")),
        }
    }
}

#[test]
fn a_postgres_instance_with_its_groups_applies_replans_empty_modifies_through_pending_and_destroys() {
    let cli = Cli::new("rds-full").env("PROVISIONER_PROGRESS_SECS", "0.01");
    let n = Names::new("full");
    // Four polls an operation: other tests' refreshes (which describe every instance) may take one.
    rule(&cli, format!(r#"{{"identifier": "{}", "mode": "complete", "polls": 4}}"#, n.db));
    write_full(&cli, &n, "16.4", 7, "");
    let out = cli.apply();
    assert!(out.stdout.contains("6 added"), "{out}");
    assert!(out.all().contains("db_instance.main: Still creating… ["), "progress while creating:\n{out}");
    assert_eq!(cli.id("db_instance.main"), n.db, "id = identifier");
    assert_eq!(cli.id("db_subnet_group.main"), n.subnets, "id = name");
    assert_eq!(cli.id("db_parameter_group.main"), n.params, "id = name");

    // Verified from outside.
    let client = rds(&cli);
    let groups = block_on(client.describe_db_subnet_groups().db_subnet_group_name(&n.subnets).send()).unwrap();
    let mut subnets: Vec<&str> =
        groups.db_subnet_groups()[0].subnets().iter().filter_map(|s| s.subnet_identifier()).collect();
    subnets.sort();
    let mut want = vec![cli.id("subnet.a"), cli.id("subnet.b")];
    want.sort();
    assert_eq!(subnets, want);
    assert_eq!(groups.db_subnet_groups()[0].db_subnet_group_description(), Some("Managed by provisioner"));
    let params =
        block_on(client.describe_db_parameters().db_parameter_group_name(&n.params).source("user").send()).unwrap();
    let set: Vec<(&str, &str)> =
        params.parameters().iter().filter_map(|p| Some((p.parameter_name()?, p.parameter_value()?))).collect();
    assert_eq!(set, [("rds.force_ssl", "1")]);
    let db = describe(&cli, &n.db).unwrap();
    assert_eq!(db.db_instance_status(), Some("available"));
    assert_eq!(db.storage_encrypted(), Some(true), "encrypted by default");
    assert_ne!(db.publicly_accessible(), Some(true));
    assert_eq!(db.db_subnet_group().and_then(|g| g.db_subnet_group_name()), Some(n.subnets.as_str()));
    assert_eq!(db.db_parameter_groups()[0].db_parameter_group_name(), Some(n.params.as_str()));
    let tags: Vec<&str> = db.tag_list().iter().filter_map(|t| t.key()).collect();
    assert!(tags.contains(&"provisioner:stack") && tags.contains(&"Team"), "tagged in the create call: {tags:?}");
    let secret = db.master_user_secret().and_then(|s| s.secret_arn()).expect("a managed secret").to_owned();
    let a = &cli.state_resource("db_instance.main")["attributes"];
    assert_eq!(a["master_user_secret"][0]["secret_arn"], secret.as_str(), "{a:#}");
    assert_eq!(cli.state()["outputs"]["secret_arn"]["value"], secret.as_str());
    assert_eq!(a["engine_version_actual"], "16.4");
    assert_eq!(a["status"], "available");
    assert!(a["endpoint"].as_str().is_some_and(|e| e.ends_with(":5432")), "{a:#}");
    assert!(
        a.get("password_wo").is_none() && !cli.read(".provisioner/state.json").contains("\"password\""),
        "no password in state"
    );

    // A no-op plan: one describe per type, plus the groups' parameters and tags.
    let plan = cli.json(&[0], &["plan", "--detailed-exitcode"]);
    let calls = &plan["api_calls"];
    for (op, n) in [
        ("RDS.DescribeDBInstances", 1),
        ("RDS.DescribeDBSubnetGroups", 1),
        ("RDS.DescribeDBParameterGroups", 1),
        ("RDS.DescribeDBParameters", 1),
        ("RDS.ListTagsForResource", 2),
    ] {
        assert_eq!(calls[op], n, "{op}: {calls:#}");
    }

    // The metadata of the managed secret, never its value.
    cli.edit(
        "main.toml",
        "[output.endpoint]",
        "[data.secretsmanager_secret.db]\narn = \"${db_instance.main.master_user_secret[0].secret_arn}\"\n\n[output.secret_name]\nvalue = \"${data.secretsmanager_secret.db.name}\"\n\n[output.endpoint]",
    );
    cli.apply();
    let name = cli.state()["outputs"]["secret_name"]["value"].as_str().unwrap().to_owned();
    assert!(name.starts_with("rds!db-"), "{name}");
    let state = cli.read(".provisioner/state.json");
    assert!(!state.contains("secret_string") && !state.contains("\\\"password\\\""), "no secret value in state");

    // A modify applied immediately: `modifying` with the value pending, waited for until applied.
    write_full(&cli, &n, "16.4", 14, "");
    cli.edit(
        "main.toml",
        "[output.endpoint]",
        "[data.secretsmanager_secret.db]\narn = \"${db_instance.main.master_user_secret[0].secret_arn}\"\n\n[output.secret_name]\nvalue = \"${data.secretsmanager_secret.db.name}\"\n\n[output.endpoint]",
    );
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    let c = change(&plan, "db_instance.main");
    assert_eq!(c["action"], "update", "{c:#}");
    assert_eq!(changed_attrs(c), ["backup_retention_period"], "{c:#}");
    let out = cli.apply();
    assert!(out.all().contains("db_instance.main: Still modifying… ["), "progress while modifying:\n{out}");
    let db = describe(&cli, &n.db).unwrap();
    assert_eq!(db.backup_retention_period(), Some(14));
    assert!(db.pending_modified_values().is_none_or(|p| p.backup_retention_period().is_none()), "{db:?}");
    assert_eq!(cli.state_resource("db_instance.main")["attributes"]["backup_retention_period"], 14);
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    // A parameter removed from the configuration is reset.
    cli.edit("main.toml", "parameter = [{ name = \"rds.force_ssl\", value = \"1\" }]", "parameter = []");
    cli.apply();
    let params =
        block_on(client.describe_db_parameters().db_parameter_group_name(&n.params).source("user").send()).unwrap();
    assert!(params.parameters().is_empty(), "{params:?}");
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    let out = cli.destroy();
    assert!(out.all().contains("db_instance.main: Still deleting… ["), "progress while deleting:\n{out}");
    assert!(describe(&cli, &n.db).is_none(), "the instance is gone");
    assert!(cli.tagged_ids().is_empty(), "nothing left: {:?}", cli.tagged_ids());
}

/// A change with `apply_immediately = false` waits for the maintenance window: the apply does not wait for
/// it, and the next plan does not ask for it again (read reports the pending value).
#[test]
fn a_change_for_the_maintenance_window_is_pending_and_no_perpetual_diff() {
    let cli = Cli::new("rds-window");
    let id = unique("window");
    let stack = |retention: u32| {
        format!(
            "{HEADER}[resource.db_instance.main]\nidentifier = \"{id}\"\nengine = \"postgres\"\nengine_version = \"16.4\"\n\
             instance_class = \"db.t4g.micro\"\nallocated_storage = 20\nusername = \"app\"\nmanage_master_user_password = true\n\
             skip_final_snapshot = true\nbackup_retention_period = {retention}\n"
        )
    };
    cli.write("main.toml", &stack(7));
    cli.apply();
    cli.write("main.toml", &stack(21));
    cli.apply();
    let db = describe(&cli, &id).unwrap();
    assert_eq!(db.backup_retention_period(), Some(7), "not applied yet");
    assert_eq!(db.pending_modified_values().and_then(|p| p.backup_retention_period()), Some(21));
    let a = &cli.state_resource("db_instance.main")["attributes"];
    assert_eq!(a["pending_modified_values"]["backup_retention_period"], "21", "{a:#}");
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
}

/// Rules the schema cannot express fail at plan, located at the block, with a hint, before any AWS call.
#[test]
fn configuration_mistakes_fail_at_plan_located_with_hints() {
    let cli = Cli::offline("rds-validate");
    let body = |extra: &str| {
        format!(
            "{HEADER}[resource.db_instance.main]\nidentifier = \"api-db\"\nengine = \"postgres\"\ninstance_class = \"db.t4g.micro\"\n\
             username = \"app\"\n{extra}\n"
        )
    };
    cli.write("main.toml", &body(""));
    let out = cli.expect(1, &["plan"]);
    let all = out.all();
    assert!(all.contains("main.toml:8:"), "located at the block:\n{all}");
    assert!(all.contains("final_snapshot_identifier is required when skip_final_snapshot is false"), "{all}");
    assert!(all.contains("skip_final_snapshot = true"), "says how:\n{all}");
    assert!(all.contains("nothing was sent to AWS"), "{all}");

    cli.write(
        "main.toml",
        &body("skip_final_snapshot = true\nmanage_master_user_password = true\npassword_wo = \"hunter2-secret\""),
    );
    let all = cli.expect(1, &["plan"]).all();
    assert!(all.contains("exclude each other") && !all.contains("hunter2-secret"), "{all}");

    cli.write("main.toml", &body("skip_final_snapshot = true\nidentifier_prefix = \"api-\""));
    assert!(cli.expect(1, &["plan"]).all().contains("not both"));
    cli.write("main.toml", &body("final_snapshot_identifier = \"api--final\""));
    assert!(cli.expect(1, &["plan"]).all().contains("final_snapshot_identifier `api--final`"));
    cli.write("main.toml", &body("skip_final_snapshot = true\ntimeouts = { create = \"soon\" }"));
    assert!(cli.expect(1, &["plan"]).all().contains("timeouts.create = \"soon\" is not a duration"));
    let bad_id = format!(
        "{HEADER}[resource.db_instance.main]\nidentifier = \"Api_DB\"\nengine = \"postgres\"\ninstance_class = \"db.t4g.micro\"\n\
         username = \"app\"\nskip_final_snapshot = true\n"
    );
    cli.write("main.toml", &bad_id);
    assert!(cli.expect(1, &["plan"]).all().contains("identifier `Api_DB`"));

    // Still at plan when other arguments are known only after apply (a subnet group to be created).
    let online = Cli::new("rds-validate-unknown");
    online.write(
        "main.toml",
        &format!(
            "{HEADER}[resource.db_subnet_group.main]\nname = \"{}\"\nsubnet_ids = [\"subnet-1\", \"subnet-2\"]\n\n\
             [resource.db_instance.main]\nidentifier = \"{}\"\nengine = \"postgres\"\ninstance_class = \"db.t4g.micro\"\n\
             username = \"app\"\ndb_subnet_group_name = \"${{db_subnet_group.main.id}}\"\n",
            unique("unknown-subnets"),
            unique("unknown-db")
        ),
    );
    let all = online.expect(1, &["plan"]).all();
    assert!(all.contains("final_snapshot_identifier is required") && all.contains("main.toml:"), "{all}");
    assert!(!online.state_path().exists(), "nothing was created");
}

// ------------------------------------------------------------------------------------------------- waits

/// A lone instance (no groups) for the wait tests; `extra` goes into its block.
fn write_lone(cli: &Cli, id: &str, retention: u32, extra: &str) {
    cli.write(
        "main.toml",
        &format!(
            "{HEADER}[resource.db_instance.main]\nidentifier = \"{id}\"\nengine = \"postgres\"\nengine_version = \"16.4\"\n\
             instance_class = \"db.t4g.micro\"\nallocated_storage = 20\nusername = \"app\"\nmanage_master_user_password = true\n\
             skip_final_snapshot = true\napply_immediately = true\nbackup_retention_period = {retention}\n{extra}\n"
        ),
    );
}

fn rule(cli: &Cli, json: String) {
    cli.moto.rds_behaviour(&json);
}

/// The state keeps the instance marked incomplete (never tainted) with `why` in the note.
fn assert_incomplete(cli: &Cli, why: &str) {
    let rec = cli.state_resource("db_instance.main");
    let note = rec["incomplete"].as_str().unwrap_or_else(|| panic!("not marked incomplete: {rec:#}"));
    assert!(note.contains(why), "{note}");
    assert_ne!(rec["tainted"], true, "{rec:#}");
}

#[test]
fn a_slow_create_completes_after_more_polls() {
    let cli = Cli::new("rds-slow").env("PROVISIONER_PROGRESS_SECS", "0.01");
    let id = unique("slow");
    rule(&cli, format!(r#"{{"identifier": "{id}", "mode": "complete", "polls": 6}}"#));
    write_lone(&cli, &id, 7, "");
    let out = cli.apply();
    assert!(out.all().contains("Still creating… [") && out.all().contains("status creating"), "{out}");
    assert_eq!(describe(&cli, &id).unwrap().db_instance_status(), Some("available"));
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
}

#[test]
fn a_stuck_create_is_bounded_by_timeouts_saved_incomplete_and_finished_by_the_next_apply() {
    let cli = Cli::new("rds-stuck-create");
    let id = unique("stuck-create");
    rule(&cli, format!(r#"{{"identifier": "{id}", "mode": "stuck"}}"#));
    write_lone(&cli, &id, 7, "timeouts = { create = \"2s\" }");
    let started = std::time::Instant::now();
    let out = cli.expect(1, &["apply", "--auto-approve"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "bounded");
    let all = out.all();
    assert!(all.contains(&format!("DB instance {id} is still creating after 2s")), "{all}");
    assert!(all.contains("timeouts.create") && all.contains("provisioner plan"), "says what to do:\n{all}");
    assert_incomplete(&cli, "still creating");

    // It goes on in AWS; the next apply waits for it in place (no replacement).
    rule(&cli, format!(r#"{{"identifier": "{id}", "mode": "complete", "polls": 8}}"#));
    let plan = cli.plan_json(&[]);
    let c = change(&plan, "db_instance.main");
    assert_eq!(c["action"], "update", "{c:#}");
    assert!(c["reason"].as_str().unwrap_or_default().starts_with("the last apply did not finish"), "{c:#}");
    cli.apply();
    assert_eq!(describe(&cli, &id).unwrap().db_instance_status(), Some("available"));
    assert!(cli.state_resource("db_instance.main")["incomplete"].is_null());
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
}

#[test]
fn a_stuck_modify_is_bounded_by_the_wait_timeout_and_names_what_is_pending() {
    let mut cli = Cli::new("rds-stuck-modify");
    let id = unique("stuck-modify");
    write_lone(&cli, &id, 7, "");
    cli.apply();
    rule(&cli, format!(r#"{{"identifier": "{id}", "mode": "stuck"}}"#));
    write_lone(&cli, &id, 10, "");
    cli.set_env("PROVISIONER_WAIT_TIMEOUT_SECS", "2");
    let out = cli.run(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{out}");
    let all = out.all();
    assert!(all.contains(&format!("DB instance {id} is still modifying")), "{all}");
    assert!(all.contains("pending: backup_retention_period=10"), "{all}");
    assert_incomplete(&cli, "still modifying");
    let plan = cli.plan_json(&[]);
    let c = change(&plan, "db_instance.main");
    assert_eq!(c["action"], "update", "{c:#}");
    assert!(c["reason"].as_str().unwrap_or_default().starts_with("the last apply did not finish"), "{c:#}");
    rule(&cli, format!(r#"{{"identifier": "{id}", "mode": "complete", "polls": 1}}"#));
    cli.apply();
    assert_eq!(describe(&cli, &id).unwrap().backup_retention_period(), Some(10));
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
}

#[test]
fn failed_create_modify_and_delete_name_the_instance_and_its_status() {
    let cli = Cli::new("rds-failed");
    let id = unique("failed");
    rule(&cli, format!(r#"{{"identifier": "{id}", "mode": "fail", "polls": 1, "status": "failed"}}"#));
    write_lone(&cli, &id, 7, "");
    let all = cli.expect(1, &["apply", "--auto-approve"]).all();
    assert!(all.contains(&format!("DB instance {id} is failed while creating")), "{all}");
    assert!(all.contains("describe-events"), "says where to look:\n{all}");
    assert_incomplete(&cli, "is failed");
    // Still failed: the next apply says so again rather than replacing the database.
    let all = cli.expect(1, &["apply", "--auto-approve"]).all();
    assert!(all.contains(&format!("DB instance {id} is failed")), "{all}");
    cli.ok(&["state", "rm", "db_instance.main"]);
    rule(&cli, format!(r#"{{"identifier": "{id}", "mode": "complete", "polls": 1}}"#));
    block_on(rds(&cli).delete_db_instance().db_instance_identifier(&id).skip_final_snapshot(true).send()).unwrap();
    common_cli::wait_until("instance gone", std::time::Duration::from_secs(20), || describe(&cli, &id).is_none());

    // A modify that fails.
    cli.apply();
    rule(&cli, format!(r#"{{"identifier": "{id}", "mode": "fail", "polls": 1}}"#));
    write_lone(&cli, &id, 9, "");
    let all = cli.expect(1, &["apply", "--auto-approve"]).all();
    assert!(all.contains(&format!("DB instance {id} is incompatible-parameters while modifying")), "{all}");
    assert_incomplete(&cli, "incompatible-parameters");

    // A delete that fails: the error names it; the instance stays in state.
    rule(&cli, format!(r#"{{"identifier": "{id}", "mode": "fail", "polls": 1, "status": "failed"}}"#));
    let all = cli.expect(1, &["destroy", "--auto-approve"]).all();
    assert!(all.contains(&format!("DB instance {id} is failed while deleting")), "{all}");
    assert!(cli.state_addresses().contains(&"db_instance.main".to_owned()));
    rule(&cli, format!(r#"{{"identifier": "{id}", "mode": "complete", "polls": 1}}"#));
    cli.destroy();
    assert!(describe(&cli, &id).is_none());
}

#[test]
fn a_stuck_delete_is_bounded_and_the_next_destroy_finishes_it() {
    let cli = Cli::new("rds-stuck-delete");
    let id = unique("stuck-delete");
    write_lone(&cli, &id, 7, "timeouts = { delete = \"2s\" }");
    cli.apply();
    rule(&cli, format!(r#"{{"identifier": "{id}", "mode": "stuck"}}"#));
    let all = cli.expect(1, &["destroy", "--auto-approve"]).all();
    assert!(all.contains(&format!("DB instance {id} is still deleting after 2s")), "{all}");
    assert!(cli.state_addresses().contains(&"db_instance.main".to_owned()), "kept in state");
    rule(&cli, format!(r#"{{"identifier": "{id}", "mode": "complete", "polls": 1}}"#));
    cli.destroy();
    assert!(describe(&cli, &id).is_none());
    assert!(cli.state_addresses().is_empty());
}

// ------------------------------------------------------------------------------------------------- import

#[test]
fn import_takes_the_identifier_and_the_group_names() {
    let cli = Cli::new("rds-import");
    let n = Names::new("imp");
    write_full(&cli, &n, "16.4", 7, "");
    cli.apply();
    cli.ok(&["state", "rm", "db_instance.main", "db_subnet_group.main", "db_parameter_group.main"]);
    for (addr, id) in
        [("db_subnet_group.main", &n.subnets), ("db_parameter_group.main", &n.params), ("db_instance.main", &n.db)]
    {
        let out = cli.ok(&["import", addr, id]);
        assert!(out.stdout.contains("Import successful"), "{out}");
        assert_eq!(cli.id(addr), *id);
    }
    let a = &cli.state_resource("db_parameter_group.main")["attributes"];
    assert_eq!(a["family"], "postgres16", "{a:#}");
    let a = &cli.state_resource("db_instance.main")["attributes"];
    assert_eq!(a["engine"], "postgres", "{a:#}");
    // Arguments AWS does not report (skip_final_snapshot, apply_immediately) are planned in place, as after a
    // Terraform import; nothing is replaced.
    let plan = cli.plan_json(&[]);
    for c in plan["changes"].as_array().unwrap() {
        assert!(c["action"] == "no_op" || c["action"] == "update", "{c:#}");
    }
    cli.apply();
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
    assert!(describe(&cli, &n.db).is_none());
}

// ------------------------------------------------------------------------------------------------- engine

/// `engine_version = "16"` while AWS runs 16.4 is no drift; `engine_version_actual` shows the real version.
#[test]
fn a_major_only_engine_version_is_no_drift() {
    let cli = Cli::new("rds-version");
    let id = unique("version");
    cli.write(
        "main.toml",
        &format!(
            "{HEADER}[resource.db_instance.main]\nidentifier = \"{id}\"\nengine = \"postgres\"\nengine_version = \"16\"\n\
             instance_class = \"db.t4g.micro\"\nallocated_storage = 20\nusername = \"app\"\nmanage_master_user_password = true\n\
             skip_final_snapshot = true\n"
        ),
    );
    cli.apply();
    let a = &cli.state_resource("db_instance.main")["attributes"];
    assert_eq!(a["engine_version"], "16", "{a:#}");
    assert_eq!(a["engine_version_actual"], "16.4", "{a:#}");
    let out = cli.expect(0, &["plan", "--detailed-exitcode"]);
    assert!(
        !out.stdout.contains("changed outside"),
        "a minor version under the configured major is no drift either:\n{out}"
    );
    cli.destroy();
}

/// An instance with `deletion_protection = true` is refused at plan, with how to do it.
#[test]
fn deletion_protection_is_refused_at_plan_with_a_hint() {
    let cli = Cli::new("rds-protect");
    let id = unique("protect");
    write_lone(&cli, &id, 7, "deletion_protection = true");
    cli.apply();
    let all = cli.expect(1, &["destroy", "--auto-approve"]).all();
    assert!(
        all.contains(&format!("DB instance {id} has deletion_protection enabled; AWS refuses to delete it")),
        "{all}"
    );
    assert!(all.contains("deletion_protection = false"), "{all}");
    assert!(describe(&cli, &id).is_some());
    write_lone(&cli, &id, 7, "deletion_protection = false");
    cli.apply();
    cli.destroy();
}

/// Ctrl-C during a wait stops waiting at once: the instance is in state (saved right after the create call),
/// marked incomplete, the lock released, and the error says it goes on in AWS.
#[test]
fn ctrl_c_while_creating_saves_the_instance_incomplete_and_says_it_goes_on() {
    let cli = Cli::new("rds-int");
    let id = unique("int");
    rule(&cli, format!(r#"{{"identifier": "{id}", "mode": "stuck"}}"#));
    write_lone(&cli, &id, 7, "");
    let (out, stderr) = apply_interrupted_at(&cli, "Still creating");
    let all = format!("{}\n{stderr}", String::from_utf8_lossy(&out.stdout));
    assert_ne!(out.status.code(), Some(0), "{all}");
    assert!(all.contains(&format!("stopped waiting for DB instance {id} (interrupted) while it is creating")), "{all}");
    assert!(all.contains("goes on in AWS"), "{all}");
    assert!(!cli.lock_path().exists(), "lock released");
    assert_eq!(cli.id("db_instance.main"), id, "saved right after the create call");
    assert_incomplete(&cli, "interrupted");
    rule(&cli, format!(r#"{{"identifier": "{id}", "mode": "complete", "polls": 1}}"#));
    cli.apply();
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
}

/// `password_wo` from a `sensitive = true` variable: sent to AWS, and never found in the state, a plan (text,
/// JSON, saved file), `show`, `output` or the logs; a new `password_wo_version` is an in-place update that
/// sends it again, and the password alone changing is no diff (it is never stored to compare).
#[test]
fn a_write_only_password_reaches_aws_and_nothing_else() {
    const PASSWORD: &str = "Correct-Horse-Battery-9137";
    let cli = Cli::new("rds-password");
    let id = unique("pw");
    let write = |version: u32| {
        cli.write(
            "main.toml",
            &format!(
                "{HEADER}[variable.db_password]\ntype = \"string\"\nsensitive = true\n\n\
                 [resource.db_instance.main]\nidentifier = \"{id}\"\nengine = \"postgres\"\nengine_version = \"16\"\n\
                 instance_class = \"db.t4g.micro\"\nallocated_storage = 20\nusername = \"app\"\n\
                 password_wo = \"${{var.db_password}}\"\npassword_wo_version = {version}\n\
                 skip_final_snapshot = true\napply_immediately = true\n\n\
                 [output.address]\nvalue = \"${{db_instance.main.address}}\"\n"
            ),
        )
    };
    write(1);
    let var = format!("db_password={PASSWORD}");
    let plan_file = cli.path().join("db.plan");
    let plan_arg = plan_file.to_str().unwrap();
    let mut seen: Vec<(&str, String)> = Vec::new();
    seen.push(("plan", cli.ok(&["plan", "--var", &var, "-out", plan_arg]).all()));
    seen.push(("plan file", std::fs::read_to_string(&plan_file).unwrap()));
    seen.push(("plan --json", cli.ok(&["plan", "--json", "--var", &var]).all()));
    let applied = cli
        .command(&["-v", "apply", "--auto-approve", "--var", &var, plan_arg])
        .env("PROVISIONER_LOG", "debug")
        .output()
        .unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&applied.stdout), String::from_utf8_lossy(&applied.stderr));
    assert!(applied.status.success(), "{log}");
    seen.push(("apply with debug logs", log));
    seen.push(("state", std::fs::read_to_string(cli.state_path()).unwrap()));
    seen.push(("show", cli.ok(&["show"]).all()));
    seen.push(("show --json", cli.ok(&["show", "--json"]).all()));
    seen.push(("state show", cli.ok(&["state", "show", "db_instance.main"]).all()));
    seen.push(("output", cli.ok(&["output", "--json"]).all()));
    // The same password again: nothing to do (write-only values are never compared).
    seen.push(("replan", cli.expect(0, &["plan", "--detailed-exitcode", "--var", &var]).all()));
    // Another password without a new version: still nothing (as in Terraform).
    cli.expect(0, &["plan", "--detailed-exitcode", "--var", "db_password=another-one-entirely"]);
    // A new version sends it again, in place.
    write(2);
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode", "--var", &var]);
    assert_eq!(change(&plan, "db_instance.main")["action"], "update", "{plan:#}");
    seen.push(("rotation plan", plan.to_string()));
    let rotated = cli
        .command(&["-v", "apply", "--auto-approve", "--var", &var])
        .env("PROVISIONER_LOG", "debug")
        .output()
        .unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&rotated.stdout), String::from_utf8_lossy(&rotated.stderr));
    assert!(rotated.status.success(), "{log}");
    assert!(log.contains("ModifyDBInstance"), "the rotation sends it with a modify: {log}");
    seen.push(("rotation apply", log));
    seen.push(("state after rotation", std::fs::read_to_string(cli.state_path()).unwrap()));
    seen.push(("destroy", cli.ok(&["destroy", "--auto-approve", "--var", &var]).all()));
    for (what, text) in &seen {
        assert!(!text.contains(PASSWORD), "{what} contains the password:\n{text}");
    }
}
