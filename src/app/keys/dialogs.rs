//! Popups that ask or show: the quit and deploy dialogs, and an operation's
//! output.

use super::super::event::Command;
use super::super::keymap::Action;
use super::super::layers::{DeployPlan, Reply};
use super::super::state::State;
use super::main_screen::cancel;

pub(super) fn quit(action: Action, out: &mut Vec<Command>) -> Reply {
    match action {
        Action::Confirm => {
            out.push(Command::Quit);
            Reply::Consumed
        }
        Action::Back => Reply::Close,
        _ => Reply::Consumed,
    }
}

pub(super) fn deploy(
    state: &mut State,
    plan: &DeployPlan,
    action: Action,
    out: &mut Vec<Command>,
) -> Reply {
    match action {
        Action::Confirm => {
            out.push(Command::Deploy {
                op: state.model.next_op(),
                services: plan.services.clone(),
                with_dependents: plan.with_dependents,
            });
            Reply::Close
        }
        Action::Back => Reply::Close,
        _ => Reply::Consumed,
    }
}

pub(super) fn output(state: &mut State, op: u64, action: Action, out: &mut Vec<Command>) -> Reply {
    match action {
        Action::Cancel => {
            if !cancel(state, op, out) {
                state.message = Some("this operation has ended".into());
            }
            Reply::Consumed
        }
        Action::Back => Reply::Close,
        _ => Reply::Consumed,
    }
}

pub(super) fn break_lock(
    state: &mut State,
    service: &str,
    action: Action,
    out: &mut Vec<Command>,
) -> Reply {
    match action {
        Action::Confirm => {
            state.message = Some(format!("{service}: breaking the lock if it is stale…"));
            out.push(Command::BreakLock {
                op: state.model.next_op(),
                service: service.to_string(),
            });
            Reply::Close
        }
        Action::Back => Reply::Close,
        _ => Reply::Consumed,
    }
}
