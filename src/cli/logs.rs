//! `nixmox logs SERVICE... [-f] [-n N]`: the services' journals over ssh;
//! several are interleaved by time, each line tagged with its service.

use super::GlobalArgs;
use crate::backend::logs::{self, LogEvent, LogSource, MergedEvent};
use std::io::Write;
use std::os::unix::fs::FileTypeExt;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

pub(crate) fn run(
    global: &GlobalArgs,
    services: &[String],
    follow: bool,
    lines: usize,
) -> ExitCode {
    let (manifest, config, runtime) = match super::status::setup(global) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut sources = Vec::new();
    for name in services {
        let svc = match super::status::find_service(&manifest, name) {
            Ok(s) => s,
            Err(code) => return code,
        };
        sources.push(LogSource {
            service: svc.name.clone(),
            host: svc.ip.to_string(),
            unit: svc.log_unit().to_string(),
        });
    }
    runtime.block_on(async move {
        let pool = match super::status::open_pool(&config) {
            Ok(p) => p,
            Err(code) => return code,
        };
        let code = match <[LogSource; 1]>::try_from(sources) {
            Ok([one]) => single(&pool, one, lines, follow).await,
            Err(sources) => many(&pool, sources, lines, follow).await,
        };
        pool.close_all().await;
        code
    })
}

/// One service: its journal as it is, untagged.
async fn single(
    pool: &std::sync::Arc<crate::backend::ssh::SshPool>,
    source: LogSource,
    lines: usize,
    follow: bool,
) -> ExitCode {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let tail = logs::start(pool.clone(), source.host, source.unit, lines, follow, tx);
    let reader_gone = reader_gone();
    let mut out = std::io::stdout().lock();
    // One listener for the whole tail: a ctrl-c between two listeners
    // would be lost.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
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
            _ = &mut ctrl_c => break ExitCode::SUCCESS,
            // The reader went away between lines (`| head -1` after the
            // backlog): waiting for the next write could be forever.
            () = gone(&reader_gone) => break ExitCode::SUCCESS,
        }
    };
    drop(out);
    tail.stop().await;
    code
}

/// Several services: interleaved by time, each line as `service | line`.
/// One that fails is said on stderr and the others go on; the exit code
/// says whether any failed.
async fn many(
    pool: &std::sync::Arc<crate::backend::ssh::SshPool>,
    sources: Vec<LogSource>,
    lines: usize,
    follow: bool,
) -> ExitCode {
    let width = sources.iter().map(|s| s.service.len()).max().unwrap_or(0);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let tail = logs::start_many(pool.clone(), sources, lines, follow, tx);
    let reader_gone = reader_gone();
    let mut out = std::io::stdout().lock();
    // One listener for the whole tail: a ctrl-c between two listeners
    // would be lost.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut failed = false;
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(MergedEvent::Lines(batch)) => {
                    let written = batch
                        .iter()
                        .try_for_each(|l| writeln!(out, "{:<width$} | {}", l.service, l.line));
                    if written.and_then(|()| out.flush()).is_err() {
                        break;
                    }
                }
                Some(MergedEvent::SourceFailed { service, why }) => {
                    eprintln!("error: {service}: {why}");
                    failed = true;
                }
                Some(MergedEvent::Ended) | None => break,
            },
            _ = &mut ctrl_c => break,
            () = gone(&reader_gone) => break,
        }
    }
    drop(out);
    tail.stop().await;
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
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
