//! Data sources about the provider itself rather than a service, as terraform-provider-aws's
//! `internal/service/meta`. Registered in `resources/mod.rs`.

pub mod region;
