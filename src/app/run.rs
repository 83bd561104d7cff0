//! The console's event loop: keys, backend events and (only while
//! something runs) a spinner tick, `tokio::select!`ed; `update` on each;
//! a draw only when state changed.

use super::board::Board;
use super::event::{Command, Event};
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
    let (health_tx, mut health_rx) = mpsc::unbounded_channel();
    let (log_tx, mut log_rx) = mpsc::unbounded_channel();
    let mut tail: Option<crate::backend::logs::Tail> = None;
    let (gen_tx, mut gen_rx) = mpsc::unbounded_channel::<Generated>();
    let manifest_file = std::path::PathBuf::from(&manifest_path);
    let scheduler = Scheduler::spawn(pool.clone(), targets.clone(), Options::default(), health_tx);
    let mut state = State::new(
        Arc::new(manifest),
        manifest_path,
        Board::new(&targets),
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
        for c in super::update::want_generated(&mut state) {
            if let Command::Generate(service) = c {
                generate(&gen_tx, &manifest_file, service);
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
                Some(ev) = health_rx.recv() => {
                    let mut out = update(&mut state, Event::Health(ev));
                    // Coalesce a burst (a sweep finishing) into one draw.
                    while let Ok(ev) = health_rx.try_recv() {
                        out.extend(update(&mut state, Event::Health(ev)));
                    }
                    out
                }
                Some(ev) = log_rx.recv() => {
                    let mut out = update(&mut state, Event::Log(ev));
                    while let Ok(ev) = log_rx.try_recv() {
                        out.extend(update(&mut state, Event::Log(ev)));
                    }
                    out
                }
                Some((service, result)) = gen_rx.recv() => update(&mut state, Event::Generated { service, result }),
                _ = tick.tick(), if state.needs_tick() => update(&mut state, Event::Tick(SystemTime::now())),
                _ = sigterm.recv() => return Ok(Exit::Signal("SIGTERM")),
                _ = sighup.recv() => return Ok(Exit::Signal("SIGHUP")),
            };
            for c in commands {
                match c {
                    Command::Quit => return Ok(Exit::Quit),
                    Command::Reprobe(service) => scheduler.reprobe(service.as_deref()),
                    Command::OpenLogs { host, unit, .. } => {
                        if let Some(old) = tail.take() {
                            old.stop().await;
                        }
                        // Drop what an earlier tail may still have queued.
                        while log_rx.try_recv().is_ok() {}
                        tail = Some(crate::backend::logs::start(
                            pool.clone(),
                            host,
                            unit,
                            200,
                            true,
                            log_tx.clone(),
                        ));
                    }
                    Command::Generate(service) => {
                        generate(&gen_tx, &manifest_file, service);
                    }
                    Command::CloseLogs => {
                        if let Some(old) = tail.take() {
                            old.stop().await;
                        }
                    }
                    Command::Deploy { .. } | Command::Cancel(_) => {
                        state.message = Some("deploy is not wired into the console yet: use `nixmox deploy`".into());
                        state.dirty = true;
                    }
                }
            }
        }
    }
    .await;
    // Restore even when the loop failed; a vanished terminal (SIGHUP) makes
    // this fail harmlessly.
    let _ = ratatui::try_restore();
    if let Some(t) = tail.take() {
        t.stop().await;
    }
    scheduler.shutdown().await;
    pool.close_all().await;
    result
}

type Generated = (String, Result<String, String>);

/// Evaluates nixos/lib for `service` off the loop (nix-instantiate blocks).
fn generate(tx: &mpsc::UnboundedSender<Generated>, manifest: &std::path::Path, service: String) {
    let tx = tx.clone();
    let file = manifest.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let result = crate::backend::nixos::show(&file, &service)
            .map(|v| crate::backend::nixos::render(&service, &v));
        let _ = tx.send((service, result));
    });
}
