//! ECS resource types, as terraform-provider-aws's `internal/service/ecs`. Registered in `resources/mod.rs`.
//!
//! The ECS client is built on first use ([`client`]), so a stack without ECS objects never builds it.
//! `service.rs` is `ecs_service`; `deploy.rs` is its deployment watch (what counts as a finished deployment,
//! the diagnostics of a failed one, the idempotency token of CreateService).

pub(crate) mod deploy;
pub mod service;

/// The ECS client of `cx`, built once with the shared SDK configuration and the call counter.
pub(crate) fn client(cx: &crate::aws::Ctx) -> aws_sdk_ecs::Client {
    cx.client(|sdk, calls| {
        aws_sdk_ecs::Client::from_conf(aws_sdk_ecs::config::Builder::from(sdk).interceptor(calls).build())
    })
}
