//! The help screen, built from the keymap itself: a section per keymap
//! (what each layer accepts), listing every key of every binding. Sections
//! that do not fit one column flow into two where two fit side by side.

use super::theme;
use crate::app::keymap::{Keymap, BINDINGS};
use crate::app::state::Theme;
use crate::app::State;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

/// Blank columns between the two columns.
const GAP: u16 = 2;

pub(super) fn draw(state: &State, frame: &mut Frame, area: Rect, scroll: usize) {
    let t = state.theme;
    let keys_width = BINDINGS
        .iter()
        .map(|b| b.keys_label(t.ascii).chars().count())
        .max()
        .unwrap_or(0);
    let sections: Vec<Vec<Line>> = Keymap::ALL
        .into_iter()
        .map(|k| section(k, keys_width, t))
        .collect();
    let block = theme::block(t)
        .border_style(theme::accent(t))
        .title(format!(" help {} esc closes ", theme::dot(t)));
    let inner = block.inner(area);
    frame.render_widget(Clear, area);
    let scroll = (super::offset(scroll), 0);
    let total: usize = sections.iter().map(Vec::len).sum();
    let split = if total > usize::from(inner.height) {
        two_columns(&sections, inner.width)
    } else {
        None
    };
    let Some(at) = split else {
        let lines = sections.concat();
        frame.render_widget(Paragraph::new(lines).block(block).scroll(scroll), area);
        return;
    };
    frame.render_widget(block, area);
    let (left, right) = (sections[..at].concat(), sections[at..].concat());
    let [left_area, _, right_area] = Layout::horizontal([
        Constraint::Length(width(&left)),
        Constraint::Length(GAP),
        Constraint::Min(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(left).scroll(scroll), left_area);
    frame.render_widget(Paragraph::new(right).scroll(scroll), right_area);
}

/// A keymap's heading and one line per binding: all its keys, what it does.
fn section(keymap: Keymap, keys_width: usize, t: Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(keymap.title(), theme::accent(t))];
    lines.extend(keymap.bindings().map(|b| {
        Line::from(vec![
            Span::styled(
                format!("  {:<keys_width$} ", b.keys_label(t.ascii)),
                theme::accent(t),
            ),
            Span::raw(b.help),
        ])
    }));
    lines
}

fn width(lines: &[Line]) -> u16 {
    let w = lines.iter().map(Line::width).max().unwrap_or(0);
    u16::try_from(w).unwrap_or(u16::MAX)
}

/// Where to cut the sections into two columns of about equal height that
/// fit side by side in `room` columns; `None` when no cut fits.
fn two_columns(sections: &[Vec<Line>], room: u16) -> Option<usize> {
    (1..sections.len())
        .filter(|&at| {
            let left = width(&sections[..at].concat());
            let right = width(&sections[at..].concat());
            left.saturating_add(GAP).saturating_add(right) <= room
        })
        .min_by_key(|&at| {
            let height = |s: &[Vec<Line>]| s.iter().map(Vec::len).sum::<usize>();
            height(&sections[..at]).max(height(&sections[at..]))
        })
}
