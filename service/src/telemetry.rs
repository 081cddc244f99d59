//! Logging set-up: JSON (default) or human-readable text on stdout.
//!
//! `LOG_FORMAT=json|text` picks the format; the level comes from `RUST_LOG`
//! (full `EnvFilter` syntax) or else `LOG_LEVEL` (default `info`). Per-request
//! access lines are logged at `debug` so that production (`info`) keeps full
//! throughput; server errors (5xx) are always logged at `warn`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `format` is `json` or `text`.
pub fn init(format: &str) {
    let filter = std::env::var("RUST_LOG").ok().and_then(|f| EnvFilter::try_new(f).ok()).unwrap_or_else(|| {
        let level = std::env::var("LOG_LEVEL").unwrap_or_else(|_| "info".into());
        EnvFilter::try_new(format!("{level},sqlx=warn,hyper=warn")).unwrap_or_else(|_| EnvFilter::new("info"))
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stdout);
    if format.eq_ignore_ascii_case("text") {
        builder.with_target(false).init();
    } else {
        builder.json().with_current_span(true).with_span_list(false).init();
    }
}
