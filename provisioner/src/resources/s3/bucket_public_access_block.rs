//! `s3_bucket_public_access_block`: a bucket's Block Public Access settings (terraform-provider-aws's
//! `aws_s3_bucket_public_access_block`). Id = the bucket name (what `import` takes). Not taggable.
//!
//! Four switches, each `false` unless configured, as in Terraform. Create and update:
//! PutPublicAccessBlock (the create's retried while a bucket created a moment before is not visible yet).
//! Delete: DeletePublicAccessBlock; a gone bucket or configuration is done. Read: one GetPublicAccessBlock
//! per bucket, at most 8 at once; `NoSuchBucket` and `NoSuchPublicAccessBlockConfiguration` = gone.

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_s3::types::PublicAccessBlockConfiguration;

use super::{client, gone_or, per_bucket, put_config};
use crate::aws::{aws_err, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::resources::util::*;
use crate::schema::{Attribute, Schema};
use crate::value::{Attrs, Value};

pub struct S3BucketPublicAccessBlock;

const GONE: &str = "NoSuchPublicAccessBlockConfiguration";

/// The four settings, in the order S3 documents them.
const SWITCHES: [&str; 4] =
    ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"];

static SCHEMA: LazyLock<Schema> =
    LazyLock::new(|| {
        Schema::new("s3_bucket_public_access_block", "The Block Public Access settings of an S3 bucket.")
            .attr(Attribute::string("bucket").required().forces_new().describe("Name of the bucket."))
            .attr(Attribute::bool("block_public_acls").default(false).describe("Reject requests that set public ACLs."))
            .attr(
                Attribute::bool("block_public_policy")
                    .default(false)
                    .describe("Reject bucket policies that grant public access."),
            )
            .attr(
                Attribute::bool("ignore_public_acls")
                    .default(false)
                    .describe("Ignore public ACLs on the bucket and its objects."),
            )
            .attr(Attribute::bool("restrict_public_buckets").default(false).describe(
                "Only AWS principals and the bucket owner's account may access a bucket with a public policy.",
            ))
    });

async fn put(cx: &Ctx, desired: &Attrs, just_created: bool) -> Result<Attrs, ProviderError> {
    let bucket = req_str(desired, "bucket")?;
    let conf = PublicAccessBlockConfiguration::builder()
        .block_public_acls(get_bool(desired, "block_public_acls", false))
        .block_public_policy(get_bool(desired, "block_public_policy", false))
        .ignore_public_acls(get_bool(desired, "ignore_public_acls", false))
        .restrict_public_buckets(get_bool(desired, "restrict_public_buckets", false))
        .build();
    put_config(
        cx,
        "PutPublicAccessBlock",
        desired,
        just_created,
        |_| false,
        || async {
            client(cx)
                .put_public_access_block()
                .bucket(bucket)
                .public_access_block_configuration(conf.clone())
                .send()
                .await
                .map_err(aws_err)
        },
    )
    .await
}

#[async_trait]
impl Resource for S3BucketPublicAccessBlock {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        per_bucket(ids, |bucket| async move {
            let r = client(cx).get_public_access_block().bucket(&bucket).send().await.map_err(aws_err);
            Ok(gone_ok_by(r, gone_or(GONE))?.map(|out| {
                let c = out.public_access_block_configuration();
                let values = [
                    c.and_then(|c| c.block_public_acls()),
                    c.and_then(|c| c.block_public_policy()),
                    c.and_then(|c| c.ignore_public_acls()),
                    c.and_then(|c| c.restrict_public_buckets()),
                ];
                SWITCHES.iter().zip(values).map(|(k, v)| ((*k).to_owned(), Value::Bool(v.unwrap_or(false)))).collect()
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
        let r = client(cx).delete_public_access_block().bucket(bucket).send().await.map_err(aws_err);
        gone_ok_by(r, gone_or(GONE)).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_switch_defaults_to_false() {
        let n = SCHEMA.normalize(&Attrs::from([("bucket".to_owned(), Value::str("b"))]));
        for s in SWITCHES {
            assert_eq!(n[s], Value::Bool(false), "{s}");
        }
    }
}
