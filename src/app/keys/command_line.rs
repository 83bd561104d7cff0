//! The command line's keys: type, complete with tab, run with enter. A
//! command opens what its key opens, on the service it names (selected
//! in the tree first, so the details and the layer agree).

use super::super::event::Command;
use super::super::keymap::Action;
use super::super::layers::{Layer, Reply};
use super::super::panes::command_line::{complete, parse, Verb};
use super::super::panes::wizard::Wizard;
use super::super::state::State;
use crossterm::event::KeyEvent;

pub(super) fn on_key(
    state: &mut State,
    text: &mut String,
    action: Action,
    key: &KeyEvent,
    out: &mut Vec<Command>,
) -> Reply {
    match action {
        Action::Type | Action::Erase => super::prompts::edit(text, action, key),
        Action::Complete => match complete(text, &state.model.services) {
            Some(done) => *text = done,
            None => state.message = Some("nothing to complete".into()),
        },
        Action::Back => return Reply::Close,
        Action::Confirm => match parse(text, &state.model.services) {
            // The line stays, to be fixed.
            Err(why) => state.message = Some(why),
            Ok(verb) => return run(state, verb, out),
        },
        _ => {}
    }
    Reply::Consumed
}

fn run(state: &mut State, verb: Verb, out: &mut Vec<Command>) -> Reply {
    let (name, action) = match &verb {
        Verb::Deploy(n) => (Some(n), Action::Deploy),
        Verb::Rollback(n, _) => (Some(n), Action::Rollback),
        Verb::Logs(names) => (names.first(), Action::Logs),
        Verb::Ssh(n) => (Some(n), Action::Shell),
        Verb::History(n) => (n.as_ref(), Action::History),
    };
    if let Some(name) = name {
        select(state, name);
    }
    let reply = match verb {
        Verb::History(None) => super::main_action(state, Action::HistoryAll, out),
        Verb::Logs(names) => super::logs::open(state, names, out),
        Verb::Rollback(name, Some(generation)) => {
            out.push(Command::ListGenerations {
                service: name.clone(),
            });
            Reply::Push(Layer::rollback(Wizard::to(name, Some(generation))))
        }
        _ => super::main_action(state, action, out),
    };
    match reply {
        Reply::Push(layer) | Reply::Replace(layer) => Reply::Replace(layer),
        _ => Reply::Close,
    }
}

/// Selects `name` in the tree; a filter that hides it is cleared.
fn select(state: &mut State, name: &str) {
    let find = |state: &State| {
        let tree = &state.tree;
        tree.rows
            .iter()
            .copied()
            .find(|&r| tree.forest.node(r).name == name)
    };
    let mut row = find(state);
    if row.is_none() {
        state.tree.filter.clear();
        state.reset_tree();
        row = find(state);
    }
    if row.is_some() {
        state.tree.select(row);
        state.details.scroll = 0;
    }
}
