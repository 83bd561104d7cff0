//! `update(&mut State, Event) -> Vec<Command>`: the only place state changes.

use super::event::{Command, Event, OpEventKind};
use super::keymap::{self, Action, Context};
use super::state::{DeployPlan, Focus, Mode, Operation, State, Wizard, WizardStep};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::collections::VecDeque;

pub fn update(state: &mut State, event: Event) -> Vec<Command> {
    match event {
        Event::Key(key) => {
            if key.kind == KeyEventKind::Release {
                return Vec::new();
            }
            state.dirty = true;
            let mut cmds = on_key(state, key);
            cmds.extend(want_generated(state));
            cmds
        }
        Event::Resize(w, h) => {
            state.size = (w, h);
            state.dirty = true;
            Vec::new()
        }
        Event::Health(ev) => {
            state.now = std::time::SystemTime::now();
            if state.board.apply(&ev) {
                state.dirty = true;
            }
            Vec::new()
        }
        Event::Op(ev) => {
            state.dirty = true;
            state.now = state.now.max(ev.at);
            match state.activity.iter_mut().find(|o| o.id == ev.id) {
                Some(op) => op.apply(ev.at, &ev.kind),
                None => {
                    let mut op = Operation {
                        id: ev.id,
                        title: String::new(),
                        started: ev.at,
                        step: "starting".into(),
                        finished: None,
                        output: VecDeque::new(),
                    };
                    op.apply(ev.at, &ev.kind);
                    state.activity.push(op);
                    state.activity_selected = state.activity.len() - 1;
                }
            }
            if let OpEventKind::HostDone { service, outcome } = &ev.kind {
                let what = state
                    .activity
                    .iter()
                    .find(|o| o.id == ev.id)
                    .map(|o| o.title.clone())
                    .unwrap_or_default();
                state.last_deploy.insert(
                    service.clone(),
                    super::state::LastDeploy {
                        at: ev.at,
                        outcome: outcome.kind(),
                        what,
                    },
                );
            }
            if let OpEventKind::Finished { ok, summary } = &ev.kind {
                state.message = Some(format!(
                    "{} {summary}",
                    if *ok { "done:" } else { "FAILED:" }
                ));
                // A deploy changes what runs: look again at once, and at
                // which generation each host is now.
                let mut cmds = vec![Command::Reprobe(None)];
                cmds.extend(
                    state
                        .services
                        .iter()
                        .map(|s| Command::ListGenerations { service: s.clone() }),
                );
                return cmds;
            }
            Vec::new()
        }
        Event::Log(ev) => {
            if let Some(view) = state.logs.as_mut() {
                match ev {
                    crate::backend::logs::LogEvent::Lines(batch) => view.push(batch),
                    crate::backend::logs::LogEvent::Ended(why) => {
                        view.ended = Some(why.unwrap_or_else(|| "tail ended".into()))
                    }
                }
                state.dirty = true;
            }
            Vec::new()
        }
        Event::History(h) => {
            for (service, last) in h {
                let newer = state
                    .last_deploy
                    .get(&service)
                    .is_none_or(|l| l.at < last.at);
                if newer {
                    state.last_deploy.insert(service, last);
                }
            }
            state.dirty = true;
            Vec::new()
        }
        Event::Generations { service, result } => {
            if let Ok(gens) = &result {
                if let Some(cur) = gens.iter().find(|g| g.current) {
                    state.generations.insert(service.clone(), cur.clone());
                    state.dirty = true;
                }
            }
            if let Mode::Rollback(w) = &mut state.mode {
                if w.service == service && w.step == WizardStep::Loading {
                    w.step = match result {
                        Err(e) => WizardStep::Failed(e),
                        Ok(gens) => match crate::backend::rollback::choose(&gens, None, &service) {
                            Err(e) => WizardStep::Failed(e),
                            Ok((_, target)) => WizardStep::Choose {
                                selected: gens
                                    .iter()
                                    .position(|g| g.generation == target)
                                    .unwrap_or(0),
                                gens,
                            },
                        },
                    };
                    state.dirty = true;
                }
            }
            Vec::new()
        }
        Event::Generated { service, result } => {
            state.generated.insert(service, result);
            state.dirty = true;
            Vec::new()
        }
        Event::Tick(now) => {
            state.now = now;
            if state.needs_tick() {
                state.spinner = state.spinner.wrapping_add(1);
                state.dirty = true;
            }
            Vec::new()
        }
    }
}

/// Which keymap context the current mode uses.
pub fn context(state: &State) -> Context {
    match state.mode {
        Mode::Main => Context::Main,
        Mode::Filter => Context::Filter,
        Mode::Help => Context::Help,
        Mode::ConfirmQuit | Mode::ConfirmDeploy(_) | Mode::Rollback(_) => Context::Confirm,
        Mode::Logs => Context::Logs,
    }
}

fn on_key(state: &mut State, key: KeyEvent) -> Vec<Command> {
    let ctx = context(state);
    if ctx == Context::Filter {
        if let Some(cmds) = filter_input(state, &key) {
            return cmds;
        }
    }
    if ctx == Context::Logs && state.logs.as_ref().is_some_and(|v| v.searching) {
        return log_search_input(state, &key);
    }
    let Some(action) = keymap::action(ctx, &key) else {
        return Vec::new();
    };
    state.message = None;
    match ctx {
        Context::Main => main_action(state, action),
        Context::Filter => {
            match action {
                Action::Confirm => state.mode = Mode::Main,
                Action::Back => {
                    state.filter.clear();
                    state.mode = Mode::Main;
                    state.reset_tree();
                }
                _ => {}
            }
            Vec::new()
        }
        Context::Help => {
            state.mode = Mode::Main;
            Vec::new()
        }
        Context::Confirm => confirm_action(state, action),
        Context::Logs => logs_action(state, action),
    }
}

fn logs_action(state: &mut State, action: Action) -> Vec<Command> {
    let height = state.log_height();
    let Some(view) = state.logs.as_mut() else {
        state.mode = Mode::Main;
        return Vec::new();
    };
    match action {
        Action::LogFollow => {
            view.follow = !view.follow;
            if !view.follow {
                view.top = view.lines.len().saturating_sub(height);
            }
        }
        Action::LogWrap => view.wrap = !view.wrap,
        Action::LogSearch => {
            view.searching = true;
            view.search.clear();
            view.current = None;
        }
        Action::LogNext | Action::LogPrev if !view.find(action == Action::LogNext, height) => {
            state.message = Some(format!("no match for {:?}", view.search));
        }
        Action::Down => view.scroll(1, height),
        Action::Up => view.scroll(-1, height),
        Action::Top => {
            view.follow = false;
            view.top = 0;
        }
        Action::Bottom => view.follow = true,
        Action::Back => {
            state.logs = None;
            state.mode = Mode::Main;
            return vec![Command::CloseLogs];
        }
        _ => {}
    }
    Vec::new()
}

/// Typing a log search: characters edit it, enter finds, esc abandons.
fn log_search_input(state: &mut State, key: &KeyEvent) -> Vec<Command> {
    let height = state.log_height();
    let Some(view) = state.logs.as_mut() else {
        return Vec::new();
    };
    match key.code {
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => view.search.push(c),
        KeyCode::Backspace => {
            view.search.pop();
        }
        KeyCode::Enter => {
            view.searching = false;
            if !view.find(true, height) {
                state.message = Some(format!("no match for {:?}", view.search));
            }
        }
        KeyCode::Esc => {
            view.searching = false;
            view.search.clear();
        }
        _ => {}
    }
    Vec::new()
}

/// Typing into the filter: printable characters and backspace edit it and
/// re-filter at once; other keys fall through to the keymap.
fn filter_input(state: &mut State, key: &KeyEvent) -> Option<Vec<Command>> {
    match key.code {
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
            state.filter.push(c);
        }
        KeyCode::Backspace => {
            state.filter.pop();
        }
        _ => return None,
    }
    state.reset_tree();
    Some(Vec::new())
}

fn main_action(state: &mut State, action: Action) -> Vec<Command> {
    match action {
        Action::Down | Action::Up | Action::Top | Action::Bottom
            if state.focus == Focus::Activity =>
        {
            let n = state.activity.len();
            if n > 0 {
                state.activity_selected = match action {
                    Action::Down => (state.activity_selected + 1).min(n - 1),
                    Action::Up => state.activity_selected.saturating_sub(1),
                    Action::Top => 0,
                    _ => n - 1,
                };
            }
        }
        Action::Down => move_selection(state, |i, n| (i + 1).min(n - 1)),
        Action::Up => move_selection(state, |i, _| i.saturating_sub(1)),
        Action::Top => move_selection(state, |_, _| 0),
        Action::Bottom => move_selection(state, |_, n| n - 1),
        Action::Toggle if state.focus == Focus::Activity => {
            state.activity_expanded = !state.activity_expanded;
        }
        Action::Toggle => {
            if let Some(n) = state.cursor {
                if !state.opened.close(n) {
                    state.opened.open(n);
                }
                state.refresh_rows();
            }
        }
        Action::Expand => {
            if let Some(n) = state.cursor {
                if state.opened.open(n) {
                    state.refresh_rows();
                }
            }
        }
        Action::Collapse => {
            if let Some(n) = state.cursor {
                if state.opened.close(n) {
                    state.refresh_rows();
                } else if let Some(parent) = state.forest.node(n).parent {
                    // Already closed: go to the parent, as file trees do.
                    state.select(Some(parent));
                }
            }
        }
        Action::Filter => {
            state.mode = Mode::Filter;
        }
        Action::Help => state.mode = Mode::Help,
        Action::FlipDirection => {
            state.direction = state.direction.flip();
            state.reset_tree();
        }
        Action::Deploy | Action::DeployWithDependents => {
            let Some(name) = state.selected_service().map(str::to_string) else {
                return Vec::new();
            };
            let with_dependents = action == Action::DeployWithDependents;
            let plan = state
                .graph
                .selection(std::slice::from_ref(&name), with_dependents)
                .and_then(|sel| state.graph.waves_of(&sel));
            match plan {
                Ok(waves) => {
                    state.mode = Mode::ConfirmDeploy(DeployPlan {
                        services: vec![name],
                        with_dependents,
                        waves,
                    })
                }
                Err(e) => state.message = Some(format!("cannot plan: {e}")),
            }
        }
        Action::Reprobe => {
            state.message = Some("re-probing every service".into());
            return vec![Command::Reprobe(None)];
        }
        Action::FocusNext => {
            state.focus = match state.focus {
                Focus::Tree if !state.activity.is_empty() => Focus::Activity,
                _ => Focus::Tree,
            };
        }
        Action::Back => {
            if state.activity_expanded {
                state.activity_expanded = false;
            } else if !state.filter.is_empty() {
                state.filter.clear();
                state.reset_tree();
            } else {
                state.focus = Focus::Tree;
            }
        }
        Action::Quit => {
            if state.running_ops() > 0 {
                state.mode = Mode::ConfirmQuit;
            } else {
                return vec![Command::Quit];
            }
        }
        Action::Cancel => {
            let running = state
                .activity
                .get(state.activity_selected)
                .filter(|o| o.running())
                .or_else(|| state.activity.iter().rev().find(|o| o.running()));
            match running {
                Some(op) => {
                    state.message = Some(format!(
                        "cancelling \"{}\" after its current step",
                        op.title
                    ));
                    return vec![Command::Cancel(op.id)];
                }
                None => state.message = Some("nothing to cancel (q quits)".into()),
            }
        }
        Action::Logs => {
            let Some(svc) = state
                .selected_service()
                .and_then(|n| state.manifest.services.get(n))
            else {
                return Vec::new();
            };
            let cmd = Command::OpenLogs {
                service: svc.name.clone(),
                host: svc.ip.to_string(),
                unit: svc.log_unit().to_string(),
            };
            state.logs = Some(super::logview::LogView::new(
                &svc.name,
                svc.log_unit(),
                super::logview::DEFAULT_CAP,
            ));
            state.mode = Mode::Logs;
            return vec![cmd];
        }
        Action::Rollback => {
            let Some(name) = state.selected_service().map(str::to_string) else {
                return Vec::new();
            };
            state.mode = Mode::Rollback(Wizard {
                service: name.clone(),
                step: WizardStep::Loading,
            });
            return vec![Command::ListGenerations { service: name }];
        }
        _ => {}
    }
    Vec::new()
}

fn confirm_action(state: &mut State, action: Action) -> Vec<Command> {
    if let Mode::Rollback(w) = &state.mode {
        let w = w.clone();
        return wizard_action(state, w, action);
    }
    match (action, &state.mode) {
        (Action::Confirm, Mode::ConfirmQuit) => vec![Command::Quit],
        (Action::Confirm, Mode::ConfirmDeploy(plan)) => {
            let plan = plan.clone();
            let cmd = Command::Deploy {
                op: state.next_op(),
                services: plan.services.clone(),
                with_dependents: plan.with_dependents,
            };
            state.mode = Mode::Main;
            vec![cmd]
        }
        (Action::Back, _) => {
            state.mode = Mode::Main;
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// Moves the cursor to row `f(current, rows)` of the visible rows.
fn move_selection(state: &mut State, f: impl Fn(usize, usize) -> usize) {
    if state.rows.is_empty() {
        return;
    }
    let i = state.selected_row().unwrap_or(0);
    state.select(Some(state.rows[f(i, state.rows.len())]));
}

/// Asks for the NixOS-side view of the selected service once; a pending
/// request is marked so it is not asked for again.
pub fn want_generated(state: &mut State) -> Vec<Command> {
    let Some(name) = state.selected_service().map(str::to_string) else {
        return Vec::new();
    };
    if state.generated.contains_key(&name) {
        return Vec::new();
    }
    state
        .generated
        .insert(name.clone(), Err("evaluating nixos/lib…".into()));
    vec![Command::Generate(name)]
}

fn wizard_action(state: &mut State, w: Wizard, action: Action) -> Vec<Command> {
    let step = match (w.step, action) {
        (WizardStep::Choose { gens, selected }, Action::Down) => WizardStep::Choose {
            selected: (selected + 1).min(gens.len().saturating_sub(1)),
            gens,
        },
        (WizardStep::Choose { gens, selected }, Action::Up) => WizardStep::Choose {
            selected: selected.saturating_sub(1),
            gens,
        },
        (WizardStep::Choose { gens, selected }, Action::Confirm) => {
            let to = gens.get(selected).map(|g| g.generation);
            match (gens.iter().find(|g| g.current).map(|g| g.generation), to) {
                (Some(from), Some(to)) if from != to => WizardStep::Confirm { gens, from, to },
                _ => {
                    state.message = Some("that is the current generation: choose another".into());
                    WizardStep::Choose { gens, selected }
                }
            }
        }
        (WizardStep::Confirm { gens, to, .. }, Action::Back) => WizardStep::Choose {
            selected: gens.iter().position(|g| g.generation == to).unwrap_or(0),
            gens,
        },
        (WizardStep::Confirm { from, to, .. }, Action::Confirm) => {
            let op = state.next_op();
            state.mode = Mode::Rollback(Wizard {
                service: w.service.clone(),
                step: WizardStep::Running { op, from, to },
            });
            return vec![Command::Rollback {
                op,
                service: w.service,
                from,
                to,
            }];
        }
        (WizardStep::Running { op, .. }, Action::Back | Action::Confirm) => {
            // The rollback goes on in the activity pane.
            state.mode = Mode::Main;
            state.focus = Focus::Activity;
            if let Some(i) = state.activity.iter().position(|o| o.id == op) {
                state.activity_selected = i;
            }
            return Vec::new();
        }
        (_, Action::Back) => {
            state.mode = Mode::Main;
            return Vec::new();
        }
        (step, _) => step,
    };
    state.mode = Mode::Rollback(Wizard {
        service: w.service,
        step,
    });
    Vec::new()
}
