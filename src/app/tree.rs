//! The shape of the dependency tree the console shows: derived from the
//! graph, the direction and the filter; never stored.

use crate::manifest::DepGraph;
use std::collections::{BTreeSet, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Roots are services that need nothing; under each, what needs it.
    #[default]
    RequiredBy,
    /// Roots are services nothing needs; under each, what it needs.
    DependsOn,
}

impl Direction {
    pub fn flip(self) -> Self {
        match self {
            Direction::RequiredBy => Direction::DependsOn,
            Direction::DependsOn => Direction::RequiredBy,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Direction::RequiredBy => "required by",
            Direction::DependsOn => "depends on",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub children: Vec<Node>,
    /// Shown in full elsewhere (a DAG has shared nodes); kept a leaf here
    /// so the tree stays as big as the graph, not exponential.
    pub repeated: bool,
}

/// Which neighbours are a node's children.
type Next = fn(&DepGraph, &str) -> Vec<String>;

/// The forest for `direction`, or a flat list of matches when `filter` is set.
pub fn build(graph: &DepGraph, all: &[String], direction: Direction, filter: &str) -> Vec<Node> {
    if !filter.is_empty() {
        let needle = filter.to_ascii_lowercase();
        return all
            .iter()
            .filter(|n| n.to_ascii_lowercase().contains(&needle))
            .map(|n| Node {
                name: n.clone(),
                children: Vec::new(),
                repeated: false,
            })
            .collect();
    }
    let (roots, next): (Vec<String>, Next) = match direction {
        Direction::RequiredBy => (graph.roots(), |g, n| g.required_by(n)),
        Direction::DependsOn => (
            all.iter()
                .filter(|n| graph.required_by(n).is_empty())
                .cloned()
                .collect(),
            |g, n| g.depends_on(n),
        ),
    };
    let mut expanded = HashSet::new();
    roots
        .iter()
        .map(|r| grow(graph, r, next, &mut expanded))
        .collect()
}

fn grow(graph: &DepGraph, name: &str, next: Next, expanded: &mut HashSet<String>) -> Node {
    if !expanded.insert(name.to_string()) {
        return Node {
            name: name.to_string(),
            children: Vec::new(),
            repeated: true,
        };
    }
    let children = next(graph, name)
        .iter()
        .map(|c| grow(graph, c, next, expanded))
        .collect();
    Node {
        name: name.to_string(),
        children,
        repeated: false,
    }
}

/// One visible row: its path of names from the root, and its depth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<'a> {
    pub path: Vec<String>,
    pub node: &'a Node,
}

/// The rows shown when `opened` nodes are expanded (same rule as the tree widget).
pub fn visible<'a>(forest: &'a [Node], opened: &HashSet<Vec<String>>) -> Vec<Row<'a>> {
    fn walk<'a>(
        nodes: &'a [Node],
        prefix: &[String],
        opened: &HashSet<Vec<String>>,
        out: &mut Vec<Row<'a>>,
    ) {
        for n in nodes {
            let mut path = prefix.to_vec();
            path.push(n.name.clone());
            let open = opened.contains(&path);
            out.push(Row {
                path: path.clone(),
                node: n,
            });
            if open {
                walk(&n.children, &path, opened, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(forest, &[], opened, &mut out);
    out
}

/// Every path with children: "expand all".
pub fn all_branches(forest: &[Node]) -> HashSet<Vec<String>> {
    fn walk(nodes: &[Node], prefix: &[String], out: &mut HashSet<Vec<String>>) {
        for n in nodes {
            let mut path = prefix.to_vec();
            path.push(n.name.clone());
            if !n.children.is_empty() {
                walk(&n.children, &path, out);
                out.insert(path);
            }
        }
    }
    let mut out = HashSet::new();
    walk(forest, &[], &mut out);
    out
}

/// Service names in the forest, for counting what a filter shows.
pub fn names(forest: &[Node]) -> BTreeSet<String> {
    fn walk(nodes: &[Node], out: &mut BTreeSet<String>) {
        for n in nodes {
            out.insert(n.name.clone());
            walk(&n.children, out);
        }
    }
    let mut out = BTreeSet::new();
    walk(forest, &mut out);
    out
}
