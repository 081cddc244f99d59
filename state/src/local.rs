//! Local-file backend: state in one JSON file written atomically (temp file + fsync +
//! rename + directory fsync, previous version kept as `<path>.backup`, mode 0600),
//! and an exclusive lock file `<path>.lock` holding the holder's [`LockInfo`].
//!
//! Blocking `std::fs` calls run on tokio's blocking pool (`spawn_blocking`).
//!
//! Compare-and-swap in `save` is read-compare-rename and therefore only race-free
//! between processes that hold the lock; without the lock it still catches the
//! common "someone else applied in the meantime" case.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::backend::{validate_successor, Backend, LockInfo};
use crate::error::{StateError, StateKey};
use crate::model::Snapshot;

/// State stored in a local JSON file.
#[derive(Clone, Debug)]
pub struct LocalBackend {
    path: PathBuf,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s: OsString = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

impl LocalBackend {
    /// Backend for the state file at `path` (need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LocalBackend { path: path.into() }
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `<path>.lock`
    pub fn lock_path(&self) -> PathBuf {
        with_suffix(&self.path, ".lock")
    }

    /// `<path>.backup`: the previous snapshot, refreshed on every save.
    pub fn backup_path(&self) -> PathBuf {
        with_suffix(&self.path, ".backup")
    }

    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn file_name(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "state".to_string())
    }

    fn temp_path(&self, tag: &str) -> PathBuf {
        self.dir().join(format!(".{}.{}.{}.tmp", self.file_name(), tag, uuid::Uuid::new_v4().simple()))
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&LocalBackend) -> Result<T, StateError> + Send + 'static,
    {
        let me = self.clone();
        match tokio::task::spawn_blocking(move || f(&me)).await {
            Ok(r) => r,
            Err(e) => Err(StateError::io(&self.path, io::Error::other(e))),
        }
    }

    /// [`Self::save_sync`] on the blocking pool.
    async fn write(&self, snapshot: Snapshot, expected: Option<StateKey>, successor: bool) -> Result<(), StateError> {
        self.blocking(move |b| b.save_sync(&snapshot, expected, successor)).await
    }

    // ---- synchronous implementation ----

    fn load_sync(&self) -> Result<Option<Snapshot>, StateError> {
        match fs::read_to_string(&self.path) {
            Ok(text) => Snapshot::from_json(&text, &self.path.display().to_string()).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StateError::io(&self.path, e)),
        }
    }

    /// CAS write; `successor` also requires the snapshot to follow `expected` ([`validate_successor`]).
    fn save_sync(&self, snapshot: &Snapshot, expected: Option<StateKey>, successor: bool) -> Result<(), StateError> {
        let dir = self.dir();
        fs::create_dir_all(&dir).map_err(|e| StateError::io(&dir, e))?;

        // CAS against what is on disk. A corrupt file errors out here and is never overwritten.
        let current = self.load_sync()?;
        let found = current.as_ref().map(Snapshot::key);
        if found != expected {
            return Err(StateError::Conflict { expected, found });
        }
        if successor {
            validate_successor(snapshot, expected)?;
        }

        let text = snapshot.to_pretty_json();
        let tmp = self.temp_path("new");
        let result = (|| {
            write_new_file(&tmp, text.as_bytes())?;
            if current.is_some() {
                self.refresh_backup()?;
            }
            fs::rename(&tmp, &self.path).map_err(|e| StateError::io(&self.path, e))?;
            fsync_dir(&dir)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Atomically replace `<path>.backup` with the current state file's content.
    fn refresh_backup(&self) -> Result<(), StateError> {
        let backup = self.backup_path();
        let tmp = self.temp_path("backup");
        // A hard link shares the old inode, which survives the upcoming rename of the new file.
        if fs::hard_link(&self.path, &tmp).is_err() {
            let text = fs::read(&self.path).map_err(|e| StateError::io(&self.path, e))?;
            write_new_file(&tmp, &text)?;
        }
        fs::rename(&tmp, &backup).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            StateError::io(&backup, e)
        })
    }

    fn read_lock_sync(&self) -> Result<Option<LockInfo>, StateError> {
        let lp = self.lock_path();
        match fs::read_to_string(&lp) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| StateError::Corrupt {
                path: lp.display().to_string(),
                line: e.line(),
                column: e.column(),
                message: format!("lock file: {e}"),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StateError::io(&lp, e)),
        }
    }

    fn try_lock_sync(&self, info: &LockInfo) -> Result<(), StateError> {
        let dir = self.dir();
        fs::create_dir_all(&dir).map_err(|e| StateError::io(&dir, e))?;
        let lp = self.lock_path();
        let body = serde_json::to_string_pretty(info).expect("lock info serializes") + "\n";

        // Write the full lock info to a temp file and hard-link it into place: link(2)
        // fails with EEXIST like O_EXCL, and readers never see a half-written lock.
        let tmp = self.temp_path("lock");
        write_new_file(&tmp, body.as_bytes())?;
        let linked = fs::hard_link(&tmp, &lp);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => return fsync_dir(&dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(_) => {
                // Filesystem without hard links: plain O_EXCL create.
                match write_new_file(&lp, body.as_bytes()) {
                    Ok(()) => return fsync_dir(&dir),
                    Err(StateError::Io { source, .. }) if source.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
            }
        }

        // Held by someone else: report who. Tolerate a lock file that is being
        // created (O_EXCL fallback) or removed concurrently.
        let mut last_err = None;
        for _ in 0..5 {
            match self.read_lock_sync() {
                Ok(Some(holder)) => return Err(StateError::Locked(Box::new(holder))),
                Ok(None) => return self.try_lock_sync(info),
                Err(e) => last_err = Some(e),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(last_err.expect("loop ran"))
    }

    fn release_sync(&self, id: &str, absent_ok: bool) -> Result<(), StateError> {
        match self.read_lock_sync()? {
            None if absent_ok => Ok(()),
            None => Err(StateError::NoSuchLock { id: id.to_string(), held_by: None }),
            Some(holder) if holder.id != id => {
                Err(StateError::NoSuchLock { id: id.to_string(), held_by: Some(holder.id) })
            }
            Some(_) => {
                let lp = self.lock_path();
                match fs::remove_file(&lp) {
                    Ok(()) => fsync_dir(&self.dir()),
                    Err(e) if e.kind() == io::ErrorKind::NotFound && absent_ok => Ok(()),
                    Err(e) => Err(StateError::io(&lp, e)),
                }
            }
        }
    }
}

/// Create `path` exclusively with mode 0600, write `data` and fsync it.
fn write_new_file(path: &Path, data: &[u8]) -> Result<(), StateError> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| StateError::io(path, e))?;
    let res = f.write_all(data).and_then(|_| f.sync_all());
    if let Err(e) = res {
        drop(f);
        let _ = fs::remove_file(path);
        return Err(StateError::io(path, e));
    }
    Ok(())
}

/// Make a rename/create/unlink in `dir` durable.
fn fsync_dir(dir: &Path) -> Result<(), StateError> {
    #[cfg(unix)]
    {
        let d = File::open(dir).map_err(|e| StateError::io(dir, e))?;
        d.sync_all().map_err(|e| StateError::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[async_trait::async_trait]
impl Backend for LocalBackend {
    fn describe(&self) -> String {
        format!("local file {}", self.path.display())
    }

    async fn load(&self) -> Result<Option<Snapshot>, StateError> {
        self.blocking(|b| b.load_sync()).await
    }

    async fn save(&self, snapshot: &Snapshot, expected: Option<StateKey>) -> Result<(), StateError> {
        self.write(snapshot.clone(), expected, true).await
    }

    async fn replace(&self, snapshot: &Snapshot, expected: Option<StateKey>) -> Result<(), StateError> {
        self.write(snapshot.clone(), expected, false).await
    }

    async fn try_lock(&self, info: &LockInfo) -> Result<(), StateError> {
        let info = info.clone();
        self.blocking(move |b| b.try_lock_sync(&info)).await
    }

    async fn unlock(&self, id: &str) -> Result<(), StateError> {
        let id = id.to_string();
        self.blocking(move |b| b.release_sync(&id, true)).await
    }

    async fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        let id = id.to_string();
        self.blocking(move |b| b.release_sync(&id, false)).await
    }

    async fn lock_info(&self) -> Result<Option<LockInfo>, StateError> {
        self.blocking(|b| b.read_lock_sync()).await
    }
}
