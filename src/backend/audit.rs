//! The audit log: every operator action and its outcome, one JSON object a
//! line, appended and fsync'd before the action is reported done, so a crash
//! never loses what was done to a host.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub ts: String,
    pub user: String,
    pub op: u64,
    /// deploy, rollback, cancel, lock-break, ...
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The step within the action (lock, build, copy, activate, health, rollback, done).
    pub step: String,
    /// started, ok, failed, skipped, rolled-back, cancelled, ...
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The process that wrote it and when that process started: an
    /// operation whose process is gone is known to be interrupted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid_start: Option<u64>,
    /// On a host part's `done` entry: how it ended, typed (older logs
    /// have only the `outcome` word).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<super::outcome::OutcomeKind>,
}

#[derive(Clone)]
pub(crate) struct Audit {
    path: PathBuf,
    inner: Arc<Mutex<Inner>>,
    user: String,
}

/// The log file, opened again on the next record while it cannot be (a
/// full or missing disk must not stop an operation, least of all a
/// rollback), and every failure so far, for the operation's summary.
struct Inner {
    file: Option<File>,
    /// A write failed part-way: the next record starts on a fresh line, so
    /// a torn line never swallows the one after it.
    torn: bool,
    failures: Vec<(u64, String)>,
    /// Locks operations could not release: (op, service, why).
    locks_left: Vec<(u64, String, String)>,
}

impl Audit {
    /// `path`, or `$XDG_STATE_HOME/nixmox/audit.jsonl`. Never fails: a log
    /// that cannot be opened now is tried again on each record, and each
    /// failed record is reported (see [`Audit::failures`]).
    pub(crate) fn open(path: Option<&Path>) -> std::io::Result<Self> {
        let path = default_path(path);
        let file = open_file(&path).ok();
        Ok(Self {
            path,
            inner: Arc::new(Mutex::new(Inner {
                file,
                torn: false,
                failures: Vec::new(),
                locks_left: Vec::new(),
            })),
            user: local_user(),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn user(&self) -> &str {
        &self.user
    }

    /// A blank entry for `op`/`action`, to fill in and `record`.
    pub(crate) fn entry(&self, op: u64, action: &str, step: &str, outcome: &str) -> Entry {
        let pid = std::process::id();
        Entry {
            ts: crate::timefmt::rfc3339(SystemTime::now()),
            user: self.user.clone(),
            op,
            action: action.into(),
            service: None,
            host: None,
            step: step.into(),
            outcome: outcome.into(),
            duration_ms: None,
            generation_before: None,
            generation_after: None,
            detail: None,
            pid: Some(pid),
            pid_start: process_start(pid),
            kind: None,
        }
    }

    /// Appends and fsyncs one entry. An audit failure is reported to the
    /// caller, who must not pretend the action was recorded, and is kept
    /// for the operation's summary ([`Audit::failures`]).
    pub(crate) fn record(&self, e: &Entry) -> std::io::Result<()> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let result = append(&self.path, &mut inner, e);
        if let Err(err) = &result {
            let why = format!("{} ({})", err, self.path.display());
            inner.failures.push((e.op, why));
        }
        result
    }

    /// Every record of operation `op` that could not be written, why.
    pub(crate) fn failures(&self, op: u64) -> Vec<String> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<String> = Vec::new();
        for (o, why) in &inner.failures {
            if *o == op && !out.contains(why) {
                out.push(why.clone());
            }
        }
        out
    }
}

impl Audit {
    /// Notes that operation `op` left `service`'s host lock behind (why),
    /// for its summary.
    pub(crate) fn note_lock_left(&self, op: u64, service: &str, why: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.locks_left.push((op, service.into(), why.into()));
    }

    /// The locks operation `op` left behind: (service, why).
    pub(crate) fn locks_left(&self, op: u64) -> Vec<(String, String)> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .locks_left
            .iter()
            .filter(|(o, _, _)| *o == op)
            .map(|(_, s, w)| (s.clone(), w.clone()))
            .collect()
    }
}

/// Why this process cancels its operations (a signal's name, `quit`),
/// for the audit's `cancel` records; set by a front end before it cancels.
static CANCEL_REASON: Mutex<Option<String>> = Mutex::new(None);

pub(crate) fn set_cancel_reason(why: &str) {
    let mut r = CANCEL_REASON.lock().unwrap_or_else(|p| p.into_inner());
    *r = Some(why.to_string());
}

pub(crate) fn cancel_reason() -> String {
    CANCEL_REASON
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .unwrap_or_else(|| "by the operator".into())
}

fn open_file(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

fn append(path: &Path, inner: &mut Inner, e: &Entry) -> std::io::Result<()> {
    let mut line = serde_json::to_string(e).map_err(std::io::Error::other)?;
    line.push('\n');
    if inner.torn {
        line.insert(0, '\n');
    }
    if inner.file.is_none() {
        inner.file = Some(open_file(path)?);
    }
    let Some(f) = inner.file.as_mut() else {
        return Err(std::io::Error::other("the audit log is not open"));
    };
    let written = f.write_all(line.as_bytes()).and_then(|()| f.sync_data());
    inner.torn = written.is_err();
    written
}

/// When process `pid` started (clock ticks after boot, from
/// `/proc/PID/stat`): with the pid, it names one process, so a pid the
/// kernel gave to another program since is told apart.
pub(crate) fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields count from
    // the last `)`. `starttime` is field 22, the 20th after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process that wrote `pid` (started at `start`, when known)
/// still runs on this machine. Without a start time, a live pid counts
/// only if it is still a nixmox.
pub(crate) fn process_alive(pid: u32, start: Option<u64>) -> bool {
    if pid == 0 {
        return false;
    }
    match start {
        Some(s) => process_start(pid) == Some(s),
        None => std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|c| c.trim().starts_with("nixmox")),
    }
}

/// Who is at the keyboard: `$SUDO_USER` (the human behind sudo), `$USER`,
/// else the uid.
pub(crate) fn local_user() -> String {
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .trim()
        .to_string();
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(user_from_uid)
        .unwrap_or_else(|| "unknown".into());
    if host.is_empty() {
        user
    } else {
        format!("{user}@{host}")
    }
}

/// The name of our uid in /etc/passwd (when no login variables are set,
/// e.g. under nsenter or cron).
fn user_from_uid() -> Option<String> {
    let uid = rustix::process::getuid().as_raw().to_string();
    std::fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid).then(|| f[0].to_string())
        })
}

/// Where the audit log is, given the configured path (or the default).
pub(crate) fn default_path(configured: Option<&Path>) -> PathBuf {
    configured
        .map(Path::to_path_buf)
        .unwrap_or_else(|| crate::logging::state_dir().join("audit.jsonl"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full disk: the write fails, is kept for the operation's summary,
    /// and the next record starts on a fresh line.
    #[test]
    fn a_failed_write_is_reported_and_never_glues_lines() {
        let audit = Audit::open(Some(Path::new("/dev/full"))).expect("never fails");
        let e = audit.entry(7, "rollback", "switch", "started");
        assert!(audit.record(&e).is_err());
        assert!(audit.record(&e).is_err());
        let failures = audit.failures(7);
        assert_eq!(failures.len(), 1, "one reason, said once: {failures:?}");
        assert!(failures[0].contains("/dev/full"), "{failures:?}");
        assert!(audit.failures(8).is_empty());
        assert!(audit.inner.lock().unwrap().torn);
        // A directory that cannot be created does not stop `open`.
        let nowhere = Audit::open(Some(Path::new("/proc/nmx-no/audit.jsonl"))).unwrap();
        assert!(nowhere.record(&e).is_err());
    }

    #[test]
    fn a_process_is_told_apart_from_a_reused_pid() {
        let me = std::process::id();
        let start = process_start(me).expect("our own start time");
        assert!(process_alive(me, Some(start)));
        assert!(
            !process_alive(me, Some(start + 1)),
            "another process, same pid"
        );
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        assert!(!process_alive(gone, None));
        assert!(!process_alive(0, None));
    }

    /// What the kernel reports as text under /proc, which the system calls
    /// replaced: the same answers.
    #[test]
    fn uid_and_hostname_match_procfs() {
        let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            .expect("a Uid: line");
        assert_eq!(rustix::process::getuid().as_raw().to_string(), uid);
        let in_passwd = std::fs::read_to_string("/etc/passwd")
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(':').nth(2) == Some(uid));
        assert_eq!(user_from_uid().is_some(), in_passwd);

        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("procfs");
        let user = local_user();
        assert!(user.ends_with(&format!("@{}", host.trim())), "{user}");
    }
}
