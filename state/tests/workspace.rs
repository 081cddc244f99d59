use std::path::PathBuf;

use state::{
    save_next, validate_workspace_name, LocalWorkspaces, LockInfo, ReleasedRecord, ResourceRecord, Snapshot,
    StateError, Workspaces, DEFAULT_WORKSPACE,
};

fn setup() -> (tempfile::TempDir, PathBuf, LocalWorkspaces) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".provisioner/state.json");
    let ws = LocalWorkspaces::new(&path);
    (dir, path, ws)
}

/// Save a state with `resources` in workspace `name`; returns the snapshot written.
async fn save(ws: &LocalWorkspaces, name: &str, resources: &[&str]) -> Snapshot {
    let b = ws.backend(name).unwrap();
    let loaded = b.load().await.unwrap();
    let mut persisted = loaded.as_ref().map(Snapshot::key);
    let mut s = loaded.unwrap_or_else(|| Snapshot::new(Some(name.into())));
    for a in resources {
        s.upsert(ResourceRecord::new(*a, "vpc", format!("id-{a}")));
    }
    save_next(b.as_ref(), &mut s, &mut persisted).await.unwrap();
    s
}

#[test]
fn names_are_validated() {
    for ok in ["default", "staging", "a", "eu_prod-2", "A9", "_x", &"w".repeat(64)] {
        validate_workspace_name(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in ["", "-x", "a b", "../etc", "a/b", ".", "..", "é", "x.y", &"w".repeat(65)] {
        let err = validate_workspace_name(bad).unwrap_err();
        assert!(matches!(&err, StateError::InvalidWorkspaceName(n) if n == bad), "{bad}: {err:?}");
        let msg = err.to_string();
        assert!(msg.contains("letters, digits, '_' or '-'") && msg.contains("64"), "{msg}");
        assert!(err.hint().is_some());
    }
    let (_d, _p, ws) = setup();
    assert!(matches!(ws.backend("../x"), Err(StateError::InvalidWorkspaceName(_))));
}

#[tokio::test]
async fn paths_per_workspace() {
    let (_d, path, ws) = setup();
    assert_eq!(DEFAULT_WORKSPACE, "default");
    assert_eq!(ws.path_for("default"), path);
    assert_eq!(ws.path_for("staging"), path.parent().unwrap().join("staging/state.json"));
    assert!(ws.backend("default").unwrap().describe().contains(".provisioner/state.json"));
    assert!(ws.backend("staging").unwrap().describe().contains(".provisioner/staging/state.json"));
    // a bare file name: workspaces live next to it
    let bare = LocalWorkspaces::new("state.json");
    assert_eq!(bare.path_for("default"), PathBuf::from("state.json"));
    assert_eq!(bare.path_for("prod"), PathBuf::from("./prod/state.json"));
}

#[tokio::test]
async fn workspaces_are_isolated() {
    let (_d, path, ws) = setup();
    // an existing (pre-workspace) state is the default workspace's
    let before = save(&ws, "default", &["vpc.main"]).await;
    assert!(path.exists());
    let default_text = std::fs::read_to_string(&path).unwrap();

    let staging = save(&ws, "staging", &["vpc.other"]).await;
    assert_ne!(staging.lineage, before.lineage);
    assert!(ws.path_for("staging").exists());
    save(&ws, "staging", &["vpc.more"]).await; // makes a backup in staging
    assert!(ws.path_for("staging").with_file_name("state.json.backup").exists());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), default_text);
    assert!(!path.with_file_name("state.json.backup").exists());

    let def = ws.backend("default").unwrap().load().await.unwrap().unwrap();
    assert_eq!(def, before);
    let stg = ws.backend("staging").unwrap().load().await.unwrap().unwrap();
    assert!(stg.resource("vpc.main").is_none());
    assert_eq!(stg.resources.len(), 2);

    // locks are per workspace too
    let d = ws.backend("default").unwrap();
    let s = ws.backend("staging").unwrap();
    let l = LockInfo::new("apply", "");
    d.try_lock(&l).await.unwrap();
    s.try_lock(&LockInfo::new("apply", "")).await.unwrap();
    assert!(matches!(d.try_lock(&LockInfo::new("plan", "")).await, Err(StateError::Locked(_))));
    // a workspace never sees another's state
    assert!(ws.backend("prod").unwrap().load().await.unwrap().is_none());
}

#[tokio::test]
async fn list_shows_workspaces_with_a_state() {
    let (_d, path, ws) = setup();
    assert!(ws.list().await.unwrap().is_empty(), "nothing at all yet");
    save(&ws, "staging", &[]).await;
    assert_eq!(ws.list().await.unwrap(), ["staging"], "default has no state yet");
    save(&ws, "default", &[]).await;
    save(&ws, "a-first", &[]).await;
    save(&ws, "Zed", &[]).await;
    let dir = path.parent().unwrap();
    // not workspaces: an empty directory, one with only a lock, a file, an invalid name,
    // a directory called `default`
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    ws.backend("locked-only").unwrap().try_lock(&LockInfo::new("apply", "")).await.unwrap();
    std::fs::write(dir.join("notes"), "x").unwrap();
    std::fs::create_dir_all(dir.join("has.dot")).unwrap();
    std::fs::write(dir.join("has.dot/state.json"), "{}").unwrap();
    std::fs::create_dir_all(dir.join("default")).unwrap();
    std::fs::write(dir.join("default/state.json"), "{}").unwrap();
    assert_eq!(ws.list().await.unwrap(), ["Zed", "a-first", "default", "staging"]);
}

#[tokio::test]
async fn delete_removes_an_empty_workspace() {
    let (_d, path, ws) = setup();
    save(&ws, "default", &["vpc.main"]).await;
    save(&ws, "staging", &[]).await;
    save(&ws, "staging", &[]).await;
    let stg = ws.path_for("staging");
    assert!(stg.with_file_name("state.json.backup").exists());
    ws.delete("staging").await.unwrap();
    assert!(!stg.parent().unwrap().exists(), "its directory is gone");
    assert_eq!(ws.list().await.unwrap(), ["default"]);
    assert!(path.exists());
    // again: it no longer exists, and nothing is created by asking
    let err = ws.delete("staging").await.unwrap_err();
    assert!(matches!(&err, StateError::NoSuchWorkspace(n) if n == "staging"), "{err:?}");
    assert!(err.to_string().contains("\"staging\""));
    assert!(!stg.parent().unwrap().exists());
    // a directory holding other files is kept
    save(&ws, "keep", &[]).await;
    std::fs::write(ws.path_for("keep").with_file_name("README"), "mine").unwrap();
    ws.delete("keep").await.unwrap();
    assert!(!ws.path_for("keep").exists());
    assert!(ws.path_for("keep").with_file_name("README").exists());
}

#[tokio::test]
async fn delete_refuses_default_non_empty_locked_and_bad_names() {
    let (_d, path, ws) = setup();
    save(&ws, "default", &[]).await;
    let err = ws.delete("default").await.unwrap_err();
    assert!(matches!(err, StateError::DeleteDefaultWorkspace), "{err:?}");
    assert!(err.hint().is_some());
    assert!(path.exists());

    assert!(matches!(ws.delete("../x").await, Err(StateError::InvalidWorkspaceName(_))));

    // non-empty
    save(&ws, "prod", &["vpc.a", "vpc.b"]).await;
    let err = ws.delete("prod").await.unwrap_err();
    match &err {
        StateError::WorkspaceNotEmpty { name, resources, released } => {
            assert_eq!((name.as_str(), *resources, *released), ("prod", 2, 0))
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("2 resources"), "{err}");
    assert!(err.hint().unwrap().contains("destroy"));
    assert!(ws.path_for("prod").exists());
    let b = ws.backend("prod").unwrap();
    assert!(b.lock_info().await.unwrap().is_none(), "delete released its lock");

    // only released objects left whose tags are still to strip: refused too
    let mut s = b.load().await.unwrap().unwrap();
    let mut persisted = Some(s.key());
    s.resources.clear();
    s.release(ReleasedRecord { type_name: "vpc".into(), id: "id-vpc.a".into(), address: "vpc.a".into() });
    save_next(b.as_ref(), &mut s, &mut persisted).await.unwrap();
    let err = ws.delete("prod").await.unwrap_err();
    assert!(matches!(err, StateError::WorkspaceNotEmpty { resources: 0, released: 1, .. }), "{err:?}");
    assert!(err.to_string().contains("1 released object"), "{err}");

    // locked (and empty): refused naming the holder, lock untouched
    save(&ws, "qa", &[]).await;
    let qa = ws.backend("qa").unwrap();
    let holder = LockInfo::new("apply", "");
    qa.try_lock(&holder).await.unwrap();
    let err = ws.delete("qa").await.unwrap_err();
    match &err {
        StateError::Locked(h) => assert_eq!(h.id, holder.id),
        other => panic!("{other:?}"),
    }
    assert!(ws.path_for("qa").exists());
    assert_eq!(qa.lock_info().await.unwrap(), Some(holder.clone()));
    qa.unlock(&holder.id).await.unwrap();
    ws.delete("qa").await.unwrap();
    assert_eq!(ws.list().await.unwrap(), ["default", "prod"]);
}
