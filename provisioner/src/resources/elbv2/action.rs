//! Listener and rule actions (`default_action` of `lb_listener`, `action` of `lb_listener_rule`): schema,
//! canonical form, validation and conversion to and from the SDK.
//!
//! Canonical form: the actions sorted by `order` (actions without one after those with one), then by
//! position, and `order` rewritten to the rank (1, 2, …) — only the relative order matters to AWS, and the
//! ranks are what create and update send, so a re-plan is empty whatever order values were written
//! (terraform-provider-aws#6116/#6124). Redirect parts left out get AWS's defaults (`#{host}`, `/#{path}`,
//! `#{port}`, `#{protocol}`, `#{query}`); sub-blocks that are empty are dropped.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, RedirectActionConfig, RedirectActionStatusCodeEnum,
};

use super::util::invalid;
use crate::aws::ProviderError;
use crate::schema::{Attribute, Type};
use crate::value::Value;

const REDIRECT_DEFAULTS: [(&str, &str); 5] = [
    ("host", "#{host}"),
    ("path", "/#{path}"),
    ("port", "#{port}"),
    ("protocol", "#{protocol}"),
    ("query", "#{query}"),
];

pub(crate) fn action_type() -> Type {
    Type::Object(vec![
        Attribute::string("type").required().one_of(&["forward", "redirect", "fixed-response"]),
        Attribute::string("target_group_arn").describe("forward: the target group."),
        Attribute::number("order").describe("Position among the actions (lowest first); default: written order."),
        Attribute::new(
            "redirect",
            Type::list(Type::Object(vec![
                Attribute::string("host"),
                Attribute::string("path"),
                Attribute::string("port"),
                Attribute::string("protocol"),
                Attribute::string("query"),
                Attribute::string("status_code").required().one_of(&["HTTP_301", "HTTP_302"]),
            ])),
        )
        .describe("redirect: one block."),
        Attribute::new(
            "fixed_response",
            Type::list(Type::Object(vec![
                Attribute::string("content_type").required(),
                Attribute::string("message_body"),
                Attribute::string("status_code").required(),
            ])),
        )
        .describe("fixed-response: one block."),
    ])
}

/// The canonical form of a list of actions (see the module doc); anything unknown or malformed is left
/// alone.
pub(crate) fn normalize_actions(v: &Value) -> Value {
    let Some(items) = v.as_list() else { return v.clone() };
    let mut keyed = Vec::with_capacity(items.len());
    for (pos, item) in items.iter().enumerate() {
        let Some(m) = item.as_map() else { return v.clone() };
        let order = match m.get("order") {
            None | Some(Value::Null) => i64::MAX,
            Some(o) => match o.as_i64() {
                Some(n) => n,
                None => return v.clone(),
            },
        };
        keyed.push(((order, pos), normalize_action(m)));
    }
    keyed.sort_by_key(|(k, _)| *k);
    Value::List(
        keyed
            .into_iter()
            .enumerate()
            .map(|(rank, (_, mut m))| {
                m.insert("order".into(), Value::int(rank as i64 + 1));
                Value::Map(m)
            })
            .collect(),
    )
}

fn normalize_action(m: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    let mut out: BTreeMap<String, Value> =
        m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect();
    for block in ["redirect", "fixed_response"] {
        match out.get(block) {
            Some(Value::List(items)) if items.is_empty() => {
                out.remove(block);
            }
            _ => {}
        }
    }
    if let Some(Value::List(items)) = out.get_mut("redirect") {
        for item in items.iter_mut() {
            if let Value::Map(r) = item {
                r.retain(|_, v| !v.is_null());
                for (k, d) in REDIRECT_DEFAULTS {
                    r.entry(k.to_owned()).or_insert_with(|| Value::str(d));
                }
            }
        }
    }
    if let Some(Value::List(items)) = out.get_mut("fixed_response") {
        for item in items.iter_mut() {
            if let Value::Map(r) = item {
                r.retain(|_, v| !v.is_null());
            }
        }
    }
    out
}

fn block<'a>(m: &'a BTreeMap<String, Value>, name: &str) -> Option<&'a BTreeMap<String, Value>> {
    m.get(name)?.as_list()?.first()?.as_map()
}

fn s<'a>(m: &'a BTreeMap<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Checks each action has what its type needs: `forward` a `target_group_arn`, `redirect` a `redirect`
/// block, `fixed-response` a `fixed_response` block.
pub(crate) fn validate_actions(what: &str, v: Option<&Value>) -> Result<(), ProviderError> {
    let items = v.and_then(Value::as_list).unwrap_or_default();
    if items.is_empty() {
        return Err(invalid(format!("{what}: at least one action is required")));
    }
    for (i, item) in items.iter().enumerate() {
        let Some(m) = item.as_map() else { continue };
        let ty = m.get("type").and_then(Value::as_str).unwrap_or_default();
        let n = i + 1;
        match ty {
            "forward" if m.get("target_group_arn").is_none_or(|v| v.is_null() || v.as_str() == Some("")) => {
                return Err(invalid(format!("{what}: action {n} (forward) needs `target_group_arn`")))
            }
            "redirect" if block(m, "redirect").is_none() => {
                return Err(invalid(format!("{what}: action {n} (redirect) needs a `redirect` block")))
            }
            "fixed-response" if block(m, "fixed_response").is_none() => {
                return Err(invalid(format!("{what}: action {n} (fixed-response) needs a `fixed_response` block")))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The SDK actions of a (canonical) list of actions.
pub(crate) fn to_sdk(v: Option<&Value>) -> Vec<Action> {
    let normalized = v.map(normalize_actions).unwrap_or(Value::List(vec![]));
    let items = normalized.as_list().unwrap_or_default();
    items
        .iter()
        .filter_map(Value::as_map)
        .map(|m| {
            let mut a = Action::builder()
                .r#type(ActionTypeEnum::from(m.get("type").and_then(Value::as_str).unwrap_or_default()))
                .set_order(m.get("order").and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok()))
                .set_target_group_arn(s(m, "target_group_arn").map(str::to_owned));
            if let Some(r) = block(m, "redirect") {
                a = a.redirect_config(
                    RedirectActionConfig::builder()
                        .set_host(s(r, "host").map(str::to_owned))
                        .set_path(s(r, "path").map(str::to_owned))
                        .set_port(s(r, "port").map(str::to_owned))
                        .set_protocol(s(r, "protocol").map(str::to_owned))
                        .set_query(s(r, "query").map(str::to_owned))
                        .set_status_code(s(r, "status_code").map(RedirectActionStatusCodeEnum::from))
                        .build(),
                );
            }
            if let Some(f) = block(m, "fixed_response") {
                a = a.fixed_response_config(
                    FixedResponseActionConfig::builder()
                        .set_content_type(s(f, "content_type").map(str::to_owned))
                        .set_message_body(s(f, "message_body").map(str::to_owned))
                        .set_status_code(s(f, "status_code").map(str::to_owned))
                        .build(),
                );
            }
            a.build()
        })
        .collect()
}

/// The canonical attribute value of the actions AWS reports.
pub(crate) fn from_sdk(actions: &[Action]) -> Value {
    let items = actions
        .iter()
        .map(|a| {
            let mut m = BTreeMap::new();
            m.insert("type".to_owned(), Value::str(a.r#type().map(ActionTypeEnum::as_str).unwrap_or_default()));
            if let Some(o) = a.order() {
                m.insert("order".to_owned(), Value::int(o.into()));
            }
            // A single-target forward may come back only as a ForwardConfig.
            let tg = a.target_group_arn().map(str::to_owned).or_else(|| {
                let groups = a.forward_config()?.target_groups();
                (groups.len() == 1).then(|| groups[0].target_group_arn().map(str::to_owned)).flatten()
            });
            if let Some(tg) = tg.filter(|t| !t.is_empty()) {
                m.insert("target_group_arn".to_owned(), Value::str(tg));
            }
            if let Some(r) = a.redirect_config() {
                let mut rm = BTreeMap::new();
                for (k, v) in [
                    ("host", r.host()),
                    ("path", r.path()),
                    ("port", r.port()),
                    ("protocol", r.protocol()),
                    ("query", r.query()),
                    ("status_code", r.status_code().map(RedirectActionStatusCodeEnum::as_str)),
                ] {
                    if let Some(v) = v {
                        rm.insert(k.to_owned(), Value::str(v));
                    }
                }
                m.insert("redirect".to_owned(), Value::List(vec![Value::Map(rm)]));
            }
            if let Some(f) = a.fixed_response_config() {
                let mut fm = BTreeMap::new();
                for (k, v) in [
                    ("content_type", f.content_type()),
                    ("message_body", f.message_body()),
                    ("status_code", f.status_code()),
                ] {
                    if let Some(v) = v.filter(|v| !v.is_empty()) {
                        fm.insert(k.to_owned(), Value::str(v));
                    }
                }
                m.insert("fixed_response".to_owned(), Value::List(vec![Value::Map(fm)]));
            }
            Value::Map(m)
        })
        .collect();
    normalize_actions(&Value::List(items))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(j: serde_json::Value) -> Value {
        Value::from_json(&j)
    }

    #[test]
    fn order_normalises_by_order_then_position() {
        let written = v(json!([
            {"type": "fixed-response", "fixed_response": [{"content_type": "text/plain", "status_code": "404"}]},
            {"type": "forward", "target_group_arn": "tg-b", "order": 20},
            {"type": "forward", "target_group_arn": "tg-a", "order": 10},
            {"type": "redirect", "redirect": [{"status_code": "HTTP_301", "protocol": "HTTPS"}]},
        ]));
        let n = normalize_actions(&written);
        let items = n.as_list().unwrap();
        let kinds: Vec<_> = items
            .iter()
            .map(|i| {
                (
                    i.get("order").unwrap().as_i64().unwrap(),
                    i.get("target_group_arn")
                        .and_then(Value::as_str)
                        .unwrap_or(i.get("type").unwrap().as_str().unwrap()),
                )
            })
            .collect();
        assert_eq!(kinds, [(1, "tg-a"), (2, "tg-b"), (3, "fixed-response"), (4, "redirect")]);
        // Redirect defaults filled; idempotent.
        let r = items[3].get("redirect").unwrap().as_list().unwrap()[0].clone();
        assert_eq!(r.get("host"), Some(&Value::str("#{host}")));
        assert_eq!(r.get("protocol"), Some(&Value::str("HTTPS")));
        assert_eq!(normalize_actions(&n), n);
        // What AWS reports for the same actions (orders 1..4 as sent) normalises equal.
        let back = from_sdk(&to_sdk(Some(&written)));
        assert_eq!(back, n);
    }

    #[test]
    fn unknowns_are_left_alone() {
        let with_unknown = Value::List(vec![Value::Map(BTreeMap::from([
            ("type".to_owned(), Value::str("forward")),
            ("order".to_owned(), Value::Unknown),
        ]))]);
        assert_eq!(normalize_actions(&with_unknown), with_unknown);
        let unknown_tg = v(json!([{"type": "forward"}]));
        let mut m = unknown_tg.as_list().unwrap()[0].as_map().unwrap().clone();
        m.insert("target_group_arn".into(), Value::Unknown);
        let n = normalize_actions(&Value::List(vec![Value::Map(m)]));
        assert_eq!(n.as_list().unwrap()[0].get("target_group_arn"), Some(&Value::Unknown));
    }

    #[test]
    fn validation_of_actions() {
        assert!(validate_actions("x", Some(&v(json!([{"type": "forward", "target_group_arn": "arn"}])))).is_ok());
        let e = validate_actions("x", Some(&v(json!([{"type": "forward"}])))).unwrap_err();
        assert!(e.message.contains("target_group_arn"), "{e}");
        assert!(validate_actions("x", Some(&v(json!([{"type": "redirect"}])))).is_err());
        assert!(validate_actions("x", Some(&v(json!([{"type": "fixed-response"}])))).is_err());
        assert!(validate_actions("x", Some(&v(json!([])))).is_err());
        assert!(validate_actions("x", None).is_err());
    }
}
