//! Data source `route53_zone`: a hosted zone that exists independently of the stack, as
//! terraform-provider-aws's `data.aws_route53_zone`: by `zone_id` (GetHostedZone), or by `name` and
//! `private_zone` (ListHostedZonesByName from that name, then GetHostedZone for the name servers). Exactly
//! one zone must match.

use std::sync::LazyLock;

use async_trait::async_trait;

use super::{clean_name, clean_zone_id, client, is_gone, zone_arn};
use crate::aws::{aws_err, Ctx, ProviderError};
use crate::resource::DataSource;
use crate::resources::util::get_str;
use crate::schema::{Attribute, Schema, Type, ID};
use crate::value::{Attrs, Value};

pub struct Route53ZoneData;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("route53_zone", "A Route 53 hosted zone, by name or id.")
        .attr(Attribute::string("zone_id").optional_computed().describe("The zone's id (or give `name`)."))
        .attr(
            Attribute::string("name")
                .optional_computed()
                .describe("The zone's domain, e.g. `example.com` (or give `zone_id`)."),
        )
        .attr(Attribute::bool("private_zone").default(false).describe("With `name`: look for a private zone."))
        .attr(Attribute::new("name_servers", Type::list(Type::String)).computed().describe("The zone's name servers."))
        .attr(Attribute::string("arn").computed().describe("ARN of the zone."))
        .attr(Attribute::string("comment").computed().describe("The zone's comment."))
});

#[async_trait]
impl DataSource for Route53ZoneData {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    async fn read(&self, cx: &Ctx, args: &Attrs) -> Result<Attrs, ProviderError> {
        let private = args.get("private_zone").and_then(Value::as_bool).unwrap_or(false);
        let id = match (get_str(args, "zone_id"), get_str(args, "name")) {
            (Some(id), _) => clean_zone_id(id),
            (None, Some(name)) => {
                let name = clean_name(name);
                let mut found = Vec::new();
                let mut start: Option<(String, Option<String>)> = Some((format!("{name}."), None));
                while let Some((dns, zid)) = start.take() {
                    let page = client(cx)
                        .list_hosted_zones_by_name()
                        .dns_name(dns)
                        .set_hosted_zone_id(zid)
                        .send()
                        .await
                        .map_err(aws_err)?;
                    let mut past = false;
                    for z in page.hosted_zones() {
                        if clean_name(z.name()) != name {
                            past = true;
                            continue;
                        }
                        if z.config().map(|c| c.private_zone()).unwrap_or(false) == private {
                            found.push(clean_zone_id(z.id()));
                        }
                    }
                    if page.is_truncated() && !past {
                        if let Some(n) = page.next_dns_name() {
                            start = Some((n.to_owned(), page.next_hosted_zone_id().map(str::to_owned)));
                        }
                    }
                }
                let kind = if private { "private" } else { "public" };
                match found.as_slice() {
                    [one] => one.clone(),
                    [] => {
                        return Err(ProviderError::with_code(
                            "NoSuchHostedZone",
                            format!("no {kind} hosted zone named `{name}` in this account"),
                        ))
                    }
                    many => {
                        return Err(ProviderError::with_code(
                            "MultipleHostedZones",
                            format!(
                                "{} {kind} hosted zones are named `{name}` ({}): give `zone_id`",
                                many.len(),
                                many.join(", ")
                            ),
                        ))
                    }
                }
            }
            (None, None) => return Err(ProviderError::new("data route53_zone needs `name` or `zone_id`")),
        };
        let out = match client(cx).get_hosted_zone().id(&id).send().await.map_err(aws_err) {
            Ok(o) => o,
            Err(e) if is_gone(&e) => {
                return Err(ProviderError::with_code(
                    "NoSuchHostedZone",
                    format!("no hosted zone with id `{id}`: {}", e.message),
                ))
            }
            Err(e) => return Err(e),
        };
        let z = out.hosted_zone().ok_or_else(|| ProviderError::new("GetHostedZone returned no zone"))?;
        let mut a = args.clone();
        a.insert(ID.into(), Value::str(&id));
        a.insert("zone_id".into(), Value::str(&id));
        a.insert("name".into(), Value::str(clean_name(z.name())));
        a.insert("private_zone".into(), Value::Bool(z.config().map(|c| c.private_zone()).unwrap_or(false)));
        a.insert(
            "name_servers".into(),
            Value::string_list(out.delegation_set().map(|d| d.name_servers().to_vec()).unwrap_or_default()),
        );
        a.insert("arn".into(), Value::str(zone_arn(cx, &id)));
        a.insert("comment".into(), Value::str(z.config().and_then(|c| c.comment()).unwrap_or_default()));
        Ok(a)
    }
}
