//! Identifying the AWS API action of a request.
//!
//! * Query-protocol services (EC2, IAM, STS, ...) send `Action=CreateVpc&...` in a
//!   form-encoded body (or, rarely, in the query string).
//! * JSON-protocol services send `X-Amz-Target: Service.Operation`; the action is
//!   the part after the last `.` (`DynamoDB_20120810.PutItem` → `PutItem`).
//! * Anything else (REST services such as S3) is identified as `METHOD path`,
//!   without the query string (`GET /bucket/key`).

use hyper::{HeaderMap, Method};

/// Returns the action name used for counting and rule matching.
pub fn identify(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> String {
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
    match headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        Some(ct) => ct
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded"),
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

    fn id(
        method: Method,
        path: &str,
        query: Option<&str>,
        hdrs: &[(&'static str, &str)],
        body: &str,
    ) -> String {
        let mut h = HeaderMap::new();
        for (k, v) in hdrs {
            h.insert(*k, v.parse().unwrap());
        }
        identify(&method, path, query, &h, body.as_bytes())
    }

    #[test]
    fn identifies_query_json_and_rest() {
        let form = [(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )];
        assert_eq!(
            id(
                Method::POST,
                "/",
                None,
                &form,
                "Action=CreateVpc&Version=2016-11-15"
            ),
            "CreateVpc"
        );
        assert_eq!(
            id(
                Method::POST,
                "/",
                None,
                &form,
                "Version=1&Action=Describe%56pcs"
            ),
            "DescribeVpcs"
        );
        assert_eq!(
            id(
                Method::POST,
                "/",
                None,
                &[],
                "Version=1&Action=DescribeVpcs"
            ),
            "DescribeVpcs"
        );
        assert_eq!(
            id(
                Method::GET,
                "/",
                Some("Action=DescribeRegions&x=1"),
                &[],
                ""
            ),
            "DescribeRegions"
        );
        assert_eq!(
            id(
                Method::POST,
                "/",
                None,
                &[("x-amz-target", "DynamoDB_20120810.PutItem")],
                "{}"
            ),
            "PutItem"
        );
        assert_eq!(
            id(Method::GET, "/bucket/key", Some("list-type=2"), &[], ""),
            "GET /bucket/key"
        );
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("a%41"), "aA");
    }
}
