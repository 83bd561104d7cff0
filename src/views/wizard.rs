//! The guided rollback: generations, choice, consequences, progress, verdict.

use super::theme;
use crate::app::panes::wizard::{Wizard, WizardStep};
use crate::app::State;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;

pub(super) fn draw(state: &State, w: &Wizard, frame: &mut Frame, area: Rect, scroll: usize) {
    let t = state.theme;
    let svc = state.model.manifest.services.get(&w.service);
    let ip = svc.map(|s| s.ip.to_string()).unwrap_or_default();
    let d = theme::dot(t);
    let (step_name, mut lines): (&str, Vec<Line>) = match &w.step {
        WizardStep::Loading => (
            "1/4 generations",
            w.note
                .iter()
                .map(|n| Line::styled(n.clone(), theme::warn(t)))
                .chain([Line::raw(format!("Listing generations on {ip}…"))])
                .collect(),
        ),
        WizardStep::Failed(why) => (
            "cannot roll back",
            vec![
                Line::styled(why.clone(), theme::bad(t)),
                Line::raw(""),
                Line::raw("esc closes"),
            ],
        ),
        WizardStep::Choose { gens, selected } => {
            let mut l = vec![
                Line::raw("Choose the generation to switch to (j/k, enter):"),
                Line::raw(""),
            ];
            if let Some(note) = &w.note {
                l.insert(0, Line::styled(note.clone(), theme::warn(t)));
            }
            for (i, g) in gens.iter().enumerate() {
                let mark = if i == *selected { "> " } else { "  " };
                // What the host runs and what can be switched to: the
                // profile's pointer alone is not the truth.
                let line = Line::from(vec![
                    Span::raw(format!("{mark}{:>4}  {}  ", g.generation, g.date)),
                    Span::styled(
                        if g.current { "current " } else { "        " },
                        theme::accent(t),
                    ),
                    Span::styled(
                        if g.running { "running " } else { "        " },
                        theme::good(t),
                    ),
                    if g.present {
                        Span::styled(g.path.clone(), theme::dim(t))
                    } else {
                        Span::styled("dangling (store path gone)", theme::bad(t))
                    },
                ]);
                l.push(if i == *selected {
                    line.style(theme::selected(t))
                } else {
                    line
                });
            }
            ("2/4 choose", l)
        }
        WizardStep::Confirm { from, to, .. } => {
            let dependents: Vec<String> = state
                .model
                .graph
                .dependents(&w.service)
                .unwrap_or_default()
                .into_iter()
                .collect();
            let mut l = vec![
                Line::raw(format!("Switch {} ({ip}) from generation {from} to generation {to}.", w.service)),
                Line::raw("The host runs switch-to-configuration: its services restart on the old system."),
                Line::raw("Then its startup probe must pass again (health is verified)."),
                Line::raw(""),
            ];
            if dependents.is_empty() {
                l.push(Line::raw("Nothing else depends on it."));
            } else {
                l.push(Line::styled(
                    format!(
                        "Affected while it restarts ({}): {}",
                        dependents.len(),
                        dependents.join(", ")
                    ),
                    theme::warn(t),
                ));
            }
            l.push(Line::raw(""));
            l.push(Line::styled(
                "y roll back, n back to the list, esc cancel",
                theme::accent(t),
            ));
            ("3/4 confirm", l)
        }
        WizardStep::Running { op, to, .. } => {
            let op = state.model.operation(*op);
            let mut l = Vec::new();
            match op.and_then(|o| o.finished.as_ref()) {
                None => l.push(Line::styled(
                    format!(
                        "{} rolling back to generation {to}: {}",
                        theme::spinner(t, state.spinner),
                        op.map_or("starting".to_string(), |o| o.step.clone())
                    ),
                    theme::accent(t),
                )),
                Some((_, true, summary)) => {
                    l.push(Line::styled(format!("Done: {summary}."), theme::good(t)));
                    l.push(Line::raw(
                        "Health verified. esc closes; the activity pane keeps the record.",
                    ));
                }
                Some((_, false, summary)) => {
                    l.push(Line::styled(
                        format!("Not healthy: {summary}"),
                        theme::bad(t),
                    ));
                    l.push(Line::raw(format!(
                        "Next: press l on {} for its logs, or r to pick another generation.",
                        w.service
                    )));
                }
            }
            l.push(Line::raw(""));
            if let Some(o) = op {
                let h = usize::from(area.height).saturating_sub(8);
                let start = o.output.len().saturating_sub(h);
                l.extend(
                    o.output
                        .iter()
                        .skip(start)
                        .map(|x| Line::styled(x.clone(), theme::dim(t))),
                );
            }
            ("4/4 progress", l)
        }
    };
    if lines.is_empty() {
        lines.push(Line::raw(""));
    }
    let block = theme::block(t)
        .border_style(theme::warn(t))
        .title(format!(" rollback {} {d} {step_name} ", w.service));
    super::popup(frame, area, block, lines, scroll);
}
