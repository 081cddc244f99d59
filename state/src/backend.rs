//! The storage-agnostic [`Backend`] trait (load / compare-and-swap save / locking),
//! lock metadata ([`LockInfo`]) and backend-independent helpers built on the trait.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{StateError, StateKey};
use crate::model::Snapshot;

/// A place where state lives (local file, later S3), with a lock.
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    /// Human description, e.g. "local file ./terraform.state.json".
    fn describe(&self) -> String;

    /// Current snapshot, or None when no state exists yet.
    /// A corrupt state is an error, never treated as empty.
    async fn load(&self) -> Result<Option<Snapshot>, StateError>;

    /// Compare-and-swap write. `expected` is the `(lineage, serial)` the caller last
    /// loaded/saved ([`Snapshot::key`]), or None if it believes no state exists.
    /// Fails with [`StateError::Conflict`] if the stored state differs.
    ///
    /// The backend does NOT bump the serial: pass a snapshot from [`Snapshot::next`]
    /// (same lineage as `expected`, serial greater than the expected serial, otherwise
    /// [`StateError::InvalidSnapshot`]). The snapshot is normalized when written.
    async fn save(&self, snapshot: &Snapshot, expected: Option<StateKey>) -> Result<(), StateError>;

    /// Compare-and-swap write like [`Backend::save`] (refused with [`StateError::Conflict`] unless the
    /// stored state is `expected`), of a snapshot that need not succeed it: another lineage, any serial.
    /// Only for replacing a state on purpose (`state push --force`).
    async fn replace(&self, snapshot: &Snapshot, expected: Option<StateKey>) -> Result<(), StateError>;

    /// Take the lock or fail at once with [`StateError::Locked`] (info of the holder).
    async fn try_lock(&self, info: &LockInfo) -> Result<(), StateError>;

    /// Release our lock. The id must match ([`StateError::NoSuchLock`] otherwise);
    /// an absent lock is Ok.
    async fn unlock(&self, id: &str) -> Result<(), StateError>;

    /// Release whatever lock has this id (for `force-unlock ID`);
    /// [`StateError::NoSuchLock`] if the ids differ or there is no lock.
    async fn force_unlock(&self, id: &str) -> Result<(), StateError>;

    /// Who holds the lock, if anyone.
    async fn lock_info(&self) -> Result<Option<LockInfo>, StateError>;
}

/// Metadata stored with a lock so others can see who holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Random UUID; what `force-unlock` takes.
    pub id: String,
    /// e.g. "apply", "plan", "destroy".
    pub operation: String,
    /// `user@host`.
    pub who: String,
    pub created: DateTime<Utc>,
    /// Tool version.
    pub version: String,
    /// State path / location being locked.
    pub path: String,
    /// Process id of the holder (absent in locks written by older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Hostname of the holder's machine (absent in locks written by older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl LockInfo {
    /// Fresh lock info: new id, `who` from `$USER`@hostname, `created` = now,
    /// `version` = this crate's (workspace) version, `pid` and `host` of this process.
    pub fn new(operation: &str, path: &str) -> Self {
        let host = hostname();
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_string(),
            who: format!("{}@{}", current_user(), host),
            created: Utc::now(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            path: path.to_string(),
            pid: Some(std::process::id()),
            host: Some(host),
        }
    }

    /// True only when the lock was taken on this machine (`host` equals this hostname)
    /// by a process (`pid`) that no longer exists. False whenever that cannot be
    /// established: unknown pid or host, another machine, or no `/proc` to look in.
    /// Only ever used to word the [`StateError::Locked`] message: nothing is unlocked
    /// automatically. (A recycled pid makes a dead holder look alive, never the reverse.)
    pub fn holder_is_dead(&self) -> bool {
        match (self.pid, self.host.as_deref()) {
            (Some(pid), Some(host)) => host == hostname() && !process_exists(pid),
            _ => false,
        }
    }

    /// Whether `host` names this machine.
    pub(crate) fn is_this_host(&self) -> bool {
        self.host.as_deref() == Some(hostname().as_str())
    }
}

/// Whether a process with this pid exists; `true` when that cannot be told (no `/proc`).
fn process_exists(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    match std::fs::symlink_metadata(proc.join(pid.to_string())) {
        Ok(_) => true,
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

fn current_user() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

fn hostname() -> String {
    if let Some(h) = std::env::var("HOSTNAME").ok().filter(|v| !v.is_empty()) {
        return h;
    }
    for f in ["/proc/sys/kernel/hostname", "/etc/hostname"] {
        if let Ok(s) = std::fs::read_to_string(f) {
            let s = s.trim();
            if !s.is_empty() {
                return s.to_string();
            }
        }
    }
    "unknown".to_string()
}

/// Interval between attempts in [`lock_with_timeout`].
pub const LOCK_RETRY_INTERVAL: Duration = Duration::from_millis(250);

/// Try to lock, retrying every ~250ms until `timeout` has passed
/// (`Duration::ZERO` = fail at once with [`StateError::Locked`]).
/// Errors other than `Locked` are returned immediately.
pub async fn lock_with_timeout(backend: &dyn Backend, info: &LockInfo, timeout: Duration) -> Result<(), StateError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match backend.try_lock(info).await {
            Ok(()) => return Ok(()),
            Err(StateError::Locked(holder)) => {
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    return Err(StateError::Locked(holder));
                }
                tokio::time::sleep(LOCK_RETRY_INTERVAL.min(deadline - now)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Convenience for incremental writes: saves `snapshot.next()` with CAS against
/// `*persisted`, then replaces `*snapshot` with what was written and sets
/// `*persisted = Some(snapshot.key())`.
///
/// Start with `persisted = loaded.as_ref().map(Snapshot::key)` (None for a brand-new state).
pub async fn save_next(
    backend: &dyn Backend,
    snapshot: &mut Snapshot,
    persisted: &mut Option<StateKey>,
) -> Result<(), StateError> {
    let mut next = snapshot.next();
    next.normalize();
    backend.save(&next, *persisted).await?;
    *persisted = Some(next.key());
    *snapshot = next;
    Ok(())
}

/// Check `snapshot` against `expected` as every backend's `save` must.
pub fn validate_successor(snapshot: &Snapshot, expected: Option<StateKey>) -> Result<(), StateError> {
    if snapshot.version == 0 || snapshot.version > crate::model::FORMAT_VERSION {
        return Err(StateError::UnsupportedVersion(snapshot.version));
    }
    if let Some((lineage, serial)) = expected {
        if snapshot.lineage != lineage {
            return Err(StateError::InvalidSnapshot(format!(
                "snapshot lineage {} differs from expected lineage {lineage}",
                snapshot.lineage
            )));
        }
        if snapshot.serial <= serial {
            return Err(StateError::InvalidSnapshot(format!(
                "snapshot serial {} must be greater than expected serial {serial} (use Snapshot::next())",
                snapshot.serial
            )));
        }
    }
    Ok(())
}
