//! Fault rules: which requests get which fault, and the AWS-style error bodies.
//!
//! A [`Rule`] matches requests whose action equals `action` (`"*"` matches any).
//! Every rule keeps its own count of matching requests: the first `skip` matches
//! pass through untouched, the next `times` matches (`None` = unlimited) get the
//! fault. When several rules are in their active window for the same request, the
//! first one in the list wins (all matching rules still count the request).
//!
//! Errors the proxy answers itself ([`Fault::Error`], [`Fault::Throttle`],
//! [`Fault::ServerError`]) are written in the protocol of the service the request
//! went to ([`Protocol`], see [`crate::action`]), so the SDK parses the injected code
//! as it would AWS's ([`error_document`]):
//!
//! | protocol | body | content type |
//! |---|---|---|
//! | EC2 | `<Response><Errors><Error><Code>…</Code><Message>…</Message></Error></Errors><RequestID>…</RequestID></Response>` | `text/xml` |
//! | other query (IAM, STS, ELBv2…) | `<ErrorResponse><Error><Type>Sender\|Receiver</Type><Code>…</Code><Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>` | `text/xml` |
//! | JSON (Logs, ECR, ECS…) | `{"__type":"…","message":"…"}` plus header `x-amzn-ErrorType` | `application/x-amz-json-1.1` |
//! | REST-XML (S3) | `<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId></Error>` | `application/xml` |
//!
//! Other REST services get the EC2 or query body by their credential scope; their own
//! error formats are not written.

use serde::{Deserialize, Serialize};

pub use crate::action::Protocol;

/// One fault-injection rule, e.g.
/// `{"action": "CreateVpc", "fault": {"throttle": {}}, "skip": 0, "times": 1}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Action name as counted by the proxy (`CreateVpc`, `GET /bucket`), or `"*"`.
    pub action: String,
    /// What to do with a request in the active window.
    pub fault: Fault,
    /// Number of matching requests to let through before the fault starts.
    #[serde(default)]
    pub skip: u64,
    /// Number of matching requests that get the fault; `None` = all of them.
    #[serde(default)]
    pub times: Option<u64>,
}

impl Rule {
    /// A rule faulting every matching request (`skip` 0, unlimited `times`).
    pub fn new(action: impl Into<String>, fault: Fault) -> Rule {
        Rule { action: action.into(), fault, skip: 0, times: None }
    }
    /// Builder: let the first `n` matching requests through.
    pub fn skip(mut self, n: u64) -> Rule {
        self.skip = n;
        self
    }
    /// Builder: fault at most `n` matching requests.
    pub fn times(mut self, n: u64) -> Rule {
        self.times = Some(n);
        self
    }
}

/// The fault to inject (externally tagged JSON, see the variants).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// `{"throttle": {}}`: the service's throttling error, which the SDK retries by its code:
    /// EC2 HTTP 503 `RequestLimitExceeded`; other query services HTTP 400 `Throttling`;
    /// JSON services HTTP 400 `ThrottlingException` (as AWS answers; a 400 is retried
    /// only if the SDK parsed the code).
    Throttle {},
    /// `{"server_error": {"status": 500}}`: `InternalError` with that status (default 500),
    /// in the service's error format (`Type` `Receiver` for the query protocol).
    ServerError {
        #[serde(default = "default_500")]
        status: u16,
    },
    /// `{"error": {"status": 400, "code": "InvalidVpcID.NotFound", "message": "..."}}`:
    /// that error, in the error format of the service the request went to (see the module
    /// docs), e.g. `NoSuchEntity` for IAM, `ResourceNotFoundException` for Logs.
    Error {
        #[serde(default = "default_400")]
        status: u16,
        code: String,
        #[serde(default)]
        message: String,
    },
    /// `{"delay_ms": 500}`: forward after a delay.
    DelayMs(u64),
    /// `{"stall": {}}`: never answer; the connection stays open until the client leaves.
    Stall {},
    /// `{"rewrite": {"from": "...", "to": "..."}}`: forward, then replace every
    /// occurrence of `from` in the response body (Content-Length is fixed up).
    Rewrite { from: String, to: String },
    /// `{"drop_reply": {}}`: forward (the upstream acts on the request), then close the
    /// connection without answering — a reply lost on the way back; the SDK retries.
    DropReply {},
}

fn default_500() -> u16 {
    500
}
fn default_400() -> u16 {
    400
}

impl Fault {
    /// Short name of the fault kind, as recorded in the fault log.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Throttle {} => "throttle",
            Fault::ServerError { .. } => "server_error",
            Fault::Error { .. } => "error",
            Fault::DelayMs(_) => "delay_ms",
            Fault::Stall {} => "stall",
            Fault::Rewrite { .. } => "rewrite",
            Fault::DropReply {} => "drop_reply",
        }
    }

    /// Convenience constructor for [`Fault::Error`].
    pub fn error(status: u16, code: impl Into<String>, message: impl Into<String>) -> Fault {
        Fault::Error { status, code: code.into(), message: message.into() }
    }

    /// For faults answered by the proxy itself: (status, code, message) for a request to
    /// a service speaking `protocol`.
    pub(crate) fn synthetic_error(&self, protocol: Protocol) -> Option<(u16, &str, &str)> {
        match self {
            Fault::Throttle {} => Some(match protocol {
                Protocol::Ec2 => (503, "RequestLimitExceeded", "Request limit exceeded."),
                Protocol::Query => (400, "Throttling", "Rate exceeded"),
                Protocol::Json => (400, "ThrottlingException", "Rate exceeded"),
                Protocol::RestXml => (503, "SlowDown", "Please reduce your request rate."),
            }),
            Fault::ServerError { status } => Some((*status, "InternalError", "An internal error has occurred.")),
            Fault::Error { status, code, message } => Some((*status, code, message)),
            _ => None,
        }
    }
}

/// One injected fault, in the order they happened (`GET /__faultproxy/faults`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjectedFault {
    pub action: String,
    /// [`Fault::kind`] of the fault.
    pub kind: String,
}

/// A rule plus how many matching requests it has seen.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RuleState {
    #[serde(flatten)]
    pub rule: Rule,
    pub seen: u64,
}

/// Counts the request against every matching rule and returns the fault to apply.
pub(crate) fn decide(rules: &mut [RuleState], action: &str) -> Option<Fault> {
    let mut chosen = None;
    for rs in rules.iter_mut() {
        if rs.rule.action != "*" && rs.rule.action != action {
            continue;
        }
        rs.seen += 1;
        let n = rs.seen; // 1-based index of this match
        let active = n > rs.rule.skip && rs.rule.times.is_none_or(|t| n <= rs.rule.skip + t);
        if active && chosen.is_none() {
            chosen = Some(rs.rule.fault.clone());
        }
    }
    chosen
}

/// An error response as the proxy writes it: content type, extra headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDocument {
    pub content_type: &'static str,
    /// Headers besides content type, length and `x-amzn-RequestId`.
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// The error `code`/`message` with HTTP `status` in the format of `protocol` (see the
/// module docs).
pub fn error_document(protocol: Protocol, status: u16, code: &str, message: &str, request_id: &str) -> ErrorDocument {
    match protocol {
        Protocol::Ec2 => ErrorDocument {
            content_type: "text/xml;charset=UTF-8",
            headers: Vec::new(),
            body: ec2_error_body(code, message, request_id),
        },
        Protocol::Query => ErrorDocument {
            content_type: "text/xml",
            headers: Vec::new(),
            body: query_error_body(status, code, message, request_id),
        },
        Protocol::Json => ErrorDocument {
            content_type: "application/x-amz-json-1.1",
            headers: vec![("x-amzn-ErrorType", code.to_string())],
            body: json_error_body(code, message),
        },
        Protocol::RestXml => ErrorDocument {
            content_type: "application/xml",
            headers: Vec::new(),
            body: rest_xml_error_body(code, message, request_id),
        },
    }
}

/// S3's REST-XML error document (what `aws-sdk-s3` parses: `Error/{Code,Message}`).
pub fn rest_xml_error_body(code: &str, message: &str, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
        xml_escape(code),
        xml_escape(message),
        xml_escape(request_id)
    )
}

/// EC2 query-protocol error document (what `aws-sdk-ec2` parses: `Response/Errors/Error/{Code,Message}`).
pub fn ec2_error_body(code: &str, message: &str, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{}</RequestID></Response>",
        xml_escape(code),
        xml_escape(message),
        xml_escape(request_id)
    )
}

/// Query-protocol error document of every query service but EC2 (IAM, STS, ELBv2, RDS…; what their
/// SDKs parse: `ErrorResponse/Error/{Code,Message}`). `Type` is `Receiver` for a 5xx, else `Sender`.
pub fn query_error_body(status: u16, code: &str, message: &str, request_id: &str) -> String {
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    format!(
        "<ErrorResponse><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        xml_escape(code),
        xml_escape(message),
        xml_escape(request_id)
    )
}

/// JSON-protocol error document (`awsJson1_0`/`awsJson1_1`: what their SDKs parse, `__type` and
/// `message`).
pub fn json_error_body(code: &str, message: &str) -> String {
    serde_json::json!({"__type": code, "message": message}).to_string()
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Replaces every occurrence of `from` with `to` in `body`.
pub(crate) fn replace_bytes(body: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    if from.is_empty() {
        return body.to_vec();
    }
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_json_forms() {
        let rules: Vec<Rule> = serde_json::from_str(
            r#"[
            {"action": "CreateVpc", "fault": {"throttle": {}}, "skip": 0, "times": 1},
            {"action": "*", "fault": {"server_error": {}}},
            {"action": "DeleteVpc", "fault": {"error": {"status": 400, "code": "DependencyViolation", "message": "m"}}, "times": null},
            {"action": "A", "fault": {"delay_ms": 500}},
            {"action": "B", "fault": {"stall": {}}, "skip": 2},
            {"action": "C", "fault": {"rewrite": {"from": "x", "to": "y"}}}
        ]"#,
        )
        .unwrap();
        assert_eq!(rules[0], Rule::new("CreateVpc", Fault::Throttle {}).times(1));
        assert_eq!(rules[1].fault, Fault::ServerError { status: 500 });
        assert_eq!(rules[2].fault, Fault::error(400, "DependencyViolation", "m"));
        assert_eq!(rules[3].fault, Fault::DelayMs(500));
        assert_eq!(rules[4], Rule::new("B", Fault::Stall {}).skip(2));
        // Round trip.
        let back: Vec<Rule> = serde_json::from_str(&serde_json::to_string(&rules).unwrap()).unwrap();
        assert_eq!(back, rules);
        assert!(serde_json::from_str::<Rule>(r#"{"action":"A","fault":{"nope":{}}}"#).is_err());
    }

    #[test]
    fn skip_times_and_first_rule_wins() {
        let mut rules: Vec<RuleState> =
            vec![Rule::new("A", Fault::Throttle {}).skip(1).times(2), Rule::new("*", Fault::Stall {}).skip(4).times(1)]
                .into_iter()
                .map(|rule| RuleState { rule, seen: 0 })
                .collect();
        let got: Vec<_> = (0..6).map(|_| decide(&mut rules, "A").map(|f| f.kind())).collect();
        assert_eq!(got, [None, Some("throttle"), Some("throttle"), None, Some("stall"), None]);
        assert_eq!(decide(&mut rules, "B"), None);
        assert_eq!(rules[1].seen, 7);
    }

    #[test]
    fn bodies() {
        assert_eq!(replace_bytes(b"a<s>x</s><s>x</s>", b"<s>x</s>", b"<s>yy</s>"), b"a<s>yy</s><s>yy</s>");
        let b = ec2_error_body("C", "a<b", "r");
        assert!(b.contains("<Code>C</Code><Message>a&lt;b</Message>"), "{b}");
    }

    /// What the SDK reads from an XML error body, walked as `aws-sdk-*`'s generated
    /// `ec2_query_errors` / `rest_xml_wrapped_errors` do: (root, [children of the `Error`
    /// element as (name, text)], request id).
    fn parse_xml(body: &str) -> (String, Vec<(String, String)>, String) {
        use aws_smithy_xml::decode::{try_data, Document, ScopedDecoder};
        fn error_fields(err: &mut ScopedDecoder, fields: &mut Vec<(String, String)>) {
            assert_eq!(err.start_el().local(), "Error");
            while let Some(mut f) = err.next_tag() {
                let name = f.start_el().local().to_string();
                fields.push((name, try_data(&mut f).unwrap().into_owned()));
            }
        }
        let mut doc = Document::new(body);
        let mut root = doc.root_element().expect("root element");
        let root_name = root.start_el().local().to_string();
        let (mut fields, mut request_id) = (Vec::new(), String::new());
        while let Some(mut tag) = root.next_tag() {
            match tag.start_el().local() {
                "Errors" => {
                    while let Some(mut err) = tag.next_tag() {
                        error_fields(&mut err, &mut fields);
                    }
                }
                "Error" => error_fields(&mut tag, &mut fields),
                "RequestID" | "RequestId" => request_id = try_data(&mut tag).unwrap().into_owned(),
                other => panic!("unexpected element {other} in {body}"),
            }
        }
        (root_name, fields, request_id)
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn ec2_errors_in_the_ec2_query_format() {
        let d = error_document(Protocol::Ec2, 400, "InvalidVpcID.NotFound", "no 'vpc' & <x>", "r-1");
        assert!(d.content_type.starts_with("text/xml"));
        assert!(d.headers.is_empty());
        let (root, fields, rid) = parse_xml(&d.body);
        assert_eq!(root, "Response");
        assert_eq!(fields, pairs(&[("Code", "InvalidVpcID.NotFound"), ("Message", "no 'vpc' & <x>")]));
        assert_eq!(rid, "r-1");
        let throttle = Fault::Throttle {}.synthetic_error(Protocol::Ec2);
        assert_eq!(throttle, Some((503, "RequestLimitExceeded", "Request limit exceeded.")));
    }

    #[test]
    fn other_query_services_get_error_response_with_sender_or_receiver() {
        let d = error_document(
            Protocol::Query,
            400,
            "ResourceInUse",
            "Target group 'arn:aws:elasticloadbalancing:us-east-1:123:targetgroup/tg/1' is currently in use by a listener or a rule",
            "r-2",
        );
        assert_eq!(d.content_type, "text/xml");
        let (root, fields, rid) = parse_xml(&d.body);
        assert_eq!(root, "ErrorResponse");
        assert_eq!(
            fields,
            pairs(&[
                ("Type", "Sender"),
                ("Code", "ResourceInUse"),
                ("Message", "Target group 'arn:aws:elasticloadbalancing:us-east-1:123:targetgroup/tg/1' is currently in use by a listener or a rule"),
            ])
        );
        assert_eq!(rid, "r-2");
        let (status, code, message) = Fault::ServerError { status: 503 }.synthetic_error(Protocol::Query).unwrap();
        let (_, fields, _) = parse_xml(&error_document(Protocol::Query, status, code, message, "r").body);
        assert_eq!(fields[..2], pairs(&[("Type", "Receiver"), ("Code", "InternalError")]));
        let throttle = Fault::Throttle {}.synthetic_error(Protocol::Query);
        assert_eq!(throttle, Some((400, "Throttling", "Rate exceeded")));
    }

    #[test]
    fn json_services_get_type_and_message_and_the_error_type_header() {
        let d = error_document(
            Protocol::Json,
            400,
            "OperationAbortedException",
            "A conflicting operation is currently in progress against this resource. \"quoted\"",
            "r-3",
        );
        assert_eq!(d.content_type, "application/x-amz-json-1.1");
        assert_eq!(d.headers, vec![("x-amzn-ErrorType", "OperationAbortedException".to_string())]);
        let v: serde_json::Value = serde_json::from_str(&d.body).unwrap();
        assert_eq!(v["__type"], "OperationAbortedException");
        assert_eq!(v["message"], "A conflicting operation is currently in progress against this resource. \"quoted\"");
        let throttle = Fault::Throttle {}.synthetic_error(Protocol::Json);
        assert_eq!(throttle, Some((400, "ThrottlingException", "Rate exceeded")));
        assert_eq!(Fault::DelayMs(1).synthetic_error(Protocol::Json), None);
        assert_eq!(Fault::DropReply {}.synthetic_error(Protocol::RestXml), None);
    }

    #[test]
    fn rest_xml_errors_for_s3() {
        let doc = error_document(
            Protocol::RestXml,
            412,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
            "r1",
        );
        assert_eq!(doc.content_type, "application/xml");
        assert!(
            doc.body.contains("<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions"),
            "{}",
            doc.body
        );
        assert!(doc.body.ends_with("<RequestId>r1</RequestId></Error>"));
        let throttle = Fault::Throttle {}.synthetic_error(Protocol::RestXml);
        assert_eq!(throttle, Some((503, "SlowDown", "Please reduce your request rate.")));
        let rule: Rule =
            serde_json::from_str(r#"{"action": "PUT /b/k.lock", "fault": {"drop_reply": {}}, "times": 1}"#).unwrap();
        assert_eq!(rule, Rule::new("PUT /b/k.lock", Fault::DropReply {}).times(1));
    }
}
