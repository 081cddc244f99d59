//! `route_table`: a route table of a VPC with its static IPv4 routes.
//!
//! Create is one CreateRouteTable call carrying all tags, then (after the checkpoint) one CreateRoute per
//! route, retrying NotFound because a gateway created moments ago may not be visible yet. Read reports the
//! routes the user manages: the implicit `local` route and routes propagated by a virtual private gateway
//! are left out. Update deletes removed destinations, replaces changed targets and creates new ones.
//!
//! Read is one DescribeRouteTables per 200 ids (filter `route-table-id`, paginated). `read_stack` is one
//! DescribeRouteTables filtered by the stack's tags — shared, within a refresh, with
//! `route_table_association` (see [`stack_route_tables`]) — plus the by-id read for the tracked ids it did
//! not return (none in the common case). A VPC's main route table is not created by the tool and carries no tag.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType, RouteOrigin, RouteTable as AwsRouteTable};

use super::util::*;
use crate::aws::{aws_err, retry_on, sync_ec2_tags, tag_spec, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::schema::{Attribute, Schema, Type};
use crate::value::{Attrs, Value};

pub struct RouteTable;

/// The DescribeRouteTables filter selecting by id.
const ID_FILTER: &str = "route-table-id";

pub(crate) const TAG_RESOURCE_TYPE: ResourceType = ResourceType::RouteTable;

fn route_type() -> Type {
    Type::Object(vec![
        Attribute::string("cidr_block").required().cidr().describe("Destination IPv4 CIDR block."),
        Attribute::string("gateway_id").default("").describe("Target internet gateway or virtual private gateway."),
        Attribute::string("nat_gateway_id").default("").describe("Target NAT gateway."),
    ])
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("route_table", "A route table of a VPC.")
        .taggable()
        .attr(Attribute::string("vpc_id").required().forces_new().describe("The VPC of the route table."))
        .attr(
            Attribute::new("route", Type::set(route_type()))
                .default_value(Value::List(vec![]))
                .describe("Routes (the implicit local route excluded)."),
        )
        .attr(Attribute::string("owner_id").computed().describe("Account owning the route table."))
});

/// A route's target, by destination.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Target {
    gateway_id: String,
    nat_gateway_id: String,
}

/// The routes of `attrs` by destination, as they are (prior state may hold routes AWS reported with a
/// target this schema does not model: both targets empty).
fn routes_in(attrs: &Attrs) -> BTreeMap<String, Target> {
    let mut out = BTreeMap::new();
    for r in attrs.get("route").and_then(Value::as_list).unwrap_or_default() {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        out.insert(s("cidr_block"), Target { gateway_id: s("gateway_id"), nat_gateway_id: s("nat_gateway_id") });
    }
    out
}

/// The desired routes by destination, validated: exactly one target each, one route per destination.
fn routes_of(attrs: &Attrs) -> Result<BTreeMap<String, Target>, ProviderError> {
    let mut out = BTreeMap::new();
    for r in attrs.get("route").and_then(Value::as_list).unwrap_or_default() {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let cidr = s("cidr_block");
        let t = Target { gateway_id: s("gateway_id"), nat_gateway_id: s("nat_gateway_id") };
        if t.gateway_id.is_empty() == t.nat_gateway_id.is_empty() {
            return Err(ProviderError::with_code(
                "InvalidRoute",
                format!("route to {cidr}: set exactly one of gateway_id and nat_gateway_id"),
            ));
        }
        if out.insert(cidr.clone(), t).is_some() {
            return Err(ProviderError::with_code("InvalidRoute", format!("two routes to {cidr}")));
        }
    }
    Ok(out)
}

fn route_value(cidr: &str, t: &Target) -> Value {
    Value::Map(BTreeMap::from([
        ("cidr_block".to_owned(), Value::str(cidr)),
        ("gateway_id".to_owned(), Value::str(&t.gateway_id)),
        ("nat_gateway_id".to_owned(), Value::str(&t.nat_gateway_id)),
    ]))
}

#[derive(Clone, Copy, PartialEq)]
enum RouteOp {
    Create,
    Replace,
}

async fn put_route(cx: &Ctx, rt: &str, cidr: &str, t: &Target, op: RouteOp) -> Result<(), ProviderError> {
    let gw = (!t.gateway_id.is_empty()).then(|| t.gateway_id.clone());
    let nat = (!t.nat_gateway_id.is_empty()).then(|| t.nat_gateway_id.clone());
    let what = if op == RouteOp::Create { "CreateRoute" } else { "ReplaceRoute" };
    retry_on(cx, what, ProviderError::is_not_found, || async {
        match op {
            RouteOp::Create => cx
                .ec2()
                .create_route()
                .route_table_id(rt)
                .destination_cidr_block(cidr)
                .set_gateway_id(gw.clone())
                .set_nat_gateway_id(nat.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(aws_err),
            RouteOp::Replace => cx
                .ec2()
                .replace_route()
                .route_table_id(rt)
                .destination_cidr_block(cidr)
                .set_gateway_id(gw.clone())
                .set_nat_gateway_id(nat.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(aws_err),
        }
    })
    .await
}

/// One DescribeRouteTables (paginated) with `filters`, as the SDK returns the tables.
async fn describe(cx: &Ctx, filters: Vec<Filter>) -> Result<Vec<AwsRouteTable>, ProviderError> {
    let mut out = Vec::new();
    let mut pages = cx.ec2().describe_route_tables().set_filters(Some(filters)).into_paginator().items().send();
    while let Some(rt) = pages.next().await {
        out.push(rt.map_err(aws_err)?);
    }
    Ok(out)
}

/// The stack's route tables (filtered by its tags), read once per refresh and shared with
/// `route_table_association`, whose objects are these tables' associations.
pub(crate) async fn stack_route_tables(cx: &Ctx) -> Result<Arc<Vec<AwsRouteTable>>, ProviderError> {
    cx.shared("ec2.DescribeRouteTables(stack)", || describe(cx, cx.stack_filters())).await
}

/// A route table's attributes as `read` returns them.
fn table_attrs(rt: &AwsRouteTable) -> Option<(String, Attrs)> {
    let id = rt.route_table_id()?;
    let mut a = Attrs::new();
    a.insert("id".into(), Value::str(id));
    put_str(&mut a, "vpc_id", rt.vpc_id());
    put_str(&mut a, "owner_id", rt.owner_id());
    let mut routes = Vec::new();
    for r in rt.routes() {
        if r.gateway_id() == Some("local") || r.origin() == Some(&RouteOrigin::EnableVgwRoutePropagation) {
            continue;
        }
        // Only IPv4 destinations are modelled (IPv6 / prefix-list routes are not managed here). A route to
        // another kind of target (peering, transit gateway, instance, …) is reported with both targets
        // empty, so a plan shows it as a difference.
        let Some(cidr) = r.destination_cidr_block() else { continue };
        let t = Target {
            gateway_id: r.gateway_id().unwrap_or_default().to_owned(),
            nat_gateway_id: r.nat_gateway_id().unwrap_or_default().to_owned(),
        };
        routes.push(route_value(cidr, &t));
    }
    routes.sort_by_cached_key(Value::canonical);
    a.insert("route".into(), Value::List(routes));
    put_tags(&mut a, rt.tags());
    Some((id.to_owned(), a))
}

impl RouteTable {
    /// One DescribeRouteTables (paginated) with `filters`.
    async fn read_filtered(&self, cx: &Ctx, filters: Vec<Filter>) -> Result<HashMap<String, Attrs>, ProviderError> {
        Ok(describe(cx, filters).await?.iter().filter_map(table_attrs).collect())
    }

    async fn read_ids(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        read_by_ids(ids, ID_FILTER, |f| self.read_filtered(cx, f)).await
    }

    async fn read_one(&self, cx: &Ctx, id: &str) -> Result<Attrs, ProviderError> {
        let ids = [id.to_owned()];
        read_back(cx, "route table", id, || self.read_ids(cx, &ids)).await
    }
}

#[async_trait]
impl Resource for RouteTable {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_ids(cx, ids).await
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        let routes = routes_of(desired)?;
        let vpc_id = req_str(desired, "vpc_id")?;
        let out = retry_on(cx, "CreateRouteTable", ProviderError::is_not_found, || async {
            cx.ec2()
                .create_route_table()
                .vpc_id(vpc_id)
                .tag_specifications(tag_spec(TAG_RESOURCE_TYPE, desired))
                .send()
                .await
                .map_err(aws_err)
        })
        .await?;
        let id = out
            .route_table()
            .and_then(|r| r.route_table_id())
            .ok_or_else(|| ProviderError::new("CreateRouteTable returned no id"))?;
        checkpoint.created(&with_id(desired, id)).await;
        for (cidr, t) in &routes {
            put_route(cx, id, cidr, t, RouteOp::Create).await?;
        }
        self.read_one(cx, id).await
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let id = get_id(prior)?;
        // Routes to targets not modelled here (peering, transit gateway, …) read with both targets empty:
        // like Terraform's inline routes, the set is exclusive, so they are deleted unless declared.
        let old = routes_in(prior);
        let new = routes_of(desired)?;
        for cidr in old.keys().filter(|c| !new.contains_key(*c)) {
            let r = cx.ec2().delete_route().route_table_id(id).destination_cidr_block(cidr).send().await;
            gone_ok(r.map_err(aws_err))?;
        }
        for (cidr, t) in &new {
            match old.get(cidr) {
                Some(o) if o == t => {}
                Some(_) => put_route(cx, id, cidr, t, RouteOp::Replace).await?,
                None => put_route(cx, id, cidr, t, RouteOp::Create).await?,
            }
        }
        sync_ec2_tags(cx, id, prior, desired).await?;
        self.read_one(cx, id).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let id = get_id(prior)?;
        // Subnet associations being removed concurrently surface as DependencyViolation: retried.
        delete_retrying(cx, "DeleteRouteTable", || async {
            cx.ec2().delete_route_table().route_table_id(id).send().await.map_err(aws_err)
        })
        .await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let mut out: HashMap<String, Attrs> = stack_route_tables(cx).await?.iter().filter_map(table_attrs).collect();
        out.extend(self.read_ids(cx, &missing_ids(ids, &out)).await?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_with_the_route_table_resource_type() {
        assert_eq!(TAG_RESOURCE_TYPE.as_str(), "route-table");
    }

    #[test]
    fn routes_need_exactly_one_target() {
        let attrs = |routes: serde_json::Value| Attrs::from([("route".to_owned(), Value::from_json(&routes))]);
        let ok = attrs(serde_json::json!([{"cidr_block": "0.0.0.0/0", "gateway_id": "igw-1", "nat_gateway_id": ""}]));
        assert_eq!(routes_of(&ok).unwrap()["0.0.0.0/0"].gateway_id, "igw-1");
        let none = attrs(serde_json::json!([{"cidr_block": "0.0.0.0/0", "gateway_id": "", "nat_gateway_id": ""}]));
        assert!(routes_of(&none).is_err());
        let dup = attrs(serde_json::json!([
            {"cidr_block": "0.0.0.0/0", "gateway_id": "igw-1", "nat_gateway_id": ""},
            {"cidr_block": "0.0.0.0/0", "gateway_id": "", "nat_gateway_id": "nat-1"}
        ]));
        assert!(routes_of(&dup).unwrap_err().message.contains("two routes"));
    }

    #[test]
    fn prior_routes_to_unmodelled_targets_are_kept_for_deletion() {
        let prior = Attrs::from([(
            "route".to_owned(),
            Value::from_json(
                &serde_json::json!([{"cidr_block": "10.9.0.0/16", "gateway_id": "", "nat_gateway_id": ""}]),
            ),
        )]);
        assert_eq!(routes_in(&prior).keys().collect::<Vec<_>>(), ["10.9.0.0/16"]);
        assert!(routes_of(&prior).is_err());
    }

    #[test]
    fn route_defaults_fill_in() {
        let d = Attrs::from([(
            "route".to_owned(),
            Value::from_json(&serde_json::json!([{"cidr_block": "0.0.0.0/0", "gateway_id": "igw-1"}])),
        )]);
        let n = SCHEMA.normalize(&d);
        assert_eq!(
            n["route"],
            Value::List(vec![route_value(
                "0.0.0.0/0",
                &Target { gateway_id: "igw-1".into(), nat_gateway_id: String::new() }
            )])
        );
    }
}
