//! The IAM resource implementations and the IAM/STS/meta data sources against moto, through the real SDK:
//! create (checkpointed, tagged at the checkpoint), batched read both ways (per object and account-wide),
//! `read_stack` by tags with its call count, update, delete, read-after-delete; policy documents written as
//! TOML tables and as JSON strings converge with what IAM returns.
//!
//! All tests share one moto server (see `common`); IAM is account-wide, so each test uses names derived
//! from its own unique stack name and never asserts on account-wide counts.

mod common;
mod common_cli;

use std::collections::{BTreeMap, HashMap};

use common::*;
use provisioner::aws::{Ctx, TAG_ADDRESS, TAG_STACK};
use provisioner::resource::{Checkpoint, DataSource, Resource};
use provisioner::resources::iam::{
    role::Role, role_data_source::RoleDataSource, role_policy::RolePolicy, role_policy_attachment::RolePolicyAttachment,
};
use provisioner::resources::meta::region::Region;
use provisioner::resources::sts::caller_identity::CallerIdentity;
use provisioner::schema::Presence;
use provisioner::value::{attrs_from_json, Attrs, Value};
use serde_json::json;

/// Desired attributes as the engine hands them over: schema- and resource-normalised, with the full tag set
/// (user tags plus the tool's own `provisioner:*` tags).
fn desired(res: &dyn Resource, stack: &str, address: &str, args: serde_json::Value) -> Attrs {
    let mut a = attrs_from_json(&serde_json::from_value(args).unwrap());
    if res.schema().taggable {
        let mut tags: BTreeMap<String, Value> = a.get("tags").and_then(Value::as_map).cloned().unwrap_or_default();
        tags.insert(TAG_STACK.into(), Value::str(stack));
        tags.insert(TAG_ADDRESS.into(), Value::str(address));
        a.insert("tags".into(), Value::Map(tags));
    }
    canon(res, &a)
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
        let (w, g) = (want.get(a.name).filter(|v| !v.is_null()), got.get(a.name).filter(|v| !v.is_null()));
        assert_eq!(w, g, "{}.{} differs after normalisation", res.type_name(), a.name);
    }
}

fn s<'a>(a: &'a Attrs, k: &str) -> &'a str {
    a.get(k).and_then(Value::as_str).unwrap_or_else(|| panic!("no string `{k}` in {a:?}"))
}

fn iam_client(moto: &Moto) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&common::sdk_config(moto))
}

/// A checkpoint recording the attributes and the role's tags at that moment (GetRole from outside).
struct RoleProbe {
    iam: aws_sdk_iam::Client,
    calls: std::sync::Mutex<Vec<(Attrs, BTreeMap<String, String>)>>,
}

impl RoleProbe {
    fn new() -> Self {
        RoleProbe { iam: iam_client(Moto::shared()), calls: Default::default() }
    }
    fn only(&self) -> (Attrs, BTreeMap<String, String>) {
        let calls = self.calls.lock().unwrap();
        assert_eq!(calls.len(), 1, "expected exactly one checkpoint call");
        calls[0].clone()
    }
}

#[async_trait::async_trait]
impl Checkpoint for RoleProbe {
    async fn created(&self, attrs: &Attrs) {
        let out = self.iam.get_role().role_name(s(attrs, "id")).send().await.expect("GetRole at checkpoint");
        let tags = out.role().unwrap().tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
        self.calls.lock().unwrap().push((attrs.clone(), tags));
    }
}

async fn setup(prefix: &str) -> (Ctx, aws_sdk_iam::Client, String) {
    let moto = Moto::shared();
    let stack = unique_stack(prefix);
    (ctx(moto, &stack).await, iam_client(moto), stack)
}

/// API calls made by `f`, by `Service.Operation`.
async fn calls_of<T>(cx: &Ctx, f: impl std::future::Future<Output = T>) -> (T, BTreeMap<String, u64>) {
    let before = cx.calls.snapshot();
    let out = f.await;
    let mut delta = cx.calls.snapshot();
    for (k, v) in delta.iter_mut() {
        *v -= before.get(k).copied().unwrap_or(0);
    }
    delta.retain(|_, v| *v > 0);
    (out, delta)
}

fn trust_table(service: &str) -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    ]})
}

/// The same trust policy as a JSON string, with single-element arrays and other key order.
fn trust_json(service: &str) -> serde_json::Value {
    json!(format!(
        r#"{{"Statement":[{{"Action":["sts:AssumeRole"],"Principal":{{"Service":["{service}"]}},"Effect":"Allow"}}],"Version":"2012-10-17"}}"#
    ))
}

async fn customer_policy(iam: &aws_sdk_iam::Client, name: &str) -> String {
    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]});
    let out =
        iam.create_policy().policy_name(name).policy_document(doc.to_string()).send().await.expect("CreatePolicy");
    out.policy().unwrap().arn().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn role_lifecycle_converges_with_table_and_json_policies() {
    let (cx, iam, stack) = setup("iamrole").await;
    let name = format!("{stack}-app");
    let want = desired(
        &Role,
        &stack,
        "iam_role.app",
        json!({"name": name, "assume_role_policy": trust_table("ec2.amazonaws.com"), "description": "the app",
               "tags": {"Name": "app"}}),
    );
    // A table and a JSON string with single-element arrays normalise to the same value.
    let want_json = desired(
        &Role,
        &stack,
        "iam_role.app",
        json!({"name": name, "assume_role_policy": trust_json("ec2.amazonaws.com"), "description": "the app",
               "tags": {"Name": "app"}}),
    );
    assert_eq!(want["assume_role_policy"], want_json["assume_role_policy"]);
    assert!(want["assume_role_policy"].as_str().unwrap().starts_with('{'));

    let probe = RoleProbe::new();
    let got = Role.create(&cx, &want_json, &probe).await.unwrap();
    let (cp, tags_at_cp) = probe.only();
    assert_eq!(s(&cp, "id"), name);
    assert_eq!(tags_at_cp.get(TAG_STACK), Some(&stack), "untagged at checkpoint");
    assert_eq!(tags_at_cp.get(TAG_ADDRESS).map(String::as_str), Some("iam_role.app"));
    assert_converged(&Role, &want, &got);
    assert_eq!(s(&got, "id"), name);
    assert_eq!(s(&got, "arn"), format!("arn:aws:iam::123456789012:role/{name}"));
    assert!(s(&got, "unique_id").starts_with("AROA"), "{got:?}");
    assert!(!s(&got, "create_date").is_empty());
    assert_eq!(got["max_session_duration"], Value::int(3600));
    assert_eq!(got["path"], Value::str("/"));
    assert!(!got.contains_key("name_prefix"));

    // Batched read: per role (GetRole) and account-wide (more than 8 ids) give the same attributes; a
    // missing role is left out and the call succeeds.
    let few = vec![name.clone(), format!("{stack}-gone")];
    let (read, calls) = calls_of(&cx, Role.read(&cx, &few)).await;
    let read = read.unwrap();
    assert_eq!(read.keys().collect::<Vec<_>>(), [&name]);
    assert_eq!(read[&name], got);
    assert_eq!(calls, BTreeMap::from([("IAM.GetRole".to_owned(), 2)]));
    let many: Vec<String> = (0..9).map(|i| format!("{stack}-gone{i}")).chain([name.clone()]).collect();
    let (read, calls) = calls_of(&cx, Role.read(&cx, &many)).await;
    assert_eq!(read.unwrap(), HashMap::from([(name.clone(), got.clone())]));
    assert_eq!(
        calls,
        BTreeMap::from([("IAM.GetAccountAuthorizationDetails".to_owned(), 1), ("IAM.ListRoles".to_owned(), 1)])
    );

    // read_stack finds the role by its tags, in the account read: two calls.
    cx.forget_shared();
    let (found, calls) = calls_of(&cx, Role.read_stack(&cx, &[])).await;
    let found = found.unwrap();
    assert_eq!(found.keys().collect::<Vec<_>>(), [&name]);
    assert_eq!(found[&name], got);
    assert_eq!(calls.values().sum::<u64>(), 2, "{calls:?}");

    // Update every updatable attribute.
    let boundary = customer_policy(&iam, &format!("{stack}-boundary")).await;
    let mut trust2 = trust_table("ec2.amazonaws.com");
    trust2["Statement"].as_array_mut().unwrap().push(
        json!({"Effect": "Allow", "Principal": {"Service": ["ecs-tasks.amazonaws.com", "lambda.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}),
    );
    let want2 = desired(
        &Role,
        &stack,
        "iam_role.app",
        json!({"name": name, "assume_role_policy": trust2, "description": "changed", "max_session_duration": 7200,
               "permissions_boundary": boundary, "tags": {"Name": "app2", "env": "test"}}),
    );
    let got2 = Role.update(&cx, &got, &want2).await.unwrap();
    assert_converged(&Role, &want2, &got2);
    let outside = iam.get_role().role_name(&name).send().await.unwrap();
    let r = outside.role().unwrap();
    assert_eq!(r.description(), Some("changed"));
    assert_eq!(r.max_session_duration(), Some(7200));
    assert_eq!(r.permissions_boundary().and_then(|b| b.permissions_boundary_arn()), Some(boundary.as_str()));
    let tags: BTreeMap<&str, &str> = r.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags.get("env"), Some(&"test"));
    assert_eq!(tags.get(TAG_STACK), Some(&stack.as_str()));
    // And back: boundary and description removed, tag `env` removed.
    let got3 = Role.update(&cx, &got2, &want).await.unwrap();
    assert_converged(&Role, &want, &got3);
    assert!(!got3.contains_key("permissions_boundary"), "{got3:?}");
    // The account read reports the same after updates.
    cx.forget_shared();
    assert_eq!(Role.read_stack(&cx, &[]).await.unwrap()[&name], got3);

    Role.delete(&cx, &got3).await.unwrap();
    assert!(Role.read(&cx, std::slice::from_ref(&name)).await.unwrap().is_empty());
    Role.delete(&cx, &got3).await.expect("deleting a deleted role succeeds");
    cx.forget_shared();
    assert!(Role.read_stack(&cx, &[]).await.unwrap().is_empty());
    iam.delete_policy().policy_arn(&boundary).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn role_names_from_prefix_retried_create_and_read_stack_by_workspace() {
    let (cx, _iam, stack) = setup("iamprefix").await;
    let prefix = format!("{}-", &stack[..stack.len().min(30)]);
    let want = desired(
        &Role,
        &stack,
        "iam_role.gen",
        json!({"name_prefix": prefix, "path": "/svc/", "assume_role_policy": trust_json("lambda.amazonaws.com")}),
    );
    let probe = RoleProbe::new();
    let got = Role.create(&cx, &want, &probe).await.unwrap();
    let name = s(&got, "name").to_owned();
    assert!(name.starts_with(&prefix) && name.len() == prefix.len() + 26, "{name}");
    assert_eq!(s(&probe.only().0, "id"), name);
    assert_eq!(s(&got, "name_prefix"), prefix);
    assert_eq!(s(&got, "path"), "/svc/");
    assert_converged(&Role, &want, &got);

    // Creating again under a name that exists: with this instance's tool tags the role is taken (a retried
    // create); with other tags it is an error.
    let mut again = want.clone();
    again.remove("name_prefix");
    again.insert("name".into(), Value::str(&name));
    let taken = Role.create(&cx, &again, &RoleProbe::new()).await.unwrap();
    assert_eq!(taken["unique_id"], got["unique_id"]);
    let other = desired(
        &Role,
        &stack,
        "iam_role.other",
        json!({"name": name, "path": "/svc/", "assume_role_policy": trust_json("lambda.amazonaws.com")}),
    );
    let err = Role.create(&cx, &other, &RoleProbe::new()).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("EntityAlreadyExists"), "{err}");

    // read_stack selects as the EC2 tag filters do: in a named workspace only its roles, in `default` all
    // of the stack's (the engine sorts out other workspaces').
    let mut blue = desired(
        &Role,
        &stack,
        "iam_role.blue",
        json!({"name": format!("{stack}-blue"), "assume_role_policy": trust_json("lambda.amazonaws.com")}),
    );
    if let Some(Value::Map(tags)) = blue.get_mut("tags") {
        tags.insert("provisioner:workspace".into(), Value::str("blue"));
    }
    let blue = Role.create(&cx, &blue, &RoleProbe::new()).await.unwrap();
    let mut seen = BTreeMap::new();
    for ws in ["default", "blue", "green"] {
        let mut wcx = ctx(Moto::shared(), &stack).await;
        wcx.workspace = ws.to_owned();
        let mut names: Vec<String> = Role.read_stack(&wcx, &[]).await.unwrap().into_keys().collect();
        names.sort();
        seen.insert(ws, names);
    }
    let blue_name = s(&blue, "id").to_owned();
    let mut both = vec![name.clone(), blue_name.clone()];
    both.sort();
    assert_eq!(seen["default"], both);
    assert_eq!(seen["blue"], [blue_name]);
    assert!(seen["green"].is_empty(), "{seen:?}");

    Role.delete(&cx, &blue).await.unwrap();
    Role.delete(&cx, &got).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn role_policy_and_attachment_lifecycle() {
    let (cx, iam, stack) = setup("iampol").await;
    let role_name = format!("{stack}-r");
    let role = Role
        .create(
            &cx,
            &desired(
                &Role,
                &stack,
                "iam_role.r",
                json!({"name": role_name, "assume_role_policy": trust_table("ecs-tasks.amazonaws.com")}),
            ),
            &RoleProbe::new(),
        )
        .await
        .unwrap();

    // Inline policy as a JSON string with single-element arrays; the table form normalises the same.
    let doc_json = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::b/*"]}]}"#;
    let doc_table = json!({"Version": "2012-10-17", "Statement": {"Resource": "arn:aws:s3:::b/*", "Action": "s3:GetObject", "Effect": "Allow"}});
    let want = desired(
        &RolePolicy,
        &stack,
        "iam_role_policy.read",
        json!({"role": role_name, "name": "read", "policy": doc_json}),
    );
    assert_eq!(
        want["policy"],
        desired(&RolePolicy, &stack, "x", json!({"role": role_name, "name": "read", "policy": doc_table}))["policy"]
    );
    let cp = RecordingCheckpoint::new();
    let pol = RolePolicy.create(&cx, &want, &cp).await.unwrap();
    let pol_id = format!("{role_name}:read");
    assert_eq!(cp.created_id(), pol_id);
    assert_eq!(s(&pol, "id"), pol_id);
    assert_converged(&RolePolicy, &want, &pol);

    // Update the document (now a table, two actions).
    let want2 = desired(
        &RolePolicy,
        &stack,
        "iam_role_policy.read",
        json!({"role": role_name, "name": "read", "policy": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"}]}}),
    );
    let pol2 = RolePolicy.update(&cx, &pol, &want2).await.unwrap();
    assert_converged(&RolePolicy, &want2, &pol2);
    let outside = iam.get_role_policy().role_name(&role_name).policy_name("read").send().await.unwrap();
    assert!(outside.policy_document().contains("ListBucket"), "{}", outside.policy_document());

    // A generated name.
    let gen_want = desired(
        &RolePolicy,
        &stack,
        "iam_role_policy.gen",
        json!({"role": role_name, "name_prefix": "gen-", "policy": doc_json}),
    );
    let gen = RolePolicy.create(&cx, &gen_want, &RecordingCheckpoint::new()).await.unwrap();
    assert!(s(&gen, "name").starts_with("gen-"));
    assert_eq!(s(&gen, "id"), format!("{role_name}:{}", s(&gen, "name")));
    assert_converged(&RolePolicy, &gen_want, &gen);

    // Attachment of a customer managed policy.
    let arn = customer_policy(&iam, &format!("{stack}-list")).await;
    let att_want = desired(
        &RolePolicyAttachment,
        &stack,
        "iam_role_policy_attachment.list",
        json!({"role": role_name, "policy_arn": arn}),
    );
    let other_want = desired(
        &RolePolicyAttachment,
        &stack,
        "iam_role_policy_attachment.other",
        json!({"role": role_name, "policy_arn": "arn:aws:iam::123456789012:policy/not-attached"}),
    );
    assert_eq!(RolePolicyAttachment.find_existing(&cx, std::slice::from_ref(&att_want)).await.unwrap(), [None]);
    let cp = RecordingCheckpoint::new();
    let att = RolePolicyAttachment.create(&cx, &att_want, &cp).await.unwrap();
    let att_id = format!("{role_name}/{arn}");
    assert_eq!(cp.created_id(), att_id);
    assert_eq!(s(&att, "id"), att_id);
    assert_converged(&RolePolicyAttachment, &att_want, &att);
    // Found by natural key (a re-apply after a crash adopts it), the other not.
    let existing = RolePolicyAttachment.find_existing(&cx, &[other_want, att_want.clone()]).await.unwrap();
    assert_eq!(existing, [None, Some(att.clone())]);
    // Attaching again is no error and changes nothing.
    RolePolicyAttachment.create(&cx, &att_want, &RecordingCheckpoint::new()).await.unwrap();

    // The refresh of all three types: one shared account read, two calls.
    cx.forget_shared();
    let pol_ids = vec![pol_id.clone(), s(&gen, "id").to_owned(), format!("{role_name}:gone")];
    let att_ids = vec![att_id.clone(), format!("{role_name}/arn:aws:iam::123456789012:policy/gone")];
    let role_ids = vec![role_name.clone()];
    let ((roles, pols, atts), calls) = calls_of(&cx, async {
        futures::join!(
            Role.read_stack(&cx, &role_ids),
            RolePolicy.read_stack(&cx, &pol_ids),
            RolePolicyAttachment.read_stack(&cx, &att_ids)
        )
    })
    .await;
    assert_eq!(
        calls,
        BTreeMap::from([("IAM.GetAccountAuthorizationDetails".to_owned(), 1), ("IAM.ListRoles".to_owned(), 1)])
    );
    assert_eq!(roles.unwrap()[&role_name], role);
    let pols = pols.unwrap();
    assert_eq!(pols.len(), 2);
    assert_eq!(pols[&pol_id], pol2);
    assert_eq!(atts.unwrap(), HashMap::from([(att_id.clone(), att.clone())]));
    // And the per-object reads say the same.
    assert_eq!(RolePolicy.read(&cx, &pol_ids).await.unwrap(), pols);
    assert_eq!(RolePolicyAttachment.read(&cx, &att_ids).await.unwrap(), HashMap::from([(att_id.clone(), att.clone())]));

    // Tear down: attachment, policies, role; each reads as gone; deleting again succeeds.
    RolePolicyAttachment.delete(&cx, &att).await.unwrap();
    assert!(RolePolicyAttachment.read(&cx, std::slice::from_ref(&att_id)).await.unwrap().is_empty());
    assert_eq!(RolePolicyAttachment.find_existing(&cx, &[att_want]).await.unwrap(), [None]);
    RolePolicyAttachment.delete(&cx, &att).await.expect("detaching a detached policy succeeds");
    RolePolicy.delete(&cx, &pol2).await.unwrap();
    RolePolicy.delete(&cx, &gen).await.unwrap();
    assert!(RolePolicy.read(&cx, &pol_ids).await.unwrap().is_empty());
    RolePolicy.delete(&cx, &pol2).await.expect("deleting a deleted policy succeeds");
    Role.delete(&cx, &role).await.unwrap();
    assert!(Role.read(&cx, &[role_name]).await.unwrap().is_empty());
    iam.delete_policy().policy_arn(&arn).send().await.unwrap();
}

/// Eventual consistency: IAM answers NoSuchEntity for a role that other calls do not see yet. Here the role
/// really appears a moment after PutRolePolicy and AttachRolePolicy are first sent: both retry (bounded)
/// and succeed, each with one checkpoint.
#[tokio::test(flavor = "multi_thread")]
async fn policy_and_attachment_wait_for_a_role_that_appears_a_moment_later() {
    let (cx, iam, stack) = setup("iamlate").await;
    let role_name = format!("{stack}-late");
    let arn = customer_policy(&iam, &format!("{stack}-late")).await;
    let pol_want = desired(
        &RolePolicy,
        &stack,
        "iam_role_policy.p",
        json!({"role": role_name, "name": "p", "policy": {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}}),
    );
    let att_want = desired(
        &RolePolicyAttachment,
        &stack,
        "iam_role_policy_attachment.a",
        json!({"role": role_name, "policy_arn": arn}),
    );
    let role_want = desired(
        &Role,
        &stack,
        "iam_role.late",
        json!({"name": role_name, "assume_role_policy": trust_table("ec2.amazonaws.com")}),
    );
    let (pol_cp, att_cp) = (RecordingCheckpoint::new(), RecordingCheckpoint::new());
    let late_role = async {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        Role.create(&cx, &role_want, &RoleProbe::new()).await
    };
    let (pol, att, role) = tokio::join!(
        RolePolicy.create(&cx, &pol_want, &pol_cp),
        RolePolicyAttachment.create(&cx, &att_want, &att_cp),
        late_role
    );
    let (pol, att, role) = (pol.unwrap(), att.unwrap(), role.unwrap());
    assert_eq!(pol_cp.created_id(), format!("{role_name}:p"));
    assert_eq!(att_cp.created_id(), format!("{role_name}/{arn}"));
    assert!(cx.calls.snapshot()["IAM.PutRolePolicy"] > 1, "PutRolePolicy was not retried: {:?}", cx.calls.snapshot());
    assert_converged(&RolePolicy, &pol_want, &pol);
    assert_converged(&RolePolicyAttachment, &att_want, &att);

    RolePolicyAttachment.delete(&cx, &att).await.unwrap();
    RolePolicy.delete(&cx, &pol).await.unwrap();
    Role.delete(&cx, &role).await.unwrap();
    iam.delete_policy().policy_arn(&arn).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn data_sources() {
    let (cx, _iam, stack) = setup("iamdata").await;

    let me = CallerIdentity.read(&cx, &Attrs::new()).await.unwrap();
    assert_eq!(s(&me, "account_id"), "123456789012");
    assert_eq!(s(&me, "id"), "123456789012");
    assert!(s(&me, "arn").starts_with("arn:aws:sts::123456789012:"), "{me:?}");
    assert!(!s(&me, "user_id").is_empty());

    let (here, calls) = calls_of(&cx, Region.read(&cx, &Attrs::new())).await;
    let here = here.unwrap();
    assert!(calls.is_empty(), "region makes no call: {calls:?}");
    assert_eq!(s(&here, "name"), REGION);
    assert_eq!(s(&here, "endpoint"), format!("ec2.{REGION}.amazonaws.com"));
    let by_endpoint = Region
        .read(
            &cx,
            &attrs_from_json(&serde_json::from_value(json!({"endpoint": "ec2.eu-west-1.amazonaws.com"})).unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(s(&by_endpoint, "name"), "eu-west-1");
    let mismatch = json!({"name": "us-west-2", "endpoint": "ec2.eu-west-1.amazonaws.com"});
    assert!(Region.read(&cx, &attrs_from_json(&serde_json::from_value(mismatch).unwrap())).await.is_err());

    let name = format!("{stack}-ds");
    let role = Role
        .create(
            &cx,
            &desired(
                &Role,
                &stack,
                "iam_role.ds",
                json!({"name": name, "assume_role_policy": trust_json("ec2.amazonaws.com"), "description": "ds"}),
            ),
            &RoleProbe::new(),
        )
        .await
        .unwrap();
    let args = attrs_from_json(&serde_json::from_value(json!({"name": name})).unwrap());
    let ds = RoleDataSource.read(&cx, &args).await.unwrap();
    for k in
        ["id", "arn", "unique_id", "path", "assume_role_policy", "description", "create_date", "max_session_duration"]
    {
        assert_eq!(ds.get(k), role.get(k), "data iam_role.{k}");
    }
    assert_eq!(s(&ds, "permissions_boundary"), "");
    let gone = attrs_from_json(&serde_json::from_value(json!({"name": format!("{stack}-nope")})).unwrap());
    let err = RoleDataSource.read(&cx, &gone).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("NoSuchEntity"), "{err}");
    Role.delete(&cx, &role).await.unwrap();
}

/// A stack using every IAM type and data source through the CLI: apply, a re-plan is empty (the trust
/// policy written as a TOML table and the inline policy as a JSON string converge with what IAM returns),
/// a changed policy plans an in-place update, destroy removes everything.
#[test]
fn stack_applies_replans_empty_and_destroys() {
    let cli = common_cli::Cli::new("iamcli");
    let iam = iam_client(cli.moto);
    let policy_arn = common_cli::block_on(customer_policy(&iam, &format!("{}-list", cli.stack)));
    write_iam_stack(&cli, &policy_arn);
    cli.apply();
    let role_name = cli.id("iam_role.app");
    assert!(role_name.starts_with(&format!("{}-", cli.stack)), "{role_name}");
    assert_eq!(cli.id("iam_role_policy.read"), format!("{role_name}:read"));
    assert_eq!(cli.id("iam_role_policy_attachment.list"), format!("{role_name}/{policy_arn}"));
    let out = cli.ok(&["output", "--json"]);
    assert!(out.stdout.contains("123456789012"), "{out}");
    assert!(out.stdout.contains(&format!("role/app/{role_name}")), "{out}");
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    // A changed inline policy, same meaning written differently for the trust policy: one in-place update.
    cli.edit("main.toml", r#"["s3:GetObject"]"#, r#"["s3:GetObject","s3:ListBucket"]"#);
    cli.edit("main.toml", r#"Action = "sts:AssumeRole""#, r#"Action = ["sts:AssumeRole"]"#);
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    assert_eq!(common_cli::pairs(&common_cli::actions(&plan)), [("iam_role_policy.read", "update")], "{plan:#}");
    cli.apply();
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    cli.destroy();
    let gone = common_cli::block_on(async { iam.get_role().role_name(&role_name).send().await });
    assert!(gone.is_err(), "role still exists after destroy");
    common_cli::block_on(async { iam.delete_policy().policy_arn(&policy_arn).send().await }).unwrap();
}

/// A stack with every IAM type and data source; the role's name is generated from a prefix.
fn write_iam_stack(cli: &common_cli::Cli, policy_arn: &str) {
    let text = r#"
[stack]
name = "__STACK__"

[backend]
type = "local"
path = ".provisioner/state.json"

[data.caller_identity.me]

[data.region.here]

[resource.iam_role.app]
name_prefix = "__STACK__-"
path = "/app/"
description = "app in ${data.region.here.name}"
tags = { Name = "app" }

[resource.iam_role.app.assume_role_policy]
Version = "2012-10-17"
Statement = [{ Effect = "Allow", Principal = { Service = ["ecs-tasks.amazonaws.com"] }, Action = "sts:AssumeRole" }]

[resource.iam_role_policy.read]
role = "${iam_role.app.name}"
name = "read"
policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::__STACK__/*"]}]}'

[resource.iam_role_policy_attachment.list]
role = "${iam_role.app.name}"
policy_arn = "__POLICY__"

[data.iam_role.app]
name = "${iam_role.app.name}"

[output.account]
value = "${data.caller_identity.me.account_id}"

[output.role_arn]
value = "${data.iam_role.app.arn}"
"#;
    cli.write("main.toml", &text.replace("__POLICY__", policy_arn));
}

/// Roles carrying the stack's tag, with their inline policy names and attached policy ARNs (seen from
/// outside, through the account read of moto).
fn stack_roles(iam: &aws_sdk_iam::Client, stack: &str) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let out = common_cli::block_on(
        iam.get_account_authorization_details().filter(aws_sdk_iam::types::EntityType::Role).send(),
    )
    .unwrap();
    out.role_detail_list()
        .iter()
        .filter(|r| r.tags().iter().any(|t| t.key() == TAG_STACK && t.value() == stack))
        .map(|r| {
            let inline = r.role_policy_list().iter().filter_map(|p| p.policy_name()).map(str::to_owned).collect();
            let attached =
                r.attached_managed_policies().iter().filter_map(|p| p.policy_arn()).map(str::to_owned).collect();
            (r.role_name().unwrap().to_owned(), (inline, attached))
        })
        .collect()
}

/// An apply of the IAM stack killed at each of its operation boundaries in turn (`PROVISIONER_CRASH_AT`,
/// `--parallelism 1`): the re-apply adopts the role the killed run created and did not save (by its tags,
/// although its name was generated), the attachment by its natural key, rewrites the inline policy in place,
/// and creates nothing twice; the re-plan is empty and destroy leaves nothing.
#[test]
fn killed_at_every_operation_boundary_the_reapply_converges() {
    let cli = common_cli::Cli::new("iamcrash");
    let iam = iam_client(cli.moto);
    let policy_arn = common_cli::block_on(customer_policy(&iam, &format!("{}-list", cli.stack)));
    write_iam_stack(&cli, &policy_arn);
    let mut n = 1;
    loop {
        let crashing = cli.in_workspace(&cli.workspace()).env("PROVISIONER_CRASH_AT", &n.to_string());
        let out = crashing.run(&["apply", "--auto-approve", "--parallelism", "1"]);
        if out.code == 0 && !out.stderr.contains("crash point") {
            cli.destroy();
            break;
        }
        assert!(out.stderr.contains(&format!("crash point {n} reached")), "boundary {n}:\n{out}");
        let context = format!(
            "killed at boundary {n} ({})",
            out.stderr.lines().find(|l| l.contains("crash point")).unwrap_or("")
        );
        let lock: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(cli.lock_path()).unwrap()).unwrap();
        cli.ok(&["force-unlock", lock["id"].as_str().unwrap()]);
        let again = cli.run(&["apply", "--auto-approve"]);
        assert_eq!(again.code, 0, "{context}: re-apply failed\n{again}");
        let roles = stack_roles(&iam, &cli.stack);
        let role = cli.id("iam_role.app");
        assert_eq!(
            roles,
            BTreeMap::from([(role, (vec!["read".to_owned()], vec![policy_arn.clone()]))]),
            "{context}: the stack's roles"
        );
        let plan = cli.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(plan.code, 0, "{context}: re-plan not empty\n{plan}");
        cli.destroy();
        assert!(stack_roles(&iam, &cli.stack).is_empty(), "{context}: destroy left roles behind");
        n += 1;
    }
    // Three resources, each with at least the checkpoint's and the final save's boundaries, before and after.
    assert!(n > 12, "only {} boundaries reached", n - 1);
    common_cli::block_on(async { iam.delete_policy().policy_arn(&policy_arn).send().await }).unwrap();
}
