//! `route_table`: a route table of a VPC with its static routes, to IPv4 (`cidr_block`) or IPv6
//! (`ipv6_cidr_block`) destinations — exactly one of the two per route, checked at plan (`validate`, and
//! `validate_related` while the targets are still unknown).
//!
//! Create is one CreateRouteTable call carrying all tags, then (after the checkpoint) one CreateRoute per
//! route (DestinationCidrBlock or DestinationIpv6CidrBlock), retrying NotFound because a gateway created
//! moments ago may not be visible yet. Read reports the routes the user manages: the implicit `local`
//! routes (IPv4 and IPv6) and routes propagated by a virtual private gateway are left out. Update deletes
//! removed destinations, replaces changed targets and creates new ones. IPv6 destinations are compared in
//! their canonical spelling (`normalize`), as AWS reports them.
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
        Attribute::string("cidr_block")
            .default("")
            .cidr()
            .describe("Destination IPv4 CIDR block (exactly one of cidr_block and ipv6_cidr_block)."),
        Attribute::string("ipv6_cidr_block")
            .default("")
            .cidr()
            .describe("Destination IPv6 CIDR block, e.g. `::/0` (exactly one of cidr_block and ipv6_cidr_block)."),
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

/// A route's destination: an IPv4 or an IPv6 CIDR block.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Dest {
    V4(String),
    V6(String),
}

impl Dest {
    /// The destination of a route value (as configured or read): the IPv6 block when set, else the IPv4.
    fn of(r: &Value) -> Dest {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        match s("ipv6_cidr_block") {
            v6 if !v6.is_empty() => Dest::V6(v6),
            _ => Dest::V4(s("cidr_block")),
        }
    }
}

impl std::fmt::Display for Dest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dest::V4(c) | Dest::V6(c) => f.write_str(c),
        }
    }
}

/// A route's target, by destination.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Target {
    gateway_id: String,
    nat_gateway_id: String,
}

/// The routes of `attrs` by destination, as they are (prior state may hold routes AWS reported with a
/// target this schema does not model: both targets empty).
fn routes_in(attrs: &Attrs) -> BTreeMap<Dest, Target> {
    let mut out = BTreeMap::new();
    for r in attrs.get("route").and_then(Value::as_list).unwrap_or_default() {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        out.insert(Dest::of(r), Target { gateway_id: s("gateway_id"), nat_gateway_id: s("nat_gateway_id") });
    }
    out
}

/// Why route `r` does not have exactly one destination (`cidr_block` or `ipv6_cidr_block`), if it does not
/// and both are known. The route is named by its contents: the set's order is not the configuration's.
fn destination_error(r: &Value) -> Option<String> {
    let known = |k: &str| match r.get(k) {
        Some(Value::Unknown) => None,
        v => Some(v.and_then(Value::as_str).unwrap_or_default().to_owned()),
    };
    let (v4, v6) = (known("cidr_block")?, known("ipv6_cidr_block")?);
    if v4.is_empty() != v6.is_empty() {
        return None;
    }
    let which = if v4.is_empty() {
        let target = ["gateway_id", "nat_gateway_id"]
            .into_iter()
            .find_map(|k| r.get(k).and_then(Value::as_str))
            .filter(|t| !t.is_empty());
        format!("a route{}: neither is set", target.map(|t| format!(" via {t}")).unwrap_or_default())
    } else {
        format!("the route to {v4} and {v6}: both are set")
    };
    Some(format!("{which}; set exactly one of cidr_block and ipv6_cidr_block"))
}

/// The desired routes by destination, validated: exactly one destination (IPv4 or IPv6) and exactly one
/// target each, one route per destination.
fn routes_of(attrs: &Attrs) -> Result<BTreeMap<Dest, Target>, ProviderError> {
    let mut out = BTreeMap::new();
    for r in attrs.get("route").and_then(Value::as_list).unwrap_or_default() {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        if let Some(message) = destination_error(r) {
            return Err(ProviderError::with_code("InvalidRoute", message));
        }
        let cidr = Dest::of(r);
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

fn route_value(dest: &Dest, t: &Target) -> Value {
    let (v4, v6) = match dest {
        Dest::V4(c) => (c.as_str(), ""),
        Dest::V6(c) => ("", c.as_str()),
    };
    Value::Map(BTreeMap::from([
        ("cidr_block".to_owned(), Value::str(v4)),
        ("ipv6_cidr_block".to_owned(), Value::str(v6)),
        ("gateway_id".to_owned(), Value::str(&t.gateway_id)),
        ("nat_gateway_id".to_owned(), Value::str(&t.nat_gateway_id)),
    ]))
}

#[derive(Clone, Copy, PartialEq)]
enum RouteOp {
    Create,
    Replace,
}

async fn put_route(cx: &Ctx, rt: &str, dest: &Dest, t: &Target, op: RouteOp) -> Result<(), ProviderError> {
    let (v4, v6) = match dest {
        Dest::V4(c) => (Some(c.clone()), None),
        Dest::V6(c) => (None, Some(c.clone())),
    };
    let gw = (!t.gateway_id.is_empty()).then(|| t.gateway_id.clone());
    let nat = (!t.nat_gateway_id.is_empty()).then(|| t.nat_gateway_id.clone());
    let what = if op == RouteOp::Create { "CreateRoute" } else { "ReplaceRoute" };
    retry_on(cx, what, ProviderError::is_not_found, || async {
        match op {
            RouteOp::Create => cx
                .ec2()
                .create_route()
                .route_table_id(rt)
                .set_destination_cidr_block(v4.clone())
                .set_destination_ipv6_cidr_block(v6.clone())
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
                .set_destination_cidr_block(v4.clone())
                .set_destination_ipv6_cidr_block(v6.clone())
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
        // IPv4 and IPv6 destinations are modelled (prefix-list routes are not managed here). A route to
        // another kind of target (peering, transit gateway, egress-only gateway, instance, …) is reported
        // with both targets empty, so a plan shows it as a difference.
        let dest = match (r.destination_cidr_block(), r.destination_ipv6_cidr_block()) {
            (Some(c), _) => Dest::V4(c.to_owned()),
            (None, Some(c)) => Dest::V6(canonical_cidr(c)),
            (None, None) => continue,
        };
        let t = Target {
            gateway_id: r.gateway_id().unwrap_or_default().to_owned(),
            nat_gateway_id: r.nat_gateway_id().unwrap_or_default().to_owned(),
        };
        routes.push(route_value(&dest, &t));
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

    /// IPv6 destinations in their canonical spelling (`2600:1F18::/56` is AWS's `2600:1f18::/56`); the set
    /// is sorted again.
    fn normalize(&self, attrs: &mut Attrs) {
        let Some(Value::List(routes)) = attrs.get_mut("route") else { return };
        let mut changed = false;
        for r in routes.iter_mut() {
            if let Value::Map(m) = r {
                if let Some(Value::String(c)) = m.get_mut("ipv6_cidr_block") {
                    let canon = canonical_cidr(c);
                    if canon != *c {
                        *c = canon;
                        changed = true;
                    }
                }
            }
        }
        if changed && routes.iter().all(Value::is_known) {
            routes.sort_by_cached_key(Value::canonical);
            routes.dedup();
        }
    }

    /// Exactly one destination and one target per route, one route per destination.
    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        routes_of(cfg).map(|_| ()).map_err(|e| e.message)
    }

    /// Exactly one destination per route, as soon as the destinations are known: the targets usually are
    /// not (a gateway still to be created), so [`Self::validate`] would wait for apply.
    fn validate_related(&self, cfg: &Attrs, _related: &[(&str, &Attrs)]) -> Result<(), String> {
        match cfg.get("route") {
            Some(Value::List(routes)) => routes.iter().find_map(destination_error).map_or(Ok(()), Err),
            _ => Ok(()),
        }
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
        for (dest, t) in &routes {
            put_route(cx, id, dest, t, RouteOp::Create).await?;
        }
        self.read_one(cx, id).await
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let id = get_id(prior)?;
        // Routes to targets not modelled here (peering, transit gateway, …) read with both targets empty:
        // like Terraform's inline routes, the set is exclusive, so they are deleted unless declared.
        let old = routes_in(prior);
        let new = routes_of(desired)?;
        for dest in old.keys().filter(|d| !new.contains_key(*d)) {
            let req = cx.ec2().delete_route().route_table_id(id);
            let req = match dest {
                Dest::V4(c) => req.destination_cidr_block(c),
                Dest::V6(c) => req.destination_ipv6_cidr_block(c),
            };
            gone_ok(req.send().await.map_err(aws_err))?;
        }
        for (dest, t) in &new {
            match old.get(dest) {
                Some(o) if o == t => {}
                Some(_) => put_route(cx, id, dest, t, RouteOp::Replace).await?,
                None => put_route(cx, id, dest, t, RouteOp::Create).await?,
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
        assert_eq!(routes_of(&ok).unwrap()[&Dest::V4("0.0.0.0/0".into())].gateway_id, "igw-1");
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
        assert_eq!(routes_in(&prior).keys().collect::<Vec<_>>(), [&Dest::V4("10.9.0.0/16".into())]);
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
                &Dest::V4("0.0.0.0/0".into()),
                &Target { gateway_id: "igw-1".into(), nat_gateway_id: String::new() }
            )])
        );
    }

    #[test]
    fn routes_need_exactly_one_destination() {
        let attrs = |routes: serde_json::Value| Attrs::from([("route".to_owned(), Value::from_json(&routes))]);
        let v6 = attrs(serde_json::json!([
            {"cidr_block": "0.0.0.0/0", "gateway_id": "igw-1"},
            {"ipv6_cidr_block": "::/0", "gateway_id": "igw-1"}
        ]));
        let routes = routes_of(&v6).unwrap();
        assert_eq!(routes.keys().collect::<Vec<_>>(), [&Dest::V4("0.0.0.0/0".into()), &Dest::V6("::/0".into())]);
        let both =
            attrs(serde_json::json!([{"cidr_block": "0.0.0.0/0", "ipv6_cidr_block": "::/0", "gateway_id": "igw-1"}]));
        let e = routes_of(&both).unwrap_err().message;
        assert_eq!(
            e,
            "the route to 0.0.0.0/0 and ::/0: both are set; set exactly one of cidr_block and ipv6_cidr_block"
        );
        let neither = attrs(serde_json::json!([{"gateway_id": "igw-1"}]));
        let e = routes_of(&neither).unwrap_err().message;
        assert_eq!(e, "a route via igw-1: neither is set; set exactly one of cidr_block and ipv6_cidr_block");
        assert!(RouteTable.validate(&both).is_err());
        assert!(RouteTable.validate(&v6).is_ok());
        // Targets unknown at plan: the destinations are checked all the same.
        let unknown_target = |dest: serde_json::Value| {
            let mut r = Value::from_json(&dest);
            if let Value::Map(m) = &mut r {
                m.insert("gateway_id".into(), Value::Unknown);
            }
            Attrs::from([("route".to_owned(), Value::List(vec![r]))])
        };
        let e = RouteTable.validate_related(&unknown_target(serde_json::json!({})), &[]).unwrap_err();
        assert_eq!(e, "a route: neither is set; set exactly one of cidr_block and ipv6_cidr_block");
        assert!(RouteTable
            .validate_related(
                &unknown_target(serde_json::json!({"cidr_block": "0.0.0.0/0", "ipv6_cidr_block": "::/0"})),
                &[]
            )
            .is_err());
        assert!(RouteTable
            .validate_related(&unknown_target(serde_json::json!({"ipv6_cidr_block": "::/0"})), &[])
            .is_ok());
        let mut dest_unknown = unknown_target(serde_json::json!({"cidr_block": "0.0.0.0/0"}));
        if let Some(Value::List(l)) = dest_unknown.get_mut("route") {
            if let Value::Map(m) = &mut l[0] {
                m.insert("ipv6_cidr_block".into(), Value::Unknown);
            }
        }
        assert!(RouteTable.validate_related(&dest_unknown, &[]).is_ok(), "unknown: checked at apply");
    }

    #[test]
    fn ipv6_destinations_compare_in_canonical_spelling() {
        let mut a = SCHEMA.normalize(&Attrs::from([(
            "route".to_owned(),
            Value::from_json(&serde_json::json!([{"ipv6_cidr_block": "2600:1F18:0:0::/56", "gateway_id": "igw-1"}])),
        )]));
        RouteTable.normalize(&mut a);
        let want = route_value(
            &Dest::V6("2600:1f18::/56".into()),
            &Target { gateway_id: "igw-1".into(), nat_gateway_id: String::new() },
        );
        assert_eq!(a["route"], Value::List(vec![want]));
    }
}
