//! Error type shared by the state model and every backend, with user-facing hints.

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

    /// The stored state (or lock file) could not be parsed. Never treated as "no state".
    #[error("state at {path} is corrupt (line {line}, column {column}): {message}")]
    Corrupt {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },

    /// Somebody else holds the lock (boxed to keep `Result<_, StateError>` small).
    #[error(
        "state is locked by {} (operation \"{}\", since {}, lock ID {}){}",
        .0.who,
        .0.operation,
        .0.created.format("%Y-%m-%d %H:%M:%S UTC"),
        .0.id,
        lock_path_suffix(&.0.path)
    )]
    Locked(Box<LockInfo>),

    /// Compare-and-swap failed: the stored state is not the one the caller last saw.
    #[error(
        "state conflict: expected {} but the backend holds {}; someone else wrote the state",
        fmt_key(.expected),
        fmt_key(.found)
    )]
    Conflict {
        expected: Option<StateKey>,
        found: Option<StateKey>,
    },

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
        StateError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    /// A short suggestion for the user on how to proceed, if there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            StateError::Io { .. } => Some(
                "check that the state path exists, is writable and the disk is not full".into(),
            ),
            StateError::Corrupt { path, .. } => Some(format!(
                "fix {path} by hand or restore it from {path}.backup; it will not be overwritten while corrupt"
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
        }
    }
}
