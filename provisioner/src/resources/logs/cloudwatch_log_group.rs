//! `cloudwatch_log_group`: a CloudWatch Logs log group. Id = the group's name (what `import` takes).
//!
//! Exactly one of `name` and `name_prefix` is set; a prefix gets Terraform's unique suffix
//! ([`super::prefixed_unique_id`]). Both are checked in `create` (the schema has no "exactly one of"), as is
//! `retention_in_days` (the schema's enums are of strings only): a bad value fails before any call.
//!
//! Create is one CreateLogGroup carrying all tags and the KMS key, then (after the checkpoint) a
//! PutRetentionPolicy when a retention is set, then the read-back. Update: PutRetentionPolicy /
//! DeleteRetentionPolicy (retention 0 = never expire), AssociateKmsKey / DisassociateKmsKey, TagResource /
//! UntagResource. Delete: DeleteLogGroup, `ResourceNotFoundException` = already gone.
//!
//! Retried: the PutRetentionPolicy right after CreateLogGroup on `ResourceNotFoundException` (the new group
//! not visible yet; up to 2 minutes, as terraform-provider-aws's `propagationTimeout`), and CreateLogGroup,
//! Put/DeleteRetentionPolicy and DeleteLogGroup on `OperationAbortedException` ("A conflicting operation is
//! currently in progress against this resource": another write to the group in flight, e.g. a service
//! creating the group of its own logs; the write was not done), within the wait bound.
//!
//! Read is batched: one DescribeLogGroups per 50 names (`logGroupIdentifiers`, the API's limit; paginated),
//! then one ListTagsForResource per group found (the API has no batch tag read; at most 8 in flight). So
//! `read` of n groups costs ⌈n/50⌉ + n calls, in two sequential round trips when n ≤ 8 (`read_stack`, below,
//! needs no tag call for the groups the listing has). (DescribeLogGroups
//! by `logGroupNamePrefix` would be one call per name.) The emulator ignores `logGroupIdentifiers` and
//! lists every group; the result is filtered by name either way.
//!
//! `read_stack`: CloudWatch Logs cannot filter log groups by tag, so the stack's groups come from the
//! Resource Groups Tagging API's listing (`resources::util::stack_listed`, one call shared by every type),
//! with their tags: the tracked groups are described beside that call, the groups it adds (leftovers of an
//! interrupted run) after it, and no ListTagsForResource is needed for listed groups.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};

use super::{client, name_prefix_from_name, prefixed_unique_id, UNIQUE_ID_SUFFIX_LEN};
use crate::aws::{aws_err, retry_on, tag_map, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::resources::util::*;
use crate::schema::{Attribute, Schema, TAGS};
use crate::value::{Attrs, Value};

pub struct CloudwatchLogGroup;

/// The retention periods (days) CloudWatch Logs accepts; 0 = never expire (no retention policy).
pub(crate) const RETENTION_DAYS: &[i64] =
    &[0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/// DescribeLogGroups accepts at most 50 `logGroupIdentifiers`.
const DESCRIBE_CHUNK: usize = 50;

/// Longest log group name.
const MAX_NAME_LEN: usize = 512;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("cloudwatch_log_group", "A CloudWatch Logs log group.")
        .taggable()
        .attr(
            Attribute::string("name")
                .optional_computed()
                .forces_new()
                .describe("Name of the log group (exactly one of name, name_prefix)."),
        )
        .attr(
            Attribute::string("name_prefix")
                .optional_computed()
                .forces_new()
                .describe("Creates a unique name beginning with this prefix (exactly one of name, name_prefix)."),
        )
        .attr(
            Attribute::number("retention_in_days")
                .default(0)
                .describe("Days to keep log events: 0 (never expire), 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."),
        )
        .attr(Attribute::string("kms_key_id").describe("ARN of the KMS key encrypting the log data."))
        .attr(Attribute::string("arn").computed().describe("ARN of the log group (without the `:*` suffix)."))
});

/// Checks `retention_in_days` against the values CloudWatch Logs accepts.
pub(crate) fn check_retention(attrs: &Attrs) -> Result<i64, ProviderError> {
    let Some(v) = attrs.get("retention_in_days").filter(|v| !v.is_null()) else { return Ok(0) };
    match v.as_i64() {
        Some(n) if RETENTION_DAYS.contains(&n) => Ok(n),
        _ => Err(ProviderError::with_code(
            "InvalidParameterValue",
            format!(
                "retention_in_days = {v} is not a retention CloudWatch Logs accepts; use one of {} (0 = never expire)",
                RETENTION_DAYS.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// The name to create: `name`, or `name_prefix` plus a unique suffix; exactly one of them must be set.
pub(crate) fn name_to_create(desired: &Attrs) -> Result<String, ProviderError> {
    let name = match (get_str(desired, "name"), get_str(desired, "name_prefix")) {
        (Some(n), None) => n.to_owned(),
        (None, Some(p)) => {
            if p.len() + UNIQUE_ID_SUFFIX_LEN > MAX_NAME_LEN {
                return Err(ProviderError::with_code(
                    "InvalidParameterValue",
                    format!("name_prefix is too long: at most {} characters", MAX_NAME_LEN - UNIQUE_ID_SUFFIX_LEN),
                ));
            }
            prefixed_unique_id(p)
        }
        (Some(_), Some(_)) => {
            return Err(ProviderError::with_code(
                "InvalidParameterCombination",
                "cloudwatch_log_group: set either `name` or `name_prefix`, not both",
            ))
        }
        (None, None) => {
            return Err(ProviderError::with_code(
                "InvalidParameterCombination",
                "cloudwatch_log_group: one of `name` or `name_prefix` is required",
            ))
        }
    };
    if name.len() > MAX_NAME_LEN {
        return Err(ProviderError::with_code(
            "InvalidParameterValue",
            format!("log group name is too long: at most {MAX_NAME_LEN} characters"),
        ));
    }
    Ok(name)
}

/// Terraform's arn: the log group ARN without the `:*` suffix DescribeLogGroups's `arn` carries.
fn group_arn(log_group_arn: Option<&str>, arn: Option<&str>) -> Option<String> {
    log_group_arn.or_else(|| arn.map(|a| a.strip_suffix(":*").unwrap_or(a))).map(str::to_owned)
}

fn is_gone(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("ResourceNotFoundException") || e.is_not_found()
}

/// `OperationAbortedException`: a conflicting operation on the same group was in progress; retryable.
fn is_conflict(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("OperationAbortedException")
}

/// What the first write after CreateLogGroup retries: the group not visible yet, or a conflict.
fn new_group_retryable(e: &ProviderError) -> bool {
    is_gone(e) || is_conflict(e)
}

/// The tags of the group with ARN `arn` (`None` when it is gone).
async fn list_tags(cx: &Ctx, arn: String) -> Result<Option<Value>, ProviderError> {
    let r = client(cx).list_tags_for_resource().resource_arn(&arn).send().await.map_err(aws_err);
    match r {
        Ok(out) => Ok(Some(Value::Map(
            out.tags().map(|m| m.iter().map(|(k, v)| (k.clone(), Value::str(v))).collect()).unwrap_or_default(),
        ))),
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

impl CloudwatchLogGroup {
    /// One DescribeLogGroups (paginated) per 50 names, then one ListTagsForResource per group found.
    async fn read_names(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let mut out = self.describe(cx, ids).await?;
        attach_tags(cx, &mut out, &Listed::new()).await?;
        Ok(out)
    }

    /// DescribeLogGroups only: attributes without `tags`.
    async fn describe(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let mut names: Vec<String> = ids.iter().filter(|s| !s.is_empty()).cloned().collect();
        names.sort();
        names.dedup();
        let mut out: HashMap<String, Attrs> = HashMap::new();
        for chunk in names.chunks(DESCRIBE_CHUNK) {
            let wanted: HashSet<&str> = chunk.iter().map(String::as_str).collect();
            let mut pages = client(cx)
                .describe_log_groups()
                .set_log_group_identifiers(Some(chunk.to_vec()))
                .into_paginator()
                .items()
                .send();
            while let Some(g) = pages.next().await {
                let g = g.map_err(aws_err)?;
                let Some(name) = g.log_group_name().filter(|n| wanted.contains(n)) else { continue };
                let mut a = Attrs::new();
                a.insert("id".into(), Value::str(name));
                a.insert("name".into(), Value::str(name));
                if let Some(p) = name_prefix_from_name(name) {
                    a.insert("name_prefix".into(), Value::str(p));
                }
                a.insert("retention_in_days".into(), Value::int(g.retention_in_days().unwrap_or(0).into()));
                put_opt(&mut a, "kms_key_id", g.kms_key_id());
                put_opt(&mut a, "arn", group_arn(g.log_group_arn(), g.arn()).as_deref());
                out.insert(name.to_owned(), a);
            }
        }
        Ok(out)
    }
}

/// Adds `tags` to every group of `out`: from the Tagging API's listing where it has the group, else with
/// one ListTagsForResource each (at most 8 at once); a group gone between the calls is dropped.
async fn attach_tags(cx: &Ctx, out: &mut HashMap<String, Attrs>, listed: &Listed) -> Result<(), ProviderError> {
    let mut arns: Vec<(String, String)> = Vec::new();
    for (name, a) in out.iter_mut() {
        let arn = req_str(a, "arn")?.to_owned();
        match listed.get(&arn).or_else(|| listed.get(&format!("{arn}:*"))) {
            Some(t) => {
                a.insert(TAGS.into(), Value::Map(t.iter().map(|(k, v)| (k.clone(), Value::str(v))).collect()));
            }
            None => arns.push((name.clone(), arn)),
        }
    }
    {
        let tags: Vec<(String, Option<Value>)> = futures::stream::iter(
            arns.into_iter()
                .map(|(name, arn)| async move { Ok::<_, ProviderError>((name, list_tags(cx, arn).await?)) }),
        )
        .buffer_unordered(8)
        .try_collect()
        .await?;
        for (name, tags) in tags {
            match tags {
                Some(t) => {
                    if let Some(a) = out.get_mut(&name) {
                        a.insert(TAGS.into(), t);
                    }
                }
                // Deleted between the calls.
                None => {
                    out.remove(&name);
                }
            }
        }
    }
    Ok(())
}

impl CloudwatchLogGroup {
    async fn read_one(&self, cx: &Ctx, name: &str) -> Result<Attrs, ProviderError> {
        let ids = [name.to_owned()];
        read_back(cx, "log group", name, || self.read_names(cx, &ids)).await
    }
}

/// PutRetentionPolicy (DeleteRetentionPolicy for 0), retrying conflicts; `just_created`: also while the
/// group created a moment before is not visible yet.
async fn put_retention(cx: &Ctx, name: &str, days: i64, just_created: bool) -> Result<(), ProviderError> {
    if days == 0 {
        let r = retry_on(cx, "DeleteRetentionPolicy", is_conflict, || async {
            client(cx).delete_retention_policy().log_group_name(name).send().await.map_err(aws_err)
        })
        .await;
        return gone_ok(r).map(|_| ());
    }
    let days = i32::try_from(days).map_err(|_| ProviderError::new("retention_in_days out of range"))?;
    let put = || async {
        client(cx).put_retention_policy().log_group_name(name).retention_in_days(days).send().await.map_err(aws_err)
    };
    if just_created {
        retry_propagation(cx, "PutRetentionPolicy", new_group_retryable, put).await?;
    } else {
        retry_on(cx, "PutRetentionPolicy", is_conflict, put).await?;
    }
    Ok(())
}

#[async_trait]
impl Resource for CloudwatchLogGroup {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        check_retention(cfg).map_err(|e| e.message)?;
        name_to_create(cfg).map(drop).map_err(|e| e.message)
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_names(cx, ids).await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        // A listed log group's ARN is `arn:…:log-group:NAME` (`:*` appended by some APIs); its id is NAME.
        let listed_id = |arn: &str| {
            (arn_resource_type(arn) == Some("log-group"))
                .then(|| arn.splitn(7, ':').nth(6).map(|n| n.trim_end_matches(":*").to_owned()))
                .flatten()
        };
        let (listed, mut out) =
            read_tracked_and_listed(cx, ids, listed_id, |names| async move { self.describe(cx, &names).await }).await?;
        attach_tags(cx, &mut out, &listed).await?;
        Ok(out)
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        let retention = check_retention(desired)?;
        let name = name_to_create(desired)?;
        retry_on(cx, "CreateLogGroup", is_conflict, || async {
            client(cx)
                .create_log_group()
                .log_group_name(&name)
                .set_kms_key_id(get_str(desired, "kms_key_id").map(str::to_owned))
                .set_tags(Some(tag_map(desired).into_iter().collect()))
                .send()
                .await
                .map_err(aws_err)
        })
        .await?;
        let mut made = with_id(desired, &name);
        made.insert("name".into(), Value::str(&name));
        checkpoint.created(&made).await;

        if retention != 0 {
            put_retention(cx, &name, retention, true).await?;
        }
        self.read_one(cx, &name).await
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let name = get_id(prior)?;
        let retention = check_retention(desired)?;
        if check_retention(prior).ok() != Some(retention) {
            put_retention(cx, name, retention, false).await?;
        }
        let (old_key, new_key) = (get_str(prior, "kms_key_id"), get_str(desired, "kms_key_id"));
        if old_key != new_key {
            match new_key {
                Some(k) => {
                    client(cx).associate_kms_key().log_group_name(name).kms_key_id(k).send().await.map_err(aws_err)?;
                }
                None => {
                    client(cx).disassociate_kms_key().log_group_name(name).send().await.map_err(aws_err)?;
                }
            }
        }
        let (old, new) = (tag_map(prior), tag_map(desired));
        if old != new {
            let arn = req_str(prior, "arn")?;
            let removed: Vec<String> = old.keys().filter(|k| !new.contains_key(*k)).cloned().collect();
            let changed: HashMap<String, String> =
                new.iter().filter(|(k, v)| old.get(*k) != Some(v)).map(|(k, v)| (k.clone(), v.clone())).collect();
            if !removed.is_empty() {
                client(cx)
                    .untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(removed))
                    .send()
                    .await
                    .map_err(aws_err)?;
            }
            if !changed.is_empty() {
                client(cx).tag_resource().resource_arn(arn).set_tags(Some(changed)).send().await.map_err(aws_err)?;
            }
        }
        self.read_one(cx, name).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let name = get_id(prior)?;
        let r = retry_on(cx, "DeleteLogGroup", is_conflict, || async {
            client(cx).delete_log_group().log_group_name(name).send().await.map_err(aws_err)
        })
        .await;
        gone_ok_by(r, is_gone).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, Value)]) -> Attrs {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    #[test]
    fn retention_accepts_only_aws_values() {
        assert_eq!(check_retention(&Attrs::new()).unwrap(), 0);
        assert_eq!(check_retention(&attrs(&[("retention_in_days", Value::int(14))])).unwrap(), 14);
        assert_eq!(check_retention(&attrs(&[("retention_in_days", Value::int(3653))])).unwrap(), 3653);
        let e = check_retention(&attrs(&[("retention_in_days", Value::int(2))])).unwrap_err();
        assert!(e.message.contains("retention_in_days = 2") && e.message.contains("1, 3, 5, 7, 14"), "{e}");
        assert!(check_retention(&attrs(&[("retention_in_days", Value::Number(7.5))])).is_err());
    }

    #[test]
    fn exactly_one_of_name_and_prefix() {
        assert_eq!(name_to_create(&attrs(&[("name", Value::str("/app"))])).unwrap(), "/app");
        let n = name_to_create(&attrs(&[("name_prefix", Value::str("/app-"))])).unwrap();
        assert!(n.starts_with("/app-") && n.len() == 5 + UNIQUE_ID_SUFFIX_LEN, "{n}");
        let both = attrs(&[("name", Value::str("a")), ("name_prefix", Value::str("b"))]);
        assert!(name_to_create(&both).unwrap_err().message.contains("not both"));
        assert!(name_to_create(&Attrs::new()).unwrap_err().message.contains("required"));
        let long = "x".repeat(MAX_NAME_LEN - UNIQUE_ID_SUFFIX_LEN + 1);
        assert!(name_to_create(&attrs(&[("name_prefix", Value::str(long))])).is_err());
    }

    #[test]
    fn arn_without_star_suffix() {
        let a = "arn:aws:logs:us-east-1:123:log-group:/app";
        assert_eq!(group_arn(None, Some(&format!("{a}:*"))).as_deref(), Some(a));
        assert_eq!(group_arn(Some(a), Some("other")).as_deref(), Some(a));
        assert_eq!(group_arn(None, None), None);
    }

    #[test]
    fn retried_errors() {
        let e = |c: &str| ProviderError::with_code(c, "m");
        let conflict = e("OperationAbortedException");
        let not_found = e("ResourceNotFoundException");
        assert!(is_conflict(&conflict) && !is_conflict(&not_found));
        // Right after create both are retried; later a missing group is not waited for.
        assert!(new_group_retryable(&conflict) && new_group_retryable(&not_found));
        for other in ["InvalidParameterException", "ResourceAlreadyExistsException", "LimitExceededException"] {
            assert!(!new_group_retryable(&e(other)) && !is_conflict(&e(other)), "{other}");
        }
    }

    #[test]
    fn schema_defaults_retention_to_never_expire() {
        let n = SCHEMA.normalize(&attrs(&[("name", Value::str("/app"))]));
        assert_eq!(n["retention_in_days"], Value::int(0));
        assert!(SCHEMA.attribute("name").unwrap().forces_replacement);
        assert!(SCHEMA.taggable);
    }
}
