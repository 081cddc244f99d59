//! Language features end to end through the binary against moto: data sources with `for_each` (instances
//! read at plan, or at apply when their arguments wait on a resource; one state record per instance; splat
//! and index references), Terraform's type conversions (`"443"` for a number), one inline table for a
//! nested block and a nested block from one `${…}` (Terraform's `dynamic`), empty meaning no block.

mod common;
mod common_cli;

use common_cli::*;
use serde_json::Value as Json;

const STACK: &str = r#"
[stack]
name = "__STACK__"

[backend]
type = "local"
path = ".provisioner/state.json"

[variable.port]
default = "443"

[variable.egress]
type = "bool"
default = true

[data.availability_zones.zones]
for_each = ["available"]
state = "${each.key}"

# Arguments known only once the VPC exists: read during apply.
[data.availability_zones.late]
for_each = { x = "available" }
state = '${vpc.main.id == "" ? "impaired" : each.value}'

[resource.vpc.main]
cidr_block = "10.8.0.0/16"

[resource.subnet.a]
vpc_id = "${vpc.main.id}"
cidr_block = "10.8.1.0/24"
availability_zone = '${data.availability_zones.zones["available"].names[0]}'
map_public_ip_on_launch = "false"

[resource.security_group.web]
name = "__STACK__-web"
vpc_id = "${vpc.main.id}"
ingress = { from_port = "${var.port}", to_port = "443", protocol = "tcp", cidr_blocks = ["0.0.0.0/0"] }
egress = '${var.egress ? [{ from_port = 0, to_port = 0, protocol = "-1", cidr_blocks = ["0.0.0.0/0"] }] : []}'

[output.zones]
value = "${data.availability_zones.zones[*].names}"

[output.late]
value = '${data.availability_zones.late["x"].names[0]}'
"#;

#[test]
fn data_for_each_conversions_and_nested_blocks() {
    let cli = Cli::new("lang");
    cli.write("main.toml", STACK);
    cli.ok(&["validate"]);

    let plan = cli.plan_json(&[]);
    let read = change(&plan, "data.availability_zones.zones[\"available\"]");
    assert_eq!(read["action"], "read", "{plan:#}");
    let names = read["after"]["names"].as_array().expect("names read at plan");
    assert!(!names.is_empty(), "{read:#}");
    let late = change(&plan, "data.availability_zones.late[\"x\"]");
    assert_eq!(late["action"], "read");
    let sg = change(&plan, "security_group.web");
    assert_eq!(sg["after"]["ingress"][0]["from_port"], 443, "\"443\" converted and one table read as a list: {sg:#}");
    assert_eq!(sg["after"]["egress"][0]["protocol"], "-1", "{sg:#}");
    let subnet = change(&plan, "subnet.a");
    assert_eq!(subnet["after"]["availability_zone"], names[0], "{subnet:#}");
    assert_eq!(subnet["after"]["map_public_ip_on_launch"], false);

    let out = cli.apply();
    assert!(out.stdout.contains("Apply complete!"), "{out}");
    // One state record per data instance.
    let addrs = cli.state_addresses();
    for a in ["data.availability_zones.late[\"x\"]", "data.availability_zones.zones[\"available\"]"] {
        assert!(addrs.iter().any(|x| x == a), "{a} in state: {addrs:?}");
    }
    assert_eq!(cli.state_resource("data.availability_zones.zones[\"available\"]")["attributes"]["names"][0], names[0]);
    let outs: Json = cli.json(&[0], &["output"]);
    assert_eq!(outs["zones"]["value"][0][0], names[0], "{outs:#}");
    assert_eq!(outs["late"]["value"], names[0], "{outs:#}");

    // Nothing to do on a second plan: converted values and one-table blocks compare equal to AWS's.
    let plan = cli.json(&[0], &["plan", "--detailed-exitcode"]);
    assert_eq!(actions(&plan), vec![], "{plan:#}");

    // The dynamic-style block yielding [] means no block: egress is left unmanaged, not emptied.
    let plan = cli.json(&[0, 2], &["plan", "--detailed-exitcode", "--var", "egress=false"]);
    assert_eq!(actions(&plan), vec![], "{plan:#}");

    // A data instance gone from for_each leaves the state; a string that is not a number is refused.
    cli.edit("main.toml", "for_each = [\"available\"]", "for_each = []");
    cli.edit("main.toml", "availability_zone = '${data.availability_zones.zones[\"available\"].names[0]}'", "");
    let out = cli.apply();
    assert!(out.stdout.contains("Apply complete!"), "{out}");
    assert!(
        !cli.state_addresses().iter().any(|a| a.starts_with("data.availability_zones.zones")),
        "{:?}",
        cli.state_addresses()
    );
    cli.edit("main.toml", "default = \"443\"", "default = \"https\"");
    let out = cli.expect(1, &["plan"]);
    assert!(
        out.stderr.contains("invalid value for `ingress.from_port`: expected number, found string \"https\""),
        "{out}"
    );

    cli.edit("main.toml", "default = \"https\"", "default = \"443\"");
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0);
}
