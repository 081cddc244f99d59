//! ECR resource and data-source types, as terraform-provider-aws's `internal/service/ecr`. Registered in
//! `resources/mod.rs`.
//!
//! The ECR client is built on first use ([`client`]), so a stack without repositories never builds it.
//! Shared here: the batched DescribeRepositories read ([`describe_repositories`]) the repository resource
//! and data source both use, and the repository's attributes as AWS reports them ([`repository_attrs`]).

pub mod lifecycle_policy;
pub mod repository;
pub mod repository_data;

use std::collections::{HashMap, HashSet};

use aws_sdk_ecr::types::Repository as AwsRepository;

use crate::aws::{aws_err, Ctx, ProviderError};
use crate::resources::util::put_str;
use crate::value::{Attrs, Value};

/// The ECR client of `cx`, built once with the shared SDK configuration and the call counter.
pub(crate) fn client(cx: &Ctx) -> aws_sdk_ecr::Client {
    cx.client(|sdk, calls| {
        aws_sdk_ecr::Client::from_conf(aws_sdk_ecr::config::Builder::from(sdk).interceptor(calls).build())
    })
}

/// DescribeRepositories accepts at most 100 `repositoryNames`.
const DESCRIBE_CHUNK: usize = 100;

/// The largest page DescribeRepositories returns when listing the whole registry.
const LIST_PAGE: i32 = 1000;

/// ECR's "not found" errors (its codes end in `Exception`, not `NotFound`).
pub(crate) fn is_gone(e: &ProviderError) -> bool {
    matches!(
        e.code.as_deref(),
        Some("RepositoryNotFoundException" | "LifecyclePolicyNotFoundException" | "RepositoryPolicyNotFoundException")
    ) || e.is_not_found()
}

pub(crate) fn repository_not_found(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("RepositoryNotFoundException")
}

/// The repositories named `names` that exist, by name: one DescribeRepositories per 100 names. ECR fails
/// the whole call when one name is missing (`RepositoryNotFoundException`); then the registry is listed
/// instead (paginated, 1000 per page) and filtered, once for all remaining chunks. So: ⌈n/100⌉ calls when
/// every repository exists, else at most that plus ⌈repositories in the registry/1000⌉.
pub(crate) async fn describe_repositories(
    cx: &Ctx,
    names: &[String],
) -> Result<HashMap<String, AwsRepository>, ProviderError> {
    let mut names: Vec<String> = names.iter().filter(|s| !s.is_empty()).cloned().collect();
    names.sort();
    names.dedup();
    let mut out = HashMap::new();
    for chunk in names.chunks(DESCRIBE_CHUNK) {
        let r = client(cx).describe_repositories().set_repository_names(Some(chunk.to_vec())).send().await;
        match r.map_err(aws_err) {
            Ok(resp) => {
                for repo in resp.repositories() {
                    if let Some(n) = repo.repository_name() {
                        out.insert(n.to_owned(), repo.clone());
                    }
                }
            }
            Err(e) if repository_not_found(&e) => {
                let wanted: HashSet<&str> = names.iter().map(String::as_str).collect();
                let mut pages =
                    client(cx).describe_repositories().max_results(LIST_PAGE).into_paginator().items().send();
                while let Some(repo) = pages.next().await {
                    let repo = repo.map_err(aws_err)?;
                    if let Some(n) = repo.repository_name().filter(|n| wanted.contains(n)) {
                        out.insert(n.to_owned(), repo.clone());
                    }
                }
                return Ok(out);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The attributes a repository has as DescribeRepositories/CreateRepository report it (no tags).
pub(crate) fn repository_attrs(repo: &AwsRepository) -> Attrs {
    let mut a = Attrs::new();
    let name = repo.repository_name().unwrap_or_default();
    a.insert("id".into(), Value::str(name));
    a.insert("name".into(), Value::str(name));
    put_str(&mut a, "arn", repo.repository_arn());
    put_str(&mut a, "registry_id", repo.registry_id());
    put_str(&mut a, "repository_url", repo.repository_uri());
    put_str(&mut a, "image_tag_mutability", repo.image_tag_mutability().map(|m| m.as_str()));
    let scan = repo.image_scanning_configuration().map(|c| c.scan_on_push()).unwrap_or(false);
    a.insert(
        "image_scanning_configuration".into(),
        Value::Map([("scan_on_push".to_owned(), Value::Bool(scan))].into()),
    );
    let mut enc = std::collections::BTreeMap::new();
    let (kind, key) = match repo.encryption_configuration() {
        Some(c) => (c.encryption_type().as_str(), c.kms_key()),
        None => ("AES256", None),
    };
    enc.insert("encryption_type".to_owned(), Value::str(kind));
    if let Some(k) = key.filter(|k| !k.is_empty()) {
        enc.insert("kms_key".to_owned(), Value::str(k));
    }
    a.insert("encryption_configuration".into(), Value::Map(enc));
    a
}

/// ECR tags as the `tags` attribute value.
pub(crate) fn tags_value(tags: &[aws_sdk_ecr::types::Tag]) -> Value {
    Value::Map(tags.iter().map(|t| (t.key().to_owned(), Value::str(t.value()))).collect())
}

/// A string map as ECR tags.
pub(crate) fn ecr_tags(
    tags: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<aws_sdk_ecr::types::Tag>, ProviderError> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_ecr::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| ProviderError::new(format!("tag {k}: {e}")))
        })
        .collect()
}

/// The tags of the repository with ARN `arn` (`None` when it is gone).
pub(crate) async fn list_tags(cx: &Ctx, arn: &str) -> Result<Option<Value>, ProviderError> {
    match client(cx).list_tags_for_resource().resource_arn(arn).send().await.map_err(aws_err) {
        Ok(out) => Ok(Some(tags_value(out.tags()))),
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_codes() {
        assert!(is_gone(&ProviderError::with_code("RepositoryNotFoundException", "x")));
        assert!(is_gone(&ProviderError::with_code("LifecyclePolicyNotFoundException", "x")));
        assert!(!is_gone(&ProviderError::with_code("RepositoryNotEmptyException", "x")));
        assert!(repository_not_found(&ProviderError::with_code("RepositoryNotFoundException", "x")));
        assert!(!repository_not_found(&ProviderError::with_code("LifecyclePolicyNotFoundException", "x")));
    }

    #[test]
    fn attrs_of_a_repository() {
        let repo = AwsRepository::builder()
            .repository_name("api")
            .repository_arn("arn:aws:ecr:us-east-1:123456789012:repository/api")
            .registry_id("123456789012")
            .repository_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/api")
            .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Immutable)
            .build();
        let a = repository_attrs(&repo);
        assert_eq!(a["id"], Value::str("api"));
        assert_eq!(a["image_tag_mutability"], Value::str("IMMUTABLE"));
        assert_eq!(a["image_scanning_configuration"].get("scan_on_push"), Some(&Value::Bool(false)));
        assert_eq!(a["encryption_configuration"].get("encryption_type"), Some(&Value::str("AES256")));
        assert_eq!(a["encryption_configuration"].get("kms_key"), None);
    }
}
