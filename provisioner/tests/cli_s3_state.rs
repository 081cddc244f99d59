//! The S3 state backend through the real binary against moto's S3 (which honours `If-None-Match` and
//! `If-Match` on PutObject and DeleteObject): the key layout of workspaces, compare-and-swap writes, the
//! lock object (concurrent applies, leases taken over or not, lost replies of our own lock and state
//! writes), injected 412 and 409 on state writes through faultproxy, crashes mid-apply (the crash hook at
//! every operation boundary of a small network, and a real SIGKILL), `plan --lock=false`,
//! `state pull|push|migrate`, `data.stack` over S3.
//!
//! Each test makes its own bucket (versioned, or with versioning suspended when it checks the warning) and
//! reads the objects with the SDK, from outside.

mod common;
mod common_cli;

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use common_cli::*;
use faultproxy::{Fault, Proxy, Rule};
use serde_json::Value as Json;

const STACK: &str = r#"[stack]
name = "__STACK__"

[backend]
type = "s3"
bucket = "__BUCKET__"
key = "stacks/__STACK__/state.json"

[resource.vpc.main]
cidr_block = "10.7.0.0/16"

[resource.subnet.a]
vpc_id = "${vpc.main.id}"
cidr_block = "10.7.1.0/24"
"#;

/// An outside-view S3 client on moto (path-style, as the emulator needs).
fn s3(cli: &Cli) -> aws_sdk_s3::Client {
    let sdk = common::sdk_config(cli.moto);
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build())
}

/// A stack dir with [`STACK`] whose state lives in a new bucket of its own (versioned when asked).
struct S3Stack {
    cli: Cli,
    bucket: String,
}

impl S3Stack {
    fn new(prefix: &str, versioned: bool) -> S3Stack {
        let cli = Cli::new(prefix);
        let mut bucket: String = format!("st-{}", cli.stack.to_lowercase())
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
            .collect();
        bucket.truncate(63);
        let bucket = bucket.trim_end_matches('-').to_owned();
        let client = s3(&cli);
        block_on(async {
            client.create_bucket().bucket(&bucket).send().await.expect("create bucket");
            let status = if versioned { BucketVersioningStatus::Enabled } else { BucketVersioningStatus::Suspended };
            client
                .put_bucket_versioning()
                .bucket(&bucket)
                .versioning_configuration(VersioningConfiguration::builder().status(status).build())
                .send()
                .await
                .expect("set versioning");
        });
        cli.write("main.toml", &STACK.replace("__BUCKET__", &bucket));
        S3Stack { cli, bucket }
    }

    fn key(&self, ws: &str) -> String {
        let key = format!("stacks/{}/state.json", self.cli.stack);
        if ws == "default" {
            key
        } else {
            format!("env:/{ws}/{key}")
        }
    }

    /// The object's text, None when absent.
    fn get(&self, key: &str) -> Option<String> {
        let client = s3(&self.cli);
        block_on(async {
            match client.get_object().bucket(&self.bucket).key(key).send().await {
                Ok(o) => Some(String::from_utf8(o.body.collect().await.unwrap().into_bytes().to_vec()).unwrap()),
                Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => None,
                Err(e) => panic!("GetObject {key}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)),
            }
        })
    }

    fn put(&self, key: &str, text: &str) {
        let client = s3(&self.cli);
        block_on(async {
            client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(ByteStream::from(text.as_bytes().to_vec()))
                .send()
                .await
                .unwrap();
        });
    }

    /// The state of workspace `ws`, parsed.
    fn state(&self, ws: &str) -> Option<Json> {
        self.get(&self.key(ws)).map(|t| serde_json::from_str(&t).unwrap())
    }

    fn addresses(&self, ws: &str) -> Vec<String> {
        let st = self.state(ws).unwrap_or_else(|| panic!("no state in workspace {ws}"));
        st["resources"].as_array().unwrap().iter().map(|r| r["address"].as_str().unwrap().to_owned()).collect()
    }

    fn lock(&self, ws: &str) -> Option<Json> {
        self.get(&format!("{}.lock", self.key(ws))).map(|t| serde_json::from_str(&t).unwrap())
    }

    /// Server-side encryption the state object was stored with.
    fn encryption(&self, key: &str) -> Option<String> {
        let client = s3(&self.cli);
        block_on(async {
            client
                .head_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .unwrap()
                .server_side_encryption()
                .map(|e| e.as_str().to_owned())
        })
    }

    /// A lock object written as another run on another host would, with the lease ending `lease_secs`
    /// from now (negative: already expired).
    fn plant_lock(&self, lease_secs: i64) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let now = chrono::Utc::now();
        let body = serde_json::json!({
            "id": id, "operation": "apply", "who": "alice@ci-runner-7", "created": now - chrono::TimeDelta::seconds(600),
            "version": "0.1.0", "path": "elsewhere", "pid": 4242, "host": "ci-runner-7",
            "lease_expires": now + chrono::TimeDelta::seconds(lease_secs), "owner_token": "someone-else",
        });
        self.put(&format!("{}.lock", self.key("default")), &body.to_string());
        id
    }
}

/// apply, an empty re-plan and destroy, in `default` and in a second workspace: each state at its key
/// (`<key>`, `env:/W/<key>`), AES256 on every write, no lock left behind, `workspace list` from the bucket.
#[test]
fn apply_replan_destroy_in_two_workspaces() {
    let st = S3Stack::new("s3ws", true);
    let cli = &st.cli;
    let out = cli.apply();
    assert!(!out.stderr.contains("not versioned"), "{out}");
    assert_eq!(st.addresses("default"), ["subnet.a", "vpc.main"]);
    assert_eq!(st.lock("default"), None, "the lock is removed after the apply");
    assert_eq!(st.encryption(&st.key("default")).as_deref(), Some("AES256"));
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    cli.ok(&["workspace", "new", "staging"]);
    let staging = cli.in_workspace("staging");
    staging.apply();
    assert_eq!(st.addresses("staging"), ["subnet.a", "vpc.main"]);
    assert_ne!(st.state("staging").unwrap()["lineage"], st.state("default").unwrap()["lineage"]);
    staging.expect(0, &["plan", "--detailed-exitcode"]);
    let list = cli.ok(&["workspace", "list"]).stdout;
    assert!(list.contains("default") && list.contains("staging"), "{list}");

    staging.destroy();
    cli.destroy();
    assert!(st.addresses("default").is_empty() && st.addresses("staging").is_empty());
    cli.ok(&["workspace", "delete", "staging"]);
    assert_eq!(st.state("staging"), None);
    assert_eq!(cli.count_tagged(), 0);
}

/// A bucket without versioning or default encryption works, but is warned about at connect.
#[test]
fn unversioned_bucket_is_warned_about() {
    let st = S3Stack::new("s3warn", false);
    let out = st.cli.ok(&["plan"]);
    // moto 5.2.5 answers GetBucketVersioning with a `GetBucketVersioningResponse` root the SDK refuses
    // (S3 sends `VersioningConfiguration`), so against moto the check can only say it could not tell.
    let b = &st.bucket;
    assert!(
        out.stderr.contains(&format!("S3 bucket {b} is not versioned"))
            || out.stderr.contains(&format!("could not check the versioning of S3 bucket {b}")),
        "{out}"
    );
    assert!(out.stderr.contains("has no default encryption"), "{out}");
}

/// Two applies at once: the one that takes the lock runs, the other fails at once naming the holder.
#[test]
fn concurrent_applies_exactly_one_runs() {
    let st = S3Stack::new("s3race", true);
    // The first apply is slowed down at its first create, while it holds the lock.
    let proxy = Proxy::start(&st.cli.moto.endpoint);
    proxy.set_rules(vec![Rule::new("CreateVpc", Fault::DelayMs(4000)).times(1)]);
    let mut slow = st.cli.in_workspace("default");
    slow.endpoint = proxy.url();
    let first = slow.spawn(&["apply", "--auto-approve"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let holder = loop {
        if let Some(lock) = st.lock("default") {
            break lock;
        }
        assert!(Instant::now() < deadline, "the first apply never took the lock");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(holder["pid"].as_u64(), Some(u64::from(first.id())));
    for field in ["owner_token", "lease_expires", "who", "host", "operation", "created", "id"] {
        assert!(holder.get(field).is_some(), "{field} missing from the lock body {holder}");
    }

    let started = Instant::now();
    let second = st.cli.run(&["apply", "--auto-approve"]);
    let waited = started.elapsed();
    assert_eq!(second.code, 1, "{second}");
    assert!(
        second.stderr.contains("state is locked by") && second.stderr.contains(&format!("pid {}", first.id())),
        "{second}"
    );
    assert!(second.stderr.contains(holder["id"].as_str().unwrap()), "{second}");
    assert!(waited < Duration::from_secs(10), "the second apply must fail fast, took {waited:?}");

    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(st.addresses("default"), ["subnet.a", "vpc.main"]);
    assert_eq!(st.cli.count_tagged(), 2, "the second apply created nothing");
    assert_eq!(st.lock("default"), None);
    st.cli.destroy();
}

/// A lock whose lease is still running stops the run (naming the holder, nothing written); one whose
/// lease expired is taken over, and the run says so.
#[test]
fn live_lease_holds_expired_lease_is_taken_over() {
    let st = S3Stack::new("s3lease", true);
    let id = st.plant_lock(600);
    let out = st.cli.expect(1, &["apply", "--auto-approve"]);
    assert!(out.stderr.contains("state is locked by alice@ci-runner-7") && out.stderr.contains(&id), "{out}");
    assert_eq!(st.state("default"), None, "nothing was written");
    assert_eq!(st.lock("default").unwrap()["id"], id.as_str(), "the live lock is left alone");
    assert_eq!(st.cli.count_tagged(), 0);

    st.plant_lock(-5);
    let out = st.cli.apply();
    assert!(out.stderr.contains("took over the state lock") && out.stderr.contains("alice@ci-runner-7"), "{out}");
    assert_eq!(st.addresses("default"), ["subnet.a", "vpc.main"]);
    assert_eq!(st.lock("default"), None);

    // force-unlock takes the id, as with local state.
    let id = st.plant_lock(600);
    st.cli.expect(1, &["force-unlock", "not-the-id"]);
    st.cli.ok(&["force-unlock", &id]);
    assert_eq!(st.lock("default"), None);
    st.cli.destroy();
}

/// A lease renewed in the background is not taken over although it is older than one lease; once
/// released, the lock can be taken. (Library level: two backends on one bucket, a 1 s lease.)
#[test]
fn renewed_lease_is_not_taken_over() {
    let st = S3Stack::new("s3renew", true);
    let client = s3(&st.cli);
    let client_out = client.clone();
    let mut settings = state::S3Settings::new(&st.bucket, format!("stacks/{}/state.json", st.cli.stack));
    settings.lease = Duration::from_secs(1);
    block_on(async {
        use state::{Backend, LockInfo, StateError};
        let a = state::S3Workspaces::with_client(settings.clone(), client.clone()).s3_backend("default").unwrap();
        let b = state::S3Workspaces::with_client(settings, client).s3_backend("default").unwrap();
        let la = LockInfo::new("apply", &a.describe());
        a.try_lock(&la).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let lb = LockInfo::new("apply", &b.describe());
        match b.try_lock(&lb).await {
            Err(StateError::Locked(holder)) => assert_eq!(holder.id, la.id),
            other => panic!("a renewed lease must not be taken over: {other:?}"),
        }
        let lock = client_out.get_object().bucket(&st.bucket).key(a.lock_key()).send().await.unwrap();
        let body: Json = serde_json::from_slice(&lock.body.collect().await.unwrap().into_bytes()).unwrap();
        let expires: chrono::DateTime<chrono::Utc> = serde_json::from_value(body["lease_expires"].clone()).unwrap();
        assert!(expires > chrono::Utc::now(), "the lease was renewed: {body}");
        a.unlock(&la.id).await.unwrap();
        b.try_lock(&lb).await.unwrap();
        b.unlock(&lb.id).await.unwrap();
        assert!(client_out.head_object().bucket(&st.bucket).key(a.lock_key()).send().await.is_err(), "lock removed");
    });
}

/// The reply to our lock write is lost after S3 stored the lock: the SDK's retry gets a 412 against our
/// own lock, which carries our token, so the run goes on (and releases the lock at the end).
#[test]
fn lost_reply_of_our_own_lock_write() {
    let st = S3Stack::new("s3lost", true);
    let proxy = Proxy::start(&st.cli.moto.endpoint);
    let lock_put = format!("PUT /{}/{}.lock", st.bucket, st.key("default"));
    proxy.set_rules(vec![Rule::new(lock_put.clone(), Fault::DropReply {}).times(1)]);
    let mut cli = st.cli.in_workspace("default");
    cli.endpoint = proxy.url();
    let out = cli.apply();
    assert!(proxy.faults().iter().any(|f| f.kind == "drop_reply"), "{:?}", proxy.faults());
    assert!(proxy.calls()[&lock_put] >= 2, "the SDK retried the lock write: {:?}", proxy.calls());
    assert!(!out.stderr.contains("took over"), "{out}");
    assert_eq!(st.addresses("default"), ["subnet.a", "vpc.main"]);
    assert_eq!(st.lock("default"), None, "our own lock is released");
    st.cli.destroy();
}

/// A 412 on a state write (someone else wrote): the run stops, the state it could not save is dumped to
/// provisioner.errored.state.json, the stored state is not overwritten; a plain re-apply then adopts what
/// the refused run created.
#[test]
fn precondition_failed_on_state_write_dumps_errored_state() {
    let st = S3Stack::new("s3412", true);
    let vpc_only = STACK.split("[resource.subnet.a]").next().unwrap();
    st.cli.write("main.toml", &vpc_only.replace("__BUCKET__", &st.bucket));
    st.cli.apply();
    let before = st.get(&st.key("default")).unwrap();
    st.cli.write("main.toml", &STACK.replace("__BUCKET__", &st.bucket));

    let proxy = Proxy::start(&st.cli.moto.endpoint);
    let state_put = format!("PUT /{}/{}", st.bucket, st.key("default"));
    proxy.set_rules(vec![Rule::new(
        state_put,
        Fault::error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"),
    )]);
    let mut cli = st.cli.in_workspace("default");
    cli.endpoint = proxy.url();
    let out = cli.expect(1, &["apply", "--auto-approve"]);
    assert!(out.stderr.contains("state conflict") && out.stderr.contains("provisioner.errored.state.json"), "{out}");
    assert_eq!(st.get(&st.key("default")).unwrap(), before, "the stored state is untouched");
    let errored: Json = serde_json::from_str(&st.cli.read("provisioner.errored.state.json")).unwrap();
    let before: Json = serde_json::from_str(&before).unwrap();
    assert_eq!(errored["lineage"], before["lineage"], "the errored state is this state's");
    assert_eq!(st.lock("default"), None, "the refused run still released its lock");

    st.cli.apply();
    assert_eq!(st.addresses("default"), ["subnet.a", "vpc.main"]);
    assert_eq!(st.cli.count_tagged(), 2, "whatever the refused run created was adopted, not duplicated");
    st.cli.destroy();
    assert_eq!(st.cli.count_tagged(), 0);
}

/// A 409 ConditionalRequestConflict on a state write is retried with the same expected ETag and succeeds.
#[test]
fn conditional_request_conflict_is_retried() {
    let st = S3Stack::new("s3409", true);
    let proxy = Proxy::start(&st.cli.moto.endpoint);
    let state_put = format!("PUT /{}/{}", st.bucket, st.key("default"));
    proxy.set_rules(vec![Rule::new(
        state_put.clone(),
        Fault::error(409, "ConditionalRequestConflict", "A conflicting conditional operation is currently in progress"),
    )
    .skip(1)
    .times(1)]);
    let mut cli = st.cli.in_workspace("default");
    cli.endpoint = proxy.url();
    cli.apply();
    assert_eq!(proxy.faults().len(), 1, "{:?}", proxy.faults());
    assert_eq!(st.addresses("default"), ["subnet.a", "vpc.main"]);
    st.cli.expect(0, &["plan", "--detailed-exitcode"]);
    st.cli.destroy();
}

/// An apply killed between its operations with S3 state: its lock stays (on this host, a dead pid), the
/// next run says so and is refused; after force-unlock a re-apply converges without duplicates. With a
/// short lease the lock of the dead run is taken over instead.
#[test]
fn killed_apply_then_reapply() {
    let st = S3Stack::new("s3crash", true);
    let crashing = st.cli.in_workspace("default").env("PROVISIONER_CRASH_AT", "2");
    let out = crashing.run(&["apply", "--auto-approve", "--parallelism", "1"]);
    assert!(out.stderr.contains("crash point 2 reached"), "{out}");
    let lock = st.lock("default").expect("a killed run leaves its lock");
    let id = lock["id"].as_str().unwrap().to_owned();
    let refused = st.cli.expect(1, &["plan"]);
    assert!(
        refused.stderr.contains("no longer running") && refused.stderr.contains(&format!("force-unlock {id}")),
        "{refused}"
    );
    st.cli.ok(&["force-unlock", &id]);
    st.cli.apply();
    assert_eq!(st.addresses("default"), ["subnet.a", "vpc.main"]);
    assert_eq!(st.cli.count_tagged(), 2, "nothing created twice");
    st.cli.expect(0, &["plan", "--detailed-exitcode"]);

    // Killed again, during a destroy; a 1 s lease lets the next run take the dead run's lock over.
    let crashing = crashing.env("PROVISIONER_LOCK_LEASE_SECS", "1");
    let out = crashing.run(&["destroy", "--auto-approve", "--parallelism", "1"]);
    assert!(out.stderr.contains("crash point 2 reached"), "{out}");
    std::thread::sleep(Duration::from_millis(1500));
    let out = st.cli.destroy();
    assert!(out.stderr.contains("took over the state lock"), "{out}");
    assert!(st.addresses("default").is_empty());
    assert_eq!(st.cli.count_tagged(), 0);
}

/// `kms_key_id` makes every write ask for `aws:kms` with that key (the state and the lock alike).
#[test]
fn kms_key_id_is_sent_on_every_write() {
    let st = S3Stack::new("s3kms", true);
    st.cli.edit("main.toml", "key = \"stacks/", "kms_key_id = \"alias/state\"\nkey = \"stacks/");
    st.cli.ok(&["workspace", "new", "vault"]);
    let key = st.key("vault");
    assert_eq!(st.encryption(&key).as_deref(), Some("aws:kms"));
    let client = s3(&st.cli);
    let kms = block_on(async {
        client.head_object().bucket(&st.bucket).key(&key).send().await.unwrap().ssekms_key_id().map(str::to_owned)
    });
    assert!(kms.is_some_and(|k| k.contains("alias/state")), "the configured key is used");
}

/// `endpoint` in [backend] wins over the environment; AWS_ENDPOINT_URL_S3 wins over AWS_ENDPOINT_URL for S3
/// only (the EC2 calls keep going to AWS_ENDPOINT_URL).
#[test]
fn endpoint_precedence() {
    let st = S3Stack::new("s3endpoint", true);
    let proxy = Proxy::start(&st.cli.moto.endpoint);
    let via_proxy = st.cli.in_workspace("default").env("AWS_ENDPOINT_URL_S3", &proxy.url());
    via_proxy.ok(&["plan"]);
    let calls = proxy.calls();
    assert!(calls.keys().all(|a| a.contains(&st.bucket)), "only S3 went through AWS_ENDPOINT_URL_S3: {calls:?}");
    assert!(!calls.is_empty(), "S3 went through AWS_ENDPOINT_URL_S3");

    proxy.reset_calls();
    let dead = st.cli.in_workspace("default").env("AWS_ENDPOINT_URL_S3", &closed_port_url());
    st.cli.edit("main.toml", "key = \"stacks/", &format!("endpoint = \"{}\"\nkey = \"stacks/", proxy.url()));
    dead.ok(&["plan"]);
    assert!(!proxy.calls().is_empty(), "[backend] endpoint overrides AWS_ENDPOINT_URL_S3");
}

/// `plan --lock=false` (Terraform's `-lock=false`) reads the state without locking while another run holds
/// the lock, and leaves that lock alone; a plain plan is refused.
#[test]
fn plan_without_lock_while_another_run_holds_it() {
    let st = S3Stack::new("s3nolock", true);
    st.cli.apply();
    let id = st.plant_lock(600);
    let refused = st.cli.expect(1, &["plan"]);
    assert!(refused.stderr.contains("state is locked by alice@ci-runner-7"), "{refused}");
    for flag in ["--lock=false", "-lock=false"] {
        let out = st.cli.expect(0, &["plan", flag, "--detailed-exitcode"]);
        assert!(out.stdout.contains("No changes"), "{out}");
        assert_eq!(st.lock("default").unwrap()["id"], id.as_str(), "the holder's lock is untouched");
    }
    st.cli.ok(&["force-unlock", &id]);
    st.cli.destroy();
}

/// A bucket that does not exist is an error naming it, never an empty state (with or without the lock).
#[test]
fn missing_bucket_is_an_error_not_an_empty_state() {
    let st = S3Stack::new("s3nobucket", true);
    st.cli.write("main.toml", &STACK.replace("__BUCKET__", "no-such-bucket-for-provisioner"));
    for args in [&["plan"][..], &["plan", "--lock=false"], &["state", "list"]] {
        let out = st.cli.expect(1, args);
        assert!(out.stderr.contains("bucket no-such-bucket-for-provisioner does not exist"), "{out}");
    }
}

/// `state pull` prints the stored state; `state push` uploads a newer serial of the same lineage, refuses
/// an older serial or another lineage, and replaces it anyway with --force.
#[test]
fn state_pull_and_push() {
    let st = S3Stack::new("s3push", true);
    st.cli.ok(&["workspace", "new", "side"]);
    let side = st.cli.in_workspace("side");
    let pulled = side.ok(&["state", "pull"]).stdout;
    assert_eq!(pulled, st.get(&st.key("side")).unwrap(), "pull prints the stored object");
    let mut state: Json = serde_json::from_str(&pulled).unwrap();
    let serial = state["serial"].as_u64().unwrap();

    state["serial"] = (serial + 1).into();
    state["outputs"] = serde_json::json!({"pushed": {"value": "yes", "sensitive": false}});
    st.cli.write("newer.json", &state.to_string());
    side.ok(&["state", "push", "newer.json"]);
    let stored: Json = serde_json::from_str(&st.get(&st.key("side")).unwrap()).unwrap();
    assert_eq!(
        (stored["serial"].as_u64(), &stored["outputs"]["pushed"]["value"]),
        (Some(serial + 1), &Json::from("yes"))
    );

    // The same file again: its serial is no longer newer.
    let out = side.expect(1, &["state", "push", "newer.json"]);
    assert!(out.stderr.contains("is not newer than the stored state's"), "{out}");
    // Another lineage.
    state["lineage"] = uuid::Uuid::new_v4().to_string().into();
    state["serial"] = 99.into();
    st.cli.write("other.json", &state.to_string());
    let out = side.expect(1, &["state", "push", "other.json"]);
    assert!(out.stderr.contains("lineage") && out.stderr.contains("--force"), "{out}");
    assert_eq!(
        serde_json::from_str::<Json>(&st.get(&st.key("side")).unwrap()).unwrap()["lineage"],
        stored["lineage"],
        "nothing was written"
    );
    side.ok(&["state", "push", "--force", "other.json"]);
    let stored: Json = serde_json::from_str(&st.get(&st.key("side")).unwrap()).unwrap();
    assert_eq!(stored["lineage"], state["lineage"]);
    assert_eq!(st.lock("side"), None);
}

/// `state migrate`: local → S3 → local for every workspace, lineage and serial kept, the source left in
/// place; a second run copies nothing; a target holding another non-empty state is refused.
#[test]
fn migrate_local_to_s3_and_back_all_workspaces() {
    let st = S3Stack::new("s3migrate", true);
    let vpc_only = STACK.split("[resource.subnet.a]").next().unwrap();
    let s3_config = vpc_only.replace("__BUCKET__", &st.bucket);
    let local_config = |path: &str| {
        let backend = format!("[backend]\ntype = \"local\"\npath = \"{path}\"\n\n");
        let start = s3_config.find("[backend]").unwrap();
        let end = s3_config.find("[resource.").unwrap();
        format!("{}{backend}{}", &s3_config[..start], &s3_config[end..])
    };
    st.cli.write("main.toml", &local_config(".provisioner/state.json"));
    st.cli.apply();
    st.cli.ok(&["workspace", "new", "staging"]);
    let staging = st.cli.in_workspace("staging");
    staging.apply();
    let local_default = st.cli.read(".provisioner/state.json");
    let local_staging = st.cli.read(".provisioner/staging/state.json");

    st.cli.write("main.toml", &s3_config);
    let out = st.cli.ok(&["state", "migrate", "--from", "local:.provisioner/state.json", "--all-workspaces"]);
    assert!(
        out.stdout.contains("Workspace `default`: copied") && out.stdout.contains("Workspace `staging`: copied"),
        "{out}"
    );
    assert!(out.stdout.contains("The source was left in place"), "{out}");
    assert_eq!(st.get(&st.key("default")).unwrap(), local_default, "lineage, serial and content kept");
    assert_eq!(st.get(&st.key("staging")).unwrap(), local_staging);
    assert_eq!(st.cli.read(".provisioner/state.json"), local_default, "the source is left as it was");
    st.cli.expect(0, &["plan", "--detailed-exitcode"]);
    staging.expect(0, &["plan", "--detailed-exitcode"]);
    let again = st.cli.ok(&["state", "migrate", "--from", "local:.provisioner/state.json", "--all-workspaces"]);
    assert!(again.stdout.contains("already holds this state"), "{again}");

    // Back to local files elsewhere, from S3.
    st.cli.write("main.toml", &local_config("back/state.json"));
    let from = format!("s3://{}/{}", st.bucket, st.key("default"));
    st.cli.ok(&["state", "migrate", "--from", &from, "--all-workspaces"]);
    assert_eq!(st.cli.read("back/state.json"), local_default);
    assert_eq!(st.cli.read("back/staging/state.json"), local_staging);

    // Into a target that holds another state with resources: refused, nothing written.
    st.cli.write("main.toml", &local_config(".provisioner/staging/state.json"));
    let out = st.cli.expect(1, &["state", "migrate", "--from", "local:back/state.json"]);
    assert!(out.stderr.contains("refusing to migrate workspace `default`"), "{out}");
    assert_eq!(st.cli.read(".provisioner/staging/state.json"), local_staging);

    st.cli.write("main.toml", &local_config("back/state.json"));
    staging.destroy();
    st.cli.destroy();
    assert_eq!(st.cli.count_tagged(), 0);
}

/// The reply to a state write is lost after S3 stored it: the SDK's retry meets a 412 against our own write,
/// which is recognised (the object holds exactly what we sent), so the run goes on.
#[test]
fn lost_reply_of_our_own_state_write() {
    let st = S3Stack::new("s3lostst", true);
    let proxy = Proxy::start(&st.cli.moto.endpoint);
    let state_put = format!("PUT /{}/{}", st.bucket, st.key("default"));
    // The first write (If-None-Match) and a later one (If-Match).
    proxy.set_rules(vec![
        Rule::new(state_put.clone(), Fault::DropReply {}).times(1),
        Rule::new(state_put.clone(), Fault::DropReply {}).skip(3).times(1),
    ]);
    let mut cli = st.cli.in_workspace("default");
    cli.endpoint = proxy.url();
    let out = cli.apply();
    assert_eq!(proxy.faults().iter().filter(|f| f.kind == "drop_reply").count(), 2, "{:?}\n{out}", proxy.faults());
    assert!(!st.cli.path().join("provisioner.errored.state.json").exists(), "{out}");
    assert_eq!(st.addresses("default"), ["subnet.a", "vpc.main"]);
    st.cli.expect(0, &["plan", "--detailed-exitcode"]);
    st.cli.destroy();
}

/// `data.stack` reads another stack's outputs from that stack's S3 backend, in a named workspace.
#[test]
fn data_stack_reads_outputs_from_s3() {
    let st = S3Stack::new("s3shared", true);
    st.cli.write(
        "main.toml",
        &format!(
            "[stack]\nname = \"__STACK__\"\n\n[backend]\ntype = \"s3\"\nbucket = \"{}\"\nkey = \"shared.json\"\n\n[output.repo]\nvalue = \"registry.example/${{workspace}}\"\n",
            st.bucket
        ),
    );
    st.cli.ok(&["workspace", "new", "prod"]);
    st.cli.in_workspace("prod").apply();
    assert!(st.get("env:/prod/shared.json").is_some());

    let reader = Cli::new("s3reader");
    reader.write(
        "main.toml",
        &format!(
            "[stack]\nname = \"__STACK__\"\n\n[data.stack.shared]\ndir = \"{}\"\nworkspace = \"prod\"\n\n[output.image]\nvalue = \"${{data.stack.shared.outputs.repo}}:latest\"\n",
            st.cli.path().display()
        ),
    );
    reader.apply();
    let out = reader.ok(&["output", "image", "--raw"]);
    assert_eq!(out.stdout.trim(), "registry.example/prod:latest");
}

/// A real SIGKILL while an apply waits on AWS with S3 state: the state holds what was saved, the dead run's
/// lock is reported as such, and after force-unlock a re-apply converges without duplicates.
#[test]
fn sigkill_mid_apply_then_reapply() {
    let st = S3Stack::new("s3kill", true);
    let proxy = Proxy::start(&st.cli.moto.endpoint);
    proxy.set_rules(vec![Rule::new("CreateSubnet", Fault::Stall {})]);
    let mut slow = st.cli.in_workspace("default");
    slow.endpoint = proxy.url();
    let mut child = slow.spawn(&["apply", "--auto-approve"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.stalled() == 0 {
        assert!(Instant::now() < deadline, "the apply never reached CreateSubnet");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(st.addresses("default"), ["vpc.main"], "the VPC was saved before the kill");
    let id = st.lock("default").expect("the killed run's lock stays")["id"].as_str().unwrap().to_owned();
    let refused = st.cli.expect(1, &["apply", "--auto-approve"]);
    assert!(refused.stderr.contains("no longer running") && refused.stderr.contains(&id), "{refused}");
    st.cli.ok(&["force-unlock", &id]);
    st.cli.apply();
    assert_eq!(st.addresses("default"), ["subnet.a", "vpc.main"]);
    assert_eq!(st.cli.count_tagged(), 2, "nothing created twice");
    st.cli.destroy();
}

/// Web-identity credentials (CI's OIDC: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, no keys) reach the S3
/// backend through the default chain (Terraform's S3 backend could not: terraform#31244).
#[test]
fn web_identity_credentials_reach_the_s3_backend() {
    let st = S3Stack::new("s3oidc", true);
    st.cli.write("token.jwt", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmFjbWUvaW5mcmEifQ.c2ln");
    let proxy = Proxy::start(&st.cli.moto.endpoint);
    let token = st.cli.path().join("token.jwt");
    let mut cli = st
        .cli
        .in_workspace("default")
        .env("AWS_ACCESS_KEY_ID", "")
        .env("AWS_SECRET_ACCESS_KEY", "")
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token.to_string_lossy())
        .env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/ci-deploy")
        .env("AWS_ROLE_SESSION_NAME", "ci");
    cli.endpoint = proxy.url();
    cli.ok(&["workspace", "new", "ci"]);
    let calls = proxy.calls();
    assert!(calls.get("AssumeRoleWithWebIdentity").is_some_and(|n| *n >= 1), "{calls:?}");
    assert!(st.state("ci").is_some(), "the state was written with the assumed role's credentials");
}

/// A 409 is retried only while the object still has the expected ETag: when another writer replaced it
/// meanwhile (seen by the HEAD after the 409), the write is a conflict and nothing is overwritten.
/// (Library level, through the proxy: the 409 is injected, the other writer writes straight to moto while
/// the HEAD is held back.)
#[test]
fn conflict_409_then_a_moved_etag_is_a_conflict() {
    use state::{save_next, Snapshot, StateError};
    let st = S3Stack::new("s3moved", true);
    let proxy = Proxy::start(&st.cli.moto.endpoint);
    let key = st.key("default");
    proxy.set_rules(vec![
        Rule::new(format!("PUT /{}/{key}", st.bucket), Fault::error(409, "ConditionalRequestConflict", "in progress"))
            .skip(1)
            .times(1),
        Rule::new(format!("HEAD /{}/{key}", st.bucket), Fault::DelayMs(1500)).times(1),
    ]);
    let sdk = common::sdk_config(st.cli.moto);
    let proxied = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk).endpoint_url(proxy.url()).force_path_style(true).build(),
    );
    let direct = s3(&st.cli);
    let settings = state::S3Settings::new(&st.bucket, &key);
    block_on(async {
        let b = state::S3Workspaces::with_client(settings, proxied).s3_backend("default").unwrap();
        let mut snap = Snapshot::new(None);
        let mut persisted = None;
        save_next(&b, &mut snap, &mut persisted).await.unwrap();
        let other = Snapshot::new(Some("other".into())).to_pretty_json();
        let writer = async {
            while proxy.faults().is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let body = ByteStream::from(other.clone().into_bytes());
            direct.put_object().bucket(&st.bucket).key(&key).body(body).send().await.unwrap();
        };
        let (res, ()) = tokio::join!(save_next(&b, &mut snap, &mut persisted), writer);
        assert!(matches!(res, Err(StateError::Conflict { .. })), "{res:?}");
        let stored = direct.get_object().bucket(&st.bucket).key(&key).send().await.unwrap();
        let stored = String::from_utf8(stored.body.collect().await.unwrap().into_bytes().to_vec()).unwrap();
        assert_eq!(stored, other, "the other writer's state is not overwritten");
    });
    let kinds: Vec<String> = proxy.faults().into_iter().map(|f| f.kind).collect();
    assert_eq!(kinds, ["error", "delay_ms"]);
}

/// More of a network than [`STACK`]: every kind of operation boundary (tagged creates, follow-up calls,
/// associations and rules adopted by natural key).
const NETWORK: &str = r#"
[resource.internet_gateway.main]
vpc_id = "${vpc.main.id}"

[resource.subnet.b]
vpc_id = "${vpc.main.id}"
cidr_block = "10.7.2.0/24"
map_public_ip_on_launch = true

[resource.route_table.public]
vpc_id = "${vpc.main.id}"
route = [{ cidr_block = "0.0.0.0/0", gateway_id = "${internet_gateway.main.id}" }]

[resource.route_table_association.a]
subnet_id = "${subnet.a.id}"
route_table_id = "${route_table.public.id}"

[resource.route_table_association.b]
subnet_id = "${subnet.b.id}"
route_table_id = "${route_table.public.id}"

[resource.security_group.web]
name = "__STACK__-web"
description = "web"
vpc_id = "${vpc.main.id}"

[resource.security_group_rule.http]
type = "ingress"
security_group_id = "${security_group.web.id}"
from_port = 80
to_port = 80
protocol = "tcp"
cidr_blocks = ["0.0.0.0/0"]

[resource.eip.nat]
domain = "vpc"
"#;

/// The crash test of `cli_leftovers.rs` with S3 state: an apply killed at each of its operation boundaries
/// in turn (`PROVISIONER_CRASH_AT=N`, as if by SIGKILL: no state write, no unlock). Each time the dead run's
/// lock object stops the next run, naming it; `force-unlock` removes it; the re-apply converges — every
/// object tagged with the stack is in the S3 state, once — and the re-plan is empty.
#[test]
fn killed_at_every_operation_boundary_with_s3_state() {
    let st = S3Stack::new("s3sweep", true);
    st.cli.write("main.toml", &format!("{}{}", st.cli.read("main.toml"), NETWORK.replace("__STACK__", &st.cli.stack)));
    let mut n = 1;
    loop {
        let crashing = st.cli.in_workspace("default").env("PROVISIONER_CRASH_AT", &n.to_string());
        let out = crashing.run(&["apply", "--auto-approve", "--parallelism", "1"]);
        if out.code == 0 && !out.stderr.contains("crash point") {
            break;
        }
        assert!(out.stderr.contains(&format!("crash point {n} reached")), "boundary {n}:\n{out}");
        let lock = st.lock("default").unwrap_or_else(|| panic!("boundary {n}: the killed run left no lock object"));
        let id = lock["id"].as_str().unwrap().to_owned();
        let refused = st.cli.run(&["plan"]);
        assert_eq!(refused.code, 1, "boundary {n}: the dead run's lock must stop the next run\n{refused}");
        assert!(refused.stderr.contains(&format!("force-unlock {id}")), "boundary {n}:\n{refused}");
        st.cli.ok(&["force-unlock", &id]);
        let again = st.cli.run(&["apply", "--auto-approve"]);
        assert_eq!(again.code, 0, "boundary {n}: re-apply failed\n{again}");
        let held: std::collections::BTreeSet<String> = st.state("default").unwrap()["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        let mut by_address: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (id, tags) in st.cli.tagged() {
            assert!(held.contains(&id), "boundary {n}: {id} carries the stack's tags but is not in the S3 state");
            by_address.entry(tags.get("provisioner:address").cloned().unwrap_or_default()).or_default().push(id);
        }
        for (address, ids) in &by_address {
            assert_eq!(ids.len(), 1, "boundary {n}: {address} has several objects: {ids:?}");
        }
        st.cli.expect(0, &["plan", "--detailed-exitcode"]);
        st.cli.destroy();
        assert_eq!(st.cli.count_tagged(), 0, "boundary {n}: destroy left {:?}", st.cli.tagged_ids());
        assert!(st.lock("default").is_none(), "boundary {n}: a lock object was left behind");
        n += 1;
    }
    st.cli.destroy();
    let boundaries = n - 1;
    eprintln!("crashed and recovered at each of {boundaries} operation boundaries with S3 state");
    // 11 resources, at least two boundaries each.
    assert!(boundaries >= 22, "only {boundaries} boundaries reached");
}
