//! The EC2 resource implementations against moto, through the real SDK: create (checkpointed, tagged),
//! batched read (ids that are gone are omitted, the call succeeds), update, delete, read-after-delete.
//!
//! IPv6 through the real CLI against the emulator, the SDK to verify: a VPC's Amazon-provided block and a
//! subnet's /64 turned on and off in place, IPv6 routes added and removed, and a route with both or neither
//! destination refused at plan, located.
//!
//! All tests share one moto server (see `common`); each uses its own stack name and its own VPCs.

mod common;
mod common_cli;

use std::collections::BTreeMap;

/// The objects of `imp`'s type carrying the stack's tags, as (id, address tag), sorted: what refresh finds
/// with a stack-wide read and no tracked ids.
async fn tagged(cx: &Ctx, imp: &dyn Resource) -> Vec<(String, Option<String>)> {
    let found = imp.read_stack(cx, &[]).await.unwrap();
    let mut v: Vec<(String, Option<String>)> = found
        .into_iter()
        .map(|(id, a)| {
            let address =
                a.get("tags").and_then(|t| t.get("provisioner:address")).and_then(|v| v.as_str()).map(str::to_owned);
            (id, address)
        })
        .collect();
    v.sort();
    v
}

use aws_sdk_ec2::types::Filter;
use common::*;
use provisioner::aws::{Ctx, ProviderError, TAG_ADDRESS, TAG_STACK};
use provisioner::resource::{DataSource, Resource};
use provisioner::resources::ec2::{
    availability_zones::AvailabilityZones, eip::Eip, internet_gateway::InternetGateway, nat_gateway::NatGateway,
    route_table::RouteTable, route_table_association::RouteTableAssociation, security_group::SecurityGroup,
    security_group_rule::SecurityGroupRule, subnet::Subnet, vpc::Vpc,
};
use provisioner::schema::Presence;
use provisioner::value::{attrs_from_json, Attrs, Value};
use serde_json::json;

/// Desired attributes as the engine hands them over: schema-normalised, with the full tag set (user tags
/// plus the tool's own `provisioner:*` tags).
fn desired(res: &dyn Resource, stack: &str, address: &str, args: serde_json::Value) -> Attrs {
    let mut a = attrs_from_json(&serde_json::from_value(args).unwrap());
    if res.schema().taggable {
        let mut tags: BTreeMap<String, Value> = a.get("tags").and_then(Value::as_map).cloned().unwrap_or_default();
        tags.insert(TAG_STACK.into(), Value::str(stack));
        tags.insert(TAG_ADDRESS.into(), Value::str(address));
        a.insert("tags".into(), Value::Map(tags));
    }
    res.schema().normalize(&a)
}

// Both sides of every diff, as the engine canonicalises them.
use provisioner::engine::canonical as canon;

/// What a re-plan would compare: every settable attribute the config sets (or defaults) is equal after
/// normalisation on both sides.
fn assert_converged(res: &dyn Resource, want: &Attrs, got: &Attrs, skip: &[&str]) {
    let (want, got) = (canon(res, want), canon(res, got));
    for a in &res.schema().attributes {
        if a.presence == Presence::Computed || skip.contains(&a.name) {
            continue;
        }
        if a.presence == Presence::OptionalComputed && !want.contains_key(a.name) {
            continue;
        }
        assert_eq!(want.get(a.name), got.get(a.name), "{}.{} differs after normalisation", res.type_name(), a.name);
    }
}

fn s<'a>(a: &'a Attrs, k: &str) -> &'a str {
    a.get(k).and_then(Value::as_str).unwrap_or_else(|| panic!("no string `{k}` in {a:?}"))
}

fn tag<'a>(a: &'a Attrs, k: &str) -> Option<&'a str> {
    a.get("tags")?.get(k)?.as_str()
}

/// Creates through `res` with a recording checkpoint; checks the checkpoint ran once, with the id create
/// returned, and that the object carried the stack tags when it did.
async fn create_checked(cx: &Ctx, res: &dyn Resource, want: &Attrs) -> Attrs {
    let ec2 = ec2_client(Moto::shared());
    let cp = RecordingCheckpoint::with_tags(ec2);
    let got = res.create(cx, want, &cp).await.unwrap_or_else(|e| panic!("create {}: {e}", res.type_name()));
    let id = cp.created_id();
    assert_eq!(s(&got, "id"), id, "create returned another id than it checkpointed");
    if res.schema().taggable {
        let tags = cp.tags_at_checkpoint();
        assert_eq!(tags.get(TAG_STACK).map(String::as_str), Some(cx.stack.as_str()), "untagged at checkpoint");
        assert_eq!(tags.get(TAG_ADDRESS), tag(want, TAG_ADDRESS).map(str::to_owned).as_ref());
        assert_eq!(got.get("tags"), want.get("tags"));
    }
    got
}

async fn read_ids(cx: &Ctx, res: &dyn Resource, ids: &[&str]) -> std::collections::HashMap<String, Attrs> {
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    res.read(cx, &ids).await.unwrap_or_else(|e| panic!("read {}: {e}", res.type_name()))
}

/// A checkpoint that looks at the object's follow-up state at checkpoint time, to prove the checkpoint
/// comes right after the create call and before the follow-up calls: a VPC's DNS hostnames are still off,
/// a security group still has AWS's default egress rule.
struct OrderProbe {
    ec2: aws_sdk_ec2::Client,
    seen: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl provisioner::resource::Checkpoint for OrderProbe {
    async fn created(&self, attrs: &Attrs) {
        let id = s(attrs, "id").to_owned();
        let seen = if id.starts_with("vpc-") {
            let out = self
                .ec2
                .describe_vpc_attribute()
                .vpc_id(&id)
                .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames)
                .send()
                .await
                .unwrap();
            format!("dns_hostnames={:?}", out.enable_dns_hostnames().and_then(|v| v.value()))
        } else {
            let g = describe_sg(&self.ec2, &id).await;
            format!("egress={}", sg_desc(g.ip_permissions_egress()).len())
        };
        self.seen.lock().unwrap().push(seen);
    }
}

async fn setup(prefix: &str) -> (Ctx, aws_sdk_ec2::Client, String) {
    let moto = Moto::shared();
    let stack = unique_stack(prefix);
    (ctx(moto, &stack).await, ec2_client(moto), stack)
}

async fn make_vpc(cx: &Ctx, cidr: &str) -> Attrs {
    let d = desired(&Vpc, &cx.stack, "aws_vpc.main", json!({"cidr_block": cidr}));
    Vpc.create(cx, &d, &RecordingCheckpoint::new()).await.expect("create vpc")
}

async fn make_subnet(cx: &Ctx, vpc: &str, cidr: &str) -> Attrs {
    let d = desired(&Subnet, &cx.stack, "aws_subnet.a", json!({"vpc_id": vpc, "cidr_block": cidr}));
    Subnet.create(cx, &d, &RecordingCheckpoint::new()).await.expect("create subnet")
}

#[tokio::test(flavor = "multi_thread")]
async fn vpc_lifecycle() {
    let (cx, ec2, stack) = setup("vpc").await;
    let want = desired(
        &Vpc,
        &stack,
        "aws_vpc.main",
        json!({"cidr_block": "10.10.0.0/16", "enable_dns_hostnames": true, "tags": {"Name": "main"}}),
    );
    let got = create_checked(&cx, &Vpc, &want).await;
    assert_converged(&Vpc, &want, &got, &[]);
    let id = s(&got, "id").to_owned();
    assert_eq!(got["enable_dns_hostnames"], Value::Bool(true));
    let probe = OrderProbe { ec2: ec2.clone(), seen: Default::default() };
    let probed = Vpc.create(&cx, &want, &probe).await.unwrap();
    assert_eq!(*probe.seen.lock().unwrap(), ["dns_hostnames=Some(false)"], "checkpoint after ModifyVpcAttribute");
    Vpc.delete(&cx, &probed).await.unwrap();
    assert!(s(&got, "arn").starts_with("arn:aws:ec2:us-east-1:"), "{got:?}");
    assert!(s(&got, "main_route_table_id").starts_with("rtb-"));
    assert_eq!(got["default_route_table_id"], got["main_route_table_id"]);
    assert!(s(&got, "default_security_group_id").starts_with("sg-"));
    assert!(!s(&got, "owner_id").is_empty());

    // Batched read with a VPC deleted in between: it is omitted, the call succeeds.
    let other = make_vpc(&cx, "10.11.0.0/16").await;
    let other_id = s(&other, "id").to_owned();
    Vpc.delete(&cx, &other).await.unwrap();
    let read = read_ids(&cx, &Vpc, &[&id, &other_id, "vpc-0000000000000dead"]).await;
    assert_eq!(read.keys().collect::<Vec<_>>(), [&id]);
    assert_eq!(read[&id], got);

    // Update every updatable attribute.
    let want2 = desired(
        &Vpc,
        &stack,
        "aws_vpc.main",
        json!({"cidr_block": "10.10.0.0/16", "enable_dns_support": false, "enable_dns_hostnames": false,
               "tags": {"Name": "renamed", "env": "test"}}),
    );
    let got2 = Vpc.update(&cx, &got, &want2).await.unwrap();
    assert_converged(&Vpc, &want2, &got2, &[]);
    let attr = ec2
        .describe_vpc_attribute()
        .vpc_id(&id)
        .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport)
        .send()
        .await
        .unwrap();
    assert_eq!(attr.enable_dns_support().and_then(|v| v.value()), Some(false));
    let back = Vpc.update(&cx, &got2, &want).await.unwrap();
    assert_converged(&Vpc, &want, &back, &[]);

    let tagged = tagged(&cx, &Vpc).await;
    assert_eq!(tagged.len(), 1);
    assert_eq!((tagged[0].0.as_str(), tagged[0].1.as_deref()), (id.as_str(), Some("aws_vpc.main")));

    Vpc.delete(&cx, &back).await.unwrap();
    assert!(read_ids(&cx, &Vpc, &[&id]).await.is_empty());
    Vpc.delete(&cx, &back).await.expect("deleting a deleted VPC succeeds");
    assert_eq!(count_tagged(&ec2, &stack).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn subnet_lifecycle() {
    let (cx, ec2, stack) = setup("subnet").await;
    let vpc = make_vpc(&cx, "10.20.0.0/16").await;
    let vpc_id = s(&vpc, "id");
    let want = desired(&Subnet, &stack, "aws_subnet.a", json!({"vpc_id": vpc_id, "cidr_block": "10.20.1.0/24"}));
    let got = create_checked(&cx, &Subnet, &want).await;
    assert_converged(&Subnet, &want, &got, &[]);
    let id = s(&got, "id").to_owned();
    assert!(s(&got, "availability_zone").starts_with("us-east-1"));
    assert!(!s(&got, "availability_zone_id").is_empty());
    assert!(s(&got, "arn").ends_with(&format!("subnet/{id}")));

    let az = AvailabilityZones.read(&cx, &AvailabilityZones.schema().normalize(&Attrs::new())).await.unwrap();
    let second_az = az["names"].as_list().unwrap()[1].as_str().unwrap().to_owned();
    let want_b = desired(
        &Subnet,
        &stack,
        "aws_subnet.b",
        json!({"vpc_id": vpc_id, "cidr_block": "10.20.2.0/24", "availability_zone": second_az, "map_public_ip_on_launch": true}),
    );
    let b = create_checked(&cx, &Subnet, &want_b).await;
    assert_converged(&Subnet, &want_b, &b, &[]);
    assert_eq!(b["map_public_ip_on_launch"], Value::Bool(true));
    Subnet.delete(&cx, &b).await.unwrap();

    let read = read_ids(&cx, &Subnet, &[&id, s(&b, "id")]).await;
    assert_eq!(read.keys().collect::<Vec<_>>(), [&id]);

    let mut want2 = want.clone();
    want2.insert("map_public_ip_on_launch".into(), Value::Bool(true));
    want2.insert(
        "tags".into(),
        Value::Map(
            want["tags"].as_map().unwrap().clone().into_iter().chain([("tier".into(), Value::str("public"))]).collect(),
        ),
    );
    let got2 = Subnet.update(&cx, &got, &want2).await.unwrap();
    assert_converged(&Subnet, &want2, &got2, &[]);
    assert_eq!(tag(&got2, "tier"), Some("public"));

    Subnet.delete(&cx, &got2).await.unwrap();
    assert!(read_ids(&cx, &Subnet, &[&id]).await.is_empty());
    Vpc.delete(&cx, &vpc).await.unwrap();
    assert_eq!(count_tagged(&ec2, &stack).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn internet_gateway_lifecycle() {
    let (cx, ec2, stack) = setup("igw").await;
    let vpc1 = make_vpc(&cx, "10.30.0.0/16").await;
    let vpc2 = make_vpc(&cx, "10.31.0.0/16").await;
    let want = desired(&InternetGateway, &stack, "aws_internet_gateway.gw", json!({"vpc_id": s(&vpc1, "id")}));
    let got = create_checked(&cx, &InternetGateway, &want).await;
    assert_converged(&InternetGateway, &want, &got, &[]);
    let id = s(&got, "id").to_owned();
    assert!(s(&got, "arn").ends_with(&format!("internet-gateway/{id}")));

    // Move to another VPC, then detach.
    let want2 = desired(
        &InternetGateway,
        &stack,
        "aws_internet_gateway.gw",
        json!({"vpc_id": s(&vpc2, "id"), "tags": {"k": "v"}}),
    );
    let got2 = InternetGateway.update(&cx, &got, &want2).await.unwrap();
    assert_converged(&InternetGateway, &want2, &got2, &[]);
    let want3 = desired(&InternetGateway, &stack, "aws_internet_gateway.gw", json!({}));
    let got3 = InternetGateway.update(&cx, &got2, &want3).await.unwrap();
    assert_converged(&InternetGateway, &want3, &got3, &[]);
    assert!(!got3.contains_key("vpc_id"));

    let other =
        create_checked(&cx, &InternetGateway, &desired(&InternetGateway, &stack, "aws_internet_gateway.x", json!({})))
            .await;
    InternetGateway.delete(&cx, &other).await.unwrap();
    let read = read_ids(&cx, &InternetGateway, &[&id, s(&other, "id")]).await;
    assert_eq!(read.keys().collect::<Vec<_>>(), [&id]);

    // Delete while attached: detaches first.
    let attached = InternetGateway.update(&cx, &got3, &want).await.unwrap();
    assert_eq!(attached.get("vpc_id"), want.get("vpc_id"));
    InternetGateway.delete(&cx, &attached).await.unwrap();
    assert!(read_ids(&cx, &InternetGateway, &[&id]).await.is_empty());
    Vpc.delete(&cx, &vpc1).await.unwrap();
    Vpc.delete(&cx, &vpc2).await.unwrap();
    assert_eq!(count_tagged(&ec2, &stack).await, 0, "{:?}", tagged_ids(&ec2, &stack).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn route_table_routes_association_and_nat_gateway() {
    let (cx, ec2, stack) = setup("rt").await;
    let vpc = make_vpc(&cx, "10.40.0.0/16").await;
    let vpc_id = s(&vpc, "id").to_owned();
    let subnet = make_subnet(&cx, &vpc_id, "10.40.1.0/24").await;
    let subnet_id = s(&subnet, "id").to_owned();
    let igw = InternetGateway
        .create(
            &cx,
            &desired(&InternetGateway, &stack, "aws_internet_gateway.gw", json!({"vpc_id": vpc_id})),
            &RecordingCheckpoint::new(),
        )
        .await
        .unwrap();
    let igw_id = s(&igw, "id").to_owned();

    // Route table with a default route to the internet gateway.
    let want = desired(
        &RouteTable,
        &stack,
        "aws_route_table.public",
        json!({"vpc_id": vpc_id, "route": [{"cidr_block": "0.0.0.0/0", "gateway_id": igw_id}]}),
    );
    let rt = create_checked(&cx, &RouteTable, &want).await;
    assert_converged(&RouteTable, &want, &rt, &[]);
    let rt_id = s(&rt, "id").to_owned();
    assert_eq!(rt["route"].as_list().unwrap().len(), 1, "local route must not be reported: {rt:?}");

    // EIP + NAT gateway (also the eip / nat_gateway lifecycle).
    let eip_want = desired(&Eip, &stack, "aws_eip.nat", json!({"tags": {"Name": "nat"}}));
    let eip = create_checked(&cx, &Eip, &eip_want).await;
    assert_converged(&Eip, &eip_want, &eip, &[]);
    let alloc = s(&eip, "id").to_owned();
    assert_eq!(s(&eip, "allocation_id"), alloc);
    assert!(!s(&eip, "public_ip").is_empty());
    let nat_want =
        desired(&NatGateway, &stack, "aws_nat_gateway.main", json!({"subnet_id": subnet_id, "allocation_id": alloc}));
    let nat = create_checked(&cx, &NatGateway, &nat_want).await;
    assert_converged(&NatGateway, &nat_want, &nat, &[]);
    let nat_id = s(&nat, "id").to_owned();
    assert_eq!(s(&nat, "state"), "available");
    assert_eq!(s(&nat, "public_ip"), s(&eip, "public_ip"));
    assert!(s(&nat, "network_interface_id").starts_with("eni-"));
    let nat_tagged = tagged(&cx, &NatGateway).await;
    assert_eq!(nat_tagged.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(), [nat_id.as_str()]);
    let nat_want2 = desired(
        &NatGateway,
        &stack,
        "aws_nat_gateway.main",
        json!({"subnet_id": subnet_id, "allocation_id": alloc, "tags": {"Name": "nat"}}),
    );
    let nat2 = NatGateway.update(&cx, &nat, &nat_want2).await.unwrap();
    assert_converged(&NatGateway, &nat_want2, &nat2, &[]);

    // Update routes: retarget the default route to the NAT gateway (ReplaceRoute), add one (CreateRoute).
    let want2 = desired(
        &RouteTable,
        &stack,
        "aws_route_table.public",
        json!({"vpc_id": vpc_id, "tags": {"Name": "private"}, "route": [
            {"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat_id},
            {"cidr_block": "192.168.0.0/16", "gateway_id": igw_id}
        ]}),
    );
    let rt2 = RouteTable.update(&cx, &rt, &want2).await.unwrap();
    assert_converged(&RouteTable, &want2, &rt2, &[]);
    // Remove one (DeleteRoute).
    let want3 = desired(
        &RouteTable,
        &stack,
        "aws_route_table.public",
        json!({"vpc_id": vpc_id, "route": [{"cidr_block": "192.168.0.0/16", "gateway_id": igw_id}]}),
    );
    let rt3 = RouteTable.update(&cx, &rt2, &want3).await.unwrap();
    assert_converged(&RouteTable, &want3, &rt3, &[]);

    // Association, then move it to a second table: ReplaceRouteTableAssociation returns a new id.
    let rt_b = RouteTable
        .create(
            &cx,
            &desired(&RouteTable, &stack, "aws_route_table.b", json!({"vpc_id": vpc_id})),
            &RecordingCheckpoint::new(),
        )
        .await
        .unwrap();
    let assoc_want =
        desired(&RouteTableAssociation, &stack, "x", json!({"subnet_id": subnet_id, "route_table_id": rt_id}));
    let assoc = create_checked(&cx, &RouteTableAssociation, &assoc_want).await;
    assert_converged(&RouteTableAssociation, &assoc_want, &assoc, &[]);
    let assoc_id = s(&assoc, "id").to_owned();
    assert!(assoc_id.starts_with("rtbassoc-"));
    let assoc_want2 =
        desired(&RouteTableAssociation, &stack, "x", json!({"subnet_id": subnet_id, "route_table_id": s(&rt_b, "id")}));
    let assoc2 = RouteTableAssociation.update(&cx, &assoc, &assoc_want2).await.unwrap();
    assert_converged(&RouteTableAssociation, &assoc_want2, &assoc2, &[]);
    let assoc2_id = s(&assoc2, "id").to_owned();
    assert_ne!(assoc2_id, assoc_id, "replace must return the new association id");
    let read = read_ids(&cx, &RouteTableAssociation, &[&assoc_id, &assoc2_id, "rtbassoc-0000000000000dead"]).await;
    assert_eq!(read.keys().collect::<Vec<_>>(), [&assoc2_id]);
    RouteTableAssociation.delete(&cx, &assoc2).await.unwrap();
    assert!(read_ids(&cx, &RouteTableAssociation, &[&assoc2_id]).await.is_empty());
    RouteTableAssociation.delete(&cx, &assoc2).await.expect("already gone is fine");

    // Batched route table read with a deleted table.
    RouteTable.delete(&cx, &rt_b).await.unwrap();
    let read = read_ids(&cx, &RouteTable, &[&rt_id, s(&rt_b, "id")]).await;
    assert_eq!(read.keys().collect::<Vec<_>>(), [&rt_id]);
    assert_eq!(tagged(&cx, &RouteTable).await.len(), 1);

    // Tear down: NAT gateway (waits for `deleted`, then reads as absent), EIP, the rest.
    NatGateway.delete(&cx, &nat2).await.unwrap();
    assert!(read_ids(&cx, &NatGateway, &[&nat_id]).await.is_empty());
    assert!(tagged(&cx, &NatGateway).await.is_empty());
    let eip_want2 = desired(&Eip, &stack, "aws_eip.nat", json!({"tags": {"Name": "renamed"}}));
    let eip2 = Eip.update(&cx, &eip, &eip_want2).await.unwrap();
    assert_converged(&Eip, &eip_want2, &eip2, &[]);
    assert_eq!(tagged(&cx, &Eip).await[0].0, alloc);
    Eip.delete(&cx, &eip2).await.unwrap();
    assert!(read_ids(&cx, &Eip, &[&alloc]).await.is_empty());
    Eip.delete(&cx, &eip2).await.expect("releasing a released address succeeds");
    RouteTable.delete(&cx, &rt3).await.unwrap();
    assert!(read_ids(&cx, &RouteTable, &[&rt_id]).await.is_empty());
    InternetGateway.delete(&cx, &igw).await.unwrap();
    Subnet.delete(&cx, &subnet).await.unwrap();
    Vpc.delete(&cx, &vpc).await.unwrap();
    assert_eq!(count_tagged(&ec2, &stack).await, 0, "{:?}", tagged_ids(&ec2, &stack).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn eip_batched_read_omits_released() {
    let (cx, _ec2, stack) = setup("eip").await;
    let a = create_checked(&cx, &Eip, &desired(&Eip, &stack, "aws_eip.a", json!({}))).await;
    let b = create_checked(&cx, &Eip, &desired(&Eip, &stack, "aws_eip.b", json!({"domain": "vpc"}))).await;
    Eip.delete(&cx, &b).await.unwrap();
    let read = read_ids(&cx, &Eip, &[s(&a, "id"), s(&b, "id"), "eipalloc-0000000000000dead"]).await;
    assert_eq!(read.keys().collect::<Vec<_>>(), [s(&a, "id")]);
    assert_eq!(read[s(&a, "id")]["domain"], Value::str("vpc"));
    Eip.delete(&cx, &a).await.unwrap();
}

fn sg_desc(ec2_perms: &[aws_sdk_ec2::types::IpPermission]) -> Vec<(String, Option<i32>, usize, usize)> {
    let mut v: Vec<_> = ec2_perms
        .iter()
        .map(|p| {
            (
                p.ip_protocol().unwrap_or_default().to_owned(),
                p.from_port(),
                p.ip_ranges().len(),
                p.user_id_group_pairs().len(),
            )
        })
        .collect();
    v.sort();
    v
}

async fn describe_sg(ec2: &aws_sdk_ec2::Client, id: &str) -> aws_sdk_ec2::types::SecurityGroup {
    ec2.describe_security_groups()
        .filters(Filter::builder().name("group-id").values(id).build())
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn security_group_lifecycle() {
    let (cx, ec2, stack) = setup("sg").await;
    let vpc = make_vpc(&cx, "10.50.0.0/16").await;
    let vpc_id = s(&vpc, "id").to_owned();
    // Ingress only: the default allow-all egress must be revoked. Two 443 rules AWS merges into one
    // permission; "6" is tcp.
    let want = desired(
        &SecurityGroup,
        &stack,
        "aws_security_group.web",
        json!({"name": "web", "vpc_id": vpc_id, "tags": {"Name": "web"}, "ingress": [
            {"from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["10.0.0.0/8"]},
            {"from_port": 443, "to_port": 443, "protocol": "6", "cidr_blocks": ["192.168.0.0/16"]},
            {"from_port": 22, "to_port": 22, "protocol": "tcp", "self": true, "description": "ssh"}
        ]}),
    );
    let got = create_checked(&cx, &SecurityGroup, &want).await;
    let id = s(&got, "id").to_owned();
    assert_converged(&SecurityGroup, &want, &got, &["revoke_rules_on_delete"]);
    assert_eq!(got["egress"], Value::List(vec![]));
    assert_eq!(s(&got, "description"), "Managed by provisioner");
    assert!(s(&got, "arn").ends_with(&format!("security-group/{id}")));
    let aws = describe_sg(&ec2, &id).await;
    assert!(aws.ip_permissions_egress().is_empty(), "default egress not revoked: {aws:?}");
    let probe = OrderProbe { ec2: ec2.clone(), seen: Default::default() };
    let mut want_c = want.clone();
    want_c.insert("name".into(), Value::str("web-probe"));
    let probed = SecurityGroup.create(&cx, &want_c, &probe).await.unwrap();
    assert_eq!(*probe.seen.lock().unwrap(), ["egress=1"], "checkpoint after revoking the default egress");
    SecurityGroup.delete(&cx, &probed).await.unwrap();
    assert_eq!(
        sg_desc(aws.ip_permissions()),
        [("tcp".to_owned(), Some(22), 0, 1), ("tcp".to_owned(), Some(443), 2, 0)],
        "{aws:?}"
    );
    // A re-plan is empty: normalize(desired) == normalize(read) for what the config sets. `egress` is left
    // out (optional+computed, so `security_group_rule` can manage it): the read reports it revoked.
    let read = read_ids(&cx, &SecurityGroup, &[&id]).await.remove(&id).unwrap();
    for k in ["ingress", "name", "description", "vpc_id", "tags"] {
        assert_eq!(canon(&SecurityGroup, &want).get(k), canon(&SecurityGroup, &read).get(k), "{k}");
    }
    assert_eq!(canon(&SecurityGroup, &want).get("egress"), None, "not set by the config");
    assert_eq!(canon(&SecurityGroup, &read).get("egress"), Some(&Value::List(vec![])));

    // Second group referencing the first; deleted again for the batched read.
    let want_b = desired(
        &SecurityGroup,
        &stack,
        "aws_security_group.db",
        json!({"name": "db", "vpc_id": vpc_id, "description": "database", "revoke_rules_on_delete": true,
               "ingress": [{"from_port": 5432, "to_port": 5432, "protocol": "tcp", "security_groups": [id]}],
               "egress": [{"from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"]}]}),
    );
    let b = create_checked(&cx, &SecurityGroup, &want_b).await;
    assert_converged(&SecurityGroup, &want_b, &b, &[]);
    assert_eq!(b["revoke_rules_on_delete"], Value::Bool(true), "create returns the local setting");
    assert_eq!(describe_sg(&ec2, s(&b, "id")).await.ip_permissions_egress().len(), 1);
    SecurityGroup.delete(&cx, &b).await.unwrap();
    let read = read_ids(&cx, &SecurityGroup, &[&id, s(&b, "id"), "sg-0000000000000dead"]).await;
    assert_eq!(read.keys().collect::<Vec<_>>(), [&id]);

    // Update: drop a CIDR from the merged rule, change a description, add egress and a udp rule.
    let want2 = desired(
        &SecurityGroup,
        &stack,
        "aws_security_group.web",
        json!({"name": "web", "vpc_id": vpc_id, "tags": {"Name": "web2"}, "ingress": [
            {"from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["10.0.0.0/8"]},
            {"from_port": 22, "to_port": 22, "protocol": "tcp", "self": true, "description": "ssh from peers"},
            {"from_port": 53, "to_port": 53, "protocol": "udp", "cidr_blocks": ["10.0.0.0/8", "172.16.0.0/12"], "description": "dns"}
        ], "egress": [
            {"from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"]}
        ]}),
    );
    let got2 = SecurityGroup.update(&cx, &got, &want2).await.unwrap();
    assert_converged(&SecurityGroup, &want2, &got2, &[]);
    let aws = describe_sg(&ec2, &id).await;
    assert_eq!(
        sg_desc(aws.ip_permissions()),
        [("tcp".to_owned(), Some(22), 0, 1), ("tcp".to_owned(), Some(443), 1, 0), ("udp".to_owned(), Some(53), 2, 0)]
    );
    assert_eq!(sg_desc(aws.ip_permissions_egress()), [("tcp".to_owned(), Some(443), 1, 0)]);

    let tagged = tagged(&cx, &SecurityGroup).await;
    assert_eq!(
        tagged.iter().map(|t| (t.0.as_str(), t.1.as_deref())).collect::<Vec<_>>(),
        [(id.as_str(), Some("aws_security_group.web"))]
    );

    SecurityGroup.delete(&cx, &got2).await.unwrap();
    assert!(read_ids(&cx, &SecurityGroup, &[&id]).await.is_empty());
    SecurityGroup.delete(&cx, &got2).await.expect("already gone is fine");
    Vpc.delete(&cx, &vpc).await.unwrap();
    assert_eq!(count_tagged(&ec2, &stack).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn security_group_rules_standalone() {
    let (cx, ec2, stack) = setup("sgrule").await;
    let vpc = make_vpc(&cx, "10.60.0.0/16").await;
    let vpc_id = s(&vpc, "id").to_owned();
    let mk = |name: &str| {
        desired(&SecurityGroup, &stack, &format!("aws_security_group.{name}"), json!({"name": name, "vpc_id": vpc_id}))
    };
    let a = SecurityGroup.create(&cx, &mk("app"), &RecordingCheckpoint::new()).await.unwrap();
    let b = SecurityGroup.create(&cx, &mk("db"), &RecordingCheckpoint::new()).await.unwrap();
    let (a_id, b_id) = (s(&a, "id").to_owned(), s(&b, "id").to_owned());

    // Groups referencing each other: db accepts app, app accepts db.
    let r1_want = desired(
        &SecurityGroupRule,
        &stack,
        "r1",
        json!({"type": "ingress", "security_group_id": b_id, "from_port": 5432, "to_port": 5432, "protocol": "6",
               "source_security_group_id": a_id, "description": "from app"}),
    );
    let r1 = create_checked(&cx, &SecurityGroupRule, &r1_want).await;
    assert_converged(&SecurityGroupRule, &r1_want, &r1, &[]);
    let r2_want = desired(
        &SecurityGroupRule,
        &stack,
        "r2",
        json!({"type": "ingress", "security_group_id": a_id, "from_port": 8080, "to_port": 8080, "protocol": "tcp",
               "source_security_group_id": b_id}),
    );
    let r2 = create_checked(&cx, &SecurityGroupRule, &r2_want).await;
    let r3_want = desired(
        &SecurityGroupRule,
        &stack,
        "r3",
        json!({"type": "egress", "security_group_id": a_id, "from_port": 0, "to_port": 65535, "protocol": "all",
               "cidr_blocks": ["10.0.0.0/8", "192.168.0.0/16"], "self": true}),
    );
    let r3 = create_checked(&cx, &SecurityGroupRule, &r3_want).await;
    assert_converged(&SecurityGroupRule, &r3_want, &r3, &[]);
    let (id1, id2, id3) = (s(&r1, "id").to_owned(), s(&r2, "id").to_owned(), s(&r3, "id").to_owned());
    // A rule naming its own group as source (AWS reports it like `self`).
    let r4_want = desired(
        &SecurityGroupRule,
        &stack,
        "r4",
        json!({"type": "ingress", "security_group_id": a_id, "from_port": 9000, "to_port": 9001, "protocol": "udp",
               "source_security_group_id": a_id}),
    );
    let r4 = create_checked(&cx, &SecurityGroupRule, &r4_want).await;
    assert_converged(&SecurityGroupRule, &r4_want, &r4, &[]);
    SecurityGroupRule.delete(&cx, &r4).await.unwrap();
    assert!(read_ids(&cx, &SecurityGroupRule, &[s(&r4, "id")]).await.is_empty());
    assert!(id1.starts_with(&format!("{b_id}_ingress_tcp_5432_5432_{a_id}_")), "{id1}");

    // The same rule again is a clear error.
    let dup = SecurityGroupRule.create(&cx, &r1_want, &RecordingCheckpoint::new()).await.unwrap_err();
    assert_eq!(dup.code.as_deref(), Some("InvalidPermission.Duplicate"), "{dup}");
    assert!(dup.message.contains("already exists"), "{dup}");

    let read =
        read_ids(&cx, &SecurityGroupRule, &[&id1, &id2, &id3, "sg-0000000000000dead_ingress_tcp_1_1_self_00000000"])
            .await;
    assert_eq!(read.len(), 3);
    assert_eq!(read[&id1], r1);

    // Deleted through the resource, and revoked outside the tool: both read as absent.
    SecurityGroupRule.delete(&cx, &r2).await.unwrap();
    ec2.revoke_security_group_egress()
        .group_id(&a_id)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("-1")
                .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip("192.168.0.0/16").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let read = read_ids(&cx, &SecurityGroupRule, &[&id1, &id2, &id3]).await;
    assert_eq!(read.keys().collect::<Vec<_>>(), [&id1]);
    SecurityGroupRule.delete(&cx, &r3).await.expect("partly revoked rule deletes");
    SecurityGroupRule.delete(&cx, &r1).await.unwrap();
    assert!(read_ids(&cx, &SecurityGroupRule, &[&id1]).await.is_empty());
    SecurityGroupRule.delete(&cx, &r1).await.expect("already gone is fine");
    let aws = describe_sg(&ec2, &b_id).await;
    assert!(aws.ip_permissions().is_empty());

    for g in [&a, &b] {
        SecurityGroup.delete(&cx, g).await.unwrap();
    }
    Vpc.delete(&cx, &vpc).await.unwrap();
    assert_eq!(count_tagged(&ec2, &stack).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn availability_zones_data_source() {
    let (cx, _ec2, _stack) = setup("az").await;
    let args = AvailabilityZones.schema().normalize(&Attrs::new());
    let out = AvailabilityZones.read(&cx, &args).await.unwrap();
    let names = out["names"].as_str_list().unwrap();
    let ids = out["zone_ids"].as_str_list().unwrap();
    assert!(names.len() >= 2, "{out:?}");
    assert_eq!(names.len(), ids.len());
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(names.iter().all(|n| n.starts_with("us-east-1")));
    assert_eq!(out["state"], Value::str("available"));
}

#[tokio::test(flavor = "multi_thread")]
async fn create_failure_surfaces_aws_error() {
    let (cx, _ec2, stack) = setup("fail").await;
    let d = desired(
        &Subnet,
        &stack,
        "aws_subnet.bad",
        json!({"vpc_id": "vpc-0000000000000dead", "cidr_block": "10.0.0.0/24"}),
    );
    let cp = RecordingCheckpoint::new();
    let mut cx = cx;
    cx.waits = provisioner::aws::WaitConfig {
        poll: std::time::Duration::from_millis(20),
        timeout: std::time::Duration::from_millis(200),
    };
    let e: ProviderError = Subnet.create(&cx, &d, &cp).await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert!(cp.calls().is_empty(), "nothing was created, nothing checkpointed");
}

#[tokio::test(flavor = "multi_thread")]
async fn private_moto_starts_resets_and_stops() {
    let moto = Moto::start();
    let port = moto.port;
    assert_ne!(port, Moto::shared().port);
    let env: BTreeMap<String, String> = env(&moto).into_iter().collect();
    assert_eq!(env["AWS_ENDPOINT_URL"], moto.endpoint);
    assert_eq!(env["AWS_EC2_METADATA_DISABLED"], "true");
    let stack = unique_stack("private");
    let cx = ctx(&moto, &stack).await;
    let ec2 = ec2_client(&moto);
    let vpc = make_vpc(&cx, "10.70.0.0/16").await;
    assert_eq!(tagged_ids(&ec2, &stack).await, [s(&vpc, "id").to_owned()]);
    assert_eq!(cx.calls.snapshot().get("EC2.CreateVpc"), Some(&1), "{:?}", cx.calls.snapshot());
    moto.reset();
    assert_eq!(count_tagged(&ec2, &stack).await, 0);
    drop(moto);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "moto still listening after drop");
}

/// Reading many instances costs one Describe call per type (per 200 ids / page), not one per instance.
#[tokio::test(flavor = "multi_thread")]
async fn reads_are_batched() {
    let (cx, ec2, stack) = setup("batch").await;
    let vpc = make_vpc(&cx, "10.80.0.0/16").await;
    let vpc_id = s(&vpc, "id").to_owned();
    let mut subnets = Vec::new();
    let mut groups = Vec::new();
    for i in 0..3 {
        subnets.push(make_subnet(&cx, &vpc_id, &format!("10.80.{i}.0/24")).await);
        let d = desired(
            &SecurityGroup,
            &stack,
            &format!("aws_security_group.g{i}"),
            json!({"name": format!("g{i}"), "vpc_id": vpc_id}),
        );
        groups.push(SecurityGroup.create(&cx, &d, &RecordingCheckpoint::new()).await.unwrap());
    }
    let ids = |v: &[Attrs]| v.iter().map(|a| s(a, "id").to_owned()).collect::<Vec<_>>();
    let before = cx.calls.snapshot();
    let subnet_ids = ids(&subnets);
    let group_ids = ids(&groups);
    assert_eq!(Subnet.read(&cx, &subnet_ids).await.unwrap().len(), 3);
    assert_eq!(SecurityGroup.read(&cx, &group_ids).await.unwrap().len(), 3);
    let after = cx.calls.snapshot();
    let delta = |k: &str| after.get(k).copied().unwrap_or(0) - before.get(k).copied().unwrap_or(0);
    assert_eq!((delta("EC2.DescribeSubnets"), delta("EC2.DescribeSecurityGroups")), (1, 1), "{after:?}");

    for g in &groups {
        SecurityGroup.delete(&cx, g).await.unwrap();
    }
    for sn in &subnets {
        Subnet.delete(&cx, sn).await.unwrap();
    }
    Vpc.delete(&cx, &vpc).await.unwrap();
    assert_eq!(count_tagged(&ec2, &stack).await, 0);
}

const CLI_HEADER: &str =
    "[stack]\nname = \"__STACK__\"\n\n[backend]\ntype = \"local\"\npath = \".provisioner/state.json\"\n";

/// A VPC (IPv6 block as `vpc_ipv6`), its internet gateway, one subnet (`subnet_ipv6`: its extra arguments)
/// and a route table with `routes`.
fn write_ipv6_stack(cli: &common_cli::Cli, vpc_ipv6: bool, subnet_ipv6: &str, routes: &str) {
    cli.write(
        "main.toml",
        &format!(
            r#"{CLI_HEADER}
[resource.vpc.main]
cidr_block = "10.44.0.0/16"
assign_generated_ipv6_cidr_block = {vpc_ipv6}

[resource.internet_gateway.main]
vpc_id = "${{vpc.main.id}}"

[resource.subnet.main]
vpc_id = "${{vpc.main.id}}"
cidr_block = "10.44.1.0/24"
{subnet_ipv6}

[resource.route_table.main]
vpc_id = "${{vpc.main.id}}"
route = [{routes}]
"#
        ),
    );
}

fn describe_vpc(cli: &common_cli::Cli, id: &str) -> aws_sdk_ec2::types::Vpc {
    common_cli::block_on(cli.ec2().describe_vpcs().vpc_ids(id).send()).unwrap().vpcs()[0].clone()
}

fn describe_subnet(cli: &common_cli::Cli, id: &str) -> aws_sdk_ec2::types::Subnet {
    common_cli::block_on(cli.ec2().describe_subnets().subnet_ids(id).send()).unwrap().subnets()[0].clone()
}

/// The route table's routes other than `local`, as (destination, gateway), sorted.
fn routes(cli: &common_cli::Cli, id: &str) -> Vec<(String, String)> {
    let out = common_cli::block_on(cli.ec2().describe_route_tables().route_table_ids(id).send()).unwrap();
    let mut v: Vec<(String, String)> = out.route_tables()[0]
        .routes()
        .iter()
        .filter(|r| r.gateway_id() != Some("local"))
        .map(|r| {
            let dest = r.destination_cidr_block().or(r.destination_ipv6_cidr_block()).unwrap_or_default();
            (dest.to_owned(), r.gateway_id().unwrap_or_default().to_owned())
        })
        .collect();
    v.sort();
    v
}

/// The VPC's associated IPv6 blocks, as (block, association id).
fn vpc_ipv6(vpc: &aws_sdk_ec2::types::Vpc) -> Vec<(String, String)> {
    vpc.ipv6_cidr_block_association_set()
        .iter()
        .filter(|a| {
            a.ipv6_cidr_block_state().and_then(|s| s.state())
                == Some(&aws_sdk_ec2::types::VpcCidrBlockStateCode::Associated)
        })
        .map(|a| (a.ipv6_cidr_block().unwrap().to_owned(), a.association_id().unwrap().to_owned()))
        .collect()
}

#[test]
fn ipv6_blocks_and_routes_turn_on_and_off_in_place() {
    let cli = common_cli::Cli::new("ipv6-inplace");
    let v4_route = r#"{ cidr_block = "0.0.0.0/0", gateway_id = "${internet_gateway.main.id}" }"#;
    let v6_route = r#"{ ipv6_cidr_block = "::/0", gateway_id = "${internet_gateway.main.id}" }"#;
    write_ipv6_stack(&cli, false, "", v4_route);
    cli.apply();
    let (vpc, subnet, rt, igw) =
        (cli.id("vpc.main"), cli.id("subnet.main"), cli.id("route_table.main"), cli.id("internet_gateway.main"));
    assert!(vpc_ipv6(&describe_vpc(&cli, &vpc)).is_empty());
    let st = &cli.state_resource("vpc.main")["attributes"];
    assert_eq!(
        (&st["assign_generated_ipv6_cidr_block"], &st["ipv6_cidr_block"]),
        (&serde_json::json!(false), &serde_json::json!(""))
    );

    // The VPC's block, associated in place.
    write_ipv6_stack(&cli, true, "", v4_route);
    let plan = cli.plan_json(&[]);
    assert_eq!(common_cli::actions(&plan), [("vpc.main".to_owned(), "update".to_owned())], "{plan:#}");
    let out = cli.apply();
    assert!(out.stdout.contains("0 added, 1 changed, 0 destroyed"), "{out}");
    assert_eq!(cli.id("vpc.main"), vpc);
    let blocks = vpc_ipv6(&describe_vpc(&cli, &vpc));
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    let (block, assoc) = blocks[0].clone();
    let st = &cli.state_resource("vpc.main")["attributes"];
    assert_eq!((st["ipv6_cidr_block"].as_str(), st["ipv6_association_id"].as_str()), (Some(&*block), Some(&*assoc)));
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    // The subnet's /64, written in another spelling than AWS's, and the IPv6 default route, in place.
    let net: ipnet::Ipv6Net = block.parse().unwrap();
    let sub = net.subnets(64).unwrap().nth(3).unwrap();
    let long = format!("{}/64", sub.network().segments().map(|s| format!("{s:04X}")).join(":"));
    write_ipv6_stack(
        &cli,
        true,
        &format!("ipv6_cidr_block = \"{long}\"\nassign_ipv6_address_on_creation = true"),
        &format!("{v4_route}, {v6_route}"),
    );
    let out = cli.apply();
    assert!(out.stdout.contains("0 added, 2 changed, 0 destroyed"), "{out}");
    let s = describe_subnet(&cli, &subnet);
    assert_eq!(s.assign_ipv6_address_on_creation(), Some(true));
    let assocs: Vec<_> =
        s.ipv6_cidr_block_association_set().iter().map(|a| a.ipv6_cidr_block().unwrap().to_owned()).collect();
    assert_eq!(assocs, [sub.to_string()]);
    assert_eq!(cli.state_resource("subnet.main")["attributes"]["ipv6_cidr_block"], sub.to_string());
    assert_eq!(routes(&cli, &rt), [("0.0.0.0/0".to_owned(), igw.clone()), ("::/0".to_owned(), igw.clone())]);
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    // All off again: the subnet's block and the route first, then the VPC's block.
    write_ipv6_stack(&cli, true, "", v4_route);
    let out = cli.apply();
    assert!(out.stdout.contains("0 added, 2 changed, 0 destroyed"), "{out}");
    let s = describe_subnet(&cli, &subnet);
    assert!(s.ipv6_cidr_block_association_set().is_empty(), "{s:?}");
    assert_eq!(s.assign_ipv6_address_on_creation(), Some(false));
    assert_eq!(routes(&cli, &rt), [("0.0.0.0/0".to_owned(), igw.clone())]);
    write_ipv6_stack(&cli, false, "", v4_route);
    cli.apply();
    assert!(vpc_ipv6(&describe_vpc(&cli, &vpc)).is_empty());
    let st = &cli.state_resource("vpc.main")["attributes"];
    assert_eq!((&st["ipv6_cidr_block"], &st["ipv6_association_id"]), (&serde_json::json!(""), &serde_json::json!("")));
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0, "{:?}", cli.tagged_ids());
}

#[test]
fn a_route_with_both_or_neither_destination_fails_the_plan_located() {
    let cli = common_cli::Cli::new("ipv6-route-dest");
    // The gateway is still to be created, so the route's target is unknown at plan: the destinations are
    // checked all the same (and with everything known, before any AWS call).
    let text = |route: &str, gateway: &str| {
        format!(
            r#"{CLI_HEADER}
[resource.vpc.main]
cidr_block = "10.45.0.0/16"

[resource.internet_gateway.main]
vpc_id = "${{vpc.main.id}}"

[resource.route_table.main]
vpc_id = "${{vpc.main.id}}"
route = [
  {{ cidr_block = "10.9.0.0/16", gateway_id = "{gateway}" }},
  {route},
]
"#
        )
    };
    let igw = "${internet_gateway.main.id}";
    for (route, gateway, why) in [
        (
            format!(r#"{{ cidr_block = "0.0.0.0/0", ipv6_cidr_block = "::/0", gateway_id = "{igw}" }}"#),
            igw,
            "the route to 0.0.0.0/0 and ::/0: both are set",
        ),
        (format!(r#"{{ gateway_id = "{igw}" }}"#), igw, "a route: neither is set"),
        (
            r#"{ gateway_id = "igw-0123456789abcdef0" }"#.to_owned(),
            "igw-0123456789abcdef0",
            "a route via igw-0123456789abcdef0: neither is set",
        ),
    ] {
        cli.write("main.toml", &text(&route, gateway));
        let out = cli.run(&["plan"]);
        assert_eq!(out.code, 1, "{out}");
        assert!(out.stderr.contains("main.toml:14:23"), "located at the block: {out}");
        assert!(
            out.stderr.contains(&format!("route_table.main: {why}; set exactly one of cidr_block and ipv6_cidr_block")),
            "{out}"
        );
        assert!(out.stderr.contains("nothing was sent to AWS"), "{out}");
        assert!(!cli.state_path().exists() || cli.state_addresses().is_empty(), "nothing applied");
        assert_eq!(cli.count_tagged(), 0, "nothing created");
    }
}
