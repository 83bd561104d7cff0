//! The tree pane: direction, filter, the forest they give, which branches
//! are open, the visible rows and the selection.

use super::forest::{self, Direction, Forest, NodeId, Opened};
use crate::manifest::DepGraph;
use std::cell::Cell;
use std::sync::Arc;

#[derive(Default)]
pub struct TreePane {
    pub direction: Direction,
    pub filter: String,
    /// The tree's shape for `direction` and `filter`: derived, rebuilt by
    /// `update` (through `reset`) only when one of them changes.
    pub forest: Arc<Forest>,
    /// Open branches of `forest` (`contains` takes a path of names).
    pub opened: Opened,
    /// The rows `opened` makes visible, in order: derived, kept in step by
    /// `update` whenever a branch opens or closes, so neither a frame nor a
    /// key walks the whole tree.
    pub rows: Vec<NodeId>,
    /// The selected row's node (`None` when nothing matches the filter).
    pub cursor: Option<NodeId>,
    /// The selected row as its path of names from a root (kept equal to
    /// `forest.path(cursor)`; what survives a rebuild of the forest).
    pub selected: Vec<String>,
    /// The first shown row: a render-only cache, written only while drawing
    /// (the pane's height is known only there) so that it scrolls just
    /// enough to keep the selection in view; never read by `update`.
    pub offset: Cell<usize>,
}

impl TreePane {
    /// Rebuilds the forest, opens every branch and selects the first row
    /// showing the same service, else the first row (after a direction flip
    /// or filter change, when old paths no longer exist).
    pub fn reset(&mut self, graph: &DepGraph, services: &[String]) {
        let keep = self.selected_service().map(str::to_string);
        self.forest = Arc::new(Forest::build(graph, services, self.direction, &self.filter));
        self.opened = Opened::all(self.forest.clone());
        self.refresh_rows();
        // Every branch is open, so rows are all nodes in order.
        let at = keep
            .and_then(|name| {
                self.rows
                    .iter()
                    .copied()
                    .find(|&r| self.forest.node(r).name == name)
            })
            .or(self.rows.first().copied());
        self.select(at);
    }

    /// Recomputes the visible rows after a branch opened or closed.
    pub fn refresh_rows(&mut self) {
        self.rows = forest::visible(&self.forest, &self.opened);
    }

    /// Selects a node (a visible row) or nothing.
    pub fn select(&mut self, node: Option<NodeId>) {
        self.cursor = node;
        self.selected = node.map(|n| self.forest.path(n)).unwrap_or_default();
    }

    /// Index of the selected row in `rows`.
    pub fn selected_row(&self) -> Option<usize> {
        self.rows.binary_search(&self.cursor?).ok()
    }

    pub fn selected_service(&self) -> Option<&str> {
        self.cursor.map(|n| self.forest.node(n).name.as_str())
    }

    /// Moves the cursor to row `f(current, rows)` of the visible rows.
    pub fn move_selection(&mut self, f: impl Fn(usize, usize) -> usize) {
        if self.rows.is_empty() {
            return;
        }
        let i = self.selected_row().unwrap_or(0);
        self.select(Some(self.rows[f(i, self.rows.len())]));
    }
}
