//! EC2 resource and data-source types (the network: VPCs, subnets, gateways, route tables, security groups,
//! Elastic IPs), one file each, as terraform-provider-aws's `internal/service/ec2`. Registered in
//! `resources/mod.rs`.

mod util;

pub mod availability_zones;
pub mod eip;
pub mod internet_gateway;
pub mod nat_gateway;
pub mod route_table;
pub mod route_table_association;
pub mod security_group;
pub mod security_group_rule;
pub mod subnet;
pub mod vpc;
