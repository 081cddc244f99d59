//! `vpc`: a VPC with its DNS attributes and, optionally, an Amazon-provided IPv6 /56 block.
//!
//! Create is one CreateVpc call carrying all tags (and AmazonProvidedIpv6CidrBlock when
//! `assign_generated_ipv6_cidr_block`), then (after the checkpoint) a bounded wait for the IPv6 block to be
//! `associated` and one ModifyVpcAttribute per DNS attribute that differs from AWS's default (support on,
//! hostnames off). Update turns the IPv6 block on or off as Terraform does: AssociateVpcCidrBlock
//! (AmazonProvidedIpv6CidrBlock) or DisassociateVpcCidrBlock of `ipv6_association_id`, each waited for.
//! The IPv6 attributes come from DescribeVpcs' association set (the association `associated` or
//! `associating`; `assign_generated_ipv6_cidr_block` is whether its pool is `Amazon`), so cost no call;
//! without the block they are "", known as such at plan (`plan_computed`). Read is batched: one
//! DescribeVpcs per 200 ids (filter `vpc-id`, paginated), then, all at the same time, one
//! DescribeRouteTables (main tables) and one DescribeSecurityGroups (default groups) per 200 found VPCs and
//! the two DescribeVpcAttribute calls per VPC the API requires (both at once, at most 8 VPCs in flight). So
//! up to 8 VPCs, a read is two sequential round trips (plus DescribeVpcs pages).
//!
//! `read_stack` is one DescribeVpcs filtered by the stack's tags, plus the by-id read for the tracked ids it
//! did not return (none in the common case). The follow-up calls run only for the VPCs that are tracked
//! (in `ids`) or in the workspace; the stack's VPCs of other workspaces (which the tag filter returns in
//! `default`) get only `id`, `tags` and what DescribeVpcs reports (`cidr_block`, `owner_id`,
//! `dhcp_options_id`, `arn`, the IPv6 attributes).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType, VpcAttributeName, VpcCidrBlockStateCode};
use futures::{StreamExt, TryStreamExt};

use super::util::*;
use crate::aws::{aws_err, retry_on, sync_ec2_tags, tag_map, tag_spec, wait_for, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::schema::{Attribute, Schema};
use crate::value::{Attrs, Value};

pub struct Vpc;

/// The DescribeVpcs filter selecting by id.
const ID_FILTER: &str = "vpc-id";

pub(crate) const TAG_RESOURCE_TYPE: ResourceType = ResourceType::Vpc;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("vpc", "A virtual private cloud.")
        .taggable()
        .attr(Attribute::string("cidr_block").required().forces_new().cidr().describe("IPv4 CIDR block of the VPC."))
        .attr(
            Attribute::bool("enable_dns_support")
                .default(true)
                .describe("Whether the Amazon DNS server resolves in the VPC."),
        )
        .attr(
            Attribute::bool("enable_dns_hostnames")
                .default(false)
                .describe("Whether instances get public DNS hostnames."),
        )
        .attr(
            Attribute::bool("assign_generated_ipv6_cidr_block")
                .default(false)
                .describe("Request an Amazon-provided /56 IPv6 CIDR block."),
        )
        .attr(Attribute::string("ipv6_cidr_block").computed().describe("The VPC's IPv6 CIDR block (a /56)."))
        .attr(Attribute::string("ipv6_association_id").computed().describe("Association id of the IPv6 CIDR block."))
        .attr(Attribute::string("arn").computed().describe("ARN of the VPC."))
        .attr(Attribute::string("owner_id").computed().describe("Account owning the VPC."))
        .attr(
            Attribute::string("default_route_table_id")
                .computed()
                .describe("The main route table (same as main_route_table_id)."),
        )
        .attr(Attribute::string("main_route_table_id").computed().describe("The main route table."))
        .attr(Attribute::string("default_security_group_id").computed().describe("The VPC's `default` security group."))
        .attr(Attribute::string("dhcp_options_id").computed().describe("The DHCP options set."))
});

async fn dns_attr(cx: &Ctx, id: &str, attr: VpcAttributeName) -> Result<Option<bool>, ProviderError> {
    let out = cx.ec2().describe_vpc_attribute().vpc_id(id).attribute(attr.clone()).send().await.map_err(aws_err)?;
    Ok(match attr {
        VpcAttributeName::EnableDnsHostnames => out.enable_dns_hostnames().and_then(|v| v.value()),
        _ => out.enable_dns_support().and_then(|v| v.value()),
    })
}

async fn modify_dns(cx: &Ctx, id: &str, support: Option<bool>, hostnames: Option<bool>) -> Result<(), ProviderError> {
    retry_on(cx, "ModifyVpcAttribute", ProviderError::is_not_found, || async {
        let mut req = cx.ec2().modify_vpc_attribute().vpc_id(id);
        if let Some(b) = support {
            req = req.enable_dns_support(bool_attr(b));
        }
        if let Some(b) = hostnames {
            req = req.enable_dns_hostnames(bool_attr(b));
        }
        req.send().await.map_err(aws_err)
    })
    .await
    .map(|_| ())
}

/// Applies the DNS attributes one per call (the API accepts only one), in an order AWS accepts: hostnames
/// require support, so support is enabled first and disabled last.
async fn apply_dns(cx: &Ctx, id: &str, support: Option<bool>, hostnames: Option<bool>) -> Result<(), ProviderError> {
    if support == Some(true) {
        modify_dns(cx, id, support, None).await?;
    }
    if hostnames.is_some() {
        modify_dns(cx, id, None, hostnames).await?;
    }
    if support == Some(false) {
        modify_dns(cx, id, support, None).await?;
    }
    Ok(())
}

/// The VPC's IPv6 association in use — `associated` or `associating` — as (block, association id, pool).
fn ipv6_association(vpc: &aws_sdk_ec2::types::Vpc) -> Option<(String, String, String)> {
    vpc.ipv6_cidr_block_association_set().iter().find_map(|a| {
        let state = a.ipv6_cidr_block_state().and_then(|s| s.state());
        matches!(state, Some(VpcCidrBlockStateCode::Associated | VpcCidrBlockStateCode::Associating)).then(|| {
            let s = |v: Option<&str>| v.unwrap_or_default().to_owned();
            (s(a.ipv6_cidr_block()), s(a.association_id()), s(a.ipv6_pool()))
        })
    })
}

/// The VPC's IPv6 associations as DescribeVpcs reports them; none while the VPC is not found (just created,
/// or gone).
async fn ipv6_associations(
    cx: &Ctx,
    id: &str,
) -> Result<Vec<aws_sdk_ec2::types::VpcIpv6CidrBlockAssociation>, ProviderError> {
    let out = gone_ok(cx.ec2().describe_vpcs().vpc_ids(id).send().await.map_err(aws_err))?;
    Ok(out.iter().flat_map(|o| o.vpcs()).flat_map(|v| v.ipv6_cidr_block_association_set()).cloned().collect())
}

/// Waits (bounded) until the VPC's IPv6 association `association_id` is in a state `done` accepts (a VPC
/// no longer listing it counts as `None`); `failed` is an error.
async fn wait_ipv6(
    cx: &Ctx,
    id: &str,
    association_id: &str,
    what: &str,
    done: impl Fn(Option<&VpcCidrBlockStateCode>) -> bool,
) -> Result<(), ProviderError> {
    wait_for(cx, &format!("IPv6 CIDR block {association_id} of VPC {id} to be {what}"), || async {
        let all = ipv6_associations(cx, id).await?;
        let found = all.iter().find(|a| a.association_id() == Some(association_id));
        let state = found.and_then(|a| a.ipv6_cidr_block_state());
        if matches!(state.and_then(|s| s.state()), Some(VpcCidrBlockStateCode::Failed | VpcCidrBlockStateCode::Failing))
        {
            return Err(ProviderError::with_code(
                "Ipv6CidrBlockAssociationFailed",
                format!(
                    "IPv6 CIDR block {association_id} of VPC {id} failed: {}",
                    state.and_then(|s| s.status_message()).unwrap_or("no reason from AWS")
                ),
            ));
        }
        Ok(done(state.and_then(|s| s.state())).then_some(()))
    })
    .await
}

async fn wait_ipv6_associated(cx: &Ctx, id: &str, association_id: &str) -> Result<(), ProviderError> {
    wait_ipv6(cx, id, association_id, "associated", |s| s == Some(&VpcCidrBlockStateCode::Associated)).await
}

/// Main route table by VPC, for `vpcs`: one DescribeRouteTables (paginated) per 200 VPCs.
async fn main_route_tables(cx: &Ctx, vpcs: &[String]) -> Result<HashMap<String, String>, ProviderError> {
    let mut out = HashMap::new();
    for chunk in id_chunks(vpcs) {
        let mut rts = cx
            .ec2()
            .describe_route_tables()
            .filters(filter("vpc-id", &chunk))
            .filters(filter1("association.main", "true"))
            .into_paginator()
            .items()
            .send();
        while let Some(rt) = rts.next().await {
            let rt = rt.map_err(aws_err)?;
            // The filter selects tables having *a* main association; check it is this one's.
            if !rt.associations().iter().any(|a| a.main() == Some(true)) {
                continue;
            }
            if let (Some(vpc), Some(rt_id)) = (rt.vpc_id(), rt.route_table_id()) {
                out.insert(vpc.to_owned(), rt_id.to_owned());
            }
        }
    }
    Ok(out)
}

/// The `default` security group by VPC, for `vpcs`: one DescribeSecurityGroups (paginated) per 200 VPCs.
async fn default_security_groups(cx: &Ctx, vpcs: &[String]) -> Result<HashMap<String, String>, ProviderError> {
    let mut out = HashMap::new();
    for chunk in id_chunks(vpcs) {
        let mut sgs = cx
            .ec2()
            .describe_security_groups()
            .filters(filter("vpc-id", &chunk))
            .filters(filter1("group-name", "default"))
            .into_paginator()
            .items()
            .send();
        while let Some(sg) = sgs.next().await {
            let sg = sg.map_err(aws_err)?;
            if let (Some(vpc), Some(sg_id)) = (sg.vpc_id(), sg.group_id()) {
                out.insert(vpc.to_owned(), sg_id.to_owned());
            }
        }
    }
    Ok(out)
}

/// DNS attributes of one VPC, `None` when it is gone.
struct Dns {
    support: Option<Option<bool>>,
    hostnames: Option<Option<bool>>,
}

/// The DNS attributes of `vpcs`, only available one attribute per call: the two DescribeVpcAttribute calls
/// of a VPC run together, at most 8 VPCs (16 requests) in flight, to stay clear of request throttling on
/// large stacks.
async fn dns_attrs(cx: &Ctx, vpcs: &[String]) -> Result<Vec<(String, Dns)>, ProviderError> {
    // Owned ids: a closure over borrowed ones makes the stream's future not provably `Send`.
    let futs = vpcs.iter().cloned().map(|id: String| async move {
        let (support, hostnames) = futures::join!(
            dns_attr(cx, &id, VpcAttributeName::EnableDnsSupport),
            dns_attr(cx, &id, VpcAttributeName::EnableDnsHostnames),
        );
        Ok::<_, ProviderError>((id, Dns { support: gone_ok(support)?, hostnames: gone_ok(hostnames)? }))
    });
    futures::stream::iter(futs).buffer_unordered(8).try_collect().await
}

impl Vpc {
    async fn read_one(&self, cx: &Ctx, id: &str) -> Result<Attrs, ProviderError> {
        let ids = [id.to_owned()];
        read_back(cx, "VPC", id, || self.read_ids(cx, &ids)).await
    }

    async fn read_ids(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        read_by_ids(ids, ID_FILTER, |f| self.read_filtered(cx, f, ids)).await
    }

    /// One DescribeVpcs (paginated) with `filters`; then, for the VPCs found that are in `ids` or in the
    /// workspace ([`Ctx::in_workspace`]), the follow-up calls, all at once. Other VPCs (another workspace's,
    /// seen through the stack tag filter in `default`) get only what DescribeVpcs returned.
    async fn read_filtered(
        &self,
        cx: &Ctx,
        filters: Vec<Filter>,
        ids: &[String],
    ) -> Result<HashMap<String, Attrs>, ProviderError> {
        let requested: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut out: HashMap<String, Attrs> = HashMap::new();
        let mut full: Vec<String> = Vec::new();
        let mut pages = cx.ec2().describe_vpcs().set_filters(Some(filters)).into_paginator().items().send();
        while let Some(vpc) = pages.next().await {
            let vpc = vpc.map_err(aws_err)?;
            let Some(id) = vpc.vpc_id() else { continue };
            let owner = vpc.owner_id().unwrap_or_default();
            let mut a = Attrs::new();
            a.insert("id".into(), Value::str(id));
            put_str(&mut a, "cidr_block", vpc.cidr_block());
            put_str(&mut a, "owner_id", vpc.owner_id());
            put_str(&mut a, "dhcp_options_id", vpc.dhcp_options_id());
            let ipv6 = ipv6_association(&vpc);
            a.insert(
                "assign_generated_ipv6_cidr_block".into(),
                Value::Bool(ipv6.as_ref().is_some_and(|i| i.2 == "Amazon")),
            );
            let (block, assoc, _) = ipv6.unwrap_or_default();
            a.insert("ipv6_cidr_block".into(), Value::str(block));
            a.insert("ipv6_association_id".into(), Value::str(assoc));
            a.insert("arn".into(), Value::str(ec2_arn(cx, owner, "vpc", id)));
            put_tags(&mut a, vpc.tags());
            if requested.contains(id) || cx.in_workspace(&tag_map(&a)) {
                full.push(id.to_owned());
            }
            out.insert(id.to_owned(), a);
        }
        if full.is_empty() {
            return Ok(out);
        }
        let (main_rts, default_sgs, dns) = futures::try_join!(
            main_route_tables(cx, &full),
            default_security_groups(cx, &full),
            dns_attrs(cx, &full),
        )?;
        for (vpc, rt_id) in main_rts {
            if let Some(a) = out.get_mut(&vpc) {
                a.insert("main_route_table_id".into(), Value::str(&rt_id));
                a.insert("default_route_table_id".into(), Value::str(rt_id));
            }
        }
        for (vpc, sg_id) in default_sgs {
            if let Some(a) = out.get_mut(&vpc) {
                a.insert("default_security_group_id".into(), Value::str(sg_id));
            }
        }
        for (id, dns) in dns {
            match (dns.support, dns.hostnames) {
                (Some(s), Some(h)) => {
                    if let Some(a) = out.get_mut(&id) {
                        a.insert("enable_dns_support".into(), Value::Bool(s.unwrap_or(true)));
                        a.insert("enable_dns_hostnames".into(), Value::Bool(h.unwrap_or(false)));
                    }
                }
                // Deleted between the calls.
                _ => {
                    out.remove(&id);
                }
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl Resource for Vpc {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    /// Without `assign_generated_ipv6_cidr_block` there is no IPv6 block: known to be "" at plan, as create
    /// will report.
    fn plan_computed(&self, cfg: &Attrs, planned: &mut Attrs) {
        if matches!(cfg.get("assign_generated_ipv6_cidr_block"), None | Some(Value::Null | Value::Bool(false))) {
            planned.insert("ipv6_cidr_block".into(), Value::str(""));
            planned.insert("ipv6_association_id".into(), Value::str(""));
        }
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_ids(cx, ids).await
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        let ipv6 = get_bool(desired, "assign_generated_ipv6_cidr_block", false);
        let out = cx
            .ec2()
            .create_vpc()
            .cidr_block(req_str(desired, "cidr_block")?)
            .set_amazon_provided_ipv6_cidr_block(ipv6.then_some(true))
            .tag_specifications(tag_spec(TAG_RESOURCE_TYPE, desired))
            .send()
            .await
            .map_err(aws_err)?;
        let id = out.vpc().and_then(|v| v.vpc_id()).ok_or_else(|| ProviderError::new("CreateVpc returned no id"))?;
        checkpoint.created(&with_id(desired, id)).await;
        if ipv6 {
            let given =
                out.vpc().and_then(|v| v.ipv6_cidr_block_association_set().first()).and_then(|a| a.association_id());
            // Should CreateVpc not report the association, the VPC's first one is it.
            let assoc = match given {
                Some(a) => a.to_owned(),
                None => {
                    wait_for(cx, &format!("the IPv6 CIDR block of VPC {id} to be requested"), || async {
                        Ok(ipv6_associations(cx, id).await?.first().and_then(|a| a.association_id()).map(str::to_owned))
                    })
                    .await?
                }
            };
            wait_ipv6_associated(cx, id, &assoc).await?;
        }

        let support = get_bool(desired, "enable_dns_support", true);
        let hostnames = get_bool(desired, "enable_dns_hostnames", false);
        apply_dns(cx, id, (!support).then_some(false), hostnames.then_some(true)).await?;
        self.read_one(cx, id).await
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let id = get_id(prior)?;
        let changed = |name: &str, default: bool| {
            let new = get_bool(desired, name, default);
            (get_bool(prior, name, default) != new).then_some(new)
        };
        match changed("assign_generated_ipv6_cidr_block", false) {
            Some(true) => {
                let out = retry_on(cx, "AssociateVpcCidrBlock", ProviderError::is_not_found, || async {
                    cx.ec2()
                        .associate_vpc_cidr_block()
                        .vpc_id(id)
                        .amazon_provided_ipv6_cidr_block(true)
                        .send()
                        .await
                        .map_err(aws_err)
                })
                .await?;
                let assoc = out
                    .ipv6_cidr_block_association()
                    .and_then(|a| a.association_id())
                    .ok_or_else(|| ProviderError::new("AssociateVpcCidrBlock returned no association"))?;
                wait_ipv6_associated(cx, id, assoc).await?;
            }
            Some(false) => {
                let assoc = get_str(prior, "ipv6_association_id").unwrap_or_default();
                if !assoc.is_empty() {
                    let r = cx.ec2().disassociate_vpc_cidr_block().association_id(assoc).send().await;
                    gone_ok(r.map_err(aws_err))?;
                    wait_ipv6(cx, id, assoc, "disassociated", |s| {
                        matches!(s, None | Some(VpcCidrBlockStateCode::Disassociated))
                    })
                    .await?;
                }
            }
            None => {}
        }
        apply_dns(cx, id, changed("enable_dns_support", true), changed("enable_dns_hostnames", false)).await?;
        sync_ec2_tags(cx, id, prior, desired).await?;
        self.read_one(cx, id).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let id = get_id(prior)?;
        delete_retrying(cx, "DeleteVpc", || async { cx.ec2().delete_vpc().vpc_id(id).send().await.map_err(aws_err) })
            .await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        read_stack_via(cx, ids, ID_FILTER, |f| self.read_filtered(cx, f, ids)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_with_the_vpc_resource_type() {
        assert_eq!(TAG_RESOURCE_TYPE.as_str(), "vpc");
    }

    #[test]
    fn schema_defaults() {
        let n = SCHEMA.normalize(&Attrs::from([("cidr_block".to_owned(), Value::str("10.0.0.0/16"))]));
        assert_eq!(n["enable_dns_support"], Value::Bool(true));
        assert_eq!(n["enable_dns_hostnames"], Value::Bool(false));
        assert_eq!(n["assign_generated_ipv6_cidr_block"], Value::Bool(false));
        assert!(!SCHEMA.attribute("assign_generated_ipv6_cidr_block").unwrap().forces_replacement);
        let unknown = || Attrs::from([("ipv6_cidr_block".to_owned(), Value::Unknown)]);
        let mut planned = unknown();
        Vpc.plan_computed(&Attrs::new(), &mut planned);
        assert_eq!(planned["ipv6_cidr_block"], Value::str(""));
        let mut planned = unknown();
        Vpc.plan_computed(
            &Attrs::from([("assign_generated_ipv6_cidr_block".to_owned(), Value::Bool(true))]),
            &mut planned,
        );
        assert_eq!(planned["ipv6_cidr_block"], Value::Unknown);
        assert!(SCHEMA.attribute("cidr_block").unwrap().forces_replacement);
    }
}
