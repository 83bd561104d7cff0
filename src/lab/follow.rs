//! `nixmox lab follow`: what the lab's fake `journalctl -f` runs. Writes the
//! last lines of the unit logs, then follows them, until the reader is gone
//! (see `reader_gone`) or a write fails.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Follows `files`: first the last `lines` lines over all of them, in time
/// order, then every new line as it is written. `cat`: the message only
/// (journalctl's `-o cat`). Asks `reader_gone` between rounds.
pub fn follow(
    files: &[PathBuf],
    lines: usize,
    cat: bool,
    out: &mut impl Write,
    reader_gone: &dyn Fn() -> bool,
) {
    // The last `lines` lines over all files, in time order (lines start with
    // an ISO timestamp, so a stable sort by it is a sort by time).
    let mut tracked: Vec<(&Path, Tracked)> = Vec::new();
    let mut backlog: Vec<String> = Vec::new();
    for f in files {
        let mut t = Tracked::default();
        // Only the end of a long log is read for the backlog.
        t.start_near_end(f, lines.saturating_mul(1024).saturating_add(4096) as u64);
        backlog.extend(t.complete_lines(f));
        tracked.push((f, t));
    }
    if files.len() > 1 {
        backlog.sort_by(|a, b| a.split(' ').next().cmp(&b.split(' ').next()));
    }
    let skip = backlog.len().saturating_sub(lines);
    for l in &backlog[skip..] {
        if emit(out, l, cat).is_err() {
            return;
        }
    }
    if out.flush().is_err() {
        return;
    }
    loop {
        if reader_gone() {
            return;
        }
        let mut wrote = false;
        for (f, t) in tracked.iter_mut() {
            for l in t.complete_lines(f) {
                if emit(out, &l, cat).is_err() {
                    return;
                }
                wrote = true;
            }
        }
        if wrote {
            if out.flush().is_err() {
                return;
            }
        } else {
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

fn emit(out: &mut impl Write, line: &str, cat: bool) -> std::io::Result<()> {
    let text = if cat {
        // "TIME HOST UNIT[PID]: MESSAGE" -> "MESSAGE"
        line.splitn(3, ' ')
            .nth(2)
            .and_then(|rest| rest.split_once(": ").map(|(_, m)| m))
            .unwrap_or(line)
    } else {
        line
    };
    writeln!(out, "{text}")
}

/// Follows one file across truncation and replacement (log rotation).
#[derive(Default)]
struct Tracked {
    file: Option<File>,
    inode: Option<u64>,
    offset: u64,
    partial: Vec<u8>,
    /// Drop the first (partial) line: reading started mid-file.
    skip_first: bool,
}

impl Tracked {
    fn start_near_end(&mut self, path: &Path, window: u64) {
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.len() > window {
                self.inode = Some(meta.ino());
                self.offset = meta.len() - window;
                self.skip_first = true;
            }
        }
    }

    /// The complete lines appended since the last call.
    fn complete_lines(&mut self, path: &Path) -> Vec<String> {
        let current = std::fs::metadata(path).ok().map(|m| m.ino());
        if current.is_none() {
            return Vec::new();
        }
        if current != self.inode || self.file.is_none() {
            let Ok(f) = File::open(path) else {
                return Vec::new();
            };
            if current != self.inode {
                self.offset = 0;
                self.partial.clear();
                self.skip_first = false;
            }
            self.inode = current;
            self.file = Some(f);
        }
        let Some(f) = self.file.as_mut() else {
            return Vec::new();
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            // Truncated: start over.
            self.offset = 0;
            self.partial.clear();
        }
        if len == self.offset || f.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut buf = Vec::new();
        let n = f.take(4 << 20).read_to_end(&mut buf).unwrap_or(0);
        self.offset += n as u64;
        self.partial.extend_from_slice(&buf[..n]);
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return Vec::new();
        };
        let rest = self.partial.split_off(end + 1);
        let done = std::mem::replace(&mut self.partial, rest);
        let mut lines: Vec<String> = String::from_utf8_lossy(&done)
            .lines()
            .map(str::to_string)
            .collect();
        if self.skip_first && !lines.is_empty() {
            lines.remove(0);
            self.skip_first = false;
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlog_in_time_order_then_new_lines() {
        let dir = std::env::temp_dir().join(format!("nmx-follow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.log"), dir.join("b.log"));
        std::fs::write(
            &a,
            "2026-01-01T00:00:01+00:00 h a[1]: one\n2026-01-01T00:00:03+00:00 h a[1]: three\n",
        )
        .unwrap();
        std::fs::write(&b, "2026-01-01T00:00:02+00:00 h b[2]: two\n").unwrap();
        let rounds = std::cell::Cell::new(0);
        let mut out = Vec::new();
        follow(&[a.clone(), b], 2, true, &mut out, &|| {
            rounds.set(rounds.get() + 1);
            if rounds.get() == 1 {
                let mut f = std::fs::OpenOptions::new().append(true).open(&a).unwrap();
                f.write_all(b"2026-01-01T00:00:04+00:00 h a[1]: four\n")
                    .unwrap();
            }
            rounds.get() > 2
        });
        assert_eq!(String::from_utf8(out).unwrap(), "two\nthree\nfour\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
