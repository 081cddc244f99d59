//! `s3_bucket`: an S3 general purpose bucket (terraform-provider-aws's `aws_s3_bucket`, without the
//! deprecated inline `versioning`, `server_side_encryption_configuration`, `lifecycle_rule`, `policy`, …:
//! those are the `s3_bucket_*` types). Id = the bucket name (what `import` takes).
//!
//! The name is `bucket`, else `bucket_prefix` + Terraform's unique suffix, else `terraform-` + that suffix;
//! S3's naming rules are checked at plan ([`check_name`]), before any call. Bucket names are global across
//! all AWS accounts.
//!
//! Create is one CreateBucket carrying every tag in its CreateBucketConfiguration (the bucket never exists
//! untagged, so a crash leaves nothing the stack's tag search cannot find) and, outside us-east-1, the
//! LocationConstraint of the client's region. `BucketAlreadyExists` (another account has the name) fails
//! with a hint; `BucketAlreadyOwnedByYou` — and, in us-east-1, where CreateBucket of a bucket one already
//! owns answers 200 for legacy compatibility, a HeadBucket made first — finds an existing bucket of this
//! account: it is taken only when it carries this instance's tool tags (a retried create whose answer was
//! lost), otherwise the error names it and says how to import it. Retried: `OperationAborted` (a bucket of
//! that name being deleted or created a moment before). Then the checkpoint, then the read-back.
//!
//! Update: PutBucketTagging with the full tag set (S3 replaces the whole set), DeleteBucketTagging when none
//! is left; `force_destroy` is only stored (no call), as in Terraform. Delete: DeleteBucket; S3 refuses a
//! bucket that holds objects (`BucketNotEmpty`), which fails with a hint unless `force_destroy` is set: then
//! every object version and delete marker is deleted first (ListObjectVersions pages of 1000, one
//! DeleteObjects per page), as Terraform does. `NoSuchBucket` = already gone.
//!
//! Read: per bucket, GetBucketLocation (its region; `NoSuchBucket` = gone) and GetBucketTagging
//! (`NoSuchTagSet` = no tags) at the same time, buckets 8 at once: 2 calls per bucket, one round trip.
//! `read_stack`: the stack's buckets come from the Resource Groups Tagging API's listing with their tags
//! (`resources::util::stack_listed`, one call shared with the other services), so a listed bucket needs
//! only its GetBucketLocation; tracked buckets the listing misses (imported, tags stripped) are read as by
//! `read`.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier, Tag, Tagging};

use super::{client, is_aborted, no_such_bucket, per_bucket};
use crate::aws::{aws_err, tag_map, Ctx, ProviderError, TOOL_TAG_PREFIX};
use crate::resource::{Checkpoint, Resource};
use crate::resources::util::*;
use crate::schema::{Attribute, Schema, TAGS};
use crate::value::{Attrs, Value};

pub struct S3Bucket;

/// The prefix of names generated when neither `bucket` nor `bucket_prefix` is configured (Terraform's).
const UNIQUE_ID_PREFIX: &str = "terraform-";
/// The longest bucket name.
const MAX_NAME_LEN: usize = 63;
/// The region whose buckets need no LocationConstraint (and where re-creating an owned bucket answers 200).
const US_EAST_1: &str = "us-east-1";

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("s3_bucket", "An S3 general purpose bucket.")
        .taggable()
        .attr(
            Attribute::string("bucket")
                .optional_computed()
                .forces_new()
                .describe("Name of the bucket (3 to 63 lower-case letters, digits, dots and hyphens; global across AWS); generated from bucket_prefix when left out."),
        )
        .attr(
            Attribute::string("bucket_prefix")
                .optional_computed()
                .forces_new()
                .describe("Creates a unique name beginning with this prefix (up to 37 characters); conflicts with bucket."),
        )
        .attr(
            Attribute::bool("force_destroy")
                .default(false)
                .describe("Delete every object version and delete marker when the bucket is destroyed, so the delete succeeds on a bucket that is not empty (never sent to AWS)."),
        )
        .attr(Attribute::string("arn").computed().describe("ARN of the bucket: `arn:aws:s3:::NAME`."))
        .attr(Attribute::string("bucket_domain_name").computed().describe("`NAME.s3.amazonaws.com`."))
        .attr(
            Attribute::string("bucket_regional_domain_name")
                .computed()
                .describe("The region-specific domain name: `NAME.s3.REGION.amazonaws.com`."),
        )
        .attr(Attribute::string("region").computed().describe("Region the bucket is in."))
});

/// Checks a bucket name against S3's rules for general purpose buckets.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let fail = |why: &str| Err(format!("bucket name `{name}` is not valid: {why}"));
    if name.len() < 3 || name.len() > MAX_NAME_LEN {
        return fail("it must be 3 to 63 characters long");
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-')) {
        return fail(&format!("`{c}` is not allowed; use lower-case letters, digits, dots and hyphens"));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
        return fail("it must begin and end with a letter or a digit");
    }
    if name.contains("..") {
        return fail("it must not contain two adjacent dots");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return fail("it must not be formatted as an IP address");
    }
    if let Some(p) = ["xn--", "sthree-", "amzn-s3-demo-"].iter().find(|p| name.starts_with(**p)) {
        return fail(&format!("the prefix `{p}` is reserved"));
    }
    if let Some(s) = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"].iter().find(|s| name.ends_with(**s)) {
        return fail(&format!("the suffix `{s}` is reserved"));
    }
    Ok(())
}

/// Checks a `bucket_prefix`: room for the unique suffix, and a start and characters a name may have.
fn check_prefix(prefix: &str) -> Result<(), String> {
    let max = MAX_NAME_LEN - UNIQUE_ID_SUFFIX_LEN;
    if prefix.len() > max {
        return Err(format!(
            "bucket_prefix `{prefix}` is too long: at most {max} characters (a 26-character unique suffix is appended)"
        ));
    }
    // The generated name ends in digits and hex letters, so checking the prefix with such a tail suffices.
    check_name(&format!("{prefix}20240101000000000000000001"))
        .map_err(|e| e.replace("bucket name", "bucket_prefix, as a name,"))
}

/// The configuration's naming mistakes (conflict, rules), as `validate` reports them.
fn check_names(cfg: &Attrs) -> Result<(), String> {
    let (bucket, prefix) =
        (cfg.get("bucket").filter(|v| !v.is_null()), cfg.get("bucket_prefix").filter(|v| !v.is_null()));
    if bucket.is_some() && prefix.is_some() {
        return Err("`bucket` and `bucket_prefix` conflict: set one (or neither, for a generated name)".into());
    }
    if let Some(n) = bucket.and_then(Value::as_str) {
        check_name(n)?;
    }
    if let Some(p) = prefix.and_then(Value::as_str) {
        check_prefix(p)?;
    }
    Ok(())
}

/// The name to create.
fn create_name(desired: &Attrs) -> String {
    match (get_str(desired, "bucket"), get_str(desired, "bucket_prefix")) {
        (Some(n), _) => n.to_owned(),
        (None, Some(p)) => prefixed_unique_id(p),
        (None, None) => prefixed_unique_id(UNIQUE_ID_PREFIX),
    }
}

/// GetBucketLocation's answer as a region: empty = us-east-1, `EU` = eu-west-1 (S3's legacy spellings).
pub(crate) fn region_of(constraint: Option<&str>) -> String {
    match constraint.unwrap_or_default() {
        "" | "US" => US_EAST_1.to_owned(),
        "EU" => "eu-west-1".to_owned(),
        r => r.to_owned(),
    }
}

/// DNS suffix of a region's S3 endpoints.
fn dns_suffix(region: &str) -> &'static str {
    if partition(region) == "aws-cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

/// A bucket's attributes (no tags) from its name and region.
pub(crate) fn bucket_attrs(name: &str, region: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("bucket".into(), Value::str(name));
    if let Some(p) = name_prefix_from_name(name).filter(|p| !p.is_empty()) {
        a.insert("bucket_prefix".into(), Value::str(p));
    }
    a.insert("arn".into(), Value::str(format!("arn:{}:s3:::{name}", partition(region))));
    a.insert("bucket_domain_name".into(), Value::str(format!("{name}.s3.{}", dns_suffix(region))));
    a.insert("bucket_regional_domain_name".into(), Value::str(format!("{name}.s3.{region}.{}", dns_suffix(region))));
    a.insert("region".into(), Value::str(region));
    a
}

/// The bucket name of a listed ARN: `arn:PARTITION:s3:::NAME` (objects, `NAME/KEY`, are not buckets).
pub(crate) fn listed_bucket(arn: &str) -> Option<String> {
    let mut parts = arn.splitn(6, ':');
    let (service, region, account, name) = (parts.nth(2)?, parts.next()?, parts.next()?, parts.next()?);
    (service == "s3" && region.is_empty() && account.is_empty() && !name.is_empty() && !name.contains('/'))
        .then(|| name.to_owned())
}

/// The tags of bucket `name`: `None` when the bucket is gone, empty when it has none (`NoSuchTagSet`).
async fn get_tags(cx: &Ctx, name: &str) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
    match client(cx).get_bucket_tagging().bucket(name).send().await.map_err(aws_err) {
        Ok(out) => Ok(Some(out.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect())),
        Err(e) if e.code.as_deref() == Some("NoSuchTagSet") => Ok(Some(BTreeMap::new())),
        Err(e) if no_such_bucket(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The region of bucket `name`, `None` when it is gone.
async fn get_region(cx: &Ctx, name: &str) -> Result<Option<String>, ProviderError> {
    let r = client(cx).get_bucket_location().bucket(name).send().await.map_err(aws_err);
    gone_ok_by(r, no_such_bucket).map(|o| o.map(|o| region_of(o.location_constraint().map(|c| c.as_str()))))
}

fn tags_value(tags: &BTreeMap<String, String>) -> Value {
    Value::Map(tags.iter().map(|(k, v)| (k.clone(), Value::str(v))).collect())
}

fn s3_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, ProviderError> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(|e| ProviderError::new(format!("tag {k}: {e}"))))
        .collect()
}

impl S3Bucket {
    /// GetBucketLocation and GetBucketTagging per bucket, at the same time.
    async fn read_names(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        per_bucket(ids, |name| async move {
            let (region, tags) = futures::try_join!(get_region(cx, &name), get_tags(cx, &name))?;
            let (Some(region), Some(tags)) = (region, tags) else { return Ok(None) };
            let mut a = bucket_attrs(&name, &region);
            a.insert(TAGS.into(), tags_value(&tags));
            Ok(Some(a))
        })
        .await
    }

    /// GetBucketLocation only: attributes without `tags`.
    async fn locate(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        per_bucket(ids, |name| async move { Ok(get_region(cx, &name).await?.map(|r| bucket_attrs(&name, &r))) }).await
    }

    async fn read_one(&self, cx: &Ctx, name: &str) -> Result<Attrs, ProviderError> {
        let ids = [name.to_owned()];
        let read = || async {
            // Right after CreateBucket, reads may answer NoSuchBucket for a moment: not yet visible.
            self.read_names(cx, &ids).await
        };
        read_back(cx, "S3 bucket", name, read).await
    }

    /// The bucket `name` exists in this account: it is ours when it carries this instance's tool tags (a
    /// retried create whose answer was lost); otherwise the error says how to take it over.
    async fn existing(&self, cx: &Ctx, name: &str, desired: &Attrs) -> Result<(), ProviderError> {
        let want: Vec<(String, String)> =
            tag_map(desired).into_iter().filter(|(k, _)| k.starts_with(TOOL_TAG_PREFIX)).collect();
        let tags = get_tags(cx, name).await?.unwrap_or_default();
        if !want.is_empty() && want.iter().all(|(k, v)| tags.get(k) == Some(v)) {
            tracing::info!(bucket = %name, "CreateBucket: the bucket exists with this instance's tags; taking it");
            return Ok(());
        }
        Err(ProviderError::with_code(
            "BucketAlreadyOwnedByYou",
            format!(
                "S3 bucket `{name}` already exists in this account and is not this stack's; bring it under this \
                 address with `provisioner import ADDRESS {name}`, or choose another `bucket` (or a `bucket_prefix`)"
            ),
        ))
    }

    /// Deletes every object version and delete marker of `name`, a page (up to 1000) at a time.
    async fn empty(&self, cx: &Ctx, name: &str) -> Result<u64, ProviderError> {
        let s3 = client(cx);
        let mut deleted = 0u64;
        loop {
            // Always the first page: what was listed is deleted before the next listing.
            let page = s3.list_object_versions().bucket(name).max_keys(1000).send().await.map_err(aws_err)?;
            let mut objects: Vec<ObjectIdentifier> = Vec::new();
            let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
            let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id()));
            for (key, version) in versions.chain(markers) {
                let Some(key) = key else { continue };
                let id = ObjectIdentifier::builder()
                    .key(key)
                    .set_version_id(version.map(str::to_owned))
                    .build()
                    .map_err(|e| ProviderError::new(format!("object {key}: {e}")))?;
                objects.push(id);
            }
            if objects.is_empty() {
                return Ok(deleted);
            }
            let n = objects.len() as u64;
            let batch = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| ProviderError::new(e.to_string()))?;
            let out = s3
                .delete_objects()
                .bucket(name)
                .delete(batch)
                .bypass_governance_retention(true)
                .send()
                .await
                .map_err(aws_err)?;
            if let Some(e) = out.errors().first() {
                return Err(ProviderError::with_code(
                    e.code().unwrap_or("DeleteObjects"),
                    format!(
                        "emptying S3 bucket `{name}` (force_destroy): object `{}` (version {}) could not be deleted: {}",
                        e.key().unwrap_or_default(),
                        e.version_id().unwrap_or("null"),
                        e.message().unwrap_or_default()
                    ),
                ));
            }
            deleted += n;
        }
    }
}

#[async_trait]
impl Resource for S3Bucket {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        check_names(cfg)
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_names(cx, ids).await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let (listed, mut out) =
            read_tracked_and_listed(cx, ids, listed_bucket, |names| async move { self.locate(cx, &names).await })
                .await?;
        let arns: HashMap<String, &BTreeMap<String, String>> =
            listed.iter().filter_map(|(arn, tags)| Some((listed_bucket(arn)?, tags))).collect();
        let unlisted: Vec<String> = out.keys().filter(|n| !arns.contains_key(*n)).cloned().collect();
        for (name, a) in out.iter_mut() {
            if let Some(tags) = arns.get(name) {
                a.insert(TAGS.into(), tags_value(tags));
            }
        }
        // Tracked buckets the listing does not have (untagged): their tags, one call each.
        let tagged = per_bucket(&unlisted, |name| async move {
            Ok(get_tags(cx, &name).await?.map(|t| Attrs::from([(TAGS.to_owned(), tags_value(&t))])))
        })
        .await?;
        for name in unlisted {
            match tagged.get(&name).and_then(|t| t.get(TAGS)) {
                Some(t) => {
                    if let Some(a) = out.get_mut(&name) {
                        a.insert(TAGS.into(), t.clone());
                    }
                }
                // Deleted between the calls.
                None => {
                    out.remove(&name);
                }
            }
        }
        Ok(out)
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        check_names(desired).map_err(|m| ProviderError::with_code("InvalidBucketName", m))?;
        let name = create_name(desired);
        let s3 = client(cx);
        let tags = s3_tags(&tag_map(desired))?;
        let mut exists = false;
        if cx.region == US_EAST_1 {
            // CreateBucket of a bucket this account owns answers 200 here: ask first.
            exists = s3.head_bucket().bucket(&name).send().await.is_ok();
        }
        if !exists {
            let mut config = CreateBucketConfiguration::builder().set_tags((!tags.is_empty()).then_some(tags));
            if cx.region != US_EAST_1 {
                config = config.location_constraint(BucketLocationConstraint::from(cx.region.as_str()));
            }
            let config = config.build();
            let created = retry_propagation(cx, "CreateBucket", is_aborted, || async {
                s3.create_bucket()
                    .bucket(&name)
                    .create_bucket_configuration(config.clone())
                    .send()
                    .await
                    .map_err(aws_err)
            })
            .await;
            match created {
                Ok(_) => {}
                Err(e) if e.code.as_deref() == Some("BucketAlreadyOwnedByYou") => exists = true,
                Err(e) if e.code.as_deref() == Some("BucketAlreadyExists") => {
                    return Err(ProviderError::with_code(
                        "BucketAlreadyExists",
                        format!(
                            "the S3 bucket name `{name}` is taken by another AWS account (bucket names are global \
                             across all accounts); choose another `bucket`, or set `bucket_prefix` for a unique name"
                        ),
                    ))
                }
                Err(e) => return Err(e),
            }
        }
        if exists {
            self.existing(cx, &name, desired).await?;
        }
        let mut cp = with_id(desired, &name);
        cp.extend(bucket_attrs(&name, &cx.region));
        checkpoint.created(&cp).await;
        let mut got = self.read_one(cx, &name).await?;
        got.insert("force_destroy".into(), Value::Bool(get_bool(desired, "force_destroy", false)));
        Ok(got)
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let name = get_id(prior)?;
        let (old, new) = (tag_map(prior), tag_map(desired));
        if old != new {
            let s3 = client(cx);
            if new.is_empty() {
                s3.delete_bucket_tagging().bucket(name).send().await.map_err(aws_err)?;
            } else {
                let tagging = Tagging::builder()
                    .set_tag_set(Some(s3_tags(&new)?))
                    .build()
                    .map_err(|e| ProviderError::new(e.to_string()))?;
                retry_on_aborted(cx, "PutBucketTagging", || async {
                    s3.put_bucket_tagging().bucket(name).tagging(tagging.clone()).send().await.map_err(aws_err)
                })
                .await?;
            }
        }
        let mut got = self.read_one(cx, name).await?;
        got.insert("force_destroy".into(), Value::Bool(get_bool(desired, "force_destroy", false)));
        // Tags are eventually consistent: report what was set.
        got.insert(TAGS.into(), tags_value(&new));
        Ok(got)
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let name = get_id(prior)?;
        let force = get_bool(prior, "force_destroy", false);
        let s3 = client(cx);
        // A force delete empties the bucket first, and again if objects were written meanwhile.
        for _ in 0..3 {
            if force {
                match self.empty(cx, name).await {
                    Ok(n) if n > 0 => tracing::info!(bucket = %name, deleted = n, "force_destroy: emptied the bucket"),
                    Ok(_) => {}
                    Err(e) if no_such_bucket(&e) => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
            let r = retry_on_aborted(cx, "DeleteBucket", || async {
                s3.delete_bucket().bucket(name).send().await.map_err(aws_err)
            })
            .await;
            match r {
                Ok(_) => return Ok(()),
                Err(e) if no_such_bucket(&e) => return Ok(()),
                Err(e) if e.code.as_deref() == Some("BucketNotEmpty") && force => continue,
                Err(e) if e.code.as_deref() == Some("BucketNotEmpty") => {
                    return Err(ProviderError::with_code(
                        "BucketNotEmpty",
                        format!(
                            "S3 bucket `{name}` is not empty, and S3 deletes only empty buckets; to delete it with \
                             every object version in it, set `force_destroy = true` on it and apply (no AWS call), \
                             then destroy again — or empty the bucket yourself"
                        ),
                    ))
                }
                Err(e) => return Err(e),
            }
        }
        Err(ProviderError::with_code(
            "BucketNotEmpty",
            format!(
                "S3 bucket `{name}` still holds objects after being emptied three times: something keeps writing to it"
            ),
        ))
    }
}

/// Retries `op` while S3 answers `OperationAborted` (a conflicting operation on the bucket in flight).
async fn retry_on_aborted<T, F, Fut>(cx: &Ctx, what: &str, op: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    retry_propagation(cx, what, is_aborted, op).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["abc", "my-state.bucket-1", "a1b", &"a".repeat(63)] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("ab", "3 to 63"),
            (&"a".repeat(64), "3 to 63"),
            ("My-Bucket", "`M` is not allowed"),
            ("under_score", "`_` is not allowed"),
            ("-abc", "begin and end"),
            ("abc.", "begin and end"),
            ("a..b", "adjacent dots"),
            ("192.168.5.4", "IP address"),
            ("xn--abc", "prefix `xn--`"),
            ("abc-s3alias", "suffix `-s3alias`"),
        ] {
            let e = check_name(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn names_and_prefixes_in_the_configuration() {
        let cfg = |pairs: &[(&str, &str)]| -> Attrs {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), Value::str(*v))).collect()
        };
        assert!(check_names(&cfg(&[("bucket", "a-b"), ("bucket_prefix", "a-")])).unwrap_err().contains("conflict"));
        assert!(check_names(&cfg(&[("bucket_prefix", "state-")])).is_ok());
        assert!(check_names(&cfg(&[("bucket_prefix", &"p".repeat(38))])).unwrap_err().contains("at most 37"));
        assert!(check_names(&cfg(&[("bucket_prefix", "State-")])).unwrap_err().contains("`S` is not allowed"));
        assert!(check_names(&Attrs::from([("bucket".to_owned(), Value::Unknown)])).is_ok());
        let n = create_name(&cfg(&[("bucket_prefix", "state-")]));
        assert!(n.starts_with("state-") && check_name(&n).is_ok(), "{n}");
        assert!(create_name(&Attrs::new()).starts_with("terraform-"));
    }

    #[test]
    fn attributes_from_name_and_region() {
        let a = bucket_attrs("state", "eu-west-1");
        assert_eq!(a["arn"], Value::str("arn:aws:s3:::state"));
        assert_eq!(a["bucket_domain_name"], Value::str("state.s3.amazonaws.com"));
        assert_eq!(a["bucket_regional_domain_name"], Value::str("state.s3.eu-west-1.amazonaws.com"));
        assert!(!a.contains_key("bucket_prefix"));
        let generated = prefixed_unique_id("state-");
        assert_eq!(bucket_attrs(&generated, "us-east-1")["bucket_prefix"], Value::str("state-"));
        assert_eq!(region_of(None), "us-east-1");
        assert_eq!(region_of(Some("EU")), "eu-west-1");
        assert_eq!(region_of(Some("eu-central-1")), "eu-central-1");
    }

    #[test]
    fn listed_arns_of_buckets() {
        assert_eq!(listed_bucket("arn:aws:s3:::state").as_deref(), Some("state"));
        assert_eq!(listed_bucket("arn:aws:s3:::state/key"), None);
        assert_eq!(listed_bucket("arn:aws:logs:us-east-1:123:log-group:x"), None);
        assert_eq!(listed_bucket("arn:aws:s3:us-east-1:123:accesspoint/x"), None);
    }
}
