//! Switching a host to a generation and verifying it: the one switch that
//! both a requested rollback and deploy's automatic rollback after a failed
//! health gate go through, so both audit and report it the same way.
//! Front ends start rollbacks through [`super::fleet::Fleet::rollback`].

use super::gate::health_gate;
use super::generations::Generation;
use super::op_context::{HostState, OpContext};
use super::outcome::{HostResult, Outcome, Step};
use super::remote::{run_detached, Detached};
use crate::manifest::Service;
use std::time::Instant;

/// Picks the target: `to`, or the newest present generation older than the
/// current. Refuses clearly when there is none, or `to` does not exist or
/// is dangling (its store path is gone: switching to it cannot work).
pub(crate) fn choose(
    gens: &[Generation],
    to: Option<u64>,
    host: &str,
) -> Result<(u64, u64), String> {
    let current = gens
        .iter()
        .find(|g| g.current)
        .map(|g| g.generation)
        .ok_or_else(|| format!("{host}: no current generation in the system profile"))?;
    let target = match to {
        Some(n) => {
            let Some(g) = gens.iter().find(|g| g.generation == n) else {
                let have: Vec<String> = gens.iter().map(|g| g.generation.to_string()).collect();
                return Err(format!(
                    "{host}: generation {n} does not exist (have: {})",
                    have.join(", ")
                ));
            };
            if n == current {
                return Err(format!("{host}: generation {n} is already the current one"));
            }
            if !g.present {
                return Err(format!(
                    "{host}: generation {n} is dangling (its store path {} is gone); refusing to switch to it",
                    g.path
                ));
            }
            n
        }
        None => gens
            .iter()
            .filter(|g| g.generation < current && g.present)
            .map(|g| g.generation)
            .max()
            .ok_or_else(|| {
                if gens.iter().any(|g| g.generation < current) {
                    format!("{host}: every generation older than {current} is dangling (store path gone); nothing to roll back to")
                } else {
                    format!("{host}: generation {current} is the oldest there is; nothing older to roll back to")
                }
            })?,
    };
    Ok((current, target))
}

/// What a failed switch left: the error with the host's state appended.
fn failed(reason: String, error: String, state: Option<HostState>) -> Outcome {
    let error = match &state {
        Some(st) => format!("{error}; {}", st.describe()),
        None => error,
    };
    Outcome::RollbackFailed {
        reason,
        error,
        profile_generation: state.and_then(|s| s.profile),
        running_generation: state.and_then(|s| s.running),
    }
}

/// Switches `svc`'s host to generation `to` and verifies it: runs the
/// `switch_generation` template detached on the host, reads back the
/// profile's current generation, that its store path exists and what the
/// host runs, and (only when all three are `to`) runs the health gate.
/// Audited as `step` (deploy's automatic `rollback`, or a requested
/// `switch`) then `health`. `reason` says why it was switched. A switch
/// that exits non-zero, leaves the profile or what runs elsewhere, or
/// cannot be read back is a `RollbackFailed`, never a success.
pub(super) async fn switch_and_verify(
    ctx: &OpContext,
    svc: &Service,
    ip: &str,
    from: Option<u64>,
    to: u64,
    step: Step,
    reason: String,
) -> Outcome {
    let name = svc.name.as_str();
    let (gen, before) = (to.to_string(), from.map(|n| n.to_string()));
    ctx.progress.step(name, step);
    let t = Instant::now();
    ctx.audit(svc, step.as_str(), "started", |a| {
        a.generation_before = before.clone();
        a.generation_after = Some(gen.clone());
    });
    let profile = ctx.profile().to_string();
    let switched = match ctx.templates.render(
        "switch_generation",
        &ctx.vars_for(svc, ip, &[("generation", &gen), ("profile", &profile)]),
    ) {
        Err(e) => Err(e),
        Ok(argv) => {
            let detached = Detached {
                state_dir: ctx.state_dir(),
                op_base: ctx.op_base(svc),
                step: step.as_str(),
                argv: &argv,
                supervise: None,
                detach: ctx.detach(),
            };
            match run_detached(&ctx.pool, ip, &detached, ctx.timeouts.switch, |l| {
                ctx.progress.line(Some(name), &l)
            })
            .await
            {
                Ok(f) if f.code == 0 => Ok(()),
                Ok(f) if f.tail.is_empty() => Err(format!("the switch exited {}", f.code)),
                Ok(f) => Err(format!(
                    "the switch exited {}: {}",
                    f.code,
                    f.tail.join(" / ")
                )),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    // Truth: where the profile is and what runs now, whatever the switch said.
    let read_back = ctx.host_state(svc, ip).await;
    let state = read_back.as_ref().ok().copied();
    let verdict = match (switched, &read_back) {
        (Err(e), _) => Err(e),
        (Ok(()), Ok(st)) if st.is_on(to) => Ok(()),
        (Ok(()), Ok(_)) => Err(format!("the switch exited 0 but the host is not on generation {to}")),
        (Ok(()), Err(e)) => Err(format!(
            "the switch exited 0, but reading the host back failed ({e}); host state unknown until it answers"
        )),
    };
    ctx.audit(
        svc,
        step.as_str(),
        if verdict.is_ok() { "ok" } else { "failed" },
        |a| {
            a.duration_ms = Some(t.elapsed().as_millis() as u64);
            a.generation_before = before.clone();
            a.generation_after = state.and_then(|s| s.profile).map(|n| n.to_string());
            a.detail = match (&verdict, &state) {
                (Err(e), Some(st)) => Some(format!("{e}; {}", st.describe())),
                (Err(e), None) => Some(e.clone()),
                (Ok(()), _) => None,
            };
        },
    );
    if let Err(error) = verdict {
        let outcome = failed(reason, error, state);
        if let Outcome::RollbackFailed { error, .. } = &outcome {
            ctx.progress.line(
                Some(name),
                &format!("switching to generation {to} failed: {error}"),
            );
        }
        return outcome;
    }
    verified_health(ctx, svc, ip, to, reason).await
}

/// The host was verified on `to`: check its health again.
async fn verified_health(
    ctx: &OpContext,
    svc: &Service,
    ip: &str,
    to: u64,
    reason: String,
) -> Outcome {
    let name = svc.name.as_str();
    ctx.progress.step(name, Step::Health);
    let t = Instant::now();
    let health = health_gate(&ctx.pool, svc, ip, ctx.gate).await;
    ctx.audit(
        svc,
        "health",
        if health.is_ok() { "ok" } else { "failed" },
        |a| {
            a.duration_ms = Some(t.elapsed().as_millis() as u64);
            a.generation_after = Some(to.to_string());
            a.detail = health.clone().err();
        },
    );
    if let Err(e) = &health {
        ctx.progress
            .line(Some(name), &format!("not healthy on generation {to}: {e}"));
    }
    Outcome::RolledBack {
        reason,
        to_generation: Some(to),
        healthy_again: health.is_ok(),
        health_error: health.err(),
    }
}

/// The host's supervisor says it switched back to `to` (or failed to):
/// verify that on the host and check health, as after any switch.
pub(super) async fn verify_host_revert(
    ctx: &OpContext,
    svc: &Service,
    ip: &str,
    to: u64,
    verdict: Result<String, String>,
) -> Outcome {
    let read_back = ctx.host_state(svc, ip).await;
    let state = read_back.as_ref().ok().copied();
    let (outcome, detail) = match (&verdict, &read_back) {
        (Ok(why), Ok(st)) if st.is_on(to) => (None, format!("reverted: {why}")),
        (Ok(why), Ok(_)) => (
            Some(format!("the host says it switched back ({why}) but it is not on generation {to}")),
            format!("reverted: {why}"),
        ),
        (Ok(why), Err(e)) => (
            Some(format!(
                "the host says it switched back ({why}); reading it back failed ({e}); host state unknown until it answers"
            )),
            format!("reverted: {why}"),
        ),
        (Err(why), _) => (
            Some(format!("the host could not switch back: {why}")),
            format!("revert-failed: {why}"),
        ),
    };
    ctx.audit(
        svc,
        "host-rollback",
        if outcome.is_none() { "ok" } else { "failed" },
        |a| {
            a.generation_after = state.and_then(|s| s.profile).map(|n| n.to_string());
            a.detail = Some(match &state {
                Some(st) => format!("{detail}; {}", st.describe()),
                None => detail.clone(),
            });
        },
    );
    let reason = format!(
        "rolled back by the host: {}",
        match &verdict {
            Ok(why) | Err(why) => why,
        }
    );
    match outcome {
        Some(error) => {
            let outcome = failed(reason, error, state);
            if let Outcome::RollbackFailed { error, .. } = &outcome {
                ctx.progress
                    .line(Some(&svc.name), &format!("rollback failed: {error}"));
            }
            outcome
        }
        None => {
            ctx.progress.line(Some(&svc.name), &reason);
            verified_health(ctx, svc, ip, to, reason).await
        }
    }
}

/// What a rollback does when the host changed between the operator's
/// confirmation and the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnChange {
    /// Switch nothing; the outcome is `Failed` at [`Step::Plan`] saying
    /// what changed, so the front end shows it and asks again.
    Refuse,
    /// Go on (the operator said `--yes`), saying so.
    Proceed,
}

/// A requested rollback of `svc` from `from` (as the operator saw it) to
/// `to`: under the host's lock, re-read the generations, switch, verify.
pub(super) async fn rollback(
    ctx: &OpContext,
    svc: &Service,
    from: u64,
    to: u64,
    on_change: OnChange,
) -> HostResult {
    let started = Instant::now();
    ctx.progress
        .started(format!("rollback {} to gen {to}", svc.name));
    let ip = svc.ip.to_string();
    let outcome = match ctx.lock(svc, &ip).await {
        Err(e) => Outcome::Failed {
            step: Step::Lock,
            reason: e.to_string(),
            output: Vec::new(),
        },
        Ok(lock) => {
            let outcome = rollback_locked(ctx, svc, &ip, (from, to), on_change).await;
            lock.release().await;
            outcome
        }
    };
    let (label, detail) = (outcome.label(), format!("{outcome:?}"));
    ctx.audit(svc, "done", label, |a| {
        a.detail = Some(detail);
        a.kind = Some(outcome.kind());
    });
    ctx.progress.host_done(&svc.name, &outcome);
    ctx.progress.finished(
        outcome.kind() == super::outcome::OutcomeKind::RolledBack,
        summary(&svc.name, to, &outcome),
    );
    HostResult {
        service: svc.name.clone(),
        host: ip,
        outcome,
        seconds: started.elapsed().as_secs_f64(),
    }
}

async fn rollback_locked(
    ctx: &OpContext,
    svc: &Service,
    ip: &str,
    (from, to): (u64, u64),
    on_change: OnChange,
) -> Outcome {
    // The host may have changed since the operator chose: decide again on
    // what it holds now that nobody else can change it.
    ctx.progress.step(&svc.name, Step::Generations);
    let gens = match ctx.generations(svc, ip).await {
        Ok(g) => g,
        Err(e) => {
            return Outcome::Failed {
                step: Step::Generations,
                reason: e,
                output: Vec::new(),
            }
        }
    };
    let current = match choose(&gens, Some(to), &format!("{} ({ip})", svc.name)) {
        Ok((current, _)) => current,
        Err(e) => {
            return Outcome::Failed {
                step: Step::Generations,
                reason: e,
                output: Vec::new(),
            }
        }
    };
    if current != from {
        let changed = format!(
            "{} ({ip}) changed since the rollback was confirmed: its profile is on generation {current} now (was {from})",
            svc.name
        );
        ctx.audit(svc, "plan", "changed", |a| a.detail = Some(changed.clone()));
        match on_change {
            OnChange::Refuse => {
                return Outcome::Failed {
                    step: Step::Plan,
                    reason: format!("{changed}; nothing was switched"),
                    output: Vec::new(),
                }
            }
            OnChange::Proceed => ctx.progress.line(
                Some(&svc.name),
                &format!("{changed}; proceeding to generation {to} as confirmed (--yes)"),
            ),
        }
    }
    if ctx.cancelled() {
        return Outcome::Cancelled {
            after: Some(Step::Generations),
        };
    }
    switch_and_verify(
        ctx,
        svc,
        ip,
        Some(current),
        to,
        Step::Switch,
        "requested".into(),
    )
    .await
}

/// The rollback's last line.
fn summary(service: &str, to: u64, outcome: &Outcome) -> String {
    match outcome {
        Outcome::RolledBack {
            healthy_again: true,
            to_generation,
            ..
        } => format!(
            "{service} on generation {}, healthy",
            to_generation.unwrap_or(to)
        ),
        Outcome::RolledBack {
            to_generation,
            health_error,
            ..
        } => format!(
            "{service} on generation {}: switched, but health is not restored: {}",
            to_generation.map_or("unknown".into(), |g| g.to_string()),
            health_error.as_deref().unwrap_or("unknown")
        ),
        Outcome::RollbackFailed { error, .. } => {
            format!("{service}: switching to generation {to} failed: {error}")
        }
        Outcome::Failed { reason, .. } => reason.clone(),
        Outcome::Cancelled { .. } => format!("{service}: cancelled before the switch"),
        other => format!("{service}: {}", other.label()),
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
            running: current,
            present: true,
        }
    }

    fn dangling_only() -> Generation {
        Generation {
            present: false,
            ..g(1, false)
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
        // Dangling generations are shown, never chosen, refused when named.
        let dangling = Generation {
            present: false,
            ..g(2, false)
        };
        let gens = [g(1, false), dangling, g(3, true)];
        assert_eq!(choose(&gens, None, "h").unwrap(), (3, 1));
        assert!(choose(&gens, Some(2), "h")
            .unwrap_err()
            .contains("generation 2 is dangling"));
        assert!(choose(&[dangling_only(), g(2, true)], None, "h")
            .unwrap_err()
            .contains("dangling"));
    }
}
