//! Secrets Manager types, as terraform-provider-aws's `internal/service/secretsmanager`: the data source
//! `secretsmanager_secret` (a secret's metadata, never its value). Registered in `resources/mod.rs`.

pub mod secret_data;

use crate::aws::Ctx;

/// The Secrets Manager client of `cx`, built once with the shared SDK configuration and the call counter.
pub(crate) fn client(cx: &Ctx) -> aws_sdk_secretsmanager::Client {
    cx.client(|sdk, calls| {
        aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::config::Builder::from(sdk).interceptor(calls).build(),
        )
    })
}
