//! Tracing to a file (never the terminal: it would corrupt the console).
//! `$NIXMOX_LOG` sets the filter (default `info`); the file is
//! `$XDG_STATE_HOME/nixmox/<name>.log` (default `~/.local/state/nixmox`).

use std::path::PathBuf;
use tracing_appender::non_blocking::WorkerGuard;

/// A relative `$XDG_STATE_HOME` is ignored, as the XDG spec says.
pub(crate) fn state_dir() -> PathBuf {
    crate::config::xdg_dir("XDG_STATE_HOME", ".local/state")
        .unwrap_or_else(|| PathBuf::from("/tmp"))
        .join("nixmox")
}

/// Starts file logging; keep the guard alive for the program's life.
pub(crate) fn init(name: &str) -> Option<WorkerGuard> {
    let dir = state_dir();
    std::fs::create_dir_all(&dir).ok()?;
    let appender = tracing_appender::rolling::never(&dir, format!("{name}.log"));
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("NIXMOX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}
