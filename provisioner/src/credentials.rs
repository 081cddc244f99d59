//! Working as an IAM role. When a role is given (`--role-arn`, `[aws] role_arn` or `AWS_ROLE_ARN`), the
//! AWS calls and the S3 state backend use that role's credentials, got in one of two ways:
//!
//! - **Inside GitHub Actions** (the job has `permissions: id-token: write`, so
//!   `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN` are set): a GitHub OIDC token for
//!   the audience `sts.amazonaws.com` is fetched (retried), written to a file only the user can read, and
//!   handed to aws-config's web-identity provider (AssumeRoleWithWebIdentity). Every refresh fetches a
//!   **new** token: GitHub's tokens are short-lived and a file is never read twice.
//! - **Elsewhere**: AssumeRole from the ambient credentials (the default chain), as the Terraform
//!   provider's `assume_role` block does.
//!
//! `AWS_ROLE_ARN` alone, next to `AWS_WEB_IDENTITY_TOKEN_FILE` (EKS and similar), belongs to the SDK's own
//! web-identity chain and is left to it. Endpoints: the STS clients are built from the SDK configuration,
//! so `AWS_ENDPOINT_URL_STS` and `AWS_ENDPOINT_URL` apply to them as to every other client.
//!
//! One [`RoleCredentials`] is shared by the AWS context and the state backend of a run, and caches the
//! role's credentials until shortly before they expire, so one run assumes the role once.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::provider_config::ProviderConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::web_identity_token::{StaticConfiguration, WebIdentityTokenCredentialsProvider};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;

/// The audience AWS expects in a GitHub OIDC token (what aws-actions/configure-aws-credentials requests).
pub const AUDIENCE: &str = "sts.amazonaws.com";
/// How many times the token request is tried before the run fails.
const TOKEN_ATTEMPTS: u32 = 5;
/// Credentials are renewed this long before AWS says they expire.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// Role session names are at most this long (IAM).
const SESSION_NAME_MAX: usize = 64;

/// A mistake in the role settings, with a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleError {
    pub message: String,
    pub hint: String,
}

/// Checks that `arn` names an IAM role: `arn:PARTITION:iam::ACCOUNT:role/NAME`.
pub fn check_role_arn(arn: &str) -> Result<(), RoleError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].strip_prefix("role/").is_some_and(|n| !n.is_empty() && !n.ends_with('/'));
    if ok {
        Ok(())
    } else {
        Err(RoleError {
            message: format!("`{arn}` is not an IAM role ARN"),
            hint: "a role ARN looks like arn:aws:iam::123456789012:role/NAME (a path may come before NAME)".into(),
        })
    }
}

/// How the role's credentials are got.
#[derive(Clone, PartialEq, Eq)]
pub enum Method {
    /// GitHub Actions' OIDC token, exchanged with AssumeRoleWithWebIdentity.
    GithubOidc { request_url: String, request_token: String },
    /// AssumeRole from the ambient credentials.
    AssumeRole,
}

impl std::fmt::Debug for Method {
    // The request token is a secret of the job: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Method::GithubOidc { request_url, .. } => {
                f.debug_struct("GithubOidc").field("request_url", request_url).finish_non_exhaustive()
            }
            Method::AssumeRole => f.write_str("AssumeRole"),
        }
    }
}

/// Which role, as which session, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSettings {
    pub role_arn: String,
    pub session_name: String,
    pub method: Method,
    /// Renew the credentials at least this often (`PROVISIONER_CREDENTIALS_MAX_AGE_SECS`: a test knob that
    /// makes a refresh happen within a test's time; AWS's expiry applies anyway).
    pub max_age: Option<Duration>,
}

impl RoleSettings {
    /// The settings for `explicit` (`--role-arn`, else `[aws] role_arn`) or `AWS_ROLE_ARN`, read from the
    /// environment `env`; `None` when no role is to be assumed by the provisioner itself.
    pub fn resolve(
        explicit: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<RoleSettings>, RoleError> {
        let var = |k: &str| env(k).filter(|v| !v.is_empty());
        let role_arn = match explicit {
            Some(arn) => arn.to_owned(),
            // The SDK's own web-identity chain (EKS, …) owns AWS_ROLE_ARN when a token file is set.
            None if var("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() => return Ok(None),
            None => match var("AWS_ROLE_ARN") {
                Some(arn) => arn,
                None => return Ok(None),
            },
        };
        check_role_arn(&role_arn)?;
        let method = match (var("ACTIONS_ID_TOKEN_REQUEST_URL"), var("ACTIONS_ID_TOKEN_REQUEST_TOKEN")) {
            (Some(request_url), Some(request_token)) => Method::GithubOidc { request_url, request_token },
            _ => Method::AssumeRole,
        };
        let session_name = match var("AWS_ROLE_SESSION_NAME") {
            Some(name) => name,
            None => match &method {
                Method::GithubOidc { .. } => {
                    github_session_name(var("GITHUB_REPOSITORY").as_deref(), var("GITHUB_RUN_ID").as_deref())
                }
                Method::AssumeRole => user_session_name(
                    var("USER").or_else(|| var("USERNAME")).as_deref(),
                    var("HOSTNAME").or_else(hostname).as_deref(),
                ),
            },
        };
        let max_age = var("PROVISIONER_CREDENTIALS_MAX_AGE_SECS").and_then(|v| v.parse().ok()).map(Duration::from_secs);
        Ok(Some(RoleSettings { role_arn, session_name, method, max_age }))
    }

    /// [`RoleSettings::resolve`] from the process environment.
    pub fn from_env(explicit: Option<&str>) -> Result<Option<RoleSettings>, RoleError> {
        Self::resolve(explicit, &|k| std::env::var(k).ok())
    }
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|h| h.trim().to_owned()).filter(|h| !h.is_empty())
}

/// Keeps the characters IAM allows in a session name (`[\w+=,.@-]`), replacing the others with `-`.
fn session_chars(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) { c } else { '-' }).collect()
}

/// `GitHubActions-OWNER.REPO-RUNID` (the repository cut to fit 64 characters, the run id kept whole), or
/// `GitHubActions` when the variables are unset. CloudTrail then tells which run made each call.
pub fn github_session_name(repository: Option<&str>, run_id: Option<&str>) -> String {
    let Some(repo) = repository else { return "GitHubActions".into() };
    let suffix = run_id.map(|r| format!("-{}", session_chars(r))).unwrap_or_default();
    let prefix = format!("GitHubActions-{}", session_chars(&repo.replace('/', ".")));
    let room = SESSION_NAME_MAX.saturating_sub(suffix.len());
    format!("{}{suffix}", &prefix[..prefix.len().min(room)])
}

/// `provisioner-USER@HOST`, cut to 64 characters.
pub fn user_session_name(user: Option<&str>, host: Option<&str>) -> String {
    let name = session_chars(&format!("provisioner-{}@{}", user.unwrap_or("user"), host.unwrap_or("host")));
    name[..name.len().min(SESSION_NAME_MAX)].to_owned()
}

/// The role's credentials for one run, shared by every client that needs them.
#[derive(Debug)]
pub struct RoleCredentials {
    settings: RoleSettings,
    provider: tokio::sync::OnceCell<SharedCredentialsProvider>,
}

impl RoleCredentials {
    pub fn new(settings: RoleSettings) -> Arc<RoleCredentials> {
        Arc::new(RoleCredentials { settings, provider: tokio::sync::OnceCell::new() })
    }

    pub fn settings(&self) -> &RoleSettings {
        &self.settings
    }

    /// The provider of the role's credentials; `base` (the default chain's configuration) gives the region,
    /// the endpoints and, for AssumeRole, the credentials the role is assumed with. Built once.
    pub async fn provider(&self, base: &aws_types::SdkConfig) -> Result<SharedCredentialsProvider, RoleError> {
        self.provider
            .get_or_try_init(|| async {
                Ok(SharedCredentialsProvider::new(RoleProvider::new(self.settings.clone(), base).await?))
            })
            .await
            .cloned()
    }

    /// `base` with the role's credentials in place of the default chain's.
    pub async fn apply(&self, base: aws_types::SdkConfig) -> Result<aws_types::SdkConfig, RoleError> {
        let provider = self.provider(&base).await?;
        Ok(base.into_builder().credentials_provider(provider).build())
    }
}

/// Fetches a GitHub OIDC token: `GET URL&audience=…` with the job's bearer token, `{"value": JWT}` back.
/// Retried on transport errors, 429 and 5xx, with a doubling pause.
pub async fn fetch_github_token(request_url: &str, request_token: &str, audience: &str) -> Result<String, String> {
    let sep = if request_url.contains('?') { '&' } else { '?' };
    let url = format!("{request_url}{sep}audience={}", url_encode(audience));
    let client = http_client()?;
    let mut pause = Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        match fetch_token_once(&client, &url, request_token).await {
            Ok(token) => return Ok(token),
            Err((retryable, e)) if retryable && attempt < TOKEN_ATTEMPTS => {
                tracing::warn!(
                    "GitHub OIDC token request failed (attempt {attempt} of {TOKEN_ATTEMPTS}), retrying: {e}"
                );
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
            }
            Err((_, e)) => {
                return Err(format!("requesting a GitHub OIDC token failed after {attempt} attempt(s): {e}"))
            }
        }
    }
}

type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Empty<Bytes>,
>;

fn http_client() -> Result<HttpClient, String> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| format!("loading the system's root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https))
}

/// One token request; the error says whether another try may succeed.
async fn fetch_token_once(client: &HttpClient, url: &str, bearer: &str) -> Result<String, (bool, String)> {
    let req = hyper::Request::get(url)
        .header(hyper::header::AUTHORIZATION, format!("Bearer {bearer}"))
        .header(hyper::header::ACCEPT, "application/json")
        .header(hyper::header::USER_AGENT, concat!("provisioner/", env!("CARGO_PKG_VERSION")))
        .body(Empty::new())
        .map_err(|e| (false, format!("invalid token request URL: {e}")))?;
    let resp = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .map_err(|_| (true, "no answer within 10 s".to_owned()))?
        .map_err(|e| (true, format!("{e}")))?;
    let status = resp.status();
    let body = resp.into_body().collect().await.map_err(|e| (true, format!("reading the answer: {e}")))?.to_bytes();
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        return Err((
            status.is_server_error() || status.as_u16() == 429,
            format!("HTTP {status}: {}", text.chars().take(200).collect::<String>()),
        ));
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        value: String,
    }
    match serde_json::from_slice::<Answer>(&body) {
        Ok(a) if !a.value.is_empty() => Ok(a.value),
        _ => Err((false, "the answer has no `value` (expected {\"value\": \"<JWT>\"})".into())),
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Where the current token is handed to the web-identity provider: a fresh directory only the user can
/// enter (under `RUNNER_TEMP` on a runner), removed when the run ends.
#[derive(Debug)]
struct TokenFile {
    dir: PathBuf,
}

impl TokenFile {
    fn create() -> std::io::Result<TokenFile> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::var_os("RUNNER_TEMP").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("provisioner-oidc-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(TokenFile { dir })
    }

    fn path(&self) -> PathBuf {
        self.dir.join("token")
    }

    fn write(&self, token: &str) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = self.dir.join("token.new");
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(token.as_bytes())?;
        std::fs::rename(&tmp, self.path())
    }
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(Debug)]
enum Source {
    Github {
        request_url: String,
        request_token: String,
        file: TokenFile,
        web: Box<WebIdentityTokenCredentialsProvider>,
    },
    Assume(Box<AssumeRoleProvider>),
}

/// The credentials provider of a role: gets them (see the module doc) and keeps them until
/// [`REFRESH_MARGIN`] before they expire (or `max_age`).
#[derive(Debug)]
struct RoleProvider {
    settings: RoleSettings,
    source: Source,
    cached: tokio::sync::Mutex<Option<Credentials>>,
}

impl RoleProvider {
    async fn new(settings: RoleSettings, base: &aws_types::SdkConfig) -> Result<RoleProvider, RoleError> {
        let source = match &settings.method {
            Method::GithubOidc { request_url, request_token } => {
                let file = TokenFile::create().map_err(|e| RoleError {
                    message: format!("cannot create a private directory for the GitHub OIDC token: {e}"),
                    hint: "check that RUNNER_TEMP (or TMPDIR) is writable".into(),
                })?;
                let conf = ProviderConfig::without_region().with_region(base.region().cloned());
                let web = Box::new(
                    WebIdentityTokenCredentialsProvider::builder()
                        .configure(&conf)
                        .static_configuration(StaticConfiguration {
                            web_identity_token_file: file.path(),
                            role_arn: settings.role_arn.clone(),
                            session_name: settings.session_name.clone(),
                        })
                        .build(),
                );
                Source::Github { request_url: request_url.clone(), request_token: request_token.clone(), file, web }
            }
            Method::AssumeRole => Source::Assume(Box::new(
                AssumeRoleProvider::builder(settings.role_arn.clone())
                    .session_name(settings.session_name.clone())
                    .configure(base)
                    .build()
                    .await,
            )),
        };
        Ok(RoleProvider { settings, source, cached: tokio::sync::Mutex::new(None) })
    }

    async fn credentials(&self) -> provider::Result {
        let mut cached = self.cached.lock().await;
        let now = SystemTime::now();
        if let Some(c) = cached.as_ref().filter(|c| c.expiry().is_some_and(|e| now < e)) {
            return Ok(c.clone());
        }
        let fresh = match &self.source {
            Source::Github { request_url, request_token, file, web } => {
                let token = fetch_github_token(request_url, request_token, AUDIENCE)
                    .await
                    .map_err(CredentialsError::provider_error)?;
                file.write(&token)
                    .map_err(|e| CredentialsError::provider_error(format!("writing the OIDC token file: {e}")))?;
                web.provide_credentials().await.map_err(|e| self.explain(e))?
            }
            Source::Assume(p) => p.provide_credentials().await.map_err(|e| self.explain(e))?,
        };
        let mut until = fresh
            .expiry()
            .and_then(|e| e.checked_sub(REFRESH_MARGIN))
            .filter(|u| *u > now)
            .unwrap_or(now + Duration::from_secs(60));
        if let Some(max) = self.settings.max_age {
            until = until.min(now + max);
        }
        let creds = Credentials::new(
            fresh.access_key_id(),
            fresh.secret_access_key(),
            fresh.session_token().map(str::to_owned),
            Some(until),
            "provisioner-role",
        );
        tracing::debug!(role = %self.settings.role_arn, session = %self.settings.session_name, "assumed the role");
        *cached = Some(creds.clone());
        Ok(creds)
    }

    /// The provider's error, with what to check.
    fn explain(&self, e: CredentialsError) -> CredentialsError {
        let s = &self.settings;
        let how = match &s.method {
            Method::GithubOidc { .. } => "AssumeRoleWithWebIdentity with GitHub's OIDC token",
            Method::AssumeRole => "AssumeRole from the ambient credentials",
        };
        let mut hint = format!(
            "check that the role exists and that its trust policy lets this caller assume it (session {})",
            s.session_name
        );
        if s.method == Method::AssumeRole && std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
            hint.push_str(
                "; this is GitHub Actions without an OIDC token: give the job `permissions: id-token: write` so the \
                 provisioner can use it",
            );
        }
        CredentialsError::provider_error(format!(
            "assuming {} ({how}) failed: {}; {hint}",
            s.role_arn,
            aws_smithy_types::error::display::DisplayErrorContext(&e)
        ))
    }
}

impl ProvideCredentials for RoleProvider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.credentials())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(explicit: Option<&str>, env: &[(&str, &str)]) -> Result<Option<RoleSettings>, RoleError> {
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        RoleSettings::resolve(explicit, &|k| env.get(k).cloned())
    }

    const ARN: &str = "arn:aws:iam::123456789012:role/deploy";

    #[test]
    fn no_role_means_the_default_chain() {
        assert_eq!(resolve(None, &[]), Ok(None));
        assert_eq!(resolve(None, &[("AWS_ROLE_ARN", "")]), Ok(None));
    }

    #[test]
    fn inside_github_actions_the_token_is_used() {
        let env = [
            ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://t.example/x?a=1"),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "secret"),
            ("GITHUB_REPOSITORY", "acme/hello"),
            ("GITHUB_RUN_ID", "4242"),
        ];
        let s = resolve(Some(ARN), &env).unwrap().unwrap();
        assert_eq!(
            s.method,
            Method::GithubOidc { request_url: "https://t.example/x?a=1".into(), request_token: "secret".into() }
        );
        assert_eq!(s.session_name, "GitHubActions-acme.hello-4242");
        assert!(!format!("{s:?}").contains("secret"), "{s:?}");
        // AWS_ROLE_ARN works the same way.
        let mut with_env = env.to_vec();
        with_env.push(("AWS_ROLE_ARN", ARN));
        assert_eq!(resolve(None, &with_env).unwrap().unwrap().role_arn, ARN);
    }

    #[test]
    fn outside_github_actions_the_role_is_assumed_as_the_user() {
        let s = resolve(Some(ARN), &[("USER", "ana"), ("HOSTNAME", "build-1")]).unwrap().unwrap();
        assert_eq!(s.method, Method::AssumeRole);
        assert_eq!(s.session_name, "provisioner-ana@build-1");
        let named = resolve(Some(ARN), &[("AWS_ROLE_SESSION_NAME", "mine")]).unwrap().unwrap();
        assert_eq!(named.session_name, "mine");
    }

    #[test]
    fn aws_role_arn_with_a_token_file_is_left_to_the_sdk_chain() {
        let env = [("AWS_ROLE_ARN", ARN), ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token")];
        assert_eq!(resolve(None, &env), Ok(None));
        // An explicit role is still assumed (from the chain's web-identity credentials).
        assert_eq!(resolve(Some(ARN), &env).unwrap().unwrap().method, Method::AssumeRole);
    }

    #[test]
    fn role_arns_are_checked() {
        for ok in [ARN, "arn:aws-us-gov:iam::123456789012:role/path/x", "arn:aws:iam::000000000000:role/a"] {
            assert_eq!(check_role_arn(ok), Ok(()), "{ok}");
        }
        for bad in [
            "deploy",
            "arn:aws:iam::12345:role/x",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:s3:::b",
            "arn:aws:iam::123456789012:role/",
        ] {
            let e = check_role_arn(bad).unwrap_err();
            assert!(e.message.contains(bad) && e.hint.contains("arn:aws:iam::"), "{e:?}");
        }
    }

    #[test]
    fn session_names_are_valid_and_bounded() {
        assert_eq!(github_session_name(None, None), "GitHubActions");
        let long = format!("acme/{}", "r".repeat(100));
        let n = github_session_name(Some(&long), Some("99887766"));
        assert_eq!(n.len(), 64);
        assert!(n.starts_with("GitHubActions-acme.rrr") && n.ends_with("-99887766"), "{n}");
        let u = user_session_name(Some("ana maria"), Some("host/x"));
        assert_eq!(u, "provisioner-ana-maria@host-x");
        assert!(u.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)));
        assert_eq!(user_session_name(Some(&"u".repeat(80)), None).len(), 64);
    }

    #[test]
    fn the_audience_is_url_encoded() {
        assert_eq!(url_encode(AUDIENCE), "sts.amazonaws.com");
        assert_eq!(url_encode("a b/c"), "a%20b%2Fc");
    }
}
