//! The hosts' Nix systems: built with the real Nix from the manifest
//! (`assets/lab/systems.nix`), and generation 1 activated on every host with
//! the literal NixOS commands.

use super::error::LabError;
use super::files;
use super::processes::on_host;
use super::state::{host_dir, HostState};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// At most this many hosts are activated at once (each activation is an ssh
/// connection plus a handful of short processes).
const PARALLEL: usize = 16;

/// Each host's system store path (by host name), and how long Nix took.
pub(crate) type Built = (BTreeMap<String, String>, Duration);

/// Every host's system, built in the background by one evaluation
/// (`nix-instantiate`, all hosts) and one build (`nix-store -r`, all
/// derivations): the same as one `nix-build`, but without the indirect GC
/// root per output that Nix 2.8's `nix-build --no-out-link` leaves in
/// /nix/var/nix/gcroots/auto.
pub(crate) fn spawn_build(
    dir: &Path,
    manifest: &Path,
    hosts: &[HostState],
) -> Result<JoinHandle<Result<Built, LabError>>, LabError> {
    let nix = |prog: &str| {
        let mut c = Command::new(prog);
        c.env("NIX_CONF_DIR", dir.join("nix"))
            .env("NIX_USER_CONF_FILES", dir.join("nix/nix.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    };
    let mut eval = nix("nix-instantiate");
    eval.arg(files::systems_nix(dir))
        .args(["--quiet", "--argstr", "manifestFile"])
        .arg(manifest)
        .args(["--argstr", "labDir"])
        .arg(dir);
    for h in hosts {
        eval.arg("-A").arg(&h.name);
    }
    let child = eval.spawn().map_err(LabError::spawn("nix-instantiate"))?;
    let mut realise = nix("nix-store");
    realise.arg("--realise");
    let started = Instant::now();
    Ok(std::thread::spawn(move || {
        let out = child
            .wait_with_output()
            .map_err(LabError::spawn("nix-instantiate"))?;
        if !out.status.success() {
            return Err(nix_failed("nix-instantiate of the lab systems", &out));
        }
        let drvs: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        let out = realise
            .args(&drvs)
            .output()
            .map_err(LabError::spawn("nix-store"))?;
        if !out.status.success() {
            return Err(nix_failed("nix-store --realise of the lab systems", &out));
        }
        Ok((
            systems_by_host(&String::from_utf8_lossy(&out.stdout)),
            started.elapsed(),
        ))
    }))
}

fn nix_failed(what: &str, out: &Output) -> LabError {
    let err = String::from_utf8_lossy(&out.stderr);
    let err: Vec<&str> = err
        .lines()
        .filter(|l| !l.contains("you did not specify '--add-root'"))
        .collect();
    LabError::Failed {
        what: what.to_string(),
        status: out.status,
        output: err.join("\n"),
    }
}

/// Matched by name: "/nix/store/HASH-nixmox-lab-system-NAME".
fn systems_by_host(realised: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for line in realised.lines() {
        if let Some(name) = line
            .rsplit('/')
            .next()
            .and_then(|base| base.split_once('-'))
            .and_then(|(_, rest)| rest.strip_prefix("nixmox-lab-system-"))
        {
            map.insert(name.to_string(), line.trim().to_string());
        }
    }
    map
}

/// Activates every host's first system with the literal NixOS commands, run
/// on the host (its namespaces and environment, as its sshd would run them).
/// Stops taking new hosts once `interrupted` is set.
pub(crate) fn activate_all(
    dir: &Path,
    hosts: &[HostState],
    interrupted: &Arc<AtomicBool>,
) -> Result<(), LabError> {
    let queue = Arc::new(Mutex::new(hosts.to_vec()));
    let errors = Arc::new(Mutex::new(Vec::<LabError>::new()));
    let workers: Vec<_> = (0..PARALLEL.min(hosts.len()))
        .map(|_| {
            let queue = queue.clone();
            let errors = errors.clone();
            let dir: PathBuf = dir.to_path_buf();
            let interrupted = interrupted.clone();
            std::thread::spawn(move || loop {
                let Some(h) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop() else {
                    return;
                };
                if interrupted.load(Ordering::SeqCst) {
                    return;
                }
                if let Err(e) = activate(&dir, &h) {
                    errors.lock().unwrap_or_else(|e| e.into_inner()).push(e);
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let mut errors = std::mem::take(&mut *errors.lock().unwrap_or_else(|e| e.into_inner()));
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(LabError::Several(errors)),
    }
}

/// The NixOS activation of a system, as the console runs it over ssh.
fn activation_command(system: &str) -> String {
    format!(
        "nix-env -p /nix/var/nix/profiles/system --set {s} && {s}/bin/switch-to-configuration switch",
        s = shell_escape::escape(system.into())
    )
}

fn activate(dir: &Path, h: &HostState) -> Result<(), LabError> {
    let system = h.system.as_deref().ok_or_else(|| LabError::NoSystem {
        host: h.name.clone(),
    })?;
    let out = on_host(dir, h)?
        .args(["/bin/sh", "-c", &activation_command(system)])
        .stdin(Stdio::null())
        .output()
        .map_err(LabError::spawn(format!("nsenter (host {})", h.name)))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::write(host_dir(dir, &h.name).join("activation.log"), &text);
    if out.status.success() {
        return Ok(());
    }
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(15)..]
        .iter()
        .map(|l| l.to_string())
        .collect();
    Err(LabError::ActivationFailed {
        host: h.name.clone(),
        ip: h.ip,
        status: out.status,
        tail,
    })
}
