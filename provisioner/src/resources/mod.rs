//! Built-in resource and data-source types, one file each. Registering a new type is one line here.

use crate::resource::Registry;

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

pub fn register(r: &mut Registry) {
    r.add_resource(vpc::Vpc);
    r.add_resource(subnet::Subnet);
    r.add_resource(internet_gateway::InternetGateway);
    r.add_resource(route_table::RouteTable);
    r.add_resource(route_table_association::RouteTableAssociation);
    r.add_resource(security_group::SecurityGroup);
    r.add_resource(security_group_rule::SecurityGroupRule);
    r.add_resource(eip::Eip);
    r.add_resource(nat_gateway::NatGateway);
    r.add_data_source(availability_zones::AvailabilityZones);
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_type_is_registered_under_its_name_without_aws_prefix() {
        let r = crate::resource::Registry::builtin();
        let types: Vec<_> = r.resource_types().collect();
        assert_eq!(
            types,
            [
                "eip",
                "internet_gateway",
                "nat_gateway",
                "route_table",
                "route_table_association",
                "security_group",
                "security_group_rule",
                "subnet",
                "vpc",
            ]
        );
        assert_eq!(r.data_source_types().collect::<Vec<_>>(), ["availability_zones"]);
    }
}
