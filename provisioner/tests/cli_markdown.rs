//! The plan formats a CI workflow reads, through the binary against the emulator: `plan --format markdown`
//! (snapshots; `show --format markdown FILE` of the saved plan is the same document; the size cap names the
//! saved plan) and the JSON plan document of `plan --json`, `-out FILE` and `show --json FILE`
//! (docs/plan-json.md), whose snapshots make any change to the format show as a diff.

mod common;
mod common_cli;

use common_cli::*;

/// Snapshots of one stack, its volatile parts replaced: stack name, ids, lineages, the state's serial, hashes,
/// temp paths and the API call counts of `plan --json` (which depend on the engine's reads, not the format).
fn settings(cli: &Cli) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    s.add_filter(&cli.stack, "[STACK]");
    s.add_filter(r"\b(vpc|subnet|sg|sgr|igw|rtb|rtbassoc|acl|dopt)-[0-9a-f]{8,17}\b", "$1-[ID]");
    s.add_filter(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "[UUID]");
    s.add_filter(r#""config_hash": "[0-9a-f]+""#, r#""config_hash": "[HASH]""#);
    s.add_filter(r#"("state": \[\s*"[^"]*",\s*)\d+"#, "${1}[SERIAL]");
    s.add_filter(r#""api_calls": \{[^}]*\}"#, r#""api_calls": "[CALLS]""#);
    s.add_filter(r"/tmp/[^ \n`]+", "[TMP]");
    s
}

#[test]
fn markdown_plan_from_nothing_and_its_saved_plan() {
    let cli = Cli::new("md-new");
    cli.fixture("small");
    let file = cli.path().join("tfplan");
    let f = file.to_str().unwrap();
    let out = cli.ok(&["plan", "--format", "markdown", "-out", f]);
    assert!(file.exists(), "-out still saves the plan");
    assert!(out.stderr.contains("Saved the plan to"), "the note goes to stderr, not into the document:\n{out}");
    assert!(!out.stdout.contains('\x1b') && !out.stdout.contains("Saved the plan"), "{out}");
    assert!(
        out.stdout.starts_with(&format!("### Plan for {}: 5 to add, 0 to change, 0 to destroy\n", cli.stack)),
        "{out}"
    );
    assert_eq!(out.stdout.matches("<details>").count(), 5, "{out}");
    settings(&cli).bind(|| insta::assert_snapshot!("markdown_plan_from_nothing", out.stdout));

    let shown = cli.ok(&["show", "--format", "markdown", f]);
    assert_eq!(shown.stdout, out.stdout, "show of the saved plan gives the same document");

    // Past the cap: no details, and the way to the full plan names the saved file.
    let capped = cli.ok(&["show", "--format", "markdown", "--max-len", "700", f]);
    assert!(capped.stdout.chars().count() <= 700, "{capped}");
    assert!(capped.stdout.starts_with(&format!("### Plan for {}: 5 to add", cli.stack)), "{capped}");
    assert!(!capped.stdout.contains("<details>"), "{capped}");
    assert!(capped.stdout.contains(&format!("`provisioner show --format markdown --max-len 0 {f}`")), "{capped}");

    // Markdown renders plans; the state is not one.
    let err = cli.expect(1, &["show", "--format", "markdown"]);
    assert!(err.stderr.contains("--format markdown renders a plan"), "{err}");
    assert!(err.stderr.contains("hint:") && err.stderr.contains("plan -out FILE"), "{err}");
}

#[test]
fn markdown_and_json_plans_of_an_update_and_a_replacement() {
    let cli = Cli::new("md-upd");
    cli.fixture("small");
    cli.apply();
    cli.edit("main.toml", "tags = { Name = \"a\" }", "tags = { Name = \"a\", Tier = \"web\" }");
    cli.edit("main.toml", "cidr_block = \"10.7.2.0/24\"", "cidr_block = \"10.7.3.0/24\"");
    let out = cli.expect(2, &["plan", "--format", "markdown", "--detailed-exitcode"]);
    assert!(out.stdout.contains("| Update in place | 1 | `subnet.a` |"), "{out}");
    assert!(out.stdout.contains("| Replace | 1 | `subnet.b` |"), "{out}");
    assert!(out.stdout.contains("# forces replacement"), "{out}");
    settings(&cli).bind(|| insta::assert_snapshot!("markdown_plan_update_and_replace", out.stdout));

    let json = cli.expect(2, &["plan", "--json", "--detailed-exitcode"]);
    settings(&cli).bind(|| insta::assert_snapshot!("plan_json_update_and_replace", json.stdout));
    cli.destroy();
}

/// The JSON plan format (docs/plan-json.md): `plan --json` is the plan document plus `api_calls` and
/// `summary`; `-out FILE` and `show --json FILE` are the document itself. Snapshotted whole, so adding,
/// removing or renaming a field is a visible diff (and a removal or rename must bump `format_version`).
#[test]
fn json_plan_format_is_stable() {
    let cli = Cli::new("md-json");
    cli.fixture("small");
    let file = cli.path().join("tfplan");
    let f = file.to_str().unwrap();
    let out = cli.ok(&["plan", "--json", "-out", f]);
    let v = out.json();
    assert_eq!(v["format_version"], provisioner::plan::PLAN_FORMAT_VERSION, "{out}");
    settings(&cli).bind(|| insta::assert_snapshot!("plan_json_from_nothing", out.stdout));
    let saved = std::fs::read_to_string(&file).unwrap();
    settings(&cli).bind(|| insta::assert_snapshot!("plan_file_from_nothing", saved));
    assert_eq!(cli.ok(&["show", "--json", f]).stdout, saved, "show --json FILE prints the saved document");

    // The plan document of `plan --json` is the saved one, plus the two fields it adds.
    let mut printed = v.clone();
    let fields = printed.as_object_mut().unwrap();
    assert!(fields.shift_remove("api_calls").is_some_and(|c| c.is_object()));
    assert!(fields.shift_remove("summary").is_some_and(|s| s["add"] == 5));
    assert_eq!(printed, serde_json::from_str::<serde_json::Value>(&saved).unwrap());

    // --json is --format json (the API calls counted may differ: retries); both at once is a usage error.
    let strip = |mut doc: serde_json::Value| {
        doc.as_object_mut().unwrap().shift_remove("api_calls");
        doc
    };
    assert_eq!(strip(cli.ok(&["plan", "--format", "json"]).json()), strip(v));
    let both = cli.run(&["plan", "--json", "--format", "text"]);
    assert!(both.code != 0 && both.stderr.contains("cannot be used with"), "{both}");

    // Readers ignore fields they do not know (additions keep the version) and refuse another version.
    let mut doc: serde_json::Value = serde_json::from_str(&saved).unwrap();
    doc["a_field_from_the_future"] = serde_json::json!(true);
    std::fs::write(&file, doc.to_string()).unwrap();
    cli.ok(&["show", "--json", f]);
    doc["format_version"] = serde_json::json!(provisioner::plan::PLAN_FORMAT_VERSION + 1);
    std::fs::write(&file, doc.to_string()).unwrap();
    let refused = cli.expect(1, &["show", f]);
    assert!(refused.stderr.contains("is not supported"), "{refused}");
}
