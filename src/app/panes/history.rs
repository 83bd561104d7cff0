//! The history popup (`h`/`H`): operations from the audit log, newest
//! first, one row per operation and one per host part; enter opens an
//! operation's steps. Rows are built here so the keys (which keep the
//! selection in view) and the view count the same rows.

use crate::backend::history::{HostRecord, OpRecord};
use crate::backend::sanitize;

/// The operations of one service (or all), as loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryView {
    /// `None`: every service.
    pub service: Option<String>,
    /// Newest first; `None` while loading, `Err` when the log is unreadable.
    pub ops: Option<Result<Vec<OpRecord>, String>>,
    pub selected: usize,
    pub scroll: usize,
}

/// One row of the list, and the operation it belongs to (its index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub op: usize,
    pub header: bool,
    pub text: String,
}

impl HistoryView {
    pub fn new(service: Option<String>) -> Self {
        Self {
            service,
            ops: None,
            selected: 0,
            scroll: 0,
        }
    }

    /// The loaded operations, oldest first as the log has them, shown
    /// newest first.
    pub fn loaded(&mut self, result: Result<Vec<OpRecord>, String>) {
        self.ops = Some(result.map(|mut ops| {
            ops.reverse();
            ops
        }));
        self.selected = 0;
        self.scroll = 0;
    }

    pub fn records(&self) -> &[OpRecord] {
        match &self.ops {
            Some(Ok(ops)) => ops,
            _ => &[],
        }
    }

    pub fn selected_record(&self) -> Option<&OpRecord> {
        self.records().get(self.selected)
    }

    pub fn title(&self) -> String {
        match &self.service {
            Some(s) => format!(" history: {s} "),
            None => " history: all services ".into(),
        }
    }

    /// Every row, in order (a note when there is nothing to list).
    pub fn rows(&self) -> Vec<Row> {
        let note = |text: String| {
            vec![Row {
                op: 0,
                header: false,
                text,
            }]
        };
        match &self.ops {
            None => return note("reading the audit log…".into()),
            Some(Err(e)) => {
                return note(format!("cannot read the audit log: {}", sanitize::text(e)))
            }
            Some(Ok(ops)) if ops.is_empty() => {
                return note("no operations recorded yet".into());
            }
            Some(Ok(_)) => {}
        }
        let mut rows = Vec::new();
        for (i, op) in self.records().iter().enumerate() {
            rows.push(Row {
                op: i,
                header: true,
                text: op_line(op),
            });
            rows.extend(op.hosts.iter().map(|h| Row {
                op: i,
                header: false,
                text: format!("  {}", host_line(h)),
            }));
        }
        rows
    }

    /// Moves the selection and keeps the selected operation's rows in view
    /// (`visible` rows are shown).
    pub fn select(&mut self, to: usize, visible: usize) {
        let n = self.records().len();
        if n == 0 {
            return;
        }
        self.selected = to.min(n - 1);
        let rows = self.rows();
        let Some(first) = rows.iter().position(|r| r.op == self.selected) else {
            return;
        };
        let last = rows
            .iter()
            .rposition(|r| r.op == self.selected)
            .unwrap_or(first);
        let visible = visible.max(1);
        if last >= self.scroll + visible {
            self.scroll = last + 1 - visible;
        }
        // The header wins over the last host row when both do not fit.
        if first < self.scroll || last + 1 - first > visible {
            self.scroll = first;
        }
        self.scroll = self.scroll.min(rows.len().saturating_sub(visible));
    }
}

/// When, what, on which services, by whom, and how it stands; an
/// operation whose host part never ended is marked.
fn op_line(op: &OpRecord) -> String {
    let services: Vec<&str> = op.hosts.iter().map(|h| h.service.as_str()).collect();
    let state = match op.state.as_str() {
        "ended" => String::new(),
        "interrupted" => "  INTERRUPTED".into(),
        "open" => "  OPEN (running, or died unreconciled)".into(),
        other => format!("  {}", other.to_uppercase()),
    };
    sanitize::text(&format!(
        "{}  {} {} by {} (op {}){state}",
        short_time(&op.started),
        op.action,
        services.join(", "),
        op.user,
        op.op,
    ))
}

/// `2026-11-30T12:51:25.123+00:00` → `2026-11-30 12:51:25`.
fn short_time(ts: &str) -> String {
    let t: String = ts.chars().take(19).collect();
    t.replacen('T', " ", 1)
}

fn host_line(h: &HostRecord) -> String {
    sanitize::text(&format!("{:<12} {}", h.service, outcome_text(h)))
}

/// How a host part ended (or where it stopped), and the generations.
fn outcome_text(h: &HostRecord) -> String {
    let outcome = match &h.outcome {
        Some(o) => o.clone(),
        None => format!("no end (stopped in {})", h.interrupted_at()),
    };
    let gens = match (&h.generation_before, &h.generation_after) {
        (Some(b), Some(a)) if b != a => format!("  gen {b}→{a}"),
        (_, Some(a)) => format!("  gen {a}"),
        _ => String::new(),
    };
    format!("{outcome}{gens}")
}

/// An operation's steps, per host part, as rows: the audit entries it is
/// made of (step and outcome), then how the part ended and why.
pub fn steps_rows(op: &OpRecord) -> Vec<String> {
    let mut rows = vec![op_line(op)];
    if let Some(c) = &op.cancel {
        rows.push(sanitize::text(&format!("cancel requested: {c}")));
    }
    for h in &op.hosts {
        rows.push(String::new());
        rows.push(sanitize::text(&format!("{} ({})", h.service, h.host)));
        rows.extend(
            h.steps
                .iter()
                .map(|(step, outcome)| sanitize::text(&format!("  {step:<10} {outcome}"))),
        );
        rows.push(sanitize::text(&format!("  → {}", outcome_text(h))));
        if let Some(d) = &h.detail {
            rows.push(sanitize::text(&format!("    {d}")));
        }
        if let Some(l) = &h.lock_left {
            rows.push(sanitize::text(&format!("  LOCK LEFT: {l}")));
        }
    }
    rows
}
