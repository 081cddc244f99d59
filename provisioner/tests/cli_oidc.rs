//! Working as a role, through the real binary: GitHub Actions' OIDC token (a local token server plays
//! GitHub; moto's STS plays AWS's AssumeRoleWithWebIdentity) and, outside Actions, AssumeRole from the
//! ambient credentials. A fault proxy in front of moto records which access key signed each call, so the
//! tests see the credentials the calls really used: the AWS calls and the S3 state backend alike.
//!
//! moto does not verify the JWT or a trust policy's conditions: the trust policies of plans/shared are
//! checked as rendered documents (tests/repo_stacks.rs), not here.

mod common;
mod common_cli;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Output;
use std::sync::{Arc, Mutex};

use common_cli::*;
use faultproxy::{Fault, Rule};

const ROLE: &str = "arn:aws:iam::123456789012:role/hello-deploy";
const BEARER: &str = "request-token-of-the-job";

/// One request the token server answered: its path and query, and its Authorization header.
#[derive(Debug, Clone)]
struct TokenRequest {
    target: String,
    authorization: String,
}

/// Plays GitHub's token endpoint: answers `GET …` with `{"value": "<JWT n>"}`, a new token each time, after
/// failing the first `fail_first` requests with a 503.
struct TokenServer {
    url: String,
    requests: Arc<Mutex<Vec<TokenRequest>>>,
}

impl TokenServer {
    fn start(fail_first: usize) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/_apis/token?api-version=2.0", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<TokenRequest>>> = Arc::default();
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let target = line.split_whitespace().nth(1).unwrap_or_default().to_owned();
                let mut authorization = String::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        if k.eq_ignore_ascii_case("authorization") {
                            authorization = v.trim().to_owned();
                        }
                    }
                }
                let n = {
                    let mut r = seen.lock().unwrap();
                    r.push(TokenRequest { target, authorization });
                    r.len()
                };
                let (status, body) = if n <= fail_first {
                    ("503 Service Unavailable", "{\"message\":\"try again\"}".to_owned())
                } else {
                    ("200 OK", format!("{{\"count\":1,\"value\":\"{}\"}}", jwt(n)))
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        TokenServer { url, requests }
    }

    fn requests(&self) -> Vec<TokenRequest> {
        self.requests.lock().unwrap().clone()
    }
}

/// A JWT-shaped token, different for each request (moto does not check it).
fn jwt(n: usize) -> String {
    format!("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmFjbWUvaGVsbG86cmVmOnJlZnMvaGVhZHMvbWFpbiIsIm4iOi{n}.c2lnbmF0dXJl")
}

const STACK: &str = r#"[stack]
name = "__STACK__"

[backend]
type = "s3"
bucket = "__BUCKET__"
key = "state.json"

[resource.vpc.main]
cidr_block = "10.41.0.0/16"

[resource.cloudwatch_log_group.app]
name = "/oidc/__STACK__"
"#;

/// A stack whose state lives in a new bucket (made with the ambient test credentials, from outside).
fn stack(prefix: &str) -> (Cli, faultproxy::Proxy) {
    let cli = Cli::new(prefix);
    let bucket: String = format!("oidc-{}", cli.stack.to_lowercase())
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(60)
        .collect();
    let sdk = common::sdk_config(cli.moto);
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    block_on(s3.create_bucket().bucket(&bucket).send()).expect("create the state bucket");
    cli.write("main.toml", &STACK.replace("__BUCKET__", &bucket));
    behind_proxy(cli)
}

/// Runs the CLI with the GitHub Actions environment and no ambient credentials at all.
fn run_in_actions(cli: &Cli, server: &TokenServer, extra: &[(&str, &str)], args: &[&str]) -> Output {
    let runner_temp = cli.path().join("runner-temp");
    std::fs::create_dir_all(&runner_temp).unwrap();
    let mut cmd = cli.command(args);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("RUNNER_TEMP", &runner_temp)
        .env("GITHUB_ACTIONS", "true")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", &server.url)
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
        .env("GITHUB_REPOSITORY", "acme/hello")
        .env("GITHUB_RUN_ID", "4242");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().expect("run provisioner")
}

fn text(o: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The access keys that signed anything but the role exchange itself.
fn keys_used(proxy: &faultproxy::Proxy, exchange: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (action, keys) in proxy.signed_by() {
        if action != exchange {
            for k in keys.keys() {
                out.entry(k.clone()).or_default().insert(action.clone());
            }
        }
    }
    out
}

#[test]
fn in_github_actions_the_cli_exchanges_the_oidc_token_for_the_role_and_uses_it_for_every_call() {
    let (cli, proxy) = stack("oidc-gha");
    let server = TokenServer::start(1);
    let out = run_in_actions(&cli, &server, &[], &["--role-arn", ROLE, "apply", "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out));

    // The token was asked for with the audience AWS expects and the job's bearer token; the 503 was retried.
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    for r in &reqs {
        assert_eq!(r.target, "/_apis/token?api-version=2.0&audience=sts.amazonaws.com", "{r:?}");
        assert_eq!(r.authorization, format!("Bearer {BEARER}"), "{r:?}");
    }
    // One exchange (shared by the AWS calls and the state backend), unsigned as AWS's is; everything else
    // signed with the session's key: no ambient credentials exist in this process.
    let signed = proxy.signed_by();
    assert_eq!(signed.get("AssumeRoleWithWebIdentity").map(|k| k.values().sum::<u64>()), Some(1), "{signed:?}");
    assert_eq!(signed["AssumeRoleWithWebIdentity"].keys().collect::<Vec<_>>(), vec![""], "{signed:?}");
    let keys = keys_used(&proxy, "AssumeRoleWithWebIdentity");
    assert_eq!(keys.len(), 1, "one session key signs every call: {keys:?}");
    let (key, actions) = keys.iter().next().unwrap();
    assert!(key.starts_with("ASIA") && key != common::ACCESS_KEY, "{key}");
    for a in ["CreateVpc", "CreateLogGroup"] {
        assert!(actions.contains(a), "{a} not signed by the session: {actions:?}");
    }
    // The state backend's writes (the proxy names S3 requests by method and path).
    assert!(
        actions.iter().any(|a| a.starts_with("PUT /") && a.ends_with("/state.json")),
        "state writes not signed by the session: {actions:?}"
    );
    // The token file (under RUNNER_TEMP) is gone with the run.
    let leftovers: Vec<_> =
        std::fs::read_dir(cli.path().join("runner-temp")).unwrap().filter_map(Result::ok).map(|e| e.path()).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let out = run_in_actions(&cli, &server, &[], &["--role-arn", ROLE, "destroy", "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn expired_credentials_are_renewed_with_a_new_token() {
    let (cli, proxy) = stack("oidc-refresh");
    let server = TokenServer::start(0);
    // Credentials live 1 s here; one call takes 1.5 s, so the calls after it need new ones.
    proxy.set_rules(vec![Rule::new("CreateVpc", Fault::DelayMs(1500)).times(1)]);
    let out = run_in_actions(
        &cli,
        &server,
        &[("PROVISIONER_CREDENTIALS_MAX_AGE_SECS", "1")],
        &["apply", "--auto-approve", "--role-arn", ROLE],
    );
    assert!(out.status.success(), "{}", text(&out));
    let reqs = server.requests();
    assert!(reqs.len() >= 2, "a refresh fetches a new token: {reqs:?}");
    let exchanges: u64 = proxy.signed_by().get("AssumeRoleWithWebIdentity").map(|k| k.values().sum()).unwrap_or(0);
    assert_eq!(exchanges as usize, reqs.len(), "each token is exchanged once, never re-read from the file");
    let keys = keys_used(&proxy, "AssumeRoleWithWebIdentity");
    assert!(keys.len() >= 2 && keys.keys().all(|k| k.starts_with("ASIA")), "{keys:?}");
    let out = run_in_actions(&cli, &server, &[], &["destroy", "--auto-approve", "--role-arn", ROLE]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn aws_role_arn_works_as_the_flag_does() {
    let (cli, proxy) = stack("oidc-env");
    let server = TokenServer::start(0);
    let out = run_in_actions(&cli, &server, &[("AWS_ROLE_ARN", ROLE)], &["plan"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(server.requests().len(), 1);
    assert!(keys_used(&proxy, "AssumeRoleWithWebIdentity").keys().all(|k| k.starts_with("ASIA")));
}

#[test]
fn outside_github_actions_the_role_is_assumed_from_the_ambient_credentials() {
    let (cli, proxy) = stack("oidc-assume");
    let out = cli.run(&["--role-arn", ROLE, "apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{out}");
    let signed = proxy.signed_by();
    assert_eq!(signed["AssumeRole"].keys().collect::<Vec<_>>(), vec![common::ACCESS_KEY], "{signed:?}");
    let keys = keys_used(&proxy, "AssumeRole");
    assert_eq!(keys.len(), 1, "{keys:?}");
    let key = keys.keys().next().unwrap();
    assert!(key.starts_with("ASIA") && key != common::ACCESS_KEY, "{key}");
    cli.ok(&["--role-arn", ROLE, "destroy", "--auto-approve"]);
}

#[test]
fn role_mistakes_are_explained() {
    // Not a role ARN: before any call, with a hint.
    let cli = Cli::offline("oidc-bad");
    cli.write("main.toml", "[stack]\nname = \"__STACK__\"\n");
    let out = cli.expect(1, &["--role-arn", "arn:aws:iam::123456789012:user/ana", "plan"]);
    assert!(
        out.stderr.contains("is not an IAM role ARN") && out.stderr.contains("arn:aws:iam::123456789012:role/NAME"),
        "{out}"
    );
    // The same in the configuration: located.
    cli.write("main.toml", "[stack]\nname = \"__STACK__\"\n\n[aws]\nrole_arn = \"deploy\"\n");
    let out = cli.expect(1, &["validate"]);
    assert!(out.stderr.contains("main.toml:5:12") && out.stderr.contains("is not an IAM role ARN"), "{out}");

    // The token endpoint refuses: the error says so, and the bearer token is never printed.
    let (cli, _proxy) = stack("oidc-refused");
    let server = TokenServer::start(usize::MAX);
    let mut cmd = cli.command(&["--role-arn", ROLE, "plan"]);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", &server.url)
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
        .env("PROVISIONER_MAX_ATTEMPTS", "1");
    let out = cmd.output().unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("requesting a GitHub OIDC token failed after 5 attempt(s)") && all.contains("503"), "{all}");
    assert!(!all.contains(BEARER), "{all}");
}

#[test]
fn the_role_exchange_honours_aws_endpoint_url_sts() {
    // Everything goes to moto directly, but STS through a proxy of its own: the exchange, and only it, is
    // seen there (awslabs/aws-sdk-rust#1193: the AssumeRole provider once ignored the endpoint variables).
    let (mut cli, sts_proxy) = stack("oidc-sts-endpoint");
    cli.endpoint = cli.moto.endpoint.clone();
    let cli = cli.env("AWS_ENDPOINT_URL_STS", &sts_proxy.url());
    let server = TokenServer::start(0);
    let out = run_in_actions(&cli, &server, &[], &["--role-arn", ROLE, "plan"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(sts_proxy.calls().keys().collect::<Vec<_>>(), vec!["AssumeRoleWithWebIdentity"]);
    let out = cli.run(&["--role-arn", ROLE, "plan"]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(sts_proxy.calls().keys().collect::<Vec<_>>(), vec!["AssumeRole", "AssumeRoleWithWebIdentity"]);
}
