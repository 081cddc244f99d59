//! Helpers shared by the IAM types (the general ones, re-exported here, live in `resources::util`): the IAM
//! client, IAM's error codes, tags, generated names, and the account-wide read of roles.
//!
//! **The account read** ([`read_account`]): GetAccountAuthorizationDetails with `Filter=Role` returns every
//! role of the account with its trust policy, path, permissions boundary, tags, inline policies (name and
//! document) and attached managed policies, up to 1000 roles a page; it lacks `Description` and
//! `MaxSessionDuration`, which ListRoles returns (also 1000 a page; ListRoles lacks tags and boundaries).
//! Both run at the same time: for an account of R roles, `2 × ceil(R/1000)` calls, whatever the number of
//! roles, inline policies and attachments the stack has. Per role the same information costs 4 calls
//! (GetRole, ListRolePolicies, GetRolePolicy per policy, ListAttachedRolePolicies). So a refresh
//! (`read_stack`) of `iam_role`, `iam_role_policy` and `iam_role_policy_attachment` makes the account read
//! once, shared by the three types ([`stack_account`]); a `read` of a few objects (after a create, an
//! import) asks for each one directly ([`FEW`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aws_sdk_iam::types::{EntityType, Tag};
use futures::{StreamExt, TryStreamExt};

use crate::aws::{aws_err, tag_map, Ctx, ProviderError};
use crate::value::{Attrs, Value};

pub(crate) use crate::resources::util::*;

/// Up to this many objects, `read` asks for each one (concurrently: one round trip); beyond, it makes the
/// account read (two concurrent calls per 1000 roles of the account).
pub(crate) const FEW: usize = 8;

/// The IAM client, built on first use.
pub(crate) fn iam(cx: &Ctx) -> aws_sdk_iam::Client {
    cx.client(|sdk, calls| {
        aws_sdk_iam::Client::from_conf(aws_sdk_iam::config::Builder::from(sdk).interceptor(calls).build())
    })
}

/// IAM's "not found": `NoSuchEntity`.
pub(crate) fn no_such_entity(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("NoSuchEntity") || e.is_not_found()
}

/// Maps `NoSuchEntity` to `Ok(None)`.
pub(crate) fn absent_ok<T>(r: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if no_such_entity(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `attrs["tags"]` (the full set) as IAM tags.
pub(crate) fn iam_tags(attrs: &Attrs) -> Result<Vec<Tag>, ProviderError> {
    tag_map(attrs)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(|e| ProviderError::new(e.to_string())))
        .collect()
}

/// IAM tags as a string map.
pub(crate) fn tags_of(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
}

/// A string map as the `tags` attribute value.
pub(crate) fn tags_value(tags: &BTreeMap<String, String>) -> Value {
    Value::Map(tags.iter().map(|(k, v)| (k.clone(), Value::str(v))).collect())
}

pub(crate) use crate::resources::util::prefixed_unique_id;

/// The prefix of names generated when neither a name nor a prefix is configured (Terraform's).
pub(crate) const UNIQUE_ID_PREFIX: &str = "terraform-";

/// The name to create: `name`, else `name_prefix` + a unique suffix, else `terraform-` + a unique suffix.
pub(crate) fn create_name(desired: &Attrs) -> String {
    match (get_str(desired, "name"), get_str(desired, "name_prefix")) {
        (Some(n), _) => n.to_owned(),
        (None, Some(p)) => prefixed_unique_id(p),
        (None, None) => prefixed_unique_id(UNIQUE_ID_PREFIX),
    }
}

/// The prefix a generated name was made from (Terraform's `create.NamePrefixFromName`, stricter: only when
/// the name ends with 18 digits and 8 hex digits), for `name_prefix` on read.
pub(crate) fn name_prefix_of(name: &str) -> Option<&str> {
    crate::resources::util::name_prefix_from_name(name).filter(|p| !p.is_empty())
}

/// Sets `name_prefix` from a generated `name` (leaves it out otherwise).
pub(crate) fn put_name_prefix(attrs: &mut Attrs, name: &str) {
    if let Some(p) = name_prefix_of(name) {
        attrs.insert("name_prefix".into(), Value::str(p));
    }
}

/// One role as the account read sees it.
#[derive(Clone, Debug, Default)]
pub(crate) struct RoleInfo {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub path: String,
    pub create_date: String,
    /// As IAM returns it (URL-encoded).
    pub assume_role_policy: Option<String>,
    pub description: Option<String>,
    pub max_session_duration: Option<i32>,
    pub permissions_boundary: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Inline policies: name → document as IAM returns it (URL-encoded).
    pub inline: BTreeMap<String, String>,
    /// ARNs of the attached managed policies.
    pub attached: Vec<String>,
}

/// The roles of the account by name.
pub(crate) type Account = HashMap<String, RoleInfo>;

pub(crate) fn date(d: &aws_smithy_types::DateTime) -> String {
    d.fmt(aws_smithy_types::date_time::Format::DateTime).unwrap_or_default()
}

/// The account read (see the module doc): GetAccountAuthorizationDetails(Filter=Role) and ListRoles, both
/// paginated by 1000, at the same time. A role GetAccountAuthorizationDetails returned that ListRoles did not
/// (created between the two calls) gets its description and session duration from GetRole.
pub(crate) async fn read_account(cx: &Ctx) -> Result<Account, ProviderError> {
    let client = iam(cx);
    let details = async {
        let mut out: Account = HashMap::new();
        let mut pages =
            client.get_account_authorization_details().filter(EntityType::Role).max_items(1000).into_paginator().send();
        while let Some(page) = pages.next().await {
            for r in page.map_err(aws_err)?.role_detail_list() {
                let Some(name) = r.role_name() else { continue };
                let info = RoleInfo {
                    name: name.to_owned(),
                    id: r.role_id().unwrap_or_default().to_owned(),
                    arn: r.arn().unwrap_or_default().to_owned(),
                    path: r.path().unwrap_or("/").to_owned(),
                    create_date: r.create_date().map(date).unwrap_or_default(),
                    assume_role_policy: r.assume_role_policy_document().map(str::to_owned),
                    description: None,
                    max_session_duration: None,
                    permissions_boundary: r
                        .permissions_boundary()
                        .and_then(|b| b.permissions_boundary_arn())
                        .map(str::to_owned),
                    tags: tags_of(r.tags()),
                    inline: r
                        .role_policy_list()
                        .iter()
                        .filter_map(|p| Some((p.policy_name()?.to_owned(), p.policy_document()?.to_owned())))
                        .collect(),
                    attached: r
                        .attached_managed_policies()
                        .iter()
                        .filter_map(|p| p.policy_arn())
                        .map(str::to_owned)
                        .collect(),
                };
                out.insert(name.to_owned(), info);
            }
        }
        Ok::<_, ProviderError>(out)
    };
    let listed = async {
        let mut out: HashMap<String, (Option<String>, Option<i32>)> = HashMap::new();
        let mut roles = client.list_roles().max_items(1000).into_paginator().items().send();
        while let Some(r) = roles.next().await {
            let r = r.map_err(aws_err)?;
            out.insert(r.role_name().to_owned(), (r.description().map(str::to_owned), r.max_session_duration()));
        }
        Ok::<_, ProviderError>(out)
    };
    let (mut account, listed) = futures::try_join!(details, listed)?;
    let mut unlisted = Vec::new();
    for (name, info) in account.iter_mut() {
        match listed.get(name) {
            Some((d, m)) => {
                info.description = d.clone();
                info.max_session_duration = *m;
            }
            None => unlisted.push(name.clone()),
        }
    }
    for (name, role) in get_roles(cx, &unlisted).await? {
        if let Some(info) = account.get_mut(&name) {
            info.description = role.description;
            info.max_session_duration = role.max_session_duration;
        }
    }
    Ok(account)
}

/// The account read, made once per refresh and shared by the IAM types' `read_stack`.
pub(crate) async fn stack_account(cx: &Ctx) -> Result<Arc<Account>, ProviderError> {
    cx.shared("iam.GetAccountAuthorizationDetails(Role)+ListRoles", || read_account(cx)).await
}

/// GetRole for each of `names` (at most 8 in flight); absent names are left out. Fills everything but the
/// inline and attached policies.
pub(crate) async fn get_roles(cx: &Ctx, names: &[String]) -> Result<HashMap<String, RoleInfo>, ProviderError> {
    let client = iam(cx);
    let names: Vec<String> = names.iter().filter(|n| !n.is_empty()).cloned().collect();
    // Futures collected first: a stream over the closures is not provably `Send` inside `async_trait`.
    let futs: Vec<_> = names
        .into_iter()
        .map(|name: String| {
            let client = client.clone();
            async move {
                let r = absent_ok(client.get_role().role_name(&name).send().await.map_err(aws_err))?;
                Ok::<_, ProviderError>(r.and_then(|out| out.role).map(|r| {
                    (
                        name,
                        RoleInfo {
                            name: r.role_name().to_owned(),
                            id: r.role_id().to_owned(),
                            arn: r.arn().to_owned(),
                            path: r.path().to_owned(),
                            create_date: date(r.create_date()),
                            assume_role_policy: r.assume_role_policy_document().map(str::to_owned),
                            description: r.description().map(str::to_owned),
                            max_session_duration: r.max_session_duration(),
                            permissions_boundary: r
                                .permissions_boundary()
                                .and_then(|b| b.permissions_boundary_arn())
                                .map(str::to_owned),
                            tags: tags_of(r.tags()),
                            inline: BTreeMap::new(),
                            attached: Vec::new(),
                        },
                    )
                }))
            }
        })
        .collect();
    let found: Vec<Option<(String, RoleInfo)>> = futures::stream::iter(futs).buffer_unordered(8).try_collect().await?;
    Ok(found.into_iter().flatten().collect())
}

/// Deduplicated non-empty strings.
pub(crate) fn distinct<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = items.into_iter().filter(|s| !s.is_empty()).map(str::to_owned).collect();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_have_terraforms_shape_and_give_back_their_prefix() {
        let a = prefixed_unique_id("app-");
        let b = prefixed_unique_id("app-");
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + crate::resources::util::UNIQUE_ID_SUFFIX_LEN);
        assert_eq!(name_prefix_of(&a), Some("app-"));
        assert_eq!(name_prefix_of("app-role"), None);
        assert_eq!(name_prefix_of("a-name-that-is-long-enough-but-not-generated"), None);
        let attrs = Attrs::from([("name_prefix".to_owned(), Value::str("x-"))]);
        assert!(create_name(&attrs).starts_with("x-"));
        assert!(create_name(&Attrs::new()).starts_with(UNIQUE_ID_PREFIX));
        let named = Attrs::from([("name".to_owned(), Value::str("n")), ("name_prefix".to_owned(), Value::str("x-"))]);
        assert_eq!(create_name(&named), "n");
    }

    #[test]
    fn no_such_entity_is_absent() {
        assert!(absent_ok::<()>(Err(ProviderError::with_code("NoSuchEntity", "x"))).unwrap().is_none());
        assert!(absent_ok::<()>(Err(ProviderError::with_code("DeleteConflict", "x"))).is_err());
    }
}
