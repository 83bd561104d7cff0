//! The health board: one row per service, updated only from
//! `HealthEvent`s. Shared by `nixmox status` and the console.

use crate::backend::health::{HealthEvent, ProbeKind, ProbeResult, ServiceState, Target};
use crate::manifest::DepGraph;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::time::SystemTime;

/// Probe results kept per service (the details pane's sparkline).
pub const HISTORY: usize = 64;

#[derive(Debug, Clone)]
pub struct Row {
    pub service: String,
    pub host: String,
    pub has_health: bool,
    /// Failures in a row that mean Down (the manifest's `retries`).
    pub retries: u32,
    /// What the board shows: the scheduler's state, or Failing while the
    /// last probes failed fewer than `retries` times.
    pub state: ServiceState,
    pub since: Option<SystemTime>,
    pub reason: Option<String>,
    /// The scheduler's own state (it changes only at a verdict), its start
    /// and reason: what the row shows again when a probe passes.
    pub reported: (ServiceState, Option<SystemTime>, Option<String>),
    pub host_reachable: Option<bool>,
    pub history: VecDeque<ProbeResult>,
}

impl Row {
    pub fn last_probe(&self) -> Option<&ProbeResult> {
        self.history.back()
    }

    /// Failed probes since the last pass (what `failing n/retries` counts).
    pub fn failures(&self) -> usize {
        self.history.iter().rev().take_while(|p| !p.ok).count()
    }

    /// The state as words: `failing 1/3` says how close to Down it is.
    pub fn state_text(&self) -> String {
        match self.state {
            ServiceState::Failing => format!("failing {}/{}", self.failures(), self.retries),
            st => st.as_str().to_string(),
        }
    }

    /// Not up, so what depends on it may misbehave (the impact `!`).
    pub fn hurts_dependents(&self) -> bool {
        matches!(
            self.state,
            ServiceState::Failing | ServiceState::Down | ServiceState::Unreachable
        )
    }

    /// A probe result's effect on what the row shows: a failure short of
    /// `retries` is Failing from the first one (the scheduler says Down
    /// only at the last); a pass ends Failing.
    fn follow_probe(&mut self, p: &ProbeResult) {
        let verdict = self.reported.0 == ServiceState::Down;
        if !p.ok && !verdict && self.failures() < self.retries.max(1) as usize {
            if self.state != ServiceState::Failing {
                self.since = Some(p.at);
            }
            self.state = ServiceState::Failing;
            let what = match p.kind {
                ProbeKind::Startup => "startup probe",
                ProbeKind::Liveness => "liveness probe",
            };
            let code = p.code.map_or("killed".to_string(), |c| format!("exit {c}"));
            self.reason = Some(match p.tail.last() {
                Some(line) => format!("{what} failed ({code}): {line}"),
                None => format!("{what} failed ({code})"),
            });
        } else if p.ok && self.state == ServiceState::Failing {
            (self.state, self.since, self.reason) = self.reported.clone();
        }
    }

    /// A verdict has been reached (what a one-shot sweep waits for).
    pub fn settled(&self) -> bool {
        match self.state {
            ServiceState::Up | ServiceState::Down | ServiceState::Unreachable => true,
            ServiceState::Unknown => !self.has_health && self.since.is_some(),
            ServiceState::Starting | ServiceState::Failing => false,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct HealthBoard {
    pub rows: BTreeMap<String, Row>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusLine {
    pub service: String,
    pub host: String,
    pub state: ServiceState,
    pub latency_ms: Option<f64>,
    pub since: Option<String>,
    pub checked_at: Option<String>,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    /// Dependencies (transitive) that are not up: why this one may misbehave.
    pub impacted_by: Vec<String>,
}

impl HealthBoard {
    pub fn new(targets: &[Target]) -> Self {
        let rows = targets
            .iter()
            .map(|t| {
                (
                    t.service.clone(),
                    Row {
                        service: t.service.clone(),
                        host: t.host.clone(),
                        has_health: t.health.is_some(),
                        retries: t.health.as_ref().map_or(0, |h| h.retries),
                        state: ServiceState::Unknown,
                        since: None,
                        reason: None,
                        reported: (ServiceState::Unknown, None, None),
                        host_reachable: None,
                        history: VecDeque::new(),
                    },
                )
            })
            .collect();
        Self { rows }
    }

    /// Applies one event; true when anything visible changed.
    pub fn apply(&mut self, ev: &HealthEvent) -> bool {
        match ev {
            HealthEvent::Probe(p) => {
                let Some(row) = self.rows.get_mut(&p.service) else {
                    return false;
                };
                if row.history.len() == HISTORY {
                    row.history.pop_front();
                }
                row.history.push_back(p.clone());
                row.follow_probe(p);
                true
            }
            HealthEvent::State {
                service,
                state,
                since,
                reason,
            } => {
                let Some(row) = self.rows.get_mut(service) else {
                    return false;
                };
                row.reported = (*state, Some(*since), reason.clone());
                // "Starting" after a failed probe is that probe failing: the
                // row stays Failing until a verdict.
                let failing = row.state == ServiceState::Failing
                    && matches!(state, ServiceState::Starting | ServiceState::Up);
                if !failing {
                    row.state = *state;
                    row.since = Some(*since);
                    row.reason = reason.clone();
                }
                true
            }
            HealthEvent::Host {
                host, reachable, ..
            } => {
                let mut changed = false;
                for row in self.rows.values_mut().filter(|r| &r.host == host) {
                    changed |= row.host_reachable != Some(*reachable);
                    row.host_reachable = Some(*reachable);
                }
                changed
            }
        }
    }

    pub fn settled(&self) -> bool {
        self.rows.values().all(Row::settled)
    }

    /// Every service's state as the board shows it.
    pub fn states(&self) -> std::collections::BTreeMap<String, ServiceState> {
        self.rows
            .iter()
            .map(|(name, row)| (name.clone(), row.state))
            .collect()
    }

    pub fn all_up(&self) -> bool {
        self.rows.values().all(|r| r.state == ServiceState::Up)
    }

    pub fn count(&self, state: ServiceState) -> usize {
        self.rows.values().filter(|r| r.state == state).count()
    }

    /// The transitive dependencies of `service` that are failing, down or
    /// unreachable.
    pub fn impacted_by(&self, graph: &DepGraph, service: &str) -> Vec<String> {
        graph
            .dependencies(service)
            .unwrap_or_default()
            .into_iter()
            .filter(|d| self.rows.get(d).is_some_and(Row::hurts_dependents))
            .collect()
    }

    /// Every service with a dependency (transitively) failing, down or unreachable,
    /// in one pass over the graph rather than one search per service.
    pub fn impacted(&self, graph: &DepGraph) -> std::collections::HashSet<String> {
        let mut out = std::collections::HashSet::new();
        for r in self.rows.values() {
            if r.hurts_dependents() && !out.contains(&r.service) {
                out.extend(graph.dependents(&r.service).unwrap_or_default());
            }
        }
        out
    }

    pub fn lines(&self, graph: &DepGraph) -> Vec<StatusLine> {
        self.rows
            .values()
            .map(|r| {
                let last = r.last_probe();
                StatusLine {
                    service: r.service.clone(),
                    host: r.host.clone(),
                    state: r.state,
                    latency_ms: last.map(|p| (p.latency.as_secs_f64() * 10_000.0).round() / 10.0),
                    since: r.since.map(crate::timefmt::rfc3339),
                    checked_at: last.map(|p| crate::timefmt::rfc3339(p.at)),
                    exit_code: last.and_then(|p| p.code),
                    error: if r.state == ServiceState::Up {
                        None
                    } else {
                        r.reason.clone()
                    },
                    impacted_by: self.impacted_by(graph, &r.service),
                }
            })
            .collect()
    }
}
