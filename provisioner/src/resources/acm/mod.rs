//! ACM resource types, as terraform-provider-aws's `internal/service/acm`: `acm_certificate` and
//! `acm_certificate_validation`. Registered in `resources/mod.rs`.
//!
//! Shared here: the ACM client ([`client`]); DescribeCertificate ([`describe`]); the certificate's
//! validation options as the **map** both types use ([`validation_options`], keyed by [`option_key`]); tags
//! (RequestCertificate takes them, ListTagsForCertificate reads them, one certificate a call; the Resource
//! Groups Tagging API lists the stack's certificates with their tags: `util::stack_listed`).
//!
//! **`domain_validation_options` is a map, not Terraform's set.** Key: the domain name with any leading
//! `*.` removed, lower case; value: `{ domain_names, resource_record_name, resource_record_type,
//! resource_record_value }`. An apex and its wildcard (`example.com`, `*.example.com`) share one validation
//! record, so they share one key, with both names in `domain_names`. The keys follow from the configured
//! `domain_name` and `subject_alternative_names`, so the plan knows them before the certificate exists
//! ([`crate::resource::Resource::plan_computed`]) and `for_each = "${acm_certificate.x.domain_validation_options}"`
//! on a `route53_record` plans in one go (Terraform's set of objects cannot be iterated before apply, which is
//! why its documentation builds a map in a `for` expression).

pub mod certificate;
pub mod certificate_validation;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_acm::types::CertificateDetail;

use crate::aws::{aws_err, Ctx, ProviderError};
use crate::value::{Attrs, Value};

/// The ACM client of `cx`, built once with the shared SDK configuration and the call counter.
pub(crate) fn client(cx: &Ctx) -> aws_sdk_acm::Client {
    cx.client(|sdk, calls| {
        aws_sdk_acm::Client::from_conf(aws_sdk_acm::config::Builder::from(sdk).interceptor(calls).build())
    })
}

/// ACM's "not found" error.
pub(crate) fn is_gone(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("ResourceNotFoundException")
}

/// DescribeCertificate; `None` when the certificate does not exist.
pub(crate) async fn describe(cx: &Ctx, arn: &str) -> Result<Option<CertificateDetail>, ProviderError> {
    match client(cx).describe_certificate().certificate_arn(arn).send().await.map_err(aws_err) {
        Ok(o) => Ok(o.certificate().cloned()),
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The key of a domain in `domain_validation_options`: without a leading `*.` or trailing dot, lower case.
pub(crate) fn option_key(domain: &str) -> String {
    let d = domain.trim().trim_end_matches('.').to_lowercase();
    d.strip_prefix("*.").map(str::to_owned).unwrap_or(d)
}

/// The domains of a configuration: `domain_name` and the `subject_alternative_names`, `None` while any is
/// unknown.
pub(crate) fn configured_domains(cfg: &Attrs) -> Option<Vec<String>> {
    let mut out = vec![cfg.get("domain_name")?.as_str()?.to_owned()];
    match cfg.get("subject_alternative_names") {
        None | Some(Value::Null) => {}
        Some(Value::List(l)) => {
            for v in l {
                out.push(v.as_str()?.to_owned());
            }
        }
        Some(_) => return None,
    }
    Some(out)
}

/// The shape of `domain_validation_options` for these domains: the keys and each key's `domain_names`,
/// the records unknown (`Value::Unknown`) — what a plan knows before the certificate exists.
pub(crate) fn planned_options(domains: &[String]) -> Value {
    let mut by_key: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for d in domains {
        by_key.entry(option_key(d)).or_default().insert(d.trim_end_matches('.').to_lowercase());
    }
    Value::Map(
        by_key
            .into_iter()
            .map(|(k, names)| {
                let mut m = BTreeMap::new();
                m.insert("domain_names".to_owned(), Value::string_list(names));
                for f in ["resource_record_name", "resource_record_type", "resource_record_value"] {
                    m.insert(f.to_owned(), Value::Unknown);
                }
                (k, Value::Map(m))
            })
            .collect(),
    )
}

/// One validation option as ACM reports it: the domain, its status and the record ACM expects.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct OptionView {
    pub domain: String,
    pub status: String,
    /// (name, type, value), once ACM has published it.
    pub record: Option<Record>,
}

pub(crate) fn option_views(c: &CertificateDetail) -> Vec<OptionView> {
    c.domain_validation_options()
        .iter()
        .map(|o| OptionView {
            domain: o.domain_name().to_owned(),
            status: o.validation_status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            record: o
                .resource_record()
                .map(|r| (r.name().to_owned(), r.r#type().as_str().to_owned(), r.value().to_owned())),
        })
        .collect()
}

/// A validation record: name, type, value.
type Record = (String, String, String);

/// `domain_validation_options` of a certificate (see the module doc). A key whose record ACM has not
/// published yet has empty record fields.
pub(crate) fn validation_options(views: &[OptionView]) -> Value {
    let mut by_key: BTreeMap<String, (BTreeSet<String>, Option<Record>)> = BTreeMap::new();
    for v in views {
        let e = by_key.entry(option_key(&v.domain)).or_default();
        e.0.insert(v.domain.trim_end_matches('.').to_lowercase());
        if e.1.is_none() {
            e.1 = v.record.clone();
        }
    }
    Value::Map(
        by_key
            .into_iter()
            .map(|(k, (names, rec))| {
                let (n, t, val) = rec.unwrap_or_default();
                let m = BTreeMap::from([
                    ("domain_names".to_owned(), Value::string_list(names)),
                    ("resource_record_name".to_owned(), Value::str(n)),
                    ("resource_record_type".to_owned(), Value::str(t)),
                    ("resource_record_value".to_owned(), Value::str(val)),
                ]);
                (k, Value::Map(m))
            })
            .collect(),
    )
}

/// The tags of a certificate (ListTagsForCertificate); `None` when it is gone.
pub(crate) async fn list_tags(cx: &Ctx, arn: &str) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
    match client(cx).list_tags_for_certificate().certificate_arn(arn).send().await.map_err(aws_err) {
        Ok(o) => {
            Ok(Some(o.tags().iter().map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned())).collect()))
        }
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A string map as ACM tags.
pub(crate) fn acm_tags(tags: &BTreeMap<String, String>) -> Result<Vec<aws_sdk_acm::types::Tag>, ProviderError> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_acm::types::Tag::builder().key(k).value(v).build().map_err(|e| ProviderError::new(e.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(domain: &str, rec: Option<&str>) -> OptionView {
        OptionView {
            domain: domain.into(),
            status: "PENDING_VALIDATION".into(),
            record: rec.map(|n| (n.to_owned(), "CNAME".to_owned(), "_v.acm-validations.aws.".to_owned())),
        }
    }

    #[test]
    fn an_apex_and_its_wildcard_share_one_key() {
        assert_eq!(option_key("*.Example.com."), "example.com");
        assert_eq!(option_key("www.example.com"), "www.example.com");
        let p = planned_options(&["example.com".into(), "*.example.com".into(), "www.example.com".into()]);
        let m = p.as_map().unwrap();
        assert_eq!(m.keys().collect::<Vec<_>>(), ["example.com", "www.example.com"]);
        assert_eq!(m["example.com"].get("domain_names"), Some(&Value::string_list(["*.example.com", "example.com"])));
        assert_eq!(m["example.com"].get("resource_record_name"), Some(&Value::Unknown));
    }

    #[test]
    fn options_from_acm_have_the_planned_keys_and_the_records() {
        let v = validation_options(&[
            view("*.example.com", Some("_a.example.com.")),
            view("example.com", Some("_a.example.com.")),
            view("www.example.com", None),
        ]);
        let m = v.as_map().unwrap();
        assert_eq!(m.keys().collect::<Vec<_>>(), ["example.com", "www.example.com"]);
        assert_eq!(m["example.com"].get("resource_record_name"), Some(&Value::str("_a.example.com.")));
        assert_eq!(m["www.example.com"].get("resource_record_name"), Some(&Value::str("")));
        let planned = planned_options(&["example.com".into(), "*.example.com".into(), "www.example.com".into()]);
        assert_eq!(planned.as_map().unwrap().keys().collect::<Vec<_>>(), m.keys().collect::<Vec<_>>());
    }

    #[test]
    fn configured_domains_need_every_value_known() {
        let a = Attrs::from([
            ("domain_name".to_owned(), Value::str("example.com")),
            ("subject_alternative_names".to_owned(), Value::string_list(["*.example.com"])),
        ]);
        assert_eq!(configured_domains(&a), Some(vec!["example.com".to_owned(), "*.example.com".to_owned()]));
        let b = Attrs::from([
            ("domain_name".to_owned(), Value::str("example.com")),
            ("subject_alternative_names".to_owned(), Value::Unknown),
        ]);
        assert_eq!(configured_domains(&b), None);
    }
}
