//! `nixmox rollback` and `nixmox generations`: ask the fleet where a host
//! can go back to, confirm, start the rollback, print its progress and
//! typed outcome (JSON with `--json`), and map it to the exit code.

use super::progress;
use super::{signals, GlobalArgs};
use crate::backend::fleet::{self, Fleet, RollbackRequest};
use crate::backend::outcome::{HostResult, Outcome};
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
    let service = a.service.as_str();
    let signals = signals::watch();
    super::deploy::report_reconciled(fleet, Some(std::slice::from_ref(&a.service))).await;
    let (from, to) = match fleet.rollback_target(service, a.to).await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
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
        return ExitCode::from(1);
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let printer = tokio::spawn(progress::print(rx, !a.json));
    let request = RollbackRequest {
        service: service.to_string(),
        from,
        to,
        break_lock: a.break_lock,
    };
    let op = fleet::op_id();
    let started = fleet.rollback(request, Reporter::new(op, tx));
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
            return ExitCode::from(1);
        }
    };
    let trouble = fleet.trouble(op);
    super::deploy::print_trouble(&trouble);
    if a.json {
        super::deploy::print_json(&results, &trouble);
    }
    let code = match results.as_slice() {
        [r] => exit_for(service, to, r),
        _ => ExitCode::from(1),
    };
    if let Some(sig) = signals.received() {
        eprintln!("stopped by {sig}");
        return ExitCode::from(1);
    }
    code
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
            ..
        } => eprintln!(
            "error: {service}: switching to generation {to} failed: {error}; its profile is on generation {}",
            profile_generation.map_or("unknown".into(), |g| g.to_string())
        ),
        Outcome::Failed { reason, .. } => eprintln!("error: {reason}"),
        other => eprintln!("error: {service}: {}", progress::describe(other)),
    }
    ExitCode::from(1)
}
