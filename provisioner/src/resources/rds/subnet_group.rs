//! `db_subnet_group`: an RDS DB subnet group, as terraform-provider-aws's `aws_db_subnet_group`. Id = the
//! name (what `import` takes; RDS stores names in lower case, so the configuration must use lower case).
//!
//! `name` or `name_prefix` (a unique name is generated, Terraform's `id.PrefixedUniqueId`, `tf-` when
//! neither is set); both force replacement. `description` defaults to "Managed by provisioner" (Terraform:
//! "Managed by Terraform") and, like `subnet_ids`, changes in place (ModifyDBSubnetGroup).
//!
//! Create is one CreateDBSubnetGroup carrying all tags. Delete retries `InvalidDBSubnetGroupStateFault`
//! (an instance being deleted still uses it) within the wait bound; NotFound = done.
//!
//! Read: one DescribeDBSubnetGroups by name and one ListTagsForResource per group, all groups at once (two
//! sequential round trips). DescribeDBSubnetGroups has no tag filter and its answer carries no tags, so
//! `read_stack` keeps the default (tracked names); a group created by a run killed before its checkpoint
//! is found by [`Resource::find_existing`] instead: by its configured name, adopted only when it carries
//! this stack's and workspace's tool tags.

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_rds::types::DbSubnetGroup as AwsGroup;

use super::{adoptable, check_name_pair, client, is_gone, list_tags, name_to_create, rds_tags, sync_tags};
use crate::aws::{aws_err, retry_on, tag_map, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::resources::util::*;
use crate::schema::{Attribute, Schema, Type, ID, TAGS};
use crate::value::{Attrs, Value};

pub struct DbSubnetGroup;

/// Terraform's "Managed by Terraform".
pub const DEFAULT_DESCRIPTION: &str = "Managed by provisioner";

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new(
        "db_subnet_group",
        "An RDS DB subnet group: the subnets (in at least two availability zones) a DB instance may use.",
    )
    .taggable()
    .attr(Attribute::string("name").optional_computed().forces_new().describe(
        "Name: up to 255 lower-case letters, digits, spaces, periods, underscores and hyphens; not `default`.",
    ))
    .attr(
        Attribute::string("name_prefix")
            .optional_computed()
            .forces_new()
            .describe("Creates a unique name beginning with this prefix; conflicts with `name`."),
    )
    .attr(
        Attribute::string("description")
            .default(DEFAULT_DESCRIPTION)
            .describe("Description (default \"Managed by provisioner\")."),
    )
    .attr(
        Attribute::new("subnet_ids", Type::set(Type::String))
            .required()
            .describe("Subnets of the group, in at least two availability zones of one VPC."),
    )
    .attr(Attribute::string("arn").computed().describe("ARN of the group."))
    .attr(Attribute::string("vpc_id").computed().describe("VPC of the subnets."))
});

fn check(cfg: &Attrs) -> Result<(), String> {
    check_name_pair(cfg, "name", "name_prefix")?;
    let ok = |s: &str| s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || " ._-".contains(c));
    if let Some(n) = cfg.get("name").and_then(Value::as_str) {
        if n.is_empty() || n.len() > 255 || !ok(n) {
            return Err(format!(
                "db_subnet_group name `{n}`: use 1 to 255 lower-case letters, digits, spaces, periods, underscores and hyphens"
            ));
        }
        if n == "default" {
            return Err("db_subnet_group name `default` is reserved by RDS".to_owned());
        }
    }
    if let Some(p) = cfg.get("name_prefix").and_then(Value::as_str) {
        if p.len() > 255 - UNIQUE_ID_SUFFIX_LEN || !ok(p) {
            return Err(format!(
                "db_subnet_group name_prefix `{p}`: use at most {} lower-case letters, digits, spaces, periods, underscores and hyphens",
                255 - UNIQUE_ID_SUFFIX_LEN
            ));
        }
    }
    if let Some(d) = cfg.get("description").and_then(Value::as_str) {
        if d.is_empty() {
            return Err("db_subnet_group description must not be empty (RDS requires one)".to_owned());
        }
    }
    Ok(())
}

/// The attributes of a described group (no tags).
fn group_attrs(g: &AwsGroup) -> Option<(String, Attrs)> {
    let name = g.db_subnet_group_name()?;
    let mut a = Attrs::new();
    a.insert(ID.into(), Value::str(name));
    a.insert("name".into(), Value::str(name));
    if let Some(p) = name_prefix_from_name(name) {
        a.insert("name_prefix".into(), Value::str(p));
    }
    put_str(&mut a, "description", g.db_subnet_group_description());
    a.insert("subnet_ids".into(), Value::string_list(g.subnets().iter().filter_map(|s| s.subnet_identifier())));
    put_str(&mut a, "arn", g.db_subnet_group_arn());
    put_str(&mut a, "vpc_id", g.vpc_id());
    Some((name.to_owned(), a))
}

/// The group named `name` with its tags; `None` when it does not exist.
async fn read_name(cx: &Ctx, name: &str) -> Result<Option<Attrs>, ProviderError> {
    let r = client(cx).describe_db_subnet_groups().db_subnet_group_name(name).send().await.map_err(aws_err);
    let out = match r {
        Ok(o) => o,
        Err(e) if is_gone(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some((_, mut a)) =
        out.db_subnet_groups().iter().find(|g| g.db_subnet_group_name() == Some(name)).and_then(group_attrs)
    else {
        return Ok(None);
    };
    let Some(tags) = list_tags(cx, req_str(&a, "arn")?).await? else { return Ok(None) };
    a.insert(TAGS.into(), Value::Map(tags.into_iter().map(|(k, v)| (k, Value::str(v))).collect()));
    Ok(Some(a))
}

async fn read_names(cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
    let mut names: Vec<&String> = ids.iter().filter(|s| !s.is_empty()).collect();
    names.sort();
    names.dedup();
    let found = futures::future::try_join_all(
        names
            .into_iter()
            .map(|n| async move { Ok::<_, ProviderError>(read_name(cx, n).await?.map(|a| (n.clone(), a))) }),
    )
    .await?;
    Ok(found.into_iter().flatten().collect())
}

#[async_trait]
impl Resource for DbSubnetGroup {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        check(cfg)
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        read_names(cx, ids).await
    }

    /// By configured name (a generated name cannot be looked up): the group, when it carries this stack's
    /// and workspace's tags.
    async fn find_existing(&self, cx: &Ctx, desired: &[Attrs]) -> Result<Vec<Option<Attrs>>, ProviderError> {
        futures::future::try_join_all(desired.iter().map(|d| async move {
            let Some(name) = get_str(d, "name") else { return Ok(None) };
            Ok(read_name(cx, name).await?.filter(|a| adoptable(cx, &tag_map(a))))
        }))
        .await
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        check(desired).map_err(|m| ProviderError::with_code("InvalidParameterValue", m))?;
        let name = name_to_create(desired, "name", "name_prefix", "tf-");
        let subnets = desired.get("subnet_ids").and_then(Value::as_str_list).unwrap_or_default();
        let out = retry_on(
            cx,
            "CreateDBSubnetGroup",
            |e| e.code.as_deref() == Some("InvalidSubnet"),
            || async {
                client(cx)
                    .create_db_subnet_group()
                    .db_subnet_group_name(&name)
                    .db_subnet_group_description(get_str(desired, "description").unwrap_or(DEFAULT_DESCRIPTION))
                    .set_subnet_ids(Some(subnets.clone()))
                    .set_tags(Some(rds_tags(&tag_map(desired))))
                    .send()
                    .await
                    .map_err(aws_err)
            },
        )
        .await?;
        let mut made = with_id(desired, &name);
        made.insert("name".into(), Value::str(&name));
        if let Some((id, got)) = out.db_subnet_group().and_then(group_attrs) {
            made.extend(got);
            made.insert(ID.into(), Value::str(id));
        }
        checkpoint.created(&made).await;
        Ok(made)
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        check(desired).map_err(|m| ProviderError::with_code("InvalidParameterValue", m))?;
        let name = get_id(prior)?;
        let differs = |k: &str| {
            !crate::engine::same(prior.get(k).unwrap_or(&Value::Null), desired.get(k).unwrap_or(&Value::Null))
        };
        if differs("description") || differs("subnet_ids") {
            client(cx)
                .modify_db_subnet_group()
                .db_subnet_group_name(name)
                .db_subnet_group_description(get_str(desired, "description").unwrap_or(DEFAULT_DESCRIPTION))
                .set_subnet_ids(desired.get("subnet_ids").and_then(Value::as_str_list))
                .send()
                .await
                .map_err(aws_err)?;
        }
        sync_tags(cx, req_str(prior, "arn")?, prior, desired).await?;
        let ids = [name.to_owned()];
        read_back(cx, "DB subnet group", name, || read_names(cx, &ids)).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let name = get_id(prior)?;
        let r = retry_on(
            cx,
            "DeleteDBSubnetGroup",
            |e| e.code.as_deref() == Some("InvalidDBSubnetGroupStateFault"),
            || async { client(cx).delete_db_subnet_group().db_subnet_group_name(name).send().await.map_err(aws_err) },
        )
        .await;
        gone_ok_by(r, is_gone).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(j: serde_json::Value) -> Attrs {
        crate::value::attrs_from_json(&serde_json::from_value(j).unwrap())
    }

    #[test]
    fn names_follow_rds_rules() {
        assert!(check(&attrs(json!({"name": "api-db.subnets_1"}))).is_ok());
        assert!(check(&attrs(json!({"name": "Api"}))).unwrap_err().contains("lower-case"));
        assert!(check(&attrs(json!({"name": "default"}))).unwrap_err().contains("reserved"));
        assert!(check(&attrs(json!({"name": "a", "name_prefix": "b"}))).unwrap_err().contains("not both"));
        assert!(check(&attrs(json!({"name": "a", "description": ""}))).is_err());
    }

    #[test]
    fn replacement_and_defaults_as_terraform() {
        for n in ["name", "name_prefix"] {
            assert!(SCHEMA.attribute(n).unwrap().forces_replacement, "{n}");
        }
        for n in ["description", "subnet_ids", "tags"] {
            assert!(!SCHEMA.attribute(n).unwrap().forces_replacement, "{n}");
        }
        let n = SCHEMA.normalize(&attrs(json!({"name": "x", "subnet_ids": ["subnet-b", "subnet-a"]})));
        assert_eq!(n["description"], Value::str("Managed by provisioner"));
        assert_eq!(n["subnet_ids"], Value::string_list(["subnet-a", "subnet-b"]));
    }
}
