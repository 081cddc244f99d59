//! `nat_gateway`: a NAT gateway in a subnet.
//!
//! Create is one CreateNatGateway call carrying all tags and a deterministic `ClientToken` (SHA-256 of the
//! tool's own tags in the desired tag set — `provisioner:stack`, `provisioner:workspace`,
//! `provisioner:lineage`, `provisioner:address` — and the arguments), so neither an SDK retry of a timed-out
//! request nor a re-run after a crash can create a second gateway, while two workspaces or two states (two
//! lineages) of the same stack never share a token. After the checkpoint it waits (bounded) for
//! `available`, failing with AWS's failure message on `failed`. Delete waits until the gateway is
//! `deleted`, which read treats as absent. Read is one DescribeNatGateways per 200 ids (filter
//! `nat-gateway-id`, paginated). `read_stack` is one DescribeNatGateways filtered by the stack's tags, plus
//! the by-id read for the tracked ids it did not return (none in the common case; a tracked gateway that is
//! `deleted` costs that second call, as AWS keeps listing deleted gateways for a while). The tag filters are
//! also checked on the returned tags, because the emulator (moto 5.2) ignores them and returns every gateway
//! of the region: a no-op against AWS.

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ConnectivityType, Filter, NatGateway as AwsNatGateway, NatGatewayState, ResourceType};
use sha2::{Digest, Sha256};

use super::util::*;
use crate::aws::{aws_err, sync_ec2_tags, tag_map, tag_spec, wait_for, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::schema::{Attribute, Schema};
use crate::value::{Attrs, Value};

pub struct NatGateway;

/// The DescribeNatGateways filter selecting by id.
const ID_FILTER: &str = "nat-gateway-id";

pub(crate) const TAG_RESOURCE_TYPE: ResourceType = ResourceType::Natgateway;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("nat_gateway", "A NAT gateway.")
        .taggable()
        .attr(
            Attribute::string("allocation_id")
                .optional()
                .forces_new()
                .describe("Elastic IP allocation (public gateways)."),
        )
        .attr(Attribute::string("subnet_id").required().forces_new().describe("The subnet to place the gateway in."))
        .attr(Attribute::string("connectivity_type").default("public").forces_new().one_of(&["public", "private"]))
        .attr(Attribute::string("network_interface_id").computed())
        .attr(Attribute::string("private_ip").computed())
        .attr(Attribute::string("public_ip").computed())
        .attr(Attribute::string("state").computed().describe("pending, available, deleting, …"))
});

/// The idempotency token of a create: same tool tags (stack, workspace, lineage, address — see
/// [`hash_tool_tags`]) and arguments → same token (64 hex chars, the API's maximum). `attempt` > 0 salts it (see
/// `create`).
fn client_token(desired: &Attrs, attempt: u32) -> String {
    let mut h = Sha256::new();
    hash_tool_tags(&mut h, &tag_map(desired));
    for part in [
        get_str(desired, "subnet_id").unwrap_or_default(),
        get_str(desired, "allocation_id").unwrap_or_default(),
        get_str(desired, "connectivity_type").unwrap_or("public"),
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    if attempt > 0 {
        h.update(attempt.to_be_bytes());
    }
    let mut t = hex::encode(h.finalize());
    t.truncate(64);
    t
}

/// One DescribeNatGateways (paginated) with `filters`, every state included.
async fn describe_filtered(cx: &Ctx, filters: Vec<Filter>) -> Result<Vec<AwsNatGateway>, ProviderError> {
    let mut out = Vec::new();
    let mut pages = cx.ec2().describe_nat_gateways().set_filter(Some(filters)).into_paginator().items().send();
    while let Some(g) = pages.next().await {
        out.push(g.map_err(aws_err)?);
    }
    Ok(out)
}

/// The gateways `ids`, every state included: one DescribeNatGateways per 200 ids.
async fn describe(cx: &Ctx, ids: &[String]) -> Result<Vec<AwsNatGateway>, ProviderError> {
    let mut out = Vec::new();
    for chunk in id_chunks(ids) {
        out.extend(describe_filtered(cx, vec![filter(ID_FILTER, &chunk)]).await?);
    }
    Ok(out)
}

/// `read`'s view of one DescribeNatGateways with `filters`: `deleted` gateways are absent. Moto (5.2)
/// ignores `tag:` filters on DescribeNatGateways and returns every gateway: they are checked here on the
/// returned tags too (a no-op against AWS).
async fn read_filtered(cx: &Ctx, filters: Vec<Filter>) -> Result<HashMap<String, Attrs>, ProviderError> {
    Ok(describe_filtered(cx, filters.clone())
        .await?
        .iter()
        .filter(|g| tag_filters_match(&filters, g.tags()))
        .filter(|g| state_of(g) != &NatGatewayState::Deleted)
        .filter_map(attrs_of)
        .map(|a| (a["id"].as_str().unwrap_or_default().to_owned(), a))
        .collect())
}

fn attrs_of(g: &AwsNatGateway) -> Option<Attrs> {
    let id = g.nat_gateway_id()?;
    let mut a = Attrs::new();
    a.insert("id".into(), Value::str(id));
    put_str(&mut a, "subnet_id", g.subnet_id());
    a.insert(
        "connectivity_type".into(),
        Value::str(g.connectivity_type().map(ConnectivityType::as_str).unwrap_or("public")),
    );
    a.insert("state".into(), Value::str(g.state().map(NatGatewayState::as_str).unwrap_or_default()));
    if let Some(addr) = g.nat_gateway_addresses().first() {
        put_opt(&mut a, "allocation_id", addr.allocation_id());
        put_opt(&mut a, "network_interface_id", addr.network_interface_id());
        put_opt(&mut a, "private_ip", addr.private_ip());
        put_opt(&mut a, "public_ip", addr.public_ip());
    }
    put_tags(&mut a, g.tags());
    Some(a)
}

fn state_of(g: &AwsNatGateway) -> &NatGatewayState {
    g.state().unwrap_or(&NatGatewayState::Pending)
}

impl NatGateway {
    async fn wait_available(&self, cx: &Ctx, id: &str) -> Result<Result<Attrs, NatGatewayState>, ProviderError> {
        let ids = [id.to_owned()];
        wait_for(cx, &format!("NAT gateway {id} to become available"), || async {
            let Some(g) = describe(cx, &ids).await?.into_iter().next() else { return Ok(None) };
            match state_of(&g) {
                NatGatewayState::Available => Ok(attrs_of(&g).map(Ok)),
                NatGatewayState::Failed => Err(ProviderError::with_code(
                    g.failure_code().unwrap_or("NatGatewayFailed"),
                    format!(
                        "NAT gateway {id} failed: {}",
                        g.failure_message().unwrap_or("no failure message from AWS")
                    ),
                )),
                s @ (NatGatewayState::Deleting | NatGatewayState::Deleted) => Ok(Some(Err(s.clone()))),
                _ => Ok(None),
            }
        })
        .await
    }
}

#[async_trait]
impl Resource for NatGateway {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        read_by_ids(ids, ID_FILTER, |f| read_filtered(cx, f)).await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        read_stack_via(cx, ids, ID_FILTER, |f| read_filtered(cx, f)).await
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        let subnet = req_str(desired, "subnet_id")?;
        let connectivity = ConnectivityType::from(get_str(desired, "connectivity_type").unwrap_or("public"));
        // An idempotency token stays bound to the gateway it created even after that gateway is deleted: a
        // destroy-then-apply of the same config would get the deleted gateway back. Then salt the token.
        for attempt in 0..3 {
            let token = client_token(desired, attempt);
            let out = crate::aws::retry_on(cx, "CreateNatGateway", ProviderError::is_not_found, || async {
                cx.ec2()
                    .create_nat_gateway()
                    .subnet_id(subnet)
                    .set_allocation_id(get_str(desired, "allocation_id").map(str::to_owned))
                    .connectivity_type(connectivity.clone())
                    .client_token(&token)
                    .tag_specifications(tag_spec(TAG_RESOURCE_TYPE, desired))
                    .send()
                    .await
                    .map_err(aws_err)
            })
            .await?;
            let id = out
                .nat_gateway()
                .and_then(|g| g.nat_gateway_id())
                .ok_or_else(|| ProviderError::new("CreateNatGateway returned no id"))?;
            checkpoint.created(&with_id(desired, id)).await;
            match self.wait_available(cx, id).await? {
                Ok(attrs) => return Ok(attrs),
                Err(state) => {
                    tracing::warn!(
                        id,
                        state = state.as_str(),
                        "client token returned a deleted NAT gateway; retrying with a new token"
                    )
                }
            }
        }
        Err(ProviderError::new("CreateNatGateway kept returning deleted gateways"))
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let id = get_id(prior)?;
        sync_ec2_tags(cx, id, prior, desired).await?;
        let ids = [id.to_owned()];
        read_back(cx, "NAT gateway", id, || self.read(cx, &ids)).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let id = get_id(prior)?;
        let r = cx.ec2().delete_nat_gateway().nat_gateway_id(id).send().await.map_err(aws_err);
        if gone_ok(r)?.is_none() {
            return Ok(());
        }
        let ids = [id.to_owned()];
        wait_for(cx, &format!("NAT gateway {id} to be deleted"), || async {
            let g = describe(cx, &ids).await?;
            Ok(g.iter().all(|g| state_of(g) == &NatGatewayState::Deleted).then_some(()))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{TAG_ADDRESS, TAG_LINEAGE, TAG_STACK, TAG_WORKSPACE};

    #[test]
    fn tags_with_the_natgateway_resource_type() {
        assert_eq!(TAG_RESOURCE_TYPE.as_str(), "natgateway");
    }

    fn desired(tags: &[(&str, &str)]) -> Attrs {
        Attrs::from([
            ("subnet_id".to_owned(), Value::str("subnet-1")),
            ("allocation_id".to_owned(), Value::str("eipalloc-1")),
            ("tags".to_owned(), Value::Map(tags.iter().map(|(k, v)| ((*k).to_owned(), Value::str(*v))).collect())),
        ])
    }

    const OURS: [(&str, &str); 4] = [
        (TAG_STACK, "prod"),
        (TAG_WORKSPACE, "default"),
        (TAG_LINEAGE, "6f1c0e4a-0000-4000-8000-000000000001"),
        (TAG_ADDRESS, "nat_gateway.main"),
    ];

    /// `OURS` with tag `key` set to `value`.
    fn ours_with(key: &str, value: &str) -> Attrs {
        let tags: Vec<(&str, &str)> = OURS.iter().map(|&(k, v)| (k, if k == key { value } else { v })).collect();
        desired(&tags)
    }

    #[test]
    fn client_token_is_deterministic_and_bounded() {
        let mut d = desired(&OURS);
        let t = client_token(&d, 0);
        assert_eq!(t.len(), 64);
        assert_eq!(t, client_token(&d.clone(), 0));
        assert_ne!(t, client_token(&d, 1));
        // User tags do not matter; the tool's tags and the arguments do.
        let mut with_user_tag = OURS.to_vec();
        with_user_tag.push(("Name", "main"));
        assert_eq!(t, client_token(&desired(&with_user_tag), 0));
        d.insert("subnet_id".into(), Value::str("subnet-2"));
        assert_ne!(t, client_token(&d, 0));
    }

    #[test]
    fn client_token_tells_stacks_workspaces_states_and_addresses_apart() {
        let t = client_token(&desired(&OURS), 0);
        assert_ne!(t, client_token(&ours_with(TAG_STACK, "dev"), 0));
        assert_ne!(t, client_token(&ours_with(TAG_WORKSPACE, "staging"), 0));
        assert_ne!(t, client_token(&ours_with(TAG_LINEAGE, "6f1c0e4a-0000-4000-8000-000000000002"), 0));
        assert_ne!(t, client_token(&ours_with(TAG_ADDRESS, "nat_gateway.other"), 0));
        // Two workspaces of a second stack differ from each other too.
        let dev = |ws: &str| {
            let mut d = ours_with(TAG_STACK, "dev");
            if let Some(Value::Map(m)) = d.get_mut("tags") {
                m.insert(TAG_WORKSPACE.to_owned(), Value::str(ws));
            }
            client_token(&d, 0)
        };
        assert_ne!(dev("a"), dev("b"));
        // An absent tag is not the same as an empty one.
        let without_lineage: Vec<_> = OURS.iter().copied().filter(|(k, _)| *k != TAG_LINEAGE).collect();
        assert_ne!(client_token(&desired(&without_lineage), 0), client_token(&ours_with(TAG_LINEAGE, ""), 0));
    }
}
