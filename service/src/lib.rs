//! Birthday service crate: the `api` and `frontend` binaries share this library.
//!
//! The API (`api` binary) stores users' dates of birth in PostgreSQL or SQLite
//! and answers birthday greetings; the frontend (`frontend` binary) serves an
//! embedded dashboard page and forwards API paths to the API.

pub mod api;
pub mod birthday;
pub mod clock;
pub mod config;
pub mod db;
pub mod frontend;
pub mod http;
pub mod launch;
pub mod metrics;
pub mod shutdown;
pub mod stats;
pub mod telemetry;
