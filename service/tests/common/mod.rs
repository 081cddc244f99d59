//! Test harness shared by the black-box tests: spawns the real `api` and
//! `frontend` binaries on free loopback ports (`PORT=0`, the bound address is
//! read from the JSON "listening" log line), creates throw-away PostgreSQL
//! databases, and records which PostgreSQL tests actually ran.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sqlx::Connection;

/// Set to a PostgreSQL URL (e.g. `postgres://postgres@127.0.0.1:5432/postgres`)
/// to run the PostgreSQL tests; they then fail if the server is unreachable.
pub const PG_ENV: &str = "SERVICE_TEST_DATABASE_URL";

/// `service/target-test-output`, created on demand.
pub fn output_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target-test-output");
    std::fs::create_dir_all(&dir).expect("create target-test-output");
    dir
}

/// A unique suffix for names (databases, users, directories).
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}_{}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed), nanos % 100_000)
}

/// A spawned binary; SIGTERMed (then killed) on drop.
pub struct Proc {
    pub child: Child,
    pub addr: String,
    pub base: String,
    pub log: PathBuf,
}

impl Proc {
    /// Sends SIGTERM and waits up to `timeout` for a clean exit; returns the exit code.
    pub fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            if self.terminate(Duration::from_secs(5)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

/// Directory of prebuilt binaries to test instead of cargo's own build
/// (`make service-test` points it at the static `service-build` output, the
/// same binaries the images and the benchmark use).
pub const BIN_DIR_ENV: &str = "SERVICE_BIN_DIR";

/// Path of a binary of this package: from [`BIN_DIR_ENV`] when set, else
/// the one cargo built for these tests.
pub fn bin(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV).filter(|d| !d.is_empty()) {
        let p = PathBuf::from(dir).join(name);
        assert!(p.is_file(), "{BIN_DIR_ENV}: {} does not exist", p.display());
        return p;
    }
    match name {
        "api" => PathBuf::from(env!("CARGO_BIN_EXE_api")),
        "frontend" => PathBuf::from(env!("CARGO_BIN_EXE_frontend")),
        other => panic!("unknown binary {other}"),
    }
}

/// Starts `program` with `envs` on `PORT=0` (unless given) and waits for its
/// "listening" log line. Output goes to `target-test-output/logs/<label>.log`.
pub fn spawn(program: &std::path::Path, label: &str, envs: &[(&str, String)]) -> Proc {
    spawn_with(Command::new(program), label, envs)
}

/// Like [`spawn`] for a prepared command (e.g. `chroot … /api`).
pub fn spawn_with(mut cmd: Command, label: &str, envs: &[(&str, String)]) -> Proc {
    let logs = output_dir().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let log = logs.join(format!("{}.log", unique(label)));
    cmd.env_remove("DATABASE_URL")
        .env_remove("PGHOST")
        .env_remove("RUST_LOG")
        .env("PORT", "0")
        .env("BIND_ADDR", "127.0.0.1")
        .env("LOG_FORMAT", "json")
        .env("LOG_LEVEL", "debug");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {label}: {e}"));
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let log_path = log.clone();
    std::thread::spawn(move || {
        use std::io::Write;
        let mut file = std::fs::File::create(&log_path).unwrap();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("\"listening\"") {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    if let Some(a) = v["fields"]["addr"].as_str() {
                        let _ = tx.send(a.to_string());
                    }
                }
            }
            let _ = writeln!(file, "{line}");
        }
    });
    let err_path = log.with_extension("stderr.log");
    std::thread::spawn(move || {
        let mut file = std::fs::File::create(&err_path).unwrap();
        let _ = std::io::copy(&mut BufReader::new(stderr), &mut file);
    });
    let addr = match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(a) => a,
        Err(_) => {
            let _ = child.kill();
            panic!("{label} did not start listening; log at {}", log.display());
        }
    };
    let base = format!("http://{addr}");
    Proc { child, addr, base, log }
}

/// Starts the api with `envs` and waits until `/ready` answers 200.
pub async fn api(label: &str, envs: &[(&str, String)]) -> Proc {
    let p = spawn(&bin("api"), label, envs);
    wait_status(&p.url("/ready"), 200, Duration::from_secs(20)).await;
    p
}

/// HTTP client for tests.
pub fn client() -> Client {
    Client(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(hyper_util::client::legacy::connect::HttpConnector::new()),
    )
}

/// A minimal HTTP/1.1 test client on hyper-util (the API mirrors the parts of
/// reqwest the tests use; reqwest itself is left out so that dev-dependencies
/// do not change the features, hence the build, of the service binaries).
#[derive(Clone)]
pub struct Client(
    hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<axum::body::Bytes>,
    >,
);

pub struct RequestBuilder {
    client: Client,
    builder: axum::http::request::Builder,
    body: Vec<u8>,
}

pub struct Response {
    status: axum::http::StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Client {
    pub fn get(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request("GET", url)
    }
    pub fn put(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request("PUT", url)
    }
    pub fn request(&self, method: &str, url: impl AsRef<str>) -> RequestBuilder {
        RequestBuilder {
            client: self.clone(),
            builder: axum::http::Request::builder().method(method).uri(url.as_ref()),
            body: Vec::new(),
        }
    }
}

impl RequestBuilder {
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.builder = self.builder.header(k, v);
        self
    }
    pub fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = b.into();
        self
    }
    pub async fn send(self) -> Result<Response, String> {
        use http_body_util::BodyExt;
        let req = self.builder.body(http_body_util::Full::new(self.body.into())).map_err(|e| e.to_string())?;
        let fut = self.client.0.request(req);
        let res = tokio::time::timeout(Duration::from_secs(10), fut)
            .await
            .map_err(|_| "timeout".to_string())?
            .map_err(|e| e.to_string())?;
        let (parts, body) = res.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes().to_vec();
        Ok(Response { status: parts.status, headers: parts.headers, body })
    }
}

impl Response {
    pub fn status(&self) -> axum::http::StatusCode {
        self.status
    }
    pub fn headers(&self) -> &axum::http::HeaderMap {
        &self.headers
    }
    pub async fn text(self) -> Result<String, std::string::FromUtf8Error> {
        String::from_utf8(self.body)
    }
    pub async fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// Polls `url` until it answers `status`; panics after `timeout`.
pub async fn wait_status(url: &str, status: u16, timeout: Duration) {
    let c = client();
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        match c.get(url).send().await {
            Ok(r) if r.status().as_u16() == status => return,
            Ok(r) => last = format!("status {}", r.status()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} did not answer {status} within {timeout:?} (last: {last})");
}

/// The PostgreSQL server URL from [`PG_ENV`], or `None` (test skipped).
pub fn pg_server() -> Option<String> {
    match std::env::var(PG_ENV) {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!("{PG_ENV} is not set: skipping the PostgreSQL test");
            None
        }
    }
}

/// Records that the PostgreSQL test `name` ran (checked by `.ci/service.sh`).
pub fn mark_pg_ran(name: &str) {
    let dir = output_dir().join("pg-ran");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), "ok\n").unwrap();
}

/// Replaces the database name in a PostgreSQL URL.
pub fn with_database(url: &str, db: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// A fresh, empty database on the test server; dropped by [`drop_pg_db`].
pub async fn create_pg_db(server: &str, prefix: &str) -> (String, String) {
    let name = unique(prefix).to_lowercase();
    let mut conn = sqlx::PgConnection::connect(server)
        .await
        .unwrap_or_else(|e| panic!("{PG_ENV}={server} is set but PostgreSQL is unreachable: {e}"));
    sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\"")).execute(&mut conn).await.unwrap();
    let _ = conn.close().await;
    (name.clone(), with_database(server, &name))
}

/// Drops a database made by [`create_pg_db`] (forcing out connections).
pub async fn drop_pg_db(server: &str, name: &str) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(server).await {
        let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut conn).await;
        let _ = conn.close().await;
    }
}
