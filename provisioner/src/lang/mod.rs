//! The stack language: TOML files with `${…}` expressions — loading, validation and evaluation.
//!
//! A stack is a directory; every `*.toml` directly in it belongs to it (sorted by file name). [`load`]
//! parses them into a [`Config`] and validates it against the registry's schemas, reporting every problem
//! it finds with its file, line and column ([`Diagnostics`]). [`resolve_variables`] turns defaults, the
//! environment, var-files and `--var` pairs into typed variable values. [`eval`], [`eval_attrs`] and
//! [`expand_for_each`] evaluate the parsed expressions against a [`Scope`] of known values; values that
//! are known only after apply are [`Value::Unknown`] and propagate.
//!
//! Invariants: templates are parsed once, at load; every [`Node`] and every expression carries the byte
//! span it came from; validation guarantees that every reference names something declared, so evaluation
//! never has to report an unknown name (a missing resource value is simply unknown).
//!
//! Submodules: [`diag`] (positions and diagnostics), [`expr`] (expression AST and parser), `load`
//! (files → validated [`Config`]), `eval` (evaluation and functions), `vars` (variable resolution),
//! `address` (instance addresses).

pub mod diag;
pub mod expr;

mod address;
mod eval;
mod funcs;
mod load;
mod vars;

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
pub(crate) mod testutil;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use crate::value::Value;

pub use address::{instance_address, parse_address};
pub use diag::{Diagnostic, Diagnostics, Loc, SourceFile};
pub use eval::{eval, eval_attrs, eval_expr, expand_for_each, Scope};
pub use expr::{Expr, ExprKind, Template};
pub use funcs::FUNCTIONS;
pub use load::load;
pub use vars::{resolve_variables, VarType};

/// Whether a block manages a resource or reads a data source.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Mode {
    Managed,
    Data,
}

/// The parsed value tree of one attribute (TOML value with templates), with locations.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Literal(Value, Loc),
    /// A string with at least one `${…}`.
    Template(Template, Loc),
    List(Vec<Node>, Loc),
    Map(BTreeMap<String, Node>, Loc),
}

impl Node {
    pub fn loc(&self) -> &Loc {
        match self {
            Node::Literal(_, l) | Node::Template(_, l) | Node::List(_, l) | Node::Map(_, l) => l,
        }
    }

    /// Every reference in the tree, in source order (not deduplicated).
    pub fn references(&self) -> Vec<(Ref, Loc)> {
        let mut out = Vec::new();
        self.collect_refs(&mut out);
        out
    }

    fn collect_refs(&self, out: &mut Vec<(Ref, Loc)>) {
        match self {
            Node::Literal(..) => {}
            Node::Template(t, loc) => t.walk(&mut |e| match &e.kind {
                ExprKind::Ref(r, _) => out.push((r.clone(), Loc::new(&loc.file, e.span.clone()))),
                ExprKind::Each(_) => out.push((Ref::Each, Loc::new(&loc.file, e.span.clone()))),
                _ => {}
            }),
            Node::List(items, _) => items.iter().for_each(|n| n.collect_refs(out)),
            Node::Map(items, _) => items.values().for_each(|n| n.collect_refs(out)),
        }
    }

    /// The value with every template replaced by [`Value::Unknown`] (for checking literal parts).
    pub fn static_value(&self) -> Value {
        match self {
            Node::Literal(v, _) => v.clone(),
            Node::Template(..) => Value::Unknown,
            Node::List(items, _) => Value::List(items.iter().map(Node::static_value).collect()),
            Node::Map(items, _) => Value::Map(items.iter().map(|(k, n)| (k.clone(), n.static_value())).collect()),
        }
    }

    /// True when the tree has no template anywhere.
    pub fn is_literal(&self) -> bool {
        match self {
            Node::Literal(..) => true,
            Node::Template(..) => false,
            Node::List(items, _) => items.iter().all(Node::is_literal),
            Node::Map(items, _) => items.values().all(Node::is_literal),
        }
    }

    /// Visits every expression of every template in the tree (mutable, for validation annotations).
    /// Calls `f` on every template in the tree.
    pub fn templates(&self, f: &mut dyn FnMut(&Template)) {
        match self {
            Node::Literal(..) => {}
            Node::Template(t, _) => f(t),
            Node::List(items, _) => items.iter().for_each(|n| n.templates(f)),
            Node::Map(items, _) => items.values().for_each(|n| n.templates(f)),
        }
    }

    pub(crate) fn templates_mut(&mut self, f: &mut dyn FnMut(&mut Template, &Loc)) {
        match self {
            Node::Literal(..) => {}
            Node::Template(t, loc) => f(t, loc),
            Node::List(items, _) => items.iter_mut().for_each(|n| n.templates_mut(f)),
            Node::Map(items, _) => items.values_mut().for_each(|n| n.templates_mut(f)),
        }
    }

    /// The sub-node at a conform error path such as `[0].from_port` or `["Name"]` (or `self`).
    pub fn at_path(&self, path: &str) -> &Node {
        let mut node = self;
        let mut rest = path;
        while !rest.is_empty() {
            let (next, remaining) = if let Some(r) = rest.strip_prefix('.') {
                let end = r.find(['.', '[']).unwrap_or(r.len());
                (
                    match node {
                        Node::Map(m, _) => m.get(&r[..end]),
                        _ => None,
                    },
                    &r[end..],
                )
            } else if let Some(r) = rest.strip_prefix('[') {
                let Some(end) = r.find(']') else { break };
                let key = &r[..end];
                let child = match node {
                    Node::List(items, _) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                    Node::Map(m, _) => serde_json::from_str::<String>(key).ok().and_then(|k| m.get(&k)),
                    _ => None,
                };
                (child, &r[end + 1..])
            } else {
                break;
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
            rest = remaining;
        }
        node
    }
}

/// What an expression refers to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ref {
    Var(String),
    Local(String),
    /// `each.key` / `each.value`.
    Each,
    /// `workspace`: the name of the selected workspace (Terraform's `terraform.workspace`).
    Workspace,
    Resource {
        mode: Mode,
        type_name: String,
        name: String,
    },
}

impl Ref {
    /// "var.x", "local.y", "each", "vpc.main", "data.availability_zones.all".
    pub fn key(&self) -> String {
        match self {
            Ref::Var(n) => format!("var.{n}"),
            Ref::Local(n) => format!("local.{n}"),
            Ref::Each => "each".to_owned(),
            Ref::Workspace => "workspace".to_owned(),
            Ref::Resource { mode, type_name, name } => block_key(*mode, type_name, name),
        }
    }
}

pub(crate) fn block_key(mode: Mode, type_name: &str, name: &str) -> String {
    match mode {
        Mode::Managed => format!("{type_name}.{name}"),
        Mode::Data => format!("data.{type_name}.{name}"),
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Lifecycle {
    /// `prevent_destroy` as written: `true`/`false`, or a template over variables only
    /// (`"${var.protect}"`); `None` when the block does not set it — then the flag an earlier apply
    /// recorded in state still holds (see `engine`).
    pub prevent_destroy: Option<Node>,
    pub ignore_changes: Vec<String>,
    pub create_before_destroy: bool,
}

/// One `[resource.TYPE.NAME]` or `[data.TYPE.NAME]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub mode: Mode,
    pub type_name: String,
    pub name: String,
    /// Only the schema attributes the config sets.
    pub attrs: BTreeMap<String, Node>,
    pub for_each: Option<Node>,
    pub depends_on: Vec<(Ref, Loc)>,
    pub lifecycle: Lifecycle,
    /// The table header / key.
    pub loc: Loc,
}

impl Block {
    /// "vpc.main" / "data.availability_zones.all".
    pub fn key(&self) -> String {
        block_key(self.mode, &self.type_name, &self.name)
    }

    /// References of attrs, for_each and depends_on, deduplicated by key (first location kept).
    pub fn references(&self) -> Vec<(Ref, Loc)> {
        let mut all = Vec::new();
        if let Some(f) = &self.for_each {
            f.collect_refs(&mut all);
        }
        for n in self.attrs.values() {
            n.collect_refs(&mut all);
        }
        all.extend(self.depends_on.iter().cloned());
        let mut seen = HashSet::new();
        all.retain(|(r, _)| seen.insert(r.clone()));
        all
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct VariableDecl {
    pub name: String,
    pub ty: Option<VarType>,
    pub default: Option<Value>,
    pub description: Option<String>,
    pub sensitive: bool,
    pub allowed: Option<Vec<Value>>,
    pub loc: Loc,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OutputDecl {
    pub name: String,
    pub value: Node,
    pub sensitive: bool,
    pub description: Option<String>,
    pub loc: Loc,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BackendConfig {
    pub kind: String,
    /// Resolved against the stack directory (`local` backend).
    pub path: PathBuf,
    /// The `s3` backend's settings (`kind == "s3"`).
    pub s3: Option<S3BackendConfig>,
    pub loc: Option<Loc>,
}

/// `[backend] type = "s3"`: where the states live (see `state::s3` for the key layout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3BackendConfig {
    pub bucket: String,
    /// The `default` workspace's state key.
    pub key: String,
    /// The bucket's region; the default chain's (or `[aws] region`) when None.
    pub region: Option<String>,
    /// Workspace `W` lives at `<workspace_key_prefix>/W/<key>` (`env:` by default).
    pub workspace_key_prefix: String,
    /// KMS key for server-side encryption; AES256 when None.
    pub kms_key_id: Option<String>,
    /// S3 endpoint URL (path-style addressing); else AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL / AWS.
    pub endpoint: Option<String>,
}

/// A loaded, validated stack.
#[derive(Clone, Debug)]
pub struct Config {
    pub dir: PathBuf,
    pub files: Vec<Arc<SourceFile>>,
    pub stack_name: String,
    pub region: Option<String>,
    /// `[aws] role_arn`: the role to work as (see [`crate::credentials`]); `--role-arn` overrides it.
    pub role_arn: Option<String>,
    pub default_tags: BTreeMap<String, String>,
    pub backend: BackendConfig,
    pub variables: BTreeMap<String, VariableDecl>,
    pub locals: BTreeMap<String, Node>,
    /// Resources then data sources, each in file order.
    pub blocks: Vec<Block>,
    pub outputs: BTreeMap<String, OutputDecl>,
    /// sha256 hex over (file name, contents) of all stack files, sorted by name.
    pub hash: String,
}

impl Config {
    pub fn block(&self, mode: Mode, type_name: &str, name: &str) -> Option<&Block> {
        self.blocks.iter().find(|b| b.mode == mode && b.type_name == type_name && b.name == name)
    }

    /// The block with key `vpc.main` / `data.x.y`.
    pub fn block_by_key(&self, key: &str) -> Option<&Block> {
        let (mode, rest) = match key.strip_prefix("data.") {
            Some(r) => (Mode::Data, r),
            None => (Mode::Managed, key),
        };
        let (t, n) = rest.split_once('.')?;
        self.block(mode, t, n)
    }
}
