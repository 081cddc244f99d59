//! Variable types and resolution of variable values from defaults, the environment
//! (`PROVISIONER_VAR_<NAME>`), var-files and `--var NAME=VALUE` pairs, in that order of precedence.
//!
//! Values are converted to the declared type (or the type of the default) and checked against `allowed`.
//! Errors are located in the var-file when the value came from one, otherwise at the declaration.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::schema::{suggest, Type};
use crate::value::Value;

use super::diag::{Diagnostic, Diagnostics, Loc, SourceFile};
use super::load::de_value;
use super::Config;

/// The declared type of a variable: `string`, `number`, `bool`, `list(T)`, `set(T)`, `map(T)`, `any`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VarType {
    String,
    Number,
    Bool,
    List(Box<VarType>),
    Map(Box<VarType>),
    Any,
}

impl VarType {
    /// Parses a type expression such as `"list(string)"`; `list`/`set`/`map` alone hold any values.
    pub fn parse(s: &str) -> Result<VarType, String> {
        let s = s.trim();
        let inner = |rest: &str| -> Result<VarType, String> {
            match rest.trim().strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
                Some(i) => VarType::parse(i),
                None if rest.trim().is_empty() => Ok(VarType::Any),
                None => Err(format!("invalid type `{s}`")),
            }
        };
        Ok(match s {
            "string" => VarType::String,
            "number" => VarType::Number,
            "bool" => VarType::Bool,
            "any" => VarType::Any,
            _ if s.starts_with("list") => VarType::List(Box::new(inner(&s[4..])?)),
            _ if s.starts_with("set") => VarType::List(Box::new(inner(&s[3..])?)),
            _ if s.starts_with("map") => VarType::Map(Box::new(inner(&s[3..])?)),
            _ => {
                let hint = suggest(s, ["string", "number", "bool", "list", "map", "any"].into_iter())
                    .map(|h| format!("; did you mean `{h}`?"))
                    .unwrap_or_default();
                return Err(format!(
                    "unknown type `{s}` (expected string, number, bool, list(T), set(T), map(T) or any){hint}"
                ));
            }
        })
    }

    /// The type a value suggests (for variables declared without `type`).
    pub fn of(v: &Value) -> VarType {
        match v {
            Value::String(_) => VarType::String,
            Value::Number(_) => VarType::Number,
            Value::Bool(_) => VarType::Bool,
            Value::List(_) => VarType::List(Box::new(VarType::Any)),
            Value::Map(_) => VarType::Map(Box::new(VarType::Any)),
            Value::Null | Value::Unknown => VarType::Any,
        }
    }

    pub fn to_type(&self) -> Type {
        match self {
            VarType::String => Type::String,
            VarType::Number => Type::Number,
            VarType::Bool => Type::Bool,
            VarType::List(t) => Type::list(t.to_type()),
            VarType::Map(t) => Type::map(t.to_type()),
            VarType::Any => Type::Any,
        }
    }

    pub fn describe(&self) -> String {
        self.to_type().describe()
    }

    /// Converts a value to this type; the error says where inside it the problem is.
    pub fn convert(&self, v: &Value) -> Result<Value, String> {
        self.to_type().conform(v).map_err(
            |(path, msg)| {
                if path.is_empty() {
                    msg
                } else {
                    format!("at `{path}`: {msg}")
                }
            },
        )
    }
}

/// Where a variable's value came from, for error messages.
#[derive(Clone)]
enum Source {
    Default,
    Env(String),
    File(Loc),
    Cli(String),
}

/// Parses a value given as text (environment, `--var`): verbatim for strings, otherwise as a TOML value.
fn parse_text(ty: Option<&VarType>, raw: &str) -> Value {
    let as_toml = match ty {
        Some(VarType::String) => false,
        None | Some(VarType::Any) => matches!(raw.trim_start().chars().next(), Some('[' | '{')),
        Some(_) => true,
    };
    if as_toml {
        if let Ok(v) = toml::de::DeValue::parse(raw.trim()) {
            return de_value(v.get_ref());
        }
    }
    Value::String(raw.to_owned())
}

pub fn resolve_variables(
    config: &Config,
    var_files: &[PathBuf],
    cli_vars: &[(String, String)],
    env: &dyn Fn(&str) -> Option<String>,
    require_all: bool,
) -> Result<BTreeMap<String, Value>, Diagnostics> {
    let mut diags = Vec::new();
    let mut values: BTreeMap<&str, (Value, Source)> = BTreeMap::new();
    let ty_of = |name: &str| -> Option<VarType> {
        let d = config.variables.get(name)?;
        d.ty.clone().or_else(|| d.default.as_ref().map(VarType::of))
    };
    let not_declared = |name: &str| {
        suggest(name, config.variables.keys().map(String::as_str))
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| format!("declare it in the stack with `[variable.{name}]`"))
    };

    for (name, decl) in &config.variables {
        if let Some(d) = &decl.default {
            values.insert(name, (d.clone(), Source::Default));
        }
        let env_name = format!("PROVISIONER_VAR_{name}");
        let raw = env(&env_name).map(|r| (env_name.clone(), r)).or_else(|| {
            let upper = env_name.to_uppercase();
            (upper != env_name).then(|| env(&upper).map(|r| (upper, r))).flatten()
        });
        if let Some((var, raw)) = raw {
            values.insert(name, (parse_text(ty_of(name).as_ref(), &raw), Source::Env(var)));
        }
    }

    for path in var_files {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::new(format!("cannot read var-file `{}`: {e}", path.display())));
                continue;
            }
        };
        let file = SourceFile::new(path.clone(), text);
        let doc = match toml::de::DeTable::parse(&file.text) {
            Ok(d) => d,
            Err(e) => {
                let msg = format!("TOML syntax error: {}", e.message().trim());
                diags.push(match e.span() {
                    Some(s) => Diagnostic::at(msg, &Loc::new(&file, s)),
                    None => Diagnostic::new(format!("{}: {msg}", path.display())),
                });
                continue;
            }
        };
        let mut entries: Vec<_> = doc.get_ref().iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        for (k, v) in entries {
            let name = k.get_ref().as_ref();
            match config.variables.get_key_value(name) {
                Some((n, _)) => {
                    values.insert(n.as_str(), (de_value(v.get_ref()), Source::File(Loc::new(&file, v.span()))));
                }
                None => diags.push(
                    Diagnostic::at(format!("no variable named `{name}` is declared"), &Loc::new(&file, k.span()))
                        .with_help(not_declared(name)),
                ),
            }
        }
    }

    for (name, raw) in cli_vars {
        match config.variables.get_key_value(name.as_str()) {
            Some((n, _)) => {
                values.insert(n.as_str(), (parse_text(ty_of(n).as_ref(), raw), Source::Cli(raw.clone())));
            }
            None => diags.push(
                Diagnostic::new(format!("--var {name}=…: no variable named `{name}` is declared"))
                    .with_help(not_declared(name)),
            ),
        }
    }

    let mut out = BTreeMap::new();
    for (name, decl) in &config.variables {
        let Some((raw, source)) = values.remove(name.as_str()) else {
            if !require_all {
                // Commands that only read or edit the state need no values: the variable stays unknown.
                out.insert(name.clone(), Value::Unknown);
                continue;
            }
            diags.push(
                Diagnostic::at(format!("variable `{name}` is required but has no value"), &decl.loc)
                    .with_label("declared here without a default")
                    .with_help(format!(
                        "set it with `--var {name}=VALUE`, in a --var-file, or with the environment variable PROVISIONER_VAR_{name}"
                    )),
            );
            continue;
        };
        let (origin, loc) = match &source {
            Source::Default => ("its default".to_owned(), decl.loc.clone()),
            Source::Env(var) => (format!("environment variable {var}"), decl.loc.clone()),
            Source::File(l) => ("the var-file".to_owned(), l.clone()),
            Source::Cli(_) if decl.sensitive => (format!("--var {name}=(sensitive)"), decl.loc.clone()),
            Source::Cli(raw) => (format!("--var {name}={raw}"), decl.loc.clone()),
        };
        let converted = match ty_of(name) {
            Some(ty) => match ty.convert(&raw) {
                Ok(v) => v,
                Err(msg) => {
                    diags.push(
                        Diagnostic::at(format!("invalid value for variable `{name}` from {origin}: {msg}"), &loc)
                            .with_help(format!("`{name}` is declared as {}", ty.describe())),
                    );
                    continue;
                }
            },
            None => raw,
        };
        if let Some(allowed) = &decl.allowed {
            if !allowed.contains(&converted) {
                let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
                diags.push(
                    Diagnostic::at(
                        if decl.sensitive {
                            format!("the value of sensitive variable `{name}` (from {origin}) is not allowed")
                        } else {
                            format!("value {converted} for variable `{name}` (from {origin}) is not allowed")
                        },
                        &loc,
                    )
                    .with_help(format!("allowed values: {}", list.join(", "))),
                );
                continue;
            }
        }
        out.insert(name.clone(), converted);
    }

    if diags.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics(diags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_types() {
        assert_eq!(VarType::parse("list(string)").unwrap(), VarType::List(Box::new(VarType::String)));
        assert_eq!(VarType::parse("map").unwrap(), VarType::Map(Box::new(VarType::Any)));
        assert_eq!(VarType::parse(" set( number ) ").unwrap(), VarType::List(Box::new(VarType::Number)));
        assert!(VarType::parse("strng").unwrap_err().contains("did you mean `string`"));
        assert!(VarType::parse("list(").is_err());
    }

    #[test]
    fn text_values() {
        assert_eq!(parse_text(Some(&VarType::String), "[1]"), Value::str("[1]"));
        assert_eq!(parse_text(Some(&VarType::Number), "42"), Value::int(42));
        assert_eq!(
            parse_text(Some(&VarType::List(Box::new(VarType::String))), r#"["a","b"]"#),
            Value::string_list(["a", "b"])
        );
        assert_eq!(parse_text(None, "hello"), Value::str("hello"));
        assert_eq!(parse_text(None, "[\"x\"]"), Value::string_list(["x"]));
        assert_eq!(parse_text(Some(&VarType::Number), "abc"), Value::str("abc"));
    }
}
