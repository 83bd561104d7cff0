//! What flows into `update` (events) and out of it (commands).

use crate::backend::health::HealthEvent;
use crate::backend::logs::LogEvent;
pub use crate::backend::progress::{OpEvent, OpEventKind};
use crossterm::event::KeyEvent;
use std::time::SystemTime;

#[derive(Debug, Clone)]
pub enum Event {
    Key(KeyEvent),
    Resize(u16, u16),
    Health(HealthEvent),
    Op(OpEvent),
    Log(LogEvent),
    Generations {
        service: String,
        result: Result<Vec<crate::backend::generations::Generation>, String>,
    },
    /// The audit log's last deploy/rollback per service (read at start).
    History(std::collections::HashMap<String, super::state::LastDeploy>),
    /// What nixos/lib generates for a service (rendered), or why not.
    Generated {
        service: String,
        result: Result<String, String>,
    },
    /// Spinner tick: sent only while an operation is in flight.
    Tick(SystemTime),
}

/// Work for the backend; `update` never does IO itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Probe now: one service, or all.
    Reprobe(Option<String>),
    Deploy {
        op: u64,
        services: Vec<String>,
        with_dependents: bool,
    },
    Cancel(u64),
    OpenLogs {
        service: String,
        host: String,
        unit: String,
    },
    CloseLogs,
    /// List a service's generations (for the rollback wizard).
    ListGenerations {
        service: String,
    },
    Rollback {
        op: u64,
        service: String,
        from: u64,
        to: u64,
    },
    /// Evaluate what nixos/lib generates for this service.
    Generate(String),
    Quit,
}
