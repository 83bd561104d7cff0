//! Commands inside a running lab: in its world (the network every host is
//! on, with the lab's console config), or on one of its hosts.

use super::error::LabError;
use super::processes::{in_world, on_host};
use super::state::RunningLab;
use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

/// `nixmox lab exec [--host H] -- CMD...`: the command to run (or to exec,
/// so that the exit status, signals and the terminal pass straight through).
/// In the world, `nixmox` is the binary running this function, and the
/// environment points at the lab: NIXMOX_CONFIG, NIXMOX_MANIFEST,
/// NIXMOX_LAB_DIR, and Nix's settings.
pub fn exec_command(
    dir: &Path,
    host: Option<&str>,
    command: &[OsString],
) -> Result<Command, LabError> {
    let RunningLab { dir, state, keeper } = RunningLab::open(dir)?;
    let Some((prog, args)) = command.split_first() else {
        return Err(LabError::NoCommand);
    };
    let mut cmd = match host {
        Some(target) => on_host(&dir, state.find_host(target)?)?,
        None => {
            let mut c = in_world(keeper);
            let admin = dir.join("admin-bin");
            link_self(&admin);
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut new_path = OsString::from(admin.as_os_str());
            new_path.push(":");
            new_path.push(path);
            c.env("PATH", new_path)
                .env("NIXMOX_CONFIG", dir.join("nixmox.json"))
                .env("NIXMOX_MANIFEST", &state.manifest)
                .env("NIXMOX_LAB_DIR", &dir)
                .env("NIX_CONF_DIR", dir.join("nix"))
                .env("NIX_USER_CONF_FILES", dir.join("nix/nix.conf"));
            if let Ok(cwd) = std::env::current_dir() {
                c.current_dir(cwd);
            }
            c
        }
    };
    cmd.arg(prog).args(args);
    Ok(cmd)
}

/// `admin/nixmox` -> this binary, replaced atomically (several `exec`s may
/// race). Best effort: without it, `nixmox` is whatever PATH finds.
fn link_self(admin: &Path) {
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let _ = std::fs::create_dir_all(admin);
    let tmp = admin.join(format!(".nixmox.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    if std::os::unix::fs::symlink(&exe, &tmp).is_ok() {
        let _ = std::fs::rename(&tmp, admin.join("nixmox"));
    }
}
