//! The audit log: every operator action and its outcome, one JSON object a
//! line, appended and fsync'd before the action is reported done, so a crash
//! never loses what was done to a host.

use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

#[derive(Debug, Clone, Serialize)]
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
}

#[derive(Clone)]
pub(crate) struct Audit {
    path: PathBuf,
    file: Arc<Mutex<File>>,
    user: String,
}

impl Audit {
    /// `path`, or `$XDG_STATE_HOME/nixmox/audit.jsonl`.
    pub(crate) fn open(path: Option<&Path>) -> std::io::Result<Self> {
        let path = default_path(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Self {
            path,
            file: Arc::new(Mutex::new(file)),
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
        }
    }

    /// Appends and fsyncs one entry. An audit failure is reported to the
    /// caller, who must not pretend the action was recorded.
    pub(crate) fn record(&self, e: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_string(e).map_err(std::io::Error::other)?;
        line.push('\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(line.as_bytes())?;
        f.sync_data()
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

/// The latest deploy or rollback outcome per service in an audit log:
/// (when, outcome, what). A missing or unreadable log is an empty history.
pub(crate) fn history(
    path: &Path,
) -> std::collections::HashMap<String, (SystemTime, super::outcome::OutcomeKind, String)> {
    let mut out = std::collections::HashMap::new();
    let Ok(text) = std::fs::read_to_string(path) else {
        return out;
    };
    for line in text.lines() {
        let Ok(e) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(service), Some(ts)) = (e["service"].as_str(), e["ts"].as_str()) else {
            continue;
        };
        let action = e["action"].as_str().unwrap_or("");
        let step = e["step"].as_str().unwrap_or("");
        // A deploy's last word on a host is its `done` entry; a rollback's
        // is its health check.
        let final_entry =
            (action == "deploy" && step == "done") || (action == "rollback" && step == "health");
        if !final_entry {
            continue;
        }
        let Some(at) = crate::timefmt::parse_rfc3339(ts) else {
            continue;
        };
        use super::outcome::OutcomeKind as K;
        let outcome = match (action, e["outcome"].as_str().unwrap_or("")) {
            ("rollback", "ok") => K::RolledBack,
            ("rollback", _) => K::RolledBackUnhealthy,
            (_, "deployed") => K::Deployed,
            (_, "unchanged") => K::Unchanged,
            (_, "rolled back") => K::RolledBack,
            (_, "rollback failed") => K::RollbackFailed,
            (_, "skipped") => K::Skipped,
            (_, "cancelled") => K::Cancelled,
            (_, "interrupted") => K::Interrupted,
            _ => K::Failed,
        };
        let by = e["user"].as_str().unwrap_or("?");
        out.insert(
            service.to_string(),
            (at, outcome, format!("{action} {service} by {by}")),
        );
    }
    out
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
