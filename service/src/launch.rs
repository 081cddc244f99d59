//! The start-up both binaries share: the `healthcheck` subcommand, configuration from the environment
//! (exit 2 on a mistake), logging, the tokio runtime, and the exit code of the server's run.

use std::future::Future;
use std::process::ExitCode;

/// Runs binary `name`: `<name> healthcheck` probes `healthcheck_port`; otherwise `load` reads the
/// configuration, `log_format` picks the logging format from it, and `run` serves until SIGTERM.
pub fn main<C, F, E>(
    name: &str,
    healthcheck_port: u16,
    load: impl FnOnce() -> Result<C, String>,
    log_format: impl FnOnce(&C) -> &str,
    run: impl FnOnce(C) -> F,
) -> ExitCode
where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        return crate::http::healthcheck(healthcheck_port);
    }
    let cfg = match load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{name}: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(log_format(&cfg));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "{name} stopped with an error");
            ExitCode::FAILURE
        }
    }
}
