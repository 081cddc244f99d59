//! The `provisioner` command line: argument parsing (GNU long flags, plus Terraform's single-dash
//! spellings), prompts, exit codes and printing. All real work is in the library.
//!
//! Exit codes: 0 ok; 1 error; with `--detailed-exitcode`, 2 = the plan has changes.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use provisioner::apply::{ApplyOptions, OpKind, OpResult, Outcome, Progress};
use provisioner::engine::{EngineError, PlanOptions};
use provisioner::lang::Diagnostics;
use provisioner::plan::Plan;
use provisioner::render::{self, Style};
use provisioner::render_markdown;
use provisioner::stack::Migrated;
use provisioner::{Stack, StackOptions, Value};

// Everything the CLI prints goes through the redactor, so the value of a sensitive variable never reaches
// the terminal, a log or a JSON document (see `provisioner::redact`). These shadow the std macros in this
// module; the few places that must print exactly (`state pull`, an output asked for by name) call the std
// macros by path.
macro_rules! println {
    () => { ::std::println!() };
    ($($t:tt)*) => { ::std::println!("{}", provisioner::redact::redact(&format!($($t)*))) };
}
macro_rules! print {
    ($($t:tt)*) => { ::std::print!("{}", provisioner::redact::redact(&format!($($t)*))) };
}
macro_rules! eprintln {
    () => { ::std::eprintln!() };
    ($($t:tt)*) => { ::std::eprintln!("{}", provisioner::redact::redact(&format!($($t)*))) };
}
macro_rules! eprint {
    ($($t:tt)*) => { ::std::eprint!("{}", provisioner::redact::redact(&format!($($t)*))) };
}

#[derive(Parser, Debug)]
#[command(name = "provisioner", version, about = "Plan and apply AWS infrastructure described in TOML")]
pub struct Cli {
    /// Run as if started in DIR (the stack directory).
    #[arg(short = 'C', long = "chdir", global = true, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// More output: progress lines and AWS API call counts (repeat for debug logs).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Never use colour (also: NO_COLOR=1).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// The workspace (environment): its own state, and env/NAME.toml as the first variable file.
    #[arg(short = 'w', long = "workspace", global = true, value_name = "NAME", env = "PROVISIONER_WORKSPACE")]
    pub workspace: Option<String>,
    /// Work as this IAM role: with GitHub's OIDC token inside GitHub Actions (the job needs
    /// `permissions: id-token: write`), else AssumeRole from the ambient credentials. Overrides
    /// `[aws] role_arn`; AWS_ROLE_ARN is the fallback.
    #[arg(long, global = true, value_name = "ARN")]
    pub role_arn: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone, Default)]
pub struct VarArgs {
    /// Set a variable: NAME=VALUE (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read variables from a TOML file (repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    /// How long to wait for the state lock, e.g. 30s or 2m (default: fail at once).
    #[arg(long, value_name = "DURATION", default_value = "0s")]
    pub lock_timeout: String,
}

#[derive(Args, Debug, Clone, Default)]
pub struct PlanArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Limit to this resource and what it depends on (repeatable).
    #[arg(long = "target", value_name = "ADDRESS")]
    pub targets: Vec<String>,
    /// Plan to replace this resource even if unchanged (repeatable).
    #[arg(long = "replace", value_name = "ADDRESS")]
    pub replace: Vec<String>,
    /// Destroy this resource although `lifecycle.prevent_destroy` protects it, in the configuration or
    /// as remembered in state from an earlier apply (repeatable; a block address covers its instances).
    #[arg(long = "allow-protected", value_name = "ADDRESS")]
    pub allow_protected: Vec<String>,
    /// Read real state from AWS first (--refresh=false to skip).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub refresh: bool,
    /// How many operations run at once.
    #[arg(long, default_value_t = 10)]
    pub parallelism: usize,
}

/// How `plan` and `show FILE` print a plan.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// The human plan.
    #[default]
    Text,
    /// The JSON plan document (docs/plan-json.md).
    Json,
    /// Markdown for a pull-request comment or a CI job summary.
    Markdown,
}

#[derive(Args, Debug, Clone, Default)]
pub struct FormatArgs {
    /// Output format.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// The same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// With --format markdown: past this many characters, leave the per-resource details out and say where
    /// the full plan is (0 = no limit; a GitHub comment holds 65536 characters, a job summary 1 MiB).
    #[arg(long, value_name = "CHARS", default_value_t = render_markdown::DEFAULT_MAX_LEN)]
    pub max_len: usize,
}

impl FormatArgs {
    fn format(&self) -> Format {
        if self.json {
            Format::Json
        } else {
            self.format.unwrap_or_default()
        }
    }

    fn markdown(&self, plan: &Plan, plan_file: Option<&Path>) -> String {
        let file = plan_file.map(|f| f.display().to_string());
        render_markdown::render_markdown(
            plan,
            &render_markdown::Options { max_len: self.max_len, plan_file: file.as_deref() },
        )
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check the configuration without contacting AWS.
    Validate {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Show what apply would do.
    Plan {
        #[command(flatten)]
        args: PlanArgs,
        /// Save the plan to FILE for `apply FILE`.
        #[arg(long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
        /// Exit 2 when there are changes, 0 when none.
        #[arg(long)]
        detailed_exitcode: bool,
        #[command(flatten)]
        format: FormatArgs,
        /// Plan to destroy everything.
        #[arg(long)]
        destroy: bool,
        /// Take the state lock (--lock=false plans without it, e.g. from a role that may only read the state).
        #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        lock: bool,
    },
    /// Make the changes: from a saved plan FILE, or plan now and ask.
    Apply {
        /// A plan saved with `plan -out FILE`.
        file: Option<PathBuf>,
        #[command(flatten)]
        args: PlanArgs,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        #[arg(long)]
        json: bool,
    },
    /// Destroy everything the state tracks.
    Destroy {
        #[command(flatten)]
        args: PlanArgs,
        #[arg(long)]
        auto_approve: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show the state, or a saved plan FILE.
    Show {
        file: Option<PathBuf>,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Print outputs from the state.
    Output {
        name: Option<String>,
        #[arg(long)]
        json: bool,
        /// Print a string output without quotes.
        #[arg(long)]
        raw: bool,
    },
    /// Inspect and edit the state.
    #[command(subcommand)]
    State(StateCommand),
    /// Adopt an existing AWS object into the state at ADDRESS.
    Import {
        address: String,
        id: String,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Print the dependency graph in DOT.
    Graph,
    /// Remove a stale lock by its id.
    ForceUnlock { id: String },
    /// Print the JSON Schema of every resource type (for editors).
    Schema,
    /// List, show, create and delete workspaces (each with its own state).
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
}

#[derive(Subcommand, Debug)]
pub enum WorkspaceCommand {
    /// List the workspaces (the env/*.toml files in a stack with env/), marking the selected one.
    List,
    /// Print the selected workspace.
    Show,
    /// Create a workspace (in a stack without env/), or move another workspace's state into it (--from).
    New {
        name: String,
        /// Move this workspace's state (resources, outputs, lineage) into the new one, leaving it empty.
        #[arg(long, value_name = "WORKSPACE")]
        from: Option<String>,
    },
    /// Delete a workspace's state; refused while it still holds resources.
    Delete { name: String },
}

#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// List addresses in the state.
    List,
    /// Show one resource's attributes.
    Show { address: String },
    /// Forget resources (they keep existing in AWS).
    Rm { addresses: Vec<String> },
    /// Rename a resource in the state.
    Mv { source: String, destination: String },
    /// Copy state from another backend into the configured one (lineage and serial kept; the source stays).
    Migrate {
        /// Where the state is now: local:PATH or s3://BUCKET/KEY.
        #[arg(long, value_name = "SOURCE")]
        from: String,
        /// Every workspace the source holds, not only the selected one.
        #[arg(long)]
        all_workspaces: bool,
    },
    /// Print the stored state as JSON.
    Pull,
    /// Upload a state file (`-` = stdin) as the workspace's state.
    Push {
        file: PathBuf,
        /// Replace the stored state even when the file's lineage differs or its serial is not newer.
        #[arg(long)]
        force: bool,
    },
}

/// Rewrites Terraform's single-dash long flags (`-out=FILE`, `-auto-approve`) to `--out=FILE`.
pub fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .enumerate()
        .map(|(i, a)| {
            let b = a.as_bytes();
            let single_dash_long =
                i > 0 && b.len() > 2 && b[0] == b'-' && b[1].is_ascii_lowercase() && b[2].is_ascii_lowercase();
            if single_dash_long {
                format!("-{a}")
            } else {
                a
            }
        })
        .collect()
}

pub struct Ui {
    pub style: Style,
    pub verbose: u8,
}

impl Ui {
    fn print_error(&self, e: &EngineError) {
        match e {
            EngineError::Config(d) => print_diagnostics(d, self.style.color),
            other => {
                eprintln!("{} {other}", self.style.red(&self.style.bold("Error:")));
                if let Some(h) = other.hint() {
                    eprintln!("  {} {h}", self.style.bold("hint:"));
                }
            }
        }
    }
}

pub fn print_diagnostics(d: &Diagnostics, color: bool) {
    let theme = if color { miette::GraphicalTheme::unicode() } else { miette::GraphicalTheme::unicode_nocolor() };
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_context_lines(1);
    for diag in &d.0 {
        // The plain line first, so logs and tests see "file:line:col: message" verbatim.
        eprintln!("Error: {diag}");
        let mut s = String::new();
        if handler.render_report(&mut s, diag).is_ok() {
            eprintln!("{s}");
        }
    }
    eprintln!("{} error(s) found.", d.0.len());
}

fn parse_duration(s: &str) -> Result<Duration, EngineError> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len()));
    let n: f64 = num.parse().map_err(|_| EngineError::with_hint(format!("invalid duration `{s}`"), "e.g. 30s, 2m"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(EngineError::with_hint(format!("invalid duration `{s}`"), "e.g. 30s, 2m")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn stack_options(cli: &Cli, vars: &VarArgs) -> Result<StackOptions, EngineError> {
    let dir = &cli.dir;
    let mut parsed = Vec::new();
    for v in &vars.vars {
        let Some((k, val)) = v.split_once('=') else {
            return Err(EngineError::with_hint(format!("invalid --var `{v}`"), "use --var NAME=VALUE"));
        };
        parsed.push((k.trim().to_owned(), val.to_owned()));
    }
    Ok(StackOptions {
        dir: dir.to_owned(),
        var_files: vars.var_files.iter().map(|f| var_file_path(dir, f)).collect(),
        vars: parsed,
        lock_timeout: parse_duration(&vars.lock_timeout)?,
        state_only: false,
        workspace: cli.workspace.clone(),
        validate_only: false,
        role_arn: cli.role_arn.clone(),
        role: None,
    })
}

/// Options of the commands that only read or edit the state (no variable values needed).
fn state_only(cli: &Cli) -> StackOptions {
    StackOptions {
        workspace: cli.workspace.clone(),
        role_arn: cli.role_arn.clone(),
        ..StackOptions::state_only(&cli.dir)
    }
}

/// A relative `--var-file` is looked up in the stack directory first (as Terraform's `-chdir` and `git -C`
/// do), then in the current directory; the stack-relative path is kept when neither exists, for the error.
fn var_file_path(dir: &Path, file: &Path) -> std::path::PathBuf {
    if file.is_absolute() {
        return file.to_owned();
    }
    let in_stack = dir.join(file);
    if !in_stack.exists() && file.exists() {
        return file.to_owned();
    }
    in_stack
}

struct LineProgress {
    style: Style,
    enabled: bool,
}

impl Progress for LineProgress {
    fn started(&self, address: &str, op: OpKind) {
        if self.enabled {
            let verb = match op {
                OpKind::Create => "Creating...",
                OpKind::Update => "Modifying...",
                OpKind::Delete => "Destroying...",
                OpKind::Read => "Reading...",
            };
            eprintln!("{}: {verb}", self.style.bold(address));
        }
    }
    fn finished(&self, r: &OpResult) {
        if !self.enabled {
            return;
        }
        match &r.outcome {
            Outcome::Done => {
                let verb = match r.op {
                    OpKind::Create => "Creation complete",
                    OpKind::Update => "Modifications complete",
                    OpKind::Delete => "Destruction complete",
                    OpKind::Read => "Read complete",
                };
                eprintln!("{}: {verb} after {:.1}s", self.style.bold(&r.address), r.seconds);
            }
            Outcome::Failed { error } => {
                eprintln!("{}: {} {error}", self.style.bold(&r.address), self.style.red("failed:"))
            }
            Outcome::Deferred { reason } => eprintln!("{}: {reason}", self.style.bold(&r.address)),
            _ => {}
        }
    }
    fn note(&self, address: &str, text: &str) {
        if self.enabled {
            eprintln!("{}: {text}", self.style.bold(address));
        }
    }
}

/// Runs a command's `work` under the state lock. The work must change nothing until its one atomic state
/// write (plan, import, state rm/mv): Ctrl-C or SIGTERM abandons it, and the lock is released either way.
async fn locked<T>(
    stack: &Stack,
    operation: &str,
    work: impl std::future::Future<Output = Result<T, EngineError>>,
) -> Result<T, EngineError> {
    let mut cancel = signalled("\nInterrupt received: stopping; nothing was changed.");
    let lock = stack.lock(operation).await?;
    let res = tokio::select! {
        r = work => r,
        _ = cancel.wait_for(|c| *c) => Err(EngineError::other(format!("{operation} interrupted"))),
    };
    let unlock = lock.release().await;
    let out = res?;
    unlock?;
    Ok(out)
}

/// Flips to true on Ctrl-C or SIGTERM.
fn cancel_on_signals() -> tokio::sync::watch::Receiver<bool> {
    signalled(
        "\nInterrupt received: stopping after the operations in flight (deployments being watched stop being watched and go on in AWS); state will be saved.",
    )
}

/// Flips to true on Ctrl-C or SIGTERM, printing `message` then.
fn signalled(message: &'static str) -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let term_fut = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term_fut => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("{message}");
        let _ = tx.send(true);
    });
    rx
}

fn api_calls_line(cx: &provisioner::aws::Ctx) -> String {
    let calls = cx.calls.snapshot();
    let total: u64 = calls.values().sum();
    let detail: Vec<String> = calls.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("AWS API calls: {total} ({})", detail.join(", "))
}

fn confirm(question: &str) -> Result<bool, EngineError> {
    eprint!("\n{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| EngineError::other(format!("reading answer: {e}")))?;
    Ok(line.trim() == "yes")
}

pub async fn run(cli: Cli) -> i32 {
    let color = !cli.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
    let ui = Ui { style: Style { color }, verbose: cli.verbose };
    match dispatch(&cli, &ui).await {
        Ok(code) => code,
        Err(e) => {
            ui.print_error(&e);
            1
        }
    }
}

async fn dispatch(cli: &Cli, ui: &Ui) -> Result<i32, EngineError> {
    match &cli.command {
        Command::Validate { json, vars } => {
            let started = std::time::Instant::now();
            let stack = Stack::open(&StackOptions { validate_only: true, ..stack_options(cli, vars)? })?;
            let n = stack.engine.config.blocks.len();
            if *json {
                println!("{}", serde_json::json!({"valid": true, "blocks": n}));
            } else {
                println!(
                    "{} The configuration is valid ({n} blocks, {:.1} ms).",
                    ui.style.green(&ui.style.bold("Success!")),
                    started.elapsed().as_secs_f64() * 1000.0
                );
            }
            Ok(0)
        }
        Command::Plan { args, out, detailed_exitcode, format, destroy, lock } => {
            let stack = Stack::open(&stack_options(cli, &args.vars)?)?;
            let cx = stack.connect().await?;
            let opts = plan_options(args, *destroy);
            let work = stack.plan(&cx, &opts);
            let (plan, _) = if *lock { locked(&stack, "plan", work).await? } else { work.await? };
            if let Some(path) = out {
                std::fs::write(path, plan.to_json())
                    .map_err(|e| EngineError::other(format!("writing {}: {e}", path.display())))?;
            }
            let saved = out.as_ref().map(|path| {
                format!(
                    "Saved the plan to {}. Apply exactly this plan with:\n  provisioner apply {}",
                    path.display(),
                    path.display()
                )
            });
            match format.format() {
                Format::Json => {
                    // The saved plan's document (sensitive planned values as unknown), plus two fields.
                    let mut v: serde_json::Value = serde_json::from_str(&plan.to_json()).expect("plan json");
                    v["api_calls"] = serde_json::to_value(cx.calls.snapshot()).expect("calls");
                    v["summary"] = serde_json::to_value(plan.summary()).expect("summary");
                    println!("{}", serde_json::to_string_pretty(&v).expect("json"));
                }
                Format::Markdown => {
                    print!("{}", format.markdown(&plan, out.as_deref()));
                    // Standard output is the document; the note goes to standard error.
                    if let Some(saved) = saved {
                        eprintln!("{saved}");
                    }
                }
                Format::Text => {
                    print!("{}", render::render_plan(&plan, &ui.style));
                    if let Some(saved) = saved {
                        println!("\n{saved}");
                    }
                }
            }
            if ui.verbose > 0 {
                eprintln!("{}", api_calls_line(&cx));
            }
            Ok(if *detailed_exitcode && plan.has_changes() { 2 } else { 0 })
        }
        Command::Apply { file, args, auto_approve, json } => {
            apply_cmd(cli, ui, file.as_deref(), args, *auto_approve, *json, false).await
        }
        Command::Destroy { args, auto_approve, json } => {
            apply_cmd(cli, ui, None, args, *auto_approve, *json, true).await
        }
        Command::Show { file, format } => show_cmd(cli, ui, file.as_deref(), format).await,
        Command::Output { name, json, raw } => output_cmd(cli, name.as_deref(), *json, *raw).await,
        Command::State(sc) => state_cmd(cli, ui, sc).await,
        Command::Import { address, id, vars } => import_cmd(cli, ui, address, id, vars).await,
        Command::Workspace(wc) => workspace_cmd(cli, wc).await,
        Command::Graph => {
            let stack = Stack::open(&StackOptions { validate_only: true, ..state_only(cli) })?;
            print!("{}", stack.engine.graph.to_dot());
            Ok(0)
        }
        Command::ForceUnlock { id } => {
            let stack = Stack::open(&state_only(cli))?;
            stack.backend.force_unlock(id).await?;
            println!("Lock {id} released. The state is unlocked.");
            Ok(0)
        }
        Command::Schema => {
            let reg = provisioner::Registry::builtin();
            let mut resources = serde_json::Map::new();
            for t in reg.resource_types() {
                resources.insert(t.to_owned(), reg.schema(false, t).expect("schema").json_schema());
            }
            let mut data = serde_json::Map::new();
            for t in reg.data_source_types() {
                data.insert(t.to_owned(), reg.schema(true, t).expect("schema").json_schema());
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"resource": resources, "data": data})).expect("json")
            );
            Ok(0)
        }
    }
}

fn plan_options(args: &PlanArgs, destroy: bool) -> PlanOptions {
    PlanOptions {
        destroy,
        refresh: args.refresh,
        targets: args.targets.clone(),
        replace: args.replace.clone(),
        allow_protected: args.allow_protected.clone(),
    }
}

async fn apply_cmd(
    cli: &Cli,
    ui: &Ui,
    file: Option<&Path>,
    args: &PlanArgs,
    auto_approve: bool,
    json: bool,
    destroy: bool,
) -> Result<i32, EngineError> {
    let saved: Option<Plan> = match file {
        Some(f) => {
            let text = std::fs::read_to_string(f).map_err(|e| {
                EngineError::with_hint(
                    format!("reading plan {}: {e}", f.display()),
                    "make one with `provisioner plan -out FILE`",
                )
            })?;
            Some(Plan::from_json(&text).map_err(|e| EngineError::other(format!("{}: {e}", f.display())))?)
        }
        None => None,
    };
    // A saved plan carries its variables; they must match what we load now.
    let mut var_args = args.vars.clone();
    if let Some(p) = &saved {
        if var_args.vars.is_empty() && var_args.var_files.is_empty() {
            var_args.vars = p
                .variables
                .iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}={s}"),
                    other => format!("{k}={}", toml_literal(other)),
                })
                .collect();
        }
    }
    let stack = Stack::open(&stack_options(cli, &var_args)?)?;
    if saved.is_none() && !auto_approve && !std::io::stdin().is_terminal() {
        return Err(EngineError::with_hint(
            format!(
                "{} needs confirmation, but standard input is not a terminal",
                if destroy { "destroy" } else { "apply" }
            ),
            "pass --auto-approve, or apply a saved plan file",
        ));
    }
    let cx = stack.connect().await?;
    let cancel = cancel_on_signals();
    let lock = stack.lock(if destroy { "destroy" } else { "apply" }).await?;
    let result = async {
        let (plan, prior) = match saved {
            Some(plan) => {
                let prior = stack.load_state().await?;
                stack.check_plan_current(&plan, prior.as_ref())?;
                (plan, prior)
            }
            None => {
                let (plan, prior) = stack.plan(&cx, &plan_options(args, destroy)).await?;
                if !json {
                    print!("{}", render::render_plan(&plan, &ui.style));
                }
                if !plan.has_changes() {
                    return Ok((None, plan));
                }
                if !auto_approve
                    && !confirm(if destroy {
                        "Do you really want to destroy all resources?"
                    } else {
                        "Do you want to perform these actions?"
                    })?
                {
                    println!("\nApply cancelled.");
                    return Ok((None, plan));
                }
                (plan, prior)
            }
        };
        if *cancel.borrow() {
            return Err(EngineError::other("interrupted before any change was made"));
        }
        let progress = LineProgress { style: ui.style, enabled: !json };
        let report = stack
            .apply(
                &cx,
                &plan,
                prior,
                ApplyOptions { parallelism: args.parallelism, cancel: cancel.clone(), progress: &progress },
            )
            .await?;
        Ok((Some(report), plan))
    }
    .await;
    let unlock = lock.release().await;
    let (report, plan) = result?;
    unlock?;
    let code = match &report {
        None => 0,
        Some(r) if r.ok() => 0,
        Some(_) => 1,
    };
    if json {
        let v = serde_json::json!({
            "summary": plan.summary(),
            "report": report,
            "api_calls": cx.calls.snapshot(),
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else if let Some(r) = &report {
        println!("\n{}", render::render_report(r, &ui.style, destroy).trim_end());
        print!("{}", render::render_outputs(&r.outputs));
    }
    if ui.verbose > 0 {
        eprintln!("{}", api_calls_line(&cx));
    }
    Ok(code)
}

fn toml_literal(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Array(items) => {
            format!("[{}]", items.iter().map(toml_literal).collect::<Vec<_>>().join(", "))
        }
        serde_json::Value::Object(m) => format!(
            "{{ {} }}",
            m.iter()
                .map(|(k, v)| format!("{} = {}", serde_json::Value::String(k.clone()), toml_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

async fn show_cmd(cli: &Cli, ui: &Ui, file: Option<&Path>, format: &FormatArgs) -> Result<i32, EngineError> {
    if let Some(f) = file {
        let text =
            std::fs::read_to_string(f).map_err(|e| EngineError::other(format!("reading {}: {e}", f.display())))?;
        let plan = Plan::from_json(&text).map_err(|e| EngineError::other(format!("{}: {e}", f.display())))?;
        match format.format() {
            Format::Json => print!("{}", plan.to_json()),
            Format::Markdown => print!("{}", format.markdown(&plan, Some(f))),
            Format::Text => print!("{}", render::render_plan(&plan, &ui.style)),
        }
        return Ok(0);
    }
    if format.format() == Format::Markdown {
        return Err(EngineError::with_hint(
            "--format markdown renders a plan, and no plan FILE was given",
            "save one with `provisioner plan -out FILE`, then `provisioner show --format markdown FILE`",
        ));
    }
    let json = format.format() == Format::Json;
    let stack = Stack::open(&state_only(cli))?;
    let Some(snap) = stack.load_state().await? else {
        println!("The state is empty.");
        return Ok(0);
    };
    if json {
        // As stored, with the sensitive attributes' values replaced (`state pull` gives them).
        let mut shown = snap.clone();
        for r in &mut shown.resources {
            for k in r.sensitive_attributes.clone() {
                if let Some(v) = r.attributes.get_mut(&k).filter(|v| !v.is_null()) {
                    *v = serde_json::json!(provisioner::redact::REDACTED);
                }
            }
        }
        for o in shown.outputs.values_mut().filter(|o| o.sensitive) {
            o.value = serde_json::json!(provisioner::redact::REDACTED);
        }
        print!("{}", shown.to_pretty_json());
        return Ok(0);
    }
    for r in &snap.resources {
        println!("# {}:", ui.style.bold(&r.address));
        let kind = if r.mode == state::Mode::Data { "data" } else { "resource" };
        println!("{kind} \"{}\" {{", r.type_name);
        print_attributes(r);
        println!("}}\n");
    }
    print!("{}", render::render_outputs(&snap.outputs));
    Ok(0)
}

/// A state record's attributes, one per line, the sensitive ones as `(sensitive value)`.
fn print_attributes(r: &state::ResourceRecord) {
    let width = r.attributes.keys().map(String::len).max().unwrap_or(0);
    for (k, v) in &r.attributes {
        let shown = match r.sensitive_attributes.contains(k) && !v.is_null() {
            true => provisioner::redact::REDACTED.to_owned(),
            false => render::fmt_value(&Value::from_json(v), 4),
        };
        println!("    {k:<width$} = {shown}");
    }
}

async fn output_cmd(cli: &Cli, name: Option<&str>, json: bool, raw: bool) -> Result<i32, EngineError> {
    let stack = Stack::open(&state_only(cli))?;
    let outputs = stack.load_state().await?.map(|s| s.outputs).unwrap_or_default();
    match name {
        Some(n) => {
            let o = outputs.get(n).ok_or_else(|| {
                EngineError::with_hint(
                    format!("output `{n}` not found in the state"),
                    "run `provisioner output` to list them, or apply first",
                )
            })?;
            match (&o.value, raw, json) {
                // Asked for by name: printed as it is, sensitive or not (as `terraform output NAME`).
                (serde_json::Value::String(s), true, _) => std::println!("{s}"),
                (v, _, true) => std::println!("{}", serde_json::to_string(v).expect("json")),
                (v, _, false) => std::println!("{}", Value::from_json(v)),
            }
        }
        None if json => {
            let m: serde_json::Map<String, serde_json::Value> = outputs
                .iter()
                .map(|(k, o)| {
                    let value =
                        if o.sensitive { serde_json::json!(provisioner::redact::REDACTED) } else { o.value.clone() };
                    (k.clone(), serde_json::json!({"value": value, "sensitive": o.sensitive}))
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&m).expect("json"));
        }
        None => print!("{}", render::render_outputs(&outputs).trim_start_matches("\nOutputs:\n\n")),
    }
    Ok(0)
}

async fn state_cmd(cli: &Cli, ui: &Ui, sc: &StateCommand) -> Result<i32, EngineError> {
    let stack = Stack::open(&state_only(cli))?;
    match sc {
        StateCommand::Migrate { from, all_workspaces } => {
            let source = provisioner::stack::source_workspaces(from, &cli.dir, stack.role.clone())?;
            let names = if *all_workspaces { source.list().await? } else { vec![stack.workspace().to_owned()] };
            if names.is_empty() {
                return Err(EngineError::other(format!("no state to migrate in {}", source.describe())));
            }
            for ws in &names {
                let target = stack.workspaces.backend(ws)?.describe();
                match stack.migrate_workspace(source.as_ref(), ws).await? {
                    Migrated::Copied { lineage, serial } => {
                        println!("Workspace `{ws}`: copied lineage {lineage} serial {serial} to {target}.")
                    }
                    Migrated::AlreadyThere { serial } => {
                        println!(
                            "Workspace `{ws}`: {target} already holds this state (serial {serial}); nothing copied."
                        )
                    }
                    Migrated::NoSource if *all_workspaces => println!("Workspace `{ws}`: no state at the source."),
                    Migrated::NoSource => {
                        return Err(EngineError::with_hint(
                            format!("workspace `{ws}` has no state in {}", source.describe()),
                            "select the workspace with -w NAME, or pass --all-workspaces",
                        ))
                    }
                }
            }
            println!("The source was left in place ({}); remove it once you no longer need it.", source.describe());
            Ok(0)
        }
        StateCommand::Pull => {
            match stack.backend.load().await? {
                // The state exactly as stored (it is what `state push` takes back).
                Some(snap) => std::print!("{}", snap.to_pretty_json()),
                None => eprintln!("The workspace `{}` has no state.", stack.workspace()),
            }
            Ok(0)
        }
        StateCommand::Push { file, force } => {
            let (origin, text) = if file.as_os_str() == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|e| EngineError::other(format!("reading stdin: {e}")))?;
                ("stdin".to_owned(), text)
            } else {
                // Relative: the stack directory first, then the current one (as --var-file).
                let file = var_file_path(&cli.dir, file);
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| EngineError::other(format!("reading {}: {e}", file.display())))?;
                (file.display().to_string(), text)
            };
            let pushed = state::Snapshot::from_json(&text, &origin)?;
            let replaced = locked(&stack, "state push", push_state(&stack, pushed, &origin, *force)).await?;
            match replaced {
                Some(why) => println!("Replaced the stored state ({why}) with {origin}."),
                None => println!("Pushed {origin} as the state of workspace `{}`.", stack.workspace()),
            }
            Ok(0)
        }
        StateCommand::List => {
            for r in stack.load_state().await?.map(|s| s.resources).unwrap_or_default() {
                println!("{}", r.address);
            }
            Ok(0)
        }
        StateCommand::Show { address } => {
            let snap = stack.load_state().await?;
            let r = snap.as_ref().and_then(|s| s.resource(address)).ok_or_else(|| {
                EngineError::with_hint(format!("`{address}` is not in the state"), "see `provisioner state list`")
            })?;
            println!("# {}:", ui.style.bold(&r.address));
            println!("resource \"{}\" {{", r.type_name);
            print_attributes(r);
            println!("}}");
            Ok(0)
        }
        StateCommand::Rm { addresses } => {
            // Forget, then let go: the tool's tags come off each object, so no later run of this state
            // adopts or deletes it. If AWS cannot be reached, the object is listed as released in the state
            // and the next apply removes the tags.
            let cx = stack.connect().await.ok();
            let removed = locked(&stack, "state rm", async {
                let snap = stack.load_state().await?;
                let mut snap = snap.ok_or_else(|| EngineError::other("the state is empty"))?;
                let mut key = Some(snap.key());
                let mut removed = Vec::new();
                for a in addresses {
                    match snap.remove(a) {
                        Some(r) => removed.push(r),
                        None => {
                            return Err(EngineError::with_hint(
                                format!("`{a}` is not in the state"),
                                "see `provisioner state list`",
                            ))
                        }
                    }
                }
                let mut unreleased = Vec::new();
                for r in removed.iter().filter(|r| r.mode == state::Mode::Managed) {
                    let res = match &cx {
                        Some(cx) => stack.set_tool_tags(cx, r, None).await,
                        None => Err(EngineError::other("no AWS configuration")),
                    };
                    if let Err(e) = res {
                        eprintln!(
                            "warning: could not remove the tool's tags from {} ({e}); the next apply removes them",
                            r.address
                        );
                        unreleased.push(r.clone());
                    }
                }
                for r in &unreleased {
                    snap.release(state::ReleasedRecord {
                        type_name: r.type_name.clone(),
                        id: r.id.clone(),
                        address: r.address.clone(),
                    });
                }
                state::save_next(stack.backend.as_ref(), &mut snap, &mut key).await?;
                Ok(removed.len())
            })
            .await?;
            println!("Removed {removed} object(s) from the state (they still exist in AWS, no longer tagged as this stack's).");
            Ok(0)
        }
        StateCommand::Mv { source, destination } => {
            let (moved, lineage) = locked(&stack, "state mv", async {
                let mut snap = stack.load_state().await?.ok_or_else(|| EngineError::other("the state is empty"))?;
                let mut key = Some(snap.key());
                if snap.resource(destination).is_some() {
                    return Err(EngineError::other(format!("`{destination}` already exists in the state")));
                }
                let mut r = snap.remove(source).ok_or_else(|| {
                    EngineError::with_hint(format!("`{source}` is not in the state"), "see `provisioner state list`")
                })?;
                let (_, ty, _, _) = provisioner::lang::parse_address(destination)
                    .map_err(|e| EngineError::other(format!("invalid address `{destination}`: {e}")))?;
                if ty != r.type_name {
                    return Err(EngineError::other(format!("cannot move a {} to a {ty} address", r.type_name)));
                }
                r.address = destination.clone();
                snap.upsert(r.clone());
                state::save_next(stack.backend.as_ref(), &mut snap, &mut key).await?;
                Ok((r, snap.lineage))
            })
            .await?;
            println!("Moved {source} to {destination}.");
            // The object's own address tag follows; if AWS cannot be reached now, the next apply does it.
            if moved.mode == state::Mode::Managed {
                let tags = stack.tool_tags(Some(&lineage)).for_address(destination);
                if let Err(e) = async { stack.set_tool_tags(&stack.connect().await?, &moved, Some(&tags)).await }.await
                {
                    eprintln!("warning: the object's provisioner:address tag still names {source} ({e}); the next apply updates it");
                }
            }
            Ok(0)
        }
    }
}

/// Writes `pushed` as the workspace's state: over nothing, or over a state of the same lineage with an older
/// serial; anything else only with `force` (a serial not newer is then bumped past the stored one). Returns
/// why the stored state was replaced by force, if it was.
async fn push_state(
    stack: &Stack,
    mut pushed: state::Snapshot,
    origin: &str,
    force: bool,
) -> Result<Option<String>, EngineError> {
    let Some(current) = stack.backend.load().await? else {
        stack.backend.replace(&pushed, None).await?;
        return Ok(None);
    };
    let mismatch = if pushed.lineage != current.lineage {
        format!("its lineage {} differs from the stored state's {}", pushed.lineage, current.lineage)
    } else if pushed.serial <= current.serial {
        format!("its serial {} is not newer than the stored state's {}", pushed.serial, current.serial)
    } else {
        stack.backend.save(&pushed, Some(current.key())).await?;
        return Ok(None);
    };
    if !force {
        return Err(EngineError::with_hint(
            format!("refusing to push {origin}: {mismatch}"),
            "pull the state (`provisioner state pull`), make the change there and push that; or replace the stored state with --force",
        ));
    }
    if pushed.lineage == current.lineage {
        pushed.serial = current.serial + 1;
    }
    stack.backend.replace(&pushed, Some(current.key())).await?;
    Ok(Some(mismatch))
}

async fn import_cmd(cli: &Cli, ui: &Ui, address: &str, id: &str, vars: &VarArgs) -> Result<i32, EngineError> {
    let stack = Stack::open(&stack_options(cli, vars)?)?;
    let (mode, ty, name, key) = provisioner::lang::parse_address(address).map_err(|e| {
        EngineError::with_hint(format!("invalid address `{address}`: {e}"), "e.g. vpc.main or subnet.public[\"a\"]")
    })?;
    if mode != provisioner::lang::Mode::Managed {
        return Err(EngineError::other("only managed resources can be imported"));
    }
    let Some(block) = stack.engine.config.block(mode, &ty, &name) else {
        return Err(EngineError::with_hint(
            format!("`{address}` is not in the configuration"),
            format!("add a [resource.{ty}.{name}] block first, then import into it"),
        ));
    };
    let block_addr = provisioner::lang::instance_address(mode, &ty, &name, None);
    match (block.for_each.is_some(), key.as_deref()) {
        (true, None) => {
            return Err(EngineError::with_hint(
                format!("`{block_addr}` uses for_each, so an import address needs an instance key"),
                format!("e.g. provisioner import '{block_addr}[\"KEY\"]' ID"),
            ))
        }
        (false, Some(_)) => {
            return Err(EngineError::with_hint(
                format!("`{block_addr}` has no for_each, so its address takes no instance key"),
                format!("import into `{block_addr}`"),
            ))
        }
        _ => {}
    }
    let imp =
        stack.engine.registry.resource(&ty).ok_or_else(|| EngineError::other(format!("unknown type {ty}")))?.clone();
    let address = provisioner::lang::instance_address(mode, &ty, &name, key.as_deref());
    let cx = stack.connect().await?;
    locked(&stack, "import", async {
        let mut snap = stack
            .load_state()
            .await?
            .unwrap_or_else(|| state::Snapshot::new(Some(stack.engine.config.stack_name.clone())));
        // The key must be one for_each yields, evaluated against this state.
        if let (Some(k), Some(Some(keys))) = (key.as_deref(), stack.engine.instance_keys(block, Some(&snap))?) {
            if !keys.contains(k) {
                let known: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
                return Err(EngineError::with_hint(
                    format!("`{address}` is not produced by the configuration: for_each yields no key {k:?}"),
                    format!("keys it yields: {}", if known.is_empty() { "none".into() } else { known.join(", ") }),
                ));
            }
        }
        let exists = snap.serial > 0;
        let mut persisted = exists.then(|| snap.key());
        if snap.resource(&address).is_some() {
            return Err(EngineError::with_hint(
                format!("`{address}` is already in the state"),
                "`provisioner state rm` it first to import a different object",
            ));
        }
        let found = imp
            .read(&cx, &[id.to_owned()])
            .await
            .map_err(|error| EngineError::Provider { address: address.clone(), error })?;
        let raw = found.get(id).cloned().ok_or_else(|| {
            EngineError::with_hint(
                format!("cannot import {address}: no {ty} with id `{id}` exists"),
                "check the id and the region",
            )
        })?;
        let attrs = provisioner::engine::absorb(
            imp.as_ref(),
            raw,
            &Default::default(),
            &Default::default(),
            &stack.engine.config.default_tags,
        );
        let mut rec = state::ResourceRecord::new(&address, &ty, id);
        rec.attributes = provisioner::value::attrs_to_json(&attrs).unwrap_or_default();
        // What it refers to in the configuration and is already in state: a destroy after the block is
        // removed still deletes it before them.
        let present: Vec<String> = snap.resources.iter().map(|r| r.address.clone()).collect();
        rec.dependencies = stack.engine.state_deps(&block.key(), &present);
        snap.upsert(rec.clone());
        state::save_next(stack.backend.as_ref(), &mut snap, &mut persisted).await?;
        // The object now carries this state's tags, so it is found like any other (if this fails, the
        // next plan shows a re-tag update).
        let tags = stack.tool_tags(Some(&snap.lineage)).for_address(&address);
        if let Err(e) = stack.set_tool_tags(&cx, &rec, Some(&tags)).await {
            eprintln!("warning: could not tag {address} as this stack's ({e}); the next apply does it");
        }
        Ok(())
    })
    .await?;
    println!(
        "{} {address} imported from {id}. Run `provisioner plan` to see how it differs from the configuration.",
        ui.style.green("Import successful!")
    );
    Ok(0)
}

async fn workspace_cmd(cli: &Cli, wc: &WorkspaceCommand) -> Result<i32, EngineError> {
    let stack = Stack::open(&StackOptions { validate_only: true, ..state_only(cli) })?;
    let current = stack.workspace().to_owned();
    match wc {
        WorkspaceCommand::Show => println!("{current}"),
        WorkspaceCommand::List => {
            let with_state = stack.workspaces.list().await?;
            let names: Vec<String> = match &stack.environments {
                Some(envs) => {
                    let mut n = envs.clone();
                    // A default state left from before env/ still shows, so it can be moved.
                    if with_state.iter().any(|w| w == state::DEFAULT_WORKSPACE) {
                        n.insert(0, state::DEFAULT_WORKSPACE.to_owned());
                    }
                    n
                }
                None => {
                    let mut n = with_state.clone();
                    if !n.iter().any(|w| w == state::DEFAULT_WORKSPACE) {
                        n.insert(0, state::DEFAULT_WORKSPACE.to_owned());
                    }
                    n
                }
            };
            for n in names {
                let mark = if n == current { "*" } else { " " };
                let note = if with_state.contains(&n) { "" } else { "  (no state yet)" };
                println!("{mark} {n}{note}");
            }
        }
        WorkspaceCommand::New { name, from } => {
            state::validate_workspace_name(name)?;
            if let Some(envs) = &stack.environments {
                if !envs.contains(name) {
                    return Err(EngineError::with_hint(
                        format!(
                            "this stack's workspaces are its env/*.toml files ({}); `{name}` has none",
                            envs.join(", ")
                        ),
                        format!("create env/{name}.toml instead"),
                    ));
                }
            }
            let target = stack.workspaces.backend(name)?;
            if target.load().await?.is_some_and(|s| !s.resources.is_empty() || from.is_none()) {
                return Err(EngineError::other(format!("workspace `{name}` already exists")));
            }
            // Hold the locks of both workspaces involved.
            let mut locks: Vec<(std::sync::Arc<dyn state::Backend>, String)> = Vec::new();
            for b in std::iter::once(target.clone()).chain(match from {
                Some(src) => Some(stack.workspaces.backend(src)?),
                None => None,
            }) {
                let info = state::LockInfo::new("workspace new", &b.describe());
                if let Err(e) = state::lock_with_timeout(b.as_ref(), &info, stack.lock_timeout).await {
                    for (b, id) in &locks {
                        let _ = b.unlock(id).await;
                    }
                    return Err(e.into());
                }
                locks.push((b, info.id));
            }
            let res = async {
                match from {
                    None => {
                        let mut snap = state::Snapshot::new(Some(stack.engine.config.stack_name.clone()));
                        let mut key = None;
                        state::save_next(target.as_ref(), &mut snap, &mut key).await?;
                        println!("Created workspace `{name}`. Use it with -w {name}.");
                    }
                    Some(src) => {
                        let source = stack.workspaces.backend(src)?;
                        let mut old = source
                            .load()
                            .await?
                            .ok_or_else(|| EngineError::other(format!("workspace `{src}` has no state to move")))?;
                        let moved = old.resources.len();
                        let existing = target.load().await?.map(|s| s.key());
                        let mut copy = old.clone();
                        copy.serial = existing.map_or(0, |(_, s)| s);
                        if let Some((l, _)) = existing {
                            copy.lineage = l;
                        }
                        let mut key = existing;
                        state::save_next(target.as_ref(), &mut copy, &mut key).await?;
                        let mut key = Some(old.key());
                        old.resources.clear();
                        old.outputs.clear();
                        state::save_next(source.as_ref(), &mut old, &mut key).await?;
                        println!(
                            "Moved {moved} resource(s) from workspace `{src}` into `{name}`. The next apply there tags them \
                             with the new workspace."
                        );
                    }
                }
                Ok::<_, EngineError>(())
            }
            .await;
            for (b, id) in &locks {
                b.unlock(id).await?;
            }
            res?;
        }
        WorkspaceCommand::Delete { name } => {
            if *name == current {
                return Err(EngineError::with_hint(
                    format!("workspace `{name}` is the selected one"),
                    "select another with -w NAME first",
                ));
            }
            stack.workspaces.delete(name).await?;
            println!("Deleted workspace `{name}`.");
        }
    }
    Ok(0)
}
