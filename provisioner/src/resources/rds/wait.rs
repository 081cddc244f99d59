//! The waits of `db_instance`: polling DescribeDBInstances until an instance created or modified is
//! `available` (and, when the change was to apply immediately, has no `PendingModifiedValues` left), or until
//! a deleted one is gone (DBInstanceNotFound).
//!
//! **Cadence.** AWS reports a fresh instance `creating` for minutes and may report `available` for a moment
//! right after ModifyDBInstance before switching to `modifying`; Terraform's RDS waiters first poll after
//! 30 s, then every 10 s or more. Here the first poll comes after the configured poll interval
//! (`PROVISIONER_POLL_INTERVAL_MS`, 5 s by default), and each pause doubles up to six times that interval
//! (30 s by default): [`backoff`]. A modify is judged by "available AND nothing pending", so an early
//! `available` with the change still pending is not success.
//!
//! **Bounds.** The `timeouts` block (Terraform's defaults: create 40 min, update 80 min, delete 60 min),
//! within `PROVISIONER_WAIT_TIMEOUT_SECS` when set (see [`super::timeout`]). Ctrl-C ([`Ctx::interrupted`])
//! ends a wait at once; the operation goes on in AWS.
//!
//! **Progress.** About every 10 s (`PROVISIONER_PROGRESS_SECS`), as `ecs_service` does: `Still creating…
//! [1m10s elapsed, status backing-up]`, plus what is pending while modifying.
//!
//! **Failure.** An instance that reaches `failed`, `incompatible-restore`, `incompatible-parameters`,
//! `incompatible-network`, `storage-full`, `inaccessible-encryption-credentials` or `deleted` will not become
//! available by itself: the wait ends with that status. The verdict ([`judge`]) and the cadence are pure
//! functions, unit-tested below; [`wait`] makes the calls.

use std::time::Duration;

use aws_sdk_rds::types::DbInstance;

use super::{client, is_gone};
use crate::aws::{aws_err, Ctx, ProviderError};
use crate::resources::ecs::deploy::{elapsed_text, progress_period};

/// Statuses from which an instance does not become available without someone's action.
pub(crate) const FAILED_STATUSES: &[&str] = &[
    "failed",
    "incompatible-restore",
    "incompatible-parameters",
    "incompatible-network",
    "storage-full",
    "inaccessible-encryption-credentials",
    "deleted",
];

/// What a wait waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Goal {
    /// `available`; with `settled`, also no pending modified values (a change applied immediately).
    Available { settled: bool },
    /// DBInstanceNotFound.
    Gone,
}

/// An instance as the verdict needs it: its status and its pending modified values (`name=value`).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Seen {
    pub status: String,
    pub pending: Vec<String>,
}

impl Seen {
    pub(crate) fn of(db: &DbInstance) -> Seen {
        Seen {
            status: db.db_instance_status().unwrap_or_default().to_owned(),
            pending: super::instance::pending_values(db).into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Verdict {
    Done,
    Waiting,
    /// The status it ended in.
    Failed(String),
}

/// The verdict on one look at the instance (`None`: not found).
pub(crate) fn judge(seen: Option<&Seen>, goal: Goal) -> Verdict {
    match (seen, goal) {
        (None, Goal::Gone) => Verdict::Done,
        (None, Goal::Available { .. }) => Verdict::Failed("deleted".to_owned()),
        (Some(s), _) if FAILED_STATUSES.contains(&s.status.as_str()) => Verdict::Failed(s.status.clone()),
        (Some(s), Goal::Available { settled }) if s.status == "available" && (!settled || s.pending.is_empty()) => {
            Verdict::Done
        }
        (Some(_), _) => Verdict::Waiting,
    }
}

/// The pause before poll `n` (0 = the first): the poll interval, doubling up to six times it.
pub(crate) fn backoff(base: Duration, n: u32) -> Duration {
    let base = base.max(Duration::from_millis(10));
    base.saturating_mul(2u32.saturating_pow(n.min(16))).min(base * 6)
}

/// The progress line printed while waiting: `Still creating… [1m10s elapsed, status backing-up]`.
pub(crate) fn progress_line(verb: &str, elapsed: Duration, seen: Option<&Seen>) -> String {
    let status = seen.map(|s| s.status.as_str()).filter(|s| !s.is_empty()).unwrap_or("unknown");
    let pending = match seen {
        Some(s) if !s.pending.is_empty() => format!(", pending {}", s.pending.join(" ")),
        _ => String::new(),
    };
    format!("Still {verb}… [{} elapsed, status {status}{pending}]", elapsed_text(elapsed))
}

/// One wait: where its progress goes, what it waits on and for how long.
pub(crate) struct Watch<'a> {
    pub address: &'a str,
    pub identifier: &'a str,
    /// `creating`, `modifying`, `deleting` (progress lines).
    pub verb: &'a str,
    pub goal: Goal,
    pub timeout: Duration,
}

/// How a wait ended without success.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// The status it ended in.
    Failed(String),
    TimedOut,
    Interrupted,
}

/// The instance `identifier` as DescribeDBInstances reports it; `None` when it does not exist.
pub(crate) async fn describe(cx: &Ctx, identifier: &str) -> Result<Option<DbInstance>, ProviderError> {
    match client(cx).describe_db_instances().db_instance_identifier(identifier).send().await.map_err(aws_err) {
        Ok(o) => Ok(o.db_instances().iter().find(|d| d.db_instance_identifier() == Some(identifier)).cloned()),
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Waits (see the module doc). Returns the instance as last described (`None` if never described, or gone)
/// and the outcome. A describe that fails beyond the SDK's retries does not end the wait.
pub(crate) async fn wait(cx: &Ctx, w: &Watch<'_>) -> (Option<DbInstance>, Result<(), End>) {
    let start = tokio::time::Instant::now();
    let period = progress_period();
    let mut next_report = start + period;
    let mut last: Option<DbInstance> = None;
    let mut n = 0u32;
    loop {
        let remaining = w.timeout.saturating_sub(start.elapsed());
        if remaining.is_zero() {
            return (last, Err(End::TimedOut));
        }
        let pause = backoff(cx.waits.poll, n).min(remaining);
        n += 1;
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = cx.interrupted() => return (last, Err(End::Interrupted)),
        }
        let described = tokio::select! {
            r = describe(cx, w.identifier) => r,
            _ = cx.interrupted() => return (last, Err(End::Interrupted)),
        };
        let seen = match described {
            Ok(Some(db)) => {
                let s = Seen::of(&db);
                last = Some(db);
                Some(s)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!("{}: describing DB instance {} failed, still waiting: {e}", w.address, w.identifier);
                continue;
            }
        };
        match judge(seen.as_ref(), w.goal) {
            Verdict::Done => return (if seen.is_some() { last } else { None }, Ok(())),
            Verdict::Failed(status) => return (last, Err(End::Failed(status))),
            Verdict::Waiting => {}
        }
        if tokio::time::Instant::now() >= next_report {
            cx.report(w.address, progress_line(w.verb, start.elapsed(), seen.as_ref()));
            next_report += period;
        }
    }
}

/// The error of a wait that did not succeed, naming the instance, its last status and anything pending,
/// and saying what to do. `kind`: create, update or delete (the `timeouts` key).
pub(crate) fn end_error(w: &Watch<'_>, kind: &str, last: Option<&DbInstance>, end: &End) -> ProviderError {
    let seen = last.map(Seen::of);
    let status =
        seen.as_ref().map(|s| s.status.clone()).filter(|s| !s.is_empty()).unwrap_or_else(|| "unknown".to_owned());
    let pending = match &seen {
        Some(s) if !s.pending.is_empty() => format!(" (pending: {})", s.pending.join(", ")),
        _ => String::new(),
    };
    let id = w.identifier;
    let follow = format!("`aws rds describe-db-instances --db-instance-identifier {id}`");
    match end {
        End::Failed(s) => ProviderError::with_code(
            "DBInstanceFailed",
            format!(
                "DB instance {id} is {s} while {}{pending}: it will not become available by itself; see its events \
                 (`aws rds describe-events --source-type db-instance --source-identifier {id}`), fix the cause, then run \
                 `provisioner apply` again",
                w.verb
            ),
        ),
        End::TimedOut => ProviderError::with_code(
            "WaitTimeout",
            format!(
                "DB instance {id} is still {status} after {}{pending}; it may still finish in AWS: follow it with {follow} \
                 and run `provisioner plan` again (it shows whether it finished), or raise `timeouts.{kind}`",
                elapsed_text(w.timeout)
            ),
        ),
        End::Interrupted => ProviderError::with_code(
            "WaitInterrupted",
            format!(
                "stopped waiting for DB instance {id} (interrupted) while it is {status}{pending}: it goes on in AWS; \
                 follow it with {follow}, or run `provisioner plan`, which shows whether it finished"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(status: &str, pending: &[&str]) -> Seen {
        Seen { status: status.into(), pending: pending.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn available_means_nothing_pending_when_the_change_applies_immediately() {
        let now = Goal::Available { settled: true };
        let later = Goal::Available { settled: false };
        assert_eq!(judge(Some(&seen("available", &[])), now), Verdict::Done);
        assert_eq!(judge(Some(&seen("available", &["backup_retention_period=14"])), now), Verdict::Waiting);
        assert_eq!(judge(Some(&seen("available", &["backup_retention_period=14"])), later), Verdict::Done);
        for s in ["creating", "backing-up", "modifying", "configuring-enhanced-monitoring", "rebooting"] {
            assert_eq!(judge(Some(&seen(s, &[])), now), Verdict::Waiting, "{s}");
        }
        assert_eq!(judge(None, now), Verdict::Failed("deleted".into()));
    }

    #[test]
    fn failure_statuses_end_every_wait() {
        for s in FAILED_STATUSES {
            assert_eq!(judge(Some(&seen(s, &[])), Goal::Available { settled: true }), Verdict::Failed(s.to_string()));
            assert_eq!(judge(Some(&seen(s, &[])), Goal::Gone), Verdict::Failed(s.to_string()));
        }
    }

    #[test]
    fn gone_means_not_found() {
        assert_eq!(judge(None, Goal::Gone), Verdict::Done);
        assert_eq!(judge(Some(&seen("deleting", &[])), Goal::Gone), Verdict::Waiting);
        assert_eq!(judge(Some(&seen("available", &[])), Goal::Gone), Verdict::Waiting);
    }

    #[test]
    fn polls_back_off_from_the_interval_to_six_times_it() {
        let b = Duration::from_secs(5);
        let pauses: Vec<u64> = (0..6).map(|n| backoff(b, n).as_secs()).collect();
        assert_eq!(pauses, [5, 10, 20, 30, 30, 30]);
        assert_eq!(backoff(Duration::from_millis(50), 0), Duration::from_millis(50));
        assert_eq!(backoff(Duration::from_millis(50), 40), Duration::from_millis(300));
    }

    #[test]
    fn progress_and_errors_name_the_instance_status_and_pending_values() {
        let line = progress_line(
            "modifying",
            Duration::from_secs(70),
            Some(&seen("modifying", &["backup_retention_period=14"])),
        );
        assert_eq!(line, "Still modifying… [1m10s elapsed, status modifying, pending backup_retention_period=14]");
        let w = Watch {
            address: "db_instance.main",
            identifier: "api-db",
            verb: "creating",
            goal: Goal::Gone,
            timeout: Duration::from_secs(90),
        };
        let db = DbInstance::builder().db_instance_identifier("api-db").db_instance_status("creating").build();
        let e = end_error(&w, "create", Some(&db), &End::TimedOut);
        assert_eq!(e.code.as_deref(), Some("WaitTimeout"));
        assert!(
            e.message.contains("api-db is still creating after 1m30s") && e.message.contains("timeouts.create"),
            "{}",
            e.message
        );
        let e = end_error(&w, "create", Some(&db), &End::Failed("failed".into()));
        assert!(e.message.contains("api-db is failed while creating"), "{}", e.message);
    }
}
