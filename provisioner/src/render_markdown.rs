//! Markdown rendering of plans, for pull-request comments and CI job summaries (`plan --format markdown`,
//! `show --format markdown FILE`): a title with the counts, a table of the changes by action, the plan's
//! notes and warnings, the changes to outputs, and one collapsible `<details>` per resource with its
//! attribute diff in a fenced `diff` block.
//!
//! Everything said comes from [`crate::render`] — the attribute diff with sensitive values redacted, the
//! descriptions, the notes, the counts — so the markdown says exactly what the text plan says. In the diff
//! blocks the marker is in the first column, where GitHub colours it: `+` added, `-` removed, `!` changed
//! in place (GitHub's diff highlighting colours `!`, not Terraform's `~`).
//!
//! A document longer than [`Options::max_len`] characters (a GitHub comment holds 65,536) leaves out the
//! per-resource details — then, if still too long, outputs, notes and the resource lists of the table — and
//! says where the full plan is. Pure functions from a [`Plan`] to text, without colour codes.

use std::fmt::Write;

use crate::plan::{Action, Change, Plan};
use crate::render::{self, Mark, Style};

/// The default size cap: GitHub's 65,536 characters of a comment, less room for a header a workflow adds.
pub const DEFAULT_MAX_LEN: usize = 60_000;

/// How to render.
#[derive(Clone, Copy, Debug)]
pub struct Options<'a> {
    /// Past this many characters, leave the details out; 0 = no limit.
    pub max_len: usize,
    /// The saved plan, named in the line that says where the full plan is.
    pub plan_file: Option<&'a str>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options { max_len: DEFAULT_MAX_LEN, plan_file: None }
    }
}

/// The plan as a markdown document, within `opts.max_len` characters when it can be.
pub fn render_markdown(plan: &Plan, opts: &Options) -> String {
    let full = document(plan, Parts::ALL, None);
    let len = full.chars().count();
    if opts.max_len == 0 || len <= opts.max_len {
        return full;
    }
    let cut = cut_note(len, opts);
    let smaller = [
        Parts { details: false, ..Parts::ALL },
        Parts { details: false, outputs: false, ..Parts::ALL },
        Parts { details: false, outputs: false, notes: false, ..Parts::ALL },
        Parts { details: false, outputs: false, notes: false, lists: false },
    ];
    let mut doc = String::new();
    for parts in smaller {
        doc = document(plan, parts, Some(&cut));
        if doc.chars().count() <= opts.max_len {
            break;
        }
    }
    doc
}

/// Which sections a document has; the title and the table's counts are always there.
#[derive(Clone, Copy, Debug)]
struct Parts {
    details: bool,
    outputs: bool,
    notes: bool,
    /// The addresses in the table's rows.
    lists: bool,
}

impl Parts {
    const ALL: Parts = Parts { details: true, outputs: true, notes: true, lists: true };
}

fn document(plan: &Plan, parts: Parts, cut: Option<&str>) -> String {
    let mut out = title(plan) + "\n\n";
    if render::no_changes(plan) {
        out.push_str("Your infrastructure matches the configuration.\n\n");
    }
    let changes = render::shown_changes(plan);
    if !changes.is_empty() {
        out.push_str(&table(&changes, parts.lists));
        out.push('\n');
    }
    let notes = render::render_notes(plan, &Style::default());
    if parts.notes && !notes.trim().is_empty() {
        let _ = writeln!(out, "#### Notes and warnings\n\n{}", fenced("text", notes.trim_end()));
    }
    let outputs = render::output_lines(plan);
    if parts.outputs && !outputs.is_empty() {
        let mut body = String::new();
        for (mark, line) in &outputs {
            diff_line(&mut body, *mark, line);
        }
        let _ = writeln!(out, "#### Changes to outputs\n\n{}", fenced("diff", body.trim_end()));
    }
    if parts.details {
        for c in &changes {
            out.push_str(&details(c));
            out.push('\n');
        }
    }
    if let Some(cut) = cut {
        out.push_str(cut);
        out.push('\n');
    }
    out.trim_end().to_owned() + "\n"
}

/// `### Plan for hello (staging): 3 to add, 1 to change, 0 to destroy`, or `…: No changes.`; the
/// workspace is named unless it is `default`.
fn title(plan: &Plan) -> String {
    let kind = if plan.destroy { "Destroy plan" } else { "Plan" };
    let mut who = text(&plan.stack);
    if plan.workspace != crate::aws::DEFAULT_WORKSPACE {
        let _ = write!(who, " ({})", text(&plan.workspace));
    }
    let what = if render::no_changes(plan) { "No changes.".to_owned() } else { render::counts(&plan.summary()) };
    format!("### {kind} for {who}: {what}")
}

/// One row per kind of action: its count and (with `lists`) the addresses.
fn table(changes: &[&Change], lists: bool) -> String {
    let kinds = [
        (Action::Create, "Create"),
        (Action::Update, "Update in place"),
        (Action::Replace, "Replace"),
        (Action::Delete, "Destroy"),
        (Action::Read, "Read"),
    ];
    let mut out = String::from(if lists {
        "| Action | Count | Resources |\n|---|--:|---|\n"
    } else {
        "| Action | Count |\n|---|--:|\n"
    });
    for (action, label) in kinds {
        let of: Vec<&&Change> = changes.iter().filter(|c| c.action == action).collect();
        if of.is_empty() {
            continue;
        }
        let _ = write!(out, "| {label} | {} |", of.len());
        if lists {
            let names: Vec<String> =
                of.iter().map(|c| cell_code(&c.address) + if c.adopts() { " (adopted)" } else { "" }).collect();
            let _ = write!(out, " {} |", names.join(", "));
        }
        out.push('\n');
    }
    out
}

/// The collapsible block of one change: what happens to it, then its attribute diff.
fn details(c: &Change) -> String {
    let diff = render::attr_diff(c, 0);
    let width = diff.width;
    let mut body = String::new();
    for l in &diff.lines {
        let forces = if l.forces { " # forces replacement" } else { "" };
        diff_line(&mut body, l.mark, &format!("{:<width$} = {}{forces}", l.name, l.value));
    }
    if let Some(note) = diff.hidden_note() {
        diff_line(&mut body, Mark::Same, &note);
    }
    if body.is_empty() {
        diff_line(&mut body, Mark::Same, "# (no attributes)");
    }
    format!(
        "<details><summary><code>{}</code> {}</summary>\n\n{}\n</details>\n",
        html(&c.address),
        html(&render::describe(c)),
        fenced("diff", body.trim_end())
    )
}

/// Appends `line` (which may span several lines) with its diff marker on every line, so each is coloured.
fn diff_line(out: &mut String, mark: Mark, line: &str) {
    let marker = match mark {
        Mark::Add => '+',
        Mark::Remove => '-',
        Mark::Change => '!',
        Mark::Same => ' ',
    };
    for l in line.lines() {
        let _ = writeln!(out, "{marker} {l}");
    }
}

/// The line that replaces what was left out.
fn cut_note(len: usize, opts: &Options) -> String {
    let show =
        code(&format!("provisioner show --format markdown --max-len 0 {}", opts.plan_file.unwrap_or("PLANFILE")));
    format!(
        "> [!NOTE]\n> This plan is too long for a comment ({len} characters, the limit is {}), so the details of \
         each resource are left out. See the job summary for the full plan, or print it from the saved plan with \
         {show}.",
        opts.max_len
    )
}

/// `body` in a fenced code block whose fence is longer than any run of backticks inside it.
fn fenced(lang: &str, body: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(body).max(2) + 1);
    format!("{fence}{lang}\n{body}\n{fence}\n")
}

/// `s` as a code span (delimited by more backticks than it holds in a row).
fn code(s: &str) -> String {
    let n = longest_backtick_run(s);
    if n == 0 {
        return format!("`{s}`");
    }
    let fence = "`".repeat(n + 1);
    format!("{fence} {s} {fence}")
}

/// A code span in a table cell: `|` would end the cell even inside the span, so it is escaped.
fn cell_code(s: &str) -> String {
    code(&s.replace('|', "\\|"))
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// Text for HTML (`<summary>`).
fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Plain text in markdown (the title): characters markdown would act on are backslash-escaped.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if "\\`*_[]<>|~&#".contains(ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Drift, DriftAttr, OutputChange, PLAN_FORMAT_VERSION};
    use crate::value::{Attrs, Value};

    fn attrs(pairs: &[(&str, Value)]) -> Attrs {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    /// A change with the fields a render reads; the others take the defaults a plan file's reader gives them.
    fn change(address: &str, action: Action, before: Option<Attrs>, after: Option<Attrs>) -> Change {
        let block = address.split('[').next().unwrap_or_default();
        let mut c: Change = serde_json::from_value(serde_json::json!({
            "address": address,
            "mode": "managed",
            "type": block.split('.').next().unwrap_or_default(),
            "block": block,
            "action": action,
        }))
        .expect("a change");
        c.before = before;
        c.after = after;
        c
    }

    fn plan(changes: Vec<Change>) -> Plan {
        let mut p: Plan = serde_json::from_value(serde_json::json!({
            "format_version": PLAN_FORMAT_VERSION,
            "stack": "hello",
            "workspace": "staging",
            "state": null,
            "config_hash": "h",
            "variables": {},
            "changes": [],
            "outputs": {},
        }))
        .expect("a plan");
        p.changes = changes;
        p
    }

    /// A plan with one change of each kind, a sensitive attribute and an output change.
    fn mixed() -> Plan {
        let create = change(
            "subnet.public[\"a\"]",
            Action::Create,
            None,
            Some(attrs(&[
                ("id", Value::Unknown),
                ("cidr_block", Value::str("10.0.1.0/24")),
                ("tags", Value::Map([("Name".to_owned(), Value::str("a"))].into_iter().collect())),
            ])),
        );
        let mut update = change(
            "ecs_task_definition.api",
            Action::Update,
            Some(attrs(&[
                ("id", Value::str("api:3")),
                ("family", Value::str("api")),
                ("secret_env", Value::str("old-secret")),
                ("cpu", Value::int(256)),
            ])),
            Some(attrs(&[
                ("id", Value::str("api:3")),
                ("family", Value::str("api")),
                ("secret_env", Value::str("new-secret")),
                ("cpu", Value::int(512)),
            ])),
        );
        update.sensitive = vec!["secret_env".into()];
        let mut replace = change(
            "subnet.b",
            Action::Replace,
            Some(attrs(&[
                ("id", Value::str("subnet-1")),
                ("cidr_block", Value::str("10.0.2.0/24")),
                ("vpc_id", Value::str("vpc-1")),
            ])),
            Some(attrs(&[
                ("id", Value::Unknown),
                ("cidr_block", Value::str("10.0.3.0/24")),
                ("vpc_id", Value::str("vpc-1")),
            ])),
        );
        replace.forces = vec!["cidr_block".into()];
        let delete = change(
            "security_group.old",
            Action::Delete,
            Some(attrs(&[
                ("id", Value::str("sg-1")),
                ("name", Value::str("a|b`c")),
                (
                    "ingress",
                    Value::List(
                        (0..3)
                            .map(|i| {
                                Value::Map(attrs(&[
                                    ("from_port", Value::int(8000 + i)),
                                    ("cidr_blocks", Value::List(vec![Value::str("0.0.0.0/0")])),
                                ]))
                            })
                            .collect(),
                    ),
                ),
            ])),
            None,
        );
        let mut p = plan(vec![create, update, replace, delete]);
        p.outputs.insert("subnet_id".into(), OutputChange { before: None, after: Value::Unknown, sensitive: false });
        p.outputs.insert(
            "db_password".into(),
            OutputChange { before: Some(serde_json::json!("old")), after: Value::str("new-password"), sensitive: true },
        );
        p.outputs.insert(
            "gone".into(),
            OutputChange { before: Some(serde_json::json!("x")), after: Value::Null, sensitive: false },
        );
        p
    }

    #[test]
    fn create_update_replace_delete_with_sensitive_and_outputs() {
        let md = render_markdown(&mixed(), &Options::default());
        assert!(!md.contains("new-secret") && !md.contains("old-secret") && !md.contains("new-password"), "{md}");
        assert!(md.contains("(sensitive value)"), "{md}");
        assert!(!md.contains('\x1b'), "no colour codes: {md}");
        insta::assert_snapshot!(md);
    }

    /// Redacted exactly as in the text plan.
    #[test]
    fn sensitive_values_read_as_in_the_text_plan() {
        let p = mixed();
        let text = render::render_plan(&p, &Style::default());
        let md = render_markdown(&p, &Options::default());
        let line = "secret_env = (sensitive value) -> (sensitive value)";
        assert!(text.contains(line) && md.contains(line), "{text}\n{md}");
        assert!(text.contains("~ db_password = (sensitive value) -> (sensitive value)"), "{text}");
        assert!(md.contains("! db_password = (sensitive value) -> (sensitive value)"), "{md}");
    }

    #[test]
    fn no_changes_with_drift() {
        let mut p = plan(vec![change(
            "vpc.main",
            Action::NoOp,
            Some(attrs(&[("id", Value::str("vpc-1"))])),
            Some(attrs(&[("id", Value::str("vpc-1"))])),
        )]);
        p.workspace = "default".into();
        p.drift = vec![Drift {
            address: "vpc.main".into(),
            changed: Some(vec![DriftAttr {
                name: "enable_dns_hostnames".into(),
                before: serde_json::json!(true),
                after: serde_json::json!(false),
            }]),
        }];
        let md = render_markdown(&p, &Options::default());
        assert!(md.starts_with("### Plan for hello: No changes.\n"), "{md}");
        insta::assert_snapshot!(md);
    }

    #[test]
    fn destroy_plan_and_a_create_first_replacement_with_reason() {
        let mut replace = change(
            "lb_target_group.api",
            Action::Replace,
            Some(attrs(&[("id", Value::str("arn:tg/1")), ("port", Value::int(80))])),
            Some(attrs(&[("id", Value::Unknown), ("port", Value::int(80))])),
        );
        replace.create_before_destroy = true;
        replace.reason = Some("tainted <by a failed create>".into());
        let mut p = plan(vec![replace]);
        let md = render_markdown(&p, &Options::default());
        assert!(md.contains("must be replaced (tainted &lt;by a failed create&gt;)</summary>"), "{md}");
        insta::assert_snapshot!("create_first_replacement", md);

        p.destroy = true;
        p.changes = vec![change("vpc.main", Action::Delete, Some(attrs(&[("id", Value::str("vpc-1"))])), None)];
        let md = render_markdown(&p, &Options::default());
        assert!(md.starts_with("### Destroy plan for hello (staging): 0 to add, 0 to change, 1 to destroy\n"), "{md}");
    }

    fn many(n: usize) -> Plan {
        let changes = (0..n)
            .map(|i| {
                change(
                    &format!("subnet.s[\"{i:03}\"]"),
                    Action::Create,
                    None,
                    Some(attrs(&[
                        ("id", Value::Unknown),
                        ("cidr_block", Value::str(format!("10.{}.{}.0/24", i / 256, i % 256))),
                    ])),
                )
            })
            .collect();
        plan(changes)
    }

    #[test]
    fn size_cap_drops_details_and_points_to_the_full_plan() {
        let p = many(400);
        let full = render_markdown(&p, &Options { max_len: 0, plan_file: None });
        assert!(full.chars().count() > DEFAULT_MAX_LEN, "the test needs a plan past the cap: {}", full.len());
        assert_eq!(full.matches("<details>").count(), 400);

        let md = render_markdown(&p, &Options { max_len: DEFAULT_MAX_LEN, plan_file: Some("tfplan") });
        assert!(md.chars().count() <= DEFAULT_MAX_LEN);
        assert!(!md.contains("<details>"), "details are left out");
        assert!(md.starts_with("### Plan for hello (staging): 400 to add, 0 to change, 0 to destroy\n"), "{md}");
        assert!(md.contains("| Create | 400 | `subnet.s[\"000\"]`"), "the table keeps its resources");
        assert!(md.contains("`provisioner show --format markdown --max-len 0 tfplan`"), "{md}");

        // Tighter than the table: counts only, still with the pointer.
        let md = render_markdown(&p, &Options { max_len: 1000, plan_file: None });
        assert!(md.chars().count() <= 1000, "{md}");
        insta::assert_snapshot!("size_cap_counts_only", md);
    }

    #[test]
    fn escapes_cells_summaries_and_fences() {
        assert_eq!(cell_code("a|b"), "`a\\|b`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(html("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#39;");
        assert_eq!(text("my_stack*"), "my\\_stack\\*");
        assert_eq!(fenced("diff", "+ x = \"```\""), "````diff\n+ x = \"```\"\n````\n");
        let md = render_markdown(&mixed(), &Options::default());
        assert!(md.contains("<summary><code>subnet.public[&quot;a&quot;]</code> will be created</summary>"), "{md}");
    }
}
