//! `lb_listener_rule`: a rule of a listener, as terraform-provider-aws's `aws_lb_listener_rule`. Import id:
//! the ARN.
//!
//! `action` is canonicalised as `lb_listener`'s `default_action` (see `action.rs`); `condition` is a set of
//! blocks, each with `path_pattern { values }` and/or `host_header { values }` (values are sets). Checked
//! before any call: `priority` in 1..50000, at least one condition, each action complete. Create is one
//! CreateRule carrying all tags. Update is SetRulePriorities when the priority changed, one ModifyRule when
//! actions or conditions changed, RemoveTags+AddTags. Delete is DeleteRule (gone = done).
//!
//! Read of n rules on k listeners: k DescribeRules (by listener, derived from each rule ARN, paginated; at
//! most 8 at once; a gone listener means its rules are gone) and ⌈n/20⌉ DescribeTags.
//!
//! `read_stack`: the rules of the listeners of tracked rules (read at once, beside the Tagging API's
//! listing), then those of the stack's other listeners (`listener::stack_listeners`), so a rule created by
//! an interrupted run is found through its listener. Default rules are not `lb_listener_rule`s (they are
//! the listener's `default_action`) and never appear. Tags come from the listing where AWS lists rules, else
//! from DescribeTags, which also asks the tags of the rules' listeners for `lb_listener`'s `read_stack` (one
//! call per refresh for both, `attach_tags_shared`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    HostHeaderConditionConfig, PathPatternConditionConfig, Rule as AwsRule, RuleCondition, RulePriorityPair,
};

use super::action::{action_type, from_sdk, normalize_actions, to_sdk, validate_actions};
use super::util::*;
use crate::aws::{aws_err, retry_on, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::schema::{Attribute, Schema, Type};
use crate::value::{Attrs, Value};

pub struct LbListenerRule;

/// Condition kinds modelled: attribute name and AWS field.
const FIELDS: [(&str, &str); 2] = [("path_pattern", "path-pattern"), ("host_header", "host-header")];

fn values_block() -> Type {
    Type::list(Type::Object(vec![Attribute::new("values", Type::set(Type::String)).required()]))
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("lb_listener_rule", "A rule of an Elastic Load Balancing v2 listener.")
        .taggable()
        .attr(Attribute::string("listener_arn").required().forces_new().describe("The listener."))
        .attr(Attribute::number("priority").required().describe("1..50000, unique in the listener; lowest first."))
        .attr(Attribute::new("action", Type::list(action_type())).required().describe("Actions of matching requests."))
        .attr(
            Attribute::new(
                "condition",
                Type::set(Type::Object(vec![
                    Attribute::new("path_pattern", values_block()).describe("Path patterns, e.g. `/api/*`."),
                    Attribute::new("host_header", values_block()).describe("Host names, e.g. `*.example.com`."),
                ])),
            )
            .required()
            .describe("All must match (path_pattern and/or host_header blocks)."),
        )
        .attr(Attribute::string("arn").computed().describe("ARN (same as id)."))
});

pub(crate) fn validate(desired: &Attrs) -> Result<(), ProviderError> {
    match desired.get("priority").and_then(Value::as_i64) {
        Some(p) if (1..=50000).contains(&p) => {}
        Some(p) => return Err(invalid(format!("listener rule: priority {p} is outside 1..50000"))),
        None => return Err(invalid("listener rule: `priority` is required (1..50000)")),
    }
    let conditions = desired.get("condition").and_then(Value::as_list).unwrap_or_default();
    if conditions.is_empty() {
        return Err(invalid("listener rule: at least one `condition` is required"));
    }
    for c in conditions {
        let has = FIELDS.iter().any(|(k, _)| c.get(k).and_then(Value::as_list).is_some_and(|l| !l.is_empty()));
        if !has {
            return Err(invalid("listener rule: each `condition` needs a `path_pattern` or `host_header` block"));
        }
    }
    validate_actions("listener rule action", desired.get("action"))
}

/// The values of condition block `name` of `cond`.
fn cond_values(cond: &Value, name: &str) -> Option<Vec<String>> {
    cond.get(name)?.as_list()?.first()?.get("values")?.as_str_list()
}

/// The SDK conditions of the `condition` attribute: one RuleCondition per block (AWS takes one field per
/// condition).
fn conditions_to_sdk(v: Option<&Value>) -> Vec<RuleCondition> {
    let mut out = Vec::new();
    for c in v.and_then(Value::as_list).unwrap_or_default() {
        if let Some(vals) = cond_values(c, "path_pattern") {
            out.push(
                RuleCondition::builder()
                    .field("path-pattern")
                    .path_pattern_config(PathPatternConditionConfig::builder().set_values(Some(vals)).build())
                    .build(),
            );
        }
        if let Some(vals) = cond_values(c, "host_header") {
            out.push(
                RuleCondition::builder()
                    .field("host-header")
                    .host_header_config(HostHeaderConditionConfig::builder().set_values(Some(vals)).build())
                    .build(),
            );
        }
    }
    out
}

fn values_value(vals: &[String]) -> Value {
    let mut v = vals.to_vec();
    v.sort();
    v.dedup();
    Value::List(vec![Value::Map(BTreeMap::from([("values".to_owned(), Value::string_list(v))]))])
}

/// The `condition` value of the conditions AWS reports (one block per condition; unmodelled fields are
/// left out).
fn conditions_from_sdk(conds: &[RuleCondition]) -> Value {
    let mut out = Vec::new();
    for c in conds {
        let field = c.field().unwrap_or_default();
        let vals: Vec<String> = match field {
            "path-pattern" => c.path_pattern_config().map(|p| p.values().to_vec()),
            "host-header" => c.host_header_config().map(|h| h.values().to_vec()),
            _ => None,
        }
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| c.values().to_vec());
        if let Some((name, _)) = FIELDS.iter().find(|(_, f)| *f == field) {
            out.push(Value::Map(BTreeMap::from([((*name).to_owned(), values_value(&vals))])));
        }
    }
    Value::List(out)
}

/// Splits conditions with both blocks into one per block, as AWS stores them, so both sides compare equal.
fn normalize_conditions(v: &Value) -> Value {
    let Some(items) = v.as_list() else { return v.clone() };
    if !v.is_known() {
        return v.clone();
    }
    let mut out = Vec::new();
    for c in items {
        let Some(m) = c.as_map() else { return v.clone() };
        for (name, _) in FIELDS {
            if let Some(vals) = cond_values(c, name) {
                out.push(Value::Map(BTreeMap::from([(name.to_owned(), values_value(&vals))])));
            }
        }
        if m.keys().any(|k| !FIELDS.iter().any(|(n, _)| n == k)) {
            return v.clone();
        }
    }
    out.sort_by_cached_key(Value::canonical);
    out.dedup();
    Value::List(out)
}

fn rule_attrs(listener: &str, r: &AwsRule) -> Option<(String, Attrs)> {
    let arn = r.rule_arn()?;
    if r.is_default() == Some(true) {
        return None;
    }
    let mut a = Attrs::new();
    a.insert("id".into(), Value::str(arn));
    a.insert("arn".into(), Value::str(arn));
    a.insert("listener_arn".into(), Value::str(listener));
    if let Some(p) = r.priority().and_then(|p| p.parse::<i64>().ok()) {
        a.insert("priority".into(), Value::int(p));
    }
    a.insert("action".into(), from_sdk(r.actions()));
    a.insert("condition".into(), conditions_from_sdk(r.conditions()));
    Some((arn.to_owned(), a))
}

/// The rules of `listener` (paginated); none when the listener is gone.
async fn rules_of(cx: &Ctx, listener: String) -> Result<Vec<(String, Attrs)>, ProviderError> {
    let mut out = Vec::new();
    let mut pages = elb(cx).describe_rules().listener_arn(&listener).into_paginator().send();
    while let Some(page) = pages.next().await {
        match gone_ok(page.map_err(aws_err))? {
            Some(p) => out.extend(p.rules().iter().filter_map(|r| rule_attrs(&listener, r))),
            None => return Ok(Vec::new()),
        }
    }
    Ok(out)
}

impl LbListenerRule {
    async fn read_arns(&self, cx: &Ctx, arns: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let wanted: HashSet<&str> = arns.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
        let mut listeners: Vec<String> = wanted.iter().filter_map(|a| listener_of_rule(a)).collect();
        listeners.sort();
        listeners.dedup();
        let found = each_bounded(listeners, |l| rules_of(cx, l)).await?;
        let mut out: HashMap<String, Attrs> =
            found.into_iter().flatten().filter(|(arn, _)| wanted.contains(arn.as_str())).collect();
        if !out.is_empty() {
            add_tags_to(cx, &mut out).await?;
        }
        Ok(out)
    }

    async fn read_one(&self, cx: &Ctx, arn: &str) -> Result<Attrs, ProviderError> {
        let arns = [arn.to_owned()];
        read_back(cx, "listener rule", arn, || self.read_arns(cx, &arns)).await
    }
}

#[async_trait]
impl Resource for LbListenerRule {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        validate(cfg).map_err(|e| e.message)
    }

    fn normalize(&self, attrs: &mut Attrs) {
        if let Some(v) = attrs.get("action") {
            let n = normalize_actions(v);
            attrs.insert("action".into(), n);
        }
        if let Some(v) = attrs.get("condition") {
            let n = normalize_conditions(v);
            attrs.insert("condition".into(), n);
        }
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_arns(cx, ids).await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let tracked: Vec<String> = ids.iter().filter(|s| !s.is_empty()).cloned().collect();
        let mut first: Vec<String> = tracked.iter().filter_map(|a| listener_of_rule(a)).collect();
        first.sort();
        first.dedup();
        let tracked_rules = async {
            let (listed, found) =
                futures::try_join!(stack_listed(cx), each_bounded(first.clone(), |l| rules_of(cx, l)))?;
            let mut out: HashMap<String, Attrs> = found.into_iter().flatten().collect();
            // The listeners' tags come in the same DescribeTags (the listener reader takes them from it).
            attach_tags_shared(cx, &mut out, &listed, &first).await?;
            Ok::<_, ProviderError>(out)
        };
        let other_rules = async {
            let listed = stack_listed(cx).await?;
            let mut others: BTreeSet<String> = super::listener::stack_listeners(cx)
                .await?
                .iter()
                .filter_map(|l| l.listener_arn().map(str::to_owned))
                .chain(listed.keys().filter(|a| arn_resource_type(a) == Some("listener")).cloned())
                .collect();
            others.retain(|l| !first.contains(l));
            let found = each_bounded(others.into_iter().collect(), |l| rules_of(cx, l)).await?;
            let mut out: HashMap<String, Attrs> = found.into_iter().flatten().collect();
            attach_tags_shared(cx, &mut out, &listed, &[]).await?;
            Ok::<_, ProviderError>(out)
        };
        let (mut out, others) = futures::try_join!(tracked_rules, other_rules)?;
        out.extend(others);
        keep_stack_objects(cx, &mut out, &tracked);
        Ok(out)
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        validate(desired)?;
        let listener = req_str(desired, "listener_arn")?;
        let priority = get_i32(desired, "priority");
        let out = retry_on(cx, "CreateRule", ProviderError::is_not_found, || async {
            elb(cx)
                .create_rule()
                .listener_arn(listener)
                .set_priority(priority)
                .set_conditions(Some(conditions_to_sdk(desired.get("condition"))))
                .set_actions(Some(to_sdk(desired.get("action"))))
                .set_tags(elb_tags(desired))
                .send()
                .await
                .map_err(aws_err)
        })
        .await?;
        let arn = out
            .rules()
            .first()
            .and_then(|r| r.rule_arn())
            .ok_or_else(|| ProviderError::new("CreateRule returned no rule"))?;
        let mut created = with_id(desired, arn);
        created.insert("arn".into(), Value::str(arn));
        checkpoint.created(&created).await;
        self.read_one(cx, arn).await
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        validate(desired)?;
        let arn = get_id(prior)?;
        let (mut p, mut d) = (prior.clone(), desired.clone());
        self.normalize(&mut p);
        self.normalize(&mut d);
        if p.get("priority") != d.get("priority") {
            elb(cx)
                .set_rule_priorities()
                .rule_priorities(
                    RulePriorityPair::builder().rule_arn(arn).set_priority(get_i32(desired, "priority")).build(),
                )
                .send()
                .await
                .map_err(aws_err)?;
        }
        if p.get("action") != d.get("action") || p.get("condition") != d.get("condition") {
            elb(cx)
                .modify_rule()
                .rule_arn(arn)
                .set_conditions(Some(conditions_to_sdk(desired.get("condition"))))
                .set_actions(Some(to_sdk(desired.get("action"))))
                .send()
                .await
                .map_err(aws_err)?;
        }
        sync_tags(cx, arn, prior, desired).await?;
        self.read_one(cx, arn).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let arn = get_id(prior)?;
        gone_ok(elb(cx).delete_rule().rule_arn(arn).send().await.map_err(aws_err)).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(j: serde_json::Value) -> Attrs {
        let mut a = SCHEMA.normalize(&crate::value::attrs_from_json(&serde_json::from_value(j).unwrap()));
        LbListenerRule.normalize(&mut a);
        a
    }

    fn rule(priority: i64) -> serde_json::Value {
        json!({"listener_arn": "l", "priority": priority,
               "action": [{"type": "forward", "target_group_arn": "tg"}],
               "condition": [{"path_pattern": [{"values": ["/api/*"]}]}]})
    }

    #[test]
    fn priority_range() {
        assert!(validate(&attrs(rule(1))).is_ok());
        assert!(validate(&attrs(rule(50000))).is_ok());
        for p in [0, 50001, -3] {
            let e = validate(&attrs(rule(p))).unwrap_err();
            assert!(e.message.contains("1..50000"), "{e}");
        }
        let mut no_cond = rule(5);
        no_cond["condition"] = json!([]);
        assert!(validate(&attrs(no_cond)).is_err());
    }

    #[test]
    fn conditions_round_trip_and_split() {
        let written = attrs(json!({"listener_arn": "l", "priority": 1, "action": [],
            "condition": [{"path_pattern": [{"values": ["/b", "/a"]}], "host_header": [{"values": ["x.example.com"]}]}]}));
        let back = conditions_from_sdk(&conditions_to_sdk(written.get("condition")));
        assert_eq!(normalize_conditions(&back), written["condition"]);
        assert_eq!(written["condition"].as_list().unwrap().len(), 2);
    }
}
