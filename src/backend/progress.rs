//! Progress of a background operation, as it streams to the console or CLI.

use std::time::SystemTime;

/// Progress of a background operation (deploy, rollback, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpEvent {
    pub id: u64,
    pub at: SystemTime,
    pub kind: OpEventKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpEventKind {
    Started { title: String },
    Step { host: Option<String>, step: String },
    Line { line: String },
    Finished { ok: bool, summary: String },
}
