//! The logs screen: the tail of one service's journal (or several merged
//! by time, each line behind its service's tag), following or paused,
//! every search match highlighted (the current line marked, a counter in
//! the border), the journal prefix optionally hidden. Draws only the
//! visible window; with wrap on, rows are cut by characters so the window
//! ends exactly on the newest line.

use super::theme;
use crate::app::panes::logs::{LogView, Source};
use crate::app::State;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub(super) fn draw(state: &State, view: &LogView, frame: &mut Frame, area: Rect) {
    let t = state.theme;
    let d = theme::dot(t);
    let mode = if view.follow { "following" } else { "paused" };
    let mut rest = format!(" {d} {mode} {d} {} lines ", view.lines.len());
    if view.dropped > 0 {
        rest.push_str(&format!("{d} {} older dropped ", view.dropped));
    }
    if let Some(why) = &view.ended {
        rest.push_str(&format!("{d} ended: {why} "));
    }
    let room =
        usize::from(area.width).saturating_sub(2 + rest.chars().count() + " logs ".len() + d.len());
    // An ASCII terminal may have no glyph for an ellipsis.
    let more = if t.ascii { "~" } else { "…" };
    let title = format!(" logs {d} {}{rest}", what(&view.sources, room, more));
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
    let tag_width = view.tag_width();
    let gutter = if tag_width > 0 { tag_width + 3 } else { 0 };
    let height = usize::from(inner.height);
    let width = usize::from(inner.width).saturating_sub(gutter).max(1);
    let first = view.first_for_rows(height, width);
    let bar = if t.ascii { "|" } else { "│" };
    // A row's tag: the service's name on a line's first row, blank under it.
    let tag = |i: usize, first_row: bool| -> Vec<Span<'static>> {
        if tag_width == 0 {
            return Vec::new();
        }
        let name = view.service_of(i);
        let shown = if !first_row {
            String::new()
        } else if name.chars().count() > tag_width {
            let cut: String = name.chars().take(tag_width - 1).collect();
            format!("{cut}{more}")
        } else {
            name.to_string()
        };
        let colour = tag_style(t, view.tags.get(i).copied().unwrap_or(0));
        vec![
            Span::styled(format!("{shown:<tag_width$}"), colour),
            Span::styled(format!(" {bar} "), theme::dim(t)),
        ]
    };
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
            let mut spans = tag(i, true);
            spans.extend(highlight(text, 0, &found, base, hit));
            rows.push(Line::from(spans));
            continue;
        }
        // Rows cut by characters, as `LogView::first_for_rows` counts them.
        let mut start = 0;
        let mut count = 0;
        for (b, _) in text.char_indices().chain([(text.len(), ' ')]) {
            if count == width || b == text.len() {
                if b > start || text.is_empty() {
                    let mut spans = tag(i, start == 0);
                    spans.extend(highlight(&text[start..b], start, &found, base, hit));
                    rows.push(Line::from(spans));
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

/// What the title says is shown, in about `room` columns: one service
/// and its unit, or the first service, how many more, and as many of
/// their names as fit (`caddy +3 (authentik, postgresql, …)`).
fn what(sources: &[Source], room: usize, more: &str) -> String {
    let Some((first, others)) = sources.split_first() else {
        return String::new();
    };
    if others.is_empty() {
        return format!("{} ({})", first.service, first.unit);
    }
    let head = format!("{} +{}", first.service, others.len());
    let mut names = String::new();
    for (k, s) in others.iter().enumerate() {
        let sep = if k == 0 { "" } else { ", " };
        let last = k + 1 == others.len();
        // Room for this name, and for ", …)" after it unless it is the last.
        let need = head.len() + 2 + names.len() + sep.len() + s.service.len();
        let tail = if last { 1 } else { 4 };
        if need + tail > room {
            if k > 0 {
                names.push_str(", ");
            }
            names.push_str(more);
            break;
        }
        names.push_str(sep);
        names.push_str(&s.service);
    }
    format!("{head} ({names})")
}

/// A service tag's colour: the services take turns through a few that
/// stand apart from the text.
fn tag_style(t: crate::app::state::Theme, tag: usize) -> Style {
    const COLOURS: [Color; 6] = [
        Color::Cyan,
        Color::Magenta,
        Color::Green,
        Color::Blue,
        Color::LightRed,
        Color::LightYellow,
    ];
    if t.color {
        Style::new().fg(COLOURS[tag % COLOURS.len()])
    } else {
        Style::new().add_modifier(Modifier::BOLD)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(names: &[&str]) -> Vec<Source> {
        names
            .iter()
            .map(|n| Source {
                service: n.to_string(),
                unit: format!("{n}.service"),
            })
            .collect()
    }

    #[test]
    fn the_title_names_as_many_services_as_fit() {
        let one = sources(&["caddy"]);
        assert_eq!(what(&one, 5, "…"), "caddy (caddy.service)");
        let many = sources(&["grafana", "authentik", "caddy", "loki", "postgresql"]);
        assert_eq!(
            what(&many, 80, "…"),
            "grafana +4 (authentik, caddy, loki, postgresql)"
        );
        assert_eq!(
            what(&many, 40, "…"),
            "grafana +4 (authentik, caddy, loki, …)"
        );
        assert_eq!(what(&many, 30, "…"), "grafana +4 (authentik, …)");
        assert_eq!(what(&many, 12, "~"), "grafana +4 (~)");
        for room in 0..60 {
            let t = what(&many, room, "…");
            assert!(
                t.chars().count() <= room.max("grafana +4 (…)".len()),
                "{t:?} in {room}"
            );
        }
    }
}
