//! `route_table_association`: associates a subnet with a route table.
//!
//! The association id is the resource id. Changing `route_table_id` calls ReplaceRouteTableAssociation,
//! which returns a *new* association id: `update` returns it as the new `id`. Read is one
//! DescribeRouteTables per 200 ids (filter `association.route-table-association-id`, paginated);
//! disassociated and failed associations are absent. Not taggable: `read_stack` takes the associations
//! of the stack's route tables from the read `route_table` makes anyway (shared within a refresh), and
//! reads the tracked ids not found there by id (associations with tables outside the stack); and
//! `find_existing` finds the live association of each desired (subnet, route table) pair with one
//! DescribeRouteTables per 200 desired subnets (filter `association.subnet-id`, paginated).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Filter, RouteTable as AwsRouteTable, RouteTableAssociation as AwsAssociation, RouteTableAssociationStateCode,
};

use super::util::*;
use crate::aws::{aws_err, retry_on, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::schema::{Attribute, Schema};
use crate::value::{Attrs, Value};

pub struct RouteTableAssociation;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("route_table_association", "Associates a subnet with a route table.")
        .attr(Attribute::string("subnet_id").required().forces_new().describe("The subnet."))
        .attr(Attribute::string("route_table_id").required().describe("The route table; changed in place."))
});

/// The attributes `read` reports for `assoc` of table `rt`, `None` when it is disassociated or failed (or
/// has no id).
fn live_attrs(rt: &AwsRouteTable, assoc: &AwsAssociation) -> Option<Attrs> {
    let id = assoc.route_table_association_id()?;
    let state = assoc.association_state().and_then(|s| s.state());
    if matches!(state, Some(RouteTableAssociationStateCode::Disassociated | RouteTableAssociationStateCode::Failed)) {
        return None;
    }
    let mut a = Attrs::new();
    a.insert("id".into(), Value::str(id));
    put_str(&mut a, "subnet_id", assoc.subnet_id());
    put_str(&mut a, "route_table_id", assoc.route_table_id().or(rt.route_table_id()));
    Some(a)
}

/// The natural key of an association: (subnet, route table), both known non-empty strings.
fn natural_key(attrs: &Attrs) -> Option<(&str, &str)> {
    Some((get_str(attrs, "subnet_id")?, get_str(attrs, "route_table_id")?))
}

/// For each desired key, the found association (as `live_attrs` reports it) with that subnet and route
/// table, if any.
fn match_existing(keys: &[Option<(&str, &str)>], found: &[Attrs]) -> Vec<Option<Attrs>> {
    keys.iter()
        .map(|key| {
            let (subnet, rt) = (*key)?;
            found
                .iter()
                .find(|a| get_str(a, "subnet_id") == Some(subnet) && get_str(a, "route_table_id") == Some(rt))
                .cloned()
        })
        .collect()
}

impl RouteTableAssociation {
    /// The live associations among the route tables one DescribeRouteTables (paginated) with `filters`
    /// returns, as `read` reports them.
    async fn live_associations(&self, cx: &Ctx, filters: Vec<Filter>) -> Result<Vec<Attrs>, ProviderError> {
        let mut out = Vec::new();
        let mut pages = cx.ec2().describe_route_tables().set_filters(Some(filters)).into_paginator().items().send();
        while let Some(rt) = pages.next().await {
            let rt = rt.map_err(aws_err)?;
            out.extend(rt.associations().iter().filter_map(|assoc| live_attrs(&rt, assoc)));
        }
        Ok(out)
    }

    async fn read_ids(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let mut out = HashMap::new();
        for chunk in id_chunks(ids) {
            let wanted: HashSet<&str> = chunk.iter().map(String::as_str).collect();
            // The filter returns whole route tables: other associations of the same tables are dropped.
            let filters = vec![filter("association.route-table-association-id", &chunk)];
            for a in self.live_associations(cx, filters).await? {
                let id = get_str(&a, "id").unwrap_or_default().to_owned();
                if wanted.contains(id.as_str()) {
                    out.insert(id, a);
                }
            }
        }
        Ok(out)
    }

    async fn read_one(&self, cx: &Ctx, id: &str) -> Result<Attrs, ProviderError> {
        let ids = [id.to_owned()];
        read_back(cx, "route table association", id, || self.read_ids(cx, &ids)).await
    }
}

#[async_trait]
impl Resource for RouteTableAssociation {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_ids(cx, ids).await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let tables = super::route_table::stack_route_tables(cx).await?;
        let mut out: HashMap<String, Attrs> = tables
            .iter()
            .flat_map(|rt| rt.associations().iter().filter_map(move |a| live_attrs(rt, a)))
            .filter_map(|a| {
                let id = a.get("id").and_then(Value::as_str).filter(|id| wanted.contains(id))?.to_owned();
                Some((id, a))
            })
            .collect();
        out.extend(self.read_ids(cx, &missing_ids(ids, &out)).await?);
        Ok(out)
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        let subnet = req_str(desired, "subnet_id")?;
        let rt = req_str(desired, "route_table_id")?;
        let out = retry_on(cx, "AssociateRouteTable", ProviderError::is_not_found, || async {
            cx.ec2().associate_route_table().subnet_id(subnet).route_table_id(rt).send().await.map_err(aws_err)
        })
        .await?;
        let id = out.association_id().ok_or_else(|| ProviderError::new("AssociateRouteTable returned no id"))?;
        checkpoint.created(&with_id(desired, id)).await;
        self.read_one(cx, id).await
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let id = get_id(prior)?;
        let rt = req_str(desired, "route_table_id")?;
        if get_str(prior, "route_table_id") == Some(rt) {
            return self.read_one(cx, id).await;
        }
        let out = retry_on(cx, "ReplaceRouteTableAssociation", ProviderError::is_not_found, || async {
            cx.ec2()
                .replace_route_table_association()
                .association_id(id)
                .route_table_id(rt)
                .send()
                .await
                .map_err(aws_err)
        })
        .await?;
        let new_id = out
            .new_association_id()
            .ok_or_else(|| ProviderError::new("ReplaceRouteTableAssociation returned no id"))?;
        self.read_one(cx, new_id).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let id = get_id(prior)?;
        delete_retrying(cx, "DisassociateRouteTable", || async {
            cx.ec2().disassociate_route_table().association_id(id).send().await.map_err(aws_err)
        })
        .await
    }

    async fn find_existing(&self, cx: &Ctx, desired: &[Attrs]) -> Result<Vec<Option<Attrs>>, ProviderError> {
        let keys: Vec<Option<(&str, &str)>> = desired.iter().map(natural_key).collect();
        let subnets: Vec<String> = keys.iter().flatten().map(|(s, _)| (*s).to_owned()).collect();
        let mut found = Vec::new();
        for chunk in id_chunks(&subnets) {
            found.extend(self.live_associations(cx, vec![filter("association.subnet-id", &chunk)]).await?);
        }
        Ok(match_existing(&keys, &found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assoc(
        state: Option<RouteTableAssociationStateCode>,
        id: &str,
        subnet: &str,
        rt: Option<&str>,
    ) -> AwsAssociation {
        let mut b = AwsAssociation::builder().route_table_association_id(id).subnet_id(subnet).main(false);
        if let Some(rt) = rt {
            b = b.route_table_id(rt);
        }
        if let Some(s) = state {
            b = b.association_state(aws_sdk_ec2::types::RouteTableAssociationState::builder().state(s).build());
        }
        b.build()
    }

    fn attrs(id: &str, subnet: &str, rt: &str) -> Attrs {
        Attrs::from([
            ("id".to_owned(), Value::str(id)),
            ("subnet_id".to_owned(), Value::str(subnet)),
            ("route_table_id".to_owned(), Value::str(rt)),
        ])
    }

    #[test]
    fn live_attrs_skip_dead_associations_and_fall_back_to_the_table_id() {
        let rt = AwsRouteTable::builder().route_table_id("rtb-1").build();
        use RouteTableAssociationStateCode as S;
        assert_eq!(
            live_attrs(&rt, &assoc(Some(S::Associated), "rtbassoc-1", "subnet-1", None)),
            Some(attrs("rtbassoc-1", "subnet-1", "rtb-1"))
        );
        assert_eq!(
            live_attrs(&rt, &assoc(None, "rtbassoc-1", "subnet-1", Some("rtb-2"))),
            Some(attrs("rtbassoc-1", "subnet-1", "rtb-2"))
        );
        assert_eq!(live_attrs(&rt, &assoc(Some(S::Disassociated), "rtbassoc-1", "subnet-1", None)), None);
        assert_eq!(live_attrs(&rt, &assoc(Some(S::Failed), "rtbassoc-1", "subnet-1", None)), None);
    }

    #[test]
    fn existing_associations_match_on_subnet_and_route_table() {
        let found = [attrs("rtbassoc-1", "subnet-1", "rtb-1"), attrs("rtbassoc-2", "subnet-2", "rtb-9")];
        let desired = [
            attrs("", "subnet-1", "rtb-1"),
            // Same subnet associated with another table: not this association.
            attrs("", "subnet-2", "rtb-2"),
            attrs("", "subnet-3", "rtb-1"),
            Attrs::from([
                ("subnet_id".to_owned(), Value::str("subnet-1")),
                ("route_table_id".to_owned(), Value::Unknown),
            ]),
            Attrs::new(),
        ];
        let keys: Vec<_> = desired.iter().map(natural_key).collect();
        assert_eq!(keys[3], None);
        assert_eq!(keys[4], None);
        let m = match_existing(&keys, &found);
        assert_eq!(m, vec![Some(found[0].clone()), None, None, None, None]);
        assert!(match_existing(&[], &found).is_empty());
    }

    #[test]
    fn not_taggable_and_route_table_updatable() {
        assert!(!SCHEMA.taggable);
        assert!(!SCHEMA.attribute("route_table_id").unwrap().forces_replacement);
        assert!(SCHEMA.attribute("subnet_id").unwrap().forces_replacement);
    }
}
