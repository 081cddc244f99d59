//! `subnet`: a subnet of a VPC in one availability zone.
//!
//! Create is one CreateSubnet call carrying all tags, then (after the checkpoint) ModifySubnetAttribute
//! when public IPs are mapped on launch. Read is one DescribeSubnets per 200 ids (filter `subnet-id`,
//! paginated). `read_stack` is one DescribeSubnets filtered by the stack's tags, plus the by-id read for the
//! tracked ids it did not return (none in the common case).

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType};

use super::util::*;
use crate::aws::{aws_err, retry_on, sync_ec2_tags, tag_spec, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::schema::{Attribute, Schema};
use crate::value::{Attrs, Value};

pub struct Subnet;

/// The DescribeSubnets filter selecting by id.
const ID_FILTER: &str = "subnet-id";

pub(crate) const TAG_RESOURCE_TYPE: ResourceType = ResourceType::Subnet;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("subnet", "A subnet of a VPC.")
        .taggable()
        .attr(Attribute::string("vpc_id").required().forces_new().describe("The VPC the subnet belongs to."))
        .attr(Attribute::string("cidr_block").required().forces_new().cidr().describe("IPv4 CIDR block of the subnet."))
        .attr(
            Attribute::string("availability_zone")
                .optional_computed()
                .forces_new()
                .describe("Availability zone; AWS picks one when unset."),
        )
        .attr(
            Attribute::bool("map_public_ip_on_launch")
                .default(false)
                .describe("Whether instances launched here get a public IPv4 address."),
        )
        .attr(Attribute::string("arn").computed().describe("ARN of the subnet."))
        .attr(
            Attribute::string("availability_zone_id")
                .computed()
                .describe("Id of the availability zone (e.g. use1-az1)."),
        )
        .attr(Attribute::string("owner_id").computed().describe("Account owning the subnet."))
});

async fn set_map_public_ip(cx: &Ctx, id: &str, on: bool) -> Result<(), ProviderError> {
    retry_on(cx, "ModifySubnetAttribute", ProviderError::is_not_found, || async {
        cx.ec2()
            .modify_subnet_attribute()
            .subnet_id(id)
            .map_public_ip_on_launch(bool_attr(on))
            .send()
            .await
            .map_err(aws_err)
    })
    .await
    .map(|_| ())
}

impl Subnet {
    /// One DescribeSubnets (paginated) with `filters`.
    async fn read_filtered(&self, cx: &Ctx, filters: Vec<Filter>) -> Result<HashMap<String, Attrs>, ProviderError> {
        let mut out = HashMap::new();
        let mut pages = cx.ec2().describe_subnets().set_filters(Some(filters)).into_paginator().items().send();
        while let Some(s) = pages.next().await {
            let s = s.map_err(aws_err)?;
            let Some(id) = s.subnet_id() else { continue };
            let mut a = Attrs::new();
            a.insert("id".into(), Value::str(id));
            put_str(&mut a, "vpc_id", s.vpc_id());
            put_str(&mut a, "cidr_block", s.cidr_block());
            put_str(&mut a, "availability_zone", s.availability_zone());
            put_str(&mut a, "availability_zone_id", s.availability_zone_id());
            put_str(&mut a, "owner_id", s.owner_id());
            a.insert("map_public_ip_on_launch".into(), Value::Bool(s.map_public_ip_on_launch().unwrap_or(false)));
            let arn = match s.subnet_arn() {
                Some(arn) if !arn.is_empty() => arn.to_owned(),
                _ => ec2_arn(cx, s.owner_id().unwrap_or_default(), "subnet", id),
            };
            a.insert("arn".into(), Value::str(arn));
            put_tags(&mut a, s.tags());
            out.insert(id.to_owned(), a);
        }
        Ok(out)
    }

    async fn read_ids(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        read_by_ids(ids, ID_FILTER, |f| self.read_filtered(cx, f)).await
    }

    async fn read_one(&self, cx: &Ctx, id: &str) -> Result<Attrs, ProviderError> {
        let ids = [id.to_owned()];
        read_back(cx, "subnet", id, || self.read_ids(cx, &ids)).await
    }
}

#[async_trait]
impl Resource for Subnet {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_ids(cx, ids).await
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        let vpc_id = req_str(desired, "vpc_id")?;
        let cidr = req_str(desired, "cidr_block")?;
        // The VPC may have been created moments ago: retry its NotFound.
        let out = retry_on(cx, "CreateSubnet", ProviderError::is_not_found, || async {
            cx.ec2()
                .create_subnet()
                .vpc_id(vpc_id)
                .cidr_block(cidr)
                .set_availability_zone(get_str(desired, "availability_zone").map(str::to_owned))
                .tag_specifications(tag_spec(TAG_RESOURCE_TYPE, desired))
                .send()
                .await
                .map_err(aws_err)
        })
        .await?;
        let id = out
            .subnet()
            .and_then(|s| s.subnet_id())
            .ok_or_else(|| ProviderError::new("CreateSubnet returned no id"))?;
        checkpoint.created(&with_id(desired, id)).await;
        if get_bool(desired, "map_public_ip_on_launch", false) {
            set_map_public_ip(cx, id, true).await?;
        }
        self.read_one(cx, id).await
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let id = get_id(prior)?;
        let map = get_bool(desired, "map_public_ip_on_launch", false);
        if get_bool(prior, "map_public_ip_on_launch", false) != map {
            set_map_public_ip(cx, id, map).await?;
        }
        sync_ec2_tags(cx, id, prior, desired).await?;
        self.read_one(cx, id).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let id = get_id(prior)?;
        // ENIs of a just-deleted NAT gateway or Lambda linger for a while: DependencyViolation is retried.
        delete_retrying(cx, "DeleteSubnet", || async {
            cx.ec2().delete_subnet().subnet_id(id).send().await.map_err(aws_err)
        })
        .await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        read_stack_via(cx, ids, ID_FILTER, |f| self.read_filtered(cx, f)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_with_the_subnet_resource_type() {
        assert_eq!(TAG_RESOURCE_TYPE.as_str(), "subnet");
    }

    #[test]
    fn forcing_attributes() {
        for a in ["vpc_id", "cidr_block", "availability_zone"] {
            assert!(SCHEMA.attribute(a).unwrap().forces_replacement, "{a}");
        }
        assert!(!SCHEMA.attribute("map_public_ip_on_launch").unwrap().forces_replacement);
    }
}
