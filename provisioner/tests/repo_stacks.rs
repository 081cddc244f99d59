//! The stacks the repository ships (`plans/`, `examples/`) against the emulator: each environment applies,
//! re-plans empty and destroys without leaving anything tagged.

mod common;
mod common_cli;

use std::path::Path;

use common_cli::*;

/// A copy of the repository stack `rel` (its top-level files and `env/`), renamed to the test's stack.
fn copy_stack(prefix: &str, rel: &str) -> Cli {
    let cli = Cli::new(prefix);
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel);
    std::fs::create_dir_all(cli.path().join("env")).unwrap();
    for sub in ["", "env"] {
        for e in std::fs::read_dir(src.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                let text = std::fs::read_to_string(&p).unwrap();
                let text = text.replacen("\n[stack]\nname = ", "\n[stack]\nname = \"__STACK__\"\n# was ", 1);
                cli.write(&Path::new(sub).join(p.file_name().unwrap()).to_string_lossy(), &text);
            }
        }
    }
    assert!(cli.read("stack.toml").contains(&cli.stack), "stack renamed");
    cli
}

fn nat_gateways(cli: &Cli) -> usize {
    cli.state_addresses().iter().filter(|a| a.starts_with("nat_gateway.")).count()
}

/// validate, apply, `check`, a re-plan that must be empty, destroy, nothing left tagged.
fn apply_replan_destroy(cli: &Cli, var_file: &str, check: impl Fn(&Cli)) {
    let vf = ["--var-file", var_file];
    cli.ok(&[&["validate"][..], &vf].concat());
    let out = cli.ok(&[&["apply", "--auto-approve"][..], &vf].concat());
    assert!(out.stdout.contains("Apply complete"), "{out}");
    check(cli);
    cli.expect(0, &[&["plan", "--detailed-exitcode"][..], &vf].concat());
    cli.ok(&[&["destroy", "--auto-approve"][..], &vf].concat());
    assert_eq!(cli.count_tagged(), 0, "nothing tagged with the stack is left");
}

fn hello_checks(nats: usize) -> impl Fn(&Cli) {
    move |cli| {
        assert_eq!(nat_gateways(cli), nats, "{:?}", cli.state_addresses());
        // `output` reads the state only: it needs no variable values.
        let outputs = cli.json(&[0], &["output"]);
        assert_eq!(outputs["private_subnet_ids"]["value"].as_array().map(Vec::len), Some(2), "{outputs:#}");
    }
}

#[test]
fn plans_hello_staging_and_prod() {
    apply_replan_destroy(&copy_stack("plans-staging", "plans/hello"), "env/staging.toml", hello_checks(1));
    apply_replan_destroy(&copy_stack("plans-prod", "plans/hello"), "env/prod.toml", hello_checks(2));
}

#[test]
fn examples_network_default_and_prod() {
    let cli = copy_stack("ex-net", "examples/network");
    cli.write("env/dev.toml", "env = \"dev\"\n");
    apply_replan_destroy(&cli, "env/dev.toml", |_| {});
    apply_replan_destroy(&cli, "env/prod.toml", |_| {});
}

/// `examples/library` (built by `cargo test` with the other examples) plans and applies the network stack
/// through the library API, finds nothing to do the second time, and destroys it.
#[test]
fn library_example_applies_replans_and_destroys() {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(Path::parent).unwrap().join("examples").join("library");
    assert!(bin.exists(), "{} missing: run the whole test suite (`cargo test -p provisioner`), which builds the examples", bin.display());
    let cli = copy_stack("ex-lib", "examples/network");
    let run = |extra: &[&str]| {
        let out = cli.command_env(&bin).arg(cli.path()).args(extra).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "library example failed:\n{text}");
        text
    };
    let first = run(&[]);
    assert!(first.contains("Apply complete"), "{first}");
    // 18 resources and the availability_zones data source.
    assert_eq!(cli.state_addresses().len(), 19, "{:?}", cli.state_addresses());
    let second = run(&[]);
    assert!(second.contains("No changes"), "{second}");
    run(&["--destroy"]);
    assert_eq!(cli.count_tagged(), 0);
}
