//! Snapshots (insta) of the human plan as the `plan` command prints it: a stack created from nothing
//! (no ids, unknowns as "(known after apply)"), and an update + replace plan with ids filtered out.

mod common;
mod common_cli;

use common_cli::*;

fn settings(cli: &Cli) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    s.add_filter(&cli.stack, "[STACK]");
    s.add_filter(r"\b(vpc|subnet|sg|igw|rtb|rtbassoc|eipalloc|eipassoc|nat|acl|dopt|eni)-[0-9a-f]{8,17}\b", "$1-[ID]");
    s.add_filter(r"/tmp/[^ \n]+", "[TMP]");
    s
}

#[test]
fn plan_from_nothing() {
    let cli = Cli::new("render-new");
    cli.fixture("small");
    let out = cli.ok(&["plan"]);
    assert!(!out.stdout.contains('\x1b'), "NO_COLOR: no escape codes");
    assert!(!out.stdout.contains("vpc-"), "no ids in a plan from nothing:\n{out}");
    assert!(out.stdout.contains("(known after apply)"));
    settings(&cli).bind(|| insta::assert_snapshot!("plan_from_nothing", out.stdout));
}

#[test]
fn plan_update_and_replace() {
    let cli = Cli::new("render-upd");
    cli.fixture("small");
    cli.apply();
    cli.edit("main.toml", "tags = { Name = \"a\" }", "tags = { Name = \"a\", Tier = \"web\" }");
    cli.edit("main.toml", "cidr_block = \"10.7.2.0/24\"", "cidr_block = \"10.7.3.0/24\"");
    let out = cli.expect(2, &["plan", "--detailed-exitcode"]);
    assert!(out.stdout.contains("subnet.a will be updated in-place"), "{out}");
    assert!(out.stdout.contains("subnet.b must be replaced"), "{out}");
    assert!(out.stdout.contains("# forces replacement"), "{out}");
    settings(&cli).bind(|| insta::assert_snapshot!("plan_update_and_replace", out.stdout));

    // And a destroy plan.
    let out = cli.ok(&["plan", "--destroy"]);
    assert!(out.stdout.contains("0 to add, 0 to change, 5 to destroy"), "{out}");
    settings(&cli).bind(|| insta::assert_snapshot!("plan_destroy", out.stdout));
    cli.destroy();
}

/// Terraform lists new outputs whose value is not known yet ("+ vpc_id = (known after apply)").
#[test]
fn plan_from_nothing_lists_new_outputs() {
    let cli = Cli::new("render-out");
    cli.fixture("small");
    let out = cli.ok(&["plan"]);
    assert!(
        out.stdout.contains("Changes to Outputs:") && out.stdout.contains("+ vpc_id = (known after apply)"),
        "a new output with an unknown value must be listed:\n{out}"
    );
}
