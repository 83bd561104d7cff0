//! Everything the console shows: the domain model, each pane's state and
//! the layer stack. Changed only by `update`.

use super::layers::Layers;
use super::model::health::HealthBoard;
use super::model::Model;
use super::panes::activity::ActivityPane;
use super::panes::details::DetailsPane;
use super::panes::tree::TreePane;
use crate::manifest::Manifest;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

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
    /// What is true about the fleet of hosts (the domain model).
    pub model: Model,
    pub tree: TreePane,
    pub activity: ActivityPane,
    pub details: DetailsPane,
    /// The main screen and the screens and popups over it.
    pub layers: Layers,
    pub theme: Theme,
    pub now: SystemTime,
    pub spinner: usize,
    pub message: Option<String>,
    pub size: (u16, u16),
    /// The last log tail id handed out.
    pub last_tail: u64,
    /// Set by `update` when anything visible changed; the loop draws then.
    pub dirty: bool,
    /// Something the operator waits for changed (a key, a probe, an
    /// operation): drawn within a 60th of a second. Log lines alone are
    /// drawn at most `LOG_FRAME` apart (a flood would rewrite the screen
    /// 60 times a second for text nobody can read that fast).
    pub urgent: bool,
    /// The console runs inside a lab (`nixmox demo`, `lab exec`): the
    /// fault menu may inject faults into its hosts.
    pub lab: bool,
}

/// The shortest time between two frames for an urgent change.
pub const MIN_FRAME: Duration = Duration::from_micros(16_600);
/// The shortest time between two frames that only show new log lines.
pub const LOG_FRAME: Duration = Duration::from_millis(66);

impl State {
    pub fn new(
        manifest: Arc<Manifest>,
        manifest_path: String,
        health: HealthBoard,
        theme: Theme,
    ) -> Self {
        let mut s = Self {
            model: Model::new(manifest, manifest_path, health),
            tree: TreePane::default(),
            activity: ActivityPane::default(),
            details: DetailsPane::default(),
            layers: Layers::default(),
            theme,
            now: SystemTime::now(),
            spinner: 0,
            message: None,
            size: (80, 24),
            last_tail: 0,
            dirty: true,
            urgent: true,
            lab: false,
        };
        s.reset_tree();
        s
    }

    /// Rebuilds the tree after its direction or filter changed.
    pub fn reset_tree(&mut self) {
        self.tree.reset(&self.model.graph, &self.model.services);
    }

    pub fn next_tail(&mut self) -> u64 {
        self.last_tail += 1;
        self.last_tail
    }

    /// Lines of log text that fit on screen (all but borders and status bar).
    pub fn log_height(&self) -> usize {
        usize::from(self.size.1).saturating_sub(3).max(1)
    }

    /// How long after the last frame (drawn `since` ago) the next one is
    /// due: `None` when nothing changed, zero when it is due now.
    pub fn frame_due(&self, since: Duration) -> Option<Duration> {
        if !self.dirty {
            return None;
        }
        let gap = if self.urgent { MIN_FRAME } else { LOG_FRAME };
        Some(gap.saturating_sub(since))
    }

    /// The spinner ticks only while something runs (no idle wake-ups).
    pub fn needs_tick(&self) -> bool {
        self.model.running_ops() > 0
    }

    /// Whether the screen shows an age (`3s` beside a row, `up for 1m`):
    /// the main screen is visible and some service has been probed. Ages
    /// then tick once a second; nothing ticks otherwise.
    pub fn shows_age(&self) -> bool {
        let covered = self.layers.above().iter().any(|l| l.full_screen());
        !covered
            && self
                .model
                .health
                .rows
                .values()
                .any(|r| r.since.is_some() || r.last_probe().is_some())
    }
}
