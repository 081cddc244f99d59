//! Test support: a registry of small fake resource types (no AWS) and temporary stack directories.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::aws::{Ctx, ProviderError};
use crate::resource::{Checkpoint, DataSource, Registry, Resource};
use crate::schema::{Attribute, Schema, Type};
use crate::value::Attrs;

pub struct FakeResource(pub Schema);
pub struct FakeData(pub Schema);

fn nope() -> ProviderError {
    ProviderError::new("fake resource: no AWS in lang tests")
}

#[async_trait]
impl Resource for FakeResource {
    fn schema(&self) -> &Schema {
        &self.0
    }
    async fn read(&self, _cx: &Ctx, _ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        Err(nope())
    }
    async fn create(&self, _cx: &Ctx, _d: &Attrs, _c: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        Err(nope())
    }
    async fn update(&self, _cx: &Ctx, _p: &Attrs, _d: &Attrs) -> Result<Attrs, ProviderError> {
        Err(nope())
    }
    async fn delete(&self, _cx: &Ctx, _p: &Attrs) -> Result<(), ProviderError> {
        Err(nope())
    }
}

#[async_trait]
impl DataSource for FakeData {
    fn schema(&self) -> &Schema {
        &self.0
    }
    async fn read(&self, _cx: &Ctx, _args: &Attrs) -> Result<Attrs, ProviderError> {
        Err(nope())
    }
}

/// vpc, subnet, security_group, lb_listener and ecs_service (nested blocks several levels deep) and the
/// data source availability_zones.
pub fn registry() -> Registry {
    let mut r = Registry::default();
    r.add_resource(FakeResource(
        Schema::new("vpc", "A VPC.")
            .taggable()
            .attr(Attribute::string("cidr_block").required().cidr().forces_new().describe("The IPv4 CIDR block."))
            .attr(Attribute::bool("enable_dns_support").default(true)),
    ));
    r.add_resource(FakeResource(
        Schema::new("subnet", "A subnet.")
            .taggable()
            .attr(Attribute::string("vpc_id").required().forces_new())
            .attr(Attribute::string("cidr_block").required().cidr().forces_new())
            .attr(Attribute::string("availability_zone").optional_computed())
            .attr(Attribute::bool("map_public_ip_on_launch").default(false)),
    ));
    let rule = Type::Object(vec![
        Attribute::number("from_port").required(),
        Attribute::number("to_port").required(),
        Attribute::string("protocol").required().one_of(&["tcp", "udp", "icmp", "-1"]),
        Attribute::new("cidr_blocks", Type::set(Type::String)).cidr(),
    ]);
    r.add_resource(FakeResource(
        Schema::new("security_group", "A security group.")
            .taggable()
            .attr(Attribute::string("name").required().forces_new())
            .attr(Attribute::string("vpc_id").required().forces_new())
            .attr(Attribute::new("ingress", Type::set(rule.clone())))
            .attr(Attribute::new("egress", Type::set(rule))),
    ));
    // Types with nested blocks several levels deep, shaped like the load balancer / ECS ones.
    let target_group = Type::Object(vec![Attribute::string("arn").required(), Attribute::number("weight").default(1)]);
    let action = Type::Object(vec![
        Attribute::string("type").required().one_of(&["forward", "redirect", "fixed-response"]),
        Attribute::string("target_group_arn"),
        Attribute::number("order"),
        Attribute::new(
            "forward",
            Type::list(Type::Object(vec![
                Attribute::new("target_group", Type::set(target_group)).required(),
                Attribute::bool("stickiness_enabled").default(false),
            ])),
        ),
    ]);
    r.add_resource(FakeResource(
        Schema::new("lb_listener", "A load balancer listener.")
            .taggable()
            .attr(Attribute::string("load_balancer_arn").required().forces_new())
            .attr(Attribute::number("port").required())
            .attr(Attribute::string("protocol").default("HTTP").one_of(&["HTTP", "HTTPS"]))
            .attr(Attribute::new("default_action", Type::list(action)).required()),
    ));
    r.add_resource(FakeResource(
        Schema::new("ecs_service", "An ECS service.")
            .attr(Attribute::string("name").required().forces_new())
            .attr(Attribute::number("desired_count").default(1))
            .attr(Attribute::bool("enable_execute_command").default(false))
            .attr(Attribute::new("environment", Type::map(Type::String)))
            .attr(Attribute::new("subnets", Type::set(Type::String)))
            .attr(Attribute::new("ports", Type::list(Type::Number)))
            .attr(Attribute::new(
                "load_balancer",
                Type::set(Type::Object(vec![
                    Attribute::string("container_name").required(),
                    Attribute::number("container_port").required(),
                    Attribute::string("target_group_arn"),
                ])),
            )),
    ));
    r.add_data_source(FakeData(
        Schema::new("availability_zones", "Availability zones of the region.")
            .attr(Attribute::string("state").default("available"))
            .attr(Attribute::new("names", Type::list(Type::String)).computed()),
    ));
    r
}

/// A temporary stack directory holding `files`.
pub struct TempStack {
    pub dir: tempfile::TempDir,
}

impl TempStack {
    pub fn new(files: &[(&str, &str)]) -> TempStack {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            let p = dir.path().join(name);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(p, text).expect("write");
        }
        TempStack { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}
