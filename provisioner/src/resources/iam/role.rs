//! `iam_role`: an IAM role with its trust policy (terraform-provider-aws's `aws_iam_role`, without the
//! deprecated `managed_policy_arns` and `inline_policy`: use `iam_role_policy_attachment` and
//! `iam_role_policy`, which would otherwise fight over the same lists).
//!
//! The id is the role name: `name`, else `name_prefix` + a unique suffix, else `terraform-` + a unique suffix
//! (Terraform's `PrefixedUniqueId`). `assume_role_policy` is a table or a JSON string, compared as IAM
//! compares policies (see `policy`).
//!
//! Create is one CreateRole carrying every tag (the role never exists untagged), retried while IAM does not
//! yet know a principal created just before ("Invalid principal", up to 2 min); a retry of a create whose
//! answer was lost finds its own role (EntityAlreadyExists with this instance's tool tags) and takes it.
//! Then, after the checkpoint, the role is read back until IAM reports it (NoSuchEntity right after create).
//! Update: UpdateAssumeRolePolicy, UpdateRole (description, session duration), Put/DeleteRolePermissionsBoundary,
//! TagRole/UntagRole, each only when its attributes changed. Delete retries DeleteConflict (policies being
//! detached or deleted a moment before) for up to 2 min; NoSuchEntity is success.
//!
//! Read: up to 8 roles, one GetRole each, concurrently (one round trip); more, the account read (two
//! concurrent calls per 1000 roles in the account, see `util`). `read_stack` takes the stack's roles (by
//! their tags) and the tracked ones from the account read, shared with `iam_role_policy` and
//! `iam_role_policy_attachment` within a refresh: 2 calls for an account of up to 1000 roles, for all three
//! types together.

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;

use super::policy;
use super::util::*;
use crate::aws::{aws_err, tag_map, Ctx, ProviderError, DEFAULT_WORKSPACE, TAG_STACK, TAG_WORKSPACE, TOOL_TAG_PREFIX};
use crate::resource::{Checkpoint, Resource};
use crate::schema::{Attribute, Schema, Type};
use crate::value::{Attrs, Value};

pub struct Role;

pub(crate) const DEFAULT_MAX_SESSION: i64 = 3600;

static SCHEMA: LazyLock<Schema> =
    LazyLock::new(|| {
        Schema::new("iam_role", "An IAM role.")
            .taggable()
            .attr(
                Attribute::string("name")
                    .optional_computed()
                    .forces_new()
                    .describe("Role name (up to 64 characters); generated from name_prefix when left out."),
            )
            .attr(Attribute::string("name_prefix").optional_computed().forces_new().describe(
                "Creates a unique name beginning with this prefix (up to 38 characters); conflicts with name.",
            ))
            .attr(Attribute::string("path").default("/").forces_new().describe("Path of the role."))
            .attr(
                Attribute::new("assume_role_policy", Type::Any)
                    .required()
                    .describe("Trust policy: a table or a JSON string; compared as IAM compares policies."),
            )
            .attr(Attribute::string("description").describe("Description of the role."))
            .attr(
                Attribute::number("max_session_duration")
                    .default(Value::int(DEFAULT_MAX_SESSION))
                    .describe("Maximum session duration in seconds (3600 to 43200)."),
            )
            .attr(Attribute::string("permissions_boundary").describe("ARN of the policy used as permissions boundary."))
            .attr(Attribute::string("arn").computed().describe("ARN of the role."))
            .attr(Attribute::string("unique_id").computed().describe("Stable unique id of the role (AROA…)."))
            .attr(Attribute::string("create_date").computed().describe("Creation date (RFC 3339)."))
    });

/// A role's attributes as `read` returns them.
pub(crate) fn role_attrs(r: &RoleInfo) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), Value::str(&r.name));
    a.insert("name".into(), Value::str(&r.name));
    put_name_prefix(&mut a, &r.name);
    a.insert("path".into(), Value::str(if r.path.is_empty() { "/" } else { &r.path }));
    a.insert("arn".into(), Value::str(&r.arn));
    a.insert("unique_id".into(), Value::str(&r.id));
    a.insert("create_date".into(), Value::str(&r.create_date));
    if let Some(doc) = &r.assume_role_policy {
        a.insert("assume_role_policy".into(), Value::str(policy::from_aws(doc)));
    }
    put_opt(&mut a, "description", r.description.as_deref());
    a.insert(
        "max_session_duration".into(),
        Value::int(r.max_session_duration.map(i64::from).unwrap_or(DEFAULT_MAX_SESSION)),
    );
    put_opt(&mut a, "permissions_boundary", r.permissions_boundary.as_deref());
    a.insert("tags".into(), tags_value(&r.tags));
    a
}

/// Whether a role's tags put it in this stack as [`Ctx::stack_filters`] would select it (in `default`, every
/// workspace's; see [`Ctx::in_workspace`]).
pub(crate) fn stack_selects(cx: &Ctx, tags: &std::collections::BTreeMap<String, String>) -> bool {
    tags.get(TAG_STACK) == Some(&cx.stack)
        && (cx.workspace == DEFAULT_WORKSPACE || tags.get(TAG_WORKSPACE) == Some(&cx.workspace))
}

fn num(attrs: &Attrs, name: &str, default: i64) -> i64 {
    attrs.get(name).and_then(Value::as_f64).map(|n| n as i64).unwrap_or(default)
}

fn is_invalid_principal(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("MalformedPolicyDocument") && e.message.to_ascii_lowercase().contains("invalid principal")
}

impl Role {
    async fn read_ids(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let names = distinct(ids.iter().map(String::as_str));
        let roles: HashMap<String, RoleInfo> = if names.len() <= FEW {
            get_roles(cx, &names).await?
        } else {
            let mut account = read_account(cx).await?;
            names.iter().filter_map(|n| account.remove(n).map(|r| (n.clone(), r))).collect()
        };
        Ok(roles.values().map(|r| (r.name.clone(), role_attrs(r))).collect())
    }

    async fn read_one(&self, cx: &Ctx, name: &str) -> Result<Attrs, ProviderError> {
        let ids = [name.to_owned()];
        read_back(cx, "IAM role", name, || self.read_ids(cx, &ids)).await
    }

    /// After EntityAlreadyExists: the role is ours (a retried create whose first answer was lost, or a run
    /// interrupted between the create and its checkpoint) when it carries this instance's tool tags.
    async fn own_existing(&self, cx: &Ctx, name: &str, desired: &Attrs) -> Result<bool, ProviderError> {
        let want: Vec<(String, String)> =
            tag_map(desired).into_iter().filter(|(k, _)| k.starts_with(TOOL_TAG_PREFIX)).collect();
        let found = get_roles(cx, &[name.to_owned()]).await?;
        Ok(!want.is_empty() && found.get(name).is_some_and(|r| want.iter().all(|(k, v)| r.tags.get(k) == Some(v))))
    }
}

#[async_trait]
impl Resource for Role {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn normalize(&self, attrs: &mut Attrs) {
        policy::normalize_attr(attrs, "assume_role_policy");
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_ids(cx, ids).await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let account = stack_account(cx).await?;
        Ok(account
            .values()
            .filter(|r| ids.contains(&r.name) || stack_selects(cx, &r.tags))
            .map(|r| (r.name.clone(), role_attrs(r)))
            .collect())
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        if get_str(desired, "name").is_some() && get_str(desired, "name_prefix").is_some() {
            return Err(ProviderError::new("`name` and `name_prefix` of an iam_role conflict: set one"));
        }
        let name = create_name(desired);
        let doc = policy::text(desired, "assume_role_policy")?;
        let tags = iam_tags(desired)?;
        let path = get_str(desired, "path").unwrap_or("/");
        let created = retry_propagation(cx, "CreateRole", is_invalid_principal, || async {
            iam(cx)
                .create_role()
                .role_name(&name)
                .path(path)
                .assume_role_policy_document(&doc)
                .set_description(get_str(desired, "description").map(str::to_owned))
                .max_session_duration(num(desired, "max_session_duration", DEFAULT_MAX_SESSION) as i32)
                .set_permissions_boundary(get_str(desired, "permissions_boundary").map(str::to_owned))
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .map_err(aws_err)
        })
        .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.code.as_deref() == Some("EntityAlreadyExists")
                    && self.own_existing(cx, &name, desired).await? =>
            {
                tracing::info!(role = %name, "CreateRole: the role exists with this instance's tags; taking it");
            }
            Err(e) => return Err(e),
        }
        let mut cp = with_id(desired, &name);
        cp.insert("name".into(), Value::str(&name));
        checkpoint.created(&cp).await;
        self.read_one(cx, &name).await
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let name = get_id(prior)?.to_owned();
        let client = iam(cx);
        let (mut p, mut d) = (prior.clone(), desired.clone());
        self.normalize(&mut p);
        self.normalize(&mut d);
        if p.get("assume_role_policy") != d.get("assume_role_policy") {
            let doc = policy::text(&d, "assume_role_policy")?;
            client.update_assume_role_policy().role_name(&name).policy_document(doc).send().await.map_err(aws_err)?;
        }
        let description = get_str(&d, "description").unwrap_or_default();
        let max = num(&d, "max_session_duration", DEFAULT_MAX_SESSION);
        if get_str(&p, "description").unwrap_or_default() != description
            || num(&p, "max_session_duration", DEFAULT_MAX_SESSION) != max
        {
            client
                .update_role()
                .role_name(&name)
                .description(description)
                .max_session_duration(max as i32)
                .send()
                .await
                .map_err(aws_err)?;
        }
        let boundary = get_str(&d, "permissions_boundary");
        if get_str(&p, "permissions_boundary") != boundary {
            match boundary {
                Some(arn) => client
                    .put_role_permissions_boundary()
                    .role_name(&name)
                    .permissions_boundary(arn)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(aws_err)?,
                None => {
                    absent_ok(client.delete_role_permissions_boundary().role_name(&name).send().await.map_err(aws_err))
                        .map(|_| ())?
                }
            }
        }
        let (old, new) = (tag_map(&p), tag_map(&d));
        let removed: Vec<String> = old.keys().filter(|k| !new.contains_key(*k)).cloned().collect();
        if !removed.is_empty() {
            client.untag_role().role_name(&name).set_tag_keys(Some(removed)).send().await.map_err(aws_err)?;
        }
        let changed: Attrs =
            new.iter().filter(|(k, v)| old.get(*k) != Some(v)).map(|(k, v)| (k.clone(), Value::str(v))).collect();
        if !changed.is_empty() {
            let tags = iam_tags(&Attrs::from([("tags".to_owned(), Value::Map(changed.into_iter().collect()))]))?;
            client.tag_role().role_name(&name).set_tags(Some(tags)).send().await.map_err(aws_err)?;
        }
        self.read_one(cx, &name).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let name = get_id(prior)?;
        let r = retry_propagation(
            cx,
            "DeleteRole",
            |e| e.code.as_deref() == Some("DeleteConflict"),
            || async { iam(cx).delete_role().role_name(name).send().await.map_err(aws_err) },
        )
        .await;
        absent_ok(r).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_defaults_and_replacement() {
        let n = SCHEMA.normalize(&Attrs::new());
        assert_eq!(n["path"], Value::str("/"));
        assert_eq!(n["max_session_duration"], Value::int(3600));
        for a in ["name", "name_prefix", "path"] {
            assert!(SCHEMA.attribute(a).unwrap().forces_replacement, "{a}");
        }
        assert!(!SCHEMA.attribute("assume_role_policy").unwrap().forces_replacement);
        assert!(SCHEMA.taggable);
    }

    #[test]
    fn read_attributes_derive_the_prefix_and_canonicalise_the_trust_policy() {
        let name = prefixed_unique_id("app-");
        let r = RoleInfo {
            name: name.clone(),
            assume_role_policy: Some(
                "%7B%22Statement%22%3A%5B%7B%22Action%22%3A%5B%22sts%3AAssumeRole%22%5D%7D%5D%7D".into(),
            ),
            ..RoleInfo::default()
        };
        let a = role_attrs(&r);
        assert_eq!(a["name_prefix"], Value::str("app-"));
        assert_eq!(a["assume_role_policy"], Value::str(r#"{"Statement":{"Action":"sts:AssumeRole"}}"#));
        assert_eq!(a["max_session_duration"], Value::int(3600));
        assert_eq!(a["path"], Value::str("/"));
        assert!(!role_attrs(&RoleInfo { name: "plain".into(), ..RoleInfo::default() }).contains_key("name_prefix"));
    }
}
