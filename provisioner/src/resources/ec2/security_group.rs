//! `security_group`: a VPC security group with its inline ingress/egress rules, Terraform-style.
//!
//! Rules are compared the way AWS stores them. AWS keeps *atomic* permissions (one protocol/port range and
//! one source — a CIDR, an IPv6 CIDR, a group or the group itself — each with its own description) and
//! reports them merged per protocol/port range. So both the configured rules and what `read` returns are
//! brought into one canonical form ([`Resource::normalize`]): protocol names canonicalised (`all`/`-1` →
//! `-1`, `6` → `tcp`, `17` → `udp`, `1` → `icmp`, `icmpv6` → `58`), ports of protocol `-1` set to 0, the
//! rules exploded into atoms and regrouped by (protocol, from, to, description) — the union of their
//! sources, `self` set if any atom is self-referencing — and sorted. Two config rules AWS merges into one
//! permission therefore normalise equal to what AWS reports, and a re-plan is empty.
//!
//! Create is one CreateSecurityGroup call carrying all tags; after the checkpoint, AWS's default allow-all
//! egress is revoked unless declared, and the declared rules are authorised. Update revokes removed atoms
//! and authorises added ones. Delete optionally revokes all rules first (`revoke_rules_on_delete`, to break
//! cross-group references) and retries `DependencyViolation` (ENIs and references take time to go).
//!
//! Read is one DescribeSecurityGroups per 200 ids (filter `group-id`, paginated). `read_stack` is one
//! DescribeSecurityGroups filtered by the stack's tags, plus the by-id read for the tracked ids it did not
//! return (none in the common case).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, ResourceType, SecurityGroup as AwsSecurityGroup, UserIdGroupPair,
};

use super::util::*;
use crate::aws::{aws_err, retry_on, sync_ec2_tags, tag_spec, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::schema::{Attribute, Schema, Type};
use crate::value::{Attrs, Value};

pub struct SecurityGroup;

/// The DescribeSecurityGroups filter selecting by id.
const ID_FILTER: &str = "group-id";

pub(crate) const TAG_RESOURCE_TYPE: ResourceType = ResourceType::SecurityGroup;

pub(crate) const DEFAULT_DESCRIPTION: &str = "Managed by provisioner";

fn rule_type() -> Type {
    let strings = || Type::set(Type::String);
    Type::Object(vec![
        Attribute::number("from_port").required().describe("Start of the port range (ICMP type)."),
        Attribute::number("to_port").required().describe("End of the port range (ICMP code)."),
        Attribute::string("protocol").required().describe("tcp, udp, icmp, a protocol number, or -1 (all)."),
        Attribute::new("cidr_blocks", strings()).default_value(Value::List(vec![])).cidr(),
        Attribute::new("ipv6_cidr_blocks", strings()).default_value(Value::List(vec![])).cidr(),
        Attribute::new("security_groups", strings())
            .default_value(Value::List(vec![]))
            .describe("Source (ingress) or destination (egress) security group ids."),
        Attribute::bool("self").default(false).describe("The group itself as source/destination."),
        Attribute::string("description").default("").describe("Description of each permission of this rule."),
    ])
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("security_group", "A VPC security group with inline rules.")
        .taggable()
        .attr(Attribute::string("name").required().forces_new().describe("Group name, unique in the VPC."))
        .attr(Attribute::string("description").default(DEFAULT_DESCRIPTION).forces_new().describe("Group description."))
        .attr(Attribute::string("vpc_id").required().forces_new().describe("The VPC of the group."))
        .attr(
            Attribute::new("ingress", Type::set(rule_type()))
                .optional_computed()
                .describe("Inbound rules (exclusive: others are revoked). Leave out to manage rules with security_group_rule."),
        )
        .attr(
            Attribute::new("egress", Type::set(rule_type()))
                .optional_computed()
                .describe("Outbound rules (exclusive; AWS's default allow-all egress is revoked unless declared). Leave out to manage rules with security_group_rule."),
        )
        .attr(
            Attribute::bool("revoke_rules_on_delete")
                .default(false)
                .describe("Revoke all rules before deleting (breaks cycles of groups referencing each other)."),
        )
        .attr(Attribute::string("arn").computed().describe("ARN of the security group."))
        .attr(Attribute::string("owner_id").computed().describe("Account owning the security group."))
});

// ---------------------------------------------------------------------------------------------------------
// Rules as atoms

/// Where one atomic permission lets traffic come from (ingress) or go to (egress).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Source {
    Cidr(String),
    Ipv6(String),
    Group(String),
    SelfRef,
}

/// One permission as AWS stores it: a protocol/port range, one source, one description.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Atom {
    pub protocol: String,
    pub from: i64,
    pub to: i64,
    pub source: Source,
    pub description: String,
}

/// Canonical protocol: the name AWS reports for tcp/udp/icmp, `-1` for all, the number otherwise.
pub(crate) fn canonical_protocol(p: &str) -> String {
    let p = p.trim().to_ascii_lowercase();
    match p.as_str() {
        "-1" | "all" => "-1".into(),
        "6" | "tcp" => "tcp".into(),
        "17" | "udp" => "udp".into(),
        "1" | "icmp" => "icmp".into(),
        "58" | "icmpv6" => "58".into(),
        _ => p,
    }
}

/// Canonical (protocol, from, to): ports are meaningless (and not reported) for protocol -1.
pub(crate) fn canonical_range(protocol: &str, from: i64, to: i64) -> (String, i64, i64) {
    let p = canonical_protocol(protocol);
    if p == "-1" {
        (p, 0, 0)
    } else {
        (p, from, to)
    }
}

/// Explodes configured rules (a list of rule objects) into atoms. `None` when something is unknown or
/// malformed (then the value is left alone).
pub(crate) fn atoms_of_rules(v: &Value) -> Option<Vec<Atom>> {
    if !v.is_known() {
        return None;
    }
    let mut out = Vec::new();
    for r in v.as_list()? {
        let from = r.get("from_port")?.as_i64()?;
        let to = r.get("to_port")?.as_i64()?;
        let (protocol, from, to) = canonical_range(r.get("protocol")?.as_str()?, from, to);
        let description = r.get("description").and_then(Value::as_str).unwrap_or_default().to_owned();
        let strs = |k: &str| r.get(k).and_then(Value::as_str_list).unwrap_or_default();
        let mut sources: Vec<Source> = Vec::new();
        sources.extend(strs("cidr_blocks").into_iter().map(Source::Cidr));
        sources.extend(strs("ipv6_cidr_blocks").into_iter().map(Source::Ipv6));
        sources.extend(strs("security_groups").into_iter().map(Source::Group));
        if r.get("self").and_then(Value::as_bool).unwrap_or(false) {
            sources.push(Source::SelfRef);
        }
        for source in sources {
            out.push(Atom { protocol: protocol.clone(), from, to, source, description: description.clone() });
        }
    }
    Some(out)
}

/// Regroups atoms into the canonical list of rule objects: one per (protocol, from, to, description), sorted.
pub(crate) fn rules_value(atoms: impl IntoIterator<Item = Atom>) -> Value {
    #[derive(Default)]
    struct Acc {
        cidr: BTreeSet<String>,
        ipv6: BTreeSet<String>,
        groups: BTreeSet<String>,
        self_: bool,
    }
    let mut groups: BTreeMap<(String, i64, i64, String), Acc> = BTreeMap::new();
    for a in atoms {
        let acc = groups.entry((a.protocol, a.from, a.to, a.description)).or_default();
        match a.source {
            Source::Cidr(c) => {
                acc.cidr.insert(c);
            }
            Source::Ipv6(c) => {
                acc.ipv6.insert(c);
            }
            Source::Group(g) => {
                acc.groups.insert(g);
            }
            Source::SelfRef => acc.self_ = true,
        }
    }
    let mut rules: Vec<Value> = groups
        .into_iter()
        .map(|((protocol, from, to, description), acc)| {
            Value::Map(BTreeMap::from([
                ("from_port".to_owned(), Value::int(from)),
                ("to_port".to_owned(), Value::int(to)),
                ("protocol".to_owned(), Value::str(protocol)),
                ("cidr_blocks".to_owned(), Value::string_list(acc.cidr)),
                ("ipv6_cidr_blocks".to_owned(), Value::string_list(acc.ipv6)),
                ("security_groups".to_owned(), Value::string_list(acc.groups)),
                ("self".to_owned(), Value::Bool(acc.self_)),
                ("description".to_owned(), Value::str(description)),
            ]))
        })
        .collect();
    rules.sort_by_cached_key(Value::canonical);
    Value::List(rules)
}

/// Atoms of the permissions AWS reports for group `own_id` (a pair naming the group itself is `self`).
pub(crate) fn atoms_of_permissions(perms: &[IpPermission], own_id: &str) -> Vec<Atom> {
    let mut out = Vec::new();
    for p in perms {
        let (protocol, from, to) = canonical_range(
            p.ip_protocol().unwrap_or("-1"),
            p.from_port().unwrap_or(0).into(),
            p.to_port().unwrap_or(0).into(),
        );
        let mut push = |source: Source, description: Option<&str>| {
            out.push(Atom {
                protocol: protocol.clone(),
                from,
                to,
                source,
                description: description.unwrap_or_default().to_owned(),
            })
        };
        for r in p.ip_ranges() {
            if let Some(c) = r.cidr_ip() {
                push(Source::Cidr(c.to_owned()), r.description());
            }
        }
        for r in p.ipv6_ranges() {
            if let Some(c) = r.cidr_ipv6() {
                push(Source::Ipv6(c.to_owned()), r.description());
            }
        }
        for g in p.user_id_group_pairs() {
            match g.group_id() {
                Some(id) if id == own_id => push(Source::SelfRef, g.description()),
                Some(id) => push(Source::Group(id.to_owned()), g.description()),
                None => {}
            }
        }
        // Prefix-list sources are not modelled.
    }
    out
}

/// Builds the IpPermissions granting `atoms` (grouped per protocol/port range) for group `own_id`.
pub(crate) fn permissions_of<'a>(atoms: impl IntoIterator<Item = &'a Atom>, own_id: &str) -> Vec<IpPermission> {
    let mut by_range: BTreeMap<(String, i64, i64), Vec<&Atom>> = BTreeMap::new();
    for a in atoms {
        by_range.entry((a.protocol.clone(), a.from, a.to)).or_default().push(a);
    }
    by_range
        .into_iter()
        .map(|((protocol, from, to), atoms)| {
            let desc = |a: &Atom| (!a.description.is_empty()).then(|| a.description.clone());
            let mut p = IpPermission::builder().ip_protocol(&protocol);
            if protocol != "-1" {
                p = p.from_port(from as i32).to_port(to as i32);
            }
            for a in atoms {
                p = match &a.source {
                    Source::Cidr(c) => p.ip_ranges(IpRange::builder().cidr_ip(c).set_description(desc(a)).build()),
                    Source::Ipv6(c) => {
                        p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(c).set_description(desc(a)).build())
                    }
                    Source::Group(g) => {
                        p.user_id_group_pairs(UserIdGroupPair::builder().group_id(g).set_description(desc(a)).build())
                    }
                    Source::SelfRef => p.user_id_group_pairs(
                        UserIdGroupPair::builder().group_id(own_id).set_description(desc(a)).build(),
                    ),
                };
            }
            p.build()
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// AuthorizeSecurityGroupIngress/Egress; a duplicate becomes a clear error.
pub(crate) async fn authorize(
    cx: &Ctx,
    group: &str,
    dir: Direction,
    perms: Vec<IpPermission>,
) -> Result<(), ProviderError> {
    if perms.is_empty() {
        return Ok(());
    }
    let r = retry_on(
        cx,
        "AuthorizeSecurityGroup",
        |e| e.code.as_deref() == Some("InvalidGroup.NotFound"),
        || async {
            match dir {
                Direction::Ingress => cx
                    .ec2()
                    .authorize_security_group_ingress()
                    .group_id(group)
                    .set_ip_permissions(Some(perms.clone()))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(aws_err),
                Direction::Egress => cx
                    .ec2()
                    .authorize_security_group_egress()
                    .group_id(group)
                    .set_ip_permissions(Some(perms.clone()))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(aws_err),
            }
        },
    )
    .await;
    match r {
        Err(e) if e.code.as_deref() == Some("InvalidPermission.Duplicate") => Err(ProviderError::with_code(
            "InvalidPermission.Duplicate",
            format!(
                "an {} rule of {group} already exists ({}); a rule may be declared only once — in the group's inline rules or in one aws_security_group_rule, not both",
                dir.as_str(),
                e.message
            ),
        )),
        other => other,
    }
}

async fn revoke_call(cx: &Ctx, group: &str, dir: Direction, perms: Vec<IpPermission>) -> Result<(), ProviderError> {
    match dir {
        Direction::Ingress => cx
            .ec2()
            .revoke_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(Some(perms))
            .send()
            .await
            .map(|_| ())
            .map_err(aws_err),
        Direction::Egress => cx
            .ec2()
            .revoke_security_group_egress()
            .group_id(group)
            .set_ip_permissions(Some(perms))
            .send()
            .await
            .map(|_| ())
            .map_err(aws_err),
    }
}

/// Revokes `atoms` from the group. Permissions already gone are not an error: when the batched call fails
/// with NotFound, each atom is revoked on its own, ignoring NotFound.
pub(crate) async fn revoke(cx: &Ctx, group: &str, dir: Direction, atoms: &[Atom]) -> Result<(), ProviderError> {
    if atoms.is_empty() {
        return Ok(());
    }
    match revoke_call(cx, group, dir, permissions_of(atoms, group)).await {
        Err(e) if e.is_not_found() && atoms.len() > 1 => {
            for a in atoms {
                gone_ok(revoke_call(cx, group, dir, permissions_of([a], group)).await)?;
            }
            Ok(())
        }
        r => gone_ok(r).map(|_| ()),
    }
}

/// Makes the group's `dir` rules go from `old` to `new` atoms: revoke first (a changed description is a
/// revoke plus an authorise of the same source), then authorise.
async fn sync_rules(cx: &Ctx, group: &str, dir: Direction, old: &[Atom], new: &[Atom]) -> Result<(), ProviderError> {
    let old: BTreeSet<&Atom> = old.iter().collect();
    let new: BTreeSet<&Atom> = new.iter().collect();
    let removed: Vec<Atom> = old.difference(&new).map(|a| (*a).clone()).collect();
    let added: Vec<&Atom> = new.difference(&old).copied().collect();
    revoke(cx, group, dir, &removed).await?;
    authorize(cx, group, dir, permissions_of(added, group)).await
}

fn desired_atoms(attrs: &Attrs, name: &str) -> Result<Vec<Atom>, ProviderError> {
    match attrs.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => atoms_of_rules(v)
            .ok_or_else(|| ProviderError::new(format!("`{name}` rules are incomplete or malformed: {v}"))),
    }
}

/// `revoke_rules_on_delete` is a setting of this tool, not something AWS stores: `read` cannot report it,
/// so create/update return it from `desired` (the engine keeps it in state across refreshes).
fn with_local_settings(mut read: Attrs, desired: &Attrs) -> Attrs {
    read.insert("revoke_rules_on_delete".into(), Value::Bool(get_bool(desired, "revoke_rules_on_delete", false)));
    read
}

// ---------------------------------------------------------------------------------------------------------

/// One DescribeSecurityGroups (paginated) with `filters`, as the SDK returns the groups.
pub(crate) async fn describe(cx: &Ctx, filters: Vec<Filter>) -> Result<Vec<AwsSecurityGroup>, ProviderError> {
    let mut out = Vec::new();
    let mut pages = cx.ec2().describe_security_groups().set_filters(Some(filters)).into_paginator().items().send();
    while let Some(g) = pages.next().await {
        out.push(g.map_err(aws_err)?);
    }
    Ok(out)
}

/// The stack's security groups (filtered by its tags), read once per refresh and shared with
/// `security_group_rule`, whose objects are these groups' rules.
pub(crate) async fn stack_groups(cx: &Ctx) -> Result<std::sync::Arc<Vec<AwsSecurityGroup>>, ProviderError> {
    cx.shared("ec2.DescribeSecurityGroups(stack)", || describe(cx, cx.stack_filters())).await
}

/// A group's attributes as `read` returns them.
fn group_attrs(cx: &Ctx, g: &AwsSecurityGroup) -> Option<(String, Attrs)> {
    let id = g.group_id()?;
    let mut a = Attrs::new();
    a.insert("id".into(), Value::str(id));
    put_str(&mut a, "name", g.group_name());
    put_str(&mut a, "description", g.description());
    put_str(&mut a, "vpc_id", g.vpc_id());
    put_str(&mut a, "owner_id", g.owner_id());
    let arn = match g.security_group_arn() {
        Some(arn) if !arn.is_empty() => arn.to_owned(),
        _ => ec2_arn(cx, g.owner_id().unwrap_or_default(), "security-group", id),
    };
    a.insert("arn".into(), Value::str(arn));
    a.insert("ingress".into(), rules_value(atoms_of_permissions(g.ip_permissions(), id)));
    a.insert("egress".into(), rules_value(atoms_of_permissions(g.ip_permissions_egress(), id)));
    put_tags(&mut a, g.tags());
    Some((id.to_owned(), a))
}

impl SecurityGroup {
    /// One DescribeSecurityGroups (paginated) with `filters`.
    async fn read_filtered(&self, cx: &Ctx, filters: Vec<Filter>) -> Result<HashMap<String, Attrs>, ProviderError> {
        Ok(describe(cx, filters).await?.iter().filter_map(|g| group_attrs(cx, g)).collect())
    }

    async fn read_ids(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        read_by_ids(ids, ID_FILTER, |f| self.read_filtered(cx, f)).await
    }

    async fn read_one(&self, cx: &Ctx, id: &str) -> Result<Attrs, ProviderError> {
        let ids = [id.to_owned()];
        read_back(cx, "security group", id, || self.read_ids(cx, &ids)).await
    }
}

#[async_trait]
impl Resource for SecurityGroup {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn normalize(&self, attrs: &mut Attrs) {
        let own_id = get_str(attrs, "id").map(str::to_owned);
        for name in ["ingress", "egress"] {
            if let Some(mut atoms) = attrs.get(name).and_then(atoms_of_rules) {
                // The group naming itself in `security_groups` is what AWS reports as `self`.
                if let Some(own) = &own_id {
                    for a in &mut atoms {
                        if a.source == Source::Group(own.clone()) {
                            a.source = Source::SelfRef;
                        }
                    }
                }
                attrs.insert(name.to_owned(), rules_value(atoms));
            }
        }
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_ids(cx, ids).await
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        let ingress = desired_atoms(desired, "ingress")?;
        let egress = desired_atoms(desired, "egress")?;
        let name = req_str(desired, "name")?;
        let description = get_str(desired, "description").unwrap_or(DEFAULT_DESCRIPTION);
        let vpc_id = req_str(desired, "vpc_id")?;
        let out = retry_on(cx, "CreateSecurityGroup", ProviderError::is_not_found, || async {
            cx.ec2()
                .create_security_group()
                .group_name(name)
                .description(description)
                .vpc_id(vpc_id)
                .tag_specifications(tag_spec(TAG_RESOURCE_TYPE, desired))
                .send()
                .await
                .map_err(aws_err)
        })
        .await?;
        let id = out.group_id().ok_or_else(|| ProviderError::new("CreateSecurityGroup returned no id"))?;
        checkpoint.created(&with_id(desired, id)).await;

        // What AWS created (its default allow-all egress), read rather than assumed.
        let current = self.read_one(cx, id).await?;
        let cur_in = desired_atoms(&current, "ingress")?;
        let cur_eg = desired_atoms(&current, "egress")?;
        sync_rules(cx, id, Direction::Egress, &cur_eg, &egress).await?;
        sync_rules(cx, id, Direction::Ingress, &cur_in, &ingress).await?;
        Ok(with_local_settings(self.read_one(cx, id).await?, desired))
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let id = get_id(prior)?;
        for (name, dir) in [("egress", Direction::Egress), ("ingress", Direction::Ingress)] {
            // Not configured (optional+computed): rules are managed elsewhere (security_group_rule).
            if !desired.contains_key(name) {
                continue;
            }
            let old = desired_atoms(prior, name)?;
            let new = desired_atoms(desired, name)?;
            sync_rules(cx, id, dir, &old, &new).await?;
        }
        sync_ec2_tags(cx, id, prior, desired).await?;
        Ok(with_local_settings(self.read_one(cx, id).await?, desired))
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let id = get_id(prior)?;
        if get_bool(prior, "revoke_rules_on_delete", false) {
            let current = self.read_ids(cx, &[id.to_owned()]).await?;
            let Some(current) = current.get(id) else { return Ok(()) };
            for (name, dir) in [("ingress", Direction::Ingress), ("egress", Direction::Egress)] {
                revoke(cx, id, dir, &desired_atoms(current, name)?).await?;
            }
        }
        delete_retrying(cx, "DeleteSecurityGroup", || async {
            cx.ec2().delete_security_group().group_id(id).send().await.map_err(aws_err)
        })
        .await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let mut out: HashMap<String, Attrs> =
            stack_groups(cx).await?.iter().filter_map(|g| group_attrs(cx, g)).collect();
        out.extend(self.read_ids(cx, &missing_ids(ids, &out)).await?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tags_with_the_security_group_resource_type() {
        assert_eq!(TAG_RESOURCE_TYPE.as_str(), "security-group");
    }

    fn normalized(rules: serde_json::Value) -> Value {
        let mut attrs = SCHEMA.normalize(&Attrs::from([
            ("name".to_owned(), Value::str("x")),
            ("vpc_id".to_owned(), Value::str("vpc-1")),
            ("ingress".to_owned(), Value::from_json(&rules)),
        ]));
        SecurityGroup.normalize(&mut attrs);
        attrs["ingress"].clone()
    }

    #[test]
    fn protocols_canonicalise() {
        assert_eq!(canonical_protocol("ALL"), "-1");
        assert_eq!(canonical_protocol("6"), "tcp");
        assert_eq!(canonical_protocol("17"), "udp");
        assert_eq!(canonical_protocol("1"), "icmp");
        assert_eq!(canonical_protocol("icmpv6"), "58");
        assert_eq!(canonical_protocol("50"), "50");
        assert_eq!(canonical_range("all", 22, 80), ("-1".into(), 0, 0));
    }

    #[test]
    fn rules_aws_merges_normalise_equal() {
        let config = normalized(json!([
            {"from_port": 443, "to_port": 443, "protocol": "6", "cidr_blocks": ["10.0.0.0/8"]},
            {"from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["192.168.0.0/16"]},
            {"from_port": 22, "to_port": 22, "protocol": "tcp", "self": true, "description": "ssh"},
            {"from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": ["10.1.0.0/16"], "description": "ssh"},
            {"from_port": 5, "to_port": 9, "protocol": "all", "security_groups": ["sg-2"]}
        ]));
        let aws = [
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .ip_ranges(IpRange::builder().cidr_ip("192.168.0.0/16").build())
                .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
                .build(),
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("10.1.0.0/16").description("ssh").build())
                .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-1").description("ssh").build())
                .build(),
            IpPermission::builder()
                .ip_protocol("-1")
                .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-2").build())
                .build(),
        ];
        let read = rules_value(atoms_of_permissions(&aws, "sg-1"));
        assert_eq!(config, read);
        assert_eq!(read.as_list().unwrap().len(), 3);
        // Idempotent, and stable under the schema's own normalisation.
        assert_eq!(normalized(config.to_json().unwrap()), config);
    }

    #[test]
    fn naming_itself_is_self() {
        let mut attrs = Attrs::from([
            ("id".to_owned(), Value::str("sg-1")),
            (
                "ingress".to_owned(),
                Value::from_json(
                    &json!([{"from_port": 1, "to_port": 1, "protocol": "tcp", "security_groups": ["sg-1"]}]),
                ),
            ),
        ]);
        SecurityGroup.normalize(&mut attrs);
        let rule = &attrs["ingress"].as_list().unwrap()[0];
        assert_eq!(
            (rule.get("self"), rule.get("security_groups")),
            (Some(&Value::Bool(true)), Some(&Value::List(vec![])))
        );
    }

    #[test]
    fn different_descriptions_stay_separate() {
        let n = normalized(json!([
            {"from_port": 80, "to_port": 80, "protocol": "tcp", "cidr_blocks": ["10.0.0.0/8"], "description": "a"},
            {"from_port": 80, "to_port": 80, "protocol": "tcp", "cidr_blocks": ["10.1.0.0/16"], "description": "b"}
        ]));
        assert_eq!(n.as_list().unwrap().len(), 2);
    }

    #[test]
    fn unknown_rules_are_left_alone() {
        let mut attrs = Attrs::from([(
            "ingress".to_owned(),
            Value::List(vec![Value::Map(BTreeMap::from([("security_groups".to_owned(), Value::Unknown)]))]),
        )]);
        let before = attrs.clone();
        SecurityGroup.normalize(&mut attrs);
        assert_eq!(attrs, before);
    }

    #[test]
    fn permissions_group_atoms_per_range() {
        let atoms = atoms_of_rules(&Value::from_json(&json!([
            {"from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["10.0.0.0/8", "10.1.0.0/16"], "self": true, "description": "d"},
            {"from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"]}
        ])))
        .unwrap();
        let perms = permissions_of(&atoms, "sg-1");
        assert_eq!(perms.len(), 2);
        let all = perms.iter().find(|p| p.ip_protocol() == Some("-1")).unwrap();
        assert_eq!(all.from_port(), None);
        let tcp = perms.iter().find(|p| p.ip_protocol() == Some("tcp")).unwrap();
        assert_eq!(tcp.ip_ranges().len(), 2);
        assert_eq!(tcp.user_id_group_pairs()[0].group_id(), Some("sg-1"));
        assert_eq!(tcp.ip_ranges()[0].description(), Some("d"));
        // Round trip.
        let mut back = atoms_of_permissions(&perms, "sg-1");
        back.sort();
        let mut atoms = atoms;
        atoms.sort();
        assert_eq!(back, atoms);
    }
}
