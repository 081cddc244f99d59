//! State crate: the persisted state model ([`Snapshot`]) and storage backends with
//! locking and compare-and-swap writes, grouped into named workspaces ([`Workspaces`]).
//! It knows nothing about AWS resource types: resource attributes are plain JSON.

pub mod backend;
pub mod error;
pub mod local;
pub mod model;
pub mod s3;
pub mod workspace;

pub use backend::{lock_with_timeout, save_next, validate_successor, Backend, LockInfo, LOCK_RETRY_INTERVAL};
pub use error::{StateError, StateKey};
pub use local::LocalBackend;
pub use model::{CreateAttempt, Mode, OutputRecord, ReleasedRecord, ResourceRecord, Snapshot, FORMAT_VERSION};
pub use s3::{S3Backend, S3Settings, S3Workspaces};
pub use workspace::{validate_workspace_name, LocalWorkspaces, Workspaces, DEFAULT_WORKSPACE};
