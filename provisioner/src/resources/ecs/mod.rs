//! ECS resource and data-source types, as terraform-provider-aws's `internal/service/ecs`. Registered in
//! `resources/mod.rs`.
//!
//! The ECS client is built on first use ([`client`]), so a stack without ECS objects never builds it.
//! Shared here: ECS tags both ways ([`ecs_tags`], [`tags_value`]), the tag update every ECS type makes
//! ([`sync_tags`]) and the batched DescribeClusters the cluster resource and data source both use
//! ([`describe_clusters`]). `container_definitions.rs` is the task definition's container list (parsing,
//! normalisation, SDK conversion). `service.rs` is `ecs_service`; `deploy.rs` its deployment watch (what
//! counts as a finished deployment, the diagnostics of a failed one, the idempotency token of CreateService).

pub mod cluster;
pub mod cluster_data;
pub(crate) mod container_definitions;
pub(crate) mod deploy;
pub mod service;
pub mod task_definition;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_ecs::types::{Cluster, ClusterField, Tag};

use crate::aws::{aws_err, tag_map, Ctx, ProviderError};
use crate::value::{Attrs, Value};

/// The ECS client of `cx`, built once with the shared SDK configuration and the call counter.
pub(crate) fn client(cx: &Ctx) -> aws_sdk_ecs::Client {
    cx.client(|sdk, calls| {
        aws_sdk_ecs::Client::from_conf(aws_sdk_ecs::config::Builder::from(sdk).interceptor(calls).build())
    })
}

/// A string map as ECS tags.
pub(crate) fn ecs_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// ECS tags as the `tags` attribute value.
pub(crate) fn tags_value(tags: &[Tag]) -> Value {
    Value::Map(
        tags.iter().filter_map(|t| Some((t.key()?.to_owned(), Value::str(t.value().unwrap_or_default())))).collect(),
    )
}

/// ECS tags as a string map.
pub(crate) fn tags_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect()
}

/// Makes the tags of the ECS object `arn` go from `prior["tags"]` to `desired["tags"]`: UntagResource for
/// removed keys, TagResource for new or changed ones, each only when needed.
pub(crate) async fn sync_tags(cx: &Ctx, arn: &str, prior: &Attrs, desired: &Attrs) -> Result<(), ProviderError> {
    let (old, new) = (tag_map(prior), tag_map(desired));
    let removed: Vec<String> = old.keys().filter(|k| !new.contains_key(*k)).cloned().collect();
    let changed: BTreeMap<String, String> =
        new.iter().filter(|(k, v)| old.get(*k) != Some(v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    if !removed.is_empty() {
        client(cx).untag_resource().resource_arn(arn).set_tag_keys(Some(removed)).send().await.map_err(aws_err)?;
    }
    if !changed.is_empty() {
        client(cx).tag_resource().resource_arn(arn).set_tags(Some(ecs_tags(&changed))).send().await.map_err(aws_err)?;
    }
    Ok(())
}

/// The rule ECS names (clusters, task definition families) follow: 1–255 letters, digits, hyphens and
/// underscores. `what` names the attribute in the message.
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!("{what} `{name}` is not valid: use 1 to 255 letters, digits, hyphens and underscores"))
    }
}

/// DescribeClusters accepts at most 100 clusters.
const DESCRIBE_CLUSTERS_CHUNK: usize = 100;

/// The clusters named by `ids` (ARNs or names) that exist and are not INACTIVE (a deleted cluster stays
/// describable as INACTIVE for a while), with tags and settings, keyed by ARN: one DescribeClusters per
/// 100. Missing clusters are reported by AWS as `failures`, not errors.
pub(crate) async fn describe_clusters(cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Cluster>, ProviderError> {
    let mut ids: Vec<String> = ids.iter().filter(|s| !s.is_empty()).cloned().collect();
    ids.sort();
    ids.dedup();
    let mut out = HashMap::new();
    for chunk in ids.chunks(DESCRIBE_CLUSTERS_CHUNK) {
        let resp = client(cx)
            .describe_clusters()
            .set_clusters(Some(chunk.to_vec()))
            .include(ClusterField::Tags)
            .include(ClusterField::Settings)
            .send()
            .await
            .map_err(aws_err)?;
        for c in resp.clusters() {
            if let (Some(arn), false) = (c.cluster_arn(), c.status() == Some("INACTIVE")) {
                out.insert(arn.to_owned(), c.clone());
            }
        }
    }
    Ok(out)
}

/// A cluster's `setting` as the attribute holds it: a list of `{ name, value }`.
pub(crate) fn settings_value(c: &Cluster) -> Value {
    Value::List(
        c.settings()
            .iter()
            .filter_map(|s| {
                Some(Value::Map(BTreeMap::from([
                    ("name".to_owned(), Value::str(s.name()?.as_str())),
                    ("value".to_owned(), Value::str(s.value()?)),
                ])))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("name", "hello-dev_1").is_ok());
        assert!(check_name("name", "").is_err());
        assert!(check_name("family", "a b").unwrap_err().contains("family `a b` is not valid"));
        assert!(check_name("name", &"a".repeat(256)).is_err());
    }

    #[test]
    fn tags_both_ways() {
        let m = BTreeMap::from([("a".to_owned(), "1".to_owned()), ("b".to_owned(), String::new())]);
        let tags = ecs_tags(&m);
        assert_eq!(tags_map(&tags), m);
        assert_eq!(tags_value(&tags).get("a"), Some(&Value::str("1")));
    }
}
