//! Entry point of the `frontend` binary: serves the dashboard and forwards
//! API paths to `API_URL` until SIGTERM.

use std::sync::Arc;

use service::{config::FrontendConfig, frontend, http, metrics::Metrics, telemetry};

fn main() -> std::process::ExitCode {
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        return http::healthcheck(3000);
    }
    let cfg = match FrontendConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("frontend: configuration error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    telemetry::init(&cfg.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        tracing::info!(api_url = %cfg.api_url, "starting frontend");
        let metrics = Arc::new(Metrics::new());
        let app = frontend::router(frontend::FrontendState::new(&cfg.api_url));
        let app = http::with_middleware(app, metrics, cfg.request_timeout, cfg.body_limit);
        http::serve(app, cfg.addr).await?;
        tracing::info!("frontend stopped");
        Ok::<(), std::io::Error>(())
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "frontend stopped with an error");
            std::process::ExitCode::FAILURE
        }
    }
}
