//! The S3 bucket types and the IAM OpenID Connect provider through the CLI against the emulator: a bucket
//! with its five configurations applies, re-plans empty, changes in place and destroys to nothing tagged,
//! verified with the SDK from outside; `force_destroy`; import by Terraform's ids; validation mistakes
//! located at plan before any call.
//!
//! All tests share one emulator; bucket names and OIDC provider URLs are global there (as bucket names are
//! on AWS), so each is derived from the test's own unique stack name.

mod common;
mod common_cli;

use std::collections::BTreeMap;

use common::*;
use common_cli::*;

const HEADER: &str =
    "[stack]\nname = \"__STACK__\"\n\n[backend]\ntype = \"local\"\npath = \".provisioner/state.json\"\n\n";

fn s3(cli: &Cli) -> aws_sdk_s3::Client {
    let sdk = sdk_config(cli.moto);
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build())
}

fn iam(cli: &Cli) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&sdk_config(cli.moto))
}

/// A bucket name of this test's own (stack names are unique, lower-case and short enough).
fn bucket_name(cli: &Cli, what: &str) -> String {
    format!("{}-{what}", cli.stack).to_lowercase()
}

fn bucket_exists(cli: &Cli, name: &str) -> bool {
    block_on(s3(cli).head_bucket().bucket(name).send()).is_ok()
}

/// The buckets carrying this stack's tag, seen from outside (ListBuckets, then GetBucketTagging each).
fn tagged_buckets(cli: &Cli) -> Vec<String> {
    let client = s3(cli);
    let list = block_on(client.list_buckets().send()).expect("ListBuckets");
    list.buckets()
        .iter()
        .filter_map(|b| b.name())
        .filter(|name| {
            block_on(client.get_bucket_tagging().bucket(*name).send())
                .is_ok_and(|t| t.tag_set().iter().any(|t| t.key() == "provisioner:stack" && t.value() == cli.stack))
        })
        .map(str::to_owned)
        .collect()
}

fn bucket_tags(cli: &Cli, name: &str) -> BTreeMap<String, String> {
    let out = block_on(s3(cli).get_bucket_tagging().bucket(name).send()).expect("GetBucketTagging");
    out.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
}

fn put_object(cli: &Cli, bucket: &str, key: &str, body: &str) {
    block_on(s3(cli).put_object().bucket(bucket).key(key).body(body.as_bytes().to_vec().into()).send())
        .expect("PutObject");
}

fn stack(bucket: &str, versioning: &str, noncurrent_days: u32) -> String {
    format!(
        r#"{HEADER}[resource.s3_bucket.state]
bucket = "{bucket}"
tags = {{ Purpose = "state" }}

[resource.s3_bucket_versioning.state]
bucket = "${{s3_bucket.state.id}}"
versioning_configuration = {{ status = "{versioning}" }}

[resource.s3_bucket_server_side_encryption_configuration.state]
bucket = "${{s3_bucket.state.id}}"
rule = {{ apply_server_side_encryption_by_default = {{ sse_algorithm = "aws:kms" }}, bucket_key_enabled = true }}

[resource.s3_bucket_public_access_block.state]
bucket = "${{s3_bucket.state.id}}"
block_public_acls = true
block_public_policy = true
ignore_public_acls = true
restrict_public_buckets = true

[resource.s3_bucket_policy.state]
bucket = "${{s3_bucket.state.id}}"
policy = {{ Version = "2012-10-17", Statement = [{{ Sid = "DenyInsecureTransport", Effect = "Deny", Principal = "*", Action = ["s3:*"], Resource = ["${{s3_bucket.state.arn}}", "${{s3_bucket.state.arn}}/*"], Condition = {{ Bool = {{ "aws:SecureTransport" = false }} }} }}] }}

[resource.s3_bucket_lifecycle_configuration.state]
bucket = "${{s3_bucket.state.id}}"
rule = [
  {{ id = "noncurrent", status = "Enabled", noncurrent_version_expiration = {{ noncurrent_days = {noncurrent_days} }} }},
  {{ id = "tmp", status = "Enabled", filter = {{ prefix = "tmp/" }}, expiration = {{ days = 30 }}, abort_incomplete_multipart_upload = {{ days_after_initiation = 7 }} }},
]

[output.bucket_arn]
value = "${{s3_bucket.state.arn}}"
"#
    )
}

#[test]
fn bucket_with_its_configurations_applies_replans_empty_changes_in_place_and_destroys() {
    let cli = Cli::new("s3-all");
    let name = bucket_name(&cli, "state");
    cli.write("main.toml", &stack(&name, "Enabled", 90));
    let out = cli.apply();
    assert!(out.stdout.contains("6 added"), "{out}");
    assert_eq!(cli.id("s3_bucket.state"), name);
    for child in [
        "s3_bucket_versioning",
        "s3_bucket_server_side_encryption_configuration",
        "s3_bucket_public_access_block",
        "s3_bucket_policy",
        "s3_bucket_lifecycle_configuration",
    ] {
        assert_eq!(cli.id(&format!("{child}.state")), name, "{child}: Terraform's id is the bucket name");
    }
    let a = &cli.state_resource("s3_bucket.state")["attributes"];
    assert_eq!(a["arn"], format!("arn:aws:s3:::{name}"));
    assert_eq!(a["bucket_domain_name"], format!("{name}.s3.amazonaws.com"));
    assert_eq!(a["bucket_regional_domain_name"], format!("{name}.s3.us-east-1.amazonaws.com"));
    assert_eq!(a["region"], "us-east-1");
    assert_eq!(a["force_destroy"], false);
    assert_eq!(cli.state()["outputs"]["bucket_arn"]["value"], format!("arn:aws:s3:::{name}"));

    // Verified from outside.
    let client = s3(&cli);
    let tags = bucket_tags(&cli, &name);
    assert_eq!(tags.get("Purpose").map(String::as_str), Some("state"));
    assert_eq!(tags.get("provisioner:address").map(String::as_str), Some("s3_bucket.state"), "{tags:?}");
    let v = block_on(client.get_bucket_versioning().bucket(&name).send()).unwrap();
    assert_eq!(v.status().map(|s| s.as_str()), Some("Enabled"));
    let e = block_on(client.get_bucket_encryption().bucket(&name).send()).unwrap();
    let rule = &e.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(rule.apply_server_side_encryption_by_default().unwrap().sse_algorithm().as_str(), "aws:kms");
    assert_eq!(rule.bucket_key_enabled(), Some(true));
    let pab = block_on(client.get_public_access_block().bucket(&name).send()).unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        [pab.block_public_acls(), pab.block_public_policy(), pab.ignore_public_acls(), pab.restrict_public_buckets()],
        [Some(true); 4]
    );
    let p = block_on(client.get_bucket_policy().bucket(&name).send()).unwrap();
    assert!(p.policy().unwrap().contains("DenyInsecureTransport"), "{p:?}");
    let lc = block_on(client.get_bucket_lifecycle_configuration().bucket(&name).send()).unwrap();
    let noncurrent = lc.rules().iter().find(|r| r.id() == Some("noncurrent")).expect("rule noncurrent");
    assert_eq!(noncurrent.noncurrent_version_expiration().and_then(|n| n.noncurrent_days()), Some(90));

    // Nothing to do: the policy written as a table, the rules in any order, S3's defaults are no drift. The
    // bucket is found by its tags with the stack's other objects: no tag call of its own.
    let plan = cli.json(&[0], &["plan", "--detailed-exitcode"]);
    assert_eq!(api_count(&plan, ".GetBucketTagging"), 0, "{:#}", plan["api_calls"]);
    assert_eq!(api_count(&plan, ".GetBucketLocation"), 1, "{:#}", plan["api_calls"]);
    assert_eq!(api_count(&plan, ".GetBucketLifecycleConfiguration"), 1, "{:#}", plan["api_calls"]);

    // Changes in place: fewer days for old versions, versioning suspended, a tag.
    cli.write(
        "main.toml",
        &stack(&name, "Suspended", 30).replace("Purpose = \"state\"", "Purpose = \"state\", Team = \"ops\""),
    );
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    for addr in ["s3_bucket.state", "s3_bucket_versioning.state", "s3_bucket_lifecycle_configuration.state"] {
        assert_eq!(change(&plan, addr)["action"], "update", "{addr}");
    }
    cli.apply();
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    let v = block_on(client.get_bucket_versioning().bucket(&name).send()).unwrap();
    assert_eq!(v.status().map(|s| s.as_str()), Some("Suspended"));
    let lc = block_on(client.get_bucket_lifecycle_configuration().bucket(&name).send()).unwrap();
    let noncurrent = lc.rules().iter().find(|r| r.id() == Some("noncurrent")).unwrap();
    assert_eq!(noncurrent.noncurrent_version_expiration().and_then(|n| n.noncurrent_days()), Some(30));
    assert_eq!(bucket_tags(&cli, &name).get("Team").map(String::as_str), Some("ops"));

    // "Disabled" cannot be set on a bucket that was versioned: the error says what to do.
    cli.write("main.toml", &stack(&name, "Disabled", 30));
    let out = cli.expect(1, &["apply", "--auto-approve"]);
    assert!(
        out.stderr.contains("status = \\\"Suspended\\\"") || out.stderr.contains("status = \"Suspended\""),
        "{out}"
    );
    cli.write("main.toml", &stack(&name, "Suspended", 30));

    // A configuration deleted outside is recreated; the bucket deleted outside takes its configurations along.
    block_on(client.delete_bucket_policy().bucket(&name).send()).unwrap();
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    assert_eq!(change(&plan, "s3_bucket_policy.state")["action"], "create");

    cli.destroy();
    assert!(!bucket_exists(&cli, &name), "the bucket is gone");
    assert!(tagged_buckets(&cli).is_empty());
    assert!(cli.tagged_ids().is_empty(), "nothing left: {:?}", cli.tagged_ids());
}

#[test]
fn a_bucket_with_objects_is_kept_unless_force_destroy_then_every_version_goes() {
    let cli = Cli::new("s3-force");
    let name = bucket_name(&cli, "logs");
    let text = |force: bool| {
        format!(
            "{HEADER}[resource.s3_bucket.logs]\nbucket = \"{name}\"\nforce_destroy = {force}\n\n\
             [resource.s3_bucket_versioning.logs]\nbucket = \"${{s3_bucket.logs.id}}\"\nversioning_configuration = {{ status = \"Enabled\" }}\n"
        )
    };
    cli.write("main.toml", &text(false));
    cli.apply();
    // Versions, and a delete marker, in more than one page would be slow on the emulator: a few suffice to
    // show versions and markers go too.
    for i in 0..3 {
        put_object(&cli, &name, "state.json", &format!("v{i}"));
    }
    put_object(&cli, &name, "other", "x");
    block_on(s3(&cli).delete_object().bucket(&name).key("other").send()).unwrap();

    let out = cli.expect(1, &["destroy", "--auto-approve"]);
    assert!(out.stderr.contains("is not empty") && out.stderr.contains("force_destroy = true"), "{out}");
    assert!(bucket_exists(&cli, &name), "kept");
    assert!(cli.state_addresses().contains(&"s3_bucket.logs".to_owned()));

    // Setting force_destroy is an update without any AWS call; then destroy empties the bucket.
    cli.write("main.toml", &text(true));
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    assert_eq!(change(&plan, "s3_bucket.logs")["action"], "update");
    cli.apply();
    cli.destroy();
    assert!(!bucket_exists(&cli, &name), "deleted with its versions");
    assert!(tagged_buckets(&cli).is_empty());
}

#[test]
fn buckets_and_configurations_import_by_bucket_name() {
    let cli = Cli::new("s3-import");
    let name = bucket_name(&cli, "made-outside");
    let client = s3(&cli);
    block_on(client.create_bucket().bucket(&name).send()).unwrap();
    block_on(
        client
            .put_bucket_versioning()
            .bucket(&name)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send(),
    )
    .unwrap();
    block_on(
        client
            .put_public_access_block()
            .bucket(&name)
            .public_access_block_configuration(
                aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .block_public_policy(true)
                    .ignore_public_acls(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send(),
    )
    .unwrap();
    cli.write(
        "main.toml",
        &format!(
            "{HEADER}[resource.s3_bucket.b]\nbucket = \"{name}\"\n\n\
             [resource.s3_bucket_versioning.b]\nbucket = \"${{s3_bucket.b.id}}\"\nversioning_configuration = {{ status = \"Enabled\" }}\n\n\
             [resource.s3_bucket_server_side_encryption_configuration.b]\nbucket = \"${{s3_bucket.b.id}}\"\n\
             rule = {{ apply_server_side_encryption_by_default = {{ sse_algorithm = \"AES256\" }} }}\n\n\
             [resource.s3_bucket_public_access_block.b]\nbucket = \"${{s3_bucket.b.id}}\"\nblock_public_acls = true\n\
             block_public_policy = true\nignore_public_acls = true\nrestrict_public_buckets = true\n"
        ),
    );
    for addr in [
        "s3_bucket.b",
        "s3_bucket_versioning.b",
        "s3_bucket_server_side_encryption_configuration.b",
        "s3_bucket_public_access_block.b",
    ] {
        cli.ok(&["import", addr, &name]);
        assert_eq!(cli.id(addr), name);
    }
    // The bucket now carries the stack's tags; the never-configured encryption reads as AWS's default SSE-S3.
    assert_eq!(bucket_tags(&cli, &name).get("provisioner:address").map(String::as_str), Some("s3_bucket.b"));
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    // A bucket that does not exist cannot be imported.
    let out = cli.expect(1, &["import", "s3_bucket_policy.none", &bucket_name(&cli, "never-made")]);
    assert!(!out.stderr.is_empty(), "{out}");
    cli.destroy();
    assert!(!bucket_exists(&cli, &name));
}

#[test]
fn validation_mistakes_are_located_at_plan_before_any_call() {
    let cli = Cli::offline("s3-validate");
    cli.write(
        "main.toml",
        &format!(
            "{HEADER}[resource.s3_bucket.b]\nbucket = \"b-valid-name\"\n\n\
             [resource.s3_bucket_versioning.b]\nbucket = \"${{s3_bucket.b.id}}\"\nversioning_configuration = {{ status = \"On\" }}\n"
        ),
    );
    let out = cli.expect(1, &["plan"]);
    assert!(
        out.stderr.contains("main.toml:") && out.stderr.contains("not one of Enabled, Suspended, Disabled"),
        "{out}"
    );

    cli.write("main.toml", &format!("{HEADER}[resource.s3_bucket.b]\nbucket = \"Not_A_Bucket\"\n"));
    let out = cli.expect(1, &["plan"]);
    assert!(out.stderr.contains("main.toml:") && out.stderr.contains("`N` is not allowed"), "{out}");

    cli.write(
        "main.toml",
        &format!(
            "{HEADER}[resource.s3_bucket_lifecycle_configuration.b]\nbucket = \"b-valid-name\"\n\
             rule = [{{ id = \"x\", status = \"Enabled\", filter = {{ prefix = \"tmp/\" }} }}]\n"
        ),
    );
    let out = cli.expect(1, &["plan"]);
    assert!(out.stderr.contains("main.toml:") && out.stderr.contains("has no action"), "{out}");
}

fn oidc_stack(url: &str, clients: &str, extra: &str) -> String {
    format!(
        "{HEADER}[resource.iam_openid_connect_provider.github]\nurl = \"{url}\"\nclient_id_list = {clients}\n{extra}tags = {{ Purpose = \"ci\" }}\n\n\
         [output.arn]\nvalue = \"${{iam_openid_connect_provider.github.arn}}\"\n"
    )
}

#[test]
fn oidc_provider_updates_audiences_in_place_replaces_on_url_and_imports_by_arn() {
    let cli = Cli::new("oidc");
    // One provider per URL in an account: a URL of this test's own.
    let host = format!("{}.oidc.example.com", cli.stack.to_lowercase());
    let url = format!("https://{host}");
    cli.write("main.toml", &oidc_stack(&url, "[\"sts.amazonaws.com\"]", ""));
    cli.apply();
    let arn = cli.id("iam_openid_connect_provider.github");
    assert!(arn.ends_with(&format!(":oidc-provider/{host}")), "{arn}");
    assert_eq!(cli.state()["outputs"]["arn"]["value"], arn.as_str());
    let a = &cli.state_resource("iam_openid_connect_provider.github")["attributes"];
    assert_eq!(a["url"], url.as_str(), "kept with its scheme");
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    // An audience added and one removed, thumbprints set: in place.
    cli.write(
        "main.toml",
        &oidc_stack(
            &url,
            "[\"api.example.com\"]",
            "thumbprint_list = [\"6938fd4d98bab03faadb97b34396831e3780aea1\"]\n",
        ),
    );
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    assert_eq!(change(&plan, "iam_openid_connect_provider.github")["action"], "update");
    cli.apply();
    assert_eq!(cli.id("iam_openid_connect_provider.github"), arn, "same provider");
    let got = block_on(iam(&cli).get_open_id_connect_provider().open_id_connect_provider_arn(&arn).send()).unwrap();
    assert_eq!(got.client_id_list(), ["api.example.com"]);
    assert_eq!(got.thumbprint_list(), ["6938fd4d98bab03faadb97b34396831e3780aea1"]);
    assert!(got.tags().iter().any(|t| t.key() == "provisioner:address"), "{:?}", got.tags());
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    // Thumbprints left out of the configuration again are not compared.
    cli.write("main.toml", &oidc_stack(&url, "[\"api.example.com\"]", ""));
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    // Import by ARN after forgetting it.
    cli.ok(&["state", "rm", "iam_openid_connect_provider.github"]);
    cli.ok(&["import", "iam_openid_connect_provider.github", &arn]);
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    // A new URL replaces the provider.
    let url2 = format!("https://{host}/v2");
    cli.write("main.toml", &oidc_stack(&url2, "[\"api.example.com\"]", ""));
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    assert_eq!(change(&plan, "iam_openid_connect_provider.github")["action"], "replace");
    cli.apply();
    assert_ne!(cli.id("iam_openid_connect_provider.github"), arn);

    cli.destroy();
    let left = block_on(iam(&cli).list_open_id_connect_providers().send()).unwrap();
    assert!(
        !left.open_id_connect_provider_list().iter().any(|p| p.arn().is_some_and(|a| a.contains(&host))),
        "{left:?}"
    );
}
