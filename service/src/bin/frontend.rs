//! Entry point of the `frontend` binary: serves the dashboard and forwards
//! API paths to `API_URL` until SIGTERM.

use std::sync::Arc;

use service::{config::FrontendConfig, frontend, http, metrics::Metrics};

fn main() -> std::process::ExitCode {
    service::launch::main("frontend", 3000, FrontendConfig::from_env, |c| &c.log_format, run)
}

async fn run(cfg: FrontendConfig) -> std::io::Result<()> {
    tracing::info!(api_url = %cfg.api_url, "starting frontend");
    let metrics = Arc::new(Metrics::new());
    let app = frontend::router(frontend::FrontendState::new(&cfg.api_url));
    let app = http::with_middleware(app, metrics, cfg.request_timeout, cfg.body_limit);
    http::serve(app, cfg.addr).await?;
    tracing::info!("frontend stopped");
    Ok(())
}
