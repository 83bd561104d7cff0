//! The help screen, built from the keymap itself.

use super::theme;
use crate::app::keymap::{Context, BINDINGS};
use crate::app::State;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let t = state.theme;
    let mut lines = Vec::new();
    for (ctx, title) in [
        (Context::Main, "main screen"),
        (Context::Filter, "filter"),
        (Context::Confirm, "dialogs"),
        (Context::Logs, "logs"),
    ] {
        lines.push(Line::styled(title, theme::accent(t)));
        for b in BINDINGS.iter().filter(|b| b.context == ctx) {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<8}", b.label), theme::accent(t)),
                Span::raw(b.help),
            ]));
        }
    }
    let block = theme::block(t)
        .border_style(theme::accent(t))
        .title(format!(" help {} esc closes ", theme::dot(t)));
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
