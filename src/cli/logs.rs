//! `nixmox logs SERVICE [-f] [-n N]`: the service's journal over ssh.

use super::GlobalArgs;
use crate::backend::logs::{self, LogEvent};
use std::io::Write;
use std::os::unix::fs::FileTypeExt;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

pub(crate) fn run(global: &GlobalArgs, service: &str, follow: bool, lines: usize) -> ExitCode {
    let (manifest, config, runtime) = match super::status::setup(global) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let svc = match super::status::find_service(&manifest, service) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let host = svc.ip.to_string();
    let unit = svc.log_unit().to_string();
    runtime.block_on(async move {
        let pool = match super::status::open_pool(&config) {
            Ok(p) => p,
            Err(code) => return code,
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let tail = logs::start(pool.clone(), host, unit, lines, follow, tx);
        let reader_gone = reader_gone();
        let mut out = std::io::stdout().lock();
        let code = loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(LogEvent::Lines(batch)) => {
                        // A reader that went away (`| head -1`) ends the
                        // tail: that is its way of saying it has enough.
                        let written = batch.iter().try_for_each(|l| writeln!(out, "{l}"));
                        if written.and_then(|()| out.flush()).is_err() {
                            break ExitCode::SUCCESS;
                        }
                    }
                    Some(LogEvent::Ended(None)) | None => break ExitCode::SUCCESS,
                    Some(LogEvent::Ended(Some(why))) => {
                        eprintln!("error: {why}");
                        break ExitCode::from(1);
                    }
                },
                _ = tokio::signal::ctrl_c() => break ExitCode::SUCCESS,
                // The reader went away between lines (`| head -1` after the
                // backlog): waiting for the next write could be forever.
                () = gone(&reader_gone) => break ExitCode::SUCCESS,
            }
        };
        drop(out);
        tail.stop().await;
        pool.close_all().await;
        code
    })
}

/// A flag set once stdout, when it is a pipe, has no reader left.
fn reader_gone() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let is_pipe = std::fs::metadata("/proc/self/fd/1").is_ok_and(|m| m.file_type().is_fifo());
    if is_pipe {
        crate::stdout_reader::watch_pipe(flag.clone());
    }
    flag
}

async fn gone(flag: &AtomicBool) {
    while !flag.load(Ordering::SeqCst) {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
