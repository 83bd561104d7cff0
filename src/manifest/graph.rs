//! The dependency graph: deploy waves, cycles, dependents and impact.
//!
//! Edges point from a service to what it depends on (`a -> b`: a depends on
//! b), so a cycle prints the way an operator reads `depends_on`.

use super::model::Manifest;
use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction::{Incoming, Outgoing};
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, Clone)]
pub struct DepGraph {
    graph: DiGraph<String, ()>,
    index: HashMap<String, NodeIndex>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("unknown service {0:?}")]
    Unknown(String),
    #[error("service \"{0}\" is disabled (enable = false)")]
    Disabled(String),
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
}

impl DepGraph {
    /// Builds the graph from `(service, depends_on)` pairs. Dependencies that
    /// are not nodes themselves are left out (validation reports them).
    pub fn new(nodes: impl IntoIterator<Item = (String, Vec<String>)>) -> Self {
        let nodes: Vec<(String, Vec<String>)> = nodes.into_iter().collect();
        let mut graph = DiGraph::with_capacity(nodes.len(), nodes.len() * 2);
        let mut index = HashMap::with_capacity(nodes.len());
        for (name, _) in &nodes {
            index
                .entry(name.clone())
                .or_insert_with(|| graph.add_node(name.clone()));
        }
        for (name, deps) in &nodes {
            let from = index[name];
            for dep in deps {
                if let Some(&to) = index.get(dep) {
                    if graph.find_edge(from, to).is_none() {
                        graph.add_edge(from, to, ());
                    }
                }
            }
        }
        Self { graph, index }
    }

    /// The deployable graph: enabled services only. Edges to disabled
    /// services are dropped (validation warns about them).
    pub fn from_manifest(m: &Manifest) -> Self {
        Self::new(
            m.services
                .values()
                .filter(|s| s.enable)
                .map(|s| (s.name.clone(), s.depends_on.clone())),
        )
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Every cycle, one per strongly connected component, each as the list
    /// of services along it starting from the alphabetically first
    /// (`[a, b, c]` means a -> b -> c -> a). Sorted for stable output.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for scc in tarjan_scc(&self.graph) {
            let is_cycle =
                scc.len() > 1 || (scc.len() == 1 && self.graph.find_edge(scc[0], scc[0]).is_some());
            if !is_cycle {
                continue;
            }
            let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
            // A strongly connected component is never empty.
            let Some(&start) = scc.iter().min_by_key(|n| &self.graph[**n]) else {
                continue;
            };
            out.push(self.cycle_through(start, &members));
        }
        out.sort();
        out
    }

    /// A shortest cycle from `start` back to itself inside one component
    /// (breadth-first, neighbours in name order, so the output is stable).
    fn cycle_through(&self, start: NodeIndex, members: &BTreeSet<NodeIndex>) -> Vec<String> {
        let mut parent: HashMap<NodeIndex, NodeIndex> = HashMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            let mut next: Vec<NodeIndex> = self
                .graph
                .edges_directed(n, Outgoing)
                .map(|e| e.target())
                .filter(|t| members.contains(t))
                .collect();
            next.sort_by_key(|t| &self.graph[*t]);
            for t in next {
                if t == start {
                    let mut path = vec![n];
                    let mut cur = n;
                    while cur != start {
                        cur = parent[&cur];
                        path.push(cur);
                    }
                    path.reverse();
                    return path.into_iter().map(|i| self.graph[i].clone()).collect();
                }
                if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(t) {
                    if t != start {
                        e.insert(n);
                        queue.push_back(t);
                    }
                }
            }
        }
        // Unreachable for a real component; fall back to its members.
        members.iter().map(|i| self.graph[*i].clone()).collect()
    }

    fn node(&self, name: &str) -> Result<NodeIndex, PlanError> {
        self.index
            .get(name)
            .copied()
            .ok_or_else(|| PlanError::Unknown(name.to_string()))
    }

    fn reach(&self, from: NodeIndex, dir: petgraph::Direction) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        let mut visited = vec![false; self.graph.node_count()];
        visited[from.index()] = true;
        while let Some(n) = stack.pop() {
            for m in self.graph.neighbors_directed(n, dir) {
                if !visited[m.index()] {
                    visited[m.index()] = true;
                    seen.insert(self.graph[m].clone());
                    stack.push(m);
                }
            }
        }
        seen
    }

    /// Everything that (transitively) depends on `name`: what breaks if it is down.
    pub fn dependents(&self, name: &str) -> Result<BTreeSet<String>, PlanError> {
        Ok(self.reach(self.node(name)?, Incoming))
    }

    /// Everything `name` (transitively) depends on.
    pub fn dependencies(&self, name: &str) -> Result<BTreeSet<String>, PlanError> {
        Ok(self.reach(self.node(name)?, Outgoing))
    }

    /// Direct dependencies, sorted.
    pub fn depends_on(&self, name: &str) -> Vec<String> {
        self.neighbours(name, Outgoing)
    }

    /// Direct dependents, sorted.
    pub fn required_by(&self, name: &str) -> Vec<String> {
        self.neighbours(name, Incoming)
    }

    fn neighbours(&self, name: &str, dir: petgraph::Direction) -> Vec<String> {
        let Some(&n) = self.index.get(name) else {
            return Vec::new();
        };
        let mut out: Vec<String> = self
            .graph
            .neighbors_directed(n, dir)
            .map(|m| self.graph[m].clone())
            .collect();
        out.sort();
        out
    }

    /// Services with no dependencies, sorted: the roots of the tree view.
    pub fn roots(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .graph
            .node_indices()
            .filter(|n| self.graph.neighbors_directed(*n, Outgoing).next().is_none())
            .map(|n| self.graph[n].clone())
            .collect();
        out.sort();
        out
    }

    /// Deploy waves over the whole graph.
    pub fn waves(&self) -> Result<Vec<Vec<String>>, PlanError> {
        let all: BTreeSet<String> = self.index.keys().cloned().collect();
        self.waves_of(&all)
    }

    /// Deploy waves for a subset: each service lands one wave after the
    /// latest wave holding anything it transitively depends on *within the
    /// subset*, so nothing deploys before what it needs, with as few waves
    /// as that allows. Each wave is sorted.
    pub fn waves_of(&self, subset: &BTreeSet<String>) -> Result<Vec<Vec<String>>, PlanError> {
        for name in subset {
            self.node(name)?;
        }
        // Dependencies first: toposort lists a before b for an edge a -> b,
        // i.e. dependents first, so walk it backwards.
        let order = toposort(&self.graph, None)
            .map_err(|_| PlanError::Cycle(self.cycles().into_iter().next().unwrap_or_default()))?;
        // best[n]: the highest wave of any subset member reachable from n
        // along dependencies (n itself included when it is a member).
        let mut best: Vec<Option<usize>> = vec![None; self.graph.node_count()];
        let mut waves: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for &n in order.iter().rev() {
            let below = self
                .graph
                .neighbors_directed(n, Outgoing)
                .filter_map(|m| best[m.index()])
                .max();
            let name = &self.graph[n];
            best[n.index()] = if subset.contains(name) {
                let wave = below.map_or(0, |w| w + 1);
                waves.entry(wave).or_default().push(name.clone());
                Some(wave)
            } else {
                below
            };
        }
        Ok(waves
            .into_values()
            .map(|mut w| {
                w.sort();
                w
            })
            .collect())
    }

    /// The services a deploy of `names` touches: the names themselves plus,
    /// with `with_dependents`, everything that depends on them.
    pub fn selection(
        &self,
        names: &[String],
        with_dependents: bool,
    ) -> Result<BTreeSet<String>, PlanError> {
        let mut out = BTreeSet::new();
        for name in names {
            let n = self.node(name)?;
            out.insert(name.clone());
            if with_dependents {
                out.extend(self.reach(n, Incoming));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(edges: &[(&str, &[&str])]) -> DepGraph {
        DepGraph::new(
            edges
                .iter()
                .map(|(n, deps)| (n.to_string(), deps.iter().map(|d| d.to_string()).collect())),
        )
    }

    #[test]
    fn waves_follow_dependencies() {
        let graph = g(&[
            ("postgresql", &[]),
            ("caddy", &[]),
            ("authentik", &["postgresql"]),
            ("vaultwarden", &["postgresql", "caddy", "authentik"]),
        ]);
        assert_eq!(
            graph.waves().unwrap(),
            vec![
                vec!["caddy".to_string(), "postgresql".into()],
                vec!["authentik".into()],
                vec!["vaultwarden".into()]
            ]
        );
        let sel = graph.selection(&["authentik".into()], true).unwrap();
        assert_eq!(
            graph.waves_of(&sel).unwrap(),
            vec![vec!["authentik".to_string()], vec!["vaultwarden".into()]]
        );
        assert_eq!(
            graph
                .dependents("postgresql")
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            vec!["authentik", "vaultwarden"]
        );
    }

    #[test]
    fn subset_keeps_transitive_order() {
        let graph = g(&[("a", &[]), ("b", &["a"]), ("c", &["b"])]);
        let sel: BTreeSet<String> = ["a".into(), "c".into()].into();
        assert_eq!(
            graph.waves_of(&sel).unwrap(),
            vec![vec!["a".to_string()], vec!["c".into()]]
        );
    }

    #[test]
    fn cycles_are_printed_in_order() {
        let graph = g(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &["d"])]);
        assert_eq!(
            graph.cycles(),
            vec![
                vec!["a".to_string(), "b".into(), "c".into()],
                vec!["d".into()]
            ]
        );
        assert!(matches!(graph.waves(), Err(PlanError::Cycle(_))));
    }
}
