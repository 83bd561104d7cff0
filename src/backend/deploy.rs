//! Deploys in dependency waves. Per host: lock → build → copy → activate
//! (detached on the host) → health gate (the manifest's startup probe with
//! its retries and timeout) → done. A failed gate switches that host back to
//! the generation it had and checks health again (deploy-rs's magic
//! rollback, judged by the manifest's own health check). A failure stops
//! the failed service's dependents; unrelated services go on. Cancelling
//! stops after the current step, so every host stays on a whole generation.
//! Front ends start deploys through [`super::fleet::Fleet::deploy`].

use super::gate::health_gate;
use super::op_context::OpContext;
use super::outcome::Step;
pub(crate) use super::outcome::{HostResult, Outcome};
use super::progress::Reporter;
use super::remote::run_detached;
use crate::manifest::{DepGraph, Manifest, Service};
use std::collections::{BTreeMap, BTreeSet};
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
            tasks.push(tokio::spawn(async move {
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
            }));
        }
        for t in tasks {
            if let Ok(r) = t.await {
                results.insert(r.service.clone(), r);
            }
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
    ctx.audit(svc, "done", label, |a| a.detail = Some(detail));
    outcome
}

async fn deploy_locked(ctx: &OpContext, svc: &Service, ip: &str) -> Outcome {
    let fail = |step: Step, reason: String, output: Vec<String>| Outcome::Failed {
        step,
        reason,
        output,
    };
    let name = svc.name.as_str();
    // Where the host is now: the generation to come back to.
    ctx.progress.step(name, Step::Generations);
    let before_no = match ctx.current_generation(svc, ip).await {
        Ok(g) => g,
        Err(e) => return fail(Step::Generations, e, Vec::new()),
    };

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
        Err((reason, out)) => {
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
    if let Err((reason, out)) = local(&ctx.progress, name, &argv).await {
        ctx.audit(svc, "copy", "failed", |a| a.detail = Some(reason.clone()));
        return fail(Step::Copy, reason, out);
    }
    ctx.audit(svc, "copy", "ok", |a| {
        a.duration_ms = Some(t.elapsed().as_millis() as u64)
    });

    // Activate, detached on the host.
    if ctx.cancelled() {
        return Outcome::Cancelled {
            after: Some(Step::Copy),
        };
    }
    ctx.progress.step(name, Step::Activate);
    let t = Instant::now();
    ctx.audit(svc, "activate", "started", |a| {
        a.generation_before = before_no.map(|n| n.to_string());
        a.detail = Some(path.clone());
    });
    let profile = ctx.profile().to_string();
    let argv = match ctx.templates.render(
        "activate",
        &ctx.vars_for(svc, ip, &[("path", &path), ("profile", &profile)]),
    ) {
        Ok(a) => a,
        Err(e) => return fail(Step::Activate, e, Vec::new()),
    };
    let base = format!("/tmp/nixmox-{}-{}-activate", ctx.id(), name);
    let activated = run_detached(&ctx.pool, ip, &base, &argv, ctx.step_timeout, |l| {
        ctx.progress.line(Some(name), &l)
    })
    .await;
    let after_no = ctx.current_generation(svc, ip).await.ok().flatten();
    let activation_error = match activated {
        Err(e) => {
            ctx.audit(svc, "activate", "failed", |a| a.detail = Some(e.clone()));
            // Unknown whether it switched: never guess on a host we cannot see.
            return fail(Step::Activate, e, Vec::new());
        }
        Ok(f) if f.code != 0 => Some(format!("switch-to-configuration exited {}", f.code)),
        Ok(_) => None,
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

    // Health gate.
    ctx.progress.step(name, Step::Health);
    let t = Instant::now();
    let gate = match activation_error {
        Some(e) => Err(e),
        None => health_gate(&ctx.pool, svc, ip).await,
    };
    match gate {
        Ok(()) => {
            ctx.audit(svc, "health", "ok", |a| {
                a.duration_ms = Some(t.elapsed().as_millis() as u64);
                a.generation_after = after_no.map(|n| n.to_string());
            });
            Outcome::Deployed {
                generation_before: before_no,
                generation_after: after_no,
            }
        }
        Err(reason) => {
            ctx.audit(svc, "health", "failed", |a| a.detail = Some(reason.clone()));
            let Some(to) = before_no else {
                return Outcome::Failed {
                    step: Step::Health,
                    reason: format!("{reason}; no earlier generation to roll back to"),
                    output: Vec::new(),
                };
            };
            ctx.progress.line(
                Some(name),
                &format!("health gate failed: {reason}; rolling back to generation {to}"),
            );
            super::rollback::switch_and_verify(ctx, svc, ip, after_no, to, Step::Rollback, reason)
                .await
        }
    }
}

/// Builds `svc`'s system; the store path it printed last.
async fn build(ctx: &OpContext, svc: &Service, ip: &str) -> Result<String, (String, Vec<String>)> {
    let argv = ctx
        .templates
        .render("build", &ctx.vars_for(svc, ip, &[]))
        .map_err(|e| (e, Vec::new()))?;
    let out = local(&ctx.progress, &svc.name, &argv).await?;
    match out.iter().rev().find(|l| l.starts_with("/nix/store/")) {
        Some(p) => Ok(p.trim().to_string()),
        None => Err(("the build printed no /nix/store path".into(), out)),
    }
}

/// Runs a local step (build, copy), streaming its output lines as `host`'s;
/// returns the stdout lines, or the reason and last lines on failure.
async fn local(
    progress: &Reporter,
    host: &str,
    argv: &[String],
) -> Result<Vec<String>, (String, Vec<String>)> {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| ("empty command template".to_string(), Vec::new()))?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| (format!("cannot run {program}: {e}"), Vec::new()))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(("the step's output pipes are missing".into(), Vec::new()));
    };
    let mut out = BufReader::new(stdout).lines();
    let mut err = BufReader::new(stderr).lines();
    let mut stdout_lines = Vec::new();
    let mut tail: Vec<String> = Vec::new();
    let (mut out_done, mut err_done) = (false, false);
    while !(out_done && err_done) {
        tokio::select! {
            l = out.next_line(), if !out_done => match l {
                Ok(Some(l)) => { progress.line(Some(host), &l); stdout_lines.push(l.clone()); tail.push(l); }
                _ => out_done = true,
            },
            l = err.next_line(), if !err_done => match l {
                Ok(Some(l)) => { progress.line(Some(host), &l); tail.push(l); }
                _ => err_done = true,
            },
        }
        if tail.len() > super::ssh::TAIL_LINES {
            tail.remove(0);
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|e| (e.to_string(), tail.clone()))?;
    if status.success() {
        Ok(stdout_lines)
    } else {
        Err((
            format!("{program} exited {}", status.code().unwrap_or(-1)),
            tail,
        ))
    }
}

/// Services whose freshly built system differs from what their host runs,
/// plus everything that depends on them.
pub(super) async fn changed(
    ctx: &OpContext,
    manifest: &Manifest,
    graph: &DepGraph,
    candidates: &BTreeSet<String>,
) -> Result<BTreeSet<String>, String> {
    let mut out = BTreeSet::new();
    for name in candidates {
        let Some(svc) = manifest.services.get(name) else {
            continue;
        };
        let ip = svc.ip.to_string();
        ctx.progress.step(name, Step::Compare);
        let built = build(ctx, svc, &ip)
            .await
            .map_err(|(r, _)| format!("{name}: build: {r}"))?;
        let cur = ctx.templates.render(
            "current",
            &ctx.vars_for(svc, &ip, &[("profile", ctx.profile())]),
        )?;
        let cur: Vec<&str> = cur.iter().map(String::as_str).collect();
        let running = ctx
            .pool
            .run(&ip, &cur, Duration::from_secs(30))
            .await
            .map_err(|e| format!("{name}: {e}"))?;
        if running.stdout.trim() != built.trim() {
            out.insert(name.clone());
        }
    }
    let mut with_dependents = out.clone();
    for n in &out {
        with_dependents.extend(graph.dependents(n).unwrap_or_default());
    }
    Ok(with_dependents)
}
