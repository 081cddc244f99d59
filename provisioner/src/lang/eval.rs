//! Evaluation of parsed nodes and expressions against a [`Scope`] of known values, `for_each` expansion,
//! and schema conformance of a block's evaluated attributes.
//!
//! Unknown values propagate: an operation on an unknown yields unknown, except where the result does not
//! depend on it (`length` of a known list, a conditional whose condition is known, `false && x`).
//! Every error is located at the sub-expression that caused it.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use crate::schema::Schema;
use crate::value::{Attrs, Value};

use super::diag::{Diagnostic, Diagnostics, Loc, SourceFile};
use super::expr::{BinOp, Expr, ExprKind, Part, Template, Traversal, UnOp};
use super::{funcs, Block, Node, Ref};

/// What expressions can see while being evaluated.
pub struct Scope<'a> {
    pub vars: &'a BTreeMap<String, Value>,
    pub locals: &'a BTreeMap<String, Value>,
    /// Block key → value: an object for a single block, a map of instance key → object for a `for_each` block.
    pub resources: &'a BTreeMap<String, Value>,
    /// (each.key, each.value) inside a `for_each` block.
    pub each: Option<(&'a Value, &'a Value)>,
    /// The selected workspace, `${workspace}`.
    pub workspace: &'a str,
}

/// Evaluates an attribute's node tree.
pub fn eval(node: &Node, scope: &Scope) -> Result<Value, Diagnostic> {
    match node {
        Node::Literal(v, _) => Ok(v.clone()),
        Node::Template(t, loc) => Ev { file: &loc.file, scope }.template(t),
        Node::List(items, _) => Ok(Value::List(items.iter().map(|n| eval(n, scope)).collect::<Result<_, _>>()?)),
        Node::Map(items, _) => Ok(Value::Map(
            items.iter().map(|(k, n)| Ok((k.clone(), eval(n, scope)?))).collect::<Result<_, Diagnostic>>()?,
        )),
    }
}

/// Evaluates one expression whose spans are in `file`.
pub fn eval_expr(expr: &Expr, file: &Arc<SourceFile>, scope: &Scope) -> Result<Value, Diagnostic> {
    Ev { file, scope }.expr(expr)
}

/// Evaluates a block's attributes and conforms each to its schema attribute (type and format), converting
/// as Terraform does (`"80"` → 80 for a number, one table → a one-element block list; see
/// [`crate::schema::Type::check`]). Attributes that evaluate to null are left out (as if unset), and so is
/// a nested block given as one `${…}` that yields an empty list (Terraform's `dynamic` block with nothing
/// to generate).
pub fn eval_attrs(block: &Block, schema: &Schema, scope: &Scope) -> Result<Attrs, Diagnostics> {
    let mut out = Attrs::new();
    let mut diags = Vec::new();
    for (name, node) in &block.attrs {
        let v = match eval(node, scope) {
            Ok(v) => v,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        if v.is_null() {
            continue;
        }
        let Some(attr) = schema.attribute(name) else {
            diags.push(Diagnostic::at(format!("unknown attribute `{name}` for `{}`", block.type_name), node.loc()));
            continue;
        };
        // A nested block given as one `${…}` (Terraform's `dynamic` block): an empty list means no block.
        if attr.is_block() && is_single_template(node) && v.as_list().is_some_and(|l| l.is_empty()) {
            continue;
        }
        match attr.check(&v) {
            Ok(c) => {
                out.insert(name.clone(), c);
            }
            Err(m) => {
                let at = node.at_path(&m.path);
                let mut d = Diagnostic::at(format!("invalid value for `{name}{}`: {}", m.path, m.message), at.loc())
                    .with_help_opt(m.hint);
                if matches!(at, Node::Template(..)) && !m.path.is_empty() {
                    d = d.with_label(format!("`{name}{}` comes from this expression", m.path));
                }
                diags.push(d);
            }
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics(diags))
    }
}

/// True for a node that is exactly one `${…}` (its value keeps its type).
fn is_single_template(node: &Node) -> bool {
    matches!(node, Node::Template(t, _) if t.single().is_some())
}

/// Expands `for_each` into (key, each.value) pairs sorted by key; `Ok(None)` without `for_each`.
pub fn expand_for_each(block: &Block, scope: &Scope) -> Result<Option<Vec<(String, Value)>>, Diagnostic> {
    let Some(node) = &block.for_each else { return Ok(None) };
    let v = eval(node, scope)?;
    let unknown = || {
        Diagnostic::at("invalid for_each argument: the value depends on values known only after apply", node.loc())
            .with_label("known only after apply")
            .with_help(
                "for_each keys must be known at plan time: derive them from variables, locals or data sources, \
                 or apply the resources they depend on first with `--target`",
            )
    };
    match v {
        Value::Unknown => Err(unknown()),
        Value::Map(m) => Ok(Some(m.into_iter().collect())),
        Value::List(items) => {
            let mut out = BTreeMap::new();
            for item in items {
                match item {
                    Value::String(s) => {
                        out.insert(s.clone(), Value::String(s));
                    }
                    Value::Unknown => return Err(unknown()),
                    other => {
                        return Err(Diagnostic::at(
                            format!(
                                "invalid for_each argument: a list must contain only strings, found a {}",
                                other.type_name()
                            ),
                            node.loc(),
                        )
                        .with_help("use a map to iterate over other values, e.g. `{ a = {...}, b = {...} }`"))
                    }
                }
            }
            Ok(Some(out.into_iter().collect()))
        }
        other => Err(Diagnostic::at(
            format!("invalid for_each argument: expected a map or a list of strings, found {}", other.type_name()),
            node.loc(),
        )),
    }
}

struct Ev<'a, 'b> {
    file: &'a Arc<SourceFile>,
    scope: &'a Scope<'b>,
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Unknown => "an unknown value".into(),
        other => format!("a {}", other.type_name()),
    }
}

/// True when the traversal starts at a resource or data reference.
fn resource_rooted(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Ref(Ref::Resource { .. }, _) => true,
        ExprKind::GetAttr(b, _, _) | ExprKind::Index(b, _) => resource_rooted(b),
        _ => false,
    }
}

/// True for `data.stack.NAME.outputs` (or an instance of it): a map of another stack's outputs, where a
/// missing key is a mistake to report (Terraform: "Unsupported attribute" on `terraform_remote_state`), not
/// an unset optional attribute read as null.
fn stack_outputs(e: &Expr) -> bool {
    let ExprKind::GetAttr(b, attr, _) = &e.kind else { return false };
    let b = match &b.kind {
        ExprKind::Index(inner, _) => inner,
        _ => b,
    };
    attr == "outputs"
        && matches!(&b.kind, ExprKind::Ref(Ref::Resource { mode: crate::lang::Mode::Data, type_name, .. }, _) if type_name == "stack")
}

fn multi_resource(e: &Expr) -> bool {
    matches!(e.kind, ExprKind::Ref(Ref::Resource { .. }, true))
}

fn some_keys(m: &BTreeMap<String, Value>) -> String {
    let mut ks: Vec<String> = m.keys().take(8).map(|k| format!("{k:?}")).collect();
    if m.len() > 8 {
        ks.push("…".into());
    }
    if ks.is_empty() {
        "none".into()
    } else {
        ks.join(", ")
    }
}

impl<'a, 'b> Ev<'a, 'b> {
    fn err(&self, span: &Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(message, &Loc::new(self.file, span.clone()))
    }

    fn template(&self, t: &Template) -> Result<Value, Diagnostic> {
        if let Some(e) = t.single() {
            return self.expr(e);
        }
        let mut out = String::new();
        let mut unknown = false;
        for p in &t.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Interp(e) => match self.expr(e)? {
                    Value::String(s) => out.push_str(&s),
                    v @ (Value::Number(_) | Value::Bool(_)) => out.push_str(&v.to_string()),
                    Value::Unknown => unknown = true,
                    Value::Null => {
                        return Err(self
                            .err(&e.span, "cannot interpolate null into a string")
                            .with_help("use coalesce(x, \"\") or a conditional to give it a value"))
                    }
                    v => {
                        return Err(self
                            .err(&e.span, format!("cannot interpolate {} into a string", describe(&v)))
                            .with_help("use join(\",\", list) or jsonencode(value), or make `${…}` the whole string to keep the value's type"))
                    }
                },
            }
        }
        Ok(if unknown { Value::Unknown } else { Value::String(out) })
    }

    fn expr(&self, e: &Expr) -> Result<Value, Diagnostic> {
        match &e.kind {
            ExprKind::Lit(v) => Ok(v.clone()),
            ExprKind::Template(t) => self.template(t),
            ExprKind::List(items) => Ok(Value::List(items.iter().map(|i| self.expr(i)).collect::<Result<_, _>>()?)),
            ExprKind::Map(items) => {
                let mut m = BTreeMap::new();
                for (k, v) in items {
                    let key = match self.expr(k)? {
                        Value::Unknown => return Ok(Value::Unknown),
                        kv => funcs::to_string(&kv).ok_or_else(|| {
                            self.err(&k.span, format!("a map key must be a string, found {}", describe(&kv)))
                        })?,
                    };
                    m.insert(key, self.expr(v)?);
                }
                Ok(Value::Map(m))
            }
            ExprKind::Ref(r, _) => self.reference(r, &e.span),
            ExprKind::Each(is_key) => match self.scope.each {
                Some((k, v)) => Ok(if *is_key { k.clone() } else { v.clone() }),
                None => Err(self.err(&e.span, "`each` can only be used in a block with `for_each`")),
            },
            ExprKind::GetAttr(base, name, nspan) => {
                let v = self.expr(base)?;
                if stack_outputs(base) {
                    if let Value::Map(m) = &v {
                        if !m.contains_key(name) {
                            let hint = crate::schema::suggest(name, m.keys().map(String::as_str))
                                .map(|s| format!("did you mean `{s}`?"))
                                .unwrap_or_else(|| "add the output to that stack, and apply it".to_owned());
                            let msg = format!("the other stack has no output `{name}`; its outputs: {}", some_keys(m));
                            return Err(self.err(nspan, msg).with_help(hint));
                        }
                    }
                }
                self.get_attr(v, name, nspan, resource_rooted(base))
            }
            ExprKind::Index(base, idx) => {
                let v = self.expr(base)?;
                let i = self.expr(idx)?;
                self.index(v, i, &idx.span, multi_resource(base), base)
            }
            ExprKind::Splat(base, travs) => {
                let v = self.expr(base)?;
                let items = match v {
                    Value::Unknown => return Ok(Value::Unknown),
                    Value::List(items) => items,
                    Value::Map(m) if multi_resource(base) => m.into_values().collect(),
                    Value::Null => Vec::new(),
                    other => vec![other],
                };
                let rooted = resource_rooted(base);
                let mut out = Vec::with_capacity(items.len());
                for mut item in items {
                    for t in travs {
                        item = match t {
                            Traversal::Attr(name, span) => self.get_attr(item, name, span, rooted)?,
                            Traversal::Index(ie) => {
                                let i = self.expr(ie)?;
                                self.index(item, i, &ie.span, false, base)?
                            }
                        };
                    }
                    out.push(item);
                }
                Ok(Value::List(out))
            }
            ExprKind::Call(name, _, args) => {
                let vals: Vec<Value> = args.iter().map(|a| self.expr(a)).collect::<Result<_, _>>()?;
                funcs::call(name, &vals).map_err(|fe| {
                    // At the argument concerned, else at the whole call.
                    let span = fe.arg.and_then(|i| args.get(i)).map(|a| &a.span).unwrap_or(&e.span);
                    self.err(span, fe.message)
                })
            }
            ExprKind::Unary(op, inner) => {
                let v = self.expr(inner)?;
                if v == Value::Unknown {
                    return Ok(Value::Unknown);
                }
                match op {
                    UnOp::Not => match v.as_bool() {
                        Some(b) => Ok(Value::Bool(!b)),
                        None => Err(self.err(&inner.span, format!("`!` needs a bool, found {}", describe(&v)))),
                    },
                    UnOp::Neg => match v.as_f64() {
                        Some(n) => Ok(Value::Number(-n)),
                        None => Err(self.err(&inner.span, format!("`-` needs a number, found {}", describe(&v)))),
                    },
                }
            }
            ExprKind::Binary(op, a, b) => self.binary(*op, a, b),
            ExprKind::Cond(c, a, b) => {
                let cv = self.expr(c)?;
                match cv {
                    Value::Unknown => Ok(Value::Unknown),
                    v => match v.as_bool() {
                        Some(true) => self.expr(a),
                        Some(false) => self.expr(b),
                        None => Err(self.err(&c.span, format!("the condition must be a bool, found {}", describe(&v)))),
                    },
                }
            }
        }
    }

    fn reference(&self, r: &Ref, span: &Range<usize>) -> Result<Value, Diagnostic> {
        match r {
            Ref::Var(n) => {
                self.scope.vars.get(n).cloned().ok_or_else(|| self.err(span, format!("variable `{n}` has no value")))
            }
            Ref::Local(n) => Ok(self.scope.locals.get(n).cloned().unwrap_or(Value::Unknown)),
            Ref::Each => match self.scope.each {
                Some((_, v)) => Ok(v.clone()),
                None => Err(self.err(span, "`each` can only be used in a block with `for_each`")),
            },
            Ref::Workspace => Ok(Value::str(self.scope.workspace)),
            Ref::Resource { .. } => Ok(self.scope.resources.get(&r.key()).cloned().unwrap_or(Value::Unknown)),
        }
    }

    fn get_attr(&self, v: Value, name: &str, span: &Range<usize>, rooted: bool) -> Result<Value, Diagnostic> {
        match v {
            Value::Unknown => Ok(Value::Unknown),
            Value::Map(mut m) => match m.remove(name) {
                Some(x) => Ok(x),
                // An optional attribute the configuration left unset.
                None if rooted => Ok(Value::Null),
                None => {
                    let hint = crate::schema::suggest(name, m.keys().map(String::as_str))
                        .map(|s| format!("did you mean `{s}`?"));
                    Err(self
                        .err(span, format!("no attribute or key `{name}`; available: {}", some_keys(&m)))
                        .with_help_opt(hint))
                }
            },
            other => Err(self.err(span, format!("cannot read attribute `{name}` of {}", describe(&other)))),
        }
    }

    fn index(&self, v: Value, i: Value, span: &Range<usize>, multi: bool, base: &Expr) -> Result<Value, Diagnostic> {
        match (v, i) {
            (Value::Unknown, _) | (_, Value::Unknown) => Ok(Value::Unknown),
            (Value::List(mut items), i) => {
                let Some(n) = i.as_i64() else {
                    return Err(self.err(span, format!("a list index must be a whole number, found {}", describe(&i))));
                };
                if n < 0 || n as usize >= items.len() {
                    return Err(self.err(
                        span,
                        format!(
                            "index {n} is out of range for a list of {} element{}",
                            items.len(),
                            if items.len() == 1 { "" } else { "s" }
                        ),
                    ));
                }
                Ok(items.swap_remove(n as usize))
            }
            (Value::Map(mut m), i) => {
                let Some(key) = funcs::to_string(&i) else {
                    return Err(self.err(span, format!("a map key must be a string, found {}", describe(&i))));
                };
                match m.remove(&key) {
                    Some(x) => Ok(x),
                    None => {
                        let what = if multi {
                            let ExprKind::Ref(r, _) = &base.kind else { unreachable!() };
                            format!("`{}` has no instance with key {key:?}; instances: {}", r.key(), some_keys(&m))
                        } else {
                            format!("no key {key:?} in the map; keys: {}", some_keys(&m))
                        };
                        let hint = crate::schema::suggest(&key, m.keys().map(String::as_str))
                            .map(|s| format!("did you mean {s:?}?"));
                        Err(self.err(span, what).with_help_opt(hint))
                    }
                }
            }
            (other, _) => Err(self.err(span, format!("cannot index {}", describe(&other)))),
        }
    }

    fn binary(&self, op: BinOp, a: &Expr, b: &Expr) -> Result<Value, Diagnostic> {
        let av = self.expr(a)?;
        let bool_of = |v: &Value, e: &Expr| -> Result<Option<bool>, Diagnostic> {
            match v {
                Value::Unknown => Ok(None),
                v => v
                    .as_bool()
                    .map(Some)
                    .ok_or_else(|| self.err(&e.span, format!("`{}` needs bools, found {}", op.symbol(), describe(v)))),
            }
        };
        if matches!(op, BinOp::And | BinOp::Or) {
            let l = bool_of(&av, a)?;
            match (op, l) {
                (BinOp::And, Some(false)) => return Ok(Value::Bool(false)),
                (BinOp::Or, Some(true)) => return Ok(Value::Bool(true)),
                _ => {}
            }
            let bv = self.expr(b)?;
            let r = bool_of(&bv, b)?;
            return Ok(match (l, r) {
                (Some(_), Some(r)) => Value::Bool(r),
                (None, Some(false)) if op == BinOp::And => Value::Bool(false),
                (None, Some(true)) if op == BinOp::Or => Value::Bool(true),
                _ => Value::Unknown,
            });
        }
        let bv = self.expr(b)?;
        if matches!(op, BinOp::Eq | BinOp::Ne) {
            if !av.is_known() || !bv.is_known() {
                return Ok(Value::Unknown);
            }
            let eq = funcs::values_equal(&av, &bv);
            return Ok(Value::Bool(if op == BinOp::Eq { eq } else { !eq }));
        }
        if av == Value::Unknown || bv == Value::Unknown {
            return Ok(Value::Unknown);
        }
        let num = |v: &Value, e: &Expr| {
            v.as_f64()
                .ok_or_else(|| self.err(&e.span, format!("`{}` needs numbers, found {}", op.symbol(), describe(v))))
        };
        let (x, y) = (num(&av, a)?, num(&bv, b)?);
        Ok(match op {
            BinOp::Lt => Value::Bool(x < y),
            BinOp::Le => Value::Bool(x <= y),
            BinOp::Gt => Value::Bool(x > y),
            BinOp::Ge => Value::Bool(x >= y),
            BinOp::Add => Value::Number(x + y),
            BinOp::Sub => Value::Number(x - y),
            BinOp::Mul => Value::Number(x * y),
            BinOp::Div | BinOp::Rem if y == 0.0 => return Err(self.err(&b.span, "division by zero")),
            BinOp::Div => Value::Number(x / y),
            BinOp::Rem => Value::Number(x % y),
            BinOp::And | BinOp::Or | BinOp::Eq | BinOp::Ne => unreachable!(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::expr::parse_template;
    use crate::lang::Mode;

    fn node(s: &str) -> Node {
        let f = SourceFile::new("t.toml", s);
        let map: Vec<usize> = (0..=s.len()).collect();
        let t = parse_template(s, &map).unwrap_or_else(|e| panic!("{s}: {e:?}"));
        let mut t = t;
        // Mark references to `subnet.*` as for_each blocks, as validation would.
        t.walk_mut(&mut |e| {
            if let ExprKind::Ref(Ref::Resource { type_name, .. }, multi) = &mut e.kind {
                *multi = type_name == "subnet";
            }
        });
        Node::Template(t, Loc::new(&f, 0..s.len()))
    }

    fn v(json: serde_json::Value) -> Value {
        Value::from_json(&json)
    }

    struct Fixture {
        vars: BTreeMap<String, Value>,
        locals: BTreeMap<String, Value>,
        resources: BTreeMap<String, Value>,
    }

    fn fixture() -> Fixture {
        let vars = v(serde_json::json!({
            "env": "prod", "azs": ["a", "b"], "n": 3, "flag": true,
            "sizes": {"prod": "large", "dev": "small"}
        }));
        let mut resources = BTreeMap::new();
        resources.insert(
            "vpc.main".to_owned(),
            Value::Map(
                [("cidr_block".to_owned(), Value::str("10.0.0.0/16")), ("id".to_owned(), Value::Unknown)].into(),
            ),
        );
        resources.insert(
            "subnet.public".to_owned(),
            v(serde_json::json!({
                "b": {"id": "subnet-b", "cidr_block": "10.0.1.0/24"},
                "a": {"id": "subnet-a", "cidr_block": "10.0.0.0/24"}
            })),
        );
        Fixture {
            vars: vars.as_map().unwrap().clone(),
            locals: [("name".to_owned(), Value::str("web"))].into(),
            resources,
        }
    }

    fn ev(s: &str) -> Result<Value, Diagnostic> {
        let f = fixture();
        let scope =
            Scope { vars: &f.vars, locals: &f.locals, resources: &f.resources, each: None, workspace: "default" };
        eval(&node(s), &scope)
    }

    fn ok(s: &str) -> Value {
        ev(s).unwrap_or_else(|d| panic!("{s}: {d}"))
    }

    #[test]
    fn single_reference_keeps_type() {
        assert_eq!(ok("${var.azs}"), Value::string_list(["a", "b"]));
        assert_eq!(ok("${var.n}"), Value::int(3));
        assert_eq!(ok("${var.flag}"), Value::Bool(true));
        assert_eq!(ok("${var.sizes}").get("dev"), Some(&Value::str("small")));
        assert_eq!(ok(" ${var.n}"), Value::str(" 3"));
    }

    #[test]
    fn interpolation_and_operators() {
        assert_eq!(ok("${local.name}-${var.env}-${var.n + 1}"), Value::str("web-prod-4"));
        assert_eq!(ok("${var.n * 2 - 1 == 5 && !false}"), Value::Bool(true));
        assert_eq!(ok("${7 % 4}"), Value::int(3));
        assert_eq!(ok(r#"${var.env == "prod" ? "large" : "small"}"#), Value::str("large"));
        assert_eq!(ok(r#"${var.sizes[var.env == "prod" ? "dev" : "prod"]}"#), Value::str("small"));
        assert_eq!(ok(r#"${"${var.env}-x"}"#), Value::str("prod-x"));
        assert_eq!(ok("$${var.env}"), Value::str("${var.env}"));
        assert_eq!(ok(r#"${{a = 1, "b" = var.n}}"#).get("b"), Some(&Value::int(3)));
        assert_eq!(ok("${var.azs[1]}"), Value::str("b"));
        assert_eq!(ok(r#"${upper(join("-", concat(var.azs, [local.name])))}"#), Value::str("A-B-WEB"));
        assert_eq!(ok(r#"${format("%s-%03d", "x", 5)}"#.replace("%03d", "%d").as_str()), Value::str("x-5"));
        assert_eq!(ok(r#"${length(var.azs)}"#), Value::int(2));
        assert_eq!(ok(r#"${cidrsubnet(vpc.main.cidr_block, 8, 2)}"#), Value::str("10.0.2.0/24"));
        assert_eq!(ok(r#"${lower("ABC")}"#), Value::str("abc"));
    }

    #[test]
    fn unknowns_propagate() {
        assert_eq!(ok("${vpc.main.id}"), Value::Unknown);
        assert_eq!(ok("id-${vpc.main.id}"), Value::Unknown);
        assert_eq!(ok("${upper(vpc.main.id)}"), Value::Unknown);
        assert_eq!(ok("${vpc.main.id == \"x\"}"), Value::Unknown);
        assert_eq!(ok("${length([vpc.main.id, vpc.main.id])}"), Value::int(2));
        assert_eq!(ok("${var.flag ? \"k\" : vpc.main.id}"), Value::str("k"));
        assert_eq!(ok("${vpc.main.id == \"x\" ? 1 : 2}"), Value::Unknown);
        assert_eq!(ok("${false && vpc.main.id == \"x\"}"), Value::Bool(false));
        // Missing resource value: unknown.
        assert_eq!(ok("${vpc.other.id}"), Value::Unknown);
        // Unset optional attribute of a resource: null.
        assert_eq!(ok("${vpc.main.tags}"), Value::Null);
    }

    #[test]
    fn splat_orders_by_instance_key() {
        assert_eq!(ok("${subnet.public[*].id}"), Value::string_list(["subnet-a", "subnet-b"]));
        assert_eq!(ok("${subnet.public[\"b\"].cidr_block}"), Value::str("10.0.1.0/24"));
        assert_eq!(ok("${vpc.main[*].cidr_block}"), Value::string_list(["10.0.0.0/16"]));
        assert_eq!(ok("${var.azs[*]}"), Value::string_list(["a", "b"]));
        assert_eq!(ok("${join(\",\", subnet.public[*].id)}"), Value::str("subnet-a,subnet-b"));
    }

    #[test]
    fn located_errors() {
        let d = ev("${var.azs[5]}").unwrap_err();
        assert_eq!(d.to_string(), "t.toml:1:11: index 5 is out of range for a list of 2 elements");
        let d = ev("${subnet.public[\"c\"].id}").unwrap_err();
        assert!(d.message.contains("`subnet.public` has no instance with key \"c\""), "{d}");
        let d = ev("${cidrsubnet(\"10.0.0.0/16\", 8, 300)}").unwrap_err();
        assert_eq!(d.line_col(), Some((1, 32)));
        assert!(d.message.contains("does not fit"), "{d}");
        let d = ev("x${var.azs}").unwrap_err();
        assert!(d.message.contains("cannot interpolate a list"), "{d}");
        let d = ev("${var.sizes.stage}").unwrap_err();
        assert!(d.message.contains("no attribute or key `stage`"), "{d}");
        let d = ev("${each.key}").unwrap_err();
        assert!(d.message.contains("for_each"), "{d}");
        let d = ev("${1 / 0}").unwrap_err();
        assert_eq!(d.line_col(), Some((1, 7)));
        let d = ev("${\"a\" + 1}").unwrap_err();
        assert!(d.message.contains("needs numbers"), "{d}");
    }

    #[test]
    fn conditional_per_environment() {
        let f = fixture();
        let n = node(r#"${var.env == "prod" ? 3 : 1}"#);
        for (env, want) in [("prod", 3), ("dev", 1)] {
            let mut vars = f.vars.clone();
            vars.insert("env".into(), Value::str(env));
            let scope =
                Scope { vars: &vars, locals: &f.locals, resources: &f.resources, each: None, workspace: "default" };
            assert_eq!(eval(&n, &scope).unwrap(), Value::int(want));
        }
    }

    fn block_with_for_each(s: &str) -> Block {
        let n = node(s);
        let loc = n.loc().clone();
        Block {
            mode: Mode::Managed,
            type_name: "subnet".into(),
            name: "x".into(),
            attrs: BTreeMap::new(),
            for_each: Some(n),
            depends_on: vec![],
            lifecycle: Default::default(),
            loc,
        }
    }

    #[test]
    fn for_each_expansion() {
        let f = fixture();
        let scope =
            Scope { vars: &f.vars, locals: &f.locals, resources: &f.resources, each: None, workspace: "default" };
        let got = expand_for_each(&block_with_for_each("${var.sizes}"), &scope).unwrap().unwrap();
        assert_eq!(got, vec![("dev".into(), Value::str("small")), ("prod".into(), Value::str("large"))]);
        let got = expand_for_each(&block_with_for_each("${concat(var.azs, [\"a\"])}"), &scope).unwrap().unwrap();
        assert_eq!(got, vec![("a".into(), Value::str("a")), ("b".into(), Value::str("b"))]);
        let e = expand_for_each(&block_with_for_each("${[vpc.main.id]}"), &scope).unwrap_err();
        assert!(e.message.contains("known only after apply") && e.help.is_some(), "{e}");
        let e = expand_for_each(&block_with_for_each("${[1]}"), &scope).unwrap_err();
        assert!(e.message.contains("only strings"), "{e}");
        let e = expand_for_each(&block_with_for_each("${var.n}"), &scope).unwrap_err();
        assert!(e.message.contains("expected a map or a list"), "{e}");

        let key = Value::str("a");
        let val = Value::str("10.0.0.0/24");
        let each = Scope {
            vars: &f.vars,
            locals: &f.locals,
            resources: &f.resources,
            each: Some((&key, &val)),
            workspace: "default",
        };
        assert_eq!(eval(&node("${each.key}-${each.value}"), &each).unwrap(), Value::str("a-10.0.0.0/24"));
        assert_eq!(eval(&node("${subnet.public[each.key].id}"), &each).unwrap(), Value::str("subnet-a"));
    }
}
