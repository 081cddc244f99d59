//! Helpers for the CLI tests (`tests/cli_*.rs`): a stack in a temp dir, running the real `provisioner`
//! binary against the shared moto (or a faultproxy in front of it), reading the state file and JSON output.
//!
//! Include from a test file with `mod common; mod common_cli;`.
#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::common::{self, Moto};

/// Runs a future on one runtime shared by the whole test binary (SDK clients must not outlive the runtime
/// they first ran on, so every SDK call of a test binary goes through here).
pub fn block_on<F: Future>(f: F) -> F::Output {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap())
        .block_on(f)
}

/// Path of a fixture stack under `tests/stacks/`.
pub fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stacks").join(name)
}

/// The captured result of one CLI run.
#[derive(Debug, Clone)]
pub struct Out {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    fn from(args: Vec<String>, o: Output) -> Out {
        Out {
            args,
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
    /// stdout + stderr.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
    pub fn json(&self) -> Json {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout of {:?} is not JSON ({e}):\n{self}", self.args))
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "$ provisioner {}\nexit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }
}

/// Marker in `Cli::extra_env` (never passed to the process) for a handle sharing another's directory.
const SHARED_DIR: &str = "__shared_dir__";

/// A stack directory (temp) with its own stack name, and how to run the CLI on it.
pub struct Cli {
    pub moto: &'static Moto,
    /// The stack directory (removed when this handle drops), unless `shared` names another one.
    pub dir: tempfile::TempDir,
    pub stack: String,
    /// What AWS_ENDPOINT_URL points at (moto, or a faultproxy in front of it).
    pub endpoint: String,
    pub extra_env: Vec<(String, String)>,
}

impl Cli {
    /// A new empty stack dir with a unique stack name (`prefix-…`), talking to the shared moto.
    pub fn new(prefix: &str) -> Cli {
        let moto = Moto::shared();
        Cli {
            moto,
            dir: tempfile::Builder::new().prefix(&format!("cli-{prefix}-")).tempdir().unwrap(),
            stack: common::unique_stack(prefix),
            endpoint: moto.endpoint.clone(),
            extra_env: Vec::new(),
        }
    }

    /// The same stack dir talking to `moto` instead (a private server, [`Moto::start`], leaked to live as
    /// long as the test process).
    pub fn on(mut self, moto: &'static Moto) -> Cli {
        self.moto = moto;
        self.endpoint = moto.endpoint.clone();
        self
    }

    /// A stack dir that is never given a moto (for tests that make no AWS calls).
    pub fn offline(prefix: &str) -> Cli {
        let mut c = Cli::new(prefix);
        c.endpoint = closed_port_url();
        c
    }

    pub fn path(&self) -> &Path {
        self.root()
    }

    fn root(&self) -> &Path {
        match self.extra_env.iter().find(|(k, _)| k == SHARED_DIR) {
            Some((_, d)) => Path::new(d),
            None => self.dir.path(),
        }
    }

    /// Points this handle at another handle's stack directory (kept in the environment list, not passed on).
    fn sharing(mut self, dir: &Path) -> Cli {
        self.extra_env.push((SHARED_DIR.into(), dir.to_string_lossy().into_owned()));
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Cli {
        self.set_env(k, v);
        self
    }

    pub fn set_env(&mut self, k: &str, v: &str) {
        self.extra_env.retain(|(a, _)| a != k);
        self.extra_env.push((k.into(), v.into()));
    }

    pub fn extra_env_remove(&mut self, k: &str) {
        self.extra_env.retain(|(a, _)| a != k);
    }

    /// Writes `name` into the stack dir, replacing `__STACK__` with the stack name.
    pub fn write(&self, name: &str, text: &str) {
        let p = self.path().join(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(p, text.replace("__STACK__", &self.stack)).unwrap();
    }

    /// Reads a stack file back.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path().join(name)).unwrap()
    }

    /// Edits a stack file: replaces `from` (which must occur) with `to`.
    pub fn edit(&self, name: &str, from: &str, to: &str) {
        let text = self.read(name);
        assert!(text.contains(from), "`{from}` not in {name}:\n{text}");
        std::fs::write(self.path().join(name), text.replace(from, to)).unwrap();
    }

    /// Copies every file of `tests/stacks/<name>/` (not recursively) into the stack dir, with `__STACK__`
    /// replaced by the stack name.
    pub fn fixture(&self, name: &str) {
        let src = fixture_dir(name);
        for e in std::fs::read_dir(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display())) {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                let text = std::fs::read_to_string(e.path()).unwrap();
                self.write(&e.file_name().to_string_lossy(), &text);
            }
        }
    }

    /// The selected workspace (`PROVISIONER_WORKSPACE` in the CLI's environment), `default` without one.
    pub fn workspace(&self) -> String {
        self.extra_env
            .iter()
            .find(|(k, _)| k == "PROVISIONER_WORKSPACE")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "default".into())
    }

    /// This stack dir, run in workspace `ws` (a second handle on the same directory and stack name).
    pub fn in_workspace(&self, ws: &str) -> Cli {
        Cli {
            moto: self.moto,
            dir: tempfile::Builder::new().prefix("cli-ws-unused-").tempdir().unwrap(),
            stack: self.stack.clone(),
            endpoint: self.endpoint.clone(),
            extra_env: self.extra_env.clone(),
        }
        .sharing(self.path())
        .env("PROVISIONER_WORKSPACE", ws)
    }

    /// The state file every fixture uses (`[backend] path = ".provisioner/state.json"`), in the selected
    /// workspace (`.provisioner/<workspace>/state.json` for workspaces other than `default`).
    pub fn state_path(&self) -> PathBuf {
        match self.workspace().as_str() {
            "default" => self.root().join(".provisioner/state.json"),
            ws => self.root().join(".provisioner").join(ws).join("state.json"),
        }
    }

    pub fn lock_path(&self) -> PathBuf {
        let mut p = self.state_path().into_os_string();
        p.push(".lock");
        PathBuf::from(p)
    }

    /// The parsed state file (panics if missing or not JSON).
    pub fn state(&self) -> Json {
        let text = std::fs::read_to_string(self.state_path()).unwrap_or_else(|e| panic!("reading state: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("state is not JSON ({e}):\n{text}"))
    }

    /// Addresses in the state file, in file order.
    pub fn state_addresses(&self) -> Vec<String> {
        self.state()["resources"]
            .as_array()
            .map(|rs| rs.iter().map(|r| r["address"].as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    }

    /// The state record of `address`.
    pub fn state_resource(&self, address: &str) -> Json {
        let st = self.state();
        st["resources"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["address"] == address).cloned())
            .unwrap_or_else(|| panic!("{address} not in state: {}", serde_json::to_string_pretty(&st).unwrap()))
    }

    /// The id recorded in state for `address`.
    pub fn id(&self, address: &str) -> String {
        self.state_resource(address)["id"].as_str().unwrap().to_owned()
    }

    /// The command `provisioner -C <dir> <args>` with the test environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.command_env(Path::new(env!("CARGO_BIN_EXE_provisioner")));
        cmd.arg("-C").arg(self.path()).args(args).stdin(Stdio::null());
        cmd
    }

    /// `program` with the environment the CLI gets (moto endpoint, credentials, no colour), no arguments.
    pub fn command_env(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear();
        for k in ["PATH", "USER", "HOSTNAME", "LANG"] {
            if let Some(v) = std::env::var_os(k) {
                cmd.env(k, v);
            }
        }
        for (k, v) in common::env(self.moto) {
            cmd.env(k, v);
        }
        let none = self.path().join(".no-aws-config");
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_CONFIG_FILE", &none)
            .env("AWS_SHARED_CREDENTIALS_FILE", &none)
            .env("HOME", self.path())
            .env("NO_COLOR", "1")
            .env("PROVISIONER_MAX_ATTEMPTS", "5");
        for (k, v) in self.extra_env.iter().filter(|(k, _)| k != SHARED_DIR) {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs the CLI to completion (bounded: 120 s, then it is killed and the test fails).
    pub fn run(&self, args: &[&str]) -> Out {
        let mut child =
            self.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn provisioner");
        let out = wait_output(&mut child, Duration::from_secs(120));
        Out::from(args.iter().map(|s| s.to_string()).collect(), out)
    }

    /// Runs and asserts exit code `code`.
    pub fn expect(&self, code: i32, args: &[&str]) -> Out {
        let out = self.run(args);
        assert_eq!(out.code, code, "unexpected exit code:\n{out}");
        out
    }

    /// Runs and asserts success.
    pub fn ok(&self, args: &[&str]) -> Out {
        self.expect(0, args)
    }

    /// Runs with `--json` appended, asserts the exit code is one of `codes`, returns the parsed stdout.
    pub fn json(&self, codes: &[i32], args: &[&str]) -> Json {
        let mut a: Vec<&str> = args.to_vec();
        a.push("--json");
        let out = self.run(&a);
        assert!(codes.contains(&out.code), "unexpected exit code (wanted {codes:?}):\n{out}");
        out.json()
    }

    /// `plan --json` (exit 0).
    pub fn plan_json(&self, extra: &[&str]) -> Json {
        let mut a = vec!["plan"];
        a.extend_from_slice(extra);
        self.json(&[0], &a)
    }

    /// `apply --auto-approve`, asserting success.
    pub fn apply(&self) -> Out {
        self.ok(&["apply", "--auto-approve"])
    }

    /// `destroy --auto-approve`, asserting success.
    pub fn destroy(&self) -> Out {
        self.ok(&["destroy", "--auto-approve"])
    }

    /// Spawns the CLI with piped output (for kill / signal tests).
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn provisioner")
    }

    /// An outside-view EC2 client on moto itself (never through a proxy).
    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        common::ec2_client(self.moto)
    }

    /// Live objects tagged with this stack.
    /// Live objects tagged with this stack, of every service (see [`Cli::tagged_ids`]).
    pub fn count_tagged(&self) -> usize {
        self.tagged_ids().len()
    }

    /// Ids (as the state holds them) of the live objects tagged with this stack: EC2 objects, then those of
    /// the other services ([`common::tagged_other_services`]).
    pub fn tagged_ids(&self) -> Vec<String> {
        self.tagged().into_iter().map(|(id, _)| id).collect()
    }

    /// [`Cli::tagged_ids`] with each object's tags.
    pub fn tagged(&self) -> Vec<(String, std::collections::BTreeMap<String, String>)> {
        let ec2 = self.ec2();
        let mut out: Vec<_> = block_on(common::tagged_ids(&ec2, &self.stack))
            .into_iter()
            .map(|id| {
                let tags = tags_of(&ec2, &id);
                (id, tags)
            })
            .collect();
        out.extend(block_on(common::tagged_other_services(&common::sdk_config(self.moto), &self.stack)));
        out
    }

    /// Live objects tagged with this stack and the selected workspace, with their tags.
    pub fn tagged_in_workspace(&self) -> Vec<(String, std::collections::BTreeMap<String, String>)> {
        let ws = self.workspace();
        self.tagged()
            .into_iter()
            .filter(|(_, t)| t.get("provisioner:workspace").map(String::as_str).unwrap_or("default") == ws)
            .collect()
    }

    /// Ids held by the state (every record, deposed included).
    pub fn state_ids(&self) -> Vec<String> {
        self.state()["resources"]
            .as_array()
            .map(|rs| rs.iter().filter_map(|r| r["id"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    /// Best-effort cleanup (a failed test should not leave much behind; moto dies with the process anyway).
    pub fn cleanup(&self) {
        if self.state_path().exists() {
            let _ = self.run(&["destroy", "--auto-approve"]);
        }
    }
}

impl Drop for Cli {
    /// A failing test destroys what it created (best effort), so moto does not fill up with leftovers.
    fn drop(&mut self) {
        if std::thread::panicking() && self.state_path().exists() && !self.lock_path().exists() {
            let mut cmd = self.command(&["destroy", "--auto-approve"]);
            cmd.env("AWS_ENDPOINT_URL", &self.moto.endpoint).stdout(Stdio::null()).stderr(Stdio::null());
            if let Ok(mut child) = cmd.spawn() {
                let start = Instant::now();
                while start.elapsed() < Duration::from_secs(60) {
                    if let Ok(Some(_)) = child.try_wait() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// A copy of the repository stack `rel` (its top-level files and `env/`), renamed to the test's stack.
pub fn copy_repo_stack(prefix: &str, rel: &str) -> Cli {
    let cli = Cli::new(prefix);
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel);
    for sub in ["", "env"] {
        let Ok(entries) = std::fs::read_dir(src.join(sub)) else { continue };
        for e in entries {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                let text = std::fs::read_to_string(&p).unwrap();
                let text = text.replacen("\n[stack]\nname = ", "\n[stack]\nname = \"__STACK__\"\n# was ", 1);
                cli.write(&Path::new(sub).join(p.file_name().unwrap()).to_string_lossy(), &text);
            }
        }
    }
    assert!(cli.read("stack.toml").contains(&cli.stack), "stack renamed");
    cli
}

/// plans/hello and its own copy of plans/shared (applied, default workspace), which hello's `data.stack.shared`
/// reads. Both get a `project` no other test uses, because the names of load balancers, roles, log groups and
/// repositories are account-wide: `PROVISIONER_VAR_project` and `PROVISIONER_VAR_shared_stack_dir` are set on
/// both `Cli`s (and so on their `in_workspace` copies).
pub struct Hello {
    pub hello: Cli,
    pub shared: Cli,
    pub project: String,
}

pub fn copy_hello(prefix: &str) -> Hello {
    copy_hello_on(prefix, Moto::shared())
}

/// [`copy_hello`] on a given emulator.
pub fn copy_hello_on(prefix: &str, moto: &'static Moto) -> Hello {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let project = format!("h{}-{}", std::process::id() % 100_000, N.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let shared =
        copy_repo_stack(&format!("{prefix}-shared"), "plans/shared").on(moto).env("PROVISIONER_VAR_project", &project);
    let out = shared.run(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "applying plans/shared for {prefix}:\n{out}");
    let hello = copy_repo_stack(prefix, "plans/hello")
        .on(moto)
        .env("PROVISIONER_VAR_project", &project)
        .env("PROVISIONER_VAR_shared_stack_dir", &shared.path().to_string_lossy());
    Hello { hello, shared, project }
}

/// `cli` with its AWS calls going through a new fault proxy in front of the shared moto (`tests/cli_faults*.rs`).
pub fn behind_proxy(mut cli: Cli) -> (Cli, faultproxy::Proxy) {
    let proxy = faultproxy::Proxy::start(&cli.moto.endpoint);
    cli.endpoint = proxy.url();
    (cli, proxy)
}

/// Requests the proxy counted for `action` (retries included).
pub fn proxy_calls(p: &faultproxy::Proxy, action: &str) -> u64 {
    p.calls().get(action).copied().unwrap_or(0)
}

/// Runs `cli apply --auto-approve` with progress lines every 0.2 s, sends it SIGINT (Ctrl-C) once a line of
/// its standard error contains `marker` (within 60 s), and waits for it to exit (60 s): its output, with
/// standard error as the lines read.
pub fn apply_interrupted_at(cli: &Cli, marker: &str) -> (Output, String) {
    use std::io::{BufRead, BufReader};
    let mut cmd = cli.command(&["apply", "--auto-approve"]);
    cmd.env("PROVISIONER_PROGRESS_SECS", "0.2").stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn provisioner");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line =
            rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("a progress line within 60 s");
        if line.contains(marker) {
            break;
        }
    }
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = wait_output(&mut child, Duration::from_secs(60));
    (out, reader.join().unwrap())
}

/// Waits for a child, collecting its output; kills it after `timeout`.
pub fn wait_output(child: &mut Child, timeout: Duration) -> Output {
    use std::io::Read;
    let mut so = child.stdout.take();
    let mut se = child.stderr.take();
    let t1 = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(s) = so.as_mut() {
            let _ = s.read_to_end(&mut b);
        }
        b
    });
    let t2 = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(s) = se.as_mut() {
            let _ = s.read_to_end(&mut b);
        }
        b
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let st = child.wait().unwrap();
            let stderr = t2.join().unwrap();
            panic!(
                "provisioner did not finish within {timeout:?} (killed; {st}); stderr:\n{}",
                String::from_utf8_lossy(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output { status, stdout: t1.join().unwrap(), stderr: t2.join().unwrap() }
}

/// Polls `cond` every 20 ms until true or `timeout` (then panics with `what`).
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `http://127.0.0.1:<port>` where nothing listens.
pub fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// The changes of a `plan --json` that are not no-ops (or reads), as `(address, action)`, sorted.
pub fn actions(plan: &Json) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = plan["changes"]
        .as_array()
        .expect("plan.changes")
        .iter()
        .filter(|c| !matches!(c["action"].as_str(), Some("no_op") | Some("read")))
        .map(|c| (c["address"].as_str().unwrap().to_owned(), c["action"].as_str().unwrap().to_owned()))
        .collect();
    v.sort();
    v
}

/// `actions` as `&str` pairs, handy for `assert_eq!` against literals.
pub fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

/// The change for `address` in a plan JSON.
pub fn change<'a>(plan: &'a Json, address: &str) -> &'a Json {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == address)
        .unwrap_or_else(|| panic!("no change for {address} in plan:\n{}", serde_json::to_string_pretty(plan).unwrap()))
}

/// Attribute names whose value differs between `before` and `after` of a change.
pub fn changed_attrs(c: &Json) -> Vec<String> {
    let empty = serde_json::Map::new();
    let b = c["before"].as_object().unwrap_or(&empty);
    let a = c["after"].as_object().unwrap_or(&empty);
    let mut names: Vec<String> = b.keys().chain(a.keys()).cloned().collect();
    names.sort();
    names.dedup();
    names.into_iter().filter(|n| b.get(n).unwrap_or(&Json::Null) != a.get(n).unwrap_or(&Json::Null)).collect()
}

/// Total of `api_calls` entries whose key ends with `suffix` (e.g. "DescribeVpcs").
pub fn api_count(v: &Json, suffix: &str) -> u64 {
    v["api_calls"]
        .as_object()
        .map(|m| m.iter().filter(|(k, _)| k.ends_with(suffix)).map(|(_, n)| n.as_u64().unwrap_or(0)).sum())
        .unwrap_or(0)
}

/// Tags of an EC2 object (outside view), as a sorted map.
pub fn tags_of(ec2: &aws_sdk_ec2::Client, id: &str) -> std::collections::BTreeMap<String, String> {
    use aws_sdk_ec2::types::Filter;
    let out = block_on(ec2.describe_tags().filters(Filter::builder().name("resource-id").values(id).build()).send())
        .expect("DescribeTags");
    out.tags().iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect()
}
