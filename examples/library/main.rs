//! Deploys a new image tag through the provisioner library, the way another Rust tool (a release bot, a CD
//! service) would embed it: plan the stack with `image_tag` set, show the plan, apply it, and report how the
//! deploy went — the same engine, waits and state handling as the CLI.
//!
//! ```sh
//! cargo run -p provisioner --example library -- plans/hello dev 3f2c1ab        # deploy tag 3f2c1ab to dev
//! cargo run -p provisioner --example library -- examples/network dev           # any stack: plan + apply
//! cargo run -p provisioner --example library -- examples/network dev --destroy
//! ```
//! Credentials, region and `AWS_ENDPOINT_URL` come from the environment, as for the CLI. The exit code is
//! non-zero when the apply failed — for a deploy, when the new revision did not become the one running
//! (a rollback, a timeout).

use provisioner::apply::{ApplyOptions, OpKind, OpResult, Outcome, Progress};
use provisioner::render::{render_plan, render_report, Style};
use provisioner::{PlanOptions, Stack, StackOptions};

/// Prints the deploy's progress lines (`Still deploying… [20s elapsed, 1/2 running, …]`) as they come.
struct Lines;

impl Progress for Lines {
    fn started(&self, address: &str, op: OpKind) {
        eprintln!("{address}: {op:?} started");
    }
    fn finished(&self, r: &OpResult) {
        if let Outcome::Failed { error } = &r.outcome {
            eprintln!("{}: failed: {error}", r.address);
        }
    }
    fn note(&self, address: &str, text: &str) {
        eprintln!("{address}: {text}");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let destroy = args.iter().any(|a| a == "--destroy");
    let mut positional = args.iter().filter(|a| !a.starts_with("--")).cloned();
    let dir = positional.next().unwrap_or_else(|| "examples/network".to_owned());
    let workspace = positional.next().unwrap_or_else(|| "dev".to_owned());
    // The one variable a deploy changes; everything else comes from the stack and env/<workspace>.toml.
    let vars = positional.next().map(|tag| vec![("image_tag".to_owned(), tag)]).unwrap_or_default();

    let stack = Stack::open(&StackOptions { workspace: Some(workspace), vars, ..StackOptions::new(&dir) })?;
    let cx = stack.connect().await?;
    let lock = stack.lock("apply").await?;
    let outcome = async {
        let (plan, prior) = stack.plan(&cx, &PlanOptions { refresh: true, destroy, ..Default::default() }).await?;
        print!("{}", render_plan(&plan, &Style::default()));
        if !plan.has_changes() {
            return Ok(true);
        }
        // A real tool wires this to its own shutdown signal: set to true, the apply stops watching
        // deployments (they go on in AWS), saves the state and returns.
        let (_never, cancel) = tokio::sync::watch::channel(false);
        let report = stack.apply(&cx, &plan, prior, ApplyOptions { parallelism: 10, cancel, progress: &Lines }).await?;
        print!("{}", render_report(&report, &Style::default(), destroy));
        Ok::<_, provisioner::EngineError>(report.ok())
    }
    .await;
    lock.release().await?;
    println!("AWS API calls: {}", cx.calls.total());
    if !outcome? {
        std::process::exit(1);
    }
    Ok(())
}
