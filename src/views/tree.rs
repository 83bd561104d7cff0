//! The dependency tree: one row per service with health glyph, name, host
//! and the age of its last check.

use super::theme;
use crate::app::tree::Node;
use crate::app::State;
use crate::backend::health::ServiceState;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;
use tui_tree_widget::{Tree, TreeItem};

pub fn draw(state: &State, frame: &mut Frame, area: Rect, focused: bool) {
    let forest = state.forest();
    // Names padded so host columns line up whatever the depth.
    let name_width =
        state.services.iter().map(|s| s.len()).max().unwrap_or(8) + 2 * depth(&forest) + 2;
    // The host column only where it fits beside glyph, indent and age.
    let show_host = usize::from(area.width) >= name_width + 2 * depth(&forest) + 8 + 17 + 6;
    let ctx = RowContext {
        name_width,
        show_host,
        impacted: state.board.impacted(&state.graph),
    };
    let items: Vec<TreeItem<'static, String>> =
        forest.iter().map(|n| item(state, &ctx, n, 0)).collect();
    let title = if state.filter.is_empty() {
        format!(
            " services {} {} ",
            theme::dot(state.theme),
            state.direction.label()
        )
    } else {
        format!(
            " services {d} filter \"{}\" {d} {} match(es) ",
            state.filter,
            forest.len(),
            d = theme::dot(state.theme)
        )
    };
    let border = if focused {
        theme::accent(state.theme)
    } else {
        theme::dim(state.theme)
    };
    let block = theme::block(state.theme).border_style(border).title(title);
    // Tree::new fails only on duplicate identifiers among siblings; the
    // graph's neighbour lists are sets, so siblings are unique. Still,
    // never panic in the draw path: show the reason instead.
    let tree = match Tree::new(&items) {
        Ok(t) => t,
        Err(e) => {
            frame.render_widget(
                ratatui::widgets::Paragraph::new(e.to_string()).block(block),
                area,
            );
            return;
        }
    };
    let (open, closed, leaf) = if state.theme.ascii {
        ("v ", "> ", "  ")
    } else {
        ("▾ ", "▸ ", "  ")
    };
    let tree = tree
        .block(block)
        .highlight_style(theme::selected(state.theme))
        .node_open_symbol(open)
        .node_closed_symbol(closed)
        .node_no_children_symbol(leaf);
    let mut ts = state.tree_render.borrow_mut();
    ts.close_all();
    for path in &state.opened {
        ts.open(path.clone());
    }
    ts.select(state.selected.clone());
    frame.render_stateful_widget(tree, area, &mut ts);
}

/// What every row needs, computed once per frame.
struct RowContext {
    name_width: usize,
    show_host: bool,
    impacted: std::collections::HashSet<String>,
}

fn item(state: &State, ctx: &RowContext, node: &Node, depth: usize) -> TreeItem<'static, String> {
    let line = row_line(state, ctx, node, depth);
    let children: Vec<TreeItem<'static, String>> = node
        .children
        .iter()
        .map(|c| item(state, ctx, c, depth + 1))
        .collect();
    let id = node.name.clone();
    if children.is_empty() {
        TreeItem::new_leaf(id, line)
    } else {
        TreeItem::new(id.clone(), line.clone(), children)
            .unwrap_or_else(|_| TreeItem::new_leaf(id, line))
    }
}

fn row_line(state: &State, ctx: &RowContext, node: &Node, depth: usize) -> Line<'static> {
    let (name_width, show_host) = (ctx.name_width, ctx.show_host);
    let row = state.board.rows.get(&node.name);
    let st = row.map_or(ServiceState::Unknown, |r| r.state);
    let style = theme::state_style(state.theme, st);
    let impacted = st == ServiceState::Up && ctx.impacted.contains(&node.name);
    let pad = name_width.saturating_sub(depth * 2);
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
    if impacted {
        // A dependency is down: this one may misbehave although it answers.
        spans.push(Span::styled(" !", theme::warn(state.theme)));
    }
    Line::from(spans)
}

/// Levels below the roots (0 for a flat list).
fn depth(forest: &[Node]) -> usize {
    fn levels(nodes: &[Node]) -> usize {
        nodes
            .iter()
            .map(|n| 1 + levels(&n.children))
            .max()
            .unwrap_or(0)
    }
    levels(forest).saturating_sub(1)
}
