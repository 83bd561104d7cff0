//! A lab host's journal: one file per unit (`HOSTDIR/log/UNIT.log`), each
//! line as `journalctl -o short-iso` prints it:
//! `2026-11-25T19:12:30+00:00 HOST IDENT: MESSAGE`. The lab's `journalctl`
//! and `lab follow` rely on lines starting with that timestamp.

use super::state::host_dir;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// `t` as journalctl's short-iso prints it (UTC, whole seconds).
pub(crate) fn timestamp(t: SystemTime) -> String {
    // rfc3339 is `YYYY-MM-DDTHH:MM:SS.mmmZ`: keep the seconds, state the offset.
    let full = crate::timefmt::rfc3339(t);
    format!("{}+00:00", full.get(..19).unwrap_or(&full))
}

pub(crate) fn log_file(hostdir: &Path, unit: &str) -> PathBuf {
    hostdir.join("log").join(format!("{unit}.log"))
}

/// Appends a line to a unit's journal, as the unit's own lines look.
/// Best effort: a journal line is never worth failing a fault for.
pub(crate) fn append(dir: &Path, host: &str, unit: &str, ident: &str, msg: &str) {
    let path = log_file(&host_dir(dir, host), unit);
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let line = format!("{} {host} {ident}: {msg}\n", timestamp(SystemTime::now()));
        let _ = f.write_all(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn timestamps_are_short_iso() {
        let at = |s| timestamp(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00+00:00");
        assert_eq!(at(1_764_098_550), "2025-11-25T19:22:30+00:00");
        let sub = UNIX_EPOCH + Duration::from_millis(1_764_098_550_999);
        assert_eq!(timestamp(sub), "2025-11-25T19:22:30+00:00");
    }
}
