//! Data source `secretsmanager_secret`: an existing Secrets Manager secret's metadata, by `arn` or `name`
//! (exactly one), as terraform-provider-aws's `aws_secretsmanager_secret` data source: `arn`, `name`,
//! `description`, `kms_key_id`, `tags`. One DescribeSecret call.
//!
//! **Never the value.** This reads metadata only (DescribeSecret, not GetSecretValue): a secret's value
//! must not end up in state or a plan. A task gets it at run time (ECS `secrets` with `valueFrom` = the
//! ARN), the typical use being `${db_instance.main.master_user_secret[0].secret_arn}`.

use std::sync::LazyLock;

use async_trait::async_trait;

use super::client;
use crate::aws::{aws_err, Ctx, ProviderError};
use crate::resource::DataSource;
use crate::resources::util::{get_str, put_str};
use crate::schema::{Attribute, Schema, Type};
use crate::value::{Attrs, Value};

pub struct SecretData;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new(
        "secretsmanager_secret",
        "An existing Secrets Manager secret's metadata (never its value), by ARN or name.",
    )
    .attr(Attribute::string("arn").optional_computed().describe("ARN of the secret (or give `name`)."))
    .attr(Attribute::string("name").optional_computed().describe("Name of the secret (or give `arn`)."))
    .attr(Attribute::string("description").computed().describe("Description of the secret."))
    .attr(
        Attribute::string("kms_key_id")
            .computed()
            .describe("KMS key encrypting it (empty: AWS's aws/secretsmanager key)."),
    )
    .attr(Attribute::new("tags", Type::map(Type::String)).computed().describe("Its tags."))
});

fn check(args: &Attrs) -> Result<&str, ProviderError> {
    match (get_str(args, "arn"), get_str(args, "name")) {
        (Some(a), None) => Ok(a),
        (None, Some(n)) => Ok(n),
        (Some(_), Some(_)) => Err(ProviderError::with_code(
            "InvalidParameterException",
            "secretsmanager_secret: give `arn` or `name`, not both",
        )),
        (None, None) => {
            Err(ProviderError::with_code("InvalidParameterException", "secretsmanager_secret: give `arn` or `name`"))
        }
    }
}

#[async_trait]
impl DataSource for SecretData {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    async fn read(&self, cx: &Ctx, args: &Attrs) -> Result<Attrs, ProviderError> {
        let id = check(args)?;
        let out = client(cx).describe_secret().secret_id(id).send().await.map_err(aws_err).map_err(|e| {
            if e.code.as_deref() == Some("ResourceNotFoundException") {
                ProviderError::with_code("ResourceNotFoundException", format!("no Secrets Manager secret `{id}`"))
            } else {
                e
            }
        })?;
        let mut a = Attrs::new();
        put_str(&mut a, "arn", out.arn());
        put_str(&mut a, "name", out.name());
        put_str(&mut a, "description", out.description());
        put_str(&mut a, "kms_key_id", out.kms_key_id());
        a.insert(
            "tags".into(),
            Value::Map(
                out.tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_owned(), Value::str(t.value().unwrap_or_default()))))
                    .collect(),
            ),
        );
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_or_name_and_no_value_attribute() {
        let a = |k: &str| Attrs::from([(k.to_owned(), Value::str("x"))]);
        assert_eq!(check(&a("arn")).unwrap(), "x");
        assert_eq!(check(&a("name")).unwrap(), "x");
        assert!(check(&Attrs::new()).is_err());
        let mut both = a("arn");
        both.insert("name".into(), Value::str("y"));
        assert!(check(&both).unwrap_err().message.contains("not both"));
        assert!(SCHEMA.attributes.iter().all(|a| !a.name.contains("secret_string") && !a.name.contains("value")));
    }
}
