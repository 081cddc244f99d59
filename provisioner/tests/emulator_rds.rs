//! The local AWS emulator's RDS rules (`scripts/emulator.py`), checked through the AWS SDK as the product
//! sees them: a new DB instance goes `creating` → `backing-up` → `available` over DescribeDBInstances polls;
//! ModifyDBInstance keeps deferred values in PendingModifiedValues (`modifying` until applied with
//! ApplyImmediately, pending until a later immediate modify without); DeleteDBInstance needs a final
//! snapshot or SkipFinalSnapshot, is `deleting` for a while, then DBInstanceNotFound; a managed master
//! password is a real Secrets Manager secret holding the master user; ResetDBParameterGroup answers; and the
//! control endpoint's stuck and fail modes.
//!
//! These test the test fixture, not the product. The tests of this binary share one emulator (the default
//! of 2 polls per operation); each uses its own identifiers, and behaviour rules name their own instance,
//! never `"*"` (except on the private server of `control_endpoint_rules`).

mod common;

use aws_sdk_rds::error::ProvideErrorMetadata;
use aws_sdk_rds::types::{ApplyMethod, DbInstance, Parameter};
use common::*;

fn rds(moto: &Moto) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(&sdk_config(moto))
}

/// A unique lower-case identifier.
fn ident(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

async fn create(rds: &aws_sdk_rds::Client, id: &str, managed: bool) -> DbInstance {
    let out = rds
        .create_db_instance()
        .db_instance_identifier(id)
        .engine("postgres")
        .engine_version("16")
        .db_instance_class("db.t4g.micro")
        .allocated_storage(20)
        .master_username("app")
        .set_manage_master_user_password(managed.then_some(true))
        .set_master_user_password((!managed).then(|| "not-a-real-password".to_owned()))
        .storage_encrypted(true)
        .send()
        .await
        .unwrap();
    out.db_instance.unwrap()
}

/// Status and pending modified values of one poll; `None` when not found.
async fn poll(rds: &aws_sdk_rds::Client, id: &str) -> Option<(String, Option<i32>, i32)> {
    match rds.describe_db_instances().db_instance_identifier(id).send().await {
        Ok(o) => {
            let db = &o.db_instances()[0];
            Some((
                db.db_instance_status().unwrap().to_owned(),
                db.pending_modified_values().and_then(|p| p.backup_retention_period()),
                db.backup_retention_period().unwrap(),
            ))
        }
        Err(e) => {
            assert_eq!(e.code(), Some("DBInstanceNotFound"), "{e:?}");
            None
        }
    }
}

async fn status(rds: &aws_sdk_rds::Client, id: &str) -> Option<String> {
    poll(rds, id).await.map(|(s, _, _)| s)
}

#[tokio::test]
async fn a_new_instance_is_creating_then_backing_up_then_available_with_its_managed_secret() {
    let moto = Moto::shared();
    let rds = rds(moto);
    let id = ident("emu-create");
    let db = create(&rds, &id, true).await;
    assert_eq!(db.db_instance_status(), Some("creating"));
    assert_eq!(db.engine_version(), Some("16.4"), "a major-only version becomes AWS's default minor");
    assert_eq!(status(&rds, &id).await.as_deref(), Some("backing-up"));
    assert_eq!(status(&rds, &id).await.as_deref(), Some("available"));
    assert_eq!(status(&rds, &id).await.as_deref(), Some("available"));

    // The managed password is a real secret with the master user in it.
    let described = rds.describe_db_instances().db_instance_identifier(&id).send().await.unwrap();
    let db = &described.db_instances()[0];
    let secret = db.master_user_secret().expect("MasterUserSecret");
    let arn = secret.secret_arn().unwrap();
    assert!(secret.kms_key_id().is_some_and(|k| k.starts_with("arn:aws:kms:")), "{secret:?}");
    let sm = aws_sdk_secretsmanager::Client::new(&sdk_config(moto));
    let value = sm.get_secret_value().secret_id(arn).send().await.unwrap();
    let json: serde_json::Value = serde_json::from_str(value.secret_string().unwrap()).unwrap();
    assert_eq!(json["username"], "app");
    assert!(json["password"].as_str().is_some_and(|p| p.len() >= 16), "{json}");
    // Each instance gets its own resource id.
    let other = create(&rds, &ident("emu-create"), false).await;
    assert_ne!(other.dbi_resource_id(), db.dbi_resource_id());
    assert!(other.master_user_secret().is_none());
}

#[tokio::test]
async fn a_modify_is_pending_then_applied_immediately_or_kept_for_the_maintenance_window() {
    let moto = Moto::shared();
    let rds = rds(moto);
    let id = ident("emu-modify");
    create(&rds, &id, false).await;
    while status(&rds, &id).await.as_deref() != Some("available") {}

    let out = rds
        .modify_db_instance()
        .db_instance_identifier(&id)
        .backup_retention_period(14)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let db = out.db_instance.unwrap();
    assert_eq!(db.db_instance_status(), Some("modifying"));
    assert_eq!(db.pending_modified_values().and_then(|p| p.backup_retention_period()), Some(14));
    assert_eq!(poll(&rds, &id).await, Some(("modifying".into(), Some(14), 1)));
    assert_eq!(poll(&rds, &id).await, Some(("available".into(), None, 14)), "applied at poll 2, nothing pending");

    // Without ApplyImmediately: pending, still available, until a later immediate modify applies it too.
    rds.modify_db_instance()
        .db_instance_identifier(&id)
        .backup_retention_period(3)
        .apply_immediately(false)
        .send()
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(poll(&rds, &id).await, Some(("available".into(), Some(3), 14)));
    }
    rds.modify_db_instance()
        .db_instance_identifier(&id)
        .deletion_protection(false)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    assert_eq!(poll(&rds, &id).await.map(|p| p.0), Some("modifying".into()));
    assert_eq!(poll(&rds, &id).await, Some(("available".into(), None, 3)));
}

#[tokio::test]
async fn a_delete_needs_a_final_snapshot_decision_and_is_deleting_before_it_is_gone() {
    let moto = Moto::shared();
    let rds = rds(moto);
    let id = ident("emu-delete");
    create(&rds, &id, true).await;
    let e = rds.delete_db_instance().db_instance_identifier(&id).send().await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterCombination"), "{e:?}");
    let out = rds.delete_db_instance().db_instance_identifier(&id).skip_final_snapshot(true).send().await.unwrap();
    assert_eq!(out.db_instance.unwrap().db_instance_status(), Some("deleting"));
    let e = rds.delete_db_instance().db_instance_identifier(&id).skip_final_snapshot(true).send().await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidDBInstanceState"), "{e:?}");
    assert_eq!(status(&rds, &id).await.as_deref(), Some("deleting"));
    assert_eq!(status(&rds, &id).await, None);

    // With a final snapshot: the snapshot exists afterwards.
    let id = ident("emu-delete");
    create(&rds, &id, false).await;
    let snap = format!("{id}-final");
    rds.delete_db_instance().db_instance_identifier(&id).final_db_snapshot_identifier(&snap).send().await.unwrap();
    while status(&rds, &id).await.is_some() {}
    let snaps = rds.describe_db_snapshots().db_snapshot_identifier(&snap).send().await.unwrap();
    assert_eq!(snaps.db_snapshots().len(), 1);
}

#[tokio::test]
async fn rules_make_operations_stuck_or_failed() {
    let moto = Moto::shared();
    let rds = rds(moto);
    let stuck = ident("emu-stuck");
    moto.rds_behaviour(&format!(r#"{{"identifier": "{stuck}", "mode": "stuck"}}"#));
    create(&rds, &stuck, false).await;
    for _ in 0..5 {
        assert_eq!(status(&rds, &stuck).await.as_deref(), Some("creating"));
    }
    // Once the rule no longer says stuck, the operation goes on as the new rule says.
    moto.rds_behaviour(&format!(r#"{{"identifier": "{stuck}", "mode": "complete", "polls": 2}}"#));
    assert_eq!(status(&rds, &stuck).await.as_deref(), Some("backing-up"));
    assert_eq!(status(&rds, &stuck).await.as_deref(), Some("available"));
    // A failed delete leaves the instance there (`failed`), and it can be deleted again.
    moto.rds_behaviour(&format!(r#"{{"identifier": "{stuck}", "mode": "fail", "polls": 1}}"#));
    rds.delete_db_instance().db_instance_identifier(&stuck).skip_final_snapshot(true).send().await.unwrap();
    assert_eq!(status(&rds, &stuck).await.as_deref(), Some("failed"));
    moto.rds_behaviour(&format!(r#"{{"identifier": "{stuck}", "mode": "complete", "polls": 1}}"#));
    rds.delete_db_instance().db_instance_identifier(&stuck).skip_final_snapshot(true).send().await.unwrap();
    assert_eq!(status(&rds, &stuck).await, None);

    let failing = ident("emu-fail");
    create(&rds, &failing, false).await;
    while status(&rds, &failing).await.as_deref() != Some("available") {}
    moto.rds_behaviour(&format!(r#"{{"identifier": "{failing}", "mode": "fail", "polls": 1}}"#));
    rds.modify_db_instance()
        .db_instance_identifier(&failing)
        .backup_retention_period(9)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    assert_eq!(status(&rds, &failing).await.as_deref(), Some("incompatible-parameters"));
    assert_eq!(status(&rds, &failing).await.as_deref(), Some("incompatible-parameters"));
    let other = ident("emu-fail");
    moto.rds_behaviour(&format!(r#"{{"identifier": "{other}", "mode": "fail", "polls": 2, "status": "failed"}}"#));
    create(&rds, &other, false).await;
    assert_eq!(status(&rds, &other).await.as_deref(), Some("creating"));
    assert_eq!(status(&rds, &other).await.as_deref(), Some("failed"));
}

#[tokio::test]
async fn reset_db_parameter_group_resets_named_parameters_or_all() {
    let moto = Moto::shared();
    let rds = rds(moto);
    let name = ident("emu-pg");
    rds.create_db_parameter_group()
        .db_parameter_group_name(&name)
        .db_parameter_group_family("postgres16")
        .description("x")
        .send()
        .await
        .unwrap();
    let p = |n: &str, v: &str| {
        Parameter::builder().parameter_name(n).parameter_value(v).apply_method(ApplyMethod::Immediate).build()
    };
    rds.modify_db_parameter_group()
        .db_parameter_group_name(&name)
        .parameters(p("rds.force_ssl", "1"))
        .parameters(p("work_mem", "8192"))
        .send()
        .await
        .unwrap();
    let names = |o: aws_sdk_rds::operation::describe_db_parameters::DescribeDbParametersOutput| -> Vec<String> {
        o.parameters().iter().filter_map(|p| p.parameter_name().map(str::to_owned)).collect()
    };
    let user = || rds.describe_db_parameters().db_parameter_group_name(&name).source("user").send();
    assert_eq!(names(user().await.unwrap()).len(), 2);
    rds.reset_db_parameter_group()
        .db_parameter_group_name(&name)
        .parameters(Parameter::builder().parameter_name("rds.force_ssl").apply_method(ApplyMethod::Immediate).build())
        .send()
        .await
        .unwrap();
    assert_eq!(names(user().await.unwrap()), ["work_mem"]);
    rds.reset_db_parameter_group().db_parameter_group_name(&name).reset_all_parameters(true).send().await.unwrap();
    assert!(names(user().await.unwrap()).is_empty());
}

/// The control endpoint on a private server: rules are listed, replaced per identifier, applied to any
/// instance by "*", and cleared by a reset.
#[tokio::test]
async fn control_endpoint_rules() {
    let moto = Moto::start();
    let answer: serde_json::Value =
        serde_json::from_str(&moto.rds_behaviour(r#"{"identifier": "*", "mode": "stuck"}"#)).unwrap();
    assert_eq!(answer["rules"], serde_json::json!([{"identifier": "*", "mode": "stuck"}]));
    let answer: serde_json::Value = serde_json::from_str(
        &moto.rds_behaviour(r#"{"identifier": "A", "mode": "fail", "polls": 1, "status": "failed"}"#),
    )
    .unwrap();
    assert_eq!(
        answer["rule"],
        serde_json::json!({"identifier": "a", "mode": "fail", "polls": 1, "status": "failed"}),
        "lower-cased as RDS does"
    );
    let rds = rds(&moto);
    create(&rds, "anything", false).await;
    for _ in 0..3 {
        assert_eq!(status(&rds, "anything").await.as_deref(), Some("creating"));
    }
    moto.reset();
    let answer: serde_json::Value = serde_json::from_str(&moto.rds_behaviour(r#"{"identifier": "b"}"#)).unwrap();
    assert_eq!(
        answer["rules"],
        serde_json::json!([{"identifier": "b", "mode": "complete"}]),
        "reset cleared the rules"
    );
    moto.clear_rds_behaviour();
}

#[tokio::test]
async fn a_group_in_use_cannot_be_deleted_until_its_instances_are_gone() {
    let moto = Moto::shared();
    let rds = rds(moto);
    let (pg, id) = (ident("emu-inuse-pg"), ident("emu-inuse"));
    rds.create_db_parameter_group()
        .db_parameter_group_name(&pg)
        .db_parameter_group_family("postgres16")
        .description("x")
        .send()
        .await
        .unwrap();
    rds.create_db_instance()
        .db_instance_identifier(&id)
        .engine("postgres")
        .db_instance_class("db.t4g.micro")
        .allocated_storage(20)
        .master_username("app")
        .master_user_password("not-a-real-password")
        .db_parameter_group_name(&pg)
        .send()
        .await
        .unwrap();
    let e = rds.delete_db_parameter_group().db_parameter_group_name(&pg).send().await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidDBParameterGroupState"), "{e:?}");
    rds.delete_db_instance().db_instance_identifier(&id).skip_final_snapshot(true).send().await.unwrap();
    let e = rds.delete_db_parameter_group().db_parameter_group_name(&pg).send().await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidDBParameterGroupState"), "still used while deleting: {e:?}");
    while status(&rds, &id).await.is_some() {}
    rds.delete_db_parameter_group().db_parameter_group_name(&pg).send().await.unwrap();
}
