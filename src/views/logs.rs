//! The logs screen: the tail of one service's journal, following or paused,
//! every search match highlighted (the current line marked, a counter in
//! the border), the journal prefix optionally hidden. Draws only the
//! visible window; with wrap on, rows are cut by characters so the window
//! ends exactly on the newest line.

use super::theme;
use crate::app::panes::logs::LogView;
use crate::app::State;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub(super) fn draw(state: &State, view: &LogView, frame: &mut Frame, area: Rect) {
    let t = state.theme;
    let d = theme::dot(t);
    let mode = if view.follow { "following" } else { "paused" };
    let mut title = format!(
        " logs {d} {} ({}) {d} {mode} {d} {} lines ",
        view.service,
        view.unit,
        view.lines.len()
    );
    if view.dropped > 0 {
        title.push_str(&format!("{d} {} older dropped ", view.dropped));
    }
    if let Some(why) = &view.ended {
        title.push_str(&format!("{d} ended: {why} "));
    }
    let block = theme::block(t)
        .border_style(if view.follow {
            theme::accent(t)
        } else {
            theme::warn(t)
        })
        .title(title);
    let (at, total) = view.match_count();
    let block = if view.search.is_empty() {
        block
    } else {
        let at = at.map_or("-".to_string(), |n| n.to_string());
        block.title_bottom(
            Line::styled(
                format!(" {at}/{total} match(es) for {:?} ", view.search),
                theme::accent(t),
            )
            .right_aligned(),
        )
    };
    let inner = block.inner(area);
    let (height, width) = (usize::from(inner.height), usize::from(inner.width).max(1));
    let first = view.first_for_rows(height, width);
    let hit = theme::warn(t).add_modifier(Modifier::BOLD | Modifier::REVERSED);
    let mut rows: Vec<Line> = Vec::with_capacity(height);
    for (i, l) in view.lines.iter().enumerate().skip(first) {
        if rows.len() >= height {
            break;
        }
        let text = view.shown(l);
        let base = if Some(i) == view.current {
            theme::selected(t)
        } else {
            Style::new()
        };
        let found = view.matches(text);
        if !view.wrap {
            rows.push(Line::from(highlight(text, 0, &found, base, hit)));
            continue;
        }
        // Rows cut by characters, as `LogView::first_for_rows` counts them.
        let mut start = 0;
        let mut count = 0;
        for (b, _) in text.char_indices().chain([(text.len(), ' ')]) {
            if count == width || b == text.len() {
                if b > start || text.is_empty() {
                    rows.push(Line::from(highlight(
                        &text[start..b],
                        start,
                        &found,
                        base,
                        hit,
                    )));
                }
                start = b;
                count = 0;
            }
            count += 1;
        }
    }
    rows.truncate(height);
    frame.render_widget(Paragraph::new(rows).block(block), area);
}

/// `text` (which starts at byte `offset` of its line) as spans, the parts
/// inside `found` (byte ranges of the line) styled `hit`.
fn highlight<'a>(
    text: &'a str,
    offset: usize,
    found: &[(usize, usize)],
    base: Style,
    hit: Style,
) -> Vec<Span<'a>> {
    let mut spans = Vec::new();
    let mut at = 0;
    for &(a, b) in found {
        let (a, b) = (
            a.saturating_sub(offset).min(text.len()),
            b.saturating_sub(offset).min(text.len()),
        );
        if b <= at || a >= b || !text.is_char_boundary(a) || !text.is_char_boundary(b) {
            continue;
        }
        let a = a.max(at);
        if a > at {
            spans.push(Span::styled(&text[at..a], base));
        }
        spans.push(Span::styled(&text[a..b], hit));
        at = b;
    }
    if at < text.len() || spans.is_empty() {
        spans.push(Span::styled(&text[at..], base));
    }
    spans
}
