//! Keys → actions, per context. The help screen and the status bar's hints
//! are built from this table, so they cannot drift from what the keys do.
//! Nothing here uses ctrl-b / ctrl-a (tmux and screen prefixes).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Main,
    Filter,
    Help,
    Confirm,
    Logs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Down,
    Up,
    Top,
    Bottom,
    Toggle,
    Expand,
    Collapse,
    Filter,
    Help,
    FlipDirection,
    Deploy,
    DeployWithDependents,
    Rollback,
    Logs,
    Reprobe,
    FocusNext,
    Back,
    Quit,
    Cancel,
    Confirm,
    LogFollow,
    LogWrap,
    LogSearch,
    LogNext,
    LogPrev,
}

pub struct Binding {
    pub context: Context,
    pub keys: &'static [Key],
    /// What the help screen calls the keys (`j/↓`).
    pub label: &'static str,
    pub action: Action,
    pub help: &'static str,
    /// The status bar's short hint ("" = not shown there).
    pub hint: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Ctrl(char),
    Code(KeyCode),
}

use Action::*;
use Context as C;
use Key::{Char, Code, Ctrl};

pub const BINDINGS: &[Binding] = &[
    Binding {
        context: C::Main,
        keys: &[Char('j'), Code(KeyCode::Down)],
        label: "j/↓",
        action: Down,
        help: "next service",
        hint: "",
    },
    Binding {
        context: C::Main,
        keys: &[Char('k'), Code(KeyCode::Up)],
        label: "k/↑",
        action: Up,
        help: "previous service",
        hint: "",
    },
    Binding {
        context: C::Main,
        keys: &[Char('g'), Code(KeyCode::Home)],
        label: "g",
        action: Top,
        help: "first service",
        hint: "",
    },
    Binding {
        context: C::Main,
        keys: &[Char('G'), Code(KeyCode::End)],
        label: "G",
        action: Bottom,
        help: "last service",
        hint: "",
    },
    Binding {
        context: C::Main,
        keys: &[Code(KeyCode::Enter), Char(' ')],
        label: "enter",
        action: Toggle,
        help: "expand/collapse (activity: show output)",
        hint: "",
    },
    Binding {
        context: C::Main,
        keys: &[Code(KeyCode::Right)],
        label: "→",
        action: Expand,
        help: "expand",
        hint: "",
    },
    Binding {
        context: C::Main,
        keys: &[Code(KeyCode::Left)],
        label: "←",
        action: Collapse,
        help: "collapse",
        hint: "",
    },
    Binding {
        context: C::Main,
        keys: &[Char('d')],
        label: "d",
        action: Deploy,
        help: "deploy selected service (shows the plan first)",
        hint: "deploy",
    },
    Binding {
        context: C::Main,
        keys: &[Char('D')],
        label: "D",
        action: DeployWithDependents,
        help: "deploy selected with everything that depends on it",
        hint: "deploy+deps",
    },
    Binding {
        context: C::Main,
        keys: &[Char('r')],
        label: "r",
        action: Rollback,
        help: "rollback wizard for selected service",
        hint: "rollback",
    },
    Binding {
        context: C::Main,
        keys: &[Char('l')],
        label: "l",
        action: Logs,
        help: "follow logs of selected service",
        hint: "logs",
    },
    Binding {
        context: C::Main,
        keys: &[Char('R')],
        label: "R",
        action: Reprobe,
        help: "re-probe every service now",
        hint: "re-probe",
    },
    Binding {
        context: C::Main,
        keys: &[Char('t')],
        label: "t",
        action: FlipDirection,
        help: "tree: flip depends on / required by",
        hint: "flip tree",
    },
    Binding {
        context: C::Main,
        keys: &[Char('/')],
        label: "/",
        action: Filter,
        help: "filter services by name",
        hint: "filter",
    },
    Binding {
        context: C::Main,
        keys: &[Code(KeyCode::Tab)],
        label: "tab",
        action: FocusNext,
        help: "focus tree / activity",
        hint: "",
    },
    Binding {
        context: C::Main,
        keys: &[Ctrl('c')],
        label: "ctrl-c",
        action: Cancel,
        help: "cancel the focused operation",
        hint: "",
    },
    Binding {
        context: C::Main,
        keys: &[Code(KeyCode::Esc)],
        label: "esc",
        action: Back,
        help: "clear filter / back",
        hint: "",
    },
    Binding {
        context: C::Main,
        keys: &[Char('?')],
        label: "?",
        action: Help,
        help: "this help",
        hint: "help",
    },
    Binding {
        context: C::Main,
        keys: &[Char('q')],
        label: "q",
        action: Quit,
        help: "quit (asks while operations run)",
        hint: "quit",
    },
    Binding {
        context: C::Filter,
        keys: &[Code(KeyCode::Enter)],
        label: "enter",
        action: Confirm,
        help: "keep filter",
        hint: "keep",
    },
    Binding {
        context: C::Filter,
        keys: &[Code(KeyCode::Esc)],
        label: "esc",
        action: Back,
        help: "clear filter",
        hint: "clear",
    },
    Binding {
        context: C::Help,
        keys: &[Code(KeyCode::Esc), Char('?'), Char('q')],
        label: "esc",
        action: Back,
        help: "close help",
        hint: "close",
    },
    Binding {
        context: C::Confirm,
        keys: &[Char('y'), Code(KeyCode::Enter)],
        label: "y/enter",
        action: Confirm,
        help: "go ahead",
        hint: "yes",
    },
    Binding {
        context: C::Confirm,
        keys: &[Char('n'), Code(KeyCode::Esc), Char('q')],
        label: "n/esc",
        action: Back,
        help: "cancel",
        hint: "no",
    },
    Binding {
        context: C::Confirm,
        keys: &[Char('j'), Code(KeyCode::Down)],
        label: "j/k",
        action: Down,
        help: "choose",
        hint: "",
    },
    Binding {
        context: C::Confirm,
        keys: &[Char('k'), Code(KeyCode::Up)],
        label: "k",
        action: Up,
        help: "choose",
        hint: "",
    },
    Binding {
        context: C::Logs,
        keys: &[Char('f')],
        label: "f",
        action: LogFollow,
        help: "follow / pause",
        hint: "follow",
    },
    Binding {
        context: C::Logs,
        keys: &[Char('/')],
        label: "/",
        action: LogSearch,
        help: "search",
        hint: "search",
    },
    Binding {
        context: C::Logs,
        keys: &[Char('n')],
        label: "n/N",
        action: LogNext,
        help: "next / previous match",
        hint: "next",
    },
    Binding {
        context: C::Logs,
        keys: &[Char('N')],
        label: "N",
        action: LogPrev,
        help: "previous match",
        hint: "",
    },
    Binding {
        context: C::Logs,
        keys: &[Char('w')],
        label: "w",
        action: LogWrap,
        help: "wrap long lines",
        hint: "wrap",
    },
    Binding {
        context: C::Logs,
        keys: &[Char('j'), Code(KeyCode::Down)],
        label: "j/k",
        action: Down,
        help: "scroll",
        hint: "",
    },
    Binding {
        context: C::Logs,
        keys: &[Char('k'), Code(KeyCode::Up)],
        label: "k",
        action: Up,
        help: "scroll up",
        hint: "",
    },
    Binding {
        context: C::Logs,
        keys: &[Char('g')],
        label: "g/G",
        action: Top,
        help: "top / bottom",
        hint: "",
    },
    Binding {
        context: C::Logs,
        keys: &[Char('G')],
        label: "G",
        action: Bottom,
        help: "bottom (follow)",
        hint: "",
    },
    Binding {
        context: C::Logs,
        keys: &[Code(KeyCode::Esc), Char('q')],
        label: "esc",
        action: Back,
        help: "close logs",
        hint: "close",
    },
];

fn matches(key: &Key, ev: &KeyEvent) -> bool {
    match key {
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
    }
}

pub fn action(context: Context, ev: &KeyEvent) -> Option<Action> {
    BINDINGS
        .iter()
        .filter(|b| b.context == context)
        .find(|b| b.keys.iter().any(|k| matches(k, ev)))
        .map(|b| b.action)
}

pub fn hints(context: Context) -> impl Iterator<Item = &'static Binding> {
    BINDINGS
        .iter()
        .filter(move |b| b.context == context && !b.hint.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        for a in BINDINGS {
            for b in BINDINGS {
                if std::ptr::eq(a, b) || a.context != b.context {
                    continue;
                }
                for k in a.keys {
                    assert!(!b.keys.contains(k), "{k:?} bound twice in {:?}", a.context);
                }
            }
        }
    }

    #[test]
    fn no_terminal_multiplexer_prefix_is_used() {
        for b in BINDINGS {
            assert!(!b.keys.contains(&Key::Ctrl('b')) && !b.keys.contains(&Key::Ctrl('a')));
        }
    }
}
