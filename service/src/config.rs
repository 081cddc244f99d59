//! Configuration read from the environment for both binaries.
//!
//! API: `PORT` (8080), `BIND_ADDR` (0.0.0.0), `DATABASE_URL` (`postgres://…`,
//! `postgresql://…` or `sqlite://…`), else the libpq variables `PGHOST`,
//! `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE` when `PGHOST`
//! is set, else SQLite at `$DATA_DIR/service.db` (`DATA_DIR` defaults to
//! `data`). `DB_POOL_MAX` (10), `REQUEST_TIMEOUT_SECS` (10),
//! `BODY_LIMIT_BYTES` (16384), `LOG_FORMAT` (`json`), `LOG_LEVEL` (`info`).
//!
//! Frontend: `PORT` (3000), `BIND_ADDR`, `API_URL` (`http://127.0.0.1:8080`).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Where the API keeps its data.
#[derive(Clone, Debug, PartialEq)]
pub enum DatabaseConfig {
    /// A `postgres://` / `postgresql://` URL (`sslmode=` query honoured).
    PostgresUrl(String),
    /// libpq environment variables (`PGHOST`, …), as RDS/ECS provide them.
    PostgresEnv,
    /// A `sqlite://` URL.
    SqliteUrl(String),
    /// The embedded default: a SQLite file in a data directory.
    SqliteFile(PathBuf),
}

impl DatabaseConfig {
    /// Label for logs, without credentials.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::PostgresUrl(_) | Self::PostgresEnv => "postgres",
            Self::SqliteUrl(_) | Self::SqliteFile(_) => "sqlite",
        }
    }
}

/// Settings of the `api` binary.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    pub addr: SocketAddr,
    pub database: DatabaseConfig,
    pub pool_max: u32,
    pub request_timeout: Duration,
    pub body_limit: usize,
    pub log_format: String,
}

/// Settings of the `frontend` binary.
#[derive(Clone, Debug)]
pub struct FrontendConfig {
    pub addr: SocketAddr,
    pub api_url: String,
    pub request_timeout: Duration,
    pub body_limit: usize,
    pub log_format: String,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_var<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match var(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| format!("{name}={v:?} is not valid")),
    }
}

fn addr(default_port: u16) -> Result<SocketAddr, String> {
    let ip: IpAddr = parse_var("BIND_ADDR", IpAddr::from([0, 0, 0, 0]))?;
    Ok(SocketAddr::new(ip, parse_var("PORT", default_port)?))
}

/// Picks the database from `DATABASE_URL`, `PGHOST` or `DATA_DIR`.
pub fn database_from_env() -> Result<DatabaseConfig, String> {
    if let Some(url) = var("DATABASE_URL") {
        let lower = url.to_ascii_lowercase();
        return if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Ok(DatabaseConfig::PostgresUrl(url))
        } else if lower.starts_with("sqlite:") {
            Ok(DatabaseConfig::SqliteUrl(url))
        } else {
            Err("DATABASE_URL must start with postgres://, postgresql:// or sqlite:".into())
        };
    }
    if var("PGHOST").is_some() {
        return Ok(DatabaseConfig::PostgresEnv);
    }
    let dir = PathBuf::from(var("DATA_DIR").unwrap_or_else(|| "data".into()));
    Ok(DatabaseConfig::SqliteFile(dir.join("service.db")))
}

impl ApiConfig {
    pub fn from_env() -> Result<Self, String> {
        Ok(Self {
            addr: addr(8080)?,
            database: database_from_env()?,
            pool_max: parse_var("DB_POOL_MAX", 10u32)?.max(1),
            request_timeout: Duration::from_secs(parse_var("REQUEST_TIMEOUT_SECS", 10u64)?),
            body_limit: parse_var("BODY_LIMIT_BYTES", 16 * 1024usize)?,
            log_format: var("LOG_FORMAT").unwrap_or_else(|| "json".into()),
        })
    }
}

impl FrontendConfig {
    pub fn from_env() -> Result<Self, String> {
        let api_url = var("API_URL").unwrap_or_else(|| "http://127.0.0.1:8080".into());
        if !api_url.starts_with("http://") {
            return Err(format!("API_URL={api_url:?} must be an http:// URL"));
        }
        Ok(Self {
            addr: addr(3000)?,
            api_url: api_url.trim_end_matches('/').to_string(),
            request_timeout: Duration::from_secs(parse_var("REQUEST_TIMEOUT_SECS", 10u64)?),
            body_limit: parse_var("BODY_LIMIT_BYTES", 16 * 1024usize)?,
            log_format: var("LOG_FORMAT").unwrap_or_else(|| "json".into()),
        })
    }
}
