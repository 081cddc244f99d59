//! The stacks the repository ships (`plans/`, `examples/`) against the emulator: each environment applies,
//! re-plans empty and destroys without leaving anything tagged.

mod common;
mod common_cli;

use std::collections::BTreeSet;
use std::path::Path;

use common_cli::*;
use serde_json::Value as Json;

/// Types whose objects carry no tags of their own.
const UNTAGGABLE: [&str; 12] = [
    "route_table_association",
    "s3_bucket_versioning",
    "s3_bucket_server_side_encryption_configuration",
    "s3_bucket_public_access_block",
    "s3_bucket_policy",
    "s3_bucket_lifecycle_configuration",
    "security_group_rule",
    "iam_role_policy",
    "iam_role_policy_attachment",
    "ecr_lifecycle_policy",
    "route53_record",
    "acm_certificate_validation",
];

/// Ids of the state's managed objects of taggable types (all but associations and standalone rules).
fn taggable_state_ids(cli: &Cli) -> BTreeSet<String> {
    cli.state()["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["mode"] != "data" && !UNTAGGABLE.contains(&r["type"].as_str().unwrap_or("")))
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

fn hello_checks<'a>(
    h: &'a Hello,
    ws: &'static str,
    nats: usize,
    retention: i32,
    domain: Option<&'a str>,
) -> impl Fn(&Cli) + 'a {
    move |cli| {
        assert_eq!(nat_gateways(cli), nats, "{:?}", cli.state_addresses());
        // `output` reads the state only: it needs no variable values.
        let outputs = cli.json(&[0], &["output"]);
        assert_eq!(outputs["private_subnet_ids"]["value"].as_array().map(Vec::len), Some(2), "{outputs:#}");
        check_wiring(h, ws, cli, &outputs, retention, domain.is_some());
        check_dns(cli, &outputs, domain);
        check_services(h, ws, cli, &outputs);
        check_database(h, ws, cli, &outputs);
    }
}

/// The api's PostgreSQL, read back with the SDK: in staging and prod an encrypted, private PostgreSQL 16
/// instance in the private subnets' DB subnet group, in the database security group, with the TLS-only
/// parameter group and a managed master password; prod multi-AZ with 14 days of backups and deletion
/// protection, staging single-AZ with 1 day; the api's task gets PG* from the instance and PGPASSWORD from
/// the secret, which the execution role may read and nothing else may. dev: no instance, no PG*.
fn check_database(h: &Hello, ws: &str, cli: &Cli, outputs: &Json) {
    let sdk = common::sdk_config(cli.moto);
    let rds = aws_sdk_rds::Client::new(&sdk);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let iam = aws_sdk_iam::Client::new(&sdk);
    let out = |path: &[&str]| output_str(outputs, path);
    let identifier = format!("{}-{ws}", h.project);
    let api_td =
        block_on(ecs.describe_task_definition().task_definition(out(&["task_definition_arns", "value", "api"])).send())
            .unwrap();
    let api = api_td.task_definition().unwrap().container_definitions()[0].clone();
    let env: std::collections::BTreeMap<&str, &str> =
        api.environment().iter().filter_map(|e| Some((e.name()?, e.value()?))).collect();
    let role_policies =
        block_on(iam.list_role_policies().role_name(format!("{identifier}-task-execution")).send()).unwrap();
    if ws == "dev" {
        assert!(
            block_on(rds.describe_db_instances().db_instance_identifier(&identifier).send()).is_err(),
            "dev has no RDS"
        );
        assert!(!env.contains_key("PGHOST") && api.secrets().is_empty(), "dev's api keeps SQLite: {env:?}");
        assert!(outputs["database"]["value"].is_null(), "{outputs:#}");
        assert_eq!(role_policies.policy_names(), ["pull-images-write-logs"]);
        return;
    }
    let prod = ws == "prod";
    let db = block_on(rds.describe_db_instances().db_instance_identifier(&identifier).send()).unwrap().db_instances()
        [0]
    .clone();
    assert_eq!(db.db_instance_status(), Some("available"));
    assert_eq!(db.engine(), Some("postgres"));
    assert!(db.engine_version().is_some_and(|v| v.starts_with("16.")), "{db:?}");
    assert_eq!(
        out(&["database", "value", "engine_version"]),
        db.engine_version().unwrap(),
        "the running version is shown"
    );
    assert!(db.storage_encrypted() == Some(true) && db.publicly_accessible() == Some(false), "{db:?}");
    assert_eq!(db.multi_az(), Some(prod));
    assert_eq!(db.backup_retention_period(), Some(if prod { 14 } else { 1 }));
    assert_eq!(db.deletion_protection(), Some(prod));
    assert_eq!(db.endpoint().and_then(|e| e.address()).unwrap(), out(&["database", "value", "address"]));
    // In the private subnets' group, in the database security group.
    let group = db.db_subnet_group().expect("subnet group");
    assert_eq!(group.db_subnet_group_name(), Some(identifier.as_str()));
    let mut subnets: Vec<String> =
        group.subnets().iter().filter_map(|s| s.subnet_identifier().map(str::to_owned)).collect();
    subnets.sort();
    let mut private: Vec<String> = outputs["private_subnet_ids"]["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    private.sort();
    assert_eq!(subnets, private, "the DB subnet group is the private subnets");
    let sgs: Vec<&str> = db.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id()).collect();
    assert_eq!(
        sgs,
        [out(&["security_group_ids", "value", "db"])],
        "only the database group (5432 from the api only: check_wiring)"
    );
    // TLS only.
    let pg_name = format!("{identifier}-postgres16");
    assert_eq!(
        db.db_parameter_groups().iter().filter_map(|p| p.db_parameter_group_name()).collect::<Vec<_>>(),
        [pg_name.as_str()]
    );
    let params = block_on(rds.describe_db_parameters().db_parameter_group_name(&pg_name).send()).unwrap();
    let force_ssl =
        params.parameters().iter().find(|p| p.parameter_name() == Some("rds.force_ssl")).expect("rds.force_ssl set");
    assert_eq!(force_ssl.parameter_value(), Some("1"));
    // The managed password: its secret is what the api's task reads, and all the execution role may read.
    let secret_arn =
        db.master_user_secret().and_then(|s| s.secret_arn()).expect("a managed master password").to_owned();
    assert_eq!(out(&["database", "value", "secret_arn"]), secret_arn);
    let address = out(&["database", "value", "address"]);
    let want_env = [
        ("PGHOST", address.as_str()),
        ("PGPORT", "5432"),
        ("PGDATABASE", "hello"),
        ("PGUSER", "hello"),
        ("PGSSLMODE", "require"),
    ];
    for (k, v) in want_env {
        assert_eq!(env.get(k).copied(), Some(v), "api env {k}: {env:?}");
    }
    let secrets: Vec<(&str, &str)> = api.secrets().iter().map(|s| (s.name(), s.value_from())).collect();
    let value_from = format!("{secret_arn}:password::");
    assert_eq!(secrets, [("PGPASSWORD", value_from.as_str())]);
    let mut names = role_policies.policy_names().to_vec();
    names.sort();
    assert_eq!(names, ["pull-images-write-logs", "read-database-password"]);
    let doc = block_on(
        iam.get_role_policy()
            .role_name(format!("{identifier}-task-execution"))
            .policy_name("read-database-password")
            .send(),
    )
    .unwrap();
    let doc = policy_doc(doc.policy_document());
    let st = statements(&doc);
    assert_eq!(st.len(), 1, "{doc:#}");
    assert_eq!(strings(&st[0]["Action"]), ["secretsmanager:GetSecretValue"]);
    assert_eq!(strings(&st[0]["Resource"]), std::slice::from_ref(&secret_arn), "that one secret only");
    // The password RDS generated is nowhere the tool writes or prints.
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let secret = block_on(sm.get_secret_value().secret_id(&secret_arn).send()).unwrap();
    let secret: Json = serde_json::from_str(secret.secret_string().unwrap()).unwrap();
    let password = secret["password"].as_str().expect("the secret holds the password").to_owned();
    assert!(password.len() >= 8, "{secret:#}");
    let verbose = cli.command(&["-v", "plan"]).env("PROVISIONER_LOG", "debug").output().unwrap();
    assert!(verbose.status.success() && !verbose.stderr.is_empty(), "{}", String::from_utf8_lossy(&verbose.stderr));
    let places = [
        ("state", std::fs::read_to_string(cli.state_path()).unwrap()),
        ("plan --json", cli.ok(&["plan", "--json"]).all()),
        ("show", cli.ok(&["show"]).all()),
        ("show --json", cli.ok(&["show", "--json"]).all()),
        ("output", cli.ok(&["output", "--json"]).all()),
        (
            "debug logs",
            format!("{}{}", String::from_utf8_lossy(&verbose.stdout), String::from_utf8_lossy(&verbose.stderr)),
        ),
    ];
    for (what, text) in places {
        assert!(!text.contains(&password), "{what} contains the database password");
    }
}

/// The name and TLS, read back with the SDK. With a domain: `url` is https://<domain>; A and AAAA records
/// alias the (dual-stack) load balancer; the certificate is ISSUED for the domain, its validation records are
/// in the zone exactly as ACM asks, and it is the HTTPS listener's (TLS 1.3 policy); port 80 answers a 301 to
/// 443. Without: `url` is http:// on the load balancer's own name, no certificate, no records.
fn check_dns(cli: &Cli, outputs: &Json, domain: Option<&str>) {
    let sdk = common::sdk_config(cli.moto);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let lb_name = output_str(outputs, &["load_balancer_dns_name", "value"]);
    let lb = block_on(elb.describe_load_balancers().load_balancer_arns(cli.id("lb.main")).send())
        .unwrap()
        .load_balancers()[0]
        .clone();
    assert_eq!(lb.dns_name(), Some(lb_name.as_str()));
    assert_eq!(lb.ip_address_type().map(|t| t.as_str()), Some("dualstack"));
    let http = block_on(elb.describe_listeners().listener_arns(cli.id("lb_listener.http")).send()).unwrap().listeners()
        [0]
    .clone();
    let Some(domain) = domain else {
        assert_eq!(output_str(outputs, &["url", "value"]), format!("http://{lb_name}"));
        assert!(outputs["certificate_arn"]["value"].is_null(), "{outputs:#}");
        assert!(
            cli.state_addresses().iter().all(|a| !a.starts_with("route53_") && !a.starts_with("acm_")),
            "{:?}",
            cli.state_addresses()
        );
        assert_eq!(http.default_actions()[0].r#type().map(|t| t.as_str()), Some("forward"));
        return;
    };
    assert_eq!(output_str(outputs, &["url", "value"]), format!("https://{domain}"));
    let norm = |s: &str| s.trim_end_matches('.').to_lowercase();
    // Port 80: a permanent redirect to HTTPS.
    let redirect = http.default_actions()[0].redirect_config().expect("port 80 redirects");
    assert_eq!(
        (redirect.protocol(), redirect.port(), redirect.status_code().map(|c| c.as_str())),
        (Some("HTTPS"), Some("443"), Some("HTTP_301"))
    );
    // The certificate, issued, on the HTTPS listener.
    let cert_arn = output_str(outputs, &["certificate_arn", "value"]);
    let https = block_on(elb.describe_listeners().listener_arns(cli.id(r#"lb_listener.https["main"]"#)).send())
        .unwrap()
        .listeners()[0]
        .clone();
    assert_eq!((https.port(), https.protocol().map(|p| p.as_str())), (Some(443), Some("HTTPS")));
    assert_eq!(https.ssl_policy(), Some("ELBSecurityPolicy-TLS13-1-2-2021-06"));
    assert_eq!(
        https.certificates().iter().filter_map(|c| c.certificate_arn()).collect::<Vec<_>>(),
        [cert_arn.as_str()]
    );
    let acm = aws_sdk_acm::Client::new(&sdk);
    let cert =
        block_on(acm.describe_certificate().certificate_arn(&cert_arn).send()).unwrap().certificate().unwrap().clone();
    assert_eq!(cert.domain_name(), Some(domain));
    assert_eq!(cert.status().map(|s| s.as_str()), Some("ISSUED"));
    // The zone's records: the validation records ACM asks for, and A + AAAA aliases of the load balancer.
    let r53 = aws_sdk_route53::Client::new(&sdk);
    let zone_id =
        cli.state_resource(r#"route53_record.app["A"]"#)["attributes"]["zone_id"].as_str().unwrap().to_owned();
    let sets = block_on(r53.list_resource_record_sets().hosted_zone_id(&zone_id).send()).unwrap();
    let sets = sets.resource_record_sets();
    for o in cert.domain_validation_options() {
        let want = o.resource_record().expect("validation record");
        let got = sets
            .iter()
            .find(|s| norm(s.name()) == norm(want.name()) && s.r#type().as_str() == want.r#type().as_str())
            .expect("validation record in the zone");
        assert_eq!(got.resource_records().iter().map(|r| r.value()).collect::<Vec<_>>(), [want.value()]);
    }
    for t in ["A", "AAAA"] {
        let rec = sets
            .iter()
            .find(|s| norm(s.name()) == norm(domain) && s.r#type().as_str() == t)
            .unwrap_or_else(|| panic!("{t} {domain}"));
        let alias = rec.alias_target().unwrap_or_else(|| panic!("{t} is an alias"));
        assert_eq!(norm(alias.dns_name()), norm(&lb_name), "{t} aliases the load balancer");
        assert_eq!(Some(alias.hosted_zone_id()), lb.canonical_hosted_zone_id());
    }
}

/// prod's database is protected by `protect` (true in env/prod.toml): destroy is refused at plan, and still
/// refused once `prevent_destroy` is deleted from the configuration (state remembers it); the documented path
/// — apply, then destroy, with `-var protect=false` — turns off deletion protection and destroys it, leaving
/// its final snapshot.
fn destroy_protected_prod(h: &Hello, prod: &Cli) {
    let out = prod.expect(1, &["destroy", "--auto-approve"]);
    assert!(out.stderr.contains(r#"db_instance.main["main"] has lifecycle.prevent_destroy set"#), "{out}");
    assert!(out.stderr.contains("database.toml:"), "located: {out}");
    let setting = r#"lifecycle = { prevent_destroy = "${var.protect}" }"#;
    prod.edit("database.toml", setting, "");
    let out = prod.expect(1, &["destroy", "--auto-approve"]);
    assert!(out.stderr.contains("an earlier apply recorded lifecycle.prevent_destroy = true"), "{out}");
    // Even with the variable off, deletion protection is still on in AWS: the plan says how to lift it.
    let out = prod
        .expect(1, &["destroy", "--auto-approve", "--var", "protect=false", "--allow-protected", "db_instance.main"]);
    assert!(out.stderr.contains("deletion_protection") && out.stderr.contains("protect=false"), "{out}");
    prod.edit(
        "database.toml",
        "


# The execution role",
        &format!(
            "
{setting}

# The execution role"
        ),
    );
    prod.ok(&["apply", "--auto-approve", "--var", "protect=false"]);
    let identifier = format!("{}-prod", h.project);
    let rds = aws_sdk_rds::Client::new(&common::sdk_config(prod.moto));
    let db = block_on(rds.describe_db_instances().db_instance_identifier(&identifier).send()).unwrap().db_instances()
        [0]
    .clone();
    assert_eq!(db.deletion_protection(), Some(false));
    prod.ok(&["destroy", "--auto-approve", "--var", "protect=false"]);
    let snapshot =
        block_on(rds.describe_db_snapshots().db_snapshot_identifier(format!("{identifier}-final")).send()).unwrap();
    assert_eq!(snapshot.db_snapshots().len(), 1, "prod leaves a final snapshot");
}

/// The string at `path` in the `output --json` document.
fn output_str(outputs: &Json, path: &[&str]) -> String {
    let mut v = outputs;
    for p in path {
        v = &v[*p];
    }
    v.as_str().unwrap_or_else(|| panic!("output {path:?} missing: {outputs:#}")).to_owned()
}

/// The ECS side: one cluster per environment; a Fargate service per service, running the latest revision of
/// its task definition (the shared stack's image with the tag `image_tag`, its own port, awslogs to its log
/// group, the binary's own health check), registered in its target group under its container and port, in the
/// environment's subnets (dev: public with public IPs; else private) and its own security group, rolling at
/// 100%/200% with the circuit breaker and rollback.
fn check_services(h: &Hello, ws: &str, cli: &Cli, outputs: &Json) {
    let sdk = common::sdk_config(cli.moto);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let out = |path: &[&str]| output_str(outputs, path);
    let cluster = out(&["cluster_name", "value"]);
    assert_eq!(cluster, format!("{}-{ws}", h.project));
    let tag = out(&["image_tag", "value"]);
    let repos = h.shared.json(&[0], &["output"]);
    let services =
        block_on(ecs.describe_services().cluster(&cluster).services("api").services("frontend").send()).unwrap();
    assert_eq!(services.services().len(), 2, "{services:?}");
    let subnets_of = |tier: &str| -> BTreeSet<String> {
        outputs[format!("{tier}_subnet_ids")]["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    for svc in services.services() {
        let name = svc.service_name().unwrap();
        let port = if name == "api" { 8080 } else { 3000 };
        assert_eq!(svc.status(), Some("ACTIVE"));
        assert_eq!(svc.launch_type().map(|l| l.as_str()), Some("FARGATE"));
        let want_count = if ws == "dev" { 1 } else { 2 };
        assert_eq!((svc.desired_count(), svc.running_count()), (want_count, want_count), "{name}: tasks");
        let primary = svc.deployments().iter().find(|d| d.status() == Some("PRIMARY")).expect("a primary deployment");
        assert_eq!(primary.rollout_state().map(|r| r.as_str()), Some("COMPLETED"), "{name}: {primary:?}");
        assert_eq!(primary.task_definition(), svc.task_definition());
        assert_eq!(svc.task_definition().unwrap(), out(&["task_definition_arns", "value", name]));
        let lb = &svc.load_balancers()[0];
        assert_eq!(lb.target_group_arn().unwrap(), out(&["target_group_arns", "value", name]), "{name}: target group");
        assert_eq!((lb.container_name(), lb.container_port()), (Some(name), Some(port)));
        let net = svc.network_configuration().and_then(|n| n.awsvpc_configuration()).expect("awsvpc");
        let subnets: BTreeSet<String> = net.subnets().iter().cloned().collect();
        let public = ws == "dev";
        assert_eq!(subnets, subnets_of(if public { "public" } else { "private" }), "{name}: subnets");
        assert_eq!(net.security_groups(), [out(&["security_group_ids", "value", name])], "{name}: security groups");
        assert_eq!(net.assign_public_ip().map(|a| a.as_str()), Some(if public { "ENABLED" } else { "DISABLED" }));
        let dc = svc.deployment_configuration().expect("deployment configuration");
        assert_eq!((dc.minimum_healthy_percent(), dc.maximum_percent()), (Some(100), Some(200)), "{name}");
        let cb = dc.deployment_circuit_breaker().expect("circuit breaker");
        assert!(cb.enable() && cb.rollback(), "{name}: {cb:?}");

        let td =
            block_on(ecs.describe_task_definition().task_definition(svc.task_definition().unwrap()).send()).unwrap();
        let td = td.task_definition().unwrap();
        assert_eq!(td.requires_compatibilities().iter().map(|c| c.as_str()).collect::<Vec<_>>(), ["FARGATE"]);
        assert_eq!(td.network_mode().map(|m| m.as_str()), Some("awsvpc"));
        assert_eq!(td.execution_role_arn().unwrap(), out(&["task_execution_role_arn", "value"]));
        let c = &td.container_definitions()[0];
        assert_eq!(c.name(), Some(name));
        let repo = repos["repository_urls"]["value"][name].as_str().unwrap();
        assert_eq!(c.image().unwrap(), format!("{repo}:{tag}"), "{name}: image");
        assert_eq!(c.port_mappings()[0].container_port(), Some(port));
        let hc = c.health_check().expect("health check");
        assert_eq!(hc.command(), ["CMD", &format!("/usr/local/bin/{name}"), "healthcheck"]);
        let logs = c.log_configuration().expect("awslogs");
        assert_eq!(logs.log_driver().as_str(), "awslogs");
        assert_eq!(
            logs.options().and_then(|o| o.get("awslogs-group")).map(String::as_str),
            Some(format!("/ecs/{}-{ws}/{name}", h.project).as_str())
        );
        let env: BTreeSet<&str> = c.environment().iter().filter_map(|e| e.name()).collect();
        assert!(!env.contains("API_URL"), "{name}: the load balancer routes the API, no API_URL: {env:?}");
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// A policy document as IAM returns it (URL-encoded JSON, maybe not), parsed.
fn policy_doc(raw: &str) -> Json {
    let text = if raw.trim_start().starts_with('{') { raw.to_owned() } else { percent_decode(raw) };
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A policy's statements (IAM collapses a one-element `Statement` list to the statement).
fn statements(doc: &Json) -> Vec<Json> {
    match &doc["Statement"] {
        Json::Array(a) => a.clone(),
        Json::Null => vec![],
        one => vec![one.clone()],
    }
}

/// A string or a list of strings (IAM collapses one-element lists), as a sorted list.
fn strings(v: &Json) -> Vec<String> {
    let mut out: Vec<String> = match v {
        Json::String(s) => vec![s.clone()],
        Json::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
        _ => vec![],
    };
    out.sort();
    out
}

/// A security group's rules as sorted lines: `in tcp 80 0.0.0.0/0`, `out tcp 8080 sg-…`.
fn sg_rules(ec2: &aws_sdk_ec2::Client, id: &str) -> Vec<String> {
    let out = block_on(ec2.describe_security_groups().group_ids(id).send()).unwrap();
    let sg = &out.security_groups()[0];
    let mut lines = Vec::new();
    for (dir, perms) in [("in", sg.ip_permissions()), ("out", sg.ip_permissions_egress())] {
        for p in perms {
            let port = match (p.from_port(), p.to_port()) {
                (Some(a), Some(b)) if a == b => a.to_string(),
                (Some(a), Some(b)) => format!("{a}-{b}"),
                _ => "all".into(),
            };
            let proto = p.ip_protocol().unwrap_or("?");
            for r in p.ip_ranges() {
                lines.push(format!("{dir} {proto} {port} {}", r.cidr_ip().unwrap_or("?")));
            }
            for r in p.ipv6_ranges() {
                lines.push(format!("{dir} {proto} {port} {}", r.cidr_ipv6().unwrap_or("?")));
            }
            for g in p.user_id_group_pairs() {
                lines.push(format!("{dir} {proto} {port} {}", g.group_id().unwrap_or("?")));
            }
        }
    }
    lines.sort();
    lines
}

/// The load balancer layer of plans/hello, read back with the SDK: listener rules → target groups, the
/// security groups' rules, the task execution role's trust and permissions, log retention.
fn check_wiring(h: &Hello, ws: &str, cli: &Cli, outputs: &Json, retention: i32, https: bool) {
    let sdk = common::sdk_config(cli.moto);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let iam = aws_sdk_iam::Client::new(&sdk);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let out = |path: &[&str]| output_str(outputs, path);
    let (tg_api, tg_web) =
        (out(&["target_group_arns", "value", "api"]), out(&["target_group_arns", "value", "frontend"]));

    // Listener: default → frontend; /api/*, /stats, /hello, /hello/* → api; /metrics → 404 from the ALB.
    // The routing listener: HTTPS with a domain (HTTP then only redirects, see check_dns), else HTTP.
    let listener = if https { cli.id(r#"lb_listener.https["main"]"#) } else { cli.id("lb_listener.http") };
    let rules = block_on(elb.describe_rules().listener_arn(listener).send()).unwrap();
    let mut seen = Vec::new();
    for r in rules.rules() {
        let paths: BTreeSet<String> = r
            .conditions()
            .iter()
            .flat_map(|c| {
                c.values().iter().chain(c.path_pattern_config().map(|p| p.values()).unwrap_or_default()).cloned()
            })
            .collect();
        let a = &r.actions()[0];
        let target = match a.r#type().map(|t| t.as_str()) {
            Some("forward") if a.target_group_arn() == Some(tg_api.as_str()) => "api".to_owned(),
            Some("forward") if a.target_group_arn() == Some(tg_web.as_str()) => "frontend".to_owned(),
            Some("fixed-response") => {
                format!("fixed {}", a.fixed_response_config().and_then(|f| f.status_code()).unwrap_or("?"))
            }
            other => format!("{other:?} {:?}", a.target_group_arn()),
        };
        seen.push(format!("{} {:?} -> {target}", r.priority().unwrap_or("?"), paths));
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            r#"1 {"/metrics", "/metrics/*"} -> fixed 404"#,
            r#"10 {"/api/*", "/hello", "/hello/*", "/stats"} -> api"#,
            "default {} -> frontend",
        ],
        "listener rules"
    );
    let tgs =
        block_on(elb.describe_target_groups().target_group_arns(&tg_api).target_group_arns(&tg_web).send()).unwrap();
    let mut tg_lines: Vec<String> = tgs
        .target_groups()
        .iter()
        .map(|t| {
            format!(
                "{:?} {:?} {:?} {:?}",
                t.target_type().map(|x| x.as_str().to_owned()),
                t.port(),
                t.health_check_path(),
                t.vpc_id() == Some(cli.id("vpc.main").as_str())
            )
        })
        .collect();
    tg_lines.sort();
    assert_eq!(
        tg_lines,
        [r#"Some("ip") Some(3000) Some("/health") true"#, r#"Some("ip") Some(8080) Some("/health") true"#],
        "target groups"
    );

    // Security groups: least privilege.
    let ec2 = cli.ec2();
    let sg = |k: &str| out(&["security_group_ids", "value", k]);
    let (alb, api, web, db) = (sg("alb"), sg("api"), sg("frontend"), sg("db"));
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let mut alb_in = vec!["in tcp 80 0.0.0.0/0".to_owned(), "in tcp 80 ::/0".to_owned()];
    if https {
        alb_in.extend(["in tcp 443 0.0.0.0/0".to_owned(), "in tcp 443 ::/0".to_owned()]);
    }
    alb_in.extend([format!("out tcp 8080 {api}"), format!("out tcp 3000 {web}")]);
    assert_eq!(sg_rules(&ec2, &alb), sorted(alb_in), "internet → ALB on 80 (and 443 with a domain), IPv4 and IPv6");
    assert_eq!(
        sg_rules(&ec2, &api),
        sorted(vec![format!("in tcp 8080 {alb}"), "out tcp 443 0.0.0.0/0".into(), format!("out tcp 5432 {db}")])
    );
    assert_eq!(sg_rules(&ec2, &web), sorted(vec![format!("in tcp 3000 {alb}"), "out tcp 443 0.0.0.0/0".into()]));
    assert_eq!(sg_rules(&ec2, &db), vec![format!("in tcp 5432 {api}")]);

    // The task execution role: assumable by ECS tasks of this account only; pulls the shared stack's two
    // repositories and writes the two log groups, nothing else.
    let role = block_on(iam.get_role().role_name(format!("{}-{ws}-task-execution", h.project)).send()).unwrap();
    let role = role.role().unwrap();
    assert_eq!(role.arn(), out(&["task_execution_role_arn", "value"]));
    let trust = policy_doc(role.assume_role_policy_document().unwrap());
    let st = &statements(&trust)[0];
    assert_eq!(strings(&st["Principal"]["Service"]), ["ecs-tasks.amazonaws.com"], "{trust:#}");
    assert_eq!(strings(&st["Action"]), ["sts:AssumeRole"], "{trust:#}");
    let account = role.arn().split(':').nth(4).unwrap().to_owned();
    assert_eq!(strings(&st["Condition"]["StringEquals"]["aws:SourceAccount"]), [account], "{trust:#}");
    let inline =
        block_on(iam.get_role_policy().role_name(role.role_name()).policy_name("pull-images-write-logs").send())
            .unwrap();
    let perms = policy_doc(inline.policy_document());
    let repos = h.shared.json(&[0], &["output"]);
    let by_sid = |sid: &str| {
        statements(&perms).into_iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("{sid}: {perms:#}"))
    };
    assert_eq!(strings(&by_sid("Login")["Resource"]), ["*"]);
    assert_eq!(strings(&by_sid("Login")["Action"]), ["ecr:GetAuthorizationToken"]);
    let repo_arns = strings(&Json::Array(vec![
        repos["repository_arns"]["value"]["api"].clone(),
        repos["repository_arns"]["value"]["frontend"].clone(),
    ]));
    assert_eq!(strings(&by_sid("Pull")["Resource"]), repo_arns, "{perms:#}");
    assert_eq!(
        strings(&by_sid("Pull")["Action"]),
        ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    );
    assert_eq!(strings(&by_sid("Logs")["Action"]), ["logs:CreateLogStream", "logs:PutLogEvents"]);
    assert_eq!(statements(&perms).len(), 3, "{perms:#}");
    assert!(block_on(iam.list_attached_role_policies().role_name(role.role_name()).send())
        .unwrap()
        .attached_policies()
        .is_empty());

    // Log groups: one per service, retention per environment, the role's Logs statement on exactly them.
    let prefix = format!("/ecs/{}-{ws}/", h.project);
    let groups = block_on(logs.describe_log_groups().log_group_name_prefix(&prefix).send()).unwrap();
    let mut names: Vec<(String, Option<i32>)> = groups
        .log_groups()
        .iter()
        .map(|g| (g.log_group_name().unwrap_or("").to_owned(), g.retention_in_days()))
        .collect();
    names.sort();
    assert_eq!(names, [(format!("{prefix}api"), Some(retention)), (format!("{prefix}frontend"), Some(retention))]);
    let log_arns = strings(&Json::Array(
        groups
            .log_groups()
            .iter()
            .map(|g| Json::String(format!("{}:log-stream:*", g.arn().unwrap_or("").trim_end_matches(":*"))))
            .collect(),
    ));
    assert_eq!(strings(&by_sid("Logs")["Resource"]), log_arns, "{perms:#}");
}

/// The environments of plans/hello side by side in one account, one stack directory and one stack name:
/// each has its own state and sees only its own objects; destroying one leaves the others untouched.
#[test]
fn plans_hello_environments_side_by_side() {
    let h = copy_hello("plans-hello");
    let base = &h.hello;
    let staging = base.in_workspace("staging");
    let prod = base.in_workspace("prod");
    let dev = base.in_workspace("dev");
    // The shared stack gets a zone; staging is named in it, prod at its apex, dev has no name.
    let zone = format!("{}.example.test", h.project);
    h.shared.ok(&["apply", "--auto-approve", "--var", &format!("zone_name={zone}")]);
    let zone_out = h.shared.json(&[0], &["output"]);
    assert_eq!(zone_out["zone"]["value"]["name"], zone.as_str(), "{zone_out:#}");
    assert_eq!(
        zone_out["zone"]["value"]["name_servers"].as_array().map(Vec::len),
        Some(4),
        "for the registrar: {zone_out:#}"
    );
    let (staging_domain, prod_domain) = (format!("staging.{zone}"), zone.clone());
    let staging = staging.env("PROVISIONER_VAR_domain", &staging_domain);
    let prod = prod.env("PROVISIONER_VAR_domain", &prod_domain);
    apply_and_replan(&staging, hello_checks(&h, "staging", 1, 14, Some(&staging_domain)));
    apply_and_replan(&prod, hello_checks(&h, "prod", 2, 90, Some(&prod_domain)));
    apply_and_replan(&dev, hello_checks(&h, "dev", 0, 3, None));
    image_change_plans_two_revisions_and_two_service_updates(&dev);
    // Each environment still plans empty with the others present, and names its objects after itself.
    staging.expect(0, &["plan", "--detailed-exitcode"]);
    let prod_objects = prod.tagged_in_workspace();
    let tagged: BTreeSet<String> = prod_objects.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(tagged, taggable_state_ids(&prod), "prod's tagged objects are exactly its state's");
    let vpc = prod.id("vpc.main");
    assert_eq!(tags_of(&prod.ec2(), &vpc).get("Name").cloned(), Some(format!("{}-prod", h.project)));
    staging.ok(&["destroy", "--auto-approve"]);
    assert!(staging.tagged_in_workspace().is_empty(), "staging's objects are gone");
    assert_eq!(prod.tagged_in_workspace().len(), prod_objects.len(), "prod untouched");
    prod.expect(0, &["plan", "--detailed-exitcode"]);
    destroy_protected_prod(&h, &prod);
    dev.ok(&["destroy", "--auto-approve"]);
    assert_eq!(base.count_tagged(), 0, "nothing tagged with the stack is left");
    h.shared.ok(&["destroy", "--auto-approve", "--var", &format!("zone_name={zone}")]);
    let r53 = aws_sdk_route53::Client::new(&common::sdk_config(h.shared.moto));
    let zones = block_on(r53.list_hosted_zones_by_name().dns_name(&zone).send()).unwrap();
    assert!(
        zones.hosted_zones().iter().all(|z| z.name().trim_end_matches('.') != zone),
        "the zone went with the shared stack"
    );
}

/// plans/shared with `create_zone = false` uses a zone that exists already (made outside, here with the
/// SDK): its output names it, and destroying the stack leaves it.
#[test]
fn plans_shared_uses_an_existing_zone() {
    let cli = copy_repo_stack("plans-shared-zone", "plans/shared");
    let zone = format!("{}.example.test", cli.stack);
    let r53 = aws_sdk_route53::Client::new(&common::sdk_config(cli.moto));
    let made = block_on(r53.create_hosted_zone().name(&zone).caller_reference(&zone).send()).unwrap();
    let id = made.hosted_zone().unwrap().id().trim_start_matches("/hostedzone/").to_owned();
    let vars = ["--var", &format!("zone_name={zone}"), "--var", "create_zone=false"].map(str::to_owned);
    let with =
        |cmd: &[&str]| -> Vec<String> { cmd.iter().map(|s| s.to_string()).chain(vars.iter().cloned()).collect() };
    let args = with(&["apply", "--auto-approve"]);
    cli.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let out = cli.json(&[0], &["output"]);
    assert_eq!(out["zone"]["value"]["id"], id.as_str(), "{out:#}");
    let args = with(&["plan", "--detailed-exitcode"]);
    cli.expect(0, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        cli.state_addresses().iter().all(|a| !a.starts_with("route53_zone.")),
        "looked up, not managed: {:?}",
        cli.state_addresses()
    );
    let args = with(&["destroy", "--auto-approve"]);
    cli.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(block_on(r53.get_hosted_zone().id(&id).send()).is_ok(), "the existing zone stays");
    block_on(r53.delete_hosted_zone().id(&id).send()).unwrap();
}

/// A new `image_tag` plans exactly what `make demo` shows — the two task definitions replaced by new revisions
/// (created first) and the two services updated — and applying it deploys them and deregisters the old
/// revisions, after which the plan is empty again.
fn image_change_plans_two_revisions_and_two_service_updates(cli: &Cli) {
    let old: Vec<String> =
        ["api", "frontend"].iter().map(|s| cli.id(&format!("ecs_task_definition.service[\"{s}\"]"))).collect();
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode", "--var", "image_tag=v2"]);
    let mut changes: Vec<(String, String)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !matches!(c["action"].as_str(), Some("no_op" | "read")))
        .map(|c| (c["action"].as_str().unwrap().to_owned(), c["address"].as_str().unwrap().to_owned()))
        .collect();
    changes.sort();
    assert_eq!(
        changes,
        [
            ("replace".to_owned(), r#"ecs_task_definition.service["api"]"#.to_owned()),
            ("replace".to_owned(), r#"ecs_task_definition.service["frontend"]"#.to_owned()),
            ("update".to_owned(), r#"ecs_service.app["api"]"#.to_owned()),
            ("update".to_owned(), r#"ecs_service.app["frontend"]"#.to_owned()),
        ]
    );
    cli.ok(&["apply", "--auto-approve", "--var", "image_tag=v2"]);
    cli.expect(0, &["plan", "--detailed-exitcode", "--var", "image_tag=v2"]);
    let ecs = aws_sdk_ecs::Client::new(&common::sdk_config(cli.moto));
    for arn in old {
        let td = block_on(ecs.describe_task_definition().task_definition(&arn).send()).unwrap();
        assert_eq!(
            td.task_definition().and_then(|t| t.status()).map(|s| s.as_str()),
            Some("INACTIVE"),
            "{arn} deregistered"
        );
    }
    // Back to the tag the environment's checks expect.
    cli.ok(&["apply", "--auto-approve"]);
}

/// plans/shared: the image repositories every environment pulls from, with their lifecycle policies.
#[test]
fn plans_shared_applies_replans_and_destroys() {
    let cli = copy_repo_stack("plans-shared", "plans/shared");
    apply_and_replan(&cli, |cli| {
        let outputs = cli.json(&[0], &["output"]);
        let url = outputs["repository_urls"]["value"]["api"].as_str().unwrap_or_default().to_owned();
        assert!(url.ends_with("/hello/api"), "{outputs:#}");
        assert!(
            outputs["repository_arns"]["value"]["frontend"].as_str().is_some_and(|a| a.starts_with("arn:")),
            "{outputs:#}"
        );
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
    assert!(
        bin.exists(),
        "{} missing: run the whole test suite (`cargo test -p provisioner`), which builds the examples",
        bin.display()
    );
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

/// The trust policy of a GitHub role, checked as a document: GitHub's provider as the only principal,
/// AssumeRoleWithWebIdentity, `aud` = sts.amazonaws.com, and exactly `subjects` as `sub` — StringEquals,
/// never StringLike, a wildcard or `ForAllValues:`.
fn check_github_trust(doc: &Json, provider_arn: &str, subjects: &[String]) {
    let st = statements(doc);
    assert_eq!(st.len(), 1, "{doc:#}");
    let s = &st[0];
    assert_eq!(s["Effect"], "Allow", "{doc:#}");
    assert_eq!(s["Principal"], serde_json::json!({ "Federated": provider_arn }), "{doc:#}");
    assert_eq!(strings(&s["Action"]), vec!["sts:AssumeRoleWithWebIdentity"], "{doc:#}");
    let cond = s["Condition"].as_object().expect("a condition");
    assert_eq!(cond.keys().collect::<Vec<_>>(), vec!["StringEquals"], "{doc:#}");
    let eq = &cond["StringEquals"];
    assert_eq!(strings(&eq["token.actions.githubusercontent.com:aud"]), vec!["sts.amazonaws.com"], "{doc:#}");
    let mut want = subjects.to_vec();
    want.sort();
    assert_eq!(strings(&eq["token.actions.githubusercontent.com:sub"]), want, "{doc:#}");
    assert_eq!(eq.as_object().unwrap().len(), 2, "{doc:#}");
    assert!(!doc.to_string().contains('*'), "no wildcard anywhere: {doc:#}");
}

/// plans/shared as the bootstrap: with a state bucket and a repository it makes the bucket (versioned,
/// encrypted, private, TLS only, old versions expiring), GitHub's OIDC provider and the deploy and plan roles
/// with exact trust policies; then it moves its own state into the bucket it made, and plans no change from
/// there; the bucket is protected from destroy.
#[test]
fn plans_shared_bootstraps_the_state_bucket_and_github_roles_then_moves_its_state_in() {
    let cli = copy_repo_stack("plans-boot", "plans/shared");
    let project = format!("b{}", std::process::id() % 100_000);
    let bucket =
        format!("{project}-state-{}", cli.stack.to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
    let bucket = bucket.chars().take(60).collect::<String>().trim_end_matches('-').to_owned();
    let repo = format!("acme/{project}");
    let vars = [
        "-var",
        &format!("project={project}"),
        "-var",
        &format!("state_bucket={bucket}"),
        "-var",
        &format!("github_repository={repo}"),
    ];

    // The plan shows the trust policies as they will be, before anything exists.
    let plan = cli.plan_json(&vars);
    let planned = &change(&plan, "iam_role.github_plan[\"main\"]")["after"]["assume_role_policy"];
    let subjects = |doc: &Json| {
        strings(&statements(doc)[0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"])
    };
    let planned = if let Some(s) = planned.as_str() { policy_doc(s) } else { planned.clone() };
    assert_eq!(
        subjects(&planned),
        vec![format!("repo:{repo}:pull_request"), format!("repo:{repo}:ref:refs/heads/main")],
        "{planned:#}"
    );

    let mut apply = vec!["apply", "--auto-approve"];
    apply.extend(vars);
    cli.ok(&apply);
    let outputs = cli.json(&[0], &["output"]);
    let roles = &outputs["github_roles"]["value"];
    let sdk = common::sdk_config(cli.moto);
    let iam = aws_sdk_iam::Client::new(&sdk);
    let provider_arn = cli.state_resource("iam_openid_connect_provider.github[\"main\"]")["attributes"]["arn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(provider_arn.ends_with(":oidc-provider/token.actions.githubusercontent.com"), "{provider_arn}");
    for (role, subs) in [
        (
            "deploy",
            vec![
                format!("repo:{repo}:ref:refs/heads/main"),
                format!("repo:{repo}:environment:staging"),
                format!("repo:{repo}:environment:prod"),
            ],
        ),
        ("plan", vec![format!("repo:{repo}:pull_request"), format!("repo:{repo}:ref:refs/heads/main")]),
    ] {
        let arn = roles[role].as_str().unwrap_or_else(|| panic!("{outputs:#}"));
        let name = arn.rsplit('/').next().unwrap();
        assert_eq!(name, format!("{project}-github-{role}"));
        let got = block_on(iam.get_role().role_name(name).send()).unwrap();
        let doc = policy_doc(got.role().unwrap().assume_role_policy_document().unwrap());
        check_github_trust(&doc, &provider_arn, &subs);
        let attached = block_on(iam.list_attached_role_policies().role_name(name).send()).unwrap();
        let policies: Vec<&str> = attached.attached_policies().iter().filter_map(|p| p.policy_name()).collect();
        assert_eq!(policies, vec![if role == "deploy" { "PowerUserAccess" } else { "ReadOnlyAccess" }]);
    }
    let deploy_iam =
        cli.state_resource("iam_role_policy.github_deploy_iam[\"main\"]")["attributes"]["policy"].to_string();
    assert!(deploy_iam.contains(&format!(":role/{project}-*")) && !deploy_iam.contains(":role/*"), "{deploy_iam}");

    // The bucket, from outside.
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    let v = block_on(s3.get_bucket_versioning().bucket(&bucket).send()).unwrap();
    assert_eq!(v.status().map(|s| s.as_str()), Some("Enabled"));
    let enc = block_on(s3.get_bucket_encryption().bucket(&bucket).send()).unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(rule.apply_server_side_encryption_by_default().unwrap().sse_algorithm().as_str(), "AES256");
    let pab = block_on(s3.get_public_access_block().bucket(&bucket).send()).unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        [pab.block_public_acls(), pab.block_public_policy(), pab.ignore_public_acls(), pab.restrict_public_buckets()],
        [Some(true); 4]
    );
    let policy = block_on(s3.get_bucket_policy().bucket(&bucket).send()).unwrap();
    let policy: Json = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let deny = &statements(&policy)[0];
    assert_eq!(
        (deny["Effect"].as_str(), deny["Condition"]["Bool"]["aws:SecureTransport"].as_str()),
        (Some("Deny"), Some("false")),
        "{policy:#}"
    );
    let lc = block_on(s3.get_bucket_lifecycle_configuration().bucket(&bucket).send()).unwrap();
    let exp = lc.rules()[0].noncurrent_version_expiration().unwrap();
    assert_eq!((exp.noncurrent_days(), exp.newer_noncurrent_versions()), (Some(90), Some(10)));

    // The stack moves into the bucket it made, as the README says: the `backend` output into backend.toml,
    // then `state migrate`; from there it plans no change.
    let backend = &outputs["backend"]["value"]["shared"];
    assert_eq!(
        (backend["type"].as_str(), backend["bucket"].as_str()),
        (Some("s3"), Some(bucket.as_str())),
        "{outputs:#}"
    );
    cli.write(
        "backend.toml",
        &format!(
            "[backend]\ntype = \"s3\"\nbucket = \"{bucket}\"\nkey = \"{}\"\nregion = \"{}\"\n",
            backend["key"].as_str().unwrap(),
            backend["region"].as_str().unwrap()
        ),
    );
    let out = cli.ok(&["state", "migrate", "--from", "local:.provisioner/state.json"]);
    assert!(out.stdout.contains(&format!("s3://{bucket}/shared/state.json")), "{out}");
    let object = block_on(s3.get_object().bucket(&bucket).key("shared/state.json").send()).unwrap();
    let body = block_on(object.body.collect()).unwrap().into_bytes();
    let moved: Json = serde_json::from_slice(&body).unwrap();
    assert!(moved["resources"].as_array().is_some_and(|r| r.len() > 10), "{moved:#}");
    let mut replan = vec!["plan", "--detailed-exitcode"];
    replan.extend(vars);
    cli.expect(0, &replan);

    // Everything's state is in that bucket: destroy refuses, naming it.
    let mut destroy = vec!["destroy", "--auto-approve"];
    destroy.extend(vars);
    let out = cli.expect(1, &destroy);
    assert!(out.all().contains("s3_bucket.state[\"main\"]") && out.all().contains("prevent_destroy"), "{out}");
}
