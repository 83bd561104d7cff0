//! Keys → actions, one keymap per layer. The help screen and the status
//! bar's hints are built from this table, so they cannot drift from what
//! the keys do. Nothing here uses ctrl-b / ctrl-a (tmux and screen prefixes).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Which layer a binding belongs to (several layers may share one: the quit
/// and deploy dialogs answer the same keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keymap {
    Main,
    Filter,
    Help,
    Dialog,
    DeployDialog,
    Wizard,
    Logs,
    LogSearch,
    Output,
    History,
    Steps,
    CommandLine,
    FaultMenu,
}

impl Keymap {
    /// Every keymap, in the order the help screen lists them.
    pub const ALL: [Keymap; 13] = [
        Keymap::Main,
        Keymap::Filter,
        Keymap::CommandLine,
        Keymap::DeployDialog,
        Keymap::Dialog,
        Keymap::Wizard,
        Keymap::Logs,
        Keymap::LogSearch,
        Keymap::Output,
        Keymap::FaultMenu,
        Keymap::History,
        Keymap::Steps,
        Keymap::Help,
    ];

    /// The help screen's heading for this keymap.
    pub fn title(self) -> &'static str {
        match self {
            Keymap::Main => "main screen",
            Keymap::Filter => "filter",
            Keymap::Help => "help",
            Keymap::Dialog => "quit and break-lock dialogs",
            Keymap::DeployDialog => "deploy dialog",
            Keymap::Wizard => "rollback wizard",
            Keymap::Logs => "logs",
            Keymap::LogSearch => "log search",
            Keymap::Output => "operation output",
            Keymap::History => "history",
            Keymap::Steps => "an operation's steps",
            Keymap::CommandLine => "command line (:)",
            Keymap::FaultMenu => "fault menu (labs only)",
        }
    }

    pub fn bindings(self) -> impl Iterator<Item = &'static Binding> {
        BINDINGS.iter().filter(move |b| b.keymap == self)
    }

    /// The bindings the status bar shows while this keymap is on top.
    pub fn hints(self) -> impl Iterator<Item = &'static Binding> {
        self.bindings().filter(|b| !b.hint.is_empty())
    }

    /// What `ev` does in this keymap, if anything.
    pub fn action(self, ev: &KeyEvent) -> Option<Action> {
        self.bindings()
            .find(|b| b.keys.iter().any(|k| k.matches(ev)))
            .map(|b| b.action)
    }
}

/// How the help screen lays out its sections in `room` columns and
/// `height` rows: cut into two columns at `split` when that makes it fit
/// (or shorter), and how many rows it then has. Shared by the help view
/// and its scroll keys, so both agree on where the end is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelpLayout {
    pub keys_width: usize,
    /// Columns for what a key does, in one column (longer texts wrap
    /// under themselves); `None` in two columns, where nothing wraps.
    pub text_width: Option<usize>,
    pub split: Option<usize>,
    pub rows: usize,
}

/// Blank columns between the help's two columns.
pub const HELP_GAP: usize = 2;

impl HelpLayout {
    pub fn new(room: usize, height: usize, ascii: bool) -> Self {
        let keys_width = BINDINGS
            .iter()
            .map(|b| b.keys_label(ascii).chars().count())
            .max()
            .unwrap_or(0);
        let sections: Vec<(usize, usize)> = Keymap::ALL
            .iter()
            .map(|k| {
                let w = k
                    .bindings()
                    .map(|b| 2 + keys_width + 1 + b.help.chars().count())
                    .chain([k.title().chars().count()])
                    .max()
                    .unwrap_or(0);
                (k.bindings().count() + 1, w)
            })
            .collect();
        let total: usize = sections.iter().map(|s| s.0).sum();
        let column = |s: &[(usize, usize)]| {
            (
                s.iter().map(|x| x.0).sum::<usize>(),
                s.iter().map(|x| x.1).max().unwrap_or(0),
            )
        };
        let split = if total > height {
            (1..sections.len())
                .filter(|&at| {
                    column(&sections[..at]).1 + HELP_GAP + column(&sections[at..]).1 <= room
                })
                .min_by_key(|&at| column(&sections[..at]).0.max(column(&sections[at..]).0))
        } else {
            None
        };
        let text_width = split
            .is_none()
            .then(|| room.saturating_sub(3 + keys_width).max(10));
        let rows = match (split, text_width) {
            (Some(at), _) => column(&sections[..at]).0.max(column(&sections[at..]).0),
            (None, Some(w)) => Keymap::ALL
                .iter()
                .map(|k| {
                    1 + k
                        .bindings()
                        .map(|b| word_wrap(b.help, w).len())
                        .sum::<usize>()
                })
                .sum(),
            (None, None) => total,
        };
        Self {
            keys_width,
            text_width,
            split,
            rows,
        }
    }
}

/// `text` in rows of at most `width` characters, broken between words
/// where it can be (a word longer than a row is cut).
pub fn word_wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut rows = Vec::new();
    let mut row: Vec<char> = Vec::new();
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let sep = usize::from(!row.is_empty());
            if row.len() + sep + word.len() <= width {
                if sep == 1 {
                    row.push(' ');
                }
                row.append(&mut word);
                break;
            }
            if row.is_empty() {
                // Longer than a whole row: cut it.
                let rest = word.split_off(width);
                row.append(&mut word);
                word = rest;
            }
            rows.push(row.drain(..).collect());
        }
    }
    rows.push(row.into_iter().collect());
    rows
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Down,
    Up,
    PageDown,
    PageUp,
    Top,
    Bottom,
    /// The details pane, from the main screen.
    DetailsDown,
    DetailsUp,
    Toggle,
    Expand,
    Collapse,
    Filter,
    Help,
    FlipDirection,
    Deploy,
    DeployWithDependents,
    /// Deploy every host whose running system differs from the manifest's.
    DeployOutdated,
    Rollback,
    Logs,
    /// The selected service's logs merged with those of everything it
    /// depends on.
    LogsWithDependencies,
    /// An interactive shell on the selected service's host.
    Shell,
    /// The operation history of the selected service.
    History,
    /// The operation history of every service (in the history: switch
    /// between the service's and everyone's).
    HistoryAll,
    /// The command line (`:`).
    CommandLine,
    /// Completes the word typed on the command line.
    Complete,
    /// The lab's fault menu for the selected service.
    FaultMenu,
    Reprobe,
    BreakLock,
    FocusNext,
    Back,
    Quit,
    Cancel,
    Confirm,
    /// Deploy every planned host, unchanged ones too.
    Force,
    LogFollow,
    LogWrap,
    LogPrefix,
    LogSearch,
    LogNext,
    LogPrev,
    /// A printable character typed into a text line.
    Type,
    /// Backspace on a text line.
    Erase,
}

pub struct Binding {
    pub keymap: Keymap,
    /// Every key that does this; the help screen lists them all.
    pub keys: &'static [Key],
    /// What the status bar calls the keys (`y/enter`).
    pub label: &'static str,
    pub action: Action,
    pub help: &'static str,
    /// The status bar's short hint ("" = not shown there).
    pub hint: &'static str,
}

impl Binding {
    /// The help screen's name for the keys: all of them (`g/home`).
    pub fn keys_label(&self, ascii: bool) -> String {
        let names: Vec<String> = self.keys.iter().map(|k| k.label(ascii)).collect();
        names.join("/")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Ctrl(char),
    Code(KeyCode),
    /// Any printable character (a text line's input).
    Text,
}

impl Key {
    pub fn matches(&self, ev: &KeyEvent) -> bool {
        match self {
            Key::Char(c) => {
                ev.code == KeyCode::Char(*c)
                    && !ev
                        .modifiers
                        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
            }
            Key::Ctrl(c) => {
                ev.code == KeyCode::Char(*c) && ev.modifiers.contains(KeyModifiers::CONTROL)
            }
            Key::Code(code) => ev.code == *code && !ev.modifiers.contains(KeyModifiers::CONTROL),
            Key::Text => {
                matches!(ev.code, KeyCode::Char(_)) && !ev.modifiers.contains(KeyModifiers::CONTROL)
            }
        }
    }

    /// The key's name on screen; arrows spelled out on ASCII terminals.
    pub fn label(&self, ascii: bool) -> String {
        let arrow = |glyph: &str, word: &str| (if ascii { word } else { glyph }).to_string();
        match self {
            Key::Char(' ') => "space".into(),
            Key::Char(c) => c.to_string(),
            Key::Ctrl(c) => format!("ctrl-{c}"),
            Key::Text => "text".into(),
            Key::Code(code) => match code {
                KeyCode::Down => arrow("↓", "down"),
                KeyCode::Up => arrow("↑", "up"),
                KeyCode::Left => arrow("←", "left"),
                KeyCode::Right => arrow("→", "right"),
                KeyCode::Enter => "enter".into(),
                KeyCode::Esc => "esc".into(),
                KeyCode::Tab => "tab".into(),
                KeyCode::Home => "home".into(),
                KeyCode::End => "end".into(),
                KeyCode::Backspace => "backspace".into(),
                KeyCode::PageUp => "pgup".into(),
                KeyCode::PageDown => "pgdn".into(),
                other => other.to_string().to_lowercase(),
            },
        }
    }
}

use Action::*;
use Key::{Char, Code, Ctrl, Text};
use Keymap as K;

pub const BINDINGS: &[Binding] = &[
    Binding {
        keymap: K::Main,
        keys: &[Char('j'), Code(KeyCode::Down)],
        label: "j/↓",
        action: Down,
        help: "next service",
        hint: "",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('k'), Code(KeyCode::Up)],
        label: "k/↑",
        action: Up,
        help: "previous service",
        hint: "",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('g'), Code(KeyCode::Home)],
        label: "g",
        action: Top,
        help: "first service",
        hint: "",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('G'), Code(KeyCode::End)],
        label: "G",
        action: Bottom,
        help: "last service",
        hint: "",
    },
    Binding {
        keymap: K::Main,
        keys: &[Code(KeyCode::Enter), Char(' ')],
        label: "enter",
        action: Toggle,
        help: "expand/collapse (activity: show output)",
        hint: "",
    },
    Binding {
        keymap: K::Main,
        keys: &[Code(KeyCode::Right)],
        label: "→",
        action: Expand,
        help: "expand",
        hint: "",
    },
    Binding {
        keymap: K::Main,
        keys: &[Code(KeyCode::Left)],
        label: "←",
        action: Collapse,
        help: "collapse",
        hint: "",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('d')],
        label: "d",
        action: Deploy,
        help: "deploy selected service (shows the plan first)",
        hint: "deploy",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('D')],
        label: "D",
        action: DeployWithDependents,
        help: "deploy selected and all that depends on it",
        hint: "deploy+deps",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('u')],
        label: "u",
        action: DeployOutdated,
        help: "deploy every outdated host (≠ in the tree)",
        hint: "",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('r')],
        label: "r",
        action: Rollback,
        help: "rollback wizard for selected service",
        hint: "rollback",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('l')],
        label: "l",
        action: Logs,
        help: "follow logs of selected service",
        hint: "logs",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('L')],
        label: "L",
        action: LogsWithDependencies,
        help: "merged logs of selected and all it depends on",
        hint: "",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('s')],
        label: "s",
        action: Shell,
        help: "shell on the selected service's host",
        hint: "shell",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('h')],
        label: "h",
        action: History,
        help: "history of the selected service's operations",
        hint: "history",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('H')],
        label: "H",
        action: HistoryAll,
        help: "history of every operation",
        hint: "",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char(':')],
        label: ":",
        action: CommandLine,
        help: "command line: deploy/rollback/logs/ssh/history NAME",
        hint: "",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('F')],
        label: "F",
        action: FaultMenu,
        help: "in a lab: inject a fault (kill, partition, break a build)",
        hint: "",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('R')],
        label: "R",
        action: Reprobe,
        help: "re-probe every service now",
        hint: "re-probe",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('t')],
        label: "t",
        action: FlipDirection,
        help: "tree: flip depends on / required by",
        hint: "flip tree",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('/')],
        label: "/",
        action: Filter,
        help: "filter services by name",
        hint: "filter",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('B')],
        label: "B",
        action: BreakLock,
        help: "break a STALE deploy lock (asks first)",
        hint: "",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('J')],
        label: "J",
        action: DetailsDown,
        help: "scroll the details pane down",
        hint: "",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('K')],
        label: "K",
        action: DetailsUp,
        help: "scroll the details pane up",
        hint: "",
    },
    Binding {
        keymap: K::Main,
        keys: &[Code(KeyCode::Tab)],
        label: "tab",
        action: FocusNext,
        help: "focus tree / activity",
        hint: "",
    },
    Binding {
        keymap: K::Main,
        keys: &[Ctrl('c')],
        label: "ctrl-c",
        action: Cancel,
        help: "cancel the focused operation",
        hint: "",
    },
    Binding {
        keymap: K::Main,
        keys: &[Code(KeyCode::Esc)],
        label: "esc",
        action: Back,
        help: "clear filter, else focus the tree",
        hint: "",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('?')],
        label: "?",
        action: Help,
        help: "this help",
        hint: "help",
    },
    Binding {
        keymap: K::Main,
        keys: &[Char('q')],
        label: "q",
        action: Quit,
        help: "quit (asks while operations run)",
        hint: "quit",
    },
    Binding {
        keymap: K::Filter,
        keys: &[Code(KeyCode::Enter)],
        label: "enter",
        action: Confirm,
        help: "keep filter",
        hint: "keep",
    },
    Binding {
        keymap: K::Filter,
        keys: &[Code(KeyCode::Esc)],
        label: "esc",
        action: Back,
        help: "clear filter",
        hint: "clear",
    },
    Binding {
        keymap: K::Filter,
        keys: &[Text],
        label: "text",
        action: Type,
        help: "filter as you type",
        hint: "",
    },
    Binding {
        keymap: K::Filter,
        keys: &[Code(KeyCode::Backspace)],
        label: "backspace",
        action: Erase,
        help: "delete the last character",
        hint: "",
    },
    Binding {
        keymap: K::Help,
        keys: &[Code(KeyCode::Esc), Char('?'), Char('q')],
        label: "esc",
        action: Back,
        help: "close help",
        hint: "close",
    },
    Binding {
        keymap: K::Help,
        keys: &[Char('j'), Code(KeyCode::Down)],
        label: "j/↓",
        action: Down,
        help: "scroll help down",
        hint: "",
    },
    Binding {
        keymap: K::Help,
        keys: &[Char('k'), Code(KeyCode::Up)],
        label: "k/↑",
        action: Up,
        help: "scroll help up",
        hint: "",
    },
    Binding {
        keymap: K::Help,
        keys: &[Code(KeyCode::PageDown)],
        label: "pgdn",
        action: PageDown,
        help: "help: a page down",
        hint: "",
    },
    Binding {
        keymap: K::Help,
        keys: &[Code(KeyCode::PageUp)],
        label: "pgup",
        action: PageUp,
        help: "help: a page up",
        hint: "",
    },
    Binding {
        keymap: K::Help,
        keys: &[Char('g'), Code(KeyCode::Home)],
        label: "g",
        action: Top,
        help: "help: top",
        hint: "",
    },
    Binding {
        keymap: K::Help,
        keys: &[Char('G'), Code(KeyCode::End)],
        label: "G",
        action: Bottom,
        help: "help: bottom",
        hint: "",
    },
    Binding {
        keymap: K::Dialog,
        keys: &[Char('y'), Code(KeyCode::Enter)],
        label: "y/enter",
        action: Confirm,
        help: "go ahead",
        hint: "yes",
    },
    Binding {
        keymap: K::Dialog,
        keys: &[Char('n'), Code(KeyCode::Esc), Char('q')],
        label: "n/esc",
        action: Back,
        help: "cancel",
        hint: "no",
    },
    Binding {
        keymap: K::Dialog,
        keys: &[Char('j'), Code(KeyCode::Down)],
        label: "j/↓",
        action: Down,
        help: "scroll the dialog down",
        hint: "",
    },
    Binding {
        keymap: K::Dialog,
        keys: &[Char('k'), Code(KeyCode::Up)],
        label: "k/↑",
        action: Up,
        help: "scroll the dialog up",
        hint: "",
    },
    Binding {
        keymap: K::Dialog,
        keys: &[Code(KeyCode::PageDown)],
        label: "pgdn",
        action: PageDown,
        help: "the dialog: a page down",
        hint: "",
    },
    Binding {
        keymap: K::Dialog,
        keys: &[Code(KeyCode::PageUp)],
        label: "pgup",
        action: PageUp,
        help: "the dialog: a page up",
        hint: "",
    },
    Binding {
        keymap: K::Dialog,
        keys: &[Char('g'), Code(KeyCode::Home)],
        label: "g",
        action: Top,
        help: "the dialog: top",
        hint: "",
    },
    Binding {
        keymap: K::Dialog,
        keys: &[Char('G'), Code(KeyCode::End)],
        label: "G",
        action: Bottom,
        help: "the dialog: bottom",
        hint: "",
    },
    Binding {
        keymap: K::Dialog,
        keys: &[Char('?')],
        label: "?",
        action: Help,
        help: "help (every key)",
        hint: "help",
    },
    Binding {
        keymap: K::DeployDialog,
        keys: &[Char('y'), Code(KeyCode::Enter)],
        label: "y/enter",
        action: Confirm,
        help: "deploy what the preview says changed (and its dependents)",
        hint: "deploy",
    },
    Binding {
        keymap: K::DeployDialog,
        keys: &[Char('f')],
        label: "f",
        action: Force,
        help: "deploy every planned host, unchanged ones too",
        hint: "all",
    },
    Binding {
        keymap: K::DeployDialog,
        keys: &[Char('n'), Code(KeyCode::Esc), Char('q')],
        label: "n/esc",
        action: Back,
        help: "cancel",
        hint: "cancel",
    },
    Binding {
        keymap: K::DeployDialog,
        keys: &[Char('j'), Code(KeyCode::Down)],
        label: "j/↓",
        action: Down,
        help: "scroll the plan down",
        hint: "",
    },
    Binding {
        keymap: K::DeployDialog,
        keys: &[Char('k'), Code(KeyCode::Up)],
        label: "k/↑",
        action: Up,
        help: "scroll the plan up",
        hint: "",
    },
    Binding {
        keymap: K::DeployDialog,
        keys: &[Code(KeyCode::PageDown)],
        label: "pgdn",
        action: PageDown,
        help: "the plan: a page down",
        hint: "",
    },
    Binding {
        keymap: K::DeployDialog,
        keys: &[Code(KeyCode::PageUp)],
        label: "pgup",
        action: PageUp,
        help: "the plan: a page up",
        hint: "",
    },
    Binding {
        keymap: K::DeployDialog,
        keys: &[Char('g'), Code(KeyCode::Home)],
        label: "g",
        action: Top,
        help: "the plan: top",
        hint: "",
    },
    Binding {
        keymap: K::DeployDialog,
        keys: &[Char('G'), Code(KeyCode::End)],
        label: "G",
        action: Bottom,
        help: "the plan: bottom (warnings)",
        hint: "",
    },
    Binding {
        keymap: K::DeployDialog,
        keys: &[Char('?')],
        label: "?",
        action: Help,
        help: "help (every key)",
        hint: "help",
    },
    Binding {
        keymap: K::Wizard,
        keys: &[Char('y'), Code(KeyCode::Enter)],
        label: "y/enter",
        action: Confirm,
        help: "go ahead",
        hint: "yes",
    },
    Binding {
        keymap: K::Wizard,
        keys: &[Char('n'), Code(KeyCode::Esc), Char('q')],
        label: "n/esc",
        action: Back,
        help: "back / cancel",
        hint: "no",
    },
    Binding {
        keymap: K::Wizard,
        keys: &[Char('j'), Code(KeyCode::Down)],
        label: "j/↓",
        action: Down,
        help: "next generation",
        hint: "",
    },
    Binding {
        keymap: K::Wizard,
        keys: &[Char('k'), Code(KeyCode::Up)],
        label: "k/↑",
        action: Up,
        help: "previous generation",
        hint: "",
    },
    Binding {
        keymap: K::Wizard,
        keys: &[Code(KeyCode::PageDown)],
        label: "pgdn",
        action: PageDown,
        help: "the wizard: a page down",
        hint: "",
    },
    Binding {
        keymap: K::Wizard,
        keys: &[Code(KeyCode::PageUp)],
        label: "pgup",
        action: PageUp,
        help: "the wizard: a page up",
        hint: "",
    },
    Binding {
        keymap: K::Wizard,
        keys: &[Char('?')],
        label: "?",
        action: Help,
        help: "help (every key)",
        hint: "help",
    },
    Binding {
        keymap: K::Logs,
        keys: &[Char('f')],
        label: "f",
        action: LogFollow,
        help: "follow / pause",
        hint: "follow",
    },
    Binding {
        keymap: K::Logs,
        keys: &[Char('/')],
        label: "/",
        action: LogSearch,
        help: "search (smart case: an upper-case letter makes it exact)",
        hint: "search",
    },
    Binding {
        keymap: K::Logs,
        keys: &[Char('n')],
        label: "n/N",
        action: LogNext,
        help: "next match",
        hint: "next",
    },
    Binding {
        keymap: K::Logs,
        keys: &[Char('N')],
        label: "N",
        action: LogPrev,
        help: "previous match",
        hint: "",
    },
    Binding {
        keymap: K::Logs,
        keys: &[Char('w')],
        label: "w",
        action: LogWrap,
        help: "wrap long lines",
        hint: "wrap",
    },
    Binding {
        keymap: K::Logs,
        keys: &[Char('p')],
        label: "p",
        action: LogPrefix,
        help: "hide/show the time and host prefix",
        hint: "prefix",
    },
    Binding {
        keymap: K::Logs,
        keys: &[Char('j'), Code(KeyCode::Down)],
        label: "j/↓",
        action: Down,
        help: "scroll down",
        hint: "",
    },
    Binding {
        keymap: K::Logs,
        keys: &[Char('k'), Code(KeyCode::Up)],
        label: "k/↑",
        action: Up,
        help: "scroll up",
        hint: "",
    },
    Binding {
        keymap: K::Logs,
        keys: &[Char('g')],
        label: "g",
        action: Top,
        help: "top",
        hint: "",
    },
    Binding {
        keymap: K::Logs,
        keys: &[Char('G')],
        label: "G",
        action: Bottom,
        help: "bottom (follow)",
        hint: "",
    },
    Binding {
        keymap: K::Logs,
        keys: &[Code(KeyCode::Esc), Char('q')],
        label: "esc",
        action: Back,
        help: "close logs",
        hint: "close",
    },
    Binding {
        keymap: K::Logs,
        keys: &[Code(KeyCode::PageDown)],
        label: "pgdn",
        action: PageDown,
        help: "logs: a page down",
        hint: "",
    },
    Binding {
        keymap: K::Logs,
        keys: &[Code(KeyCode::PageUp)],
        label: "pgup",
        action: PageUp,
        help: "logs: a page up",
        hint: "",
    },
    Binding {
        keymap: K::Logs,
        keys: &[Char('?')],
        label: "?",
        action: Help,
        help: "help (every key)",
        hint: "help",
    },
    Binding {
        keymap: K::LogSearch,
        keys: &[Code(KeyCode::Enter)],
        label: "enter",
        action: Confirm,
        help: "find",
        hint: "find",
    },
    Binding {
        keymap: K::LogSearch,
        keys: &[Code(KeyCode::Esc)],
        label: "esc",
        action: Back,
        help: "cancel the search",
        hint: "cancel",
    },
    Binding {
        keymap: K::LogSearch,
        keys: &[Text],
        label: "text",
        action: Type,
        help: "the text to find",
        hint: "",
    },
    Binding {
        keymap: K::LogSearch,
        keys: &[Code(KeyCode::Backspace)],
        label: "backspace",
        action: Erase,
        help: "delete the last character",
        hint: "",
    },
    Binding {
        keymap: K::Output,
        keys: &[Code(KeyCode::Esc), Code(KeyCode::Enter), Char('q')],
        label: "esc",
        action: Back,
        help: "close",
        hint: "close",
    },
    Binding {
        keymap: K::Output,
        keys: &[Ctrl('c')],
        label: "ctrl-c",
        action: Cancel,
        help: "cancel this operation",
        hint: "cancel",
    },
    Binding {
        keymap: K::Output,
        keys: &[Char('j'), Code(KeyCode::Down)],
        label: "j/↓",
        action: Down,
        help: "scroll the output down",
        hint: "",
    },
    Binding {
        keymap: K::Output,
        keys: &[Char('k'), Code(KeyCode::Up)],
        label: "k/↑",
        action: Up,
        help: "scroll the output up",
        hint: "",
    },
    Binding {
        keymap: K::Output,
        keys: &[Code(KeyCode::PageDown)],
        label: "pgdn",
        action: PageDown,
        help: "the output: a page down",
        hint: "",
    },
    Binding {
        keymap: K::Output,
        keys: &[Code(KeyCode::PageUp)],
        label: "pgup",
        action: PageUp,
        help: "the output: a page up",
        hint: "",
    },
    Binding {
        keymap: K::Output,
        keys: &[Char('g'), Code(KeyCode::Home)],
        label: "g",
        action: Top,
        help: "the output: top",
        hint: "",
    },
    Binding {
        keymap: K::Output,
        keys: &[Char('G'), Code(KeyCode::End)],
        label: "G",
        action: Bottom,
        help: "the output: bottom",
        hint: "",
    },
    Binding {
        keymap: K::Output,
        keys: &[Char('?')],
        label: "?",
        action: Help,
        help: "help (every key)",
        hint: "help",
    },
    Binding {
        keymap: K::History,
        keys: &[Code(KeyCode::Esc), Char('q')],
        label: "esc",
        action: Back,
        help: "close",
        hint: "close",
    },
    Binding {
        keymap: K::History,
        keys: &[Code(KeyCode::Enter)],
        label: "enter",
        action: Toggle,
        help: "the selected operation's steps",
        hint: "steps",
    },
    Binding {
        keymap: K::History,
        keys: &[Char('H')],
        label: "H",
        action: HistoryAll,
        help: "this service's operations / every operation",
        hint: "all/one",
    },
    Binding {
        keymap: K::History,
        keys: &[Char('j'), Code(KeyCode::Down)],
        label: "j/↓",
        action: Down,
        help: "older operation",
        hint: "",
    },
    Binding {
        keymap: K::History,
        keys: &[Char('k'), Code(KeyCode::Up)],
        label: "k/↑",
        action: Up,
        help: "newer operation",
        hint: "",
    },
    Binding {
        keymap: K::History,
        keys: &[Code(KeyCode::PageDown)],
        label: "pgdn",
        action: PageDown,
        help: "a page of operations down",
        hint: "",
    },
    Binding {
        keymap: K::History,
        keys: &[Code(KeyCode::PageUp)],
        label: "pgup",
        action: PageUp,
        help: "a page of operations up",
        hint: "",
    },
    Binding {
        keymap: K::History,
        keys: &[Char('g'), Code(KeyCode::Home)],
        label: "g",
        action: Top,
        help: "newest operation",
        hint: "",
    },
    Binding {
        keymap: K::History,
        keys: &[Char('G'), Code(KeyCode::End)],
        label: "G",
        action: Bottom,
        help: "oldest operation",
        hint: "",
    },
    Binding {
        keymap: K::History,
        keys: &[Char('?')],
        label: "?",
        action: Help,
        help: "help (every key)",
        hint: "help",
    },
    Binding {
        keymap: K::Steps,
        keys: &[Code(KeyCode::Esc), Code(KeyCode::Enter), Char('q')],
        label: "esc",
        action: Back,
        help: "back to the history",
        hint: "back",
    },
    Binding {
        keymap: K::Steps,
        keys: &[Char('j'), Code(KeyCode::Down)],
        label: "j/↓",
        action: Down,
        help: "scroll the steps down",
        hint: "",
    },
    Binding {
        keymap: K::Steps,
        keys: &[Char('k'), Code(KeyCode::Up)],
        label: "k/↑",
        action: Up,
        help: "scroll the steps up",
        hint: "",
    },
    Binding {
        keymap: K::Steps,
        keys: &[Code(KeyCode::PageDown)],
        label: "pgdn",
        action: PageDown,
        help: "the steps: a page down",
        hint: "",
    },
    Binding {
        keymap: K::Steps,
        keys: &[Code(KeyCode::PageUp)],
        label: "pgup",
        action: PageUp,
        help: "the steps: a page up",
        hint: "",
    },
    Binding {
        keymap: K::Steps,
        keys: &[Char('g'), Code(KeyCode::Home)],
        label: "g",
        action: Top,
        help: "the steps: top",
        hint: "",
    },
    Binding {
        keymap: K::Steps,
        keys: &[Char('G'), Code(KeyCode::End)],
        label: "G",
        action: Bottom,
        help: "the steps: bottom",
        hint: "",
    },
    Binding {
        keymap: K::Steps,
        keys: &[Char('?')],
        label: "?",
        action: Help,
        help: "help (every key)",
        hint: "help",
    },
    Binding {
        keymap: K::CommandLine,
        keys: &[Code(KeyCode::Enter)],
        label: "enter",
        action: Confirm,
        help: "run the command",
        hint: "run",
    },
    Binding {
        keymap: K::CommandLine,
        keys: &[Code(KeyCode::Tab)],
        label: "tab",
        action: Complete,
        help: "complete the command or service name",
        hint: "complete",
    },
    Binding {
        keymap: K::CommandLine,
        keys: &[Code(KeyCode::Esc)],
        label: "esc",
        action: Back,
        help: "abandon",
        hint: "cancel",
    },
    Binding {
        keymap: K::CommandLine,
        keys: &[Text],
        label: "text",
        action: Type,
        help: "the command: deploy, rollback NAME [GEN], logs, ssh, history [NAME]",
        hint: "",
    },
    Binding {
        keymap: K::CommandLine,
        keys: &[Code(KeyCode::Backspace)],
        label: "backspace",
        action: Erase,
        help: "delete the last character",
        hint: "",
    },
    Binding {
        keymap: K::FaultMenu,
        keys: &[Code(KeyCode::Enter), Char('y')],
        label: "enter",
        action: Confirm,
        help: "inject the selected fault",
        hint: "inject",
    },
    Binding {
        keymap: K::FaultMenu,
        keys: &[Code(KeyCode::Esc), Char('q'), Char('n')],
        label: "esc",
        action: Back,
        help: "close",
        hint: "close",
    },
    Binding {
        keymap: K::FaultMenu,
        keys: &[Char('j'), Code(KeyCode::Down)],
        label: "j/↓",
        action: Down,
        help: "next fault",
        hint: "",
    },
    Binding {
        keymap: K::FaultMenu,
        keys: &[Char('k'), Code(KeyCode::Up)],
        label: "k/↑",
        action: Up,
        help: "previous fault",
        hint: "",
    },
    Binding {
        keymap: K::FaultMenu,
        keys: &[Char('?')],
        label: "?",
        action: Help,
        help: "help (every key)",
        hint: "help",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether one key event could match both keys.
    fn overlap(a: &Key, b: &Key) -> bool {
        match (a, b) {
            (Key::Text, Key::Char(_)) | (Key::Char(_), Key::Text) => true,
            _ => a == b,
        }
    }

    #[test]
    fn no_key_is_bound_twice_in_one_keymap() {
        for a in BINDINGS {
            for b in BINDINGS {
                if std::ptr::eq(a, b) || a.keymap != b.keymap {
                    continue;
                }
                for k in a.keys {
                    assert!(
                        !b.keys.iter().any(|l| overlap(k, l)),
                        "{k:?} bound twice in {:?}",
                        a.keymap
                    );
                }
            }
        }
    }

    #[test]
    fn word_wrap_breaks_between_words_and_cuts_only_long_ones() {
        assert_eq!(word_wrap("deploy the plan", 8), vec!["deploy", "the plan"]);
        assert_eq!(word_wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(word_wrap("", 4), vec![""]);
        for w in 1..30 {
            for row in word_wrap("break a STALE deploy lock (asks first)", w) {
                assert!(row.chars().count() <= w, "{row:?} wider than {w}");
            }
        }
    }

    #[test]
    fn no_terminal_multiplexer_prefix_is_used() {
        for b in BINDINGS {
            assert!(!b.keys.contains(&Key::Ctrl('b')) && !b.keys.contains(&Key::Ctrl('a')));
        }
    }

    #[test]
    fn every_keymap_is_in_the_help_and_has_a_way_out() {
        for k in Keymap::ALL {
            assert!(k.bindings().next().is_some(), "{k:?} binds nothing");
        }
        for b in BINDINGS {
            assert!(Keymap::ALL.contains(&b.keymap));
        }
        for k in Keymap::ALL.into_iter().filter(|&k| k != Keymap::Main) {
            let esc = KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE);
            assert!(k.action(&esc).is_some(), "{k:?}: esc does nothing");
        }
    }
}
