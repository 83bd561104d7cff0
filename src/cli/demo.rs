//! `nixmox demo`: a lab for the manifest, the console inside it, and the lab
//! torn down when the console exits (however it exits).

use super::GlobalArgs;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub fn run(global: &GlobalArgs, dir: Option<PathBuf>) -> ExitCode {
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
    eprintln!(
        "demo: bringing up a lab for {} in {}",
        manifest.display(),
        dir.display()
    );
    // `lab up` checks root, the tools (naming the packages) and the manifest.
    let up = Command::new(&exe)
        .args(["lab", "up", "--manifest"])
        .arg(&manifest)
        .arg("--dir")
        .arg(&dir)
        .status();
    match up {
        Ok(s) if s.success() => {}
        Ok(_) => return ExitCode::from(1),
        Err(e) => {
            eprintln!("error: cannot run `nixmox lab up`: {e}");
            return ExitCode::from(1);
        }
    }
    // The console owns the terminal and its keys now. We stay alive through
    // ctrl-c (the console decides what it means) and pass SIGTERM/SIGHUP on
    // to it, so the lab is always torn down after it.
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
    let console = Command::new(&exe)
        .args(["lab", "exec", "--dir"])
        .arg(&dir)
        .arg("--")
        .arg(&exe)
        .arg("--manifest")
        .arg(&manifest)
        .spawn()
        .and_then(|mut child| loop {
            if let Some(status) = child.try_wait()? {
                break Ok(status);
            }
            if stop.swap(false, Ordering::SeqCst) {
                let _ = Command::new("kill").arg(child.id().to_string()).status();
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        });
    eprintln!("demo: tearing the lab down");
    let down = Command::new(&exe)
        .args(["lab", "down", "--dir"])
        .arg(&dir)
        .status();
    if down.map(|s| s.success()).unwrap_or(false) {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!(
            "warning: `nixmox lab down --dir {}` did not finish cleanly; run it again",
            dir.display()
        );
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
