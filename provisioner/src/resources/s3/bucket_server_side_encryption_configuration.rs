//! `s3_bucket_server_side_encryption_configuration`: a bucket's default encryption (terraform-provider-aws's
//! `aws_s3_bucket_server_side_encryption_configuration`). Id = the bucket name (what `import` takes). Not
//! taggable.
//!
//! `rule = { apply_server_side_encryption_by_default = { sse_algorithm, kms_master_key_id },
//! bucket_key_enabled }` — S3 takes exactly one rule. Since January 2023 every bucket is encrypted: a bucket
//! without a configuration of its own reports the default, SSE-S3 (`AES256`), so reading one whose
//! configuration was deleted — or that never had one — gives that default, not "gone" (an older S3, or a
//! store answering `ServerSideEncryptionConfigurationNotFoundError`, is read the same way). A
//! `kms_master_key_id` left out of the configuration is not compared (S3 may report the key it uses).
//!
//! Create and update: PutBucketEncryption (the create's retried while a bucket created a moment before is
//! not visible yet). Delete: DeleteBucketEncryption, after which S3 reports the default; a gone bucket is
//! done. Read: one GetBucketEncryption per bucket, at most 8 at once; `NoSuchBucket` = gone.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};

use super::{client, no_such_bucket, per_bucket, put_config};
use crate::aws::{aws_err, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::resources::util::*;
use crate::schema::{Attribute, Schema, Type};
use crate::value::{Attrs, Value};

pub struct S3BucketServerSideEncryptionConfiguration;

/// SSE-S3, what a bucket without a configuration of its own uses.
const DEFAULT_ALGORITHM: &str = "AES256";
const KMS_ALGORITHMS: &[&str] = &["aws:kms", "aws:kms:dsse"];

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    let by_default = Type::Object(vec![
        Attribute::string("sse_algorithm")
            .required()
            .one_of(&["AES256", "aws:kms", "aws:kms:dsse"])
            .describe("AES256 (SSE-S3), aws:kms (SSE-KMS) or aws:kms:dsse."),
        Attribute::string("kms_master_key_id")
            .describe("KMS key id or ARN (aws:kms, aws:kms:dsse); AWS's aws/s3 key when left out."),
    ]);
    let rule = Type::Object(vec![
        Attribute::new("apply_server_side_encryption_by_default", by_default)
            .describe("`{ sse_algorithm = \"aws:kms\", kms_master_key_id = \"…\" }`."),
        Attribute::bool("bucket_key_enabled")
            .default(false)
            .describe("Use an S3 Bucket Key for SSE-KMS (fewer KMS requests)."),
    ]);
    Schema::new("s3_bucket_server_side_encryption_configuration", "The default encryption of an S3 bucket.")
        .attr(Attribute::string("bucket").required().forces_new().describe("Name of the bucket."))
        .attr(Attribute::new("rule", Type::set(rule)).required().describe("One encryption rule."))
});

fn rules(attrs: &Attrs) -> &[Value] {
    attrs.get("rule").and_then(Value::as_list).unwrap_or_default()
}

fn by_default(rule: &Value) -> Option<&Value> {
    rule.get("apply_server_side_encryption_by_default").filter(|v| !v.is_null())
}

/// The configuration's mistakes S3 would refuse: not exactly one rule, a KMS key without KMS.
fn check(cfg: &Attrs) -> Result<(), String> {
    if let Some(Value::List(rules)) = cfg.get("rule") {
        if rules.len() != 1 {
            return Err(format!("`rule` holds {} rules; S3 takes exactly one: `rule = {{ … }}`", rules.len()));
        }
        if let Some(d) = by_default(&rules[0]) {
            let alg = d.get("sse_algorithm").and_then(Value::as_str);
            let key = d.get("kms_master_key_id").and_then(Value::as_str);
            if let (Some(alg), Some(_)) = (alg, key) {
                if !KMS_ALGORITHMS.contains(&alg) {
                    return Err(format!(
                        "`kms_master_key_id` applies only to aws:kms and aws:kms:dsse, not to {alg}: remove it or set `sse_algorithm = \"aws:kms\"`"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The `rule` value of what S3 reports.
fn rule_value(rule: &ServerSideEncryptionRule) -> Value {
    let mut r = BTreeMap::new();
    if let Some(d) = rule.apply_server_side_encryption_by_default() {
        let mut m = BTreeMap::from([("sse_algorithm".to_owned(), Value::str(d.sse_algorithm().as_str()))]);
        if let Some(k) = d.kms_master_key_id().filter(|k| !k.is_empty()) {
            m.insert("kms_master_key_id".to_owned(), Value::str(k));
        }
        r.insert("apply_server_side_encryption_by_default".to_owned(), Value::Map(m));
    }
    r.insert("bucket_key_enabled".to_owned(), Value::Bool(rule.bucket_key_enabled().unwrap_or(false)));
    Value::Map(r)
}

/// The configuration of a bucket without one of its own: SSE-S3.
fn default_rule() -> Value {
    Value::Map(BTreeMap::from([
        (
            "apply_server_side_encryption_by_default".to_owned(),
            Value::Map(BTreeMap::from([("sse_algorithm".to_owned(), Value::str(DEFAULT_ALGORITHM))])),
        ),
        ("bucket_key_enabled".to_owned(), Value::Bool(false)),
    ]))
}

fn sdk_rules(desired: &Attrs) -> Result<ServerSideEncryptionConfiguration, ProviderError> {
    let rules = rules(desired)
        .iter()
        .map(|r| {
            let by_default = by_default(r)
                .map(|d| {
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::from(
                            d.get("sse_algorithm").and_then(Value::as_str).unwrap_or(DEFAULT_ALGORITHM),
                        ))
                        .set_kms_master_key_id(d.get("kms_master_key_id").and_then(Value::as_str).map(str::to_owned))
                        .build()
                        .map_err(|e| ProviderError::new(e.to_string()))
                })
                .transpose()?;
            Ok(ServerSideEncryptionRule::builder()
                .set_apply_server_side_encryption_by_default(by_default)
                .bucket_key_enabled(r.get("bucket_key_enabled").and_then(Value::as_bool).unwrap_or(false))
                .build())
        })
        .collect::<Result<Vec<_>, ProviderError>>()?;
    ServerSideEncryptionConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .map_err(|e| ProviderError::new(e.to_string()))
}

async fn put(cx: &Ctx, desired: &Attrs, just_created: bool) -> Result<Attrs, ProviderError> {
    check(desired).map_err(|m| ProviderError::with_code("InvalidRequest", m))?;
    let bucket = req_str(desired, "bucket")?;
    let conf = sdk_rules(desired)?;
    put_config(
        cx,
        "PutBucketEncryption",
        desired,
        just_created,
        |_| false,
        || async {
            client(cx)
                .put_bucket_encryption()
                .bucket(bucket)
                .server_side_encryption_configuration(conf.clone())
                .send()
                .await
                .map_err(aws_err)
        },
    )
    .await
}

#[async_trait]
impl Resource for S3BucketServerSideEncryptionConfiguration {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        check(cfg)
    }

    /// A `kms_master_key_id` the configuration leaves out is not compared: S3 may report the key it uses.
    fn reconcile(&self, cfg: &Attrs, actual: &mut Attrs) {
        let configured_key =
            rules(cfg).iter().any(|r| by_default(r).and_then(|d| d.get("kms_master_key_id")).is_some());
        if configured_key {
            return;
        }
        if let Some(Value::List(rules)) = actual.get_mut("rule") {
            for r in rules.iter_mut() {
                if let Value::Map(r) = r {
                    if let Some(Value::Map(d)) = r.get_mut("apply_server_side_encryption_by_default") {
                        d.remove("kms_master_key_id");
                    }
                }
            }
        }
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        per_bucket(ids, |bucket| async move {
            let r = client(cx).get_bucket_encryption().bucket(&bucket).send().await.map_err(aws_err);
            let rules = match r {
                Ok(out) => {
                    let rules: Vec<Value> = out
                        .server_side_encryption_configuration()
                        .map(|c| c.rules().iter().map(rule_value).collect())
                        .unwrap_or_default();
                    if rules.is_empty() {
                        vec![default_rule()]
                    } else {
                        rules
                    }
                }
                Err(e) if e.code.as_deref() == Some("ServerSideEncryptionConfigurationNotFoundError") => {
                    vec![default_rule()]
                }
                Err(e) if no_such_bucket(&e) => return Ok(None),
                Err(e) => return Err(e),
            };
            Ok(Some(Attrs::from([("rule".to_owned(), Value::List(rules))])))
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
        let r = client(cx).delete_bucket_encryption().bucket(bucket).send().await.map_err(aws_err);
        gone_ok_by(r, no_such_bucket).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::canonical;
    use serde_json::json;

    fn cfg(rule: serde_json::Value) -> Attrs {
        let a = Attrs::from([("bucket".to_owned(), Value::str("b")), ("rule".to_owned(), Value::from_json(&rule))]);
        SCHEMA.normalize(&a)
    }

    #[test]
    fn one_rule_and_kms_keys_only_with_kms() {
        assert!(check(&cfg(json!([{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}]))).is_ok());
        let two = cfg(json!([{"bucket_key_enabled": true}, {"bucket_key_enabled": false}]));
        assert!(check(&two).unwrap_err().contains("exactly one"));
        let bad = cfg(
            json!([{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256", "kms_master_key_id": "k"}}]),
        );
        assert!(check(&bad).unwrap_err().contains("only to aws:kms"));
    }

    #[test]
    fn the_default_reads_as_sse_s3_and_an_unconfigured_key_is_not_compared() {
        let imp = S3BucketServerSideEncryptionConfiguration;
        let want = cfg(json!([{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}]));
        let got = Attrs::from([
            ("bucket".to_owned(), Value::str("b")),
            ("rule".to_owned(), Value::List(vec![default_rule()])),
        ]);
        assert_eq!(canonical(&imp, &want)["rule"], canonical(&imp, &got)["rule"]);

        let want = cfg(
            json!([{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"}, "bucket_key_enabled": true}]),
        );
        let reported = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::AwsKms)
                    .kms_master_key_id("arn:aws:kms:us-east-1:123:alias/aws/s3")
                    .build()
                    .unwrap(),
            )
            .bucket_key_enabled(true)
            .build();
        let mut got = Attrs::from([
            ("bucket".to_owned(), Value::str("b")),
            ("rule".to_owned(), Value::List(vec![rule_value(&reported)])),
        ]);
        imp.reconcile(&want, &mut got);
        assert_eq!(canonical(&imp, &want)["rule"], canonical(&imp, &got)["rule"]);
        // A configured key is compared.
        let keyed = cfg(
            json!([{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": "other"}}]),
        );
        let mut got = Attrs::from([("rule".to_owned(), Value::List(vec![rule_value(&reported)]))]);
        imp.reconcile(&keyed, &mut got);
        assert_ne!(canonical(&imp, &keyed)["rule"], canonical(&imp, &got)["rule"]);
    }
}
