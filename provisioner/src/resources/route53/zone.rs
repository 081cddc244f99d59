//! `route53_zone`: a public Route 53 hosted zone, as terraform-provider-aws's `aws_route53_zone`. Id = the
//! zone id without `/hostedzone/` (what `import` takes, as in Terraform).
//!
//! **Create** is CreateHostedZone, whose `CallerReference` is derived from the stack, workspace, lineage,
//! address and the create's generation ([`Checkpoint::attempt`], persisted before the call): a create
//! retried after a crash sends the same reference, Route 53 answers HostedZoneAlreadyExists, and the zone
//! that reference made is taken (found by ListHostedZones) instead of making a second one. Route 53 takes no
//! tags in CreateHostedZone: the zone is saved to state right after the call, then tagged
//! (ChangeTagsForResource), then the create's change is waited for until INSYNC (see `mod.rs`). A crash
//! between the create and the tags leaves a zone state holds with its tool tags missing: the next plan
//! re-tags it.
//!
//! **Reads.** ListHostedZones carries no tags and takes no tag filter: `read_stack` lists the zones (100 a
//! page) and keeps the tracked ids and those whose CallerReference starts with this stack and workspace's
//! prefix ([`caller_prefix`]: the zones this stack made, leftovers of an interrupted run included), reads
//! those (GetHostedZone each: the name servers) and their tags (ListTagsForResources, 10 a call), and
//! keeps the ones tagged with the stack. A no-op plan of one zone is three calls.
//!
//! **Delete** is DeleteHostedZone, which Route 53 refuses while the zone holds records other than its apex
//! NS and SOA (HostedZoneNotEmpty); with `force_destroy = true` those records are deleted first (one
//! ChangeResourceRecordSets per 100 records), as Terraform does.
//!
//! Private zones (`vpc` blocks) are not supported yet.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, HostedZone, HostedZoneConfig};
use sha2::{Digest, Sha256};

use super::{
    change_timeout, clean_name, clean_zone_id, client, is_gone, sync_zone_tags, wait_insync, zone_arn, zone_tags,
    ChangeWatch,
};
use crate::aws::{aws_err, tag_map, Ctx, ProviderError, TAG_ADDRESS, TAG_STACK};
use crate::resource::{Checkpoint, Resource};
use crate::resources::util::*;
use crate::schema::{Attribute, Schema, Type, ID, TAGS};
use crate::value::{Attrs, Value};

pub struct Route53Zone;

pub(crate) const DEFAULT_COMMENT: &str = "Managed by provisioner";

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("route53_zone", "A public Route 53 hosted zone: the name servers answering for a domain.")
        .taggable()
        .attr(
            Attribute::string("name")
                .required()
                .forces_new()
                .describe("The domain, e.g. `example.com` (a trailing dot is ignored)."),
        )
        .attr(Attribute::string("comment").default(DEFAULT_COMMENT).describe("A comment on the zone."))
        .attr(
            Attribute::bool("force_destroy")
                .default(false)
                .describe("Delete every record of the zone (but its apex NS and SOA) when the zone is destroyed."),
        )
        .attr(
            Attribute::string("delegation_set_id")
                .optional_computed()
                .forces_new()
                .describe("A reusable delegation set: the zone gets its name servers."),
        )
        .attr(Attribute::string("zone_id").computed().describe("The hosted zone id, e.g. `Z1D633PJN98FT9`."))
        .attr(Attribute::new("name_servers", Type::list(Type::String)).computed().describe(
            "The zone's name servers: delegate the domain to them (NS records at the registrar or parent zone).",
        ))
        .attr(Attribute::string("arn").computed().describe("ARN of the zone."))
});

/// The start of the CallerReference of every zone this stack and workspace make: lets `read_stack` pick
/// this stack's zones out of ListHostedZones without a tag call per zone.
pub(crate) fn caller_prefix(stack: &str, workspace: &str) -> String {
    let mut h = Sha256::new();
    h.update(stack.as_bytes());
    h.update([0u8]);
    h.update(workspace.as_bytes());
    let mut p = hex::encode(h.finalize());
    p.truncate(12);
    format!("provisioner-{p}-")
}

/// The CallerReference of the create at this address (see the module doc): the stack's prefix and a hash of
/// the tool's tags (stack, workspace, lineage, address) and the generation; ≤ 128 characters.
pub(crate) fn caller_reference(
    stack: &str,
    workspace: &str,
    tags: &BTreeMap<String, String>,
    generation: u64,
) -> String {
    let mut h = Sha256::new();
    hash_tool_tags(&mut h, tags);
    h.update(generation.to_be_bytes());
    let mut t = hex::encode(h.finalize());
    t.truncate(32);
    format!("{}{t}", caller_prefix(stack, workspace))
}

/// The attributes of a zone (from GetHostedZone, or a create), tags not included.
fn zone_attrs(cx: &Ctx, z: &HostedZone, name_servers: &[String], delegation_set_id: Option<&str>) -> Attrs {
    let id = clean_zone_id(z.id());
    let mut a = Attrs::new();
    a.insert(ID.into(), Value::str(&id));
    a.insert("zone_id".into(), Value::str(&id));
    a.insert("name".into(), Value::str(clean_name(z.name())));
    a.insert("comment".into(), Value::str(z.config().and_then(|c| c.comment()).unwrap_or_default()));
    a.insert(
        "delegation_set_id".into(),
        Value::str(delegation_set_id.map(|d| d.trim_start_matches("/delegationset/")).unwrap_or_default()),
    );
    a.insert("name_servers".into(), Value::string_list(name_servers.iter().map(String::as_str)));
    a.insert("arn".into(), Value::str(zone_arn(cx, &id)));
    a
}

/// GetHostedZone of each id (at once) and their tags; gone zones are absent.
async fn read_ids(cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
    let mut ids: Vec<String> = ids.iter().filter(|s| !s.is_empty()).map(|s| clean_zone_id(s)).collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let gets = ids.iter().map(|id| async move {
        match client(cx).get_hosted_zone().id(id).send().await.map_err(aws_err) {
            Ok(o) => Ok(o.hosted_zone().map(|z| {
                let ns = o.delegation_set().map(|d| d.name_servers().to_vec()).unwrap_or_default();
                zone_attrs(cx, z, &ns, o.delegation_set().and_then(|d| d.id()))
            })),
            Err(e) if is_gone(&e) => Ok(None),
            Err(e) => Err(e),
        }
    });
    let (zones, tags) = futures::try_join!(futures::future::try_join_all(gets), zone_tags(cx, &ids))?;
    Ok(zones
        .into_iter()
        .flatten()
        .map(|mut a| {
            let id = a[ID].as_str().unwrap_or_default().to_owned();
            let t = tags.get(&id).cloned().unwrap_or_default();
            a.insert(TAGS.into(), Value::Map(t.into_iter().map(|(k, v)| (k, Value::str(v))).collect()));
            (id, a)
        })
        .collect())
}

/// Every hosted zone of the account (ListHostedZones, every page).
pub(crate) async fn list_zones(cx: &Ctx) -> Result<Vec<HostedZone>, ProviderError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = client(cx).list_hosted_zones().set_marker(marker.take()).send().await.map_err(aws_err)?;
        out.extend(page.hosted_zones().iter().cloned());
        match page.next_marker().filter(|m| page.is_truncated() && !m.is_empty()) {
            Some(m) => marker = Some(m.to_owned()),
            None => break,
        }
    }
    Ok(out)
}

/// The label progress lines of a zone go under: its address (from the tool's tags).
fn label(attrs: &Attrs, name: &str) -> String {
    tag_map(attrs).get(TAG_ADDRESS).cloned().unwrap_or_else(|| format!("route53_zone {name}"))
}

/// Deletes every record of the zone but the apex NS and SOA (force_destroy).
async fn delete_records(cx: &Ctx, zone_id: &str, zone_name: &str) -> Result<(), ProviderError> {
    let sets = super::record::list_zone(cx, zone_id).await?;
    let apex = clean_name(zone_name);
    let doomed: Vec<_> = sets
        .into_iter()
        .filter(|s| !(clean_name(s.name()) == apex && matches!(s.r#type().as_str(), "NS" | "SOA")))
        .collect();
    for chunk in doomed.chunks(100) {
        let changes: Vec<Change> = chunk
            .iter()
            .map(|s| Change::builder().action(ChangeAction::Delete).resource_record_set(s.clone()).build())
            .collect::<Result<_, _>>()
            .map_err(|e| ProviderError::new(e.to_string()))?;
        let batch =
            ChangeBatch::builder().set_changes(Some(changes)).build().map_err(|e| ProviderError::new(e.to_string()))?;
        client(cx)
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(batch)
            .send()
            .await
            .map_err(aws_err)?;
    }
    Ok(())
}

#[async_trait]
impl Resource for Route53Zone {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        match cfg.get("name").and_then(Value::as_str) {
            Some(n) if clean_name(n).is_empty() || clean_name(n).contains("..") || n.contains(' ') => {
                Err(format!("name `{n}` is not a domain name: write e.g. `example.com`"))
            }
            _ => Ok(()),
        }
    }

    /// `name` without the trailing dot, lower case, as Route 53 reports it.
    fn normalize(&self, attrs: &mut Attrs) {
        if let Some(Value::String(n)) = attrs.get("name") {
            let n = clean_name(n);
            attrs.insert("name".into(), Value::str(n));
        }
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        read_ids(cx, ids).await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let prefix = caller_prefix(&cx.stack, &cx.workspace);
        let tracked: Vec<String> = ids.iter().map(|s| clean_zone_id(s)).collect();
        let mut want = tracked.clone();
        for z in list_zones(cx).await? {
            if z.caller_reference().starts_with(&prefix) {
                want.push(clean_zone_id(z.id()));
            }
        }
        let mut out = read_ids(cx, &want).await?;
        out.retain(|id, a| tracked.contains(id) || tag_map(a).get(TAG_STACK) == Some(&cx.stack));
        Ok(out)
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        let name = clean_name(req_str(desired, "name")?);
        let generation = checkpoint.attempt().await;
        let reference = caller_reference(&cx.stack, &cx.workspace, &tag_map(desired), generation);
        let comment = get_str(desired, "comment").unwrap_or(DEFAULT_COMMENT);
        let r = client(cx)
            .create_hosted_zone()
            .name(&name)
            .caller_reference(&reference)
            .hosted_zone_config(HostedZoneConfig::builder().comment(comment).private_zone(false).build())
            .set_delegation_set_id(get_str(desired, "delegation_set_id").map(str::to_owned))
            .send()
            .await
            .map_err(aws_err);
        let (zone, change) = match r {
            Ok(o) => {
                let z =
                    o.hosted_zone().cloned().ok_or_else(|| ProviderError::new("CreateHostedZone returned no zone"))?;
                (z, o.change_info().map(|c| (c.id().to_owned(), c.status().as_str().to_owned())))
            }
            // A retry of a create whose answer was lost (a crash): the zone that reference made.
            Err(e) if e.code.as_deref() == Some("HostedZoneAlreadyExists") => {
                let found = list_zones(cx).await?.into_iter().find(|z| z.caller_reference() == reference);
                match found {
                    Some(z) => (z, None),
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let id = clean_zone_id(zone.id());
        let mut made = desired.clone();
        made.extend(zone_attrs(cx, &zone, &[], None));
        made.insert("name_servers".into(), Value::List(vec![]));
        checkpoint.created(&made).await;
        sync_zone_tags(cx, &id, &Attrs::new(), desired).await?;
        if let Some((change_id, status)) = &change {
            let what = format!("hosted zone {name} ({id})");
            let l = label(desired, &name);
            let w = ChangeWatch {
                label: &l,
                what: &what,
                verb: "creating",
                change_id,
                status,
                timeout: change_timeout(cx),
            };
            wait_insync(cx, &w).await.map_err(|e| e.unsettled(made.clone()))?;
        }
        let mut now = read_back(cx, "hosted zone", &id, || read_ids(cx, std::slice::from_ref(&id))).await?;
        now.insert("force_destroy".into(), desired.get("force_destroy").cloned().unwrap_or(Value::Bool(false)));
        Ok(now)
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let id = clean_zone_id(get_id(prior)?);
        let comment = get_str(desired, "comment").unwrap_or(DEFAULT_COMMENT);
        if get_str(prior, "comment").unwrap_or_default() != comment {
            client(cx).update_hosted_zone_comment().id(&id).comment(comment).send().await.map_err(aws_err)?;
        }
        sync_zone_tags(cx, &id, prior, desired).await?;
        let mut now = read_back(cx, "hosted zone", &id, || read_ids(cx, std::slice::from_ref(&id))).await?;
        now.insert("force_destroy".into(), desired.get("force_destroy").cloned().unwrap_or(Value::Bool(false)));
        Ok(now)
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let id = clean_zone_id(get_id(prior)?);
        let name = get_str(prior, "name").unwrap_or_default().to_owned();
        if get_bool(prior, "force_destroy", false) {
            match delete_records(cx, &id, &name).await {
                Err(e) if is_gone(&e) => return Ok(()),
                r => r?,
            }
        }
        match client(cx).delete_hosted_zone().id(&id).send().await.map_err(aws_err) {
            Ok(_) => Ok(()),
            Err(e) if is_gone(&e) => Ok(()),
            Err(e) if e.code.as_deref() == Some("HostedZoneNotEmpty") => Err(ProviderError::with_code(
                "HostedZoneNotEmpty",
                format!(
                    "hosted zone {name} ({id}) still holds records other than its NS and SOA, and Route 53 deletes only \
                     empty zones: delete them (destroy the route53_record resources that made them), or set \
                     `force_destroy = true`, apply, then destroy"
                ),
            )),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{TAG_LINEAGE, TAG_WORKSPACE};

    fn tags(address: &str, lineage: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (TAG_STACK.to_owned(), "web".to_owned()),
            (TAG_WORKSPACE.to_owned(), "default".to_owned()),
            (TAG_LINEAGE.to_owned(), lineage.to_owned()),
            (TAG_ADDRESS.to_owned(), address.to_owned()),
        ])
    }

    #[test]
    fn caller_references_are_deterministic_bounded_and_tell_creates_apart() {
        let r = |t: &BTreeMap<String, String>, g| caller_reference("web", "default", t, g);
        let a = r(&tags("route53_zone.main", "L1"), 1);
        assert_eq!(a, r(&tags("route53_zone.main", "L1"), 1), "a retry sends the same reference");
        assert!(a.len() <= 128 && a.starts_with("provisioner-"), "{a}");
        assert_ne!(a, r(&tags("route53_zone.main", "L1"), 2), "a new create, a new reference");
        assert_ne!(a, r(&tags("route53_zone.other", "L1"), 1));
        assert_ne!(a, r(&tags("route53_zone.main", "L2"), 1));
        assert_ne!(caller_prefix("web", "default"), caller_prefix("web", "prod"));
        assert_ne!(caller_prefix("web", "default"), caller_prefix("api", "default"));
    }

    #[test]
    fn zone_names_normalise_and_are_checked() {
        let mut a = Attrs::from([("name".to_owned(), Value::str("Example.COM."))]);
        Route53Zone.normalize(&mut a);
        assert_eq!(a["name"], Value::str("example.com"));
        assert!(Route53Zone.validate(&Attrs::from([("name".to_owned(), Value::str("a..b"))])).is_err());
        assert!(Route53Zone.validate(&Attrs::from([("name".to_owned(), Value::str("example.com"))])).is_ok());
    }
}
