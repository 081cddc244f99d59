//! Workspaces through the CLI: each has its own state and sees only its own objects; in a stack with
//! `env/` the workspaces are exactly its env files (a typo or a forgotten `-w` is refused, not an empty
//! environment); `workspace list|show|new|delete`; objects made before workspaces are re-tagged in one
//! apply; `validate` needs neither a workspace nor variable values.

mod common;
mod common_cli;

use aws_sdk_ec2::types::Tag;
use common_cli::*;

/// Removes the workspace and lineage tags from every object of the stack, as objects made before
/// workspaces existed carry none.
fn strip_new_tags(cli: &Cli) {
    let ec2 = cli.ec2();
    for id in cli.tagged_ids() {
        let tags = ["provisioner:workspace", "provisioner:lineage"].map(|k| Tag::builder().key(k).build());
        block_on(ec2.delete_tags().resources(&id).set_tags(Some(tags.to_vec())).send()).unwrap();
    }
}

#[test]
fn workspaces_of_a_stack_without_env_keep_apart() {
    let cli = Cli::new("ws-plain");
    cli.fixture("small");
    assert_eq!(cli.ok(&["workspace", "show"]).stdout.trim(), "default");
    let feature = cli.in_workspace("feature");
    let out = feature.expect(1, &["plan"]);
    assert!(
        out.stderr.contains("workspace `feature` does not exist") && out.stderr.contains("workspace new feature"),
        "{out}"
    );
    cli.ok(&["workspace", "new", "feature"]);
    assert!(feature.state_path().ends_with(".provisioner/feature/state.json") && feature.state_path().exists());
    feature.apply();
    let vpc = feature.id("vpc.main");
    let tags = tags_of(&cli.ec2(), &vpc);
    assert_eq!(tags.get("provisioner:workspace").map(String::as_str), Some("feature"), "{tags:?}");
    assert_eq!(
        tags.get("provisioner:lineage"),
        feature.state()["lineage"].as_str().map(str::to_owned).as_ref(),
        "{tags:?}"
    );
    assert_eq!(cli.state_path(), cli.path().join(".provisioner/state.json"), "default keeps the configured path");

    // The default workspace sees none of feature's objects: it would create its own, nothing else.
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    assert!(actions(&plan).iter().all(|(_, a)| a == "create"), "{plan:#}");
    assert!(plan.get("untracked").is_none_or(|u| u.as_array().is_some_and(Vec::is_empty)), "{plan:#}");

    let list = cli.ok(&["workspace", "list"]).stdout;
    assert!(list.contains("* default") && list.contains("  feature"), "{list}");
    let out = cli.expect(1, &["workspace", "delete", "feature"]);
    assert!(out.stderr.contains("feature"), "refused while it holds resources: {out}");
    feature.destroy();
    cli.ok(&["workspace", "delete", "feature"]);
    assert!(!cli.ok(&["workspace", "list"]).stdout.contains("feature"));
    assert_eq!(cli.count_tagged(), 0);
}

/// A stack with env/: its env files are its workspaces, each loaded as the first variable file.
fn env_stack(prefix: &str) -> Cli {
    let cli = Cli::new(prefix);
    cli.fixture("small");
    cli.edit("main.toml", "[variable.env]\ntype = \"string\"\ndefault = \"dev\"", "[variable.cidr]\ntype = \"string\"");
    cli.edit("main.toml", "cidr_block = \"10.7.0.0/16\"", "cidr_block = \"${var.cidr}\"");
    let name = format!("Name = \"{}-${{var.env}}\"", cli.stack);
    cli.edit("main.toml", &name, &format!("Name = \"{}-${{workspace}}\"", cli.stack));
    cli.edit("main.toml", "cidr_block = \"10.7.2.0/24\"", "cidr_block = \"${cidrsubnet(var.cidr, 8, 2)}\"");
    cli.write("env/a.toml", "cidr = \"10.31.0.0/16\"\n");
    cli.write("env/b.toml", "cidr = \"10.32.0.0/16\"\n");
    cli
}

#[test]
fn env_stacks_refuse_a_missing_or_unknown_workspace() {
    let cli = env_stack("ws-env");
    cli.ok(&["validate"]);
    let out = cli.expect(1, &["plan"]);
    assert!(out.stderr.contains("keeps its environments in env/ (a, b)") && out.stderr.contains("-w"), "{out}");
    let out = cli.expect(1, &["plan", "--var", "cidr=10.1.0.0/16"]);
    assert!(out.stderr.contains("keeps its environments in env/"), "even with values, default is refused: {out}");
    let out = cli.in_workspace("c").expect(1, &["plan"]);
    assert!(out.stderr.contains("workspace `c` has no environment file") && out.stderr.contains("(a, b)"), "{out}");
    let out = cli.in_workspace("c").expect(1, &["output"]);
    assert!(out.stderr.contains("(a, b)"), "{out}");
    assert!(!cli.path().join(".provisioner/c").exists(), "a typo creates nothing");
    let out = cli.expect(1, &["workspace", "new", "c"]);
    assert!(out.stderr.contains("env/c.toml"), "{out}");

    let a = cli.in_workspace("a");
    a.apply();
    let vpc = a.id("vpc.main");
    assert_eq!(a.state_resource("vpc.main")["attributes"]["cidr_block"], "10.31.0.0/16", "env/a.toml was loaded");
    assert_eq!(tags_of(&a.ec2(), &vpc).get("Name").map(String::as_str), Some(format!("{}-a", cli.stack).as_str()));
    // --var adds to (and overrides) the environment's file.
    let plan = a.json(&[2], &["plan", "--detailed-exitcode", "--var", "cidr=10.33.0.0/16"]);
    assert_eq!(change(&plan, "vpc.main")["action"], "replace", "{plan:#}");
    // A plan saved in one workspace does not apply in another.
    let saved = cli.path().join("a.json").to_string_lossy().into_owned();
    a.ok(&["plan", "-out", &saved]);
    let out = cli.in_workspace("b").expect(1, &["apply", &saved]);
    assert!(out.stderr.contains("saved plan is for workspace `a`"), "{out}");
    a.expect(0, &["plan", "--detailed-exitcode"]);
    a.destroy();
    assert_eq!(cli.count_tagged(), 0);
}

/// State from before workspaces: its objects carry neither workspace nor lineage tags. The next plan shows
/// the re-tag of each, one apply upgrades them, and the re-plan is empty.
#[test]
fn objects_made_before_workspaces_are_retagged_in_one_apply() {
    let cli = Cli::new("ws-old");
    cli.fixture("small");
    cli.apply();
    strip_new_tags(&cli);
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    let acts = actions(&plan);
    assert!(acts.iter().all(|(_, action)| action == "update"), "{plan:#}");
    let updates: Vec<&str> = acts.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        updates,
        ["internet_gateway.main", "security_group.web", "subnet.a", "subnet.b", "vpc.main"],
        "{plan:#}"
    );
    assert!(change(&plan, "vpc.main")["reason"].as_str().unwrap().contains("provisioner:lineage"), "{plan:#}");
    cli.apply();
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    let tags = tags_of(&cli.ec2(), &cli.id("subnet.a"));
    assert_eq!(tags.get("provisioner:workspace").map(String::as_str), Some("default"));
    assert_eq!(tags.get("provisioner:lineage").map(String::as_str), cli.state()["lineage"].as_str());
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0);
}

/// A stack whose state predates its env/ folder: `default` still works (with a warning saying how to move
/// it), `workspace new NAME --from default` moves the state, the next apply re-tags the objects with
/// their new workspace, and `default` is refused from then on.
#[test]
fn default_state_from_before_env_moves_into_a_workspace() {
    let cli = Cli::new("ws-move");
    cli.fixture("small");
    cli.apply();
    strip_new_tags(&cli);
    cli.write("env/a.toml", "# the environment this stack's state now belongs to\n");
    let out = cli.run(&["plan"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stderr.contains("workspace new NAME --from default"), "{out}");
    let moved = cli.ok(&["workspace", "new", "a", "--from", "default"]);
    assert!(moved.stdout.contains("Moved 5 resource(s)"), "{moved}");
    let a = cli.in_workspace("a");
    let plan = a.json(&[2], &["plan", "--detailed-exitcode"]);
    assert!(actions(&plan).iter().all(|(_, action)| action == "update"), "{plan:#}");
    a.apply();
    a.expect(0, &["plan", "--detailed-exitcode"]);
    assert_eq!(tags_of(&a.ec2(), &a.id("vpc.main")).get("provisioner:workspace").map(String::as_str), Some("a"));
    let out = cli.expect(1, &["plan"]);
    assert!(out.stderr.contains("keeps its environments in env/ (a)"), "{out}");
    a.destroy();
    assert_eq!(cli.count_tagged(), 0);
}

/// `validate` checks the configuration without variable values (they are unknown), but checks `allowed`
/// where a value is given; `plan` still needs them.
#[test]
fn validate_needs_no_variable_values() {
    let cli = Cli::offline("ws-validate");
    cli.fixture("small");
    cli.edit(
        "main.toml",
        "[variable.env]\ntype = \"string\"\ndefault = \"dev\"",
        "[variable.env]\ntype = \"string\"\nallowed = [\"dev\", \"prod\"]",
    );
    let out = cli.ok(&["validate"]);
    assert!(out.stdout.contains("The configuration is valid"), "{out}");
    let out = cli.expect(1, &["validate", "--var", "env=qa"]);
    assert!(out.stderr.contains("qa") && out.stderr.contains("main.toml:"), "{out}");
    let out = cli.expect(1, &["plan"]);
    assert!(out.stderr.contains("env"), "{out}");
}
