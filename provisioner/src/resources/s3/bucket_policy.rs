//! `s3_bucket_policy`: a bucket's resource policy (terraform-provider-aws's `aws_s3_bucket_policy`). Id = the
//! bucket name (what `import` takes). Not taggable.
//!
//! `policy` is a table or a JSON string, compared as IAM compares policy documents (`iam::policy`: keys
//! sorted, arrays as sets, one-element arrays as their element, an account's root ARN as its id), so the
//! way S3 returns it is no drift. Create and update: PutBucketPolicy, retried for up to 2 minutes while a
//! bucket created a moment before is not visible yet (create only) and while S3 does not yet know a
//! principal created a moment before ("Invalid principal in policy", as terraform-provider-aws retries).
//! Delete: DeleteBucketPolicy; a gone bucket or policy is done. Read: one GetBucketPolicy per bucket, at
//! most 8 at once; `NoSuchBucket` and `NoSuchBucketPolicy` = gone.

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;

use super::{client, gone_or, per_bucket, put_config};
use crate::aws::{aws_err, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::resources::iam::policy;
use crate::resources::util::*;
use crate::schema::{Attribute, Schema, Type};
use crate::value::{Attrs, Value};

pub struct S3BucketPolicy;

const GONE: &str = "NoSuchBucketPolicy";

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("s3_bucket_policy", "The resource policy of an S3 bucket.")
        .attr(Attribute::string("bucket").required().forces_new().describe("Name of the bucket."))
        .attr(
            Attribute::new("policy", Type::Any)
                .required()
                .describe("Policy document: a table or a JSON string; compared as IAM compares policies."),
        )
});

/// "Invalid principal in policy": a principal (a role) created a moment before, not yet known to S3.
fn is_invalid_principal(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("MalformedPolicy") && e.message.to_ascii_lowercase().contains("invalid principal")
}

async fn put(cx: &Ctx, desired: &Attrs, just_created: bool) -> Result<Attrs, ProviderError> {
    let bucket = req_str(desired, "bucket")?;
    let doc = policy::text(desired, "policy")?;
    put_config(cx, "PutBucketPolicy", desired, just_created, is_invalid_principal, || async {
        client(cx).put_bucket_policy().bucket(bucket).policy(&doc).send().await.map_err(aws_err)
    })
    .await
}

#[async_trait]
impl Resource for S3BucketPolicy {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn normalize(&self, attrs: &mut Attrs) {
        policy::normalize_attr(attrs, "policy");
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        match cfg.get("policy") {
            Some(v @ Value::String(s)) if policy::canonical_json(v).is_none() => {
                Err(format!("`policy` is not a JSON policy document: {}", s.chars().take(60).collect::<String>()))
            }
            Some(Value::String(_) | Value::Map(_) | Value::Unknown) | None => Ok(()),
            Some(other) => Err(format!("`policy` must be a table or a JSON string, found {}", other.type_name())),
        }
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        per_bucket(ids, |bucket| async move {
            let r = client(cx).get_bucket_policy().bucket(&bucket).send().await.map_err(aws_err);
            Ok(gone_ok_by(r, gone_or(GONE))?.map(|out| {
                let doc = out.policy().unwrap_or_default();
                Attrs::from([("policy".to_owned(), Value::str(policy::from_aws(doc)))])
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
        let r = client(cx).delete_bucket_policy().bucket(bucket).send().await.map_err(aws_err);
        gone_ok_by(r, gone_or(GONE)).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_table_and_the_json_s3_returns_compare_equal() {
        let table = Value::from_json(&json!({
            "Version": "2012-10-17",
            "Statement": [{"Sid": "TLS", "Effect": "Deny", "Principal": "*", "Action": ["s3:*"],
                           "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                           "Condition": {"Bool": {"aws:SecureTransport": false}}}]
        }));
        let returned = r#"{"Version":"2012-10-17","Statement":[{"Sid":"TLS","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b/*","arn:aws:s3:::b"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
        let mut a = Attrs::from([("policy".to_owned(), table)]);
        let mut b = Attrs::from([("policy".to_owned(), Value::str(policy::from_aws(returned)))]);
        S3BucketPolicy.normalize(&mut a);
        S3BucketPolicy.normalize(&mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn validation_locates_a_policy_that_is_not_json() {
        let v = |p: Value| S3BucketPolicy.validate(&Attrs::from([("policy".to_owned(), p)]));
        assert!(v(Value::str("{\"Statement\": []}")).is_ok());
        assert!(v(Value::str("allow everything")).unwrap_err().contains("not a JSON policy document"));
        assert!(v(Value::int(3)).unwrap_err().contains("table or a JSON string"));
        assert!(is_invalid_principal(&ProviderError::with_code("MalformedPolicy", "Invalid principal in policy")));
        assert!(!is_invalid_principal(&ProviderError::with_code("MalformedPolicy", "Policy has invalid resource")));
    }
}
