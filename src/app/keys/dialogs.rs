//! Popups that ask or show: the quit and deploy dialogs, and an operation's
//! output.

use super::super::event::Command;
use super::super::keymap::Action;
use super::super::layers::{DeployDialog, DeployPlan, Layer, Reply};
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

/// `y` deploys what the preview says changed (and what comes along), the
/// same hosts `nixmox deploy` would; `f` every planned host.
pub(super) fn deploy(
    state: &mut State,
    dialog: &DeployDialog,
    action: Action,
    out: &mut Vec<Command>,
) -> Reply {
    let plan = &dialog.plan;
    match action {
        Action::Confirm => match dialog.to_deploy() {
            None => {
                state.message = Some(format!(
                    "the preview is not ready: f deploys all {} host(s) without it",
                    plan.hosts()
                ));
                Reply::Consumed
            }
            Some(go) if go.is_empty() => {
                state.message = Some(
                    "nothing to deploy: every host already runs what the manifest builds (f deploys anyway)"
                        .into(),
                );
                Reply::Consumed
            }
            Some(go) => {
                let skipped = plan.hosts() - go.len();
                if skipped > 0 {
                    state.message = Some(format!("{skipped} unchanged host(s) skipped"));
                }
                out.push(Command::Deploy {
                    op: state.model.next_op(),
                    services: go.into_iter().collect(),
                    with_dependents: false,
                });
                Reply::Close
            }
        },
        Action::Force => {
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

/// Opens the deploy dialog for `services` (and their dependents) and asks
/// the backend for its preview.
pub(super) fn open_deploy(
    state: &mut State,
    services: Vec<String>,
    with_dependents: bool,
    out: &mut Vec<Command>,
) -> Reply {
    let graph = &state.model.graph;
    let waves = graph
        .selection(&services, with_dependents)
        .and_then(|sel| graph.waves_of(&sel));
    match waves {
        Ok(waves) => {
            let id = state.model.next_op();
            out.push(Command::PreviewDeploy {
                id,
                services: services.clone(),
                with_dependents,
            });
            Reply::Push(Layer::confirm_deploy(DeployDialog::new(
                id,
                DeployPlan {
                    services,
                    with_dependents,
                    waves,
                },
            )))
        }
        Err(e) => {
            state.message = Some(format!("cannot plan: {e}"));
            Reply::Consumed
        }
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
