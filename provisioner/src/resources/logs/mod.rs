//! CloudWatch Logs resource types, as terraform-provider-aws's `internal/service/logs`. Registered in
//! `resources/mod.rs`.
//!
//! The Logs client is built on first use ([`client`]), so a stack without log groups never builds it.

pub mod cloudwatch_log_group;

use std::sync::atomic::{AtomicU32, Ordering};

use crate::aws::Ctx;

/// The CloudWatch Logs client of `cx`, built once with the shared SDK configuration and the call counter.
pub(crate) fn client(cx: &Ctx) -> aws_sdk_cloudwatchlogs::Client {
    cx.client(|sdk, calls| {
        aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::config::Builder::from(sdk).interceptor(calls).build(),
        )
    })
}

/// Length of the suffix [`prefixed_unique_id`] appends: an 18-digit UTC timestamp and 8 hex digits.
pub(crate) const UNIQUE_ID_SUFFIX_LEN: usize = 26;

/// Terraform's `id.PrefixedUniqueId`: `prefix`, the UTC time as `YYYYMMDDhhmmss` followed by four digits of
/// fractional seconds, and an 8-hex-digit counter (per process). Names generated from one prefix sort in
/// creation order, across runs as long as the clock does not go back.
pub(crate) fn prefixed_unique_id(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let now = chrono::Utc::now();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
    format!("{prefix}{}{:04}{n:08x}", now.format("%Y%m%d%H%M%S"), now.timestamp_subsec_micros() / 100)
}

/// Terraform's `create.NamePrefixFromName`: the prefix of a name [`prefixed_unique_id`] generated, `None`
/// when the name does not end with such a suffix.
pub(crate) fn name_prefix_from_name(name: &str) -> Option<&str> {
    let cut = name.len().checked_sub(UNIQUE_ID_SUFFIX_LEN)?;
    let (prefix, suffix) = (name.get(..cut)?, name.get(cut..)?);
    let (ts, counter) = suffix.as_bytes().split_at(18);
    let ok =
        ts.iter().all(u8::is_ascii_digit) && counter.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
    ok.then_some(prefix)
}

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
