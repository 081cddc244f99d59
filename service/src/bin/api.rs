//! Entry point of the `api` binary: reads the configuration, starts the
//! stats sampler and background migrations, and serves the API until SIGTERM.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use service::{
    api, clock::Clock, config::ApiConfig, db::Db, http, metrics::Metrics, stats, telemetry,
};

fn main() -> std::process::ExitCode {
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        return http::healthcheck(8080);
    }
    let cfg = match ApiConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("api: configuration error: {e}");
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
    match runtime.block_on(run(cfg)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "api stopped with an error");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cfg: ApiConfig) -> Result<(), Box<dyn std::error::Error>> {
    let clock = Clock::from_env()?;
    if clock.is_fixed() {
        tracing::warn!(today = %clock.today(), "SERVICE_FAKE_TODAY is set: the date is pinned (tests only)");
    }
    let db = Db::connect_lazy(&cfg.database, cfg.pool_max)?;
    tracing::info!(database = cfg.database.kind(), "starting api");
    let migrated = Arc::new(AtomicBool::new(false));
    tokio::spawn(api::migrate_until_done(db.clone(), migrated.clone()));
    let metrics = Arc::new(Metrics::new());
    let state = api::AppState {
        db: db.clone(),
        clock,
        metrics: metrics.clone(),
        stats: stats::spawn_sampler(Duration::from_secs(1)),
        migrated,
    };
    let app = http::with_middleware(
        api::router(state),
        metrics,
        cfg.request_timeout,
        cfg.body_limit,
    );
    http::serve(app, cfg.addr).await?;
    db.close().await;
    tracing::info!("api stopped");
    Ok(())
}
