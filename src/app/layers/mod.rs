//! The layer stack (helix's compositor, yazi's layers): the main screen at
//! the bottom, then the screens and popups open over it, in order. The top
//! layer gets a key first and answers with a [`Reply`]: consumed, pass it
//! down, close me, or open another layer on top. Each layer has its own
//! keymap, so the status bar's hints and the help are those of what takes
//! the keys. `keys::route` dispatches; `views` draw the stack from the
//! topmost full screen up.

mod main_screen;

pub use self::main_screen::{Focus, MainScreen};
use super::keymap::Keymap;
use super::panes::history::HistoryView;
use super::panes::logs::LogView;
use super::panes::wizard::Wizard;
use crate::backend::history::OpRecord;

/// A scroll offset meaning "the end, whatever its length": a view shows
/// its last page (and keeps following new lines); scrolling up starts
/// from there.
pub const BOTTOM: usize = usize::MAX;

pub use super::panes::deploy_dialog::{DeployDialog, DeployPlan};

/// A screen or popup over the main screen, with what it alone needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layer {
    /// The filter line (in the status bar; the tree filters as you type).
    Filter,
    /// The command line (in the status bar): `:deploy NAME` and the like.
    CommandLine {
        text: String,
    },
    Help {
        scroll: usize,
    },
    /// "Operations are running: quit?"
    ConfirmQuit {
        scroll: usize,
    },
    /// The deploy plan and its preview, asking to go ahead.
    ConfirmDeploy {
        dialog: DeployDialog,
        scroll: usize,
    },
    /// "Break the stale lock on this host?"
    ConfirmBreakLock {
        service: String,
        /// The refusal that showed the lock (holder, age).
        reason: String,
        scroll: usize,
    },
    /// The logs screen (the whole screen); it scrolls by its view's `top`.
    Logs(LogView),
    /// The search line, over the logs screen.
    LogSearch,
    Rollback {
        wizard: Wizard,
        scroll: usize,
    },
    /// One operation's streamed output.
    Output {
        op: u64,
        scroll: usize,
    },
    /// The lab's faults for a service (`F`, inside a lab only).
    FaultMenu {
        service: String,
        selected: usize,
    },
    /// The operations the audit log holds (`h`, `H`).
    History(HistoryView),
    /// One recorded operation's steps, per host part.
    Steps {
        /// Boxed: a record is much larger than any other layer.
        record: Box<OpRecord>,
        scroll: usize,
    },
}

impl Layer {
    pub fn help() -> Self {
        Layer::Help { scroll: 0 }
    }

    pub fn confirm_quit() -> Self {
        Layer::ConfirmQuit { scroll: 0 }
    }

    pub fn confirm_deploy(dialog: DeployDialog) -> Self {
        Layer::ConfirmDeploy { dialog, scroll: 0 }
    }

    pub fn rollback(wizard: Wizard) -> Self {
        Layer::Rollback { wizard, scroll: 0 }
    }

    /// An operation's output follows its newest line until scrolled up.
    pub fn output(op: u64) -> Self {
        Layer::Output { op, scroll: BOTTOM }
    }

    /// The popup's share of the screen (width %, height %); `None` for the
    /// logs screen and the lines typed in the status bar.
    pub fn popup_percent(&self) -> Option<(u16, u16)> {
        match self {
            Layer::Help { .. } => Some((80, 90)),
            Layer::ConfirmQuit { .. }
            | Layer::ConfirmDeploy { .. }
            | Layer::ConfirmBreakLock { .. } => Some((70, 70)),
            Layer::Rollback { .. } => Some((80, 80)),
            Layer::Output { .. } => Some((90, 85)),
            Layer::History(_) | Layer::Steps { .. } => Some((90, 85)),
            Layer::FaultMenu { .. } => Some((60, 50)),
            Layer::Filter | Layer::LogSearch | Layer::Logs(_) | Layer::CommandLine { .. } => None,
        }
    }

    /// The keys this layer answers (and so its hints and help section).
    pub fn keymap(&self) -> Keymap {
        match self {
            Layer::Filter => Keymap::Filter,
            Layer::CommandLine { .. } => Keymap::CommandLine,
            Layer::Help { .. } => Keymap::Help,
            Layer::ConfirmQuit { .. } | Layer::ConfirmBreakLock { .. } => Keymap::Dialog,
            Layer::ConfirmDeploy { .. } => Keymap::DeployDialog,
            Layer::Logs(_) => Keymap::Logs,
            Layer::LogSearch => Keymap::LogSearch,
            Layer::Rollback { .. } => Keymap::Wizard,
            Layer::Output { .. } => Keymap::Output,
            Layer::History(_) => Keymap::History,
            Layer::FaultMenu { .. } => Keymap::FaultMenu,
            Layer::Steps { .. } => Keymap::Steps,
        }
    }

    /// Whether a key this layer passes stops here instead of reaching the
    /// layers below. Every layer is modal today: a `d` over an operation's
    /// output must not open a deploy dialog under it.
    pub fn modal(&self) -> bool {
        match self {
            Layer::Filter
            | Layer::CommandLine { .. }
            | Layer::Help { .. }
            | Layer::ConfirmQuit { .. }
            | Layer::ConfirmDeploy { .. }
            | Layer::ConfirmBreakLock { .. }
            | Layer::Logs(_)
            | Layer::LogSearch
            | Layer::Rollback { .. }
            | Layer::Output { .. }
            | Layer::History(_)
            | Layer::Steps { .. }
            | Layer::FaultMenu { .. } => true,
        }
    }

    /// Whether it covers the whole screen, so nothing under it is drawn.
    pub fn full_screen(&self) -> bool {
        matches!(self, Layer::Logs(_))
    }

    /// Lines scrolled off the top, for the layers that show text.
    pub fn scroll(&self) -> Option<usize> {
        match self {
            Layer::Help { scroll }
            | Layer::ConfirmQuit { scroll }
            | Layer::ConfirmDeploy { scroll, .. }
            | Layer::ConfirmBreakLock { scroll, .. }
            | Layer::Rollback { scroll, .. }
            | Layer::Output { scroll, .. }
            | Layer::Steps { scroll, .. } => Some(*scroll),
            Layer::History(view) => Some(view.scroll),
            Layer::Logs(view) => Some(view.top),
            Layer::Filter
            | Layer::LogSearch
            | Layer::CommandLine { .. }
            | Layer::FaultMenu { .. } => None,
        }
    }

    pub fn scroll_mut(&mut self) -> Option<&mut usize> {
        match self {
            Layer::Help { scroll }
            | Layer::ConfirmQuit { scroll }
            | Layer::ConfirmDeploy { scroll, .. }
            | Layer::ConfirmBreakLock { scroll, .. }
            | Layer::Rollback { scroll, .. }
            | Layer::Output { scroll, .. }
            | Layer::Steps { scroll, .. } => Some(scroll),
            Layer::History(view) => Some(&mut view.scroll),
            Layer::Logs(view) => Some(&mut view.top),
            Layer::Filter
            | Layer::LogSearch
            | Layer::CommandLine { .. }
            | Layer::FaultMenu { .. } => None,
        }
    }
}

/// A layer's answer to a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Taken: whatever it did is done.
    Consumed,
    /// Not this layer's: offer it to the layer below (unless modal).
    Pass,
    /// Taken, and this layer is done: remove it.
    Close,
    /// Taken: open this layer on top.
    Push(Layer),
    /// Taken, and this layer is done: open that one in its place.
    Replace(Layer),
}

/// The main screen and the layers over it, bottom first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layers {
    pub main: MainScreen,
    above: Vec<Layer>,
}

impl Layers {
    /// The layers over the main screen, bottom first.
    pub fn above(&self) -> &[Layer] {
        &self.above
    }

    /// The layer that gets keys first (`None`: the main screen).
    pub fn top(&self) -> Option<&Layer> {
        self.above.last()
    }

    /// The top layer's keymap: the keys that work right now.
    pub fn keymap(&self) -> Keymap {
        self.top().map_or(Keymap::Main, Layer::keymap)
    }

    pub fn push(&mut self, layer: Layer) {
        self.above.push(layer);
    }

    /// Takes the top layer off (the key router puts it back unless it closed).
    pub(crate) fn pop(&mut self) -> Option<Layer> {
        self.above.pop()
    }

    /// The open logs screen's view.
    pub fn logs(&self) -> Option<&LogView> {
        self.above.iter().rev().find_map(|l| match l {
            Layer::Logs(view) => Some(view),
            _ => None,
        })
    }

    pub fn logs_mut(&mut self) -> Option<&mut LogView> {
        self.above.iter_mut().rev().find_map(|l| match l {
            Layer::Logs(view) => Some(view),
            _ => None,
        })
    }

    /// The open history popup.
    pub fn history_mut(&mut self) -> Option<&mut HistoryView> {
        self.above.iter_mut().rev().find_map(|l| match l {
            Layer::History(view) => Some(view),
            _ => None,
        })
    }

    /// The open deploy dialog `id` (a preview for one since closed finds none).
    pub fn deploy_dialog_mut(&mut self, id: u64) -> Option<&mut DeployDialog> {
        self.above.iter_mut().rev().find_map(|l| match l {
            Layer::ConfirmDeploy { dialog, .. } if dialog.id == id => Some(dialog),
            _ => None,
        })
    }

    /// The open rollback wizard.
    pub fn wizard_mut(&mut self) -> Option<&mut Wizard> {
        self.above.iter_mut().rev().find_map(|l| match l {
            Layer::Rollback { wizard, .. } => Some(wizard),
            _ => None,
        })
    }
}
