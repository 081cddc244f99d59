//! What the user sees when something is wrong: configuration mistakes (message AND `file:line:col`, a
//! miette snippet with a hint, exit 1, no state written), locked state, stale saved plans, a corrupt
//! state file, and `validate` making no AWS call.

mod common;
mod common_cli;

use std::time::{Duration, Instant};

use common_cli::*;
use state::Backend;

const HEADER: &str =
    "[stack]\nname = \"__STACK__\"\n\n[backend]\ntype = \"local\"\npath = \".provisioner/state.json\"\n\n";

/// `line:col` (1-based) of the first occurrence of `needle` in `text` (after `__STACK__` substitution the
/// positions of the body do not move: the header has the placeholder only on line 2).
fn pos_of(text: &str, needle: &str) -> String {
    let i = text.find(needle).unwrap_or_else(|| panic!("`{needle}` not in:\n{text}"));
    let before = &text[..i];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap().chars().count() + 1;
    format!("{line}:{col}")
}

struct Case {
    name: &'static str,
    /// (file name, contents); HEADER is prepended to `main.toml`.
    files: Vec<(&'static str, String)>,
    args: Vec<&'static str>,
    /// (file, needle the position must point at, message)
    expect: Vec<(&'static str, Option<&'static str>, &'static str)>,
    help: Option<&'static str>,
}

/// Cases that are mistakes only once values are needed (`plan`, `apply`), not for `validate`.
const NEEDS_VALUES: [&str; 1] = ["missing-var"];

fn main_toml(body: &str) -> Vec<(&'static str, String)> {
    vec![("main.toml", format!("{HEADER}{body}"))]
}

fn check(case: &Case, failures: &mut Vec<String>) {
    let cli = Cli::offline(&format!("err-{}", case.name));
    for (f, text) in &case.files {
        cli.write(f, text);
    }
    for cmd in [&["validate"][..], &["plan"][..], &["apply", "--auto-approve"][..]] {
        // `validate` needs no variable values: an unset variable is unknown there, as in Terraform.
        if cmd == ["validate"] && NEEDS_VALUES.contains(&case.name) {
            continue;
        }
        let mut args: Vec<&str> = cmd.to_vec();
        args.extend(case.args.iter().copied());
        let out = cli.run(&args);
        assert_eq!(out.code, 1, "[{}] expected exit 1:\n{out}", case.name);
        for (file, needle, msg) in &case.expect {
            let line = match needle {
                Some(n) => {
                    let text = case.files.iter().find(|(f, _)| f == file).unwrap().1.replace("__STACK__", &cli.stack);
                    let at = pos_of(&text, n);
                    format!("{}: {msg}", cli.path().join(file).display().to_string() + ":" + &at)
                }
                None => msg.to_string(),
            };
            if !out.stderr.contains(&format!("Error: {line}")) {
                failures.push(format!("[{}] wanted `Error: {line}` in stderr:\n{out}", case.name));
            }
        }
        if let Some(h) = case.help {
            assert!(out.stderr.contains("help:"), "[{}] miette help missing:\n{out}", case.name);
            assert!(out.stderr.contains(h), "[{}] wanted help `{h}`:\n{out}", case.name);
        }
        assert!(!out.stderr.contains("panicked"), "{out}");
        assert!(!cli.state_path().exists(), "[{}] a config error must not create state", case.name);
        assert!(!cli.lock_path().exists(), "[{}] no lock left behind", case.name);
    }
}

#[test]
fn config_error_corpus() {
    let cases = vec![
        Case {
            name: "inline-rules-and-rule-resource",
            files: main_toml(
                "[resource.vpc.main]\ncidr_block = \"10.0.0.0/16\"\n\n[resource.security_group.app]\nname = \"app\"\nvpc_id = \"${vpc.main.id}\"\negress = []\n\n[resource.security_group_rule.out]\ntype = \"egress\"\nsecurity_group_id = \"${security_group.app.id}\"\nfrom_port = 443\nto_port = 443\nprotocol = \"tcp\"\ncidr_blocks = [\"0.0.0.0/0\"]\n",
            ),
            args: vec![],
            expect: vec![(
                "main.toml",
                Some("security_group.app.id"),
                "security_group_rule.out adds to `egress` of security_group.app, which sets `egress` inline",
            )],
            help: Some("move security_group.app's inline `egress` rules into security_group_rule blocks"),
        },
        Case {
            name: "toml-syntax",
            files: main_toml("[resource.vpc.main]\ncidr_block = \"10.0.0.0/16\nenable_dns_support = true\n"),
            args: vec![],
            expect: vec![("main.toml", Some("\nenable_dns_support"), "TOML syntax error")],
            help: None,
        },
        Case {
            name: "unknown-attr",
            files: main_toml("[resource.vpc.main]\ncidr_block = \"10.0.0.0/16\"\nenable_dns_hostname = true\n"),
            args: vec![],
            expect: vec![("main.toml", Some("enable_dns_hostname ="), "unknown attribute `enable_dns_hostname` for `vpc`")],
            help: Some("did you mean `enable_dns_hostnames`?"),
        },
        Case {
            name: "wrong-type",
            files: main_toml("[resource.vpc.main]\ncidr_block = \"10.0.0.0/16\"\nenable_dns_support = \"yes\"\n"),
            args: vec![],
            expect: vec![(
                "main.toml",
                Some("\"yes\""),
                "invalid value for `enable_dns_support`: expected bool, found string",
            )],
            help: None,
        },
        Case {
            name: "undeclared-resource",
            files: main_toml(
                "[resource.vpc.main]\ncidr_block = \"10.0.0.0/16\"\n\n[resource.subnet.a]\nvpc_id = \"${vpc.mian.id}\"\ncidr_block = \"10.0.1.0/24\"\n",
            ),
            args: vec![],
            expect: vec![("main.toml", Some("vpc.mian.id"), "reference to undeclared resource `vpc.mian`")],
            help: Some("did you mean `vpc.main`?"),
        },
        Case {
            name: "unknown-ref-attr",
            files: main_toml(
                "[resource.vpc.main]\ncidr_block = \"10.0.0.0/16\"\n\n[resource.subnet.a]\nvpc_id = \"${vpc.main.idd}\"\ncidr_block = \"10.0.1.0/24\"\n",
            ),
            args: vec![],
            expect: vec![("main.toml", Some("idd}"), "`vpc.main` has no attribute `idd`")],
            help: Some("did you mean `id`?"),
        },
        Case {
            name: "cidr",
            files: main_toml("[resource.vpc.main]\ncidr_block = \"10.0.0.0/33\"\n"),
            args: vec![],
            expect: vec![(
                "main.toml",
                Some("\"10.0.0.0/33\""),
                "invalid value for `cidr_block`: `10.0.0.0/33` is not a valid CIDR block (expected e.g. `10.0.0.0/16`)",
            )],
            help: None,
        },
        Case {
            name: "dup-across-files",
            files: vec![
                ("a.toml", format!("{HEADER}[resource.vpc.main]\ncidr_block = \"10.0.0.0/16\"\n")),
                ("b.toml", "# second file\n[resource.vpc.main]\ncidr_block = \"10.1.0.0/16\"\n".to_owned()),
            ],
            args: vec![],
            expect: vec![("b.toml", Some("main]"), "duplicate resource `vpc.main`")],
            help: Some("a.toml"),
        },
        Case {
            name: "unknown-type",
            files: main_toml("[resource.vcp.main]\ncidr_block = \"10.0.0.0/16\"\n"),
            args: vec![],
            expect: vec![("main.toml", Some("vcp"), "unknown resource type `vcp`")],
            help: Some("did you mean `vpc`?"),
        },
        Case {
            name: "missing-required",
            files: main_toml("[resource.vpc.main]\ncidr_block = \"10.0.0.0/16\"\n\n[resource.subnet.a]\nvpc_id = \"${vpc.main.id}\"\n"),
            args: vec![],
            expect: vec![("main.toml", Some("a]"), "`subnet.a` is missing the required attribute `cidr_block`")],
            help: Some("cidr_block"),
        },
        Case {
            name: "missing-var",
            files: main_toml("[variable.region]\ntype = \"string\"\n\n[resource.vpc.main]\ncidr_block = \"10.0.0.0/16\"\ntags = { R = \"${var.region}\" }\n"),
            args: vec![],
            expect: vec![("main.toml", Some("region]"), "variable `region` is required but has no value")],
            help: Some("--var region=VALUE"),
        },
        Case {
            name: "undeclared-cli-var",
            files: main_toml("[variable.env]\ndefault = \"dev\"\n\n[resource.vpc.main]\ncidr_block = \"10.0.0.0/16\"\n"),
            args: vec!["--var", "evn=prod"],
            expect: vec![("main.toml", None, "--var evn=…: no variable named `evn` is declared")],
            help: Some("did you mean `env`?"),
        },
    ];
    let mut failures = Vec::new();
    for c in &cases {
        check(c, &mut failures);
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn dependency_cycle_is_located() {
    let body = r#"[resource.vpc.main]
cidr_block = "10.0.0.0/16"

[resource.security_group.a]
name = "a"
vpc_id = "${vpc.main.id}"
ingress = [{ from_port = 1, to_port = 1, protocol = "tcp", security_groups = ["${security_group.b.id}"] }]

[resource.security_group.b]
name = "b"
vpc_id = "${vpc.main.id}"
ingress = [{ from_port = 2, to_port = 2, protocol = "tcp", security_groups = ["${security_group.a.id}"] }]
"#;
    let cli = Cli::offline("err-cycle");
    let text = format!("{HEADER}{body}");
    cli.write("main.toml", &text);
    let out = cli.expect(1, &["validate"]);
    let msg = "dependency cycle: security_group.a → security_group.b → security_group.a";
    let file = cli.path().join("main.toml").display().to_string();
    let at_b = format!("Error: {file}:{}: {msg}", pos_of(&text, "security_group.b.id"));
    let at_a = format!("Error: {file}:{}: {msg}", pos_of(&text, "security_group.a.id"));
    assert!(out.stderr.contains(&at_a) || out.stderr.contains(&at_b), "wanted `{at_a}` or `{at_b}`:\n{out}");
    assert!(out.stderr.contains("security_group_rule"), "hint: {out}");
    assert!(!cli.state_path().exists());
}

#[test]
fn validate_makes_no_network_call() {
    let cli = Cli::offline("err-offline");
    cli.fixture("lifecycle");
    let start = Instant::now();
    let out = cli.ok(&["validate"]);
    assert!(out.stdout.contains("valid"), "{out}");
    assert!(start.elapsed() < Duration::from_secs(10));
    // …whereas plan does need AWS, and fails cleanly when it is unreachable.
    let cli = cli.env("PROVISIONER_MAX_ATTEMPTS", "1");
    let out = cli.run(&["plan"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(!out.stderr.contains("panicked"), "{out}");
    assert!(!cli.state_path().exists());
}

fn backend(cli: &Cli) -> state::LocalBackend {
    state::LocalBackend::new(cli.state_path())
}

#[test]
fn locked_state_fails_at_once_then_waits_then_force_unlock() {
    let cli = Cli::new("err-lock");
    cli.fixture("small");
    std::fs::create_dir_all(cli.state_path().parent().unwrap()).unwrap();
    let be = backend(&cli);
    let info = state::LockInfo::new("apply", "test holder");
    block_on(be.try_lock(&info)).unwrap();

    for args in [&["plan"][..], &["apply", "--auto-approve"][..]] {
        let start = Instant::now();
        let out = cli.expect(1, args);
        assert!(start.elapsed() < Duration::from_secs(10), "fails at once");
        assert!(out.stderr.contains("state is locked by"), "{out}");
        assert!(out.stderr.contains(&info.id), "names the lock id: {out}");
        assert!(out.stderr.contains(&info.who), "names the holder: {out}");
        assert!(out.stderr.contains(&format!("force-unlock {}", info.id)), "force-unlock hint: {out}");
    }
    assert_eq!(cli.count_tagged(), 0, "nothing created while locked");

    // --lock-timeout: the lock is released after 500 ms; plan waits and succeeds.
    let state_path = cli.state_path();
    let id = info.id.clone();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        block_on(state::LocalBackend::new(state_path).unlock(&id)).unwrap();
    });
    let out = cli.ok(&["plan", "--lock-timeout", "5s"]);
    releaser.join().unwrap();
    assert!(out.stdout.contains("to add"), "{out}");
    assert!(!cli.lock_path().exists());

    // A stale lock: force-unlock with a wrong id fails, with the right id succeeds.
    let info = state::LockInfo::new("apply", "crashed holder");
    block_on(be.try_lock(&info)).unwrap();
    let out = cli.expect(1, &["force-unlock", "00000000-0000-0000-0000-000000000000"]);
    assert!(out.stderr.contains(&info.id), "tells the real id: {out}");
    assert!(cli.lock_path().exists());
    cli.ok(&["force-unlock", &info.id]);
    assert!(!cli.lock_path().exists());
    cli.ok(&["plan"]);
}

#[test]
fn stale_saved_plans_are_refused() {
    let cli = Cli::new("err-stale");
    cli.fixture("small");
    let f = |n: &str| cli.path().join(n).to_str().unwrap().to_owned();

    // (d) a plan made against NO state, applied after another apply created the state.
    let p_empty = f("empty.json");
    cli.ok(&["plan", "-out", &p_empty]);
    cli.apply();
    let n = cli.count_tagged();
    assert_eq!(n, 5);
    let out = cli.expect(1, &["apply", &p_empty]);
    assert!(out.stderr.contains("stale") && out.stderr.contains("no state"), "{out}");
    assert_eq!(cli.count_tagged(), n, "nothing created twice");

    // (a) state serial changed since the plan: a change is planned, then something else is applied first.
    cli.edit("main.toml", "tags = { Name = \"a\" }", "tags = { Name = \"a2\" }");
    let p_serial = f("serial.json");
    cli.expect(0, &["plan", "-out", &p_serial]);
    let serial_before = cli.state()["serial"].as_u64().unwrap();
    cli.apply();
    assert!(cli.state()["serial"].as_u64().unwrap() > serial_before);
    let state_before = std::fs::read(cli.state_path()).unwrap();
    let out = cli.expect(1, &["apply", &p_serial]);
    assert!(out.stderr.contains("stale") && out.stderr.contains("serial"), "{out}");
    assert_eq!(std::fs::read(cli.state_path()).unwrap(), state_before, "a refused plan writes nothing");

    // (b) the configuration changed since the plan.
    cli.edit("main.toml", "tags = { Name = \"a2\" }", "tags = { Name = \"a3\" }");
    let p_cfg = f("cfg.json");
    cli.ok(&["plan", "-out", &p_cfg]);
    cli.edit("main.toml", "tags = { Name = \"a3\" }", "tags = { Name = \"a4\" }");
    let out = cli.expect(1, &["apply", &p_cfg]);
    assert!(out.stderr.contains("stale") && out.stderr.contains("configuration"), "{out}");

    // (c) different --var than the plan was made with.
    let p_var = f("var.json");
    cli.ok(&["plan", "-out", &p_var, "--var", "env=prod"]);
    let out = cli.expect(1, &["apply", &p_var, "--var", "env=staging"]);
    assert!(out.stderr.contains("stale") && out.stderr.contains("`env`"), "{out}");
    // …while the same file without --var uses the plan's own values and applies.
    cli.ok(&["apply", &p_var]);
    let vpc = cli.id("vpc.main");
    assert_eq!(tags_of(&cli.ec2(), &vpc).get("Name"), Some(&format!("{}-prod", cli.stack)));

    cli.destroy();
    assert_eq!(cli.count_tagged(), 0);
}

#[test]
fn corrupt_state_is_reported_and_never_overwritten() {
    let cli = Cli::new("err-corrupt");
    cli.fixture("small");
    std::fs::create_dir_all(cli.state_path().parent().unwrap()).unwrap();
    let garbage = b"{\n  \"version\": 1,\n  \"lineage\": oops\n}\n";
    std::fs::write(cli.state_path(), garbage).unwrap();
    for args in
        [&["plan"][..], &["apply", "--auto-approve"][..], &["state", "list"][..], &["destroy", "--auto-approve"][..]]
    {
        let out = cli.expect(1, args);
        assert!(out.stderr.contains("corrupt") && out.stderr.contains("line 3, column"), "{out}");
        assert_eq!(std::fs::read(cli.state_path()).unwrap(), garbage, "corrupt state must stay byte-for-byte");
        assert!(!cli.lock_path().exists(), "lock released after the error: {args:?}");
    }
    assert_eq!(cli.count_tagged(), 0, "nothing created over a corrupt state");
}

/// Rules the schema cannot express (load balancer names, listener rule priorities, a forward action's target
/// group, log retention) fail at plan time, located at the block, before any AWS call — not halfway through
/// an apply.
#[test]
fn resource_rules_fail_at_plan_before_any_aws_call() {
    let cli = Cli::offline("err-validate");
    let stack = |body: &str| {
        cli.write("main.toml", &format!("[stack]\nname = \"__STACK__\"\n\n[backend]\ntype = \"local\"\npath = \".provisioner/state.json\"\n\n{body}"));
    };
    for (body, needle) in [
        ("[resource.lb.web]\nname = \"internal-web\"\nsubnets = [\"subnet-1\", \"subnet-2\"]\n", "may not begin with `internal-`"),
        ("[resource.lb.web]\nname = \"a-name-that-is-far-too-long-for-elbv2\"\nsubnets = [\"subnet-1\"]\n", "1 to 32 characters"),
        (
            "[resource.lb_listener_rule.r]\nlistener_arn = \"arn:aws:elasticloadbalancing:us-east-1:1:listener/app/x/1/2\"\npriority = 50001\naction = { type = \"forward\", target_group_arn = \"arn:tg\" }\ncondition = { path_pattern = { values = [\"/api/*\"] } }\n",
            "priority 50001 is outside 1..50000",
        ),
        (
            "[resource.lb_listener.http]\nload_balancer_arn = \"arn:lb\"\nport = 80\ndefault_action = { type = \"forward\" }\n",
            "needs `target_group_arn`",
        ),
        ("[resource.cloudwatch_log_group.app]\nname = \"/app\"\nretention_in_days = 2\n", "retention_in_days = 2"),
    ] {
        stack(body);
        let out = cli.expect(1, &["plan"]);
        assert!(out.stderr.contains(needle), "wanted `{needle}`:\n{out}");
        assert!(out.stderr.contains(&format!("{}:", cli.path().join("main.toml").display())), "located: {out}");
        assert!(!out.stderr.contains("dispatch failure") && !out.stderr.contains("Connection refused"), "no AWS call: {out}");
    }
}
