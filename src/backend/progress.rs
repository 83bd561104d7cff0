//! Progress of a background operation, as it streams to the console or CLI.

use super::outcome::{Outcome, Step};
use std::time::SystemTime;

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
    /// One host's part ended.
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
