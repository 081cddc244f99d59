//! S3 resource types, as terraform-provider-aws's `internal/service/s3`: the bucket (`s3_bucket`) and its
//! configurations, each a type of its own whose id is the bucket name (Terraform's import ID):
//! `s3_bucket_versioning`, `s3_bucket_server_side_encryption_configuration`,
//! `s3_bucket_public_access_block`, `s3_bucket_policy`, `s3_bucket_lifecycle_configuration`. Registered in
//! `resources/mod.rs`.
//!
//! Shared here: the S3 client ([`client`]), S3's error codes (every read treats `NoSuchBucket` as gone), and
//! the read of one configuration aspect of many buckets ([`per_bucket`]). S3 has no batch read of bucket
//! configurations: each aspect is one call per bucket (GetBucketVersioning, GetBucketEncryption, …), made
//! concurrently (at most 8 in flight, one round trip for a usual stack). The aspects are distinct APIs, so
//! the child types share no read; the bucket's own refresh shares the stack's Tagging API listing
//! (`resources::util::stack_listed`) with the other services.

pub mod bucket;
pub mod bucket_lifecycle_configuration;
pub mod bucket_policy;
pub mod bucket_public_access_block;
pub mod bucket_server_side_encryption_configuration;
pub mod bucket_versioning;

use std::collections::HashMap;
use std::future::Future;

use futures::{StreamExt, TryStreamExt};

use crate::aws::{Ctx, ProviderError};
use crate::resources::util::{retry_propagation, with_id};
use crate::value::{Attrs, Value};

/// The S3 client of `cx`, built once with the shared SDK configuration and the call counter. With an
/// endpoint configured (an emulator or an S3-compatible store) it addresses buckets path-style and sends
/// checksums only where S3 requires them, as the state backend's client does (`stack.rs`).
pub(crate) fn client(cx: &Ctx) -> aws_sdk_s3::Client {
    cx.client(|sdk, calls| {
        let mut conf = aws_sdk_s3::config::Builder::from(sdk).interceptor(calls);
        if sdk.endpoint_url().is_some() {
            conf = conf
                .force_path_style(true)
                .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired);
        }
        aws_sdk_s3::Client::from_conf(conf.build())
    })
}

/// `NoSuchBucket`: the bucket is gone (every read of a bucket or of its configurations treats it so).
pub(crate) fn no_such_bucket(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("NoSuchBucket")
}

/// The bucket is gone, or its configuration `code` is (`NoSuchBucketPolicy`, `NoSuchLifecycleConfiguration`, …).
pub(crate) fn gone_or(code: &'static str) -> impl Fn(&ProviderError) -> bool {
    move |e: &ProviderError| no_such_bucket(e) || e.code.as_deref() == Some(code)
}

/// The distinct non-empty bucket names of `ids`.
pub(crate) fn bucket_names(ids: &[String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().filter(|s| !s.is_empty()).cloned().collect();
    v.sort();
    v.dedup();
    v
}

/// Reads one aspect of each bucket named in `ids` with `read(bucket)` (`None`: the bucket or the aspect is
/// gone), at most 8 at once. The attributes get `id` and `bucket` (= the bucket name).
pub(crate) async fn per_bucket<F, Fut>(ids: &[String], read: F) -> Result<HashMap<String, Attrs>, ProviderError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Option<Attrs>, ProviderError>> + Send,
{
    // Futures collected first: a stream over the closure is not provably `Send` inside `async_trait`.
    let futs: Vec<_> = bucket_names(ids)
        .into_iter()
        .map(|b| {
            let fut = read(b.clone());
            async move { Ok::<_, ProviderError>(fut.await?.map(|a| (b, a))) }
        })
        .collect();
    let found: Vec<Option<(String, Attrs)>> = futures::stream::iter(futs).buffer_unordered(8).try_collect().await?;
    Ok(found
        .into_iter()
        .flatten()
        .map(|(b, mut a)| {
            a.insert("id".into(), Value::str(&b));
            a.insert("bucket".into(), Value::str(&b));
            (b, a)
        })
        .collect())
}

/// Runs `put` (the call that sets a bucket configuration); `just_created`: retried while the bucket, created a
/// moment before, is not visible yet (`NoSuchBucket`, up to 2 minutes; terraform-provider-aws's
/// `propagationTimeout`), or while S3 answers `OperationAborted` (a conflicting operation on the bucket in
/// flight), or while `also_retry` holds. Returns `desired` with `id` = the bucket: what create checkpoints and update returns (bucket
/// configurations are eventually consistent, so an immediate read-back could see the previous one).
pub(crate) async fn put_config<T, F, Fut>(
    cx: &Ctx,
    what: &str,
    desired: &Attrs,
    just_created: bool,
    also_retry: impl Fn(&ProviderError) -> bool,
    put: F,
) -> Result<Attrs, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let bucket = crate::resources::util::req_str(desired, "bucket")?;
    let retryable = |e: &ProviderError| (just_created && no_such_bucket(e)) || is_aborted(e) || also_retry(e);
    retry_propagation(cx, what, retryable, put).await?;
    Ok(with_id(desired, bucket))
}

/// `OperationAborted`: "A conflicting conditional operation is currently in progress against this
/// resource. Please try again." Retryable.
pub(crate) fn is_aborted(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("OperationAborted")
}

/// An integer attribute (TOML numbers arrive as floats) as S3's `i32`.
pub(crate) fn int(v: Option<&Value>) -> Option<i32> {
    v.and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_codes() {
        let e = |c: &str| ProviderError::with_code(c, "m");
        assert!(no_such_bucket(&e("NoSuchBucket")));
        assert!(!no_such_bucket(&e("NoSuchBucketPolicy")));
        let gone = gone_or("NoSuchBucketPolicy");
        assert!(gone(&e("NoSuchBucket")) && gone(&e("NoSuchBucketPolicy")));
        assert!(!gone(&e("AccessDenied")));
        assert_eq!(bucket_names(&["b".into(), "".into(), "a".into(), "b".into()]), ["a", "b"]);
        assert_eq!(int(Some(&Value::Number(30.0))), Some(30));
        assert_eq!(int(Some(&Value::str("x"))), None);
    }
}
