//! Data source `ecr_repository`: an existing ECR repository, by `name`. One DescribeRepositories call.
//!
//! Returns the repository resource's computed attributes (`arn`, `registry_id`, `repository_url`) and its
//! settings (`image_tag_mutability`, `image_scanning_configuration`, `encryption_configuration`); not its
//! tags (that would be one more call).

use std::sync::LazyLock;

use async_trait::async_trait;

use super::repository::{encryption_type, scanning_type};
use super::{describe_repositories, repository_attrs};
use crate::aws::{Ctx, ProviderError};
use crate::resource::DataSource;
use crate::resources::util::req_str;
use crate::schema::{Attribute, Schema};
use crate::value::Attrs;

pub struct EcrRepositoryData;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("ecr_repository", "An existing ECR repository, by name.")
        .attr(Attribute::string("name").required().describe("Name of the repository."))
        .attr(Attribute::string("arn").computed().describe("ARN of the repository."))
        .attr(Attribute::string("registry_id").computed().describe("Registry (account) holding the repository."))
        .attr(Attribute::string("repository_url").computed().describe("URL to push to and pull from."))
        .attr(Attribute::string("image_tag_mutability").computed().describe("MUTABLE or IMMUTABLE."))
        .attr(Attribute::new("image_scanning_configuration", scanning_type()).computed())
        .attr(Attribute::new("encryption_configuration", encryption_type()).computed())
});

#[async_trait]
impl DataSource for EcrRepositoryData {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    async fn read(&self, cx: &Ctx, args: &Attrs) -> Result<Attrs, ProviderError> {
        let name = req_str(args, "name")?;
        let found = describe_repositories(cx, &[name.to_owned()]).await?;
        let repo = found.get(name).ok_or_else(|| {
            ProviderError::with_code("RepositoryNotFoundException", format!("no ECR repository named `{name}`"))
        })?;
        let mut out = args.clone();
        out.extend(repository_attrs(repo));
        Ok(out)
    }
}
