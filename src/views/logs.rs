//! The logs screen: the tail of one service's journal, following or paused,
//! with the current search match highlighted. Draws only the visible window.

use super::theme;
use crate::app::panes::logs::LogView;
use crate::app::State;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
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
    let height = usize::from(block.inner(area).height);
    let first = view.first_visible(height);
    let lines: Vec<Line> = view
        .lines
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, l)| {
            if Some(i) == view.current {
                Line::from(Span::styled(l.as_str(), theme::selected(t)))
            } else if !view.search.is_empty() && l.contains(&view.search) {
                Line::from(Span::styled(
                    l.as_str(),
                    theme::warn(t).add_modifier(Modifier::BOLD),
                ))
            } else {
                Line::raw(l.as_str())
            }
        })
        .collect();
    let p = Paragraph::new(lines).block(block);
    let p = if view.wrap {
        p.wrap(Wrap { trim: false })
    } else {
        p
    };
    frame.render_widget(p, area);
}
