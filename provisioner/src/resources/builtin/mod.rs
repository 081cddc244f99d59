//! Data sources built into the tool rather than backed by an AWS service (Terraform's `terraform_remote_state`
//! lives in its built-in provider the same way).

pub mod stack;
