//! Keeping sensitive values out of everything the tool prints: which parts of a configuration are
//! computed from a `sensitive = true` variable (a static taint over references), and a process-wide
//! redactor that replaces the known values of sensitive variables in any text — rendered plans, JSON
//! output, error messages and log lines — with `(sensitive value)`.
//!
//! The taint marks whole attributes: an attribute whose expression refers to a sensitive variable, to a
//! local computed from one, or to an instance with such an attribute is shown as `(sensitive value)` in
//! plans, and an output computed from one is sensitive. The redactor is the second line: it catches a value
//! wherever it is copied verbatim (an AWS error echoing a parameter, a log line). Values shorter than
//! [`MIN_LEN`] characters are not redacted textually (they would blank out unrelated text); the taint still
//! covers them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::RwLock;

use crate::lang::expr::{Expr, ExprKind, Traversal};
use crate::lang::{Config, Node, Ref};
use crate::value::Value;

/// What replaces a sensitive value in text.
pub const REDACTED: &str = "(sensitive value)";

/// Shorter values are not replaced in free text.
pub const MIN_LEN: usize = 4;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Registers the string forms of `v` (and of every string inside it) for [`redact`].
pub fn register(v: &Value) {
    let mut found = Vec::new();
    collect(v, &mut found);
    if found.is_empty() {
        return;
    }
    let mut s = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for f in found {
        if !s.contains(&f) {
            s.push(f);
        }
    }
    // Longest first, so a secret containing another is replaced whole.
    s.sort_by_key(|x| std::cmp::Reverse(x.len()));
}

fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.chars().count() >= MIN_LEN => out.push(s.clone()),
        Value::Number(_) | Value::Bool(_) | Value::String(_) | Value::Null | Value::Unknown => {}
        Value::List(items) => items.iter().for_each(|i| collect(i, out)),
        Value::Map(m) => m.values().for_each(|i| collect(i, out)),
    }
}

/// `text` with every registered sensitive value replaced by [`REDACTED`].
pub fn redact(text: &str) -> std::borrow::Cow<'_, str> {
    let s = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    if !s.iter().any(|x| text.contains(x.as_str())) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = text.to_owned();
    for x in s.iter() {
        out = out.replace(x.as_str(), REDACTED);
    }
    std::borrow::Cow::Owned(out)
}

/// Which parts of a configuration are computed from sensitive variables.
#[derive(Clone, Debug, Default)]
pub struct Taint {
    /// Block key (`ecs_task_definition.api`) → its attributes computed from a sensitive value.
    pub attrs: BTreeMap<String, BTreeSet<String>>,
    /// Outputs computed from a sensitive value.
    pub outputs: BTreeSet<String>,
}

impl Taint {
    /// Follows references to a fixed point: sensitive variables taint the locals, attributes and outputs
    /// that refer to them; a tainted local or instance taints whatever refers to it.
    pub fn of(config: &Config) -> Taint {
        let mut tainted: BTreeSet<String> =
            config.variables.values().filter(|v| v.sensitive).map(|v| format!("var.{}", v.name)).collect();
        let mut taint = Taint::default();
        if tainted.is_empty() {
            return taint;
        }
        // What each local, attribute and output refers to, walked once; the fixed point below only looks up.
        type Uses = Vec<(String, Option<String>)>;
        let locals: Vec<(String, Uses)> =
            config.locals.iter().map(|(name, node)| (format!("local.{name}"), uses(node))).collect();
        let attrs: Vec<(String, String, Uses)> = config
            .blocks
            .iter()
            .flat_map(|b| b.attrs.iter().map(move |(attr, node)| (b.key(), attr.clone(), uses(node))))
            .collect();
        // Whether something uses a tainted variable or local, or a tainted attribute of an instance (or a
        // whole instance that has one).
        let uses_tainted = |u: &Uses, tainted: &BTreeSet<String>, taint: &Taint| {
            u.iter().any(|(key, attr)| match attr {
                None => tainted.contains(key) || taint.attrs.get(key).is_some_and(|a| !a.is_empty()),
                Some(a) => taint.attrs.get(key).is_some_and(|t| t.contains(a)),
            })
        };
        loop {
            let before = tainted.len() + taint.attrs.values().map(BTreeSet::len).sum::<usize>();
            for (local, u) in &locals {
                if uses_tainted(u, &tainted, &taint) {
                    tainted.insert(local.clone());
                }
            }
            for (block, attr, u) in &attrs {
                if uses_tainted(u, &tainted, &taint) {
                    taint.attrs.entry(block.clone()).or_default().insert(attr.clone());
                }
            }
            let after = tainted.len() + taint.attrs.values().map(BTreeSet::len).sum::<usize>();
            if after == before {
                break;
            }
        }
        for (name, o) in &config.outputs {
            if uses_tainted(&uses(&o.value), &tainted, &taint) {
                taint.outputs.insert(name.clone());
            }
        }
        taint
    }
}

/// What a node refers to: (`var.x` / `local.x` / block key, the attribute read from it when the reference
/// is followed by one, e.g. `db_instance.main["a"].address`). A block referred to without an attribute
/// (passed whole) appears with `None`.
fn uses(node: &Node) -> Vec<(String, Option<String>)> {
    let mut refs: BTreeMap<String, usize> = BTreeMap::new();
    let mut attrs: Vec<(String, String)> = Vec::new();
    node.templates(&mut |t| {
        t.walk(&mut |e: &Expr| {
            let (base, attr) = match &e.kind {
                ExprKind::Ref(r, _) => {
                    let key = match r {
                        Ref::Var(n) => format!("var.{n}"),
                        other => other.key(),
                    };
                    *refs.entry(key).or_default() += 1;
                    return;
                }
                ExprKind::GetAttr(base, name, _) => (base, name.clone()),
                ExprKind::Splat(base, travs) => match travs.first() {
                    Some(Traversal::Attr(name, _)) => (base, name.clone()),
                    _ => return,
                },
                _ => return,
            };
            let mut b: &Expr = base;
            while let ExprKind::Index(inner, _) = &b.kind {
                b = inner;
            }
            if let ExprKind::Ref(r @ Ref::Resource { .. }, _) = &b.kind {
                attrs.push((r.key(), attr));
            }
        })
    });
    let mut out: Vec<(String, Option<String>)> = attrs.iter().map(|(k, a)| (k.clone(), Some(a.clone()))).collect();
    for (key, n) in refs {
        if n > attrs.iter().filter(|(k, _)| *k == key).count() {
            out.push((key, None));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_replaced_longest_first_and_short_ones_are_left() {
        register(&Value::String("hunter2-and-more".into()));
        register(&Value::List(vec![Value::String("hunter2".into()), Value::String("ab".into())]));
        assert_eq!(redact("pw=hunter2-and-more; x=hunter2; y=ab"), "pw=(sensitive value); x=(sensitive value); y=ab");
        assert!(matches!(redact("nothing here"), std::borrow::Cow::Borrowed(_)));
    }
}
