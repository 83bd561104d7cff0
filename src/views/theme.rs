//! Colours and glyphs, honouring `NO_COLOR` and ASCII-only terminals.

use crate::app::state::Theme;
use crate::backend::health::ServiceState;
use ratatui::style::{Color, Modifier, Style};

pub fn state_style(theme: Theme, state: ServiceState) -> Style {
    if !theme.color {
        return match state {
            ServiceState::Down | ServiceState::Unreachable | ServiceState::Failing => {
                Style::new().add_modifier(Modifier::BOLD)
            }
            _ => Style::new(),
        };
    }
    let c = match state {
        ServiceState::Up => Color::Green,
        ServiceState::Down => Color::Red,
        ServiceState::Failing => Color::LightRed,
        ServiceState::Starting => Color::Yellow,
        ServiceState::Unreachable => Color::Magenta,
        ServiceState::Unknown => Color::DarkGray,
    };
    Style::new().fg(c)
}

pub fn glyph(theme: Theme, state: ServiceState) -> &'static str {
    match (theme.ascii, state) {
        (false, ServiceState::Up) => "●",
        (false, ServiceState::Down) => "✖",
        (false, ServiceState::Failing) => "▼",
        (false, ServiceState::Starting) => "◐",
        (false, ServiceState::Unreachable) => "⊘",
        (false, ServiceState::Unknown) => "○",
        (true, ServiceState::Up) => "+",
        (true, ServiceState::Down) => "x",
        (true, ServiceState::Failing) => "v",
        (true, ServiceState::Starting) => "~",
        (true, ServiceState::Unreachable) => "!",
        (true, ServiceState::Unknown) => "?",
    }
}

pub fn spinner(theme: Theme, tick: usize) -> &'static str {
    const UNICODE: [&str; 8] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧"];
    const ASCII: [&str; 4] = ["|", "/", "-", "\\"];
    if theme.ascii {
        ASCII[tick % ASCII.len()]
    } else {
        UNICODE[tick % UNICODE.len()]
    }
}

pub fn accent(theme: Theme) -> Style {
    if theme.color {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new().add_modifier(Modifier::BOLD)
    }
}

pub fn dim(theme: Theme) -> Style {
    if theme.color {
        Style::new().fg(Color::DarkGray)
    } else {
        Style::new()
    }
}

pub fn selected(theme: Theme) -> Style {
    if theme.color {
        Style::new()
            .bg(Color::DarkGray)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::REVERSED)
    }
}

pub fn warn(theme: Theme) -> Style {
    if theme.color {
        Style::new().fg(Color::Yellow)
    } else {
        Style::new().add_modifier(Modifier::BOLD)
    }
}

pub fn bad(theme: Theme) -> Style {
    state_style(theme, ServiceState::Down)
}

pub fn good(theme: Theme) -> Style {
    state_style(theme, ServiceState::Up)
}

/// Sparkline levels for terminals without block elements.
pub const ASCII_BARS: ratatui::symbols::bar::Set<'static> = ratatui::symbols::bar::Set {
    full: "#",
    seven_eighths: "#",
    three_quarters: "=",
    five_eighths: "=",
    half: "-",
    three_eighths: "-",
    one_quarter: ".",
    one_eighth: ".",
    empty: " ",
};

const ASCII_BORDER: ratatui::symbols::border::Set<'static> = ratatui::symbols::border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

/// A bordered pane, drawn with ASCII on terminals without line drawing.
pub fn block(theme: Theme) -> ratatui::widgets::Block<'static> {
    let b = ratatui::widgets::Block::default().borders(ratatui::widgets::Borders::ALL);
    if theme.ascii {
        b.border_set(ASCII_BORDER)
    } else {
        b
    }
}

/// The separator used in titles.
pub fn dot(theme: Theme) -> &'static str {
    if theme.ascii {
        "-"
    } else {
        "·"
    }
}
