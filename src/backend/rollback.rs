//! Switching a host back to an earlier generation, then checking health.

use super::audit::Audit;
use super::deploy::health_gate;
use super::exec::Templates;
use super::generations::{self, Generation};
use super::lock::{Holder, Lock};
use super::outcome::{Outcome, Step};
use super::progress::{OpEvent, OpEventKind};
use super::remote::run_detached;
use super::ssh::SshPool;
use crate::manifest::Service;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc;

/// Picks the target: `to`, or the newest generation older than the current.
/// Refuses clearly when there is none, or `to` does not exist.
pub fn choose(gens: &[Generation], to: Option<u64>, host: &str) -> Result<(u64, u64), String> {
    let current = gens
        .iter()
        .find(|g| g.current)
        .map(|g| g.generation)
        .ok_or_else(|| format!("{host}: no current generation in the system profile"))?;
    let target = match to {
        Some(n) => {
            if !gens.iter().any(|g| g.generation == n) {
                let have: Vec<String> = gens.iter().map(|g| g.generation.to_string()).collect();
                return Err(format!(
                    "{host}: generation {n} does not exist (have: {})",
                    have.join(", ")
                ));
            }
            if n == current {
                return Err(format!("{host}: generation {n} is already the current one"));
            }
            n
        }
        None => gens
            .iter()
            .filter(|g| g.generation < current)
            .map(|g| g.generation)
            .max()
            .ok_or_else(|| {
                format!("{host}: generation {current} is the oldest there is; nothing older to roll back to")
            })?,
    };
    Ok((current, target))
}

/// Appends one audit step: (step, outcome, detail, duration ms).
type Recorder<'a> =
    dyn Fn(&str, &str, Option<String>, Option<u64>) -> Result<(), String> + Sync + 'a;

pub struct Rollback<'a> {
    pub pool: Arc<SshPool>,
    pub templates: &'a Templates,
    pub profile: &'a str,
    pub lock_dir: &'a str,
    pub audit: &'a Audit,
    pub op: u64,
    pub events: mpsc::UnboundedSender<OpEvent>,
    pub break_lock: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RollbackResult {
    pub from: u64,
    pub to: u64,
    pub switched: bool,
    pub healthy: bool,
    pub detail: String,
}

impl Rollback<'_> {
    fn emit(&self, kind: OpEventKind) {
        let _ = self.events.send(OpEvent {
            id: self.op,
            at: SystemTime::now(),
            kind,
        });
    }

    pub async fn run(&self, svc: &Service, from: u64, to: u64) -> Result<RollbackResult, String> {
        let ip = svc.ip.to_string();
        self.emit(OpEventKind::Started {
            title: format!("rollback {} to gen {to}", svc.name),
        });
        let mut entry = self.audit.entry(self.op, "rollback", "lock", "started");
        entry.service = Some(svc.name.clone());
        entry.host = Some(ip.clone());
        entry.generation_before = Some(from.to_string());
        entry.generation_after = Some(to.to_string());
        let record = |step: &str, outcome: &str, detail: Option<String>, ms: Option<u64>| {
            let mut e = entry.clone();
            e.ts = crate::timefmt::rfc3339(SystemTime::now());
            e.step = step.into();
            e.outcome = outcome.into();
            e.detail = detail;
            e.duration_ms = ms;
            self.audit
                .record(&e)
                .map_err(|err| format!("audit log: {err}"))
        };
        let holder = Holder {
            user: self.audit.user().to_string(),
            pid: std::process::id(),
            op: self.op.to_string(),
            action: format!("rollback {}", svc.name),
            since: crate::timefmt::rfc3339(SystemTime::now()),
        };
        self.emit(OpEventKind::Step {
            host: Some(svc.name.clone()),
            step: Step::Lock,
        });
        let lock = match Lock::acquire(
            self.pool.clone(),
            &ip,
            self.lock_dir,
            holder,
            self.break_lock,
        )
        .await
        {
            Ok(l) => l,
            Err(e) => {
                record("lock", "failed", Some(e.to_string()), None)?;
                self.emit(OpEventKind::Finished {
                    ok: false,
                    summary: e.to_string(),
                });
                return Err(e.to_string());
            }
        };
        let result = self.switch(svc, &ip, from, to, &record).await;
        lock.release().await;
        self.emit(OpEventKind::HostDone {
            service: svc.name.clone(),
            outcome: outcome_of(&result, to),
        });
        let (ok, summary) = match &result {
            Ok(r) if r.healthy => (true, format!("{} on generation {to}, healthy", svc.name)),
            Ok(r) => (
                false,
                format!("{} on generation {to}: {}", svc.name, r.detail),
            ),
            Err(e) => (false, e.clone()),
        };
        self.emit(OpEventKind::Finished { ok, summary });
        result
    }

    async fn switch(
        &self,
        svc: &Service,
        ip: &str,
        from: u64,
        to: u64,
        record: &Recorder<'_>,
    ) -> Result<RollbackResult, String> {
        self.emit(OpEventKind::Step {
            host: Some(svc.name.clone()),
            step: Step::Switch,
        });
        let t = Instant::now();
        record("switch", "started", None, None)?;
        let gen = to.to_string();
        let argv = self.templates.render(
            "switch_generation",
            &[
                ("generation", &gen),
                ("profile", self.profile),
                ("name", &svc.name),
                ("ip", ip),
            ],
        )?;
        let base = format!("/tmp/nixmox-{}-{}-rollback", self.op, svc.name);
        let events = self.events.clone();
        let op = self.op;
        let name = svc.name.clone();
        let done = run_detached(
            &self.pool,
            ip,
            &base,
            &argv,
            Duration::from_secs(600),
            |l| {
                let _ = events.send(OpEvent {
                    id: op,
                    at: SystemTime::now(),
                    kind: OpEventKind::Line {
                        line: format!("{name}| {l}"),
                    },
                });
            },
        )
        .await;
        let ms = Some(t.elapsed().as_millis() as u64);
        let switched = match &done {
            Ok(f) if f.code == 0 => true,
            Ok(f) => {
                record(
                    "switch",
                    "failed",
                    Some(format!("exited {}: {}", f.code, f.tail.join(" / "))),
                    ms,
                )?;
                false
            }
            Err(e) => {
                record("switch", "failed", Some(e.clone()), ms)?;
                return Err(format!("{}: switching failed: {e}", svc.name));
            }
        };
        if switched {
            record("switch", "ok", None, ms)?;
        }
        let now = generations::list(&self.pool, self.templates, ip, self.profile)
            .await
            .ok()
            .and_then(|g| g.into_iter().find(|g| g.current))
            .map(|g| g.generation);
        self.emit(OpEventKind::Step {
            host: Some(svc.name.clone()),
            step: Step::Health,
        });
        let t = Instant::now();
        let health = health_gate(self.pool.as_ref(), svc, ip).await;
        record(
            "health",
            if health.is_ok() { "ok" } else { "failed" },
            health.clone().err(),
            Some(t.elapsed().as_millis() as u64),
        )?;
        Ok(RollbackResult {
            from,
            to: now.unwrap_or(to),
            switched,
            healthy: health.is_ok(),
            detail: match (&health, switched) {
                (Ok(()), _) => "healthy".into(),
                (Err(e), true) => format!("switched, but health is not restored: {e}"),
                (Err(e), false) => format!("switch-to-configuration failed; health: {e}"),
            },
        })
    }
}

/// The typed outcome of a manual rollback's result.
pub fn outcome_of(result: &Result<RollbackResult, String>, to: u64) -> Outcome {
    match result {
        Ok(r) if r.switched => Outcome::RolledBack {
            reason: "requested".into(),
            to_generation: Some(r.to),
            healthy_again: r.healthy,
        },
        Ok(r) => Outcome::RollbackFailed {
            reason: format!("switch to generation {to} requested"),
            error: r.detail.clone(),
            profile_generation: Some(r.to),
        },
        Err(e) => Outcome::Failed {
            step: Step::Switch,
            reason: e.clone(),
            output: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(n: u64, current: bool) -> Generation {
        Generation {
            generation: n,
            date: "2026-11-25 19:00:00".into(),
            current,
            path: format!("/nix/store/{n}"),
        }
    }

    #[test]
    fn chooses_previous_and_refuses_clearly() {
        assert_eq!(
            choose(&[g(1, false), g(2, false), g(3, true)], None, "h").unwrap(),
            (3, 2)
        );
        assert_eq!(
            choose(&[g(1, false), g(2, false), g(3, true)], Some(1), "h").unwrap(),
            (3, 1)
        );
        assert!(choose(&[g(1, true)], None, "h")
            .unwrap_err()
            .contains("oldest"));
        assert!(choose(&[g(1, false), g(2, true)], Some(7), "h")
            .unwrap_err()
            .contains("does not exist (have: 1, 2)"));
        assert!(choose(&[g(1, false), g(2, true)], Some(2), "h")
            .unwrap_err()
            .contains("already the current"));
    }
}
