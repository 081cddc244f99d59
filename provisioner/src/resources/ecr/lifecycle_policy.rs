//! `ecr_lifecycle_policy`: the lifecycle policy of an ECR repository. Id = the repository name (what
//! `import` takes). Not taggable.
//!
//! `policy` is written as a TOML table or as a JSON string. Both are brought into one canonical form
//! ([`canonical_policy`], applied by [`Resource::normalize`] to the configuration and to what AWS returns):
//! compact JSON with keys sorted and rules sorted by `rulePriority`, as ECR itself reorders them — so a
//! re-plan is empty whichever form was written, and whatever whitespace or key order AWS returns.
//!
//! Create and update are one PutLifecyclePolicy (it replaces any policy the repository has); the create's
//! is retried on `RepositoryNotFoundException` for up to 2 minutes (a repository created a moment before,
//! not visible yet; terraform-provider-aws's `propagationTimeout`). Delete is DeleteLifecyclePolicy, a
//! missing repository or policy = done. Read: one GetLifecyclePolicy per
//! repository (ECR has no batch read of lifecycle policies), at most 8 in flight. `find_existing` matches by
//! repository (the natural key: a repository has at most one policy) with the same read, so a re-apply
//! after an interrupted run adopts the policy.

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};

use super::{client, is_gone, repository_not_found};
use crate::aws::{aws_err, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::resources::util::*;
use crate::schema::{Attribute, Schema, Type};
use crate::value::{Attrs, Value};

pub struct EcrLifecyclePolicy;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("ecr_lifecycle_policy", "The lifecycle policy of an ECR repository.")
        .attr(Attribute::string("repository").required().forces_new().describe("Name of the repository."))
        .attr(
            Attribute::new("policy", Type::Any)
                .required()
                .describe("The policy: a table (`{ rules = [{ rulePriority = 1, … }] }`) or a JSON string."),
        )
        .attr(Attribute::string("registry_id").computed().describe("Registry (account) holding the repository."))
});

/// Parses a policy given as a table or a JSON string into JSON.
fn policy_json(v: &Value) -> Result<serde_json::Value, String> {
    match v {
        Value::String(s) => serde_json::from_str(s).map_err(|e| format!("policy is not valid JSON: {e}")),
        Value::Map(_) => v.to_json().ok_or_else(|| "policy is not known yet".to_owned()),
        other => Err(format!("policy must be a table or a JSON string, found {}", other.type_name())),
    }
}

/// The canonical text of a policy: compact JSON, keys sorted, `rules` sorted by `rulePriority` (stable, so
/// rules without one keep their order). `None` when the value is unknown or not a policy.
pub(crate) fn canonical_policy(v: &Value) -> Option<String> {
    if !v.is_known() {
        return None;
    }
    let mut json = policy_json(v).ok()?;
    if let Some(rules) = json.get_mut("rules").and_then(serde_json::Value::as_array_mut) {
        rules.sort_by_key(|r| r.get("rulePriority").and_then(serde_json::Value::as_i64).unwrap_or(i64::MAX));
    }
    // Through `Value`, whose maps are sorted, so every object's keys come out in order.
    Value::from_json(&json).to_json().map(|j| j.to_string())
}

fn policy_text(desired: &Attrs) -> Result<String, ProviderError> {
    let v = desired.get("policy").ok_or_else(|| ProviderError::new("attribute `policy` is required"))?;
    policy_json(v).map_err(|m| ProviderError::with_code("InvalidParameterException", m))?;
    canonical_policy(v).ok_or_else(|| ProviderError::new("policy is not known yet"))
}

/// The policy of repository `name`, `None` when the repository or its policy is gone.
async fn get_policy(cx: &Ctx, name: String) -> Result<Option<(String, Attrs)>, ProviderError> {
    match client(cx).get_lifecycle_policy().repository_name(&name).send().await.map_err(aws_err) {
        Ok(out) => {
            let mut a = Attrs::new();
            a.insert("id".into(), Value::str(&name));
            a.insert("repository".into(), Value::str(out.repository_name().unwrap_or(&name)));
            put_str(&mut a, "registry_id", out.registry_id());
            let text = out.lifecycle_policy_text().unwrap_or_default();
            let policy = Value::str(text);
            a.insert("policy".into(), canonical_policy(&policy).map(Value::str).unwrap_or(policy));
            Ok(Some((name, a)))
        }
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What PutLifecyclePolicy retries: right after the create of a policy, the repository not visible yet
/// (`RepositoryNotFoundException`; it was likely created a moment before). On update it is an error.
fn put_retryable(just_created: bool, e: &ProviderError) -> bool {
    just_created && repository_not_found(e)
}

impl EcrLifecyclePolicy {
    async fn read_names(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let mut names: Vec<String> = ids.iter().filter(|s| !s.is_empty()).cloned().collect();
        names.sort();
        names.dedup();
        futures::stream::iter(names.into_iter().map(|n| get_policy(cx, n)))
            .buffer_unordered(8)
            .try_filter_map(|x| async move { Ok(x) })
            .try_collect()
            .await
    }

    /// PutLifecyclePolicy; `just_created`: retried while the repository is not visible yet.
    async fn put(&self, cx: &Ctx, desired: &Attrs, just_created: bool) -> Result<Attrs, ProviderError> {
        let repo = req_str(desired, "repository")?;
        let text = policy_text(desired)?;
        let retryable = |e: &ProviderError| put_retryable(just_created, e);
        let out = retry_propagation(cx, "PutLifecyclePolicy", retryable, || async {
            client(cx)
                .put_lifecycle_policy()
                .repository_name(repo)
                .lifecycle_policy_text(&text)
                .send()
                .await
                .map_err(aws_err)
        })
        .await?;
        let mut a = with_id(desired, repo);
        put_str(&mut a, "registry_id", out.registry_id());
        let policy = Value::str(out.lifecycle_policy_text().unwrap_or(&text));
        a.insert("policy".into(), canonical_policy(&policy).map(Value::str).unwrap_or(policy));
        Ok(a)
    }
}

#[async_trait]
impl Resource for EcrLifecyclePolicy {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn normalize(&self, attrs: &mut Attrs) {
        if let Some(c) = attrs.get("policy").and_then(canonical_policy) {
            attrs.insert("policy".into(), Value::str(c));
        }
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_names(cx, ids).await
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        let made = self.put(cx, desired, true).await?;
        checkpoint.created(&made).await;
        Ok(made)
    }

    async fn update(&self, cx: &Ctx, _prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        self.put(cx, desired, false).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let name = get_id(prior)?;
        gone_ok_by(client(cx).delete_lifecycle_policy().repository_name(name).send().await.map_err(aws_err), is_gone)
            .map(drop)
    }

    async fn find_existing(&self, cx: &Ctx, desired: &[Attrs]) -> Result<Vec<Option<Attrs>>, ProviderError> {
        let repos: Vec<String> = desired.iter().filter_map(|d| get_str(d, "repository")).map(str::to_owned).collect();
        let found = self.read_names(cx, &repos).await?;
        Ok(desired.iter().map(|d| get_str(d, "repository").and_then(|r| found.get(r).cloned())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_retries_a_repository_not_visible_yet() {
        let e = |c: &str| ProviderError::with_code(c, "m");
        assert!(put_retryable(true, &e("RepositoryNotFoundException")));
        assert!(!put_retryable(false, &e("RepositoryNotFoundException")), "update: the repository is gone");
        for other in ["InvalidParameterException", "LifecyclePolicyNotFoundException", "LimitExceededException"] {
            assert!(!put_retryable(true, &e(other)), "{other}");
        }
    }

    fn table() -> Value {
        Value::from_json(&json!({
            "rules": [
                {"rulePriority": 2, "description": "keep 10 tagged", "selection":
                    {"tagStatus": "tagged", "tagPrefixList": ["v"], "countType": "imageCountMoreThan", "countNumber": 10},
                 "action": {"type": "expire"}},
                {"rulePriority": 1, "description": "expire untagged", "selection":
                    {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14},
                 "action": {"type": "expire"}}
            ]
        }))
    }

    const JSON_TEXT: &str = r#"{
      "rules": [
        { "action": { "type": "expire" }, "rulePriority": 1, "description": "expire untagged",
          "selection": { "countNumber": 14, "countUnit": "days", "countType": "sinceImagePushed", "tagStatus": "untagged" } },
        { "selection": { "countNumber": 10, "countType": "imageCountMoreThan", "tagPrefixList": ["v"], "tagStatus": "tagged" },
          "rulePriority": 2, "description": "keep 10 tagged", "action": { "type": "expire" } }
      ]
    }"#;

    #[test]
    fn table_and_json_string_normalise_to_the_same_text() {
        let a = canonical_policy(&table()).unwrap();
        let b = canonical_policy(&Value::str(JSON_TEXT)).unwrap();
        assert_eq!(a, b);
        assert!(
            a.starts_with(r#"{"rules":[{"action":{"type":"expire"},"description":"expire untagged","rulePriority":1,"#),
            "{a}"
        );
        assert!(!a.contains(": ") && !a.contains('\n'), "compact: {a}");
        assert_eq!(canonical_policy(&Value::str(&a)).unwrap(), a, "idempotent");
    }

    #[test]
    fn normalize_leaves_unknown_and_invalid_values_alone() {
        let mut attrs = Attrs::from([("policy".to_owned(), Value::Unknown)]);
        EcrLifecyclePolicy.normalize(&mut attrs);
        assert_eq!(attrs["policy"], Value::Unknown);
        let mut attrs = Attrs::from([("policy".to_owned(), Value::str("{not json"))]);
        EcrLifecyclePolicy.normalize(&mut attrs);
        assert_eq!(attrs["policy"], Value::str("{not json"));
        let e = policy_text(&attrs).unwrap_err();
        assert!(e.message.contains("not valid JSON"), "{e}");
        let mut attrs = Attrs::from([("policy".to_owned(), table())]);
        EcrLifecyclePolicy.normalize(&mut attrs);
        assert_eq!(attrs["policy"], Value::str(canonical_policy(&table()).unwrap()));
    }

    #[test]
    fn integral_numbers_stay_integers() {
        let c = canonical_policy(&Value::from_json(&json!({"rules": [{"rulePriority": 1.0}]}))).unwrap();
        assert_eq!(c, r#"{"rules":[{"rulePriority":1}]}"#);
    }
}
