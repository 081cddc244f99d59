//! IAM resource and data-source types (roles, their inline policies and policy attachments, OpenID Connect
//! providers), one file each,
//! as terraform-provider-aws's `internal/service/iam`. Registered in `resources/mod.rs`. Policy documents are
//! compared as IAM compares them (`policy`); reads share one account-wide read per refresh (`util`).

pub(crate) mod policy;
mod util;

pub mod openid_connect_provider;
pub mod role;
pub mod role_data_source;
pub mod role_policy;
pub mod role_policy_attachment;
