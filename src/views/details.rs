//! The details pane: what the manifest says about the selected service, its
//! probe history, and what breaks if it is down.

use super::theme;
use crate::app::State;
use crate::backend::deploy_preview::Change;
use crate::backend::health::ServiceState;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Sparkline, Wrap};
use ratatui::Frame;

pub(super) fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let Some(name) = state.tree.selected_service() else {
        frame.render_widget(theme::block(state.theme).title(" details "), area);
        return;
    };
    let model = &state.model;
    let Some(svc) = model.manifest.services.get(name) else {
        return;
    };
    let row = model.health.rows.get(name);
    let st = row.map_or(ServiceState::Unknown, |r| r.state);
    let t = state.theme;
    let block = theme::block(t)
        .border_style(theme::dim(t))
        .title(format!(" {} ", svc.name));
    let inner = block.inner(area);

    let label = |s: &str| Span::styled(format!("{s:<11}"), theme::dim(t));
    let mut lines = vec![Line::from(vec![
        label("state"),
        Span::styled(
            format!(
                "{} {}",
                theme::glyph(t, st),
                row.map_or_else(|| st.as_str().to_string(), |r| r.state_text())
            ),
            theme::state_style(t, st),
        ),
        Span::raw(match row.and_then(|r| r.since) {
            Some(since) => format!(
                "  for {}",
                crate::timefmt::age(state.now.duration_since(since).unwrap_or_default())
            ),
            None => String::new(),
        }),
    ])];
    if let Some(reason) = row
        .and_then(|r| r.reason.as_ref())
        .filter(|_| st != ServiceState::Up)
    {
        lines.push(Line::from(vec![
            label("why"),
            Span::styled(reason.clone(), theme::bad(t)),
        ]));
    }
    if let Some(lock) = model.locks.get(name) {
        let key = "lock";
        lines.push(Line::from(vec![
            label(key),
            Span::styled(format!("{lock} (B: break if stale)"), theme::warn(t)),
        ]));
    }
    lines.push(Line::from(vec![
        label("host"),
        Span::raw(format!("{}  {}", svc.ip, svc.hostname)),
    ]));
    if let Some(p) = row.and_then(|r| r.last_probe()) {
        let kind = match p.kind {
            crate::backend::health::ProbeKind::Startup => "startup",
            crate::backend::health::ProbeKind::Liveness => "liveness",
        };
        let code = p.code.map_or("killed".to_string(), |c| format!("exit {c}"));
        lines.push(Line::from(vec![
            label("last probe"),
            Span::raw(format!(
                "{kind} {code} in {:.1} ms, {} ago",
                p.latency.as_secs_f64() * 1000.0,
                crate::timefmt::age(state.now.duration_since(p.at).unwrap_or_default())
            )),
        ]));
    }
    if let Some(g) = model.generations.get(name) {
        lines.push(Line::from(vec![
            label("generation"),
            Span::raw(format!("{} (since {})", g.generation, g.date)),
        ]));
    }
    match model.drift.get(name) {
        Some(Change::Changed { .. }) => {
            let since = model
                .generations
                .get(name)
                .map_or(String::new(), |g| format!(" since gen {}", g.generation));
            lines.push(Line::from(vec![
                label("drift"),
                Span::styled(
                    format!("outdated: manifest changed{since} (u deploys)"),
                    theme::accent(t),
                ),
            ]));
        }
        Some(Change::Unknown { why }) => lines.push(Line::from(vec![
            label("drift"),
            Span::styled(format!("unknown: {why}"), theme::dim(t)),
        ])),
        Some(Change::Unchanged { .. }) => lines.push(Line::from(vec![
            label("drift"),
            Span::styled("up to date with the manifest", theme::dim(t)),
        ])),
        None => {}
    }
    if let Some(d) = model.last_deploy.get(name) {
        let ago = crate::timefmt::age(state.now.duration_since(d.at).unwrap_or_default());
        let style = if d.outcome.healthy_end() {
            ratatui::style::Style::new()
        } else {
            theme::warn(t)
        };
        lines.push(Line::from(vec![
            label("last op"),
            Span::styled(format!("{}: {} ({ago} ago)", d.what, d.outcome), style),
        ]));
        if let Some(detail) = d.detail.as_ref().filter(|_| !d.outcome.healthy_end()) {
            lines.push(Line::from(vec![
                label("why"),
                Span::styled(detail.clone(), theme::warn(t)),
            ]));
        }
    }
    let deps = model.graph.depends_on(name);
    let needed_by = model.graph.required_by(name);
    let breaks: Vec<String> = model
        .graph
        .dependents(name)
        .unwrap_or_default()
        .into_iter()
        .collect();
    lines.push(Line::from(vec![
        label("depends on"),
        Span::raw(or_none(&deps)),
    ]));
    lines.push(Line::from(vec![
        label("needed by"),
        Span::raw(or_none(&needed_by)),
    ]));
    lines.push(Line::from(vec![
        label("if down"),
        if breaks.is_empty() {
            Span::raw("nothing else breaks")
        } else {
            Span::styled(
                format!("breaks {}: {}", breaks.len(), breaks.join(", ")),
                theme::warn(t),
            )
        },
    ]));
    let impacted = model.health.impacted_by(&model.graph, name);
    if !impacted.is_empty() {
        lines.push(Line::from(vec![
            label("impacted"),
            Span::styled(
                format!("needs {} (not up)", impacted.join(", ")),
                theme::warn(t),
            ),
        ]));
    }
    let i = &svc.interface;
    if let Some(p) = &i.proxy {
        lines.push(Line::from(vec![
            label("proxy"),
            Span::raw(format!(
                "https://{}{} {} {}:{}{}{}",
                p.domain,
                p.path,
                if t.ascii { "->" } else { "→" },
                p.upstream.host,
                p.upstream.port,
                if p.tls { "" } else { " (no tls)" },
                if p.authz { " authz" } else { "" }
            )),
        ]));
    }
    if let Some(a) = &i.auth {
        lines.push(Line::from(vec![
            label("auth"),
            Span::raw(format!("{} via {}", a.kind, a.provider)),
        ]));
    }
    if let Some(db) = &i.db {
        lines.push(Line::from(vec![
            label("database"),
            Span::raw(format!(
                "{}{}{}",
                db.name,
                db.owner
                    .as_ref()
                    .map(|o| format!(" owner {o}"))
                    .unwrap_or_default(),
                if db.extensions.is_empty() {
                    String::new()
                } else {
                    format!(" +{}", db.extensions.join(","))
                }
            )),
        ]));
    }
    if let Some(h) = &i.health {
        lines.push(Line::from(vec![
            label("startup"),
            Span::raw(h.startup.clone()),
        ]));
        lines.push(Line::from(vec![
            label("liveness"),
            Span::raw(h.liveness.clone()),
        ]));
        lines.push(Line::from(vec![
            label("probe"),
            Span::raw(format!(
                "every {}s, timeout {}s, down after {} failures",
                h.interval, h.timeout, h.retries
            )),
        ]));
    } else {
        lines.push(Line::from(vec![
            label("health"),
            Span::styled("no health check in the manifest", theme::warn(t)),
        ]));
    }
    if !svc.ports.is_empty() {
        let ports: Vec<String> = svc.ports.iter().map(u16::to_string).collect();
        lines.push(Line::from(vec![
            label("ports"),
            Span::raw(ports.join(", ")),
        ]));
    }

    match model.previews.get(name) {
        Some(Ok(text)) => {
            lines.push(Line::styled("── generated by nixos/lib ──", theme::dim(t)));
            lines.extend(
                text.lines()
                    .filter(|l| !l.starts_with("# ") && !l.is_empty())
                    .map(|l| Line::raw(l.replace('\t', "  "))),
            );
        }
        Some(Err(why)) => lines.push(Line::styled(format!("nixos/lib: {why}"), theme::dim(t))),
        None => {}
    }

    let history: Vec<u64> = row
        .map(|r| {
            r.history
                .iter()
                .map(|p| (p.latency.as_micros() / 100).max(1) as u64)
                .collect()
        })
        .unwrap_or_default();
    let spark_h = if history.is_empty() || inner.height < 12 {
        0
    } else {
        3
    };
    let [text_area, spark_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(spark_h)]).areas(inner);
    // Rows as wrapped at this width (at least; word wrap may add a few),
    // so J stops with the last line still in view.
    let width = usize::from(text_area.width.max(1));
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(width).max(1)).sum();
    let shown = usize::from(text_area.height);
    let first = state.details.scroll.min(rows.saturating_sub(shown.max(1)));
    let block = match super::scroll_note(t, first, shown, rows) {
        Some(note) => block
            .title_bottom(Line::styled(note.replace("j/k", "J/K"), theme::dim(t)).right_aligned()),
        None => block,
    };
    frame.render_widget(block, area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((super::offset(first), 0)),
        text_area,
    );
    if spark_h > 0 {
        let width = spark_area.width as usize;
        let start = history.len().saturating_sub(width);
        let spark = Sparkline::default()
            .block(Block::default().title(Span::styled("probe latency", theme::dim(t))))
            .data(&history[start..])
            .style(theme::accent(t));
        let spark = if t.ascii {
            spark.bar_set(theme::ASCII_BARS)
        } else {
            spark
        };
        frame.render_widget(spark, spark_area);
    }
}

fn or_none(list: &[String]) -> String {
    if list.is_empty() {
        "-".into()
    } else {
        list.join(", ")
    }
}
