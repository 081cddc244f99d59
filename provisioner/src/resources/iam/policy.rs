//! IAM policy documents compared the way IAM compares them (what terraform-provider-aws does with
//! hashicorp/awspolicyequivalence), so a policy written one way in the configuration and returned another
//! way by IAM diffs empty.
//!
//! A document is written either as a TOML table (the engine hands over a `Value::Map`) or as a JSON string;
//! IAM returns it URL-encoded (GetRole, GetRolePolicy, GetAccountAuthorizationDetails). [`canonical`] turns
//! any of these into one compact JSON string:
//! - URL-encoded text is decoded first (as Terraform's `url.QueryUnescape`: `%XX`, and `+` as a space);
//! - object keys are sorted;
//! - every array is a set: elements canonicalised, sorted and deduplicated; an array of one element is that
//!   element (`"Action": "sts:AssumeRole"` ≡ `["sts:AssumeRole"]`, also a single statement object);
//! - an `AWS` principal written as an account's root ARN (`arn:aws:iam::123456789012:root`) is the bare
//!   account id, the form IAM treats as the same principal;
//! - scalar condition values are strings (`true` ≡ `"true"`, `3600` ≡ `"3600"`): IAM compares them as strings.
//!
//! Anything that does not parse (or is not yet known) is left alone: AWS reports the malformed document.

use serde_json::{Map, Value as J};

use crate::value::Value;

/// The canonical JSON text of a policy document given as a table or a (possibly URL-encoded) JSON string;
/// `None` when it is neither (unknown, or not JSON).
pub(crate) fn canonical_json(v: &Value) -> Option<String> {
    let json = match v {
        Value::Map(_) => v.to_json()?,
        Value::String(s) => parse_text(s)?,
        _ => return None,
    };
    Some(canonical(json).to_string())
}

/// Replaces a policy attribute by its canonical JSON string, when it has one.
pub(crate) fn normalize_attr(attrs: &mut crate::value::Attrs, name: &str) {
    if let Some(c) = attrs.get(name).and_then(canonical_json) {
        attrs.insert(name.to_owned(), Value::String(c));
    }
}

/// The document to send to IAM: the (canonical) JSON string, or the table as JSON.
pub(crate) fn text(attrs: &crate::value::Attrs, name: &str) -> Result<String, crate::aws::ProviderError> {
    match attrs.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(v @ Value::Map(_)) => v
            .to_json()
            .map(|j| j.to_string())
            .ok_or_else(|| crate::aws::ProviderError::new(format!("`{name}` is not known yet"))),
        _ => Err(crate::aws::ProviderError::new(format!(
            "`{name}` must be a policy document (a table or a JSON string)"
        ))),
    }
}

/// A policy as IAM returns it (URL-encoded JSON), canonical; the raw text when it does not parse.
pub(crate) fn from_aws(doc: &str) -> String {
    parse_text(doc).map(|j| canonical(j).to_string()).unwrap_or_else(|| doc.to_owned())
}

fn parse_text(s: &str) -> Option<J> {
    let t = s.trim();
    if t.starts_with('{') {
        return serde_json::from_str(t).ok();
    }
    serde_json::from_str(&url_decode(t)?).ok()
}

/// `application/x-www-form-urlencoded` decoding as Go's `url.QueryUnescape`; `None` on a malformed escape or
/// invalid UTF-8.
pub(crate) fn url_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn canonical(j: J) -> J {
    canon(j, Ctx::Other)
}

#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Other,
    /// Inside `Principal`/`NotPrincipal` → `AWS`.
    AwsPrincipal,
    /// Inside `Condition`: scalar values are strings.
    Condition,
}

fn canon(j: J, cx: Ctx) -> J {
    match j {
        J::Object(m) => {
            let mut entries: Vec<(String, J)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out = Map::new();
            for (k, v) in entries {
                let inner = if cx == Ctx::Condition || k == "Condition" { Ctx::Condition } else { Ctx::Other };
                let v = if matches!(k.as_str(), "Principal" | "NotPrincipal") && cx != Ctx::Condition {
                    principal(v)
                } else {
                    canon(v, inner)
                };
                out.insert(k, v);
            }
            J::Object(out)
        }
        J::Array(items) => {
            let mut items: Vec<J> = items.into_iter().map(|i| canon(i, cx)).collect();
            items.sort_by_cached_key(J::to_string);
            items.dedup();
            if items.len() == 1 {
                items.pop().unwrap_or(J::Null)
            } else {
                J::Array(items)
            }
        }
        J::String(s) if cx == Ctx::AwsPrincipal => J::String(account_of_root_arn(&s).unwrap_or(s)),
        J::Bool(b) if cx == Ctx::Condition => J::String(b.to_string()),
        J::Number(n) if cx == Ctx::Condition => J::String(n.to_string()),
        other => other,
    }
}

/// A `Principal` value: `"*"`, or a map of principal types; the `AWS` entries get the root-ARN rule.
fn principal(v: J) -> J {
    match v {
        J::Object(m) => {
            let mut entries: Vec<(String, J)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            J::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| {
                        let cx = if k == "AWS" { Ctx::AwsPrincipal } else { Ctx::Other };
                        (k, canon(v, cx))
                    })
                    .collect(),
            )
        }
        other => canon(other, Ctx::Other),
    }
}

/// `arn:<partition>:iam::<12 digits>:root` → the account id.
fn account_of_root_arn(s: &str) -> Option<String> {
    let rest = s.strip_prefix("arn:")?;
    let (_partition, rest) = rest.split_once(':')?;
    let account = rest.strip_prefix("iam::")?.strip_suffix(":root")?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then(|| account.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn c(j: J) -> String {
        canonical_json(&Value::String(j.to_string())).unwrap()
    }

    #[test]
    fn a_table_and_its_json_string_are_equal() {
        let j = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]});
        assert_eq!(canonical_json(&Value::from_json(&j)), Some(c(j)));
    }

    #[test]
    fn url_encoded_documents_are_decoded() {
        let enc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGet%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";
        let plain =
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]});
        assert_eq!(from_aws(enc), c(plain));
        assert_eq!(url_decode("a+b%20c%2B"), Some("a b c+".to_owned()));
        assert_eq!(url_decode("%zz"), None);
    }

    #[test]
    fn single_element_arrays_equal_plain_values() {
        assert_eq!(
            c(json!({"Statement": [{"Action": ["sts:AssumeRole"], "Principal": {"Service": ["ec2.amazonaws.com"]}}]})),
            c(json!({"Statement": {"Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}})),
        );
    }

    #[test]
    fn array_order_and_duplicates_do_not_matter() {
        assert_eq!(
            c(json!({"Statement": [{"Sid": "b", "Action": ["s3:Put", "s3:Get"]}, {"Sid": "a"}]})),
            c(json!({"Statement": [{"Sid": "a"}, {"Action": ["s3:Get", "s3:Put", "s3:Get"], "Sid": "b"}]})),
        );
    }

    #[test]
    fn key_order_does_not_matter() {
        let a = c(json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Resource": "*", "Action": "x:Y"}}));
        let b = c(json!({"Statement": {"Action": "x:Y", "Effect": "Allow", "Resource": "*"}, "Version": "2012-10-17"}));
        assert_eq!(a, b);
        assert!(a.starts_with(r#"{"Statement":{"Action":"x:Y","Effect":"Allow","Resource":"*"},"Version""#), "{a}");
    }

    #[test]
    fn root_arn_principal_is_the_account_id() {
        assert_eq!(
            c(json!({"Statement": {"Principal": {"AWS": "arn:aws:iam::123456789012:root"}}})),
            c(json!({"Statement": {"Principal": {"AWS": "123456789012"}}})),
        );
        // Only the root ARN, and only AWS principals.
        let role = c(json!({"Statement": {"Principal": {"AWS": "arn:aws:iam::123456789012:role/x"}}}));
        assert!(role.contains("role/x"), "{role}");
    }

    #[test]
    fn condition_scalars_are_strings() {
        assert_eq!(
            c(
                json!({"Statement": {"Condition": {"Bool": {"aws:SecureTransport": false}, "NumericLessThan": {"aws:MultiFactorAuthAge": 3600}}}})
            ),
            c(
                json!({"Statement": {"Condition": {"Bool": {"aws:SecureTransport": "false"}, "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}}})
            ),
        );
    }

    #[test]
    fn toml_numbers_in_conditions_are_integral() {
        // A TOML integer arrives as a float; it must print as "3600", not "3600.0".
        let v = Value::from_json(&json!({"Statement": {"Condition": {"NumericLessThan": {"k": 3600}}}}));
        assert!(canonical_json(&v).unwrap().contains(r#""k":"3600""#));
    }

    #[test]
    fn unparseable_and_unknown_are_left_alone() {
        assert_eq!(canonical_json(&Value::str("not json")), None);
        assert_eq!(canonical_json(&Value::Unknown), None);
        assert_eq!(from_aws("%7Bbroken"), "%7Bbroken");
    }
}
