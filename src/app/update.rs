//! `update(&mut State, Event) -> Vec<Command>`: the only place state changes.
//! Backend events change the domain model (and the panes that follow it);
//! keys go through the layer stack (`keys`).

use super::event::{Command, Event, OpEventKind};
use super::keys;
use super::model::history::LastDeploy;
use super::model::operation::Operation;
use super::panes::deploy_dialog::Preview;
use super::state::State;
use crate::backend::logs::LogEvent;
use crate::backend::outcome::{Outcome, OutcomeKind, Step};
use crossterm::event::KeyEventKind;

pub fn update(state: &mut State, event: Event) -> Vec<Command> {
    // Log lines alone may wait for a slower frame; anything else that
    // shows is urgent.
    let lazy = matches!(event, Event::Log { .. } | Event::MergedLog { .. });
    let before = std::mem::replace(&mut state.dirty, false);
    let cmds = apply(state, event);
    state.urgent |= state.dirty && !lazy;
    state.dirty |= before;
    cmds
}

fn apply(state: &mut State, event: Event) -> Vec<Command> {
    match event {
        Event::Key(key) => {
            if key.kind == KeyEventKind::Release {
                return Vec::new();
            }
            state.dirty = true;
            let before = state.tree.selected_service().map(str::to_string);
            let mut cmds = keys::route(state, &key).commands;
            if state.tree.selected_service() != before.as_deref() {
                // Another service's details start at their top.
                state.details.scroll = 0;
            }
            cmds.extend(want_preview(state));
            cmds
        }
        Event::OpHistory { service, result } => {
            // Only the history still open for the same services takes it.
            if let Some(view) = state.layers.history_mut().filter(|v| v.service == service) {
                view.loaded(result);
                state.dirty = true;
            }
            Vec::new()
        }
        Event::FaultDone { what, result } => {
            state.message = Some(match result {
                Ok(said) if said.is_empty() => format!("lab: {what}"),
                Ok(said) => format!("lab: {what}: {said}"),
                Err(why) => format!("lab: {what} failed: {why}"),
            });
            state.dirty = true;
            // What the fault did shows at the next probes: ask now.
            vec![Command::Reprobe(None)]
        }
        Event::Resize(w, h) => {
            state.size = (w, h);
            state.dirty = true;
            Vec::new()
        }
        Event::Health(ev) => {
            state.now = std::time::SystemTime::now();
            if state.model.health.apply(&ev) {
                state.dirty = true;
            }
            Vec::new()
        }
        Event::Op(ev) => {
            state.dirty = true;
            state.now = state.now.max(ev.at);
            let mut replan = Vec::new();
            let model = &mut state.model;
            match model.operations.iter_mut().find(|o| o.id == ev.id) {
                Some(op) => op.apply(ev.at, &ev.kind),
                None => {
                    let mut op = Operation::new(ev.id, ev.at);
                    op.apply(ev.at, &ev.kind);
                    model.operations.push(op);
                    state.activity.selected = model.operations.len() - 1;
                }
            }
            if let OpEventKind::HostDone {
                service,
                outcome:
                    Outcome::Failed {
                        step: Step::Plan,
                        reason,
                        ..
                    },
            } = &ev.kind
            {
                let replanned = state
                    .layers
                    .wizard_mut()
                    .filter(|w| &w.service == service)
                    .is_some_and(|w| w.replan(ev.id, reason));
                if replanned {
                    replan.push(Command::ListGenerations {
                        service: service.clone(),
                    });
                }
            }
            let model = &mut state.model;
            if let OpEventKind::HostDone { service, outcome } = &ev.kind {
                match outcome {
                    Outcome::Failed {
                        step: Step::Lock,
                        reason,
                        ..
                    } => {
                        model.locks.insert(service.clone(), reason.clone());
                    }
                    _ => {
                        model.locks.remove(service);
                    }
                }
                let what = model
                    .operation(ev.id)
                    .map(|o| o.title.clone())
                    .unwrap_or_default();
                model.last_deploy.insert(
                    service.clone(),
                    LastDeploy {
                        at: ev.at,
                        outcome: outcome.kind(),
                        what,
                        detail: Some(super::model::operation::explain(outcome)),
                    },
                );
            }
            if let OpEventKind::Finished { ok, summary } = &ev.kind {
                let verdict = model
                    .operation(ev.id)
                    .and_then(|o| o.verdict())
                    .unwrap_or_else(|| summary.clone());
                let stopped = model.operation(ev.id).is_some_and(|o| {
                    o.outcomes
                        .iter()
                        .any(|(_, x)| x.kind() == OutcomeKind::Cancelled)
                        && o.outcomes.iter().all(|(_, x)| {
                            x.kind().healthy_end()
                                || matches!(x.kind(), OutcomeKind::Cancelled | OutcomeKind::Skipped)
                        })
                });
                let head = match (ok, stopped) {
                    (true, _) => "done:",
                    (false, true) => "stopped:",
                    (false, false) => "FAILED:",
                };
                state.message = Some(format!("{head} {verdict}"));
                // A deploy changes what runs: look again at once, and at
                // which generation each host is now.
                let mut cmds = vec![Command::Reprobe(None), Command::CheckDrift];
                cmds.extend(
                    model
                        .services
                        .iter()
                        .map(|s| Command::ListGenerations { service: s.clone() }),
                );
                return cmds;
            }
            replan
        }
        Event::Log { tail, event } => {
            // Only the open view's own tail: an earlier tail's queued lines
            // (or its end) must not land in a newer view.
            if let Some(view) = state.layers.logs_mut().filter(|v| v.tail == tail) {
                match event {
                    LogEvent::Lines(batch) => view.push(batch),
                    LogEvent::Ended(why) => {
                        view.ended = Some(why.unwrap_or_else(|| "tail ended".into()))
                    }
                }
                state.dirty = true;
            }
            Vec::new()
        }
        Event::MergedLog { tail, event } => {
            if let Some(view) = state.layers.logs_mut().filter(|v| v.tail == tail) {
                view.apply(event);
                state.dirty = true;
            }
            Vec::new()
        }
        Event::History(h) => {
            for (service, last) in h {
                let newer = state
                    .model
                    .last_deploy
                    .get(&service)
                    .is_none_or(|l| l.at < last.at);
                if newer {
                    state.model.last_deploy.insert(service, last);
                }
            }
            state.dirty = true;
            Vec::new()
        }
        Event::Generations { service, result } => {
            if let Ok(gens) = &result {
                if let Some(cur) = gens.iter().find(|g| g.current) {
                    state.model.generations.insert(service.clone(), cur.clone());
                    state.dirty = true;
                }
            }
            if let Some(w) = state.layers.wizard_mut().filter(|w| w.service == service) {
                if w.listed(result) {
                    state.dirty = true;
                }
            }
            Vec::new()
        }
        Event::Drift(found) => {
            state.model.drift = found.into_iter().collect();
            state.dirty = true;
            Vec::new()
        }
        Event::DeployPreview { id, result } => {
            if let Some(dialog) = state.layers.deploy_dialog_mut(id) {
                dialog.preview = match result {
                    Ok(previews) => Preview::Ready(previews),
                    Err(why) => Preview::Failed(why),
                };
                state.dirty = true;
            }
            Vec::new()
        }
        Event::Preview { service, result } => {
            state.model.previews.insert(service, result);
            state.dirty = true;
            Vec::new()
        }
        Event::Manifest(Ok(manifest)) => {
            state.model.reload(manifest);
            state.reset_tree();
            state.message = Some(format!(
                "manifest reloaded: {} service(s)",
                state.model.services.len()
            ));
            state.dirty = true;
            let mut cmds = vec![Command::ReopenFleet, Command::CheckDrift];
            cmds.extend(want_preview(state));
            cmds
        }
        Event::Manifest(Err(why)) => {
            state.message = Some(format!(
                "manifest changed but is not valid (still showing the last valid one): {why}"
            ));
            state.model.manifest_error = Some(why);
            state.dirty = true;
            Vec::new()
        }
        Event::AuditChanged(history) => {
            // Someone may have deployed or rolled back: what each host runs
            // is news, and the last operations on record too.
            let cmds = update(state, Event::History(history));
            cmds.into_iter()
                .chain([Command::CheckDrift])
                .chain(
                    state
                        .model
                        .services
                        .iter()
                        .map(|s| Command::ListGenerations { service: s.clone() }),
                )
                .collect()
        }
        Event::LockBroken { service, result } => {
            state.message = Some(match result {
                Ok(Some(holder)) => {
                    state.model.locks.remove(&service);
                    format!("{service}: broke the stale lock of {holder}")
                }
                Ok(None) => {
                    state.model.locks.remove(&service);
                    format!("{service}: no lock to break")
                }
                Err(why) => format!("{service}: lock not broken: {why}"),
            });
            state.dirty = true;
            Vec::new()
        }
        Event::Tick(now) => {
            state.now = now;
            if state.needs_tick() {
                state.spinner = state.spinner.wrapping_add(1);
                state.dirty = true;
            } else if state.shows_age() {
                state.dirty = true;
            }
            Vec::new()
        }
    }
}

/// Asks for the selected service's preview (what nixos/lib generates for
/// it) once; a pending request is marked so it is not asked for again.
pub fn want_preview(state: &mut State) -> Vec<Command> {
    let Some(name) = state.tree.selected_service().map(str::to_string) else {
        return Vec::new();
    };
    if state.model.previews.contains_key(&name) {
        return Vec::new();
    }
    state
        .model
        .previews
        .insert(name.clone(), Err("evaluating nixos/lib…".into()));
    vec![Command::LoadPreview(name)]
}
