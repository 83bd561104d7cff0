//! The main screen's keys: move in the tree or the activity pane (whichever
//! has the focus), and open everything else.

use super::super::event::Command;
use super::super::keymap::Action;
use super::super::layers::{Focus, Layer, Reply};
use super::super::panes::wizard::Wizard;
use super::super::state::State;

/// How far J may scroll the details pane (the view shows at least its last
/// line wherever this stops).
const DETAILS_MAX_SCROLL: usize = 500;

pub(super) fn on_key(state: &mut State, action: Action, out: &mut Vec<Command>) -> Reply {
    let focus = state.layers.main.focus;
    match action {
        Action::Down | Action::Up | Action::Top | Action::Bottom if focus == Focus::Activity => {
            let n = state.model.operations.len();
            state.activity.move_selection(n, |i, n| match action {
                Action::Down => (i + 1).min(n - 1),
                Action::Up => i.saturating_sub(1),
                Action::Top => 0,
                _ => n - 1,
            });
        }
        Action::Down => state.tree.move_selection(|i, n| (i + 1).min(n - 1)),
        Action::Up => state.tree.move_selection(|i, _| i.saturating_sub(1)),
        Action::Top => state.tree.move_selection(|_, _| 0),
        Action::Bottom => state.tree.move_selection(|_, n| n - 1),
        Action::Toggle if focus == Focus::Activity => {
            if let Some(op) = state.model.operations.get(state.activity.selected) {
                return Reply::Push(Layer::output(op.id));
            }
        }
        Action::Toggle => {
            let tree = &mut state.tree;
            if let Some(n) = tree.cursor {
                if !tree.opened.close(n) {
                    tree.opened.open(n);
                }
                tree.refresh_rows();
            }
        }
        Action::Expand => {
            let tree = &mut state.tree;
            if let Some(n) = tree.cursor {
                if tree.opened.open(n) {
                    tree.refresh_rows();
                }
            }
        }
        Action::Collapse => {
            let tree = &mut state.tree;
            if let Some(n) = tree.cursor {
                if tree.opened.close(n) {
                    tree.refresh_rows();
                } else if let Some(parent) = tree.forest.node(n).parent {
                    // Already closed: go to the parent, as file trees do.
                    tree.select(Some(parent));
                }
            }
        }
        // The details pane scrolls without taking the focus: the tree's
        // selection stays what J/K scroll through. The view stops at the end.
        Action::DetailsDown => {
            state.details.scroll = (state.details.scroll + 1).min(DETAILS_MAX_SCROLL);
        }
        Action::DetailsUp => state.details.scroll = state.details.scroll.saturating_sub(1),
        Action::BreakLock => {
            let Some(name) = state.tree.selected_service().map(str::to_string) else {
                return Reply::Consumed;
            };
            match state.model.locks.get(&name) {
                Some(reason) => {
                    return Reply::Push(Layer::ConfirmBreakLock {
                        service: name,
                        reason: reason.clone(),
                        scroll: 0,
                    })
                }
                None => {
                    state.message = Some(format!(
                        "{name}: no lock seen (a deploy refused by a lock offers B)"
                    ))
                }
            }
        }
        Action::Filter => return Reply::Push(Layer::Filter),
        Action::Help => return Reply::Push(Layer::help()),
        Action::FlipDirection => {
            state.tree.direction = state.tree.direction.flip();
            state.reset_tree();
        }
        Action::Deploy | Action::DeployWithDependents => {
            let Some(name) = state.tree.selected_service().map(str::to_string) else {
                return Reply::Consumed;
            };
            let with_dependents = action == Action::DeployWithDependents;
            return super::dialogs::open_deploy(state, vec![name], with_dependents, out);
        }
        Action::DeployOutdated => {
            let outdated = state.model.outdated();
            if outdated.is_empty() {
                state.message = Some(if state.model.drift_off {
                    "drift is not looked for: [console] drift = false in the config".into()
                } else if state.model.drift.is_empty() {
                    "still comparing each host with the manifest's build".into()
                } else {
                    "no host is outdated: each runs what the manifest builds".into()
                });
                return Reply::Consumed;
            }
            return super::dialogs::open_deploy(state, outdated, false, out);
        }
        Action::Reprobe => {
            state.message = Some("re-probing every service, re-reading generations".into());
            out.push(Command::Reprobe(None));
            out.push(Command::CheckDrift);
            // Another admin may have deployed: what each host runs is news too.
            out.extend(
                state
                    .model
                    .services
                    .iter()
                    .map(|s| Command::ListGenerations { service: s.clone() }),
            );
        }
        Action::FocusNext => {
            state.layers.main.focus = match focus {
                Focus::Tree if !state.model.operations.is_empty() => Focus::Activity,
                _ => Focus::Tree,
            };
        }
        Action::Back => {
            if !state.tree.filter.is_empty() {
                state.tree.filter.clear();
                state.reset_tree();
            } else {
                state.layers.main.focus = Focus::Tree;
            }
        }
        Action::Quit => {
            if state.model.running_ops() > 0 {
                return Reply::Push(Layer::confirm_quit());
            }
            out.push(Command::Quit);
        }
        Action::Cancel => {
            // The selected operation if it runs, else the newest that does.
            let ops = &state.model.operations;
            let running = ops
                .get(state.activity.selected)
                .filter(|o| o.running())
                .or_else(|| ops.iter().rev().find(|o| o.running()))
                .map(|o| o.id);
            if !running.is_some_and(|id| cancel(state, id, out)) {
                state.message = Some("nothing to cancel (q quits)".into());
            }
        }
        Action::Logs => {
            let Some(name) = state.tree.selected_service().map(str::to_string) else {
                return Reply::Consumed;
            };
            return super::logs::open(state, vec![name], out);
        }
        Action::LogsWithDependencies => {
            let Some(name) = state.tree.selected_service().map(str::to_string) else {
                return Reply::Consumed;
            };
            // Direct and transitive: everything it needs to work.
            let deps = state.model.graph.dependencies(&name).unwrap_or_default();
            return super::logs::open(state, [name].into_iter().chain(deps).collect(), out);
        }
        Action::Shell => {
            let Some(svc) = state
                .tree
                .selected_service()
                .and_then(|n| state.model.manifest.services.get(n))
            else {
                return Reply::Consumed;
            };
            out.push(Command::Shell {
                service: svc.name.clone(),
                host: svc.ip.to_string(),
            });
        }
        Action::Rollback => {
            let Some(name) = state.tree.selected_service().map(str::to_string) else {
                return Reply::Consumed;
            };
            out.push(Command::ListGenerations {
                service: name.clone(),
            });
            return Reply::Push(Layer::rollback(Wizard::new(name)));
        }
        _ => {}
    }
    Reply::Consumed
}

/// Asks operation `id` to stop after its current step, if it runs.
pub(super) fn cancel(state: &mut State, id: u64, out: &mut Vec<Command>) -> bool {
    let Some(op) = state.model.operation(id).filter(|o| o.running()) else {
        return false;
    };
    state.message = Some(format!(
        "cancelling \"{}\" after its current step",
        op.title
    ));
    out.push(Command::Cancel(id));
    true
}
