//! Small process and system helpers for the lab, on top of /proc and the
//! standard tools (no libc bindings needed).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
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

pub struct Stat {
    pub state: char,
    pub ppid: u32,
    pub start: u64,
}

impl Stat {
    pub fn live(&self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Fields of /proc/PID/stat (the command name may contain anything, so parse
/// from its closing parenthesis).
pub fn stat(pid: u32) -> Option<Stat> {
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

pub fn alive(pid: u32) -> bool {
    matches!(stat(pid), Some(s) if s.live())
}

pub fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_default()
}

/// The inode of a process's namespace of the given kind ("net", "mnt").
pub fn ns_inode(pid: u32, kind: &str) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok()?;
    let s = link.to_str()?;
    s.strip_prefix(&format!("{kind}:["))?
        .strip_suffix(']')?
        .parse()
        .ok()
}

pub fn self_pid() -> u32 {
    std::process::id()
}

pub fn all_pids() -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// This process and its ancestors: never signalled by teardown.
pub fn self_and_ancestors() -> BTreeSet<u32> {
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
pub fn mentions(cmd: &[String], dir: &Path) -> bool {
    let d = dir.to_string_lossy();
    let prefix = format!("{d}/");
    cmd.iter().any(|a| {
        a == d.as_ref()
            || a.starts_with(&prefix)
            || a.split(['=', ':', ' '])
                .any(|p| p == d || p.starts_with(&prefix))
    })
}

/// Sends a signal with /bin/kill (procps); errors (already gone) are ignored.
pub fn signal(pids: &[u32], sig: &str) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-s")
        .arg(sig)
        .args(pids.iter().map(|p| p.to_string()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// TERM, wait up to `grace`, then KILL whatever is left; waits until they are
/// gone (or zombies). Returns the pids that would not die.
pub fn terminate(pids: &[u32], grace: Duration) -> Vec<u32> {
    let ids: Vec<ProcId> = pids.iter().filter_map(|p| ProcId::of(*p)).collect();
    let left =
        |ids: &[ProcId]| -> Vec<u32> { ids.iter().filter(|p| p.alive()).map(|p| p.pid).collect() };
    signal(&left(&ids), "TERM");
    let deadline = Instant::now() + grace;
    while !left(&ids).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let rest = left(&ids);
    if rest.is_empty() {
        return rest;
    }
    signal(&rest, "KILL");
    let deadline = Instant::now() + Duration::from_secs(3);
    while !left(&ids).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    left(&ids)
}

/// The effective uid of this process.
pub fn euid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Finds an executable on PATH (see `sbin_on_path`).
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| is_executable(p))
}

/// Root's tools (ip, sshd) live in the sbin directories, which a PATH from
/// `su` or sudo may lack: add them, for this process and its children. Call
/// before any thread starts.
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

pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Runs a command, returning stdout on success and a message with its stderr
/// otherwise.
pub fn run<S: AsRef<OsStr>>(cmd: &mut Command, what: S) -> Result<String, String> {
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("{}: cannot run: {e}", what.as_ref().to_string_lossy()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let mut msg = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
        if msg.is_empty() {
            msg = String::from_utf8_lossy(&out.stdout).trim_end().to_string();
        }
        Err(format!(
            "{} failed ({}){}{}",
            what.as_ref().to_string_lossy(),
            out.status,
            if msg.is_empty() { "" } else { ":\n" },
            msg
        ))
    }
}

/// Wall-clock time as journalctl's `-o short-iso` prints it (UTC).
pub fn iso_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    iso_time(secs)
}

pub fn iso_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A short, stable hash (FNV-1a) for names derived from paths.
pub fn short_hash(s: &str) -> String {
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
    fn iso_times() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(iso_time(951_782_400), "2000-02-29T00:00:00+00:00");
        assert_eq!(iso_time(1_764_098_550), "2025-11-25T19:22:30+00:00");
    }

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
