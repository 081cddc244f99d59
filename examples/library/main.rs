//! Plans and applies a stack through the provisioner library, the way another Rust tool would embed it.
//!
//! ```sh
//! cargo run -p provisioner --example library -- examples/network dev          # plan + apply workspace dev
//! cargo run -p provisioner --example library -- examples/network dev --destroy
//! ```
//! Credentials, region and `AWS_ENDPOINT_URL` come from the environment, as for the CLI.

use provisioner::apply::{ApplyOptions, NoProgress};
use provisioner::render::{render_plan, render_report, Style};
use provisioner::{PlanOptions, Stack, StackOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "examples/network".to_owned());
    let workspace = args.next().unwrap_or_else(|| "dev".to_owned());
    let destroy = args.any(|a| a == "--destroy");

    let stack = Stack::open(&StackOptions { workspace: Some(workspace), ..StackOptions::new(&dir) })?;
    let cx = stack.connect().await?;
    let lock = stack.lock("apply").await?;
    let outcome = async {
        let (plan, prior) = stack.plan(&cx, &PlanOptions { refresh: true, destroy, ..Default::default() }).await?;
        print!("{}", render_plan(&plan, &Style::default()));
        if !plan.has_changes() {
            return Ok(true);
        }
        let (_never, cancel) = tokio::sync::watch::channel(false);
        let report = stack
            .apply(&cx, &plan, prior, ApplyOptions { parallelism: 10, cancel, progress: &NoProgress })
            .await?;
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
