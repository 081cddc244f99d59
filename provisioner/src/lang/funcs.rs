//! Built-in functions of the expression language (`cidrsubnet`, `format`, `join`, `merge`, …).
//!
//! Each function gets already-evaluated arguments. Unknowns propagate: a function returns
//! [`Value::Unknown`] when an argument it needs is not fully known. Structural functions (`length`,
//! `concat`, `merge`, `keys`, `values`, `element`, `lookup`, `coalesce`) only need the containers to be
//! known, not every element. Arity is checked both at validation ([`arity`]) and at call time.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::value::Value;

/// Name, minimum and maximum (None = variadic) number of arguments.
pub const FUNCTIONS: &[(&str, usize, Option<usize>)] = &[
    ("abs", 1, Some(1)),
    ("ceil", 1, Some(1)),
    ("cidrhost", 2, Some(2)),
    ("cidrnetmask", 1, Some(1)),
    ("cidrsubnet", 3, Some(3)),
    ("coalesce", 1, None),
    ("compact", 1, Some(1)),
    ("concat", 1, None),
    ("contains", 2, Some(2)),
    ("distinct", 1, Some(1)),
    ("element", 2, Some(2)),
    ("endswith", 2, Some(2)),
    ("flatten", 1, Some(1)),
    ("floor", 1, Some(1)),
    ("format", 1, None),
    ("join", 2, None),
    ("jsonencode", 1, Some(1)),
    ("keys", 1, Some(1)),
    ("length", 1, Some(1)),
    ("lookup", 2, Some(3)),
    ("lower", 1, Some(1)),
    ("max", 1, None),
    ("merge", 1, None),
    ("min", 1, None),
    ("range", 1, Some(3)),
    ("replace", 3, Some(3)),
    ("reverse", 1, Some(1)),
    ("sort", 1, Some(1)),
    ("split", 2, Some(2)),
    ("startswith", 2, Some(2)),
    ("substr", 3, Some(3)),
    ("title", 1, Some(1)),
    ("tolist", 1, Some(1)),
    ("tomap", 1, Some(1)),
    ("tonumber", 1, Some(1)),
    ("toset", 1, Some(1)),
    ("tostring", 1, Some(1)),
    ("trimspace", 1, Some(1)),
    ("upper", 1, Some(1)),
    ("values", 1, Some(1)),
    ("zipmap", 2, Some(2)),
];

/// A function error: the argument it concerns (index) when there is one, and the message.
#[derive(Debug, Clone, PartialEq)]
pub struct FnError {
    pub arg: Option<usize>,
    pub message: String,
}

fn err<T>(arg: Option<usize>, message: impl Into<String>) -> Result<T, FnError> {
    Err(FnError { arg, message: message.into() })
}

/// `Ok(())` when `name` exists and accepts `n` arguments; otherwise a message (with did-you-mean).
pub fn arity(name: &str, n: usize) -> Result<(), String> {
    let Some(&(_, min, max)) = FUNCTIONS.iter().find(|f| f.0 == name) else {
        let hint = crate::schema::suggest(name, FUNCTIONS.iter().map(|f| f.0))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        return Err(format!("unknown function `{name}`{hint}"));
    };
    if n < min || max.is_some_and(|m| n > m) {
        let expected = match max {
            Some(m) if m == min => format!("{min}"),
            Some(m) => format!("{min} to {m}"),
            None => format!("at least {min}"),
        };
        return Err(format!("`{name}` takes {expected} argument{}, got {n}", if expected == "1" { "" } else { "s" }));
    }
    Ok(())
}

const STRUCTURAL: &[&str] =
    &["length", "concat", "merge", "keys", "values", "element", "lookup", "coalesce", "tolist", "tomap"];

pub fn call(name: &str, args: &[Value]) -> Result<Value, FnError> {
    arity(name, args.len()).map_err(|m| FnError { arg: None, message: m })?;
    if STRUCTURAL.contains(&name) {
        if args.iter().any(|a| matches!(a, Value::Unknown)) && name != "coalesce" {
            return Ok(Value::Unknown);
        }
    } else if !args.iter().all(Value::is_known) {
        return Ok(Value::Unknown);
    }
    let a = Args { name, args };
    match name {
        "abs" => Ok(Value::Number(a.num(0)?.abs())),
        "ceil" => Ok(Value::Number(a.num(0)?.ceil())),
        "floor" => Ok(Value::Number(a.num(0)?.floor())),
        "cidrsubnet" => cidrsubnet(&a),
        "cidrhost" => cidrhost(&a),
        "cidrnetmask" => {
            let net = a.cidr(0)?;
            match net {
                IpNet::V4(n) => Ok(Value::String(n.netmask().to_string())),
                IpNet::V6(_) => err(Some(0), "cidrnetmask only supports IPv4 prefixes"),
            }
        }
        "coalesce" => {
            for v in args {
                match v {
                    Value::Unknown => return Ok(Value::Unknown),
                    Value::Null => continue,
                    Value::String(s) if s.is_empty() => continue,
                    other => return Ok(other.clone()),
                }
            }
            err(None, "coalesce: no non-null, non-empty argument")
        }
        "compact" => Ok(Value::List(
            a.list(0)?.iter().filter(|v| !matches!(v, Value::Null) && v.as_str() != Some("")).cloned().collect(),
        )),
        "concat" => {
            let mut out = Vec::new();
            for i in 0..args.len() {
                out.extend_from_slice(a.list(i)?);
            }
            Ok(Value::List(out))
        }
        "contains" => Ok(Value::Bool(a.list(0)?.iter().any(|v| values_equal(v, &args[1])))),
        "distinct" => {
            let mut out: Vec<Value> = Vec::new();
            for v in a.list(0)? {
                if !out.iter().any(|o| values_equal(o, v)) {
                    out.push(v.clone());
                }
            }
            Ok(Value::List(out))
        }
        "element" => {
            let list = a.list(0)?;
            if list.is_empty() {
                return err(Some(0), "element: the list is empty");
            }
            let i = a.int(1)?;
            if i < 0 {
                return err(Some(1), format!("element: index {i} is negative"));
            }
            Ok(list[(i as usize) % list.len()].clone())
        }
        "endswith" => Ok(Value::Bool(a.str(0)?.ends_with(a.str(1)?))),
        "startswith" => Ok(Value::Bool(a.str(0)?.starts_with(a.str(1)?))),
        "flatten" => {
            fn flat(items: &[Value], out: &mut Vec<Value>) {
                for v in items {
                    match v {
                        Value::List(inner) => flat(inner, out),
                        other => out.push(other.clone()),
                    }
                }
            }
            let mut out = Vec::new();
            flat(a.list(0)?, &mut out);
            Ok(Value::List(out))
        }
        "format" => format(&a),
        "join" => {
            let sep = a.str(0)?;
            let mut parts = Vec::new();
            for i in 1..args.len() {
                for v in a.list(i)? {
                    parts.push(to_string(v).ok_or_else(|| FnError {
                        arg: Some(i),
                        message: format!("join: elements must be strings, numbers or bools, found a {}", v.type_name()),
                    })?);
                }
            }
            Ok(Value::String(parts.join(sep)))
        }
        "jsonencode" => Ok(Value::String(args[0].to_json_lossy().to_string())),
        "keys" => Ok(Value::List(a.map(0)?.keys().map(|k| Value::String(k.clone())).collect())),
        "values" => Ok(Value::List(a.map(0)?.values().cloned().collect())),
        "length" => match &args[0] {
            Value::List(items) => Ok(Value::int(items.len() as i64)),
            Value::Map(m) => Ok(Value::int(m.len() as i64)),
            Value::String(s) => Ok(Value::int(s.chars().count() as i64)),
            other => err(Some(0), format!("length: expected a string, list or map, found {}", other.type_name())),
        },
        "lookup" => {
            let m = a.map(0)?;
            if !args[1].is_known() {
                return Ok(Value::Unknown);
            }
            let key = a.str(1)?;
            match (m.get(key), args.get(2)) {
                (Some(v), _) => Ok(v.clone()),
                (None, Some(d)) => Ok(d.clone()),
                (None, None) => err(Some(1), format!("lookup: no key {key:?} in the map and no default given")),
            }
        }
        "lower" => Ok(Value::String(a.str(0)?.to_lowercase())),
        "upper" => Ok(Value::String(a.str(0)?.to_uppercase())),
        "title" => Ok(Value::String(
            a.str(0)?
                .split(' ')
                .map(|w| {
                    let mut c = w.chars();
                    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join(" "),
        )),
        "trimspace" => Ok(Value::String(a.str(0)?.trim().to_owned())),
        "min" | "max" => {
            let nums: Vec<f64> = if args.len() == 1 && matches!(args[0], Value::List(_)) {
                a.list(0)?
                    .iter()
                    .map(|v| v.as_f64().ok_or(()))
                    .collect::<Result<_, _>>()
                    .or_else(|_| err(Some(0), format!("{name}: expected numbers")))?
            } else {
                (0..args.len()).map(|i| a.num(i)).collect::<Result<_, _>>()?
            };
            if nums.is_empty() {
                return err(Some(0), format!("{name}: no numbers given"));
            }
            let r = if name == "min" {
                nums.iter().copied().fold(f64::INFINITY, f64::min)
            } else {
                nums.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            };
            Ok(Value::Number(r))
        }
        "merge" => {
            let mut out = BTreeMap::new();
            for (i, v) in args.iter().enumerate() {
                match v {
                    Value::Null => {}
                    Value::Map(m) => out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone()))),
                    other => return err(Some(i), format!("merge: expected maps, found {}", other.type_name())),
                }
            }
            Ok(Value::Map(out))
        }
        "range" => {
            let (start, end, step) = match args.len() {
                1 => (0.0, a.num(0)?, 1.0),
                2 => (a.num(0)?, a.num(1)?, 1.0),
                _ => (a.num(0)?, a.num(1)?, a.num(2)?),
            };
            if step == 0.0 || (end - start) / step > 1024.0 {
                return err(None, "range: step must be non-zero and produce at most 1024 elements");
            }
            let mut out = Vec::new();
            let mut x = start;
            while (step > 0.0 && x < end) || (step < 0.0 && x > end) {
                out.push(Value::Number(x));
                x += step;
            }
            Ok(Value::List(out))
        }
        "replace" => Ok(Value::String(a.str(0)?.replace(a.str(1)?, a.str(2)?))),
        "reverse" => Ok(Value::List(a.list(0)?.iter().rev().cloned().collect())),
        "sort" => {
            let mut items: Vec<String> = a
                .list(0)?
                .iter()
                .map(to_string)
                .collect::<Option<_>>()
                .ok_or_else(|| FnError { arg: Some(0), message: "sort: expected a list of strings".into() })?;
            items.sort();
            Ok(Value::string_list(items))
        }
        "split" => Ok(Value::string_list(a.str(1)?.split(a.str(0)?).map(str::to_owned))),
        "substr" => {
            let s: Vec<char> = a.str(0)?.chars().collect();
            let off = a.int(1)?;
            let len = a.int(2)?;
            let start = if off < 0 { (s.len() as i64 + off).max(0) } else { off.min(s.len() as i64) } as usize;
            let end = if len < 0 { s.len() } else { (start + len as usize).min(s.len()) };
            Ok(Value::String(s[start..end].iter().collect()))
        }
        "tolist" | "toset" => match &args[0] {
            Value::List(items) => {
                let mut items = items.clone();
                if name == "toset" {
                    let mut out: Vec<Value> = Vec::new();
                    for v in items.drain(..) {
                        if !out.iter().any(|o| values_equal(o, &v)) {
                            out.push(v);
                        }
                    }
                    out.sort_by_cached_key(Value::canonical);
                    items = out;
                }
                Ok(Value::List(items))
            }
            other => err(Some(0), format!("{name}: expected a list, found {}", other.type_name())),
        },
        "tomap" => Ok(Value::Map(a.map(0)?.clone())),
        "tonumber" => match &args[0] {
            Value::Null => Ok(Value::Null),
            Value::Number(n) => Ok(Value::Number(*n)),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .map(Value::Number)
                .or_else(|_| err(Some(0), format!("tonumber: {s:?} is not a number"))),
            other => err(Some(0), format!("tonumber: cannot convert a {} to a number", other.type_name())),
        },
        "tostring" => match &args[0] {
            Value::Null => Ok(Value::Null),
            v => to_string(v).map(Value::String).ok_or_else(|| FnError {
                arg: Some(0),
                message: format!("tostring: cannot convert a {} to a string", v.type_name()),
            }),
        },
        "zipmap" => {
            let keys = a.list(0)?;
            let vals = a.list(1)?;
            if keys.len() != vals.len() {
                return err(None, format!("zipmap: {} keys but {} values", keys.len(), vals.len()));
            }
            let mut out = BTreeMap::new();
            for (k, v) in keys.iter().zip(vals) {
                let k = to_string(k)
                    .ok_or_else(|| FnError { arg: Some(0), message: "zipmap: keys must be strings".into() })?;
                out.insert(k, v.clone());
            }
            Ok(Value::Map(out))
        }
        _ => err(None, format!("unknown function `{name}`")),
    }
}

/// Equality as the language sees it (numbers by value).
pub fn values_equal(a: &Value, b: &Value) -> bool {
    a == b
}

/// A primitive as it appears in a string; None for null, lists, maps and unknowns.
pub fn to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        _ => None,
    }
}

struct Args<'a> {
    name: &'a str,
    args: &'a [Value],
}

impl<'a> Args<'a> {
    fn wrong(&self, i: usize, want: &str) -> FnError {
        FnError {
            arg: Some(i),
            message: format!(
                "{}: argument {} must be {want}, found {}",
                self.name,
                i + 1,
                match &self.args[i] {
                    Value::String(s) => format!("string {s:?}"),
                    other => other.type_name().to_owned(),
                }
            ),
        }
    }

    fn str(&self, i: usize) -> Result<&'a str, FnError> {
        self.args[i].as_str().ok_or_else(|| self.wrong(i, "a string"))
    }

    fn num(&self, i: usize) -> Result<f64, FnError> {
        self.args[i].as_f64().ok_or_else(|| self.wrong(i, "a number"))
    }

    fn int(&self, i: usize) -> Result<i64, FnError> {
        self.args[i].as_i64().ok_or_else(|| self.wrong(i, "a whole number"))
    }

    fn list(&self, i: usize) -> Result<&'a [Value], FnError> {
        self.args[i].as_list().ok_or_else(|| self.wrong(i, "a list"))
    }

    fn map(&self, i: usize) -> Result<&'a BTreeMap<String, Value>, FnError> {
        self.args[i].as_map().ok_or_else(|| self.wrong(i, "a map"))
    }

    fn cidr(&self, i: usize) -> Result<IpNet, FnError> {
        let s = self.str(i)?;
        s.parse::<IpNet>().map_err(|_| FnError {
            arg: Some(i),
            message: format!("{}: {s:?} is not a valid CIDR prefix (expected e.g. \"10.0.0.0/16\")", self.name),
        })
    }
}

fn cidrsubnet(a: &Args) -> Result<Value, FnError> {
    let net = a.cidr(0)?;
    let newbits = a.int(1)?;
    let netnum = a.int(2)?;
    let max_len: i64 = if matches!(net, IpNet::V4(_)) { 32 } else { 128 };
    if newbits < 0 {
        return err(Some(1), format!("cidrsubnet: newbits must not be negative, got {newbits}"));
    }
    let new_len = net.prefix_len() as i64 + newbits;
    if new_len > max_len {
        return err(
            Some(1),
            format!(
                "cidrsubnet: cannot extend prefix /{} by {newbits} bits: an {} address has only {max_len} bits",
                net.prefix_len(),
                if max_len == 32 { "IPv4" } else { "IPv6" }
            ),
        );
    }
    let limit: u128 = if newbits >= 127 { u128::MAX } else { 1u128 << newbits };
    if netnum < 0 || (netnum as u128) >= limit {
        return err(
            Some(2),
            format!("cidrsubnet: netnum {netnum} does not fit in {newbits} new bits (must be 0 to {})", limit - 1),
        );
    }
    let host_bits = (max_len - new_len) as u32;
    let offset = if host_bits >= 128 { 0 } else { (netnum as u128) << host_bits };
    let s = match net {
        IpNet::V4(n) => {
            let base = u32::from(n.network()) as u128;
            format!("{}/{new_len}", Ipv4Addr::from((base | offset) as u32))
        }
        IpNet::V6(n) => {
            let base = u128::from(n.network());
            format!("{}/{new_len}", Ipv6Addr::from(base | offset))
        }
    };
    Ok(Value::String(s))
}

fn cidrhost(a: &Args) -> Result<Value, FnError> {
    let net = a.cidr(0)?;
    let hostnum = a.int(1)?;
    let max_len: u32 = if matches!(net, IpNet::V4(_)) { 32 } else { 128 };
    let host_bits = max_len - net.prefix_len() as u32;
    let size: u128 = if host_bits >= 127 { u128::MAX } else { 1u128 << host_bits };
    let n: u128 = if hostnum >= 0 {
        hostnum as u128
    } else {
        size.checked_sub(hostnum.unsigned_abs() as u128).unwrap_or(u128::MAX)
    };
    if n >= size {
        return err(Some(1), format!("cidrhost: host number {hostnum} is outside the {} addresses of {net}", size));
    }
    let s = match net {
        IpNet::V4(p) => Ipv4Addr::from((u32::from(p.network()) as u128 + n) as u32).to_string(),
        IpNet::V6(p) => Ipv6Addr::from(u128::from(p.network()) + n).to_string(),
    };
    Ok(Value::String(s))
}

fn format(a: &Args) -> Result<Value, FnError> {
    let fmt = a.str(0)?;
    let mut out = String::new();
    let mut next = 1;
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let verb = chars.next();
        if verb == Some('%') {
            out.push('%');
            continue;
        }
        let Some(v) = a.args.get(next) else {
            return err(Some(0), format!("format: not enough arguments for {fmt:?}"));
        };
        let i = next;
        next += 1;
        match verb {
            Some('s') => out.push_str(&to_string(v).ok_or_else(|| a.wrong(i, "a string, number or bool for %s"))?),
            Some('d') => out.push_str(&a.int(i)?.to_string()),
            Some('v') => match v {
                Value::String(s) => out.push_str(s),
                other => out.push_str(&other.to_string()),
            },
            Some(other) => return err(Some(0), format!("format: unsupported verb `%{other}` (use %s, %d, %v or %%)")),
            None => return err(Some(0), "format: the format string ends with a lone `%`"),
        }
    }
    if next < a.args.len() {
        return err(Some(next), format!("format: too many arguments ({} used by the format string)", next - 1));
    }
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::str(v)
    }

    fn n(v: i64) -> Value {
        Value::int(v)
    }

    #[test]
    fn cidr_functions() {
        assert_eq!(call("cidrsubnet", &[s("10.0.0.0/16"), n(8), n(2)]).unwrap(), s("10.0.2.0/24"));
        assert_eq!(call("cidrsubnet", &[s("10.0.0.0/16"), n(4), n(15)]).unwrap(), s("10.0.240.0/20"));
        assert_eq!(call("cidrsubnet", &[s("10.1.2.3/16"), n(0), n(0)]).unwrap(), s("10.1.0.0/16"));
        assert_eq!(
            call("cidrsubnet", &[s("fd00:fd12:3456:7890::/56"), n(16), n(162)]).unwrap(),
            s("fd00:fd12:3456:7800:a200::/72")
        );
        let e = call("cidrsubnet", &[s("10.0.0.0/16"), n(8), n(256)]).unwrap_err();
        assert_eq!(e.arg, Some(2));
        assert!(e.message.contains("does not fit in 8 new bits"), "{}", e.message);
        let e = call("cidrsubnet", &[s("10.0.0.0/16"), n(20), n(0)]).unwrap_err();
        assert!(e.message.contains("only 32 bits"), "{}", e.message);
        assert!(call("cidrsubnet", &[s("10.0.0.0"), n(8), n(0)]).unwrap_err().message.contains("not a valid CIDR"));
        assert_eq!(call("cidrhost", &[s("10.12.112.0/20"), n(16)]).unwrap(), s("10.12.112.16"));
        assert_eq!(call("cidrhost", &[s("10.12.112.0/20"), n(-1)]).unwrap(), s("10.12.127.255"));
        assert_eq!(call("cidrhost", &[s("fd00::/64"), n(5)]).unwrap(), s("fd00::5"));
        assert!(call("cidrhost", &[s("10.0.0.0/30"), n(4)]).is_err());
        assert_eq!(call("cidrnetmask", &[s("10.0.0.0/12")]).unwrap(), s("255.240.0.0"));
    }

    #[test]
    fn strings_and_collections() {
        assert_eq!(call("format", &[s("%s-%d-%v %%"), s("a"), n(3), Value::Bool(true)]).unwrap(), s("a-3-true %"));
        assert!(call("format", &[s("%d"), s("x")]).unwrap_err().message.contains("whole number"));
        assert!(call("format", &[s("%s %s"), s("x")]).unwrap_err().message.contains("not enough"));
        assert_eq!(
            call("join", &[s(","), Value::string_list(["a", "b"]), Value::List(vec![n(1)])]).unwrap(),
            s("a,b,1")
        );
        assert_eq!(call("split", &[s(","), s("a,b")]).unwrap(), Value::string_list(["a", "b"]));
        assert_eq!(call("length", &[s("héllo")]).unwrap(), n(5));
        assert_eq!(call("length", &[Value::List(vec![Value::Unknown, Value::Unknown])]).unwrap(), n(2));
        assert_eq!(call("lower", &[s("AbC")]).unwrap(), s("abc"));
        assert_eq!(call("upper", &[s("AbC")]).unwrap(), s("ABC"));
        let m = |pairs: &[(&str, Value)]| Value::Map(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect());
        assert_eq!(
            call("merge", &[m(&[("a", n(1)), ("b", n(1))]), m(&[("b", n(2))])]).unwrap(),
            m(&[("a", n(1)), ("b", n(2))])
        );
        assert_eq!(call("lookup", &[m(&[("a", n(1))]), s("z"), n(9)]).unwrap(), n(9));
        assert!(call("lookup", &[m(&[("a", n(1))]), s("z")]).is_err());
        assert_eq!(call("keys", &[m(&[("b", n(1)), ("a", n(2))])]).unwrap(), Value::string_list(["a", "b"]));
        assert_eq!(call("values", &[m(&[("b", n(1)), ("a", n(2))])]).unwrap(), Value::List(vec![n(2), n(1)]));
        assert_eq!(call("element", &[Value::string_list(["a", "b"]), n(3)]).unwrap(), s("b"));
        assert_eq!(call("contains", &[Value::string_list(["a", "b"]), s("b")]).unwrap(), Value::Bool(true));
        assert_eq!(call("replace", &[s("a-b-c"), s("-"), s("_")]).unwrap(), s("a_b_c"));
        assert_eq!(call("tostring", &[n(5)]).unwrap(), s("5"));
        assert_eq!(call("tonumber", &[s("5")]).unwrap(), n(5));
        assert_eq!(call("min", &[n(3), n(1), n(2)]).unwrap(), n(1));
        assert_eq!(call("max", &[Value::List(vec![n(3), n(7)])]).unwrap(), n(7));
        assert_eq!(call("coalesce", &[Value::Null, s(""), s("x")]).unwrap(), s("x"));
        assert_eq!(
            call("concat", &[Value::string_list(["a"]), Value::List(vec![Value::Unknown])]).unwrap(),
            Value::List(vec![s("a"), Value::Unknown])
        );
    }

    #[test]
    fn unknowns_and_arity() {
        assert_eq!(call("upper", &[Value::Unknown]).unwrap(), Value::Unknown);
        assert_eq!(call("join", &[s(","), Value::List(vec![s("a"), Value::Unknown])]).unwrap(), Value::Unknown);
        assert_eq!(call("cidrsubnet", &[Value::Unknown, n(8), n(1)]).unwrap(), Value::Unknown);
        assert_eq!(arity("lenght", 1).unwrap_err(), "unknown function `lenght`; did you mean `length`?");
        assert_eq!(arity("upper", 2).unwrap_err(), "`upper` takes 1 argument, got 2");
        assert_eq!(arity("lookup", 1).unwrap_err(), "`lookup` takes 2 to 3 arguments, got 1");
    }
}
