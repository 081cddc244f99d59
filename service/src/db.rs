//! Storage: a connection pool on PostgreSQL or SQLite, migrations and the two
//! user queries.
//!
//! Pools are created lazily so the process starts (and `/health` answers)
//! even when the database is down; sqlx re-opens broken connections, so the
//! service recovers by itself after a database restart. Migrations are
//! embedded and run at start-up; on PostgreSQL sqlx takes an advisory lock,
//! so several replicas may migrate at once.

use std::str::FromStr;
use std::time::Duration;

use chrono::NaiveDate;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::config::DatabaseConfig;

static PG_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A pool on one of the supported databases.
#[derive(Clone, Debug)]
pub enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Storage errors (all mean "the database did not answer as expected").
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database did not answer within {0:?}")]
    Timeout(Duration),
}

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether `e` means the connection itself failed (e.g. the database was
/// restarted), so that running the statement again on a fresh connection
/// is the right answer.
fn is_connection_error(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed)
        || matches!(e, sqlx::Error::Database(d) if d.code().is_some_and(|c| c.starts_with("57P") || c.starts_with("08")))
}

/// Runs `f` and, on a connection error, once more (both statements here are
/// idempotent).
async fn retry_once<T, F, Fut>(mut f: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    match f().await {
        Err(e) if is_connection_error(&e) => {
            tracing::info!(error = %e, "database connection lost, retrying on a new connection");
            f().await
        }
        other => other,
    }
}

impl Db {
    /// Builds a lazy pool for `cfg` with at most `pool_max` connections.
    pub fn connect_lazy(cfg: &DatabaseConfig, pool_max: u32) -> Result<Self, DbError> {
        match cfg {
            DatabaseConfig::PostgresUrl(url) => {
                let opts = PgConnectOptions::from_str(url).map_err(|e| DbError::Config(e.to_string()))?;
                Ok(Self::pg(opts, pool_max))
            }
            // PgConnectOptions::new() reads PGHOST, PGPORT, PGUSER, PGPASSWORD,
            // PGDATABASE, PGSSLMODE and PGSSLROOTCERT.
            DatabaseConfig::PostgresEnv => Ok(Self::pg(PgConnectOptions::new(), pool_max)),
            DatabaseConfig::SqliteUrl(url) => {
                let opts = SqliteConnectOptions::from_str(url).map_err(|e| DbError::Config(e.to_string()))?;
                Ok(Self::sqlite(opts, pool_max))
            }
            DatabaseConfig::SqliteFile(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| DbError::Config(format!("cannot create {}: {e}", dir.display())))?;
                }
                Ok(Self::sqlite(SqliteConnectOptions::new().filename(path), pool_max))
            }
        }
    }

    fn pg(opts: PgConnectOptions, pool_max: u32) -> Self {
        let opts = opts.application_name("service-api");
        let pool = PgPoolOptions::new()
            .max_connections(pool_max)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(Duration::from_secs(300))
            .max_lifetime(Duration::from_secs(1800))
            // No ping before each use (it would double the round trips):
            // sqlx already pings every connection when it returns to the
            // pool and drops broken ones, and queries retry once on a
            // connection error (see `retry_once`), so a database restart
            // costs no failed request.
            .test_before_acquire(false)
            .connect_lazy_with(opts);
        Self::Postgres(pool)
    }

    fn sqlite(opts: SqliteConnectOptions, pool_max: u32) -> Self {
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(pool_max.min(8))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(opts);
        Self::Sqlite(pool)
    }

    /// `postgres` or `sqlite`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }

    /// Applies the embedded migrations.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self {
            Self::Postgres(p) => PG_MIGRATOR.run(p).await?,
            Self::Sqlite(p) => SQLITE_MIGRATOR.run(p).await?,
        }
        Ok(())
    }

    /// Round trip to the database (`SELECT 1`), bounded by `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<(), DbError> {
        let fut = async {
            match self {
                Self::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(drop),
                Self::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.map(drop),
            }
        };
        tokio::time::timeout(timeout, fut).await.map_err(|_| DbError::Timeout(timeout))??;
        Ok(())
    }

    /// Inserts or updates a user's date of birth.
    pub async fn upsert_user(&self, username: &str, dob: NaiveDate) -> Result<(), DbError> {
        match self {
            Self::Postgres(p) => {
                retry_once(|| {
                    sqlx::query(
                        "INSERT INTO users (username, date_of_birth) VALUES ($1, $2) \
                         ON CONFLICT (username) DO UPDATE \
                         SET date_of_birth = EXCLUDED.date_of_birth, updated_at = now()",
                    )
                    .bind(username)
                    .bind(dob)
                    .execute(p)
                })
                .await?;
            }
            Self::Sqlite(p) => {
                sqlx::query(
                    "INSERT INTO users (username, date_of_birth) VALUES (?1, ?2) \
                     ON CONFLICT (username) DO UPDATE \
                     SET date_of_birth = excluded.date_of_birth, \
                         updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                )
                .bind(username)
                .bind(dob)
                .execute(p)
                .await?;
            }
        }
        Ok(())
    }

    /// A user's date of birth, if the user exists.
    pub async fn find_user(&self, username: &str) -> Result<Option<NaiveDate>, DbError> {
        Ok(match self {
            Self::Postgres(p) => {
                retry_once(|| {
                    sqlx::query_scalar("SELECT date_of_birth FROM users WHERE username = $1")
                        .bind(username)
                        .fetch_optional(p)
                })
                .await?
            }
            Self::Sqlite(p) => {
                sqlx::query_scalar("SELECT date_of_birth FROM users WHERE username = ?1")
                    .bind(username)
                    .fetch_optional(p)
                    .await?
            }
        })
    }

    /// Closes the pool (on shutdown).
    pub async fn close(&self) {
        match self {
            Self::Postgres(p) => p.close().await,
            Self::Sqlite(p) => p.close().await,
        }
    }
}
