//! Browser test of the dashboard: real `api` + `frontend` binaries, headless
//! Debian chromium driven through chromedriver (fantoccini). Checks that the
//! clock ticks, stats refresh, a birthday can be saved and looked up, and
//! saves screenshots at 1280 and 390 px under `target-test-output/`.
//!
//! Skipped when chromedriver is absent unless `SERVICE_TEST_BROWSER=1`
//! (set by `make service-test`), in which case it must run.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{output_dir, spawn, unique};
use fantoccini::{ClientBuilder, Locator};
use serde_json::{json, Value};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Driver(std::process::Child);
impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn text(c: &fantoccini::Client, id: &str) -> String {
    c.execute("return document.getElementById(arguments[0]).textContent", vec![json!(id)])
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Clicks element `id`.
async fn click(c: &fantoccini::Client, id: &str) {
    c.find(Locator::Id(id)).await.unwrap().click().await.unwrap();
}

/// Polls `check` on element `id`'s text until it holds; returns that text.
async fn wait_text(c: &fantoccini::Client, id: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let t = text(c, id).await;
        if check(&t) {
            return t;
        }
        if Instant::now() > deadline {
            panic!("#{id}: {what}; last text {t:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn shot(c: &fantoccini::Client, width: u32, name: &str) {
    c.set_window_size(width, 1000).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    // no horizontal scrolling at this width
    let overflow: Value =
        c.execute("return document.documentElement.scrollWidth - window.innerWidth", vec![]).await.unwrap();
    assert!(overflow.as_i64().unwrap_or(0) <= 0, "page overflows horizontally at {width}px: {overflow}");
    let png = c.screenshot().await.unwrap();
    let dir = output_dir().join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_headless_chromium() {
    let required = std::env::var("SERVICE_TEST_BROWSER").is_ok_and(|v| v == "1");
    if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
        assert!(!required, "SERVICE_TEST_BROWSER=1 but chromium/chromedriver are not installed");
        eprintln!("chromium or chromedriver missing: skipping the browser test");
        return;
    }
    let data = output_dir().join("data").join(unique("browser"));
    let api = spawn(&common::bin("api"), "browser-api", &[("DATA_DIR", data.display().to_string())]);
    common::wait_status(&api.url("/ready"), 200, Duration::from_secs(20)).await;
    let fe = spawn(&common::bin("frontend"), "browser-frontend", &[("API_URL", api.base.clone())]);
    common::wait_status(&fe.url("/ready"), 200, Duration::from_secs(20)).await;

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    let profile = output_dir().join("chrome-profile").join(unique("p"));
    let caps = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ]
        }
    });
    let caps = caps.as_object().unwrap().clone();
    let webdriver = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let c = loop {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&webdriver)
            .await
        {
            Ok(c) => break c,
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for chromedriver: {e}");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => panic!("cannot start a chromium session: {e}"),
        }
    };

    c.goto(&fe.url("/")).await.unwrap();
    assert_eq!(c.title().await.unwrap(), "Service dashboard");

    // the clock ticks and is synced from /api/time
    wait_text(&c, "clock-sync", "synced with the server", |t| t.starts_with("synced with server")).await;
    let t1 = wait_text(&c, "clock", "shows a time", |t| t.ends_with(" UTC") && !t.starts_with("--")).await;
    let t2 = wait_text(&c, "clock", "keeps ticking", |t| t != t1).await;
    assert_ne!(t1, t2);
    assert_eq!(text(&c, "api-status").await, "API online");

    // CPU and RAM come from /stats and refresh
    let s1 = wait_text(&c, "stats-updated", "stats arrive", |t| t.starts_with("sample #")).await;
    wait_text(&c, "stats-updated", "stats refresh", |t| t != s1 && t.starts_with("sample #")).await;
    for id in ["cpu-value", "ram-value"] {
        let v = text(&c, id).await;
        assert!(v.ends_with('%') && v.trim_end_matches('%').parse::<f64>().is_ok(), "{id}: {v}");
    }

    // client-side validation
    c.find(Locator::Id("name")).await.unwrap().send_keys("Bad Name1").await.unwrap();
    click(&c, "lookup").await;
    wait_text(&c, "result", "rejects a bad name", |t| t.contains("1 to 64 letters")).await;

    // unknown user
    let name_field = c.find(Locator::Id("name")).await.unwrap();
    name_field.clear().await.unwrap();
    name_field.send_keys("Browsertester").await.unwrap();
    click(&c, "lookup").await;
    wait_text(&c, "result", "reports an unknown user", |t| t.contains("No birthday saved for Browsertester")).await;

    // save a birthday: the page saves it then shows the API's message
    let today = chrono::Utc::now().date_naive();
    let dob = chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap();
    let expect = service::birthday::greeting("Browsertester", dob, today);
    c.execute(
        "const el = document.getElementById('dob'); el.value = arguments[0]; el.dispatchEvent(new Event('input'));",
        vec![json!(dob.to_string())],
    )
    .await
    .unwrap();
    click(&c, "save").await;
    let msg = wait_text(&c, "result", "shows the greeting", |t| t.starts_with("Hello, Browsertester!")).await;
    assert_eq!(msg, expect);
    let class: Value = c.execute("return document.getElementById('result').className", vec![]).await.unwrap();
    assert_eq!(class, "result ok");

    // a future date is refused by the API and its error shown
    let future = (today + chrono::Days::new(10)).to_string();
    c.execute("document.getElementById('dob').value = arguments[0];", vec![json!(future)]).await.unwrap();
    click(&c, "save").await;
    wait_text(&c, "result", "shows the API error", |t| t.contains("before today")).await;
    // restore the form and the greeting for the screenshots
    c.execute("document.getElementById('dob').value = arguments[0];", vec![json!(dob.to_string())]).await.unwrap();
    click(&c, "lookup").await;
    wait_text(&c, "result", "shows the greeting again", |t| t == expect).await;

    shot(&c, 1280, "dashboard-1280.png").await;
    shot(&c, 390, "dashboard-390.png").await;
    c.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&profile);
}
