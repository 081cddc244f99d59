//! The API's routes and handlers: time, stats, birthday greetings, health,
//! readiness and metrics. Bad input always answers 400 with a JSON error.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::birthday;
use crate::clock::Clock;
use crate::db::Db;
use crate::http::{error, ErrorDetail};
use crate::metrics::Metrics;
use crate::stats::Stats;

/// Shared state of the API handlers.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    pub stats: Arc<Stats>,
    /// Set once migrations have been applied.
    pub migrated: Arc<AtomicBool>,
}

/// The API router (without middleware).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/time", get(time))
        .route("/stats", get(stats))
        .route("/hello/{username}", get(get_hello).put(put_hello))
        .route("/hello", get(missing_name).put(missing_name))
        .route("/hello/", get(missing_name).put(missing_name))
        .route("/health", get(|| async { "OK" }))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not found") })
        .with_state(state)
}

#[derive(serde::Serialize)]
struct TimeBody {
    time: f64,
    iso: String,
}

async fn time() -> Response {
    let now = chrono::Utc::now();
    let time = now.timestamp_micros() as f64 / 1e6;
    Json(TimeBody { time, iso: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true) }).into_response()
}

async fn stats(State(st): State<AppState>) -> Response {
    Json(json!({
        "cpu": st.stats.cpu(),
        "ram": st.stats.ram(),
        "cpuSource": st.stats.cpu_source(),
        "ramSource": st.stats.ram_source(),
    }))
    .into_response()
}

async fn metrics(State(st): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], st.metrics.render()).into_response()
}

async fn ready(State(st): State<AppState>) -> Response {
    if !st.migrated.load(Ordering::Acquire) {
        return error(StatusCode::SERVICE_UNAVAILABLE, "database migrations not applied yet");
    }
    match st.db.ping(Duration::from_secs(2)).await {
        Ok(()) => (StatusCode::OK, "READY").into_response(),
        Err(e) => with_detail(error(StatusCode::SERVICE_UNAVAILABLE, "database unavailable"), e),
    }
}

async fn missing_name() -> Response {
    error(StatusCode::BAD_REQUEST, "username is missing: use /hello/<username>")
}

/// Extracts and validates the username, or answers 400.
#[allow(clippy::result_large_err)] // the error is the finished 400 response
fn username(path: Result<Path<String>, PathRejection>) -> Result<String, Response> {
    let Path(name) = path.map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid username: {e}")))?;
    birthday::validate_username(&name).map_err(|e| error(StatusCode::BAD_REQUEST, e))?;
    Ok(name)
}

/// Attaches the cause of a failure for the access log (see [`ErrorDetail`]).
fn with_detail(mut res: Response, e: impl std::fmt::Display) -> Response {
    res.extensions_mut().insert(ErrorDetail(e.to_string()));
    res
}

fn db_unavailable(e: impl std::fmt::Display) -> Response {
    with_detail(error(StatusCode::SERVICE_UNAVAILABLE, "database unavailable"), e)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HelloBody {
    #[serde(rename = "dateOfBirth")]
    date_of_birth: String,
}

async fn put_hello(
    State(st): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let name = match username(path) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => return error(e.status(), format!("cannot read request body: {}", e.body_text())),
    };
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("malformed JSON body: {e}")),
    };
    if !value.is_object() {
        return error(StatusCode::BAD_REQUEST, "body must be a JSON object like {\"dateOfBirth\": \"YYYY-MM-DD\"}");
    }
    let parsed: HelloBody = match serde_json::from_value(value) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid body: {e}")),
    };
    let dob = match birthday::parse_date_of_birth(&parsed.date_of_birth, st.clock.today()) {
        Ok(d) => d,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    if !st.migrated.load(Ordering::Acquire) {
        return error(StatusCode::SERVICE_UNAVAILABLE, "database migrations not applied yet");
    }
    match st.db.upsert_user(&name, dob).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => db_unavailable(e),
    }
}

async fn get_hello(State(st): State<AppState>, path: Result<Path<String>, PathRejection>) -> Response {
    let name = match username(path) {
        Ok(n) => n,
        Err(r) => return r,
    };
    if !st.migrated.load(Ordering::Acquire) {
        return error(StatusCode::SERVICE_UNAVAILABLE, "database migrations not applied yet");
    }
    match st.db.find_user(&name).await {
        Ok(Some(dob)) => Json(json!({ "message": birthday::greeting(&name, dob, st.clock.today()) })).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("user {name} not found")),
        Err(e) => db_unavailable(e),
    }
}

/// Applies migrations, retrying with back-off until they succeed, then sets
/// `migrated`. Runs in the background so the process serves `/health` meanwhile.
pub async fn migrate_until_done(db: Db, migrated: Arc<AtomicBool>) {
    let mut delay = Duration::from_millis(200);
    loop {
        match db.migrate().await {
            Ok(()) => {
                migrated.store(true, Ordering::Release);
                tracing::info!(database = db.kind(), "migrations applied");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "migrations failed, retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
