//! S3 backend: each workspace's state is one object, written only by compare-and-swap, and
//! locked by a second object next to it.
//!
//! **Keys.** Workspace `default` lives at `<key>`; workspace `W` at `<workspace_key_prefix>/W/<key>`
//! (prefix `env:` by default, as Terraform). The lock of a state at `K` is the object `K.lock`.
//!
//! **Writes are conditional** ([`S3Backend::save`]): the first write of a state is a PutObject with
//! `If-None-Match: *`, every later one carries `If-Match: <the ETag last read or written>`. A 412
//! (someone else wrote, or deleted) is a [`StateError::Conflict`] and nothing is overwritten —
//! unless the object now holds exactly the text we sent: then the 412 answered an SDK retry of our
//! own write whose reply was lost, and the write succeeded. A 409
//! `ConditionalRequestConflict` (a concurrent conditional write) is retried with the *same* expected
//! ETag, after checking with a HEAD that the ETag has not moved (if it has, it is a conflict). Every
//! write asks for server-side encryption: `aws:kms` with the configured key, else `AES256`.
//!
//! **Locks** ([`LockBody`]: the [`LockInfo`] fields plus a lease expiry and a random owner token)
//! are created with `If-None-Match: *`. When that gets a 412 the lock is read: if it carries our own
//! token, the 412 answered an SDK retry of our own write whose reply was lost, and we hold the lock
//! (opentofu#4405 is this case done wrong); if its lease has expired it is taken over by a write with
//! `If-Match` on its ETag, with a warning naming the previous holder; otherwise the state is
//! [`StateError::Locked`]. While held, a background task renews the lease (a conditional re-PUT every
//! third of the lease). Unlock checks the id and token, then deletes with `If-Match` on the lock's ETag.
//! A holder whose lock was taken over cannot overwrite the new holder's state: its next state write
//! fails its `If-Match`.
//!
//! The S3 client is built lazily, on first use, by a [`ClientFactory`] the caller supplies (so this
//! crate does not pick credentials or endpoints); the bucket's versioning and default encryption are
//! checked then, and a warning is logged (`tracing`) when either is off.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, ServerSideEncryption};
use aws_sdk_s3::Client;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::backend::{validate_successor, Backend, LockInfo};
use crate::error::{StateError, StateKey};
use crate::model::Snapshot;
use crate::workspace::{ensure_empty, validate_workspace_name, Workspaces, DEFAULT_WORKSPACE};

/// Terraform's default `workspace_key_prefix`.
pub const DEFAULT_WORKSPACE_KEY_PREFIX: &str = "env:";

/// How long a lock stays valid without renewal.
pub const DEFAULT_LOCK_LEASE: Duration = Duration::from_secs(300);

/// Attempts for one conditional operation that keeps meeting concurrent writers (409s, a lock
/// released or taken over between our write and our read).
const ATTEMPTS: u32 = 5;

/// Where the states live and how they are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    /// Key of the `default` workspace's state.
    pub key: String,
    /// Other workspaces live at `<workspace_key_prefix>/<name>/<key>`.
    pub workspace_key_prefix: String,
    /// KMS key for `aws:kms` server-side encryption; `AES256` when None.
    pub kms_key_id: Option<String>,
    /// Lease of a lock; renewed every third of it while held.
    pub lease: Duration,
}

impl S3Settings {
    /// Settings with Terraform's defaults (`env:` prefix, AES256, [`DEFAULT_LOCK_LEASE`]).
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        S3Settings {
            bucket: bucket.into(),
            key: key.into(),
            workspace_key_prefix: DEFAULT_WORKSPACE_KEY_PREFIX.to_string(),
            kms_key_id: None,
            lease: DEFAULT_LOCK_LEASE,
        }
    }

    /// Object key of workspace `name`'s state (the name is not validated here).
    pub fn state_key(&self, name: &str) -> String {
        if name == DEFAULT_WORKSPACE {
            self.key.clone()
        } else {
            format!("{}/{name}/{}", self.workspace_key_prefix, self.key)
        }
    }

    /// The workspace whose state is at `key`, if `key` is a (non-default) workspace's state key.
    fn workspace_of(&self, key: &str) -> Option<String> {
        let rest = key.strip_prefix(&self.workspace_key_prefix)?.strip_prefix('/')?;
        let (name, tail) = rest.split_once('/')?;
        (tail == self.key && name != DEFAULT_WORKSPACE && validate_workspace_name(name).is_ok())
            .then(|| name.to_string())
    }
}

/// Object key of the lock of the state at `state_key`.
pub fn lock_key(state_key: &str) -> String {
    format!("{state_key}.lock")
}

/// What a lock object holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockBody {
    /// Holder (who, host, pid), operation, time and the id `force-unlock` takes.
    #[serde(flatten)]
    pub info: LockInfo,
    /// After this instant anyone may take the lock over.
    pub lease_expires: DateTime<Utc>,
    /// Random, per lock taken: tells our own lock from anyone else's.
    pub owner_token: String,
}

/// What to do with a lock found in place when we wanted to create ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockVerdict {
    /// It carries our token: an earlier attempt of ours stored it; we hold the lock.
    Ours,
    /// Its lease expired: it may be taken over (conditionally on its ETag).
    Expired,
    /// Someone else holds it.
    Held,
}

impl LockBody {
    pub fn new(info: LockInfo, owner_token: &str, lease: Duration, now: DateTime<Utc>) -> Self {
        LockBody { info, lease_expires: lease_end(now, lease), owner_token: owner_token.to_string() }
    }

    /// How a lock attempt carrying `token` at `now` should treat this lock.
    pub fn verdict(&self, token: &str, now: DateTime<Utc>) -> LockVerdict {
        if self.owner_token == token {
            LockVerdict::Ours
        } else if self.lease_expires <= now {
            LockVerdict::Expired
        } else {
            LockVerdict::Held
        }
    }

    fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("lock body serializes") + "\n"
    }

    fn parse(text: &str, location: &str) -> Result<LockBody, StateError> {
        serde_json::from_str(text).map_err(|e| StateError::Corrupt {
            path: location.to_string(),
            line: e.line(),
            column: e.column(),
            message: format!("lock object: {e}"),
        })
    }
}

/// `now + lease`, saturating.
fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    chrono::TimeDelta::from_std(lease).ok().and_then(|d| now.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Builds the S3 client when it is first needed (`Err` = a message saying why it could not be).
pub type ClientFactory = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<Client, String>> + Send>> + Send + Sync>;

/// The shared connection: settings, and the client built on first use.
struct Conn {
    settings: S3Settings,
    factory: Option<ClientFactory>,
    client: tokio::sync::OnceCell<Client>,
}

/// How a request failed, as far as the conditional protocol is concerned.
enum Failure {
    /// 412: the condition did not hold.
    Precondition,
    /// 409 ConditionalRequestConflict: a concurrent conditional write; retry with the same condition.
    Busy,
    /// 404: no such key.
    NotFound,
    Other(StateError),
}

/// The condition of a write.
#[derive(Clone, Copy)]
enum Cond<'a> {
    /// `If-None-Match: *`
    Absent,
    /// `If-Match: <etag>`
    Match(&'a str),
}

impl Conn {
    fn location(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.settings.bucket)
    }

    async fn client(&self) -> Result<&Client, StateError> {
        self.client
            .get_or_try_init(|| async {
                let factory = self
                    .factory
                    .as_ref()
                    .ok_or_else(|| self.remote("connect to", &self.settings.key, "no S3 client".into()))?;
                let client = factory().await.map_err(|m| self.remote("connect to", &self.settings.key, m))?;
                for w in bucket_warnings(&client, &self.settings.bucket).await {
                    tracing::warn!("{w}");
                }
                Ok(client)
            })
            .await
    }

    fn remote(&self, operation: &str, key: &str, message: String) -> StateError {
        StateError::Remote { operation: operation.to_string(), location: self.location(key), message }
    }

    fn classify<E>(&self, operation: &str, key: &str, e: SdkError<E, HttpResponse>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = e.raw_response().map(|r| r.status().as_u16());
        match (status, e.code()) {
            // A missing bucket is an error, never "no state yet".
            (_, Some("NoSuchBucket")) => Failure::Other(self.remote(
                operation,
                key,
                format!("bucket {} does not exist (NoSuchBucket)", self.settings.bucket),
            )),
            (Some(412), _) | (_, Some("PreconditionFailed")) => Failure::Precondition,
            (Some(409), _) | (_, Some("ConditionalRequestConflict")) => Failure::Busy,
            (_, Some("NoSuchKey" | "NotFound")) | (Some(404), None) => Failure::NotFound,
            _ => Failure::Other(self.remote(operation, key, DisplayErrorContext(&e).to_string())),
        }
    }

    /// The object's text and ETag, or None when it does not exist.
    async fn get(&self, key: &str) -> Result<Option<(String, String)>, StateError> {
        let client = self.client().await?;
        let out = match client.get_object().bucket(&self.settings.bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) => {
                return match self.classify("GetObject", key, e) {
                    Failure::NotFound => Ok(None),
                    Failure::Other(e) => Err(e),
                    _ => Err(self.remote("GetObject", key, "unexpected conditional failure".into())),
                }
            }
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| self.remote("GetObject", key, format!("reading the body: {e}")))?
            .into_bytes();
        let text = String::from_utf8(bytes.to_vec()).map_err(|e| StateError::Corrupt {
            path: self.location(key),
            line: 1,
            column: 1,
            message: format!("not UTF-8: {e}"),
        })?;
        Ok(Some((text, etag)))
    }

    /// The object's ETag, or None when it does not exist.
    async fn head(&self, key: &str) -> Result<Option<String>, StateError> {
        let client = self.client().await?;
        match client.head_object().bucket(&self.settings.bucket).key(key).send().await {
            Ok(out) => Ok(Some(out.e_tag().unwrap_or_default().to_string())),
            Err(e) => match self.classify("HeadObject", key, e) {
                Failure::NotFound => Ok(None),
                Failure::Other(e) => Err(e),
                _ => Err(self.remote("HeadObject", key, "unexpected conditional failure".into())),
            },
        }
    }

    /// One conditional PutObject with server-side encryption; the new ETag.
    async fn put(&self, key: &str, body: &str, cond: Cond<'_>) -> Result<String, Failure> {
        let client = self.client().await.map_err(Failure::Other)?;
        let mut req = client
            .put_object()
            .bucket(&self.settings.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body.as_bytes().to_vec()));
        req = match cond {
            Cond::Absent => req.if_none_match("*"),
            Cond::Match(etag) => req.if_match(etag),
        };
        req = match &self.settings.kms_key_id {
            Some(kms) => req.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(kms),
            None => req.server_side_encryption(ServerSideEncryption::Aes256),
        };
        match req.send().await {
            Ok(out) => Ok(out.e_tag().unwrap_or_default().to_string()),
            Err(e) => Err(self.classify("PutObject", key, e)),
        }
    }

    /// DeleteObject with `If-Match: etag`.
    async fn delete(&self, key: &str, etag: &str) -> Result<(), Failure> {
        let client = self.client().await.map_err(Failure::Other)?;
        match client.delete_object().bucket(&self.settings.bucket).key(key).if_match(etag).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.classify("DeleteObject", key, e)),
        }
    }

    /// Keys under `prefix` (all pages).
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        let client = self.client().await?;
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = client
                .list_objects_v2()
                .bucket(&self.settings.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| match self.classify("ListObjectsV2", prefix, e) {
                    Failure::Other(e) => e,
                    _ => self.remote("ListObjectsV2", prefix, "bucket not found".into()),
                })?;
            keys.extend(out.contents().iter().filter_map(|o| o.key().map(str::to_string)));
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => return Ok(keys),
            }
        }
    }
}

/// Warnings about a bucket unfit to hold state: not versioned (an overwritten or deleted state
/// cannot be recovered), no default encryption, or the checks themselves failing.
pub async fn bucket_warnings(client: &Client, bucket: &str) -> Vec<String> {
    let mut warnings = Vec::new();
    match client.get_bucket_versioning().bucket(bucket).send().await {
        Ok(v) if v.status() == Some(&BucketVersioningStatus::Enabled) => {}
        Ok(_) => warnings.push(format!(
            "S3 bucket {bucket} is not versioned: an earlier state cannot be recovered if one is overwritten or deleted; \
             enable versioning (aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled)"
        )),
        Err(e) => warnings.push(format!(
            "could not check the versioning of S3 bucket {bucket}: {}",
            short_error(&e)
        )),
    }
    match client.get_bucket_encryption().bucket(bucket).send().await {
        Ok(_) => {}
        Err(e) if e.code() == Some("ServerSideEncryptionConfigurationNotFoundError") => warnings.push(format!(
            "S3 bucket {bucket} has no default encryption; state writes still ask for server-side encryption, \
                 but other objects of the bucket are stored unencrypted"
        )),
        Err(e) => {
            warnings.push(format!("could not check the default encryption of S3 bucket {bucket}: {}", short_error(&e)))
        }
    }
    warnings
}

/// The error code and message, or the first 200 characters of the whole error chain (an
/// unparsable reply has no code).
fn short_error<E>(e: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (e.code(), e.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_string(),
        _ => DisplayErrorContext(e).to_string().chars().take(200).collect(),
    }
}

/// A lock this process holds.
struct Held {
    body: LockBody,
    etag: String,
}

/// One workspace's state object in S3, with its lock object.
pub struct S3Backend {
    conn: Arc<Conn>,
    key: String,
    /// The state last read or written, and its ETag: what the next write is conditional on.
    seen: Mutex<Option<(StateKey, String)>>,
    held: Arc<tokio::sync::Mutex<Option<Held>>>,
    renewal: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl S3Backend {
    fn new(conn: Arc<Conn>, key: String) -> Self {
        S3Backend {
            conn,
            key,
            seen: Mutex::new(None),
            held: Arc::new(tokio::sync::Mutex::new(None)),
            renewal: Mutex::new(None),
        }
    }

    /// Object key of the state.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Object key of the lock.
    pub fn lock_key(&self) -> String {
        lock_key(&self.key)
    }

    fn location(&self) -> String {
        self.conn.location(&self.key)
    }

    fn remember(&self, seen: Option<(StateKey, String)>) {
        *self.seen.lock().expect("seen lock") = seen;
    }

    /// The stored state's key (None if absent) and ETag.
    async fn read_state(&self) -> Result<Option<(Snapshot, String)>, StateError> {
        match self.conn.get(&self.key).await? {
            None => Ok(None),
            Some((text, etag)) => Ok(Some((Snapshot::from_json(&text, &self.location())?, etag))),
        }
    }

    /// The ETag the write replacing state `expected` must match.
    async fn expected_etag(&self, expected: StateKey) -> Result<String, StateError> {
        if let Some((key, etag)) = self.seen.lock().expect("seen lock").clone() {
            if key == expected {
                return Ok(etag);
            }
        }
        match self.read_state().await? {
            Some((snap, etag)) if snap.key() == expected => Ok(etag),
            other => Err(StateError::Conflict { expected: Some(expected), found: other.map(|(s, _)| s.key()) }),
        }
    }

    /// The conflict to report after a refused write: what the store holds now.
    async fn conflict(&self, expected: Option<StateKey>) -> StateError {
        match self.read_state().await {
            Ok(found) => StateError::Conflict { expected, found: found.map(|(s, _)| s.key()) },
            Err(e) => e,
        }
    }

    /// The conditional PutObject of a state (see the module docs); `save` and `replace` check the
    /// snapshot first.
    async fn write(&self, snapshot: &Snapshot, expected: Option<StateKey>) -> Result<(), StateError> {
        let etag = match expected {
            None => None,
            Some(k) => Some(self.expected_etag(k).await?),
        };
        let cond = match &etag {
            None => Cond::Absent,
            Some(e) => Cond::Match(e),
        };
        let body = snapshot.to_pretty_json();
        for attempt in 1..=ATTEMPTS {
            match self.conn.put(&self.key, &body, cond).await {
                Ok(new_etag) => {
                    self.remember(Some((snapshot.key(), new_etag)));
                    return Ok(());
                }
                Err(Failure::Precondition | Failure::NotFound) => {
                    // An SDK retry of our own write whose reply was lost fails its condition
                    // against what that write stored: the object then holds exactly our text.
                    if let Ok(Some((text, stored_etag))) = self.conn.get(&self.key).await {
                        if text == body {
                            self.remember(Some((snapshot.key(), stored_etag)));
                            return Ok(());
                        }
                    }
                    return Err(self.conflict(expected).await);
                }
                Err(Failure::Busy) => {
                    // Retry only while the object is still the one we expect.
                    let now = self.conn.head(&self.key).await?;
                    if now != etag {
                        return Err(self.conflict(expected).await);
                    }
                    tracing::debug!(attempt, "409 ConditionalRequestConflict on the state write; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
                Err(Failure::Other(e)) => return Err(e),
            }
        }
        Err(self.conn.remote(
            "PutObject",
            &self.key,
            format!("409 ConditionalRequestConflict {ATTEMPTS} times in a row"),
        ))
    }

    /// Record a lock we now hold and start renewing its lease.
    async fn hold(&self, body: LockBody, etag: String) {
        *self.held.lock().await = Some(Held { body, etag });
        let conn = self.conn.clone();
        let held = self.held.clone();
        let key = self.lock_key();
        let period = (conn.settings.lease / 3).max(Duration::from_millis(100));
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let mut guard = held.lock().await;
                let Some(h) = guard.as_mut() else { return };
                if !renew(&conn, &key, h).await {
                    *guard = None;
                    return;
                }
            }
        });
        if let Some(old) = self.renewal.lock().expect("renewal lock").replace(task) {
            old.abort();
        }
    }

    /// Stop renewing and forget the held lock (returning it).
    async fn release_held(&self) -> Option<Held> {
        // Holding the mutex, the renewal task is not in the middle of a write.
        let mut guard = self.held.lock().await;
        if let Some(task) = self.renewal.lock().expect("renewal lock").take() {
            task.abort();
        }
        guard.take()
    }

    /// Delete the lock with id `id` (and, when `token` is given, that token), conditionally on its ETag.
    async fn delete_lock(&self, id: &str, token: Option<&str>, absent_ok: bool) -> Result<(), StateError> {
        let lk = self.lock_key();
        for _ in 0..ATTEMPTS {
            let Some((text, etag)) = self.conn.get(&lk).await? else {
                return if absent_ok {
                    Ok(())
                } else {
                    Err(StateError::NoSuchLock { id: id.to_string(), held_by: None })
                };
            };
            let body = LockBody::parse(&text, &self.conn.location(&lk))?;
            if body.info.id != id || token.is_some_and(|t| t != body.owner_token) {
                return Err(StateError::NoSuchLock { id: id.to_string(), held_by: Some(body.info.id) });
            }
            match self.conn.delete(&lk, &etag).await {
                Ok(()) | Err(Failure::NotFound) => return Ok(()),
                // Renewed or taken over in between: look again.
                Err(Failure::Precondition | Failure::Busy) => continue,
                Err(Failure::Other(e)) => return Err(e),
            }
        }
        Err(self.conn.remote("unlock", &lk, "the lock kept changing while it was being removed".into()))
    }
}

/// Re-PUT a held lock with a new lease, conditionally on its ETag. False when the lock is no
/// longer ours (taken over or removed).
async fn renew(conn: &Conn, key: &str, h: &mut Held) -> bool {
    let mut body = h.body.clone();
    body.lease_expires = lease_end(Utc::now(), conn.settings.lease);
    match conn.put(key, &body.to_json(), Cond::Match(&h.etag)).await {
        Ok(etag) => {
            h.body = body;
            h.etag = etag;
            true
        }
        Err(Failure::Precondition | Failure::NotFound) => {
            // Our own renewal whose reply was lost looks the same: check the token.
            if let Ok(Some((text, etag))) = conn.get(key).await {
                if let Ok(found) = LockBody::parse(&text, key) {
                    if found.owner_token == h.body.owner_token {
                        h.body = found;
                        h.etag = etag;
                        return true;
                    }
                }
            }
            tracing::error!(
                "the state lock {} was taken over or removed by someone else: this run no longer holds it \
                 (its next state write will be refused)",
                conn.location(key)
            );
            false
        }
        Err(Failure::Busy) => true,
        Err(Failure::Other(e)) => {
            tracing::warn!("could not renew the state lock lease (will retry): {e}");
            true
        }
    }
}

impl Drop for S3Backend {
    fn drop(&mut self) {
        if let Ok(mut r) = self.renewal.lock() {
            if let Some(task) = r.take() {
                task.abort();
            }
        }
    }
}

#[async_trait::async_trait]
impl Backend for S3Backend {
    fn describe(&self) -> String {
        format!("S3 object {}", self.location())
    }

    async fn load(&self) -> Result<Option<Snapshot>, StateError> {
        match self.read_state().await? {
            None => {
                self.remember(None);
                Ok(None)
            }
            Some((snap, etag)) => {
                self.remember(Some((snap.key(), etag)));
                Ok(Some(snap))
            }
        }
    }

    async fn save(&self, snapshot: &Snapshot, expected: Option<StateKey>) -> Result<(), StateError> {
        validate_successor(snapshot, expected)?;
        self.write(snapshot, expected).await
    }

    async fn replace(&self, snapshot: &Snapshot, expected: Option<StateKey>) -> Result<(), StateError> {
        self.write(snapshot, expected).await
    }

    async fn try_lock(&self, info: &LockInfo) -> Result<(), StateError> {
        let lk = self.lock_key();
        let location = self.conn.location(&lk);
        let token = uuid::Uuid::new_v4().to_string();
        let lease = self.conn.settings.lease;
        for _ in 0..ATTEMPTS {
            let body = LockBody::new(info.clone(), &token, lease, Utc::now());
            match self.conn.put(&lk, &body.to_json(), Cond::Absent).await {
                Ok(etag) => {
                    self.hold(body, etag).await;
                    return Ok(());
                }
                Err(Failure::Precondition | Failure::Busy) => {}
                Err(Failure::NotFound) => return Err(self.conn.remote("PutObject", &lk, "bucket not found".into())),
                Err(Failure::Other(e)) => return Err(e),
            }
            let Some((text, etag)) = self.conn.get(&lk).await? else {
                continue; // released meanwhile
            };
            let found = LockBody::parse(&text, &location)?;
            match found.verdict(&token, Utc::now()) {
                LockVerdict::Ours => {
                    self.hold(found, etag).await;
                    return Ok(());
                }
                LockVerdict::Held => return Err(StateError::Locked(Box::new(found.info))),
                LockVerdict::Expired => {
                    let body = LockBody::new(info.clone(), &token, lease, Utc::now());
                    match self.conn.put(&lk, &body.to_json(), Cond::Match(&etag)).await {
                        Ok(new_etag) => {
                            tracing::warn!(
                                "took over the state lock {location}: its lease expired at {} \
                                 (held by {}, operation \"{}\", lock ID {})",
                                found.lease_expires.format("%Y-%m-%d %H:%M:%S UTC"),
                                found.info.who,
                                found.info.operation,
                                found.info.id
                            );
                            self.hold(body, new_etag).await;
                            return Ok(());
                        }
                        // Someone else was faster (or it was released): look again.
                        Err(Failure::Precondition | Failure::Busy | Failure::NotFound) => {}
                        Err(Failure::Other(e)) => return Err(e),
                    }
                }
            }
        }
        Err(self.conn.remote("lock", &lk, "the lock kept changing while it was being taken".into()))
    }

    async fn unlock(&self, id: &str) -> Result<(), StateError> {
        let held = self.release_held().await;
        if let Some(h) = &held {
            if h.body.info.id == id {
                match self.conn.delete(&self.lock_key(), &h.etag).await {
                    Ok(()) | Err(Failure::NotFound) => return Ok(()),
                    Err(Failure::Precondition | Failure::Busy) => {}
                    Err(Failure::Other(e)) => return Err(e),
                }
            }
        }
        let token = held.as_ref().filter(|h| h.body.info.id == id).map(|h| h.body.owner_token.clone());
        self.delete_lock(id, token.as_deref(), true).await
    }

    async fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        self.delete_lock(id, None, false).await
    }

    async fn lock_info(&self) -> Result<Option<LockInfo>, StateError> {
        let lk = self.lock_key();
        match self.conn.get(&lk).await? {
            None => Ok(None),
            Some((text, _)) => Ok(Some(LockBody::parse(&text, &self.conn.location(&lk))?.info)),
        }
    }
}

/// Workspaces as objects of one S3 bucket (see the module docs for the key layout).
pub struct S3Workspaces {
    conn: Arc<Conn>,
}

impl S3Workspaces {
    /// Workspaces in `settings.bucket`; the client is built by `factory` on first use.
    pub fn new(settings: S3Settings, factory: ClientFactory) -> Self {
        S3Workspaces { conn: Arc::new(Conn { settings, factory: Some(factory), client: tokio::sync::OnceCell::new() }) }
    }

    /// Workspaces using an existing client (no bucket checks).
    pub fn with_client(settings: S3Settings, client: Client) -> Self {
        S3Workspaces {
            conn: Arc::new(Conn { settings, factory: None, client: tokio::sync::OnceCell::new_with(Some(client)) }),
        }
    }

    pub fn settings(&self) -> &S3Settings {
        &self.conn.settings
    }

    /// The concrete backend of workspace `name`.
    pub fn s3_backend(&self, name: &str) -> Result<S3Backend, StateError> {
        validate_workspace_name(name)?;
        Ok(S3Backend::new(self.conn.clone(), self.conn.settings.state_key(name)))
    }
}

#[async_trait::async_trait]
impl Workspaces for S3Workspaces {
    fn describe(&self) -> String {
        let s = &self.conn.settings;
        format!(
            "S3 objects: default s3://{}/{}, others s3://{}/{}",
            s.bucket,
            s.key,
            s.bucket,
            s.state_key("WORKSPACE")
        )
    }

    fn backend(&self, name: &str) -> Result<Arc<dyn Backend>, StateError> {
        Ok(Arc::new(self.s3_backend(name)?))
    }

    async fn list(&self) -> Result<Vec<String>, StateError> {
        let s = &self.conn.settings;
        let mut names = std::collections::BTreeSet::new();
        if self.conn.head(&s.key).await?.is_some() {
            names.insert(DEFAULT_WORKSPACE.to_string());
        }
        let prefix = format!("{}/", s.workspace_key_prefix);
        for key in self.conn.list(&prefix).await? {
            if let Some(name) = s.workspace_of(&key) {
                names.insert(name);
            }
        }
        Ok(names.into_iter().collect())
    }

    async fn delete(&self, name: &str) -> Result<(), StateError> {
        validate_workspace_name(name)?;
        if name == DEFAULT_WORKSPACE {
            return Err(StateError::DeleteDefaultWorkspace);
        }
        let backend = self.s3_backend(name)?;
        if backend.load().await?.is_none() {
            return Err(StateError::NoSuchWorkspace(name.to_string()));
        }
        let lock = LockInfo::new("workspace delete", &backend.describe());
        backend.try_lock(&lock).await?;
        let result = async {
            let (snapshot, etag) =
                backend.read_state().await?.ok_or_else(|| StateError::NoSuchWorkspace(name.to_string()))?;
            ensure_empty(name, &snapshot)?;
            match self.conn.delete(&backend.key, &etag).await {
                Ok(()) | Err(Failure::NotFound) => Ok(()),
                Err(Failure::Precondition | Failure::Busy) => Err(backend.conflict(Some(snapshot.key())).await),
                Err(Failure::Other(e)) => Err(e),
            }
        }
        .await;
        let unlocked = backend.unlock(&lock.id).await;
        result?;
        unlocked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> S3Settings {
        S3Settings::new("bucket", "stacks/net.json")
    }

    #[test]
    fn key_layout_is_terraforms() {
        let s = settings();
        assert_eq!(s.state_key("default"), "stacks/net.json");
        assert_eq!(s.state_key("staging"), "env:/staging/stacks/net.json");
        assert_eq!(lock_key(&s.state_key("staging")), "env:/staging/stacks/net.json.lock");
        let custom = S3Settings { workspace_key_prefix: "workspaces".into(), ..settings() };
        assert_eq!(custom.state_key("prod"), "workspaces/prod/stacks/net.json");
    }

    #[test]
    fn workspace_of_recognises_only_state_keys() {
        let s = settings();
        assert_eq!(s.workspace_of("env:/staging/stacks/net.json").as_deref(), Some("staging"));
        assert_eq!(s.workspace_of("env:/staging/stacks/net.json.lock"), None);
        assert_eq!(s.workspace_of("env:/staging/other.json"), None);
        assert_eq!(s.workspace_of("env:/a/b/stacks/net.json"), None);
        assert_eq!(s.workspace_of("env:/default/stacks/net.json"), None);
        assert_eq!(s.workspace_of("env:/-x/stacks/net.json"), None);
        assert_eq!(s.workspace_of("stacks/net.json"), None);
        assert_eq!(s.workspace_of("envX/staging/stacks/net.json"), None);
    }

    fn info() -> LockInfo {
        LockInfo::new("apply", "S3 object s3://bucket/stacks/net.json")
    }

    #[test]
    fn lock_body_round_trips_with_every_field() {
        let now = Utc::now();
        let body = LockBody::new(info(), "tok", Duration::from_secs(60), now);
        let json: serde_json::Value = serde_json::from_str(&body.to_json()).unwrap();
        for field in
            ["id", "operation", "who", "created", "version", "path", "pid", "host", "lease_expires", "owner_token"]
        {
            assert!(json.get(field).is_some(), "{field} missing from {json}");
        }
        assert_eq!(LockBody::parse(&body.to_json(), "x").unwrap(), body);
        assert_eq!(body.lease_expires, now + chrono::TimeDelta::seconds(60));
    }

    #[test]
    fn a_lock_body_without_lease_is_corrupt() {
        let text = serde_json::to_string(&info()).unwrap();
        let err = LockBody::parse(&text, "s3://bucket/k.lock").unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn lease_verdicts() {
        let now = Utc::now();
        let body = LockBody::new(info(), "mine", Duration::from_secs(10), now);
        assert_eq!(body.verdict("mine", now), LockVerdict::Ours);
        // Our own token wins even after expiry: it is still our lock.
        assert_eq!(body.verdict("mine", now + chrono::TimeDelta::seconds(60)), LockVerdict::Ours);
        assert_eq!(body.verdict("theirs", now), LockVerdict::Held);
        assert_eq!(body.verdict("theirs", now + chrono::TimeDelta::seconds(9)), LockVerdict::Held);
        assert_eq!(body.verdict("theirs", now + chrono::TimeDelta::seconds(10)), LockVerdict::Expired);
    }

    #[test]
    fn an_enormous_lease_does_not_overflow() {
        let body = LockBody::new(info(), "t", Duration::from_secs(u64::MAX), Utc::now());
        assert_eq!(body.verdict("other", Utc::now()), LockVerdict::Held);
    }
}
