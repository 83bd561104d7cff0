//! The console's event loop: one bus of backend events, the terminal's keys
//! and signals, and (only while something runs) a spinner tick,
//! `tokio::select!`ed; `update` on each, with whatever else the bus already
//! holds; a draw only when state changed, at most 60 a second.

use super::bus::Bus;
use super::event::{Command, Event};
use super::model::health::HealthBoard;
use super::model::history::LastDeploy;
use super::state::{State, Theme, LOG_FRAME};
use super::update::update;
use crate::backend::fleet::{DeployOptions, Fleet, OpHandle, RollbackRequest};
use crate::backend::health::{Options, Scheduler, Target};
use crate::backend::progress::Reporter;
use crate::config::Config;
use crate::manifest::Manifest;
use crossterm::event::{Event as TermEvent, EventStream};
use futures::StreamExt;
use std::time::{Duration, SystemTime};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// Why the loop ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    Quit,
    Signal(&'static str),
    InputClosed,
}

/// Draws the whole screen from the state (`views::draw`). Passed in, so the
/// app never imports the views that read it.
pub(crate) type Draw = fn(&State, &mut ratatui::Frame);

pub(crate) async fn run(
    manifest: Manifest,
    manifest_path: String,
    config: Config,
    draw: Draw,
) -> std::io::Result<Exit> {
    let started = std::time::Instant::now();
    tracing::info!(services = manifest.services.len(), "console starting");
    // The operations core: the same construction the CLI uses.
    let mut fleet = Fleet::open(
        manifest,
        std::path::Path::new(&manifest_path),
        config.clone(),
    )
    .map_err(std::io::Error::other)?;
    // Fleets of manifests since replaced: operations they started may still
    // run on their ssh masters; closed at the end.
    let mut retired: Vec<Fleet> = Vec::new();
    let mut pool = fleet.pool().clone();
    let targets = Target::from_manifest(fleet.manifest());
    let (bus, mut events) = Bus::new();
    let mut tail: Option<LogTail> = None;
    // Operations and generations report on channels of their own types.
    let op_tx = bus.forward(Event::Op);
    let gens_tx = bus.forward(|(service, result): Gens| Event::Generations { service, result });
    let mut running: std::collections::HashMap<u64, OpHandle> = std::collections::HashMap::new();
    let manifest_file = std::path::PathBuf::from(&manifest_path);
    let mut scheduler = Scheduler::spawn(
        pool.clone(),
        targets.clone(),
        Options::default(),
        bus.forward(Event::Health),
    );
    let mut state = State::new(
        fleet.manifest().clone(),
        manifest_path,
        HealthBoard::new(&targets),
        Theme::from_env(),
    );

    let audit_path = crate::backend::audit::default_path(fleet.config().audit_log.as_deref());
    let watcher = tokio::spawn(watch_files(
        bus.clone(),
        manifest_file.clone(),
        audit_path.clone(),
    ));
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    // Installs a panic hook that restores the terminal first.
    state.lab = config.lab_dir.is_some();
    let mut terminal = ratatui::try_init()?;
    let result = async {
        let size = terminal.size()?;
        state.size = (size.width, size.height);
        let mut keys = EventStream::new();
        // What each host runs and the selected service's preview wait for
        // the first sweep's verdicts (or 3 s): the sweep has the ssh
        // masters and the CPU to itself, so every row is true sooner.
        let mut deferred: Vec<Command> = state
            .model
            .services
            .iter()
            .map(|s| Command::ListGenerations { service: s.clone() })
            .collect();
        deferred.extend(super::update::want_preview(&mut state));
        // Drift builds every system: after the truth is on screen.
        state.model.drift_off = !config.console.drift;
        deferred.push(Command::CheckDrift);
        let mut drift: Option<tokio::task::JoinHandle<()>> = None;
        let mut drift_again = false;
        let defer_until = tokio::time::Instant::now() + Duration::from_secs(3);
        let history_bus = bus.clone();
        // Interrupted operations reconciled first (an activity line, id 0,
        // says what was found), so the last deploys read next are true.
        let (reconciling, op) = (fleet.clone(), Reporter::new(0, op_tx.clone()));
        let audit_file = audit_path.clone();
        tokio::spawn(async move {
            let found = reconciling.reconcile(None).await;
            if !found.is_empty() {
                op.started(format!("reconciled {} interrupted operation part(s)", found.len()));
                found.iter().for_each(|r| op.line(None, &r.message()));
                op.finished(false, format!("{} reconciled (enter shows what was found)", found.len()));
            }
            let _ = tokio::task::spawn_blocking(move || {
                history_bus.send(Event::History(read_history(&audit_file)));
            })
            .await;
        });
        let mut tick = tokio::time::interval(Duration::from_millis(120));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        // Ages on screen move once a second (only while one is shown).
        let mut age_tick = tokio::time::interval(Duration::from_secs(1));
        age_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut last_draw = std::time::Instant::now() - LOG_FRAME;
        loop {
            if state.frame_due(last_draw.elapsed()) == Some(Duration::ZERO) {
                terminal.draw(|f| draw(&state, f))?;
                state.dirty = false;
                state.urgent = false;
                last_draw = std::time::Instant::now();
            }
            let wait = state.frame_due(last_draw.elapsed()).unwrap_or(LOG_FRAME);
            let next_frame = tokio::time::Instant::now() + wait;
            let mut commands = tokio::select! {
                ev = keys.next() => match ev {
                    Some(Ok(TermEvent::Key(k))) => update(&mut state, Event::Key(k)),
                    Some(Ok(TermEvent::Resize(w, h))) => {
                        // Drop the cached screen so nothing stale survives a resize.
                        terminal.autoresize()?;
                        update(&mut state, Event::Resize(w, h))
                    }
                    Some(Ok(_)) => Vec::new(),
                    Some(Err(_)) | None => return Ok(Exit::InputClosed),
                },
                Some(ev) = events.recv() => {
                    let mut out = update(&mut state, ev);
                    // Coalesce: whatever is already queued (a sweep
                    // finishing, a burst of log lines) makes one draw.
                    while let Ok(ev) = events.try_recv() {
                        out.extend(update(&mut state, ev));
                    }
                    out
                }
                _ = tick.tick(), if state.needs_tick() => update(&mut state, Event::Tick(SystemTime::now())),
                _ = age_tick.tick(), if !state.needs_tick() && state.shows_age() => {
                    update(&mut state, Event::Tick(SystemTime::now()))
                }
                // A change that came too soon after the last frame is
                // drawn when the frame's time is up.
                _ = tokio::time::sleep_until(next_frame), if state.dirty => Vec::new(),
                _ = tokio::time::sleep_until(defer_until), if !deferred.is_empty() => Vec::new(),
                _ = sigterm.recv() => return Ok(Exit::Signal("SIGTERM")),
                _ = sighup.recv() => return Ok(Exit::Signal("SIGHUP")),
            };
            if !deferred.is_empty()
                && (state.model.health.settled() || tokio::time::Instant::now() >= defer_until)
            {
                tracing::info!(
                    settled = state.model.health.settled(),
                    after_ms = started.elapsed().as_millis() as u64,
                    "first sweep done"
                );
                commands.append(&mut deferred);
            }
            // A look for drift asked for while one ran starts when it ends
            // (its answer is what woke the loop).
            if drift_again && drift.as_ref().is_none_or(|d| d.is_finished()) {
                drift_again = false;
                commands.push(Command::CheckDrift);
            }
            for c in commands {
                match c {
                    Command::CheckDrift if state.model.drift_off => {}
                    Command::CheckDrift => {
                        if drift.as_ref().is_some_and(|d| !d.is_finished()) {
                            drift_again = true;
                        } else {
                            let (fleet, bus) = (fleet.clone(), bus.clone());
                            drift = Some(tokio::spawn(async move {
                                bus.send(Event::Drift(fleet.drift().await));
                            }));
                        }
                    }
                    Command::Quit => return Ok(Exit::Quit),
                    Command::Reprobe(service) => scheduler.reprobe(service.as_deref()),
                    Command::OpenLogs { tail: id, host, unit, .. } => {
                        if let Some(old) = tail.take() {
                            old.stop().await;
                        }
                        // Tagged with its id: what an earlier tail still
                        // has queued is dropped by `update`.
                        tail = Some(LogTail::One(crate::backend::logs::start(
                            pool.clone(),
                            host,
                            unit,
                            200,
                            true,
                            bus.forward(move |event| Event::Log { tail: id, event }),
                        )));
                    }
                    Command::OpenMergedLogs { tail: id, sources } => {
                        if let Some(old) = tail.take() {
                            old.stop().await;
                        }
                        tail = Some(LogTail::Many(crate::backend::logs::start_many(
                            pool.clone(),
                            sources,
                            200,
                            true,
                            bus.forward(move |event| Event::MergedLog { tail: id, event }),
                        )));
                    }
                    Command::LoadPreview(service) => {
                        load_preview(&bus, &manifest_file, service);
                    }
                    Command::CloseLogs => {
                        if let Some(old) = tail.take() {
                            old.stop().await;
                        }
                    }
                    Command::Deploy { op, services, with_dependents } => {
                        let started = fleet
                            .select(&services, with_dependents)
                            .and_then(|sel| fleet.plan(&sel))
                            .map_err(|e| format!("cannot plan: {e}"))
                            .and_then(|plan| {
                                fleet
                                    .deploy(plan, DeployOptions::default(), Reporter::new(op, op_tx.clone()))
                                    .map_err(|e| format!("cannot deploy: {e}"))
                            });
                        match started {
                            Ok(h) => {
                                running.insert(op, h);
                            }
                            Err(e) => {
                                state.message = Some(e);
                                state.dirty = true;
                            }
                        }
                    }
                    Command::ListGenerations { service } => {
                        list_generations(&fleet, service, gens_tx.clone());
                    }
                    Command::PreviewDeploy { id, services, with_dependents } => {
                        preview_deploy(&fleet, &bus, id, (services, with_dependents), state.model.health.states());
                    }
                    Command::Rollback { op, service, from, to } => {
                        let request = RollbackRequest { service, from, to, break_lock: false };
                        match fleet.rollback(request, Reporter::new(op, op_tx.clone())) {
                            Ok(h) => {
                                running.insert(op, h);
                            }
                            Err(e) => {
                                state.message = Some(format!("cannot roll back: {e}"));
                                state.dirty = true;
                            }
                        }
                    }
                    Command::BreakLock { op, service } => {
                        let fleet = fleet.clone();
                        let bus = bus.clone();
                        tokio::spawn(async move {
                            let result = fleet
                                .break_lock(&service, op)
                                .await
                                .map(|h| h.map(|h| format!("{} ({} since {})", h.user, h.action, h.since)));
                            bus.send(Event::LockBroken { service, result });
                        });
                    }
                    Command::ReopenFleet => {
                        // The plan and the build read the same file from
                        // here on: a fleet of the manifest now shown.
                        match Fleet::open(state.model.manifest.clone(), &manifest_file, config.clone()) {
                            Ok(new) => {
                                let previous = std::mem::replace(&mut fleet, new);
                                pool = fleet.pool().clone();
                                let targets = Target::from_manifest(fleet.manifest());
                                let old = std::mem::replace(
                                    &mut scheduler,
                                    Scheduler::spawn(
                                        pool.clone(),
                                        targets,
                                        Options::default(),
                                        bus.forward(Event::Health),
                                    ),
                                );
                                old.shutdown().await;
                                // Its ssh masters end now unless an operation
                                // or a log tail still uses them.
                                running.retain(|_, h| !h.is_finished());
                                if running.is_empty() && tail.is_none() {
                                    previous.close().await;
                                } else {
                                    retired.push(previous);
                                }
                                for service in &state.model.services {
                                    list_generations(&fleet, service.clone(), gens_tx.clone());
                                }
                            }
                            Err(e) => {
                                state.message = Some(format!("manifest reloaded, but operations cannot start: {e}"));
                                state.dirty = true;
                            }
                        }
                    }
                    Command::Shell { service, host } => {
                        // While the shell runs, nothing here may read the
                        // terminal: a key reader would race ssh for input.
                        drop(keys);
                        let said = shell(&mut terminal, &pool, &fleet.config().ssh, &host).await?;
                        keys = EventStream::new();
                        state.message = Some(format!("{service}: {said}"));
                        state.dirty = true;
                        state.urgent = true;
                    }
                    Command::Fault { kind, target } => {
                        inject_fault(&bus, config.lab_dir.clone(), kind, target);
                    }
                    Command::LoadHistory { service } => {
                        let (fleet, bus) = (fleet.clone(), bus.clone());
                        tokio::task::spawn_blocking(move || {
                            let result = fleet.history(service.as_deref());
                            bus.send(Event::OpHistory { service, result });
                        });
                    }
                    Command::Cancel(id) => {
                        if let Some(h) = running.get(&id) {
                            h.cancel();
                        }
                    }
                }
            }
        }
    }
    .await;
    // Restore even when the loop failed; a vanished terminal (SIGHUP) makes
    // this fail harmlessly.
    let _ = ratatui::try_restore();
    // Operations in flight stop after their current step: every host stays
    // on a whole generation.
    for h in running.values() {
        h.cancel();
    }
    for (_, h) in running {
        let _ = h.wait().await;
    }
    if let Some(t) = tail.take() {
        t.stop().await;
    }
    watcher.abort();
    scheduler.shutdown().await;
    fleet.close().await;
    for old in retired {
        old.close().await;
    }
    result
}

/// Hands the terminal to an interactive ssh on `host` (over its master)
/// and takes it back as it was: alternate screen, raw mode, a full redraw.
/// What the shell ended with, for the status bar.
async fn shell(
    terminal: &mut ratatui::DefaultTerminal,
    pool: &crate::backend::ssh::SshPool,
    settings: &crate::config::SshSettings,
    host: &str,
) -> std::io::Result<String> {
    let (mut child, session) =
        match crate::backend::shell::command(pool, settings, host, &[], true).await {
            Ok(c) => c,
            Err(e) => return Ok(format!("no shell on {host}: {e}")),
        };
    terminal.show_cursor()?;
    ratatui::try_restore()?;
    // The loop waits here: the child owns the terminal until it ends.
    let status = tokio::task::spawn_blocking(move || child.status()).await;
    drop(session);
    // The dropped key reader's last wake-up may still be pending on
    // crossterm's shared reader: taken here, it would make the next read
    // (the cursor query `clear` makes) give up at once. A key already
    // queued stays queued.
    let _ = crossterm::event::poll(Duration::ZERO);
    crossterm::terminal::enable_raw_mode()?;
    crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)?;
    terminal.hide_cursor()?;
    // Whatever the shell left on screen is not what ratatui thinks is there.
    terminal.clear()?;
    Ok(match status {
        Ok(Ok(s)) if s.success() => format!("shell on {host} ended"),
        Ok(Ok(s)) => match s.code() {
            Some(c) => format!("shell on {host} ended (exit {c})"),
            None => format!("shell on {host} ended ({s})"),
        },
        Ok(Err(e)) => format!("cannot run ssh: {e}"),
        Err(e) => format!("shell: {e}"),
    })
}

/// Runs `nixmox lab fault KIND TARGET` (this very binary) off the loop;
/// what it said, or why not, comes back as an event.
fn inject_fault(bus: &Bus, lab_dir: Option<std::path::PathBuf>, kind: String, target: String) {
    let bus = bus.clone();
    tokio::task::spawn_blocking(move || {
        let what = format!("{kind} {target}");
        let result = (|| {
            let dir = lab_dir.ok_or("not in a lab")?;
            let exe = std::env::current_exe().map_err(|e| e.to_string())?;
            let out = std::process::Command::new(exe)
                .args(["lab", "fault", "--dir"])
                .arg(dir)
                .args([&kind, &target])
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| e.to_string())?;
            let said = |b: &[u8]| {
                crate::backend::sanitize::lines(b)
                    .into_iter()
                    .filter(|l| !l.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            if out.status.success() {
                Ok(said(&out.stdout))
            } else {
                Err(format!("{}: {}", out.status, said(&out.stderr)))
            }
        })();
        bus.send(Event::FaultDone { what, result });
    });
}

/// The open logs screen's tail: one journal, or several merged.
enum LogTail {
    One(crate::backend::logs::Tail),
    Many(crate::backend::logs::MultiTail),
}

impl LogTail {
    async fn stop(self) {
        match self {
            LogTail::One(t) => t.stop().await,
            LogTail::Many(t) => t.stop().await,
        }
    }
}

/// The audit log's last deploy/rollback per service.
fn read_history(audit: &std::path::Path) -> std::collections::HashMap<String, LastDeploy> {
    // An unreadable log is an empty history here; `h` says why.
    let ops = crate::backend::history::read(audit).unwrap_or_default();
    crate::backend::history::last_per_service(&ops)
        .into_iter()
        .map(|(s, last)| {
            (
                s,
                LastDeploy {
                    at: last.at,
                    outcome: last.kind,
                    what: last.what,
                    detail: None,
                },
            )
        })
        .collect()
}

/// How often the manifest and the audit log are looked at.
const WATCH_EVERY: Duration = Duration::from_secs(2);

/// A file's identity for change detection: modification time and size.
fn stamp(path: &std::path::Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Polls the manifest and the audit log off the UI loop. A changed
/// manifest is loaded and validated again (`load_valid`, blocking: Nix);
/// a grown audit log is read again (another admin's operation).
async fn watch_files(bus: Bus, manifest: std::path::PathBuf, audit: std::path::PathBuf) {
    let mut seen = (stamp(&manifest), stamp(&audit));
    let mut every = tokio::time::interval(WATCH_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        every.tick().await;
        let (m, a) = (manifest.clone(), audit.clone());
        let Ok(now) = tokio::task::spawn_blocking(move || (stamp(&m), stamp(&a))).await else {
            return;
        };
        if now.0 != seen.0 {
            let file = manifest.clone();
            let loaded = tokio::task::spawn_blocking(move || crate::manifest::load_valid(&file))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| {
                    r.map(|v| std::sync::Arc::new(v.manifest)).map_err(|u| {
                        let all: Vec<String> = u.errors.iter().map(|e| e.to_string()).collect();
                        all.join("; ")
                    })
                });
            bus.send(Event::Manifest(loaded));
        }
        if now.1 != seen.1 {
            let file = audit.clone();
            if let Ok(h) = tokio::task::spawn_blocking(move || read_history(&file)).await {
                bus.send(Event::AuditChanged(h));
            }
        }
        seen = now;
    }
}

type Gens = (
    String,
    Result<Vec<crate::backend::generations::Generation>, String>,
);

/// Evaluates nixos/lib for `service` off the loop (nix-instantiate blocks).
fn load_preview(bus: &Bus, manifest: &std::path::Path, service: String) {
    let bus = bus.clone();
    let file = manifest.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let result = crate::backend::nixos::show(&file, &service)
            .map(|v| crate::backend::nixos::render(&service, &v));
        bus.send(Event::Preview { service, result });
    });
}

/// The deploy dialog's preview, off the loop (it builds every planned
/// system). Its `Compare` steps go nowhere: the dialog shows the result.
fn preview_deploy(
    fleet: &Fleet,
    bus: &Bus,
    id: u64,
    (services, with_dependents): (Vec<String>, bool),
    known: std::collections::BTreeMap<String, crate::backend::health::ServiceState>,
) {
    let (fleet, bus) = (fleet.clone(), bus.clone());
    tokio::spawn(async move {
        let plan = fleet
            .select(&services, with_dependents)
            .and_then(|sel| fleet.plan(&sel))
            .map_err(|e| format!("cannot plan: {e}"));
        let result = match plan {
            Ok(plan) => Ok(fleet
                .preview_known(&plan, &known, Reporter::quiet(id))
                .await),
            Err(e) => Err(e),
        };
        bus.send(Event::DeployPreview { id, result });
    });
}

fn list_generations(fleet: &Fleet, service: String, tx: mpsc::UnboundedSender<Gens>) {
    let fleet = fleet.clone();
    tokio::spawn(async move {
        let result = fleet.generations(&service).await;
        let _ = tx.send((service, result));
    });
}
