//! Deploys in dependency waves. Per host: lock → build → copy → activate
//! (detached on the host) → health gate (the manifest's startup probe with
//! its retries and timeout) → done. A failed gate switches that host back to
//! the generation it had and checks health again (deploy-rs's magic
//! rollback, judged by the manifest's own health check). A failure stops
//! the failed service's dependents; unrelated services go on. Cancelling
//! stops after the current step, so every host stays on a whole generation.

use super::audit::{Audit, Entry};
use super::exec::Templates;
use super::generations;
use super::lock::{Holder, Lock};
use super::outcome::Step;
pub use super::outcome::{HostResult, Outcome};
use super::progress::{OpEvent, OpEventKind};
use super::remote::run_detached;
use super::ssh::SshPool;
use crate::manifest::{DepGraph, Manifest, Service};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::process::Command;
use tokio::sync::{mpsc, watch, Semaphore};

/// Everything a deploy needs, shared by its host tasks.
pub struct Env {
    pub pool: Arc<SshPool>,
    pub manifest: Arc<Manifest>,
    pub templates: Templates,
    /// Placeholders every template may use: flake, user, profile, lock_dir, ...
    pub vars: BTreeMap<String, String>,
    pub audit: Audit,
    pub op: u64,
    pub events: mpsc::UnboundedSender<OpEvent>,
    pub cancel: watch::Receiver<bool>,
    pub break_lock: bool,
    pub activate_timeout: Duration,
}

impl Env {
    fn emit(&self, kind: OpEventKind) {
        let _ = self.events.send(OpEvent {
            id: self.op,
            at: SystemTime::now(),
            kind,
        });
    }

    fn step(&self, svc: &Service, step: Step) {
        self.emit(OpEventKind::Step {
            host: Some(svc.name.clone()),
            step,
        });
    }

    fn line(&self, svc: &Service, line: &str) {
        self.emit(OpEventKind::Line {
            line: format!("{}| {line}", svc.name),
        });
    }

    fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    fn audit(&self, svc: &Service, step: &str, outcome: &str, f: impl FnOnce(&mut Entry)) {
        let mut e = self.audit.entry(self.op, "deploy", step, outcome);
        e.service = Some(svc.name.clone());
        e.host = Some(svc.ip.to_string());
        f(&mut e);
        if let Err(err) = self.audit.record(&e) {
            // The operator must know the record is incomplete.
            self.emit(OpEventKind::Line {
                line: format!(
                    "AUDIT LOG WRITE FAILED ({}): {err}",
                    self.audit.path().display()
                ),
            });
        }
    }

    fn vars_for<'a>(
        &'a self,
        svc: &'a Service,
        ip: &'a str,
        extra: &[(&'a str, &'a str)],
    ) -> Vec<(&'a str, &'a str)> {
        let mut v: Vec<(&str, &str)> = self
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        v.push(("name", svc.name.as_str()));
        v.push(("service", svc.name.as_str()));
        v.push(("ip", ip));
        v.push(("hostname", svc.hostname.as_str()));
        v.extend_from_slice(extra);
        v
    }

    fn profile(&self) -> &str {
        self.vars
            .get("profile")
            .map_or(super::exec::PROFILE, String::as_str)
    }
}

/// Deploys `waves` (from the graph), at most `parallel` hosts at once.
pub async fn run(
    env: Arc<Env>,
    graph: &DepGraph,
    waves: Vec<Vec<String>>,
    parallel: usize,
) -> Vec<HostResult> {
    let all: Vec<String> = waves.iter().flatten().cloned().collect();
    env.emit(OpEventKind::Started {
        title: format!("deploy {}", summarize(&all)),
    });
    let mut results: BTreeMap<String, HostResult> = BTreeMap::new();
    let sem = Arc::new(Semaphore::new(parallel.max(1)));
    for (i, wave) in waves.iter().enumerate() {
        env.emit(OpEventKind::Line {
            line: format!("== wave {}/{}: {}", i + 1, waves.len(), wave.join(", ")),
        });
        let mut tasks = Vec::new();
        for name in wave {
            let Some(svc) = env.manifest.services.get(name).cloned() else {
                continue;
            };
            // What this one needs that did not deploy cleanly in this run.
            let blocked: Vec<String> = graph
                .dependencies(name)
                .unwrap_or_default()
                .into_iter()
                .filter(|d| results.get(d).is_some_and(|r| !r.outcome.ok()))
                .collect();
            if !blocked.is_empty() || env.cancelled() {
                let outcome = if env.cancelled() {
                    Outcome::Cancelled { after: None }
                } else {
                    Outcome::Skipped { because: blocked }
                };
                env.audit(
                    &svc,
                    "plan",
                    if env.cancelled() {
                        "cancelled"
                    } else {
                        "skipped"
                    },
                    |e| e.detail = Some(format!("{outcome:?}")),
                );
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
            let env = env.clone();
            let sem = sem.clone();
            tasks.push(tokio::spawn(async move {
                // The semaphore is never closed, so acquiring cannot fail.
                let _permit = sem.acquire_owned().await.ok();
                let started = Instant::now();
                let outcome = deploy_host(&env, &svc).await;
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
                env.emit(OpEventKind::HostDone {
                    service: r.service.clone(),
                    outcome: r.outcome.clone(),
                });
                results.insert(r.service.clone(), r);
            }
        }
    }
    let list: Vec<HostResult> = all.iter().filter_map(|n| results.remove(n)).collect();
    let ok = list.iter().all(|r| r.outcome.ok());
    env.emit(OpEventKind::Finished {
        ok,
        summary: summary_line(&list),
    });
    list
}

fn summarize(names: &[String]) -> String {
    match names.len() {
        0 => "nothing".into(),
        1..=3 => names.join(", "),
        n => format!("{}, … ({n} hosts)", names[..2].join(", ")),
    }
}

pub fn summary_line(results: &[HostResult]) -> String {
    let count = |l: &str| results.iter().filter(|r| r.outcome.label() == l).count();
    format!(
        "{} deployed, {} rolled back, {} failed, {} skipped{}",
        count("deployed"),
        count("rolled back"),
        count("failed"),
        count("skipped"),
        match count("cancelled") {
            0 => String::new(),
            n => format!(", {n} cancelled"),
        }
    )
}

async fn deploy_host(env: &Env, svc: &Service) -> Outcome {
    let ip = svc.ip.to_string();
    let holder = Holder {
        user: env.audit.user().to_string(),
        pid: std::process::id(),
        op: env.op.to_string(),
        action: format!("deploy {}", svc.name),
        since: crate::timefmt::rfc3339(SystemTime::now()),
    };
    env.step(svc, Step::Lock);
    let lock_dir = env
        .vars
        .get("lock_dir")
        .map_or(super::exec::LOCK_DIR, String::as_str);
    let lock = match Lock::acquire(env.pool.clone(), &ip, lock_dir, holder, env.break_lock).await {
        Ok(l) => l,
        Err(e) => {
            env.audit(svc, "lock", "failed", |a| a.detail = Some(e.to_string()));
            return Outcome::Failed {
                step: Step::Lock,
                reason: e.to_string(),
                output: Vec::new(),
            };
        }
    };
    let outcome = deploy_locked(env, svc, &ip).await;
    lock.release().await;
    let (label, detail) = (outcome.label(), format!("{outcome:?}"));
    env.audit(svc, "done", label, |a| a.detail = Some(detail));
    outcome
}

async fn deploy_locked(env: &Env, svc: &Service, ip: &str) -> Outcome {
    let fail = |step: Step, reason: String, output: Vec<String>| Outcome::Failed {
        step,
        reason,
        output,
    };
    // Where the host is now: the generation to come back to.
    let before = match generations::list(&env.pool, &env.templates, ip, env.profile()).await {
        Ok(g) => g.into_iter().find(|g| g.current),
        Err(e) => return fail(Step::Generations, e, Vec::new()),
    };
    let before_no = before.as_ref().map(|g| g.generation);

    // Build.
    if env.cancelled() {
        return Outcome::Cancelled {
            after: Some(Step::Generations),
        };
    }
    env.step(svc, Step::Build);
    let t = Instant::now();
    env.audit(svc, "build", "started", |_| {});
    let argv = match env.templates.render("build", &env.vars_for(svc, ip, &[])) {
        Ok(a) => a,
        Err(e) => return fail(Step::Build, e, Vec::new()),
    };
    let path = match local(env, svc, &argv).await {
        Ok(out) => match out.iter().rev().find(|l| l.starts_with("/nix/store/")) {
            Some(p) => p.trim().to_string(),
            None => {
                return fail(
                    Step::Build,
                    "the build printed no /nix/store path".into(),
                    out,
                )
            }
        },
        Err((reason, out)) => {
            env.audit(svc, "build", "failed", |a| a.detail = Some(reason.clone()));
            return fail(Step::Build, reason, out);
        }
    };
    env.audit(svc, "build", "ok", |a| {
        a.duration_ms = Some(t.elapsed().as_millis() as u64);
        a.detail = Some(path.clone());
    });

    // Copy.
    if env.cancelled() {
        return Outcome::Cancelled {
            after: Some(Step::Build),
        };
    }
    env.step(svc, Step::Copy);
    let t = Instant::now();
    let argv = match env
        .templates
        .render("copy", &env.vars_for(svc, ip, &[("path", &path)]))
    {
        Ok(a) => a,
        Err(e) => return fail(Step::Copy, e, Vec::new()),
    };
    if let Err((reason, out)) = local(env, svc, &argv).await {
        env.audit(svc, "copy", "failed", |a| a.detail = Some(reason.clone()));
        return fail(Step::Copy, reason, out);
    }
    env.audit(svc, "copy", "ok", |a| {
        a.duration_ms = Some(t.elapsed().as_millis() as u64)
    });

    // Activate, detached on the host.
    if env.cancelled() {
        return Outcome::Cancelled {
            after: Some(Step::Copy),
        };
    }
    env.step(svc, Step::Activate);
    let t = Instant::now();
    env.audit(svc, "activate", "started", |a| {
        a.generation_before = before_no.map(|n| n.to_string());
        a.detail = Some(path.clone());
    });
    let profile = env.profile().to_string();
    let argv = match env.templates.render(
        "activate",
        &env.vars_for(svc, ip, &[("path", &path), ("profile", &profile)]),
    ) {
        Ok(a) => a,
        Err(e) => return fail(Step::Activate, e, Vec::new()),
    };
    let base = format!("/tmp/nixmox-{}-{}-activate", env.op, svc.name);
    let activated = run_detached(&env.pool, ip, &base, &argv, env.activate_timeout, |l| {
        env.line(svc, &l)
    })
    .await;
    let after_no = generations::list(&env.pool, &env.templates, ip, env.profile())
        .await
        .ok()
        .and_then(|g| g.into_iter().find(|g| g.current))
        .map(|g| g.generation);
    let activation_error = match activated {
        Err(e) => {
            env.audit(svc, "activate", "failed", |a| a.detail = Some(e.clone()));
            // Unknown whether it switched: never guess on a host we cannot see.
            return fail(Step::Activate, e, Vec::new());
        }
        Ok(f) if f.code != 0 => Some(format!("switch-to-configuration exited {}", f.code)),
        Ok(_) => None,
    };
    env.audit(
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
    env.step(svc, Step::Health);
    let t = Instant::now();
    let gate = match activation_error {
        Some(e) => Err(e),
        None => health_gate(env, svc, ip).await,
    };
    match gate {
        Ok(()) => {
            env.audit(svc, "health", "ok", |a| {
                a.duration_ms = Some(t.elapsed().as_millis() as u64);
                a.generation_after = after_no.map(|n| n.to_string());
            });
            Outcome::Deployed {
                generation_before: before_no,
                generation_after: after_no,
            }
        }
        Err(reason) => {
            env.audit(svc, "health", "failed", |a| a.detail = Some(reason.clone()));
            rollback_after_failed_gate(env, svc, ip, before_no, reason).await
        }
    }
}

/// The service's startup probe until it passes, at most `retries` times,
/// `timeout` each, a short pause between. Err carries the probe's output.
pub async fn health_gate(env_pool: &impl AsPool, svc: &Service, ip: &str) -> Result<(), String> {
    let Some(h) = &svc.interface.health else {
        return Ok(());
    };
    let pause = Duration::from_secs(h.interval.min(2));
    let mut last = String::new();
    for attempt in 1..=h.retries {
        match super::health::run_probe(env_pool.pool(), ip, h.timeout, &h.startup).await {
            Ok(o) if o.success() => return Ok(()),
            Ok(o) => {
                last = format!(
                    "startup probe failed {attempt}/{} (exit {}): {}",
                    h.retries,
                    o.code.map_or("killed".into(), |c| c.to_string()),
                    o.tail().last().cloned().unwrap_or_default()
                )
            }
            Err(e) => last = format!("startup probe could not run: {e}"),
        }
        if attempt < h.retries {
            tokio::time::sleep(pause).await;
        }
    }
    Err(last)
}

/// Lets the gate be used with a bare pool (rollback) or a deploy env.
pub trait AsPool {
    fn pool(&self) -> &SshPool;
}

impl AsPool for Env {
    fn pool(&self) -> &SshPool {
        &self.pool
    }
}

impl AsPool for SshPool {
    fn pool(&self) -> &SshPool {
        self
    }
}

async fn rollback_after_failed_gate(
    env: &Env,
    svc: &Service,
    ip: &str,
    before: Option<u64>,
    reason: String,
) -> Outcome {
    let Some(to) = before else {
        return Outcome::Failed {
            step: Step::Health,
            reason: format!("{reason}; no earlier generation to roll back to"),
            output: Vec::new(),
        };
    };
    env.step(svc, Step::Rollback);
    env.line(
        svc,
        &format!("health gate failed: {reason}; rolling back to generation {to}"),
    );
    let t = Instant::now();
    let profile = env.profile().to_string();
    let gen = to.to_string();
    let argv = match env.templates.render(
        "switch_generation",
        &env.vars_for(svc, ip, &[("generation", &gen), ("profile", &profile)]),
    ) {
        Ok(a) => a,
        Err(e) => {
            return Outcome::Failed {
                step: Step::Rollback,
                reason: e,
                output: Vec::new(),
            }
        }
    };
    let base = format!("/tmp/nixmox-{}-{}-rollback", env.op, svc.name);
    let switched = run_detached(&env.pool, ip, &base, &argv, env.activate_timeout, |l| {
        env.line(svc, &l)
    })
    .await;
    let healthy_again = match &switched {
        Ok(f) if f.code == 0 => health_gate(env, svc, ip).await.is_ok(),
        _ => false,
    };
    env.audit(
        svc,
        "rollback",
        if healthy_again { "ok" } else { "failed" },
        |a| {
            a.duration_ms = Some(t.elapsed().as_millis() as u64);
            a.generation_after = Some(gen.clone());
            a.detail = Some(match &switched {
                Ok(f) => format!("switch exited {}; healthy again: {healthy_again}", f.code),
                Err(e) => e.clone(),
            });
        },
    );
    Outcome::RolledBack {
        reason,
        to_generation: Some(to),
        healthy_again,
    }
}

/// Runs a local step (build, copy), streaming its output lines; returns the
/// stdout lines, or the reason and last lines on failure.
async fn local(
    env: &Env,
    svc: &Service,
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
    let mut out = BufReader::new(child.stdout.take().expect("stdout was piped")).lines();
    let mut err = BufReader::new(child.stderr.take().expect("stderr was piped")).lines();
    let mut stdout_lines = Vec::new();
    let mut tail: Vec<String> = Vec::new();
    let (mut out_done, mut err_done) = (false, false);
    while !(out_done && err_done) {
        tokio::select! {
            l = out.next_line(), if !out_done => match l {
                Ok(Some(l)) => { env.line(svc, &l); stdout_lines.push(l.clone()); tail.push(l); }
                _ => out_done = true,
            },
            l = err.next_line(), if !err_done => match l {
                Ok(Some(l)) => { env.line(svc, &l); tail.push(l); }
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
pub async fn changed(
    env: Arc<Env>,
    graph: &DepGraph,
    candidates: &BTreeSet<String>,
) -> Result<BTreeSet<String>, String> {
    let mut out = BTreeSet::new();
    for name in candidates {
        let Some(svc) = env.manifest.services.get(name) else {
            continue;
        };
        let ip = svc.ip.to_string();
        env.step(svc, Step::Compare);
        let argv = env
            .templates
            .render("build", &env.vars_for(svc, &ip, &[]))?;
        let built = local(&env, svc, &argv)
            .await
            .map_err(|(r, _)| format!("{name}: build: {r}"))?
            .into_iter()
            .rev()
            .find(|l| l.starts_with("/nix/store/"))
            .ok_or_else(|| format!("{name}: the build printed no store path"))?;
        let cur = env.templates.render(
            "current",
            &env.vars_for(svc, &ip, &[("profile", env.profile())]),
        )?;
        let cur: Vec<&str> = cur.iter().map(String::as_str).collect();
        let running = env
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
