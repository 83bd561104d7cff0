//! `nixmox status`: one sweep, or a live table, of every service's health.

use super::GlobalArgs;
use crate::app::model::health::{HealthBoard as Board, StatusLine};
use crate::backend::deploy_preview::Change;
use crate::backend::fleet::Fleet;
use crate::backend::health::{HealthEvent, Options, Scheduler, Target};
use crate::backend::lock::LockState;
use crate::backend::sanitize;
use crate::backend::ssh::SshPool;
use crate::config::Config;
use crate::manifest::DepGraph;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Exit code when any service is not up.
pub(crate) const NOT_ALL_UP: u8 = 3;

/// What every ssh-using command needs: a valid manifest, the console
/// config and an async runtime.
pub(crate) fn setup(
    global: &GlobalArgs,
) -> Result<(crate::manifest::Manifest, Config, tokio::runtime::Runtime), ExitCode> {
    let manifest = super::usable(global)?;
    let config = Config::load_optional(global.config.as_deref()).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(1)
    })?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| {
        eprintln!("error: cannot start the async runtime: {e}");
        ExitCode::from(1)
    })?;
    Ok((manifest, config, runtime))
}

/// The ssh pool for a command; on failure the error is printed.
pub(crate) fn open_pool(config: &Config) -> Result<Arc<SshPool>, ExitCode> {
    crate::backend::fleet::open_pool(&config.ssh).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(1)
    })
}

/// The operations core for a command that changes or inspects hosts, and a
/// runtime to drive it; on failure the error is printed.
pub(crate) fn open_fleet(
    global: &GlobalArgs,
) -> Result<(crate::backend::fleet::Fleet, tokio::runtime::Runtime), ExitCode> {
    let (manifest, config, runtime) = setup(global)?;
    match crate::backend::fleet::Fleet::open(manifest, &global.manifest, config) {
        Ok(fleet) => Ok((fleet, runtime)),
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(1))
        }
    }
}

/// The named service, or an error listing the known ones.
pub(crate) fn find_service<'a>(
    m: &'a crate::manifest::Manifest,
    service: &str,
) -> Result<&'a crate::manifest::Service, ExitCode> {
    m.services.get(service).ok_or_else(|| {
        eprintln!(
            "error: unknown service {service:?} (known: {})",
            m.services.keys().cloned().collect::<Vec<_>>().join(", ")
        );
        ExitCode::from(1)
    })
}

pub(crate) fn bench_sweep(global: &GlobalArgs, rounds: u32) -> ExitCode {
    let (manifest, config, runtime) = match setup(global) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let targets = Target::from_manifest(&manifest);
    runtime.block_on(async move {
        let pool = match open_pool(&config) {
            Ok(p) => p,
            Err(code) => return code,
        };
        let (warm, warm_failed) = crate::backend::health::sweep(&pool, &targets).await;
        let mut times = Vec::new();
        let mut failed = 0;
        for _ in 0..rounds {
            let (t, f) = crate::backend::health::sweep(&pool, &targets).await;
            times.push(t.as_secs_f64() * 1000.0);
            failed += f;
        }
        times.sort_by(f64::total_cmp);
        let masters = pool.open_masters().await;
        println!(
            "{}",
            serde_json::json!({
                "hosts": targets.len(),
                "masters": masters,
                "first_sweep_ms": warm.as_secs_f64() * 1000.0,
                "first_sweep_failed": warm_failed,
                "rounds": rounds,
                "median_ms": times.get(times.len() / 2),
                "min_ms": times.first(),
                "max_ms": times.last(),
                "failed": failed,
            })
        );
        pool.close_all().await;
        ExitCode::SUCCESS
    })
}

/// `drift`: also build what the manifest would deploy and say which hosts
/// run something else (always part of `--json`).
pub(crate) fn run(global: &GlobalArgs, watch: bool, as_json: bool, drift: bool) -> ExitCode {
    let (fleet, runtime) = match open_fleet(global) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let targets = Target::from_manifest(fleet.manifest());
    runtime.block_on(async move {
        // Interrupted operations first: their locks go, their end is told.
        super::progress::report_reconciled(&fleet, None).await;
        let pool = fleet.pool().clone();
        let graph = fleet.graph().clone();
        let code = if watch {
            watch_loop(&pool, &targets, &graph, as_json).await
        } else {
            sweep(&fleet, &targets, as_json, drift || as_json).await
        };
        fleet.close().await;
        code
    })
}

async fn sweep(fleet: &Fleet, targets: &[Target], as_json: bool, drift: bool) -> ExitCode {
    let pool = fleet.pool();
    let config = fleet.config();
    // What each host runs against what the manifest builds, while the
    // probes run (it builds every system).
    let drifted = drift.then(|| {
        let fleet = fleet.clone();
        tokio::spawn(async move { fleet.drift().await })
    });
    // Each host's lock, read while the probes run.
    let locks = {
        let fleet = fleet.clone();
        tokio::spawn(async move { fleet.locks().await })
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let options = Options {
        fast_retry: Some(Duration::from_millis(300)),
        max_interval: Some(Duration::from_millis(300)),
    };
    let scheduler = Scheduler::spawn(pool.clone(), targets.to_vec(), options, tx);
    let mut board = Board::new(targets);
    // Long enough for every probe to use all its retries, each up to its
    // timeout, after a connect that may itself time out.
    let worst = targets
        .iter()
        .filter_map(|t| t.health.as_ref())
        .map(|h| u64::from(h.retries) * (h.timeout + 1))
        .max()
        .unwrap_or(0);
    let deadline = Duration::from_secs(worst + config.ssh.connect_timeout_secs + 5);
    let _ = tokio::time::timeout(deadline, async {
        while !board.settled() {
            match rx.recv().await {
                Some(ev) => {
                    board.apply(&ev);
                }
                None => break,
            }
        }
    })
    .await;
    scheduler.shutdown().await;
    let locks = locks.await.unwrap_or_default();
    let drift = match drifted {
        Some(task) => Some(task.await.unwrap_or_default()),
        None => None,
    };
    let lines = board.lines(fleet.graph());
    if as_json {
        print_json_with_locks(&lines, &locks, drift.as_ref());
    } else {
        print_lines(&lines, false);
        print_lock_notes(&locks);
        if let Some(drift) = &drift {
            print_drift_notes(drift);
        }
    }
    exit_for(&board)
}

type Locks = BTreeMap<String, Result<LockState, String>>;

/// A lock as `status --json` shows it: `null` when there is none,
/// else `{holder, op, pid, since, age_secs, stale}`, `{foreign}` for a
/// `lock_dir` that is not a nixmox lock, `{error}` when it was not read.
fn lock_json(lock: Option<&Result<LockState, String>>) -> serde_json::Value {
    match lock {
        None | Some(Ok(LockState::Free)) => serde_json::Value::Null,
        Some(Ok(LockState::Held {
            holder,
            age_secs,
            stale,
        })) => serde_json::json!({
            "holder": format!("{}: {}", holder.user, holder.action),
            "op": holder.op,
            "pid": holder.pid,
            "since": holder.since,
            "age_secs": age_secs,
            "stale": stale,
        }),
        Some(Ok(LockState::Foreign(why))) => serde_json::json!({ "foreign": why }),
        Some(Err(e)) => serde_json::json!({ "error": e }),
    }
}

type Drift = BTreeMap<String, Change>;

/// Each row gets its `lock` and, when looked for, its `drift`: `{state:
/// "changed", built, running}`, `{state: "unchanged", path}` or `{state:
/// "unknown", why}`.
fn print_json_with_locks(lines: &[StatusLine], locks: &Locks, drift: Option<&Drift>) {
    let mut rows = serde_json::to_value(lines).unwrap_or_else(|_| serde_json::json!([]));
    if let Some(rows) = rows.as_array_mut() {
        for row in rows {
            let service = row["service"].as_str().unwrap_or_default().to_string();
            if let Some(row) = row.as_object_mut() {
                row.insert("lock".into(), lock_json(locks.get(&service)));
                if let Some(drift) = drift {
                    let d = drift
                        .get(&service)
                        .and_then(|c| serde_json::to_value(c).ok())
                        .unwrap_or(serde_json::Value::Null);
                    row.insert("drift".into(), d);
                }
            }
        }
    }
    println!("{rows}");
}

/// One line per host that runs something else than the manifest builds
/// (or could not be compared).
fn print_drift_notes(drift: &Drift) {
    let mut outdated = 0;
    for (service, change) in drift {
        match change {
            Change::Changed { built, running } => {
                outdated += 1;
                println!("outdated: {service} runs {running}; the manifest builds {built}");
            }
            Change::Unknown { why } => println!("drift unknown: {service}: {why}"),
            Change::Unchanged { .. } => {}
        }
    }
    if outdated == 0 {
        println!("no drift: every host compared runs what the manifest builds");
    }
}

/// One line under the table per locked host (none when nothing is held).
fn print_lock_notes(locks: &Locks) {
    for (service, lock) in locks {
        match lock {
            Ok(LockState::Free) | Err(_) => {}
            Ok(LockState::Held {
                holder,
                age_secs,
                stale,
            }) => println!(
                "lock: {service}: held by {} since {}{}",
                holder.describe(),
                holder.since,
                if *stale {
                    format!(" — STALE (no heartbeat for {age_secs}s, or its process is gone): `--break-lock` breaks it")
                } else {
                    format!(" (heartbeat {age_secs}s ago)")
                }
            ),
            Ok(LockState::Foreign(why)) => {
                println!("lock: {service}: lock_dir is not a nixmox lock ({why})")
            }
        }
    }
}

async fn watch_loop(
    pool: &Arc<SshPool>,
    targets: &[Target],
    graph: &DepGraph,
    as_json: bool,
) -> ExitCode {
    let (tx, mut rx) = mpsc::unbounded_channel::<HealthEvent>();
    let scheduler = Scheduler::spawn(pool.clone(), targets.to_vec(), Options::default(), tx);
    let mut board = Board::new(targets);
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let Some(ev) = ev else { break };
                let mut changed = board.apply(&ev);
                // Coalesce a burst of events into one redraw.
                while let Ok(ev) = rx.try_recv() {
                    changed |= board.apply(&ev);
                }
                if changed {
                    if !as_json {
                        print!("\x1b[H\x1b[2J");
                    }
                    print_lines(&board.lines(graph), as_json);
                    let _ = std::io::stdout().flush();
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    scheduler.shutdown().await;
    exit_for(&board)
}

fn exit_for(board: &Board) -> ExitCode {
    if board.all_up() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(NOT_ALL_UP)
    }
}

fn print_lines(lines: &[StatusLine], as_json: bool) {
    if as_json {
        println!(
            "{}",
            serde_json::to_string(lines).unwrap_or_else(|_| "[]".into())
        );
        return;
    }
    let width = lines
        .iter()
        .map(|l| l.service.len())
        .max()
        .unwrap_or(7)
        .max(7);
    println!(
        "{:<width$}  {:<15}  {:<11}  {:>8}  {:<8}  LAST ERROR",
        "SERVICE", "HOST", "STATE", "LATENCY", "SINCE"
    );
    for l in lines {
        let latency = l
            .latency_ms
            .map_or("-".to_string(), |ms| format!("{ms:.1}ms"));
        let since = l
            .since
            .as_deref()
            .and_then(|s| s.get(11..19))
            .unwrap_or("-");
        // Sanitised (and capped) where it was read; once more here, as this
        // is the terminal: sanitised text passes unchanged, and the wider
        // cap leaves the first one's count alone.
        let mut error = l
            .error
            .as_deref()
            .map(|e| sanitize::line_capped(e.as_bytes(), 2 * sanitize::MAX_LINE))
            .unwrap_or_default();
        if !l.impacted_by.is_empty() {
            if !error.is_empty() {
                error.push_str("; ");
            }
            error.push_str(&format!("impacted: {} not up", l.impacted_by.join(", ")));
        }
        println!(
            "{:<width$}  {:<15}  {:<11}  {:>8}  {:<8}  {}",
            l.service,
            l.host,
            l.state.as_str(),
            latency,
            since,
            error
        );
    }
}
