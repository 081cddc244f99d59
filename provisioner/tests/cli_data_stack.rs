//! `data.stack` (Terraform's `terraform_remote_state`): one stack reads another's outputs from that stack's
//! own backend — every output type, a missing state, a wrong workspace.

mod common;
mod common_cli;

use common_cli::*;

const SHARED: &str = r#"
[stack]
name = "__STACK__"

[backend]
type = "local"
path = ".provisioner/state.json"

[output.text]
value = "registry.example/api"

[output.number]
value = 30

[output.flag]
value = true

[output.list]
value = ["api", "frontend"]

[output.map]
value = { api = "repo/api", frontend = "repo/frontend" }
"#;

fn reader(shared: &Cli, workspace: Option<&str>) -> Cli {
    let cli = Cli::new("ds-reader");
    let ws = workspace.map(|w| format!("workspace = \"{w}\"\n")).unwrap_or_default();
    cli.write(
        "main.toml",
        &format!(
            r#"
[stack]
name = "__STACK__"

[backend]
type = "local"
path = ".provisioner/state.json"

[data.stack.shared]
dir = "{}"
{ws}
[output.text]
value = "${{data.stack.shared.outputs.text}}:latest"

[output.number]
value = "${{data.stack.shared.outputs.number + 1}}"

[output.flag]
value = "${{!data.stack.shared.outputs.flag}}"

[output.second]
value = "${{data.stack.shared.outputs.list[1]}}"

[output.map]
value = "${{data.stack.shared.outputs.map}}"
"#,
            shared.path().display()
        ),
    );
    cli
}

#[test]
fn reads_every_output_type_of_another_stack() {
    let shared = Cli::new("ds-shared");
    shared.write("main.toml", SHARED);

    // Before the other stack has a state: an error naming it and the workspace.
    let cli = reader(&shared, None);
    let out = cli.expect(1, &["plan"]);
    assert!(
        out.stderr.contains(&format!("stack `{}`", shared.stack))
            && out.stderr.contains("no state in workspace `default`"),
        "{out}"
    );

    shared.apply();
    cli.apply();
    let outputs = cli.json(&[0], &["output"]);
    assert_eq!(outputs["text"]["value"], "registry.example/api:latest", "{outputs:#}");
    assert_eq!(outputs["number"]["value"], 31);
    assert_eq!(outputs["flag"]["value"], false);
    assert_eq!(outputs["second"]["value"], "frontend");
    assert_eq!(outputs["map"]["value"]["frontend"], "repo/frontend");
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    // A workspace of the other stack that has no state.
    let wrong = reader(&shared, Some("staging"));
    let out = wrong.expect(1, &["plan"]);
    assert!(out.stderr.contains("no state in workspace `staging`"), "{out}");
}

/// An output the other stack does not have is an error at plan, located at the reference, listing the
/// outputs it has and suggesting the nearest name.
#[test]
fn a_missing_output_is_an_error_naming_the_outputs() {
    let shared = Cli::new("ds-missing");
    shared.write("main.toml", SHARED);
    shared.apply();
    let cli = reader(&shared, None);
    cli.edit("main.toml", "data.stack.shared.outputs.text}", "data.stack.shared.outputs.txt}");
    let out = cli.expect(1, &["plan"]);
    assert!(out.stderr.contains("main.toml:"), "located: {out}");
    assert!(out.stderr.contains("the other stack has no output `txt`"), "{out}");
    assert!(out.stderr.contains("\"flag\"") && out.stderr.contains("\"text\""), "lists the outputs: {out}");
    assert!(out.stderr.contains("did you mean `text`?"), "{out}");
}
