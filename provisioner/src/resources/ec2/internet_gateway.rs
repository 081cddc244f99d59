//! `internet_gateway`: an internet gateway, optionally attached to a VPC.
//!
//! Create is one CreateInternetGateway call carrying all tags, then (after the checkpoint) the attachment.
//! Changing `vpc_id` detaches and re-attaches in place. Delete detaches first, retrying
//! `DependencyViolation` (public addresses still mapped in the VPC), then deletes. Read is one
//! DescribeInternetGateways per 200 ids (filter `internet-gateway-id`, paginated). `read_stack` is one
//! DescribeInternetGateways filtered by the stack's tags, plus the by-id read for the tracked ids it did not
//! return (none in the common case).

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttachmentStatus, Filter, ResourceType};

use super::util::*;
use crate::aws::{aws_err, retry_on, sync_ec2_tags, tag_spec, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::schema::{Attribute, Schema};
use crate::value::{Attrs, Value};

pub struct InternetGateway;

/// The DescribeInternetGateways filter selecting by id.
const ID_FILTER: &str = "internet-gateway-id";

pub(crate) const TAG_RESOURCE_TYPE: ResourceType = ResourceType::InternetGateway;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("internet_gateway", "An internet gateway.")
        .taggable()
        .attr(
            Attribute::string("vpc_id").optional().describe("The VPC to attach to; changing it re-attaches in place."),
        )
        .attr(Attribute::string("arn").computed().describe("ARN of the internet gateway."))
        .attr(Attribute::string("owner_id").computed().describe("Account owning the internet gateway."))
});

async fn attach(cx: &Ctx, id: &str, vpc: &str) -> Result<(), ProviderError> {
    retry_on(cx, "AttachInternetGateway", ProviderError::is_not_found, || async {
        cx.ec2().attach_internet_gateway().internet_gateway_id(id).vpc_id(vpc).send().await.map_err(aws_err)
    })
    .await
    .map(|_| ())
}

async fn detach(cx: &Ctx, id: &str, vpc: &str) -> Result<(), ProviderError> {
    let r = retry_on(cx, "DetachInternetGateway", ProviderError::is_dependency_violation, || async {
        cx.ec2().detach_internet_gateway().internet_gateway_id(id).vpc_id(vpc).send().await.map_err(aws_err)
    })
    .await;
    match r {
        Ok(_) => Ok(()),
        // Already detached, or gateway/VPC gone.
        Err(e) if e.is_not_found() || e.code.as_deref() == Some("Gateway.NotAttached") => Ok(()),
        Err(e) => Err(e),
    }
}

impl InternetGateway {
    /// One DescribeInternetGateways (paginated) with `filters`.
    async fn read_filtered(&self, cx: &Ctx, filters: Vec<Filter>) -> Result<HashMap<String, Attrs>, ProviderError> {
        let mut out = HashMap::new();
        let mut pages =
            cx.ec2().describe_internet_gateways().set_filters(Some(filters)).into_paginator().items().send();
        while let Some(g) = pages.next().await {
            let g = g.map_err(aws_err)?;
            let Some(id) = g.internet_gateway_id() else { continue };
            let mut a = Attrs::new();
            a.insert("id".into(), Value::str(id));
            put_str(&mut a, "owner_id", g.owner_id());
            a.insert("arn".into(), Value::str(ec2_arn(cx, g.owner_id().unwrap_or_default(), "internet-gateway", id)));
            // AWS reports an attached gateway's attachment as `available` (`attaching` briefly); anything but
            // detached/detaching counts as attached.
            let attached = g
                .attachments()
                .iter()
                .find(|at| !matches!(at.state(), Some(AttachmentStatus::Detached) | Some(AttachmentStatus::Detaching)));
            if let Some(vpc) = attached.and_then(|at| at.vpc_id()) {
                a.insert("vpc_id".into(), Value::str(vpc));
            }
            put_tags(&mut a, g.tags());
            out.insert(id.to_owned(), a);
        }
        Ok(out)
    }

    async fn read_ids(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        read_by_ids(ids, ID_FILTER, |f| self.read_filtered(cx, f)).await
    }

    async fn read_one(&self, cx: &Ctx, id: &str) -> Result<Attrs, ProviderError> {
        let ids = [id.to_owned()];
        read_back(cx, "internet gateway", id, || self.read_ids(cx, &ids)).await
    }
}

#[async_trait]
impl Resource for InternetGateway {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_ids(cx, ids).await
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        let out = cx
            .ec2()
            .create_internet_gateway()
            .tag_specifications(tag_spec(TAG_RESOURCE_TYPE, desired))
            .send()
            .await
            .map_err(aws_err)?;
        let id = out
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .ok_or_else(|| ProviderError::new("CreateInternetGateway returned no id"))?;
        checkpoint.created(&with_id(desired, id)).await;
        if let Some(vpc) = get_str(desired, "vpc_id") {
            attach(cx, id, vpc).await?;
        }
        self.read_one(cx, id).await
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let id = get_id(prior)?;
        let (old, new) = (get_str(prior, "vpc_id"), get_str(desired, "vpc_id"));
        if old != new {
            if let Some(old) = old {
                detach(cx, id, old).await?;
            }
            if let Some(new) = new {
                attach(cx, id, new).await?;
            }
        }
        sync_ec2_tags(cx, id, prior, desired).await?;
        self.read_one(cx, id).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let id = get_id(prior)?;
        if let Some(vpc) = get_str(prior, "vpc_id") {
            detach(cx, id, vpc).await?;
        }
        delete_retrying(cx, "DeleteInternetGateway", || async {
            cx.ec2().delete_internet_gateway().internet_gateway_id(id).send().await.map_err(aws_err)
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
    fn tags_with_the_internet_gateway_resource_type() {
        assert_eq!(TAG_RESOURCE_TYPE.as_str(), "internet-gateway");
    }

    #[test]
    fn vpc_id_is_updatable() {
        assert!(!SCHEMA.attribute("vpc_id").unwrap().forces_replacement);
    }
}
