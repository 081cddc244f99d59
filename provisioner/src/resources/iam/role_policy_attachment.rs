//! `iam_role_policy_attachment`: attaches a managed policy to a role (terraform-provider-aws's
//! `aws_iam_role_policy_attachment`). Id `role/policy_arn` (Terraform's import format; role names cannot
//! contain `/`, policy ARNs can). Not taggable; both arguments force replacement.
//!
//! Create: AttachRolePolicy, retried while IAM does not yet know a role or policy created just before
//! (NoSuchEntity, up to 2 min); then read back until IAM lists it. Attaching twice is no error in IAM, and
//! `find_existing` finds an attachment by its natural key (role, policy ARN), so a re-apply after a crash
//! adopts it instead of planning a create. Delete: DetachRolePolicy, NoSuchEntity is success.
//!
//! Read and `find_existing`: ListAttachedRolePolicies (paginated) per distinct role, up to 8 roles
//! concurrently; more roles, the account read (see `util`). `read_stack` (refresh) takes the tracked
//! attachments from the account read shared with `iam_role`: no call of its own.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};

use super::util::*;
use crate::aws::{aws_err, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::schema::{Attribute, Schema};
use crate::value::{Attrs, Value};

pub struct RolePolicyAttachment;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("iam_role_policy_attachment", "Attaches a managed IAM policy to a role.")
        .attr(Attribute::string("role").required().forces_new().describe("Name of the role."))
        .attr(Attribute::string("policy_arn").required().forces_new().describe("ARN of the managed policy."))
});

/// `role/policy_arn` → (role, policy ARN).
pub(crate) fn split_id(id: &str) -> Option<(&str, &str)> {
    id.split_once('/').filter(|(r, p)| !r.is_empty() && p.starts_with("arn:"))
}

fn attachment_attrs(role: &str, arn: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), Value::str(format!("{role}/{arn}")));
    a.insert("role".into(), Value::str(role));
    a.insert("policy_arn".into(), Value::str(arn));
    a
}

/// The attached policy ARNs of each of `roles` (roles that do not exist are left out): the account read for
/// more than [`FEW`] roles, else ListAttachedRolePolicies per role, concurrently.
async fn attached(cx: &Ctx, roles: Vec<String>) -> Result<HashMap<String, HashSet<String>>, ProviderError> {
    if roles.len() > FEW {
        let account = read_account(cx).await?;
        return Ok(roles
            .into_iter()
            .filter_map(|r| {
                let arns = account.get(&r)?.attached.iter().cloned().collect();
                Some((r, arns))
            })
            .collect());
    }
    let client = iam(cx);
    let futs: Vec<_> = roles
        .into_iter()
        .map(|role: String| {
            let client = client.clone();
            async move {
                let mut arns = HashSet::new();
                let mut pages = client.list_attached_role_policies().role_name(&role).into_paginator().items().send();
                while let Some(p) = pages.next().await {
                    match absent_ok(p.map_err(aws_err))? {
                        Some(p) => arns.extend(p.policy_arn().map(str::to_owned)),
                        None => return Ok::<_, ProviderError>(None),
                    }
                }
                Ok(Some((role, arns)))
            }
        })
        .collect();
    let found: Vec<Option<(String, HashSet<String>)>> =
        futures::stream::iter(futs).buffer_unordered(8).try_collect().await?;
    Ok(found.into_iter().flatten().collect())
}

fn found_ids(by_role: &HashMap<String, HashSet<String>>, ids: &[String]) -> HashMap<String, Attrs> {
    ids.iter()
        .filter_map(|id| {
            let (role, arn) = split_id(id)?;
            by_role.get(role)?.contains(arn).then(|| (id.clone(), attachment_attrs(role, arn)))
        })
        .collect()
}

impl RolePolicyAttachment {
    async fn read_ids(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let roles = distinct(ids.iter().filter_map(|id| split_id(id)).map(|(r, _)| r));
        if roles.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(found_ids(&attached(cx, roles).await?, ids))
    }
}

#[async_trait]
impl Resource for RolePolicyAttachment {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_ids(cx, ids).await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let account = stack_account(cx).await?;
        let by_role: HashMap<String, HashSet<String>> =
            account.iter().map(|(name, r)| (name.clone(), r.attached.iter().cloned().collect())).collect();
        Ok(found_ids(&by_role, ids))
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        let role = req_str(desired, "role")?;
        let arn = req_str(desired, "policy_arn")?;
        retry_propagation(cx, "AttachRolePolicy", no_such_entity, || async {
            iam(cx).attach_role_policy().role_name(role).policy_arn(arn).send().await.map_err(aws_err)
        })
        .await?;
        let id = format!("{role}/{arn}");
        checkpoint.created(&with_id(desired, &id)).await;
        let ids = [id.clone()];
        read_back(cx, "IAM role policy attachment", &id, || self.read_ids(cx, &ids)).await
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, _desired: &Attrs) -> Result<Attrs, ProviderError> {
        // Both arguments force replacement: nothing to change in place.
        let id = get_id(prior)?;
        let ids = [id.to_owned()];
        read_back(cx, "IAM role policy attachment", id, || self.read_ids(cx, &ids)).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let id = get_id(prior)?;
        let (role, arn) = split_id(id)
            .ok_or_else(|| ProviderError::new(format!("malformed iam_role_policy_attachment id `{id}`")))?;
        absent_ok(iam(cx).detach_role_policy().role_name(role).policy_arn(arn).send().await.map_err(aws_err))
            .map(|_| ())
    }

    async fn find_existing(&self, cx: &Ctx, desired: &[Attrs]) -> Result<Vec<Option<Attrs>>, ProviderError> {
        let keys: Vec<Option<String>> =
            desired.iter().map(|d| Some(format!("{}/{}", get_str(d, "role")?, get_str(d, "policy_arn")?))).collect();
        let ids: Vec<String> = keys.iter().flatten().cloned().collect();
        let found = self.read_ids(cx, &ids).await?;
        Ok(keys.into_iter().map(|k| k.and_then(|k| found.get(&k).cloned())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_role_slash_arn() {
        assert_eq!(
            split_id("app/arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"),
            Some(("app", "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"))
        );
        assert_eq!(split_id("app"), None);
        assert_eq!(split_id("app/not-an-arn"), None);
    }

    #[test]
    fn found_ids_match_role_and_arn() {
        let by_role = HashMap::from([("app".to_owned(), HashSet::from(["arn:aws:iam::1:policy/p".to_owned()]))]);
        let ids = ["app/arn:aws:iam::1:policy/p", "app/arn:aws:iam::1:policy/q", "gone/arn:aws:iam::1:policy/p"]
            .map(str::to_owned);
        let got = found_ids(&by_role, &ids);
        assert_eq!(got.keys().collect::<Vec<_>>(), ["app/arn:aws:iam::1:policy/p"]);
        assert_eq!(got[&ids[0]]["policy_arn"], Value::str("arn:aws:iam::1:policy/p"));
    }
}
