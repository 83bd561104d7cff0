//! The rollback wizard's keys: choose a generation, confirm, and hand the
//! running rollback over to the activity pane.

use super::super::event::Command;
use super::super::keymap::Action;
use super::super::layers::{Focus, Reply};
use super::super::panes::wizard::{Wizard, WizardStep};
use super::super::state::State;

pub(super) fn on_key(
    state: &mut State,
    w: &mut Wizard,
    action: Action,
    out: &mut Vec<Command>,
) -> Reply {
    let step = std::mem::replace(&mut w.step, WizardStep::Loading);
    w.step = match (step, action) {
        (WizardStep::Choose { gens, selected }, Action::Down) => WizardStep::Choose {
            selected: (selected + 1).min(gens.len().saturating_sub(1)),
            gens,
        },
        (WizardStep::Choose { gens, selected }, Action::Up) => WizardStep::Choose {
            selected: selected.saturating_sub(1),
            gens,
        },
        (WizardStep::Choose { gens, selected }, Action::Confirm) => {
            let chosen = gens.get(selected);
            let from = gens.iter().find(|g| g.current).map(|g| g.generation);
            match (from, chosen, chosen.and_then(Wizard::refusal)) {
                (_, _, Some(why)) => {
                    state.message = Some(why);
                    WizardStep::Choose { gens, selected }
                }
                (Some(from), Some(g), None) => {
                    let to = g.generation;
                    w.note = None;
                    WizardStep::Confirm { gens, from, to }
                }
                _ => {
                    state.message = Some("no current generation: nothing to switch from".into());
                    WizardStep::Choose { gens, selected }
                }
            }
        }
        (WizardStep::Confirm { gens, to, .. }, Action::Back) => WizardStep::Choose {
            selected: gens.iter().position(|g| g.generation == to).unwrap_or(0),
            gens,
        },
        (WizardStep::Confirm { from, to, .. }, Action::Confirm) => {
            let op = state.model.next_op();
            out.push(Command::Rollback {
                op,
                service: w.service.clone(),
                from,
                to,
            });
            WizardStep::Running { op, from, to }
        }
        (WizardStep::Running { op, .. }, Action::Back | Action::Confirm) => {
            // The rollback goes on in the activity pane: focus it there, and
            // say so (the focus never moves silently).
            state.layers.main.focus = Focus::Activity;
            state.message =
                Some("the rollback is in the activity pane (focused; tab: the tree)".into());
            if let Some(i) = state.model.operations.iter().position(|o| o.id == op) {
                state.activity.selected = i;
            }
            return Reply::Close;
        }
        // Nothing to go ahead with: y/enter acknowledges, as esc does, so
        // the bar's `y yes` is true here too.
        (WizardStep::Failed(_), Action::Confirm) => return Reply::Close,
        (WizardStep::Loading, Action::Confirm) => {
            state.message = Some("still listing the generations…".into());
            WizardStep::Loading
        }
        (_, Action::Back) => return Reply::Close,
        (step, _) => step,
    };
    Reply::Consumed
}
