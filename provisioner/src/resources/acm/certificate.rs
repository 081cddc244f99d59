//! `acm_certificate`: a public certificate ACM issues after DNS validation, as terraform-provider-aws's
//! `aws_acm_certificate`. Id = the ARN (what `import` takes).
//!
//! Only `validation_method = "DNS"` is supported (EMAIL validation needs someone to click a link). Every
//! argument but `tags` forces a replacement, which is made **create-first** ([`Resource::replacement_order`]):
//! a listener uses the certificate, and ACM refuses to delete a certificate in use
//! (ResourceInUseException), so the new one is requested, the listener moved onto it, then the old one
//! deleted — the delete retrying ResourceInUseException within the wait bound, while a load balancer lets go.
//!
//! **Create** is RequestCertificate with the tags and an IdempotencyToken made from the stack, workspace,
//! lineage, address and the create's generation ([`Checkpoint::attempt`]; 32 hex digits): a create retried
//! after a crash within ACM's hour gets the certificate the lost call requested. ACM fills in each
//! validation option's ResourceRecord a few seconds after the request, so the create then polls
//! DescribeCertificate (bounded: 2 minutes, within `PROVISIONER_WAIT_TIMEOUT_SECS`) until every option has
//! its record; a certificate saved without them is incomplete and completed by the next apply.
//!
//! `domain_validation_options` is a map keyed by domain (see `mod.rs`), known in shape at plan time.
//! Waiting for the certificate to be issued is `acm_certificate_validation`'s job.
//!
//! **Reads** are one DescribeCertificate per certificate (ACM has no batch describe); tags come from the
//! Tagging API's listing of the stack (which also finds leftovers), else ListTagsForCertificate.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_acm::types::{CertificateDetail, KeyAlgorithm, ValidationMethod};
use sha2::{Digest, Sha256};

use super::{
    acm_tags, client, configured_domains, describe, is_gone, list_tags, option_key, option_views, planned_options,
    validation_options,
};
use crate::aws::{aws_err, retry_on, tag_map, Ctx, ProviderError, TAG_ADDRESS, TAG_STACK};
use crate::resource::{Checkpoint, ReplacementOrder, Resource};
use crate::resources::util::*;
use crate::schema::{Attribute, Schema, Type, ID, TAGS};
use crate::value::{Attrs, Value};

pub struct AcmCertificate;

/// How long the create waits for ACM to publish the validation records.
const RECORDS_TIMEOUT: Duration = Duration::from_secs(120);

const KEY_ALGORITHMS: &[&str] = &["RSA_2048", "EC_prime256v1", "EC_secp384r1"];

pub(crate) fn options_type() -> Type {
    Type::map(Type::Object(vec![
        Attribute::new("domain_names", Type::list(Type::String))
            .describe("The certificate's names this record validates."),
        Attribute::string("resource_record_name").describe("Name of the CNAME record ACM expects."),
        Attribute::string("resource_record_type").describe("Its type (CNAME)."),
        Attribute::string("resource_record_value").describe("Its value."),
    ]))
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("acm_certificate", "A public TLS certificate issued by ACM after DNS validation.")
        .taggable()
        .attr(Attribute::string("domain_name").required().forces_new().describe("The certificate's main name, e.g. `example.com`."))
        .attr(
            Attribute::new("subject_alternative_names", Type::set(Type::String))
                .forces_new()
                .describe("More names, e.g. `[\"*.example.com\", \"www.example.com\"]`."),
        )
        .attr(
            Attribute::string("validation_method")
                .default("DNS")
                .forces_new()
                .describe("How ACM checks you control the names: only `DNS` is supported."),
        )
        .attr(
            Attribute::string("key_algorithm")
                .default("RSA_2048")
                .forces_new()
                .one_of(KEY_ALGORITHMS)
                .describe("RSA_2048 (default), EC_prime256v1 or EC_secp384r1."),
        )
        .attr(Attribute::string("arn").computed().describe("ARN of the certificate (= id)."))
        .attr(Attribute::string("status").computed().describe("PENDING_VALIDATION, ISSUED, FAILED, …"))
        .attr(
            Attribute::new("domain_validation_options", options_type())
                .computed()
                .describe("By domain (leading `*.` removed): { domain_names, resource_record_name, resource_record_type, resource_record_value }."),
        )
});

/// RequestCertificate's IdempotencyToken for the create at this address (see the module doc): ≤ 32
/// characters matching `\w+`.
pub(crate) fn idempotency_token(tags: &BTreeMap<String, String>, generation: u64) -> String {
    let mut h = Sha256::new();
    hash_tool_tags(&mut h, tags);
    h.update(generation.to_be_bytes());
    let mut t = hex::encode(h.finalize());
    t.truncate(32);
    t
}

fn check(cfg: &Attrs) -> Result<(), String> {
    if let Some(m) = cfg.get("validation_method").and_then(Value::as_str) {
        if m != "DNS" {
            return Err(format!(
                "validation_method `{m}` is not supported: only DNS validation is (ACM checks a CNAME record, which a \
                 `route53_record` over `domain_validation_options` creates); write `validation_method = \"DNS\"` or leave it out"
            ));
        }
    }
    if let Some(domains) = configured_domains(cfg) {
        for d in &domains {
            let k = option_key(d);
            if k.is_empty() || k.contains('*') || d.contains(' ') || d.len() > 253 {
                return Err(format!(
                    "`{d}` is not a domain name a certificate can hold: write e.g. `example.com` or `*.example.com`"
                ));
            }
        }
    }
    Ok(())
}

/// The attributes of a described certificate, tags not included.
fn cert_attrs(c: &CertificateDetail) -> Option<(String, Attrs)> {
    let arn = c.certificate_arn()?;
    let domain = c.domain_name().unwrap_or_default();
    let mut a = Attrs::new();
    a.insert(ID.into(), Value::str(arn));
    a.insert("arn".into(), Value::str(arn));
    a.insert("domain_name".into(), Value::str(domain));
    // ACM lists the domain name among the alternative names; the configuration does not.
    a.insert(
        "subject_alternative_names".into(),
        Value::string_list(c.subject_alternative_names().iter().filter(|s| s.as_str() != domain).map(String::as_str)),
    );
    let method =
        c.domain_validation_options().iter().find_map(|o| o.validation_method()).map(|m| m.as_str().to_owned());
    a.insert("validation_method".into(), Value::str(method.unwrap_or_else(|| "DNS".to_owned())));
    put_opt(&mut a, "key_algorithm", c.key_algorithm().map(|k| k.as_str()));
    put_str(&mut a, "status", c.status().map(|s| s.as_str()));
    a.insert("domain_validation_options".into(), validation_options(&option_views(c)));
    Some((arn.to_owned(), a))
}

/// Whether every validation option has the record ACM expects.
fn records_published(c: &CertificateDetail) -> bool {
    let v = option_views(c);
    !v.is_empty() && v.iter().all(|o| o.record.is_some())
}

/// DescribeCertificate of each ARN (at once), with tags from `listed` where it has them, else
/// ListTagsForCertificate.
async fn read_arns(
    cx: &Ctx,
    arns: &[String],
    listed: Option<&Listed>,
) -> Result<HashMap<String, Attrs>, ProviderError> {
    let mut arns: Vec<String> = arns.iter().filter(|s| !s.is_empty()).cloned().collect();
    arns.sort();
    arns.dedup();
    let calls = arns.into_iter().map(|arn| async move {
        let Some(c) = describe(cx, &arn).await? else { return Ok(None) };
        let Some((id, mut a)) = cert_attrs(&c) else { return Ok(None) };
        let tags = match listed.and_then(|l| l.get(&arn)) {
            Some(t) => t.clone(),
            None => match list_tags(cx, &arn).await? {
                Some(t) => t,
                None => return Ok(None),
            },
        };
        a.insert(TAGS.into(), Value::Map(tags.into_iter().map(|(k, v)| (k, Value::str(v))).collect()));
        Ok::<_, ProviderError>(Some((id, a)))
    });
    Ok(futures::future::try_join_all(calls).await?.into_iter().flatten().collect())
}

/// What create returns: the configuration, then what ACM reports.
fn result_attrs(desired: &Attrs, arn: &str, c: Option<&CertificateDetail>) -> Attrs {
    let mut a = desired.clone();
    a.insert(ID.into(), Value::str(arn));
    a.insert("arn".into(), Value::str(arn));
    if let Some((_, got)) = c.and_then(cert_attrs) {
        a.extend(got);
    }
    a
}

#[async_trait]
impl Resource for AcmCertificate {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        check(cfg)
    }

    /// Names lower case, without a trailing dot, as ACM reports them.
    fn normalize(&self, attrs: &mut Attrs) {
        if let Some(Value::String(d)) = attrs.get("domain_name") {
            let d = d.trim_end_matches('.').to_lowercase();
            attrs.insert("domain_name".into(), Value::str(d));
        }
        if let Some(Value::List(l)) = attrs.get("subject_alternative_names") {
            if l.iter().all(Value::is_known) {
                let mut v: Vec<Value> = l
                    .iter()
                    .map(|s| {
                        s.as_str().map(|s| Value::str(s.trim_end_matches('.').to_lowercase())).unwrap_or(s.clone())
                    })
                    .collect();
                v.sort_by_cached_key(Value::canonical);
                v.dedup();
                attrs.insert("subject_alternative_names".into(), Value::List(v));
            }
        }
    }

    /// The keys of `domain_validation_options` (and each key's `domain_names`) follow from the configured
    /// names: known at plan, the records after apply.
    fn plan_computed(&self, cfg: &Attrs, planned: &mut Attrs) {
        if let Some(domains) = configured_domains(cfg) {
            planned.insert("domain_validation_options".into(), planned_options(&domains));
        }
    }

    fn replacement_order(&self, _before: &Attrs, _after: &Attrs) -> ReplacementOrder {
        ReplacementOrder::CreateFirst(
            "a listener may use the certificate, and ACM refuses to delete a certificate in use",
        )
    }

    /// Every validation option has its record.
    fn settled(&self, attrs: &Attrs) -> bool {
        attrs.get("domain_validation_options").and_then(Value::as_map).is_some_and(|m| {
            !m.is_empty()
                && m.values()
                    .all(|o| o.get("resource_record_name").and_then(Value::as_str).is_some_and(|n| !n.is_empty()))
        })
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        read_arns(cx, ids, None).await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let listed = stack_listed(cx).await?;
        let mut want: Vec<String> = ids.to_vec();
        want.extend(
            listed.keys().filter(|a| a.contains(":acm:") && arn_resource_type(a) == Some("certificate")).cloned(),
        );
        let mut out = read_arns(cx, &want, Some(&listed)).await?;
        out.retain(|arn, a| ids.contains(arn) || tag_map(a).get(TAG_STACK) == Some(&cx.stack));
        Ok(out)
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        check(desired).map_err(|m| ProviderError::with_code("ValidationException", m))?;
        let generation = checkpoint.attempt().await;
        let tags = tag_map(desired);
        let sans = desired.get("subject_alternative_names").and_then(Value::as_str_list).filter(|l| !l.is_empty());
        let out = client(cx)
            .request_certificate()
            .domain_name(req_str(desired, "domain_name")?)
            .set_subject_alternative_names(sans)
            .validation_method(ValidationMethod::Dns)
            .key_algorithm(KeyAlgorithm::from(get_str(desired, "key_algorithm").unwrap_or("RSA_2048")))
            .idempotency_token(idempotency_token(&tags, generation))
            .set_tags((!tags.is_empty()).then(|| acm_tags(&tags)).transpose()?)
            .send()
            .await
            .map_err(aws_err)?;
        let arn =
            out.certificate_arn().ok_or_else(|| ProviderError::new("RequestCertificate returned no ARN"))?.to_owned();
        let made = result_attrs(desired, &arn, None);
        checkpoint.created(&made).await;
        self.await_records(cx, desired, &arn).await
    }

    /// Only tags change in place. An incomplete certificate (records not yet published) is waited for again.
    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let arn = get_id(prior)?.to_owned();
        let (old, new) = (tag_map(prior), tag_map(desired));
        let removed: BTreeMap<String, String> =
            old.iter().filter(|(k, _)| !new.contains_key(*k)).map(|(k, v)| (k.clone(), v.clone())).collect();
        let changed: BTreeMap<String, String> =
            new.iter().filter(|(k, v)| old.get(*k) != Some(v)).map(|(k, v)| (k.clone(), v.clone())).collect();
        if !removed.is_empty() {
            client(cx)
                .remove_tags_from_certificate()
                .certificate_arn(&arn)
                .set_tags(Some(acm_tags(&removed)?))
                .send()
                .await
                .map_err(aws_err)?;
        }
        if !changed.is_empty() {
            client(cx)
                .add_tags_to_certificate()
                .certificate_arn(&arn)
                .set_tags(Some(acm_tags(&changed)?))
                .send()
                .await
                .map_err(aws_err)?;
        }
        self.await_records(cx, desired, &arn).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let arn = get_id(prior)?.to_owned();
        let in_use = |e: &ProviderError| e.code.as_deref() == Some("ResourceInUseException");
        let r = retry_on(cx, "DeleteCertificate (in use)", in_use, || async {
            client(cx).delete_certificate().certificate_arn(&arn).send().await.map_err(aws_err)
        })
        .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if is_gone(&e) => Ok(()),
            Err(e) if in_use(&e) => Err(ProviderError::with_code(
                "ResourceInUseException",
                format!(
                    "certificate {arn} is still in use ({}) after {:?}: ACM deletes a certificate only when no load balancer \
                     or distribution uses it; remove it from them, then run `provisioner apply` again",
                    e.message, cx.waits.timeout
                ),
            )),
            Err(e) => Err(e),
        }
    }
}

impl AcmCertificate {
    /// Polls DescribeCertificate until ACM has published every validation option's record (bounded); the
    /// certificate's attributes then, or an unsettled error with them.
    async fn await_records(&self, cx: &Ctx, desired: &Attrs, arn: &str) -> Result<Attrs, ProviderError> {
        let bound = RECORDS_TIMEOUT.min(cx.waits.timeout);
        let start = tokio::time::Instant::now();
        let mut n = 0u32;
        let mut last: Option<CertificateDetail> = None;
        loop {
            match describe(cx, arn).await {
                Ok(Some(c)) => {
                    let done = records_published(&c);
                    last = Some(c);
                    if done {
                        break;
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("describing certificate {arn} failed, still waiting: {e}"),
            }
            let pause = crate::resources::rds::wait::backoff(cx.waits.poll, n).min(Duration::from_secs(5));
            n += 1;
            if start.elapsed() + pause >= bound {
                let mut made = result_attrs(desired, arn, last.as_ref());
                made.insert(TAGS.into(), desired.get(TAGS).cloned().unwrap_or(Value::Map(BTreeMap::new())));
                let label = tag_map(desired).get(TAG_ADDRESS).cloned().unwrap_or_else(|| arn.to_owned());
                return Err(ProviderError::with_code(
                    "WaitTimeout",
                    format!(
                        "{label}: ACM has not published the validation records of certificate {arn} after {:?}; it usually \
                         does within seconds: run `provisioner apply` again to pick them up",
                        bound
                    ),
                )
                .unsettled(made));
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = cx.interrupted() => {
                    return Err(ProviderError::with_code("WaitInterrupted", format!("stopped waiting for the validation records of certificate {arn} (interrupted)"))
                        .unsettled(result_attrs(desired, arn, last.as_ref())))
                }
            }
        }
        let mut made = result_attrs(desired, arn, last.as_ref());
        made.insert(TAGS.into(), desired.get(TAGS).cloned().unwrap_or(Value::Map(BTreeMap::new())));
        Ok(made)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{TAG_LINEAGE, TAG_WORKSPACE};

    #[test]
    fn idempotency_tokens_are_word_characters_bounded_and_tell_creates_apart() {
        let tags = |a: &str| {
            BTreeMap::from([
                (TAG_STACK.to_owned(), "web".to_owned()),
                (TAG_WORKSPACE.to_owned(), "default".to_owned()),
                (TAG_LINEAGE.to_owned(), "L".to_owned()),
                (TAG_ADDRESS.to_owned(), a.to_owned()),
            ])
        };
        let t = idempotency_token(&tags("acm_certificate.app"), 1);
        assert_eq!(t.len(), 32);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{t}");
        assert_eq!(t, idempotency_token(&tags("acm_certificate.app"), 1));
        assert_ne!(t, idempotency_token(&tags("acm_certificate.app"), 2));
        assert_ne!(t, idempotency_token(&tags("acm_certificate.api"), 1));
    }

    #[test]
    fn only_dns_validation_is_supported() {
        let cfg = |m: &str| {
            Attrs::from([
                ("domain_name".to_owned(), Value::str("example.com")),
                ("validation_method".to_owned(), Value::str(m)),
            ])
        };
        let e = check(&cfg("EMAIL")).unwrap_err();
        assert!(e.contains("only DNS validation is") && e.contains("validation_method = \"DNS\""), "{e}");
        assert!(check(&cfg("DNS")).is_ok());
    }

    #[test]
    fn the_plan_knows_the_option_keys() {
        let cfg = Attrs::from([
            ("domain_name".to_owned(), Value::str("example.com")),
            ("subject_alternative_names".to_owned(), Value::string_list(["*.example.com", "www.example.com"])),
        ]);
        let mut planned = Attrs::from([("domain_validation_options".to_owned(), Value::Unknown)]);
        AcmCertificate.plan_computed(&cfg, &mut planned);
        let m = planned["domain_validation_options"].as_map().unwrap().clone();
        assert_eq!(m.keys().collect::<Vec<_>>(), ["example.com", "www.example.com"]);
        // Not known: left unknown.
        let mut planned = Attrs::from([("domain_validation_options".to_owned(), Value::Unknown)]);
        AcmCertificate.plan_computed(&Attrs::from([("domain_name".to_owned(), Value::Unknown)]), &mut planned);
        assert_eq!(planned["domain_validation_options"], Value::Unknown);
    }

    #[test]
    fn replaced_create_first() {
        assert!(matches!(
            AcmCertificate.replacement_order(&Attrs::new(), &Attrs::new()),
            ReplacementOrder::CreateFirst(_)
        ));
    }
}
