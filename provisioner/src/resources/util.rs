//! Small helpers shared by every resource implementation: attribute access, id chunks, partitions,
//! and the "NotFound means gone" conventions of delete and read-after-create.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use crate::aws::{aws_err, retry_on, retry_within, Ctx, ProviderError, DEFAULT_WORKSPACE, TAG_STACK, TAG_WORKSPACE};
use crate::schema::ID;
use crate::value::{Attrs, Value};

/// Feeds the tool's tags that tell the owner of an object apart (stack, workspace, lineage, address) from
/// the full tag set `tags` into `h`, key and presence included (an absent tag differs from an empty one):
/// the part of an idempotency token that no other stack, workspace, state or address shares.
pub(crate) fn hash_tool_tags(h: &mut sha2::Sha256, tags: &BTreeMap<String, String>) {
    use crate::aws::{TAG_ADDRESS, TAG_LINEAGE};
    use sha2::Digest;
    for key in [TAG_STACK, TAG_WORKSPACE, TAG_LINEAGE, TAG_ADDRESS] {
        h.update(key.as_bytes());
        match tags.get(key) {
            Some(v) => {
                h.update([1u8]);
                h.update(v.as_bytes());
            }
            None => h.update([2u8]),
        }
        h.update([0u8]);
    }
}

/// The non-empty `ids` absent from `found`.
pub(crate) fn missing_ids(ids: &[String], found: &HashMap<String, Attrs>) -> Vec<String> {
    ids.iter().filter(|id| !id.is_empty() && !found.contains_key(id.as_str())).cloned().collect()
}

/// Most EC2 filters accept at most 200 values.
pub(crate) const FILTER_CHUNK: usize = 200;

/// The ids, deduplicated, in chunks a filter accepts.
pub(crate) fn id_chunks(ids: &[String]) -> Vec<Vec<String>> {
    let mut v: Vec<String> = ids.iter().filter(|s| !s.is_empty()).cloned().collect();
    v.sort();
    v.dedup();
    v.chunks(FILTER_CHUNK).map(<[String]>::to_vec).collect()
}

/// A non-empty string attribute.
pub(crate) fn get_str<'a>(attrs: &'a Attrs, name: &str) -> Option<&'a str> {
    attrs.get(name).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A required string attribute (the engine validated presence; this guards against bugs).
pub(crate) fn req_str<'a>(attrs: &'a Attrs, name: &str) -> Result<&'a str, ProviderError> {
    get_str(attrs, name).ok_or_else(|| ProviderError::new(format!("attribute `{name}` is required")))
}

/// A bool attribute, `default` when unset.
pub(crate) fn get_bool(attrs: &Attrs, name: &str, default: bool) -> bool {
    attrs.get(name).and_then(Value::as_bool).unwrap_or(default)
}

/// The provider id of `attrs`.
pub(crate) fn get_id(attrs: &Attrs) -> Result<&str, ProviderError> {
    req_str(attrs, ID)
}

/// `desired` plus `id`, what a checkpoint records right after the create call.
pub(crate) fn with_id(desired: &Attrs, id: &str) -> Attrs {
    let mut a = desired.clone();
    a.insert(ID.to_owned(), Value::str(id));
    a
}

/// Inserts `name = value` when AWS returned a non-empty value.
pub(crate) fn put_opt(attrs: &mut Attrs, name: &str, value: Option<&str>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        attrs.insert(name.to_owned(), Value::str(v));
    }
}

/// Inserts `name = value` (empty string when AWS returned nothing).
pub(crate) fn put_str(attrs: &mut Attrs, name: &str, value: Option<&str>) {
    attrs.insert(name.to_owned(), Value::str(value.unwrap_or_default()));
}

/// The AWS partition of a region.
pub(crate) fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else {
        "aws"
    }
}

/// The error a read-after-create raises when the object is not visible yet (retried by [`read_back`]).
pub(crate) fn not_visible(kind: &str, id: &str) -> ProviderError {
    ProviderError::with_code("Provisioner.NotFound", format!("{kind} {id} is not visible yet"))
}

/// Maps "NotFound" to `Ok(None)`: deleting something already gone succeeds.
pub(crate) fn gone_ok<T>(r: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    gone_ok_by(r, ProviderError::is_not_found)
}

/// [`gone_ok`] for services whose "not found" codes are their own (`gone`: e.g. RDS's
/// `DBSubnetGroupNotFoundFault`, CloudWatch Logs' `ResourceNotFoundException`).
pub(crate) fn gone_ok_by<T>(
    r: Result<T, ProviderError>,
    gone: impl Fn(&ProviderError) -> bool,
) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads one object through a batched `read`, retrying while it is not visible yet (eventual consistency
/// right after create/update).
pub(crate) async fn read_back<F, Fut>(cx: &Ctx, kind: &str, id: &str, read: F) -> Result<Attrs, ProviderError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<std::collections::HashMap<String, Attrs>, ProviderError>>,
{
    retry_on(cx, &format!("read {kind} {id}"), ProviderError::is_not_found, || async {
        read().await?.remove(id).ok_or_else(|| not_visible(kind, id))
    })
    .await
}

/// How long AWS takes, at worst, to make a new object visible to its other APIs (terraform-provider-aws's
/// `propagationTimeout`): the bound of the retries on eventual consistency, within `cx.waits.timeout`.
pub(crate) const PROPAGATION: Duration = Duration::from_secs(120);

/// Retries `op` while `retryable(err)` holds, for at most [`PROPAGATION`] (and `cx.waits.timeout`), with
/// the backoff of [`retry_on`]: for an object created a moment before that the service does not know yet
/// (a wrong name then fails after 2 minutes, not after the whole wait bound).
pub(crate) async fn retry_propagation<T, F, Fut>(
    cx: &Ctx,
    what: &str,
    retryable: impl Fn(&ProviderError) -> bool,
    op: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    retry_within(cx, what, PROPAGATION, retryable, op).await
}

/// Runs `op` (a delete), retrying `DependencyViolation` and treating NotFound as success.
pub(crate) async fn delete_retrying<F, Fut, T>(cx: &Ctx, what: &str, op: F) -> Result<(), ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    gone_ok(retry_on(cx, what, ProviderError::is_dependency_violation, op).await).map(|_| ())
}

/// Length of the suffix [`prefixed_unique_id`] appends (Terraform's `id.UniqueIDSuffixLength`): an 18-digit
/// UTC timestamp and 8 hex digits.
pub(crate) const UNIQUE_ID_SUFFIX_LEN: usize = 26;

/// Terraform's `id.PrefixedUniqueId`: `prefix`, the UTC time as `YYYYMMDDhhmmss` followed by four digits of
/// fractional seconds, and an 8-hex-digit counter (per process). Names generated from one prefix are unique
/// within a run and sort in creation order, across runs as long as the clock does not go back.
pub(crate) fn prefixed_unique_id(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let now = chrono::Utc::now();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed).wrapping_add(1);
    format!("{prefix}{}{:04}{n:08x}", now.format("%Y%m%d%H%M%S"), now.timestamp_subsec_micros() / 100)
}

/// Terraform's `create.NamePrefixFromName`: the prefix of a name [`prefixed_unique_id`] generated (18 digits
/// then 8 lower-case hex digits at the end), `None` when the name does not end with such a suffix.
pub(crate) fn name_prefix_from_name(name: &str) -> Option<&str> {
    let cut = name.len().checked_sub(UNIQUE_ID_SUFFIX_LEN)?;
    let (prefix, suffix) = (name.get(..cut)?, name.get(cut..)?);
    let (ts, counter) = suffix.as_bytes().split_at(18);
    let ok =
        ts.iter().all(u8::is_ascii_digit) && counter.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
    ok.then_some(prefix)
}

/// Tags by ARN, as the Resource Groups Tagging API lists them.
pub(crate) type Listed = HashMap<String, BTreeMap<String, String>>;

/// The stack's objects (tagged with this stack and, in a named workspace, this workspace) that the Resource
/// Groups Tagging API lists, by ARN, with all their tags: one paged GetResources (100 a page) per refresh,
/// shared by every type that uses it (load balancers, target groups, listeners and rules where AWS lists
/// them, log groups, ACM certificates, S3 buckets). It finds untracked objects (leftovers of an interrupted run) of services that cannot
/// filter by tag, and spares those types a tag call per object.
///
/// Filtered by service ([`LISTED_SERVICES`]), not by resource type: the emulator's type names differ from
/// AWS's (`logs:loggroup` for `logs:log-group`), and the callers pick their ARNs by shape anyway
/// ([`arn_resource_type`]). Pages hold up to 100 objects and 500 tags (the API's maxima).
/// The services whose objects [`stack_listed`] lists: those that cannot filter a describe call by tag
/// (for S3, its buckets).
pub(crate) const LISTED_SERVICES: &[&str] = &["elasticloadbalancing", "logs", "acm", "s3"];

pub(crate) async fn stack_listed(cx: &Ctx) -> Result<std::sync::Arc<Listed>, ProviderError> {
    cx.shared("tagging.GetResources(stack)", || async {
        use aws_sdk_resourcegroupstagging::types::TagFilter;
        let client = cx.client(|sdk, calls| {
            aws_sdk_resourcegroupstagging::Client::from_conf(
                aws_sdk_resourcegroupstagging::config::Builder::from(sdk).interceptor(calls).build(),
            )
        });
        let mut filters = vec![TagFilter::builder().key(TAG_STACK).values(&cx.stack).build()];
        if cx.workspace != DEFAULT_WORKSPACE {
            filters.push(TagFilter::builder().key(TAG_WORKSPACE).values(&cx.workspace).build());
        }
        // Paged by hand: the last page carries an empty (not absent) token, which the SDK's paginator
        // follows with one more call.
        let mut out = Listed::new();
        let mut token: Option<String> = None;
        loop {
            let page = client
                .get_resources()
                .set_tag_filters(Some(filters.clone()))
                .set_resource_type_filters(Some(LISTED_SERVICES.iter().map(|s| (*s).to_owned()).collect()))
                .resources_per_page(100)
                .tags_per_page(500)
                .set_pagination_token(token.take())
                .send()
                .await
                .map_err(aws_err)?;
            for m in page.resource_tag_mapping_list() {
                let Some(arn) = m.resource_arn() else { continue };
                let tags = m.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
                out.insert(arn.to_owned(), tags);
            }
            match page.pagination_token().filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t.to_owned()),
                None => break,
            }
        }
        Ok(out)
    })
    .await
}

/// The read half of a `read_stack` over the Tagging API listing: the tracked `ids` are read (`read`, without
/// tags) at once, beside the listing; the objects the listing adds — those `listed_id` maps to an id (the
/// id of that type for a listed ARN, `None` for ARNs of other types) that is not tracked, i.e. leftovers of
/// an interrupted run — are read after it. Returns the listing, for the caller to take the tags from, and
/// what was read. With nothing left over, one sequential round trip.
pub(crate) async fn read_tracked_and_listed<F, Fut>(
    cx: &Ctx,
    ids: &[String],
    listed_id: impl Fn(&str) -> Option<String>,
    read: F,
) -> Result<(std::sync::Arc<Listed>, HashMap<String, Attrs>), ProviderError>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: Future<Output = Result<HashMap<String, Attrs>, ProviderError>>,
{
    let tracked: Vec<String> = ids.iter().filter(|s| !s.is_empty()).cloned().collect();
    let first = async {
        if tracked.is_empty() {
            Ok(HashMap::new())
        } else {
            read(tracked.clone()).await
        }
    };
    let (listed, mut out) = futures::try_join!(stack_listed(cx), first)?;
    let extra: Vec<String> = listed.keys().filter_map(|a| listed_id(a)).filter(|id| !tracked.contains(id)).collect();
    if !extra.is_empty() {
        out.extend(read(extra).await?);
    }
    Ok((listed, out))
}

/// The resource type of an ARN, the part of its resource before the first `/` (`loadbalancer`,
/// `targetgroup`, `listener`, `listener-rule`) or `:` (`log-group`); `None` when it has neither (an S3
/// bucket's `arn:aws:s3:::NAME` names no type).
pub(crate) fn arn_resource_type(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    resource.split_once(['/', ':']).map(|(t, _)| t)
}

#[cfg(test)]
mod tests {
    #[test]
    fn arn_resource_types() {
        let t = |a| super::arn_resource_type(a);
        assert_eq!(t("arn:aws:elasticloadbalancing:eu-west-1:123:loadbalancer/app/web/50dc"), Some("loadbalancer"));
        assert_eq!(t("arn:aws:elasticloadbalancing:eu-west-1:123:targetgroup/api-x/73e2"), Some("targetgroup"));
        assert_eq!(t("arn:aws:elasticloadbalancing:eu-west-1:123:listener/app/web/50dc/f2f7"), Some("listener"));
        assert_eq!(
            t("arn:aws:elasticloadbalancing:eu-west-1:123:listener-rule/app/web/50dc/f2f7/9683"),
            Some("listener-rule")
        );
        assert_eq!(t("arn:aws:logs:eu-west-1:123:log-group:/ecs/hello/api"), Some("log-group"));
        assert_eq!(t("arn:aws:logs:eu-west-1:123:log-group:/ecs/hello/api:*"), Some("log-group"));
        assert_eq!(t("not an arn"), None);
        assert_eq!(t("arn:aws:s3:::loadbalancer"), None, "a bucket's ARN names no type");
    }

    use super::*;

    #[test]
    fn chunks_dedupe_and_split() {
        let ids: Vec<String> = (0..450).map(|i| format!("vpc-{i:04}")).chain(["vpc-0001".to_owned()]).collect();
        let c = id_chunks(&ids);
        assert_eq!(c.iter().map(Vec::len).collect::<Vec<_>>(), vec![200, 200, 50]);
    }

    fn attrs_with_id(id: &str) -> Attrs {
        Attrs::from([(ID.to_owned(), Value::str(id))])
    }

    #[test]
    fn missing_ids_skip_found_and_empty() {
        let found = HashMap::from([("vpc-1".to_owned(), attrs_with_id("vpc-1"))]);
        let ids = ["vpc-1", "", "vpc-2"].map(str::to_owned);
        assert_eq!(missing_ids(&ids, &found), ["vpc-2"]);
        assert!(missing_ids(&ids[..2], &found).is_empty());
    }

    #[test]
    fn partitions() {
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }

    #[test]
    fn gone_ok_maps_not_found() {
        let e = ProviderError::with_code("InvalidVpcID.NotFound", "x");
        assert!(gone_ok::<()>(Err(e)).unwrap().is_none());
        let e = ProviderError::with_code("DependencyViolation", "x");
        assert!(gone_ok::<()>(Err(e)).is_err());
    }

    #[test]
    fn prefixed_unique_ids_are_distinct_sortable_and_reversible() {
        let a = prefixed_unique_id("app-");
        let b = prefixed_unique_id("app-");
        assert_ne!(a, b);
        assert!(a < b, "{a} then {b}");
        assert_eq!(a.len(), "app-".len() + UNIQUE_ID_SUFFIX_LEN);
        assert!(a[4..22].bytes().all(|c| c.is_ascii_digit()), "{a}");
        assert_eq!(name_prefix_from_name(&a), Some("app-"));
        assert_eq!(name_prefix_from_name(&prefixed_unique_id("")), Some(""));
    }

    #[test]
    fn name_prefix_only_from_generated_names() {
        assert_eq!(name_prefix_from_name("app"), None);
        assert_eq!(name_prefix_from_name("/ecs/api"), None);
        assert_eq!(name_prefix_from_name("x-2024010203040506070000000a"), Some("x-"));
        assert_eq!(name_prefix_from_name("x-20240102030405060700000g0a"), None, "not hex");
        assert_eq!(name_prefix_from_name("x-20240102030405060x0000000a"), None, "not digits");
    }
}
