//! Confirmation dialogs: they show what will happen before it happens.

use super::theme;
use crate::app::layers::DeployPlan;
use crate::app::State;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;

pub(super) fn draw_quit(state: &State, frame: &mut Frame, area: Rect, scroll: usize) {
    let t = state.theme;
    let lines = vec![
        Line::raw(format!(
            "{} operation(s) still running.",
            state.model.running_ops()
        )),
        Line::raw("Quitting stops them after their current step;"),
        Line::raw("every host is left on a whole generation."),
        Line::raw(""),
        Line::styled("y quit, n stay", theme::accent(t)),
    ];
    let block = theme::block(t)
        .border_style(theme::warn(t))
        .title(" quit? ");
    super::popup(frame, area, block, lines, scroll);
}

pub(super) fn draw_deploy(
    state: &State,
    plan: &DeployPlan,
    frame: &mut Frame,
    area: Rect,
    scroll: usize,
) {
    let t = state.theme;
    let block = theme::block(t)
        .border_style(theme::warn(t))
        .title(" deploy? ");
    super::popup(frame, area, block, deploy_lines(state, plan), scroll);
}

fn deploy_lines(state: &State, plan: &DeployPlan) -> Vec<Line<'static>> {
    let t = state.theme;
    let hosts: usize = plan.waves.iter().map(Vec::len).sum();
    let mut lines = vec![Line::raw(format!(
        "Deploy {}{}: {} host(s) in {} wave(s).",
        plan.services.join(", "),
        if plan.with_dependents {
            " and everything that depends on it"
        } else {
            ""
        },
        hosts,
        plan.waves.len()
    ))];
    lines.push(Line::raw(""));
    for (i, wave) in plan.waves.iter().enumerate() {
        let hosts: Vec<String> = wave
            .iter()
            .map(|n| {
                let ip = state
                    .model
                    .manifest
                    .services
                    .get(n)
                    .map(|s| s.ip.to_string())
                    .unwrap_or_default();
                format!("{n} ({ip})")
            })
            .collect();
        lines.push(Line::from(vec![
            Span::styled(format!("wave {}: ", i + 1), theme::accent(t)),
            Span::raw(hosts.join(", ")),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::raw(
        "Each host: build → copy → activate → health gate; a failed gate rolls that host back.",
    ));
    lines.push(Line::styled("y deploy, n cancel", theme::accent(t)));
    lines
}
