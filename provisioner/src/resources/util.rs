//! Small helpers shared by the EC2 resource implementations: attribute access, id filters, ARNs, and the
//! "NotFound means gone" conventions of delete and read-after-create.

use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, Tag};

use crate::aws::{address_tag, retry_on, Ctx, ProviderError};
use crate::schema::{ID, TAGS};
use crate::value::{Attrs, Value};

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
