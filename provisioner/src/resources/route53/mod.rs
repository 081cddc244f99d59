//! Route 53 resource types, as terraform-provider-aws's `internal/service/route53`: `route53_zone`,
//! `route53_record` and data `route53_zone`. Registered in `resources/mod.rs`.
//!
//! Shared here: the Route 53 client ([`client`]); the spellings Route 53 uses that the configuration does not
//! (Terraform's `cleanZoneID`, `cleanRecordName`, `normalizeAliasName`: [`clean_zone_id`], [`clean_name`]);
//! zone tags (ChangeTagsForResource / ListTagsForResources, 10 zones a call); and the wait for a change to
//! reach `INSYNC` ([`wait_insync`]).
//!
//! **Changes.** Every write to Route 53 (CreateHostedZone, ChangeResourceRecordSets) returns a change that
//! is `PENDING` until every Route 53 name server has it, then `INSYNC` ("generally within 60 seconds").
//! The wait polls GetChange with back-off (the poll interval doubling up to six times it, as the RDS waits),
//! reports progress about every 10 s (`PROVISIONER_PROGRESS_SECS`), and is bounded by Terraform's 30 s × 60 =
//! 30 min, or `PROVISIONER_WAIT_TIMEOUT_SECS` when set. Ctrl-C ends it at once; the change goes on in AWS.
//! A change that does not settle leaves the object saved incomplete, never tainted: it exists in the zone.

pub mod record;
pub mod zone;
pub mod zone_data;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_route53::types::{ChangeStatus, Tag, TagResourceType};

use crate::aws::{aws_err, Ctx, ProviderError};
use crate::resources::ecs::deploy::{elapsed_text, progress_period};
use crate::resources::rds::wait::backoff;
use crate::value::Attrs;

/// The Route 53 client of `cx`, built once with the shared SDK configuration and the call counter.
pub(crate) fn client(cx: &Ctx) -> aws_sdk_route53::Client {
    cx.client(|sdk, calls| {
        aws_sdk_route53::Client::from_conf(aws_sdk_route53::config::Builder::from(sdk).interceptor(calls).build())
    })
}

/// Terraform's default bound of a Route 53 change wait (30 s × 60).
pub(crate) const CHANGE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A hosted zone id as the configuration and state spell it: without the `/hostedzone/` prefix Route 53
/// puts before it in some answers (Terraform's `cleanZoneID`).
pub(crate) fn clean_zone_id(id: &str) -> String {
    id.trim().strip_prefix("/hostedzone/").unwrap_or(id.trim()).to_owned()
}

/// A change id without the `/change/` prefix.
pub(crate) fn clean_change_id(id: &str) -> &str {
    id.strip_prefix("/change/").unwrap_or(id)
}

/// A DNS name as the configuration and state spell it: Route 53's octal escapes decoded (`\052` is `*`,
/// Terraform's `cleanRecordName`), no trailing dot, lower case (DNS names are case-insensitive and Route 53
/// answers in lower case).
pub(crate) fn clean_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let n = (b[i + 1] - b'0') as u32 * 64 + (b[i + 2] - b'0') as u32 * 8 + (b[i + 3] - b'0') as u32;
            if let Some(c) = char::from_u32(n) {
                out.push(c);
                i += 4;
                continue;
            }
        }
        let c = name[i..].chars().next().unwrap_or_default();
        out.push(c);
        i += c.len_utf8().max(1);
    }
    out.trim_end_matches('.').to_lowercase()
}

/// Whether `name` (clean) is the zone's apex or a name under it.
pub(crate) fn in_zone(name: &str, zone: &str) -> bool {
    let (name, zone) = (clean_name(name), clean_name(zone));
    name == zone || name.ends_with(&format!(".{zone}"))
}

/// The ARN of a hosted zone.
pub(crate) fn zone_arn(cx: &Ctx, zone_id: &str) -> String {
    format!("arn:{}:route53:::hostedzone/{zone_id}", crate::resources::util::partition(&cx.region))
}

/// The tags of the zones `ids` (ListTagsForResources, 10 a call, all at once); a zone missing from the
/// answer (gone) is absent.
pub(crate) async fn zone_tags(
    cx: &Ctx,
    ids: &[String],
) -> Result<HashMap<String, BTreeMap<String, String>>, ProviderError> {
    let calls = ids.chunks(10).map(|chunk| async move {
        let out = client(cx)
            .list_tags_for_resources()
            .resource_type(TagResourceType::Hostedzone)
            .set_resource_ids(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(aws_err);
        match out {
            Ok(o) => Ok(o
                .resource_tag_sets()
                .iter()
                .filter_map(|s| {
                    let tags = s
                        .tags()
                        .iter()
                        .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
                        .collect();
                    Some((clean_zone_id(s.resource_id()?), tags))
                })
                .collect::<Vec<_>>()),
            // One zone of the chunk is gone: ask one by one.
            Err(e) if is_gone(&e) && chunk.len() > 1 => {
                let mut out = Vec::new();
                for id in chunk {
                    if let Ok(o) = client(cx)
                        .list_tags_for_resource()
                        .resource_type(TagResourceType::Hostedzone)
                        .resource_id(id)
                        .send()
                        .await
                    {
                        let tags = o
                            .resource_tag_set()
                            .map(|s| {
                                s.tags()
                                    .iter()
                                    .filter_map(|t| {
                                        Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        out.push((id.clone(), tags));
                    }
                }
                Ok(out)
            }
            Err(e) if is_gone(&e) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    });
    Ok(futures::future::try_join_all(calls).await?.into_iter().flatten().collect())
}

/// Makes the tags of zone `id` go from `prior["tags"]` to `desired["tags"]` (one ChangeTagsForResource, only
/// when something differs).
pub(crate) async fn sync_zone_tags(cx: &Ctx, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), ProviderError> {
    let (old, new) = (crate::aws::tag_map(prior), crate::aws::tag_map(desired));
    let removed: Vec<String> = old.keys().filter(|k| !new.contains_key(*k)).cloned().collect();
    let added: Vec<Tag> = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(v))
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    if removed.is_empty() && added.is_empty() {
        return Ok(());
    }
    // Route 53 takes at most 10 tags to add and 10 keys to remove per call.
    let rounds = added.len().div_ceil(10).max(removed.len().div_ceil(10));
    for i in 0..rounds {
        let add: Vec<Tag> = added.iter().skip(i * 10).take(10).cloned().collect();
        let remove: Vec<String> = removed.iter().skip(i * 10).take(10).cloned().collect();
        crate::aws::retry_on(cx, "ChangeTagsForResource", is_gone, || {
            let (add, remove) = (add.clone(), remove.clone());
            async move {
                client(cx)
                    .change_tags_for_resource()
                    .resource_type(TagResourceType::Hostedzone)
                    .resource_id(id)
                    .set_add_tags((!add.is_empty()).then_some(add))
                    .set_remove_tag_keys((!remove.is_empty()).then_some(remove))
                    .send()
                    .await
                    .map_err(aws_err)
            }
        })
        .await?;
    }
    Ok(())
}

/// Route 53's "not found" errors (NoSuchHostedZone, NoSuchChange, …).
pub(crate) fn is_gone(e: &ProviderError) -> bool {
    e.code.as_deref().is_some_and(|c| c.starts_with("NoSuch"))
}

/// One change wait: what it is about (for messages), where progress goes, how long it may take.
pub(crate) struct ChangeWatch<'a> {
    /// What progress lines are reported under (an address, or `route53_record www.example.com A`).
    pub label: &'a str,
    /// What the change does, for messages: `record www.example.com (A) in zone Z1`.
    pub what: &'a str,
    /// `creating`, `updating`, `deleting`.
    pub verb: &'a str,
    pub change_id: &'a str,
    /// The status the change call answered.
    pub status: &'a str,
    pub timeout: Duration,
}

/// The progress line while waiting: `Still creating… [10s elapsed, change C1 PENDING]`.
pub(crate) fn progress_line(verb: &str, elapsed: Duration, change_id: &str, status: &str) -> String {
    format!("Still {verb}… [{} elapsed, change {} {status}]", elapsed_text(elapsed), clean_change_id(change_id))
}

/// Waits until the change is INSYNC (see the module doc). The error names what changed, the change id and
/// its last status, and says what to do.
pub(crate) async fn wait_insync(cx: &Ctx, w: &ChangeWatch<'_>) -> Result<(), ProviderError> {
    if w.status == ChangeStatus::Insync.as_str() {
        return Ok(());
    }
    let id = clean_change_id(w.change_id);
    let follow = format!("`aws route53 get-change --id {id}`");
    let start = tokio::time::Instant::now();
    let period = progress_period();
    let mut next_report = start + period;
    let mut last = w.status.to_owned();
    let mut n = 0u32;
    loop {
        let remaining = w.timeout.saturating_sub(start.elapsed());
        if remaining.is_zero() {
            return Err(ProviderError::with_code(
                "WaitTimeout",
                format!(
                    "{}: change {id} is still {last} after {}; Route 53 goes on applying it to its name servers (usually \
                     within 60 seconds): follow it with {follow}, then run `provisioner plan` again, or raise \
                     PROVISIONER_WAIT_TIMEOUT_SECS",
                    w.what,
                    elapsed_text(w.timeout)
                ),
            ));
        }
        let pause = backoff(cx.waits.poll, n).min(remaining);
        n += 1;
        let interrupted = || {
            ProviderError::with_code(
                "WaitInterrupted",
                format!(
                    "{}: stopped waiting for change {id} (interrupted) while it is {last}: it goes on in AWS; follow it \
                     with {follow}",
                    w.what
                ),
            )
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = cx.interrupted() => return Err(interrupted()),
        }
        let got = tokio::select! {
            r = client(cx).get_change().id(id).send() => r.map_err(aws_err),
            _ = cx.interrupted() => return Err(interrupted()),
        };
        match got {
            Ok(o) => {
                if let Some(info) = o.change_info() {
                    last = info.status().as_str().to_owned();
                    if *info.status() == ChangeStatus::Insync {
                        return Ok(());
                    }
                }
            }
            Err(e) if is_gone(&e) => {
                return Err(ProviderError::with_code(
                    e.code.clone().unwrap_or_default(),
                    format!("{}: Route 53 no longer knows change {id} (last seen {last}): {}", w.what, e.message),
                ))
            }
            Err(e) => tracing::warn!("{}: GetChange {id} failed, still waiting: {e}", w.label),
        }
        if tokio::time::Instant::now() >= next_report {
            cx.report(w.label, progress_line(w.verb, start.elapsed(), id, &last));
            next_report += period;
        }
    }
}

/// How long a change wait may take: [`CHANGE_TIMEOUT`], within `PROVISIONER_WAIT_TIMEOUT_SECS`.
pub(crate) fn change_timeout(cx: &Ctx) -> Duration {
    crate::resources::rds::timeout(cx, &Attrs::new(), "create", CHANGE_TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_ids_lose_the_hostedzone_prefix() {
        assert_eq!(clean_zone_id("/hostedzone/Z123ABC"), "Z123ABC");
        assert_eq!(clean_zone_id("Z123ABC"), "Z123ABC");
        assert_eq!(clean_change_id("/change/C2682N5HXP0BZ4"), "C2682N5HXP0BZ4");
    }

    #[test]
    fn names_lose_the_trailing_dot() {
        assert_eq!(clean_name("www.example.com."), "www.example.com");
        assert_eq!(clean_name("www.example.com"), "www.example.com");
    }

    #[test]
    fn names_are_lower_case() {
        assert_eq!(clean_name("WWW.Example.COM"), "www.example.com");
    }

    #[test]
    fn octal_escapes_are_decoded_so_052_is_a_star() {
        assert_eq!(clean_name("\\052.example.com."), "*.example.com");
        assert_eq!(clean_name("a\\100b.example.com"), "a@b.example.com");
        assert_eq!(clean_name("back\\slash.example.com"), "back\\slash.example.com", "not an escape");
    }

    #[test]
    fn names_in_and_outside_a_zone() {
        assert!(in_zone("www.example.com", "example.com."));
        assert!(in_zone("example.com", "example.com"));
        assert!(in_zone("*.Example.com.", "example.com"));
        assert!(!in_zone("www.example.org", "example.com"));
        assert!(!in_zone("notexample.com", "example.com"));
        assert!(!in_zone("www", "example.com"));
    }

    #[test]
    fn progress_lines_name_the_change_and_its_status() {
        assert_eq!(
            progress_line("creating", Duration::from_secs(70), "/change/C1", "PENDING"),
            "Still creating… [1m10s elapsed, change C1 PENDING]"
        );
    }
}
