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

pub(crate) fn run(global: &GlobalArgs, dir: Option<PathBuf>, with_past: bool) -> ExitCode {
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
    if with_past {
        give_a_past(&dir, &exe, &manifest, &stop);
    }
    // A SIGTERM/SIGHUP while the past was made: straight to teardown.
    let console = if stop.load(Ordering::SeqCst) {
        Err("stopped by a signal before the console started".to_string())
    } else {
        console(&dir, &exe, &manifest, &stop)
    };
    if stop.load(Ordering::SeqCst) {
        // A hangup usually means the terminal is gone: writing to it would
        // fail (and eprintln! would panic), and the lab must still go down.
        quiet_output();
    }
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

/// Real deploys, so every host has generations to roll back to and the
/// audit log a history: an earlier build (another salt) as generation 2,
/// then today's build again as generation 3. A failure here is reported and
/// the demo goes on with whatever the hosts have.
fn give_a_past(
    dir: &std::path::Path,
    exe: &std::path::Path,
    manifest: &std::path::Path,
    stop: &AtomicBool,
) {
    let config = dir.join("nixmox.json");
    let earlier = dir.join("nixmox-earlier.json");
    let written = crate::config::Config::load_optional(Some(&config))
        .map_err(|e| e.to_string())
        .and_then(|mut c| {
            c.vars.insert("salt".into(), "earlier".into());
            serde_json::to_vec_pretty(&c).map_err(|e| e.to_string())
        })
        .and_then(|json| std::fs::write(&earlier, json).map_err(|e| e.to_string()));
    if let Err(e) = written {
        eprintln!(
            "demo: no past for the hosts (cannot write {}: {e})",
            earlier.display()
        );
        return;
    }
    let log = dir.join("demo-past.log");
    for (what, config) in [("an earlier build", &earlier), ("today's build", &config)] {
        eprint!("demo: deploying {what} to every host… ");
        let t = std::time::Instant::now();
        let argv: Vec<OsString> = vec![
            exe.into(),
            "--manifest".into(),
            manifest.into(),
            "--config".into(),
            config.into(),
            "deploy".into(),
            "--all".into(),
            "--yes".into(),
            "--parallel".into(),
            "16".into(),
        ];
        let ran = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| e.to_string())
            .and_then(|out| {
                let err = out.try_clone().map_err(|e| e.to_string())?;
                let mut cmd = lab::exec_command(dir, None, &argv).map_err(|e| e.to_string())?;
                let child = cmd
                    .stdin(std::process::Stdio::null())
                    .stdout(out)
                    .stderr(err)
                    .spawn()
                    .map_err(|e| e.to_string())?;
                wait_passing_signals(child, stop)
            });
        if stop.load(Ordering::SeqCst) {
            eprintln!("stopped by a signal");
            return;
        }
        match ran {
            Ok(s) if s.success() => eprintln!("done in {:.1} s", t.elapsed().as_secs_f64()),
            Ok(_) => {
                eprintln!("it did not deploy everywhere (see {})", log.display());
                return;
            }
            Err(e) => {
                eprintln!("cannot run it: {e}");
                return;
            }
        }
    }
}

/// The console inside the lab, with SIGTERM/SIGHUP passed on to it.
fn console(
    dir: &std::path::Path,
    exe: &std::path::Path,
    manifest: &std::path::Path,
    stop: &AtomicBool,
) -> Result<std::process::ExitStatus, String> {
    let argv: Vec<OsString> = vec![exe.into(), "--manifest".into(), manifest.into()];
    lab::exec_command(dir, None, &argv)
        .map_err(|e| e.to_string())
        .and_then(|mut cmd| cmd.spawn().map_err(|e| e.to_string()))
        .and_then(|child| wait_passing_signals(child, stop))
}

/// Waits for `child`; a SIGTERM/SIGHUP we received (the `stop` flag) is
/// passed on as SIGTERM, so the child ends its way (a deploy after its
/// current step, the console restoring the terminal).
fn wait_passing_signals(
    mut child: std::process::Child,
    stop: &AtomicBool,
) -> Result<std::process::ExitStatus, String> {
    let mut passed = false;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(status);
        }
        if !passed && stop.load(Ordering::SeqCst) {
            passed = true;
            if let Some(pid) = i32::try_from(child.id()).ok().and_then(Pid::from_raw) {
                let _ = kill_process(pid, Signal::TERM);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Points stdout and stderr at /dev/null (best effort).
fn quiet_output() {
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stderr(&null);
    }
}
