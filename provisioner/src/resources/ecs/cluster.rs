//! `ecs_cluster`: an ECS cluster, as terraform-provider-aws's `aws_ecs_cluster`. Id = the cluster's ARN
//! (what `import` takes).
//!
//! `setting` is the list of `{ name = "containerInsights", value = "enabled" | "disabled" | "enhanced" }`;
//! optional and computed (AWS reports the account's default when it is left out, which is then not
//! managed). Create is one CreateCluster carrying all tags and settings; the checkpoint records what it
//! returned, which is complete, so no read-back follows. Update: UpdateCluster `settings` (the emulator
//! has no UpdateClusterSettings; AWS takes either), TagResource / UntagResource. Delete: DeleteCluster,
//! retrying `ClusterContainsServicesException` / `ClusterContainsTasksException` within the wait bound
//! (services being deleted in the same apply drain first); `ClusterNotFoundException` = already gone. A
//! deleted cluster stays describable as INACTIVE for a while: INACTIVE counts as gone in every read.
//!
//! Read is batched: one DescribeClusters (include TAGS and SETTINGS) per 100 clusters.
//!
//! `read_stack`: ECS cannot filter clusters by tag and the emulator's Resource Groups Tagging API does not
//! list ECS, so leftovers are found by listing: one ListClusters (100 ARNs a page), then one DescribeClusters
//! per 100 of the listed and tracked clusters together, kept when tracked or tagged with this stack (and,
//! in a named workspace, this workspace). That is 2 calls, in 2 sequential round trips, while the account
//! and region hold ≤ 100 clusters — clusters are few and long-lived, so listing them all stays cheap;
//! beyond that ⌈C/100⌉ + ⌈C/100⌉ calls for C clusters.

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_ecs::types::{Cluster, ClusterSetting, ClusterSettingName};

use super::{check_name, client, describe_clusters, ecs_tags, settings_value, sync_tags, tags_map, tags_value};
use crate::aws::{aws_err, retry_on, tag_map, Ctx, ProviderError, DEFAULT_WORKSPACE, TAG_STACK, TAG_WORKSPACE};
use crate::resource::{Checkpoint, Resource};
use crate::resources::util::*;
use crate::schema::{Attribute, Schema, Type, TAGS};
use crate::value::{Attrs, Value};

pub struct EcsCluster;

pub(crate) fn setting_type() -> Type {
    Type::set(Type::Object(vec![
        Attribute::string("name").required().one_of(&["containerInsights"]).describe("containerInsights."),
        Attribute::string("value")
            .required()
            .one_of(&["enabled", "disabled", "enhanced"])
            .describe("enabled, disabled or enhanced."),
    ]))
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("ecs_cluster", "An ECS cluster.")
        .taggable()
        .attr(
            Attribute::string("name")
                .required()
                .forces_new()
                .describe("Name of the cluster: up to 255 letters, digits, hyphens and underscores."),
        )
        .attr(
            Attribute::new("setting", setting_type())
                .optional_computed()
                .describe("Cluster settings: `[{ name = \"containerInsights\", value = \"enabled\" }]`."),
        )
        .attr(Attribute::string("arn").computed().describe("ARN of the cluster (same as id)."))
});

fn cluster_attrs(c: &Cluster) -> Option<(String, Attrs)> {
    let arn = c.cluster_arn()?;
    let mut a = Attrs::new();
    a.insert("id".into(), Value::str(arn));
    a.insert("arn".into(), Value::str(arn));
    put_str(&mut a, "name", c.cluster_name());
    a.insert("setting".into(), settings_value(c));
    a.insert(TAGS.into(), tags_value(c.tags()));
    Some((arn.to_owned(), a))
}

fn settings(attrs: &Attrs) -> Option<Vec<ClusterSetting>> {
    let list = attrs.get("setting")?.as_list()?;
    Some(
        list.iter()
            .map(|s| {
                ClusterSetting::builder()
                    .set_name(s.get("name").and_then(Value::as_str).map(ClusterSettingName::from))
                    .set_value(s.get("value").and_then(Value::as_str).map(str::to_owned))
                    .build()
            })
            .collect(),
    )
}

impl EcsCluster {
    async fn read_arns(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        Ok(describe_clusters(cx, ids).await?.values().filter_map(cluster_attrs).collect())
    }
}

fn is_gone(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("ClusterNotFoundException") || e.is_not_found()
}

fn still_in_use(e: &ProviderError) -> bool {
    matches!(e.code.as_deref(), Some("ClusterContainsServicesException" | "ClusterContainsTasksException"))
}

#[async_trait]
impl Resource for EcsCluster {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        match cfg.get("name").and_then(Value::as_str) {
            Some(n) => check_name("ecs_cluster name", n),
            None => Ok(()),
        }
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_arns(cx, ids).await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let mut all: Vec<String> = ids.to_vec();
        let mut pages = client(cx).list_clusters().max_results(100).into_paginator().items().send();
        while let Some(arn) = pages.next().await {
            all.push(arn.map_err(aws_err)?);
        }
        let found = describe_clusters(cx, &all).await?;
        let ours = |c: &Cluster| {
            let tags = tags_map(c.tags());
            tags.get(TAG_STACK) == Some(&cx.stack)
                && (cx.workspace == DEFAULT_WORKSPACE || tags.get(TAG_WORKSPACE) == Some(&cx.workspace))
        };
        Ok(found
            .values()
            .filter(|c| ours(c) || c.cluster_arn().is_some_and(|a| ids.iter().any(|i| i == a)))
            .filter_map(cluster_attrs)
            .collect())
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        let name = req_str(desired, "name")?;
        check_name("ecs_cluster name", name).map_err(|m| ProviderError::with_code("InvalidParameterException", m))?;
        let out = client(cx)
            .create_cluster()
            .cluster_name(name)
            .set_settings(settings(desired))
            .set_tags(Some(ecs_tags(&tag_map(desired))))
            .send()
            .await
            .map_err(aws_err)?;
        let cluster = out.cluster().ok_or_else(|| ProviderError::new("CreateCluster returned no cluster"))?;
        let (arn, got) = cluster_attrs(cluster).ok_or_else(|| ProviderError::new("CreateCluster returned no ARN"))?;
        let mut made = with_id(desired, &arn);
        made.extend(got);
        // The tags are the ones sent (CreateCluster's answer leaves them out).
        made.insert(TAGS.into(), desired.get(TAGS).cloned().unwrap_or(Value::Map(Default::default())));
        checkpoint.created(&made).await;
        Ok(made)
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let arn = get_id(prior)?;
        let mut out = prior.clone();
        if desired.get("setting").is_some_and(|s| !s.is_null()) && prior.get("setting") != desired.get("setting") {
            let r = client(cx)
                .update_cluster()
                .cluster(arn)
                .set_settings(settings(desired))
                .send()
                .await
                .map_err(aws_err)?;
            if let Some(c) = r.cluster() {
                out.insert("setting".into(), settings_value(c));
            }
        }
        sync_tags(cx, arn, prior, desired).await?;
        out.insert(TAGS.into(), desired.get(TAGS).cloned().unwrap_or(Value::Map(Default::default())));
        Ok(out)
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let arn = get_id(prior)?;
        let r = retry_on(cx, "DeleteCluster", still_in_use, || async {
            client(cx).delete_cluster().cluster(arn).send().await.map_err(aws_err)
        })
        .await;
        match r {
            Err(e) if is_gone(&e) => Ok(()),
            r => r.map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_a_set() {
        let a = SCHEMA.normalize(&Attrs::from([(
            "setting".to_owned(),
            Value::from_json(&serde_json::json!([{"name": "containerInsights", "value": "enabled"}])),
        )]));
        let s = settings(&a).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].name(), Some(&ClusterSettingName::ContainerInsights));
        assert_eq!(s[0].value(), Some("enabled"));
    }

    #[test]
    fn only_name_replaces() {
        assert!(SCHEMA.attribute("name").unwrap().forces_replacement);
        assert!(!SCHEMA.attribute("setting").unwrap().forces_replacement);
    }
}
