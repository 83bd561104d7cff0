//! Text lines typed in the status bar: the tree's filter and the logs'
//! search. Both edit their text in place, so the tree filters and the logs
//! highlight as you type.

use super::super::keymap::Action;
use super::super::layers::Reply;
use super::super::state::State;
use crossterm::event::{KeyCode, KeyEvent};

/// The filter line: typing re-filters at once; enter keeps the filter,
/// esc clears it.
pub(super) fn filter(state: &mut State, action: Action, key: &KeyEvent) -> Reply {
    match action {
        Action::Type | Action::Erase => {
            edit(&mut state.tree.filter, action, key);
            state.reset_tree();
            Reply::Consumed
        }
        Action::Confirm => Reply::Close,
        Action::Back => {
            state.tree.filter.clear();
            state.reset_tree();
            Reply::Close
        }
        _ => Reply::Consumed,
    }
}

/// The search line over the logs screen: enter finds, esc abandons.
pub(super) fn log_search(state: &mut State, action: Action, key: &KeyEvent) -> Reply {
    let height = state.log_height();
    let Some(view) = state.layers.logs_mut() else {
        // Nothing to search any more.
        return Reply::Close;
    };
    match action {
        Action::Type | Action::Erase => {
            edit(&mut view.search, action, key);
            Reply::Consumed
        }
        Action::Confirm => {
            if !view.find(true, height) {
                state.message = Some(format!("no match for {:?}", view.search));
            }
            Reply::Close
        }
        Action::Back => {
            view.search.clear();
            Reply::Close
        }
        _ => Reply::Consumed,
    }
}

pub(super) fn edit(text: &mut String, action: Action, key: &KeyEvent) {
    match (action, key.code) {
        (Action::Type, KeyCode::Char(c)) => text.push(c),
        (Action::Erase, _) => {
            text.pop();
        }
        _ => {}
    }
}
