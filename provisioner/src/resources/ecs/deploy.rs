//! The deployment watch of `ecs_service`: when a deployment counts as finished, what to tell the user while
//! it runs and when it fails, and the idempotency token of CreateService.
//!
//! **Success** is all of: the service's PRIMARY deployment runs the task-definition revision this apply
//! asked for, its rollout is COMPLETED, and the service's running count equals its desired count. The
//! services-stable waiter alone would call a deployment the circuit breaker rolled back a success
//! (terraform-provider-aws#19519, ecspresso#732): here it is a failure, as is a FAILED rollout, a
//! deployment replaced by another one, and the `timeouts` bound (20 minutes by default).
//!
//! While waiting, a progress line goes to the user about every 10 s (`PROVISIONER_PROGRESS_SECS`
//! overrides the period): `Still deploying… [1m10s elapsed, 1/2 running, rollout IN_PROGRESS]`. Ctrl-C
//! ([`Ctx::interrupted`]) stops the watch at once; the deployment goes on in AWS.
//!
//! On failure, as Copilot does: the two latest stopped tasks of the deployment, grouped by `stoppedReason`
//! (tasks the scheduler stopped for scaling are skipped), and at most five of the service's events since the
//! deployment began that say what went wrong (fail, unhealthy, error, throttle, unable, missing, alarm
//! detected, rolling back).
//!
//! The pure parts (verdict, diagnostics selection, event filter, token, durations) are functions of plain
//! values, unit-tested below; [`watch`] and [`diagnostics`] make the calls.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ecs::types::{DesiredStatus, Service};
use sha2::{Digest, Sha256};

use super::client;
use crate::aws::{aws_err, Ctx, ProviderError};

/// `family:revision` of a task definition given as an ARN (`…:task-definition/family:revision`) or
/// already as `family:revision` (or a bare family): the form every comparison uses.
pub(crate) fn task_definition_key(td: &str) -> &str {
    match td.split_once(":task-definition/") {
        Some((_, rest)) => rest,
        None => td,
    }
}

/// One deployment of a service, as the verdict needs it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct DeploymentView {
    pub id: String,
    /// PRIMARY, ACTIVE or INACTIVE.
    pub status: String,
    /// `family:revision`.
    pub task_definition: String,
    /// IN_PROGRESS, COMPLETED or FAILED; `None` when AWS reports none.
    pub rollout: Option<String>,
    pub rollout_reason: String,
    /// Seconds since the epoch.
    pub created_at: Option<i64>,
}

/// A service, as the verdict needs it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ServiceView {
    /// ACTIVE, DRAINING or INACTIVE.
    pub status: String,
    pub running: i32,
    pub desired: i32,
    pub deployments: Vec<DeploymentView>,
    /// (seconds since the epoch, message), newest first as AWS lists them.
    pub events: Vec<(i64, String)>,
}

impl ServiceView {
    pub(crate) fn of(s: &Service) -> ServiceView {
        ServiceView {
            status: s.status().unwrap_or_default().to_owned(),
            running: s.running_count(),
            desired: s.desired_count(),
            deployments: s
                .deployments()
                .iter()
                .map(|d| DeploymentView {
                    id: d.id().unwrap_or_default().to_owned(),
                    status: d.status().unwrap_or_default().to_owned(),
                    task_definition: task_definition_key(d.task_definition().unwrap_or_default()).to_owned(),
                    rollout: d.rollout_state().map(|r| r.as_str().to_owned()),
                    rollout_reason: d.rollout_state_reason().unwrap_or_default().to_owned(),
                    created_at: d.created_at().map(|t| t.secs()),
                })
                .collect(),
            events: s
                .events()
                .iter()
                .map(|e| (e.created_at().map(|t| t.secs()).unwrap_or(0), e.message().unwrap_or_default().to_owned()))
                .collect(),
        }
    }

    pub(crate) fn primary(&self) -> Option<&DeploymentView> {
        self.deployments.iter().find(|d| d.status == "PRIMARY")
    }

    /// The primary deployment's rollout state, `-` when there is none.
    pub(crate) fn rollout(&self) -> &str {
        self.primary().and_then(|d| d.rollout.as_deref()).unwrap_or("-")
    }
}

/// What the watch concludes from one look at the service.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Verdict {
    Done,
    Waiting,
    /// Why the deployment failed (one line).
    Failed(String),
}

/// The verdict on a deployment of `target` (`family:revision`), `ours` being the id of the deployment the
/// create/update call started when its answer named one (see the module doc).
pub(crate) fn judge(v: &ServiceView, target: &str, ours: Option<&str>) -> Verdict {
    if v.status != "ACTIVE" && !v.status.is_empty() {
        return Verdict::Failed(format!("the service is {} (being deleted)", v.status));
    }
    let primary = v.primary();
    let rolled_back = |reason: &str| -> String {
        match primary {
            Some(p) if p.task_definition != target => format!(
                "the deployment of {target} failed ({reason}) and was rolled back: the service runs {} again",
                p.task_definition
            ),
            _ => format!("the deployment of {target} failed ({reason})"),
        }
    };
    if let Some(id) = ours {
        match v.deployments.iter().find(|d| d.id == id) {
            Some(d) if d.rollout.as_deref() == Some("FAILED") => {
                return Verdict::Failed(rolled_back(&reason_or(&d.rollout_reason, "rollout FAILED")));
            }
            Some(_) => {}
            None => {
                // Gone: replaced by a rollback, or by someone else's deployment.
                let finished_same =
                    primary.is_some_and(|p| p.task_definition == target && p.rollout.as_deref() == Some("COMPLETED"));
                if !finished_same {
                    return Verdict::Failed(rolled_back("its deployment was replaced by another one"));
                }
            }
        }
    }
    let Some(p) = primary else { return Verdict::Waiting };
    if p.rollout.as_deref() == Some("FAILED") {
        return Verdict::Failed(rolled_back(&reason_or(&p.rollout_reason, "rollout FAILED")));
    }
    if p.task_definition != target {
        return Verdict::Failed(rolled_back("the service's primary deployment runs another revision"));
    }
    let completed = match p.rollout.as_deref() {
        Some(r) => r == "COMPLETED",
        // No rollout state (older APIs): the services-stable rule, one deployment left.
        None => v.deployments.len() == 1,
    };
    if completed && v.running == v.desired {
        Verdict::Done
    } else {
        Verdict::Waiting
    }
}

fn reason_or(reason: &str, default: &str) -> String {
    let r = reason.trim().trim_end_matches('.');
    if r.is_empty() {
        default.to_owned()
    } else {
        r.to_owned()
    }
}

/// `1m10s`, `45s`, `1h2m3s`.
pub(crate) fn elapsed_text(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// The progress line printed while waiting.
pub(crate) fn progress_line(elapsed: Duration, v: &ServiceView) -> String {
    format!(
        "Still deploying… [{} elapsed, {}/{} running, rollout {}]",
        elapsed_text(elapsed),
        v.running,
        v.desired,
        v.rollout()
    )
}

/// A stopped task, as the diagnostics need it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StoppedTask {
    pub id: String,
    pub reason: String,
    /// Seconds since the epoch.
    pub stopped_at: i64,
    /// The deployment that started it (`ecs-svc/…`), for service tasks.
    pub started_by: String,
}

/// How many stopped tasks the diagnostics show (Copilot's choice).
const STOPPED_SHOWN: usize = 2;
/// How many service events the diagnostics show.
const EVENTS_SHOWN: usize = 5;

/// The two latest stopped tasks (of deployment `ours` when any of its tasks stopped, else of the service),
/// skipping those the scheduler stopped for scaling or replacement, grouped by reason: one line a reason,
/// `Essential container in task exited (2 tasks: 1a2b, 3c4d)`.
pub(crate) fn stopped_lines(tasks: &[StoppedTask], ours: Option<&str>) -> Vec<String> {
    let failed = |t: &&StoppedTask| !t.reason.starts_with("Scaling activity initiated by") && !t.reason.is_empty();
    let mut pick: Vec<&StoppedTask> =
        tasks.iter().filter(failed).filter(|t| Some(t.started_by.as_str()) == ours).collect();
    if pick.is_empty() {
        pick = tasks.iter().filter(failed).collect();
    }
    pick.sort_by(|a, b| b.stopped_at.cmp(&a.stopped_at).then_with(|| a.id.cmp(&b.id)));
    pick.truncate(STOPPED_SHOWN);
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for t in pick {
        match groups.iter_mut().find(|(r, _)| *r == t.reason) {
            Some((_, ids)) => ids.push(&t.id),
            None => groups.push((&t.reason, vec![&t.id])),
        }
    }
    groups
        .into_iter()
        .map(|(reason, ids)| {
            let n = ids.len();
            format!("{reason} ({n} task{}: {})", if n == 1 { "" } else { "s" }, ids.join(", "))
        })
        .collect()
}

/// Words that mark an event as saying what went wrong.
const EVENT_WORDS: &[&str] =
    &["fail", "unhealthy", "error", "throttl", "unable", "missing", "alarm detected", "rolling back"];

/// At most five events (newest first, as given) since `since` (seconds since the epoch) that say what went
/// wrong.
pub(crate) fn failure_events(events: &[(i64, String)], since: Option<i64>) -> Vec<String> {
    events
        .iter()
        .filter(|(at, _)| since.is_none_or(|s| *at >= s))
        .filter(|(_, m)| {
            let m = m.to_lowercase();
            EVENT_WORDS.iter().any(|w| m.contains(w))
        })
        .take(EVENTS_SHOWN)
        .map(|(_, m)| m.clone())
        .collect()
}

/// The CreateService `clientToken` of the create at this address: a hash of the stack, workspace, lineage
/// and address (from the tool's tags in `tags`, the full set the engine passes) and the create's
/// generation (persisted before the call, see [`crate::resource::Checkpoint::attempt`]), as 36 hex digits
/// (the API's maximum length; ASCII 33–126). A retry after a crash reuses it, so AWS returns the service the
/// lost call created instead of making a second one; a new create at the address (after a destroy) gets a
/// new generation, hence a new token.
pub(crate) fn client_token(tags: &BTreeMap<String, String>, generation: u64) -> String {
    let mut h = Sha256::new();
    crate::resources::util::hash_tool_tags(&mut h, tags);
    h.update(generation.to_be_bytes());
    let mut t = hex::encode(h.finalize());
    t.truncate(36);
    t
}

/// A Terraform duration (`"20m"`, `"1h30m"`, `"90s"`, `"1.5h"`, `"500ms"`): Go's `time.ParseDuration` for
/// the units a timeout uses. `None` when it does not parse or is not positive.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        total += n * secs;
        rest = &rest[unit_len..];
    }
    (total > 0.0 && total.is_finite()).then(|| Duration::from_secs_f64(total))
}

/// The progress period: `PROVISIONER_PROGRESS_SECS` (tests), 10 s by default.
pub(crate) fn progress_period() -> Duration {
    std::env::var("PROVISIONER_PROGRESS_SECS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| *s > 0.0 && s.is_finite())
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(10))
}

/// What a deployment is, for [`watch`].
pub(crate) struct Deployment<'a> {
    /// Where progress lines go (`ecs_service.app["api"]`).
    pub address: &'a str,
    pub cluster: &'a str,
    pub service: &'a str,
    /// `family:revision` the deployment must run.
    pub target: String,
    /// The id of the deployment the create/update call started, when its answer named one.
    pub ours: Option<String>,
    pub timeout: Duration,
}

/// How a watch ended without success.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Unsettled {
    Failed(String),
    TimedOut(Duration),
    Interrupted,
}

/// The service as DescribeServices reports it (with its tags); `None` when it is gone.
pub(crate) async fn describe_one(cx: &Ctx, cluster: &str, service: &str) -> Result<Option<Service>, ProviderError> {
    let out = client(cx)
        .describe_services()
        .cluster(cluster)
        .services(service)
        .include(aws_sdk_ecs::types::ServiceField::Tags)
        .send()
        .await
        .map_err(aws_err)?;
    Ok(out.services().iter().find(|s| s.status() != Some("INACTIVE")).cloned())
}

/// Waits until the deployment succeeds (see the module doc), fails, times out or the user interrupts.
/// Returns the service as last described (`None` if it was never described) and the outcome.
pub(crate) async fn watch(cx: &Ctx, d: &Deployment<'_>) -> (Option<Service>, Result<(), Unsettled>) {
    let start = tokio::time::Instant::now();
    let period = progress_period();
    let mut next_report = start + period;
    let mut last: Option<Service> = None;
    loop {
        if cx.is_interrupted() {
            return (last, Err(Unsettled::Interrupted));
        }
        let described = tokio::select! {
            r = describe_one(cx, d.cluster, d.service) => r,
            _ = cx.interrupted() => return (last, Err(Unsettled::Interrupted)),
        };
        match described {
            Ok(Some(s)) => {
                let v = ServiceView::of(&s);
                last = Some(s);
                match judge(&v, &d.target, d.ours.as_deref()) {
                    Verdict::Done => return (last, Ok(())),
                    Verdict::Failed(why) => return (last, Err(Unsettled::Failed(why))),
                    Verdict::Waiting => {}
                }
                if tokio::time::Instant::now() >= next_report {
                    cx.report(d.address, progress_line(start.elapsed(), &v));
                    next_report += period;
                }
            }
            Ok(None) => return (last, Err(Unsettled::Failed("the service was deleted while it deployed".to_owned()))),
            // A describe that fails (beyond the SDK's retries) does not end the watch: the deployment goes on.
            Err(e) => tracing::warn!("{}: describing the service failed, still waiting: {e}", d.address),
        }
        if start.elapsed() >= d.timeout {
            return (last, Err(Unsettled::TimedOut(d.timeout)));
        }
        let pause = cx.waits.poll.min(d.timeout.saturating_sub(start.elapsed())).max(Duration::from_millis(10));
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = cx.interrupted() => return (last, Err(Unsettled::Interrupted)),
        }
    }
}

/// The lines that say why a deployment failed: its stopped tasks (ListTasks STOPPED + DescribeTasks, first
/// page: up to 100 tasks) and the service's failure events since the deployment began. Best effort: a
/// failing call leaves its part out.
pub(crate) async fn diagnostics(cx: &Ctx, d: &Deployment<'_>, last: Option<&Service>) -> Vec<String> {
    let mut lines = Vec::new();
    let ecs = client(cx);
    let listed =
        ecs.list_tasks().cluster(d.cluster).service_name(d.service).desired_status(DesiredStatus::Stopped).send().await;
    let arns: Vec<String> = listed.map(|o| o.task_arns().to_vec()).unwrap_or_default();
    if !arns.is_empty() {
        if let Ok(out) = ecs.describe_tasks().cluster(d.cluster).set_tasks(Some(arns)).send().await {
            let tasks: Vec<StoppedTask> = out
                .tasks()
                .iter()
                .map(|t| StoppedTask {
                    id: t.task_arn().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned(),
                    reason: t.stopped_reason().unwrap_or_default().to_owned(),
                    stopped_at: t.stopped_at().map(|x| x.secs()).unwrap_or(0),
                    started_by: t.started_by().unwrap_or_default().to_owned(),
                })
                .collect();
            lines.extend(stopped_lines(&tasks, d.ours.as_deref()).into_iter().map(|l| format!("stopped task: {l}")));
        }
    }
    if let Some(s) = last {
        let v = ServiceView::of(s);
        let since = d
            .ours
            .as_deref()
            .and_then(|id| v.deployments.iter().find(|x| x.id == id))
            .or(v.primary())
            .and_then(|x| x.created_at);
        lines.extend(failure_events(&v.events, since).into_iter().map(|m| format!("event: {m}")));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{TAG_ADDRESS, TAG_LINEAGE, TAG_STACK, TAG_WORKSPACE};

    fn dep(id: &str, status: &str, td: &str, rollout: &str) -> DeploymentView {
        DeploymentView {
            id: id.into(),
            status: status.into(),
            task_definition: td.into(),
            rollout: Some(rollout.into()),
            rollout_reason: String::new(),
            created_at: Some(100),
        }
    }

    fn svc(running: i32, desired: i32, deployments: Vec<DeploymentView>) -> ServiceView {
        ServiceView { status: "ACTIVE".into(), running, desired, deployments, events: vec![] }
    }

    #[test]
    fn done_only_when_primary_runs_ours_completed_and_counts_match() {
        let v = svc(2, 2, vec![dep("d2", "PRIMARY", "api:2", "COMPLETED")]);
        assert_eq!(judge(&v, "api:2", Some("d2")), Verdict::Done);
        assert_eq!(judge(&v, "api:2", None), Verdict::Done);
        // Completed but not all running yet.
        let v = svc(1, 2, vec![dep("d2", "PRIMARY", "api:2", "COMPLETED")]);
        assert_eq!(judge(&v, "api:2", Some("d2")), Verdict::Waiting);
        // In progress, old deployment still there.
        let v =
            svc(2, 2, vec![dep("d2", "PRIMARY", "api:2", "IN_PROGRESS"), dep("d1", "ACTIVE", "api:1", "COMPLETED")]);
        assert_eq!(judge(&v, "api:2", Some("d2")), Verdict::Waiting);
    }

    #[test]
    fn a_rolled_back_deployment_is_a_failure_although_the_service_is_stable() {
        // What the services-stable waiter accepts: one deployment, running == desired. But it runs api:1.
        let v = svc(2, 2, vec![dep("d3", "PRIMARY", "api:1", "COMPLETED")]);
        match judge(&v, "api:2", Some("d2")) {
            Verdict::Failed(m) => assert!(m.contains("rolled back") && m.contains("api:1 again"), "{m}"),
            other => panic!("{other:?}"),
        }
        match judge(&v, "api:2", None) {
            Verdict::Failed(m) => assert!(m.contains("rolled back"), "{m}"),
            other => panic!("{other:?}"),
        }
        // Rollback under way: ours FAILED, the rollback is primary.
        let mut failed = dep("d2", "ACTIVE", "api:2", "FAILED");
        failed.rollout_reason = "ECS deployment circuit breaker: tasks failed to start.".into();
        let v = svc(0, 2, vec![dep("d3", "PRIMARY", "api:1", "IN_PROGRESS"), failed]);
        match judge(&v, "api:2", Some("d2")) {
            Verdict::Failed(m) => {
                assert!(m.contains("circuit breaker: tasks failed to start") && m.contains("rolled back"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn failed_without_rollback_and_deleted_services_fail() {
        let v = svc(0, 2, vec![dep("d2", "PRIMARY", "api:2", "FAILED")]);
        match judge(&v, "api:2", Some("d2")) {
            Verdict::Failed(m) => assert!(m.contains("failed (rollout FAILED)") && !m.contains("rolled back"), "{m}"),
            other => panic!("{other:?}"),
        }
        let mut v = svc(0, 0, vec![]);
        v.status = "DRAINING".into();
        assert!(matches!(judge(&v, "api:2", None), Verdict::Failed(m) if m.contains("DRAINING")));
    }

    #[test]
    fn a_later_deployment_of_the_same_revision_that_finished_counts() {
        let v = svc(1, 1, vec![dep("d9", "PRIMARY", "api:2", "COMPLETED")]);
        assert_eq!(judge(&v, "api:2", Some("d2")), Verdict::Done);
    }

    #[test]
    fn task_definition_keys() {
        assert_eq!(task_definition_key("arn:aws:ecs:us-east-1:123:task-definition/api:7"), "api:7");
        assert_eq!(task_definition_key("api:7"), "api:7");
    }

    #[test]
    fn progress_lines() {
        let v = svc(1, 2, vec![dep("d2", "PRIMARY", "api:2", "IN_PROGRESS")]);
        assert_eq!(
            progress_line(Duration::from_secs(70), &v),
            "Still deploying… [1m10s elapsed, 1/2 running, rollout IN_PROGRESS]"
        );
        assert_eq!(elapsed_text(Duration::from_secs(5)), "5s");
        assert_eq!(elapsed_text(Duration::from_secs(3723)), "1h2m3s");
    }

    fn task(id: &str, reason: &str, at: i64, by: &str) -> StoppedTask {
        StoppedTask { id: id.into(), reason: reason.into(), stopped_at: at, started_by: by.into() }
    }

    #[test]
    fn two_latest_stopped_tasks_grouped_by_reason_skipping_scaling() {
        let tasks = [
            task("a", "Essential container in task exited", 10, "d2"),
            task("b", "Essential container in task exited", 30, "d2"),
            task("c", "Scaling activity initiated by (deployment d2)", 40, "d1"),
            task("d", "CannotPullContainerError: pull image manifest has been retried", 20, "d2"),
            task("e", "Task failed ELB health checks", 50, "d1"),
        ];
        assert_eq!(
            stopped_lines(&tasks, Some("d2")),
            [
                "Essential container in task exited (1 task: b)",
                "CannotPullContainerError: pull image manifest has been retried (1 task: d)"
            ]
        );
        let same = [task("a", "X", 10, "d2"), task("b", "X", 30, "d2"), task("c", "X", 5, "d2")];
        assert_eq!(stopped_lines(&same, Some("d2")), ["X (2 tasks: b, a)"]);
        // None of ours: the service's.
        assert_eq!(
            stopped_lines(&tasks, Some("d7")),
            ["Task failed ELB health checks (1 task: e)", "Essential container in task exited (1 task: b)"]
        );
        assert!(stopped_lines(&[], None).is_empty());
    }

    #[test]
    fn failure_events_are_filtered_bounded_and_recent() {
        let ev = |at: i64, m: &str| (at, m.to_owned());
        let events = vec![
            ev(200, "(service api) has reached a steady state."),
            ev(190, "(service api) rolling back to deployment ecs-svc/1."),
            ev(180, "(service api) (deployment ecs-svc/2) deployment failed: tasks failed to start."),
            ev(170, "(service api) is unable to consistently start tasks successfully."),
            ev(160, "(service api) (task 1) failed container health checks."),
            ev(150, "(service api) has started 2 tasks: (task 1) (task 2)."),
            ev(140, "(service api) was unable to place a task: MISSING attribute"),
            ev(130, "(service api) Throttled: rate exceeded"),
            ev(50, "(service api) failed long ago"),
        ];
        let got = failure_events(&events, Some(100));
        assert_eq!(got.len(), 5);
        assert!(got[0].contains("rolling back"));
        assert!(got
            .iter()
            .all(|m| !m.contains("steady state") && !m.contains("has started") && !m.contains("long ago")));
        assert_eq!(failure_events(&events, None).len(), 5);
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn client_tokens_are_bounded_deterministic_and_tell_creates_apart() {
        let base = [
            (TAG_STACK, "hello"),
            (TAG_WORKSPACE, "prod"),
            (TAG_LINEAGE, "6f1c0e4a-0000-4000-8000-000000000001"),
            (TAG_ADDRESS, "ecs_service.app[\"api\"]"),
            ("team", "x"),
        ];
        let t = client_token(&tags(&base), 1);
        assert_eq!(t.len(), 36);
        assert!(t.bytes().all(|b| (33..=126).contains(&b)));
        assert_eq!(t, client_token(&tags(&base), 1));
        assert_ne!(t, client_token(&tags(&base), 2), "a new generation, a new token");
        // User tags do not matter; each of the tool's does.
        assert_eq!(t, client_token(&tags(&base[..4]), 1));
        for i in 0..4 {
            let mut other = base;
            other[i].1 = "other";
            assert_ne!(t, client_token(&tags(&other), 1), "{}", base[i].0);
        }
    }

    #[test]
    fn durations_as_terraform_writes_them() {
        assert_eq!(parse_duration("20m"), Some(Duration::from_secs(1200)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        for bad in ["", "20", "m", "20 minutes", "-5m", "0s", "1d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
