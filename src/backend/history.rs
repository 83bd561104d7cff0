//! Operations as the audit log tells them: who did what, when, and how
//! each host's part ended. Read by `nixmox history` and by reconciliation,
//! which looks for host parts that started and never ended.

use super::audit::Entry;
use super::outcome::OutcomeKind;
use serde::Serialize;
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::path::Path;

/// One operation (deploy, rollback, lock-break) from the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpRecord {
    pub op: u64,
    pub action: String,
    pub user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip)]
    pub pid_start: Option<u64>,
    /// The first and last record's time.
    pub started: String,
    pub last: String,
    /// `ended`, `interrupted` (a host's part was reconciled as such),
    /// `cancelled` (a cancel was requested), or `open` (a host's part has
    /// no end yet: still running, or its process died and nothing has
    /// reconciled it yet).
    pub state: String,
    /// Why a cancel was requested, if one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel: Option<String>,
    pub hosts: Vec<HostRecord>,
}

/// One host's part of an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostRecord {
    pub service: String,
    pub host: String,
    /// How it ended (`deployed`, `rolled back`, `failed`, `interrupted`,
    /// ...), `None` while it has no end.
    pub outcome: Option<String>,
    /// The last step recorded and its outcome (`activate started`).
    pub last_step: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_after: Option<String>,
    /// The host lock this part took and did not release (why), until a
    /// later contact released it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_left: Option<String>,
    #[serde(skip)]
    pub(crate) holds_lock: bool,
    #[serde(skip)]
    pub(crate) steps: Vec<(String, String)>,
    /// How the part ended, typed (`None` while it has no end).
    #[serde(skip)]
    pub kind: Option<OutcomeKind>,
}

impl HostRecord {
    /// Where an unended part stopped: the step it was in.
    pub fn interrupted_at(&self) -> String {
        let Some((step, outcome)) = self.steps.last() else {
            return "start".into();
        };
        if outcome == "started" {
            return step.clone();
        }
        let next = match (step.as_str(), outcome.as_str()) {
            ("lock", _) => "build",
            ("build", _) => "copy",
            ("copy", _) => "activate",
            ("activate", _) => "health",
            ("health", "failed") => "rollback",
            ("rollback" | "switch", _) => "health",
            ("cancel", _) => "the step after a cancel request",
            _ => "",
        };
        if next.is_empty() {
            format!("after {step} {outcome}")
        } else {
            next.into()
        }
    }
}

/// What went wrong in an operation besides its hosts' outcomes: audit
/// records that could not be written and host locks left behind. Front
/// ends show it in the summary and the JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OpTrouble {
    /// Why each failed audit write failed (empty: everything recorded).
    pub audit_errors: Vec<String>,
    /// (service, why) of each lock that could not be released.
    pub locks_left: Vec<(String, String)>,
}

impl OpTrouble {
    pub fn is_empty(&self) -> bool {
        self.audit_errors.is_empty() && self.locks_left.is_empty()
    }
}

/// Whether an entry ends a host's part of an operation.
fn ends_host_part(e: &Entry) -> bool {
    matches!(
        (e.step.as_str(), e.outcome.as_str()),
        ("done", _) | ("plan", _) | ("lock", "failed") | ("lock", "broken" | "no-lock" | "refused")
    )
}

/// Every operation in the audit log at `path`, oldest first; lines that are
/// not entries (a torn write) are skipped. A missing log has no history.
pub fn read(path: &Path) -> Result<Vec<OpRecord>, String> {
    let text = match std::fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let entries = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Entry>(l).ok());
    Ok(fold(entries))
}

/// Groups entries into operations (by op id and action; a `cancel` entry
/// belongs to the operation it names).
pub(crate) fn fold(entries: impl Iterator<Item = Entry>) -> Vec<OpRecord> {
    let mut ops: BTreeMap<(u64, String), OpRecord> = BTreeMap::new();
    let mut order: Vec<(u64, String)> = Vec::new();
    for e in entries {
        let key = (e.op, e.action.clone());
        let op = ops.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            OpRecord {
                op: e.op,
                action: e.action.clone(),
                user: e.user.clone(),
                pid: e.pid,
                pid_start: e.pid_start,
                started: e.ts.clone(),
                last: e.ts.clone(),
                state: String::new(),
                cancel: None,
                hosts: Vec::new(),
            }
        });
        op.last = e.ts.clone();
        let Some(service) = e.service.clone() else {
            continue;
        };
        let host = match op.hosts.iter().position(|h| h.service == service) {
            Some(i) => &mut op.hosts[i],
            None => {
                op.hosts.push(HostRecord {
                    service,
                    host: e.host.clone().unwrap_or_default(),
                    outcome: None,
                    last_step: String::new(),
                    detail: None,
                    generation_before: None,
                    generation_after: None,
                    lock_left: None,
                    holds_lock: false,
                    steps: Vec::new(),
                    kind: None,
                });
                let last = op.hosts.len() - 1;
                &mut op.hosts[last]
            }
        };
        match (e.step.as_str(), e.outcome.as_str()) {
            ("cancel", _) => op.cancel = e.detail.clone(),
            ("lock", "acquired") => host.holds_lock = true,
            ("lock", "released") => {
                host.holds_lock = false;
                host.lock_left = None;
            }
            ("lock", "left") => host.lock_left = e.detail.clone(),
            _ => {}
        }
        if e.generation_before.is_some() && host.generation_before.is_none() {
            host.generation_before = e.generation_before.clone();
        }
        if e.generation_after.is_some() {
            host.generation_after = e.generation_after.clone();
        }
        // Where a part stopped is told by its steps, not by its lock's
        // later life or a cancel request.
        if (e.step != "lock" && e.step != "cancel") || host.steps.is_empty() {
            host.steps.push((e.step.clone(), e.outcome.clone()));
        }
        host.last_step = format!("{} {}", e.step, e.outcome);
        if ends_host_part(&e) {
            host.outcome = Some(e.outcome.clone());
            host.detail = e.detail.clone();
            // Older logs have only the word; a lock refusal or a plan
            // error ends a part as failed.
            host.kind = Some(
                e.kind
                    .or_else(|| OutcomeKind::from_label(&e.outcome))
                    .unwrap_or(OutcomeKind::Failed),
            );
        }
    }
    order
        .into_iter()
        .filter_map(|k| ops.remove(&k))
        .map(|mut op| {
            op.state = if op.hosts.iter().any(|h| h.outcome.is_none()) {
                "open"
            } else if op
                .hosts
                .iter()
                .any(|h| h.outcome.as_deref() == Some("interrupted"))
            {
                "interrupted"
            } else if op.cancel.is_some() {
                "cancelled"
            } else {
                "ended"
            }
            .into();
            op
        })
        .collect()
}

/// The last deploy or rollback of each service that has ended: when (its
/// operation's last record), how, and what (`deploy caddy by alice@box`).
/// What the console shows as a service's last operation.
pub fn last_per_service(ops: &[OpRecord]) -> HashMap<String, LastEnd> {
    let mut out = HashMap::new();
    for op in ops
        .iter()
        .filter(|o| o.action == "deploy" || o.action == "rollback")
    {
        let Some(at) = crate::timefmt::parse_rfc3339(&op.last) else {
            continue;
        };
        for h in &op.hosts {
            let later = |old: &LastEnd| old.at <= at;
            if let (Some(kind), true) = (h.kind, out.get(&h.service).is_none_or(later)) {
                out.insert(
                    h.service.clone(),
                    LastEnd {
                        at,
                        kind,
                        what: format!("{} {} by {}", op.action, h.service, op.user),
                    },
                );
            }
        }
    }
    out
}

/// One service's last ended operation (see [`last_per_service`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastEnd {
    pub at: std::time::SystemTime,
    pub kind: OutcomeKind,
    pub what: String,
}

/// `history`'s lines: one per operation, then one per host.
pub fn render(ops: &[OpRecord]) -> Vec<String> {
    let clean = |s: &str| super::sanitize::text(s);
    let mut out = Vec::new();
    for op in ops {
        let services: Vec<&str> = op.hosts.iter().map(|h| h.service.as_str()).collect();
        out.push(format!(
            "{}  {} {} by {} (op {}){}: {}",
            op.started,
            clean(&op.action),
            services.join(", "),
            clean(&op.user),
            op.op,
            op.cancel
                .as_deref()
                .map(|c| format!(", cancel requested: {}", clean(c)))
                .unwrap_or_default(),
            op.state.to_uppercase(),
        ));
        for h in &op.hosts {
            let what = match &h.outcome {
                Some(o) => o.clone(),
                None => format!("no end yet (last: {})", h.last_step),
            };
            let mut line = format!("    {:<14} {:<15} {what}", h.service, h.host);
            if let Some(d) = h.detail.as_deref().filter(|_| h.outcome.is_some()) {
                line.push_str(&format!(": {}", clean(d)));
            }
            if let Some(l) = &h.lock_left {
                line.push_str(&format!(" [LOCK LEFT: {}]", clean(l)));
            }
            out.push(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(op: u64, service: &str, step: &str, outcome: &str) -> Entry {
        Entry {
            ts: format!("2026-11-30T12:00:0{op}.000Z"),
            user: "root@box".into(),
            op,
            action: "deploy".into(),
            service: Some(service.into()),
            host: Some("192.168.99.11".into()),
            step: step.into(),
            outcome: outcome.into(),
            duration_ms: None,
            generation_before: None,
            generation_after: None,
            detail: None,
            pid: Some(7),
            pid_start: Some(9),
            kind: None,
        }
    }

    #[test]
    fn the_last_end_of_each_service_counts_rollbacks_that_failed_early() {
        let mut rollback = e(3, "pg", "lock", "failed");
        rollback.action = "rollback".into();
        let mut unhealthy = e(4, "web", "done", "rolled back");
        unhealthy.action = "rollback".into();
        unhealthy.kind = Some(OutcomeKind::RolledBackUnhealthy);
        let ops = fold(
            [
                e(1, "pg", "done", "deployed"),
                e(2, "web", "done", "deployed"),
                rollback,
                unhealthy,
                e(5, "dns", "build", "started"),
            ]
            .into_iter(),
        );
        let last = last_per_service(&ops);
        assert_eq!(
            last["pg"].kind,
            OutcomeKind::Failed,
            "the refused rollback is the last word"
        );
        assert_eq!(last["pg"].what, "rollback pg by root@box");
        assert_eq!(last["web"].kind, OutcomeKind::RolledBackUnhealthy);
        assert!(!last.contains_key("dns"), "no end yet: nothing to show");
    }

    #[test]
    fn an_unended_part_is_open_and_says_where_it_stopped() {
        let ops = fold(
            [
                e(1, "pg", "lock", "acquired"),
                e(1, "pg", "build", "ok"),
                e(1, "pg", "activate", "started"),
                e(2, "pg", "lock", "acquired"),
                e(2, "pg", "activate", "ok"),
                e(3, "pg", "lock", "acquired"),
                e(3, "pg", "done", "deployed"),
                e(3, "pg", "lock", "left"),
            ]
            .into_iter(),
        );
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[0].state, "open");
        assert_eq!(ops[0].hosts[0].interrupted_at(), "activate");
        assert_eq!(ops[1].hosts[0].interrupted_at(), "health");
        assert_eq!(ops[2].state, "ended");
        assert_eq!(ops[2].hosts[0].outcome.as_deref(), Some("deployed"));
        assert!(ops[2].hosts[0].lock_left.is_none(), "no detail given");
        let lines = render(&ops);
        assert!(
            lines[1].contains("no end yet (last: activate started)"),
            "{lines:?}"
        );
    }
}
