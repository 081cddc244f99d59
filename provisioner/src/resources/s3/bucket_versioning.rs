//! `s3_bucket_versioning`: the versioning state of a bucket (terraform-provider-aws's
//! `aws_s3_bucket_versioning`, without `mfa` / `mfa_delete`). Id = the bucket name (what `import` takes).
//! Not taggable.
//!
//! `versioning_configuration = { status = "Enabled" | "Suspended" | "Disabled" }`. A bucket that was never
//! versioned reports no status, read as `Disabled`; S3 cannot return a bucket to that state, so `Disabled`
//! is only valid when creating (it sends nothing, as Terraform does), and an update to it fails with the way
//! out (`Suspended`). Create and update: PutBucketVersioning (the create's retried while a bucket created a
//! moment before is not visible yet). Delete suspends versioning (PutBucketVersioning `Suspended`), as
//! Terraform does, or does nothing when the bucket was never versioned; a gone bucket is done.
//! Read: one GetBucketVersioning per bucket, at most 8 at once; `NoSuchBucket` = gone.

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};

use super::{client, no_such_bucket, per_bucket, put_config};
use crate::aws::{aws_err, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::resources::util::*;
use crate::schema::{Attribute, Schema, Type};
use crate::value::{Attrs, Value};

pub struct S3BucketVersioning;

/// The status of a bucket that was never versioned.
const DISABLED: &str = "Disabled";

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("s3_bucket_versioning", "The versioning state of an S3 bucket.")
        .attr(Attribute::string("bucket").required().forces_new().describe("Name of the bucket."))
        .attr(
            Attribute::new(
                "versioning_configuration",
                Type::Object(vec![Attribute::string("status")
                    .required()
                    .one_of(&["Enabled", "Suspended", "Disabled"])
                    .describe("Enabled, Suspended, or Disabled (only when creating: a bucket never versioned).")]),
            )
            .required()
            .describe("`{ status = \"Enabled\" }`."),
        )
});

fn status(attrs: &Attrs) -> &str {
    attrs.get("versioning_configuration").and_then(|c| c.get("status")).and_then(Value::as_str).unwrap_or(DISABLED)
}

fn config_value(status: &str) -> Value {
    Value::Map([("status".to_owned(), Value::str(status))].into())
}

async fn put(cx: &Ctx, desired: &Attrs, status: &str, just_created: bool) -> Result<Attrs, ProviderError> {
    let bucket = req_str(desired, "bucket")?;
    let conf = VersioningConfiguration::builder().status(BucketVersioningStatus::from(status)).build();
    put_config(
        cx,
        "PutBucketVersioning",
        desired,
        just_created,
        |_| false,
        || async {
            client(cx)
                .put_bucket_versioning()
                .bucket(bucket)
                .versioning_configuration(conf.clone())
                .send()
                .await
                .map_err(aws_err)
        },
    )
    .await
}

#[async_trait]
impl Resource for S3BucketVersioning {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        per_bucket(ids, |bucket| async move {
            let r = client(cx).get_bucket_versioning().bucket(&bucket).send().await.map_err(aws_err);
            Ok(gone_ok_by(r, no_such_bucket)?.map(|out| {
                let s = out.status().map(|s| s.as_str()).filter(|s| !s.is_empty()).unwrap_or(DISABLED);
                Attrs::from([("versioning_configuration".to_owned(), config_value(s))])
            }))
        })
        .await
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        let made = match status(desired) {
            DISABLED => with_id(desired, req_str(desired, "bucket")?),
            s => put(cx, desired, s, true).await?,
        };
        checkpoint.created(&made).await;
        Ok(made)
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        match status(desired) {
            DISABLED if status(prior) != DISABLED => Err(ProviderError::with_code(
                "InvalidBucketState",
                format!(
                    "versioning of S3 bucket `{}` is {}: S3 cannot turn a versioned bucket back into one never \
                     versioned; set `versioning_configuration = {{ status = \"Suspended\" }}` instead",
                    get_id(prior)?,
                    status(prior)
                ),
            )),
            DISABLED => Ok(with_id(desired, get_id(prior)?)),
            s => put(cx, desired, s, false).await,
        }
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        if status(prior) == DISABLED {
            return Ok(());
        }
        let r = put(cx, prior, "Suspended", false).await;
        gone_ok_by(r, no_such_bucket).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_a_checked_enum() {
        let a = SCHEMA.attribute("versioning_configuration").unwrap();
        assert!(a.check(&config_value("Enabled")).is_ok());
        let e = a.check(&config_value("On")).unwrap_err();
        assert_eq!(e.path, ".status");
        assert!(e.message.contains("not one of Enabled, Suspended, Disabled"), "{e:?}");
        assert_eq!(status(&Attrs::new()), DISABLED);
        assert!(SCHEMA.attribute("bucket").unwrap().forces_replacement);
    }
}
