//! The bottom line: health counters, the line being typed (filter or
//! search), a message, then the top layer's own key hints: the keys that
//! work right now.

use super::theme;
use crate::app::keymap::Action;
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
    // Counted, not listed: the bar is drawn on every frame.
    let model = &state.model;
    let outdated = model
        .services
        .iter()
        .filter(|s| model.is_outdated(s))
        .count();
    if outdated > 0 {
        let mark = if t.ascii { "!=" } else { "≠" };
        spans.push(Span::styled(
            format!("{mark} {outdated} outdated "),
            theme::accent(t),
        ));
    }
    let sep = if t.ascii { "| " } else { "│ " };
    spans.push(Span::raw(sep));
    let typed = match state.layers.top() {
        Some(Layer::Filter) => Some(format!("/{}", state.tree.filter)),
        Some(Layer::CommandLine { text }) => Some(format!(":{text}")),
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
    // `? help` first (it is never cut off), then the others in the
    // keymap's order, most important first, each whole or not at all.
    let mut room = usize::from(area.width).saturating_sub(Line::from(spans.clone()).width());
    let keymap = state.layers.keymap();
    let help = keymap.hints().filter(|b| b.action == Action::Help);
    for b in help.chain(keymap.hints().filter(|b| b.action != Action::Help)) {
        let text = format!(" {}  ", b.hint);
        let w = b.label.chars().count() + text.chars().count();
        if w > room {
            continue;
        }
        room -= w;
        spans.push(Span::styled(
            b.label,
            theme::accent(t).add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::raw(text));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
