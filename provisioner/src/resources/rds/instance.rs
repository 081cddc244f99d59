//! `db_instance`: an RDS DB instance, as terraform-provider-aws's `aws_db_instance`. Id = the identifier
//! (what `import` takes, as in Terraform).
//!
//! Arguments as Terraform names them. Replacement where Terraform's schema forces it: `identifier` /
//! `identifier_prefix`, `engine`, `db_name`, `username`, `storage_encrypted`, `kms_key_id`,
//! `availability_zone`; everything else — `db_subnet_group_name` included — is a ModifyDBInstance.
//! Deviations: `storage_encrypted` defaults to **true** (Terraform: false), and renaming `identifier`
//! replaces the instance (Terraform 5 renames it in place).
//!
//! **Passwords never reach state.** Either `manage_master_user_password = true` (RDS keeps the password in
//! a Secrets Manager secret; its ARN is `master_user_secret[0].secret_arn`), or the write-only `password_wo`
//! (sent on create, and on update only when `password_wo_version` changes; never stored, logged or put in
//! an error). Turning `manage_master_user_password` on or off is a ModifyDBInstance, as in Terraform
//! (turning it off needs `password_wo`).
//!
//! **Engine versions.** `engine_version = "16"` is kept while AWS runs 16.4 (a prefix at a dot boundary,
//! or the version a pending upgrade goes to: [`Resource::reconcile`], Terraform's
//! `compareActualEngineVersion`); the running version is always in `engine_version_actual`, so AWS's minor
//! upgrades are no drift and never planned as a downgrade.
//!
//! **Changes waiting for the maintenance window.** With `apply_immediately = false` (the default, as in
//! Terraform) AWS keeps a change in `PendingModifiedValues` until the next maintenance window. Read reports
//! the pending value for the arguments it covers (instance class, storage, port, backup retention,
//! Multi-AZ, engine version, subnet group) and lists them in `pending_modified_values`, so the next plan
//! does not ask for the same change again (Terraform plans it again on every run until the window). With
//! `apply_immediately = true` the apply waits until nothing is pending.
//!
//! **Waits** (see `wait.rs`): create, modify and delete wait with back-off, bounded by `timeouts`
//! (create 40 min, update 80 min, delete 60 min, as Terraform), reporting progress, stopped by Ctrl-C.
//! The create is saved to state right after CreateDBInstance returns ([`Checkpoint::created`]). A wait that
//! fails, times out or is interrupted after the create or modify took effect is
//! [`unsettled`](ProviderError::unsettled): the state keeps the instance marked incomplete — never
//! tainted: replacing a database is never the answer to a slow one —, and the next plan changes it again in
//! place (which waits again) unless [`Resource::settled`] sees it `available` with nothing pending since.
//!
//! **Delete** needs `skip_final_snapshot = true` or a `final_snapshot_identifier` (checked at plan:
//! [`Resource::validate`]); `delete_automated_backups` defaults to true, as Terraform. It waits until
//! DescribeDBInstances answers DBInstanceNotFound. An instance with `deletion_protection = true` is refused
//! at plan ([`Resource::deletion_refused`]).
//!
//! **Reads.** DescribeDBInstances carries the tags (`TagList`) but takes no tag filter: `read_stack` lists
//! every instance of the account and region (100 a page; one call for most accounts) and keeps those with
//! this stack's tags plus the tracked ids; `read` asks with a `db-instance-id` filter (100 ids a call).

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_rds::types::{DbInstance as AwsInstance, Filter};

use super::wait::{self, End, Goal, Watch};
use super::{
    check_identifier, check_identifier_prefix, check_name_pair, check_timeouts, client, is_gone, name_to_create,
    rds_tags, sync_tags, timeout, timeouts_type,
};
use crate::aws::{
    aws_err, retry_within, tag_map, Ctx, ProviderError, DEFAULT_WORKSPACE, TAG_ADDRESS, TAG_STACK, TAG_WORKSPACE,
};
use crate::resource::{Checkpoint, DeletionRefused, Resource};
use crate::resources::util::*;
use crate::schema::{Attribute, Schema, Type, ID, TAGS};
use crate::value::{Attrs, Value};

pub struct DbInstance;

/// Terraform's default timeouts.
const CREATE_TIMEOUT: Duration = Duration::from_secs(40 * 60);
const UPDATE_TIMEOUT: Duration = Duration::from_secs(80 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// The `db-instance-id` filter takes at most 100 values.
const FILTER_CHUNK: usize = 100;

fn secret_type() -> Type {
    Type::Object(vec![
        Attribute::string("secret_arn").describe("ARN of the Secrets Manager secret holding the master password."),
        Attribute::string("kms_key_id").describe("KMS key encrypting the secret."),
        Attribute::string("secret_status").describe("creating, active, rotating or impaired."),
    ])
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("db_instance", "An RDS DB instance (PostgreSQL, MySQL, …), with waits that tell the truth.")
        .taggable()
        .attr(Attribute::string("identifier").optional_computed().forces_new().describe(
            "Identifier: 1–63 lower-case letters, digits and hyphens, a letter first, no trailing or double hyphen.",
        ))
        .attr(Attribute::string("identifier_prefix").optional_computed().forces_new().describe(
            "Creates a unique identifier beginning with this prefix (≤37 characters); conflicts with `identifier`.",
        ))
        .attr(Attribute::string("engine").required().forces_new().describe("Engine, e.g. `postgres`."))
        .attr(
            Attribute::string("engine_version")
                .optional_computed()
                .describe("Version, e.g. `16` (any 16.x: AWS's minor upgrades are no drift) or `16.4`."),
        )
        .attr(Attribute::string("engine_version_actual").computed().describe("The version the instance runs."))
        .attr(Attribute::string("instance_class").required().describe("Instance class, e.g. `db.t4g.micro`."))
        .attr(Attribute::number("allocated_storage").optional_computed().describe("Storage in GiB."))
        .attr(
            Attribute::number("max_allocated_storage")
                .default(0)
                .describe("Upper bound of storage autoscaling in GiB (0: no autoscaling)."),
        )
        .attr(Attribute::string("storage_type").optional_computed().describe("gp2, gp3, io1, io2 or standard."))
        .attr(
            Attribute::bool("storage_encrypted")
                .default(true)
                .forces_new()
                .describe("Encrypt storage (default true; Terraform: false)."),
        )
        .attr(
            Attribute::string("kms_key_id")
                .optional_computed()
                .forces_new()
                .describe("KMS key ARN for storage encryption (default: AWS's aws/rds key)."),
        )
        .attr(Attribute::string("db_name").forces_new().describe("Database created with the instance."))
        .attr(Attribute::string("username").required().forces_new().describe("Master user name."))
        .attr(
            Attribute::bool("manage_master_user_password")
                .default(false)
                .describe("Let RDS keep the master password in Secrets Manager (see master_user_secret)."),
        )
        .attr(Attribute::string("password_wo").write_only().describe(
            "Master password, write-only: sent to AWS, never stored; resent when password_wo_version changes.",
        ))
        .attr(
            Attribute::number("password_wo_version")
                .describe("Change it to send password_wo again (the password itself is never compared)."),
        )
        .attr(Attribute::string("db_subnet_group_name").optional_computed().describe("DB subnet group (its VPC)."))
        .attr(
            Attribute::new("vpc_security_group_ids", Type::set(Type::String))
                .optional_computed()
                .describe("Security groups (default: the VPC's default group)."),
        )
        .attr(
            Attribute::string("parameter_group_name")
                .optional_computed()
                .describe("DB parameter group (default: the family's)."),
        )
        .attr(Attribute::number("port").optional_computed().describe("Port (engine default, 5432 for PostgreSQL)."))
        .attr(
            Attribute::string("availability_zone")
                .optional_computed()
                .forces_new()
                .describe("Availability zone (single-AZ instances)."),
        )
        .attr(Attribute::bool("multi_az").optional_computed().describe("A standby in another availability zone."))
        .attr(
            Attribute::bool("publicly_accessible")
                .default(false)
                .describe("Resolvable to a public IP (default false)."),
        )
        .attr(
            Attribute::number("backup_retention_period")
                .optional_computed()
                .describe("Days of automated backups (0–35)."),
        )
        .attr(
            Attribute::string("backup_window")
                .optional_computed()
                .describe("Daily backup window, `hh24:mi-hh24:mi` UTC."),
        )
        .attr(
            Attribute::string("maintenance_window")
                .optional_computed()
                .describe("Weekly maintenance window, `ddd:hh24:mi-ddd:hh24:mi` UTC."),
        )
        .attr(
            Attribute::bool("copy_tags_to_snapshot")
                .default(false)
                .describe("Copy the instance's tags to its snapshots."),
        )
        .attr(
            Attribute::bool("deletion_protection")
                .default(false)
                .describe("AWS refuses to delete the instance while true."),
        )
        .attr(
            Attribute::bool("skip_final_snapshot").default(false).describe(
                "Delete without a final snapshot (default false: final_snapshot_identifier is then required).",
            ),
        )
        .attr(
            Attribute::string("final_snapshot_identifier")
                .describe("Name of the snapshot taken on delete: 1–255 letters, digits and hyphens, a letter first."),
        )
        .attr(
            Attribute::bool("delete_automated_backups")
                .default(true)
                .describe("Delete automated backups with the instance."),
        )
        .attr(
            Attribute::bool("apply_immediately")
                .default(false)
                .describe("Apply changes now instead of in the next maintenance window (default false)."),
        )
        .attr(
            Attribute::bool("auto_minor_version_upgrade")
                .default(true)
                .describe("Let AWS apply minor engine upgrades."),
        )
        .attr(Attribute::bool("performance_insights_enabled").default(false).describe("Enable Performance Insights."))
        .attr(
            Attribute::number("monitoring_interval")
                .default(0)
                .describe("Enhanced Monitoring interval in seconds (0: off)."),
        )
        .attr(Attribute::string("monitoring_role_arn").optional_computed().describe("Role Enhanced Monitoring uses."))
        .attr(
            Attribute::new(
                "timeouts",
                Type::list(timeouts_type("e.g. \"40m\"; defaults: create 40m, update 80m, delete 60m")),
            )
            .optional()
            .describe("One table `{ create = \"40m\", update = \"80m\", delete = \"60m\" }`."),
        )
        .attr(Attribute::string("arn").computed().describe("ARN of the instance."))
        .attr(Attribute::string("address").computed().describe("Host name of the endpoint."))
        .attr(Attribute::string("endpoint").computed().describe("`address:port`."))
        .attr(
            Attribute::string("resource_id").computed().describe("The region-unique, immutable resource id (`db-…`)."),
        )
        .attr(Attribute::string("status").computed().describe("available, creating, modifying, …"))
        .attr(
            Attribute::new("master_user_secret", Type::list(secret_type()))
                .computed()
                .describe("With manage_master_user_password: one table { secret_arn, kms_key_id, secret_status }."),
        )
        .attr(
            Attribute::new("pending_modified_values", Type::map(Type::String))
                .computed()
                .describe("Changes AWS has accepted but not applied yet (the next maintenance window)."),
        )
});

// ---------------------------------------------------------------------------------------------- values

fn int(attrs: &Attrs, name: &str) -> Option<i32> {
    attrs.get(name).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok())
}

fn opt_bool(attrs: &Attrs, name: &str) -> Option<bool> {
    attrs.get(name).and_then(Value::as_bool)
}

fn str_list(attrs: &Attrs, name: &str) -> Option<Vec<String>> {
    attrs.get(name).and_then(Value::as_str_list).filter(|l| !l.is_empty())
}

/// The pending modified values of an instance, by argument name (only those the schema has, plus the
/// ones worth telling the user about), as strings.
pub(crate) fn pending_values(db: &AwsInstance) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let Some(p) = db.pending_modified_values() else { return m };
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            m.insert(k.to_owned(), v);
        }
    };
    put("instance_class", p.db_instance_class().map(str::to_owned));
    put("allocated_storage", p.allocated_storage().map(|n| n.to_string()));
    put("port", p.port().map(|n| n.to_string()));
    put("backup_retention_period", p.backup_retention_period().map(|n| n.to_string()));
    put("multi_az", p.multi_az().map(|b| b.to_string()));
    put("engine_version", p.engine_version().map(str::to_owned));
    put("storage_type", p.storage_type().map(str::to_owned));
    put("db_subnet_group_name", p.db_subnet_group_name().map(str::to_owned));
    put("iops", p.iops().map(|n| n.to_string()));
    put("identifier", p.db_instance_identifier().map(str::to_owned));
    put("ca_certificate_identifier", p.ca_certificate_identifier().map(str::to_owned));
    // Never the password itself.
    put("password", p.master_user_password().map(|_| "(changed)".to_owned()));
    m
}

/// The attributes of a described instance (see the module doc for the pending values).
fn instance_attrs(db: &AwsInstance) -> Option<(String, Attrs)> {
    let id = db.db_instance_identifier()?;
    let pending = pending_values(db);
    let pend_str =
        |k: &str, now: Option<&str>| -> Option<String> { pending.get(k).cloned().or(now.map(str::to_owned)) };
    let pend_int = |k: &str, now: Option<i32>| -> Option<i64> {
        pending.get(k).and_then(|v| v.parse().ok()).or(now.map(i64::from))
    };
    let mut a = Attrs::new();
    a.insert(ID.into(), Value::str(id));
    a.insert("identifier".into(), Value::str(id));
    if let Some(p) = name_prefix_from_name(id) {
        a.insert("identifier_prefix".into(), Value::str(p));
    }
    put_str(&mut a, "engine", db.engine());
    put_str(&mut a, "engine_version", pend_str("engine_version", db.engine_version()).as_deref());
    put_str(&mut a, "engine_version_actual", db.engine_version());
    put_str(&mut a, "instance_class", pend_str("instance_class", db.db_instance_class()).as_deref());
    let allocated = pend_int("allocated_storage", db.allocated_storage());
    if let Some(n) = allocated {
        a.insert("allocated_storage".into(), Value::int(n));
    }
    // AWS reports no MaxAllocatedStorage without autoscaling (the emulator reports the allocated storage).
    let max = db.max_allocated_storage().map(i64::from).filter(|m| allocated.is_none_or(|s| *m > s)).unwrap_or(0);
    a.insert("max_allocated_storage".into(), Value::int(max));
    put_str(&mut a, "storage_type", pend_str("storage_type", db.storage_type()).as_deref());
    a.insert("storage_encrypted".into(), Value::Bool(db.storage_encrypted().unwrap_or(false)));
    put_opt(&mut a, "kms_key_id", db.kms_key_id());
    put_opt(&mut a, "db_name", db.db_name());
    put_str(&mut a, "username", db.master_username());
    let secret = db.master_user_secret().filter(|s| s.secret_arn().is_some());
    a.insert("manage_master_user_password".into(), Value::Bool(secret.is_some()));
    a.insert(
        "master_user_secret".into(),
        Value::List(
            secret
                .map(|s| {
                    let mut m = BTreeMap::new();
                    m.insert("secret_arn".to_owned(), Value::str(s.secret_arn().unwrap_or_default()));
                    m.insert("kms_key_id".to_owned(), Value::str(s.kms_key_id().unwrap_or_default()));
                    m.insert("secret_status".to_owned(), Value::str(s.secret_status().unwrap_or_default()));
                    Value::Map(m)
                })
                .into_iter()
                .collect(),
        ),
    );
    put_str(
        &mut a,
        "db_subnet_group_name",
        pend_str("db_subnet_group_name", db.db_subnet_group().and_then(|g| g.db_subnet_group_name())).as_deref(),
    );
    a.insert(
        "vpc_security_group_ids".into(),
        Value::string_list(db.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id())),
    );
    put_str(&mut a, "parameter_group_name", db.db_parameter_groups().first().and_then(|g| g.db_parameter_group_name()));
    let endpoint_port = db.endpoint().and_then(|e| e.port()).or(db.db_instance_port().filter(|p| *p > 0));
    if let Some(p) = pend_int("port", endpoint_port) {
        a.insert("port".into(), Value::int(p));
    }
    let address = db.endpoint().and_then(|e| e.address()).unwrap_or_default();
    a.insert("address".into(), Value::str(address));
    a.insert(
        "endpoint".into(),
        Value::str(match (address, endpoint_port) {
            ("", _) => String::new(),
            (addr, Some(p)) => format!("{addr}:{p}"),
            (addr, None) => addr.to_owned(),
        }),
    );
    put_opt(&mut a, "availability_zone", db.availability_zone());
    a.insert(
        "multi_az".into(),
        Value::Bool(pending.get("multi_az").map(|v| v == "true").unwrap_or(db.multi_az().unwrap_or(false))),
    );
    a.insert("publicly_accessible".into(), Value::Bool(db.publicly_accessible().unwrap_or(false)));
    if let Some(n) = pend_int("backup_retention_period", db.backup_retention_period()) {
        a.insert("backup_retention_period".into(), Value::int(n));
    }
    put_opt(&mut a, "backup_window", db.preferred_backup_window());
    put_opt(&mut a, "maintenance_window", db.preferred_maintenance_window().map(str::to_lowercase).as_deref());
    a.insert("copy_tags_to_snapshot".into(), Value::Bool(db.copy_tags_to_snapshot().unwrap_or(false)));
    a.insert("deletion_protection".into(), Value::Bool(db.deletion_protection().unwrap_or(false)));
    a.insert("auto_minor_version_upgrade".into(), Value::Bool(db.auto_minor_version_upgrade().unwrap_or(true)));
    a.insert("performance_insights_enabled".into(), Value::Bool(db.performance_insights_enabled().unwrap_or(false)));
    a.insert("monitoring_interval".into(), Value::int(db.monitoring_interval().unwrap_or(0).into()));
    put_opt(&mut a, "monitoring_role_arn", db.monitoring_role_arn());
    put_str(&mut a, "arn", db.db_instance_arn());
    put_str(&mut a, "resource_id", db.dbi_resource_id());
    put_str(&mut a, "status", db.db_instance_status());
    a.insert(
        "pending_modified_values".into(),
        Value::Map(pending.into_iter().map(|(k, v)| (k, Value::str(v))).collect()),
    );
    a.insert(TAGS.into(), super::tags_value(db.tag_list()));
    Some((id.to_owned(), a))
}

/// `cfg`'s engine version is equivalent to what the instance runs or will run (see the module doc).
fn engine_version_matches(cfg: &str, versions: &[&str]) -> bool {
    !cfg.is_empty()
        && versions.iter().any(|v| *v == cfg || v.strip_prefix(cfg).is_some_and(|rest| rest.starts_with('.')))
}

/// Terraform's `compareActualEngineVersion`: keep the configured `engine_version` when AWS's is
/// equivalent.
fn reconcile_engine_version(cfg: &Attrs, actual: &mut Attrs) {
    let Some(wanted) = cfg.get("engine_version").and_then(Value::as_str) else { return };
    let reported = actual.get("engine_version").and_then(Value::as_str).unwrap_or_default().to_owned();
    let running = actual.get("engine_version_actual").and_then(Value::as_str).unwrap_or_default().to_owned();
    if engine_version_matches(wanted, &[&reported, &running]) {
        actual.insert("engine_version".into(), Value::str(wanted));
    }
}

/// What create/update return: the configuration's local-only arguments (and nothing write-only), then
/// what AWS reports.
fn result_attrs(desired: &Attrs, db: Option<&AwsInstance>, identifier: &str) -> Attrs {
    let mut a = Attrs::new();
    for (k, v) in desired {
        if k != "password_wo" {
            a.insert(k.clone(), v.clone());
        }
    }
    a.insert(ID.into(), Value::str(identifier));
    a.insert("identifier".into(), Value::str(identifier));
    if let Some((_, got)) = db.and_then(instance_attrs) {
        a.extend(got);
    }
    if desired.contains_key(TAGS) && db.is_none_or(|d| d.tag_list().is_empty()) {
        a.insert(TAGS.into(), desired[TAGS].clone());
    }
    reconcile_engine_version(desired, &mut a);
    a
}

/// Where progress lines about this instance go: its address (from the tool's tags).
fn address(attrs: &Attrs, identifier: &str) -> String {
    tag_map(attrs).get(TAG_ADDRESS).cloned().unwrap_or_else(|| format!("db_instance.{identifier}"))
}

// ---------------------------------------------------------------------------------------------- checks

fn check(cfg: &Attrs) -> Result<(), String> {
    check_name_pair(cfg, "identifier", "identifier_prefix")?;
    if let Some(id) = cfg.get("identifier").and_then(Value::as_str) {
        check_identifier("identifier", id, 63, true)?;
    }
    if let Some(p) = cfg.get("identifier_prefix").and_then(Value::as_str) {
        check_identifier_prefix("identifier_prefix", p, 63 - UNIQUE_ID_SUFFIX_LEN)?;
    }
    check_timeouts(cfg)?;
    let skip = cfg.get("skip_final_snapshot").and_then(Value::as_bool).unwrap_or(false);
    match cfg.get("final_snapshot_identifier").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        Some(snap) => check_identifier("final_snapshot_identifier", snap, 255, false)?,
        None if !skip => {
            return Err("final_snapshot_identifier is required when skip_final_snapshot is false (RDS takes a final \
                        snapshot when the instance is deleted): set `final_snapshot_identifier = \"NAME-final\"`, or \
                        `skip_final_snapshot = true` to delete without one"
                .to_owned())
        }
        None => {}
    }
    let wo = cfg.get("password_wo").is_some_and(|v| !v.is_null());
    if wo && cfg.get("manage_master_user_password").and_then(Value::as_bool) == Some(true) {
        return Err("password_wo and manage_master_user_password = true exclude each other: let RDS manage the \
                    password, or give it yourself"
            .to_owned());
    }
    if cfg.get("password_wo_version").is_some_and(|v| !v.is_null()) && !wo {
        return Err("password_wo_version needs password_wo (it only says when to send password_wo again)".to_owned());
    }
    if let Some(n) = cfg.get("backup_retention_period").and_then(Value::as_i64) {
        if !(0..=35).contains(&n) {
            return Err(format!("backup_retention_period {n} is outside 0..35"));
        }
    }
    if let Some(n) = cfg.get("monitoring_interval").and_then(Value::as_i64) {
        if ![0, 1, 5, 10, 15, 30, 60].contains(&n) {
            return Err(format!("monitoring_interval {n}: use 0, 1, 5, 10, 15, 30 or 60"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------- calls

/// DescribeDBInstances of `ids` (a `db-instance-id` filter, 100 a call), keyed by identifier.
async fn read_ids(cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
    let mut ids: Vec<String> = ids.iter().filter(|s| !s.is_empty()).cloned().collect();
    ids.sort();
    ids.dedup();
    let calls = ids.chunks(FILTER_CHUNK).map(|chunk| async move {
        let filter = Filter::builder().name("db-instance-id").set_values(Some(chunk.to_vec())).build();
        let mut out = Vec::new();
        let mut pages = client(cx).describe_db_instances().filters(filter).into_paginator().send();
        while let Some(page) = pages.next().await {
            match page.map_err(aws_err) {
                Ok(p) => out.extend(p.db_instances().iter().filter_map(instance_attrs)),
                Err(e) if is_gone(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok::<_, ProviderError>(out)
    });
    Ok(futures::future::try_join_all(calls).await?.into_iter().flatten().collect())
}

/// Every instance of the account and region (every page).
async fn list_all(cx: &Ctx) -> Result<Vec<(String, Attrs)>, ProviderError> {
    let mut out = Vec::new();
    let mut pages = client(cx).describe_db_instances().max_records(100).into_paginator().send();
    while let Some(page) = pages.next().await {
        out.extend(page.map_err(aws_err)?.db_instances().iter().filter_map(instance_attrs));
    }
    Ok(out)
}

impl DbInstance {
    /// Waits as `kind` (create, update, delete) does; `Ok(last described)` on success, else the error,
    /// [`unsettled`](ProviderError::unsettled) with the attributes now unless the instance is gone.
    async fn wait(
        &self,
        cx: &Ctx,
        desired: &Attrs,
        identifier: &str,
        kind: &str,
        goal: Goal,
    ) -> Result<Option<AwsInstance>, ProviderError> {
        let (verb, default) = match kind {
            "create" => ("creating", CREATE_TIMEOUT),
            "update" => ("modifying", UPDATE_TIMEOUT),
            _ => ("deleting", DELETE_TIMEOUT),
        };
        let addr = address(desired, identifier);
        let w = Watch { address: &addr, identifier, verb, goal, timeout: timeout(cx, desired, kind, default) };
        let (last, outcome) = wait::wait(cx, &w).await;
        match outcome {
            Ok(()) => Ok(last),
            Err(end) => {
                let e = wait::end_error(&w, kind, last.as_ref(), &end);
                if kind == "delete" || matches!(end, End::Failed(ref s) if s == "deleted") && last.is_none() {
                    Err(e)
                } else {
                    Err(e.unsettled(result_attrs(desired, last.as_ref(), identifier)))
                }
            }
        }
    }
}

#[async_trait]
impl Resource for DbInstance {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        check(cfg)
    }

    /// The same rules at plan while other arguments are still unknown (the subnet group's name, the
    /// security groups' ids): [`check`] reads only the arguments listed here, so when they are all known its
    /// verdict is final — a missing `final_snapshot_identifier` fails the plan, not the create.
    fn validate_related(&self, cfg: &Attrs, _related: &[(&str, &Attrs)]) -> Result<(), String> {
        const CHECKED: [&str; 10] = [
            "identifier",
            "identifier_prefix",
            "timeouts",
            "skip_final_snapshot",
            "final_snapshot_identifier",
            "password_wo",
            "manage_master_user_password",
            "password_wo_version",
            "backup_retention_period",
            "monitoring_interval",
        ];
        if CHECKED.iter().all(|k| cfg.get(*k).is_none_or(Value::is_known)) {
            check(cfg)
        } else {
            Ok(())
        }
    }

    /// `maintenance_window` in lower case, as AWS stores it.
    fn normalize(&self, attrs: &mut Attrs) {
        if let Some(Value::String(w)) = attrs.get("maintenance_window") {
            let lower = w.to_lowercase();
            attrs.insert("maintenance_window".into(), Value::str(lower));
        }
    }

    fn reconcile(&self, cfg: &Attrs, actual: &mut Attrs) {
        reconcile_engine_version(cfg, actual);
    }

    fn deletion_refused(&self, prior: &Attrs) -> Option<DeletionRefused> {
        if prior.get("deletion_protection").and_then(Value::as_bool) != Some(true) {
            return None;
        }
        let id = get_str(prior, "identifier").or_else(|| get_str(prior, ID)).unwrap_or("?");
        Some(DeletionRefused {
            message: format!("DB instance {id} has deletion_protection enabled; AWS refuses to delete it"),
            hint: "set `deletion_protection = false`, apply, then destroy (or apply the change that replaces it)"
                .to_owned(),
            attribute: Some("deletion_protection"),
        })
    }

    /// `available` with nothing pending — or with pending values only when they wait for the maintenance
    /// window (`apply_immediately = false`).
    fn settled(&self, attrs: &Attrs) -> bool {
        let available = attrs.get("status").and_then(Value::as_str) == Some("available");
        let pending = attrs.get("pending_modified_values").and_then(Value::as_map).is_some_and(|m| !m.is_empty());
        available && (!pending || !get_bool(attrs, "apply_immediately", false))
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        read_ids(cx, ids).await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let ours = |tags: &BTreeMap<String, String>| {
            tags.get(TAG_STACK) == Some(&cx.stack)
                && (cx.workspace == DEFAULT_WORKSPACE || tags.get(TAG_WORKSPACE) == Some(&cx.workspace))
        };
        let all = list_all(cx).await?;
        Ok(all.into_iter().filter(|(id, a)| ids.contains(id) || ours(&tag_map(a))).collect())
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        check(desired).map_err(|m| ProviderError::with_code("InvalidParameterValue", m))?;
        let identifier = name_to_create(desired, "identifier", "identifier_prefix", "tf-");
        let managed = get_bool(desired, "manage_master_user_password", false);
        let req = client(cx)
            .create_db_instance()
            .db_instance_identifier(&identifier)
            .engine(req_str(desired, "engine")?)
            .set_engine_version(get_str(desired, "engine_version").map(str::to_owned))
            .db_instance_class(req_str(desired, "instance_class")?)
            .set_allocated_storage(int(desired, "allocated_storage"))
            .set_max_allocated_storage(int(desired, "max_allocated_storage").filter(|n| *n > 0))
            .set_storage_type(get_str(desired, "storage_type").map(str::to_owned))
            .storage_encrypted(get_bool(desired, "storage_encrypted", true))
            .set_kms_key_id(get_str(desired, "kms_key_id").map(str::to_owned))
            .set_db_name(get_str(desired, "db_name").map(str::to_owned))
            .master_username(req_str(desired, "username")?)
            .set_manage_master_user_password(managed.then_some(true))
            .set_master_user_password(get_str(desired, "password_wo").filter(|_| !managed).map(str::to_owned))
            .set_db_subnet_group_name(get_str(desired, "db_subnet_group_name").map(str::to_owned))
            .set_vpc_security_group_ids(str_list(desired, "vpc_security_group_ids"))
            .set_db_parameter_group_name(get_str(desired, "parameter_group_name").map(str::to_owned))
            .set_port(int(desired, "port"))
            .set_availability_zone(get_str(desired, "availability_zone").map(str::to_owned))
            .set_multi_az(opt_bool(desired, "multi_az"))
            .publicly_accessible(get_bool(desired, "publicly_accessible", false))
            .set_backup_retention_period(int(desired, "backup_retention_period"))
            .set_preferred_backup_window(get_str(desired, "backup_window").map(str::to_owned))
            .set_preferred_maintenance_window(get_str(desired, "maintenance_window").map(str::to_owned))
            .copy_tags_to_snapshot(get_bool(desired, "copy_tags_to_snapshot", false))
            .deletion_protection(get_bool(desired, "deletion_protection", false))
            .auto_minor_version_upgrade(get_bool(desired, "auto_minor_version_upgrade", true))
            .enable_performance_insights(get_bool(desired, "performance_insights_enabled", false))
            .set_monitoring_interval(int(desired, "monitoring_interval").filter(|n| *n > 0))
            .set_monitoring_role_arn(get_str(desired, "monitoring_role_arn").map(str::to_owned))
            .set_tags(Some(rds_tags(&tag_map(desired))));
        // A subnet group or parameter group created a moment ago may not be visible yet.
        let propagating = |e: &ProviderError| {
            matches!(e.code.as_deref(), Some("DBSubnetGroupNotFoundFault" | "DBParameterGroupNotFound"))
        };
        let out = retry_within(cx, "CreateDBInstance", PROPAGATION, propagating, || {
            let req = req.clone();
            async move { req.send().await.map_err(aws_err) }
        })
        .await?;
        let made = result_attrs(desired, out.db_instance(), &identifier);
        checkpoint.created(&made).await;
        let last = self.wait(cx, desired, &identifier, "create", Goal::Available { settled: true }).await?;
        Ok(result_attrs(desired, last.as_ref().or(out.db_instance()), &identifier))
    }

    /// Only the arguments that differ are sent. `desired` is not checked again here: plan validated the
    /// configuration, and the engine also calls this to re-tag an object with its attributes as read (which
    /// lack the arguments AWS does not report, such as `skip_final_snapshot`).
    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        let id = get_id(prior)?.to_owned();
        let differs = |k: &str| {
            desired.get(k).is_some_and(|v| !v.is_null())
                && !crate::engine::same(prior.get(k).unwrap_or(&Value::Null), desired.get(k).unwrap_or(&Value::Null))
        };
        let immediately = get_bool(desired, "apply_immediately", false);
        let mut req = client(cx).modify_db_instance().db_instance_identifier(&id).apply_immediately(immediately);
        let mut call = false;
        macro_rules! when {
            ($k:expr, $set:expr) => {
                if differs($k) {
                    req = $set(req);
                    call = true;
                }
            };
        }
        type M = aws_sdk_rds::operation::modify_db_instance::builders::ModifyDBInstanceFluentBuilder;
        when!("instance_class", |r: M| r.set_db_instance_class(get_str(desired, "instance_class").map(str::to_owned)));
        when!("allocated_storage", |r: M| r.set_allocated_storage(int(desired, "allocated_storage")));
        // Autoscaling is turned off by setting the bound to the allocated storage (Terraform does the same).
        when!("max_allocated_storage", |r: M| r.set_max_allocated_storage(
            int(desired, "max_allocated_storage")
                .filter(|n| *n > 0)
                .or(int(desired, "allocated_storage"))
                .or(int(prior, "allocated_storage"))
        ));
        when!("storage_type", |r: M| r.set_storage_type(get_str(desired, "storage_type").map(str::to_owned)));
        // Never a "downgrade" to a configured prefix of the running version.
        let running = get_str(prior, "engine_version_actual").unwrap_or_default().to_owned();
        if differs("engine_version")
            && !engine_version_matches(get_str(desired, "engine_version").unwrap_or_default(), &[&running])
        {
            req = req.set_engine_version(get_str(desired, "engine_version").map(str::to_owned));
            call = true;
        }
        when!("db_subnet_group_name", |r: M| r
            .set_db_subnet_group_name(get_str(desired, "db_subnet_group_name").map(str::to_owned)));
        when!("vpc_security_group_ids", |r: M| r
            .set_vpc_security_group_ids(str_list(desired, "vpc_security_group_ids")));
        when!("parameter_group_name", |r: M| r
            .set_db_parameter_group_name(get_str(desired, "parameter_group_name").map(str::to_owned)));
        when!("port", |r: M| r.set_db_port_number(int(desired, "port")));
        when!("multi_az", |r: M| r.set_multi_az(opt_bool(desired, "multi_az")));
        when!("publicly_accessible", |r: M| r.set_publicly_accessible(opt_bool(desired, "publicly_accessible")));
        when!("backup_retention_period", |r: M| r.set_backup_retention_period(int(desired, "backup_retention_period")));
        when!("backup_window", |r: M| r
            .set_preferred_backup_window(get_str(desired, "backup_window").map(str::to_owned)));
        when!("maintenance_window", |r: M| r
            .set_preferred_maintenance_window(get_str(desired, "maintenance_window").map(str::to_owned)));
        when!("copy_tags_to_snapshot", |r: M| r.set_copy_tags_to_snapshot(opt_bool(desired, "copy_tags_to_snapshot")));
        when!("deletion_protection", |r: M| r.set_deletion_protection(opt_bool(desired, "deletion_protection")));
        when!("auto_minor_version_upgrade", |r: M| r
            .set_auto_minor_version_upgrade(opt_bool(desired, "auto_minor_version_upgrade")));
        when!("performance_insights_enabled", |r: M| r
            .set_enable_performance_insights(opt_bool(desired, "performance_insights_enabled")));
        if differs("monitoring_interval") || differs("monitoring_role_arn") {
            req = req
                .set_monitoring_interval(int(desired, "monitoring_interval"))
                .set_monitoring_role_arn(get_str(desired, "monitoring_role_arn").map(str::to_owned));
            call = true;
        }
        let managed = get_bool(desired, "manage_master_user_password", false);
        let password = get_str(desired, "password_wo");
        if get_bool(prior, "manage_master_user_password", false) != managed {
            req = req.manage_master_user_password(managed);
            if !managed {
                // RDS needs a password when it stops managing one.
                req = req.set_master_user_password(password.map(str::to_owned));
            }
            call = true;
        } else if !managed && password.is_some() && differs("password_wo_version") {
            req = req.set_master_user_password(password.map(str::to_owned));
            call = true;
        }
        if call {
            retry_within(
                cx,
                "ModifyDBInstance",
                PROPAGATION,
                |e| matches!(e.code.as_deref(), Some("InvalidDBInstanceState" | "InvalidDBInstanceStateFault")),
                || {
                    let req = req.clone();
                    async move { req.send().await.map_err(aws_err) }
                },
            )
            .await?;
        }
        sync_tags(cx, req_str(prior, "arn")?, prior, desired).await?;
        // Wait after a modify, and for an instance the last apply left unsettled.
        let last = if call || !self.settled(prior) {
            self.wait(cx, desired, &id, "update", Goal::Available { settled: immediately }).await?
        } else {
            wait::describe(cx, &id).await?
        };
        let db =
            last.ok_or_else(|| ProviderError::with_code("DBInstanceNotFound", format!("DB instance {id} is gone")))?;
        Ok(result_attrs(desired, Some(&db), &id))
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let id = get_id(prior)?.to_owned();
        let skip = get_bool(prior, "skip_final_snapshot", false);
        let snapshot = get_str(prior, "final_snapshot_identifier").filter(|_| !skip);
        if !skip && snapshot.is_none() {
            return Err(ProviderError::with_code(
                "InvalidParameterCombination",
                format!(
                    "DB instance {id}: final_snapshot_identifier is required when skip_final_snapshot is false; set one \
                     (or skip_final_snapshot = true) and apply before destroying"
                ),
            ));
        }
        let r = client(cx)
            .delete_db_instance()
            .db_instance_identifier(&id)
            .skip_final_snapshot(skip)
            .set_final_db_snapshot_identifier(snapshot.map(str::to_owned))
            .delete_automated_backups(get_bool(prior, "delete_automated_backups", true))
            .send()
            .await
            .map_err(aws_err);
        match r {
            Ok(_) => {}
            Err(e) if is_gone(&e) => return Ok(()),
            // Already being deleted (an interrupted destroy): wait for it below.
            Err(e) if e.message.contains("already being deleted") => {}
            Err(e) if e.message.contains("deletion protection") => {
                return Err(ProviderError::with_code(
                    e.code.clone().unwrap_or_default(),
                    format!("{}; set `deletion_protection = false`, apply, then destroy", e.message),
                ))
            }
            Err(e) => return Err(e),
        }
        self.wait(cx, prior, &id, "delete", Goal::Gone).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(j: serde_json::Value) -> Attrs {
        crate::value::attrs_from_json(&serde_json::from_value(j).unwrap())
    }

    fn base() -> serde_json::Value {
        json!({"identifier": "api-db", "engine": "postgres", "instance_class": "db.t4g.micro", "username": "app",
               "skip_final_snapshot": true})
    }

    #[test]
    fn replacement_and_defaults_as_terraform() {
        for n in [
            "identifier",
            "identifier_prefix",
            "engine",
            "db_name",
            "username",
            "storage_encrypted",
            "kms_key_id",
            "availability_zone",
        ] {
            assert!(SCHEMA.attribute(n).unwrap().forces_replacement, "{n}");
        }
        for n in [
            "engine_version",
            "instance_class",
            "db_subnet_group_name",
            "parameter_group_name",
            "port",
            "backup_retention_period",
            "tags",
        ] {
            assert!(!SCHEMA.attribute(n).unwrap().forces_replacement, "{n}");
        }
        let n = SCHEMA.normalize(&attrs(base()));
        for (k, v) in [
            ("storage_encrypted", true),
            ("publicly_accessible", false),
            ("skip_final_snapshot", true),
            ("delete_automated_backups", true),
            ("apply_immediately", false),
            ("manage_master_user_password", false),
        ] {
            assert_eq!(n[k], Value::Bool(v), "{k}");
        }
        assert!(SCHEMA.attribute("password_wo").unwrap().write_only);
        assert!(SCHEMA.attribute("password_wo").unwrap().sensitive);
    }

    #[test]
    fn validate_final_snapshot_passwords_and_names() {
        assert!(check(&attrs(base())).is_ok());
        let mut c = base();
        c["skip_final_snapshot"] = json!(false);
        let e = check(&attrs(c.clone())).unwrap_err();
        assert!(e.contains("final_snapshot_identifier is required") && e.contains("skip_final_snapshot = true"), "{e}");
        c["final_snapshot_identifier"] = json!("api-db-final");
        assert!(check(&attrs(c.clone())).is_ok());
        c["final_snapshot_identifier"] = json!("api--final");
        assert!(check(&attrs(c)).unwrap_err().contains("final_snapshot_identifier `api--final`"));
        let mut c = base();
        c["manage_master_user_password"] = json!(true);
        c["password_wo"] = json!("hunter2hunter2");
        let e = check(&attrs(c)).unwrap_err();
        assert!(e.contains("exclude each other") && !e.contains("hunter2"), "{e}");
        let mut c = base();
        c["password_wo_version"] = json!(1);
        assert!(check(&attrs(c)).unwrap_err().contains("needs password_wo"));
        for bad in ["1db", "db-", "a--b", "API", &"a".repeat(64)] {
            let mut c = base();
            c["identifier"] = json!(bad);
            assert!(check(&attrs(c)).is_err(), "{bad}");
        }
        let mut c = base();
        c["identifier_prefix"] = json!("api-");
        assert!(check(&attrs(c)).unwrap_err().contains("not both"));
        let mut c = base();
        c["timeouts"] = json!([{"create": "soon"}]);
        assert!(check(&attrs(c)).unwrap_err().contains("not a duration"));
    }

    #[test]
    fn engine_version_prefix_or_pending_is_no_drift() {
        let cfg = attrs(json!({"engine_version": "16"}));
        let mut actual = attrs(json!({"engine_version": "16.4", "engine_version_actual": "16.4"}));
        DbInstance.reconcile(&cfg, &mut actual);
        assert_eq!(actual["engine_version"], Value::str("16"));
        assert_eq!(actual["engine_version_actual"], Value::str("16.4"));
        // Not a prefix at a dot boundary: a real difference.
        let cfg1 = attrs(json!({"engine_version": "1"}));
        let mut actual = attrs(json!({"engine_version": "16.4", "engine_version_actual": "16.4"}));
        DbInstance.reconcile(&cfg1, &mut actual);
        assert_eq!(actual["engine_version"], Value::str("16.4"));
        // A pending upgrade to the configured version (read reports the pending one).
        let cfg = attrs(json!({"engine_version": "17.2"}));
        let mut actual = attrs(json!({"engine_version": "17.2", "engine_version_actual": "16.4"}));
        DbInstance.reconcile(&cfg, &mut actual);
        assert_eq!(actual["engine_version"], Value::str("17.2"));
        // A major version configured while an older one runs: drift (an upgrade to plan).
        let cfg = attrs(json!({"engine_version": "17"}));
        let mut actual = attrs(json!({"engine_version": "16.4", "engine_version_actual": "16.4"}));
        DbInstance.reconcile(&cfg, &mut actual);
        assert_eq!(actual["engine_version"], Value::str("16.4"));
    }

    #[test]
    fn deletion_protection_refuses_with_a_hint() {
        let r = DbInstance
            .deletion_refused(&attrs(json!({"id": "api-db", "identifier": "api-db", "deletion_protection": true})))
            .unwrap();
        assert!(
            r.message.contains("api-db has deletion_protection enabled; AWS refuses to delete it"),
            "{}",
            r.message
        );
        assert!(r.hint.contains("deletion_protection = false") && r.hint.contains("destroy"), "{}", r.hint);
        assert_eq!(r.attribute, Some("deletion_protection"));
        assert!(DbInstance.deletion_refused(&attrs(json!({"id": "x", "deletion_protection": false}))).is_none());
    }

    #[test]
    fn settled_means_available_with_nothing_pending_unless_it_waits_for_the_window() {
        let s = |j| DbInstance.settled(&attrs(j));
        assert!(s(json!({"status": "available", "pending_modified_values": {}})));
        assert!(!s(json!({"status": "modifying", "pending_modified_values": {}})));
        assert!(!s(
            json!({"status": "available", "apply_immediately": true, "pending_modified_values": {"backup_retention_period": "14"}})
        ));
        assert!(s(
            json!({"status": "available", "apply_immediately": false, "pending_modified_values": {"backup_retention_period": "14"}})
        ));
        assert!(!s(json!({"status": "failed"})));
    }

    #[test]
    fn read_reports_pending_values_and_the_secret() {
        use aws_sdk_rds::types::{Endpoint, MasterUserSecret, PendingModifiedValues};
        let db = AwsInstance::builder()
            .db_instance_identifier("api-db")
            .engine("postgres")
            .engine_version("16.4")
            .db_instance_status("available")
            .backup_retention_period(7)
            .allocated_storage(20)
            .max_allocated_storage(20)
            .endpoint(Endpoint::builder().address("api-db.x.rds.amazonaws.com").port(5432).build())
            .pending_modified_values(
                PendingModifiedValues::builder().backup_retention_period(14).master_user_password("****").build(),
            )
            .master_user_secret(
                MasterUserSecret::builder()
                    .secret_arn("arn:aws:secretsmanager:r:1:secret:rds!db-1")
                    .secret_status("active")
                    .build(),
            )
            .build();
        let (id, a) = instance_attrs(&db).unwrap();
        assert_eq!(id, "api-db");
        assert_eq!(a["backup_retention_period"], Value::int(14));
        assert_eq!(a["max_allocated_storage"], Value::int(0));
        assert_eq!(a["endpoint"], Value::str("api-db.x.rds.amazonaws.com:5432"));
        assert_eq!(a["port"], Value::int(5432));
        assert_eq!(a["manage_master_user_password"], Value::Bool(true));
        assert_eq!(
            a["master_user_secret"].as_list().unwrap()[0].get("secret_arn"),
            Some(&Value::str("arn:aws:secretsmanager:r:1:secret:rds!db-1"))
        );
        let pending = a["pending_modified_values"].as_map().unwrap();
        assert_eq!(pending.get("backup_retention_period"), Some(&Value::str("14")));
        assert_eq!(pending.get("password"), Some(&Value::str("(changed)")), "never the password");
    }

    #[test]
    fn results_never_hold_the_password() {
        let mut d = base();
        d["password_wo"] = json!("hunter2hunter2");
        d["skip_final_snapshot"] = json!(true);
        let a = result_attrs(&attrs(d), None, "api-db");
        assert!(!a.contains_key("password_wo"));
        assert_eq!(a["skip_final_snapshot"], Value::Bool(true));
    }
}
