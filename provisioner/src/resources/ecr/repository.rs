//! `ecr_repository`: an ECR repository. Id = the repository name (what `import` takes).
//!
//! `image_tag_mutability` defaults to `IMMUTABLE` — a deliberate deviation from Terraform's `MUTABLE`: a
//! deployed tag should always name the same image. `image_scanning_configuration` and
//! `encryption_configuration` are single tables (`{ scan_on_push = true }`), with AWS's defaults filled in
//! (no scan on push; AES256), so leaving them out diffs empty. `force_delete` is never sent to AWS on
//! create: it only makes delete remove a repository that still holds images.
//!
//! Create is one CreateRepository carrying all tags, mutability, scanning and encryption; the checkpoint
//! records what it returned, which is complete, so no read-back follows. Update: PutImageTagMutability,
//! PutImageScanningConfiguration, TagResource / UntagResource (encryption forces replacement), then the
//! read-back. Delete: DeleteRepository (`force` = `force_delete`), `RepositoryNotFoundException` = done.
//!
//! Read is batched: one DescribeRepositories per 100 names (see [`super::describe_repositories`] for the
//! fallback when a name is gone), then one ListTagsForResource per repository found — ECR has no batch tag
//! read — at most 8 in flight. So reading n repositories costs ⌈n/100⌉ + n calls, two sequential round
//! trips when n ≤ 8.
//!
//! `read_stack` keeps the default (read by tracked ids only): ECR cannot filter repositories by tag, and
//! listing every repository of the registry with one tag call each is not cheap. So leftovers of this type
//! (a repository created by a run that crashed before its checkpoint) are not found yet; a re-apply then
//! fails with `RepositoryAlreadyExistsException` naming it (import it, or delete it).

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_ecr::types::{EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability};
use futures::{StreamExt, TryStreamExt};

use super::{client, describe_repositories, ecr_tags, is_gone, list_tags, repository_attrs};
use crate::aws::{aws_err, tag_map, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::resources::util::*;
use crate::schema::{Attribute, Schema, Type, TAGS};
use crate::value::{Attrs, Value};

pub struct EcrRepository;

/// Tag mutability unless configured (Terraform's default is MUTABLE).
pub const DEFAULT_TAG_MUTABILITY: &str = "IMMUTABLE";

pub(crate) fn scanning_type() -> Type {
    Type::Object(vec![Attribute::bool("scan_on_push")
        .required()
        .describe("Scan images for vulnerabilities when they are pushed.")])
}

pub(crate) fn encryption_type() -> Type {
    Type::Object(vec![
        Attribute::string("encryption_type")
            .default("AES256")
            .one_of(&["AES256", "KMS", "KMS_DSSE"])
            .describe("AES256 (S3-managed keys), KMS or KMS_DSSE."),
        Attribute::string("kms_key").describe("ARN of the KMS key (KMS, KMS_DSSE); AWS's aws/ecr key when left out."),
    ])
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("ecr_repository", "An ECR container image repository.")
        .taggable()
        .attr(Attribute::string("name").required().forces_new().describe("Name of the repository."))
        .attr(
            Attribute::string("image_tag_mutability")
                .default(DEFAULT_TAG_MUTABILITY)
                .one_of(&["MUTABLE", "IMMUTABLE"])
                .describe("Whether a pushed tag can be moved to another image (default IMMUTABLE, unlike Terraform)."),
        )
        .attr(
            Attribute::new("image_scanning_configuration", scanning_type())
                .default_value(Value::Map([("scan_on_push".to_owned(), Value::Bool(false))].into()))
                .describe("Image scanning: `{ scan_on_push = true }`."),
        )
        .attr(
            Attribute::new("encryption_configuration", encryption_type())
                .default_value(Value::Map([("encryption_type".to_owned(), Value::str("AES256"))].into()))
                .forces_new()
                .describe("Encryption at rest: `{ encryption_type = \"KMS\", kms_key = \"arn:…\" }`."),
        )
        .attr(
            Attribute::bool("force_delete")
                .default(false)
                .describe("Delete the repository even if it holds images (never sent to AWS on create)."),
        )
        .attr(Attribute::string("arn").computed().describe("ARN of the repository."))
        .attr(Attribute::string("registry_id").computed().describe("Registry (account) holding the repository."))
        .attr(
            Attribute::string("repository_url")
                .computed()
                .describe("URL to push to and pull from: `<registry>.dkr.ecr.<region>.amazonaws.com/<name>`."),
        )
});

fn scan_on_push(attrs: &Attrs) -> bool {
    attrs
        .get("image_scanning_configuration")
        .and_then(|c| c.get("scan_on_push"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn mutability(attrs: &Attrs) -> &str {
    get_str(attrs, "image_tag_mutability").unwrap_or(DEFAULT_TAG_MUTABILITY)
}

fn encryption(attrs: &Attrs) -> Result<EncryptionConfiguration, ProviderError> {
    let c = attrs.get("encryption_configuration");
    let kind = c.and_then(|c| c.get("encryption_type")).and_then(Value::as_str).unwrap_or("AES256");
    let key = c.and_then(|c| c.get("kms_key")).and_then(Value::as_str).filter(|k| !k.is_empty());
    EncryptionConfiguration::builder()
        .encryption_type(EncryptionType::from(kind))
        .set_kms_key(key.map(str::to_owned))
        .build()
        .map_err(|e| ProviderError::new(format!("encryption_configuration: {e}")))
}

impl EcrRepository {
    /// Batched: DescribeRepositories per 100 names, then ListTagsForResource per repository found.
    pub(crate) async fn read_names(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let repos = describe_repositories(cx, ids).await?;
        let found: Vec<(String, Attrs)> =
            repos.values().map(|r| (r.repository_name().unwrap_or_default().to_owned(), repository_attrs(r))).collect();
        futures::stream::iter(found.into_iter().map(|(name, mut a)| async move {
            let tags = list_tags(cx, req_str(&a, "arn")?).await?;
            Ok::<_, ProviderError>(tags.map(|t| {
                a.insert(TAGS.into(), t);
                (name, a)
            }))
        }))
        .buffer_unordered(8)
        .try_filter_map(|x| async move { Ok(x) })
        .try_collect()
        .await
    }

    async fn read_one(&self, cx: &Ctx, name: &str) -> Result<Attrs, ProviderError> {
        let ids = [name.to_owned()];
        read_back(cx, "ECR repository", name, || self.read_names(cx, &ids)).await
    }
}

#[async_trait]
impl Resource for EcrRepository {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_names(cx, ids).await
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        let name = req_str(desired, "name")?;
        let out = client(cx)
            .create_repository()
            .repository_name(name)
            .image_tag_mutability(ImageTagMutability::from(mutability(desired)))
            .image_scanning_configuration(
                ImageScanningConfiguration::builder().scan_on_push(scan_on_push(desired)).build(),
            )
            .encryption_configuration(encryption(desired)?)
            .set_tags(Some(ecr_tags(&tag_map(desired))?))
            .send()
            .await
            .map_err(aws_err)?;
        let mut made = with_id(desired, name);
        if let Some(repo) = out.repository() {
            made.extend(repository_attrs(repo));
        }
        checkpoint.created(&made).await;
        Ok(made)
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let name = get_id(prior)?;
        if mutability(prior) != mutability(desired) {
            client(cx)
                .put_image_tag_mutability()
                .repository_name(name)
                .image_tag_mutability(ImageTagMutability::from(mutability(desired)))
                .send()
                .await
                .map_err(aws_err)?;
        }
        if scan_on_push(prior) != scan_on_push(desired) {
            client(cx)
                .put_image_scanning_configuration()
                .repository_name(name)
                .image_scanning_configuration(
                    ImageScanningConfiguration::builder().scan_on_push(scan_on_push(desired)).build(),
                )
                .send()
                .await
                .map_err(aws_err)?;
        }
        let (old, new) = (tag_map(prior), tag_map(desired));
        if old != new {
            let arn = req_str(prior, "arn")?;
            let removed: Vec<String> = old.keys().filter(|k| !new.contains_key(*k)).cloned().collect();
            let changed =
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
            let changed = ecr_tags(&changed)?;
            if !changed.is_empty() {
                client(cx).tag_resource().resource_arn(arn).set_tags(Some(changed)).send().await.map_err(aws_err)?;
            }
        }
        let mut got = self.read_one(cx, name).await?;
        got.insert("force_delete".into(), Value::Bool(get_bool(desired, "force_delete", false)));
        Ok(got)
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let name = get_id(prior)?;
        let force = get_bool(prior, "force_delete", false);
        match client(cx).delete_repository().repository_name(name).force(force).send().await.map_err(aws_err) {
            Ok(_) => Ok(()),
            Err(e) if is_gone(&e) => Ok(()),
            Err(e) if e.code.as_deref() == Some("RepositoryNotEmptyException") => Err(ProviderError::with_code(
                "RepositoryNotEmptyException",
                format!("{}; set force_delete = true (and apply) to delete it with its images", e.message),
            )),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_nested_tables_and_immutable_tags() {
        let n = SCHEMA.normalize(&Attrs::from([("name".to_owned(), Value::str("api"))]));
        assert_eq!(n["image_tag_mutability"], Value::str("IMMUTABLE"));
        assert_eq!(n["image_scanning_configuration"].get("scan_on_push"), Some(&Value::Bool(false)));
        assert_eq!(n["encryption_configuration"].get("encryption_type"), Some(&Value::str("AES256")));
        assert_eq!(n["force_delete"], Value::Bool(false));
        // A partly written table gets the nested default too.
        let n = SCHEMA.normalize(&Attrs::from([
            ("name".to_owned(), Value::str("api")),
            ("encryption_configuration".to_owned(), Value::Map(Default::default())),
        ]));
        assert_eq!(n["encryption_configuration"].get("encryption_type"), Some(&Value::str("AES256")));
    }

    #[test]
    fn encryption_request() {
        let a = SCHEMA.normalize(&Attrs::from([("name".to_owned(), Value::str("api"))]));
        let e = encryption(&a).unwrap();
        assert_eq!(e.encryption_type(), &EncryptionType::Aes256);
        assert_eq!(e.kms_key(), None);
    }
}
