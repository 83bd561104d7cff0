//! The activity pane: one line per operation (spinner, elapsed, step), the
//! focused one expandable to its streamed output.

use super::theme;
use crate::app::panes::activity::wrap_rows;
use crate::app::State;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub(super) fn draw(state: &State, frame: &mut Frame, area: Rect, focused: bool) {
    let t = state.theme;
    let border = if focused {
        theme::accent(t)
    } else {
        theme::dim(t)
    };
    let block = theme::block(t).border_style(border).title(format!(
        " activity {} {} running ",
        theme::dot(t),
        state.model.running_ops()
    ));
    let inner_h = block.inner(area).height as usize;
    let title_w = (usize::from(area.width) / 3).min(24);
    let mut lines: Vec<Line> = Vec::new();
    let operations = &state.model.operations;
    let selected = state.activity.selected;
    if operations.is_empty() {
        lines.push(Line::styled(
            "no operations yet (d deploys, r rolls back)",
            theme::dim(t),
        ));
    }
    // Newest at the bottom; keep the selected one in view.
    let start = selected
        .saturating_add(1)
        .saturating_sub(inner_h)
        .min(operations.len().saturating_sub(inner_h.max(1)));
    for (i, op) in operations.iter().enumerate().skip(start) {
        let (mark, style) = match &op.finished {
            None => (
                theme::spinner(t, state.spinner).to_string(),
                theme::accent(t),
            ),
            Some((_, true, _)) => (
                (if t.ascii { "ok" } else { "✔" }).to_string(),
                theme::good(t),
            ),
            Some((_, false, _)) => (
                (if t.ascii { "!!" } else { "✖" }).to_string(),
                theme::bad(t),
            ),
        };
        let end = op.finished.as_ref().map_or(state.now, |f| f.0);
        let elapsed = end.duration_since(op.started).unwrap_or_default();
        let status = match &op.finished {
            None => op.step.clone(),
            Some((_, _, summary)) => summary.clone(),
        };
        let mut line = Line::from(vec![
            Span::styled(format!("{mark} "), style),
            Span::raw(format!("{:<title_w$} ", op.title)),
            Span::styled(format!("{:>6.1}s ", elapsed.as_secs_f64()), theme::dim(t)),
            Span::raw(status),
        ]);
        if focused && i == selected {
            line = line.style(theme::selected(t));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// Operation `op`'s output, over the main screen: rows cut at the popup's
/// width (nothing is lost off the right edge), following the newest until
/// scrolled up.
pub(super) fn draw_output(state: &State, op: u64, frame: &mut Frame, area: Rect, scroll: usize) {
    let Some(op) = state.model.operation(op) else {
        return;
    };
    let t = state.theme;
    let block = theme::block(t)
        .border_style(theme::accent(t))
        .title(format!(
            " {} {} output (esc closes) ",
            op.title,
            theme::dot(t)
        ));
    let width = usize::from(block.inner(area).width);
    let lines: Vec<Line> = op
        .output
        .iter()
        .flat_map(|l| wrap_rows(l, width))
        .map(Line::raw)
        .collect();
    super::scrolled_popup(state, frame, area, block, lines, Vec::new(), scroll);
}
