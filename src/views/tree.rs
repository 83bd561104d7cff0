//! The dependency tree: one row per service with health glyph, name, host
//! the age of its last check and the generation it runs.

use super::theme;
use crate::app::panes::forest::Node;
use crate::app::State;
use crate::backend::health::ServiceState;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;

/// Draws the rows of `state.tree.rows` that fit, the way tui-tree-widget draws a
/// tree (two columns of indent per level, then `▾ `/`▸ `/two spaces, the
/// row, the whole row highlighted when selected), but only the rows in
/// view: the forest and the visible rows are derived by `update`, so a frame
/// costs the same with 10 services or 10,000. (The widget itself needs an
/// owned item for every node and flattens the whole tree, with a path
/// vector per row, on every render: 13 ms a frame at 1,000 services.)
pub(super) fn draw(state: &State, frame: &mut Frame, area: Rect, focused: bool) {
    let (pane, model) = (&state.tree, &state.model);
    let forest = &pane.forest;
    let depth = forest.depth();
    // Names padded so host columns line up whatever the depth.
    let name_width = model.services.iter().map(|s| s.len()).max().unwrap_or(8) + 2 * depth + 2;
    // The host column only where it fits beside glyph, indent and age.
    let show_host = usize::from(area.width) >= name_width + 2 * depth + 8 + 17 + 6;
    let ctx = RowContext {
        name_width,
        show_host,
        impacted: model.health.impacted(&model.graph),
    };
    let title = if pane.filter.is_empty() {
        format!(
            " services {} {} ",
            theme::dot(state.theme),
            pane.direction.label()
        )
    } else {
        format!(
            " services {d} filter \"{}\" {d} {} match(es) ",
            pane.filter,
            forest.roots(),
            d = theme::dot(state.theme)
        )
    };
    let border = if focused {
        theme::accent(state.theme)
    } else {
        theme::dim(state.theme)
    };
    let block = theme::block(state.theme).border_style(border).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.width == 0 || inner.height == 0 || pane.rows.is_empty() {
        return;
    }
    let (start, end) = window(
        pane.offset.get(),
        pane.selected_row(),
        pane.rows.len(),
        usize::from(inner.height),
    );
    pane.offset.set(start);
    let (open, closed, leaf) = if state.theme.ascii {
        ("v ", "> ", "  ")
    } else {
        ("▾ ", "▸ ", "  ")
    };
    for (y, &id) in (inner.y..).zip(&pane.rows[start..end]) {
        let node = forest.node(id);
        let symbol = if !forest.has_children(id) {
            leaf
        } else if pane.opened.is_open(id) {
            open
        } else {
            closed
        };
        // Nothing is drawn past the right edge, so nothing past it is
        // formatted either (a deep row's indent and padding can be wider
        // than the pane); what shows is the same.
        let width = usize::from(inner.width);
        let indent = (node.depth * 2).min(width);
        let mut line = row_line(state, &ctx, node, width.saturating_sub(indent + 4));
        line.spans
            .insert(0, Span::raw(format!("{:indent$}{symbol}", "")));
        let row = Rect {
            y,
            height: 1,
            ..inner
        };
        frame.render_widget(line, row);
        if pane.cursor == Some(id) {
            frame
                .buffer_mut()
                .set_style(row, theme::selected(state.theme));
        }
    }
}

/// The rows `start..end` in view: keep the previous first row where
/// possible, move just enough to bring the selection into view (as
/// tui-tree-widget scrolls), and never leave blank lines below the last row
/// while rows above are hidden (after a collapse or a narrower filter).
fn window(offset: usize, selected: Option<usize>, rows: usize, height: usize) -> (usize, usize) {
    let mut start = offset.min(rows.saturating_sub(height));
    if let Some(sel) = selected {
        start = start.min(sel);
        if sel >= start + height {
            start = sel + 1 - height;
        }
    }
    (start, (start + height).min(rows))
}

/// What every row needs, computed once per frame.
struct RowContext {
    name_width: usize,
    show_host: bool,
    impacted: std::collections::HashSet<String>,
}

/// One row after its indent and open/closed symbol; `room` is the width left
/// for the name column (after glyph and space).
fn row_line(state: &State, ctx: &RowContext, node: &Node, room: usize) -> Line<'static> {
    let (name_width, show_host) = (ctx.name_width, ctx.show_host);
    let row = state.model.health.rows.get(&node.name);
    let st = row.map_or(ServiceState::Unknown, |r| r.state);
    let style = theme::state_style(state.theme, st);
    let impacted = st == ServiceState::Up && ctx.impacted.contains(&node.name);
    // Padded no further than the right edge: whatever follows would not show.
    let pad = name_width.saturating_sub(node.depth * 2).min(room);
    // A repeated node (shown in full elsewhere) is marked inside the padding.
    let mark = match (node.repeated, state.theme.ascii) {
        (false, _) => "",
        (true, false) => " ↑",
        (true, true) => " ^",
    };
    let label = format!("{}{mark}", node.name);
    let mut spans = vec![
        Span::styled(theme::glyph(state.theme, st), style),
        Span::raw(" "),
        Span::styled(
            format!("{label:<pad$}"),
            if impacted {
                theme::warn(state.theme)
            } else {
                ratatui::style::Style::new()
            },
        ),
    ];
    if let Some(r) = row {
        if show_host {
            spans.push(Span::styled(
                format!("  {:<15}", r.host),
                theme::dim(state.theme),
            ));
        }
        if let Some(p) = r.last_probe() {
            let age = state.now.duration_since(p.at).unwrap_or_default();
            spans.push(Span::styled(
                format!(" {:>4}", crate::timefmt::age(age)),
                theme::dim(state.theme),
            ));
        }
    }
    if let Some(r) = row.filter(|r| r.state == ServiceState::Failing) {
        spans.push(Span::styled(
            format!(" {}/{}", r.failures(), r.retries),
            style,
        ));
    }
    if let Some(g) = state.model.generations.get(&node.name) {
        spans.push(Span::styled(
            format!(" g{}", g.generation),
            theme::dim(state.theme),
        ));
    }
    if state.model.is_outdated(&node.name) {
        // Outdated: the host runs something else than the manifest builds.
        let mark = if state.theme.ascii { " !=" } else { " ≠" };
        spans.push(Span::styled(mark, theme::accent(state.theme)));
    }
    if impacted {
        // A dependency is down: this one may misbehave although it answers.
        spans.push(Span::styled(" !", theme::warn(state.theme)));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::window;

    #[test]
    fn scrolls_just_enough_to_show_the_selection() {
        // 100 rows, 10 high.
        assert_eq!(window(0, Some(3), 100, 10), (0, 10), "in view: stays");
        assert_eq!(window(0, Some(10), 100, 10), (1, 11), "one below: one down");
        assert_eq!(window(1, Some(5), 100, 10), (1, 11), "no jump back");
        assert_eq!(window(40, Some(20), 100, 10), (20, 30), "above: to the top");
        assert_eq!(window(0, Some(99), 100, 10), (90, 100), "G: last page");
        assert_eq!(window(90, Some(2), 5, 10), (0, 5), "fewer rows than lines");
        assert_eq!(window(7, None, 5, 10), (0, 5), "no selection: clamped");
        assert_eq!(
            window(95, Some(96), 100, 10),
            (90, 100),
            "no blank lines at the end"
        );
    }
}
