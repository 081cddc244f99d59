//! Identifying a request: its AWS API action ([`identify`]) and the wire protocol of
//! the service it went to ([`protocol`]), which decides how an injected error is written.
//!
//! * Query-protocol services (EC2, IAM, STS, ELBv2, RDS, ...) send `Action=CreateVpc&...`
//!   in a form-encoded body (or, rarely, in the query string).
//! * JSON-protocol services (CloudWatch Logs, ECR, ECS, DynamoDB, ...) send
//!   `X-Amz-Target: Service.Operation`; the action is the part after the last `.`
//!   (`DynamoDB_20120810.PutItem` → `PutItem`).
//! * Anything else (REST services such as S3) is identified as `METHOD path`,
//!   without the query string (`GET /bucket/key`).
//!
//! The protocol: `X-Amz-Target` (or an `application/x-amz-json-*` body) → [`Protocol::Json`];
//! otherwise the service of the SigV4 credential scope in `Authorization`
//! (`Credential=AKID/20240101/us-east-1/<service>/aws4_request`): `ec2` → [`Protocol::Ec2`],
//! `s3` → [`Protocol::RestXml`], any other → [`Protocol::Query`]. An unsigned request (no scope)
//! is taken for EC2.

use hyper::{HeaderMap, Method};

/// The error format of the service a request went to (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// EC2's query protocol: `<Response><Errors><Error>…`.
    Ec2,
    /// The query protocol of every other query service (IAM, STS, ELBv2, RDS…):
    /// `<ErrorResponse><Error><Type>…`.
    Query,
    /// The JSON protocols (`awsJson1_0`/`awsJson1_1`): `{"__type": …, "message": …}`.
    Json,
    /// S3's REST-XML errors: `<Error><Code>…</Code><Message>…</Message>…</Error>`.
    RestXml,
}

/// The protocol of a request, from its headers (see the module docs).
pub fn protocol(headers: &HeaderMap) -> Protocol {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let json_body =
        header("content-type").is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/x-amz-json"));
    if header("x-amz-target").is_some() || json_body {
        return Protocol::Json;
    }
    match header("authorization").and_then(scope_service) {
        Some(s) if s.eq_ignore_ascii_case("s3") => Protocol::RestXml,
        Some(s) if !s.eq_ignore_ascii_case("ec2") => Protocol::Query,
        _ => Protocol::Ec2,
    }
}

/// The service of a SigV4 `Authorization` header's credential scope
/// (`AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/iam/aws4_request, …` → `iam`).
pub fn scope_service(authorization: &str) -> Option<&str> {
    let cred = authorization.split("Credential=").nth(1)?;
    let scope = cred.split([',', ' ']).next()?;
    // AKID / date / region / service / aws4_request
    let mut parts = scope.rsplit('/');
    (parts.next()? == "aws4_request").then_some(())?;
    parts.next().filter(|s| !s.is_empty())
}

/// Returns the action name used for counting and rule matching.
pub fn identify(method: &Method, path: &str, query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> String {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let op = target.rsplit('.').next().unwrap_or(target).trim();
        if !op.is_empty() {
            return op.to_string();
        }
    }
    if let Some(a) = query.and_then(form_action) {
        return a;
    }
    if *method == Method::POST && is_form(headers, body) {
        if let Some(a) = std::str::from_utf8(body).ok().and_then(form_action) {
            return a;
        }
    }
    format!("{method} {path}")
}

fn is_form(headers: &HeaderMap, body: &[u8]) -> bool {
    match headers.get(hyper::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        Some(ct) => ct.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"),
        // No content type: accept a body that looks like a form.
        None => body.starts_with(b"Action=") || body.windows(8).any(|w| w == b"&Action="),
    }
}

/// Finds `Action=...` in a form/query string and percent-decodes it.
fn form_action(form: &str) -> Option<String> {
    form.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "Action" && !v.is_empty()).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(method: Method, path: &str, query: Option<&str>, hdrs: &[(&'static str, &str)], body: &str) -> String {
        let mut h = HeaderMap::new();
        for (k, v) in hdrs {
            h.insert(*k, v.parse().unwrap());
        }
        identify(&method, path, query, &h, body.as_bytes())
    }

    #[test]
    fn identifies_query_json_and_rest() {
        let form = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
        assert_eq!(id(Method::POST, "/", None, &form, "Action=CreateVpc&Version=2016-11-15"), "CreateVpc");
        assert_eq!(id(Method::POST, "/", None, &form, "Version=1&Action=Describe%56pcs"), "DescribeVpcs");
        assert_eq!(id(Method::POST, "/", None, &[], "Version=1&Action=DescribeVpcs"), "DescribeVpcs");
        assert_eq!(id(Method::GET, "/", Some("Action=DescribeRegions&x=1"), &[], ""), "DescribeRegions");
        assert_eq!(id(Method::POST, "/", None, &[("x-amz-target", "DynamoDB_20120810.PutItem")], "{}"), "PutItem");
        assert_eq!(id(Method::GET, "/bucket/key", Some("list-type=2"), &[], ""), "GET /bucket/key");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("a%41"), "aA");
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn auth(service: &str) -> String {
        format!("AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
    }

    #[test]
    fn scope_service_of_sigv4_authorization() {
        assert_eq!(scope_service(&auth("ec2")), Some("ec2"));
        assert_eq!(scope_service(&auth("elasticloadbalancing")), Some("elasticloadbalancing"));
        assert_eq!(scope_service("AWS4-HMAC-SHA256 Credential=A/d/r/sts/aws4_request,SignedHeaders=host"), Some("sts"));
        assert_eq!(scope_service("AWS4-HMAC-SHA256 Credential=A/d/r/iam/aws4_request"), Some("iam"));
        assert_eq!(scope_service("Bearer x"), None);
        assert_eq!(scope_service("AWS4-HMAC-SHA256 Credential=A/d/r/iam/other"), None);
    }

    #[test]
    fn protocol_from_target_or_credential_scope() {
        let form = ("content-type", "application/x-www-form-urlencoded; charset=utf-8");
        for (service, want) in [
            ("ec2", Protocol::Ec2),
            ("iam", Protocol::Query),
            ("sts", Protocol::Query),
            ("elasticloadbalancing", Protocol::Query),
            ("rds", Protocol::Query),
            ("s3", Protocol::RestXml),
        ] {
            let a = auth(service);
            assert_eq!(protocol(&headers(&[form, ("authorization", &a)])), want, "{service}");
        }
        let logs = auth("logs");
        assert_eq!(
            protocol(&headers(&[
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", "Logs_20140328.CreateLogGroup"),
                ("authorization", &logs),
            ])),
            Protocol::Json
        );
        assert_eq!(
            protocol(&headers(&[("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.CreateRepository")])),
            Protocol::Json
        );
        assert_eq!(protocol(&headers(&[("content-type", "application/x-amz-json-1.0")])), Protocol::Json);
        // Unsigned form requests (the proxy's own tests, old clients) keep the EC2 format.
        assert_eq!(protocol(&headers(&[form])), Protocol::Ec2);
        assert_eq!(protocol(&HeaderMap::new()), Protocol::Ec2);
    }
}
