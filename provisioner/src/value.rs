//! Values that flow through expressions, plans and resources.
//!
//! A [`Value`] is JSON-like with one extra case, [`Value::Unknown`]: a value that will only be known after
//! apply (an id AWS has not assigned yet). Unknowns propagate through interpolation and functions; they are
//! never written to state (see [`Value::to_json`]) and never reach a resource's create/update call, because
//! the engine re-evaluates each resource's expressions just before its own operation.

use std::collections::BTreeMap;
use std::fmt;

/// A resource's attributes: attribute name to value. Sorted so renders and hashes are stable.
pub type Attrs = BTreeMap<String, Value>;

#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    /// Known only after apply.
    Unknown,
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    pub fn int(n: i64) -> Value {
        Value::Number(n as f64)
    }

    pub fn string_list<I, S>(items: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Value::List(items.into_iter().map(|s| Value::String(s.into())).collect())
    }

    /// The name of this value's type, for error messages ("string", "list", …).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Unknown => "unknown",
        }
    }

    /// True when this value and everything inside it is known.
    pub fn is_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(items) => items.iter().all(Value::is_known),
            Value::Map(m) => m.values().all(Value::is_known),
            _ => true,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s == "true" => Some(true),
            Value::String(s) if s == "false" => Some(false),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// An integral number (or a string holding one).
    pub fn as_i64(&self) -> Option<i64> {
        let n = self.as_f64()?;
        (n.fract() == 0.0 && n.abs() < 9.0e15).then_some(n as i64)
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// A list of strings, or None if this is not a list or an element is not a string.
    pub fn as_str_list(&self) -> Option<Vec<String>> {
        self.as_list()?.iter().map(|v| v.as_str().map(str::to_owned)).collect()
    }

    /// Map attribute lookup (`None` for non-maps and absent keys).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map()?.get(key)
    }

    /// Converts to JSON. Returns `None` if the value contains an unknown anywhere.
    pub fn to_json(&self) -> Option<serde_json::Value> {
        use serde_json::Value as J;
        Some(match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(n) => number_to_json(*n),
            Value::String(s) => J::String(s.clone()),
            Value::List(items) => J::Array(items.iter().map(Value::to_json).collect::<Option<_>>()?),
            Value::Map(m) => J::Object(m.iter().map(|(k, v)| Some((k.clone(), v.to_json()?))).collect::<Option<_>>()?),
            Value::Unknown => return None,
        })
    }

    /// JSON for display and `--json` output: unknowns become `null`.
    pub fn to_json_lossy(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Unknown => J::Null,
            Value::List(items) => J::Array(items.iter().map(Value::to_json_lossy).collect()),
            Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json_lossy())).collect()),
            other => other.to_json().unwrap_or(J::Null),
        }
    }

    pub fn from_json(json: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match json {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
            J::String(s) => Value::String(s.clone()),
            J::Array(items) => Value::List(items.iter().map(Value::from_json).collect()),
            J::Object(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()),
        }
    }

    /// A canonical string used to sort and compare set elements.
    pub fn canonical(&self) -> String {
        match self.to_json() {
            Some(j) => j.to_string(),
            None => format!("{self}"),
        }
    }
}

fn number_to_json(n: f64) -> serde_json::Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null)
    }
}

/// Converts attributes to the JSON map the state stores. `None` if any value is unknown.
pub fn attrs_to_json(attrs: &Attrs) -> Option<BTreeMap<String, serde_json::Value>> {
    attrs.iter().map(|(k, v)| Some((k.clone(), v.to_json()?))).collect()
}

pub fn attrs_from_json(json: &BTreeMap<String, serde_json::Value>) -> Attrs {
    json.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()
}

/// Renders as an HCL-ish literal, the way a Terraform user reads values in a plan.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{}", number_to_json(*n)),
            Value::String(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                f.write_str("}")
            }
            Value::Unknown => f.write_str("(known after apply)"),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(n as f64)
    }
}
impl From<i32> for Value {
    fn from(n: i32) -> Self {
        Value::Number(n as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_blocks_json_conversion() {
        let v = Value::List(vec![Value::str("a"), Value::Unknown]);
        assert!(!v.is_known());
        assert_eq!(v.to_json(), None);
        assert_eq!(v.to_json_lossy(), serde_json::json!(["a", null]));
    }

    #[test]
    fn integers_stay_integers() {
        assert_eq!(Value::int(443).to_json(), Some(serde_json::json!(443)));
        assert_eq!(Value::int(443).to_string(), "443");
        assert_eq!(Value::Number(0.5).to_string(), "0.5");
        assert_eq!(Value::from_json(&serde_json::json!(22)).as_i64(), Some(22));
    }

    #[test]
    fn display_is_hcl_like() {
        let mut m = BTreeMap::new();
        m.insert("Name".to_owned(), Value::str("x"));
        assert_eq!(Value::Map(m).to_string(), "{Name = \"x\"}");
        assert_eq!(Value::Unknown.to_string(), "(known after apply)");
    }
}
