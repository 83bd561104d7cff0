//! What flows into `update` (events) and out of it (commands). Every
//! backend task sends its events into one bus of `Event`s (see `bus`).

use super::model::history::LastDeploy;
use crate::backend::deploy_preview::HostPreview;
use crate::backend::generations::Generation;
use crate::backend::health::HealthEvent;
use crate::backend::history::OpRecord;
use crate::backend::logs::{LogEvent, LogSource, MergedEvent};
pub use crate::backend::progress::{OpEvent, OpEventKind};
use crate::manifest::Manifest;
use crossterm::event::KeyEvent;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

#[derive(Debug, Clone)]
pub enum Event {
    Key(KeyEvent),
    Resize(u16, u16),
    Health(HealthEvent),
    Op(OpEvent),
    /// A log tail's event, tagged with the tail it came from.
    Log {
        tail: u64,
        event: LogEvent,
    },
    /// A merged log tail's event (several journals), tagged likewise.
    MergedLog {
        tail: u64,
        event: MergedEvent,
    },
    Generations {
        service: String,
        result: Result<Vec<Generation>, String>,
    },
    /// The audit log's last deploy/rollback per service (read at start).
    History(HashMap<String, LastDeploy>),
    /// What nixos/lib generates for a service (rendered), or why not.
    Preview {
        service: String,
        result: Result<String, String>,
    },
    /// The manifest file changed and was loaded again: valid (the new
    /// model), or everything wrong with it (the old model is kept).
    Manifest(Result<Arc<Manifest>, String>),
    /// The audit log grew: another console or admin may have changed hosts.
    AuditChanged(HashMap<String, LastDeploy>),
    /// A lock break asked for from the console ended: the holder broken
    /// (`None`: there was no lock), or why not (a live lock is refused).
    LockBroken {
        service: String,
        result: Result<Option<String>, String>,
    },
    /// The operations the audit log holds for a service (`None`: all),
    /// oldest first, or why they could not be read.
    OpHistory {
        service: Option<String>,
        result: Result<Vec<OpRecord>, String>,
    },
    /// A lab fault was injected (what the lab said), or why not.
    FaultDone {
        what: String,
        result: Result<String, String>,
    },
    /// The deploy dialog `id`'s preview, or why none could be made.
    DeployPreview {
        id: u64,
        result: Result<Vec<HostPreview>, String>,
    },
    /// Drift: what each host runs against what the manifest builds.
    Drift(std::collections::BTreeMap<String, crate::backend::deploy_preview::Change>),
    /// Clock tick: the spinner's while an operation is in flight, else
    /// once a second while an age is on screen.
    Tick(SystemTime),
}

impl From<HealthEvent> for Event {
    fn from(ev: HealthEvent) -> Self {
        Event::Health(ev)
    }
}

impl From<OpEvent> for Event {
    fn from(ev: OpEvent) -> Self {
        Event::Op(ev)
    }
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
    /// Build and compare what deploying `services` would do, for the deploy
    /// dialog `id` (nothing on a host changes).
    PreviewDeploy {
        id: u64,
        services: Vec<String>,
        with_dependents: bool,
    },
    /// Look for drift again (builds every system in the background).
    CheckDrift,
    /// Start log tail `tail` (its events carry that id).
    OpenLogs {
        tail: u64,
        service: String,
        host: String,
        unit: String,
    },
    /// Start log tail `tail` over several journals, merged by time.
    OpenMergedLogs {
        tail: u64,
        sources: Vec<LogSource>,
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
    /// Break `service`'s host lock if it is stale (the backend refuses a
    /// live one), recorded in the audit log as operation `op`.
    BreakLock {
        op: u64,
        service: String,
    },
    /// The model now follows a new manifest: operations from here on use a
    /// fleet built from it (and probes follow its services).
    ReopenFleet,
    /// Evaluate what nixos/lib generates for this service.
    LoadPreview(String),
    /// Suspend the console for an interactive shell on `host` (the
    /// service's), and come back when it ends.
    Shell {
        service: String,
        host: String,
    },
    /// Inject a lab fault (`nixmox lab fault KIND TARGET`).
    Fault {
        kind: String,
        target: String,
    },
    /// Read the operation history (of one service, or all).
    LoadHistory {
        service: Option<String>,
    },
    Quit,
}
