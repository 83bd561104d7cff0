//! What the lab needs from this machine (root, and the tools it runs), checked
//! before it touches anything, so that a refusal names everything missing.

use super::error::{LabError, MissingTools};
use super::sys;
use std::path::{Path, PathBuf};

/// Tools the lab runs (itself, or in its hosts' scripts), with the Debian
/// package that has them.
const TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("unshare", "util-linux"),
    ("nsenter", "util-linux"),
    ("setsid", "util-linux"),
    ("flock", "util-linux"),
    ("mount", "mount"),
    ("sshd", "openssh-server"),
    ("ssh", "openssh-client"),
    ("ssh-keygen", "openssh-client"),
    ("nix-build", "nix-bin"),
    ("nix-env", "nix-bin"),
    ("nix-instantiate", "nix-bin"),
    ("kill", "procps"),
    ("tail", "coreutils"),
    ("cmp", "diffutils"),
];

/// What preflight found: where sshd is (the lab starts one per host).
#[derive(Debug, Clone)]
pub struct Tools {
    pub sshd: PathBuf,
}

/// Root, then every tool: refuses early, with one clear error, what `up`
/// cannot do.
pub fn preflight() -> Result<Tools, LabError> {
    require_root()?;
    let mut missing = MissingTools::default();
    for (tool, pkg) in TOOLS {
        if which(tool).is_none() {
            missing
                .by_package
                .entry((*pkg).to_string())
                .or_default()
                .push((*tool).to_string());
        }
    }
    match which("sshd") {
        Some(sshd) if missing.by_package.is_empty() => Ok(Tools { sshd }),
        _ => Err(LabError::MissingTools(missing)),
    }
}

pub(crate) fn require_root() -> Result<(), LabError> {
    if sys::is_root() {
        Ok(())
    } else {
        Err(LabError::NotRoot)
    }
}

/// Where sshd is, for starting one again (`lab fault start-ssh`).
pub(crate) fn sshd() -> Result<PathBuf, LabError> {
    which("sshd").ok_or_else(|| {
        LabError::MissingTools(MissingTools {
            by_package: [("openssh-server".to_string(), vec!["sshd".to_string()])].into(),
        })
    })
}

/// Finds an executable on PATH (see `sbin_on_path`).
fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Root's tools (ip, sshd) live in the sbin directories, which a PATH from
/// `su` or sudo may lack: adds them, for this process and its children.
/// Call before any thread starts (it changes the environment).
pub fn sbin_on_path() {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    for d in ["/usr/sbin", "/sbin"] {
        if !dirs.iter().any(|p| p == Path::new(d)) {
            dirs.push(PathBuf::from(d));
        }
    }
    if let Ok(joined) = std::env::join_paths(dirs) {
        std::env::set_var("PATH", joined);
    }
}
