//! What `deploy` and `rollback` show on a terminal: the confirmation
//! question, colmena-like progress lines on stderr, and one line per
//! outcome. Everything is rendered from the core's typed events.

use crate::backend::outcome::Outcome;
use crate::backend::progress::{OpEvent, OpEventKind};
use std::io::{BufRead, IsTerminal, Write};
use std::time::Instant;
use tokio::sync::mpsc;

/// Asks on the terminal; refuses (false) when there is no terminal.
pub(super) fn confirm(question: &str) -> bool {
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
/// Output lines only when `verbose` (wave headers and audit trouble always).
pub(super) async fn print(mut rx: mpsc::UnboundedReceiver<OpEvent>, verbose: bool) {
    let started = Instant::now();
    while let Some(ev) = rx.recv().await {
        let t = started.elapsed().as_secs_f64();
        match ev.kind {
            OpEventKind::Started { title } => eprintln!("[{t:6.1}s] {title}"),
            OpEventKind::Step { host, step } => {
                eprintln!("[{t:6.1}s] {:<14} {step}", host.unwrap_or_default())
            }
            OpEventKind::Line { line } if verbose => eprintln!("           {line}"),
            OpEventKind::Line { .. } => {}
            OpEventKind::Notice { line } => eprintln!("           {line}"),
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

fn generation(g: &Option<u64>) -> String {
    g.map_or("-".into(), |g| g.to_string())
}

/// One line saying what happened to a host, for progress and summaries.
pub(super) fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Deployed {
            generation_before,
            generation_after,
        } => format!(
            "deployed: generation {} -> {}",
            generation(generation_before),
            generation(generation_after)
        ),
        Outcome::Unchanged { generation: g } => {
            format!("unchanged: already on generation {}", generation(g))
        }
        Outcome::RolledBack {
            to_generation,
            healthy_again,
            ..
        } => format!(
            "rolled back to generation {}{}",
            generation(to_generation),
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

/// The per-host results as JSON on stdout (`[{service, host, result, ...}]`).
pub(super) fn print_json(results: &[crate::backend::outcome::HostResult]) {
    println!(
        "{}",
        serde_json::to_string(results).unwrap_or_else(|_| "[]".into())
    );
}

/// Interrupted operations on these hosts, reconciled before anything
/// else touches them, each said on stderr.
pub(super) async fn report_reconciled(
    fleet: &crate::backend::fleet::Fleet,
    services: Option<&[String]>,
) {
    for r in fleet.reconcile(services).await {
        eprintln!("{}", r.message());
    }
}
