//! An operation this console started (deploy, rollback), as its progress
//! events tell it: title, current step, streamed output and how it ended.

use crate::backend::outcome::{Outcome, OutcomeKind};
use crate::backend::progress::OpEventKind;
use std::collections::VecDeque;
use std::time::SystemTime;

/// Lines of streamed output kept per operation.
pub const OP_OUTPUT_LINES: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub id: u64,
    pub title: String,
    pub started: SystemTime,
    pub step: String,
    pub finished: Option<(SystemTime, bool, String)>,
    pub output: VecDeque<String>,
    /// How each host ended, in the order they ended (the verdict is
    /// composed from these, not from the backend's summary text).
    pub outcomes: Vec<(String, Outcome)>,
}

impl Operation {
    /// An operation known only by its first event's time, before it is applied.
    pub fn new(id: u64, started: SystemTime) -> Self {
        Self {
            id,
            title: String::new(),
            started,
            step: "starting".into(),
            finished: None,
            output: VecDeque::new(),
            outcomes: Vec::new(),
        }
    }

    pub fn running(&self) -> bool {
        self.finished.is_none()
    }

    pub fn apply(&mut self, at: SystemTime, kind: &OpEventKind) {
        match kind {
            OpEventKind::Started { title } => self.title = title.clone(),
            OpEventKind::Step { host, step } => {
                self.step = match host {
                    Some(h) => format!("{h}: {step}"),
                    None => step.to_string(),
                };
                self.push(format!("== {}", self.step));
            }
            OpEventKind::HostDone { service, outcome } => {
                self.step = format!("{service}: {}", outcome.kind());
                self.push(format!("== {service}: {}", explain(outcome)));
                self.outcomes.push((service.clone(), outcome.clone()));
            }
            OpEventKind::Line { line } | OpEventKind::Notice { line } => self.push(line.clone()),
            OpEventKind::Finished { ok, summary } => {
                // The backend's summary only when no host reported (the
                // operation stopped before any host's part began).
                let verdict = self.verdict().unwrap_or_else(|| summary.clone());
                self.finished = Some((at, *ok, verdict.clone()));
                self.push(verdict);
            }
        }
    }

    fn push(&mut self, line: String) {
        if self.output.len() == OP_OUTPUT_LINES {
            self.output.pop_front();
        }
        self.output.push_back(line);
    }
}

/// One host's ending in words, with its step and reason where it failed.
pub fn explain(outcome: &Outcome) -> String {
    let gen = |g: &Option<u64>| g.map_or("?".to_string(), |g| format!("g{g}"));
    match outcome {
        Outcome::Deployed {
            generation_before,
            generation_after,
        } => format!(
            "deployed ({} → {})",
            gen(generation_before),
            gen(generation_after)
        ),
        Outcome::Unchanged { generation } => format!("unchanged (runs {})", gen(generation)),
        Outcome::RolledBack {
            reason,
            to_generation,
            healthy_again,
            health_error,
        } => {
            let health = if *healthy_again {
                "healthy".to_string()
            } else {
                format!(
                    "NOT healthy: {}",
                    health_error.as_deref().unwrap_or("health check fails")
                )
            };
            format!(
                "rolled back to {} ({health}) because {reason}",
                gen(to_generation)
            )
        }
        Outcome::RollbackFailed {
            reason,
            error,
            profile_generation,
            running_generation,
        } => format!(
            "ROLLBACK FAILED: {error}; profile on {}, running {} (rolling back because {reason})",
            gen(profile_generation),
            gen(running_generation)
        ),
        Outcome::Failed { step, reason, .. } => format!("failed at {step}: {reason}"),
        Outcome::Skipped { because } => format!("skipped: {} did not deploy", because.join(", ")),
        Outcome::Cancelled { after: Some(step) } => format!("cancelled after {step}"),
        Outcome::Cancelled { after: None } => "cancelled before it began".into(),
        Outcome::Interrupted { found } => format!("interrupted; found {found}"),
    }
}

impl Operation {
    /// What happened, counted by how hosts ended, in the order of what
    /// matters most: `1 rolled back (healthy), 2 deployed`, `cancelled
    /// after build`. `None` before any host has ended.
    pub fn verdict(&self) -> Option<String> {
        if self.outcomes.is_empty() {
            return None;
        }
        let count = |k: OutcomeKind| self.outcomes.iter().filter(|(_, o)| o.kind() == k).count();
        let mut parts = Vec::new();
        for (kind, words) in [
            (OutcomeKind::RollbackFailed, "rollback FAILED"),
            (
                OutcomeKind::RolledBackUnhealthy,
                "rolled back (NOT healthy)",
            ),
            (OutcomeKind::Failed, "failed"),
            (OutcomeKind::Interrupted, "interrupted"),
            (OutcomeKind::RolledBack, "rolled back (healthy)"),
            (OutcomeKind::Skipped, "skipped"),
            (OutcomeKind::Deployed, "deployed"),
            (OutcomeKind::Unchanged, "unchanged"),
        ] {
            match count(kind) {
                0 => {}
                n => parts.push(format!("{n} {words}")),
            }
        }
        // Cancelled hosts: say after which step, when they agree.
        let cancelled: Vec<&Outcome> = self
            .outcomes
            .iter()
            .map(|(_, o)| o)
            .filter(|o| o.kind() == OutcomeKind::Cancelled)
            .collect();
        if let Some(first) = cancelled.first() {
            let same = cancelled.iter().all(|o| o == first);
            let words = match (same, first) {
                (true, Outcome::Cancelled { after: Some(step) }) => {
                    format!("cancelled after {step}")
                }
                (true, _) => "cancelled before it began".to_string(),
                (false, _) => "cancelled".to_string(),
            };
            parts.push(
                if cancelled.len() == self.outcomes.len() && cancelled.len() == 1 {
                    words
                } else {
                    format!("{} {words}", cancelled.len())
                },
            );
        }
        Some(parts.join(", "))
    }

    /// The failure of `service` in this operation, with its step and reason.
    pub fn failure_of(&self, service: &str) -> Option<&Outcome> {
        self.outcomes
            .iter()
            .rev()
            .find(|(s, o)| s == service && !o.kind().healthy_end())
            .map(|(_, o)| o)
    }
}
