//! Human rendering of plans and apply results, in the shape a Terraform user reads at a glance:
//! `+` create, `~` update in place, `-/+` replace (`+/-` when create_before_destroy), `-` destroy,
//! per-attribute `old -> new`, `# forces replacement`, `(known after apply)`, sensitive values redacted.
//!
//! Pure functions from a [`Plan`] to text; colour only when the caller says so (TTY and no `NO_COLOR`).

use std::fmt::Write;

use crate::apply::{ApplyReport, OpKind, Outcome};
use crate::plan::{Action, Change, Plan, Summary};
use crate::value::{Attrs, Value};

#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

const SENSITIVE: &str = "(sensitive value)";

/// A value as shown in a plan: one line when short, else indented over several lines.
pub fn fmt_value(v: &Value, indent: usize) -> String {
    let one = v.to_string();
    if one.len() <= 72 || !matches!(v, Value::List(_) | Value::Map(_)) {
        return one;
    }
    let pad = " ".repeat(indent + 4);
    let end = " ".repeat(indent);
    match v {
        Value::List(items) => {
            let mut s = String::from("[\n");
            for i in items {
                let _ = writeln!(s, "{pad}{},", fmt_value(i, indent + 4));
            }
            s + &end + "]"
        }
        Value::Map(m) => {
            let width = m.keys().map(|k| k.len()).max().unwrap_or(0);
            let mut s = String::from("{\n");
            for (k, i) in m {
                let _ = writeln!(s, "{pad}{k:<width$} = {}", fmt_value(i, indent + 4));
            }
            s + &end + "}"
        }
        _ => one,
    }
}

fn shown(c: &Change, name: &str, v: &Value, indent: usize) -> String {
    if c.sensitive.iter().any(|s| s == name) && !matches!(v, Value::Unknown | Value::Null) {
        SENSITIVE.to_owned()
    } else {
        fmt_value(v, indent)
    }
}

/// What a line of a diff does; the text plan colours it, the markdown plan turns it into a diff marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    Add,
    Remove,
    Change,
    /// Shown unchanged, for orientation (`id`, `name`).
    Same,
}

/// One attribute line of a change: its value (`old -> new` when changed) with sensitive values redacted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrLine {
    pub mark: Mark,
    pub name: String,
    pub value: String,
    /// The change of this attribute forces replacement.
    pub forces: bool,
}

/// The attribute diff of one change, as every renderer shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttrDiff {
    pub lines: Vec<AttrLine>,
    /// Unchanged attributes left out.
    pub hidden: usize,
    /// The width names are padded to (the longest name shown or hidden).
    pub width: usize,
}

impl AttrDiff {
    /// The `# (N unchanged attributes hidden)` line, if any are.
    pub fn hidden_note(&self) -> Option<String> {
        (self.hidden > 0).then(|| {
            format!("# ({} unchanged attribute{} hidden)", self.hidden, if self.hidden == 1 { "" } else { "s" })
        })
    }
}

/// The attribute lines of `c`: every attribute of a create, read or destroy; the changed ones of an update
/// or replace (plus `id` and `name`). Values spanning several lines are laid out for a name at column
/// `indent`.
pub fn attr_diff(c: &Change, indent: usize) -> AttrDiff {
    let empty = Attrs::new();
    let before = c.before.as_ref().unwrap_or(&empty);
    let after = c.after.as_ref().unwrap_or(&empty);
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    let visible =
        |v: Option<&Value>| v.is_some_and(|v| !crate::engine::same(v, &Value::Null) || matches!(v, Value::Unknown));
    let names: Vec<&String> = names.into_iter().filter(|n| visible(before.get(*n)) || visible(after.get(*n))).collect();
    let mut diff = AttrDiff { width: names.iter().map(|n| n.len()).max().unwrap_or(0), ..AttrDiff::default() };
    for n in names {
        let b = before.get(n).cloned().unwrap_or(Value::Null);
        let a = after.get(n).cloned().unwrap_or(Value::Null);
        let line = |mark, value| AttrLine { mark, name: n.clone(), value, forces: false };
        let line = match c.action {
            Action::Create | Action::Read => line(Mark::Add, shown(c, n, &a, indent)),
            Action::Delete => line(Mark::Remove, shown(c, n, &b, indent)),
            Action::Update | Action::Replace | Action::NoOp => {
                if crate::engine::same(&a, &b) {
                    if n == "id" || n == "name" {
                        line(Mark::Same, shown(c, n, &b, indent))
                    } else {
                        diff.hidden += 1;
                        continue;
                    }
                } else if matches!(b, Value::Null) && !matches!(a, Value::Unknown) {
                    line(Mark::Add, shown(c, n, &a, indent))
                } else {
                    AttrLine {
                        forces: c.forces.iter().any(|f| f == n),
                        ..line(Mark::Change, format!("{} -> {}", shown(c, n, &b, indent), shown(c, n, &a, indent)))
                    }
                }
            }
        };
        diff.lines.push(line);
    }
    diff
}

/// What happens to `c`, as its header says after the address: "will be created", "must be replaced
/// (tainted)", "will be adopted: vpc-1, …".
pub fn describe(c: &Change) -> String {
    let adopted = |then: &str| match &c.leftover {
        Some(id) => format!(
            "will be adopted{then}: {id}, {} (left by an interrupted run)",
            c.reason.as_deref().unwrap_or("found by its tags")
        ),
        None => String::new(),
    };
    let mut what = match c.action {
        Action::Update | Action::NoOp if c.adopts() => adopted(""),
        Action::Replace if c.adopts() => adopted(" and replaced"),
        Action::Create => "will be created".to_owned(),
        Action::Update => "will be updated in-place".to_owned(),
        Action::Replace => "must be replaced".to_owned(),
        Action::Delete => "will be destroyed".to_owned(),
        Action::Read => "will be read during apply".to_owned(),
        Action::NoOp => "is unchanged".to_owned(),
    };
    if let Some(r) = c.reason.as_ref().filter(|_| !c.adopts()) {
        let _ = write!(what, " ({r})");
    }
    what
}

/// The action symbol of `c`, padded to three columns: `  +`, `  ~`, `-/+` (`+/-` create-first), `  -`, ` <=`.
pub fn symbol(c: &Change, st: &Style) -> String {
    match c.action {
        Action::Create => st.green("  +"),
        Action::Update => st.yellow("  ~"),
        Action::Replace if c.create_before_destroy => format!("{}/{}", st.green("+"), st.red("-")),
        Action::Replace => format!("{}/{}", st.red("-"), st.green("+")),
        Action::Delete => st.red("  -"),
        Action::Read => st.dim(" <="),
        Action::NoOp => "   ".to_owned(),
    }
}

/// The block of one change.
pub fn render_change(c: &Change, st: &Style) -> String {
    let mut out = format!("  # {} {}\n", st.bold(&c.address), describe(c));
    let kind = if c.mode == state::Mode::Data { "data" } else { "resource" };
    let name = c.block.rsplit('.').next().unwrap_or(&c.block);
    let _ = writeln!(out, "{} {kind} \"{}\" \"{name}\" {{", symbol(c, st), c.type_name);
    let diff = attr_diff(c, 8);
    let width = diff.width;
    for l in &diff.lines {
        let (n, value) = (&l.name, &l.value);
        let line = match l.mark {
            Mark::Add => format!("{} {n:<width$} = {value}", st.green("+")),
            Mark::Remove => format!("{} {n:<width$} = {value}", st.red("-")),
            Mark::Same => format!("  {n:<width$} = {value}"),
            Mark::Change => format!(
                "{} {n:<width$} = {value}{}",
                st.yellow("~"),
                if l.forces { st.red(" # forces replacement") } else { String::new() }
            ),
        };
        let _ = writeln!(out, "      {line}");
    }
    if let Some(note) = diff.hidden_note() {
        let _ = writeln!(out, "        {}", st.dim(&note));
    }
    out.push_str("    }\n");
    out
}

/// What the plan says besides its changes, before them: drift, objects left alone, objects released by
/// `state rm`, protection flags state will record. Empty when there is none of that.
pub fn render_notes(plan: &Plan, st: &Style) -> String {
    let mut out = String::new();
    if !plan.drift.is_empty() {
        let _ = writeln!(out, "{}\n", st.bold("Note: Objects have changed outside of provisioner"));
        for d in &plan.drift {
            match &d.changed {
                None => {
                    let _ = writeln!(out, "  # {} has been deleted", st.bold(&d.address));
                }
                Some(attrs) => {
                    let _ = writeln!(out, "  # {} has changed", st.bold(&d.address));
                    for a in attrs {
                        let _ = writeln!(
                            out,
                            "    {} {} = {} -> {}",
                            st.yellow("~"),
                            a.name,
                            Value::from_json(&a.before),
                            Value::from_json(&a.after)
                        );
                    }
                }
            }
        }
        out.push('\n');
    }
    let (foreign, untracked): (Vec<_>, Vec<_>) = plan.untracked.iter().partition(|u| u.lineage.is_some());
    if !foreign.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            st.yellow(&format!(
                "Warning: {} object(s) carry this stack's and workspace's tags but belong to another state (lineage{}); \
                 left alone:",
                foreign.len(),
                match &plan.lineage {
                    Some(l) => format!(" of this state: {l}"),
                    None => " of this state: none yet".to_owned(),
                }
            ))
        );
        for u in &foreign {
            let _ = writeln!(
                out,
                "  {} {}{}: lineage {}",
                u.type_name,
                u.id,
                u.address.as_deref().map(|a| format!(" ({a})")).unwrap_or_default(),
                u.lineage.as_deref().unwrap_or_default()
            );
        }
        out.push('\n');
    }
    if !plan.release.is_empty() {
        let _ = writeln!(out, "Objects released by `state rm` will have the tool's tags removed:");
        for r in &plan.release {
            let _ = writeln!(out, "  {} {} (was {})", r.type_name, r.id, r.address);
        }
        out.push('\n');
    }
    if !untracked.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            st.yellow(&format!("Warning: {} object(s) carry this stack's tags but are not in state:", untracked.len()))
        );
        for u in &untracked {
            match &u.address {
                Some(a) => {
                    let _ = writeln!(
                        out,
                        "  {} {} (was {a}): adopt it with `provisioner import '{a}' {}`",
                        u.type_name, u.id, u.id
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "  {} {}: adopt it with `provisioner import ADDRESS {}`",
                        u.type_name, u.id, u.id
                    );
                }
            }
        }
        out.push('\n');
    }
    let protection: Vec<&Change> = protection_changes(plan).collect();
    if !protection.is_empty() {
        let _ = writeln!(out, "State will record lifecycle.prevent_destroy:");
        for c in &protection {
            let now = if c.prevent_destroy == Some(true) {
                "protected from destroy"
            } else {
                "no longer protected from destroy"
            };
            let _ = writeln!(out, "  {}: {now}", c.address);
        }
        out.push('\n');
    }
    out
}

/// The instances a plan shows: every change, and the reads during apply (which say why).
pub fn shown_changes(plan: &Plan) -> Vec<&Change> {
    plan.changes.iter().filter(|c| c.action.is_change() || (c.action == Action::Read && c.reason.is_some())).collect()
}

/// Protection flags state will remember (or forget) for objects that otherwise stay as they are.
fn protection_changes(plan: &Plan) -> impl Iterator<Item = &Change> {
    plan.changes.iter().filter(|c| c.prevent_destroy.is_some() && !c.action.is_change())
}

/// True when the plan reads "No changes.": nothing to change, read, release or record.
pub fn no_changes(plan: &Plan) -> bool {
    shown_changes(plan).is_empty()
        && output_lines(plan).is_empty()
        && plan.release.is_empty()
        && protection_changes(plan).next().is_none()
}

/// "1 to add, 2 to change, 0 to destroy", with " (1 adopted)" when leftovers are adopted.
pub fn counts(s: &Summary) -> String {
    let adopted = if s.adopt > 0 { format!(" ({} adopted)", s.adopt) } else { String::new() };
    format!("{} to add, {} to change, {} to destroy{adopted}", s.add, s.change, s.destroy)
}

/// One line per output apply changes, sensitive values redacted: `name = value` (added), `name = old ->
/// new` (changed) or `name` (removed).
pub fn output_lines(plan: &Plan) -> Vec<(Mark, String)> {
    let mut lines = Vec::new();
    for (name, o) in plan.outputs.iter().filter(|(_, o)| o.is_change()) {
        let after = if o.sensitive { SENSITIVE.to_owned() } else { o.after.to_string() };
        lines.push(match (&o.before, &o.after) {
            (None, _) => (Mark::Add, format!("{name} = {after}")),
            (Some(_), Value::Null) => (Mark::Remove, name.clone()),
            (Some(b), _) => {
                let before = if o.sensitive { SENSITIVE.to_owned() } else { Value::from_json(b).to_string() };
                (Mark::Change, format!("{name} = {before} -> {after}"))
            }
        });
    }
    lines
}

/// The whole plan as the `plan` command prints it.
pub fn render_plan(plan: &Plan, st: &Style) -> String {
    let mut out = render_notes(plan, st);
    if no_changes(plan) {
        out.push_str(&format!(
            "{} Your infrastructure matches the configuration.\n",
            st.green(&st.bold("No changes."))
        ));
        return out;
    }
    let changes = shown_changes(plan);
    if !changes.is_empty() {
        let _ = writeln!(out, "provisioner will perform the following actions:\n");
        for c in changes {
            out.push_str(&render_change(c, st));
            out.push('\n');
        }
    }
    let _ = writeln!(out, "{} {}.", st.bold("Plan:"), counts(&plan.summary()));
    let outputs = output_lines(plan);
    if !outputs.is_empty() {
        let _ = writeln!(out, "\nChanges to Outputs:");
        for (mark, line) in outputs {
            let symbol = match mark {
                Mark::Add => st.green("+"),
                Mark::Remove => st.red("-"),
                Mark::Change | Mark::Same => st.yellow("~"),
            };
            let _ = writeln!(out, "  {symbol} {line}");
        }
    }
    out
}

/// The closing lines of `apply`/`destroy`.
pub fn render_report(report: &ApplyReport, st: &Style, destroy: bool) -> String {
    let mut out = String::new();
    let failed: Vec<_> = report.failed().collect();
    let skipped = report.results.iter().filter(|r| matches!(r.outcome, Outcome::Skipped { .. })).count();
    let not_started = report.results.iter().filter(|r| matches!(r.outcome, Outcome::NotStarted)).count();
    if report.interrupted {
        let _ = writeln!(
            out,
            "{} in-flight operations finished and state was saved; {not_started} operation(s) not started.",
            st.yellow("Interrupted:")
        );
    }
    for r in &report.results {
        if let Outcome::Deferred { reason } = &r.outcome {
            let _ = writeln!(out, "{} {}: {reason}", st.yellow("Deferred:"), r.address);
        }
    }
    for f in &failed {
        if let Outcome::Failed { error } = &f.outcome {
            let _ = writeln!(out, "{} {} ({:?}): {error}", st.red("Error:"), f.address, f.op);
        }
    }
    let added = report.count(OpKind::Create);
    let changed = report.count(OpKind::Update);
    let destroyed = report.count(OpKind::Delete);
    let line = if destroy {
        format!("{destroyed} destroyed.")
    } else {
        format!("{added} added, {changed} changed, {destroyed} destroyed.")
    };
    if failed.is_empty() && !report.interrupted {
        let _ = writeln!(
            out,
            "{} {line}",
            st.green(&st.bold(if destroy { "Destroy complete!" } else { "Apply complete!" }))
        );
    } else {
        let _ = writeln!(
            out,
            "{} {line} {} failed, {skipped} skipped because a dependency failed.",
            st.red(&st.bold("Apply incomplete:")),
            failed.len()
        );
    }
    out
}

/// Outputs as `output` and the end of `apply` print them.
pub fn render_outputs(outputs: &std::collections::BTreeMap<String, state::OutputRecord>) -> String {
    let mut out = String::new();
    if outputs.is_empty() {
        return out;
    }
    out.push_str("\nOutputs:\n\n");
    let width = outputs.keys().map(String::len).max().unwrap_or(0);
    for (k, o) in outputs {
        let v = if o.sensitive { "<sensitive>".to_owned() } else { Value::from_json(&o.value).to_string() };
        let _ = writeln!(out, "{k:<width$} = {v}");
    }
    out
}
