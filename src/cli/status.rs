//! `nixmox status`: one sweep, or a live table, of every service's health.

use super::GlobalArgs;
use crate::app::model::health::{HealthBoard as Board, StatusLine};
use crate::backend::health::{HealthEvent, Options, Scheduler, Target};
use crate::backend::sanitize;
use crate::backend::ssh::SshPool;
use crate::config::Config;
use crate::manifest::DepGraph;
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

pub(crate) fn run(global: &GlobalArgs, watch: bool, as_json: bool) -> ExitCode {
    let (manifest, config, runtime) = match setup(global) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let graph = DepGraph::from_manifest(&manifest);
    let targets = Target::from_manifest(&manifest);
    runtime.block_on(async move {
        let pool = match open_pool(&config) {
            Ok(p) => p,
            Err(code) => return code,
        };
        let code = if watch {
            watch_loop(&pool, &targets, &graph, as_json).await
        } else {
            sweep(&pool, &targets, &graph, &config, as_json).await
        };
        pool.close_all().await;
        code
    })
}

async fn sweep(
    pool: &Arc<SshPool>,
    targets: &[Target],
    graph: &DepGraph,
    config: &Config,
    as_json: bool,
) -> ExitCode {
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
    let lines = board.lines(graph);
    print_lines(&lines, as_json);
    exit_for(&board)
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
