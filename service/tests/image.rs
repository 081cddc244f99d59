//! Container image test: builds both images with podman from the prebuilt
//! static binaries (`FROM scratch`), exports each image's filesystem, reads
//! Entrypoint, User, ExposedPorts and Env from `podman image inspect`, and
//! runs the entrypoint in a chroot as the image's user (containers cannot be
//! started on the CI machines). Checks `/health`, `/ready` and a PUT + GET
//! on the api, and the page, `/health`, `/ready` and a PUT + GET through the
//! frontend.
//!
//! Runs when `SERVICE_TEST_IMAGES=1` (set by `make service-test`; needs root
//! and podman), otherwise it is skipped.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{client, output_dir, spawn_with, wait_status};
use serde_json::Value;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn podman() -> Command {
    let mut c = Command::new(std::env::var("PODMAN").unwrap_or_else(|_| "podman".into()));
    c.env("BUILDAH_ISOLATION", "chroot");
    c
}

struct Image {
    tag: String,
    config: Value,
    rootfs: PathBuf,
}

/// Stages the build context, builds, inspects and exports the image of `bin`.
fn build(bin: &str) -> Image {
    let work = output_dir().join("images").join(bin);
    let _ = std::fs::remove_dir_all(&work);
    let ctx = work.join("context");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy(common::bin(bin), ctx.join(bin)).unwrap();
    let dockerfile = format!("Dockerfile.{bin}");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join(&dockerfile), ctx.join(&dockerfile)).unwrap();
    if bin == "api" {
        std::fs::create_dir_all(ctx.join("data")).unwrap();
    }
    let tag = format!("localhost/service-{bin}:test");
    run(podman().args(["build", "--format", "docker", "-f"]).arg(ctx.join(&dockerfile)).args(["-t", &tag]).arg(&ctx));

    let inspect: Value = serde_json::from_str(&run(podman().args(["image", "inspect", &tag]))).unwrap();
    let config = inspect[0]["Config"].clone();

    let tar = work.join("rootfs.tar");
    let id = run(podman().args(["create", "--no-healthcheck", &tag]));
    run(podman().args(["export", "-o"]).arg(&tar).arg(&id));
    run(podman().args(["rm", &id]));
    let rootfs = work.join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    run(Command::new("tar").arg("-xpf").arg(&tar).arg("--same-owner").arg("-C").arg(&rootfs));
    Image { tag, config, rootfs }
}

impl Image {
    fn user(&self) -> String {
        self.config["User"].as_str().unwrap_or_default().to_string()
    }

    fn env(&self) -> Vec<(String, String)> {
        self.config["Env"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e.as_str()?.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect()
    }

    fn check_static_scratch(&self, bin: &str, port: &str) {
        let user = self.user();
        assert!(!user.is_empty() && !user.starts_with("0") && !user.starts_with("root"), "non-root user: {user:?}");
        let ports: Vec<&String> = self.config["ExposedPorts"].as_object().expect("ExposedPorts").keys().collect();
        assert_eq!(ports, vec![&format!("{port}/tcp")]);
        assert!(self.env().contains(&("PORT".into(), port.into())), "PORT={port} in {:?}", self.env());
        let entry = self.entrypoint();
        assert_eq!(entry, vec![format!("/usr/local/bin/{bin}")]);
        // scratch: nothing but the binary (and the data directory)
        assert!(!self.rootfs.join("bin/sh").exists() && !self.rootfs.join("lib").exists(), "no shell, no libraries");
        let elf = std::fs::read(self.rootfs.join(entry[0].trim_start_matches('/'))).unwrap();
        assert!(!has_interpreter(&elf), "{bin} is static (no PT_INTERP)");
    }

    fn entrypoint(&self) -> Vec<String> {
        self.config["Entrypoint"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
    }

    /// The entrypoint in a chroot as the image's user, with the image's env.
    fn command(&self, extra_env: &[(&str, String)]) -> Command {
        let mut cmd = Command::new("chroot");
        cmd.arg(format!("--userspec={}", self.user())).arg(&self.rootfs).args(self.entrypoint());
        cmd.env_clear();
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd
    }
}

/// Whether an ELF64 little-endian file asks for a dynamic loader (PT_INTERP).
fn has_interpreter(elf: &[u8]) -> bool {
    assert_eq!(&elf[..4], b"\x7fELF");
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).any(|i| {
        let o = phoff + i * size;
        u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) == 3
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_build_and_run_from_scratch() {
    if std::env::var("SERVICE_TEST_IMAGES").ok().as_deref() != Some("1") {
        eprintln!("SERVICE_TEST_IMAGES is not 1: skipping the podman image test");
        return;
    }
    let api = build("api");
    api.check_static_scratch("api", "8080");
    let data = api.rootfs.join("data");
    assert!(data.is_dir());
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&data).unwrap();
        assert_eq!(format!("{}:{}", meta.uid(), meta.gid()), api.user(), "/data owned by the image user");
    }
    let fe = build("frontend");
    fe.check_static_scratch("frontend", "3000");

    // the api image: embedded SQLite in /data (the image's DATA_DIR)
    let api_proc = spawn_with(api.command(&[]), "image-api", &[]);
    let c = client();
    let r = c.get(api_proc.url("/health")).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (200, "OK".to_string()));
    wait_status(&api_proc.url("/ready"), 200, Duration::from_secs(20)).await;
    let r = c
        .put(api_proc.url("/hello/Imagetest"))
        .header("content-type", "application/json")
        .body(r#"{"dateOfBirth":"1991-07-01"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = c.get(api_proc.url("/hello/Imagetest")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v["message"].as_str().unwrap().starts_with("Hello, Imagetest! "), "{v}");
    assert!(api.rootfs.join("data/service.db").exists(), "SQLite file written by the non-root user");

    // the frontend image, forwarding to the api
    let fe_proc = spawn_with(fe.command(&[("API_URL", api_proc.base.clone())]), "image-frontend", &[]);
    let r = c.get(fe_proc.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    wait_status(&fe_proc.url("/ready"), 200, Duration::from_secs(20)).await;
    let page = c.get(fe_proc.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<title>Service dashboard</title>"));
    let r = c
        .put(fe_proc.url("/hello/Viafrontend"))
        .header("content-type", "application/json")
        .body(r#"{"dateOfBirth":"1991-07-02"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = c.get(fe_proc.url("/hello/Viafrontend")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(fe_proc.url("/hello/bad1")).send().await.unwrap();
    assert_eq!(r.status(), 400, "status codes pass through the proxy");

    // `healthcheck` subcommand (HEALTHCHECK in the images)
    let hc = api
        .command(&[("PORT", api_proc.addr.rsplit(':').next().unwrap().to_string())])
        .arg("healthcheck")
        .status()
        .unwrap();
    assert!(hc.success(), "api healthcheck");
    drop(fe_proc);
    drop(api_proc);
    // the images were only built to be inspected: do not let them pile up
    run(podman().args(["rmi", "-f", &api.tag, &fe.tag]));
}
