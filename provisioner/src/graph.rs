//! The dependency graph of a stack's blocks, locals and outputs (petgraph).
//!
//! Nodes are keyed like references: `vpc.main`, `data.availability_zones.all`, `local.name`,
//! `output.name`. An edge runs from a dependency to its dependent, built from the references in each
//! block's expressions and its `depends_on`. Invariant: a built [`ConfigGraph`] is acyclic and `order`
//! is a topological order (dependencies first, ties broken by key so runs are deterministic); a cycle is
//! a located diagnostic naming every node on it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

use crate::lang::{Config, Diagnostic, Diagnostics, Loc, Ref};

pub struct ConfigGraph {
    graph: DiGraph<String, ()>,
    index: HashMap<String, NodeIndex>,
    /// Topological order, dependencies first.
    pub order: Vec<String>,
}

fn ref_node(r: &Ref) -> Option<String> {
    match r {
        Ref::Var(_) | Ref::Each | Ref::Workspace => None,
        other => Some(other.key()),
    }
}

impl ConfigGraph {
    pub fn build(config: &Config) -> Result<ConfigGraph, Diagnostics> {
        let mut nodes: BTreeMap<String, Vec<(Ref, Loc)>> = BTreeMap::new();
        for b in &config.blocks {
            nodes.insert(b.key(), b.references());
        }
        for (name, node) in &config.locals {
            nodes.insert(format!("local.{name}"), node.references());
        }
        for (name, out) in &config.outputs {
            nodes.insert(format!("output.{name}"), out.value.references());
        }

        let mut graph = DiGraph::new();
        let mut index = HashMap::new();
        for key in nodes.keys() {
            index.insert(key.clone(), graph.add_node(key.clone()));
        }
        let mut edge_locs: HashMap<(NodeIndex, NodeIndex), Loc> = HashMap::new();
        for (key, refs) in &nodes {
            let to = index[key];
            for (r, loc) in refs {
                let Some(dep) = ref_node(r) else { continue };
                // Validation has reported unknown references already; ignore them here.
                let Some(&from) = index.get(&dep) else { continue };
                if graph.find_edge(from, to).is_none() {
                    graph.add_edge(from, to, ());
                    edge_locs.insert((from, to), loc.clone());
                }
            }
        }

        let mut diags = Vec::new();
        for scc in tarjan_scc(&graph) {
            let cyclic = scc.len() > 1 || graph.find_edge(scc[0], scc[0]).is_some();
            if !cyclic {
                continue;
            }
            // Walk the cycle from its smallest key so the message is deterministic.
            let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
            let start = *members.iter().min_by_key(|n| &graph[**n]).expect("non-empty scc");
            let mut path = vec![start];
            let mut cur = start;
            loop {
                let next = graph
                    .neighbors_directed(cur, Direction::Incoming)
                    .filter(|n| members.contains(n))
                    .min_by_key(|n| &graph[*n])
                    .expect("a cycle member has a predecessor in the cycle");
                if next == start || path.contains(&next) {
                    break;
                }
                path.push(next);
                cur = next;
            }
            let names: Vec<&str> = path.iter().map(|n| graph[*n].as_str()).collect();
            let loc = edge_locs.get(&(path.get(1).copied().unwrap_or(start), start)).cloned();
            let message = format!("dependency cycle: {} → {}", names.join(" → "), names[0]);
            let mut d = match loc {
                Some(l) => Diagnostic::at(message, &l),
                None => Diagnostic::new(message),
            };
            d = d.with_help("break the cycle, e.g. move cross-references into a separate `security_group_rule`");
            diags.push(d);
        }
        if !diags.is_empty() {
            return Err(Diagnostics(diags));
        }

        let order = topo_order(&graph);
        Ok(ConfigGraph { graph, index, order })
    }

    /// Direct dependencies of a node.
    pub fn dependencies(&self, key: &str) -> Vec<String> {
        let Some(&n) = self.index.get(key) else { return Vec::new() };
        let mut deps: Vec<String> =
            self.graph.neighbors_directed(n, Direction::Incoming).map(|d| self.graph[d].clone()).collect();
        deps.sort();
        deps
    }

    /// The given nodes and everything they depend on, transitively.
    pub fn with_dependencies<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<NodeIndex> = keys.into_iter().filter_map(|k| self.index.get(k).copied()).collect();
        while let Some(n) = stack.pop() {
            if out.insert(self.graph[n].clone()) {
                stack.extend(self.graph.neighbors_directed(n, Direction::Incoming));
            }
        }
        out
    }

    /// Everything that depends on the given nodes, transitively (the nodes themselves only if they are
    /// their own dependents, which an acyclic graph rules out).
    pub fn with_dependents<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<NodeIndex> = keys
            .into_iter()
            .filter_map(|k| self.index.get(k))
            .flat_map(|&n| self.graph.neighbors_directed(n, Direction::Outgoing))
            .collect();
        while let Some(n) = stack.pop() {
            if out.insert(self.graph[n].clone()) {
                stack.extend(self.graph.neighbors_directed(n, Direction::Outgoing));
            }
        }
        out
    }

    pub fn contains(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    /// Graphviz DOT of the resource and data nodes (locals and outputs collapsed into their users).
    pub fn to_dot(&self) -> String {
        let mut s = String::from("digraph {\n  compound = \"true\"\n  rankdir = \"RL\"\n  node [shape = box]\n");
        for key in &self.order {
            s.push_str(&format!("  \"{key}\"\n"));
        }
        let mut edges: Vec<(String, String)> = self
            .graph
            .edge_indices()
            .filter_map(|e| self.graph.edge_endpoints(e))
            .map(|(a, b)| (self.graph[b].clone(), self.graph[a].clone()))
            .collect();
        edges.sort();
        for (dependent, dep) in edges {
            s.push_str(&format!("  \"{dependent}\" -> \"{dep}\"\n"));
        }
        s.push_str("}\n");
        s
    }
}

/// Kahn's algorithm with a sorted ready set: deterministic topological order.
fn topo_order(graph: &DiGraph<String, ()>) -> Vec<String> {
    let mut indegree: HashMap<NodeIndex, usize> =
        graph.node_indices().map(|n| (n, graph.neighbors_directed(n, Direction::Incoming).count())).collect();
    let mut ready: BTreeSet<(String, NodeIndex)> =
        indegree.iter().filter(|(_, d)| **d == 0).map(|(n, _)| (graph[*n].clone(), *n)).collect();
    let mut order = Vec::with_capacity(graph.node_count());
    while let Some(first) = ready.iter().next().cloned() {
        ready.remove(&first);
        let (key, n) = first;
        order.push(key);
        for m in graph.neighbors_directed(n, Direction::Outgoing) {
            let d = indegree.get_mut(&m).expect("node");
            *d -= 1;
            if *d == 0 {
                ready.insert((graph[m].clone(), m));
            }
        }
    }
    order
}
