//! Protection and secrecy, through the real CLI against the emulator:
//! - `lifecycle.prevent_destroy` is remembered in state: deleting the setting (or the whole block) still
//!   refuses to destroy the object, located, before any AWS call; an apply with the setting false (here
//!   through a variable) lifts it, and `destroy --allow-protected ADDR` overrides it;
//! - a `sensitive = true` variable's value never reaches a plan (text or JSON), a saved plan file, `show`,
//!   `output`, an error message or the logs, and what is computed from it is shown as `(sensitive value)`.

mod common;
mod common_cli;

use common_cli::*;

const HEADER: &str =
    "[stack]\nname = \"__STACK__\"\n\n[backend]\ntype = \"local\"\npath = \".provisioner/state.json\"\n\n";

fn log_group(lifecycle: &str) -> String {
    format!(
        "{HEADER}[variable.protect]\ntype = \"bool\"\ndefault = true\n\n\
         [resource.cloudwatch_log_group.db]\nname = \"/__STACK__/db\"\nretention_in_days = 1\n{lifecycle}\n"
    )
}

#[test]
fn prevent_destroy_is_remembered_until_an_apply_lifts_it() {
    let cli = Cli::new("protect");
    cli.write("main.toml", &log_group("lifecycle = { prevent_destroy = \"${var.protect}\" }"));
    let out = cli.apply();
    assert!(cli.state_resource("cloudwatch_log_group.db")["prevent_destroy"] == true, "{out}\n{:#}", cli.state());

    // Protected as configured.
    let out = cli.expect(1, &["destroy", "--auto-approve"]);
    assert!(out.stderr.contains("cloudwatch_log_group.db has lifecycle.prevent_destroy set"), "{out}");
    assert!(out.stderr.contains("main.toml:"), "located: {out}");

    // The setting deleted: still protected, from state, for destroy and for a plan that drops the block.
    cli.write("main.toml", &log_group(""));
    let plan = cli.json(&[0], &["plan", "--detailed-exitcode"]);
    assert_eq!(actions(&plan), vec![], "forgetting the setting changes nothing: {plan:#}");
    let out = cli.expect(1, &["destroy", "--auto-approve"]);
    assert!(out.stderr.contains("an earlier apply recorded lifecycle.prevent_destroy = true"), "{out}");
    assert!(out.stderr.contains("--allow-protected cloudwatch_log_group.db"), "the hint names the override: {out}");
    cli.write("main.toml", HEADER);
    let out = cli.expect(1, &["plan"]);
    assert!(out.stderr.contains("is protected"), "removing the block does not make it destroyable: {out}");
    assert!(!out.stdout.contains("to destroy"), "{out}");

    // Back, with the variable turned off: the plan says state forgets the protection; then destroy works
    // even after the setting is deleted again.
    cli.write("main.toml", &log_group("lifecycle = { prevent_destroy = \"${var.protect}\" }"));
    let out = cli.ok(&["plan", "--var", "protect=false"]);
    assert!(out.stdout.contains("cloudwatch_log_group.db: no longer protected from destroy"), "{out}");
    cli.ok(&["apply", "--auto-approve", "--var", "protect=false"]);
    assert!(cli.state_resource("cloudwatch_log_group.db").get("prevent_destroy").is_none(), "{:#}", cli.state());
    cli.write("main.toml", &log_group(""));
    cli.destroy();
    assert!(cli.state_addresses().is_empty());

    // --allow-protected names what may go despite the remembered flag.
    cli.write("main.toml", &log_group("lifecycle = { prevent_destroy = true }"));
    cli.apply();
    cli.write("main.toml", &log_group(""));
    cli.expect(1, &["destroy", "--auto-approve"]);
    let out = cli.ok(&["destroy", "--auto-approve", "--allow-protected", "cloudwatch_log_group.db"]);
    assert!(out.stdout.contains("1 destroyed"), "{out}");
    assert!(cli.state_addresses().is_empty());
}

#[test]
fn prevent_destroy_accepts_only_variables() {
    let cli = Cli::offline("protect-lint");
    cli.write(
        "main.toml",
        &format!(
            "{HEADER}[resource.cloudwatch_log_group.a]\nname = \"a\"\n\n\
             [resource.cloudwatch_log_group.b]\nname = \"b\"\nlifecycle = {{ prevent_destroy = \"${{cloudwatch_log_group.a.name}}\" }}\n"
        ),
    );
    let out = cli.expect(1, &["validate"]);
    assert!(out.stderr.contains("`prevent_destroy` can only refer to variables"), "{out}");
    assert!(out.stderr.contains("main.toml:"), "{out}");
}

const SECRET: &str = "s3cr3t-Pa55word-xyz";

#[test]
fn a_sensitive_value_is_never_printed() {
    let cli = Cli::new("sensitive");
    cli.write(
        "main.toml",
        &format!(
            "{HEADER}[variable.token]\ntype = \"string\"\nsensitive = true\n\n\
             [locals]\nlabel = \"app-${{var.token}}\"\n\n\
             [resource.cloudwatch_log_group.app]\nname = \"/__STACK__/app\"\ntags = {{ Token = \"${{local.label}}\", Team = \"web\" }}\n\n\
             [output.label]\nvalue = \"${{local.label}}\"\n\n\
             [output.name]\nvalue = \"${{cloudwatch_log_group.app.name}}\"\n"
        ),
    );
    let var = format!("token={SECRET}");
    let env_var = ("PROVISIONER_LOG", "provisioner=debug");
    let mut seen = Vec::new();
    let plan_file = cli.path().join("saved.plan");
    let plan_arg = plan_file.to_str().unwrap();
    let out = cli.ok(&["plan", "--var", &var, "-out", plan_arg]);
    assert!(out.stdout.contains("(sensitive value)"), "the tainted attribute is redacted: {out}");
    assert!(out.stdout.contains("+ name = \"/"), "an output not computed from it is shown: {out}");
    seen.push(("plan", out.all()));
    seen.push(("plan file", std::fs::read_to_string(&plan_file).unwrap()));
    seen.push(("plan --json", cli.ok(&["plan", "--json", "--var", &var]).all()));
    let applied = cli
        .command(&["-v", "apply", "--auto-approve", "--var", &var, plan_arg])
        .env(env_var.0, env_var.1)
        .output()
        .unwrap();
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    seen.push((
        "apply",
        format!("{}{}", String::from_utf8_lossy(&applied.stdout), String::from_utf8_lossy(&applied.stderr)),
    ));
    seen.push(("show", cli.ok(&["show"]).all()));
    seen.push(("show --json", cli.ok(&["show", "--json"]).all()));
    let outputs = cli.ok(&["output", "--json"]);
    let json = outputs.json();
    assert_eq!(json["label"]["sensitive"], true, "computed from a sensitive variable: {outputs}");
    assert_eq!(json["name"]["sensitive"], false, "{outputs}");
    seen.push(("output --json", outputs.all()));
    seen.push(("output", cli.ok(&["output"]).all()));
    seen.push(("destroy", cli.ok(&["destroy", "--auto-approve", "--var", &var]).all()));

    // An error that would quote the value: the network checked at plan.
    let bad = Cli::new("sensitive-error");
    bad.write(
        "main.toml",
        &format!("{HEADER}[variable.token]\ntype = \"string\"\nsensitive = true\n\n[resource.vpc.x]\ncidr_block = \"${{var.token}}\"\n"),
    );
    let out = bad.expect(1, &["plan", "--var", &var]);
    assert!(out.stderr.contains("is not a valid CIDR block"), "{out}");
    seen.push(("error", out.all()));

    for (what, text) in &seen {
        assert!(!text.contains(SECRET), "{what} shows the sensitive value:\n{text}");
    }
}
