//! `lb_target_group`: a target group, as terraform-provider-aws's `aws_lb_target_group`. Import id: the ARN.
//!
//! The `health_check` block is normalised with AWS's defaults for the target group's protocol
//! (CreateTargetGroup: enabled, interval 30, timeout 6 for HTTP and 10 for HTTPS/TCP/TLS, healthy 5,
//! unhealthy 2, port `traffic-port`, protocol HTTP for HTTP/HTTPS groups and TCP otherwise, path `/` and
//! matcher `200` for HTTP(S) checks), filled in both on the configuration (absent block, or absent keys)
//! and on what AWS reports, so a re-plan is empty whether or not they are spelled out; removing the block
//! resets the check to these defaults. Create sends every health-check value explicitly, so AWS's own
//! defaults never matter.
//!
//! Create is one CreateTargetGroup carrying all tags; after the checkpoint, one
//! ModifyTargetGroupAttributes when `deregistration_delay` is not AWS's 300. Update is ModifyTargetGroup
//! (health check), ModifyTargetGroupAttributes, RemoveTags+AddTags, each only when needed. Delete retries
//! `ResourceInUse` (a listener or rule being repointed or deleted) within the wait bound.
//!
//! Read of n groups: ⌈n/20⌉ DescribeTargetGroups (by ARN; chunks failing with TargetGroupNotFound are
//! halved until the gone ARNs are isolated), ⌈n/20⌉ DescribeTags, n DescribeTargetGroupAttributes (at most 8
//! at once). `read_stack`: the default (tracked ARNs), as for `lb`.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup as AwsTg, TargetGroupAttribute, TargetTypeEnum,
};

use super::util::*;
use crate::aws::{aws_err, retry_on, Ctx, ProviderError};
use crate::resource::{Checkpoint, ReplacementOrder, Resource};
use crate::schema::{Attribute, Schema, Type};
use crate::value::{Attrs, Value};

pub struct LbTargetGroup;

const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

const PROTOCOLS: &[&str] = &["HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP"];

fn health_check_type() -> Type {
    Type::Object(vec![
        Attribute::bool("enabled").describe("Whether health checks run (default true)."),
        Attribute::string("path").describe("HTTP(S) checks: request path (default `/`)."),
        Attribute::string("matcher")
            .describe("HTTP(S) checks: success codes, e.g. `200` or `200-299` (default `200`)."),
        Attribute::number("interval").describe("Seconds between checks, 5–300 (default 30)."),
        Attribute::number("timeout")
            .describe("Seconds without answer = failure, 2–120 (default 6 for HTTP, 10 otherwise)."),
        Attribute::number("healthy_threshold").describe("Successes before healthy, 2–10 (default 5)."),
        Attribute::number("unhealthy_threshold").describe("Failures before unhealthy, 2–10 (default 2)."),
        Attribute::string("protocol")
            .one_of(&["HTTP", "HTTPS", "TCP"])
            .describe("Check protocol (default HTTP for HTTP/HTTPS groups, else TCP)."),
        Attribute::string("port").describe("Port number or `traffic-port` (default)."),
    ])
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("lb_target_group", "A target group of an Elastic Load Balancing v2 load balancer.")
        .taggable()
        .attr(
            Attribute::string("name")
                .optional_computed()
                .forces_new()
                .describe("Name: ≤32 alphanumerics or hyphens, no leading/trailing hyphen."),
        )
        .attr(
            Attribute::string("name_prefix")
                .optional_computed()
                .forces_new()
                .describe("Creates a unique name beginning with this prefix (≤6 characters); conflicts with `name`."),
        )
        .attr(Attribute::number("port").required().forces_new().describe("Port the targets receive traffic on."))
        .attr(Attribute::string("protocol").required().forces_new().one_of(PROTOCOLS))
        .attr(
            Attribute::string("target_type")
                .default("instance")
                .forces_new()
                .one_of(&["instance", "ip", "alb"])
                .describe("instance, ip or alb."),
        )
        .attr(Attribute::string("vpc_id").required().forces_new().describe("VPC of the targets."))
        .attr(
            Attribute::number("deregistration_delay")
                .default(300)
                .describe("Seconds to drain a deregistering target, 0–3600."),
        )
        .attr(
            Attribute::new("health_check", Type::list(health_check_type()))
                .optional()
                .describe("At most one block; AWS's defaults for the protocol fill what is left out."),
        )
        .attr(Attribute::string("arn").computed().describe("ARN (same as id)."))
        .attr(Attribute::string("arn_suffix").computed().describe("`targetgroup/<name>/<id>`, for CloudWatch metrics."))
});

/// AWS's health-check defaults for a target group of `protocol` (see the module doc).
fn health_check_defaults(protocol: &str) -> BTreeMap<String, Value> {
    let http = matches!(protocol, "HTTP" | "HTTPS");
    let mut m = BTreeMap::from([
        ("enabled".to_owned(), Value::Bool(true)),
        ("interval".to_owned(), Value::int(30)),
        ("timeout".to_owned(), Value::int(if protocol == "HTTP" { 6 } else { 10 })),
        ("healthy_threshold".to_owned(), Value::int(5)),
        ("unhealthy_threshold".to_owned(), Value::int(2)),
        ("protocol".to_owned(), Value::str(if http { "HTTP" } else { "TCP" })),
        ("port".to_owned(), Value::str("traffic-port")),
    ]);
    if http {
        m.insert("path".into(), Value::str("/"));
        m.insert("matcher".into(), Value::str("200"));
    }
    m
}

/// The health check of `attrs` with the defaults filled in; `None` when something it depends on is unknown.
fn health_check_of(attrs: &Attrs) -> Option<BTreeMap<String, Value>> {
    let protocol = attrs.get("protocol")?.as_str()?;
    let given: BTreeMap<String, Value> = match attrs.get("health_check") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::List(items)) if items.is_empty() => BTreeMap::new(),
        Some(Value::List(items)) => items.first()?.as_map()?.clone(),
        Some(_) => return None,
    };
    if given.values().any(|v| !v.is_known()) {
        return None;
    }
    let given_protocol = given.get("protocol").and_then(Value::as_str);
    // An explicit HTTP(S) check of a TCP group gets the HTTP defaults (path, matcher), and vice versa.
    let check_protocol = match given_protocol {
        Some("HTTP") => "HTTP",
        Some("HTTPS") if protocol == "HTTP" => "HTTP",
        Some("HTTPS") => "HTTPS",
        Some(_) => "TCP",
        None => protocol,
    };
    let mut m = health_check_defaults(protocol);
    if matches!(check_protocol, "HTTP" | "HTTPS") != matches!(protocol, "HTTP" | "HTTPS") {
        let d = health_check_defaults(check_protocol);
        for k in ["path", "matcher", "protocol"] {
            match d.get(k) {
                Some(v) => m.insert(k.to_owned(), v.clone()),
                None => m.remove(k),
            };
        }
    }
    for (k, v) in given {
        if !v.is_null() {
            m.insert(k, v);
        }
    }
    Some(m)
}

fn tg_attrs(tg: &AwsTg) -> Option<(String, Attrs)> {
    let arn = tg.target_group_arn()?;
    let mut a = Attrs::new();
    a.insert("id".into(), Value::str(arn));
    a.insert("arn".into(), Value::str(arn));
    a.insert("arn_suffix".into(), Value::str(arn_suffix(arn)));
    put_name(&mut a, tg.target_group_name());
    if let Some(p) = tg.port() {
        a.insert("port".into(), Value::int(p.into()));
    }
    put_opt(&mut a, "protocol", tg.protocol().map(ProtocolEnum::as_str));
    a.insert("target_type".into(), Value::str(tg.target_type().map(TargetTypeEnum::as_str).unwrap_or("instance")));
    put_opt(&mut a, "vpc_id", tg.vpc_id());
    let mut hc = BTreeMap::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            hc.insert(k.to_owned(), v);
        }
    };
    put("enabled", tg.health_check_enabled().map(Value::Bool));
    put("path", tg.health_check_path().filter(|p| !p.is_empty()).map(Value::str));
    put("matcher", tg.matcher().and_then(Matcher::http_code).map(Value::str));
    put("interval", tg.health_check_interval_seconds().map(|n| Value::int(n.into())));
    put("timeout", tg.health_check_timeout_seconds().map(|n| Value::int(n.into())));
    put("healthy_threshold", tg.healthy_threshold_count().map(|n| Value::int(n.into())));
    put("unhealthy_threshold", tg.unhealthy_threshold_count().map(|n| Value::int(n.into())));
    put("protocol", tg.health_check_protocol().map(|p| Value::str(p.as_str())));
    put("port", tg.health_check_port().map(Value::str));
    a.insert("health_check".into(), Value::List(vec![Value::Map(hc)]));
    Some((arn.to_owned(), a))
}

async fn describe(cx: &Ctx, arns: &[String]) -> Result<Vec<AwsTg>, ProviderError> {
    by_chunks(arns, |chunk| async move {
        let out = elb(cx).describe_target_groups().set_target_group_arns(Some(chunk)).send().await.map_err(aws_err)?;
        Ok(out.target_groups().to_vec())
    })
    .await
}

/// `deregistration_delay` from DescribeTargetGroupAttributes; `None` when the group is gone.
async fn attributes(cx: &Ctx, arn: String) -> Result<(String, Option<Attrs>), ProviderError> {
    let r = elb(cx).describe_target_group_attributes().target_group_arn(&arn).send().await.map_err(aws_err);
    let Some(out) = gone_ok(r)? else { return Ok((arn, None)) };
    let delay = out
        .attributes()
        .iter()
        .find(|a| a.key() == Some(DEREGISTRATION_DELAY))
        .and_then(|a| a.value())
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    Ok((arn, Some(Attrs::from([("deregistration_delay".to_owned(), Value::int(delay))]))))
}

async fn set_deregistration_delay(cx: &Ctx, arn: &str, delay: i64) -> Result<(), ProviderError> {
    retry_on(cx, "ModifyTargetGroupAttributes", ProviderError::is_not_found, || async {
        elb(cx)
            .modify_target_group_attributes()
            .target_group_arn(arn)
            .attributes(TargetGroupAttribute::builder().key(DEREGISTRATION_DELAY).value(delay.to_string()).build())
            .send()
            .await
            .map_err(aws_err)
    })
    .await
    .map(|_| ())
}

pub(crate) fn validate(desired: &Attrs) -> Result<(), ProviderError> {
    if let Some(p) = get_i32(desired, "port") {
        if !(1..=65535).contains(&p) {
            return Err(invalid(format!("target group: port {p} is outside 1..65535")));
        }
    }
    if let Some(d) = get_i32(desired, "deregistration_delay") {
        if !(0..=3600).contains(&d) {
            return Err(invalid(format!("target group: deregistration_delay {d} is outside 0..3600")));
        }
    }
    if let Some(Value::List(items)) = desired.get("health_check") {
        if items.len() > 1 {
            return Err(invalid("target group: at most one `health_check` block"));
        }
    }
    Ok(())
}

/// [`validate`] plus the name checks, which only a create needs (`name` and `name_prefix` force
/// replacement; an update gets the state's `name` next to the `name_prefix` it was generated from).
pub(crate) fn validate_create(desired: &Attrs) -> Result<(), ProviderError> {
    check_naming("target group", desired, false)?;
    validate(desired)
}

fn hc_i32(hc: &BTreeMap<String, Value>, k: &str) -> Option<i32> {
    hc.get(k).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok())
}

fn hc_str<'a>(hc: &'a BTreeMap<String, Value>, k: &str) -> Option<&'a str> {
    hc.get(k).and_then(Value::as_str)
}

impl LbTargetGroup {
    async fn read_arns(&self, cx: &Ctx, arns: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let mut out = self.read_untagged(cx, arns).await?;
        add_tags_to(cx, &mut out).await?;
        Ok(out)
    }

    /// Describe and attributes, without tags.
    async fn read_untagged(&self, cx: &Ctx, arns: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let mut out: HashMap<String, Attrs> = describe(cx, arns).await?.iter().filter_map(tg_attrs).collect();
        extend_each(&mut out, |arn| attributes(cx, arn)).await?;
        Ok(out)
    }

    async fn read_one(&self, cx: &Ctx, arn: &str) -> Result<Attrs, ProviderError> {
        let arns = [arn.to_owned()];
        read_back(cx, "target group", arn, || self.read_arns(cx, &arns)).await
    }
}

fn incomplete() -> ProviderError {
    ProviderError::new("target group: `protocol` or `health_check` is not known")
}

#[async_trait]
impl Resource for LbTargetGroup {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        validate_create(cfg).map_err(|e| e.message)
    }

    /// AWS refuses to delete a target group a listener or rule forwards to (`ResourceInUse`), so a
    /// replacement is created first, the listeners move to it, and the old one goes last. That needs a name
    /// the old one does not hold: `name_prefix` (a fresh name each time) or a changed `name`.
    fn replacement_order(&self, before: &Attrs, after: &Attrs) -> ReplacementOrder {
        match (before.get("name"), after.get("name")) {
            (Some(Value::String(old)), Some(Value::String(new))) if old == new => ReplacementOrder::Collides(format!(
                "its name `{old}` does not change, and two target groups cannot share a name: \
                 use `name_prefix` instead of `name`, or change `name` in the same apply"
            )),
            _ => ReplacementOrder::CreateFirst("listeners and rules may forward to it"),
        }
    }

    fn normalize(&self, attrs: &mut Attrs) {
        if let Some(hc) = health_check_of(attrs) {
            attrs.insert("health_check".into(), Value::List(vec![Value::Map(hc)]));
        }
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_arns(cx, ids).await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        stack_read(cx, ids, "targetgroup", |arns| async move { self.read_untagged(cx, &arns).await }).await
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        validate_create(desired)?;
        let hc = health_check_of(desired).ok_or_else(incomplete)?;
        let name = name_to_create(desired, "tf-");
        let out = retry_on(cx, "CreateTargetGroup", ProviderError::is_not_found, || async {
            let mut req = elb(cx)
                .create_target_group()
                .name(&name)
                .set_port(get_i32(desired, "port"))
                .set_protocol(get_str(desired, "protocol").map(ProtocolEnum::from))
                .target_type(TargetTypeEnum::from(get_str(desired, "target_type").unwrap_or("instance")))
                .set_vpc_id(get_str(desired, "vpc_id").map(str::to_owned))
                .set_health_check_enabled(hc.get("enabled").and_then(Value::as_bool))
                .set_health_check_path(hc_str(&hc, "path").map(str::to_owned))
                .set_health_check_interval_seconds(hc_i32(&hc, "interval"))
                .set_health_check_timeout_seconds(hc_i32(&hc, "timeout"))
                .set_healthy_threshold_count(hc_i32(&hc, "healthy_threshold"))
                .set_unhealthy_threshold_count(hc_i32(&hc, "unhealthy_threshold"))
                .set_health_check_protocol(hc_str(&hc, "protocol").map(ProtocolEnum::from))
                .set_health_check_port(hc_str(&hc, "port").map(str::to_owned))
                .set_tags(elb_tags(desired));
            if let Some(m) = hc_str(&hc, "matcher") {
                req = req.matcher(Matcher::builder().http_code(m).build());
            }
            req.send().await.map_err(aws_err)
        })
        .await?;
        let arn = out
            .target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .ok_or_else(|| ProviderError::new("CreateTargetGroup returned no target group"))?;
        let mut created = with_id(desired, arn);
        created.insert("name".into(), Value::str(&name));
        created.insert("arn".into(), Value::str(arn));
        checkpoint.created(&created).await;

        let delay = desired.get("deregistration_delay").and_then(Value::as_i64).unwrap_or(300);
        if delay != 300 {
            set_deregistration_delay(cx, arn, delay).await?;
        }
        self.read_one(cx, arn).await
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        validate(desired)?;
        let arn = get_id(prior)?;
        let hc = health_check_of(desired).ok_or_else(incomplete)?;
        if health_check_of(prior).as_ref() != Some(&hc) {
            let mut req = elb(cx)
                .modify_target_group()
                .target_group_arn(arn)
                .set_health_check_enabled(hc.get("enabled").and_then(Value::as_bool))
                .set_health_check_path(hc_str(&hc, "path").map(str::to_owned))
                .set_health_check_interval_seconds(hc_i32(&hc, "interval"))
                .set_health_check_timeout_seconds(hc_i32(&hc, "timeout"))
                .set_healthy_threshold_count(hc_i32(&hc, "healthy_threshold"))
                .set_unhealthy_threshold_count(hc_i32(&hc, "unhealthy_threshold"))
                .set_health_check_protocol(hc_str(&hc, "protocol").map(ProtocolEnum::from))
                .set_health_check_port(hc_str(&hc, "port").map(str::to_owned));
            if let Some(m) = hc_str(&hc, "matcher") {
                req = req.matcher(Matcher::builder().http_code(m).build());
            }
            req.send().await.map_err(aws_err)?;
        }
        let delay = desired.get("deregistration_delay").and_then(Value::as_i64).unwrap_or(300);
        if prior.get("deregistration_delay").and_then(Value::as_i64) != Some(delay) {
            set_deregistration_delay(cx, arn, delay).await?;
        }
        sync_tags(cx, arn, prior, desired).await?;
        self.read_one(cx, arn).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let arn = get_id(prior)?;
        let r = retry_on(
            cx,
            "DeleteTargetGroup",
            |e| e.code.as_deref() == Some("ResourceInUse"),
            || async { elb(cx).delete_target_group().target_group_arn(arn).send().await.map_err(aws_err) },
        )
        .await;
        gone_ok(r).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(j: serde_json::Value) -> Attrs {
        let mut a = SCHEMA.normalize(&crate::value::attrs_from_json(&serde_json::from_value(j).unwrap()));
        LbTargetGroup.normalize(&mut a);
        a
    }

    #[test]
    fn health_check_defaults_spelled_out_or_not_normalise_equal() {
        let base = json!({"name": "api", "port": 8080, "protocol": "HTTP", "vpc_id": "vpc-1"});
        let none = canon(base.clone());
        let mut partial = base.clone();
        partial["health_check"] = json!([{"path": "/"}]);
        let mut full = base.clone();
        full["health_check"] = json!([{"enabled": true, "path": "/", "matcher": "200", "interval": 30, "timeout": 6,
            "healthy_threshold": 5, "unhealthy_threshold": 2, "protocol": "HTTP", "port": "traffic-port"}]);
        assert_eq!(none, canon(partial));
        assert_eq!(none, canon(full));
        let mut custom = base;
        custom["health_check"] = json!([{"path": "/health"}]);
        assert_ne!(none, canon(custom));
    }

    #[test]
    fn tcp_groups_have_no_http_defaults() {
        let a = canon(json!({"name": "nlb", "port": 443, "protocol": "TCP", "vpc_id": "vpc-1"}));
        let hc = a["health_check"].as_list().unwrap()[0].as_map().unwrap().clone();
        assert_eq!(hc.get("protocol"), Some(&Value::str("TCP")));
        assert_eq!(hc.get("timeout"), Some(&Value::int(10)));
        assert!(!hc.contains_key("path") && !hc.contains_key("matcher"));
        let a = canon(json!({"name": "nlb", "port": 443, "protocol": "TCP", "vpc_id": "vpc-1",
            "health_check": [{"protocol": "HTTP"}]}));
        let hc = a["health_check"].as_list().unwrap()[0].as_map().unwrap().clone();
        assert_eq!(hc.get("path"), Some(&Value::str("/")));
    }

    #[test]
    fn a_replacement_is_created_first_unless_the_name_stays() {
        let attrs = |name: Value| Attrs::from([("name".to_owned(), name)]);
        let tg = LbTargetGroup;
        assert!(matches!(
            tg.replacement_order(&attrs(Value::str("web")), &attrs(Value::str("web"))),
            ReplacementOrder::Collides(m) if m.contains("`web`") && m.contains("name_prefix")
        ));
        assert!(matches!(
            tg.replacement_order(&attrs(Value::str("web")), &attrs(Value::str("web2"))),
            ReplacementOrder::CreateFirst(_)
        ));
        // `name_prefix`: the new name is known only after apply.
        assert!(matches!(
            tg.replacement_order(&attrs(Value::str("app-1")), &attrs(Value::Unknown)),
            ReplacementOrder::CreateFirst(_)
        ));
    }

    #[test]
    fn replacement_as_terraform() {
        for n in ["name", "name_prefix", "port", "protocol", "target_type", "vpc_id"] {
            assert!(SCHEMA.attribute(n).unwrap().forces_replacement, "{n}");
        }
        for n in ["deregistration_delay", "health_check", "tags"] {
            assert!(!SCHEMA.attribute(n).unwrap().forces_replacement, "{n}");
        }
    }
}
