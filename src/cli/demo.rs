//! `nixmox demo`: a lab for the manifest, the console inside it, and the lab
//! torn down when the console exits (however it exits).

use super::lab::{fail, print_down, print_ready, print_up_error, print_up_event};
use super::GlobalArgs;
use crate::lab;
use rustix::process::{kill_process, Pid, Signal};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub(crate) fn run(global: &GlobalArgs, dir: Option<PathBuf>) -> ExitCode {
    // Before any thread starts: the lab's tools (ip, sshd) live in sbin.
    lab::sbin_on_path();
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot find this program's own path: {e}");
            return ExitCode::from(1);
        }
    };
    let dir =
        dir.unwrap_or_else(|| PathBuf::from(format!("/tmp/nixmox-demo-{}", std::process::id())));
    let manifest =
        std::path::absolute(&global.manifest).unwrap_or_else(|_| global.manifest.clone());
    // The console will own the terminal and its keys. We stay alive through
    // ctrl-c (the console decides what it means) and pass SIGTERM/SIGHUP on
    // to it, so the lab is always torn down after it. While the lab comes up,
    // `lab::up` sees these signals too, and stops and tears down.
    let stop = Arc::new(AtomicBool::new(false));
    let ignored = Arc::new(AtomicBool::new(false));
    for (sig, flag) in [
        (signal_hook::consts::SIGINT, &ignored),
        (signal_hook::consts::SIGQUIT, &ignored),
        (signal_hook::consts::SIGTERM, &stop),
        (signal_hook::consts::SIGHUP, &stop),
    ] {
        // The handler only stores to an atomic (async-signal-safe).
        let _ = signal_hook::flag::register(sig, flag.clone());
    }
    eprintln!(
        "demo: bringing up a lab for {} in {}",
        manifest.display(),
        dir.display()
    );
    // `up` checks root, the tools (naming the packages) and the manifest.
    match lab::up(&dir, &manifest, &mut print_up_event) {
        Ok(ready) => print_ready(&ready),
        Err(e) => {
            print_up_error(&e);
            return ExitCode::from(1);
        }
    }
    let console: Vec<OsString> = vec![exe.into(), "--manifest".into(), manifest.into()];
    let console = lab::exec_command(&dir, None, &console)
        .map_err(|e| e.to_string())
        .and_then(|mut cmd| cmd.spawn().map_err(|e| e.to_string()))
        .and_then(|mut child| loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                break Ok(status);
            }
            if stop.swap(false, Ordering::SeqCst) {
                if let Some(pid) = i32::try_from(child.id()).ok().and_then(Pid::from_raw) {
                    let _ = kill_process(pid, Signal::TERM);
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        });
    eprintln!("demo: tearing the lab down");
    match lab::down(&dir) {
        Ok(d) => {
            print_down(&d);
            let _ = std::fs::remove_dir_all(&dir);
        }
        Err(e) => {
            fail("down", e);
            eprintln!(
                "warning: `nixmox lab down --dir {}` did not finish cleanly; run it again",
                dir.display()
            );
        }
    }
    match console {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: cannot start the console: {e}");
            ExitCode::from(1)
        }
    }
}
