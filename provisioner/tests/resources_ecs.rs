//! The ECS cluster and task definition types through the real CLI against the emulator: a cluster and a
//! Fargate task definition apply and re-plan empty (container definitions written without AWS's defaults,
//! and with them spelled out, as a TOML array or a JSON string); a changed image is a replacement that
//! registers revision 2 first and deregisters revision 1 in the same apply; import takes the ARN; rules
//! the schema cannot express fail at plan, located, before any AWS call; destroy leaves nothing ACTIVE.

mod common;
mod common_cli;

use common_cli::*;

/// A unique family / cluster name for this test run.
fn unique(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

const HEADER: &str =
    "[stack]\nname = \"__STACK__\"\n\n[backend]\ntype = \"local\"\npath = \".provisioner/state.json\"\n\n";

/// Container definitions with nothing AWS would add.
const BARE: &str = r#"[
  { name = "api", image = "IMAGE", portMappings = [{ containerPort = 8080 }],
    environment = [{ name = "B", value = "2" }, { name = "A", value = "1" }] },
]"#;

/// The same, with every default AWS fills in spelled out (and the environment in another order).
const WITH_DEFAULTS: &str = r#"[
  { name = "api", image = "IMAGE", cpu = 0, essential = true,
    portMappings = [{ containerPort = 8080, hostPort = 8080, protocol = "tcp" }],
    environment = [{ name = "A", value = "1" }, { name = "B", value = "2" }],
    mountPoints = [], volumesFrom = [], secrets = [] },
]"#;

/// The same as a JSON string, what `jsonencode()` would produce.
const AS_JSON: &str = r#"'[{"name":"api","image":"IMAGE","portMappings":[{"containerPort":8080}],"environment":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}]'"#;

/// The stack; `data`: with the data source looking the cluster up (read at plan time, so only once the
/// cluster exists).
fn write_stack(cli: &Cli, cluster: &str, family: &str, defs: &str, image: &str, data: bool) {
    let lookup = format!(
        "[data.ecs_cluster.main]\ncluster_name = \"{cluster}\"\n\n[output.cluster_arn]\nvalue = \"${{data.ecs_cluster.main.id}}\"\n"
    );
    cli.write(
        "main.toml",
        &format!(
            r#"{HEADER}
[resource.ecs_cluster.main]
name = "{cluster}"
setting = [{{ name = "containerInsights", value = "enabled" }}]
tags = {{ Team = "web" }}

[resource.ecs_task_definition.api]
family = "{family}"
requires_compatibilities = ["FARGATE"]
network_mode = "awsvpc"
cpu = 256
memory = "512"
container_definitions = {defs}
tags = {{ Team = "web" }}

[output.revision]
value = "${{ecs_task_definition.api.revision}}"

{lookup}"#,
            defs = defs.replace("IMAGE", image),
            lookup = if data { lookup.as_str() } else { "" },
        ),
    );
}

fn ecs(cli: &Cli) -> aws_sdk_ecs::Client {
    aws_sdk_ecs::Client::new(&common::sdk_config(cli.moto))
}

/// The status of a task definition revision (ACTIVE / INACTIVE), `None` when it does not exist.
fn td_status(cli: &Cli, arn: &str) -> Option<String> {
    let out = block_on(ecs(cli).describe_task_definition().task_definition(arn).send()).ok()?;
    out.task_definition()?.status().map(|s| s.as_str().to_owned())
}

fn active_revisions(cli: &Cli, family: &str) -> Vec<String> {
    let out = block_on(
        ecs(cli)
            .list_task_definitions()
            .family_prefix(family)
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .send(),
    )
    .unwrap();
    out.task_definition_arns().to_vec()
}

fn cluster_status(cli: &Cli, arn: &str) -> Option<String> {
    let out = block_on(ecs(cli).describe_clusters().clusters(arn).send()).unwrap();
    out.clusters().first().and_then(|c| c.status()).map(str::to_owned)
}

#[test]
fn a_cluster_and_a_fargate_task_definition_apply_replan_empty_replace_create_first_and_destroy() {
    let cli = Cli::new("ecs-td");
    let (cluster, family) = (unique("cl"), unique("api"));
    write_stack(&cli, &cluster, &family, BARE, "nginx:1", false);
    let out = cli.apply();
    assert!(out.stdout.contains("2 added"), "{out}");
    let td1 = cli.id("ecs_task_definition.api");
    assert!(td1.ends_with(&format!("task-definition/{family}:1")), "{td1}");
    let cl = cli.id("ecs_cluster.main");
    assert!(cl.ends_with(&format!("cluster/{cluster}")), "id is the ARN: {cl}");
    let st = cli.state_resource("ecs_task_definition.api");
    assert_eq!(st["attributes"]["revision"], 1, "{st:#}");
    assert_eq!(st["attributes"]["arn_without_revision"].as_str().unwrap(), td1.trim_end_matches(":1"));
    // A no-op refresh: ListClusters + DescribeClusters, ListTaskDefinitions (the family) + DescribeTaskDefinition.
    let plan = cli.json(&[0], &["plan"]);
    let calls = &plan["api_calls"];
    for op in ["ECS.ListClusters", "ECS.DescribeClusters", "ECS.ListTaskDefinitions", "ECS.DescribeTaskDefinition"] {
        assert_eq!(calls[op], 1, "{op}: {calls:#}");
    }
    assert_eq!(calls.as_object().unwrap().values().filter_map(|v| v.as_u64()).sum::<u64>(), 4, "{calls:#}");

    write_stack(&cli, &cluster, &family, BARE, "nginx:1", true);
    cli.apply();
    assert_eq!(cli.state()["outputs"]["cluster_arn"]["value"], cl.as_str(), "data source id = ARN");

    // Tagged in the create calls.
    let tags = block_on(ecs(&cli).list_tags_for_resource().resource_arn(&td1).send()).unwrap();
    let keys: Vec<&str> = tags.tags().iter().filter_map(|t| t.key()).collect();
    assert!(keys.contains(&"provisioner:stack") && keys.contains(&"Team"), "{keys:?}");

    // A re-plan is empty, however the container definitions are written.
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    for defs in [WITH_DEFAULTS, AS_JSON] {
        write_stack(&cli, &cluster, &family, defs, "nginx:1", true);
        let out = cli.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(out.code, 0, "no diff for equivalent definitions:\n{out}");
    }

    // A tag change is an in-place update, not a new revision.
    cli.edit("main.toml", "tags = { Team = \"web\" }\n\n[output", "tags = { Team = \"api\" }\n\n[output");
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    assert_eq!(change(&plan, "ecs_task_definition.api")["action"], "update", "{plan:#}");
    cli.apply();
    assert_eq!(cli.id("ecs_task_definition.api"), td1);
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    // A new image: a replacement, revision 2 registered first, revision 1 deregistered in the same apply.
    cli.edit("main.toml", "nginx:1", "nginx:2");
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    let c = change(&plan, "ecs_task_definition.api");
    assert_eq!(c["action"], "replace", "{c:#}");
    assert_eq!(c["create_before_destroy"], true, "{c:#}");
    assert!(c["reason"].as_str().is_some_and(|r| r.contains("rollback target")), "{c:#}");
    let text = cli.ok(&["plan"]).stdout;
    assert!(text.contains("+/- resource \"ecs_task_definition\" \"api\""), "{text}");
    assert!(text.contains("containerPort"), "the container definitions are shown structured:\n{text}");
    let out = cli.apply();
    assert!(out.stdout.contains("1 added, 0 changed, 1 destroyed"), "{out}");
    let td2 = cli.id("ecs_task_definition.api");
    assert!(td2.ends_with(&format!("{family}:2")), "{td2}");
    assert_eq!(td_status(&cli, &td1).as_deref(), Some("INACTIVE"));
    assert_eq!(active_revisions(&cli, &family), [td2.as_str()]);
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    // Destroy: the revision deregistered, the cluster deleted; nothing of this stack left ACTIVE.
    cli.destroy();
    assert!(active_revisions(&cli, &family).is_empty());
    assert_ne!(cluster_status(&cli, &cl).as_deref(), Some("ACTIVE"));
}

#[test]
fn import_takes_the_arn_and_skip_destroy_keeps_the_revision() {
    let cli = Cli::new("ecs-import");
    let (cluster, family) = (unique("cl"), unique("imp"));
    write_stack(&cli, &cluster, &family, BARE, "nginx:1", false);
    cli.apply();
    let td = cli.id("ecs_task_definition.api");
    let cl = cli.id("ecs_cluster.main");
    cli.ok(&["state", "rm", "ecs_task_definition.api", "ecs_cluster.main"]);

    let out = cli.ok(&["import", "ecs_task_definition.api", &td]);
    assert!(out.stdout.contains("Import successful"), "{out}");
    cli.ok(&["import", "ecs_cluster.main", &cl]);
    let out = cli.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.code, 0, "imported = clean:\n{out}");

    // skip_destroy: an in-place change; destroy then leaves the revision registered.
    cli.edit("main.toml", "memory = \"512\"", "memory = \"512\"\nskip_destroy = true");
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    assert_eq!(change(&plan, "ecs_task_definition.api")["action"], "update", "{plan:#}");
    cli.apply();
    cli.destroy();
    assert_eq!(td_status(&cli, &td).as_deref(), Some("ACTIVE"), "skip_destroy keeps it");
    block_on(ecs(&cli).deregister_task_definition().task_definition(&td).send()).unwrap();
}

#[test]
fn task_definition_rules_fail_at_plan_before_any_aws_call() {
    let cli = Cli::offline("ecs-validate");
    let td = |cpu: &str, memory: &str, defs: &str| {
        format!(
            "{HEADER}[resource.ecs_task_definition.api]\nfamily = \"api\"\nrequires_compatibilities = [\"FARGATE\"]\nnetwork_mode = \"awsvpc\"\ncpu = \"{cpu}\"\nmemory = \"{memory}\"\ncontainer_definitions = {defs}\n"
        )
    };
    let one = r#"[{ name = "api", image = "nginx" }]"#;
    for (text, needles) in [
        (td("256", "4096", one), vec!["not a combination Fargate accepts", "use memory 512, 1024 or 2048"]),
        (
            td("256", "512", r#"[{ name = "api", image = "nginx" }, { name = "api", image = "envoy" }]"#),
            vec!["two containers are named `api`"],
        ),
        (
            td("256", "512", r#"[{ name = "api", image = "nginx", privileged = true }]"#),
            vec!["unsupported container definition key `privileged`", "supported keys here:"],
        ),
    ] {
        cli.write("main.toml", &text);
        let out = cli.expect(1, &["plan"]);
        for needle in needles {
            assert!(out.stderr.contains(needle), "wanted `{needle}`:\n{out}");
        }
        assert!(out.stderr.contains(&format!("{}:", cli.path().join("main.toml").display())), "located: {out}");
        assert!(out.stderr.contains("nothing was sent to AWS"), "hint: {out}");
        assert!(
            !out.stderr.contains("dispatch failure") && !out.stderr.contains("Connection refused"),
            "no AWS call: {out}"
        );
    }
}
