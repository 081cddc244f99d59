//! The `provisioner` binary: parses the command line and hands over to [`cli::run`].

mod cli;

use clap::Parser;

fn main() {
    let args = cli::normalize_args(std::env::args());
    let cli = cli::Cli::parse_from(args);
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PROVISIONER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("provisioner={level},warn")));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let code = runtime.block_on(cli::run(cli));
    // Don't wait for idle connection pools and signal listeners.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}
