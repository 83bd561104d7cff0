//! What a lab directory holds, and the lab's record of what it started
//! (`DIR/lab.json`), kept up to date while `lab up` runs so that `lab down`
//! can always find everything, even after a `lab up` that died halfway.

use super::error::LabError;
use super::sys::ProcId;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Marks a directory as a lab's, so that `lab up` only ever clears its own.
pub(crate) const MARKER: &str = ".nixmox-lab";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabState {
    pub dir: PathBuf,
    pub manifest: PathBuf,
    pub control_dir: PathBuf,
    pub gateway: Ipv4Addr,
    pub prefix: u8,
    /// The world: a process that holds the lab's network and mount namespaces.
    #[serde(default)]
    pub keeper: Option<ProcId>,
    #[serde(default)]
    pub keeper_netns: Option<u64>,
    pub hosts: Vec<HostState>,
    /// `lab up` finished and every host answered ssh.
    #[serde(default)]
    pub ready: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostState {
    /// The service name; also the host's network namespace name.
    pub name: String,
    pub ip: Ipv4Addr,
    pub hostname: String,
    /// Bridge side of the host's veth pair (in the world).
    pub veth: String,
    /// The unit the manifest's health/logs refer to (`interface.logs.unit`, default the name).
    pub unit: String,
    /// The host's "init": holds the host's network and private mount namespace.
    #[serde(default)]
    pub init: Option<ProcId>,
    #[serde(default)]
    pub netns: Option<u64>,
    /// The system store path of generation 1.
    #[serde(default)]
    pub system: Option<String>,
}

impl LabState {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("lab.json")
    }

    pub fn load(dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(Self::path(dir)).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn save(&self) -> Result<(), LabError> {
        let path = Self::path(&self.dir);
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self)
            .map_err(std::io::Error::other)
            .map_err(LabError::io(&path))?;
        std::fs::write(&tmp, text + "\n").map_err(LabError::io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(LabError::io(&path))
    }

    pub fn host(&self, target: &str) -> Option<&HostState> {
        self.hosts
            .iter()
            .find(|h| h.name == target || h.hostname == target || h.ip.to_string() == target)
    }

    /// The host `target` names (service name, host name or ip), or why none.
    pub fn find_host(&self, target: &str) -> Result<&HostState, LabError> {
        self.host(target).ok_or_else(|| LabError::NoSuchHost {
            target: target.to_string(),
            hosts: self.hosts.iter().map(|h| h.name.clone()).collect(),
        })
    }

    pub fn keeper_alive(&self) -> Option<u32> {
        self.keeper.filter(|k| k.alive()).map(|k| k.pid)
    }
}

/// A lab that is up: its directory (absolute), its record, its keeper's pid.
#[derive(Debug, Clone)]
pub struct RunningLab {
    pub dir: PathBuf,
    pub state: LabState,
    pub keeper: u32,
}

impl RunningLab {
    /// The running lab in `dir`, or why there is none.
    pub fn open(dir: &Path) -> Result<Self, LabError> {
        let dir = resolve_dir(dir)?;
        let Some(state) = LabState::load(&dir) else {
            return Err(LabError::NoLab { dir });
        };
        let Some(keeper) = state.keeper_alive() else {
            return Err(LabError::NotRunning { dir });
        };
        if !state.ready {
            return Err(LabError::Starting { dir });
        }
        Ok(RunningLab { dir, state, keeper })
    }
}

/// The lab directory, absolute, and safe to appear unquoted in sshd and ssh
/// configs and in shell scripts.
pub fn resolve_dir(dir: &Path) -> Result<PathBuf, LabError> {
    let abs = std::path::absolute(dir).map_err(LabError::io(dir))?;
    let s = abs.to_string_lossy();
    let ok = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | '@'));
    if !ok || s.len() > 200 {
        return Err(LabError::UnsafeDir { dir: abs });
    }
    Ok(PathBuf::from(s.trim_end_matches('/')))
}

/// Where a host's files live: `DIR/hosts/NAME`.
pub(crate) fn host_dir(dir: &Path, name: &str) -> PathBuf {
    dir.join("hosts").join(name)
}

/// The environment of every process on a lab host (set by sshd's `SetEnv`,
/// and by the lab when it enters a host directly).
pub(crate) fn host_env(dir: &Path, name: &str) -> Vec<(String, String)> {
    let d = dir.display();
    let hd = host_dir(dir, name);
    vec![
        (
            "PATH".into(),
            format!("{d}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        ),
        ("NIX_CONF_DIR".into(), format!("{d}/nix")),
        ("NIX_USER_CONF_FILES".into(), format!("{d}/nix/nix.conf")),
        ("NIXMOX_LAB_HOST".into(), name.to_string()),
        ("NIXMOX_LAB_HOSTDIR".into(), hd.display().to_string()),
        ("NIXMOX_LAB_DIR".into(), d.to_string()),
    ]
}
