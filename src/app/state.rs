//! Everything the console shows, in one place. Changed only by `update`.

use super::board::Board;
use super::event::OpEventKind;
use super::tree::{self, Direction, Forest, NodeId, Opened};
use crate::manifest::{DepGraph, Manifest};
use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::SystemTime;

/// Lines of streamed output kept per operation.
pub const OP_OUTPUT_LINES: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    #[default]
    Tree,
    Activity,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Main,
    Filter,
    Help,
    ConfirmQuit,
    ConfirmDeploy(DeployPlan),
    Logs,
    Rollback(Wizard),
}

/// The guided rollback: generations → choice → confirmation → progress → verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wizard {
    pub service: String,
    pub step: WizardStep,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WizardStep {
    Loading,
    Choose {
        gens: Vec<crate::backend::generations::Generation>,
        selected: usize,
    },
    Confirm {
        gens: Vec<crate::backend::generations::Generation>,
        from: u64,
        to: u64,
    },
    Running {
        op: u64,
        from: u64,
        to: u64,
    },
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployPlan {
    pub services: Vec<String>,
    pub with_dependents: bool,
    pub waves: Vec<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastDeploy {
    pub at: SystemTime,
    /// What happened: deployed, rolled back, failed, ...
    pub outcome: crate::backend::outcome::OutcomeKind,
    /// The operation, e.g. "deploy vaultwarden" or "rollback grafana to gen 2".
    pub what: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub id: u64,
    pub title: String,
    pub started: SystemTime,
    pub step: String,
    pub finished: Option<(SystemTime, bool, String)>,
    pub output: VecDeque<String>,
}

impl Operation {
    pub fn running(&self) -> bool {
        self.finished.is_none()
    }

    pub fn apply(&mut self, at: SystemTime, kind: &OpEventKind) {
        match kind {
            OpEventKind::Started { title } => self.title = title.clone(),
            OpEventKind::Step { host, step } => {
                self.step = match host {
                    Some(h) => format!("{h}: {step}"),
                    None => step.to_string(),
                };
                self.push(format!("== {}", self.step));
            }
            OpEventKind::HostDone { service, outcome } => {
                self.step = format!("{service}: {}", outcome.kind());
                self.push(format!("== {}", self.step));
            }
            OpEventKind::Line { line } => self.push(line.clone()),
            OpEventKind::Finished { ok, summary } => {
                self.finished = Some((at, *ok, summary.clone()));
                self.push(summary.clone());
            }
        }
    }

    fn push(&mut self, line: String) {
        if self.output.len() == OP_OUTPUT_LINES {
            self.output.pop_front();
        }
        self.output.push_back(line);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
    pub ascii: bool,
}

impl Theme {
    /// `NO_COLOR` (any value) turns colour off; a non-UTF-8 locale or
    /// `NIXMOX_ASCII` switches glyphs to ASCII.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let locale = var("LC_ALL")
            .or_else(|| var("LC_CTYPE"))
            .or_else(|| var("LANG"))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let utf8 = locale.contains("utf-8") || locale.contains("utf8");
        Self {
            color: std::env::var_os("NO_COLOR").is_none(),
            ascii: var("NIXMOX_ASCII").is_some() || !utf8,
        }
    }
}

pub struct State {
    pub manifest: Arc<Manifest>,
    pub manifest_path: String,
    pub graph: DepGraph,
    pub services: Vec<String>,
    pub board: Board,
    pub direction: Direction,
    pub filter: String,
    /// The tree's shape for `direction` and `filter`: derived, rebuilt by
    /// `update` (through `reset_tree`) only when one of them changes.
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
    pub mode: Mode,
    pub focus: Focus,
    pub activity: Vec<Operation>,
    /// What nixos/lib generates, per service (evaluated on first selection).
    pub generated: std::collections::HashMap<String, Result<String, String>>,
    /// The generation each host runs now (listed at start and after operations).
    pub generations: std::collections::HashMap<String, crate::backend::generations::Generation>,
    /// The last deploy or rollback of each service: from the audit log at
    /// start, then from this console's operations.
    pub last_deploy: std::collections::HashMap<String, LastDeploy>,
    /// The logs screen, while open.
    pub logs: Option<super::logview::LogView>,
    /// Index into `activity` of the focused operation.
    pub activity_selected: usize,
    pub activity_expanded: bool,
    pub theme: Theme,
    pub now: SystemTime,
    pub spinner: usize,
    pub message: Option<String>,
    pub size: (u16, u16),
    /// The last operation id handed out (ids are allocated here so the
    /// screens can follow the operation they started).
    pub last_op: u64,
    /// Set by `update` when anything visible changed; the loop draws then.
    pub dirty: bool,
    /// The tree pane's first shown row: a render-only cache, written only
    /// while drawing (the pane's height is known only there) so that it
    /// scrolls just enough to keep the selection in view; never read by
    /// `update`.
    pub tree_offset: Cell<usize>,
}

impl State {
    pub fn new(manifest: Arc<Manifest>, manifest_path: String, board: Board, theme: Theme) -> Self {
        let graph = DepGraph::from_manifest(&manifest);
        let services: Vec<String> = manifest
            .services
            .values()
            .filter(|s| s.enable)
            .map(|s| s.name.clone())
            .collect();
        let mut s = Self {
            manifest,
            manifest_path,
            graph,
            services,
            board,
            direction: Direction::default(),
            filter: String::new(),
            forest: Arc::default(),
            opened: Opened::default(),
            rows: Vec::new(),
            cursor: None,
            selected: Vec::new(),
            mode: Mode::Main,
            focus: Focus::Tree,
            activity: Vec::new(),
            logs: None,
            generated: std::collections::HashMap::new(),
            generations: std::collections::HashMap::new(),
            last_deploy: std::collections::HashMap::new(),
            activity_selected: 0,
            activity_expanded: false,
            theme,
            now: SystemTime::now(),
            spinner: 0,
            message: None,
            size: (80, 24),
            dirty: true,
            last_op: SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            tree_offset: Cell::new(0),
        };
        s.reset_tree();
        s
    }

    /// Rebuilds the forest, opens every branch and selects the first row
    /// showing the same service, else the first row (after a direction flip
    /// or filter change, when old paths no longer exist).
    pub fn reset_tree(&mut self) {
        let keep = self.selected_service().map(str::to_string);
        self.forest = Arc::new(Forest::build(
            &self.graph,
            &self.services,
            self.direction,
            &self.filter,
        ));
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
        self.rows = tree::visible(&self.forest, &self.opened);
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

    pub fn next_op(&mut self) -> u64 {
        self.last_op += 1;
        self.last_op
    }

    pub fn selected_service(&self) -> Option<&str> {
        self.cursor.map(|n| self.forest.node(n).name.as_str())
    }

    /// Lines of log text that fit on screen (all but borders and status bar).
    pub fn log_height(&self) -> usize {
        usize::from(self.size.1).saturating_sub(3).max(1)
    }

    pub fn running_ops(&self) -> usize {
        self.activity.iter().filter(|o| o.running()).count()
    }

    /// The spinner ticks only while something runs (no idle wake-ups).
    pub fn needs_tick(&self) -> bool {
        self.running_ops() > 0
    }
}
