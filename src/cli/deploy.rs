//! `nixmox deploy`: asks the fleet for the plan, confirms it, starts the
//! deploy, prints its progress, summary and JSON from the typed outcomes,
//! and maps them to the exit code.

use super::progress::{self, describe};
use super::{signals, GlobalArgs};
use crate::backend::deploy_preview::{to_deploy, HostPreview};
use crate::backend::fleet::{self, DeployOptions, Fleet, Plan};
use crate::backend::history::OpTrouble;
use crate::backend::outcome::{summary_line, HostResult, Outcome};
use crate::backend::progress::Reporter;
use std::collections::BTreeSet;
use std::process::ExitCode;
use tokio::sync::mpsc;

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
    /// Deploy hosts whose built system is what they already run, too (they are skipped otherwise).
    #[arg(long)]
    pub force: bool,
    /// At most this many hosts at once within a wave.
    #[arg(long, default_value_t = fleet::DEFAULT_PARALLEL)]
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
    /// Seconds each host waits, after activating, for this deploy to confirm (once its health
    /// gate passed) before it switches back by itself. 0 disables that host-side rollback.
    /// Default: the manifest's `deploy.confirm_timeout_secs`, else 60.
    #[arg(long, value_name = "SECS")]
    pub confirm_timeout: Option<u64>,
}

pub fn run(global: &GlobalArgs, a: DeployArgs) -> ExitCode {
    let (fleet, runtime) = match super::status::open_fleet(global) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let names: Vec<String> = if a.all || (a.changed && a.services.is_empty()) {
        Vec::new()
    } else if a.services.is_empty() {
        eprintln!("error: name the services to deploy, or pass --all (or --changed)");
        return ExitCode::from(2);
    } else {
        a.services.clone()
    };
    if let Err(e) = fleet.ready() {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    // --changed looks at what depends on the named services too: a change
    // brings its dependents along.
    let selection = match fleet.select(&names, a.with_dependents || a.changed) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let code = deploy(&fleet, &a, selection).await;
        fleet.close().await;
        code
    })
}

async fn deploy(fleet: &Fleet, a: &DeployArgs, selection: BTreeSet<String>) -> ExitCode {
    let signals = signals::watch();
    let names: Vec<String> = selection.iter().cloned().collect();
    progress::report_reconciled(fleet, Some(&names)).await;
    let (tx, rx) = mpsc::unbounded_channel();
    let printer = tokio::spawn(progress::print(rx, !a.json));
    let op = fleet::op_id();
    let results = plan_and_run(fleet, a, selection, Reporter::new(op, tx), &signals).await;
    // Every sender is gone now: the printer drains and ends.
    let _ = printer.await;
    let (results, previews) = match results {
        Ok(r) => r,
        Err(code) => return code,
    };
    let trouble = fleet.trouble(op);
    print_summary(&results);
    print_trouble(&trouble);
    if a.json {
        print_json_with_preview(&results, &trouble, &previews);
    }
    if let Some(sig) = signals.received() {
        eprintln!("stopped by {sig}");
        return ExitCode::from(1);
    }
    if results.iter().all(|r| r.outcome.ok()) && trouble.locks_left.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Audit writes that failed and locks left behind, loudly, after the
/// summary (they are not any host's outcome, but the operator must know).
pub(super) fn print_trouble(trouble: &OpTrouble) {
    for e in &trouble.audit_errors {
        eprintln!("AUDIT LOG WRITE FAILED: {e} (what was done is NOT fully recorded)");
    }
    for (service, why) in &trouble.locks_left {
        eprintln!("LOCK LEFT: {service}: {why}; the next nixmox that reaches the host removes it");
    }
}

/// The per-host results as JSON on stdout (`[{service, host, result,
/// ...}]`), each with `lock_left` (why) when its lock could not be
/// released and `audit_error` when the audit log could not be written.
pub(super) fn print_json(results: &[HostResult], trouble: &OpTrouble) {
    if trouble.is_empty() {
        progress::print_json(results);
        return;
    }
    println!("{}", json_rows(results, trouble));
}

/// [`print_json`], each row with its host's `preview` (see
/// [`HostPreview`]) when there is one.
fn print_json_with_preview(results: &[HostResult], trouble: &OpTrouble, previews: &[HostPreview]) {
    let mut rows = json_rows(results, trouble);
    for row in rows.as_array_mut().into_iter().flatten() {
        let service = row["service"].as_str().unwrap_or_default().to_string();
        let (Some(row), Some(p)) = (
            row.as_object_mut(),
            previews.iter().find(|p| p.service == service),
        ) else {
            continue;
        };
        if let Ok(v) = serde_json::to_value(p) {
            row.insert("preview".into(), v);
        }
    }
    println!("{rows}");
}

fn json_rows(results: &[HostResult], trouble: &OpTrouble) -> serde_json::Value {
    let mut rows = serde_json::to_value(results).unwrap_or_else(|_| serde_json::json!([]));
    if let Some(rows) = rows.as_array_mut() {
        for row in rows {
            let service = row["service"].as_str().unwrap_or_default().to_string();
            let Some(row) = row.as_object_mut() else {
                continue;
            };
            if let Some((_, why)) = trouble.locks_left.iter().find(|(s, _)| *s == service) {
                row.insert("lock_left".into(), why.clone().into());
            }
            if !trouble.audit_errors.is_empty() {
                row.insert("audit_error".into(), trouble.audit_errors.join("; ").into());
            }
        }
    }
    rows
}

/// Everything up to the results (with the hosts skipped as unchanged,
/// and the preview); Err is the exit code of a refusal or of nothing to
/// do, already explained on stderr.
async fn plan_and_run(
    fleet: &Fleet,
    a: &DeployArgs,
    selection: BTreeSet<String>,
    progress: Reporter,
    signals: &signals::Signals,
) -> Result<(Vec<HostResult>, Vec<HostPreview>), ExitCode> {
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("error: {e}");
        ExitCode::from(1)
    };
    let plan = fleet.plan(&selection).map_err(|e| fail(&e))?;
    let previews = fleet.preview(&plan, progress.clone()).await;
    if a.changed {
        // Only what changed and what comes along: the rest is not part of
        // this deploy at all, as if never named.
        let kept = to_deploy(&previews, false);
        if kept.is_empty() {
            eprintln!("nothing to deploy: every host already runs what the manifest builds");
            return Err(ExitCode::SUCCESS);
        }
        let plan = fleet.plan(&kept).map_err(|e| fail(&e))?;
        let previews: Vec<HostPreview> = previews
            .into_iter()
            .filter(|p| kept.contains(&p.service))
            .collect();
        return confirm_and_deploy(fleet, a, plan, previews, progress, signals).await;
    }
    let kept = to_deploy(&previews, a.force);
    if kept.is_empty() {
        print_plan(fleet, &plan);
        print_preview(&previews, a.force);
        eprintln!("nothing to deploy: every host already runs what the manifest builds (--force deploys anyway)");
        return Ok((skipped(&previews), previews));
    }
    let plan = fleet.plan(&kept).map_err(|e| fail(&e))?;
    let (mut results, previews) =
        confirm_and_deploy(fleet, a, plan, previews, progress, signals).await?;
    results.extend(
        skipped(&previews)
            .into_iter()
            .filter(|r| !kept.contains(&r.service)),
    );
    Ok((results, previews))
}

/// Shows the plan of the hosts to deploy and every host's preview, then
/// the warnings, asks, and deploys.
async fn confirm_and_deploy(
    fleet: &Fleet,
    a: &DeployArgs,
    plan: Plan,
    previews: Vec<HostPreview>,
    progress: Reporter,
    signals: &signals::Signals,
) -> Result<(Vec<HostResult>, Vec<HostPreview>), ExitCode> {
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("error: {e}");
        ExitCode::from(1)
    };
    print_plan(fleet, &plan);
    print_preview(&previews, a.force);
    if !a.yes && !progress::confirm("Deploy?") {
        return Err(ExitCode::from(1));
    }
    let options = DeployOptions {
        parallel: a.parallel,
        break_lock: a.break_lock,
        confirm_timeout_secs: a.confirm_timeout,
    };
    let handle = fleet
        .deploy(plan, options, progress)
        .map_err(|e| fail(&e))?;
    signals.attach(handle.canceller());
    let results = handle.wait().await.map_err(|e| fail(&e))?;
    Ok((results, previews))
}

/// The hosts a deploy leaves alone because they already run their build.
fn skipped(previews: &[HostPreview]) -> Vec<HostResult> {
    previews
        .iter()
        .filter(|p| p.skippable())
        .map(|p| HostResult {
            service: p.service.clone(),
            host: p.host.clone(),
            outcome: Outcome::Unchanged { generation: None },
            seconds: 0.0,
        })
        .collect()
}

/// One line per host: changed or not (and why it comes along), then what
/// stands in the way, if anything.
fn print_preview(previews: &[HostPreview], force: bool) {
    eprintln!("preview:");
    for p in previews {
        eprintln!(
            "  {:<14} {:<15} {:<11} lock {:<14} deps {:<8} {}",
            p.service,
            p.host,
            if p.reachable {
                "reachable"
            } else {
                "UNREACHABLE"
            },
            p.lock_text(),
            p.dependencies_text(),
            p.change_text(force),
        );
    } // Last, right above the question.
    for w in previews.iter().flat_map(HostPreview::warnings) {
        eprintln!("warning: {w}");
    }
}

fn print_plan(fleet: &Fleet, plan: &Plan) {
    let m = fleet.manifest();
    eprintln!(
        "plan: {} host(s) in {} wave(s)",
        plan.hosts(),
        plan.waves.len()
    );
    for (i, w) in plan.waves.iter().enumerate() {
        let items: Vec<String> = w
            .iter()
            .map(|n| match m.services.get(n) {
                Some(s) => format!("{n} ({})", s.ip),
                None => n.clone(),
            })
            .collect();
        eprintln!("  wave {}: {}", i + 1, items.join(", "));
    }
}

fn print_summary(results: &[HostResult]) {
    eprintln!();
    eprintln!(
        "{:<14} {:<15} {:<12} {:>7}  DETAIL",
        "SERVICE", "HOST", "RESULT", "TIME"
    );
    let generation = |g: &Option<u64>| g.map_or("-".into(), |g| g.to_string());
    for r in results {
        let detail = match &r.outcome {
            Outcome::Deployed {
                generation_before,
                generation_after,
            } => format!(
                "generation {} -> {}",
                generation(generation_before),
                generation(generation_after)
            ),
            Outcome::RolledBack {
                reason,
                to_generation,
                healthy_again,
                ..
            } => format!(
                "back on generation {} ({}) because: {reason}",
                generation(to_generation),
                if *healthy_again {
                    "healthy again"
                } else {
                    "STILL UNHEALTHY"
                }
            ),
            Outcome::Failed { step, reason, .. } => format!("at {step}: {reason}"),
            Outcome::Unchanged { .. } => "unchanged, skipped".into(),
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
    eprintln!("{}", summary_line(results));
}
