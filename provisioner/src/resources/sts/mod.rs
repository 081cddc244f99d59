//! STS data sources, as terraform-provider-aws's `internal/service/sts`. Registered in `resources/mod.rs`.

pub mod caller_identity;
