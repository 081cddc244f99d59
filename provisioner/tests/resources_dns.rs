//! The Route 53 and ACM types through the real CLI against the emulator (which makes Route 53 changes
//! PENDING until polled, refuses a CREATE over an existing record as AWS does, and issues certificates
//! after a second, or slowly, never, or fails them on request), the SDK to verify from outside: a zone with
//! alias, A/AAAA, CNAME, TXT and wildcard records applies, re-plans empty and destroys leaving nothing; data
//! `route53_zone` by name; a certificate for an apex, its wildcard and `www` has two validation options,
//! `for_each` over them makes exactly two records in one plan, and `acm_certificate_validation` waits until it
//! is issued; a record over an existing one fails clearly unless `allow_overwrite`; slow, stuck and failed
//! waits end bounded with errors naming what is pending; import of a zone, a record and a certificate;
//! configuration mistakes fail at plan, located, with hints.

mod common;
mod common_cli;

use common_cli::*;

/// A unique domain under example.com (the shared emulator serves every test of this binary at once).
fn domain(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!(
        "{prefix}{}x{}.example.com",
        std::process::id() % 100_000,
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

const HEADER: &str =
    "[stack]\nname = \"__STACK__\"\n\n[backend]\ntype = \"local\"\npath = \".provisioner/state.json\"\n\n";

fn r53(cli: &Cli) -> aws_sdk_route53::Client {
    aws_sdk_route53::Client::new(&common::sdk_config(cli.moto))
}

fn acm(cli: &Cli) -> aws_sdk_acm::Client {
    aws_sdk_acm::Client::new(&common::sdk_config(cli.moto))
}

/// Creates a record set in `zone` from outside (moto itself), as someone else would.
fn create_record_outside(cli: &Cli, zone: &str, name: &str, ty: aws_sdk_route53::types::RrType, ttl: i64, value: &str) {
    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet};
    let set = ResourceRecordSet::builder()
        .name(name)
        .r#type(ty)
        .ttl(ttl)
        .resource_records(ResourceRecord::builder().value(value).build().unwrap())
        .build()
        .unwrap();
    let change = Change::builder().action(ChangeAction::Create).resource_record_set(set).build().unwrap();
    let batch = ChangeBatch::builder().changes(change).build().unwrap();
    block_on(r53(cli).change_resource_record_sets().hosted_zone_id(zone).change_batch(batch).send()).unwrap();
}

/// The record sets of a zone, by (name without the trailing dot, type).
fn records(cli: &Cli, zone_id: &str) -> Vec<aws_sdk_route53::types::ResourceRecordSet> {
    block_on(r53(cli).list_resource_record_sets().hosted_zone_id(zone_id).send())
        .unwrap()
        .resource_record_sets()
        .to_vec()
}

fn find<'a>(
    sets: &'a [aws_sdk_route53::types::ResourceRecordSet],
    name: &str,
    ty: &str,
) -> Option<&'a aws_sdk_route53::types::ResourceRecordSet> {
    sets.iter().find(|s| s.name().trim_end_matches('.').replace("\\052", "*") == name && s.r#type().as_str() == ty)
}

fn values(s: &aws_sdk_route53::types::ResourceRecordSet) -> Vec<String> {
    s.resource_records().iter().map(|r| r.value().to_owned()).collect()
}

fn zone_exists(cli: &Cli, id: &str) -> bool {
    block_on(r53(cli).get_hosted_zone().id(id).send()).is_ok()
}

fn zone_block(d: &str) -> String {
    format!("[resource.route53_zone.main]\nname = \"{d}\"\nforce_destroy = true\ntags = {{ Team = \"web\" }}\n\n")
}

#[test]
fn a_zone_with_alias_a_aaaa_cname_txt_and_wildcard_records_applies_replans_empty_and_destroys() {
    let cli = Cli::new("dns-full").env("PROVISIONER_PROGRESS_SECS", "0.01");
    let d = domain("full");
    let lb = format!("dns{}x{}", std::process::id() % 100_000, 1);
    cli.write(
        "main.toml",
        &format!(
            r#"{HEADER}[data.availability_zones.all]

[resource.vpc.main]
cidr_block = "10.42.0.0/16"

[resource.subnet.public]
for_each = {{ a = 0, b = 1 }}
vpc_id = "${{vpc.main.id}}"
cidr_block = '${{cidrsubnet("10.42.0.0/16", 8, each.value)}}'
availability_zone = "${{element(data.availability_zones.all.names, each.value)}}"

[resource.lb.web]
name = "{lb}"
subnets = "${{subnet.public[*].id}}"

{zone}[resource.route53_record.apex]
zone_id = "${{route53_zone.main.zone_id}}"
name = "{d}"
type = "A"
alias = {{ name = "${{lb.web.dns_name}}", zone_id = "${{lb.web.zone_id}}", evaluate_target_health = true }}

[resource.route53_record.www]
zone_id = "${{route53_zone.main.zone_id}}"
name = "www.{d}"
type = "AAAA"
ttl = 300
records = ["2001:db8::1", "2001:db8::2"]

[resource.route53_record.app]
zone_id = "${{route53_zone.main.zone_id}}"
name = "app.{d}."
type = "CNAME"
ttl = 60
records = ["www.{d}"]

[resource.route53_record.spf]
zone_id = "${{route53_zone.main.zone_id}}"
name = "{d}"
type = "TXT"
ttl = 300
records = ["v=spf1 -all"]

[resource.route53_record.wildcard]
zone_id = "${{route53_zone.main.zone_id}}"
name = "*.{d}"
type = "A"
ttl = 60
records = ["192.0.2.10"]

[output.name_servers]
value = "${{route53_zone.main.name_servers}}"
"#,
            zone = zone_block(&d)
        ),
    );
    let out = cli.apply();
    assert!(out.stdout.contains("10 added"), "{out}");
    let zone = cli.id("route53_zone.main");
    assert!(!zone.starts_with("/hostedzone/"), "{zone}");
    assert_eq!(cli.id("route53_record.www"), format!("{zone}_www.{d}_AAAA"), "Terraform's id");
    assert_eq!(cli.id("route53_record.wildcard"), format!("{zone}_*.{d}_A"));
    let a = &cli.state_resource("route53_zone.main")["attributes"];
    assert_eq!(a["comment"], "Managed by provisioner");
    assert_eq!(a["arn"], format!("arn:aws:route53:::hostedzone/{zone}"));
    assert!(a["name_servers"].as_array().is_some_and(|n| !n.is_empty()), "{a:#}");
    assert_eq!(cli.state()["outputs"]["name_servers"]["value"], a["name_servers"]);

    // Verified from outside.
    let sets = records(&cli, &zone);
    let apex = find(&sets, &d, "A").expect("apex alias");
    let target = apex.alias_target().expect("an alias");
    let lb_dns = cli.state_resource("lb.web")["attributes"]["dns_name"].as_str().unwrap().to_lowercase();
    assert_eq!(target.dns_name().trim_end_matches('.').to_lowercase(), lb_dns);
    assert!(target.evaluate_target_health());
    let mut v = values(find(&sets, &format!("www.{d}"), "AAAA").unwrap());
    v.sort();
    assert_eq!(v, ["2001:db8::1", "2001:db8::2"]);
    assert_eq!(values(find(&sets, &format!("app.{d}"), "CNAME").unwrap()), [format!("www.{d}")]);
    assert_eq!(values(find(&sets, &d, "TXT").unwrap()), ["\"v=spf1 -all\""], "TXT sent quoted");
    assert_eq!(values(find(&sets, &format!("*.{d}"), "A").unwrap()), ["192.0.2.10"]);
    let tags = block_on(
        r53(&cli)
            .list_tags_for_resource()
            .resource_type(aws_sdk_route53::types::TagResourceType::Hostedzone)
            .resource_id(&zone)
            .send(),
    )
    .unwrap();
    let keys: Vec<&str> = tags.resource_tag_set().unwrap().tags().iter().filter_map(|t| t.key()).collect();
    assert!(keys.contains(&"Team") && keys.contains(&"provisioner:address"), "{keys:?}");

    // A no-op plan: one listing of the zone for all five records.
    let plan = cli.json(&[0], &["plan", "--detailed-exitcode"]);
    assert_eq!(api_count(&plan, ".ListResourceRecordSets"), 1, "{:#}", plan["api_calls"]);
    assert_eq!(api_count(&plan, ".GetChange"), 0);

    // Data route53_zone by name.
    cli.edit(
        "main.toml",
        "[output.name_servers]",
        &format!("[data.route53_zone.by_name]\nname = \"{d}.\"\n\n[output.found]\nvalue = \"${{data.route53_zone.by_name.zone_id}}\"\n\n[output.name_servers]"),
    );
    cli.apply();
    assert_eq!(cli.state()["outputs"]["found"]["value"], zone.as_str());

    // A change in place is an UPSERT.
    cli.edit("main.toml", "records = [\"192.0.2.10\"]", "records = [\"192.0.2.11\"]");
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    assert_eq!(change(&plan, "route53_record.wildcard")["action"], "update");
    cli.apply();
    assert_eq!(values(find(&records(&cli, &zone), &format!("*.{d}"), "A").unwrap()), ["192.0.2.11"]);
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    cli.destroy();
    assert!(!zone_exists(&cli, &zone), "the zone is gone");
    assert!(cli.tagged_ids().is_empty(), "nothing left: {:?}", cli.tagged_ids());
}

fn certificate_stack(d: &str, extra: &str) -> String {
    format!(
        r#"{HEADER}{zone}[resource.acm_certificate.app]
domain_name = "{d}"
subject_alternative_names = ["*.{d}", "www.{d}"]
tags = {{ Team = "web" }}

[resource.route53_record.validation]
for_each = "${{acm_certificate.app.domain_validation_options}}"
zone_id = "${{route53_zone.main.zone_id}}"
name = "${{each.value.resource_record_name}}"
type = "${{each.value.resource_record_type}}"
ttl = 60
records = ["${{each.value.resource_record_value}}"]

[resource.acm_certificate_validation.app]
certificate_arn = "${{acm_certificate.app.arn}}"
validation_record_fqdns = "${{route53_record.validation[*].fqdn}}"
{extra}
"#,
        zone = zone_block(d)
    )
}

#[test]
fn a_certificate_for_an_apex_its_wildcard_and_www_is_validated_through_two_records_planned_in_one_go() {
    let cli = Cli::new("dns-cert").env("PROVISIONER_PROGRESS_SECS", "0.01");
    let d = domain("cert");
    cli.moto.acm_behaviour(&format!(r#"{{"domain": "{d}", "mode": "complete", "seconds": 2, "record_polls": 2}}"#));
    cli.write("main.toml", &certificate_stack(&d, ""));

    // One plan: the option keys are known before the certificate exists, so are the records to create.
    let plan = cli.plan_json(&[]);
    let creates: Vec<String> =
        actions(&plan).into_iter().filter(|(_, a)| a == "create").map(|(addr, _)| addr).collect();
    let want_www = format!("route53_record.validation[\"www.{d}\"]");
    let want_apex = format!("route53_record.validation[\"{d}\"]");
    assert!(creates.contains(&want_apex) && creates.contains(&want_www), "{creates:?}");
    assert_eq!(creates.iter().filter(|a| a.starts_with("route53_record.validation")).count(), 2, "{creates:?}");
    let options = &change(&plan, "acm_certificate.app")["after"]["domain_validation_options"];
    assert_eq!(options[&d]["domain_names"], serde_json::json!([format!("*.{d}"), d.clone()]), "{options:#}");

    let out = cli.apply();
    assert!(out.stdout.contains("5 added"), "{out}");
    assert!(out.all().contains("Still validating… ["), "progress while validating:\n{out}");
    let arn = cli.id("acm_certificate.app");
    assert_eq!(cli.id("acm_certificate_validation.app"), arn);
    let cert =
        block_on(acm(&cli).describe_certificate().certificate_arn(&arn).send()).unwrap().certificate().unwrap().clone();
    assert_eq!(cert.status().map(|s| s.as_str()), Some("ISSUED"));
    let a = &cli.state_resource("acm_certificate.app")["attributes"];
    assert_eq!(a["status"], "PENDING_VALIDATION", "as read right after the request: {a:#}");
    let opts = a["domain_validation_options"].as_object().unwrap();
    assert_eq!(opts.keys().collect::<Vec<_>>(), [&d, &format!("www.{d}")]);

    // The validation records are the certificate's.
    let zone = cli.id("route53_zone.main");
    let sets = records(&cli, &zone);
    for o in cert.domain_validation_options() {
        let rr = o.resource_record().expect("published");
        let s = find(&sets, rr.name().trim_end_matches('.'), "CNAME")
            .unwrap_or_else(|| panic!("no record for {}", o.domain_name()));
        assert_eq!(values(s), [rr.value()]);
    }
    assert_eq!(sets.iter().filter(|s| s.r#type().as_str() == "CNAME").count(), 2);

    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
    assert!(
        block_on(acm(&cli).describe_certificate().certificate_arn(&arn).send()).is_err(),
        "the certificate is gone"
    );
    assert!(cli.tagged_ids().is_empty(), "nothing left: {:?}", cli.tagged_ids());
}

#[test]
fn a_record_over_an_existing_one_fails_clearly_unless_allowed_to_overwrite_and_the_same_one_is_adopted() {
    let cli = Cli::new("dns-exists");
    let d = domain("exists");
    cli.write("main.toml", &format!("{HEADER}{}", zone_block(&d)));
    cli.apply();
    let zone = cli.id("route53_zone.main");
    let put = |name: &str, value: &str| {
        create_record_outside(&cli, &zone, name, aws_sdk_route53::types::RrType::A, 60, value)
    };
    put(&format!("www.{d}"), "192.0.2.1");
    put(&format!("same.{d}"), "192.0.2.5");
    let record = |name: &str, value: &str, extra: &str| {
        format!("[resource.route53_record.{name}]\nzone_id = \"${{route53_zone.main.zone_id}}\"\nname = \"{name}.{d}\"\ntype = \"A\"\nttl = 60\nrecords = [\"{value}\"]\n{extra}\n")
    };
    cli.write(
        "main.toml",
        &format!("{HEADER}{}{}{}", zone_block(&d), record("www", "192.0.2.2", ""), record("same", "192.0.2.5", "")),
    );

    // The same values: adopted, not created.
    let plan = cli.plan_json(&[]);
    let c = change(&plan, "route53_record.same");
    assert_eq!(c["action"], "update", "{c:#}");
    assert_eq!(c["reason"], "found by its natural key", "{c:#}");
    assert_eq!(change(&plan, "route53_record.www")["action"], "create");

    let out = cli.expect(1, &["apply", "--auto-approve"]);
    let all = out.all();
    assert!(all.contains(&format!("record www.{d} (A) in zone {zone} already exists")), "names the record:\n{all}");
    assert!(
        all.contains("allow_overwrite = true")
            && all.contains(&format!("provisioner import <address> {zone}_www.{d}_A")),
        "{all}"
    );
    assert_eq!(values(find(&records(&cli, &zone), &format!("www.{d}"), "A").unwrap()), ["192.0.2.1"], "untouched");
    assert_eq!(cli.id("route53_record.same"), format!("{zone}_same.{d}_A"), "adopted");

    cli.edit("main.toml", "records = [\"192.0.2.2\"]\n", "records = [\"192.0.2.2\"]\nallow_overwrite = true\n");
    cli.apply();
    assert_eq!(values(find(&records(&cli, &zone), &format!("www.{d}"), "A").unwrap()), ["192.0.2.2"], "UPSERT");
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    // An import records what the block refers to, so the record goes before its zone even once neither
    // is in the configuration any more (Route 53 deletes only empty zones).
    assert_eq!(cli.state_resource("route53_record.www")["dependencies"], serde_json::json!(["route53_zone.main"]));
    cli.write("main.toml", HEADER);
    let out = cli.ok(&["apply", "--auto-approve"]);
    let (record_done, zone_start) =
        (out.stderr.find("route53_record.www: Destruction complete"), out.stderr.find("route53_zone.main: Destroying"));
    assert!(record_done.is_some() && record_done < zone_start, "{out}");
    assert!(!zone_exists(&cli, &zone));
}

#[test]
fn route53_changes_slow_and_stuck_end_bounded_naming_the_record_and_the_change() {
    let cli = Cli::new("dns-insync").env("PROVISIONER_PROGRESS_SECS", "0.01");
    let d = domain("insync");
    cli.moto.route53_behaviour(&format!(r#"{{"name": "slow.{d}", "mode": "complete", "polls": 3}}"#));
    cli.moto.route53_behaviour(&format!(r#"{{"name": "stuck.{d}", "mode": "stuck"}}"#));
    let rec = |name: &str| {
        format!("[resource.route53_record.{name}]\nzone_id = \"${{route53_zone.main.zone_id}}\"\nname = \"{name}.{d}\"\ntype = \"A\"\nttl = 60\nrecords = [\"192.0.2.1\"]\n\n")
    };
    cli.write("main.toml", &format!("{HEADER}{}{}", zone_block(&d), rec("slow")));
    let out = cli.apply();
    assert!(out.all().contains(&format!("route53_record slow.{d} A: Still creating… [")), "progress:\n{out}");

    let cli = cli.env("PROVISIONER_WAIT_TIMEOUT_SECS", "2");
    cli.write("main.toml", &format!("{HEADER}{}{}{}", zone_block(&d), rec("slow"), rec("stuck")));
    let out = cli.expect(1, &["apply", "--auto-approve"]);
    let all = out.all();
    assert!(
        all.contains(&format!("record stuck.{d} (A) in zone ")) && all.contains("is still PENDING after 2s"),
        "{all}"
    );
    assert!(all.contains("change C") && all.contains("aws route53 get-change --id C"), "names the change:\n{all}");
    assert!(all.contains("saved as incomplete"), "the record exists: not tainted\n{all}");
    assert!(cli.state_resource("route53_record.stuck")["tainted"] != true);

    cli.moto.route53_behaviour(&format!(r#"{{"name": "stuck.{d}", "mode": "complete", "polls": 1}}"#));
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
}

fn validation_only(d: &str, timeouts: &str) -> String {
    format!(
        "{HEADER}[resource.acm_certificate.app]\ndomain_name = \"{d}\"\nsubject_alternative_names = [\"www.{d}\"]\n\n\
         [resource.acm_certificate_validation.app]\ncertificate_arn = \"${{acm_certificate.app.arn}}\"\n{timeouts}\n"
    )
}

#[test]
fn certificate_validation_stuck_and_failed_end_bounded_naming_each_pending_domain_and_its_record() {
    let cli = Cli::new("dns-acm-wait").env("PROVISIONER_PROGRESS_SECS", "0.01");
    // Stuck on www: the timeout names it and the record ACM expects.
    let d = domain("stuck");
    cli.moto.acm_behaviour(&format!(r#"{{"domain": "{d}", "mode": "stuck", "pending": ["www.{d}"]}}"#));
    cli.write("main.toml", &validation_only(&d, "timeouts = { create = \"2s\" }"));
    let out = cli.expect(1, &["apply", "--auto-approve"]);
    let all = out.all();
    assert!(all.contains(&format!("1 of 2 domains pending: www.{d}]")), "progress names the pending domain:\n{all}");
    assert!(all.contains("still PENDING_VALIDATION after 2s") && all.contains("timeouts.create"), "{all}");
    assert!(
        all.contains(&format!("www.{d} (PENDING_VALIDATION): CNAME record `_"))
            && all.contains(&format!(".www.{d}.` with value `")),
        "the expected record:\n{all}"
    );
    assert!(!all.contains(&format!(" {d} (PENDING_VALIDATION)")), "only www pending:\n{all}");
    assert!(cli.state_addresses().iter().all(|a| a != "acm_certificate_validation.app"), "nothing saved");
    cli.destroy();

    // Failed.
    let d = domain("failed");
    cli.moto.acm_behaviour(&format!(r#"{{"domain": "{d}", "mode": "fail", "seconds": 0}}"#));
    cli.write("main.toml", &validation_only(&d, ""));
    let all = cli.expect(1, &["apply", "--auto-approve"]).all();
    assert!(all.contains(&format!("certificate {d} (arn:")) && all.contains("is FAILED"), "{all}");
    assert!(all.contains(&format!("www.{d} (FAILED): CNAME record")), "{all}");
    cli.destroy();
    assert!(cli.tagged_ids().is_empty(), "{:?}", cli.tagged_ids());
}

#[test]
fn a_zone_a_record_and_a_certificate_are_imported_by_terraforms_ids() {
    let cli = Cli::new("dns-import");
    let d = domain("import");
    let zone = block_on(
        r53(&cli)
            .create_hosted_zone()
            .name(&d)
            .caller_reference(format!("import-{d}"))
            .hosted_zone_config(
                aws_sdk_route53::types::HostedZoneConfig::builder().comment("Managed by provisioner").build(),
            )
            .send(),
    )
    .unwrap()
    .hosted_zone()
    .unwrap()
    .id()
    .trim_start_matches("/hostedzone/")
    .to_owned();
    create_record_outside(&cli, &zone, &format!("www.{d}"), aws_sdk_route53::types::RrType::Cname, 300, "example.net");
    let arn = block_on(
        acm(&cli)
            .request_certificate()
            .domain_name(&d)
            .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
            .send(),
    )
    .unwrap()
    .certificate_arn()
    .unwrap()
    .to_owned();
    cli.write(
        "main.toml",
        &format!(
            "{HEADER}[resource.route53_zone.main]\nname = \"{d}\"\n\n[resource.route53_record.www]\nzone_id = \"${{route53_zone.main.zone_id}}\"\n\
             name = \"www.{d}\"\ntype = \"CNAME\"\nttl = 300\nrecords = [\"example.net\"]\n\n[resource.acm_certificate.app]\ndomain_name = \"{d}\"\n"
        ),
    );
    cli.ok(&["import", "route53_zone.main", &zone]);
    cli.ok(&["import", "route53_record.www", &format!("{zone}_www.{d}_CNAME")]);
    cli.ok(&["import", "acm_certificate.app", &arn]);
    assert_eq!(cli.id("route53_record.www"), format!("{zone}_www.{d}_CNAME"));
    assert_eq!(
        cli.state_resource("acm_certificate.app")["attributes"]["domain_validation_options"][&d]["domain_names"],
        serde_json::json!([d.clone()])
    );
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
    assert!(!zone_exists(&cli, &zone));
}

#[test]
fn configuration_mistakes_fail_at_plan_located_with_hints() {
    // Alias with a TTL: before any AWS call.
    let cli = Cli::offline("dns-validate");
    cli.write(
        "main.toml",
        &format!(
            "{HEADER}[resource.route53_record.apex]\nzone_id = \"Z123\"\nname = \"example.com\"\ntype = \"A\"\nttl = 60\n\
             alias = {{ name = \"lb.example.net\", zone_id = \"Z2\", evaluate_target_health = false }}\n"
        ),
    );
    let all = cli.expect(1, &["plan"]).all();
    assert!(all.contains("main.toml:8:"), "located at the block:\n{all}");
    assert!(all.contains("an alias record takes no `ttl`") && all.contains("remove `ttl`"), "{all}");
    assert!(all.contains("nothing was sent to AWS"), "{all}");

    // A record outside its zone, the zone planned in the same stack.
    let cli = Cli::new("dns-outside");
    let d = domain("outside");
    cli.write(
        "main.toml",
        &format!(
            "{HEADER}[resource.route53_zone.main]\nname = \"{d}\"\n\n[resource.route53_record.www]\nzone_id = \"${{route53_zone.main.zone_id}}\"\n\
             name = \"www.example.org\"\ntype = \"A\"\nttl = 60\nrecords = [\"192.0.2.1\"]\n"
        ),
    );
    let all = cli.expect(1, &["plan"]).all();
    assert!(all.contains("main.toml:11:"), "located at the record:\n{all}");
    assert!(all.contains(&format!("name `www.example.org` is outside its zone `{d}` (route53_zone.main)")), "{all}");
    assert!(all.contains(&format!("`www.{d}`")), "a hint with the right name:\n{all}");

    // Only DNS validation.
    cli.write(
        "main.toml",
        &format!("{HEADER}[resource.acm_certificate.app]\ndomain_name = \"{d}\"\nvalidation_method = \"EMAIL\"\n"),
    );
    let all = cli.expect(1, &["plan"]).all();
    assert!(all.contains("validation_method `EMAIL` is not supported: only DNS validation is"), "{all}");
}

/// An HTTPS listener uses the certificate through its validation; a change of names replaces the certificate
/// create-first: the listener moves to the new one, then the old one (no longer in use) is deleted.
#[test]
fn a_certificate_an_https_listener_uses_is_replaced_create_first() {
    let cli = Cli::new("dns-https");
    let d = domain("https");
    let lb = format!("tls{}x{}", std::process::id() % 100_000, 2);
    let stack = |sans: &str| {
        format!(
            r#"{HEADER}[data.availability_zones.all]

[resource.vpc.main]
cidr_block = "10.43.0.0/16"

[resource.subnet.public]
for_each = {{ a = 0, b = 1 }}
vpc_id = "${{vpc.main.id}}"
cidr_block = '${{cidrsubnet("10.43.0.0/16", 8, each.value)}}'
availability_zone = "${{element(data.availability_zones.all.names, each.value)}}"

[resource.lb.web]
name = "{lb}"
subnets = "${{subnet.public[*].id}}"

[resource.lb_target_group.app]
name_prefix = "app-"
port = 8080
protocol = "HTTP"
target_type = "ip"
vpc_id = "${{vpc.main.id}}"

[resource.acm_certificate.app]
domain_name = "{d}"
subject_alternative_names = {sans}

[resource.acm_certificate_validation.app]
certificate_arn = "${{acm_certificate.app.arn}}"

[resource.lb_listener.https]
load_balancer_arn = "${{lb.web.arn}}"
port = 443
protocol = "HTTPS"
certificate_arn = "${{acm_certificate_validation.app.certificate_arn}}"
default_action = {{ type = "forward", target_group_arn = "${{lb_target_group.app.arn}}" }}
"#
        )
    };
    cli.write("main.toml", &stack(&format!("[\"www.{d}\"]")));
    cli.apply();
    let old = cli.id("acm_certificate.app");
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&common::sdk_config(cli.moto));
    let listener_cert = || {
        let l = block_on(elb.describe_listeners().listener_arns(cli.id("lb_listener.https")).send()).unwrap();
        l.listeners()[0].certificates()[0].certificate_arn().unwrap_or_default().to_owned()
    };
    assert_eq!(listener_cert(), old);
    // AWS (and the emulator) refuse to delete a certificate in use.
    let e = block_on(acm(&cli).delete_certificate().certificate_arn(&old).send()).unwrap_err();
    assert_eq!(aws_sdk_acm::error::ProvideErrorMetadata::code(&e), Some("ResourceInUseException"), "{e:?}");
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    cli.write("main.toml", &stack(&format!("[\"www.{d}\", \"api.{d}\"]")));
    let plan = cli.plan_json(&[]);
    let c = change(&plan, "acm_certificate.app");
    assert_eq!(c["action"], "replace", "{c:#}");
    assert_eq!(c["create_before_destroy"], true, "{c:#}");
    assert!(c["reason"].as_str().is_some_and(|r| r.contains("ACM refuses to delete a certificate in use")), "{c:#}");
    assert_eq!(change(&plan, "lb_listener.https")["action"], "update");
    cli.apply();
    let new = cli.id("acm_certificate.app");
    assert_ne!(new, old);
    assert_eq!(listener_cert(), new, "the listener uses the new certificate");
    assert!(block_on(acm(&cli).describe_certificate().certificate_arn(&old).send()).is_err(), "the old one is deleted");
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
    assert!(cli.tagged_ids().is_empty(), "{:?}", cli.tagged_ids());
}
