//! Built-in resource and data-source types, grouped by AWS service as terraform-provider-aws does
//! (`internal/service/<service>/`): `ec2/`, `elbv2/`, … One file per type; registering a new type is one line here.

use crate::resource::Registry;

mod util;

pub mod ec2;
pub mod elbv2;

pub fn register(r: &mut Registry) {
    // EC2
    r.add_resource(ec2::vpc::Vpc);
    r.add_resource(ec2::subnet::Subnet);
    r.add_resource(ec2::internet_gateway::InternetGateway);
    r.add_resource(ec2::route_table::RouteTable);
    r.add_resource(ec2::route_table_association::RouteTableAssociation);
    r.add_resource(ec2::security_group::SecurityGroup);
    r.add_resource(ec2::security_group_rule::SecurityGroupRule);
    r.add_resource(ec2::eip::Eip);
    r.add_resource(ec2::nat_gateway::NatGateway);
    r.add_data_source(ec2::availability_zones::AvailabilityZones);
    // ELBv2
    r.add_resource(elbv2::lb::Lb);
    r.add_resource(elbv2::target_group::LbTargetGroup);
    r.add_resource(elbv2::listener::LbListener);
    r.add_resource(elbv2::listener_rule::LbListenerRule);
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
                "lb",
                "lb_listener",
                "lb_listener_rule",
                "lb_target_group",
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
