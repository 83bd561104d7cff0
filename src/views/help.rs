//! The help screen, built from the keymap itself: a section per keymap
//! (what each layer accepts), listing every key of every binding. Sections
//! that do not fit one column flow into two where two fit side by side;
//! what still does not fit scrolls (`app::keymap::HelpLayout` decides).

use super::theme;
use crate::app::keymap::{word_wrap, HelpLayout, Keymap, HELP_GAP};
use crate::app::state::Theme;
use crate::app::State;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

pub(super) fn draw(state: &State, frame: &mut Frame, area: Rect, scroll: usize) {
    let t = state.theme;
    let block = theme::block(t)
        .border_style(theme::accent(t))
        .title(format!(" help {} esc closes ", theme::dot(t)));
    let inner = block.inner(area);
    let layout = HelpLayout::new(usize::from(inner.width), usize::from(inner.height), t.ascii);
    let sections: Vec<Vec<Line>> = Keymap::ALL
        .into_iter()
        .map(|k| section(k, layout.keys_width, layout.text_width, t))
        .collect();
    let shown = usize::from(inner.height);
    let first = scroll.min(layout.rows.saturating_sub(shown.max(1)));
    let block = match super::scroll_note(t, first, shown, layout.rows) {
        Some(note) => block.title_bottom(Line::styled(note, theme::dim(t)).right_aligned()),
        None => block,
    };
    frame.render_widget(Clear, area);
    frame.render_widget(block, area);
    let at = super::offset(first);
    let Some(split) = layout.split else {
        frame.render_widget(Paragraph::new(sections.concat()).scroll((at, 0)), inner);
        return;
    };
    let (left, right) = (sections[..split].concat(), sections[split..].concat());
    let left_w = u16::try_from(left.iter().map(Line::width).max().unwrap_or(0)).unwrap_or(u16::MAX);
    let [left_area, _, right_area] = Layout::horizontal([
        Constraint::Length(left_w),
        Constraint::Length(HELP_GAP as u16),
        Constraint::Min(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(left).scroll((at, 0)), left_area);
    frame.render_widget(Paragraph::new(right).scroll((at, 0)), right_area);
}

/// A keymap's heading and one line per binding: all its keys, what it
/// does (wrapped under itself to `text_width` when given).
fn section(
    keymap: Keymap,
    keys_width: usize,
    text_width: Option<usize>,
    t: Theme,
) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(keymap.title(), theme::accent(t))];
    for b in keymap.bindings() {
        let rows = match text_width {
            Some(w) => word_wrap(b.help, w),
            None => vec![b.help.to_string()],
        };
        for (i, row) in rows.into_iter().enumerate() {
            let keys = if i == 0 {
                b.keys_label(t.ascii)
            } else {
                String::new()
            };
            lines.push(Line::from(vec![
                Span::styled(format!("  {keys:<keys_width$} "), theme::accent(t)),
                Span::raw(row),
            ]));
        }
    }
    lines
}
