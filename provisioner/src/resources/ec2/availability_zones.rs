//! Data source `aws_availability_zones`: the availability zones of the region in a given state.
//!
//! One DescribeAvailabilityZones call filtered by `state`. `names` is sorted; `zone_ids[i]` is the id of
//! `names[i]`.

use std::sync::LazyLock;

use async_trait::async_trait;

use super::util::*;
use crate::aws::{aws_err, Ctx, ProviderError};
use crate::resource::DataSource;
use crate::schema::{Attribute, Schema, Type};
use crate::value::{Attrs, Value};

pub struct AvailabilityZones;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("availability_zones", "Availability zones of the region.")
        .attr(
            Attribute::string("state")
                .default("available")
                .one_of(&["available", "information", "impaired", "unavailable"])
                .describe("Only zones in this state."),
        )
        .attr(Attribute::new("names", Type::list(Type::String)).computed().describe("Zone names, sorted."))
        .attr(Attribute::new("zone_ids", Type::list(Type::String)).computed().describe("Zone ids, matching `names`."))
});

#[async_trait]
impl DataSource for AvailabilityZones {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    async fn read(&self, cx: &Ctx, args: &Attrs) -> Result<Attrs, ProviderError> {
        let state = get_str(args, "state").unwrap_or("available");
        let resp =
            cx.ec2().describe_availability_zones().filters(filter1("state", state)).send().await.map_err(aws_err)?;
        let mut zones: Vec<(String, String)> = resp
            .availability_zones()
            .iter()
            .filter_map(|z| Some((z.zone_name()?.to_owned(), z.zone_id().unwrap_or_default().to_owned())))
            .collect();
        zones.sort();
        let mut out = args.clone();
        out.insert("id".into(), Value::str(&cx.region));
        out.insert("state".into(), Value::str(state));
        out.insert("names".into(), Value::string_list(zones.iter().map(|z| z.0.clone())));
        out.insert("zone_ids".into(), Value::string_list(zones.into_iter().map(|z| z.1)));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_defaults_to_available() {
        let n = SCHEMA.normalize(&Attrs::new());
        assert_eq!(n["state"], Value::str("available"));
        assert!(SCHEMA.attribute("state").unwrap().conform(&Value::str("gone")).is_err());
    }
}
