//! Process helpers for the lab: what /proc says about a process (its
//! parent, start time, command line, namespaces), signals through rustix,
//! and running the lab's commands.

use super::error::{LabError, ProcDesc};
use rustix::process::{Pid, Signal};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A process, identified beyond its pid by its start time (pids are reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcId {
    pub pid: u32,
    pub start: u64,
}

impl ProcId {
    pub fn of(pid: u32) -> Option<Self> {
        stat(pid).map(|s| ProcId {
            pid,
            start: s.start,
        })
    }

    /// Still the same process, and not a zombie.
    pub fn alive(&self) -> bool {
        matches!(stat(self.pid), Some(s) if s.start == self.start && s.live())
    }
}

pub(crate) struct Stat {
    pub(crate) state: char,
    pub(crate) ppid: u32,
    pub(crate) start: u64,
}

impl Stat {
    pub(crate) fn live(&self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Fields of /proc/PID/stat (the command name may contain anything, so parse
/// from its closing parenthesis).
pub(crate) fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // After the name: state(3) ppid(4) ... starttime(22) => indices 0, 1, 19.
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

pub(crate) fn alive(pid: u32) -> bool {
    matches!(stat(pid), Some(s) if s.live())
}

pub(crate) fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_default()
}

/// The inode of a process's namespace of the given kind ("net", "mnt").
pub(crate) fn ns_inode(pid: u32, kind: &str) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok()?;
    let s = link.to_str()?;
    s.strip_prefix(&format!("{kind}:["))?
        .strip_suffix(']')?
        .parse()
        .ok()
}

pub(crate) fn self_pid() -> u32 {
    std::process::id()
}

pub(crate) fn all_pids() -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// This process and its ancestors: never signalled by teardown.
pub(crate) fn self_and_ancestors() -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    let mut pid = self_pid();
    while pid > 1 && out.insert(pid) {
        match stat(pid) {
            Some(s) => pid = s.ppid,
            None => break,
        }
    }
    out
}

/// Does any argument of this command line name `dir` or something under it?
pub(crate) fn mentions(cmd: &[String], dir: &Path) -> bool {
    let d = dir.to_string_lossy();
    let prefix = format!("{d}/");
    cmd.iter().any(|a| {
        a == d.as_ref()
            || a.starts_with(&prefix)
            || a.split(['=', ':', ' '])
                .any(|p| p == d || p.starts_with(&prefix))
    })
}

/// Sends `sig` to each pid; errors (already gone) are ignored.
pub(crate) fn signal(pids: &[u32], sig: Signal) {
    for pid in pids {
        if let Some(pid) = i32::try_from(*pid).ok().and_then(Pid::from_raw) {
            let _ = rustix::process::kill_process(pid, sig);
        }
    }
}

/// TERM, wait up to `grace`, then KILL whatever is left; waits until they are
/// gone (or zombies). Returns the pids that would not die.
pub(crate) fn terminate(pids: &[u32], grace: Duration) -> Vec<u32> {
    let ids: Vec<ProcId> = pids.iter().filter_map(|p| ProcId::of(*p)).collect();
    let left =
        |ids: &[ProcId]| -> Vec<u32> { ids.iter().filter(|p| p.alive()).map(|p| p.pid).collect() };
    signal(&left(&ids), Signal::TERM);
    let deadline = Instant::now() + grace;
    while !left(&ids).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let rest = left(&ids);
    if rest.is_empty() {
        return rest;
    }
    signal(&rest, Signal::KILL);
    let deadline = Instant::now() + Duration::from_secs(3);
    while !left(&ids).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    left(&ids)
}

pub(crate) fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Describes processes for a message.
pub(crate) fn describe(pids: &[u32]) -> Vec<ProcDesc> {
    pids.iter()
        .map(|p| ProcDesc {
            pid: *p,
            cmdline: cmdline(*p).join(" "),
        })
        .collect()
}

/// Runs a command, returning its stdout on success; `what` names it in the error.
pub(crate) fn run(cmd: &mut Command, what: impl Into<String>) -> Result<String, LabError> {
    let what = what.into();
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(LabError::spawn(what.clone()))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let mut output = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
    if output.is_empty() {
        output = String::from_utf8_lossy(&out.stdout).trim_end().to_string();
    }
    Err(LabError::Failed {
        what,
        status: out.status,
        output,
    })
}

/// A short, stable hash (FNV-1a) for names derived from paths.
pub(crate) fn short_hash(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08x}", (h ^ (h >> 32)) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_dir_not_prefix_sibling() {
        let d = Path::new("/tmp/l1");
        assert!(mentions(&["x".into(), "/tmp/l1".into()], d));
        assert!(mentions(
            &["-f".into(), "/tmp/l1/hosts/a/sshd_config".into()],
            d
        ));
        assert!(mentions(&["NIX_CONF_DIR=/tmp/l1/nix".into()], d));
        assert!(!mentions(&["/tmp/l10/x".into()], d));
        assert!(!mentions(&["/tmp/l10".into()], d));
    }

    #[test]
    fn self_is_alive() {
        let me = ProcId::of(self_pid()).unwrap();
        assert!(me.alive());
        assert!(ns_inode(self_pid(), "net").is_some());
    }
}
