//! `nixmox deploy`, `rollback` and `generations`: thin shells over the
//! backend, with colmena-like progress on stderr.

use super::GlobalArgs;
use crate::backend::audit::Audit;
use crate::backend::deploy::{self, Env, HostResult, Outcome};
use crate::backend::exec::{Templates, LOCK_DIR, PROFILE};
use crate::backend::generations;
use crate::backend::progress::{OpEvent, OpEventKind};
use crate::backend::rollback::{self, Rollback};
use crate::config::Config;
use crate::manifest::{DepGraph, Manifest};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};

#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// Services to deploy.
    pub services: Vec<String>,
    /// Also everything that (transitively) depends on them.
    #[arg(long, short = 'D')]
    pub with_dependents: bool,
    /// The whole stack.
    #[arg(long, conflicts_with = "services")]
    pub all: bool,
    /// Only services whose built system differs from what their host runs, plus their dependents.
    #[arg(long)]
    pub changed: bool,
    /// At most this many hosts at once within a wave.
    #[arg(long, default_value_t = 8)]
    pub parallel: usize,
    /// Do not ask.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print the per-host results as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Break a STALE lock (one whose holder stopped refreshing it).
    #[arg(long)]
    pub break_lock: bool,
}

/// The operation id: milliseconds since the epoch (unique enough per admin
/// box, and sortable in the audit log).
fn op_id() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The placeholders every template may use.
pub fn base_vars(
    manifest_path: &std::path::Path,
    m: &Manifest,
    config: &Config,
) -> BTreeMap<String, String> {
    let manifest =
        std::path::absolute(manifest_path).unwrap_or_else(|_| manifest_path.to_path_buf());
    let flake = manifest
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| ".".into());
    let mut v = BTreeMap::new();
    v.insert("manifest".into(), manifest.display().to_string());
    v.insert("flake".into(), flake);
    v.insert(
        "user".into(),
        config.ssh.user.clone().unwrap_or_else(|| "root".into()),
    );
    v.insert("profile".into(), PROFILE.into());
    v.insert("lock_dir".into(), LOCK_DIR.into());
    v.insert("salt".into(), String::new());
    v.insert("domain".into(), m.network.domain.clone());
    v.extend(config.vars.clone());
    v
}

fn templates(m: &Manifest, config: &Config) -> Result<Templates, ExitCode> {
    Templates::resolve(m.deploy.as_ref(), &config.templates).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(1)
    })
}

/// Asks on the terminal; refuses (false) when there is no terminal.
fn confirm(question: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        eprintln!("refusing: not a terminal to confirm on; rerun with --yes");
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}

/// Prints progress events on stderr, one line each, with elapsed time.
async fn print_progress(mut rx: mpsc::UnboundedReceiver<OpEvent>, started: Instant, verbose: bool) {
    while let Some(ev) = rx.recv().await {
        let t = started.elapsed().as_secs_f64();
        match ev.kind {
            OpEventKind::Started { title } => eprintln!("[{t:6.1}s] {title}"),
            OpEventKind::Step { host, step } => {
                eprintln!("[{t:6.1}s] {:<14} {step}", host.unwrap_or_default())
            }
            OpEventKind::Line { line }
                if verbose || line.starts_with("==") || line.starts_with("AUDIT") =>
            {
                eprintln!("           {line}")
            }
            OpEventKind::Line { .. } => {}
            OpEventKind::HostDone { service, outcome } => {
                eprintln!("[{t:6.1}s] {service:<14} {}", describe(&outcome))
            }
            OpEventKind::Finished { ok, summary } => {
                eprintln!(
                    "[{t:6.1}s] {} {summary}",
                    if ok { "done:" } else { "FAILED:" }
                )
            }
        }
    }
}

pub fn deploy(global: &GlobalArgs, a: DeployArgs) -> ExitCode {
    let (manifest, config, runtime) = match super::status::setup(global) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let templates = match templates(&manifest, &config) {
        Ok(t) => t,
        Err(c) => return c,
    };
    let graph = DepGraph::from_manifest(&manifest);
    let names: Vec<String> = if a.all || (a.changed && a.services.is_empty()) {
        Vec::new()
    } else if a.services.is_empty() {
        eprintln!("error: name the services to deploy, or pass --all (or --changed)");
        return ExitCode::from(2);
    } else {
        a.services.clone()
    };
    let selection = match super::selection(&manifest, &graph, &names, a.with_dependents) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let audit = match Audit::open(config.audit_log.as_deref()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: cannot open the audit log: {e}");
            return ExitCode::from(1);
        }
    };
    let vars = base_vars(&global.manifest, &manifest, &config);
    let manifest = Arc::new(manifest);
    runtime.block_on(async move {
        let pool = match super::status::open_pool(&config) {
            Ok(p) => p,
            Err(code) => return code,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let (cancel_tx, cancel_rx) = watch::channel(false);
        let started = Instant::now();
        let printer = tokio::spawn(print_progress(rx, started, !a.json));
        let env = Arc::new(Env {
            pool: pool.clone(),
            manifest: manifest.clone(),
            templates,
            vars,
            audit,
            op: op_id(),
            events: tx,
            cancel: cancel_rx,
            break_lock: a.break_lock,
            activate_timeout: Duration::from_secs(600),
        });
        let selection = if a.changed {
            match deploy::changed(env.clone(), &graph, &selection).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: --changed: {e}");
                    return ExitCode::from(1);
                }
            }
        } else {
            selection
        };
        if selection.is_empty() {
            eprintln!("nothing to deploy: every host already runs what the manifest builds");
            pool.close_all().await;
            return ExitCode::SUCCESS;
        }
        let waves = match graph.waves_of(&selection) {
            Ok(w) => w,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        print_plan(&manifest, &waves);
        if !a.yes && !confirm("Deploy?") {
            pool.close_all().await;
            return ExitCode::from(1);
        }
        // ctrl-c: stop after the current step.
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("cancelling: every host finishes its current step");
                let _ = cancel_tx.send(true);
            }
        });
        let results = deploy::run(env.clone(), &graph, waves, a.parallel).await;
        drop(env);
        let _ = printer.await;
        print_summary(&results);
        if a.json {
            println!(
                "{}",
                serde_json::to_string(&results).unwrap_or_else(|_| "[]".into())
            );
        }
        pool.close_all().await;
        if results.iter().all(|r| r.outcome.ok()) {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    })
}

fn print_plan(m: &Manifest, waves: &[Vec<String>]) {
    let hosts: usize = waves.iter().map(Vec::len).sum();
    eprintln!("plan: {hosts} host(s) in {} wave(s)", waves.len());
    for (i, w) in waves.iter().enumerate() {
        let items: Vec<String> = w
            .iter()
            .map(|n| format!("{n} ({})", m.services[n].ip))
            .collect();
        eprintln!("  wave {}: {}", i + 1, items.join(", "));
    }
}

/// One line saying what happened to a host, for progress and summaries.
fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Deployed {
            generation_before,
            generation_after,
        } => format!(
            "deployed: generation {} -> {}",
            generation_before.map_or("-".into(), |g| g.to_string()),
            generation_after.map_or("-".into(), |g| g.to_string())
        ),
        Outcome::Unchanged { generation } => format!(
            "unchanged: already on generation {}",
            generation.map_or("-".into(), |g| g.to_string())
        ),
        Outcome::RolledBack {
            to_generation,
            healthy_again,
            ..
        } => format!(
            "rolled back to generation {}{}",
            to_generation.map_or("-".into(), |g| g.to_string()),
            if *healthy_again { "" } else { ", NOT healthy" }
        ),
        Outcome::RollbackFailed {
            error,
            profile_generation,
            ..
        } => format!(
            "rollback failed: {error} (profile on generation {})",
            profile_generation.map_or("unknown".into(), |g| g.to_string())
        ),
        Outcome::Failed { step, reason, .. } => format!("failed at {step}: {reason}"),
        Outcome::Skipped { because } => format!("skipped: {} did not deploy", because.join(", ")),
        Outcome::Cancelled { after: None } => "cancelled before it started".into(),
        Outcome::Cancelled { after: Some(s) } => format!("cancelled after {s}"),
        Outcome::Interrupted { found } => format!("interrupted: {found}"),
    }
}

fn print_summary(results: &[HostResult]) {
    eprintln!();
    eprintln!(
        "{:<14} {:<15} {:<12} {:>7}  DETAIL",
        "SERVICE", "HOST", "RESULT", "TIME"
    );
    for r in results {
        let detail = match &r.outcome {
            Outcome::Deployed {
                generation_before,
                generation_after,
            } => format!(
                "generation {} -> {}",
                generation_before.map_or("-".into(), |g| g.to_string()),
                generation_after.map_or("-".into(), |g| g.to_string())
            ),
            Outcome::RolledBack {
                reason,
                to_generation,
                healthy_again,
            } => format!(
                "back on generation {} ({}) because: {reason}",
                to_generation.map_or("-".into(), |g| g.to_string()),
                if *healthy_again {
                    "healthy again"
                } else {
                    "STILL UNHEALTHY"
                }
            ),
            Outcome::Failed { step, reason, .. } => format!("at {step}: {reason}"),
            other => describe(other),
        };
        eprintln!(
            "{:<14} {:<15} {:<12} {:>6.1}s  {detail}",
            r.service,
            r.host,
            r.outcome.label(),
            r.seconds
        );
        if let Outcome::Failed { output, .. } = &r.outcome {
            for l in output {
                eprintln!("{:>31}| {l}", "");
            }
        }
    }
    eprintln!("{}", deploy::summary_line(results));
}

/// What a command about one service needs: the manifest, config, runtime,
/// the service itself and the command templates.
fn one_service(
    global: &GlobalArgs,
    service: &str,
) -> Result<
    (
        Manifest,
        Config,
        tokio::runtime::Runtime,
        crate::manifest::Service,
        Templates,
    ),
    ExitCode,
> {
    let (manifest, config, runtime) = super::status::setup(global)?;
    let svc = super::status::find_service(&manifest, service)?.clone();
    let templates = templates(&manifest, &config)?;
    Ok((manifest, config, runtime, svc, templates))
}

pub fn generations_cmd(global: &GlobalArgs, service: &str, as_json: bool) -> ExitCode {
    let (manifest, config, runtime, svc, templates) = match one_service(global, service) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let profile = base_vars(&global.manifest, &manifest, &config)["profile"].clone();
    runtime.block_on(async move {
        let pool = match super::status::open_pool(&config) {
            Ok(p) => p,
            Err(code) => return code,
        };
        let res = generations::list(&pool, &templates, &svc.ip.to_string(), &profile).await;
        pool.close_all().await;
        match res {
            Ok(gens) if as_json => {
                println!(
                    "{}",
                    serde_json::to_string(&gens).unwrap_or_else(|_| "[]".into())
                );
                ExitCode::SUCCESS
            }
            Ok(gens) => {
                println!("{:>4}  {:<19}  {:<8}  PATH", "GEN", "DATE", "");
                for g in gens {
                    println!(
                        "{:>4}  {:<19}  {:<8}  {}",
                        g.generation,
                        g.date,
                        if g.current { "current" } else { "" },
                        g.path
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        }
    })
}

pub fn rollback_cmd(
    global: &GlobalArgs,
    service: &str,
    to: Option<u64>,
    yes: bool,
    break_lock: bool,
) -> ExitCode {
    let (manifest, config, runtime, svc, templates) = match one_service(global, service) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let audit = match Audit::open(config.audit_log.as_deref()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: cannot open the audit log: {e}");
            return ExitCode::from(1);
        }
    };
    let vars = base_vars(&global.manifest, &manifest, &config);
    let graph = DepGraph::from_manifest(&manifest);
    runtime.block_on(async move {
        let pool = match super::status::open_pool(&config) {
            Ok(p) => p,
            Err(code) => return code,
        };
        let ip = svc.ip.to_string();
        let code = async {
            let gens = match generations::list(&pool, &templates, &ip, &vars["profile"]).await {
                Ok(g) => g,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            };
            let (from, target) = match rollback::choose(&gens, to, &format!("{service} ({ip})")) {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            };
            let dependents: BTreeSet<String> = graph.dependents(service).unwrap_or_default();
            eprintln!(
                "plan: switch {service} ({ip}) from generation {from} to {target}, then check its health{}",
                if dependents.is_empty() {
                    String::new()
                } else {
                    format!("; depending on it: {}", dependents.into_iter().collect::<Vec<_>>().join(", "))
                }
            );
            if !yes && !confirm("Roll back?") {
                return ExitCode::from(1);
            }
            let (tx, rx) = mpsc::unbounded_channel();
            let printer = tokio::spawn(print_progress(rx, Instant::now(), true));
            let rb = Rollback {
                pool: pool.clone(),
                templates: &templates,
                profile: &vars["profile"],
                lock_dir: &vars["lock_dir"],
                audit: &audit,
                op: op_id(),
                events: tx,
                break_lock,
            };
            let res = rb.run(&svc, from, target).await;
            drop(rb);
            let _ = printer.await;
            match res {
                Ok(r) if r.healthy => ExitCode::SUCCESS,
                Ok(r) => {
                    eprintln!("{service} is on generation {} but not healthy: {}", r.to, r.detail);
                    eprintln!("next: `nixmox logs {service}` to see why, or roll back further with --to N");
                    ExitCode::from(1)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        .await;
        pool.close_all().await;
        code
    })
}
