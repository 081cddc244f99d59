//! The plan: what an apply will do, and what it was made against.
//!
//! A [`Plan`] lists one [`Change`] per resource instance (no-ops included, so `show` can tell the whole
//! story) with the refreshed `before` and the planned `after` (which may hold unknowns), plus the state
//! lineage/serial, config hash and variable values it was made against. `plan -out FILE` writes exactly
//! this as JSON; `apply FILE` reads it back and refuses it when any of those no longer match — including
//! a plan made against an empty state when a state now exists.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use state::Mode;

use crate::value::{Attrs, Value};

pub const PLAN_FORMAT_VERSION: u32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Read,
    Create,
    Update,
    Replace,
    Delete,
}

impl Action {
    pub fn is_change(self) -> bool {
        !matches!(self, Action::NoOp | Action::Read)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: String,
    pub mode: Mode,
    #[serde(rename = "type")]
    pub type_name: String,
    /// The config block this instance comes from ("vpc.main"); for orphans, derived from the address.
    pub block: String,
    /// The `for_each` key, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub action: Action,
    /// Refreshed prior attributes (user view: `tags` without default and tool tags).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_attrs")]
    pub before: Option<Attrs>,
    /// Planned attributes; unknowns are "(known after apply)".
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_attrs")]
    pub after: Option<Attrs>,
    /// Attributes whose change forces replacement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forces: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_before_destroy: bool,
    /// Why, when it is not obvious from the attributes ("tainted", "no longer in configuration", …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Addresses of the instances this one depends on (from references and depends_on).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    /// Attribute names marked sensitive by the schema (redacted in renders).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<String>,
    /// The tool's own tags the object carries now, when they differ from what they should be (its
    /// `provisioner:address` names another address after `state mv`; workspace or lineage tags missing on
    /// objects made before workspaces): an update re-tags it, so the tags keep naming who owns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retag: Option<BTreeMap<String, String>>,
    /// Set on a change to a *leftover*: an object carrying this stack's, workspace's and lineage's tags that
    /// no state entry holds (left by an interrupted run). The id of that object; `before` holds what was
    /// read. With `Update` (or `Replace`) it is adopted into the state at this address; with `Delete` it is
    /// a duplicate (or its address is gone from the configuration) and apply deletes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leftover: Option<String>,
    /// The `lifecycle.prevent_destroy` flag apply records in state for this instance, when it differs
    /// from what state remembers (a protected create, or the configuration turning it on or off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prevent_destroy: Option<bool>,
}

impl Change {
    /// A leftover adopted at this address (rather than deleted).
    pub fn adopts(&self) -> bool {
        self.leftover.is_some() && self.action != Action::Delete
    }
}

impl OutputChange {
    /// True when applying changes this output (an unknown value always may).
    pub fn is_change(&self) -> bool {
        match self.after.to_json() {
            Some(after) => self.before.as_ref() != Some(&after) && !(self.before.is_none() && after.is_null()),
            None => true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    #[serde(with = "value_json")]
    pub after: Value,
    #[serde(default)]
    pub sensitive: bool,
}

/// A difference between state and reality found by refresh.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub address: String,
    /// None: the object was deleted outside the tool. Otherwise the attributes that changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<Vec<DriftAttr>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftAttr {
    pub name: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

/// An object tagged with this stack and workspace that the state does not track and the plan leaves alone:
/// made before objects carried a lineage (adopt it with `import`), or owned by another state of the same
/// stack and workspace name (`lineage` set: a second clone of the repository, a deleted state file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Untracked {
    #[serde(rename = "type")]
    pub type_name: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The `provisioner:lineage` tag, when it names a state other than this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<String>,
}

/// An object `state rm` let go of while AWS could not be reached: apply removes the tool's tags from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    #[serde(rename = "type")]
    pub type_name: String,
    pub id: String,
    pub address: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub stack: String,
    /// The workspace the plan was made in; a saved plan applies only there.
    #[serde(default = "default_workspace")]
    pub workspace: String,
    /// The lineage of the state the plan was made against, or the one apply will create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<uuid::Uuid>,
    #[serde(default)]
    pub destroy: bool,
    /// `(lineage, serial)` of the state the plan was made against; None = there was no state.
    pub state: Option<(uuid::Uuid, u64)>,
    pub config_hash: String,
    pub variables: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    pub changes: Vec<Change>,
    pub outputs: BTreeMap<String, OutputChange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<Drift>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub untracked: Vec<Untracked>,
    /// Objects `state rm` released whose tool tags apply removes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub release: Vec<Release>,
}

fn default_workspace() -> String {
    crate::aws::DEFAULT_WORKSPACE.to_owned()
}

/// Counts by kind, as in "Plan: 1 to add, 2 to change, 0 to destroy."
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    /// Leftovers adopted (also counted in `change`, or in `add`/`destroy` when replaced).
    #[serde(skip_serializing_if = "is_zero")]
    pub adopt: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => {
                    s.add += 1;
                    s.destroy += 1
                }
                Action::Delete => s.destroy += 1,
                Action::NoOp | Action::Read => {}
            }
            if c.adopts() {
                s.adopt += 1;
            }
        }
        s
    }

    /// True when applying would change resources or outputs.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action.is_change() || c.prevent_destroy.is_some())
            || !self.release.is_empty()
            || self.outputs.values().any(OutputChange::is_change)
    }

    /// The plan as JSON (`plan -out FILE`, `show --json FILE`). The planned values of sensitive
    /// attributes of changed instances are written as unknown: apply re-evaluates every changed instance
    /// before its call, so a plan file needs no secret.
    pub fn to_json(&self) -> String {
        let mut plan = self.clone();
        for c in
            plan.changes.iter_mut().filter(|c| matches!(c.action, Action::Create | Action::Update | Action::Replace))
        {
            if let Some(after) = c.after.as_mut() {
                for name in &c.sensitive {
                    if let Some(v) = after.get_mut(name).filter(|v| !matches!(v, Value::Null)) {
                        *v = Value::Unknown;
                    }
                }
            }
        }
        for o in plan.outputs.values_mut().filter(|o| o.sensitive) {
            if !matches!(o.after, Value::Null) {
                o.after = Value::Unknown;
            }
        }
        serde_json::to_string_pretty(&plan).expect("plans serialise") + "\n"
    }

    pub fn from_json(text: &str) -> Result<Plan, String> {
        let plan: Plan = serde_json::from_str(text).map_err(|e| format!("not a plan file: {e}"))?;
        if plan.format_version != PLAN_FORMAT_VERSION {
            return Err(format!(
                "plan format version {} is not supported (expected {PLAN_FORMAT_VERSION})",
                plan.format_version
            ));
        }
        Ok(plan)
    }
}

/// JSON encoding of values that may be unknown: `{"$unknown": true}` marks an unknown.
pub mod value_json {
    use super::*;
    use serde::{Deserializer, Serializer};

    const UNKNOWN: &str = "$unknown";

    pub fn encode(v: &Value) -> serde_json::Value {
        match v {
            Value::Unknown => serde_json::json!({ UNKNOWN: true }),
            Value::List(items) => serde_json::Value::Array(items.iter().map(encode).collect()),
            Value::Map(m) => serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), encode(v))).collect()),
            other => other.to_json().unwrap_or(serde_json::Value::Null),
        }
    }

    pub fn decode(j: &serde_json::Value) -> Value {
        match j {
            serde_json::Value::Object(m) if m.len() == 1 && m.get(UNKNOWN) == Some(&serde_json::Value::Bool(true)) => {
                Value::Unknown
            }
            serde_json::Value::Array(items) => Value::List(items.iter().map(decode).collect()),
            serde_json::Value::Object(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), decode(v))).collect()),
            other => Value::from_json(other),
        }
    }

    pub fn serialize<S: Serializer>(v: &Value, s: S) -> Result<S::Ok, S::Error> {
        encode(v).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        Ok(decode(&serde_json::Value::deserialize(d)?))
    }
}

mod opt_attrs {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Attrs>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_none(),
            Some(a) => {
                let m: serde_json::Map<String, serde_json::Value> =
                    a.iter().map(|(k, v)| (k.clone(), value_json::encode(v))).collect();
                m.serialize(s)
            }
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Attrs>, D::Error> {
        let m: Option<serde_json::Map<String, serde_json::Value>> = Option::deserialize(d)?;
        Ok(m.map(|m| m.iter().map(|(k, v)| (k.clone(), value_json::decode(v))).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_round_trips_with_unknowns() {
        let mut after = Attrs::new();
        after.insert("id".into(), Value::Unknown);
        after.insert("cidr_block".into(), Value::str("10.0.0.0/16"));
        after.insert("list".into(), Value::List(vec![Value::Unknown, Value::int(1)]));
        let plan = Plan {
            format_version: PLAN_FORMAT_VERSION,
            stack: "s".into(),
            workspace: "default".into(),
            lineage: None,
            destroy: false,
            state: None,
            config_hash: "h".into(),
            variables: BTreeMap::new(),
            targets: vec![],
            changes: vec![Change {
                address: "vpc.main".into(),
                mode: Mode::Managed,
                type_name: "vpc".into(),
                block: "vpc.main".into(),
                key: None,
                action: Action::Create,
                before: None,
                after: Some(after),
                forces: vec![],
                create_before_destroy: false,
                reason: None,
                dependencies: vec![],
                sensitive: vec![],
                retag: None,
                leftover: None,
                prevent_destroy: None,
            }],
            outputs: BTreeMap::new(),
            drift: vec![],
            untracked: vec![],
            release: vec![],
        };
        let back = Plan::from_json(&plan.to_json()).unwrap();
        assert_eq!(back, plan);
        assert_eq!(back.summary(), Summary { add: 1, change: 0, destroy: 0, adopt: 0 });
    }
}
