//! Switching a host to a generation and verifying it: the one switch that
//! both a requested rollback and deploy's automatic rollback after a failed
//! health gate go through, so both audit and report it the same way.
//! Front ends start rollbacks through [`super::fleet::Fleet::rollback`].

use super::gate::health_gate;
use super::generations::Generation;
use super::op_context::OpContext;
use super::outcome::{HostResult, Outcome, Step};
use super::remote::run_detached;
use crate::manifest::Service;
use std::time::Instant;

/// Picks the target: `to`, or the newest generation older than the current.
/// Refuses clearly when there is none, or `to` does not exist.
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

/// Switches `svc`'s host to generation `to` and verifies it: runs the
/// `switch_generation` template detached on the host, reads back the
/// profile's current generation, and (after a switch that exited 0) runs the
/// health gate. Audited as `step` (deploy's automatic `rollback`, or a
/// requested `switch`) then `health`. `reason` says why it was switched.
/// A switch that exits non-zero, or leaves the profile elsewhere, is a
/// `RollbackFailed`, never a success.
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
            let base = format!("/tmp/nixmox-{}-{}-{}", ctx.id(), name, step);
            match run_detached(&ctx.pool, ip, &base, &argv, ctx.step_timeout, |l| {
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
                Err(e) => Err(e),
            }
        }
    };
    // Truth: where the profile is now, whatever the switch said.
    let read_back = ctx.current_generation(svc, ip).await;
    let profile_generation = read_back.as_ref().ok().copied().flatten();
    let verdict = match (switched, &read_back) {
        (Err(e), _) => Err(e),
        (Ok(()), Ok(Some(n))) if *n != to => Err(format!(
            "the switch exited 0 but the profile is on generation {n}, not {to}"
        )),
        (Ok(()), Ok(None)) => Err("the profile has no current generation after the switch".into()),
        // Read back as `to`, or the host did not answer the read-back (the
        // outcome then carries no generation: not verified).
        (Ok(()), _) => Ok(()),
    };
    ctx.audit(
        svc,
        step.as_str(),
        if verdict.is_ok() { "ok" } else { "failed" },
        |a| {
            a.duration_ms = Some(t.elapsed().as_millis() as u64);
            a.generation_before = before.clone();
            a.generation_after = profile_generation.map(|n| n.to_string());
            a.detail = match (&verdict, &read_back) {
                (Err(e), _) => Some(e.clone()),
                (Ok(()), Err(e)) => Some(format!("switched; reading the profile back failed: {e}")),
                (Ok(()), Ok(_)) => None,
            };
        },
    );
    if let Err(error) = verdict {
        ctx.progress.line(
            Some(name),
            &format!("switching to generation {to} failed: {error}"),
        );
        return Outcome::RollbackFailed {
            reason,
            error,
            profile_generation,
        };
    }
    ctx.progress.step(name, Step::Health);
    let t = Instant::now();
    let health = health_gate(&ctx.pool, svc, ip).await;
    ctx.audit(
        svc,
        "health",
        if health.is_ok() { "ok" } else { "failed" },
        |a| {
            a.duration_ms = Some(t.elapsed().as_millis() as u64);
            a.generation_after = profile_generation.map(|n| n.to_string());
            a.detail = health.clone().err();
        },
    );
    if let Err(e) = &health {
        ctx.progress
            .line(Some(name), &format!("not healthy on generation {to}: {e}"));
    }
    Outcome::RolledBack {
        reason,
        to_generation: profile_generation,
        healthy_again: health.is_ok(),
        health_error: health.err(),
    }
}

/// A requested rollback of `svc` from `from` (as the operator saw it) to
/// `to`: under the host's lock, re-read the generations, switch, verify.
pub(super) async fn rollback(ctx: &OpContext, svc: &Service, from: u64, to: u64) -> HostResult {
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
            let outcome = rollback_locked(ctx, svc, &ip, from, to).await;
            lock.release().await;
            outcome
        }
    };
    let (label, detail) = (outcome.label(), format!("{outcome:?}"));
    ctx.audit(svc, "done", label, |a| a.detail = Some(detail));
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

async fn rollback_locked(ctx: &OpContext, svc: &Service, ip: &str, from: u64, to: u64) -> Outcome {
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
        ctx.progress.line(
            Some(&svc.name),
            &format!("the host is on generation {current} now (was {from} when chosen)"),
        );
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
