//! Helpers shared by the ELBv2 resource implementations (the general ones, re-exported here, live in
//! `resources::util`): the lazily built client, batching by 20 ARNs with gone ARNs weeded out, tags
//! (DescribeTags / AddTags / RemoveTags), name validation and generation, ARN arithmetic.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use aws_sdk_elasticloadbalancingv2::types::Tag;
use aws_sdk_elasticloadbalancingv2::Client;
use futures::{StreamExt, TryStreamExt};

use crate::aws::{aws_err, retry_on, tag_map, Ctx, ProviderError, TAG_STACK};
use crate::schema::TAGS;
use crate::value::{Attrs, Value};

pub(crate) use crate::resources::util::*;

/// The ELBv2 client, built on first use (see [`Ctx::client`]).
pub(crate) fn elb(cx: &Ctx) -> Client {
    cx.client(|sdk, calls| {
        Client::from_conf(aws_sdk_elasticloadbalancingv2::config::Builder::from(sdk).interceptor(calls).build())
    })
}

/// DescribeLoadBalancers, DescribeTargetGroups and DescribeTags take at most 20 ARNs.
pub(crate) const BATCH: usize = 20;

/// Follow-up calls that exist only one object at a time (attributes) run at most this many at once.
pub(crate) const IN_FLIGHT: usize = 8;

/// The error code of a configuration refused before any AWS call (not an AWS code).
pub(crate) const INVALID: &str = "Provisioner.InvalidConfiguration";

pub(crate) fn invalid(msg: impl Into<String>) -> ProviderError {
    ProviderError::with_code(INVALID, msg)
}

/// Runs `op` on the non-empty, deduplicated `ids` in chunks of at most [`BATCH`]. These APIs fail a whole
/// call with `…NotFound` when one ARN of it is gone: such a chunk is halved until the gone ARNs are
/// isolated and dropped, so one gone object costs about 2·log2(20) extra calls, none in the common case.
pub(crate) async fn by_chunks<T, F, Fut>(ids: &[String], op: F) -> Result<Vec<T>, ProviderError>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: Future<Output = Result<Vec<T>, ProviderError>>,
{
    let mut v: Vec<String> = ids.iter().filter(|s| !s.is_empty()).cloned().collect();
    v.sort();
    v.dedup();
    let mut todo: Vec<Vec<String>> = v.chunks(BATCH).map(<[String]>::to_vec).collect();
    let mut out = Vec::new();
    while let Some(chunk) = todo.pop() {
        match op(chunk.clone()).await {
            Ok(found) => out.extend(found),
            Err(e) if e.is_not_found() => {
                if chunk.len() > 1 {
                    let (a, b) = chunk.split_at(chunk.len() / 2);
                    todo.push(a.to_vec());
                    todo.push(b.to_vec());
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Runs `op` for each item, at most [`IN_FLIGHT`] at once.
pub(crate) async fn each_bounded<I, T, F, Fut>(items: Vec<I>, op: F) -> Result<Vec<T>, ProviderError>
where
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    futures::stream::iter(items.into_iter().map(op)).buffer_unordered(IN_FLIGHT).try_collect().await
}

/// Adds to each object of `out` the attributes `read` returns for it (the APIs that exist one object at a
/// time: DescribeLoadBalancerAttributes, DescribeTargetGroupAttributes), at most [`IN_FLIGHT`] at once; an
/// object `read` finds gone (`None`) is dropped.
pub(crate) async fn extend_each<F, Fut>(out: &mut HashMap<String, Attrs>, read: F) -> Result<(), ProviderError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<(String, Option<Attrs>), ProviderError>>,
{
    let found: Vec<String> = out.keys().cloned().collect();
    for (arn, extra) in each_bounded(found, read).await? {
        match extra {
            Some(extra) => out.get_mut(&arn).into_iter().for_each(|a| a.extend(extra.clone())),
            None => {
                out.remove(&arn);
            }
        }
    }
    Ok(())
}

/// The tags of `arns` (any ELBv2 ARNs): one DescribeTags per 20 ARNs.
pub(crate) async fn describe_tags(
    cx: &Ctx,
    arns: &[String],
) -> Result<HashMap<String, BTreeMap<String, String>>, ProviderError> {
    let found = by_chunks(arns, |chunk| async move {
        let out = elb(cx).describe_tags().set_resource_arns(Some(chunk)).send().await.map_err(aws_err)?;
        Ok(out
            .tag_descriptions()
            .iter()
            .filter_map(|d| {
                let tags = d
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
                    .collect();
                Some((d.resource_arn()?.to_owned(), tags))
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(found.into_iter().collect())
}

/// Adds `tags` of every object in `out` (keyed by ARN) with one DescribeTags per 20 objects.
pub(crate) async fn add_tags_to(cx: &Ctx, out: &mut HashMap<String, Attrs>) -> Result<(), ProviderError> {
    attach_tags(cx, out, &Listed::new()).await
}

/// Adds `tags` to every object in `out`: from `listed` (the Tagging API's listing) where it has the object,
/// else with one DescribeTags per 20 objects.
pub(crate) async fn attach_tags(
    cx: &Ctx,
    out: &mut HashMap<String, Attrs>,
    listed: &Listed,
) -> Result<(), ProviderError> {
    let missing: Vec<String> = out.keys().filter(|a| !listed.contains_key(*a)).cloned().collect();
    let mut fetched = if missing.is_empty() { HashMap::new() } else { describe_tags(cx, &missing).await? };
    for (arn, a) in out.iter_mut() {
        let t = listed.get(arn).cloned().or_else(|| fetched.remove(arn)).unwrap_or_default();
        a.insert(TAGS.into(), Value::Map(t.into_iter().map(|(k, v)| (k, Value::str(v))).collect()));
    }
    Ok(())
}

/// [`attach_tags`] within a refresh's `read_stack`, with the DescribeTags for what `listed` lacks shared
/// between the ELBv2 types that need it (listeners and rules: the emulator's Tagging API does not list them):
/// the first caller fetches the tags of its objects and of `also` (ARNs another type will ask for: a rule
/// reader passes its rules' listeners) in one DescribeTags per 20 ARNs; later callers take what that fetch
/// has and fetch only the rest. Tags read once per refresh, as the listing itself.
pub(crate) async fn attach_tags_shared(
    cx: &Ctx,
    out: &mut HashMap<String, Attrs>,
    listed: &Listed,
    also: &[String],
) -> Result<(), ProviderError> {
    let mut want: Vec<String> = out.keys().chain(also).filter(|a| !listed.contains_key(*a)).cloned().collect();
    if want.is_empty() {
        return attach_tags(cx, out, listed).await;
    }
    want.sort();
    want.dedup();
    let fetched = cx
        .shared("elbv2.DescribeTags(objects the listing lacks)", || async move { describe_tags(cx, &want).await })
        .await?;
    let mut known = listed.clone();
    known.extend(fetched.iter().filter(|(a, _)| out.contains_key(*a)).map(|(a, t)| (a.clone(), t.clone())));
    attach_tags(cx, out, &known).await
}

/// Keeps the objects `read_stack` promises: the tracked ones and those tagged with this stack.
pub(crate) fn keep_stack_objects(cx: &Ctx, out: &mut HashMap<String, Attrs>, tracked: &[String]) {
    out.retain(|arn, a| {
        tracked.contains(arn)
            || matches!(a.get(TAGS), Some(Value::Map(t)) if t.get(TAG_STACK).and_then(Value::as_str) == Some(cx.stack.as_str()))
    });
}

/// `read_stack` of a type the Tagging API lists (load balancers, target groups): the tracked `ids` are read
/// at once, beside the listing; the objects of type `kind` the listing adds (leftovers of an interrupted run)
/// are read after it. `read` reads ARNs without their tags, which come from the listing (DescribeTags only
/// for objects it lacks). With nothing left over, that is two sequential round trips at most, and no tag call.
pub(crate) async fn stack_read<F, Fut>(
    cx: &Ctx,
    ids: &[String],
    kind: &str,
    read: F,
) -> Result<HashMap<String, Attrs>, ProviderError>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: Future<Output = Result<HashMap<String, Attrs>, ProviderError>>,
{
    let listed_id = |arn: &str| (arn_resource_type(arn) == Some(kind)).then(|| arn.to_owned());
    let (listed, mut out) = read_tracked_and_listed(cx, ids, listed_id, read).await?;
    attach_tags(cx, &mut out, &listed).await?;
    keep_stack_objects(cx, &mut out, ids);
    Ok(out)
}

/// `attrs["tags"]` (the full set the engine computed) as ELBv2 tags, for a create call.
pub(crate) fn elb_tags(attrs: &Attrs) -> Option<Vec<Tag>> {
    let tags: Vec<Tag> = tag_map(attrs).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
    (!tags.is_empty()).then_some(tags)
}

/// Makes the tags of `arn` go from `prior["tags"]` to `desired["tags"]` (RemoveTags, AddTags).
pub(crate) async fn sync_tags(cx: &Ctx, arn: &str, prior: &Attrs, desired: &Attrs) -> Result<(), ProviderError> {
    let old = tag_map(prior);
    let new = tag_map(desired);
    let removed: Vec<String> = old.keys().filter(|k| !new.contains_key(*k)).cloned().collect();
    let changed: Vec<Tag> = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(v))
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    if !removed.is_empty() {
        retry_on(cx, "RemoveTags", ProviderError::is_not_found, || async {
            elb(cx).remove_tags().resource_arns(arn).set_tag_keys(Some(removed.clone())).send().await.map_err(aws_err)
        })
        .await?;
    }
    if !changed.is_empty() {
        retry_on(cx, "AddTags", ProviderError::is_not_found, || async {
            elb(cx).add_tags().resource_arns(arn).set_tags(Some(changed.clone())).send().await.map_err(aws_err)
        })
        .await?;
    }
    Ok(())
}

/// Checks a load balancer (`lb`) or target group name: 1–32 characters, alphanumerics and hyphens, no
/// leading or trailing hyphen; a load balancer's may not start with `internal-`.
pub(crate) fn check_name(kind: &str, name: &str, lb: bool) -> Result<(), ProviderError> {
    let bad = |why: &str| invalid(format!("{kind} name `{name}` {why}"));
    if name.is_empty() || name.len() > 32 {
        return Err(bad("must be 1 to 32 characters long"));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(bad("may contain only alphanumeric characters and hyphens"));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(bad("may not begin or end with a hyphen"));
    }
    if lb && name.starts_with("internal-") {
        return Err(bad("may not begin with `internal-`"));
    }
    Ok(())
}

/// Longest `name_prefix`, as Terraform: the generated name is the prefix plus 26 characters (32 in all).
pub(crate) const PREFIX_MAX: usize = 6;

/// Checks `name` or `name_prefix` (at most one may be set) before any call.
pub(crate) fn check_naming(kind: &str, attrs: &Attrs, lb: bool) -> Result<(), ProviderError> {
    match (get_str(attrs, "name"), get_str(attrs, "name_prefix")) {
        (Some(_), Some(_)) => Err(invalid(format!("{kind}: set `name` or `name_prefix`, not both"))),
        (Some(name), None) => check_name(kind, name, lb),
        (None, Some(prefix)) => {
            if prefix.len() > PREFIX_MAX {
                return Err(invalid(format!(
                    "{kind} name_prefix `{prefix}` is longer than {PREFIX_MAX} characters (the generated name adds 26)"
                )));
            }
            // Checked as the start of a name: the generated suffix is alphanumeric.
            check_name(kind, &format!("{prefix}x"), lb)
                .map_err(|e| invalid(e.message.replace(&format!("`{prefix}x`"), &format!("prefix `{prefix}`"))))
        }
        (None, None) => Ok(()),
    }
}

/// Length of the unique suffix of a generated name (Terraform's `id.PrefixedUniqueId`).
pub(crate) const UNIQUE_SUFFIX: usize = 26;

/// The name to create with: `name`, else `name_prefix` (or `default_prefix`) followed by 26 random
/// lower-case hexadecimal characters, as Terraform.
pub(crate) fn name_to_create(attrs: &Attrs, default_prefix: &str) -> String {
    if let Some(n) = get_str(attrs, "name") {
        return n.to_owned();
    }
    let prefix = get_str(attrs, "name_prefix").unwrap_or(default_prefix);
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &random[..UNIQUE_SUFFIX])
}

/// The `name_prefix` a generated name was made from (Terraform's `NamePrefixFromName`): the name without
/// its 26-character hexadecimal suffix; `None` for names that do not look generated.
pub(crate) fn name_prefix_from_name(name: &str) -> Option<&str> {
    let cut = name.len().checked_sub(UNIQUE_SUFFIX)?;
    let (prefix, suffix) = (name.get(..cut)?, name.get(cut..)?);
    suffix.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)).then_some(prefix)
}

/// Puts `name` and, when it looks generated, the `name_prefix` it came from.
pub(crate) fn put_name(attrs: &mut Attrs, name: Option<&str>) {
    put_str(attrs, "name", name);
    if let Some(p) = name.and_then(name_prefix_from_name) {
        attrs.insert("name_prefix".into(), Value::str(p));
    }
}

/// The part of an ELBv2 ARN after its resource kind: `app/<name>/<id>` for
/// `arn:…:loadbalancer/app/<name>/<id>`, `targetgroup/<name>/<id>` for a target group (Terraform's
/// `arn_suffix`, as CloudWatch dimensions name them).
pub(crate) fn arn_suffix(arn: &str) -> String {
    let res = arn.splitn(6, ':').nth(5).unwrap_or_default();
    match res.strip_prefix("loadbalancer/") {
        Some(rest) => rest.to_owned(),
        None => res.to_owned(),
    }
}

/// The load balancer ARN a listener ARN belongs to (`…:listener/app/n/id/lid` → `…:loadbalancer/app/n/id`).
pub(crate) fn lb_of_listener(arn: &str) -> Option<String> {
    let (head, tail) = arn.split_once(":listener/")?;
    let (lb, _) = tail.rsplit_once('/')?;
    Some(format!("{head}:loadbalancer/{lb}"))
}

/// The listener ARN a rule ARN belongs to (`…:listener-rule/app/n/id/lid/rid` → `…:listener/app/n/id/lid`).
pub(crate) fn listener_of_rule(arn: &str) -> Option<String> {
    let (head, tail) = arn.split_once(":listener-rule/")?;
    let (listener, _) = tail.rsplit_once('/')?;
    Some(format!("{head}:listener/{listener}"))
}

/// A number attribute as an `i32` (AWS's integers).
pub(crate) fn get_i32(attrs: &Attrs, name: &str) -> Option<i32> {
    attrs.get(name).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok())
}

/// A set-of-strings attribute.
pub(crate) fn get_strs(attrs: &Attrs, name: &str) -> Vec<String> {
    attrs.get(name).and_then(Value::as_str_list).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("lb", "web-1", true).is_ok());
        assert!(check_name("lb", &"a".repeat(32), true).is_ok());
        for bad in ["", "-web", "web-", "we_b", "internal-web", &"a".repeat(33)] {
            let e = check_name("lb", bad, true).unwrap_err();
            assert_eq!(e.code.as_deref(), Some(INVALID), "{bad}");
        }
        assert!(check_name("target group", "internal-web", false).is_ok());
    }

    #[test]
    fn prefixes_and_generated_names() {
        let attrs = |k: &str, v: &str| Attrs::from([(k.to_owned(), Value::str(v))]);
        assert!(check_naming("lb", &attrs("name_prefix", "web-"), true).is_ok());
        assert!(check_naming("lb", &attrs("name_prefix", "-web"), true).is_err());
        assert!(check_naming("lb", &attrs("name_prefix", "toolong"), true).is_err());
        let mut both = attrs("name", "a");
        both.insert("name_prefix".into(), Value::str("b"));
        assert!(check_naming("lb", &both, true).is_err());
        let n = name_to_create(&attrs("name_prefix", "web-"), "tf-lb-");
        assert_eq!(n.len(), 30);
        assert!(n.starts_with("web-"));
        assert!(check_name("lb", &n, true).is_ok());
        assert_eq!(name_prefix_from_name(&n), Some("web-"));
        let d = name_to_create(&Attrs::new(), "tf-lb-");
        assert_eq!((d.len(), name_prefix_from_name(&d)), (32, Some("tf-lb-")));
        assert_eq!(name_prefix_from_name("web"), None);
        assert_eq!(name_prefix_from_name("web-server-production-east-1"), None, "suffix not hexadecimal");
        assert_eq!(name_prefix_from_name("0123456789abcdef0123456789"), Some(""));
        assert_eq!(name_to_create(&attrs("name", "x"), "tf-"), "x");
    }

    #[test]
    fn arns() {
        let lb = "arn:aws:elasticloadbalancing:us-east-1:123:loadbalancer/app/web/50dc6c495c0c9188";
        assert_eq!(arn_suffix(lb), "app/web/50dc6c495c0c9188");
        let tg = "arn:aws:elasticloadbalancing:us-east-1:123:targetgroup/api/73e2d6bc24d8a067";
        assert_eq!(arn_suffix(tg), "targetgroup/api/73e2d6bc24d8a067");
        let l = "arn:aws:elasticloadbalancing:us-east-1:123:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2";
        assert_eq!(lb_of_listener(l).as_deref(), Some(lb));
        let r = "arn:aws:elasticloadbalancing:us-east-1:123:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee";
        assert_eq!(listener_of_rule(r).as_deref(), Some(l));
        assert_eq!(lb_of_listener(lb), None);
    }

    #[test]
    fn chunks_halve_around_gone_arns() {
        let ids: Vec<String> = (0..45).map(|i| format!("arn-{i:02}")).collect();
        let calls = std::sync::Mutex::new(Vec::new());
        let out = futures::executor::block_on(by_chunks(&ids, |chunk: Vec<String>| {
            calls.lock().unwrap().push(chunk.len());
            let gone = chunk.iter().any(|a| a == "arn-07");
            async move {
                if gone {
                    Err(ProviderError::with_code("LoadBalancerNotFound", "one is gone"))
                } else {
                    Ok(chunk)
                }
            }
        }))
        .unwrap();
        assert_eq!(out.len(), 44);
        assert!(!out.contains(&"arn-07".to_owned()));
        let calls = calls.into_inner().unwrap();
        assert_eq!(calls.iter().filter(|n| **n == 20).count(), 2, "{calls:?}");
        assert!(calls.len() <= 3 + 2 * 5, "{calls:?}");
    }
}
