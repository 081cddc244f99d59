//! `lb`: an Application (or Network) Load Balancer, as terraform-provider-aws's `aws_lb`. Import id: the ARN.
//!
//! Create is one CreateLoadBalancer call carrying all tags (the name is `name`, or `name_prefix` / `tf-lb-`
//! plus random characters up to 32), then — after the checkpoint — one ModifyLoadBalancerAttributes
//! (idle timeout, drop invalid header fields, deletion protection; only deletion protection for a network
//! load balancer) and a bounded wait (AWS's LoadBalancerAvailable: `active`; `failed` is an error) with a
//! progress line per poll. The IP address type (`ipv4` or `dualstack`) is given to CreateLoadBalancer.
//! Update is SetSubnets / SetSecurityGroups / SetIpAddressType / ModifyLoadBalancerAttributes /
//! RemoveTags+AddTags, each only when its attributes differ. Delete is DeleteLoadBalancer, then a bounded
//! wait until the load balancer's network interfaces (DescribeNetworkInterfaces, filter `description` =
//! `ELB app/<name>/<id>`) are gone, since they keep its security groups and subnets in use for a while
//! after the delete (terraform-provider-aws does the same). Names are checked before any call.
//!
//! Read of n load balancers: ⌈n/20⌉ DescribeLoadBalancers (by ARN; a chunk failing with
//! LoadBalancerNotFound because one ARN is gone is halved until the gone ones are isolated), ⌈n/20⌉
//! DescribeTags and n DescribeLoadBalancerAttributes (at most 8 at once). `read_stack` is the default (the
//! tracked ARNs): ELBv2 has no tag filter, so finding untracked load balancers would mean listing every
//! load balancer of the region and its tags (the Resource Groups Tagging API is the planned way).

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, LoadBalancer as AwsLb, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerStateEnum,
    LoadBalancerTypeEnum,
};

use super::util::*;
use crate::aws::{aws_err, retry_on, wait_for, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::schema::{Attribute, Schema, Type};
use crate::value::{Attrs, Value};

pub struct Lb;

const IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";
const DROP_INVALID: &str = "routing.http.drop_invalid_header_fields.enabled";
const DELETION_PROTECTION: &str = "deletion_protection.enabled";

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("lb", "An Elastic Load Balancing v2 load balancer (application or network).")
        .taggable()
        .attr(
            Attribute::string("name")
                .optional_computed()
                .forces_new()
                .describe("Name: ≤32 alphanumerics or hyphens, no leading/trailing hyphen, not `internal-…`."),
        )
        .attr(
            Attribute::string("name_prefix")
                .optional_computed()
                .forces_new()
                .describe("Creates a unique name beginning with this prefix (≤6 characters); conflicts with `name`."),
        )
        .attr(Attribute::bool("internal").default(false).forces_new().describe("Internal (true) or internet-facing."))
        .attr(
            Attribute::string("load_balancer_type")
                .default("application")
                .forces_new()
                .one_of(&["application", "network"]),
        )
        .attr(
            Attribute::new("subnets", Type::set(Type::String))
                .required()
                .describe("Subnets, one per availability zone."),
        )
        .attr(
            Attribute::new("security_groups", Type::set(Type::String))
                .optional_computed()
                .describe("Security groups (AWS picks the VPC's default group when left out)."),
        )
        .attr(
            Attribute::string("ip_address_type")
                .default("ipv4")
                .one_of(&["ipv4", "dualstack"])
                .describe("`ipv4`, or `dualstack` (IPv4 and IPv6; the subnets need IPv6 CIDR blocks)."),
        )
        .attr(Attribute::number("idle_timeout").default(60).describe("Seconds a connection may idle (application)."))
        .attr(
            Attribute::bool("drop_invalid_header_fields")
                .default(false)
                .describe("Drop HTTP headers with invalid fields (application)."),
        )
        .attr(
            Attribute::bool("enable_deletion_protection")
                .default(false)
                .describe("Refuse deletion through the API while true."),
        )
        .attr(Attribute::string("arn").computed().describe("ARN (same as id)."))
        .attr(Attribute::string("arn_suffix").computed().describe("`app/<name>/<id>`, for CloudWatch metrics."))
        .attr(Attribute::string("dns_name").computed().describe("DNS name of the load balancer."))
        .attr(Attribute::string("zone_id").computed().describe("Canonical hosted zone id (for alias records)."))
        .attr(Attribute::string("vpc_id").computed().describe("VPC of the subnets."))
});

fn is_application(attrs: &Attrs) -> bool {
    get_str(attrs, "load_balancer_type").unwrap_or("application") == "application"
}

/// The description AWS gives the network interfaces of load balancer `arn`: `ELB app/<name>/<id>`.
pub(crate) fn eni_description(arn: &str) -> String {
    format!("ELB {}", arn_suffix(arn))
}

fn lb_attrs(lb: &AwsLb) -> Option<(String, Attrs)> {
    let arn = lb.load_balancer_arn()?;
    let mut a = Attrs::new();
    a.insert("id".into(), Value::str(arn));
    a.insert("arn".into(), Value::str(arn));
    a.insert("arn_suffix".into(), Value::str(arn_suffix(arn)));
    put_name(&mut a, lb.load_balancer_name());
    a.insert("internal".into(), Value::Bool(lb.scheme() == Some(&LoadBalancerSchemeEnum::Internal)));
    a.insert(
        "load_balancer_type".into(),
        Value::str(lb.r#type().map(LoadBalancerTypeEnum::as_str).unwrap_or("application")),
    );
    a.insert(
        "subnets".into(),
        Value::string_list(lb.availability_zones().iter().filter_map(|z| z.subnet_id()).map(str::to_owned)),
    );
    a.insert("security_groups".into(), Value::string_list(lb.security_groups().iter().cloned()));
    put_str(&mut a, "dns_name", lb.dns_name());
    put_str(&mut a, "zone_id", lb.canonical_hosted_zone_id());
    put_str(&mut a, "vpc_id", lb.vpc_id());
    a.insert("ip_address_type".into(), Value::str(lb.ip_address_type().map(IpAddressType::as_str).unwrap_or("ipv4")));
    Some((arn.to_owned(), a))
}

/// The load balancers `arns` as AWS describes them: one DescribeLoadBalancers per 20 ARNs (gone ones
/// dropped, see [`by_chunks`]).
async fn describe(cx: &Ctx, arns: &[String]) -> Result<Vec<AwsLb>, ProviderError> {
    by_chunks(arns, |chunk| async move {
        let out =
            elb(cx).describe_load_balancers().set_load_balancer_arns(Some(chunk)).send().await.map_err(aws_err)?;
        Ok(out.load_balancers().to_vec())
    })
    .await
}

/// The attributes this resource models, from DescribeLoadBalancerAttributes (AWS's defaults when absent:
/// a network load balancer reports no idle timeout). `None` when the load balancer is gone.
async fn attributes(cx: &Ctx, arn: String) -> Result<(String, Option<Attrs>), ProviderError> {
    let r = elb(cx).describe_load_balancer_attributes().load_balancer_arn(&arn).send().await.map_err(aws_err);
    let Some(out) = gone_ok(r)? else { return Ok((arn, None)) };
    let get = |k: &str| out.attributes().iter().find(|a| a.key() == Some(k)).and_then(|a| a.value());
    let mut a = Attrs::new();
    let idle = get(IDLE_TIMEOUT).and_then(|v| v.parse::<i64>().ok()).unwrap_or(60);
    a.insert("idle_timeout".into(), Value::int(idle));
    a.insert("drop_invalid_header_fields".into(), Value::Bool(get(DROP_INVALID) == Some("true")));
    a.insert("enable_deletion_protection".into(), Value::Bool(get(DELETION_PROTECTION) == Some("true")));
    Ok((arn, Some(a)))
}

/// ModifyLoadBalancerAttributes with the attributes of `desired` that differ from `prior` (all of them when
/// `prior` is `None`); no call when none differs.
async fn modify_attributes(cx: &Ctx, arn: &str, prior: Option<&Attrs>, desired: &Attrs) -> Result<(), ProviderError> {
    let mut attrs = Vec::new();
    let differs = |name: &str| prior.is_none_or(|p| p.get(name) != desired.get(name));
    let attr = |k: &str, v: String| LoadBalancerAttribute::builder().key(k).value(v).build();
    if is_application(desired) {
        if differs("idle_timeout") {
            attrs.push(attr(IDLE_TIMEOUT, get_i32(desired, "idle_timeout").unwrap_or(60).to_string()));
        }
        if differs("drop_invalid_header_fields") {
            attrs.push(attr(DROP_INVALID, get_bool(desired, "drop_invalid_header_fields", false).to_string()));
        }
    }
    if differs("enable_deletion_protection") {
        attrs.push(attr(DELETION_PROTECTION, get_bool(desired, "enable_deletion_protection", false).to_string()));
    }
    if attrs.is_empty() {
        return Ok(());
    }
    retry_on(cx, "ModifyLoadBalancerAttributes", ProviderError::is_not_found, || async {
        elb(cx)
            .modify_load_balancer_attributes()
            .load_balancer_arn(arn)
            .set_attributes(Some(attrs.clone()))
            .send()
            .await
            .map_err(aws_err)
    })
    .await
    .map(|_| ())
}

/// Validation before any AWS call, at create and update: no static hook exists (`Resource` has none and
/// the schema's formats are only CIDR and one-of).
pub(crate) fn validate(desired: &Attrs) -> Result<(), ProviderError> {
    if get_strs(desired, "subnets").is_empty() {
        return Err(invalid("load balancer: `subnets` must name at least one subnet"));
    }
    if let Some(t) = get_i32(desired, "idle_timeout") {
        if !(1..=4000).contains(&t) {
            return Err(invalid(format!("load balancer: idle_timeout {t} is outside 1..4000 seconds")));
        }
    }
    Ok(())
}

/// [`validate`] plus the name checks, which only a create needs (`name` and `name_prefix` force
/// replacement; an update gets the state's `name` next to the `name_prefix` it was generated from).
pub(crate) fn validate_create(desired: &Attrs) -> Result<(), ProviderError> {
    check_naming("load balancer", desired, true)?;
    validate(desired)
}

impl Lb {
    async fn read_arns(&self, cx: &Ctx, arns: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let mut out = self.read_untagged(cx, arns).await?;
        add_tags_to(cx, &mut out).await?;
        Ok(out)
    }

    /// Describe and attributes, without tags.
    async fn read_untagged(&self, cx: &Ctx, arns: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let mut out: HashMap<String, Attrs> = describe(cx, arns).await?.iter().filter_map(lb_attrs).collect();
        extend_each(&mut out, |arn| attributes(cx, arn)).await?;
        Ok(out)
    }

    async fn read_one(&self, cx: &Ctx, arn: &str) -> Result<Attrs, ProviderError> {
        let arns = [arn.to_owned()];
        read_back(cx, "load balancer", arn, || self.read_arns(cx, &arns)).await
    }

    async fn wait_active(&self, cx: &Ctx, arn: &str) -> Result<(), ProviderError> {
        let arns = [arn.to_owned()];
        wait_for(cx, &format!("load balancer {arn} to become active"), || async {
            let Some(lb) = describe(cx, &arns).await?.into_iter().next() else { return Ok(None) };
            let state = lb.state();
            match state.and_then(|s| s.code()) {
                Some(LoadBalancerStateEnum::Active) => Ok(Some(())),
                Some(LoadBalancerStateEnum::Failed) => Err(ProviderError::with_code(
                    "LoadBalancerFailed",
                    format!(
                        "load balancer {arn} failed: {}",
                        state.and_then(|s| s.reason()).unwrap_or("no reason from AWS")
                    ),
                )),
                other => {
                    tracing::info!(
                        arn,
                        state = other.map(|s| s.as_str()).unwrap_or("unknown"),
                        "load balancer not active yet"
                    );
                    Ok(None)
                }
            }
        })
        .await
    }

    /// Waits until no network interface described `ELB <arn suffix>` remains.
    async fn wait_enis_gone(&self, cx: &Ctx, arn: &str) -> Result<(), ProviderError> {
        let description = eni_description(arn);
        wait_for(cx, &format!("the network interfaces of load balancer {arn} to be released"), || async {
            let out = cx
                .ec2()
                .describe_network_interfaces()
                .filters(aws_sdk_ec2::types::Filter::builder().name("description").values(&description).build())
                .send()
                .await
                .map_err(aws_err)?;
            let left = out.network_interfaces().len();
            if left > 0 {
                tracing::info!(arn, left, "load balancer network interfaces still present");
            }
            Ok((left == 0).then_some(()))
        })
        .await
    }
}

#[async_trait]
impl Resource for Lb {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        validate_create(cfg).map_err(|e| e.message)
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_arns(cx, ids).await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        stack_read(cx, ids, "loadbalancer", |arns| async move { self.read_untagged(cx, &arns).await }).await
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        validate_create(desired)?;
        let name = name_to_create(desired, "tf-lb-");
        let scheme = if get_bool(desired, "internal", false) {
            LoadBalancerSchemeEnum::Internal
        } else {
            LoadBalancerSchemeEnum::InternetFacing
        };
        let sgs = get_strs(desired, "security_groups");
        let out = retry_on(cx, "CreateLoadBalancer", ProviderError::is_not_found, || async {
            elb(cx)
                .create_load_balancer()
                .name(&name)
                .r#type(LoadBalancerTypeEnum::from(get_str(desired, "load_balancer_type").unwrap_or("application")))
                .scheme(scheme.clone())
                .set_subnets(Some(get_strs(desired, "subnets")))
                .set_security_groups((!sgs.is_empty()).then(|| sgs.clone()))
                .ip_address_type(IpAddressType::from(get_str(desired, "ip_address_type").unwrap_or("ipv4")))
                .set_tags(elb_tags(desired))
                .send()
                .await
                .map_err(aws_err)
        })
        .await?;
        let arn = out
            .load_balancers()
            .first()
            .and_then(|l| l.load_balancer_arn())
            .ok_or_else(|| ProviderError::new("CreateLoadBalancer returned no load balancer"))?;
        let mut created = with_id(desired, arn);
        created.insert("name".into(), Value::str(&name));
        created.insert("arn".into(), Value::str(arn));
        checkpoint.created(&created).await;

        modify_attributes(cx, arn, None, desired).await?;
        self.wait_active(cx, arn).await?;
        self.read_one(cx, arn).await
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        validate(desired)?;
        let arn = get_id(prior)?;
        let subnets = get_strs(desired, "subnets");
        if subnets != get_strs(prior, "subnets") {
            elb(cx).set_subnets().load_balancer_arn(arn).set_subnets(Some(subnets)).send().await.map_err(aws_err)?;
        }
        // Left out of the configuration (optional+computed): whatever AWS has stays.
        if desired.get("security_groups").is_some_and(|v| !v.is_null()) {
            let sgs = get_strs(desired, "security_groups");
            if sgs != get_strs(prior, "security_groups") {
                elb(cx)
                    .set_security_groups()
                    .load_balancer_arn(arn)
                    .set_security_groups(Some(sgs))
                    .send()
                    .await
                    .map_err(aws_err)?;
            }
        }
        let ip_type = get_str(desired, "ip_address_type").unwrap_or("ipv4");
        if ip_type != get_str(prior, "ip_address_type").unwrap_or("ipv4") {
            elb(cx)
                .set_ip_address_type()
                .load_balancer_arn(arn)
                .ip_address_type(IpAddressType::from(ip_type))
                .send()
                .await
                .map_err(aws_err)?;
        }
        modify_attributes(cx, arn, Some(prior), desired).await?;
        sync_tags(cx, arn, prior, desired).await?;
        self.read_one(cx, arn).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let arn = get_id(prior)?;
        let r = elb(cx).delete_load_balancer().load_balancer_arn(arn).send().await.map_err(aws_err);
        gone_ok(r)?;
        self.wait_enis_gone(cx, arn).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(json: serde_json::Value) -> Attrs {
        SCHEMA.normalize(&crate::value::attrs_from_json(&serde_json::from_value(json).unwrap()))
    }

    #[test]
    fn defaults_and_replacement() {
        let a = attrs(serde_json::json!({"name": "web", "subnets": ["subnet-1"]}));
        assert_eq!(a["internal"], Value::Bool(false));
        assert_eq!(a["load_balancer_type"], Value::str("application"));
        assert_eq!(a["idle_timeout"], Value::int(60));
        assert_eq!(a["drop_invalid_header_fields"], Value::Bool(false));
        assert_eq!(a["enable_deletion_protection"], Value::Bool(false));
        assert_eq!(a["ip_address_type"], Value::str("ipv4"));
        for n in ["name", "name_prefix", "internal", "load_balancer_type"] {
            assert!(SCHEMA.attribute(n).unwrap().forces_replacement, "{n}");
        }
        for n in ["subnets", "security_groups", "idle_timeout", "ip_address_type", "tags"] {
            assert!(!SCHEMA.attribute(n).unwrap().forces_replacement, "{n}");
        }
    }

    #[test]
    fn validation() {
        assert!(validate(&attrs(serde_json::json!({"name": "web", "subnets": ["s"]}))).is_ok());
        assert!(validate_create(&attrs(serde_json::json!({"name": "internal-web", "subnets": ["s"]}))).is_err());
        // An update sees the state: the generated name next to its prefix.
        let state = attrs(
            serde_json::json!({"name": "web-0123456789abcdef0123456789", "name_prefix": "web-", "subnets": ["s"]}),
        );
        assert!(validate(&state).is_ok());
        assert!(validate_create(&state).is_err());
        assert!(validate(&attrs(serde_json::json!({"name": "web", "subnets": []}))).is_err());
        assert!(validate(&attrs(serde_json::json!({"name": "web", "subnets": ["s"], "idle_timeout": 0}))).is_err());
    }

    #[test]
    fn eni_description_names_the_load_balancer() {
        assert_eq!(
            eni_description("arn:aws:elasticloadbalancing:us-east-1:123:loadbalancer/app/web/50dc6c495c0c9188"),
            "ELB app/web/50dc6c495c0c9188"
        );
    }
}
