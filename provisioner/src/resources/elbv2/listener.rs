//! `lb_listener`: a listener of a load balancer, as terraform-provider-aws's `aws_lb_listener`. Import id:
//! the ARN.
//!
//! `default_action` is canonicalised as described in `action.rs` (sorted by `order` then position, orders
//! rewritten to ranks). An HTTPS or TLS listener needs `certificate_arn`; a `forward` action needs
//! `target_group_arn` (checked before any call). Create is one CreateListener carrying all tags (no
//! follow-up call or wait). Update is one ModifyListener (port, protocol, certificate, SSL policy, actions)
//! when any of them differs, and RemoveTags+AddTags. Delete is DeleteListener (gone = done).
//!
//! Read of n listeners on m load balancers: m DescribeListeners (by load balancer, derived from each
//! listener ARN, paginated; at most 8 at once; a gone load balancer means its listeners are gone) and ⌈n/20⌉
//! DescribeTags.
//!
//! `read_stack`: the listeners of the stack's load balancers ([`stack_listeners`]: the Tagging API's listing,
//! then one DescribeListeners per load balancer, shared with `lb_listener_rule`), plus tracked listeners on
//! load balancers the listing lacks. Tags come from the listing where AWS lists listeners, else from
//! DescribeTags — the one `lb_listener_rule`'s `read_stack` makes for its rules and their listeners when it
//! gets there first (`attach_tags_shared`). So a listener created by an interrupted run is found through its
//! load balancer.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{Certificate, Listener as AwsListener, ProtocolEnum};

use super::action::{action_type, from_sdk, normalize_actions, to_sdk, validate_actions};
use super::util::*;
use crate::aws::{aws_err, retry_on, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::schema::{Attribute, Schema, Type};
use crate::value::{Attrs, Value};

pub struct LbListener;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("lb_listener", "A listener of an Elastic Load Balancing v2 load balancer.")
        .taggable()
        .attr(Attribute::string("load_balancer_arn").required().forces_new().describe("The load balancer."))
        .attr(Attribute::number("port").required().describe("Port the load balancer listens on."))
        .attr(Attribute::string("protocol").default("HTTP").one_of(&["HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP"]))
        .attr(Attribute::string("certificate_arn").optional().describe("Default certificate (required for HTTPS/TLS)."))
        .attr(
            Attribute::string("ssl_policy")
                .optional_computed()
                .describe("Security policy of HTTPS/TLS listeners (AWS's default when left out)."),
        )
        .attr(
            Attribute::new("default_action", Type::list(action_type()))
                .required()
                .describe("Actions for requests no rule matches (forward, redirect, fixed-response)."),
        )
        .attr(Attribute::string("arn").computed().describe("ARN (same as id)."))
});

pub(crate) fn validate(desired: &Attrs) -> Result<(), ProviderError> {
    let protocol = get_str(desired, "protocol").unwrap_or("HTTP");
    if matches!(protocol, "HTTPS" | "TLS") && get_str(desired, "certificate_arn").is_none() {
        return Err(invalid(format!("listener: a {protocol} listener needs `certificate_arn`")));
    }
    if let Some(p) = get_i32(desired, "port") {
        if !(1..=65535).contains(&p) {
            return Err(invalid(format!("listener: port {p} is outside 1..65535")));
        }
    }
    validate_actions("listener default_action", desired.get("default_action"))
}

fn listener_attrs(l: &AwsListener) -> Option<(String, Attrs)> {
    let arn = l.listener_arn()?;
    let mut a = Attrs::new();
    a.insert("id".into(), Value::str(arn));
    a.insert("arn".into(), Value::str(arn));
    put_str(&mut a, "load_balancer_arn", l.load_balancer_arn());
    if let Some(p) = l.port() {
        a.insert("port".into(), Value::int(p.into()));
    }
    put_opt(&mut a, "protocol", l.protocol().map(ProtocolEnum::as_str));
    let cert = l.certificates().iter().find(|c| c.is_default() != Some(false)).and_then(|c| c.certificate_arn());
    put_opt(&mut a, "certificate_arn", cert);
    put_opt(&mut a, "ssl_policy", l.ssl_policy());
    a.insert("default_action".into(), from_sdk(l.default_actions()));
    Some((arn.to_owned(), a))
}

/// The listeners of load balancer `lb` (paginated); none when the load balancer is gone.
async fn listeners_of(cx: &Ctx, lb: String) -> Result<Vec<AwsListener>, ProviderError> {
    let mut out = Vec::new();
    let mut pages = elb(cx).describe_listeners().load_balancer_arn(&lb).into_paginator().send();
    while let Some(page) = pages.next().await {
        match gone_ok(page.map_err(aws_err))? {
            Some(p) => out.extend(p.listeners().iter().cloned()),
            None => return Ok(Vec::new()),
        }
    }
    Ok(out)
}

/// The listeners of the stack's load balancers: those the Tagging API lists, and those of the listeners it
/// lists. One DescribeListeners per load balancer, once per refresh (shared with `lb_listener_rule`).
pub(crate) async fn stack_listeners(cx: &Ctx) -> Result<std::sync::Arc<Vec<AwsListener>>, ProviderError> {
    cx.shared("elbv2.DescribeListeners(stack load balancers)", || async {
        let listed = stack_listed(cx).await?;
        let lbs: BTreeSet<String> = listed
            .keys()
            .filter_map(|a| match arn_resource_type(a) {
                Some("loadbalancer") => Some(a.clone()),
                Some("listener") => lb_of_listener(a),
                _ => None,
            })
            .collect();
        Ok(each_bounded(lbs.into_iter().collect(), |lb| listeners_of(cx, lb)).await?.into_iter().flatten().collect())
    })
    .await
}

impl LbListener {
    async fn read_arns(&self, cx: &Ctx, arns: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let wanted: HashSet<&str> = arns.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
        let lbs: Vec<String> = {
            let mut v: Vec<String> = wanted.iter().filter_map(|a| lb_of_listener(a)).collect();
            v.sort();
            v.dedup();
            v
        };
        let found = each_bounded(lbs, |lb| listeners_of(cx, lb)).await?;
        let mut out: HashMap<String, Attrs> = found
            .iter()
            .flatten()
            .filter_map(listener_attrs)
            .filter(|(arn, _)| wanted.contains(arn.as_str()))
            .collect();
        if !out.is_empty() {
            add_tags_to(cx, &mut out).await?;
        }
        Ok(out)
    }

    async fn read_one(&self, cx: &Ctx, arn: &str) -> Result<Attrs, ProviderError> {
        let arns = [arn.to_owned()];
        read_back(cx, "listener", arn, || self.read_arns(cx, &arns)).await
    }
}

fn certificates(desired: &Attrs) -> Option<Vec<Certificate>> {
    get_str(desired, "certificate_arn").map(|c| vec![Certificate::builder().certificate_arn(c).build()])
}

#[async_trait]
impl Resource for LbListener {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        validate(cfg).map_err(|e| e.message)
    }

    fn normalize(&self, attrs: &mut Attrs) {
        if let Some(v) = attrs.get("default_action") {
            let n = normalize_actions(v);
            attrs.insert("default_action".into(), n);
        }
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_arns(cx, ids).await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let tracked: Vec<String> = ids.iter().filter(|s| !s.is_empty()).cloned().collect();
        let listeners = stack_listeners(cx).await?;
        let mut out: HashMap<String, Attrs> = listeners.iter().filter_map(listener_attrs).collect();
        let missed: Vec<String> = tracked.iter().filter(|a| !out.contains_key(*a)).cloned().collect();
        if !missed.is_empty() {
            let mut lbs: Vec<String> = missed.iter().filter_map(|a| lb_of_listener(a)).collect();
            lbs.sort();
            lbs.dedup();
            let found = each_bounded(lbs, |lb| listeners_of(cx, lb)).await?;
            out.extend(found.iter().flatten().filter_map(listener_attrs).filter(|(a, _)| missed.contains(a)));
        }
        attach_tags_shared(cx, &mut out, &*stack_listed(cx).await?, &[]).await?;
        keep_stack_objects(cx, &mut out, &tracked);
        Ok(out)
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        validate(desired)?;
        let lb = req_str(desired, "load_balancer_arn")?;
        let out = retry_on(cx, "CreateListener", ProviderError::is_not_found, || async {
            elb(cx)
                .create_listener()
                .load_balancer_arn(lb)
                .set_port(get_i32(desired, "port"))
                .protocol(ProtocolEnum::from(get_str(desired, "protocol").unwrap_or("HTTP")))
                .set_certificates(certificates(desired))
                .set_ssl_policy(get_str(desired, "ssl_policy").map(str::to_owned))
                .set_default_actions(Some(to_sdk(desired.get("default_action"))))
                .set_tags(elb_tags(desired))
                .send()
                .await
                .map_err(aws_err)
        })
        .await?;
        let arn = out
            .listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .ok_or_else(|| ProviderError::new("CreateListener returned no listener"))?;
        let mut created = with_id(desired, arn);
        created.insert("arn".into(), Value::str(arn));
        checkpoint.created(&created).await;
        self.read_one(cx, arn).await
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        validate(desired)?;
        let arn = get_id(prior)?;
        let mut p = prior.clone();
        let mut d = desired.clone();
        for a in [&mut p, &mut d] {
            self.normalize(a);
        }
        let differs = |k: &str| p.get(k) != d.get(k);
        let ssl_set = desired.get("ssl_policy").is_some_and(|v| !v.is_null());
        if ["port", "protocol", "certificate_arn", "default_action"].iter().any(|k| differs(k))
            || (ssl_set && differs("ssl_policy"))
        {
            elb(cx)
                .modify_listener()
                .listener_arn(arn)
                .set_port(get_i32(desired, "port"))
                .set_protocol(get_str(desired, "protocol").map(ProtocolEnum::from))
                .set_certificates(certificates(desired))
                .set_ssl_policy(get_str(desired, "ssl_policy").map(str::to_owned))
                .set_default_actions(Some(to_sdk(desired.get("default_action"))))
                .send()
                .await
                .map_err(aws_err)?;
        }
        sync_tags(cx, arn, prior, desired).await?;
        self.read_one(cx, arn).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let arn = get_id(prior)?;
        gone_ok(elb(cx).delete_listener().listener_arn(arn).send().await.map_err(aws_err)).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(j: serde_json::Value) -> Attrs {
        let mut a = SCHEMA.normalize(&crate::value::attrs_from_json(&serde_json::from_value(j).unwrap()));
        LbListener.normalize(&mut a);
        a
    }

    #[test]
    fn https_needs_a_certificate() {
        let fwd = json!([{"type": "forward", "target_group_arn": "tg"}]);
        let e = validate(&attrs(
            json!({"load_balancer_arn": "lb", "port": 443, "protocol": "HTTPS", "default_action": fwd}),
        ))
        .unwrap_err();
        assert!(e.message.contains("certificate_arn"), "{e}");
        assert!(validate(&attrs(json!({"load_balancer_arn": "lb", "port": 443, "protocol": "HTTPS",
            "certificate_arn": "arn:cert", "default_action": fwd})))
        .is_ok());
        assert!(validate(&attrs(
            json!({"load_balancer_arn": "lb", "port": 80, "default_action": [{"type": "forward"}]})
        ))
        .is_err());
    }

    #[test]
    fn load_balancer_forces_replacement_only() {
        assert!(SCHEMA.attribute("load_balancer_arn").unwrap().forces_replacement);
        for n in ["port", "protocol", "certificate_arn", "ssl_policy", "default_action"] {
            assert!(!SCHEMA.attribute(n).unwrap().forces_replacement, "{n}");
        }
    }
}
