//! Loading a stack directory: parse every `*.toml` (with spans), build the [`Config`] and validate it
//! against the registry's schemas, collecting every problem as a located [`Diagnostic`].
//!
//! Two passes: the first reads the tables (blocks, variables, locals, outputs, settings), parses every
//! template once and checks keys, literal types (with Terraform's conversions: `"80"` for a number, one
//! table for a nested block) and formats; the second resolves references in all
//! expressions (declared names, attributes of the referenced type, `each` placement, function names and
//! arity, `depends_on`) and marks references to `for_each` blocks. Cycles are left to the graph.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::resource::Registry;
use crate::schema::{suggest, Presence, Schema};
use crate::value::Value;

use super::diag::{Diagnostic, Diagnostics, Loc, SourceFile};
use super::expr::{parse_template, Expr, ExprKind, Template, Traversal};
use super::{
    block_key, funcs, BackendConfig, Block, Config, Lifecycle, Mode, Node, OutputDecl, Ref, S3BackendConfig, VarType,
    VariableDecl,
};

const TOP_LEVEL: &[&str] = &["stack", "aws", "backend", "variable", "locals", "resource", "data", "output"];
const DEFAULT_STATE_PATH: &str = "provisioner.state.json";

/// Converts a TOML value to a [`Value`] without interpreting templates.
pub(crate) fn de_value(v: &DeValue) -> Value {
    match v {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => {
            Value::Number(i64::from_str_radix(i.as_str(), i.radix()).map(|n| n as f64).unwrap_or(f64::NAN))
        }
        DeValue::Float(f) => Value::Number(f.as_str().replace('_', "").parse().unwrap_or(f64::NAN)),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Array(items) => Value::List(items.iter().map(|i| de_value(i.get_ref())).collect()),
        DeValue::Table(t) => {
            Value::Map(t.iter().map(|(k, v)| (k.get_ref().to_string(), de_value(v.get_ref()))).collect())
        }
    }
}

fn type_str(v: &DeValue) -> &'static str {
    match v {
        DeValue::String(_) => "string",
        DeValue::Integer(_) | DeValue::Float(_) => "number",
        DeValue::Boolean(_) => "bool",
        DeValue::Datetime(_) => "datetime",
        DeValue::Array(_) => "array",
        DeValue::Table(_) => "table",
    }
}

pub(crate) fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    suggest(name, candidates).map(|s| format!("did you mean `{s}`?"))
}

/// Decoded-string offset → file offset for a TOML string token at `span`. Falls back to pointing every
/// offset at the token start if the raw text does not decode to `decoded`.
fn string_map(text: &str, span: Range<usize>, decoded: &str) -> Vec<usize> {
    let fallback = || vec![span.start; decoded.len() + 1];
    let Some(raw) = text.get(span.clone()) else {
        return fallback();
    };
    let (q, basic) = if raw.starts_with("\"\"\"") {
        (3, true)
    } else if raw.starts_with("'''") {
        (3, false)
    } else if raw.starts_with('"') {
        (1, true)
    } else if raw.starts_with('\'') {
        (1, false)
    } else {
        return fallback();
    };
    if raw.len() < 2 * q {
        return fallback();
    }
    let body_start = span.start + q;
    let body = &raw[q..raw.len() - q];
    let mut map = Vec::with_capacity(decoded.len() + 1);
    let mut out = String::with_capacity(decoded.len());
    let mut i = 0;
    if q == 3 {
        if body.starts_with("\r\n") {
            i = 2;
        } else if body.starts_with('\n') {
            i = 1;
        }
    }
    let bytes = body.as_bytes();
    while i < body.len() {
        let ch = body[i..].chars().next().expect("char");
        if basic && ch == '\\' {
            let Some(e) = body[i + 1..].chars().next() else {
                return fallback();
            };
            let simple = match e {
                'b' => Some('\u{8}'),
                't' => Some('\t'),
                'n' => Some('\n'),
                'f' => Some('\u{c}'),
                'r' => Some('\r'),
                'e' => Some('\u{1b}'),
                '"' => Some('"'),
                '\\' => Some('\\'),
                _ => None,
            };
            if let Some(c) = simple {
                out.push(c);
                map.extend(std::iter::repeat_n(body_start + i, c.len_utf8()));
                i += 2;
                continue;
            }
            let digits = match e {
                'x' => 2,
                'u' => 4,
                'U' => 8,
                _ => 0,
            };
            if digits > 0 {
                let Some(hex) = body.get(i + 2..i + 2 + digits) else {
                    return fallback();
                };
                let Some(c) = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) else {
                    return fallback();
                };
                out.push(c);
                map.extend(std::iter::repeat_n(body_start + i, c.len_utf8()));
                i += 2 + digits;
                continue;
            }
            // Line-ending backslash: skip whitespace and newlines.
            let mut j = i + 1;
            while j < bytes.len() && matches!(bytes[j], b' ' | b'\t' | b'\n' | b'\r') {
                j += 1;
            }
            if j == i + 1 || !body[i + 1..j].contains('\n') {
                return fallback();
            }
            i = j;
            continue;
        }
        out.push(ch);
        for k in 0..ch.len_utf8() {
            map.push(body_start + i + k);
        }
        i += ch.len_utf8();
    }
    map.push(body_start + body.len());
    if out != decoded {
        return fallback();
    }
    map
}

struct BlockInfo {
    mode: Mode,
    type_name: String,
    for_each: bool,
}

/// `[backend]` keys of an S3 backend as written (checked for presence after the table is read).
#[derive(Default)]
struct S3Fields {
    bucket: Option<String>,
    key: Option<String>,
    region: Option<String>,
    workspace_key_prefix: Option<String>,
    kms_key_id: Option<String>,
    endpoint: Option<String>,
}

struct Loader<'r> {
    registry: &'r Registry,
    diags: Vec<Diagnostic>,
    file: Arc<SourceFile>,
    stack: Option<(String, Loc)>,
    stack_table: Option<Loc>,
    aws_table: Option<Loc>,
    backend_table: Option<Loc>,
    region: Option<String>,
    role_arn: Option<String>,
    default_tags: BTreeMap<String, String>,
    backend_kind: String,
    backend_path: Option<String>,
    backend_s3: Option<S3Fields>,
    variables: BTreeMap<String, VariableDecl>,
    locals: BTreeMap<String, (Node, Loc)>,
    managed: Vec<Block>,
    data: Vec<Block>,
    block_locs: HashMap<String, Loc>,
    outputs: BTreeMap<String, OutputDecl>,
}

type Entry<'a, 'i> = (&'a Spanned<Cow<'i, str>>, &'a Spanned<DeValue<'i>>);

/// Entries of a table in source order.
fn entries<'a, 'i>(t: &'a DeTable<'i>) -> Vec<Entry<'a, 'i>> {
    let mut v: Vec<_> = t.iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

fn first_pos(l: &Loc) -> String {
    l.position()
}

impl<'r> Loader<'r> {
    fn loc(&self, span: Range<usize>) -> Loc {
        Loc::new(&self.file, span)
    }

    fn error(&mut self, msg: impl Into<String>, span: Range<usize>) -> &mut Diagnostic {
        let d = Diagnostic::at(msg, &self.loc(span));
        self.diags.push(d);
        self.diags.last_mut().expect("pushed")
    }

    fn table<'a, 'i>(
        &mut self,
        key: &Spanned<Cow<'i, str>>,
        v: &'a Spanned<DeValue<'i>>,
        what: &str,
    ) -> Option<&'a DeTable<'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                let ty = type_str(other);
                self.error(format!("`{}` must be a table ({what}), found a {ty}", key.get_ref()), v.span());
                None
            }
        }
    }

    fn string(&mut self, key: &str, v: &Spanned<DeValue>) -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            other => {
                let ty = type_str(other);
                self.error(format!("`{key}` must be a string, found a {ty}"), v.span());
                None
            }
        }
    }

    fn boolean(&mut self, key: &str, v: &Spanned<DeValue>) -> bool {
        match v.get_ref() {
            DeValue::Boolean(b) => *b,
            other => {
                let ty = type_str(other);
                self.error(format!("`{key}` must be true or false, found a {ty}"), v.span());
                false
            }
        }
    }

    fn unknown_key(&mut self, key: &Spanned<Cow<str>>, allowed: &[&str], context: &str) {
        let name = key.get_ref().as_ref();
        let hint = did_you_mean(name, allowed.iter().copied())
            .unwrap_or_else(|| format!("allowed keys: {}", allowed.join(", ")));
        self.error(format!("unknown key `{name}` in {context}"), key.span()).help = Some(hint);
    }

    fn check_name(&mut self, key: &Spanned<Cow<str>>, what: &str) -> bool {
        if valid_name(key.get_ref()) {
            return true;
        }
        self.error(format!("invalid {what} name `{}`", key.get_ref()), key.span()).help =
            Some("names start with a letter or `_` and contain only letters, digits, `_` and `-`".into());
        false
    }

    /// A TOML value as a node; strings with `${` become templates (parsed once, here).
    fn node(&mut self, v: &Spanned<DeValue>) -> Node {
        let loc = self.loc(v.span());
        match v.get_ref() {
            DeValue::String(s) => {
                if !s.contains("${") {
                    return Node::Literal(Value::String(s.to_string()), loc);
                }
                let map = string_map(&self.file.text, v.span(), s);
                match parse_template(s, &map) {
                    Ok(t) if t.is_literal() => Node::Literal(Value::String(t.literal_text()), loc),
                    Ok(t) => Node::Template(t, loc),
                    Err(e) => {
                        self.error(format!("invalid expression: {}", e.message), e.span);
                        Node::Literal(Value::Null, loc)
                    }
                }
            }
            DeValue::Array(items) => Node::List(items.iter().map(|i| self.node(i)).collect(), loc),
            DeValue::Table(t) => {
                Node::Map(entries(t).into_iter().map(|(k, v)| (k.get_ref().to_string(), self.node(v))).collect(), loc)
            }
            other => Node::Literal(de_value(other), loc),
        }
    }

    fn file(&mut self, doc: &DeTable) {
        for (key, value) in entries(doc) {
            let k = key.get_ref().as_ref();
            match k {
                "stack" => self.stack_table(key, value),
                "aws" => self.aws(key, value),
                "backend" => self.backend(key, value),
                "variable" => {
                    let Some(t) = self.table(key, value, "`[variable.NAME]`") else {
                        continue;
                    };
                    for (name, v) in entries(t) {
                        self.variable(name, v);
                    }
                }
                "locals" => {
                    let Some(t) = self.table(key, value, "`[locals]`") else {
                        continue;
                    };
                    for (name, v) in entries(t) {
                        if !self.check_name(name, "local") {
                            continue;
                        }
                        let loc = self.loc(name.span());
                        if let Some((_, first)) = self.locals.get(name.get_ref().as_ref()) {
                            let first = first_pos(first);
                            self.error(format!("duplicate local `{}`", name.get_ref()), name.span()).help =
                                Some(format!("`local.{}` is already defined at {first}", name.get_ref()));
                            continue;
                        }
                        let node = self.node(v);
                        self.locals.insert(name.get_ref().to_string(), (node, loc));
                    }
                }
                "resource" | "data" => {
                    let mode = if k == "data" { Mode::Data } else { Mode::Managed };
                    let what = if k == "data" { "`[data.TYPE.NAME]`" } else { "`[resource.TYPE.NAME]`" };
                    let Some(t) = self.table(key, value, what) else {
                        continue;
                    };
                    for (ty, tv) in entries(t) {
                        self.block_type(mode, ty, tv, what);
                    }
                }
                "output" => {
                    let Some(t) = self.table(key, value, "`[output.NAME]`") else {
                        continue;
                    };
                    for (name, v) in entries(t) {
                        self.output(name, v);
                    }
                }
                _ => self.unknown_key(key, TOP_LEVEL, "the top level"),
            }
        }
    }

    fn once(&mut self, slot: fn(&mut Self) -> &mut Option<Loc>, key: &Spanned<Cow<str>>) -> bool {
        let here = self.loc(key.span());
        if let Some(first) = slot(self).clone() {
            let name = key.get_ref().to_string();
            self.error(format!("duplicate `[{name}]` table"), key.span()).help =
                Some(format!("`[{name}]` may appear only once in a stack; first at {}", first_pos(&first)));
            return false;
        }
        *slot(self) = Some(here);
        true
    }

    fn stack_table(&mut self, key: &Spanned<Cow<str>>, value: &Spanned<DeValue>) {
        if !self.once(|s| &mut s.stack_table, key) {
            return;
        }
        let Some(t) = self.table(key, value, "`[stack]`") else {
            return;
        };
        for (k, v) in entries(t) {
            match k.get_ref().as_ref() {
                "name" => {
                    if let Some(s) = self.string("name", v) {
                        if !valid_name(&s) {
                            self.error(format!("invalid stack name `{s}`"), v.span()).help =
                                Some("use letters, digits, `_` and `-`, starting with a letter".into());
                        } else {
                            self.stack = Some((s, self.loc(v.span())));
                        }
                    }
                }
                "description" => {
                    self.string("description", v);
                }
                _ => self.unknown_key(k, &["name", "description"], "[stack]"),
            }
        }
    }

    fn aws(&mut self, key: &Spanned<Cow<str>>, value: &Spanned<DeValue>) {
        if !self.once(|s| &mut s.aws_table, key) {
            return;
        }
        let Some(t) = self.table(key, value, "`[aws]`") else {
            return;
        };
        for (k, v) in entries(t) {
            match k.get_ref().as_ref() {
                "region" => self.region = self.string("region", v),
                "role_arn" => {
                    self.role_arn = self.string("role_arn", v);
                    if let Some(Err(e)) = self.role_arn.as_deref().map(crate::credentials::check_role_arn) {
                        self.error(e.message, v.span()).help = Some(e.hint);
                    }
                }
                "default_tags" => {
                    let Some(tags) = self.table(k, v, "a map of strings") else {
                        continue;
                    };
                    for (tk, tv) in entries(tags) {
                        if let Some(s) = self.string(&format!("default_tags.{}", tk.get_ref()), tv) {
                            self.default_tags.insert(tk.get_ref().to_string(), s);
                        }
                    }
                }
                _ => self.unknown_key(k, &["region", "role_arn", "default_tags"], "[aws]"),
            }
        }
    }

    fn backend(&mut self, key: &Spanned<Cow<str>>, value: &Spanned<DeValue>) {
        if !self.once(|s| &mut s.backend_table, key) {
            return;
        }
        let Some(t) = self.table(key, value, "`[backend]`") else {
            return;
        };
        const KEYS: &[&str] =
            &["type", "path", "bucket", "key", "region", "workspace_key_prefix", "kms_key_id", "endpoint"];
        // Every key given, with its span, checked against the type once the table is read.
        let mut given: Vec<(&str, String, Range<usize>)> = Vec::new();
        for (k, v) in entries(t) {
            let name = k.get_ref().as_ref();
            match KEYS.iter().find(|known| **known == name) {
                Some(known) => {
                    if let Some(s) = self.string(known, v) {
                        given.push((known, s, v.span()));
                    }
                }
                None => self.unknown_key(k, KEYS, "[backend]"),
            }
        }
        let kind = given.iter().find(|(k, ..)| *k == "type").map(|(_, s, span)| (s.clone(), span.clone()));
        let s3 = match &kind {
            Some((s, _)) if s == "s3" => true,
            Some((s, span)) if s != "local" => {
                self.error(format!("unsupported backend type `{s}`"), span.clone()).help =
                    Some("backend types are `local` (the default) and `s3`".into());
                return;
            }
            _ => false,
        };
        if let Some((s, _)) = kind {
            self.backend_kind = s;
        }
        let mut s3_fields = S3Fields::default();
        for (k, value, span) in given {
            let misplaced = match k {
                "type" => false,
                "path" => s3,
                _ => !s3,
            };
            if misplaced {
                let (this, other) = if s3 { ("s3", "local") } else { ("local", "s3") };
                self.error(format!("`{k}` does not apply to a `{this}` backend"), span).help = Some(if s3 {
                    "an S3 backend is located by `bucket` and `key`; remove `path`".to_string()
                } else {
                    format!("`{k}` is a setting of the `{other}` backend: set `type = \"s3\"` to keep state in S3")
                });
                continue;
            }
            let slashes = matches!(k, "key" | "workspace_key_prefix")
                && (value.is_empty() || value.starts_with('/') || value.ends_with('/'));
            if slashes || (k == "bucket" && value.is_empty()) {
                self.error(format!("invalid `{k}` {value:?}"), span).help =
                    Some("it must not be empty, nor start or end with `/`".into());
            }
            let slot = match k {
                "path" => &mut self.backend_path,
                "bucket" => &mut s3_fields.bucket,
                "key" => &mut s3_fields.key,
                "region" => &mut s3_fields.region,
                "workspace_key_prefix" => &mut s3_fields.workspace_key_prefix,
                "kms_key_id" => &mut s3_fields.kms_key_id,
                "endpoint" => &mut s3_fields.endpoint,
                _ => continue,
            };
            *slot = Some(value);
        }
        if s3 {
            for (missing, example) in
                [("bucket", "bucket = \"my-team-state\""), ("key", "key = \"network/state.json\"")]
            {
                let absent = match missing {
                    "bucket" => s3_fields.bucket.is_none(),
                    _ => s3_fields.key.is_none(),
                };
                if absent {
                    self.error(format!("`[backend]` of type `s3` needs `{missing}`"), key.span()).help =
                        Some(format!("add `{example}` to [backend]"));
                }
            }
            self.backend_s3 = Some(s3_fields);
        }
    }

    fn variable(&mut self, name: &Spanned<Cow<str>>, v: &Spanned<DeValue>) {
        if !self.check_name(name, "variable") {
            return;
        }
        let Some(t) = self.table(name, v, "`[variable.NAME]`") else {
            return;
        };
        let n = name.get_ref().to_string();
        let loc = self.loc(name.span());
        if let Some(first) = self.variables.get(&n) {
            let first = first_pos(&first.loc);
            self.error(format!("duplicate variable `{n}`"), name.span()).help =
                Some(format!("`var.{n}` is already declared at {first}"));
            return;
        }
        let mut decl = VariableDecl {
            name: n.clone(),
            ty: None,
            default: None,
            description: None,
            sensitive: false,
            allowed: None,
            loc,
        };
        let mut default_span = None;
        let mut allowed_spans = Vec::new();
        for (k, val) in entries(t) {
            match k.get_ref().as_ref() {
                "type" => {
                    if let Some(s) = self.string("type", val) {
                        match VarType::parse(&s) {
                            Ok(ty) => decl.ty = Some(ty),
                            Err(m) => {
                                self.error(m, val.span());
                            }
                        }
                    }
                }
                "default" => {
                    decl.default = Some(de_value(val.get_ref()));
                    default_span = Some(val.span());
                }
                "description" => decl.description = self.string("description", val),
                "sensitive" => decl.sensitive = self.boolean("sensitive", val),
                "allowed" => match val.get_ref() {
                    DeValue::Array(items) => {
                        decl.allowed = Some(items.iter().map(|i| de_value(i.get_ref())).collect());
                        allowed_spans = items.iter().map(|i| i.span()).collect();
                    }
                    other => {
                        let ty = type_str(other);
                        self.error(format!("`allowed` must be an array of values, found a {ty}"), val.span());
                    }
                },
                _ => self.unknown_key(k, &["type", "default", "description", "sensitive", "allowed"], "a variable"),
            }
        }
        if let Some(ty) = &decl.ty {
            if let (Some(d), Some(span)) = (&decl.default, &default_span) {
                match ty.convert(d) {
                    Ok(c) => decl.default = Some(c),
                    Err(m) => {
                        self.error(
                            format!("the default of `{n}` does not match its type {}: {m}", ty.describe()),
                            span.clone(),
                        );
                    }
                }
            }
            if let Some(allowed) = &mut decl.allowed {
                for (i, a) in allowed.iter_mut().enumerate() {
                    match ty.convert(a) {
                        Ok(c) => *a = c,
                        Err(m) => {
                            self.error(
                                format!("allowed value does not match the type {}: {m}", ty.describe()),
                                allowed_spans[i].clone(),
                            );
                        }
                    }
                }
            }
        }
        if let (Some(d), Some(allowed), Some(span)) = (&decl.default, &decl.allowed, default_span) {
            if !allowed.contains(d) {
                let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
                self.error(format!("the default {d} of `{n}` is not one of its allowed values"), span).help =
                    Some(format!("allowed values: {}", list.join(", ")));
            }
        }
        self.variables.insert(n, decl);
    }

    fn output(&mut self, name: &Spanned<Cow<str>>, v: &Spanned<DeValue>) {
        if !self.check_name(name, "output") {
            return;
        }
        let Some(t) = self.table(name, v, "`[output.NAME]`") else {
            return;
        };
        let n = name.get_ref().to_string();
        let loc = self.loc(name.span());
        if let Some(first) = self.outputs.get(&n) {
            let first = first_pos(&first.loc);
            self.error(format!("duplicate output `{n}`"), name.span()).help =
                Some(format!("output `{n}` is already declared at {first}"));
            return;
        }
        let mut value = None;
        let mut sensitive = false;
        let mut description = None;
        for (k, val) in entries(t) {
            match k.get_ref().as_ref() {
                "value" => value = Some(self.node(val)),
                "sensitive" => sensitive = self.boolean("sensitive", val),
                "description" => description = self.string("description", val),
                _ => self.unknown_key(k, &["value", "sensitive", "description"], "an output"),
            }
        }
        let Some(value) = value else {
            self.error(format!("output `{n}` has no `value`"), name.span()).help =
                Some("add e.g. `value = \"${vpc.main.id}\"`".into());
            return;
        };
        self.outputs.insert(n.clone(), OutputDecl { name: n, value, sensitive, description, loc });
    }

    fn block_type(&mut self, mode: Mode, ty: &Spanned<Cow<str>>, tv: &Spanned<DeValue>, what: &str) {
        let type_name = ty.get_ref().as_ref();
        let data = mode == Mode::Data;
        let Some(schema) = self.registry.schema(data, type_name) else {
            let (kind, hint) = if data {
                ("data source", did_you_mean(type_name, self.registry.data_source_types()))
            } else {
                ("resource type", did_you_mean(type_name, self.registry.resource_types()))
            };
            let mut help = hint;
            if help.is_none() {
                let other = if data {
                    self.registry.resource(type_name).is_some()
                } else {
                    self.registry.data_source(type_name).is_some()
                };
                if other {
                    help = Some(if data {
                        format!("`{type_name}` is a resource type: use `[resource.{type_name}.NAME]`")
                    } else {
                        format!("`{type_name}` is a data source: use `[data.{type_name}.NAME]`")
                    });
                }
            }
            let d = self.error(format!("unknown {kind} `{type_name}`"), ty.span());
            d.help = help;
            return;
        };
        let Some(t) = self.table(ty, tv, what) else { return };
        for (name, bv) in entries(t) {
            if !self.check_name(name, "block") {
                continue;
            }
            let Some(bt) = self.table(name, bv, what) else { continue };
            self.block(mode, type_name, schema, name, bt);
        }
    }

    fn block(&mut self, mode: Mode, type_name: &str, schema: &Schema, name: &Spanned<Cow<str>>, t: &DeTable) {
        let n = name.get_ref().to_string();
        let loc = self.loc(name.span());
        let key = block_key(mode, type_name, &n);
        if let Some(first) = self.block_locs.get(&key) {
            let first = first_pos(first);
            let d = self.error(
                format!("duplicate {} `{key}`", if mode == Mode::Data { "data source" } else { "resource" }),
                name.span(),
            );
            d.label = Some(format!("first declared at {first}"));
            d.help = Some(format!("`{key}` is already declared at {first}; rename one of them"));
            return;
        }
        self.block_locs.insert(key.clone(), loc.clone());
        let mut block = Block {
            mode,
            type_name: type_name.to_owned(),
            name: n,
            attrs: BTreeMap::new(),
            for_each: None,
            depends_on: Vec::new(),
            lifecycle: Lifecycle::default(),
            loc,
        };
        for (k, v) in entries(t) {
            let attr_name = k.get_ref().as_ref();
            match attr_name {
                "for_each" => {
                    let node = self.node(v);
                    self.check_for_each_literal(&node);
                    block.for_each = Some(node);
                }
                "depends_on" => self.depends_on(&mut block, v),
                "lifecycle" if mode == Mode::Managed => self.lifecycle(&mut block, schema, k, v),
                _ => {
                    let Some(attr) = schema.attribute(attr_name) else {
                        let hint = schema
                            .suggest(attr_name)
                            .or_else(|| suggest(attr_name, ["for_each", "depends_on", "lifecycle"].into_iter()))
                            .map(|s| format!("did you mean `{s}`?"));
                        let d = self.error(format!("unknown attribute `{attr_name}` for `{type_name}`"), k.span());
                        d.help = hint.or_else(|| {
                            let names: Vec<&str> =
                                schema.attributes.iter().filter(|a| a.settable()).map(|a| a.name).collect();
                            Some(format!("`{type_name}` accepts: {}", names.join(", ")))
                        });
                        continue;
                    };
                    if attr.presence == Presence::Computed {
                        self.error(format!("`{attr_name}` is computed by AWS and cannot be set"), k.span()).help =
                            Some(format!("remove it; read it elsewhere as `${{{key}.{attr_name}}}`"));
                        continue;
                    }
                    let node = self.node(v);
                    // Literal parts only (templates count as unknown); they convert as at evaluation.
                    if let Err(m) = attr.check(&node.static_value()) {
                        let at = node.at_path(&m.path).loc().clone();
                        self.diags.push(
                            Diagnostic::at(format!("invalid value for `{attr_name}{}`: {}", m.path, m.message), &at)
                                .with_help_opt(m.hint),
                        );
                    }
                    block.attrs.insert(attr_name.to_owned(), node);
                }
            }
        }
        for a in &schema.attributes {
            if a.presence == Presence::Required && !block.attrs.contains_key(a.name) {
                let mut d =
                    Diagnostic::at(format!("`{key}` is missing the required attribute `{}`", a.name), &block.loc)
                        .with_label("in this block");
                d.help = Some(if a.description.is_empty() {
                    format!("add `{} = …`", a.name)
                } else {
                    format!("add `{} = …` ({})", a.name, a.description)
                });
                self.diags.push(d);
            }
        }
        match mode {
            Mode::Managed => self.managed.push(block),
            Mode::Data => self.data.push(block),
        }
    }

    /// The literal parts of `for_each` must make a map or a list of strings.
    fn check_for_each_literal(&mut self, node: &Node) {
        let bad = match node {
            Node::Literal(v, _) => Some(v.type_name()),
            Node::List(items, _) => items.iter().find_map(|i| match i {
                Node::Literal(Value::String(_), _) | Node::Template(..) => None,
                other => Some(match other {
                    Node::Literal(v, _) => v.type_name(),
                    Node::List(..) => "list",
                    _ => "map",
                }),
            }),
            _ => None,
        };
        if let Some(found) = bad {
            let what = if matches!(node, Node::List(..)) { "a list element" } else { "the value" };
            self.diags.push(
                Diagnostic::at(
                    format!("`for_each` must be a map or a list of strings; {what} is a {found}"),
                    node.loc(),
                )
                .with_help(
                    "e.g. `for_each = { a = \"10.0.1.0/24\", b = \"10.0.2.0/24\" }` or `for_each = [\"a\", \"b\"]`",
                ),
            );
        }
    }

    fn depends_on(&mut self, block: &mut Block, v: &Spanned<DeValue>) {
        let DeValue::Array(items) = v.get_ref() else {
            self.error("`depends_on` must be an array of addresses such as [\"vpc.main\"]", v.span());
            return;
        };
        for item in items.iter() {
            let DeValue::String(s) = item.get_ref() else {
                self.error("`depends_on` entries must be strings such as \"vpc.main\"", item.span());
                continue;
            };
            match super::parse_address(s) {
                Ok((mode, t, n, None)) => {
                    block.depends_on.push((Ref::Resource { mode, type_name: t, name: n }, self.loc(item.span())))
                }
                Ok((_, _, _, Some(_))) => {
                    self.error(
                        format!("`depends_on` takes block addresses without instance keys, found `{s}`"),
                        item.span(),
                    );
                }
                Err(m) => {
                    self.error(m, item.span());
                }
            }
        }
    }

    fn lifecycle(&mut self, block: &mut Block, schema: &Schema, key: &Spanned<Cow<str>>, v: &Spanned<DeValue>) {
        let Some(t) = self.table(key, v, "`lifecycle = { prevent_destroy = true }`") else {
            return;
        };
        for (k, val) in entries(t) {
            match k.get_ref().as_ref() {
                "prevent_destroy" => match val.get_ref() {
                    DeValue::Boolean(_) | DeValue::String(_) => block.lifecycle.prevent_destroy = Some(self.node(val)),
                    _ => {
                        self.error(
                            "`prevent_destroy` must be true, false, or an expression over variables",
                            val.span(),
                        )
                        .help = Some("e.g. `prevent_destroy = true` or `prevent_destroy = \"${var.protect}\"`".into());
                    }
                },
                "create_before_destroy" => {
                    block.lifecycle.create_before_destroy = self.boolean("create_before_destroy", val)
                }
                "ignore_changes" => {
                    let DeValue::Array(items) = val.get_ref() else {
                        self.error("`ignore_changes` must be an array of attribute names", val.span());
                        continue;
                    };
                    for item in items.iter() {
                        let Some(s) = self.string("ignore_changes", item) else {
                            continue;
                        };
                        if schema.attribute(&s).is_none_or(|a| !a.settable()) {
                            let hint = schema.suggest(&s).map(|x| format!("did you mean `{x}`?"));
                            self.error(
                                format!("`ignore_changes`: `{}` has no attribute `{s}`", block.type_name),
                                item.span(),
                            )
                            .help = hint;
                            continue;
                        }
                        block.lifecycle.ignore_changes.push(s);
                    }
                }
                _ => self.unknown_key(k, &["prevent_destroy", "ignore_changes", "create_before_destroy"], "lifecycle"),
            }
        }
    }
}

/// The names expressions may refer to, for the second pass.
struct Names<'a> {
    registry: &'a Registry,
    vars: BTreeSet<String>,
    locals: BTreeSet<String>,
    blocks: BTreeMap<String, BlockInfo>,
}

impl Names<'_> {
    fn schema(&self, mode: Mode, type_name: &str) -> Option<&Schema> {
        self.registry.schema(mode == Mode::Data, type_name)
    }

    /// Validates one expression tree; `each_ok` when inside the attributes of a `for_each` block.
    fn check(&self, t: &mut Template, file: &Arc<SourceFile>, each_ok: bool, diags: &mut Vec<Diagnostic>) {
        let at = |span: &Range<usize>| Loc::new(file, span.clone());
        t.walk(&mut |e: &Expr| match &e.kind {
            ExprKind::Ref(r, _) => self.check_ref(r, &at(&e.span), diags),
            ExprKind::Each(_) if !each_ok => diags.push(
                Diagnostic::at("`each` can only be used in the attributes of a block with `for_each`", &at(&e.span))
                    .with_help("add `for_each = …` to the block, or refer to a concrete value"),
            ),
            ExprKind::Call(name, nspan, args) => {
                if let Err(m) = funcs::arity(name, args.len()) {
                    diags.push(Diagnostic::at(m, &at(nspan)));
                }
            }
            ExprKind::GetAttr(base, name, nspan) => self.check_attr(base, name, &at(nspan), diags),
            ExprKind::Splat(base, travs) => {
                if let (ExprKind::Ref(r @ Ref::Resource { .. }, _), Some(Traversal::Attr(name, span))) =
                    (&base.kind, travs.first())
                {
                    if let Some(info) = self.blocks.get(&r.key()) {
                        self.check_schema_attr(info, &r.key(), name, &at(span), diags);
                    }
                }
            }
            _ => {}
        });
        t.walk_mut(&mut |e: &mut Expr| {
            if let ExprKind::Ref(r @ Ref::Resource { .. }, multi) = &mut e.kind {
                *multi = self.blocks.get(&r.key()).is_some_and(|b| b.for_each);
            }
        });
    }

    fn check_ref(&self, r: &Ref, loc: &Loc, diags: &mut Vec<Diagnostic>) {
        match r {
            Ref::Var(n) if !self.vars.contains(n.as_str()) => diags.push(
                Diagnostic::at(format!("undeclared variable `var.{n}`"), loc).with_help(
                    did_you_mean(n, self.vars.iter().map(String::as_str))
                        .unwrap_or_else(|| format!("declare it with `[variable.{n}]`")),
                ),
            ),
            Ref::Local(n) if !self.locals.contains(n.as_str()) => diags.push(
                Diagnostic::at(format!("undeclared local `local.{n}`"), loc).with_help(
                    did_you_mean(n, self.locals.iter().map(String::as_str))
                        .unwrap_or_else(|| format!("define it under `[locals]` as `{n} = …`")),
                ),
            ),
            Ref::Resource { mode, type_name, .. } if self.schema(*mode, type_name).is_none() => {
                let (msg, hint) = match mode {
                    Mode::Data => (
                        format!("unknown data source `{type_name}` in `{}`", r.key()),
                        did_you_mean(type_name, self.registry.data_source_types()),
                    ),
                    Mode::Managed => (
                        format!("unknown reference `{}`: `{type_name}` is not a resource type", r.key()),
                        suggest(type_name, self.registry.resource_types().chain(["var", "local", "each", "data"]))
                            .map(|s| format!("did you mean `{s}`?")),
                    ),
                };
                let hint = match (mode, hint) {
                    (Mode::Managed, None) if self.registry.data_source(type_name).is_some() => {
                        Some(format!("`{type_name}` is a data source: refer to it as `data.{}`", r.key()))
                    }
                    (_, h) => h,
                };
                diags.push(Diagnostic::at(msg, loc).with_help_opt(hint));
            }
            Ref::Resource { mode, type_name, name } if !self.blocks.contains_key(&r.key()) => {
                let same_type = self
                    .blocks
                    .iter()
                    .filter(|(_, b)| b.mode == *mode && b.type_name == *type_name)
                    .map(|(k, _)| k.rsplit('.').next().unwrap_or(k));
                let hint =
                    suggest(name, same_type).map(|s| format!("did you mean `{}`?", block_key(*mode, type_name, s)));
                let what = if *mode == Mode::Data { "data source" } else { "resource" };
                diags.push(Diagnostic::at(format!("reference to undeclared {what} `{}`", r.key()), loc).with_help(
                    hint.unwrap_or_else(|| {
                        format!(
                            "declare it with `[{}.{type_name}.{name}]`",
                            if *mode == Mode::Data { "data" } else { "resource" }
                        )
                    }),
                ));
            }
            _ => {}
        }
    }

    fn check_attr(&self, base: &Expr, name: &str, loc: &Loc, diags: &mut Vec<Diagnostic>) {
        match &base.kind {
            ExprKind::Ref(r @ Ref::Resource { .. }, _) => {
                let Some(info) = self.blocks.get(&r.key()) else { return };
                if info.for_each {
                    let key = r.key();
                    diags.push(
                        Diagnostic::at(format!("`{key}` has `for_each`, so it has instances rather than attributes"), loc)
                            .with_help(format!("refer to one instance as `{key}[\"KEY\"].{name}` (or `{key}[each.key].{name}`), or to all as `{key}[*].{name}`")),
                    );
                    return;
                }
                self.check_schema_attr(info, &r.key(), name, loc, diags);
            }
            ExprKind::Index(inner, _) => {
                if let ExprKind::Ref(r @ Ref::Resource { .. }, _) = &inner.kind {
                    if let Some(info) = self.blocks.get(&r.key()).filter(|i| i.for_each) {
                        self.check_schema_attr(info, &r.key(), name, loc, diags);
                    }
                }
            }
            _ => {}
        }
    }

    fn check_schema_attr(&self, info: &BlockInfo, key: &str, name: &str, loc: &Loc, diags: &mut Vec<Diagnostic>) {
        let Some(schema) = self.schema(info.mode, &info.type_name) else {
            return;
        };
        if schema.attribute(name).is_some() {
            return;
        }
        let hint = did_you_mean(name, schema.attributes.iter().map(|a| a.name));
        diags.push(
            Diagnostic::at(format!("`{key}` has no attribute `{name}`"), loc)
                .with_label(format!("`{}` has no such attribute", info.type_name))
                .with_help(hint.unwrap_or_else(|| {
                    let names: Vec<&str> = schema.attributes.iter().map(|a| a.name).collect();
                    format!("`{}` has: {}", info.type_name, names.join(", "))
                })),
        );
    }
}

/// Parses every `*.toml` of `dir`, builds the [`Config`] and validates it against `registry`. No AWS calls.
pub fn load(dir: &Path, registry: &Registry) -> Result<Config, Diagnostics> {
    let read = std::fs::read_dir(dir)
        .map_err(|e| Diagnostic::new(format!("cannot read the stack directory `{}`: {e}", dir.display())))?;
    let mut names: Vec<String> = Vec::new();
    for entry in read.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".toml") && entry.file_type().map(|t| t.is_file() || t.is_symlink()).unwrap_or(false) {
            names.push(name);
        }
    }
    names.sort();
    if names.is_empty() {
        return Err(Diagnostic::new(format!("no *.toml files in `{}`", dir.display()))
            .with_help("a stack is a directory of .toml files; pass the right directory")
            .into());
    }

    let mut files = Vec::with_capacity(names.len());
    let mut hasher = Sha256::new();
    let mut diags = Vec::new();
    for name in &names {
        let path = dir.join(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::new(format!("cannot read `{}`: {e}", path.display())));
                continue;
            }
        };
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(text.as_bytes());
        hasher.update([0]);
        files.push(SourceFile::new(path, text));
    }
    let hash = hex::encode(hasher.finalize());

    let mut docs = Vec::with_capacity(files.len());
    for f in &files {
        match DeTable::parse(&f.text) {
            Ok(d) => docs.push(d),
            Err(e) => {
                let msg = format!("TOML syntax error: {}", e.message().trim());
                diags.push(match e.span() {
                    Some(s) => Diagnostic::at(msg, &Loc::new(f, s)),
                    None => Diagnostic::new(format!("{}: {msg}", f.path.display())),
                });
            }
        }
    }
    if !diags.is_empty() {
        return Err(Diagnostics(diags));
    }

    let mut l = Loader {
        registry,
        diags,
        file: files[0].clone(),
        stack: None,
        stack_table: None,
        aws_table: None,
        backend_table: None,
        region: None,
        role_arn: None,
        default_tags: BTreeMap::new(),
        backend_kind: "local".into(),
        backend_path: None,
        backend_s3: None,
        variables: BTreeMap::new(),
        locals: BTreeMap::new(),
        managed: Vec::new(),
        data: Vec::new(),
        block_locs: HashMap::new(),
        outputs: BTreeMap::new(),
    };
    for (f, doc) in files.iter().zip(&docs) {
        l.file = f.clone();
        l.file(doc.get_ref());
    }
    drop(docs);

    let Loader {
        mut diags,
        stack,
        region,
        role_arn,
        default_tags,
        backend_kind,
        backend_path,
        backend_s3,
        backend_table,
        variables,
        locals,
        managed,
        data,
        outputs,
        ..
    } = l;
    let mut locals: BTreeMap<String, Node> = locals.into_iter().map(|(k, (n, _))| (k, n)).collect();
    let mut blocks: Vec<Block> = managed;
    blocks.extend(data);
    let mut outputs = outputs;

    // Second pass: references.
    let names = Names {
        registry,
        vars: variables.keys().cloned().collect(),
        locals: locals.keys().cloned().collect(),
        blocks: blocks
            .iter()
            .map(|b| {
                (b.key(), BlockInfo { mode: b.mode, type_name: b.type_name.clone(), for_each: b.for_each.is_some() })
            })
            .collect(),
    };
    let check = |node: &mut Node, each_ok: bool, diags: &mut Vec<Diagnostic>| {
        node.templates_mut(&mut |t, loc| names.check(t, &loc.file, each_ok, diags));
    };
    for b in &mut blocks {
        let has_for_each = b.for_each.is_some();
        if let Some(fe) = &mut b.for_each {
            check(fe, false, &mut diags);
        }
        for node in b.attrs.values_mut() {
            check(node, has_for_each, &mut diags);
        }
        if let Some(node) = &mut b.lifecycle.prevent_destroy {
            check(node, false, &mut diags);
            for (r, loc) in node.references() {
                if !matches!(r, Ref::Var(_)) {
                    diags.push(
                        Diagnostic::at(
                            format!("`prevent_destroy` can only refer to variables, not `{}`", r.key()),
                            &loc,
                        )
                        .with_help(
                            "it is decided before anything is read from AWS: use a variable, e.g. `\"${var.protect}\"`",
                        ),
                    );
                }
            }
        }
        for (r, loc) in &b.depends_on {
            let key = r.key();
            if !names.blocks.contains_key(&key) {
                let hint = did_you_mean(&key, names.blocks.keys().map(String::as_str));
                diags.push(
                    Diagnostic::at(format!("`depends_on`: no block `{key}` is declared"), loc).with_help_opt(hint),
                );
            }
        }
    }
    for node in locals.values_mut() {
        check(node, false, &mut diags);
    }
    for o in outputs.values_mut() {
        check(&mut o.value, false, &mut diags);
    }

    let stack_name = match stack {
        Some((n, _)) => n,
        None => {
            diags.push(
                Diagnostic::new(format!("the stack in `{}` has no name", dir.display()))
                    .with_help("add to one of its files:\n[stack]\nname = \"my-stack\""),
            );
            String::new()
        }
    };

    if !diags.is_empty() {
        // Stable order: by file, then position.
        diags.sort_by(|a, b| match (&a.loc, &b.loc) {
            (Some(x), Some(y)) => (&x.file.path, x.span.start).cmp(&(&y.file.path, y.span.start)),
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, None) => std::cmp::Ordering::Equal,
        });
        return Err(Diagnostics(diags));
    }

    let backend = BackendConfig {
        kind: backend_kind,
        path: dir.join(backend_path.as_deref().map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_PATH))),
        s3: backend_s3.map(|f| S3BackendConfig {
            bucket: f.bucket.unwrap_or_default(),
            key: f.key.unwrap_or_default(),
            region: f.region,
            workspace_key_prefix: f.workspace_key_prefix.unwrap_or_else(|| "env:".to_string()),
            kms_key_id: f.kms_key_id,
            endpoint: f.endpoint,
        }),
        loc: backend_table,
    };
    Ok(Config {
        dir: dir.to_path_buf(),
        files,
        stack_name,
        region,
        role_arn,
        default_tags,
        backend,
        variables,
        locals,
        blocks,
        outputs,
        hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_maps_follow_escapes() {
        let text = r#"a = "x\"${var.y}""#;
        let span = 4..text.len();
        let decoded = "x\"${var.y}";
        let map = string_map(text, span, decoded);
        assert_eq!(map.len(), decoded.len() + 1);
        assert_eq!(&text[map[2]..map[2] + 2], "${");
        let text = "a = '''\n${x}'''";
        let map = string_map(text, 4..text.len(), "${x}");
        assert_eq!(map[0], 8);
        let text = "a = \"\"\"\nab \\\n   ${x}\"\"\"";
        let map = string_map(text, 4..text.len(), "ab ${x}");
        assert_eq!(&text[map[3]..map[3] + 1], "$");
        // Mismatch falls back to the token start.
        assert_eq!(string_map("a = \"zz\"", 4..8, "yy"), vec![4, 4, 4]);
    }
}
