//! `route_table_association`: associates a subnet with a route table.
//!
//! The association id is the resource id. Changing `route_table_id` calls ReplaceRouteTableAssociation,
//! which returns a *new* association id: `update` returns it as the new `id`. Read is one
//! DescribeRouteTables per 200 ids (filter `association.route-table-association-id`). Not taggable.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_ec2::types::RouteTableAssociationStateCode;

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

impl RouteTableAssociation {
    async fn read_ids(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let mut out = HashMap::new();
        for chunk in id_chunks(ids) {
            let wanted: HashSet<&str> = chunk.iter().map(String::as_str).collect();
            let mut pages = cx
                .ec2()
                .describe_route_tables()
                .filters(filter("association.route-table-association-id", &chunk))
                .into_paginator()
                .items()
                .send();
            while let Some(rt) = pages.next().await {
                let rt = rt.map_err(aws_err)?;
                for assoc in rt.associations() {
                    let Some(id) = assoc.route_table_association_id() else { continue };
                    if !wanted.contains(id) {
                        continue;
                    }
                    let state = assoc.association_state().and_then(|s| s.state());
                    if matches!(
                        state,
                        Some(RouteTableAssociationStateCode::Disassociated | RouteTableAssociationStateCode::Failed)
                    ) {
                        continue;
                    }
                    let mut a = Attrs::new();
                    a.insert("id".into(), Value::str(id));
                    put_str(&mut a, "subnet_id", assoc.subnet_id());
                    put_str(&mut a, "route_table_id", assoc.route_table_id().or(rt.route_table_id()));
                    out.insert(id.to_owned(), a);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_taggable_and_route_table_updatable() {
        assert!(!SCHEMA.taggable);
        assert!(!SCHEMA.attribute("route_table_id").unwrap().forces_replacement);
        assert!(SCHEMA.attribute("subnet_id").unwrap().forces_replacement);
    }
}
