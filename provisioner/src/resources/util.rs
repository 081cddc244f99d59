//! Small helpers shared by the EC2 resource implementations: attribute access, id filters, the shared shape
//! of `read` / `read_stack` over a type's filtered Describe ([`read_by_ids`], [`read_stack_via`]), ARNs, and
//! the "NotFound means gone" conventions of delete and read-after-create.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, Tag};

use crate::aws::{retry_on, Ctx, ProviderError};
use crate::schema::{ID, TAGS};
use crate::value::{Attrs, Value};

/// Reads objects by id through a type's `read_filtered` (one filtered Describe, paginated where the API
/// paginates): one `read_filtered(vec![filter(id_filter, chunk)])` per chunk of at most 200 ids
/// ([`id_chunks`]: deduplicated, empty ids dropped). No call when there is no id.
pub(crate) async fn read_by_ids<F, Fut>(
    ids: &[String],
    id_filter: &str,
    read_filtered: F,
) -> Result<HashMap<String, Attrs>, ProviderError>
where
    F: Fn(Vec<Filter>) -> Fut,
    Fut: Future<Output = Result<HashMap<String, Attrs>, ProviderError>>,
{
    let mut out = HashMap::new();
    for chunk in id_chunks(ids) {
        out.extend(read_filtered(vec![filter(id_filter, &chunk)]).await?);
    }
    Ok(out)
}

/// `Resource::read_stack` of a taggable type: `read_filtered(cx.stack_filters())`, then the `ids` it did not
/// return (tags missing, or the object is gone) by id with [`read_by_ids`] — no second call when every id
/// was returned.
pub(crate) async fn read_stack_via<F, Fut>(
    cx: &Ctx,
    ids: &[String],
    id_filter: &str,
    read_filtered: F,
) -> Result<HashMap<String, Attrs>, ProviderError>
where
    F: Fn(Vec<Filter>) -> Fut,
    Fut: Future<Output = Result<HashMap<String, Attrs>, ProviderError>>,
{
    let mut out = read_filtered(cx.stack_filters()).await?;
    let missing = missing_ids(ids, &out);
    if !missing.is_empty() {
        out.extend(read_by_ids(&missing, id_filter, read_filtered).await?);
    }
    Ok(out)
}

/// The non-empty `ids` absent from `found`.
pub(crate) fn missing_ids(ids: &[String], found: &HashMap<String, Attrs>) -> Vec<String> {
    ids.iter().filter(|id| !id.is_empty() && !found.contains_key(id.as_str())).cloned().collect()
}

/// Whether `tags` satisfy every `tag:<key>` filter among `filters` (value among the filter's values); other
/// filters are ignored. For APIs whose emulator ignores tag filters (see `nat_gateway`).
pub(crate) fn tag_filters_match(filters: &[Filter], tags: &[Tag]) -> bool {
    filters.iter().all(|f| match f.name().and_then(|n| n.strip_prefix("tag:")) {
        Some(key) => {
            tags.iter().any(|t| t.key() == Some(key) && t.value().is_some_and(|v| f.values().iter().any(|w| w == v)))
        }
        None => true,
    })
}

/// Most EC2 filters accept at most 200 values.
pub(crate) const FILTER_CHUNK: usize = 200;

/// A filter `name` matching any of `values`.
pub(crate) fn filter(name: &str, values: &[String]) -> Filter {
    Filter::builder().name(name).set_values(Some(values.to_vec())).build()
}

/// A filter `name` matching a single value.
pub(crate) fn filter1(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

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

pub(crate) fn put_tags(attrs: &mut Attrs, tags: &[aws_sdk_ec2::types::Tag]) {
    attrs.insert(TAGS.to_owned(), crate::aws::tags_value(tags));
}

pub(crate) fn bool_attr(b: bool) -> AttributeBooleanValue {
    AttributeBooleanValue::builder().value(b).build()
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

/// `arn:<partition>:ec2:<region>:<owner>:<kind>/<id>`, for objects whose Describe does not return an ARN.
pub(crate) fn ec2_arn(cx: &Ctx, owner: &str, kind: &str, id: &str) -> String {
    format!("arn:{}:ec2:{}:{owner}:{kind}/{id}", partition(&cx.region), cx.region)
}

/// The error a read-after-create raises when the object is not visible yet (retried by [`read_back`]).
pub(crate) fn not_visible(kind: &str, id: &str) -> ProviderError {
    ProviderError::with_code("Provisioner.NotFound", format!("{kind} {id} is not visible yet"))
}

/// Maps "NotFound" to `Ok(None)`: deleting something already gone succeeds.
pub(crate) fn gone_ok<T>(r: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
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

/// Runs `op` (a delete), retrying `DependencyViolation` and treating NotFound as success.
pub(crate) async fn delete_retrying<F, Fut, T>(cx: &Ctx, what: &str, op: F) -> Result<(), ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    gone_ok(retry_on(cx, what, ProviderError::is_dependency_violation, op).await).map(|_| ())
}

#[cfg(test)]
mod tests {
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
    fn read_by_ids_calls_once_per_chunk_with_the_id_filter() {
        let calls = std::sync::Mutex::new(Vec::new());
        let ids: Vec<String> = (0..250).map(|i| format!("subnet-{i:03}")).chain([String::new()]).collect();
        let out = futures::executor::block_on(read_by_ids(&ids, "subnet-id", |filters: Vec<Filter>| {
            let f = &filters[0];
            calls.lock().unwrap().push((filters.len(), f.name().unwrap().to_owned(), f.values().len()));
            let found: HashMap<String, Attrs> = f.values().iter().map(|id| (id.clone(), attrs_with_id(id))).collect();
            async move { Ok(found) }
        }))
        .unwrap();
        assert_eq!(out.len(), 250);
        assert_eq!(*calls.lock().unwrap(), [(1, "subnet-id".to_owned(), 200), (1, "subnet-id".to_owned(), 50)]);
        let more = std::sync::atomic::AtomicUsize::new(0);
        let none = futures::executor::block_on(read_by_ids(&[String::new()], "subnet-id", |_: Vec<Filter>| {
            more.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Ok(HashMap::new()) }
        }))
        .unwrap();
        assert!(none.is_empty());
        assert_eq!(more.into_inner(), 0, "no call without ids");
    }

    #[test]
    fn tag_filters_match_only_tag_filters() {
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
        let filters = vec![
            filter1("tag:provisioner:stack", "prod"),
            filter1("tag:provisioner:workspace", "blue"),
            filter1("nat-gateway-id", "nat-1"),
        ];
        let ours = [tag("provisioner:stack", "prod"), tag("provisioner:workspace", "blue")];
        assert!(tag_filters_match(&filters, &ours));
        let other_ws = [tag("provisioner:stack", "prod"), tag("provisioner:workspace", "green")];
        assert!(!tag_filters_match(&filters, &other_ws));
        assert!(!tag_filters_match(&filters, &[tag("provisioner:stack", "prod")]));
        assert!(tag_filters_match(&filters[..1], &[tag("provisioner:stack", "prod")]));
        assert!(!tag_filters_match(&filters[..1], &[tag("provisioner:stack", "dev")]));
        assert!(tag_filters_match(&[], &[]));
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
}
