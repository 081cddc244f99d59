//! `route53_record`: one resource record set of a hosted zone, as terraform-provider-aws's
//! `aws_route53_record`. Id = Terraform's import id `ZONEID_NAME_TYPE[_SETIDENTIFIER]` (name without the
//! trailing dot, lower case).
//!
//! Either `records` with a `ttl`, or one `alias` table (`{ name, zone_id, evaluate_target_health }`: Route 53
//! answers with the target's addresses and TTL, so an alias takes no `ttl`). `set_identifier` with
//! `weighted_routing_policy` makes one of several weighted record sets of a name and type.
//! Deviation: `name` is the full name (`www.example.com`); Terraform appends the zone's name to a name that
//! does not end with it, which turns a typo (`www.exmaple.com`) into a name nobody asked for — here a name
//! outside its zone is an error, at plan when the zone's name is known there (a `route53_zone` or data
//! `route53_zone` of the stack: [`Resource::validate_related`]), else from Route 53 at create.
//!
//! **Create** is one ChangeResourceRecordSets: CREATE, which Route 53 refuses when the record set exists
//! ("Tried to create resource record set … but it already exists": the error names the record and says
//! what to do), or UPSERT with `allow_overwrite = true`. Then the change is waited for until INSYNC (see
//! `mod.rs`). Update is an UPSERT (name, type, zone and set identifier force a replacement), delete a DELETE
//! with the values Route 53 holds; both wait too.
//!
//! **Reads** are one ListResourceRecordSets per zone (paged, 300 a page) for every record of that zone the
//! stack holds, never one call per record. Records cannot be tagged: an untracked record is found by its
//! natural key (zone, name, type, set identifier) when a plan would create it ([`Resource::find_existing`]):
//! adopted when it holds exactly the configured values, else the create fails as above.
//!
//! **Normalisation** (both sides of every diff, [`Resource::normalize`]): names without the trailing dot and
//! lower case, Route 53's `\052` as `*`, zone ids without `/hostedzone/`, alias names as names, no `ttl` on
//! an alias (the emulator reports `TTL 0` there), TXT/SPF values without the quotes Route 53 keeps them in
//! (sent quoted, as Terraform does).

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};

use super::{change_timeout, clean_name, clean_zone_id, client, in_zone, is_gone, wait_insync, ChangeWatch};
use crate::aws::{aws_err, Ctx, ProviderError};
use crate::resource::{Checkpoint, Resource};
use crate::resources::util::*;
use crate::schema::{Attribute, Schema, Type, ID};
use crate::value::{Attrs, Value};

pub struct Route53Record;

/// Route 53's record types (RRType).
const TYPES: &[&str] = &[
    "A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR", "SOA", "SPF", "SRV", "SSHFP", "SVCB",
    "TLSA", "TXT",
];

fn alias_type() -> Type {
    Type::Object(vec![
        Attribute::string("name").required().describe("DNS name of the target (a load balancer's `dns_name`, …)."),
        Attribute::string("zone_id")
            .required()
            .describe("Hosted zone id of the target (a load balancer's `zone_id`, …)."),
        Attribute::bool("evaluate_target_health").required().describe("Answer only while the target is healthy."),
    ])
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("route53_record", "A record set of a Route 53 hosted zone (A, AAAA, CNAME, TXT, alias, weighted, …).")
        .attr(
            Attribute::string("zone_id")
                .required()
                .forces_new()
                .describe("The hosted zone (`route53_zone.x.zone_id`)."),
        )
        .attr(
            Attribute::string("name")
                .required()
                .forces_new()
                .describe("The full name, e.g. `www.example.com` or `*.example.com`."),
        )
        .attr(
            Attribute::string("type")
                .required()
                .forces_new()
                .one_of(TYPES)
                .describe("The record type: A, AAAA, CNAME, TXT, MX, …"),
        )
        .attr(
            Attribute::number("ttl")
                .describe("Seconds resolvers may cache the answer (required with `records`; not with `alias`)."),
        )
        .attr(Attribute::new("records", Type::set(Type::String)).describe("The values (TXT values without quotes)."))
        .attr(Attribute::new("alias", Type::list(alias_type())).describe(
            "One table `{ name, zone_id, evaluate_target_health }`: answer with an AWS resource's addresses.",
        ))
        .attr(
            Attribute::bool("allow_overwrite")
                .default(false)
                .describe("Take over a record set that already exists (UPSERT) instead of failing."),
        )
        .attr(
            Attribute::string("set_identifier")
                .forces_new()
                .describe("Tells record sets of the same name and type apart (with a routing policy)."),
        )
        .attr(
            Attribute::new(
                "weighted_routing_policy",
                Type::list(Type::Object(vec![Attribute::number("weight")
                    .required()
                    .describe("Relative weight, 0–255.")])),
            )
            .describe("One table `{ weight }`: answer with this set in proportion to its weight."),
        )
        .attr(Attribute::string("fqdn").computed().describe("The record's name."))
});

// ------------------------------------------------------------------------------------------------ ids

/// Terraform's import id: `ZONEID_NAME_TYPE` or `ZONEID_NAME_TYPE_SETIDENTIFIER`.
pub(crate) fn record_id(zone_id: &str, name: &str, ty: &str, set: Option<&str>) -> String {
    let base = format!("{}_{}_{}", clean_zone_id(zone_id), clean_name(name), ty.to_uppercase());
    match set.filter(|s| !s.is_empty()) {
        Some(s) => format!("{base}_{s}"),
        None => base,
    }
}

/// The key of an id, as Terraform's `parseRecordID` reads it: zone, name, type and set identifier. The type
/// is the first `_`-separated part after the zone that is a record type (names may hold `_`:
/// `_acme-challenge.example.com`).
pub(crate) fn parse_id(id: &str) -> Option<(String, String, String, Option<String>)> {
    let parts: Vec<&str> = id.split('_').collect();
    let zone = parts.first().filter(|z| !z.is_empty())?;
    let at = (2..parts.len()).find(|&i| TYPES.contains(&parts[i]))?;
    let name = parts[1..at].join("_");
    if name.is_empty() {
        return None;
    }
    let set = parts[at + 1..].join("_");
    Some((clean_zone_id(zone), clean_name(&name), parts[at].to_owned(), (!set.is_empty()).then_some(set)))
}

// ------------------------------------------------------------------------------------------------ values

fn is_txt(ty: &str) -> bool {
    matches!(ty, "TXT" | "SPF")
}

/// A TXT value as configured: Route 53's surrounding quotes removed (one quoted string only; values split
/// into several strings are kept as they are).
fn unquote_txt(v: &str) -> String {
    match v.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) if !inner.contains("\" \"") => inner.replace("\\\"", "\""),
        _ => v.to_owned(),
    }
}

/// A TXT value as Route 53 takes it: in quotes (unless the configuration quoted it already).
fn quote_txt(v: &str) -> String {
    if v.starts_with('"') && v.ends_with('"') && v.len() >= 2 {
        v.to_owned()
    } else {
        format!("\"{}\"", v.replace('"', "\\\""))
    }
}

/// The rules of the module doc, on one side of a diff.
pub(crate) fn normalize_record(a: &mut Attrs) {
    for k in ["zone_id"] {
        if let Some(Value::String(s)) = a.get(k) {
            let c = clean_zone_id(s);
            a.insert(k.into(), Value::str(c));
        }
    }
    for k in ["name", "fqdn"] {
        if let Some(Value::String(s)) = a.get(k) {
            let c = clean_name(s);
            a.insert(k.into(), Value::str(c));
        }
    }
    if let Some(Value::String(t)) = a.get("type") {
        let t = t.to_uppercase();
        a.insert("type".into(), Value::str(t));
    }
    let mut aliased = false;
    if let Some(Value::List(items)) = a.get("alias") {
        aliased = !items.is_empty();
        let items: Vec<Value> = items
            .iter()
            .map(|i| match i {
                Value::Map(m) => {
                    let mut m = m.clone();
                    if let Some(Value::String(n)) = m.get("name") {
                        let n = clean_name(n);
                        m.insert("name".into(), Value::str(n));
                    }
                    if let Some(Value::String(z)) = m.get("zone_id") {
                        let z = clean_zone_id(z);
                        m.insert("zone_id".into(), Value::str(z));
                    }
                    Value::Map(m)
                }
                other => other.clone(),
            })
            .collect();
        a.insert("alias".into(), Value::List(items));
    }
    if aliased && a.get("ttl").and_then(Value::as_i64) == Some(0) {
        a.remove("ttl");
    }
    let txt = a.get("type").and_then(Value::as_str).is_some_and(is_txt);
    if let Some(Value::List(items)) = a.get("records") {
        if items.iter().all(Value::is_known) {
            let mut v: Vec<Value> = items
                .iter()
                .map(|i| match i.as_str() {
                    Some(s) if txt => Value::str(unquote_txt(s)),
                    _ => i.clone(),
                })
                .collect();
            v.sort_by_cached_key(Value::canonical);
            v.dedup();
            a.insert("records".into(), Value::List(v));
        }
    }
}

/// The attributes of a record set of `zone_id`, normalised.
fn record_attrs(zone_id: &str, s: &ResourceRecordSet) -> Attrs {
    let ty = s.r#type().as_str().to_owned();
    let mut a = Attrs::new();
    a.insert(ID.into(), Value::str(record_id(zone_id, s.name(), &ty, s.set_identifier())));
    a.insert("zone_id".into(), Value::str(clean_zone_id(zone_id)));
    a.insert("name".into(), Value::str(clean_name(s.name())));
    a.insert("fqdn".into(), Value::str(clean_name(s.name())));
    a.insert("type".into(), Value::str(&ty));
    if let Some(t) = s.ttl() {
        a.insert("ttl".into(), Value::int(t));
    }
    a.insert("records".into(), Value::string_list(s.resource_records().iter().map(|r| r.value())));
    a.insert(
        "alias".into(),
        Value::List(
            s.alias_target()
                .map(|t| {
                    Value::Map(BTreeMap::from([
                        ("name".to_owned(), Value::str(t.dns_name())),
                        ("zone_id".to_owned(), Value::str(t.hosted_zone_id())),
                        ("evaluate_target_health".to_owned(), Value::Bool(t.evaluate_target_health())),
                    ]))
                })
                .into_iter()
                .collect(),
        ),
    );
    put_opt(&mut a, "set_identifier", s.set_identifier());
    a.insert(
        "weighted_routing_policy".into(),
        Value::List(
            s.weight()
                .map(|w| Value::Map(BTreeMap::from([("weight".to_owned(), Value::int(w))])))
                .into_iter()
                .collect(),
        ),
    );
    normalize_record(&mut a);
    a
}

fn first_table<'a>(a: &'a Attrs, k: &str) -> Option<&'a BTreeMap<String, Value>> {
    a.get(k).and_then(Value::as_list).and_then(|l| l.first()).and_then(Value::as_map)
}

/// The record set `a` describes, as Route 53 takes it.
fn rrset(a: &Attrs) -> Result<ResourceRecordSet, ProviderError> {
    let ty = req_str(a, "type")?.to_uppercase();
    let mut b = ResourceRecordSet::builder().name(clean_name(req_str(a, "name")?)).r#type(RrType::from(ty.as_str()));
    if let Some(t) = first_table(a, "alias") {
        let s = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        b = b.alias_target(
            AliasTarget::builder()
                .dns_name(s("name"))
                .hosted_zone_id(clean_zone_id(&s("zone_id")))
                .evaluate_target_health(t.get("evaluate_target_health").and_then(Value::as_bool).unwrap_or(false))
                .build()
                .map_err(|e| ProviderError::new(e.to_string()))?,
        );
    } else {
        b = b.set_ttl(a.get("ttl").and_then(Value::as_i64));
        for v in a.get("records").and_then(Value::as_str_list).unwrap_or_default() {
            let v = if is_txt(&ty) { quote_txt(&v) } else { v };
            b = b.resource_records(
                ResourceRecord::builder().value(v).build().map_err(|e| ProviderError::new(e.to_string()))?,
            );
        }
    }
    b = b.set_set_identifier(get_str(a, "set_identifier").map(str::to_owned));
    if let Some(w) = first_table(a, "weighted_routing_policy").and_then(|t| t.get("weight")).and_then(Value::as_i64) {
        b = b.weight(w);
    }
    b.build().map_err(|e| ProviderError::new(e.to_string()))
}

/// `record www.example.com (A) in zone Z1`, for messages.
fn describe(a: &Attrs) -> String {
    let set = get_str(a, "set_identifier").map(|s| format!(", set {s}")).unwrap_or_default();
    format!(
        "record {} ({}{set}) in zone {}",
        clean_name(get_str(a, "name").unwrap_or("?")),
        get_str(a, "type").unwrap_or("?"),
        clean_zone_id(get_str(a, "zone_id").unwrap_or("?"))
    )
}

fn check(cfg: &Attrs) -> Result<(), String> {
    let set = |k: &str| cfg.get(k).is_some_and(|v| !v.is_null() && !matches!(v, Value::List(l) if l.is_empty()));
    let aliases = cfg.get("alias").and_then(Value::as_list).map(<[Value]>::len).unwrap_or(0);
    if aliases > 1 {
        return Err("at most one `alias` table".to_owned());
    }
    if aliases == 1 && set("ttl") {
        return Err(
            "an alias record takes no `ttl`: Route 53 answers with the alias target's own TTL (and refuses a TTL \
                    on an alias with InvalidInput); remove `ttl`"
                .to_owned(),
        );
    }
    if aliases == 1 && set("records") {
        return Err("`records` and `alias` exclude each other: an alias answers with its target's addresses; keep one"
            .to_owned());
    }
    if aliases == 0 && !set("records") {
        return Err(
            "set `records` (with `ttl`), or one `alias` table `{ name, zone_id, evaluate_target_health }`".to_owned()
        );
    }
    if aliases == 0 && !set("ttl") {
        return Err("`ttl` is required with `records`: write e.g. `ttl = 300`".to_owned());
    }
    let weighted = cfg.get("weighted_routing_policy").and_then(Value::as_list).map(<[Value]>::len).unwrap_or(0);
    if weighted > 1 {
        return Err("at most one `weighted_routing_policy` table".to_owned());
    }
    match (set("set_identifier"), weighted == 1) {
        (true, false) => {
            return Err(
                "`set_identifier` needs a routing policy: add `weighted_routing_policy = { weight = 10 }`".to_owned()
            )
        }
        (false, true) => {
            return Err("`weighted_routing_policy` needs a `set_identifier` telling this set from the others".to_owned())
        }
        _ => {}
    }
    if let Some(w) = first_table(cfg, "weighted_routing_policy").and_then(|t| t.get("weight")).and_then(Value::as_i64) {
        if !(0..=255).contains(&w) {
            return Err(format!("weight {w} is outside 0..255"));
        }
    }
    if let Some(n) = cfg.get("name").and_then(Value::as_str) {
        if clean_name(n).is_empty() {
            return Err("`name` is empty: write the full name, e.g. `www.example.com`".to_owned());
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------ calls

/// Every record set of a zone (ListResourceRecordSets, every page).
pub(crate) async fn list_zone(cx: &Ctx, zone_id: &str) -> Result<Vec<ResourceRecordSet>, ProviderError> {
    let mut out = Vec::new();
    let mut next: Option<(String, RrType, Option<String>)> = None;
    loop {
        let mut req = client(cx).list_resource_record_sets().hosted_zone_id(zone_id).max_items(300);
        if let Some((name, ty, ident)) = next.take() {
            req = req.start_record_name(name).start_record_type(ty).set_start_record_identifier(ident);
        }
        let page = req.send().await.map_err(aws_err)?;
        out.extend(page.resource_record_sets().iter().cloned());
        match (page.is_truncated(), page.next_record_name(), page.next_record_type()) {
            (true, Some(n), Some(t)) => {
                next = Some((n.to_owned(), t.clone(), page.next_record_identifier().map(str::to_owned)))
            }
            _ => break,
        }
    }
    Ok(out)
}

/// The record sets of each zone (one paged listing per zone, all at once); a zone that is gone has none.
async fn list_zones(
    cx: &Ctx,
    zones: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, Vec<ResourceRecordSet>>, ProviderError> {
    let mut zones: Vec<String> = zones.into_iter().collect();
    zones.sort();
    zones.dedup();
    let calls = zones.into_iter().map(|z| async move {
        match list_zone(cx, &z).await {
            Ok(sets) => Ok((z, sets)),
            Err(e) if is_gone(&e) => Ok((z, Vec::new())),
            Err(e) => Err(e),
        }
    });
    Ok(futures::future::try_join_all(calls).await?.into_iter().collect())
}

/// The record set of a zone listing with this name, type and set identifier.
fn find<'a>(sets: &'a [ResourceRecordSet], name: &str, ty: &str, set: Option<&str>) -> Option<&'a ResourceRecordSet> {
    sets.iter()
        .find(|s| clean_name(s.name()) == clean_name(name) && s.r#type().as_str() == ty && s.set_identifier() == set)
}

/// One change to one record set; returns the change id and status.
async fn change(
    cx: &Ctx,
    zone_id: &str,
    action: ChangeAction,
    set: ResourceRecordSet,
) -> Result<(String, String), ProviderError> {
    let c = Change::builder()
        .action(action)
        .resource_record_set(set)
        .build()
        .map_err(|e| ProviderError::new(e.to_string()))?;
    let batch = ChangeBatch::builder().changes(c).build().map_err(|e| ProviderError::new(e.to_string()))?;
    let out = client(cx)
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(aws_err)?;
    Ok(out.change_info().map(|i| (i.id().to_owned(), i.status().as_str().to_owned())).unwrap_or_default())
}

/// What create/update return: the configuration, the id and the name.
fn result_attrs(desired: &Attrs) -> Attrs {
    let mut a = desired.clone();
    let (zone, name, ty) = (
        get_str(desired, "zone_id").unwrap_or_default(),
        get_str(desired, "name").unwrap_or_default(),
        get_str(desired, "type").unwrap_or_default(),
    );
    a.insert(ID.into(), Value::str(record_id(zone, name, ty, get_str(desired, "set_identifier"))));
    a.insert("fqdn".into(), Value::str(clean_name(name)));
    normalize_record(&mut a);
    a
}

async fn wait(cx: &Ctx, a: &Attrs, verb: &str, (change_id, status): &(String, String)) -> Result<(), ProviderError> {
    if change_id.is_empty() {
        return Ok(());
    }
    let what = describe(a);
    let label = format!(
        "route53_record {} {}",
        clean_name(get_str(a, "name").unwrap_or_default()),
        get_str(a, "type").unwrap_or_default()
    );
    let w = ChangeWatch { label: &label, what: &what, verb, change_id, status, timeout: change_timeout(cx) };
    wait_insync(cx, &w).await
}

/// Route 53's answer to a change it refuses, made clear (the record exists; the name is outside the zone).
fn refused(desired: &Attrs, e: ProviderError) -> ProviderError {
    let what = describe(desired);
    if e.message.contains("already exists") {
        let id = record_id(
            get_str(desired, "zone_id").unwrap_or_default(),
            get_str(desired, "name").unwrap_or_default(),
            get_str(desired, "type").unwrap_or_default(),
            get_str(desired, "set_identifier"),
        );
        return ProviderError::with_code(
            e.code.clone().unwrap_or_else(|| "InvalidChangeBatch".to_owned()),
            format!(
                "{what} already exists with other values, and this stack did not make it (Route 53: {}). To take it over \
                 with the configured values, set `allow_overwrite = true`; to manage it as it is, import it: \
                 `provisioner import <address> {id}`",
                e.message
            ),
        );
    }
    if e.message.contains("not permitted in zone") {
        return ProviderError::with_code(
            e.code.clone().unwrap_or_default(),
            format!(
                "{what}: the name is outside the zone (Route 53: {}); write a name ending in the zone's name",
                e.message
            ),
        );
    }
    e
}

#[async_trait]
impl Resource for Route53Record {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        check(cfg)
    }

    fn normalize(&self, attrs: &mut Attrs) {
        normalize_record(attrs);
    }

    /// The record's name must be in its zone, where both are known: a `route53_zone` or data `route53_zone`
    /// the record depends on — the one whose `zone_id` is the record's, or the only one when ids are not
    /// known yet.
    fn validate_related(&self, cfg: &Attrs, related: &[(&str, &Attrs)]) -> Result<(), String> {
        let Some(name) = cfg.get("name").and_then(Value::as_str) else { return Ok(()) };
        let zones: Vec<&(&str, &Attrs)> = related
            .iter()
            .filter(|(addr, _)| addr.starts_with("route53_zone.") || addr.starts_with("data.route53_zone."))
            .collect();
        let wanted = cfg.get("zone_id").and_then(Value::as_str).map(clean_zone_id);
        let by_id: Vec<_> = zones
            .iter()
            .filter(|(_, a)| {
                let zid = a.get("zone_id").and_then(Value::as_str).map(clean_zone_id);
                matches!((&wanted, &zid), (Some(w), Some(z)) if w == z)
            })
            .collect();
        let zone = match (by_id.as_slice(), zones.as_slice()) {
            ([z], _) => **z,
            ([], [z]) if wanted.is_none() || z.1.get("zone_id").is_some_and(|v| !v.is_known()) => *z,
            _ => return Ok(()),
        };
        let (addr, attrs) = zone;
        let Some(zone_name) = attrs.get("name").and_then(Value::as_str) else { return Ok(()) };
        if in_zone(name, zone_name) {
            return Ok(());
        }
        let zone_name = clean_name(zone_name);
        let first = clean_name(name).split('.').next().unwrap_or("www").to_owned();
        Err(format!(
            "name `{name}` is outside its zone `{zone_name}` ({addr}): write the full name, ending in `.{zone_name}`, e.g. \
             `{first}.{zone_name}` (names are not completed with the zone's name)"
        ))
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let keys: Vec<(String, (String, String, String, Option<String>))> =
            ids.iter().filter_map(|id| Some((id.clone(), parse_id(id)?))).collect();
        let zones = list_zones(cx, keys.iter().map(|(_, k)| k.0.clone())).await?;
        let mut out = HashMap::new();
        for (id, (zone, name, ty, set)) in keys {
            let Some(sets) = zones.get(&zone) else { continue };
            if let Some(s) = find(sets, &name, &ty, set.as_deref()) {
                out.insert(id, record_attrs(&zone, s));
            }
        }
        Ok(out)
    }

    /// The record with the configured zone, name, type and set identifier, when it holds exactly the
    /// configured values (one listing per zone for all of them).
    async fn find_existing(&self, cx: &Ctx, desired: &[Attrs]) -> Result<Vec<Option<Attrs>>, ProviderError> {
        let zones = list_zones(cx, desired.iter().filter_map(|d| get_str(d, "zone_id").map(clean_zone_id))).await?;
        Ok(desired
            .iter()
            .map(|d| {
                let zone = clean_zone_id(get_str(d, "zone_id")?);
                let s = find(
                    zones.get(&zone)?,
                    get_str(d, "name")?,
                    &get_str(d, "type")?.to_uppercase(),
                    get_str(d, "set_identifier"),
                )?;
                let found = record_attrs(&zone, s);
                let mut want = d.clone();
                normalize_record(&mut want);
                let same = ["ttl", "records", "alias", "weighted_routing_policy"].iter().all(|k| {
                    crate::engine::same(want.get(*k).unwrap_or(&Value::Null), found.get(*k).unwrap_or(&Value::Null))
                });
                same.then_some(found)
            })
            .collect())
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        check(desired).map_err(|m| ProviderError::with_code("InvalidInput", format!("{}: {m}", describe(desired))))?;
        let zone = clean_zone_id(req_str(desired, "zone_id")?);
        let action =
            if get_bool(desired, "allow_overwrite", false) { ChangeAction::Upsert } else { ChangeAction::Create };
        let changed = change(cx, &zone, action, rrset(desired)?).await.map_err(|e| refused(desired, e))?;
        let made = result_attrs(desired);
        checkpoint.created(&made).await;
        wait(cx, desired, "creating", &changed).await.map_err(|e| e.unsettled(made.clone()))?;
        Ok(made)
    }

    async fn update(&self, cx: &Ctx, _prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let zone = clean_zone_id(req_str(desired, "zone_id")?);
        let changed =
            change(cx, &zone, ChangeAction::Upsert, rrset(desired)?).await.map_err(|e| refused(desired, e))?;
        let made = result_attrs(desired);
        wait(cx, desired, "updating", &changed).await.map_err(|e| e.unsettled(made.clone()))?;
        Ok(made)
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let zone = clean_zone_id(req_str(prior, "zone_id")?);
        match change(cx, &zone, ChangeAction::Delete, rrset(prior)?).await {
            Ok(changed) => wait(cx, prior, "deleting", &changed).await,
            Err(e) if is_gone(&e) => Ok(()),
            Err(e) if e.message.contains("not found") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(j: serde_json::Value) -> Attrs {
        crate::value::attrs_from_json(&serde_json::from_value(j).unwrap())
    }

    fn norm(j: serde_json::Value) -> Attrs {
        let mut a = SCHEMA.normalize(&attrs(j));
        Route53Record.normalize(&mut a);
        a
    }

    #[test]
    fn ids_are_terraforms() {
        assert_eq!(record_id("/hostedzone/Z1", "WWW.example.com.", "a", None), "Z1_www.example.com_A");
        assert_eq!(record_id("Z1", "www.example.com", "A", Some("blue")), "Z1_www.example.com_A_blue");
        assert_eq!(parse_id("Z1_www.example.com_A"), Some(("Z1".into(), "www.example.com".into(), "A".into(), None)));
        assert_eq!(
            parse_id("Z1_www.example.com_A_blue_2"),
            Some(("Z1".into(), "www.example.com".into(), "A".into(), Some("blue_2".into())))
        );
        assert_eq!(
            parse_id("Z1__acme_challenge.example.com_TXT"),
            Some(("Z1".into(), "_acme_challenge.example.com".into(), "TXT".into(), None)),
            "names with underscores"
        );
        assert_eq!(parse_id("Z1_www.example.com"), None);
        assert_eq!(parse_id("Z1"), None);
    }

    #[test]
    fn normalise_trailing_dots() {
        let a = norm(
            json!({"zone_id": "Z1", "name": "www.example.com.", "type": "CNAME", "ttl": 60, "records": ["x.example.net"]}),
        );
        assert_eq!(a["name"], Value::str("www.example.com"));
        let b = norm(
            json!({"zone_id": "Z1", "name": "a.example.com", "type": "A", "alias": [{"name": "lb-1.elb.amazonaws.com.", "zone_id": "Z2", "evaluate_target_health": true}]}),
        );
        assert_eq!(b["alias"].as_list().unwrap()[0].get("name"), Some(&Value::str("lb-1.elb.amazonaws.com")));
    }

    #[test]
    fn normalise_case() {
        let a =
            norm(json!({"zone_id": "Z1", "name": "WWW.Example.com", "type": "a", "ttl": 60, "records": ["192.0.2.1"]}));
        assert_eq!(a["name"], Value::str("www.example.com"));
        assert_eq!(a["type"], Value::str("A"));
        let b = norm(
            json!({"zone_id": "Z1", "name": "a.example.com", "type": "A", "alias": [{"name": "Dualstack.LB-1.elb.amazonaws.com", "zone_id": "Z2", "evaluate_target_health": false}]}),
        );
        assert_eq!(b["alias"].as_list().unwrap()[0].get("name"), Some(&Value::str("dualstack.lb-1.elb.amazonaws.com")));
    }

    #[test]
    fn normalise_octal_star() {
        let a = norm(
            json!({"zone_id": "Z1", "name": "\\052.example.com.", "type": "A", "ttl": 60, "records": ["192.0.2.1"]}),
        );
        assert_eq!(a["name"], Value::str("*.example.com"));
    }

    #[test]
    fn normalise_hostedzone_prefix() {
        let a = norm(json!({"zone_id": "/hostedzone/Z1", "name": "a.example.com", "type": "A",
                            "alias": [{"name": "x", "zone_id": "/hostedzone/Z2", "evaluate_target_health": false}]}));
        assert_eq!(a["zone_id"], Value::str("Z1"));
        assert_eq!(a["alias"].as_list().unwrap()[0].get("zone_id"), Some(&Value::str("Z2")));
    }

    #[test]
    fn normalise_alias_ttl_zero() {
        let a = norm(json!({"zone_id": "Z1", "name": "a.example.com", "type": "A", "ttl": 0,
                            "alias": [{"name": "x", "zone_id": "Z2", "evaluate_target_health": false}]}));
        assert!(!a.contains_key("ttl"), "{a:?}");
        let b =
            norm(json!({"zone_id": "Z1", "name": "a.example.com", "type": "A", "ttl": 0, "records": ["192.0.2.1"]}));
        assert_eq!(b["ttl"], Value::int(0), "a TTL of 0 without alias is a value");
    }

    #[test]
    fn normalise_txt_quotes() {
        let a = norm(
            json!({"zone_id": "Z1", "name": "a.example.com", "type": "TXT", "ttl": 60, "records": ["\"v=spf1 -all\"", "\"b\""]}),
        );
        assert_eq!(a["records"], Value::string_list(["b", "v=spf1 -all"]));
        assert_eq!(quote_txt("v=spf1 -all"), "\"v=spf1 -all\"");
        assert_eq!(unquote_txt("\"a\" \"b\""), "\"a\" \"b\"", "split strings stay as they are");
    }

    #[test]
    fn validate_alias_ttl_records_and_routing() {
        let alias = json!({"name": "x", "zone_id": "Z2", "evaluate_target_health": false});
        let e = check(&SCHEMA.normalize(&attrs(
            json!({"zone_id": "Z1", "name": "a.example.com", "type": "A", "ttl": 60, "alias": [alias.clone()]}),
        )))
        .unwrap_err();
        assert!(e.contains("alias record takes no `ttl`") && e.contains("remove `ttl`"), "{e}");
        let e = check(&attrs(
            json!({"zone_id": "Z1", "name": "a.example.com", "type": "A", "records": ["1.2.3.4"], "alias": [alias]}),
        ))
        .unwrap_err();
        assert!(e.contains("exclude each other"), "{e}");
        let e = check(&attrs(json!({"zone_id": "Z1", "name": "a.example.com", "type": "A", "records": ["1.2.3.4"]})))
            .unwrap_err();
        assert!(e.contains("`ttl` is required"), "{e}");
        let e = check(&attrs(json!({"zone_id": "Z1", "name": "a.example.com", "type": "A"}))).unwrap_err();
        assert!(e.contains("set `records`"), "{e}");
        let e = check(&attrs(json!({"zone_id": "Z1", "name": "a.example.com", "type": "A", "ttl": 1, "records": ["1.2.3.4"], "set_identifier": "b"}))).unwrap_err();
        assert!(e.contains("needs a routing policy"), "{e}");
        assert!(check(&attrs(
            json!({"zone_id": "Z1", "name": "a.example.com", "type": "A", "ttl": 1, "records": ["1.2.3.4"],
            "set_identifier": "b", "weighted_routing_policy": [{"weight": 10}]})
        ))
        .is_ok());
    }

    #[test]
    fn names_outside_the_zone_are_refused_where_known() {
        let zone = attrs(json!({"name": "example.com", "zone_id": "Z1"}));
        let unknown_zone: Attrs =
            Attrs::from([("name".to_owned(), Value::str("example.com")), ("zone_id".to_owned(), Value::Unknown)]);
        let cfg =
            |name: &str, zid: Value| Attrs::from([("name".to_owned(), Value::str(name)), ("zone_id".to_owned(), zid)]);
        let e = Route53Record
            .validate_related(&cfg("www.example.org", Value::str("Z1")), &[("route53_zone.main", &zone)])
            .unwrap_err();
        assert!(
            e.contains("outside its zone `example.com` (route53_zone.main)") && e.contains("www.example.com"),
            "{e}"
        );
        assert!(Route53Record
            .validate_related(&cfg("www.example.com", Value::str("Z1")), &[("route53_zone.main", &zone)])
            .is_ok());
        // The zone is planned: ids unknown on both sides, one zone.
        assert!(Route53Record
            .validate_related(&cfg("www", Value::Unknown), &[("route53_zone.main", &unknown_zone)])
            .is_err());
        // Another zone than the record's: nothing to say.
        assert!(Route53Record
            .validate_related(&cfg("www.example.org", Value::str("Z9")), &[("route53_zone.main", &zone)])
            .is_ok());
    }

    #[test]
    fn rrsets_quote_txt_and_carry_alias_or_records() {
        let s = rrset(&attrs(
            json!({"zone_id": "Z1", "name": "a.example.com", "type": "TXT", "ttl": 60, "records": ["hello"]}),
        ))
        .unwrap();
        assert_eq!(s.resource_records()[0].value(), "\"hello\"");
        assert_eq!(s.ttl(), Some(60));
        let s = rrset(&attrs(json!({"zone_id": "Z1", "name": "a.example.com", "type": "A", "alias": [{"name": "lb", "zone_id": "/hostedzone/Z2", "evaluate_target_health": true}]}))).unwrap();
        assert_eq!(s.alias_target().unwrap().hosted_zone_id(), "Z2");
        assert_eq!(s.ttl(), None);
    }
}
