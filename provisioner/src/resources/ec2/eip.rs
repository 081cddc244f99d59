//! `eip`: an Elastic IP address (VPC domain).
//!
//! Create is one AllocateAddress call carrying all tags (resource type `elastic-ip`). The allocation id is
//! the resource id. Read is one DescribeAddresses per 200 ids (filter `allocation-id`; the API has no
//! pagination). `read_stack` is one DescribeAddresses filtered by the stack's tags, plus the by-id read for
//! the tracked ids it did not return (none in the common case). Delete releases the address, retrying while
//! it is still in use (e.g. by a NAT gateway that is being deleted).

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, Filter, ResourceType};

use super::util::*;
use crate::aws::{aws_err, retry_on, sync_ec2_tags, tag_spec, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::schema::{Attribute, Schema};
use crate::value::{Attrs, Value};

pub struct Eip;

/// The DescribeAddresses filter selecting by id.
const ID_FILTER: &str = "allocation-id";

pub(crate) const TAG_RESOURCE_TYPE: ResourceType = ResourceType::ElasticIp;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("eip", "An Elastic IP address.")
        .taggable()
        .attr(Attribute::string("domain").default("vpc").forces_new().one_of(&["vpc", "standard"]))
        .attr(Attribute::string("public_ip").computed().describe("The public IPv4 address."))
        .attr(Attribute::string("allocation_id").computed().describe("The allocation id (same as id)."))
        .attr(Attribute::string("association_id").computed().describe("Association with an instance or ENI, if any."))
        .attr(Attribute::string("network_border_group").computed().describe("Where the address is advertised."))
});

fn in_use(e: &ProviderError) -> bool {
    e.is_dependency_violation() || e.code.as_deref() == Some("InvalidIPAddress.InUse")
}

impl Eip {
    /// One DescribeAddresses (not paginated) with `filters`.
    async fn read_filtered(&self, cx: &Ctx, filters: Vec<Filter>) -> Result<HashMap<String, Attrs>, ProviderError> {
        let mut out = HashMap::new();
        let resp = cx.ec2().describe_addresses().set_filters(Some(filters)).send().await.map_err(aws_err)?;
        for addr in resp.addresses() {
            let Some(id) = addr.allocation_id() else { continue };
            let mut a = Attrs::new();
            a.insert("id".into(), Value::str(id));
            a.insert("allocation_id".into(), Value::str(id));
            a.insert("domain".into(), Value::str(addr.domain().map(DomainType::as_str).unwrap_or("vpc")));
            put_str(&mut a, "public_ip", addr.public_ip());
            // Moto reports an unassociated address with an empty association, AWS without one.
            put_opt(&mut a, "association_id", addr.association_id());
            put_opt(&mut a, "network_border_group", addr.network_border_group());
            put_tags(&mut a, addr.tags());
            out.insert(id.to_owned(), a);
        }
        Ok(out)
    }

    async fn read_ids(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        read_by_ids(ids, ID_FILTER, |f| self.read_filtered(cx, f)).await
    }

    async fn read_one(&self, cx: &Ctx, id: &str) -> Result<Attrs, ProviderError> {
        let ids = [id.to_owned()];
        read_back(cx, "elastic IP", id, || self.read_ids(cx, &ids)).await
    }
}

#[async_trait]
impl Resource for Eip {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_ids(cx, ids).await
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        let domain = DomainType::from(get_str(desired, "domain").unwrap_or("vpc"));
        let out = cx
            .ec2()
            .allocate_address()
            .domain(domain)
            .tag_specifications(tag_spec(TAG_RESOURCE_TYPE, desired))
            .send()
            .await
            .map_err(aws_err)?;
        let id = out.allocation_id().ok_or_else(|| ProviderError::new("AllocateAddress returned no allocation id"))?;
        checkpoint.created(&with_id(desired, id)).await;
        self.read_one(cx, id).await
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let id = get_id(prior)?;
        sync_ec2_tags(cx, id, prior, desired).await?;
        self.read_one(cx, id).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let id = get_id(prior)?;
        let r = retry_on(cx, "ReleaseAddress", in_use, || async {
            cx.ec2().release_address().allocation_id(id).send().await.map_err(aws_err)
        })
        .await;
        gone_ok(r).map(|_| ())
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        read_stack_via(cx, ids, ID_FILTER, |f| self.read_filtered(cx, f)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_with_the_elastic_ip_resource_type() {
        assert_eq!(TAG_RESOURCE_TYPE.as_str(), "elastic-ip");
    }

    #[test]
    fn in_use_is_retried() {
        assert!(in_use(&ProviderError::with_code("InvalidIPAddress.InUse", "x")));
        assert!(!in_use(&ProviderError::with_code("AuthFailure", "x")));
    }
}
