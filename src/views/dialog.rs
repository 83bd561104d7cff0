//! Confirmation dialogs: they show what will happen before it happens.

use super::theme;
use crate::app::keys::scroll::break_lock_text;
use crate::app::layers::DeployPlan;
use crate::app::State;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;

pub(super) fn draw_quit(state: &State, frame: &mut Frame, area: Rect, scroll: usize) {
    let t = state.theme;
    // As many rows as `keys::scroll::QUIT_ROWS` counts.
    let lines = vec![
        Line::raw(format!(
            "{} operation(s) still running.",
            state.model.running_ops()
        )),
        Line::raw("Quitting stops them after their current step;"),
        Line::raw("every host is left on a whole generation."),
    ];
    let block = theme::block(t)
        .border_style(theme::warn(t))
        .title(" quit? ");
    let question = vec![Line::styled("y quit, n stay", theme::accent(t))];
    super::scrolled_popup(state, frame, area, block, lines, question, scroll);
}

/// Breaking a stale lock: the refusal that showed it, and the question.
pub(super) fn draw_break_lock(
    state: &State,
    service: &str,
    reason: &str,
    frame: &mut Frame,
    area: Rect,
    scroll: usize,
) {
    let t = state.theme;
    let block = theme::block(t)
        .border_style(theme::warn(t))
        .title(" break lock? ");
    let width = usize::from(block.inner(area).width);
    let lines = break_lock_text(service, reason, width)
        .into_iter()
        .map(Line::raw)
        .collect();
    let question = vec![Line::styled("y break it, n keep it", theme::accent(t))];
    super::scrolled_popup(state, frame, area, block, lines, question, scroll);
}

/// The plan, one host per row, and its question pinned below it: a plan
/// taller than the screen scrolls, the question never leaves the screen.
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
    let question = vec![Line::styled(
        "y deploy, n cancel (j/k scroll)",
        theme::accent(t),
    )];
    super::scrolled_popup(
        state,
        frame,
        area,
        block,
        deploy_lines(state, plan),
        question,
        scroll,
    );
}

/// As many rows as `keys::scroll::deploy_rows` counts.
fn deploy_lines(state: &State, plan: &DeployPlan) -> Vec<Line<'static>> {
    let t = state.theme;
    let hosts: usize = plan.waves.iter().map(Vec::len).sum();
    let mut lines = vec![
        Line::raw(format!("Deploy {}", plan.services.join(", "))),
        Line::raw(if plan.with_dependents {
            "and everything that depends on it:"
        } else {
            "alone:"
        }),
        Line::raw(format!("{hosts} host(s) in {} wave(s).", plan.waves.len())),
        Line::raw(""),
    ];
    for (i, wave) in plan.waves.iter().enumerate() {
        lines.push(Line::styled(
            format!("wave {} ({} host(s)):", i + 1, wave.len()),
            theme::accent(t),
        ));
        for n in wave {
            let ip = state
                .model
                .manifest
                .services
                .get(n)
                .map(|s| s.ip.to_string())
                .unwrap_or_default();
            lines.push(Line::from(vec![
                Span::raw(format!("  {n} ")),
                Span::styled(ip, theme::dim(t)),
            ]));
        }
    }
    let arrow = if t.ascii { "->" } else { "→" };
    lines.push(Line::raw(""));
    lines.push(Line::raw(format!(
        "Each host: build {arrow} copy {arrow} activate {arrow} gate;"
    )));
    lines.push(Line::raw("a failed gate rolls that host back."));
    lines
}

/// The lab's fault menu for one service.
pub(super) fn draw_faults(
    state: &State,
    service: &str,
    selected: usize,
    frame: &mut Frame,
    area: Rect,
) {
    let t = state.theme;
    let block = theme::block(t)
        .border_style(theme::warn(t))
        .title(format!(" lab fault: {service} "));
    let mut lines = vec![
        Line::raw("Break something, watch the console notice:"),
        Line::raw(""),
    ];
    for (i, (what, kind)) in crate::app::panes::faults::FAULTS.iter().enumerate() {
        let mark = if i == selected { "> " } else { "  " };
        let line = Line::from(vec![
            Span::raw(format!("{mark}{what}  ")),
            Span::styled(format!("({kind})"), theme::dim(t)),
        ]);
        lines.push(if i == selected {
            line.style(theme::selected(t))
        } else {
            line
        });
    }
    let question = vec![Line::styled("enter inject, esc close", theme::accent(t))];
    super::scrolled_popup(state, frame, area, block, lines, question, 0);
}
