//! Helpers shared by the EC2 resource implementations (the general ones, re-exported here, live in
//! `resources::util`): attribute access, id filters, the shared shape
//! of `read` / `read_stack` over a type's filtered Describe ([`read_by_ids`], [`read_stack_via`]), ARNs, the
//! canonical spelling of IPv6 CIDR blocks ([`canonical_cidr`]), and the "NotFound means gone" conventions
//! of delete and read-after-create.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, Tag};

use crate::aws::{Ctx, ProviderError};
use crate::schema::TAGS;
use crate::value::Attrs;

pub(crate) use crate::resources::util::*;

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

/// A filter `name` matching any of `values`.
pub(crate) fn filter(name: &str, values: &[String]) -> Filter {
    Filter::builder().name(name).set_values(Some(values.to_vec())).build()
}

/// A filter `name` matching a single value.
pub(crate) fn filter1(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

pub(crate) fn put_tags(attrs: &mut Attrs, tags: &[aws_sdk_ec2::types::Tag]) {
    attrs.insert(TAGS.to_owned(), crate::aws::tags_value(tags));
}

pub(crate) fn bool_attr(b: bool) -> AttributeBooleanValue {
    AttributeBooleanValue::builder().value(b).build()
}

/// `arn:<partition>:ec2:<region>:<owner>:<kind>/<id>`, for objects whose Describe does not return an ARN.
pub(crate) fn ec2_arn(cx: &Ctx, owner: &str, kind: &str, id: &str) -> String {
    format!("arn:{}:ec2:{}:{owner}:{kind}/{id}", partition(&cx.region), cx.region)
}

/// `cidr` in the spelling AWS reports (compressed lower-case IPv6, `2600:1f18::/56`), so a configured
/// `2600:1F18:0:0::/56` compares equal; unchanged when it does not parse (the schema reports that).
pub(crate) fn canonical_cidr(cidr: &str) -> String {
    cidr.parse::<ipnet::IpNet>().map(|n| n.to_string()).unwrap_or_else(|_| cidr.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ID;
    use crate::value::Value;

    fn attrs_with_id(id: &str) -> Attrs {
        Attrs::from([(ID.to_owned(), Value::str(id))])
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
    fn canonical_cidr_spells_ipv6_as_aws_does() {
        assert_eq!(canonical_cidr("2600:1F18:0000:0::/56"), "2600:1f18::/56");
        assert_eq!(canonical_cidr("10.0.0.0/16"), "10.0.0.0/16");
        assert_eq!(canonical_cidr("not a cidr"), "not a cidr");
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
}
