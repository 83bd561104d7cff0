//! The history popup (newest operation first, the selected one marked)
//! and an operation's steps.

use super::theme;
use crate::app::panes::history::{steps_rows, HistoryView};
use crate::app::State;
use crate::backend::history::OpRecord;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::Frame;

pub(super) fn draw(state: &State, view: &HistoryView, frame: &mut Frame, area: Rect) {
    let t = state.theme;
    let mark = if t.ascii { "> " } else { "▸ " };
    let lines = view
        .rows()
        .into_iter()
        .map(|row| {
            let chosen = row.op == view.selected && !view.records().is_empty();
            let lead = if row.header && chosen { mark } else { "  " };
            let text = format!("{lead}{}", row.text);
            match (chosen, row.header) {
                (true, true) => Line::styled(text, theme::selected(t)),
                (false, true) => Line::styled(text, theme::accent(t)),
                _ => Line::raw(text),
            }
        })
        .collect();
    let block = theme::block(t).title(view.title());
    super::scrolled_popup(state, frame, area, block, lines, Vec::new(), view.scroll);
}

pub(super) fn draw_steps(
    state: &State,
    record: &OpRecord,
    frame: &mut Frame,
    area: Rect,
    scroll: usize,
) {
    let t = state.theme;
    let lines = steps_rows(record).into_iter().map(Line::raw).collect();
    let block = theme::block(t).title(format!(" op {}: steps ", record.op));
    super::scrolled_popup(state, frame, area, block, lines, Vec::new(), scroll);
}
