//! `security_group_rule`: one standalone rule of a security group (needed when groups reference each
//! other, which inline rules cannot express without a cycle).
//!
//! The id encodes the whole rule so `read` can be batched without prior attributes:
//! `<group>_<type>_<protocol>_<from>_<to>_<sources>_<description hash>`, e.g.
//! `sg-0abc_ingress_tcp_443_443_10.0.0.0/8,self_9f86d081` — sources are the CIDRs, the source group id and
//! `self`, comma-separated and sorted; the hash is the first 8 hex digits of SHA-256 of the description.
//! Read is one DescribeSecurityGroups per 200 groups (filter `group-id`); a rule is present only while
//! every one of its atomic permissions is (with a description hashing to the id's). Nothing is updatable:
//! every argument forces replacement. Not taggable: `read_stack` takes the rules of the stack's groups from
//! the read `security_group` makes anyway (shared within a refresh) and reads the tracked rules of other
//! groups by id; `find_existing` computes
//! each desired rule's id the way `create` does (none when an attribute is unknown or malformed) and reads
//! them with the batched read — one DescribeSecurityGroups per 200 groups, no call when no id is computable.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_ec2::types::SecurityGroup as AwsSecurityGroup;
use sha2::{Digest, Sha256};

use super::security_group::{
    atoms_of_permissions, authorize, canonical_range, permissions_of, revoke, Atom, Direction, Source,
};
use super::util::*;
use crate::aws::{Ctx, ProviderError};
use crate::resource::{Checkpoint, Claim, Resource};
use crate::schema::{Attribute, Schema, Type};
use crate::value::{Attrs, Value};

pub struct SecurityGroupRule;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("security_group_rule", "One ingress or egress rule of a security group.")
        .attr(Attribute::string("type").required().forces_new().one_of(&["ingress", "egress"]))
        .attr(Attribute::string("security_group_id").required().forces_new().describe("The group the rule belongs to."))
        .attr(Attribute::number("from_port").required().forces_new())
        .attr(Attribute::number("to_port").required().forces_new())
        .attr(Attribute::string("protocol").required().forces_new().describe("tcp, udp, icmp, a number, or -1 (all)."))
        .attr(
            Attribute::new("cidr_blocks", Type::set(Type::String))
                .default_value(Value::List(vec![]))
                .forces_new()
                .cidr(),
        )
        .attr(
            Attribute::string("source_security_group_id")
                .optional()
                .forces_new()
                .describe("Source (ingress) or destination (egress) security group."),
        )
        .attr(Attribute::bool("self").default(false).forces_new().describe("The group itself as source."))
        .attr(Attribute::string("description").default("").forces_new())
});

/// A rule, parsed from attributes or from its id.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    group: String,
    dir: Direction,
    protocol: String,
    from: i64,
    to: i64,
    sources: BTreeSet<Source>,
}

fn description_hash(description: &str) -> String {
    hex::encode(Sha256::digest(description.as_bytes()))[..8].to_owned()
}

impl Rule {
    fn from_attrs(attrs: &Attrs) -> Result<(Rule, String), ProviderError> {
        let dir = match req_str(attrs, "type")? {
            "ingress" => Direction::Ingress,
            "egress" => Direction::Egress,
            t => return Err(ProviderError::new(format!("type `{t}` is not ingress or egress"))),
        };
        let num = |k: &str| {
            attrs.get(k).and_then(Value::as_i64).ok_or_else(|| ProviderError::new(format!("`{k}` must be an integer")))
        };
        let (protocol, from, to) = canonical_range(req_str(attrs, "protocol")?, num("from_port")?, num("to_port")?);
        let mut sources: BTreeSet<Source> = attrs
            .get("cidr_blocks")
            .and_then(Value::as_str_list)
            .unwrap_or_default()
            .into_iter()
            .map(Source::Cidr)
            .collect();
        if let Some(g) = get_str(attrs, "source_security_group_id") {
            sources.insert(Source::Group(g.to_owned()));
        }
        if get_bool(attrs, "self", false) {
            sources.insert(Source::SelfRef);
        }
        if sources.is_empty() {
            return Err(ProviderError::with_code(
                "InvalidRule",
                "a security group rule needs cidr_blocks, source_security_group_id or self = true",
            ));
        }
        let group = req_str(attrs, "security_group_id")?.to_owned();
        let description = attrs.get("description").and_then(Value::as_str).unwrap_or_default().to_owned();
        Ok((Rule { group, dir, protocol, from, to, sources }, description))
    }

    fn id(&self, description: &str) -> String {
        let sources: Vec<String> = self
            .sources
            .iter()
            .map(|s| match s {
                Source::Cidr(c) | Source::Ipv6(c) | Source::Group(c) => c.clone(),
                Source::SelfRef => "self".to_owned(),
            })
            .collect();
        format!(
            "{}_{}_{}_{}_{}_{}_{}",
            self.group,
            self.dir.as_str(),
            self.protocol,
            self.from,
            self.to,
            sources.join(","),
            description_hash(description)
        )
    }

    /// Parses an id; returns the rule and the description hash.
    fn parse_id(id: &str) -> Option<(Rule, String)> {
        let parts: Vec<&str> = id.split('_').collect();
        let [group, dir, protocol, from, to, sources, hash] = parts.as_slice() else { return None };
        let dir = match *dir {
            "ingress" => Direction::Ingress,
            "egress" => Direction::Egress,
            _ => return None,
        };
        let sources = sources
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| match s {
                "self" => Source::SelfRef,
                s if s.starts_with("sg-") => Source::Group(s.to_owned()),
                s if s.contains(':') => Source::Ipv6(s.to_owned()),
                s => Source::Cidr(s.to_owned()),
            })
            .collect();
        let rule = Rule {
            group: (*group).to_owned(),
            dir,
            protocol: (*protocol).to_owned(),
            from: from.parse().ok()?,
            to: to.parse().ok()?,
            sources,
        };
        Some((rule, (*hash).to_owned()))
    }

    fn atoms(&self, description: &str) -> Vec<Atom> {
        self.sources
            .iter()
            .map(|s| Atom {
                protocol: self.protocol.clone(),
                from: self.from,
                to: self.to,
                source: s.clone(),
                description: description.to_owned(),
            })
            .collect()
    }

    fn attrs(&self, id: &str, description: &str) -> Attrs {
        let mut a = Attrs::new();
        a.insert("id".into(), Value::str(id));
        a.insert("type".into(), Value::str(self.dir.as_str()));
        a.insert("security_group_id".into(), Value::str(&self.group));
        a.insert("protocol".into(), Value::str(&self.protocol));
        a.insert("from_port".into(), Value::int(self.from));
        a.insert("to_port".into(), Value::int(self.to));
        let mut cidrs = Vec::new();
        for s in &self.sources {
            match s {
                Source::Cidr(c) | Source::Ipv6(c) => cidrs.push(c.clone()),
                Source::Group(g) => {
                    a.insert("source_security_group_id".into(), Value::str(g));
                }
                Source::SelfRef => {
                    a.insert("self".into(), Value::Bool(true));
                }
            }
        }
        a.entry("self".into()).or_insert(Value::Bool(false));
        a.insert("cidr_blocks".into(), Value::string_list(cidrs));
        a.insert("description".into(), Value::str(description));
        a
    }
}

/// The id `create` gives a rule with these attributes, `None` when they are not all known and well-typed
/// (where [`Rule::from_attrs`] would read leniently: a `cidr_blocks` that is not a list of strings reads as
/// empty, which would name another rule).
fn desired_id(attrs: &Attrs) -> Option<String> {
    if !attrs.values().all(Value::is_known) {
        return None;
    }
    let absent = |k: &str| attrs.get(k).is_none_or(Value::is_null);
    let well_typed = (absent("cidr_blocks") || attrs["cidr_blocks"].as_str_list().is_some())
        && (absent("self") || attrs["self"].as_bool().is_some())
        && (absent("description") || attrs["description"].as_str().is_some())
        && (absent("source_security_group_id") || attrs["source_security_group_id"].as_str().is_some());
    if !well_typed {
        return None;
    }
    let (rule, description) = Rule::from_attrs(attrs).ok()?;
    Some(rule.id(&description))
}

impl SecurityGroupRule {
    async fn read_ids(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let groups: Vec<String> = ids.iter().filter_map(|id| Rule::parse_id(id).map(|(r, _)| r.group)).collect();
        let mut found = Vec::new();
        for chunk in id_chunks(&groups) {
            found.extend(super::security_group::describe(cx, vec![filter("group-id", &chunk)]).await?);
        }
        Ok(rules_in(ids, &found))
    }
}

/// The rules among `ids` that `groups` hold in full (every atomic permission, with a description hashing
/// to the id's), with the attributes `read` reports.
fn rules_in(ids: &[String], groups: &[AwsSecurityGroup]) -> HashMap<String, Attrs> {
    let rules: Vec<(&String, Rule, String)> =
        ids.iter().filter_map(|id| Rule::parse_id(id).map(|(r, h)| (id, r, h))).collect();
    // (group, direction) → (protocol, from, to, source) → descriptions present.
    type Key = (String, i64, i64, Source);
    let mut present: HashMap<(String, &'static str), BTreeMap<Key, Vec<String>>> = HashMap::new();
    for g in groups {
        let Some(gid) = g.group_id() else { continue };
        for (dir, perms) in [(Direction::Ingress, g.ip_permissions()), (Direction::Egress, g.ip_permissions_egress())] {
            let m = present.entry((gid.to_owned(), dir.as_str())).or_default();
            for a in atoms_of_permissions(perms, gid) {
                m.entry((a.protocol, a.from, a.to, a.source)).or_default().push(a.description);
            }
        }
    }
    let mut out = HashMap::new();
    'rules: for (id, rule, hash) in rules {
        let Some(m) = present.get(&(rule.group.clone(), rule.dir.as_str())) else { continue };
        let mut description = None;
        for s in &rule.sources {
            // AWS reports a rule naming its own group as source like `self`.
            let s = match s {
                Source::Group(g) if *g == rule.group => Source::SelfRef,
                other => other.clone(),
            };
            let key = (rule.protocol.clone(), rule.from, rule.to, s);
            let found = m.get(&key).and_then(|ds| ds.iter().find(|d| description_hash(d) == hash));
            match found {
                Some(d) => description = Some(d.clone()),
                None => continue 'rules,
            }
        }
        if let Some(d) = description {
            out.insert(id.clone(), rule.attrs(id, &d));
        }
    }
    out
}

#[async_trait]
impl Resource for SecurityGroupRule {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    /// The group's inline `ingress`/`egress` list (whichever `type` names) is exclusive, as in Terraform.
    fn claims(&self, cfg: &Attrs) -> Vec<Claim> {
        match cfg.get("type").and_then(Value::as_str) {
            Some(dir @ ("ingress" | "egress")) => {
                vec![Claim { via: "security_group_id", type_name: "security_group", attribute: dir.to_owned() }]
            }
            _ => Vec::new(),
        }
    }

    fn normalize(&self, attrs: &mut Attrs) {
        let (Some(p), Some(from), Some(to)) = (
            attrs.get("protocol").and_then(Value::as_str),
            attrs.get("from_port").and_then(Value::as_i64),
            attrs.get("to_port").and_then(Value::as_i64),
        ) else {
            return;
        };
        let (p, from, to) = canonical_range(p, from, to);
        attrs.insert("protocol".into(), Value::str(p));
        attrs.insert("from_port".into(), Value::int(from));
        attrs.insert("to_port".into(), Value::int(to));
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_ids(cx, ids).await
    }

    /// The rules of the stack's groups come from the read `security_group` makes anyway (shared within a
    /// refresh); tracked rules of other groups are read by id.
    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut out = rules_in(ids, &super::security_group::stack_groups(cx).await?);
        out.extend(self.read_ids(cx, &missing_ids(ids, &out)).await?);
        Ok(out)
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        let (rule, description) = Rule::from_attrs(desired)?;
        let atoms = rule.atoms(&description);
        authorize(cx, &rule.group, rule.dir, permissions_of(&atoms, &rule.group)).await?;
        let id = rule.id(&description);
        checkpoint.created(&with_id(desired, &id)).await;
        let ids = [id.clone()];
        read_back(cx, "security group rule", &id, || self.read_ids(cx, &ids)).await
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, _desired: &Attrs) -> Result<Attrs, ProviderError> {
        // Every argument forces replacement: nothing to change in place.
        let id = get_id(prior)?;
        let ids = [id.to_owned()];
        read_back(cx, "security group rule", id, || self.read_ids(cx, &ids)).await
    }

    async fn find_existing(&self, cx: &Ctx, desired: &[Attrs]) -> Result<Vec<Option<Attrs>>, ProviderError> {
        let ids: Vec<Option<String>> = desired.iter().map(desired_id).collect();
        let wanted: Vec<String> = ids.iter().flatten().cloned().collect();
        if wanted.is_empty() {
            return Ok(vec![None; desired.len()]);
        }
        let found = self.read_ids(cx, &wanted).await?;
        Ok(ids.iter().map(|id| id.as_ref().and_then(|id| found.get(id).cloned())).collect())
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let (rule, description) = match Rule::from_attrs(prior) {
            Ok(r) => r,
            Err(_) => {
                let id = get_id(prior)?;
                let (rule, _) = Rule::parse_id(id)
                    .ok_or_else(|| ProviderError::new(format!("`{id}` is not a security group rule id")))?;
                (rule, String::new())
            }
        };
        // Revoke matches on the source, not the description; permissions already gone are fine.
        revoke(cx, &rule.group, rule.dir, &rule.atoms(&description)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(j: serde_json::Value) -> Attrs {
        let mut a = SCHEMA.normalize(&crate::value::attrs_from_json(&serde_json::from_value(j).unwrap()));
        SecurityGroupRule.normalize(&mut a);
        a
    }

    #[test]
    fn id_round_trips_and_read_attrs_match_config() {
        let a = attrs(serde_json::json!({
            "type": "ingress", "security_group_id": "sg-1", "from_port": 443, "to_port": 443, "protocol": "6",
            "cidr_blocks": ["10.1.0.0/16", "10.0.0.0/8"], "self": true, "description": "https"
        }));
        let (rule, d) = Rule::from_attrs(&a).unwrap();
        let id = rule.id(&d);
        assert_eq!(id, format!("sg-1_ingress_tcp_443_443_10.0.0.0/8,10.1.0.0/16,self_{}", description_hash("https")));
        let (parsed, hash) = Rule::parse_id(&id).unwrap();
        assert_eq!(parsed, rule);
        assert_eq!(hash, description_hash("https"));
        let mut read = rule.attrs(&id, &d);
        read = SCHEMA.normalize(&read);
        let mut want = a.clone();
        want.insert("id".into(), Value::str(&id));
        assert_eq!(read, want);
    }

    #[test]
    fn all_protocol_ports_normalise_to_zero() {
        let a = attrs(serde_json::json!({
            "type": "egress", "security_group_id": "sg-1", "from_port": 1, "to_port": 65535, "protocol": "all",
            "source_security_group_id": "sg-2"
        }));
        assert_eq!((a["protocol"].as_str(), a["from_port"].as_i64()), (Some("-1"), Some(0)));
        let (rule, d) = Rule::from_attrs(&a).unwrap();
        assert!(rule.id(&d).starts_with("sg-1_egress_-1_0_0_sg-2_"));
    }

    #[test]
    fn desired_id_is_the_create_id_and_none_unless_fully_known() {
        let a = attrs(serde_json::json!({
            "type": "ingress", "security_group_id": "sg-1", "from_port": 443, "to_port": 443, "protocol": "tcp",
            "cidr_blocks": ["10.0.0.0/8"], "source_security_group_id": "sg-2", "description": "https"
        }));
        let (rule, d) = Rule::from_attrs(&a).unwrap();
        assert_eq!(desired_id(&a), Some(rule.id(&d)));

        let with = |k: &str, v: Value| {
            let mut b = a.clone();
            b.insert(k.to_owned(), v);
            b
        };
        // Unknown anywhere, even inside a list.
        assert_eq!(desired_id(&with("security_group_id", Value::Unknown)), None);
        assert_eq!(desired_id(&with("cidr_blocks", Value::List(vec![Value::str("10.0.0.0/8"), Value::Unknown]))), None);
        assert_eq!(desired_id(&with("description", Value::Unknown)), None);
        // Malformed values: no panic, no id.
        assert_eq!(desired_id(&with("cidr_blocks", Value::List(vec![Value::int(10)]))), None);
        assert_eq!(desired_id(&with("cidr_blocks", Value::str("10.0.0.0/8"))), None);
        assert_eq!(desired_id(&with("from_port", Value::str("https"))), None);
        assert_eq!(desired_id(&with("from_port", Value::Number(1.5))), None);
        assert_eq!(desired_id(&with("type", Value::int(1))), None);
        assert_eq!(desired_id(&with("type", Value::str("sideways"))), None);
        assert_eq!(desired_id(&with("self", Value::int(1))), None);
        assert_eq!(desired_id(&with("description", Value::Bool(true))), None);
        assert_eq!(desired_id(&with("source_security_group_id", Value::List(vec![]))), None);
        assert_eq!(desired_id(&Attrs::new()), None);
        // Null optional attributes are fine.
        let mut no_group = with("source_security_group_id", Value::Null);
        no_group.insert("self".into(), Value::Null);
        assert!(desired_id(&no_group).is_some());
    }

    #[test]
    fn needs_a_source() {
        let a = attrs(serde_json::json!({
            "type": "ingress", "security_group_id": "sg-1", "from_port": 1, "to_port": 2, "protocol": "tcp"
        }));
        assert!(Rule::from_attrs(&a).is_err());
        assert!(!SCHEMA.taggable);
    }
}
