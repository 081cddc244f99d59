//! Resource schemas: the single source of truth about each resource type's attributes.
//!
//! One [`Schema`] per resource or data-source type says, for each attribute, its [`Type`], whether it is
//! required, optional, computed or optional+computed, whether changing it forces replacement, whether it is
//! sensitive, and its default. Everything generic is driven from here: config validation (unknown keys with
//! "did you mean", types with Terraform's conversions and a hint when a value does not convert, one table
//! for a nested block, required attributes), normalisation before diffing (defaults filled, sets sorted),
//! the diff itself (forcing attributes → replace), redaction of sensitive values and the JSON Schema for
//! editors. No resource writes its own validation or diff.

use std::collections::BTreeMap;

use crate::value::{Attrs, Value};

#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    String,
    Number,
    Bool,
    List(Box<Type>),
    /// Unordered: compared and stored sorted, duplicates removed.
    Set(Box<Type>),
    Map(Box<Type>),
    /// A nested block (TOML table), e.g. one `ingress` rule.
    Object(Vec<Attribute>),
    Any,
}

impl Type {
    pub fn list(t: Type) -> Type {
        Type::List(Box::new(t))
    }
    pub fn set(t: Type) -> Type {
        Type::Set(Box::new(t))
    }
    pub fn map(t: Type) -> Type {
        Type::Map(Box::new(t))
    }

    /// Human name, e.g. "list of string".
    pub fn describe(&self) -> String {
        match self {
            Type::String => "string".into(),
            Type::Number => "number".into(),
            Type::Bool => "bool".into(),
            Type::List(t) => format!("list of {}", t.describe()),
            Type::Set(t) => format!("set of {}", t.describe()),
            Type::Map(t) => format!("map of {}", t.describe()),
            Type::Object(_) => "table".into(),
            Type::Any => "any value".into(),
        }
    }

    /// Checks (and where lossless, converts) `v` to this type; see [`Type::check`]. Errors are a path
    /// suffix such as `[0].from_port` and a message (with the hint appended when there is one).
    pub fn conform(&self, v: &Value) -> Result<Value, (String, String)> {
        self.check(v).map_err(|m| {
            let msg = match &m.hint {
                Some(h) if m.message.starts_with("unknown attribute") => format!("{}; {h}", m.message),
                _ => m.message,
            };
            (m.path, msg)
        })
    }

    /// Checks `v` against this type, converting as Terraform does: a string holding a number where a
    /// number is expected (`"80"` → `80`), `"true"`/`"false"` where a bool is, a number or bool where a
    /// string is (`80` → `"80"`), element by element inside lists, sets, maps and tables. A nested block
    /// (a list or set of tables) also takes ONE table, read as a one-element list. Unknown and null pass.
    pub fn check(&self, v: &Value) -> Result<Value, Mismatch> {
        match (self, v) {
            (_, Value::Unknown) | (_, Value::Null) | (Type::Any, _) => Ok(v.clone()),
            (Type::String, Value::String(_)) => Ok(v.clone()),
            (Type::String, Value::Number(_)) | (Type::String, Value::Bool(_)) => Ok(Value::String(v.to_string())),
            (Type::Number, Value::Number(_)) => Ok(v.clone()),
            (Type::Number, Value::String(s)) => match parse_number(s) {
                Some(n) => Ok(Value::Number(n)),
                None => Err(self.mismatch(v)),
            },
            (Type::Bool, Value::Bool(_)) => Ok(v.clone()),
            (Type::Bool, Value::String(s)) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
            // One table where a block list is expected: a one-element list (errors keep the table's paths).
            (Type::List(t) | Type::Set(t), Value::Map(_)) if matches!(**t, Type::Object(_)) => {
                Ok(Value::List(vec![t.check(v)?]))
            }
            (Type::List(t) | Type::Set(t), Value::List(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(t.check(item).map_err(|m| m.under(&format!("[{i}]")))?);
                }
                Ok(Value::List(out))
            }
            (Type::Map(t), Value::Map(m)) => {
                let mut out = BTreeMap::new();
                for (k, item) in m {
                    out.insert(k.clone(), t.check(item).map_err(|e| e.under(&format!("[{k:?}]")))?);
                }
                Ok(Value::Map(out))
            }
            (Type::Object(attrs), Value::Map(m)) => {
                for key in m.keys() {
                    if !attrs.iter().any(|a| a.name == key) {
                        let hint = suggest(key, attrs.iter().map(|a| a.name))
                            .map(|s| format!("did you mean `{s}`?"))
                            .unwrap_or_else(|| {
                                let names: Vec<&str> = attrs.iter().map(|a| a.name).collect();
                                format!("this table takes: {}", names.join(", "))
                            });
                        return Err(Mismatch {
                            path: format!(".{key}"),
                            message: format!("unknown attribute `{key}`"),
                            hint: Some(hint),
                        });
                    }
                }
                let mut out = BTreeMap::new();
                for a in attrs {
                    match m.get(a.name) {
                        Some(item) => {
                            let c = a.check(item).map_err(|e| e.under(&format!(".{}", a.name)))?;
                            out.insert(a.name.to_owned(), c);
                        }
                        None if a.presence == Presence::Required => {
                            return Err(Mismatch {
                                path: String::new(),
                                message: format!("missing required attribute `{}`", a.name),
                                hint: Some(if a.description.is_empty() {
                                    format!("add `{} = …` to the table", a.name)
                                } else {
                                    format!("add `{} = …` to the table ({})", a.name, a.description)
                                }),
                            })
                        }
                        None => {}
                    }
                }
                Ok(Value::Map(out))
            }
            _ => Err(self.mismatch(v)),
        }
    }

    /// "expected number, found string \"eighty\"" with a hint on how to write this type.
    fn mismatch(&self, v: &Value) -> Mismatch {
        let hint = match (self, v) {
            (Type::Number, Value::String(_)) => {
                "write a number, e.g. `80`; a string converts only when it holds one, e.g. `\"80\"`".to_owned()
            }
            (Type::Number, _) => "write a number, e.g. `80`".to_owned(),
            (Type::Bool, _) => "write `true` or `false` (the strings \"true\" and \"false\" convert too)".to_owned(),
            (Type::String, Value::List(_)) => {
                "a list does not convert to a string: pick one element, or use join(\",\", …)".to_owned()
            }
            (Type::String, _) => "write a string, e.g. `\"web\"`".to_owned(),
            (Type::List(t) | Type::Set(t), _) if matches!(**t, Type::Object(_)) => {
                "write one table `{ … }` or an array of tables `[{ … }, { … }]`".to_owned()
            }
            (Type::List(_) | Type::Set(_), Value::String(_) | Value::Number(_) | Value::Bool(_)) => {
                format!("wrap it in brackets: `[{v}]`")
            }
            (Type::List(_) | Type::Set(_), _) => "write an array, e.g. `[\"a\", \"b\"]`".to_owned(),
            (Type::Map(_), _) => "write a table, e.g. `{ Name = \"web\" }`".to_owned(),
            (Type::Object(_), _) => "write a table, e.g. `{ key = value }`".to_owned(),
            (Type::Any, _) => String::new(),
        };
        Mismatch {
            path: String::new(),
            message: format!("expected {}, found {}", self.describe(), found(v)),
            hint: (!hint.is_empty()).then_some(hint),
        }
    }

    /// Canonical form for comparison: defaults of nested objects filled, sets sorted and deduplicated.
    pub fn normalize(&self, v: &Value) -> Value {
        match (self, v) {
            (Type::List(t), Value::List(items)) => Value::List(items.iter().map(|i| t.normalize(i)).collect()),
            (Type::Set(t), Value::List(items)) => {
                let mut out: Vec<Value> = items.iter().map(|i| t.normalize(i)).collect();
                if out.iter().all(Value::is_known) {
                    out.sort_by_cached_key(Value::canonical);
                    out.dedup();
                }
                Value::List(out)
            }
            (Type::Map(t), Value::Map(m)) => Value::Map(m.iter().map(|(k, i)| (k.clone(), t.normalize(i))).collect()),
            (Type::Object(attrs), Value::Map(m)) => {
                let mut out = BTreeMap::new();
                for a in attrs {
                    let item = m.get(a.name).cloned().filter(|v| !v.is_null()).or_else(|| a.default.clone());
                    if let Some(item) = item {
                        out.insert(a.name.to_owned(), a.ty.normalize(&item));
                    }
                }
                Value::Map(out)
            }
            _ => v.clone(),
        }
    }
}

/// Why a value does not fit a type: where inside it (a path suffix such as `[0].from_port`, empty for the
/// value itself), what is wrong, and how to write it instead.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
}

impl Mismatch {
    /// The same mismatch, one level deeper (`prefix` is `[0]`, `["k"]` or `.name`).
    fn under(mut self, prefix: &str) -> Mismatch {
        self.path = format!("{prefix}{}", self.path);
        self
    }
}

/// A number written as a string, as Terraform converts it: decimal, finite, no surrounding spaces.
fn parse_number(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// "string \"eighty\"", "number 5", "list": what a value is, for mismatch messages.
fn found(v: &Value) -> String {
    match v {
        Value::String(s) if s.chars().count() > 40 => {
            let head: String = s.chars().take(40).collect();
            format!("string {}…", Value::String(head))
        }
        Value::String(_) | Value::Number(_) | Value::Bool(_) => format!("{} {v}", v.type_name()),
        other => other.type_name().to_owned(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    Required,
    Optional,
    /// Set by AWS only; a config may not set it.
    Computed,
    /// Set by the config, or by AWS when the config leaves it out.
    OptionalComputed,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: &'static str,
    pub ty: Type,
    pub presence: Presence,
    pub forces_replacement: bool,
    pub sensitive: bool,
    /// Sent to AWS on create, and on update when the configuration asks for it, but never stored in state
    /// or shown in a plan (Terraform 1.11's write-only arguments, e.g. `password_wo`); a change of it alone
    /// is no diff — a companion version attribute (`password_wo_version`) triggers a resend.
    pub write_only: bool,
    pub default: Option<Value>,
    pub description: &'static str,
    /// Extra syntax check of string values (applied to each element of lists/sets of strings).
    pub format: Format,
}

/// Syntax checks beyond the type, run at validate (literals) and plan (interpolated values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    None,
    /// An IPv4 or IPv6 network in CIDR notation, e.g. `10.0.0.0/16`.
    Cidr,
    /// One of a fixed set of strings.
    OneOf(&'static [&'static str]),
}

impl Format {
    /// Checks a known value; unknown values and non-strings pass (types are checked separately).
    pub fn check(&self, v: &Value) -> Result<(), String> {
        match v {
            Value::List(items) => items.iter().try_for_each(|i| self.check(i)),
            Value::String(s) => match self {
                Format::None => Ok(()),
                Format::Cidr => match s.parse::<ipnet::IpNet>() {
                    Ok(net) if net.trunc() == net => Ok(()),
                    Ok(net) => Err(format!("`{s}` has host bits set; the network address is `{}`", net.trunc())),
                    Err(_) => Err(format!("`{s}` is not a valid CIDR block (expected e.g. `10.0.0.0/16`)")),
                },
                Format::OneOf(allowed) if allowed.contains(&s.as_str()) => Ok(()),
                Format::OneOf(allowed) => Err(format!("`{s}` is not one of {}", allowed.join(", "))),
            },
            _ => Ok(()),
        }
    }
}

impl Attribute {
    pub fn new(name: &'static str, ty: Type) -> Self {
        Attribute {
            name,
            ty,
            presence: Presence::Optional,
            forces_replacement: false,
            sensitive: false,
            write_only: false,
            default: None,
            description: "",
            format: Format::None,
        }
    }
    pub fn string(name: &'static str) -> Self {
        Self::new(name, Type::String)
    }
    pub fn number(name: &'static str) -> Self {
        Self::new(name, Type::Number)
    }
    pub fn bool(name: &'static str) -> Self {
        Self::new(name, Type::Bool)
    }
    pub fn required(mut self) -> Self {
        self.presence = Presence::Required;
        self
    }
    pub fn optional(mut self) -> Self {
        self.presence = Presence::Optional;
        self
    }
    pub fn computed(mut self) -> Self {
        self.presence = Presence::Computed;
        self
    }
    pub fn optional_computed(mut self) -> Self {
        self.presence = Presence::OptionalComputed;
        self
    }
    pub fn forces_new(mut self) -> Self {
        self.forces_replacement = true;
        self
    }
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    /// See [`Attribute::write_only`]; implies sensitive.
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self.sensitive = true;
        self
    }
    pub fn default(mut self, v: impl Into<Value>) -> Self {
        self.default = Some(v.into());
        self
    }
    pub fn default_value(mut self, v: Value) -> Self {
        self.default = Some(v);
        self
    }
    pub fn describe(mut self, d: &'static str) -> Self {
        self.description = d;
        self
    }
    pub fn format(mut self, f: Format) -> Self {
        self.format = f;
        self
    }
    pub fn cidr(self) -> Self {
        self.format(Format::Cidr)
    }
    pub fn one_of(self, allowed: &'static [&'static str]) -> Self {
        self.format(Format::OneOf(allowed))
    }

    /// Type-checks (see [`Type::conform`]) then format-checks a value for this attribute.
    pub fn conform(&self, v: &Value) -> Result<Value, (String, String)> {
        let c = self.ty.conform(v)?;
        self.format.check(&c).map_err(|m| (String::new(), m))?;
        Ok(c)
    }

    /// [`Attribute::conform`] with hints: type-checks and converts (see [`Type::check`]), then
    /// format-checks a value for this attribute.
    pub fn check(&self, v: &Value) -> Result<Value, Mismatch> {
        let c = self.ty.check(v)?;
        self.format.check(&c).map_err(|message| Mismatch { path: String::new(), message, hint: None })?;
        Ok(c)
    }

    /// True for a nested block: a list or set of tables (`ingress`, `default_action`, …).
    pub fn is_block(&self) -> bool {
        matches!(&self.ty, Type::List(t) | Type::Set(t) if matches!(**t, Type::Object(_)))
    }

    pub fn settable(&self) -> bool {
        self.presence != Presence::Computed
    }
}

/// The schema of one resource or data-source type.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    pub type_name: &'static str,
    pub description: &'static str,
    pub attributes: Vec<Attribute>,
    /// Has `tags` (user tags) and `tags_all` (user + `[aws] default_tags`); the tool adds its own tags on
    /// create, which are never shown in plans.
    pub taggable: bool,
}

/// Name of the computed provider-id attribute every resource has.
pub const ID: &str = "id";
pub const TAGS: &str = "tags";
pub const TAGS_ALL: &str = "tags_all";

impl Schema {
    /// A schema with the computed `id` attribute already declared.
    pub fn new(type_name: &'static str, description: &'static str) -> Self {
        Schema {
            type_name,
            description,
            attributes: vec![Attribute::string(ID).computed().describe("The provider-assigned id.")],
            taggable: false,
        }
    }

    /// Declares `tags` (optional map of string) and `tags_all` (computed).
    pub fn taggable(mut self) -> Self {
        self.taggable = true;
        self.attributes.push(
            Attribute::new(TAGS, Type::map(Type::String))
                .optional()
                .describe("Tags for this resource; merged over [aws] default_tags."),
        );
        self.attributes.push(
            Attribute::new(TAGS_ALL, Type::map(Type::String))
                .computed()
                .describe("All tags: [aws] default_tags merged with `tags`."),
        );
        self
    }

    pub fn attr(mut self, a: Attribute) -> Self {
        self.attributes.push(a);
        self
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// "did you mean" for an unknown attribute name.
    pub fn suggest(&self, name: &str) -> Option<&'static str> {
        suggest(name, self.attributes.iter().filter(|a| a.settable()).map(|a| a.name))
    }

    /// Canonical attributes for diffing: defaults of unset optional attributes filled, each value
    /// normalised by its type. Attributes not in the schema are kept as they are.
    pub fn normalize(&self, attrs: &Attrs) -> Attrs {
        let mut out = attrs.clone();
        for a in &self.attributes {
            match attrs.get(a.name) {
                Some(v) if !v.is_null() => {
                    out.insert(a.name.to_owned(), a.ty.normalize(v));
                }
                _ => {
                    if let Some(d) = &a.default {
                        out.insert(a.name.to_owned(), a.ty.normalize(d));
                    }
                }
            }
        }
        out
    }

    /// A JSON Schema of the resource's settable attributes, for editors and reference docs.
    pub fn json_schema(&self) -> serde_json::Value {
        object_json_schema(self.attributes.iter().filter(|a| a.settable()), self.description)
    }
}

fn object_json_schema<'a>(attrs: impl Iterator<Item = &'a Attribute>, description: &str) -> serde_json::Value {
    let mut props = serde_json::Map::new();
    let mut required = Vec::new();
    for a in attrs {
        let mut s = type_json_schema(&a.ty);
        if let serde_json::Value::Object(o) = &mut s {
            if !a.description.is_empty() {
                o.insert("description".into(), a.description.into());
            }
            if let Some(d) = a.default.as_ref().and_then(Value::to_json) {
                o.insert("default".into(), d);
            }
        }
        if a.presence == Presence::Required {
            required.push(serde_json::Value::from(a.name));
        }
        props.insert(a.name.to_owned(), s);
    }
    serde_json::json!({
        "type": "object",
        "description": description,
        "properties": props,
        "required": required,
        "additionalProperties": false,
    })
}

fn type_json_schema(t: &Type) -> serde_json::Value {
    use serde_json::json;
    match t {
        Type::String => json!({"type": "string"}),
        Type::Number => json!({"type": "number"}),
        Type::Bool => json!({"type": "boolean"}),
        // A nested block also takes one table.
        Type::List(t) if matches!(**t, Type::Object(_)) => {
            json!({"anyOf": [{"type": "array", "items": type_json_schema(t)}, type_json_schema(t)]})
        }
        Type::Set(t) if matches!(**t, Type::Object(_)) => json!({"anyOf": [
            {"type": "array", "items": type_json_schema(t), "uniqueItems": true},
            type_json_schema(t)
        ]}),
        Type::List(t) => json!({"type": "array", "items": type_json_schema(t)}),
        Type::Set(t) => json!({"type": "array", "items": type_json_schema(t), "uniqueItems": true}),
        Type::Map(t) => json!({"type": "object", "additionalProperties": type_json_schema(t)}),
        Type::Object(attrs) => object_json_schema(attrs.iter(), ""),
        Type::Any => json!({}),
    }
}

/// The closest candidate by edit distance, if close enough to be a plausible typo.
pub fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule_type() -> Type {
        Type::Object(vec![
            Attribute::number("from_port").required(),
            Attribute::string("protocol").required(),
            Attribute::new("cidr_blocks", Type::set(Type::String)).default_value(Value::List(vec![])),
            Attribute::string("description").default(""),
        ])
    }

    #[test]
    fn sets_of_objects_normalise_equal_regardless_of_order_and_defaults() {
        let t = Type::set(rule_type());
        let a = Value::from_json(&serde_json::json!([
            {"from_port": 443, "protocol": "tcp", "cidr_blocks": ["b", "a"]},
            {"from_port": 80, "protocol": "tcp"}
        ]));
        let b = Value::from_json(&serde_json::json!([
            {"from_port": 80, "protocol": "tcp", "cidr_blocks": [], "description": ""},
            {"from_port": 443, "protocol": "tcp", "cidr_blocks": ["a", "b"], "description": ""}
        ]));
        assert_eq!(t.normalize(&a), t.normalize(&b));
    }

    #[test]
    fn conform_reports_path_and_suggestion() {
        let t = Type::list(rule_type());
        let v = Value::from_json(&serde_json::json!([{"from_port": 1, "protocol": "tcp", "cidr_block": []}]));
        let (path, msg) = t.conform(&v).unwrap_err();
        assert_eq!(path, "[0].cidr_block");
        assert!(msg.contains("did you mean `cidr_blocks`"), "{msg}");
        let v = Value::from_json(&serde_json::json!([{"from_port": "x", "protocol": "tcp"}]));
        assert_eq!(t.conform(&v).unwrap_err(), ("[0].from_port".into(), "expected number, found string \"x\"".into()));
    }

    fn j(v: serde_json::Value) -> Value {
        Value::from_json(&v)
    }

    #[test]
    fn strings_convert_to_numbers_and_bools() {
        for (s, n) in [("80", 80.0), ("8080", 8080.0), ("-3", -3.0), ("1.5", 1.5), ("1e3", 1000.0), ("+7", 7.0)] {
            assert_eq!(Type::Number.check(&Value::str(s)), Ok(Value::Number(n)), "{s}");
        }
        assert_eq!(Type::Bool.check(&Value::str("true")), Ok(Value::Bool(true)));
        assert_eq!(Type::Bool.check(&Value::str("false")), Ok(Value::Bool(false)));
        // Already the right type, unknown and null: unchanged.
        assert_eq!(Type::Number.check(&Value::int(80)), Ok(Value::int(80)));
        assert_eq!(Type::Bool.check(&Value::Unknown), Ok(Value::Unknown));
        assert_eq!(Type::Number.check(&Value::Null), Ok(Value::Null));
    }

    #[test]
    fn numbers_and_bools_convert_to_strings() {
        assert_eq!(Type::String.check(&Value::int(80)), Ok(Value::str("80")));
        assert_eq!(Type::String.check(&Value::Number(1.5)), Ok(Value::str("1.5")));
        assert_eq!(Type::String.check(&Value::Bool(true)), Ok(Value::str("true")));
    }

    #[test]
    fn strings_that_are_not_numbers_are_refused_with_a_hint() {
        for s in ["eighty", "", " 80", "80 ", "0x10", "inf", "NaN", "1_000", "80px"] {
            let m = Type::Number.check(&Value::str(s)).unwrap_err();
            assert_eq!(m.message, format!("expected number, found string {}", Value::str(s)), "{s}");
            assert!(m.hint.as_deref().unwrap().contains("e.g. `\"80\"`"), "{m:?}");
        }
        for s in ["yes", "True", "1", ""] {
            let m = Type::Bool.check(&Value::str(s)).unwrap_err();
            assert_eq!(m.message, format!("expected bool, found string {}", Value::str(s)));
            assert!(m.hint.unwrap().contains("`true` or `false`"));
        }
        // Numbers are not bools, lists and tables are not strings.
        let m = Type::Bool.check(&Value::int(1)).unwrap_err();
        assert_eq!(m.message, "expected bool, found number 1");
        let m = Type::String.check(&j(serde_json::json!(["a"]))).unwrap_err();
        assert_eq!(m.message, "expected string, found list");
        assert!(m.hint.unwrap().contains("join"));
        let m = Type::String.check(&j(serde_json::json!({"a": 1}))).unwrap_err();
        assert_eq!(m.message, "expected string, found map");
        // A long string is shortened in the message.
        let m = Type::Number.check(&Value::str("x".repeat(100))).unwrap_err();
        assert!(m.message.ends_with("xxx\"…"), "{}", m.message);
    }

    #[test]
    fn conversions_apply_inside_lists_maps_and_tables() {
        let t = Type::list(Type::Number);
        assert_eq!(t.check(&j(serde_json::json!(["80", 443]))), Ok(j(serde_json::json!([80, 443]))));
        let m = t.check(&j(serde_json::json!([80, "http"]))).unwrap_err();
        assert_eq!((m.path.as_str(), m.message.as_str()), ("[1]", "expected number, found string \"http\""));
        let t = Type::map(Type::String);
        assert_eq!(
            t.check(&j(serde_json::json!({"Port": 80, "Public": true}))),
            Ok(j(serde_json::json!({"Port": "80", "Public": "true"})))
        );
        let t = Type::set(Type::String);
        assert_eq!(t.check(&j(serde_json::json!([1, "a"]))), Ok(j(serde_json::json!(["1", "a"]))));
        let t = Type::list(rule_type());
        assert_eq!(
            t.check(&j(serde_json::json!([{"from_port": "443", "protocol": "tcp", "description": 7}]))),
            Ok(j(serde_json::json!([{"from_port": 443, "protocol": "tcp", "description": "7"}])))
        );
        let m = t.check(&j(serde_json::json!([{"from_port": "https", "protocol": "tcp"}]))).unwrap_err();
        assert_eq!(m.path, "[0].from_port");
        assert!(m.hint.is_some());
    }

    #[test]
    fn one_table_is_a_one_element_block_list() {
        for t in [Type::list(rule_type()), Type::set(rule_type())] {
            let one = j(serde_json::json!({"from_port": "22", "protocol": "tcp"}));
            assert_eq!(t.check(&one), Ok(j(serde_json::json!([{"from_port": 22, "protocol": "tcp"}]))));
            // Errors inside the table keep the table's own paths (no `[0]`).
            let m = t.check(&j(serde_json::json!({"from_port": 22, "protocol": "tcp", "cidr_block": []}))).unwrap_err();
            assert_eq!((m.path.as_str(), m.message.as_str()), (".cidr_block", "unknown attribute `cidr_block`"));
            assert_eq!(m.hint.as_deref(), Some("did you mean `cidr_blocks`?"));
            let m = t.check(&j(serde_json::json!({"protocol": "tcp"}))).unwrap_err();
            assert_eq!((m.path.as_str(), m.message.as_str()), ("", "missing required attribute `from_port`"));
            assert!(m.hint.unwrap().contains("add `from_port = …`"));
        }
        // Only blocks: a list of strings does not take a table, a table of strings does not take a list.
        let m = Type::list(Type::String).check(&j(serde_json::json!({"a": "b"}))).unwrap_err();
        assert_eq!(m.message, "expected list of string, found map");
        let m = Type::list(rule_type()).check(&Value::str("x")).unwrap_err();
        assert!(m.hint.unwrap().contains("one table `{ … }` or an array of tables"));
        let m = Type::set(Type::String).check(&Value::str("0.0.0.0/0")).unwrap_err();
        assert_eq!(m.hint.as_deref(), Some("wrap it in brackets: `[\"0.0.0.0/0\"]`"));
    }

    #[test]
    fn unknown_table_keys_list_what_the_table_takes() {
        let m = rule_type().check(&j(serde_json::json!({"zzzzzzzz": 1}))).unwrap_err();
        assert_eq!(m.hint.as_deref(), Some("this table takes: from_port, protocol, cidr_blocks, description"));
        // Unknown values pass anywhere, also inside tables.
        assert!(rule_type()
            .check(&Value::Map([("from_port".into(), Value::Unknown), ("protocol".into(), Value::str("tcp"))].into()))
            .is_ok());
    }

    #[test]
    fn json_schema_lets_a_block_be_one_table() {
        let s = Schema::new("x", "X").attr(Attribute::new("rule", Type::list(rule_type())).describe("Rules."));
        let js = s.json_schema();
        let rule = &js["properties"]["rule"];
        assert_eq!(rule["anyOf"][0]["type"], "array");
        assert_eq!(rule["anyOf"][1]["type"], "object");
        assert_eq!(rule["description"], "Rules.");
    }

    #[test]
    fn cidr_format() {
        let a = Attribute::string("cidr_block").cidr();
        assert!(a.conform(&Value::str("10.0.0.0/16")).is_ok());
        assert!(a.conform(&Value::str("10.0.0.0/33")).unwrap_err().1.contains("not a valid CIDR"));
        assert!(a.conform(&Value::str("10.0.0.1/16")).unwrap_err().1.contains("host bits"));
        assert!(a.conform(&Value::Unknown).is_ok());
    }

    #[test]
    fn suggest_finds_typos_only() {
        let names = ["cidr_block", "vpc_id", "tags"];
        assert_eq!(suggest("cidr_blok", names.iter().copied()), Some("cidr_block"));
        assert_eq!(suggest("zzzzzz", names.iter().copied()), None);
    }
}
