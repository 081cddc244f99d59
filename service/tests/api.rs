//! Black-box HTTP tests of the real `api` binary, each run on SQLite and on
//! PostgreSQL (`SERVICE_TEST_DATABASE_URL`): status codes, validation, upsert,
//! day counts with a pinned clock, readiness across a database outage,
//! concurrent migrations, configuration variants and graceful shutdown.

mod common;

use std::time::Duration;

use common::{api, client, create_pg_db, drop_pg_db, output_dir, unique, wait_status};
use serde_json::{json, Value};

#[derive(Clone)]
enum Backend {
    Sqlite,
    Postgres(String),
}

/// Database settings for one test; drops the PostgreSQL database at the end.
struct Db {
    envs: Vec<(&'static str, String)>,
    pg: Option<(String, String)>,
}

impl Db {
    async fn new(backend: &Backend, label: &str) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = output_dir().join("data").join(unique(label));
                Db { envs: vec![("DATA_DIR", dir.display().to_string())], pg: None }
            }
            Backend::Postgres(server) => {
                let (name, url) = create_pg_db(server, &format!("svc_{label}")).await;
                Db { envs: vec![("DATABASE_URL", url)], pg: Some((server.clone(), name)) }
            }
        }
    }

    fn with(&self, extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        let mut v = self.envs.clone();
        v.extend(extra.iter().map(|(k, val)| (*k, val.to_string())));
        v
    }

    async fn cleanup(self) {
        if let Some((server, name)) = self.pg {
            drop_pg_db(&server, &name).await;
        }
    }
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(server) = crate::common::pg_server() else { return };
                super::$name(super::Backend::Postgres(server)).await;
                crate::common::mark_pg_ran(concat!(stringify!($name), "_postgres"));
            }
        }
    )*};
}

on_both!(
    status_codes,
    bad_input_is_400,
    upsert_updates,
    day_counts_with_pinned_clock,
    limits_and_request_ids,
    graceful_shutdown
);

async fn put(c: &common::Client, base: &str, name: &str, body: &str) -> (u16, String) {
    let r = c
        .put(format!("{base}/hello/{name}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn get_json(c: &common::Client, url: &str) -> (u16, Value) {
    let r = c.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn status_codes(backend: Backend) {
    let db = Db::new(&backend, "codes").await;
    let p = api("api-codes", &db.with(&[])).await;
    let c = client();

    let r = c.get(p.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "OK");
    assert_eq!(c.get(p.url("/ready")).send().await.unwrap().status(), 200);

    let (s, v) = get_json(&c, &p.url("/api/time")).await;
    assert_eq!(s, 200);
    let t = v["time"].as_f64().expect("time is a number");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((t - now).abs() < 5.0, "time {t} vs now {now}");
    assert!(v["time"].is_f64(), "time must be a float: {v}");

    let (s, v) = get_json(&c, &p.url("/stats")).await;
    assert_eq!(s, 200);
    for k in ["cpu", "ram"] {
        let x = v[k].as_f64().unwrap_or_else(|| panic!("{k} missing in {v}"));
        assert!((0.0..=100.0).contains(&x), "{k}={x}");
    }

    let (s, v) = get_json(&c, &p.url("/hello/Nobody")).await;
    assert_eq!(s, 404);
    assert!(v["error"].is_string());

    let (s, body) = put(&c, &p.base, "Alice", r#"{"dateOfBirth":"1990-05-17"}"#).await;
    assert_eq!((s, body.as_str()), (204, ""));
    let (s, v) = get_json(&c, &p.url("/hello/Alice")).await;
    assert_eq!(s, 200);
    let msg = v["message"].as_str().unwrap();
    assert!(
        msg == "Hello, Alice! Happy birthday!"
            || (msg.starts_with("Hello, Alice! Your birthday is in ") && msg.ends_with(" day(s)")),
        "{msg}"
    );

    let (s, _) = get_json(&c, &p.url("/no/such/path")).await;
    assert_eq!(s, 404);

    let r = c.get(p.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains(r#"http_requests_total{method="PUT",route="/hello/{username}",status="204"} 1"#), "{text}");
    assert!(text.contains(r#"http_requests_total{method="GET",route="/hello/{username}",status="404"} 1"#));
    assert!(text
        .contains(r#"http_request_duration_seconds_bucket{method="GET",route="/api/time",status="200",le="+Inf"} 1"#));
    assert!(text.contains("# TYPE http_request_duration_seconds histogram"));
    db.cleanup().await;
}

async fn bad_input_is_400(backend: Backend) {
    let db = Db::new(&backend, "bad").await;
    let p = api("api-bad", &db.with(&[])).await;
    let c = client();
    let good = r#"{"dateOfBirth":"1990-05-17"}"#;
    let long = "a".repeat(65);
    // (path segment as sent, label)
    let bad_names = [
        "bob1",
        "bob_smith",
        "Zo%C3%AB",                            // Zoë
        "%E5%90%8D%E5%89%8D",                  // 名前
        "%27%20OR%20%271%27%3D%271",           // ' OR '1'='1
        "x%27%3B%20DROP%20TABLE%20users%3B--", // x'; DROP TABLE users;--
        "Robert%22%29%3B",                     // Robert");
        "a%20b",
        "%FF",
        long.as_str(),
    ];
    for name in bad_names {
        let (s, body) = put(&c, &p.base, name, good).await;
        assert_eq!(s, 400, "PUT {name}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(v["error"].as_str().unwrap().contains("username"), "{body}");
        let (s, v) = get_json(&c, &p.url(&format!("/hello/{name}"))).await;
        assert_eq!(s, 400, "GET {name}: {v}");
        assert!(v["error"].is_string());
    }
    for path in ["/hello/", "/hello"] {
        let (s, _) = get_json(&c, &p.url(path)).await;
        assert_eq!(s, 400, "GET {path}");
    }
    // 64 letters is fine
    let max = "b".repeat(64);
    assert_eq!(put(&c, &p.base, &max, good).await.0, 204);

    let today = chrono::Utc::now().date_naive();
    let today_s = today.to_string();
    let tomorrow = (today + chrono::Days::new(1)).to_string();
    let bad_bodies: Vec<(String, &str)> = vec![
        (String::new(), "JSON"),
        ("{".into(), "JSON"),
        ("not json".into(), "JSON"),
        ("[]".into(), "object"),
        ("null".into(), "object"),
        ("\"1990-05-17\"".into(), "object"),
        ("{}".into(), "dateOfBirth"),
        (r#"{"dateofbirth":"1990-05-17"}"#.into(), "dateOfBirth"),
        (r#"{"dateOfBirth":"1990-05-17","extra":1}"#.into(), "extra"),
        (r#"{"dateOfBirth":19900517}"#.into(), "string"),
        (r#"{"dateOfBirth":null}"#.into(), "string"),
        (r#"{"dateOfBirth":["1990-05-17"]}"#.into(), "string"),
        (r#"{"dateOfBirth":"17-05-1990"}"#.into(), "YYYY-MM-DD"),
        (r#"{"dateOfBirth":"1990-5-17"}"#.into(), "YYYY-MM-DD"),
        (r#"{"dateOfBirth":"1990/05/17"}"#.into(), "YYYY-MM-DD"),
        (r#"{"dateOfBirth":"1990-05-17T00:00:00Z"}"#.into(), "YYYY-MM-DD"),
        (r#"{"dateOfBirth":""}"#.into(), "YYYY-MM-DD"),
        (r#"{"dateOfBirth":"1990-02-30"}"#.into(), "valid"),
        (r#"{"dateOfBirth":"2001-02-29"}"#.into(), "valid"),
        (r#"{"dateOfBirth":"1990-13-01"}"#.into(), "valid"),
        (format!(r#"{{"dateOfBirth":"{today_s}"}}"#), "before today"),
        (format!(r#"{{"dateOfBirth":"{tomorrow}"}}"#), "before today"),
        (r#"{"dateOfBirth":"9999-12-31"}"#.into(), "before today"),
    ];
    for (body, expect) in &bad_bodies {
        let (s, text) = put(&c, &p.base, "Carol", body).await;
        assert_eq!(s, 400, "body {body:?}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        let err = v["error"].as_str().unwrap();
        assert!(err.contains(expect), "body {body:?}: error {err:?} should mention {expect:?}");
    }
    // wrong / missing content type is not a 415
    let r = c.put(p.url("/hello/Carol")).body(good).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = c.put(p.url("/hello/Carol")).header("content-type", "text/plain").body("x").send().await.unwrap();
    assert_eq!(r.status(), 400);
    // nothing bad was stored
    let (s, _) = get_json(&c, &p.url("/hello/bob")).await;
    assert_eq!(s, 404);
    db.cleanup().await;
}

async fn upsert_updates(backend: Backend) {
    let db = Db::new(&backend, "upsert").await;
    let p = api("api-upsert", &db.with(&[("SERVICE_FAKE_TODAY", "2024-03-01")])).await;
    let c = client();
    assert_eq!(put(&c, &p.base, "Dave", r#"{"dateOfBirth":"1980-03-02"}"#).await.0, 204);
    let (_, v) = get_json(&c, &p.url("/hello/Dave")).await;
    assert_eq!(v["message"], "Hello, Dave! Your birthday is in 1 day(s)");
    assert_eq!(put(&c, &p.base, "Dave", r#"{"dateOfBirth":"1980-03-01"}"#).await.0, 204);
    let (_, v) = get_json(&c, &p.url("/hello/Dave")).await;
    assert_eq!(v["message"], "Hello, Dave! Happy birthday!");
    // names are case-sensitive keys
    let (s, _) = get_json(&c, &p.url("/hello/dave")).await;
    assert_eq!(s, 404);
    db.cleanup().await;
}

async fn day_counts_with_pinned_clock(backend: Backend) {
    let db = Db::new(&backend, "days").await;
    let c = client();
    // (today, user, date of birth, expected message suffix)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str, &'a str)]);
    let cases: &[Case] = &[
        (
            "2023-12-31",
            &[
                ("Newyear", "1990-01-01", "Your birthday is in 1 day(s)"),
                ("Eve", "1990-12-31", "Happy birthday!"),
                ("Justmissed", "1990-12-30", "Your birthday is in 365 day(s)"),
                ("Leapling", "2000-02-29", "Your birthday is in 60 day(s)"),
            ],
        ),
        ("2024-01-01", &[("Silvester", "1999-12-31", "Your birthday is in 365 day(s)")]),
        (
            "2024-02-28",
            &[
                ("Leapa", "2000-02-29", "Your birthday is in 1 day(s)"),
                ("March", "2000-03-01", "Your birthday is in 2 day(s)"),
            ],
        ),
        ("2024-02-29", &[("Leapb", "2000-02-29", "Happy birthday!")]),
        ("2023-02-28", &[("Leapc", "2004-02-29", "Happy birthday!")]),
        ("2023-03-01", &[("Leapd", "2004-02-29", "Your birthday is in 365 day(s)")]),
        ("2100-02-28", &[("Leape", "2000-02-29", "Happy birthday!")]),
    ];
    for (today, users) in cases {
        let p = api("api-days", &db.with(&[("SERVICE_FAKE_TODAY", today)])).await;
        for (name, dob, suffix) in users.iter() {
            let (s, body) = put(&c, &p.base, name, &format!(r#"{{"dateOfBirth":"{dob}"}}"#)).await;
            assert_eq!(s, 204, "{today} {name}: {body}");
            let (s, v) = get_json(&c, &p.url(&format!("/hello/{name}"))).await;
            assert_eq!(s, 200);
            assert_eq!(v["message"], format!("Hello, {name}! {suffix}"), "today {today}, born {dob}");
        }
        // the pinned "today" is not a valid birth date, the day before is
        let (s, _) = put(&c, &p.base, "Pinned", &format!(r#"{{"dateOfBirth":"{today}"}}"#)).await;
        assert_eq!(s, 400);
        let yesterday = chrono::NaiveDate::parse_from_str(today, "%Y-%m-%d").unwrap().pred_opt().unwrap();
        let (s, _) = put(&c, &p.base, "Pinned", &format!(r#"{{"dateOfBirth":"{yesterday}"}}"#)).await;
        assert_eq!(s, 204);
        let (_, v) = get_json(&c, &p.url("/hello/Pinned")).await;
        assert_eq!(
            v["message"],
            "Hello, Pinned! Your birthday is in 364 day(s)".replace(
                "364",
                &service::birthday::days_until_birthday(
                    yesterday,
                    chrono::NaiveDate::parse_from_str(today, "%Y-%m-%d").unwrap()
                )
                .to_string(),
            )
        );
    }
    db.cleanup().await;
}

async fn limits_and_request_ids(backend: Backend) {
    let db = Db::new(&backend, "limits").await;
    let p = api("api-limits", &db.with(&[("BODY_LIMIT_BYTES", "1024")])).await;
    let c = client();
    let big = format!(r#"{{"dateOfBirth":"1990-01-01","pad":"{}"}}"#, "x".repeat(4096));
    let (s, _) = put(&c, &p.base, "Big", &big).await;
    assert_eq!(s, 413);
    let r = c.get(p.url("/health")).send().await.unwrap();
    let id = r.headers().get("x-request-id").expect("request id").to_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "uuid request id: {id}");
    let r = c.get(p.url("/hello/Unknown")).header("x-request-id", "test-req-42").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "test-req-42");
    assert_eq!(r.status(), 404);
    // the access log line (debug level in tests) carries the request id
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = p.log_text();
    let line = log.lines().find(|l| l.contains("test-req-42")).unwrap_or_else(|| panic!("no log line:\n{log}"));
    let v: Value = serde_json::from_str(line).expect("JSON log line");
    assert_eq!(v["span"]["request_id"], "test-req-42");
    assert_eq!(v["fields"]["status"], 404);
    db.cleanup().await;
}

async fn graceful_shutdown(backend: Backend) {
    let db = Db::new(&backend, "shutdown").await;
    let mut p = api("api-shutdown", &db.with(&[])).await;
    let code = p.terminate(Duration::from_secs(10));
    assert_eq!(code, Some(0), "api must exit 0 on SIGTERM; log:\n{}", p.log_text());
    assert!(p.log_text().contains("api stopped"));
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_default_data_dir_and_url() {
    let dir = output_dir().join("data").join(unique("defaultdir"));
    let p = api("api-default", &[("DATA_DIR", dir.display().to_string())]).await;
    assert!(dir.join("service.db").exists(), "SQLite file in DATA_DIR");
    drop(p);
    let file = output_dir().join("data").join(unique("url")).join("x.db");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let p = api("api-sqliteurl", &[("DATABASE_URL", format!("sqlite://{}", file.display()))]).await;
    assert_eq!(put(&client(), &p.base, "Erin", r#"{"dateOfBirth":"1990-01-01"}"#).await.0, 204);
    assert!(file.exists());
}

#[tokio::test]
async fn bad_configuration_exits_2() {
    let out = std::process::Command::new(common::bin("api")).env("DATABASE_URL", "mysql://nope").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
}

/// PostgreSQL configured through libpq variables (as on RDS/ECS) and over TLS
/// (`sslmode=require` through rustls).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_env_vars_and_tls() {
    let Some(server) = common::pg_server() else {
        return;
    };
    let (name, url) = create_pg_db(&server, "svc_pgenv").await;
    let opts: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let envs = vec![
        ("PGHOST", opts.get_host().to_string()),
        ("PGPORT", opts.get_port().to_string()),
        ("PGUSER", opts.get_username().to_string()),
        ("PGDATABASE", name.clone()),
        ("PGSSLMODE", "require".to_string()),
    ];
    let p = api("api-pgenv", &envs).await;
    let c = client();
    assert_eq!(put(&c, &p.base, "Frank", r#"{"dateOfBirth":"1990-01-01"}"#).await.0, 204);
    drop(p);
    // the same data through a URL with sslmode=require
    let tls_url = format!("{}{}sslmode=require", url, if url.contains('?') { "&" } else { "?" });
    let p = api("api-pgtls", &[("DATABASE_URL", tls_url)]).await;
    assert_eq!(get_json(&c, &p.url("/hello/Frank")).await.0, 200);
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let ssl: Vec<(bool,)> = sqlx::query_as(
        "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid \
         WHERE a.application_name = 'service-api' AND a.datname = current_database()",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(!ssl.is_empty() && ssl.iter().all(|(s,)| *s), "api connections use TLS: {ssl:?}");
    drop(conn);
    drop(p);
    drop_pg_db(&server, &name).await;
    common::mark_pg_ran("postgres_env_vars_and_tls");
}

/// Several replicas starting at once on an empty database all migrate safely.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_migrations() {
    let Some(server) = common::pg_server() else {
        return;
    };
    let (name, url) = create_pg_db(&server, "svc_mig").await;
    let procs: Vec<_> = (0..4)
        .map(|i| common::spawn(&common::bin("api"), &format!("api-mig{i}"), &[("DATABASE_URL", url.clone())]))
        .collect();
    for p in &procs {
        wait_status(&p.url("/ready"), 200, Duration::from_secs(30)).await;
    }
    let c = client();
    assert_eq!(put(&c, &procs[0].base, "Grace", r#"{"dateOfBirth":"1990-01-01"}"#).await.0, 204);
    assert_eq!(get_json(&c, &procs[3].url("/hello/Grace")).await.0, 200);
    drop(procs);
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM _sqlx_migrations").fetch_one(&mut conn).await.unwrap();
    assert_eq!(n, 1);
    drop(conn);
    drop_pg_db(&server, &name).await;
    common::mark_pg_ran("postgres_concurrent_migrations");
}

/// `/ready` turns 503 while the database is unreachable (a TCP proxy in
/// front of PostgreSQL is cut) and 200 again when it is back; requests that
/// need the database answer 503, never 500, meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_and_recovery() {
    let Some(server) = common::pg_server() else {
        return;
    };
    let (name, url) = create_pg_db(&server, "svc_outage").await;
    let opts: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let upstream = format!("{}:{}", opts.get_host(), opts.get_port());
    let proxy = TcpProxy::start(upstream).await;
    let proxied =
        url.replacen(&format!("{}:{}", opts.get_host(), opts.get_port()), &format!("127.0.0.1:{}", proxy.port), 1);
    assert_ne!(proxied, url, "URL must name host:port explicitly");
    let p = api("api-outage", &[("DATABASE_URL", proxied)]).await;
    let c = client();
    assert_eq!(put(&c, &p.base, "Heidi", r#"{"dateOfBirth":"1990-01-01"}"#).await.0, 204);

    proxy.cut();
    wait_status(&p.url("/ready"), 503, Duration::from_secs(15)).await;
    let (s, v) = get_json(&c, &p.url("/hello/Heidi")).await;
    assert_eq!(s, 503, "{v}");
    // the failure is logged once, at warn, with the request id and the cause
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = p.log_text();
    let line = log
        .lines()
        .rfind(|l| l.contains("\"request failed\"") && l.contains("/hello/Heidi"))
        .unwrap_or_else(|| panic!("no warn line for the 503:\n{log}"));
    let w: Value = serde_json::from_str(line).unwrap();
    assert_eq!(w["level"], "WARN");
    assert_eq!(w["fields"]["status"], 503);
    assert!(w["fields"]["request_id"].as_str().is_some_and(|r| r.len() == 36), "{line}");
    assert!(w["fields"]["error"].as_str().is_some_and(|e| !e.is_empty()), "{line}");
    assert_eq!(c.get(p.url("/health")).send().await.unwrap().status(), 200, "liveness does not need the DB");
    // bad input is still 400, not a database error
    assert_eq!(get_json(&c, &p.url("/hello/h1")).await.0, 400);

    proxy.restore();
    wait_status(&p.url("/ready"), 200, Duration::from_secs(20)).await;
    let (s, v) = get_json(&c, &p.url("/hello/Heidi")).await;
    assert_eq!(s, 200, "{v}");
    drop(p);
    drop_pg_db(&server, &name).await;
    common::mark_pg_ran("postgres_outage_and_recovery");
}

/// A loopback TCP proxy whose traffic can be cut (existing connections are
/// dropped, new ones refused by closing immediately) and restored.
struct TcpProxy {
    port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    generation: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    async fn start(upstream: String) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = std::sync::Arc::new(AtomicBool::new(true));
        let (tx, _) = tokio::sync::watch::channel(0u64);
        let generation = std::sync::Arc::new(tx);
        let (up2, gen2) = (up.clone(), generation.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let upstream = upstream.clone();
                let mut cut = gen2.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { port, up, generation, task }
    }

    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[test]
fn clock_env_is_documented() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap_or_default();
    assert!(readme.contains(service::clock::FAKE_TODAY_ENV), "README documents the test clock");
    let _ = json!({});
}
