//! Elastic Load Balancing v2 resource types (`lb`, `lb_target_group`, `lb_listener`, `lb_listener_rule`),
//! one file each, as terraform-provider-aws's `internal/service/elbv2`. Registered in `resources/mod.rs`.
//! Their ids are ARNs (Terraform's import ids). ELBv2 has no server-side tag filter, so `read_stack` keeps
//! the default (tracked ids only); see each type's module doc for its read call counts.

mod util;

pub(crate) mod action;
pub mod lb;
pub mod listener;
pub mod listener_rule;
pub mod target_group;
