//! Error type shared by the state model, every backend and workspaces, with user-facing hints.

use crate::backend::LockInfo;

/// `(lineage, serial)` pair identifying one stored version of a state.
pub type StateKey = (uuid::Uuid, u64);

/// Everything that can go wrong while reading, writing or locking state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// An I/O operation on `path` failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// A request to a remote store (S3) failed for a reason other than a condition
    /// (`location` is e.g. `s3://bucket/key`; `message` carries the service's error code).
    #[error("{operation} {location} failed: {message}")]
    Remote { operation: String, location: String, message: String },

    /// The stored state (or lock file) could not be parsed. Never treated as "no state".
    #[error("state at {path} is corrupt (line {line}, column {column}): {message}")]
    Corrupt { path: String, line: usize, column: usize, message: String },

    /// Somebody else holds the lock (boxed to keep `Result<_, StateError>` small).
    /// When the holder was a process of this machine that no longer runs
    /// ([`LockInfo::holder_is_dead`]) the message says so; the lock is still never removed
    /// automatically.
    #[error("{}", locked_message(.0))]
    Locked(Box<LockInfo>),

    /// Compare-and-swap failed: the stored state is not the one the caller last saw.
    #[error(
        "state conflict: expected {} but the backend holds {}; someone else wrote the state",
        fmt_key(.expected),
        fmt_key(.found)
    )]
    Conflict { expected: Option<StateKey>, found: Option<StateKey> },

    /// `unlock` / `force_unlock` was given an id that does not match the current lock.
    #[error("no lock with ID {id}{}", held_by_suffix(.held_by))]
    NoSuchLock {
        id: String,
        /// Lock ID of the current holder, if the state is locked at all.
        held_by: Option<String>,
    },

    /// The state was written by a newer (or unknown) format version.
    #[error(
        "unsupported state format version {0} (this build understands version {max})",
        max = crate::model::FORMAT_VERSION
    )]
    UnsupportedVersion(u32),

    /// The snapshot handed to `save` is inconsistent with `expected`
    /// (different lineage, or serial not greater than the expected serial).
    #[error("invalid snapshot for save: {0}")]
    InvalidSnapshot(String),

    /// A workspace name outside [`validate_workspace_name`](crate::validate_workspace_name)'s rules.
    #[error(
        "invalid workspace name {0:?}: a workspace name is 1 to 64 letters, digits, '_' or '-', and does not start with '-'"
    )]
    InvalidWorkspaceName(String),

    /// The workspace has no state.
    #[error("workspace {0:?} does not exist (it has no state)")]
    NoSuchWorkspace(String),

    /// `delete` of the `default` workspace, which always exists.
    #[error("the default workspace cannot be deleted")]
    DeleteDefaultWorkspace,

    /// `delete` of a workspace whose state still tracks objects: deleting it would lose track of them.
    #[error("workspace {name:?} is not empty: its state still {}", not_empty_detail(*.resources, *.released))]
    WorkspaceNotEmpty {
        name: String,
        /// Resource records in its state.
        resources: usize,
        /// Released objects whose tags have not been stripped yet ([`Snapshot::released`](crate::Snapshot::released)).
        released: usize,
    },
}

fn locked_message(info: &LockInfo) -> String {
    if info.holder_is_dead() {
        let now = chrono::Utc::now();
        let since = if info.created.date_naive() == now.date_naive() {
            info.created.format("%H:%M:%S (UTC)")
        } else {
            info.created.format("%Y-%m-%d %H:%M:%S (UTC)")
        };
        return format!(
            "state is locked: held by pid {} on this host since {since}, which is no longer running (operation: {}, lock id {}){}",
            info.pid.unwrap_or_default(),
            info.operation,
            short_id(&info.id),
            lock_path_suffix(&info.path)
        );
    }
    let process = match (info.pid, info.host.as_deref()) {
        (Some(pid), _) if info.is_this_host() => format!(", pid {pid} on this host"),
        (Some(pid), Some(host)) => format!(", pid {pid} on host {host}"),
        (Some(pid), None) => format!(", pid {pid}"),
        (None, Some(host)) => format!(", on host {host}"),
        (None, None) => String::new(),
    };
    format!(
        "state is locked by {}{process} (operation \"{}\", since {}, lock ID {}){}",
        info.who,
        info.operation,
        info.created.format("%Y-%m-%d %H:%M:%S UTC"),
        info.id,
        lock_path_suffix(&info.path)
    )
}

/// First 8 characters of a lock id followed by `…` (the hint carries the full id).
fn short_id(id: &str) -> String {
    match id.char_indices().nth(8) {
        Some((i, _)) => format!("{}…", &id[..i]),
        None => id.to_string(),
    }
}

fn not_empty_detail(resources: usize, released: usize) -> String {
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("{n} {one}")
        } else {
            format!("{n} {many}")
        }
    };
    match (resources, released) {
        (r, 0) => format!("tracks {}", plural(r, "resource", "resources")),
        (0, l) => format!(
            "records {} whose provisioner tags were not removed yet",
            plural(l, "released object", "released objects")
        ),
        (r, l) => format!(
            "tracks {} and records {} whose provisioner tags were not removed yet",
            plural(r, "resource", "resources"),
            plural(l, "released object", "released objects")
        ),
    }
}

fn fmt_key(k: &Option<StateKey>) -> String {
    match k {
        None => "no state".to_string(),
        Some((lineage, serial)) => format!("lineage {lineage} serial {serial}"),
    }
}

fn held_by_suffix(h: &Option<String>) -> String {
    match h {
        None => " (the state is not locked)".to_string(),
        Some(id) => format!(" (the state is currently locked with ID {id})"),
    }
}

fn lock_path_suffix(p: &str) -> String {
    if p.is_empty() {
        String::new()
    } else {
        format!(" on {p}")
    }
}

impl StateError {
    /// Build an [`StateError::Io`] from a path-like value.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        StateError::Io { path: path.as_ref().display().to_string(), source }
    }

    /// A short suggestion for the user on how to proceed, if there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            StateError::Io { .. } => Some(
                "check that the state path exists, is writable and the disk is not full".into(),
            ),
            StateError::Remote { .. } => Some(
                "check the credentials (AWS_PROFILE, AWS_* variables), the bucket name and region, network access \
                 and the IAM permissions on the bucket (s3:ListBucket, s3:GetObject, s3:PutObject, s3:DeleteObject)"
                    .into(),
            ),
            StateError::Corrupt { path, .. } if path.starts_with("s3://") => Some(format!(
                "fix {path} by hand or restore an earlier version of it (bucket versioning); it will not be overwritten while corrupt"
            )),
            StateError::Corrupt { path, .. } => Some(format!(
                "fix {path} by hand or restore it from {path}.backup; it will not be overwritten while corrupt"
            )),
            StateError::Locked(info) if info.holder_is_dead() => Some(format!(
                "if no other provisioner is running, remove the lock with: provisioner force-unlock {}",
                info.id
            )),
            StateError::Locked(info) => Some(format!(
                "wait for the other operation to finish, retry with a lock timeout, or if it crashed run `provisioner force-unlock {}`",
                info.id
            )),
            StateError::Conflict { .. } => Some(
                "another process changed the state since it was read; re-run the command to plan against the latest state"
                    .into(),
            ),
            StateError::NoSuchLock { held_by: Some(h), .. } => Some(format!(
                "the current lock ID is {h}; pass that to `provisioner force-unlock` if the holder is really gone"
            )),
            StateError::NoSuchLock { held_by: None, .. } => {
                Some("nothing to unlock: the state is not locked".into())
            }
            StateError::UnsupportedVersion(_) => {
                Some("upgrade provisioner to a version that understands this state format".into())
            }
            StateError::InvalidSnapshot(_) => Some(
                "this is a bug in the caller: save a snapshot derived from the loaded one via Snapshot::next()"
                    .into(),
            ),
            StateError::InvalidWorkspaceName(_) => Some(
                "use only letters, digits, '_' and '-' (at most 64), e.g. `staging` or `eu_prod-2`".into(),
            ),
            StateError::NoSuchWorkspace(_) => {
                Some("check the name: only workspaces that have a state exist".into())
            }
            StateError::DeleteDefaultWorkspace => Some(
                "the default workspace holds the state at the configured path; destroy its resources instead".into(),
            ),
            StateError::WorkspaceNotEmpty { resources: 0, .. } => Some(
                "run provisioner in that workspace once AWS is reachable, so it removes the tags of the released objects first"
                    .into(),
            ),
            StateError::WorkspaceNotEmpty { .. } => Some(
                "destroy its resources first (or forget them with `state rm`), then delete the workspace".into(),
            ),
        }
    }
}
