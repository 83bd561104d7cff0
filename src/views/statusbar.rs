//! The bottom line: health counters, the line being typed (filter or
//! search), a message, then the top layer's own key hints: the keys that
//! work right now.

use super::theme;
use crate::app::layers::Layer;
use crate::app::State;
use crate::backend::health::ServiceState;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub(super) fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let t = state.theme;
    let mut spans = Vec::new();
    for (st, label) in [
        (ServiceState::Up, "up"),
        (ServiceState::Failing, "failing"),
        (ServiceState::Down, "down"),
        (ServiceState::Unreachable, "unreach"),
        (ServiceState::Starting, "starting"),
        (ServiceState::Unknown, "unknown"),
    ] {
        let n = state.model.health.count(st);
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
    let typed = match state.layers.top() {
        Some(Layer::Filter) => Some(format!("/{}", state.tree.filter)),
        Some(Layer::LogSearch) => state
            .layers
            .logs()
            .map(|view| format!("search: {}", view.search)),
        _ => None,
    };
    if let Some(text) = typed {
        spans.push(Span::styled(text, theme::accent(t)));
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
    for b in state.layers.keymap().hints() {
        spans.push(Span::styled(
            b.label,
            theme::accent(t).add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::raw(format!(" {}  ", b.hint)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
