//! `nixmox rollback` and `nixmox generations`: ask the fleet where a host
//! can go back to, confirm, start the rollback, print its progress and
//! typed outcome (JSON with `--json`), and map it to the exit code.

use super::progress;
use super::{signals, GlobalArgs};
use crate::backend::fleet::{self, Fleet, OnChange, RollbackRequest};
use crate::backend::outcome::{HostResult, Outcome, Step};
use crate::backend::progress::Reporter;
use std::process::ExitCode;
use tokio::sync::mpsc;

/// A fleet that knows `service`, with a runtime to drive it.
fn open_for(
    global: &GlobalArgs,
    service: &str,
) -> Result<(Fleet, tokio::runtime::Runtime), ExitCode> {
    let (fleet, runtime) = super::status::open_fleet(global)?;
    if let Err(e) = fleet.service(service) {
        eprintln!("error: {e}");
        return Err(ExitCode::from(1));
    }
    Ok((fleet, runtime))
}

pub fn generations(global: &GlobalArgs, service: &str, as_json: bool) -> ExitCode {
    let (fleet, runtime) = match open_for(global, service) {
        Ok(x) => x,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let res = fleet.generations(service).await;
        fleet.close().await;
        match res {
            Ok(gens) if as_json => {
                println!(
                    "{}",
                    serde_json::to_string(&gens).unwrap_or_else(|_| "[]".into())
                );
                ExitCode::SUCCESS
            }
            Ok(gens) => {
                println!("{:>4}  {:<19}  {:<16}  PATH", "GEN", "DATE", "");
                for g in gens {
                    let marks: Vec<&str> = [
                        (g.current, "current"),
                        (g.running, "running"),
                        (!g.present, "DANGLING"),
                    ]
                    .into_iter()
                    .filter_map(|(on, word)| on.then_some(word))
                    .collect();
                    println!(
                        "{:>4}  {:<19}  {:<16}  {}",
                        g.generation,
                        crate::backend::sanitize::line(g.date.as_bytes()),
                        marks.join(","),
                        crate::backend::sanitize::line(g.path.as_bytes())
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

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    pub service: String,
    /// The generation to switch to.
    #[arg(long)]
    pub to: Option<u64>,
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Break a STALE lock (one whose holder stopped refreshing it).
    #[arg(long)]
    pub break_lock: bool,
    /// Print the host's result as JSON on stdout ([{service, host, result, ...}], like deploy).
    #[arg(long)]
    pub json: bool,
}

pub fn rollback(global: &GlobalArgs, a: RollbackArgs) -> ExitCode {
    let (fleet, runtime) = match open_for(global, &a.service) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if let Err(e) = fleet.ready() {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    runtime.block_on(async move {
        let code = rollback_host(&fleet, &a).await;
        fleet.close().await;
        code
    })
}

async fn rollback_host(fleet: &Fleet, a: &RollbackArgs) -> ExitCode {
    loop {
        match rollback_once(fleet, a).await {
            Attempt::Done(code) => return code,
            // The host changed between the prompt and the lock: show the
            // new plan and ask again.
            Attempt::Changed(why) => eprintln!("{why}; planning again"),
        }
    }
}

enum Attempt {
    Done(ExitCode),
    Changed(String),
}

async fn rollback_once(fleet: &Fleet, a: &RollbackArgs) -> Attempt {
    let code = |c: u8| Attempt::Done(ExitCode::from(c));
    let service = a.service.as_str();
    let signals = signals::watch();
    super::progress::report_reconciled(fleet, Some(std::slice::from_ref(&a.service))).await;
    let (from, to) = match fleet.rollback_target(service, a.to).await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return code(1);
        }
    };
    let ip = fleet.manifest().services[service].ip;
    let dependents = fleet.graph().dependents(service).unwrap_or_default();
    eprintln!(
        "plan: switch {service} ({ip}) from generation {from} to {to}, then check its health{}",
        if dependents.is_empty() {
            String::new()
        } else {
            format!(
                "; depending on it: {}",
                dependents.into_iter().collect::<Vec<_>>().join(", ")
            )
        }
    );
    if !a.yes && !progress::confirm("Roll back?") {
        return code(1);
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let printer = tokio::spawn(progress::print(rx, !a.json));
    let request = RollbackRequest {
        service: service.to_string(),
        from,
        to,
        break_lock: a.break_lock,
    };
    let on_change = if a.yes {
        OnChange::Proceed
    } else {
        OnChange::Refuse
    };
    let op = fleet::op_id();
    let started = fleet.rollback_with(request, on_change, Reporter::new(op, tx));
    let results = match started {
        Ok(handle) => {
            signals.attach(handle.canceller());
            handle.wait().await
        }
        Err(e) => Err(e.to_string()),
    };
    let _ = printer.await;
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return code(1);
        }
    };
    let trouble = fleet.trouble(op);
    super::deploy::print_trouble(&trouble);
    if let [HostResult {
        outcome:
            Outcome::Failed {
                step: Step::Plan,
                reason,
                ..
            },
        ..
    }] = results.as_slice()
    {
        return Attempt::Changed(reason.clone());
    }
    if a.json {
        super::deploy::print_json(&results, &trouble);
    }
    let exit = match results.as_slice() {
        [r] => exit_for(service, to, r),
        _ => ExitCode::from(1),
    };
    if let Some(sig) = signals.received() {
        eprintln!("stopped by {sig}");
        return code(1);
    }
    Attempt::Done(exit)
}

/// Success only for a verified switch that is healthy again; otherwise
/// says what state the host is in and what to do next.
fn exit_for(service: &str, to: u64, r: &HostResult) -> ExitCode {
    match &r.outcome {
        Outcome::RolledBack {
            healthy_again: true,
            ..
        } => return ExitCode::SUCCESS,
        Outcome::RolledBack {
            to_generation,
            health_error,
            ..
        } => {
            eprintln!(
                "{service} is on generation {} but not healthy: {}",
                to_generation.map_or("unknown".into(), |g| g.to_string()),
                health_error.as_deref().unwrap_or("health check failed")
            );
            eprintln!(
                "next: `nixmox logs {service}` to see why, or roll back further with --to N"
            );
        }
        Outcome::RollbackFailed {
            error,
            profile_generation,
            running_generation,
            ..
        } => eprintln!(
            "error: {service}: switching to generation {to} failed: {error}; its profile is on generation {}, it runs generation {}",
            profile_generation.map_or("unknown".into(), |g| g.to_string()),
            running_generation.map_or("unknown".into(), |g| g.to_string())
        ),
        Outcome::Failed { reason, .. } => eprintln!("error: {reason}"),
        other => eprintln!("error: {service}: {}", progress::describe(other)),
    }
    ExitCode::from(1)
}
