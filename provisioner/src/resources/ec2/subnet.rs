//! `subnet`: a subnet of a VPC in one availability zone.
//!
//! Create is one CreateSubnet call carrying all tags (and the IPv6 block, when `ipv6_cidr_block` is set),
//! then (after the checkpoint) one ModifySubnetAttribute per attribute set on (public IPv4 addresses,
//! IPv6 addresses on creation). Update changes the IPv6 block as Terraform does: DisassociateSubnetCidrBlock
//! of the old association, AssociateSubnetCidrBlock of the new block, each waited for (bounded); turning
//! `assign_ipv6_address_on_creation` off comes before and on after, since AWS wants the block for it.
//! Read is one DescribeSubnets per 200 ids (filter `subnet-id`, paginated); the IPv6 block is the
//! association `associated` (or `associating`), in AWS's spelling, which `normalize` gives the configured
//! one; without a block, the association id is "", known as such at plan (`plan_computed`). `read_stack` is one DescribeSubnets filtered by the stack's tags, plus the by-id read for the
//! tracked ids it did not return (none in the common case).

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType, SubnetCidrBlockStateCode};

use super::util::*;
use crate::aws::{aws_err, retry_on, sync_ec2_tags, tag_spec, wait_for, Ctx, ProviderError};
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
        .attr(
            Attribute::string("ipv6_cidr_block")
                .optional()
                .cidr()
                .describe("IPv6 CIDR block (a /64 of the VPC's), e.g. `cidrsubnet(vpc.main.ipv6_cidr_block, 8, 1)`."),
        )
        .attr(
            Attribute::bool("assign_ipv6_address_on_creation")
                .default(false)
                .describe("Whether network interfaces created here get an IPv6 address (needs ipv6_cidr_block)."),
        )
        .attr(
            Attribute::string("ipv6_cidr_block_association_id")
                .computed()
                .describe("Association id of the IPv6 CIDR block."),
        )
        .attr(Attribute::string("arn").computed().describe("ARN of the subnet."))
        .attr(
            Attribute::string("availability_zone_id")
                .computed()
                .describe("Id of the availability zone (e.g. use1-az1)."),
        )
        .attr(Attribute::string("owner_id").computed().describe("Account owning the subnet."))
});

/// The boolean subnet attributes ModifySubnetAttribute sets (one per call, as the API requires).
#[derive(Clone, Copy)]
enum BoolAttr {
    MapPublicIp,
    AssignIpv6,
}

async fn set_attr(cx: &Ctx, id: &str, attr: BoolAttr, on: bool) -> Result<(), ProviderError> {
    retry_on(cx, "ModifySubnetAttribute", ProviderError::is_not_found, || async {
        let req = cx.ec2().modify_subnet_attribute().subnet_id(id);
        let req = match attr {
            BoolAttr::MapPublicIp => req.map_public_ip_on_launch(bool_attr(on)),
            BoolAttr::AssignIpv6 => req.assign_ipv6_address_on_creation(bool_attr(on)),
        };
        req.send().await.map_err(aws_err)
    })
    .await
    .map(|_| ())
}

/// The subnet's IPv6 association in use — `associated` or `associating` — as (block, association id).
fn ipv6_association(s: &aws_sdk_ec2::types::Subnet) -> Option<(String, String)> {
    s.ipv6_cidr_block_association_set().iter().find_map(|a| {
        let state = a.ipv6_cidr_block_state().and_then(|s| s.state());
        matches!(state, Some(SubnetCidrBlockStateCode::Associated | SubnetCidrBlockStateCode::Associating)).then(|| {
            (a.ipv6_cidr_block().unwrap_or_default().to_owned(), a.association_id().unwrap_or_default().to_owned())
        })
    })
}

/// Waits (bounded) until the subnet's association `association_id` is in a state `done` accepts; a
/// subnet no longer listing it counts as `None` (AWS drops disassociated blocks from the set).
async fn wait_association(
    cx: &Ctx,
    id: &str,
    association_id: &str,
    what: &str,
    done: impl Fn(Option<&SubnetCidrBlockStateCode>) -> bool,
) -> Result<(), ProviderError> {
    wait_for(cx, &format!("IPv6 CIDR block {association_id} of subnet {id} to be {what}"), || async {
        let out = cx.ec2().describe_subnets().subnet_ids(id).send().await.map_err(aws_err)?;
        let state = out
            .subnets()
            .iter()
            .flat_map(|s| s.ipv6_cidr_block_association_set())
            .find(|a| a.association_id() == Some(association_id))
            .and_then(|a| a.ipv6_cidr_block_state().and_then(|s| s.state()).cloned());
        if matches!(state, Some(SubnetCidrBlockStateCode::Failed | SubnetCidrBlockStateCode::Failing)) {
            return Err(ProviderError::with_code(
                "Ipv6CidrBlockAssociationFailed",
                format!("IPv6 CIDR block {association_id} of subnet {id} failed"),
            ));
        }
        Ok(done(state.as_ref()).then_some(()))
    })
    .await
}

/// Replaces the subnet's IPv6 block `prior_assoc` (empty: none) by `block` (`None`: none).
async fn change_ipv6_block(cx: &Ctx, id: &str, prior_assoc: &str, block: Option<&str>) -> Result<(), ProviderError> {
    if !prior_assoc.is_empty() {
        let r = cx.ec2().disassociate_subnet_cidr_block().association_id(prior_assoc).send().await;
        gone_ok(r.map_err(aws_err))?;
        wait_association(cx, id, prior_assoc, "disassociated", |s| {
            matches!(s, None | Some(SubnetCidrBlockStateCode::Disassociated))
        })
        .await?;
    }
    if let Some(block) = block {
        let out = retry_on(cx, "AssociateSubnetCidrBlock", ProviderError::is_not_found, || async {
            cx.ec2().associate_subnet_cidr_block().subnet_id(id).ipv6_cidr_block(block).send().await.map_err(aws_err)
        })
        .await?;
        let assoc = out
            .ipv6_cidr_block_association()
            .and_then(|a| a.association_id())
            .ok_or_else(|| ProviderError::new("AssociateSubnetCidrBlock returned no association"))?;
        wait_association(cx, id, assoc, "associated", |s| s == Some(&SubnetCidrBlockStateCode::Associated)).await?;
    }
    Ok(())
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
            a.insert(
                "assign_ipv6_address_on_creation".into(),
                Value::Bool(s.assign_ipv6_address_on_creation().unwrap_or(false)),
            );
            let (block, assoc) = ipv6_association(&s).unwrap_or_default();
            a.insert("ipv6_cidr_block".into(), Value::str(block));
            a.insert("ipv6_cidr_block_association_id".into(), Value::str(assoc));
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

    /// The IPv6 block in AWS's spelling; none (read as "") is left out, as a configuration without one is.
    fn normalize(&self, attrs: &mut Attrs) {
        match attrs.get_mut("ipv6_cidr_block") {
            Some(Value::String(c)) if c.is_empty() => {
                attrs.remove("ipv6_cidr_block");
            }
            Some(Value::String(c)) => *c = canonical_cidr(c),
            _ => {}
        }
    }

    /// Without an IPv6 block there is no association: known to be "" at plan, as create will report.
    fn plan_computed(&self, cfg: &Attrs, planned: &mut Attrs) {
        if cfg.get("ipv6_cidr_block").is_none_or(Value::is_null) {
            planned.insert("ipv6_cidr_block_association_id".into(), Value::str(""));
        }
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_ids(cx, ids).await
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        let vpc_id = req_str(desired, "vpc_id")?;
        let cidr = req_str(desired, "cidr_block")?;
        let ipv6 = get_str(desired, "ipv6_cidr_block").filter(|c| !c.is_empty()).map(str::to_owned);
        // The VPC may have been created moments ago: retry its NotFound.
        let out = retry_on(cx, "CreateSubnet", ProviderError::is_not_found, || async {
            cx.ec2()
                .create_subnet()
                .vpc_id(vpc_id)
                .cidr_block(cidr)
                .set_ipv6_cidr_block(ipv6.clone())
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
            set_attr(cx, id, BoolAttr::MapPublicIp, true).await?;
        }
        if get_bool(desired, "assign_ipv6_address_on_creation", false) {
            set_attr(cx, id, BoolAttr::AssignIpv6, true).await?;
        }
        self.read_one(cx, id).await
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let id = get_id(prior)?;
        let map = get_bool(desired, "map_public_ip_on_launch", false);
        if get_bool(prior, "map_public_ip_on_launch", false) != map {
            set_attr(cx, id, BoolAttr::MapPublicIp, map).await?;
        }
        let assign = get_bool(desired, "assign_ipv6_address_on_creation", false);
        let assign_changed = get_bool(prior, "assign_ipv6_address_on_creation", false) != assign;
        if assign_changed && !assign {
            set_attr(cx, id, BoolAttr::AssignIpv6, false).await?;
        }
        let block = get_str(desired, "ipv6_cidr_block").filter(|c| !c.is_empty());
        if block != get_str(prior, "ipv6_cidr_block").filter(|c| !c.is_empty()) {
            let prior_assoc = get_str(prior, "ipv6_cidr_block_association_id").unwrap_or_default();
            change_ipv6_block(cx, id, prior_assoc, block).await?;
        }
        if assign_changed && assign {
            set_attr(cx, id, BoolAttr::AssignIpv6, true).await?;
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
        for a in ["map_public_ip_on_launch", "ipv6_cidr_block", "assign_ipv6_address_on_creation"] {
            assert!(!SCHEMA.attribute(a).unwrap().forces_replacement, "{a}");
        }
        let mut a = Attrs::from([("ipv6_cidr_block".to_owned(), Value::str("2600:1F18:0:1::/64"))]);
        Subnet.normalize(&mut a);
        assert_eq!(a["ipv6_cidr_block"], Value::str("2600:1f18:0:1::/64"));
        let mut none = Attrs::from([("ipv6_cidr_block".to_owned(), Value::str(""))]);
        Subnet.normalize(&mut none);
        assert!(!none.contains_key("ipv6_cidr_block"));
        let mut planned = Attrs::from([("ipv6_cidr_block_association_id".to_owned(), Value::Unknown)]);
        Subnet.plan_computed(&Attrs::new(), &mut planned);
        assert_eq!(planned["ipv6_cidr_block_association_id"], Value::str(""));
        let mut planned = Attrs::from([("ipv6_cidr_block_association_id".to_owned(), Value::Unknown)]);
        Subnet.plan_computed(&Attrs::from([("ipv6_cidr_block".to_owned(), Value::Unknown)]), &mut planned);
        assert_eq!(planned["ipv6_cidr_block_association_id"], Value::Unknown);
    }
}
