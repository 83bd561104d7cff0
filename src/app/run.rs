//! The console's event loop: one bus of backend events, the terminal's keys
//! and signals, and (only while something runs) a spinner tick,
//! `tokio::select!`ed; `update` on each, with whatever else the bus already
//! holds; a draw only when state changed.

use super::bus::Bus;
use super::event::{Command, Event};
use super::model::health::HealthBoard;
use super::model::history::LastDeploy;
use super::model::Model;
use super::state::{State, Theme};
use super::update::update;
use crate::backend::health::{Options, Scheduler, Target};
use crate::backend::ssh::SshPool;
use crate::config::Config;
use crate::manifest::Manifest;
use crossterm::event::{Event as TermEvent, EventStream};
use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// Why the loop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    Quit,
    Signal(&'static str),
    InputClosed,
}

pub async fn run(
    manifest: Manifest,
    manifest_path: String,
    config: Config,
) -> std::io::Result<Exit> {
    let pool = Arc::new(SshPool::new(&config.ssh)?);
    let targets = Target::from_manifest(&manifest);
    let (bus, mut events) = Bus::new();
    let mut tail: Option<crate::backend::logs::Tail> = None;
    // Operations and generations report on channels of their own types.
    let op_tx = bus.forward(Event::Op);
    let gens_tx = bus.forward(|(service, result): Gens| Event::Generations { service, result });
    let mut cancels: std::collections::HashMap<u64, tokio::sync::watch::Sender<bool>> =
        std::collections::HashMap::new();
    let ops = Operations::new(&manifest, &manifest_path, &config);
    let manifest_file = std::path::PathBuf::from(&manifest_path);
    let scheduler = Scheduler::spawn(
        pool.clone(),
        targets.clone(),
        Options::default(),
        bus.forward(Event::Health),
    );
    let mut state = State::new(
        Arc::new(manifest),
        manifest_path,
        HealthBoard::new(&targets),
        Theme::from_env(),
    );

    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    // Installs a panic hook that restores the terminal first.
    let mut terminal = ratatui::try_init()?;
    let result = async {
        let size = terminal.size()?;
        state.size = (size.width, size.height);
        let mut keys = EventStream::new();
        // What each host runs, and the last deploys on record.
        for service in &state.model.services {
            ops.generations(&pool, &state.model, service.clone(), gens_tx.clone());
        }
        let audit_path = crate::backend::audit::default_path(config.audit_log.as_deref());
        let history_bus = bus.clone();
        tokio::task::spawn_blocking(move || {
            let h = crate::backend::audit::history(&audit_path)
                .into_iter()
                .map(|(s, (at, outcome, what))| (s, LastDeploy { at, outcome, what }))
                .collect();
            history_bus.send(Event::History(h));
        });
        for c in super::update::want_preview(&mut state) {
            if let Command::LoadPreview(service) = c {
                load_preview(&bus, &manifest_file, service);
            }
        }
        let mut tick = tokio::time::interval(Duration::from_millis(120));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            if state.dirty {
                terminal.draw(|f| crate::views::draw(&state, f))?;
                state.dirty = false;
            }
            let commands = tokio::select! {
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
                _ = sigterm.recv() => return Ok(Exit::Signal("SIGTERM")),
                _ = sighup.recv() => return Ok(Exit::Signal("SIGHUP")),
            };
            for c in commands {
                match c {
                    Command::Quit => return Ok(Exit::Quit),
                    Command::Reprobe(service) => scheduler.reprobe(service.as_deref()),
                    Command::OpenLogs { tail: id, host, unit, .. } => {
                        if let Some(old) = tail.take() {
                            old.stop().await;
                        }
                        // Tagged with its id: what an earlier tail still
                        // has queued is dropped by `update`.
                        tail = Some(crate::backend::logs::start(
                            pool.clone(),
                            host,
                            unit,
                            200,
                            true,
                            bus.forward(move |event| Event::Log { tail: id, event }),
                        ));
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
                        match ops.deploy(op, &pool, &state.model, &services, with_dependents, op_tx.clone()) {
                            Ok((id, cancel)) => {
                                cancels.insert(id, cancel);
                            }
                            Err(e) => {
                                state.message = Some(e);
                                state.dirty = true;
                            }
                        }
                    }
                    Command::ListGenerations { service } => {
                        ops.generations(&pool, &state.model, service, gens_tx.clone());
                    }
                    Command::Rollback { op, service, from, to } => {
                        ops.rollback(op, &pool, &state.model, service, from, to, op_tx.clone());
                    }
                    Command::Cancel(id) => {
                        if let Some(c) = cancels.get(&id) {
                            let _ = c.send(true);
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
    for c in cancels.values() {
        let _ = c.send(true);
    }
    ops.wait().await;
    if let Some(t) = tail.take() {
        t.stop().await;
    }
    scheduler.shutdown().await;
    pool.close_all().await;
    result
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

/// Starts operations for the console (same backend as the CLI).
struct Operations {
    templates: Result<crate::backend::exec::Templates, String>,
    vars: std::collections::BTreeMap<String, String>,
    audit: Result<crate::backend::audit::Audit, String>,
    running: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Operations {
    fn new(manifest: &Manifest, manifest_path: &str, config: &Config) -> Self {
        Self {
            templates: crate::backend::exec::Templates::resolve(
                manifest.deploy.as_ref(),
                &config.templates,
            ),
            vars: crate::cli::ops::base_vars(std::path::Path::new(manifest_path), manifest, config),
            audit: crate::backend::audit::Audit::open(config.audit_log.as_deref())
                .map_err(|e| e.to_string()),
            running: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn deploy(
        &self,
        id: u64,
        pool: &Arc<SshPool>,
        state: &Model,
        services: &[String],
        with_dependents: bool,
        events: mpsc::UnboundedSender<crate::backend::progress::OpEvent>,
    ) -> Result<(u64, tokio::sync::watch::Sender<bool>), String> {
        let templates = self
            .templates
            .clone()
            .map_err(|e| format!("cannot deploy: {e}"))?;
        let audit = self
            .audit
            .clone()
            .map_err(|e| format!("cannot deploy: audit log: {e}"))?;
        let graph = state.graph.clone();
        let waves = graph
            .selection(services, with_dependents)
            .and_then(|sel| graph.waves_of(&sel))
            .map_err(|e| format!("cannot plan: {e}"))?;
        let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
        let env = Arc::new(crate::backend::deploy::Env {
            pool: pool.clone(),
            manifest: state.manifest.clone(),
            templates,
            vars: self.vars.clone(),
            audit,
            op: id,
            events,
            cancel: cancel_rx,
            break_lock: false,
            activate_timeout: Duration::from_secs(600),
        });
        let task = tokio::spawn(async move {
            crate::backend::deploy::run(env, &graph, waves, 8).await;
        });
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(task);
        Ok((id, cancel_tx))
    }

    fn generations(
        &self,
        pool: &Arc<SshPool>,
        state: &Model,
        service: String,
        tx: mpsc::UnboundedSender<Gens>,
    ) {
        let pool = pool.clone();
        let templates = self.templates.clone();
        let profile = self.vars.get("profile").cloned().unwrap_or_default();
        let host = state
            .manifest
            .services
            .get(&service)
            .map(|s| s.ip.to_string());
        tokio::spawn(async move {
            let result = match (templates, host) {
                (Ok(t), Some(host)) => {
                    crate::backend::generations::list(&pool, &t, &host, &profile).await
                }
                (Err(e), _) => Err(e),
                (_, None) => Err(format!("unknown service {service:?}")),
            };
            let _ = tx.send((service, result));
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn rollback(
        &self,
        op: u64,
        pool: &Arc<SshPool>,
        state: &Model,
        service: String,
        from: u64,
        to: u64,
        events: mpsc::UnboundedSender<crate::backend::progress::OpEvent>,
    ) {
        let (templates, audit, svc) = match (
            self.templates.clone(),
            self.audit.clone(),
            state.manifest.services.get(&service).cloned(),
        ) {
            (Ok(t), Ok(a), Some(s)) => (t, a, s),
            (t, a, _) => {
                let why = t
                    .err()
                    .or(a.err())
                    .unwrap_or_else(|| format!("unknown service {service:?}"));
                let _ = events.send(crate::backend::progress::OpEvent {
                    id: op,
                    at: SystemTime::now(),
                    kind: crate::backend::progress::OpEventKind::Finished {
                        ok: false,
                        summary: why,
                    },
                });
                return;
            }
        };
        let pool = pool.clone();
        let vars = self.vars.clone();
        let task = tokio::spawn(async move {
            let rb = crate::backend::rollback::Rollback {
                pool,
                templates: &templates,
                profile: vars
                    .get("profile")
                    .map_or(crate::backend::exec::PROFILE, String::as_str),
                lock_dir: vars
                    .get("lock_dir")
                    .map_or(crate::backend::exec::LOCK_DIR, String::as_str),
                audit: &audit,
                op,
                events,
                break_lock: false,
            };
            let _ = rb.run(&svc, from, to).await;
        });
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(task);
    }

    async fn wait(&self) {
        let tasks: Vec<_> =
            std::mem::take(&mut *self.running.lock().unwrap_or_else(|p| p.into_inner()));
        for t in tasks {
            let _ = t.await;
        }
    }
}
