//! `acm_certificate_validation`: the wait for a certificate to be issued, as terraform-provider-aws's
//! `aws_acm_certificate_validation` — a "virtual" resource: it creates nothing in AWS. Id = the
//! certificate's ARN. Dependents (an HTTPS listener) reference it so they are applied only once the
//! certificate is usable.
//!
//! **Create** waits until DescribeCertificate reports `ISSUED`, polling with back-off (the poll interval
//! doubling up to six times it), with a progress line about every 10 s (`PROVISIONER_PROGRESS_SECS`):
//! `Still validating… [1m0s elapsed, 1 of 2 domains pending: www.example.com]`. Bounded by
//! `timeouts.create` (Terraform's 75 minutes), within `PROVISIONER_WAIT_TIMEOUT_SECS` when set. On `FAILED`
//! (or another status from which ACM will not issue it), on timeout and on Ctrl-C the error names each
//! domain still pending and the record ACM expects for it (name, type, value). Nothing is saved then: the
//! next apply waits again.
//!
//! With `validation_record_fqdns`, the names must cover every validation option's record: checked at plan
//! against the certificate's planned options where they are known ([`Resource::validate_related`]), else at
//! create.
//!
//! **Read**: the certificate, kept only while it is `ISSUED` (as Terraform: a certificate that is no longer
//! issued plans this resource again). **Delete** does nothing.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_acm::types::CertificateDetail;

use super::{describe, option_views, OptionView};
use crate::aws::{Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::resources::ecs::deploy::{elapsed_text, progress_period};
use crate::resources::rds::wait::backoff;
use crate::resources::route53::clean_name;
use crate::resources::util::*;
use crate::schema::{Attribute, Schema, Type, ID};
use crate::value::{Attrs, Value};

pub struct AcmCertificateValidation;

/// Terraform's default create timeout.
const CREATE_TIMEOUT: Duration = Duration::from_secs(75 * 60);

/// Statuses from which ACM does not issue the certificate.
const FAILED: &[&str] = &["FAILED", "VALIDATION_TIMED_OUT", "REVOKED", "EXPIRED", "INACTIVE"];

static SCHEMA: LazyLock<Schema> =
    LazyLock::new(|| {
        Schema::new("acm_certificate_validation", "Waits until an ACM certificate is issued (creates nothing in AWS).")
            .attr(
                Attribute::string("certificate_arn")
                    .required()
                    .forces_new()
                    .describe("The certificate (`acm_certificate.x.arn`)."),
            )
            .attr(Attribute::new("validation_record_fqdns", Type::set(Type::String)).forces_new().describe(
                "Names of the validation records (`route53_record.x[*].fqdn`): checked to cover every domain.",
            ))
            .attr(
                Attribute::new(
                    "timeouts",
                    Type::list(Type::Object(vec![Attribute::string("create").describe("e.g. \"75m\" (default)")])),
                )
                .describe("One table `{ create = \"75m\" }`."),
            )
    });

/// The validation records `fqdns` does not cover: (domain, record name).
fn uncovered(views: &[OptionView], fqdns: &[String]) -> Vec<(String, String)> {
    let have: Vec<String> = fqdns.iter().map(|f| clean_name(f)).collect();
    views
        .iter()
        .filter_map(|v| {
            let (name, _, _) = v.record.as_ref()?;
            (!have.contains(&clean_name(name))).then(|| (v.domain.clone(), clean_name(name)))
        })
        .collect()
}

fn uncovered_message(missing: &[(String, String)]) -> String {
    let list: Vec<String> = missing.iter().map(|(d, n)| format!("{n} (for {d})")).collect();
    format!(
        "validation_record_fqdns does not cover every validation record ACM expects: missing {}; create those records \
         (e.g. a `route53_record` with `for_each` over the certificate's `domain_validation_options`) and list their `fqdn`",
        list.join(", ")
    )
}

/// The domains still pending, with the record ACM expects for each.
fn pending(views: &[OptionView]) -> Vec<&OptionView> {
    views.iter().filter(|v| v.status != "SUCCESS").collect()
}

/// `Still validating… [1m0s elapsed, 1 of 2 domains pending: www.example.com]`.
pub(crate) fn progress_line(elapsed: Duration, views: &[OptionView]) -> String {
    let p = pending(views);
    let names: Vec<&str> = p.iter().map(|v| v.domain.as_str()).collect();
    format!(
        "Still validating… [{} elapsed, {} of {} domains pending: {}]",
        elapsed_text(elapsed),
        p.len(),
        views.len(),
        names.join(", ")
    )
}

/// "www.example.com: CNAME `_x.www.example.com.` → `_y.acm-validations.aws.`", one per pending domain.
fn expected_records(views: &[OptionView]) -> String {
    pending(views)
        .iter()
        .map(|v| match &v.record {
            Some((n, t, val)) => format!(
                "{} ({}): {t} record `{n}` with value `{val}`",
                v.domain,
                if v.status.is_empty() { "?" } else { &v.status }
            ),
            None => format!("{} ({}): ACM has not published its record yet", v.domain, v.status),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// How a wait ended without the certificate issued.
#[derive(Debug, PartialEq)]
enum End {
    Failed(String),
    TimedOut(Duration),
    Interrupted,
}

fn end_error(arn: &str, c: Option<&CertificateDetail>, end: &End) -> ProviderError {
    let views = c.map(option_views).unwrap_or_default();
    let status = c.and_then(|c| c.status()).map(|s| s.as_str().to_owned()).unwrap_or_else(|| "unknown".to_owned());
    let domain = c.and_then(|c| c.domain_name()).unwrap_or("?");
    let expected = expected_records(&views);
    let check =
        "each record must exist in the zone that answers for its domain (a zone that is not delegated from the \
                 registrar or parent zone, through its NS records, is not seen by ACM)";
    match end {
        End::Failed(s) => {
            let reason = c.and_then(|c| c.failure_reason()).map(|r| format!(" ({})", r.as_str())).unwrap_or_default();
            ProviderError::with_code(
                "CertificateValidationFailed",
                format!("certificate {domain} ({arn}) is {s}{reason}: ACM will not issue it. Pending: {expected}; {check}; then replace the certificate (`provisioner apply -replace ADDRESS`)"),
            )
        }
        End::TimedOut(after) => ProviderError::with_code(
            "WaitTimeout",
            format!(
                "certificate {domain} ({arn}) is still {status} after {}: pending {expected}; {check}. ACM keeps trying for 72 \
                 hours: run `provisioner apply` again to wait more, or raise `timeouts.create`",
                elapsed_text(*after)
            ),
        ),
        End::Interrupted => ProviderError::with_code(
            "WaitInterrupted",
            format!("stopped waiting for certificate {domain} ({arn}) to be issued (interrupted) while it is {status}: pending {expected}"),
        ),
    }
}

/// What progress lines go under: the type and the certificate's id (an untaggable type knows no address).
fn label(arn: &str) -> String {
    format!("acm_certificate_validation {}", arn.rsplit('/').next().unwrap_or(arn))
}

/// What create returns and read keeps: the certificate's ARN, the configuration's arguments.
fn result_attrs(desired: &Attrs, arn: &str) -> Attrs {
    let mut a = desired.clone();
    a.insert(ID.into(), Value::str(arn));
    a.insert("certificate_arn".into(), Value::str(arn));
    a
}

#[async_trait]
impl Resource for AcmCertificateValidation {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        crate::resources::rds::check_timeouts(cfg)
    }

    /// `validation_record_fqdns` must cover the validation records of the certificate it validates, where
    /// they are known at plan (a certificate that exists).
    fn validate_related(&self, cfg: &Attrs, related: &[(&str, &Attrs)]) -> Result<(), String> {
        let Some(fqdns) = cfg.get("validation_record_fqdns").and_then(Value::as_str_list) else { return Ok(()) };
        if fqdns.is_empty() {
            return Ok(());
        }
        let arn = cfg.get("certificate_arn").and_then(Value::as_str);
        let certs: Vec<&Attrs> = related
            .iter()
            .filter(|(addr, a)| {
                addr.starts_with("acm_certificate.") && (arn.is_none() || a.get("arn").and_then(Value::as_str) == arn)
            })
            .map(|(_, a)| *a)
            .collect();
        let [cert] = certs.as_slice() else { return Ok(()) };
        let Some(options) = cert.get("domain_validation_options").and_then(Value::as_map) else { return Ok(()) };
        let mut views = Vec::new();
        for o in options.values() {
            let Some(name) = o.get("resource_record_name").and_then(Value::as_str).filter(|n| !n.is_empty()) else {
                return Ok(());
            };
            let domains = o.get("domain_names").and_then(Value::as_str_list).unwrap_or_default();
            views.push(OptionView {
                domain: domains.join(", "),
                status: String::new(),
                record: Some((name.to_owned(), String::new(), String::new())),
            });
        }
        let missing = uncovered(&views, &fqdns);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(uncovered_message(&missing))
        }
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let calls = ids.iter().filter(|s| !s.is_empty()).map(|arn| async move {
            let c = describe(cx, arn).await?;
            let issued = c.as_ref().and_then(|c| c.status()).is_some_and(|s| s.as_str() == "ISSUED");
            Ok::<_, ProviderError>(issued.then(|| (arn.clone(), result_attrs(&Attrs::new(), arn))))
        });
        Ok(futures::future::try_join_all(calls).await?.into_iter().flatten().collect())
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        crate::resources::rds::check_timeouts(desired).map_err(ProviderError::new)?;
        let arn = req_str(desired, "certificate_arn")?.to_owned();
        let fqdns = desired.get("validation_record_fqdns").and_then(Value::as_str_list).unwrap_or_default();
        let timeout = crate::resources::rds::timeout(cx, desired, "create", CREATE_TIMEOUT);
        let label = label(&arn);
        let start = tokio::time::Instant::now();
        let period = progress_period();
        let mut next_report = start + period;
        let mut last: Option<CertificateDetail> = None;
        let mut checked = fqdns.is_empty();
        let mut n = 0u32;
        let end = loop {
            let described = tokio::select! {
                r = describe(cx, &arn) => r,
                _ = cx.interrupted() => break End::Interrupted,
            };
            match described {
                Ok(Some(c)) => {
                    let views = option_views(&c);
                    if !checked && views.iter().all(|v| v.record.is_some()) {
                        let missing = uncovered(&views, &fqdns);
                        if !missing.is_empty() {
                            return Err(ProviderError::with_code("InvalidParameter", uncovered_message(&missing)));
                        }
                        checked = true;
                    }
                    let status = c.status().map(|s| s.as_str().to_owned()).unwrap_or_default();
                    last = Some(c);
                    if status == "ISSUED" {
                        let made = result_attrs(desired, &arn);
                        checkpoint.created(&made).await;
                        return Ok(made);
                    }
                    if FAILED.contains(&status.as_str()) {
                        break End::Failed(status);
                    }
                }
                Ok(None) => {
                    return Err(ProviderError::with_code(
                        "ResourceNotFoundException",
                        format!("certificate {arn} does not exist"),
                    ))
                }
                Err(e) => tracing::warn!("{label}: describing the certificate failed, still waiting: {e}"),
            }
            let remaining = timeout.saturating_sub(start.elapsed());
            if remaining.is_zero() {
                break End::TimedOut(timeout);
            }
            if tokio::time::Instant::now() >= next_report {
                if let Some(c) = &last {
                    cx.report(&label, progress_line(start.elapsed(), &option_views(c)));
                }
                next_report += period;
            }
            let pause = backoff(cx.waits.poll, n).min(remaining);
            n += 1;
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = cx.interrupted() => break End::Interrupted,
            }
        };
        Err(end_error(&arn, last.as_ref(), &end))
    }

    async fn update(&self, _cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        Ok(result_attrs(desired, get_id(prior)?))
    }

    async fn delete(&self, _cx: &Ctx, _prior: &Attrs) -> Result<(), ProviderError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(domain: &str, status: &str, rec: &str) -> OptionView {
        OptionView {
            domain: domain.into(),
            status: status.into(),
            record: Some((rec.into(), "CNAME".into(), "_v.acm-validations.aws.".into())),
        }
    }

    #[test]
    fn progress_names_the_pending_domains() {
        let views = [
            v("example.com", "SUCCESS", "_a.example.com."),
            v("www.example.com", "PENDING_VALIDATION", "_b.www.example.com."),
        ];
        assert_eq!(
            progress_line(Duration::from_secs(60), &views),
            "Still validating… [1m0s elapsed, 1 of 2 domains pending: www.example.com]"
        );
    }

    #[test]
    fn errors_name_each_pending_domain_and_its_record() {
        let c = CertificateDetail::builder()
            .certificate_arn("arn:aws:acm:us-east-1:1:certificate/abc")
            .domain_name("example.com")
            .status(aws_sdk_acm::types::CertificateStatus::Failed)
            .domain_validation_options(
                aws_sdk_acm::types::DomainValidation::builder()
                    .domain_name("www.example.com")
                    .validation_status(aws_sdk_acm::types::DomainStatus::Failed)
                    .resource_record(
                        aws_sdk_acm::types::ResourceRecord::builder()
                            .name("_b.www.example.com.")
                            .r#type(aws_sdk_acm::types::RecordType::Cname)
                            .value("_v.acm-validations.aws.")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .build();
        let e = end_error("arn:aws:acm:us-east-1:1:certificate/abc", Some(&c), &End::Failed("FAILED".into()));
        assert!(
            e.message.contains("is FAILED")
                && e.message.contains(
                    "www.example.com (FAILED): CNAME record `_b.www.example.com.` with value `_v.acm-validations.aws.`"
                ),
            "{}",
            e.message
        );
        let e = end_error("arn", Some(&c), &End::TimedOut(Duration::from_secs(90)));
        assert!(e.message.contains("after 1m30s") && e.message.contains("timeouts.create"), "{}", e.message);
    }

    #[test]
    fn fqdns_must_cover_every_record() {
        let views = [v("example.com", "", "_a.example.com."), v("www.example.com", "", "_b.www.example.com.")];
        assert!(uncovered(&views, &["_a.example.com".into(), "_B.www.example.com.".into()]).is_empty());
        let m = uncovered(&views, &["_a.example.com".into()]);
        assert_eq!(m, [("www.example.com".to_owned(), "_b.www.example.com".to_owned())]);
        assert!(uncovered_message(&m).contains("_b.www.example.com (for www.example.com)"));
    }
}
