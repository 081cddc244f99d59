use std::time::{Duration, Instant};

use serde_json::json;
use state::{lock_with_timeout, save_next, Backend, LocalBackend, LockInfo, ResourceRecord, Snapshot, StateError};

fn backend() -> (tempfile::TempDir, LocalBackend) {
    let dir = tempfile::tempdir().unwrap();
    // nested dir that does not exist yet: save must create it
    let b = LocalBackend::new(dir.path().join("sub/dir/terraform.state.json"));
    (dir, b)
}

fn sample() -> Snapshot {
    let mut s = Snapshot::new(Some("dev".into()));
    let mut r = ResourceRecord::new("vpc.main", "vpc", "vpc-123");
    r.attributes.insert("cidr_block".into(), json!("10.0.0.0/16"));
    s.upsert(r);
    s
}

#[tokio::test]
async fn round_trip_through_file() {
    let (_d, b) = backend();
    assert!(b.load().await.unwrap().is_none());
    assert!(b.describe().contains("terraform.state.json"));
    let s = sample().next();
    b.save(&s, None).await.unwrap();
    let loaded = b.load().await.unwrap().unwrap();
    assert_eq!(loaded, s);
    let on_disk = std::fs::read_to_string(b.path()).unwrap();
    assert_eq!(on_disk, s.to_pretty_json());
    // no temp files left behind
    let names: Vec<_> = std::fs::read_dir(b.path().parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["terraform.state.json"]);
}

#[tokio::test]
async fn serial_cas_conflict() {
    let (_d, b) = backend();
    let s1 = sample().next();
    b.save(&s1, None).await.unwrap();
    // "no state" expected but state exists
    let err = b.save(&s1.next(), None).await.unwrap_err();
    assert!(matches!(err, StateError::Conflict { expected: None, found: Some(_) }), "{err:?}");

    let s2 = s1.next();
    b.save(&s2, Some(s1.key())).await.unwrap();
    // a second writer that also loaded s1 loses
    let stale = s1.next();
    let err = b.save(&stale, Some(s1.key())).await.unwrap_err();
    match &err {
        StateError::Conflict { expected, found } => {
            assert_eq!(*expected, Some(s1.key()));
            assert_eq!(*found, Some(s2.key()));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("serial 2"), "{err}");
    assert!(err.hint().is_some());
    assert_eq!(b.load().await.unwrap().unwrap(), s2);

    // serial not bumped => invalid
    let err = b.save(&s2, Some(s2.key())).await.unwrap_err();
    assert!(matches!(err, StateError::InvalidSnapshot(_)), "{err:?}");
}

#[tokio::test]
async fn lineage_mismatch_conflicts() {
    let (_d, b) = backend();
    let s1 = sample().next();
    b.save(&s1, None).await.unwrap();
    let other = Snapshot::new(None).next(); // different lineage, same serial
    let err = b.save(&other.next(), Some(other.key())).await.unwrap_err();
    assert!(matches!(err, StateError::Conflict { .. }), "{err:?}");
    // snapshot of another lineage written over the expected one
    let err = b.save(&other.next(), Some(s1.key())).await.unwrap_err();
    assert!(matches!(err, StateError::InvalidSnapshot(_)), "{err:?}");
    assert_eq!(b.load().await.unwrap().unwrap(), s1);
}

#[tokio::test]
async fn backup_holds_previous_snapshot() {
    let (_d, b) = backend();
    let mut s = sample();
    let mut persisted = None;
    save_next(&b, &mut s, &mut persisted).await.unwrap();
    assert!(!b.backup_path().exists());
    let first = std::fs::read_to_string(b.path()).unwrap();
    s.remove("vpc.main");
    save_next(&b, &mut s, &mut persisted).await.unwrap();
    assert_eq!(s.serial, 2);
    assert_eq!(persisted, Some(s.key()));
    assert_eq!(std::fs::read_to_string(b.backup_path()).unwrap(), first);
    assert_eq!(b.load().await.unwrap().unwrap(), s);
    let third_backup = std::fs::read_to_string(b.path()).unwrap();
    save_next(&b, &mut s, &mut persisted).await.unwrap();
    assert_eq!(std::fs::read_to_string(b.backup_path()).unwrap(), third_backup);
}

#[cfg(unix)]
#[tokio::test]
async fn files_are_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let (_d, b) = backend();
    let mut s = sample();
    let mut p = None;
    save_next(&b, &mut s, &mut p).await.unwrap();
    save_next(&b, &mut s, &mut p).await.unwrap();
    let info = LockInfo::new("apply", &b.describe());
    b.try_lock(&info).await.unwrap();
    for f in [b.path().to_path_buf(), b.backup_path(), b.lock_path()] {
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }
}

#[tokio::test]
async fn lock_is_exclusive_and_names_holder() {
    let (_d, b) = backend();
    let b2 = LocalBackend::new(b.path()); // a second "process"
    let mut first = LockInfo::new("apply", "p");
    first.who = "alice@box".into();
    b.try_lock(&first).await.unwrap();
    assert_eq!(b2.lock_info().await.unwrap(), Some(first.clone()));

    let second = LockInfo::new("plan", "p");
    let err = b2.try_lock(&second).await.unwrap_err();
    match &err {
        StateError::Locked(holder) => assert_eq!(**holder, first),
        other => panic!("{other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("alice@box") && msg.contains("apply") && msg.contains(&first.id), "{msg}");
    assert!(err.hint().unwrap().contains(&format!("provisioner force-unlock {}", first.id)));
    // zero timeout fails at once
    let t = Instant::now();
    assert!(matches!(lock_with_timeout(&b2, &second, Duration::ZERO).await, Err(StateError::Locked(_))));
    assert!(t.elapsed() < Duration::from_millis(200));

    // unlock with the wrong id is refused; right id works; absent lock is ok
    assert!(matches!(b2.unlock(&second.id).await, Err(StateError::NoSuchLock { .. })));
    b.unlock(&first.id).await.unwrap();
    b.unlock(&first.id).await.unwrap();
    assert_eq!(b.lock_info().await.unwrap(), None);
    b2.try_lock(&second).await.unwrap();
}

#[tokio::test]
async fn concurrent_try_lock_has_one_winner() {
    let (_d, b) = backend();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let b = b.clone();
        tasks.push(tokio::spawn(async move { b.try_lock(&LockInfo::new("apply", "p")).await.is_ok() }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += t.await.unwrap() as usize;
    }
    assert_eq!(winners, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_with_timeout_waits_for_release() {
    let (_d, b) = backend();
    let holder = LockInfo::new("apply", "p");
    b.try_lock(&holder).await.unwrap();
    let b2 = b.clone();
    let id = holder.id.clone();
    let releaser = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        b2.unlock(&id).await.unwrap();
    });
    let waiter = LockInfo::new("plan", "p");
    let t = Instant::now();
    lock_with_timeout(&b, &waiter, Duration::from_secs(10)).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(350));
    releaser.await.unwrap();
    assert_eq!(b.lock_info().await.unwrap().unwrap().id, waiter.id);

    // and times out when never released
    let t = Instant::now();
    let err = lock_with_timeout(&b, &LockInfo::new("x", "p"), Duration::from_millis(600)).await.unwrap_err();
    assert!(matches!(err, StateError::Locked(_)));
    assert!(t.elapsed() >= Duration::from_millis(550));
}

#[tokio::test]
async fn force_unlock_requires_matching_id() {
    let (_d, b) = backend();
    match b.force_unlock("nope").await {
        Err(StateError::NoSuchLock { id, held_by: None }) => assert_eq!(id, "nope"),
        other => panic!("{other:?}"),
    }
    let info = LockInfo::new("apply", "p");
    b.try_lock(&info).await.unwrap();
    match b.force_unlock("wrong").await {
        Err(e @ StateError::NoSuchLock { .. }) => {
            assert!(matches!(&e, StateError::NoSuchLock { held_by: Some(h), .. } if *h == info.id));
            assert!(e.hint().unwrap().contains(&info.id));
        }
        other => panic!("{other:?}"),
    }
    assert!(b.lock_info().await.unwrap().is_some());
    b.force_unlock(&info.id).await.unwrap();
    assert!(b.lock_info().await.unwrap().is_none());
    assert!(!b.lock_path().exists());
}

#[tokio::test]
async fn corrupt_file_is_reported_and_never_overwritten() {
    let (_d, b) = backend();
    std::fs::create_dir_all(b.path().parent().unwrap()).unwrap();
    let garbage = "{\n  \"version\": 1,\n  \"serial\": 3,,\n}\n";
    std::fs::write(b.path(), garbage).unwrap();
    let err = b.load().await.unwrap_err();
    match &err {
        StateError::Corrupt { path, line, column, .. } => {
            assert!(path.ends_with("terraform.state.json"));
            assert_eq!(*line, 3);
            assert!(*column > 0);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("line 3"));
    for expected in [None, Some((uuid::Uuid::nil(), 3))] {
        let err = b.save(&sample().next(), expected).await.unwrap_err();
        assert!(matches!(err, StateError::Corrupt { line: 3, .. }), "{err:?}");
    }
    assert_eq!(std::fs::read_to_string(b.path()).unwrap(), garbage);
    assert!(!b.backup_path().exists());

    // empty file is corrupt too, not "no state"
    std::fs::write(b.path(), "").unwrap();
    assert!(matches!(b.load().await, Err(StateError::Corrupt { .. })));
}

#[tokio::test]
async fn unknown_version_file_rejected() {
    let (_d, b) = backend();
    let s = sample().next();
    b.save(&s, None).await.unwrap();
    let text = std::fs::read_to_string(b.path()).unwrap().replace("\"version\": 1", "\"version\": 7");
    std::fs::write(b.path(), &text).unwrap();
    assert!(matches!(b.load().await, Err(StateError::UnsupportedVersion(7))));
    assert!(matches!(b.save(&s.next(), Some(s.key())).await, Err(StateError::UnsupportedVersion(7))));
    assert_eq!(std::fs::read_to_string(b.path()).unwrap(), text);
}

/// Pid of a process that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[tokio::test]
async fn lock_info_records_pid_and_host_and_old_locks_parse() {
    let info = LockInfo::new("apply", "p");
    assert_eq!(info.pid, Some(std::process::id()));
    assert!(info.host.as_deref().is_some_and(|h| !h.is_empty()));
    assert!(info.who.ends_with(&format!("@{}", info.host.as_deref().unwrap())));
    // held by this very process: alive
    assert!(!info.holder_is_dead());

    // a lock file written before pid/host existed still parses, and is never "dead"
    let (_d, b) = backend();
    std::fs::create_dir_all(b.path().parent().unwrap()).unwrap();
    let old = r#"{"id":"abc","operation":"apply","who":"bob@x","created":"2024-01-02T03:04:05Z","version":"0.1.0","path":"p"}"#;
    std::fs::write(b.lock_path(), old).unwrap();
    let held = b.lock_info().await.unwrap().unwrap();
    assert_eq!((held.pid, held.host.as_deref()), (None, None));
    assert!(!held.holder_is_dead());
    let err = b.try_lock(&info).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("state is locked by bob@x (operation \"apply\", since 2024-01-02 03:04:05 UTC, lock ID abc)"),
        "{msg}"
    );
    // new fields are written
    let written = serde_json::to_value(&info).unwrap();
    assert_eq!(written["pid"], serde_json::json!(std::process::id()));
}

#[tokio::test]
async fn dead_holder_on_this_host_is_reported_but_not_removed() {
    let (_d, b) = backend();
    let mut dead = LockInfo::new("apply", "");
    dead.pid = Some(dead_pid());
    b.try_lock(&dead).await.unwrap();
    assert!(dead.holder_is_dead());

    let err = b.try_lock(&LockInfo::new("plan", "")).await.unwrap_err();
    let msg = err.to_string();
    let since = dead.created.format("%H:%M:%S (UTC)").to_string();
    let expected = format!(
        "state is locked: held by pid {} on this host since {since}, which is no longer running (operation: apply, lock id {}…)",
        dead.pid.unwrap(),
        &dead.id[..8]
    );
    assert_eq!(msg, expected);
    assert_eq!(
        err.hint().unwrap(),
        format!("if no other provisioner is running, remove the lock with: provisioner force-unlock {}", dead.id)
    );
    // still locked: nothing is unlocked automatically, not even by lock_with_timeout
    assert!(matches!(
        lock_with_timeout(&b, &LockInfo::new("plan", ""), Duration::from_millis(300)).await,
        Err(StateError::Locked(_))
    ));
    assert_eq!(b.lock_info().await.unwrap(), Some(dead.clone()));
    b.force_unlock(&dead.id).await.unwrap();
}

#[tokio::test]
async fn live_or_remote_holders_keep_the_usual_message_with_pid_and_host() {
    let (_d, b) = backend();
    // live holder on this host (this test process)
    let mut live = LockInfo::new("apply", "");
    live.who = "alice@box".into();
    b.try_lock(&live).await.unwrap();
    let err = b.try_lock(&LockInfo::new("plan", "")).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "state is locked by alice@box, pid {} on this host (operation \"apply\"",
            std::process::id()
        )) && msg.contains(&live.id),
        "{msg}"
    );
    assert!(err.hint().unwrap().starts_with("wait for the other operation"));
    b.unlock(&live.id).await.unwrap();

    // a dead pid on another machine cannot be judged: not dead
    let mut remote = LockInfo::new("destroy", "");
    remote.pid = Some(dead_pid());
    remote.host = Some("some-other-host.invalid".into());
    assert!(!remote.holder_is_dead());
    b.try_lock(&remote).await.unwrap();
    let err = b.try_lock(&LockInfo::new("plan", "")).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(", pid {} on host some-other-host.invalid (operation \"destroy\"", remote.pid.unwrap()))
            && msg.contains(&remote.id),
        "{msg}"
    );
    assert!(err.hint().unwrap().contains(&format!("provisioner force-unlock {}", remote.id)));
}

#[tokio::test]
async fn replace_writes_another_lineage_but_only_over_the_expected_state() {
    let (_d, b) = backend();
    let mut first = sample();
    let mut key = None;
    save_next(&b, &mut first, &mut key).await.unwrap();
    let other = Snapshot::new(Some("other".into()));
    // `save` refuses a snapshot that does not follow the stored one; `replace` does not.
    assert!(matches!(b.save(&other, key).await, Err(StateError::InvalidSnapshot(_))));
    let stale = Some((first.lineage, first.serial - 1));
    assert!(matches!(b.replace(&other, stale).await, Err(StateError::Conflict { .. })));
    b.replace(&other, key).await.unwrap();
    assert_eq!(b.load().await.unwrap(), Some(other));
}
