//! Built-in resource and data-source types, grouped by AWS service as terraform-provider-aws does
//! (`internal/service/<service>/`): `ec2/`, `elbv2/`, `iam/`, `logs/`, `ecr/`, `ecs/`, `rds/`, `route53/`, `acm/`,
//! `s3/`, `secretsmanager/`, `sts/`,
//! `meta/` (region) and `builtin/` (data `stack`). One file per type; registering a new type is one line here.

use crate::resource::Registry;

mod util;

pub mod acm;
pub mod builtin;
pub mod ec2;
pub mod ecr;
pub mod ecs;
pub mod elbv2;
pub mod iam;
pub mod logs;
pub mod meta;
pub mod rds;
pub mod route53;
pub mod s3;
pub mod secretsmanager;
pub mod sts;

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
    // IAM
    r.add_resource(iam::role::Role);
    r.add_resource(iam::role_policy::RolePolicy);
    r.add_resource(iam::role_policy_attachment::RolePolicyAttachment);
    r.add_resource(iam::openid_connect_provider::IamOpenidConnectProvider);
    r.add_data_source(iam::role_data_source::RoleDataSource);
    // STS, meta
    r.add_data_source(sts::caller_identity::CallerIdentity);
    r.add_data_source(meta::region::Region);
    // Built in
    r.add_data_source(builtin::stack::StackOutputs);
    // CloudWatch Logs
    r.add_resource(logs::cloudwatch_log_group::CloudwatchLogGroup);
    // ECR
    r.add_resource(ecr::repository::EcrRepository);
    r.add_resource(ecr::lifecycle_policy::EcrLifecyclePolicy);
    r.add_data_source(ecr::repository_data::EcrRepositoryData);
    // ECS
    r.add_resource(ecs::cluster::EcsCluster);
    r.add_resource(ecs::task_definition::EcsTaskDefinition);
    r.add_resource(ecs::service::EcsService);
    r.add_data_source(ecs::cluster_data::EcsClusterData);
    // ELBv2
    r.add_resource(elbv2::lb::Lb);
    r.add_resource(elbv2::target_group::LbTargetGroup);
    r.add_resource(elbv2::listener::LbListener);
    r.add_resource(elbv2::listener_rule::LbListenerRule);
    // RDS, Secrets Manager
    r.add_resource(rds::subnet_group::DbSubnetGroup);
    r.add_resource(rds::parameter_group::DbParameterGroup);
    r.add_resource(rds::instance::DbInstance);
    r.add_data_source(secretsmanager::secret_data::SecretData);
    // Route 53, ACM
    r.add_resource(route53::zone::Route53Zone);
    r.add_resource(route53::record::Route53Record);
    r.add_data_source(route53::zone_data::Route53ZoneData);
    r.add_resource(acm::certificate::AcmCertificate);
    r.add_resource(acm::certificate_validation::AcmCertificateValidation);
    // S3
    r.add_resource(s3::bucket::S3Bucket);
    r.add_resource(s3::bucket_versioning::S3BucketVersioning);
    r.add_resource(s3::bucket_server_side_encryption_configuration::S3BucketServerSideEncryptionConfiguration);
    r.add_resource(s3::bucket_public_access_block::S3BucketPublicAccessBlock);
    r.add_resource(s3::bucket_policy::S3BucketPolicy);
    r.add_resource(s3::bucket_lifecycle_configuration::S3BucketLifecycleConfiguration);
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
                "acm_certificate",
                "acm_certificate_validation",
                "cloudwatch_log_group",
                "db_instance",
                "db_parameter_group",
                "db_subnet_group",
                "ecr_lifecycle_policy",
                "ecr_repository",
                "ecs_cluster",
                "ecs_service",
                "ecs_task_definition",
                "eip",
                "iam_openid_connect_provider",
                "iam_role",
                "iam_role_policy",
                "iam_role_policy_attachment",
                "internet_gateway",
                "lb",
                "lb_listener",
                "lb_listener_rule",
                "lb_target_group",
                "nat_gateway",
                "route53_record",
                "route53_zone",
                "route_table",
                "route_table_association",
                "s3_bucket",
                "s3_bucket_lifecycle_configuration",
                "s3_bucket_policy",
                "s3_bucket_public_access_block",
                "s3_bucket_server_side_encryption_configuration",
                "s3_bucket_versioning",
                "security_group",
                "security_group_rule",
                "subnet",
                "vpc",
            ]
        );
        assert_eq!(
            r.data_source_types().collect::<Vec<_>>(),
            [
                "availability_zones",
                "caller_identity",
                "ecr_repository",
                "ecs_cluster",
                "iam_role",
                "region",
                "route53_zone",
                "secretsmanager_secret",
                "stack"
            ]
        );
    }
}
