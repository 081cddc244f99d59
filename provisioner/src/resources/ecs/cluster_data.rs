//! Data source `ecs_cluster`: an existing ECS cluster, by `cluster_name`, as terraform-provider-aws's data
//! `aws_ecs_cluster`. One DescribeClusters call (include TAGS and SETTINGS). Its `id` is the ARN; an
//! INACTIVE (deleted) cluster is not found.

use std::sync::LazyLock;

use async_trait::async_trait;

use super::cluster::setting_type;
use super::{describe_clusters, settings_value, tags_value};
use crate::aws::{Ctx, ProviderError};
use crate::resource::DataSource;
use crate::resources::util::{put_str, req_str};
use crate::schema::{Attribute, Schema, Type};
use crate::value::{Attrs, Value};

pub struct EcsClusterData;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("ecs_cluster", "An existing ECS cluster, by name.")
        .attr(Attribute::string("cluster_name").required().describe("Name of the cluster."))
        .attr(Attribute::string("arn").computed().describe("ARN of the cluster (same as id)."))
        .attr(Attribute::string("status").computed().describe("ACTIVE, PROVISIONING, DEPROVISIONING or FAILED."))
        .attr(Attribute::number("pending_tasks_count").computed())
        .attr(Attribute::number("running_tasks_count").computed())
        .attr(Attribute::number("registered_container_instances_count").computed())
        .attr(Attribute::new("setting", setting_type()).computed())
        .attr(Attribute::new("tags", Type::map(Type::String)).computed().describe("The cluster's tags."))
});

#[async_trait]
impl DataSource for EcsClusterData {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    async fn read(&self, cx: &Ctx, args: &Attrs) -> Result<Attrs, ProviderError> {
        let name = req_str(args, "cluster_name")?;
        let found = describe_clusters(cx, &[name.to_owned()]).await?;
        let c = found.into_values().next().ok_or_else(|| {
            ProviderError::with_code("ClusterNotFoundException", format!("no active ECS cluster named `{name}`"))
        })?;
        let mut out = args.clone();
        let arn = c.cluster_arn().unwrap_or_default();
        out.insert("id".into(), Value::str(arn));
        out.insert("arn".into(), Value::str(arn));
        put_str(&mut out, "status", c.status());
        out.insert("pending_tasks_count".into(), Value::int(c.pending_tasks_count().into()));
        out.insert("running_tasks_count".into(), Value::int(c.running_tasks_count().into()));
        out.insert(
            "registered_container_instances_count".into(),
            Value::int(c.registered_container_instances_count().into()),
        );
        out.insert("setting".into(), settings_value(&c));
        out.insert("tags".into(), tags_value(c.tags()));
        Ok(out)
    }
}
