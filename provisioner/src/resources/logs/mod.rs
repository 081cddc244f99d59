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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_unique_ids_are_distinct_sortable_and_reversible() {
        let a = prefixed_unique_id("app-");
        let b = prefixed_unique_id("app-");
        assert_ne!(a, b);
        assert!(a < b, "{a} then {b}");
        assert_eq!(a.len(), "app-".len() + UNIQUE_ID_SUFFIX_LEN);
        assert!(a[4..22].bytes().all(|c| c.is_ascii_digit()), "{a}");
        assert_eq!(name_prefix_from_name(&a), Some("app-"));
        assert_eq!(name_prefix_from_name(&prefixed_unique_id("")), Some(""));
    }

    #[test]
    fn name_prefix_only_from_generated_names() {
        assert_eq!(name_prefix_from_name("app"), None);
        assert_eq!(name_prefix_from_name("/ecs/api"), None);
        assert_eq!(name_prefix_from_name("x-2024010203040506070000000a"), Some("x-"));
        assert_eq!(name_prefix_from_name("x-20240102030405060700000g0a"), None, "not hex");
        assert_eq!(name_prefix_from_name("x-20240102030405060x0000000a"), None, "not digits");
    }
}
