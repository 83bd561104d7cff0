//! Keys through the layer stack: the top layer gets a key first; its keymap
//! says what the key means there, its handler answers with a `Reply`. A
//! key a layer passes goes down to the next one unless the layer is modal;
//! the main screen is the bottom. One module per layer (or family of
//! layers); each handler changes only what its layer is about.

mod command_line;
mod dialogs;
mod history;
mod logs;
mod main_screen;
mod prompts;
pub mod scroll;
mod wizard;

use super::event::Command;
use super::keymap::{Action, Keymap};
use super::layers::{Layer, Reply};
use super::state::State;
use crossterm::event::KeyEvent;

/// Where a key went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    /// The keymap of the layer that took the key; `None` when no layer
    /// binds it (a modal layer swallowed it, or the main screen ignored it).
    pub taken_by: Option<Keymap>,
    pub commands: Vec<Command>,
}

pub fn route(state: &mut State, key: &KeyEvent) -> Routed {
    let mut commands = Vec::new();
    // Layers that passed the key, topmost first: they go back as they were.
    let mut passed = Vec::new();
    let mut pushed = None;
    let mut taken_by = None;
    loop {
        let Some(mut layer) = state.layers.pop() else {
            if let Some(action) = Keymap::Main.action(key) {
                state.message = None;
                // The main screen never closes; what it opens goes on top.
                if let Reply::Push(l) | Reply::Replace(l) =
                    main_action(state, action, &mut commands)
                {
                    pushed = Some(l);
                }
                taken_by = Some(Keymap::Main);
            }
            break;
        };
        let keymap = layer.keymap();
        let reply = match keymap.action(key) {
            Some(action) => {
                state.message = None;
                on_key(&mut layer, action, key, state, &mut commands)
            }
            None => Reply::Pass,
        };
        match reply {
            Reply::Pass => {
                let modal = layer.modal();
                passed.push(layer);
                if modal {
                    break;
                }
                continue;
            }
            Reply::Consumed => state.layers.push(layer),
            Reply::Close => {}
            Reply::Push(new) => {
                state.layers.push(layer);
                pushed = Some(new);
            }
            Reply::Replace(new) => pushed = Some(new),
        }
        taken_by = Some(keymap);
        break;
    }
    while let Some(layer) = passed.pop() {
        state.layers.push(layer);
    }
    if let Some(layer) = pushed {
        state.layers.push(layer);
    }
    Routed { taken_by, commands }
}

/// What an action of the main screen's keymap does (the command line
/// runs the same).
fn main_action(state: &mut State, action: Action, out: &mut Vec<Command>) -> Reply {
    match action {
        Action::History => history::open(state.tree.selected_service().map(str::to_string), out),
        Action::HistoryAll => history::open(None, out),
        Action::CommandLine => Reply::Push(Layer::CommandLine {
            text: String::new(),
        }),
        Action::FaultMenu => {
            if !state.lab {
                state.message =
                    Some("the fault menu works inside a lab (nixmox demo, nixmox lab exec)".into());
                return Reply::Consumed;
            }
            match state.tree.selected_service() {
                Some(name) => Reply::Push(Layer::FaultMenu {
                    service: name.to_string(),
                    selected: 0,
                }),
                None => Reply::Consumed,
            }
        }
        _ => main_screen::on_key(state, action, out),
    }
}

/// One layer's answer to an action of its keymap. The layer is off the
/// stack meanwhile, so it and the rest of the state are both at hand.
fn on_key(
    layer: &mut Layer,
    action: Action,
    key: &KeyEvent,
    state: &mut State,
    out: &mut Vec<Command>,
) -> Reply {
    let text_popup = matches!(
        layer,
        Layer::Help { .. }
            | Layer::ConfirmQuit { .. }
            | Layer::ConfirmDeploy { .. }
            | Layer::ConfirmBreakLock { .. }
            | Layer::Output { .. }
            | Layer::Steps { .. }
    );
    if text_popup && scroll::scroll(state, layer, action) {
        return Reply::Consumed;
    }
    // `?` over any layer but the help and the lines typed: every key there.
    if action == Action::Help && !matches!(layer, Layer::Help { .. }) {
        return Reply::Push(Layer::help());
    }
    match layer {
        Layer::Filter => prompts::filter(state, action, key),
        Layer::CommandLine { text } => command_line::on_key(state, text, action, key, out),
        Layer::LogSearch => prompts::log_search(state, action, key),
        Layer::Help { .. } => Reply::Close,
        Layer::ConfirmQuit { .. } => dialogs::quit(action, out),
        Layer::ConfirmDeploy { dialog, .. } => dialogs::deploy(state, dialog, action, out),
        Layer::ConfirmBreakLock { service, .. } => dialogs::break_lock(state, service, action, out),
        Layer::Output { op, .. } => dialogs::output(state, *op, action, out),
        Layer::Logs(view) => logs::on_key(state, view, action, out),
        Layer::Rollback { scroll, .. } if matches!(action, Action::PageDown | Action::PageUp) => {
            // The wizard's text is a few lines per generation: a page is
            // a handful of rows; the view stops at the end.
            let page = usize::from(state.size.1 / 2).max(1);
            *scroll = if action == Action::PageDown {
                scroll.saturating_add(page).min(super::layers::BOTTOM - 1)
            } else {
                scroll.saturating_sub(page)
            };
            Reply::Consumed
        }
        Layer::Rollback { wizard, .. } => wizard::on_key(state, wizard, action, out),
        Layer::History(view) => history::on_key(state, view, action, out),
        Layer::FaultMenu { service, selected } => {
            let faults = super::panes::faults::FAULTS;
            match action {
                Action::Down => *selected = (*selected + 1).min(faults.len() - 1),
                Action::Up => *selected = selected.saturating_sub(1),
                Action::Confirm => {
                    let Some((what, kind)) = faults.get(*selected) else {
                        return Reply::Close;
                    };
                    state.message = Some(format!("lab: {what} ({service})…"));
                    out.push(Command::Fault {
                        kind: (*kind).to_string(),
                        target: service.clone(),
                    });
                    return Reply::Close;
                }
                Action::Back => return Reply::Close,
                _ => {}
            }
            Reply::Consumed
        }
        Layer::Steps { .. } => match action {
            Action::Back => Reply::Close,
            _ => Reply::Consumed,
        },
    }
}
