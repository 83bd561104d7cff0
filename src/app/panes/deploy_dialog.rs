//! The deploy dialog: the plan, then each host's preview (changed or not,
//! reachable, locked, dependencies healthy) as it arrives, its warnings
//! above the question. The view draws these rows and the scroll keys count
//! them, so both agree on where the end is.

use super::super::keymap::word_wrap;
use crate::backend::deploy_preview::{to_deploy, HostPreview, LockView};
use crate::manifest::Manifest;
use std::collections::BTreeSet;

/// What a deploy would do, shown before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployPlan {
    pub services: Vec<String>,
    pub with_dependents: bool,
    pub waves: Vec<Vec<String>>,
}

impl DeployPlan {
    pub fn hosts(&self) -> usize {
        self.waves.iter().map(Vec::len).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preview {
    /// Building every planned system and looking at each host.
    Pending,
    Ready(Vec<HostPreview>),
    /// No preview could be made (the manifest on disk no longer plans).
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployDialog {
    /// Matches the preview's answer to the dialog that asked for it.
    pub id: u64,
    pub plan: DeployPlan,
    pub preview: Preview,
}

/// How a row is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Heading,
    /// Nothing to do there (an unchanged host skipped).
    Dim,
    Warn,
    Question,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub text: String,
    pub tone: Tone,
}

/// `text` broken between words into rows of `width`; continuation rows
/// keep the first row's indent.
fn rows(text: &str, width: usize, tone: Tone) -> impl Iterator<Item = Row> {
    let body = text.trim_start_matches(' ');
    let indent = " ".repeat(text.len() - body.len());
    word_wrap(body, width.saturating_sub(indent.len()).max(1))
        .into_iter()
        .map(move |row| Row {
            text: format!("{indent}{row}"),
            tone,
        })
}

/// Warnings pinned above the question (the rest are at the end of the
/// plan): enough to see that something is wrong without scrolling.
const PINNED_WARNING_ROWS: usize = 2;

impl DeployDialog {
    pub fn new(id: u64, plan: DeployPlan) -> Self {
        Self {
            id,
            plan,
            preview: Preview::Pending,
        }
    }

    fn previews(&self) -> Option<&[HostPreview]> {
        match &self.preview {
            Preview::Ready(p) => Some(p),
            Preview::Pending | Preview::Failed(_) => None,
        }
    }

    /// The hosts `y` deploys: `None` until the preview says.
    pub fn to_deploy(&self) -> Option<BTreeSet<String>> {
        self.previews().map(|p| to_deploy(p, false))
    }

    pub fn warnings(&self) -> Vec<String> {
        self.previews()
            .map(|p| p.iter().flat_map(HostPreview::warnings).collect())
            .unwrap_or_default()
    }

    /// The scrolled text: what is asked, the preview's summary, every wave
    /// with its hosts, what a deploy does, every warning.
    pub fn body(&self, manifest: &Manifest, width: usize, ascii: bool) -> Vec<Row> {
        let plan = &self.plan;
        let (arrow, warn) = glyphs(ascii);
        let mut out: Vec<Row> = Vec::new();
        let who = format!(
            "Deploy {} {}",
            plan.services.join(", "),
            if plan.with_dependents {
                "and everything that depends on it:"
            } else {
                "alone:"
            }
        );
        out.extend(rows(&who, width, Tone::Plain));
        out.extend(rows(
            &format!("{} host(s) in {} wave(s).", plan.hosts(), plan.waves.len()),
            width,
            Tone::Plain,
        ));
        let summary = match &self.preview {
            Preview::Pending => format!(
                "preview: building and comparing each host{}",
                if ascii { "..." } else { "…" }
            ),
            Preview::Failed(why) => format!("preview failed: {why}"),
            Preview::Ready(p) => {
                let go = to_deploy(p, false).len();
                let changed = p.iter().filter(|h| h.changed()).count();
                format!(
                    "preview: {changed} changed, {go} to deploy, {} unchanged skipped.",
                    p.len() - go
                )
            }
        };
        let tone = match self.preview {
            Preview::Failed(_) => Tone::Warn,
            _ => Tone::Plain,
        };
        out.extend(rows(&summary, width, tone));
        out.push(Row {
            text: String::new(),
            tone: Tone::Plain,
        });
        for (i, wave) in plan.waves.iter().enumerate() {
            out.extend(rows(
                &format!("wave {} ({} host(s)):", i + 1, wave.len()),
                width,
                Tone::Heading,
            ));
            for name in wave {
                let ip = manifest
                    .services
                    .get(name)
                    .map(|s| s.ip.to_string())
                    .unwrap_or_default();
                let found = self
                    .previews()
                    .and_then(|p| p.iter().find(|h| &h.service == name));
                let (text, tone) = match found {
                    None => (format!("  {name} {ip}"), Tone::Plain),
                    Some(h) => host_line(name, &ip, h),
                };
                out.extend(rows(&text, width, tone));
            }
        }
        out.push(Row {
            text: String::new(),
            tone: Tone::Plain,
        });
        out.extend(rows(
            &format!("Each host: build {arrow} copy {arrow} activate {arrow} gate;"),
            width,
            Tone::Plain,
        ));
        out.extend(rows(
            "a failed gate rolls that host back.",
            width,
            Tone::Plain,
        ));
        let warnings = self.warnings();
        if !warnings.is_empty() {
            out.push(Row {
                text: String::new(),
                tone: Tone::Plain,
            });
            for w in &warnings {
                out.extend(rows(&format!("{warn} {w}"), width, Tone::Warn));
            }
        }
        out
    }

    /// Rows that never scroll away: the first warning and the question.
    pub fn pinned(&self, width: usize, ascii: bool) -> Vec<Row> {
        let mut out = Vec::new();
        let (_, warn) = glyphs(ascii);
        let warnings = self.warnings();
        if let Some(first) = warnings.first() {
            let more = match warnings.len() {
                1 => String::new(),
                n => format!(" (+{} more at the end)", n - 1),
            };
            let mut shown: Vec<Row> =
                rows(&format!("{warn} {first}{more}"), width, Tone::Warn).collect();
            if shown.len() > PINNED_WARNING_ROWS {
                shown.truncate(PINNED_WARNING_ROWS);
                if let Some(last) = shown.last_mut() {
                    last.text.pop();
                    last.text.push(if ascii { '>' } else { '…' });
                }
            }
            out.extend(shown);
        }
        out.extend(rows(&self.question(), width, Tone::Question));
        out
    }

    /// What the keys do now (only keys the dialog takes).
    pub fn question(&self) -> String {
        let all = self.plan.hosts();
        match (&self.preview, self.to_deploy()) {
            (Preview::Pending, _) => format!("previewing: f deploy all {all} now, n cancel"),
            (Preview::Failed(_), _) => format!("f deploy all {all}, n cancel"),
            (_, Some(go)) if go.is_empty() => {
                "nothing changed: f deploy anyway, n cancel".to_string()
            }
            (_, Some(go)) if go.len() < all => {
                format!("y deploy {} host(s), f all {all}, n cancel", go.len())
            }
            _ => "y deploy, n cancel".to_string(),
        }
    }
}

/// (arrow, warning sign).
fn glyphs(ascii: bool) -> (&'static str, &'static str) {
    if ascii {
        ("->", "!")
    } else {
        ("→", "⚠")
    }
}

/// `  name ip  changed; LOCKED; deps DOWN: x`.
fn host_line(name: &str, ip: &str, h: &HostPreview) -> (String, Tone) {
    let mut text = format!("  {name} {ip}  {}", h.change_text(false));
    if !h.reachable {
        text.push_str("; UNREACHABLE");
    }
    if matches!(h.lock, LockView::Held { .. } | LockView::Foreign { .. }) {
        text.push_str(&format!("; {}", h.lock_text()));
    }
    if h.dependencies.iter().any(|d| d.healthy == Some(false)) {
        text.push_str(&format!("; deps {}", h.dependencies_text()));
    }
    let tone = if !h.warnings().is_empty() {
        Tone::Warn
    } else if h.skippable() {
        Tone::Dim
    } else {
        Tone::Plain
    };
    (text, tone)
}
