//! A task definition's `container_definitions`: parsing, checking, the canonical form both sides of a diff
//! take, and the conversion to and from the SDK's `ContainerDefinition`. Pure: no AWS call.
//!
//! The value is written with the ECS API's own camelCase keys, exactly what a Terraform user passes to
//! `jsonencode()`: a TOML array of tables, or a JSON string holding the same array. Both parse to the same
//! structured list ([`parse`]), which is what plans show. The keys a Fargate web service uses are supported
//! ([`container_type`]); any other key is a validation error naming it, never silently dropped.
//!
//! [`normalize`] is terraform-provider-aws's `containerDefinitionsAreEquivalent` (plus ecspresso's sorting),
//! one function per rule: containers sorted by name; `environment` and `secrets` sorted by name;
//! `portMappings`, `mountPoints` and `volumesFrom` sorted; the defaults AWS fills in removed (`essential =
//! true`, `cpu = 0`, port protocol `tcp`, `hostPort` 0 or — under `awsvpc` — equal to `containerPort`,
//! health-check interval 30, retries 3, timeout 5, start period 0); empty lists and tables, and list
//! members left empty, removed at every depth. So a re-plan right after apply is empty whether or not the
//! configuration spells the defaults out.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_ecs::types::{
    ApplicationProtocol, ContainerCondition, ContainerDefinition, ContainerDependency, HealthCheck, KeyValuePair,
    LinuxParameters, LogConfiguration, LogDriver, MountPoint, PortMapping, Secret, TransportProtocol, Ulimit,
    UlimitName, VolumeFrom,
};

use crate::schema::{Attribute, Type};
use crate::value::Value;

fn name_value() -> Type {
    Type::Object(vec![Attribute::string("name").required(), Attribute::string("value")])
}

fn secret() -> Type {
    Type::Object(vec![Attribute::string("name").required(), Attribute::string("valueFrom").required()])
}

const LOG_DRIVERS: &[&str] =
    &["json-file", "syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "awsfirelens"];

/// One container definition: the keys this provisioner supports, with their types.
pub(crate) fn container_type() -> Type {
    Type::Object(vec![
        Attribute::string("name").required(),
        Attribute::string("image").required(),
        Attribute::number("cpu"),
        Attribute::number("memory"),
        Attribute::number("memoryReservation"),
        Attribute::bool("essential"),
        Attribute::new(
            "portMappings",
            Type::list(Type::Object(vec![
                Attribute::number("containerPort"),
                Attribute::number("hostPort"),
                Attribute::string("protocol").one_of(&["tcp", "udp"]),
                Attribute::string("name"),
                Attribute::string("appProtocol").one_of(&["http", "http2", "grpc"]),
            ])),
        ),
        Attribute::new("environment", Type::list(name_value())),
        Attribute::new("secrets", Type::list(secret())),
        Attribute::new("command", Type::list(Type::String)),
        Attribute::new("entryPoint", Type::list(Type::String)),
        Attribute::string("workingDirectory"),
        Attribute::string("user"),
        Attribute::bool("readonlyRootFilesystem"),
        Attribute::new(
            "healthCheck",
            Type::Object(vec![
                Attribute::new("command", Type::list(Type::String)).required(),
                Attribute::number("interval"),
                Attribute::number("timeout"),
                Attribute::number("retries"),
                Attribute::number("startPeriod"),
            ]),
        ),
        Attribute::new(
            "logConfiguration",
            Type::Object(vec![
                Attribute::string("logDriver").required().one_of(LOG_DRIVERS),
                Attribute::new("options", Type::map(Type::String)),
                Attribute::new("secretOptions", Type::list(secret())),
            ]),
        ),
        Attribute::new(
            "dependsOn",
            Type::list(Type::Object(vec![
                Attribute::string("containerName").required(),
                Attribute::string("condition").required().one_of(&["START", "COMPLETE", "SUCCESS", "HEALTHY"]),
            ])),
        ),
        Attribute::number("startTimeout"),
        Attribute::number("stopTimeout"),
        Attribute::new(
            "ulimits",
            Type::list(Type::Object(vec![
                Attribute::string("name").required(),
                Attribute::number("softLimit").required(),
                Attribute::number("hardLimit").required(),
            ])),
        ),
        Attribute::new("linuxParameters", Type::Object(vec![Attribute::bool("initProcessEnabled")])),
        Attribute::new(
            "mountPoints",
            Type::list(Type::Object(vec![
                Attribute::string("sourceVolume"),
                Attribute::string("containerPath"),
                Attribute::bool("readOnly"),
            ])),
        ),
        Attribute::new(
            "volumesFrom",
            Type::list(Type::Object(vec![Attribute::string("sourceContainer"), Attribute::bool("readOnly")])),
        ),
        Attribute::new("dockerLabels", Type::map(Type::String)),
    ])
}

/// The configured value as a list of container tables: a TOML array of tables as it is, a JSON string
/// parsed. Unknown stays unknown. Types are converted as the schema converts them (`"80"` → `80`).
pub(crate) fn parse(v: &Value) -> Result<Value, String> {
    let list = match v {
        Value::Unknown => return Ok(Value::Unknown),
        Value::String(s) => {
            let j: serde_json::Value = serde_json::from_str(s).map_err(|e| {
                format!("container_definitions: not valid JSON ({e}); write an array of tables, or jsonencode() output")
            })?;
            Value::from_json(&j)
        }
        other => other.clone(),
    };
    match Type::list(container_type()).check(&list) {
        Ok(v @ Value::List(_)) => Ok(v),
        Ok(_) => Err("container_definitions: expected an array of container tables".to_owned()),
        Err(m) => {
            let index =
                m.path.strip_prefix('[').and_then(|p| p.split(']').next()).and_then(|i| i.parse::<usize>().ok());
            let container = index
                .and_then(|i| list.as_list()?.get(i)?.get("name")?.as_str().map(|n| format!(" (container `{n}`)")))
                .unwrap_or_default();
            let message = match m.message.strip_prefix("unknown attribute ") {
                Some(key) => format!("unsupported container definition key {key}"),
                None => m.message,
            };
            let hint = m
                .hint
                .map(|h| format!("; {}", h.replace("this table takes:", "supported keys here:")))
                .unwrap_or_default();
            Err(format!("container_definitions{}{container}: {message}{hint}", m.path))
        }
    }
}

/// The containers of a parsed value; `None` when the list itself is unknown.
fn containers(v: &Value) -> Option<&[Value]> {
    v.as_list()
}

/// The rules the types cannot express: at least one container, container names unique, `dependsOn` naming
/// a container of this task definition. Names not known yet pass.
pub(crate) fn check(v: &Value) -> Result<(), String> {
    let parsed = parse(v)?;
    let Some(list) = containers(&parsed) else { return Ok(()) };
    if list.is_empty() {
        return Err("container_definitions: a task definition needs at least one container".to_owned());
    }
    let names: Vec<&str> = list.iter().filter_map(|c| c.get("name")?.as_str()).collect();
    let mut seen = BTreeSet::new();
    for n in &names {
        if !seen.insert(*n) {
            return Err(format!(
                "container_definitions: two containers are named `{n}`; container names must be unique within a task definition"
            ));
        }
    }
    for c in list {
        for d in c.get("dependsOn").and_then(Value::as_list).unwrap_or_default() {
            if let Some(target) = d.get("containerName").and_then(Value::as_str) {
                if names.len() == list.len() && !seen.contains(target) {
                    return Err(format!(
                        "container_definitions: dependsOn names container `{target}`, which this task definition does not define (it has: {})",
                        names.join(", ")
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Each container's name and its `containerPort`s, for the load-balancer check of a service; `None` when
/// the definitions (or a name or port) are not known yet or do not parse.
pub(crate) fn container_ports(v: &Value) -> Option<Vec<(String, Vec<i64>)>> {
    let parsed = parse(v).ok()?;
    containers(&parsed)?
        .iter()
        .map(|c| {
            let name = c.get("name")?.as_str()?.to_owned();
            let ports = match c.get("portMappings") {
                None | Some(Value::Null) => Vec::new(),
                Some(pm) => {
                    pm.as_list()?.iter().map(|p| p.get("containerPort")?.as_i64()).collect::<Option<Vec<_>>>()?
                }
            };
            Some((name, ports))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// Normalisation: one function per rule, applied in `normalize`.

type Table = BTreeMap<String, Value>;

/// Removes `key` from `t` when it holds `default`.
fn drop_default(t: &mut Table, key: &str, default: &Value) {
    if t.get(key) == Some(default) {
        t.remove(key);
    }
}

/// Rule: `essential` defaults to true.
fn rule_essential(c: &mut Table) {
    drop_default(c, "essential", &Value::Bool(true));
}

/// Rule: a container `cpu` of 0 is no reservation, as if unset.
fn rule_cpu_zero(c: &mut Table) {
    drop_default(c, "cpu", &Value::int(0));
}

/// Rule: port protocol `tcp` is the default; `hostPort` 0 means unset, and under `awsvpc` the host port is
/// always the container port.
fn rule_port_mappings(c: &mut Table, awsvpc: bool) {
    let Some(Value::List(pms)) = c.get_mut("portMappings") else { return };
    for pm in pms.iter_mut() {
        let Value::Map(pm) = pm else { continue };
        drop_default(pm, "protocol", &Value::str("tcp"));
        drop_default(pm, "hostPort", &Value::int(0));
        if awsvpc && pm.get("hostPort").is_some() && pm.get("hostPort") == pm.get("containerPort") {
            pm.remove("hostPort");
        }
    }
}

/// Rule: health-check defaults (interval 30, retries 3, timeout 5, start period 0).
fn rule_health_check(c: &mut Table) {
    let Some(Value::Map(hc)) = c.get_mut("healthCheck") else { return };
    for (k, d) in [("interval", 30), ("retries", 3), ("timeout", 5), ("startPeriod", 0)] {
        drop_default(hc, k, &Value::int(d));
    }
}

/// Rule: empty lists and tables, nulls, and list members left empty (`{}`) are the same as absent, at
/// every depth.
fn rule_drop_empty(v: &mut Value) {
    match v {
        Value::Map(m) => {
            for item in m.values_mut() {
                rule_drop_empty(item);
            }
            m.retain(|_, item| !is_empty(item));
        }
        Value::List(items) => {
            for item in items.iter_mut() {
                rule_drop_empty(item);
            }
            items.retain(|item| !matches!(item, Value::Map(m) if m.is_empty()) && !item.is_null());
        }
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::List(l) => l.is_empty(),
        Value::Map(m) => m.is_empty(),
        _ => false,
    }
}

/// Rule: `environment` and `secrets` are unordered, keyed by name (AWS returns them in its own order).
fn rule_sort_by_name(c: &mut Table) {
    for key in ["environment", "secrets"] {
        if let Some(Value::List(items)) = c.get_mut(key) {
            sort_by_key(items, |i| i.get("name").and_then(Value::as_str).map(str::to_owned));
        }
    }
}

/// Rule: `portMappings`, `mountPoints` and `volumesFrom` are unordered too (as ecspresso compares them).
fn rule_sort_unordered(c: &mut Table) {
    for key in ["portMappings", "mountPoints", "volumesFrom"] {
        if let Some(Value::List(items)) = c.get_mut(key) {
            sort_by_key(items, |i| i.is_known().then(|| i.canonical()));
        }
    }
}

/// Sorts by `key` when every item has a known key; leaves the order alone otherwise.
fn sort_by_key(items: &mut [Value], key: impl Fn(&Value) -> Option<String>) {
    let keys: Option<Vec<String>> = items.iter().map(&key).collect();
    if keys.is_some() {
        items.sort_by_cached_key(|i| key(i).unwrap_or_default());
    }
}

/// The canonical form of `container_definitions` (see the module doc); `awsvpc`: the task definition's
/// network mode is `awsvpc`. A value that does not parse is returned as it is (validation reports it).
pub(crate) fn normalize(v: &Value, awsvpc: bool) -> Value {
    let Ok(mut parsed) = parse(v) else { return v.clone() };
    let Value::List(list) = &mut parsed else { return parsed };
    for c in list.iter_mut() {
        let Value::Map(t) = c else { continue };
        rule_essential(t);
        rule_cpu_zero(t);
        rule_port_mappings(t, awsvpc);
        rule_health_check(t);
    }
    rule_drop_empty(&mut parsed);
    let Value::List(list) = &mut parsed else { return parsed };
    for c in list.iter_mut() {
        if let Value::Map(t) = c {
            rule_sort_by_name(t);
            rule_sort_unordered(t);
        }
    }
    sort_by_key(list, |c| c.get("name").and_then(Value::as_str).map(str::to_owned));
    parsed
}

// ---------------------------------------------------------------------------------------------------------
// Conversion to and from the SDK's types.

fn s(t: &Table, k: &str) -> Option<String> {
    t.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn n(t: &Table, k: &str) -> Option<i32> {
    t.get(k).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok())
}

fn b(t: &Table, k: &str) -> Option<bool> {
    t.get(k).and_then(Value::as_bool)
}

fn strs(t: &Table, k: &str) -> Option<Vec<String>> {
    t.get(k).and_then(Value::as_str_list)
}

fn tables<'a>(t: &'a Table, k: &str) -> Vec<&'a Table> {
    t.get(k).and_then(Value::as_list).unwrap_or_default().iter().filter_map(Value::as_map).collect()
}

fn str_map(t: &Table, k: &str) -> Option<HashMap<String, String>> {
    t.get(k)
        .and_then(Value::as_map)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
}

fn secrets(t: &Table, k: &str) -> Result<Option<Vec<Secret>>, String> {
    if t.get(k).is_none() {
        return Ok(None);
    }
    tables(t, k)
        .into_iter()
        .map(|x| {
            Secret::builder()
                .set_name(s(x, "name"))
                .set_value_from(s(x, "valueFrom"))
                .build()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The keys [`to_sdk`] converts; anything else in a container is refused (the type check already refuses
/// keys it does not know, this guards the two lists against drifting apart).
const CONVERTED: &[&str] = &[
    "name",
    "image",
    "cpu",
    "memory",
    "memoryReservation",
    "essential",
    "portMappings",
    "environment",
    "secrets",
    "command",
    "entryPoint",
    "workingDirectory",
    "user",
    "readonlyRootFilesystem",
    "healthCheck",
    "logConfiguration",
    "dependsOn",
    "startTimeout",
    "stopTimeout",
    "ulimits",
    "linuxParameters",
    "mountPoints",
    "volumesFrom",
    "dockerLabels",
];

/// The SDK's container definitions for a (known) configured value.
pub(crate) fn to_sdk(v: &Value) -> Result<Vec<ContainerDefinition>, String> {
    let parsed = parse(v)?;
    let list = containers(&parsed).ok_or("container_definitions are not known")?;
    list.iter()
        .map(|c| {
            c.as_map().ok_or_else(|| "a container definition must be a table".to_owned()).and_then(container_to_sdk)
        })
        .collect()
}

fn container_to_sdk(c: &Table) -> Result<ContainerDefinition, String> {
    if let Some(k) = c.keys().find(|k| !CONVERTED.contains(&k.as_str())) {
        return Err(format!("container_definitions: unsupported container definition key `{k}`"));
    }
    let port_mappings = c.get("portMappings").map(|_| {
        tables(c, "portMappings")
            .into_iter()
            .map(|p| {
                PortMapping::builder()
                    .set_container_port(n(p, "containerPort"))
                    .set_host_port(n(p, "hostPort"))
                    .set_protocol(s(p, "protocol").map(|x| TransportProtocol::from(x.as_str())))
                    .set_name(s(p, "name"))
                    .set_app_protocol(s(p, "appProtocol").map(|x| ApplicationProtocol::from(x.as_str())))
                    .build()
            })
            .collect()
    });
    let environment = c.get("environment").map(|_| {
        tables(c, "environment")
            .into_iter()
            .map(|e| KeyValuePair::builder().set_name(s(e, "name")).set_value(s(e, "value")).build())
            .collect()
    });
    let health_check = match c.get("healthCheck").and_then(Value::as_map) {
        None => None,
        Some(h) => Some(
            HealthCheck::builder()
                .set_command(strs(h, "command"))
                .set_interval(n(h, "interval"))
                .set_timeout(n(h, "timeout"))
                .set_retries(n(h, "retries"))
                .set_start_period(n(h, "startPeriod"))
                .build()
                .map_err(|e| format!("healthCheck: {e}"))?,
        ),
    };
    let log_configuration = match c.get("logConfiguration").and_then(Value::as_map) {
        None => None,
        Some(l) => Some(
            LogConfiguration::builder()
                .set_log_driver(s(l, "logDriver").map(|x| LogDriver::from(x.as_str())))
                .set_options(str_map(l, "options"))
                .set_secret_options(secrets(l, "secretOptions")?)
                .build()
                .map_err(|e| format!("logConfiguration: {e}"))?,
        ),
    };
    let depends_on = match c.get("dependsOn") {
        None => None,
        Some(_) => Some(
            tables(c, "dependsOn")
                .into_iter()
                .map(|d| {
                    ContainerDependency::builder()
                        .set_container_name(s(d, "containerName"))
                        .set_condition(s(d, "condition").map(|x| ContainerCondition::from(x.as_str())))
                        .build()
                        .map_err(|e| format!("dependsOn: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let ulimits = match c.get("ulimits") {
        None => None,
        Some(_) => Some(
            tables(c, "ulimits")
                .into_iter()
                .map(|u| {
                    Ulimit::builder()
                        .set_name(s(u, "name").map(|x| UlimitName::from(x.as_str())))
                        .set_soft_limit(n(u, "softLimit"))
                        .set_hard_limit(n(u, "hardLimit"))
                        .build()
                        .map_err(|e| format!("ulimits: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let linux_parameters = c
        .get("linuxParameters")
        .and_then(Value::as_map)
        .map(|l| LinuxParameters::builder().set_init_process_enabled(b(l, "initProcessEnabled")).build());
    let mount_points = c.get("mountPoints").map(|_| {
        tables(c, "mountPoints")
            .into_iter()
            .map(|m| {
                MountPoint::builder()
                    .set_source_volume(s(m, "sourceVolume"))
                    .set_container_path(s(m, "containerPath"))
                    .set_read_only(b(m, "readOnly"))
                    .build()
            })
            .collect()
    });
    let volumes_from = c.get("volumesFrom").map(|_| {
        tables(c, "volumesFrom")
            .into_iter()
            .map(|v| {
                VolumeFrom::builder()
                    .set_source_container(s(v, "sourceContainer"))
                    .set_read_only(b(v, "readOnly"))
                    .build()
            })
            .collect()
    });
    Ok(ContainerDefinition::builder()
        .set_name(s(c, "name"))
        .set_image(s(c, "image"))
        .set_cpu(n(c, "cpu"))
        .set_memory(n(c, "memory"))
        .set_memory_reservation(n(c, "memoryReservation"))
        .set_essential(b(c, "essential"))
        .set_port_mappings(port_mappings)
        .set_environment(environment)
        .set_secrets(secrets(c, "secrets")?)
        .set_command(strs(c, "command"))
        .set_entry_point(strs(c, "entryPoint"))
        .set_working_directory(s(c, "workingDirectory"))
        .set_user(s(c, "user"))
        .set_readonly_root_filesystem(b(c, "readonlyRootFilesystem"))
        .set_health_check(health_check)
        .set_log_configuration(log_configuration)
        .set_depends_on(depends_on)
        .set_start_timeout(n(c, "startTimeout"))
        .set_stop_timeout(n(c, "stopTimeout"))
        .set_ulimits(ulimits)
        .set_linux_parameters(linux_parameters)
        .set_mount_points(mount_points)
        .set_volumes_from(volumes_from)
        .set_docker_labels(str_map(c, "dockerLabels"))
        .build())
}

/// A table builder that leaves out what AWS did not report.
#[derive(Default)]
struct Out(Table);

impl Out {
    fn s(mut self, k: &str, v: Option<&str>) -> Self {
        if let Some(v) = v {
            self.0.insert(k.to_owned(), Value::str(v));
        }
        self
    }
    fn n(mut self, k: &str, v: Option<i32>) -> Self {
        if let Some(v) = v {
            self.0.insert(k.to_owned(), Value::int(v.into()));
        }
        self
    }
    fn b(mut self, k: &str, v: Option<bool>) -> Self {
        if let Some(v) = v {
            self.0.insert(k.to_owned(), Value::Bool(v));
        }
        self
    }
    fn v(mut self, k: &str, v: Option<Value>) -> Self {
        if let Some(v) = v {
            self.0.insert(k.to_owned(), v);
        }
        self
    }
    fn strs(self, k: &str, v: &[String]) -> Self {
        self.v(k, Some(Value::string_list(v.iter().cloned())))
    }
    fn list(self, k: &str, v: Vec<Value>) -> Self {
        self.v(k, Some(Value::List(v)))
    }
    fn map(self, k: &str, v: Option<&HashMap<String, String>>) -> Self {
        self.v(k, v.map(|m| Value::Map(m.iter().map(|(k, v)| (k.clone(), Value::str(v))).collect())))
    }
    fn done(self) -> Value {
        Value::Map(self.0)
    }
}

fn secrets_value(v: &[Secret]) -> Vec<Value> {
    v.iter().map(|x| Out::default().s("name", Some(x.name())).s("valueFrom", Some(x.value_from())).done()).collect()
}

/// What AWS reports, as the configuration would write it (camelCase keys; not normalised).
pub(crate) fn from_sdk(defs: &[ContainerDefinition]) -> Value {
    Value::List(defs.iter().map(container_from_sdk).collect())
}

fn container_from_sdk(c: &ContainerDefinition) -> Value {
    let port_mappings = c
        .port_mappings()
        .iter()
        .map(|p| {
            Out::default()
                .n("containerPort", p.container_port())
                .n("hostPort", p.host_port())
                .s("protocol", p.protocol().map(TransportProtocol::as_str))
                .s("name", p.name())
                .s("appProtocol", p.app_protocol().map(ApplicationProtocol::as_str))
                .done()
        })
        .collect();
    let environment =
        c.environment().iter().map(|e| Out::default().s("name", e.name()).s("value", e.value()).done()).collect();
    let health_check = c.health_check().map(|h| {
        Out::default()
            .strs("command", h.command())
            .n("interval", h.interval())
            .n("timeout", h.timeout())
            .n("retries", h.retries())
            .n("startPeriod", h.start_period())
            .done()
    });
    let log_configuration = c.log_configuration().map(|l| {
        Out::default()
            .s("logDriver", Some(l.log_driver().as_str()))
            .map("options", l.options())
            .list("secretOptions", secrets_value(l.secret_options()))
            .done()
    });
    let depends_on = c
        .depends_on()
        .iter()
        .map(|d| {
            Out::default()
                .s("containerName", Some(d.container_name()))
                .s("condition", Some(d.condition().as_str()))
                .done()
        })
        .collect();
    let ulimits = c
        .ulimits()
        .iter()
        .map(|u| {
            Out::default()
                .s("name", Some(u.name().as_str()))
                .n("softLimit", Some(u.soft_limit()))
                .n("hardLimit", Some(u.hard_limit()))
                .done()
        })
        .collect();
    let linux_parameters =
        c.linux_parameters().map(|l| Out::default().b("initProcessEnabled", l.init_process_enabled()).done());
    let mount_points = c
        .mount_points()
        .iter()
        .map(|m| {
            Out::default()
                .s("sourceVolume", m.source_volume())
                .s("containerPath", m.container_path())
                .b("readOnly", m.read_only())
                .done()
        })
        .collect();
    let volumes_from = c
        .volumes_from()
        .iter()
        .map(|v| Out::default().s("sourceContainer", v.source_container()).b("readOnly", v.read_only()).done())
        .collect();
    Out::default()
        .s("name", c.name())
        .s("image", c.image())
        .n("cpu", Some(c.cpu()))
        .n("memory", c.memory())
        .n("memoryReservation", c.memory_reservation())
        .b("essential", c.essential())
        .list("portMappings", port_mappings)
        .list("environment", environment)
        .list("secrets", secrets_value(c.secrets()))
        .strs("command", c.command())
        .strs("entryPoint", c.entry_point())
        .s("workingDirectory", c.working_directory())
        .s("user", c.user())
        .b("readonlyRootFilesystem", c.readonly_root_filesystem())
        .v("healthCheck", health_check)
        .v("logConfiguration", log_configuration)
        .list("dependsOn", depends_on)
        .n("startTimeout", c.start_timeout())
        .n("stopTimeout", c.stop_timeout())
        .list("ulimits", ulimits)
        .v("linuxParameters", linux_parameters)
        .list("mountPoints", mount_points)
        .list("volumesFrom", volumes_from)
        .map("dockerLabels", c.docker_labels())
        .done()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn j(v: serde_json::Value) -> Value {
        Value::from_json(&v)
    }

    fn norm(v: serde_json::Value) -> Value {
        normalize(&j(v), true)
    }

    fn web(extra: serde_json::Value) -> serde_json::Value {
        let mut c = json!({"name": "web", "image": "nginx:1"});
        c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!([c])
    }

    #[test]
    fn a_json_string_and_a_toml_array_parse_the_same() {
        let list = j(json!([{"name": "web", "image": "nginx", "portMappings": [{"containerPort": 80}]}]));
        let text = Value::str(r#"[{"name":"web","image":"nginx","portMappings":[{"containerPort":80}]}]"#);
        assert_eq!(parse(&text).unwrap(), parse(&list).unwrap());
        assert_eq!(normalize(&text, true), normalize(&list, true));
        assert!(parse(&Value::str("[{")).unwrap_err().contains("not valid JSON"));
        assert_eq!(parse(&Value::Unknown).unwrap(), Value::Unknown);
    }

    #[test]
    fn numbers_written_as_strings_convert() {
        assert_eq!(norm(web(json!({"memory": "512"}))), norm(web(json!({"memory": 512}))));
    }

    #[test]
    fn an_unsupported_key_is_an_error_naming_it() {
        let e = parse(&j(web(json!({"privileged": true})))).unwrap_err();
        assert!(e.contains("container_definitions[0].privileged"), "{e}");
        assert!(e.contains("(container `web`)"), "{e}");
        assert!(e.contains("unsupported container definition key `privileged`"), "{e}");
        assert!(e.contains("supported keys here:"), "{e}");
        let e = parse(&j(web(json!({"portMapings": []})))).unwrap_err();
        assert!(e.contains("did you mean `portMappings`"), "{e}");
        let e = parse(&j(web(json!({"portMappings": [{"containerPort": 80, "hostport": 80}]})))).unwrap_err();
        assert!(e.contains("[0].portMappings[0].hostport") && e.contains("did you mean `hostPort`"), "{e}");
    }

    #[test]
    fn names_must_be_unique_and_present() {
        let e = check(&j(json!([{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]))).unwrap_err();
        assert!(e.contains("two containers are named `a`"), "{e}");
        let e = check(&j(json!([{"image": "x"}]))).unwrap_err();
        assert!(e.contains("missing required attribute `name`"), "{e}");
        assert!(check(&j(json!([]))).unwrap_err().contains("at least one container"));
        let e = check(&j(
            json!([{"name": "a", "image": "x", "dependsOn": [{"containerName": "b", "condition": "START"}]}]),
        ));
        assert!(e.unwrap_err().contains("`b`"));
        assert!(check(&j(json!([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]))).is_ok());
    }

    #[test]
    fn rule_containers_are_compared_by_name() {
        let a = json!([{"name": "b", "image": "x"}, {"name": "a", "image": "y"}]);
        let b = json!([{"name": "a", "image": "y"}, {"name": "b", "image": "x"}]);
        assert_eq!(norm(a), norm(b));
    }

    #[test]
    fn rule_environment_and_secrets_are_sorted_by_name() {
        let a = web(json!({"environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
            "secrets": [{"name": "Z", "valueFrom": "arn:z"}, {"name": "Y", "valueFrom": "arn:y"}]}));
        let b = web(json!({"environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "secrets": [{"name": "Y", "valueFrom": "arn:y"}, {"name": "Z", "valueFrom": "arn:z"}]}));
        assert_eq!(norm(a), norm(b));
        // A changed value is a change.
        let c = web(json!({"environment": [{"name": "A", "value": "9"}, {"name": "B", "value": "2"}]}));
        assert_ne!(
            norm(c),
            norm(web(json!({"environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]})))
        );
    }

    #[test]
    fn rule_empty_lists_and_empty_members_are_absent() {
        let with = web(json!({"environment": [], "mountPoints": [], "volumesFrom": [], "portMappings": [{}],
            "secrets": [], "dockerLabels": {}, "logConfiguration": {"logDriver": "awslogs", "options": {}}}));
        let without = web(json!({"logConfiguration": {"logDriver": "awslogs"}}));
        assert_eq!(norm(with), norm(without));
    }

    #[test]
    fn rule_essential_defaults_to_true() {
        assert_eq!(norm(web(json!({"essential": true}))), norm(web(json!({}))));
        assert_ne!(norm(web(json!({"essential": false}))), norm(web(json!({}))));
    }

    #[test]
    fn rule_cpu_zero_is_unset() {
        assert_eq!(norm(web(json!({"cpu": 0}))), norm(web(json!({}))));
        assert_ne!(norm(web(json!({"cpu": 128}))), norm(web(json!({}))));
    }

    #[test]
    fn rule_tcp_is_the_default_protocol() {
        let a = web(json!({"portMappings": [{"containerPort": 80, "protocol": "tcp"}]}));
        let b = web(json!({"portMappings": [{"containerPort": 80}]}));
        assert_eq!(norm(a), norm(b.clone()));
        assert_ne!(norm(web(json!({"portMappings": [{"containerPort": 80, "protocol": "udp"}]}))), norm(b));
    }

    #[test]
    fn rule_host_port_zero_or_equal_under_awsvpc_is_unset() {
        let bare = web(json!({"portMappings": [{"containerPort": 8080}]}));
        let zero = web(json!({"portMappings": [{"containerPort": 8080, "hostPort": 0}]}));
        let same = web(json!({"portMappings": [{"containerPort": 8080, "hostPort": 8080}]}));
        assert_eq!(norm(zero.clone()), norm(bare.clone()));
        assert_eq!(norm(same.clone()), norm(bare.clone()));
        // In bridge mode a host port equal to the container port is a fixed mapping, not a default.
        assert_eq!(normalize(&j(zero), false), normalize(&j(bare.clone()), false));
        assert_ne!(normalize(&j(same), false), normalize(&j(bare), false));
    }

    #[test]
    fn rule_health_check_defaults() {
        let given = web(
            json!({"healthCheck": {"command": ["CMD", "true"], "interval": 30, "retries": 3, "timeout": 5, "startPeriod": 0}}),
        );
        let bare = web(json!({"healthCheck": {"command": ["CMD", "true"]}}));
        assert_eq!(norm(given), norm(bare.clone()));
        assert_ne!(norm(web(json!({"healthCheck": {"command": ["CMD", "true"], "interval": 10}}))), norm(bare));
    }

    #[test]
    fn rule_port_mappings_mount_points_and_volumes_from_are_unordered() {
        let a = web(json!({"portMappings": [{"containerPort": 81}, {"containerPort": 80}],
            "mountPoints": [{"sourceVolume": "b", "containerPath": "/b"}, {"sourceVolume": "a", "containerPath": "/a"}],
            "volumesFrom": [{"sourceContainer": "y"}, {"sourceContainer": "x"}]}));
        let b = web(json!({"portMappings": [{"containerPort": 80}, {"containerPort": 81}],
            "mountPoints": [{"sourceVolume": "a", "containerPath": "/a"}, {"sourceVolume": "b", "containerPath": "/b"}],
            "volumesFrom": [{"sourceContainer": "x"}, {"sourceContainer": "y"}]}));
        assert_eq!(norm(a), norm(b));
    }

    #[test]
    fn what_aws_adds_normalises_to_what_was_written() {
        // What AWS (and the emulator) report for a bare Fargate container, through the SDK (which keeps only
        // the supported keys: `systemControls: []` and the like are not read).
        let written = web(json!({"portMappings": [{"containerPort": 8080}],
            "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]}));
        let sdk = to_sdk(&j(json!([{"name": "web", "image": "nginx:1", "cpu": 0, "essential": true,
            "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
            "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "mountPoints": [], "volumesFrom": []}])))
        .unwrap();
        assert_eq!(normalize(&from_sdk(&sdk), true), norm(written));
    }

    #[test]
    fn unknown_values_are_kept() {
        let v = Value::List(vec![Value::Map(Table::from([
            ("name".to_owned(), Value::str("web")),
            ("image".to_owned(), Value::Unknown),
            ("essential".to_owned(), Value::Bool(true)),
        ]))]);
        let n = normalize(&v, true);
        assert_eq!(n.as_list().unwrap()[0].get("image"), Some(&Value::Unknown));
        assert_eq!(n.as_list().unwrap()[0].get("essential"), None);
    }

    #[test]
    fn the_sdk_round_trip_keeps_every_supported_key() {
        let full = json!([{"name": "web", "image": "nginx:1", "cpu": 128, "memory": 512, "memoryReservation": 256,
            "essential": false, "portMappings": [{"containerPort": 80, "hostPort": 8080, "protocol": "udp", "name": "http", "appProtocol": "http"}],
            "environment": [{"name": "A", "value": "1"}], "secrets": [{"name": "S", "valueFrom": "arn:s"}],
            "command": ["serve"], "entryPoint": ["/bin/app"], "workingDirectory": "/app", "user": "10001",
            "readonlyRootFilesystem": true,
            "healthCheck": {"command": ["CMD", "/bin/app", "healthcheck"], "interval": 10, "timeout": 2, "retries": 5, "startPeriod": 15},
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web"}, "secretOptions": [{"name": "k", "valueFrom": "arn:k"}]},
            "dependsOn": [{"containerName": "web", "condition": "START"}], "startTimeout": 30, "stopTimeout": 20,
            "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
            "linuxParameters": {"initProcessEnabled": true},
            "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": false}],
            "volumesFrom": [{"sourceContainer": "web", "readOnly": true}], "dockerLabels": {"a": "b"}}]);
        let sdk = to_sdk(&j(full.clone())).unwrap();
        assert_eq!(from_sdk(&sdk), parse(&j(full)).unwrap());
    }

    #[test]
    fn container_ports_for_load_balancer_checks() {
        let v =
            j(json!([{"name": "web", "image": "x", "portMappings": [{"containerPort": 80}, {"containerPort": 443}]},
            {"name": "sidecar", "image": "y"}]));
        assert_eq!(container_ports(&v), Some(vec![("web".to_owned(), vec![80, 443]), ("sidecar".to_owned(), vec![])]));
        assert_eq!(container_ports(&Value::Unknown), None);
        let s = Value::str(r#"[{"name":"web","image":"x","portMappings":[{"containerPort":8080}]}]"#);
        assert_eq!(container_ports(&s), Some(vec![("web".to_owned(), vec![8080])]));
    }
}
