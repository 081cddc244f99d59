//! `s3_bucket_lifecycle_configuration`: a bucket's lifecycle rules (terraform-provider-aws's
//! `aws_s3_bucket_lifecycle_configuration`, the subset a state or log bucket needs: expiration, expiration of
//! noncurrent versions and abandoned multipart uploads, by prefix; no transitions, tag or size filters).
//! Id = the bucket name (what `import` takes). Not taggable.
//!
//! `rule` is a list of `{ id, status, filter = { prefix }, expiration = { days },
//! noncurrent_version_expiration = { noncurrent_days, newer_noncurrent_versions },
//! abort_incomplete_multipart_upload = { days_after_initiation } }`. Rules are compared by `id` whatever
//! their order, and a filter without a prefix is the same as none (the whole bucket: S3 reports
//! `<Filter><Prefix></Prefix></Filter>`); only the configured fields take part ([`normalize_rules`]). Mistakes
//! S3 would refuse — no rule, duplicate ids, a rule without an action, days below 1 — are reported at plan,
//! before any call ([`check`]).
//!
//! Create and update: PutBucketLifecycleConfiguration, which replaces every rule (the create's retried while
//! a bucket created a moment before is not visible yet). Delete: DeleteBucketLifecycle; a gone bucket is
//! done. Read: one GetBucketLifecycleConfiguration per bucket, at most 8 at once; `NoSuchBucket` and
//! `NoSuchLifecycleConfiguration` = gone.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration,
};

use super::{client, gone_or, int, per_bucket, put_config};
use crate::aws::{aws_err, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::resources::util::*;
use crate::schema::{Attribute, Schema, Type};
use crate::value::{Attrs, Value};

pub struct S3BucketLifecycleConfiguration;

const GONE: &str = "NoSuchLifecycleConfiguration";
/// The actions a rule may take; at least one per rule.
const ACTIONS: [&str; 3] = ["expiration", "noncurrent_version_expiration", "abort_incomplete_multipart_upload"];

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    let rule = Type::Object(vec![
        Attribute::string("id").required().describe("Unique name of the rule (up to 255 characters)."),
        Attribute::string("status").required().one_of(&["Enabled", "Disabled"]).describe("Enabled or Disabled."),
        Attribute::new(
            "filter",
            Type::Object(vec![Attribute::string("prefix").describe("Key prefix of the objects the rule applies to.")]),
        )
        .describe("Which objects: `{ prefix = \"logs/\" }`; every object when left out."),
        Attribute::new(
            "expiration",
            Type::Object(vec![Attribute::number("days").required().describe("Days after creation (at least 1).")]),
        )
        .describe("Expire current object versions: `{ days = 365 }`."),
        Attribute::new(
            "noncurrent_version_expiration",
            Type::Object(vec![
                Attribute::number("noncurrent_days")
                    .required()
                    .describe("Days after a version becomes noncurrent (at least 1)."),
                Attribute::number("newer_noncurrent_versions")
                    .describe("Keep this many newer noncurrent versions regardless (1 to 100)."),
            ]),
        )
        .describe("Delete old versions: `{ noncurrent_days = 90, newer_noncurrent_versions = 10 }`."),
        Attribute::new(
            "abort_incomplete_multipart_upload",
            Type::Object(vec![Attribute::number("days_after_initiation")
                .required()
                .describe("Days after an upload began (at least 1).")]),
        )
        .describe("Abort multipart uploads left incomplete: `{ days_after_initiation = 7 }`."),
    ]);
    Schema::new("s3_bucket_lifecycle_configuration", "The lifecycle rules of an S3 bucket.")
        .attr(Attribute::string("bucket").required().forces_new().describe("Name of the bucket."))
        .attr(Attribute::new("rule", Type::list(rule)).required().describe("The lifecycle rules (at least one)."))
});

/// Rules sorted by id, a filter without a prefix dropped (it is the whole bucket), nulls dropped.
pub(crate) fn normalize_rules(v: &Value) -> Option<Value> {
    let rules = v.as_list()?;
    let mut out: Vec<Value> = Vec::with_capacity(rules.len());
    for r in rules {
        let Value::Map(m) = r else { return None };
        let mut m: BTreeMap<String, Value> =
            m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect();
        let whole_bucket = match m.get("filter") {
            Some(Value::Map(f)) => f.get("prefix").is_none_or(|p| p.is_null() || p.as_str() == Some("")),
            _ => false,
        };
        if whole_bucket {
            m.remove("filter");
        }
        out.push(Value::Map(m));
    }
    if out.iter().all(|r| r.get("id").and_then(Value::as_str).is_some()) {
        out.sort_by(|a, b| a.get("id").and_then(Value::as_str).cmp(&b.get("id").and_then(Value::as_str)));
    }
    Some(Value::List(out))
}

/// The mistakes S3 would refuse, found before any call.
pub(crate) fn check(cfg: &Attrs) -> Result<(), String> {
    let Some(rules) = cfg.get("rule").and_then(Value::as_list) else { return Ok(()) };
    if rules.is_empty() {
        return Err("`rule` is empty: a lifecycle configuration needs at least one rule".into());
    }
    let mut ids = BTreeSet::new();
    for (i, r) in rules.iter().enumerate() {
        let Some(id) = r.get("id").and_then(Value::as_str) else { continue };
        let at = format!("rule[{i}] (`{id}`)");
        if id.is_empty() || id.len() > 255 {
            return Err(format!("rule[{i}]: `id` must be 1 to 255 characters"));
        }
        if !ids.insert(id) {
            return Err(format!("{at}: another rule has the id `{id}`; rule ids must be unique"));
        }
        if ACTIONS.iter().all(|a| r.get(a).is_none_or(Value::is_null)) {
            return Err(format!("{at} has no action: add at least one of {}", ACTIONS.join(", ")));
        }
        for (block, field, min, max) in [
            ("expiration", "days", 1, i64::from(i32::MAX)),
            ("noncurrent_version_expiration", "noncurrent_days", 1, i64::from(i32::MAX)),
            ("noncurrent_version_expiration", "newer_noncurrent_versions", 1, 100),
            ("abort_incomplete_multipart_upload", "days_after_initiation", 1, i64::from(i32::MAX)),
        ] {
            let Some(v) = r.get(block).and_then(|b| b.get(field)).filter(|v| v.is_known() && !v.is_null()) else {
                continue;
            };
            if !v.as_i64().is_some_and(|n| (min..=max).contains(&n)) {
                let range =
                    if max == 100 { format!("{min} to {max}") } else { format!("a whole number, at least {min}") };
                return Err(format!("{at}: `{block}.{field}` is {v}; it must be {range}"));
            }
        }
    }
    Ok(())
}

/// A rule as S3 reports it, as the `rule` element.
fn rule_value(r: &LifecycleRule) -> Value {
    let mut m = BTreeMap::new();
    m.insert("id".to_owned(), Value::str(r.id().unwrap_or_default()));
    m.insert("status".to_owned(), Value::str(r.status().as_str()));
    #[allow(deprecated)]
    let prefix = r.filter().and_then(LifecycleRuleFilter::prefix).or(r.prefix()).unwrap_or_default();
    if !prefix.is_empty() {
        m.insert("filter".to_owned(), Value::Map(BTreeMap::from([("prefix".to_owned(), Value::str(prefix))])));
    }
    if let Some(days) = r.expiration().and_then(LifecycleExpiration::days) {
        m.insert("expiration".to_owned(), Value::Map(BTreeMap::from([("days".to_owned(), Value::int(days.into()))])));
    }
    if let Some(n) = r.noncurrent_version_expiration() {
        let mut e = BTreeMap::new();
        if let Some(d) = n.noncurrent_days() {
            e.insert("noncurrent_days".to_owned(), Value::int(d.into()));
        }
        if let Some(k) = n.newer_noncurrent_versions() {
            e.insert("newer_noncurrent_versions".to_owned(), Value::int(k.into()));
        }
        m.insert("noncurrent_version_expiration".to_owned(), Value::Map(e));
    }
    if let Some(d) =
        r.abort_incomplete_multipart_upload().and_then(AbortIncompleteMultipartUpload::days_after_initiation)
    {
        m.insert(
            "abort_incomplete_multipart_upload".to_owned(),
            Value::Map(BTreeMap::from([("days_after_initiation".to_owned(), Value::int(d.into()))])),
        );
    }
    Value::Map(m)
}

fn sdk_rule(r: &Value) -> Result<LifecycleRule, ProviderError> {
    let field = |block: &str, name: &str| int(r.get(block).and_then(|b| b.get(name)));
    let prefix = r.get("filter").and_then(|f| f.get("prefix")).and_then(Value::as_str).unwrap_or_default();
    let mut b = LifecycleRule::builder()
        .id(r.get("id").and_then(Value::as_str).unwrap_or_default())
        .status(ExpirationStatus::from(r.get("status").and_then(Value::as_str).unwrap_or("Enabled")))
        .filter(LifecycleRuleFilter::builder().prefix(prefix).build());
    if let Some(days) = field("expiration", "days") {
        b = b.expiration(LifecycleExpiration::builder().days(days).build());
    }
    if let Some(days) = field("noncurrent_version_expiration", "noncurrent_days") {
        b = b.noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(days)
                .set_newer_noncurrent_versions(field("noncurrent_version_expiration", "newer_noncurrent_versions"))
                .build(),
        );
    }
    if let Some(days) = field("abort_incomplete_multipart_upload", "days_after_initiation") {
        b = b.abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder().days_after_initiation(days).build(),
        );
    }
    b.build().map_err(|e| ProviderError::new(format!("lifecycle rule: {e}")))
}

async fn put(cx: &Ctx, desired: &Attrs, just_created: bool) -> Result<Attrs, ProviderError> {
    check(desired).map_err(|m| ProviderError::with_code("InvalidRequest", m))?;
    let bucket = req_str(desired, "bucket")?;
    let rules = desired
        .get("rule")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .map(sdk_rule)
        .collect::<Result<Vec<_>, _>>()?;
    let conf = BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .map_err(|e| ProviderError::new(e.to_string()))?;
    put_config(
        cx,
        "PutBucketLifecycleConfiguration",
        desired,
        just_created,
        |_| false,
        || async {
            client(cx)
                .put_bucket_lifecycle_configuration()
                .bucket(bucket)
                .lifecycle_configuration(conf.clone())
                .send()
                .await
                .map_err(aws_err)
        },
    )
    .await
}

#[async_trait]
impl Resource for S3BucketLifecycleConfiguration {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn normalize(&self, attrs: &mut Attrs) {
        if let Some(n) = attrs.get("rule").and_then(normalize_rules) {
            attrs.insert("rule".into(), n);
        }
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        check(cfg)
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        per_bucket(ids, |bucket| async move {
            let r = client(cx).get_bucket_lifecycle_configuration().bucket(&bucket).send().await.map_err(aws_err);
            Ok(gone_ok_by(r, gone_or(GONE))?.map(|out| {
                Attrs::from([("rule".to_owned(), Value::List(out.rules().iter().map(rule_value).collect()))])
            }))
        })
        .await
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        let made = put(cx, desired, true).await?;
        checkpoint.created(&made).await;
        Ok(made)
    }

    async fn update(&self, cx: &Ctx, _prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        put(cx, desired, false).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let bucket = get_id(prior)?;
        let r = client(cx).delete_bucket_lifecycle().bucket(bucket).send().await.map_err(aws_err);
        gone_ok_by(r, gone_or(GONE)).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::canonical;
    use serde_json::json;

    fn cfg(rules: serde_json::Value) -> Attrs {
        SCHEMA.normalize(&Attrs::from([
            ("bucket".to_owned(), Value::str("b")),
            ("rule".to_owned(), Value::from_json(&rules)),
        ]))
    }

    #[test]
    fn rules_compare_by_id_and_an_empty_filter_is_the_whole_bucket() {
        let imp = S3BucketLifecycleConfiguration;
        let want = cfg(json!([
            {"id": "old-versions", "status": "Enabled", "noncurrent_version_expiration": {"noncurrent_days": 90}},
            {"id": "logs", "status": "Enabled", "filter": {"prefix": "logs/"}, "expiration": {"days": 30},
             "abort_incomplete_multipart_upload": {"days_after_initiation": 7}},
        ]));
        let reported = [
            LifecycleRule::builder()
                .id("logs")
                .status(ExpirationStatus::Enabled)
                .filter(LifecycleRuleFilter::builder().prefix("logs/").build())
                .expiration(LifecycleExpiration::builder().days(30).expired_object_delete_marker(false).build())
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder().days_after_initiation(7).build(),
                )
                .build()
                .unwrap(),
            LifecycleRule::builder()
                .id("old-versions")
                .status(ExpirationStatus::Enabled)
                .filter(LifecycleRuleFilter::builder().prefix("").build())
                .noncurrent_version_expiration(NoncurrentVersionExpiration::builder().noncurrent_days(90).build())
                .build()
                .unwrap(),
        ];
        let got = Attrs::from([
            ("bucket".to_owned(), Value::str("b")),
            ("rule".to_owned(), Value::List(reported.iter().map(rule_value).collect())),
        ]);
        assert_eq!(canonical(&imp, &want)["rule"], canonical(&imp, &got)["rule"]);
        // What is sent back reads back the same.
        let sent: Vec<LifecycleRule> = want["rule"].as_list().unwrap().iter().map(|r| sdk_rule(r).unwrap()).collect();
        let again = Attrs::from([("rule".to_owned(), Value::List(sent.iter().map(rule_value).collect()))]);
        assert_eq!(canonical(&imp, &want)["rule"], canonical(&imp, &again)["rule"]);
    }

    #[test]
    fn mistakes_are_found_before_any_call() {
        let ok = json!({"id": "a", "status": "Enabled", "expiration": {"days": 1}});
        assert_eq!(check(&cfg(json!([ok]))), Ok(()));
        assert!(check(&cfg(json!([]))).unwrap_err().contains("at least one rule"));
        assert!(check(&cfg(json!([ok, ok]))).unwrap_err().contains("must be unique"));
        let no_action = json!([{"id": "a", "status": "Enabled", "filter": {"prefix": "x/"}}]);
        assert!(check(&cfg(no_action)).unwrap_err().contains("has no action"));
        let zero = json!([{"id": "a", "status": "Enabled", "expiration": {"days": 0}}]);
        assert!(check(&cfg(zero)).unwrap_err().contains("`expiration.days` is 0"));
        let many = json!([{"id": "a", "status": "Enabled", "noncurrent_version_expiration": {"noncurrent_days": 1, "newer_noncurrent_versions": 101}}]);
        assert!(check(&cfg(many)).unwrap_err().contains("1 to 100"));
        let status = SCHEMA.attribute("rule").unwrap().check(&Value::from_json(&json!([{"id": "a", "status": "On"}])));
        assert!(status.unwrap_err().message.contains("not one of Enabled, Disabled"));
    }
}
