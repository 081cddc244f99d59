//! CloudWatch Logs resource types, as terraform-provider-aws's `internal/service/logs`. Registered in
//! `resources/mod.rs`.
//!
//! The Logs client is built on first use ([`client`]), so a stack without log groups never builds it.

pub mod cloudwatch_log_group;

use crate::aws::Ctx;

/// The CloudWatch Logs client of `cx`, built once with the shared SDK configuration and the call counter.
pub(crate) fn client(cx: &Ctx) -> aws_sdk_cloudwatchlogs::Client {
    cx.client(|sdk, calls| {
        aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::config::Builder::from(sdk).interceptor(calls).build(),
        )
    })
}

pub(crate) use super::util::{name_prefix_from_name, prefixed_unique_id, UNIQUE_ID_SUFFIX_LEN};
