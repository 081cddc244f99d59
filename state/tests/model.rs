use serde_json::json;
use state::{Mode, OutputRecord, ReleasedRecord, ResourceRecord, Snapshot, StateError, FORMAT_VERSION};

fn rec(addr: &str, deps: &[&str]) -> ResourceRecord {
    let mut r = ResourceRecord::new(addr, "vpc", format!("id-{addr}"));
    r.attributes.insert("cidr".into(), json!("10.0.0.0/16"));
    r.attributes.insert("tags".into(), json!({"z": 1, "a": {"y": [ {"q": 1, "b": 2} ], "c": null}}));
    r.dependencies = deps.iter().map(|s| s.to_string()).collect();
    r
}

#[test]
fn round_trip() {
    let mut s = Snapshot::new(Some("prod".into()));
    s.upsert(rec("vpc.main", &["x", "a", "x"]));
    s.upsert(rec("data.availability_zones.all", &[]));
    let mut t = rec("subnet.public[\"a\"]", &[]);
    t.tainted = true;
    s.upsert(t);
    s.outputs.insert("vpc_id".into(), OutputRecord { value: json!("vpc-1"), sensitive: true });
    let text = s.to_pretty_json();
    assert!(text.ends_with("}\n"));
    assert!(text.contains("\n  \"version\": 1,"));
    let back = Snapshot::from_json(&text, "mem").unwrap();
    let mut norm = s.clone();
    norm.normalize();
    assert_eq!(back, norm);
    assert_eq!(back.to_pretty_json(), text);
    assert_eq!(back.resource("data.availability_zones.all").unwrap().mode, Mode::Data);
    assert_eq!(back.resource("vpc.main").unwrap().dependencies, vec!["a", "x"]);
    // data sources sort after managed resources
    assert_eq!(back.resources.last().unwrap().address, "data.availability_zones.all");
    // optional fields are omitted
    assert!(!text.contains("\"tainted\": false"));
}

#[test]
fn stable_ordering_of_shuffled_input() {
    let mut a = Snapshot::new(None);
    let mut b = a.clone();
    for addr in ["c.x", "a.y", "data.t.u", "b.z"] {
        a.upsert(rec(addr, &["d", "b", "c", "b"]));
    }
    for addr in ["data.t.u", "b.z", "c.x", "a.y"] {
        let mut r = rec(addr, &["c", "b", "d"]);
        // same attributes inserted in a different order / nested keys in another order
        r.attributes.clear();
        r.attributes.insert("tags".into(), json!({"a": {"c": null, "y": [ {"b": 2, "q": 1} ]}, "z": 1}));
        r.attributes.insert("cidr".into(), json!("10.0.0.0/16"));
        b.upsert(r);
    }
    assert_eq!(a.to_pretty_json(), b.to_pretty_json());
    a.normalize();
    b.normalize();
    assert_eq!(a, b);
    let order: Vec<_> = a.resources.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(order, ["a.y", "b.z", "c.x", "data.t.u"]);
}

#[test]
fn upsert_replaces_and_remove() {
    let mut s = Snapshot::new(None);
    s.upsert(rec("a.b", &[]));
    let mut r2 = rec("a.b", &[]);
    r2.id = "new".into();
    s.upsert(r2);
    assert_eq!(s.resources.len(), 1);
    assert_eq!(s.resource("a.b").unwrap().id, "new");
    assert_eq!(s.remove("a.b").unwrap().id, "new");
    assert!(s.remove("a.b").is_none());
    assert!(s.resource("a.b").is_none());
}

#[test]
fn next_bumps_serial_only() {
    let s = Snapshot::new(None);
    let n = s.next();
    assert_eq!(n.serial, s.serial + 1);
    assert_eq!(n.lineage, s.lineage);
    assert_eq!(n.key(), (s.lineage, 1));
}

#[test]
fn corrupt_json_reports_line_and_column() {
    let text = "{\n  \"version\": 1,\n  \"lineage\": oops\n}\n";
    match Snapshot::from_json(text, "x.json") {
        Err(StateError::Corrupt { path, line, column, .. }) => {
            assert_eq!(path, "x.json");
            assert_eq!(line, 3);
            assert!(column > 0);
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // empty file is corrupt, not empty state
    assert!(matches!(Snapshot::from_json("", "x"), Err(StateError::Corrupt { .. })));
}

#[test]
fn unknown_version_rejected() {
    let text = format!("{{\"version\": {}, \"lineage\": \"not even a uuid\", \"whatever\": []}}", FORMAT_VERSION + 1);
    let err = Snapshot::from_json(&text, "x").unwrap_err();
    assert!(matches!(err, StateError::UnsupportedVersion(2)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("version 2") && msg.contains("version 1"), "{msg}");
    assert!(err.hint().unwrap().contains("upgrade"));
}

#[test]
fn released_records_are_deduplicated_sorted_and_optional() {
    let mut s = Snapshot::new(None);
    // absent when empty, and an old state without the field parses
    let text = s.to_pretty_json();
    assert!(!text.contains("released"), "{text}");
    assert!(Snapshot::from_json(&text, "mem").unwrap().released.is_empty());

    let r = |t: &str, id: &str, addr: &str| ReleasedRecord { type_name: t.into(), id: id.into(), address: addr.into() };
    s.release(r("vpc", "vpc-2", "vpc.b"));
    s.release(r("subnet", "subnet-1", "subnet.a"));
    s.release(r("vpc", "vpc-1", "vpc.a"));
    s.release(r("vpc", "vpc-2", "vpc.moved")); // same object again: replaced, not duplicated
    assert_eq!(s.released.len(), 3);
    assert!(s.is_released("vpc", "vpc-2"));
    assert!(!s.is_released("subnet", "vpc-2"));
    assert!(!s.is_released("vpc", "vpc-3"));

    let text = s.to_pretty_json();
    assert_eq!(FORMAT_VERSION, 1);
    let back = Snapshot::from_json(&text, "mem").unwrap();
    let order: Vec<_> =
        back.released.iter().map(|r| (r.type_name.as_str(), r.id.as_str(), r.address.as_str())).collect();
    assert_eq!(order, [("subnet", "subnet-1", "subnet.a"), ("vpc", "vpc-1", "vpc.a"), ("vpc", "vpc-2", "vpc.moved")]);
    assert_eq!(back.to_pretty_json(), text);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["released"][0], json!({"type": "subnet", "id": "subnet-1", "address": "subnet.a"}));

    // duplicates pushed directly are removed by normalize
    s.released.push(r("subnet", "subnet-1", "subnet.a"));
    s.normalize();
    assert_eq!(s.released.len(), 3);
}

#[test]
fn create_attempts_reuse_an_open_generation_and_advance_after_it_closes() {
    let mut s = Snapshot::new(None);
    assert_eq!(s.begin_create("ecs_service.app"), 1);
    // A run that died before recording the object: the retry reuses the generation (and the token).
    assert_eq!(s.begin_create("ecs_service.app"), 1);
    s.end_create("ecs_service.app");
    assert_eq!(s.begin_create("ecs_service.app"), 2, "a new object at the address gets a new generation");
    assert_eq!(s.begin_create("ecs_service.other"), 1, "generations are per address");
    let text = s.to_pretty_json();
    let back = Snapshot::from_json(&text, "test").unwrap();
    assert_eq!(back.create_attempts, s.create_attempts, "attempts survive a save");
    assert!(!Snapshot::new(None).to_pretty_json().contains("create_attempts"), "omitted when empty");
}
