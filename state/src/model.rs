//! The state data model: a versioned [`Snapshot`] of resource records, outputs and
//! released objects (forgotten by `state rm`, tool tags still to strip), with stable
//! (normalized) JSON serialization. Attributes are opaque JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{StateError, StateKey};

/// Newest state format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// One complete version of the state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Format version (see [`FORMAT_VERSION`]).
    pub version: u32,
    /// Identity of this state, fixed at creation.
    pub lineage: uuid::Uuid,
    /// Incremented by one on every write.
    pub serial: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// Kept sorted by `(mode, address)` on save.
    #[serde(default)]
    pub resources: Vec<ResourceRecord>,
    #[serde(default)]
    pub outputs: BTreeMap<String, OutputRecord>,
    /// Objects no longer tracked whose tool tags still have to be removed (AWS could not
    /// be reached when they were forgotten). Sorted by `(type, id)`, no duplicates;
    /// omitted from the JSON when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub released: Vec<ReleasedRecord>,
    /// Create attempts by address, for idempotency tokens (see [`Snapshot::begin_create`]). Omitted from
    /// the JSON when empty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub create_attempts: BTreeMap<String, CreateAttempt>,
}

/// The latest create attempt at one address: its generation number (1, 2, … over the address's life) and
/// whether it is still open (begun, not yet recorded as created).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateAttempt {
    pub generation: u64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub open: bool,
}

/// An object that state has stopped tracking (`state rm`) but that still carries the
/// tool's tags; the next run strips them and drops the record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ReleasedRecord {
    #[serde(rename = "type")]
    pub type_name: String,
    /// Provider-assigned id.
    pub id: String,
    /// The address it had in state.
    pub address: String,
}

/// Whether a record is a managed resource or a data source read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Managed,
    Data,
}

/// One resource (or data source) instance as recorded in state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceRecord {
    /// e.g. `subnet.public["a"]` or `data.availability_zones.all`.
    pub address: String,
    #[serde(rename = "type")]
    pub type_name: String,
    #[serde(default)]
    pub mode: Mode,
    /// Provider-assigned id.
    pub id: String,
    pub attributes: BTreeMap<String, Value>,
    /// Addresses this record depends on; sorted and deduplicated by [`Snapshot::normalize`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub tainted: bool,
    /// Set when the last apply changed the object but did not see it settle (a deployment that failed,
    /// timed out or was interrupted while being watched): why. The next plan changes it again even when
    /// its attributes match. Unlike `tainted`, it never means replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// `lifecycle.prevent_destroy` as the last apply that configured it set it. Kept when the setting is
    /// later removed from the configuration, so deleting the line (or the whole block) does not make the
    /// object destroyable: only an apply with the setting false, or an explicit override, lifts it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub prevent_destroy: bool,
    /// Attributes shown as `(sensitive value)` by `show` and `state show`: sensitive by their type, or
    /// computed from a sensitive variable when last applied (as Terraform's `sensitive_attributes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_attributes: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A root module output value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputRecord {
    pub value: Value,
    #[serde(default)]
    pub sensitive: bool,
}

impl ResourceRecord {
    /// New record with empty attributes/dependencies. The mode is `Data` when the
    /// address starts with `data.`, `Managed` otherwise.
    pub fn new(address: impl Into<String>, type_name: impl Into<String>, id: impl Into<String>) -> Self {
        let address = address.into();
        let mode = if address.starts_with("data.") { Mode::Data } else { Mode::Managed };
        ResourceRecord {
            address,
            type_name: type_name.into(),
            mode,
            id: id.into(),
            attributes: BTreeMap::new(),
            dependencies: Vec::new(),
            tainted: false,
            incomplete: None,
            prevent_destroy: false,
            sensitive_attributes: Vec::new(),
        }
    }
}

impl Snapshot {
    /// Empty state with a fresh random lineage and serial 0.
    pub fn new(stack: Option<String>) -> Self {
        Snapshot {
            version: FORMAT_VERSION,
            lineage: uuid::Uuid::new_v4(),
            serial: 0,
            stack,
            resources: Vec::new(),
            outputs: BTreeMap::new(),
            released: Vec::new(),
            create_attempts: BTreeMap::new(),
        }
    }

    /// `(lineage, serial)` of this snapshot: pass it as `expected` to the next
    /// [`Backend::save`](crate::Backend::save) after this snapshot was loaded or saved.
    pub fn key(&self) -> StateKey {
        (self.lineage, self.serial)
    }

    /// A copy with `serial + 1` (and the current format version): this is what
    /// callers hand to `Backend::save`. Backends do NOT bump the serial themselves.
    pub fn next(&self) -> Snapshot {
        let mut s = self.clone();
        s.serial += 1;
        s.version = FORMAT_VERSION;
        s
    }

    /// Record at `address`, if any.
    pub fn resource(&self, address: &str) -> Option<&ResourceRecord> {
        self.resources.iter().find(|r| r.address == address)
    }

    /// Mutable record at `address`, if any.
    pub fn resource_mut(&mut self, address: &str) -> Option<&mut ResourceRecord> {
        self.resources.iter_mut().find(|r| r.address == address)
    }

    /// Insert `rec`, replacing any record with the same address.
    pub fn upsert(&mut self, rec: ResourceRecord) {
        match self.resources.iter_mut().find(|r| r.address == rec.address) {
            Some(slot) => *slot = rec,
            None => self.resources.push(rec),
        }
    }

    /// Remove and return the record at `address`.
    pub fn remove(&mut self, address: &str) -> Option<ResourceRecord> {
        let idx = self.resources.iter().position(|r| r.address == address)?;
        Some(self.resources.remove(idx))
    }

    /// Record that the object `(rec.type_name, rec.id)` was released; an existing record
    /// of the same object is replaced (the list holds each object once).
    pub fn release(&mut self, rec: ReleasedRecord) {
        match self.released.iter_mut().find(|r| r.type_name == rec.type_name && r.id == rec.id) {
            Some(slot) => *slot = rec,
            None => self.released.push(rec),
        }
    }

    /// Whether the object `(type_name, id)` is recorded as released.
    pub fn is_released(&self, type_name: &str, id: &str) -> bool {
        self.released.iter().any(|r| r.type_name == type_name && r.id == id)
    }

    /// Begins a create at `address` and returns its generation: the open attempt's again if one is open (a
    /// create begun by a run that died before recording it), else the next number. The caller saves the
    /// snapshot before making the call the generation is for, so a retry after a crash reuses it.
    pub fn begin_create(&mut self, address: &str) -> u64 {
        let a = self.create_attempts.entry(address.to_owned()).or_default();
        if !a.open {
            a.generation += 1;
            a.open = true;
        }
        a.generation
    }

    /// Closes the open create attempt at `address` (the object is recorded): the next create there gets a
    /// new generation.
    pub fn end_create(&mut self, address: &str) {
        if let Some(a) = self.create_attempts.get_mut(address) {
            a.open = false;
        }
    }

    /// Canonical form: resources sorted by `(mode, address)`, dependencies sorted and
    /// deduplicated, released objects sorted by `(type, id)` and deduplicated, and keys of
    /// every JSON object inside attributes/outputs sorted.
    pub fn normalize(&mut self) {
        self.released.sort_by(|a, b| (&a.type_name, &a.id).cmp(&(&b.type_name, &b.id)));
        self.released.dedup_by(|a, b| a.type_name == b.type_name && a.id == b.id);
        self.resources.sort_by(|a, b| (a.mode, &a.address).cmp(&(b.mode, &b.address)));
        for r in &mut self.resources {
            r.dependencies.sort();
            r.dependencies.dedup();
            for v in r.attributes.values_mut() {
                sort_json(v);
            }
        }
        for o in self.outputs.values_mut() {
            sort_json(&mut o.value);
        }
    }

    /// Stable pretty JSON (normalized, 2-space indent, trailing newline).
    pub fn to_pretty_json(&self) -> String {
        let mut s = self.clone();
        s.normalize();
        let mut text = serde_json::to_string_pretty(&s).expect("snapshot serialization cannot fail");
        text.push('\n');
        text
    }

    /// Parse state text. `origin` names the source (a path) for error messages.
    /// Syntax/shape errors become [`StateError::Corrupt`] with line and column;
    /// a version other than 1..=[`FORMAT_VERSION`] becomes [`StateError::UnsupportedVersion`].
    pub fn from_json(text: &str, origin: &str) -> Result<Snapshot, StateError> {
        #[derive(Deserialize)]
        struct Probe {
            version: Option<u32>,
        }
        let corrupt = |e: serde_json::Error| StateError::Corrupt {
            path: origin.to_string(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        };
        // Check the version first: a future format may not match our structure at all.
        let probe: Probe = serde_json::from_str(text).map_err(corrupt)?;
        if let Some(v) = probe.version {
            if v == 0 || v > FORMAT_VERSION {
                return Err(StateError::UnsupportedVersion(v));
            }
        }
        serde_json::from_str(text).map_err(corrupt)
    }
}

/// Recursively sort object keys (serde_json is built with `preserve_order`).
fn sort_json(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.sort_keys();
            for child in map.values_mut() {
                sort_json(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(sort_json),
        _ => {}
    }
}
