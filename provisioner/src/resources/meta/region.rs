//! Data source `region`: the region the stack runs in (`cx.region`), or the one named by `name` or by its EC2
//! `endpoint`. No API call.

use std::sync::LazyLock;

use async_trait::async_trait;

use crate::aws::{Ctx, ProviderError};
use crate::resource::DataSource;
use crate::resources::util::get_str;
use crate::schema::{Attribute, Schema};
use crate::value::{Attrs, Value};

pub struct Region;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("region", "The region the stack runs in, or one selected by name or endpoint.")
        .attr(Attribute::string("name").optional_computed().describe("Region name; the stack's region when left out."))
        .attr(
            Attribute::string("endpoint").optional_computed().describe(
                "EC2 endpoint of the region, e.g. ec2.us-east-1.amazonaws.com; selects the region when given.",
            ),
        )
});

/// The EC2 endpoint host of `region` (`.amazonaws.com.cn` in China).
pub(crate) fn endpoint_of(region: &str) -> String {
    let domain = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    format!("ec2.{region}.{domain}")
}

/// The region named by an EC2 endpoint (`ec2.REGION.amazonaws.com[.cn]`, with or without `https://`).
pub(crate) fn region_of_endpoint(endpoint: &str) -> Option<String> {
    let host = endpoint.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
    let rest = host.strip_prefix("ec2.")?;
    let region = rest.strip_suffix(".amazonaws.com.cn").or_else(|| rest.strip_suffix(".amazonaws.com"))?;
    (!region.is_empty() && !region.contains('.')).then(|| region.to_owned())
}

#[async_trait]
impl DataSource for Region {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    async fn read(&self, cx: &Ctx, args: &Attrs) -> Result<Attrs, ProviderError> {
        let by_endpoint = match get_str(args, "endpoint") {
            Some(e) => Some(region_of_endpoint(e).ok_or_else(|| {
                ProviderError::new(format!("`{e}` is not a regional EC2 endpoint (ec2.REGION.amazonaws.com)"))
            })?),
            None => None,
        };
        let name = match (get_str(args, "name"), by_endpoint) {
            (Some(n), Some(r)) if n != r => {
                return Err(ProviderError::new(format!("region `{n}` does not match endpoint region `{r}`")))
            }
            (Some(n), _) => n.to_owned(),
            (None, Some(r)) => r,
            (None, None) => cx.region.clone(),
        };
        let mut a = args.clone();
        a.insert("id".into(), Value::str(&name));
        a.insert("endpoint".into(), Value::str(endpoint_of(&name)));
        a.insert("name".into(), Value::str(name));
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(endpoint_of("eu-west-1"), "ec2.eu-west-1.amazonaws.com");
        assert_eq!(endpoint_of("cn-north-1"), "ec2.cn-north-1.amazonaws.com.cn");
        assert_eq!(region_of_endpoint("https://ec2.eu-west-1.amazonaws.com"), Some("eu-west-1".into()));
        assert_eq!(region_of_endpoint("ec2.cn-north-1.amazonaws.com.cn"), Some("cn-north-1".into()));
        assert_eq!(region_of_endpoint("s3.amazonaws.com"), None);
    }
}
