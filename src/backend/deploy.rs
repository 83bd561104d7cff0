//! Deploys in dependency waves. Per host: lock → build → copy → activate
//! (detached on the host, under a host-side supervisor that switches back
//! unless confirmed) → verify (profile, store path, what runs) → health gate
//! (the manifest's startup probe with its retries and timeout) → confirm.
//! A failed gate switches that host back to the generation it had and
//! checks health again (deploy-rs's magic rollback, judged by the
//! manifest's own health check); a host the deployer cannot reach switches
//! back by itself, and its verdict is read when it answers. A failure stops
//! the failed service's dependents; unrelated services go on. Cancelling
//! interrupts a local step (build, copy: their process group is killed) and
//! otherwise stops after the current step, so every host stays on a whole
//! generation. Every local step has a timeout.
//! Front ends start deploys through [`super::fleet::Fleet::deploy`].

use super::bounded_lines::BoundedLines;
use super::gate::health_gate;
use super::op_context::OpContext;
use super::outcome::Step;
pub(crate) use super::outcome::{HostResult, Outcome};
use super::remote::{
    await_verdict, confirm, run_detached, Confirmation, Detached, StepError, Supervision, Verdict,
};
use super::sanitize;
use crate::manifest::{DepGraph, Manifest, Service};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::Command;
use tokio::sync::Semaphore;

/// Deploys `waves` (from the graph), at most `parallel` hosts at once.
pub(super) async fn deploy(
    ctx: Arc<OpContext>,
    manifest: &Manifest,
    graph: &DepGraph,
    waves: Vec<Vec<String>>,
    parallel: usize,
) -> Vec<HostResult> {
    let all: Vec<String> = waves.iter().flatten().cloned().collect();
    ctx.progress.started(format!("deploy {}", summarize(&all)));
    let mut results: BTreeMap<String, HostResult> = BTreeMap::new();
    let sem = Arc::new(Semaphore::new(parallel.max(1)));
    for (i, wave) in waves.iter().enumerate() {
        ctx.progress.notice(&format!(
            "== wave {}/{}: {}",
            i + 1,
            waves.len(),
            wave.join(", ")
        ));
        let mut tasks = Vec::new();
        for name in wave {
            let Some(svc) = manifest.services.get(name).cloned() else {
                continue;
            };
            // What this one needs that did not deploy cleanly in this run.
            let blocked: Vec<String> = graph
                .dependencies(name)
                .unwrap_or_default()
                .into_iter()
                .filter(|d| results.get(d).is_some_and(|r| !r.outcome.ok()))
                .collect();
            if !blocked.is_empty() || ctx.cancelled() {
                let (outcome, word) = if ctx.cancelled() {
                    (Outcome::Cancelled { after: None }, "cancelled")
                } else {
                    (Outcome::Skipped { because: blocked }, "skipped")
                };
                ctx.audit(&svc, "plan", word, |e| {
                    e.detail = Some(format!("{outcome:?}"))
                });
                ctx.progress.host_done(name, &outcome);
                results.insert(
                    name.clone(),
                    HostResult {
                        service: name.clone(),
                        host: svc.ip.to_string(),
                        outcome,
                        seconds: 0.0,
                    },
                );
                continue;
            }
            let ctx = ctx.clone();
            let sem = sem.clone();
            let (service, host) = (svc.name.clone(), svc.ip.to_string());
            tasks.push((
                service,
                host,
                tokio::spawn(async move {
                    // The semaphore is never closed, so acquiring cannot fail.
                    let _permit = sem.acquire_owned().await.ok();
                    let started = Instant::now();
                    let outcome = deploy_host(&ctx, &svc).await;
                    // Reported as each host ends, not in wave order.
                    ctx.progress.host_done(&svc.name, &outcome);
                    HostResult {
                        service: svc.name.clone(),
                        host: svc.ip.to_string(),
                        outcome,
                        seconds: started.elapsed().as_secs_f64(),
                    }
                }),
            ));
        }
        for (service, host, t) in tasks {
            let r = match t.await {
                Ok(r) => r,
                // A bug, not a host's answer: never counted as success.
                Err(e) => {
                    let outcome = Outcome::Failed {
                        step: Step::Plan,
                        reason: format!(
                            "internal error: the task deploying this host ended abnormally ({e}); its state was not verified"
                        ),
                        output: Vec::new(),
                    };
                    ctx.progress.host_done(&service, &outcome);
                    HostResult {
                        service,
                        host,
                        outcome,
                        seconds: 0.0,
                    }
                }
            };
            results.insert(r.service.clone(), r);
        }
    }
    let list: Vec<HostResult> = all.iter().filter_map(|n| results.remove(n)).collect();
    let ok = list.iter().all(|r| r.outcome.ok());
    ctx.progress
        .finished(ok, super::outcome::summary_line(&list));
    list
}

fn summarize(names: &[String]) -> String {
    match names.len() {
        0 => "nothing".into(),
        1..=3 => names.join(", "),
        n => format!("{}, … ({n} hosts)", names[..2].join(", ")),
    }
}

async fn deploy_host(ctx: &OpContext, svc: &Service) -> Outcome {
    let ip = svc.ip.to_string();
    let lock = match ctx.lock(svc, &ip).await {
        Ok(l) => l,
        Err(e) => {
            return Outcome::Failed {
                step: Step::Lock,
                reason: e.to_string(),
                output: Vec::new(),
            }
        }
    };
    let outcome = deploy_locked(ctx, svc, &ip).await;
    lock.release().await;
    let (label, detail) = (outcome.label(), format!("{outcome:?}"));
    ctx.audit(svc, "done", label, |a| {
        a.detail = Some(detail);
        a.kind = Some(outcome.kind());
    });
    outcome
}

async fn deploy_locked(ctx: &OpContext, svc: &Service, ip: &str) -> Outcome {
    let fail = |step: Step, reason: String, output: Vec<String>| Outcome::Failed {
        step,
        reason,
        output,
    };
    let name = svc.name.as_str();
    // Where the host is now, read under the lock: the generation to come
    // back to. A host whose profile and running system disagree, or whose
    // current generation is dangling, is not a place to come back to.
    ctx.progress.step(name, Step::Generations);
    let before = match ctx.host_state(svc, ip).await {
        Ok(st) => st,
        Err(e) => return fail(Step::Generations, e, Vec::new()),
    };
    let before_no = before.profile;
    let back_to = before_no.filter(|n| before.is_on(*n));
    if before_no.is_some() && back_to.is_none() {
        ctx.progress.line(
            Some(name),
            &format!(
                "warning: the host is not on a whole generation before the deploy ({}); nothing to roll back to",
                before.describe()
            ),
        );
    }

    // Build.
    if ctx.cancelled() {
        return Outcome::Cancelled {
            after: Some(Step::Generations),
        };
    }
    ctx.progress.step(name, Step::Build);
    let t = Instant::now();
    ctx.audit(svc, "build", "started", |_| {});
    let path = match build(ctx, svc, ip).await {
        Ok(p) => p,
        Err(LocalError::Cancelled) => {
            ctx.audit(svc, "build", "cancelled", |_| {});
            return Outcome::Cancelled {
                after: Some(Step::Generations),
            };
        }
        Err(LocalError::Failed(reason, out)) => {
            ctx.audit(svc, "build", "failed", |a| a.detail = Some(reason.clone()));
            return fail(Step::Build, reason, out);
        }
    };
    ctx.audit(svc, "build", "ok", |a| {
        a.duration_ms = Some(t.elapsed().as_millis() as u64);
        a.detail = Some(path.clone());
    });

    // Copy.
    if ctx.cancelled() {
        return Outcome::Cancelled {
            after: Some(Step::Build),
        };
    }
    ctx.progress.step(name, Step::Copy);
    let t = Instant::now();
    let argv = match ctx
        .templates
        .render("copy", &ctx.vars_for(svc, ip, &[("path", &path)]))
    {
        Ok(a) => a,
        Err(e) => return fail(Step::Copy, e, Vec::new()),
    };
    match local(ctx, name, &argv, ctx.timeouts.copy).await {
        Ok(_) => {}
        Err(LocalError::Cancelled) => {
            ctx.audit(svc, "copy", "cancelled", |_| {});
            return Outcome::Cancelled {
                after: Some(Step::Build),
            };
        }
        Err(LocalError::Failed(reason, out)) => {
            ctx.audit(svc, "copy", "failed", |a| a.detail = Some(reason.clone()));
            return fail(Step::Copy, reason, out);
        }
    }
    ctx.audit(svc, "copy", "ok", |a| {
        a.duration_ms = Some(t.elapsed().as_millis() as u64)
    });

    // Activate, detached on the host, under its supervisor.
    if ctx.cancelled() {
        return Outcome::Cancelled {
            after: Some(Step::Copy),
        };
    }
    activate_and_gate(ctx, svc, ip, &path, before_no, back_to).await
}

/// Activation, its verification, the health gate, and the confirmation or
/// the rollback. From here on the host may change: every outcome says what
/// was read back.
async fn activate_and_gate(
    ctx: &OpContext,
    svc: &Service,
    ip: &str,
    path: &str,
    before_no: Option<u64>,
    back_to: Option<u64>,
) -> Outcome {
    let fail = |step: Step, reason: String| Outcome::Failed {
        step,
        reason,
        output: Vec::new(),
    };
    let name = svc.name.as_str();
    ctx.progress.step(name, Step::Activate);
    let t = Instant::now();
    ctx.audit(svc, "activate", "started", |a| {
        a.generation_before = before_no.map(|n| n.to_string());
        a.detail = Some(path.to_string());
    });
    let profile = ctx.profile().to_string();
    let argv = match ctx.templates.render(
        "activate",
        &ctx.vars_for(svc, ip, &[("path", path), ("profile", &profile)]),
    ) {
        Ok(a) => a,
        Err(e) => return fail(Step::Activate, e),
    };
    let supervise = match supervision(ctx, svc, ip, back_to) {
        Ok(s) => s,
        Err(e) => return fail(Step::Activate, e),
    };
    let supervised = supervise.is_some();
    let confirm_timeout = ctx.confirm_timeout;
    let detached = Detached {
        state_dir: ctx.state_dir(),
        op_base: ctx.op_base(svc),
        step: Step::Activate.as_str(),
        argv: &argv,
        supervise,
        detach: ctx.detach(),
    };
    let op_path = detached.op_path();
    let activated = run_detached(&ctx.pool, ip, &detached, ctx.timeouts.activate, |l| {
        ctx.progress.line(Some(name), &l)
    })
    .await;
    // When the supervisor gives up waiting (plus the time a switch back
    // may take): past this, the host's state is unknown until it answers.
    let guard = Guard {
        op_path: &op_path,
        back_to: back_to.filter(|_| supervised),
        deadline: Instant::now()
            + Duration::from_secs(confirm_timeout)
            + ctx.timeouts.switch.min(Duration::from_secs(120)),
    };
    let activation_error = match activated {
        Err(StepError::NotStarted(e)) => {
            ctx.audit(svc, "activate", "failed", |a| a.detail = Some(e.clone()));
            return fail(Step::Activate, format!("could not start: {e}"));
        }
        Err(StepError::LostContact(e)) => {
            ctx.audit(svc, "activate", "lost", |a| a.detail = Some(e.clone()));
            return host_decides(ctx, svc, ip, &guard, Step::Activate).await;
        }
        Err(StepError::TimedOut(e)) => Some(e),
        Ok(f) if f.code != 0 => Some(format!("switch-to-configuration exited {}", f.code)),
        Ok(_) => None,
    };
    // Truth: what the profile points at and what runs, whatever the
    // activation said.
    let after = ctx.host_state_at(svc, ip, path).await;
    let after_no = after.as_ref().ok().and_then(|(s, _)| s.profile);
    let activation_error = match (activation_error, &after) {
        (Some(e), Ok((st, _))) => Some(format!("{e}; {}", st.describe())),
        (Some(e), Err(_)) => Some(e),
        // On the activated system, whole (the same system again makes no
        // new generation: the profile stays where it was).
        (None, Ok((st, true))) if st.profile.is_some_and(|n| st.is_on(n)) => None,
        (None, Ok((st, _))) => Some(format!(
            "the activation exited 0 but the host is not on the activated system: {}",
            st.describe()
        )),
        (None, Err(e)) => Some(format!(
            "reading the host back after the activation failed: {e}"
        )),
    };
    ctx.audit(
        svc,
        "activate",
        if activation_error.is_none() {
            "ok"
        } else {
            "failed"
        },
        |a| {
            a.duration_ms = Some(t.elapsed().as_millis() as u64);
            a.generation_before = before_no.map(|n| n.to_string());
            a.generation_after = after_no.map(|n| n.to_string());
            a.detail = activation_error.clone();
        },
    );

    // Health gate. Not interrupted by a cancel: once activated, the host
    // ends on a whole, judged generation (confirmed or switched back).
    ctx.progress.step(name, Step::Health);
    let t = Instant::now();
    let gate = match activation_error {
        Some(e) => Err(e),
        None => health_gate(&ctx.pool, svc, ip, ctx.gate).await,
    };
    if let Ok(()) = gate {
        ctx.audit(svc, "health", "ok", |a| {
            a.duration_ms = Some(t.elapsed().as_millis() as u64);
            a.generation_after = after_no.map(|n| n.to_string());
        });
        if !supervised {
            return Outcome::Deployed {
                generation_before: before_no,
                generation_after: after_no,
            };
        }
        return match confirm(&ctx.pool, ip, &op_path, "confirmed").await {
            Ok(Confirmation::Won) => {
                ctx.audit(svc, "confirm", "ok", |a| {
                    a.generation_after = after_no.map(|n| n.to_string())
                });
                Outcome::Deployed {
                    generation_before: before_no,
                    generation_after: after_no,
                }
            }
            Ok(Confirmation::TooLate) => {
                ctx.audit(svc, "confirm", "too-late", |_| {});
                host_decides(ctx, svc, ip, &guard, Step::Health).await
            }
            Err(e) => {
                ctx.audit(svc, "confirm", "failed", |a| a.detail = Some(e.clone()));
                host_decides(ctx, svc, ip, &guard, Step::Health).await
            }
        };
    }
    let reason = gate.err().unwrap_or_default();
    ctx.audit(svc, "health", "failed", |a| a.detail = Some(reason.clone()));
    let Some(to) = back_to else {
        return fail(
            Step::Health,
            format!("{reason}; no earlier whole generation to roll back to"),
        );
    };
    // Take the switch back over from the supervisor, unless it already
    // gave up waiting or the host cannot be reached: then it decides.
    if supervised {
        match confirm(&ctx.pool, ip, &op_path, "deployer-rollback").await {
            Ok(Confirmation::Won) => {}
            Ok(Confirmation::TooLate) => {
                return host_decides(ctx, svc, ip, &guard, Step::Health).await
            }
            Err(e) => {
                ctx.progress.line(
                    Some(name),
                    &format!("health gate failed: {reason}; the host does not answer ({e}): waiting for its own rollback"),
                );
                return host_decides(ctx, svc, ip, &guard, Step::Health).await;
            }
        }
    }
    ctx.progress.line(
        Some(name),
        &format!("health gate failed: {reason}; rolling back to generation {to}"),
    );
    super::rollback::switch_and_verify(ctx, svc, ip, after_no, to, Step::Rollback, reason).await
}

/// The host-side rollback for an activation that may leave `back_to`:
/// the rendered switch back, and the timeout. `None` when disabled (said
/// once, loudly) or there is nothing to go back to.
fn supervision(
    ctx: &OpContext,
    svc: &Service,
    ip: &str,
    back_to: Option<u64>,
) -> Result<Option<Supervision>, String> {
    let name = svc.name.as_str();
    if ctx.confirm_timeout == 0 {
        ctx.progress.line(
            Some(name),
            "warning: host-side rollback disabled (confirm timeout 0): a generation that cuts this deployer off stays live",
        );
        return Ok(None);
    }
    let Some(to) = back_to else {
        return Ok(None);
    };
    if let Some(h) = &svc.interface.health {
        // The gate's longest run: every attempt times out, with its pause.
        let gate = u64::from(h.retries) * (h.timeout + h.interval.min(2));
        if gate >= ctx.confirm_timeout {
            ctx.progress.line(
                Some(name),
                &format!(
                    "warning: the health gate may take {gate} s, the host waits {} s for confirmation: a slow gate ends in the host switching back (raise --confirm-timeout)",
                    ctx.confirm_timeout
                ),
            );
        }
    }
    let (gen, profile) = (to.to_string(), ctx.profile().to_string());
    let revert = ctx.templates.render(
        "switch_generation",
        &ctx.vars_for(svc, ip, &[("generation", &gen), ("profile", &profile)]),
    )?;
    Ok(Some(Supervision {
        revert,
        timeout_secs: ctx.confirm_timeout,
    }))
}

/// What the host's supervisor guards: where its files are, the
/// generation it switches back to (`None`: no supervisor), and when its
/// verdict is due at the latest.
struct Guard<'a> {
    op_path: &'a str,
    back_to: Option<u64>,
    deadline: Instant,
}

/// The deployer lost its say (the host stopped answering, or the
/// supervisor gave up waiting): wait for the host's verdict and verify it.
async fn host_decides(
    ctx: &OpContext,
    svc: &Service,
    ip: &str,
    guard: &Guard<'_>,
    during: Step,
) -> Outcome {
    let lost = Outcome::Failed {
        step: during,
        reason: format!("lost contact during {during}; host state unknown until it answers"),
        output: Vec::new(),
    };
    let Some(to) = guard.back_to else {
        return lost;
    };
    // Said whatever the output level: the operator may wait minutes here.
    ctx.progress.notice(&format!(
        "{}: lost contact during {during}; waiting for the host's own verdict (it switches back to generation {to} unless confirmed within {} s)",
        svc.name, ctx.confirm_timeout
    ));
    match await_verdict(&ctx.pool, ip, guard.op_path, guard.deadline).await {
        None => {
            ctx.audit(svc, "host-rollback", "unknown", |a| {
                a.detail = Some("no verdict from the host".into())
            });
            lost
        }
        Some(Verdict::Confirmed) => {
            // Only the deployer confirms; a confirmation it did not see
            // land is verified like anything else.
            match ctx.host_state(svc, ip).await {
                Ok(st) if st.profile.is_some_and(|n| st.is_on(n) && Some(n) != Some(to)) => {
                    Outcome::Failed {
                        step: during,
                        reason: format!(
                            "the host kept the new generation although its health gate did not pass here; {}",
                            st.describe()
                        ),
                        output: Vec::new(),
                    }
                }
                Ok(st) => Outcome::Failed {
                    step: during,
                    reason: format!("the host confirmed; {}", st.describe()),
                    output: Vec::new(),
                },
                Err(_) => lost,
            }
        }
        Some(Verdict::Reverted(why)) => {
            super::rollback::verify_host_revert(ctx, svc, ip, to, Ok(why)).await
        }
        Some(Verdict::RevertFailed(why)) => {
            super::rollback::verify_host_revert(ctx, svc, ip, to, Err(why)).await
        }
    }
}

/// Builds `svc`'s system; the store path it printed last.
async fn build(ctx: &OpContext, svc: &Service, ip: &str) -> Result<String, LocalError> {
    let argv = ctx
        .templates
        .render("build", &ctx.vars_for(svc, ip, &[]))
        .map_err(|e| LocalError::Failed(e, Vec::new()))?;
    let out = local(ctx, &svc.name, &argv, ctx.timeouts.build).await?;
    match out.iter().rev().find(|l| l.starts_with("/nix/store/")) {
        Some(p) => Ok(p.trim().to_string()),
        None => Err(LocalError::Failed(
            "the build printed no /nix/store path".into(),
            out,
        )),
    }
}

/// Why a local step gave no output.
enum LocalError {
    /// The reason and the last lines.
    Failed(String, Vec<String>),
    Cancelled,
}

/// At most this many stdout lines are kept for the caller (a build's store
/// path is its last line); the rest are streamed and dropped.
const KEPT_STDOUT_LINES: usize = 64;

/// Runs a local step (build, copy) in a process group of its own, streaming
/// its output lines (read as bytes, bounded, sanitised) as `host`'s;
/// returns the last stdout lines, or the reason and last lines on failure.
/// Past `limit`, or on cancel, the whole process group is killed.
async fn local(
    ctx: &OpContext,
    host: &str,
    argv: &[String],
    limit: Duration,
) -> Result<Vec<String>, LocalError> {
    let failed = |r: String| LocalError::Failed(r, Vec::new());
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| failed("empty command template".to_string()))?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(format!("cannot run {program}: {e}")))?;
    let group = child.id();
    // Dropped before the step ends (the console quit, the task aborted):
    // the whole group goes, not only the child `kill_on_drop` kills.
    let mut orphans = GroupGuard(group);
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        kill_group(group);
        return Err(failed("the step's output pipes are missing".into()));
    };
    let mut out = BoundedLines::new(stdout, sanitize::MAX_LINE);
    let mut err = BoundedLines::new(stderr, sanitize::MAX_LINE);
    let mut stdout_lines: Vec<String> = Vec::new();
    let mut tail: Vec<String> = Vec::new();
    let keep = |v: &mut Vec<String>, l: String, max: usize| {
        v.push(l);
        if v.len() > max {
            v.remove(0);
        }
    };
    let (mut out_done, mut err_done) = (false, false);
    let deadline = tokio::time::Instant::now() + limit;
    let stopped: Option<String> = loop {
        if out_done && err_done {
            break None;
        }
        tokio::select! {
            l = out.next_line(), if !out_done => match l {
                Ok(Some(l)) => {
                    let l = l.shown();
                    ctx.progress.line(Some(host), &l);
                    keep(&mut stdout_lines, l.clone(), KEPT_STDOUT_LINES);
                    keep(&mut tail, l, super::ssh::TAIL_LINES);
                }
                _ => out_done = true,
            },
            l = err.next_line(), if !err_done => match l {
                Ok(Some(l)) => {
                    let l = l.shown();
                    ctx.progress.line(Some(host), &l);
                    keep(&mut tail, l, super::ssh::TAIL_LINES);
                }
                _ => err_done = true,
            },
            _ = tokio::time::sleep_until(deadline) => {
                break Some(format!("{program} did not finish within {} s; its process group was killed", limit.as_secs()));
            }
            _ = ctx.cancel_requested() => break Some(String::new()),
        }
    };
    // The output may close before the process ends (a daemonized child):
    // the wait has the same limit.
    let status = match stopped {
        None => tokio::select! {
            s = child.wait() => Some(s),
            _ = tokio::time::sleep_until(deadline) => None,
            _ = ctx.cancel_requested() => None,
        },
        Some(_) => None,
    };
    orphans.0 = None;
    let Some(status) = status else {
        kill_group(group);
        let _ = child.wait().await;
        return Err(match stopped {
            Some(r) if r.is_empty() => LocalError::Cancelled,
            Some(r) => LocalError::Failed(r, tail),
            None if ctx.cancelled() => LocalError::Cancelled,
            None => LocalError::Failed(
                format!(
                    "{program} did not finish within {} s; its process group was killed",
                    limit.as_secs()
                ),
                tail,
            ),
        });
    };
    // Whatever the step left behind in its group goes with it.
    kill_group(group);
    let status = status.map_err(|e| LocalError::Failed(e.to_string(), tail.clone()))?;
    if status.success() {
        Ok(stdout_lines)
    } else {
        Err(LocalError::Failed(
            format!("{program} exited {}", status.code().unwrap_or(-1)),
            tail,
        ))
    }
}

/// Kills its process group when dropped, unless disarmed (`.0 = None`)
/// once the step's own end handles the group.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0.take());
    }
}

/// SIGKILL to the process group `leader` started (it is its own group).
fn kill_group(leader: Option<u32>) {
    let Some(pid) = leader.and_then(|p| rustix::process::Pid::from_raw(p as i32)) else {
        return;
    };
    // ESRCH (already gone) is the usual answer and fine.
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
}

/// Builds `svc`'s system and reads what its host runs (both store paths),
/// reported as its `Compare` step; Err names the service and the reason.
pub(super) async fn built_and_running(
    ctx: &OpContext,
    svc: &Service,
) -> Result<(String, String), String> {
    let (name, ip) = (&svc.name, svc.ip.to_string());
    ctx.progress.step(name, Step::Compare);
    let built = build(ctx, svc, &ip).await.map_err(|e| match e {
        LocalError::Failed(r, _) => format!("{name}: build: {r}"),
        LocalError::Cancelled => format!("{name}: build: cancelled"),
    })?;
    let argv = ctx.templates.render(
        "running",
        &ctx.vars_for(svc, &ip, &[("profile", ctx.profile())]),
    )?;
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let ran = ctx
        .pool
        .run(&ip, &argv, Duration::from_secs(30))
        .await
        .map_err(|e| format!("{name}: {e}"))?;
    if !ran.success() {
        return Err(format!(
            "{name}: reading what the host runs failed: {}",
            ran.tail().join(" / ")
        ));
    }
    let running = super::generations::parse_running(&ran.stdout)
        .map_err(|e| format!("{name} ({ip}): {e}"))?;
    Ok((built.trim().to_string(), running))
}
