//! The shape of the dependency tree the console shows, derived from the
//! graph, the direction and the filter.
//!
//! The forest is a flat arena in pre-order: a node's subtree is the range
//! `id..node.end`, its first child (if any) is `id + 1` and each next sibling
//! starts where the previous one's subtree ends. A node id therefore *is* a
//! path from a root (a DAG's shared nodes appear once per path), so the
//! console keeps open branches and the selection as ids, not as vectors of
//! names, and the visible rows are one linear walk that skips closed
//! subtrees. `update()` rebuilds the forest only when its inputs change
//! (direction, filter, manifest) and the rows only when a branch opens or
//! closes; drawing reads both as they are.

use crate::manifest::DepGraph;
use std::collections::HashSet;
use std::sync::Arc;

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

/// Index of a node in a [`Forest`]; stands for its whole path from a root.
pub type NodeId = usize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub parent: Option<NodeId>,
    /// Levels below its root (0 for a root).
    pub depth: usize,
    /// One past the last node of this node's subtree.
    pub end: NodeId,
    /// Shown in full elsewhere (a DAG has shared nodes); kept a leaf here
    /// so the tree stays as big as the graph, not exponential.
    pub repeated: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forest {
    nodes: Vec<Node>,
    roots: usize,
    depth: usize,
}

/// Which neighbours are a node's children.
type Next = fn(&DepGraph, &str) -> Vec<String>;

impl Forest {
    /// The forest for `direction`, or a flat list of matches when `filter` is set.
    pub fn build(graph: &DepGraph, all: &[String], direction: Direction, filter: &str) -> Self {
        let mut f = Forest::default();
        if !filter.is_empty() {
            let needle = filter.to_ascii_lowercase();
            for n in all
                .iter()
                .filter(|n| n.to_ascii_lowercase().contains(&needle))
            {
                let id = f.nodes.len();
                f.nodes.push(Node {
                    name: n.clone(),
                    parent: None,
                    depth: 0,
                    end: id + 1,
                    repeated: false,
                });
            }
            f.roots = f.nodes.len();
            return f;
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
        f.roots = roots.len();
        let mut expanded = HashSet::new();
        for r in &roots {
            f.grow(graph, r, None, 0, next, &mut expanded);
        }
        f
    }

    fn grow(
        &mut self,
        graph: &DepGraph,
        name: &str,
        parent: Option<NodeId>,
        depth: usize,
        next: Next,
        expanded: &mut HashSet<String>,
    ) {
        let id = self.nodes.len();
        let repeated = !expanded.insert(name.to_string());
        self.depth = self.depth.max(depth);
        self.nodes.push(Node {
            name: name.to_string(),
            parent,
            depth,
            end: id + 1,
            repeated,
        });
        if !repeated {
            for c in next(graph, name) {
                self.grow(graph, &c, Some(id), depth + 1, next, expanded);
            }
            self.nodes[id].end = self.nodes.len();
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// How many top-level rows (for a filter: how many matches).
    pub fn roots(&self) -> usize {
        self.roots
    }

    /// Levels below the roots (0 for a flat list).
    pub fn depth(&self) -> usize {
        self.depth
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    pub fn has_children(&self, id: NodeId) -> bool {
        self.nodes[id].end > id + 1
    }

    /// The ids of `id`'s children, in order.
    pub fn children(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let end = self.nodes[id].end;
        std::iter::successors(Some(id + 1), |&c| self.nodes.get(c).map(|n| n.end))
            .take_while(move |&c| c < end)
    }

    /// The top-level ids, in order.
    pub fn root_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        let n = self.nodes.len();
        std::iter::successors(Some(0), |&c| self.nodes.get(c).map(|n| n.end))
            .take_while(move |&c| c < n)
    }

    /// The names from a root down to `id`.
    pub fn path(&self, id: NodeId) -> Vec<String> {
        let mut out = Vec::with_capacity(self.nodes[id].depth + 1);
        let mut at = Some(id);
        while let Some(i) = at {
            out.push(self.nodes[i].name.clone());
            at = self.nodes[i].parent;
        }
        out.reverse();
        out
    }

    /// The node at a path of names, if the forest has it.
    pub fn find(&self, path: &[String]) -> Option<NodeId> {
        let (first, rest) = path.split_first()?;
        let mut at = self.root_ids().find(|&r| self.nodes[r].name == *first)?;
        for name in rest {
            at = self.children(at).find(|&c| self.nodes[c].name == *name)?;
        }
        Some(at)
    }
}

/// The open branches of one forest.
#[derive(Debug, Clone, Default)]
pub struct Opened {
    forest: Arc<Forest>,
    open: Vec<bool>,
}

impl Opened {
    /// Every branch open ("expand all").
    pub fn all(forest: Arc<Forest>) -> Self {
        let open = (0..forest.len()).map(|i| forest.has_children(i)).collect();
        Self { forest, open }
    }

    /// Whether the branch at this path of names (a `Vec<String>` or a
    /// slice) is open.
    pub fn contains<P: AsRef<[String]> + ?Sized>(&self, path: &P) -> bool {
        self.forest
            .find(path.as_ref())
            .is_some_and(|id| self.is_open(id))
    }

    pub fn is_open(&self, id: NodeId) -> bool {
        self.open.get(id).copied().unwrap_or(false)
    }

    /// Opens a branch; false when it has no children or was open already.
    pub fn open(&mut self, id: NodeId) -> bool {
        if !self.forest.has_children(id) || self.open[id] {
            return false;
        }
        self.open[id] = true;
        true
    }

    /// Closes a branch; false when it was not open.
    pub fn close(&mut self, id: NodeId) -> bool {
        std::mem::replace(&mut self.open[id], false)
    }
}

/// The rows shown, in order: every node whose ancestors are all open
/// (the tree widget's rule). Sorted by id, so a row is found by binary search.
pub fn visible(forest: &Forest, opened: &Opened) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < forest.len() {
        out.push(i);
        i = if opened.is_open(i) {
            i + 1
        } else {
            forest.node(i).end
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph() -> DepGraph {
        // db <- api <- web, db <- web, cache (alone)
        DepGraph::new([
            ("db".to_string(), vec![]),
            ("api".to_string(), vec!["db".to_string()]),
            ("web".to_string(), vec!["api".to_string(), "db".to_string()]),
            ("cache".to_string(), vec![]),
        ])
    }

    fn all() -> Vec<String> {
        ["db", "api", "web", "cache"].map(String::from).to_vec()
    }

    fn names(f: &Forest, rows: &[NodeId]) -> Vec<String> {
        rows.iter().map(|&r| f.path(r).join("/")).collect()
    }

    #[test]
    fn required_by_forest_marks_repeats_and_keeps_preorder() {
        let f = Arc::new(Forest::build(&graph(), &all(), Direction::RequiredBy, ""));
        let rows = visible(&f, &Opened::all(f.clone()));
        assert_eq!(
            names(&f, &rows),
            ["cache", "db", "db/api", "db/api/web", "db/web"]
        );
        assert_eq!(f.roots(), 2);
        assert_eq!(f.depth(), 2);
        assert!(f.node(4).repeated, "web is shown in full under api");
        assert_eq!(f.find(&["db".into(), "api".into()]), Some(2));
        assert_eq!(f.find(&["db".into(), "cache".into()]), None);
        assert_eq!(f.children(1).collect::<Vec<_>>(), [2, 4]);
    }

    #[test]
    fn closing_hides_the_subtree_and_remembers_inner_branches() {
        let f = Arc::new(Forest::build(&graph(), &all(), Direction::RequiredBy, ""));
        let mut o = Opened::all(f.clone());
        assert!(o.contains(&["db".into(), "api".into()]));
        assert!(!o.contains(&["cache".into()]), "a leaf is never open");
        assert!(o.close(1));
        assert_eq!(names(&f, &visible(&f, &o)), ["cache", "db"]);
        assert!(o.open(1));
        assert_eq!(visible(&f, &o).len(), 5, "api stayed open inside");
        assert!(!o.open(0), "a leaf does not open");
    }

    #[test]
    fn depends_on_and_filter_forests() {
        let f = Forest::build(&graph(), &all(), Direction::DependsOn, "");
        let o = Opened::all(Arc::new(f.clone()));
        assert_eq!(
            names(&f, &visible(&f, &o)),
            ["web", "web/api", "web/api/db", "web/db", "cache"]
        );
        let f = Forest::build(&graph(), &all(), Direction::RequiredBy, "A");
        assert_eq!((f.roots(), f.depth()), (2, 0));
        let o = Opened::all(Arc::new(f.clone()));
        assert_eq!(names(&f, &visible(&f, &o)), ["api", "cache"]);
    }

    /// The previous, recursive definition (a tree of owned nodes walked with
    /// a set of open paths), kept here as the reference the arena must match.
    mod reference {
        use super::super::*;

        pub(super) struct Node {
            pub name: String,
            pub children: Vec<Node>,
            pub repeated: bool,
        }

        pub(super) fn build(graph: &DepGraph, all: &[String], direction: Direction) -> Vec<Node> {
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

        fn grow(graph: &DepGraph, name: &str, next: Next, seen: &mut HashSet<String>) -> Node {
            if !seen.insert(name.to_string()) {
                return Node {
                    name: name.to_string(),
                    children: Vec::new(),
                    repeated: true,
                };
            }
            Node {
                name: name.to_string(),
                children: next(graph, name)
                    .iter()
                    .map(|c| grow(graph, c, next, seen))
                    .collect(),
                repeated: false,
            }
        }

        /// (path, repeated, has children) of each row shown with `open` paths open.
        pub(super) fn rows(
            nodes: &[Node],
            prefix: &[String],
            open: &dyn Fn(&[String]) -> bool,
            out: &mut Vec<(Vec<String>, bool, bool)>,
        ) {
            for n in nodes {
                let mut path = prefix.to_vec();
                path.push(n.name.clone());
                out.push((path.clone(), n.repeated, !n.children.is_empty()));
                if open(&path) {
                    rows(&n.children, &path, open, out);
                }
            }
        }
    }

    #[test]
    fn arena_matches_the_recursive_tree_on_a_generated_dag() {
        // The console bench's shape: fan-in to ten bases plus a long chain.
        let nodes: Vec<(String, Vec<String>)> = (0..80)
            .map(|i| {
                let mut deps = Vec::new();
                if i >= 10 {
                    deps.push(format!("s{:02}", i % 10));
                }
                if i >= 17 {
                    deps.push(format!("s{:02}", i - 7));
                }
                (format!("s{i:02}"), deps)
            })
            .collect();
        let all: Vec<String> = nodes.iter().map(|(n, _)| n.clone()).collect();
        let g = DepGraph::new(nodes);
        for dir in [Direction::RequiredBy, Direction::DependsOn] {
            let f = Arc::new(Forest::build(&g, &all, dir, ""));
            let old = reference::build(&g, &all, dir);
            let mut o = Opened::all(f.clone());
            // Close every third branch; the old rule is "open unless closed".
            let closed: Vec<Vec<String>> = (0..f.len())
                .filter(|&i| f.has_children(i) && i % 3 == 0)
                .map(|i| f.path(i))
                .collect();
            for c in &closed {
                assert!(o.close(f.find(c).unwrap()));
            }
            for opened in [Opened::all(f.clone()), o] {
                let mut want = Vec::new();
                let is_open = |p: &[String]| opened.contains(p);
                reference::rows(&old, &[], &is_open, &mut want);
                let got: Vec<(Vec<String>, bool, bool)> = visible(&f, &opened)
                    .into_iter()
                    .map(|r| (f.path(r), f.node(r).repeated, f.has_children(r)))
                    .collect();
                assert_eq!(got, want, "{dir:?}");
            }
        }
    }
}
