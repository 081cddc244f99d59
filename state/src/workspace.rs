//! Workspaces (as in Terraform): one backend *configuration* holding many independent
//! states, each with its own lock and backup. The [`Workspaces`] trait names, lists and
//! deletes them and hands out each one's [`Backend`]; workspace names are checked by
//! [`validate_workspace_name`]. [`LocalWorkspaces`] is the local-file implementation.
//!
//! Storage-agnostic on purpose: a remote backend keys each workspace's state by name
//! (e.g. S3 under a `workspace_key_prefix`) the same way.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::backend::{Backend, LockInfo};
use crate::error::StateError;
use crate::local::LocalBackend;

/// The workspace that always exists and uses the configured state location itself.
pub const DEFAULT_WORKSPACE: &str = "default";

/// Longest workspace name accepted.
const MAX_NAME_LEN: usize = 64;

/// A workspace name is 1–64 characters of `[A-Za-z0-9_-]` not starting with `-`
/// ([`StateError::InvalidWorkspaceName`] otherwise). The rules keep a name safe as a path
/// component or an object-key segment.
pub fn validate_workspace_name(name: &str) -> Result<(), StateError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with('-')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidWorkspaceName(name.to_string()))
    }
}

/// A backend configuration that holds many workspaces.
#[async_trait::async_trait]
pub trait Workspaces: Send + Sync {
    /// Human description of the configuration, e.g. "local files under .provisioner".
    fn describe(&self) -> String;

    /// The backend holding workspace `name`'s state (its own state, lock and backup).
    /// Validates the name.
    fn backend(&self, name: &str) -> Result<Arc<dyn Backend>, StateError>;

    /// Workspaces that have a state, sorted; `default` only if its state exists.
    async fn list(&self) -> Result<Vec<String>, StateError>;

    /// Removes the workspace's state, backup and (for local) its now-empty directory.
    /// Refuses (error) when the workspace is locked ([`StateError::Locked`]), when it is
    /// `default` ([`StateError::DeleteDefaultWorkspace`]), when it has no state
    /// ([`StateError::NoSuchWorkspace`]), or when its state still holds resources or
    /// released objects whose tags are not stripped yet ([`StateError::WorkspaceNotEmpty`]).
    async fn delete(&self, name: &str) -> Result<(), StateError>;
}

/// Workspaces as local state files: `default` is the configured `path` itself (so a
/// state made before workspaces existed keeps working); workspace `W` is
/// `<dir of path>/W/<file name of path>`, e.g. `.provisioner/state.json` →
/// `.provisioner/staging/state.json`.
#[derive(Clone, Debug)]
pub struct LocalWorkspaces {
    path: PathBuf,
}

impl LocalWorkspaces {
    /// Workspaces around the default state file `path` (need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LocalWorkspaces { path: path.into() }
    }

    /// The state file of workspace `name`. The name is not checked here: pass only names
    /// that passed [`validate_workspace_name`] ([`Workspaces::backend`] does).
    pub fn path_for(&self, name: &str) -> PathBuf {
        if name == DEFAULT_WORKSPACE {
            self.path.clone()
        } else {
            self.dir().join(name).join(self.file_name())
        }
    }

    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn file_name(&self) -> std::ffi::OsString {
        self.path.file_name().map(|n| n.to_owned()).unwrap_or_else(|| "state".into())
    }

    fn list_sync(&self) -> Result<Vec<String>, StateError> {
        let mut names = BTreeSet::new();
        if exists(&self.path)? {
            names.insert(DEFAULT_WORKSPACE.to_string());
        }
        let dir = self.dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(names.into_iter().collect()),
            Err(e) => return Err(StateError::io(&dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| StateError::io(&dir, e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name == DEFAULT_WORKSPACE || validate_workspace_name(&name).is_err() {
                continue;
            }
            let is_dir = entry.file_type().map_err(|e| StateError::io(entry.path(), e))?.is_dir();
            if is_dir && exists(&self.path_for(&name))? {
                names.insert(name);
            }
        }
        Ok(names.into_iter().collect())
    }
}

/// [`StateError::WorkspaceNotEmpty`] unless the workspace's state tracks nothing (no resources,
/// no released objects whose tags are still to strip): what `delete` requires.
pub(crate) fn ensure_empty(name: &str, snapshot: &crate::model::Snapshot) -> Result<(), StateError> {
    if snapshot.resources.is_empty() && snapshot.released.is_empty() {
        return Ok(());
    }
    Err(StateError::WorkspaceNotEmpty {
        name: name.to_string(),
        resources: snapshot.resources.len(),
        released: snapshot.released.len(),
    })
}

/// Whether `p` exists; errors other than "not found" are reported, not taken as "no".
fn exists(p: &Path) -> Result<bool, StateError> {
    match std::fs::symlink_metadata(p) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StateError::io(p, e)),
    }
}

/// Remove `p`; an absent file is fine.
fn remove_if_exists(p: &Path) -> Result<(), StateError> {
    match std::fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StateError::io(p, e)),
    }
}

#[async_trait::async_trait]
impl Workspaces for LocalWorkspaces {
    fn describe(&self) -> String {
        format!("local files: default {}, others {}", self.path.display(), self.path_for("WORKSPACE").display())
    }

    fn backend(&self, name: &str) -> Result<Arc<dyn Backend>, StateError> {
        validate_workspace_name(name)?;
        Ok(Arc::new(LocalBackend::new(self.path_for(name))))
    }

    async fn list(&self) -> Result<Vec<String>, StateError> {
        let me = self.clone();
        match tokio::task::spawn_blocking(move || me.list_sync()).await {
            Ok(r) => r,
            Err(e) => Err(StateError::io(&self.path, io::Error::other(e))),
        }
    }

    /// Takes the workspace's lock for the duration, so a run that starts meanwhile
    /// either finishes first (and delete sees its resources) or finds no state.
    async fn delete(&self, name: &str) -> Result<(), StateError> {
        validate_workspace_name(name)?;
        if name == DEFAULT_WORKSPACE {
            return Err(StateError::DeleteDefaultWorkspace);
        }
        let backend = LocalBackend::new(self.path_for(name));
        // Check before locking: locking creates the directory of a workspace that does not exist.
        if backend.load().await?.is_none() {
            return Err(StateError::NoSuchWorkspace(name.to_string()));
        }
        let lock = LockInfo::new("workspace delete", &backend.describe());
        backend.try_lock(&lock).await?;
        let result = async {
            let snapshot = backend.load().await?.ok_or_else(|| StateError::NoSuchWorkspace(name.to_string()))?;
            ensure_empty(name, &snapshot)?;
            remove_if_exists(backend.path())?;
            remove_if_exists(&backend.backup_path())
        }
        .await;
        let unlocked = backend.unlock(&lock.id).await;
        result?;
        unlocked?;
        // Remove the directory only if nothing else is left in it (e.g. a lock taken since).
        let dir = backend.path().parent().expect("a workspace state path has a directory").to_path_buf();
        match std::fs::remove_dir(&dir) {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::DirectoryNotEmpty) => Ok(()),
            Err(e) => Err(StateError::io(&dir, e)),
        }
    }
}
