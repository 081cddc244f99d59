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
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(|| RedactedStderr).with_target(false).init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let code = runtime.block_on(cli::run(cli));
    // Don't wait for idle connection pools and signal listeners.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}

/// Standard error for log lines, with the values of sensitive variables replaced (see
/// `provisioner::redact`). The formatter hands over each event whole.
struct RedactedStderr;

impl std::io::Write for RedactedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(provisioner::redact::redact(&text).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
