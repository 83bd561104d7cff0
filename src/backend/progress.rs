//! Progress of a background operation, as it streams to the console or CLI.

use super::outcome::{Outcome, Step};
use std::time::SystemTime;
use tokio::sync::mpsc;

/// Progress of a background operation (deploy, rollback, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct OpEvent {
    pub id: u64,
    pub at: SystemTime,
    pub kind: OpEventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OpEventKind {
    Started {
        title: String,
    },
    /// A host (or the whole operation, `host: None`) began a step.
    Step {
        host: Option<String>,
        step: Step,
    },
    /// A line of output, already prefixed with the host it came from.
    Line {
        line: String,
    },
    /// A line about the operation itself that every front end shows, even
    /// when it hides output (wave headers, audit trouble).
    Notice {
        line: String,
    },
    /// One host's part ended. Every host an operation was asked to touch
    /// gets exactly one, skipped and cancelled ones included.
    HostDone {
        service: String,
        outcome: Outcome,
    },
    /// The whole operation ended; `summary` is for display only.
    Finished {
        ok: bool,
        summary: String,
    },
}

/// Where one operation's events go: its id and the front end's channel.
/// A front end that stopped listening never stops the operation.
#[derive(Debug, Clone)]
pub struct Reporter {
    op: u64,
    tx: mpsc::UnboundedSender<OpEvent>,
}

impl Reporter {
    pub fn new(op: u64, tx: mpsc::UnboundedSender<OpEvent>) -> Self {
        Self { op, tx }
    }

    /// A reporter whose events go nowhere: for work whose caller shows
    /// only the result (a preview, a look for drift).
    pub fn quiet(op: u64) -> Self {
        let (tx, _) = mpsc::unbounded_channel();
        Self { op, tx }
    }

    pub fn op(&self) -> u64 {
        self.op
    }

    fn send(&self, kind: OpEventKind) {
        let _ = self.tx.send(OpEvent {
            id: self.op,
            at: SystemTime::now(),
            kind,
        });
    }

    pub fn started(&self, title: impl Into<String>) {
        self.send(OpEventKind::Started {
            title: title.into(),
        });
    }

    pub fn step(&self, host: &str, step: Step) {
        self.send(OpEventKind::Step {
            host: Some(host.to_string()),
            step,
        });
    }

    /// A line of output from `host` (prefixed `host| `), or about the whole
    /// operation. Most of it comes from hosts or builders, so it is
    /// sanitised here, once, for every front end.
    /// A line every front end shows (see [`OpEventKind::Notice`]).
    pub fn notice(&self, line: &str) {
        self.send(OpEventKind::Notice {
            line: super::sanitize::text(line),
        });
    }

    pub fn line(&self, host: Option<&str>, line: &str) {
        let line = super::sanitize::text(line);
        self.send(OpEventKind::Line {
            line: match host {
                Some(h) => format!("{h}| {line}"),
                None => line,
            },
        });
    }

    pub fn host_done(&self, service: &str, outcome: &Outcome) {
        self.send(OpEventKind::HostDone {
            service: service.to_string(),
            outcome: outcome.clone(),
        });
    }

    pub fn finished(&self, ok: bool, summary: impl Into<String>) {
        self.send(OpEventKind::Finished {
            ok,
            summary: summary.into(),
        });
    }
}
