//! Confirmation dialogs: they show what will happen before it happens.

use super::theme;
use crate::app::keys::scroll::break_lock_text;
use crate::app::panes::deploy_dialog::{DeployDialog, Row, Tone};
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

/// The plan, one host per row with its preview, and the first warning and
/// the question pinned below it: a plan taller than the screen scrolls, the
/// question never leaves the screen.
pub(super) fn draw_deploy(
    state: &State,
    dialog: &DeployDialog,
    frame: &mut Frame,
    area: Rect,
    scroll: usize,
) {
    let t = state.theme;
    let block = theme::block(t)
        .border_style(theme::warn(t))
        .title(" deploy? ");
    let width = usize::from(block.inner(area).width);
    let styled = |rows: Vec<Row>| -> Vec<Line<'static>> {
        rows.into_iter()
            .map(|r| {
                let style = match r.tone {
                    Tone::Plain => ratatui::style::Style::default(),
                    Tone::Heading | Tone::Question => theme::accent(t),
                    Tone::Dim => theme::dim(t),
                    Tone::Warn => theme::warn(t),
                };
                Line::styled(r.text, style)
            })
            .collect()
    };
    let body = styled(dialog.body(&state.model.manifest, width, t.ascii));
    let pinned = styled(dialog.pinned(width, t.ascii));
    super::scrolled_popup(state, frame, area, block, body, pinned, scroll);
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
