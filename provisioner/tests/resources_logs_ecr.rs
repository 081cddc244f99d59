//! The CloudWatch Logs and ECR resource implementations against moto, through the library: create
//! (checkpointed, tagged in the create call), batched read (gone ids omitted, call counts), update,
//! delete, read-after-delete, convergence after normalisation.
//!
//! All tests share one moto server (see `common`); each uses its own stack and object names.

mod common;

use std::collections::BTreeMap;
use std::sync::Mutex;

use common::*;
use provisioner::aws::{Ctx, TAG_ADDRESS, TAG_STACK};
use provisioner::resource::{Checkpoint, DataSource, Resource};
use provisioner::resources::ecr::{
    lifecycle_policy::EcrLifecyclePolicy, repository::EcrRepository, repository_data::EcrRepositoryData,
};
use provisioner::resources::logs::cloudwatch_log_group::CloudwatchLogGroup;
use provisioner::schema::Presence;
use provisioner::value::{attrs_from_json, Attrs, Value};
use serde_json::json;

fn logs_client(moto: &Moto) -> aws_sdk_cloudwatchlogs::Client {
    aws_sdk_cloudwatchlogs::Client::new(&common::sdk_config(moto))
}

fn ecr_client(moto: &Moto) -> aws_sdk_ecr::Client {
    aws_sdk_ecr::Client::new(&common::sdk_config(moto))
}

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
fn assert_converged(res: &dyn Resource, want: &Attrs, got: &Attrs) {
    let (want, got) = (canon(res, want), canon(res, got));
    for a in &res.schema().attributes {
        if a.presence == Presence::Computed {
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

fn with_tags(mut a: Attrs, extra: &[(&str, &str)]) -> Attrs {
    let mut tags = a["tags"].as_map().unwrap().clone();
    for (k, v) in extra {
        tags.insert((*k).into(), Value::str(*v));
    }
    a.insert("tags".into(), Value::Map(tags));
    a
}

/// API calls made since `before`, by operation (service prefix dropped), zero counts left out.
fn calls_since(cx: &Ctx, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    cx.calls
        .snapshot()
        .into_iter()
        .filter_map(|(k, n)| {
            let d = n - before.get(&k).copied().unwrap_or(0);
            let op = k.rsplit('.').next().unwrap_or(&k).to_owned();
            (d > 0).then_some((op, d))
        })
        .collect()
}

/// A checkpoint that records every call and the tags the object carried at that moment, read from the
/// outside (ListTagsForResource of CloudWatch Logs or ECR), proving it was created tagged.
struct TagProbe {
    logs: aws_sdk_cloudwatchlogs::Client,
    ecr: aws_sdk_ecr::Client,
    calls: Mutex<Vec<Attrs>>,
    tags: Mutex<Vec<BTreeMap<String, String>>>,
}

impl TagProbe {
    fn new() -> Self {
        let moto = Moto::shared();
        TagProbe { logs: logs_client(moto), ecr: ecr_client(moto), calls: Mutex::default(), tags: Mutex::default() }
    }

    fn only(&self) -> (Attrs, BTreeMap<String, String>) {
        let calls = self.calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 1, "expected exactly one checkpoint call, got {calls:?}");
        (calls[0].clone(), self.tags.lock().unwrap()[0].clone())
    }
}

#[async_trait::async_trait]
impl Checkpoint for TagProbe {
    async fn created(&self, attrs: &Attrs) {
        self.calls.lock().unwrap().push(attrs.clone());
        let id = s(attrs, "id");
        let tags: BTreeMap<String, String> = if attrs.contains_key("repository_url") {
            let repo = self.ecr.describe_repositories().repository_names(id).send().await.unwrap();
            let arn = repo.repositories()[0].repository_arn().unwrap().to_owned();
            let out = self.ecr.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
            out.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
        } else {
            let out = self.logs.describe_log_groups().log_group_name_prefix(id).send().await.unwrap();
            let g = out.log_groups().iter().find(|g| g.log_group_name() == Some(id)).expect("log group exists");
            let arn = g.arn().unwrap().trim_end_matches(":*").to_owned();
            let out = self.logs.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
            out.tags().cloned().unwrap_or_default().into_iter().collect()
        };
        self.tags.lock().unwrap().push(tags);
    }
}

/// Creates through `res` with a [`TagProbe`]; checks the checkpoint ran once, with the id create returned,
/// and that the object carried the stack tags when it did.
async fn create_checked(cx: &Ctx, res: &dyn Resource, want: &Attrs) -> Attrs {
    let cp = TagProbe::new();
    let got = res.create(cx, want, &cp).await.unwrap_or_else(|e| panic!("create {}: {e}", res.type_name()));
    let (at_cp, tags) = cp.only();
    assert_eq!(s(&got, "id"), s(&at_cp, "id"), "create returned another id than it checkpointed");
    assert_eq!(tags.get(TAG_STACK).map(String::as_str), Some(cx.stack.as_str()), "untagged at checkpoint");
    assert_eq!(tags.get(TAG_ADDRESS).map(String::as_str), tag(want, TAG_ADDRESS));
    assert_eq!(got.get("tags"), want.get("tags"));
    got
}

async fn read_ids(cx: &Ctx, res: &dyn Resource, ids: &[&str]) -> std::collections::HashMap<String, Attrs> {
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    res.read(cx, &ids).await.unwrap_or_else(|e| panic!("read {}: {e}", res.type_name()))
}

async fn setup(prefix: &str) -> (Ctx, String) {
    let stack = unique_stack(prefix);
    (ctx(Moto::shared(), &stack).await, stack)
}

// ---------------------------------------------------------------------------------------------------------
// cloudwatch_log_group

#[tokio::test(flavor = "multi_thread")]
async fn log_group_lifecycle() {
    let (cx, stack) = setup("logs").await;
    let name = format!("/app/{stack}");
    let want = desired(
        &CloudwatchLogGroup,
        &stack,
        "cloudwatch_log_group.app",
        json!({"name": name, "retention_in_days": 7, "tags": {"team": "core"}}),
    );
    let got = create_checked(&cx, &CloudwatchLogGroup, &want).await;
    assert_converged(&CloudwatchLogGroup, &want, &got);
    assert_eq!(s(&got, "id"), name);
    assert_eq!(got["retention_in_days"], Value::int(7));
    assert_eq!(s(&got, "arn"), format!("arn:aws:logs:us-east-1:123456789012:log-group:{name}"), "no `:*` suffix");
    assert_eq!(tag(&got, "team"), Some("core"));

    // Batched read with a group deleted in between and one that never existed: both omitted.
    let other = desired(&CloudwatchLogGroup, &stack, "cloudwatch_log_group.b", json!({"name": format!("{name}-b")}));
    let other = CloudwatchLogGroup.create(&cx, &other, &TagProbe::new()).await.unwrap();
    assert_eq!(other["retention_in_days"], Value::int(0), "never expire");
    let third = desired(&CloudwatchLogGroup, &stack, "cloudwatch_log_group.c", json!({"name": format!("{name}-c")}));
    let third = CloudwatchLogGroup.create(&cx, &third, &TagProbe::new()).await.unwrap();
    CloudwatchLogGroup.delete(&cx, &other).await.unwrap();
    let before = cx.calls.snapshot();
    let read = read_ids(&cx, &CloudwatchLogGroup, &[&name, s(&other, "id"), s(&third, "id"), "/never/made"]).await;
    let mut keys: Vec<_> = read.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, [name.clone(), format!("{name}-c")]);
    assert_converged(&CloudwatchLogGroup, &want, &read[&name]);
    assert_eq!(read[&name], got);
    // One DescribeLogGroups for up to 50 names (the emulator has far fewer groups than a page), then one
    // ListTagsForResource per group found.
    let calls = calls_since(&cx, &before);
    assert_eq!(calls.get("DescribeLogGroups"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("ListTagsForResource"), Some(&2), "{calls:?}");
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(CloudwatchLogGroup.read(&cx, &[]).await.unwrap().is_empty());

    // Update retention and tags; then retention back to "never expire".
    let mut want2 = with_tags(want.clone(), &[("env", "test")]);
    want2.insert("retention_in_days".into(), Value::int(30));
    let mut tags = want2["tags"].as_map().unwrap().clone();
    tags.remove("team");
    want2.insert("tags".into(), Value::Map(tags));
    let got2 = CloudwatchLogGroup.update(&cx, &got, &want2).await.unwrap();
    assert_converged(&CloudwatchLogGroup, &want2, &got2);
    assert_eq!((tag(&got2, "env"), tag(&got2, "team")), (Some("test"), None));
    let mut want3 = want2.clone();
    want3.insert("retention_in_days".into(), Value::int(0));
    let got3 = CloudwatchLogGroup.update(&cx, &got2, &want3).await.unwrap();
    assert_converged(&CloudwatchLogGroup, &want3, &got3);
    let reread = read_ids(&cx, &CloudwatchLogGroup, &[&name]).await;
    assert_converged(&CloudwatchLogGroup, &want3, &reread[&name]);
    // Invalid retention on update fails before any call.
    let mut bad = want3.clone();
    bad.insert("retention_in_days".into(), Value::int(10));
    let e = CloudwatchLogGroup.update(&cx, &got3, &bad).await.unwrap_err();
    assert!(e.message.contains("retention_in_days = 10"), "{e}");

    CloudwatchLogGroup.delete(&cx, &got3).await.unwrap();
    CloudwatchLogGroup.delete(&cx, &third).await.unwrap();
    assert!(read_ids(&cx, &CloudwatchLogGroup, &[&name, s(&third, "id")]).await.is_empty());
    CloudwatchLogGroup.delete(&cx, &got3).await.expect("deleting a deleted log group succeeds");
}

#[tokio::test(flavor = "multi_thread")]
async fn log_group_name_prefix_generates_distinct_names() {
    let (cx, stack) = setup("logsprefix").await;
    let prefix = format!("/svc/{stack}-");
    let want = desired(&CloudwatchLogGroup, &stack, "cloudwatch_log_group.p", json!({"name_prefix": prefix}));
    let a = create_checked(&cx, &CloudwatchLogGroup, &want).await;
    let b = create_checked(&cx, &CloudwatchLogGroup, &want).await;
    let (na, nb) = (s(&a, "name").to_owned(), s(&b, "name").to_owned());
    assert_ne!(na, nb);
    for n in [&na, &nb] {
        assert!(n.starts_with(&prefix) && n.len() == prefix.len() + 26, "{n}");
    }
    assert_eq!(s(&a, "id"), na);
    // The prefix is read back (derived from the name, as Terraform does), so the re-plan is empty.
    assert_eq!(s(&a, "name_prefix"), prefix);
    assert_converged(&CloudwatchLogGroup, &want, &a);
    let read = read_ids(&cx, &CloudwatchLogGroup, &[&na, &nb]).await;
    assert_eq!(read.len(), 2);
    assert_converged(&CloudwatchLogGroup, &want, &read[&nb]);
    for g in [&a, &b] {
        CloudwatchLogGroup.delete(&cx, g).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn log_group_arguments_are_validated_before_any_call() {
    let (cx, stack) = setup("logsbad").await;
    let name = format!("/bad/{stack}");
    let before = cx.calls.snapshot();
    for (args, needle) in [
        (json!({"name": name, "retention_in_days": 2}), "retention_in_days = 2"),
        (json!({"name": name, "retention_in_days": 4000}), "1, 3, 5, 7, 14, 30"),
        (json!({"name": name, "name_prefix": "x"}), "not both"),
        (json!({}), "one of `name` or `name_prefix` is required"),
    ] {
        let d = desired(&CloudwatchLogGroup, &stack, "cloudwatch_log_group.bad", args);
        let cp = TagProbe::new();
        let e = CloudwatchLogGroup.create(&cx, &d, &cp).await.unwrap_err();
        assert!(e.message.contains(needle), "{e}");
        assert!(cp.calls.lock().unwrap().is_empty());
    }
    assert!(calls_since(&cx, &before).is_empty(), "no AWS call for invalid arguments");
    assert!(read_ids(&cx, &CloudwatchLogGroup, &[&name]).await.is_empty());
}

// ---------------------------------------------------------------------------------------------------------
// ecr_repository

#[tokio::test(flavor = "multi_thread")]
async fn ecr_repository_lifecycle() {
    let (cx, stack) = setup("ecr").await;
    let name = format!("api-{stack}");
    let want = desired(
        &EcrRepository,
        &stack,
        "ecr_repository.api",
        json!({"name": name, "image_scanning_configuration": {"scan_on_push": true}, "tags": {"team": "core"}}),
    );
    let got = create_checked(&cx, &EcrRepository, &want).await;
    assert_converged(&EcrRepository, &want, &got);
    assert_eq!(s(&got, "id"), name);
    assert_eq!(s(&got, "image_tag_mutability"), "IMMUTABLE", "IMMUTABLE unless configured");
    assert_eq!(got["encryption_configuration"].get("encryption_type"), Some(&Value::str("AES256")));
    assert_eq!(s(&got, "registry_id"), "123456789012");
    assert_eq!(s(&got, "arn"), format!("arn:aws:ecr:us-east-1:123456789012:repository/{name}"));
    assert_eq!(s(&got, "repository_url"), format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}"));
    let aws = ecr_client(Moto::shared()).describe_repositories().repository_names(&name).send().await.unwrap();
    assert_eq!(aws.repositories()[0].image_scanning_configuration().map(|c| c.scan_on_push()), Some(true));

    // Batched read: one DescribeRepositories for the names, one ListTagsForResource per repository.
    let b = desired(&EcrRepository, &stack, "ecr_repository.b", json!({"name": format!("{name}-b")}));
    let b = create_checked(&cx, &EcrRepository, &b).await;
    // Scanning turned on by update (turning it off cannot be checked on the emulator: the SDK leaves a
    // false `scanOnPush` out of the request, which AWS reads as false and moto ignores).
    let mut want_b2 = desired(&EcrRepository, &stack, "ecr_repository.b", json!({"name": format!("{name}-b")}));
    want_b2
        .insert("image_scanning_configuration".into(), Value::Map([("scan_on_push".into(), Value::Bool(true))].into()));
    let b = EcrRepository.update(&cx, &b, &want_b2).await.unwrap();
    assert_converged(&EcrRepository, &want_b2, &b);
    let before = cx.calls.snapshot();
    let read = read_ids(&cx, &EcrRepository, &[&name, s(&b, "id")]).await;
    assert_eq!(read.len(), 2);
    assert_converged(&EcrRepository, &want, &read[&name]);
    let calls = calls_since(&cx, &before);
    assert_eq!(calls.get("DescribeRepositories"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("ListTagsForResource"), Some(&2), "{calls:?}");
    assert_eq!(calls.len(), 2, "{calls:?}");
    // A name that is gone makes ECR fail the whole call: the read falls back to listing the registry.
    EcrRepository.delete(&cx, &b).await.unwrap();
    let before = cx.calls.snapshot();
    let read = read_ids(&cx, &EcrRepository, &[&name, s(&b, "id"), "never-made"]).await;
    assert_eq!(read.keys().collect::<Vec<_>>(), [&name]);
    let calls = calls_since(&cx, &before);
    assert_eq!(calls.get("DescribeRepositories"), Some(&2), "named call, then one listing page: {calls:?}");
    assert_eq!(calls.get("ListTagsForResource"), Some(&1), "{calls:?}");

    // The data source returns the same computed attributes.
    let data = EcrRepositoryData.read(&cx, &Attrs::from([("name".to_owned(), Value::str(&name))])).await.unwrap();
    for k in ["arn", "registry_id", "repository_url", "image_tag_mutability"] {
        assert_eq!(data.get(k), got.get(k), "data source {k}");
    }
    let e = EcrRepositoryData.read(&cx, &Attrs::from([("name".to_owned(), Value::str("never-made"))])).await;
    assert!(e.unwrap_err().message.contains("no ECR repository named `never-made`"));

    // Update mutability, tags and force_delete (which AWS never sees).
    let mut want2 = with_tags(want.clone(), &[("env", "test")]);
    want2.insert("image_tag_mutability".into(), Value::str("MUTABLE"));
    want2.insert("force_delete".into(), Value::Bool(true));
    let mut tags = want2["tags"].as_map().unwrap().clone();
    tags.remove("team");
    want2.insert("tags".into(), Value::Map(tags));
    let got2 = EcrRepository.update(&cx, &got, &want2).await.unwrap();
    assert_converged(&EcrRepository, &want2, &got2);
    assert_eq!((tag(&got2, "env"), tag(&got2, "team")), (Some("test"), None));
    let reread = read_ids(&cx, &EcrRepository, &[&name]).await;
    let mut reread = reread[&name].clone();
    reread.insert("force_delete".into(), Value::Bool(true)); // carried over from state by the engine
    assert_converged(&EcrRepository, &want2, &reread);
    let back = EcrRepository.update(&cx, &got2, &want).await.unwrap();
    assert_converged(&EcrRepository, &want, &back);

    EcrRepository.delete(&cx, &back).await.unwrap();
    assert!(read_ids(&cx, &EcrRepository, &[&name]).await.is_empty());
    EcrRepository.delete(&cx, &back).await.expect("deleting a deleted repository succeeds");
}

/// Pushes a (fake) image into `repo` through the ECR API.
async fn push_image(ecr: &aws_sdk_ecr::Client, repo: &str) {
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
                   "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654,
                    "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"}]
    });
    ecr.put_image().repository_name(repo).image_manifest(manifest.to_string()).image_tag("v1").send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn ecr_repository_force_delete() {
    let (cx, stack) = setup("ecrforce").await;
    let ecr = ecr_client(Moto::shared());
    let name = format!("full-{stack}");
    let want = desired(&EcrRepository, &stack, "ecr_repository.full", json!({"name": name}));
    let got = create_checked(&cx, &EcrRepository, &want).await;
    push_image(&ecr, &name).await;
    let e = EcrRepository.delete(&cx, &got).await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some("RepositoryNotEmptyException"), "{e}");
    assert!(e.message.contains("force_delete = true"), "{e}");
    assert_eq!(read_ids(&cx, &EcrRepository, &[&name]).await.len(), 1);
    let mut forced = got.clone();
    forced.insert("force_delete".into(), Value::Bool(true));
    EcrRepository.delete(&cx, &forced).await.unwrap();
    assert!(read_ids(&cx, &EcrRepository, &[&name]).await.is_empty());
}

// ---------------------------------------------------------------------------------------------------------
// ecr_lifecycle_policy

fn policy_table(keep: i64) -> serde_json::Value {
    json!({"rules": [
        {"rulePriority": 2, "description": "keep tagged", "action": {"type": "expire"},
         "selection": {"tagStatus": "tagged", "tagPrefixList": ["v"], "countType": "imageCountMoreThan", "countNumber": keep}},
        {"rulePriority": 1, "description": "expire untagged", "action": {"type": "expire"},
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14}}
    ]})
}

/// The same policy as `policy_table(10)`, as a JSON string with other key and rule order and whitespace.
const POLICY_JSON: &str = r#"{
  "rules": [
    {
      "selection": { "countNumber": 14, "countUnit": "days", "countType": "sinceImagePushed", "tagStatus": "untagged" },
      "action": { "type": "expire" },
      "description": "expire untagged",
      "rulePriority": 1
    },
    {
      "action": { "type": "expire" },
      "rulePriority": 2,
      "selection": { "tagPrefixList": ["v"], "tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 10 },
      "description": "keep tagged"
    }
  ]
}"#;

#[tokio::test(flavor = "multi_thread")]
async fn ecr_lifecycle_policy_table_or_json() {
    let (cx, stack) = setup("ecrlcp").await;
    let name = format!("lcp-{stack}");
    let repo = desired(&EcrRepository, &stack, "ecr_repository.r", json!({"name": name}));
    let repo = create_checked(&cx, &EcrRepository, &repo).await;

    let as_table = desired(&EcrLifecyclePolicy, &stack, "", json!({"repository": name, "policy": policy_table(10)}));
    let as_json = desired(&EcrLifecyclePolicy, &stack, "", json!({"repository": name, "policy": POLICY_JSON}));
    assert_eq!(canon(&EcrLifecyclePolicy, &as_table), canon(&EcrLifecyclePolicy, &as_json));

    let cp = RecordingCheckpoint::new();
    let got = EcrLifecyclePolicy.create(&cx, &as_table, &cp).await.unwrap();
    assert_eq!(cp.created_id(), name);
    assert_eq!(s(&got, "id"), name);
    assert_eq!(s(&got, "registry_id"), "123456789012");
    assert_converged(&EcrLifecyclePolicy, &as_table, &got);
    assert_converged(&EcrLifecyclePolicy, &as_json, &got);
    let read = read_ids(&cx, &EcrLifecyclePolicy, &[&name, "never-made"]).await;
    assert_eq!(read.keys().collect::<Vec<_>>(), [&name]);
    assert_converged(&EcrLifecyclePolicy, &as_table, &read[&name]);
    assert_converged(&EcrLifecyclePolicy, &as_json, &read[&name]);
    // What AWS holds is the canonical text: rules in priority order.
    let text = ecr_client(Moto::shared())
        .get_lifecycle_policy()
        .repository_name(&name)
        .send()
        .await
        .unwrap()
        .lifecycle_policy_text()
        .unwrap()
        .to_owned();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["rules"][0]["rulePriority"], 1);

    // Found by natural key (the repository) for adoption after an interrupted apply.
    let existing = EcrLifecyclePolicy.find_existing(&cx, std::slice::from_ref(&as_json)).await.unwrap();
    assert_eq!(existing[0].as_ref().map(|a| s(a, "id")), Some(name.as_str()));

    let want2 = desired(&EcrLifecyclePolicy, &stack, "", json!({"repository": name, "policy": policy_table(3)}));
    let got2 = EcrLifecyclePolicy.update(&cx, &got, &want2).await.unwrap();
    assert_converged(&EcrLifecyclePolicy, &want2, &got2);
    assert_ne!(canon(&EcrLifecyclePolicy, &got2)["policy"], canon(&EcrLifecyclePolicy, &got)["policy"]);

    EcrLifecyclePolicy.delete(&cx, &got2).await.unwrap();
    assert!(read_ids(&cx, &EcrLifecyclePolicy, &[&name]).await.is_empty());
    EcrLifecyclePolicy.delete(&cx, &got2).await.expect("deleting a deleted policy succeeds");
    assert_eq!(EcrLifecyclePolicy.find_existing(&cx, &[as_json]).await.unwrap(), vec![None]);
    EcrRepository.delete(&cx, &repo).await.unwrap();
    // Repository gone: the policy reads as gone and deletes as done.
    assert!(read_ids(&cx, &EcrLifecyclePolicy, &[&name]).await.is_empty());
    EcrLifecyclePolicy.delete(&cx, &got2).await.unwrap();
}

// ---------------------------------------------------------------------------------------------------------
// The types in a stack

const STACK: &str = r#"
[stack]
name = "logs-ecr"

[resource.cloudwatch_log_group.app]
name_prefix = "/app/"
retention_in_days = 14
kms_key_id = "arn:aws:kms:us-east-1:123456789012:key/1"
tags = { team = "core" }

[resource.ecr_repository.api]
name = "api"
image_tag_mutability = "MUTABLE"
image_scanning_configuration = { scan_on_push = true }
encryption_configuration = { encryption_type = "KMS", kms_key = "arn:aws:kms:us-east-1:123456789012:key/1" }
force_delete = true

[resource.ecr_lifecycle_policy.table]
repository = "${ecr_repository.api.name}"
policy = { rules = [{ rulePriority = 1, description = "expire untagged", action = { type = "expire" }, selection = { tagStatus = "untagged", countType = "sinceImagePushed", countUnit = "days", countNumber = 14 } }] }

[resource.ecr_lifecycle_policy.json]
repository = "${ecr_repository.api.name}"
policy = '{"rules": []}'

[data.ecr_repository.base]
name = "base"

[output.url]
value = "${data.ecr_repository.base.repository_url}"
"#;

fn load(text: &str) -> Result<provisioner::lang::Config, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.toml"), text).unwrap();
    // The message and its hint (`help`), as the CLI prints them.
    provisioner::lang::load(dir.path(), &provisioner::resource::Registry::builtin()).map_err(|d| {
        d.0.iter().map(|x| format!("{x} {}", x.help.clone().unwrap_or_default())).collect::<Vec<_>>().join("\n")
    })
}

#[test]
fn a_stack_using_every_type_loads_and_mistakes_are_located() {
    let cfg = load(STACK).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.blocks.len(), 5);
    let e = load(&STACK.replace("scan_on_push = true", "scan_on_psh = true")).unwrap_err();
    assert!(e.contains("scan_on_psh") && e.contains("scan_on_push"), "{e}");
    let e =
        load(&STACK.replace("image_tag_mutability = \"MUTABLE\"", "image_tag_mutability = \"mutable\"")).unwrap_err();
    assert!(e.contains("MUTABLE, IMMUTABLE"), "{e}");
    let e = load(&STACK.replace("encryption_type = \"KMS\"", "encryption_type = \"RSA\"")).unwrap_err();
    assert!(e.contains("AES256, KMS, KMS_DSSE"), "{e}");
}
