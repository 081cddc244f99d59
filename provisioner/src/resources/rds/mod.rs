//! RDS resource types, as terraform-provider-aws's `internal/service/rds`: `db_subnet_group`,
//! `db_parameter_group` and `db_instance`. Registered in `resources/mod.rs`.
//!
//! Shared here: the RDS client, built on first use ([`client`]); tags (RDS takes them in the create call, as
//! a `Tags` list, and reads them with ListTagsForResource — DescribeDBInstances carries them as `TagList`);
//! the naming rules RDS applies to identifiers ([`check_identifier`]); the `timeouts` block and its bounds
//! ([`timeout`]); the natural-key lookup of groups ([`adoptable`]). The instance's waits are in `wait.rs`.

pub mod instance;
pub mod parameter_group;
pub mod subnet_group;
pub(crate) mod wait;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_rds::types::Tag;

use crate::aws::{aws_err, Ctx, ProviderError};
use crate::schema::{Attribute, Type};
use crate::value::{Attrs, Value};

/// The RDS client of `cx`, built once with the shared SDK configuration and the call counter.
pub(crate) fn client(cx: &Ctx) -> aws_sdk_rds::Client {
    cx.client(|sdk, calls| {
        aws_sdk_rds::Client::from_conf(aws_sdk_rds::config::Builder::from(sdk).interceptor(calls).build())
    })
}

/// A string map as RDS tags.
pub(crate) fn rds_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// RDS tags as a string map.
pub(crate) fn tags_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect()
}

/// RDS tags as the `tags` attribute value.
pub(crate) fn tags_value(tags: &[Tag]) -> Value {
    Value::Map(tags_map(tags).into_iter().map(|(k, v)| (k, Value::str(v))).collect())
}

/// The tags of the RDS object `arn`; `None` when it is gone.
pub(crate) async fn list_tags(cx: &Ctx, arn: &str) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
    match client(cx).list_tags_for_resource().resource_name(arn).send().await.map_err(aws_err) {
        Ok(out) => Ok(Some(tags_map(out.tag_list()))),
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Makes the tags of the RDS object `arn` go from `prior["tags"]` to `desired["tags"]`
/// (RemoveTagsFromResource / AddTagsToResource, only when needed).
pub(crate) async fn sync_tags(cx: &Ctx, arn: &str, prior: &Attrs, desired: &Attrs) -> Result<(), ProviderError> {
    let (old, new) = (crate::aws::tag_map(prior), crate::aws::tag_map(desired));
    let removed: Vec<String> = old.keys().filter(|k| !new.contains_key(*k)).cloned().collect();
    let changed: BTreeMap<String, String> =
        new.iter().filter(|(k, v)| old.get(*k) != Some(v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    if !removed.is_empty() {
        client(cx)
            .remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .map_err(aws_err)?;
    }
    if !changed.is_empty() {
        client(cx)
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(rds_tags(&changed)))
            .send()
            .await
            .map_err(aws_err)?;
    }
    Ok(())
}

/// RDS's "not found" errors (`DBInstanceNotFound`, `DBSubnetGroupNotFoundFault`, `DBParameterGroupNotFound`, …).
pub(crate) fn is_gone(e: &ProviderError) -> bool {
    e.code.as_deref().is_some_and(|c| c.contains("NotFound"))
}

/// RDS's identifier rules (DB instances, parameter groups, final snapshots): 1 to `max` characters,
/// letters, digits and hyphens, a letter first, no hyphen at the end and no two in a row. `lowercase`: only
/// lower-case letters (Terraform's rule for the names RDS lowercases: AWS would store another name than the
/// configured one, which then diffs). `what` names the argument in the message.
pub(crate) fn check_identifier(what: &str, s: &str, max: usize, lowercase: bool) -> Result<(), String> {
    let rule = format!(
        "{what} `{s}`: use 1 to {max} {}letters, digits and hyphens, starting with a letter, without a hyphen at the end or two in a row",
        if lowercase { "lower-case " } else { "" }
    );
    let letter = |c: char| if lowercase { c.is_ascii_lowercase() } else { c.is_ascii_alphabetic() };
    let ok = !s.is_empty()
        && s.len() <= max
        && s.chars().next().is_some_and(letter)
        && s.chars().all(|c| letter(c) || c.is_ascii_digit() || c == '-')
        && !s.ends_with('-')
        && !s.contains("--");
    ok.then_some(()).ok_or(rule)
}

/// [`check_identifier`] for a prefix: it must start like one (a generated suffix follows, so a trailing
/// hyphen is fine).
pub(crate) fn check_identifier_prefix(what: &str, s: &str, max: usize) -> Result<(), String> {
    let rule = format!(
        "{what} `{s}`: use at most {max} lower-case letters, digits and hyphens, starting with a letter, without two hyphens in a row"
    );
    let ok = !s.is_empty()
        && s.len() <= max
        && s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.contains("--");
    ok.then_some(()).ok_or(rule)
}

/// `name` / `name_prefix` (or `identifier` / `identifier_prefix`): not both.
pub(crate) fn check_name_pair(attrs: &Attrs, name: &str, prefix: &str) -> Result<(), String> {
    let set = |k: &str| attrs.get(k).is_some_and(|v| !v.is_null() && v.as_str() != Some(""));
    if set(name) && set(prefix) {
        return Err(format!("set `{name}` or `{prefix}`, not both"));
    }
    Ok(())
}

/// The name to create with: `name_key`, else `prefix_key` (or `default_prefix`) followed by Terraform's
/// unique suffix (`id.PrefixedUniqueId`: a timestamp and a counter, lower-case, as RDS names must be).
pub(crate) fn name_to_create(attrs: &Attrs, name_key: &str, prefix_key: &str, default_prefix: &str) -> String {
    if let Some(n) = attrs.get(name_key).and_then(Value::as_str).filter(|s| !s.is_empty()) {
        return n.to_owned();
    }
    let prefix = attrs.get(prefix_key).and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or(default_prefix);
    crate::resources::util::prefixed_unique_id(prefix)
}

/// The `timeouts` block of a type that waits: one table `{ create, update, delete }`, each a duration
/// such as `"40m"`; `defaults` says the default of each in the description.
pub(crate) fn timeouts_type(defaults: &'static str) -> Type {
    Type::Object(vec![
        Attribute::string("create").describe(defaults),
        Attribute::string("update").describe(defaults),
        Attribute::string("delete").describe(defaults),
    ])
}

/// Checks the durations of a `timeouts` table.
pub(crate) fn check_timeouts(cfg: &Attrs) -> Result<(), String> {
    let list = cfg.get("timeouts").and_then(Value::as_list).unwrap_or_default();
    if list.len() > 1 {
        return Err("at most one `timeouts` table".to_owned());
    }
    if let Some(t) = list.first().and_then(Value::as_map) {
        for (k, v) in t {
            if let Some(s) = v.as_str() {
                if crate::resources::ecs::deploy::parse_duration(s).is_none() {
                    return Err(format!(
                        "timeouts.{k} = \"{s}\" is not a duration: write e.g. \"40m\", \"1h30m\" or \"90s\""
                    ));
                }
            }
        }
    }
    Ok(())
}

/// How long `kind` (create, update, delete) may wait: `timeouts.<kind>`, else `default`; and never longer
/// than `PROVISIONER_WAIT_TIMEOUT_SECS` when that is set (the environment's bound on every wait: tests, CI
/// jobs with a budget), else `cx.waits.timeout` only when a caller made it shorter than the default.
pub(crate) fn timeout(cx: &Ctx, attrs: &Attrs, kind: &str, default: Duration) -> Duration {
    let configured = attrs
        .get("timeouts")
        .and_then(Value::as_list)
        .and_then(|l| l.first())
        .and_then(|t| t.get(kind))
        .and_then(Value::as_str)
        .and_then(crate::resources::ecs::deploy::parse_duration)
        .unwrap_or(default);
    if std::env::var_os("PROVISIONER_WAIT_TIMEOUT_SECS").is_some() || cx.waits.timeout < Duration::from_secs(600) {
        configured.min(cx.waits.timeout)
    } else {
        configured
    }
}

/// Whether an existing group found by its name (`tags`: its tags) may be adopted by this stack and
/// workspace: it carries this stack's and workspace's tool tags. A group of that name without them
/// belongs to someone else; creating ours would fail with "already exists", which is the right answer.
pub(crate) fn adoptable(cx: &Ctx, tags: &BTreeMap<String, String>) -> bool {
    cx.in_workspace(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_follow_rds_rules() {
        assert!(check_identifier("identifier", "api-db-1", 63, true).is_ok());
        for bad in ["", "1db", "db-", "db--x", "db_x", "Db", &"a".repeat(64)] {
            let e = check_identifier("identifier", bad, 63, true).unwrap_err();
            assert!(e.contains("1 to 63 lower-case letters"), "{bad}: {e}");
        }
        assert!(check_identifier("final_snapshot_identifier", "Final-Snap", 255, false).is_ok());
        assert!(check_identifier("final_snapshot_identifier", &"a".repeat(256), 255, false).is_err());
        assert!(check_identifier_prefix("identifier_prefix", "api-", 37).is_ok());
        assert!(check_identifier_prefix("identifier_prefix", "-api", 37).is_err());
    }

    #[test]
    fn generated_names_are_lower_case_and_keep_the_prefix() {
        let a = Attrs::from([("name_prefix".to_owned(), Value::str("db-"))]);
        let n = name_to_create(&a, "name", "name_prefix", "tf-");
        assert!(n.starts_with("db-") && n.len() == 3 + crate::resources::util::UNIQUE_ID_SUFFIX_LEN, "{n}");
        assert!(check_identifier("name", &n, 255, true).is_ok(), "{n}");
        let a = Attrs::from([("name".to_owned(), Value::str("x"))]);
        assert_eq!(name_to_create(&a, "name", "name_prefix", "tf-"), "x");
    }

    #[test]
    fn gone_codes() {
        for c in ["DBInstanceNotFound", "DBSubnetGroupNotFoundFault", "DBParameterGroupNotFound"] {
            assert!(is_gone(&ProviderError::with_code(c, "x")), "{c}");
        }
        assert!(!is_gone(&ProviderError::with_code("InvalidDBInstanceState", "x")));
    }
}
