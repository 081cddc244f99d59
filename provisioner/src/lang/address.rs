//! Instance addresses: formatting (`subnet.public["a"]`, `data.availability_zones.all`) and parsing the
//! addresses users type on the command line (`--target`, `state show`, `import`).

use super::Mode;

/// `("subnet", "public", Some("a"))` → `subnet.public["a"]`; data mode prefixes `data.`.
pub fn instance_address(mode: Mode, type_name: &str, name: &str, key: Option<&str>) -> String {
    let mut s = super::block_key(mode, type_name, name);
    if let Some(k) = key {
        s.push('[');
        s.push_str(&serde_json::Value::String(k.to_owned()).to_string());
        s.push(']');
    }
    s
}

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Parses `TYPE.NAME`, `TYPE.NAME["key"]`, `data.TYPE.NAME[...]` into (mode, type, name, key).
pub fn parse_address(s: &str) -> Result<(Mode, String, String, Option<String>), String> {
    let usage = "expected an address like `vpc.main`, `subnet.public[\"a\"]` or `data.availability_zones.all`";
    let s = s.trim();
    let (base, key) = match s.find('[') {
        Some(i) => {
            let Some(inner) = s[i + 1..].strip_suffix(']') else {
                return Err(format!("invalid address `{s}`: missing `]` at the end; {usage}"));
            };
            let key = if inner.starts_with('"') {
                serde_json::from_str::<String>(inner)
                    .map_err(|_| format!("invalid address `{s}`: the key {inner} is not a valid quoted string"))?
            } else if !inner.is_empty() && inner.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                inner.to_owned()
            } else {
                return Err(format!("invalid address `{s}`: put the instance key in double quotes, e.g. `[\"a\"]`"));
            };
            (&s[..i], Some(key))
        }
        None => (s, None),
    };
    let parts: Vec<&str> = base.split('.').collect();
    let (mode, t, n) = match parts.as_slice() {
        ["data", t, n] => (Mode::Data, *t, *n),
        [t, n] if *t != "data" => (Mode::Managed, *t, *n),
        _ => return Err(format!("invalid address `{s}`: {usage}")),
    };
    if !valid_name(t) || !valid_name(n) {
        return Err(format!("invalid address `{s}`: {usage}"));
    }
    Ok((mode, t.to_owned(), n.to_owned(), key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_parse_round_trip() {
        assert_eq!(instance_address(Mode::Managed, "subnet", "public", Some("a")), r#"subnet.public["a"]"#);
        assert_eq!(instance_address(Mode::Data, "availability_zones", "all", None), "data.availability_zones.all");
        for a in [r#"subnet.public["a"]"#, "vpc.main", r#"data.x.y["k \"q\""]"#] {
            let (m, t, n, k) = parse_address(a).unwrap();
            assert_eq!(instance_address(m, &t, &n, k.as_deref()), a);
        }
        assert_eq!(parse_address("subnet.public[a]").unwrap().3.as_deref(), Some("a"));
        assert!(parse_address("vpc").unwrap_err().contains("expected an address"));
        assert!(parse_address("data.vpc").is_err());
        assert!(parse_address("vpc.main[\"a\"").unwrap_err().contains("missing `]`"));
        assert!(parse_address("a.b.c").is_err());
        assert!(parse_address("vpc.ma in").is_err());
    }
}
