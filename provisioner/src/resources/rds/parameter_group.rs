//! `db_parameter_group`: an RDS DB parameter group, as terraform-provider-aws's `aws_db_parameter_group`.
//! Id = the name (what `import` takes; RDS stores names in lower case, so the configuration must use
//! lower case).
//!
//! `name` or `name_prefix` (a unique name is generated, `tf-` when neither is set), `family` (e.g.
//! `postgres16`) and `description` (default "Managed by provisioner") force replacement, as in Terraform.
//! `parameter` is a set of tables `{ name, value, apply_method }`, `apply_method` `immediate` (default) or
//! `pending-reboot`.
//!
//! **Only the parameters the configuration manages are compared.** Read asks DescribeDBParameters with
//! `Source=user` (the parameters someone set, not the family's hundreds of defaults), so a parameter set
//! outside the tool shows as drift and the next apply resets it, as Terraform does. A parameter whose name
//! and value match the configuration keeps the configured `apply_method` ([`Resource::reconcile`]): AWS does
//! not report the method a value was applied with the way it was asked for.
//!
//! Create: CreateDBParameterGroup with all tags, the checkpoint, then ModifyDBParameterGroup with the
//! parameters (20 a call, the API's maximum). Update: ModifyDBParameterGroup for added or changed
//! parameters, ResetDBParameterGroup for parameters removed from the configuration (back to the family's
//! default, as Terraform does), tags. Delete retries `InvalidDBParameterGroupState` (still used by an
//! instance being deleted) within the wait bound; NotFound = done.
//!
//! Read of one group: DescribeDBParameterGroups and DescribeDBParameters at once, then ListTagsForResource
//! (two sequential round trips), all groups at once. `read_stack` keeps the default (tracked names); a
//! group left by a run killed before its checkpoint is found by name ([`Resource::find_existing`]) and
//! adopted only when it carries this stack's and workspace's tool tags.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_rds::types::{ApplyMethod, DbParameterGroup as AwsGroup, Parameter};

use super::{
    adoptable, check_identifier, check_identifier_prefix, check_name_pair, client, is_gone, list_tags, name_to_create,
    rds_tags, sync_tags,
};
use crate::aws::{aws_err, retry_on, tag_map, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::resources::util::*;
use crate::schema::{Attribute, Schema, Type, ID, TAGS};
use crate::value::{Attrs, Value};

pub struct DbParameterGroup;

/// Terraform's "Managed by Terraform".
pub const DEFAULT_DESCRIPTION: &str = "Managed by provisioner";

/// ModifyDBParameterGroup and ResetDBParameterGroup take at most 20 parameters a call.
const PARAMETER_CHUNK: usize = 20;

fn parameter_type() -> Type {
    Type::Object(vec![
        Attribute::string("name").required().describe("Parameter name, e.g. `rds.force_ssl`."),
        Attribute::string("value").required().describe("Its value, as a string (`\"1\"`); numbers convert."),
        Attribute::string("apply_method")
            .default("immediate")
            .one_of(&["immediate", "pending-reboot"])
            .describe("`immediate` (default; dynamic parameters) or `pending-reboot` (static ones)."),
    ])
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("db_parameter_group", "An RDS DB parameter group: engine settings for the DB instances that use it.")
        .taggable()
        .attr(
            Attribute::string("name")
                .optional_computed()
                .forces_new()
                .describe("Name: up to 255 lower-case letters, digits and hyphens, a letter first."),
        )
        .attr(
            Attribute::string("name_prefix")
                .optional_computed()
                .forces_new()
                .describe("Creates a unique name beginning with this prefix; conflicts with `name`."),
        )
        .attr(
            Attribute::string("family").required().forces_new().describe("Parameter group family, e.g. `postgres16`."),
        )
        .attr(
            Attribute::string("description")
                .default(DEFAULT_DESCRIPTION)
                .forces_new()
                .describe("Description (default \"Managed by provisioner\")."),
        )
        .attr(
            Attribute::new("parameter", Type::set(parameter_type()))
                .optional()
                .describe("Parameters to set: array of tables `{ name, value, apply_method }`."),
        )
        .attr(Attribute::string("arn").computed().describe("ARN of the group."))
});

fn check(cfg: &Attrs) -> Result<(), String> {
    check_name_pair(cfg, "name", "name_prefix")?;
    if let Some(n) = cfg.get("name").and_then(Value::as_str) {
        check_identifier("db_parameter_group name", n, 255, true)?;
    }
    if let Some(p) = cfg.get("name_prefix").and_then(Value::as_str) {
        check_identifier_prefix("db_parameter_group name_prefix", p, 255 - UNIQUE_ID_SUFFIX_LEN)?;
    }
    let mut seen = std::collections::BTreeSet::new();
    for p in cfg.get("parameter").and_then(Value::as_list).unwrap_or_default() {
        if let Some(n) = p.get("name").and_then(Value::as_str) {
            if !seen.insert(n.to_owned()) {
                return Err(format!("parameter `{n}` is set twice"));
            }
        }
    }
    Ok(())
}

/// `(name, value, apply_method)` of the configured parameters.
fn parameters(attrs: &Attrs) -> Vec<(String, String, String)> {
    attrs
        .get("parameter")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| {
            Some((
                p.get("name")?.as_str()?.to_owned(),
                p.get("value")?.as_str()?.to_owned(),
                p.get("apply_method").and_then(Value::as_str).unwrap_or("immediate").to_owned(),
            ))
        })
        .collect()
}

fn parameter_value(name: &str, value: &str, method: &str) -> Value {
    Value::Map(BTreeMap::from([
        ("name".to_owned(), Value::str(name)),
        ("value".to_owned(), Value::str(value)),
        ("apply_method".to_owned(), Value::str(method)),
    ]))
}

fn sdk_parameter(name: &str, value: Option<&str>, method: &str) -> Parameter {
    Parameter::builder()
        .parameter_name(name)
        .set_parameter_value(value.map(str::to_owned))
        .apply_method(ApplyMethod::from(method))
        .build()
}

fn group_attrs(g: &AwsGroup) -> Option<Attrs> {
    let name = g.db_parameter_group_name()?;
    let mut a = Attrs::new();
    a.insert(ID.into(), Value::str(name));
    a.insert("name".into(), Value::str(name));
    if let Some(p) = name_prefix_from_name(name) {
        a.insert("name_prefix".into(), Value::str(p));
    }
    put_str(&mut a, "family", g.db_parameter_group_family());
    put_str(&mut a, "description", g.description());
    put_str(&mut a, "arn", g.db_parameter_group_arn());
    Some(a)
}

/// The user-set parameters of group `name` (every page); `None` when the group is gone.
async fn user_parameters(cx: &Ctx, name: &str) -> Result<Option<Vec<Value>>, ProviderError> {
    let mut out = Vec::new();
    let mut pages =
        client(cx).describe_db_parameters().db_parameter_group_name(name).source("user").into_paginator().send();
    while let Some(page) = pages.next().await {
        match page.map_err(aws_err) {
            Ok(p) => out.extend(p.parameters().iter().filter_map(|p| {
                let n = p.parameter_name()?;
                let v = p.parameter_value()?;
                Some(parameter_value(n, v, p.apply_method().map(ApplyMethod::as_str).unwrap_or("immediate")))
            })),
            Err(e) if is_gone(&e) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Ok(Some(out))
}

/// The group named `name` with its parameters and tags; `None` when it does not exist.
async fn read_name(cx: &Ctx, name: &str) -> Result<Option<Attrs>, ProviderError> {
    let describe = async {
        match client(cx).describe_db_parameter_groups().db_parameter_group_name(name).send().await.map_err(aws_err) {
            Ok(o) => Ok(o
                .db_parameter_groups()
                .iter()
                .find(|g| g.db_parameter_group_name() == Some(name))
                .and_then(group_attrs)),
            Err(e) if is_gone(&e) => Ok(None),
            Err(e) => Err(e),
        }
    };
    let (group, params) = futures::try_join!(describe, user_parameters(cx, name))?;
    let (Some(mut a), Some(params)) = (group, params) else { return Ok(None) };
    a.insert("parameter".into(), Value::List(params));
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

/// ModifyDBParameterGroup of `params`, 20 a call.
async fn modify(cx: &Ctx, name: &str, params: &[(String, String, String)]) -> Result<(), ProviderError> {
    for chunk in params.chunks(PARAMETER_CHUNK) {
        let list: Vec<Parameter> = chunk.iter().map(|(n, v, m)| sdk_parameter(n, Some(v), m)).collect();
        retry_on(cx, "ModifyDBParameterGroup", is_gone, || async {
            client(cx)
                .modify_db_parameter_group()
                .db_parameter_group_name(name)
                .set_parameters(Some(list.clone()))
                .send()
                .await
                .map_err(aws_err)
        })
        .await?;
    }
    Ok(())
}

/// The configured parameters (name → (value, method)) that AWS reports with the same value keep the
/// configured `apply_method`; see the module doc.
fn keep_configured_methods(cfg: &Attrs, actual: &mut Attrs) {
    let wanted: BTreeMap<String, (String, String)> = parameters(cfg).into_iter().map(|(n, v, m)| (n, (v, m))).collect();
    let Some(Value::List(items)) = actual.get_mut("parameter") else { return };
    for item in items.iter_mut() {
        let (Some(n), Some(v)) = (item.get("name").and_then(Value::as_str), item.get("value").and_then(Value::as_str))
        else {
            continue;
        };
        if let Some((value, method)) = wanted.get(n) {
            if value == v {
                *item = parameter_value(n, v, method);
            }
        }
    }
}

#[async_trait]
impl Resource for DbParameterGroup {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        check(cfg)
    }

    fn reconcile(&self, cfg: &Attrs, actual: &mut Attrs) {
        keep_configured_methods(cfg, actual);
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        read_names(cx, ids).await
    }

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
        let out = client(cx)
            .create_db_parameter_group()
            .db_parameter_group_name(&name)
            .db_parameter_group_family(req_str(desired, "family")?)
            .description(get_str(desired, "description").unwrap_or(DEFAULT_DESCRIPTION))
            .set_tags(Some(rds_tags(&tag_map(desired))))
            .send()
            .await
            .map_err(aws_err)?;
        let mut made = with_id(desired, &name);
        made.insert("name".into(), Value::str(&name));
        made.insert("parameter".into(), Value::List(vec![]));
        if let Some(got) = out.db_parameter_group().and_then(group_attrs) {
            made.extend(got);
        }
        checkpoint.created(&made).await;
        let id = get_id(&made)?.to_owned();
        modify(cx, &id, &parameters(desired)).await?;
        let ids = [id.clone()];
        let mut got = read_back(cx, "DB parameter group", &id, || read_names(cx, &ids)).await?;
        keep_configured_methods(desired, &mut got);
        Ok(got)
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        check(desired).map_err(|m| ProviderError::with_code("InvalidParameterValue", m))?;
        let name = get_id(prior)?;
        let before: BTreeMap<String, (String, String)> =
            parameters(prior).into_iter().map(|(n, v, m)| (n, (v, m))).collect();
        let after = parameters(desired);
        let changed: Vec<(String, String, String)> =
            after.iter().filter(|(n, v, m)| before.get(n) != Some(&(v.clone(), m.clone()))).cloned().collect();
        let removed: Vec<(String, String)> = before
            .iter()
            .filter(|(n, _)| !after.iter().any(|(a, _, _)| a == *n))
            .map(|(n, (_, m))| (n.clone(), m.clone()))
            .collect();
        // Reset first: a parameter renamed in the configuration is reset and set in this order.
        for chunk in removed.chunks(PARAMETER_CHUNK) {
            let list: Vec<Parameter> = chunk.iter().map(|(n, m)| sdk_parameter(n, None, m)).collect();
            client(cx)
                .reset_db_parameter_group()
                .db_parameter_group_name(name)
                .reset_all_parameters(false)
                .set_parameters(Some(list))
                .send()
                .await
                .map_err(aws_err)?;
        }
        modify(cx, name, &changed).await?;
        sync_tags(cx, req_str(prior, "arn")?, prior, desired).await?;
        let ids = [name.to_owned()];
        let mut got = read_back(cx, "DB parameter group", name, || read_names(cx, &ids)).await?;
        keep_configured_methods(desired, &mut got);
        Ok(got)
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let name = get_id(prior)?;
        let r = retry_on(
            cx,
            "DeleteDBParameterGroup",
            |e| e.code.as_deref() == Some("InvalidDBParameterGroupState"),
            || async {
                client(cx).delete_db_parameter_group().db_parameter_group_name(name).send().await.map_err(aws_err)
            },
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
    fn replacement_as_terraform() {
        for n in ["name", "name_prefix", "family", "description"] {
            assert!(SCHEMA.attribute(n).unwrap().forces_replacement, "{n}");
        }
        for n in ["parameter", "tags"] {
            assert!(!SCHEMA.attribute(n).unwrap().forces_replacement, "{n}");
        }
    }

    #[test]
    fn parameters_normalise_with_the_default_method_in_any_order() {
        let a = SCHEMA.normalize(&attrs(json!({"family": "postgres16", "parameter": [
            {"name": "rds.force_ssl", "value": "1"}, {"name": "log_min_duration_statement", "value": "500", "apply_method": "immediate"}]})));
        let b = SCHEMA.normalize(&attrs(json!({"family": "postgres16", "parameter": [
            {"name": "log_min_duration_statement", "value": "500"}, {"name": "rds.force_ssl", "value": "1", "apply_method": "immediate"}]})));
        assert_eq!(a["parameter"], b["parameter"]);
        assert_eq!(a["description"], Value::str("Managed by provisioner"));
    }

    #[test]
    fn checks() {
        assert!(check(&attrs(json!({"name": "api-pg16"}))).is_ok());
        assert!(check(&attrs(json!({"name": "api_pg"}))).is_err());
        assert!(check(&attrs(json!({"name_prefix": "api-"}))).is_ok());
        let e = check(&attrs(json!({"parameter": [{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]})))
            .unwrap_err();
        assert!(e.contains("set twice"), "{e}");
    }

    #[test]
    fn matching_parameters_keep_the_configured_method() {
        let cfg =
            attrs(json!({"parameter": [{"name": "shared_buffers", "value": "1024", "apply_method": "pending-reboot"},
            {"name": "rds.force_ssl", "value": "1", "apply_method": "immediate"}]}));
        let mut actual =
            attrs(json!({"parameter": [{"name": "shared_buffers", "value": "1024", "apply_method": "immediate"},
            {"name": "rds.force_ssl", "value": "0", "apply_method": "pending-reboot"}]}));
        DbParameterGroup.reconcile(&cfg, &mut actual);
        let list = actual["parameter"].as_list().unwrap();
        assert_eq!(list[0].get("apply_method"), Some(&Value::str("pending-reboot")));
        // A different value is drift: kept as AWS reports it.
        assert_eq!(list[1].get("apply_method"), Some(&Value::str("pending-reboot")));
    }
}
