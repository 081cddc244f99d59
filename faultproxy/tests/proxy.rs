//! Integration tests: a tiny in-process upstream, the proxy in front of it, and
//! checks for forwarding, counting, every fault kind, skip/times, the admin API
//! and the `faultproxy` binary.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faultproxy::{Fault, InjectedFault, Proxy, Rule};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// Upstream that echoes what it received; `/nat` returns two `available` states.
struct Upstream {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn upstream() -> Upstream {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let seen = seen2.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let seen = seen.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        let h =
                            |n: &str| parts.headers.get(n).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
                        let pq = parts.uri.path_and_query().unwrap().as_str().to_string();
                        seen.lock().unwrap().push(format!("{} {}", parts.method, pq));
                        let text = if parts.uri.path() == "/nat" {
                            "<r><state>available</state><x/><state>available</state></r>".to_string()
                        } else {
                            format!(
                                "method={} pq={} host={} x-test={} target={} body={}",
                                parts.method,
                                pq,
                                h("host"),
                                h("x-test"),
                                h("x-amz-target"),
                                String::from_utf8_lossy(&body)
                            )
                        };
                        Ok::<_, Infallible>(
                            Response::builder().header("x-upstream", "yes").body(Full::new(Bytes::from(text))).unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    Upstream { url, seen }
}

struct Resp {
    status: StatusCode,
    headers: hyper::HeaderMap,
    body: String,
}

async fn send(url: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut b = Request::builder().method(method).uri(format!("{url}{path}"));
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = client.request(b.body(Full::new(Bytes::from(body.to_string()))).unwrap()).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap();
    Resp { status: parts.status, headers: parts.headers, body }
}

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded; charset=utf-8");

async fn ec2(url: &str, action: &str) -> Resp {
    send(url, "POST", "/", &[FORM], &format!("Action={action}&Version=2016-11-15")).await
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[tokio::test]
async fn forwards_unchanged_and_counts_by_action() {
    let up = upstream().await;
    let proxy = Proxy::start(&up.url);
    let url = proxy.url();

    let r = send(
        &url,
        "POST",
        "/?a=1",
        &[FORM, ("host", "ec2.us-east-1.amazonaws.com"), ("x-test", "kept")],
        "Action=CreateVpc&CidrBlock=10.0.0.0%2F16",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["x-upstream"], "yes");
    assert_eq!(
        r.body,
        "method=POST pq=/?a=1 host=ec2.us-east-1.amazonaws.com x-test=kept target= body=Action=CreateVpc&CidrBlock=10.0.0.0%2F16"
    );
    let r = send(&url, "POST", "/", &[("x-amz-target", "DynamoDB_20120810.PutItem")], "{}").await;
    assert!(r.body.contains("target=DynamoDB_20120810.PutItem body={}"), "{}", r.body);
    let r = send(&url, "GET", "/bucket/key?list-type=2", &[], "").await;
    assert!(r.body.starts_with("method=GET pq=/bucket/key?list-type=2"), "{}", r.body);
    ec2(&url, "CreateVpc").await;
    ec2(&url, "DescribeVpcs").await;

    let expected = counts(&[("CreateVpc", 2), ("DescribeVpcs", 1), ("GET /bucket/key", 1), ("PutItem", 1)]);
    assert_eq!(proxy.calls(), expected);
    assert_eq!(proxy.total_calls(), 5);
    // Same figures over the admin API; admin requests are not counted.
    let r = send(&url, "GET", "/__faultproxy/calls", &[], "").await;
    assert_eq!(serde_json::from_str::<BTreeMap<String, u64>>(&r.body).unwrap(), expected);
    assert_eq!(proxy.total_calls(), 5);
    assert_eq!(up.seen.lock().unwrap().len(), 5);

    proxy.reset_calls();
    assert!(proxy.calls().is_empty());
}

#[tokio::test]
async fn error_faults_are_answered_by_the_proxy_in_ec2_format() {
    let up = upstream().await;
    let proxy = Proxy::start(&up.url);
    let url = proxy.url();
    proxy.set_rules(vec![
        Rule::new("CreateVpc", Fault::Throttle {}),
        Rule::new("CreateSubnet", Fault::ServerError { status: 500 }),
        Rule::new(
            "DeleteVpc",
            Fault::error(400, "DependencyViolation", "The vpc 'vpc-1' has dependencies & can't be deleted."),
        ),
    ]);

    let r = ec2(&url, "CreateVpc").await;
    assert_eq!(r.status, 503);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/xml"));
    assert!(r.headers.contains_key("x-amzn-requestid"));
    assert!(
        r.body.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>"
        ),
        "{}",
        r.body
    );
    assert!(r.body.ends_with("</RequestID></Response>"));

    let r = ec2(&url, "CreateSubnet").await;
    assert_eq!(r.status, 500);
    assert!(r.body.contains("<Code>InternalError</Code>"), "{}", r.body);

    let r = ec2(&url, "DeleteVpc").await;
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("<Code>DependencyViolation</Code><Message>The vpc &apos;vpc-1&apos; has dependencies &amp; can&apos;t be deleted.</Message>"),
        "{}",
        r.body
    );

    // None of them reached the upstream, but all were counted and logged.
    assert!(up.seen.lock().unwrap().is_empty());
    assert_eq!(proxy.calls(), counts(&[("CreateSubnet", 1), ("CreateVpc", 1), ("DeleteVpc", 1)]));
    let f = |a: &str, k: &str| InjectedFault { action: a.into(), kind: k.into() };
    assert_eq!(
        proxy.faults(),
        vec![f("CreateVpc", "throttle"), f("CreateSubnet", "server_error"), f("DeleteVpc", "error")]
    );
}

/// Requests to other services get the error in their own protocol: the credential scope of a signed
/// query request (IAM → `<ErrorResponse>`), `X-Amz-Target` for JSON (Logs → `__type`).
#[tokio::test]
async fn error_faults_use_the_protocol_of_the_service() {
    let up = upstream().await;
    let proxy = Proxy::start(&up.url);
    let url = proxy.url();
    proxy.set_rules(vec![
        Rule::new("PutRolePolicy", Fault::error(404, "NoSuchEntity", "The role with name r cannot be found.")),
        Rule::new("GetCallerIdentity", Fault::Throttle {}),
        Rule::new(
            "PutRetentionPolicy",
            Fault::error(400, "ResourceNotFoundException", "The specified log group does not exist."),
        ),
        Rule::new("CreateRepository", Fault::Throttle {}),
    ]);
    let signed = |service: &str| {
        format!("AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0")
    };
    let (iam, sts) = (signed("iam"), signed("sts"));
    let r = send(&url, "POST", "/", &[FORM, ("authorization", &iam)], "Action=PutRolePolicy&Version=2010-05-08").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.headers["content-type"], "text/xml");
    assert!(
        r.body.starts_with("<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The role with name r cannot be found.</Message></Error><RequestId>"),
        "{}",
        r.body
    );
    let r =
        send(&url, "POST", "/", &[FORM, ("authorization", &sts)], "Action=GetCallerIdentity&Version=2011-06-15").await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("<Code>Throttling</Code>"), "{}", r.body);

    let logs = signed("logs");
    let json = ("content-type", "application/x-amz-json-1.1");
    let r = send(
        &url,
        "POST",
        "/",
        &[json, ("x-amz-target", "Logs_20140328.PutRetentionPolicy"), ("authorization", &logs)],
        "{}",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.headers["content-type"], "application/x-amz-json-1.1");
    assert_eq!(r.headers["x-amzn-errortype"], "ResourceNotFoundException");
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"__type": "ResourceNotFoundException", "message": "The specified log group does not exist."})
    );
    let r = send(
        &url,
        "POST",
        "/",
        &[json, ("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.CreateRepository")],
        "{}",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.headers["x-amzn-errortype"], "ThrottlingException");
    assert!(up.seen.lock().unwrap().is_empty());
    assert_eq!(proxy.faults().len(), 4);
}

#[tokio::test]
async fn skip_and_times_window() {
    let up = upstream().await;
    let proxy = Proxy::start(&up.url);
    let url = proxy.url();
    // Calls 1 pass, 2-3 throttled, rest pass; other actions unaffected.
    proxy.set_rules(vec![Rule::new("CreateVpc", Fault::Throttle {}).skip(1).times(2)]);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(ec2(&url, "CreateVpc").await.status.as_u16());
    }
    assert_eq!(statuses, [200, 503, 503, 200, 200]);
    assert_eq!(ec2(&url, "DescribeVpcs").await.status, 200);

    // "*" matches any action; set_rules restarts the counters.
    proxy.set_rules(vec![Rule::new("*", Fault::error(400, "InvalidVpcID.NotFound", "gone")).times(1)]);
    assert_eq!(ec2(&url, "DescribeVpcs").await.status, 400);
    assert_eq!(ec2(&url, "DescribeVpcs").await.status, 200);
    assert_eq!(proxy.faults().len(), 3);
    assert_eq!(proxy.calls(), counts(&[("CreateVpc", 5), ("DescribeVpcs", 3)]));
}

#[tokio::test]
async fn delay_forwards_late() {
    let up = upstream().await;
    let proxy = Proxy::start(&up.url);
    proxy.set_rules(vec![Rule::new("DescribeVpcs", Fault::DelayMs(250)).times(1)]);
    let t = Instant::now();
    let r = ec2(&proxy.url(), "DescribeVpcs").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Action=DescribeVpcs"));
    assert!(t.elapsed() >= Duration::from_millis(250), "{:?}", t.elapsed());
    let t = Instant::now();
    ec2(&proxy.url(), "DescribeVpcs").await;
    assert!(t.elapsed() < Duration::from_millis(250));
}

#[tokio::test]
async fn rewrite_replaces_body_and_fixes_length() {
    let up = upstream().await;
    let proxy = Proxy::start(&up.url);
    let rw = Fault::Rewrite { from: "<state>available</state>".into(), to: "<state>pending</state>".into() };
    proxy.set_rules(vec![Rule::new("GET /nat", rw).times(2)]);
    for _ in 0..2 {
        let r = send(&proxy.url(), "GET", "/nat", &[], "").await;
        assert_eq!(r.body, "<r><state>pending</state><x/><state>pending</state></r>");
        assert_eq!(r.headers["content-length"], r.body.len().to_string().as_str());
        assert_eq!(r.headers["x-upstream"], "yes");
    }
    let r = send(&proxy.url(), "GET", "/nat", &[], "").await;
    assert_eq!(r.body, "<r><state>available</state><x/><state>available</state></r>");
    assert_eq!(up.seen.lock().unwrap().len(), 3);
}

#[test]
fn stall_holds_until_client_leaves() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let up = rt.block_on(upstream());
    let proxy = Proxy::start(&up.url);
    proxy.set_rules(vec![Rule::new("CreateVpc", Fault::Stall {}).skip(1).times(1)]);
    let addr = proxy.addr();
    let raw = |body: &str| {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        s
    };
    // First create passes.
    let mut s = raw("Action=CreateVpc");
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"HTTP/1.1 200");
    drop(s);

    // Second stalls: no answer, counted and logged at once.
    let mut s = raw("Action=CreateVpc");
    s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let err = s.read(&mut buf).unwrap_err();
    assert!(matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut), "{err:?}");
    assert_eq!(proxy.stalled(), 1);
    assert_eq!(proxy.calls()["CreateVpc"], 2);
    assert_eq!(proxy.faults().last().unwrap().kind, "stall");
    assert_eq!(up.seen.lock().unwrap().len(), 1, "stalled request must not reach the upstream");

    // Client goes away: the stalled request is released.
    drop(s);
    let deadline = Instant::now() + Duration::from_secs(5);
    while proxy.stalled() != 0 {
        assert!(Instant::now() < deadline, "stalled request not released after client disconnect");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Third passes again; dropping the proxy while a request is stalled doesn't hang.
    rt.block_on(async { assert_eq!(ec2(&proxy.url(), "CreateVpc").await.status, 200) });
    proxy.set_rules(vec![Rule::new("*", Fault::Stall {})]);
    let _s = raw("Action=X");
    while proxy.stalled() != 1 {
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(proxy);
}

#[tokio::test]
async fn admin_api() {
    let up = upstream().await;
    let proxy = Proxy::start(&up.url);
    let url = proxy.url();
    let rules = r#"[{"action": "CreateVpc", "fault": {"throttle": {}}, "skip": 0, "times": 1},
                    {"action": "DescribeNatGateways", "fault": {"rewrite": {"from": "a", "to": "b"}}}]"#;
    let r = send(&url, "POST", "/__faultproxy/rules", &[("content-type", "application/json")], rules).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ec2(&url, "CreateVpc").await.status, 503);
    assert_eq!(ec2(&url, "CreateVpc").await.status, 200);

    let r = send(&url, "GET", "/__faultproxy/faults", &[], "").await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v, serde_json::json!([{"action": "CreateVpc", "kind": "throttle"}]));
    let r = send(&url, "GET", "/__faultproxy/rules", &[], "").await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v[0]["seen"], 2);
    assert_eq!(v[1]["fault"]["rewrite"]["to"], "b");
    let r = send(&url, "GET", "/__faultproxy/calls", &[], "").await;
    assert_eq!(r.body, r#"{"CreateVpc":2}"#);

    let r = send(&url, "POST", "/__faultproxy/reset", &[], "").await;
    assert_eq!(r.status, 200);
    let r = send(&url, "GET", "/__faultproxy/calls", &[], "").await;
    assert_eq!(r.body, "{}");
    let r = send(&url, "GET", "/__faultproxy/faults", &[], "").await;
    assert_eq!(r.body, "[]");

    let r = send(&url, "POST", "/__faultproxy/rules", &[], r#"[{"action":"A","fault":{"explode":{}}}]"#).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("invalid rules"), "{}", r.body);
    let r = send(&url, "GET", "/__faultproxy/nope", &[], "").await;
    assert_eq!(r.status, 404);
    assert!(up.seen.lock().unwrap().len() == 1);
}

#[tokio::test]
async fn upstream_down_is_502_and_counted() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let proxy = Proxy::start(&format!("http://127.0.0.1:{port}"));
    let r = ec2(&proxy.url(), "CreateVpc").await;
    assert_eq!(r.status, 502);
    assert!(r.body.contains("faultproxy: upstream"), "{}", r.body);
    assert_eq!(proxy.calls()["CreateVpc"], 1);
    assert!(Proxy::try_start("127.0.0.1:5000", "127.0.0.1:0").is_err());
}

#[tokio::test]
async fn binary_prints_url_writes_port_file_and_serves() {
    let up = upstream().await;
    let dir = std::env::temp_dir().join(format!("faultproxy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port_file = dir.join("port");
    let rules_file = dir.join("rules.json");
    std::fs::write(&rules_file, r#"[{"action":"CreateVpc","fault":{"throttle":{}},"times":1}]"#).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_faultproxy"))
        .args(["--upstream", &up.url, "--listen", "127.0.0.1:0", "--port-file"])
        .arg(&port_file)
        .arg("--rules")
        .arg(&rules_file)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").expect(&line).to_string();
    let port = std::fs::read_to_string(&port_file).unwrap();
    assert_eq!(url, format!("http://127.0.0.1:{}", port.trim()));

    assert_eq!(ec2(&url, "CreateVpc").await.status, 503);
    assert_eq!(ec2(&url, "CreateVpc").await.status, 200);
    let r = send(&url, "GET", "/__faultproxy/calls", &[], "").await;
    assert_eq!(r.body, r#"{"CreateVpc":2}"#);
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_faultproxy")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--upstream is required"));
}
