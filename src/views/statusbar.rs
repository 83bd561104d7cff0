//! The bottom line: health counters, then the keys that work right now.

use super::theme;
use crate::app::keymap;
use crate::app::state::Mode;
use crate::app::State;
use crate::backend::health::ServiceState;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let t = state.theme;
    let mut spans = Vec::new();
    for (st, label) in [
        (ServiceState::Up, "up"),
        (ServiceState::Down, "down"),
        (ServiceState::Unreachable, "unreach"),
        (ServiceState::Starting, "starting"),
        (ServiceState::Unknown, "unknown"),
    ] {
        let n = state.board.count(st);
        if n == 0 && !matches!(st, ServiceState::Up | ServiceState::Down) {
            continue;
        }
        spans.push(Span::styled(
            format!("{} {n} {label} ", theme::glyph(t, st)),
            theme::state_style(t, st),
        ));
    }
    let sep = if t.ascii { "| " } else { "│ " };
    spans.push(Span::raw(sep));
    if let Mode::Filter = state.mode {
        spans.push(Span::styled(format!("/{}", state.filter), theme::accent(t)));
        spans.push(Span::styled(
            if t.ascii { "_ " } else { "█ " },
            theme::accent(t),
        ));
    }
    if let Some(view) = state.logs.as_ref().filter(|v| v.searching) {
        spans.push(Span::styled(
            format!("search: {}", view.search),
            theme::accent(t),
        ));
        spans.push(Span::styled(
            if t.ascii { "_ " } else { "█ " },
            theme::accent(t),
        ));
    }
    if let Some(msg) = &state.message {
        spans.push(Span::styled(format!("{msg} "), theme::warn(t)));
        let sep = if t.ascii { "| " } else { "│ " };
        spans.push(Span::raw(sep));
    }
    for b in keymap::hints(crate::app::update::context(state)) {
        spans.push(Span::styled(
            b.label,
            theme::accent(t).add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::raw(format!(" {}  ", b.hint)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
