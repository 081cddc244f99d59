//! `iam_role_policy`: an inline policy of a role (terraform-provider-aws's `aws_iam_role_policy`). Id
//! `role:name` (Terraform's import format). Not taggable (IAM cannot tag inline policies).
//!
//! `name` is given, or generated from `name_prefix` (or `terraform-`) as for roles. `policy` is a table or a
//! JSON string, compared as IAM compares policies.
//!
//! Create and update are one PutRolePolicy — an upsert by (role, name), so re-running a create after a crash
//! converges without a natural-key lookup — retried while IAM does not yet know a role created just before
//! (NoSuchEntity, up to 2 min); then the policy is read back until IAM reports it. Delete: DeleteRolePolicy,
//! NoSuchEntity is success.
//!
//! Read: up to 8 policies, one GetRolePolicy each, concurrently; more, the account read (see `util`).
//! `read_stack` (refresh) takes the tracked policies from the account read shared with `iam_role`: no call
//! of its own.

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};

use super::policy;
use super::util::*;
use crate::aws::{aws_err, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::schema::{Attribute, Schema, Type};
use crate::value::{Attrs, Value};

pub struct RolePolicy;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("iam_role_policy", "An inline policy of an IAM role.")
        .attr(Attribute::string("role").required().forces_new().describe("Name of the role."))
        .attr(
            Attribute::string("name")
                .optional_computed()
                .forces_new()
                .describe("Policy name; generated from name_prefix when left out."),
        )
        .attr(
            Attribute::string("name_prefix")
                .optional_computed()
                .forces_new()
                .describe("Creates a unique name beginning with this prefix; conflicts with name."),
        )
        .attr(
            Attribute::new("policy", Type::Any)
                .required()
                .describe("Policy document: a table or a JSON string; compared as IAM compares policies."),
        )
});

/// `role:name` → (role, name). Role names cannot contain `:`.
pub(crate) fn split_id(id: &str) -> Option<(&str, &str)> {
    id.split_once(':').filter(|(r, n)| !r.is_empty() && !n.is_empty())
}

fn policy_attrs(role: &str, name: &str, doc: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), Value::str(format!("{role}:{name}")));
    a.insert("role".into(), Value::str(role));
    a.insert("name".into(), Value::str(name));
    put_name_prefix(&mut a, name);
    a.insert("policy".into(), Value::str(policy::from_aws(doc)));
    a
}

/// The ids found in an account read.
fn from_account(account: &Account, ids: &[String]) -> HashMap<String, Attrs> {
    ids.iter()
        .filter_map(|id| {
            let (role, name) = split_id(id)?;
            let doc = account.get(role)?.inline.get(name)?;
            Some((id.clone(), policy_attrs(role, name, doc)))
        })
        .collect()
}

async fn put(cx: &Ctx, role: &str, name: &str, doc: &str) -> Result<(), ProviderError> {
    retry_propagation(cx, "PutRolePolicy", no_such_entity, || async {
        iam(cx).put_role_policy().role_name(role).policy_name(name).policy_document(doc).send().await.map_err(aws_err)
    })
    .await
    .map(|_| ())
}

impl RolePolicy {
    async fn read_ids(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let ids = distinct(ids.iter().map(String::as_str));
        if ids.len() > FEW {
            return Ok(from_account(&read_account(cx).await?, &ids));
        }
        let client = iam(cx);
        let ids: Vec<String> = ids.into_iter().filter(|id| split_id(id).is_some()).collect();
        let futs: Vec<_> = ids
            .into_iter()
            .map(|id: String| {
                let client = client.clone();
                async move {
                    let (role, name) = split_id(&id).expect("filtered");
                    let out = absent_ok(
                        client.get_role_policy().role_name(role).policy_name(name).send().await.map_err(aws_err),
                    )?;
                    Ok::<_, ProviderError>(out.map(|o| (id.clone(), policy_attrs(role, name, o.policy_document()))))
                }
            })
            .collect();
        let found: Vec<Option<(String, Attrs)>> = futures::stream::iter(futs).buffer_unordered(8).try_collect().await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn read_one(&self, cx: &Ctx, id: &str) -> Result<Attrs, ProviderError> {
        let ids = [id.to_owned()];
        read_back(cx, "IAM role policy", id, || self.read_ids(cx, &ids)).await
    }
}

#[async_trait]
impl Resource for RolePolicy {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn normalize(&self, attrs: &mut Attrs) {
        policy::normalize_attr(attrs, "policy");
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_ids(cx, ids).await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let account = stack_account(cx).await?;
        Ok(from_account(&account, ids))
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        if get_str(desired, "name").is_some() && get_str(desired, "name_prefix").is_some() {
            return Err(ProviderError::new("`name` and `name_prefix` of an iam_role_policy conflict: set one"));
        }
        let role = req_str(desired, "role")?;
        let name = create_name(desired);
        let doc = policy::text(desired, "policy")?;
        put(cx, role, &name, &doc).await?;
        let id = format!("{role}:{name}");
        let mut cp = with_id(desired, &id);
        cp.insert("name".into(), Value::str(&name));
        checkpoint.created(&cp).await;
        self.read_one(cx, &id).await
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let id = get_id(prior)?;
        let (role, name) =
            split_id(id).ok_or_else(|| ProviderError::new(format!("malformed iam_role_policy id `{id}`")))?;
        put(cx, role, name, &policy::text(desired, "policy")?).await?;
        self.read_one(cx, id).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let id = get_id(prior)?;
        let (role, name) =
            split_id(id).ok_or_else(|| ProviderError::new(format!("malformed iam_role_policy id `{id}`")))?;
        absent_ok(iam(cx).delete_role_policy().role_name(role).policy_name(name).send().await.map_err(aws_err))
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_role_colon_name() {
        assert_eq!(split_id("app:s3-read"), Some(("app", "s3-read")));
        assert_eq!(split_id("app"), None);
        assert_eq!(split_id(":x"), None);
        let a = policy_attrs("app", "p", r#"{"Statement":[{"Action":["s3:Get"]}]}"#);
        assert_eq!(a["id"], Value::str("app:p"));
        assert_eq!(a["policy"], Value::str(r#"{"Statement":{"Action":"s3:Get"}}"#));
    }

    #[test]
    fn account_read_finds_inline_policies() {
        let mut role = RoleInfo { name: "app".into(), ..RoleInfo::default() };
        role.inline.insert("p".into(), "%7B%7D".into());
        let account: Account = HashMap::from([("app".to_owned(), role)]);
        let got = from_account(&account, &["app:p".into(), "app:gone".into(), "other:p".into(), "bad".into()]);
        assert_eq!(got.keys().collect::<Vec<_>>(), ["app:p"]);
        assert_eq!(got["app:p"]["policy"], Value::str("{}"));
    }
}
