//! Data source `iam_role`: an existing role by `name` — one GetRole call. `assume_role_policy` is the
//! canonical JSON text of the trust policy (decoded, keys sorted; see `policy`).

use std::sync::LazyLock;

use async_trait::async_trait;

use super::role::{role_attrs, DEFAULT_MAX_SESSION};
use super::util::*;
use crate::aws::{Ctx, ProviderError};
use crate::resource::DataSource;
use crate::schema::{Attribute, Schema, Type};
use crate::value::{Attrs, Value};

pub struct RoleDataSource;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("iam_role", "An existing IAM role, by name.")
        .attr(Attribute::string("name").required().describe("Name of the role."))
        .attr(Attribute::string("arn").computed().describe("ARN of the role."))
        .attr(Attribute::string("unique_id").computed().describe("Stable unique id of the role (AROA…)."))
        .attr(Attribute::string("path").computed().describe("Path of the role."))
        .attr(Attribute::string("assume_role_policy").computed().describe("Trust policy (canonical JSON)."))
        .attr(Attribute::string("description").computed().describe("Description of the role."))
        .attr(Attribute::number("max_session_duration").computed().describe("Maximum session duration in seconds."))
        .attr(Attribute::string("permissions_boundary").computed().describe("ARN of the permissions boundary policy."))
        .attr(Attribute::string("create_date").computed().describe("Creation date (RFC 3339)."))
        .attr(Attribute::new("tags", Type::map(Type::String)).computed().describe("Tags of the role."))
});

#[async_trait]
impl DataSource for RoleDataSource {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    async fn read(&self, cx: &Ctx, args: &Attrs) -> Result<Attrs, ProviderError> {
        let name = req_str(args, "name")?;
        let role = get_roles(cx, &[name.to_owned()])
            .await?
            .remove(name)
            .ok_or_else(|| ProviderError::with_code("NoSuchEntity", format!("no IAM role named `{name}`")))?;
        let mut out = args.clone();
        out.extend(role_attrs(&role));
        out.remove("name_prefix");
        out.entry("description".into()).or_insert_with(|| Value::str(""));
        out.entry("permissions_boundary".into()).or_insert_with(|| Value::str(""));
        out.entry("max_session_duration".into()).or_insert_with(|| Value::int(DEFAULT_MAX_SESSION));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_name_is_settable() {
        let settable: Vec<_> = SCHEMA.attributes.iter().filter(|a| a.settable()).map(|a| a.name).collect();
        assert_eq!(settable, ["name"]);
    }
}
