//! Entry point of the `api` binary: reads the configuration, starts the
//! stats sampler and background migrations, and serves the API until SIGTERM.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use service::{api, clock::Clock, config::ApiConfig, db::Db, http, metrics::Metrics, stats};

fn main() -> std::process::ExitCode {
    service::launch::main("api", 8080, ApiConfig::from_env, |c| &c.log_format, run)
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
    let app = http::with_middleware(api::router(state), metrics, cfg.request_timeout, cfg.body_limit);
    http::serve(app, cfg.addr).await?;
    db.close().await;
    tracing::info!("api stopped");
    Ok(())
}
